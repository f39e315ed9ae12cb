"""``subscription alerts`` over ``graphql-transport-ws`` with a real websocket client.

The app runs on its own event loop (Starlette's test client portal); alerts are published on the
app's bus from the test thread, as a follower in another thread would. A subscriber receives the
alerts matching its filter and none other, is unsubscribed from the bus when it leaves, and is
refused without a valid key. The Redis bus case publishes through a real Redis server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from mevgraph.api import create_app
from mevgraph.core.alerts import Alert
from mevgraph.ingest.bus import LocalBus, RedisBus
from mevgraph.store import SqlStore, open_store

from . import redis_or_skip

PROTOCOL = "graphql-transport-ws"
POOL = "0x" + "11" * 20
BOT = "0x" + "22" * 20
SUBSCRIBE = """subscription($f: AlertFilterInput) {
  alerts(filter: $f) { id stage kind chainId bot pools profitUsd victimTxs details }
}"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    st = open_store(tmp_path_factory.mktemp("subs") / "store")
    yield st
    st.close()


@pytest.fixture(scope="module")
def key(store: SqlStore) -> str:
    return store.create_api_key(["read"], "subscriptions")


def alert(n: int, *, kind: str = "sandwich", profit: float | None = 100.0, pool: str = POOL) -> Alert:
    return Alert(
        id=f"a{n}",
        stage="block",
        kind=kind,
        chain_id=1,
        block_number=100 + n,
        pools=(pool,),
        bot=BOT,
        profit_usd=profit,
        victim_txs=("0x" + "33" * 32,),
        details={"n": n},
    )


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def connect(ws: WebSocketTestSession, payload: dict[str, Any]) -> None:
    ws.send_json({"type": "connection_init", "payload": payload})
    assert ws.receive_json()["type"] == "connection_ack"


def subscribe(ws: WebSocketTestSession, op: str, variables: dict[str, Any]) -> None:
    ws.send_json({"id": op, "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": variables}})


def test_receives_matching_alerts_only(store: SqlStore, key: str) -> None:
    bus = LocalBus()
    with (
        TestClient(create_app(store, bus=bus)) as client,
        client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws,
    ):
        connect(ws, {"X-API-Key": key})
        f = {"kinds": ["SANDWICH"], "minProfitUsd": 50.0, "pools": [POOL.upper().replace("0X", "0x")]}
        subscribe(ws, "1", {"f": f})
        wait_for(lambda: bus.subscribers == 1, "the subscription")
        bus.publish_nowait(alert(1, kind="arbitrage"))  # wrong kind
        bus.publish_nowait(alert(2, profit=10.0))  # too small
        bus.publish_nowait(alert(3, profit=None))  # unpriced never passes minProfitUsd
        bus.publish_nowait(alert(4, pool="0x" + "44" * 20))  # another pool
        bus.publish_nowait(alert(5))
        bus.publish_nowait(alert(6, profit=75.5))
        got = [ws.receive_json(), ws.receive_json()]
        assert [m["type"] for m in got] == ["next", "next"]
        events = [m["payload"]["data"]["alerts"] for m in got]
        assert [e["id"] for e in events] == ["a5", "a6"]
        assert events[0] == {
            "id": "a5",
            "stage": "block",
            "kind": "sandwich",
            "chainId": 1,
            "bot": BOT,
            "pools": [POOL],
            "profitUsd": 100.0,
            "victimTxs": ["0x" + "33" * 32],
            "details": {"n": 5},
        }
        ws.send_json({"id": "1", "type": "complete"})
        wait_for(lambda: bus.subscribers == 0, "the unsubscription")


def test_two_subscribers_and_leaving(store: SqlStore, key: str) -> None:
    bus = LocalBus()
    with TestClient(create_app(store, bus=bus)) as client:
        with (
            client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as a,
            client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers={"X-API-Key": key}) as b,
        ):
            connect(a, {"apiKey": key})
            connect(b, {})  # the key came as a handshake header
            subscribe(a, "x", {"f": {"kinds": ["ARBITRAGE"]}})
            subscribe(b, "y", {"f": None})
            wait_for(lambda: bus.subscribers == 2, "both subscriptions")
            bus.publish_nowait(alert(1))
            bus.publish_nowait(alert(2, kind="arbitrage"))
            assert a.receive_json()["payload"]["data"]["alerts"]["id"] == "a2"
            assert [b.receive_json()["payload"]["data"]["alerts"]["id"] for _ in range(2)] == ["a1", "a2"]
        wait_for(lambda: bus.subscribers == 0, "closing both sockets to unsubscribe")


@pytest.mark.parametrize(
    ("f", "fragment"),
    [
        ({"stages": ["pending"]}, "stages"),
        ({"minProfitUsd": -1.0}, "minProfitUsd"),
        ({"pools": ["0x12"]}, "pools"),
        ({"bots": ["nope"]}, "bots"),
        ({"kinds": ["NOPE"]}, "NOPE"),
    ],
)
def test_bad_filter_is_a_graphql_error(store: SqlStore, key: str, f: dict[str, Any], fragment: str) -> None:
    bus = LocalBus()
    with (
        TestClient(create_app(store, bus=bus)) as client,
        client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws,
    ):
        connect(ws, {"X-API-Key": key})
        subscribe(ws, "1", {"f": f})
        msg = ws.receive_json()
        errors = msg["payload"] if msg["type"] == "error" else msg["payload"]["errors"]
        assert msg["type"] in ("error", "next") and fragment in errors[0]["message"]
        assert bus.subscribers == 0


@pytest.mark.parametrize("payload", [{}, {"X-API-Key": "mg_unknown"}, {"apiKey": 42}])
def test_refused_without_a_valid_key(store: SqlStore, payload: dict[str, Any]) -> None:
    with (
        TestClient(create_app(store)) as client,
        client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": payload})
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_json()
        assert exc.value.code == 4403


def test_key_without_read_scope_is_refused(store: SqlStore) -> None:
    other = store.create_api_key(["alerts"], "no-read")
    with (
        TestClient(create_app(store)) as client,
        client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": {"X-API-Key": other}})
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_json()
        assert exc.value.code == 4403


def test_redis_bus(store: SqlStore, key: str, tmp_path: Path) -> None:
    """Alerts published by another process's bus (here: another RedisBus) reach the subscriber."""
    url = redis_or_skip()
    channel = f"mevgraph-test:{tmp_path.name}:alerts"
    bus = RedisBus(url, channel)
    with (
        TestClient(create_app(store, bus=bus)) as client,
        client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws,
    ):
        connect(ws, {"X-API-Key": key})
        subscribe(ws, "1", {"f": {"bots": [BOT]}})
        wait_for(lambda: bus.subscribers == 1, "the subscription")

        async def publish() -> None:
            other = RedisBus(url, channel)
            await other.publish(alert(1, kind="jit"))
            await other.close()

        asyncio.run(publish())
        assert ws.receive_json()["payload"]["data"]["alerts"]["kind"] == "jit"
        ws.send_json({"id": "1", "type": "complete"})
        wait_for(lambda: bus.subscribers == 0, "the unsubscription")
        client.portal.call(bus.close)  # type: ignore[union-attr]
