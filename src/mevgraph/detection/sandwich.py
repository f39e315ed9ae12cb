"""Sandwich attacks: buy before a victim's trade on the same pool, sell right after it.

Definition (checked per chain and block, over every block of the graph at once):

* An **attacker** is one EOA (the txs' ``tx_from``) or one *bot contract* (the txs' ``tx_to``, when
  that address is neither a known router/venue -- :func:`mevgraph.decode.labels.is_router` -- nor a
  pool of the graph, nor a contract 3+ EOAs trade through in that block, i.e. an unlisted
  aggregator). Two txs belong to the same attacker when they share the EOA or the contract.
* A **front/back pair** is two successful swaps of one attacker on the same pool, the back one in a
  later tx and in the opposite direction (front ``X -> Y``, back ``Y -> X``).
* Per (attacker, pool, direction) the attacker's swaps, in execution order, are cut into runs
  ``F+ B+`` (fronts, then backs): several fronts before the first back are a multi-frontrun
  ("Big Mac"), several backs a split unwind. A front after a back starts a new run.
* The **victims** of a run are the swaps on the same pool, in the front's direction, by other
  senders (``tx_from`` not an attacker EOA, ``tx_to`` not the bot contract), strictly after the
  first front tx and strictly before the first back tx. There is no cap on their number.
* Runs of the same attacker that share a tx (a front tx that trades through two pools, the victim's
  route crossing both -- 0x8d701e95b5... / 0x24220dd35e... / 0xf3fc11e26c... in block 12914944) or
  a victim tx are **one** sandwich listing every pool, provided every front precedes every back.
* **Position check**: over all their swaps, the front txs must end up holding a token they bought
  on the sandwiched pools, or lose on the whole (a loop that pays to push the price, as the front
  of block 13404932); a bot whose txs are *profitable* closed loops crossing the pool in both
  directions around a user trade is arbitraging, not sandwiching.
* **Unwind check**: over the attacker's front swaps on the sandwich's pools, the tokens with a
  positive net inflow are "bought"; for each, the back swaps must sell (net) between 50 % and
  110 % of it. Qin et al. require 90-110 %; we accept down to 50 % because fee-on-transfer tokens
  tax both legs (a 10 % tax leaves the bot 81 % to sell) and bots unwind partially, and such cases
  get a lower confidence. More than 110 % means the bot sells inventory it held before: that is
  not an unwind of this front. Intermediate tokens of multi-pool routes cancel out in the net
  (the WETH->USDC->X front of block 12914944 "bought" only X). Measured on the six sandwiches of
  the reference blocks: four sell exactly 100 %, two (11935012, 13666363) 99.2 % and 99.0 % --
  their backs buy back exactly the frontrun's input and keep the rest.

Motif (one pool; several pools when they share attacker txs)::

    tx i      attacker  --X-->[pool P]--Y-->  attacker        frontrun(s)
    tx j>i    victim    --X-->[pool P]--Y-->  victim          victims (any number, any senders)
    tx k>j    attacker  --Y-->[pool P]--X-->  attacker        backrun(s)

Confidence: ``1.0`` times ``0.95`` when only the contract or only the EOA links the txs (EOA
calling pools directly), ``0.6`` when only the EOA links txs sent to a router (a user trading twice
in a block looks like this), times ``0.8`` when the unwind ratio is outside 90-110 %.

Known false positives: a user who buys and later sells through a router in one block with other
buyers in between (low confidence, see above); market makers quoting both sides of a pool; two
independent searchers sharing a contract (rare: bot contracts are owner-gated). Known misses:
sandwiches whose front and back use different pools of the same pair (brontes' "token-flow"
sandwiches); attackers whose front and back share neither EOA nor contract; a bot contract that 3+
of its EOAs use to trade in one block *and* whose front and back come from different EOAs (the
contract then looks like an unlisted aggregator, see :data:`SWAP_ROLES_CTE`).

References: Qin, Zhou, Gervais, "Quantifying Blockchain Extractable Value: How dark is the
forest?" (IEEE S&P 2022), sect. on sandwich attacks; flashbots/mev-inspect-py ``sandwiches.py``
(same pool, multi-victim); SorellaLabs/brontes sandwich inspector (multi-frontrun, no victim
cap here unlike its 30-victim limit); Zeromev frontrun/victim/backrun labels.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mevgraph.core.actions import Swap
from mevgraph.decode.labels import is_router
from mevgraph.detection.base import Candidate, Kind

if TYPE_CHECKING:
    from mevgraph.graph.tables import PropertyGraph

__all__ = ["SWAP_ROLES_CTE", "SandwichDetector", "DETECTOR", "MIN_UNWIND", "MAX_UNWIND"]

MIN_UNWIND = (1, 2)
"""Lowest accepted ratio sold/bought of the unwind (fee-on-transfer taxes, partial unwinds)."""
MAX_UNWIND = (11, 10)
"""Highest accepted ratio sold/bought: more means the bot sold inventory it already held."""
_TIGHT = ((9, 10), (11, 10))  # Qin et al.'s 90-110 %: full confidence inside

SWAP_ROLES_CTE = """
popular AS (
    SELECT x.chain_id, x.block_number, x.tx_to AS address
    FROM swaps x
    WHERE x.tx_to IS NOT NULL AND NOT x.attempted
    GROUP BY x.chain_id, x.block_number, x.tx_to
    HAVING COUNT(DISTINCT x.tx_from) >= 3
),
s AS (
    SELECT w.action_id, w.chain_id, w.block_number, w.tx_index, w.pool, w.token_in, w.token_out,
           w.amount_in_f, w.tx_from, w.tx_to,
           CASE WHEN w.actor = w.tx_to AND p.address IS NULL AND u.address IS NULL
                THEN w.tx_to END AS bot,
           CASE WHEN w.actor = w.tx_to AND p.address IS NOT NULL THEN TRUE ELSE FALSE END AS to_pool
    FROM swaps w
    LEFT JOIN pools p ON p.chain_id = w.chain_id AND p.address = w.tx_to
    LEFT JOIN popular u
      ON u.chain_id = w.chain_id AND u.block_number = w.block_number AND u.address = w.tx_to
    WHERE NOT w.attempted
)"""
"""Successful swaps with ``bot`` -- the tx's ``to`` when it is a contract that is not a known router,
not a pool and not used to trade by 3+ distinct EOAs in the block (an unlisted aggregator, e.g.
0xa57bd00134b2850b2a1c55860c9e9ea100fdd6cf in block 11935012) -- and ``to_pool`` (an EOA calling the
pool itself)."""

_SQL = f"""
WITH {SWAP_ROLES_CTE},
pairs AS (
    SELECT f.action_id AS f_id, b.action_id AS b_id, f.chain_id, f.block_number, f.pool,
           f.token_in, f.token_out, f.tx_index AS f_idx, b.tx_index AS b_idx,
           f.tx_from AS f_from, b.tx_from AS b_from, f.bot AS f_bot, b.bot AS b_bot
    FROM s f
    JOIN s b
      ON b.chain_id = f.chain_id AND b.block_number = f.block_number AND b.pool = f.pool
     AND b.token_in = f.token_out AND b.token_out = f.token_in AND b.tx_index > f.tx_index
    WHERE b.tx_from = f.tx_from OR b.bot = f.bot
)
SELECT 'pair' AS row_kind, pr.f_id, pr.b_id, pr.f_bot, pr.b_bot, pr.f_from
FROM pairs pr
UNION ALL
SELECT DISTINCT 'victim' AS row_kind, v.action_id, CAST(NULL AS BIGINT), v.tx_from, v.tx_to,
       CAST(NULL AS VARCHAR)
