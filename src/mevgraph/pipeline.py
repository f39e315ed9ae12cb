"""End-to-end inspection: blocks in, findings out.

``ingest`` (files or a node) yields :class:`~mevgraph.core.types.Block` s; each is decoded on its
own (one bad transaction never stops a block, one bad block never stops the run); decoded blocks
are grouped into batches that become one property graph each, so the detectors' joins run over
many blocks at once. Consecutive batches overlap by :data:`CONTEXT_BLOCKS` blocks so that motifs
spanning a batch boundary (a frontrun unwound a block later) still see their neighbours; findings
are reported once, by the batch that owns their block.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mevgraph.core.types import Block
from mevgraph.decode.decoder import DecodedBlock, Skip, decode_block
from mevgraph.detection.base import Finding
from mevgraph.detection.engine import find
from mevgraph.graph.tables import GasSource, PropertyGraph
from mevgraph.pricing.sources import PriceSource

__all__ = ["InspectStats", "inspect_blocks", "read_block_or_error", "CONTEXT_BLOCKS", "BlockError"]

log = logging.getLogger(__name__)

CONTEXT_BLOCKS = 2
"""Blocks of the previous batch kept as context (the frontrun rule looks 2 blocks ahead)."""


@dataclass(frozen=True, slots=True)
class BlockError:
    """A block (or file) that could not be read or decoded at all, with the reason."""

    where: str
    reason: str


def read_block_or_error(path: Path, chain_id: int = 1) -> Block | BlockError:
    """The block in ``path``, or a :class:`BlockError` saying why the file cannot be read."""
    from mevgraph.ingest.files import read_block_file

    try:
        return read_block_file(path, chain_id=chain_id)
    except Exception as exc:  # an unreadable file is reported, the run goes on
        return BlockError(str(path), f"{type(exc).__name__}: {exc}")


@dataclass(slots=True)
class InspectStats:
    blocks: int = 0
    txs: int = 0
    actions: int = 0
    skips: list[Skip] = field(default_factory=list)
    errors: list[BlockError] = field(default_factory=list)
    modes: dict[str, int] = field(default_factory=dict)
    decode_s: float = 0.0
    detect_s: float = 0.0


def inspect_blocks(
    blocks: Iterable[Block | BlockError],
    *,
    price_source: PriceSource | None = None,
    batch_size: int = 128,
    stats: InspectStats | None = None,
    on_block: Callable[[Block], None] | None = None,
    on_decoded: Callable[[DecodedBlock], None] | None = None,
    on_graph: Callable[[PropertyGraph, list[DecodedBlock]], None] | None = None,
    context: Sequence[Block | DecodedBlock] = (),
    gas_source: GasSource | None = None,
) -> Iterator[Finding]:
    """Decode, graph and detect over ``blocks``; yields findings batch by batch.

    ``blocks`` may interleave :class:`BlockError` items (unreadable inputs): they are recorded in
    ``stats.errors`` and skipped. ``context`` blocks (those just before ``blocks``, e.g. the end
    of the previous shard) are seen by the detectors but none of their findings is reported;
    already decoded ones are not decoded again. ``on_graph(graph, batch)`` sees each batch's
    property graph before it is closed (e.g. to store its edges without building it twice).
    ``gas_source`` answers for txs decoded without a ``gasUsed`` (blocks fetched with deferred
    receipts: :class:`~mevgraph.ingest.rpc.RpcClient`), see ``PropertyGraph.ensure_gas``.
    """
    st = stats if stats is not None else InspectStats()
    carried: list[DecodedBlock] = [
        b if isinstance(b, DecodedBlock) else decode_block(b) for b in context[-CONTEXT_BLOCKS:]
    ]
    batch: list[DecodedBlock] = []

    def flush() -> Iterator[Finding]:
        nonlocal carried, batch
        if not batch:
            return
        owned = {(d.chain_id, d.number) for d in batch}
        t0 = time.perf_counter()
        graph = PropertyGraph.build(carried + batch, gas_source)
        try:
            findings = find(graph, price_source=price_source)
            if on_graph is not None:
                on_graph(graph, batch)
        finally:
            graph.close()
        st.detect_s += time.perf_counter() - t0
        for f in findings:
            if (f.chain_id, f.block_number) in owned:
                yield f
        carried = batch[-CONTEXT_BLOCKS:]
        batch = []

    for item in blocks:
        if isinstance(item, BlockError):
            st.errors.append(item)
            log.info("skipping %s: %s", item.where, item.reason)
            continue
        t0 = time.perf_counter()
        try:
            decoded = decode_block(item)
        except Exception as exc:  # the decoder guards per tx; this is a last line of defence
            st.errors.append(BlockError(f"block {item.number}", f"{type(exc).__name__}: {exc}"))
            log.exception("block %s failed to decode", item.number)
            continue
        st.decode_s += time.perf_counter() - t0
        st.blocks += 1
        st.txs += len(decoded.txs)
        st.actions += len(decoded.actions)
        st.skips.extend(decoded.skips)
        st.modes[decoded.mode] = st.modes.get(decoded.mode, 0) + 1
        if on_block is not None:
            on_block(item)
        if on_decoded is not None:
            on_decoded(decoded)
        last = batch[-1] if batch else (carried[-1] if carried else None)
        if last is not None and (last.chain_id != decoded.chain_id or decoded.number <= last.number):
            # A new chain, a repeated or an out-of-order block: the context no longer applies.
            yield from flush()
            carried = []
        batch.append(decoded)
        if len(batch) >= batch_size:
            yield from flush()
    yield from flush()
