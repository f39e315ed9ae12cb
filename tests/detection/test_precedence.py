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


def test_sandwich_leg_that_is_a_loop_is_kept_nested_not_counted() -> None:
    sandwich, arb, other = c(Kind.SANDWICH, "0xf", "0xb"), c(Kind.ARBITRAGE, "0xb"), c(Kind.ARBITRAGE, "0xz")
    kept = resolve([arb, other, sandwich])
    assert [(k.kind, k.attacker_txs, k.nested_in) for k in kept] == [
        (Kind.ARBITRAGE, ("0xb",), "1:sandwich:0xf"),
        (Kind.ARBITRAGE, ("0xz",), None),
        (Kind.SANDWICH, ("0xf", "0xb"), None),
    ]
    # Counted (non-nested) findings still own each attacker tx once.
    counted = [h for k in kept if k.nested_in is None for h in k.attacker_txs]
    assert len(counted) == len(set(counted))


def test_only_loops_nest_and_only_in_sandwiches() -> None:
    sandwich = c(Kind.SANDWICH, "0xf", "0xb")
    front = c(Kind.FRONTRUN, "0xf")
    assert resolve([front, sandwich]) == [sandwich]
    liq, arb = c(Kind.LIQUIDATION, "0xl"), c(Kind.ARBITRAGE, "0xl")
    assert resolve([arb, liq]) == [liq]
    # A loop reaching outside the sandwich's txs is an overlap, not a nested motif.
    wide = c(Kind.ARBITRAGE, "0xb", "0xq")
    assert resolve([wide, sandwich]) == [sandwich]
    # The same tx nests once.
    a1, a2 = c(Kind.ARBITRAGE, "0xb"), c(Kind.BACKRUN, "0xb")
    assert [k.kind for k in resolve([a1, a2, sandwich])] == [Kind.BACKRUN, Kind.SANDWICH]


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
    txs = [h for k in kept if k.nested_in is None for h in k.attacker_txs]
    assert len(txs) == len(set(txs))
    # The JIT overlaps the sandwich and goes; the backrun then owns 0x4 alone and stays.
    assert [k.kind for k in kept] == [Kind.SANDWICH, Kind.BACKRUN, Kind.LIQUIDATION]
    assert [(k.kind, k.attacker_txs) for k in resolve(kept)] == [(k.kind, k.attacker_txs) for k in kept]


def test_loop_legs_of_a_real_sandwich_are_nested_13404932(block_names: list[str]) -> None:
    """Both legs of this sandwich are WETH loops over Uniswap V2 and Sushiswap (the peer lists
    them as arbitrages too): reported nested in the sandwich, money not counted twice."""
    from mevgraph.detection.engine import find
    from mevgraph.graph.tables import PropertyGraph

    from ..conftest import decoded_fixture

    front = "0xcfec6d808b85553cdbf3d1cadaa1ffead86e038edb947bb576470d311202a0ac"
    back = "0xf27d594d64ae3099fd19c19475e09e914b86da781c9a6d0675b588f52e29940c"
    g = PropertyGraph.build([decoded_fixture("13404932")])
    found = find(g)
    g.close()
    (sw,) = [f for f in found if f.kind == Kind.SANDWICH]
    assert sw.frontrun_txs == (front,) and sw.backrun_txs == (back,) and sw.counted
    nested = {f.attacker_txs: f for f in found if not f.counted}
    assert set(nested) == {(front,), (back,)}
    assert all(f.nested_in == sw.id == f"1:sandwich:{front}" for f in nested.values())
    weth = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
    # The peer's own figures for the two legs: -0.2814 and +0.3467 WETH.
    assert nested[(front,)].profit_by_token[weth] == -281378319490910402
    assert nested[(back,)].profit_by_token[weth] == 346702828872370621
    assert nested[(front,)].to_json()["nested_in"] == sw.id


def test_counted_findings_own_each_attacker_tx_once_on_real_blocks(block_names: list[str]) -> None:
    from mevgraph.pipeline import inspect_blocks

    from ..conftest import load_fixture

    # 10921990.json.gz is block 10921991 again (data README); the run would report it twice.
    found = list(inspect_blocks(load_fixture(n) for n in block_names if n != "10921990"))
    txs = [(f.chain_id, h) for f in found if f.counted for h in f.attacker_txs]
    assert len(txs) == len(set(txs))
    ids = {f.id for f in found}
    assert all(f.nested_in in ids for f in found if not f.counted)
