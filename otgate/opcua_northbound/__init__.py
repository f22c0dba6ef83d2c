"""The OPC UA northbound server: legacy optimisers write setpoints over OPC UA, through the validation chain."""
