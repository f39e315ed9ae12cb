"""``mevgraph serve``: ``--workers N`` over PostgreSQL through real HTTP, and one process.

* the list pages the workers serve (PostgreSQL's JSON rows and pipelined totals, on the event
  loop) are the documents the embedded store's API serves for the same blocks;
* connections that arrive together spread over the workers (each has its own ``SO_REUSEPORT``
  socket; uvicorn's shared socket gave one worker all 32 of a benchmark's connections);
* a killed worker is replaced; SIGTERM stops the supervisor with every worker, and so does
  killing the supervisor outright.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mevgraph.api import create_app
from mevgraph.api.workers import reuse_port_balances
from mevgraph.sim.node import free_port

from . import filled_store

_LINUX_ONLY = pytest.mark.skipif(not reuse_port_balances(), reason="SO_REUSEPORT balancing is Linux-only")


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                out.add(int(entry.name))
    return out


def _workers(pid: int) -> set[int]:
    """The supervisor's API workers (its children other than multiprocessing's tracker)."""
    return {c for c in _children(pid) if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()}


def _connections_by_pid(port: int, pids: set[int]) -> dict[int, int]:
    """How many established TCP connections to ``port`` each of ``pids`` holds."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                if int(cols[1].rpartition(":")[2], 16) == port and cols[3] == "01":
                    inodes.add(cols[9])
    counts = {}
    for pid in pids:
        n = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                n += 1
        counts[pid] = n
    return counts


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@pytest.fixture
def served(
    pg_database: Callable[[], str], block_names: list[str], tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    url = pg_database()
    filled_store(url, block_names).close()
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "mevgraph.cli", "serve", "--store", url, "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--workers", "2", "--no-auth", "--rate-limit", "100000"],
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _get(port, "/v1/health")[0] == 200 and len(_workers(proc.pid)) == 2:
                    break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        else:
            pytest.fail("the server did not come up: " + (tmp_path / "serve.log").read_text())
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(40)
        log.close()


@_LINUX_ONLY
def test_workers_serve_the_embedded_stores_documents(
    served: tuple[subprocess.Popen[bytes], int], block_names: list[str], tmp_path: Path
) -> None:
    _, port = served
    embedded = filled_store(tmp_path / "embedded", block_names)
    try:
        with TestClient(create_app(embedded, auth=False)) as local:
            first = local.get("/v1/mev/opportunities", params={"sortOrder": "asc", "limit": 1}).json()
            o = first["opportunities"][0]
            bot, ts = o["bot"]["address"], o["timestamp"]
            queries = [
                "",
                "?limit=7&page=2",
                f"?botAddress={bot}",
                "?opportunityTypes=sandwich,arbitrage&chains=1&sortBy=profit",
                f"?startTime={ts}&endTime=2031-01-01T00:00:00.5Z",
                "?minProfit=10&sortBy=confidence&sortOrder=asc",
            ]
            for q in queries:
                status, body = _get(port, "/v1/mev/opportunities" + q)
                assert status == 200, body
                mine = local.get("/v1/mev/opportunities" + q)
                assert json.loads(body) == mine.json(), q
            assert _get(port, "/v1/mev/opportunities?limit=0")[0] == 422
    finally:
        embedded.close()


@_LINUX_ONLY
def test_a_killed_supervisor_takes_its_workers_along(served: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, _ = served
    workers = _workers(proc.pid)
    proc.kill()
    proc.wait(10)
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [
        w
        for w in workers
        if Path(f"/proc/{w}/stat").exists() and " Z " not in Path(f"/proc/{w}/stat").read_text()
    ]
    assert not alive, f"workers left serving after the supervisor was killed: {alive}"


@_LINUX_ONLY
def test_connections_spread_over_workers_and_workers_are_supervised(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = served
    workers = _workers(proc.pid)
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(32)]
    try:
        for c in conns:  # a burst, as a client pool opens them (uvicorn's shared socket: 15 and 1 of 16)
            c.connect()
        for c in conns:  # keep-alive: each connection stays with the worker that accepted it
            c.request("GET", "/v1/health")
            c.getresponse().read()
        counts = _connections_by_pid(port, workers)
        assert sum(counts.values()) == 32
        # by the kernel's hash each worker holds Binomial(32, 1/2) of them: <= 5 has p ~ 1e-4
        assert min(counts.values()) >= 6, counts
    finally:
        for c in conns:
            c.close()

    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = _workers(proc.pid)
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the killed worker was not replaced")
    deadline = time.monotonic() + 30
    while _get(port, "/v1/health")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(40) == 0
    assert not any(Path(f"/proc/{w}").exists() for w in now)  # no worker outlives the supervisor


def test_serve_exits_cleanly_on_the_embedded_store(tmp_path: Path, block_names: list[str]) -> None:
    """One process on the embedded store: it serves, stops by itself, and exits without the
    extension-type leak reports a heap left frozen out of the collector caused at exit."""
    filled_store(tmp_path / "store", block_names[:3]).close()
    port = free_port()
    cmd = [sys.executable, "-m", "mevgraph.cli", "serve", "--store", str(tmp_path / "store")]
    done = subprocess.run(
        [*cmd, "--port", str(port), "--for-seconds", "3", "--no-auth"],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert b"leaked" not in done.stderr, done.stderr.decode()[-2000:]
