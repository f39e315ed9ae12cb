"""USD prices derived on-chain (:mod:`~mevgraph.pricing.sources`) and AMM math for counterfactuals
(:mod:`~mevgraph.pricing.amm`)."""

from mevgraph.pricing.amm import get_amount_out, optimal_frontrun, victim_loss
from mevgraph.pricing.sources import ChainedSource, OnChainPrices, PriceSource, StaticPrices

__all__ = [
    "ChainedSource",
    "OnChainPrices",
    "PriceSource",
    "StaticPrices",
    "get_amount_out",
    "optimal_frontrun",
    "victim_loss",
]
