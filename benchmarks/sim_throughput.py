"""Testbed speed: how fast the simulation produces blocks, and how fast mevgraph ingests them back
from the node over batched JSON-RPC.

Usage: ``python benchmarks/sim_throughput.py [--blocks 40] [--seed 11] [--retail 700]``

1. Setup (world reload + funding the cast) is timed on its own.
2. Generation: ``--blocks`` blocks of the full cast (users, searchers, mempool watchers over
   WebSocket), reported as blocks/min and tx/s, with the mean txs per block.
3. Ingest: the same blocks fetched from the running node with :func:`mevgraph.ingest.rpc.fetch_range`
   (one batched HTTP request per block: block with txs, receipts, ``trace_block``; several blocks in
   flight) into the internal model, as ``mevgraph inspect --rpc`` does; then decode + detect on them.
   The issue's target is >= 5 blocks/s at ~300 txs per block.

The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import time

from mevgraph.decode.decoder import decode_block
from mevgraph.detection.engine import find
from mevgraph.graph.tables import PropertyGraph
from mevgraph.ingest.rpc import fetch_range
from mevgraph.sim.runner import Sim
from mevgraph.sim.scenario import Cast, open_testbed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=40)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--retail", type=int, default=700, help="retail EOAs (~0.45 act per block)")
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()

    t0 = time.perf_counter()
    with open_testbed(args.seed, Cast(retail=args.retail)) as tb:
        t_setup = time.perf_counter() - t0
        first = tb.env.head_number + 1
        with Sim(tb.env, tb.agents, seed=args.seed) as sim:
            st = sim.run(args.blocks, progress=False)
        last = tb.env.head_number
        tx_per_block = st.txs / max(1, st.blocks)

        t0 = time.perf_counter()
        fetched = [
            b
            for b in fetch_range(
                tb.node.url, first, last, concurrency=args.concurrency, chain_id=tb.env.world.chain_id
            )
        ]
        t_ingest = time.perf_counter() - t0
        blocks = [b for b in fetched if not hasattr(b, "reason")]
        t0 = time.perf_counter()
        decoded = [decode_block(b) for b in blocks]  # type: ignore[arg-type]
        g = PropertyGraph.build(decoded)
        found = find(g)
        g.close()
        t_detect = time.perf_counter() - t0

    n = len(blocks)
    res = {
        "setup_s": round(t_setup, 2),
        "blocks": st.blocks,
        "tx_per_block": round(tx_per_block, 1),
        "gen_blocks_per_min": round(st.blocks / st.seconds * 60, 1),
        "gen_tx_per_s": round(st.txs / st.seconds, 1),
        "ingest_blocks_per_s": round(n / t_ingest, 2),
        "ingest_tx_per_s": round(st.txs / t_ingest, 1),
        "decode_detect_blocks_per_s": round(n / t_detect, 2),
        "findings": len(found),
        "truth": st.truth,
    }
    print(f"setup (world reload + cast funding): {t_setup:.1f} s")
    print(
        f"generation: {st.blocks} blocks, {tx_per_block:.0f} tx/block in {st.seconds:.1f} s -> "
        f"{res['gen_blocks_per_min']} blocks/min, {res['gen_tx_per_s']} tx/s"
    )
    print(
        f"ingest over batched RPC (traces, {args.concurrency} in flight): {n} blocks in {t_ingest:.2f} s -> "
        f"{res['ingest_blocks_per_s']} blocks/s, {res['ingest_tx_per_s']} tx/s"
    )
    print(f"decode + detect: {res['decode_detect_blocks_per_s']} blocks/s, {len(found)} findings")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
