"""arbitrage detector (to be written). Must expose ``DETECTOR`` with ``kind`` and ``detect(graph) -> list[Candidate]``."""
