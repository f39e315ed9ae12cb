"""Sandwich detector: the peer's sandwiches on the real blocks, plus hand-made motifs.

Also holds the small builders (hand-made txs, swaps, liquidity changes -> PropertyGraph) used by
the other position-motif tests (frontrun, JIT, hypothesis properties).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import pytest

from mevgraph.core.actions import Action, ActionKind, ActionSource, LiquidityChange, Swap
from mevgraph.core.types import Block
from mevgraph.decode.decoder import DecodedBlock, TxMeta, decode_block
from mevgraph.detection.base import Candidate, Kind
from mevgraph.detection.sandwich import DETECTOR
from mevgraph.graph import PropertyGraph
from mevgraph.ingest.fixture import block_from_fixture

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("MEVGRAPH_SHARED", ROOT.parent / "shared")) / "data" / "mainnet"

WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
DAI = "0x6b175474e89094c44da98b954eedeac495271d0f"
ROUTER = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"  # Uniswap V2 Router02
POOL_A = "0x" + "a1" * 20
POOL_B = "0x" + "b2" * 20
BOT = "0x" + "b0" * 20
BOT_EOA = "0x" + "e0" * 20


# --------------------------------------------------------------------------- builders
def h(block: int, index: int) -> str:
    """A deterministic 32-byte tx hash for (block, index)."""
    return f"0x{block:016x}{index:048x}"


def addr(n: int) -> str:
    return f"0x{n:040x}"


def tx(
    block: int,
    index: int,
    from_: str,
    to: str | None,
    *,
    success: bool = True,
    gas_price: int | None = 10,
    gas_used: int | None = 100_000,
    input_hash: int | None = None,
    hash_: str | None = None,
) -> TxMeta:
    cost = gas_price * gas_used if gas_price is not None and gas_used is not None else None
    return TxMeta(
        hash=hash_ or h(block, index),
        index=index,
        from_=from_,
        to=to,
        success=success,
        gas_used=gas_used,
        effective_gas_price=gas_price,
        gas_cost_wei=cost,
        gas_cost_reason=None if cost is not None else "unknown",
        selector="0x12345678",
        input_hash=input_hash,
    )


def swap(
    block: int,
    index: int,
    pool: str,
    t_in: str,
    a_in: int,
    t_out: str,
    a_out: int,
    *,
    ta: tuple[int, ...] = (0,),
    protocol: str = "uniswap_v2",
    hash_: str | None = None,
) -> Swap:
    return Swap(
        chain_id=1,
        block_number=block,
        tx_hash=hash_ or h(block, index),
        tx_index=index,
        protocol=protocol,
        source=ActionSource.TRACE,
        trace_address=ta,
        pool=pool,
        sender=ROUTER,
        recipient=ROUTER,
        token_in=t_in,
        amount_in=a_in,
        token_out=t_out,
        amount_out=a_out,
    )


def liq(
    block: int,
    index: int,
    change: ActionKind,
    pool: str,
    provider: str,
    *,
    ticks: tuple[int, int] | None = (-600, 600),
    ta: tuple[int, ...] = (0,),
) -> LiquidityChange:
    return LiquidityChange(
        chain_id=1,
        block_number=block,
        tx_hash=h(block, index),
        tx_index=index,
        protocol="uniswap_v3",
        source=ActionSource.TRACE,
        trace_address=ta,
        change=change,
        pool=pool,
        provider=provider,
        tokens=(WETH, USDC),
        amounts=(10**18, 2000 * 10**6),
        tick_lower=ticks[0] if ticks else None,
        tick_upper=ticks[1] if ticks else None,
        liquidity=10**15,
    )


def decoded(
    number: int, txs: Iterable[TxMeta], actions: Iterable[Action], attempted: Iterable[Action] = ()
) -> DecodedBlock:
    txs = sorted(txs, key=lambda m: m.index)
    return DecodedBlock(
        block=Block(chain_id=1, number=number),
        mode="traces",
        txs=txs,
        actions=sorted(actions, key=lambda a: a.position),
        attempted=list(attempted),
    )


def graph_of(*blocks: DecodedBlock) -> PropertyGraph:
    return PropertyGraph.build(blocks)


# --------------------------------------------------------------------------- real blocks
@cache
def real_decoded(n: int) -> DecodedBlock:
    path = DATA / "blocks" / f"{n}.json.gz"
    if not path.exists():
        pytest.skip(f"real mainnet blocks not found under {DATA}")
    with gzip.open(path) as fh:
        return decode_block(block_from_fixture(json.load(fh)))


@cache
def peer(n: int) -> dict[str, Any]:
    with gzip.open(DATA / "peer" / f"{n}.json.gz") as fh:
        return json.load(fh)


def real_blocks() -> list[int]:
    # 10921990.json.gz is block 10921991 again (reward trace removed): one copy is enough here.
    return sorted(
        int(p.name.split(".")[0]) for p in (DATA / "blocks").glob("*.json.gz") if p.name != "10921990.json.gz"
    )


@lru_cache(maxsize=1)
def real_graph() -> PropertyGraph:
    return PropertyGraph.build([real_decoded(n) for n in real_blocks()])


@lru_cache(maxsize=1)
def real_sandwiches() -> tuple[Candidate, ...]:
    return tuple(DETECTOR.detect(real_graph()))


def sandwich_is_well_formed(graph: PropertyGraph, c: Candidate) -> None:
    idx = {m.hash: m.index for m in graph.tx_meta.values()}
    fronts = [idx[x] for x in c.frontrun_txs]
    backs = [idx[x] for x in c.backrun_txs]
    victims = [idx[x] for x in c.victim_txs]
    assert fronts and backs and victims
    assert max(fronts) < min(backs)
    assert all(min(fronts) < v < min(backs) for v in victims)
    assert not set(c.victim_txs) & set(c.attacker_txs)
    assert c.attacker_txs == c.frontrun_txs + tuple(x for x in c.backrun_txs if x not in c.frontrun_txs)
    assert victims == sorted(victims)
    d = c.details
    assert list(c.action_ids) == d["front_swaps"] + d["victim_swaps"] + d["back_swaps"]


# --------------------------------------------------------------------------- real: peer parity
PEER_12775690 = {
    "front": "0x91a3abe5f3b806426542252820ba0ab6d56c098fdef6864ecaf4d352f64217a0",
    "victims": (
        "0x9b40deca1f53593b7631ca25485d0c6faf90279b9872845acfd5c98afb185934",
        "0xf8e45a291cdab5e456375e4d7df30771670d504835c9332b32114e5bc4e315f9",
        "0xdf63b22773b66cc41e00fd42c3b3c7f42912f87476ffe6d821e3f5c00284f00b",
        "0x1fe35f66e24f12bdb54a0d35934aac809c783710d998621b70116ea9f95f4f4f",
    ),
    "back": "0xc300d1ff79d3901b58dc56489fc7d083a6c13d422bfc1425a0579379300c95a2",
    "contract": "0x000000000027d2efc283613d0c3e24a8b430c4d8",
}


def test_peer_sandwich_12775690_exact() -> None:
    g = graph_of(real_decoded(12775690))
    found = DETECTOR.detect(g)
    assert len(found) == 1
    c = found[0]
    assert c.kind == Kind.SANDWICH
    assert c.frontrun_txs == (PEER_12775690["front"],)
    assert c.backrun_txs == (PEER_12775690["back"],)
    assert c.victim_txs == PEER_12775690["victims"]
    assert c.contract == PEER_12775690["contract"]
    assert c.attacker_txs == (PEER_12775690["front"], PEER_12775690["back"])
    assert c.pools == ("0xefb47fcfcad4f96c83d4ca676842fb03ef20a477",)
    assert c.confidence == 1.0
    sandwich_is_well_formed(g, c)
    # money needs the swaps: front bought exactly what the back sold
    front = g.actions[c.details["front_swaps"][0]]
    back = g.actions[c.details["back_swaps"][0]]
    assert front.amount_out == back.amount_in == 1114969767487478978357


def test_every_peer_sandwich_found_and_no_extra() -> None:
    """Per block, our (front txs, back txs) equal the peer's; peer rows that share the same txs on
    two pools (block 12914944) are one finding of ours listing both pools."""
    ours = real_sandwiches()
    for n in real_blocks():
        theirs: dict[tuple[str, str], set[str]] = {}
        for s in peer(n)["sandwiches"]:
            key = (s["frontrun_swap"]["transaction_hash"], s["backrun_swap"]["transaction_hash"])
            theirs.setdefault(key, set()).update(v["transaction_hash"] for v in s["sandwiched_swaps"])
        mine = {
            (c.frontrun_txs[0], c.backrun_txs[-1]): set(c.victim_txs) for c in ours if c.block_number == n
        }
        assert mine == theirs, n


def test_real_sandwiches_well_formed() -> None:
    g = real_graph()
    for c in real_sandwiches():
        sandwich_is_well_formed(g, c)
        assert c.searcher is not None and c.contract is not None


def test_regression_12914944_victim_route_over_two_pools_is_one_finding() -> None:
    found = [c for c in real_sandwiches() if c.block_number == 12914944]
    assert len(found) == 1
    c = found[0]
    assert set(c.pools) == {
        "0x397ff1542f962076d0bfe58ea045ffa2d347aca0",
        "0xb9c31afc2df2cd49c2a685ff378c21eb7d115541",
    }
    assert len(c.details["front_swaps"]) == 2 and len(c.details["back_swaps"]) == 2
    assert c.victim_txs == ("0x24220dd35e275fb59acd65c34b947f40cce9dc60b8cabba59138f40b1f876792",)


def test_regression_13234998_uniswap_v3_sandwich_only_the_attacked_pool() -> None:
    """The front routes WETH->cvxCRV (Sushiswap) ->CRV (Uniswap V3); only the V3 pool has a victim."""
    found = [c for c in real_sandwiches() if c.block_number == 13234998]
    assert len(found) == 1
    assert found[0].pools == ("0x620cd19eae24fb8a02df908bb71b81b6e3aa1ccc",)
    assert found[0].protocols == ("uniswap_v3",)


# --------------------------------------------------------------------------- hand-made motifs
def _classic(
    bn: int = 100,
    *,
    back_in: int = 1000,
    victim_from: str = addr(7),
    victim_to: str = ROUTER,
    front_to: str = BOT,
    back_to: str = BOT,
    back_from: str = BOT_EOA,
) -> DecodedBlock:
    txs = [
        tx(bn, 0, addr(5), ROUTER),
        tx(bn, 1, BOT_EOA, front_to),
        tx(bn, 2, victim_from, victim_to),
        tx(bn, 3, back_from, back_to),
    ]
    acts = [
        swap(bn, 0, POOL_B, WETH, 5, DAI, 9),
        swap(bn, 1, POOL_A, WETH, 10, USDC, 1000),
        swap(bn, 2, POOL_A, WETH, 50, USDC, 4000),
        swap(bn, 3, POOL_A, USDC, back_in, WETH, 12),
    ]
    return decoded(bn, txs, acts)


def test_classic_sandwich() -> None:
    g = graph_of(_classic())
    (c,) = DETECTOR.detect(g)
    assert c.frontrun_txs == (h(100, 1),) and c.victim_txs == (h(100, 2),) and c.backrun_txs == (h(100, 3),)
    assert c.searcher == BOT_EOA and c.contract == BOT and c.confidence == 1.0
    assert c.pools == (POOL_A,) and c.protocols == ("uniswap_v2",)
    sandwich_is_well_formed(g, c)


@pytest.mark.parametrize("back_in", [499, 1101, 0])
def test_unwind_outside_tolerance_is_not_a_sandwich(back_in: int) -> None:
    assert DETECTOR.detect(graph_of(_classic(back_in=back_in))) == []


def test_partial_unwind_lowers_confidence() -> None:
    (c,) = DETECTOR.detect(graph_of(_classic(back_in=800)))
    assert c.confidence == 0.8


def test_victim_from_attacker_eoa_or_contract_is_not_a_victim() -> None:
    assert DETECTOR.detect(graph_of(_classic(victim_from=BOT_EOA))) == []
    assert DETECTOR.detect(graph_of(_classic(victim_to=BOT))) == []


def test_router_front_and_back_from_same_eoa_low_confidence() -> None:
    (c,) = DETECTOR.detect(graph_of(_classic(front_to=ROUTER, back_to=ROUTER)))
    assert c.contract is None and c.searcher == BOT_EOA and c.confidence == 0.6


def test_same_contract_different_eoas() -> None:
    (c,) = DETECTOR.detect(graph_of(_classic(back_from=addr(99))))
    assert c.searcher is None and c.contract == BOT and c.confidence == 0.95


def test_unrelated_senders_via_router_are_not_linked() -> None:
    assert DETECTOR.detect(graph_of(_classic(front_to=ROUTER, back_to=ROUTER, back_from=addr(99)))) == []


def test_eoa_calling_pool_directly() -> None:
    (c,) = DETECTOR.detect(graph_of(_classic(front_to=POOL_A, back_to=POOL_A)))
    assert c.contract is None and c.searcher == BOT_EOA and c.confidence == 0.95


def test_big_mac_multi_front_multi_victim_no_cap() -> None:
    bn = 200
    n_victims = 60  # brontes caps at 30 victims; we do not
    txs = [tx(bn, 0, BOT_EOA, BOT)]
    acts = [swap(bn, 0, POOL_A, WETH, 10, USDC, 1000)]
    i = 1
    for k in range(n_victims):
        if k == n_victims // 2:  # a second frontrun halfway
            txs.append(tx(bn, i, BOT_EOA, BOT))
            acts.append(swap(bn, i, POOL_A, WETH, 10, USDC, 900))
            i += 1
        txs.append(tx(bn, i, addr(1000 + k), ROUTER))
        acts.append(swap(bn, i, POOL_A, WETH, 3, USDC, 250))
        i += 1
    txs.append(tx(bn, i, BOT_EOA, BOT))
    acts.append(swap(bn, i, POOL_A, USDC, 1900, WETH, 25))
    g = graph_of(decoded(bn, txs, acts))
    (c,) = DETECTOR.detect(g)
    assert len(c.frontrun_txs) == 2 and len(c.backrun_txs) == 1 and len(c.victim_txs) == n_victims
    sandwich_is_well_formed(g, c)


def test_split_backrun_over_two_txs() -> None:
    bn = 300
    txs = [
        tx(bn, 0, BOT_EOA, BOT),
        tx(bn, 1, addr(3), ROUTER),
        tx(bn, 2, BOT_EOA, BOT),
        tx(bn, 3, BOT_EOA, BOT),
    ]
    acts = [
        swap(bn, 0, POOL_A, WETH, 10, USDC, 1000),
        swap(bn, 1, POOL_A, WETH, 50, USDC, 4000),
        swap(bn, 2, POOL_A, USDC, 600, WETH, 7),
        swap(bn, 3, POOL_A, USDC, 400, WETH, 5),
    ]
    (c,) = DETECTOR.detect(graph_of(decoded(bn, txs, acts)))
    assert c.backrun_txs == (h(bn, 2), h(bn, 3)) and c.confidence == 1.0


def test_two_rounds_on_one_pool_are_two_sandwiches() -> None:
    """F v B F v B by one bot: the second front starts a new sandwich (runs are cut at F after B)."""
    bn = 400
    txs = [
        tx(bn, i, BOT_EOA if i % 3 != 1 else addr(50 + i), BOT if i % 3 != 1 else ROUTER) for i in range(6)
    ]
    acts = [
        swap(bn, 0, POOL_A, WETH, 10, USDC, 1000),
        swap(bn, 1, POOL_A, WETH, 50, USDC, 4000),
        swap(bn, 2, POOL_A, USDC, 1000, WETH, 12),
        swap(bn, 3, POOL_A, WETH, 10, USDC, 990),
        swap(bn, 4, POOL_A, WETH, 50, USDC, 3900),
        swap(bn, 5, POOL_A, USDC, 990, WETH, 12),
    ]
    g = graph_of(decoded(bn, txs, acts))
    found = DETECTOR.detect(g)
    assert [(c.frontrun_txs, c.victim_txs, c.backrun_txs) for c in found] == [
        ((h(bn, 0),), (h(bn, 1),), (h(bn, 2),)),
        ((h(bn, 3),), (h(bn, 4),), (h(bn, 5),)),
    ]


def test_victim_route_over_two_attacked_pools_is_one_finding() -> None:
    bn = 450
    txs = [tx(bn, 0, BOT_EOA, BOT), tx(bn, 1, addr(3), ROUTER), tx(bn, 2, BOT_EOA, BOT)]
    acts = [
        swap(bn, 0, POOL_A, WETH, 10, USDC, 1000),
        swap(bn, 0, POOL_B, USDC, 1000, DAI, 990, ta=(1,)),
        swap(bn, 1, POOL_A, WETH, 50, USDC, 4000),
        swap(bn, 1, POOL_B, USDC, 4000, DAI, 3900, ta=(1,)),
        swap(bn, 2, POOL_B, DAI, 990, USDC, 1300),
        swap(bn, 2, POOL_A, USDC, 1300, WETH, 12, ta=(1,)),
    ]
    g = graph_of(decoded(bn, txs, acts))
    (c,) = DETECTOR.detect(g)
    assert c.pools == (POOL_A, POOL_B) and c.victim_txs == (h(bn, 1),)
    assert (
        len(c.details["front_swaps"]) == len(c.details["victim_swaps"]) == len(c.details["back_swaps"]) == 2
    )
    sandwich_is_well_formed(g, c)


def test_two_attackers_on_two_pools_of_one_victim_are_two_findings() -> None:
    bn = 460
    other_eoa, other_bot = addr(0xE1), addr(0xB1)
    txs = [
        tx(bn, 0, BOT_EOA, BOT),
        tx(bn, 1, other_eoa, other_bot),
        tx(bn, 2, addr(3), ROUTER),
        tx(bn, 3, BOT_EOA, BOT),
        tx(bn, 4, other_eoa, other_bot),
    ]
    acts = [
        swap(bn, 0, POOL_A, WETH, 10, USDC, 1000),
        swap(bn, 1, POOL_B, USDC, 500, DAI, 490),
        swap(bn, 2, POOL_A, WETH, 50, USDC, 4000),
        swap(bn, 2, POOL_B, USDC, 4000, DAI, 3900, ta=(1,)),
        swap(bn, 3, POOL_A, USDC, 1000, WETH, 12),
        swap(bn, 4, POOL_B, DAI, 490, USDC, 520),
    ]
    found = DETECTOR.detect(graph_of(decoded(bn, txs, acts)))
    assert sorted((c.contract, c.pools) for c in found) == sorted([(BOT, (POOL_A,)), (other_bot, (POOL_B,))])


def test_opposite_direction_trade_in_between_is_not_a_victim() -> None:
    bn = 500
    txs = [tx(bn, 0, BOT_EOA, BOT), tx(bn, 1, addr(3), ROUTER), tx(bn, 2, BOT_EOA, BOT)]
    acts = [
        swap(bn, 0, POOL_A, WETH, 10, USDC, 1000),
        swap(bn, 1, POOL_A, USDC, 4000, WETH, 50),
        swap(bn, 2, POOL_A, USDC, 1000, WETH, 9),
    ]
    assert DETECTOR.detect(graph_of(decoded(bn, txs, acts))) == []


def test_arbitrage_cycles_through_the_pool_are_not_a_sandwich() -> None:
    """A bot whose two txs are closed loops crossing the pool (X->Y here, Y->X later) holds no Y."""
    bn = 550
    txs = [tx(bn, 0, BOT_EOA, BOT), tx(bn, 1, addr(3), ROUTER), tx(bn, 2, BOT_EOA, BOT)]
    acts = [
        swap(bn, 0, POOL_A, WETH, 10, USDC, 1000),
        swap(bn, 0, POOL_B, USDC, 1000, WETH, 11, ta=(1,)),
        swap(bn, 1, POOL_A, WETH, 50, USDC, 4000),
        swap(bn, 2, POOL_B, WETH, 10, USDC, 1010),
        swap(bn, 2, POOL_A, USDC, 1010, WETH, 11, ta=(1,)),
    ]
    assert DETECTOR.detect(graph_of(decoded(bn, txs, acts))) == []


def test_reverted_victim_is_not_a_victim() -> None:
    """Swaps of reverted txs are only ``attempted``: they move no price and make no victim."""
    bn = 600
    base = _classic(bn)
    victim = base.actions.pop(2)
    base.attempted.append(victim)
    assert DETECTOR.detect(graph_of(base)) == []


def test_sandwiches_of_many_blocks_in_one_pass() -> None:
    g = graph_of(_classic(700), _classic(701), _classic(702, back_in=5000))
    assert [c.block_number for c in DETECTOR.detect(g)] == [700, 701]


def test_empty_graph() -> None:
    assert DETECTOR.detect(graph_of(decoded(1, [], []))) == []
