"""uniswap_v3 decoder (to be written)."""
