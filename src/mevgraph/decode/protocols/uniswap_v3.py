"""Uniswap V3 pools (and forks with the same pool interface): swaps and concentrated liquidity.

**Swaps from traces** -- ``swap(address recipient, bool zeroForOne, int256 amountSpecified,
uint160 sqrtPriceLimitX96, bytes data)`` returns ``(int256 amount0, int256 amount1)``, the pool's
signed balance deltas (positive = received). The pool first ``transfer``\\s the out-token to the
recipient, then reads ``balanceOf(pool)`` of the in-token, calls back ``uniswapV3SwapCallback``
and reads the balance again. So: token_out = target of the ``transfer`` child, token_in = target
of the ``balanceOf`` children, amounts = the returned deltas (exact, no transfer matching needed). A swap frame that reverted
(decoded "as attempted") has no output: its amounts are then the ``transfer`` it made and what
its callback paid into the pool.

**Pool identity** -- the CREATE2 address is recomputed from the canonical factory for each fee
tier (:func:`mevgraph.decode.pools.identify_v3`): a match gives ``"uniswap_v3"`` and ``fee_ppm``;
anything else (a fork or a pool-shaped contract) is ``"uniswap_v3_fork"`` with no fee.

**Liquidity** -- ``mint(recipient, tickLower, tickUpper, amount, data)`` returns the token amounts
paid in; ``burn(tickLower, tickUpper, amount)`` the amounts credited to the position (owned by
``msg.sender``); ``collect(recipient, tickLower, tickUpper, amount0Requested, amount1Requested)``
the amounts sent out. The ``provider`` is the position owner as the pool sees it: the ``recipient``
of ``mint``, the caller of ``burn``/``collect`` -- for NonfungiblePositionManager positions that is
the manager contract, which is what JIT detection compares. ``burn`` with zero liquidity only
refreshes fees ("poke") and yields nothing. A pool's tokens (token0 < token1 by address) come
from the frames that touch them; ``burn`` touches none, so it uses tokens learnt from the pool's
other frames in the block or transaction.

**From logs** -- ``Swap(sender, recipient, amount0, amount1, sqrtPriceX96, liquidity, tick)``
also gives the state after the swap; ``Mint``/``Burn``/``Collect`` mirror the calls. Tokens come
from the transaction's ERC20 ``Transfer`` events into/out of the pool (or the pool-token cache).
"""

from __future__ import annotations

from mevgraph.core.actions import Action, ActionKind, LiquidityChange, Swap
from mevgraph.core.types import Address
from mevgraph.decode.abi import addr_word, int_word, topic_addr, word
from mevgraph.decode.context import LogContext, TraceContext
from mevgraph.decode.pools import (
    SEL_BALANCE_OF,
    SEL_TRANSFER,
    frame_token_transfers,
    identify_v3,
    log_token_transfers,
    pool_tokens,
    remember_pool_tokens,
)
from mevgraph.decode.registry import REGISTRY

__all__ = [
    "swap_from_trace",
    "mint_from_trace",
    "burn_from_trace",
    "collect_from_trace",
    "swap_from_log",
    "mint_from_log",
    "burn_from_log",
    "collect_from_log",
    "SWAP_TOPIC",
]

SWAP_TOPIC = "0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67"
_POOL_SELECTORS = frozenset(
    {
        "0x128acb08",  # swap
        "0x3c8a7d8d",  # mint
        "0x4f1eb3d8",  # collect
        "0xa34123a7",  # burn
        "0x490e6cbc",  # flash
    }
)


def _signed(hex_word: str) -> int:
    v = int(hex_word, 16)
    return v - (1 << 256) if v >> 255 else v


