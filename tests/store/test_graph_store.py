"""The investigator reads of the store contract, on every backend (embedded DuckDB, PostgreSQL).

Data: the shared real mainnet blocks with their findings and property-graph edges. Every read is
checked against an independent computation in Python over what was ingested (the edge records
and :func:`~mevgraph.store.rows.opportunity_row`), every batched read is checked to cost exactly
one SQL statement, and the keyset pages against the store's OFFSET pages.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest

from mevgraph.core.types import ETH
from mevgraph.store import BotQuery, OpportunityQuery, SqlStore
from mevgraph.store.base import GRAPH_EDGE_TYPES, EdgeRecord
from mevgraph.store.graph import encode_cursor

from .conftest import Chain
from .test_contract import expected_rows, ingest


@pytest.fixture
def filled(store: SqlStore, real_chain: Chain) -> SqlStore:
    ingest(store, real_chain)
    return store


def all_edges(chain: Chain) -> list[tuple[str, int, EdgeRecord]]:
    return [(str(b.chain_id), b.number, e) for b, _ in chain for e in b.edges]


def one_statement(store: SqlStore, fn: Any, *args: Any) -> Any:
    before = store.queries.value
    out = fn(*args)
    assert store.queries.value - before == 1, fn.__name__
    return out


def test_edges_written_with_their_blocks(filled: SqlStore, real_chain: Chain) -> None:
    stored = filled.dump("graph_edges")
    want = all_edges(real_chain)
    assert len(stored) == len(want) > 10_000
    assert Counter(r["edge_type"] for r in stored) == Counter(e.edge_type for _, _, e in want)
    assert {r["edge_type"] for r in stored} <= set(GRAPH_EDGE_TYPES)
    got = Counter(
        (r["block_number"], r["edge_type"], r["src"], r["dst"], r["token"], r["amount_raw"]) for r in stored
    )
    assert got == Counter(
        (n, e.edge_type, e.src, e.dst, e.token, None if e.amount_raw is None else str(e.amount_raw))
        for _, n, e in want
    )
    # ETH value transfers are there (what funders read)
    assert any(r["edge_type"] == "TRANSFERRED" and r["token"] == ETH for r in stored)


def test_edges_idempotent_and_removed_on_reorg(filled: SqlStore, real_chain: Chain) -> None:
    n = len(filled.dump("graph_edges"))
    for block, findings in real_chain:
        assert filled.ingest_block(block, findings).unchanged
    assert len(filled.dump("graph_edges")) == n
    block, findings = real_chain[-1]
    orphan = dataclasses.replace(block, hash="0x" + "ab" * 32, edges=block.edges[:3])
    assert filled.ingest_block(orphan, findings).reorged == (block.number,)
    rows = filled.dump("graph_edges")
    assert len(rows) == n - len(block.edges) + 3
    assert sum(r["block_number"] == block.number for r in rows) == 3


def _walk(store: SqlStore, q: OpportunityQuery) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        page = store.opportunity_slice(q, after)
        ids += [r["id"] for r in page.rows]
        assert len(page.cursors) == len(page.rows)
        if not page.has_next:
            return ids
        after = page.cursors[-1]


@pytest.mark.parametrize("sort_by", ["profit", "timestamp", "confidence"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_opportunity_keyset_pages_follow_the_offset_order(filled: SqlStore, sort_by: str, order: str) -> None:
    full = filled.opportunities(OpportunityQuery(sort_by=sort_by, sort_order=order, limit=1000)).rows
    assert len(full) > 40
    assert _walk(filled, OpportunityQuery(sort_by=sort_by, sort_order=order, limit=7)) == [
        r["id"] for r in full
    ]
    q = OpportunityQuery(sort_by=sort_by, sort_order=order, limit=5, opportunity_types=["arbitrage"])
    want = filled.opportunities(dataclasses.replace(q, limit=1000)).rows
    assert _walk(filled, q) == [r["id"] for r in want]


def test_cursor_of_another_sort_is_refused(filled: SqlStore) -> None:
    page = filled.opportunity_slice(OpportunityQuery(sort_by="profit", limit=2))
    with pytest.raises(ValueError, match="cursor"):
        filled.opportunity_slice(OpportunityQuery(sort_by="timestamp", limit=2), page.cursors[-1])
    for junk in ("", "x", "!!!", encode_cursor("o:profit:desc", [1])):
        with pytest.raises(ValueError, match="cursor"):
            filled.opportunity_slice(OpportunityQuery(sort_by="profit", limit=2), junk)


def test_opportunity_totals_match_the_page_summary(filled: SqlStore) -> None:
    q = OpportunityQuery(opportunity_types=["sandwich", "arbitrage"])
    page, totals = filled.opportunities(q), filled.opportunity_totals(q)
    assert (totals.total, totals.total_mev_extracted, totals.total_victim_loss) == (
        page.total,
        page.total_mev_extracted,
        page.total_victim_loss,
    )


def test_bot_keyset_pages(filled: SqlStore) -> None:
    for sort_by in ("total_mev_extracted", "first_seen", "total_transactions"):
        q = BotQuery(sort_by=sort_by, sort_order="asc", limit=1000)
        want = [(r["chain_id"], r["bot_address"]) for r in filled.bots(q)[0]]
        got: list[tuple[str, str]] = []
        after = None
        while True:
            page = filled.bot_slice(dataclasses.replace(q, limit=4), after)
            got += [(r["chain_id"], r["bot_address"]) for r in page.rows]
            if not page.has_next:
                break
            after = page.cursors[-1]
        assert got == want and len(got) == filled.bot_count(q) > 30


def test_bot_batches(filled: SqlStore, real_chain: Chain) -> None:
    rows = expected_rows(real_chain)
    bots = filled.bots(BotQuery(limit=1000))[0]
    keys = [(b["chain_id"], b["bot_address"]) for b in bots]
    found = one_statement(filled, filled.bots_by_address, [(None, k[1]) for k in keys] + keys)
    assert all(found[(None, a)]["bot_address"] == a for _, a in keys)

    q = OpportunityQuery(sort_by="profit", limit=2)
    pages = one_statement(filled, filled.bot_opportunities, keys, q)
    for c, a in keys:
        want = filled.opportunities(dataclasses.replace(q, bot_address=a, chains=[c], limit=1000)).rows
        assert [r["id"] for r in pages[(c, a)].rows] == [r["id"] for r in want[:2]]
        assert pages[(c, a)].has_next == (len(want) > 2)

    accounts = one_statement(filled, filled.bot_accounts, keys)
    for c, a in keys:
        mine = [r for r in rows if r["bot_address"] == a]
        assert set(accounts[(c, a)][0]) == {r["contract"] for r in mine if r["contract"]}
        assert set(accounts[(c, a)][1]) == {r["searcher"] for r in mine if r["searcher"]}

    pools = one_statement(filled, filled.bot_top, keys, "pools", 1000)
    for c, a in keys:
        want_pools = Counter(p for r in rows if r["bot_address"] == a and r["counted"] for p in r["pools"])
        assert {p["value"]: p["opportunities"] for p in pools[(c, a)]} == dict(want_pools)

    senders = {e.dst: e.src for _, _, e in all_edges(real_chain) if e.edge_type == "SENT"}
    victims = one_statement(filled, filled.bot_top, keys, "victims", 1000)
    for c, a in keys:
        want_victims = Counter(
            senders[t] for r in rows if r["bot_address"] == a and r["counted"] for t in r["victim_txs"]
        )
        assert {v["value"]: v["opportunities"] for v in victims[(c, a)]} == dict(want_victims)
    assert any(victims.values())

    daily = one_statement(filled, filled.bot_daily, keys, None, None)
    for c, a in keys:
        mine = [r for r in rows if r["bot_address"] == a and r["counted"] and r["timestamp"]]
        assert sum(d["opportunities"] for d in daily[(c, a)]) == len(mine)
        net = [r["net_profit_usd"] for r in mine if r["net_profit_usd"] is not None]
        assert sum((d["net_profit_usd"] or Decimal(0) for d in daily[(c, a)]), Decimal(0)) == sum(
            net, Decimal(0)
        )


def test_senders_funders_and_neighbours(filled: SqlStore, real_chain: Chain) -> None:
    edges = [e for _, _, e in all_edges(real_chain)]
    sent = [(e.dst, e.src) for e in edges if e.edge_type == "SENT"][:50]
    got = one_statement(filled, filled.tx_senders, [("1", tx) for tx, _ in sent] + [("1", "0x" + "00" * 32)])
    assert got == {("1", tx): src for tx, src in sent}

    eth_in: dict[str, list[EdgeRecord]] = defaultdict(list)
    for _, _, e in sorted(all_edges(real_chain), key=lambda x: (x[1], x[2].tx_index or 0)):
        if e.edge_type == "TRANSFERRED" and e.token == ETH and e.src != e.dst:
            eth_in[e.dst].append(e)
    targets = sorted(eth_in)[:40]
    funders = one_statement(filled, filled.funders, [("1", a) for a in targets])
    for a in targets:
        f = funders[("1", a)]
        first = eth_in[a][0]
        block_of = {e.tx_hash: n for _, n, e in all_edges(real_chain)}
        earliest = [e for e in eth_in[a] if block_of[e.tx_hash] == f.block_number]
        assert f.funder in {e.src for e in earliest}
        assert f.block_number == min(block_of[e.tx_hash] for e in eth_in[a])
        assert first.tx_hash is not None

    # one hop: exactly the nodes sharing an edge with the root; two hops: their neighbours too
    adj: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        adj[e.src].add(e.dst)
        adj[e.dst].add(e.src)
    roots = sorted({e.src for e in edges if e.edge_type == "SENT"})[:5]
    near = one_statement(filled, filled.neighbours, [("1", r) for r in roots], 2, None, 1000)
    for r in roots:
        one = adj[r] - {r}
        two = set().union(*(adj[n] for n in one)) - one - {r}
        got_n = {n.node: n.hops for n in near[("1", r)]}
        assert got_n == {**{n: 1 for n in one}, **{n: 2 for n in two}}
        for n in near[("1", r)]:
            assert n.kind == ("transaction" if len(n.node) == 66 else "address")
    limited = filled.neighbours([("1", roots[0])], 3, ["SENT", "CALLED"], 3)
    assert len(limited[("1", roots[0])]) <= 3
    assert all(set(n.edge_types) <= {"SENT", "CALLED"} for n in limited[("1", roots[0])])
    with pytest.raises(ValueError, match="hops"):
        filled.neighbours([("1", roots[0])], 4, None, 10)
    with pytest.raises(ValueError, match="edge types"):
        filled.neighbours([("1", roots[0])], 1, ["IN_BLOCK"], 10)


def test_pool_and_protocol_statistics(filled: SqlStore, real_chain: Chain) -> None:
    rows = expected_rows(real_chain)
    pools = sorted({p for r in rows for p in r["pools"]})
    stats = one_statement(
        filled, filled.mev_stats, "pool", [("1", p) for p in pools] + [("1", "0x" + "0" * 40)]
    )
    for p in pools:
        mine = [r for r in rows if p in r["pools"]]
        counted = [r for r in mine if r["counted"]]
        s = stats[("1", p)]
        assert s["opportunities"] == len(mine) and s["counted"] == len(counted)
        profits = [r["mev_profit_usd"] for r in counted if r["mev_profit_usd"] is not None]
        assert s["mev_profit_usd"] == (sum(profits, Decimal(0)) if profits else None)
        assert s["bots"] == len({r["bot_address"] for r in counted if r["bot_address"]})
    assert stats[("1", "0x" + "0" * 40)]["opportunities"] == 0
    assert stats[("1", "0x" + "0" * 40)]["mev_profit_usd"] is None

    protocols = sorted({p for r in rows for p in r["protocols"]})
    pstats = filled.mev_stats("protocol", [("1", p) for p in protocols])
    for p in protocols:
        assert pstats[("1", p)]["opportunities"] == sum(p in r["protocols"] for r in rows)

    info = one_statement(filled, filled.pool_info, [("1", p) for p in pools])
    swapped = {e.dst: e.protocol for _, _, e in all_edges(real_chain) if e.edge_type == "SWAPPED_ON"}
    for p, facts in info.items():
        assert facts["protocol"] == swapped.get(p[1], facts["protocol"])
        assert facts["tokens"]
    assert len(info) >= len([p for p in pools if p in swapped])


def test_pool_leakage(filled: SqlStore, real_chain: Chain) -> None:
    rows = [r for r in expected_rows(real_chain) if r["counted"] and r["timestamp"] is not None]
    pool = Counter(p for r in rows for p in r["pools"]).most_common(1)[0][0]
    days = filled.pool_leakage("1", pool, None, None)
    mine = [r for r in rows if pool in r["pools"]]
    assert {d["date"] for d in days} == {r["timestamp"].date() for r in mine}
    assert sum(d["total_mev_extracted"] for d in days) == sum(
        (r["mev_profit_usd"] for r in mine if r["mev_profit_usd"] is not None), Decimal(0)
    )
    assert all(d["total_transactions"] and d["total_transactions"] >= 1 for d in days)
    first = min(d["date"] for d in days)
    assert filled.pool_leakage("1", pool, first, first) == [d for d in days if d["date"] == first]


def test_backends_agree(make_store: Any, real_chain: Chain) -> None:
    answers = []
    for kind in ("embedded", "postgres"):
        st = make_store(kind)
        ingest(st, real_chain)
        keys = [(b["chain_id"], b["bot_address"]) for b in st.bots(BotQuery(limit=1000))[0]]
        pools = sorted({p for r in expected_rows(real_chain) for p in r["pools"]})
        answers.append(
            (
                _walk(st, OpportunityQuery(sort_by="confidence", limit=9)),
                st.bot_top(keys, "tokens", 5),
                st.bot_daily(keys, None, None),
                st.mev_stats("pool", [("1", p) for p in pools]),
                st.pool_info([("1", p) for p in pools]),
                st.neighbours(keys[:3], 2, None, 50),
            )
        )
    assert answers[0] == answers[1]
