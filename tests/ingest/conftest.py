"""Services for the live-follower tests: fresh PostgreSQL databases and a Redis URL.

PostgreSQL is the local server (``127.0.0.1:5432``, trust auth; override with
``MEVGRAPH_TEST_PG``), Redis ``127.0.0.1:6379`` db 15 (override with ``MEVGRAPH_TEST_REDIS``);
tests use a unique key prefix in it. Without a server the tests that need it skip -- and fail
when ``CI=true``, as in ``tests/store/conftest.py``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

PG_ADMIN = os.environ.get("MEVGRAPH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MEVGRAPH_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _unavailable(msg: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture
def pg_database() -> Iterator[Callable[[], str]]:
    """``pg_database()`` -> the URL of a new, empty database; all are dropped after the test."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as exc:
        _unavailable(f"PostgreSQL unreachable at {PG_ADMIN}: {exc}")
    made: list[str] = []

    def make() -> str:
        name = f"mevgraph_f_{uuid.uuid4().hex[:12]}"
        admin.execute(f"CREATE DATABASE {name}")
        made.append(name)
        return f"{PG_ADMIN.rpartition('/')[0]}/{name}"

    try:
        yield make
    finally:
        for name in made:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


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
