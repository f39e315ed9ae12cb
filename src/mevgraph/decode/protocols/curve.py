"""Curve pools (StableSwap, meta, lending, crypto/tricrypto, NG): swaps.

Curve has hundreds of pools with different coin lists, so instead of a pool registry the tokens
come from what the ``exchange`` frame itself moves -- its direct children:

(looking through a ``delegatecall`` when the pool is a proxy):

* in: the ``transferFrom(payer, pool, dx)`` the pool makes on the sold coin, or the frame's own ETH
  ``value`` for ETH pools (coin ``0xeeee...``);
* out: the ``transfer(receiver, dy)`` on the bought coin, or a plain ETH call from the pool.

Lending pools' ``exchange_underlying`` wrap/unwrap through cTokens/yTokens in grandchildren, which
do not confuse this; meta pools trade through their base pool the same way. Covered signatures:
``exchange``/``exchange_underlying`` with ``int128`` indices (StableSwap), ``uint256`` indices
(crypto pools, optionally ``bool use_eth``) and the NG variants taking an explicit ``receiver``.
USDT's ``transfer`` returns nothing (tx 0x95d9f1a3868da2e2558f70c961ef4d0d3ef06ad9b153027a11b3de7c8bc3e1f5,
frame [1, 3, 2, 1]): only the calldata is read, never the return value.

**From logs**: ``TokenExchange``/``TokenExchangeUnderlying(buyer, sold_id, tokens_sold, bought_id,
tokens_bought)`` (``int128`` or ``uint256`` ids) give the amounts; the coins are the ERC20
``Transfer`` into the pool of ``tokens_sold`` and out of the pool of ``tokens_bought`` before the
event. Swaps with ETH legs have no Transfer for that leg: they are skipped with a reason.
"""

from __future__ import annotations

from mevgraph.core.actions import Action, Swap
from mevgraph.core.types import ETH, Address
from mevgraph.decode.abi import topic_addr, word
from mevgraph.decode.context import LogContext, TraceContext
from mevgraph.decode.pools import SEL_TRANSFER, SEL_TRANSFER_FROM, log_token_transfers, own_calls
from mevgraph.decode.registry import REGISTRY

__all__ = ["exchange_from_trace", "exchange_from_log"]

_TRACE_SIGNATURES = (
    "exchange(int128,int128,uint256,uint256)",
    "exchange_underlying(int128,int128,uint256,uint256)",
    "exchange(uint256,uint256,uint256,uint256)",
    "exchange(uint256,uint256,uint256,uint256,bool)",
    "exchange_underlying(uint256,uint256,uint256,uint256)",
    "exchange(int128,int128,uint256,uint256,address)",
    "exchange_underlying(int128,int128,uint256,uint256,address)",
    "exchange(uint256,uint256,uint256,uint256,bool,address)",
)
_LOG_SIGNATURES = (
    "TokenExchange(address,int128,uint256,int128,uint256)",
    "TokenExchangeUnderlying(address,int128,uint256,int128,uint256)",
    "TokenExchange(address,uint256,uint256,uint256,uint256)",
)


def exchange_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    frames = ctx.frames
    fr = frames[i]
    if fr.call_type != "call" or fr.to is None or fr.from_ is None:
        return []
    pool = fr.to
    token_in: str | None = None
    amount_in = 0
    if fr.value:
        token_in, amount_in = ETH, fr.value
    token_out: str | None = None
    amount_out = 0
    recipient: str | None = None
    for c in own_calls(ctx, i):
        cf = frames[c]
        if cf.call_type != "call" or cf.to is None:
            continue
        inp = cf.input
        sel = inp[:10]
        if sel == SEL_TRANSFER_FROM and token_in is None and len(inp) >= 202 and inp[98:138] == pool[2:]:
            token_in, amount_in = cf.to, int(inp[138:202], 16)
        elif sel == SEL_TRANSFER and token_out is None and len(inp) >= 138:
            token_out, recipient, amount_out = cf.to, "0x" + inp[34:74], int(inp[74:138], 16)
        elif len(inp) <= 2 and cf.value and token_out is None:
            token_out, recipient, amount_out = ETH, cf.to, cf.value
    if token_in is None or token_out is None or recipient is None:
        raise ValueError(f"Curve exchange on {pool}: sold or bought coin movement not found")
    if amount_in == 0 or amount_out == 0:
        return []
    return [
        Swap(
            **ctx.base(i, "curve"),
            pool=pool,
            sender=fr.from_,
            recipient=Address(recipient),
            token_in=Address(token_in),
            amount_in=amount_in,
            token_out=Address(token_out),
            amount_out=amount_out,
        )
    ]


def exchange_from_log(ctx: LogContext, i: int) -> list[Action]:
    lg = ctx.logs[i]
    if len(lg.topics) != 2:
        raise ValueError("Curve TokenExchange event without indexed buyer")
    pool = lg.address
    d = lg.data[2:]
    sold, bought = word(d, 1), word(d, 3)
    if sold == 0 or bought == 0:
        return []
    token_in = token_out = None
    recipient: str | None = None
    for t in log_token_transfers(ctx):
        if t.pos >= i:
            break
        if t.to == pool and t.amount == sold:
            token_in = t.token
        elif t.from_ == pool and t.amount == bought:
            token_out, recipient = t.token, t.to
    if token_in is None or token_out is None or recipient is None:
        raise ValueError(f"Curve TokenExchange on {pool}: no matching Transfer events (ETH leg?)")
    buyer = topic_addr(lg.topics[1])
    return [
        Swap(
            **ctx.base(i, "curve"),
            pool=pool,
            sender=buyer,
            recipient=Address(recipient),
            token_in=Address(token_in),
            amount_in=sold,
            token_out=Address(token_out),
            amount_out=bought,
        )
    ]


for _sig in _TRACE_SIGNATURES:
    REGISTRY.trace("curve", _sig)(exchange_from_trace)
for _sig in _LOG_SIGNATURES:
    REGISTRY.log("curve", _sig)(exchange_from_log)
