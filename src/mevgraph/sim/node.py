"""A local Ethereum node: anvil from npm (``@foundry-rs/anvil``, pinned in package.json).

:class:`Anvil` starts anvil bound to 127.0.0.1 on a free port, waits until it answers JSON-RPC,
and always kills exactly that process (by PID) on :meth:`Anvil.stop` -- also from ``with``,
``atexit`` and when the owning test fails -- so no stray node is ever left behind.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

__all__ = ["ANVIL", "ROOT", "Anvil", "AnvilMissing", "free_port", "anvil_binary"]

ROOT = Path(__file__).resolve().parents[3]
ANVIL = Path(os.environ.get("MEVGRAPH_ANVIL", ROOT / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))
SETUP_HINT = "run `make setup` (or `npm ci` in the repo root) to install the anvil node from npm"


class AnvilMissing(RuntimeError):
    """The anvil binary is not installed."""


def anvil_binary() -> Path:
    if ANVIL.is_file() and os.access(ANVIL, os.X_OK):
        return ANVIL
    raise AnvilMissing(f"anvil not found at {ANVIL}: {SETUP_HINT}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_LIVE: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_all() -> None:  # a last resort if a caller forgot stop()
    for p in list(_LIVE):
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)


class Anvil:
    """One anvil process. ``args`` are passed through (e.g. ``--no-mining``, ``--order fees``)."""

    def __init__(
        self,
        *args: str,
        port: int | None = None,
        load_state: Path | None = None,
        chain_id: int | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        cmd = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(self.port), "--quiet", *args]
        if load_state is not None:
            cmd += ["--load-state", str(load_state)]
        if chain_id is not None:
            cmd += ["--chain-id", str(chain_id)]
        self.cmd = cmd
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _LIVE.add(self.process)
        try:
            self._wait_ready(startup_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as c:
            while True:
                if self.process.poll() is not None:
                    err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                    raise RuntimeError(f"anvil exited with code {self.process.returncode}: {err[-500:]}")
                try:
                    c.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
                    return
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"anvil did not answer on {self.url} within {timeout}s") from None
                    time.sleep(0.03)

    def stop(self) -> None:
        p = self.process
        if p.poll() is None:
            p.kill()  # this PID only
        p.wait(timeout=10)
        if p.stderr:
            p.stderr.close()
        _LIVE.discard(p)

    def __enter__(self) -> Anvil:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
