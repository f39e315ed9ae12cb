"""AMM math for counterfactuals: what a sandwich victim would have received without the frontrun.

Constant product (Uniswap V2 and forks)
    ``getAmountOut(a, x, y) = floor(a·(1e6−f)·y / (x·1e6 + a·(1e6−f)))`` with the pool fee ``f`` in
    millionths (Uniswap V2 and Sushiswap: 3000, i.e. the contract's 997/1000). This is the exact
    integer formula of ``UniswapV2Library.getAmountOut``; ``997/1000 == 997000/1000000`` so the
    ppm form gives the same integers.

Victim loss (``victim_loss``)
    Given every swap on one pool from the first frontrun to the last backrun, in execution order,
    the pool state before the first frontrun is rebuilt and every non-frontrun swap up to the
    last victim is replayed on it; a victim's loss is ``counterfactual_out − actual_out`` in its
    out-token. The state comes from, in order of preference:

    1. ``Swap.reserves_after`` (decoded from ``Sync`` logs or ``getReserves``) minus the
       frontrun's own deltas;
    2. when reserves are unknown (trace-only blocks: ``swap()`` returns nothing), the reserves are
       *solved* from the frontrun and the first victim on the same pool: with ``g = 1 − f``,
       front input ``a``/output ``p`` and victim input ``v``/output ``q``,
       ``x = q·a·(a + g·v) / (v·p − a·q)`` and ``y = p·(x + g·a) / (g·a)``. The solution is
       accepted only if it reproduces the backrun's output (0.1 % tolerance), which is an
       independent third equation -- a wrong fee or an interleaved trade fails this check;
    3. Uniswap V3, when ``sqrt_price_x96_after``/``liquidity_after`` are known (from ``Swap``
       logs) and every swap in the window reports the same liquidity (one tick range): the
       price before the frontrun follows from the frontrun's output
       (``Δ√P = out·Q96/L`` for token0→token1, ``Δ(1/√P) = out/(L·Q96)`` the other way). The
       counterfactual victim trades from a better price and stops short of the real end price,
       so its path lies inside the range the real swaps crossed with that liquidity.

    Anything else gives ``None`` with a reason ("v3 state not derivable from traces",
    "pool state unknown", ...), never a guess.

Optimal frontrun (``optimal_frontrun``)
    The largest frontrun ``a`` that still leaves the victim at least ``min_out`` (its slippage
    limit), by exact integer search on the monotone victim output. Textbook check (ANCHORS.md):
    ``x = 1000 ETH, y = 2M USDC, v = 10 ETH`` with 1 % slippage gives ``a* ≈ 5.07 ETH``, attacker
    profit ≈ 0.070 ETH and victim loss ≈ 0.099 ETH.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from mevgraph.core.actions import Swap

__all__ = [
    "DEFAULT_FEE_PPM",
    "Q96",
    "FrontrunPlan",
    "VictimLoss",
    "get_amount_out",
    "get_amount_in",
    "solve_reserves",
    "v3_swap_within_range",
    "optimal_frontrun",
    "victim_loss",
]

PPM = 1_000_000
Q96 = 1 << 96

DEFAULT_FEE_PPM: dict[str, int] = {"uniswap_v2": 3000, "sushiswap": 3000}
"""Fee of constant-product protocols whose fee is fixed by the protocol itself."""

_V3_PROTOCOLS = frozenset({"uniswap_v3", "sushiswap_v3", "pancakeswap_v3"})


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_ppm: int = 3000) -> int:
    """Exact ``UniswapV2Library.getAmountOut`` with a fee in millionths.

    >>> get_amount_out(10**18, 100 * 10**18, 200_000 * 10**6)
    1974316068
    """
    if amount_in <= 0 or reserve_in <= 0 or reserve_out <= 0:
        return 0
    a = amount_in * (PPM - fee_ppm)
    return (a * reserve_out) // (reserve_in * PPM + a)


def get_amount_in(amount_out: int, reserve_in: int, reserve_out: int, fee_ppm: int = 3000) -> int:
    """Exact ``UniswapV2Library.getAmountIn``: the input needed for ``amount_out``."""
    if amount_out <= 0:
        return 0
    if amount_out >= reserve_out:
        raise ValueError("amount_out exceeds the reserve")
    return (reserve_in * amount_out * PPM) // ((reserve_out - amount_out) * (PPM - fee_ppm)) + 1


def _close(a: int, b: int) -> bool:
    """Equal within 0.1 % (rounding of exact-output swaps, solved reserves)."""
    d = abs(a - b)
    return d <= 2 or d * 1000 <= max(abs(a), abs(b))


def solve_reserves(front: Swap, victim: Swap, fee_ppm: int) -> tuple[int, int] | None:
    """Reserves ``(x, y)`` (front's in-token, out-token) before ``front``, solved from two swaps.

    ``front`` and ``victim`` must be consecutive swaps on the same pool in the same direction.
    Returns None when the system has no positive solution.
    """
    a, p, v, q = front.amount_in, front.amount_out, victim.amount_in, victim.amount_out
    g = Fraction(PPM - fee_ppm, PPM)
    den = v * p - a * q
    if min(a, p, v, q) <= 0 or den <= 0:
        return None
    x = Fraction(q * a) * (a + g * v) / den
    y = p * (x + g * a) / (g * a)
    if x <= 0 or y <= p:
        return None
    return round(x), round(y)


def v3_swap_within_range(
    sqrt_price_x96: int, liquidity: int, amount_in: int, zero_for_one: bool, fee_ppm: int
) -> tuple[int, int]:
    """Output and new ``sqrtPriceX96`` of a V3 exact-input swap that stays in one tick range."""
    ain = amount_in * (PPM - fee_ppm) // PPM
    if zero_for_one:
        num = liquidity * Q96
        new = -(-num * sqrt_price_x96 // (num + ain * sqrt_price_x96))  # rounded up, as the pool does
        out = liquidity * (sqrt_price_x96 - new) // Q96
    else:
        new = sqrt_price_x96 + ain * Q96 // liquidity
        out = liquidity * Q96 * (new - sqrt_price_x96) // (new * sqrt_price_x96)
    return out, new


@dataclass(frozen=True, slots=True)
class FrontrunPlan:
    """The optimal frontrun against one victim on a constant-product pool (all raw ints)."""

    amount_in: int
    front_out: int
    victim_out: int
    victim_out_without_front: int
    back_out: int

    @property
    def attacker_profit(self) -> int:
        """Backrun output minus frontrun input, in the in-token (before gas)."""
        return self.back_out - self.amount_in

    @property
    def victim_loss(self) -> int:
        """Out-token the victim lost to the frontrun."""
        return self.victim_out_without_front - self.victim_out


def _victim_out_after(a: int, x: int, y: int, v: int, fee_ppm: int) -> tuple[int, int]:
    f = get_amount_out(a, x, y, fee_ppm)
    return f, get_amount_out(v, x + a, y - f, fee_ppm)


def optimal_frontrun(x: int, y: int, v: int, min_out: int, fee_ppm: int = 3000) -> FrontrunPlan | None:
    """Largest frontrun keeping the victim's output ``>= min_out``; None if even 0 breaks it.

    ``x``/``y`` are the pool reserves of the victim's in-/out-token, ``v`` the victim's input.
    """
    base = get_amount_out(v, x, y, fee_ppm)
    if base < min_out:
        return None
    lo, hi = 0, max(1, v)
    while _victim_out_after(hi, x, y, v, fee_ppm)[1] >= min_out:
        lo, hi = hi, hi * 2
        if hi > x * 10**6:  # the victim tolerates any frontrun (min_out ~ 0)
            break
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _victim_out_after(mid, x, y, v, fee_ppm)[1] >= min_out:
            lo = mid
        else:
            hi = mid
    front_out, victim_out = _victim_out_after(lo, x, y, v, fee_ppm)
    back_out = get_amount_out(front_out, y - front_out - victim_out, x + lo + v, fee_ppm)
    return FrontrunPlan(lo, front_out, victim_out, base, back_out)


@dataclass(frozen=True, slots=True)
class VictimLoss:
    """Per-victim counterfactuals on one pool; ``by_token`` is None when not derivable."""

    by_token: dict[str, int] | None
    reason: str | None = None
    method: str | None = None
    victims: tuple[tuple[int, int, int], ...] = field(default=())
    """(window index, actual_out, counterfactual_out) per victim swap."""


def _fee(s: Swap) -> int | None:
    return s.fee_ppm if s.fee_ppm is not None else DEFAULT_FEE_PPM.get(s.protocol)


def victim_loss(window: Sequence[Swap], roles: Sequence[str]) -> VictimLoss:
    """Victim losses on one pool.

    ``window`` = every swap on the pool from the first frontrun to the last backrun, in execution
    order; ``roles[i]`` is ``"front"``, ``"victim"``, ``"back"`` or ``"other"``.
    """
    if not window or roles[0] != "front" or "victim" not in roles:
        return VictimLoss(None, "no frontrun before the victims on this pool")
    first = window[0]
    if first.protocol in _V3_PROTOCOLS or first.sqrt_price_x96_after is not None:
        return _v3_loss(window, roles)
    fee = _fee(first)
    if fee is None:
        return VictimLoss(None, f"pool fee unknown for protocol {first.protocol}")
    start: dict[str, int]
    if first.reserves_after is not None:
        rin, rout = first.reserves_after
        start = {first.token_in: rin - first.amount_in, first.token_out: rout + first.amount_out}
        method = "reserves"
    else:
        start_or_reason = _solved_start(window, roles, fee)
        if isinstance(start_or_reason, str):
            return VictimLoss(None, start_or_reason)
        start, method = start_or_reason, "solved"
    return _v2_replay(window, roles, start, fee, method)


def _solved_start(window: Sequence[Swap], roles: Sequence[str], fee: int) -> dict[str, int] | str:
    if len(window) < 3 or roles[1] != "victim" or roles.count("front") != 1:
        return "pool state unknown (no reserves; cannot solve with interleaved or multiple frontruns)"
    front, victim = window[0], window[1]
    if (victim.token_in, victim.token_out) != (front.token_in, front.token_out):
        return "pool state unknown (victim trades the other way)"
    xy = solve_reserves(front, victim, fee)
    if xy is None:
        return "pool state unknown (swaps inconsistent with constant product)"
    x, y = xy
    # Independent check: the state after front+victim must reproduce the first backrun.
    state = {
        front.token_in: x + front.amount_in + victim.amount_in,
        front.token_out: y - front.amount_out - victim.amount_out,
    }
    for s, r in zip(window[2:], roles[2:], strict=True):
        if r == "back":
            if s.token_in not in state or s.token_out not in state:
                return "pool state unknown (backrun on other tokens)"
            pred = get_amount_out(s.amount_in, state[s.token_in], state[s.token_out], fee)
            if not _close(pred, s.amount_out):
                return "pool state unknown (solved reserves do not reproduce the backrun)"
            return {front.token_in: x, front.token_out: y}
        if r != "victim":
            break
        state[s.token_in] += s.amount_in
        state[s.token_out] -= s.amount_out
    return "pool state unknown (no backrun to check solved reserves)"


def _v2_replay(
    window: Sequence[Swap], roles: Sequence[str], start: dict[str, int], fee: int, method: str
) -> VictimLoss:
    state = dict(start)
    last_victim = max(i for i, r in enumerate(roles) if r == "victim")
    loss: dict[str, int] = {}
    victims: list[tuple[int, int, int]] = []
    for i in range(last_victim + 1):
        s, r = window[i], roles[i]
        if r == "front":
            continue
        if s.token_in not in state or s.token_out not in state:
            return VictimLoss(None, "pool state unknown (swap on tokens outside the pair)")
        if r == "victim" and s.reserves_after is not None:
            # The real pre-victim state must explain the real output, else the model is wrong here.
            b_in, b_out = s.reserves_after[0] - s.amount_in, s.reserves_after[1] + s.amount_out
            if not _close(get_amount_out(s.amount_in, b_in, b_out, fee), s.amount_out):
                return VictimLoss(
                    None, "AMM replay does not match the observed swap (fee-on-transfer token?)"
                )
        cf = get_amount_out(s.amount_in, state[s.token_in], state[s.token_out], fee)
        state[s.token_in] += s.amount_in
        state[s.token_out] -= cf
        if r == "victim":
            victims.append((i, s.amount_out, cf))
            if cf != s.amount_out:
                loss[s.token_out] = loss.get(s.token_out, 0) + cf - s.amount_out
    return VictimLoss({t: v for t, v in loss.items() if v}, None, method, tuple(victims))


def _v3_loss(window: Sequence[Swap], roles: Sequence[str]) -> VictimLoss:
    last_victim = max(i for i, r in enumerate(roles) if r == "victim")
    part = window[: last_victim + 1]
    if any(s.sqrt_price_x96_after is None or s.liquidity_after is None for s in part):
        return VictimLoss(None, "v3 state not derivable from traces")
    liq = part[0].liquidity_after
    if liq is None or liq <= 0 or any(s.liquidity_after != liq for s in part):
        return VictimLoss(None, "v3 swaps cross a tick: state not derivable")
    fee = part[0].fee_ppm
    if fee is None:
        return VictimLoss(None, "v3 pool fee unknown")
    first = part[0]
    sa = first.sqrt_price_x96_after
    assert sa is not None
    if first.token_in < first.token_out:  # token0 -> token1: price falls by out·Q96/L
        sqrt_p = sa + first.amount_out * Q96 // liq
    else:
        sqrt_p = liq * Q96 * sa // (liq * Q96 + first.amount_out * sa)
    loss: dict[str, int] = {}
    victims: list[tuple[int, int, int]] = []
    for i, (s, r) in enumerate(zip(part, roles, strict=False)):
        if r == "front":
            continue
        cf, sqrt_p = v3_swap_within_range(sqrt_p, liq, s.amount_in, s.token_in < s.token_out, fee)
        if r == "victim":
            victims.append((i, s.amount_out, cf))
            if cf != s.amount_out:
                loss[s.token_out] = loss.get(s.token_out, 0) + cf - s.amount_out
    return VictimLoss({t: v for t, v in loss.items() if v}, None, "v3_single_range", tuple(victims))
