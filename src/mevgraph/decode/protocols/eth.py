"""eth decoder (to be written)."""
