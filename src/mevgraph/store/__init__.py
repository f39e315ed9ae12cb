"""Persistent storage of findings, bots and leakage: PostgreSQL or an embedded DuckDB directory.

:func:`open_store` picks the backend from a target: a ``postgresql://`` (or ``postgres://``) URL
opens :class:`~mevgraph.store.postgres.PostgresStore`, anything else is a directory for
:class:`~mevgraph.store.embedded.EmbeddedStore`. Both apply pending migrations on open and
implement :class:`~mevgraph.store.base.Store` with the same SQL and results.
"""

from __future__ import annotations

import os
from pathlib import Path

from mevgraph.store.aggregates import SqlStore
from mevgraph.store.base import (
    OPPORTUNITY_TYPES,
    SORT_COLUMNS,
    BlockRecord,
    BotQuery,
    EdgeRecord,
    Funding,
    IngestResult,
    Neighbour,
    OpportunityPage,
    OpportunityQuery,
    Slice,
    Store,
    Totals,
)
from mevgraph.store.rows import block_record

__all__ = [
    "open_store",
    "DEFAULT_STORE",
    "ENV_VAR",
    "SqlStore",
    "Store",
    "BlockRecord",
    "BotQuery",
    "EdgeRecord",
    "Funding",
    "Neighbour",
    "Slice",
    "Totals",
    "IngestResult",
    "OpportunityPage",
    "OpportunityQuery",
    "OPPORTUNITY_TYPES",
    "SORT_COLUMNS",
    "block_record",
]

ENV_VAR = "MEVGRAPH_STORE"
DEFAULT_STORE = Path(".mevgraph") / "store"


def open_store(target: str | Path | None = None) -> SqlStore:
    """The store at ``target`` (URL or directory); None means ``$MEVGRAPH_STORE``, else
    ``./.mevgraph/store``. Migrations are applied before it is returned."""
    if target is None:
        target = os.environ.get(ENV_VAR) or DEFAULT_STORE
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        from mevgraph.store.postgres import PostgresStore

        return PostgresStore(text)
    from mevgraph.store.embedded import EmbeddedStore

    return EmbeddedStore(Path(text))
