"""Webhooks end to end: a real HTTP receiver, the real embedded store, the real bus.

The receiver is a small HTTP/1.1 server on a free local port (``asyncio.start_server``) whose
answers are scripted per path: status, headers and a delay. Deliveries go through the real
``httpx`` client; rules and dead letters through the real store. REST routes are exercised
through the app with real API keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import itertools
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient

from mevgraph.api import create_app
from mevgraph.api import webhooks as wh
from mevgraph.api.auth import key_identity
from mevgraph.api.webhooks import (
    ALERT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookDispatcher,
    sign,
    verify_signature,
)
from mevgraph.core.alerts import Alert, AlertFilter
from mevgraph.ingest.bus import LocalBus, RedisBus
from mevgraph.sim.node import free_port
from mevgraph.store import SqlStore, open_store

from . import redis_or_skip

T = TypeVar("T")
OWNER = "f" * 32
POOL = "0x" + "ab" * 20


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def alert(n: int = 1, kind: str = "sandwich", stage: str = "block", **kw: Any) -> Alert:
    return Alert(
        id=f"{stage}:1:{n}:{kind}",
        stage=stage,  # type: ignore[arg-type]
        kind=kind,
        chain_id=1,
        block_number=None if stage == "mempool" else 100 + n,
        txs=("0x" + f"{n:064x}",),
        pools=(POOL,),
        profit_usd=10.0,
        **kw,
    )


# --- a real HTTP receiver ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the request was read


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    delay_s: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()


class Receiver:
    """HTTP/1.1 on 127.0.0.1: the n-th request to a path gets ``plan[path][n]`` (the last entry
    repeats; unplanned paths get 200). One request per connection (``Connection: close``)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.plan: dict[str, list[Reply]] = {}
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            _, path, _ = head[0].split(" ", 2)
            headers = {}
            for line in head[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            n = len(self.at(path))
            self.requests.append(Received(path, headers, body, time.monotonic()))
            plan = self.plan.get(path) or [Reply()]
            reply = plan[min(n, len(plan) - 1)]
            if reply.delay_s:
                await asyncio.sleep(reply.delay_s)
            extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers)
            phrase = http.HTTPStatus(reply.status).phrase
            writer.write(
                f"HTTP/1.1 {reply.status} {phrase}\r\nContent-Length: 0\r\nConnection: close\r\n{extra}\r\n".encode()
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def until(predicate: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    st = open_store(tmp_path / "store")
    yield st
    st.close()


def dispatcher(store: SqlStore, **kw: Any) -> WebhookDispatcher:
    opts: dict[str, Any] = {"backoff_s": 0.02, "max_backoff_s": 0.2, "timeout_s": 2.0, "drain_s": 2.0}
    opts.update(kw)
    return WebhookDispatcher(store, **opts)


# --- signatures ------------------------------------------------------------------------------


def test_verify_signature() -> None:
    body = b'{"id":"x"}'
    now = 1_700_000_000
    header = sign("s3cret", str(now), body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature("s3cret", str(now), body, header, now=now)
    assert verify_signature("s3cret", str(now), body.decode(), header, now=now + 299)
    assert not verify_signature("s3cret", str(now), body, header, now=now + 301)  # replayed later
    assert verify_signature("s3cret", str(now), body, header, now=now + 10**6, tolerance_s=None)
    assert not verify_signature("other", str(now), body, header, now=now)
    assert not verify_signature("s3cret", str(now), body + b" ", header, now=now)  # tampered
    assert not verify_signature("s3cret", str(now + 1), body, header, now=now)  # other time
    assert not verify_signature("s3cret", "soon", body, header, now=now)
    assert not verify_signature("s3cret", str(now), body, None, now=now)
    assert not verify_signature("s3cret", None, body, header, now=now)
    assert not verify_signature("s3cret", str(now), body, "sha256=" + "0" * 64, now=now)


# --- delivery ---------------------------------------------------------------------------------


def test_delivers_signed_matching_alerts(store: SqlStore) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            rule = store.create_alert_rule(OWNER, rx.url("/hook"), AlertFilter.of(kinds=["sandwich"]))
            async with dispatcher(store) as d:
                d.offer(alert(1, "arbitrage"))  # filtered out
                sent = alert(2, "sandwich", details={"amount": 10**30})
                d.offer(sent)
                assert await d.flush(5)
            (req,) = rx.requests
            assert req.body == sent.to_json()
            assert Alert.from_json(req.body).id == sent.id
            assert req.headers["content-type"] == "application/json"
            assert req.headers[ALERT_ID_HEADER.lower()] == sent.id
            stamp, sig = req.headers[TIMESTAMP_HEADER.lower()], req.headers[SIGNATURE_HEADER.lower()]
            assert abs(int(stamp) - time.time()) < 30
            assert verify_signature(rule.secret, stamp, req.body, sig)
            assert not verify_signature("whsec_other", stamp, req.body, sig)
            assert (d.stats.offered, d.stats.queued, d.stats.delivered) == (2, 1, 1)
            assert store.dead_letters() == []

    run(main())


def test_retries_two_503s_then_delivers(store: SqlStore) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            rx.plan["/flaky"] = [Reply(503), Reply(503), Reply(200)]
            store.create_alert_rule(OWNER, rx.url("/flaky"))
            async with dispatcher(store, backoff_s=0.05, max_backoff_s=1.0) as d:
                d.offer(alert(1))
                assert await d.flush(5)
            reqs = rx.at("/flaky")
            assert len(reqs) == 3
            assert len({r.headers[ALERT_ID_HEADER.lower()] for r in reqs}) == 1
            assert len({r.body for r in reqs}) == 1
            gaps = [b.at - a.at for a, b in itertools.pairwise(reqs)]
            assert gaps[0] >= 0.045 and gaps[1] >= 0.095  # 0.05 s, doubling
            assert (d.stats.delivered, d.stats.retries) == (1, 2)
            assert store.dead_letters() == []

    run(main())


def test_retry_after_is_honoured_up_to_the_cap(store: SqlStore) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            rx.plan["/busy"] = [
                Reply(429, headers=(("Retry-After", "0"),)),
                Reply(429, headers=(("Retry-After", "60"),)),
                Reply(200),
            ]
            store.create_alert_rule(OWNER, rx.url("/busy"))
            async with dispatcher(store, backoff_s=0.01, max_backoff_s=0.3) as d:
                d.offer(alert(1))
                assert await d.flush(5)
            a, b, c = rx.at("/busy")
            assert b.at - a.at < 0.25  # Retry-After 0: the backoff (0.01 s)
            assert 0.29 <= c.at - b.at < 5  # Retry-After 60: capped at max_backoff_s
            assert d.stats.delivered == 1

    run(main())


def test_permanent_400_is_dead_lettered_after_one_attempt(store: SqlStore) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            rx.plan["/bad"] = [Reply(400)]
            rule = store.create_alert_rule(OWNER, rx.url("/bad"))
            async with dispatcher(store) as d:
                sent = alert(7)
                d.offer(sent)
                assert await d.flush(5)
            assert len(rx.at("/bad")) == 1
            (dead,) = store.dead_letters(rule_id=rule.id)
            assert (dead.attempts, dead.last_status, dead.last_error) == (1, 400, "HTTP 400 Bad Request")
            assert dead.alert_id == sent.id and dead.alert.to_dict() == sent.to_dict()
            assert (d.stats.delivered, d.stats.dead_letters, d.stats.retries) == (0, 1, 0)

    run(main())


def test_unreachable_url_is_dead_lettered_after_max_attempts(store: SqlStore) -> None:
    async def main() -> None:
        rule = store.create_alert_rule(OWNER, f"http://127.0.0.1:{free_port()}/gone")
        async with dispatcher(store, max_attempts=4, backoff_s=0.01) as d:
            d.offer(alert(1))
            assert await d.flush(5)
        (dead,) = store.dead_letters(rule_id=rule.id)
        assert dead.attempts == 4 and dead.last_status is None
        assert dead.last_error is not None and "ConnectError" in dead.last_error
        assert d.stats.retries == 3

    run(main())


def test_timeout_is_retried(store: SqlStore) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            rx.plan["/sleepy"] = [Reply(200, delay_s=1.0), Reply(200)]
            store.create_alert_rule(OWNER, rx.url("/sleepy"))
            async with dispatcher(store, timeout_s=0.2) as d:
                d.offer(alert(1))
                assert await d.flush(5)
            assert len(rx.at("/sleepy")) == 2  # at-least-once: the receiver saw it twice
            assert (d.stats.delivered, d.stats.retries) == (1, 1)

    run(main())


def test_slow_receiver_does_not_delay_a_fast_one(store: SqlStore) -> None:
    n = 50

    async def main() -> tuple[float, int]:
        async with Receiver() as rx:
            rx.plan["/slow"] = [Reply(200, delay_s=30.0)]
            store.create_alert_rule(OWNER, rx.url("/slow"))
            store.create_alert_rule(OWNER, rx.url("/fast"))
            store.create_alert_rule(OWNER, rx.url("/other"), AlertFilter.of(kinds=["jit"]))
            async with dispatcher(store, timeout_s=60.0, drain_s=0.1) as d:
                start = time.monotonic()
                for i in range(n):
                    d.offer(alert(i))
                await until(lambda: len(rx.at("/fast")) == n, timeout_s=20)
                fast_done = time.monotonic() - start
                slow_seen = len(rx.at("/slow"))
            assert rx.at("/other") == []
            return fast_done, slow_seen

    fast_done, slow_seen = run(main())
    # every alert reached the fast receiver while the slow one still sat on the first
    assert slow_seen == 1, (fast_done, slow_seen)
    print(f"{n} alerts to the fast receiver in {fast_done:.3f} s beside a stalled one")


def test_offer_takes_microseconds(store: SqlStore) -> None:
    n = 1000

    async def main() -> list[float]:
        async with Receiver() as rx:
            rx.plan["/stalled"] = [Reply(200, delay_s=10.0)]
            for path in ("/stalled", "/stalled"):
                store.create_alert_rule(OWNER, rx.url(path))
            store.create_alert_rule(OWNER, rx.url("/none"), AlertFilter.of(kinds=["jit"]))
            durations = []
            async with dispatcher(store, queue_per_rule=n, drain_s=0.0) as d:
                for i in range(n):
                    a = alert(i)
                    t0 = time.perf_counter()
                    d.offer(a)
                    durations.append(time.perf_counter() - t0)
                assert d.stats.queued == 2 * n
            # closing dead-letters everything (2 x n) in a few batched writes
            assert d.stats.dead_letters == 2 * n and d.stats.lost == 0
            return durations

    durations = run(main())
    durations.sort()
    med, p99 = durations[len(durations) // 2], durations[int(len(durations) * 0.99)]
    print(f"offer() to 3 rules (2 matching): median {med * 1e6:.1f} us, p99 {p99 * 1e6:.1f} us")
    # offer() never waits for a receiver: all of them returned while one receiver is stalled 10 s
    assert sum(durations) < 5.0


def test_full_queue_dead_letters_the_new_alert(store: SqlStore) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            rx.plan["/slow"] = [Reply(200, delay_s=0.2)]
            rule = store.create_alert_rule(OWNER, rx.url("/slow"))
            async with dispatcher(store, queue_per_rule=2) as d:
                for i in range(5):  # no await in between: the worker has taken none yet
                    d.offer(alert(i))
                assert await d.flush(5)
            assert [r.headers[ALERT_ID_HEADER.lower()] for r in rx.requests] == [alert(0).id, alert(1).id]
            dead = store.dead_letters(rule_id=rule.id)
            assert sorted(x.alert_id for x in dead) == sorted(alert(i).id for i in (2, 3, 4))
            assert all(x.last_error == "queue full" and x.attempts == 0 for x in dead)
            assert (d.stats.queue_full, d.stats.delivered, d.stats.lost) == (3, 2, 0)

    run(main())


def test_rules_are_refreshed_paused_and_deleted(store: SqlStore) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            async with dispatcher(store, refresh_s=0.05) as d:
                d.offer(alert(1))  # no rule yet
                rule = store.create_alert_rule(OWNER, rx.url("/r"))
                await until(lambda: rule.id in d._lanes)  # picked up by the periodic refresh
                d.offer(alert(2))
                await until(lambda: len(rx.requests) == 1)
                store.set_alert_rule_active(rule.id, False)
                await d.refresh()
                d.offer(alert(3))
                store.set_alert_rule_active(rule.id, True)
                await d.refresh()
                d.offer(alert(4))
                assert await d.flush(5)
                store.delete_alert_rule(rule.id)
                await d.refresh()
                d.offer(alert(5))
                assert await d.flush(5)
            assert [r.headers[ALERT_ID_HEADER.lower()] for r in rx.requests] == [alert(2).id, alert(4).id]

    run(main())


def test_close_dead_letters_what_it_could_not_deliver(store: SqlStore) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            rx.plan["/stuck"] = [Reply(200, delay_s=5.0)]
            rule = store.create_alert_rule(OWNER, rx.url("/stuck"))
            d = dispatcher(store, timeout_s=10.0, drain_s=0.2)
            await d.start()
            for i in range(3):
                d.offer(alert(i))
            await until(lambda: len(rx.requests) == 1)
            t0 = time.monotonic()
            await d.close()
            assert time.monotonic() - t0 < 3
            d.offer(alert(9))  # after close: counted and logged as lost
            dead = store.dead_letters(rule_id=rule.id)
            assert sorted(x.alert_id for x in dead) == sorted(alert(i).id for i in range(3))
            assert {x.last_error for x in dead} == {"dispatcher closed before delivery"}
            assert [x.attempts for x in sorted(dead, key=lambda x: x.alert_id)] == [1, 0, 0]
            assert d.stats.lost == 1

    run(main())


def test_alerts_offered_before_start_are_kept(store: SqlStore) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            store.create_alert_rule(OWNER, rx.url("/early"))
            d = dispatcher(store)
            d.offer(alert(1))
            async with d:
                assert await d.flush(5)
            assert len(rx.at("/early")) == 1

    run(main())


def test_offer_from_another_thread(store: SqlStore) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            store.create_alert_rule(OWNER, rx.url("/t"))
            async with dispatcher(store) as d:
                worker = threading.Thread(target=lambda: [d.offer(alert(i)) for i in range(10)])
                worker.start()
                await asyncio.to_thread(worker.join)
                await until(lambda: len(rx.requests) == 10)

    run(main())


def test_attached_local_bus(store: SqlStore) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            store.create_alert_rule(OWNER, rx.url("/bus"), AlertFilter.of(stages=["mempool"]))
            bus = LocalBus()
            sub = await bus.subscribe()
            async with dispatcher(store) as d:
                d.attach(bus)
                await bus.publish(alert(1, stage="mempool"))
                bus.publish_nowait(alert(2, stage="block"))
                assert await d.flush(5)
            await bus.publish(alert(3, stage="mempool"))  # detached by close()
            assert [r.headers[ALERT_ID_HEADER.lower()] for r in rx.requests] == [alert(1, stage="mempool").id]
            assert sub.queue.qsize() == 3  # the bus's own subscribers are untouched
            await bus.close()

    run(main())


def test_redis_bus_delivers_once_from_the_publishing_process(store: SqlStore) -> None:
    """Two bus instances on one channel stand for the follower and an API process: the hook
    fires where the alert is published, never where it is received."""
    url = redis_or_skip()
    channel = f"mevgraph-test:{uuid.uuid4().hex[:12]}:alerts"

    async def main() -> None:
        async with Receiver() as rx:
            store.create_alert_rule(OWNER, rx.url("/redis"))
            follower, api = RedisBus(url, channel), RedisBus(url, channel)
            sub = await api.subscribe()
            try:
                async with dispatcher(store) as d:
                    d.attach(follower)
                    await follower.publish(alert(1))
                    assert (await sub.get(5)).id == alert(1).id  # the API process got it...
                    await api.publish(alert(2))  # ...and something it publishes is not ours
                    assert await d.flush(5)
                assert [r.headers[ALERT_ID_HEADER.lower()] for r in rx.requests] == [alert(1).id]
            finally:
                await follower.close()
                await api.close()

    run(main())


# --- REST ------------------------------------------------------------------------------------


@pytest.fixture
def keys(store: SqlStore) -> dict[str, str]:
    return {
        "mine": store.create_api_key(["read", "alerts"], "mine"),
        "theirs": store.create_api_key(["alerts"], "theirs"),
        "read": store.create_api_key(["read"], "read only"),
    }


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    with TestClient(create_app(store, rate_limit_per_minute=10_000, cache_ttl_s=0)) as c:
        yield c


def _h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_rest_rule_crud(client: TestClient, store: SqlStore, keys: dict[str, str]) -> None:
    body = {
        "url": "https://example.org/hook",
        "name": "sandwiches",
        "filter": {"kinds": ["sandwich"], "minProfitUsd": 5, "pools": [POOL.upper().replace("0X", "0x")]},
    }
    r = client.post("/v1/alerts/rules", json=body, headers=_h(keys["mine"]))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_")
    assert created["url"] == body["url"] and created["name"] == "sandwiches" and created["active"] is True
    assert created["filter"] == {
        "kinds": ["sandwich"],
        "chains": None,
        "minProfitUsd": 5.0,
        "pools": [POOL],
        "bots": None,
        "protocols": None,
        "stages": None,
    }
    rid = created["id"]
    (stored,) = store.alert_rules(key_identity(keys["mine"]))
    assert stored.id == rid and stored.secret == created["secret"]
    assert stored.filter == AlertFilter.of(kinds=["sandwich"], min_profit_usd=5, pools=[POOL])

    listed = client.get("/v1/alerts/rules", headers=_h(keys["mine"])).json()["rules"]
    assert [x["id"] for x in listed] == [rid] and "secret" not in listed[0]
    one = client.get(f"/v1/alerts/rules/{rid}", headers=_h(keys["mine"])).json()
    assert one == {k: v for k, v in created.items() if k != "secret"}

    r = client.patch(f"/v1/alerts/rules/{rid}", json={"active": False}, headers=_h(keys["mine"]))
    assert r.status_code == 200 and r.json()["active"] is False
    assert store.alert_rules(key_identity(keys["mine"])) == []

    assert client.delete(f"/v1/alerts/rules/{rid}", headers=_h(keys["mine"])).status_code == 204
    r = client.delete(f"/v1/alerts/rules/{rid}", headers=_h(keys["mine"]))
    assert r.status_code == 404 and r.json()["error"] == "not found"
    assert client.get("/v1/alerts/rules", headers=_h(keys["mine"])).json() == {"rules": []}


def test_rest_another_key_cannot_see_or_touch_my_rule(
    client: TestClient, store: SqlStore, keys: dict[str, str]
) -> None:
    r = client.post("/v1/alerts/rules", json={"url": "http://127.0.0.1:9/x"}, headers=_h(keys["mine"]))
    rid = r.json()["id"]
    store.add_dead_letter(rid, alert(1), attempts=1, last_status=500, last_error="HTTP 500")
    theirs = _h(keys["theirs"])
    assert client.get("/v1/alerts/rules", headers=theirs).json() == {"rules": []}
    assert client.get(f"/v1/alerts/rules/{rid}", headers=theirs).status_code == 404
    assert client.patch(f"/v1/alerts/rules/{rid}", json={"active": False}, headers=theirs).status_code == 404
    assert client.delete(f"/v1/alerts/rules/{rid}", headers=theirs).status_code == 404
    assert client.get("/v1/alerts/dead-letters", headers=theirs).json() == {"deadLetters": []}
    dead_id = store.dead_letters()[0].id
    assert client.delete(f"/v1/alerts/dead-letters/{dead_id}", headers=theirs).status_code == 404
    # still there for the owner
    assert store.alert_rule(rid) is not None and store.alert_rule(rid).active  # type: ignore[union-attr]
    assert len(store.dead_letters()) == 1


def test_rest_dead_letters(client: TestClient, store: SqlStore, keys: dict[str, str]) -> None:
    mine = _h(keys["mine"])
    a = client.post("/v1/alerts/rules", json={"url": "http://127.0.0.1:9/a"}, headers=mine).json()["id"]
    b = client.post("/v1/alerts/rules", json={"url": "http://127.0.0.1:9/b"}, headers=mine).json()["id"]
    store.add_dead_letter(a, alert(1), attempts=6, last_status=503, last_error="HTTP 503 Service Unavailable")
    store.add_dead_letter(b, alert(2), attempts=0, last_error="queue full")
    got = client.get("/v1/alerts/dead-letters", headers=mine).json()["deadLetters"]
    assert [d["alertId"] for d in got] == [alert(2).id, alert(1).id]
    first = got[1]
    assert first["ruleId"] == a and first["attempts"] == 6 and first["lastStatus"] == 503
    assert first["alert"] == alert(1, detected_at=first["alert"]["detectedAt"]).to_dict()
    assert first["failedAt"].endswith("Z")
    only_b = client.get("/v1/alerts/dead-letters", params={"ruleId": b, "limit": 5}, headers=mine).json()
    assert [d["alertId"] for d in only_b["deadLetters"]] == [alert(2).id]
    assert client.delete(f"/v1/alerts/dead-letters/{got[0]['id']}", headers=mine).status_code == 204
    assert len(client.get("/v1/alerts/dead-letters", headers=mine).json()["deadLetters"]) == 1


def test_rest_auth(client: TestClient, keys: dict[str, str]) -> None:
    for method, path in (
        ("get", "/v1/alerts/rules"),
        ("post", "/v1/alerts/rules"),
        ("get", "/v1/alerts/dead-letters"),
    ):
        r = client.request(method, path, json={"url": "http://x.org/"})
        assert r.status_code == 401 and r.json()["error"] == "unauthorized", r.text
        r = client.request(method, path, json={"url": "http://x.org/"}, headers=_h("mg_unknown"))
        assert r.status_code == 401
        r = client.request(method, path, json={"url": "http://x.org/"}, headers=_h(keys["read"]))
        assert r.status_code == 403 and "alerts" in r.json()["message"]


def test_rest_needs_a_key_even_without_auth(store: SqlStore) -> None:
    with TestClient(create_app(store, auth=False)) as c:
        assert c.get("/v1/alerts/rules").status_code == 401


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"url": "ftp://example.org/x"}, "url"),
        ({"url": "example.org/x"}, "url"),
        ({"url": "http://"}, "url"),
        ({}, "url"),
        ({"url": "http://x.org/", "filter": {"kinds": ["sandwhich"]}}, "filter"),
        ({"url": "http://x.org/", "filter": {"pools": ["0x12"]}}, "filter"),
        ({"url": "http://x.org/", "filter": {"minProfitUsd": -1}}, "filter"),
        ({"url": "http://x.org/", "filter": {"stages": ["pending"]}}, "filter"),
        ({"url": "http://x.org/", "filter": {"kind": ["jit"]}}, "filter"),
        ({"url": "http://x.org/", "surprise": 1}, "surprise"),
        ({"url": "http://x.org/", "name": ""}, "name"),
    ],
)
def test_rest_invalid_rule_is_422(
    client: TestClient, keys: dict[str, str], body: dict[str, Any], parameter: str
) -> None:
    r = client.post("/v1/alerts/rules", json=body, headers=_h(keys["mine"]))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid parameter" and r.json()["parameter"] == parameter


