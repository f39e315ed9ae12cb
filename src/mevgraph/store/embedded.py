"""Embedded backend: one DuckDB file, ``<directory>/mevgraph.duckdb``, no server.

Same SQL and results as PostgreSQL (see :mod:`mevgraph.store.aggregates`). Thread-safe within
one process: each thread reads through its own DuckDB cursor (MVCC, reads run in parallel) and
writes are serialized by a lock. DuckDB locks the file, so one process opens a store at a time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from mevgraph.store.aggregates import QueryCounter, Session, SqlStore, _cols

__all__ = ["EmbeddedStore", "DB_FILE"]

DB_FILE = "mevgraph.duckdb"


class _DuckSession(Session):
    dialect = "duckdb"

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        cache: dict[str, tuple[str, tuple[str, ...]]],
        counter: QueryCounter | None = None,
    ) -> None:
        self._cur = cur
        self._cache = cache
        self._counter = counter

    def _run(self, sql: str, params: dict[str, Any] | None, fetch: bool) -> list[tuple[Any, ...]]:
        self._cur.execute(sql, params)
        return self._cur.fetchall() if fetch else []

    def copy(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """One ``INSERT ... SELECT`` over the rows as an Arrow table (DuckDB scans it in place;
        a parameterised insert per row costs ~100x more)."""
        if not rows:
            return
        self._count()
        data = pa.table({c: pa.array(list(v)) for c, v in zip(columns, zip(*rows, strict=True), strict=True)})
        name = f"_copy_{table}"
        self._cur.register(name, data)
        try:
            self._cur.execute(f"INSERT INTO {table} ({_cols(columns)}) SELECT {_cols(columns)} FROM {name}")
        finally:
            self._cur.unregister(name)


class EmbeddedStore(SqlStore):
    """The store in a directory on disk (created if missing)."""

    dialect = "duckdb"

    def __init__(self, directory: str | Path, *, upgrade: bool = True, summary_ttl: float = 1.0) -> None:
        super().__init__(summary_ttl)
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.url = str(path.resolve())
        self._db = duckdb.connect(str(path / DB_FILE))
        self._cache: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._closed = False
        if upgrade:
            self.upgrade()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if self._closed:
            raise RuntimeError("store is closed")
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._db.cursor()
            self._local.cur = cur
            with self._cursors_lock:
                self._cursors.append(cur)
        return cur

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._write_lock:
            cur = self._cursor()
            cur.begin()
            try:
                yield _DuckSession(cur, self._cache, self.queries)
            except BaseException:
                cur.rollback()
                raise
            cur.commit()

    @contextmanager
    def _read(self) -> Iterator[Session]:
        yield _DuckSession(self._cursor(), self._cache, self.queries)

    def _json(self, value: Any) -> Any:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._cursors_lock:
            for cur in self._cursors:
                cur.close()
            self._cursors.clear()
        self._db.close()
