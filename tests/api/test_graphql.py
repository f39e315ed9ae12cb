"""GraphQL over HTTP against a real embedded store filled from the shared mainnet blocks.

Answers are checked against the store itself (same ids in the same order as the REST pages, same
figures); the statement budget of a nested query is measured with the store's query counter;
limits, bad input, auth and rate limits are exercised through HTTP and must never yield a 5xx.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mevgraph.api import create_app
from mevgraph.api.graphql import MAX_COST, MAX_DEPTH
from mevgraph.pipeline import inspect_blocks
from mevgraph.store import BlockRecord, BotQuery, OpportunityQuery, SqlStore, block_record
from mevgraph.store.rows import opportunity_row

from ..conftest import load_fixture
from . import filled_store

NESTED = """
query($a: String!) {
  bot(address: $a) {
    botAddress
    opportunities(first: 100) {
      pageInfo { hasNextPage }
      edges { node { id victims { txHash address } pools { address protocol } } }
    }
  }
}
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, block_names: list[str]) -> Iterator[SqlStore]:
    st = filled_store(tmp_path_factory.mktemp("gql"), block_names)
    yield st
    st.close()


@pytest.fixture(scope="module")
def client(store: SqlStore) -> Iterator[TestClient]:
    with TestClient(create_app(store, auth=False, rate_limit_per_minute=100_000)) as c:
        yield c


