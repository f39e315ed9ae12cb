"""Bancor V2 network: conversions along a path, as one swap.

``BancorNetwork`` (``0x2f9ec37d6ccfff1cab21733bdadede11c823ccb0`` on mainnet) converts along a
``path`` that alternates tokens and converter anchors: ``[token_in, anchor, BNT, anchor,
token_out]`` (tx 0xe8ea0c7707b45d9df6f97166594adb316bd07741a7ab76833cab4dd88d0e0e05). Every entry
point takes ``(address[] path, uint256 amount, uint256 minReturn, ...)`` and returns the amount
received, so a conversion is one :class:`Swap` with ``pool`` = the network contract (as in
mev-inspect-py), ``token_in = path[0]``, ``amount_in = amount``, ``token_out = path[-1]``,
``amount_out`` = the return value. ``0xeeee...`` in a path is ETH. The recipient is the
``beneficiary`` argument where the function has one and it is non-zero, else the caller.

The same function names exist on unrelated contracts, so only calls to the known network
addresses are decoded. Bancor V3 (``tradeBySourceAmount``) is not covered.

**From logs** -- the network emits, after each step (hop) of a path, ``Conversion(address indexed
_smartToken, address indexed _fromToken, address indexed _toToken, uint256 _fromAmount, uint256
_toAmount, address _trader)``, ``_trader`` being its caller. (The converters' own event, also
named ``Conversion`` but ``(address,address,address,uint256,uint256,int256)``, has another topic
and is not read.) The steps of one call chain: each step's ``_fromToken``/``_fromAmount`` are
the previous step's ``_toToken``/``_toAmount``. One chain is one swap, as in traces, dated at its
last event: ``token_in``/``amount_in`` from the first step, ``token_out``/``amount_out`` from the
last, ``sender`` = ``_trader``. The recipient (``beneficiary``) is not in the event: it is the
receiver of the last ``Transfer`` of ``amount_out`` of ``token_out`` before the last event (when
that is the network itself, of the network's next such ``Transfer``); for ETH out (no
``Transfer``) it is the trader. Tx 0xa3d8c446de81db9c63b8654329a09c4aee174ce329a55a4e24b999b0691e1f86
(block 13302365) converts twice inside a 5-leg arbitrage, paying the second conversion straight
to the next pool.
"""

from __future__ import annotations

from mevgraph.core.actions import Action, Swap
from mevgraph.core.types import ZERO_ADDRESS, Address
from mevgraph.decode.abi import addr_word, dyn_array, topic, topic_addr, word
from mevgraph.decode.context import LogContext, TraceContext
from mevgraph.decode.pools import log_token_transfers
from mevgraph.decode.registry import REGISTRY

__all__ = ["convert_from_trace", "conversion_from_log", "NETWORKS", "CONVERSION_TOPIC"]

NETWORKS: dict[int, frozenset[str]] = {1: frozenset({"0x2f9ec37d6ccfff1cab21733bdadede11c823ccb0"})}

# signature -> word index of the beneficiary argument (None: the caller receives).
_CONVERSIONS: dict[str, int | None] = {
    "convertByPath(address[],uint256,uint256,address,address,uint256)": 3,
    "convertByPath2(address[],uint256,uint256,address)": 3,
    "convert(address[],uint256,uint256)": None,
    "convert2(address[],uint256,uint256,address,uint256)": None,
    "convertFor(address[],uint256,uint256,address)": 3,
    "convertFor2(address[],uint256,uint256,address,address,uint256)": 3,
}


def _make_handler(beneficiary_word: int | None):  # type: ignore[no-untyped-def]
    def convert_from_trace(ctx: TraceContext, i: int) -> list[Action]:
        fr = ctx.frames[i]
        if (
            fr.call_type != "call"
            or fr.from_ is None
            or fr.to is None
            or fr.to not in NETWORKS.get(ctx.chain_id, ())
        ):
            return []
        out = (fr.output or "")[2:]
        if len(out) < 64:
            raise ValueError("Bancor conversion frame without return amount")
        a = fr.input[10:]
        path = dyn_array(a, 0)
        if len(path) < 3:
            raise ValueError(f"Bancor conversion path of length {len(path)}")
        recipient = fr.from_
        if beneficiary_word is not None:
            b = addr_word(a, beneficiary_word)
            if b != ZERO_ADDRESS:
                recipient = b
        amount_in, amount_out = word(a, 1), int(out[:64], 16)
        if amount_in == 0 or amount_out == 0:
            return []
        return [
            Swap(
                **ctx.base(i, "bancor"),
                pool=fr.to,
                sender=fr.from_,
                recipient=recipient,
                token_in=Address(f"0x{path[0]:040x}"),
                amount_in=amount_in,
                token_out=Address(f"0x{path[-1]:040x}"),
                amount_out=amount_out,
            )
        ]

    return convert_from_trace


