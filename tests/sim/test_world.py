"""The testbed world on a real anvil: deploy, init-code hashes, prices and depth, swaps through the
real routers decoded by the real decoder, and a fast reload from the saved state."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from mevgraph.core.actions import Swap
from mevgraph.decode.abi import keccak_hex
from mevgraph.decode.decoder import decode_block
from mevgraph.decode.pools import (
    V2_FACTORIES,
    V3_FACTORIES,
    identify_v2,
    register_v2_factory,
    register_v3_factory,
    v2_pair_address,
    v3_pool_address,
)
from mevgraph.ingest.files import block_from_object
from mevgraph.sim import artifacts as art
from mevgraph.sim.abi import decode, encode_call
from mevgraph.sim.chain import Chain, Tx
from mevgraph.sim.node import AnvilMissing, anvil_binary
from mevgraph.sim.world import (
    BLOCK_TIME,
    CHAIN_ID,
    DEADLINE,
    GENESIS_TIMESTAMP,
    V2_PAIR_INIT_CODE_HASH,
    V3_POOL_INIT_CODE_HASH,
    World,
    build_world_state,
    load_world,
    price_from_sqrt_price_x96,
    sqrt_price_x96,
    v2_reserves,
    v3_slot0,
    world_cache_key,
)

pytestmark = pytest.mark.node

TRADER = "0x00000000000000000000000000000000007e57e5"
_UINT_MAX = 2**256 - 1


def _require_testbed() -> None:
    """Skip without the npm node/artifacts (fail under ``CI=true``: CI must not skip these)."""
    try:
        anvil_binary()
        art.npm_artifact(art.V2_PAIR_ARTIFACT)
        art.own_artifact("TestToken")
    except (AnvilMissing, art.ArtifactMissing) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A world deployed from scratch in this run (not the shared cache), and the build time."""
    _require_testbed()
    d = tmp_path_factory.mktemp("world")
    t0 = time.perf_counter()
    build_world_state(d)
    return d, time.perf_counter() - t0


@pytest.fixture
def env(saved: tuple[Path, float]) -> Iterator[tuple[Chain, World]]:
    node, chain, world = load_world(saved[0], "--no-mining")
    try:
        yield chain, world
    finally:
        chain.close()
        node.stop()


# -- price math (no node) --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("price", "dec0", "dec1"),
    [
        (Fraction(1, 2000), 6, 18),
        (Fraction(2000), 18, 6),
        (Fraction(1, 20), 8, 18),
        (Fraction(15, 2000), 18, 18),
    ],
)
def test_sqrt_price_x96_is_the_exact_floor(price: Fraction, dec0: int, dec1: int) -> None:
    s = sqrt_price_x96(price, dec0, dec1)
    raw = price * 10**dec1 / 10**dec0
    # s = floor(sqrt(raw) * 2**96)  <=>  s**2 <= raw * 2**192 < (s + 1)**2
    assert s * s <= raw * 2**192 < (s + 1) ** 2
    assert math.isclose(float(price_from_sqrt_price_x96(s, dec0, dec1)), float(price), rel_tol=1e-12)


def test_sqrt_price_x96_rejects_non_positive_prices() -> None:
    with pytest.raises(ValueError):
        sqrt_price_x96(0, 18, 18)


