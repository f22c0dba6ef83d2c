"""The composition root: one gateway process — the runtime, its listeners (AI API, HMI, metrics) and the
OPC UA northbound door — started, supervised and stopped together."""
