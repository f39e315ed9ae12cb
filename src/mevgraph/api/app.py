"""The REST API: an app factory over one :class:`~mevgraph.store.base.Store`.

``create_app(store)`` builds a FastAPI app serving

* ``GET /v1/mev/opportunities`` -- spec section 4.1, request and response exactly (plus an
  ``extras`` object per opportunity with what the spec cannot carry);
* ``GET /v1/mev/opportunities/{id}``, ``GET /v1/mev/bots``, ``GET /v1/mev/bots/{address}``,
  ``GET /v1/mev/leakage``;
* ``GET /v1/health`` (no key needed; 503 only when the store is unreachable, ``"degraded"`` when
  Redis is) and the OpenAPI document at ``/openapi.json``.

Every ``/v1/mev`` route needs an ``X-API-Key`` with scope ``read`` (unless ``auth=False``), is
rate limited per key (per client IP when anonymous), and the list routes are cached (see
:mod:`mevgraph.api.cache`; call :func:`~mevgraph.api.cache.invalidate_cache` after storing
blocks). Errors are JSON: ``{"error", "message"}`` plus ``"parameter"`` for a bad input (422).
Bad input never yields a 5xx; unexpected failures are logged and answered with a 500 whose body
carries no stack trace.
"""

from __future__ import annotations

import gc
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Annotated, Any, Literal, TypeVar, get_args

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from orjson import dumps as orjson_dumps
from pydantic import StringConstraints
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from mevgraph import __version__
from mevgraph.api.auth import KeyChecker, RateLimiter, Verdict, key_identity
from mevgraph.api.cache import (
    DEFAULT_PREFIX,
    DEFAULT_TTL_S,
    AsyncRedis,
    ResponseCache,
    query_key,
    redis_client,
)
from mevgraph.api.models import (
    Bot,
    BotsResponse,
    ErrorBody,
    Health,
    LeakageResponse,
    OpportunitiesResponse,
    Opportunity,
    Pagination,
    bot_from_row,
    leakage_from_row,
    money,
    opportunity_dict,
    opportunity_from_row,
)
from mevgraph.ingest.bus import EventBus, LocalBus, open_bus
from mevgraph.store.base import OPPORTUNITY_TYPES, BotQuery, OpportunityPage, OpportunityQuery, Store

__all__ = ["create_app", "ApiError", "MAX_PAGE", "MAX_LIMIT", "BOT_TYPES", "BOT_SORT"]

log = logging.getLogger(__name__)

MAX_LIMIT = 500
MAX_PAGE = 1_000_000  # keeps OFFSET (page-1)*limit far inside a BIGINT
MAX_MONEY = 10**18  # DECIMAL(20, 2) cannot hold more; larger filters are input errors

BotType = Literal["sandwich", "frontrun", "backrun", "arbitrage", "liquidation", "jit", "generalist"]
BotSort = Literal[
    "totalMevExtracted", "totalTransactions", "avgProfitPerTx", "successRate", "firstSeen", "lastActive"
]
BOT_TYPES: tuple[str, ...] = get_args(BotType)
BOT_SORT = {
    "totalMevExtracted": "total_mev_extracted",
    "totalTransactions": "total_transactions",
    "avgProfitPerTx": "avg_profit_per_tx",
    "successRate": "success_rate",
    "firstSeen": "first_seen",
    "lastActive": "last_active",
    "totalOpportunities": "total_opportunities",
    "sophisticationScore": "sophistication_score",
    "activeDays": "active_days",
}

_CHAIN = r"[0-9]{1,20}"
_TYPE = "(?:" + "|".join(OPPORTUNITY_TYPES) + ")"
ChainList = list[Annotated[str, StringConstraints(pattern=rf"^ *{_CHAIN} *(?:, *{_CHAIN} *)*$")]]
TypeList = list[Annotated[str, StringConstraints(pattern=rf"^ *{_TYPE} *(?:, *{_TYPE} *)*$")]]
ADDRESS = r"^0x[0-9a-fA-F]{40}$"

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="a key with scope `read`")

T = TypeVar("T")

# Messages for pattern mismatches (the regex itself is no help to a caller).
_HINTS = {
    "chains": "chain ids (decimal digits), repeated and/or comma-separated",
    "opportunityTypes": f"each value one of {', '.join(OPPORTUNITY_TYPES)}, repeated and/or comma-separated",
    "botAddress": "an address: 0x followed by 40 hex digits",
    "address": "an address: 0x followed by 40 hex digits",
    "chain": "a chain id (decimal digits)",
}


