"""Backrun linking: which earlier transaction of another sender enabled an arbitrage or liquidation.

Rule (exact)
------------
Within one block, for an attacker tx ``A`` at index ``a`` with searcher ``S`` and contract ``C``,
a tx ``T`` at index ``t < a`` *belongs to the searcher* when its sender is ``S`` or its ``to`` is
``C``; otherwise it is *another sender's*. ``a - t - 1`` is the gap (txs in between).

- **Arbitrage.** For each loop swap ``s`` of ``A`` on pool ``P``, let ``T_P`` be the *last* tx
  before ``A`` in the block with a successful swap on ``P`` (the tx whose price ``A`` trades
  against). ``T_P`` is a trigger when it is another sender's, one of its swaps on ``P`` goes in
  the **opposite direction** (``token_in == s.token_out and token_out == s.token_in``: it pushed
  the price the way the arbitrage reverts), and the gap is at most :data:`MAX_GAP`. The trigger
  is the nearest such ``T_P`` over all pools. Intervening txs therefore never touch ``P`` (else
  they would be ``T_P``); they may touch other pools.
- **Liquidation.** The nearest tx of another sender before ``A`` with gap at most
  :data:`MAX_GAP` that is an oracle price update (transaction selector in
  :data:`ORACLE_SELECTORS`: Chainlink OCR ``transmit``, FluxAggregator ``submit``, the
  ``forward`` of Chainlink's authorized forwarder, Compound's ``postPrices``) or that swapped the
  collateral token away (``token_in == collateral_token``) or bought the debt token
  (``token_out == debt_token``) -- both move the collateral/debt price ratio against the
  borrower.

Why ``MAX_GAP = 2``: a backrun bundle places the backrun directly after its trigger (gap 0), but
builders interleave other bundles and transactions that do not touch the same state; two
intervening transactions cover those placements seen in practice while keeping a trigger from
half a block earlier (which any searcher could have exploited) from being attributed. Confidence
is 1.0 for gap 0 and 0.8 otherwise.

Output: an arbitrage candidate with a trigger becomes kind ``BACKRUN`` with
``details["trigger_tx"]`` and ``details["underlying"] = "arbitrage"``; ``backrun_txs`` is the
attacker tx. A liquidation **keeps kind** ``LIQUIDATION`` and only gains ``details["trigger_tx"]``
and ``details["trigger"]`` (``"oracle_update"`` or ``"swap"``): liquidations are scored and
reported by kind, and a liquidation is a liquidation whatever enabled it. Other candidates pass
through unchanged.

Motif::

    block:  ... T (other sender) ──swap X->Y on P──> ... A (searcher) ──swap Y->X on P──> ...
                 └──────────────── gap <= MAX_GAP, no tx in between touches P ────────┘

    SQL (one query for all candidates of all blocks): the candidates' legs, registered as an Arrow
    table, JOIN swaps ON (block, pool, a - 1 - MAX_GAP <= tx_index < a), then the last toucher per
    (candidate, pool) in Python; liquidations JOIN transactions ON (block, a - 1 - MAX_GAP <=
    tx_index < a) LEFT JOIN swaps.

Checked on the shared mainnet blocks: five arbitrages get a trigger, all at gap 0 -- e.g.
0xf2c707e6... (block 13666363) buys CRV back on pool 0x58dc5a51... right after 0x8d5179f0... sold
CRV there; three liquidations follow a Chainlink ``transmit`` directly, e.g. 0xb7575eed... (block
13244807) after 0xae9ce51d....

Known false positives: a trigger that is itself a searcher's frontrun (sandwich) makes the
arbitrage look like a backrun of it; two searchers competing for the same opportunity with the
loser placed first makes the loser's tx look like a trigger when it swapped opposite.

References: SorellaLabs/brontes atomic-arb trigger attribution (earlier opposite swap on the same
pool); Flashbots bundle semantics (backruns placed right after the target); Qin et al. 2022.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pyarrow as pa

from mevgraph.core.actions import Swap
from mevgraph.detection.base import Candidate, Kind
from mevgraph.graph.tables import PropertyGraph

__all__ = ["MAX_GAP", "ORACLE_SELECTORS", "link"]

MAX_GAP = 2
"""Most transactions allowed between a trigger and its backrun."""

ORACLE_SELECTORS: frozenset[str] = frozenset(
    {
        "0xc9807539",  # transmit(bytes,bytes32[],bytes32[],bytes32) -- Chainlink OCR aggregator
        "0xb1dc65a4",  # transmit(bytes32[3],bytes,bytes32[],bytes32[],bytes32) -- Chainlink OCR2
        "0x202ee0ed",  # submit(uint256,int256) -- Chainlink FluxAggregator
        "0x6fadcf72",  # forward(address,bytes) -- Chainlink authorized forwarder
        "0xecc1e984",  # postPrices(bytes[],bytes[],string[]) -- Compound UniswapAnchoredView
        "0x99213cd8",  # setAnswer(int256) -- settable/mock aggregators (the testbed's PriceFeed)
    }
)

_ORACLE_LIST = ", ".join(f"'{x}'" for x in sorted(ORACLE_SELECTORS))

# One query for every candidate of the graph. ``legs`` has one row per arbitrage loop swap
# (kind 'a': pool, token_in, token_out) and one per liquidation (kind 'l': token_in = collateral
# token, token_out = debt token). Output rows: (kind, cand, pool, tx_index, from, to, flag, moved,
# a_index) -- for arbitrages every swap on the leg's pool in the MAX_GAP + 1 txs before (flag = it
# swapped opposite; the last toucher is picked in Python: when it lies farther back, no row of the
# pool is in the window and the pool gives no trigger either way), for liquidations every tx
# within MAX_GAP before, once per swap it made (flag = oracle update, moved = that swap sold the
# collateral or bought the debt). No GROUP BY or window: on these few rows each would cost DuckDB
# more than 1 ms. Only the half that has legs is run (a query has a fixed cost of a few ms).
_ARB_SQL = """
SELECT 'a', l.cand, l.pool, s.tx_index, s.tx_from, s.tx_to,
       s.token_in = l.token_out AND s.token_out = l.token_in, false, l.tx_index
