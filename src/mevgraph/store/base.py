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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from mevgraph.detection.base import Finding

__all__ = [
    "BlockRecord",
    "OpportunityQuery",
    "OpportunityPage",
    "BotQuery",
    "Store",
    "IngestResult",
    "SORT_COLUMNS",
    "OPPORTUNITY_TYPES",
]

OPPORTUNITY_TYPES = ("sandwich", "frontrun", "backrun", "arbitrage", "liquidation", "jit")
SORT_COLUMNS = {"profit": "mev_profit_usd", "timestamp": "timestamp", "confidence": "confidence_score"}


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

    def close(self) -> None: ...