def _slots(
    chain_id: int, pool: str, order: list[str], others: set[str], amount0: int, amount1: int
) -> tuple[str | None, str | None]:
    """(token0, token1) of ``pool``, ``None`` where unknown.

    ``order`` lists the tokens the frame/event itself touched, in order: the pool moves token0
    before token1 and skips a token whose amount is zero, so with one amount zero the single
    token is the other slot. ``others`` are tokens seen anywhere else on the pool; since V3 pools
    sort token0 < token1 by address, two distinct tokens fix both slots.
    """
    known = pool_tokens(chain_id, pool)
    if known is not None:
        return known
    t0: str | None = None
    t1: str | None = None
    distinct = list(dict.fromkeys(order))
    if amount0 and amount1 and len(distinct) == 2:
        t0, t1 = distinct
    elif amount0 and not amount1 and len(distinct) == 1:
        t0 = distinct[0]
    elif amount1 and not amount0 and len(distinct) == 1:
        t1 = distinct[0]
    allseen = others | set(distinct)
    if len(allseen) == 2:
        t0, t1 = sorted(allseen)
    if t0 is not None and t1 is not None:
        remember_pool_tokens(chain_id, pool, t0, t1)
    return t0, t1


def _frame_slots(ctx: TraceContext, i: int, amount0: int, amount1: int) -> tuple[str | None, str | None]:
    frames = ctx.frames
    pool = frames[i].to or ""
    order = [
        frames[c].to or ""
        for c in ctx.children[i]
        if frames[c].input[:10] in (SEL_TRANSFER, SEL_BALANCE_OF) and frames[c].to
    ]
    others: set[str] = set()
    if pool_tokens(ctx.chain_id, pool) is None:
        for j, fr in enumerate(frames):
            if j == i or fr.to != pool or fr.input[:10] not in _POOL_SELECTORS:
                continue
            for c in ctx.children[j]:
                cf = frames[c]
                if cf.to is not None and cf.input[:10] in (SEL_TRANSFER, SEL_BALANCE_OF):
                    others.add(cf.to)
    return _slots(ctx.chain_id, pool, order, others, amount0, amount1)


def _log_slots(ctx: LogContext, i: int, amount0: int, amount1: int) -> tuple[str | None, str | None]:
    """Token slots for a ``Mint``/``Burn``/``Collect`` event of pool ``ctx.logs[i].address``.

    ``order`` is the event's own token movements: the ``Transfer``\\s into (``Mint``, paid by the
    callback) or out of (``Collect``) the pool since the pool's previous event, whose amount is
    one of the event's non-zero amounts. That places a one-sided change on a pool whose tokens
    are not cached: ``Collect`` of WBTC only, amount0 = 0, on pool 0xcbcdf9626bc03e24f779434178a73a0b4bad62ed
    (tx 0x950d329c837081d182b9d63ee7bdba3c8420c205bec7e01957bfbabdcb6aca13) makes WBTC token1.
    ``Burn`` moves no tokens: it relies on the cache or on the pool's other movements.
    """
    logs = ctx.logs
    pool = logs[i].address
    if pool_tokens(ctx.chain_id, pool) is not None:
        return _slots(ctx.chain_id, pool, [], set(), amount0, amount1)
    prev = -1
    for k in range(i - 1, -1, -1):
        if logs[k].address == pool:
            prev = k
            break
    amounts = {a for a in (amount0, amount1) if a}
    seen: set[str] = set()
    order: list[str] = []
    for t in log_token_transfers(ctx):
        if t.to != pool and t.from_ != pool:
            continue
        seen.add(t.token)
        if prev < t.pos < i and t.amount in amounts:
            order.append(t.token)
    # token0 < token1 by address, whatever order a Mint callback paid them in.
    return _slots(ctx.chain_id, pool, sorted(set(order)), seen, amount0, amount1)


