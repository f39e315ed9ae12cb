"""Response cache for the hot list queries (opportunities, bots, leakage).

An entry is keyed by a hash of the endpoint and its *normalized* query (so ``chains=1,10`` and
``chains=10&chains=1`` share one entry) and tagged with a **generation** number. Writing a block
bumps the generation (:func:`invalidate_cache`), which makes every older entry stale at once
without scanning for keys; a short TTL (:data:`DEFAULT_TTL_S`) is the safety net for writers that
cannot reach the cache (e.g. an ingest process without Redis while the API keeps an in-process
cache).

Two backends:

* Redis (``redis_url`` given): the generation lives at ``<prefix>gen``; an entry at
  ``<prefix>q:<hash>`` holds ``<generation>|<json body>`` with ``EX ttl``. The generation comes
  back with the rate-limit counter in the request's single Redis round trip
  (:meth:`~mevgraph.api.auth.RateLimiter.ahit`), and so does the entry itself unless this
  process holds a copy of it (a small per-process copy of recent entries, tagged with the
  generation too, answers repeated queries without moving the body again; a stale copy costs one
  ``GET`` of the entry). Any Redis error degrades to "no cache" for that request -- the API
  answers from the store rather than failing.
* in-process: an LRU of bounded size with per-entry expiry; its generation is process-wide
  (:data:`_LOCAL_GENERATION`), so :func:`invalidate_cache` called in the same process as the API
  (tests, an embedded deployment) takes effect immediately.

The ingest CLI calls ``invalidate_cache(redis_url)`` after each stored batch; see
:func:`invalidate_cache`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

import orjson

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_TTL_S",
    "ResponseCache",
    "invalidate_cache",
    "query_key",
    "redis_client",
]

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "mevgraph:api:"
DEFAULT_TTL_S = 5.0
_LOCAL_MAX_ENTRIES = 1024

_local_lock = threading.Lock()
_LOCAL_GENERATION = 0


def redis_client(url: str) -> Any:
    """A Redis client with short timeouts: a slow cache must never make the API slow."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


class AsyncRedis:
    """One ``redis.asyncio`` client per event loop (a client's connections belong to the loop
    that opened them; test clients and ``uvicorn --workers`` each run their own loop)."""

    def __init__(self, url: str):
        self.url = url
        self._clients: dict[int, Any] = {}
        self._lock = threading.Lock()

    def get(self) -> Any:
        import asyncio

        import redis.asyncio as aioredis

        loop = id(asyncio.get_running_loop())
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                client = aioredis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
                self._clients[loop] = client
            return client


def invalidate_cache(redis_url: str | None = None, *, prefix: str = DEFAULT_PREFIX) -> int:
    """Make every cached list answer stale; call after a block is stored.

    Bumps this process's generation and, when ``redis_url`` is given, the shared one in Redis
    (``INCR <prefix>gen``) so that every API process sees the change. Returns the new local
    generation. Redis errors are logged, not raised: ingest must not fail because the cache is
    down (entries then expire by TTL).
    """
    global _LOCAL_GENERATION
    with _local_lock:
        _LOCAL_GENERATION += 1
        gen = _LOCAL_GENERATION
    if redis_url:
        try:
            client = redis_client(redis_url)
            try:
                client.incr(prefix + "gen")
            finally:
                client.close()
        except Exception as exc:  # the cache is an optimisation; ingest goes on
            log.warning("cache invalidation in Redis failed: %s", exc)
    return gen


