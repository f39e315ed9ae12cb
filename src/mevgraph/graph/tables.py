"""The property graph as columnar node and edge tables.

Nodes: ``blocks``, ``transactions``, ``addresses``, ``pools``, ``tokens``.
Edges: one generic ``edges`` table (``type, src, dst`` plus the owning block/tx and the
``action_id`` that carries its properties) and typed property tables per action kind
(``swaps``, ``transfers``, ``liquidations``, ``flash_loans``, ``liquidity``,
``coinbase_payments``) whose rows are the edges' properties. Edge types::

    (Address)-[SENT]->(Transaction)-[IN_BLOCK]->(Block)
    (Transaction)-[CALLED]->(Address)
    (Transaction)-[SWAPPED_ON {token_in, token_out, amounts}]->(Pool)
    (Address)-[TRANSFERRED {token, amount}]->(Address)
    (Transaction)-[LIQUIDATED {debt, collateral}]->(Address borrower)
    (Transaction)-[FLASH_BORROWED {token, amount}]->(Address lender)
    (Transaction)-[ADDED_LIQUIDITY|REMOVED_LIQUIDITY|COLLECTED_FEES]->(Pool)
    (Transaction)-[PAID_COINBASE {amount}]->(Address miner)
    (Pool)-[HOLDS]->(Token)

Tables are Apache Arrow, each built on first use; :meth:`PropertyGraph.sql` runs DuckDB SQL over
them without copying (registering only the tables a query names), so detectors are declared as
joins (and the same SQL runs on Spark over Parquet). Raw integer amounts are exact Python ints on
the action objects (``PropertyGraph.actions[action_id]``); the tables hold them as decimal strings
plus ``float64`` approximations for ratio filters.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter
from typing import Any

import duckdb
import pyarrow as pa

from mevgraph.core.actions import (
    Action,
    CoinbasePayment,
    FlashLoan,
    Liquidation,
    LiquidityChange,
    Swap,
    Transfer,
)
from mevgraph.decode.decoder import GAS_MISSING, DecodedBlock, TxMeta, with_gas_used
from mevgraph.decode.labels import is_router

__all__ = ["PropertyGraph", "EDGE_TYPES"]

EDGE_TYPES = (
    "SENT",
    "IN_BLOCK",
    "CALLED",
    "SWAPPED_ON",
    "TRANSFERRED",
    "LIQUIDATED",
    "FLASH_BORROWED",
    "ADDED_LIQUIDITY",
    "REMOVED_LIQUIDITY",
    "COLLECTED_FEES",
    "PAID_COINBASE",
    "HOLDS",
)

_LIQ_EDGE = {
    "liquidity_add": "ADDED_LIQUIDITY",
    "liquidity_remove": "REMOVED_LIQUIDITY",
    "liquidity_collect": "COLLECTED_FEES",
}


def _ta(a: Action) -> str:
    """Trace address / log index as a sortable string key ("0.2.1" or "log:17")."""
    if a.trace_address is not None:
        return ".".join(map(str, a.trace_address))
    return f"log:{a.log_index}"


GasSource = Callable[[int, Sequence[str]], Mapping[str, int | None]]


@dataclass
class PropertyGraph:
    """Columnar property graph over one or more decoded blocks (any chains)."""

    decoded: list[DecodedBlock]
    actions: list[Action] = field(default_factory=list)
    attempted: list[Action] = field(default_factory=list)
    tx_meta: dict[tuple[int, str], TxMeta] = field(default_factory=dict)
    tables: MutableMapping[str, pa.Table] = field(default_factory=lambda: _Tables())
    # Where ``ensure_gas`` finds the ``gasUsed`` of txs decoded without it: ``(chain, hashes) ->
    # {hash: gasUsed or None}`` (a live follower fetches receipts only for the txs detectors price).
    gas_source: GasSource | None = None
    _con: Any = None
    _edges: pa.Table | None = None
    _edges_view: bool = False
    _registered: set[str] = field(default_factory=set)

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, decoded: Iterable[DecodedBlock], gas_source: GasSource | None = None) -> PropertyGraph:
        g = cls(decoded=list(decoded), gas_source=gas_source)
        g._build()
        return g

    def ensure_gas(self, keys: Iterable[tuple[int, str]]) -> None:
        """Fill in ``gas_used`` and the gas cost in :attr:`tx_meta` of the txs ``keys`` (chain,
        hash) that were decoded without a ``gasUsed`` (receipts not fetched yet), asking
        :attr:`gas_source` once per chain. Detectors call it with the txs whose fees they compare or
        price, before reading ``tx_meta``; without a source nothing changes. The ``transactions``
        table keeps what was decoded (it is not read for gas)."""
        if self.gas_source is None:
            return
        wanted: dict[int, list[str]] = {}
        for key in dict.fromkeys(keys):
            m = self.tx_meta.get(key)
            if m is not None and m.gas_used is None and m.gas_cost_reason in GAS_MISSING:
                wanted.setdefault(key[0], []).append(key[1])
        for chain, hashes in wanted.items():
            got = self.gas_source(chain, hashes)
            for h in hashes:
                self.tx_meta[(chain, h)] = with_gas_used(self.tx_meta[(chain, h)], got.get(h))

    def _build(self) -> None:
        actions = self.actions
        blocks_rows: list[DecodedBlock] = []
        metas: list[tuple[int, int, TxMeta]] = []  # (chain, block number, meta)
        swaps: list[tuple[int, Swap, TxMeta | None, bool]] = []
        transfers: list[tuple[int, Transfer]] = []
        liqs: list[tuple[int, Liquidation, bool]] = []
        flash: list[tuple[int, FlashLoan]] = []
        liquidity: list[tuple[int, LiquidityChange]] = []
        coinbase: list[tuple[int, CoinbasePayment]] = []
        for d in self.decoded:
            chain = d.block.chain_id
            blocks_rows.append(d)
            meta_by_hash: dict[str, TxMeta] = {}
            for m in d.txs:
                meta_by_hash[m.hash] = m
                self.tx_meta[(chain, m.hash)] = m
                metas.append((chain, d.block.number, m))
            for attempted, src_list in ((False, d.actions), (True, d.attempted)):
                for a in src_list:
                    aid = len(actions)
                    actions.append(a)
                    if attempted:
                        self.attempted.append(a)
                    if isinstance(a, Swap):
                        swaps.append((aid, a, meta_by_hash.get(a.tx_hash), attempted))
                    elif isinstance(a, Liquidation):
                        liqs.append((aid, a, attempted))
                    elif attempted:
                        continue  # attempted actions never moved balances
                    elif isinstance(a, Transfer):
                        transfers.append((aid, a))
                    elif isinstance(a, FlashLoan):
                        flash.append((aid, a))
                    elif isinstance(a, LiquidityChange):
                        liquidity.append((aid, a))
                    elif isinstance(a, CoinbasePayment):
                        coinbase.append((aid, a))

        pools: dict[tuple[int, str], tuple[str, set[str]]] = {}
        for _, a, _, attempted in swaps:
            if attempted:
                continue
            p = pools.get((a.chain_id, a.pool))
            if p is None:
                pools[(a.chain_id, a.pool)] = p = (a.protocol, set())
            p[1].add(a.token_in)
            p[1].add(a.token_out)

        # Each table is built on first use (see _Tables).
        t = _Tables()
        t.defer("blocks", lambda: _blocks_table(blocks_rows))
        t.defer("transactions", lambda: _transactions_table(metas))
        t.defer("swaps", lambda: _swaps_table(swaps))
        t.defer(
            "transfers",
            lambda: _action_table(
                [r[0] for r in transfers],
                [r[1] for r in transfers],
                strings=("token", "from_", "to"),
                amounts=("amount",),
                extra={"amount_f": pa.array([float(r[1].amount) for r in transfers], pa.float64())},
            ),
        )
        t.defer(
            "liquidations",
            lambda: _action_table(
                [r[0] for r in liqs],
                [r[1] for r in liqs],
                strings=("protocol", "pool", "liquidator", "borrower", "debt_token", "collateral_token"),
                amounts=("debt_amount", "collateral_amount"),
                extra={"attempted": pa.array([r[2] for r in liqs], pa.bool_())},
            ),
        )
        t.defer(
            "flash_loans",
            lambda: _action_table(
                [r[0] for r in flash],
                [r[1] for r in flash],
                strings=("protocol", "lender", "receiver", "token"),
                amounts=("amount",),
            ),
        )
        t.defer(
            "liquidity",
            lambda: _action_table(
                [r[0] for r in liquidity],
                [r[1] for r in liquidity],
                strings=("protocol", "change", "pool", "provider"),
                ints=("tick_lower", "tick_upper"),
                amounts=("liquidity",),
            ),
        )
        t.defer(
            "coinbase_payments",
            lambda: _action_table(
                [r[0] for r in coinbase],
                [r[1] for r in coinbase],
                strings=("from_", "to"),
                amounts=("amount",),
                pos=False,
            ),
        )
        t.defer("addresses", lambda: _addresses_table(metas, pools))
        t.defer("pools", lambda: _pools_table(pools))
        t.defer("tokens", lambda: _tokens_table(pools, transfers))
        self.tables = t

    # ------------------------------------------------------------------ query
    @property
    def con(self) -> Any:
        """A DuckDB connection with every table registered as a view (zero-copy Arrow scans)."""
        con = self._cursor()
        for name in self.tables:
            self._register(con, name)
        return con

    def _cursor(self) -> Any:
        if self._con is None:
            self._con = _database().cursor()
            self._registered = set()
        return self._con

    def _register(self, con: Any, name: str) -> None:
        if name not in self._registered:
            con.register(name, self.tables[name])
            self._registered.add(name)

    def _ensure_edges_view(self) -> None:
        if not self._edges_view:
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW edges AS {EDGES_SQL}")
            self._edges_view = True

    @property
    def edges(self) -> pa.Table:
        """The generic edge list (``type, chain_id, block_number, tx_index, src, dst, action_id``)."""
        cached = self._edges
        if cached is None:
            self._ensure_edges_view()
            cached = self._edges = self.con.sql("SELECT * FROM edges").to_arrow_table()
        return cached

    def sql(
        self,
        query: str,
        params: Sequence[Any] | None = None,
        *,
        temp: dict[str, pa.Table] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run ``query`` over the graph's tables (and the ``edges`` view) and return the rows.

        Only the tables whose name occurs in ``query`` are registered (each registration costs
        ~0.5 ms, a graph has eleven tables and a detector query reads two or three). ``temp``
        tables are visible to this query only (e.g. a detector's own input rows).
        """
        if "edges" in query:
            self._ensure_edges_view()
        con = self._cursor()
        for name in self.tables:
            if name in query:
                self._register(con, name)
        if not temp:
            return con.execute(query, params or []).fetchall()
        for name, tbl in temp.items():
            con.register(name, tbl)
        try:
            return con.execute(query, params or []).fetchall()
        finally:
            for name in temp:
                con.unregister(name)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
            self._edges_view = False

    # ------------------------------------------------------------------ helpers
    def rows(self, table: str, *columns: str) -> Iterator[tuple[Any, ...]]:
        """``columns`` of ``table`` row by row, in table order (action tables are in
        ``action_id`` order), straight from Arrow: for scans too simple to pay a query's fixed
        cost (a DuckDB query over these small tables costs 1-15 ms, mostly planning)."""
        t = self.tables[table]
        return zip(*(t.column(c).to_pylist() for c in columns), strict=True)

    def actions_of_tx(self, chain_id: int, tx_hash: str) -> list[Action]:
        idx = self._tx_index()
        return [self.actions[i] for i in idx.get((chain_id, tx_hash), ())]

    def _tx_index(self) -> dict[tuple[int, str], list[int]]:
        cached = getattr(self, "_tx_idx", None)
        if cached is None:
            cached = {}
            # Actions come block by block, transaction by transaction: group consecutive runs.
            key = attrgetter("chain_id", "tx_hash")
            i = 0
            for k, run in groupby(self.actions, key):
                n = sum(1 for _ in run)
                cached.setdefault(k, []).extend(range(i, i + n))
                i += n
            self._tx_idx = cached
        return cached

    def block(self, chain_id: int, number: int) -> DecodedBlock | None:
        for d in self.decoded:
            if d.block.chain_id == chain_id and d.block.number == number:
                return d
        return None

    @property
    def n_nodes(self) -> int:
        return sum(self.tables[k].num_rows for k in ("blocks", "transactions", "addresses", "tokens"))

    @property
    def n_edges(self) -> int:
        return self.edges.num_rows


