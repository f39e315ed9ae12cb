"""GraphQL for investigators, mounted on the REST app at ``/graphql`` (GraphiQL on ``GET``).

Schema (field names as in the REST models, camelCase; money is ``Float``, ``null`` = unpriced or
unknown, never 0; raw token amounts are decimal ``String``\\s):

* ``opportunities(filter, sort, first, after)`` -- the REST filters, keyset pagination (opaque
  cursors, ``pageInfo { hasNextPage endCursor }``), ``totalCount`` and ``summary``;
  ``opportunity(id)``;
* ``bots(filter, sort, first, after)``; ``bot(address, chain)`` with ``opportunities``,
  ``contracts``, ``eoas``, ``funders`` (who first sent each EOA ETH), ``victims``, ``pools``,
  ``tokens``, ``protocols`` and the daily ``profitSeries``;
* ``address(address, chain)`` with ``neighbours(hops <= 3, edgeTypes, first)`` over the stored
  property graph, ``funder`` and ``bot``; ``pool(address, chain)`` and ``protocol(id, chain)``
  with ``stats`` and ``leakage(startDate, endDate)``;
* ``subscription alerts(filter)`` over ``graphql-transport-ws``: the alerts of the app's bus
  (:mod:`mevgraph.ingest.bus`) that pass the filter, filtered on the server.

**Batching.** Every nested field reads through a per-operation loader (:class:`BatchLoader`) whose batch function
is one store statement (:mod:`mevgraph.store.graph`), so a query costs at most one statement per
nesting level and field, whatever the width: ``bot -> 100 opportunities -> victims, pools`` is
four statements (bot, its opportunities, victim senders, pool facts).

**Limits**, all answered as GraphQL errors (HTTP 200, ``errors``; never a 5xx):

* depth at most :data:`MAX_DEPTH` (``QueryDepthLimiter``), at most :data:`MAX_ALIASES` aliases,
  at most :data:`MAX_TOKENS` tokens per document (parser limit);
* cost at most :data:`MAX_COST`: every selected field costs 1, times the ``first`` of each list
  field around it (its default when not given) -- so ``bots(first: 100) { opportunities(first:
  100) { ... } }`` costs 10,000 per selected field below and is refused beyond the budget;
* ``first`` in 1..:data:`MAX_FIRST` on every list.

Bad input (a malformed address, a negative ``minProfit``, an unknown stage, a foreign cursor)
is an error with ``extensions.code = "BAD_USER_INPUT"``; an unexpected failure is logged and
answered as ``"unexpected server error"`` without details.

**Auth.** The same keys and limits as REST: HTTP requests need ``X-API-Key`` with scope ``read``
(unless the app allows anonymous use) and count against the key's (or client IP's) per-minute
limit; failures are the REST JSON errors with status 401/403/429 -- a GraphQL client sees the
HTTP status before any GraphQL is parsed. Opening GraphiQL (a ``GET`` for HTML without a query)
needs no key; its requests carry one through its headers pane. A websocket sends the key in the
``connection_init`` payload (``{"X-API-Key": ...}`` or ``{"apiKey": ...}``) or as a handshake
header; a missing or unknown key, a key without scope or a rate-limited one closes the socket
with ``4403 Forbidden``. A connection counts one request against the limit.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import strawberry
from fastapi import FastAPI
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    validate,
    value_from_ast,
)
from graphql import GraphQLSchema as CoreSchema
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.scalars import JSON
from strawberry.types.unset import UNSET, UnsetType

from mevgraph.api.models import iso_time, money
from mevgraph.core.alerts import STAGES, Alert, AlertFilter
from mevgraph.store.base import (
    GRAPH_EDGE_TYPES,
    MAX_HOPS,
    OPPORTUNITY_TYPES,
    BotQuery,
    Funding,
    Neighbour,
    OpportunityQuery,
    Slice,
)

if TYPE_CHECKING:
    from mevgraph.api.app import _Api

__all__ = ["build_schema", "mount_graphql", "MAX_DEPTH", "MAX_COST", "MAX_FIRST", "MAX_ALIASES", "MAX_TOKENS"]

log = logging.getLogger(__name__)

MAX_DEPTH = 10
MAX_COST = 20_000
MAX_FIRST = 500
MAX_ALIASES = 30
MAX_TOKENS = 2_000
DEFAULT_FIRST = 50
DEFAULT_TOP = 10
MAX_MONEY = 10**18

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_CHAIN = re.compile(r"^[0-9]{1,20}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


# -- errors and input checks ---------------------------------------------------------------------


class UserError(GraphQLError):
    """Bad input: shown to the client as is, with ``extensions.code = "BAD_USER_INPUT"``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


def _address(value: str, name: str) -> str:
    if not _ADDRESS.match(value):
        raise UserError(f"{name}: an address is 0x followed by 40 hex digits")
    return value.lower()


def _chain(value: str | None, name: str = "chain") -> str | None:
    if value is None:
        return None
    if not _CHAIN.match(value):
        raise UserError(f"{name}: a chain id is decimal digits")
    return value


def _chains(values: list[str] | None) -> list[str] | None:
    return [c for c in (_chain(v, "chains") for v in values) if c is not None] or None if values else None


