"""0x Exchange Proxy native orders (limit, RFQ and OTC orders): swaps against a maker.

Every call to the proxy ``0xdef1c0ded9bec7f1a1670819833240f027b25eff`` is forwarded by
``delegatecall`` to a feature contract with the same calldata; only the ``call`` frame is decoded
(the ``delegatecall`` repeats it). A fill is a swap where the *order* is the pool: the taker pays
``takerToken`` and receives ``makerToken``. All fill functions return
``(uint128 takerTokenFilledAmount, uint128 makerTokenFilledAmount)``, the exact amounts settled
(a partial fill returns less than requested; a zero fill yields nothing).

Mapping to :class:`~mevgraph.core.actions.Swap` (identical to mev-inspect-py's, whose test-suite
pins three real fills): ``pool`` = ``recipient`` = the proxy, the venue that settles the order for
the taker (like a router); ``sender`` = the frame's caller; ``token_in``/``amount_in`` = taker token
and filled amount; ``token_out``/``amount_out`` = maker token and filled amount. The maker token
itself goes to the taker: the caller of the public ``fill*`` functions, or the ``taker``/
``recipient`` argument of the ``onlySelf`` variants ``_fillLimitOrder``/``_fillRfqOrder``/
``_fillOtcOrder`` that batch fills and multiplex call through the proxy itself (e.g. tx
0x9255addffa2dbeb9560c5e20e78a78c949488d2054c70b2155c39f9e28394cbf pays the user directly);
token-flow analyses read that from the transfers, not from the swap.

Argument layouts (words after the selector; orders are static tuples inlined in the head):
LimitOrder = 12 words (makerToken, takerToken, makerAmount, takerAmount, takerTokenFeeAmount,
maker, taker, sender, feeRecipient, pool, expiry, salt), RfqOrder = 10 words (makerToken,
takerToken, makerAmount, takerAmount, maker, taker, txOrigin, pool, expiry, salt), OtcOrder = 8
words (makerToken, takerToken, makerAmount, takerAmount, maker, taker, txOrigin,
expiryAndNonce); Signature = 4 words.
"""

from __future__ import annotations

from mevgraph.core.actions import Action, Swap
from mevgraph.decode.abi import addr_word
from mevgraph.decode.context import TraceContext
from mevgraph.decode.registry import REGISTRY

__all__ = ["fill_from_trace"]

_LIMIT = "(address,address,uint128,uint128,uint128,address,address,address,address,bytes32,uint64,uint256)"
_RFQ = "(address,address,uint128,uint128,address,address,address,bytes32,uint64,uint256)"
_OTC = "(address,address,uint128,uint128,address,address,address,uint256)"
_SIG = "(uint8,uint8,bytes32,bytes32)"

_FILLS = (
    f"fillLimitOrder({_LIMIT},{_SIG},uint128)",
    f"fillRfqOrder({_RFQ},{_SIG},uint128)",
    f"fillOtcOrder({_OTC},{_SIG},uint128)",
    f"_fillLimitOrder({_LIMIT},{_SIG},uint128,address,address)",
    f"_fillRfqOrder({_RFQ},{_SIG},uint128,address,bool,address)",
    f"_fillOtcOrder({_OTC},{_SIG},uint128,address,bool,address)",
)


def fill_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    fr = ctx.frames[i]
    if fr.call_type != "call" or fr.to is None or fr.from_ is None:
        return []
    out = (fr.output or "")[2:]
    if len(out) < 128:
        raise ValueError("0x fill frame without (takerTokenFilled, makerTokenFilled) output")
    taker_filled, maker_filled = int(out[:64], 16), int(out[64:128], 16)
    if taker_filled == 0 or maker_filled == 0:
        return []
    a = fr.input[10:]
    return [
        Swap(
            **ctx.base(i, "0x"),
            pool=fr.to,
            sender=fr.from_,
            recipient=fr.to,
            token_in=addr_word(a, 1),
            amount_in=taker_filled,
            token_out=addr_word(a, 0),
            amount_out=maker_filled,
        )
    ]


for _sig in _FILLS:
    REGISTRY.trace("0x", _sig)(fill_from_trace)
