"""The REST API over a real embedded store filled from the shared mainnet blocks.

Every list answer is checked against a direct store query (same ids in the same order, same
totals), and independently against the rows themselves (filters hold, order holds, summary equals
the sum over every page). Auth, rate limits (in-process and Redis), the cache and its
invalidation after ingest, errors and health are exercised through HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mevgraph.api import create_app, invalidate_cache
from mevgraph.store import OpportunityQuery, SqlStore
from mevgraph.store.ingest import ingest

from ..conftest import load_fixture
from . import drop_prefix, filled_store, fresh_prefix, prefixed, redis_or_skip

SPEC_KEYS = {
    "id",
    "opportunityType",
    "chainId",
    "blockNumber",
    "timestamp",
    "transactions",
    "tokens",
    "protocol",
    "financials",
    "bot",
    "detection",
    "status",
}
SPEC_NESTED = {
    "transactions": {"targetTxHash", "mevTxHashes"},
    "tokens": {"addresses", "symbols"},
    "protocol": {"protocolId", "protocolName", "dexName"},
    "financials": {"mevProfitUsd", "victimLossUsd", "gasCostUsd", "netProfitUsd"},
    "bot": {"address", "name", "type"},
    "detection": {"method", "confidenceScore"},
}


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, block_names: list[str]) -> Iterator[SqlStore]:
    st = filled_store(tmp_path_factory.mktemp("store"), block_names)
    yield st
    st.close()


@pytest.fixture(scope="module")
def read_key(store: SqlStore) -> str:
    return store.create_api_key(["read"], "tests")


@pytest.fixture(scope="module")
def redis_url() -> str:
    return redis_or_skip()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    yield from prefixed(redis_url)


@pytest.fixture(scope="module")
def client(store: SqlStore, read_key: str, redis_url: str) -> Iterator[TestClient]:
    """The app with Redis (cache and limits), a key in every request, a limit tests never hit."""
    prefix = fresh_prefix()
    app = create_app(store, redis_url=redis_url, redis_prefix=prefix, rate_limit_per_minute=100_000)
    with TestClient(app, headers={"X-API-Key": read_key}) as c:
        yield c
    drop_prefix(redis_url, prefix)


def _all_rows(store: SqlStore) -> list[dict[str, Any]]:
    return store.opportunities(OpportunityQuery(limit=1000)).rows


def _get(client: TestClient, url: str, params: Any = None) -> dict[str, Any]:
    r = client.get(url, params=params)
    assert r.status_code == 200, r.text
    return r.json()


# --- shape -----------------------------------------------------------------------------------


def test_spec_shape_exact(client: TestClient, store: SqlStore) -> None:
    body = _get(client, "/v1/mev/opportunities", {"limit": 500})
    assert set(body) == {"opportunities", "pagination", "summary"}
    assert set(body["pagination"]) == {"page", "limit", "total"}
    assert set(body["summary"]) == {"totalMevExtracted", "totalVictimLoss", "avgProfitPerOpportunity"}
    opps = body["opportunities"]
    assert len(opps) == body["pagination"]["total"] == len(_all_rows(store)) > 20
    for o in opps:
        assert set(o) == SPEC_KEYS | {"extras"}
        for k, keys in SPEC_NESTED.items():
            assert set(o[k]) == keys, k
        assert isinstance(o["chainId"], str) and isinstance(o["blockNumber"], int)
        assert o["opportunityType"] in {"sandwich", "frontrun", "backrun", "arbitrage", "liquidation", "jit"}
        for v in o["financials"].values():
            assert v is None or isinstance(v, float | int)
        assert all(isinstance(h, str) and h.startswith("0x") for h in o["transactions"]["mevTxHashes"])
        assert all(isinstance(v, str) for v in o["extras"]["profitByToken"].values())
        if o["timestamp"] is not None:
            assert datetime.fromisoformat(o["timestamp"]).tzinfo is not None
    # unpriced stays null (never 0), and says why
    unpriced = [o for o in opps if o["financials"]["mevProfitUsd"] is None]
    assert unpriced and all(o["extras"]["usdUnpricedReason"] for o in unpriced)


def test_row_values_match_store(client: TestClient, store: SqlStore) -> None:
    rows = {r["id"]: r for r in _all_rows(store)}
    for o in _get(client, "/v1/mev/opportunities", {"limit": 500})["opportunities"]:
        r = rows[o["id"]]
        assert o["blockNumber"] == r["block_number"] and o["chainId"] == r["chain_id"]
        assert o["transactions"]["mevTxHashes"] == list(r["mev_tx_hashes"])
        assert o["bot"]["address"] == r["bot_address"]
        for api_name, col in (("mevProfitUsd", "mev_profit_usd"), ("netProfitUsd", "net_profit_usd")):
            want = r[col]
            assert o["financials"][api_name] == (None if want is None else float(want))
        assert o["extras"]["profitByToken"] == {k: str(v) for k, v in (r["profit_by_token"] or {}).items()}


# --- filters, sorting, pagination, totals ----------------------------------------------------


def _window(store: SqlStore) -> tuple[datetime, datetime]:
    times = sorted(r["timestamp"] for r in _all_rows(store) if r["timestamp"] is not None)
    return times[len(times) // 4], times[3 * len(times) // 4]


def _cases(store: SqlStore) -> list[tuple[dict[str, Any], OpportunityQuery]]:
    rows = _all_rows(store)
    bot = next(r["bot_address"] for r in rows if r["bot_address"])
    start, end = _window(store)
    iso = lambda d: d.astimezone(UTC).isoformat().replace("+00:00", "Z")  # noqa: E731
    return [
        ({}, OpportunityQuery()),
        ({"chains": "1"}, OpportunityQuery(chains=["1"])),
        ({"chains": ["1,10", "137"]}, OpportunityQuery(chains=["1", "10", "137"])),
        ({"chains": "10"}, OpportunityQuery(chains=["10"])),
        (
            {"opportunityTypes": "sandwich,liquidation"},
            OpportunityQuery(opportunity_types=["sandwich", "liquidation"]),
        ),
        (
            {"opportunityTypes": ["arbitrage", "backrun"]},
            OpportunityQuery(opportunity_types=["arbitrage", "backrun"]),
        ),
        ({"minProfit": 100}, OpportunityQuery(min_profit=Decimal(100))),
        ({"minProfit": 0}, OpportunityQuery(min_profit=Decimal(0))),
        ({"botAddress": bot.upper().replace("0X", "0x")}, OpportunityQuery(bot_address=bot)),
        ({"startTime": iso(start), "endTime": iso(end)}, OpportunityQuery(start_time=start, end_time=end)),
        ({"startTime": iso(start)}, OpportunityQuery(start_time=start)),
        (
            {"sortBy": "profit", "sortOrder": "asc", "limit": 7, "page": 2},
            OpportunityQuery(sort_by="profit", sort_order="asc", limit=7, page=2),
        ),
        (
            {"sortBy": "confidence", "limit": 5, "page": 3},
            OpportunityQuery(sort_by="confidence", limit=5, page=3),
        ),
        ({"sortBy": "timestamp", "sortOrder": "asc"}, OpportunityQuery(sort_order="asc")),
        ({"page": 99}, OpportunityQuery(page=99)),
    ]


def test_filters_agree_with_direct_store_query(client: TestClient, store: SqlStore) -> None:
    for params, q in _cases(store):
        body = _get(client, "/v1/mev/opportunities", params)
        want = store.opportunities(q)
        assert [o["id"] for o in body["opportunities"]] == [r["id"] for r in want.rows], params
        assert body["pagination"] == {"page": q.page, "limit": q.limit, "total": want.total}, params
        s = body["summary"]
        assert s["totalMevExtracted"] == float(want.total_mev_extracted), params
        assert s["totalVictimLoss"] == float(want.total_victim_loss), params
        avg = want.avg_profit_per_opportunity
        assert s["avgProfitPerOpportunity"] == (None if avg is None else float(avg)), params


def _pages(client: TestClient, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        body = _get(client, "/v1/mev/opportunities", {**params, "limit": limit, "page": page})
        out += body["opportunities"]
        if page * limit >= body["pagination"]["total"]:
            assert len(out) == body["pagination"]["total"]
            return out
        page += 1


def test_filters_hold_on_every_row(client: TestClient, store: SqlStore) -> None:
    rows = _all_rows(store)
    bot = next(r["bot_address"] for r in rows if r["bot_address"])
    start, end = _window(store)
    types = {"sandwich", "liquidation"}
    got = _pages(client, {"opportunityTypes": ",".join(types)}, 4)
    assert got and {o["opportunityType"] for o in got} == types
    assert len(got) == sum(r["opportunity_type"] in types for r in rows)
    got = _pages(client, {"minProfit": 50.5}, 4)
    assert got and all(o["financials"]["mevProfitUsd"] >= 50.5 for o in got)
    assert len(got) == sum(
        r["mev_profit_usd"] is not None and r["mev_profit_usd"] >= Decimal("50.5") for r in rows
    )
    got = _pages(client, {"botAddress": bot.upper().replace("0X", "0x")}, 2)
    assert got and all(o["bot"]["address"] == bot for o in got)
    got = _pages(client, {"startTime": start.isoformat(), "endTime": end.isoformat()}, 3)
    ts = [datetime.fromisoformat(o["timestamp"]) for o in got]
    assert got and all(start <= t < end for t in ts)  # start inclusive, end exclusive
    # the same instant in another offset selects the same rows
    shifted = {"startTime": start.astimezone().isoformat(), "endTime": end.astimezone().isoformat()}
    assert [o["id"] for o in _pages(client, shifted, 50)] == [o["id"] for o in got]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize(
    ("sort_by", "key"),
    [
        ("profit", lambda o: o["financials"]["mevProfitUsd"]),
        ("timestamp", lambda o: o["timestamp"]),
        ("confidence", lambda o: o["detection"]["confidenceScore"]),
    ],
)
def test_sorting_and_pagination(
    client: TestClient, store: SqlStore, sort_by: str, key: Any, order: str
) -> None:
    got = _pages(client, {"sortBy": sort_by, "sortOrder": order}, 6)
    ids = [o["id"] for o in got]
    assert len(set(ids)) == len(ids) == len(_all_rows(store))  # pages neither overlap nor skip
    values = [key(o) for o in got]
    known = [v for v in values if v is not None]
    assert values[: len(known)] == known  # unknown values last
    assert known == sorted(known, reverse=order == "desc")
    assert [
        o["id"]
        for o in _get(client, "/v1/mev/opportunities", {"sortBy": sort_by, "sortOrder": order, "limit": 500})[
            "opportunities"
        ]
    ] == ids


def test_summary_equals_sum_over_all_pages(client: TestClient) -> None:
    for params in ({}, {"opportunityTypes": "arbitrage"}, {"minProfit": 10}):
        body = _get(client, "/v1/mev/opportunities", {**params, "limit": 3})
        got = _pages(client, params, 3)
        counted = [o for o in got if o["extras"]["counted"]]
        priced = [
            o["financials"]["mevProfitUsd"] for o in counted if o["financials"]["mevProfitUsd"] is not None
        ]
        losses = [o["financials"]["victimLossUsd"] or 0 for o in counted]
        s = body["summary"]
        assert s["totalMevExtracted"] == pytest.approx(sum(priced), abs=0.005), params
        assert s["totalVictimLoss"] == pytest.approx(sum(losses), abs=0.005), params
        assert s["avgProfitPerOpportunity"] == pytest.approx(sum(priced) / len(priced), abs=0.006), params


def test_opportunity_by_id(client: TestClient, store: SqlStore) -> None:
    o = _get(client, "/v1/mev/opportunities", {"limit": 1})["opportunities"][0]
    one = _get(client, f"/v1/mev/opportunities/{o['id']}")
    # a list page leaves the detector's evidence out; the single view carries it
    assert o["extras"]["details"] is None and isinstance(one["extras"]["details"], dict)
    assert {**one, "extras": {**one["extras"], "details": None}} == o
    assert _get(client, f"/v1/mev/opportunities/{o['id'].upper()}")["id"] == o["id"]
    r = client.get("/v1/mev/opportunities/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and r.json()["error"] == "not found" and "00000000" in r.json()["message"]


def test_bots(client: TestClient, store: SqlStore) -> None:
    body = _get(client, "/v1/mev/bots", {"limit": 500})
    assert body["pagination"]["total"] == len(body["bots"]) == len(store.dump("mev_bots")) > 0
    extracted = [b["totalMevExtracted"] for b in body["bots"]]
    assert extracted == sorted(extracted, reverse=True)
    arb = _get(client, "/v1/mev/bots", {"botType": "arbitrage", "sortBy": "lastActive", "sortOrder": "asc"})
    assert arb["bots"] and all(b["botType"] == "arbitrage" for b in arb["bots"])
    assert arb["pagination"]["total"] == sum(b["botType"] == "arbitrage" for b in body["bots"])
    assert _get(client, "/v1/mev/bots", {"chains": "10"})["pagination"]["total"] == 0
    page2 = _get(client, "/v1/mev/bots", {"limit": 2, "page": 2})
    assert [b["botAddress"] for b in page2["bots"]] == [b["botAddress"] for b in body["bots"][2:4]]
    top = body["bots"][0]
    assert _get(client, f"/v1/mev/bots/{top['botAddress'].upper().replace('0X', '0x')}") == top
    assert _get(client, f"/v1/mev/bots/{top['botAddress']}", {"chain": "1"}) == top
    assert client.get(f"/v1/mev/bots/{top['botAddress']}", params={"chain": "10"}).status_code == 404
    r = client.get("/v1/mev/bots/0x" + "00" * 20)
    assert r.status_code == 404 and r.json()["error"] == "not found"


def test_leakage(client: TestClient, store: SqlStore) -> None:
    rows = store.leakage(None, None, None, None)
    body = _get(client, "/v1/mev/leakage")
    assert body["total"] == len(body["leakage"]) == len(rows) > 0
    first = body["leakage"][0]
    assert {"protocolId", "chainId", "date", "totalMevExtracted", "mevAffectedPct", "topBotAddresses"} <= set(
        first
    )
    proto, day = first["protocolId"], first["date"]
    one = _get(client, "/v1/mev/leakage", {"protocol": proto, "chain": "1", "startDate": day, "endDate": day})
    assert [(x["protocolId"], x["date"]) for x in one["leakage"]] == [(proto, day)]
    assert _get(client, "/v1/mev/leakage", {"chain": "10"})["total"] == 0


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "params", "parameter"),
    [
        ("/v1/mev/opportunities", {"limit": 0}, "limit"),
        ("/v1/mev/opportunities", {"limit": 501}, "limit"),
        ("/v1/mev/opportunities", {"limit": "ten"}, "limit"),
        ("/v1/mev/opportunities", {"page": 0}, "page"),
        ("/v1/mev/opportunities", {"page": 10**30}, "page"),
        ("/v1/mev/opportunities", {"minProfit": -1}, "minProfit"),
        ("/v1/mev/opportunities", {"minProfit": "nan"}, "minProfit"),
        ("/v1/mev/opportunities", {"minProfit": "inf"}, "minProfit"),
        ("/v1/mev/opportunities", {"sortBy": "gas"}, "sortBy"),
        ("/v1/mev/opportunities", {"sortOrder": "up"}, "sortOrder"),
        ("/v1/mev/opportunities", {"opportunityTypes": "sandwich,rugpull"}, "opportunityTypes"),
        ("/v1/mev/opportunities", {"chains": "mainnet"}, "chains"),
        ("/v1/mev/opportunities", {"botAddress": "0x1234"}, "botAddress"),
        ("/v1/mev/opportunities", {"startTime": "yesterday"}, "startTime"),
        ("/v1/mev/opportunities", {"startTime": "9999-12-31T23:59:59-05:00"}, "startTime"),
        (
            "/v1/mev/opportunities",
            {"startTime": "2021-02-01T00:00:00Z", "endTime": "2021-01-01T00:00:00Z"},
            "startTime",
        ),
        ("/v1/mev/opportunities/not-a-uuid", {}, "id"),
        ("/v1/mev/bots", {"botType": "robot"}, "botType"),
        ("/v1/mev/bots", {"sortBy": "profit"}, "sortBy"),
        ("/v1/mev/bots/0xzz", {}, "address"),
        ("/v1/mev/leakage", {"startDate": "2021-02-30"}, "startDate"),
        ("/v1/mev/leakage", {"startDate": "2021-03-02", "endDate": "2021-03-01"}, "startDate"),
        ("/v1/mev/leakage", {"chain": "eth"}, "chain"),
    ],
)
def test_invalid_parameter_is_422_naming_it(
    client: TestClient, url: str, params: dict[str, Any], parameter: str
) -> None:
    r = client.get(url, params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid parameter" and body["parameter"] == parameter
    assert body["message"].startswith(parameter + ":")


def test_unexpected_error_is_json_500_without_trace(store: SqlStore, read_key: str) -> None:
    class Broken:
        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def opportunities(self, q: OpportunityQuery) -> Any:
            raise RuntimeError("secret internals")

    with TestClient(create_app(Broken(), cache_ttl_s=0), raise_server_exceptions=False) as c:
        r = c.get("/v1/mev/opportunities", headers={"X-API-Key": read_key})
    assert r.status_code == 500
    assert r.json() == {"error": "internal error", "message": "unexpected server error (logged)"}
    assert "secret" not in r.text and "Traceback" not in r.text


def test_unknown_route_is_json_404(client: TestClient) -> None:
    r = client.get("/v1/mev/nothing")
    assert r.status_code == 404 and r.json()["error"] == "not found"


# --- auth ------------------------------------------------------------------------------------


def test_auth(store: SqlStore, read_key: str) -> None:
    write_only = store.create_api_key(["write"])
    with TestClient(create_app(store)) as c:
        r = c.get("/v1/mev/opportunities")
        assert (
            r.status_code == 401
            and r.json()["error"] == "unauthorized"
            and "X-API-Key" in r.json()["message"]
        )
        r = c.get("/v1/mev/opportunities", headers={"X-API-Key": "mg_not-a-key"})
        assert r.status_code == 401 and "unknown" in r.json()["message"]
        r = c.get("/v1/mev/bots", headers={"X-API-Key": write_only})
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        assert c.get("/v1/mev/leakage", headers={"X-API-Key": read_key}).status_code == 200
        # auth is checked before parameters: no key and a bad parameter is still 401
        assert c.get("/v1/mev/opportunities", params={"limit": 0}).status_code == 401
        assert c.get("/v1/health").status_code == 200  # health needs no key
        assert c.get("/openapi.json").status_code == 200
    with TestClient(create_app(store, auth=False)) as c:
        assert c.get("/v1/mev/opportunities").status_code == 200
        assert c.get("/v1/mev/opportunities", headers={"X-API-Key": "mg_not-a-key"}).status_code == 401


def test_openapi_declares_key_and_spec_parameters(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "description": "a key with scope `read`",
        "in": "header",
        "name": "X-API-Key",
    }
    params = {p["name"] for p in doc["paths"]["/v1/mev/opportunities"]["get"]["parameters"]}
    assert params == {
        "chains",
        "opportunityTypes",
        "minProfit",
        "botAddress",
        "startTime",
        "endTime",
        "sortBy",
        "sortOrder",
        "page",
        "limit",
    }


def test_key_lookups_are_cached(store: SqlStore, read_key: str) -> None:
    calls: list[str] = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def api_key_scopes(self, key: str) -> list[str] | None:
            calls.append(key)
            return store.api_key_scopes(key)

    with TestClient(create_app(Counting()), headers={"X-API-Key": read_key}) as c:
        for _ in range(5):
            assert c.get("/v1/mev/leakage").status_code == 200
    assert len(calls) == 1


# --- rate limits -----------------------------------------------------------------------------


def _fresh_window() -> None:
    """Wait out the last 2 s of a one-minute window so a burst lands in one window."""
    left = 60 - time.time() % 60
    if left < 2:
        time.sleep(left + 0.05)


def _burst(c: TestClient, n: int, headers: dict[str, str] | None = None) -> list[int]:
    return [c.get("/v1/mev/leakage", headers=headers).status_code for _ in range(n)]


def _assert_429(c: TestClient, headers: dict[str, str] | None = None) -> None:
    r = c.get("/v1/mev/leakage", headers=headers)
    assert r.status_code == 429 and r.json()["error"] == "rate limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 60


def test_rate_limit_in_process_per_key(store: SqlStore, read_key: str) -> None:
    other = store.create_api_key(["read"])
    _fresh_window()
    with TestClient(create_app(store, rate_limit_per_minute=3)) as c:
        assert _burst(c, 3, {"X-API-Key": read_key}) == [200, 200, 200]
        _assert_429(c, {"X-API-Key": read_key})
        assert _burst(c, 1, {"X-API-Key": other}) == [200]  # another key has its own budget
    with TestClient(create_app(store, auth=False, rate_limit_per_minute=2)) as c:
        assert _burst(c, 2) == [200, 200]
        _assert_429(c)  # anonymous: per client IP


def test_rate_limit_redis_shared_between_processes(
    store: SqlStore, read_key: str, redis_url: str, prefix: str
) -> None:
    import redis

    h = {"X-API-Key": read_key}
    _fresh_window()
    a = TestClient(create_app(store, redis_url=redis_url, redis_prefix=prefix, rate_limit_per_minute=4))
    b = TestClient(create_app(store, redis_url=redis_url, redis_prefix=prefix, rate_limit_per_minute=4))
    assert _burst(a, 2, h) + _burst(b, 2, h) == [200] * 4
    _assert_429(a, h)
    _assert_429(b, h)
    counters = list(redis.Redis.from_url(redis_url).scan_iter(match=prefix + "rl:*"))
    assert len(counters) == 1
    ttl = redis.Redis.from_url(redis_url).ttl(counters[0])
    assert 0 < ttl <= 60  # every counter expires


@pytest.mark.parametrize("with_redis", [False, True])
def test_failing_requests_count_against_the_limit_once(
    store: SqlStore, read_key: str, redis_url: str, prefix: str, with_redis: bool
) -> None:
    """A list route counts its request with the cache read; one that fails before that (422,
    404 of an id, 500) is counted by the error handler instead -- once, and over the limit the
    answer is the 429."""
    h = {"X-API-Key": read_key}
    _fresh_window()
    app = create_app(
        store, redis_url=redis_url if with_redis else None, redis_prefix=prefix, rate_limit_per_minute=4
    )
    with TestClient(app, headers=h) as c:
        assert c.get("/v1/mev/opportunities?limit=0").status_code == 422  # pydantic's check
        assert c.get("/v1/mev/opportunities?startTime=2024-02-01&endTime=2024-01-01").status_code == 422
        assert c.get("/v1/mev/bots?page=0").status_code == 422
        assert c.get("/v1/mev/opportunities?limit=2").status_code == 200
        for bad in ("/v1/mev/opportunities?limit=0", "/v1/mev/opportunities?limit=2", "/v1/mev/leakage"):
            r = c.get(bad)
            assert r.status_code == 429 and r.json()["error"] == "rate limited", bad


def test_a_cold_list_request_reads_counter_generation_and_entry_in_one_round_trip(
    store: SqlStore, read_key: str, redis_url: str, prefix: str
) -> None:
    app = create_app(store, redis_url=redis_url, redis_prefix=prefix, rate_limit_per_minute=1000)
    api = app.state.api
    reads: list[list[str]] = []
    real = api.limiter.ahit

    async def spy(identity: str, aredis: object, keys: list[str] = ()) -> object:  # type: ignore[assignment]
        reads.append(list(keys))
        return await real(identity, aredis, keys)

    api.limiter.ahit = spy
    with TestClient(app, headers={"X-API-Key": read_key}) as c:
        first = c.get("/v1/mev/opportunities?limit=3")
        again = c.get("/v1/mev/opportunities?limit=3")
        c.get("/v1/mev/opportunities/00000000-0000-0000-0000-000000000000")  # not a cached route
    assert first.headers["X-Cache"] == "miss" and again.headers["X-Cache"] == "hit"
    assert again.content == first.content
    gen = prefix + "gen"
    # the cold request reads the generation AND the entry; the repeat only the generation (its
    # body is held in the process); the detail route only counts
    assert reads[0][0] == gen and reads[0][1].startswith(prefix + "q:") and len(reads[0]) == 2
    assert reads[1] == [gen]
    assert reads[2] == []


def test_admission_survives_a_redis_that_lost_its_scripts(
    store: SqlStore, read_key: str, redis_url: str, prefix: str
) -> None:
    """The admission script is sent by its hash; a Redis restarted (or flushed) since then
    answers NOSCRIPT and the script is sent in full, in the same request."""
    import redis

    _fresh_window()
    app = create_app(store, redis_url=redis_url, redis_prefix=prefix, rate_limit_per_minute=1000)
    with TestClient(app, headers={"X-API-Key": read_key}) as c:
        assert c.get("/v1/mev/opportunities?limit=2").status_code == 200
        redis.Redis.from_url(redis_url).script_flush()
        again = c.get("/v1/mev/opportunities?limit=2")
        assert again.status_code == 200 and again.headers["X-Cache"] == "hit"
    (counter,) = redis.Redis.from_url(redis_url).scan_iter(match=prefix + "rl:*")
    assert int(redis.Redis.from_url(redis_url).get(counter) or 0) == 2  # both counted, in Redis


# --- cache -----------------------------------------------------------------------------------


@pytest.fixture
def growing(tmp_path: Path, block_names: list[str]) -> Iterator[tuple[SqlStore, list[str]]]:
    """A store holding all blocks but the last one that has findings, and that block's name."""
    st = filled_store(tmp_path / "grow", [])
    names = sorted((n for n in block_names if n != "10921990"), key=lambda n: load_fixture(n).number)
    ingest(st, [load_fixture(n) for n in names[:-1]])
    yield st, names[-1:]
    st.close()


