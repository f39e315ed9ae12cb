"""ABI encoding for the testbed (calls, constructor args) on top of ``eth_abi``.

>>> encode_call("transfer(address,uint256)", "0x" + "11" * 20, 5).hex()[:8]
'a9059cbb'
"""

from __future__ import annotations

from typing import Any

from eth_abi import decode as _decode
from eth_abi import encode as _encode

from mevgraph.decode.abi import selector

__all__ = ["encode_call", "encode_args", "decode", "arg_types"]


def arg_types(signature: str) -> list[str]:
    """``"f(address,(uint256,bool)[])"`` -> ``["address", "(uint256,bool)[]"]`` (top level only)."""
    inner = signature[signature.index("(") + 1 : signature.rindex(")")]
    out: list[str] = []
    depth, cur = 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur:
        out.append(cur)
    return out


def encode_args(types: list[str], *args: Any) -> bytes:
    return _encode(types, list(args))


def encode_call(signature: str, *args: Any) -> bytes:
    """Selector of ``signature`` followed by the ABI-encoded ``args``."""
    sel = bytes.fromhex(selector(signature)[2:])
    return sel + _encode(arg_types(signature), list(args))


def decode(types: list[str], data: bytes) -> tuple[Any, ...]:
    return tuple(_decode(types, data))
