"""uniswap_v2 decoder (to be written)."""
