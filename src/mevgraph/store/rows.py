"""Finding -> ``mev_opportunities`` row, shared by every backend.

One function decides how a :class:`~mevgraph.detection.base.Finding` fills the spec's columns, so
PostgreSQL and the embedded store hold byte-for-byte the same values:

* ``id`` is ``uuid5(NAMESPACE, f"{chain_id}:{block_hash}:{finding.id}")``: re-ingesting a block
  rewrites the same ids, a reorged block (other hash) gets new ones;
* money is ``Decimal`` rounded half-even to cents here (never in SQL), ``None`` stays ``None``:
  ``mev_profit_usd`` is the *gross* USD profit, ``net_profit_usd`` the net one (gross - gas -
  coinbase), as the spec's two columns suggest;
* ``target_tx_hash`` is the first victim, else the trigger of a backrun/liquidation
  (``details["trigger_tx"]``);
* ``bot_address`` is the searcher contract, else the EOA; ``bot_type`` the kind's family
  (:data:`KIND_FAMILY`);
* helper columns the aggregates need without dialect-specific array functions:
  ``attacker_tx_count``, ``counted`` (False for nested findings), ``coinbase_transfer_wei``.

:func:`graph_edges` turns decoded blocks into the ``graph_edges`` rows: it reads the edge list of
:class:`~mevgraph.graph.tables.PropertyGraph` (the one definition of what an edge is) and adds
each edge's token, raw amount and protocol from the action behind it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from mevgraph.core.actions import (
    ActionKind,
    CoinbasePayment,
    FlashLoan,
    Liquidation,
    LiquidityChange,
    Swap,
    Transfer,
)
from mevgraph.core.tokens import token_info
from mevgraph.core.types import ETH
from mevgraph.detection.base import Finding, Status
from mevgraph.store.base import GRAPH_EDGE_TYPES, BlockRecord, EdgeRecord

if TYPE_CHECKING:
    from mevgraph.core.types import Block
    from mevgraph.decode.decoder import DecodedBlock
    from mevgraph.graph.tables import PropertyGraph

__all__ = [
    "NAMESPACE",
    "KIND_FAMILY",
    "OPPORTUNITY_COLUMNS",
    "opportunity_id",
    "bot_id",
    "leakage_id",
    "usd",
    "utc_datetime",
    "day_bounds",
    "opportunity_row",
    "block_record",
    "block_timestamp",
    "graph_edges",
]

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/mevgraph/mevgraph/store")
"""Namespace of every deterministic id the store derives."""

KIND_FAMILY = {
    "sandwich": "sandwich",
    "frontrun": "frontrun",
    "jit": "jit",
    "arbitrage": "arbitrage",
    "backrun": "arbitrage",  # a backrun is an arbitrage that waits for its trigger
    "liquidation": "liquidation",
}
"""``bot_type`` of an opportunity; a bot with several families is a ``generalist``."""

_SWAP_KINDS = frozenset({"sandwich", "frontrun", "backrun", "arbitrage", "jit"})
_CENT = Decimal("0.01")
_MAX_USD = Decimal(10) ** 18  # DECIMAL(20, 2)
_MAX_GAS_USD = Decimal(10) ** 8  # DECIMAL(10, 2)

OPPORTUNITY_COLUMNS = (
    "id",
    "opportunity_type",
    "chain_id",
    "block_number",
    "timestamp",
    "target_tx_hash",
    "mev_tx_hashes",
    "token_addresses",
    "token_symbols",
    "protocol_id",
    "protocol_name",
    "dex_name",
    "mev_profit_usd",
    "victim_loss_usd",
    "gas_cost_usd",
    "net_profit_usd",
    "bot_address",
    "bot_name",
    "bot_type",
    "detection_method",
    "confidence_score",
    "status",
    "usd_unpriced_reason",
    "gross_profit_usd",
    "block_hash",
    "finding_id",
    "victim_txs",
    "searcher",
    "contract",
    "nested_in",
    "counted",
    "protocols",
    "pools",
    "attacker_tx_count",
    "coinbase_transfer_wei",
    "private_mempool",
    "profit_by_token",
    "details",
)
"""Columns written by ingest, in insert order (``created_at`` is the database's)."""


def opportunity_id(chain_id: int, block_hash: str, finding: Finding) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{chain_id}:{block_hash}:{finding.id}"))


def bot_id(chain_id: str, address: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"bot:{chain_id}:{address}"))


def leakage_id(protocol: str, chain_id: str, day: date) -> str:
    return str(uuid.uuid5(NAMESPACE, f"leakage:{protocol}:{chain_id}:{day.isoformat()}"))


