"""Every assertion of the peer's own test suite (``expected_from_tests.json``), on the real blocks.

Where our model differs from the peer's on purpose (protocol names per Aave version, profit as a
balance change with coinbase bribes added back), the mapping is stated next to the check.
"""

from __future__ import annotations

from functools import cache

import pytest

from mevgraph.core.actions import Liquidation, Swap
from mevgraph.core.types import ETH
from mevgraph.detection.base import Finding, Kind, Status
from mevgraph.pipeline import inspect_blocks

from .conftest import decoded_fixture, expected_records, load_fixture

WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"

# The peer labels every Aave version "aave"; we name the version (from the pool address).
PROTOCOL_MAP = {
    "aave": ("aave_v1", "aave_v2", "aave_v3", "aave"),
    "compound_v2": ("compound_v2",),
    "cream": ("cream",),
}


# Justified disagreements on arbitrage profit: tx -> wei the peer counts and we do not.
DOCUMENTED_PROFIT_GAPS = {
    # After the loop, the bot sends 37500263683755117 wei to 0xea674fdde714fd979de3edf0f56aa9716b898ec8
    # (a mining pool's address, but not this block's fee recipient): value that left the searcher,
    # so it is not profit; the peer's swap-loop arithmetic never sees ETH transfers.
    "0x448245bf1a507b73516c4eeee01611927dada6610bf26d403012f2e66800d8f0": 37500263683755117,
}


def _records(kind: str) -> list[dict]:
    return [r for r in expected_records() if r["kind"] == kind]


def _name(rec: dict) -> str:
    return rec.get("expected", {}).get("fixture_file", f"{rec['block_number']}.json").removesuffix(".json")


@cache
def findings(name: str) -> tuple[Finding, ...]:
    return tuple(inspect_blocks([load_fixture(name)]))


def _id(rec: dict) -> str:
    e = rec["expected"]
    return f"{rec['block_number']}-{(e.get('transaction_hash') or '')[:10]}"


@pytest.mark.parametrize("rec", _records("liquidation"), ids=_id)
def test_liquidation_record(rec: dict, block_names: list[str]) -> None:
    e = rec["expected"]
    d = decoded_fixture(str(rec["block_number"]))
    hits = [
        a
        for a in d.actions
        if isinstance(a, Liquidation)
        and a.tx_hash == e["transaction_hash"]
        and a.trace_address == tuple(e["trace_address"])
    ]
    assert len(hits) == 1, f"no liquidation decoded at {e['transaction_hash']} {e['trace_address']}"
    liq = hits[0]
    assert liq.protocol in PROTOCOL_MAP[e["protocol"]]
    assert (liq.borrower, liq.liquidator) == (e["liquidated_user"], e["liquidator_user"])
    assert (liq.debt_token, liq.debt_amount) == (e["debt_token_address"], e["debt_purchase_amount"])
    assert (liq.collateral_token, liq.collateral_amount) == (
        e["received_token_address"],
        e["received_amount"],
    )
    # ...and it is reported as a liquidation finding with the same figures.
    fs = [
        f
        for f in findings(str(rec["block_number"]))
        if f.kind == Kind.LIQUIDATION and e["transaction_hash"] in f.attacker_txs
    ]
    assert fs, "decoded liquidation not reported as a finding"
    # One finding per transaction: a tx with several liquidations lists them all in details.
    assert any(
        d.get("borrower") == e["liquidated_user"] and d.get("debt_amount") == e["debt_purchase_amount"]
        for f in fs
        for d in f.details.get("liquidations", [f.details])
    )


@pytest.mark.parametrize("rec", _records("liquidation_absent"), ids=_id)
def test_reverted_liquidation_not_reported(rec: dict, block_names: list[str]) -> None:
    tx = rec["expected"]["transaction_hash"]
    d = decoded_fixture(str(rec["block_number"]))
    assert not [a for a in d.actions if isinstance(a, Liquidation) and a.tx_hash == tx]
    assert not [
        f for f in findings(str(rec["block_number"])) if f.kind == Kind.LIQUIDATION and tx in f.tx_hashes
    ]


@pytest.mark.parametrize("rec", _records("swap"), ids=_id)
def test_exact_swap_record(rec: dict, block_names: list[str]) -> None:
    e = rec["expected"]
    d = decoded_fixture(str(rec["block_number"]))
    hits = [
        a
        for a in d.actions
        if isinstance(a, Swap)
        and a.tx_hash == e["transaction_hash"]
        and a.trace_address == tuple(e["trace_address"])
        and a.pool == e["contract_address"]
        and a.sender == e["from_address"]
        and a.recipient == e["to_address"]
        and (a.token_in, a.amount_in) == (e["token_in_address"], e["token_in_amount"])
        and (a.token_out, a.amount_out) == (e["token_out_address"], e["token_out_amount"])
    ]
    assert len(hits) == 1


