"""Shared fixtures: the real mainnet blocks in ``../shared/data`` (read in place, never copied)."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import pytest

from mevgraph.core.types import Block
from mevgraph.decode.decoder import DecodedBlock, decode_block
from mevgraph.ingest.fixture import block_from_fixture

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MEVGRAPH_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data" / "mainnet"
BLOCK_FILES = sorted((DATA / "blocks").glob("*.json.gz"))


def _require_data() -> None:
    if not BLOCK_FILES:
        msg = f"real mainnet blocks not found under {DATA} (expected ../shared/data beside the repo)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


@cache
def load_fixture(name: str) -> Block:
    """Block from ``blocks/<name>.json.gz`` (``name`` is the file stem, e.g. ``"12775690"``)."""
    with gzip.open(DATA / "blocks" / f"{name}.json.gz") as fh:
        return block_from_fixture(json.load(fh), source=f"{name}.json.gz")


@cache
def decoded_fixture(name: str) -> DecodedBlock:
    return decode_block(load_fixture(name))


@cache
def peer_output(name: str) -> dict[str, Any]:
    with gzip.open(DATA / "peer" / f"{name}.json.gz") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def expected_records() -> list[dict[str, Any]]:
    return json.loads((DATA / "expected_from_tests.json").read_text())["records"]


@pytest.fixture(scope="session")
def block_names() -> list[str]:
    _require_data()
    return [p.name.removesuffix(".json.gz") for p in BLOCK_FILES]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    _require_data()
    return DATA


@pytest.fixture(scope="session", autouse=True)
def _no_node_left_behind() -> Any:
    """Every anvil a test started must be stopped by the time the session ends."""
    yield
    from mevgraph.sim import node

    left = [p.pid for p in node._LIVE if p.poll() is None]
    node._kill_all()
    assert not left, f"anvil processes left running by tests: {left}"


PG_ADMIN = os.environ.get("MEVGRAPH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
"""The local PostgreSQL (trust auth); tests make throw-away databases in it. Without a server the
tests that need it skip -- and fail when ``CI=true``."""


@contextmanager
def _databases(prefix: str) -> Iterator[Callable[[], str]]:
    """A maker of new, empty databases (-> URL), all dropped at exit."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as exc:
        msg = f"PostgreSQL unreachable at {PG_ADMIN}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    made: list[str] = []

    def make() -> str:
        name = f"{prefix}{uuid.uuid4().hex[:12]}"
        admin.execute(f"CREATE DATABASE {name}")
        made.append(name)
        return f"{PG_ADMIN.rpartition('/')[0]}/{name}"

    try:
        yield make
    finally:
        for name in made:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """One database for the session (the store tests empty it before each test)."""
    with _databases("mevgraph_t_") as make:
        yield make()


@pytest.fixture
def pg_database() -> Iterator[Callable[[], str]]:
    """``pg_database()`` -> the URL of a new, empty database; all are dropped after the test."""
    with _databases("mevgraph_f_") as make:
        yield make