class ApiError(Exception):
    """An error answered as JSON ``{"error", "message"[, "parameter"]}`` with ``status``."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(error=error, message=message, parameter=parameter)
        self.headers = headers


def admit_key(key: str | None, scopes: Sequence[str] | None, *, scope: str, anonymous: str | None) -> str:
    """The rate-limit identity of a caller whose ``key`` has ``scopes`` (None: unknown or revoked),
    once the key is known and has ``scope``; without a key, ``"ip:<anonymous>"`` when anonymous
    use is allowed (``anonymous`` is then the client's address). Raises the 401/403 ``ApiError``.
    Every guarded route -- REST, GraphQL, webhook rules -- admits callers through this."""
    if key:
        if scopes is None:
            raise ApiError(401, "unauthorized", "unknown or revoked API key")
        if scope not in scopes:
            raise ApiError(403, "forbidden", f"this API key lacks the '{scope}' scope")
        return "key:" + key_identity(key)
    if anonymous is None:
        raise ApiError(401, "unauthorized", "missing X-API-Key header")
    return "ip:" + anonymous


def rate_refusal(verdict: Verdict) -> ApiError:
    """The 429 ``ApiError`` (with ``Retry-After``) of a refused ``verdict``."""
    return ApiError(
        429,
        "rate limited",
        f"more than {verdict.limit} requests per minute; retry in {verdict.retry_after_s} s",
        headers={"Retry-After": str(verdict.retry_after_s)},
    )


def enforce_rate(verdict: Verdict) -> None:
    """Raise the 429 ``ApiError`` when ``verdict`` refuses the request."""
    if not verdict.allowed:
        raise rate_refusal(verdict)


def _bad(parameter: str, message: str) -> ApiError:
    return ApiError(422, "invalid parameter", f"{parameter}: {message}", parameter=parameter)


def _error_json(status: int, body: ErrorBody, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or unknown API key"},
    403: {"model": ErrorBody, "description": "the key lacks the `read` scope"},
    422: {"model": ErrorBody, "description": "an invalid parameter (named in `parameter`)"},
    429: {"model": ErrorBody, "description": "rate limit exceeded; see `Retry-After`"},
    500: {"model": ErrorBody, "description": "unexpected server error"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "not found"}}

# The cached list routes: their guard leaves the rate-limit count to the cache read (one round
# trip for both); see ``_Api.cached``.
_CACHED_PATHS = frozenset({"/v1/mev/opportunities", "/v1/mev/bots", "/v1/mev/leakage"})


def _split(values: list[str] | None) -> list[str] | None:
    """Repeatable and/or comma-separated values -> unique, in order; None when absent."""
    if not values:
        return None
    out: list[str] = []
    for v in values:
        for part in v.split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out or None


def _utc(value: datetime | None, parameter: str) -> datetime | None:
    """Aware UTC (naive input is taken as UTC); a time that leaves the calendar is a 422."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise _bad(parameter, f"out of range ({exc})") from None


def _cents_up(value: float) -> Decimal:
    """``minProfit`` as a Decimal rounded up to the cent: USD columns hold cents, so
    ``profit >= ceil(x)`` selects exactly the rows ``profit >= x`` would."""
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_CEILING)


