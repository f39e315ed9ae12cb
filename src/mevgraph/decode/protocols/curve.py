"""curve decoder (to be written)."""
