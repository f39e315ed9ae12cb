"""Blocks in, stored findings out: detection batched over many blocks, writes per block.

Blocks are taken in chunks (``chunk`` blocks, the detectors' batch); each chunk is decoded and
detected as one graph, with the previous chunk's last blocks as context, then every block of the
chunk is written with its findings -- also blocks without any, so the store knows what it has
seen and can detect a reorg. The chunk's property-graph edges are derived once per chunk
(:func:`~mevgraph.store.rows.graph_edges`) and written with their blocks. A block without a hash (some fixture files) is stored under
``"unknown:<number>"``: idempotent, but a reorg of it cannot be recognised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from mevgraph.core.types import Block
from mevgraph.decode.decoder import DecodedBlock
from mevgraph.detection.base import Finding
from mevgraph.graph.tables import GasSource, PropertyGraph
from mevgraph.pipeline import CONTEXT_BLOCKS, BlockError, InspectStats, inspect_blocks
from mevgraph.store.base import BlockRecord, EdgeRecord, IngestResult, Store
from mevgraph.store.rows import block_record, edges_from_graph

__all__ = ["IngestStats", "ingest"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class IngestStats:
    blocks: int = 0
    unchanged: int = 0
    opportunities: int = 0
    reorged: list[int] = field(default_factory=list)
    inspect: InspectStats = field(default_factory=InspectStats)
    write_s: float = 0.0  # in the store's ``ingest_block`` (decode and detect: ``inspect``)
    # the last decoded blocks, to pass as the next call's ``context`` (no decoding twice)
    look_back: list[DecodedBlock] = field(default_factory=list)


def _record(
    d: DecodedBlock,
    edges: tuple[EdgeRecord, ...],
    pending_seen: Callable[[Block], frozenset[str] | None] | None,
) -> BlockRecord:
    """The store's record of ``d`` (a missing hash becomes ``unknown:<number>``)."""
    b = d.block if d.block.hash else replace(d.block, hash=f"unknown:{d.block.number}")
    rec = block_record(b, d, edges)
    if pending_seen is not None:
        rec = replace(rec, pending_seen=pending_seen(d.block))
    return rec


def ingest(
    store: Store,
    blocks: Iterable[Block | BlockError],
    *,
    chunk: int = 64,
    on_written: Callable[[BlockRecord, int], None] | None = None,
    on_block: Callable[[BlockRecord, list[Finding], IngestResult], None] | None = None,
    pending_seen: Callable[[Block], frozenset[str] | None] | None = None,
    context: Sequence[Block | DecodedBlock] = (),
    gas_source: GasSource | None = None,
) -> IngestStats:
    """Detect over ``blocks`` and write them into ``store``; returns counts.

    Args:
        on_written: called with each stored block's record and its number of opportunities.
        on_block: called with each block's record, its findings and the store's answer (a live
            follower publishes alerts and retractions from it).
        pending_seen: the hashes of a block's txs that a mempool monitor saw pending (None when no
            monitor watched); it decides ``detection_method`` and private flow per finding.
        context: blocks just before ``blocks`` (already stored), for detectors that look back
            (a live follower passes its last few blocks, decoded: ``IngestStats.look_back``
            of the previous call; see ``pipeline.CONTEXT_BLOCKS``).
        gas_source: for blocks fetched with deferred receipts (see ``inspect_blocks``).
    """
    st = IngestStats()
    look_back: list[Block | DecodedBlock] = list(context)[-CONTEXT_BLOCKS:]
    pending: list[Block | BlockError] = []

    def flush() -> None:
        nonlocal look_back
        if not pending:
            return
        decoded: list[DecodedBlock] = []
        edges: dict[int, tuple[EdgeRecord, ...]] = {}  # id(decoded block) -> its edges

        def keep_edges(graph: PropertyGraph, batch: list[DecodedBlock]) -> None:
            # the detectors' own graph: its edges are stored without building it again
            per = edges_from_graph(graph, {(d.chain_id, d.number) for d in batch})
            for d in batch:
                edges[id(d)] = per.get((d.chain_id, d.number), ())

        found: list[Finding] = list(
            inspect_blocks(
                pending,
                stats=st.inspect,
                context=look_back,
                batch_size=len(pending),
                on_decoded=decoded.append,
                on_graph=keep_edges,
                gas_source=gas_source,
            )
        )
        records = [_record(d, edges.get(id(d), ()), pending_seen) for d in decoded]
        by_block: dict[tuple[int, int], list[Finding]] = {}
        for f in found:
            by_block.setdefault((f.chain_id, f.block_number), []).append(f)
        for rec in records:
            block_findings = by_block.get((rec.chain_id, rec.number), [])
            t0 = time.perf_counter()
            res = store.ingest_block(rec, block_findings)
            st.write_s += time.perf_counter() - t0
            st.blocks += 1
            st.unchanged += res.unchanged
            st.opportunities += res.written
            st.reorged.extend(res.reorged)
            if on_written is not None:
                on_written(rec, res.written)
            if on_block is not None:
                on_block(rec, block_findings, res)
        look_back = [*look_back, *decoded][-CONTEXT_BLOCKS:]
        st.look_back = [d for d in look_back if isinstance(d, DecodedBlock)]
        pending.clear()

    for b in blocks:
        pending.append(b)
        if len(pending) >= chunk:
            flush()
    flush()
    return st
