"""The PostgreSQL-built list rows (``SqlStore.opportunity_page_json``) are the API's rendering.

The API serves uncached list pages from JSON that PostgreSQL builds, and renders rows in Python
(``mevgraph.api.models.opportunity_dict``) on the embedded store; both must be the same document
for every stored row -- the real blocks' findings plus rows with the awkward values (unpriced,
null symbols, sub-second times) that those blocks may not hold.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import orjson

from mevgraph.api.models import opportunity_dict
from mevgraph.store import OpportunityQuery, SqlStore

from .conftest import Chain


def _both(store: SqlStore, q: OpportunityQuery) -> tuple[list[object], list[object]]:
    built = store.opportunity_page_json(q)
    assert built is not None
    texts, page = built
    rows = store.opportunities(q)
    assert page.total == rows.total and page.total_mev_extracted == rows.total_mev_extracted
    return [orjson.loads(t) for t in texts], [
        orjson.loads(orjson.dumps(opportunity_dict(r))) for r in rows.rows
    ]


def test_database_json_equals_python_rendering(make_store: object, real_chain: Chain) -> None:
    store: SqlStore = make_store("postgres")  # type: ignore[operator]
    for rec, findings in real_chain:
        store.ingest_block(rec, findings)
    # an extra block with a sub-second time, an unpriced finding and an unknown token symbol
    rec, findings = next((r, f) for r, f in real_chain if f)
    odd = dataclasses.replace(rec, number=rec.number + 10_000_000, hash="0x" + "ab" * 32, parent_hash=None)
    f0 = dataclasses.replace(
        findings[0],
        block_number=odd.number,
        gross_profit_usd=None,
        profit_usd=None,
        unpriced_reason="no on-chain price",
        profit_by_token={**findings[0].profit_by_token, "0x" + "12" * 20: 5},  # a token without a symbol
    )
    store.ingest_block(odd, [f0])
    with store._write() as s:  # sub-second timestamps cannot come from a block; set one directly
        s.execute(
            'UPDATE mev_opportunities SET "timestamp" = :t WHERE block_number = :n',
            {"t": datetime(2024, 5, 1, 12, 0, 0, 120000), "n": odd.number},
        )
    store._forget_summaries()
    for q in (
        OpportunityQuery(limit=500),
        OpportunityQuery(limit=500, sort_by="profit", sort_order="asc"),
        OpportunityQuery(limit=3, page=2, opportunity_types=["sandwich"]),
        OpportunityQuery(limit=50, start_time=datetime(2020, 1, 1, tzinfo=UTC)),
    ):
        db, py = _both(store, q)
        assert db == py, q
    db, _ = _both(store, OpportunityQuery(limit=500))
    assert any(o["financials"]["mevProfitUsd"] is None for o in db)  # type: ignore[index]
    assert any(o["timestamp"].endswith(".120000Z") for o in db)  # type: ignore[index]
    assert any(None in o["tokens"]["symbols"] for o in db)  # type: ignore[index]


def test_embedded_store_leaves_rendering_to_the_api(make_store: object) -> None:
    store: SqlStore = make_store("embedded")  # type: ignore[operator]
    assert store.opportunity_page_json(OpportunityQuery()) is None


def test_async_page_equals_the_threaded_one(make_store: object, real_chain: Chain) -> None:
    """The API's event-loop path (``aopportunity_page_json``: page and totals pipelined in one
    round trip, the totals memo shared) returns exactly what the threaded path returns."""
    import asyncio
    from datetime import timedelta
    from decimal import Decimal

    store: SqlStore = make_store("postgres")  # type: ignore[operator]
    for rec, findings in real_chain:
        store.ingest_block(rec, findings)
    first = store.opportunities(OpportunityQuery(limit=1, sort_order="asc")).rows[0]
    t0: datetime = first["timestamp"]
    bot = first["bot_address"]
    queries = [
        OpportunityQuery(),
        OpportunityQuery(bot_address=bot, start_time=datetime(2019, 1, 1, 0, 0, 0, 1234, tzinfo=UTC)),
        OpportunityQuery(opportunity_types=["sandwich", "arbitrage"], chains=["1"]),
        OpportunityQuery(min_profit=Decimal("1.00"), sort_by="profit"),
        # partial days at both edges, a window inside one day, and whole days only
        OpportunityQuery(
            start_time=t0 - timedelta(days=2, hours=3), end_time=t0 + timedelta(days=1, hours=2)
        ),
        OpportunityQuery(start_time=t0 - timedelta(minutes=1), end_time=t0 + timedelta(hours=1)),
        OpportunityQuery(
            start_time=datetime(2020, 1, 1, tzinfo=UTC), end_time=datetime(2030, 1, 1, tzinfo=UTC)
        ),
    ]

    async def run() -> list[object]:
        out = [await store.aopportunity_page_json(q) for q in queries]  # type: ignore[attr-defined]
        await store.aclose()  # type: ignore[attr-defined]
        return out

    for ttl in (0.0, 60.0):
        store.summary_ttl = ttl
        store._forget_summaries()
        threaded = [store.opportunity_page_json(q) for q in queries]
        store._forget_summaries()
        assert asyncio.run(run()) == threaded
    # with the memo warm, a repeated query sends only its page
    before = store.queries.value
    asyncio.run(run())
    assert store.queries.value - before == len(queries)


def test_read_connections_settings(make_store: object) -> None:
    """The API's read connections: no JIT (compiling took 50-150 ms); the totals pool plans once
    (generic plans), and a ``min_profit`` total, which aggregates the table, stays off it."""
    import asyncio
    from decimal import Decimal

    store: SqlStore = make_store("postgres")  # type: ignore[operator]

    async def settings(generic: bool) -> tuple[str, str, str]:
        async with store._async_pool(generic_plans=generic).connection() as conn:  # type: ignore[attr-defined]
            row = await (
                await conn.execute(
                    "SELECT current_setting('jit'), current_setting('plan_cache_mode'), current_setting('TimeZone')"
                )
            ).fetchone()
        await store.aclose()  # type: ignore[attr-defined]
        return row  # type: ignore[return-value]

    assert asyncio.run(settings(False)) == ("off", "auto", "UTC")
    assert asyncio.run(settings(True)) == ("off", "force_generic_plan", "UTC")
    assert store._totals_plan(OpportunityQuery()).summaries
    assert not store._totals_plan(OpportunityQuery(min_profit=Decimal("1"))).summaries


def test_reads_survive_a_database_restart(make_store: object, real_chain: Chain) -> None:
    """Pooled connections that the server dropped (a restart, a failover, an administrator) cost
    no failed request, on the threaded path and on the API's event-loop path: a dropped idle
    connection is seen before use (its socket is readable), and an event-loop read that still
    meets one is retried once on a new connection."""
    import asyncio
    import threading

    import psycopg

    store: SqlStore = make_store("postgres")  # type: ignore[operator]
    for rec, findings in real_chain[:5]:
        store.ingest_block(rec, findings)
    q = OpportunityQuery(limit=5)

    def terminate_all() -> None:
        with psycopg.connect(store.url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "  # waits for each to exit
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        store._forget_summaries()

    # threaded: fill the pool with several idle connections, drop them all, read again
    barrier = threading.Barrier(4)

    def hold() -> None:
        with store._read() as s:
            barrier.wait(10)
            s.all("SELECT 1")

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    want = store.opportunities(q)
    terminate_all()
    for _ in range(6):
        got = store.opportunities(q)
        assert [r["id"] for r in got.rows] == [r["id"] for r in want.rows] and got.total == want.total

    async def run() -> None:
        first = await asyncio.gather(*(store.aopportunity_page_json(q) for _ in range(4)))  # type: ignore[attr-defined]
        terminate_all()
        for _ in range(6):  # more than one idle connection was dropped
            assert await store.aopportunity_page_json(q) == first[0]  # type: ignore[attr-defined]
        await store.aclose()  # type: ignore[attr-defined]

    asyncio.run(run())
