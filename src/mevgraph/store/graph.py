"""Investigator reads: keyset pages, the stored property graph and batched lookups.

Mixed into :class:`~mevgraph.store.aggregates.SqlStore` (one SQL text for PostgreSQL and DuckDB).
Every batched method takes *many* keys and costs **one** SQL statement, whatever the number of
keys: a GraphQL DataLoader collects the keys of one level of a nested query and calls it once,
so a query's statement count is bounded by its depth, not by its width.

Keyset pagination: a cursor is ``base64url(JSON [sort tag, typed sort key])`` -- opaque to
clients, checked on the way back in (another sort's cursor, or garbage, is a ``ValueError``).
Lists are ordered with NULLs last and a unique tie-break (``id``; for bots ``bot_address,
chain_id``), so "after this key" is a plain predicate and a page is one index range in
PostgreSQL, never an OFFSET.

Neighbourhoods walk ``graph_edges`` in both directions with a recursive CTE (``UNION``: each
(node, distance) is expanded once). Its cost grows with the hubs it meets -- a router or WETH at
distance 2 has every tx that touched it at distance 3 -- which is why ``hops`` stops at
:data:`~mevgraph.store.base.MAX_HOPS` and the API bounds ``first``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mevgraph.core.types import ETH
from mevgraph.store.base import (
    GRAPH_EDGE_TYPES,
    MAX_HOPS,
    SORT_COLUMNS,
    BlockRecord,
    BotQuery,
    Funding,
    Neighbour,
    OpportunityQuery,
    Slice,
    Totals,
)

if TYPE_CHECKING:
    from mevgraph.store.aggregates import Session

__all__ = ["GraphStore", "encode_cursor", "decode_cursor", "EDGE_COLUMNS", "TOP_KINDS", "MAX_FIRST"]

MAX_FIRST = 1000
"""Largest page or per-key list the batched reads return."""

EDGE_COLUMNS = (
    "chain_id",
    "block_number",
    "tx_index",
    "tx_hash",
    "edge_type",
    "src",
    "dst",
    "protocol",
    "token",
    "amount_raw",
)

TOP_KINDS = {"pools": "pools", "tokens": "token_addresses", "protocols": "protocols", "victims": "victim_txs"}
"""What :meth:`GraphStore.bot_top` ranks, and the array column each comes from."""

_POOL_EDGES = ("SWAPPED_ON", "ADDED_LIQUIDITY", "REMOVED_LIQUIDITY", "COLLECTED_FEES")
_STATS_COLUMNS = {"pool": "pools", "protocol": "protocols"}
_KINDS = ("sandwich", "frontrun", "backrun", "arbitrage", "liquidation", "jit")
_CENT = Decimal("0.01")


# -- cursors ------------------------------------------------------------------------------------


def _typed(v: Any) -> list[Any]:
    if v is None:
        return ["n", None]
    if isinstance(v, bool):
        raise TypeError("booleans are not sort keys")
    if isinstance(v, Decimal):
        return ["d", str(v)]
    if isinstance(v, datetime):
        return ["t", (v.astimezone(UTC) if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()]
    if isinstance(v, int):
        return ["i", str(v)]
    if isinstance(v, uuid.UUID):
        return ["u", str(v)]
    return ["s", str(v)]


def _untyped(t: Any) -> Any:
    kind, text = t
    if kind == "n":
        return None
    if not isinstance(text, str):
        raise ValueError("malformed cursor")
    if kind == "d":
        return Decimal(text)
    if kind == "t":
        return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)
    if kind == "i":
        return int(text)
    if kind == "u":
        return uuid.UUID(text)
    if kind == "s":
        return text
    raise ValueError("malformed cursor")


def encode_cursor(tag: str, values: Sequence[Any]) -> str:
    """An opaque cursor for the sort ``tag`` positioned at the sort key ``values``."""
    raw = json.dumps([tag, [_typed(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, tag: str, width: int) -> list[Any]:
    """The sort key of ``cursor``; ``ValueError`` unless it is a cursor of sort ``tag``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got, values = json.loads(raw)
        if got != tag or not isinstance(values, list) or len(values) != width:
            raise ValueError
        return [_untyped(v) for v in values]
    except ValueError:
        raise ValueError("after: not a cursor of this list and sort order") from None
    except (TypeError, KeyError, IndexError, UnicodeDecodeError, AttributeError):
        raise ValueError("after: not a cursor of this list and sort order") from None


