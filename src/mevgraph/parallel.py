"""Inspection on several CPU cores: contiguous shards of blocks, one worker process each.

Decoding and detection are CPU-bound Python, so threads would share one core (the GIL);
blocks are independent once each shard also sees the :data:`~mevgraph.pipeline.CONTEXT_BLOCKS`
blocks before it, so shards go to worker processes and only the (small) findings come back.
Results are identical to the single-process run: every block is owned by exactly one shard, and
shards are cut at the same places a single run would see as context.

Two entry points: :func:`inspect_files_parallel` (workers also read and parse the files, which
is where most of the time goes for a directory of blocks) and :func:`inspect_loaded_parallel`
(blocks already in memory, sent once to each worker when it starts).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from mevgraph.core.types import Block
from mevgraph.detection.base import Finding
from mevgraph.pipeline import CONTEXT_BLOCKS, InspectStats, inspect_blocks, read_block_or_error

__all__ = ["inspect_files_parallel", "inspect_loaded_parallel", "shards", "balanced_shards", "LoadedPool"]


def shards(n: int, size: int) -> list[tuple[int, int]]:
    """Half-open index ranges of at most ``size`` items covering ``range(n)``.

    >>> shards(5, 2)
    [(0, 2), (2, 4), (4, 5)]
    """
    return [(i, min(i + size, n)) for i in range(0, n, size)]


GRAPH_COST_FRAMES = 2_000
"""A new property graph costs about as much as decoding this many trace frames (the fixed
cost of the detectors' queries), measured on the shared mainnet blocks."""


def balanced_shards(blocks: Sequence[Block], parts: int) -> list[tuple[int, int]]:
    """Cut ``blocks`` into at most ``parts`` contiguous ranges of about equal estimated cost.

    Cost of a block: its trace frames (or logs), plus :data:`GRAPH_COST_FRAMES` where the
    pipeline must start a new graph (a repeated, out-of-order or other-chain block).
    """
    costs: list[int] = []
    prev: Block | None = None
    for b in blocks:
        c = len(b.traces) if b.traces is not None else sum(len(r.logs) for r in b.receipts or ())
        if prev is None or prev.chain_id != b.chain_id or b.number <= prev.number:
            c += GRAPH_COST_FRAMES
        costs.append(max(c, 1))
        prev = b
    total = sum(costs)
    out: list[tuple[int, int]] = []
    start, acc = 0, 0
    for i, c in enumerate(costs):
        acc += c
        if len(out) < parts - 1 and acc >= total * (len(out) + 1) / parts and i + 1 < len(costs):
            out.append((start, i + 1))
            start = i + 1
    if start < len(costs):
        out.append((start, len(costs)))
    return out


def _files_shard(args: tuple[list[Path], list[Path], int, int]) -> tuple[list[Finding], InspectStats]:
    paths, context_paths, chain_id, batch_size = args
    ctx = [b for b in (read_block_or_error(p, chain_id) for p in context_paths) if isinstance(b, Block)]
    stats = InspectStats()
    found = list(
        inspect_blocks(
            (read_block_or_error(p, chain_id) for p in paths), batch_size=batch_size, stats=stats, context=ctx
        )
    )
    return found, stats


def inspect_files_parallel(
    files: Sequence[Path],
    *,
    workers: int = 2,
    chain_id: int = 1,
    shard_size: int = 16,
    batch_size: int = 128,
    stats: InspectStats | None = None,
    on_shard: Callable[[int], None] | None = None,
) -> Iterator[Finding]:
    """Findings of ``files`` (in block order) computed by ``workers`` processes.

    ``on_shard(n_files)`` is called as each shard completes (for a progress bar).
    """
    st = stats if stats is not None else InspectStats()
    jobs = [
        (list(files[a:b]), list(files[max(0, a - CONTEXT_BLOCKS) : a]), chain_id, batch_size)
        for a, b in shards(len(files), shard_size)
    ]
    with mp.get_context("spawn").Pool(workers, initializer=_one_duckdb_thread) as pool:
        for (found, s), job in zip(pool.imap(_files_shard, jobs), jobs, strict=True):
            _merge(st, s)
            if on_shard is not None:
                on_shard(len(job[0]))
            yield from found


def _merge(into: InspectStats, s: InspectStats) -> None:
    into.blocks += s.blocks
    into.txs += s.txs
    into.actions += s.actions
    into.skips.extend(s.skips)
    into.errors.extend(s.errors)
    for k, v in s.modes.items():
        into.modes[k] = into.modes.get(k, 0) + v
    into.decode_s += s.decode_s
    into.detect_s += s.detect_s


# The blocks a LoadedPool worker serves, sent once when the worker starts.
_LOADED: list[Block] = []


def _init_loaded(blocks: list[Block]) -> None:
    global _LOADED
    _one_duckdb_thread()
    _LOADED = blocks


def _one_duckdb_thread() -> None:
    from mevgraph.core.chains import apply_from_env

    os.environ["MEVGRAPH_DUCKDB_THREADS"] = "1"
    apply_from_env()  # chain profiles of the parent (spawned workers start from scratch)


def _loaded_shard(rng: tuple[int, int]) -> list[Finding]:
    a, b = rng
    return list(inspect_blocks(_LOADED[a:b], context=_LOADED[max(0, a - CONTEXT_BLOCKS) : a]))


class LoadedPool:
    """A warm pool of worker processes over blocks already in memory (benchmarks, notebooks).

    >>> # with LoadedPool(blocks, workers=2) as pool: findings = pool.run()
    """

    def __init__(self, blocks: Sequence[Block], workers: int = 2) -> None:
        # Not "fork": the parent may already run DuckDB and Arrow thread pools, and forking a
        # threaded process can deadlock the child. Workers start clean and get the blocks once.
        self._n = len(blocks)
        self._workers = workers
        self._balanced = balanced_shards(blocks, workers)
        self._pool = mp.get_context("forkserver").Pool(
            workers, initializer=_init_loaded, initargs=(list(blocks),)
        )

    def run(self, shard_size: int | None = None) -> list[Finding]:
        """All findings; one shard per worker balanced by estimated cost, or fixed-size shards."""
        ranges = shards(self._n, shard_size) if shard_size else self._balanced
        out: list[Finding] = []
        for found in self._pool.map(_loaded_shard, ranges):
            out.extend(found)
        return out

    def close(self) -> None:
        self._pool.close()
        self._pool.join()

    def __enter__(self) -> LoadedPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def inspect_loaded_parallel(blocks: Sequence[Block], *, workers: int = 2) -> list[Finding]:
    """One-shot :class:`LoadedPool` run."""
    with LoadedPool(blocks, workers) as pool:
        return pool.run()
