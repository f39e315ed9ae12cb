"""mevgraph.gnn"""
