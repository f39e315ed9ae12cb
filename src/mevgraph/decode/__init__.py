"""mevgraph.decode"""
