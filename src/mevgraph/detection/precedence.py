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

Dropping rather than merging keeps each finding's money figures computed over exactly the
transactions of its own motif; the more specific finding already names every attacker tx.

References: SorellaLabs/brontes composition/precedence of inspector results (a tx is claimed by
one MEV type); flashbots/mev-inspect-py de-duplication of sandwich backruns from arbitrages.
"""

from __future__ import annotations

from collections.abc import Sequence

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

_RANK = {k: i for i, k in enumerate(RANKING)}


def rank(kind: Kind) -> int:
    """Position of ``kind`` in :data:`RANKING` (0 = highest); unknown kinds rank last."""
    return _RANK.get(kind, len(RANKING))


def resolve(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Drop candidates whose attacker txs overlap a higher-ranked (or earlier equal) candidate's.

    >>> from mevgraph.detection.base import Candidate, Kind
    >>> def c(kind, txs):
    ...     return Candidate(kind, 1, 1, txs, None, None, (), ())
    >>> [x.kind.value for x in resolve([c(Kind.ARBITRAGE, ("0xb",)), c(Kind.SANDWICH, ("0xa", "0xb"))])]
    ['sandwich']
    """
    order = sorted(range(len(candidates)), key=lambda i: (rank(candidates[i].kind), i))
    claimed: set[tuple[int, str]] = set()
    kept: list[int] = []
    for i in order:
        c = candidates[i]
        keys = [(c.chain_id, h) for h in c.attacker_txs]
        if any(k in claimed for k in keys):
            continue
        claimed.update(keys)
        kept.append(i)
    kept.sort()
    return [candidates[i] for i in kept]