def _keyset(columns: Sequence[str], values: Sequence[Any], desc: bool, params: dict[str, Any]) -> str:
    """Rows strictly after ``values`` in ``ORDER BY columns`` (all ``desc`` or all ascending,
    NULLs last; only the first column may be NULL)."""
    op = "<" if desc else ">"
    tail = ""
    for i in range(len(columns) - 1, 0, -1):
        params[f"k{i}"] = values[i]
        cond = f"{columns[i]} {op} :k{i}"
        tail = f"({cond} OR ({columns[i]} = :k{i} AND {tail}))" if tail else f"({cond})"
    first = columns[0]
    if values[0] is None:
        return f"({first} IS NULL AND {tail})"
    params["k0"] = values[0]
    return f"({first} {op} :k0 OR {first} IS NULL OR ({first} = :k0 AND {tail}))"


# -- SQL helpers --------------------------------------------------------------------------------


def _in(column: str, values: Sequence[Any], prefix: str, params: dict[str, Any]) -> str:
    names = []
    for i, v in enumerate(values):
        params[f"{prefix}{i}"] = v
        names.append(f":{prefix}{i}")
    return f"{column} IN ({', '.join(names)})" if names else "FALSE"


def _pairs(keys: Sequence[tuple[str, str]], column: str, params: dict[str, Any]) -> str:
    """``(chain_id, column) IN keys``, written so PostgreSQL can use ``column``'s index."""
    values = sorted({k[1] for k in keys})
    chains = sorted({k[0] for k in keys})
    if len(chains) == 1:
        params["pc"] = chains[0]
        return f"chain_id = :pc AND {_in(column, values, 'pv', params)}"
    ors = []
    for i, (c, v) in enumerate(sorted(set(keys))):
        params[f"qc{i}"], params[f"qv{i}"] = c, v
        ors.append(f"(chain_id = :qc{i} AND {column} = :qv{i})")
    return f"{_in(column, values, 'pv', params)} AND ({' OR '.join(ors)})"


def _array(values: Sequence[str], prefix: str, params: dict[str, Any]) -> str:
    names = []
    for i, v in enumerate(values):
        params[f"{prefix}{i}"] = v
        names.append(f":{prefix}{i}")
    return f"CAST(ARRAY[{', '.join(names)}] AS VARCHAR[])"


def _first(first: int) -> int:
    if not 1 <= first <= MAX_FIRST:
        raise ValueError(f"first must be in 1..{MAX_FIRST}")
    return first


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(v)


