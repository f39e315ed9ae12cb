"""The live follower: a node's new blocks in, stored findings and block-stage alerts out.

One :class:`Follower` per chain: it subscribes to ``eth_subscribe("newHeads")`` over the node's
WebSocket, and on every head fetches each block from the last stored one + 1 up to the head
(one batched JSON-RPC request per block -- block, receipts and traces -- through
:class:`~mevgraph.ingest.rpc.RpcClient`), decodes, detects and stores it with
:func:`mevgraph.store.ingest.ingest`, then publishes on the alert bus one
``Alert(stage="block")`` per finding and one ``Alert(stage="retraction")`` per opportunity a
reorg removed. :func:`run_followers` runs one follower per node, concurrently, in one event loop.

Guarantees:

* **No gap, no duplicate.** Blocks are stored in height order, each only after its parent
  (checked by hash), so the stored chain is contiguous from the first followed block. A
  restart resumes from the last stored block (which it replays: the store answers "unchanged"
  and its alerts are published again under the same ids -- ids are deterministic, consumers
  de-duplicate -- so alerts lost with a killed process are not lost for good); with nothing
  stored for the chain it starts at ``start_block``, by default the node's head.
* **Detection does not depend on lag.** Every block is detected on its own with the
  :data:`~mevgraph.pipeline.CONTEXT_BLOCKS` blocks before it as look-back (``chunk=1``), whether
  the follower is live or catching up after a restart, so the stored rows are the same either
  way (an offline ``ingest`` with its default 64-block batches may rate a cross-block frontrun
  higher: it sees the unwind in the *next* blocks, a live follower cannot yet).
* **Reorgs.** A block whose ``parentHash`` is not the stored hash one height below, or a head
  at a stored height with another hash, starts a walk back: the node's canonical hashes of the
  last ``max_reorg_depth`` stored heights (one batched request) against the stored ones give
  the fork point, and blocks are re-ingested from there; the store removes the orphans and
  reports the removed opportunities, which become retractions (with kind, pools, txs... when
  the follower still remembers the block alert it published for them, else ``kind=None``).
* **A dropped node is not a crash.** WebSocket and HTTP failures are retried with exponential
  backoff (capped at ``max_backoff`` seconds); the state is ``reconnecting`` meanwhile and the
  failure is kept in :class:`FollowerStatus`. ``eth_blockNumber`` is polled every
  ``poll_interval`` seconds when no head arrived, in case the subscription goes quiet.

Latency: a head is fetched as soon as it is announced (block + receipts + traces in one HTTP
request), detection runs on that block plus its look-back only, and the synchronous store write
runs in a worker thread (``asyncio.to_thread``) so the WebSocket keeps being read. Alerts are
queued from the worker thread the moment their block is written and published in order by one
task. :attr:`FollowerStatus.last_block_ms` is the last block's time from head announced to
alerts queued.

Status: :func:`follower_statuses` lists the followers running in this process; with
``status_redis`` each follower also mirrors its status to ``<prefix>follow:<chain id>`` with a
TTL, and :func:`read_follower_statuses` merges both, for an API process's ``/v1/health``.

**One writer.** The embedded store (DuckDB) allows one writing process, so with it the follower
runs *inside* ``mevgraph serve`` (from its FastAPI lifespan, which owns the only store handle)::

    stop = asyncio.Event()
    task = asyncio.create_task(run_followers(specs, store, bus, stop=stop))
    yield                      # the app serves
    stop.set()
    await task                 # the block being written is finished first

A separate ``mevgraph follow`` process needs a PostgreSQL store, and Redis for its alerts and
status to reach the API processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import httpx
import orjson
import websockets

from mevgraph.core.alerts import Alert
from mevgraph.core.types import Block
from mevgraph.decode.decoder import DecodedBlock
from mevgraph.detection.base import Finding
from mevgraph.ingest.bus import EventBus
from mevgraph.ingest.rpc import FailedBlock, RpcClient, RpcError
from mevgraph.ingest.rpc_model import quantity
from mevgraph.pipeline import CONTEXT_BLOCKS
from mevgraph.store.base import BlockRecord, IngestResult, Store
from mevgraph.store.ingest import ingest
from mevgraph.store.rows import opportunity_id

__all__ = [
    "DEFAULT_STATUS_PREFIX",
    "FollowError",
    "FollowSpec",
    "FollowState",
    "Follower",
    "FollowerStatus",
    "PendingSeen",
    "follower_statuses",
    "read_follower_statuses",
    "run_followers",
]

log = logging.getLogger(__name__)

FollowState = Literal["starting", "connected", "reconnecting", "stopped"]
PendingSeen = Callable[[Block], frozenset[str] | None]
"""A mempool monitor's answer for a block: its tx hashes seen pending (None: not watching)."""