for _sig, _word in _CONVERSIONS.items():
    REGISTRY.trace("bancor", _sig)(_make_handler(_word))

convert_from_trace = _make_handler(3)
"""Handler of ``convertByPath`` (exposed for tests)."""

CONVERSION_TOPIC = topic("Conversion(address,address,address,uint256,uint256,address)")

_Step = tuple[str, str, int, int, str]
"""(fromToken, toToken, fromAmount, toAmount, trader) of one network ``Conversion`` event."""


def _step(ctx: LogContext, k: int) -> _Step | None:
    """(fromToken, toToken, fromAmount, toAmount, trader) of network ``Conversion`` event ``k``."""
    lg = ctx.logs[k]
    if (
        len(lg.topics) != 4
        or lg.topics[0] != CONVERSION_TOPIC
        or lg.address not in NETWORKS.get(ctx.chain_id, ())
    ):
        return None
    d = lg.data[2:]
    return topic_addr(lg.topics[2]), topic_addr(lg.topics[3]), word(d, 0), word(d, 1), addr_word(d, 2)


def _next_step(ctx: LogContext, k: int) -> int | None:
    """Index of the network's next ``Conversion`` event after ``k`` (same emitter), if any."""
    logs = ctx.logs
    address = logs[k].address
    for j in range(k + 1, len(logs)):
        lg = logs[j]
        if lg.address == address and lg.topics and lg.topics[0] == CONVERSION_TOPIC:
            return j
    return None


def _chains(ctx: LogContext, ka: int, a: _Step, kb: int, b: _Step) -> bool:
    """Step ``b`` (event ``kb``) continues step ``a`` (event ``ka``) of the same call: it converts
    exactly what ``a`` returned, and the trader paid nothing in between (a new call pulls its
    input from the trader: tx 0xa3d8c446de81db9c63b8654329a09c4aee174ce329a55a4e24b999b0691e1f86
    converts to BNT, then that BNT in a second call)."""
    if b[0] != a[1] or b[2] != a[3] or b[4] != a[4]:
        return False
    trader, token = b[4], b[0]
    return not any(
        ka < t.pos < kb and t.from_ == trader and t.token == token for t in log_token_transfers(ctx)
    )


@REGISTRY.log("bancor", "Conversion(address,address,address,uint256,uint256,address)")
def conversion_from_log(ctx: LogContext, i: int) -> list[Action]:
    last = _step(ctx, i)
    if last is None:
        return []
    nxt = _next_step(ctx, i)
    if nxt is not None:
        after = _step(ctx, nxt)
        if after is not None and _chains(ctx, i, last, nxt, after):
            return []  # a middle step: the chain's last event yields the swap
    first, first_k = last, i
    logs = ctx.logs
    for k in range(i - 1, -1, -1):
        if logs[k].address != logs[i].address or not logs[k].topics or logs[k].topics[0] != CONVERSION_TOPIC:
            continue
        prev = _step(ctx, k)
        if prev is None or not _chains(ctx, k, prev, first_k, first):
            break
        first, first_k = prev, k
    token_in, amount_in = first[0], first[2]
    token_out, amount_out, trader = last[1], last[3], last[4]
    if amount_in == 0 or amount_out == 0:
        return []
    network = logs[i].address
    recipient = trader
    paid: str | None = None
    for t in log_token_transfers(ctx):
        if t.token != token_out or t.amount != amount_out:
            continue
        if t.pos < i:
            paid = t.to
        elif paid == network and t.from_ == network:
            paid = t.to
            break
        elif t.pos > i:
            break
    if paid is not None:
        recipient = paid
    return [
        Swap(
            **ctx.base(i, "bancor"),
            pool=network,
            sender=Address(trader),
            recipient=Address(recipient),
            token_in=Address(token_in),
            amount_in=amount_in,
            token_out=Address(token_out),
            amount_out=amount_out,
        )
    ]
