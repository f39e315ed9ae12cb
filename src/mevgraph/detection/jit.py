"""Just-in-time (JIT) liquidity: add concentrated liquidity right before a swap, remove it right after.

Definition (per chain and block, over every block of the graph at once):

* ``mint``: a successful ``liquidity_add`` on pool ``P`` by position owner ``provider``;
* ``burn``: a later ``liquidity_remove`` on ``P`` by the same provider, with the same tick range
  when both ranges are known, sent by the same EOA or to the same contract as the mint; each mint is
  paired with its nearest later burn, and each burn keeps the latest mint before it;
* ``swaps``: every successful swap on ``P`` in a tx strictly between the two, by another sender
  (``tx_from`` differs from the mint's and the burn's, ``tx_to`` is not the mint's contract); at
  least one is required;
* ``collect``: the provider's nearest ``liquidity_collect`` on ``P`` in the burn's tx or after it
  (V3 pays the withdrawn tokens and the fees out on ``collect``), or ``None``.

Motif (typically three consecutive txs)::

    tx i     provider  --mint [tl, tu]-->  pool P
    tx j>i   trader    --X-->[P]--Y-->     trader       (one or more; fees go to the JIT range)
    tx k>j   provider  --burn [tl, tu]-->  pool P  (+ collect)

Confidence: ``0.9`` when the three txs are consecutive (``k = i + 2``), ``0.75`` otherwise; times
``0.8`` when mint and burn share only the contract (different EOAs), times ``0.9`` when a tick range
is unknown (range equality could not be checked).

Known false positives: a passive LP who happens to reposition (burn) a range minted earlier in the
same block; two users of a shared position manager minting and burning the same range (we require
the same EOA or the same non-shared contract, and equal ranges). Known misses: JIT through a
position manager whose ``provider`` is the manager and whose mint and burn come from different EOAs.

References: Uniswap v3 core (``mint``/``burn``/``collect`` semantics); brontes ``jit`` inspector
(JIT and JIT-sandwich); Wan & Adams, "Just In Time Liquidity on Decentralized Exchanges" (Uniswap
Labs research, 2022).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from mevgraph.detection.base import Candidate, Kind

if TYPE_CHECKING:
    from mevgraph.graph.tables import PropertyGraph

__all__ = ["JitDetector", "DETECTOR"]

_LQ_CTE = """
lq AS (
    SELECT l.action_id, l.chain_id, l.block_number, l.tx_index, l.pool, l.provider, l.change,
           l.tick_lower, l.tick_upper, t.from_ AS tx_from, t.to AS tx_to
    FROM liquidity l
    LEFT JOIN transactions t
      ON t.chain_id = l.chain_id AND t.block_number = l.block_number AND t.tx_index = l.tx_index
)"""

_PAIRS_SQL = f"""
WITH {_LQ_CTE},
pairs AS (
    SELECT m.action_id AS mint_id, b.action_id AS burn_id, m.chain_id, m.block_number, m.pool,
           m.tx_index AS m_idx, b.tx_index AS b_idx, m.tx_from AS m_from, b.tx_from AS b_from,
           m.tx_to AS m_to
    FROM lq m
    JOIN lq b
      ON b.chain_id = m.chain_id AND b.block_number = m.block_number AND b.pool = m.pool
     AND b.provider = m.provider AND b.tx_index > m.tx_index + 1
     AND (m.tick_lower IS NULL OR b.tick_lower IS NULL
          OR (m.tick_lower = b.tick_lower AND m.tick_upper = b.tick_upper))
     AND (b.tx_from = m.tx_from OR b.tx_to = m.tx_to)
    WHERE m.change = 'liquidity_add' AND b.change = 'liquidity_remove'
)
SELECT pr.mint_id, pr.burn_id, v.action_id
FROM pairs pr
JOIN swaps v
  ON v.chain_id = pr.chain_id AND v.block_number = pr.block_number AND v.pool = pr.pool
 AND v.tx_index > pr.m_idx AND v.tx_index < pr.b_idx
WHERE NOT v.attempted AND v.tx_from <> pr.m_from AND v.tx_from <> pr.b_from
  AND (pr.m_to IS NULL OR v.tx_to IS NULL OR v.tx_to <> pr.m_to)
