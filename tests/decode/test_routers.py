"""Router calldata → swap intents, checked against REAL transactions.

* Mainnet blocks in ``../shared/data``: every call to Uniswap V2 Router02, Sushiswap's router
  (the same contract), V3 SwapRouter and SwapRouter02 is decoded from its calldata alone and
  compared with the swaps the block decoder found in that tx's traces -- tokens, direction,
  pools (CREATE2 from the router's factory), V3 fee tiers and amounts must agree.
* Universal Router: the shared blocks predate it, so its calldata comes from real transactions
  recorded by another project (``tests/data/universal_router_txs.json`` names the source) and is
  checked against the swap parameters that project asserts.
* The testbed's own npm routers (Router02, SwapRouter) on a real anvil: swaps sent, mined,
  decoded by the block decoder, and matched with the intents of their calldata.

Commands and functions no real sample covers (exact-output Universal Router commands,
sub-plans, the allow-revert bit) are built with eth-abi.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from eth_abi import encode

from mevgraph.core.actions import Swap
from mevgraph.core.types import Block, Transaction
from mevgraph.decode.abi import selector
from mevgraph.decode.decoder import DecodedBlock
from mevgraph.decode.pools import V2_FACTORIES, V3_FACTORIES, sort_tokens, v2_pair_address, v3_pool_address
from mevgraph.decode.routers import SELECTORS, SwapIntent, decode_swaps, decode_v3_path
from tests.conftest import decoded_fixture, load_fixture

ROUTER02 = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"
SUSHI_ROUTER = "0xd9e1ce17f2641f24ae83637ab66a2cca9c378b9f"
SWAP_ROUTER = "0xe592427a0aece92de3edee1f18e0157c05861564"
SWAP_ROUTER02 = "0x68b3465833fb72a70ecdf485e0e4c7bd8665fc45"
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
DAI = "0x6b175474e89094c44da98b954eedeac495271d0f"
UR_TXS = Path(__file__).resolve().parents[1] / "data" / "universal_router_txs.json"

_V2 = {f.protocol: f for f in V2_FACTORIES[1]}
_V3 = V3_FACTORIES[1][0]
# router -> the V2 factory its V2 swaps use
V2_FACTORY_OF = {
    ROUTER02: _V2["uniswap_v2"],
    SUSHI_ROUTER: _V2["sushiswap"],
    SWAP_ROUTER02: _V2["uniswap_v2"],
}


def _pool(router: str, it: SwapIntent, k: int) -> str:
    hop = it.hops[k]
    t0, t1 = sort_tokens(hop.token_in, hop.token_out)
    if it.amm == "v2":
        f = V2_FACTORY_OF[router]
        return v2_pair_address(f.factory, t0, t1, f.init_code_hash)
    assert hop.fee is not None
    return v3_pool_address(_V3[1], t0, t1, hop.fee, _V3[2])


def _router_swaps(d: DecodedBlock, tx: Transaction) -> list[Swap]:
    """The tx's swaps that the router itself called, in execution order."""
    return sorted(
        (a for a in d.actions if isinstance(a, Swap) and a.tx_hash == tx.hash and a.sender == tx.to),
        key=lambda a: a.position,
    )


def _reverted(block: Block, tx: Transaction) -> bool:
    return any(
        t.tx_hash == tx.hash and t.trace_address == () and t.error is not None for t in block.traces or ()
    )


