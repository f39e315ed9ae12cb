"""Backrun linking: opposite-direction trigger on the arbitrage's pool, oracle-update triggers."""

from __future__ import annotations

import pytest

from mevgraph.detection import arbitrage, backrun, liquidation
from mevgraph.detection.base import Candidate, Kind

from .test_arbitrage import (
    USDC,
    WETH,
    block_of,
    graph_of,
    real_graph,
    require_data,
    swap,
    tx,
)
from .test_arbitrage import (
    liquidation as liq_action,
)

TRANSMIT = "0xc9807539"


def _arb_actions(h: str, index: int) -> list:
    # The arbitrage buys X on p1 (WETH -> X) and sells it on p2 (X -> WETH).
    return [
        swap(h, index, (0,), WETH, 100, "0xx", 50, "0xp1"),
        swap(h, index, (1,), "0xx", 50, WETH, 103, "0xp2"),
    ]


def _link(txs: list, actions: list) -> list[Candidate]:
    g = graph_of(block_of(txs, actions))
    return backrun.link(g, arbitrage.DETECTOR.detect(g) + liquidation.DETECTOR.detect(g))


def test_opposite_swap_right_before_is_trigger() -> None:
    [c] = _link(
        [tx("0xv", 0, "0xuser", "0xrouter"), tx("0xa", 1, "0xeoa", "0xbotc")],
        [swap("0xv", 0, (0,), "0xx", 10, WETH, 20, "0xp1", who="0xrouter"), *_arb_actions("0xa", 1)],
    )
    assert c.kind == Kind.BACKRUN and c.backrun_txs == ("0xa",)
    assert c.details["trigger_tx"] == "0xv" and c.details["underlying"] == "arbitrage"
    assert c.confidence == 1.0


def test_same_direction_swap_is_not_trigger() -> None:
    [c] = _link(
        [tx("0xv", 0, "0xuser", "0xrouter"), tx("0xa", 1, "0xeoa", "0xbotc")],
        [swap("0xv", 0, (0,), WETH, 20, "0xx", 10, "0xp1", who="0xrouter"), *_arb_actions("0xa", 1)],
    )
    assert c.kind == Kind.ARBITRAGE and "trigger_tx" not in c.details


def test_searchers_own_earlier_tx_is_not_trigger() -> None:
    [c] = _link(
        [tx("0xv", 0, "0xother", "0xbotc"), tx("0xa", 1, "0xeoa", "0xbotc")],
        [swap("0xv", 0, (0,), "0xx", 10, WETH, 20, "0xp1"), *_arb_actions("0xa", 1)],
    )
    assert c.kind == Kind.ARBITRAGE


def test_gap_within_limit_lowers_confidence_and_beyond_is_dropped() -> None:
    def run(gap: int) -> Candidate:
        fillers = [tx(f"0xf{i}", 1 + i, f"0xu{i}", "0xelse") for i in range(gap)]
        [c] = _link(
            [tx("0xv", 0, "0xuser", "0xrouter"), *fillers, tx("0xa", 1 + gap, "0xeoa", "0xbotc")],
            [swap("0xv", 0, (0,), "0xx", 10, WETH, 20, "0xp1"), *_arb_actions("0xa", 1 + gap)],
        )
        return c

    near = run(backrun.MAX_GAP)
    assert near.kind == Kind.BACKRUN and near.confidence == pytest.approx(0.8)
    assert run(backrun.MAX_GAP + 1).kind == Kind.ARBITRAGE


def test_last_toucher_decides() -> None:
    """An opposite swap followed by a same-direction swap on the pool: the price moved back."""
    [c] = _link(
        [
            tx("0xv", 0, "0xuser", "0xrouter"),
            tx("0xw", 1, "0xuser2", "0xrouter"),
            tx("0xa", 2, "0xeoa", "0xbotc"),
        ],
        [
            swap("0xv", 0, (0,), "0xx", 10, WETH, 20, "0xp1"),
            swap("0xw", 1, (0,), WETH, 20, "0xx", 10, "0xp1"),
            *_arb_actions("0xa", 2),
        ],
    )
    assert c.kind == Kind.ARBITRAGE


def test_liquidation_after_oracle_update_keeps_kind() -> None:
    [c] = _link(
        [tx("0xo", 0, "0xnode", "0xaggregator", selector=TRANSMIT), tx("0xl", 1, "0xeoa", "0xliqbot")],
        [liq_action("0xl", 1)],
    )
    assert c.kind == Kind.LIQUIDATION
    assert c.details["trigger_tx"] == "0xo" and c.details["trigger"] == "oracle_update"


def test_liquidation_after_collateral_dump_has_swap_trigger() -> None:
    [c] = _link(
        [tx("0xs", 0, "0xwhale", "0xrouter"), tx("0xl", 1, "0xeoa", "0xliqbot")],
        [swap("0xs", 0, (0,), WETH, 10**21, USDC, 10**9, "0xp1"), liq_action("0xl", 1, debt=USDC, coll=WETH)],
    )
    assert c.kind == Kind.LIQUIDATION and c.details["trigger"] == "swap"


def test_liquidation_without_trigger_is_unchanged() -> None:
    [c] = _link([tx("0xz", 0, "0xu", "0xelse"), tx("0xl", 1, "0xeoa", "0xliqbot")], [liq_action("0xl", 1)])
    assert "trigger_tx" not in c.details


# --------------------------------------------------------------------------- real blocks
@pytest.fixture(scope="module")
def linked() -> dict[str, Candidate]:
    require_data()
    g = real_graph()
    cands = backrun.link(g, arbitrage.DETECTOR.detect(g) + liquidation.DETECTOR.detect(g))
    return {c.attacker_txs[0]: c for c in cands}


def test_backrun_13666363_curve_dao_sell_then_arb(linked: dict[str, Candidate]) -> None:
    """Tx 0x8d5179f0... sells CRV for WETH on pool 0x58dc5a51...; the next tx buys it back."""
    c = linked["0xf2c707e60951a2a670b999f92e3cd15a3a91d94d5450fa979fe0a7113b97075e"]
    assert c.kind == Kind.BACKRUN
    assert c.details["trigger_tx"] == "0x8d5179f0e14460cdd11da7430ce1094d3e9833627d26f6f65e8d8e8b39aaca87"


def test_liquidation_13244807_follows_chainlink_transmit(linked: dict[str, Candidate]) -> None:
    c = linked["0xb7575eedc9d8cfe82c4a11cd1a851221f2eafb93d738301995ac7103ffe877f7"]
    assert c.kind == Kind.LIQUIDATION and c.details["trigger"] == "oracle_update"
    assert c.details["trigger_tx"] == "0xae9ce51da289045d698b050c1699939c784b405bd4ee4b4662c874fa6c133d8b"


def test_arbitrage_12914944_has_no_trigger(linked: dict[str, Candidate]) -> None:
    """Negative: the WETH/UST/USDC loop 0x448245bf... follows no opposite swap on its pools."""
    c = linked["0x448245bf1a507b73516c4eeee01611927dada6610bf26d403012f2e66800d8f0"]
    assert c.kind == Kind.ARBITRAGE