def _liquidity(
    base: dict[str, object],
    change: ActionKind,
    chain_id: int,
    pool: str,
    provider: str,
    slots: tuple[str | None, str | None],
    amount0: int,
    amount1: int,
    **extra: object,
) -> LiquidityChange:
    """A LiquidityChange over the pool's known token slots.

    A slot may stay unknown only when its amount is zero (an out-of-range, one-sided position);
    then ``tokens``/``amounts`` list the known side only and, the CREATE2 check needing both
    tokens, the pool is reported as ``"uniswap_v3_fork"`` (unverified).
    """
    t0, t1 = slots
    if (t0 is None and amount0) or (t1 is None and amount1) or (t0 is None and t1 is None):
        raise ValueError(f"V3 pool {pool}: tokens unknown (no token call or Transfer touches it)")
    if t0 is not None and t1 is not None:
        protocol = identify_v3(chain_id, pool, t0, t1)[0]
        tokens: tuple[Address, ...] = (Address(t0), Address(t1))
        amounts: tuple[int, ...] = (amount0, amount1)
    else:
        protocol = "uniswap_v3_fork"
        tokens = (Address(t0),) if t0 is not None else (Address(t1 or ""),)
        amounts = (amount0,) if t0 is not None else (amount1,)
    return LiquidityChange(
        **{**base, "protocol": protocol},  # type: ignore[arg-type]
        change=change,
        pool=Address(pool),
        provider=Address(provider),
        tokens=tokens,
        amounts=amounts,
        **extra,  # type: ignore[arg-type]
    )


def _attempted_amounts(ctx: TraceContext, i: int, out_frame: int, token_in: str) -> tuple[int, int]:
    """(amount_in, amount_out) of a reverted swap frame, which has no output: what it sent in its
    ``transfer`` child and what the callback paid into the pool (tx
    0x23a4dc7044666d3d4cc2d394a8017fc9d6b87018c20390d35266cea1af783e8a, frame [0, 0, 3, 9, 0])."""
    frames = ctx.frames
    pool = frames[i].to
    amount_out = int(frames[out_frame].input[74:138], 16)
    ta = frames[i].trace_address
    k = len(ta)
    amount_in = sum(
        t.amount
        for t in frame_token_transfers(ctx)
        if t.pos > i and t.to == pool and t.token == token_in and frames[t.pos].trace_address[:k] == ta
    )
    return amount_in, amount_out


@REGISTRY.trace("uniswap_v3", "swap(address,bool,int256,uint160,bytes)")
def swap_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    frames = ctx.frames
    fr = frames[i]
    if fr.call_type != "call" or fr.to is None or fr.from_ is None:
        return []
    a = fr.input[10:]
    recipient = addr_word(a, 0)
    zero_for_one = word(a, 1) != 0
    pool = fr.to
    token_in = token_out = None
    out_frame = -1
    for c in ctx.children[i]:
        cf = frames[c]
        sel = cf.input[:10]
        if sel == SEL_TRANSFER and token_out is None:
            token_out, out_frame = cf.to, c
        elif sel == SEL_BALANCE_OF and token_in is None:
            token_in = cf.to
    if token_in is None or token_out is None:
        raise ValueError("V3 swap frame without the out-token transfer and in-token balanceOf")
    out = (fr.output or "")[2:]
    if len(out) >= 128:
        amount0, amount1 = _signed(out[:64]), _signed(out[64:128])
        if zero_for_one:
            amount_in, amount_out = amount0, -amount1
        else:
            amount_in, amount_out = amount1, -amount0
        if amount_in <= 0 or amount_out <= 0:
            raise ValueError(f"V3 swap with deltas ({amount0}, {amount1}) inconsistent with zeroForOne")
    elif ctx.reverted[i]:
        amount_in, amount_out = _attempted_amounts(ctx, i, out_frame, token_in)
        if amount_in <= 0 or amount_out <= 0:
            raise ValueError("reverted V3 swap frame: payment or output not visible")
    else:
        raise ValueError("V3 swap frame without (amount0, amount1) output")
    token0, token1 = (token_in, token_out) if zero_for_one else (token_out, token_in)
    remember_pool_tokens(ctx.chain_id, pool, token0, token1)
    protocol, fee = identify_v3(ctx.chain_id, pool, token0, token1)
    return [
        Swap(
            **ctx.base(i, protocol),
            pool=pool,
            sender=fr.from_,
            recipient=recipient,
            token_in=Address(token_in),
            amount_in=amount_in,
            token_out=Address(token_out),
            amount_out=amount_out,
            fee_ppm=fee,
        )
    ]


def _pool_amounts(out: str, what: str) -> tuple[int, int]:
    """The ``(uint256 amount0, uint256 amount1)`` a pool's mint/burn/collect returns."""
    if len(out) < 128:
        raise ValueError(f"V3 {what} frame without (amount0, amount1) output")
    return int(out[:64], 16), int(out[64:128], 16)


