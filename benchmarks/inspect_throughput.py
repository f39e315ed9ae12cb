"""Decode + detect throughput over the shared real blocks.

Usage: ``python benchmarks/inspect_throughput.py [--data DIR] [--passes 5]``

File reading (gunzip + JSON + conversion to the internal model) is timed separately. Then,
warm (one untimed pass first), two modes are each timed over ``--passes`` passes and the median
pass is reported:

* batch: all blocks decoded, built into one property graph, detected together (how ``inspect``
  runs over a range);
* per block: each block on its own (decode + graph + detect), the latency of a live follower.

* parallel: the blocks cut into one contiguous shard per core, each shard run as in batch mode
  by a forked worker (``mevgraph.parallel.LoadedPool``); findings must equal batch mode's.

The last line is JSON with ``blocks_per_s``, ``txs_per_s`` (parallel, ``workers`` processes),
the same for one process, ``median_block_ms`` (per-block mode), and the ratio to
mev-inspect-py's measured ~8 blocks/s on this machine kind.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
from pathlib import Path

from mevgraph.decode.decoder import decode_block
from mevgraph.detection.engine import find
from mevgraph.graph.tables import PropertyGraph
from mevgraph.ingest.fixture import block_from_fixture
from mevgraph.pipeline import inspect_blocks

ROOT = Path(__file__).resolve().parents[1]
PEER_BLOCKS_PER_S = 8.0  # mev-inspect-py, warm, same blocks, this machine kind (shared/docs/ANCHORS.md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "mainnet" / "blocks")
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2, help="worker processes for the parallel figure")
    args = ap.parse_args()

    files = sorted(args.data.glob("*.json*"))
    t0 = time.perf_counter()
    raw = []
    for f in files:
        with gzip.open(f) if f.suffix == ".gz" else f.open("rb") as fh:
            raw.append(json.load(fh))
    t_json = time.perf_counter() - t0
    t0 = time.perf_counter()
    blocks = [block_from_fixture(o) for o in raw]
    t_model = time.perf_counter() - t0
    n_txs = sum(len(b.transactions) for b in blocks)
    n_frames = sum(len(b.traces or ()) for b in blocks)

    def batch_pass() -> tuple[float, int]:
        s = time.perf_counter()
        n = len(list(inspect_blocks(blocks)))  # the real pipeline: batches, context, dedup
        return time.perf_counter() - s, n

    def per_block_pass() -> list[float]:
        out = []
        for b in blocks:
            s = time.perf_counter()
            g = PropertyGraph.build([decode_block(b)])
            find(g)
            g.close()
            out.append(time.perf_counter() - s)
        return out

    batch_pass()
    per_block_pass()  # warm-up
    batch_times = []
    findings = 0
    for _ in range(args.passes):
        t, findings = batch_pass()
        batch_times.append(t)
    per_block = [per_block_pass() for _ in range(args.passes)]
    med_batch = statistics.median(batch_times)
    block_ms = [statistics.median(p[i] for p in per_block) * 1000 for i in range(len(blocks))]

    # Stage split of one batch pass, for the reader.
    s = time.perf_counter()
    decoded = [decode_block(b) for b in blocks]
    t_dec = time.perf_counter() - s
    s = time.perf_counter()
    g = PropertyGraph.build(decoded)
    t_graph = time.perf_counter() - s
    s = time.perf_counter()
    find(g)
    t_det = time.perf_counter() - s

    # Both cores: contiguous shards in forked worker processes (mevgraph.parallel.LoadedPool).
    from mevgraph.parallel import LoadedPool

    with LoadedPool(blocks, workers=args.workers) as pool:
        pool.run()  # warm the workers
        par_times = []
        for _ in range(args.passes):
            s = time.perf_counter()
            par_findings = len(pool.run())
            par_times.append(time.perf_counter() - s)
    med_par = statistics.median(par_times)
    assert par_findings == findings, (par_findings, findings)

    bps = len(blocks) / med_batch
    bps_par = len(blocks) / med_par
    print(f"{len(blocks)} blocks, {n_txs} txs, {n_frames} trace frames, {findings} findings")
    print(f"file reading: gunzip+JSON {t_json * 1000:.1f} ms, to internal model {t_model * 1000:.1f} ms")
    print(
        f"batch mode, median of {args.passes}: {med_batch * 1000:.1f} ms -> {bps:.1f} blocks/s, {n_txs / med_batch:,.0f} tx/s"
    )
    print(
        f"  stages: decode {t_dec * 1000:.1f} ms, graph {t_graph * 1000:.1f} ms, detect+money {t_det * 1000:.1f} ms"
    )
    print(
        f"per-block mode: median {statistics.median(block_ms):.2f} ms, max {max(block_ms):.2f} ms per block"
    )
    print(
        f"{args.workers} worker processes, median of {args.passes}: {med_par * 1000:.1f} ms -> "
        f"{bps_par:.1f} blocks/s, {n_txs / med_par:,.0f} tx/s (same {par_findings} findings)"
    )
    print(
        f"vs mev-inspect-py (~{PEER_BLOCKS_PER_S:g} blocks/s here): {bps_par / PEER_BLOCKS_PER_S:.1f}x "
        f"({bps / PEER_BLOCKS_PER_S:.1f}x on one core)"
    )
    print(
        json.dumps(
            {
                "blocks_per_s": round(bps_par, 1),
                "txs_per_s": round(n_txs / med_par, 1),
                "workers": args.workers,
                "blocks_per_s_1_process": round(bps, 1),
                "txs_per_s_1_process": round(n_txs / med_batch, 1),
                "median_block_ms": round(statistics.median(block_ms), 2),
                "per_block_blocks_per_s": round(1000 / statistics.mean(block_ms), 1),
                "file_read_ms": round((t_json + t_model) * 1000, 1),
                "ratio_vs_mev_inspect_py": round(bps_par / PEER_BLOCKS_PER_S, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
