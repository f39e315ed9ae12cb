"""Live pipeline latency on the testbed: mempool and block alerts as a subscriber receives them.

Usage::

    .venv/bin/python benchmarks/live_latency.py [--blocks 30] [--seed 5] [--retail 700]
        [--slot-tail-ms 300] [--replay 5000] [--store postgresql://...|embedded]

What runs:

* in a child process, the testbed (``mevgraph.sim``) with its full cast at ~300 txs per block
  (``--retail``), its searchers reacting to the node's public mempool (as on a real network, the
  chain's agents do not share the pipeline's interpreter); it reports every broadcast and mined
  block to this process and waits for its go-ahead before mining;

and in this process, the pipeline under test:

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
* ``follower_stages_p50_ms`` / ``_p99_ms``: where the follower's time per block goes -- fetch
  (head announced -> block, traces and logs in hand), decode, detect (with the ``gasUsed`` of the
  txs it prices), write;
* ``mempool_alert_confirmed_rate``: the share of bot txs named by mempool-stage alerts that
  the block stage then found in a sandwich (the mempool stage's precision; a bot that loses the
  race, or aborts, is a false alarm there); ``mempool_alert_unconfirmed_by_kind`` says what the
  others were at the block stage (``none``: part of no finding);
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
import contextlib
import hashlib
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mevgraph.core.alerts import Alert
from mevgraph.core.chains import apply as apply_chain_profile
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
        self.processing_ms: list[float] = []
        self.stages_ms: list[dict[str, float]] = []  # per block: fetch, decode, detect, write


def _testbed(seed: int, retail: int, blocks: int, interval_s: float, conn: Any) -> None:
    """The chain and its agents, in a child process (as on a real network, the searchers and
    the node do not share the pipeline's CPU time or interpreter): reports every broadcast and
    every mined block over ``conn`` and, before mining, waits for the parent's go-ahead."""
    import signal

    def stop(*_: object) -> None:  # terminated with the parent: still stop the node
        raise SystemExit(1)

    signal.signal(signal.SIGTERM, stop)
    with open_testbed(seed, Cast(retail=retail)) as tb:
        labels: dict[str, Any] = {}
        for a in tb.agents:
            labels.update(a.labels())
        ready = (tb.node.url, tb.node.ws_url, tb.env.chain_profile(), labels, tb.env.head_number + 1)
        conn.send(("ready", *ready))

        def on_sent(hashes: list[str], t: float, public: bool) -> None:
            conn.send(("sent", hashes, t, public))

        def before_mine(number: int, public: set[str]) -> None:
            conn.send(("before_mine", number, sorted(public)))
            conn.recv()  # "go"

        def after_mine(mined: Any, t: float) -> None:
            mined_at = tb.env.mined_at or t
            conn.send(("mined", mined.number, mined_at))
            # the rest of the slot: the next block's flow starts ``interval_s`` after this one
            time.sleep(max(0.0, mined_at + interval_s - time.time()))

        with Sim(tb.env, tb.agents, seed=seed, hooks=SimHooks(on_sent, before_mine, after_mine)) as sim:
            t0 = time.perf_counter()
            stats = sim.run(blocks, progress=False)
            conn.send(("done", stats.blocks, stats.txs, time.perf_counter() - t0, tb.env.head_number))
        conn.recv()  # "close": the parent has read what it needs from the node


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    obs = _Observer()
    print(f"setting up the testbed (seed {args.seed}, {args.retail} retail EOAs)...", file=sys.stderr)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=_testbed,
        args=(args.seed, args.retail, args.blocks, args.block_interval_ms / 1000, child),
        daemon=True,
    )
    proc.start()
    tmp = tempfile.TemporaryDirectory(prefix="mevgraph-live-")
    try:
        msg = await asyncio.to_thread(parent.recv)
        _, rpc_url, ws_url, profile, labels, first = msg
        chain_id = apply_chain_profile(profile)  # the testbed's tokens, routers, factories
        labels_path = Path(tmp.name) / "labels.json"
        labels_path.write_text(json.dumps(labels))
        known = bots_from_labels(labels_path)
        store = open_store(Path(tmp.name) / "store" if args.store == "embedded" else _fresh_pg(args.store))
        bus = LocalBus()
        sub = await bus.subscribe(maxsize=1_000_000)

        async def consume() -> None:
            async for alert in sub:
                obs.alerts.append((alert, time.time()))

        consumer = asyncio.create_task(consume())
        monitor = MempoolMonitor(ws_url, rpc_url, bus, chain_id=chain_id, known_bots=known)
        await monitor.start()
        await monitor.wait_ready()
        follower = Follower(rpc_url, ws_url, store, bus, start_block=first, pending_seen=monitor.pending_seen)
        stop = asyncio.Event()
        following = asyncio.create_task(follower.run(stop))

        async def sample() -> None:  # the follower's own time per block: head announced -> queued
            last_seen = None
            while True:
                st = follower.status
                if st.last_stored != last_seen and st.last_block_ms is not None:
                    last_seen = st.last_stored
                    obs.processing_ms.append(st.last_block_ms)
                    obs.stages_ms.append(st.last_stages_ms or {})
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample())

        def relay() -> tuple[int, int, float, int]:
            """The child's reports, in a thread (the monitor's state is only read here)."""
            while True:
                m = parent.recv()
                if m[0] == "sent":
                    for h in m[1]:
                        obs.sent_at[h] = m[2]
                    if m[3]:
                        obs.public.update(m[1])
                elif m[0] == "before_mine":
                    deadline = time.monotonic() + 5.0
                    while time.monotonic() < deadline and any(monitor.first_seen(h) is None for h in m[2]):
                        time.sleep(0.002)
                    time.sleep(args.slot_tail_ms / 1000)
                    parent.send("go")
                elif m[0] == "mined":
                    obs.mined_at[m[1]] = m[2]
                elif m[0] == "done":
                    return m[1], m[2], m[3], m[4]

        n_blocks, n_txs, run_s, last = await asyncio.to_thread(relay)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (follower.status.last_stored or 0) < last:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        peak, lag_p99 = _peak_rate(monitor, obs.public)

        # the monitor's capacity: replay the run's txs with fresh hashes
        txs = await _block_txs(rpc_url, first, last)
        capacity = await _replay(monitor, txs, args.replay)

        sampler.cancel()
        stop.set()
        await following
        await monitor.stop()
        consumer.cancel()
        store.close()
    finally:
        with contextlib.suppress(Exception):
            parent.send("close")
        proc.join(60)
        if proc.is_alive():
            proc.kill()
        tmp.cleanup()

    return _figures(obs, n_blocks, n_txs, run_s, peak, lag_p99, capacity, args)


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