def test_rest_invalid_ids_and_params_are_422(client: TestClient, keys: dict[str, str]) -> None:
    mine = _h(keys["mine"])
    assert client.get("/v1/alerts/rules/not-a-uuid", headers=mine).json()["parameter"] == "id"
    assert client.get("/v1/alerts/dead-letters", params={"limit": 0}, headers=mine).status_code == 422
    r = client.get("/v1/alerts/dead-letters", params={"ruleId": "x"}, headers=mine)
    assert r.status_code == 422 and r.json()["parameter"] == "ruleId"
    r = client.patch(f"/v1/alerts/rules/{uuid.uuid4()}", json={"active": "maybe"}, headers=mine)
    assert r.status_code == 422


def test_rest_rule_limit_per_key(
    client: TestClient, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wh, "MAX_RULES_PER_KEY", 2)
    for i in range(2):
        r = client.post("/v1/alerts/rules", json={"url": f"http://x.org/{i}"}, headers=_h(keys["mine"]))
        assert r.status_code == 201
    r = client.post("/v1/alerts/rules", json={"url": "http://x.org/3"}, headers=_h(keys["mine"]))
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    r = client.post("/v1/alerts/rules", json={"url": "http://x.org/3"}, headers=_h(keys["theirs"]))
    assert r.status_code == 201


