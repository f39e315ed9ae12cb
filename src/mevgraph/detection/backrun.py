"""backrun linking (to be written): link(graph, candidates) -> candidates."""
