"""Chain data as mevgraph sees it: blocks, transactions, receipts, logs and traces.

Every source (fixture files, RPC bundles, a live node) is converted into these types by
``mevgraph.ingest``; nothing downstream ever sees source-specific field names.

Conventions (house style): addresses are lowercase ``0x`` hex strings, hashes likewise,
amounts are raw ``int`` (wei or token base units), and a value that the source did not
provide is ``None`` -- never a made-up zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NewType

__all__ = [
    "Address",
    "TxHash",
    "ETH",
    "ZERO_ADDRESS",
    "Log",
    "Trace",
    "Receipt",
    "Transaction",
    "Block",
    "normalize_address",
]

Address = NewType("Address", str)
"""A lowercase ``0x``-prefixed 20-byte hex address."""

TxHash = NewType("TxHash", str)
"""A lowercase ``0x``-prefixed 32-byte hex transaction hash."""

ETH = Address("0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee")
"""Pseudo token address used for the chain's native currency (ETH on mainnet)."""

ZERO_ADDRESS = Address("0x0000000000000000000000000000000000000000")


def normalize_address(value: str) -> Address:
    """Return ``value`` as a lowercase address, validating its shape.

    >>> normalize_address("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")
    '0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2'
    """
    if not isinstance(value, str) or len(value) != 42 or value[:2] not in ("0x", "0X"):
        raise ValueError(f"not an address: {value!r}")
    return Address(value.lower())


@dataclass(frozen=True, slots=True)
class Log:
    """One event log of a receipt."""

    address: Address
    topics: tuple[str, ...]
    data: str
    log_index: int
    tx_hash: TxHash
    tx_index: int
    removed: bool = False


@dataclass(frozen=True, slots=True)
class Trace:
    """One Parity-style trace frame (``trace_block`` / ``trace_transaction``).

    ``value`` is in wei, ``input``/``output`` are ``0x`` hex strings. ``error`` is the frame's own
    error; whether an *ancestor* reverted is worked out by the decoder (a frame whose parent
    reverted has no effect even when its own ``error`` is null).
    Reward frames (pre-Merge) have ``type == "reward"``, ``tx_hash is None`` and ``author`` set.
    """

    tx_hash: TxHash | None
    tx_index: int | None
    trace_address: tuple[int, ...]
    type: str
    call_type: str | None
    from_: Address | None
    to: Address | None
    value: int
    input: str
    output: str | None
    gas_used: int | None
    error: str | None
    subtraces: int
    author: Address | None = None
    reward_type: str | None = None

    @property
    def selector(self) -> str:
        """First four bytes of the call data (``"0x"`` plus 8 hex digits), or ``""``."""
        return self.input[:10] if len(self.input) >= 10 else ""


@dataclass(frozen=True, slots=True)
class Receipt:
    """A transaction receipt; every field but the hash and index may be unknown."""

    tx_hash: TxHash
    tx_index: int
    status: bool | None = None
    gas_used: int | None = None
    effective_gas_price: int | None = None
    cumulative_gas_used: int | None = None
    from_: Address | None = None
    to: Address | None = None
    contract_address: Address | None = None
    logs: tuple[Log, ...] = ()


@dataclass(frozen=True, slots=True)
class Transaction:
    """A transaction as included in a block.

    Sources without transaction objects (mev-inspect fixtures) synthesise them from the
    top-level trace frame; then ``nonce``, fee caps and ``gas`` stay ``None``.
    """

    hash: TxHash
    index: int
    from_: Address
    to: Address | None
    value: int
    input: str
    gas: int | None = None
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    nonce: int | None = None
    type: int | None = None


@dataclass(frozen=True, slots=True)
class Block:
    """A block with everything the source provided.

    ``receipts``/``traces`` are ``None`` when the source has none at all (logs-only nodes have
    no traces; a bare block has no receipts). ``notes`` records how fields were obtained or why
    they are missing (e.g. ``"miner from reward trace"``), for the user to read.
    """

    chain_id: int
    number: int
    hash: str | None = None
    parent_hash: str | None = None
    timestamp: int | None = None
    miner: Address | None = None
    base_fee_per_gas: int | None = None
    transactions: tuple[Transaction, ...] = ()
    receipts: tuple[Receipt, ...] | None = None
    traces: tuple[Trace, ...] | None = None
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def has_traces(self) -> bool:
        return self.traces is not None

    @property
    def has_logs(self) -> bool:
        return self.receipts is not None and any(r.logs for r in self.receipts)
