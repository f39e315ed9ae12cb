"""The property graph: columnar node/edge tables plus exports to graph libraries."""

from mevgraph.graph.tables import EDGE_TYPES, PropertyGraph

__all__ = ["EDGE_TYPES", "PropertyGraph"]
