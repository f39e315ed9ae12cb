"""Logs-only acceptance: a block given as an RPC bundle with logs but no traces.

The real blocks carry traces only; :mod:`tests.eventsynth` rebuilds, ABI-exact, the events their
contracts emitted and packs each block as a bundle without traces, which goes through the
ordinary file reader (:func:`mevgraph.ingest.files.block_from_object`, after a JSON round trip).
Each logs-mode decode starts from empty pool caches (:func:`clear_pool_caches`), as a fresh
process reading a held-out bundle would: nothing learnt from the traces may leak in.

What logs cannot show, and the tests therefore check is *reported* rather than matched:
internal ETH transfers (coinbase bribes: ``None`` with a reason; an ETH payment to a third
address inside 0x448245bf…, which makes the logs-mode profit the peer's swap-loop figure) and
reverted attempts (a reverted transaction emits no events).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache

import orjson
import pytest

from mevgraph.core.actions import CoinbasePayment, Liquidation, LiquidityChange, Swap
from mevgraph.core.types import ETH, Block
from mevgraph.decode.decoder import DecodedBlock, decode_block, load_protocols
from mevgraph.decode.pools import clear_pool_caches
from mevgraph.decode.protocols import uniswap_v2
from mevgraph.decode.registry import REGISTRY
from mevgraph.detection.base import Finding, Kind, Status
from mevgraph.ingest.files import block_from_object
from mevgraph.pipeline import inspect_blocks

from .conftest import BLOCK_FILES, expected_records, load_fixture
from .eventsynth import SIGNATURES, TOPICS, WETH, synth_bundle

ALL_BLOCKS = [p.name.removesuffix(".json.gz") for p in BLOCK_FILES]

# Swap protocols whose events eventsynth emits.
V2_FAMILY = {"uniswap_v2", "sushiswap", "shibaswap", "pancakeswap_v2", "uniswap_v2_fork"}
V3_FAMILY = {"uniswap_v3", "uniswap_v3_fork"}
ENCODED_SWAPS = V2_FAMILY | V3_FAMILY | {"curve", "balancer_v1", "balancer_v2", "0x", "bancor"}

# Logged skips of logs-mode decoding that are known limits, each with a regression test below.
KNOWN_LOG_SKIPS: set[str] = set()
ONE_SIDED_COLLECT_TX = "0x950d329c837081d182b9d63ee7bdba3c8420c205bec7e01957bfbabdcb6aca13"


@dataclass(frozen=True)
class LogsRun:
    bundle: dict
    block: Block
    decoded: DecodedBlock
    findings: tuple[Finding, ...]


@cache
def traced_decode(name: str) -> DecodedBlock:
    """Trace-mode decode from empty pool caches: what a V3 ``collect`` frame reveals depends on
    pools learnt earlier in the process, so the shared ``decoded_fixture`` varies with test order."""
    clear_pool_caches()
    return decode_block(load_fixture(name))


@cache
def logs_run(name: str) -> LogsRun:
    bundle = orjson.loads(orjson.dumps(synth_bundle(traced_decode(name))))
    block = block_from_object(bundle, source=f"{name} (synthetic logs bundle)")
    clear_pool_caches()
    decoded = decode_block(block)
    clear_pool_caches()
    findings = tuple(inspect_blocks([block]))
    return LogsRun(bundle, block, decoded, findings)


@cache
def trace_findings(name: str) -> tuple[Finding, ...]:
    clear_pool_caches()
    return tuple(inspect_blocks([load_fixture(name)]))


def _one(findings: tuple[Finding, ...], kinds: tuple[Kind, ...], tx_prefix: str) -> Finding:
    hits = [f for f in findings if f.kind in kinds and any(h.startswith(tx_prefix) for h in f.attacker_txs)]
    assert len(hits) == 1, f"{tx_prefix}: {[(f.kind, f.attacker_txs) for f in hits]}"
    return hits[0]


# --------------------------------------------------------------------------- the encoding itself
@pytest.mark.parametrize("name", sorted(set(SIGNATURES) - {"v2_sync"}))
def test_event_topics_are_the_log_decoders_keys(name: str) -> None:
    """Our independently hashed topic0 is the key a log handler registered for that signature."""
    load_protocols()
    handler = REGISTRY.logs.get(TOPICS[name])
    assert handler is not None, f"no log handler for {SIGNATURES[name]}"
    assert handler.signature == SIGNATURES[name]


def test_sync_topic_is_the_one_the_v2_swap_handler_reads() -> None:
    """``Sync`` has no handler of its own: the V2 ``Swap`` handler looks for it by this constant."""
    assert TOPICS["v2_sync"] == uniswap_v2.SYNC_TOPIC


def test_transfer_topic_is_the_erc20_standard() -> None:
    # Published constant of ERC20 Transfer (EIP-20), not derived from our own hashing.
    assert TOPICS["transfer"] == "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def test_bundle_is_rpc_shaped_without_traces(block_names: list[str]) -> None:
    run = logs_run("12775690")
    b = run.bundle
    assert "traces" not in b and set(b) == {"block", "receipts", "chainId"}
    tx0 = b["block"]["transactions"][0]
    assert {"hash", "from", "to", "value", "input", "transactionIndex"} <= set(tx0)
    assert {"number", "miner"} <= set(b["block"])
    # London (EIP-1559) starts at block 12965000: the header field exists after it only.
    assert "baseFeePerGas" not in b["block"]
    assert "baseFeePerGas" in logs_run("13244807").bundle["block"]
    assert logs_run("13244807").block.base_fee_per_gas == load_fixture("13244807").base_fee_per_gas
    rc = b["receipts"][0]
    assert {"status", "gasUsed", "effectiveGasPrice", "from", "to", "logs"} <= set(rc)
    # Log indexes are block-wide and strictly increasing in transaction, then execution, order.
    idx = [int(lg["logIndex"], 16) for r in b["receipts"] for lg in r["logs"]]
    assert idx == list(range(len(idx))) and idx
    assert run.block.traces is None and run.decoded.mode == "logs"
    assert "bundle has no traces: logs-only decoding" in run.block.notes


def test_v2_swap_event_order_sync_then_swap_after_the_out_transfer(block_names: list[str]) -> None:
    """Frontrun 0x91a3abe5… (pair 0xefb47f…): Transfer(out) < Sync < Swap, as a V2 pair emits them."""
    rc = next(
        r for r in logs_run("12775690").bundle["receipts"] if r["transactionHash"].startswith("0x91a3abe5")
    )
    pair = "0xefb47fcfcad4f96c83d4ca676842fb03ef20a477"
    seq = [
        (
            "transfer"
            if lg["topics"][0] == TOPICS["transfer"]
            else "sync"
            if lg["topics"][0] == TOPICS["v2_sync"]
            else "swap"
        )
        for lg in rc["logs"]
        if lg["address"] == pair
        or (lg["topics"][0] == TOPICS["transfer"] and lg["topics"][1][-40:] == pair[2:])
    ]
    assert seq == ["transfer", "sync", "swap"]


# --------------------------------------------------------------------------- swaps
@pytest.mark.parametrize("name", ALL_BLOCKS)
def test_swaps_from_logs_equal_swaps_from_traces(name: str, block_names: list[str]) -> None:
    """Same multiset of (tx, protocol, pool, tokens, amounts[, sender, recipient]) in both modes.

    Balancer V2's vault event does not name the trader (logs mode uses the tx sender), so its
    sender/recipient are not compared.
    """

    def key(s: Swap) -> tuple:
        who = () if s.protocol == "balancer_v2" else (s.sender, s.recipient)
        return (s.tx_hash, s.protocol, s.pool, s.token_in, s.amount_in, s.token_out, s.amount_out, *who)

    traced = Counter(
        key(a) for a in traced_decode(name).actions if isinstance(a, Swap) and a.protocol in ENCODED_SWAPS
    )
    logged = Counter(key(a) for a in logs_run(name).decoded.actions if isinstance(a, Swap))
    assert logged == traced
    assert not [k for k in logs_run(name).decoded.skips if k.tx_hash not in KNOWN_LOG_SKIPS]


@pytest.mark.parametrize("name", ALL_BLOCKS)
def test_v2_reserves_from_sync_equal_trace_balances(name: str, block_names: list[str]) -> None:
    def key(s: Swap) -> tuple:
        return (s.tx_hash, s.pool, s.amount_in, s.reserves_after)

    traced = Counter(
        key(a) for a in traced_decode(name).actions if isinstance(a, Swap) and a.protocol in V2_FAMILY
    )
    logged = Counter(
        key(a) for a in logs_run(name).decoded.actions if isinstance(a, Swap) and a.protocol in V2_FAMILY
    )
    assert logged == traced


def test_v3_swaps_from_logs_carry_pool_state_traces_do_not(block_names: list[str]) -> None:
    """The V3 Swap event reports sqrtPrice/liquidity/tick (synthetic here, see eventsynth)."""
    logged = [
        a for a in logs_run("12914944").decoded.actions if isinstance(a, Swap) and a.protocol in V3_FAMILY
    ]
    traced = [a for a in traced_decode("12914944").actions if isinstance(a, Swap) and a.protocol in V3_FAMILY]
    assert logged and len(logged) == len(traced)
    assert all(s.sqrt_price_x96_after and s.liquidity_after and s.tick_after is not None for s in logged)
    assert all(s.sqrt_price_x96_after is None for s in traced)


# --------------------------------------------------------------------------- sandwich
def test_sandwich_12775690_logs_only(block_names: list[str]) -> None:
    f = _one(logs_run("12775690").findings, (Kind.SANDWICH,), "0x91a3abe5")
    assert f.frontrun_txs == ("0x91a3abe5f3b806426542252820ba0ab6d56c098fdef6864ecaf4d352f64217a0",)
    assert f.backrun_txs == ("0xc300d1ff79d3901b58dc56489fc7d083a6c13d422bfc1425a0579379300c95a2",)
    assert set(f.victim_txs) == {
        "0x9b40deca1f53593b7631ca25485d0c6faf90279b9872845acfd5c98afb185934",
        "0xf8e45a291cdab5e456375e4d7df30771670d504835c9332b32114e5bc4e315f9",
        "0xdf63b22773b66cc41e00fd42c3b3c7f42912f87476ffe6d821e3f5c00284f00b",
        "0x1fe35f66e24f12bdb54a0d35934aac809c783710d998621b70116ea9f95f4f4f",
    }
    t = _one(trace_findings("12775690"), (Kind.SANDWICH,), "0x91a3abe5")
    assert f.profit_by_token[WETH] == t.profit_by_token[WETH] == 49991481915322274
    assert f.victim_loss_by_token == t.victim_loss_by_token


def test_sandwich_12775690_bribe_unknown_in_logs_mode(block_names: list[str]) -> None:
    """Traces show the searcher's coinbase transfer; logs cannot: None with a reason, lower confidence."""
    t = _one(trace_findings("12775690"), (Kind.SANDWICH,), "0x91a3abe5")
    f = _one(logs_run("12775690").findings, (Kind.SANDWICH,), "0x91a3abe5")
    assert t.coinbase_transfer_wei and t.coinbase_transfer_wei > 0
    assert f.coinbase_transfer_wei is None
    assert f.unpriced_reason and "coinbase payment unknown: logs-only block" in f.unpriced_reason
    assert f.confidence < t.confidence
    assert f.gas_cost_wei == t.gas_cost_wei  # gas comes from the receipts in both modes


