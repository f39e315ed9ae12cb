"""The property graph: columnar node/edge tables plus exports to graph libraries."""

from mevgraph.graph.export import to_igraph, to_networkx
from mevgraph.graph.tables import EDGE_TYPES, PropertyGraph

__all__ = ["EDGE_TYPES", "PropertyGraph", "to_igraph", "to_networkx"]
