"""The shared environment agents act in: the node, the deployed world, the Aave market, a reference
market price, fees, and per-block state reads (cached, one batched request each).

The reference price (``ref_usd``) is the "outside" market -- a CEX, say: it moves as a seeded
random walk with occasional crash episodes of WETH; informed traders push pools towards it, the
oracle agent reports it to Aave. Everything random is drawn from seeded streams, so a seed fixes
the run.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mevgraph.sim.abi import encode_call
from mevgraph.sim.agents.base import BlockCtx, Mined
from mevgraph.sim.chain import Chain, RpcError, Tx
from mevgraph.sim.v2sim import V2Book
from mevgraph.sim.world import DEADLINE, World, v2_reserves, v3_slot0

if TYPE_CHECKING:
    from mevgraph.sim.aave import AaveMarket
    from mevgraph.sim.agents.base import Agent

__all__ = ["Env", "MarketModel", "GWEI", "MAX_UINT", "DEADLINE"]

GWEI = 10**9
MAX_UINT = 2**256 - 1


@dataclass(slots=True)
class MarketModel:
    """Reference USD prices: a random walk per volatile token, plus WETH crash episodes.

    ``vol`` is the per-block standard deviation of the log price. A crash takes WETH down by
    ``crash_depth`` over ``crash_blocks`` blocks, then the walk resumes from there. Crashes come
    at random (probability ``crash_p`` per block) but never more than ``crash_gap`` blocks apart,
    the first one within ``first_crash`` blocks -- so every seed gives liquidation episodes.
    """

    prices: dict[str, float]
    rng: random.Random
    vol: float = 0.0015
    crash_p: float = 0.02
    crash_depth: tuple[float, float] = (0.06, 0.15)
    crash_blocks: int = 4
    crash_gap: int = 60
    first_crash: int = 25
    crash_left: int = 0
    crash_step: float = 0.0
    since_crash: int = 0
    history: list[dict[str, float]] = field(default_factory=list)

    def step(self) -> None:
        for sym in list(self.prices):
            if sym in ("USDC", "DAI"):
                continue
            self.prices[sym] *= math.exp(self.rng.gauss(0.0, self.vol))
        self.since_crash += 1
        limit = self.first_crash if len(self.history) < self.first_crash else self.crash_gap
        if self.crash_left == 0 and (self.rng.random() < self.crash_p or self.since_crash >= limit):
            self.since_crash = 0
            depth = self.rng.uniform(*self.crash_depth)
            self.crash_left = self.crash_blocks
            self.crash_step = (1 - depth) ** (1 / self.crash_blocks)
        if self.crash_left > 0:
            self.prices["WETH"] *= self.crash_step
            self.crash_left -= 1
        self.history.append(dict(self.prices))

    @property
    def crashing(self) -> bool:
        return self.crash_left > 0


class Env:
    """What every agent may use. ``ws_url`` is the node's WebSocket endpoint (mempool watchers)."""

    def __init__(self, chain: Chain, ws_url: str, world: World, aave: AaveMarket | None, seed: int) -> None:
        self.chain = chain
        self.ws_url = ws_url
        self.world = world
        self.aave = aave
        self.seed = seed
        self.rng = random.Random(f"{seed}/env")
        self.market = MarketModel(
            {s: float(p) for s, p in world.prices_usd.items()}, random.Random(f"{seed}/market")
        )
        self.routers = {d.router: d.name for d in world.v2.values()}
        self._pair_index = {(p.dex, p.token0, p.token1): p.address for p in world.v2_pairs}
        self._head: dict[str, Any] = chain.rpc("eth_getBlockByNumber", "latest", False)
        self._cache: dict[str, Any] = {}
        self.mined_at: float | None = None
        self.base_fee = 10 * GWEI
        self.block_time = 12

    # -- blocks --------------------------------------------------------------------------------
    @property
    def head_number(self) -> int:
        return int(self._head["number"], 16)

    def next_block(self) -> BlockCtx:
        """Advance the market and pick the next block's base fee (a mild random walk, 5-40 gwei)."""
        self.market.step()
        self.base_fee = int(min(40 * GWEI, max(5 * GWEI, self.base_fee * math.exp(self.rng.gauss(0, 0.05)))))
        self.chain.rpc("anvil_setNextBlockBaseFeePerGas", hex(self.base_fee))
        ts = int(self._head["timestamp"], 16) + self.block_time
        return BlockCtx(number=self.head_number + 1, timestamp=ts, base_fee=self.base_fee)

    def mine(self, blk: BlockCtx) -> Mined:
        """Mine everything pending into one block; anything left (it should not be) is dropped."""
        self.chain.mine(blk.timestamp)
        self.mined_at = time.time()  # unix time the node returned from mining (for latency figures)
        head = self.chain.rpc("eth_getBlockByNumber", "latest", True)
        if self.chain.pending_count():
            self.chain.rpc("anvil_dropAllTransactions")
        number = int(head["number"], 16)
        receipts = self.chain.rpc("eth_getBlockReceipts", hex(number)) or []
        self._head = head
        self._cache.clear()
        return Mined(
            number=number,
            timestamp=int(head["timestamp"], 16),
            coinbase=str(head["miner"]).lower(),
            order={str(t["hash"]).lower(): i for i, t in enumerate(head["transactions"])},
            receipts={str(r["transactionHash"]).lower(): r for r in receipts},
            txs=head["transactions"],
        )

    # -- state reads (cached until the next block) ---------------------------------------------
    def pair_of(self, router: str, a: str, b: str) -> str | None:
        dex = self.routers.get(router)
        t0, t1 = (a, b) if a < b else (b, a)
        return self._pair_index.get((dex, t0, t1)) if dex else None

    def v2_book(self) -> V2Book:
        """Reserves of every V2 pair at the head (copy before replaying swaps on it)."""
        if "v2" not in self._cache:
            res = v2_reserves(self.chain, self.world.v2_pairs)
            self._cache["v2"] = {p.address: (p.token0, *res[p.address]) for p in self.world.v2_pairs}
        return V2Book(self._cache["v2"], self.pair_of)

    def v3_slot0(self) -> dict[str, tuple[int, int]]:
        if "v3" not in self._cache:
            self._cache["v3"] = v3_slot0(self.chain, self.world.v3_pools)
        return dict(self._cache["v3"])

    def balances(self, pairs: list[tuple[str, str]]) -> list[int]:
        """ERC20 balances for ``(token, holder)`` pairs, one batched request."""
        res = self.chain.call_many([(t, encode_call("balanceOf(address)", h)) for t, h in pairs])
        return [0 if isinstance(r, RpcError) else int.from_bytes(r[:32], "big") for r in res]

    # -- money and fees ------------------------------------------------------------------------
    def usd(self, token: str, raw: int) -> float:
        t = self.world.token_by_address(token)
        return raw / 10**t.decimals * self.market.prices[t.symbol]

    def raw(self, symbol: str, usd: float) -> int:
        t = self.world.tokens[symbol]
        return int(usd / self.market.prices[symbol] * 10**t.decimals)

    def user_fees(self, rng: random.Random, blk: BlockCtx, urgency: float = 1.0) -> tuple[int, int]:
        """(max fee, tip) as a wallet sets them: tip 0.5-3 gwei (x urgency), max = 2 * base + tip.

        Drawn to the wei, so two txs practically never share a max fee: anvil orders equal max
        fees by arrival, and a JSON-RPC batch arrives concurrently -- ties would make the block
        order, hence the run, depend on thread timing."""
        tip = int(rng.uniform(0.5, 3.0) * urgency * GWEI)
        return 2 * blk.base_fee + tip, tip

    # -- setup helpers -------------------------------------------------------------------------
    def mint_tx(self, to: str, token: str, amount: int) -> Tx:
        """Funding: open ``mint`` on test tokens; WETH is bought with ETH by ``deposit``."""
        tok = self.world.addr(token)
        if tok == self.world.weth:
            return Tx(to, tok, encode_call("deposit()"), value=amount, gas=80_000)
        return Tx(to, tok, encode_call("mint(address,uint256)", to, amount), gas=100_000)

    def approve_tx(self, owner: str, token: str, spender: str) -> Tx:
        return Tx(
            owner,
            self.world.addr(token),
            encode_call("approve(address,uint256)", spender, MAX_UINT),
            gas=80_000,
        )

    def run_setup(self, txs: list[Tx], what: str = "setup") -> list[dict[str, Any]]:
        """Send ``txs``, mine until all are in, raise if any failed (setup must not fail)."""
        receipts = self.chain.run_all(txs, what)
        self._head = self.chain.rpc("eth_getBlockByNumber", "latest", False)
        self._cache.clear()
        return receipts

    def setup_agents(self, agents: list[Agent]) -> None:
        """Fund every agent address with ETH, then run each agent's setup transactions."""
        addrs = sorted({a for ag in agents for a in ag.addresses})
        self.chain.set_balances(addrs, 10_000_000 * 10**18)
        txs: list[Tx] = []
        for ag in agents:
            txs.extend(ag.setup(self))
        self.run_setup(txs, "agent setup")
        for ag in agents:
            after = getattr(ag, "after_setup", None)
            if after is not None:
                after(self)

    def deploy_searcher(self, owner: str, eoas: list[str]) -> str:
        """Deploy a ``contracts/Searcher.sol`` owned by ``owner`` that ``eoas`` may operate."""
        from mevgraph.sim.abi import encode_args
        from mevgraph.sim.artifacts import own_artifact

        self.chain.set_balance(owner, 10_000 * 10**18)
        code = own_artifact("Searcher").bytecode + encode_args(["address[]"], eoas)
        (r,) = self.run_setup([Tx(owner, None, code, gas=4_000_000)], "deploy searcher")
        return str(r["contractAddress"]).lower()

    def chain_profile(self) -> dict[str, Any]:
        """The ``chain.json`` an indexer needs to read this chain (see :mod:`mevgraph.core.chains`)."""
        w = self.world
        routers = {d.router: f"{d.name} Router02" for d in w.v2.values()}
        routers[w.v3.swap_router] = "Uniswap V3 SwapRouter"
        routers[w.v3.position_manager] = "Uniswap V3 NonfungiblePositionManager"
        lending: dict[str, str] = {}
        if self.aave is not None:
            routers[self.aave.pool] = "Aave V3 Pool"
            lending[self.aave.pool] = "aave_v3"
        return {
            "chain_id": w.chain_id,
            "name": "mevgraph testbed",
            "weth": w.weth,
            "tokens": [
                {
                    "address": t.address,
                    "symbol": t.symbol,
                    "decimals": t.decimals,
                    "usd_stable": t.symbol in ("USDC", "DAI"),
                }
                for t in w.tokens.values()
            ],
            "routers": routers,
            "v2_factories": [
                {
                    "protocol": d.protocol,
                    "factory": d.factory,
                    "init_code_hash": w.v2_init_code_hash,
                    "fee_ppm": d.fee_ppm,
                }
                for d in w.v2.values()
            ],
            "v3_factories": [
                {"protocol": "uniswap_v3", "factory": w.v3.factory, "init_code_hash": w.v3_init_code_hash}
            ],
            "lending_pools": lending,
        }


def deadline() -> int:
    return DEADLINE