# --------------------------------------------------------------------------- arbitrage
@pytest.mark.parametrize("tx_prefix", ["0x448245bf", "0xfcf4558f"])
def test_arbitrages_12914944_logs_only(tx_prefix: str, block_names: list[str]) -> None:
    f = _one(logs_run("12914944").findings, (Kind.ARBITRAGE, Kind.BACKRUN), tx_prefix)
    t = _one(trace_findings("12914944"), (Kind.ARBITRAGE, Kind.BACKRUN), tx_prefix)
    assert set(f.pools) == set(t.pools) and f.coinbase_transfer_wei is None


def test_arbitrage_fcf4558f_profit_equal_in_both_modes(block_names: list[str]) -> None:
    """Unwrapped WETH profit: logs infer the ETH leg from WETH's Withdrawal event."""
    f = _one(logs_run("12914944").findings, (Kind.ARBITRAGE, Kind.BACKRUN), "0xfcf4558f")
    assert f.profit_by_token == {ETH: 53560707941943273628}


def test_arbitrage_448245bf_third_party_eth_payment_invisible_in_logs(block_names: list[str]) -> None:
    """Regression: the bot's internal ETH payment of 37500263683755117 wei to 0xea674f… (not the
    fee recipient) is in the traces only; logs mode reports the higher, peer-like figure and says
    internal ETH movements are invisible."""
    t = _one(trace_findings("12914944"), (Kind.ARBITRAGE, Kind.BACKRUN), "0x448245bf")
    f = _one(logs_run("12914944").findings, (Kind.ARBITRAGE, Kind.BACKRUN), "0x448245bf")
    assert f.profit_by_token[ETH] == 750005273675102326  # the peer's profit_amount
    assert f.profit_by_token[ETH] - t.profit_by_token[ETH] == 37500263683755117
    assert f.unpriced_reason and "internal ETH transfers are invisible" in f.unpriced_reason


