"""Liquidity providers and a just-in-time (JIT) liquidity bot.

* :class:`V2LP` -- EOAs adding liquidity to the V2 pairs through Router02 (``addLiquidity`` at the
  reserves' ratio, 2 % slippage) and removing part of it later (``removeLiquidity``).
* :class:`V3LP` -- EOAs minting concentrated positions around the current price through the
  NonfungiblePositionManager, adding to them (``increaseLiquidity``) and closing them
  (``multicall(decreaseLiquidity, collect)``) in a later block.
* :class:`JitBot` -- a searcher with a Searcher contract. It watches the mempool for large
  ``exactInputSingle`` swaps through the V3 SwapRouter and wraps one per pool: ``jitMint`` of a
  narrow range around the pool's tick (max fee = the victim's + 1 wei), then ``jitBurn`` (burn +
  collect, max fee = the victim's - 1 wei), from one EOA, so both land in the victim's block. It
  goes only for swaps whose pool fee would pay for the gas of both legs.

Passive LPs must not look like JIT to :mod:`mevgraph.detection.jit`: every position-manager
position has the manager as its pool-level owner, so a mint of one LP and a burn of another on the
same range and pool, with a swap between, would match. Each LP agent therefore either adds to or
removes from a pool in a block, never both, and a position is closed at the earliest in the
block after it was opened (only a mined mint becomes a known position). V2 liquidity changes are
not liquidity actions of the decoder.

Ground truth: the JIT bot writes a ``jit`` record when its mint and burn both succeeded and at
least one successful swap on the pool by somebody else lies between them in the block (the
detector's definition); ``victim_txs`` are all those swap transactions.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mevgraph.decode.abi import keccak_hex, selector
from mevgraph.sim.abi import decode, encode_call
from mevgraph.sim.agents.base import Agent, BlockCtx, Mined, Pending, Plan, Truth
from mevgraph.sim.agents.lending import funder_address, searcher_labels
from mevgraph.sim.agents.market import agent_address
from mevgraph.sim.chain import Tx
from mevgraph.sim.world import DEADLINE

if TYPE_CHECKING:
    from mevgraph.sim.env import Env
    from mevgraph.sim.world import V2Pair, V3Pool

__all__ = ["V2LP", "V3LP", "JitBot", "V3Range", "population"]

log = logging.getLogger(__name__)

MAX_UINT128 = 2**128 - 1
JIT_GAS = 430_000  # gas used on the testbed: jitMint 240k-290k, jitBurn (burn + collect) 125k-160k
JIT_FEE_SHARE = 0.9
SWAP_TOPIC = keccak_hex(b"Swap(address,address,int256,int256,uint160,uint128,int24)")
INCREASE_TOPIC = keccak_hex(b"IncreaseLiquidity(uint256,uint128,uint256,uint256)")

_EXACT_INPUT_SINGLE = "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
_EXACT_INPUT_SINGLE_SEL = bytes.fromhex(selector(_EXACT_INPUT_SINGLE)[2:])
_ADD = "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)"
_REMOVE = "removeLiquidity(address,address,uint256,uint256,uint256,address,uint256)"
_NPM_MINT = "mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256))"
_NPM_INCREASE = "increaseLiquidity((uint256,uint256,uint256,uint256,uint256,uint256))"
_NPM_DECREASE = "decreaseLiquidity((uint256,uint128,uint256,uint256,uint256))"
_NPM_COLLECT = "collect((uint256,address,uint128,uint128))"
_JIT_MINT = "jitMint(address,int24,int24,uint128)"
_JIT_BURN = "jitBurn(address,int24,int24,uint128,uint256)"


# -- V3 range arithmetic ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class V3Range:
    """A tick range ``[lower, upper)`` and the token amounts one unit of liquidity holds in it."""

    lower: int
    upper: int

    @classmethod
    def around(cls, tick: int, spacing: int, half: int) -> V3Range:
        """``half`` spacings below the spacing-aligned tick holding ``tick``, ``half + 1`` above."""
        base = (tick // spacing) * spacing
        return cls(base - half * spacing, base + (half + 1) * spacing)

    def per_liquidity(self, sqrt_price: float) -> tuple[float, float]:
        """(amount0, amount1) in raw units per unit of liquidity at ``sqrt_price`` (not X96)."""
        sa, sb = 1.0001 ** (self.lower / 2), 1.0001 ** (self.upper / 2)
        s = min(max(sqrt_price, sa), sb)
        return 1 / s - 1 / sb, s - sa

    def worst_case(self) -> tuple[float, float]:
        """Most of each token one unit of liquidity can need (the price at either end)."""
        sa, sb = 1.0001 ** (self.lower / 2), 1.0001 ** (self.upper / 2)
        return 1 / sa - 1 / sb, sb - sa


def _sqrt_price(sqrt_price_x96: int) -> float:
    return sqrt_price_x96 / 2**96


def _usd_per_raw(env: Env, token: str) -> float:
    t = env.world.token_by_address(token)
    return env.market.prices[t.symbol] / 10**t.decimals


# -- passive liquidity -----------------------------------------------------------------------------
class V2LP(Agent):
    """V2 liquidity providers (many EOAs acting as one agent)."""

    role = "lp"

    def __init__(
        self,
        name: str,
        seed: int,
        n: int,
        *,
        p_act: float = 0.05,
        usd_median: float = 30_000,
        usd_sigma: float = 0.9,
        usd_cap: float = 500_000,
    ) -> None:
        super().__init__(name, None, [agent_address(seed, name, i) for i in range(n)], seed)
        self.p_act = p_act
        self.usd_median = usd_median
        self.usd_sigma = usd_sigma
        self.usd_cap = usd_cap
        self.counts: dict[str, int] = {}  # "<add|remove>_<ok|failed>" -> transactions
        self.holdings: dict[str, list[str]] = {a: [] for a in self.addresses}  # pairs it has LP tokens of

    def setup(self, env: Env) -> list[Tx]:
        w = env.world
        routers = [d.router for d in w.v2.values()]
        txs: list[Tx] = []
        for a in self.addresses:
            for sym in w.tokens:
                txs.append(env.mint_tx(a, sym, env.raw(sym, 20 * self.usd_cap)))
                txs.extend(env.approve_tx(a, sym, r) for r in routers)
            for p in w.v2_pairs:  # LP tokens, for removeLiquidity
                txs.append(env.approve_tx(a, p.address, w.v2[p.dex].router))
        return txs

    def act(self, env: Env, blk: BlockCtx) -> list[Plan]:
        w = env.world
        pairs = {p.address: p for p in w.v2_pairs}
        acting: list[tuple[str, V2Pair, bool]] = []
        for a in self.addresses:
            if self.rng.random() >= self.p_act:
                continue
            holding = self.holdings[a]
            if holding and self.rng.random() < 0.4:
                acting.append((a, pairs[self.rng.choice(holding)], False))
            else:
                acting.append((a, self.rng.choice(w.v2_pairs), True))
        if not acting:
            return []
        book = env.v2_book()
        lp_bal = env.balances([(p.address, a) for a, p, _ in acting])
        direction: dict[str, bool] = {}  # pair -> adding (one direction per pair and block)
        plans: list[Plan] = []
        for (a, pair, adding), held in zip(acting, lp_bal, strict=True):
            if (not adding and held == 0) or direction.setdefault(pair.address, adding) != adding:
                continue
            router = w.v2[pair.dex].router
            max_fee, tip = env.user_fees(self.rng, blk)
            if adding:
                _, r0, r1 = book.reserves[pair.address]
                usd = min(self.usd_cap, math.exp(self.rng.gauss(math.log(self.usd_median), self.usd_sigma)))
                amt0 = int(usd / 2 / _usd_per_raw(env, pair.token0))
                amt1 = amt0 * r1 // r0
                args = (pair.token0, pair.token1, amt0, amt1, amt0 * 98 // 100, amt1 * 98 // 100, a, DEADLINE)
                data = encode_call(_ADD, *args)
            else:
                everything = self.rng.random() < 0.5
                liq = held if everything else int(held * self.rng.uniform(0.2, 0.8))
                data = encode_call(_REMOVE, pair.token0, pair.token1, liq, 0, 0, a, DEADLINE)
            tx = Tx(a, router, data, gas=400_000, max_fee=max_fee, tip=tip)
            tag = (
                ("add", pair.address) if adding else ("remove", pair.address, "all" if everything else "part")
            )
            plans.append(Plan(tx, tag=tag))
        return plans

    def settle(self, env: Env, blk: BlockCtx, mined: Mined, plans: list[Plan]) -> list[Truth]:
        for p in plans:
            kind, pair = p.tag[0], p.tag[1]
            key = f"{kind}_ok" if mined.ok(p.hash) else f"{kind}_failed"
            self.counts[key] = self.counts.get(key, 0) + 1
            holding = self.holdings[p.tx.frm]
            if mined.ok(p.hash) and kind == "add" and pair not in holding:
                holding.append(pair)
            elif mined.ok(p.hash) and kind == "remove" and p.tag[2:] == ("all",) and pair in holding:
                holding.remove(pair)
        return []


@dataclass(slots=True)
class _Position:
    token_id: int
    pool: str
    lower: int
    upper: int
    liquidity: int


@dataclass(slots=True)
class _LPState:
    positions: list[_Position] = field(default_factory=list)


class V3LP(Agent):
    """V3 liquidity providers using the position manager (many EOAs acting as one agent)."""

    role = "lp"

    def __init__(
        self,
        name: str,
        seed: int,
        n: int,
        *,
        p_act: float = 0.05,
        usd_median: float = 40_000,
        usd_sigma: float = 0.9,
        usd_cap: float = 500_000,
        max_positions: int = 4,
    ) -> None:
        super().__init__(name, None, [agent_address(seed, name, i) for i in range(n)], seed)
        self.p_act = p_act
        self.usd_median = usd_median
        self.usd_sigma = usd_sigma
        self.usd_cap = usd_cap
        self.max_positions = max_positions
        self.state: dict[str, _LPState] = {a: _LPState() for a in self.addresses}
        self.counts: dict[str, int] = {}  # "<open|grow|close>_<ok|failed>" -> transactions

    def setup(self, env: Env) -> list[Tx]:
        w = env.world
        txs: list[Tx] = []
        for a in self.addresses:
            for sym in w.tokens:
                txs.append(env.mint_tx(a, sym, env.raw(sym, 20 * self.usd_cap)))
                txs.append(env.approve_tx(a, sym, w.v3.position_manager))
        return txs

    def _usd(self) -> float:
        return min(self.usd_cap, math.exp(self.rng.gauss(math.log(self.usd_median), self.usd_sigma)))

    def act(self, env: Env, blk: BlockCtx) -> list[Plan]:
        w = env.world
        npm = w.v3.position_manager
        pools = {p.address: p for p in w.v3_pools}
        slot0 = env.v3_slot0()
        direction: dict[str, bool] = {}  # pool -> adding (one direction per pool and block)
        plans: list[Plan] = []
        for a in self.addresses:
            if self.rng.random() >= self.p_act:
                continue
            st = self.state[a]
            u = self.rng.random()
            if st.positions and u < 0.45:
                pos = self.rng.choice(st.positions)
                if direction.setdefault(pos.pool, False):
                    continue
                calls = [
                    encode_call(_NPM_DECREASE, (pos.token_id, pos.liquidity, 0, 0, DEADLINE)),
                    encode_call(_NPM_COLLECT, (pos.token_id, a, MAX_UINT128, MAX_UINT128)),
                ]
                data = encode_call("multicall(bytes[])", calls)
                tag: tuple[Any, ...] = ("close", pos.token_id)
            else:
                grow = bool(st.positions) and (u < 0.65 or len(st.positions) >= self.max_positions)
                if grow:
                    pos = self.rng.choice(st.positions)
                    pool = pools[pos.pool]
                else:
                    pool = self.rng.choice(w.v3_pools)
                if not direction.setdefault(pool.address, True):
                    continue
                usd = self._usd()
                a0 = int(usd / 2 / _usd_per_raw(env, pool.token0))
                a1 = int(usd / 2 / _usd_per_raw(env, pool.token1))
                if grow:
                    data = encode_call(_NPM_INCREASE, (pos.token_id, a0, a1, 0, 0, DEADLINE))
                    tag = ("grow", pos.token_id)
                else:
                    rng = V3Range.around(slot0[pool.address][1], pool.tick_spacing, self.rng.randint(1, 60))
                    params = (
                        pool.token0,
                        pool.token1,
                        pool.fee,
                        rng.lower,
                        rng.upper,
                        a0,
                        a1,
                        0,
                        0,
                        a,
                        DEADLINE,
                    )
                    data = encode_call(_NPM_MINT, params)
                    tag = ("open", pool.address, rng.lower, rng.upper)
            max_fee, tip = env.user_fees(self.rng, blk)
            plans.append(Plan(Tx(a, npm, data, gas=800_000, max_fee=max_fee, tip=tip), tag=tag))
        return plans

    def settle(self, env: Env, blk: BlockCtx, mined: Mined, plans: list[Plan]) -> list[Truth]:
        npm = env.world.v3.position_manager
        for p in plans:
            kind = p.tag[0]
            key = f"{kind}_ok" if mined.ok(p.hash) else f"{kind}_failed"
            self.counts[key] = self.counts.get(key, 0) + 1
            if not mined.ok(p.hash):
                continue
            st = self.state[p.tx.frm]
            if kind == "close":
                st.positions = [x for x in st.positions if x.token_id != p.tag[1]]
                continue
            for lg in mined.receipts[str(p.hash)].get("logs") or []:
                if str(lg["address"]).lower() != npm or lg["topics"][0] != INCREASE_TOPIC:
                    continue
                token_id, added = int(lg["topics"][1], 16), int(lg["data"][2:66], 16)
                if kind == "open":
                    st.positions.append(_Position(token_id, p.tag[1], p.tag[2], p.tag[3], added))
                else:
                    for x in st.positions:
                        if x.token_id == token_id:
                            x.liquidity += added
        return []


# -- JIT liquidity ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Jit:
    leg: str  # "mint" | "burn" | "cleanup"
    pool: str
    lower: int
    upper: int
    liquidity: int
    eoa: str
    victim: str | None


@dataclass(frozen=True, slots=True)
class VictimSwap:
    """A pending ``exactInputSingle`` on a known pool."""

    tx: Pending
    pool: V3Pool
    token_in: str
    amount_in: int
    usd: float


def decode_v3_swap(env: Env, p: Pending) -> VictimSwap | None:
    """The SwapRouter ``exactInputSingle`` in ``p`` on one of the world's pools, else None."""
    w = env.world
    if p.to != w.v3.swap_router or p.data[:4] != _EXACT_INPUT_SINGLE_SEL:
        return None
    try:
        ((t_in, t_out, fee, _, _, a_in, _, _),) = decode(
            ["(address,address,uint24,address,uint256,uint256,uint256,uint160)"], p.data[4:]
        )
        pool = w.v3_pool(str(t_in).lower(), str(t_out).lower(), int(fee))
    except Exception:  # not a call on a pool of this world: not a target
        return None
    return VictimSwap(p, pool, str(t_in).lower(), int(a_in), env.usd(str(t_in).lower(), int(a_in)))


