"""The imperative shell around the pure core: the gateway's state and scan cycle, the write gate, operator
actions, the service that runs the listeners, and the clocks."""