_AMOUNT_IN = attrgetter("amount_in")
_AMOUNT_OUT = attrgetter("amount_out")


def _action_table(
    ids: list[int],
    objs: Sequence[Any],
    *,
    strings: Sequence[str] = (),
    ints: Sequence[str] = (),
    amounts: Sequence[str] = (),
    pos: bool = True,
    extra: dict[str, pa.Array] | None = None,
) -> pa.Table:
    """An action table: the shared key columns, then attributes as strings, int64s and exact
    amounts (decimal strings: 256-bit ints do not fit any Arrow integer type)."""
    cols: dict[str, pa.Array] = {
        "action_id": pa.array(ids, pa.int64()),
        **_attr_cols(objs, pa.int64(), "chain_id", "block_number", "tx_index"),
        "tx_hash": _attr_col(objs, "tx_hash"),
    }
    if pos:
        cols["pos"] = pa.array([_ta(x) for x in objs], pa.string())
    cols.update(_attr_cols(objs, pa.string(), *strings))
    cols.update(_attr_cols(objs, pa.int64(), *ints))
    for name in amounts:
        cols[name] = pa.array([_s(v) for v in map(attrgetter(name), objs)], pa.string())
    cols.update(extra or {})
    return pa.table(cols)


def _attr_col(objs: Sequence[Any], name: str, typ: pa.DataType | None = None) -> pa.Array:
    return pa.array(list(map(attrgetter(name), objs)), typ or pa.string())