def usd(value: float | None, limit: Decimal = _MAX_USD) -> Decimal | None:
    """``value`` rounded half-even to cents; None for unknown, non-finite or out-of-column values.

    >>> usd(1.005), usd(None), usd(float("nan"))
    (Decimal('1.00'), None, None)
    """
    if value is None or not math.isfinite(value):
        return None
    out = Decimal(repr(value)).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    return out if abs(out) < limit else None


def utc_datetime(ts: int | None) -> datetime | None:
    """Unix seconds as a naive UTC datetime (the columns are ``TIMESTAMP`` holding UTC)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of a UTC day as naive datetimes, for index-friendly range filters."""
    start = datetime(day.year, day.month, day.day)
    return start, start + timedelta(days=1)


def block_timestamp(block: BlockRecord, findings: list[Finding]) -> int | None:
    """The block's time, else the one its findings carry (some sources give it only there)."""
    if block.timestamp is not None:
        return block.timestamp
    return next((f.block_timestamp for f in findings if f.block_timestamp is not None), None)


def _tokens(finding: Finding) -> list[str]:
    """Profit tokens first, then the debt/collateral tokens a liquidation names."""
    out: list[str] = []
    candidates = [
        *finding.profit_by_token,
        finding.details.get("debt_token"),
        finding.details.get("collateral_token"),
    ]
    for t in candidates:
        if isinstance(t, str) and t not in out:
            out.append(t)
    return out


def opportunity_row(finding: Finding, block: BlockRecord, timestamp: int | None) -> dict[str, Any]:
    """The ``mev_opportunities`` row of ``finding`` found in ``block`` (JSON columns as objects)."""
    kind = str(finding.kind)
    tokens = _tokens(finding)
    infos = [token_info(finding.chain_id, t) for t in tokens]
    protocol = finding.protocols[0] if finding.protocols else None
    trigger = finding.details.get("trigger_tx")
    private = finding.details.get("private_mempool")
    method = "block"
    if block.pending_seen is not None and finding.attacker_txs:
        # A mempool monitor was watching: "mempool" when an attacker tx was public before the
        # block (an alert could have been raised), and private flow when none of them was.
        seen = [tx in block.pending_seen for tx in finding.attacker_txs]
        method = "mempool" if any(seen) else "block"
        if not isinstance(private, bool):
            private = not all(seen)
    return {
        "id": opportunity_id(block.chain_id, block.hash, finding),
        "opportunity_type": kind,
        "chain_id": str(finding.chain_id),
        "block_number": finding.block_number,
        "timestamp": utc_datetime(timestamp),
        "target_tx_hash": finding.victim_txs[0]
        if finding.victim_txs
        else (trigger if isinstance(trigger, str) else None),
        "mev_tx_hashes": list(finding.attacker_txs),
        "token_addresses": tokens,
        "token_symbols": [i.symbol if i is not None else None for i in infos],
        "protocol_id": protocol,
        "protocol_name": protocol,
        "dex_name": protocol if kind in _SWAP_KINDS else None,
        "mev_profit_usd": usd(finding.gross_profit_usd),
        "victim_loss_usd": usd(finding.victim_loss_usd),
        "gas_cost_usd": usd(finding.gas_cost_usd, _MAX_GAS_USD),
        "net_profit_usd": usd(finding.profit_usd),
        "bot_address": finding.contract or finding.searcher,
        "bot_name": None,
        "bot_type": KIND_FAMILY.get(kind, kind),
        "detection_method": method,
        "confidence_score": Decimal(str(round(finding.confidence * 100, 2))).quantize(_CENT),
        "status": "reverted" if finding.status == Status.REVERTED else "executed",
        "usd_unpriced_reason": finding.unpriced_reason,
        "gross_profit_usd": usd(finding.gross_profit_usd),
        "block_hash": block.hash,
        "finding_id": finding.id,
        "victim_txs": list(finding.victim_txs),
        "searcher": finding.searcher,
        "contract": finding.contract,
        "nested_in": finding.nested_in,
        "counted": finding.counted,
        "protocols": list(finding.protocols),
        "pools": list(finding.pools),
        "attacker_tx_count": len(finding.attacker_txs),
        "coinbase_transfer_wei": finding.coinbase_transfer_wei,
        "private_mempool": private if isinstance(private, bool) else None,
        "profit_by_token": {t: str(v) for t, v in finding.profit_by_token.items()},
        "details": finding.details,
    }


