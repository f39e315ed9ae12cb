"""End to end on the testbed: agents plant MEV through a real mempool on a real node; mevgraph
reads the chain back -- from the recorded RPC bundles, with and without traces, and live from the
node over batched JSON-RPC -- and is scored against the agents' own ground truth.

The seed is fresh on every run (printed; set ``MEVGRAPH_SIM_SEED`` to replay one), so the scores
are measured on seeds the tests never saw before.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from mevgraph.detection.base import Finding
from mevgraph.ingest.rpc import FailedBlock, RpcClient, fetch_range
from mevgraph.pipeline import inspect_blocks
from mevgraph.sim.node import AnvilMissing, anvil_binary
from mevgraph.sim.scenario import Cast, Testbed, open_testbed, record
from mevgraph.sim.score import FamilyScore, inspect_dir, read_truth, score

BLOCKS = int(os.environ.get("MEVGRAPH_SIM_BLOCKS", "30"))


@dataclass
class Run:
    seed: int
    out: Path
    tb: Testbed
    first: int
    last: int
    findings: list[Finding]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    try:
        anvil_binary()
    except AnvilMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    seed = int(os.environ.get("MEVGRAPH_SIM_SEED") or secrets.randbelow(10**6))
    print(f"\ntestbed seed {seed} (replay with MEVGRAPH_SIM_SEED={seed})")
    out = tmp_path_factory.mktemp(f"sim-{seed}")
    cast = Cast(retail=220, p_trade=0.6)
    t0 = time.perf_counter()
    with open_testbed(seed, cast) as tb:
        first = tb.env.head_number + 1
        record(tb, BLOCKS, seed, out, cast=cast, progress=False, setup_s=time.perf_counter() - t0)
        yield Run(seed, out, tb, first, tb.env.head_number, inspect_dir(out))


def _check(scores: dict[str, FamilyScore], floor: float, seed: int) -> None:
    bad = []
    for fam, s in scores.items():
        if s.truth == 0 and s.found == 0:
            continue
        if (s.precision or 0.0) < floor or (s.recall or 0.0) < floor:
            bad.append((fam, s.to_json(), s.missed[:3], s.extra[:3]))
    assert not bad, f"seed {seed}: {bad}"


def test_run_plants_every_kind_it_can_in_a_short_run(run: Run) -> None:
    truth = read_truth(run.out / "truth.jsonl")
    kinds = {t["kind"] for t in truth}
    assert {"sandwich", "arbitrage"} <= kinds, kinds
    for t in truth:
        assert run.first <= t["block_number"] <= run.last
        assert t["attacker_txs"] and t["operator"] and t["searcher"]


def test_precision_and_recall_with_traces(run: Run) -> None:
    _check(score(read_truth(run.out / "truth.jsonl"), run.findings), 0.99, run.seed)


def test_precision_and_recall_logs_only(run: Run) -> None:
    _check(score(read_truth(run.out / "truth.jsonl"), inspect_dir(run.out, logs_only=True)), 0.95, run.seed)


def test_live_rpc_ingest_finds_what_the_recorded_files_give(run: Run) -> None:
    """Batched HTTP from the running anvil (block + receipts + trace_block per request)."""
    fetched = list(fetch_range(run.tb.node.url, run.first, run.last, chain_id=run.tb.env.world.chain_id))
    assert not [b for b in fetched if isinstance(b, FailedBlock)]
    live = list(inspect_blocks(b for b in fetched if not isinstance(b, FailedBlock)))
    key = sorted((f.kind, f.block_number, f.attacker_txs) for f in live)
    assert key == sorted((f.kind, f.block_number, f.attacker_txs) for f in run.findings)


def test_deferred_receipts_give_exactly_the_findings_of_full_receipts(run: Run) -> None:
    """The live follower's fetch: block + traces + logs, ``gasUsed`` asked only for the txs the
    detectors price. Every finding -- gas, profit, status, confidence -- equals the one made from
    the recorded files with every receipt, and far fewer receipts are asked than there are txs."""
    cid = run.tb.env.world.chain_id
    fetched = list(fetch_range(run.tb.node.url, run.first, run.last, chain_id=cid, defer_receipts=True))
    blocks = [b for b in fetched if not isinstance(b, FailedBlock)]
    assert len(blocks) == len(fetched)
    assert all(b.receipts is not None and any("receipts deferred" in n for n in b.notes) for b in blocks)
    assert all(r.gas_used is None for b in blocks for r in b.receipts or ())
    asked: list[str] = []

    def gas_source(chain: int, hashes: Sequence[str]) -> dict[str, int | None]:
        assert chain == cid
        asked.extend(hashes)

        async def ask() -> dict[str, int | None]:
            async with RpcClient(run.tb.node.url, chain_id=cid) as client:
                return await client.gas_used(list(hashes))

        return asyncio.run(ask())

    live = list(inspect_blocks(blocks, gas_source=gas_source))
    assert [f.to_json() for f in live] == [f.to_json() for f in run.findings]
    assert all(f.gas_cost_wei is not None for f in live)
    txs = sum(len(b.transactions) for b in blocks)
    assert len(asked) == len(set(asked)) and 0 < len(asked) < txs / 4, (len(asked), txs)


def test_chain_profile_gives_usd_prices_on_the_testbed(run: Run) -> None:
    """chain.json names WETH and the stablecoins, so USD comes from the testbed's own swaps."""
    assert run.findings
    unpriced = [(f.kind, f.unpriced_reason) for f in run.findings if f.profit_usd is None]
    assert not unpriced, unpriced[:3]
