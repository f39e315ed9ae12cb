"""Sharded multi-process inspection gives exactly the single-process findings."""

from __future__ import annotations

from itertools import pairwise

from mevgraph.parallel import LoadedPool, inspect_files_parallel, shards
from mevgraph.pipeline import inspect_blocks

from .conftest import BLOCK_FILES, load_fixture


def _key(fs):  # type: ignore[no-untyped-def]
    return sorted(
        (f.block_number, str(f.kind), f.tx_hashes, tuple(sorted(f.profit_by_token.items()))) for f in fs
    )


def test_shards_cover_everything() -> None:
    assert shards(0, 4) == []
    assert shards(7, 3) == [(0, 3), (3, 6), (6, 7)]


def test_loaded_pool_equals_single_process(block_names: list[str]) -> None:
    blocks = [load_fixture(n) for n in block_names]
    single = list(inspect_blocks(blocks))
    with LoadedPool(blocks, workers=2) as pool:
        assert _key(pool.run()) == _key(single)
        assert _key(pool.run(shard_size=3)) == _key(single)  # shard cuts inside the range


def test_files_parallel_equals_single_process(block_names: list[str]) -> None:
    files = BLOCK_FILES[:8]
    single = list(inspect_blocks(load_fixture(p.name.removesuffix(".json.gz")) for p in files))
    assert _key(inspect_files_parallel(files, workers=2, shard_size=3)) == _key(single)


def test_balanced_shards_are_contiguous_and_cover_all(block_names: list[str]) -> None:
    from mevgraph.parallel import balanced_shards

    blocks = [load_fixture(n) for n in block_names]
    for parts in (1, 2, 3, 50):
        cuts = balanced_shards(blocks, parts)
        assert cuts[0][0] == 0 and cuts[-1][1] == len(blocks)
        assert all(a[1] == b[0] for a, b in pairwise(cuts))
        assert len(cuts) <= parts
