"""Atomic arbitrage and backrun bots: the searchers that close the price gaps users leave.

Three roles, all trading through an operator's ``contracts/Searcher.sol`` (``run``):

* :class:`CrossDexArb` trades at the top of every block (a max fee far above any user's) on the
  head state: the best two-venue loops ``start -> X -> start`` with ``start`` WETH or USDC --
  uniswap V2 against sushiswap, a V2 pair against a V3 pool, the V3 0.05 % pool against the 0.3 %
  one;
* :class:`TriangularArb` does the same over three V2 pairs (``WETH -> USDC -> DAI -> WETH`` and
  ``WETH -> USDC -> LINK -> WETH``, both directions, any mix of the two DEXes);
* :class:`Backrunner` watches the mempool for a large V2 router swap, replays the block it predicts
  (:func:`mevgraph.sim.v2sim.predicted_order`) up to that swap, and buys back on the same pair what
  the swap sold, selling it on the other DEX or on V3, with a max fee one wei under the victim's so
  that the node puts it right after the victim.

Sizing. Consecutive V2 hops compose into one virtual constant-product pool with the same fee
``r = 0.997``: after a hop ``(Ea, Eb)`` and a pair ``(R_in, R_out)``, ``Ea' = Ea R_in / (R_in + r
Eb)`` and ``Eb' = r Eb R_out / (R_in + r Eb)``, so a V2-only loop has the closed-form optimum
``x* = (sqrt(r Ea Eb) - Ea) / r``. Loops with a V3 leg are sized on a geometric grid of QuoterV2
quotes (``eth_call``, one batch per hop position), refined twice around the best point. Every
candidate is evaluated with exact integer V2 math before it is sent, and only sent when the
expected profit pays the gas (and the bribe, when one is paid).

Ground truth. ``run`` is called with ``minDelta = 1``: a loop that is no longer profitable when it
executes (a competitor closed the gap first) reverts -- an attempt, not MEV, never recorded. A
successful loop is always recorded, as kind ``backrun`` when the mined block shows a trigger by the
rule of :mod:`mevgraph.detection.backrun` (the last earlier tx that swapped on one of the loop's
pools came from another sender, swapped the opposite way, at most :data:`MAX_GAP` txs before), else
``arbitrage``. That is usually the backrunner's target (``details["intended_trigger"]``), but a
top-of-block loop placed right after a competitor's opposite trade is a backrun too.

No unrecorded motifs. One contract trades a pool at most once per block (:meth:`SearcherContract.
claim`): two loops of one bot crossing a pool in both directions around a user's trade would look
like a sandwich. A backrunner EOA sends at most one transaction per block: the node keeps each
sender's nonce order, which would pull a later backrun ahead of its trigger. At most two EOAs of
an operator trade through its contract in a block (three make it look like an aggregator to the
detectors). Intermediate tokens of a loop balance exactly (the contract feeds each hop's output to
the next), so a loop never looks like a position (frontrun).

Operators (:func:`population`): ``arb-a`` (a cross-DEX and a triangular EOA sharing one contract,
public, rarely bribing), ``arb-b`` (its own contract; V2 and V2/V3 loops, half of them private with
a coinbase bribe), ``backrun-c`` (three EOAs, one contract; about a third of its backruns private,
with a bribe). ``arb-b`` and ``backrun-c`` are funded by the same address (a clustering signal):
at setup it deploys both contracts, stocks them and sends their EOAs their first ETH;
``labels()`` names it (role ``funder``, ``funds``: the operators it pays for).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise, permutations, product
from typing import TYPE_CHECKING, Any

from mevgraph.decode.abi import keccak_hex
from mevgraph.sim.abi import encode_call
from mevgraph.sim.agents.base import Agent, BlockCtx, Mined, Pending, Plan, Truth
from mevgraph.sim.agents.market import agent_address
from mevgraph.sim.chain import RpcError, Tx
from mevgraph.sim.v2sim import RouterSwap, V2Book, decode_router_swap, predicted_order

if TYPE_CHECKING:
    from mevgraph.sim.env import Env
    from mevgraph.sim.world import World

__all__ = [
    "Hop",
    "Opportunity",
    "SearcherContract",
    "CrossDexArb",
    "TriangularArb",
    "Backrunner",
    "population",
    "cross_venue_cycles",
    "triangle_cycles",
    "v2_optimal_input",
    "MAX_GAP",
]

log = logging.getLogger(__name__)

GWEI = 10**9
ETHER = 10**18
MAX_GAP = 2
"""Most transactions between a trigger and its backrun (as :mod:`mevgraph.detection.backrun`)."""

_R = 0.997  # Uniswap V2 fee factor
_RUN = "run((bool,address,address,address)[],uint256,address,int256,uint256)"
_QUOTE = "quoteExactInputSingle((address,address,uint256,uint24,uint160))"
_V2_SWAP_TOPIC = keccak_hex(b"Swap(address,uint256,uint256,uint256,uint256,address)")
_V3_SWAP_TOPIC = keccak_hex(b"Swap(address,address,int256,int256,uint160,uint128,int24)")
# Gas used by ``Searcher.run``, measured on the testbed: fixed part, per V2 hop, per V3 hop.
_GAS_BASE, _GAS_V2, _GAS_V3 = 30_000, 58_000, 80_000
_MAX_BRIBE = 5 * 10**18  # wei; keeps truth.jsonl amounts in 64 bits


# -- loops -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Hop:
    """One swap of a loop: ``token_in -> token_out`` on ``pool``; ``v3_fee`` 0 for a V2 pair."""

    pool: str
    token_in: str
    token_out: str
    v3_fee: int = 0

    @property
    def v3(self) -> bool:
        return self.v3_fee > 0

    def arg(self) -> tuple[bool, str, str, str]:
        """The ``Searcher.Hop`` struct."""
        return (self.v3, self.pool, self.token_in, self.token_out)


Cycle = tuple[Hop, ...]


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A sized loop: ``amount_in`` of the start token returns ``amount_in + profit``."""

    hops: Cycle
    amount_in: int
    profit: int
    profit_usd: float

    @property
    def start(self) -> str:
        return self.hops[0].token_in

    @property
    def pools(self) -> list[str]:
        return [h.pool for h in self.hops]

    def gas(self) -> int:
        """Expected gas used (see :data:`_GAS_BASE`)."""
        n3 = sum(h.v3 for h in self.hops)
        return _GAS_BASE + _GAS_V2 * (len(self.hops) - n3) + _GAS_V3 * n3


