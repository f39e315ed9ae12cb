"""Minimal, fast ABI word access for hot decode paths.

Calldata and return data arrive as ``0x`` hex strings. Decoders read 32-byte words by index
instead of running a general ABI decoder: a word read is one slice and one ``int()``.
Offsets below are in *words* of the payload after the 4-byte selector (for calldata) or of
the whole payload (for return data / log data).
"""

from __future__ import annotations

from functools import cache

from Crypto.Hash import keccak

from mevgraph.core.types import Address

__all__ = [
    "keccak_hex",
    "selector",
    "topic",
    "args",
    "word",
    "int_word",
    "addr_word",
    "topic_addr",
    "n_words",
    "dyn_array",
    "ABIError",
]


class ABIError(ValueError):
    """Payload too short or malformed for the expected layout."""


def keccak_hex(data: bytes) -> str:
    h = keccak.new(digest_bits=256)
    h.update(data)
    return "0x" + h.hexdigest()


@cache
def selector(signature: str) -> str:
    """``selector("transfer(address,uint256)") == "0xa9059cbb"``."""
    return keccak_hex(signature.encode())[:10]


@cache
def topic(signature: str) -> str:
    """Event topic0 of a canonical event signature."""
    return keccak_hex(signature.encode())


def args(calldata: str) -> str:
    """Hex payload of a call's arguments (selector stripped, no ``0x``)."""
    return calldata[10:]


def n_words(payload: str) -> int:
    return len(payload) // 64


def word(payload: str, i: int) -> int:
    """Word ``i`` of ``payload`` (hex, no ``0x``) as an unsigned int."""
    s = payload[64 * i : 64 * i + 64]
    if len(s) != 64:
        raise ABIError(f"word {i} out of range ({len(payload) // 64} words)")
    return int(s, 16)


def int_word(payload: str, i: int) -> int:
    """Word ``i`` as a two's-complement signed int256."""
    v = word(payload, i)
    return v - (1 << 256) if v >> 255 else v


def addr_word(payload: str, i: int) -> Address:
    s = payload[64 * i : 64 * i + 64]
    if len(s) != 64:
        raise ABIError(f"word {i} out of range ({len(payload) // 64} words)")
    return Address("0x" + s[24:].lower())


def topic_addr(t: str) -> Address:
    """An indexed address topic (``0x`` + 64 hex) as an address."""
    return Address("0x" + t[-40:].lower())


def dyn_array(payload: str, head_index: int) -> list[int]:
    """A dynamic ``uint256[]``/``address[]`` argument whose offset sits in word ``head_index``."""
    off = word(payload, head_index) // 32
    n = word(payload, off)
    if n > 10_000:
        raise ABIError(f"array length {n} implausible")
    return [word(payload, off + 1 + k) for k in range(n)]
