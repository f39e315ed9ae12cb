"""Uniswap V2 swaps paid by an EARLIER transaction of the same block (block-level pending payments).

Real data only: ``tests/data/anvil_v2_sandwich.json`` (a block recorded from anvil running the
real V2 pair bytecode: every role is ``token.transfer(pair, x)`` then ``pair.swap(...)`` in two
transactions from an EOA), and, for the stale-payment cases, a block staged live on anvil with the
same real contracts (``tests/scenarios.deploy_v2_pool``) where a payment is consumed by
``sync()``/``skim()`` before the next trader pays and swaps.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mevgraph.core.actions import Swap
from mevgraph.core.types import Block
from mevgraph.decode.abi import selector
from mevgraph.decode.decoder import DecodedBlock, decode_block
from mevgraph.detection.base import Kind
from mevgraph.ingest.files import block_from_object, read_block_file
from mevgraph.pipeline import inspect_blocks
from mevgraph.pricing.amm import get_amount_out
from tests.node import AnvilNode, anvil_node
from tests.scenarios import V2Pool, deploy_v2_pool, record_bundle

ANVIL_BUNDLE = Path(__file__).resolve().parents[1] / "data" / "anvil_v2_sandwich.json"


def _bundle() -> dict[str, Any]:
    return json.loads(ANVIL_BUNDLE.read_text())


def _logs_only(bundle: dict[str, Any]) -> Block:
    obj = copy.deepcopy(bundle)
    obj.pop("traces")
    obj.pop("scenario", None)
    return block_from_object(obj)


def _blocks() -> dict[str, Block]:
    return {"traces": read_block_file(ANVIL_BUNDLE), "logs": _logs_only(_bundle())}


def _swaps(d: DecodedBlock) -> dict[str, Swap]:
    return {a.tx_hash: a for a in d.actions if isinstance(a, Swap)}


# -- the recorded sandwich: every swap is paid by the transaction before it ---------------------


@pytest.mark.parametrize("mode", ["traces", "logs"])
def test_two_tx_swaps_decode_with_exact_amounts(mode: str) -> None:
    sc = _bundle()["scenario"]
    roles, amounts = sc["roles"], {k: int(v) for k, v in sc["amounts"].items()}
    d = decode_block(_blocks()[mode])
    assert d.mode == mode
    swaps = _swaps(d)
    assert set(swaps) == {roles["frontrun"], roles["victim"], roles["backrun"]}
    t_in, t_out = sc["token_in"], sc["token_out"]
    want = {
        "frontrun": (t_in, amounts["front_in"], t_out, amounts["front_out"]),
        "victim": (t_in, amounts["victim_in"], t_out, amounts["victim_out"]),
        "backrun": (t_out, amounts["back_in"], t_in, amounts["back_out"]),
    }
    for role, (tok_in, a_in, tok_out, a_out) in want.items():
        s = swaps[roles[role]]
        assert (s.token_in, s.amount_in, s.token_out, s.amount_out) == (tok_in, a_in, tok_out, a_out), role
        assert s.pool == sc["pair"]
        assert s.protocol == "uniswap_v2_fork"  # the anvil factory is not a mainnet one
    assert not [k for k in d.skips if "V2" in k.reason]


@pytest.mark.parametrize("mode", ["traces", "logs"])
def test_two_tx_sandwich_is_found(mode: str) -> None:
    sc = _bundle()["scenario"]
    roles = sc["roles"]
    found = [f for f in inspect_blocks([_blocks()[mode]]) if f.kind == Kind.SANDWICH]
    assert len(found) == 1
    f = found[0]
    assert f.frontrun_txs == (roles["frontrun"],)
    assert f.victim_txs == (roles["victim"],)
    assert f.backrun_txs == (roles["backrun"],)
    assert f.searcher == sc["attacker"]
    assert f.pools == (sc["pair"],)


def test_regression_anvil_v2_sandwich_eoa_transfer_then_swap_was_skipped() -> None:
    """Before the block-level ledger both paths skipped these swaps ("no payment ... into pair
    visible" / "no Transfer into pair; token in unknown"): the payment is a separate tx."""
    for mode, block in _blocks().items():
        d = decode_block(block)
        assert len(_swaps(d)) == 3, mode
        assert not [k for k in d.skips if "into pair" in k.reason], mode


def test_payment_inside_the_swap_tx_still_wins() -> None:
    """The ledger is a fallback only: the plain transfer tx of the block is untouched, and the
    transfer txs themselves decode to transfers, not swaps."""
    sc = _bundle()["scenario"]
    roles = sc["roles"]
    d = decode_block(_blocks()["traces"])
    swap_txs = set(_swaps(d))
    for role in ("front_transfer", "victim_transfer", "back_transfer", "plain_transfer"):
        assert roles[role] not in swap_txs


# -- stale payments consumed by sync()/skim() must not be reused (live anvil, real bytecode) -----


@dataclass(frozen=True)
class StaleScenario:
    bundle: dict[str, Any]
    pool: V2Pool
    txs: dict[str, str]
    amounts: dict[str, int]


def _word_addr(a: str) -> str:
    return a[2:].lower().rjust(64, "0")


def _word(v: int) -> str:
    return f"{v:064x}"


def _stage_stale(node: AnvilNode) -> StaleScenario:
    """One block::

    stale1      attacker  token0.transfer(pair, 3)     -- consumed by the sync below
    sync        bob       pair.sync()
    pay1        trader    token0.transfer(pair, 5)
    swap1       trader    pair.swap(out for 5)         -- must read 5, not 8
    donation    attacker  token0.transfer(pair, 2)     -- sent away by the skim below
    skim        bob       pair.skim(bob)
    pay2        trader    token0.transfer(pair, 4)
    swap2       trader    pair.swap(out for 4)         -- must read 4, not 6
    stale2      attacker  token0.transfer(pair, 1)
    sync2       bob       pair.sync()
    swap3       trader    pair.swap(...)               -- reverts (no input): no attempted swap
    """
    pool = deploy_v2_pool(node)
    accounts = [a.lower() for a in node.rpc("eth_accounts")]
    attacker, trader, bob = accounts[1], accounts[2], accounts[4]
    t0, pair = pool.token0, pool.pair
    e = 10**18
    stale1, pay1, donation, pay2, stale2 = 3 * e, 5 * e, 2 * e, 4 * e, 1 * e
    for who, amount in ((attacker, stale1 + donation + stale2), (trader, pay1 + pay2)):
        h = node.rpc(
            "eth_sendTransaction",
            {"from": who, "to": t0, "data": selector("deposit()"), "value": hex(amount)},
        )
        _wait(node, h)
    r0, r1 = 100 * e, 200 * e  # deploy_v2_pool's liquidity
    r0 += stale1  # sync
    out1 = get_amount_out(pay1, r0, r1)
    r0, r1 = r0 + pay1, r1 - out1
    out2 = get_amount_out(pay2, r0, r1)

    def transfer(amount: int) -> str:
        return selector("transfer(address,uint256)") + _word_addr(pair) + _word(amount)

    def swap(out1_amount: int) -> str:
        sig = "swap(uint256,uint256,address,bytes)"
        return selector(sig) + _word(0) + _word(out1_amount) + _word_addr(trader) + _word(128) + _word(0)

    plan = [
        ("stale1", attacker, t0, transfer(stale1), 100_000),
        ("sync", bob, pair, selector("sync()"), 100_000),
        ("pay1", trader, t0, transfer(pay1), 100_000),
        ("swap1", trader, pair, swap(out1), 200_000),
        ("donation", attacker, t0, transfer(donation), 100_000),
        ("skim", bob, pair, selector("skim(address)") + _word_addr(bob), 100_000),
        ("pay2", trader, t0, transfer(pay2), 100_000),
        ("swap2", trader, pair, swap(out2), 200_000),
        ("stale2", attacker, t0, transfer(stale2), 100_000),
        ("sync2", bob, pair, selector("sync()"), 100_000),
        ("swap3", trader, pair, swap(e // 10), 200_000),
    ]
    node.rpc("evm_setAutomine", False)
    try:
        sent = {
            role: node.rpc(
                "eth_sendTransaction", {"from": frm, "to": to, "data": data, "gas": hex(gas)}
            ).lower()
            for role, frm, to, data, gas in plan
        }
        node.rpc("evm_mine")
    finally:
        node.rpc("evm_setAutomine", True)
    receipts = {role: _wait(node, h) for role, h in sent.items()}
    number = int(receipts["stale1"]["blockNumber"], 16)
    assert {int(r["blockNumber"], 16) for r in receipts.values()} == {number}
    assert [r["status"] for r in receipts.values()] == ["0x1"] * 10 + ["0x0"]
    return StaleScenario(
        bundle=record_bundle(node, number),
        pool=pool,
        txs=sent,
        amounts={"pay1": pay1, "out1": out1, "pay2": pay2, "out2": out2},
    )


def _wait(node: AnvilNode, h: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (r := node.rpc("eth_getTransactionReceipt", h)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no receipt for {h}")
        time.sleep(0.02)
    return dict(r)


@pytest.fixture(scope="module")
def stale() -> Iterator[StaleScenario]:
    with anvil_node() as node:
        yield _stage_stale(node)


@pytest.mark.node
@pytest.mark.parametrize("mode", ["traces", "logs"])
def test_stale_payment_consumed_by_sync_or_skim_is_not_reused(stale: StaleScenario, mode: str) -> None:
    block = block_from_object(stale.bundle) if mode == "traces" else _logs_only(stale.bundle)
    d = decode_block(block)
    assert d.mode == mode
    swaps = _swaps(d)
    a, p = stale.amounts, stale.pool
    assert set(swaps) == {stale.txs["swap1"], stale.txs["swap2"]}
    s1, s2 = swaps[stale.txs["swap1"]], swaps[stale.txs["swap2"]]
    assert (s1.token_in, s1.amount_in, s1.token_out, s1.amount_out) == (
        p.token0,
        a["pay1"],
        p.token1,
        a["out1"],
    )
    assert (s2.token_in, s2.amount_in, s2.token_out, s2.amount_out) == (
        p.token0,
        a["pay2"],
        p.token1,
        a["out2"],
    )


@pytest.mark.node
def test_reverted_swap_does_not_claim_a_synced_payment(stale: StaleScenario) -> None:
    """swap3 reverted on chain (its only candidate payment was synced away): decoded "as
    attempted" it must be a logged skip, not a swap of the stale payment."""
    d = decode_block(block_from_object(stale.bundle))
    h = stale.txs["swap3"]
    assert not [x for x in d.attempted if isinstance(x, Swap) and x.tx_hash == h]
    assert [k for k in d.skips if k.tx_hash == h and "no payment" in k.reason]