def test_register_factory_is_idempotent_and_refuses_conflicts(monkeypatch: pytest.MonkeyPatch) -> None:
    cid = 987_654
    monkeypatch.setitem(V2_FACTORIES, cid, ())
    monkeypatch.setitem(V3_FACTORIES, cid, ())
    factory = "0x" + "ab" * 20
    t0, t1 = "0x" + "01" * 20, "0x" + "02" * 20
    pair = v2_pair_address(factory, t0, t1, V2_PAIR_INIT_CODE_HASH)
    assert identify_v2(cid, pair, t0, t1) == ("uniswap_v2_fork", None)
    register_v2_factory(cid, "uniswap_v2", factory, V2_PAIR_INIT_CODE_HASH, 3000)
    register_v2_factory(cid, "uniswap_v2", factory.upper().replace("0X", "0x"), V2_PAIR_INIT_CODE_HASH, 3000)
    assert len(V2_FACTORIES[cid]) == 1
    assert identify_v2(cid, pair, t0, t1) == ("uniswap_v2", 3000)  # the stale cached answer is gone
    with pytest.raises(ValueError, match="already registered"):
        register_v2_factory(cid, "sushiswap", factory, V2_PAIR_INIT_CODE_HASH, 3000)
    register_v3_factory(cid, "uniswap_v3", factory, V3_POOL_INIT_CODE_HASH)
    register_v3_factory(cid, "uniswap_v3", factory, V3_POOL_INIT_CODE_HASH)
    with pytest.raises(ValueError, match="already registered"):
        register_v3_factory(cid, "other_v3", factory, V3_POOL_INIT_CODE_HASH)
    identify_v2.cache_clear()  # forget the registration with the monkeypatched tables


# -- the deployed world ----------------------------------------------------------------------------
def test_world_builds_quickly_and_is_complete(saved: tuple[Path, float], env: tuple[Chain, World]) -> None:
    chain, w = env
    print(f"\nworld deploy + dump: {saved[1]:.2f} s")
    assert saved[1] < 60
    assert w.chain_id == chain.chain_id == CHAIN_ID
    assert {s: t.decimals for s, t in w.tokens.items()} == {
        "WETH": 18,
        "USDC": 6,
        "DAI": 18,
        "WBTC": 8,
        "LINK": 18,
    }
    assert w.tokens["WETH"].address == w.weth
    assert set(w.v2) == {"uniswap", "sushiswap"}
    assert len({d.factory for d in w.v2.values()}) == 2 and len({d.router for d in w.v2.values()}) == 2
    for dex in w.v2:
        for a, b in [
            ("WETH", "USDC"),
            ("WETH", "DAI"),
            ("WETH", "WBTC"),
            ("WETH", "LINK"),
            ("USDC", "DAI"),
            ("LINK", "USDC"),
        ]:
            assert w.pair(dex, a, b) == w.pair(dex, b, a)
    for a, b, fee in [
        ("WETH", "USDC", 500),
        ("WETH", "USDC", 3000),
        ("WETH", "DAI", 500),
        ("WBTC", "WETH", 3000),
    ]:
        pool = w.v3_pool(b, a, fee)
        positions = [p for p in w.v3_positions if p.pool == pool.address]
        assert len(positions) >= 3 and all(p.owner == w.lp and p.liquidity > 0 for p in positions)
        assert any(p.tick_upper - p.tick_lower > 1_000_000 for p in positions)  # one is full range
    assert w.token_by_address(w.tokens["USDC"].address.upper().replace("0X", "0x")).symbol == "USDC"
    assert w.units("USDC", 5) == 5_000_000 and w.price("WETH", "USDC") == 2000
    # Every contract the world names has code.
    addrs = [t.address for t in w.tokens.values()] + [p.address for p in w.v2_pairs]
    addrs += (
        [p.address for p in w.v3_pools]
        + [d.router for d in w.v2.values()]
        + [d.factory for d in w.v2.values()]
    )
    addrs += [w.v3.factory, w.v3.swap_router, w.v3.position_manager, w.v3.quoter]
    codes = chain.batch([("eth_getCode", [a, "latest"]) for a in addrs])
    assert all(len(c) > 2 for c in codes)
    # Mainnet-like timestamps: 12 s blocks from the genesis timestamp.
    assert w.timestamp == GENESIS_TIMESTAMP + BLOCK_TIME * w.block_number


