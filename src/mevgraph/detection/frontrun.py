"""Frontruns that are not sandwiches: a bot trades just before a larger trade in the same direction,
and displacement: a copy of someone else's call placed before it.

**Insertion frontrun** (all conditions, per chain and block, over every block at once):

1. ``f`` is a successful swap on pool ``P``, ``X -> Y``, in a *bot-like* tx: sent to a contract
   that is neither a known router (:func:`mevgraph.decode.labels.is_router`) nor a pool nor a
   contract 3+ EOAs trade through in the block (see
   :data:`mevgraph.detection.sandwich.SWAP_ROLES_CTE`), or sent by an EOA straight to the pool.
2. ``v`` is the first swap on ``P`` in a later tx, that tx is one of the two right after ``f``'s
   (gas-price auctions and bundles place a frontrun directly before its target; farther away it
   is just an earlier trade), ``v`` is by another sender (``tx_from`` differs, ``tx_to`` is not
   the bot contract), in the same direction, with a strictly larger ``amount_in`` of ``X``
   (exact integers).
3. ``f``'s tx keeps ``Y``: its swaps do not net ``Y`` back out to zero (a closed cycle is an
   arbitrage leg, not a position).
4. The attacker (same EOA or same bot contract) does **not** sell ``Y -> X`` on ``P`` later in the
   same block (that is a sandwich). A sale in one of the two next blocks, when they are in the
   graph, is recorded as ``unwound_in_block``; none at all is accepted too (we cannot see further).
5. When both fees are known, ``f``'s tx paid strictly more per gas than ``v``'s; the fee per gas
   is ``(gas_used * effective_gas_price + coinbase payments) / gas_used``, so Flashbots bundles that
   pay the miner directly are judged by what they really paid.

Confidence: ``0.4``, ``+0.2`` when the unwind is seen in a next block, ``+0.2`` when the fee
comparison was possible (and passed), ``+0.1`` when ``v``'s tx directly follows ``f``'s.

On the reference blocks every candidate of steps 1-2 is dropped: sandwiches (step 4), a back of a
sandwich and a cheaper tx (step 5), and a 5-hop arbitrage paying 144.01 vs 144 gwei just before a
1inch trade (0x5ab21bfba5... in block 11931272, step 3: it ends with no DAI, it is an arbitrage).

**Displacement**: tx ``d`` of one sender precedes tx ``w`` of another sender in the same block with
the same ``to`` and the same calldata (``transactions.input_hash``), ``d`` traded (has a swap) and
``w`` either reverted or traded too, and ``d`` paid strictly more per gas when fees are known.
The condition on swaps keeps out the many identical ``approve``/``claim`` calls of unrelated users.
Confidence ``0.5``, ``+0.2`` when ``w`` reverted, ``+0.1`` when the fee comparison was possible.

Motif::

    tx i     bot     --X-->[P]--Y-->  bot      (fee per gas higher than the victim's)
    tx j>i   victim  --X-->[P]--Y-->  victim   (first trade on P after i, larger amount_in)
    (no bot Y->X on P in this block; maybe in block+1 / block+2)

    displacement:  tx i  sender A  to=C  calldata=D   (traded)
                   tx j  sender B  to=C  calldata=D   (reverted or got less)

Known false positives: two unrelated traders following the same signal (a price move on a CEX)
in the same direction, the smaller one paying more gas by chance -- the reason confidence stays
low without an observed unwind; copies of calls whose calldata carries no sender-specific field.
Frontruns are rare once sandwiches are taken out: precision matters more than recall here.

References: Qin, Zhou, Gervais, "Quantifying Blockchain Extractable Value" (2022) -- insertion
versus displacement frontrunning; Eskandari et al., "SoK: Transparent Dishonesty" (2019) --
displacement, insertion and suppression; Zeromev's frontrun labels; brontes' sandwich and
"JIT" inspectors for the surrounding taxonomy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mevgraph.detection.base import Candidate, Kind
from mevgraph.detection.sandwich import SWAP_ROLES_CTE

if TYPE_CHECKING:
    from mevgraph.decode.decoder import TxMeta
    from mevgraph.graph.tables import PropertyGraph

__all__ = ["FrontrunDetector", "DETECTOR"]

_INSERTION_SQL = f"""
WITH {SWAP_ROLES_CTE},
f AS (SELECT * FROM s WHERE bot IS NOT NULL OR to_pool),
cand AS (
    SELECT f.action_id AS f_id, v.action_id AS v_id, f.chain_id, f.block_number, f.tx_index,
           f.pool, f.token_in, f.token_out, f.tx_from, f.bot
    FROM f
    JOIN s v
      ON v.chain_id = f.chain_id AND v.block_number = f.block_number AND v.pool = f.pool
     AND v.token_in = f.token_in AND v.token_out = f.token_out
     AND v.tx_index > f.tx_index AND v.tx_index <= f.tx_index + 2
     AND v.amount_in_f >= f.amount_in_f
    LEFT JOIN s u
      ON u.chain_id = f.chain_id AND u.block_number = f.block_number AND u.pool = f.pool
     AND u.tx_index = f.tx_index + 1
    WHERE v.tx_from <> f.tx_from
      AND (f.bot IS NULL OR v.tx_to IS NULL OR v.tx_to <> f.bot)
      AND (v.tx_index = f.tx_index + 1 OR u.action_id IS NULL)
)
SELECT c.f_id, c.v_id, r.block_number
FROM cand c
LEFT JOIN s r
  ON r.chain_id = c.chain_id AND r.pool = c.pool
 AND r.token_in = c.token_out AND r.token_out = c.token_in
 AND r.block_number >= c.block_number AND r.block_number <= c.block_number + 2
 AND (r.block_number > c.block_number OR r.tx_index > c.tx_index)
 AND (r.tx_from = c.tx_from OR r.bot = c.bot)
