"""Precedence: one transaction is the attacker of one finding at most; ranking is data."""

from __future__ import annotations

from mevgraph.detection.base import Candidate, Kind
from mevgraph.detection.precedence import RANKING, rank, resolve


def c(kind: Kind, *txs: str, chain: int = 1) -> Candidate:
    return Candidate(kind, chain, 1, txs, None, None, (), ())


def test_ranking_is_total_over_kinds() -> None:
    assert set(RANKING) == set(Kind) and len(RANKING) == len(Kind)
    assert rank(Kind.SANDWICH) < rank(Kind.JIT) < rank(Kind.LIQUIDATION) < rank(Kind.BACKRUN)
    assert rank(Kind.BACKRUN) < rank(Kind.ARBITRAGE) < rank(Kind.FRONTRUN)


def test_sandwich_backrun_beats_arbitrage_of_same_tx() -> None:
    sandwich, arb, other = c(Kind.SANDWICH, "0xf", "0xb"), c(Kind.ARBITRAGE, "0xb"), c(Kind.ARBITRAGE, "0xz")
    assert resolve([arb, other, sandwich]) == [other, sandwich]


def test_liquidation_beats_arbitrage_and_frontrun() -> None:
    liq, arb, front = c(Kind.LIQUIDATION, "0xl"), c(Kind.ARBITRAGE, "0xl"), c(Kind.FRONTRUN, "0xl")
    assert resolve([front, arb, liq]) == [liq]


def test_equal_rank_keeps_first_and_order_is_stable() -> None:
    a1, a2, a3 = c(Kind.ARBITRAGE, "0x1"), c(Kind.ARBITRAGE, "0x1"), c(Kind.ARBITRAGE, "0x2")
    assert resolve([a1, a2, a3]) == [a1, a3]
    assert resolve([a1, a2, a3])[0] is a1


def test_same_hash_on_other_chain_does_not_overlap() -> None:
    a, b = c(Kind.ARBITRAGE, "0x1", chain=1), c(Kind.SANDWICH, "0x1", chain=10)
    assert resolve([a, b]) == [a, b]


def test_no_tx_is_attacker_twice() -> None:
    cands = [
        c(Kind.FRONTRUN, "0x1"),
        c(Kind.SANDWICH, "0x1", "0x3"),
        c(Kind.JIT, "0x3", "0x4"),
        c(Kind.BACKRUN, "0x4"),
        c(Kind.ARBITRAGE, "0x5"),
        c(Kind.LIQUIDATION, "0x5"),
    ]
    kept = resolve(cands)
    txs = [h for k in kept for h in k.attacker_txs]
    assert len(txs) == len(set(txs))
    # The JIT overlaps the sandwich and goes; the backrun then owns 0x4 alone and stays.
    assert [k.kind for k in kept] == [Kind.SANDWICH, Kind.BACKRUN, Kind.LIQUIDATION]
    assert resolve(kept) == kept  # idempotent
