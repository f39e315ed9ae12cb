"""The npm Aave V3 market on a real anvil: deploy, borrow, crash the oracle, liquidate, detect.

The liquidation block is fetched the way ingest reads a node (one batched request for the block,
its receipts and its Parity traces) and must decode to one :class:`Liquidation` and one
liquidation finding -- from traces and from logs only.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from mevgraph.core.actions import Liquidation
from mevgraph.decode.decoder import decode_block
from mevgraph.detection.base import Kind
from mevgraph.detection.engine import find
from mevgraph.graph.tables import PropertyGraph
from mevgraph.ingest.files import block_from_object
from mevgraph.sim.aave import AaveAsset, AaveMarket, artifact, deploy_aave, link
from mevgraph.sim.abi import decode, encode_args, encode_call
from mevgraph.sim.chain import Chain, Tx
from mevgraph.sim.node import ROOT, Anvil, AnvilMissing, anvil_binary

ADMIN = "0x" + "a0" * 20
SUPPLIER = "0x" + "5a" * 20
BORROWER = "0x" + "b0" * 20
LIQUIDATOR = "0x" + "1d" * 20
MAX_UINT = 2**256 - 1
WETH_PRICE = 2_000 * 10**8
CRASH_PRICE = 1_900 * 10**8
DEPLOY_BUDGET_S = 5.0


@dataclass
class Market:
    chain: Chain
    aave: AaveMarket
    weth: str
    usdc: str
    deploy_seconds: float


def _require_anvil() -> None:
    try:
        anvil_binary()
    except AnvilMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def _balance(chain: Chain, token: str, who: str) -> int:
    return int(decode(["uint256"], chain.call(token, encode_call("balanceOf(address)", who)))[0])


@pytest.fixture(scope="module")
def market() -> Iterator[Market]:
    _require_anvil()
    with Anvil("--auto-impersonate", "--order", "fees", "--gas-limit", "120000000") as node:
        chain = Chain(node.url)
        chain.set_balances([ADMIN, SUPPLIER, BORROWER, LIQUIDATOR], 10**24)
        weth9 = json.loads((ROOT / "node_modules/canonical-weth/build/contracts/WETH9.json").read_text())
        weth = chain.deploy(ADMIN, weth9["bytecode"])
        test_token = link(artifact("TestToken"), {})
        tok = {
            sym: chain.deploy(ADMIN, test_token, encode_args(["string", "string", "uint8"], sym, sym, dec))
            for sym, dec in (("USDC", 6), ("DAI", 18), ("WBTC", 8))
        }
        assets = [
            AaveAsset(weth, "WETH", 18, WETH_PRICE, 8000, 8250, 500, borrowable=True, collateral=True),
            AaveAsset(tok["WBTC"], "WBTC", 8, 60_000 * 10**8, 7000, 7500, 1000, collateral=True),
            AaveAsset(tok["USDC"], "USDC", 6, 10**8, borrowable=True),
            AaveAsset(tok["DAI"], "DAI", 18, 10**8, borrowable=True),
        ]
        t0 = time.perf_counter()
        aave = deploy_aave(chain, ADMIN, assets)
        seconds = time.perf_counter() - t0
        for sym, unit in (("USDC", 10**6), ("DAI", 10**18)):
            chain.transact(Tx(ADMIN, tok[sym], encode_call("mint(address,uint256)", SUPPLIER, 10**6 * unit)))
            aave.supply_tokens(chain, SUPPLIER, tok[sym], 10**6 * unit)
        yield Market(chain, aave, weth, tok["USDC"], seconds)
        chain.close()


def test_deploy_is_fast_and_serialisable(market: Market) -> None:
    assert market.deploy_seconds < DEPLOY_BUDGET_S
    aave = market.aave
    assert AaveMarket.from_json(json.loads(json.dumps(aave.to_json()))) == aave
    assert aave.price_of(market.chain, market.weth) == WETH_PRICE
    assert set(aave.a_tokens) == set(aave.feeds) == set(aave.symbols)
    assert aave.token("USDC") == market.usdc
    assert _balance(market.chain, aave.a_tokens[market.usdc], SUPPLIER) == 10**12


@pytest.fixture(scope="module")
def liquidation(market: Market) -> dict[str, Any]:
    """Borrow USDC against WETH near the limit, crash WETH, liquidate; the liquidation's facts."""
    chain, aave, weth, usdc = market.chain, market.aave, market.weth, market.usdc
    chain.transact(Tx(BORROWER, weth, encode_call("deposit()"), value=10 * 10**18, gas=100_000))
    aave.supply_tokens(chain, BORROWER, weth, 10 * 10**18)
    acct = aave.account_data(chain, BORROWER)
    assert acct.collateral_base == 10 * WETH_PRICE and acct.ltv == 8000 and acct.lt == 8250
    borrow = acct.available * 995 // 1000 // 100  # base units (1e-8 USD) -> USDC (1e-6), 0.5 % headroom
    chain.transact(Tx(BORROWER, aave.pool, aave.borrow(usdc, borrow, BORROWER), gas=1_000_000))
    assert _balance(chain, usdc, BORROWER) == borrow
    assert 10**18 < aave.account_data(chain, BORROWER).health_factor < 105 * 10**16

    chain.transact(aave.set_price(chain, weth, CRASH_PRICE))
    assert aave.account_data(chain, BORROWER).health_factor < 10**18

    chain.transact(Tx(ADMIN, usdc, encode_call("mint(address,uint256)", LIQUIDATOR, borrow)))
    chain.transact(Tx(LIQUIDATOR, usdc, aave.approve_pool(), gas=100_000))
    debt_before = aave.debt_of(chain, BORROWER, usdc)
    usdc_before = _balance(chain, usdc, LIQUIDATOR)
    # uint(-1): the pool caps the repayment at the close factor (50 % while HF > 0.95).
    call = aave.liquidation_call(weth, usdc, BORROWER, MAX_UINT)
    receipt = chain.transact(Tx(LIQUIDATOR, aave.pool, call, gas=2_000_000))
    paid = usdc_before - _balance(chain, usdc, LIQUIDATOR)
    seized = _balance(chain, weth, LIQUIDATOR)
    n = hex(int(receipt["blockNumber"], 16))
    block, receipts, traces = chain.batch(
        [("eth_getBlockByNumber", [n, True]), ("eth_getBlockReceipts", [n]), ("trace_block", [n])]
    )
    return {
        "tx": receipt["transactionHash"],
        "paid": paid,
        "seized": seized,
        "debt_before": debt_before,
        "debt_after": aave.debt_of(chain, BORROWER, usdc),
        "bundle": {"block": block, "receipts": receipts, "traces": traces},
    }