class GraphStore:
    """The investigator reads of :class:`~mevgraph.store.base.Store`; see the module doc."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Session]: ...

        def _row(self, columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]: ...

        def _filters(
            self, q: OpportunityQuery, params: dict[str, Any], *, time: bool = True
        ) -> list[str]: ...

        def _cached_totals(
            self, s: Session, q: OpportunityQuery
        ) -> tuple[int, int, int, Decimal, Decimal]: ...

    # -- writes (inside ingest_block's transaction) --------------------------------------------

    def _write_edges(self, s: Session, chain: str, block: BlockRecord) -> None:
        if not block.edges:
            return
        s.copy(
            "graph_edges",
            EDGE_COLUMNS,
            [
                (
                    chain,
                    block.number,
                    e.tx_index,
                    e.tx_hash,
                    e.edge_type,
                    e.src,
                    e.dst,
                    e.protocol,
                    e.token,
                    None if e.amount_raw is None else str(e.amount_raw),
                )
                for e in block.edges
            ],
        )

    # -- keyset pages --------------------------------------------------------------------------

    def _opportunity_order(self, q: OpportunityQuery) -> tuple[str, bool]:
        column = SORT_COLUMNS.get(q.sort_by)
        if column is None:
            raise ValueError(f"sort_by must be one of {sorted(SORT_COLUMNS)}")
        if q.sort_order not in ("asc", "desc"):
            raise ValueError("sort_order must be asc or desc")
        if not 1 <= q.limit <= MAX_FIRST:
            raise ValueError(f"limit must be in 1..{MAX_FIRST}")
        return ('"timestamp"' if column == "timestamp" else column), q.sort_order == "desc"

    def _opportunity_page(self, rows: list[dict[str, Any]], q: OpportunityQuery, limit: int) -> Slice:
        column = SORT_COLUMNS[q.sort_by]
        tag = f"o:{q.sort_by}:{q.sort_order}"
        page = rows[:limit]
        return Slice(
            rows=page,
            cursors=[encode_cursor(tag, [r[column], uuid.UUID(r["id"])]) for r in page],
            has_next=len(rows) > limit,
        )

    def opportunity_slice(self, q: OpportunityQuery, after: str | None = None) -> Slice:
        from mevgraph.store.aggregates import LIST_COLUMNS, _cols

        column, desc = self._opportunity_order(q)
        params: dict[str, Any] = {"limit": q.limit + 1}
        conds = self._filters(q, params)
        if after is not None:
            key = decode_cursor(after, f"o:{q.sort_by}:{q.sort_order}", 2)
            conds.append(_keyset([column, "id"], key, desc, params))
        d = "DESC" if desc else "ASC"
        with self._read() as s:
            rows = s.all(
                f"SELECT {_cols(LIST_COLUMNS)} FROM mev_opportunities WHERE {' AND '.join(conds) or 'TRUE'} "
                f"ORDER BY {column} {d} NULLS LAST, id {d} LIMIT :limit",
                params,
            )
        return self._opportunity_page([self._row(LIST_COLUMNS, r) for r in rows], q, q.limit)

    def opportunity_totals(self, q: OpportunityQuery) -> Totals:
        with self._read() as s:
            n, _, priced, profit, loss = self._cached_totals(s, q)
        return Totals(
            total=n,
            total_mev_extracted=profit,
            total_victim_loss=loss,
            avg_profit_per_opportunity=(profit / priced).quantize(_CENT) if priced else None,
        )

    def _bot_filters(self, q: BotQuery, params: dict[str, Any]) -> list[str]:
        from mevgraph.store.aggregates import BOT_SORT_COLUMNS

        if q.sort_by not in BOT_SORT_COLUMNS:
            raise ValueError(f"sort_by must be one of {sorted(BOT_SORT_COLUMNS)}")
        if q.sort_order not in ("asc", "desc"):
            raise ValueError("sort_order must be asc or desc")
        conds = []
        if q.chains:
            conds.append(_in("chain_id", q.chains, "c", params))
        if q.bot_type:
            conds.append("bot_type = :bot_type")
            params["bot_type"] = q.bot_type
        return conds

    def bot_slice(self, q: BotQuery, after: str | None = None) -> Slice:
        from mevgraph.store.aggregates import BOT_COLUMNS, _cols

        if not 1 <= q.limit <= MAX_FIRST:
            raise ValueError(f"limit must be in 1..{MAX_FIRST}")
        params: dict[str, Any] = {"limit": q.limit + 1}
        conds = self._bot_filters(q, params)
        tag = f"b:{q.sort_by}:{q.sort_order}"
        desc = q.sort_order == "desc"
        if after is not None:
            key = decode_cursor(after, tag, 3)
            conds.append(_keyset([q.sort_by, "bot_address", "chain_id"], key, desc, params))
        d = "DESC" if desc else "ASC"
        with self._read() as s:
            raw = s.all(
                f"SELECT {_cols(BOT_COLUMNS)} FROM mev_bots WHERE {' AND '.join(conds) or 'TRUE'} "
                f"ORDER BY {q.sort_by} {d} NULLS LAST, bot_address {d}, chain_id {d} LIMIT :limit",
                params,
            )
        rows = [self._row(BOT_COLUMNS, r) for r in raw]
        page = rows[: q.limit]
        return Slice(
            rows=page,
            cursors=[encode_cursor(tag, [r[q.sort_by], r["bot_address"], r["chain_id"]]) for r in page],
            has_next=len(rows) > q.limit,
        )

    def bot_count(self, q: BotQuery) -> int:
        params: dict[str, Any] = {}
        conds = self._bot_filters(q, params)
        with self._read() as s:
            return int(
                s.all(f"SELECT count(*) FROM mev_bots WHERE {' AND '.join(conds) or 'TRUE'}", params)[0][0]
            )

    # -- batched lookups -----------------------------------------------------------------------

    def opportunities_by_ids(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        from mevgraph.store.aggregates import _cols
        from mevgraph.store.rows import OPPORTUNITY_COLUMNS

        keys = []
        for i in dict.fromkeys(ids):
            try:
                keys.append(uuid.UUID(str(i)))
            except ValueError:
                continue
        if not keys:
            return {}
        columns = (*OPPORTUNITY_COLUMNS, "created_at")
        params: dict[str, Any] = {}
        with self._read() as s:
            rows = s.all(
                f"SELECT {_cols(columns)} FROM mev_opportunities WHERE {_in('id', keys, 'i', params)}", params
            )
        out = [self._row(columns, r) for r in rows]
        return {r["id"]: r for r in out}

    def bots_by_address(
        self, keys: list[tuple[str | None, str]]
    ) -> dict[tuple[str | None, str], dict[str, Any]]:
        from mevgraph.store.aggregates import BOT_COLUMNS, _cols

        if not keys:
            return {}
        params: dict[str, Any] = {}
        addresses = sorted({a.lower() for _, a in keys})
        with self._read() as s:
            raw = s.all(
                f"SELECT {_cols(BOT_COLUMNS)} FROM mev_bots WHERE {_in('bot_address', addresses, 'a', params)} "
                "ORDER BY bot_address, total_mev_extracted DESC NULLS LAST, chain_id",
                params,
            )
        rows = [self._row(BOT_COLUMNS, r) for r in raw]
        out: dict[tuple[str | None, str], dict[str, Any]] = {}
        for chain, address in keys:
            a = address.lower()
            hit = next((r for r in rows if r["bot_address"] == a and chain in (None, r["chain_id"])), None)
            if hit is not None:
                out[(chain, address)] = hit
        return out

    def bot_opportunities(
        self, keys: list[tuple[str, str]], q: OpportunityQuery, after: str | None = None
    ) -> dict[tuple[str, str], Slice]:
        from mevgraph.store.aggregates import LIST_COLUMNS, _cols

        column, desc = self._opportunity_order(q)
        if not keys:
            return {}
        params: dict[str, Any] = {"limit": q.limit + 1}
        base = OpportunityQuery(
            opportunity_types=q.opportunity_types,
            min_profit=q.min_profit,
            start_time=q.start_time,
            end_time=q.end_time,
        )
        conds = [_pairs(keys, "bot_address", params), *self._filters(base, params)]
        if after is not None:
            key = decode_cursor(after, f"o:{q.sort_by}:{q.sort_order}", 2)
            conds.append(_keyset([column, "id"], key, desc, params))
        d = "DESC" if desc else "ASC"
        with self._read() as s:
            raw = s.all(
                f"SELECT * FROM (SELECT {_cols(LIST_COLUMNS)}, row_number() OVER ("
                f"PARTITION BY chain_id, bot_address ORDER BY {column} {d} NULLS LAST, id {d}) AS rn "
                f"FROM mev_opportunities WHERE {' AND '.join(conds)}) x WHERE rn <= :limit "
                "ORDER BY chain_id, bot_address, rn",
                params,
            )
        per: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in raw:
            row = self._row(LIST_COLUMNS, r[:-1])
            per.setdefault((row["chain_id"], row["bot_address"]), []).append(row)
        return {k: self._opportunity_page(per.get(k, []), q, q.limit) for k in keys}

    def bot_accounts(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
        if not keys:
            return {}
        params: dict[str, Any] = {}
        with self._read() as s:
            raw = s.all(
                "SELECT DISTINCT chain_id, bot_address, contract, searcher FROM mev_opportunities "
                f"WHERE {_pairs(keys, 'bot_address', params)} ORDER BY 1, 2, 3, 4",
                params,
            )
        out: dict[tuple[str, str], tuple[list[str], list[str]]] = {k: ([], []) for k in keys}
        for chain, bot, contract, searcher in raw:
            contracts, eoas = out.setdefault((chain, bot), ([], []))
            if contract is not None and contract not in contracts:
                contracts.append(contract)
            if searcher is not None and searcher not in eoas:
                eoas.append(searcher)
        return out

    def bot_top(
        self, keys: list[tuple[str, str]], what: str, first: int
    ) -> dict[tuple[str, str], list[dict[str, Any]]]:
        column = TOP_KINDS.get(what)
        if column is None:
            raise ValueError(f"what must be one of {sorted(TOP_KINDS)}")
        params: dict[str, Any] = {"first": _first(first)}
        if not keys:
            return {}
        inner = (
            f"SELECT chain_id, bot_address, unnest({column}) AS v, mev_profit_usd FROM mev_opportunities "
            f"WHERE counted AND {_pairs(keys, 'bot_address', params)}"
        )
        if what == "victims":  # victim txs -> their senders
            inner = (
                f"SELECT o.chain_id, o.bot_address, e.src AS v, o.mev_profit_usd FROM ({inner}) o "
                "JOIN graph_edges e ON e.edge_type = 'SENT' AND e.dst = o.v AND e.chain_id = o.chain_id"
            )
        with self._read() as s:
            raw = s.all(
                "SELECT chain_id, bot_address, v, n, usd FROM (SELECT chain_id, bot_address, v, n, usd, "
                "row_number() OVER (PARTITION BY chain_id, bot_address ORDER BY n DESC, v) AS rk FROM ("
                "SELECT chain_id, bot_address, v, count(*) AS n, sum(mev_profit_usd) AS usd "
                f"FROM ({inner}) i WHERE v IS NOT NULL GROUP BY chain_id, bot_address, v) g) r "
                "WHERE rk <= :first ORDER BY chain_id, bot_address, rk",
                params,
            )
        out: dict[tuple[str, str], list[dict[str, Any]]] = {k: [] for k in keys}
        for chain, bot, v, n, usd in raw:
            out.setdefault((chain, bot), []).append(
                {"value": v, "opportunities": int(n), "mev_profit_usd": _dec(usd)}
            )
        return out

    def bot_daily(
        self, keys: list[tuple[str, str]], start: date | None, end: date | None
    ) -> dict[tuple[str, str], list[dict[str, Any]]]:
        if not keys:
            return {}
        params: dict[str, Any] = {}
        conds = ["counted", '"timestamp" IS NOT NULL', _pairs(keys, "bot_address", params)]
        if start is not None:
            conds.append('"timestamp" >= :start')
            params["start"] = datetime(start.year, start.month, start.day)
        if end is not None:
            conds.append('"timestamp" < :end')
            params["end"] = datetime(end.year, end.month, end.day) + timedelta(days=1)
        with self._read() as s:
            raw = s.all(
                'SELECT chain_id, bot_address, CAST("timestamp" AS DATE) AS day, count(*), '
                "sum(CASE WHEN mev_profit_usd IS NOT NULL THEN 1 ELSE 0 END), sum(mev_profit_usd), "
                "sum(net_profit_usd), sum(victim_loss_usd) FROM mev_opportunities "
                f"WHERE {' AND '.join(conds)} GROUP BY chain_id, bot_address, day ORDER BY 1, 2, 3",
                params,
            )
        out: dict[tuple[str, str], list[dict[str, Any]]] = {k: [] for k in keys}
        for chain, bot, day, n, priced, gross, net, loss in raw:
            out.setdefault((chain, bot), []).append(
                {
                    "day": day,
                    "opportunities": int(n),
                    "priced": int(priced or 0),
                    "mev_profit_usd": _dec(gross),
                    "net_profit_usd": _dec(net),
                    "victim_loss_usd": _dec(loss),
                }
            )
        return out

    def tx_senders(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        if not keys:
            return {}
        params: dict[str, Any] = {}
        with self._read() as s:
            raw = s.all(
                "SELECT chain_id, dst, src FROM graph_edges "
                f"WHERE edge_type = 'SENT' AND {_pairs(keys, 'dst', params)}",
                params,
            )
        return {(c, tx): src for c, tx, src in raw}

    def funders(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Funding]:
        if not keys:
            return {}
        params: dict[str, Any] = {"eth": ETH}
        with self._read() as s:
            raw = s.all(
                "SELECT chain_id, dst, src, tx_hash, block_number, amount_raw FROM ("
                "SELECT chain_id, dst, src, tx_hash, block_number, amount_raw, row_number() OVER ("
                "PARTITION BY chain_id, dst ORDER BY block_number, tx_index NULLS LAST, src, tx_hash) AS rn "
                "FROM graph_edges WHERE edge_type = 'TRANSFERRED' AND token = :eth AND src <> dst AND "
                f"{_pairs(keys, 'dst', params)}) x WHERE rn = 1",
                params,
            )
        return {
            (c, dst): Funding(funder=src, tx_hash=tx, block_number=int(n), amount_wei=int(amount or 0))
            for c, dst, src, tx, n, amount in raw
        }

    def neighbours(
        self, keys: list[tuple[str, str]], hops: int, edge_types: list[str] | None, first: int
    ) -> dict[tuple[str, str], list[Neighbour]]:
        if not 1 <= hops <= MAX_HOPS:
            raise ValueError(f"hops must be in 1..{MAX_HOPS}")
        unknown = sorted(set(edge_types or ()) - set(GRAPH_EDGE_TYPES))
        if unknown:
            raise ValueError(f"unknown edge types {unknown}; known: {', '.join(GRAPH_EDGE_TYPES)}")
        params: dict[str, Any] = {"hops": hops, "first": _first(first)}
        if not keys:
            return {}
        roots = []
        for i, (chain, address) in enumerate(sorted(set(keys))):
            params[f"rc{i}"], params[f"ra{i}"] = chain, address.lower()
            roots.append(f"(CAST(:rc{i} AS VARCHAR), CAST(:ra{i} AS VARCHAR))")
        types = f" AND {_in('g.edge_type', edge_types, 't', params)}" if edge_types else ""
        with self._read() as s:
            raw = s.all(
                "WITH RECURSIVE walk(chain, root, node, hops, edge_type) AS ("
                "SELECT chain, root, root, CAST(0 AS INTEGER), CAST(NULL AS VARCHAR) "
                f"FROM (VALUES {', '.join(roots)}) r(chain, root) "
                "UNION "
                "SELECT w.chain, w.root, CAST(CASE WHEN g.src = w.node THEN g.dst ELSE g.src END AS VARCHAR), "
                "w.hops + 1, CAST(g.edge_type AS VARCHAR) "
                "FROM walk w JOIN graph_edges g ON (g.src = w.node OR g.dst = w.node) AND g.chain_id = w.chain "
                f"WHERE w.hops < :hops{types}"
                "), best AS ("
                "SELECT chain, root, node, min(hops) AS hops FROM walk WHERE node <> root "
                "GROUP BY chain, root, node"
                "), ranked AS ("
                "SELECT chain, root, node, hops, row_number() OVER (PARTITION BY chain, root ORDER BY hops, node) AS rk "
                "FROM best"
                ") SELECT DISTINCT r.chain, r.root, r.node, r.hops, r.rk, w.edge_type FROM ranked r "
                "JOIN walk w ON w.chain = r.chain AND w.root = r.root AND w.node = r.node AND w.hops = r.hops "
                "WHERE r.rk <= :first ORDER BY r.chain, r.root, r.rk, w.edge_type",
                params,
            )
        lower = {(c, a.lower()): (c, a) for c, a in keys}
        grouped: dict[tuple[str, str], dict[str, tuple[int, list[str]]]] = {}
        for chain, root, node, n, _, edge_type in raw:
            per = grouped.setdefault(lower[(chain, root)], {})
            per.setdefault(node, (int(n), []))[1].append(edge_type)
        out: dict[tuple[str, str], list[Neighbour]] = {k: [] for k in keys}
        for key, nodes in grouped.items():
            out[key] = [
                Neighbour(
                    node=node,
                    kind="transaction" if len(node) == 66 else "address",
                    hops=n,
                    edge_types=tuple(types_),
                )
                for node, (n, types_) in nodes.items()
            ]
        return out

    def pool_info(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        if not keys:
            return {}
        params: dict[str, Any] = {}
        on_pool = _in("edge_type", _POOL_EDGES, "e", params)
        with self._read() as s:
            raw = s.all(
                "SELECT chain_id, dst, 'protocol', protocol, count(*) FROM graph_edges "
                f"WHERE {on_pool} AND protocol IS NOT NULL AND {_pairs(keys, 'dst', params)} "
                "GROUP BY chain_id, dst, protocol "
                "UNION ALL SELECT chain_id, dst, 'token', token, count(*) FROM graph_edges "
                f"WHERE edge_type = 'SWAPPED_ON' AND token IS NOT NULL AND {_pairs(keys, 'dst', params)} "
                "GROUP BY chain_id, dst, token "
                "UNION ALL SELECT chain_id, src, 'token', token, count(*) FROM graph_edges "
                f"WHERE edge_type = 'TRANSFERRED' AND {_pairs(keys, 'src', params)} "
                "GROUP BY chain_id, src, token",
                params,
            )
        found: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
        for chain, pool, kind, value, n in raw:
            counts = found.setdefault((chain, pool), {"protocol": {}, "token": {}})[kind]
            counts[value] = counts.get(value, 0) + int(n)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for (chain, pool), c in found.items():
            protocols = sorted(c["protocol"], key=lambda p: (-c["protocol"][p], p))
            if not protocols:
                continue  # an address that only transferred tokens is not a pool
            out[(chain, pool)] = {
                "chain_id": chain,
                "address": pool,
                "protocol": protocols[0],
                "tokens": sorted(c["token"]),
            }
        return out

    def mev_stats(self, what: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        column = _STATS_COLUMNS.get(what)
        if column is None:
            raise ValueError(f"what must be one of {sorted(_STATS_COLUMNS)}")
        if not keys:
            return {}
        params: dict[str, Any] = {}
        values = sorted({v for _, v in keys})
        chains = sorted({c for c, _ in keys})
        with self._read() as s:
            raw = s.all(
                f"WITH f AS (SELECT * FROM (SELECT chain_id, unnest({column}) AS v, counted, mev_profit_usd, "
                "victim_loss_usd, bot_address FROM mev_opportunities "
                f"WHERE {column} && {_array(values, 'a', params)} AND {_in('chain_id', chains, 'c', params)}) u "
                f"WHERE {_in('v', values, 'w', params)}"
                "), b AS (SELECT chain_id, v, bot_address, row_number() OVER (PARTITION BY chain_id, v "
                "ORDER BY coalesce(sum(mev_profit_usd), 0) DESC, bot_address) AS rk "
                "FROM f WHERE counted AND bot_address IS NOT NULL GROUP BY chain_id, v, bot_address"
                ") SELECT chain_id, v, count(*), sum(CASE WHEN counted THEN 1 ELSE 0 END), "
                "sum(CASE WHEN counted AND mev_profit_usd IS NOT NULL THEN 1 ELSE 0 END), "
                "sum(CASE WHEN counted THEN mev_profit_usd END), "
                "sum(CASE WHEN counted THEN victim_loss_usd END), "
                "count(DISTINCT CASE WHEN counted THEN bot_address END), "
                "(SELECT array_agg(b.bot_address ORDER BY b.rk) FROM b "
                "WHERE b.chain_id = f.chain_id AND b.v = f.v AND b.rk <= 5) "
                "FROM f GROUP BY chain_id, v",
                params,
            )
        out: dict[tuple[str, str], dict[str, Any]] = {
            k: {
                "opportunities": 0,
                "counted": 0,
                "priced": 0,
                "mev_profit_usd": None,
                "victim_loss_usd": None,
                "bots": 0,
                "top_bots": [],
            }
            for k in keys
        }
        for chain, v, n, counted, priced, profit, loss, bots, top in raw:
            if (chain, v) in out:
                out[(chain, v)] = {
                    "opportunities": int(n),
                    "counted": int(counted),
                    "priced": int(priced),
                    "mev_profit_usd": _dec(profit),
                    "victim_loss_usd": _dec(loss),
                    "bots": int(bots),
                    "top_bots": list(top or ()),
                }
        return out

    def pool_leakage(
        self, chain: str, pool: str, start: date | None, end: date | None
    ) -> list[dict[str, Any]]:
        """Per UTC day with a counted opportunity on ``pool``: the leakage row shape (see
        :mod:`mevgraph.store.aggregates`), ``total_transactions`` being the txs that swapped on
        or changed liquidity of the pool that day."""
        params: dict[str, Any] = {"chain": chain, "pool": pool}
        when = when_block = ""
        if start is not None:
            when += ' AND "timestamp" >= :start'
            when_block += ' AND b."timestamp" >= :start'
            params["start"] = datetime(start.year, start.month, start.day)
        if end is not None:
            when += ' AND "timestamp" < :end'
            when_block += ' AND b."timestamp" < :end'
            params["end"] = datetime(end.year, end.month, end.day) + timedelta(days=1)
        with self._read() as s:
            opps = s.all(
                'SELECT CAST("timestamp" AS DATE), opportunity_type, mev_profit_usd, victim_loss_usd, '
                "bot_address, mev_tx_hashes, victim_txs FROM mev_opportunities WHERE chain_id = :chain "
                f'AND counted AND "timestamp" IS NOT NULL AND pools && {_array([pool], "a", params)}{when}',
                params,
            )
            txs = s.all(
                'SELECT CAST(b."timestamp" AS DATE), count(DISTINCT e.tx_hash) FROM graph_edges e '
                "JOIN blocks b ON b.chain_id = e.chain_id AND b.number = e.block_number "
                f"WHERE e.chain_id = :chain AND e.dst = :pool AND {_in('e.edge_type', _POOL_EDGES, 'e', params)} "
                f'AND b."timestamp" IS NOT NULL{when_block} GROUP BY 1',
                params,
            )
        tx_count = {d: int(n) for d, n in txs}
        days: dict[date, list[tuple[Any, ...]]] = {}
        for row in opps:
            days.setdefault(row[0], []).append(row)
        out = []
        for day in sorted(days, reverse=True):
            rows = days[day]
            per_kind = {k: Decimal(0) for k in _KINDS}
            total = Decimal(0)
            losses = [r[3] for r in rows if r[3] is not None]
            bots: dict[str, Decimal] = {}
            affected: set[str] = set()
            for _, kind, profit, _, bot, attacker, victims in rows:
                if profit is not None:
                    total += profit
                    per_kind[kind] = per_kind.get(kind, Decimal(0)) + profit
                if bot is not None:
                    bots[bot] = bots.get(bot, Decimal(0)) + (profit or Decimal(0))
                affected.update(attacker or ())
                affected.update(victims or ())
            n = tx_count.get(day)
            loss = sum(losses, Decimal(0)) if losses else None
            out.append(
                {
                    "protocol_id": pool,
                    "chain_id": chain,
                    "date": day,
                    "total_mev_extracted": total,
                    **{f"{k}_mev": per_kind[k] for k in _KINDS},
                    "total_transactions": n,
                    "mev_affected_transactions": len(affected),
                    "mev_affected_pct": Decimal(min(100.0, 100.0 * len(affected) / n)).quantize(_CENT)
                    if n
                    else None,
                    "total_user_loss": loss,
                    "avg_loss_per_affected_tx": (loss / len(affected)).quantize(_CENT)
                    if loss is not None and affected
                    else None,
                    "unique_bots": len(bots),
                    "top_bot_addresses": sorted(bots, key=lambda b: (-bots[b], b))[:5],
                }
            )
        return out
