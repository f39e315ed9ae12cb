"""The live pipeline inside the API process: followers and mempool monitors on the app's loop.

The embedded store (DuckDB) has one writing process, so with it ``mevgraph serve --follow-rpc
URL --follow-ws URL`` runs the live pipeline in the serving process: one
:class:`~mevgraph.ingest.follow.Follower` per node (chain id from the node) and, unless
disabled, one :class:`~mevgraph.ingest.mempool.MempoolMonitor` per node feeding the follower's
``pending_seen``. Both publish on the app's bus, which the GraphQL subscriptions read: alerts
reach subscribers without leaving the process, and the webhook dispatcher
(:class:`~mevgraph.api.webhooks.WebhookDispatcher`) delivers them to the stored rules. With
PostgreSQL and Redis, ``mevgraph follow`` does the same in its own process (:func:`run_live`) and
the API workers subscribe to Redis.

:func:`attach_live` wraps the app's lifespan: the pipeline starts with the app and stops before
the store is closed (a block being written is finished first). Its state is reported by
``/v1/health`` (:func:`live_health`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from mevgraph.core.types import Block
from mevgraph.ingest.bus import EventBus
from mevgraph.ingest.follow import FollowSpec, run_followers
from mevgraph.ingest.mempool import MempoolMonitor
from mevgraph.store.base import Store

__all__ = ["LiveOptions", "attach_live", "live_health", "monitor_statuses", "run_live"]

log = logging.getLogger(__name__)

_MONITORS: list[MempoolMonitor] = []


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """What to follow. ``known_bots``: bot EOAs/contracts the mempool monitor treats as bots
    (besides those it suspects); ``on_stored``: called after each stored block (e.g. to
    invalidate the API cache)."""

    specs: Sequence[FollowSpec]
    mempool: bool = True
    known_bots: frozenset[str] = frozenset()
    status_redis: str | None = None
    webhooks: bool = True  # deliver alerts to the stored webhook rules from this process
    on_stored: Callable[[Any], object] | None = None
    follower_options: dict[str, Any] = field(default_factory=dict)


def monitor_statuses() -> list[dict[str, Any]]:
    """The mempool monitors running in this process (JSON-ready)."""
    return [{"chainId": m.chain_id, **m.status.as_dict()} for m in list(_MONITORS)]


async def _chain_id(rpc_url: str) -> int:
    from mevgraph.ingest.rpc import RpcClient

    async with RpcClient(rpc_url, timeout=10.0, max_retries=3) as rpc:
        return await rpc.chain_id()


async def run_live(store: Store, bus: EventBus, options: LiveOptions, stop: asyncio.Event) -> list[Any]:
    """Mempool monitors (unless ``options.mempool`` is False) and followers for every node of
    ``options`` until ``stop`` is set; returns the followers (their final status)."""
    monitors: list[MempoolMonitor] = []
    by_chain: dict[int, MempoolMonitor] = {}
    dispatcher = None
    try:
        if options.webhooks:
            # Webhooks are delivered where alerts are published (here), once per rule -- not by
            # every API worker that subscribes to them.
            from mevgraph.api.webhooks import WebhookDispatcher

            dispatcher = WebhookDispatcher(store)
            await dispatcher.start()
            dispatcher.attach(bus)
        if options.mempool:
            for spec in options.specs:
                chain = await _chain_id(spec.rpc_url)
                m = MempoolMonitor(
                    spec.ws_url, spec.rpc_url, bus, chain_id=chain, known_bots=options.known_bots
                )
                await m.start()
                monitors.append(m)
                by_chain[chain] = m
                _MONITORS.append(m)

        def pending_seen(block: Block) -> frozenset[str] | None:
            m = by_chain.get(block.chain_id)
            return m.pending_seen(block) if m is not None else None

        return await run_followers(
            options.specs,
            store,
            bus,
            stop=stop,
            pending_seen=pending_seen if monitors else None,
            status_redis=options.status_redis,
            on_stored=options.on_stored,
            **options.follower_options,
        )
    finally:
        for m in monitors:
            await m.stop()
            _MONITORS.remove(m)
        if dispatcher is not None:
            await dispatcher.close()


def attach_live(app: FastAPI, store: Store, bus: EventBus, options: LiveOptions) -> None:
    """Run the live pipeline of ``options`` for as long as ``app`` runs."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as state:
            stop = asyncio.Event()
            task = asyncio.create_task(run_live(store, bus, options, stop), name="mevgraph-live")
            try:
                yield state
            finally:
                stop.set()
                try:
                    await asyncio.wait_for(task, 60)
                except Exception as exc:
                    log.error("live pipeline stopped with an error: %s", exc)

    app.router.lifespan_context = lifespan


def live_health(redis_url: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """(follower statuses, mempool monitor statuses, healthy) for ``/v1/health``: unhealthy when
    a follower is reconnecting or stopped, or a monitor is disconnected."""
    from mevgraph.ingest.follow import read_follower_statuses

    followers = read_follower_statuses(redis_url)
    monitors = monitor_statuses()
    ok = all(f.get("state") in ("connected", "starting") for f in followers) and all(
        m.get("connected") for m in monitors
    )
    return followers, monitors, ok
