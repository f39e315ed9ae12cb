"""Users who trade: retail traders and whales.

Retail traders are many EOAs. Each block each acts with a small probability, at most once (so a
user never trades both ways in one block): 40 % of actions are payments (ETH or a token to another
user), the rest trades. A trade picks a venue: Uniswap-V2-style Router02 on
either DEX, or the V3 SwapRouter. It picks a pair, a direction and a USD size from a heavy-tailed
(log-normal) distribution, and a slippage tolerance of 0.5–5 % (log-uniform) on the output quoted
at the last block: exact V2 math, or QuoterV2 for V3. A minority are "informed": they sell the
token a pool overprices against the reference market and buy the one it underprices. A
transaction whose price moved beyond its tolerance reverts, as on mainnet.

Whales are few. They trade 50k–600k USD on the deepest pools, always informed, with a higher tip.
They create the price gaps that backrunners close.
"""

from __future__ import annotations

import logging
import math
from itertools import pairwise
from typing import TYPE_CHECKING

from mevgraph.decode.abi import keccak_hex
from mevgraph.sim.abi import decode, encode_call
from mevgraph.sim.agents.base import Agent, BlockCtx, Plan
from mevgraph.sim.chain import RpcError, Tx
from mevgraph.sim.world import DEADLINE

if TYPE_CHECKING:
    from mevgraph.sim.env import Env
    from mevgraph.sim.v2sim import V2Book
    from mevgraph.sim.world import V2Pair, V3Pool

__all__ = ["Trader", "population", "agent_address"]

log = logging.getLogger(__name__)

_EXACT_INPUT_SINGLE = "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
_QUOTE_SINGLE = "quoteExactInputSingle((address,address,uint256,uint24,uint160))"
_SWAP_TT = "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"
_SWAP_ET = "swapExactETHForTokens(uint256,address[],address,uint256)"
_SWAP_TE = "swapExactTokensForETH(uint256,uint256,address[],address,uint256)"


def agent_address(seed: int, name: str, i: int = 0) -> str:
    """A deterministic address for agent ``name`` (its ``i``-th key)."""
    return "0x" + keccak_hex(f"{seed}/{name}/{i}".encode())[-40:]