# --------------------------------------------------------------------------- liquidations
def _liq_records() -> list[dict]:
    return [r for r in expected_records() if r["kind"] == "liquidation"]


def _liq_id(rec: dict) -> str:
    e = rec["expected"]
    return f"{rec['block_number']}-{e['transaction_hash'][:10]}-{e['liquidated_user'][:8]}"


@pytest.mark.parametrize("rec", _liq_records(), ids=_liq_id)
def test_liquidation_record_logs_only(rec: dict, block_names: list[str]) -> None:
    """Every liquidation of the peer's tests (Aave V1/V2, Compound, CREAM; incl. 13244807 and
    13326607) is found from logs with the same borrower, liquidator, debt token and amount."""
    e = rec["expected"]
    run = logs_run(str(rec["block_number"]))
    hits = [
        a
        for a in run.decoded.actions
        if isinstance(a, Liquidation)
        and a.tx_hash == e["transaction_hash"]
        and (a.borrower, a.liquidator) == (e["liquidated_user"], e["liquidator_user"])
        and (a.debt_token, a.debt_amount) == (e["debt_token_address"], e["debt_purchase_amount"])
    ]
    assert hits, "liquidation not decoded from logs"
    assert any(
        (a.collateral_token, a.collateral_amount) == (e["received_token_address"], e["received_amount"])
        for a in hits
    )
    fs = [f for f in run.findings if f.kind == Kind.LIQUIDATION and e["transaction_hash"] in f.attacker_txs]
    assert fs and any(
        d.get("borrower") == e["liquidated_user"]
        for f in fs
        for d in f.details.get("liquidations", [f.details])
    )


