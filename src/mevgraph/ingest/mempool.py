"""The mempool monitor: sandwiches caught *in progress*, and which block txs were ever public.

:class:`MempoolMonitor` holds one WebSocket subscription to a node --
``eth_subscribe("newPendingTransactions", true)`` (full transactions) plus ``newHeads`` -- and

* keeps the **pending set**: hash → first-seen time, sender, fees, decoded router intents
  (:mod:`mevgraph.decode.routers`); a tx leaves it when a head includes it or after ``ttl``;
* answers :meth:`~MempoolMonitor.pending_seen` for the block-stage pipeline (the follower hands
  it to :func:`mevgraph.store.ingest.ingest`): the hashes of a block's txs that were seen pending,
  or ``None`` when the subscription was not up for the whole time the block's txs could have
  been pending (a finding is then neither "mempool" nor "private");
* reads **pool state** for the pools pending victims trade on -- V2 ``getReserves``, V3
  ``slot0`` + ``liquidity`` -- in one batched ``eth_call`` request, cached per head and refreshed
  when a head arrives. Pools are named by CREATE2 from the router's factory
  (:mod:`mevgraph.decode.pools`; a factory whose init-code hash is not registered is asked with
  ``getPair``/``getPool``);
* publishes a ``mempool``-stage :class:`~mevgraph.core.alerts.Alert` for a **sandwich in
  progress** (below), once per (bot tx, victim tx);
* exposes :meth:`~MempoolMonitor.assess` (price impact and sandwich exposure of a pending tx,
  :mod:`mevgraph.protect.exposure`) for callers that protect users.

Sandwich in progress
    A *victim* is a pending router call from a sender that is not a bot. A *bot swap* is a
    pending swap by a known bot (``known_bots``: EOAs or contracts, e.g. from the store's bot
    table or a testbed's ``labels.json``, :func:`bots_from_labels`) or by a *suspected* bot: a
    call to a non-router contract whose calldata names a pool (or both tokens of a pool) that
    a pending victim trades on. A bot's own contract does not say in its calldata which pool it
    trades in which direction, so its tx is simulated once with ``debug_traceCall``
    (``callTracer`` with ``withLog``) on the latest state and its ``Swap`` events are read;
    a known bot's router call is decoded like anyone's. An alert is raised when a bot swap and
    a victim swap use the same pool in the same direction and the bot pays the higher effective
    priority fee (``min(tip, max fee − base fee)``, base fee projected from the last head by
    EIP-1559), so it lands first. The bot's back leg (the other direction, a lower fee) is not
    needed: the block stage sees the whole sandwich.

    Known false positives: an unlisted aggregator's same-direction trade that names the pool and
    pays more is indistinguishable from a frontrun until the block lands (no backrun follows:
    the block stage does not confirm it). Missed: a bot contract that names neither the pool nor
    both tokens in its calldata as ABI words or raw bytes, unless it is a known bot.

Cost per pending tx (the throughput target is >= 1,000 tx/s on one core): one JSON parse, a dict
lookup of the ``to`` address, router calldata decoding for router calls only, CREATE2 pool names
from a cache, and set/dict index updates; simulation and RPC reads run in background tasks only
for suspected bots and victims' pools. Messages are read by one task into a bounded queue and
processed by another (``dropped`` counts what a full queue refused; ``lag`` is the time a message
waited in it plus its processing).

Drops of the connection are retried forever with exponential backoff and jitter; the time
without a subscription is recorded as a coverage gap (see :meth:`MempoolMonitor.pending_seen`).
On every (re)subscription the node's ``txpool_content`` is read, so txs that arrived while the
subscription was down and are still pending count as seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Collection, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import websockets

from mevgraph.core.alerts import Alert
from mevgraph.core.types import Address, Block
from mevgraph.decode.abi import selector, topic
from mevgraph.decode.labels import ROUTERS
from mevgraph.decode.pools import (
    V2_FACTORIES,
    V3_FACTORIES,
    identify_v2,
    identify_v3,
    sort_tokens,
    v2_pair_address,
    v3_pool_address,
)
from mevgraph.decode.routers import Amm, SwapIntent, decode_swaps
from mevgraph.ingest.bus import EventBus
from mevgraph.ingest.rpc import RpcClient, RpcError
from mevgraph.protect.exposure import Exposure, NotAssessable, PoolState, V2Pool, V3Pool, assess

__all__ = [
    "MempoolMonitor",
    "MonitorStatus",
    "PendingTx",
    "PoolSwap",
    "bots_from_labels",
    "pending_from_rpc",
]

log = logging.getLogger(__name__)

V2_SWAP_TOPIC = topic("Swap(address,uint256,uint256,uint256,uint256,address)")
V3_SWAP_TOPIC = topic("Swap(address,address,int256,int256,uint160,uint128,int24)")
_SEL_GET_RESERVES = selector("getReserves()")
_SEL_SLOT0 = selector("slot0()")
_SEL_LIQUIDITY = selector("liquidity()")
_SEL_TOKEN0 = selector("token0()")
_SEL_TOKEN1 = selector("token1()")
_SEL_FACTORY = selector("factory()")
_SEL_FACTORY_V2 = selector("factoryV2()")  # SwapRouter02: factory() is its V3 factory
_SEL_GET_PAIR = selector("getPair(address,address)")
_SEL_GET_POOL = selector("getPool(address,address,uint24)")
_SEL_V2_SWAP = selector("swap(uint256,uint256,address,bytes)")
_SEL_V3_SWAP = selector("swap(address,bool,int256,uint160,bytes)")
_DEFAULT_V2_FEE = 3000
_LAG_SAMPLES = 4096
_ZERO_WORD = "0" * 24


# -- values ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PendingTx:
    """A pending transaction as the monitor keeps it. Fees in wei per gas; ``max_priority_fee``
    is ``None`` for a legacy tx (its ``gas_price`` is both cap and tip)."""

    hash: str
    sender: Address
    to: Address | None
    input: str
    value: int
    gas: int
    max_fee: int
    max_priority_fee: int | None
    nonce: int
    first_seen: float  # unix seconds
    intents: tuple[SwapIntent, ...] = ()

    def tip(self, base_fee: int | None) -> int:
        """Effective priority fee per gas at ``base_fee`` (the tip cap when it is unknown)."""
        cap = self.max_priority_fee if self.max_priority_fee is not None else self.max_fee
        if base_fee is None:
            return cap
        return max(0, min(cap, self.max_fee - base_fee))


def _q(v: Any) -> int:
    if isinstance(v, str):
        return int(v, 16) if v[:2] in ("0x", "0X") else int(v)
    return int(v or 0)


def pending_from_rpc(
    tx: Mapping[str, Any], first_seen: float | None = None, intents: tuple[SwapIntent, ...] = ()
) -> PendingTx:
    """A :class:`PendingTx` from a JSON-RPC transaction object (``intents`` as given)."""
    to = tx.get("to")
    tip = tx.get("maxPriorityFeePerGas")
    return PendingTx(
        hash=str(tx["hash"]).lower(),
        sender=Address(str(tx["from"]).lower()),
        to=Address(str(to).lower()) if to else None,
        input=str(tx.get("input") or tx.get("data") or "0x").lower(),
        value=_q(tx.get("value")),
        gas=_q(tx.get("gas")),
        max_fee=_q(tx.get("maxFeePerGas") or tx.get("gasPrice")),
        max_priority_fee=_q(tip) if tip is not None else None,
        nonce=_q(tx.get("nonce")),
        first_seen=time.time() if first_seen is None else first_seen,
        intents=intents,
    )


@dataclass(frozen=True, slots=True)
class PoolSwap:
    """A swap a pending tx would make on one pool (from its intents or its simulation)."""

    pool: Address
    amm: Amm
    token_in: Address
    token_out: Address
    fee: int | None
    amount_in: int | None


@dataclass(frozen=True, slots=True)
class _Route:
    """A victim intent with the pool of each hop."""

    intent: SwapIntent
    swaps: tuple[PoolSwap, ...]


@dataclass(frozen=True, slots=True)
class _Factory:
    protocol: str
    address: str
    init_code_hash: str | None  # None: not registered, ask getPair/getPool
    fee_ppm: int | None


@dataclass(slots=True)
class MonitorStatus:
    """Live counters (for ``/v1/health`` and benchmarks); :meth:`as_dict` is JSON-ready."""

    connected: bool = False
    seen: int = 0  # distinct pending txs announced
    decoded: int = 0  # of which router calls with at least one swap intent
    simulated: int = 0  # bot txs simulated
    alerts: int = 0
    dropped: int = 0  # messages refused by a full queue
    malformed: int = 0
    reconnects: int = 0
    pending: int = 0
    head: int | None = None
    last_error: str | None = None
    lag_ms: deque[float] = field(default_factory=lambda: deque(maxlen=_LAG_SAMPLES))

    def lag_percentile(self, q: float) -> float | None:
        if not self.lag_ms:
            return None
        xs = sorted(self.lag_ms)
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "seen": self.seen,
            "decoded": self.decoded,
            "simulated": self.simulated,
            "alerts": self.alerts,
            "dropped": self.dropped,
            "malformed": self.malformed,
            "reconnects": self.reconnects,
            "pending": self.pending,
            "head": self.head,
            "last_error": self.last_error,
            "lag_ms_p50": self.lag_percentile(0.5),
            "lag_ms_p99": self.lag_percentile(0.99),
        }


def bots_from_labels(path: Path) -> frozenset[str]:
    """Searcher EOAs and contracts of a testbed ``labels.json`` (address → {role, ...})."""
    labels = json.loads(Path(path).read_text())
    return frozenset(
        a.lower() for a, v in labels.items() if v.get("role") in ("searcher", "searcher_contract")
    )


def _named_addresses(inp: str) -> set[str]:
    """Addresses passed as ABI words in calldata (``0x`` + hex, selector first)."""
    out: set[str] = set()
    body = inp[10:]
    for k in range(0, len(body) - 63, 64):
        w = body[k : k + 64]
        if w.startswith(_ZERO_WORD) and w[24:] != "0" * 40:
            out.add("0x" + w[24:])
    return out


def _next_base_fee(head: Mapping[str, Any]) -> int | None:
    """EIP-1559 base fee of the block after ``head``."""
    base = head.get("baseFeePerGas")
    if base is None:
        return None
    b, used, limit = _q(base), _q(head.get("gasUsed")), _q(head.get("gasLimit"))
    target = limit // 2
    if target <= 0 or used == target:
        return b
    if used > target:
        return b + max(1, b * (used - target) // target // 8)
    return max(0, b - b * (target - used) // target // 8)


# -- the monitor ----------------------------------------------------------------------------------
class MempoolMonitor:
    """Watches a node's public mempool; see the module doc.

    Args:
        ws_url: the node's WebSocket endpoint.
        rpc_url: its HTTP JSON-RPC endpoint (batched ``eth_call``, simulation, heads).
        bus: where alerts go.
        chain_id: the chain (router and factory tables are per chain).
        known_bots: bot EOAs and contracts (any case); :attr:`known_bots` may grow while running.
        routers: contracts whose calls are decoded as router calls (default: the chain's known
            routers, :data:`mevgraph.decode.labels.ROUTERS`, which a chain profile extends).
        decode_any: decode every contract call by selector, whatever the address.
        ttl: seconds a pending tx is kept when no head includes it.
        retention: seconds a seen hash is remembered for :meth:`pending_seen`.
        usd_per_unit: USD per raw unit of a token, for exposures (None: unpriced).
        backoff, max_backoff: reconnect delays in seconds (exponential, with jitter).
        max_queue: messages that may wait for processing before new ones are dropped.
        rpc: an existing client for ``rpc_url`` (closed by its owner, not by the monitor).
    """

    def __init__(
        self,
        ws_url: str,
        rpc_url: str,
        bus: EventBus,
        *,
        chain_id: int,
        known_bots: Iterable[str] = (),
        routers: Iterable[str] | None = None,
        decode_any: bool = False,
        ttl: float = 180.0,
        retention: float = 3600.0,
        usd_per_unit: Callable[[str], float | None] | None = None,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        max_queue: int = 100_000,
        max_simulations: int = 16,
        rpc: RpcClient | None = None,
    ) -> None:
        self.ws_url = ws_url
        self.rpc_url = rpc_url
        self.bus = bus
        self.chain_id = chain_id
        self.known_bots = {b.lower() for b in known_bots}
        self._routers_given = {r.lower() for r in routers} if routers is not None else None
        self.decode_any = decode_any
        self.ttl = ttl
        self.retention = retention
        self.usd_per_unit = usd_per_unit
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.status = MonitorStatus()
        self._rpc = rpc or RpcClient(rpc_url, timeout=10.0, max_retries=2, backoff=0.05, chain_id=chain_id)
        self._own_rpc = rpc is None
        self._queue: asyncio.Queue[tuple[bytes | str, float]] = asyncio.Queue(maxsize=max_queue)
        self._sims = asyncio.Semaphore(max_simulations)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main: asyncio.Task[None] | None = None
        self._stopping = False
        self._ready = asyncio.Event()
        self._sub_kind: dict[str, str] = {}  # subscription id -> "pending" | "head"
        # pending set and indexes
        self._pending: dict[str, PendingTx] = {}
        self._seen_at: dict[str, float] = {}
        self._victims: dict[tuple[str, str, str], dict[str, PendingTx]] = {}
        self._routes: dict[str, tuple[_Route, ...]] = {}
        self._bot_swaps: dict[tuple[str, str, str], dict[str, tuple[PendingTx, PoolSwap, str]]] = {}
        self._tx_keys: dict[str, list[tuple[str, str, str]]] = {}
        self._named: dict[str, set[str]] = {}  # address named in a contract call -> tx hashes
        self._tx_named: dict[str, set[str]] = {}
        self._victim_tokens: dict[frozenset[str], int] = {}
        self._simulated: dict[str, tuple[PoolSwap, ...]] = {}
        self._alerted: set[tuple[str, str]] = set()
        # chain facts
        self._head: dict[str, Any] | None = None
        self._base_fee: int | None = None
        self._factories: dict[tuple[str, str], _Factory | None] = {}
        self._factory_lookups: dict[tuple[str, str], asyncio.Task[_Factory | None]] = {}
        self._pool_addr: dict[tuple[str, str, str, str, int | None], str | None] = {}
        self._pool_tokens: dict[str, tuple[str, str]] = {}
        self._pool_fee: dict[str, int | None] = {}
        self._states: dict[str, PoolState] = {}
        self._states_gen = 0
        self._inflight: dict[str, asyncio.Future[PoolState | None]] = {}
        # coverage for pending_seen
        self._first_covered: int | None = None
        self._gap_from: int | None = None  # open gap: subscription down since this block
        self._gaps: tuple[tuple[int, int], ...] = ()

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def routers(self) -> Collection[str]:
        """Contracts whose calls are decoded as router calls."""
        if self._routers_given is not None:
            return self._routers_given
        return ROUTERS.get(self.chain_id, {})

    async def start(self) -> None:
        """Start the connection loop in the background (see :meth:`wait_ready`)."""
        if self._main is None:
            self._main = asyncio.create_task(self.run(), name="mevgraph-mempool")

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until the first subscription is up (``TimeoutError`` after ``timeout``)."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def stop(self) -> None:
        self._stopping = True
        if self._main is not None:
            self._main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._main
            self._main = None
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._own_rpc:
            await self._rpc.aclose()

    async def __aenter__(self) -> MempoolMonitor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def run(self) -> None:
        """Subscribe, process, and reconnect with backoff on drops, until cancelled."""
        worker = asyncio.create_task(self._process(), name="mevgraph-mempool-worker")
        delay = self.backoff
        try:
            while not self._stopping:
                try:
                    async with websockets.connect(self.ws_url, max_size=None, open_timeout=10) as ws:
                        await self._subscribe(ws)
                        delay = self.backoff
                        async for raw in ws:
                            try:
                                self._queue.put_nowait((raw, time.perf_counter()))
                            except asyncio.QueueFull:
                                self.status.dropped += 1
                except asyncio.CancelledError:
                    raise
                except (OSError, TimeoutError, websockets.WebSocketException, RpcError, ValueError) as exc:
                    self.status.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("mempool subscription lost (%s); retrying in %.2f s", exc, delay)
                finally:
                    self._disconnected()
                if self._stopping:
                    break
                self.status.reconnects += 1
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, self.max_backoff)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _subscribe(self, ws: Any) -> None:
        self._sub_kind = {}
        kinds = {1: "pending", 2: "head"}
        for i, params in ((1, ["newPendingTransactions", True]), (2, ["newHeads"])):
            await ws.send(
                orjson.dumps({"jsonrpc": "2.0", "id": i, "method": "eth_subscribe", "params": params})
            )
        while len(self._sub_kind) < 2:
            async with asyncio.timeout(10):  # not wait_for: see ``follow._sleep``
                raw = await ws.recv()
            m = orjson.loads(raw)
            if isinstance(m, dict) and m.get("id") in kinds:
                if m.get("error") is not None:
                    raise RpcError(str(m["error"]), method="eth_subscribe")
                self._sub_kind[str(m["result"])] = kinds[m["id"]]
            else:  # a notification of the first subscription, racing the second ack
                self._queue.put_nowait((raw, time.perf_counter()))
        head_now = _q(await self._rpc.call("eth_blockNumber", []))
        backfilled = await self._backfill()
        first = head_now + (1 if backfilled else 2)
        if self._first_covered is None:
            self._first_covered = first
        elif self._gap_from is not None:
            self._gaps = (*self._gaps, (self._gap_from, first - 1))
        self._gap_from = None
        self.status.head = head_now
        self.status.connected = True
        self.status.last_error = None
        self._ready.set()

    async def _backfill(self) -> bool:
        """Mark the node's current txpool as seen; False when the node has no ``txpool_content``."""
        try:
            pool = await self._rpc.call("txpool_content", [])
        except RpcError as exc:
            log.info(
                "no txpool_content on %s (%s): the block after a (re)connect is not covered",
                self.rpc_url,
                exc,
            )
            return False
        now = time.time()
        for part in ("pending", "queued"):
            for by_nonce in ((pool or {}).get(part) or {}).values():
                for tx in by_nonce.values():
                    if isinstance(tx, dict) and "hash" in tx:
                        self._on_pending(tx, now)
        return True

    def _disconnected(self) -> None:
        if self.status.connected:
            self.status.connected = False
            last = self.status.head
            self._gap_from = (last + 1) if last is not None else 0

    # -- processing -------------------------------------------------------------------------------
    async def _process(self) -> None:
        n = 0
        while True:
            raw, t0 = await self._queue.get()
            try:
                # first seen when the message arrived, not when a backlog let us read it
                self._handle(raw, time.time() - (time.perf_counter() - t0))
            except Exception as exc:  # one bad message must not stop the monitor
                self.status.malformed += 1
                log.debug("mempool message skipped: %s: %s", type(exc).__name__, exc)
            self.status.lag_ms.append((time.perf_counter() - t0) * 1000)
            n += 1
            if n % 64 == 0:
                await asyncio.sleep(0)  # let the reader run while a backlog is worked off

    def _handle(self, raw: bytes | str, arrived: float) -> None:
        msg = orjson.loads(raw)
        params = msg.get("params") if isinstance(msg, dict) else None
        if not isinstance(params, dict):
            return
        kind = self._sub_kind.get(str(params.get("subscription")))
        res = params.get("result")
        if kind == "pending":
            if isinstance(res, dict):
                self._on_pending(res, arrived)
            elif isinstance(res, str):  # a node that sends hashes only
                self._spawn(self._fetch_pending(res.lower()))
        elif kind == "head" and isinstance(res, dict):
            self._spawn(self._on_head(res))

    async def _fetch_pending(self, h: str) -> None:
        tx = await self._rpc.call("eth_getTransactionByHash", [h])
        if isinstance(tx, dict) and tx.get("blockHash") is None:
            self._on_pending(tx, time.time())

    def _on_pending(self, raw: Mapping[str, Any], now: float) -> None:
        h = str(raw["hash"]).lower()
        if h in self._seen_at:
            return
        self._seen_at[h] = now
        self.status.seen += 1
        p = pending_from_rpc(raw, now)
        to = p.to
        if to is None or len(p.input) < 10:
            return
        is_router = to in self.routers
        if is_router or self.decode_any:
            intents = decode_swaps(p.input, to=to, sender=p.sender, value=p.value)
            if intents:
                self.status.decoded += 1
                p = pending_from_rpc(raw, now, intents)
        self._pending[h] = p
        self.status.pending = len(self._pending)
        bot = p.sender in self.known_bots or to in self.known_bots
        if p.intents:
            routes = self._routes_cached(p.intents)
            if routes is None:  # a router or pool not met before: name it over RPC first
                self._spawn(self._register_intents(p, bot))
            else:
                self._register(p, routes, bot)
        elif not is_router:
            named = _named_addresses(p.input)
            if bot or self._names_victim_pool(p.input, named):
                self._spawn(self._simulate(p))
            elif named:
                self._tx_named[h] = named
                for a in named:
                    self._named.setdefault(a, set()).add(h)

    def _names_victim_pool(self, inp: str, named: set[str]) -> bool:
        if any(key[0] in named for key in self._victims):
            return True
        if any(key[0][2:] in inp for key in self._victims):  # packed calldata
            return True
        return any(len(pair & named) == 2 for pair in self._victim_tokens)

    def offer_pending(self, tx: Mapping[str, Any]) -> None:
        """Process one pending tx (an RPC transaction object) as if the node had announced it:
        for replays of recorded mempools and capacity measurements. Event loop thread only."""
        self._on_pending(tx, time.time())

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until the message queue is empty and every background task (pool naming, state
        reads, simulations) has finished -- what was offered so far is fully processed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and not self._tasks:
                return
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=max(0.0, deadline - time.monotonic()))
            else:
                await asyncio.sleep(0.001)
        raise TimeoutError(f"the mempool monitor did not settle within {timeout} s")

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._done)

    def _done(self, t: asyncio.Task[Any]) -> None:
        self._tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            exc = t.exception()
            self.status.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("mempool task failed: %s: %s", type(exc).__name__, exc)

    # -- victims and bots -----------------------------------------------------------------------
    def _routes_cached(self, intents: Iterable[SwapIntent]) -> list[_Route] | None:
        """Routes of ``intents`` from cached facts only; None when one needs an RPC call."""
        routes: list[_Route] = []
        for it in intents:
            swaps = self._swaps_cached(it)
            if swaps is None:
                return None
            if swaps:
                routes.append(_Route(it, swaps))
        return routes

    async def _register_intents(self, p: PendingTx, bot: bool) -> None:
        routes: list[_Route] = []
        for it in p.intents:
            swaps = await self._swaps_of(it)
            if swaps:
                routes.append(_Route(it, swaps))
        if p.hash in self._pending:
            self._register(p, routes, bot)

    def _register(self, p: PendingTx, routes: list[_Route], bot: bool) -> None:
        if not routes:
            return
        if bot:
            for r in routes:
                for s in r.swaps:
                    self._add_bot_swap(p, s, "known")
            return
        self._routes[p.hash] = tuple(routes)
        for r in routes:
            for s in r.swaps:
                self._add_victim(p, s)
        cold = [
            s for r in routes for s in r.swaps if s.pool not in self._states and s.pool not in self._inflight
        ]
        if cold:  # read the state now, so that an alert on this victim does not wait for it
            self._spawn(self._pool_states(cold))

    def _add_victim(self, p: PendingTx, s: PoolSwap) -> None:
        key = (s.pool, s.token_in, s.token_out)
        self._victims.setdefault(key, {})[p.hash] = p
        self._tx_keys.setdefault(p.hash, []).append(key)
        pair = frozenset((s.token_in, s.token_out))
        self._victim_tokens[pair] = self._victim_tokens.get(pair, 0) + 1
        base = self._base_fee
        for bot_tx, bot_swap, source in list(self._bot_swaps.get(key, {}).values()):
            if bot_tx.tip(base) > p.tip(base) and bot_tx.sender != p.sender:
                self._raise(bot_tx, bot_swap, source, p)
        for h in list(self._named.get(s.pool, ())):  # a bot contract call seen before its victim
            q = self._pending.get(h)
            if q is not None and h not in self._simulated:
                self._spawn(self._simulate(q))

    def _add_bot_swap(self, p: PendingTx, s: PoolSwap, source: str) -> None:
        key = (s.pool, s.token_in, s.token_out)
        self._bot_swaps.setdefault(key, {})[p.hash] = (p, s, source)
        self._tx_keys.setdefault(p.hash, []).append(key)
        base = self._base_fee
        for v in list(self._victims.get(key, {}).values()):
            if p.tip(base) > v.tip(base) and p.sender != v.sender:
                self._raise(p, s, source, v)

    async def _simulate(self, p: PendingTx) -> None:
        if p.hash in self._simulated:
            return
        self._simulated[p.hash] = ()
        async with self._sims:
            if p.hash not in self._pending:
                return
            call: dict[str, Any] = {"from": p.sender, "to": p.to, "data": p.input, "value": hex(p.value)}
            if p.gas:
                call["gas"] = hex(p.gas)
            try:
                trace = await self._rpc.call(
                    "debug_traceCall",
                    [call, "latest", {"tracer": "callTracer", "tracerConfig": {"withLog": True}}],
                )
            except RpcError as exc:
                log.debug("cannot simulate %s: %s", p.hash, exc)
                return
            self.status.simulated += 1
            swaps = await self._swaps_from_trace(trace)
        self._simulated[p.hash] = swaps
        if p.hash not in self._pending:
            return
        source = "known" if (p.sender in self.known_bots or (p.to or "") in self.known_bots) else "suspected"
        for s in swaps:
            self._add_bot_swap(p, s, source)

    async def _swaps_from_trace(self, trace: Any) -> tuple[PoolSwap, ...]:
        logs: list[dict[str, Any]] = []

        def walk(frame: Mapping[str, Any]) -> None:
            if frame.get("error"):
                return  # a reverted frame's events never happen
            logs.extend(lg for lg in frame.get("logs") or () if isinstance(lg, dict))
            for c in frame.get("calls") or ():
                if isinstance(c, dict):
                    walk(c)

        if isinstance(trace, dict):
            walk(trace)
        swaps = [lg for lg in logs if (lg.get("topics") or [None])[0] in (V2_SWAP_TOPIC, V3_SWAP_TOPIC)]
        if not swaps:
            # A bot's leg often reverts when simulated alone on the head state (its own profit
            # check: in the block it runs after other txs). Its calls still name the pools and
            # directions it means to trade: the pair's/pool's ``swap`` calldata says them.
            return await self._intended_swaps(trace)
        await self._learn_tokens([str(lg["address"]).lower() for lg in swaps])
        out: list[PoolSwap] = []
        for lg in swaps:
            pool = str(lg["address"]).lower()
            toks = self._pool_tokens.get(pool)
            if toks is None:
                continue
            data = str(lg.get("data") or "0x")[2:]
            words = [int(data[k : k + 64], 16) for k in range(0, len(data) - 63, 64)]
            t0, t1 = toks
            if lg["topics"][0] == V2_SWAP_TOPIC and len(words) >= 4:
                a0i, a1i = words[0], words[1]
                t_in, t_out, amt = (t0, t1, a0i) if a0i > 0 else (t1, t0, a1i)
                out.append(PoolSwap(Address(pool), "v2", Address(t_in), Address(t_out), None, amt))
            elif len(words) >= 2:
                a0 = words[0] - (1 << 256) if words[0] >> 255 else words[0]
                a1 = words[1] - (1 << 256) if words[1] >> 255 else words[1]
                t_in, t_out, amt = (t0, t1, a0) if a0 > 0 else (t1, t0, a1)
                out.append(
                    PoolSwap(
                        Address(pool), "v3", Address(t_in), Address(t_out), self._pool_fee.get(pool), amt
                    )
                )
        return tuple(out)

    async def _intended_swaps(self, trace: Any) -> tuple[PoolSwap, ...]:
        """Swaps from the ``swap`` calls in a (reverted) call trace: V2 ``swap(amount0Out,
        amount1Out, to, data)`` -- the token paid out is the one with a non-zero amount -- and
        V3 ``swap(recipient, zeroForOne, amountSpecified, sqrtPriceLimitX96, data)``."""
        calls: list[tuple[str, str, list[int]]] = []

        def walk(frame: Mapping[str, Any]) -> None:
            inp = str(frame.get("input") or "")
            to = str(frame.get("to") or "").lower()
            if inp[:10] in (_SEL_V2_SWAP, _SEL_V3_SWAP) and to:
                data = inp[10:]
                calls.append(
                    (to, inp[:10], [int(data[k : k + 64], 16) for k in range(0, min(len(data), 192), 64)])
                )
            for c in frame.get("calls") or ():
                if isinstance(c, dict):
                    walk(c)

        if isinstance(trace, dict):
            walk(trace)
        calls = [c for c in calls if len(c[2]) >= 3]
        if not calls:
            return ()
        await self._learn_tokens([pool for pool, _, _ in calls])
        out: list[PoolSwap] = []
        for pool, sel, w in calls:
            toks = self._pool_tokens.get(pool)
            if toks is None:
                continue
            t0, t1 = toks
            if sel == _SEL_V2_SWAP:
                if w[0] == w[1] or (w[0] and w[1]):
                    continue  # not a one-way swap (a flash swap both ways): no direction
                t_in, t_out = (t1, t0) if w[0] else (t0, t1)
                out.append(PoolSwap(Address(pool), "v2", Address(t_in), Address(t_out), None, None))
            else:
                zero_for_one = bool(w[1])
                spec = w[2] - (1 << 256) if w[2] >> 255 else w[2]
                t_in, t_out = (t0, t1) if zero_for_one else (t1, t0)
                amount = spec if spec > 0 else None
                out.append(
                    PoolSwap(
                        Address(pool), "v3", Address(t_in), Address(t_out), self._pool_fee.get(pool), amount
                    )
                )
        return tuple(out)

    async def _learn_tokens(self, pools: list[str]) -> None:
        todo = sorted({p for p in pools if p not in self._pool_tokens})
        if not todo:
            return
        calls: list[tuple[str, list[Any]]] = []
        for p in todo:
            calls += [
                ("eth_call", [{"to": p, "data": _SEL_TOKEN0}, "latest"]),
                ("eth_call", [{"to": p, "data": _SEL_TOKEN1}, "latest"]),
            ]
        res = await self._rpc.batch(calls)
        for k, p in enumerate(todo):
            a, b = res[2 * k], res[2 * k + 1]
            if isinstance(a, str) and isinstance(b, str) and len(a) >= 66 and len(b) >= 66:
                self._pool_tokens[p] = ("0x" + a[-40:].lower(), "0x" + b[-40:].lower())

    # -- alerts ---------------------------------------------------------------------------------
    def _raise(self, bot: PendingTx, swap: PoolSwap, source: str, victim: PendingTx) -> None:
        key = (bot.hash, victim.hash)
        if key in self._alerted:
            return
        self._alerted.add(key)
        self._spawn(self._publish(bot, swap, source, victim))

    async def _publish(self, bot: PendingTx, swap: PoolSwap, source: str, victim: PendingTx) -> None:
        base = self._base_fee
        details: dict[str, Any] = {
            "token_in": swap.token_in,
            "token_out": swap.token_out,
            "bot_source": source,
            "bot_sender": bot.sender,
            "bot_amount_in": swap.amount_in,
            "bot_tip_wei": bot.tip(base),
            "victim_tip_wei": victim.tip(base),
            "base_fee_wei": base,
            "victim_methods": [i.method for i in victim.intents],
        }
        try:
            exposures = await self._assess_routes(self._routes.get(victim.hash, ()), pool=swap.pool)
        except RpcError as exc:
            exposures = []
            details["exposure_reason"] = f"pool state unavailable: {exc}"
        if exposures:
            e = exposures[0]
            details.update(
                price_impact_bps=e.price_impact_bps,
                slippage_bps=e.slippage_bps,
                max_frontrun=e.max_frontrun,
                max_frontrun_capped=e.capped,
                exposure_profit=e.attacker_profit,
                exposure_token=e.profit_token,
                exposure_usd=e.profit_usd,
                exposure_model=e.model,
            )
            if e.usd_reason:
                details["exposure_usd_reason"] = e.usd_reason
        elif "exposure_reason" not in details:
            details["exposure_reason"] = "victim route not assessable (amounts set at run time)"
        proto = self._protocol(swap)
        alert = Alert(
            id=f"mempool:{self.chain_id}:{bot.hash}:{victim.hash}",
            stage="mempool",
            kind="sandwich",
            chain_id=self.chain_id,
            txs=(bot.hash,),
            victim_txs=(victim.hash,),
            bot=bot.to if (bot.to is not None and bot.to not in self.routers) else bot.sender,
            pools=(swap.pool,),
            protocols=(proto,) if proto else (),
            details=details,
        )
        await self.bus.publish(alert)
        self.status.alerts += 1

    def _protocol(self, s: PoolSwap) -> str | None:
        t0, t1 = sort_tokens(s.token_in, s.token_out)
        if s.amm == "v2":
            return identify_v2(self.chain_id, s.pool, t0, t1)[0]
        return identify_v3(self.chain_id, s.pool, t0, t1)[0]

    # -- exposure ---------------------------------------------------------------------------------
    async def assess(self, tx: PendingTx) -> list[Exposure]:
        """Price impact and sandwich exposure of each assessable swap intent of ``tx`` at the
        latest state (intents decoded here when ``tx`` has none)."""
        intents = tx.intents or decode_swaps(tx.input, to=tx.to, sender=tx.sender, value=tx.value)
        routes = []
        for it in intents:
            swaps = await self._swaps_of(it)
            if swaps:
                routes.append(_Route(it, swaps))
        return await self._assess_routes(tuple(routes))

    async def _assess_routes(self, routes: tuple[_Route, ...], pool: str | None = None) -> list[Exposure]:
        """Exposures of ``routes`` (only those through ``pool`` when given)."""
        chosen = [r for r in routes if pool is None or any(s.pool == pool for s in r.swaps)]
        states = await self._pool_states([s for r in chosen for s in r.swaps])
        out: list[Exposure] = []
        for r in chosen:
            pools = [states.get(s.pool) for s in r.swaps]
            if any(p is None for p in pools):
                continue
            try:
                out.append(
                    assess(r.intent, [p for p in pools if p is not None], usd_per_unit=self.usd_per_unit)
                )
            except NotAssessable as exc:
                log.debug("not assessable: %s", exc)
        return out

    async def _pool_states(self, swaps: list[PoolSwap]) -> dict[str, PoolState]:
        """States of the pools of ``swaps`` at the latest head: cached, else read in one batch
        (a pool another task is already reading is awaited, not read twice)."""
        gen = self._states_gen
        out: dict[str, PoolState] = {}
        waits: list[tuple[str, asyncio.Future[PoolState | None]]] = []
        todo: dict[str, PoolSwap] = {}
        for sw in swaps:
            st = self._states.get(sw.pool)
            if st is not None:
                out[sw.pool] = st
            elif sw.pool in self._inflight:
                waits.append((sw.pool, self._inflight[sw.pool]))
            else:
                todo.setdefault(sw.pool, sw)
        if todo:
            loop = asyncio.get_running_loop()
            mine = {pool: loop.create_future() for pool in todo}
            self._inflight.update(mine)
            fetched: dict[str, PoolState] = {}
            try:
                fetched = await self._read_states(list(todo.values()))
            finally:
                for pool, fut in mine.items():
                    if self._inflight.get(pool) is fut:
                        del self._inflight[pool]
                    if not fut.done():
                        fut.set_result(fetched.get(pool))
            if gen == self._states_gen:  # not stale: no head arrived meanwhile
                self._states.update(fetched)
            out.update(fetched)
        for pool, fut in waits:
            st = await asyncio.shield(fut)  # a cancelled waiter must not cancel the read
            if st is not None:
                out[pool] = st
        return out

    async def _read_states(self, swaps: list[PoolSwap]) -> dict[str, PoolState]:
        calls: list[tuple[str, list[Any]]] = []
        for sw in swaps:
            if sw.amm == "v2":
                calls.append(("eth_call", [{"to": sw.pool, "data": _SEL_GET_RESERVES}, "latest"]))
            else:
                calls.append(("eth_call", [{"to": sw.pool, "data": _SEL_SLOT0}, "latest"]))
                calls.append(("eth_call", [{"to": sw.pool, "data": _SEL_LIQUIDITY}, "latest"]))
        res = iter(await self._rpc.batch(calls))
        out: dict[str, PoolState] = {}
        for sw in swaps:
            t0, t1 = sort_tokens(sw.token_in, sw.token_out)
            if sw.amm == "v2":
                r = next(res)
                if isinstance(r, str) and len(r) >= 130:
                    fee = self._pool_fee.get(sw.pool) or _DEFAULT_V2_FEE
                    out[sw.pool] = V2Pool(sw.pool, t0, t1, int(r[2:66], 16), int(r[66:130], 16), fee)
            else:
                r, liq = next(res), next(res)
                ok = isinstance(r, str) and isinstance(liq, str) and len(r) >= 66 and len(liq) >= 66
                if ok and sw.fee:
                    out[sw.pool] = V3Pool(sw.pool, t0, t1, int(r[2:66], 16), int(liq[2:66], 16), sw.fee)
        return out

    # -- pools ----------------------------------------------------------------------------------
    def _swaps_cached(self, it: SwapIntent) -> tuple[PoolSwap, ...] | None:
        """:meth:`_swaps_of` from cached facts and CREATE2 only; None when RPC is needed."""
        if it.router is None:
            return ()
        key = (it.router, it.amm)
        if key not in self._factories:
            return None
        fac = self._factories[key]
        if fac is None:
            return ()
        pools: list[str | None] = []
        for hop in it.hops:
            pk = self._pool_key(fac, it.amm, hop.token_in, hop.token_out, hop.fee)
            if pk not in self._pool_addr:
                if fac.init_code_hash is None:
                    return None
                self._name_pool(fac, pk, self._create2(fac, pk))
            pools.append(self._pool_addr[pk])
        return self._hop_swaps(it, pools)

    async def _swaps_of(self, it: SwapIntent) -> tuple[PoolSwap, ...]:
        """The pool of each hop of ``it`` (empty when one cannot be named)."""
        if it.router is None:
            return ()
        fac = await self._factory(it.router, it.amm)
        if fac is None:
            return ()
        pools = [await self._pool(fac, it.amm, h.token_in, h.token_out, h.fee) for h in it.hops]
        return self._hop_swaps(it, pools)

    @staticmethod
    def _hop_swaps(it: SwapIntent, pools: list[str | None]) -> tuple[PoolSwap, ...]:
        out: list[PoolSwap] = []
        for k, (hop, pool) in enumerate(zip(it.hops, pools, strict=True)):
            if pool is None:
                return ()
            amount = it.amount_in if k == 0 and it.exact_in else None
            out.append(PoolSwap(Address(pool), it.amm, hop.token_in, hop.token_out, hop.fee, amount))
        return tuple(out)

    async def _factory(self, router: str, amm: str) -> _Factory | None:
        key = (router, amm)
        if key in self._factories:
            return self._factories[key]
        task = self._factory_lookups.get(key)
        if task is None:
            task = self._factory_lookups[key] = asyncio.ensure_future(self._lookup_factory(router, amm))
        try:
            fac = await asyncio.shield(task)  # shared by every tx of this router meanwhile
        except RpcError:
            self._factory_lookups.pop(key, None)  # transient: the next tx asks again
            raise
        self._factories[key] = fac
        self._factory_lookups.pop(key, None)
        return fac

    async def _lookup_factory(self, router: str, amm: str) -> _Factory | None:
        sels = (_SEL_FACTORY_V2, _SEL_FACTORY) if amm == "v2" else (_SEL_FACTORY,)
        res = await self._rpc.batch([("eth_call", [{"to": router, "data": s}, "latest"]) for s in sels])
        addr = next(
            ("0x" + r[-40:].lower() for r in res if isinstance(r, str) and len(r) == 66 and int(r, 16)), None
        )
        if amm == "v2":
            known2 = V2_FACTORIES.get(self.chain_id, ())
            for f in known2:
                if f.factory == addr or (addr is None and f.protocol == "uniswap_v2"):
                    return _Factory(f.protocol, f.factory, f.init_code_hash, f.fee_ppm)
        else:
            for protocol, deployer, init_hash in V3_FACTORIES.get(self.chain_id, ()):
                if deployer == addr or (addr is None and protocol == "uniswap_v3"):
                    return _Factory(protocol, deployer, init_hash, None)
        if addr is None:
            log.info("router %s has no %s factory getter and the chain has no default", router, amm)
            return None
        return _Factory(f"uniswap_{amm}_fork", addr, None, None)

    @staticmethod
    def _pool_key(
        fac: _Factory, amm: str, a: str, b: str, fee: int | None
    ) -> tuple[str, str, str, str, int | None]:
        t0, t1 = sort_tokens(a, b)
        return (fac.address, amm, t0, t1, fee)

    @staticmethod
    def _create2(fac: _Factory, pk: tuple[str, str, str, str, int | None]) -> str | None:
        _, amm, t0, t1, fee = pk
        assert fac.init_code_hash is not None
        if amm == "v2":
            return v2_pair_address(fac.address, t0, t1, fac.init_code_hash)
        return v3_pool_address(fac.address, t0, t1, fee, fac.init_code_hash) if fee is not None else None

    def _name_pool(self, fac: _Factory, pk: tuple[str, str, str, str, int | None], pool: str | None) -> None:
        self._pool_addr[pk] = pool
        if pool is not None:
            _, amm, t0, t1, fee = pk
            self._pool_tokens[pool] = (t0, t1)
            self._pool_fee[pool] = fee if amm == "v3" else fac.fee_ppm

    async def _pool(self, fac: _Factory, amm: str, a: str, b: str, fee: int | None) -> str | None:
        pk = self._pool_key(fac, amm, a, b, fee)
        if pk in self._pool_addr:
            return self._pool_addr[pk]
        if fac.init_code_hash is not None:
            self._name_pool(fac, pk, self._create2(fac, pk))
            return self._pool_addr[pk]
        _, _, t0, t1, _ = pk
        if amm == "v2":
            data = _SEL_GET_PAIR + t0[2:].rjust(64, "0") + t1[2:].rjust(64, "0")
        else:
            data = _SEL_GET_POOL + t0[2:].rjust(64, "0") + t1[2:].rjust(64, "0") + f"{fee or 0:064x}"
        r = await self._rpc.call("eth_call", [{"to": fac.address, "data": data}, "latest"])
        pool = "0x" + str(r)[-40:].lower() if isinstance(r, str) and len(r) >= 42 and int(r, 16) else None
        self._name_pool(fac, pk, pool)
        return pool

    # -- heads ----------------------------------------------------------------------------------
    async def _on_head(self, head: Mapping[str, Any]) -> None:
        number = _q(head.get("number"))
        self._head = dict(head)
        self._base_fee = _next_base_fee(head)
        self.status.head = number
        self._states_gen += 1
        self._states = {}
        self._inflight = {}
        blk = await self._rpc.call("eth_getBlockByNumber", [hex(number), False])
        included = [str(h).lower() for h in (blk or {}).get("transactions") or ()]
        self._forget(included)
        self._expire()
        victims = [s for routes in self._routes.values() for r in routes for s in r.swaps]
        if victims:
            with contextlib.suppress(RpcError):
                await self._pool_states(victims)

    def _forget(self, hashes: Iterable[str]) -> None:
        for h in hashes:
            if self._pending.pop(h, None) is None:
                continue
            self._routes.pop(h, None)
            self._simulated.pop(h, None)
            for key in self._tx_keys.pop(h, ()):
                for index in (self._victims, self._bot_swaps):
                    bucket = index.get(key)
                    if bucket is not None and bucket.pop(h, None) is not None:
                        if index is self._victims:
                            pair = frozenset(key[1:])
                            left = self._victim_tokens.get(pair, 1) - 1
                            if left > 0:
                                self._victim_tokens[pair] = left
                            else:
                                self._victim_tokens.pop(pair, None)
                        if not bucket:
                            del index[key]
            for a in self._tx_named.pop(h, ()):
                s = self._named.get(a)
                if s is not None:
                    s.discard(h)
                    if not s:
                        del self._named[a]
        self._alerted = {k for k in self._alerted if k[0] in self._pending and k[1] in self._pending}
        self.status.pending = len(self._pending)

    def _expire(self) -> None:
        now = time.time()
        self._forget([h for h, p in self._pending.items() if now - p.first_seen > self.ttl])
        cutoff = now - self.retention
        if self._seen_at and next(iter(self._seen_at.values())) < cutoff:
            self._seen_at = {h: t for h, t in self._seen_at.items() if t >= cutoff}

    # -- the block stage's question ---------------------------------------------------------------
    def first_seen(self, tx_hash: str) -> float | None:
        """When ``tx_hash`` was first seen pending (unix seconds); None if never (or forgotten
        after ``retention``)."""
        return self._seen_at.get(tx_hash.lower())

    def pending_seen(self, block: Block) -> frozenset[str] | None:
        """Hashes of ``block``'s txs that this monitor saw pending; ``None`` when it was not
        subscribed for the whole window in which they could have been pending (before its first
        subscription, during a drop, and -- on a node without ``txpool_content`` -- for the
        block right after a (re)subscription). Safe to call from another thread."""
        n = block.number
        first, gap_from, gaps = self._first_covered, self._gap_from, self._gaps
        if first is None or n < first or (gap_from is not None and n >= gap_from):
            return None
        if any(lo <= n <= hi for lo, hi in gaps):
            return None
        seen = self._seen_at
        return frozenset(t.hash for t in block.transactions if t.hash in seen)