def test_init_code_hashes(env: tuple[Chain, World]) -> None:
    _, w = env
    assert w.v2_init_code_hash == keccak_hex(art.npm_artifact(art.V2_PAIR_ARTIFACT).bytecode)
    assert w.v2_init_code_hash == V2_PAIR_INIT_CODE_HASH
    assert w.v3_init_code_hash == keccak_hex(art.npm_artifact(art.V3_POOL_ARTIFACT).bytecode)
    assert w.v3_init_code_hash == V3_POOL_INIT_CODE_HASH
    for p in w.v2_pairs:
        assert p.address == v2_pair_address(w.v2[p.dex].factory, p.token0, p.token1, V2_PAIR_INIT_CODE_HASH)
    for pl in w.v3_pools:
        assert pl.address == v3_pool_address(
            w.v3.factory, pl.token0, pl.token1, pl.fee, V3_POOL_INIT_CODE_HASH
        )


def test_prices_are_consistent_across_venues(env: tuple[Chain, World]) -> None:
    chain, w = env
    for addr, (r0, r1) in v2_reserves(chain, w.v2_pairs).items():
        (p,) = [p for p in w.v2_pairs if p.address == addr]
        t0, t1 = w.token_by_address(p.token0), w.token_by_address(p.token1)
        got = Fraction(r1, 10**t1.decimals) / Fraction(r0, 10**t0.decimals)
        assert abs(got / w.price(p.token0, p.token1) - 1) < Fraction(1, 10**9), (p, got)
    for addr, (sp, tick) in v3_slot0(chain, w.v3_pools).items():
        (pl,) = [p for p in w.v3_pools if p.address == addr]
        t0, t1 = w.token_by_address(pl.token0), w.token_by_address(pl.token1)
        assert sp == sqrt_price_x96(w.price(pl.token0, pl.token1), t0.decimals, t1.decimals)
        for pos in (p for p in w.v3_positions if p.pool == addr):
            assert pos.tick_lower < tick < pos.tick_upper  # every position is in range at the start


def _v2_out(amount_in: int, r_in: int, r_out: int) -> int:
    x = amount_in * 997
    return x * r_out // (r_in * 1000 + x)


def test_depth_is_mainnet_like(env: tuple[Chain, World]) -> None:
    """1k--50k USD of WETH sold into WETH/USDC moves the price 0.01--3 % (uniswap V2 and V3 0.05 %)."""
    chain, w = env
    pair = w.pair("uniswap", "WETH", "USDC")
    r0, r1 = v2_reserves(chain, [pair])[pair.address]
    r_weth, r_usdc = (r0, r1) if pair.token0 == w.weth else (r1, r0)
    pool = w.v3_pool("WETH", "USDC", 500)
    sp_before, _ = v3_slot0(chain, [pool])[pool.address]
    quote = "quoteExactInputSingle((address,address,uint256,uint24,uint160))"
    for usd in (1_000, 50_000):
        amt = w.units("WETH", Fraction(usd, 2000))
        out = _v2_out(amt, r_weth, r_usdc)
        move = 1 - Fraction(r_usdc - out, r_weth + amt) / Fraction(r_usdc, r_weth)
        assert Fraction(1, 10_000) < move < Fraction(3, 100), (usd, float(move))
        res = chain.call(w.v3.quoter, encode_call(quote, (w.weth, w.tokens["USDC"].address, amt, 500, 0)))
        _, sp_after, _, _ = decode(["uint256", "uint160", "uint32", "uint256"], res)
        v3_move = abs(1 - Fraction(sp_after, sp_before) ** 2)
        assert Fraction(1, 100_000) < v3_move < Fraction(3, 100), (usd, float(v3_move))


def _bundle(chain: Chain, number: int) -> dict[str, object]:
    n = hex(number)
    block, receipts, traces = chain.batch(
        [("eth_getBlockByNumber", [n, True]), ("eth_getBlockReceipts", [n]), ("trace_block", [n])]
    )
    return {"block": block, "receipts": receipts, "traces": traces, "chainId": hex(chain.chain_id)}