def _attr_cols(objs: Sequence[Any], typ: pa.DataType, *names: str) -> dict[str, pa.Array]:
    return {n: _attr_col(objs, n, typ) for n in names}


def _actor(m: TxMeta | None, chain_id: int) -> str | None:
    """Who trades: the contract the tx called, or its sender when it called a router."""
    if m is None:
        return None
    return m.from_ if (m.to is None or is_router(chain_id, m.to)) else m.to


def _s(v: int | None) -> str | None:
    return None if v is None else str(v)


def _cols(rows: Sequence[Any], **columns: tuple[pa.DataType, Any]) -> pa.Table:
    """Build an Arrow table column by column from ``rows`` (one list comprehension per column)."""
    return pa.table(
        {name: pa.array([get(r) for r in rows], type=typ) for name, (typ, get) in columns.items()}
    )


class _Tables(MutableMapping[str, pa.Table]):
    """The graph's tables by name, each built from its rows on first use.

    Turning rows into Arrow columns is most of a graph's build cost, and a detector run reads
    four to six of the eleven tables (``transfers``, the largest -- about 1 ms per block -- only
    serves the edge list and exports). Names are known up front: iteration, ``len`` and ``in``
    never build a table.
    """

    def __init__(self) -> None:
        self._built: dict[str, pa.Table] = {}
        self._todo: dict[str, Callable[[], pa.Table]] = {}
        self._names: dict[str, None] = {}  # every name, in declaration order

    def defer(self, name: str, build: Callable[[], pa.Table]) -> None:
        self._built.pop(name, None)
        self._todo[name] = build
        self._names[name] = None

    def __getitem__(self, name: str) -> pa.Table:
        tbl = self._built.get(name)
        if tbl is None:
            tbl = self._built[name] = self._todo.pop(name)()
        return tbl

    def __setitem__(self, name: str, tbl: pa.Table) -> None:
        self._todo.pop(name, None)
        self._built[name] = tbl
        self._names[name] = None

    def __delitem__(self, name: str) -> None:
        del self._names[name]
        self._todo.pop(name, None)
        self._built.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)


