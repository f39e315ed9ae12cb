"""mevgraph.core"""
