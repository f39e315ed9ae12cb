"""The testbed world: a mainnet-like DeFi state on a fresh anvil, deployed from real npm bytecode.

:func:`deploy_world` deploys, in three blocks:

* WETH9 (canonical-weth) and test tokens with an open mint (``contracts/TestToken.sol``): USDC (6
  decimals), DAI (18), WBTC (8), LINK (18);
* two Uniswap V2 deployments -- ``"uniswap"`` and ``"sushiswap"``: a ``UniswapV2Factory`` and a
  ``UniswapV2Router02`` each, with the same npm Pair bytecode -- and pairs on both for WETH/USDC,
  WETH/DAI, WETH/WBTC, WETH/LINK, USDC/DAI and LINK/USDC (so triangular loops exist);
* Uniswap V3: factory, ``SwapRouter``, ``NonfungiblePositionManager`` (token descriptor = zero
  address), ``QuoterV2``; pools WETH/USDC 0.05 % and 0.3 %, WETH/DAI 0.05 %, WBTC/WETH 0.3 %,
  LINK/WETH 0.3 %, each with several range positions (full range plus narrower ranges around
  the price) minted through the position manager by the LP address.

All venues start at the same prices (:data:`PRICES_USD`: ETH 2000, WBTC 40000, LINK 15, stables 1
USD), so nothing is arbitrageable until somebody trades. Depth is mainnet-like: the uniswap
WETH/USDC pair holds 5M USD per side (2M on sushiswap), so a 1k--50k USD swap moves it 0.04--2 %.

The pair and pool init-code hashes are asserted at deploy time: the npm Pair creation code must
hash to the constant inside Router02 and the V3 Pool code to the one inside SwapRouter,
NonfungiblePositionManager and QuoterV2, and every ``getPair``/``getPool`` must equal the CREATE2
address computed from them (which is also how :mod:`mevgraph.decode.pools` names the DEX).

Deploying takes seconds; :func:`build_world_state` does it once and saves the node state plus
``world.json`` in a cache directory keyed by everything that could change the result, and
:func:`load_world` starts anvil from that state in a fraction of a second. The chain is
deterministic: same deployer nonces, so same addresses, and block timestamps advance 12 s per
block from 1_700_000_000 (Nov 2023).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from mevgraph.decode.abi import keccak_hex
from mevgraph.decode.pools import (
    register_v2_factory,
    register_v3_factory,
    sort_tokens,
    v2_pair_address,
    v3_pool_address,
)
from mevgraph.sim import artifacts as art
from mevgraph.sim.aave import AaveAsset, AaveMarket, deploy_aave
from mevgraph.sim.abi import decode, encode_args, encode_call
from mevgraph.sim.chain import Chain, RpcError, Tx
from mevgraph.sim.node import ROOT, Anvil

__all__ = [
    "CHAIN_ID",
    "GENESIS_TIMESTAMP",
    "BLOCK_TIME",
    "ANVIL_ARGS",
    "DEPLOYER",
    "LP",
    "PRICES_USD",
    "V2_PAIR_INIT_CODE_HASH",
    "V3_POOL_INIT_CODE_HASH",
    "DEADLINE",
    "MIN_TICK",
    "MAX_TICK",
    "Token",
    "V2Dex",
    "V2Pair",
    "V3Deployment",
    "V3Pool",
    "V3Position",
    "World",
    "deploy_world",
    "sqrt_price_x96",
    "price_from_sqrt_price_x96",
    "approx_tick",
    "v2_reserves",
    "v3_slot0",
    "world_cache_key",
    "default_cache_dir",
    "build_world_state",
    "load_world",
]

CHAIN_ID = 1337
GENESIS_TIMESTAMP = 1_700_000_000
BLOCK_TIME = 12
# Passed again on every start: ``--load-state`` restores accounts and blocks, not node settings.
ANVIL_ARGS: tuple[str, ...] = (
    "--auto-impersonate",
    "--order",
    "fees",
    "--gas-limit",
    "120000000",
    "--base-fee",
    "1000000000",
    "--chain-id",
    str(CHAIN_ID),
)
# anvil's first two dev accounts: their keys are public, so bots may also sign raw transactions.
DEPLOYER = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
LP = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"

PRICES_USD: dict[str, Fraction] = {
    "WETH": Fraction(2000),
    "USDC": Fraction(1),
    "DAI": Fraction(1),
    "WBTC": Fraction(40000),
    "LINK": Fraction(15),
}
# symbol -> (name, decimals) of the TestToken deployments (WETH is WETH9, 18 decimals).
_TEST_TOKENS: dict[str, tuple[str, int]] = {
    "USDC": ("USD Coin", 6),
    "DAI": ("Dai Stablecoin", 18),
    "WBTC": ("Wrapped BTC", 8),
    "LINK": ("ChainLink Token", 18),
}

V2_PAIR_INIT_CODE_HASH = "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"
V3_POOL_INIT_CODE_HASH = "0xe34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"
DEADLINE = 2**63  # router deadlines: never reached by any block timestamp
MIN_TICK, MAX_TICK = -887272, 887272
_TICK_SPACING = {500: 10, 3000: 60, 10000: 200}
_Q96 = 2**96
_UINT_MAX = 2**256 - 1

# (dex, protocol name the decoder gives its pairs) -- see World.register_protocols.
_V2_DEXES = (("uniswap", "uniswap_v2"), ("sushiswap", "sushiswap"))
# (token a, token b) -> USD per side on (uniswap, sushiswap).
_V2_LIQUIDITY_USD: dict[tuple[str, str], tuple[int, int]] = {
    ("WETH", "USDC"): (5_000_000, 2_000_000),
    ("WETH", "DAI"): (2_000_000, 1_000_000),
    ("WETH", "WBTC"): (2_000_000, 1_000_000),
    ("WETH", "LINK"): (1_000_000, 500_000),
    ("USDC", "DAI"): (2_000_000, 1_000_000),
    ("LINK", "USDC"): (500_000, 250_000),
}
# (token a, token b, fee) -> positions as (half-width in ticks or None = full range, USD per side).
# A range of +-w ticks spans prices x/1.0001**w .. x*1.0001**w (w = 1000 is about +-10 %).
_V3_POSITIONS: dict[tuple[str, str, int], tuple[tuple[int | None, int], ...]] = {
    ("WETH", "USDC", 500): ((None, 500_000), (1000, 250_000), (200, 50_000), (50, 10_000)),
    ("WETH", "USDC", 3000): ((None, 300_000), (1000, 100_000), (200, 20_000)),
    ("WETH", "DAI", 500): ((None, 200_000), (1000, 100_000), (200, 20_000)),
    ("WBTC", "WETH", 3000): ((None, 200_000), (1000, 100_000), (200, 20_000)),
    ("LINK", "WETH", 3000): ((None, 100_000), (1000, 50_000), (200, 10_000)),
}

_TOPIC_INCREASE_LIQUIDITY = keccak_hex(b"IncreaseLiquidity(uint256,uint128,uint256,uint256)")
_MINT_PARAMS = "(address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256)"


# -- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Token:
    address: str
    symbol: str
    decimals: int


@dataclass(frozen=True, slots=True)
class V2Dex:
    """A Uniswap V2 deployment; ``protocol`` is the name the decoder gives its swaps."""

    name: str
    protocol: str
    factory: str
    router: str
    fee_ppm: int = 3000


@dataclass(frozen=True, slots=True)
class V2Pair:
    """A pair of ``dex``; ``token0 < token1`` as the pair orders them."""

    dex: str
    address: str
    token0: str
    token1: str


@dataclass(frozen=True, slots=True)
class V3Deployment:
    factory: str
    swap_router: str
    position_manager: str
    quoter: str


@dataclass(frozen=True, slots=True)
class V3Pool:
    address: str
    token0: str
    token1: str
    fee: int
    tick_spacing: int


@dataclass(frozen=True, slots=True)
class V3Position:
    """A position NFT of the position manager, owned by ``owner``."""

    token_id: int
    pool: str
    owner: str
    tick_lower: int
    tick_upper: int
    liquidity: int


@dataclass(frozen=True, slots=True)
class World:
    """Addresses and facts of a deployed testbed (JSON round trip: :meth:`to_json`/:meth:`from_json`).

    Token arguments of the lookups accept a symbol (``"WETH"``) or an address.
    """

    chain_id: int
    deployer: str
    lp: str
    weth: str
    tokens: dict[str, Token]
    prices_usd: dict[str, Fraction]
    v2: dict[str, V2Dex]
    v2_pairs: tuple[V2Pair, ...]
    v3: V3Deployment
    v3_pools: tuple[V3Pool, ...]
    v3_positions: tuple[V3Position, ...]
    v2_init_code_hash: str
    v3_init_code_hash: str
    block_number: int
    timestamp: int
    _by_address: dict[str, Token] = field(init=False, repr=False, compare=False)
    _pairs: dict[tuple[str, str, str], V2Pair] = field(init=False, repr=False, compare=False)
    _pools: dict[tuple[str, str, int], V3Pool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_address", {t.address: t for t in self.tokens.values()})
        object.__setattr__(self, "_pairs", {(p.dex, p.token0, p.token1): p for p in self.v2_pairs})
        object.__setattr__(self, "_pools", {(p.token0, p.token1, p.fee): p for p in self.v3_pools})

    # -- lookups ----------------------------------------------------------------------------------
    def addr(self, token: str) -> str:
        """Address of a token given by symbol or address."""
        if token.startswith("0x"):
            return token.lower()
        return self.tokens[token].address

    def token_by_address(self, address: str) -> Token:
        return self._by_address[address.lower()]

    def pair(self, dex: str, a: str, b: str) -> V2Pair:
        """The V2 pair of ``a``/``b`` (either order) on ``dex``; ``KeyError`` if not deployed."""
        t0, t1 = sort_tokens(self.addr(a), self.addr(b))
        return self._pairs[(dex, t0, t1)]

    def v3_pool(self, a: str, b: str, fee: int) -> V3Pool:
        """The V3 pool of ``a``/``b`` (either order) at ``fee`` ppm; ``KeyError`` if not deployed."""
        t0, t1 = sort_tokens(self.addr(a), self.addr(b))
        return self._pools[(t0, t1, fee)]

    def price(self, base: str, quote: str) -> Fraction:
        """Reference price: units of ``quote`` per unit of ``base`` (human units, e.g. WETH in USDC)."""
        b, q = self.token_by_address(self.addr(base)), self.token_by_address(self.addr(quote))
        return self.prices_usd[b.symbol] / self.prices_usd[q.symbol]

    def units(self, token: str, amount: int | Fraction | str) -> int:
        """Raw amount of ``amount`` human units of ``token`` (``units("USDC", 5) == 5_000_000``)."""
        t = self.token_by_address(self.addr(token))
        return int(Fraction(amount) * 10**t.decimals)

    def register_protocols(self) -> None:
        """Let the decoder name this world's swaps ("uniswap_v2", "sushiswap", "uniswap_v3").

        The decoder identifies a pool by recomputing its CREATE2 address from known factories
        per chain id; the testbed's factories live on chain :data:`CHAIN_ID` at addresses of its
        own. Idempotent; affects this process only.
        """
        for dex in self.v2.values():
            register_v2_factory(self.chain_id, dex.protocol, dex.factory, self.v2_init_code_hash, dex.fee_ppm)
        register_v3_factory(self.chain_id, "uniswap_v3", self.v3.factory, self.v3_init_code_hash)

    # -- JSON -------------------------------------------------------------------------------------
    def to_json(self) -> str:
        def rows(items: Iterable[Any]) -> list[dict[str, Any]]:
            return [{k: getattr(x, k) for k in x.__slots__} for x in items]

        obj = {
            "chain_id": self.chain_id,
            "deployer": self.deployer,
            "lp": self.lp,
            "weth": self.weth,
            "tokens": rows(self.tokens.values()),
            "prices_usd": {k: str(v) for k, v in self.prices_usd.items()},
            "v2": rows(self.v2.values()),
            "v2_pairs": rows(self.v2_pairs),
            "v3": rows([self.v3])[0],
            "v3_pools": rows(self.v3_pools),
            "v3_positions": rows(self.v3_positions),
            "v2_init_code_hash": self.v2_init_code_hash,
            "v3_init_code_hash": self.v3_init_code_hash,
            "block_number": self.block_number,
            "timestamp": self.timestamp,
        }
        # stdlib json: liquidities exceed orjson's 64-bit integer range.
        return json.dumps(obj, indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> World:
        o = json.loads(text)
        return cls(
            chain_id=o["chain_id"],
            deployer=o["deployer"],
            lp=o["lp"],
            weth=o["weth"],
            tokens={t["symbol"]: Token(**t) for t in o["tokens"]},
            prices_usd={k: Fraction(v) for k, v in o["prices_usd"].items()},
            v2={d["name"]: V2Dex(**d) for d in o["v2"]},
            v2_pairs=tuple(V2Pair(**p) for p in o["v2_pairs"]),
            v3=V3Deployment(**o["v3"]),
            v3_pools=tuple(V3Pool(**p) for p in o["v3_pools"]),
            v3_positions=tuple(V3Position(**p) for p in o["v3_positions"]),
            v2_init_code_hash=o["v2_init_code_hash"],
            v3_init_code_hash=o["v3_init_code_hash"],
            block_number=o["block_number"],
            timestamp=o["timestamp"],
        )


# -- price math ------------------------------------------------------------------------------------
def sqrt_price_x96(price: Fraction | int | str, decimals0: int, decimals1: int) -> int:
    """Uniswap V3 ``sqrtPriceX96`` for ``price`` human units of token1 per token0, exactly.

    The pool works in raw units: ``P = price * 10**decimals1 / 10**decimals0`` (token1 raw per
    token0 raw) and stores ``floor(sqrt(P) * 2**96)``. With ``P = n/d`` that equals
    ``isqrt(floor(n * 2**192 / d))`` (``floor(sqrt(floor(x))) == floor(sqrt(x))`` for ``x >= 0``),
    so no float is involved.

    >>> sqrt_price_x96(1, 18, 18) == 2**96
    True
    >>> sqrt_price_x96(Fraction(1, 2000), 6, 18)  # USDC/WETH: WETH per USDC at ETH = 2000 USD
    1771595571142957102961017161607260
    """
    p = Fraction(price) * 10**decimals1 / 10**decimals0
    if p <= 0:
        raise ValueError(f"price must be positive, got {price}")
    return math.isqrt(p.numerator * 2**192 // p.denominator)


def price_from_sqrt_price_x96(sqrt_price: int, decimals0: int, decimals1: int) -> Fraction:
    """Inverse of :func:`sqrt_price_x96`: human units of token1 per token0 (exact rational)."""
    return Fraction(sqrt_price * sqrt_price, 2**192) * 10**decimals0 / 10**decimals1


def approx_tick(sqrt_price: int) -> int:
    """``floor(log_1.0001(P))`` for ``sqrt_price = sqrtPriceX96``, computed in floating point.

    Exact except for prices within ~1e-12 of a tick boundary; used to centre position ranges,
    which are then aligned to the tick spacing, so an off-by-one there is harmless.
    """
    return math.floor(2 * math.log(sqrt_price / _Q96) / math.log(1.0001))


def _range(tick: int, half_width: int | None, spacing: int) -> tuple[int, int]:
    """Tick range of +-``half_width`` around ``tick`` widened to multiples of ``spacing``."""
    if half_width is None:
        return -(MAX_TICK // spacing) * spacing, (MAX_TICK // spacing) * spacing
    return ((tick - half_width) // spacing) * spacing, -((-(tick + half_width)) // spacing) * spacing


# -- reads -----------------------------------------------------------------------------------------
def v2_reserves(chain: Chain, pairs: Iterable[str | V2Pair]) -> dict[str, tuple[int, int]]:
    """``{pair address: (reserve0, reserve1)}`` for ``pairs``, one batched ``getReserves`` request."""
    addrs = [p.address if isinstance(p, V2Pair) else p.lower() for p in pairs]
    data = encode_call("getReserves()")
    out: dict[str, tuple[int, int]] = {}
    for a, r in zip(addrs, chain.call_many([(a, data) for a in addrs]), strict=True):
        if isinstance(r, RpcError):
            raise r
        r0, r1, _ = decode(["uint112", "uint112", "uint32"], r)
        out[a] = (r0, r1)
    return out


def v3_slot0(chain: Chain, pools: Iterable[str | V3Pool]) -> dict[str, tuple[int, int]]:
    """``{pool address: (sqrtPriceX96, tick)}``, one batched ``slot0`` request."""
    addrs = [p.address if isinstance(p, V3Pool) else p.lower() for p in pools]
    data = encode_call("slot0()")
    out: dict[str, tuple[int, int]] = {}
    for a, r in zip(addrs, chain.call_many([(a, data) for a in addrs]), strict=True):
        if isinstance(r, RpcError):
            raise r
        sp, tick = decode(["uint160", "int24"], r[:64])
        out[a] = (sp, tick)
    return out


# -- deployment ------------------------------------------------------------------------------------
def _check_init_code_hashes() -> tuple[str, str]:
    """Hash the npm Pair/Pool creation code and check the periphery contracts embed the same."""
    v2 = keccak_hex(art.npm_artifact(art.V2_PAIR_ARTIFACT).bytecode)
    if v2 != V2_PAIR_INIT_CODE_HASH:
        raise AssertionError(f"UniswapV2Pair init code hash {v2} != {V2_PAIR_INIT_CODE_HASH}")
    if bytes.fromhex(v2[2:]) not in art.npm_artifact(art.V2_ROUTER_ARTIFACT).bytecode:
        raise AssertionError("UniswapV2Router02 does not embed the Pair init code hash")
    v3 = keccak_hex(art.npm_artifact(art.V3_POOL_ARTIFACT).bytecode)
    if v3 != V3_POOL_INIT_CODE_HASH:
        raise AssertionError(f"UniswapV3Pool init code hash {v3} != {V3_POOL_INIT_CODE_HASH}")
    for path in (art.V3_SWAP_ROUTER_ARTIFACT, art.V3_POSITION_MANAGER_ARTIFACT, art.V3_QUOTER_V2_ARTIFACT):
        if bytes.fromhex(v3[2:]) not in art.npm_artifact(path).bytecode:
            raise AssertionError(f"{path} does not embed the V3 Pool init code hash")
    return v2, v3


def _block(chain: Chain, txs: Sequence[tuple[str, Tx]]) -> list[dict[str, Any]]:
    """Send ``(label, tx)`` pairs, mine until all are included, return receipts; raise on failure."""
    return chain.run_all([t for _, t in txs], "world deployment", labels=[label for label, _ in txs])


def _create(label: str, code: bytes, gas: int = 6_000_000) -> tuple[str, Tx]:
    return label, Tx(DEPLOYER, None, code, gas=gas)


def _call(frm: str, to: str, signature: str, *args: Any, gas: int = 1_000_000) -> tuple[str, Tx]:
    label = f"{signature.split('(')[0]} on {to} from {frm}"
    return label, Tx(frm, to, encode_call(signature, *args), gas=gas)


def _created(txs: Sequence[tuple[str, Tx]], receipts: Sequence[dict[str, Any]]) -> dict[str, str]:
    """``{label: deployed address}`` of the contract creations among ``txs``."""
    return {
        label: str(r["contractAddress"]).lower()
        for (label, tx), r in zip(txs, receipts, strict=True)
        if tx.to is None
    }


def _usd_amount(usd: int, token: Token) -> int:
    """Raw amount of ``token`` worth ``usd`` at :data:`PRICES_USD` (rounded down)."""
    return int(Fraction(usd) * 10**token.decimals / PRICES_USD[token.symbol])


def _lp_needs(tokens: dict[str, Token]) -> dict[str, int]:
    """Raw amount of each token the LP puts into all V2 pairs and V3 positions."""
    need = dict.fromkeys(tokens, 0)
    for (a, b), per_dex in _V2_LIQUIDITY_USD.items():
        for usd in per_dex:
            need[a] += _usd_amount(usd, tokens[a])
            need[b] += _usd_amount(usd, tokens[b])
    for (a, b, _), positions in _V3_POSITIONS.items():
        for _, usd in positions:
            need[a] += _usd_amount(usd, tokens[a])
            need[b] += _usd_amount(usd, tokens[b])
    return need


def deploy_world(chain: Chain) -> World:
    """Deploy the whole world on ``chain`` (a fresh anvil started with :data:`ANVIL_ARGS`).

    Mining is switched off while deploying (three blocks, each mined when its transactions are
    in the pool) and left off; callers choose their own mining mode.
    """
    v2_hash, v3_hash = _check_init_code_hashes()
    chain.automine(False)
    chain.set_balances([DEPLOYER], 10**21)
    chain.set_balances([LP], 10**24)

    # Block 1: tokens and factories.
    b1 = [_create("WETH9", art.npm_artifact(art.WETH9_ARTIFACT).bytecode, gas=2_000_000)]
    tt = art.own_artifact("TestToken").bytecode
    for sym, (name, dec) in _TEST_TOKENS.items():
        b1.append(_create(sym, tt + encode_args(["string", "string", "uint8"], name, sym, dec)))
    v2f = art.npm_artifact(art.V2_FACTORY_ARTIFACT).bytecode + encode_args(["address"], DEPLOYER)
    b1 += [_create(f"{dex} factory", v2f, gas=5_000_000) for dex, _ in _V2_DEXES]
    b1.append(_create("V3 factory", art.npm_artifact(art.V3_FACTORY_ARTIFACT).bytecode, gas=8_000_000))
    addr = _created(b1, _block(chain, b1))

    weth = addr["WETH9"]
    tokens = {"WETH": Token(weth, "WETH", 18)}
    tokens.update({s: Token(addr[s], s, d) for s, (_, d) in _TEST_TOKENS.items()})
    factories = {dex: addr[f"{dex} factory"] for dex, _ in _V2_DEXES}
    v3_factory = addr["V3 factory"]

    # Block 2: periphery and V2 pairs (deployer); the LP wraps ETH and mints its tokens.
    router = art.npm_artifact(art.V2_ROUTER_ARTIFACT).bytecode
    b2 = [
        _create(f"{dex} router", router + encode_args(["address", "address"], factories[dex], weth))
        for dex, _ in _V2_DEXES
    ]
    fw = encode_args(["address", "address"], v3_factory, weth)
    npm_args = encode_args(["address", "address", "address"], v3_factory, weth, "0x" + "00" * 20)
    b2 += [
        _create("SwapRouter", art.npm_artifact(art.V3_SWAP_ROUTER_ARTIFACT).bytecode + fw),
        _create("NPM", art.npm_artifact(art.V3_POSITION_MANAGER_ARTIFACT).bytecode + npm_args, gas=8_000_000),
        _create("QuoterV2", art.npm_artifact(art.V3_QUOTER_V2_ARTIFACT).bytecode + fw),
    ]
    create_pair = "createPair(address,address)"
    for dex, _ in _V2_DEXES:
        for a, b in _V2_LIQUIDITY_USD:
            b2.append(
                _call(
                    DEPLOYER, factories[dex], create_pair, tokens[a].address, tokens[b].address, gas=4_000_000
                )
            )
    need = _lp_needs(tokens)
    b2.append(("LP wraps ETH", Tx(LP, weth, encode_call("deposit()"), value=need["WETH"], gas=100_000)))
    b2 += [_call(LP, tokens[s].address, "mint(address,uint256)", LP, need[s]) for s in _TEST_TOKENS]
    addr.update(_created(b2, _block(chain, b2)))

    v2 = {dex: V2Dex(dex, protocol, factories[dex], addr[f"{dex} router"]) for dex, protocol in _V2_DEXES}
    v3 = V3Deployment(v3_factory, addr["SwapRouter"], addr["NPM"], addr["QuoterV2"])

    # Block 3 (LP): approvals, V2 liquidity through the routers, V3 pools and positions through
    # the position manager.
    spenders = [*(d.router for d in v2.values()), v3.position_manager]
    b3 = [
        _call(LP, t.address, "approve(address,uint256)", spender, _UINT_MAX)
        for t in tokens.values()
        for spender in spenders
    ]
    for i, (dex, _) in enumerate(_V2_DEXES):
        for (a, b), per_dex in _V2_LIQUIDITY_USD.items():
            amt_a = _usd_amount(per_dex[i], tokens[a])
            amt_b = _usd_amount(per_dex[i], tokens[b])
            sig = "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)"
            args = (tokens[a].address, tokens[b].address, amt_a, amt_b, amt_a, amt_b, LP, DEADLINE)
            b3.append(_call(LP, v2[dex].router, sig, *args))
    pools: list[V3Pool] = []
    mints: list[int] = []  # indexes of the mint transactions in b3
    for (a, b, fee), positions in _V3_POSITIONS.items():
        t0, t1 = sorted((tokens[a], tokens[b]), key=lambda t: t.address)
        sp = sqrt_price_x96(PRICES_USD[t0.symbol] / PRICES_USD[t1.symbol], t0.decimals, t1.decimals)
        spacing = _TICK_SPACING[fee]
        pool = v3_pool_address(v3.factory, t0.address, t1.address, fee, v3_hash)
        pools.append(V3Pool(pool, t0.address, t1.address, fee, spacing))
        sig = "createAndInitializePoolIfNecessary(address,address,uint24,uint160)"
        b3.append(_call(LP, v3.position_manager, sig, t0.address, t1.address, fee, sp, gas=6_000_000))
        tick = approx_tick(sp)
        for half_width, usd in positions:
            lo, hi = _range(tick, half_width, spacing)
            params = (t0.address, t1.address, fee, lo, hi, _usd_amount(usd, t0), _usd_amount(usd, t1))
            mints.append(len(b3))
            b3.append(_call(LP, v3.position_manager, f"mint({_MINT_PARAMS})", (*params, 0, 0, LP, DEADLINE)))
    r3 = _block(chain, b3)

    # Positions: token id and liquidity from the position manager's IncreaseLiquidity event,
    # pool and range from the calldata.
    positions_out: list[V3Position] = []
    for k in mints:
        (p,) = decode([_MINT_PARAMS], b3[k][1].data[4:])
        (lg,) = [x for x in r3[k]["logs"] if x["topics"][0] == _TOPIC_INCREASE_LIQUIDITY]
        pool = v3_pool_address(v3.factory, p[0].lower(), p[1].lower(), p[2], v3_hash)
        positions_out.append(
            V3Position(int(lg["topics"][1], 16), pool, LP, p[3], p[4], int(lg["data"][2:66], 16))
        )

    # The factories must have deployed exactly where CREATE2 with the asserted hashes says.
    pairs: list[V2Pair] = []
    checks: list[tuple[str, str, bytes]] = []  # (expected address, factory, getter call)
    for dex, _ in _V2_DEXES:
        for a, b in _V2_LIQUIDITY_USD:
            a0, a1 = sort_tokens(tokens[a].address, tokens[b].address)
            pair = v2_pair_address(v2[dex].factory, a0, a1, v2_hash)
            pairs.append(V2Pair(dex, pair, a0, a1))
            checks.append((pair, v2[dex].factory, encode_call("getPair(address,address)", a0, a1)))
    for pl in pools:
        get_pool = encode_call("getPool(address,address,uint24)", pl.token0, pl.token1, pl.fee)
        checks.append((pl.address, v3.factory, get_pool))
    got = chain.call_many([(factory, data) for _, factory, data in checks])
    for (want, factory, _), res in zip(checks, got, strict=True):
        if isinstance(res, RpcError) or "0x" + res[-20:].hex() != want:
            raise AssertionError(f"factory {factory} deployed a pool elsewhere than CREATE2 {want}: {res!r}")

    head = chain.rpc("eth_getBlockByNumber", "latest", False)
    return World(
        chain_id=chain.chain_id,
        deployer=DEPLOYER,
        lp=LP,
        weth=weth,
        tokens=tokens,
        prices_usd={s: PRICES_USD[s] for s in tokens},
        v2=v2,
        v2_pairs=tuple(pairs),
        v3=v3,
        v3_pools=tuple(pools),
        v3_positions=tuple(positions_out),
        v2_init_code_hash=v2_hash,
        v3_init_code_hash=v3_hash,
        block_number=int(head["number"], 16),
        timestamp=int(head["timestamp"], 16),
    )


# -- saved state -----------------------------------------------------------------------------------
def world_cache_key() -> str:
    """Hash of everything that changes the deployed world: npm lock file, own contract sources and
    compiled TestToken, this module and the artifact loader."""
    h = hashlib.sha256()
    paths = [ROOT / "package-lock.json", *sorted((ROOT / "contracts").glob("*.sol"))]
    paths += [art.OWN_BUILD / "TestToken.json", Path(__file__), Path(art.__file__)]
    paths += [Path(__file__).with_name("aave.py")]
    for p in paths:
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes() if p.is_file() else b"<missing>")
    return h.hexdigest()[:16]


def default_cache_dir() -> Path:
    """``build/testbed/<world_cache_key()>`` (override the root with ``MEVGRAPH_TESTBED_CACHE``)."""
    base = Path(os.environ.get("MEVGRAPH_TESTBED_CACHE", ROOT / "build" / "testbed"))
    return base / world_cache_key()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a concurrent reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_world_state(cache_dir: Path | None = None, *, rebuild: bool = False) -> tuple[Path, Path]:
    """Deploy the world on a fresh anvil and save ``state.json`` + ``world.json`` in ``cache_dir``.

    Does nothing if both files exist (unless ``rebuild``). Returns their paths.
    """
    d = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    state_file, world_file = d / "state.json", d / "world.json"
    if not rebuild and state_file.is_file() and world_file.is_file():
        return state_file, world_file
    d.mkdir(parents=True, exist_ok=True)
    with Anvil(*ANVIL_ARGS, "--no-mining", "--timestamp", str(GENESIS_TIMESTAMP)) as node:
        chain = Chain(node.url)
        try:
            chain.rpc("anvil_setBlockTimestampInterval", BLOCK_TIME)
            world = deploy_world(chain)
            market = deploy_world_aave(chain, world)
            head = chain.rpc("eth_getBlockByNumber", "latest", False)
            world = replace(world, block_number=int(head["number"], 16), timestamp=int(head["timestamp"], 16))
            dumped = bytes.fromhex(chain.dump_state().removeprefix("0x"))
        finally:
            chain.close()
    if dumped[:2] == b"\x1f\x8b":  # anvil_dumpState answers gzip-compressed JSON
        dumped = gzip.decompress(dumped)
    _write_atomic(state_file, dumped)
    _write_atomic(d / "aave.json", json.dumps(market.to_json(), indent=2).encode())
    _write_atomic(world_file, world.to_json().encode())
    return state_file, world_file


# Aave V3 listing of the world's tokens: (symbol, ltv, liquidation threshold, bonus, borrowable).
_AAVE_RESERVES = (
    ("WETH", 8000, 8250, 500, False),
    ("WBTC", 7000, 7500, 1000, False),
    ("LINK", 5000, 6500, 1000, False),
    ("USDC", 0, 0, 0, True),
    ("DAI", 0, 0, 0, True),
)
_AAVE_SEED_USD = 20_000_000  # USDC and DAI supplied by the deployer so borrowers can borrow


def deploy_world_aave(chain: Chain, world: World) -> AaveMarket:
    """An Aave V3 market over the world's tokens, fed by one settable price feed per token
    (prices :data:`PRICES_USD`), with USDC and DAI liquidity supplied by the deployer."""
    assets = [
        AaveAsset(
            token=world.addr(sym),
            symbol=sym,
            decimals=world.tokens[sym].decimals,
            price_usd_1e8=int(PRICES_USD[sym] * 10**8),
            ltv_bps=ltv,
            lt_bps=lt,
            bonus_bps=bonus,
            borrowable=borrowable,
            collateral=not borrowable,
        )
        for sym, ltv, lt, bonus, borrowable in _AAVE_RESERVES
    ]
    market = deploy_aave(chain, DEPLOYER, assets)
    for sym in ("USDC", "DAI"):
        amount = world.units(sym, _AAVE_SEED_USD)
        _block(chain, [_call(DEPLOYER, world.addr(sym), "mint(address,uint256)", DEPLOYER, amount)])
        _block(
            chain,
            [
                (f"approve {sym}", Tx(DEPLOYER, world.addr(sym), market.approve_pool(amount), gas=100_000)),
                (
                    f"supply {sym}",
                    Tx(DEPLOYER, market.pool, market.supply(world.addr(sym), amount, DEPLOYER)),
                ),
            ],
        )
    return market


def load_aave(cache_dir: Path | None = None) -> AaveMarket:
    """The Aave market saved with the world (``aave.json`` beside ``world.json``)."""
    state_file, _ = build_world_state(cache_dir)
    return AaveMarket.from_json(json.loads((state_file.parent / "aave.json").read_text()))


def load_world(
    cache_dir: Path | None = None,
    *args: str,
    block_time: int | None = BLOCK_TIME,
    register: bool = True,
) -> tuple[Anvil, Chain, World]:
    """Start anvil on the saved world (building it first if needed).

    ``args`` are extra anvil arguments (e.g. ``"--no-mining"``); :data:`ANVIL_ARGS` are always
    passed because ``--load-state`` restores the chain, not the node settings. Block
    timestamps continue from the saved head: +``block_time`` seconds per mined block, or, with
    ``block_time=None``, the wall-clock time elapsed since the start. ``register`` makes the
    decoder name this world's pools (:meth:`World.register_protocols`). The caller stops the
    returned :class:`Anvil` (or uses it as a context manager).
    """
    state_file, world_file = build_world_state(cache_dir)
    world = World.from_json(world_file.read_bytes())
    node = Anvil(*ANVIL_ARGS, *args, load_state=state_file)
    chain = Chain(node.url)
    try:
        # Without this the next block would jump to the real time of day. anvil stamps the next
        # block with the set time plus the interval when one is set, else with the set time.
        if block_time is not None:
            chain.batch(
                [("evm_setTime", [world.timestamp]), ("anvil_setBlockTimestampInterval", [block_time])]
            )
        else:
            chain.rpc("evm_setTime", world.timestamp + 1)
        if chain.block_number() != world.block_number:
            raise RuntimeError(f"{state_file} does not hold the world of {world_file}")
    except BaseException:
        chain.close()
        node.stop()
        raise
    if register:
        world.register_protocols()
    return node, chain, world
