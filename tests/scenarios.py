"""Real MEV staged on a local anvil node with real bytecode from npm (no mocks, nothing signed here:
anvil's unlocked default accounts send with ``eth_sendTransaction``).

:func:`deploy_v2_pool` deploys two WETH9 contracts (``canonical-weth``; ERC20s minted by
depositing ETH), a UniswapV2Factory (``@uniswap/v2-core``), creates their pair and adds liquidity
(transfer both tokens to the pair, then ``mint(to)``).

:func:`stage_v2_sandwich` then puts, in ONE block (automine off, then ``evm_mine``; anvil runs with
``--order fifo`` so block order = send order), a sandwich on that pair by three accounts -- each swap
is the V2 pattern "transfer the input to the pair, then ``pair.swap``" from an EOA, so every role
is two transactions -- plus a plain ETH transfer::

    idx 0 front_transfer  attacker  tokenIn.transfer(pair, a)
    idx 1 frontrun        attacker  pair.swap(out1)            attacker buys tokenOut
    idx 2 victim_transfer victim    tokenIn.transfer(pair, v)
    idx 3 victim          victim    pair.swap(out2)            victim buys the same direction
    idx 4 back_transfer   attacker  tokenOut.transfer(pair, out1)
    idx 5 backrun         attacker  pair.swap(out3)            attacker sells back: out3 > a
    idx 6 plain_transfer  alice     1 ETH to bob

Amounts out use the exact V2 integer formula (997/1000 fee) on the reserves as each swap sees them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from mevgraph.decode.abi import selector
from mevgraph.pricing.amm import get_amount_out
from tests.node import ROOT, AnvilNode

__all__ = [
    "V2Pool",
    "SandwichScenario",
    "deploy_v2_pool",
    "stage_v2_sandwich",
    "build_v2_sandwich",
    "record_bundle",
    "sandwich_bundle",
]

_NPM = ROOT / "node_modules"


def _bytecode(rel: str) -> str:
    bc = json.loads((_NPM / rel).read_text())["bytecode"]
    return bc if bc.startswith("0x") else "0x" + bc


def _addr_word(a: str) -> str:
    return a[2:].lower().rjust(64, "0")


def _uint_word(v: int) -> str:
    return f"{v:064x}"


def _call_data(signature: str, *words: str) -> str:
    return selector(signature) + "".join(words)


@dataclass(frozen=True, slots=True)
class V2Pool:
    factory: str
    pair: str
    token0: str
    token1: str
    deployer: str


@dataclass(frozen=True, slots=True)
class SandwichScenario:
    """The staged block: its number and ``(role, tx_hash)`` in block order."""

    pool: V2Pool
    block_number: int
    txs: tuple[tuple[str, str], ...]
    attacker: str
    victim: str
    token_in: str
    token_out: str
    amounts: dict[str, int]  # front_in, front_out, victim_in, victim_out, back_in, back_out

    def hash_of(self, role: str) -> str:
        return next(h for r, h in self.txs if r == role)

    @property
    def roles(self) -> dict[str, str]:
        return {h: r for r, h in self.txs}


def _send(
    node: AnvilNode, frm: str, to: str | None, data: str = "0x", value: int = 0, gas: int | None = None
) -> str:
    tx: dict[str, Any] = {"from": frm, "data": data, "value": hex(value)}
    if to is not None:
        tx["to"] = to
    if gas is not None:
        tx["gas"] = hex(gas)
    return str(node.rpc("eth_sendTransaction", tx))


def _receipt(node: AnvilNode, tx_hash: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = node.rpc("eth_getTransactionReceipt", tx_hash)
        if r is not None:
            if r["status"] != "0x1":
                raise RuntimeError(f"transaction {tx_hash} reverted")
            return dict(r)
        if time.monotonic() > deadline:
            raise RuntimeError(f"no receipt for {tx_hash} after {timeout}s")
        time.sleep(0.02)


def _mined(node: AnvilNode, frm: str, to: str | None, data: str = "0x", value: int = 0) -> dict[str, Any]:
    return _receipt(node, _send(node, frm, to, data, value))


def _reserves(node: AnvilNode, pair: str) -> tuple[int, int]:
    out = node.rpc("eth_call", {"to": pair, "data": selector("getReserves()")}, "latest")[2:]
    return int(out[:64], 16), int(out[64:128], 16)


def deploy_v2_pool(node: AnvilNode, *, liquidity: tuple[int, int] = (100 * 10**18, 200 * 10**18)) -> V2Pool:
    """Two WETH9 tokens, a UniswapV2Factory, their pair with ``liquidity`` (token0, token1) in it."""
    deployer = node.rpc("eth_accounts")[0]
    weth = _bytecode("canonical-weth/build/contracts/WETH9.json")
    tok_a = _mined(node, deployer, None, weth)["contractAddress"]
    tok_b = _mined(node, deployer, None, weth)["contractAddress"]
    factory_code = _bytecode("@uniswap/v2-core/build/UniswapV2Factory.json") + _addr_word(deployer)
    factory = _mined(node, deployer, None, factory_code)["contractAddress"]
    _mined(
        node,
        deployer,
        factory,
        _call_data("createPair(address,address)", _addr_word(tok_a), _addr_word(tok_b)),
    )
    got = node.rpc(
        "eth_call",
        {"to": factory, "data": _call_data("getPair(address,address)", _addr_word(tok_a), _addr_word(tok_b))},
        "latest",
    )
    pair = "0x" + got[-40:]
    token0, token1 = sorted((tok_a.lower(), tok_b.lower()))
    deposit = selector("deposit()")
    transfer = "transfer(address,uint256)"
    for tok, amount in ((token0, liquidity[0]), (token1, liquidity[1])):
        _mined(node, deployer, tok, deposit, amount)
        _mined(node, deployer, tok, _call_data(transfer, _addr_word(pair), _uint_word(amount)))
    _mined(node, deployer, pair, _call_data("mint(address)", _addr_word(deployer)))
    if _reserves(node, pair) != liquidity:
        raise RuntimeError(f"pair reserves {_reserves(node, pair)} != {liquidity}")
    return V2Pool(
        factory=factory.lower(), pair=pair.lower(), token0=token0, token1=token1, deployer=deployer.lower()
    )


def stage_v2_sandwich(
    node: AnvilNode,
    pool: V2Pool,
    *,
    front_in: int = 5 * 10**18,
    victim_in: int = 10 * 10**18,
    zero_for_one: bool = True,
) -> SandwichScenario:
    """Mine one block holding a sandwich on ``pool`` and a plain transfer (see the module doc)."""
    accounts = [a.lower() for a in node.rpc("eth_accounts")]
    attacker, victim, alice, bob = accounts[1], accounts[2], accounts[3], accounts[4]
    t_in, t_out = (pool.token0, pool.token1) if zero_for_one else (pool.token1, pool.token0)
    deposit = selector("deposit()")
    _mined(node, attacker, t_in, deposit, front_in)
    _mined(node, victim, t_in, deposit, victim_in)

    r0, r1 = _reserves(node, pool.pair)
    r_in, r_out = (r0, r1) if zero_for_one else (r1, r0)
    front_out = get_amount_out(front_in, r_in, r_out)
    r_in, r_out = r_in + front_in, r_out - front_out
    victim_out = get_amount_out(victim_in, r_in, r_out)
    r_in, r_out = r_in + victim_in, r_out - victim_out
    back_out = get_amount_out(front_out, r_out, r_in)
    if back_out <= front_in:
        raise RuntimeError("staged sandwich would not be profitable; pick other amounts")

    def transfer(amount: int) -> str:
        return _call_data("transfer(address,uint256)", _addr_word(pool.pair), _uint_word(amount))

    def swap(out_token: str, amount: int, to: str) -> str:
        a0, a1 = (amount, 0) if out_token == pool.token0 else (0, amount)
        sig = "swap(uint256,uint256,address,bytes)"
        return _call_data(sig, _uint_word(a0), _uint_word(a1), _addr_word(to), _uint_word(128), _uint_word(0))

    # Gas is given explicitly: estimating against "latest" would fail for swaps whose input
    # transfer is still pending in the same block.
    node.rpc("evm_setAutomine", False)
    try:
        plan = [
            ("front_transfer", attacker, t_in, transfer(front_in), 0, 100_000),
            ("frontrun", attacker, pool.pair, swap(t_out, front_out, attacker), 0, 200_000),
            ("victim_transfer", victim, t_in, transfer(victim_in), 0, 100_000),
            ("victim", victim, pool.pair, swap(t_out, victim_out, victim), 0, 200_000),
            ("back_transfer", attacker, t_out, transfer(front_out), 0, 100_000),
            ("backrun", attacker, pool.pair, swap(t_in, back_out, attacker), 0, 200_000),
            ("plain_transfer", alice, bob, "0x", 10**18, 21_000),
        ]
        sent = [(role, _send(node, frm, to, data, value, gas)) for role, frm, to, data, value, gas in plan]
        node.rpc("evm_mine")
    finally:
        node.rpc("evm_setAutomine", True)
    receipts = [_receipt(node, h) for _, h in sent]
    number = int(receipts[0]["blockNumber"], 16)
    for (role, h), r in zip(sent, receipts, strict=True):
        if int(r["blockNumber"], 16) != number:
            raise RuntimeError(f"{role} {h} landed in another block")
    block = node.rpc("eth_getBlockByNumber", hex(number), False)
    if [h.lower() for h in block["transactions"]] != [h.lower() for _, h in sent]:
        raise RuntimeError("block order differs from send order (is anvil running with --order fifo?)")
    return SandwichScenario(
        pool=pool,
        block_number=number,
        txs=tuple((role, h.lower()) for role, h in sent),
        attacker=attacker,
        victim=victim,
        token_in=t_in,
        token_out=t_out,
        amounts={
            "front_in": front_in,
            "front_out": front_out,
            "victim_in": victim_in,
            "victim_out": victim_out,
            "back_in": front_out,
            "back_out": back_out,
        },
    )


def build_v2_sandwich(node: AnvilNode) -> SandwichScenario:
    """:func:`deploy_v2_pool` then :func:`stage_v2_sandwich` with the default amounts."""
    return stage_v2_sandwich(node, deploy_v2_pool(node))


def record_bundle(node: AnvilNode, number: int) -> dict[str, Any]:
    """The RPC bundle of block ``number`` exactly as the node returns it (one batched request)."""
    q = hex(number)
    block, receipts, traces, chain_id = node.batch(
        [
            ("eth_getBlockByNumber", [q, True]),
            ("eth_getBlockReceipts", [q]),
            ("trace_block", [q]),
            ("eth_chainId", []),
        ]
    )
    return {"block": block, "receipts": receipts, "traces": traces, "chainId": chain_id}


def sandwich_bundle(node: AnvilNode, scenario: SandwichScenario) -> dict[str, Any]:
    """:func:`record_bundle` of the sandwich block plus a ``scenario`` key (roles, addresses,
    amounts as decimal strings); the bundle reader ignores that key.

    ``tests/data/anvil_v2_sandwich.json`` was written by this function (anvil 1.7.1)::

        with anvil_node() as n:
            s = build_v2_sandwich(n)
            write_bundle("tests/data/anvil_v2_sandwich.json", sandwich_bundle(n, s))
    """
    bundle = record_bundle(node, scenario.block_number)
    bundle["scenario"] = {
        "kind": "uniswap_v2 sandwich staged on anvil (see tests/scenarios.py)",
        "roles": {r: h for r, h in scenario.txs},
        "pair": scenario.pool.pair,
        "factory": scenario.pool.factory,
        "token0": scenario.pool.token0,
        "token1": scenario.pool.token1,
        "token_in": scenario.token_in,
        "token_out": scenario.token_out,
        "attacker": scenario.attacker,
        "victim": scenario.victim,
        "amounts": {k: str(v) for k, v in scenario.amounts.items()},
    }
    return bundle