def test_router_swaps_from_a_fresh_eoa_decode_with_protocol_names(env: tuple[Chain, World]) -> None:
    chain, w = env
    usdc, weth = w.tokens["USDC"].address, w.weth
    chain.set_balance(TRADER, 10**20)
    usdc_in, eth_in, weth_in = w.units("USDC", 10_000), w.units("WETH", 2), w.units("WETH", 3)
    prep = [
        Tx(TRADER, usdc, encode_call("mint(address,uint256)", TRADER, usdc_in)),
        Tx(TRADER, usdc, encode_call("approve(address,uint256)", w.v2["sushiswap"].router, _UINT_MAX)),
        Tx(TRADER, weth, encode_call("deposit()"), value=weth_in),
        Tx(TRADER, weth, encode_call("approve(address,uint256)", w.v3.swap_router, _UINT_MAX)),
    ]
    hashes = [str(h) for h in chain.send_many(prep)]
    chain.mine()
    assert all(r["status"] == "0x1" for r in chain.receipts(hashes))

    swaps = [
        Tx(
            TRADER,
            w.v2["uniswap"].router,
            encode_call(
                "swapExactETHForTokens(uint256,address[],address,uint256)", 0, [weth, usdc], TRADER, DEADLINE
            ),
            value=eth_in,
        ),
        Tx(
            TRADER,
            w.v2["sushiswap"].router,
            encode_call(
                "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
                usdc_in,
                0,
                [usdc, weth],
                TRADER,
                DEADLINE,
            ),
        ),
        Tx(
            TRADER,
            w.v3.swap_router,
            encode_call(
                "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
                (weth, usdc, 500, TRADER, DEADLINE, weth_in, 0, 0),
            ),
        ),
    ]
    hashes = [str(h) for h in chain.send_many(swaps)]
    chain.mine()
    receipts = chain.receipts(hashes)
    assert all(r["status"] == "0x1" for r in receipts)
    number = int(receipts[0]["blockNumber"], 16)
    assert {int(r["blockNumber"], 16) for r in receipts} == {number}

    block = block_from_object(_bundle(chain, number))
    assert block.chain_id == CHAIN_ID and block.traces
    decoded = decode_block(block)
    got = sorted(
        (
            (a.protocol, a.pool, a.token_in, a.amount_in, a.token_out)
            for a in decoded.actions
            if isinstance(a, Swap)
        ),
        key=lambda x: x[0],
    )
    assert got == sorted(
        [
            ("uniswap_v2", w.pair("uniswap", "WETH", "USDC").address, weth, eth_in, usdc),
            ("sushiswap", w.pair("sushiswap", "USDC", "WETH").address, usdc, usdc_in, weth),
            ("uniswap_v3", w.v3_pool("WETH", "USDC", 500).address, weth, weth_in, usdc),
        ],
        key=lambda x: x[0],
    )
    v3 = next(a for a in decoded.actions if isinstance(a, Swap) and a.protocol == "uniswap_v3")
    assert v3.fee_ppm == 500


def test_reload_is_fast_and_gives_the_same_world(saved: tuple[Path, float]) -> None:
    d = saved[0]
    built = World.from_json((d / "world.json").read_text())
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        node, chain, w = load_world(d)
        best = min(best, time.perf_counter() - t0)
        try:
            assert w == built
            assert chain.block_number() == w.block_number
            assert v2_reserves(chain, [w.pair("uniswap", "WETH", "USDC")])  # state is there
            chain.mine()  # automine is on unless "--no-mining" is passed
            head = chain.rpc("eth_getBlockByNumber", "latest", False)
            assert int(head["timestamp"], 16) == w.timestamp + BLOCK_TIME
        finally:
            chain.close()
            node.stop()
    print(f"\nworld reload (anvil start + load state + checks): {best:.3f} s")
    assert best < 1.5


def test_cache_key_is_stable() -> None:
    k = world_cache_key()
    assert k == world_cache_key() and len(k) == 16 and int(k, 16) >= 0
