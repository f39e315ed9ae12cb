"""Live pipeline latency on the testbed: mempool and block alerts as a subscriber receives them.

Usage::

    .venv/bin/python benchmarks/live_latency.py [--blocks 30] [--seed 5] [--retail 700]
        [--slot-tail-ms 150] [--replay 20000] [--store postgresql://...|embedded]

What runs, all in this process except anvil:

* the testbed (``mevgraph.sim``) with its full cast at ~300 txs per block (``--retail``), its
  searchers reacting to the node's public mempool; the block loop runs in a worker thread;
* a :class:`~mevgraph.ingest.mempool.MempoolMonitor` on the node's WebSocket
  (``newPendingTransactions`` with full txs), told the testbed's bot addresses as known bots;
* a :class:`~mevgraph.ingest.follow.Follower` on ``newHeads`` storing into PostgreSQL (a fresh
  database ``mevgraph_live_bench``, as a production deployment would; ``--store embedded`` for
  the embedded default) and taking the monitor's ``pending_seen``;
* one subscriber on the in-process alert bus, stamping every alert when it receives it.

A block's slot ends when the monitor has seen every public tx of the block and then
``--slot-tail-ms`` more have passed (mainnet slots are 12 s; this is the time a mempool alert
has to beat the block) -- then the node mines.

Figures (the last line is JSON):

* ``block_alert_p50_ms`` / ``block_alert_p99_ms``: node returned from mining -> block-stage alert
  received, per alert (target p99 < 500 ms);
* ``mempool_alert_p99_ms``: the later of the victim's and the bot's broadcast -> mempool-stage
  alert received (target p99 < 100 ms);
* ``sandwich_alert_before_block``: whether at least 95 % of the sandwiches found at the block stage
  whose front leg was broadcast publicly had a mempool-stage alert received before their block
  was mined (``sandwich_alert_before_block_rate`` gives the share itself). Note: anvil announces
  every tx that enters its pool, also the testbed's "private" legs sent just before mining, so
  here those count as public;
* ``max_pending_tx_per_s``: the monitor's sustained rate. Anvil itself accepts only ~0.7-1.8k
  tx/s on this machine, so the node cannot drive the monitor to its limit. After the run,
  ``--replay`` of the run's own txs (fresh hashes, same senders and calldata, so router decoding,
  pool naming, victim indexing and bot detection all happen) are fed through
  :meth:`~mevgraph.ingest.mempool.MempoolMonitor.offer_pending` in slices, the event loop running
  the monitor's background tasks in between. ``max_pending_tx_per_s`` is the rate of the message
  path (what keeps the monitor's queue from growing: above it the monitor falls behind);
  ``pending_tx_per_s_incl_simulations`` counts until every simulation of a suspected bot tx
  (``debug_traceCall`` on the node) has finished too -- there anvil is the bottleneck.
  ``live_pending_tx_per_s_peak`` is the highest one-second arrival rate during the run, with the
  monitor's lag p99 at that load.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from mevgraph.core.alerts import Alert
from mevgraph.ingest.bus import LocalBus
from mevgraph.ingest.follow import Follower
from mevgraph.ingest.mempool import MempoolMonitor, bots_from_labels
from mevgraph.sim.runner import Sim, SimHooks
from mevgraph.sim.scenario import Cast, open_testbed
from mevgraph.store import open_store


def _pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return round(s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))], 1)


class _Observer:
    """What the hooks and the subscriber record (written from two threads; dict/list ops only)."""

    def __init__(self) -> None:
        self.sent_at: dict[str, float] = {}
        self.public: set[str] = set()
        self.mined_at: dict[int, float] = {}
        self.alerts: list[tuple[Alert, float]] = []
        self.arrivals: list[float] = []


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    obs = _Observer()
    print(f"setting up the testbed (seed {args.seed}, {args.retail} retail EOAs)...", file=sys.stderr)
    tb = await asyncio.to_thread(open_testbed, args.seed, Cast(retail=args.retail))
    tmp = tempfile.TemporaryDirectory(prefix="mevgraph-live-")
    try:
        labels: dict[str, Any] = {}
        for a in tb.agents:
            labels.update(a.labels())
        labels_path = Path(tmp.name) / "labels.json"
        labels_path.write_text(json.dumps(labels))
        known = bots_from_labels(labels_path)
        chain_id = tb.env.world.chain_id
        store = open_store(Path(tmp.name) / "store" if args.store == "embedded" else _fresh_pg(args.store))
        bus = LocalBus()
        sub = await bus.subscribe(maxsize=1_000_000)

        async def consume() -> None:
            async for alert in sub:
                obs.alerts.append((alert, time.time()))

        consumer = asyncio.create_task(consume())
        monitor = MempoolMonitor(tb.node.ws_url, tb.node.url, bus, chain_id=chain_id, known_bots=known)
        await monitor.start()
        await monitor.wait_ready()
        first = tb.env.head_number + 1
        follower = Follower(
            tb.node.url, tb.node.ws_url, store, bus, start_block=first, pending_seen=monitor.pending_seen
        )
        stop = asyncio.Event()
        following = asyncio.create_task(follower.run(stop))

        def on_sent(hashes: list[str], t: float, public: bool) -> None:
            for h in hashes:
                obs.sent_at[h] = t
            if public:
                obs.public.update(hashes)

        def before_mine(number: int, public: set[str]) -> None:
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and any(monitor.first_seen(h) is None for h in public):
                time.sleep(0.002)
            time.sleep(args.slot_tail_ms / 1000)

        def after_mine(mined: Any, _t: float) -> None:
            obs.mined_at[mined.number] = tb.env.mined_at or _t

        sim = Sim(tb.env, tb.agents, seed=args.seed, hooks=SimHooks(on_sent, before_mine, after_mine))
        t_run = time.perf_counter()
        stats = await asyncio.to_thread(sim.run, args.blocks)
        run_s = time.perf_counter() - t_run
        last = tb.env.head_number
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (follower.status.last_stored or 0) < last:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        peak, lag_p99 = _peak_rate(monitor, obs.public)

        # the monitor's capacity: replay the run's public txs with fresh hashes
        txs = await asyncio.to_thread(_block_txs, tb, first, last)
        capacity = await _replay(monitor, txs, args.replay)

        stop.set()
        await following
        await monitor.stop()
        sim.close()
        consumer.cancel()
        store.close()
    finally:
        tb.close()
        tmp.cleanup()

    return _figures(obs, stats, run_s, peak, lag_p99, capacity, args)


def _fresh_pg(admin_url: str, db: str = "mevgraph_live_bench") -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {db}")
    return admin_url.rsplit("/", 1)[0] + "/" + db


def _peak_rate(monitor: MempoolMonitor, public: set[str]) -> tuple[float | None, float | None]:
    """The highest number of public txs first seen within one second, and the monitor's lag p99."""
    seen = sorted(t for t in (monitor.first_seen(h) for h in public) if t is not None)
    peak, lo = 0, 0
    for hi, t in enumerate(seen):
        while seen[lo] < t - 1.0:
            lo += 1
        peak = max(peak, hi - lo + 1)
    return (float(peak) if seen else None), monitor.status.lag_percentile(0.99)