@REGISTRY.trace("uniswap_v3", "mint(address,int24,int24,uint128,bytes)")
def mint_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    fr = ctx.frames[i]
    if fr.call_type != "call" or fr.to is None:
        return []
    out = (fr.output or "")[2:]
    a = fr.input[10:]
    owner = addr_word(a, 0)
    amount0, amount1 = _pool_amounts(out, "mint")
    return [
        _liquidity(
            ctx.base(i, "uniswap_v3"),
            ActionKind.LIQUIDITY_ADD,
            ctx.chain_id,
            fr.to,
            owner,
            _frame_slots(ctx, i, amount0, amount1),
            amount0,
            amount1,
            recipient=Address(owner),
            tick_lower=int_word(a, 1),
            tick_upper=int_word(a, 2),
            liquidity=word(a, 3),
        )
    ]


@REGISTRY.trace("uniswap_v3", "burn(int24,int24,uint128)")
def burn_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    fr = ctx.frames[i]
    if fr.call_type != "call" or fr.to is None or fr.from_ is None:
        return []
    a = fr.input[10:]
    liquidity = word(a, 2)
    out = (fr.output or "")[2:]
    if liquidity == 0:
        return []  # a "poke" that only refreshes the position's fees
    amount0, amount1 = _pool_amounts(out, "burn")
    return [
        _liquidity(
            ctx.base(i, "uniswap_v3"),
            ActionKind.LIQUIDITY_REMOVE,
            ctx.chain_id,
            fr.to,
            fr.from_,
            _frame_slots(ctx, i, amount0, amount1),
            amount0,
            amount1,
            tick_lower=int_word(a, 0),
            tick_upper=int_word(a, 1),
            liquidity=liquidity,
        )
    ]


@REGISTRY.trace("uniswap_v3", "collect(address,int24,int24,uint128,uint128)")
def collect_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    fr = ctx.frames[i]
    if fr.call_type != "call" or fr.to is None or fr.from_ is None:
        return []
    out = (fr.output or "")[2:]
    amount0, amount1 = _pool_amounts(out, "collect")
    if amount0 == 0 and amount1 == 0:
        return []
    a = fr.input[10:]
    return [
        _liquidity(
            ctx.base(i, "uniswap_v3"),
            ActionKind.LIQUIDITY_COLLECT,
            ctx.chain_id,
            fr.to,
            fr.from_,
            _frame_slots(ctx, i, amount0, amount1),
            amount0,
            amount1,
            recipient=addr_word(a, 0),
            tick_lower=int_word(a, 1),
            tick_upper=int_word(a, 2),
        )
    ]


@REGISTRY.log("uniswap_v3", "Swap(address,address,int256,int256,uint160,uint128,int24)")
def swap_from_log(ctx: LogContext, i: int) -> list[Action]:
    logs = ctx.logs
    lg = logs[i]
    if len(lg.topics) != 3:
        raise ValueError("V3 Swap event without its two indexed addresses")
    pool = lg.address
    d = lg.data[2:]
    amount0, amount1 = int_word(d, 0), int_word(d, 1)
    if amount0 > 0 > amount1:
        in_idx, amount_in, amount_out = 0, amount0, -amount1
    elif amount1 > 0 > amount0:
        in_idx, amount_in, amount_out = 1, amount1, -amount0
    else:
        raise ValueError(f"V3 Swap event with deltas ({amount0}, {amount1}): not a swap")
    prev = -1
    for k in range(i - 1, -1, -1):
        lk = logs[k]
        if lk.address == pool and lk.topics and lk.topics[0] == SWAP_TOPIC:
            prev = k
            break
    token_in: str | None = None
    token_out: str | None = None
    tokens = pool_tokens(ctx.chain_id, pool)
    if tokens is not None:
        token_in, token_out = tokens[in_idx], tokens[1 - in_idx]
    else:
        for t in log_token_transfers(ctx):
            if t.pos >= i:
                break
            if t.pos > prev and t.from_ == pool and t.amount == amount_out:
                token_out = t.token
        for t in log_token_transfers(ctx):
            if t.pos >= i:
                break
            if t.pos > prev and t.to == pool and t.token != token_out:
                token_in = t.token
    if token_in is None or token_out is None:
        raise ValueError(f"V3 Swap event: Transfers into/out of pool {pool} not found; tokens unknown")
    token0, token1 = (token_in, token_out) if in_idx == 0 else (token_out, token_in)
    remember_pool_tokens(ctx.chain_id, pool, token0, token1)
    protocol, fee = identify_v3(ctx.chain_id, pool, token0, token1)
    return [
        Swap(
            **ctx.base(i, protocol),
            pool=pool,
            sender=topic_addr(lg.topics[1]),
            recipient=topic_addr(lg.topics[2]),
            token_in=Address(token_in),
            amount_in=amount_in,
            token_out=Address(token_out),
            amount_out=amount_out,
            sqrt_price_x96_after=word(d, 2),
            liquidity_after=word(d, 3),
            tick_after=int_word(d, 4),
            fee_ppm=fee,
        )
    ]


