"""Services for the live-follower tests: a Redis URL (fresh PostgreSQL databases come from the
``pg_database`` fixture of ``tests/conftest.py``).

Redis ``127.0.0.1:6379`` db 15 (override with ``MEVGRAPH_TEST_REDIS``);
tests use a unique key prefix in it. Without a server the tests that need it skip -- and fail
when ``CI=true``, as in ``tests/store/conftest.py``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REDIS_URL = os.environ.get("MEVGRAPH_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _unavailable(msg: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    """``(redis_url, prefix)``: a reachable Redis and a key prefix of this test (cleaned after)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        client.close()
        _unavailable(f"Redis unreachable at {REDIS_URL}: {exc}")
    prefix = f"mevgraph-test-{uuid.uuid4().hex[:10]}:"
    try:
        yield REDIS_URL, prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
