"""Live MEV alerts: the event every stage of the live pipeline publishes, and subscriber filters.

Three stages, one shape:

* ``mempool`` -- an attack seen *in progress* among pending txs (a suspected bot's swap on the
  same pool and direction as a pending victim, with a higher fee); no block yet;
* ``block`` -- a finding of a mined block, as stored (``opportunity_id`` is the store's id);
  ``seen_in_mempool`` tells whether an attacker tx was public before the block (``False`` =
  private flow, ``None`` = no mempool monitor was watching);
* ``retraction`` -- a block-stage finding withdrawn because its block was reorged out.

An alert is a frozen value: the bus carries it as JSON (:meth:`Alert.to_json`), subscribers and
webhooks filter it with :class:`AlertFilter` on the server side.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import orjson

__all__ = ["Alert", "AlertFilter", "STAGES", "Stage"]

Stage = Literal["mempool", "block", "retraction"]
STAGES: tuple[str, ...] = get_args(Stage)


@dataclass(frozen=True, slots=True)
class Alert:
    """One live event. ``id`` is unique per (stage, finding): re-publishing the same finding
    (a restart replaying a block) yields the same id, so consumers can de-duplicate."""

    id: str
    stage: Stage
    kind: str | None  # sandwich, frontrun, backrun, arbitrage, liquidation, jit (None: unknown)
    chain_id: int
    block_number: int | None = None  # the mined block (None at the mempool stage)
    block_hash: str | None = None
    opportunity_id: str | None = None  # the store's id (block stage and retractions)
    txs: tuple[str, ...] = ()  # attacker txs (pending ones at the mempool stage)
    victim_txs: tuple[str, ...] = ()
    bot: str | None = None  # the bot's contract, else its EOA
    pools: tuple[str, ...] = ()
    protocols: tuple[str, ...] = ()
    profit_usd: float | None = None  # None: unpriced (never 0 for unknown)
    victim_loss_usd: float | None = None
    seen_in_mempool: bool | None = None
    detected_at: float = field(default_factory=time.time)  # unix seconds, when the stage decided
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stage": self.stage,
            "kind": self.kind,
            "chainId": self.chain_id,
            "blockNumber": self.block_number,
            "blockHash": self.block_hash,
            "opportunityId": self.opportunity_id,
            "txs": list(self.txs),
            "victimTxs": list(self.victim_txs),
            "bot": self.bot,
            "pools": list(self.pools),
            "protocols": list(self.protocols),
            "profitUsd": self.profit_usd,
            "victimLossUsd": self.victim_loss_usd,
            "seenInMempool": self.seen_in_mempool,
            "detectedAt": self.detected_at,
            "details": dict(self.details),
        }

    def to_json(self) -> bytes:
        try:
            return orjson.dumps(self.to_dict(), default=str)
        except TypeError:  # orjson refuses ints beyond 64 bits (raw token amounts in ``details``)
            return orjson.dumps(_wide_ints_as_str(self.to_dict()), default=str)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Alert:
        stage = d["stage"]
        if stage not in STAGES:
            raise ValueError(f"unknown alert stage {stage!r}")
        return cls(
            id=str(d["id"]),
            stage=stage,
            kind=d.get("kind"),
            chain_id=int(d["chainId"]),
            block_number=d.get("blockNumber"),
            block_hash=d.get("blockHash"),
            opportunity_id=d.get("opportunityId"),
            txs=tuple(d.get("txs") or ()),
            victim_txs=tuple(d.get("victimTxs") or ()),
            bot=d.get("bot"),
            pools=tuple(d.get("pools") or ()),
            protocols=tuple(d.get("protocols") or ()),
            profit_usd=d.get("profitUsd"),
            victim_loss_usd=d.get("victimLossUsd"),
            seen_in_mempool=d.get("seenInMempool"),
            detected_at=float(d.get("detectedAt") or 0.0),
            details=d.get("details") or {},
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Alert:
        return cls.from_dict(orjson.loads(raw))


def _wide_ints_as_str(value: Any) -> Any:
    """``value`` with every int outside 64 bits as its decimal string (the JSON convention for
    raw amounts here); ``bool`` is left alone."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return str(value)
    if isinstance(value, Mapping):
        return {k: _wide_ints_as_str(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wide_ints_as_str(v) for v in value]
    return value


def _lower(values: Iterable[str] | None) -> frozenset[str] | None:
    return frozenset(v.lower() for v in values) if values else None


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Server-side subscription filter; an empty/None field matches everything.

    A list field matches when the alert has *any* of the values (``pools``: any of the alert's
    pools). ``min_profit_usd`` never matches an unpriced alert. A retraction is matched on
    ``stages``, ``chains`` and (when it names one) ``kinds`` only: a subscriber must learn that a
    finding it may have received is withdrawn even if a reorg lost what the other filters test.
    """

    kinds: frozenset[str] | None = None
    chains: frozenset[int] | None = None
    min_profit_usd: float | None = None
    pools: frozenset[str] | None = None
    bots: frozenset[str] | None = None
    protocols: frozenset[str] | None = None
    stages: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        *,
        kinds: Iterable[str] | None = None,
        chains: Iterable[int] | None = None,
        min_profit_usd: float | None = None,
        pools: Iterable[str] | None = None,
        bots: Iterable[str] | None = None,
        protocols: Iterable[str] | None = None,
        stages: Iterable[str] | None = None,
    ) -> AlertFilter:
        """Build a filter, normalising case; unknown stages are an error."""
        st = frozenset(stages) if stages else None
        if st and not st <= set(STAGES):
            raise ValueError(f"stages must be among {', '.join(STAGES)}")
        return cls(
            kinds=frozenset(k.lower() for k in kinds) if kinds else None,
            chains=frozenset(int(c) for c in chains) if chains else None,
            min_profit_usd=min_profit_usd,
            pools=_lower(pools),
            bots=_lower(bots),
            protocols=frozenset(protocols) if protocols else None,
            stages=st,
        )

    def matches(self, a: Alert) -> bool:
        if self.stages is not None and a.stage not in self.stages:
            return False
        if self.chains is not None and a.chain_id not in self.chains:
            return False
        unknown_retraction = a.stage == "retraction" and a.kind is None
        if self.kinds is not None and (a.kind or "") not in self.kinds and not unknown_retraction:
            return False
        if a.stage == "retraction":
            return True
        if self.min_profit_usd is not None and (a.profit_usd is None or a.profit_usd < self.min_profit_usd):
            return False
        if self.pools is not None and not self.pools.intersection(p.lower() for p in a.pools):
            return False
        if self.bots is not None and (a.bot or "").lower() not in self.bots:
            return False
        return self.protocols is None or bool(self.protocols.intersection(a.protocols))
