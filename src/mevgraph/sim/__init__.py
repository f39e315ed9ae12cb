"""mevgraph.sim"""
