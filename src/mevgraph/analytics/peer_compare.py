"""Compare mevgraph findings with mev-inspect-py's output on the same blocks.

mev-inspect-py (the "peer") reports sandwiches (one frontrun tx, one backrun tx, victims),
arbitrages (one tx) and liquidations (one tx, one trace). We match by transaction hashes:

* a peer sandwich is found when one of our sandwiches has its frontrun tx among our
  ``frontrun_txs`` and its backrun tx among our ``backrun_txs``;
* a peer arbitrage is found when one of our ``arbitrage`` or ``backrun`` findings has its tx
  among the attacker txs (a backrun *is* an arbitrage with a trigger);
* a peer liquidation is found when one of our liquidations has its tx hash.

Every disagreement must carry a specific reason; reasons come from a curated table keyed by
(block, kind, tx) -- see ``benchmarks/peer_reasons.py`` -- so the report never hides a miss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mevgraph.detection.base import Finding, Kind

__all__ = ["Disagreement", "BlockComparison", "compare_block", "recall"]

FAMILIES = ("sandwich", "arbitrage", "liquidation")


@dataclass(frozen=True, slots=True)
class Disagreement:
    block: int
    family: str
    side: str  # "peer_only" | "ours_only"
    tx: str
    detail: str
    reason: str | None


@dataclass(slots=True)
class BlockComparison:
    file: str
    block: int
    peer: dict[str, int] = field(default_factory=dict)
    ours: dict[str, int] = field(default_factory=dict)
    matched: dict[str, int] = field(default_factory=dict)
    # Peer findings whose tx is an attacker tx of one of ours of ANY kind (e.g. a peer
    # "arbitrage" that our precedence table counts as a sandwich's frontrun).
    matched_any_kind: dict[str, int] = field(default_factory=dict)
    disagreements: list[Disagreement] = field(default_factory=list)


def _family(f: Finding) -> str | None:
    if f.kind in (Kind.ARBITRAGE, Kind.BACKRUN):
        return "arbitrage"
    if f.kind == Kind.SANDWICH:
        return "sandwich"
    if f.kind == Kind.LIQUIDATION:
        return "liquidation"
    return None


def compare_block(
    file: str,
    peer: Mapping[str, Any],
    ours: Sequence[Finding],
    reasons: Mapping[tuple[int, str, str], str],
) -> BlockComparison:
    """Compare one block; ``reasons`` maps (block, family, tx) to an explanation."""
    block = int(peer["block_number"])
    cmp = BlockComparison(file=file, block=block)
    mine = {fam: [f for f in ours if _family(f) == fam] for fam in FAMILIES}

    def why(family: str, tx: str) -> str | None:
        return reasons.get((block, family, tx))

    # Sandwiches.
    peer_s = peer.get("sandwiches") or []
    cmp.peer["sandwich"] = len(peer_s)
    cmp.ours["sandwich"] = len(mine["sandwich"])
    used: set[int] = set()
    m = 0
    for s in peer_s:
        front = s["frontrun_swap"]["transaction_hash"]
        back = s["backrun_swap"]["transaction_hash"]
        hit = next(
            (k for k, f in enumerate(mine["sandwich"]) if front in f.frontrun_txs and back in f.backrun_txs),
            None,
        )
        if hit is None:
            cmp.disagreements.append(
                Disagreement(
                    block,
                    "sandwich",
                    "peer_only",
                    front,
                    f"front {front} back {back}",
                    why("sandwich", front),
                )
            )
        else:
            used.add(hit)
            m += 1
    cmp.matched["sandwich"] = m
    for k, f in enumerate(mine["sandwich"]):
        if k not in used:
            tx = f.frontrun_txs[0] if f.frontrun_txs else f.attacker_txs[0]
            cmp.disagreements.append(
                Disagreement(
                    block,
                    "sandwich",
                    "ours_only",
                    tx,
                    f"front {list(f.frontrun_txs)} back {list(f.backrun_txs)} victims {len(f.victim_txs)}",
                    why("sandwich", tx),
                )
            )

    # Arbitrages (ours: arbitrage or backrun).
    peer_a = {a["transaction_hash"]: a for a in peer.get("arbitrages") or []}
    our_a: dict[str, Finding] = {}
    for f in mine["arbitrage"]:
        for tx in f.attacker_txs:
            our_a.setdefault(tx, f)
    cmp.peer["arbitrage"] = len(peer_a)
    cmp.ours["arbitrage"] = len(mine["arbitrage"])
    cmp.matched["arbitrage"] = sum(1 for tx in peer_a if tx in our_a)
    all_attackers = {tx for f in ours for tx in f.attacker_txs}
    cmp.matched_any_kind["arbitrage"] = sum(1 for tx in peer_a if tx in all_attackers)
    for tx, a in peer_a.items():
        if tx not in our_a:
            cmp.disagreements.append(
                Disagreement(
                    block,
                    "arbitrage",
                    "peer_only",
                    tx,
                    f"{len(a.get('swaps') or [])} swaps, error={a.get('error')}",
                    why("arbitrage", tx),
                )
            )
    for tx, f in our_a.items():
        if tx not in peer_a:
            cmp.disagreements.append(
                Disagreement(
                    block, "arbitrage", "ours_only", tx, f"{f.kind} status={f.status}", why("arbitrage", tx)
                )
            )

    # Liquidations (by tx hash).
    peer_l = {x["transaction_hash"] for x in peer.get("liquidations") or []}
    our_l = {f.attacker_txs[0] for f in mine["liquidation"] if f.attacker_txs}
    cmp.peer["liquidation"] = len(peer_l)
    cmp.ours["liquidation"] = len(mine["liquidation"])
    cmp.matched["liquidation"] = len(peer_l & our_l)
    for tx in sorted(peer_l - our_l):
        cmp.disagreements.append(
            Disagreement(block, "liquidation", "peer_only", tx, "", why("liquidation", tx))
        )
    for tx in sorted(our_l - peer_l):
        cmp.disagreements.append(
            Disagreement(block, "liquidation", "ours_only", tx, "", why("liquidation", tx))
        )
    return cmp


def recall(comparisons: Sequence[BlockComparison], *, any_kind: bool = False) -> dict[str, float | None]:
    """Recall of the peer's findings per family over all compared blocks (None: peer has none).

    With ``any_kind``, a peer arbitrage also counts as found when its tx is an attacker tx of one
    of our findings of another kind (precedence gave it to a sandwich, say).
    """
    out: dict[str, float | None] = {}
    for fam in FAMILIES:
        p = sum(c.peer.get(fam, 0) for c in comparisons)
        m = sum(
            (c.matched_any_kind.get(fam, c.matched.get(fam, 0)) if any_kind else c.matched.get(fam, 0))
            for c in comparisons
        )
        out[fam] = (m / p) if p else None
    return out
