"""The durable, hash-chained audit trail (the chain's rules are pure, in `otgate.core.audit_chain`)."""
