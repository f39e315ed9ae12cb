"""The SQL both backends share: writes, derived tables (bots, leakage, daily summary) and reads.

:class:`SqlStore` implements :class:`~mevgraph.store.base.Store` once, in SQL that PostgreSQL and
DuckDB both accept; a backend supplies connections (:meth:`SqlStore._write`,
:meth:`SqlStore._read`) and the dialect's JSON parameter. Statements are written with ``:name``
parameters and translated per dialect.

Derived tables are *recomputed* from ``mev_opportunities``/``blocks`` for the keys a write touched
(never incremented), so a re-ingest or a reorg cannot leave them out of step.

Bots (one row per chain and ``bot_address``; nested findings excluded):
  * ``total_mev_extracted`` = sum of ``net_profit_usd`` (priced rows only);
    ``total_transactions`` = attacker txs; ``avg_profit_per_tx`` = the two divided;
    ``success_rate`` = % of its opportunities ``executed``;
  * ``first_seen``/``last_active``/``active_days`` from timestamped rows (UTC dates);
  * ``preferred_*`` = top 3 by number of opportunities (ties by name);
  * ``bot_type`` = the one family of its kinds (``rows.KIND_FAMILY``), else ``generalist``;
  * ``sophistication_score`` (0-100) = 20 x share of opportunities sent through a contract
    + 20 x share touching two or more pools + 20 x share paying a coinbase bribe
    + 20 x success rate + 5 x (distinct kinds - 1, at most 4);
  * ``uses_flashbots`` = some opportunity paid the coinbase directly (a bundle bribe);
    ``uses_private_mempool`` = NULL (unknown) unless a detector set ``details["private_mempool"]``.

Leakage (one row per protocol, chain and UTC date with at least one counted opportunity;
an opportunity counts in full for *every* protocol it touched, so rows of different protocols
must not be summed; blocks without a timestamp produce no row):
  * ``*_mev`` and ``total_mev_extracted`` = sums of ``mev_profit_usd`` (gross);
  * ``total_transactions`` = the protocol's txs that day (``blocks.protocol_txs``);
  * ``mev_affected_transactions`` = distinct attacker and victim txs of those opportunities,
    ``mev_affected_pct`` their share of ``total_transactions`` (capped at 100, NULL without it);
  * ``total_user_loss`` = sum of ``victim_loss_usd``, ``avg_loss_per_affected_tx`` = that / affected;
  * ``top_bot_addresses`` = top 5 bots by MEV.

Ratios are computed in double precision and cast to the column's DECIMAL in both dialects, so
they agree to the cent; sums of DECIMAL columns are exact.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from mevgraph.detection.base import Finding
from mevgraph.store.base import (
    SORT_COLUMNS,
    BlockRecord,
    BotQuery,
    IngestResult,
    OpportunityPage,
    OpportunityQuery,
)
from mevgraph.store.graph import EDGE_COLUMNS, GraphStore
from mevgraph.store.migrations import MIGRATIONS, statements
from mevgraph.store.rows import (
    OPPORTUNITY_COLUMNS,
    block_timestamp,
    bot_id,
    day_bounds,
    leakage_id,
    opportunity_row,
    utc_datetime,
)
from mevgraph.store.webhooks import WebhookStore

__all__ = ["Session", "SqlStore", "QueryCounter", "TABLES", "MAX_LIMIT", "BOT_SORT_COLUMNS"]

MAX_LIMIT = 1000
"""Largest page size the reads accept."""

# A list page leaves out ``details`` (the detector's free-form evidence, most of a row's bytes);
# :meth:`SqlStore.opportunity` returns it.
LIST_COLUMNS = (*(c for c in OPPORTUNITY_COLUMNS if c != "details"), "created_at")


JSON_COLUMNS = frozenset(
    {"profit_by_token", "details", "protocol_txs", "alternative_routes", "simulation_results"}
)

_UUID_COLUMNS = frozenset({"id"})
_TIME_COLUMNS = frozenset(
    {"timestamp", "created_at", "updated_at", "first_seen", "last_active", "ingested_at", "revoked_at"}
)

BOT_COLUMNS = (
    "id",
    "bot_address",
    "chain_id",
    "bot_name",
    "bot_type",
    "verified",
    "total_mev_extracted",
    "total_transactions",
    "success_rate",
    "avg_profit_per_tx",
    "first_seen",
    "last_active",
    "active_days",
    "preferred_opportunity_types",
    "preferred_protocols",
    "preferred_tokens",
    "sophistication_score",
    "uses_flashbots",
    "uses_private_mempool",
    "total_opportunities",
    "created_at",
    "updated_at",
)

LEAKAGE_COLUMNS = (
    "id",
    "protocol_id",
    "chain_id",
    "date",
    "total_mev_extracted",
    "sandwich_mev",
    "frontrun_mev",
    "backrun_mev",
    "arbitrage_mev",
    "liquidation_mev",
    "jit_mev",
    "total_transactions",
    "mev_affected_transactions",
    "mev_affected_pct",
    "total_user_loss",
    "avg_loss_per_affected_tx",
    "unique_bots",
    "top_bot_addresses",
    "created_at",
)

BLOCK_COLUMNS = (
    "chain_id",
    "number",
    "hash",
    "parent_hash",
    "timestamp",
    "tx_count",
    "protocol_txs",
    "ingested_at",
)

_SUMMARY = ("opportunities", "counted", "priced", "mev_profit_usd", "victim_loss_usd")

TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "mev_opportunities": ((*OPPORTUNITY_COLUMNS, "created_at"), "id"),
    "mev_bots": (BOT_COLUMNS, "chain_id, bot_address"),
    "protocol_mev_leakage": (LEAKAGE_COLUMNS, 'protocol_id, chain_id, "date"'),
    "blocks": (BLOCK_COLUMNS, "chain_id, number"),
    "mev_opportunity_daily": (
        ("chain_id", "opportunity_type", "day", *_SUMMARY),
        "chain_id, opportunity_type, day",
    ),
    "mev_opportunity_hourly": (
        ("chain_id", "opportunity_type", "hour", *_SUMMARY),
        "chain_id, opportunity_type, hour",
    ),
    "mev_bot_daily": (
        ("bot_address", "chain_id", "opportunity_type", "day", *_SUMMARY),
        "bot_address, chain_id, opportunity_type, day",
    ),
    "graph_edges": (
        EDGE_COLUMNS,
        "chain_id, block_number, tx_index, src, dst, tx_hash, amount_raw, edge_type, token",
    ),
}
"""Tables :meth:`SqlStore.dump` can read: columns and a total order."""

BOT_SORT_COLUMNS = frozenset(
    {
        "total_mev_extracted",
        "total_transactions",
        "success_rate",
        "avg_profit_per_tx",
        "first_seen",
        "last_active",
        "active_days",
        "sophistication_score",
        "total_opportunities",
    }
)

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _q(column: str) -> str:
    """Quote the two spec column names that are also SQL keywords."""
    return f'"{column}"' if column in ("timestamp", "date") else column


def _cols(columns: Sequence[str]) -> str:
    return ", ".join(_q(c) for c in columns)


class QueryCounter:
    """How many SQL statements a store has sent (thread-safe): a bulk insert or an
    ``executemany`` counts once, as it is one statement the database plans."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self._n += n

    @property
    def value(self) -> int:
        return self._n


