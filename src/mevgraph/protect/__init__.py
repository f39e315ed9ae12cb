"""mevgraph.protect"""