FROM pairs pr
JOIN s v
  ON v.chain_id = pr.chain_id AND v.block_number = pr.block_number AND v.pool = pr.pool
 AND v.token_in = pr.token_in AND v.token_out = pr.token_out
 AND v.tx_index > pr.f_idx AND v.tx_index < pr.b_idx
WHERE v.tx_from <> pr.f_from AND v.tx_from <> pr.b_from
  AND (pr.f_bot IS NULL OR pr.f_bot <> pr.b_bot OR v.tx_to IS NULL OR v.tx_to <> pr.f_bot)
"""
"""Rows ``('pair', front, back, front bot, back bot, front EOA)`` for every same-attacker
opposite-direction pair on a pool (victims or not: they delimit the runs), and
``('victim', swap, NULL, tx_from, tx_to, NULL)`` for every other sender's same-direction swap
strictly inside some pair."""


@dataclass(slots=True)
class _Run:
    """One ``F+ B+`` run of one attacker on one pool and direction."""

    key: tuple[str, str]
    fronts: list[int]
    backs: list[int]
    victims: list[int]


class SandwichDetector:
    """Finds sandwiches (single/multi victim, multi-frontrun, multi-pool); see the module doc."""

    kind = Kind.SANDWICH

    def detect(self, graph: PropertyGraph) -> list[Candidate]:
        if graph.tables["swaps"].num_rows == 0:
            return []
        rows = graph.sql(_SQL)
        if not rows:
            return []
        actions: list[Any] = graph.actions

        # Group the attacker's swaps by (attacker, pool, direction); victims by (pool, direction).
        groups: dict[tuple, dict[int, bool]] = defaultdict(dict)  # aid -> is_front
        victims_at: dict[tuple, list[tuple[int, str | None, str | None]]] = defaultdict(list)
        for row_kind, f_id, b_id, f_bot, b_bot, f_from in rows:
            if row_kind == "victim":  # (swap, -, tx_from, tx_to, -)
                v = actions[f_id]
                victims_at[(v.chain_id, v.block_number, v.pool, v.token_in, v.token_out)].append(
                    (f_id, f_bot, b_bot)
                )
                continue
            f = actions[f_id]
            key = ("contract", f_bot) if f_bot is not None and f_bot == b_bot else ("eoa", f_from)
            g = groups[(f.chain_id, f.block_number, f.pool, f.token_in, f.token_out, key)]
            g[f_id] = True
            g[b_id] = False

        runs: list[_Run] = []
        for (chain, bn, pool, t_in, t_out, key), members in groups.items():
            ordered = sorted(members, key=lambda aid: actions[aid].position)
            cands = victims_at.get((chain, bn, pool, t_in, t_out), [])
            for fronts, backs in _cut_runs(ordered, members):
                run = _Run(key, fronts, backs, [])
                _attach_victims(run, actions, cands, graph)
                if run.victims:
                    runs.append(run)

        out: list[Candidate] = []
        for comp in _components(runs, actions):
            out.extend(self._candidates(graph, comp))
        out.sort(key=lambda c: (c.chain_id, c.block_number, c.attacker_txs))
        return out

    def _candidates(self, graph: PropertyGraph, comp: list[_Run]) -> list[Candidate]:
        actions: list[Any] = graph.actions
        fronts = sorted({a for r in comp for a in r.fronts}, key=lambda a: actions[a].position)
        backs = sorted({a for r in comp for a in r.backs}, key=lambda a: actions[a].position)
        if len(comp) > 1 and actions[fronts[-1]].tx_index >= actions[backs[0]].tx_index:
            # Runs chained through a tx that is a back on one pool and a front on another: keep
            # them as separate sandwiches (precedence decides which one owns the shared tx).
            return [c for r in comp for c in self._candidates(graph, [r])]
        lo, hi = actions[fronts[0]].tx_index, actions[backs[0]].tx_index
        victims = sorted(
            {a for r in comp for a in r.victims if lo < actions[a].tx_index < hi},
            key=lambda a: actions[a].position,
        )
        if not victims:
            return []
        ratio = _unwind_ratio([actions[a] for a in fronts], [actions[a] for a in backs])
        if ratio is None:
            return []
        first = actions[fronts[0]]
        chain = first.chain_id
        meta = graph.tx_meta
        front_txs = _unique_txs(actions, fronts)
        if not _fronts_keep_position(graph, chain, front_txs, [actions[a] for a in fronts]):
            return []
        back_txs = _unique_txs(actions, backs)
        attacker_txs = front_txs + tuple(h for h in back_txs if h not in front_txs)
        senders = {meta[(chain, h)].from_ if (chain, h) in meta else None for h in attacker_txs}
        tos = {meta[(chain, h)].to if (chain, h) in meta else None for h in attacker_txs}
        searcher = next(iter(senders)) if len(senders) == 1 else None
        to = next(iter(tos)) if len(tos) == 1 else None
        pool_set = {actions[a].pool for a in fronts}
        contract = to if to is not None and not is_router(chain, to) and to not in pool_set else None

        confidence = 1.0
        if searcher is None or contract is None:
            confidence *= 0.6 if (contract is None and to is not None and is_router(chain, to)) else 0.95
        num, den = ratio
        if not (_TIGHT[0][0] * den <= _TIGHT[0][1] * num and num * _TIGHT[1][1] <= _TIGHT[1][0] * den):
            confidence *= 0.8

        swaps_used = fronts + victims + backs
        pools = tuple(dict.fromkeys(actions[a].pool for a in fronts))
        protocols = tuple(sorted({actions[a].protocol for a in fronts + backs}))
        return [
            Candidate(
                kind=Kind.SANDWICH,
                chain_id=chain,
                block_number=first.block_number,
                attacker_txs=attacker_txs,
                searcher=searcher,
                contract=contract,
                pools=pools,
                protocols=protocols,
                frontrun_txs=front_txs,
                backrun_txs=back_txs,
                victim_txs=_unique_txs(actions, victims),
                action_ids=tuple(swaps_used),
                confidence=round(confidence, 4),
                details={
                    "front_swaps": list(fronts),
                    "victim_swaps": list(victims),
                    "back_swaps": list(backs),
                },
            )
        ]


def _cut_runs(ordered: list[int], is_front: dict[int, bool]) -> list[tuple[list[int], list[int]]]:
    """Split an attacker's swaps (execution order) into ``F+ B+`` runs; leading backs are dropped."""
    runs: list[tuple[list[int], list[int]]] = []
    fronts: list[int] = []
    backs: list[int] = []
    for aid in ordered:
        if is_front[aid]:
            if backs:
                runs.append((fronts, backs))
                fronts, backs = [], []
            fronts.append(aid)
        elif fronts:
            backs.append(aid)
    if fronts and backs:
        runs.append((fronts, backs))
    return runs


