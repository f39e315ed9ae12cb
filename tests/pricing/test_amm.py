"""AMM math: exact V2 integer formulas, the optimal-frontrun solver, counterfactual victim loss."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mevgraph.core.actions import ActionSource, Swap
from mevgraph.core.types import Address, TxHash
from mevgraph.pricing.amm import (
    Q96,
    get_amount_in,
    get_amount_out,
    optimal_frontrun,
    solve_reserves,
    v3_swap_within_range,
    victim_loss,
)

from ..conftest import decoded_fixture

E18, E6 = 10**18, 10**6
WETH = Address("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2")
USDC = Address("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")
POOL = Address("0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc")


def _swap(i: int, tin: str, ain: int, tout: str, aout: int, **kw: object) -> Swap:
    return Swap(
        chain_id=1,
        block_number=1,
        tx_hash=TxHash(f"0x{i:064x}"),
        tx_index=i,
        protocol=str(kw.pop("protocol", "uniswap_v2")),
        source=ActionSource.TRACE,
        trace_address=(0,),
        pool=POOL,
        sender=Address("0x" + "11" * 20),
        recipient=Address("0x" + "11" * 20),
        token_in=Address(tin),
        amount_in=ain,
        token_out=Address(tout),
        amount_out=aout,
        **kw,  # type: ignore[arg-type]
    )


def _textbook_sandwich(with_reserves: bool) -> tuple[list[Swap], int]:
    """ANCHORS.md pool (1000 ETH / 2M USDC), victim 10 ETH at 1 % slippage, optimal frontrun."""
    x, y, v = 1000 * E18, 2_000_000 * E6, 10 * E18
    plan = optimal_frontrun(x, y, v, get_amount_out(v, x, y) * 99 // 100)
    assert plan is not None
    a, f, q = plan.amount_in, plan.front_out, plan.victim_out
    x1, y1 = x + a, y - f
    x2, y2 = x1 + v, y1 - q
    b = get_amount_out(f, y2, x2)
    res = (lambda r: {"reserves_after": r}) if with_reserves else (lambda r: {})
    swaps = [
        _swap(0, WETH, a, USDC, f, **res((x1, y1))),
        _swap(1, WETH, v, USDC, q, **res((x2, y2))),
        _swap(2, USDC, f, WETH, b, **res((y2 + f, x2 - b))),
    ]
    return swaps, plan.victim_loss


def test_get_amount_out_is_uniswap_v2_formula() -> None:
    a, x, y = 3 * E18, 1234 * E18, 4_321_000 * E6
    assert get_amount_out(a, x, y) == (a * 997 * y) // (x * 1000 + a * 997)
    assert get_amount_out(0, x, y) == 0


@given(
    st.integers(1, 10**30),
    st.integers(10**6, 10**30),
    st.integers(10**6, 10**30),
    st.sampled_from([0, 500, 3000, 10000]),
)
def test_get_amount_in_inverts_get_amount_out(out_frac: int, x: int, y: int, fee: int) -> None:
    out = out_frac % (y - 1) + 1
    ain = get_amount_in(out, x, y, fee)
    assert get_amount_out(ain, x, y, fee) >= out
    assert get_amount_out(ain - 1, x, y, fee) <= out


def test_optimal_frontrun_textbook_anchor() -> None:
    """ANCHORS.md: x=1000 ETH, y=2M USDC, v=10 ETH, 1 % slippage -> a*≈5.07, profit≈0.070, loss≈0.099 ETH."""
    x, y, v = 1000 * E18, 2_000_000 * E6, 10 * E18
    min_out = get_amount_out(v, x, y) * 99 // 100
    plan = optimal_frontrun(x, y, v, min_out)
    assert plan is not None
    assert plan.amount_in / E18 == pytest.approx(5.07, abs=0.01)
    assert plan.attacker_profit / E18 == pytest.approx(0.070, abs=0.001)
    # Loss in USDC, valued at the pool's spot price (2000 USDC/ETH): ≈0.099 ETH.
    assert plan.victim_loss / E6 / 2000 == pytest.approx(0.099, abs=0.001)
    # Optimal = largest: one more wei of frontrun breaks the victim's limit.
    assert plan.victim_out >= min_out
    f = get_amount_out(plan.amount_in + 1, x, y)
    assert get_amount_out(v, x + plan.amount_in + 1, y - f) < min_out


def test_optimal_frontrun_none_when_victim_limit_already_broken() -> None:
    x, y, v = 1000 * E18, 2_000_000 * E6, 10 * E18
    assert optimal_frontrun(x, y, v, get_amount_out(v, x, y) + 1) is None


def test_victim_loss_from_reserves_matches_solver() -> None:
    swaps, expected = _textbook_sandwich(with_reserves=True)
    res = victim_loss(swaps, ["front", "victim", "back"])
    assert res.reason is None and res.method == "reserves"
    assert res.by_token == {USDC: expected}


def test_victim_loss_with_solved_reserves_trace_only() -> None:
    swaps, expected = _textbook_sandwich(with_reserves=False)
    res = victim_loss(swaps, ["front", "victim", "back"])
    assert res.reason is None and res.method == "solved"
    assert res.by_token is not None
    assert res.by_token[USDC] == pytest.approx(expected, rel=1e-6)


def test_solved_reserves_rejected_when_backrun_disagrees() -> None:
    swaps, _ = _textbook_sandwich(with_reserves=False)
    swaps[2] = replace(swaps[2], amount_out=swaps[2].amount_out * 9 // 10)
    res = victim_loss(swaps, ["front", "victim", "back"])
    assert res.by_token is None
    assert "backrun" in (res.reason or "")


def test_solve_reserves_recovers_pool() -> None:
    swaps, _ = _textbook_sandwich(with_reserves=False)
    x, y = solve_reserves(swaps[0], swaps[1], 3000) or (0, 0)
    assert x == pytest.approx(1000 * E18, rel=1e-6)
    assert y == pytest.approx(2_000_000 * E6, rel=1e-6)


def test_victim_loss_unknown_fee_is_reported() -> None:
    swaps, _ = _textbook_sandwich(with_reserves=True)
    forked = [replace(s, protocol="uniswap_v2_fork") for s in swaps]
    res = victim_loss(forked, ["front", "victim", "back"])
    assert res.by_token is None and "fee unknown" in (res.reason or "")


def _v3_window(liq_victim_delta: int = 0) -> tuple[list[Swap], int]:
    sqrt_p, liq, fee = 3543191142285914205922034323214 // 1000, 10**22, 3000  # token0 = USDC < WETH
    # token1 (WETH) in -> price rises.
    a, v = 5 * E18, 10 * E18
    f, s1 = v3_swap_within_range(sqrt_p, liq, a, False, fee)
    q, s2 = v3_swap_within_range(s1, liq, v, False, fee)
    cf, _ = v3_swap_within_range(sqrt_p, liq, v, False, fee)
    kw = {"protocol": "uniswap_v3", "fee_ppm": fee}
    swaps = [
        _swap(0, WETH, a, USDC, f, sqrt_price_x96_after=s1, liquidity_after=liq, **kw),
        _swap(1, WETH, v, USDC, q, sqrt_price_x96_after=s2, liquidity_after=liq + liq_victim_delta, **kw),
    ]
    return swaps, cf - q


def test_v3_victim_loss_single_range() -> None:
    swaps, expected = _v3_window()
    res = victim_loss(swaps, ["front", "victim"])
    assert res.reason is None and res.method == "v3_single_range"
    assert res.by_token is not None
    assert res.by_token[USDC] == pytest.approx(expected, rel=1e-6)
    assert expected > 0


def test_v3_tick_crossing_and_trace_only_give_reasons() -> None:
    swaps, _ = _v3_window(liq_victim_delta=10**20)
    assert "cross a tick" in (victim_loss(swaps, ["front", "victim"]).reason or "")
    bare = [replace(s, sqrt_price_x96_after=None, liquidity_after=None) for s in _v3_window()[0]]
    assert victim_loss(bare, ["front", "victim"]).reason == "v3 state not derivable from traces"


def test_v3_zero_for_one_round_trip() -> None:
    """The pre-front price rebuilt from the front's output is the real one (token0 in)."""
    sqrt_p, liq = 79228162514264337593543950336, 10**24  # price 1
    out, after = v3_swap_within_range(sqrt_p, liq, 10**21, True, 500)
    assert after < sqrt_p
    rebuilt = after + out * Q96 // liq
    assert rebuilt == pytest.approx(sqrt_p, rel=1e-12)


