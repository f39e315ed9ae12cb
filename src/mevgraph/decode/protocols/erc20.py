"""erc20 decoder (to be written)."""
