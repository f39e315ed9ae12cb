"""Balancer V1 pools and the Balancer V2 vault: swaps.

**V1 (BPool)** -- ``swapExactAmountIn(tokenIn, tokenAmountIn, tokenOut, minAmountOut, maxPrice)``
returns ``(tokenAmountOut, spotPriceAfter)``; ``swapExactAmountOut(tokenIn, maxAmountIn, tokenOut,
tokenAmountOut, maxPrice)`` returns ``(tokenAmountIn, spotPriceAfter)``. Arguments and output give
tokens and exact amounts; the pool pulls ``tokenIn`` from and pays ``tokenOut`` to ``msg.sender``,
so sender = recipient = the caller. Event: ``LOG_SWAP(caller, tokenIn, tokenOut, tokenAmountIn,
tokenAmountOut)`` (all addresses indexed).

**V2 (vault ``0xba12222222228d8ba445958a75a0704d566bf2c8``)** -- pools never hold tokens; for every
single swap, and for every step of a ``batchSwap``, the vault asks the pool for the price with
``onSwap(SwapRequest request, ...)`` and moves the tokens itself. ``SwapRequest`` is ``(kind,
tokenIn, tokenOut, amount, poolId, lastChangeBlock, from, to, userData)`` and ``onSwap`` returns
the calculated amount: for ``kind`` 0 (GIVEN_IN) ``amount`` is in and the result out, for 1
(GIVEN_OUT) the reverse. Decoding the ``onSwap`` frames therefore gives every step of single and
batch swaps with exact amounts, from one rule, for both pool interfaces (two-token
``onSwap(req, balanceIn, balanceOut)`` and general ``onSwap(req, balances[], indexIn, indexOut)``).
``pool`` is the pool contract, ``sender``/``recipient`` are the request's ``from``/``to`` (the
funds' owner and receiver; the vault itself calls every pool, so its address says nothing).
Tokens are as the pool sees them: an ETH leg appears as WETH, which the vault wraps/unwraps.

Event: ``Swap(bytes32 indexed poolId, address indexed tokenIn, address indexed tokenOut, uint256
amountIn, uint256 amountOut)`` from the vault; the pool is the first 20 bytes of ``poolId``. The
event does not name the trader: sender/recipient are the transaction's sender (logs-only mode).
"""

from __future__ import annotations

from mevgraph.core.actions import Action, Swap
from mevgraph.core.types import Address
from mevgraph.decode.abi import addr_word, topic_addr, word
from mevgraph.decode.context import LogContext, TraceContext
from mevgraph.decode.registry import REGISTRY

__all__ = [
    "swap_exact_in_from_trace",
    "swap_exact_out_from_trace",
    "log_swap_from_log",
    "on_swap_from_trace",
    "vault_swap_from_log",
    "VAULT",
]

VAULT = "0xba12222222228d8ba445958a75a0704d566bf2c8"
_REQUEST = "(uint8,address,address,uint256,bytes32,uint256,address,address,bytes)"


def _v1(ctx: TraceContext, i: int, exact_in: bool) -> list[Action]:
    fr = ctx.frames[i]
    if fr.call_type != "call" or fr.to is None or fr.from_ is None:
        return []
    out = (fr.output or "")[2:]
    if len(out) < 64:
        raise ValueError("Balancer V1 swap frame without output")
    a = fr.input[10:]
    if exact_in:
        amount_in, amount_out = word(a, 1), int(out[:64], 16)
    else:
        amount_in, amount_out = int(out[:64], 16), word(a, 3)
    return [
        Swap(
            **ctx.base(i, "balancer_v1"),
            pool=fr.to,
            sender=fr.from_,
            recipient=fr.from_,
            token_in=addr_word(a, 0),
            amount_in=amount_in,
            token_out=addr_word(a, 2),
            amount_out=amount_out,
        )
    ]


@REGISTRY.trace("balancer_v1", "swapExactAmountIn(address,uint256,address,uint256,uint256)")
def swap_exact_in_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    return _v1(ctx, i, exact_in=True)


@REGISTRY.trace("balancer_v1", "swapExactAmountOut(address,uint256,address,uint256,uint256)")
def swap_exact_out_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    return _v1(ctx, i, exact_in=False)


@REGISTRY.log("balancer_v1", "LOG_SWAP(address,address,address,uint256,uint256)")
def log_swap_from_log(ctx: LogContext, i: int) -> list[Action]:
    lg = ctx.logs[i]
    if len(lg.topics) != 4:
        raise ValueError("Balancer V1 LOG_SWAP without its three indexed addresses")
    d = lg.data[2:]
    caller = topic_addr(lg.topics[1])
    return [
        Swap(
            **ctx.base(i, "balancer_v1"),
            pool=lg.address,
            sender=caller,
            recipient=caller,
            token_in=topic_addr(lg.topics[2]),
            amount_in=word(d, 0),
            token_out=topic_addr(lg.topics[3]),
            amount_out=word(d, 1),
        )
    ]


def on_swap_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    fr = ctx.frames[i]
    if fr.call_type not in ("call", "staticcall") or fr.to is None or fr.from_ != VAULT:
        return []  # only the vault's price requests are swaps (pools may call each other)
    out = (fr.output or "")[2:]
    if len(out) < 64:
        raise ValueError("Balancer V2 onSwap frame without output")
    a = fr.input[10:]
    r = word(a, 0) // 32  # the request tuple is dynamic (userData): its head is at an offset
    kind, given, calculated = word(a, r), word(a, r + 3), int(out[:64], 16)
    if kind == 0:
        amount_in, amount_out = given, calculated
    elif kind == 1:
        amount_in, amount_out = calculated, given
    else:
        raise ValueError(f"Balancer V2 onSwap with unknown kind {kind}")
    if amount_in == 0 or amount_out == 0:
        return []
    return [
        Swap(
            **ctx.base(i, "balancer_v2"),
            pool=fr.to,
            sender=addr_word(a, r + 6),
            recipient=addr_word(a, r + 7),
            token_in=addr_word(a, r + 1),
            amount_in=amount_in,
            token_out=addr_word(a, r + 2),
            amount_out=amount_out,
        )
    ]


REGISTRY.trace("balancer_v2", f"onSwap({_REQUEST},uint256,uint256)")(on_swap_from_trace)
REGISTRY.trace("balancer_v2", f"onSwap({_REQUEST},uint256[],uint256,uint256)")(on_swap_from_trace)


@REGISTRY.log("balancer_v2", "Swap(bytes32,address,address,uint256,uint256)")
def vault_swap_from_log(ctx: LogContext, i: int) -> list[Action]:
    lg = ctx.logs[i]
    if len(lg.topics) != 4:
        raise ValueError("Balancer V2 Swap event without its three indexed fields")
    if lg.address != VAULT:
        raise ValueError(f"Balancer V2 Swap event from {lg.address}, not the vault")
    d = lg.data[2:]
    trader = ctx.tx.from_ if ctx.tx is not None else (ctx.receipt.from_ if ctx.receipt else None)
    if trader is None:
        raise ValueError("Balancer V2 Swap event: transaction sender unknown")
    return [
        Swap(
            **ctx.base(i, "balancer_v2"),
            pool=Address("0x" + lg.topics[1][2:42]),
            sender=trader,
            recipient=trader,
            token_in=topic_addr(lg.topics[2]),
            amount_in=word(d, 0),
            token_out=topic_addr(lg.topics[3]),
            amount_out=word(d, 1),
        )
    ]