def _tick(topic_hex: str) -> int:
    return _signed(topic_hex[2:])


@REGISTRY.log("uniswap_v3", "Mint(address,address,int24,int24,uint128,uint256,uint256)")
def mint_from_log(ctx: LogContext, i: int) -> list[Action]:
    lg = ctx.logs[i]
    if len(lg.topics) != 4:
        raise ValueError("V3 Mint event without owner and ticks indexed")
    d = lg.data[2:]
    owner = topic_addr(lg.topics[1])
    amount0, amount1 = word(d, 2), word(d, 3)
    return [
        _liquidity(
            ctx.base(i, "uniswap_v3"),
            ActionKind.LIQUIDITY_ADD,
            ctx.chain_id,
            lg.address,
            owner,
            _log_slots(ctx, i, amount0, amount1),
            amount0,
            amount1,
            recipient=owner,
            tick_lower=_tick(lg.topics[2]),
            tick_upper=_tick(lg.topics[3]),
            liquidity=word(d, 1),
        )
    ]


@REGISTRY.log("uniswap_v3", "Burn(address,int24,int24,uint128,uint256,uint256)")
def burn_from_log(ctx: LogContext, i: int) -> list[Action]:
    lg = ctx.logs[i]
    if len(lg.topics) != 4:
        raise ValueError("V3 Burn event without owner and ticks indexed")
    d = lg.data[2:]
    liquidity = word(d, 0)
    if liquidity == 0:
        return []
    amount0, amount1 = word(d, 1), word(d, 2)
    return [
        _liquidity(
            ctx.base(i, "uniswap_v3"),
            ActionKind.LIQUIDITY_REMOVE,
            ctx.chain_id,
            lg.address,
            topic_addr(lg.topics[1]),
            _log_slots(ctx, i, amount0, amount1),
            amount0,
            amount1,
            tick_lower=_tick(lg.topics[2]),
            tick_upper=_tick(lg.topics[3]),
            liquidity=liquidity,
        )
    ]


@REGISTRY.log("uniswap_v3", "Collect(address,address,int24,int24,uint128,uint128)")
def collect_from_log(ctx: LogContext, i: int) -> list[Action]:
    lg = ctx.logs[i]
    if len(lg.topics) != 4:
        raise ValueError("V3 Collect event without owner and ticks indexed")
    d = lg.data[2:]
    amount0, amount1 = word(d, 1), word(d, 2)
    if amount0 == 0 and amount1 == 0:
        return []
    return [
        _liquidity(
            ctx.base(i, "uniswap_v3"),
            ActionKind.LIQUIDITY_COLLECT,
            ctx.chain_id,
            lg.address,
            topic_addr(lg.topics[1]),
            _log_slots(ctx, i, amount0, amount1),
            amount0,
            amount1,
            recipient=addr_word(d, 0),
            tick_lower=_tick(lg.topics[2]),
            tick_upper=_tick(lg.topics[3]),
        )
    ]