def _first(value: int, name: str = "first") -> int:
    if not 1 <= value <= MAX_FIRST:
        raise UserError(f"{name} must be in 1..{MAX_FIRST}")
    return value


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dates(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and start > end:
        raise UserError("startDate must not be after endDate")


async def _call(info: strawberry.Info[Context, None], fn: Callable[..., V], *args: Any) -> V:
    """``fn(*args)`` on the store, in the thread pool; its ``ValueError`` is bad input."""
    api = info.context.api
    try:
        return await run_in_threadpool(api.call, fn, *args)
    except ValueError as exc:
        raise UserError(str(exc)) from None


# -- enums and inputs ----------------------------------------------------------------------------


@strawberry.enum
class OpportunityType(enum.Enum):
    SANDWICH = "sandwich"
    FRONTRUN = "frontrun"
    BACKRUN = "backrun"
    ARBITRAGE = "arbitrage"
    LIQUIDATION = "liquidation"
    JIT = "jit"


@strawberry.enum
class BotType(enum.Enum):
    SANDWICH = "sandwich"
    FRONTRUN = "frontrun"
    ARBITRAGE = "arbitrage"
    LIQUIDATION = "liquidation"
    JIT = "jit"
    GENERALIST = "generalist"


@strawberry.enum
class SortOrder(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.enum
class OpportunitySortField(enum.Enum):
    PROFIT = "profit"
    TIMESTAMP = "timestamp"
    CONFIDENCE = "confidence"


@strawberry.enum
class BotSortField(enum.Enum):
    TOTAL_MEV_EXTRACTED = "total_mev_extracted"
    TOTAL_TRANSACTIONS = "total_transactions"
    AVG_PROFIT_PER_TX = "avg_profit_per_tx"
    SUCCESS_RATE = "success_rate"
    FIRST_SEEN = "first_seen"
    LAST_ACTIVE = "last_active"
    TOTAL_OPPORTUNITIES = "total_opportunities"
    SOPHISTICATION_SCORE = "sophistication_score"
    ACTIVE_DAYS = "active_days"


@strawberry.enum
class EdgeType(enum.Enum):
    SENT = "SENT"
    CALLED = "CALLED"
    SWAPPED_ON = "SWAPPED_ON"
    TRANSFERRED = "TRANSFERRED"
    LIQUIDATED = "LIQUIDATED"
    FLASH_BORROWED = "FLASH_BORROWED"
    ADDED_LIQUIDITY = "ADDED_LIQUIDITY"
    REMOVED_LIQUIDITY = "REMOVED_LIQUIDITY"
    COLLECTED_FEES = "COLLECTED_FEES"
    PAID_COINBASE = "PAID_COINBASE"


assert {t.value for t in OpportunityType} == set(OPPORTUNITY_TYPES)
assert {t.value for t in EdgeType} == set(GRAPH_EDGE_TYPES)


@strawberry.input(
    description="The REST filters of /v1/mev/opportunities (time: start inclusive, end exclusive)."
)
class OpportunityFilter:
    chains: list[str] | None = None
    opportunity_types: list[OpportunityType] | None = None
    min_profit: float | None = strawberry.field(default=None, description="USD; unpriced rows never match")
    bot_address: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


@strawberry.input
class OpportunitySort:
    by: OpportunitySortField = OpportunitySortField.TIMESTAMP
    order: SortOrder = SortOrder.DESC


@strawberry.input
class BotFilter:
    chains: list[str] | None = None
    bot_type: BotType | None = None


@strawberry.input
class BotSort:
    by: BotSortField = BotSortField.TOTAL_MEV_EXTRACTED
    order: SortOrder = SortOrder.DESC


@strawberry.input(description="Server-side alert filter: empty fields match everything (see AlertFilter).")
class AlertFilterInput:
    kinds: list[OpportunityType] | None = None
    chains: list[int] | None = None
    min_profit_usd: float | None = None
    pools: list[str] | None = None
    bots: list[str] | None = None
    protocols: list[str] | None = None
    stages: list[str] | None = strawberry.field(default=None, description=f"any of {', '.join(STAGES)}")


def _opportunity_query(
    f: OpportunityFilter | None, sort: OpportunitySort | None, first: int
) -> OpportunityQuery:
    f = f or OpportunityFilter()
    sort = sort or OpportunitySort()
    start, end = _utc(f.start_time), _utc(f.end_time)
    if start is not None and end is not None and start > end:
        raise UserError("filter.startTime must not be after filter.endTime")
    min_profit = None
    if f.min_profit is not None:
        if not math.isfinite(f.min_profit) or not 0 <= f.min_profit <= MAX_MONEY:
            raise UserError(f"filter.minProfit must be in 0..{MAX_MONEY}")
        min_profit = Decimal(repr(f.min_profit)).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    return OpportunityQuery(
        chains=_chains(f.chains),
        opportunity_types=[t.value for t in f.opportunity_types] if f.opportunity_types else None,
        min_profit=min_profit,
        bot_address=_address(f.bot_address, "filter.botAddress") if f.bot_address else None,
        start_time=start,
        end_time=end,
        sort_by=sort.by.value,
        sort_order=sort.order.value,
        limit=_first(first),
    )


def alert_filter(f: AlertFilterInput | None) -> AlertFilter:
    """The bus filter of a subscription's input; bad values are a :class:`UserError`."""
    if f is None:
        return AlertFilter()
    if f.stages and not set(f.stages) <= set(STAGES):
        raise UserError(f"filter.stages: each one of {', '.join(STAGES)}")
    if f.min_profit_usd is not None and (not math.isfinite(f.min_profit_usd) or f.min_profit_usd < 0):
        raise UserError("filter.minProfitUsd must be a non-negative number")
    if f.chains and any(c < 0 for c in f.chains):
        raise UserError("filter.chains: chain ids are non-negative")
    return AlertFilter.of(
        kinds=[k.value for k in f.kinds] if f.kinds else None,
        chains=f.chains,
        min_profit_usd=f.min_profit_usd,
        pools=[_address(p, "filter.pools") for p in f.pools] if f.pools else None,
        bots=[_address(b, "filter.bots") for b in f.bots] if f.bots else None,
        protocols=f.protocols,
        stages=f.stages,
    )


# -- loaders ------------------------------------------------------------------------------------


class BatchLoader(Generic[K, V]):
    """A DataLoader: ``load(key)`` is cached per operation and the keys of one nesting level
    are fetched with one ``fetch(keys)`` call.

    Unlike ``strawberry.dataloader.DataLoader``, which closes a batch one loop iteration after
    its first key, a batch stays open until :data:`_SETTLE_TICKS` loop iterations pass without a
    new key: sibling resolvers reach a loader a varying number of awaits apart (one level of
    ``bots -> opportunities -> pools`` was measured split into two statements), and a few idle
    iterations cost microseconds, a split batch a statement."""

    def __init__(self, fetch: Callable[[list[K]], Awaitable[list[V | None]]]) -> None:
        self._fetch = fetch
        self._futures: dict[K, asyncio.Future[V | None]] = {}
        self._pending: list[K] = []
        self._flushing: asyncio.Task[None] | None = None

    def load(self, key: K) -> asyncio.Future[V | None]:
        fut = self._futures.get(key)
        if fut is None:
            fut = self._futures[key] = asyncio.get_running_loop().create_future()
            self._pending.append(key)
            if self._flushing is None:
                self._flushing = asyncio.ensure_future(self._flush())
        return fut

    async def load_many(self, keys: Sequence[K]) -> list[V | None]:
        return list(await asyncio.gather(*(self.load(k) for k in keys)))

    async def _flush(self) -> None:
        seen = -1
        while seen != len(self._pending):
            seen = len(self._pending)
            for _ in range(_SETTLE_TICKS):
                await asyncio.sleep(0)
        keys, self._pending, self._flushing = self._pending, [], None
        try:
            values = await self._fetch(keys)
        except BaseException as exc:
            for k in keys:
                self._futures.pop(k).set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for k, v in zip(keys, values, strict=True):
            if not self._futures[k].done():
                self._futures[k].set_result(v)


_SETTLE_TICKS = 4


def _loader(
    api: _Api, group: Callable[[K], Hashable], fetch: Callable[[list[K]], dict[K, V]]
) -> BatchLoader[K, V]:
    """A loader whose batch is split by ``group`` (keys sharing arguments such as ``first``),
    each group being one store call (one statement) in the thread pool."""

    async def load(keys: list[K]) -> list[V | None]:
        groups: dict[Hashable, list[K]] = {}
        for k in keys:
            groups.setdefault(group(k), []).append(k)
        found: dict[K, V] = {}
        for members in groups.values():
            found.update(await run_in_threadpool(api.call, fetch, members))
        return [found.get(k) for k in keys]

    return BatchLoader(load)


def _same(_: Any) -> int:
    return 0


class Loaders:
    """Per-operation DataLoaders (a fresh set per query: no cross-request caching)."""

    def __init__(self, api: _Api) -> None:
        st = api.store
        self.bot = _loader(api, _same, st.bots_by_address)
        self.opportunity = _loader(api, _same, st.opportunities_by_ids)
        self.sender = _loader(api, _same, st.tx_senders)
        self.funder = _loader(api, _same, st.funders)
        self.accounts = _loader(api, _same, st.bot_accounts)
        self.pool = _loader(api, _same, st.pool_info)
        # keys: (chain, bot, query, after) -> Slice
        self.bot_opportunities: BatchLoader[tuple[str, str, _QKey, str | None], Slice] = _loader(
            api,
            lambda k: (k[2], k[3]),
            lambda keys: _bot_opportunities(st, keys),
        )
        # keys: (chain, bot, what, first)
        self.top: BatchLoader[tuple[str, str, str, int], list[dict[str, Any]]] = _loader(
            api,
            lambda k: (k[2], k[3]),
            lambda keys: {
                (c, b, keys[0][2], keys[0][3]): v
                for (c, b), v in st.bot_top([(k[0], k[1]) for k in keys], keys[0][2], keys[0][3]).items()
            },
        )
        # keys: (chain, bot, start, end)
        self.daily: BatchLoader[tuple[str, str, date | None, date | None], list[dict[str, Any]]] = _loader(
            api,
            lambda k: (k[2], k[3]),
            lambda keys: {
                (c, b, keys[0][2], keys[0][3]): v
                for (c, b), v in st.bot_daily([(k[0], k[1]) for k in keys], keys[0][2], keys[0][3]).items()
            },
        )
        # keys: (chain, address, hops, edge types, first)
        self.neighbours: BatchLoader[tuple[str, str, int, tuple[str, ...] | None, int], list[Neighbour]] = (
            _loader(
                api,
                lambda k: (k[2], k[3], k[4]),
                lambda keys: {
                    (c, a, keys[0][2], keys[0][3], keys[0][4]): v
                    for (c, a), v in st.neighbours(
                        [(k[0], k[1]) for k in keys],
                        keys[0][2],
                        list(keys[0][3]) if keys[0][3] else None,
                        keys[0][4],
                    ).items()
                },
            )
        )
        # keys: (what, chain, value)
        self.stats: BatchLoader[tuple[str, str, str], dict[str, Any]] = _loader(
            api,
            lambda k: k[0],
            lambda keys: {
                (keys[0][0], c, v): s
                for (c, v), s in st.mev_stats(keys[0][0], [(k[1], k[2]) for k in keys]).items()
            },
        )


_QKey = tuple[tuple[str, ...], Decimal | None, datetime | None, datetime | None, str, str, int]
"""An opportunity query as a hashable loader key (filters, order, page size)."""


def _query_key(q: OpportunityQuery) -> _QKey:
    return (
        tuple(q.opportunity_types or ()),
        q.min_profit,
        q.start_time,
        q.end_time,
        q.sort_by,
        q.sort_order,
        q.limit,
    )


def _bot_opportunities(
    st: Any, keys: list[tuple[str, str, _QKey, str | None]]
) -> dict[tuple[str, str, _QKey, str | None], Slice]:
    types, min_profit, start, end, sort_by, order, limit = keys[0][2]
    q = OpportunityQuery(
        opportunity_types=list(types) or None,
        min_profit=min_profit,
        start_time=start,
        end_time=end,
        sort_by=sort_by,
        sort_order=order,
        limit=limit,
    )
    found = st.bot_opportunities([(k[0], k[1]) for k in keys], q, keys[0][3])
    return {k: found[(k[0], k[1])] for k in keys if (k[0], k[1]) in found}


class Context(BaseContext):
    """Per connection: the app's shared state and the current operation's loaders."""

    def __init__(self, api: _Api, api_key: str | None = None) -> None:
        super().__init__()
        self.api = api
        self.api_key = api_key
        self.loaders = Loaders(api)


class _FreshLoaders(SchemaExtension):
    """A new set of loaders per operation: a websocket connection shares one context across
    its operations, and a loader must never serve one operation's rows to a later one."""

    def on_operation(self) -> Any:
        ctx = self.execution_context.context
        if isinstance(ctx, Context):
            ctx.loaders = Loaders(ctx.api)
        yield


# -- output types -------------------------------------------------------------------------------


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Transactions:
    target_tx_hash: str | None
    mev_tx_hashes: list[str]


@strawberry.type
class Tokens:
    addresses: list[str]
    symbols: list[str | None]


@strawberry.type
class ProtocolInfo:
    protocol_id: str | None
    protocol_name: str | None
    dex_name: str | None


@strawberry.type
class Financials:
    mev_profit_usd: float | None
    victim_loss_usd: float | None
    gas_cost_usd: float | None
    net_profit_usd: float | None


@strawberry.type
class Detection:
    method: str | None
    confidence_score: float | None


@strawberry.type
class Extras:
    block_hash: str | None
    finding_id: str | None
    counted: bool | None
    victim_txs: list[str]
    profit_by_token: JSON = strawberry.field(description="token -> raw amount (decimal string)")
    usd_unpriced_reason: str | None
    searcher: str | None
    contract: str | None
    nested_in: str | None
    protocols: list[str]
    pools: list[str]
    coinbase_transfer_wei: str | None


@strawberry.type
class Victim:
    chain_id: strawberry.Private[str]
    tx_hash: str

    @strawberry.field(description="the victim tx's sender (null when its block's edges are not stored)")
    async def address(self, info: strawberry.Info[Context, None]) -> str | None:
        return await info.context.loaders.sender.load((self.chain_id, self.tx_hash))


@strawberry.type
class BotRef:
    chain_id: strawberry.Private[str]
    address: str | None
    name: str | None
    type: str | None

    @strawberry.field(description="the bot's profile (null for a bot of uncounted findings only)")
    async def profile(self, info: strawberry.Info[Context, None]) -> Bot | None:
        if self.address is None:
            return None
        row = await info.context.loaders.bot.load((self.chain_id, self.address))
        return Bot.of(row) if row else None


def _strs(values: Any) -> list[str]:
    return [str(v) for v in values or ()]


@strawberry.type
class Opportunity:
    row: strawberry.Private[dict[str, Any]]
    id: strawberry.ID
    opportunity_type: str
    chain_id: str
    block_number: int
    timestamp: str | None
    status: str | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Opportunity:
        return cls(
            row=row,
            id=strawberry.ID(str(row["id"])),
            opportunity_type=str(row["opportunity_type"]),
            chain_id=str(row["chain_id"]),
            block_number=int(row["block_number"]),
            timestamp=iso_time(row.get("timestamp")),
            status=row.get("status"),
        )

    @strawberry.field
    def transactions(self) -> Transactions:
        return Transactions(
            target_tx_hash=self.row.get("target_tx_hash"), mev_tx_hashes=_strs(self.row.get("mev_tx_hashes"))
        )

    @strawberry.field
    def tokens(self) -> Tokens:
        return Tokens(
            addresses=_strs(self.row.get("token_addresses")),
            symbols=list(self.row.get("token_symbols") or ()),
        )

    @strawberry.field
    def protocol(self) -> ProtocolInfo:
        r = self.row
        return ProtocolInfo(
            protocol_id=r.get("protocol_id"), protocol_name=r.get("protocol_name"), dex_name=r.get("dex_name")
        )

    @strawberry.field
    def financials(self) -> Financials:
        r = self.row
        return Financials(
            mev_profit_usd=money(r.get("mev_profit_usd")),
            victim_loss_usd=money(r.get("victim_loss_usd")),
            gas_cost_usd=money(r.get("gas_cost_usd")),
            net_profit_usd=money(r.get("net_profit_usd")),
        )

    @strawberry.field
    def bot(self) -> BotRef:
        r = self.row
        return BotRef(
            chain_id=self.chain_id,
            address=r.get("bot_address"),
            name=r.get("bot_name"),
            type=r.get("bot_type"),
        )

    @strawberry.field
    def detection(self) -> Detection:
        return Detection(
            method=self.row.get("detection_method"), confidence_score=money(self.row.get("confidence_score"))
        )

    @strawberry.field
    def extras(self) -> Extras:
        r = self.row
        coinbase = r.get("coinbase_transfer_wei")
        return Extras(
            block_hash=r.get("block_hash"),
            finding_id=r.get("finding_id"),
            counted=r.get("counted"),
            victim_txs=_strs(r.get("victim_txs")),
            profit_by_token=JSON({str(k): str(v) for k, v in (r.get("profit_by_token") or {}).items()}),
            usd_unpriced_reason=r.get("usd_unpriced_reason"),
            searcher=r.get("searcher"),
            contract=r.get("contract"),
            nested_in=r.get("nested_in"),
            protocols=_strs(r.get("protocols")),
            pools=_strs(r.get("pools")),
            coinbase_transfer_wei=None if coinbase is None else str(coinbase),
        )

    @strawberry.field(description="the detector's evidence (JSON)")
    async def details(self, info: strawberry.Info[Context, None]) -> JSON | None:
        if "details" in self.row:
            return self.row["details"]
        full = await info.context.loaders.opportunity.load(str(self.id))
        return full.get("details") if full else None

    @strawberry.field
    def victims(self) -> list[Victim]:
        return [Victim(chain_id=self.chain_id, tx_hash=t) for t in _strs(self.row.get("victim_txs"))]

    @strawberry.field
    def pools(self) -> list[Pool]:
        return [Pool(chain_id=self.chain_id, address=p) for p in _strs(self.row.get("pools"))]


@strawberry.type
class OpportunityEdge:
    cursor: str
    node: Opportunity


@strawberry.type
class Summary:
    total_mev_extracted: float
    total_victim_loss: float
    avg_profit_per_opportunity: float | None


def _edges(page: Slice) -> list[OpportunityEdge]:
    return [
        OpportunityEdge(cursor=c, node=Opportunity.of(r))
        for r, c in zip(page.rows, page.cursors, strict=True)
    ]


@strawberry.type(description="A page of a bot's opportunities (no totals: see the bot's figures).")
class OpportunityPage:
    edges: list[OpportunityEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, page: Slice) -> OpportunityPage:
        return cls(
            edges=_edges(page),
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=page.cursors[-1] if page.cursors else None
            ),
        )

    @strawberry.field
    def nodes(self) -> list[Opportunity]:
        return [e.node for e in self.edges]


@strawberry.type
class OpportunityConnection:
    query: strawberry.Private[OpportunityQuery]
    edges: list[OpportunityEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Opportunity]:
        return [e.node for e in self.edges]

    @strawberry.field(description="opportunities matching the filter (all pages)")
    async def total_count(self, info: strawberry.Info[Context, None]) -> int:
        totals = await _call(info, info.context.api.store.opportunity_totals, self.query)
        return totals.total

    @strawberry.field(description="sums over every matching counted opportunity (all pages)")
    async def summary(self, info: strawberry.Info[Context, None]) -> Summary:
        t = await _call(info, info.context.api.store.opportunity_totals, self.query)
        return Summary(
            total_mev_extracted=money(t.total_mev_extracted) or 0.0,
            total_victim_loss=money(t.total_victim_loss) or 0.0,
            avg_profit_per_opportunity=money(t.avg_profit_per_opportunity),
        )


@strawberry.type
class Ranked:
    value: str = strawberry.field(description="a pool, token, protocol or victim address")
    opportunities: int
    mev_profit_usd: float | None = strawberry.field(description="gross MEV of those opportunities")


@strawberry.type
class DailyProfit:
    date: str
    opportunities: int
    priced: int = strawberry.field(description="how many of them have a USD price")
    mev_profit_usd: float | None
    net_profit_usd: float | None
    victim_loss_usd: float | None


@strawberry.type
class Funder:
    address: str = strawberry.field(description="the funded address")
    funder: str
    tx_hash: str | None
    block_number: int
    amount_wei: str

    @classmethod
    def of(cls, address: str, f: Funding) -> Funder:
        return cls(
            address=address,
            funder=f.funder,
            tx_hash=f.tx_hash,
            block_number=f.block_number,
            amount_wei=str(f.amount_wei),
        )


_BOT_FIELDS = (
    "bot_name",
    "bot_type",
    "verified",
    "total_transactions",
    "active_days",
    "uses_flashbots",
    "uses_private_mempool",
    "total_opportunities",
)


@strawberry.type
class Bot:
    bot_address: str
    chain_id: str
    bot_name: str | None
    bot_type: str | None
    verified: bool | None
    total_mev_extracted: float | None
    total_transactions: int | None
    success_rate: float | None
    avg_profit_per_tx: float | None
    first_seen: str | None
    last_active: str | None
    active_days: int | None
    preferred_opportunity_types: list[str]
    preferred_protocols: list[str]
    preferred_tokens: list[str]
    sophistication_score: float | None
    uses_flashbots: bool | None
    uses_private_mempool: bool | None
    total_opportunities: int | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Bot:
        return cls(
            bot_address=str(row["bot_address"]),
            chain_id=str(row["chain_id"]),
            **{k: row.get(k) for k in _BOT_FIELDS},
            total_mev_extracted=money(row.get("total_mev_extracted")),
            success_rate=money(row.get("success_rate")),
            avg_profit_per_tx=money(row.get("avg_profit_per_tx")),
            sophistication_score=money(row.get("sophistication_score")),
            first_seen=iso_time(row.get("first_seen")),
            last_active=iso_time(row.get("last_active")),
            preferred_opportunity_types=_strs(row.get("preferred_opportunity_types")),
            preferred_protocols=_strs(row.get("preferred_protocols")),
            preferred_tokens=_strs(row.get("preferred_tokens")),
        )

    @property
    def _key(self) -> tuple[str, str]:
        return (self.chain_id, self.bot_address)

    @strawberry.field(description="its opportunities (the filter's chains and botAddress are the bot's)")
    async def opportunities(
        self,
        info: strawberry.Info[Context, None],
        filter: OpportunityFilter | None = None,
        sort: OpportunitySort | None = None,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
    ) -> OpportunityPage:
        q = _opportunity_query(filter, sort, first)
        try:
            page = await info.context.loaders.bot_opportunities.load((*self._key, _query_key(q), after))
        except ValueError as exc:
            raise UserError(str(exc)) from None
        return OpportunityPage.of(page or Slice([], [], False))

    async def _accounts(self, info: strawberry.Info[Context, None]) -> tuple[list[str], list[str]]:
        return await info.context.loaders.accounts.load(self._key) or ([], [])

    @strawberry.field(description="contracts it acted through")
    async def contracts(self, info: strawberry.Info[Context, None]) -> list[str]:
        return (await self._accounts(info))[0]

    @strawberry.field(description="EOAs that sent its transactions")
    async def eoas(self, info: strawberry.Info[Context, None]) -> list[str]:
        return (await self._accounts(info))[1]

    @strawberry.field(description="per EOA, the first address that sent it ETH (in the stored blocks)")
    async def funders(self, info: strawberry.Info[Context, None]) -> list[Funder]:
        eoas = (await self._accounts(info))[1]
        found = await info.context.loaders.funder.load_many([(self.chain_id, e) for e in eoas])
        return [Funder.of(e, f) for e, f in zip(eoas, found, strict=True) if f is not None]

    async def _top(self, info: strawberry.Info[Context, None], what: str, first: int) -> list[Ranked]:
        rows = await info.context.loaders.top.load((*self._key, what, _first(first)))
        return [
            Ranked(
                value=r["value"], opportunities=r["opportunities"], mev_profit_usd=money(r["mev_profit_usd"])
            )
            for r in rows or ()
        ]

    @strawberry.field(description="senders of the victim txs of its opportunities, most hit first")
    async def victims(self, info: strawberry.Info[Context, None], first: int = DEFAULT_TOP) -> list[Ranked]:
        return await self._top(info, "victims", first)

    @strawberry.field
    async def pools(self, info: strawberry.Info[Context, None], first: int = DEFAULT_TOP) -> list[Ranked]:
        return await self._top(info, "pools", first)

    @strawberry.field
    async def tokens(self, info: strawberry.Info[Context, None], first: int = DEFAULT_TOP) -> list[Ranked]:
        return await self._top(info, "tokens", first)

    @strawberry.field
    async def protocols(self, info: strawberry.Info[Context, None], first: int = DEFAULT_TOP) -> list[Ranked]:
        return await self._top(info, "protocols", first)

    @strawberry.field(description="per UTC day (timestamped, counted opportunities), dates inclusive")
    async def profit_series(
        self,
        info: strawberry.Info[Context, None],
        start_date: date | None = None,
        end_date: date | None = None,
    ) -> list[DailyProfit]:
        _dates(start_date, end_date)
        rows = await info.context.loaders.daily.load((*self._key, start_date, end_date))
        return [
            DailyProfit(
                date=r["day"].isoformat(),
                opportunities=r["opportunities"],
                priced=r["priced"],
                mev_profit_usd=money(r["mev_profit_usd"]),
                net_profit_usd=money(r["net_profit_usd"]),
                victim_loss_usd=money(r["victim_loss_usd"]),
            )
            for r in rows or ()
        ]


@strawberry.type
class BotEdge:
    cursor: str
    node: Bot


@strawberry.type
class BotConnection:
    query: strawberry.Private[BotQuery]
    edges: list[BotEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Bot]:
        return [e.node for e in self.edges]

    @strawberry.field(description="bots matching the filter (all pages)")
    async def total_count(self, info: strawberry.Info[Context, None]) -> int:
        return await _call(info, info.context.api.store.bot_count, self.query)


@strawberry.type
class MevStats:
    opportunities: int
    counted: int = strawberry.field(description="not nested in another finding: the ones summed")
    priced: int
    mev_profit_usd: float | None
    victim_loss_usd: float | None
    bots: int
    top_bots: list[str]

    @classmethod
    def of(cls, s: dict[str, Any]) -> MevStats:
        return cls(
            opportunities=s["opportunities"],
            counted=s["counted"],
            priced=s["priced"],
            mev_profit_usd=money(s["mev_profit_usd"]),
            victim_loss_usd=money(s["victim_loss_usd"]),
            bots=s["bots"],
            top_bots=list(s["top_bots"]),
        )


_LEAK_MONEY = (
    "total_mev_extracted",
    "sandwich_mev",
    "frontrun_mev",
    "backrun_mev",
    "arbitrage_mev",
    "liquidation_mev",
    "jit_mev",
    "mev_affected_pct",
    "total_user_loss",
    "avg_loss_per_affected_tx",
)


@strawberry.type
class Leakage:
    protocol_id: str
    chain_id: str
    date: str
    total_mev_extracted: float | None
    sandwich_mev: float | None
    frontrun_mev: float | None
    backrun_mev: float | None
    arbitrage_mev: float | None
    liquidation_mev: float | None
    jit_mev: float | None
    total_transactions: int | None
    mev_affected_transactions: int | None
    mev_affected_pct: float | None
    total_user_loss: float | None
    avg_loss_per_affected_tx: float | None
    unique_bots: int | None
    top_bot_addresses: list[str]

    @classmethod
    def of(cls, r: dict[str, Any]) -> Leakage:
        return cls(
            protocol_id=str(r["protocol_id"]),
            chain_id=str(r["chain_id"]),
            date=iso_time(r["date"]) or "",
            total_transactions=r.get("total_transactions"),
            mev_affected_transactions=r.get("mev_affected_transactions"),
            unique_bots=r.get("unique_bots"),
            top_bot_addresses=_strs(r.get("top_bot_addresses")),
            **{k: money(r.get(k)) for k in _LEAK_MONEY},
        )


@strawberry.type
class Pool:
    chain_id: str
    address: str

    async def _info(self, info: strawberry.Info[Context, None]) -> dict[str, Any] | None:
        return await info.context.loaders.pool.load((self.chain_id, self.address))

    @strawberry.field(description="the DEX protocol of its swaps / liquidity (null if never seen)")
    async def protocol(self, info: strawberry.Info[Context, None]) -> str | None:
        found = await self._info(info)
        return found["protocol"] if found else None

    @strawberry.field(description="tokens swapped into it or sent out of it")
    async def tokens(self, info: strawberry.Info[Context, None]) -> list[str]:
        found = await self._info(info)
        return list(found["tokens"]) if found else []

    @strawberry.field
    async def stats(self, info: strawberry.Info[Context, None]) -> MevStats:
        s = await info.context.loaders.stats.load(("pool", self.chain_id, self.address))
        assert s is not None  # mev_stats answers every key
        return MevStats.of(s)

    @strawberry.field(description="per UTC day with MEV on this pool (dates inclusive), newest first")
    async def leakage(
        self,
        info: strawberry.Info[Context, None],
        start_date: date | None = None,
        end_date: date | None = None,
    ) -> list[Leakage]:
        _dates(start_date, end_date)
        rows = await _call(
            info, info.context.api.store.pool_leakage, self.chain_id, self.address, start_date, end_date
        )
        return [Leakage.of(r) for r in rows]


@strawberry.type
class Protocol:
    id: str
    chain_id: str

    @strawberry.field
    async def stats(self, info: strawberry.Info[Context, None]) -> MevStats:
        s = await info.context.loaders.stats.load(("protocol", self.chain_id, self.id))
        assert s is not None  # mev_stats answers every key
        return MevStats.of(s)

    @strawberry.field(description="protocol_mev_leakage rows (dates inclusive), newest first")
    async def leakage(
        self,
        info: strawberry.Info[Context, None],
        start_date: date | None = None,
        end_date: date | None = None,
    ) -> list[Leakage]:
        _dates(start_date, end_date)
        rows = await _call(info, info.context.api.store.leakage, self.id, self.chain_id, start_date, end_date)
        return [Leakage.of(r) for r in rows]


@strawberry.type
class NeighbourNode:
    node: str = strawberry.field(description="an address, or a transaction hash")
    kind: str = strawberry.field(description="address | transaction")
    hops: int
    edge_types: list[str] = strawberry.field(description="edge types that reached it at that distance")


@strawberry.type
class Address:
    chain_id: str
    address: str

    @strawberry.field(
        description=f"nodes within `hops` (1..{MAX_HOPS}) over the stored property graph, edges "
        "taken both ways (optionally only `edgeTypes`), nearest first"
    )
    async def neighbours(
        self,
        info: strawberry.Info[Context, None],
        hops: int = 1,
        edge_types: list[EdgeType] | None = None,
        first: int = DEFAULT_FIRST,
    ) -> list[NeighbourNode]:
        if not 1 <= hops <= MAX_HOPS:
            raise UserError(f"hops must be in 1..{MAX_HOPS}")
        types = tuple(sorted(t.value for t in edge_types)) if edge_types else None
        found = await info.context.loaders.neighbours.load(
            (self.chain_id, self.address, hops, types, _first(first))
        )
        return [
            NeighbourNode(node=n.node, kind=n.kind, hops=n.hops, edge_types=list(n.edge_types))
            for n in found or ()
        ]

    @strawberry.field(description="the first address that sent it ETH (in the stored blocks)")
    async def funder(self, info: strawberry.Info[Context, None]) -> Funder | None:
        f = await info.context.loaders.funder.load((self.chain_id, self.address))
        return Funder.of(self.address, f) if f else None

    @strawberry.field(description="its bot profile when it is a bot")
    async def bot(self, info: strawberry.Info[Context, None]) -> Bot | None:
        row = await info.context.loaders.bot.load((self.chain_id, self.address))
        return Bot.of(row) if row else None


@strawberry.type
class AlertEvent:
    """One alert of the bus, as :meth:`mevgraph.core.alerts.Alert.to_dict` shapes it."""

    id: str
    stage: str
    kind: str | None
    chain_id: int
    block_number: int | None
    block_hash: str | None
    opportunity_id: str | None
    txs: list[str]
    victim_txs: list[str]
    bot: str | None
    pools: list[str]
    protocols: list[str]
    profit_usd: float | None
    victim_loss_usd: float | None
    seen_in_mempool: bool | None
    detected_at: float
    details: JSON

    @classmethod
    def of(cls, a: Alert) -> AlertEvent:
        d = a.to_dict()
        return cls(
            id=d["id"],
            stage=d["stage"],
            kind=d["kind"],
            chain_id=d["chainId"],
            block_number=d["blockNumber"],
            block_hash=d["blockHash"],
            opportunity_id=d["opportunityId"],
            txs=d["txs"],
            victim_txs=d["victimTxs"],
            bot=d["bot"],
            pools=d["pools"],
            protocols=d["protocols"],
            profit_usd=d["profitUsd"],
            victim_loss_usd=d["victimLossUsd"],
            seen_in_mempool=d["seenInMempool"],
            detected_at=d["detectedAt"],
            details=d["details"],
        )


# -- roots --------------------------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field(description="MEV opportunities: the REST filters, keyset pages")
    async def opportunities(
        self,
        info: strawberry.Info[Context, None],
        filter: OpportunityFilter | None = None,
        sort: OpportunitySort | None = None,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
    ) -> OpportunityConnection:
        q = _opportunity_query(filter, sort, first)
        page = await _call(info, info.context.api.store.opportunity_slice, q, after)
        return OpportunityConnection(
            query=q,
            edges=_edges(page),
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=page.cursors[-1] if page.cursors else None
            ),
        )

    @strawberry.field
    async def opportunity(
        self, info: strawberry.Info[Context, None], id: strawberry.ID
    ) -> Opportunity | None:
        if not _UUID.match(str(id)):
            raise UserError("id: an opportunity id is a UUID")
        row = await info.context.loaders.opportunity.load(str(id).lower())
        return Opportunity.of(row) if row else None

    @strawberry.field
    async def bots(
        self,
        info: strawberry.Info[Context, None],
        filter: BotFilter | None = None,
        sort: BotSort | None = None,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
    ) -> BotConnection:
        f, s = filter or BotFilter(), sort or BotSort()
        q = BotQuery(
            chains=_chains(f.chains),
            bot_type=f.bot_type.value if f.bot_type else None,
            sort_by=s.by.value,
            sort_order=s.order.value,
            limit=_first(first),
        )
        page = await _call(info, info.context.api.store.bot_slice, q, after)
        return BotConnection(
            query=q,
            edges=[BotEdge(cursor=c, node=Bot.of(r)) for r, c in zip(page.rows, page.cursors, strict=True)],
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=page.cursors[-1] if page.cursors else None
            ),
        )

    @strawberry.field(description="a bot; without `chain`, the chain where it extracted most")
    async def bot(
        self, info: strawberry.Info[Context, None], address: str, chain: str | None = None
    ) -> Bot | None:
        row = await info.context.loaders.bot.load((_chain(chain), _address(address, "address")))
        return Bot.of(row) if row else None

    @strawberry.field
    def address(self, address: str, chain: str = "1") -> Address:
        return Address(chain_id=_chain(chain) or "1", address=_address(address, "address"))

    @strawberry.field(description="a pool seen in the stored blocks or in an opportunity, else null")
    async def pool(self, info: strawberry.Info[Context, None], address: str, chain: str = "1") -> Pool | None:
        pool = Pool(chain_id=_chain(chain) or "1", address=_address(address, "address"))
        key = (pool.chain_id, pool.address)
        found, stats = await asyncio.gather(
            info.context.loaders.pool.load(key), info.context.loaders.stats.load(("pool", *key))
        )
        return pool if found or (stats and stats["opportunities"]) else None

    @strawberry.field(description="a protocol label as the decoders name it, e.g. uniswap_v2, aave_v2")
    def protocol(self, id: str, chain: str = "1") -> Protocol:
        if not 1 <= len(id) <= 255:
            raise UserError("id: 1..255 characters")
        return Protocol(id=id, chain_id=_chain(chain) or "1")


