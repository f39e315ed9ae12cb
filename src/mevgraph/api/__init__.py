"""mevgraph.api"""
