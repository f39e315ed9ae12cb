"""mevgraph: a graph-centric MEV detection engine."""

__version__ = "0.1.0"