@pytest.mark.parametrize("backend", ["redis", "local"])
def test_cache_invalidated_after_ingest(
    growing: tuple[SqlStore, list[str]], redis_url: str, prefix: str, backend: str
) -> None:
    st, later = growing
    url = redis_url if backend == "redis" else None
    app = create_app(st, auth=False, redis_url=url, redis_prefix=prefix, cache_ttl_s=60)
    with TestClient(app) as c:
        first = c.get("/v1/mev/opportunities")
        assert first.headers["X-Cache"] == "miss"
        again = c.get("/v1/mev/opportunities")
        assert again.headers["X-Cache"] == "hit" and again.json() == first.json()
        bots_before = c.get("/v1/mev/bots").json()
        stats = ingest(st, [load_fixture(n) for n in later])
        assert stats.opportunities > 0
        stale = c.get("/v1/mev/opportunities")  # within the TTL and not invalidated: cached
        assert stale.headers["X-Cache"] == "hit"
        invalidate_cache(url, prefix=prefix)
        fresh = c.get("/v1/mev/opportunities")
        assert fresh.headers["X-Cache"] == "miss"
        total = fresh.json()["pagination"]["total"]
        assert total == first.json()["pagination"]["total"] + stats.opportunities
        assert total == st.opportunities(OpportunityQuery()).total
        assert c.get("/v1/mev/bots").json() != bots_before
        assert c.get("/v1/mev/opportunities").headers["X-Cache"] == "hit"