def _block_txs(tb: Any, first: int, last: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n in range(first, last + 1):
        blk = tb.env.chain.rpc("eth_getBlockByNumber", hex(n), True)
        out.extend(blk["transactions"])
    return out


async def _replay(monitor: MempoolMonitor, txs: list[dict[str, Any]], n: int) -> dict[str, float]:
    """Feed ``n`` pending txs (the run's, re-hashed) through the monitor as fast as it takes them."""
    if not txs or n <= 0:
        return {"txs": 0, "per_s": 0.0, "with_background_per_s": 0.0}
    fresh = []
    for i in range(n):
        tx = dict(txs[i % len(txs)])
        tx["hash"] = "0x" + hashlib.sha256(f"replay/{i}/{tx['hash']}".encode()).hexdigest()
        tx.pop("blockHash", None)
        tx.pop("blockNumber", None)
        tx.pop("transactionIndex", None)
        fresh.append(tx)
    busy = 0.0
    t0 = time.perf_counter()
    for i in range(0, n, 256):
        t = time.perf_counter()
        for tx in fresh[i : i + 256]:
            monitor.offer_pending(tx)
        busy += time.perf_counter() - t
        await asyncio.sleep(0)  # background tasks (pool reads, simulations) run in between
    await monitor.settle(timeout=300)
    total = time.perf_counter() - t0
    return {
        "txs": n,
        "per_s": round(n / busy, 1),  # the message path: what keeps the queue from growing
        "with_background_per_s": round(n / total, 1),  # incl. every simulation against the node
    }


def _figures(
    obs: _Observer,
    stats: Any,
    run_s: float,
    peak: float | None,
    lag_p99: float | None,
    capacity: dict[str, float],
    args: argparse.Namespace,
) -> dict[str, Any]:
    block_ms: list[float] = []
    mempool_ms: list[float] = []
    mempool_by_bot_tx: dict[str, float] = {}
    sandwiches: list[tuple[Alert, float]] = []
    for alert, t in obs.alerts:
        if alert.stage == "block" and alert.block_number in obs.mined_at:
            block_ms.append((t - obs.mined_at[alert.block_number]) * 1000)
            if alert.kind == "sandwich":
                sandwiches.append((alert, t))
        elif alert.stage == "mempool":
            legs = [obs.sent_at.get(h) for h in (*alert.txs, *alert.victim_txs)]
            if legs and all(x is not None for x in legs):
                mempool_ms.append((t - max(x for x in legs if x is not None)) * 1000)
            for h in alert.txs:
                mempool_by_bot_tx.setdefault(h, t)
    public_sandwiches = [(a, t) for a, t in sandwiches if a.txs and a.txs[0] in obs.public]
    before = 0
    for a, _t in public_sandwiches:
        mined = obs.mined_at.get(a.block_number or -1)
        seen = [mempool_by_bot_tx[h] for h in a.txs if h in mempool_by_bot_tx]
        if mined is not None and seen and min(seen) < mined:
            before += 1
    rate = before / len(public_sandwiches) if public_sandwiches else None
    tx_per_block = stats.txs / max(1, stats.blocks)
    print(
        f"{stats.blocks} blocks, {tx_per_block:.0f} txs/block, {run_s:.1f} s; "
        f"{len(block_ms)} block-stage alerts, {len(mempool_ms)} mempool-stage alerts, "
        f"{len(public_sandwiches)} public sandwiches ({before} alerted before their block)",
        file=sys.stderr,
    )
    print(
        f"block alert p50/p99 {_pct(block_ms, 50)}/{_pct(block_ms, 99)} ms; "
        f"mempool alert p50/p99 {_pct(mempool_ms, 50)}/{_pct(mempool_ms, 99)} ms; "
        f"monitor capacity {capacity['per_s']} pending tx/s on its message path, "
        f"{capacity['with_background_per_s']} with every simulation done ({capacity['txs']} replayed)",
        file=sys.stderr,
    )
    return {
        "blocks": stats.blocks,
        "txs_per_block": round(tx_per_block, 1),
        "slot_tail_ms": args.slot_tail_ms,
        "store": "embedded" if args.store == "embedded" else "postgresql",
        "block_alerts": len(block_ms),
        "block_alert_p50_ms": _pct(block_ms, 50),
        "block_alert_p99_ms": _pct(block_ms, 99),
        "block_alert_mean_ms": round(statistics.fmean(block_ms), 1) if block_ms else None,
        "mempool_alerts": len(mempool_ms),
        "mempool_alert_p50_ms": _pct(mempool_ms, 50),
        "mempool_alert_p99_ms": _pct(mempool_ms, 99),
        "public_sandwiches": len(public_sandwiches),
        "sandwich_alert_before_block_rate": None if rate is None else round(rate, 3),
        "sandwich_alert_before_block": rate is not None and rate >= 0.95,
        "monitor_lag_p99_ms": lag_p99,
        "live_pending_tx_per_s_peak": peak,
        "max_pending_tx_per_s": capacity["per_s"],
        "pending_tx_per_s_incl_simulations": capacity["with_background_per_s"],
        "threads": threading.active_count(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=30)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--retail", type=int, default=700, help="retail EOAs (~0.45 act per block)")
    ap.add_argument("--slot-tail-ms", type=float, default=150.0)
    ap.add_argument("--replay", type=int, default=20_000, help="pending txs replayed for the capacity")
    ap.add_argument(
        "--store",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL admin URL (a fresh database is made) or 'embedded'",
    )
    args = ap.parse_args()
    print(json.dumps(asyncio.run(_run(args))))


if __name__ == "__main__":
    main()
