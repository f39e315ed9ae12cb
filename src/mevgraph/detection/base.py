"""What a detector produces and how detectors plug into the pipeline.

A detector is a pure function of the :class:`~mevgraph.graph.PropertyGraph`: it matches its motif
(SQL joins over the graph's tables, then exact integer checks on the action objects) and returns
:class:`Candidate` s -- which transactions play which role, and why. The money module
(:mod:`mevgraph.detection.money`) then turns candidates into :class:`Finding` s with profit, gas,
bribes, USD and victim loss; :mod:`mevgraph.detection.precedence` makes sure no transaction is
counted as the attacker of two findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mevgraph.graph.tables import PropertyGraph

__all__ = ["Kind", "Status", "Candidate", "Finding", "Detector", "finding_id"]


class Kind(StrEnum):
    SANDWICH = "sandwich"
    ARBITRAGE = "arbitrage"
    BACKRUN = "backrun"
    FRONTRUN = "frontrun"
    LIQUIDATION = "liquidation"
    JIT = "jit"


def finding_id(chain_id: int, kind: Kind | str, attacker_txs: tuple[str, ...]) -> str:
    """A stable id: chain, kind and the first attacker tx (a tx leads one finding per kind).

    >>> finding_id(1, Kind.SANDWICH, ("0xabc", "0xdef"))
    '1:sandwich:0xabc'
    """
    return f"{chain_id}:{kind}:{attacker_txs[0] if attacker_txs else ''}"


class Status(StrEnum):
    OK = "ok"
    REVERTED = "reverted"
    UNPROFITABLE = "unprofitable"


@dataclass(slots=True)
class Candidate:
    """A motif match, before money.

    ``attacker_txs`` are all transactions of the searcher in the finding (front- and backruns for
    a sandwich). ``searcher`` is the EOA that sent them (None when they differ), ``contract`` the
    searcher contract they called (None for EOA-only bots or routers). ``action_ids`` index the
    graph's actions that make up the motif (swaps, liquidity changes, liquidation...).
    ``details`` holds kind-specific facts (e.g. ``trigger_tx`` of a backrun, liquidation fields).
    ``nested_in`` is the id of an enclosing finding when this motif lies wholly inside another
    one's attacker txs (see :mod:`~mevgraph.detection.precedence`); totals must skip it.
    """

    kind: Kind
    chain_id: int
    block_number: int
    attacker_txs: tuple[str, ...]
    searcher: str | None
    contract: str | None
    pools: tuple[str, ...]
    protocols: tuple[str, ...]
    frontrun_txs: tuple[str, ...] = ()
    backrun_txs: tuple[str, ...] = ()
    victim_txs: tuple[str, ...] = ()
    action_ids: tuple[int, ...] = ()
    status: Status = Status.OK
    confidence: float = 1.0
    details: dict[str, Any] = field(default_factory=dict)
    nested_in: str | None = None

    @property
    def id(self) -> str:
        return finding_id(self.chain_id, self.kind, self.attacker_txs)


@dataclass(slots=True)
class Finding:
    """A detected MEV instance with its money figures, ready to print, store or serve.

    ``profit_by_token`` is the searcher's gross balance change per token over its transactions in
    the finding (raw ints; gas excluded, coinbase payments added back so they appear only in
    ``coinbase_transfer_wei``). ``profit_usd`` is the *net* USD profit (gross - gas - coinbase);
    ``None`` with ``unpriced_reason`` when some amount has no price.

    ``nested_in`` names the enclosing finding (by :attr:`id`) of a motif that lies inside another
    one -- e.g. a sandwich leg that is itself a closed token loop. Its money is already part of
    the enclosing finding's, so every total or aggregate must skip nested findings
    (:attr:`counted` is False for them).
    """

    kind: Kind
    chain_id: int
    block_number: int
    tx_hashes: tuple[str, ...]
    attacker_txs: tuple[str, ...]
    frontrun_txs: tuple[str, ...]
    backrun_txs: tuple[str, ...]
    victim_txs: tuple[str, ...]
    searcher: str | None
    contract: str | None
    pools: tuple[str, ...]
    protocols: tuple[str, ...]
    profit_by_token: dict[str, int]
    gas_cost_wei: int | None
    coinbase_transfer_wei: int | None
    profit_usd: float | None
    victim_loss_usd: float | None
    unpriced_reason: str | None
    status: Status
    confidence: float
    gross_profit_usd: float | None = None
    gas_cost_usd: float | None = None
    victim_loss_by_token: dict[str, int] | None = None
    victim_loss_reason: str | None = None
    block_timestamp: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    nested_in: str | None = None

    @property
    def id(self) -> str:
        return finding_id(self.chain_id, self.kind, self.attacker_txs)

    @property
    def counted(self) -> bool:
        """Whether this finding's money enters totals (False for nested findings)."""
        return self.nested_in is None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; big ints stay ints (JSON numbers are arbitrary precision)."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": str(self.kind),
            "chain_id": self.chain_id,
            "block_number": self.block_number,
            "block_timestamp": self.block_timestamp,
            "tx_hashes": list(self.tx_hashes),
            "attacker_txs": list(self.attacker_txs),
            "frontrun_txs": list(self.frontrun_txs),
            "backrun_txs": list(self.backrun_txs),
            "victim_txs": list(self.victim_txs),
            "searcher": self.searcher,
            "contract": self.contract,
            "pools": list(self.pools),
            "protocols": list(self.protocols),
            "profit_by_token": dict(self.profit_by_token),
            "gas_cost_wei": self.gas_cost_wei,
            "coinbase_transfer_wei": self.coinbase_transfer_wei,
            "profit_usd": self.profit_usd,
            "gross_profit_usd": self.gross_profit_usd,
            "gas_cost_usd": self.gas_cost_usd,
            "victim_loss_usd": self.victim_loss_usd,
            "victim_loss_by_token": self.victim_loss_by_token,
            "victim_loss_reason": self.victim_loss_reason,
            "unpriced_reason": self.unpriced_reason,
            "status": str(self.status),
            "confidence": round(self.confidence, 4),
            "nested_in": self.nested_in,
        }
        out.update(self.details)
        return out


class Detector(Protocol):
    """A motif detector: ``kind`` plus a pure ``detect(graph)``."""

    kind: Kind

    def detect(self, graph: PropertyGraph) -> list[Candidate]: ...
