"""The alert bus: one publish side (follower, mempool monitor), many subscribers (GraphQL
subscriptions, webhook dispatcher).

Two backends behind one interface (:class:`EventBus`):

* :class:`LocalBus` -- in-process fan-out, the embedded default (no server);
* :class:`RedisBus` -- Redis pub/sub on one channel, for several processes (a ``mevgraph
  follow`` process publishing, ``mevgraph serve`` workers subscribing). Each bus instance holds
  *one* Redis subscription and fans it out to its local subscribers, so a thousand GraphQL
  clients cost one Redis connection per API process.

**Slow subscribers.** Every subscriber has its own bounded queue (``maxsize``). Publishing never
waits for a subscriber: when a queue is full its *oldest* alert is dropped to make room (a live
feed is worth more fresh than complete), the subscription's ``dropped`` counter grows and the
next alert it yields carries nothing extra -- the count is on :attr:`Subscription.dropped` for
callers that report it. So a stalled client costs at most ``maxsize`` alerts of memory and never
slows the pipeline or other subscribers. Webhooks, which must not lose alerts, use a queue of
their own with retries and a dead-letter list (:mod:`mevgraph.api.webhooks`).

**Publish hooks.** :meth:`add_publish_hook` registers a function called with every alert *this*
bus instance publishes -- never with alerts that arrive from other processes -- so work that must
happen exactly once per alert (webhook delivery) runs where alerts are published, not in every
subscribing process. A hook runs synchronously inside ``publish`` and must not block; its
exceptions are logged, never raised to the publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from mevgraph.core.alerts import Alert, AlertFilter

__all__ = ["EventBus", "LocalBus", "RedisBus", "Subscription", "open_bus", "DEFAULT_CHANNEL"]

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "mevgraph:alerts"
DEFAULT_QUEUE = 1024


class Subscription:
    """An async iterator of the alerts that pass ``filter``; close it (or leave its ``async
    with``) to unsubscribe."""

    def __init__(self, bus: _FanOut, filter: AlertFilter | None, maxsize: int):
        self._bus = bus
        self.filter = filter or AlertFilter()
        self.queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=max(1, maxsize))
        self.loop = asyncio.get_running_loop()
        self.dropped = 0
        self.closed = False

    def offer(self, alert: Alert) -> None:
        """Queue ``alert`` if it passes the filter; drop the oldest when full. Loop thread only."""
        if self.closed or not self.filter.matches(alert):
            return
        while True:
            try:
                self.queue.put_nowait(alert)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()
                    self.dropped += 1

    def __aiter__(self) -> AsyncIterator[Alert]:
        return self

    async def __anext__(self) -> Alert:
        if self.closed:
            raise StopAsyncIteration
        return await self.queue.get()

    async def get(self, timeout: float | None = None) -> Alert:
        """The next alert; ``asyncio.TimeoutError`` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):  # not wait_for: it can swallow a cancellation on 3.11
            return await self.queue.get()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._remove(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventBus(Protocol):
    async def publish(self, alert: Alert) -> None:
        """Deliver ``alert`` to every matching subscriber (of every process, for Redis)."""
        ...

    async def subscribe(
        self, filter: AlertFilter | None = None, *, maxsize: int = DEFAULT_QUEUE
    ) -> Subscription:
        """A new subscription; alerts published after it returns are delivered."""
        ...

    async def close(self) -> None: ...

    def add_publish_hook(self, hook: Callable[[Alert], None]) -> None:
        """Call ``hook(alert)`` for every alert this instance publishes (see the module doc)."""
        ...

    def remove_publish_hook(self, hook: Callable[[Alert], None]) -> None: ...


class _FanOut:
    """Local subscribers of one bus; delivery is thread-safe (each subscription is fed on the
    event loop it was created on)."""

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._hooks: list[Callable[[Alert], None]] = []

    def add_publish_hook(self, hook: Callable[[Alert], None]) -> None:
        """Call ``hook(alert)`` for every alert this instance publishes (see the module doc)."""
        self._hooks.append(hook)

    def remove_publish_hook(self, hook: Callable[[Alert], None]) -> None:
        if hook in self._hooks:
            self._hooks.remove(hook)

    def _published(self, alert: Alert) -> None:
        for hook in list(self._hooks):
            try:
                hook(alert)
            except Exception:
                log.exception("publish hook %r failed on alert %s", hook, alert.id)

    def _remove(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def _deliver(self, alert: Alert) -> None:
        for sub in list(self._subs):
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if sub.loop is running:
                sub.offer(alert)
            elif not sub.loop.is_closed():
                sub.loop.call_soon_threadsafe(sub.offer, alert)

    @property
    def subscribers(self) -> int:
        return len(self._subs)


class LocalBus(_FanOut):
    """In-process bus (the embedded default)."""

    async def publish(self, alert: Alert) -> None:
        self._published(alert)
        self._deliver(alert)

    def publish_nowait(self, alert: Alert) -> None:
        """Publish from synchronous code (any thread)."""
        self._published(alert)
        self._deliver(alert)

    async def subscribe(
        self, filter: AlertFilter | None = None, *, maxsize: int = DEFAULT_QUEUE
    ) -> Subscription:
        sub = Subscription(self, filter, maxsize)
        self._subs.add(sub)
        return sub

    async def close(self) -> None:
        for sub in list(self._subs):
            sub.close()


class RedisBus(_FanOut):
    """Redis pub/sub on ``channel``; one listener task per bus instance feeds local subscribers.

    A publish is one ``PUBLISH`` round trip. If the Redis connection drops, the listener
    reconnects with backoff (alerts published meanwhile are lost for this process's
    subscribers: pub/sub keeps nothing -- consumers that need every alert use webhooks)."""

    def __init__(self, url: str, channel: str = DEFAULT_CHANNEL):
        super().__init__()
        import redis.asyncio as aioredis

        self.url = url
        self.channel = channel
        self._redis: Any = aioredis.Redis.from_url(url)
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.errors = 0

    async def publish(self, alert: Alert) -> None:
        self._published(alert)  # before the round trip: hooks do not depend on Redis
        await self._redis.publish(self.channel, alert.to_json())

    async def subscribe(
        self, filter: AlertFilter | None = None, *, maxsize: int = DEFAULT_QUEUE
    ) -> Subscription:
        if self._listener is None or self._listener.done():
            self._ready.clear()
            self._listener = asyncio.create_task(self._listen(), name="mevgraph-redis-bus")
        # Counted as a subscriber only once Redis has confirmed the channel subscription: an alert
        # published after this returns is delivered (pub/sub keeps nothing for latecomers).
        await self._ready.wait()
        sub = Subscription(self, filter, maxsize)
        self._subs.add(sub)
        return sub

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._ready.set()
                delay = 0.1
                async for msg in pubsub.listen():
                    if msg.get("type") != "message":
                        continue
                    try:
                        alert = Alert.from_json(msg["data"])
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning("dropping a malformed alert on %s: %s", self.channel, exc)
                        continue
                    self._deliver(alert)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.errors += 1
                log.warning("alert bus connection lost (%s); reconnecting in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def close(self) -> None:
        for sub in list(self._subs):
            sub.close()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        await self._redis.aclose()


def open_bus(redis_url: str | None = None, channel: str = DEFAULT_CHANNEL) -> LocalBus | RedisBus:
    """Redis pub/sub when ``redis_url`` is given, else the in-process bus."""
    return RedisBus(redis_url, channel) if redis_url else LocalBus()
