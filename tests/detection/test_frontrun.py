"""Frontrun detector: insertion frontruns (hand-made positives/negatives), displacement, real blocks."""

from __future__ import annotations

from mevgraph.core.actions import ActionSource, CoinbasePayment
from mevgraph.detection.base import Kind
from mevgraph.detection.frontrun import DETECTOR
from mevgraph.detection.sandwich import DETECTOR as SANDWICH
from tests.detection.test_sandwich import (
    BOT,
    BOT_EOA,
    POOL_A,
    POOL_B,
    ROUTER,
    USDC,
    WETH,
    addr,
    decoded,
    graph_of,
    h,
    real_graph,
    real_sandwiches,
    swap,
    tx,
)

BN = 1000


def _front_block(
    *,
    victim_in: int = 50,
    front_price: int = 20,
    victim_price: int = 10,
    front_to: str = BOT,
    gap: int = 1,
    same_block_unwind: bool = False,
    cycle: bool = False,
) -> list:
    txs = [tx(BN, 0, addr(5), ROUTER), tx(BN, 1, BOT_EOA, front_to, gas_price=front_price)]
    acts = [swap(BN, 0, POOL_B, WETH, 5, USDC, 9), swap(BN, 1, POOL_A, WETH, 10, USDC, 1000)]
    if cycle:  # the bot's tx closes a loop WETH -> USDC -> WETH: an arbitrage leg, not a position
        acts.append(swap(BN, 1, POOL_B, USDC, 1000, WETH, 11, ta=(1,)))
    for k in range(2, 1 + gap):
        txs.append(tx(BN, k, addr(40 + k), ROUTER))
    v = 1 + gap
    txs.append(tx(BN, v, addr(7), ROUTER, gas_price=victim_price))
    acts.append(swap(BN, v, POOL_A, WETH, victim_in, USDC, 4000))
    if same_block_unwind:
        txs.append(tx(BN, v + 1, BOT_EOA, BOT))
        acts.append(swap(BN, v + 1, POOL_A, USDC, 1000, WETH, 12))
    return [decoded(BN, txs, acts)]


def _unwind_block(bn: int) -> list:
    return [decoded(bn, [tx(bn, 0, BOT_EOA, BOT)], [swap(bn, 0, POOL_A, USDC, 1000, WETH, 12)])]


def test_insertion_frontrun_unwound_next_block() -> None:
    g = graph_of(*_front_block(), *_unwind_block(BN + 1))
    (c,) = DETECTOR.detect(g)
    assert c.kind == Kind.FRONTRUN
    assert c.frontrun_txs == c.attacker_txs == (h(BN, 1),) and c.victim_txs == (h(BN, 2),)
    assert c.searcher == BOT_EOA and c.contract == BOT and c.pools == (POOL_A,)
    assert c.details["unwound_in_block"] == BN + 1 and c.details["displacement"] is False
    assert c.confidence == 0.9
    assert list(c.action_ids) == c.details["front_swaps"] + c.details["victim_swaps"]


def test_insertion_frontrun_without_seen_unwind_has_lower_confidence() -> None:
    (c,) = DETECTOR.detect(graph_of(*_front_block()))
    assert c.details["unwound_in_block"] is None and c.confidence == 0.7


def test_unwind_three_blocks_later_is_not_linked() -> None:
    (c,) = DETECTOR.detect(graph_of(*_front_block(), *_unwind_block(BN + 3)))
    assert c.details["unwound_in_block"] is None


def test_smaller_or_equal_victim_is_not_frontrun() -> None:
    assert DETECTOR.detect(graph_of(*_front_block(victim_in=10))) == []


def test_lower_fee_is_not_frontrun() -> None:
    assert DETECTOR.detect(graph_of(*_front_block(front_price=10))) == []


def test_coinbase_bribe_counts_as_fee() -> None:
    """A Flashbots-style front paying 1 wei/gas plus a direct miner payment outbids the victim."""
    (blk,) = _front_block(front_price=1)
    blk.actions.append(
        CoinbasePayment(
            chain_id=1,
            block_number=BN,
            tx_hash=h(BN, 1),
            tx_index=1,
            protocol="eth",
            source=ActionSource.TRACE,
            trace_address=(2,),
            from_=BOT,
            to=addr(0xC0FFEE),
            amount=10**7,
        )
    )
    (c,) = DETECTOR.detect(graph_of(blk))
    assert c.frontrun_txs == (h(BN, 1),)


def test_router_trade_is_not_a_bot() -> None:
    assert DETECTOR.detect(graph_of(*_front_block(front_to=ROUTER))) == []


def test_far_victim_is_not_frontrun() -> None:
    assert DETECTOR.detect(graph_of(*_front_block(gap=4))) == []


def test_same_block_unwind_is_a_sandwich_not_a_frontrun() -> None:
    g = graph_of(*_front_block(same_block_unwind=True))
    assert DETECTOR.detect(g) == []
    assert len(SANDWICH.detect(g)) == 1


def test_arbitrage_cycle_is_not_a_frontrun() -> None:
    assert DETECTOR.detect(graph_of(*_front_block(cycle=True))) == []


# --------------------------------------------------------------------------- displacement
def _copy_block(*, victim_success: bool, victim_trades: bool, copier_trades: bool = True) -> list:
    txs = [
        tx(BN, 0, addr(1), BOT, input_hash=4242, gas_price=30),
        tx(BN, 1, addr(2), BOT, input_hash=4242, gas_price=10, success=victim_success),
    ]
    acts = []
    if copier_trades:
        acts.append(swap(BN, 0, POOL_A, WETH, 10, USDC, 1000))
    if victim_trades:
        acts.append(swap(BN, 1, POOL_A, WETH, 10, USDC, 900))
    return [decoded(BN, txs, acts)]


def test_displacement_copy_before_reverted_original() -> None:
    (c,) = DETECTOR.detect(graph_of(*_copy_block(victim_success=False, victim_trades=False)))
    assert c.details["displacement"] is True
    assert c.attacker_txs == (h(BN, 0),) and c.victim_txs == (h(BN, 1),) and c.confidence == 0.8


def test_displacement_copy_before_original_that_got_less() -> None:
    (c,) = DETECTOR.detect(graph_of(*_copy_block(victim_success=True, victim_trades=True)))
    assert c.details["displacement"] is True and c.confidence == 0.6


def test_identical_calls_without_trades_are_not_displacement() -> None:
    """Many users send the same ``approve``/``claim`` calldata: no trade, no displacement."""
    assert DETECTOR.detect(graph_of(*_copy_block(victim_success=True, victim_trades=False))) == []
    assert (
        DETECTOR.detect(
            graph_of(*_copy_block(victim_success=False, victim_trades=False, copier_trades=False))
        )
        == []
    )


# --------------------------------------------------------------------------- real blocks
def test_real_blocks_frontruns_never_reuse_sandwich_txs() -> None:
    """Frontruns are rare on the 20 blocks; none of ours may be a sandwich's front, victim or back."""
    found = DETECTOR.detect(real_graph())
    used = {x for c in real_sandwiches() for x in c.attacker_txs + c.victim_txs}
    for c in found:
        assert not set(c.attacker_txs) & used
        assert 0 < c.confidence <= 0.9
    assert len(found) <= 3  # measured: 0 with the peer's swaps and with ours
