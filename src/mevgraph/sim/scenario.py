"""A whole testbed run: world + population + block loop + recorded outputs.

``run_scenario(blocks=200, seed=1, out=DIR)`` loads the saved world (building it once), populates
it with the default cast, runs the block loop and leaves in ``DIR``:

* ``blocks/<n>.json``: RPC bundles (block with full txs, receipts with logs, ``trace_block``);
* ``truth.jsonl``: one line per planted MEV instance (kind, block, attacker and victim txs,
  operator, searcher, contract, details);
* ``labels.json``: every agent address -> role, operator, agent (for bot classification);
* ``mempool.jsonl``: public pending txs as a searcher's watcher saw them (private ones never);
* ``chain.json``: the chain profile (tokens, routers, factories) ``mevgraph inspect`` needs;
* ``run.json``: seed, parameters, counts and timings.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mevgraph.sim.agents.base import Agent
from mevgraph.sim.env import Env
from mevgraph.sim.node import Anvil
from mevgraph.sim.runner import Sim, SimStats
from mevgraph.sim.world import load_aave, load_world

__all__ = ["Cast", "Testbed", "run_scenario", "default_cast", "open_testbed"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Cast:
    """Who is on the chain. ``retail`` EOAs trade with probability ``p_trade`` per block."""

    retail: int = 400
    p_trade: float = 0.45
    whales: int = 6
    with_searchers: bool = True
    extra: list[str] = field(default_factory=list)


def default_cast(env: Env, seed: int, cast: Cast) -> list[Agent]:
    from mevgraph.sim.agents import market

    agents: list[Agent] = market.population(
        env, seed, retail=cast.retail, whales=cast.whales, p_trade=cast.p_trade
    )
    from mevgraph.sim.agents import lending, liquidity

    agents += lending.population(env, seed)
    agents += liquidity.population(env, seed)
    if cast.with_searchers:
        from mevgraph.sim.agents import arbitrage, sandwich

        agents += sandwich.population(env, seed)
        agents += arbitrage.population(env, seed)
        from mevgraph.sim.agents import funding

        agents += funding.population(env, seed, list(agents))
    return agents


@dataclass
class Testbed:
    """A running node with the world loaded and the cast set up."""

    __test__ = False  # not a pytest class

    node: Anvil
    env: Env
    agents: list[Agent]

    def close(self) -> None:
        self.env.chain.close()
        self.node.stop()

    def __enter__(self) -> Testbed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_testbed(
    seed: int,
    cast: Cast | None = None,
    *,
    cache_dir: Path | None = None,
    cast_fn: Callable[[Env, int, Cast], list[Agent]] = default_cast,
    anvil_args: tuple[str, ...] = ("--no-mining",),
) -> Testbed:
    """Start anvil on the saved world and set up the cast (funding, approvals, contracts)."""
    node, chain, world = load_world(cache_dir, *anvil_args)
    try:
        env = Env(chain, node.ws_url, world, load_aave(cache_dir), seed)
        agents = cast_fn(env, seed, cast or Cast())
        env.setup_agents(agents)
        from mevgraph.core.chains import apply

        apply(env.chain_profile())  # this process decodes what it records (tests, scoring)
    except BaseException:
        chain.close()
        node.stop()
        raise
    return Testbed(node, env, agents)


def record(
    tb: Testbed,
    blocks: int,
    seed: int,
    out: Path,
    *,
    cast: Cast | None = None,
    traces: bool = True,
    progress: bool = True,
    setup_s: float | None = None,
) -> SimStats:
    """Run ``blocks`` blocks on an open testbed and record everything into ``out`` (module doc)."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("truth.jsonl", "mempool.jsonl"):
        (out / stale).unlink(missing_ok=True)
    (out / "chain.json").write_text(json.dumps(tb.env.chain_profile(), indent=2))
    labels: dict[str, Any] = {}
    for a in tb.agents:
        labels.update(a.labels())
    (out / "labels.json").write_text(json.dumps(labels, indent=2, sort_keys=True))
    with Sim(tb.env, tb.agents, out_dir=out, record_traces=traces, seed=seed) as sim:
        stats = sim.run(blocks, progress=progress)
    run = {
        "seed": seed,
        "blocks": blocks,
        "traces": traces,
        "cast": asdict(cast or Cast()),
        "setup_s": None if setup_s is None else round(setup_s, 2),
        "stats": {k: v for k, v in asdict(stats).items() if k != "txs_per_block"},
        "txs_per_block": {
            "min": min(stats.txs_per_block, default=0),
            "mean": round(stats.txs / max(1, stats.blocks), 1),
            "max": max(stats.txs_per_block, default=0),
        },
    }
    (out / "run.json").write_text(json.dumps(run, indent=2))
    return stats


def run_scenario(
    blocks: int,
    seed: int,
    out: Path,
    *,
    cast: Cast | None = None,
    traces: bool = True,
    progress: bool = True,
    cache_dir: Path | None = None,
) -> SimStats:
    """Start a testbed, run ``blocks`` blocks with ``seed``, record into ``out``, stop the node."""
    t0 = time.perf_counter()
    with open_testbed(seed, cast, cache_dir=cache_dir) as tb:
        setup_s = time.perf_counter() - t0
        return record(tb, blocks, seed, out, cast=cast, traces=traces, progress=progress, setup_s=setup_s)