"""
"""Bot-like swap ``f``, the next swap ``v`` on the pool when it is in one of the two next txs and in
the same direction (``u`` rules out a swap of the tx in between), and every later sale ``Y -> X``
on the pool by the same attacker in this block or the two next (NULL when none)."""

_DISPLACEMENT_SQL = """
WITH traded AS (SELECT DISTINCT chain_id, tx_hash FROM swaps WHERE NOT attempted)
SELECT d.chain_id, d.block_number, d.tx_hash, w.tx_hash, w.success,
       CASE WHEN tw.tx_hash IS NULL THEN FALSE ELSE TRUE END AS w_traded
FROM transactions d
JOIN transactions w
  ON w.chain_id = d.chain_id AND w.block_number = d.block_number AND w.tx_index > d.tx_index
 AND w.to = d.to AND w.input_hash = d.input_hash AND w.from_ <> d.from_
JOIN traded td ON td.chain_id = d.chain_id AND td.tx_hash = d.tx_hash
LEFT JOIN traded tw ON tw.chain_id = w.chain_id AND tw.tx_hash = w.tx_hash
WHERE d.success AND d.input_hash IS NOT NULL
"""


class FrontrunDetector:
    """Insertion frontruns (not unwound in the block) and displacement; see the module doc."""

    kind = Kind.FRONTRUN

    def detect(self, graph: PropertyGraph) -> list[Candidate]:
        if not graph.tx_meta:
            return []
        bribes: dict[tuple[int, str], int] = defaultdict(int)
        for chain, h, amount in graph.rows("coinbase_payments", "chain_id", "tx_hash", "amount"):
            bribes[(chain, h)] += int(amount)
        tx_swaps: dict[tuple[int, str], list[int]] = defaultdict(list)  # successful swaps, in order
        for chain, h, aid, attempted in graph.rows("swaps", "chain_id", "tx_hash", "action_id", "attempted"):
            if not attempted:
                tx_swaps[(chain, h)].append(aid)
        if not tx_swaps:
            return []
        out = self._insertions(graph, bribes, tx_swaps) + self._displacements(graph, bribes, tx_swaps)
        out.sort(key=lambda c: (c.chain_id, c.block_number, c.attacker_txs, c.victim_txs))
        return out

    def _insertions(
        self,
        graph: PropertyGraph,
        bribes: dict[tuple[int, str], int],
        tx_swaps: dict[tuple[int, str], list[int]],
    ) -> list[Candidate]:
        actions: list[Any] = graph.actions
        unwinds: dict[tuple[int, int], set[int]] = defaultdict(set)
        for f_id, v_id, unwind_block in graph.sql(_INSERTION_SQL):
            u = unwinds[(f_id, v_id)]
            if unwind_block is not None:
                u.add(unwind_block)
        by_pair: dict[tuple[str, str], tuple[int, list[int], int | None]] = {}
        for (f_id, v_id), blocks in unwinds.items():
            f, v = actions[f_id], actions[v_id]
            if v.amount_in <= f.amount_in or f.block_number in blocks:
                continue  # not larger, or unwound in this block: a sandwich, not a frontrun
            key = (f.tx_hash, v.tx_hash)
            unwound = min(blocks, default=None)
            fid0, vids, _ = by_pair.get(key, (f_id, [], unwound))
            vids.append(v_id)
            by_pair[key] = (min(fid0, f_id), vids, unwound)

        # step 5 compares fees: gas of every pair's two txs, fetched at once if it is deferred
        graph.ensure_gas(
            (actions[f_id].chain_id, h) for (pair, (f_id, _, _)) in by_pair.items() for h in pair
        )
        out: list[Candidate] = []
        for (f_hash, v_hash), (f_id, v_ids, unwound) in by_pair.items():
            f = actions[f_id]
            chain = f.chain_id
            if _tx_net(actions, tx_swaps.get((chain, f_hash), ()), f.token_out) <= 0:
                continue
            fm = graph.tx_meta.get((chain, f_hash))
            vm = graph.tx_meta.get((chain, v_hash))
            fee_cmp = _fee_cmp(chain, fm, vm, bribes)
            if fee_cmp is False:
                continue
            confidence = 0.4
            if unwound is not None:
                confidence += 0.2
            if fee_cmp is True:
                confidence += 0.2
            if actions[v_ids[0]].tx_index == f.tx_index + 1:
                confidence += 0.1
            contract = fm.to if fm is not None and fm.to is not None and fm.to != f.pool else None
            out.append(
                Candidate(
                    kind=Kind.FRONTRUN,
                    chain_id=chain,
                    block_number=f.block_number,
                    attacker_txs=(f_hash,),
                    searcher=fm.from_ if fm is not None else None,
                    contract=contract,
                    pools=(f.pool,),
                    protocols=(f.protocol,),
                    frontrun_txs=(f_hash,),
                    victim_txs=(v_hash,),
                    action_ids=(f_id, *sorted(v_ids)),
                    confidence=round(confidence, 4),
                    details={
                        "victim_swaps": sorted(v_ids),
                        "front_swaps": [f_id],
                        "unwound_in_block": unwound,
                        "displacement": False,
                    },
                )
            )
        return out

    def _displacements(
        self,
        graph: PropertyGraph,
        bribes: dict[tuple[int, str], int],
        tx_swaps: dict[tuple[int, str], list[int]],
    ) -> list[Candidate]:
        if not _copied_calls(graph, tx_swaps):
            return []
        actions: list[Any] = graph.actions
        out: list[Candidate] = []
        rows = graph.sql(_DISPLACEMENT_SQL)
        graph.ensure_gas((r[0], h) for r in rows for h in (r[2], r[3]))
        for chain, bn, d_hash, w_hash, w_success, w_traded in rows:
            if w_success and not w_traded:
                continue
            dm = graph.tx_meta.get((chain, d_hash))
            wm = graph.tx_meta.get((chain, w_hash))
            fee_cmp = _fee_cmp(chain, dm, wm, bribes)
            if fee_cmp is False:
                continue
            confidence = 0.5 + (0.2 if w_success is False else 0.0) + (0.1 if fee_cmp else 0.0)
            d_swaps = tx_swaps.get((chain, d_hash), [])
            w_swaps = tx_swaps.get((chain, w_hash), [])
            pools = tuple(dict.fromkeys(actions[i].pool for i in d_swaps))
            out.append(
                Candidate(
                    kind=Kind.FRONTRUN,
                    chain_id=chain,
                    block_number=bn,
                    attacker_txs=(d_hash,),
                    searcher=dm.from_ if dm is not None else None,
                    contract=None,
                    pools=pools,
                    protocols=tuple(sorted({actions[i].protocol for i in d_swaps})),
                    frontrun_txs=(d_hash,),
                    victim_txs=(w_hash,),
                    action_ids=(*d_swaps, *w_swaps),
                    confidence=round(confidence, 4),
                    details={
                        "victim_swaps": list(w_swaps),
                        "front_swaps": list(d_swaps),
                        "unwound_in_block": None,
                        "displacement": True,
                    },
                )
            )
        return out


def _copied_calls(graph: PropertyGraph, tx_swaps: dict[tuple[int, str], list[int]]) -> bool:
    """Whether some successful tx that traded shares its ``to`` and calldata with a tx of another
    sender in its block: the displacement query can only match then (mostly it cannot -- trades
    carry amounts and deadlines -- and this check costs far less than the query)."""
    meta = graph.tx_meta
    calls = set()
    for key in tx_swaps:
        m = meta.get(key)
        if m is not None and m.success and m.input_hash is not None and m.to is not None:
            calls.add(m.input_hash)
    if not calls:
        return False
    senders: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for d in graph.decoded:
        chain, bn = d.block.chain_id, d.block.number
        for m in d.txs:
            if m.input_hash in calls and m.to is not None and m.from_ is not None:
                s = senders[(chain, bn, m.to, m.input_hash)]
                s.add(m.from_)
                if len(s) > 1:
                    return True
    return False


def _tx_net(actions: list[Any], swap_ids: Sequence[int], token: str) -> int:
    """Net amount of ``token`` the tx's swaps received (out minus in)."""
    net = 0
    for i in swap_ids:
        a = actions[i]
        if a.token_out == token:
            net += a.amount_out
        if a.token_in == token:
            net -= a.amount_in
    return net


def _fee_cmp(
    chain: int, a: TxMeta | None, b: TxMeta | None, bribes: dict[tuple[int, str], int]
) -> bool | None:
    """True when ``a`` paid strictly more per gas than ``b``, False when not, None when unknown."""
    if a is None or b is None or not a.gas_used or not b.gas_used:
        return None
    if a.gas_cost_wei is None or b.gas_cost_wei is None:
        return None
    pa = a.gas_cost_wei + bribes.get((chain, a.hash), 0)
    pb = b.gas_cost_wei + bribes.get((chain, b.hash), 0)
    return pa * b.gas_used > pb * a.gas_used


DETECTOR = FrontrunDetector()
