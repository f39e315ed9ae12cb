"""weth decoder (to be written)."""
