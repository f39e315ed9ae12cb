"""The live follower against real nodes: anvil from npm with Uniswap V2 sandwiches staged on it
(``tests/scenarios.py``), the real stores (embedded DuckDB, PostgreSQL) and Redis.

Covered: block alerts for findings (ids, opportunity rows, mempool flags); a ``mevgraph follow``
process killed with SIGKILL mid-stream and restarted (no gap, no duplicate, rows equal to an
offline ingest of the same blocks); a reorg (``anvil_reorg``) turning a stored sandwich into a
retraction; a node that is unreachable at start and drops mid-stream (a real TCP proxy in
front of anvil goes down and comes back): ``reconnecting`` in the status, in-process and in
Redis, then a catch-up without a gap; several chains in one loop; a duplicate chain refused.
Latencies (head announced -> alerts queued, and block mined -> alert received) are printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from mevgraph.core.alerts import Alert
from mevgraph.core.types import Block
from mevgraph.ingest.bus import LocalBus, Subscription
from mevgraph.ingest.follow import (
    Follower,
    FollowError,
    FollowerStatus,
    FollowSpec,
    follower_statuses,
    read_follower_statuses,
    run_followers,
)
from mevgraph.ingest.rpc import FailedBlock, fetch_range
from mevgraph.store import open_store
from mevgraph.store.ingest import ingest
from tests.node import AnvilNode, anvil_node, free_port
from tests.scenarios import SandwichScenario, V2Pool, deploy_v2_pool, stage_v2_sandwich

pytestmark = pytest.mark.node

FAST = {"poll_interval": 0.5, "max_backoff": 0.4, "rpc_timeout": 5.0}


@dataclass
class Market:
    """A node with a funded Uniswap V2 pair, ready for :func:`stage_v2_sandwich`."""

    node: AnvilNode
    pool: V2Pool

    @property
    def ws_url(self) -> str:
        return self.node.anvil.ws_url

    def head(self) -> int:
        return int(self.node.rpc("eth_blockNumber"), 16)

    def sandwich(self, i: int = 0) -> SandwichScenario:
        """Three blocks: two deposits, then the sandwich (direction alternates with ``i``)."""
        return stage_v2_sandwich(self.node, self.pool, zero_for_one=i % 2 == 0)


@pytest.fixture
def market() -> Iterator[Market]:
    with anvil_node() as node:
        yield Market(node, deploy_v2_pool(node))


async def until(pred: Callable[[], bool], what: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def following(f: Follower) -> AsyncIterator[Follower]:
    """Run ``f`` for the block; stop it cleanly after (and surface its failure, if any)."""
    stop = asyncio.Event()
    task = asyncio.create_task(f.run(stop))
    try:
        yield f
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def drain(sub: Subscription, quiet: float = 0.5) -> list[Alert]:
    out: list[Alert] = []
    with contextlib.suppress(TimeoutError):
        while True:
            out.append(await sub.get(quiet))
    return out


def canonical(node: AnvilNode, first: int, last: int) -> list[tuple[int, str]]:
    calls = [("eth_getBlockByNumber", [hex(n), False]) for n in range(first, last + 1)]
    return [(int(b["number"], 16), b["hash"]) for b in node.batch(calls)]


def _ms(xs: list[float]) -> str:
    return f"p50 {statistics.median(xs):.0f} ms, max {max(xs):.0f} ms over {len(xs)}"


# -- block alerts ------------------------------------------------------------------------------


def test_block_alerts_for_findings(market: Market, tmp_path: Path) -> None:
    accounts = [a.lower() for a in market.node.rpc("eth_accounts")]
    attacker, victim = accounts[1], accounts[2]
    public: set[str] = set()

    def pending_seen(b: Block) -> frozenset[str]:  # a monitor that saw the txs of ``public`` senders
        return frozenset(tx.hash for tx in b.transactions if tx.from_ in public)

    store = open_store(tmp_path / "store")

    async def scenario() -> None:
        bus = LocalBus()
        sub = await bus.subscribe()
        async with following(
            Follower(market.node.url, market.ws_url, store, bus, pending_seen=pending_seen, **FAST)
        ) as f:
            head = market.head()
            await until(lambda: f.status.state == "connected" and f.status.last_stored == head, "the start")
            assert f.status.chain_id == 31337 and f.status.lag == 0
            waits: list[float] = []
            got: list[tuple[SandwichScenario, Alert]] = []
            for i, seen in enumerate(({attacker, victim}, {victim})):
                public.clear()
                public.update(seen)
                sc = await asyncio.to_thread(market.sandwich, i)
                mined = time.perf_counter()
                alert = await sub.get(30)
                waits.append((time.perf_counter() - mined) * 1000)
                got.append((sc, alert))
            assert await drain(sub) == []  # the deposit blocks hold no MEV
            status = f.status
        print(
            f"\nblock mined -> alert received ({_ms(waits)}); last head -> queued {status.last_block_ms} ms"
        )
        for (sc, a), seen_public in zip(got, (True, False), strict=True):
            assert a.stage == "block" and a.kind == "sandwich" and a.chain_id == 31337
            assert a.block_number == sc.block_number
            assert (
                a.block_hash == market.node.rpc("eth_getBlockByNumber", hex(sc.block_number), False)["hash"]
            )
            assert a.id == f"block:{a.opportunity_id}"
            assert {sc.hash_of("frontrun"), sc.hash_of("backrun")} <= set(a.txs)
            assert a.victim_txs and set(a.victim_txs) <= {sc.hash_of("victim"), sc.hash_of("victim_transfer")}
            assert a.bot == attacker and a.pools == (market.pool.pair,)
            assert a.seen_in_mempool is seen_public
            assert a.profit_usd is None and a.details["unpricedReason"]  # no price on a test chain
            row = store.opportunity(str(a.opportunity_id))
            assert row is not None
            assert row["block_hash"] == a.block_hash and row["mev_tx_hashes"] == list(a.txs)
            assert row["detection_method"] == ("mempool" if seen_public else "block")
            assert row["private_mempool"] is (not seen_public)
        assert status.alerts_published == 2 and status.reorgs == 0 and status.reconnects == 0

    try:
        asyncio.run(scenario())
    finally:
        store.close()


def test_without_a_monitor_seen_in_mempool_is_unknown(market: Market, tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")

    async def scenario() -> Alert:
        bus = LocalBus()
        sub = await bus.subscribe()
        async with following(Follower(market.node.url, market.ws_url, store, bus, **FAST)) as f:
            await until(lambda: f.status.state == "connected", "the connection")
            await asyncio.to_thread(market.sandwich)
            return await sub.get(30)

    try:
        a = asyncio.run(scenario())
        assert a.kind == "sandwich" and a.seen_in_mempool is None
        row = store.opportunity(str(a.opportunity_id))
        assert row is not None and row["detection_method"] == "block" and row["private_mempool"] is None
    finally:
        store.close()


# -- kill -9 and restart -----------------------------------------------------------------------


def _follow_cmd(market: Market, store: str, first: int) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from mevgraph.cli import main; main()",
        "follow",
        "--rpc",
        market.node.url,
        "--ws",
        market.ws_url,
        "--store",
        store,
        "--from",
        str(first),
        "--no-progress",
    ]


def _stored(url: str, chain_id: int) -> list[tuple[int, str]]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT number, hash FROM blocks WHERE chain_id = %s ORDER BY number", (str(chain_id),)
        ).fetchall()
    return [(int(n), str(h)) for n, h in rows]


def _without(rows: list[dict[str, Any]], *columns: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in columns} for r in rows]


def test_killed_follower_restarts_without_gap_or_duplicate(
    market: Market, pg_database: Callable[[], str], tmp_path: Path
) -> None:
    live_url, offline_url = pg_database(), pg_database()
    open_store(live_url).close()  # migrate first, so that polling the tables below never races it
    first = market.head() + 1
    mining = threading.Event()
    mining.set()
    mined_rounds: list[int] = []

    def miner() -> None:  # a sandwich block every third block, ~6 blocks a second
        i = 0
        while mining.is_set():
            market.sandwich(i)
            mined_rounds.append(i)
            i += 1
            time.sleep(0.4)

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "follow.log").open("wb")
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        p = subprocess.Popen(_follow_cmd(market, live_url, first), stdout=log, stderr=log, env=env)
        procs.append(p)
        return p

    def wait_for(pred: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            assert all(p.poll() in (None, -signal.SIGKILL) for p in procs), (
                tmp_path / "follow.log"
            ).read_text()
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    mine = threading.Thread(target=miner, daemon=True)
    try:
        mine.start()
        first_run = start()
        wait_for(lambda: len(_stored(live_url, 31337)) >= 5, "5 stored blocks")
        first_run.kill()  # SIGKILL while blocks keep coming: no clean-up of any kind
        first_run.wait(10)
        killed_at = _stored(live_url, 31337)[-1][0]
        time.sleep(0.8)
        second_run = start()
        time.sleep(0.5)
        mining.clear()
        mine.join(10)
        head = market.head()
        assert head > killed_at + 3, "blocks must have been mined while the follower was down"
        wait_for(lambda: _stored(live_url, 31337)[-1][0] == head, "the restarted follower to catch up")
        second_run.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
        assert second_run.wait(20) == 0, (tmp_path / "follow.log").read_text()
    finally:
        mining.clear()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        log.close()

    stored = _stored(live_url, 31337)
    assert stored == canonical(market.node, first, head)  # contiguous, each height once, canonical
    assert len(mined_rounds) >= 4

    # The same blocks ingested offline, block by block as the follower detects them (``details``
    # holds graph positions of actions, which depend on the detection batch), with the same
    # look-back before the first one.
    blocks = [b for b in fetch_range(market.node.url, first - 2, head) if not isinstance(b, FailedBlock)]
    assert [b.number for b in blocks] == list(range(first - 2, head + 1))
    live, offline = open_store(live_url), open_store(offline_url)
    try:
        ingest(offline, blocks[2:], chunk=1, context=blocks[:2])
        for table, volatile in (("mev_opportunities", ("created_at",)), ("blocks", ("ingested_at",))):
            got, want = _without(live.dump(table), *volatile), _without(offline.dump(table), *volatile)
            diffs = [
                (g["id"] if "id" in g else g["number"], k, g[k], w.get(k))
                for g, w in zip(got, want, strict=False)
                for k in g
                if g[k] != w.get(k)
            ]
            assert got == want, (table, diffs[:5])
        kinds = [r["opportunity_type"] for r in live.dump("mev_opportunities")]
        assert kinds.count("sandwich") >= len(mined_rounds) - 1
    finally:
        live.close()
        offline.close()
    print(f"\nkilled after block {killed_at}; restarted and caught up to {head} ({head - first + 1} blocks)")


# -- reorg -------------------------------------------------------------------------------------


def test_reorg_retracts_orphaned_findings(market: Market, tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    accounts = market.node.rpc("eth_accounts")

    async def scenario() -> tuple[Alert, list[Alert], FollowerStatus]:
        bus = LocalBus()
        sub = await bus.subscribe()
        async with following(Follower(market.node.url, market.ws_url, store, bus, **FAST)) as f:
            await until(lambda: f.status.state == "connected", "the connection")
            sc = await asyncio.to_thread(market.sandwich)
            found = await sub.get(30)
            await asyncio.to_thread(market.node.rpc, "evm_mine")
            await asyncio.to_thread(market.node.rpc, "evm_mine")
            head = market.head()
            await until(lambda: f.status.last_stored == head, "the two empty blocks")
            # Re-mine the sandwich block and the two after it: a plain transfer instead.
            plain = {"from": accounts[5], "to": accounts[6], "value": "0x1"}
            await asyncio.to_thread(market.node.rpc, "anvil_reorg", head - sc.block_number + 1, [[plain, 0]])
            after = [await sub.get(30), *await drain(sub)]
            await until(lambda: f.status.last_stored == market.head(), "the re-mined blocks")
            return found, after, f.status

    try:
        found, after, status = asyncio.run(scenario())
        assert found.stage == "block" and found.kind == "sandwich"
        assert [a.stage for a in after] == ["retraction"]
        r = after[0]
        assert r.id == f"retraction:{found.opportunity_id}" and r.opportunity_id == found.opportunity_id
        # described by the block alert it withdraws, so a kind-filtered subscriber gets it
        assert (r.kind, r.block_number, r.txs, r.pools) == (
            found.kind,
            found.block_number,
            found.txs,
            found.pools,
        )
        assert r.details["replacedBy"] != found.block_hash
        assert store.opportunity(str(found.opportunity_id)) is None
        assert store.dump("mev_opportunities") == []
        head = market.head()
        stored = store.blocks(31337)
        assert stored[-(head - found.block_number + 3) :] == canonical(
            market.node, found.block_number - 2, head
        )
        assert status.reorgs == 1 and status.state == "connected"
    finally:
        store.close()


# -- dropped node ------------------------------------------------------------------------------


class TcpProxy:
    """A real TCP proxy on a fixed port in front of a node: :meth:`down` closes the listener
    and cuts every connection (the node's port is dead), :meth:`up` listens again."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def up(self) -> None:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def down(self) -> None:
        ls, self._listener = self._listener, None
        if ls is not None:
            with contextlib.suppress(OSError):
                ls.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread
            ls.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def test_dropped_node_is_retried_and_reported(
    market: Market, tmp_path: Path, redis_prefix: tuple[str, str]
) -> None:
    redis_url, prefix = redis_prefix
    proxy = TcpProxy(market.node.port)  # down at the start: the node is unreachable
    store = open_store(tmp_path / "store")
    first = market.head()
    client = redis.Redis.from_url(redis_url)

    def mirrored() -> dict[str, Any]:
        raw = client.get(f"{prefix}follow:31337")
        return orjson.loads(raw) if raw else {}

    async def scenario() -> FollowerStatus:
        bus = LocalBus()
        f = Follower(
            proxy.url,
            proxy.ws_url,
            store,
            bus,
            start_block=first,
            status_redis=redis_url,
            status_prefix=prefix,
            **FAST,
        )
        async with following(f):
            await until(
                lambda: f.status.state == "reconnecting" and f.status.last_error is not None, "a failure"
            )
            assert f.status.chain_id is None  # never reached the node yet
            await asyncio.sleep(0.5)  # a few retries: still running, no crash
            proxy.up()
            await until(
                lambda: f.status.state == "connected" and f.status.last_stored == market.head(), "a start"
            )
            await until(lambda: mirrored().get("state") == "connected", "the status in Redis")
            proxy.down()  # mid-stream
            await until(lambda: f.status.state == "reconnecting", "the drop to be noticed")
            await until(lambda: mirrored().get("state") == "reconnecting", "the drop in Redis")
            (mine,) = [s for s in read_follower_statuses(None) if s["node"] == f.node]
            assert mine["state"] == "reconnecting" and mine["lastError"] and mine["reconnects"] == 1
            for i in range(2):  # blocks mined while the node is unreachable for us
                await asyncio.to_thread(market.sandwich, i)
            await asyncio.sleep(0.5)
            proxy.up()
            await until(
                lambda: f.status.state == "connected" and f.status.last_stored == market.head(),
                "the catch-up",
            )
            return f.status

    try:
        status = asyncio.run(scenario())
        assert status.reconnects == 1 and status.alerts_published == 2
        assert store.blocks(31337) == canonical(market.node, first, market.head())
        # Stopped: the follower left this process's list; its last status stays in Redis (TTL).
        assert [s for s in follower_statuses() if s.node == status.node] == []
        (last,) = read_follower_statuses(redis_url, prefix=prefix)
        assert last["state"] == "stopped" and last["chainId"] == 31337 and last["lastStored"] == market.head()
        assert client.pttl(f"{prefix}follow:31337") > 0
        assert FollowerStatus.from_dict(last).to_dict() == last
    finally:
        proxy.down()
        client.close()
        store.close()


# -- several chains ----------------------------------------------------------------------------


def test_run_followers_follows_several_chains_in_one_loop(tmp_path: Path) -> None:
    with anvil_node("--chain-id", "4242") as n1, anvil_node("--chain-id", "4343") as n2:
        markets = [Market(n1, deploy_v2_pool(n1)), Market(n2, deploy_v2_pool(n2))]
        store = open_store(tmp_path / "store")

        async def scenario() -> tuple[list[Alert], list[Follower]]:
            bus = LocalBus()
            sub = await bus.subscribe()
            stop = asyncio.Event()
            specs = [FollowSpec(m.node.url, m.ws_url) for m in markets]
            task = asyncio.create_task(run_followers(specs, store, bus, stop=stop, **FAST))
            await until(
                lambda: (
                    sorted((s.chain_id, s.state) for s in follower_statuses())
                    == [(4242, "connected"), (4343, "connected")]
                ),
                "both chains",
            )
            await asyncio.gather(*(asyncio.to_thread(m.sandwich) for m in markets))
            alerts = [await sub.get(30), await sub.get(30)]
            stop.set()
            return alerts, await asyncio.wait_for(task, 20)

        try:
            alerts, followers = asyncio.run(scenario())
            assert sorted(a.chain_id for a in alerts) == [4242, 4343]
            assert {a.kind for a in alerts} == {"sandwich"}
            assert [f.status.state for f in followers] == ["stopped", "stopped"]
            for m, cid in zip(markets, (4242, 4343), strict=True):
                assert store.blocks(cid)[-1] == canonical(m.node, m.head(), m.head())[0]
        finally:
            store.close()


def test_two_followers_of_one_chain_are_refused(market: Market, tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    spec = FollowSpec(market.node.url, market.ws_url)

    async def scenario() -> None:
        await asyncio.wait_for(run_followers([spec, spec], store, LocalBus(), **FAST), 20)

    try:
        with pytest.raises(FollowError, match="already followed"):
            asyncio.run(scenario())
        assert follower_statuses() == []
    finally:
        store.close()
