"""The store contract, run against every backend (embedded DuckDB and PostgreSQL).

Data: the shared real mainnet blocks and the findings the pipeline reports for them. Expected
figures are recomputed here in Python from :func:`mevgraph.store.rows.opportunity_row`, so the
SQL (filters, summary table with partial-day edges, sorting, derived tables) is checked against
an independent computation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mevgraph.detection.base import Finding
from mevgraph.store import BlockRecord, BotQuery, OpportunityQuery, SqlStore, open_store
from mevgraph.store.aggregates import TABLES
from mevgraph.store.migrations import MIGRATIONS
from mevgraph.store.rows import block_timestamp, opportunity_row

from .conftest import Chain

VOLATILE = frozenset({"created_at", "updated_at", "ingested_at"})
"""Columns that record when a row was written, not what it says."""


def ingest(store: SqlStore, chain: Chain) -> None:
    for block, findings in chain:
        result = store.ingest_block(block, findings)
        assert not result.unchanged
        assert result.written == len(findings)


def dumps(store: SqlStore, volatile: bool = False) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for table in TABLES:
        rows = store.dump(table)
        out[table] = rows if volatile else stable(rows)
    return out


def stable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


def expected_rows(chain: Chain) -> list[dict[str, Any]]:
    out = []
    for block, findings in chain:
        ts = block_timestamp(block, findings)
        for f in findings:
            row = opportunity_row(f, block, ts)
            if row["timestamp"] is not None:
                row["timestamp"] = row["timestamp"].replace(tzinfo=UTC)
            out.append(row)
    return out


def matches(row: dict[str, Any], q: OpportunityQuery) -> bool:
    ts = row["timestamp"]
    return (
        (not q.chains or row["chain_id"] in q.chains)
        and (not q.opportunity_types or row["opportunity_type"] in q.opportunity_types)
        and (not q.bot_address or row["bot_address"] == q.bot_address.lower())
        and (
            q.min_profit is None
            or (row["mev_profit_usd"] is not None and row["mev_profit_usd"] >= q.min_profit)
        )
        and (q.start_time is None or (ts is not None and ts >= q.start_time))
        and (q.end_time is None or (ts is not None and ts < q.end_time))
    )


def expected_page(rows: list[dict[str, Any]], q: OpportunityQuery) -> tuple[list[str], int, Decimal, Decimal]:
    """Ids of every matching row in the store's order, count, profit and victim-loss totals."""
    hit = [r for r in rows if matches(r, q)]
    column = {"profit": "mev_profit_usd", "timestamp": "timestamp", "confidence": "confidence_score"}[
        q.sort_by
    ]
    desc = q.sort_order == "desc"
    present = sorted(
        (r for r in hit if r[column] is not None), key=lambda r: (r[column], r["id"]), reverse=desc
    )
    missing = sorted((r for r in hit if r[column] is None), key=lambda r: r["id"], reverse=desc)
    counted = [r for r in hit if r["counted"]]
    profit = sum((r["mev_profit_usd"] for r in counted if r["mev_profit_usd"] is not None), Decimal(0))
    loss = sum((r["victim_loss_usd"] for r in counted if r["victim_loss_usd"] is not None), Decimal(0))
    return [r["id"] for r in present + missing], len(hit), profit, loss


def all_ids(store: SqlStore, q: OpportunityQuery) -> list[str]:
    ids: list[str] = []
    page = 1
    while True:
        got = store.opportunities(dataclasses.replace(q, page=page))
        ids += [r["id"] for r in got.rows]
        if len(got.rows) < q.limit:
            return ids
        page += 1


def test_ingest_counts_totals_and_idempotence(store: SqlStore, real_chain: Chain) -> None:
    ingest(store, real_chain)
    rows = expected_rows(real_chain)
    page = store.opportunities(OpportunityQuery(limit=1000))
    _, n, profit, loss = expected_page(rows, OpportunityQuery())
    assert page.total == n == sum(len(f) for _, f in real_chain)
    assert (page.total_mev_extracted, page.total_victim_loss) == (profit, loss)
    assert {r["id"] for r in page.rows} == {r["id"] for r in rows}
    assert store.blocks(1) == [(b.number, b.hash) for b, _ in real_chain]

    before = dumps(store, volatile=True)
    for block, findings in real_chain:
        assert store.ingest_block(block, findings).unchanged
    assert dumps(store, volatile=True) == before