# -- mainnet blocks --------------------------------------------------------------------------------------
def test_mainnet_router_calls_match_the_decoded_swaps(block_names: list[str]) -> None:
    routers = {ROUTER02, SUSHI_ROUTER, SWAP_ROUTER, SWAP_ROUTER02}
    checked: Counter[str] = Counter()
    for name in block_names:
        block, d = load_fixture(name), decoded_fixture(name)
        for tx in block.transactions:
            if tx.to not in routers:
                continue
            intents = decode_swaps(tx.input, to=tx.to, sender=tx.from_, value=tx.value)
            swaps = _router_swaps(d, tx)
            if not intents:  # liquidity and other non-swap functions (a token may still swap inside)
                assert bytes.fromhex(tx.input[2:10]) not in SELECTORS, tx.hash
                continue
            if not swaps:  # the tx reverted: nothing to compare with
                assert _reverted(block, tx), tx.hash
                continue
            hops = [(it, k) for it in intents for k in range(len(it.hops))]
            if any(it.fee_on_transfer for it in intents):
                # a fee-on-transfer token may run its own router swap inside its transfer, before
                # the user's (tx 0xdb57297aa32d05d49747db4aea419b43c58f85594f606326214a6d02147a949d)
                swaps = swaps[len(swaps) - len(hops) :]
            assert len(swaps) == len(hops), tx.hash
            for (it, k), s in zip(hops, swaps, strict=True):
                hop = it.hops[k]
                assert (hop.token_in, hop.token_out) == (s.token_in, s.token_out), tx.hash
                assert _pool(tx.to, it, k) == s.pool, tx.hash
                if it.amm == "v3":
                    assert hop.fee == s.fee_ppm, tx.hash
            for it in intents:
                first = swaps[[i for i, _ in hops].index(it)]
                last = swaps[len(hops) - 1 - [i for i, _ in hops][::-1].index(it)]
                if it.exact_in:
                    assert it.amount_in is not None and it.amount_out_min is not None
                    if it.fee_on_transfer:
                        assert first.amount_in <= it.amount_in, tx.hash
                    else:
                        assert first.amount_in == it.amount_in, tx.hash
                    assert last.amount_out >= it.amount_out_min, tx.hash
                else:
                    assert it.amount_out is not None and it.amount_in_max is not None
                    assert last.amount_out == it.amount_out, tx.hash
                    assert first.amount_in <= it.amount_in_max, tx.hash
                checked[it.method] += 1
            if tx.to in (ROUTER02, SUSHI_ROUTER):
                assert all(it.deadline is not None and it.recipient for it in intents)
    print(f"\nintents checked against decoded swaps: {dict(checked)}")
    assert sum(checked.values()) >= 200
    for m in (
        "swapExactTokensForTokens",
        "swapExactETHForTokens",
        "swapExactTokensForETH",
        "swapTokensForExactTokens",
        "swapETHForExactTokens",
        "swapExactTokensForETHSupportingFeeOnTransferTokens",
        "exactInputSingle",
        "exactInput",
        "exactOutputSingle",
    ):
        assert checked[m], f"no real {m} checked"


def test_swaprouter_multicall_carries_its_calls(block_names: list[str]) -> None:
    """``multicall(bytes[])`` (SwapRouter) and ``multicall(uint256,bytes[])`` (SwapRouter02):
    the deadline of the latter is the deadline of its calls."""
    seen: dict[str, int] = defaultdict(int)
    for name in block_names:
        for tx in load_fixture(name).transactions:
            sel = tx.input[:10]
            if tx.to in (SWAP_ROUTER, SWAP_ROUTER02) and sel in ("0xac9650d8", "0x5ae401dc"):
                intents = decode_swaps(tx.input, to=tx.to, sender=tx.from_, value=tx.value)
                seen[sel] += bool(intents)
                if sel == "0x5ae401dc":
                    deadline = int(tx.input[10:74], 16)
                    assert all(it.deadline == deadline for it in intents)
    assert seen["0xac9650d8"] and seen["0x5ae401dc"]


# -- Universal Router (real calldata from elsewhere) -----------------------------------------------------
def _ur() -> dict[str, dict[str, object]]:
    return {t["name"]: t for t in json.loads(UR_TXS.read_text())["txs"]}


