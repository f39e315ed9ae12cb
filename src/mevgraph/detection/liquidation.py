"""Liquidations: successful lending-market liquidations, one candidate per transaction.

Definition
----------
A row of the graph's ``liquidations`` table with ``attempted = false``: a ``liquidationCall``
(Aave V1/V2/V3) or ``liquidateBorrow`` (Compound V2 and its forks such as CREAM, including the
ETH-debt ``cEther`` market) that did not revert, decoded by :mod:`mevgraph.decode.protocols`.
Rows with ``attempted = true`` come from transactions that reverted as a whole and are excluded
(the peer's test-suite asserts that the reverted Compound liquidation 0x6dd0d8be... of block
15049646 is *not* reported; complaint #6 about peers).

Motif::

    (EOA)-[SENT]->(Tx)-[LIQUIDATED {debt, collateral}]->(borrower)
                   └──[CALLED]->(liquidator contract | lending pool)

    liquidations WHERE NOT attempted (a plain scan of the Arrow table, not worth a SQL query;
    sender/recipient from the graph's transaction facts)

Candidate
---------
``searcher`` = transaction sender; ``contract`` = transaction ``to`` unless it is a router/venue
(:func:`mevgraph.decode.labels.is_router`) or the lending market itself (a liquidator calling the
pool directly has no contract). ``details`` carry ``liquidator``, ``borrower``, ``debt_token``,
``debt_amount``, ``collateral_token``, ``collateral_amount`` and ``protocol`` of the first
liquidation of the transaction; a transaction liquidating several positions also lists all of them
in ``details["liquidations"]`` (one transaction = one attacker tx = one candidate).
``action_ids`` are the liquidation actions; the money module adds the transfers.

Known false positives: none from the motif itself -- a liquidation is an explicit protocol event.
Self-liquidations (borrower == liquidator's owner) are still liquidations and are reported.

References: Qin, Zhou, Livshits, Gervais, "An Empirical Study of DeFi Liquidations" (IMC 2021);
flashbots/mev-inspect-py ``aave_liquidations.py`` / ``compound_liquidations.py``; brontes
liquidation inspector (Aave V2/V3, Compound V2).
"""

from __future__ import annotations

from typing import Any

from mevgraph.core.actions import Liquidation
from mevgraph.decode.labels import is_router
from mevgraph.detection.base import Candidate, Kind
from mevgraph.graph.tables import PropertyGraph

__all__ = ["DETECTOR", "LiquidationDetector", "liquidation_fields"]


def liquidation_fields(a: Liquidation) -> dict[str, Any]:
    """The JSON-facing fields of one liquidation (raw integer amounts)."""
    return {
        "liquidator": a.liquidator,
        "borrower": a.borrower,
        "debt_token": a.debt_token,
        "debt_amount": a.debt_amount,
        "collateral_token": a.collateral_token,
        "collateral_amount": a.collateral_amount,
        "protocol": a.protocol,
    }


class LiquidationDetector:
    """Successful liquidations (see the module docstring)."""

    kind = Kind.LIQUIDATION

    def detect(self, graph: PropertyGraph) -> list[Candidate]:
        by_tx: dict[tuple[int, str], list[tuple[Any, ...]]] = {}
        cols = ("action_id", "chain_id", "block_number", "tx_hash", "attempted")
        for row in graph.rows("liquidations", *cols):
            if not row[4]:
                by_tx.setdefault((row[1], row[3]), []).append(row)
        actions = graph.actions
        out: list[Candidate] = []
        for (chain_id, tx_hash), rows in by_tx.items():
            ids = sorted((r[0] for r in rows), key=lambda i: actions[i].position)
            liqs: list[Liquidation] = [actions[i] for i in ids]  # type: ignore[misc]
            block_number = rows[0][2]
            meta = graph.tx_meta.get((chain_id, tx_hash))
            tx_from = meta.from_ if meta is not None else None
            tx_to = meta.to if meta is not None else None
            markets = {a.pool for a in liqs}
            contract = None if tx_to is None or is_router(chain_id, tx_to) or tx_to in markets else tx_to
            details = liquidation_fields(liqs[0])
            if len(liqs) > 1:
                details["liquidations"] = [liquidation_fields(a) for a in liqs]
            out.append(
                Candidate(
                    kind=Kind.LIQUIDATION,
                    chain_id=chain_id,
                    block_number=block_number,
                    attacker_txs=(tx_hash,),
                    searcher=tx_from,
                    contract=contract,
                    pools=tuple(dict.fromkeys(a.pool for a in liqs)),
                    protocols=tuple(sorted({a.protocol for a in liqs})),
                    action_ids=tuple(ids),
                    details=details,
                )
            )
        return out


DETECTOR = LiquidationDetector()