def test_stored_row_round_trips(store: SqlStore, real_chain: Chain) -> None:
    ingest(store, real_chain)
    for want in expected_rows(real_chain):
        got = store.opportunity(want["id"])
        assert got is not None
        assert {k: got[k] for k in want} == want
    assert store.opportunity("not-a-uuid") is None
    assert store.opportunity("00000000-0000-0000-0000-000000000000") is None


def test_backends_agree(make_store: Any, real_chain: Chain) -> None:
    embedded, postgres = make_store("embedded"), make_store("postgres")
    for s in (embedded, postgres):
        ingest(s, real_chain)
    assert dumps(embedded) == dumps(postgres)
    for q in (
        OpportunityQuery(limit=10),
        OpportunityQuery(sort_by="profit", sort_order="asc", limit=1000),
        OpportunityQuery(opportunity_types=["arbitrage"], min_profit=Decimal(50)),
    ):
        a, b = embedded.opportunities(q), postgres.opportunities(q)
        a.rows, b.rows = stable(a.rows), stable(b.rows)
        assert a == b
    (a_bots, a_n), (b_bots, b_n) = embedded.bots(BotQuery(limit=1000)), postgres.bots(BotQuery(limit=1000))
    assert (stable(a_bots), a_n) == (stable(b_bots), b_n)


def test_nested_findings_are_stored_but_never_counted(store: SqlStore, real_chain: Chain) -> None:
    ingest(store, real_chain)
    nested = [r for r in expected_rows(real_chain) if not r["counted"]]
    assert nested, "the fixtures hold nested findings (block 13404932)"
    for r in nested:
        stored = store.opportunity(r["id"])
        assert stored is not None and stored["counted"] is False
    # the nested backrun of block 13404932 is worth more than its enclosing sandwich: counting it
    # would show in the bot's total
    rows = [r for r in expected_rows(real_chain) if r["counted"]]
    for bot in store.dump("mev_bots"):
        mine = [r for r in rows if r["bot_address"] == bot["bot_address"]]
        net = sum((r["net_profit_usd"] for r in mine if r["net_profit_usd"] is not None), Decimal(0))
        assert bot["total_mev_extracted"] == net
        assert bot["total_opportunities"] == len(mine)
        assert bot["total_transactions"] == sum(len(r["mev_tx_hashes"]) for r in mine)


def _window(a: str, b: str) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(a).replace(tzinfo=UTC), datetime.fromisoformat(b).replace(tzinfo=UTC)


QUERIES = [
    OpportunityQuery(),
    OpportunityQuery(sort_order="asc"),
    OpportunityQuery(sort_by="profit"),
    OpportunityQuery(sort_by="profit", sort_order="asc"),
    OpportunityQuery(sort_by="confidence"),
    OpportunityQuery(sort_by="confidence", sort_order="asc"),
    OpportunityQuery(opportunity_types=["sandwich", "liquidation"]),
    OpportunityQuery(chains=["1"], opportunity_types=["arbitrage"], sort_by="profit"),
    OpportunityQuery(chains=["137"]),
    OpportunityQuery(min_profit=Decimal("100")),
    OpportunityQuery(bot_address="0x0000000000007F150BD6F54C40A34D7C3D5E9F56"),
    OpportunityQuery(bot_address="0x828a2d99bb1a31ca0eba80f3e01db8dae652a1e3", sort_by="profit"),
    # whole days only (summary table), partial days only, and both
    OpportunityQuery(
        start_time=_window("2021-05-22", "2021-10-13")[0], end_time=_window("2021-05-22", "2021-10-13")[1]
    ),
    OpportunityQuery(
        start_time=_window("2021-05-22T09:00", "2021-05-22T10:00")[0],
        end_time=_window("2021-05-22T09:00", "2021-05-22T10:00")[1],
    ),
    OpportunityQuery(
        start_time=_window("2021-05-22T09:08:22", "2022-06-30T09:19:56")[0],
        end_time=_window("2021-05-22T09:08:22", "2022-06-30T09:19:56")[1],
    ),
    # partial days with whole hours in them (hourly summary) and minutes around those (table)
    OpportunityQuery(
        start_time=_window("2021-05-22T08:59:59.5", "2022-06-30T09:30")[0],
        end_time=_window("2021-05-22T08:59:59.5", "2022-06-30T09:30")[1],
    ),
    OpportunityQuery(
        start_time=_window("2021-05-22T07:10", "2021-05-22T11:05")[0],
        end_time=_window("2021-05-22T07:10", "2021-05-22T11:05")[1],
        opportunity_types=["arbitrage", "sandwich"],
        chains=["1"],
    ),
    OpportunityQuery(start_time=_window("2021-07-06T12:00", "2021-07-06T12:00")[0]),
    OpportunityQuery(
        end_time=_window("2021-10-12T12:00", "2021-10-12T12:00")[0], opportunity_types=["arbitrage"]
    ),
    OpportunityQuery(
        start_time=_window("2021-01-01", "2022-01-01")[0],
        end_time=_window("2021-01-01", "2022-01-01")[1],
        bot_address="0x828a2d99bb1a31ca0eba80f3e01db8dae652a1e3",
    ),
]


