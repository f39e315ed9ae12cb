"""The store contract: what every backend (PostgreSQL, embedded DuckDB) provides.

Rows follow the spec's schema (``../shared/spec/SPEC.md`` section 3) with these deliberate
differences, all documented in the migrations:

* ``mev_profit_usd`` is nullable, with ``usd_unpriced_reason``: USD exists only where an on-chain
  price exists -- never a silent 0;
* ``chain_id`` is stored as text as the spec says, ids are deterministic UUIDs (uuid5 of
  chain, block hash, kind and first attacker tx), so re-ingesting a block rewrites the same rows;
* extra columns keep what the spec cannot express: ``block_hash``, ``profit_by_token`` (raw
  integer amounts as JSON strings), ``victim_txs``, ``searcher``, ``contract``, ``nested_in``,
  ``details`` (JSON).

Writes are idempotent per ``(chain_id, block_hash)``; a block at a known height with another
hash is a reorg: every row of that height and above on that chain is removed first (orphans),
then the new block is written. Bots and leakage are recomputed for what a write touched.

Besides the findings, a block carries the edges of its property graph (:class:`EdgeRecord`,
written to ``graph_edges`` in the same transaction): they answer the investigator's graph
questions -- who sent a victim tx, who funded a bot, what lies within k hops of an address.
The graph reads take *batches* of keys and cost one SQL statement per batch, so a GraphQL
DataLoader turns a nested query into a bounded number of statements. Lists that can grow without
bound page by keyset (:class:`Slice`, opaque cursors), never by OFFSET.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from mevgraph.core.alerts import Alert, AlertFilter
from mevgraph.detection.base import Finding
from mevgraph.store.webhooks import AlertRule, DeadLetter, Undelivered

__all__ = [
    "BlockRecord",
    "OpportunityQuery",
    "OpportunityPage",
    "BotQuery",
    "Store",
    "IngestResult",
    "SORT_COLUMNS",
    "OPPORTUNITY_TYPES",
    "EdgeRecord",
    "Slice",
    "Totals",
    "Funding",
    "Neighbour",
    "GRAPH_EDGE_TYPES",
    "MAX_HOPS",
]

OPPORTUNITY_TYPES = ("sandwich", "frontrun", "backrun", "arbitrage", "liquidation", "jit")
SORT_COLUMNS = {"profit": "mev_profit_usd", "timestamp": "timestamp", "confidence": "confidence_score"}

GRAPH_EDGE_TYPES = (
    "SENT",
    "CALLED",
    "SWAPPED_ON",
    "TRANSFERRED",
    "LIQUIDATED",
    "FLASH_BORROWED",
    "ADDED_LIQUIDITY",
    "REMOVED_LIQUIDITY",
    "COLLECTED_FEES",
    "PAID_COINBASE",
)
"""The property graph's edge types the store keeps (``graph.tables.EDGE_TYPES`` without
``IN_BLOCK``, which the edge's own block column says, and ``HOLDS``, which the swaps imply)."""

MAX_HOPS = 3
"""Deepest neighbourhood :meth:`Store.neighbours` walks."""


