"""compound decoder (to be written)."""