def test_cache_keys_normalized_and_ttl(store: SqlStore, read_key: str, redis_url: str, prefix: str) -> None:
    app = create_app(store, redis_url=redis_url, redis_prefix=prefix, cache_ttl_s=0.5)
    with TestClient(app, headers={"X-API-Key": read_key}) as c:
        a = c.get("/v1/mev/opportunities", params={"chains": "1,10", "opportunityTypes": "sandwich,jit"})
        b = c.get(
            "/v1/mev/opportunities", params={"chains": ["10", "1"], "opportunityTypes": ["jit", "sandwich"]}
        )
        assert (a.headers["X-Cache"], b.headers["X-Cache"]) == ("miss", "hit") and a.json() == b.json()
        time.sleep(0.6)
        assert (
            c.get(
                "/v1/mev/opportunities", params={"chains": "1,10", "opportunityTypes": "jit,sandwich"}
            ).headers["X-Cache"]
            == "miss"
        )


# --- health ----------------------------------------------------------------------------------


def test_health(store: SqlStore, redis_url: str) -> None:
    with TestClient(create_app(store, redis_url=redis_url)) as c:
        assert c.get("/v1/health").json() == {
            "status": "ok",
            "version": "0.1.0",
            "store": "ok",
            "redis": "ok",
            "followers": [],
            "mempool": [],
        }
    with TestClient(create_app(store)) as c:
        assert c.get("/v1/health").json()["redis"] == "not configured"
    with TestClient(create_app(store, redis_url="redis://127.0.0.1:1/0")) as c:
        r = c.get("/v1/health")
        assert (
            r.status_code == 200 and r.json()["redis"] == "unreachable" and r.json()["status"] == "degraded"
        )
        # the API itself keeps answering without its cache and shared limits
        assert (
            c.get("/v1/mev/leakage", headers={"X-API-Key": store.create_api_key(["read"])}).status_code == 200
        )

    class Down:
        def api_key_scopes(self, key: str) -> None:
            raise ConnectionError("store down")

    with TestClient(create_app(Down())) as c:  # type: ignore[arg-type]
        r = c.get("/v1/health")
        assert r.status_code == 503 and r.json()["store"] == "unreachable"


def test_list_pages_match_the_response_model(client: TestClient, store: SqlStore) -> None:
    """List pages are built as plain dicts for speed; they must be exactly what the declared
    ``OpportunitiesResponse`` model (the OpenAPI schema) validates and dumps."""
    from mevgraph.api.models import OpportunitiesResponse

    for params in ({"limit": 500}, {"sortBy": "profit", "limit": 7, "page": 2}):
        body = _get(client, "/v1/mev/opportunities", params)
        assert body["opportunities"]
        assert OpportunitiesResponse.model_validate(body).model_dump(by_alias=True) == body
