"""V2 and V3 liquidity providers and the JIT bot on the testbed world, with whales and retail
traders swapping through the V3 SwapRouter: JIT happens for real (mint, the victim's swap, burn +
collect in one block), every record is one the JIT detector finds with the same attacker txs, and
the passive LPs -- opening and closing positions block after block -- produce no JIT finding."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from mevgraph.core import chains
from mevgraph.decode.decoder import decode_block
from mevgraph.detection.base import Finding, Kind
from mevgraph.detection.engine import find
from mevgraph.graph.tables import PropertyGraph
from mevgraph.ingest.files import block_from_object
from mevgraph.sim import artifacts as art
from mevgraph.sim.agents.liquidity import V2LP, V3LP, JitBot, V3Range, population
from mevgraph.sim.agents.market import Trader
from mevgraph.sim.env import Env
from mevgraph.sim.node import AnvilMissing, anvil_binary
from mevgraph.sim.runner import Sim
from mevgraph.sim.score import read_truth, score
from mevgraph.sim.world import load_aave, load_world

pytestmark = pytest.mark.node

SEED = 11
BLOCKS = 20


def _require_testbed() -> None:
    try:
        anvil_binary()
        art.own_artifact("Searcher")
    except (AnvilMissing, art.ArtifactMissing) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def test_range_around_a_tick() -> None:
    r = V3Range.around(-201_234, 10, 1)
    assert (r.lower, r.upper) == (-201_250, -201_220)
    assert V3Range.around(205, 60, 0) == V3Range(180, 240)
    a0, a1 = r.per_liquidity(1.0001 ** (-201_235 / 2))
    assert a0 > 0 and a1 > 0
    w0, w1 = r.worst_case()
    assert w0 > a0 and w1 > a1


def _detect(env: Env, out: Path, blocks: range) -> list[Finding]:
    chains.apply(env.chain_profile())
    decoded = []
    for n in blocks:
        bundle = orjson.loads((out / "blocks" / f"{n}.json").read_bytes())
        decoded.append(decode_block(block_from_object(bundle, chain_id=env.world.chain_id)))
    return find(PropertyGraph.build(decoded))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require_testbed()
    out = tmp_path_factory.mktemp("liquidity")
    node, chain, world = load_world(None, "--no-mining")
    try:
        env = Env(chain, node.ws_url, world, load_aave(None), SEED)
        traders = [
            Trader(
                "whales",
                SEED,
                6,
                p_trade=0.3,
                usd_median=80_000,
                usd_sigma=0.6,
                usd_cap=300_000,
                usd_floor=20_000,
                informed=1.0,
                v3_share=1.0,
                urgency=2.0,
                role="whale",
            ),
            Trader(
                "retail",
                SEED,
                30,
                p_trade=0.3,
                usd_median=1_500,
                usd_sigma=1.0,
                usd_cap=20_000,
                informed=0.3,
                v3_share=0.6,
            ),
        ]
        lps = population(env, SEED, v2_lps=6, v3_lps=8)
        for a in lps:  # busier LPs than in a full run, so a short run opens and closes positions
            if isinstance(a, (V2LP, V3LP)):
                a.p_act = 0.3
        agents = [*traders, *lps]
        env.setup_agents(agents)
        first = env.head_number + 1
        with Sim(env, agents, out_dir=out, seed=SEED) as sim:
            stats = sim.run(BLOCKS, progress=False)
        blocks = range(first, env.head_number + 1)
        yield {
            "env": env,
            "stats": stats,
            "agents": {a.name: a for a in agents},
            "truths": read_truth(out / "truth.jsonl"),
            "findings": _detect(env, out, blocks),
        }
    finally:
        chain.close()
        node.stop()


def test_jit_happens_and_is_recorded(run: dict[str, Any]) -> None:
    truths = [t for t in run["truths"] if t["kind"] == "jit"]
    print(f"\n{len(truths)} JIT in {BLOCKS} blocks; {run['stats']}")
    assert len(truths) >= 5
    assert run["stats"].agent_errors == 0
    bot = run["agents"]["jit-bot-a"]
    assert isinstance(bot, JitBot)
    for t in truths:
        assert t["operator"] == "jit-a" and t["contract"] == bot.contract and t["victim_txs"]
        assert t["target_tx"] is not None and len(t["attacker_txs"]) == 2


def test_passive_lps_act(run: dict[str, Any]) -> None:
    v2, v3 = run["agents"]["v2-lps"], run["agents"]["v3-lps"]
    print(f"\nV2 LPs {v2.counts}, V3 LPs {v3.counts}")
    assert v2.counts.get("add_ok", 0) > 0 and v2.counts.get("remove_ok", 0) > 0
    assert v3.counts.get("open_ok", 0) > 0 and v3.counts.get("close_ok", 0) > 0


def test_detector_agrees(run: dict[str, Any]) -> None:
    sc = score(run["truths"], run["findings"])["jit"]
    assert sc.missed == [] and sc.extra == []
    assert sc.precision == 1.0 and sc.recall == 1.0 and sc.exact == sc.truth
    # Nothing but JIT is planted here (no searchers trade): any other finding is a false one.
    assert {f.kind for f in run["findings"] if f.counted} <= {Kind.JIT}
