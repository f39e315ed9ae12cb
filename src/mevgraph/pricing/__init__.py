"""mevgraph.pricing"""
