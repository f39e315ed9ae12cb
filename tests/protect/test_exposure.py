"""Price impact and sandwich exposure: the textbook anchor, exact V2 integer properties (hypothesis),
exact-output and multi-hop intents, the V3 single-range model, and USD only where priced."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mevgraph.decode.routers import SwapIntent
from mevgraph.pricing.amm import Q96, get_amount_out, optimal_frontrun
from mevgraph.protect.exposure import NotAssessable, V2Pool, V3Pool, assess, path_input, path_output

ETH, USD, BTC = "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20
E18, E6 = 10**18, 10**6


def exact_in(
    path: tuple[str, ...], amount_in: int | None, min_out: int, *, fees: tuple[int, ...] = ()
) -> SwapIntent:
    amm = "v3" if fees else "v2"
    return SwapIntent(None, amm, "t", path, fees, True, amount_in, min_out, None, None, None, None)


def exact_out(path: tuple[str, ...], amount_out: int, max_in: int) -> SwapIntent:
    return SwapIntent(None, "v2", "t", path, (), False, None, None, amount_out, max_in, None, None)


def pair(x: int, y: int, a: str = ETH, b: str = USD, fee: int = 3000, name: str = "0xpair") -> V2Pool:
    """A pair holding ``x`` of ``a`` and ``y`` of ``b`` (ordered as the pair orders them)."""
    return V2Pool(name, a, b, x, y, fee) if a < b else V2Pool(name, b, a, y, x, fee)


def victim_out(it: SwapIntent, pools: list[V2Pool], hop: int, front: int) -> int:
    return path_output(it, pools, it.amount_in or 0, (hop, front))[0]


# -- the anchor ------------------------------------------------------------------------------------------
def test_textbook_sandwich() -> None:
    """x = 1000 ETH, y = 2M USDC, a 10 ETH buy with 1 % slippage: a* ≈ 5.07 ETH, profit ≈ 0.070
    ETH (pricing/amm.py's anchor), the same integers as ``optimal_frontrun``."""
    x, y, v = 1000 * E18, 2_000_000 * E6, 10 * E18
    min_out = get_amount_out(v, x, y) * 99 // 100
    e = assess(
        exact_in((ETH, USD), v, min_out),
        [pair(x, y)],
        usd_per_unit=lambda t: 2000 / E18 if t == ETH else None,
    )
    plan = optimal_frontrun(x, y, v, min_out)
    assert plan is not None
    assert (e.max_frontrun, e.attacker_profit) == (plan.amount_in, plan.attacker_profit)
    assert e.victim_loss == plan.victim_loss and e.expected == plan.victim_out_without_front
    assert 5.07 < e.max_frontrun / E18 < 5.08 and 0.0700 < e.attacker_profit / E18 < 0.0703
    assert e.slippage_bps == 100.0 and 98 < e.price_impact_bps < 100
    assert e.profit_usd == pytest.approx(140.3, abs=0.1) and e.usd_reason is None
    assert e.model == "v2_exact" and e.exposed and not e.capped


# -- exact V2 properties -------------------------------------------------------------------------------
reserves = st.integers(10**3, 10**30)


@settings(max_examples=300, deadline=None)
@given(
    x=reserves,
    y=reserves,
    frac=st.integers(1, 10_000),
    slip=st.integers(0, 5_000),
    fee=st.sampled_from([0, 3000, 2500]),
)
def test_max_frontrun_is_the_victims_exact_limit(x: int, y: int, frac: int, slip: int, fee: int) -> None:
    v = max(1, x * frac // 100_000)
    expected = get_amount_out(v, x, y, fee)
    assume(expected > 0)
    it = exact_in((ETH, USD), v, expected * (10_000 - slip) // 10_000)
    pools = [pair(x, y, fee=fee)]
    e = assess(it, pools)
    assert it.amount_out_min is not None
    assert victim_out(it, pools, 0, e.max_frontrun) >= it.amount_out_min
    if not e.capped:
        assert victim_out(it, pools, 0, e.max_frontrun + 1) < it.amount_out_min
    assert e.attacker_profit >= 0 and e.victim_loss >= 0
    assert e.expected == expected


@settings(max_examples=200, deadline=None)
@given(x=reserves, y=reserves, frac=st.integers(1, 10_000))
def test_no_exposure_without_slippage_tolerance(x: int, y: int, frac: int) -> None:
    v = max(1, x * frac // 100_000)
    expected = get_amount_out(v, x, y)
    assume(expected > 0)
    e = assess(exact_in((ETH, USD), v, expected), [pair(x, y)])
    assert e.slippage_bps == 0.0
    assert e.attacker_profit == 0 and e.victim_loss == 0 and not e.exposed


@settings(max_examples=200, deadline=None)
@given(x=reserves, y=reserves, frac=st.integers(1, 5_000), slip=st.integers(1, 2_000))
def test_exact_output_limit_is_exact(x: int, y: int, frac: int, slip: int) -> None:
    out = max(1, y * frac // 100_000)
    need = path_input(exact_out((ETH, USD), out, 0), [pair(x, y)], out)[0]
    assume(need is not None)
    assert need is not None
    it = exact_out((ETH, USD), out, need * (10_000 + slip) // 10_000)
    pools = [pair(x, y)]
    e = assess(it, pools)
    assert e.expected == need
    worst = path_input(it, pools, out, (0, e.max_frontrun))[0]
    assert worst is not None and worst <= (it.amount_in_max or 0)
    if not e.capped:
        over = path_input(it, pools, out, (0, e.max_frontrun + 1))[0]
        assert over is None or over > (it.amount_in_max or 0)


@settings(max_examples=100, deadline=None)
@given(frac=st.integers(10, 5_000), slip=st.integers(100, 1_000))
def test_multi_hop_targets_the_most_profitable_hop(frac: int, slip: int) -> None:
    """ETH -> USD on a deep pair, USD -> BTC on a shallow one: with 1-10 % tolerance the shallow
    hop pays more (the deep one needs a larger frontrun, hence more fees, for the same move)."""
    deep = pair(10_000 * E18, 20_000_000 * E6, name="0xdeep")
    shallow = pair(2_000_000 * E6, 50 * 10**8, USD, BTC, name="0xshallow")
    v = 10_000 * E18 * frac // 1_000_000
    expected = path_output(exact_in((ETH, USD, BTC), v, 0), [deep, shallow], v)[0]
    it = exact_in((ETH, USD, BTC), v, expected * (10_000 - slip) // 10_000)
    e = assess(it, [deep, shallow])
    assert e.pools == ("0xdeep", "0xshallow")
    if frac >= 1_000:  # >= 10 ETH: a sandwich pays on the shallow hop (small ones pay nowhere)
        assert e.exposed and e.target_hop == 1 and e.profit_token == USD
    k = e.target_hop
    assert victim_out(it, [deep, shallow], k, e.max_frontrun) >= (it.amount_out_min or 0)
    assert victim_out(it, [deep, shallow], k, e.max_frontrun + 1) < (it.amount_out_min or 0)


def test_a_victim_that_already_fails_has_no_exposure() -> None:
    x, y, v = 1000 * E18, 2_000_000 * E6, E18
    e = assess(exact_in((ETH, USD), v, get_amount_out(v, x, y) * 101 // 100), [pair(x, y)])
    assert e.slippage_bps is not None and e.slippage_bps < 0
    assert (e.max_frontrun, e.attacker_profit) == (0, 0)


def test_no_limit_is_capped_at_the_pool_depth() -> None:
    x, y = 1000 * E18, 2_000_000 * E6
    e = assess(exact_in((ETH, USD), 10 * E18, 0), [pair(x, y)])
    assert e.capped and e.max_frontrun == x and e.attacker_profit > 0
    e2 = assess(exact_in((ETH, USD), 10 * E18, 0), [pair(x, y)], max_frontrun=E18)
    assert e2.capped and e2.max_frontrun == E18


# -- V3 single range ------------------------------------------------------------------------------------
def test_v3_single_range_matches_an_equivalent_v2_pair() -> None:
    """With liquidity L = √(xy) and √P = √(y/x), one range behaves like a constant-product pair
    with the same reserves (up to rounding and the fee being taken on the input)."""
    x, y, v = 1000 * E18, 2_000_000 * E6, 10 * E18
    v3 = V3Pool("0xpool", ETH, USD, math.isqrt(y * Q96 * Q96 // x), math.isqrt(x * y), 3000)
    expected = get_amount_out(v, x, y)
    it = exact_in((ETH, USD), v, expected * 99 // 100, fees=(3000,))
    e3, e2 = assess(it, [v3]), assess(it, [pair(x, y)])
    assert e3.model == "v3_single_range"
    assert e3.expected == pytest.approx(e2.expected, rel=1e-6)
    assert e3.max_frontrun == pytest.approx(e2.max_frontrun, rel=2e-3)
    assert e3.attacker_profit == pytest.approx(e2.attacker_profit, rel=2e-2)
    assert path_output(it, [v3], v, (0, e3.max_frontrun))[0] >= (it.amount_out_min or 0)
    # exact output on the same range: the inverse of the exact-input swap
    need, _ = v3.swap_for(ETH, expected)
    assert need is not None and v3.swap(ETH, need)[0] >= expected


# -- refusals and USD ----------------------------------------------------------------------------------
def test_not_assessable() -> None:
    pools = [pair(10**20, 10**20)]
    with pytest.raises(NotAssessable, match="run time"):
        assess(exact_in((ETH, USD), None, 1), pools)
    with pytest.raises(NotAssessable, match="does not trade"):
        assess(exact_in((ETH, BTC), 10, 1), pools)
    with pytest.raises(NotAssessable, match="hops"):
        assess(exact_in((ETH, USD, BTC), 10, 1), pools)


def test_usd_only_where_priced() -> None:
    x, y, v = 1000 * E18, 2_000_000 * E6, 10 * E18
    it = exact_in((ETH, USD), v, get_amount_out(v, x, y) * 98 // 100)
    e = assess(it, [pair(x, y)])
    assert e.attacker_profit > 0 and e.profit_usd is None and e.usd_reason == f"no USD price for {ETH}"
    fot = SwapIntent(
        None, "v2", "t", (ETH, USD), (), True, v, 1, None, None, None, None, fee_on_transfer=True
    )
    assert assess(fot, [pair(x, y)]).notes
