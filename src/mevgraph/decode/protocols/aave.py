"""aave decoder (to be written)."""