@pytest.mark.parametrize("name", ["13244807", "13326607"])
def test_liquidation_findings_same_in_both_modes(name: str, block_names: list[str]) -> None:
    def key(f: Finding) -> tuple:
        return (
            f.attacker_txs,
            f.details.get("borrower"),
            f.details.get("debt_token"),
            f.details.get("debt_amount"),
        )

    logged = sorted(key(f) for f in logs_run(name).findings if f.kind == Kind.LIQUIDATION)
    traced = sorted(key(f) for f in trace_findings(name) if f.kind == Kind.LIQUIDATION)
    assert logged == traced and logged


def test_cream_market_labelled_cream_in_logs_mode(block_names: list[str]) -> None:
    """Regression: logs do not show the comptroller, so the label comes from ``compound.MARKETS``;
    the CREAM crLINK market 0x697256… (once absent, then ``compound_v2_fork``) is ``cream`` in both
    modes."""
    tx = "0x0809bdbb"
    (t,) = [
        a
        for a in traced_decode("12674514").actions
        if isinstance(a, Liquidation) and a.tx_hash.startswith(tx)
    ]
    (lg,) = [
        a
        for a in logs_run("12674514").decoded.actions
        if isinstance(a, Liquidation) and a.tx_hash.startswith(tx)
    ]
    assert (t.protocol, lg.protocol) == ("cream", "cream")
    assert lg.pool == "0x697256caa3ccafd62bb6d3aa1c7c5671786a5fd9"