def test_liquidation_pays_collateral_plus_bonus(liquidation: dict[str, Any]) -> None:
    paid, seized = liquidation["paid"], liquidation["seized"]
    assert paid == liquidation["debt_before"] // 2  # close factor 50 %
    assert liquidation["debt_after"] == liquidation["debt_before"] - paid
    # Aave's own formula: value repaid at oracle prices (USDC $1, WETH crashed), times the 5 % bonus.
    base = 10**8 * paid * 10**18 // (CRASH_PRICE * 10**6)
    assert seized == (base * 10_500 + 5_000) // 10_000


@pytest.mark.parametrize("traces", [True, False], ids=["traces", "logs-only"])
def test_liquidation_decoded_and_detected(market: Market, liquidation: dict[str, Any], traces: bool) -> None:
    bundle = dict(liquidation["bundle"])
    if not traces:
        del bundle["traces"]
    decoded = decode_block(block_from_object(bundle))
    assert decoded.mode == ("traces" if traces else "logs")
    liqs = [a for a in decoded.actions if isinstance(a, Liquidation)]
    assert len(liqs) == 1, decoded.skips
    (liq,) = liqs
    assert liq.tx_hash == liquidation["tx"]
    assert (liq.pool, liq.liquidator, liq.borrower) == (market.aave.pool, LIQUIDATOR, BORROWER)
    assert (liq.debt_token, liq.debt_amount) == (market.usdc, liquidation["paid"])
    assert (liq.collateral_token, liq.collateral_amount) == (market.weth, liquidation["seized"])

    findings = [f for f in find(PropertyGraph.build([decoded])) if f.kind == Kind.LIQUIDATION]
    assert len(findings) == 1
    (f,) = findings
    assert f.tx_hashes == (liquidation["tx"],)
    assert f.searcher == LIQUIDATOR
    assert f.details["borrower"] == BORROWER and f.details["debt_amount"] == liquidation["paid"]


def test_deploy_without_automine() -> None:
    """Scenarios that mine by hand (``--no-mining``) get a working market too."""
    _require_anvil()
    with Anvil("--auto-impersonate", "--no-mining", "--gas-limit", "120000000") as node:
        chain = Chain(node.url)
        chain.set_balance(ADMIN, 10**24)
        args = encode_args(["string", "string", "uint8"], "Token", "TKN", 18)
        token = chain.deploy(ADMIN, link(artifact("TestToken"), {}), args, mine=True)
        aave = deploy_aave(chain, ADMIN, [AaveAsset(token, "TKN", 18, 10**8, 7000, 7500, 500, True, True)])
        assert aave.price_of(chain, token) == 10**8
        assert aave.account_data(chain, ADMIN).collateral_base == 0
        chain.close()
