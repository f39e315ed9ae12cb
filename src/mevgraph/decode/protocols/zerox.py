"""zerox decoder (to be written)."""
