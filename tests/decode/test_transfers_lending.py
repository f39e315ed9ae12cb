"""Balance movements (ERC20, WETH, ETH, coinbase), liquidations and flash loans on real blocks.

Peer comparison: mev-inspect-py's ``transfers`` come from ``transfer``/``transferFrom`` traces too,
but it (a) also reports the ``delegatecall`` a proxied token (USDC, aTokens) makes to its
implementation -- the same movement a second time, under the implementation's address -- and
(b) reports transfers inside reverted calls. Ours must equal the peer's set minus exactly those,
plus transfers the peer fails to decode (calldata with dirty high address bits).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import pytest

from mevgraph.core.actions import CoinbasePayment, FlashLoan, Liquidation, Transfer
from mevgraph.core.types import ETH, Block, Log, Receipt, Transaction
from mevgraph.decode.abi import topic
from mevgraph.decode.context import TraceContext
from mevgraph.decode.decoder import DecodedBlock, decode_block
from mevgraph.decode.protocols.erc20 import FALSE_WORD, transfer_from_trace

from ..conftest import decoded_fixture, expected_records, load_fixture, peer_output

WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
PROTOCOL_MAP = {"aave": {"aave_v1", "aave_v2", "aave_v3"}, "compound_v2": {"compound_v2"}, "cream": {"cream"}}


def _transfers(d: DecodedBlock, tx_prefix: str = "") -> list[Transfer]:
    return [a for a in d.actions if isinstance(a, Transfer) and a.tx_hash.startswith(tx_prefix)]


def _deltas(d: DecodedBlock, tx_prefixes: list[str], who: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for p in tx_prefixes:
        for t in _transfers(d, p):
            if t.to == who:
                out[t.token] += t.amount
            if t.from_ == who:
                out[t.token] -= t.amount
    return dict(out)


def _reverted(block: Block) -> set[tuple[str, tuple[int, ...]]]:
    """(tx, trace_address) of every frame that is or sits under a reverted frame."""
    bad: set[tuple[str, tuple[int, ...]]] = set()
    errored = {(t.tx_hash, t.trace_address) for t in block.traces or () if t.error}
    for t in block.traces or ():
        ta = t.trace_address
        if any((t.tx_hash, ta[:k]) in errored for k in range(len(ta) + 1)):
            bad.add((t.tx_hash, ta))  # type: ignore[arg-type]
    return bad


# --- liquidations -------------------------------------------------------------------------


def _liquidation_records() -> list[dict]:
    return [r for r in expected_records() if r["kind"] == "liquidation"]


@pytest.mark.parametrize(
    "rec",
    _liquidation_records(),
    ids=lambda r: f"{r['block_number']}-{r['expected']['transaction_hash'][:10]}",
)
def test_liquidation_matches_peer_test_suite_exactly(rec: dict, block_names: list[str]) -> None:
    e = rec["expected"]
    d = decoded_fixture(str(rec["block_number"]))
    hits = [
        a
        for a in d.actions
        if isinstance(a, Liquidation)
        and a.tx_hash == e["transaction_hash"]
        and list(a.trace_address or ()) == e["trace_address"]
    ]
    assert len(hits) == 1
    liq = hits[0]
    assert liq.protocol in PROTOCOL_MAP[e["protocol"]]
    assert (liq.borrower, liq.liquidator) == (e["liquidated_user"], e["liquidator_user"])
    assert (liq.debt_token, liq.debt_amount) == (e["debt_token_address"], e["debt_purchase_amount"])
    assert (liq.collateral_token, liq.collateral_amount) == (
        e["received_token_address"],
        e["received_amount"],
    )


def test_reverted_compound_liquidation_absent(block_names: list[str]) -> None:
    (rec,) = [r for r in expected_records() if r["kind"] == "liquidation_absent"]
    d = decoded_fixture(str(rec["block_number"]))
    tx = rec["expected"]["transaction_hash"]
    assert not [a for a in d.actions if isinstance(a, Liquidation) and a.tx_hash == tx]
    assert not [a for a in d.actions if a.tx_hash == tx]  # a reverted tx moves nothing


def test_aave_versions_named_from_pool_address(block_names: list[str]) -> None:
    v1 = [a for a in decoded_fixture("12498502").actions if isinstance(a, Liquidation)]
    v2 = [a for a in decoded_fixture("13244807").actions if isinstance(a, Liquidation)]
    assert {a.protocol for a in v1} == {"aave_v1"} and {a.protocol for a in v2} == {"aave_v2"}


def test_no_liquidation_in_blocks_without_one(block_names: list[str]) -> None:
    expected_blocks = {str(r["block_number"]) for r in _liquidation_records()}
    for name in block_names:
        if name in expected_blocks or peer_output(name)["liquidations"]:
            continue
        assert not [a for a in decoded_fixture(name).actions if isinstance(a, Liquidation)], name


# --- ERC20 transfers vs the peer ----------------------------------------------------------


def test_erc20_transfers_equal_peer_minus_delegatecall_and_reverted(block_names: list[str]) -> None:
    extra_total = 0
    for name in block_names:
        block = load_fixture(name)
        frames = {(t.tx_hash, t.trace_address): t for t in block.traces or ()}
        bad = _reverted(block)
        ours = {
            (t.tx_hash, t.trace_address, t.token, t.from_, t.to, t.amount)
            for t in _transfers(decoded_fixture(name))
            if t.protocol == "erc20" or t.protocol.startswith("aave")  # + aToken transferOnLiquidation
        }
        peer = set()
        for x in peer_output(name)["transfers"]:
            key = (x["transaction_hash"], tuple(x["trace_address"]))
            if x["token_address"] == ETH or frames[key].call_type != "call" or key in bad:
                continue
            peer.add((*key, x["token_address"], x["from_address"], x["to_address"], int(x["amount"])))
        assert peer <= ours, (name, sorted(peer - ours)[:3])
        extra = ours - peer
        # Only transfers whose calldata the peer's strict ABI decoder rejects (dirty address bits).
        for tx, ta, *_ in extra:
            assert frames[(tx, ta)].input[10:34] != "0" * 24, (name, tx, ta)
        extra_total += len(extra)
    assert extra_total == 1  # tx 0xd02b3e52… of block 13234998


def test_proxy_transfer_counted_once_regression_usdc(block_names: list[str]) -> None:
    tx = "0xa5526f8bcc1c2b6a385a7dfea0a94d6e096f9a03d0eb9be53f1344b846e24b3a"
    ts = [t for t in _transfers(decoded_fixture("12914944"), tx) if t.amount == 338651000]
    assert [(t.token, t.trace_address) for t in ts] == [(USDC, (1,))]


def test_usdt_transfer_without_return_value_counts(block_names: list[str]) -> None:
    tx = "0x2230f100cfcf45d57f81288901ed96006bc8a5e072e1cd25ac40217243c2b856"
    top = next(t for t in load_fixture("12775690").traces or () if t.tx_hash == tx and t.trace_address == ())
    assert top.output == "0x"
    assert [t.token for t in _transfers(decoded_fixture("12775690"), tx)] == [USDT]


def test_transfer_returning_false_moves_nothing(block_names: list[str]) -> None:
    block = load_fixture("12775690")
    tx = "0x2230f100cfcf45d57f81288901ed96006bc8a5e072e1cd25ac40217243c2b856"
    frames = [t for t in block.traces or () if t.tx_hash == tx]
    ctx = TraceContext(block=block, tx_hash=frames[0].tx_hash, tx_index=0, frames=frames)  # type: ignore[arg-type]
    assert transfer_from_trace(ctx, 0)
    ctx.frames[0] = dataclasses.replace(frames[0], output=FALSE_WORD)
    assert transfer_from_trace(ctx, 0) == []


# --- WETH, ETH and coinbase payments ------------------------------------------------------


def test_coinbase_payments_equal_peer_per_tx(block_names: list[str]) -> None:
    for name in block_names:
        ours: dict[str, int] = defaultdict(int)
        for a in decoded_fixture(name).actions:
            if isinstance(a, CoinbasePayment):
                ours[a.tx_hash] += a.amount
        peer = {m["transaction_hash"]: m["coinbase_transfer"] for m in peer_output(name)["miner_payments"]}
        assert dict(ours) == {h: v for h, v in peer.items() if v}, name


def test_weth_unwrap_and_eth_legs_balance(block_names: list[str]) -> None:
    d = decoded_fixture("12914944")
    tx = "0x448245bf1a507b73516c4eeee01611927dada6610bf26d403012f2e66800d8f0"
    bot = "0x5e6732d6416d3f3a6574b61ef1c81316cf8d9287"
    unwraps = [t for t in _transfers(d, tx) if t.protocol == "weth"]
    assert [(t.from_, t.to, t.amount) for t in unwraps] == [(bot, WETH, 750005273675102326)]
    eth_back = [t for t in _transfers(d, tx) if t.token == ETH and t.from_ == WETH]
    assert [(t.to, t.amount) for t in eth_back] == [(bot, 750005273675102326)]


def test_arbitrage_bot_deltas_12914944(block_names: list[str]) -> None:
    """Peer WETH profit 750005273675102326: the bot swaps 1.2 WETH (lent by its EOA) into
    1.950005273675102326 WETH, returns the 1.2, unwraps the rest and pays it out in ETH: 95 % to
    the fee recipient (a coinbase payment) and 5 % to 0xea674fdd…. So every per-token delta of the
    bot contract is 0 and the trading profit equals coinbase payment + payout exactly."""
    d = decoded_fixture("12914944")
    tx = "0x448245bf"
    bot = "0x5e6732d6416d3f3a6574b61ef1c81316cf8d9287"
    assert set(_deltas(d, [tx], bot).values()) == {0}
    swap_legs = [
        t
        for t in _transfers(d, tx)
        if t.token == WETH
        and t.from_ != "0xf6da21e95d74767009accb145b96897ac3630bad"
        and t.to != "0xf6da21e95d74767009accb145b96897ac3630bad"
    ]
    trading = sum(t.amount for t in swap_legs if t.to == bot and t.protocol == "erc20") - sum(
        t.amount for t in swap_legs if t.from_ == bot and t.protocol == "erc20"
    )
    assert trading == 750005273675102326
    cb = sum(a.amount for a in d.actions if isinstance(a, CoinbasePayment) and a.tx_hash.startswith(tx))
    paid_out = sum(t.amount for t in _transfers(d, tx) if t.token == ETH and t.from_ == bot)
    assert cb == 712505009991347209 and paid_out == 750005273675102326


def test_sandwich_bot_deltas_12775690(block_names: list[str]) -> None:
    """Peer profit 49991481915322274 WETH = our WETH delta of the bot over front+back run. Its ETH
    delta is 0: the coinbase payment (31720597566128908 wei, in the backrun) is the value its EOA
    sent along with the transaction, forwarded by the contract."""
    d = decoded_fixture("12775690")
    bot = "0x000000000027d2efc283613d0c3e24a8b430c4d8"
    deltas = _deltas(d, ["0x91a3abe5", "0xc300d1ff"], bot)
    assert deltas[WETH] == 49991481915322274
    assert deltas[ETH] == 0 and deltas["0x9813037ee2218799597d83d4a5b6f3b6778218d9"] == 0
    cb = [a for a in d.actions if isinstance(a, CoinbasePayment) and a.tx_hash.startswith("0xc300d1ff")]
    assert [(a.from_, a.amount) for a in cb] == [(bot, 31720597566128908)]


# --- flash loans --------------------------------------------------------------------------


def test_dydx_flash_loan_12483198(block_names: list[str]) -> None:
    loans = [
        a for a in decoded_fixture("12483198").actions if isinstance(a, FlashLoan) and a.protocol == "dydx"
    ]
    assert [(a.token, a.amount, a.fee, a.lender) for a in loans] == [
        (WETH, 20000 * 10**18, 1, "0x1e0447b19bb6ecfdae1e4ae1694b0c3659614e4e")
    ]


def test_erc3156_flash_loan_before_cream_liquidation_13404932(block_names: list[str]) -> None:
    tx = "0xf5f3df6ec9b51e8e88d0d9078b04373742294530b6bcb9be045525fcab71b915"
    loans = [a for a in decoded_fixture("13404932").actions if isinstance(a, FlashLoan) and a.tx_hash == tx]
    # lent 0xb377c1d110088ef by transfer (1, 0, 4), pulled back 0xb3858a4c1507bde by transferFrom (1, 0, 7)
    assert [(a.protocol, a.receiver, a.token, a.amount, a.fee) for a in loans] == [
        (
            "erc3156",
            "0x949ed86c385d191e96af136e2024d96e467d7651",
            WETH,
            0xB377C1D110088EF,
            0xB3858A4C1507BDE - 0xB377C1D110088EF,
        )
    ]


# --- logs: events encoded per ABI from real trace data decode to the same actions ----------


def _word(v: int | str) -> str:
    return (f"{v:064x}" if isinstance(v, int) else "0" * 24 + v[2:]) if v != "" else ""


def _log_block(
    src: Block,
    tx_hash: str,
    logs: list[tuple[str, list[str], list[int | str]]],
    tx: Transaction | None = None,
) -> DecodedBlock:
    built = tuple(
        Log(
            address=addr,  # type: ignore[arg-type]
            topics=tuple(topics),
            data="0x" + "".join(_word(w) for w in data),
            log_index=k,
            tx_hash=tx_hash,  # type: ignore[arg-type]
            tx_index=0,
        )
        for k, (addr, topics, data) in enumerate(logs)
    )
    rc = Receipt(tx_hash=tx_hash, tx_index=0, status=True, logs=built)  # type: ignore[arg-type]
    return decode_block(
        Block(
            chain_id=1, number=src.number, miner=src.miner, receipts=(rc,), transactions=(tx,) if tx else ()
        )
    )


def _t(a: str) -> str:
    return "0x" + _word(a)


def test_transfer_event_decodes_like_its_trace(block_names: list[str]) -> None:
    d = decoded_fixture("12914944")
    tr = next(t for t in _transfers(d, "0x448245bf") if t.trace_address == (8, 0, 0))
    lb = _log_block(
        d.block,
        tr.tx_hash,
        [(tr.token, [topic("Transfer(address,address,uint256)"), _t(tr.from_), _t(tr.to)], [tr.amount])],
    )
    (got,) = _transfers(lb)
    assert (got.token, got.from_, got.to, got.amount) == (tr.token, tr.from_, tr.to, tr.amount)


def test_erc721_transfer_event_skipped(block_names: list[str]) -> None:
    src = load_fixture("12914944")
    sig = topic("Transfer(address,address,uint256)")
    lb = _log_block(src, "0x" + "ab" * 32, [(WETH, [sig, _t(WETH), _t(USDC), "0x" + _word(7)], [])])
    assert _transfers(lb) == []


def test_weth_withdrawal_event_decodes_like_its_trace(block_names: list[str]) -> None:
    d = decoded_fixture("12914944")
    (tr,) = [t for t in _transfers(d, "0x448245bf") if t.protocol == "weth"]
    lb = _log_block(
        d.block, tr.tx_hash, [(WETH, [topic("Withdrawal(address,uint256)"), _t(tr.from_)], [tr.amount])]
    )
    # Both legs, as from traces (where the ETH leg is WETH's value call back to the holder).
    eth_leg = next(t for t in _transfers(d, tr.tx_hash) if t.token == ETH and t.from_ == WETH)
    got = [(t.token, t.from_, t.to, t.amount) for t in _transfers(lb)]
    assert got == [(WETH, tr.from_, WETH, tr.amount), (ETH, WETH, eth_leg.to, eth_leg.amount)]


def test_weth_deposit_event_infers_eth_leg_unless_tx_is_the_deposit(block_names: list[str]) -> None:
    """Real deposit() frame (2, 0) of tx 0xe3d1e9f3… (block 10921990) as a Deposit event: inside a
    router call the ETH leg is inferred; for a tx sent to WETH itself it is the tx value (emitted
    once, by the decoder)."""
    d = decoded_fixture("10921990")
    tx = "0xe3d1e9f3220f979ede68f3593a58f4cf1b1d36ce609082d76b9a7e57a84c0731"
    (wrap,) = [t for t in _transfers(d, tx) if t.protocol == "weth" and t.from_ == WETH]
    ev = [(WETH, [topic("Deposit(address,uint256)"), _t(wrap.to)], [wrap.amount])]
    inner = [(t.token, t.from_, t.to) for t in _transfers(_log_block(d.block, tx, ev))]
    assert inner == [(WETH, WETH, wrap.to), (ETH, wrap.to, WETH)]
    direct = Transaction(hash=tx, index=0, from_=wrap.to, to=WETH, value=wrap.amount, input="0xd0e30db0")  # type: ignore[arg-type]
    got = [(t.token, t.from_, t.to, t.amount) for t in _transfers(_log_block(d.block, tx, ev, direct))]
    assert sorted(got) == sorted([(WETH, WETH, wrap.to, wrap.amount), (ETH, wrap.to, WETH, wrap.amount)])


def test_aave_v2_liquidation_event_equals_trace_decoding(block_names: list[str]) -> None:
    d = decoded_fixture("13244807")
    (liq,) = [a for a in d.actions if isinstance(a, Liquidation)]
    sig = topic("LiquidationCall(address,address,address,uint256,uint256,address,bool)")
    lb = _log_block(
        d.block,
        liq.tx_hash,
        [
            (
                liq.pool,
                [sig, _t(liq.collateral_token), _t(liq.debt_token), _t(liq.borrower)],
                [liq.debt_amount, liq.collateral_amount, liq.liquidator, 0],
            )
        ],
    )
    (got,) = [a for a in lb.actions if isinstance(a, Liquidation)]
    fields = (
        "protocol",
        "pool",
        "liquidator",
        "borrower",
        "debt_token",
        "debt_amount",
        "collateral_token",
        "collateral_amount",
    )
    assert [getattr(got, f) for f in fields] == [getattr(liq, f) for f in fields]


def test_compound_liquidate_borrow_event_equals_trace_decoding(block_names: list[str]) -> None:
    d = decoded_fixture("13326607")
    (liq,) = [a for a in d.actions if isinstance(a, Liquidation)]
    transfer = topic("Transfer(address,address,uint256)")
    lb = _log_block(
        d.block,
        liq.tx_hash,
        [
            (liq.debt_token, [transfer, _t(liq.liquidator), _t(liq.pool)], [liq.debt_amount]),
            (liq.collateral_token, [transfer, _t(liq.borrower), _t(liq.liquidator)], [liq.collateral_amount]),
            (
                liq.pool,
                [topic("LiquidateBorrow(address,address,uint256,address,uint256)")],
                [liq.liquidator, liq.borrower, liq.debt_amount, liq.collateral_token, liq.collateral_amount],
            ),
        ],
    )
    (got,) = [a for a in lb.actions if isinstance(a, Liquidation)]
    fields = (
        "protocol",
        "pool",
        "liquidator",
        "borrower",
        "debt_token",
        "debt_amount",
        "collateral_token",
        "collateral_amount",
    )
    assert [getattr(got, f) for f in fields] == [getattr(liq, f) for f in fields]


def test_balancer_flash_loan_event(block_names: list[str]) -> None:
    src = load_fixture("12914944")
    vault = "0xba12222222228d8ba445958a75a0704d566bf2c8"
    recv = "0x5e6732d6416d3f3a6574b61ef1c81316cf8d9287"
    lb = _log_block(
        src,
        "0x" + "cd" * 32,
        [(vault, [topic("FlashLoan(address,address,uint256,uint256)"), _t(recv), _t(WETH)], [10**18, 0])],
    )
    (got,) = [a for a in lb.actions if isinstance(a, FlashLoan)]
    assert (got.protocol, got.lender, got.receiver, got.token, got.amount, got.fee) == (
        "balancer_v2",
        vault,
        recv,
        WETH,
        10**18,
        0,
    )


def test_selfdestruct_moves_balance_to_refund_address(block_names: list[str]) -> None:
    """Tx 0xe3d1e9f3… (block 10921990) burns gas tokens: their selfdestructs carry no balance and
    move nothing. Given a balance (as a contract holding ETH would have), the same frame moves it
    from the destroyed contract to the refund address."""
    block = load_fixture("10921990")
    tx = "0xe3d1e9f3220f979ede68f3593a58f4cf1b1d36ce609082d76b9a7e57a84c0731"
    sd = next(t for t in block.traces or () if t.tx_hash == tx and t.type == "suicide")
    assert not [t for t in _transfers(decoded_fixture("10921990"), tx) if t.trace_address == sd.trace_address]
    frames = tuple(dataclasses.replace(t, value=10**18) if t is sd else t for t in block.traces or ())
    d = decode_block(dataclasses.replace(block, traces=frames))
    got = [
        (t.token, t.from_, t.to, t.amount) for t in _transfers(d, tx) if t.trace_address == sd.trace_address
    ]
    assert got == [(ETH, sd.from_, sd.to, 10**18)]


def test_plain_eth_sent_to_weth_mints_weth(block_names: list[str]) -> None:
    """WETH9's fallback is deposit(): a bare value call wraps. Built from a real deposit() frame of
    tx 0x1521c400… (block 10921990) with its calldata emptied, as a plain ETH send would be."""
    block = load_fixture("10921990")
    tx = "0x1521c4008e0c810532a9a132d9920bacb52a7a9af3797b1144eb638ff0aa28a3"
    frames = [
        dataclasses.replace(t, input="0x") if t.to == WETH and t.value else t
        for t in block.traces or ()
        if t.tx_hash == tx
    ]
    d = decode_block(dataclasses.replace(block, traces=tuple(frames)))
    ts = [
        (t.protocol, t.token, t.from_, t.to)
        for t in _transfers(d)
        if t.to != block.miner and (t.to == WETH or t.from_ == WETH)
    ]
    sender = next(f.from_ for f in frames if f.to == WETH and f.value)
    assert ("eth", ETH, sender, WETH) in ts and ("weth", WETH, WETH, sender) in ts


def test_seized_ctokens_redeemed_in_same_tx_net_to_zero_13404932(block_names: list[str]) -> None:
    """The CREAM liquidator seizes 417926832636968 crTokens and redeems them all (redeemVerify
    hook) in the same transaction: its crToken delta is 0 and only the underlying remains."""
    d = decoded_fixture("13404932")
    liquidator = "0x949ed86c385d191e96af136e2024d96e467d7651"
    crtoken = "0x2db6c82ce72c8d7d770ba1b5f5ed0b6e075066d6"
    ts = [t for t in _transfers(d, "0xf5f3df6e") if t.token == crtoken]
    assert [(t.from_ == liquidator, t.amount) for t in ts] == [
        (False, 417926832636968),
        (True, 417926832636968),
    ]
    assert _deltas(d, ["0xf5f3df6e"], liquidator)[crtoken] == 0


def test_ctoken_redeem_burns_ctokens_13326607(block_names: list[str]) -> None:
    """cETH redeem: 498654021 cETH go back to cETH and 0.100000028344782746 ETH come out."""
    d = decoded_fixture("13326607")
    ceth = "0x4ddc2d193948926d02f9b1fe9e1daa0718270ed5"
    ts = [
        (t.token, t.from_ == ceth, t.amount) for t in _transfers(d, "0xc4f10c5d") if ceth in (t.from_, t.to)
    ]
    assert (ceth, False, 498654021) in ts and (ETH, True, 100000028344782746) in ts


# (block, tx, wei of the peer profit not kept by the searcher: flash-loan fees the peer ignores)
_PEER_ARBS = [
    ("12914944", "0x448245bf", 0),
    ("12914944", "0xfcf4558f", 0),
    ("12483198", "0x1db6c452", 0),
    ("12483198", "0x22540e53", 1),  # repays dYdX's 20000 WETH flash loan + 1 wei
    ("12483198", "0x9ec86eb0", 0),
    ("12483198", "0xe3fac192", 0),
    ("13666312", "0x2d1f04ed", 0),
    ("13666363", "0xf2c707e6", 0),
]


@pytest.mark.parametrize(("name", "tx", "fees"), _PEER_ARBS)
def test_arbitrage_profit_equals_searcher_eth_weth_delta_plus_eth_paid_out(
    name: str, tx: str, fees: int, block_names: list[str]
) -> None:
    """Each successful peer arbitrage's WETH profit (minus flash-loan fees) is exactly the
    searcher's WETH+ETH delta from our transfers plus the ETH it paid out (coinbase bribes,
    payouts) after unwrapping. The searcher is the peer's account plus the contract the tx calls:
    in 0x22540e53 the account 0x0000fee6… borrows 59.38 ETH from the called contract and returns
    61.67 ETH to it, after a 7.66 ETH coinbase bribe."""
    arb = next(a for a in peer_output(name)["arbitrages"] if a["transaction_hash"].startswith(tx))
    assert arb["profit_token_address"] == WETH
    d = decoded_fixture(name)
    meta = next(m for m in d.txs if m.hash == arb["transaction_hash"])
    searcher = {arb["account_address"], meta.to}
    kept = paid_out = 0  # kept: WETH+ETH balance change of the searcher; paid_out: ETH it sent away
    for t in _transfers(d, tx):
        if t.token not in (WETH, ETH) or (t.from_ in searcher) == (t.to in searcher):
            continue
        if t.to in searcher:
            kept += t.amount
        else:
            kept -= t.amount
            if t.token == ETH and t.to != WETH:
                paid_out += t.amount
    assert kept + paid_out == arb["profit_amount"] - fees
