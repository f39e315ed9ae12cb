"""flashloans decoder (to be written)."""
