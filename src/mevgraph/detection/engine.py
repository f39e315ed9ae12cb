"""Run every detector over a property graph and turn matches into findings.

Order matters only for linking: the backrun pass reads arbitrage and liquidation candidates;
precedence then drops lower-ranked candidates that reuse an attacker transaction; money is
computed last, once per surviving candidate.
"""

from __future__ import annotations

from collections.abc import Sequence

from mevgraph.detection import arbitrage, backrun, frontrun, jit, liquidation, money, precedence, sandwich
from mevgraph.detection.base import Candidate, Detector, Finding
from mevgraph.graph.tables import PropertyGraph
from mevgraph.pricing.sources import PriceSource

__all__ = ["DETECTORS", "find_candidates", "find"]

DETECTORS: tuple[Detector, ...] = (
    sandwich.DETECTOR,
    jit.DETECTOR,
    liquidation.DETECTOR,
    arbitrage.DETECTOR,
    frontrun.DETECTOR,
)


def find_candidates(graph: PropertyGraph, detectors: Sequence[Detector] = DETECTORS) -> list[Candidate]:
    cands: list[Candidate] = []
    for det in detectors:
        cands.extend(det.detect(graph))
    cands = backrun.link(graph, cands)
    return precedence.resolve(cands)


def find(
    graph: PropertyGraph,
    *,
    price_source: PriceSource | None = None,
    detectors: Sequence[Detector] = DETECTORS,
) -> list[Finding]:
    """All findings of ``graph`` in (chain, block, first tx) order."""
    cands = find_candidates(graph, detectors)
    findings = money.finalize(graph, cands, price_source=price_source)
    findings.sort(key=lambda f: (f.chain_id, f.block_number, _first_index(graph, f), str(f.kind)))
    return findings


def _first_index(graph: PropertyGraph, f: Finding) -> int:
    metas = [graph.tx_meta.get((f.chain_id, h)) for h in f.tx_hashes]
    return min((m.index for m in metas if m is not None), default=0)