class _Api:
    """What the routes share: the store, key checks, limiter and cache.

    The request path is asynchronous: key check (cached in-process), then rate limit, cache
    generation and -- on the list routes -- the cached answer in one Redis round trip; on a
    miss the store is read on the event loop where it can (PostgreSQL's list pages), else in a
    worker thread. Both store backends are thread-safe; a backend that is not says so with
    ``thread_safe = False`` and is then called under a lock."""

    bus: EventBus  # the alert bus (GraphQL subscriptions); set by create_app

    def __init__(
        self, store: Store, *, auth: bool, redis_url: str | None, rate: int, ttl: float, prefix: str
    ):
        self.store = store
        self.auth = auth
        self.redis_url = redis_url
        self.redis = redis_client(redis_url) if redis_url else None
        self.aredis = AsyncRedis(redis_url) if redis_url else None
        self.keys = KeyChecker(store)
        self.limiter = RateLimiter(rate, self.redis, prefix=prefix)
        self.cache = ResponseCache(self.aredis, prefix=prefix, ttl_s=ttl)
        self._lock = None if getattr(store, "thread_safe", True) else threading.Lock()

    async def count(self, request: Request) -> Verdict | None:
        """Count a request whose guard left that to the handler (``request.state.uncounted``)
        and that fails before :meth:`cached` counts it; its verdict, None if already counted."""
        if not getattr(request.state, "uncounted", False):
            return None
        request.state.uncounted = False
        aredis = self.aredis.get() if self.aredis is not None else None
        verdict, _ = await self.limiter.ahit(request.state.identity, aredis)
        return verdict

    async def _admit_and_read(self, request: Request, key: str) -> tuple[bytes | None, bytes]:
        """Count the request against its rate limit and read the cache of ``key``: the counter,
        the cache generation and -- unless this process holds a copy -- the entry itself, in one
        Redis round trip. Returns the cached body (None on a miss) and the generation to store a
        computed answer under. Raises the 429 ``ApiError``."""
        request.state.uncounted = False
        aredis = self.aredis.get() if self.aredis is not None else None
        fold = aredis is not None and self.cache.ttl_s > 0 and not self.cache.knows(key)
        reads = [self.cache.gen_key, self.cache.entry_key(key)] if fold else [self.cache.gen_key]
        verdict, values = await self.limiter.ahit(request.state.identity, aredis, reads)
        enforce_rate(verdict)
        if values is None:  # no Redis, or it failed: the in-process cache, or none
            return await self.cache.aget(key, None)
        generation = values[0] if values[0] is not None else b"0"
        if fold:
            return self.cache.accept(key, generation, values[1]), generation
        return await self.cache.aget(key, generation)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._lock is None:
            return fn(*args)
        with self._lock:
            return fn(*args)

    async def cached(
        self,
        request: Request,
        endpoint: str,
        params: dict[str, Any],
        compute: Callable[[], bytes] | None = None,
        acompute: Callable[[], Awaitable[bytes]] | None = None,
    ) -> Response:
        """The cached body of this query, else one computed and stored: by ``acompute()`` on
        the event loop when given, else by ``compute()`` in a worker thread."""
        key = query_key(endpoint, params)
        body, gen = await self._admit_and_read(request, key)
        if body is None:
            if acompute is not None:
                body = await acompute()
            else:
                assert compute is not None
                body = await run_in_threadpool(compute)
            await self.cache.aput(key, body, gen)
            state = "miss"
        else:
            state = "hit"
        return Response(body, media_type="application/json", headers={"X-Cache": state})


