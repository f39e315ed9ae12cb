"""Borrowers, the oracle and two liquidation bots on the testbed world: liquidations happen for
real after a WETH crash, every one the bots record is a successful ``liquidationCall`` (after the
oracle update it answered, when it answered one), and the liquidation detector finds exactly
those -- precision and recall 1.0 on the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from mevgraph.core import chains
from mevgraph.decode.decoder import decode_block
from mevgraph.detection.base import Finding
from mevgraph.detection.engine import find
from mevgraph.graph.tables import PropertyGraph
from mevgraph.ingest.files import block_from_object
from mevgraph.sim import artifacts as art
from mevgraph.sim.agents.lending import Position, Reserve, health_factor, population
from mevgraph.sim.env import Env
from mevgraph.sim.node import AnvilMissing, anvil_binary
from mevgraph.sim.runner import Sim
from mevgraph.sim.score import read_truth, score
from mevgraph.sim.world import load_aave, load_world

pytestmark = pytest.mark.node

SEED = 3
BLOCKS = 24


def _require_testbed() -> None:
    try:
        anvil_binary()
        art.own_artifact("Searcher")
    except (AnvilMissing, art.ArtifactMissing) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def test_health_factor_matches_aave_rounding() -> None:
    """10 WETH at 2000 USD against 16,000 USDC at LT 82.5 %: HF = 20000 * 0.825 / 16000."""
    weth, usdc = "0x" + "11" * 20, "0x" + "22" * 20
    res = {weth: Reserve(weth, "WETH", 18, 8000, 8250, 500), usdc: Reserve(usdc, "USDC", 6, 0, 0, 0)}
    pos = Position({weth: 10 * 10**18}, {usdc: 16_000 * 10**6})
    assert health_factor(pos, {weth: 2000 * 10**8, usdc: 10**8}, res) == 1_031_250_000_000_000_000
    assert health_factor(pos, {weth: 1900 * 10**8, usdc: 10**8}, res) < 10**18
    assert health_factor(Position({weth: 1}, {}), {weth: 1, usdc: 1}, res) == 2**256 - 1


def detect(env: Env, out: Path, blocks: range) -> list[Finding]:
    """Findings of the recorded blocks, as the indexer produces them from the RPC bundles."""
    chains.apply(env.chain_profile())
    decoded = []
    for n in blocks:
        bundle = orjson.loads((out / "blocks" / f"{n}.json").read_bytes())
        decoded.append(decode_block(block_from_object(bundle, chain_id=env.world.chain_id)))
    return find(PropertyGraph.build(decoded))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require_testbed()
    out = tmp_path_factory.mktemp("lending")
    node, chain, world = load_world(None, "--no-mining")
    try:
        env = Env(chain, node.ws_url, world, load_aave(None), SEED)
        agents = population(env, SEED, borrowers=40)
        env.setup_agents(agents)
        first = env.head_number + 1
        with Sim(env, agents, out_dir=out, seed=SEED) as sim:
            env.market.crash_p = 1.0  # a crash (-6 .. -15 % WETH over 4 blocks) starts at once
            sim.step()
            env.market.crash_p = 0.0
            stats = sim.run(BLOCKS - 1, progress=False)
        truths = read_truth(out / "truth.jsonl")
        blocks = range(first, env.head_number + 1)
        yield {"env": env, "stats": stats, "truths": truths, "findings": detect(env, out, blocks)}
    finally:
        chain.close()
        node.stop()


def test_liquidations_are_recorded_by_both_operators(run: dict[str, Any]) -> None:
    truths = [t for t in run["truths"] if t["kind"] == "liquidation"]
    print(f"\n{len(truths)} liquidations in {BLOCKS} blocks: {run['stats']}")
    assert len(truths) >= 3
    assert {t["operator"] for t in truths} == {"liq-a", "liq-b"}
    assert any(t["trigger_tx"] for t in truths)
    assert run["stats"].agent_errors == 0
    env = run["env"]
    for t in truths:
        assert t["pools"] == [env.aave.pool] and t["victim_txs"] == []
        assert (t["contract"] is None) == (t["operator"] == "liq-b")


def test_detector_agrees(run: dict[str, Any]) -> None:
    sc = score(run["truths"], run["findings"])["liquidation"]
    assert sc.missed == [] and sc.extra == []
    assert sc.precision == 1.0 and sc.recall == 1.0 and sc.exact == sc.truth


def test_triggered_liquidations_follow_their_update(run: dict[str, Any]) -> None:
    env = run["env"]
    for t in (t for t in run["truths"] if t["trigger_tx"]):
        (liq,) = t["attacker_txs"]
        r_liq, r_upd = env.chain.receipts([liq, t["trigger_tx"]])
        assert r_liq["blockNumber"] == r_upd["blockNumber"]
        assert int(r_upd["transactionIndex"], 16) < int(r_liq["transactionIndex"], 16)
