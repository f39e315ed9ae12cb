"""mevgraph.ingest"""
