"""Running otgate as a site service: credentials, TLS, logging, service-manager notification."""
