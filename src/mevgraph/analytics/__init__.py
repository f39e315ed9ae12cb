"""mevgraph.analytics"""
