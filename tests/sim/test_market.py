"""Users only (retail traders, whales): a busy chain with no MEV on it -- the detectors must stay
silent (a negative test on real bytecode), and the mempool watcher must see what users send."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mevgraph.decode.decoder import decode_block
from mevgraph.detection.engine import find
from mevgraph.graph.tables import PropertyGraph
from mevgraph.ingest.files import block_from_object
from mevgraph.sim.agents import market
from mevgraph.sim.agents.base import Agent
from mevgraph.sim.env import Env
from mevgraph.sim.mempool import MempoolWatcher
from mevgraph.sim.node import AnvilMissing, anvil_binary
from mevgraph.sim.runner import Sim, fetch_bundle
from mevgraph.sim.scenario import Cast, Testbed, open_testbed


def _users(env: Env, seed: int, cast: Cast) -> list[Agent]:
    return market.population(env, seed, retail=cast.retail, whales=cast.whales, p_trade=cast.p_trade)


@pytest.fixture(scope="module")
def testbed() -> Iterator[Testbed]:
    try:
        anvil_binary()
    except AnvilMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    with open_testbed(5, Cast(retail=150, p_trade=0.8), cast_fn=_users) as tb:
        yield tb


def test_users_only_chain_has_traffic_and_no_mev(testbed: Testbed) -> None:
    env = testbed.env
    first = env.head_number + 1
    with Sim(env, testbed.agents, seed=5) as sim:
        stats = sim.run(6, progress=False)
    assert stats.agent_errors == 0 and stats.refused == 0
    assert min(stats.txs_per_block) >= 80
    assert stats.truth == {}
    blocks = [
        block_from_object(fetch_bundle(env.chain, n), chain_id=env.world.chain_id)
        for n in range(first, env.head_number + 1)
    ]
    decoded = [decode_block(b) for b in blocks]
    swaps = [a for d in decoded for a in d.actions if type(a).__name__ == "Swap"]
    assert len(swaps) >= 200
    assert {s.protocol for s in swaps} >= {"uniswap_v2", "sushiswap", "uniswap_v3"}
    g = PropertyGraph.build(decoded)
    try:
        found = find(g)
    finally:
        g.close()
    # Users trade at most once per block, through routers: nothing here is MEV.
    assert found == [], [(f.kind, f.block_number, f.attacker_txs) for f in found]


def test_watcher_sees_every_public_tx(testbed: Testbed) -> None:
    env = testbed.env
    w = MempoolWatcher(env.ws_url, "test")
    try:
        blk = env.next_block()
        plans = testbed.agents[0].act(env, blk)
        hashes = env.chain.send_many([p.tx for p in plans])
        want = [str(h) for h in hashes]
        w.wait_for(set(want))
        seen = w.drain()
        # A batch reaches the pool concurrently: the set is exact, the order is the node's.
        assert sorted(p.hash for p in seen) == sorted(want)
        assert [p.seq for p in seen] == sorted(p.seq for p in seen)
        env.mine(blk)
    finally:
        w.close()
