"""Precedence between overlapping candidates, declared as data.

Rule
----
:data:`RANKING` orders the kinds from most to least specific. Candidates are visited by rank
(most specific first), then by their original order (stable); a candidate is **kept** unless one of
its attacker transactions (``(chain_id, tx_hash)``) already belongs to a kept candidate, in which
case it is **dropped** -- so one transaction is never counted as the attacker of two findings.
Survivors are returned in their original order.

Why this order: a sandwich's backrun is usually also a 2-swap "arbitrage" and its frontrun a
"frontrun"; a JIT liquidity position's mint/burn surrounds a victim swap like a sandwich but with
liquidity actions (more specific than any swap pattern that also matches); a liquidation that
swaps the seized collateral back can close a token loop, but the liquidation is the reason for
the transaction; a backrun is an arbitrage with a known trigger, so it outranks a bare arbitrage
(they cannot both exist for one tx anyway: :mod:`~mevgraph.detection.backrun` relabels);
a frontrun is the least specific swap pattern.

Nesting: a closed token loop (an ``arbitrage`` or ``backrun`` candidate) whose every tx is an
attacker tx of one kept *sandwich* is not dropped but kept **nested** (``nested_in`` = the
sandwich's id). Some sandwich bots route each leg as a loop over two pools -- buy the token on one
venue, dump it into the attacked pool ahead of the victim, then buy it back there and sell it on
the first venue -- so each leg is an atomic cross-pool loop in its own right, and investigators
asking "which txs were arbitrages" expect to see them. Their money is part of the sandwich's, so
totals skip nested findings (:attr:`~mevgraph.detection.base.Finding.counted`). Other overlaps
(a liquidation's collateral swap, a JIT's swaps) are the same action seen twice and are dropped.

Dropping rather than merging keeps each finding's money figures computed over exactly the
transactions of its own motif; the more specific finding already names every attacker tx.

References: SorellaLabs/brontes composition/precedence of inspector results (a tx is claimed by
one MEV type); flashbots/mev-inspect-py de-duplication of sandwich backruns from arbitrages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mevgraph.detection.base import Candidate, Kind

__all__ = ["RANKING", "rank", "resolve"]

RANKING: tuple[Kind, ...] = (
    Kind.SANDWICH,
    Kind.JIT,
    Kind.LIQUIDATION,
    Kind.BACKRUN,
    Kind.ARBITRAGE,
    Kind.FRONTRUN,
)
"""Kinds from highest to lowest precedence."""

_NESTABLE = frozenset({Kind.ARBITRAGE, Kind.BACKRUN})
"""Kinds that may be kept nested inside a sandwich (closed token loops)."""

_RANK = {k: i for i, k in enumerate(RANKING)}


def rank(kind: Kind) -> int:
    """Position of ``kind`` in :data:`RANKING` (0 = highest); unknown kinds rank last."""
    return _RANK.get(kind, len(RANKING))


def resolve(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Drop candidates whose attacker txs overlap a higher-ranked (or earlier equal) candidate's.

    Closed loops lying wholly inside one sandwich are kept nested instead (see the module doc).

    >>> from mevgraph.detection.base import Candidate, Kind
    >>> def c(kind, txs):
    ...     return Candidate(kind, 1, 1, txs, None, None, (), ())
    >>> [x.kind.value for x in resolve([c(Kind.FRONTRUN, ("0xa",)), c(Kind.SANDWICH, ("0xa", "0xb"))])]
    ['sandwich']
    >>> [(x.kind.value, x.nested_in) for x in resolve([c(Kind.ARBITRAGE, ("0xb",)), c(Kind.SANDWICH, ("0xa", "0xb"))])]
    [('arbitrage', '1:sandwich:0xa'), ('sandwich', None)]
    """
    order = sorted(range(len(candidates)), key=lambda i: (rank(candidates[i].kind), i))
    claimed: dict[tuple[int, str], int] = {}
    kept: list[int] = []
    nested: dict[int, str] = {}
    nested_txs: set[tuple[int, str]] = set()
    for i in order:
        c = candidates[i]
        keys = [(c.chain_id, h) for h in c.attacker_txs]
        owners = {claimed[k] for k in keys if k in claimed}
        if not owners:
            claimed.update(dict.fromkeys(keys, i))
            kept.append(i)
            continue
        parent = candidates[owners.pop()] if len(owners) == 1 else None
        if (
            parent is not None
            and parent.kind == Kind.SANDWICH
            and c.kind in _NESTABLE
            and all(k in claimed for k in keys)
            and not any(k in nested_txs for k in keys)
        ):
            nested_txs.update(keys)
            nested[i] = parent.id
            kept.append(i)
    kept.sort()
    out = []
    for i in kept:
        c = candidates[i]
        if i in nested:
            c = replace(c, nested_in=nested[i])
        out.append(c)
    return out
