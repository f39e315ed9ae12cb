"""Live-node ingest against a real node: anvil from npm with a Uniswap V2 sandwich staged on it.

Degraded providers are reproduced with a real HTTP JSON-RPC proxy in front of anvil that answers
chosen methods with the errors real providers send (e.g. ``trace_block`` -> -32601), or fails
the first requests with HTTP 503.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from mevgraph.core.types import Block
from mevgraph.decode.decoder import decode_block
from mevgraph.ingest.bundle import block_from_bundle, write_bundle
from mevgraph.ingest.files import read_block_file
from mevgraph.ingest.rpc import FailedBlock, NodeUnavailable, RpcClient, fetch_range
from tests.node import AnvilNode, anvil_node, free_port
from tests.scenarios import SandwichScenario, build_v2_sandwich, record_bundle, sandwich_bundle

pytestmark = pytest.mark.node

SWAP_TOPIC = "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"
RECORDED = Path(__file__).resolve().parents[1] / "data" / "anvil_v2_sandwich.json"
FAST = {"timeout": 5.0, "max_retries": 2, "backoff": 0.01}


@pytest.fixture(scope="module")
def chain() -> Iterator[tuple[AnvilNode, SandwichScenario]]:
    with anvil_node() as node:
        yield node, build_v2_sandwich(node)


# -- a real HTTP proxy that plays a degraded provider ------------------------------------------

Policy = Callable[[dict[str, Any]], dict[str, Any] | None]


class Proxy:
    """Forwards JSON-RPC to ``upstream``; ``policy(call)`` may answer a call with an error object
    instead; the first ``fail_first`` HTTP requests get a 503."""

    def __init__(self, upstream: str, policy: Policy | None = None, fail_first: int = 0) -> None:
        self.upstream = upstream
        self.policy = policy or (lambda call: None)
        self.fail_first = fail_first
        self.requests: list[Any] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                proxy.requests.append(body)
                if len(proxy.requests) <= proxy.fail_first:
                    self._send(503, b"busy")
                    return
                calls = body if isinstance(body, list) else [body]
                answers: dict[Any, Any] = {}
                forward = []
                for c in calls:
                    err = proxy.policy(c)
                    if err is None:
                        forward.append(c)
                    else:
                        answers[c["id"]] = {"jsonrpc": "2.0", "id": c["id"], "error": err}
                if forward:
                    for r in httpx.post(proxy.upstream, json=forward, timeout=10).json():
                        answers[r["id"]] = r
                out = [answers[c["id"]] for c in calls]
                self._send(200, json.dumps(out if isinstance(body, list) else out[0]).encode())

            def _send(self, code: int, data: bytes) -> None:
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Proxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def methods(self) -> list[str]:
        return [c["method"] for b in self.requests for c in (b if isinstance(b, list) else [b])]


def _no_trace_api(call: dict[str, Any]) -> dict[str, Any] | None:
    if call["method"].startswith("trace_"):
        return {"code": -32601, "message": f"the method {call['method']} does not exist/is not available"}
    return None


def _no_block_receipts(call: dict[str, Any]) -> dict[str, Any] | None:
    if call["method"] == "eth_getBlockReceipts":
        return {"code": -32601, "message": "Method not found"}
    return None


def _strip_source(b: Block) -> Block:
    return replace(b, source="")


# -- (a) fetch with traces ------------------------------------------------------------------


def test_fetch_range_matches_what_was_sent(chain: tuple[AnvilNode, SandwichScenario]) -> None:
    node, sc = chain
    (b,) = list(fetch_range(node.url, sc.block_number, sc.block_number))
    assert isinstance(b, Block)
    assert b.chain_id == 31337 and b.number == sc.block_number and b.notes == ()
    assert [t.hash for t in b.transactions] == [h for _, h in sc.txs]
    assert b.miner == node.rpc("eth_getBlockByNumber", hex(sc.block_number), False)["miner"].lower()
    by_role = {sc.roles[t.hash]: t for t in b.transactions}
    assert by_role["frontrun"].from_ == by_role["backrun"].from_ == sc.attacker
    assert by_role["victim"].from_ == sc.victim
    assert by_role["frontrun"].to == by_role["victim"].to == by_role["backrun"].to == sc.pool.pair
    assert by_role["front_transfer"].to == sc.token_in and by_role["back_transfer"].to == sc.token_out
    assert by_role["plain_transfer"].value == 10**18 and by_role["plain_transfer"].input == "0x"
    assert by_role["victim"].input.startswith("0x022c0d9f")  # swap(uint256,uint256,address,bytes)
    assert b.receipts is not None and [r.status for r in b.receipts] == [True] * 7
    swaps = [(r.tx_hash, lg) for r in b.receipts for lg in r.logs if lg.topics[0] == SWAP_TOPIC]
    assert [sc.roles[h] for h, _ in swaps] == ["frontrun", "victim", "backrun"]
    assert all(lg.address == sc.pool.pair for _, lg in swaps)
    victim_swap = swaps[1][1]
    a = sc.amounts
    words = [int(victim_swap.data[2 + 64 * i : 66 + 64 * i], 16) for i in range(4)]
    assert a["victim_in"] in words and a["victim_out"] in words
    assert b.traces is not None
    tops = [t for t in b.traces if not t.trace_address]
    assert [t.tx_hash for t in tops] == [h for _, h in sc.txs]
    assert all(t.error is None for t in b.traces)
    d = decode_block(b)
    assert d.mode == "traces" and len(d.txs) == 7


def test_fetch_whole_chain_in_order_with_progress(chain: tuple[AnvilNode, SandwichScenario]) -> None:
    node, sc = chain
    seen: list[tuple[int, int]] = []
    blocks = list(
        fetch_range(
            node.url, 0, sc.block_number, concurrency=3, progress=lambda d, t: seen.append((d, t)), **FAST
        )
    )
    assert [b.number for b in blocks if isinstance(b, Block)] == list(range(sc.block_number + 1))
    assert seen[-1] == (sc.block_number + 1, sc.block_number + 1)
    creations = [t for b in blocks if isinstance(b, Block) for t in b.transactions if t.to is None]
    assert len(creations) == 3  # two WETH9 and the factory
    assert all(
        any(r.contract_address for r in b.receipts or ())
        for b in blocks
        if isinstance(b, Block) and any(t.to is None for t in b.transactions)
    )


def test_block_beyond_head_is_a_failed_block_not_a_stop(chain: tuple[AnvilNode, SandwichScenario]) -> None:
    node, sc = chain
    items = list(fetch_range(node.url, sc.block_number, sc.block_number + 2, **FAST))
    assert isinstance(items[0], Block)
    assert [type(i) for i in items[1:]] == [FailedBlock, FailedBlock]
    assert items[1] == FailedBlock(sc.block_number + 1, items[1].reason) and "no block" in items[1].reason


# -- (b) degraded providers -----------------------------------------------------------------


def test_logs_only_node_warns_once(
    chain: tuple[AnvilNode, SandwichScenario], caplog: pytest.LogCaptureFixture
) -> None:
    node, sc = chain
    with (
        Proxy(node.url, _no_trace_api) as proxy,
        caplog.at_level(logging.WARNING, logger="mevgraph.ingest.rpc"),
    ):
        blocks = list(fetch_range(proxy.url, 1, sc.block_number, concurrency=4, **FAST))
    assert [b.number for b in blocks if isinstance(b, Block)] == list(range(1, sc.block_number + 1))
    warnings = [r.getMessage() for r in caplog.records if "no trace API" in r.getMessage()]
    assert len(warnings) == 1 and "continuing logs-only" in warnings[0]
    assert all(isinstance(b, Block) and b.traces is None for b in blocks)
    last = blocks[-1]
    assert isinstance(last, Block) and last.has_logs
    assert "node has no trace API: logs-only" in last.notes
    assert sum(1 for lg in (last.receipts or ()) for lg in lg.logs if lg.topics[0] == SWAP_TOPIC) == 3
    # once known, traces are no longer asked for: at most the first in-flight blocks asked
    assert proxy.methods().count("trace_block") <= 4
    assert decode_block(last).mode == "logs"


def test_deferred_receipts_on_a_node_without_traces_fetch_every_receipt(
    chain: tuple[AnvilNode, SandwichScenario],
) -> None:
    """Deferring needs traces (status of txs that logged nothing): without them, full receipts."""
    node, sc = chain
    (direct,) = fetch_range(node.url, sc.block_number, sc.block_number, **FAST)
    with Proxy(node.url, _no_trace_api) as proxy:
        (deferred,) = fetch_range(proxy.url, sc.block_number, sc.block_number, defer_receipts=True, **FAST)
    assert isinstance(direct, Block) and isinstance(deferred, Block)
    assert deferred.traces is None and deferred.receipts == direct.receipts
    assert proxy.methods().count("eth_getBlockReceipts") == 1


def test_deferred_receipts_carry_the_logs_and_the_traces_of_the_block(
    chain: tuple[AnvilNode, SandwichScenario],
) -> None:
    node, sc = chain
    (direct,) = fetch_range(node.url, sc.block_number, sc.block_number, **FAST)
    (deferred,) = fetch_range(node.url, sc.block_number, sc.block_number, defer_receipts=True, **FAST)
    assert isinstance(direct, Block) and isinstance(deferred, Block)
    assert deferred.traces == direct.traces and deferred.transactions == direct.transactions
    assert [(r.tx_hash, r.tx_index, r.logs) for r in deferred.receipts or ()] == [
        (r.tx_hash, r.tx_index, r.logs) for r in direct.receipts or ()
    ]
    assert all(r.gas_used is None and r.status is None for r in deferred.receipts or ())
    # decoded, every tx has its status (from its top frame) and all but gasUsed
    dd, full = decode_block(deferred), decode_block(direct)
    assert [(m.hash, m.success, m.effective_gas_price) for m in dd.txs] == [
        (m.hash, m.success, m.effective_gas_price) for m in full.txs
    ]
    assert dd.actions == full.actions


def test_no_block_receipts_falls_back_to_transaction_receipts(
    chain: tuple[AnvilNode, SandwichScenario],
) -> None:
    node, sc = chain
    (direct,) = fetch_range(node.url, sc.block_number, sc.block_number, **FAST)
    with Proxy(node.url, _no_block_receipts) as proxy:
        (fallback,) = fetch_range(proxy.url, sc.block_number, sc.block_number, **FAST)
    assert isinstance(direct, Block) and isinstance(fallback, Block)
    assert fallback.receipts == direct.receipts
    assert proxy.methods().count("eth_getTransactionReceipt") == 7


def test_http_503_is_retried(chain: tuple[AnvilNode, SandwichScenario]) -> None:
    node, sc = chain
    with Proxy(node.url, fail_first=2) as proxy:
        (b,) = fetch_range(proxy.url, sc.block_number, sc.block_number, **FAST)
    assert isinstance(b, Block) and len(b.transactions) == 7
    assert len(proxy.requests) == 4  # 2 x 503, eth_chainId, the block batch


def test_permanent_error_for_one_block_does_not_stop_the_range(
    chain: tuple[AnvilNode, SandwichScenario],
) -> None:
    node, sc = chain
    bad = hex(sc.block_number - 1)

    def policy(call: dict[str, Any]) -> dict[str, Any] | None:
        if call["method"] == "eth_getBlockByNumber" and call["params"][0] == bad:
            return {"code": -32602, "message": "invalid block"}
        return None

    with Proxy(node.url, policy) as proxy:
        items = list(fetch_range(proxy.url, sc.block_number - 2, sc.block_number, **FAST))
    assert [type(i).__name__ for i in items] == ["Block", "FailedBlock", "Block"]
    assert "invalid block" in items[1].reason


def test_transient_rpc_error_is_retried(chain: tuple[AnvilNode, SandwichScenario]) -> None:
    node, sc = chain
    left = [2]

    def policy(call: dict[str, Any]) -> dict[str, Any] | None:
        if call["method"] == "trace_block" and left[0] > 0:
            left[0] -= 1
            return {"code": -32005, "message": "rate limit exceeded"}
        return None

    with Proxy(node.url, policy) as proxy:
        (b,) = fetch_range(proxy.url, sc.block_number, sc.block_number, **FAST)
    assert isinstance(b, Block) and b.traces is not None and b.notes == ()
    assert proxy.methods().count("trace_block") == 3


# -- (c) bundle files round-trip -----------------------------------------------------------


def test_bundle_file_round_trip(chain: tuple[AnvilNode, SandwichScenario], tmp_path: Path) -> None:
    node, sc = chain

    async def fetch() -> tuple[dict[str, Any], Block]:
        async with RpcClient(node.url, **FAST) as c:
            bundle, notes = await c.fetch_bundle(sc.block_number)
            assert notes == []
            return bundle, await c.fetch_block(sc.block_number)

    bundle, live = asyncio.run(fetch())
    for name in ("sandwich.json", "sandwich.json.gz"):
        from_file = read_block_file(write_bundle(tmp_path / name, bundle))
        assert _strip_source(from_file) == _strip_source(live)
    assert _strip_source(block_from_bundle(record_bundle(node, sc.block_number))) == _strip_source(live)


def test_recorded_fixture_has_the_same_shape_as_a_fresh_recording(
    chain: tuple[AnvilNode, SandwichScenario],
) -> None:
    """``tests/data/anvil_v2_sandwich.json`` is what this scenario produces (hashes differ by time)."""
    node, sc = chain
    fresh = block_from_bundle(sandwich_bundle(node, sc))
    committed = read_block_file(RECORDED)

    def shape(b: Block) -> Any:
        return (
            [(t.from_, t.to, t.input, t.value) for t in b.transactions],
            [(lg.address, lg.topics[0], lg.data) for r in b.receipts or () for lg in r.logs],
            [(t.trace_address, t.type, t.from_, t.to, t.input, t.output) for t in b.traces or ()],
        )

    assert shape(fresh) == shape(committed)


# -- (d) nothing listening -------------------------------------------------------------------


def test_dead_node_retries_then_clear_error() -> None:
    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(NodeUnavailable, match=rf"127\.0\.0\.1:{port}.*cannot connect.*after 3 attempts"):
        list(fetch_range(f"http://127.0.0.1:{port}", 1, 5, timeout=0.5, max_retries=2, backoff=0.05))
    assert time.monotonic() - t0 < 5


def test_closing_the_iterator_early_stops_the_fetch(chain: tuple[AnvilNode, SandwichScenario]) -> None:
    node, sc = chain
    before = {t.name for t in threading.enumerate()}
    it = fetch_range(node.url, 0, sc.block_number, concurrency=2, **FAST)
    first = next(it)
    it.close()
    assert isinstance(first, Block) and first.number == 0
    time.sleep(0.2)
    assert "mevgraph-rpc" not in {t.name for t in threading.enumerate()} - before
