"""Price impact and sandwich exposure of a pending swap, from the pools' current state.

Given a :class:`~mevgraph.decode.routers.SwapIntent` and the state of the pool of each of its
hops, :func:`assess` answers what a trader (or a protect service, or a mempool monitor raising an
alert) wants to know before the swap lands:

``expected``
    the output at the current state (exact input), or the input it will cost (exact output);
``price_impact_bps``
    how far the execution price is from the pools' mid price *after* the LP fee is taken out:
    ``1 − expected / ideal`` with ``ideal = amount_in · Π mid_i · Π (1 − fee_i)`` (exact input;
    for exact output ``expected / ideal − 1``). It is the part of the cost that grows with size;
``slippage_bps``
    the tolerance the trader's limit implies: ``(expected − amount_out_min) / expected`` (exact
    input) or ``(amount_in_max − expected) / expected`` (exact output). Negative: the limit
    already fails at the current state;
``max_frontrun`` and ``attacker_profit``
    the **sandwich exposure**. A frontrun of ``a`` on one hop, in the victim's direction, moves
    that pool; the victim still succeeds while its output stays ``>= amount_out_min`` (its input
    ``<= amount_in_max``). The victim's outcome is monotone in ``a``, so the largest ``a`` that
    still lets the victim through is found by exact integer bisection: at ``max_frontrun`` the
    victim succeeds and at ``max_frontrun + 1`` it reverts (unless the search hit the cap, see
    below). The attacker then sells what the frontrun bought back into the same pool after
    the victim; ``attacker_profit = back_out − a`` in the hop's input token, raw units, before
    gas -- and ``0`` when that round trip loses (a sandwich that cannot pay is no exposure) or
    when the victim loses nothing: on a tiny pool a frontrun too small to change the victim's
    integer output can still gain a unit or two from the pools' rounding, which the victim does
    not pay. So a victim with zero slippage tolerance has zero exposure, exactly.
    Every hop is tried and the most profitable one is reported (``target_hop``); profits in
    different tokens are compared at the pools' mid prices, in the intent's output token.

Pool models
    * Uniswap V2 and forks (:class:`V2Pool`): exact integer ``getAmountOut`` / ``getAmountIn``
      (:mod:`mevgraph.pricing.amm`), so the exposure is exact -- what the pair contract computes.
    * Uniswap V3 (:class:`V3Pool`): ``sqrtPriceX96`` and the in-range ``liquidity`` only, and the
      **single-range approximation**: liquidity is taken as constant over the whole swap, as if
      the current initialized tick range extended without bound. That is exact while the price
      stays inside the current range; a swap that crosses an initialized tick meets different
      liquidity and its real output differs (usually less, as ranges thin out away from the
      price). A tick walk would need every initialized tick's ``liquidityNet`` -- an RPC call per
      tick -- which a per-pending-transaction estimate cannot afford. Exposures computed with a
      V3 hop say so in ``model``.

Search cap
    A victim with no real limit (``amount_out_min`` ~ 0) tolerates any frontrun. The search stops
    at the frontrun pool's depth in the input token (the V2 reserve, or the V3 virtual reserve
    ``L·2^96/√P`` / ``L·√P/2^96``) unless the caller gives ``max_frontrun``; ``capped`` then says
    that the victim would tolerate more.

USD
    ``profit_usd`` only where ``usd_per_unit`` prices the profit token; otherwise ``None`` with
    ``usd_reason`` -- never 0 for unknown.

Fee-on-transfer tokens (the Router02 ``SupportingFeeOnTransferTokens`` calls) are assessed as if
they charged no transfer fee; ``notes`` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from mevgraph.decode.routers import SwapIntent
from mevgraph.pricing.amm import PPM, Q96, get_amount_in, get_amount_out, v3_swap_within_range

__all__ = [
    "V2Pool",
    "V3Pool",
    "PoolState",
    "Exposure",
    "NotAssessable",
    "assess",
    "path_output",
    "path_input",
]


class NotAssessable(ValueError):
    """The intent cannot be assessed (the message says why)."""


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, slots=True)
class V2Pool:
    """A constant-product pair at one state (``token0 < token1``, as the pair orders them)."""

    address: str
    token0: str
    token1: str
    reserve0: int
    reserve1: int
    fee_ppm: int = 3000

    def _io(self, token_in: str) -> tuple[int, int]:
        if token_in == self.token0:
            return self.reserve0, self.reserve1
        if token_in == self.token1:
            return self.reserve1, self.reserve0
        raise NotAssessable(f"token {token_in} is not in pair {self.address}")

    def _after(self, token_in: str, amount_in: int, amount_out: int) -> V2Pool:
        if token_in == self.token0:
            r0, r1 = self.reserve0 + amount_in, self.reserve1 - amount_out
        else:
            r0, r1 = self.reserve0 - amount_out, self.reserve1 + amount_in
        return V2Pool(self.address, self.token0, self.token1, r0, r1, self.fee_ppm)

    def swap(self, token_in: str, amount_in: int) -> tuple[int, V2Pool]:
        """Output of an exact-input swap and the state after it."""
        rin, rout = self._io(token_in)
        out = get_amount_out(amount_in, rin, rout, self.fee_ppm)
        return out, self._after(token_in, amount_in, out)

    def swap_for(self, token_in: str, amount_out: int) -> tuple[int | None, V2Pool]:
        """Input an exact-output swap needs (None: more than the pool holds) and the state after."""
        rin, rout = self._io(token_in)
        if amount_out >= rout:
            return None, self
        need = get_amount_in(amount_out, rin, rout, self.fee_ppm)
        return need, self._after(token_in, need, amount_out)

    def mid(self, token_in: str) -> Fraction:
        """Mid price: raw ``token_out`` per raw ``token_in``, before the fee."""
        rin, rout = self._io(token_in)
        if rin <= 0:
            raise NotAssessable(f"pair {self.address} is empty")
        return Fraction(rout, rin)

    def depth(self, token_in: str) -> int:
        return self._io(token_in)[0]


@dataclass(frozen=True, slots=True)
class V3Pool:
    """A Uniswap V3 pool at one state: ``sqrtPriceX96`` and in-range ``liquidity`` (single-range
    approximation, see the module doc)."""

    address: str
    token0: str
    token1: str
    sqrt_price_x96: int
    liquidity: int
    fee_ppm: int

    def _zero_for_one(self, token_in: str) -> bool:
        if token_in == self.token0:
            return True
        if token_in == self.token1:
            return False
        raise NotAssessable(f"token {token_in} is not in pool {self.address}")

    def _at(self, sqrt_price: int) -> V3Pool:
        return V3Pool(self.address, self.token0, self.token1, sqrt_price, self.liquidity, self.fee_ppm)

    def swap(self, token_in: str, amount_in: int) -> tuple[int, V3Pool]:
        z = self._zero_for_one(token_in)
        if amount_in <= 0 or self.liquidity <= 0:
            return 0, self
        out, new = v3_swap_within_range(self.sqrt_price_x96, self.liquidity, amount_in, z, self.fee_ppm)
        return out, self._at(new)

    def swap_for(self, token_in: str, amount_out: int) -> tuple[int | None, V3Pool]:
        z = self._zero_for_one(token_in)
        if amount_out <= 0:
            return 0, self
        L, s = self.liquidity, self.sqrt_price_x96
        if L <= 0:
            return None, self
        if z:  # token0 in, token1 out: the price falls by out·Q96/L
            new = s - _ceil_div(amount_out * Q96, L)
            if new <= 0:
                return None, self
            net = _ceil_div(L * Q96 * (s - new), new * s)
        else:  # token1 in, token0 out
            den = L * Q96 - amount_out * s
            if den <= 0:
                return None, self
            new = _ceil_div(L * Q96 * s, den)
            net = _ceil_div(L * (new - s), Q96)
        return _ceil_div(net * PPM, PPM - self.fee_ppm), self._at(new)

    def mid(self, token_in: str) -> Fraction:
        p = Fraction(self.sqrt_price_x96 * self.sqrt_price_x96, Q96 * Q96)  # token1 per token0
        if p == 0:
            raise NotAssessable(f"pool {self.address} has no price")
        return p if self._zero_for_one(token_in) else 1 / p

    def depth(self, token_in: str) -> int:
        if self.sqrt_price_x96 <= 0:
            return 0
        if self._zero_for_one(token_in):
            return self.liquidity * Q96 // self.sqrt_price_x96
        return self.liquidity * self.sqrt_price_x96 // Q96


PoolState = V2Pool | V3Pool


@dataclass(frozen=True, slots=True)
class Exposure:
    """What a pending swap risks at the current pool state (module doc for every field).

    Amounts are raw integers: ``expected`` in ``path[-1]`` (exact input) or ``path[0]`` (exact
    output), ``max_frontrun`` and ``attacker_profit`` in ``profit_token`` (the input token of
    ``target_hop``), ``victim_loss`` in the token the victim loses (its output for exact input,
    its input for exact output).
    """

    pools: tuple[str, ...]
    exact_in: bool
    expected: int
    price_impact_bps: float
    slippage_bps: float | None
    target_hop: int
    profit_token: str
    max_frontrun: int
    capped: bool
    attacker_profit: int
    victim_loss: int
    profit_usd: float | None
    usd_reason: str | None
    model: str
    notes: tuple[str, ...] = ()

    @property
    def exposed(self) -> bool:
        """A profitable sandwich exists at the current state."""
        return self.attacker_profit > 0


# -- the path ----------------------------------------------------------------------------------
Front = tuple[int, int]  # (hop index, frontrun amount in that hop's input token)


def _states(pools: Sequence[PoolState]) -> dict[str, PoolState]:
    return {p.address: p for p in pools}


def _front(
    intent: SwapIntent, pools: Sequence[PoolState], front: Front | None
) -> tuple[dict[str, PoolState], int]:
    """Pool states after the frontrun (if any), and what it bought."""
    st = _states(pools)
    if front is None:
        return st, 0
    k, a = front
    p = st[pools[k].address]
    got, st[p.address] = p.swap(intent.hops[k].token_in, a)
    return st, got


def path_output(
    intent: SwapIntent, pools: Sequence[PoolState], amount_in: int, front: Front | None = None
) -> tuple[int, dict[str, PoolState]]:
    """Output of ``amount_in`` along the intent's hops (after ``front``), and the states after."""
    st, _ = _front(intent, pools, front)
    amt = amount_in
    for hop, p0 in zip(intent.hops, pools, strict=True):
        amt, st[p0.address] = st[p0.address].swap(hop.token_in, amt)
    return amt, st