def gql(client: TestClient, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query, "variables": variables or {}}, **kw)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def data(client: TestClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = gql(client, query, variables)
    assert "errors" not in body, body["errors"]
    out: dict[str, Any] = body["data"]
    return out


def test_opportunities_pages_follow_the_rest_order(client: TestClient, store: SqlStore) -> None:
    want = [r["id"] for r in store.opportunities(OpportunityQuery(sort_by="profit", limit=1000)).rows]
    got: list[str] = []
    after = None
    query = """query($after: String) { opportunities(first: 8, after: $after, sort: {by: PROFIT, order: DESC}) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }"""
    while True:
        conn = data(client, query, {"after": after})["opportunities"]
        assert conn["totalCount"] == len(want)
        got += [e["node"]["id"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
        assert after == conn["edges"][-1]["cursor"]
    assert got == want


def test_filters_and_fields_match_the_rest_answer(client: TestClient) -> None:
    rest = client.get("/v1/mev/opportunities", params={"opportunityTypes": "sandwich", "limit": 500}).json()
    q = """{ opportunities(first: 500, filter: {opportunityTypes: [SANDWICH]}) {
        totalCount summary { totalMevExtracted totalVictimLoss avgProfitPerOpportunity }
        nodes { id opportunityType chainId blockNumber timestamp status
          transactions { targetTxHash mevTxHashes } tokens { addresses symbols }
          protocol { protocolId protocolName dexName }
          financials { mevProfitUsd victimLossUsd gasCostUsd netProfitUsd }
          bot { address name type } detection { method confidenceScore } } } }"""
    conn = data(client, q)["opportunities"]
    assert conn["totalCount"] == rest["pagination"]["total"] > 0
    assert conn["summary"] == rest["summary"]
    for got, want in zip(conn["nodes"], rest["opportunities"], strict=True):
        assert got == {k: v for k, v in want.items() if k != "extras"}


def test_nested_query_costs_a_bounded_number_of_statements(client: TestClient, store: SqlStore) -> None:
    bots = store.bots(BotQuery(limit=1000))[0]
    sandwich = next(
        b["bot_address"]
        for b in bots
        if store.opportunities(
            OpportunityQuery(bot_address=b["bot_address"], opportunity_types=["sandwich"])
        ).total
    )
    before = store.queries.value
    bot = data(client, NESTED, {"a": sandwich})["bot"]
    spent = store.queries.value - before
    victims = [v for e in bot["opportunities"]["edges"] for v in e["node"]["victims"]]
    assert victims and all(v["address"] and v["address"].startswith("0x") for v in victims)
    assert all(p["protocol"] for e in bot["opportunities"]["edges"] for p in e["node"]["pools"])
    assert spent <= 5, spent

    # every bot at once, every opportunity: still a handful of statements (width-independent)
    before = store.queries.value
    every = data(
        client,
        """{ bots(first: 40) { nodes { opportunities(first: 10) { edges { node {
            victims { address } pools { protocol } bot { profile { botType } } } } } } } }""",
    )["bots"]["nodes"]
    spent = store.queries.value - before
    assert sum(len(b["opportunities"]["edges"]) for b in every) > 40
    assert spent <= 5, spent


def test_nested_query_over_a_hundred_opportunities(tmp_path: Path, block_names: list[str]) -> None:
    """bot -> 100 opportunities -> victims and pools, on a store where one bot has 120: the
    real blocks plus a block holding 120 copies of a real sandwich (same victims and pools)."""
    store = filled_store(tmp_path / "hundred", block_names)
    try:
        finding, block = next(
            (f, b)
            for b in sorted((load_fixture(n) for n in block_names), key=lambda b: b.number)
            for f in inspect_blocks([b])
            if f.kind == "sandwich"
        )
        top = max(n for n, _ in store.blocks(1))
        extra = BlockRecord(
            chain_id=1, number=top + 1, hash="0x" + "cd" * 32, parent_hash=None, timestamp=None, tx_count=0
        )
        copies = [
            dataclasses.replace(
                finding, attacker_txs=(f"0x{i:064x}", *finding.attacker_txs), block_number=extra.number
            )
            for i in range(120)
        ]
        assert store.ingest_block(extra, copies).written == 120
        bot = opportunity_row(finding, block_record(block), None)["bot_address"]
        with TestClient(create_app(store, auth=False)) as c:
            before = store.queries.value
            got = data(c, NESTED, {"a": bot})["bot"]["opportunities"]
            spent = store.queries.value - before
        assert len(got["edges"]) == 100 and got["pageInfo"]["hasNextPage"]
        victims = [v for e in got["edges"] for v in e["node"]["victims"]]
        assert len(victims) >= 100 and all(v["address"] for v in victims)
        assert all(p["protocol"] for e in got["edges"] for p in e["node"]["pools"])
        assert spent <= 5, spent
    finally:
        store.close()


def test_bot_address_pool_protocol(client: TestClient, store: SqlStore) -> None:
    top = store.bots(BotQuery(limit=1))[0][0]
    bot = data(
        client,
        """query($a: String!) { bot(address: $a) { botAddress totalMevExtracted contracts eoas
            funders { address funder amountWei } victims { value } pools { value opportunities mevProfitUsd }
            tokens { value } protocols { value } profitSeries { date opportunities mevProfitUsd netProfitUsd } } }""",
        {"a": top["bot_address"].upper().replace("0X", "0x")},
    )["bot"]
    assert bot["botAddress"] == top["bot_address"]
    assert bot["totalMevExtracted"] == float(top["total_mev_extracted"])
    assert bot["eoas"] and bot["pools"] and bot["profitSeries"]
    pool = bot["pools"][0]["value"]
    eoa = bot["eoas"][0]
    out = data(
        client,
        """query($p: String!, $e: String!) {
          pool(address: $p) { address protocol tokens stats { opportunities counted mevProfitUsd bots topBots }
            leakage { date totalMevExtracted totalTransactions } }
          address(address: $e) { neighbours(hops: 2, first: 20) { node kind hops edgeTypes } bot { botAddress } }
          protocol(id: "uniswap_v2") { stats { opportunities } leakage { date protocolId } }
          nope: pool(address: "0x0000000000000000000000000000000000000001") { address } }""",
        {"p": pool, "e": eoa},
    )
    assert out["pool"]["protocol"] and out["pool"]["stats"]["opportunities"] >= 1
    assert out["pool"]["stats"]["topBots"]
    near = out["address"]["neighbours"]
    assert near and near[0]["hops"] == 1 and {n["kind"] for n in near} <= {"address", "transaction"}
    assert out["protocol"]["stats"]["opportunities"] > 0
    assert all(r["protocolId"] == "uniswap_v2" for r in out["protocol"]["leakage"])
    assert out["nope"] is None


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ('{ opportunities(first: 2, after: "nonsense") { totalCount } }', "cursor"),
        ("{ opportunities(filter: {minProfit: -1}) { totalCount } }", "minProfit"),
        ('{ opportunities(filter: {botAddress: "0x12"}) { totalCount } }', "botAddress"),
        ('{ opportunities(filter: {chains: ["one"]}) { totalCount } }', "chain"),
        ("{ opportunities(first: 0) { totalCount } }", "first"),
        ("{ opportunities(filter: {opportunityTypes: [NOPE]}) { totalCount } }", "NOPE"),
        ('{ bot(address: "nope") { botAddress } }', "address"),
        (
            '{ address(address: "0x0000000000000000000000000000000000000001") { neighbours(hops: 4) { node } } }',
            "hops",
        ),
        ('{ opportunity(id: "not-a-uuid") { id } }', "UUID"),
        (
            '{ protocol(id: "uniswap_v2") { leakage(startDate: "2022-01-02", endDate: "2022-01-01") { date } } }',
            "startDate",
        ),
        ("{ opportunities( {", "Syntax Error"),
        ("{ nosuchfield }", "nosuchfield"),
    ],
)
def test_bad_input_is_a_graphql_error(client: TestClient, query: str, fragment: str) -> None:
    r = client.post("/graphql", json={"query": query})
    assert r.status_code in (200, 400), r.text
    errors = r.json()["errors"]
    assert errors and fragment in errors[0]["message"], errors


def test_depth_and_cost_limits(client: TestClient) -> None:
    deep = (
        "{ bots { nodes { opportunities { nodes { bot { profile { opportunities { nodes { bot { profile {"
        " opportunities { nodes { id } } } } } } } } } } } } }"
    )
    errors = gql(client, deep)["errors"]
    assert "exceeds maximum operation depth" in errors[0]["message"] and MAX_DEPTH == 10
    costly = "{ bots(first: 500) { nodes { opportunities(first: 500) { nodes { id } } } } }"
    errors = gql(client, costly)["errors"]
    assert (
        errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY" and errors[0]["extensions"]["cost"] > MAX_COST
    )
    # the cost follows variables too
    errors = gql(
        client,
        "query($n: Int!) { bots(first: $n) { nodes { opportunities(first: $n) { nodes { id } } } } }",
        {"n": 400},
    )["errors"]
    assert errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    aliases = "{ " + " ".join(f"a{i}: bots {{ totalCount }}" for i in range(40)) + " }"
    assert "aliases" in gql(client, aliases)["errors"][0]["message"]


def test_unexpected_failure_is_masked(store: SqlStore, tmp_path: Path) -> None:
    class Broken:
        def __getattr__(self, name: str) -> Any:
            if name in ("opportunity_slice",):
                raise RuntimeError("boom: secret detail")
            return getattr(store, name)

    with TestClient(create_app(Broken(), auth=False), raise_server_exceptions=False) as c:  # type: ignore[arg-type]
        body = gql(c, "{ opportunities { totalCount } }")
    assert body["errors"][0]["message"] == "unexpected server error (logged)"
    assert "secret" not in str(body)


def test_auth_and_rate_limits(store: SqlStore) -> None:
    read = store.create_api_key(["read"], "gql")
    other = store.create_api_key(["alerts"], "gql-other")
    app = create_app(store, rate_limit_per_minute=3)
    with TestClient(app) as c:
        q = {"query": "{ bots(first: 1) { totalCount } }"}
        r = c.post("/graphql", json=q)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        assert c.post("/graphql", json=q, headers={"X-API-Key": "mg_unknown"}).status_code == 401
        assert c.post("/graphql", json=q, headers={"X-API-Key": other}).status_code == 403
        ide = c.get("/graphql", headers={"accept": "text/html"})
        assert ide.status_code == 200 and "graphiql" in ide.text.lower()
        codes = [c.post("/graphql", json=q, headers={"X-API-Key": read}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.post("/graphql", json=q, headers={"X-API-Key": read})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