@pytest.mark.parametrize("q", QUERIES, ids=range(len(QUERIES)))
def test_filters_sort_pagination(store: SqlStore, real_chain: Chain, q: OpportunityQuery) -> None:
    ingest(store, real_chain)
    ids, n, profit, loss = expected_page(expected_rows(real_chain), q)
    q = dataclasses.replace(q, limit=7)
    page = store.opportunities(q)
    assert page.total == n
    assert (page.total_mev_extracted, page.total_victim_loss) == (profit, loss)
    assert [r["id"] for r in page.rows] == ids[:7]
    assert all_ids(store, q) == ids


def test_bad_queries_are_refused(store: SqlStore) -> None:
    for q in (
        OpportunityQuery(sort_by="id; drop table blocks"),
        OpportunityQuery(sort_order="sideways"),
        OpportunityQuery(page=0),
        OpportunityQuery(limit=0),
    ):
        with pytest.raises(ValueError):
            store.opportunities(q)
    with pytest.raises(ValueError):
        store.bots(BotQuery(sort_by="bot_name"))


def _other_hash(block: BlockRecord) -> str:
    return "0x" + hashlib.sha256(f"reorg:{block.hash}".encode()).hexdigest()


def reorged_chain(chain: Chain) -> Chain:
    """``chain`` with its last three blocks replaced: other hashes, fewer and changed findings,
    and the last block moved to another day."""
    out = list(chain[:-3])
    (b1, _), (b2, f2), (b3, f3) = chain[-3:]
    out.append((dataclasses.replace(b1, hash=_other_hash(b1)), []))
    out.append((dataclasses.replace(b2, hash=_other_hash(b2)), list(f2)))
    assert b3.timestamp is not None
    later = b3.timestamp + 2 * 86400
    changed: list[Finding] = [
        dataclasses.replace(f, gross_profit_usd=(f.gross_profit_usd or 0) + 1000.0, block_timestamp=later)
        for f in f3[::2]
    ]
    out.append((dataclasses.replace(b3, hash=_other_hash(b3), timestamp=later), changed))
    return out


@pytest.mark.parametrize("kind", ["embedded", "postgres"])
def test_reorg_leaves_the_tables_of_the_final_chain(make_store: Any, real_chain: Chain, kind: str) -> None:
    final = reorged_chain(real_chain)
    assert sum(len(f) for _, f in final[-3:]) < sum(len(f) for _, f in real_chain[-3:])

    store = make_store(kind)
    ingest(store, real_chain)
    first = final[-3]
    result = store.ingest_block(*first)
    assert result.reorged == tuple(b.number for b, _ in real_chain[-3:])
    for block, findings in final[-2:]:
        assert store.ingest_block(block, findings).reorged == ()
    after = dumps(store)

    blocks = {(b["chain_id"], b["number"], b["hash"]) for b in after["blocks"]}
    assert {(r["chain_id"], r["block_number"], r["block_hash"]) for r in after["mev_opportunities"]} <= blocks
    assert blocks == {(str(b.chain_id), b.number, b.hash) for b, _ in final}

    fresh = make_store(kind)
    ingest(fresh, final)
    assert dumps(fresh) == after