def test_real_sandwich_12775690_counterfactual(block_names: list[str]) -> None:
    """Frontrun 0x91a3abe5…: replaying the four victims without it on the real pool.

    The replay with the decoded reserves must (a) explain every victim's real output from its
    real pre-trade state (checked inside ``victim_loss``) and (b) agree with reserves solved from
    the swaps alone, as in a trace-only decode without ``reserves_after``.
    """
    d = decoded_fixture("12775690")
    pool = "0xefb47fcfcad4f96c83d4ca676842fb03ef20a477"
    swaps = sorted((a for a in d.actions if isinstance(a, Swap) and a.pool == pool), key=lambda s: s.position)
    front = "0x91a3abe5f3b806426542252820ba0ab6d56c098fdef6864ecaf4d352f64217a0"
    back = "0xc300d1ff79d3901b58dc56489fc7d083a6c13d422bfc1425a0579379300c95a2"
    start = next(i for i, s in enumerate(swaps) if s.tx_hash == front)
    end = next(i for i, s in enumerate(swaps) if s.tx_hash == back)
    window = swaps[start : end + 1]
    roles = ["front" if s.tx_hash == front else "back" if s.tx_hash == back else "victim" for s in window]
    assert roles.count("victim") == 4
    res = victim_loss(window, roles)
    assert res.reason is None and res.by_token is not None
    token = window[1].token_out
    assert res.by_token[token] > 0
    assert all(cf > actual for _, actual, cf in res.victims)
    solved = victim_loss([replace(s, reserves_after=None) for s in window], roles)
    assert solved.by_token is not None
    assert solved.by_token[token] == pytest.approx(res.by_token[token], rel=1e-3)
