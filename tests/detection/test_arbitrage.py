"""Atomic arbitrage: hand-made loops (split, triangle, router, reverted) and the real blocks.

Also holds the small builders (hand-made transactions/swaps -> PropertyGraph) and the real-block
loader shared by the other detection tests of this package.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import pytest

from mevgraph.core.actions import Action, ActionSource, Liquidation, Swap
from mevgraph.core.types import Block
from mevgraph.decode.decoder import DecodedBlock, TxMeta, decode_block
from mevgraph.detection import arbitrage
from mevgraph.detection.arbitrage import find_loops
from mevgraph.detection.base import Candidate, Kind, Status
from mevgraph.graph import PropertyGraph
from mevgraph.ingest.fixture import block_from_fixture

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("MEVGRAPH_SHARED", ROOT.parent / "shared")) / "data" / "mainnet"

WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
UNI_V2_ROUTER = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"


# --------------------------------------------------------------------------- builders
def tx(h: str, index: int, from_: str, to: str | None, *, success: bool = True, selector: str = "") -> TxMeta:
    return TxMeta(
        hash=h,
        index=index,
        from_=from_,
        to=to,
        success=success,
        gas_used=21000,
        effective_gas_price=1,
        gas_cost_wei=21000,
        gas_cost_reason=None,
        selector=selector,
    )


def swap(
    h: str,
    index: int,
    ta: tuple[int, ...],
    t_in: str,
    a_in: int,
    t_out: str,
    a_out: int,
    pool: str,
    *,
    block: int = 1,
    who: str = "0xbot",
) -> Swap:
    return Swap(
        chain_id=1,
        block_number=block,
        tx_hash=h,
        tx_index=index,
        protocol="uniswap_v2",
        source=ActionSource.TRACE,
        trace_address=ta,
        pool=pool,
        sender=who,
        recipient=who,
        token_in=t_in,
        amount_in=a_in,
        token_out=t_out,
        amount_out=a_out,
    )


def liquidation(
    h: str, index: int, *, pool: str = "0xpool", block: int = 1, debt: str = USDC, coll: str = WETH
) -> Liquidation:
    return Liquidation(
        chain_id=1,
        block_number=block,
        tx_hash=h,
        tx_index=index,
        protocol="aave_v2",
        source=ActionSource.TRACE,
        trace_address=(0,),
        pool=pool,
        liquidator="0xliq",
        borrower="0xborrower",
        debt_token=debt,
        debt_amount=1000,
        collateral_token=coll,
        collateral_amount=2,
    )


def block_of(
    txs: Sequence[TxMeta], actions: Iterable[Action], attempted: Iterable[Action] = (), number: int = 1
) -> DecodedBlock:
    return DecodedBlock(
        block=Block(chain_id=1, number=number),
        mode="traces",
        txs=list(txs),
        actions=list(actions),
        attempted=list(attempted),
    )


def graph_of(*blocks: DecodedBlock) -> PropertyGraph:
    return PropertyGraph.build(blocks)


# --------------------------------------------------------------------------- real blocks
def require_data() -> None:
    if not (DATA / "blocks").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"real blocks missing under {DATA}")
        pytest.skip(f"real blocks missing under {DATA}")


def block_names() -> list[str]:
    return sorted(p.name.removesuffix(".json.gz") for p in (DATA / "blocks").glob("*.json.gz"))


@cache
def decoded(name: str) -> DecodedBlock:
    with gzip.open(DATA / "blocks" / f"{name}.json.gz") as fh:
        return decode_block(block_from_fixture(json.load(fh), source=f"{name}.json.gz"))


@cache
def peer(name: str) -> dict[str, Any]:
    with gzip.open(DATA / "peer" / f"{name}.json.gz") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def real_graph() -> PropertyGraph:
    """Every real block in one graph (distinct block numbers only)."""
    seen: dict[int, DecodedBlock] = {}
    for n in block_names():
        d = decoded(n)
        seen.setdefault(d.number, d)
    return PropertyGraph.build(seen.values())


def arbs_by_tx(cands: Iterable[Candidate]) -> dict[str, Candidate]:
    return {c.attacker_txs[0]: c for c in cands if c.kind in (Kind.ARBITRAGE, Kind.BACKRUN)}


# --------------------------------------------------------------------------- loop unit tests
def test_find_loops_triangle() -> None:
    s = [
        swap("0x1", 0, (0,), "0xa", 100, "0xb", 50, "0xp1"),
        swap("0x1", 0, (1,), "0xb", 50, "0xc", 20, "0xp2"),
        swap("0x1", 0, (2,), "0xc", 20, "0xa", 104, "0xp3"),
    ]
    assert find_loops(s) == [arbitrage.Loop((0, 1, 2), "0xa", 4)]


def test_find_loops_split_route() -> None:
    # A -> B over two pools (split 60/40), then B -> A in one swap.
    s = [
        swap("0x1", 0, (0,), "0xa", 60, "0xb", 30, "0xp1"),
        swap("0x1", 0, (1,), "0xa", 40, "0xb", 20, "0xp2"),
        swap("0x1", 0, (2,), "0xb", 50, "0xa", 101, "0xp3"),
    ]
    assert find_loops(s) == [arbitrage.Loop((0, 1, 2), "0xa", 1)]


def test_find_loops_tolerance() -> None:
    # 0.5 % of B left over: balanced within 1 %; 5 % left over: two unbalanced tokens, no loop.
    ok = [
        swap("0x1", 0, (0,), "0xa", 100, "0xb", 1000, "0xp1"),
        swap("0x1", 0, (1,), "0xb", 995, "0xa", 110, "0xp2"),
    ]
    bad = [
        swap("0x1", 0, (0,), "0xa", 100, "0xb", 1000, "0xp1"),
        swap("0x1", 0, (1,), "0xb", 950, "0xa", 110, "0xp2"),
    ]
    assert find_loops(ok)[0].profit_token == "0xa"
    assert find_loops(bad) == []


def test_find_loops_ignores_tail_swaps() -> None:
    # The loop A->B->A plus a profit sale A->C: the sale is not part of the loop.
    s = [
        swap("0x1", 0, (0,), "0xa", 100, "0xb", 50, "0xp1"),
        swap("0x1", 0, (1,), "0xb", 50, "0xa", 110, "0xp2"),
        swap("0x1", 0, (2,), "0xa", 10, "0xc", 7, "0xp3"),
    ]
    assert find_loops(s) == [arbitrage.Loop((0, 1), "0xa", 10)]


def test_find_loops_eth_and_weth_are_one_token() -> None:
    """A leg paying out native ETH (e.g. a Curve ETH pool) closes a WETH loop."""
    s = [
        swap("0x1", 0, (0,), WETH, 100, "0xb", 50, "0xp1"),
        swap("0x1", 0, (1,), "0xb", 50, "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", 104, "0xp2"),
    ]
    assert find_loops(s) == [arbitrage.Loop((0, 1), WETH, 4)]


def test_no_loop_for_plain_multihop_trade() -> None:
    s = [
        swap("0x1", 0, (0,), "0xa", 100, "0xb", 50, "0xp1"),
        swap("0x1", 0, (1,), "0xb", 50, "0xc", 20, "0xp2"),
    ]
    assert find_loops(s) == []


# --------------------------------------------------------------------------- detector on hand-made graphs
def test_bot_loop_is_arbitrage_with_contract() -> None:
    g = graph_of(
        block_of(
            [tx("0xt", 0, "0xeoa", "0xbotc")],
            [
                swap("0xt", 0, (0,), WETH, 100, "0xb", 50, "0xp1"),
                swap("0xt", 0, (1,), "0xb", 50, WETH, 103, "0xp2"),
            ],
        )
    )
    [c] = arbitrage.DETECTOR.detect(g)
    assert (c.kind, c.searcher, c.contract, c.status, c.confidence) == (
        Kind.ARBITRAGE,
        "0xeoa",
        "0xbotc",
        Status.OK,
        1.0,
    )
    assert c.details["profit_token"] == WETH and c.details["loop_profit"] == 3
    assert c.pools == ("0xp1", "0xp2") and list(c.action_ids) == c.details["swaps"]


def test_loss_making_loop_is_unprofitable() -> None:
    g = graph_of(
        block_of(
            [tx("0xt", 0, "0xeoa", "0xbotc")],
            [
                swap("0xt", 0, (0,), WETH, 100, "0xb", 50, "0xp1"),
                swap("0xt", 0, (1,), "0xb", 50, WETH, 97, "0xp2"),
            ],
        )
    )
    [c] = arbitrage.DETECTOR.detect(g)
    assert c.status == Status.UNPROFITABLE and c.details["loop_profit"] == -3


def test_router_round_trip_by_user_is_not_arbitrage() -> None:
    """A user buying and selling back through a router at a loss is a trade, not a bot."""
    g = graph_of(
        block_of(
            [tx("0xt", 0, "0xuser", UNI_V2_ROUTER)],
            [
                swap("0xt", 0, (0,), WETH, 100, "0xb", 50, "0xp1", who=UNI_V2_ROUTER),
                swap("0xt", 0, (1,), "0xb", 50, WETH, 99, "0xp2", who=UNI_V2_ROUTER),
            ],
        )
    )
    assert arbitrage.DETECTOR.detect(g) == []


def test_router_loop_with_gain_is_low_confidence_and_router_is_not_contract() -> None:
    g = graph_of(
        block_of(
            [tx("0xt", 0, "0xuser", UNI_V2_ROUTER)],
            [
                swap("0xt", 0, (0,), WETH, 100, "0xb", 50, "0xp1", who=UNI_V2_ROUTER),
                swap("0xt", 0, (1,), "0xb", 50, WETH, 120, "0xp2", who=UNI_V2_ROUTER),
            ],
        )
    )
    [c] = arbitrage.DETECTOR.detect(g)
    assert c.contract is None and c.searcher == "0xuser"
    assert c.confidence == arbitrage.ROUTER_CONFIDENCE and c.details["via_router"] == "Uniswap V2 Router02"


def test_reverted_attempt_reported_as_reverted() -> None:
    g = graph_of(
        block_of(
            [tx("0xt", 0, "0xeoa", "0xbotc", success=False)],
            [],
            attempted=[
                swap("0xt", 0, (0,), WETH, 100, "0xb", 50, "0xp1"),
                swap("0xt", 0, (1,), "0xb", 50, WETH, 103, "0xp2"),
            ],
        )
    )
    [c] = arbitrage.DETECTOR.detect(g)
    assert c.status == Status.REVERTED


def test_swaps_of_different_txs_never_chain() -> None:
    g = graph_of(
        block_of(
            [tx("0xt1", 0, "0xeoa", "0xbotc"), tx("0xt2", 1, "0xeoa", "0xbotc")],
            [
                swap("0xt1", 0, (0,), WETH, 100, "0xb", 50, "0xp1"),
                swap("0xt2", 1, (0,), "0xb", 50, WETH, 103, "0xp2"),
            ],
        )
    )
    assert arbitrage.DETECTOR.detect(g) == []


def test_two_disjoint_loops_in_one_tx_form_one_candidate() -> None:
    g = graph_of(
        block_of(
            [tx("0xt", 0, "0xeoa", "0xbotc")],
            [
                swap("0xt", 0, (0,), WETH, 100, "0xb", 50, "0xp1"),
                swap("0xt", 0, (1,), "0xb", 50, WETH, 103, "0xp2"),
                swap("0xt", 0, (2,), USDC, 10, "0xc", 10, "0xp3"),
                swap("0xt", 0, (3,), "0xc", 5, USDC, 6, "0xp4"),
                swap("0xt", 0, (4,), "0xc", 5, USDC, 6, "0xp5"),
            ],
        )
    )
    [c] = arbitrage.DETECTOR.detect(g)
    assert len(c.details["loops"]) == 2 and len(c.action_ids) == 5
    # The main loop is the one with most swaps (the split USDC loop).
    assert c.details["profit_token"] == USDC and c.details["loop_profit"] == 2


# --------------------------------------------------------------------------- real blocks
@pytest.fixture(scope="module")
def real() -> dict[str, Candidate]:
    require_data()
    return arbs_by_tx(arbitrage.DETECTOR.detect(real_graph()))


def test_block_12914944_exactly_two_arbitrages(real: dict[str, Candidate]) -> None:
    """expected_from_tests.json: 2 arbitrages, 3 swaps each, exact WETH profits."""
    g = real_graph()
    mine = {h: c for h, c in real.items() if c.block_number == 12914944}
    expected = {
        "0x448245bf1a507b73516c4eeee01611927dada6610bf26d403012f2e66800d8f0": 750005273675102326,
        "0xfcf4558f6432689ea57737fe63124a5ec39fd6ba6aaf198df13a825dd599bffc": 53560707941943273628,
    }
    assert set(mine) == set(expected)
    for h, profit in expected.items():
        c = mine[h]
        assert len(c.details["swaps"]) == 3
        assert c.details["profit_token"] == WETH and c.details["loop_profit"] == profit
        s1 = g.actions[c.details["swaps"][1]]
        assert isinstance(s1, Swap)
        assert (s1.token_in, s1.token_out) == ("0x25f8087ead173b73d6e8b84329989a8eea16cf73", USDC)


def test_block_12483198_peer_arbitrages_plus_curve_loop(real: dict[str, Candidate]) -> None:
    """The peer's four successful arbitrages, plus 0xd5639f59...: WETH -> DAI (Uniswap V2) -> USDT
    (Curve 3pool, called through helper 0x2393c3...) -> WETH (Sushiswap), +1.398 WETH. The peer
    misses it because the Curve leg's from/to is the helper, which breaks its address chaining."""
    mine = {h for h, c in real.items() if c.block_number == 12483198 and c.status != Status.REVERTED}
    peer_ok = {a["transaction_hash"] for a in peer("12483198")["arbitrages"] if a["error"] is None}
    assert len(peer_ok) == 4
    assert mine == peer_ok | {"0xd5639f59fb23547826bcd9a2a99905d3f748454776fd4d679c724283de1dbb81"}