def test_leakage_and_bots_read(store: SqlStore, real_chain: Chain) -> None:
    ingest(store, real_chain)
    leak = store.leakage("sushiswap", "1", None, None)
    assert leak and all(r["protocol_id"] == "sushiswap" for r in leak)
    assert [r["date"] for r in leak] == sorted((r["date"] for r in leak), reverse=True)
    assert store.leakage(None, None, date(2021, 10, 12), date(2021, 10, 12))
    assert all(
        r["date"] == date(2021, 10, 12)
        for r in store.leakage(None, None, date(2021, 10, 12), date(2021, 10, 12))
    )
    # blocks without a timestamp produce no leakage: only the four timestamped days appear
    assert {r["date"] for r in store.leakage(None, None, None, None)} == {
        date(2021, 5, 22),
        date(2021, 7, 6),
        date(2021, 10, 12),
        date(2022, 6, 30),
    }
    for r in store.leakage(None, None, None, None):
        assert r["total_mev_extracted"] >= 0
        assert r["unique_bots"] >= 1 and len(r["top_bot_addresses"]) == min(5, r["unique_bots"])
        assert r["mev_affected_pct"] is None or Decimal(0) <= r["mev_affected_pct"] <= 100

    bots, total = store.bots(BotQuery(limit=5))
    assert total == len(store.dump("mev_bots")) and len(bots) == 5
    assert [b["total_mev_extracted"] for b in bots] == sorted(
        (b["total_mev_extracted"] for b in bots), reverse=True
    )
    top = store.bot(bots[0]["bot_address"].upper())
    assert top is not None and top["id"] == bots[0]["id"]
    assert store.bot(bots[0]["bot_address"], "137") is None
    for b in store.dump("mev_bots"):
        assert Decimal(0) <= b["sophistication_score"] <= 100
        assert b["bot_type"] in {"sandwich", "arbitrage", "liquidation", "frontrun", "jit", "generalist"}
    liquidator, _ = store.bots(BotQuery(bot_type="liquidation", limit=50))
    assert liquidator and all(b["bot_type"] == "liquidation" for b in liquidator)


def test_api_keys(store: SqlStore) -> None:
    key = store.create_api_key(["read", "stream"], name="dashboard")
    assert key.startswith("mg_") and len(key) > 30
    assert store.api_key_scopes(key) == ["read", "stream"]
    assert store.api_key_scopes(key + "x") is None
    other = store.create_api_key([])
    assert store.api_key_scopes(other) == []
    assert store.revoke_api_key(key)
    assert store.api_key_scopes(key) is None
    assert not store.revoke_api_key(key)
    assert store.api_key_scopes(other) == []


def test_migrations_are_versioned_and_idempotent(store: SqlStore) -> None:
    assert store.upgrade() == []
    with store._read() as s:
        versions = [v for (v,) in s.all("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [m.version for m in MIGRATIONS]


def test_open_store_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEVGRAPH_STORE", str(tmp_path / "from-env"))
    with open_store(None) as s:
        assert s.dialect == "duckdb"
    assert (tmp_path / "from-env" / "mevgraph.duckdb").exists()
    monkeypatch.delenv("MEVGRAPH_STORE")
    monkeypatch.chdir(tmp_path)
    with open_store(None) as s:
        assert s.upgrade() == []
    assert (tmp_path / ".mevgraph" / "store" / "mevgraph.duckdb").exists()


def test_concurrent_reads_during_ingest(store: SqlStore, real_chain: Chain) -> None:
    ingest(store, real_chain[:10])
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(20):
                store.opportunities(OpportunityQuery(limit=5))
                store.bots(BotQuery(limit=5))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for t in threads:
        t.start()
    ingest(store, real_chain[10:])
    for t in threads:
        t.join()
    assert not errors
    assert store.opportunities(OpportunityQuery()).total == sum(len(f) for _, f in real_chain)