class JitBot(Agent):
    """Just-in-time liquidity around large pending V3 swaps (see the module docstring)."""

    role = "jit"
    searcher = True

    def __init__(
        self,
        name: str,
        operator: str,
        seed: int,
        *,
        family: str,
        n_eoas: int = 3,
        min_usd: float = 50_000,
        budget_usd: float = 1_500_000,
        inventory_usd: float = 6_000_000,
        half_width: int = 1,
    ) -> None:
        eoas = [agent_address(seed, f"{operator}/eoa", i) for i in range(n_eoas)]
        funder = funder_address(seed, family)
        super().__init__(name, operator, [*eoas, funder], seed)
        self.eoas = eoas
        self.family = family
        self.funder = funder
        self.min_usd = min_usd
        self.budget_usd = budget_usd
        self.inventory_usd = inventory_usd
        self.half_width = half_width
        self.contract: str | None = None
        self.stale: list[_Jit] = []  # minted but not burnt (the burn failed): burn next block

    def setup(self, env: Env) -> list[Tx]:
        w = env.world
        self.contract = env.deploy_searcher(self.funder, self.eoas)
        self.addresses.append(self.contract)
        txs = [Tx(self.funder, e, value=10**18, gas=21_000) for e in self.eoas]
        tokens = sorted({t for p in w.v3_pools for t in (p.token0, p.token1)})
        for t in tokens:
            amt = env.raw(w.token_by_address(t).symbol, self.inventory_usd)
            if t == w.weth:  # wrapped by the EOAs, then moved to the contract
                share = amt // len(self.eoas)
                for e in self.eoas:
                    env.chain.set_balance(e, share + 10**21)
                    txs.append(env.mint_tx(e, t, share))
                    txs.append(
                        Tx(e, t, encode_call("transfer(address,uint256)", self.contract, share), gas=80_000)
                    )
            else:
                txs.append(
                    Tx(self.eoas[0], t, encode_call("mint(address,uint256)", self.contract, amt), gas=100_000)
                )
        return txs

    def labels(self) -> dict[str, dict[str, Any]]:
        return searcher_labels(self, self.eoas, self.contract, self.family, self.funder)

    def react(self, env: Env, blk: BlockCtx, pending: list[Pending]) -> list[Plan]:
        contract = self.contract
        if contract is None:
            return []
        plans: list[Plan] = []
        busy = {j.pool for j in self.stale}
        for j in self.stale:  # a failed burn leaves a position: close it, with no JIT on its pool
            max_fee, tip = env.user_fees(self.rng, blk)
            data = encode_call(_JIT_BURN, j.pool, j.lower, j.upper, j.liquidity, 0)
            tx = Tx(j.eoa, contract, data, gas=1_000_000, max_fee=max_fee, tip=tip)
            plans.append(Plan(tx, tag=_Jit("cleanup", j.pool, j.lower, j.upper, j.liquidity, j.eoa, None)))
        self.stale = []

        best: dict[str, VictimSwap] = {}
        for p in pending:
            v = decode_v3_swap(env, p)
            if v is None or v.usd < self.min_usd or v.pool.address in busy or p.frm in self.eoas:
                continue
            if self._expected_profit_usd(env, blk, v) <= 0:
                continue
            cur = best.get(v.pool.address)
            if cur is None or v.usd > cur.usd:
                best[v.pool.address] = v
        if not best:
            return plans
        victims = sorted(best.values(), key=lambda v: -v.usd)[: len(self.eoas)]
        slot0 = env.v3_slot0()
        tokens = sorted({t for v in victims for t in (v.pool.token0, v.pool.token1)})
        inventory = dict(zip(tokens, env.balances([(t, contract) for t in tokens]), strict=True))
        for eoa, v in zip(self.eoas, victims, strict=False):
            pool = v.pool
            sp, tick = slot0[pool.address]
            rng = V3Range.around(tick, pool.tick_spacing, self.half_width)
            a0, a1 = rng.per_liquidity(_sqrt_price(sp))
            per_l = a0 * _usd_per_raw(env, pool.token0) + a1 * _usd_per_raw(env, pool.token1)
            w0, w1 = rng.worst_case()
            # Enough inventory for the amounts at whatever price the pool has when the mint lands.
            liq = min(self.budget_usd / per_l, inventory[pool.token0] / w0, inventory[pool.token1] / w1)
            liquidity = int(liq * 0.98)
            if liquidity <= 0:
                continue
            inventory[pool.token0] -= math.ceil(liquidity * w0) + 1
            inventory[pool.token1] -= math.ceil(liquidity * w1) + 1
            vt = v.tx
            mint_fee, burn_fee = vt.max_fee + 1, vt.max_fee - 1
            mint = Tx(
                eoa,
                contract,
                encode_call(_JIT_MINT, pool.address, rng.lower, rng.upper, liquidity),
                gas=1_000_000,
                max_fee=mint_fee,
                tip=min(vt.tip, mint_fee - blk.base_fee),
            )
            burn = Tx(
                eoa,
                contract,
                encode_call(_JIT_BURN, pool.address, rng.lower, rng.upper, liquidity, 0),
                gas=1_000_000,
                max_fee=burn_fee,
                tip=min(vt.tip, burn_fee - blk.base_fee),
            )
            for leg, tx in (("mint", mint), ("burn", burn)):
                tag = _Jit(leg, pool.address, rng.lower, rng.upper, liquidity, eoa, vt.hash)
                plans.append(Plan(tx, tag=tag))
        return plans

    def _expected_profit_usd(self, env: Env, blk: BlockCtx, v: VictimSwap) -> float:
        """The pool fee on the swap the JIT range would earn (most of it: the range dwarfs the
        pool's own liquidity there) minus the gas of mint and burn."""
        fees = v.usd * v.pool.fee / 1e6 * JIT_FEE_SHARE
        gas_wei = JIT_GAS * (blk.base_fee + v.tx.tip)
        return fees - gas_wei / 1e18 * env.market.prices["WETH"]

    def settle(self, env: Env, blk: BlockCtx, mined: Mined, plans: list[Plan]) -> list[Truth]:
        out: list[Truth] = []
        mints = {(p.tag.eoa, p.tag.pool): p for p in plans if isinstance(p.tag, _Jit) and p.tag.leg == "mint"}
        for p in plans:
            tag = p.tag
            if not isinstance(tag, _Jit):
                continue
            if tag.leg == "cleanup":
                if not mined.ok(p.hash):
                    log.info("%s: cleanup burn on %s failed again", self.name, tag.pool)
                    self.stale.append(tag)
                continue
            if tag.leg != "burn":
                continue
            m = mints.get((tag.eoa, tag.pool))
            if m is None or not mined.ok(m.hash):
                continue  # nothing minted: the burn reverted as well
            if not mined.ok(p.hash):
                log.info("%s: burn %s failed; the position is closed next block", self.name, p.hash)
                self.stale.append(
                    _Jit("cleanup", tag.pool, tag.lower, tag.upper, tag.liquidity, tag.eoa, None)
                )
                continue
            i, k = mined.index(m.hash), mined.index(p.hash)
            if i is None or k is None or not i < k:
                continue
            victims = self._swaps_between(mined, tag.pool, i, k)
            if not victims:
                log.info("%s: no swap on %s landed between mint and burn", self.name, tag.pool)
                continue
            out.append(
                Truth(
                    kind="jit",
                    block_number=mined.number,
                    attacker_txs=[str(m.hash), str(p.hash)],
                    victim_txs=victims,
                    operator=self.operator or self.name,
                    searcher=tag.eoa,
                    contract=self.contract,
                    details={
                        "pools": [tag.pool],
                        "private": False,
                        "tick_lower": tag.lower,
                        "tick_upper": tag.upper,
                        "liquidity": str(tag.liquidity),
                        "target_tx": tag.victim,
                    },
                )
            )
        return out

    def _swaps_between(self, mined: Mined, pool: str, i: int, k: int) -> list[str]:
        """Successful txs strictly between positions ``i`` and ``k`` that swapped on ``pool``, sent by
        others (not this bot's EOAs, not to its contract)."""
        out = []
        for tx in mined.txs[i + 1 : k]:
            h = str(tx["hash"]).lower()
            if str(tx["from"]).lower() in self.eoas or str(tx.get("to") or "").lower() == self.contract:
                continue
            if not mined.ok(h):
                continue
            logs = mined.receipts[h].get("logs") or []
            if any(str(lg["address"]).lower() == pool and lg["topics"][0] == SWAP_TOPIC for lg in logs):
                out.append(h)
        return out


def population(env: Env, seed: int, *, v2_lps: int = 6, v3_lps: int = 8) -> list[Agent]:
    """Passive V2 and V3 LPs and the JIT operator ``jit-a`` (family ``alpha``, whose funder also
    funds the liquidation operator ``liq-a`` of :mod:`mevgraph.sim.agents.lending`)."""
    return [
        V2LP("v2-lps", seed, v2_lps),
        V3LP("v3-lps", seed, v3_lps),
        JitBot("jit-bot-a", "jit-a", seed, family="alpha"),
    ]