@pytest.mark.parametrize(
    ("name", "path", "fees", "amount_in", "min_out", "recipient"),
    [
        (
            "V3_TOKENS_TO_TOKENS",  # PERMIT2_PERMIT, V3_SWAP_EXACT_IN (MEME -> WETH -> USDC)
            ("0xb131f4a55907b10d1f0a50d8ab8fa09ec342cd74", WETH, USDC),
            (3000, 500),
            100_000_390_833_582_668_546_415,
            2_710_350_000,
            "0xef7d8ee2ebe3b4c7d70e723d5a148c710e0ec2e6",  # address(1): the sender
        ),
        (
            "V2_NATIVE_TO_TOKENS",  # WRAP_ETH, V2_SWAP_EXACT_IN
            (WETH, "0x0f7b3f5a8fed821c5eb60049538a548db2d479ce"),
            (),
            10**16,
            15_801_138_329_127_078_530,
            "0xa99f898530df1514a566f1a6562d62809e99557d",
        ),
        (
            "V2_TOKENS_TO_TOKENS",  # PERMIT2_PERMIT, V2_SWAP_EXACT_IN over three tokens
            (
                "0xfc0d6cf33e38bce7ca7d89c0e292274031b7157a",
                WETH,
                "0x45c2f8c9b4c0bdc76200448cc26c48ab6ffef83f",
            ),
            (),
            3_552_696_472_932_170_620_551,
            16_075_018_414_538_979_617_650,
            "0x9baa635e318cdb9c5924858f1d3900a0d1cb4beb",
        ),
        (
            "V3_TOKENS_TO_NATIVE",  # PERMIT2_PERMIT, V3_SWAP_EXACT_IN, PAY_PORTION, UNWRAP_WETH
            ("0xaf88d065e77c8cc2239327c5edb3a432268e5831", "0x82af49447d8a07e3bd95bd0d56f35241523fbab1"),
            (500,),
            100_000_000,
            48_846_023_931_674_861,
            "0x5e325eda8064b456f4781070c0738d849c824258",  # address(2): the router keeps the WETH to unwrap
        ),
        (
            "V3_NATIVE_TO_TOKENS",  # WRAP_ETH, V3_SWAP_EXACT_IN (WETH -> DAI -> sUSD on Optimism)
            (
                "0x4200000000000000000000000000000000000006",
                "0xda10009cbd5d07dd0cecc66161fc93d7c9000da1",
                "0x8c6f28f2f1a3c87f0f938b96d27520d9751ec8d9",
            ),
            (500, 100),
            250_000_000_000_000_000,
            504_103_195_478_760_916_044,
            "0x5941f88e17d3c528b9aeb9183ba822e193911b3b",
        ),
    ],
)
def test_universal_router_real_calls(
    name: str, path: tuple[str, ...], fees: tuple[int, ...], amount_in: int, min_out: int, recipient: str
) -> None:
    t = _ur()[name]
    (it,) = decode_swaps(str(t["input"]), to=str(t["to"]), sender=str(t["from"]), value=int(str(t["value"])))
    assert it.method in ("V2_SWAP_EXACT_IN", "V3_SWAP_EXACT_IN") and it.exact_in
    assert (it.path, it.fees, it.amount_in, it.amount_out_min) == (path, fees, amount_in, min_out)
    assert it.recipient == recipient and it.router == t["to"] and it.deadline is not None
    assert not it.allow_revert


# -- built calldata for what no real sample covers --------------------------------------------------------
A, B, C = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20
ME, UR = "0x" + "01" * 20, "0x" + "0e" * 20


def _call(sig: str, *args: object) -> str:
    types = sig[sig.index("(") + 1 : -1]
    from mevgraph.decode.routers import _split_types

    return selector(sig) + encode(list(_split_types(types)), list(args)).hex()


def _packed(tokens: tuple[str, ...], fees: tuple[int, ...]) -> bytes:
    out = bytes.fromhex(tokens[0][2:])
    for f, t in zip(fees, tokens[1:], strict=True):
        out += f.to_bytes(3, "big") + bytes.fromhex(t[2:])
    return out


