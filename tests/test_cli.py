"""The ``mevgraph inspect`` command on real blocks and on bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from typer.testing import CliRunner

from mevgraph.cli import app

from .conftest import DATA

runner = CliRunner()


def _block(name: str) -> Path:
    return DATA / "blocks" / f"{name}.json.gz"


def test_inspect_jsonl_fields(block_names: list[str]) -> None:
    res = runner.invoke(app, ["inspect", str(_block("12775690")), "--format", "jsonl", "--no-progress"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert rows, res.output
    required = {
        "kind",
        "chain_id",
        "block_number",
        "tx_hashes",
        "attacker_txs",
        "frontrun_txs",
        "backrun_txs",
        "victim_txs",
        "searcher",
        "contract",
        "pools",
        "protocols",
        "profit_by_token",
        "gas_cost_wei",
        "coinbase_transfer_wei",
        "profit_usd",
        "victim_loss_usd",
        "unpriced_reason",
        "status",
        "confidence",
    }
    for r in rows:
        assert required <= r.keys()
        assert r["kind"] in {"sandwich", "arbitrage", "backrun", "frontrun", "liquidation", "jit"}
        assert all(isinstance(v, int) for v in r["profit_by_token"].values())
        if r["profit_usd"] is None:
            assert r["unpriced_reason"]
    sandwich = next(r for r in rows if r["kind"] == "sandwich")
    assert sandwich["block_number"] == 12775690


def test_inspect_liquidation_fields(block_names: list[str]) -> None:
    res = runner.invoke(app, ["inspect", str(_block("13244807")), "--format", "jsonl", "--no-progress"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    liq = [r for r in rows if r["kind"] == "liquidation"]
    assert liq
    for key in (
        "liquidator",
        "borrower",
        "debt_token",
        "debt_amount",
        "collateral_token",
        "collateral_amount",
        "protocol",
    ):
        assert key in liq[0]


def test_inspect_table_over_directory(block_names: list[str]) -> None:
    res = runner.invoke(app, ["inspect", str(DATA / "blocks"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "MEV findings" in res.stdout
    assert "sandwich" in res.stdout


def test_html_report(tmp_path: Path, block_names: list[str]) -> None:
    out = tmp_path / "f.html"
    res = runner.invoke(
        app, ["inspect", str(_block("12914944")), "--format", "html", "--out", str(out), "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    assert "<table>" in out.read_text()


def test_bad_files_are_skipped_not_fatal(tmp_path: Path, block_names: list[str]) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"hello": "world"}))
    # A real block whose trace list was cut in the middle of a transaction.
    with gzip.open(_block("12775690")) as fh:
        obj = json.load(fh)
    obj["traces"] = obj["traces"][: len(obj["traces"]) // 2] + obj["traces"][len(obj["traces"]) // 2 + 3 :]
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps(obj))
    res = runner.invoke(
        app,
        [
            "inspect",
            str(garbage),
            str(empty),
            str(wrong),
            str(truncated),
            "--format",
            "jsonl",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "garbage.json" in res.stderr and "empty.json" in res.stderr and "wrong.json" in res.stderr
    assert "3 unreadable inputs" in res.stderr
    assert "1 blocks" in res.stderr


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["inspect", str(tmp_path / "nope.json")])
    assert res.exit_code == 2
    assert "no such file" in res.output.lower()


def test_rpc_needs_a_range() -> None:
    res = runner.invoke(app, ["inspect", "--rpc", "http://127.0.0.1:9"])
    assert res.exit_code == 2
    assert "--from" in res.output


def test_ingest_is_idempotent_and_apikey_prints_the_key_last(block_names: list[str], tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    blocks = str(DATA / "blocks")
    first = runner.invoke(app, ["ingest", "--store", store, blocks, "--no-progress"])
    assert first.exit_code == 0, first.output
    assert "51 opportunities written" in first.output
    again = runner.invoke(app, ["ingest", "--store", store, blocks, "--no-progress"])
    assert (
        again.exit_code == 0
        and "21 already stored unchanged" in again.output
        and "0 opportunities" in again.output
    )
    res = runner.invoke(app, ["apikey", "create", "--store", store, "--scope", "read"])
    assert res.exit_code == 0, res.output
    key = res.stdout.strip().splitlines()[-1]
    assert key.startswith("mg_")
    from mevgraph.store import open_store

    st = open_store(store)
    try:
        assert st.api_key_scopes(key) == ["read"]
    finally:
        st.close()
    up = runner.invoke(app, ["db", "upgrade", "--store", store])
    assert up.exit_code == 0 and "up to date" in up.output


def test_ingest_rejects_a_missing_path(tmp_path: Path) -> None:
    res = runner.invoke(app, ["ingest", "--store", str(tmp_path / "s"), str(tmp_path / "nope")])
    assert res.exit_code == 2 and "no such file" in res.output