# Arbitrages we report beyond the peer's count, each justified (see docs/peer-comparison.md).
DOCUMENTED_EXTRA_ARBITRAGES = {
    12483198: {
        # WETH -> DAI (Uniswap V2) -> USDT (Curve, through helper contract 0x2393c3...) -> WETH,
        # +1.398 WETH: the helper as the Curve leg's sender/recipient breaks the peer's chaining.
        "0xd5639f59fb23547826bcd9a2a99905d3f748454776fd4d679c724283de1dbb81",
    },
}


@pytest.mark.parametrize("rec", _records("arbitrage_count"), ids=_id)
def test_arbitrage_count(rec: dict, block_names: list[str]) -> None:
    arbs = [f for f in findings(str(rec["block_number"])) if f.kind in (Kind.ARBITRAGE, Kind.BACKRUN)]
    extra = DOCUMENTED_EXTRA_ARBITRAGES.get(rec["block_number"], set())
    assert {tx for f in arbs for tx in f.attacker_txs} >= extra
    assert len(arbs) == rec["expected"]["count"] + len(extra), [
        (f.kind, f.attacker_txs, f.status) for f in arbs
    ]


@pytest.mark.parametrize("rec", _records("arbitrage"), ids=_id)
def test_arbitrage_record(rec: dict, block_names: list[str]) -> None:
    e = rec["expected"]
    fs = [
        f
        for f in findings(str(rec["block_number"]))
        if f.kind in (Kind.ARBITRAGE, Kind.BACKRUN) and e["transaction_hash"] in f.attacker_txs
    ]
    assert len(fs) == 1
    f = fs[0]
    if e.get("error") == "Reverted":
        assert f.status == Status.REVERTED
        return
    assert len(f.details["swaps"]) == e["n_swaps"]
    # Our profit is the searcher's balance change with coinbase bribes added back; the peer's is
    # the loop's output minus its input in the start token. They agree unless the bot moved value
    # elsewhere in the same transaction -- each such case is listed in DOCUMENTED_PROFIT_GAPS.
    ours = f.profit_by_token.get(WETH, 0) + f.profit_by_token.get(ETH, 0)
    assert ours + DOCUMENTED_PROFIT_GAPS.get(e["transaction_hash"], 0) == e["profit_amount"]


def test_sandwich_12775690_exact(block_names: list[str]) -> None:
    (rec,) = _records("sandwich")
    e = rec["expected"]
    sandwiches = [f for f in findings("12775690") if f.kind == Kind.SANDWICH]
    assert len(sandwiches) == _records("sandwich_list_exact")[0]["expected"]["count"]
    s = sandwiches[0]
    assert s.frontrun_txs == (e["frontrun_swap"]["transaction_hash"],)
    assert s.backrun_txs == (e["backrun_swap"]["transaction_hash"],)
    assert s.victim_txs == tuple(v["transaction_hash"] for v in e["sandwiched_swaps"])
    assert e["sandwicher_address"] in (s.contract, s.searcher)
    assert s.profit_by_token.get(e["profit_token_address"], 0) == e["profit_amount"]


def test_miner_from_reward_trace(block_names: list[str]) -> None:
    (rec,) = _records("miner_from_reward_trace")
    assert load_fixture("10921991").miner == rec["expected"]["miner"]


def test_miner_when_reward_trace_missing(block_names: list[str]) -> None:
    # 10921990.json.gz is block 10921991 without its reward trace: the fixture's miner field
    # (the header's fee recipient) is used, and it is the same address.
    b = load_fixture("10921990")
    assert not [t for t in b.traces or () if t.type == "reward"]
    assert b.miner == load_fixture("10921991").miner


@pytest.mark.parametrize("rec", _records("tokenflow"), ids=_id)
def test_tokenflow_record(rec: dict, block_names: list[str]) -> None:
    from mevgraph.analytics.tokenflow import tx_token_flows

    e = rec["expected"]
    flows = tx_token_flows(decoded_fixture(str(rec["block_number"])), e["transaction_hash"])
    assert list(flows.ether_flows) == e["ether_flows"]
    assert list(flows.dollar_flows) == e["dollar_flows"]
