"""money (to be written): finalize(graph, candidates, price_source=None) -> list[Finding]."""
