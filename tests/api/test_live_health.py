"""``/v1/health`` reports the live pipeline: a follower whose node is down is ``reconnecting``
(with its last error) and the service is ``degraded``, not crashed; once the follower stops the
report says so too."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from mevgraph.api import create_app
from mevgraph.ingest.bus import LocalBus
from mevgraph.ingest.follow import Follower
from mevgraph.sim.node import free_port
from mevgraph.store import open_store


def test_health_reports_a_follower_retrying_a_dropped_node(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    port = free_port()  # nothing listens there
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    follower = Follower(
        f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", store, LocalBus(), max_backoff=0.2
    )
    thread = threading.Thread(target=lambda: loop.run_until_complete(follower.run(stop)), daemon=True)
    thread.start()
    try:
        with TestClient(create_app(store, auth=False)) as client:
            deadline = time.monotonic() + 10
            body: dict = {}
            while time.monotonic() < deadline:
                body = client.get("/v1/health").json()
                fs = body.get("followers") or []
                if fs and fs[0]["state"] == "reconnecting" and fs[0]["reconnects"] >= 2:
                    break
                time.sleep(0.1)
            assert body["status"] == "degraded" and body["store"] == "ok"
            (f,) = body["followers"]
            assert f["state"] == "reconnecting" and f["lastError"] and f["node"] == f"http://127.0.0.1:{port}"
            loop.call_soon_threadsafe(stop.set)
            thread.join(10)
            assert not thread.is_alive()
            assert client.get("/v1/health").json()["followers"] == []  # a stopped follower is gone
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        store.close()
