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

**From logs** -- every fill emits, from the proxy, ``LimitOrderFilled(bytes32 orderHash, address
maker, address taker, address feeRecipient, address makerToken, address takerToken, uint128
takerTokenFilledAmount, uint128 makerTokenFilledAmount, uint128 takerTokenFeeFilledAmount,
uint256 protocolFeePaid, bytes32 pool)``, ``RfqOrderFilled(bytes32 orderHash, address maker,
address taker, address makerToken, address takerToken, uint128 takerTokenFilledAmount, uint128
makerTokenFilledAmount, bytes32 pool)`` or ``OtcOrderFilled(bytes32 orderHash, address maker,
address taker, address makerToken, address takerToken, uint128 takerTokenFilledAmount, uint128
makerTokenFilledAmount)`` (0x ``INativeOrdersEvents``/``IOtcOrdersFeature``; nothing indexed), after
the fill's token transfers. The swap is the trace handler's: pool = recipient = the emitting
proxy, same tokens and amounts. The ``sender`` (the fill frame's caller) is not in the event,
which names the ``taker``: a public ``fill*`` is called by its taker, an ``onlySelf`` variant by
the proxy itself on behalf of the taker. Logs tell them apart thus: the transaction calls the
proxy's public fill directly -> the taker; else the maker token went (``Transfer`` from the maker
of ``makerTokenFilledAmount``) to an address other than the taker -> the proxy (multiplex fills
paying the proxy, tx 0x4f66832e654f8a4d773d9769571155df3722401343247376d6bb56626db29b90); else the
transaction's own sender is the taker of a call to the proxy that is not a public fill (batch
fill, multiplex) -> the proxy (tx 0x9255addffa2dbeb9560c5e20e78a78c949488d2054c70b2155c39f9e28394cbf);
else the taker. A meta-transaction fill (``onlySelf``, relayed by another sender) is the known
case this gets wrong: logs name its signer as the sender.
"""

from __future__ import annotations

from mevgraph.core.actions import Action, Swap
from mevgraph.core.types import Address
from mevgraph.decode.abi import addr_word, selector, word
from mevgraph.decode.context import LogContext, TraceContext
from mevgraph.decode.pools import log_token_transfers
from mevgraph.decode.registry import REGISTRY

__all__ = ["fill_from_trace", "fill_from_log"]

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

# Public fills whose caller is the taker (a transaction calling one of these fills directly).
_PUBLIC_FILL_SELECTORS = frozenset(
    selector(sig)
    for sig in (
        *(f for f in _FILLS if not f.startswith("_")),
        f"fillOrKillLimitOrder({_LIMIT},{_SIG},uint128)",
        f"fillOrKillRfqOrder({_RFQ},{_SIG},uint128)",
        f"fillOtcOrder({_OTC},{_SIG},uint128,bool)",
        f"fillOtcOrderWithEth({_OTC},{_SIG})",
    )
)

# Event signature -> word indexes of (maker, taker, makerToken, takerToken, takerFilled, makerFilled).
_EVENTS: dict[str, tuple[int, int, int, int, int, int]] = {
    (
        "LimitOrderFilled(bytes32,address,address,address,address,address,"
        "uint128,uint128,uint128,uint256,bytes32)"
    ): (1, 2, 4, 5, 6, 7),
    "RfqOrderFilled(bytes32,address,address,address,address,uint128,uint128,bytes32)": (1, 2, 3, 4, 5, 6),
    "OtcOrderFilled(bytes32,address,address,address,address,uint128,uint128)": (1, 2, 3, 4, 5, 6),
}


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


def _log_sender(ctx: LogContext, i: int, maker: str, taker: str, maker_token: str, maker_amount: int) -> str:
    """The fill frame's caller as traces would show it (see the module docstring)."""
    proxy = ctx.logs[i].address
    tx = ctx.tx
    if tx is not None and tx.to == proxy and tx.input[:10] in _PUBLIC_FILL_SELECTORS:
        return taker
    paid_to: str | None = None
    for t in log_token_transfers(ctx):
        if t.pos >= i:
            break
        if t.token == maker_token and t.from_ == maker and t.amount == maker_amount:
            paid_to = t.to
    if paid_to is not None and paid_to != taker:
        return proxy
    if tx is not None and tx.to == proxy and tx.from_ == taker:
        return proxy
    return taker


def _make_log_handler(fields: tuple[int, int, int, int, int, int]):  # type: ignore[no-untyped-def]
    k_maker, k_taker, k_maker_token, k_taker_token, k_taker_filled, k_maker_filled = fields

    def fill_from_log(ctx: LogContext, i: int) -> list[Action]:
        lg = ctx.logs[i]
        if len(lg.topics) != 1:
            return []  # same name and types, but indexed arguments: not the 0x proxy's event
        d = lg.data[2:]
        taker_filled, maker_filled = word(d, k_taker_filled), word(d, k_maker_filled)
        if taker_filled == 0 or maker_filled == 0:
            return []
        maker, taker = addr_word(d, k_maker), addr_word(d, k_taker)
        maker_token = addr_word(d, k_maker_token)
        return [
            Swap(
                **ctx.base(i, "0x"),
                pool=lg.address,
                sender=Address(_log_sender(ctx, i, maker, taker, maker_token, maker_filled)),
                recipient=lg.address,
                token_in=addr_word(d, k_taker_token),
                amount_in=taker_filled,
                token_out=maker_token,
                amount_out=maker_filled,
            )
        ]

    return fill_from_log


for _sig in _FILLS:
    REGISTRY.trace("0x", _sig)(fill_from_trace)

for _sig, _fields in _EVENTS.items():
    REGISTRY.log("0x", _sig)(_make_log_handler(_fields))

fill_from_log = _make_log_handler(_EVENTS[next(iter(_EVENTS))])
"""Handler of ``LimitOrderFilled`` (exposed for tests)."""
