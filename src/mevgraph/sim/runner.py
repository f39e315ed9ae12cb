"""The block loop: users act, searchers react to the mempool, the node mines, agents settle.

:class:`Sim` drives one chain for ``n`` blocks (see :mod:`mevgraph.sim.agents.base` for the
phases). Every block it can record what an indexer would fetch -- ``DIR/blocks/<n>.json`` as an
RPC bundle (block with full transactions, ``eth_getBlockReceipts``, ``trace_block``) -- and the
ground truth the agents wrote, one JSON line per planted MEV instance in ``DIR/truth.jsonl``.
Public mempool sightings go to ``DIR/mempool.jsonl`` (hash, block it was pending for, first-seen
order); private transactions never appear there, because they are handed to the node only after
every searcher has decided.

Nothing an agent does can stop the run: a refused or reverted transaction is logged and the
agent goes on (as a real bot does); an agent that raises is logged and skipped for that block.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from mevgraph.sim.agents.base import Agent, Mined, Pending, Plan, Truth
from mevgraph.sim.chain import RpcError
from mevgraph.sim.mempool import MempoolWatcher

if TYPE_CHECKING:
    from mevgraph.sim.env import Env

__all__ = ["Sim", "SimHooks", "SimStats", "fetch_bundle"]

log = logging.getLogger(__name__)

BLOCK_TIME = 12


@dataclass(slots=True)
class SimStats:
    blocks: int = 0
    txs: int = 0
    refused: int = 0
    reverted: int = 0
    truth: dict[str, int] = field(default_factory=dict)
    agent_errors: int = 0
    seconds: float = 0.0
    txs_per_block: list[int] = field(default_factory=list)


def fetch_bundle(chain: Any, number: int) -> dict[str, Any]:
    """Block ``number`` as an RPC bundle, in one batched HTTP request."""
    n = hex(number)
    blk, receipts, traces = chain.batch(
        [("eth_getBlockByNumber", [n, True]), ("eth_getBlockReceipts", [n]), ("trace_block", [n])]
    )
    return {"block": blk, "receipts": receipts, "traces": traces}


@dataclass(slots=True)
class SimHooks:
    """Callbacks for observers of a run (the live-pipeline benchmark and tests).

    ``on_sent(hashes, unix_time, public)`` after txs were broadcast (``public`` False for
    private order flow); ``before_mine(number, public_hashes)`` when every agent has sent and
    the block is about to be mined (an observer may wait here, as a real slot would);
    ``after_mine(mined, unix_time)`` right after the node mined it."""

    on_sent: Callable[[list[str], float, bool], None] | None = None
    before_mine: Callable[[int, set[str]], None] | None = None
    after_mine: Callable[[Any, float], None] | None = None


class Sim:
    """Runs ``agents`` on ``env``; ``searchers`` are those with a ``react`` phase."""

    def __init__(
        self,
        env: Env,
        agents: Sequence[Agent],
        *,
        out_dir: Path | None = None,
        record_traces: bool = True,
        seed: int = 0,
        hooks: SimHooks | None = None,
    ) -> None:
        import random

        self.env = env
        self.users = [a for a in agents if not getattr(a, "searcher", False)]
        self.searchers = [a for a in agents if getattr(a, "searcher", False)]
        self.out_dir = out_dir
        self.record_traces = record_traces
        self.rng = random.Random(f"{seed}/sim")
        self.stats = SimStats()
        self.hooks = hooks or SimHooks()
        self._watchers: dict[str, MempoolWatcher] = {}
        for a in self.searchers:
            op = a.operator or a.name
            if op not in self._watchers:
                self._watchers[op] = MempoolWatcher(env.ws_url, name=op)
        self._truth_fh: IO[bytes] | None = None
        self._mempool_fh: IO[bytes] | None = None
        if out_dir is not None:
            (out_dir / "blocks").mkdir(parents=True, exist_ok=True)
            self._truth_fh = (out_dir / "truth.jsonl").open("ab")
            self._mempool_fh = (out_dir / "mempool.jsonl").open("ab")

    def close(self) -> None:
        for w in self._watchers.values():
            w.close()
        for fh in (self._truth_fh, self._mempool_fh):
            if fh is not None:
                fh.close()

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one block -----------------------------------------------------------------------------
    def _send(self, plans: list[Plan], *, public: bool = True) -> list[str]:
        sent = [p for p in plans if p.hash is None and p.error is None]
        t_sent = time.time()
        res = self.env.chain.send_many([p.tx for p in sent])
        hashes = []
        for p, r in zip(sent, res, strict=True):
            if isinstance(r, RpcError):
                p.error = str(r.error)
                self.stats.refused += 1
                log.info("tx refused (%s -> %s): %s", p.tx.frm, p.tx.to, p.error)
            else:
                p.hash = str(r).lower()
                hashes.append(p.hash)
        if self.hooks.on_sent is not None and hashes:
            self.hooks.on_sent(hashes, t_sent, public)
        return hashes

    def _call(self, agent: Agent, fn: Callable[..., list[Any]], *args: Any) -> list[Any]:
        try:
            return fn(*args)
        except Exception:  # an agent bug must not stop the chain
            self.stats.agent_errors += 1
            log.exception("agent %s failed in %s", agent.name, getattr(fn, "__name__", fn))
            return []

    def step(self) -> Mined:
        env = self.env
        blk = env.next_block()
        plans: dict[str, list[Plan]] = {}
        public: set[str] = set()
        # Phase 1: users.
        user_plans: list[tuple[Agent, Plan]] = []
        for a in self.users:
            ps = self._call(a, a.act, env, blk)
            plans[a.name] = ps
            user_plans.extend((a, p) for p in ps)
        self.rng.shuffle(user_plans)  # arrival order in the mempool
        public.update(self._send([p for _, p in user_plans if not p.private]))
        # Phase 2: searchers, each on what its own watcher saw.
        seen: dict[str, list[Pending]] = {op: [] for op in self._watchers}
        private: list[Plan] = [p for _, p in user_plans if p.private]
        order = list(self.searchers)
        self.rng.shuffle(order)
        for a in order:
            op = a.operator or a.name
            w = self._watchers[op]
            w.wait_for(public)
            seen[op].extend(w.drain())
            view = [p for p in seen[op] if p.hash in public]
            ps = self._call(a, a.react, env, blk, view)
            plans[a.name] = plans.get(a.name, []) + ps
            public.update(self._send([p for p in ps if not p.private]))
            private.extend(p for p in ps if p.private)
        # The builder adds private order flow after every searcher decided.
        self._send(private, public=False)
        if self._mempool_fh is not None:
            for op_view in seen.values():
                for p in op_view:
                    if p.hash in public:
                        self._mempool_fh.write(
                            orjson.dumps({"hash": p.hash, "block": blk.number, "seq": p.seq}) + b"\n"
                        )
                break  # one watcher's log is the public mempool's
        if self.hooks.before_mine is not None:
            self.hooks.before_mine(blk.number, public)
        mined = env.mine(blk)
        if self.hooks.after_mine is not None:
            self.hooks.after_mine(mined, time.time())
        for w in self._watchers.values():
            w.forget(set(mined.order))
        # Phase 3: settle.
        truths: list[Truth] = []
        for a in self.users + self.searchers:
            mine = plans.get(a.name, [])
            if any(p.hash for p in mine):
                truths.extend(self._call(a, a.settle, env, blk, mined, mine))
        for plan in (x for ps in plans.values() for x in ps if x.hash):
            if plan.hash not in mined.order:
                log.info("tx %s not included in block %d", plan.hash, blk.number)
            elif not mined.ok(plan.hash):
                self.stats.reverted += 1
        for t in truths:
            self.stats.truth[t.kind] = self.stats.truth.get(t.kind, 0) + 1
            if self._truth_fh is not None:
                self._truth_fh.write(orjson.dumps(t.to_json()) + b"\n")
        if self.out_dir is not None:
            bundle = fetch_bundle(env.chain, mined.number)
            if not self.record_traces:
                bundle.pop("traces")
            (self.out_dir / "blocks" / f"{mined.number}.json").write_bytes(orjson.dumps(bundle))
        self.stats.blocks += 1
        self.stats.txs += len(mined.order)
        self.stats.txs_per_block.append(len(mined.order))
        return mined

    def run(self, n_blocks: int, *, progress: bool = True) -> SimStats:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        t0 = time.perf_counter()
        cols = (
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
        )
        with Progress(*cols, disable=not progress, transient=False) as bar:
            task = bar.add_task("sim", total=n_blocks, info="")
            for _ in range(n_blocks):
                self.step()
                info = f"{self.stats.txs / max(1, self.stats.blocks):.0f} tx/block, " + ", ".join(
                    f"{k} {v}" for k, v in sorted(self.stats.truth.items())
                )
                bar.update(task, advance=1, info=info)
        for fh in (self._truth_fh, self._mempool_fh):
            if fh is not None:
                fh.flush()
        self.stats.seconds = time.perf_counter() - t0
        return self.stats