_I64, _F64, _B, _S = pa.int64(), pa.float64(), pa.bool_(), pa.string()


def _blocks_table(rows: list[DecodedBlock]) -> pa.Table:
    return _cols(
        rows,
        chain_id=(_I64, lambda d: d.block.chain_id),
        number=(_I64, lambda d: d.block.number),
        hash=(_S, lambda d: d.block.hash),
        timestamp=(_I64, lambda d: d.block.timestamp),
        miner=(_S, lambda d: d.block.miner),
        base_fee_per_gas=(_I64, lambda d: d.block.base_fee_per_gas),
        mode=(_S, lambda d: d.mode),
        n_txs=(_I64, lambda d: len(d.txs)),
    )


def _transactions_table(metas: list[tuple[int, int, TxMeta]]) -> pa.Table:
    return _cols(
        metas,
        chain_id=(_I64, lambda r: r[0]),
        block_number=(_I64, lambda r: r[1]),
        tx_index=(_I64, lambda r: r[2].index),
        tx_hash=(_S, lambda r: r[2].hash),
        from_=(_S, lambda r: r[2].from_),
        to=(_S, lambda r: r[2].to),
        to_is_router=(_B, lambda r: is_router(r[0], r[2].to)),
        success=(_B, lambda r: r[2].success),
        gas_used=(_I64, lambda r: r[2].gas_used),
        effective_gas_price=(_I64, lambda r: r[2].effective_gas_price),
        gas_cost_wei=(_S, lambda r: _s(r[2].gas_cost_wei)),
        selector=(_S, lambda r: r[2].selector),
        input_hash=(_I64, lambda r: r[2].input_hash),
        max_fee_per_gas=(_S, lambda r: _s(r[2].max_fee_per_gas)),
        max_priority_fee_per_gas=(_S, lambda r: _s(r[2].max_priority_fee_per_gas)),
    )