def test_universal_router_exact_output_sub_plan_and_allow_revert() -> None:
    v3_out = encode(
        ["address", "uint256", "uint256", "bytes", "bool"],
        ["0x" + "00" * 19 + "01", 500, 10**18, _packed((C, B, A), (500, 3000)), True],
    )
    v2_out = encode(["address", "uint256", "uint256", "address[]", "bool"], [ME, 7, 9, [A, B], True])
    v2_in_paid = encode(["address", "uint256", "uint256", "address[]", "bool"], [ME, 0, 3, [B, C], False])
    wrap = encode(["address", "uint256"], ["0x" + "00" * 19 + "02", 10**18])
    sub = encode(["bytes", "bytes[]"], [bytes([0x09]), [v2_out]])
    commands = bytes([0x0B, 0x01, 0x80 | 0x08, 0x21, 0x3F])  # 0x3f: a command type nobody decodes
    data = _call("execute(bytes,bytes[])", commands, [wrap, v3_out, v2_in_paid, sub, b""])
    w, x, y = decode_swaps(data, to=UR, sender=ME)
    assert (w.method, w.path, w.fees, w.exact_in) == ("V3_SWAP_EXACT_OUT", (A, B, C), (3000, 500), False)
    assert (w.amount_out, w.amount_in_max, w.recipient, w.deadline) == (500, 10**18, ME, None)
    assert (x.method, x.amount_in, x.amount_out_min, x.allow_revert) == ("V2_SWAP_EXACT_IN", None, 3, True)
    assert (y.method, y.path, y.amount_out, y.amount_in_max) == ("V2_SWAP_EXACT_OUT", (A, B), 7, 9)


def test_swaprouter02_struct_without_deadline_and_sentinels() -> None:
    single = _call(
        "exactInputSingle((address,address,uint24,address,uint256,uint256,uint160))",
        (A, B, 500, "0x" + "00" * 19 + "01", 0, 5, 0),
    )
    out = _call(
        "exactOutput((bytes,address,uint256,uint256))", (_packed((C, B, A), (100, 10000)), ME, 11, 12)
    )
    v2 = _call(
        "swapTokensForExactTokens(uint256,uint256,address[],address)", 1, 2, [A, C], "0x" + "00" * 19 + "02"
    )
    data = _call("multicall(uint256,bytes[])", 77, [bytes.fromhex(x[2:]) for x in (single, out, v2)])
    s, o, v = decode_swaps(data, to=SWAP_ROUTER02, sender=ME)
    assert (s.amount_in, s.recipient, s.deadline) == (None, ME, 77)  # amountIn 0 = the router's balance
    assert (o.path, o.fees, o.amount_out, o.amount_in_max) == ((A, B, C), (10000, 100), 11, 12)
    assert (v.amm, v.recipient, v.amount_out) == ("v2", SWAP_ROUTER02, 1)


def test_v2_eth_variants_take_msg_value() -> None:
    data = _call("swapETHForExactTokens(uint256,address[],address,uint256)", 5, [WETH, DAI], ME, 9)
    (it,) = decode_swaps(data, value=123)
    assert (it.exact_in, it.amount_out, it.amount_in_max, it.eth_in, it.router) == (False, 5, 123, True, None)
    fot = _call(
        "swapExactETHForTokensSupportingFeeOnTransferTokens(uint256,address[],address,uint256)",
        1,
        [WETH, A],
        ME,
        9,
    )
    (it,) = decode_swaps(fot, value=10)
    assert (it.amount_in, it.fee_on_transfer, it.eth_in) == (10, True, True)


@pytest.mark.parametrize(
    "data",
    [
        "0x",
        "0xdeadbeef" + "00" * 64,  # unknown selector
        selector("swapExactTokensForTokens(uint256,uint256,address[],address,uint256)")
        + "00" * 40,  # truncated
        _call("exactInput((bytes,address,uint256,uint256,uint256))", (b"\x01" * 30, ME, 1, 2, 3)),  # bad path
        _call(
            "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)", 1, 2, [A], ME, 3
        ),  # 1 token
    ],
)
def test_unknown_or_malformed_calls_give_no_intents(data: str) -> None:
    assert decode_swaps(data, to=ROUTER02) == ()


