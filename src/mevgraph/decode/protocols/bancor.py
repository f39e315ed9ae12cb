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
"""

from __future__ import annotations

from mevgraph.core.actions import Action, Swap
from mevgraph.core.types import ZERO_ADDRESS, Address
from mevgraph.decode.abi import addr_word, dyn_array, word
from mevgraph.decode.context import TraceContext
from mevgraph.decode.registry import REGISTRY

__all__ = ["convert_from_trace", "NETWORKS"]

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
