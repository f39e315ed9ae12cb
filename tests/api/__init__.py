"""REST API tests: helpers shared by the functional and the schemathesis suites.

The store is the real embedded one, filled through the real ingest path from the shared mainnet
blocks; Redis is the local server (``127.0.0.1:6379``, db 15, a per-session key prefix). Without
Redis the Redis cases skip -- and fail when ``CI=true``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mevgraph.store import SqlStore, open_store
from mevgraph.store.ingest import ingest

from ..conftest import load_fixture

REDIS_URL = os.environ.get("MEVGRAPH_TEST_REDIS", "redis://127.0.0.1:6379/15")
DUPLICATE = "10921990"  # the file holds block 10921991 again


def filled_store(location: Path | str, names: list[str]) -> SqlStore:
    """A store holding the blocks ``names`` (height order): embedded in a directory, or
    PostgreSQL at a ``postgresql://`` URL."""
    store = open_store(location)
    blocks = sorted((load_fixture(n) for n in names if n != DUPLICATE), key=lambda b: b.number)
    ingest(store, blocks)
    return store


def redis_or_skip() -> str:
    """The test Redis URL, after checking the server answers."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
    except Exception as exc:
        msg = f"Redis unreachable at {REDIS_URL}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return REDIS_URL


def fresh_prefix() -> str:
    return f"mevgraph-test:{uuid.uuid4().hex[:12]}:"


def drop_prefix(url: str, prefix: str) -> None:
    """Delete every key the test wrote under ``prefix``."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def prefixed(url: str) -> Iterator[str]:
    """A fresh prefix for one fixture's lifetime; its keys are removed afterwards."""
    prefix = fresh_prefix()
    try:
        yield prefix
    finally:
        drop_prefix(url, prefix)