def test_selector_table() -> None:
    assert len(SELECTORS) == 24
    assert bytes.fromhex("3593564c") in SELECTORS and bytes.fromhex("24856bc3") in SELECTORS
    assert decode_v3_path(_packed((A, B, C), (500, 3000))) == ((A, B, C), (500, 3000))


def test_decode_cost(block_names: list[str]) -> None:
    """Decode cost per router call of the real mainnet sample (printed; a loose regression guard)."""
    import time

    routers = {ROUTER02, SUSHI_ROUTER, SWAP_ROUTER, SWAP_ROUTER02}
    txs = [tx for n in block_names for tx in load_fixture(n).transactions if tx.to in routers]
    for tx in txs:  # warm the decoders
        decode_swaps(tx.input, to=tx.to, sender=tx.from_, value=tx.value)
    t0 = time.perf_counter()
    for _ in range(3):
        for tx in txs:
            decode_swaps(tx.input, to=tx.to, sender=tx.from_, value=tx.value)
    us = (time.perf_counter() - t0) / (3 * len(txs)) * 1e6
    print(f"\ndecode_swaps: {us:.0f} us per router call over {len(txs)} real calls")
    assert us < 2000


# -- the testbed's npm routers on anvil -------------------------------------------------------------------
@pytest.mark.node
def test_testbed_routers_from_npm() -> None:
    import asyncio

    from mevgraph.decode.decoder import decode_block
    from mevgraph.ingest.rpc import RpcClient
    from mevgraph.sim import artifacts as art
    from mevgraph.sim.abi import encode_call
    from mevgraph.sim.chain import Tx
    from mevgraph.sim.node import AnvilMissing, anvil_binary
    from mevgraph.sim.world import DEADLINE, load_world

    try:
        anvil_binary()
        art.npm_artifact(art.V2_PAIR_ARTIFACT)
    except (AnvilMissing, art.ArtifactMissing) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    node, chain, world = load_world(None, "--no-mining")
    try:
        me = "0x00000000000000000000000000000000000c0ffe"
        chain.set_balance(me, 10**24)
        weth, usdc, dai = world.addr("WETH"), world.addr("USDC"), world.addr("DAI")
        router, swap_router = world.v2["uniswap"].router, world.v3.swap_router
        txs = [
            Tx(
                me,
                router,
                encode_call(
                    "swapExactETHForTokens(uint256,address[],address,uint256)",
                    1,
                    [weth, usdc, dai],
                    me,
                    DEADLINE,
                ),
                value=10**18,
            ),
            Tx(
                me,
                swap_router,
                encode_call(
                    "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
                    (weth, usdc, 500, me, DEADLINE, 2 * 10**18, 1, 0),
                ),
                value=2 * 10**18,
            ),
        ]
        hashes = [str(h).lower() for h in chain.send_many(txs)]
        chain.mine()

        async def fetch() -> Block:
            async with RpcClient(node.url) as rpc:
                return await rpc.fetch_block(chain.block_number())

        block = asyncio.run(fetch())
        d = decode_block(block)
    finally:
        chain.close()
        node.stop()
    by_hash = {t.hash: t for t in block.transactions}
    v2_pairs = {(p.token0, p.token1): p.address for p in world.v2_pairs if p.dex == "uniswap"}
    pools = {(p.token0, p.token1, p.fee): p.address for p in world.v3_pools}
    for h in hashes:
        tx = by_hash[h]
        (it,) = decode_swaps(tx.input, to=tx.to, sender=tx.from_, value=tx.value)
        swaps = _router_swaps(d, tx)
        assert [(s.token_in, s.token_out) for s in swaps] == [(x.token_in, x.token_out) for x in it.hops]
        assert swaps[0].amount_in == it.amount_in and swaps[-1].amount_out >= (it.amount_out_min or 0)
        for hop, s in zip(it.hops, swaps, strict=True):
            t0, t1 = sort_tokens(hop.token_in, hop.token_out)
            assert s.pool == (v2_pairs[(t0, t1)] if it.amm == "v2" else pools[(t0, t1, hop.fee)])