def bind_sql(
    sql: str, params: dict[str, Any] | None, dialect: str, cache: dict[str, tuple[str, tuple[str, ...]]]
) -> tuple[str, dict[str, Any] | None]:
    """``sql`` with ``:name`` parameters in ``dialect``'s own style (``%(name)s`` for psycopg,
    ``$name`` for DuckDB; translated once per distinct text, kept in ``cache``) and the
    parameters it names."""
    hit = cache.get(sql)
    if hit is None:
        names = tuple(dict.fromkeys(_PARAM.findall(sql)))
        if dialect == "postgres":
            native = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
        else:
            native = _PARAM.sub(r"$\1", sql)
        hit = cache[sql] = (native, names)
    native, names = hit
    if not names:
        return native, None
    assert params is not None, f"parameters missing for {sql[:60]!r}"
    return native, {n: params[n] for n in names}


class Session:
    """One connection inside a transaction (writes) or in autocommit (reads).

    Subclasses implement :meth:`_run` for their driver; SQL arrives here with ``:name``
    parameters and is translated once per distinct text. Every statement is counted on the
    store's :class:`QueryCounter`."""

    dialect: str = ""
    _cache: dict[str, tuple[str, tuple[str, ...]]]
    _counter: QueryCounter | None = None

    def _bind(self, sql: str, params: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
        return bind_sql(sql, params, self.dialect, self._cache)

    def _run(self, sql: str, params: dict[str, Any] | None, fetch: bool) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _count(self) -> None:
        if self._counter is not None:
            self._counter.add()

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        native, bound = self._bind(sql, params)
        self._count()
        self._run(native, bound, False)

    def all(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        native, bound = self._bind(sql, params)
        self._count()
        return self._run(native, bound, True)

    def many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            self.execute(sql, r)

    def copy(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Bulk-insert ``rows`` (tuples in ``columns`` order); backends override it with their
        fast path (COPY, an Arrow scan)."""
        sql = f"INSERT INTO {table} ({_cols(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
        self.many(sql, [dict(zip(columns, r, strict=True)) for r in rows])


def _in(column: str, values: Sequence[Any], prefix: str, params: dict[str, Any]) -> str:
    """``column IN (:p0, :p1, ...)`` with the values bound (works in every dialect)."""
    names = []
    for i, v in enumerate(values):
        params[f"{prefix}{i}"] = v
        names.append(f":{prefix}{i}")
    return f"{column} IN ({', '.join(names)})"


def _naive_utc(dt: datetime | None) -> datetime | None:
    if dt is None or dt.tzinfo is None:
        return dt
    return dt.astimezone(UTC).replace(tzinfo=None)


def _day(ts: datetime | None) -> date | None:
    return ts.date() if ts is not None else None


@dataclass(slots=True)
class _Touched:
    """Keys of derived rows a write may have changed."""

    bots: set[str] = field(default_factory=set)
    days: set[date | None] = field(default_factory=set)
    leakage: set[tuple[str, date]] = field(default_factory=set)

    def opportunity(self, bot: str | None, ts: datetime | None, protocols: Sequence[str] | None) -> None:
        if bot is not None:
            self.bots.add(bot)
        day = _day(ts)
        self.days.add(day)
        if day is not None:
            self.leakage.update((p, day) for p in protocols or ())

    def block(self, ts: datetime | None, protocol_txs: dict[str, Any] | None) -> None:
        day = _day(ts)
        if day is not None:
            self.leakage.update((p, day) for p in protocol_txs or {})


_OPPORTUNITY_INSERT = (
    f"INSERT INTO mev_opportunities ({_cols(OPPORTUNITY_COLUMNS)}, created_at) "
    f"VALUES ({', '.join(':' + c for c in OPPORTUNITY_COLUMNS)}, :created_at)"
)

_BLOCK_INSERT = (
    f"INSERT INTO blocks ({_cols(BLOCK_COLUMNS)}) VALUES ({', '.join(':' + c for c in BLOCK_COLUMNS)})"
)

_SUMMARY_SELECT = """
INSERT INTO {table} ({key}chain_id, opportunity_type, {bucket}, opportunities, counted, priced,
  mev_profit_usd, victim_loss_usd)
SELECT {key}chain_id, opportunity_type, {expr},
  count(*),
  sum(CASE WHEN counted THEN 1 ELSE 0 END),
  sum(CASE WHEN counted AND mev_profit_usd IS NOT NULL THEN 1 ELSE 0 END),
  coalesce(sum(CASE WHEN counted THEN mev_profit_usd END), 0),
  coalesce(sum(CASE WHEN counted THEN victim_loss_usd END), 0)
FROM mev_opportunities
WHERE {where}
GROUP BY {key}chain_id, opportunity_type, {expr}
"""


def _daily_select(table: str, key: str, where: str) -> str:
    """Fill ``table`` (``mev_opportunity_daily``, or ``mev_bot_daily`` with ``key`` =
    ``"bot_address, "``) with the per-day sums of the rows matching ``where``."""
    return _SUMMARY_SELECT.format(
        table=table, key=key, bucket="day", expr='CAST("timestamp" AS DATE)', where=where
    )


def _hourly_select(where: str) -> str:
    """Fill ``mev_opportunity_hourly`` with the per-hour sums of the timed rows matching ``where``."""
    return _SUMMARY_SELECT.format(
        table="mev_opportunity_hourly",
        key="",
        bucket="hour",
        expr="date_trunc('hour', \"timestamp\")",
        where=f'"timestamp" IS NOT NULL AND {where}',
    )


_BOT_RECOMPUTE = """
INSERT INTO mev_bots (id, bot_address, chain_id, bot_name, bot_type, verified, total_mev_extracted,
  total_transactions, success_rate, avg_profit_per_tx, first_seen, last_active, active_days,
  preferred_opportunity_types, preferred_protocols, preferred_tokens, sophistication_score,
  uses_flashbots, uses_private_mempool, total_opportunities, created_at, updated_at)
WITH o AS (
  SELECT * FROM mev_opportunities WHERE chain_id = :chain AND bot_address = :bot AND counted
), a AS (
  SELECT count(*) AS n,
    coalesce(sum(attacker_tx_count), 0) AS ntx,
    sum(CASE WHEN status = 'executed' THEN 1 ELSE 0 END) AS nexec,
    coalesce(sum(net_profit_usd), 0) AS total,
    min("timestamp") AS first_seen,
    max("timestamp") AS last_active,
    count(DISTINCT CAST("timestamp" AS DATE)) AS days,
    sum(CASE WHEN contract IS NOT NULL THEN 1 ELSE 0 END) AS ncontract,
    sum(CASE WHEN coalesce(array_length(pools, 1), 0) >= 2 THEN 1 ELSE 0 END) AS nmulti,
    sum(CASE WHEN coinbase_transfer_wei > 0 THEN 1 ELSE 0 END) AS nbribe,
    count(DISTINCT opportunity_type) AS nkinds,
    count(DISTINCT bot_type) AS nfamilies,
    min(bot_type) AS family,
    bool_or(private_mempool) AS private
  FROM o
), tt AS (
  SELECT opportunity_type AS v, count(*) AS c FROM o GROUP BY opportunity_type ORDER BY c DESC, v LIMIT 3
), tp AS (
  SELECT v, count(*) AS c FROM (SELECT unnest(protocols) AS v FROM o) x GROUP BY v ORDER BY c DESC, v LIMIT 3
), tk AS (
  SELECT v, count(*) AS c FROM (SELECT unnest(token_addresses) AS v FROM o) x
  GROUP BY v ORDER BY c DESC, v LIMIT 3
)
SELECT :id, :bot, :chain, NULL,
  CASE WHEN nfamilies = 1 THEN family ELSE 'generalist' END,
  FALSE,
  total,
  ntx,
  CAST(100.0 * CAST(nexec AS DOUBLE PRECISION) / n AS DECIMAL(5, 2)),
  CASE WHEN ntx > 0 THEN CAST(CAST(total AS DOUBLE PRECISION) / ntx AS DECIMAL(20, 2)) END,
  first_seen,
  last_active,
  days,
  (SELECT array_agg(v ORDER BY c DESC, v) FROM tt),
  (SELECT array_agg(v ORDER BY c DESC, v) FROM tp),
  (SELECT array_agg(v ORDER BY c DESC, v) FROM tk),
  CAST(20.0 * CAST(ncontract + nmulti + nbribe + nexec AS DOUBLE PRECISION) / n
       + 5.0 * (LEAST(nkinds, 5) - 1) AS DECIMAL(5, 2)),
  nbribe > 0,
  private,
  n,
  CAST(:now AS TIMESTAMP),
  CAST(:now AS TIMESTAMP)
FROM a WHERE n > 0
"""

_LEAKAGE_RECOMPUTE = """
INSERT INTO protocol_mev_leakage (id, protocol_id, chain_id, "date", total_mev_extracted, sandwich_mev,
  frontrun_mev, backrun_mev, arbitrage_mev, liquidation_mev, jit_mev, total_transactions,
  mev_affected_transactions, mev_affected_pct, total_user_loss, avg_loss_per_affected_tx, unique_bots,
  top_bot_addresses, created_at)
WITH o AS (
  SELECT opportunity_type, mev_profit_usd, victim_loss_usd, bot_address, mev_tx_hashes, victim_txs
  FROM mev_opportunities
  WHERE chain_id = :chain AND counted AND "timestamp" >= :d0 AND "timestamp" < :d1
    AND CAST(:protocol AS VARCHAR) = ANY(protocols)
), tx AS (
  SELECT unnest(mev_tx_hashes) AS h FROM o UNION SELECT unnest(victim_txs) AS h FROM o
), b AS (
  SELECT sum(CAST(protocol_txs ->> CAST(:protocol AS VARCHAR) AS INTEGER)) AS n FROM blocks
  WHERE chain_id = :chain AND "timestamp" >= :d0 AND "timestamp" < :d1
), tb AS (
  SELECT bot_address AS v, coalesce(sum(mev_profit_usd), 0) AS m FROM o WHERE bot_address IS NOT NULL
  GROUP BY bot_address ORDER BY m DESC, v LIMIT 5
), a AS (
  SELECT count(*) AS n,
    coalesce(sum(mev_profit_usd), 0) AS total,
    coalesce(sum(CASE WHEN opportunity_type = 'sandwich' THEN mev_profit_usd END), 0) AS sandwich,
    coalesce(sum(CASE WHEN opportunity_type = 'frontrun' THEN mev_profit_usd END), 0) AS frontrun,
    coalesce(sum(CASE WHEN opportunity_type = 'backrun' THEN mev_profit_usd END), 0) AS backrun,
    coalesce(sum(CASE WHEN opportunity_type = 'arbitrage' THEN mev_profit_usd END), 0) AS arbitrage,
    coalesce(sum(CASE WHEN opportunity_type = 'liquidation' THEN mev_profit_usd END), 0) AS liquidation,
    coalesce(sum(CASE WHEN opportunity_type = 'jit' THEN mev_profit_usd END), 0) AS jit,
    sum(victim_loss_usd) AS loss,
    count(DISTINCT bot_address) AS bots
  FROM o
), x AS (
  SELECT count(*) AS affected FROM tx
)
SELECT :id, CAST(:protocol AS VARCHAR), :chain, CAST(:day AS DATE), a.total, a.sandwich, a.frontrun, a.backrun,
  a.arbitrage, a.liquidation, a.jit, b.n, x.affected,
  CASE WHEN b.n > 0 THEN CAST(LEAST(100.0, 100.0 * CAST(x.affected AS DOUBLE PRECISION) / b.n) AS DECIMAL(5, 2)) END,
  a.loss,
  CASE WHEN x.affected > 0 AND a.loss IS NOT NULL
       THEN CAST(CAST(a.loss AS DOUBLE PRECISION) / x.affected AS DECIMAL(20, 2)) END,
  a.bots,
  (SELECT array_agg(v ORDER BY m DESC, v) FROM tb),
  CAST(:now AS TIMESTAMP)
FROM a, b, x WHERE a.n > 0
"""

_TOTALS = """
SELECT count(*) AS n,
  sum(CASE WHEN counted THEN 1 ELSE 0 END) AS counted,
  sum(CASE WHEN counted AND mev_profit_usd IS NOT NULL THEN 1 ELSE 0 END) AS priced,
  coalesce(sum(CASE WHEN counted THEN mev_profit_usd END), 0) AS profit,
  coalesce(sum(CASE WHEN counted THEN victim_loss_usd END), 0) AS loss
FROM mev_opportunities WHERE {where}
"""

_DAILY_TOTALS = """
SELECT coalesce(sum(opportunities), 0) AS n, coalesce(sum(counted), 0) AS counted,
  coalesce(sum(priced), 0) AS priced, coalesce(sum(mev_profit_usd), 0) AS profit,
  coalesce(sum(victim_loss_usd), 0) AS loss
FROM {table} WHERE {where}
"""


def _floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(t: datetime) -> datetime:
    floor = _floor_hour(t)
    return floor if floor == t else floor + timedelta(hours=1)


_Sums = tuple[int, int, int, Decimal, Decimal]
"""(rows, counted rows, priced counted rows, sum of profit USD, sum of victim loss USD)."""


def _sum_row(r: Sequence[Any]) -> _Sums:
    return int(r[0] or 0), int(r[1] or 0), int(r[2] or 0), Decimal(r[3] or 0), Decimal(r[4] or 0)


@dataclass(slots=True)
class _TotalsPlan:
    """How a filter's totals are got: ``statement`` (``:name`` SQL and parameters, or None when
    the memo answers everything) returns one row ``(part, rows, counted, priced, profit,
    loss)`` per part, in part order; the totals are their sum plus ``days``, the whole-day part
    when the memo held it. When the memo did not, and keeps it (``days_key``), that part is the
    statement's part 0."""

    statement: tuple[str, dict[str, Any]] | None = None
    days: _Sums | None = None
    days_key: tuple[Any, ...] | None = None
    summaries: bool = True  # the parts read summaries and covering indexes (not ``min_profit``)

    def combine(self, store: SqlStore, rows: Sequence[Sequence[Any]]) -> _Sums:
        """The totals from the statement's rows."""
        parts = [_sum_row(r[1:]) for r in rows]
        if self.days is None and self.days_key is not None and parts:
            store._memo_put(self.days_key, parts[0])
        total = self.days or (0, 0, 0, Decimal(0), Decimal(0))
        for p in parts:
            total = (total[0] + p[0], total[1] + p[1], total[2] + p[2], total[3] + p[3], total[4] + p[4])
        return total


def _parts_statement(parts: Sequence[str]) -> str:
    """One statement returning the row of each totals query in ``parts``, tagged and ordered."""
    tagged = (
        f"SELECT {i} AS part, n, counted, priced, profit, loss FROM ({sql.strip()}) AS p{i}"
        for i, sql in enumerate(parts)
    )
    return " UNION ALL ".join(tagged) + " ORDER BY part"


def _page_of(totals: _Sums) -> OpportunityPage:
    """An :class:`OpportunityPage` (rows left empty) carrying ``totals``."""
    n, _, priced, profit, loss = totals
    return OpportunityPage(
        rows=[],
        total=n,
        total_mev_extracted=profit,
        total_victim_loss=loss,
        avg_profit_per_opportunity=(profit / priced).quantize(Decimal("0.01")) if priced else None,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class SqlStore(WebhookStore, GraphStore):
    """A :class:`~mevgraph.store.base.Store` over any SQL backend that provides sessions.

    ``summary_ttl`` (seconds) caches the count and totals of :meth:`opportunities` per filter
    set: a dashboard polling the same filters costs one indexed page read, not an aggregate.
    This process's own writes clear the cache; another process's writes show within the TTL
    (the page rows themselves are always read fresh). 0 disables it."""

    url: str
    dialect: str

    def __init__(self, summary_ttl: float = 1.0) -> None:
        self.summary_ttl = summary_ttl
        self.queries = QueryCounter()  # statements sent, for tests and query budgets
        self._summary_cache: dict[tuple[Any, ...], tuple[float, _Sums]] = {}
        self._summary_lock = threading.Lock()

    def _forget_summaries(self) -> None:
        with self._summary_lock:
            self._summary_cache.clear()

    # -- backend hooks -------------------------------------------------------------------------

    def _write(self) -> AbstractContextManager[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    def _lock(self, s: Session, name: str) -> None:
        """Serialize writers of ``name`` until the transaction ends (no-op if writes are serial)."""

    def _json(self, value: Any) -> Any:
        """``value`` as the driver's JSON parameter."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- schema --------------------------------------------------------------------------------

    def upgrade(self) -> list[str]:
        applied: list[str] = []
        for m in MIGRATIONS:
            with self._write() as s:
                self._lock(s, "mevgraph:migrations")
                s.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(version VARCHAR(64) PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
                )
                if s.all("SELECT 1 FROM schema_migrations WHERE version = :v", {"v": m.version}):
                    continue
                for stmt in statements(m, self.dialect):
                    s.execute(stmt)
                s.execute("INSERT INTO schema_migrations VALUES (:v, :t)", {"v": m.version, "t": _now()})
            applied.append(m.version)
        return applied

    # -- writes --------------------------------------------------------------------------------

    def ingest_block(self, block: BlockRecord, findings: list[Finding]) -> IngestResult:
        for f in findings:
            if f.chain_id != block.chain_id or f.block_number != block.number:
                raise ValueError(
                    f"finding {f.id} is of block {f.chain_id}:{f.block_number}, not {block.number}"
                )
        chain = str(block.chain_id)
        ts = block_timestamp(block, findings)
        now = _now()
        rows: dict[str, dict[str, Any]] = {}
        for f in findings:
            row = opportunity_row(f, block, ts)
            rows.setdefault(row["id"], row)  # a finding id is unique per block; keep the first
        with self._write() as s:
            self._lock(s, f"mevgraph:ingest:{chain}")
            stored = s.all(
                "SELECT number, hash FROM blocks WHERE chain_id = :chain AND (number = :n OR hash = :h)",
                {"chain": chain, "n": block.number, "h": block.hash},
            )
            if (block.number, block.hash) in stored:
                return IngestResult(written=0, unchanged=True)
            if stored and all(n != block.number for n, _ in stored):
                raise ValueError(f"block hash {block.hash} is already stored at another height")
            touched = _Touched()
            reorged: tuple[int, ...] = ()
            retracted: tuple[str, ...] = ()
            if stored:
                reorged, retracted = self._remove_from(s, chain, block.number, touched)
            s.execute(
                _BLOCK_INSERT,
                {
                    "chain_id": chain,
                    "number": block.number,
                    "hash": block.hash,
                    "parent_hash": block.parent_hash,
                    "timestamp": utc_datetime(ts),
                    "tx_count": block.tx_count,
                    "protocol_txs": self._json(dict(block.protocol_txs)),
                    "ingested_at": now,
                },
            )
            touched.block(utc_datetime(ts), block.protocol_txs)
            params = []
            for row in rows.values():
                touched.opportunity(row["bot_address"], row["timestamp"], row["protocols"])
                p = dict(row, created_at=now)
                p["profit_by_token"] = self._json(row["profit_by_token"])
                p["details"] = self._json(row["details"])
                params.append(p)
            s.many(_OPPORTUNITY_INSERT, params)
            self._write_edges(s, chain, block)
            self._recompute(s, chain, touched, now)
        self._forget_summaries()
        return IngestResult(written=len(rows), unchanged=False, reorged=reorged, retracted=retracted)

    def _remove_from(
        self, s: Session, chain: str, height: int, touched: _Touched
    ) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """Delete blocks ``>= height`` of ``chain`` and their opportunities (a reorg); returns
        the heights removed and the removed opportunities' ids."""
        args = {"chain": chain, "n": height}
        removed: list[str] = []
        for oid, bot, ts, protocols in s.all(
            'SELECT id, bot_address, "timestamp", protocols FROM mev_opportunities '
            "WHERE chain_id = :chain AND block_number >= :n ORDER BY block_number, id",
            args,
        ):
            removed.append(str(oid))
            touched.opportunity(bot, ts, protocols)
        heights = []
        for number, ts, ptx in s.all(
            'SELECT number, "timestamp", protocol_txs FROM blocks WHERE chain_id = :chain AND number >= :n '
            "ORDER BY number",
            args,
        ):
            heights.append(number)
            touched.block(ts, self._from_json(ptx))
        s.execute("DELETE FROM mev_opportunities WHERE chain_id = :chain AND block_number >= :n", args)
        s.execute("DELETE FROM graph_edges WHERE chain_id = :chain AND block_number >= :n", args)
        s.execute("DELETE FROM blocks WHERE chain_id = :chain AND number >= :n", args)
        return tuple(heights), tuple(removed)

    def _recompute(
        self, s: Session, chain: str, touched: _Touched, now: datetime, summaries: bool = True
    ) -> None:
        for bot in sorted(touched.bots):
            s.execute(
                "DELETE FROM mev_bots WHERE chain_id = :chain AND bot_address = :bot",
                {"chain": chain, "bot": bot},
            )
            s.execute(_BOT_RECOMPUTE, {"chain": chain, "bot": bot, "id": bot_id(chain, bot), "now": now})
        for protocol, day in sorted(touched.leakage):
            d0, d1 = day_bounds(day)
            key = {"chain": chain, "protocol": protocol, "day": day}
            s.execute(
                'DELETE FROM protocol_mev_leakage WHERE chain_id = :chain AND protocol_id = :protocol AND "date" = :day',
                key,
            )
            s.execute(
                _LEAKAGE_RECOMPUTE,
                {**key, "d0": d0, "d1": d1, "id": leakage_id(protocol, chain, day), "now": now},
            )
        if summaries:
            self._recompute_summaries(s, chain, touched)

    def _recompute_summaries(self, s: Session, chain: str, touched: _Touched) -> None:
        bots = sorted(touched.bots)
        for when_day in sorted(touched.days, key=lambda d: (d is None, d)):
            params: dict[str, Any] = {"chain": chain, "day": when_day}
            if when_day is None:
                when, day_is = '"timestamp" IS NULL', "day IS NULL"
            else:
                params["d0"], params["d1"] = day_bounds(when_day)
                when, day_is = '"timestamp" >= :d0 AND "timestamp" < :d1', "day = :day"
            s.execute(f"DELETE FROM mev_opportunity_daily WHERE chain_id = :chain AND {day_is}", params)
            s.execute(
                _daily_select("mev_opportunity_daily", "", f"chain_id = :chain AND {when}"),
                params,
            )
            if when_day is not None:  # rows without a time have no hour
                s.execute(
                    "DELETE FROM mev_opportunity_hourly WHERE chain_id = :chain AND hour >= :d0 AND hour < :d1",
                    params,
                )
                s.execute(_hourly_select(f"chain_id = :chain AND {when}"), params)
            if bots:
                in_bots = _in("bot_address", bots, "b", params)
                s.execute(
                    f"DELETE FROM mev_bot_daily WHERE chain_id = :chain AND {day_is} AND {in_bots}", params
                )
                s.execute(
                    _daily_select(
                        "mev_bot_daily",
                        "bot_address, ",
                        f"chain_id = :chain AND {when} AND {in_bots}",
                    ),
                    params,
                )

    def rebuild_derived(self) -> None:
        """Recompute bots, leakage and the daily and hourly summaries of every chain from the base tables
        (after a bulk load that bypassed :meth:`ingest_block`)."""
        now = _now()
        with self._write() as s:
            for table in (
                "mev_bots",
                "protocol_mev_leakage",
                "mev_opportunity_daily",
                "mev_opportunity_hourly",
                "mev_bot_daily",
            ):
                s.execute(f"DELETE FROM {table}")
            s.execute(_daily_select("mev_opportunity_daily", "", "TRUE"))
            s.execute(_hourly_select("TRUE"))
            s.execute(_daily_select("mev_bot_daily", "bot_address, ", "bot_address IS NOT NULL"))
            chains = [
                c for (c,) in s.all("SELECT DISTINCT chain_id FROM mev_opportunities ORDER BY chain_id")
            ]
            for chain in chains:
                self._lock(s, f"mevgraph:ingest:{chain}")
                touched = _Touched()
                args = {"chain": chain}
                for (bot,) in s.all(
                    "SELECT DISTINCT bot_address FROM mev_opportunities WHERE chain_id = :chain AND bot_address IS NOT NULL",
                    args,
                ):
                    touched.bots.add(bot)
                for protocol, day in s.all(
                    'SELECT DISTINCT p, d FROM (SELECT unnest(protocols) AS p, CAST("timestamp" AS DATE) AS d '
                    'FROM mev_opportunities WHERE chain_id = :chain AND counted AND "timestamp" IS NOT NULL) x',
                    args,
                ):
                    touched.leakage.add((protocol, day))
                self._recompute(s, chain, touched, now, summaries=False)
        self._forget_summaries()

    # -- reads ---------------------------------------------------------------------------------

    def _from_json(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def _row(self, columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
        """A result row as a dict: UUIDs as strings, timestamps as aware UTC, JSON parsed."""
        out = dict(zip(columns, values, strict=True))
        for c in columns:
            v = out[c]
            if v is None:
                continue
            if c in _UUID_COLUMNS:
                out[c] = str(v)
            elif c in _TIME_COLUMNS:
                out[c] = v.replace(tzinfo=UTC) if v.tzinfo is None else v
            elif c in JSON_COLUMNS and isinstance(v, str):
                out[c] = json.loads(v)
        return out

    def _filters(self, q: OpportunityQuery, params: dict[str, Any], *, time: bool = True) -> list[str]:
        conds = []
        if q.chains:
            conds.append(_in("chain_id", q.chains, "c", params))
        if q.opportunity_types:
            conds.append(_in("opportunity_type", q.opportunity_types, "t", params))
        if q.bot_address:
            conds.append("bot_address = :bot")
            params["bot"] = q.bot_address.lower()
        if q.min_profit is not None:
            conds.append("mev_profit_usd >= :min_profit")
            params["min_profit"] = Decimal(q.min_profit)
        if time and q.start_time is not None:
            conds.append('"timestamp" >= :start')
            params["start"] = _naive_utc(q.start_time)
        if time and q.end_time is not None:
            conds.append('"timestamp" < :end')
            params["end"] = _naive_utc(q.end_time)
        return conds

    def opportunities(self, q: OpportunityQuery) -> OpportunityPage:
        """A page of opportunities (``start_time`` inclusive, ``end_time`` exclusive), the count and
        summary over the whole filtered set (nested findings listed but not summed)."""
        rows, page = self._page(q, _cols(LIST_COLUMNS))
        page.rows = [self._row(LIST_COLUMNS, r) for r in rows]
        return page

    def opportunity_page_json(self, q: OpportunityQuery) -> tuple[list[str], OpportunityPage] | None:
        """:meth:`opportunities` with each row as JSON text in the API's wire form (the
        ``Opportunity`` model of :mod:`mevgraph.api.models`, ``details`` null): the column
        ``mev_opportunities.wire``, kept beside each row by a trigger (migration
        ``0005_wire_json``); ``page.rows`` stays empty. None when the backend keeps no such
        column (DuckDB): the caller then renders :meth:`opportunities` itself.

        Why: turning fifty rows into Python objects and back into JSON cost ~4 ms of API CPU per
        uncached page, and building them in the query ~1.1 ms of database CPU. The store's
        tests check that this JSON equals the Python rendering for every stored row."""
        if self.dialect != "postgres":
            return None
        rows, page = self._page(q, "wire")
        return [r[0] for r in rows], page

    def _page_statement(self, q: OpportunityQuery, select: str) -> tuple[str, dict[str, Any]]:
        """The SQL (``:name`` parameters) and parameters of one page of ``q``."""
        column = SORT_COLUMNS.get(q.sort_by)
        if column is None:
            raise ValueError(f"sort_by must be one of {sorted(SORT_COLUMNS)}")
        if q.sort_order not in ("asc", "desc"):
            raise ValueError("sort_order must be asc or desc")
        if q.page < 1 or not 1 <= q.limit <= MAX_LIMIT:
            raise ValueError(f"page must be >= 1 and limit in 1..{MAX_LIMIT}")
        params: dict[str, Any] = {"limit": q.limit, "offset": (q.page - 1) * q.limit}
        where = " AND ".join(self._filters(q, params)) or "TRUE"
        order = f"{_q(column)} {q.sort_order.upper()} NULLS LAST, id {q.sort_order.upper()}"
        sql = f"SELECT {select} FROM mev_opportunities WHERE {where} ORDER BY {order} LIMIT :limit OFFSET :offset"
        return sql, params

    def _page(self, q: OpportunityQuery, select: str) -> tuple[list[Any], OpportunityPage]:
        sql, params = self._page_statement(q, select)
        with self._read() as s:
            rows = s.all(sql, params)
            totals = self._cached_totals(s, q)
        return rows, _page_of(totals)

    # -- totals ------------------------------------------------------------------------------------
    # The count and sums of a filter are planned (:meth:`_totals_plan`: which statements, which
    # memo keys) apart from being run, so the synchronous path (:meth:`_cached_totals`) and the
    # PostgreSQL asynchronous one (``PostgresStore.aopportunity_page_json``) share the plan.

    def _memo_get(self, key: tuple[Any, ...] | None) -> _Sums | None:
        if key is None:
            return None
        now = time.monotonic()
        with self._summary_lock:
            hit = self._summary_cache.get(key)
        return hit[1] if hit is not None and hit[0] > now else None

    def _memo_put(self, key: tuple[Any, ...] | None, value: _Sums) -> None:
        if key is None:
            return
        with self._summary_lock:
            if len(self._summary_cache) >= 4096:
                self._summary_cache.clear()
            self._summary_cache[key] = (time.monotonic() + self.summary_ttl, value)

    def _totals_key(self, q: OpportunityQuery) -> tuple[Any, ...] | None:
        """The memo key of ``q``'s totals (None when the memo is off)."""
        if self.summary_ttl <= 0:
            return None
        return (
            tuple(q.chains or ()),
            tuple(q.opportunity_types or ()),
            (q.bot_address or "").lower(),
            q.min_profit,
            _naive_utc(q.start_time),
            _naive_utc(q.end_time),
        )

    def _cached_totals(self, s: Session, q: OpportunityQuery) -> _Sums:
        key = self._totals_key(q)
        hit = self._memo_get(key)
        if hit is not None:
            return hit
        value = self._totals(s, q)
        self._memo_put(key, value)
        return value

    def _totals(self, s: Session, q: OpportunityQuery) -> _Sums:
        """(rows, counted, priced, sum profit, sum victim loss) over the filtered set."""
        plan = self._totals_plan(q)
        return plan.combine(self, s.all(*plan.statement) if plan.statement is not None else [])

    def _totals_plan(self, q: OpportunityQuery) -> _TotalsPlan:
        """The statements whose results add up to ``q``'s totals.

        Whole UTC days come from ``mev_opportunity_daily`` (``mev_bot_daily`` for one bot); the
        partial days at the edges of a time window come from :meth:`_edge_parts`; all of it is
        one statement. The whole-day part is memoized on its own (windows that differ only
        inside their edge days, like a sliding "last 7 days", share it): when it is in the memo
        it is not asked again. A ``min_profit`` filter cannot be served by the summaries: it
        aggregates the table, through the profit index."""
        if q.min_profit is not None:
            params: dict[str, Any] = {}
            where = " AND ".join(self._filters(q, params)) or "TRUE"
            return _TotalsPlan((_parts_statement([_TOTALS.format(where=where)]), params), summaries=False)
        start, end = _naive_utc(q.start_time), _naive_utc(q.end_time)
        first = (
            None
            if start is None
            else (start.date() if start.time() == datetime.min.time() else start.date() + timedelta(days=1))
        )
        last = None if end is None else end.date()  # days before ``last`` are whole
        params = {}
        conds = []
        table = "mev_opportunity_daily"
        if q.bot_address:
            table = "mev_bot_daily"
            conds.append("bot_address = :bot")
            params["bot"] = q.bot_address.lower()
        summary_conds = self._summary_filters(q, params)
        conds += summary_conds
        edges: list[tuple[datetime, datetime]] = []  # partial days: [a, b)
        whole_days = not (first is not None and last is not None and first >= last)
        if not whole_days:
            assert start is not None and end is not None  # both bound the window here
            edges.append((start, end))  # the window lies within a day or two partial days
        else:
            if start is not None or end is not None:
                conds.append("day IS NOT NULL")
            if first is not None:
                conds.append("day >= :first")
                params["first"] = first
                if start is not None and start < datetime(first.year, first.month, first.day):
                    edges.append((start, datetime(first.year, first.month, first.day)))
            if last is not None:
                conds.append("day < :last")
                params["last"] = last
                if end is not None and end > datetime(last.year, last.month, last.day):
                    edges.append((datetime(last.year, last.month, last.day), end))
        plan = _TotalsPlan()
        parts: list[str] = []
        if whole_days:
            sql = _DAILY_TOTALS.format(table=table, where=" AND ".join(conds) or "TRUE")
            key = None
            if self.summary_ttl > 0:
                key = ("days", sql, tuple(sorted((k, str(v)) for k, v in params.items())))
            plan.days = self._memo_get(key)
            plan.days_key = key
            if plan.days is None:
                parts.append(sql)
        parts += self._edge_parts(q, edges, summary_conds, params)
        if parts:
            plan.statement = (_parts_statement(parts), params)
        return plan

    def _summary_filters(self, q: OpportunityQuery, params: dict[str, Any]) -> list[str]:
        """``q``'s chain and type conditions, the filters the summary tables can apply."""
        conds = []
        if q.chains:
            conds.append(_in("chain_id", q.chains, "c", params))
        if q.opportunity_types:
            conds.append(_in("opportunity_type", q.opportunity_types, "t", params))
        return conds

    def _edge_parts(
        self,
        q: OpportunityQuery,
        edges: Sequence[tuple[datetime, datetime]],
        hourly: Sequence[str],
        params: dict[str, Any],
    ) -> list[str]:
        """Totals queries (their parameters added to ``params``) summing ``q``'s rows in the
        partial days ``edges`` (``[a, b)`` each): whole UTC hours from
        ``mev_opportunity_hourly``, the minutes around them from the table through its covering
        indexes -- a half day of one type was ~700 index entries, now at most two partial
        hours. ``hourly`` are the conditions of :meth:`_summary_filters`. Rows of one bot come
        from the table alone (its index is by bot and time: the edges are few rows)."""
        filters = self._filters(q, params, time=False)
        parts: list[str] = []

        def table_part(a: datetime, b: datetime) -> None:
            i = len(params)
            params[f"a{i}"], params[f"b{i}"] = a, b
            parts.append(
                _TOTALS.format(
                    where=" AND ".join([*filters, f'"timestamp" >= :a{i}', f'"timestamp" < :b{i}'])
                )
            )

        for a, b in edges:
            if q.bot_address:
                table_part(a, b)
                continue
            # always the same three parts (some may be empty ranges): statements of one shape
            # are prepared and planned once per connection, and planning one cost more than
            # running it (0.2 vs 0.09 ms)
            ha, hb = _ceil_hour(a), _floor_hour(b)
            if ha >= hb:  # no whole hour inside: the table covers [a, b)
                ha = hb = b
            i = len(params)
            params[f"h{i}"], params[f"k{i}"] = ha, hb
            where = " AND ".join([*hourly, f"hour >= :h{i}", f"hour < :k{i}"])
            parts.append(_DAILY_TOTALS.format(table="mev_opportunity_hourly", where=where))
            table_part(a, ha)  # a <= ha <= hb <= b
            table_part(hb, b)
        return parts

    def opportunity(self, opportunity_id: str) -> dict[str, Any] | None:
        try:
            key = uuid.UUID(opportunity_id)
        except (ValueError, TypeError, AttributeError):
            return None
        columns = (*OPPORTUNITY_COLUMNS, "created_at")
        with self._read() as s:
            rows = s.all(f"SELECT {_cols(columns)} FROM mev_opportunities WHERE id = :id", {"id": key})
        return self._row(columns, rows[0]) if rows else None

    def bots(self, q: BotQuery) -> tuple[list[dict[str, Any]], int]:
        if q.sort_by not in BOT_SORT_COLUMNS:
            raise ValueError(f"sort_by must be one of {sorted(BOT_SORT_COLUMNS)}")
        if q.sort_order not in ("asc", "desc"):
            raise ValueError("sort_order must be asc or desc")
        if q.page < 1 or not 1 <= q.limit <= MAX_LIMIT:
            raise ValueError(f"page must be >= 1 and limit in 1..{MAX_LIMIT}")
        params: dict[str, Any] = {"limit": q.limit, "offset": (q.page - 1) * q.limit}
        conds = []
        if q.chains:
            conds.append(_in("chain_id", q.chains, "c", params))
        if q.bot_type:
            conds.append("bot_type = :bot_type")
            params["bot_type"] = q.bot_type
        where = " AND ".join(conds) or "TRUE"
        d = q.sort_order.upper()
        with self._read() as s:
            rows = s.all(
                f"SELECT {_cols(BOT_COLUMNS)} FROM mev_bots WHERE {where} "
                f"ORDER BY {q.sort_by} {d} NULLS LAST, bot_address {d}, chain_id {d} LIMIT :limit OFFSET :offset",
                params,
            )
            total = s.all(f"SELECT count(*) FROM mev_bots WHERE {where}", params)[0][0]
        return [self._row(BOT_COLUMNS, r) for r in rows], int(total)

    def bot(self, address: str, chain_id: str | None = None) -> dict[str, Any] | None:
        params: dict[str, Any] = {"a": address.lower()}
        cond = "bot_address = :a"
        if chain_id is not None:
            cond += " AND chain_id = :c"
            params["c"] = str(chain_id)
        with self._read() as s:
            rows = s.all(
                f"SELECT {_cols(BOT_COLUMNS)} FROM mev_bots WHERE {cond} "
                "ORDER BY total_mev_extracted DESC NULLS LAST, chain_id LIMIT 1",
                params,
            )
        return self._row(BOT_COLUMNS, rows[0]) if rows else None

    def leakage(
        self, protocol: str | None, chain: str | None, start: date | None, end: date | None
    ) -> list[dict[str, Any]]:
        """Leakage rows, newest first; ``start`` and ``end`` are inclusive dates."""
        params: dict[str, Any] = {}
        conds = []
        if protocol is not None:
            conds.append("protocol_id = :p")
            params["p"] = protocol
        if chain is not None:
            conds.append("chain_id = :c")
            params["c"] = str(chain)
        if start is not None:
            conds.append('"date" >= :start')
            params["start"] = start
        if end is not None:
            conds.append('"date" <= :end')
            params["end"] = end
        where = " AND ".join(conds) or "TRUE"
        with self._read() as s:
            rows = s.all(
                f"SELECT {_cols(LEAKAGE_COLUMNS)} FROM protocol_mev_leakage WHERE {where} "
                'ORDER BY "date" DESC, protocol_id, chain_id',
                params,
            )
        return [self._row(LEAKAGE_COLUMNS, r) for r in rows]

    def blocks(self, chain_id: int) -> list[tuple[int, str]]:
        with self._read() as s:
            rows = s.all(
                "SELECT number, hash FROM blocks WHERE chain_id = :c ORDER BY number", {"c": str(chain_id)}
            )
        return [(int(n), str(h)) for n, h in rows]

    def dump(self, table: str) -> list[dict[str, Any]]:
        """Every row of ``table`` (one of :data:`TABLES`) in a total order -- for tests and audits."""
        columns, order = TABLES[table]
        with self._read() as s:
            rows = s.all(f"SELECT {_cols(columns)} FROM {table} ORDER BY {order}")
        return [self._row(columns, r) for r in rows]

    # -- API keys ------------------------------------------------------------------------------

    def create_api_key(self, scopes: list[str], name: str | None = None) -> str:
        secret = "mg_" + secrets.token_urlsafe(24)
        with self._write() as s:
            s.execute(
                "INSERT INTO api_keys (id, key_hash, scopes, name, created_at) VALUES (:id, :h, :scopes, :name, :t)",
                {
                    "id": uuid.uuid4(),
                    "h": _key_hash(secret),
                    "scopes": list(scopes),
                    "name": name,
                    "t": _now(),
                },
            )
        return secret

    def api_key_scopes(self, key: str) -> list[str] | None:
        with self._read() as s:
            rows = s.all(
                "SELECT scopes FROM api_keys WHERE key_hash = :h AND revoked_at IS NULL",
                {"h": _key_hash(key)},
            )
        return list(rows[0][0]) if rows else None

    def revoke_api_key(self, key: str) -> bool:
        """Revoke ``key``; False if it was unknown or already revoked."""
        with self._write() as s:
            h = {"h": _key_hash(key), "t": _now()}
            if not s.all("SELECT 1 FROM api_keys WHERE key_hash = :h AND revoked_at IS NULL", h):
                return False
            s.execute("UPDATE api_keys SET revoked_at = :t WHERE key_hash = :h", h)
        return True

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