@strawberry.type
class Subscription:
    @strawberry.subscription(description="live alerts passing `filter` (closed when the client leaves)")
    async def alerts(
        self, info: strawberry.Info[Context, None], filter: AlertFilterInput | None = None
    ) -> AsyncGenerator[AlertEvent, None]:
        wanted = alert_filter(filter)
        sub = await info.context.api.bus.subscribe(wanted)
        try:
            async for alert in sub:
                yield AlertEvent.of(alert)
        finally:
            sub.close()


# -- limits -------------------------------------------------------------------------------------


def query_cost(
    schema: CoreSchema, document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None
) -> int:
    """The cost of the operation: each field 1, times the ``first`` of every list field above
    it (given, from a variable, or the argument's default)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    op = next((o for o in ops if operation_name is None or (o.name and o.name.value == operation_name)), None)
    if op is None:
        return 0
    root = schema.get_root_type(
        op.operation if isinstance(op.operation, OperationType) else OperationType.QUERY
    )
    if root is None:
        return 0

    def cost(sel: SelectionSetNode, parent: Any, mult: int, seen: frozenset[str]) -> int:
        total = 0
        for s in sel.selections:
            if isinstance(s, FieldNode):
                total += mult
                fdef = parent.fields.get(s.name.value) if isinstance(parent, GraphQLObjectType) else None
                if s.selection_set is None or fdef is None:
                    continue
                factor = 1
                arg = fdef.args.get("first")
                if arg is not None:
                    node = next((a.value for a in s.arguments or () if a.name.value == "first"), None)
                    value = (
                        value_from_ast(node, arg.type, variables) if node is not None else arg.default_value
                    )
                    factor = value if isinstance(value, int) and value > 0 else 1
                total += cost(s.selection_set, get_named_type(fdef.type), mult * factor, seen)
            elif isinstance(s, InlineFragmentNode):
                t = schema.get_type(s.type_condition.name.value) if s.type_condition else parent
                total += cost(s.selection_set, t or parent, mult, seen)
            elif isinstance(s, FragmentSpreadNode):
                name = s.name.value
                frag = fragments.get(name)
                if frag is None or name in seen:
                    continue
                t = schema.get_type(frag.type_condition.name.value) or parent
                total += cost(frag.selection_set, t, mult, seen | {name})
        return total

    return cost(op.selection_set, root, 1, frozenset())


class CostLimiter(SchemaExtension):
    """Refuses an operation whose :func:`query_cost` exceeds :data:`MAX_COST` (before any
    resolver runs)."""

    def on_validate(self) -> Any:
        ec = self.execution_context
        if ec.graphql_document is not None and ec.pre_execution_errors is None:
            # The rules first (depth, aliases, unknown fields): their message says more than a
            # cost would, and the cost is only meaningful for a valid document.
            ec.pre_execution_errors = validate(ec.schema._schema, ec.graphql_document, ec.validation_rules)
        if ec.graphql_document is not None and not ec.pre_execution_errors:
            n = query_cost(ec.schema._schema, ec.graphql_document, ec.operation_name, ec.variables)
            if n > MAX_COST:
                ec.pre_execution_errors = [
                    GraphQLError(
                        f"query cost {n} exceeds the limit of {MAX_COST} (each field costs 1 times the "
                        "`first` of every list around it)",
                        extensions={"code": "QUERY_TOO_COSTLY", "cost": n, "limit": MAX_COST},
                    )
                ]
        yield


def _mask(error: GraphQLError) -> bool:
    """Hide unexpected failures (not a GraphQL error raised on purpose); they are logged."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class _Schema(strawberry.Schema):
    """Logs only unexpected failures: bad input is the client's, answered and not logged."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        super().process_errors([e for e in errors if _mask(e)], execution_context)


def build_schema() -> strawberry.Schema:
    """The schema, with depth, alias, token and cost limits and error masking."""
    return _Schema(
        query=Query,
        subscription=Subscription,
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            CostLimiter,
            _FreshLoaders,
            lambda: MaskErrors(should_mask_error=_mask, error_message="unexpected server error (logged)"),
        ],
    )


# -- mounting -----------------------------------------------------------------------------------


def _api_key(params: Any, headers: Any) -> str | None:
    if isinstance(params, dict):
        for name in ("X-API-Key", "x-api-key", "apiKey"):
            value = params.get(name)
            if isinstance(value, str) and value:
                return value
    return headers.get("x-api-key") or None


def _admit(api: _Api, key: str | None, client: str) -> None:
    """Check ``key`` and count the request exactly as the REST guard does (raises ``ApiError``)."""
    from mevgraph.api.app import admit_key, enforce_rate

    scopes = api.keys.scopes(key) if key else None
    identity = admit_key(key, scopes, scope="read", anonymous=None if api.auth else client)
    enforce_rate(api.limiter.hit(identity))


class _Router(GraphQLRouter[Context, None]):
    """The strawberry router with the REST key check on websocket ``connection_init``."""

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        from mevgraph.api.app import ApiError

        request = context.request
        headers = request.headers if request is not None else {}
        client = request.client.host if request is not None and request.client else "unknown"
        key = _api_key(context.connection_params, headers)
        try:
            await run_in_threadpool(_admit, context.api, key, client)
        except ApiError as exc:
            log.info("graphql websocket refused: %s", exc)
            raise ConnectionRejectionError({"message": str(exc)}) from None
        return UNSET


def mount_graphql(app: FastAPI, api: _Api) -> None:
    """Serve :func:`build_schema` at ``/graphql`` on ``app`` (HTTP, GraphiQL and websockets)."""

    async def context(connection: HTTPConnection) -> Context:
        if connection.scope["type"] == "websocket":
            return Context(api)  # checked on connection_init (the key may come in its payload)
        accept = connection.headers.get("accept", "")
        ide = (
            connection.scope.get("method") == "GET"
            and "query" not in connection.query_params
            and ("text/html" in accept or "*/*" in accept)
        )
        if not ide:
            client = connection.client.host if connection.client else "unknown"
            await run_in_threadpool(_admit, api, connection.headers.get("x-api-key"), client)
        return Context(api)

    router = _Router(build_schema(), graphql_ide="graphiql", context_getter=context)
    app.include_router(router, prefix="/graphql", include_in_schema=False)
