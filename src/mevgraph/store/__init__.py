"""mevgraph.store"""