def test_reverted_liquidation_absent_in_logs_mode(block_names: list[str]) -> None:
    (rec,) = [r for r in expected_records() if r["kind"] == "liquidation_absent"]
    tx = rec["expected"]["transaction_hash"]
    run = logs_run(str(rec["block_number"]))
    rc = next(r for r in run.bundle["receipts"] if r["transactionHash"] == tx)
    assert rc["status"] == "0x0" and rc["logs"] == []
    assert not [a for a in run.decoded.actions if a.tx_hash == tx]
    assert not [f for f in run.findings if tx in f.tx_hashes]


# --------------------------------------------------------------------------- blind spots
def test_reverted_arbitrage_attempt_only_visible_with_traces(block_names: list[str]) -> None:
    """0x23a4dc70… (12483198) succeeds, but its arbitrage sits in a sub-call whose revert it
    catches: traces report a REVERTED arbitrage; a logs-only node cannot (the reverted call's
    events are rolled back) and sees a successful transaction without swaps."""
    tx = "0x23a4dc7044666d3d4cc2d394a8017fc9d6b87018c20390d35266cea1af783e8a"
    assert any(tx in f.attacker_txs and f.status == Status.REVERTED for f in trace_findings("12483198"))
    run = logs_run("12483198")
    assert not any(tx in f.attacker_txs for f in run.findings)
    (meta,) = [m for m in run.decoded.txs if m.hash == tx]
    assert meta.success is True
    assert not [a for a in run.decoded.actions if a.tx_hash == tx and isinstance(a, Swap)]


@pytest.mark.parametrize("name", ["12775690", "12914944", "13244807"])
def test_no_coinbase_payments_or_internal_eth_in_logs_mode(name: str, block_names: list[str]) -> None:
    """Every ETH movement decoded from logs is a top-level value or a WETH wrap's inferred leg."""
    logged = logs_run(name).decoded.actions
    assert not [a for a in logged if isinstance(a, CoinbasePayment)]
    assert any(isinstance(a, CoinbasePayment) for a in traced_decode(name).actions)
    eth = [a for a in logged if getattr(a, "token", None) == ETH]
    assert all(a.protocol == "eth" for a in eth)
    for f in logs_run(name).findings:
        if f.coinbase_transfer_wei is None:
            assert f.unpriced_reason and "logs-only" in f.unpriced_reason


def test_one_sided_v3_collect_placed_from_transfer_logs(block_names: list[str]) -> None:
    """Regression (12498502, tx 0x950d329c…): ``Collect`` of WBTC only (amount0 = 0) on V3 pool
    0xcbcdf9…, the pool's only event in the block and its tokens not cached. It used to be a
    logged skip ("tokens unknown"); the pool's ``Transfer`` of amount1 out to the recipient now
    places WBTC in slot 1, as the trace decoder does from the ``collect`` frame's ``transfer``."""
    pool = "0xcbcdf9626bc03e24f779434178a73a0b4bad62ed"
    wbtc = "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599"
    (t,) = [
        a
        for a in traced_decode("12498502").actions
        if a.tx_hash == ONE_SIDED_COLLECT_TX and getattr(a, "pool", None) == pool
    ]
    run = logs_run("12498502")
    (lg,) = [a for a in run.decoded.actions if getattr(a, "pool", None) == pool]
    assert isinstance(t, LiquidityChange) and isinstance(lg, LiquidityChange)
    assert t.tokens == lg.tokens == (wbtc,) and t.amounts == lg.amounts == (1356599,)
    assert (lg.change, lg.provider, lg.recipient, lg.tick_lower, lg.tick_upper) == (
        t.change,
        t.provider,
        t.recipient,
        t.tick_lower,
        t.tick_upper,
    )
    assert lg.protocol == t.protocol == "uniswap_v3_fork"  # one token: the CREATE2 check cannot run
    assert not run.decoded.skips


