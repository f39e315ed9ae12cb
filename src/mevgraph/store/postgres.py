"""PostgreSQL backend (psycopg 3).

Thread-safe: a small LIFO pool hands each caller its own connection (``psycopg_pool`` is used
when installed). Connections run in autocommit with the session time zone set to UTC (the
``TIMESTAMP`` columns hold UTC); a write is one explicit transaction that first takes a
transaction-scoped advisory lock per chain, so concurrent ingests of one chain serialize while
reads never wait. psycopg prepares statements it sees repeatedly.

The API's list pages are read on its event loop instead (:meth:`PostgresStore.aopportunity_page_json`):
async connections, one pool per event loop, and a second pool whose connections plan the totals
statements once (see :data:`_GENERIC`).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import select
import threading
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from mevgraph.store.aggregates import QueryCounter, Session, SqlStore, _cols, _page_of, bind_sql
from mevgraph.store.base import OpportunityPage, OpportunityQuery

log = logging.getLogger(__name__)

__all__ = ["PostgresStore"]


class _PgSession(Session):
    dialect = "postgres"

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        cache: dict[str, tuple[str, tuple[str, ...]]],
        counter: QueryCounter | None = None,
    ) -> None:
        self._conn = conn
        self._cache = cache
        self._counter = counter

    def _run(self, sql: str, params: dict[str, Any] | None, fetch: bool) -> list[tuple[Any, ...]]:
        cur = self._conn.execute(sql, params)  # type: ignore[arg-type]  # sql is built from constants
        return cur.fetchall() if fetch else []

    def many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        native = self._bind(sql, rows[0])[0]
        self._count()
        with self._conn.cursor() as cur:
            cur.executemany(native, [self._bind(sql, r)[1] or {} for r in rows])  # type: ignore[arg-type]

    def copy(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        self._count()
        with (
            self._conn.cursor() as cur,
            cur.copy(f"COPY {table} ({_cols(columns)}) FROM STDIN") as cp,  # type: ignore[arg-type]
        ):
            for r in rows:
                cp.write_row(r)


def _alive(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle pooled connection still looks usable, without a round trip: nothing may
    arrive on an idle connection, so a readable socket means the server has closed it (a
    restart, a failover, an administrator) and said so, and the connection is dropped instead
    of failing the next request."""
    if conn.closed or conn.broken:
        return False
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SET TIME ZONE 'UTC'")


class _Pool:
    """At most ``size`` connections, reused last-in first-out; broken ones are dropped."""

    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._idle: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._url, autocommit=True)
        _configure(conn)
        return conn

    @contextmanager
    def connection(self, timeout: float = 30.0) -> Iterator[psycopg.Connection[Any]]:
        if self._closed:
            raise RuntimeError("store is closed")
        if not self._slots.acquire(timeout=timeout):
            raise TimeoutError(f"no database connection free within {timeout} s")
        try:
            while True:
                try:
                    conn = self._idle.get_nowait()
                except queue.Empty:
                    conn = self._connect()
                    break
                if _alive(conn):
                    break
                conn.close()
            try:
                yield conn
            finally:
                idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
                if conn.closed or conn.broken or not idle or self._closed:
                    conn.close()
                else:
                    self._idle.put(conn)
        finally:
            self._slots.release()

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


_GENERIC = """The totals statements' connections use generic plans (``plan_cache_mode =
force_generic_plan``, statements prepared at first use). Left to itself PostgreSQL never chose
the generic plan for them (``pg_prepared_statements``: 0 generic, 30 custom of 30), and planning
a totals statement cost more than running it: 380 us of server CPU per statement with a custom
plan each time, 107 us with the generic one, which scans the same covering indexes -- every part
is an equality on an index's leading columns and a range on the next, so there is one sensible
plan whatever the values. List pages keep custom plans: a sort index against a selective filter
is a choice that does depend on the values; so do totals with a ``min_profit`` filter, which
aggregate the table itself (a generic plan for them took 100-170 ms more)."""


class _AsyncPool:
    """Async connections of ONE event loop: at most ``size`` open, reused last-in first-out,
    broken ones dropped (an async connection belongs to the loop that opened it, so each loop
    -- each ``uvicorn`` worker, each test client -- gets its own pool)."""

    def __init__(self, url: str, size: int, *, generic_plans: bool = False) -> None:
        self._url = url
        self._generic = generic_plans
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots = asyncio.Semaphore(size)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        async with self._slots:
            while self._idle and not _alive(self._idle[-1]):
                await self._idle.pop().close()
            if self._idle:
                conn = self._idle.pop()
            else:
                # no JIT: compiling a plan the planner thinks costly took 50-150 ms, and these
                # reads are index scans over a page or a few summary rows
                options = "-c TimeZone=UTC -c jit=off"
                if self._generic:  # planned once (see _GENERIC)
                    options += " -c plan_cache_mode=force_generic_plan"
                conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True, options=options)
                if self._generic:  # prepared at first use
                    conn.prepare_threshold = 0
            try:
                yield conn
            finally:
                idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
                if conn.closed or conn.broken or not idle:
                    await conn.close()
                else:
                    self._idle.append(conn)

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().close()

    async def drop_idle(self) -> int:
        """Close the idle connections (after one failed: the server may have dropped them all,
        as a restart or a failover does); how many there were."""
        n = len(self._idle)
        await self.close()
        return n


