"""Blocks in, stored findings out: detection batched over many blocks, writes per block.

Blocks are taken in chunks (``chunk`` blocks, the detectors' batch); each chunk is decoded and
detected as one graph, with the previous chunk's last blocks as context, then every block of the
chunk is written with its findings -- also blocks without any, so the store knows what it has
seen and can detect a reorg. A block without a hash (some fixture files) is stored under
``"unknown:<number>"``: idempotent, but a reorg of it cannot be recognised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from mevgraph.core.types import Block
from mevgraph.decode.decoder import DecodedBlock
from mevgraph.detection.base import Finding
from mevgraph.pipeline import CONTEXT_BLOCKS, BlockError, InspectStats, inspect_blocks
from mevgraph.store.base import BlockRecord, Store
from mevgraph.store.rows import block_record

__all__ = ["IngestStats", "ingest"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class IngestStats:
    blocks: int = 0
    unchanged: int = 0
    opportunities: int = 0
    reorged: list[int] = field(default_factory=list)
    inspect: InspectStats = field(default_factory=InspectStats)


def _record(d: DecodedBlock) -> BlockRecord:
    """The store's record of ``d`` (a missing hash becomes ``unknown:<number>``)."""
    b = d.block if d.block.hash else replace(d.block, hash=f"unknown:{d.block.number}")
    return block_record(b, d)


def ingest(
    store: Store,
    blocks: Iterable[Block | BlockError],
    *,
    chunk: int = 64,
    on_written: Callable[[BlockRecord, int], None] | None = None,
) -> IngestStats:
    """Detect over ``blocks`` and write them into ``store``; returns counts."""
    st = IngestStats()
    context: list[Block] = []
    pending: list[Block | BlockError] = []

    def flush() -> None:
        nonlocal context
        if not pending:
            return
        records: list[BlockRecord] = []
        found: list[Finding] = list(
            inspect_blocks(
                pending,
                stats=st.inspect,
                context=context,
                batch_size=len(pending),
                on_decoded=lambda d: records.append(_record(d)),
            )
        )
        by_block: dict[tuple[int, int], list[Finding]] = {}
        for f in found:
            by_block.setdefault((f.chain_id, f.block_number), []).append(f)
        for rec in records:
            res = store.ingest_block(rec, by_block.get((rec.chain_id, rec.number), []))
            st.blocks += 1
            st.unchanged += res.unchanged
            st.opportunities += res.written
            st.reorged.extend(res.reorged)
            if on_written is not None:
                on_written(rec, res.written)
        context = [b for b in pending if isinstance(b, Block)][-CONTEXT_BLOCKS:]
        pending.clear()

    for b in blocks:
        pending.append(b)
        if len(pending) >= chunk:
            flush()
    flush()
    return st