def query_key(endpoint: str, params: dict[str, Any]) -> str:
    """Stable hash of ``endpoint`` and its normalized ``params`` (lists sorted, Nones dropped)."""
    norm: dict[str, Any] = {}
    for k, v in params.items():
        if v is None:
            continue
        norm[k] = sorted(str(x) for x in v) if isinstance(v, list | tuple | set) else str(v)
    raw = orjson.dumps({"e": endpoint, "p": norm}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()


class ResponseCache:
    """Cache of serialized JSON bodies, in Redis when ``aredis`` is given, else in-process."""

    def __init__(
        self, aredis: AsyncRedis | None = None, *, prefix: str = DEFAULT_PREFIX, ttl_s: float = DEFAULT_TTL_S
    ):
        self.aredis = aredis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        # in-process backend: key -> (generation, expiry, body)
        self._entries: OrderedDict[str, tuple[int, float, bytes]] = OrderedDict()
        # Redis backend: recent entries of this process, tagged with the Redis generation
        self._near: OrderedDict[str, tuple[bytes, float, bytes]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def gen_key(self) -> str:
        return self.prefix + "gen"

    async def aget(self, key: str, generation: bytes | None) -> tuple[bytes | None, bytes]:
        """The cached body of ``key`` (None on a miss) and the generation to pass to
        :meth:`aput`: an answer computed while a block was being written is then tagged with the
        *older* generation and never served after the bump.

        With Redis, ``generation`` is the one read in this request's admission round trip (None
        when that failed: no cache for this request); a local copy with that tag answers at
        once, otherwise one ``GET`` of the shared entry (unless the admission read it too: see
        :meth:`accept`)."""
        if self.aredis is None:
            body, gen = self._get_local(key)
        elif generation is None or self.ttl_s <= 0:
            return None, b""
        else:
            body, gen = await self._get_redis(key, generation), generation
        self._count(body)
        return body, gen

    def entry_key(self, key: str) -> str:
        """The Redis key of ``key``'s entry (for a caller reading it in its own round trip)."""
        return self.prefix + "q:" + key

    def knows(self, key: str) -> bool:
        """Whether this process holds a copy of ``key`` (of any generation): then the entry need
        not be read from Redis if the copy's generation is still current."""
        with self._lock:
            return key in self._near

    def accept(self, key: str, generation: bytes, raw: bytes | None) -> bytes | None:
        """The body of an entry read from Redis by the caller (``raw``: ``GET`` of
        :meth:`entry_key`), when it carries ``generation``; counted as a hit or a miss."""
        body = self._parse(key, generation, raw)
        self._count(body)
        return body

    def _count(self, body: bytes | None) -> None:
        with self._lock:
            if body is None:
                self.misses += 1
            else:
                self.hits += 1

    async def aput(self, key: str, body: bytes, generation: bytes) -> None:
        if self.ttl_s <= 0:
            return
        if self.aredis is None:
            self._put_local(key, body, generation)
            return
        if not generation:  # the read failed: Redis is unwell, do not add load
            return
        self._keep_near(key, generation, body)
        try:
            await self.aredis.get().set(
                self.entry_key(key), generation + b"|" + body, px=int(self.ttl_s * 1000)
            )
        except Exception as exc:
            log.warning("cache write failed: %s", exc)

    # in-process -------------------------------------------------------------------------------
    def _get_local(self, key: str) -> tuple[bytes | None, bytes]:
        with self._lock:
            gen = _LOCAL_GENERATION
            hit = self._entries.get(key)
            if hit is None:
                return None, b"%d" % gen
            tag, expires, body = hit
            if tag != gen or expires < time.monotonic():
                del self._entries[key]
                return None, b"%d" % gen
            self._entries.move_to_end(key)
            return body, b"%d" % gen

    def _put_local(self, key: str, body: bytes, generation: bytes) -> None:
        with self._lock:
            self._entries[key] = (int(generation), time.monotonic() + self.ttl_s, body)
            self._entries.move_to_end(key)
            while len(self._entries) > _LOCAL_MAX_ENTRIES:
                self._entries.popitem(last=False)

    # Redis --------------------------------------------------------------------------------------
    async def _get_redis(self, key: str, generation: bytes) -> bytes | None:
        now = time.monotonic()
        with self._lock:
            near = self._near.get(key)
            if near is not None and near[0] == generation and near[1] > now:
                self._near.move_to_end(key)
                return near[2]
        assert self.aredis is not None
        try:
            raw = await self.aredis.get().get(self.entry_key(key))
        except Exception as exc:
            log.warning("cache read failed: %s", exc)
            return None
        return self._parse(key, generation, raw)

    def _parse(self, key: str, generation: bytes, raw: bytes | None) -> bytes | None:
        if raw is None:
            return None
        tag, _, body = bytes(raw).partition(b"|")
        if tag != generation:
            return None
        self._keep_near(key, generation, body)
        return body

    def _keep_near(self, key: str, generation: bytes, body: bytes) -> None:
        with self._lock:
            self._near[key] = (generation, time.monotonic() + self.ttl_s, body)
            self._near.move_to_end(key)
            while len(self._near) > _LOCAL_MAX_ENTRIES:
                self._near.popitem(last=False)