def _start_token(world: World, a: str, b: str) -> str | None:
    """The token a loop over ``a``/``b`` starts from: WETH, else USDC (what bots hold)."""
    for s in (world.weth, world.tokens["USDC"].address):
        if s in (a, b):
            return s
    return None


def cross_venue_cycles(
    world: World, *, v2v2: bool = True, v2v3: bool = True, v3v3: bool = True
) -> list[Cycle]:
    """Every two-venue loop ``start -> X -> start`` over the same token pair, both directions."""
    venues: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for p in world.v2_pairs:
        venues.setdefault((p.token0, p.token1), []).append((p.address, 0))
    for pl in world.v3_pools:
        venues.setdefault((pl.token0, pl.token1), []).append((pl.address, pl.fee))
    out: list[Cycle] = []
    for (t0, t1), vs in venues.items():
        start = _start_token(world, t0, t1)
        if start is None:
            continue
        x = t1 if start == t0 else t0
        for (pa, fa), (pb, fb) in permutations(vs, 2):
            kinds = (fa > 0) + (fb > 0)
            if (kinds == 0 and not v2v2) or (kinds == 1 and not v2v3) or (kinds == 2 and not v3v3):
                continue
            out.append((Hop(pa, start, x, fa), Hop(pb, x, start, fb)))
    return out


def triangle_cycles(world: World) -> list[Cycle]:
    """Every loop ``WETH -> B -> C -> WETH`` over three V2 pairs (any DEX each, both directions)."""
    weth = world.weth
    dexes = sorted(world.v2)
    others = sorted(t.address for t in world.tokens.values() if t.address != weth)

    def has(a: str, b: str) -> bool:
        try:
            world.pair(dexes[0], a, b)
        except KeyError:
            return False
        return True

    out: list[Cycle] = []
    for b, c in permutations(others, 2):
        if not (has(weth, b) and has(b, c) and has(c, weth)):
            continue
        for d1, d2, d3 in product(dexes, repeat=3):
            out.append(
                (
                    Hop(world.pair(d1, weth, b).address, weth, b),
                    Hop(world.pair(d2, b, c).address, b, c),
                    Hop(world.pair(d3, c, weth).address, c, weth),
                )
            )
    return out