DEFAULT_STATUS_PREFIX = "mevgraph:"
_FETCH_ROUND = 32  # blocks per catch-up round: the head is re-read and ``stop`` honoured between
_ALERT_MEMORY = 4096  # block alerts remembered to describe their retraction
_PUBLISH_TRIES = 3


class _NotYet(RpcError):
    """A block failed to fetch although the node answers (e.g. not served yet after its head)."""


class FollowError(RuntimeError):
    """A configuration error no retry can fix (the node changed chains, two followers of one
    chain in one process)."""


@dataclass(frozen=True, slots=True)
class FollowSpec:
    """One node to follow: JSON-RPC over HTTP for blocks, WebSocket for heads."""

    rpc_url: str
    ws_url: str
    start_block: int | None = None  # used only when the store holds nothing of this chain


@dataclass(frozen=True, slots=True)
class FollowerStatus:
    """A follower's health, as ``/v1/health`` reports it (``to_dict`` is its JSON)."""

    chain_id: int | None  # None until the node answered ``eth_chainId``
    node: str  # scheme://host:port of the node, without path, query or credentials
    state: FollowState
    head: int | None = None  # the node's latest head seen
    last_stored: int | None = None
    lag: int | None = None  # head - last_stored
    reconnects: int = 0
    last_error: str | None = None
    last_error_at: float | None = None  # unix seconds
    updated_at: float = field(default_factory=time.time)
    blocks_stored: int = 0  # by this run (a replayed block counts once more)
    alerts_published: int = 0
    alerts_dropped: int = 0  # the bus refused them after every retry
    reorgs: int = 0
    last_block_ms: float | None = None  # head announced -> block stored and its alerts queued
    # where ``last_block_ms`` went: fetch (head announced -> block, receipts and traces in hand),
    # decode, detect, write (the store's transaction), in ms
    last_stages_ms: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "node": self.node,
            "state": self.state,
            "head": self.head,
            "lastStored": self.last_stored,
            "lag": self.lag,
            "reconnects": self.reconnects,
            "lastError": self.last_error,
            "lastErrorAt": self.last_error_at,
            "updatedAt": self.updated_at,
            "blocksStored": self.blocks_stored,
            "alertsPublished": self.alerts_published,
            "alertsDropped": self.alerts_dropped,
            "reorgs": self.reorgs,
            "lastBlockMs": self.last_block_ms,
            "lastStagesMs": self.last_stages_ms,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FollowerStatus:
        return cls(
            chain_id=d.get("chainId"),
            node=str(d.get("node") or ""),
            state=d.get("state") or "stopped",
            head=d.get("head"),
            last_stored=d.get("lastStored"),
            lag=d.get("lag"),
            reconnects=int(d.get("reconnects") or 0),
            last_error=d.get("lastError"),
            last_error_at=d.get("lastErrorAt"),
            updated_at=float(d.get("updatedAt") or 0.0),
            blocks_stored=int(d.get("blocksStored") or 0),
            alerts_published=int(d.get("alertsPublished") or 0),
            alerts_dropped=int(d.get("alertsDropped") or 0),
            reorgs=int(d.get("reorgs") or 0),
            last_block_ms=d.get("lastBlockMs"),
            last_stages_ms=d.get("lastStagesMs"),
        )