def _swaps_table(swaps: list[tuple[int, Swap, TxMeta | None, bool]]) -> pa.Table:
    sw = [r[1] for r in swaps]
    sw_meta = [r[2] for r in swaps]
    return _action_table(
        [r[0] for r in swaps],
        sw,
        strings=("protocol", "pool", "sender", "recipient", "token_in", "token_out"),
        amounts=("amount_in", "amount_out"),
        extra={
            "amount_in_f": pa.array(list(map(float, map(_AMOUNT_IN, sw))), _F64),
            "amount_out_f": pa.array(list(map(float, map(_AMOUNT_OUT, sw))), _F64),
            "tx_from": pa.array([m.from_ if m else None for m in sw_meta], _S),
            "tx_to": pa.array([m.to if m else None for m in sw_meta], _S),
            "actor": pa.array([_actor(m, x.chain_id) for x, m in zip(sw, sw_meta, strict=True)], _S),
            "attempted": pa.array([r[3] for r in swaps], _B),
        },
    )


def _addresses_table(
    metas: list[tuple[int, int, TxMeta]], pools: dict[tuple[int, str], tuple[str, set[str]]]
) -> pa.Table:
    addresses: dict[tuple[int, str], str] = {}
    for chain, _, m in metas:
        if m.from_:
            addresses.setdefault((chain, m.from_), "eoa")
        if m.to:
            addresses.setdefault((chain, m.to), "contract")
    for key in pools:
        addresses[key] = "pool"
    return pa.table(
        {
            "chain_id": pa.array([k[0] for k in addresses], _I64),
            "address": pa.array([k[1] for k in addresses], _S),
            "kind": pa.array(list(addresses.values()), _S),
        }
    )


