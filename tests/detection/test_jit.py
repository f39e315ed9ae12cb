"""JIT liquidity detector: hand-made mint -> swap -> burn motifs and the real blocks (none there)."""

from __future__ import annotations

from mevgraph.core.actions import ActionKind
from mevgraph.detection.base import Kind
from mevgraph.detection.jit import DETECTOR
from tests.detection.test_sandwich import (
    BOT,
    BOT_EOA,
    POOL_A,
    ROUTER,
    USDC,
    WETH,
    addr,
    decoded,
    graph_of,
    h,
    liq,
    real_decoded,
    real_graph,
    swap,
    tx,
)

ADD, REMOVE, COLLECT = ActionKind.LIQUIDITY_ADD, ActionKind.LIQUIDITY_REMOVE, ActionKind.LIQUIDITY_COLLECT
BN = 2000


def _jit(
    *,
    burn_index: int = 2,
    burn_from: str = BOT_EOA,
    burn_ticks: tuple[int, int] | None = (-600, 600),
    burn_provider: str = BOT,
    swapper: str = addr(7),
    collect: bool = True,
) -> list:
    txs = [tx(BN, 0, BOT_EOA, BOT), tx(BN, 1, swapper, ROUTER)]
    for k in range(2, burn_index):
        txs.append(tx(BN, k, addr(30 + k), ROUTER))
    txs.append(tx(BN, burn_index, burn_from, BOT))
    acts = [
        liq(BN, 0, ADD, POOL_A, BOT),
        swap(BN, 1, POOL_A, WETH, 10**20, USDC, 2 * 10**11, protocol="uniswap_v3"),
        liq(BN, burn_index, REMOVE, POOL_A, burn_provider, ticks=burn_ticks),
    ]
    if collect:
        acts.append(liq(BN, burn_index, COLLECT, POOL_A, burn_provider, ticks=burn_ticks, ta=(1,)))
    return [decoded(BN, txs, acts)]


def test_jit_three_consecutive_txs() -> None:
    g = graph_of(*_jit())
    (c,) = DETECTOR.detect(g)
    assert c.kind == Kind.JIT
    assert c.attacker_txs == (h(BN, 0), h(BN, 2)) and c.victim_txs == (h(BN, 1),)
    assert c.frontrun_txs == (h(BN, 0),) and c.backrun_txs == (h(BN, 2),)
    assert c.searcher == BOT_EOA and c.contract == BOT and c.pools == (POOL_A,)
    d = c.details
    assert g.actions[d["mint"]].kind == ADD and g.actions[d["burn"]].kind == REMOVE
    assert g.actions[d["collect"]].kind == COLLECT and len(d["swaps"]) == 1
    assert c.confidence == 0.9


def test_jit_without_collect_and_not_consecutive() -> None:
    (c,) = DETECTOR.detect(graph_of(*_jit(burn_index=4, collect=False)))
    assert c.details["collect"] is None and c.confidence == 0.75


def test_jit_burn_from_other_eoa_of_same_contract() -> None:
    (c,) = DETECTOR.detect(graph_of(*_jit(burn_from=addr(99))))
    assert c.searcher is None and c.confidence == 0.72


def test_other_provider_or_other_range_is_not_jit() -> None:
    assert DETECTOR.detect(graph_of(*_jit(burn_provider=addr(1234)))) == []
    assert DETECTOR.detect(graph_of(*_jit(burn_ticks=(-60, 60)))) == []


def test_own_swap_in_between_is_not_a_victim() -> None:
    assert DETECTOR.detect(graph_of(*_jit(swapper=BOT_EOA))) == []


def test_regression_12914944_rebalance_in_one_tx_is_not_jit() -> None:
    """Tx 188 of block 12914944 mints, burns and collects in one transaction (an LP rebalancing)."""
    d = real_decoded(12914944)
    assert any(a.kind == REMOVE for a in d.actions)
    assert DETECTOR.detect(graph_of(d)) == []


def test_real_blocks_have_no_jit() -> None:
    assert DETECTOR.detect(real_graph()) == []