@dataclass(frozen=True, slots=True)
class EdgeRecord:
    """One edge of a block's property graph as stored: ``src -> dst`` (addresses, or a tx hash
    for a transaction node), with the token and raw amount the edge moved when it moved one.

    ``SENT`` goes address -> tx and ``CALLED`` / ``SWAPPED_ON`` / ``LIQUIDATED`` /
    ``FLASH_BORROWED`` / ``*_LIQUIDITY`` / ``PAID_COINBASE`` go tx -> address; ``TRANSFERRED``
    goes address -> address (ETH value transfers included, token ``0xeeee...``)."""

    edge_type: str
    tx_hash: str | None
    tx_index: int | None
    src: str
    dst: str
    protocol: str | None = None
    token: str | None = None
    amount_raw: int | None = None


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """A block as seen by ingest: identity, time and the per-protocol activity leakage needs."""

    chain_id: int
    number: int
    hash: str
    parent_hash: str | None
    timestamp: int | None  # unix seconds; None when the source lacks it (no leakage row then)
    tx_count: int
    # protocol label -> number of distinct txs that touched it (swaps, liquidity, liquidations)
    protocol_txs: dict[str, int] = field(default_factory=dict)
    # hashes of this block's txs that a mempool monitor saw pending before the block; None when
    # no monitor was watching (then nothing can be said about private flow)
    pending_seen: frozenset[str] | None = None
    # the block's property-graph edges (``graph_edges``); empty when built without a decode
    edges: tuple[EdgeRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class IngestResult:
    written: int  # opportunities written for this block
    unchanged: bool  # the block was already stored with this hash
    reorged: tuple[int, ...] = ()  # heights whose orphaned rows were removed
    retracted: tuple[str, ...] = ()  # ids of the orphaned opportunities removed by the reorg


@dataclass(slots=True)
class OpportunityQuery:
    chains: list[str] | None = None
    opportunity_types: list[str] | None = None
    min_profit: Decimal | None = None
    bot_address: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    sort_by: str = "timestamp"  # profit | timestamp | confidence
    sort_order: str = "desc"
    page: int = 1
    limit: int = 50


@dataclass(slots=True)
class OpportunityPage:
    # spec columns + extras, snake_case, Decimals for money; without ``details`` (see ``opportunity``)
    rows: list[dict[str, Any]]
    total: int
    total_mev_extracted: Decimal
    total_victim_loss: Decimal
    avg_profit_per_opportunity: Decimal | None


@dataclass(slots=True)
class BotQuery:
    chains: list[str] | None = None
    bot_type: str | None = None
    sort_by: str = "total_mev_extracted"
    sort_order: str = "desc"
    page: int = 1
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Slice:
    """One keyset page: ``rows`` in order, the opaque cursor of each row (pass the last one as
    ``after`` for the next page) and whether more rows follow."""

    rows: list[dict[str, Any]]
    cursors: list[str]
    has_next: bool


@dataclass(frozen=True, slots=True)
class Totals:
    """Count and sums over a filtered set of opportunities (nested findings not summed)."""

    total: int
    total_mev_extracted: Decimal
    total_victim_loss: Decimal
    avg_profit_per_opportunity: Decimal | None


@dataclass(frozen=True, slots=True)
class Funding:
    """The first ETH an address received: from whom, in which tx, how much (wei)."""

    funder: str
    tx_hash: str | None
    block_number: int
    amount_wei: int


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A node within k hops: an address, or a transaction (``kind`` tells which); ``hops`` is
    the shortest distance and ``edge_types`` the edge types that reached it at that distance."""

    node: str
    kind: str  # "address" | "transaction"
    hops: int
    edge_types: tuple[str, ...]


class Store(Protocol):
    """One backend. Methods are synchronous; a backend is used from one thread at a time or is
    internally thread-safe (the API runs handlers in a thread pool)."""

    url: str

    def upgrade(self) -> list[str]:
        """Apply pending migrations; returns the versions applied (idempotent)."""
        ...

    def ingest_block(self, block: BlockRecord, findings: list[Finding]) -> IngestResult:
        """Write ``block`` and its findings (idempotent, reorg-aware; see the module doc)."""
        ...

    def opportunities(self, q: OpportunityQuery) -> OpportunityPage: ...

    def opportunity(self, opportunity_id: str) -> dict[str, Any] | None: ...

    def bots(self, q: BotQuery) -> tuple[list[dict[str, Any]], int]: ...

    def bot(self, address: str, chain_id: str | None = None) -> dict[str, Any] | None: ...

    def leakage(
        self, protocol: str | None, chain: str | None, start: date | None, end: date | None
    ) -> list[dict[str, Any]]: ...

    def blocks(self, chain_id: int) -> list[tuple[int, str]]:
        """(number, hash) of every stored block of ``chain_id``, ascending."""
        ...

    def create_api_key(self, scopes: list[str], name: str | None = None) -> str:
        """A new key (returned once, stored hashed)."""
        ...

    def api_key_scopes(self, key: str) -> list[str] | None:
        """Scopes of ``key``, or None if unknown/revoked."""
        ...

    # -- investigator reads (GraphQL): keyset pages and batched lookups -------------------------

    def opportunity_slice(self, q: OpportunityQuery, after: str | None = None) -> Slice:
        """``q.limit`` opportunities after cursor ``after`` in ``q``'s order (``q.page`` unused);
        a cursor of another sort is a ``ValueError``."""
        ...

    def opportunity_totals(self, q: OpportunityQuery) -> Totals: ...

    def bot_slice(self, q: BotQuery, after: str | None = None) -> Slice: ...

    def bot_count(self, q: BotQuery) -> int: ...

    def opportunities_by_ids(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Full rows (``details`` included) by id; unknown or malformed ids are left out."""
        ...

    def bots_by_address(
        self, keys: list[tuple[str | None, str]]
    ) -> dict[tuple[str | None, str], dict[str, Any]]:
        """Bot rows by (chain or None, address); None picks the chain where it extracted most."""
        ...

    def bot_opportunities(
        self, keys: list[tuple[str, str]], q: OpportunityQuery, after: str | None = None
    ) -> dict[tuple[str, str], Slice]:
        """A keyset page of opportunities per (chain, bot), ``q`` supplying filters, order and
        ``limit``; ``q.bot_address``/``q.chains`` are replaced by each key."""
        ...

    def bot_accounts(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
        """(contracts, EOAs) each bot acted through (``contract``/``searcher`` columns)."""
        ...

    def bot_top(
        self, keys: list[tuple[str, str]], what: str, first: int
    ) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Per bot its top ``what`` (``pools``, ``tokens``, ``protocols``, ``victims``) by number
        of counted opportunities: ``value``, ``opportunities``, ``mev_profit_usd``."""
        ...

    def bot_daily(
        self, keys: list[tuple[str, str]], start: date | None, end: date | None
    ) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Per bot and UTC day: ``day``, ``opportunities``, ``mev_profit_usd`` (gross),
        ``net_profit_usd``, ``victim_loss_usd`` (counted, timestamped opportunities)."""
        ...

    def tx_senders(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Sender address of each known (chain, tx hash) (``SENT`` edges)."""
        ...

    def funders(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Funding]:
        """First ETH received per (chain, address), by block, tx index and position."""
        ...

    def neighbours(
        self, keys: list[tuple[str, str]], hops: int, edge_types: list[str] | None, first: int
    ) -> dict[tuple[str, str], list[Neighbour]]:
        """Nodes within ``hops`` (1..:data:`MAX_HOPS`) of each (chain, address), edges taken in
        either direction, nearest first (then by node), at most ``first`` per key."""
        ...

    def pool_info(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """``chain_id``, ``address``, ``protocol`` and ``tokens`` of each (chain, pool) seen in
        ``graph_edges`` (swapped on or its liquidity changed); unknown pools are left out."""
        ...

    def mev_stats(self, what: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """MEV statistics per (chain, pool or protocol) (``what``): ``opportunities``,
        ``counted``, ``priced``, ``mev_profit_usd`` and ``victim_loss_usd`` (sums over counted
        rows; None when none is priced), ``bots`` (distinct) and ``top_bots`` (top 5 by MEV)."""
        ...

    def pool_leakage(
        self, chain: str, pool: str, start: date | None, end: date | None
    ) -> list[dict[str, Any]]:
        """Per UTC day, the leakage row shape for one pool (newest first)."""
        ...

    def close(self) -> None: ...

    # -- webhooks (see mevgraph.store.webhooks) ----------------------------------------------------

    def create_alert_rule(
        self,
        key_identity: str,
        url: str,
        filter: AlertFilter | None = None,
        *,
        name: str | None = None,
        secret: str | None = None,
        active: bool = True,
    ) -> AlertRule:
        """A new webhook rule of an API key (``secret`` generated when not given)."""
        ...

    def alert_rules(self, key_identity: str | None = None, active_only: bool = True) -> list[AlertRule]: ...

    def alert_rule(self, rule_id: str, key_identity: str | None = None) -> AlertRule | None: ...

    def set_alert_rule_active(self, rule_id: str, active: bool, key_identity: str | None = None) -> bool: ...

    def delete_alert_rule(self, rule_id: str, key_identity: str | None = None) -> bool:
        """Delete a rule and its dead letters; False if unknown or another key's."""
        ...

    def add_dead_letter(
        self,
        rule_id: str,
        alert: Alert,
        *,
        attempts: int,
        last_status: int | None = None,
        last_error: str | None = None,
    ) -> DeadLetter | None:
        """Record an undeliverable alert; None if the rule no longer exists."""
        ...

    def add_dead_letters(self, failures: list[Undelivered]) -> list[DeadLetter]:
        """Record many undeliverable alerts at once (those of deleted rules are skipped)."""
        ...

    def dead_letters(
        self, *, rule_id: str | None = None, key_identity: str | None = None, limit: int = 100
    ) -> list[DeadLetter]: ...

    def delete_dead_letters(self, ids: list[str], key_identity: str | None = None) -> int: ...
