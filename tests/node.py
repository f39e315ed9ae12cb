"""A real local Ethereum node for tests, on top of :mod:`mevgraph.sim.node` (anvil from npm).

``with anvil_node() as node: node.rpc("eth_blockNumber")`` starts anvil on a free 127.0.0.1 port
and always kills that process by its PID on exit (also when the test fails). Without the binary
the test is skipped with the setup command to run, or FAILS when ``CI=true`` (CI must not
silently skip the node tests).

Defaults: automine on, ``--order fifo`` (so the order of a hand-built block is the send order,
not the fee order; see the fee-ordering notes in the README), ``--quiet``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mevgraph.sim.chain import Chain, RpcError
from mevgraph.sim.node import ROOT, Anvil, AnvilMissing, anvil_binary, free_port

__all__ = ["ROOT", "AnvilNode", "anvil_node", "free_port", "require_anvil", "RpcCallError"]

RpcCallError = RpcError
"""The node answered a JSON-RPC call with an error object."""


def require_anvil() -> Path:
    """The anvil binary; skip the test (or fail it under ``CI=true``) when it is missing."""
    try:
        return anvil_binary()
    except AnvilMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@dataclass
class AnvilNode:
    """A running anvil and a small synchronous JSON-RPC helper."""

    anvil: Anvil
    chain: Chain

    @property
    def url(self) -> str:
        return self.anvil.url

    @property
    def port(self) -> int:
        return self.anvil.port

    @property
    def pid(self) -> int:
        return self.anvil.pid

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.anvil.process

    def rpc(self, method: str, *params: Any) -> Any:
        return self.chain.rpc(method, *params)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        return self.chain.batch(calls)


@contextlib.contextmanager
def anvil_node(*extra_args: str, startup_timeout: float = 20.0) -> Iterator[AnvilNode]:
    """Start anvil (``--order fifo --quiet`` plus ``extra_args``); kill it by PID on exit."""
    require_anvil()
    anvil = Anvil("--order", "fifo", *extra_args, startup_timeout=startup_timeout)
    chain = Chain(anvil.url)
    try:
        yield AnvilNode(anvil, chain)
    finally:
        chain.close()
        anvil.stop()