def path_input(
    intent: SwapIntent, pools: Sequence[PoolState], amount_out: int, front: Front | None = None
) -> tuple[int | None, dict[str, PoolState]]:
    """Input needed for ``amount_out`` along the hops (after ``front``); None if impossible.

    Hops are solved backwards, as the router does, each on its pool's state after the
    frontrun (a path that visits one pool twice is solved on that pool's state as left by
    the later hop -- a simplification for a case routers never produce)."""
    st, _ = _front(intent, pools, front)
    amt = amount_out
    for hop, p0 in reversed(list(zip(intent.hops, pools, strict=True))):
        need, st[p0.address] = st[p0.address].swap_for(hop.token_in, amt)
        if need is None:
            return None, st
        amt = need
    return amt, st


# -- assessment -------------------------------------------------------------------------------
def _check(intent: SwapIntent, pools: Sequence[PoolState]) -> None:
    hops = intent.hops
    if len(pools) != len(hops):
        raise NotAssessable(f"{len(hops)} hops but {len(pools)} pool states")
    for hop, p in zip(hops, pools, strict=True):
        if {hop.token_in, hop.token_out} != {p.token0, p.token1}:
            raise NotAssessable(f"pool {p.address} does not trade {hop.token_in}/{hop.token_out}")
    if intent.exact_in and intent.amount_in is None:
        raise NotAssessable("input amount set at run time (router balance)")
    if not intent.exact_in and (intent.amount_out is None or intent.amount_in_max is None):
        raise NotAssessable("output amount or input ceiling unknown")


