"""Router calldata → swap intents: what a *pending* transaction asks a DEX router to do.

A mined swap is decoded from its traces and logs (:mod:`mevgraph.decode.protocols`); a pending
one has neither -- only its calldata, which names the token path, the amounts and the limits the
trader accepts. This module reads that calldata into :class:`SwapIntent` s, one per swap the call
would run, for the routers that carry most public-mempool swaps:

* **Uniswap V2 Router02** (and its forks: Sushiswap's router is the same contract): every
  ``swapExact*For*`` / ``swap*ForExact*`` function, ETH variants (``msg.value`` is the input, or
  the input ceiling of ``swapETHForExactTokens``) and the ``SupportingFeeOnTransferTokens``
  variants (flagged: the pool receives less than ``amount_in``);
* **Uniswap V3 SwapRouter**: ``exactInputSingle`` / ``exactInput`` / ``exactOutputSingle`` /
  ``exactOutput`` and ``multicall(bytes[])``;
* **SwapRouter02**: the same four without ``deadline`` in the parameter struct, its V2 functions
  (``swapExactTokensForTokens`` / ``swapTokensForExactTokens`` without deadline), and
  ``multicall(bytes[])``, ``multicall(uint256 deadline, bytes[])``,
  ``multicall(bytes32 previousBlockhash, bytes[])``;
* **Universal Router**: ``execute(bytes,bytes[])`` and ``execute(bytes,bytes[],uint256)``;
  commands ``V3_SWAP_EXACT_IN/OUT`` and ``V2_SWAP_EXACT_IN/OUT`` become intents,
  ``EXECUTE_SUB_PLAN`` is decoded recursively, every other command (``WRAP_ETH``,
  ``UNWRAP_WETH``, ``PERMIT2_*``, ``SWEEP``, ``PAY_PORTION``, NFT and V4 commands) is skipped.
  The high bit of a command byte (``0x80``, allow-revert) is kept on the intent.

Dispatch is one dict lookup on the 4-byte selector (:data:`SELECTORS`); arguments are decoded
with ``eth-abi``. An unknown selector gives no intents, and so does calldata that does not decode
(the router would revert on it too): neither is an error. Decoding does not look at the address
called -- the caller decides which contracts to decode (a chain's known routers, see
:mod:`mevgraph.decode.labels` and the ``routers`` of a chain profile, or any address) -- but the
address and the sender resolve the routers' recipient sentinels: ``address(1)`` is the caller
and ``address(2)`` the router itself (SwapRouter02, Universal Router), ``address(0)`` the router
itself (SwapRouter).

Amounts stay raw integers. An amount that the calldata leaves to run time -- the Universal
Router's ``CONTRACT_BALANCE`` (``1 << 255``) or ``ALREADY_PAID`` (``0`` for V2 hops paid by the
previous command), SwapRouter02's ``CONTRACT_BALANCE`` (``0``) -- is ``None``, never a guess.
Pools are not named in router calldata: a V2 intent has a token path, a V3 intent a token path
and one fee tier per hop; :mod:`mevgraph.decode.pools` turns them into pool addresses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from eth_abi.codec import ABICodec
from eth_abi.decoding import AddressDecoder
from eth_abi.encoding import AddressEncoder
from eth_abi.exceptions import DecodingError
from eth_abi.registry import BaseEquals
from eth_abi.registry import registry as _default_registry
from eth_typing import HexAddress, HexStr

from mevgraph.core.types import Address
from mevgraph.decode.abi import selector as _selector

__all__ = [
    "SwapIntent",
    "Hop",
    "SELECTORS",
    "UR_COMMANDS",
    "decode_swaps",
    "decode_v3_path",
    "DuplicateSelector",
]

Amm = Literal["v2", "v3"]

_ZERO = "0x" + "00" * 20
_MSG_SENDER = "0x" + "00" * 19 + "01"
_ADDRESS_THIS = "0x" + "00" * 19 + "02"
_UR_CONTRACT_BALANCE = 1 << 255
_MAX_DEPTH = 4  # multicall / sub-plan nesting; real calls use 1-2


def _hex_address(data: Any) -> HexAddress:
    return HexAddress(HexStr("0x" + data.hex()))


class _HexAddressDecoder(AddressDecoder):
    """``address`` as lowercase ``0x`` hex: eth-abi's own decoder checksums and re-validates each
    address through eth-utils, which took ~60 % of the time of decoding a Router02 call."""

    # eth-abi types decoder_fn generically over its address NewTypes; the value is a HexAddress.
    decoder_fn = staticmethod(_hex_address)  # type: ignore[assignment]


_registry = _default_registry.copy()
_registry.unregister("address")
_registry.register(BaseEquals("address"), AddressEncoder, _HexAddressDecoder, label="address")
abi_decode = ABICodec(_registry).decode


@dataclass(frozen=True, slots=True)
class Hop:
    """One pool-level leg of an intent: ``token_in`` → ``token_out`` (V3: at fee tier ``fee`` ppm)."""

    token_in: Address
    token_out: Address
    fee: int | None


@dataclass(frozen=True, slots=True)
class SwapIntent:
    """One swap a pending router call asks for.

    ``path`` lists the tokens in trade order (``path[0]`` is paid, ``path[-1]`` received; ETH
    legs appear as the wrapped token the pools trade). ``fees`` has one V3 fee tier (ppm) per
    hop and is empty for V2. Exact-input intents set ``amount_in`` and ``amount_out_min``;
    exact-output ones set ``amount_out`` and ``amount_in_max``; any of them is ``None`` when
    the call leaves it to run time (see the module doc).

    ``amm`` is the pool model, ``"v2"`` (constant product: Uniswap V2 and forks) or ``"v3"``
    (concentrated liquidity); which fork's pools depends on the router's factory.
    ``method`` names the function or Universal Router command (``"exactInputSingle"``,
    ``"V2_SWAP_EXACT_IN"``); ``allow_revert`` is the Universal Router's per-command flag.
    ``eth_in``/``eth_out`` mark the Router02 functions that wrap/unwrap ETH themselves; a
    Universal Router or multicall wraps in separate commands/calls and leaves them False.
    """

    router: Address | None
    amm: Amm
    method: str
    path: tuple[Address, ...]
    fees: tuple[int, ...]
    exact_in: bool
    amount_in: int | None
    amount_out_min: int | None
    amount_out: int | None
    amount_in_max: int | None
    recipient: Address | None
    deadline: int | None
    eth_in: bool = False
    eth_out: bool = False
    fee_on_transfer: bool = False
    allow_revert: bool = False

    @property
    def token_in(self) -> Address:
        return self.path[0]

    @property
    def token_out(self) -> Address:
        return self.path[-1]

    @property
    def hops(self) -> tuple[Hop, ...]:
        """The pool-level legs, in trade order."""
        fees: tuple[int | None, ...] = self.fees if self.amm == "v3" else (None,) * (len(self.path) - 1)
        return tuple(Hop(a, b, f) for a, b, f in zip(self.path[:-1], self.path[1:], fees, strict=True))


class DuplicateSelector(KeyError):
    """Two router functions were registered under one selector."""


@dataclass(frozen=True, slots=True)
class _Call:
    """What a handler knows about the call it decodes."""

    to: Address | None
    sender: Address | None
    value: int
    deadline: int | None  # a multicall's deadline, for the calls inside it
    depth: int
    method: str = ""  # the function being decoded (one handler serves several variants)


_Handler = Callable[[tuple[Any, ...], _Call], list[SwapIntent]]


@dataclass(frozen=True, slots=True)
class _Spec:
    signature: str
    method: str
    types: tuple[str, ...]
    fn: _Handler


SELECTORS: dict[bytes, _Spec] = {}
"""4-byte selector -> the router function it dispatches to."""


def _split_types(args: str) -> tuple[str, ...]:
    """Top-level comma split of an ABI argument list (tuples keep their commas)."""
    out: list[str] = []
    depth = start = 0
    for i, ch in enumerate(args):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(args[start:i])
            start = i + 1
    if args:
        out.append(args[start:])
    return tuple(out)


def _on(*signatures: str) -> Callable[[_Handler], _Handler]:
    """Register ``fn`` for every canonical ``signature``; a selector registered twice raises."""

    def deco(fn: _Handler) -> _Handler:
        for sig in signatures:
            key = bytes.fromhex(_selector(sig)[2:])
            if key in SELECTORS:
                raise DuplicateSelector(
                    f"{sig}: selector 0x{key.hex()} already is {SELECTORS[key].signature}"
                )
            name, _, args = sig.partition("(")
            SELECTORS[key] = _Spec(sig, name, _split_types(args[:-1]), fn)
        return fn

    return deco


def _addr(v: str) -> Address:
    return Address(v.lower())


def _recipient(raw: str, call: _Call, *, sentinels: bool, zero_is_router: bool = False) -> Address:
    a = raw.lower()
    if sentinels:
        if a == _MSG_SENDER and call.sender is not None:
            return call.sender
        if a == _ADDRESS_THIS and call.to is not None:
            return call.to
    if zero_is_router and a == _ZERO and call.to is not None:
        return call.to
    return Address(a)


def decode_v3_path(path: bytes) -> tuple[tuple[Address, ...], tuple[int, ...]]:
    """Tokens and fee tiers of a packed V3 path ``token (20) | fee (3) | token (20) | ...``.

    >>> decode_v3_path(bytes(20) + (500).to_bytes(3, "big") + b"\\x01" * 20)[1]
    (500,)
    """
    if len(path) < 43 or (len(path) - 20) % 23:
        raise ValueError(f"malformed V3 path of {len(path)} bytes")
    tokens = [_addr("0x" + path[0:20].hex())]
    fees: list[int] = []
    for k in range(20, len(path), 23):
        fees.append(int.from_bytes(path[k : k + 3], "big"))
        tokens.append(_addr("0x" + path[k + 3 : k + 23].hex()))
    return tuple(tokens), tuple(fees)


def _intent(
    call: _Call,
    amm: Literal["v2", "v3"],
    method: str,
    path: Sequence[str],
    fees: tuple[int, ...],
    *,
    exact_in: bool,
    amount: int | None,
    limit: int | None,
    recipient: Address,
    deadline: int | None,
    eth_in: bool = False,
    eth_out: bool = False,
    fee_on_transfer: bool = False,
) -> list[SwapIntent]:
    """One intent (none for a path of fewer than two tokens): ``amount`` and ``limit`` are the
    exact input and the least output, or the exact output and the most input."""
    if len(path) < 2:
        return []
    return [
        SwapIntent(
            router=call.to,
            amm=amm,
            method=method,
            path=tuple(_addr(t) for t in path),
            fees=fees,
            exact_in=exact_in,
            amount_in=amount if exact_in else None,
            amount_out_min=limit if exact_in else None,
            amount_out=None if exact_in else amount,
            amount_in_max=None if exact_in else limit,
            recipient=recipient,
            deadline=deadline,
            eth_in=eth_in,
            eth_out=eth_out,
            fee_on_transfer=fee_on_transfer,
        )
    ]


def _v3_route(path: bytes, *, exact_in: bool) -> tuple[tuple[Address, ...], tuple[int, ...]]:
    """Tokens and fees of a packed V3 path in trade order (an exact-output path is encoded output
    first)."""
    tokens, fees = decode_v3_path(path)
    return (tokens, fees) if exact_in else (tokens[::-1], fees[::-1])


# -- Uniswap V2 Router02 (and forks), SwapRouter02's V2 functions ------------------------------
# One handler serves every V2 swap function; the signature table says how its arguments read.
# Router02 functions end with a deadline and pay the recipient as given; SwapRouter02's take the
# deadline from an enclosing multicall, know the recipient sentinels and read an exact input of 0
# as "the router's balance". An ETH-in function's input is msg.value: the exact input, or the
# most an exact output may cost.
def _v2_handler(*, exact_in: bool, eth_in: bool = False, router02: bool = False) -> _Handler:
    def handler(a: tuple[Any, ...], call: _Call) -> list[SwapIntent]:
        args = list(a)
        if eth_in:
            args.insert(0 if exact_in else 1, call.value)
        amount, limit, path, to = args[:4]
        method = call.method
        return _intent(
            call,
            "v2",
            method,
            path,
            (),
            exact_in=exact_in,
            amount=_balance_or(amount) if router02 and exact_in else amount,
            limit=limit,
            recipient=_recipient(to, call, sentinels=True) if router02 else _addr(to),
            deadline=call.deadline if router02 else args[4],
            eth_in=eth_in,
            eth_out="ETH" in method.partition("For")[2],
            fee_on_transfer="FeeOnTransfer" in method,
        )

    return handler


_V2_SWAP = "(uint256,uint256,address[],address,uint256)"
_V2_ETH_IN = "(uint256,address[],address,uint256)"
for _sig, _handler in (
    ("swapExactTokensForTokens" + _V2_SWAP, _v2_handler(exact_in=True)),
    ("swapExactTokensForETH" + _V2_SWAP, _v2_handler(exact_in=True)),
    ("swapExactTokensForTokensSupportingFeeOnTransferTokens" + _V2_SWAP, _v2_handler(exact_in=True)),
    ("swapExactTokensForETHSupportingFeeOnTransferTokens" + _V2_SWAP, _v2_handler(exact_in=True)),
    ("swapExactETHForTokens" + _V2_ETH_IN, _v2_handler(exact_in=True, eth_in=True)),
    (
        "swapExactETHForTokensSupportingFeeOnTransferTokens" + _V2_ETH_IN,
        _v2_handler(exact_in=True, eth_in=True),
    ),
    ("swapTokensForExactTokens" + _V2_SWAP, _v2_handler(exact_in=False)),
    ("swapTokensForExactETH" + _V2_SWAP, _v2_handler(exact_in=False)),
    ("swapETHForExactTokens" + _V2_ETH_IN, _v2_handler(exact_in=False, eth_in=True)),
    # SwapRouter02
    (
        "swapExactTokensForTokens(uint256,uint256,address[],address)",
        _v2_handler(exact_in=True, router02=True),
    ),
    (
        "swapTokensForExactTokens(uint256,uint256,address[],address)",
        _v2_handler(exact_in=False, router02=True),
    ),
):
    _on(_sig)(_handler)


# -- Uniswap V3 SwapRouter and SwapRouter02 -----------------------------------------------------
# Its CONTRACT_BALANCE sentinel for an input amount is 0 (use what the router holds).
def _balance_or(amount: int) -> int | None:
    return None if amount == 0 else amount


def _v3_handler(*, single: bool, exact_in: bool, router02: bool) -> _Handler:
    """The handler of one params-struct function: ``(tokenIn, tokenOut, fee, recipient, ...)`` for
    a single pool, ``(path, recipient, ...)`` for a route, then ``[deadline,] amount, limit``:
    SwapRouter's structs carry the deadline, SwapRouter02's take it from an enclosing multicall
    (and know the recipient sentinels and the 0 = balance input)."""

    def handler(a: tuple[Any, ...], call: _Call) -> list[SwapIntent]:
        p = list(a[0])
        head, rest = (p[:4], p[4:]) if single else (p[:2], p[2:])
        deadline = call.deadline if router02 else rest.pop(0)
        amount, limit = rest[0], rest[1]
        if router02:
            recipient = _recipient(head[-1], call, sentinels=True)
            amount = _balance_or(amount) if exact_in else amount
        else:
            recipient = _recipient(head[-1], call, sentinels=False, zero_is_router=True)
        tokens, fees = ((head[0], head[1]), (head[2],)) if single else _v3_route(head[0], exact_in=exact_in)
        return _intent(
            call,
            "v3",
            call.method,
            tokens,
            fees,
            exact_in=exact_in,
            amount=amount,
            limit=limit,
            recipient=recipient,
            deadline=deadline,
        )

    return handler


_SR_SINGLE = "((address,address,uint24,address,uint256,uint256,uint256,uint160))"
_SR_PATH = "((bytes,address,uint256,uint256,uint256))"
_SR2_SINGLE = "((address,address,uint24,address,uint256,uint256,uint160))"
_SR2_PATH = "((bytes,address,uint256,uint256))"
for _sig, _handler in (
    ("exactInputSingle" + _SR_SINGLE, _v3_handler(single=True, exact_in=True, router02=False)),
    ("exactInput" + _SR_PATH, _v3_handler(single=False, exact_in=True, router02=False)),
    ("exactOutputSingle" + _SR_SINGLE, _v3_handler(single=True, exact_in=False, router02=False)),
    ("exactOutput" + _SR_PATH, _v3_handler(single=False, exact_in=False, router02=False)),
    ("exactInputSingle" + _SR2_SINGLE, _v3_handler(single=True, exact_in=True, router02=True)),
    ("exactInput" + _SR2_PATH, _v3_handler(single=False, exact_in=True, router02=True)),
    ("exactOutputSingle" + _SR2_SINGLE, _v3_handler(single=True, exact_in=False, router02=True)),
    ("exactOutput" + _SR2_PATH, _v3_handler(single=False, exact_in=False, router02=True)),
):
    _on(_sig)(_handler)


# -- multicalls (SwapRouter, SwapRouter02) ------------------------------------------------------
def _inner(calls: list[bytes], call: _Call, deadline: int | None) -> list[SwapIntent]:
    if call.depth >= _MAX_DEPTH:
        return []
    sub = replace(call, deadline=deadline, depth=call.depth + 1)
    out: list[SwapIntent] = []
    for data in calls:
        out.extend(_decode(data, sub))
    return out


@_on("multicall(bytes[])")
def _multicall(a: tuple[Any, ...], call: _Call) -> list[SwapIntent]:
    return _inner(list(a[0]), call, call.deadline)


@_on("multicall(uint256,bytes[])")
def _multicall_deadline(a: tuple[Any, ...], call: _Call) -> list[SwapIntent]:
    return _inner(list(a[1]), call, a[0])


@_on("multicall(bytes32,bytes[])")
def _multicall_blockhash(a: tuple[Any, ...], call: _Call) -> list[SwapIntent]:
    return _inner(list(a[1]), call, call.deadline)


# -- Universal Router ---------------------------------------------------------------------------
UR_COMMANDS: dict[int, str] = {
    0x00: "V3_SWAP_EXACT_IN",
    0x01: "V3_SWAP_EXACT_OUT",
    0x02: "PERMIT2_TRANSFER_FROM",
    0x03: "PERMIT2_PERMIT_BATCH",
    0x04: "SWEEP",
    0x05: "TRANSFER",
    0x06: "PAY_PORTION",
    0x08: "V2_SWAP_EXACT_IN",
    0x09: "V2_SWAP_EXACT_OUT",
    0x0A: "PERMIT2_PERMIT",
    0x0B: "WRAP_ETH",
    0x0C: "UNWRAP_WETH",
    0x0D: "PERMIT2_TRANSFER_FROM_BATCH",
    0x0E: "BALANCE_CHECK_ERC20",
    0x21: "EXECUTE_SUB_PLAN",
}
"""Universal Router command types this module knows by name (``Commands.sol``); the swap
commands and ``EXECUTE_SUB_PLAN`` are decoded, the others skipped. Unnamed types (NFT markets,
V4, position manager calls) are skipped too."""

_UR_FLAG_ALLOW_REVERT = 0x80
_UR_TYPE_MASK = 0x3F
_UR_SWAP = ("address", "uint256", "uint256", "bytes", "bool")
_UR_V2_SWAP = ("address", "uint256", "uint256", "address[]", "bool")
_UR_SWAPS: dict[str, tuple[Literal["v2", "v3"], bool]] = {  # command -> (amm, exact input)
    "V3_SWAP_EXACT_IN": ("v3", True),
    "V3_SWAP_EXACT_OUT": ("v3", False),
    "V2_SWAP_EXACT_IN": ("v2", True),
    "V2_SWAP_EXACT_OUT": ("v2", False),
}


def _ur_amount(v: int, *, v2: bool) -> int | None:
    if v == _UR_CONTRACT_BALANCE or (v2 and v == 0):
        return None
    return v


def _ur_plan(commands: bytes, inputs: list[bytes], call: _Call, deadline: int | None) -> list[SwapIntent]:
    out: list[SwapIntent] = []
    for k, cmd in enumerate(commands):
        if k >= len(inputs):
            break
        kind = cmd & _UR_TYPE_MASK
        name = UR_COMMANDS.get(kind)
        flag = bool(cmd & _UR_FLAG_ALLOW_REVERT)
        data = inputs[k]
        found: list[SwapIntent]
        swap = _UR_SWAPS.get(name or "")
        if swap is not None:
            amm, exact_in = swap
            v2 = amm == "v2"
            to, amount, limit, path, _payer = abi_decode(_UR_V2_SWAP if v2 else _UR_SWAP, data)
            tokens, fees = (path, ()) if v2 else _v3_route(path, exact_in=exact_in)
            found = _intent(
                call,
                amm,
                name or "",
                tokens,
                fees,
                exact_in=exact_in,
                amount=_ur_amount(amount, v2=v2) if exact_in else amount,
                limit=limit,
                recipient=_recipient(to, call, sentinels=True),
                deadline=deadline,
            )
        elif name == "EXECUTE_SUB_PLAN" and call.depth < _MAX_DEPTH:
            sub_cmds, sub_inputs = abi_decode(("bytes", "bytes[]"), data)
            found = _ur_plan(sub_cmds, list(sub_inputs), replace(call, depth=call.depth + 1), deadline)
        else:
            found = []
        if flag:
            found = [replace(i, allow_revert=True) for i in found]
        out.extend(found)
    return out


@_on("execute(bytes,bytes[])")
def _ur_execute(a: tuple[Any, ...], call: _Call) -> list[SwapIntent]:
    return _ur_plan(a[0], list(a[1]), call, call.deadline)


@_on("execute(bytes,bytes[],uint256)")
def _ur_execute_deadline(a: tuple[Any, ...], call: _Call) -> list[SwapIntent]:
    return _ur_plan(a[0], list(a[1]), call, a[2])


# -- entry point --------------------------------------------------------------------------------
def _decode(data: bytes, call: _Call) -> list[SwapIntent]:
    spec = SELECTORS.get(data[:4])
    if spec is None:
        return []
    try:
        args = abi_decode(spec.types, data[4:], strict=False)
    except (DecodingError, ValueError, OverflowError):
        return []
    try:
        return spec.fn(args, _Call(call.to, call.sender, call.value, call.deadline, call.depth, spec.method))
    except (DecodingError, ValueError, OverflowError, TypeError):
        return []  # a malformed inner payload (path, plan): the router would revert too


def decode_swaps(
    data: str | bytes,
    *,
    to: str | None = None,
    sender: str | None = None,
    value: int = 0,
) -> tuple[SwapIntent, ...]:
    """The swaps a router call with calldata ``data`` asks for, in execution order.

    Args:
        data: the transaction input (``0x`` hex or bytes).
        to: the contract called, recorded as :attr:`SwapIntent.router` and used to resolve the
            "the router itself" recipient sentinels; dispatch never depends on it.
        sender: the transaction's sender, for the "the caller" recipient sentinel.
        value: ``msg.value`` in wei (the input of the V2 ETH-in functions).

    Returns:
        The intents; empty for an unknown selector or calldata that does not decode.
    """
    raw = bytes.fromhex(data[2:] if data[:2] in ("0x", "0X") else data) if isinstance(data, str) else data
    if len(raw) < 4:
        return ()
    call = _Call(
        Address(to.lower()) if to else None, Address(sender.lower()) if sender else None, value, None, 0
    )
    return tuple(_decode(raw, call))