class PostgresStore(SqlStore):
    """The store in a PostgreSQL database given by a ``postgresql://`` URL."""

    dialect = "postgres"

    def __init__(
        self, url: str, *, pool_size: int = 16, upgrade: bool = True, summary_ttl: float = 1.0
    ) -> None:
        super().__init__(summary_ttl)
        self.url = url
        self._cache: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._pool_size = pool_size
        # per event loop (dropped with it): {generic_plans: pool}
        self._async_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[bool, _AsyncPool]] = (
            weakref.WeakKeyDictionary()
        )
        self._external: Any = None
        try:
            from psycopg_pool import ConnectionPool  # type: ignore[import-not-found]
        except ImportError:
            self._pool: _Pool | None = _Pool(url, pool_size)
        else:
            self._pool = None
            self._external = ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                kwargs={"autocommit": True},
                configure=_configure,
                open=True,
            )
        if upgrade:
            self.upgrade()

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        if self._pool is not None:
            return self._pool.connection()
        conn: AbstractContextManager[psycopg.Connection[Any]] = self._external.connection()
        return conn

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._connection() as conn, conn.transaction():
            yield _PgSession(conn, self._cache, self.queries)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._connection() as conn:
            yield _PgSession(conn, self._cache, self.queries)

    def _lock(self, s: Session, name: str) -> None:
        s.execute("SELECT pg_advisory_xact_lock(hashtext(:name))", {"name": name})

    # -- the asynchronous read path (the API's list pages) ---------------------------------------

    def _async_pool(self, *, generic_plans: bool = False) -> _AsyncPool:
        """This event loop's pool of async connections (``generic_plans``: the pool whose
        connections plan each statement once, for the totals statements)."""
        pools = self._async_pools.setdefault(asyncio.get_running_loop(), {})
        pool = pools.get(generic_plans)
        if pool is None:
            pool = pools[generic_plans] = _AsyncPool(self.url, self._pool_size, generic_plans=generic_plans)
        return pool

    async def _arows(
        self, statement: tuple[str, dict[str, Any]], *, generic_plans: bool = False
    ) -> list[tuple[Any, ...]]:
        """The rows of one statement (``:name`` SQL) from this loop's pool.

        Statements are sent one by one, not in pipeline mode: psycopg's pipeline loop cost a
        quarter of an API worker's CPU under load (py-spy: ``BasePipeline._communicate_gen`` 26 %
        of samples, 32 clients), more than the round trip it saves on a local server (two
        statements: 168-197 us of client CPU one by one, 216-246 us pipelined, measured alone)."""
        sql, params = bind_sql(*statement, self.dialect, self._cache)
        self.queries.add()
        pool = self._async_pool(generic_plans=generic_plans)
        for attempt in (1, 2):
            conn: psycopg.AsyncConnection[Any] | None = None
            try:
                async with pool.connection() as conn:
                    cur = await conn.execute(sql, params)  # type: ignore[arg-type]  # built from constants
                    return await cur.fetchall()
            except psycopg.OperationalError as exc:
                # the server dropped the connection (restart, failover, idle timeout): a read is
                # safe to repeat, once, on a new one; a server that is down fails that too, and
                # an error of the statement itself (a timeout, say) is not retried
                if attempt == 2 or conn is None or not (conn.broken or conn.closed):
                    raise
                dropped = await pool.drop_idle()
                log.warning(
                    "PostgreSQL connection lost (%s); read retried on a new one (%d idle dropped)",
                    exc,
                    dropped,
                )
        raise AssertionError("unreachable")

    async def aopportunity_page_json(self, q: OpportunityQuery) -> tuple[list[str], OpportunityPage]:
        """:meth:`opportunity_page_json` on the running event loop, without a worker thread: the
        page, then the statement of its totals (see :meth:`_totals_plan`; the memo often answers
        them) on a connection that plans it once (:data:`_GENERIC`)."""
        rows = await self._arows(self._page_statement(q, "wire"))
        key = self._totals_key(q)
        totals = self._memo_get(key)
        if totals is None:
            plan = self._totals_plan(q)
            parts = (
                await self._arows(plan.statement, generic_plans=plan.summaries)
                if plan.statement is not None
                else []
            )
            totals = plan.combine(self, parts)
            self._memo_put(key, totals)
        return [r[0] for r in rows], _page_of(totals)

    async def aclose(self) -> None:
        """Close the async connections of the running loop (the API's shutdown calls it)."""
        for pool in self._async_pools.pop(asyncio.get_running_loop(), {}).values():
            await pool.close()

    def _json(self, value: Any) -> Any:
        return None if value is None else Jsonb(value)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._external is not None:
            self._external.close()