def _ideal_rate(intent: SwapIntent, pools: Sequence[PoolState]) -> Fraction:
    """Output per input at mid prices, fees removed."""
    r = Fraction(1)
    for hop, p in zip(intent.hops, pools, strict=True):
        r *= p.mid(hop.token_in) * Fraction(PPM - p.fee_ppm, PPM)
    return r


def _bps(x: Fraction) -> float:
    return round(float(x * 10_000), 2)


def _victim_ok(intent: SwapIntent, pools: Sequence[PoolState], front: Front) -> bool:
    if intent.exact_in:
        assert intent.amount_in is not None and intent.amount_out_min is not None
        return path_output(intent, pools, intent.amount_in, front)[0] >= intent.amount_out_min
    assert intent.amount_out is not None and intent.amount_in_max is not None
    need = path_input(intent, pools, intent.amount_out, front)[0]
    return need is not None and need <= intent.amount_in_max


def _max_front(intent: SwapIntent, pools: Sequence[PoolState], k: int, cap: int) -> tuple[int, bool]:
    """Largest frontrun on hop ``k`` (<= ``cap``) that the victim survives, and whether capped."""
    if cap <= 0:
        return 0, False
    if _victim_ok(intent, pools, (k, cap)):
        return cap, True
    lo, hi = 0, cap  # ok(lo), not ok(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _victim_ok(intent, pools, (k, mid)):
            lo = mid
        else:
            hi = mid
    return lo, False


def _back_profit(intent: SwapIntent, pools: Sequence[PoolState], k: int, a: int) -> int:
    """Attacker's round trip on hop ``k``: back-run output minus frontrun input."""
    _, got = _front(intent, pools, (k, a))
    if intent.exact_in:
        assert intent.amount_in is not None
        _, after = path_output(intent, pools, intent.amount_in, (k, a))
    else:
        assert intent.amount_out is not None
        _, after = path_input(intent, pools, intent.amount_out, (k, a))
    hop = intent.hops[k]
    back, _ = after[pools[k].address].swap(hop.token_out, got)
    return back - a


