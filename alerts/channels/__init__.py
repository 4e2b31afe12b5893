"""alerts/channels."""
