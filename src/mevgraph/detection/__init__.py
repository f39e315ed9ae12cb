"""mevgraph.detection"""
