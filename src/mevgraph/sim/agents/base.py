"""What every testbed agent is, and what it sees.

A block is produced in three phases by :class:`mevgraph.sim.runner.Sim`:

1. ``act``: users (retail, whales, LPs, borrowers, the oracle) decide on the state left by the
   previous block and send their transactions to the public mempool;
2. ``react``: searchers read the public mempool as their WebSocket watcher saw it
   (``newPendingTransactions`` with full transactions) and answer with their own transactions --
   public ones go to the mempool, private ones to the block builder only;
3. the block is mined (the node orders by max fee per gas, FIFO among equals) and every agent
   ``settle`` s: it reads its receipts and the block order, and writes down the MEV it really
   produced (:class:`Truth`) -- an attack whose victim reverted or that landed in the wrong order
   is not recorded as that attack.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mevgraph.sim.chain import Tx

if TYPE_CHECKING:
    from mevgraph.sim.env import Env

__all__ = ["Pending", "Plan", "Truth", "Mined", "BlockCtx", "Agent"]


@dataclass(frozen=True, slots=True)
class Pending:
    """A transaction seen in the public mempool, in arrival order ``seq``."""

    hash: str
    frm: str
    to: str | None
    data: bytes
    value: int
    max_fee: int
    tip: int
    gas: int
    seq: int


@dataclass(slots=True)
class Plan:
    """A transaction an agent wants in the next block; ``tag`` comes back to it in ``settle``."""

    tx: Tx
    private: bool = False
    tag: Any = None
    hash: str | None = None
    error: str | None = None  # the node refused it (e.g. nonce, balance): logged, never fatal


@dataclass(slots=True)
class Truth:
    """One planted MEV instance, as the agent that produced it knows it (a line of truth.jsonl)."""

    kind: str  # sandwich | arbitrage | backrun | frontrun | liquidation | jit
    block_number: int
    attacker_txs: list[str]
    victim_txs: list[str]
    operator: str
    searcher: str  # the EOA (or the first EOA) that sent the attacker txs
    contract: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "block_number": self.block_number,
            "attacker_txs": self.attacker_txs,
            "victim_txs": self.victim_txs,
            "operator": self.operator,
            "searcher": self.searcher,
            "contract": self.contract,
            **self.details,
        }


@dataclass(slots=True)
class Mined:
    """The block as mined: order and receipts of every transaction in it."""

    number: int
    timestamp: int
    coinbase: str
    order: dict[str, int]  # tx hash -> index in block
    receipts: dict[str, dict[str, Any]]
    txs: list[dict[str, Any]]  # full transactions, block order

    def ok(self, h: str | None) -> bool:
        r = self.receipts.get(h or "")
        return r is not None and r.get("status") == "0x1"

    def index(self, h: str | None) -> int | None:
        return self.order.get(h or "")


@dataclass(slots=True)
class BlockCtx:
    """Facts of the block being built."""

    number: int
    timestamp: int
    base_fee: int


class Agent:
    """Base class: override what the role needs. ``rng`` is this agent's own seeded stream."""

    role: str = "agent"

    def __init__(self, name: str, operator: str | None, addresses: list[str], seed: int) -> None:
        self.name = name
        self.operator = operator
        self.addresses = addresses
        self.rng = random.Random(f"{seed}/{name}")

    def setup(self, env: Env) -> list[Tx]:
        """Transactions run once when the world is populated (funding, approvals, deploys)."""
        return []

    def act(self, env: Env, blk: BlockCtx) -> list[Plan]:
        """Phase 1: the public transactions this agent sends for the next block."""
        return []

    def react(self, env: Env, blk: BlockCtx, pending: list[Pending]) -> list[Plan]:
        """Phase 2: searchers answer what they saw in the mempool."""
        return []

    def settle(self, env: Env, blk: BlockCtx, mined: Mined, plans: list[Plan]) -> list[Truth]:
        """Phase 3: read the outcome of this agent's ``plans``; return the MEV it really made."""
        return []

    def labels(self) -> dict[str, dict[str, Any]]:
        """Address -> {role, operator, agent} for the labels file."""
        return {a: {"role": self.role, "operator": self.operator, "agent": self.name} for a in self.addresses}