class Trader(Agent):
    """A population of trading EOAs (retail or whales) acting as one agent."""

    role = "retail"

    def __init__(
        self,
        name: str,
        seed: int,
        n: int,
        *,
        p_trade: float,
        usd_median: float,
        usd_sigma: float,
        usd_cap: float,
        informed: float,
        v3_share: float,
        urgency: float = 1.0,
        p_transfer: float = 0.0,
        role: str = "retail",
        usd_floor: float = 20.0,
    ) -> None:
        super().__init__(name, None, [agent_address(seed, name, i) for i in range(n)], seed)
        self.role = role
        self.p_trade = p_trade
        self.usd_median = usd_median
        self.usd_sigma = usd_sigma
        self.usd_cap = usd_cap
        self.usd_floor = usd_floor
        self.informed = informed
        self.v3_share = v3_share
        self.urgency = urgency
        self.p_transfer = p_transfer

    # -- setup: tokens and approvals for every venue -------------------------------------------
    def setup(self, env: Env) -> list[Tx]:
        w = env.world
        spenders = [d.router for d in w.v2.values()] + [w.v3.swap_router]
        txs: list[Tx] = []
        for a in self.addresses:
            for sym in w.tokens:
                usd = 20 * self.usd_cap
                txs.append(env.mint_tx(a, sym, env.raw(sym, usd)))
                txs.extend(env.approve_tx(a, sym, s) for s in spenders)
        return txs

    # -- trading -------------------------------------------------------------------------------
    def _size_usd(self) -> float:
        usd = math.exp(self.rng.gauss(math.log(self.usd_median), self.usd_sigma))
        return max(self.usd_floor, min(self.usd_cap, usd))

    def _slippage_ppm(self) -> int:
        return int(math.exp(self.rng.uniform(math.log(0.005), math.log(0.05))) * 1_000_000)

    def _direction(self, env: Env, t0: str, t1: str, pool_price_01: float) -> bool:
        """True = sell token0 for token1. ``pool_price_01`` is token1 per token0 in human units."""
        if self.rng.random() < self.informed:
            s0 = env.world.token_by_address(t0).symbol
            s1 = env.world.token_by_address(t1).symbol
            ref = env.market.prices[s0] / env.market.prices[s1]
            return pool_price_01 > ref  # token0 overpriced in the pool: sell it
        return self.rng.random() < 0.5

    def act(self, env: Env, blk: BlockCtx) -> list[Plan]:
        w = env.world
        plans: list[Plan] = []
        v3_jobs: list[tuple[str, V3Pool, str, str, int, int, int, int]] = []
        book = env.v2_book()
        slot0 = env.v3_slot0()
        for addr in self.addresses:
            if self.rng.random() >= self.p_trade:
                continue
            usd = self._size_usd()
            slip = self._slippage_ppm()
            max_fee, tip = env.user_fees(self.rng, blk, self.urgency)
            if self.rng.random() < self.p_transfer:
                plans.append(self._transfer(env, addr, usd, max_fee, tip))
                continue
            if self.rng.random() < self.v3_share:
                pool = self.rng.choice(w.v3_pools)
                sp, _ = slot0[pool.address]
                d0 = w.token_by_address(pool.token0).decimals
                d1 = w.token_by_address(pool.token1).decimals
                price = (sp / 2**96) ** 2 * 10 ** (d0 - d1)
                zero_for_one = self._direction(env, pool.token0, pool.token1, price)
                t_in, t_out = (pool.token0, pool.token1) if zero_for_one else (pool.token1, pool.token0)
                sym = w.token_by_address(t_in).symbol
                v3_jobs.append((addr, pool, t_in, t_out, env.raw(sym, usd), slip, max_fee, tip))
                continue
            pair = self._pick_pair(env, book)
            _, r0, r1 = book.reserves[pair.address]
            # A wallet shows price impact: nobody sends more than ~1.5 % of a pool's depth.
            usd = min(usd, 0.015 * env.usd(pair.token0, r0))
            d0 = w.token_by_address(pair.token0).decimals
            d1 = w.token_by_address(pair.token1).decimals
            price = (r1 / 10**d1) / (r0 / 10**d0)
            sell0 = self._direction(env, pair.token0, pair.token1, price)
            t_in, t_out = (pair.token0, pair.token1) if sell0 else (pair.token1, pair.token0)
            path = [t_in, t_out]
            # Some route through WETH (two hops on the same DEX) when the pair allows it.
            if self.rng.random() < 0.1 and w.weth not in path:
                try:
                    w.pair(pair.dex, t_in, w.weth)
                    w.pair(pair.dex, w.weth, t_out)
                    path = [t_in, w.weth, t_out]
                except KeyError:
                    pass
            a_in = env.raw(w.token_by_address(t_in).symbol, usd)
            amt = a_in
            for a, b in pairwise(path):
                amt = book.quote(w.pair(pair.dex, a, b).address, a, amt)
            min_out = amt * (1_000_000 - slip) // 1_000_000
            router = w.v2[pair.dex].router
            r = self.rng.random()
            if t_in == w.weth and r < 0.3:
                data = encode_call(_SWAP_ET, min_out, path, addr, DEADLINE)
                tx = Tx(addr, router, data, value=a_in, gas=300_000, max_fee=max_fee, tip=tip)
            elif t_out == w.weth and r < 0.3:
                data = encode_call(_SWAP_TE, a_in, min_out, path, addr, DEADLINE)
                tx = Tx(addr, router, data, gas=300_000, max_fee=max_fee, tip=tip)
            else:
                data = encode_call(_SWAP_TT, a_in, min_out, path, addr, DEADLINE)
                tx = Tx(addr, router, data, gas=300_000, max_fee=max_fee, tip=tip)
            plans.append(Plan(tx, tag=("v2", pair.address)))
        plans.extend(self._v3_plans(env, v3_jobs))
        return plans

    def _transfer(self, env: Env, addr: str, usd: float, max_fee: int, tip: int) -> Plan:
        """A payment to another user: ETH or a token (most mainnet txs are not swaps)."""
        to = self.rng.choice(self.addresses)
        sym = self.rng.choice([*env.world.tokens, "ETH"])
        if sym == "ETH":
            return Plan(
                Tx(addr, to, b"", value=env.raw("WETH", usd), gas=21_000, max_fee=max_fee, tip=tip),
                tag=("eth",),
            )
        data = encode_call("transfer(address,uint256)", to, env.raw(sym, usd))
        return Plan(
            Tx(addr, env.world.addr(sym), data, gas=90_000, max_fee=max_fee, tip=tip), tag=("transfer",)
        )

    def _pick_pair(self, env: Env, book: V2Book) -> V2Pair:
        """Flow follows liquidity: a pair is picked with probability proportional to its depth."""
        pairs = env.world.v2_pairs
        weights = [env.usd(p.token0, book.reserves[p.address][1]) for p in pairs]
        return self.rng.choices(pairs, weights)[0]

    def _v3_plans(self, env: Env, jobs: list[tuple[str, V3Pool, str, str, int, int, int, int]]) -> list[Plan]:
        if not jobs:
            return []
        w = env.world
        quotes = env.chain.call_many(
            [
                (w.v3.quoter, encode_call(_QUOTE_SINGLE, (t_in, t_out, a_in, pool.fee, 0)))
                for _, pool, t_in, t_out, a_in, *_ in jobs
            ]
        )
        plans = []
        for (addr, pool, t_in, t_out, a_in, slip, max_fee, tip), q in zip(jobs, quotes, strict=True):
            if isinstance(q, RpcError):
                log.info("%s: no V3 quote for %s: %s", self.name, pool.address, q)
                continue
            out = decode(["uint256"], q[:32])[0]
            min_out = out * (1_000_000 - slip) // 1_000_000
            params = (t_in, t_out, pool.fee, addr, DEADLINE, a_in, min_out, 0)
            tx = Tx(
                addr,
                w.v3.swap_router,
                encode_call(_EXACT_INPUT_SINGLE, params),
                gas=400_000,
                max_fee=max_fee,
                tip=tip,
            )
            plans.append(Plan(tx, tag=("v3", pool.address)))
        return plans


def population(
    env: Env, seed: int, *, retail: int = 400, whales: int = 6, p_trade: float = 0.4
) -> list[Agent]:
    """Retail traders (``retail`` EOAs, each trading with ``p_trade`` per block) and whales."""
    return [
        Trader(
            "retail",
            seed,
            retail,
            p_trade=p_trade,
            usd_median=1_500,
            usd_sigma=1.3,
            usd_cap=120_000,
            informed=0.2,
            v3_share=0.3,
            p_transfer=0.4,
        ),
        Trader(
            "whale",
            seed,
            whales,
            p_trade=0.25,
            usd_median=120_000,
            usd_sigma=0.6,
            usd_cap=600_000,
            usd_floor=50_000,
            informed=1.0,
            v3_share=0.3,
            urgency=2.0,
            role="whale",
        ),
    ]
