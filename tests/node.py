"""A real local Ethereum node for tests: anvil from npm (``@foundry-rs/anvil``, pinned in package.json).

``with anvil_node() as node: node.rpc("eth_blockNumber")`` starts anvil on a free port bound to
127.0.0.1, waits until it answers JSON-RPC, and always kills that process by its PID on exit
(also when the test fails). Without the binary the test is skipped with the setup command to run,
or FAILS when ``CI=true`` (CI must not silently skip the node tests).

Defaults: automine on, ``--order fifo`` (so the order of a hand-built block is the send order,
not the fee order; see docs/TESTBED.md for the fee-ordering gotcha), ``--quiet``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

__all__ = ["ROOT", "ANVIL", "AnvilNode", "anvil_node", "free_port", "require_anvil"]

ROOT = Path(__file__).resolve().parents[1]
ANVIL = Path(os.environ.get("MEVGRAPH_ANVIL", ROOT / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))
SETUP_HINT = "run `make setup` (or `npm ci` in the repo root) to install the anvil node from npm"


def require_anvil() -> Path:
    """The anvil binary; skip the test (or fail it under ``CI=true``) when it is missing."""
    if ANVIL.is_file() and os.access(ANVIL, os.X_OK):
        return ANVIL
    msg = f"anvil not found at {ANVIL}: {SETUP_HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RpcCallError(RuntimeError):
    """The node answered a JSON-RPC call with an error object."""


@dataclass
class AnvilNode:
    """A running anvil process and a small synchronous JSON-RPC helper."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    client: httpx.Client

    @property
    def pid(self) -> int:
        return self.process.pid

    def rpc(self, method: str, *params: Any) -> Any:
        body = self.client.post(
            self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        ).json()
        if body.get("error"):
            raise RpcCallError(f"{method}: {body['error']}")
        return body["result"]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        out = {r["id"]: r for r in self.client.post(self.url, json=payload).json()}
        for i, (m, _) in enumerate(calls):
            if out[i].get("error"):
                raise RpcCallError(f"{m}: {out[i]['error']}")
        return [out[i]["result"] for i in range(len(calls))]


@contextlib.contextmanager
def anvil_node(*extra_args: str, startup_timeout: float = 20.0) -> Iterator[AnvilNode]:
    """Start anvil (``--order fifo --quiet`` plus ``extra_args``); kill it by PID on exit."""
    binary = require_anvil()
    port = free_port()
    cmd = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--quiet", "--order", "fifo", *extra_args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = httpx.Client(timeout=10.0)
    node = AnvilNode(url=f"http://127.0.0.1:{port}", port=port, process=proc, client=client)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"anvil exited with code {proc.returncode}: {err[-500:]}")
            try:
                node.rpc("eth_chainId")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"anvil did not answer on {node.url} within {startup_timeout}s"
                    ) from None
                time.sleep(0.05)
        yield node
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()  # this PID only
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
