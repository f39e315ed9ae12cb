"""Store fixtures: the real blocks with their findings, and a fresh store per test on each backend.

PostgreSQL is the local server (``127.0.0.1:5432``, trust auth, user ``postgres``; override with
``MEVGRAPH_TEST_PG``): one throw-away database per session, emptied before each test and dropped
at the end. Without a server the PostgreSQL cases skip -- and fail when ``CI=true``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from mevgraph.decode.decoder import decode_block
from mevgraph.detection.base import Finding
from mevgraph.pipeline import inspect_blocks
from mevgraph.store import BlockRecord, SqlStore, block_record, open_store

from ..conftest import load_fixture

DUPLICATE = "10921990"  # the file holds block 10921991 again

Chain = list[tuple[BlockRecord, list[Finding]]]


@pytest.fixture(scope="session")
def real_chain(block_names: list[str]) -> Chain:
    """The shared mainnet blocks in height order, each with the findings of its block."""
    blocks = [load_fixture(n) for n in block_names if n != DUPLICATE]
    blocks.sort(key=lambda b: b.number)
    per: dict[int, list[Finding]] = defaultdict(list)
    for f in inspect_blocks(blocks):
        per[f.block_number].append(f)
    return [(block_record(b, decode_block(b)), per[b.number]) for b in blocks]


def empty_pg(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """``make_store(kind)`` -> a fresh, migrated store of that backend (closed after the test).

    Only one PostgreSQL store is fresh at a time: making a second one empties the database."""
    opened: list[SqlStore] = []

    def make(kind: str) -> SqlStore:
        if kind == "postgres":
            url = request.getfixturevalue("pg_url")
            for s in opened:
                if s.dialect == "postgres":
                    s.close()
            empty_pg(url)
            store = open_store(url)
        else:
            store = open_store(tmp_path / f"store{len(opened)}")
        opened.append(store)
        return store

    yield make
    for s in opened:
        s.close()


@pytest.fixture(params=["embedded", "postgres"])
def store(request: pytest.FixtureRequest, make_store: object) -> SqlStore:
    """A fresh store of each backend."""
    return make_store(request.param)  # type: ignore[operator,no-any-return]