def _node_label(url: str) -> str:
    """``scheme://host:port`` of ``url``: a provider's key in the path or userinfo stays out."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


_RUNNING: weakref.WeakSet[Follower] = weakref.WeakSet()


def follower_statuses() -> list[FollowerStatus]:
    """Statuses of the followers running in this process, by chain id."""
    return sorted((f.status for f in list(_RUNNING)), key=lambda s: (s.chain_id or 0, s.node))


def read_follower_statuses(
    redis_url: str | None, *, prefix: str = DEFAULT_STATUS_PREFIX, timeout: float = 1.0
) -> list[dict[str, Any]]:
    """Every follower status an API process can see, as JSON dicts: this process's followers,
    plus (with ``redis_url``) those other processes mirror to ``<prefix>follow:*``.

    A status of a process that died disappears when its key's TTL runs out. Redis errors are
    logged, not raised: health reports what it can.
    """
    out = {(s.chain_id, s.node): s.to_dict() for s in follower_statuses()}
    if redis_url:
        import redis

        try:
            client: Any = redis.Redis.from_url(
                redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
            try:
                keys = sorted(client.scan_iter(match=f"{prefix}follow:*", count=100))
                values = client.mget(keys) if keys else []
            finally:
                client.close()
        except Exception as exc:  # health must answer even when Redis does not
            log.warning("cannot read follower statuses from Redis: %s", exc)
            values = []
        for raw in values:
            if raw is None:
                continue
            try:
                d = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            out.setdefault((d.get("chainId"), d.get("node")), d)
    return sorted(out.values(), key=lambda d: (d.get("chainId") or 0, str(d.get("node"))))


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set.

    Timeouts in this module use ``asyncio.timeout``, never ``asyncio.wait_for``: on Python 3.11
    ``wait_for`` can swallow a cancellation that arrives as its inner await completes
    (CPython gh-86296), and a helper task that misses its cancellation blocks shutdown forever."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


def _hex_hash(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


class Follower:
    """Follows one node; see the module doc. ``await follower.run(stop)`` until ``stop`` is set.

    Args:
        rpc_url: the node's HTTP JSON-RPC endpoint (blocks, receipts, traces, hashes).
        ws_url: its WebSocket endpoint (``newHeads``).
        store: where blocks and findings go (synchronous; written from a worker thread).
        bus: where alerts go.
        start_block: the first block when the store holds nothing of this chain (default: the
            node's head when the follower starts).
        pending_seen: a mempool monitor's hook; decides ``seen_in_mempool`` of block alerts
            and ``detection_method``/private flow of stored rows.
        max_reorg_depth: stored heights compared with the node's on a reorg.
        poll_interval: seconds without a head after which ``eth_blockNumber`` is asked.
        max_backoff: cap of the exponential retry delay, seconds.
        status_redis: Redis URL to mirror the status to (``<status_prefix>follow:<chain>``).
        status_ttl: seconds the mirrored status lives without a refresh.
        on_stored: called (in the worker thread) after each block is written, before its alerts
            are queued -- e.g. to invalidate an API response cache.
        rpc_timeout: seconds per HTTP request to the node.
        fetch_concurrency: blocks fetched in parallel while catching up.
        defer_receipts: fetch a block's logs instead of its receipts when the node has traces
            and ask ``gasUsed`` only for the txs detectors price (:mod:`mevgraph.ingest.rpc`);
            False fetches every receipt.
    """

    def __init__(
        self,
        rpc_url: str,
        ws_url: str,
        store: Store,
        bus: EventBus,
        *,
        start_block: int | None = None,
        pending_seen: PendingSeen | None = None,
        max_reorg_depth: int = 64,
        poll_interval: float = 3.0,
        max_backoff: float = 5.0,
        status_redis: str | None = None,
        status_prefix: str = DEFAULT_STATUS_PREFIX,
        status_ttl: float = 30.0,
        on_stored: Callable[[BlockRecord], None] | None = None,
        rpc_timeout: float = 10.0,
        fetch_concurrency: int = 4,
        defer_receipts: bool = True,
    ) -> None:
        if max_reorg_depth < 1:
            raise ValueError("max_reorg_depth must be >= 1")
        self.rpc_url = rpc_url
        self.ws_url = ws_url
        self.store = store
        self.bus = bus
        self.start_block = start_block
        self.pending_seen = pending_seen
        self.max_reorg_depth = max_reorg_depth
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.status_redis = status_redis
        self.status_prefix = status_prefix
        self.status_ttl = status_ttl
        self.on_stored = on_stored
        self.rpc_timeout = rpc_timeout
        self.fetch_concurrency = fetch_concurrency
        self.defer_receipts = defer_receipts
        self.node = _node_label(rpc_url)

        self._status = FollowerStatus(chain_id=None, node=self.node, state="starting")
        self._chain_id: int | None = None
        self._rpc: RpcClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._status_dirty = asyncio.Event()
        self._outbox: asyncio.Queue[Alert] = asyncio.Queue()
        self._ws_up = False
        self._node_ok = False
        # chain position
        self._loaded = False
        self._next: int | None = None  # next height to fetch
        self._recent: OrderedDict[int, str] = OrderedDict()  # stored height -> hash, ascending
        self._look_back: list[Block] = []  # the stored blocks just below ``_next``
        self._decoded: dict[str, DecodedBlock] = {}  # hash -> decoded form of a look-back block
        self._head: int | None = None
        self._head_hash: str | None = None
        self._head_at = 0.0  # monotonic time of the last head
        self._announced: dict[int, float] = {}  # height -> monotonic time first announced
        # alerts
        self._published: OrderedDict[str, Alert] = OrderedDict()  # opportunity id -> block alert

    # -- status --------------------------------------------------------------------------------

    @property
    def chain_id(self) -> int | None:
        return self._chain_id

    @property
    def status(self) -> FollowerStatus:
        return self._status

    def _update(self, **changes: Any) -> None:
        s = replace(self._status, **changes, updated_at=time.time())
        if "head" in changes or "last_stored" in changes:
            lag = None if s.head is None or s.last_stored is None else max(0, s.head - s.last_stored)
            s = replace(s, lag=lag)
        self._status = s
        self._status_dirty.set()

    def _set_state(self) -> None:
        if self._status.state == "stopped":
            return
        state: FollowState = "connected" if self._ws_up and self._node_ok else "reconnecting"
        if self._status.state == "starting" and state == "reconnecting" and self._status.last_error is None:
            return  # still connecting for the first time
        if state != self._status.state:
            self._update(state=state)

    def _failed(self, what: str, exc: BaseException, *, node: bool) -> None:
        """Record a failure; ``node``: the node is unusable (the state goes ``reconnecting``)."""
        msg = f"{what}: {type(exc).__name__}: {exc}"
        changes: dict[str, Any] = {"last_error": msg, "last_error_at": time.time()}
        if node:
            if what == "websocket":
                self._ws_up = False
            else:
                self._node_ok = False
            if self._status.state == "connected":
                changes["reconnects"] = self._status.reconnects + 1
            if self._status.state != "stopped":
                changes["state"] = "reconnecting"
        self._update(**changes)
        log.warning("follower %s (chain %s): %s", self.node, self._chain_id, msg)

    # -- the run -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Follow until ``stop`` is set (or the task is cancelled).

        Raises:
            FollowError: the node's chain id changed, or another follower of this process
                follows the same chain.
        """
        self._stop = stop if stop is not None else asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._status_dirty = asyncio.Event()
        self._outbox = asyncio.Queue()
        self._rpc = RpcClient(
            self.rpc_url,
            concurrency=self.fetch_concurrency,
            timeout=self.rpc_timeout,
            max_retries=2,
            backoff=0.05,
            max_backoff=min(1.0, self.max_backoff),
            chain_id=self._chain_id,
            defer_receipts=self.defer_receipts,
        )
        _RUNNING.add(self)
        self._update(state="starting")
        helpers = [
            asyncio.create_task(self._relay_stop(), name="follow-stop"),
            asyncio.create_task(self._heads(), name="follow-heads"),
            asyncio.create_task(self._poll(), name="follow-poll"),
        ]
        publisher = asyncio.create_task(self._publish(), name="follow-publish")
        mirror = asyncio.create_task(self._mirror(), name="follow-status") if self.status_redis else None
        try:
            await self._sync()
        finally:
            for t in helpers:
                t.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._outbox.join(), 5.0)
            publisher.cancel()
            await asyncio.gather(publisher, return_exceptions=True)
            self._ws_up = self._node_ok = False
            self._update(state="stopped")
            if mirror is not None:
                self._status_dirty.set()
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(mirror), 2.0)
                mirror.cancel()
                await asyncio.gather(mirror, return_exceptions=True)
            await self._rpc.aclose()
            _RUNNING.discard(self)

    async def _relay_stop(self) -> None:
        await self._stop.wait()
        self._wake.set()
        self._status_dirty.set()

    # -- heads ---------------------------------------------------------------------------------

    def _on_head(self, number: int, block_hash: str | None) -> None:
        now = time.monotonic()
        self._head, self._head_hash, self._head_at = number, block_hash, now
        self._announced.setdefault(number, now)
        if len(self._announced) > 4 * _FETCH_ROUND:
            for n in sorted(self._announced)[: len(self._announced) - 2 * _FETCH_ROUND]:
                del self._announced[n]
        self._update(head=number)
        self._wake.set()

    async def _heads(self) -> None:
        """The ``newHeads`` subscription, reconnected with backoff for as long as we run."""
        delay = 0.1
        while not self._stop.is_set():
            try:
                async with websockets.connect(
                    self.ws_url,
                    max_size=None,
                    open_timeout=5,
                    ping_interval=5,
                    ping_timeout=5,
                    close_timeout=1,
                ) as ws:
                    await ws.send(
                        orjson.dumps(
                            {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}
                        )
                    )
                    async with asyncio.timeout(5):
                        ack = orjson.loads(await ws.recv())
                    if ack.get("error") is not None:
                        raise RpcError(str(ack["error"]), method="eth_subscribe")
                    self._ws_up = True
                    delay = 0.1
                    self._set_state()
                    self._wake.set()  # heads mined while we were away: catch up now
                    async for raw in ws:
                        header = (orjson.loads(raw).get("params") or {}).get("result")
                        if isinstance(header, dict) and (n := quantity(header.get("number"))) is not None:
                            self._on_head(n, _hex_hash(header.get("hash")))
                raise ConnectionError("the node closed the subscription")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the socket: retried, never fatal
                self._failed("websocket", exc, node=True)
            await _sleep(self._stop, delay)
            delay = min(delay * 2, self.max_backoff)

    async def _poll(self) -> None:
        """``eth_blockNumber`` when no head came for ``poll_interval`` seconds (a quiet subscription)."""
        assert self._rpc is not None
        while not self._stop.is_set():
            await _sleep(self._stop, self.poll_interval)
            if self._stop.is_set() or time.monotonic() - self._head_at < self.poll_interval:
                continue
            try:
                n = quantity(await self._rpc.call("eth_blockNumber", []))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed("eth_blockNumber", exc, node=True)
                continue
            self._node_ok = True
            self._set_state()
            if n is not None and (self._head is None or n > self._head or not self._ws_up):
                self._on_head(n, None)
            else:
                self._head_at = time.monotonic()
                self._wake.set()  # a retry after a failed round needs no new head

    # -- sync ----------------------------------------------------------------------------------

    async def _sync(self) -> None:
        """Catch up on every wake-up (a head, a poll, a retry) until stopped."""
        delay = 0.1
        self._wake.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                await self._catch_up()
                delay = 0.1
            except FollowError as exc:
                self._update(last_error=str(exc), last_error_at=time.time())
                raise
            except asyncio.CancelledError:
                raise
            except _NotYet as exc:  # a block the node announced but cannot serve yet
                self._failed("fetch", exc, node=False)
                await _sleep(self._stop, delay)
                delay = min(delay * 2, self.max_backoff)
                self._wake.set()
            except (RpcError, httpx.HTTPError, OSError, TimeoutError) as exc:
                self._failed("fetch", exc, node=True)
                await _sleep(self._stop, delay)
                delay = min(delay * 2, self.max_backoff)
                self._wake.set()
            except Exception as exc:  # the store or a bug: logged with its traceback, retried
                log.exception("follower %s (chain %s) failed a round", self.node, self._chain_id)
                self._failed("ingest", exc, node=False)
                await _sleep(self._stop, delay)
                delay = min(delay * 2, self.max_backoff)
                self._wake.set()

    async def _connect(self) -> int:
        """The node's chain id (checked against the one seen before) and our stored position."""
        assert self._rpc is not None
        if self._chain_id is not None and self._node_ok and self._loaded:
            return self._chain_id
        cid = quantity(await self._rpc.call("eth_chainId", []))
        if cid is None:
            raise RpcError("eth_chainId returned null", method="eth_chainId")
        if self._chain_id is not None and cid != self._chain_id:
            raise FollowError(f"{self.node} now serves chain {cid}, not {self._chain_id}")
        if self._chain_id is None:
            others = [f for f in list(_RUNNING) if f is not self and f._chain_id == cid]
            if others:
                raise FollowError(f"chain {cid} is already followed in this process (via {others[0].node})")
            self._chain_id = cid
            self._update(chain_id=cid)
        if not self._loaded:
            stored = await asyncio.to_thread(self.store.blocks, cid)
            keep = stored[-(self.max_reorg_depth + 1) :]
            self._recent = OrderedDict(keep)
            if keep:
                # Replay the last stored block: its alerts may have died with a killed process.
                self._next = keep[-1][0]
                self._update(last_stored=keep[-1][0])
            self._loaded = True
        return cid

    async def _catch_up(self) -> None:
        assert self._rpc is not None
        rpc = self._rpc
        await self._connect()
        if self._head is None or not self._ws_up:
            n = quantity(await rpc.call("eth_blockNumber", []))
            if n is not None and (self._head is None or n > self._head):
                self._on_head(n, None)
        self._node_ok = True
        self._set_state()
        if self._next is None:
            self._next = self.start_block if self.start_block is not None else self._head
        while not self._stop.is_set() and self._head is not None and self._next is not None:
            head, first = self._head, self._next
            if head < first:
                if await self._head_orphaned(head):
                    await self._reorg()
                    continue
                return
            await self._ensure_look_back(first)
            last = min(head, first + _FETCH_ROUND - 1)
            forked = False
            # ``fetch_blocks`` is an async generator: closing it cancels the fetches in flight.
            fetch = cast("AsyncGenerator[Block | FailedBlock, None]", rpc.fetch_blocks(first, last))
            async with contextlib.aclosing(fetch) as blocks:
                async for item in blocks:
                    if isinstance(item, FailedBlock):
                        raise _NotYet(f"block {item.number}: {item.reason}")
                    parent = self._recent.get(item.number - 1)
                    if parent is not None and item.parent_hash is not None and item.parent_hash != parent:
                        forked = True  # the chain changed under us
                        break
                    await self._store(item, fetched_at=time.monotonic())
                    if self._stop.is_set():
                        return
            if forked:
                await self._reorg()

    async def _head_orphaned(self, head: int) -> bool:
        """Whether the node's block at ``head`` (a height we already stored) is another one."""
        stored = self._recent.get(head)
        if stored is None:
            return False
        canonical = self._head_hash if self._head == head and self._head_hash else None
        if canonical is None:
            canonical = (await self._canonical_hashes([head])).get(head)
        return canonical is not None and canonical != stored

    async def _canonical_hashes(self, numbers: Sequence[int]) -> dict[int, str | None]:
        """The node's block hash at each of ``numbers`` (None above its head), one request."""
        assert self._rpc is not None
        res = await self._rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        out: dict[int, str | None] = {}
        for n, r in zip(numbers, res, strict=True):
            if isinstance(r, RpcError):
                raise r
            out[n] = _hex_hash(r.get("hash")) if isinstance(r, dict) else None
        return out

    async def _reorg(self) -> None:
        """Find the fork point among the stored heights and move ``_next`` just above it."""
        numbers = sorted(self._recent, reverse=True)[: self.max_reorg_depth]
        canonical = await self._canonical_hashes(numbers)
        fork = next((n for n in numbers if canonical[n] == self._recent[n]), None)
        if fork is None:
            fork = numbers[-1] - 1
            msg = (
                f"reorg deeper than {self.max_reorg_depth} blocks on chain {self._chain_id}: "
                f"re-ingesting from {fork + 1}; blocks below keep what was stored"
            )
            log.error(msg)
            self._update(last_error=msg, last_error_at=time.time())
        else:
            log.warning("reorg on chain %s: fork at block %d, re-ingesting above it", self._chain_id, fork)
        for n in [n for n in self._recent if n > fork]:
            del self._recent[n]
        self._look_back = [b for b in self._look_back if self._recent.get(b.number) == b.hash]
        self._next = fork + 1
        self._update(reorgs=self._status.reorgs + 1)

    async def _ensure_look_back(self, first: int) -> None:
        """Make ``_look_back`` the canonical blocks just below ``first`` (fetched when missing)."""
        assert self._rpc is not None
        want = list(range(max(0, first - CONTEXT_BLOCKS), first))
        have = {b.number: b for b in self._look_back if b.number in want}
        missing = [n for n in want if n not in have]
        if missing:
            fetched = await asyncio.gather(*(self._rpc.fetch_block(n) for n in missing))
            have.update((b.number, b) for b in fetched)
        self._look_back = [have[n] for n in want]

    async def _store(self, block: Block, fetched_at: float | None = None) -> None:
        """Detect and write ``block`` in a worker thread; its alerts are queued from there."""
        start = time.monotonic()
        t0 = self._announced.get(block.number, start)
        stages: dict[str, float] = {"fetch": round(((fetched_at or start) - t0) * 1000, 1)}
        # decoded look-back blocks are reused: a block is decoded once, not once per later block
        context: list[Block | DecodedBlock] = [self._decoded.get(b.hash or "", b) for b in self._look_back]
        written: list[tuple[BlockRecord, IngestResult]] = []

        def on_block(rec: BlockRecord, found: list[Finding], res: IngestResult) -> None:
            written.append((rec, res))
            self._after_write(rec, found, res)

        def work() -> None:
            stats = ingest(
                self.store,
                [block],
                chunk=1,
                context=context,
                pending_seen=self._seen if self.pending_seen is not None else None,
                on_block=on_block,
                gas_source=self._gas_used,
            )
            stages["decode"] = round(stats.inspect.decode_s * 1000, 1)
            stages["detect"] = round(stats.inspect.detect_s * 1000, 1)
            stages["write"] = round(stats.write_s * 1000, 1)
            for e in stats.inspect.errors:
                log.error("block %d of chain %s not stored: %s", block.number, block.chain_id, e.reason)
            for d in stats.look_back:
                if d.block.hash:
                    self._decoded[d.block.hash] = d

        # The write is shielded: a cancelled follower still finishes the block it is writing.
        await asyncio.shield(asyncio.to_thread(work))
        n = block.number
        self._next = n + 1
        self._look_back = [*self._look_back, block][-CONTEXT_BLOCKS:]
        keep = {b.hash for b in self._look_back}
        self._decoded = {h: d for h, d in self._decoded.items() if h in keep}
        if not written:  # not decodable at all (logged): skip it rather than retry forever
            self._update(last_error=f"block {n} could not be decoded", last_error_at=time.time())
            return
        if block.hash is not None:
            self._recent[n] = block.hash
            while len(self._recent) > self.max_reorg_depth + 1:
                self._recent.popitem(last=False)
        self._announced.pop(n, None)
        self._update(
            last_stored=n,
            blocks_stored=self._status.blocks_stored + 1,
            last_block_ms=round((time.monotonic() - t0) * 1000, 1),
            last_stages_ms=stages,
        )

    def _gas_used(self, chain_id: int, hashes: Sequence[str]) -> dict[str, int | None]:
        """The detectors' gas source (worker thread): receipts asked on the follower's loop."""
        assert self._rpc is not None and self._loop is not None
        if chain_id != self._chain_id:
            return {}
        fut = asyncio.run_coroutine_threadsafe(self._rpc.gas_used(list(hashes)), self._loop)
        return fut.result(timeout=self.rpc_timeout * 3)

    def _seen(self, block: Block) -> frozenset[str] | None:
        """The monitor's hook; its failure makes the block's mempool status unknown, nothing more."""
        assert self.pending_seen is not None
        try:
            return self.pending_seen(block)
        except Exception:
            log.exception("pending_seen failed for block %d: mempool status unknown", block.number)
            return None

    # -- alerts --------------------------------------------------------------------------------

    def _after_write(self, rec: BlockRecord, found: list[Finding], res: IngestResult) -> None:
        """Worker thread: right after ``rec`` is written, queue its retractions and alerts."""
        if self.on_stored is not None:
            try:
                self.on_stored(rec)
            except Exception:  # a hook must not stop the follower
                log.exception("on_stored hook failed for block %d", rec.number)
        now = time.time()
        alerts = [self._retraction(oid, rec, now) for oid in res.retracted]
        alerts += [self._block_alert(rec, f, now) for f in found]
        if alerts:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._enqueue, alerts)

    def _enqueue(self, alerts: list[Alert]) -> None:
        for a in alerts:
            self._outbox.put_nowait(a)

    def _block_alert(self, rec: BlockRecord, f: Finding, now: float) -> Alert:
        oid = opportunity_id(rec.chain_id, rec.hash, f)
        seen = None if rec.pending_seen is None else any(tx in rec.pending_seen for tx in f.attacker_txs)
        alert = Alert(
            id=f"block:{oid}",
            stage="block",
            kind=str(f.kind),
            chain_id=rec.chain_id,
            block_number=rec.number,
            block_hash=rec.hash,
            opportunity_id=oid,
            txs=f.attacker_txs,
            victim_txs=f.victim_txs,
            bot=f.contract or f.searcher,
            pools=f.pools,
            protocols=f.protocols,
            # Gross, as the store's ``mev_profit_usd``: a filter's minimum means the same here
            # and in the REST API.
            profit_usd=f.gross_profit_usd,
            victim_loss_usd=f.victim_loss_usd,
            seen_in_mempool=seen,
            detected_at=now,
            details={
                "netProfitUsd": f.profit_usd,
                "gasCostUsd": f.gas_cost_usd,
                "unpricedReason": f.unpriced_reason,
                "confidence": round(f.confidence, 4),
                "status": str(f.status),
                "nestedIn": f.nested_in,
                "findingId": f.id,
            },
        )
        self._published[oid] = alert
        self._published.move_to_end(oid)
        while len(self._published) > _ALERT_MEMORY:
            self._published.popitem(last=False)
        return alert

    def _retraction(self, oid: str, rec: BlockRecord, now: float) -> Alert:
        known = self._published.pop(oid, None)
        details = {"replacedBy": rec.hash}
        if known is None:
            return Alert(
                id=f"retraction:{oid}",
                stage="retraction",
                kind=None,
                chain_id=rec.chain_id,
                opportunity_id=oid,
                detected_at=now,
                details=details,
            )
        return replace(
            known,
            id=f"retraction:{oid}",
            stage="retraction",
            seen_in_mempool=None,
            detected_at=now,
            details={**known.details, **details},
        )

    async def _publish(self) -> None:
        """Publish queued alerts in order; a bus failure is retried, then the alert dropped."""
        while True:
            alert = await self._outbox.get()
            try:
                for attempt in range(_PUBLISH_TRIES):
                    try:
                        await self.bus.publish(alert)
                        self._update(alerts_published=self._status.alerts_published + 1)
                        break
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        if attempt + 1 == _PUBLISH_TRIES:
                            log.error(
                                "dropping alert %s: the bus failed %d times: %s", alert.id, attempt + 1, exc
                            )
                            self._update(alerts_dropped=self._status.alerts_dropped + 1)
                        else:
                            await asyncio.sleep(0.1 * 2**attempt)
            finally:
                self._outbox.task_done()

    # -- status mirror -------------------------------------------------------------------------

    def _status_key(self) -> str:
        return f"{self.status_prefix}follow:{self._chain_id if self._chain_id is not None else self.node}"

    async def _mirror(self) -> None:
        """Write the status to Redis on change (at most 5 times a second) and as a heartbeat."""
        import redis.asyncio as aioredis

        client: Any = aioredis.Redis.from_url(
            self.status_redis or "", socket_timeout=2, socket_connect_timeout=2
        )
        written_key: str | None = None
        failing = False
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.status_ttl / 3):
                        await self._status_dirty.wait()
                self._status_dirty.clear()
                key = self._status_key()
                try:
                    if written_key is not None and written_key != key:
                        await client.delete(written_key)
                    await client.set(
                        key, orjson.dumps(self._status.to_dict()), px=int(self.status_ttl * 1000)
                    )
                    written_key = key
                    failing = False
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the mirror is best effort; said once per outage
                    if not failing:
                        log.warning("cannot write follower status to Redis: %s", exc)
                    failing = True
                if self._status.state == "stopped":
                    return
                await asyncio.sleep(0.2)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()


async def run_followers(
    specs: Sequence[FollowSpec],
    store: Store,
    bus: EventBus,
    *,
    stop: asyncio.Event | None = None,
    **options: Any,
) -> list[Follower]:
    """Follow every node of ``specs`` concurrently until ``stop`` is set; returns the followers
    (their final :attr:`~Follower.status`).

    ``options`` are :class:`Follower`'s keyword arguments (``pending_seen``, ``status_redis``,
    ``max_reorg_depth``...). Each node's chain id comes from the node; two nodes of one chain
    are an error (two writers of one chain). A follower that fails for good
    (:class:`FollowError`) stops the others cleanly and its error is raised.
    """
    stop = stop if stop is not None else asyncio.Event()
    followers = [
        Follower(s.rpc_url, s.ws_url, store, bus, start_block=s.start_block, **options) for s in specs
    ]
    tasks = [asyncio.create_task(f.run(stop), name=f"follow {f.node}") for f in followers]

    def on_done(t: asyncio.Task[None]) -> None:
        if not t.cancelled() and t.exception() is not None:
            stop.set()

    for t in tasks:
        t.add_done_callback(on_done)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    return followers
