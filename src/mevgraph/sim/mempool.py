"""A searcher's view of the public mempool: ``eth_subscribe("newPendingTransactions", true)``.

:class:`MempoolWatcher` holds one WebSocket subscription in a background thread and collects the
full pending transactions in the order the node announced them (their ``seq``). The simulation
asks it to :meth:`~MempoolWatcher.wait_for` the transactions it knows were sent before a searcher
decides, so what a searcher sees is deterministic for a seed, yet comes through the node's real
subscription, as on mainnet.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import orjson
import websockets

from mevgraph.sim.agents.base import Pending

__all__ = ["MempoolWatcher", "pending_from_rpc"]

log = logging.getLogger(__name__)


def pending_from_rpc(tx: dict[str, Any], seq: int) -> Pending:
    def q(k: str) -> int:
        v = tx.get(k)
        return int(v, 16) if isinstance(v, str) else int(v or 0)

    to = tx.get("to")
    return Pending(
        hash=str(tx["hash"]).lower(),
        frm=str(tx["from"]).lower(),
        to=str(to).lower() if to else None,
        data=bytes.fromhex(str(tx.get("input") or "0x")[2:]),
        value=q("value"),
        max_fee=q("maxFeePerGas") or q("gasPrice"),
        tip=q("maxPriorityFeePerGas") or q("gasPrice"),
        gas=q("gas"),
        seq=seq,
    )


class MempoolWatcher:
    """Collects pending transactions from ``ws_url`` until :meth:`close`."""

    def __init__(self, ws_url: str, name: str = "watcher") -> None:
        self.ws_url = ws_url
        self.name = name
        self._lock = threading.Condition()
        self._seen: dict[str, Pending] = {}
        self._new: list[Pending] = []
        self._seq = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"mempool-{name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{name}: no subscription on {ws_url}: {self._error}")

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._listen())
        except BaseException as exc:  # surfaced to the caller by wait_for
            self._error = exc
            self._ready.set()
            with self._lock:
                self._lock.notify_all()

    async def _listen(self) -> None:
        async with websockets.connect(self.ws_url, max_size=None) as ws:
            await ws.send(
                orjson.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "eth_subscribe",
                        "params": ["newPendingTransactions", True],
                    }
                )
            )
            ack = orjson.loads(await ws.recv())
            if "error" in ack:
                raise RuntimeError(f"eth_subscribe: {ack['error']}")
            self._ready.set()
            while not self._stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.2)
                except TimeoutError:
                    continue
                msg = orjson.loads(raw)
                tx = (msg.get("params") or {}).get("result")
                if not isinstance(tx, dict):
                    continue
                with self._lock:
                    p = pending_from_rpc(tx, self._seq)
                    self._seq += 1
                    if p.hash not in self._seen:
                        self._seen[p.hash] = p
                        self._new.append(p)
                    self._lock.notify_all()

    def wait_for(self, hashes: set[str], timeout: float = 20.0) -> None:
        """Block until every hash in ``hashes`` was announced (or raise TimeoutError)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not hashes.issubset(self._seen):
                if self._error is not None:
                    raise RuntimeError(f"{self.name}: subscription failed: {self._error}")
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = len(hashes - self._seen.keys())
                    raise TimeoutError(f"{self.name}: {missing} pending txs never announced")
                self._lock.wait(left)

    def drain(self) -> list[Pending]:
        """Pending transactions announced since the last drain, in announcement order."""
        with self._lock:
            out, self._new = self._new, []
        return out

    def forget(self, hashes: set[str]) -> None:
        """Drop mined transactions from the seen-set (keeps memory flat over long runs)."""
        with self._lock:
            for h in hashes:
                self._seen.pop(h, None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