# --------------------------------------------------------------------------- 0x and Bancor
def _zerox_records() -> list[dict]:
    return [r for r in expected_records() if r["kind"] == "swap" and r["expected"]["protocol"] == "0x"]


@pytest.mark.parametrize("rec", _zerox_records(), ids=lambda r: r["expected"]["transaction_hash"][:10])
def test_zerox_record_swap_from_logs(rec: dict, block_names: list[str]) -> None:
    """The peer's three exact 0x fills (public ``fillLimitOrder`` by a contract, ``_fillLimitOrder``
    of a batch fill, ``_fillRfqOrder`` of a multiplex sell) decoded from the fill events alone,
    with the caller convention of traces (the proxy for the ``onlySelf`` fills)."""
    e = rec["expected"]
    hits = [
        a
        for a in logs_run(str(rec["block_number"])).decoded.actions
        if isinstance(a, Swap) and a.tx_hash == e["transaction_hash"] and a.protocol == "0x"
    ]
    assert [
        (a.pool, a.sender, a.recipient, a.token_in, a.amount_in, a.token_out, a.amount_out) for a in hits
    ] == [
        (
            e["contract_address"],
            e["from_address"],
            e["to_address"],
            e["token_in_address"],
            e["token_in_amount"],
            e["token_out_address"],
            e["token_out_amount"],
        )
    ]


def test_zerox_public_fill_sent_by_an_eoa_keeps_the_taker_as_sender(block_names: list[str]) -> None:
    """Negative case of the ``onlySelf`` rule (15049646, tx 0xf5d2926f…): the transaction calls the
    proxy's public ``fillRfqOrder``; its sender is the taker, not the proxy."""
    tx = "0xf5d2926f"
    (t,) = [a for a in traced_decode("15049646").actions if isinstance(a, Swap) and a.tx_hash.startswith(tx)]
    (lg,) = [
        a for a in logs_run("15049646").decoded.actions if isinstance(a, Swap) and a.tx_hash.startswith(tx)
    ]
    assert lg.sender == t.sender != lg.pool
    assert lg.sender == next(x.from_ for x in load_fixture("15049646").transactions if x.hash == t.tx_hash)


def test_bancor_two_calls_in_one_tx_stay_two_swaps(block_names: list[str]) -> None:
    """Regression (13302365, tx 0xa3d8c446…): two network calls back to back, the second converting
    exactly the BNT the first returned. The second pulls it from the trader (a ``Transfer`` between
    the events), so the ``Conversion`` steps are not chained into one swap; the second call's
    beneficiary (the next pool, 0x82dbc2…) is the receiver of its output ``Transfer``."""
    tx = "0xa3d8c446"

    def key(s: Swap) -> tuple:
        return (s.token_in, s.amount_in, s.token_out, s.amount_out, s.sender, s.recipient)

    traced = [
        key(a)
        for a in traced_decode("13302365").actions
        if isinstance(a, Swap) and a.tx_hash.startswith(tx) and a.protocol == "bancor"
    ]
    logged = [
        key(a)
        for a in logs_run("13302365").decoded.actions
        if isinstance(a, Swap) and a.tx_hash.startswith(tx) and a.protocol == "bancor"
    ]
    assert logged == traced and len(logged) == 2
    assert logged[1][5].startswith("0x82dbc267")


@pytest.mark.parametrize(
    ("name", "tx_prefix"),
    [("13302365", "0xa3d8c446"), ("13666312", "0xa043976d")],
    ids=["bancor-5-leg-13302365", "zerox-13666312"],
)
def test_arbitrage_through_bancor_or_0x_found_logs_only(
    name: str, tx_prefix: str, block_names: list[str]
) -> None:
    """The 5-leg arbitrage through two Bancor conversions and the V3-flash arbitrage that fills a
    0x limit order are found from logs over the same pools as from traces."""
    f = _one(logs_run(name).findings, (Kind.ARBITRAGE, Kind.BACKRUN), tx_prefix)
    t = _one(trace_findings(name), (Kind.ARBITRAGE, Kind.BACKRUN), tx_prefix)
    assert set(f.pools) == set(t.pools)
    assert f.profit_by_token == t.profit_by_token