def test_rest_rate_limited_with_the_key(store: SqlStore, keys: dict[str, str]) -> None:
    with TestClient(create_app(store, rate_limit_per_minute=3)) as c:
        statuses = [c.get("/v1/alerts/rules", headers=_h(keys["mine"])).status_code for _ in range(3)]
        assert statuses == [200] * 3
        r = c.get("/v1/mev/bots", headers=_h(keys["mine"]))  # one budget per key for all routes
        assert r.status_code == 429
        r = c.get("/v1/alerts/rules", headers=_h(keys["mine"]))
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


# --- the document, fuzzed --------------------------------------------------------------------

OPERATIONS = [
    ("/v1/alerts/rules", "POST"),
    ("/v1/alerts/rules", "GET"),
    ("/v1/alerts/rules/{id}", "GET"),
    ("/v1/alerts/rules/{id}", "PATCH"),
    ("/v1/alerts/rules/{id}", "DELETE"),
    ("/v1/alerts/dead-letters", "GET"),
    ("/v1/alerts/dead-letters/{id}", "DELETE"),
]


def test_document_lists_the_webhook_operations(store: SqlStore) -> None:
    import schemathesis

    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(store))
    ops = [r.ok() for r in schema.get_all_operations()]
    assert sorted((op.path, op.method.upper()) for op in ops if op.path.startswith("/v1/alerts")) == sorted(
        OPERATIONS
    )


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_no_server_error_and_responses_conform(
    store: SqlStore, keys: dict[str, str], path: str, method: str
) -> None:
    """Generated requests, valid and invalid, never get a 5xx and match the document."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(store, rate_limit_per_minute=10**9))
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        if method == "GET" and path == "/v1/alerts/rules" and mode is GenerationMode.NEGATIVE:
            continue  # no parameter, so no invalid request

        @given(case=schema[path][method].as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            case.call_and_validate(headers=_h(keys["mine"]), checks=checks)

        check()