async def _block_txs(rpc_url: str, first: int, last: int) -> list[dict[str, Any]]:
    from mevgraph.ingest.rpc import RpcClient

    async with RpcClient(rpc_url) as rpc:
        blocks = await rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in range(first, last + 1)])
    return [tx for b in blocks for tx in b["transactions"]]


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
    try:
        await monitor.settle(timeout=300)
    except TimeoutError:  # the node cannot simulate that many: report the message path only
        return {"txs": n, "per_s": round(n / busy, 1), "with_background_per_s": None}
    total = time.perf_counter() - t0
    return {
        "txs": n,
        "per_s": round(n / busy, 1),  # the message path: what keeps the queue from growing
        "with_background_per_s": round(n / total, 1),  # incl. every simulation against the node
    }


def _figures(
    obs: _Observer,
    n_blocks: int,
    n_txs: int,
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
    warm = sorted(obs.mined_at)[: args.warmup_blocks]  # first blocks: connections, caches, plans
    for alert, t in obs.alerts:
        if alert.block_number in warm:
            continue
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
    alerted_at_all = sum(1 for a, _t in public_sandwiches if any(h in mempool_by_bot_tx for h in a.txs))
    before = 0
    for a, _t in public_sandwiches:
        mined = obs.mined_at.get(a.block_number or -1)
        seen = [mempool_by_bot_tx[h] for h in a.txs if h in mempool_by_bot_tx]
        if mined is not None and seen and min(seen) < mined:
            before += 1
    rate = before / len(public_sandwiches) if public_sandwiches else None
    # precision of the mempool stage: alerts whose bot tx landed in a block-stage sandwich
    confirmed_txs = {h for a, _t in sandwiches for h in a.txs}
    alerted_txs = set(mempool_by_bot_tx)
    confirmed = len(alerted_txs & confirmed_txs) / len(alerted_txs) if alerted_txs else None
    # and what the others turned out to be at the block stage (none: in no finding at all)
    kind_of: dict[str, str] = {}
    for a, _t in obs.alerts:
        if a.stage == "block":
            for h in a.txs:
                kind_of.setdefault(h, a.kind)
    unconfirmed: dict[str, int] = {}
    for h in alerted_txs - confirmed_txs:
        k = kind_of.get(h, "none")
        unconfirmed[k] = unconfirmed.get(k, 0) + 1
    missed: dict[str, int] = {}
    for a, _t in public_sandwiches:
        if not any(h in mempool_by_bot_tx for h in a.txs):
            key = f"{','.join(a.protocols)} victims={len(a.victim_txs)}"
            missed[key] = missed.get(key, 0) + 1
    if missed:
        print(f"public sandwiches with no mempool alert, by protocol: {missed}", file=sys.stderr)
    tx_per_block = n_txs / max(1, n_blocks)
    print(
        f"{n_blocks} blocks, {tx_per_block:.0f} txs/block, {run_s:.1f} s; "
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
    stages: dict[str, list[float]] = {}
    for per_block in obs.stages_ms[args.warmup_blocks :]:
        for k, v in per_block.items():
            stages.setdefault(k, []).append(v)
    return {
        "blocks": n_blocks,
        "txs_per_block": round(tx_per_block, 1),
        "slot_tail_ms": args.slot_tail_ms,
        "block_interval_ms": args.block_interval_ms,
        "store": "embedded" if args.store == "embedded" else "postgresql",
        "block_alerts": len(block_ms),
        "block_alert_p50_ms": _pct(block_ms, 50),
        "block_alert_p99_ms": _pct(block_ms, 99),
        "block_alert_mean_ms": round(statistics.fmean(block_ms), 1) if block_ms else None,
        "follower_block_p50_ms": _pct(obs.processing_ms[args.warmup_blocks :], 50),
        "follower_block_p99_ms": _pct(obs.processing_ms[args.warmup_blocks :], 99),
        "follower_stages_p50_ms": {k: _pct(v, 50) for k, v in stages.items()},
        "follower_stages_p99_ms": {k: _pct(v, 99) for k, v in stages.items()},
        "mempool_alerts": len(mempool_ms),
        "mempool_alert_p50_ms": _pct(mempool_ms, 50),
        "mempool_alert_p99_ms": _pct(mempool_ms, 99),
        "public_sandwiches": len(public_sandwiches),
        "sandwich_alert_before_block_rate": None if rate is None else round(rate, 3),
        "sandwich_alert_before_block": rate is not None and rate >= 0.95,
        "mempool_alerted_bot_txs": len(alerted_txs),
        "mempool_alert_confirmed_rate": None if confirmed is None else round(confirmed, 3),
        "mempool_alert_unconfirmed_by_kind": dict(sorted(unconfirmed.items())),
        "sandwich_mempool_alerted_rate": round(alerted_at_all / len(public_sandwiches), 3)
        if public_sandwiches
        else None,
        "monitor_lag_p99_ms": lag_p99,
        "live_pending_tx_per_s_peak": peak,
        "max_pending_tx_per_s": capacity["per_s"],
        "pending_tx_per_s_incl_simulations": capacity["with_background_per_s"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=30)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--retail", type=int, default=700, help="retail EOAs (~0.45 act per block)")
    ap.add_argument("--slot-tail-ms", type=float, default=300.0)
    ap.add_argument("--warmup-blocks", type=int, default=2, help="first blocks left out of the figures")
    ap.add_argument(
        "--block-interval-ms",
        type=float,
        default=1000.0,
        help="minimum time from a block to the next block's order flow (mainnet: 12 s)",
    )
    ap.add_argument("--replay", type=int, default=5_000, help="pending txs replayed for the capacity")
    ap.add_argument(
        "--store",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL admin URL (a fresh database is made) or 'embedded'",
    )
    args = ap.parse_args()
    print(json.dumps(asyncio.run(_run(args))))


if __name__ == "__main__":
    main()