@dataclass(frozen=True, slots=True)
class _Attack:
    hop: int
    front: int
    capped: bool
    profit: int  # in the hop's input token, >= 0
    loss: int  # the victim's, in its output token (exact input) or input token (exact output)


def _attack(
    intent: SwapIntent, pools: Sequence[PoolState], k: int, expected: int, max_frontrun: int | None
) -> _Attack:
    """The largest frontrun on hop ``k`` and what it yields."""
    hop = intent.hops[k]
    cap = max_frontrun if max_frontrun is not None else pools[k].depth(hop.token_in)
    a, capped = _max_front(intent, pools, k, cap)
    if a == 0:
        return _Attack(k, 0, capped, 0, 0)
    if intent.exact_in:
        assert intent.amount_in is not None
        loss = expected - path_output(intent, pools, intent.amount_in, (k, a))[0]
    else:
        assert intent.amount_out is not None
        worse = path_input(intent, pools, intent.amount_out, (k, a))[0]
        loss = worse - expected if worse is not None else 0
    # A round trip that took nothing from the victim gains only the pools' rounding: no exposure.
    profit = max(0, _back_profit(intent, pools, k, a)) if loss > 0 else 0
    return _Attack(k, a, capped, profit, loss)


def _in_out_token(intent: SwapIntent, pools: Sequence[PoolState], k: int) -> Fraction:
    """Mid-price value of one unit of hop ``k``'s input token in the intent's output token."""
    r = Fraction(1)
    for hop, p in list(zip(intent.hops, pools, strict=True))[k:]:
        r *= p.mid(hop.token_in)
    return r


def assess(
    intent: SwapIntent,
    pools: Sequence[PoolState],
    *,
    usd_per_unit: Callable[[str], float | None] | None = None,
    max_frontrun: int | None = None,
) -> Exposure:
    """Exposure of ``intent`` given one pool state per hop (``pools[i]`` trades ``hops[i]``).

    Args:
        usd_per_unit: USD per raw unit of a token (None: unpriced).
        max_frontrun: cap of the frontrun search per hop (default: the pool's depth in the
            frontrun's input token).

    Raises:
        NotAssessable: the pools do not match the hops, or an amount is left to run time.
    """
    _check(intent, pools)
    rate = _ideal_rate(intent, pools)
    if intent.exact_in:
        assert intent.amount_in is not None and intent.amount_out_min is not None
        expected = path_output(intent, pools, intent.amount_in)[0]
        ideal = intent.amount_in * rate
        impact = _bps(1 - expected / ideal) if ideal > 0 else 0.0
        slip = _bps(Fraction(expected - intent.amount_out_min, expected)) if expected > 0 else None
    else:
        assert intent.amount_out is not None and intent.amount_in_max is not None
        need = path_input(intent, pools, intent.amount_out)[0]
        if need is None:
            raise NotAssessable("the pools cannot pay the requested output")
        expected = need
        ideal = intent.amount_out / rate if rate > 0 else Fraction(0)
        impact = _bps(expected / ideal - 1) if ideal > 0 else 0.0
        slip = _bps(Fraction(intent.amount_in_max - expected, expected)) if expected > 0 else None

    cands = [_attack(intent, pools, k, expected, max_frontrun) for k in range(len(pools))]
    if not _victim_ok(intent, pools, (0, 0)):
        cands = [_Attack(0, 0, False, 0, 0)]
    # Hops' profits are in different tokens: compare them at mid prices, in the output token.
    best = max(cands, key=lambda c: (c.profit * _in_out_token(intent, pools, c.hop), -c.hop))
    k, profit = best.hop, best.profit
    token = intent.hops[k].token_in
    usd, reason = _usd(token, profit, usd_per_unit)
    v3 = any(isinstance(p, V3Pool) for p in pools)
    notes = (
        ("fee-on-transfer call assessed as if the token charged no transfer fee",)
        if intent.fee_on_transfer
        else ()
    )
    return Exposure(
        pools=tuple(p.address for p in pools),
        exact_in=intent.exact_in,
        expected=expected,
        price_impact_bps=impact,
        slippage_bps=slip,
        target_hop=k,
        profit_token=token,
        max_frontrun=best.front,
        capped=best.capped,
        attacker_profit=profit,
        victim_loss=best.loss,
        profit_usd=usd,
        usd_reason=reason,
        model="v3_single_range" if v3 else "v2_exact",
        notes=notes,
    )


def _usd(
    token: str, amount: int, usd_per_unit: Callable[[str], float | None] | None
) -> tuple[float | None, str | None]:
    if amount == 0:
        return 0.0, None  # nothing to price: zero profit is known, not unknown
    price = usd_per_unit(token) if usd_per_unit is not None else None
    if price is None:
        return None, f"no USD price for {token}"
    return amount * price, None