_PROTOCOL_KINDS = frozenset(
    {
        ActionKind.SWAP,
        ActionKind.LIQUIDATION,
        ActionKind.LIQUIDITY_ADD,
        ActionKind.LIQUIDITY_REMOVE,
        ActionKind.LIQUIDITY_COLLECT,
    }
)


_STORED_EDGES = frozenset(GRAPH_EDGE_TYPES)


def graph_edges(decoded: Sequence[DecodedBlock]) -> list[tuple[EdgeRecord, ...]]:
    """The stored edges of each decoded block (aligned with ``decoded``).

    One property graph is built over the blocks and its edge list read once (a graph query has
    a fixed cost of a few ms: ingest passes a whole chunk). Edges carry only (chain, height), so
    two blocks of one height (a reorg inside the chunk) go into separate graphs."""
    rounds: list[list[int]] = []
    seen: list[set[tuple[int, int]]] = []
    for i, d in enumerate(decoded):
        key = (d.chain_id, d.number)
        r = next((j for j, keys in enumerate(seen) if key not in keys), len(rounds))
        if r == len(rounds):
            rounds.append([])
            seen.append(set())
        rounds[r].append(i)
        seen[r].add(key)
    out: list[tuple[EdgeRecord, ...]] = [() for _ in decoded]
    for idx in rounds:
        edges = _edges_of([decoded[i] for i in idx])
        for i in idx:
            out[i] = edges.get((decoded[i].chain_id, decoded[i].number), ())
    return out


def _edges_of(decoded: Sequence[DecodedBlock]) -> dict[tuple[int, int], tuple[EdgeRecord, ...]]:
    from mevgraph.graph.tables import PropertyGraph

    g = PropertyGraph.build(decoded)
    try:
        return edges_from_graph(g)
    finally:
        g.close()


def edges_from_graph(
    g: PropertyGraph, blocks: Collection[tuple[int, int]] | None = None
) -> dict[tuple[int, int], tuple[EdgeRecord, ...]]:
    """The stored edges of an already built graph, per (chain, height); only of ``blocks`` when
    given (a detection graph also holds look-back blocks). Ingest takes them from the graph the
    detectors used, so a block's graph is built once."""
    e = g.edges
    columns = ("type", "chain_id", "block_number", "tx_index", "src", "dst", "action_id")
    data = [e.column(c).to_pylist() for c in columns]
    out: dict[tuple[int, int], list[EdgeRecord]] = {}
    actions = g.actions
    for kind, chain, number, tx_index, src, dst, aid in zip(*data, strict=True):
        if kind not in _STORED_EDGES or src is None or dst is None:
            continue
        if blocks is not None and (chain, number) not in blocks:
            continue
        protocol = token = None
        amount: int | None = None
        if kind == "SENT":
            tx = dst
        elif aid is None:  # CALLED
            tx = src
        else:
            a = actions[aid]
            tx, protocol = a.tx_hash, a.protocol
            if isinstance(a, Transfer | FlashLoan):
                token, amount = a.token, a.amount
            elif isinstance(a, Swap):
                token, amount = a.token_in, a.amount_in
            elif isinstance(a, Liquidation):
                token, amount = a.debt_token, a.debt_amount
            elif isinstance(a, CoinbasePayment):
                token, amount = ETH, a.amount
            elif isinstance(a, LiquidityChange):
                amount = a.liquidity
        out.setdefault((chain, number), []).append(
            EdgeRecord(kind, tx, tx_index, src, dst, protocol, token, amount)
        )
    return {k: tuple(v) for k, v in out.items()}


def block_record(
    block: Block, decoded: DecodedBlock | None = None, edges: Sequence[EdgeRecord] | None = None
) -> BlockRecord:
    """The :class:`BlockRecord` of ``block``; ``decoded`` supplies per-protocol tx counts
    (swaps, liquidity changes, liquidations -- the activity MEV can leak from) and, unless
    ``edges`` are given (ingest derives them per chunk), the block's graph edges."""
    if block.hash is None:
        raise ValueError(f"block {block.number} has no hash: the store keys blocks by hash")
    per: dict[str, set[str]] = {}
    if decoded is not None:
        for a in decoded.actions:
            if a.kind in _PROTOCOL_KINDS:
                per.setdefault(a.protocol, set()).add(a.tx_hash)
    return BlockRecord(
        chain_id=block.chain_id,
        number=block.number,
        hash=block.hash,
        parent_hash=block.parent_hash,
        timestamp=block.timestamp,
        tx_count=len(block.transactions),
        protocol_txs={p: len(txs) for p, txs in sorted(per.items())},
        edges=tuple(edges) if edges is not None else (graph_edges([decoded])[0] if decoded else ()),
    )
