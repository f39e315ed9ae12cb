"""bancor decoder (to be written)."""