def _pools_table(pools: dict[tuple[int, str], tuple[str, set[str]]]) -> pa.Table:
    return pa.table(
        {
            "chain_id": pa.array([k[0] for k in pools], _I64),
            "address": pa.array([k[1] for k in pools], _S),
            "protocol": pa.array([v[0] for v in pools.values()], _S),
            "tokens": pa.array([sorted(v[1]) for v in pools.values()], pa.list_(_S)),
        }
    )


def _tokens_table(
    pools: dict[tuple[int, str], tuple[str, set[str]]], transfers: list[tuple[int, Transfer]]
) -> pa.Table:
    token_keys = sorted(
        {(c, tok) for (c, _), (_, toks) in pools.items() for tok in toks}
        | {(a.chain_id, a.token) for _, a in transfers}
    )
    return pa.table(
        {
            "chain_id": pa.array([k[0] for k in token_keys], _I64),
            "address": pa.array([k[1] for k in token_keys], _S),
        }
    )


# The generic edge list is a view over the node and action tables: nothing is copied until a
# query (or an export) reads it.
EDGES_SQL = """
SELECT 'SENT' AS type, chain_id, block_number, tx_index, from_ AS src, tx_hash AS dst, NULL::BIGINT AS action_id
  FROM transactions WHERE from_ IS NOT NULL
UNION ALL SELECT 'IN_BLOCK', chain_id, block_number, tx_index, tx_hash,
  CAST(chain_id AS VARCHAR) || ':' || CAST(block_number AS VARCHAR), NULL FROM transactions
UNION ALL SELECT 'CALLED', chain_id, block_number, tx_index, tx_hash, "to", NULL
  FROM transactions WHERE "to" IS NOT NULL
UNION ALL SELECT 'SWAPPED_ON', chain_id, block_number, tx_index, tx_hash, pool, action_id
  FROM swaps WHERE NOT attempted
UNION ALL SELECT 'TRANSFERRED', chain_id, block_number, tx_index, from_, "to", action_id FROM transfers
UNION ALL SELECT 'LIQUIDATED', chain_id, block_number, tx_index, tx_hash, borrower, action_id
  FROM liquidations WHERE NOT attempted
UNION ALL SELECT 'FLASH_BORROWED', chain_id, block_number, tx_index, tx_hash, lender, action_id FROM flash_loans
UNION ALL SELECT CASE change WHEN 'liquidity_add' THEN 'ADDED_LIQUIDITY'
                             WHEN 'liquidity_remove' THEN 'REMOVED_LIQUIDITY'
                             ELSE 'COLLECTED_FEES' END,
  chain_id, block_number, tx_index, tx_hash, pool, action_id FROM liquidity
UNION ALL SELECT 'PAID_COINBASE', chain_id, block_number, tx_index, tx_hash, "to", action_id FROM coinbase_payments
UNION ALL SELECT 'HOLDS', chain_id, 0, NULL, address, UNNEST(tokens), NULL FROM pools
"""

_local = threading.local()


def _database() -> Any:
    """One in-memory DuckDB database per thread; each graph gets its own cheap connection to it.

    Opening a database costs ~35 ms, a cursor ~25 us: graphs are built per batch (and per block
    in live use), so they must not pay the first each time.
    """
    db = getattr(_local, "db", None)
    if db is None or _local.pid != os.getpid():  # a forked child must not reuse its parent's
        db = _local.db = duckdb.connect()
        _local.pid = os.getpid()
        threads = os.environ.get("MEVGRAPH_DUCKDB_THREADS")
        if threads:  # worker processes run one DuckDB thread each, not one per core each
            db.execute(f"SET threads={int(threads)}")
    return db
