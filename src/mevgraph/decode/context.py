"""Per-transaction views handed to protocol handlers.

A handler receives a context and the index of the frame (trace) or event (log) that matched its
key. The context gives it what a protocol needs beyond that one item -- the frame's children,
whether any ancestor reverted, the transaction's balance movements decoded in phase 0, the
block's fee recipient -- without handlers ever touching the raw source format.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from mevgraph.core.actions import ActionSource, Transfer
from mevgraph.core.types import Address, Block, Log, Receipt, Trace, Transaction, TxHash

_ERROR = attrgetter("error")

__all__ = ["TraceContext", "LogContext"]


@dataclass(slots=True)
class TraceContext:
    """The trace frames of one transaction, in execution (DFS pre-) order."""

    block: Block
    tx_hash: TxHash
    tx_index: int
    frames: list[Trace]
    tx: Transaction | None = None
    # Filled by the decoder:
    reverted: list[bool] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)
    # One dict shared by every transaction of the block (facts that span transactions).
    block_cache: dict[str, Any] = field(default_factory=dict)
    _children: list[list[int]] | None = None

    def __post_init__(self) -> None:
        frames = self.frames
        n = len(frames)
        if not any(map(_ERROR, frames)):  # errors are None or a non-empty message
            # The common case: nothing reverted, and children are only built if a handler asks.
            self.reverted = [False] * n
            return
        self.reverted = [False] * n
        index_of: dict[tuple[int, ...], int] = {}
        for i, fr in enumerate(frames):
            ta = fr.trace_address
            index_of[ta] = i
            parent_reverted = False
            if ta:
                p = index_of.get(ta[:-1])
                if p is not None:
                    parent_reverted = self.reverted[p]
            self.reverted[i] = parent_reverted or fr.error is not None

    @property
    def children(self) -> list[list[int]]:
        """Child frame indices of every frame (built on first use)."""
        kids = self._children
        if kids is None:
            kids = [[] for _ in self.frames]
            index_of: dict[tuple[int, ...], int] = {}
            for i, fr in enumerate(self.frames):
                ta = fr.trace_address
                index_of[ta] = i
                if ta:
                    p = index_of.get(ta[:-1])
                    if p is not None:
                        kids[p].append(i)
            self._children = kids
        return kids

    @property
    def chain_id(self) -> int:
        return self.block.chain_id

    @property
    def miner(self) -> Address | None:
        return self.block.miner

    @property
    def tx_reverted(self) -> bool:
        return bool(self.frames) and self.frames[0].error is not None

    def base(self, i: int, protocol: str) -> dict[str, Any]:
        """Keyword arguments shared by every action decoded from frame ``i``."""
        return {
            "chain_id": self.block.chain_id,
            "block_number": self.block.number,
            "tx_hash": self.tx_hash,
            "tx_index": self.tx_index,
            "protocol": protocol,
            "source": ActionSource.TRACE,
            "trace_address": self.frames[i].trace_address,
        }

    def descendants(self, i: int) -> Iterator[int]:
        """Indices of all frames below frame ``i`` (execution order)."""
        stack = list(reversed(self.children[i]))
        while stack:
            j = stack.pop()
            yield j
            stack.extend(reversed(self.children[j]))

    def transfers_under(self, i: int) -> list[Transfer]:
        """Phase-0 transfers emitted by frame ``i`` or its descendants."""
        prefix = self.frames[i].trace_address
        n = len(prefix)
        return [t for t in self.transfers if t.trace_address is not None and t.trace_address[:n] == prefix]

    def transfers_before(self, i: int) -> list[Transfer]:
        """Phase-0 transfers that executed before frame ``i`` started (not its descendants)."""
        ta = self.frames[i].trace_address
        return [t for t in self.transfers if t.trace_address is not None and t.trace_address < ta]


@dataclass(slots=True)
class LogContext:
    """The logs of one transaction, in log-index order, with its receipt and tx when known."""

    block: Block
    tx_hash: TxHash
    tx_index: int
    logs: list[Log]
    receipt: Receipt | None = None
    tx: Transaction | None = None
    transfers: list[Transfer] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)
    # One dict shared by every transaction of the block (facts that span transactions).
    block_cache: dict[str, Any] = field(default_factory=dict)

    @property
    def chain_id(self) -> int:
        return self.block.chain_id

    @property
    def miner(self) -> Address | None:
        return self.block.miner

    def base(self, i: int, protocol: str) -> dict[str, Any]:
        """Keyword arguments shared by every action decoded from log ``i``."""
        return {
            "chain_id": self.block.chain_id,
            "block_number": self.block.number,
            "tx_hash": self.tx_hash,
            "tx_index": self.tx_index,
            "protocol": protocol,
            "source": ActionSource.LOG,
            "log_index": self.logs[i].log_index,
        }
