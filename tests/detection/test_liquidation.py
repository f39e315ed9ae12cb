"""Liquidations: the peer's test-suite records, reverted ones excluded, searcher/contract roles."""

from __future__ import annotations

import json

import pytest

from mevgraph.decode.labels import is_router
from mevgraph.detection import liquidation
from mevgraph.detection.base import Candidate, Kind

from .test_arbitrage import (
    DATA,
    block_names,
    block_of,
    graph_of,
    peer,
    real_graph,
    require_data,
    tx,
)
from .test_arbitrage import (
    liquidation as liq_action,
)

FIELDS = (
    "liquidator",
    "borrower",
    "debt_token",
    "debt_amount",
    "collateral_token",
    "collateral_amount",
    "protocol",
)


def test_contract_is_searcher_contract_not_lending_pool() -> None:
    g = graph_of(
        block_of(
            [tx("0xl1", 0, "0xeoa", "0xliqbot"), tx("0xl2", 1, "0xeoa2", "0xpool")],
            [liq_action("0xl1", 0, pool="0xpool"), liq_action("0xl2", 1, pool="0xpool")],
        )
    )
    by_tx = {c.attacker_txs[0]: c for c in liquidation.DETECTOR.detect(g)}
    assert (by_tx["0xl1"].searcher, by_tx["0xl1"].contract) == ("0xeoa", "0xliqbot")
    assert (by_tx["0xl2"].searcher, by_tx["0xl2"].contract) == ("0xeoa2", None)
    assert set(FIELDS) <= set(by_tx["0xl1"].details)
    assert by_tx["0xl1"].details["debt_amount"] == 1000


def test_attempted_liquidation_is_not_reported() -> None:
    g = graph_of(
        block_of([tx("0xl", 0, "0xeoa", "0xliqbot", success=False)], [], attempted=[liq_action("0xl", 0)])
    )
    assert liquidation.DETECTOR.detect(g) == []


def test_two_liquidations_in_one_tx_are_one_candidate() -> None:
    a, b = liq_action("0xl", 0), liq_action("0xl", 0, coll="0xother")
    g = graph_of(block_of([tx("0xl", 0, "0xeoa", "0xliqbot")], [a, b]))
    [c] = liquidation.DETECTOR.detect(g)
    assert len(c.action_ids) == 2 and len(c.details["liquidations"]) == 2


# --------------------------------------------------------------------------- real blocks
@pytest.fixture(scope="module")
def real() -> dict[str, Candidate]:
    require_data()
    return {c.attacker_txs[0]: c for c in liquidation.DETECTOR.detect(real_graph())}


def _records(kind: str) -> list[dict]:
    if not (DATA / "expected_from_tests.json").is_file():
        return []
    recs = json.loads((DATA / "expected_from_tests.json").read_text())["records"]
    return [r["expected"] for r in recs if r["kind"] == kind]


@pytest.mark.parametrize("exp", _records("liquidation"), ids=lambda e: e["transaction_hash"][:10])
def test_expected_liquidation(real: dict[str, Candidate], exp: dict) -> None:
    c = real[exp["transaction_hash"]]
    assert c.kind == Kind.LIQUIDATION
    want = (
        exp["liquidator_user"],
        exp["liquidated_user"],
        exp["debt_token_address"],
        exp["debt_purchase_amount"],
        exp["received_token_address"],
        exp["received_amount"],
    )
    got = [tuple(d[k] for k in FIELDS[:-1]) for d in [c.details, *c.details.get("liquidations", [])]]
    assert want in got
    assert c.details["protocol"].startswith(exp["protocol"].split("_")[0])
    assert not is_router(1, c.contract)


@pytest.mark.parametrize("exp", _records("liquidation_absent"), ids=lambda e: e["transaction_hash"][:10])
def test_reverted_liquidation_absent(real: dict[str, Candidate], exp: dict) -> None:
    """Regression 15049646: the reverted Compound liquidation 0x6dd0d8be... is not reported."""
    assert exp["transaction_hash"] not in real


def test_all_peer_liquidations_found(real: dict[str, Candidate]) -> None:
    peer_txs = {liq["transaction_hash"] for n in block_names() for liq in peer(n).get("liquidations") or []}
    assert peer_txs and peer_txs <= set(real), sorted(peer_txs - set(real))
