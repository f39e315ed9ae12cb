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

Tables are Apache Arrow; :meth:`PropertyGraph.sql` runs DuckDB SQL over them without copying, so
detectors are declared as joins (and the same SQL runs on Spark over Parquet). Raw integer
amounts are exact Python ints on the action objects (``PropertyGraph.actions[action_id]``); the
tables hold them as decimal strings plus ``float64`` approximations for ratio filters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
from mevgraph.decode.decoder import DecodedBlock, TxMeta
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


@dataclass
class PropertyGraph:
    """Columnar property graph over one or more decoded blocks (any chains)."""

    decoded: list[DecodedBlock]
    actions: list[Action] = field(default_factory=list)
    attempted: list[Action] = field(default_factory=list)
    tx_meta: dict[tuple[int, str], TxMeta] = field(default_factory=dict)
    tables: dict[str, pa.Table] = field(default_factory=dict)
    _con: Any = None

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, decoded: Iterable[DecodedBlock]) -> PropertyGraph:
        g = cls(decoded=list(decoded))
        g._build()
        return g

    def _build(self) -> None:
        blocks: dict[str, list[Any]] = {k: [] for k in ("chain_id", "number", "hash", "timestamp", "miner", "base_fee_per_gas", "mode", "n_txs")}
        txs: dict[str, list[Any]] = {
            k: []
            for k in (
                "chain_id", "block_number", "tx_index", "tx_hash", "from_", "to", "to_is_router",
                "success", "gas_used", "effective_gas_price", "gas_cost_wei", "selector",
                "input_hash", "max_fee_per_gas", "max_priority_fee_per_gas",
            )
        }
        swaps: dict[str, list[Any]] = {
            k: []
            for k in (
                "action_id", "chain_id", "block_number", "tx_index", "tx_hash", "pos", "protocol",
                "pool", "sender", "recipient", "token_in", "token_out", "amount_in", "amount_out",
                "amount_in_f", "amount_out_f", "tx_from", "tx_to", "actor", "attempted",
            )
        }
        transfers: dict[str, list[Any]] = {
            k: [] for k in ("action_id", "chain_id", "block_number", "tx_index", "tx_hash", "pos", "token", "from_", "to", "amount", "amount_f")
        }
        liqs: dict[str, list[Any]] = {
            k: []
            for k in (
                "action_id", "chain_id", "block_number", "tx_index", "tx_hash", "pos", "protocol",
                "pool", "liquidator", "borrower", "debt_token", "debt_amount", "collateral_token",
                "collateral_amount", "attempted",
            )
        }
        flash: dict[str, list[Any]] = {
            k: [] for k in ("action_id", "chain_id", "block_number", "tx_index", "tx_hash", "pos", "protocol", "lender", "receiver", "token", "amount")
        }
        liquidity: dict[str, list[Any]] = {
            k: []
            for k in (
                "action_id", "chain_id", "block_number", "tx_index", "tx_hash", "pos", "protocol",
                "change", "pool", "provider", "tick_lower", "tick_upper", "liquidity",
            )
        }
        coinbase: dict[str, list[Any]] = {
            k: [] for k in ("action_id", "chain_id", "block_number", "tx_index", "tx_hash", "from_", "to", "amount")
        }
        edges: dict[str, list[Any]] = {
            k: [] for k in ("type", "chain_id", "block_number", "tx_index", "src", "dst", "action_id")
        }
        addresses: dict[tuple[int, str], str] = {}
        pools: dict[tuple[int, str], tuple[str, set[str]]] = {}

        def edge(t: str, chain: int, bn: int, ti: int | None, src: str, dst: str, aid: int | None) -> None:
            edges["type"].append(t)
            edges["chain_id"].append(chain)
            edges["block_number"].append(bn)
            edges["tx_index"].append(ti)
            edges["src"].append(src)
            edges["dst"].append(dst)
            edges["action_id"].append(aid)

        actions = self.actions
        for d in self.decoded:
            b = d.block
            chain = b.chain_id
            blocks["chain_id"].append(chain)
            blocks["number"].append(b.number)
            blocks["hash"].append(b.hash)
            blocks["timestamp"].append(b.timestamp)
            blocks["miner"].append(b.miner)
            blocks["base_fee_per_gas"].append(b.base_fee_per_gas)
            blocks["mode"].append(d.mode)
            blocks["n_txs"].append(len(d.txs))
            meta_by_hash: dict[str, TxMeta] = {}
            for m in d.txs:
                meta_by_hash[m.hash] = m
                self.tx_meta[(chain, m.hash)] = m
                txs["chain_id"].append(chain)
                txs["block_number"].append(b.number)
                txs["tx_index"].append(m.index)
                txs["tx_hash"].append(m.hash)
                txs["from_"].append(m.from_)
                txs["to"].append(m.to)
                txs["to_is_router"].append(is_router(chain, m.to))
                txs["success"].append(m.success)
                txs["gas_used"].append(m.gas_used)
                txs["effective_gas_price"].append(m.effective_gas_price)
                txs["gas_cost_wei"].append(str(m.gas_cost_wei) if m.gas_cost_wei is not None else None)
                txs["selector"].append(m.selector)
                txs["input_hash"].append(m.input_hash)
                txs["max_fee_per_gas"].append(str(m.max_fee_per_gas) if m.max_fee_per_gas is not None else None)
                txs["max_priority_fee_per_gas"].append(
                    str(m.max_priority_fee_per_gas) if m.max_priority_fee_per_gas is not None else None
                )
                if m.from_:
                    addresses.setdefault((chain, m.from_), "eoa")
                    edge("SENT", chain, b.number, m.index, m.from_, m.hash, None)
                edge("IN_BLOCK", chain, b.number, m.index, m.hash, f"{chain}:{b.number}", None)
                if m.to:
                    addresses.setdefault((chain, m.to), "contract")
                    edge("CALLED", chain, b.number, m.index, m.hash, m.to, None)

            for attempted, src_list in ((False, d.actions), (True, d.attempted)):
                for a in src_list:
                    aid = len(actions)
                    actions.append(a)
                    if attempted:
                        self.attempted.append(a)
                    m = meta_by_hash.get(a.tx_hash)
                    tx_from = m.from_ if m else None
                    tx_to = m.to if m else None
                    if isinstance(a, Swap):
                        swaps["action_id"].append(aid)
                        swaps["chain_id"].append(chain)
                        swaps["block_number"].append(a.block_number)
                        swaps["tx_index"].append(a.tx_index)
                        swaps["tx_hash"].append(a.tx_hash)
                        swaps["pos"].append(_ta(a))
                        swaps["protocol"].append(a.protocol)
                        swaps["pool"].append(a.pool)
                        swaps["sender"].append(a.sender)
                        swaps["recipient"].append(a.recipient)
                        swaps["token_in"].append(a.token_in)
                        swaps["token_out"].append(a.token_out)
                        swaps["amount_in"].append(str(a.amount_in))
                        swaps["amount_out"].append(str(a.amount_out))
                        swaps["amount_in_f"].append(float(a.amount_in))
                        swaps["amount_out_f"].append(float(a.amount_out))
                        swaps["tx_from"].append(tx_from)
                        swaps["tx_to"].append(tx_to)
                        swaps["actor"].append(tx_from if (tx_to is None or is_router(chain, tx_to)) else tx_to)
                        swaps["attempted"].append(attempted)
                        if not attempted:
                            p = pools.get((chain, a.pool))
                            if p is None:
                                pools[(chain, a.pool)] = p = (a.protocol, set())
                            p[1].update((a.token_in, a.token_out))
                            edge("SWAPPED_ON", chain, a.block_number, a.tx_index, a.tx_hash, a.pool, aid)
                    elif attempted:
                        if isinstance(a, Liquidation):
                            self._liq_row(liqs, aid, chain, a, True)
                        continue
                    elif isinstance(a, Transfer):
                        transfers["action_id"].append(aid)
                        transfers["chain_id"].append(chain)
                        transfers["block_number"].append(a.block_number)
                        transfers["tx_index"].append(a.tx_index)
                        transfers["tx_hash"].append(a.tx_hash)
                        transfers["pos"].append(_ta(a))
                        transfers["token"].append(a.token)
                        transfers["from_"].append(a.from_)
                        transfers["to"].append(a.to)
                        transfers["amount"].append(str(a.amount))
                        transfers["amount_f"].append(float(a.amount))
                        edge("TRANSFERRED", chain, a.block_number, a.tx_index, a.from_, a.to, aid)
                    elif isinstance(a, Liquidation):
                        self._liq_row(liqs, aid, chain, a, False)
                        edge("LIQUIDATED", chain, a.block_number, a.tx_index, a.tx_hash, a.borrower, aid)
                    elif isinstance(a, FlashLoan):
                        for k, v in (
                            ("action_id", aid), ("chain_id", chain), ("block_number", a.block_number),
                            ("tx_index", a.tx_index), ("tx_hash", a.tx_hash), ("pos", _ta(a)),
                            ("protocol", a.protocol), ("lender", a.lender), ("receiver", a.receiver),
                            ("token", a.token), ("amount", str(a.amount)),
                        ):
                            flash[k].append(v)
                        edge("FLASH_BORROWED", chain, a.block_number, a.tx_index, a.tx_hash, a.lender, aid)
                    elif isinstance(a, LiquidityChange):
                        for k, v in (
                            ("action_id", aid), ("chain_id", chain), ("block_number", a.block_number),
                            ("tx_index", a.tx_index), ("tx_hash", a.tx_hash), ("pos", _ta(a)),
                            ("protocol", a.protocol), ("change", str(a.change)), ("pool", a.pool),
                            ("provider", a.provider), ("tick_lower", a.tick_lower),
                            ("tick_upper", a.tick_upper),
                            ("liquidity", str(a.liquidity) if a.liquidity is not None else None),
                        ):
                            liquidity[k].append(v)
                        edge(_LIQ_EDGE[str(a.change)], chain, a.block_number, a.tx_index, a.tx_hash, a.pool, aid)
                    elif isinstance(a, CoinbasePayment):
                        for k, v in (
                            ("action_id", aid), ("chain_id", chain), ("block_number", a.block_number),
                            ("tx_index", a.tx_index), ("tx_hash", a.tx_hash), ("from_", a.from_),
                            ("to", a.to), ("amount", str(a.amount)),
                        ):
                            coinbase[k].append(v)
                        edge("PAID_COINBASE", chain, a.block_number, a.tx_index, a.tx_hash, a.to, aid)

        for (chain, pool), (_proto, toks) in pools.items():
            addresses[(chain, pool)] = "pool"
            for t in sorted(toks):
                edge("HOLDS", chain, 0, None, pool, t, None)

        t = self.tables
        t["blocks"] = _table(blocks, {"chain_id": pa.int64(), "number": pa.int64(), "timestamp": pa.int64(), "base_fee_per_gas": pa.int64(), "n_txs": pa.int64()})
        t["transactions"] = _table(txs, {"chain_id": pa.int64(), "block_number": pa.int64(), "tx_index": pa.int64(), "gas_used": pa.int64(), "effective_gas_price": pa.int64(), "input_hash": pa.int64(), "to_is_router": pa.bool_(), "success": pa.bool_()})
        t["swaps"] = _table(swaps, {"action_id": pa.int64(), "chain_id": pa.int64(), "block_number": pa.int64(), "tx_index": pa.int64(), "amount_in_f": pa.float64(), "amount_out_f": pa.float64(), "attempted": pa.bool_()})
        t["transfers"] = _table(transfers, {"action_id": pa.int64(), "chain_id": pa.int64(), "block_number": pa.int64(), "tx_index": pa.int64(), "amount_f": pa.float64()})
        t["liquidations"] = _table(liqs, {"action_id": pa.int64(), "chain_id": pa.int64(), "block_number": pa.int64(), "tx_index": pa.int64(), "attempted": pa.bool_()})
        t["flash_loans"] = _table(flash, {"action_id": pa.int64(), "chain_id": pa.int64(), "block_number": pa.int64(), "tx_index": pa.int64()})
        t["liquidity"] = _table(liquidity, {"action_id": pa.int64(), "chain_id": pa.int64(), "block_number": pa.int64(), "tx_index": pa.int64(), "tick_lower": pa.int64(), "tick_upper": pa.int64()})
        t["coinbase_payments"] = _table(coinbase, {"action_id": pa.int64(), "chain_id": pa.int64(), "block_number": pa.int64(), "tx_index": pa.int64()})
        t["edges"] = _table(edges, {"chain_id": pa.int64(), "block_number": pa.int64(), "tx_index": pa.int64(), "action_id": pa.int64()})
        t["addresses"] = pa.table(
            {
                "chain_id": pa.array([k[0] for k in addresses], pa.int64()),
                "address": pa.array([k[1] for k in addresses], pa.string()),
                "kind": pa.array(list(addresses.values()), pa.string()),
            }
        )
        t["pools"] = pa.table(
            {
                "chain_id": pa.array([k[0] for k in pools], pa.int64()),
                "address": pa.array([k[1] for k in pools], pa.string()),
                "protocol": pa.array([v[0] for v in pools.values()], pa.string()),
                "tokens": pa.array([sorted(v[1]) for v in pools.values()], pa.list_(pa.string())),
            }
        )
        token_keys = sorted(
            {(c, tok) for (c, _), (_, toks) in pools.items() for tok in toks}
            | set(zip(transfers["chain_id"], transfers["token"], strict=True))
        )
        t["tokens"] = pa.table(
            {
                "chain_id": pa.array([k[0] for k in token_keys], pa.int64()),
                "address": pa.array([k[1] for k in token_keys], pa.string()),
            }
        )

    @staticmethod
    def _liq_row(liqs: dict[str, list[Any]], aid: int, chain: int, a: Liquidation, attempted: bool) -> None:
        for k, v in (
            ("action_id", aid), ("chain_id", chain), ("block_number", a.block_number),
            ("tx_index", a.tx_index), ("tx_hash", a.tx_hash), ("pos", _ta(a)),
            ("protocol", a.protocol), ("pool", a.pool), ("liquidator", a.liquidator),
            ("borrower", a.borrower), ("debt_token", a.debt_token),
            ("debt_amount", str(a.debt_amount)), ("collateral_token", a.collateral_token),
            ("collateral_amount", str(a.collateral_amount)), ("attempted", attempted),
        ):
            liqs[k].append(v)

    # ------------------------------------------------------------------ query
    @property
    def con(self) -> Any:
        """A DuckDB connection with every table registered as a view (zero-copy Arrow scans)."""
        if self._con is None:
            con = duckdb.connect()
            for name, tbl in self.tables.items():
                con.register(name, tbl)
            self._con = con
        return self._con

    def sql(self, query: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run ``query`` over the graph's tables and return the rows."""
        return self.con.execute(query, params or []).fetchall()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    # ------------------------------------------------------------------ helpers
    def actions_of_tx(self, chain_id: int, tx_hash: str) -> list[Action]:
        idx = self._tx_index()
        return [self.actions[i] for i in idx.get((chain_id, tx_hash), ())]

    def _tx_index(self) -> dict[tuple[int, str], list[int]]:
        cached = getattr(self, "_tx_idx", None)
        if cached is None:
            cached = {}
            for i, a in enumerate(self.actions):
                cached.setdefault((a.chain_id, a.tx_hash), []).append(i)
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
        return self.tables["edges"].num_rows


def _table(cols: dict[str, list[Any]], types: dict[str, pa.DataType]) -> pa.Table:
    arrays = {}
    for name, values in cols.items():
        typ = types.get(name, pa.string())
        arrays[name] = pa.array(values, type=typ)
    return pa.table(arrays)