"""


class JitDetector:
    """Mint -> others' swaps -> burn (+collect) by one provider on one pool; see the module doc."""

    kind = Kind.JIT

    def detect(self, graph: PropertyGraph) -> list[Candidate]:
        if graph.tables["swaps"].num_rows == 0 or not _has_mint_and_burn(graph):
            return []
        actions: list[Any] = graph.actions
        swaps_of: dict[tuple[int, int], list[int]] = defaultdict(list)
        for mint_id, burn_id, swap_id in graph.sql(_PAIRS_SQL):
            swaps_of[(mint_id, burn_id)].append(swap_id)
        if not swaps_of:
            return []

        # Nearest burn per mint, then latest mint per burn.
        best_burn: dict[int, int] = {}
        for mint_id, burn_id in swaps_of:
            cur = best_burn.get(mint_id)
            if cur is None or actions[burn_id].position < actions[cur].position:
                best_burn[mint_id] = burn_id
        best_mint: dict[int, int] = {}
        for mint_id, burn_id in best_burn.items():
            cur = best_mint.get(burn_id)
            if cur is None or actions[mint_id].position > actions[cur].position:
                best_mint[burn_id] = mint_id

        collects: dict[tuple[int, int, str, str], list[int]] = defaultdict(list)
        for cid, change in graph.rows("liquidity", "action_id", "change"):
            if change == "liquidity_collect":
                c = actions[cid]
                collects[(c.chain_id, c.block_number, c.pool, c.provider)].append(cid)

        out: list[Candidate] = []
        for burn_id, mint_id in best_mint.items():
            mint, burn = actions[mint_id], actions[burn_id]
            chain = mint.chain_id
            collect_id = min(
                (
                    cid
                    for cid in collects.get((chain, mint.block_number, mint.pool, mint.provider), ())
                    if actions[cid].tx_index >= burn.tx_index
                ),
                key=lambda cid: actions[cid].position,
                default=None,
            )
            swap_ids = sorted(set(swaps_of[(mint_id, burn_id)]), key=lambda i: actions[i].position)
            mm = graph.tx_meta.get((chain, mint.tx_hash))
            bm = graph.tx_meta.get((chain, burn.tx_hash))
            same_eoa = mm is not None and bm is not None and mm.from_ == bm.from_
            confidence = 0.9 if burn.tx_index == mint.tx_index + 2 else 0.75
            if not same_eoa:
                confidence *= 0.8
            if None in (mint.tick_lower, burn.tick_lower):
                confidence *= 0.9
            attacker = [mint.tx_hash, burn.tx_hash]
            if collect_id is not None:
                attacker.append(actions[collect_id].tx_hash)
            attacker_txs = tuple(dict.fromkeys(attacker))
            tos = {m.to for m in (mm, bm) if m is not None}
            contract = next(iter(tos)) if len(tos) == 1 else None
            ids = [mint_id, *swap_ids, burn_id] + ([collect_id] if collect_id is not None else [])
            out.append(
                Candidate(
                    kind=Kind.JIT,
                    chain_id=chain,
                    block_number=mint.block_number,
                    attacker_txs=attacker_txs,
                    searcher=mm.from_ if same_eoa and mm is not None else None,
                    contract=contract if contract != mint.pool else None,
                    pools=(mint.pool,),
                    protocols=(mint.protocol,),
                    frontrun_txs=(mint.tx_hash,),
                    backrun_txs=tuple(h for h in attacker_txs if h != mint.tx_hash),
                    victim_txs=tuple(dict.fromkeys(actions[i].tx_hash for i in swap_ids)),
                    action_ids=tuple(ids),
                    confidence=round(confidence, 4),
                    details={"mint": mint_id, "burn": burn_id, "collect": collect_id, "swaps": swap_ids},
                )
            )
        out.sort(key=lambda c: (c.chain_id, c.block_number, c.attacker_txs))
        return out


def _has_mint_and_burn(graph: PropertyGraph) -> bool:
    """Whether some provider adds liquidity to a pool and removes some at least two txs later in
    the block: the pairs query can only match then (and most blocks have no such pair)."""
    first_add: dict[tuple[Any, ...], int] = {}
    removes: list[tuple[tuple[Any, ...], int]] = []
    cols = ("chain_id", "block_number", "pool", "provider", "change", "tx_index")
    for chain, bn, pool, provider, change, tx_index in graph.rows("liquidity", *cols):
        key = (chain, bn, pool, provider)
        if change == "liquidity_add":
            if tx_index < first_add.get(key, tx_index + 1):
                first_add[key] = tx_index
        elif change == "liquidity_remove":
            removes.append((key, tx_index))
    return any(key in first_add and tx_index > first_add[key] + 1 for key, tx_index in removes)


DETECTOR = JitDetector()
