"""Recall against mev-inspect-py on the shared blocks, and every disagreement explained."""

from __future__ import annotations

import sys

from mevgraph.analytics.peer_compare import recall

from .conftest import DATA, ROOT


def test_recall_and_every_disagreement_explained(block_names: list[str]) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from compare_peer import run  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    comps = run(DATA)
    strict = recall(comps)
    assert strict["sandwich"] == 1.0
    assert strict["liquidation"] == 1.0
    # Two peer "arbitrages" are a sandwich's own legs (each a loop): found as nested findings.
    assert strict["arbitrage"] == 1.0
    assert recall(comps, any_kind=True)["arbitrage"] == 1.0
    unexplained = [d for c in comps for d in c.disagreements if not d.reason]
    assert not unexplained, unexplained