def _v2_in_out(book: V2Book, h: Hop) -> tuple[int, int]:
    t0, r0, r1 = book.reserves[h.pool]
    return (r0, r1) if h.token_in == t0 else (r1, r0)


def _marginal_rate(c: Cycle, book: V2Book, slot0: dict[str, tuple[int, int]]) -> float:
    """Output per unit input of an infinitesimal trade along ``c`` (> 1: the loop gains)."""
    rate = 1.0
    for h in c:
        if h.v3:
            sp, _ = slot0[h.pool]
            p = (sp / 2**96) ** 2  # token1 per token0, raw units
            rate *= (p if h.token_in < h.token_out else 1 / p) * (1 - h.v3_fee / 1e6)
        else:
            r_in, r_out = _v2_in_out(book, h)
            if r_in <= 0:
                return 0.0
            rate *= _R * r_out / r_in
    return rate


def v2_optimal_input(c: Cycle, book: V2Book) -> int:
    """Profit-maximising input of a V2-only loop (closed form on the composed virtual pool; 0 if
    the loop does not gain)."""
    ea, eb = (float(x) for x in _v2_in_out(book, c[0]))
    for h in c[1:]:
        r_in, r_out = _v2_in_out(book, h)
        d = r_in + _R * eb
        ea, eb = ea * r_in / d, _R * eb * r_out / d
    x = (math.sqrt(_R * ea * eb) - ea) / _R
    return max(0, int(x))


def _v2_output(c: Cycle, book: V2Book, amount: int) -> int:
    for h in c:
        amount = book.quote(h.pool, h.token_in, amount)
    return amount


def _evaluate(env: Env, points: Sequence[tuple[Cycle, int]], book: V2Book) -> list[int]:
    """Output of each ``(loop, amount_in)``: V2 hops exactly on ``book``, V3 hops by QuoterV2 on
    the head state (one batched request per hop position)."""
    amounts = [a for _, a in points]
    for k in range(max((len(c) for c, _ in points), default=0)):
        calls: list[tuple[int, bytes]] = []
        for i, (c, _) in enumerate(points):
            if k >= len(c) or amounts[i] <= 0:
                continue
            h = c[k]
            if h.v3:
                calls.append((i, encode_call(_QUOTE, (h.token_in, h.token_out, amounts[i], h.v3_fee, 0))))
            else:
                amounts[i] = book.quote(h.pool, h.token_in, amounts[i])
        if calls:
            quoter = env.world.v3.quoter
            res = env.chain.call_many([(quoter, d) for _, d in calls])
            for (i, _), r in zip(calls, res, strict=True):
                amounts[i] = 0 if isinstance(r, RpcError) else int.from_bytes(r[:32], "big")
    return amounts


