"""Atomic arbitrage: swaps inside one transaction that close a token loop at the searcher.

Definition
----------
Take the swaps of one transaction (its successful swaps; for a transaction that reverted as a
whole, the swaps it *attempted*). Draw the transaction's **token flow graph**: one node per token,
one edge ``token_in -> token_out`` per swap. A **loop** is a strongly connected component of that
graph with at least two tokens; its swaps are the swaps whose both tokens lie in the component.
The loop is an arbitrage when its token deltas balance at the searcher::

    produced[t] = sum(amount_out of loop swaps with token_out == t)
    consumed[t] = sum(amount_in  of loop swaps with token_in  == t)
    net[t]      = produced[t] - consumed[t]

every token but one (the **profit token**) must have ``|net[t]| <= 1 % * max(produced, consumed)``
(mev-inspect-py's 1 % amount tolerance between consecutive legs, applied to the token's total
flow so that split legs add up). When every token balances within the tolerance (a margin under
1 %), the profit token is the one with the largest relative imbalance ``|net| / flow`` (the
intermediate tokens of a loop usually balance exactly), and the input token of the loop's first
swap when nothing is imbalanced at all. Native ETH and the chain's WETH count as one token (wrapping
is 1:1; the loop reports WETH). ``loop_profit = net[profit_token]`` (raw units; it
may be negative: the candidate then gets status ``unprofitable``). Work is linear in the number
of swaps (Tarjan's SCC algorithm on a graph of a handful of tokens), never a path enumeration,
so split routes, triangles and long multi-hop loops all cost the same and no block can get stuck.

Motif (multi-hop and split route)::

            pool1            pool2                         pool1
    WETH ─────────> X ─────────────> USDC        WETH ───────────> X
     ^                                 │          ^ │   pool2        │
     └─────────── pool3 ───────────────┘          │ └──────────────> X (split leg)
                                                  └──── pool3 ───────┘

    SQL: transactions whose swaps use some token both as token_in and as token_out
    (a self-join of ``swaps`` on tx_hash and token_in = token_out) -> exact loop check in Python.

Searcher and contract
---------------------
Searcher = the transaction's sender (EOA); contract = the transaction's ``to``, unless it is a
known router/venue (:func:`mevgraph.decode.labels.is_router`): then ``contract`` is ``None`` so a
router is never taken for a searcher (complaint #3 about peers). A loop run *through* a router by
an EOA is still an atomic arbitrage when it gains something (the EOA captured the price gap:
e.g. ``swapExactTokensForTokens`` with path ``[WETH, X, WETH]``) -- it is reported with
``confidence`` 0.6 and ``details["via_router"]``. A router round trip that does not gain in the
loop token (``loop_profit <= 0``) is a user's trade (a zap, a buy-and-sell), not an arbitrage, and
is not reported. A transaction can hold several disjoint loops: they form one candidate (one
attacker transaction), listed in ``details["loops"]``.

Candidate details: ``profit_token``, ``loop_profit`` (of the main loop: the one with the largest
number of swaps, then the earliest), ``swaps`` (action ids of all loop swaps, execution order),
``loops`` (``[{"profit_token", "loop_profit", "swaps"}]``) and ``via_router`` when relevant. The
money module computes profit and gas from them.

Reverted attempts: a transaction that reverted as a whole is decoded "as attempted"; a closed loop
there is reported with status ``reverted`` (the peer reports tx 0x23a4dc70... of block 12483198
with error "Reverted").

Checked against mev-inspect-py on the shared mainnet blocks (``tests/detection/test_arbitrage.py``):
the peer's 25 distinct arbitrage txs are all found but one, with the same profit token, profit and
number of swaps where both decode the same legs (e.g. 0x448245bf... of block 12914944: 3 swaps,
+750005273675102326 WETH). The miss is the caught revert 0x23a4dc70... (block 12483198), pending
decoding of reverted Uniswap swap frames. Seven loops the peer does not report are listed with
their reason in the tests (Uniswap V3 / Bancor / Sushiswap legs it did not classify; 0x-order and
Curve-helper legs that break its address chaining).

Known false positives
---------------------
- A batch settlement (e.g. a CoW solver batch) whose independent user orders happen to cross
  through AMMs in opposite directions forms a loop; it is reported with the low router confidence.
- Fee-on-transfer tokens can unbalance an intermediate token by more than 1 % and hide a real loop
  (a false negative rather than a false positive).
- A liquidation that swaps the seized collateral back into the debt token may form a loop; the
  precedence table ranks the liquidation first.

References: Qin, Zhou, Gervais, "Quantifying Blockchain Extractable Value" (IEEE S&P 2022), atomic
arbitrage definition; flashbots/mev-inspect-py ``arbitrages.py`` (swap chaining, 1 % tolerance,
reverted arbitrages reported); SorellaLabs/brontes atomic-arb inspector (per-tx token flow);
EigenPhi's token-flow rule (a transaction whose token balance changes are all zero but the profit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from mevgraph.core.actions import Swap
from mevgraph.core.tokens import WETH
from mevgraph.core.types import ETH
from mevgraph.decode.labels import router_name
from mevgraph.detection.base import Candidate, Kind, Status
from mevgraph.graph.tables import PropertyGraph

__all__ = [
    "DETECTOR",
    "ArbitrageDetector",
    "Loop",
    "TOLERANCE_PPM",
    "ROUTER_CONFIDENCE",
    "MAX_SWAPS_PER_TX",
    "find_loops",
]

log = logging.getLogger(__name__)

TOLERANCE_PPM = 10_000
"""Allowed imbalance of a non-profit token, in millionths of its flow (1 %, mev-inspect-py's)."""

ROUTER_CONFIDENCE = 0.6
"""Confidence of a loop run by an EOA through a router (a user may be behind it, not a bot)."""

MAX_SWAPS_PER_TX = 512
"""Transactions with more swaps than this are skipped with a log line (bounds the work)."""

# One query for every block of the graph: all swaps (with the tx's sender and recipient) of the
# transactions that use some token both as token_in and as token_out.
_SQL = """
WITH cand AS (
    SELECT DISTINCT a.chain_id, a.tx_hash, a.attempted
    FROM swaps a
    JOIN swaps b
      ON a.tx_hash = b.tx_hash AND a.chain_id = b.chain_id AND a.attempted = b.attempted
     AND a.token_in = b.token_out
)
SELECT s.action_id, s.chain_id, s.block_number, s.tx_hash, s.attempted, s.tx_from, s.tx_to
FROM swaps s
SEMI JOIN cand c ON s.chain_id = c.chain_id AND s.tx_hash = c.tx_hash AND s.attempted = c.attempted
"""


@dataclass(frozen=True, slots=True)
class Loop:
    """A balanced token loop: its swaps (positions in the input list), profit token and profit."""

    swaps: tuple[int, ...]
    profit_token: str
    loop_profit: int


def _sccs(nodes: list[str], adj: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components (iterative Tarjan; linear in nodes + edges)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            succ = adj.get(v, ())
            recurse = False
            while i < len(succ):
                w = succ[i]
                i += 1
                if w not in index:
                    work.append((v, i))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                comp: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


def _close(a: int, b: int, tolerance_ppm: int) -> bool:
    return abs(a - b) * 1_000_000 <= tolerance_ppm * max(a, b)


def _chained_loops(
    swaps: list[Swap], edges: list[tuple[str, str]], idx: list[int], tolerance_ppm: int
) -> list[Loop]:
    """Loops whose legs run one after another, each spending (within tolerance) what the
    previous one produced, back to the first leg's input token. Greedy and quadratic at worst
    in the component's swaps; swaps used by one loop are not reused by another."""
    used: set[int] = set()
    out: list[Loop] = []
    for k, start in enumerate(idx):
        if start in used:
            continue
        chain = [start]
        token, amount = edges[start][1], swaps[start].amount_out
        for j in idx[k + 1 :]:
            if j in used or edges[j][0] != token or not _close(swaps[j].amount_in, amount, tolerance_ppm):
                continue
            chain.append(j)
            token, amount = edges[j][1], swaps[j].amount_out
            if token == edges[start][0]:
                used.update(chain)
                out.append(Loop(tuple(chain), token, amount - swaps[start].amount_in))
                break
    return out


def find_loops(swaps: list[Swap], tolerance_ppm: int = TOLERANCE_PPM) -> list[Loop]:
    """Balanced token loops among ``swaps`` (one transaction's swaps, in execution order).

    >>> from mevgraph.core.actions import ActionSource
    >>> def sw(t_in, a_in, t_out, a_out, pool):
    ...     return Swap(chain_id=1, block_number=1, tx_hash="0x1", tx_index=0, protocol="p",
    ...                 source=ActionSource.TRACE, pool=pool, sender="0xb", recipient="0xb",
    ...                 token_in=t_in, amount_in=a_in, token_out=t_out, amount_out=a_out)
    >>> find_loops([sw("0xa", 100, "0xb", 50, "0xp1"), sw("0xb", 50, "0xa", 103, "0xp2")])
    [Loop(swaps=(0, 1), profit_token='0xa', loop_profit=3)]
    """
    # ETH and WETH are one asset for a loop (wrapping is 1:1): a Curve leg paying out ETH that the
    # bot wraps closes a WETH loop. Edges use the canonical token; WETH is reported.
    native = WETH.get(swaps[0].chain_id, ETH) if swaps else ETH
    edges = [
        (native if s.token_in == ETH else s.token_in, native if s.token_out == ETH else s.token_out)
        for s in swaps
    ]
    adj: dict[str, list[str]] = {}
    nodes: list[str] = []
    for t_in, t_out in edges:
        if t_in == t_out:
            continue
        for t in (t_in, t_out):
            if t not in adj:
                adj[t] = []
                nodes.append(t)
        if t_out not in adj[t_in]:
            adj[t_in].append(t_out)
    loops: list[Loop] = []
    for comp in _sccs(nodes, adj):
        if len(comp) < 2:
            continue
        members = set(comp)
        idx = [
            i
            for i, (t_in, t_out) in enumerate(edges)
            if t_in in members and t_out in members and t_in != t_out
        ]
        produced = dict.fromkeys(comp, 0)
        consumed = dict.fromkeys(comp, 0)
        for i in idx:
            t_in, t_out = edges[i]
            produced[t_out] += swaps[i].amount_out
            consumed[t_in] += swaps[i].amount_in
        unbalanced = [
            t
            for t in comp
            if abs(produced[t] - consumed[t]) * 1_000_000 > tolerance_ppm * max(produced[t], consumed[t])
        ]
        if len(unbalanced) > 1:
            # Unrelated trades share the component (e.g. a router buy and sell around the bot's
            # loop, block 12483198 tx 0x23a4dc70): fall back to loops executed as a chain.
            loops.extend(_chained_loops(swaps, edges, idx, tolerance_ppm))
            continue
        if unbalanced:
            profit_token = unbalanced[0]
        else:
            # All within tolerance (a thin margin): the token with the largest relative gain or
            # loss; with none at all, the first swap's input token.
            first = edges[idx[0]][0]
            profit_token = max(
                comp,
                key=lambda t: (
                    Fraction(abs(produced[t] - consumed[t]), max(produced[t], consumed[t], 1)),
                    t == first,
                ),
            )
        loops.append(Loop(tuple(idx), profit_token, produced[profit_token] - consumed[profit_token]))
    loops.sort(key=lambda lp: lp.swaps[0])
    return loops


def _tx_order(graph: PropertyGraph) -> Callable[[tuple[tuple[int, str, bool], Any]], tuple[Any, ...]]:
    """Sort key of ``((chain_id, tx_hash, attempted), rows)``: block order, successful swaps first."""

    def key(item: tuple[tuple[int, str, bool], Any]) -> tuple[Any, ...]:
        (chain_id, tx_hash, attempted), rows = item
        meta = graph.tx_meta.get((chain_id, tx_hash))
        return (chain_id, rows[0][2], meta.index if meta is not None else -1, tx_hash, attempted)

    return key


class ArbitrageDetector:
    """Closed, balanced token loops inside one transaction (see the module docstring)."""

    kind = Kind.ARBITRAGE

    def detect(self, graph: PropertyGraph) -> list[Candidate]:
        by_tx: dict[tuple[int, str, bool], list[tuple[Any, ...]]] = {}
        for row in graph.sql(_SQL):
            by_tx.setdefault((row[1], row[3], row[4]), []).append(row)
        actions = graph.actions
        out: list[Candidate] = []
        done: set[tuple[int, str, bool]] = set()
        for (chain_id, tx_hash, attempted), tx_rows in sorted(by_tx.items(), key=_tx_order(graph)):
            if attempted and (chain_id, tx_hash, False) in done:
                continue  # a successful loop in the same tx wins over a caught, reverted attempt
            if len(tx_rows) > MAX_SWAPS_PER_TX:
                log.info("arbitrage: skip tx %s: %d swaps > %d", tx_hash, len(tx_rows), MAX_SWAPS_PER_TX)
                continue
            ids = sorted((r[0] for r in tx_rows), key=lambda i: actions[i].position)
            swaps: list[Swap] = [actions[i] for i in ids]  # type: ignore[misc]
            loops = find_loops(swaps)
            if not loops:
                continue
            _, _, block_number, _, _, tx_from, tx_to = tx_rows[0]
            via = router_name(chain_id, tx_to)
            main = max(loops, key=lambda lp: (len(lp.swaps), -lp.swaps[0]))
            if via is not None and main.loop_profit <= 0:
                log.debug("arbitrage: router round trip without gain in %s (%s)", tx_hash, via)
                continue
            loop_ids = sorted({ids[i] for lp in loops for i in lp.swaps}, key=lambda i: actions[i].position)
            loop_swaps = [actions[i] for i in loop_ids]
            pools = tuple(dict.fromkeys(s.pool for s in loop_swaps))  # type: ignore[union-attr]
            protocols = tuple(sorted({s.protocol for s in loop_swaps}))
            if attempted:
                status = Status.REVERTED
            elif main.loop_profit < 0:
                status = Status.UNPROFITABLE
            else:
                status = Status.OK
            details: dict[str, object] = {
                "profit_token": main.profit_token,
                "loop_profit": main.loop_profit,
                "swaps": loop_ids,
                "loops": [
                    {
                        "profit_token": lp.profit_token,
                        "loop_profit": lp.loop_profit,
                        "swaps": [ids[i] for i in lp.swaps],
                    }
                    for lp in loops
                ],
            }
            if via is not None:
                details["via_router"] = via
            out.append(
                Candidate(
                    kind=Kind.ARBITRAGE,
                    chain_id=chain_id,
                    block_number=block_number,
                    attacker_txs=(tx_hash,),
                    searcher=tx_from,
                    contract=None if via is not None else tx_to,
                    pools=pools,
                    protocols=protocols,
                    action_ids=tuple(loop_ids),
                    status=status,
                    confidence=ROUTER_CONFIDENCE if via is not None else 1.0,
                    details=details,
                )
            )
            done.add((chain_id, tx_hash, attempted))
        return out


DETECTOR = ArbitrageDetector()
