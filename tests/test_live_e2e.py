"""End to end on the testbed: a sandwich bot's attack reaches a GraphQL subscriber twice.

The testbed's sandwich bots watch the node's public mempool and frontrun pending retail swaps
with a higher fee. The live pipeline runs as in production, on a real anvil node:

* a :class:`~mevgraph.ingest.mempool.MempoolMonitor` on ``newPendingTransactions`` publishes a
  ``mempool``-stage alert while the victim is still pending;
* a :class:`~mevgraph.ingest.follow.Follower` on ``newHeads`` stores the mined block and publishes
  the ``block``-stage finding (marked as seen in the mempool);
* the API app's ``subscription alerts`` serves both over ``graphql-transport-ws`` to a client
  filtered to sandwiches, while a client filtered to liquidations gets none of them.

The monitor and follower run on their own event loop in a thread, publishing on the in-process
bus the app subscribes to (the embedded default's layout); the simulation's block loop runs in
the test thread and mines only after the monitor has seen every public tx of the slot.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from mevgraph.api import create_app
from mevgraph.ingest.bus import LocalBus
from mevgraph.ingest.follow import Follower
from mevgraph.ingest.mempool import MempoolMonitor
from mevgraph.sim.node import AnvilMissing, anvil_binary
from mevgraph.sim.runner import Sim, SimHooks
from mevgraph.sim.scenario import Cast, Testbed, open_testbed
from mevgraph.store import SqlStore, open_store

pytestmark = pytest.mark.node

SUBSCRIBE = """subscription($f: AlertFilterInput) {
  alerts(filter: $f) { id stage kind chainId blockNumber txs victimTxs bot pools seenInMempool }
}"""


class _Live:
    """The monitor and the follower on one event loop in a background thread."""

    def __init__(self, tb: Testbed, store: SqlStore, bus: LocalBus):
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.monitor: MempoolMonitor | None = None
        self.follower: Follower | None = None
        self.thread = threading.Thread(target=self._main, args=(tb, store, bus), daemon=True)
        self.thread.start()
        assert self.ready.wait(30), "the live pipeline did not start"
        if self.error is not None:
            raise self.error

    def _main(self, tb: Testbed, store: SqlStore, bus: LocalBus) -> None:
        async def run() -> None:
            try:
                self.monitor = MempoolMonitor(
                    tb.node.ws_url, tb.node.url, bus, chain_id=tb.env.world.chain_id
                )
                await self.monitor.start()
                await self.monitor.wait_ready()
                self.follower = Follower(
                    tb.node.url,
                    tb.node.ws_url,
                    store,
                    bus,
                    start_block=tb.env.head_number + 1,
                    pending_seen=self.monitor.pending_seen,
                )
                following = asyncio.create_task(self.follower.run(self.stop))
            except BaseException as exc:
                self.error = exc
                self.ready.set()
                raise
            self.ready.set()
            await following
            await self.monitor.stop()

        self.loop.run_until_complete(run())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)


class _Reader:
    """Reads a subscription's messages in a thread, stamping their arrival."""

    def __init__(self, ws: WebSocketTestSession):
        self.ws = ws
        self.got: list[tuple[dict[str, Any], float]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                msg = self.ws.receive_json()
            except Exception:
                return
            if msg.get("type") == "next":
                self.got.append((msg["payload"]["data"]["alerts"], time.time()))
            elif msg.get("type") in ("error", "complete"):
                self.got.append(({"protocol": msg}, time.time()))
                return


def _subscribe(ws: WebSocketTestSession, key: str, kinds: list[str]) -> _Reader:
    ws.send_json({"type": "connection_init", "payload": {"X-API-Key": key}})
    assert ws.receive_json()["type"] == "connection_ack"
    ws.send_json(
        {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIBE, "variables": {"f": {"kinds": kinds}}},
        }
    )
    return _Reader(ws)


@pytest.fixture(scope="module")
def testbed() -> Iterator[Testbed]:
    try:
        anvil_binary()
    except AnvilMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    with open_testbed(21, Cast(retail=220, p_trade=0.6)) as tb:
        yield tb


def test_sandwich_alerted_in_the_mempool_then_in_the_block(testbed: Testbed, tmp_path: Path) -> None:
    tb = testbed
    store = open_store(tmp_path / "store")
    bus = LocalBus()
    key = store.create_api_key(["read"], "e2e")
    app = create_app(store, bus=bus)
    live = _Live(tb, store, bus)
    mined_at: dict[int, float] = {}
    try:
        with (
            TestClient(app) as client,
            client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws_sw,
            client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws_liq,
        ):
            sandwiches = _subscribe(ws_sw, key, ["SANDWICH"])
            liquidations = _subscribe(ws_liq, key, ["LIQUIDATION"])
            time.sleep(0.3)  # both subscriptions are registered on the bus
            monitor = live.monitor
            assert monitor is not None

            def before_mine(_n: int, public: set[str]) -> None:
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and any(monitor.first_seen(h) is None for h in public):
                    time.sleep(0.005)
                time.sleep(0.3)  # the rest of the slot: time for the mempool stage to decide

            def after_mine(mined: Any, t: float) -> None:
                mined_at[mined.number] = tb.env.mined_at or t

            with Sim(
                tb.env, tb.agents, seed=21, hooks=SimHooks(before_mine=before_mine, after_mine=after_mine)
            ) as sim:
                for _ in range(12):
                    sim.step()
                    if _confirmed(sandwiches.got, mined_at):
                        break
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not _confirmed(sandwiches.got, mined_at):
                time.sleep(0.1)
            confirmed = _confirmed(sandwiches.got, mined_at)
            assert confirmed, f"no sandwich seen at both stages; got {sandwiches.got[:5]}"
            front, mempool_t, block_alert, block_t = confirmed
            assert mempool_t < mined_at[block_alert["blockNumber"]] < block_t
            assert block_alert["seenInMempool"] is True
            assert all(a.get("kind") == "sandwich" for a, _ in sandwiches.got)
            assert all(a.get("kind") != "sandwich" for a, _ in liquidations.got)
            assert not any(front in (a.get("txs") or []) for a, _ in liquidations.got)
            row = store.opportunity(block_alert["id"].removeprefix("block:"))
            assert row is not None and row["detection_method"] == "mempool"
    finally:
        live.close()
        store.close()


def _confirmed(
    got: list[tuple[dict[str, Any], float]], mined_at: dict[int, float]
) -> tuple[str, float, dict[str, Any], float] | None:
    """(front tx, mempool alert time, block alert, block alert time) of a sandwich whose
    mempool-stage alert arrived before its block was mined and block-stage alert after."""
    mempool: dict[str, float] = {}
    for a, t in got:
        if a.get("stage") == "mempool":
            for tx in a.get("txs") or []:
                mempool.setdefault(tx, t)
    for a, t in got:
        if a.get("stage") != "block" or a.get("blockNumber") not in mined_at:
            continue
        for tx in a.get("txs") or []:
            if tx in mempool and mempool[tx] < mined_at[a["blockNumber"]]:
                return tx, mempool[tx], a, t
    return None