def _size(env: Env, cycles: Sequence[Cycle], book: V2Book, caps: dict[str, int]) -> list[Opportunity]:
    """The profit-maximising input of each loop (capped by inventory); gaining loops only."""
    out: list[Opportunity] = []
    grid: list[Cycle] = []
    for c in cycles:
        if any(h.v3 for h in c):
            grid.append(c)
            continue
        x = min(v2_optimal_input(c, book), caps[c[0].token_in])
        if x > 0:
            gain = _v2_output(c, book, x) - x
            if gain > 0:
                out.append(Opportunity(c, x, gain, env.usd(c[0].token_in, gain)))
    if not grid:
        return out
    # Loops with a V3 leg: a geometric grid, then two linear refinements around the best point.
    n = 16
    pts: dict[int, list[int]] = {}
    for i, c in enumerate(grid):
        hi = caps[c[0].token_in]
        lo = max(1, hi // 5000)
        ratio = (hi / lo) ** (1 / (n - 1))
        pts[i] = sorted({int(lo * ratio**k) for k in range(n)})
    best: dict[int, tuple[int, int]] = {}  # loop -> (gain, amount)
    for _ in range(3):
        flat = [(i, a) for i, amounts in pts.items() for a in amounts]
        outs = _evaluate(env, [(grid[i], a) for i, a in flat], book)
        for (i, a), o in zip(flat, outs, strict=True):
            if o - a > best.get(i, (0, 0))[0]:
                best[i] = (o - a, a)
        nxt: dict[int, list[int]] = {}
        for i, amounts in pts.items():
            if i not in best:
                continue
            a = best[i][1]
            lower = max((x for x in amounts if x < a), default=a // 2)
            upper = min((x for x in amounts if x > a), default=a)
            step = max(1, (upper - lower) // 9)
            nxt[i] = [x for x in range(lower + step, upper, step) if x != a][:8]
        pts = nxt
    for i, (gain, a) in sorted(best.items()):
        out.append(Opportunity(grid[i], a, gain, env.usd(grid[i][0].token_in, gain)))
    return out


def _logged_swaps(receipt: dict[str, Any], pool: str, tokens: tuple[str, str]) -> list[tuple[str, str]]:
    """``(token_in, token_out)`` of every swap on ``pool`` in a receipt's logs (V2 or V3 events)."""
    t0, t1 = tokens
    out: list[tuple[str, str]] = []
    for lg in receipt.get("logs", ()):
        if str(lg["address"]).lower() != pool or not lg["topics"]:
            continue
        topic, data = str(lg["topics"][0]).lower(), bytes.fromhex(str(lg["data"])[2:])
        if topic == _V2_SWAP_TOPIC:
            out0, out1 = int.from_bytes(data[64:96], "big"), int.from_bytes(data[96:128], "big")
            out.append((t0, t1) if out1 and not out0 else (t1, t0))
        elif topic == _V3_SWAP_TOPIC:
            out.append((t0, t1) if int.from_bytes(data[:32], "big", signed=True) > 0 else (t1, t0))
    return out


# -- the operator's contract -----------------------------------------------------------------------
class SearcherContract:
    """One deployed ``Searcher.sol`` of an operator, shared by its agents.

    ``funder`` deploys it (it is the owner), stocks it with tokens and ETH for bribes, and sends
    each operator EOA its first ETH: the on-chain trail that links the operator's addresses.
    """

    def __init__(
        self, operator: str, funder: str, eoas: list[str], funds: Sequence[str], inventory_usd: float
    ) -> None:
        self.operator = operator
        self.funder = funder
        self.eoas = eoas
        self.funds = tuple(funds)  # every operator this funder pays for
        self.inventory_usd = inventory_usd
        self.address: str | None = None
        self.inventory: dict[str, int] = {}
        self._claims: tuple[int, set[str]] = (-1, set())

    def setup(self, env: Env) -> list[Tx]:
        """Deploy once; return the funding transactions (empty for the second agent)."""
        if self.address is not None:
            return []
        w = env.world
        self.address = addr = env.deploy_searcher(self.funder, self.eoas)
        txs = [Tx(self.funder, e, value=20 * ETHER, gas=21_000) for e in self.eoas]
        for sym in ("WETH", "USDC"):  # every loop starts from one of them
            tok = w.addr(sym)
            amount = env.raw(sym, self.inventory_usd)
            self.inventory[tok] = amount
            if tok == w.weth:
                txs.append(Tx(self.funder, tok, encode_call("deposit()"), value=amount, gas=80_000))
                txs.append(
                    Tx(self.funder, tok, encode_call("transfer(address,uint256)", addr, amount), gas=80_000)
                )
            else:
                txs.append(
                    Tx(self.funder, tok, encode_call("mint(address,uint256)", addr, amount), gas=100_000)
                )
        txs.append(Tx(self.funder, addr, value=1_000 * ETHER, gas=60_000))  # bribes
        return txs

    def caps(self) -> dict[str, int]:
        """Largest loop input per start token: half the stock (loops return it plus the profit)."""
        return {t: a // 2 for t, a in self.inventory.items()}

    def claim(self, block: int, pools: Sequence[str]) -> bool:
        """Reserve ``pools`` for one transaction of this contract in ``block`` (False: taken)."""
        if self._claims[0] != block:
            self._claims = (block, set())
        taken = self._claims[1]
        if any(p in taken for p in pools):
            return False
        taken.update(pools)
        return True


# -- bots ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Sent:
    """What a plan carries to ``settle``."""

    opp: Opportunity
    bribe: int
    trigger: str | None = None  # backruns: the victim's hash


class _LoopBot(Agent):
    """Common part: setup through the shared contract, the run transaction, settle, labels."""

    searcher = True
    role = "searcher"

    def __init__(
        self,
        name: str,
        operator: str,
        seed: int,
        contract: SearcherContract,
        eoas: list[str],
        *,
        p_private: float = 0.0,
        p_bribe: float = 0.0,
        bribe_share: tuple[float, float] = (0.2, 0.6),
        attention: float = 1.0,
        max_txs: int = 3,
        min_profit_usd: float = 2.0,
    ) -> None:
        super().__init__(name, operator, list(eoas), seed)
        self.contract = contract
        self.eoas = eoas
        self.p_private = p_private
        self.p_bribe = p_bribe
        self.bribe_share = bribe_share
        self.attention = attention
        self.max_txs = max_txs
        self.min_profit_usd = min_profit_usd
        self._pool_tokens: dict[str, tuple[str, str]] | None = None

    def setup(self, env: Env) -> list[Tx]:
        txs = self.contract.setup(env)
        assert self.contract.address is not None
        self.addresses = [*self.eoas, self.contract.address]
        return txs

    def labels(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {
            a: {"role": "searcher", "operator": self.operator, "agent": self.name} for a in self.eoas
        }
        if self.contract.address is not None:
            out[self.contract.address] = {
                "role": "searcher_contract",
                "operator": self.operator,
                "agent": self.name,
            }
        out[self.contract.funder] = {
            "role": "funder",
            "operator": None,
            "agent": self.name,
            "funds": list(self.contract.funds),
        }
        return out

    def _plan(
        self, env: Env, blk: BlockCtx, eoa: str, opp: Opportunity, max_fee: int, tip: int, **kw: Any
    ) -> Plan | None:
        """A plan for ``opp`` when it pays its gas (and bribe), with the pools claimed; else None."""
        weth_usd = env.market.prices["WETH"]
        gas_usd = opp.gas() * (blk.base_fee + tip) / ETHER * weth_usd
        net_usd = opp.profit_usd - gas_usd
        if net_usd < self.min_profit_usd:
            return None
        private = self.rng.random() < self.p_private
        bribe = 0
        if private or self.rng.random() < self.p_bribe:
            bribe = min(_MAX_BRIBE, int(net_usd * self.rng.uniform(*self.bribe_share) / weth_usd * ETHER))
        if not self.contract.claim(blk.number, opp.pools):
            return None
        assert self.contract.address is not None
        data = encode_call(_RUN, [h.arg() for h in opp.hops], opp.amount_in, opp.start, 1, bribe)
        tx = Tx(eoa, self.contract.address, data, gas=2 * opp.gas() + 60_000, max_fee=max_fee, tip=tip)
        return Plan(tx, private=private, tag=_Sent(opp, bribe, **kw))

    def settle(self, env: Env, blk: BlockCtx, mined: Mined, plans: list[Plan]) -> list[Truth]:
        out: list[Truth] = []
        for plan in plans:
            sent = plan.tag
            if not isinstance(sent, _Sent):
                continue
            if plan.hash is None:
                log.info("%s: tx refused: %s", self.name, plan.error)
                continue
            if not mined.ok(plan.hash):
                # A competitor closed the gap first (minDelta not met), or it was not mined.
                log.info("%s: %s failed in block %d", self.name, plan.hash, mined.number)
                continue
            kind, details = self._kind(env, mined, plan.hash, sent)
            details.update(
                pools=sent.opp.pools,
                private=plan.private,
                bribe=sent.bribe,
                profit_token=sent.opp.start,
                expected_profit=str(sent.opp.profit),  # raw amounts overflow JSON's 64-bit ints
                hops=len(sent.opp.hops),
                venues=["uniswap_v3" if h.v3 else "v2" for h in sent.opp.hops],
            )
            out.append(
                Truth(
                    kind=kind,
                    block_number=mined.number,
                    attacker_txs=[plan.hash],
                    victim_txs=[],
                    operator=self.operator or self.name,
                    searcher=plan.tx.frm,
                    contract=self.contract.address,
                    details=details,
                )
            )
        return out

    def _kind(self, env: Env, mined: Mined, h: str, sent: _Sent) -> tuple[str, dict[str, Any]]:
        """``backrun`` (with its trigger) or ``arbitrage``, by the rule of
        :mod:`mevgraph.detection.backrun` applied to the mined block: for each pool of the loop,
        the last earlier tx that swapped on it is a trigger when it came from another sender
        (neither this EOA nor a call to this contract), swapped opposite to the loop, and lies
        at most :data:`MAX_GAP` txs before; the nearest trigger wins."""
        details: dict[str, Any] = {"intended_trigger": sent.trigger} if sent.trigger else {}
        a = mined.index(h)
        if a is None:
            return "arbitrage", details
        if self._pool_tokens is None:
            w = env.world
            self._pool_tokens = {p.address: (p.token0, p.token1) for p in w.v2_pairs}
            self._pool_tokens.update({p.address: (p.token0, p.token1) for p in w.v3_pools})
        me, contract = str(mined.txs[a]["from"]).lower(), self.contract.address
        best: int | None = None
        for hop in sent.opp.hops:
            for t in range(a - 1, max(-1, a - 2 - MAX_GAP), -1):
                tx = mined.txs[t]
                r = mined.receipts.get(str(tx["hash"]).lower())
                if r is None or r.get("status") != "0x1":
                    continue
                moves = _logged_swaps(r, hop.pool, self._pool_tokens[hop.pool])
                if not moves:
                    continue
                other = str(tx["from"]).lower() != me and str(tx.get("to") or "").lower() != contract
                if other and (hop.token_out, hop.token_in) in moves and (best is None or t > best):
                    best = t
                break  # the last tx that touched the pool decides for it
        if best is None:
            return "arbitrage", details
        details.update(trigger_tx=str(mined.txs[best]["hash"]).lower(), gap=a - best - 1)
        return "backrun", details


class CrossDexArb(_LoopBot):
    """Top-of-block two-venue arbitrage on the head state (see the module docstring)."""

    def __init__(
        self,
        name: str,
        operator: str,
        seed: int,
        contract: SearcherContract,
        eoas: list[str],
        *,
        fee_gwei: int,
        v2v2: bool = True,
        v2v3: bool = True,
        v3v3: bool = True,
        **kw: Any,
    ) -> None:
        super().__init__(name, operator, seed, contract, eoas, **kw)
        self.fee_gwei = fee_gwei
        self.kinds = {"v2v2": v2v2, "v2v3": v2v3, "v3v3": v3v3}
        self._cycles: list[Cycle] | None = None

    def cycles(self, env: Env) -> list[Cycle]:
        if self._cycles is None:
            self._cycles = cross_venue_cycles(env.world, **self.kinds)
        return self._cycles

    def react(self, env: Env, blk: BlockCtx, pending: list[Pending]) -> list[Plan]:
        book = env.v2_book()
        slot0 = env.v3_slot0()
        live = [c for c in self.cycles(env) if _marginal_rate(c, book, slot0) > 1.0001]
        if not live:
            return []
        opps = sorted(_size(env, live, book, self.contract.caps()), key=lambda o: -o.profit_usd)
        max_fee = 2 * blk.base_fee + self.fee_gwei * GWEI
        plans: list[Plan] = []
        for opp in opps:
            if len(plans) >= self.max_txs:
                break
            if self.rng.random() >= self.attention:
                continue  # missed it (latency, a full pipeline): another bot may take it
            eoa = self.eoas[len(plans) % len(self.eoas)]
            tip = int(self.rng.uniform(1.0, 3.0) * 100) * GWEI // 100
            plan = self._plan(env, blk, eoa, opp, max_fee, tip)
            if plan is not None:
                plans.append(plan)
        return plans


class TriangularArb(CrossDexArb):
    """Top-of-block loops over three V2 pairs starting from WETH."""

    def cycles(self, env: Env) -> list[Cycle]:
        if self._cycles is None:
            self._cycles = triangle_cycles(env.world)
        return self._cycles


class Backrunner(_LoopBot):
    """Backruns large pending V2 router swaps on the pair they moved (see the module docstring).

    ``min_usd`` is the smallest victim input worth a look. Each EOA sends at most one backrun per
    block (EOAs take turns), and at most ``max_txs`` (default 2) EOAs trade per block: the sandwich
    detector takes a contract that three EOAs trade through in one block for an aggregator.
    """

    def __init__(
        self,
        name: str,
        operator: str,
        seed: int,
        contract: SearcherContract,
        eoas: list[str],
        *,
        min_usd: float = 20_000.0,
        max_txs: int = 2,
        **kw: Any,
    ) -> None:
        super().__init__(name, operator, seed, contract, eoas, max_txs=max_txs, **kw)
        self.min_usd = min_usd
        self._closers: dict[tuple[str, str], list[tuple[str, int]]] | None = None

    def closers(self, env: Env, a: str, b: str) -> list[tuple[str, int]]:
        """Every venue (pool, V3 fee or 0) trading ``a``/``b``."""
        if self._closers is None:
            idx: dict[tuple[str, str], list[tuple[str, int]]] = {}
            for p in env.world.v2_pairs:
                idx.setdefault((p.token0, p.token1), []).append((p.address, 0))
            for pl in env.world.v3_pools:
                idx.setdefault((pl.token0, pl.token1), []).append((pl.address, pl.fee))
            self._closers = idx
        return self._closers.get((min(a, b), max(a, b)), [])

    def _loops(self, env: Env, s: RouterSwap, pairs: list[str]) -> list[Cycle]:
        """Loops that buy back, on each pair of the victim's route, what the victim sold there."""
        out: list[Cycle] = []
        for pair, (a, b) in zip(pairs, pairwise(s.path), strict=True):
            start = _start_token(env.world, a, b)
            if start is None:
                continue
            back = Hop(pair, b, a)  # opposite to the victim's a -> b
            for pool, fee in self.closers(env, a, b):
                if pool == pair:
                    continue
                close = Hop(pool, a, b, fee)
                out.append((back, close) if start == b else (close, back))
        return out

    def react(self, env: Env, blk: BlockCtx, pending: list[Pending]) -> list[Plan]:
        ours = set(self.eoas)
        order = predicted_order([p for p in pending if p.frm not in ours])
        swaps = [decode_router_swap(p, env.routers) for p in order]
        head = env.v2_book()
        slot0 = env.v3_slot0()
        plans: list[Plan] = []
        for i, (p, s) in enumerate(zip(order, swaps, strict=True)):
            if len(plans) >= min(self.max_txs, len(self.eoas)):
                break
            if s is None or env.usd(s.path[0], s.amount_in) < self.min_usd:
                continue
            if p.max_fee - 1 <= blk.base_fee or self.rng.random() >= self.attention:
                continue
            # Reserves where the backrun will execute: every decodable swap the node puts before
            # it -- all with a max fee >= the victim's (ties after the victim included: FIFO).
            book = head.copy()
            victim_ok = False
            for j, (q, qs) in enumerate(zip(order, swaps, strict=True)):
                if q.max_fee < p.max_fee:
                    break
                if qs is not None:
                    applied = book.apply(qs)
                    if j == i:
                        victim_ok = applied
            pairs = book.pairs_of(s)
            if not victim_ok or pairs is None:
                continue
            loops = [c for c in self._loops(env, s, pairs) if _marginal_rate(c, book, slot0) > 1.0001]
            if not loops:
                continue
            opps = _size(env, loops, book, self.contract.caps())
            for opp in sorted(opps, key=lambda o: -o.profit_usd):
                max_fee = p.max_fee - 1
                tip = min(p.tip, max_fee - blk.base_fee)
                eoa = self.eoas[(blk.number + len(plans)) % len(self.eoas)]
                plan = self._plan(env, blk, eoa, opp, max_fee, tip, trigger=p.hash)
                if plan is not None:
                    plans.append(plan)
                    break
        return plans


# -- the cast --------------------------------------------------------------------------------------
def population(env: Env, seed: int) -> list[Agent]:
    """Two arbitrage operators and one backrun operator (see the module docstring)."""
    a_eoas = [agent_address(seed, "arb-a", i) for i in range(2)]
    b_eoas = [agent_address(seed, "arb-b", 0)]
    c_eoas = [agent_address(seed, "backrun-c", i) for i in range(3)]
    fund_a = agent_address(seed, "arb-a/funder")
    fund_bc = agent_address(seed, "arb-bc/funder")
    ca = SearcherContract("arb-a", fund_a, a_eoas, ["arb-a"], 2_000_000)
    cb = SearcherContract("arb-b", fund_bc, b_eoas, ["arb-b", "backrun-c"], 1_000_000)
    cc = SearcherContract("backrun-c", fund_bc, c_eoas, ["arb-b", "backrun-c"], 1_000_000)
    return [
        CrossDexArb("arb-a/cross", "arb-a", seed, ca, a_eoas[:1], fee_gwei=32, attention=0.75, p_bribe=0.1),
        TriangularArb("arb-a/tri", "arb-a", seed, ca, a_eoas[1:], fee_gwei=32, attention=0.75, max_txs=2),
        CrossDexArb(
            "arb-b/cross",
            "arb-b",
            seed,
            cb,
            b_eoas,
            fee_gwei=26,
            v3v3=False,
            attention=0.85,
            p_private=0.5,
            p_bribe=0.3,
        ),
        Backrunner("backrun-c", "backrun-c", seed, cc, c_eoas, p_private=0.35, bribe_share=(0.3, 0.7)),
    ]