def _attach_victims(
    run: _Run,
    actions: list,
    cands: list[tuple[int, str | None, str | None]],
    graph: PropertyGraph,
) -> None:
    lo = actions[run.fronts[0]].tx_index
    hi = actions[run.backs[0]].tx_index
    chain = actions[run.fronts[0]].chain_id
    meta = graph.tx_meta
    eoas = set()
    for aid in run.fronts + run.backs:
        m = meta.get((chain, actions[aid].tx_hash))
        if m is not None:
            eoas.add(m.from_)
    bot = run.key[1] if run.key[0] == "contract" else None
    attacker_hashes = {actions[a].tx_hash for a in run.fronts + run.backs}
    for v_id, v_from, v_to in cands:
        v = actions[v_id]
        if (
            lo < v.tx_index < hi
            and v_from not in eoas
            and (bot is None or v_to != bot)
            and v.tx_hash not in attacker_hashes
        ):
            run.victims.append(v_id)
    run.victims.sort(key=lambda a: actions[a].position)


def _components(runs: list[_Run], actions: list) -> list[list[_Run]]:
    """Union runs of one attacker that share an attacker tx or a victim tx."""
    parent = list(range(len(runs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[tuple, int] = {}
    for i, r in enumerate(runs):
        first = actions[r.fronts[0]]
        where = (first.chain_id, first.block_number)
        keys: list[tuple] = [(*where, "a", actions[a].tx_hash) for a in r.fronts + r.backs]
        keys += [(*where, "v", r.key, actions[a].tx_hash) for a in r.victims]
        for k in keys:
            j = seen.setdefault(k, i)
            if j != i:
                parent[find(i)] = find(j)
    comps: dict[int, list[_Run]] = defaultdict(list)
    for i, r in enumerate(runs):
        comps[find(i)].append(r)
    return list(comps.values())


def _unwind_ratio(fronts: list[Swap], backs: list[Swap]) -> tuple[int, int] | None:
    """Worst sold/bought ratio over the tokens the fronts bought, or None outside the tolerance."""
    net_front: dict[str, int] = defaultdict(int)
    for s in fronts:
        net_front[s.token_out] += s.amount_out
        net_front[s.token_in] -= s.amount_in
    net_back: dict[str, int] = defaultdict(int)
    for s in backs:
        net_back[s.token_in] += s.amount_in
        net_back[s.token_out] -= s.amount_out
    worst: tuple[int, int] | None = None
    for tok, bought in net_front.items():
        if bought <= 0:
            continue
        sold = net_back.get(tok, 0)
        # sold/bought within [MIN_UNWIND, MAX_UNWIND], exact integer comparison
        if sold * MIN_UNWIND[1] < MIN_UNWIND[0] * bought or sold * MAX_UNWIND[1] > MAX_UNWIND[0] * bought:
            return None
        if worst is None or abs(sold - bought) * worst[1] > abs(worst[0] - worst[1]) * bought:
            worst = (sold, bought)
    return worst


def _fronts_keep_position(
    graph: PropertyGraph, chain: int, front_txs: tuple[str, ...], fronts: list[Swap]
) -> bool:
    """False when the front txs are profitable closed loops: over *all* their swaps they keep none
    of what they bought on the sandwiched pools yet gain some other token (an arbitrage).

    A loop that *loses* is still a front: the bot pays to push the price and recovers in the back
    (front 0xcfec6d80... of block 13404932 buys on Uniswap and sells into the Sushiswap pool)."""
    bought = {s.token_out for s in fronts}
    net: dict[str, int] = defaultdict(int)
    for h in front_txs:
        for a in graph.actions_of_tx(chain, h):
            if isinstance(a, Swap):
                net[a.token_out] += a.amount_out
                net[a.token_in] -= a.amount_in
    return any(net[t] > 0 for t in bought) or not any(v > 0 for v in net.values())


def _unique_txs(actions: list, aids: list[int]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(actions[a].tx_hash for a in sorted(aids, key=lambda a: actions[a].position)))


DETECTOR = SandwichDetector()