FROM {legs} l
JOIN swaps s
  ON s.block_number = l.block_number AND s.pool = l.pool AND s.chain_id = l.chain_id
 AND s.tx_index BETWEEN l.tx_index - 1 - {gap} AND l.tx_index - 1 AND NOT s.attempted
WHERE l.kind = 'a'
"""

_LIQ_SQL = """
SELECT 'l', l.cand, NULL, t.tx_index, t.from_, t.to, t.selector IN ({oracles}),
       s.token_in = l.token_in OR s.token_out = l.token_out, l.tx_index
FROM {legs} l
JOIN transactions t
  ON t.block_number = l.block_number AND t.chain_id = l.chain_id
 AND t.tx_index BETWEEN l.tx_index - 1 - {gap} AND l.tx_index - 1
LEFT JOIN swaps s ON s.tx_hash = t.tx_hash AND NOT s.attempted
WHERE l.kind = 'l'
"""

_LEG_TYPES = {"cand": pa.int64(), "chain_id": pa.int64(), "block_number": pa.int64(), "tx_index": pa.int64()}


def _tx_index(graph: PropertyGraph, chain_id: int, tx_hash: str) -> int | None:
    m = graph.tx_meta.get((chain_id, tx_hash))
    return m.index if m is not None else None


def _not_searcher(c: Candidate, from_: str | None, to: str | None) -> bool:
    return from_ != c.searcher and (c.contract is None or to != c.contract)


def _legs(graph: PropertyGraph, cands: list[Candidate]) -> dict[str, list[object]]:
    legs: dict[str, list[object]] = {
        k: []
        for k in ("kind", "cand", "chain_id", "block_number", "tx_index", "pool", "token_in", "token_out")
    }

    def add(
        kind: str, ci: int, c: Candidate, a_index: int, pool: str | None, t_in: object, t_out: object
    ) -> None:
        for k, v in (
            ("kind", kind),
            ("cand", ci),
            ("chain_id", c.chain_id),
            ("block_number", c.block_number),
            ("tx_index", a_index),
            ("pool", pool),
            ("token_in", t_in),
            ("token_out", t_out),
        ):
            legs[k].append(v)

    actions = graph.actions
    for ci, c in enumerate(cands):
        if not c.attacker_txs or c.kind not in (Kind.ARBITRAGE, Kind.LIQUIDATION):
            continue
        a_index = _tx_index(graph, c.chain_id, c.attacker_txs[0])
        if a_index is None:
            continue
        if c.kind == Kind.LIQUIDATION:
            add("l", ci, c, a_index, None, c.details.get("collateral_token"), c.details.get("debt_token"))
            continue
        for aid in c.details.get("swaps", c.action_ids):
            s = actions[aid]
            if isinstance(s, Swap):
                add("a", ci, c, a_index, s.pool, s.token_in, s.token_out)
    return legs


def _triggers(graph: PropertyGraph, cands: list[Candidate]) -> dict[int, tuple[int, str]]:
    """Candidate position -> (trigger tx index, "arbitrage" | "oracle_update" | "swap")."""
    legs = _legs(graph, cands)
    if not legs["cand"]:
        return {}
    tbl = pa.table({k: pa.array(v, type=_LEG_TYPES.get(k, pa.string())) for k, v in legs.items()})
    kinds = set(legs["kind"])
    query = "\nUNION ALL\n".join(q for k, q in (("a", _ARB_SQL), ("l", _LIQ_SQL)) if k in kinds)
    rows = graph.sql(
        query.format(legs="backrun_legs", gap=MAX_GAP, oracles=_ORACLE_LIST), temp={"backrun_legs": tbl}
    )
    # (kind, cand, pool or tx index) -> [tx index, from, to, flag, moved, a_index]: the last
    # toucher of each arbitrage pool, each tx near a liquidation; flags OR-ed over its swaps.
    seen: dict[tuple[str, int, object], list[Any]] = {}
    for kind, ci, pool, t_index, from_, to, flag, moved, a_index in rows:
        key = (kind, ci, pool if kind == "a" else t_index)
        cur = seen.get(key)
        if cur is None or t_index > cur[0]:
            seen[key] = [t_index, from_, to, bool(flag), bool(moved), a_index]
        elif t_index == cur[0]:
            cur[3] = cur[3] or bool(flag)
            cur[4] = cur[4] or bool(moved)
    best: dict[int, tuple[int, str]] = {}
    for (kind, ci, _), (t_index, from_, to, flag, moved, a_index) in seen.items():
        if a_index - t_index - 1 > MAX_GAP or not _not_searcher(cands[ci], from_, to):
            continue
        if kind == "a":
            why = "arbitrage" if flag else None
        else:
            why = "oracle_update" if flag else ("swap" if moved else None)
        if why is not None and t_index > best.get(ci, (-1, ""))[0]:
            best[ci] = (t_index, why)
    return best


def _hash_at(graph: PropertyGraph, chain_id: int, block_number: int, index: int) -> str | None:
    d = graph.block(chain_id, block_number)
    if d is None:
        return None
    for m in d.txs:
        if m.index == index:
            return m.hash
    return None


def link(graph: PropertyGraph, candidates: Sequence[Candidate]) -> list[Candidate]:
    """Relabel arbitrages with a trigger as backruns; annotate liquidations with their trigger."""
    cands = list(candidates)
    for ci, (t_index, why) in _triggers(graph, cands).items():
        c = cands[ci]
        trigger = _hash_at(graph, c.chain_id, c.block_number, t_index)
        a_index = _tx_index(graph, c.chain_id, c.attacker_txs[0])
        if trigger is None or a_index is None:
            continue
        if why == "arbitrage":
            cands[ci] = replace(
                c,
                kind=Kind.BACKRUN,
                backrun_txs=c.attacker_txs,
                confidence=c.confidence * (1.0 if a_index - t_index == 1 else 0.8),
                details={**c.details, "trigger_tx": trigger, "underlying": "arbitrage"},
            )
        else:
            cands[ci] = replace(c, details={**c.details, "trigger_tx": trigger, "trigger": why})
    return cands
