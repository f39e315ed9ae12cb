"""Funding addresses: where bot operators' ETH comes from, on chain.

On mainnet, clusters of searcher EOAs are often tied together by the address that tops them up
with gas money. :class:`Funder` does that in the recorded blocks: in the first block of a run and
then every ``every`` blocks it sends each operator EOA an ETH top-up. Operators are assigned to a
few funding addresses, some shared by different operators (the clustering signal the bot
classifier should find); the assignment is in ``labels.json`` (role ``funder``, and each top-up
recipient's operator).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mevgraph.decode.abi import keccak_hex
from mevgraph.sim.agents.base import Agent, BlockCtx, Plan
from mevgraph.sim.chain import Tx

if TYPE_CHECKING:
    from mevgraph.sim.env import Env

__all__ = ["Funder", "population", "FUNDING_GROUPS"]

FUNDING_GROUPS = 3
"""Funding addresses per run; operators are spread over them, so several share one."""


def _group(operator: str) -> int:
    return int(keccak_hex(operator.encode())[2:10], 16) % FUNDING_GROUPS


class Funder(Agent):
    role = "funder"

    def __init__(self, seed: int, agents: list[Agent], every: int = 25) -> None:
        addrs = ["0x" + keccak_hex(f"funder/{i}".encode())[-40:] for i in range(FUNDING_GROUPS)]
        super().__init__("funder", None, addrs, seed)
        self.agents = agents
        self.every = every
        self._blocks = 0
        self._ops: dict[str, list[str]] | None = None

    @property
    def operators(self) -> dict[str, list[str]]:
        """Operator -> its EOAs (computed once the searchers have deployed their contracts)."""
        if self._ops is None:
            ops: dict[str, list[str]] = {}
            for a in self.agents:
                if not (a.operator and getattr(a, "searcher", False)):
                    continue
                roles = a.labels()
                # The bot EOAs only: not contracts, not the operator's own funding wallet.
                eoas = [x for x in a.addresses if roles.get(x, {}).get("role") == "searcher"]
                known = ops.setdefault(a.operator, [])
                known += [e for e in eoas if e not in known]
            self._ops = ops
        return self._ops

    def act(self, env: Env, blk: BlockCtx) -> list[Plan]:
        self._blocks += 1
        if (self._blocks - 1) % self.every:
            return []
        plans = []
        # One fee per funding address and block: anvil silently drops a sender's tx whose max fee
        # is above that of its previous nonce in the pool.
        fees = [env.user_fees(self.rng, blk) for _ in self.addresses]
        for op, eoas in sorted(self.operators.items()):
            src = self.addresses[_group(op)]
            for eoa in eoas:
                max_fee, tip = fees[_group(op)]
                wei = int(self.rng.uniform(0.5, 2.0) * 10**18)
                plans.append(
                    Plan(Tx(src, eoa, b"", value=wei, gas=21_000, max_fee=max_fee, tip=tip), tag=("fund", op))
                )
        return plans

    def labels(self) -> dict[str, dict[str, Any]]:
        groups: dict[int, list[str]] = {}
        for op in self.operators:
            groups.setdefault(_group(op), []).append(op)
        return {
            a: {"role": "funder", "operator": None, "agent": self.name, "funds": sorted(groups.get(i, []))}
            for i, a in enumerate(self.addresses)
        }


def population(env: Env, seed: int, agents: list[Agent]) -> list[Agent]:
    """One :class:`Funder` topping up the operators among ``agents``."""
    return [Funder(seed, agents)]