def test_block_12483198_reverted_attempt_reported(real: dict[str, Candidate]) -> None:
    """Regression: tx 0x23a4dc70... succeeds but its whole arbitrage sits under the reverted
    delegatecall at trace [0, 0]; the peer reports it with error "Reverted"."""
    c = real["0x23a4dc7044666d3d4cc2d394a8017fc9d6b87018c20390d35266cea1af783e8a"]
    assert c.status == Status.REVERTED and len(c.details["swaps"]) == 3


def test_recall_vs_peer_at_least_95_percent(real: dict[str, Candidate]) -> None:
    peer_txs = {a["transaction_hash"] for n in block_names() for a in peer(n).get("arbitrages") or []}
    missed = peer_txs - set(real)
    assert len(peer_txs) >= 25
    assert 1 - len(missed) / len(peer_txs) >= 0.95, sorted(missed)


def test_no_router_taken_for_searcher_contract(real: dict[str, Candidate]) -> None:
    from mevgraph.decode.labels import is_router

    for c in real.values():
        assert not is_router(1, c.contract)


# Every arbitrage we report that the peer does not, with the reason checked on the traces.
OURS_ONLY = {
    "0x29fca501f654200b2fbf861e92cf0e0687c3cc455d2f95eadd22f0a91800baaf": "15049646: USDC->WETH on Uniswap V3 then WETH->X->USDC on V2; the peer did not classify the V3 leg",
    "0x438fb9e5a9fa80524661a9f8292fe238cf74e6397717ef277bbccb8e8c337558": "15049646: three nested Uniswap V3 flash swaps (USDT/WETH/0xfa14...); the peer classified none of them",
    "0x79fa828c222c3b21c002c7939d8cd613e7476c90bba26622da6790ed05d59ba2": "15049646: USDC->WETH and 0x2a25...->USDC on Uniswap V3 legs the peer did not classify",
    "0xa043976d736ec8dc930c0556dffd0a86a4bfc80bf98fb7995c791fb4dc488b5d": "13666312: WETH->USDC on Uniswap V3, USDC->WETH filling a 0x order; the 0x fill's recipient is "
    "the 0x proxy, which breaks the peer's address chaining",
    "0xa3d8c446de81db9c63b8654329a09c4aee174ce329a55a4e24b999b0691e1f86": "13302365: 5-leg loop with two Bancor Network legs the peer did not classify",
    "0xd02b3e5286e7f474e59ba7f71c921812ac2f1bfd469feaa803d5ee66b1c9aa56": "13234998: WETH->0x1f3f... on Sushiswap (trace [1]) then back on Uniswap V2; the peer classified "
    "only the second swap",
    "0xd5639f59fb23547826bcd9a2a99905d3f748454776fd4d679c724283de1dbb81": "12483198: Curve leg through helper contract 0x2393c3... breaks the peer's address chaining",
}


def test_ours_only_arbitrages_are_explained(real: dict[str, Candidate]) -> None:
    peer_txs = {a["transaction_hash"] for n in block_names() for a in peer(n).get("arbitrages") or []}
    assert set(real) - peer_txs == set(OURS_ONLY)


def test_blocks_without_arbitrage(real: dict[str, Candidate]) -> None:
    """Negative: the sandwich block 12775690 and blocks 11935012, 12674514, 13666184 hold router
    trades and sandwiches but no closed loop."""
    assert not {c.block_number for c in real.values()} & {12775690, 11935012, 12674514, 13666184}
