"""Transactions that a bundle's trace list leaves out are decoded from their logs, not lost."""

from __future__ import annotations

import json
from pathlib import Path

from mevgraph.core.actions import Swap
from mevgraph.decode.decoder import decode_block
from mevgraph.detection.base import Kind
from mevgraph.ingest.files import block_from_object
from mevgraph.pipeline import inspect_blocks

BUNDLE = Path(__file__).resolve().parents[1] / "data" / "anvil_v2_sandwich.json"


def _bundle() -> dict:
    return json.loads(BUNDLE.read_text())


def test_empty_trace_list_falls_back_to_logs() -> None:
    obj = _bundle()
    roles = obj["scenario"]["roles"]
    obj["traces"] = []  # a provider that answered trace_block with nothing
    block = block_from_object(obj)
    d = decode_block(block)
    assert d.mode == "traces+logs"
    assert len([a for a in d.actions if isinstance(a, Swap)]) == 3
    assert any("decoded from its logs" in s.reason for s in d.skips)
    (f,) = [f for f in inspect_blocks([block]) if f.kind == Kind.SANDWICH]
    assert (f.frontrun_txs, f.victim_txs, f.backrun_txs) == (
        (roles["frontrun"],),
        (roles["victim"],),
        (roles["backrun"],),
    )
    assert f.coinbase_transfer_wei is None and f.unpriced_reason  # logs cannot show bribes


def test_truncated_trace_list_keeps_traced_txs_and_recovers_the_rest() -> None:
    obj = _bundle()
    roles = obj["scenario"]["roles"]
    traced = {roles["front_transfer"], roles["frontrun"]}
    obj["traces"] = [t for t in obj["traces"] if t.get("transactionHash") in traced]
    d = decode_block(block_from_object(obj))
    swaps = {a.tx_hash: a.source for a in d.actions if isinstance(a, Swap)}
    assert swaps[roles["frontrun"]] == "trace"
    assert swaps[roles["victim"]] == "log" and swaps[roles["backrun"]] == "log"