def create_app(
    store: Store,
    *,
    auth: bool = True,
    redis_url: str | None = None,
    rate_limit_per_minute: int = 600,
    cache_ttl_s: float = DEFAULT_TTL_S,
    redis_prefix: str = DEFAULT_PREFIX,
    bus: EventBus | None = None,
    freeze_gc: bool = False,
) -> FastAPI:
    """The API over ``store``.

    Args:
        store: an opened, migrated store.
        auth: require an ``X-API-Key`` with scope ``read``; ``False`` allows anonymous use (the
            CLI passes it only for an explicit ``--no-auth``). A key that is sent is checked
            either way.
        redis_url: Redis for the shared rate-limit counters and response cache
            (e.g. ``redis://127.0.0.1:6379/0``); None keeps both in-process.
        rate_limit_per_minute: requests per key (or client IP) per one-minute window.
        cache_ttl_s: lifetime of a cached list answer (0 disables the cache).
        redis_prefix: namespace of every Redis key the API writes.
        bus: the alert bus GraphQL subscriptions read (default: an in-process ``LocalBus``).
        freeze_gc: when the server starts, move every object built so far (modules, the app,
            its schemas: all live as long as the process) out of the garbage collector's sight
            (``gc.freeze``). A full collection over them took ~10 ms and stalled every request
            of the process; afterwards it scans only what requests leave behind. For server
            processes (``mevgraph serve``); tests creating many apps leave it off.
    """
    api = _Api(
        store,
        auth=auth,
        redis_url=redis_url,
        rate=rate_limit_per_minute,
        ttl=cache_ttl_s,
        prefix=redis_prefix,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if freeze_gc:
            gc.collect()
            gc.freeze()
        yield
        if freeze_gc:  # hand them back, or extension types see leaks when the process exits
            gc.unfreeze()
        aclose = getattr(store, "aclose", None)  # the store's connections of this event loop
        if aclose is not None:
            await aclose()

    app = FastAPI(
        title="mevgraph",
        version=__version__,
        description="MEV opportunities, bots and protocol leakage detected by mevgraph.",
        lifespan=lifespan,
    )
    app.state.api = api
    api.bus = bus if bus is not None else LocalBus()
    _install_error_handlers(app)

    async def guard(request: Request, key: Annotated[str | None, Security(API_KEY)] = None) -> None:
        scopes: Sequence[str] | None = None
        if key:
            known, scopes = api.keys.peek(key)
            if not known:
                scopes = await run_in_threadpool(api.keys.scopes, key)
        client = request.client.host if request.client else "unknown"
        identity = admit_key(key, scopes, scope="read", anonymous=None if api.auth else client)
        request.state.identity = identity
        if request.scope["path"] in _CACHED_PATHS:
            # counted with the cache read, in one round trip (``_Api.cached``), or by the error
            # handlers when the request fails before it gets there
            request.state.uncounted = True
            return
        aredis = api.aredis.get() if api.aredis is not None else None
        verdict, _ = await api.limiter.ahit(identity, aredis)
        enforce_rate(verdict)

    v1 = APIRouter(prefix="/v1/mev", dependencies=[Depends(guard)], responses=_ERRORS)
    # an optional store capability: rows as JSON built by the database (PostgreSQL)
    page_json: Callable[[OpportunityQuery], Any] | None = getattr(store, "opportunity_page_json", None)
    # ... and the same on the event loop, with no worker thread (PostgreSQL); for a thread-safe
    # store only, as it bypasses the store lock
    apage_json: Callable[[OpportunityQuery], Awaitable[tuple[list[str], OpportunityPage]]] | None = (
        getattr(store, "aopportunity_page_json", None) if api._lock is None else None
    )

    @v1.get("/opportunities", response_model=OpportunitiesResponse, summary="MEV opportunities (spec 4.1)")
    async def opportunities(
        request: Request,
        chains: Annotated[
            ChainList | None, Query(description="chain ids; repeat the parameter and/or separate by commas")
        ] = None,
        opportunity_types: Annotated[
            TypeList | None,
            Query(
                alias="opportunityTypes", description=f"any of {', '.join(OPPORTUNITY_TYPES)}; commas allowed"
            ),
        ] = None,
        min_profit: Annotated[
            float | None,
            Query(
                alias="minProfit",
                ge=0,
                le=MAX_MONEY,
                allow_inf_nan=False,
                description="USD: rows with mevProfitUsd >= this (unpriced rows never match)",
            ),
        ] = None,
        bot_address: Annotated[str | None, Query(alias="botAddress", pattern=ADDRESS)] = None,
        start_time: Annotated[
            datetime | None, Query(alias="startTime", description="ISO 8601, inclusive (naive = UTC)")
        ] = None,
        end_time: Annotated[
            datetime | None, Query(alias="endTime", description="ISO 8601, exclusive (naive = UTC)")
        ] = None,
        sort_by: Annotated[Literal["profit", "timestamp", "confidence"], Query(alias="sortBy")] = "timestamp",
        sort_order: Annotated[Literal["asc", "desc"], Query(alias="sortOrder")] = "desc",
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    ) -> Response:
        start, end = _utc(start_time, "startTime"), _utc(end_time, "endTime")
        if start is not None and end is not None and start > end:
            raise _bad("startTime", "must not be after endTime")
        q = OpportunityQuery(
            chains=_split(chains),
            opportunity_types=_split(opportunity_types),
            min_profit=_cents_up(min_profit) if min_profit is not None else None,
            bot_address=bot_address.lower() if bot_address else None,
            start_time=start,
            end_time=end,
            sort_by=sort_by,
            sort_order=sort_order,
            page=page,
            limit=limit,
        )

        def body(rows: bytes, res: OpportunityPage) -> bytes:
            # The OpportunitiesResponse shape without pydantic (checked by the tests): the rows
            # as JSON built by the database where it can, else orjson over plain dicts --
            # validating and dumping fifty models cost more CPU than the query.
            rest = orjson_dumps(
                {
                    "pagination": {"page": page, "limit": limit, "total": res.total},
                    "summary": {
                        "totalMevExtracted": money(res.total_mev_extracted) or 0.0,
                        "totalVictimLoss": money(res.total_victim_loss) or 0.0,
                        "avgProfitPerOpportunity": money(res.avg_profit_per_opportunity),
                    },
                }
            )
            return b'{"opportunities":' + rows + b"," + rest[1:]

        def compute() -> bytes:
            built = api.call(page_json, q) if page_json is not None else None
            if built is not None:
                texts, res = built
                return body(b"[" + ",".join(texts).encode() + b"]", res)
            res = api.call(store.opportunities, q)
            return body(orjson_dumps([opportunity_dict(r) for r in res.rows]), res)

        async def acompute() -> bytes:
            assert apage_json is not None
            texts, res = await apage_json(q)
            return body(b"[" + ",".join(texts).encode() + b"]", res)

        params = {
            "chains": q.chains,
            "types": q.opportunity_types,
            "min": q.min_profit,
            "bot": q.bot_address,
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "sort": sort_by,
            "order": sort_order,
            "page": page,
            "limit": limit,
        }
        if apage_json is not None:
            return await api.cached(request, "opportunities", params, acompute=acompute)
        return await api.cached(request, "opportunities", params, compute)

    @v1.get(
        "/opportunities/{id}", response_model=Opportunity, responses=_NOT_FOUND, summary="One opportunity"
    )
    def opportunity(id: Annotated[uuid.UUID, Path(description="opportunity id (UUID)")]) -> Opportunity:
        row = api.call(store.opportunity, str(id))
        if row is None:
            raise ApiError(404, "not found", f"no opportunity with id {id}")
        return opportunity_from_row(row)

    @v1.get("/bots", response_model=BotsResponse, summary="MEV bots")
    async def bots(
        request: Request,
        chains: Annotated[
            ChainList | None, Query(description="chain ids; repeatable, commas allowed")
        ] = None,
        bot_type: Annotated[BotType | None, Query(alias="botType")] = None,
        sort_by: Annotated[BotSort, Query(alias="sortBy")] = "totalMevExtracted",
        sort_order: Annotated[Literal["asc", "desc"], Query(alias="sortOrder")] = "desc",
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    ) -> Response:
        q = BotQuery(
            chains=_split(chains),
            bot_type=bot_type,
            sort_by=BOT_SORT[sort_by],
            sort_order=sort_order,
            page=page,
            limit=limit,
        )

        def compute() -> bytes:
            rows, total = api.call(store.bots, q)
            return (
                BotsResponse(
                    bots=[bot_from_row(r) for r in rows],
                    pagination=Pagination(page=page, limit=limit, total=total),
                )
                .model_dump_json(by_alias=True)
                .encode()
            )

        params = {"chains": q.chains, "type": bot_type, "sort": sort_by, "order": sort_order}
        return await api.cached(request, "bots", {**params, "page": page, "limit": limit}, compute)

    @v1.get("/bots/{address}", response_model=Bot, responses=_NOT_FOUND, summary="One bot")
    def bot(
        address: Annotated[str, Path(pattern=ADDRESS)],
        chain: Annotated[str | None, Query(pattern=f"^{_CHAIN}$", description="chain id")] = None,
    ) -> Bot:
        row = api.call(store.bot, address.lower(), chain)
        if row is None:
            raise ApiError(
                404, "not found", f"no bot {address.lower()}" + (f" on chain {chain}" if chain else "")
            )
        return bot_from_row(row)

    @v1.get("/leakage", response_model=LeakageResponse, summary="MEV leakage per protocol and day")
    async def leakage(
        request: Request,
        protocol: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
        chain: Annotated[str | None, Query(pattern=f"^{_CHAIN}$", description="chain id")] = None,
        start_date: Annotated[date | None, Query(alias="startDate", description="YYYY-MM-DD")] = None,
        end_date: Annotated[date | None, Query(alias="endDate", description="YYYY-MM-DD")] = None,
    ) -> Response:
        if start_date is not None and end_date is not None and start_date > end_date:
            raise _bad("startDate", "must not be after endDate")

        def compute() -> bytes:
            rows = api.call(store.leakage, protocol, chain, start_date, end_date)
            return (
                LeakageResponse(leakage=[leakage_from_row(r) for r in rows], total=len(rows))
                .model_dump_json(by_alias=True)
                .encode()
            )

        params = {"protocol": protocol, "chain": chain, "start": start_date, "end": end_date}
        return await api.cached(request, "leakage", params, compute)

    @app.get(
        "/v1/health",
        response_model=Health,
        responses={503: {"model": Health, "description": "the store is unreachable"}},
        summary="Liveness: store, Redis and the live pipeline (followers, mempool monitors)",
    )
    def health() -> JSONResponse:
        from mevgraph.api.live import live_health

        store_ok = _probe(lambda: api.call(_ping, store))
        if api.redis is None:
            redis_state = "not configured"
        else:
            redis_state = "ok" if _probe(api.redis.ping) else "unreachable"
        # followers of this process and, through Redis, of ``mevgraph follow`` processes: a node
        # connection being retried shows here as "reconnecting" with its last error
        followers, monitors, live_ok = live_health(api.redis_url)
        ok = store_ok and redis_state != "unreachable" and live_ok
        body = Health(
            status="ok" if ok else "degraded",
            version=__version__,
            store="ok" if store_ok else "unreachable",
            redis=redis_state,
            followers=followers,
            mempool=monitors,
        )
        # Without Redis the API still answers (no shared cache/limits): degraded, not down.
        return JSONResponse(body.model_dump(by_alias=True), status_code=200 if store_ok else 503)

    app.include_router(v1)
    from mevgraph.api.webhooks import mount_webhooks  # imports this module: not at the top

    mount_webhooks(app, api)
    from mevgraph.api.graphql import mount_graphql  # imports this module: not at the top

    mount_graphql(app, api)
    return app


def _ping(store: Store) -> None:
    """Touch the store cheaply: its own ``ping`` if it has one, else a key lookup (indexed)."""
    ping = getattr(store, "ping", None)
    if callable(ping):
        ping()
    else:
        store.api_key_scopes("health-probe")


def _probe(fn: Callable[[], Any]) -> bool:
    try:
        fn()
        return True
    except Exception as exc:
        log.warning("health probe failed: %s", exc)
        return False


def _install_error_handlers(app: FastAPI) -> None:
    async def over_limit(request: Request) -> JSONResponse | None:
        """A failing request is still counted (once); over the limit it gets the 429 instead."""
        verdict = await app.state.api.count(request)
        if verdict is None or verdict.allowed:
            return None
        refusal = rate_refusal(verdict)
        return _error_json(refusal.status, refusal.body, refusal.headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return await over_limit(request) or _error_json(exc.status, exc.body, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        refused = await over_limit(request)
        if refused is not None:
            return refused
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(x) for x in first.get("loc", ()) if not isinstance(x, int)]
        parameter = loc[1] if len(loc) > 1 else (loc[0] if loc else "request")
        msg = _HINTS.get(parameter) if first.get("type") == "string_pattern_mismatch" else None
        msg = msg or str(first.get("msg", "invalid value"))
        return _error_json(
            422, ErrorBody(error="invalid parameter", parameter=parameter, message=f"{parameter}: {msg}")
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = {404: "not found", 405: "method not allowed"}.get(exc.status_code, "http error")
        return _error_json(exc.status_code, ErrorBody(error=name, message=str(exc.detail)), exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        try:
            await app.state.api.count(request)
        except Exception as count_exc:  # the limiter itself may be what failed
            log.warning("could not count the failed request: %s", count_exc)
        return _error_json(500, ErrorBody(error="internal error", message="unexpected server error (logged)"))


def app_from_env() -> FastAPI:
    """App factory for multi-process serving (``uvicorn --factory``, ``mevgraph serve --workers``):
    each worker opens its own store from ``MEVGRAPH_STORE`` and reads ``MEVGRAPH_API_AUTH``
    (``0`` = anonymous allowed), ``MEVGRAPH_API_RATE_LIMIT`` and ``MEVGRAPH_REDIS``."""
    import os

    from mevgraph.store import open_store

    return create_app(
        open_store(os.environ.get("MEVGRAPH_STORE")),
        auth=os.environ.get("MEVGRAPH_API_AUTH", "1") != "0",
        redis_url=os.environ.get("MEVGRAPH_REDIS") or None,
        rate_limit_per_minute=int(os.environ.get("MEVGRAPH_API_RATE_LIMIT", "600")),
        bus=open_bus(os.environ.get("MEVGRAPH_REDIS") or None),
        freeze_gc=True,
    )
