"""Test helper: the event logs a real block's contracts emitted, rebuilt from its traces.

Our real mainnet blocks (``../shared/data/mainnet/blocks``) carry Parity traces but no logs. The
events the contracts emitted are a deterministic function of what the traces show, so this module
re-creates them, ABI-exact, from the block's trace-decoded actions (``decode_block(block)``) plus
the call frames themselves, and packs the block as an RPC bundle *without* traces -- the input a
logs-only node (no ``trace_block``) gives. Tests then check that logs-only decoding and detection
find what trace mode finds (``tests/test_logs_only.py``).

Encoding is written here independently of the decoders (no import from ``mevgraph.decode``): topic0
is the keccak-256 of the canonical signature (pycryptodome), words are big-endian 32-byte values,
signed ints two's complement, addresses left-padded; indexed arguments are topics, the others
are the data in declaration order. The signature strings are the ones the log handlers register
(``src/mevgraph/decode/protocols/*.py``); ``tests/test_logs_only.py`` checks that each topic0
below is a key of the decoder registry.

Events emitted, per successful transaction (a reverted one emits none, status ``0x0``):

==================  ===================================================================  ==========
action (traces)     event (emitter)                                                      position
==================  ===================================================================  ==========
ERC20 ``Transfer``  ``Transfer(address indexed from, address indexed to, uint256)``       end of the
(any non-ETH token  (the token; also cToken seizures/mints/redeems and Aave               token's
movement but WETH   ``transferOnLiquidation``, whose contracts emit exactly this)         frame
wraps)
WETH wrap/unwrap    ``Deposit(address indexed dst, uint256)`` /                           end of
                    ``Withdrawal(address indexed src, uint256)`` (WETH)                   frame
Uniswap V2 swap     ``Sync(uint112, uint112)`` then ``Swap(address indexed sender,        end of the
(and forks)         uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256     ``swap``
                    amount1Out, address indexed to)`` (the pair)                          frame
Uniswap V3 swap     ``Swap(address indexed sender, address indexed recipient, int256,      end of
                    int256, uint160 sqrtPriceX96, uint128 liquidity, int24 tick)`` (pool)  frame
Uniswap V3 mint /   ``Mint``/``Burn``/``Collect`` of the pool (see :func:`_v3_liquidity`)  end of
burn / collect                                                                            frame
Aave V2/V3          ``LiquidationCall(address indexed collateral, address indexed debt,    end of
liquidation         address indexed user, uint256 debtToCover, uint256                    frame
                    liquidatedCollateralAmount, address liquidator, bool receiveAToken)``
                    (the lending pool; V1 has its own 9-argument event)
Compound V2         ``LiquidateBorrow(address liquidator, address borrower, uint256        end of
liquidation         repayAmount, address cTokenCollateral, uint256 seizeTokens)``          frame
                    (the borrowed market; no indexed argument)
Curve exchange      ``TokenExchange[Underlying](address indexed buyer, i, tokens_sold, j,   end of
                    tokens_bought)``, ``int128`` or ``uint256`` indices as the call (pool)   frame
Balancer V1 / V2    ``LOG_SWAP(caller, tokenIn, tokenOut, in, out)`` (BPool) / vault        end of
swap                ``Swap(bytes32 indexed poolId, tokenIn, tokenOut, in, out)``            frame
0x native order     ``LimitOrderFilled`` / ``RfqOrderFilled`` / ``OtcOrderFilled`` (proxy;  end of
fill                nothing indexed; see :func:`_zerox_logs`)                                frame
Bancor network      one ``Conversion(address indexed smartToken, address indexed from,      end of each
conversion          address indexed to, fromAmount, toAmount, trader)`` per path step       converter
                    (the network)                                                          call
==================  ===================================================================  ==========

"End of frame" orders an event after everything its frame's sub-calls emitted: a V2 pair emits
``Sync``/``Swap`` after its optimistic out-token ``transfer`` and any flash-swap callback, an Aave
pool emits ``LiquidationCall`` after the repayment and the collateral transfer. Log indexes are
block-wide, in transaction then execution order.

**Synthetic fields** (the traces do not show them; every other field is what the chain saw):

* V3 ``Swap`` ``sqrtPriceX96``/``liquidity``/``tick`` when the decoded action has none (trace mode
  never has them): the price is the swap's own average price ``amount1 / amount0`` (so
  ``sqrtPriceX96 = isqrt(amount1 * 2**192 / amount0)`` and ``tick = floor(log_1.0001(price))``)
  and ``liquidity = isqrt(amount0 * amount1)``; plausible, not the pool's state.
* V2 ``Swap.amountNIn`` is the payment the trace decoder summed (equal to the pair's own figure
  except for fee-on-transfer tokens, where the pair books less).
* Compound seizures are one gross ``Transfer`` of ``seizeTokens``; cTokens with a
  ``protocolSeizeShare`` really emit two (liquidator's share, then reserves'), which traces do not
  split.
* Aave V1 ``_accruedBorrowInterest`` is 0 and ``_timestamp`` the block's timestamp (0 if unknown).
* 0x ``orderHash`` is the keccak-256 of the order's calldata words (not its EIP-712 hash) and
  ``LimitOrderFilled.protocolFeePaid`` the fill frame's ETH value.
* ``blockHash``/``timestamp`` are left out when the fixture lacks them.

Not emitted: events of protocols outside the table (flash-loan lenders, V2 ``Mint``/``Burn``,
aToken/debt-token ``Mint``/``Burn``, the Bancor converters' own ``Conversion``): logs-only decoding
of those is not what this helper tests. ERC721 moves decoded from ``transferFrom`` come out as 3-topic ERC20
``Transfer`` events (trace mode cannot tell them apart either).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from Crypto.Hash import keccak

from mevgraph.core.actions import Action, ActionKind, Liquidation, LiquidityChange, Swap, Transfer
from mevgraph.core.types import ETH, Block, Trace
from mevgraph.decode.decoder import DecodedBlock

__all__ = [
    "SIGNATURES",
    "TOPICS",
    "SYNTHETIC_FIELDS",
    "WETH",
    "SynthLog",
    "event_topic",
    "synth_logs",
    "synth_bundle",
]

WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"

SIGNATURES: dict[str, str] = {
    "transfer": "Transfer(address,address,uint256)",
    "deposit": "Deposit(address,uint256)",
    "withdrawal": "Withdrawal(address,uint256)",
    "v2_swap": "Swap(address,uint256,uint256,uint256,uint256,address)",
    "v2_sync": "Sync(uint112,uint112)",
    "v3_swap": "Swap(address,address,int256,int256,uint160,uint128,int24)",
    "v3_mint": "Mint(address,address,int24,int24,uint128,uint256,uint256)",
    "v3_burn": "Burn(address,int24,int24,uint128,uint256,uint256)",
    "v3_collect": "Collect(address,address,int24,int24,uint128,uint128)",
    "aave_liquidation": "LiquidationCall(address,address,address,uint256,uint256,address,bool)",
    "aave_v1_liquidation": (
        "LiquidationCall(address,address,address,uint256,uint256,uint256,address,bool,uint256)"
    ),
    "compound_liquidation": "LiquidateBorrow(address,address,uint256,address,uint256)",
    "balancer_v1_swap": "LOG_SWAP(address,address,address,uint256,uint256)",
    "balancer_v2_swap": "Swap(bytes32,address,address,uint256,uint256)",
    "curve_exchange": "TokenExchange(address,int128,uint256,int128,uint256)",
    "curve_exchange_underlying": "TokenExchangeUnderlying(address,int128,uint256,int128,uint256)",
    "curve_crypto_exchange": "TokenExchange(address,uint256,uint256,uint256,uint256)",
    "zerox_limit_fill": (
        "LimitOrderFilled(bytes32,address,address,address,address,address,uint128,uint128,uint128,uint256,bytes32)"
    ),
    "zerox_rfq_fill": "RfqOrderFilled(bytes32,address,address,address,address,uint128,uint128,bytes32)",
    "zerox_otc_fill": "OtcOrderFilled(bytes32,address,address,address,address,uint128,uint128)",
    "bancor_conversion": "Conversion(address,address,address,uint256,uint256,address)",
}
"""Canonical event signatures, as the decoder's log handlers register them."""


def event_topic(signature: str) -> str:
    """topic0 of an event: keccak-256 of its canonical signature."""
    h = keccak.new(digest_bits=256)
    h.update(signature.encode())
    return "0x" + h.hexdigest()


TOPICS: dict[str, str] = {k: event_topic(s) for k, s in SIGNATURES.items()}

SYNTHETIC_FIELDS: dict[str, tuple[str, ...]] = {
    "v3_swap": ("sqrtPriceX96", "liquidity", "tick"),
    "aave_v1_liquidation": ("_accruedBorrowInterest", "_timestamp"),
    "zerox_limit_fill": ("orderHash", "protocolFeePaid"),
    "zerox_rfq_fill": ("orderHash",),
    "zerox_otc_fill": ("orderHash",),
}
"""Event fields this helper makes up (when the decoded action does not carry them)."""

# Selectors of the frames whose actions become DEX events (the calls, not the decoder's labels).
_SEL_V2_SWAP = "0x022c0d9f"  # swap(uint256,uint256,address,bytes)
_SEL_V3_SWAP = "0x128acb08"  # swap(address,bool,int256,uint160,bytes)
_BALANCER_VAULT = "0xba12222222228d8ba445958a75a0704d566bf2c8"
_AAVE = ("aave", "aave_v1", "aave_v2", "aave_v3")
_COMPOUND = ("compound_v2", "cream", "compound_v2_fork")
_END = 1 << 30  # sorts after every child index: "emitted when the frame returns"

_MIN_SQRT_RATIO = 4295128739
_MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342


def _u(v: int) -> str:
    if not 0 <= v < 1 << 256:
        raise ValueError(f"uint256 out of range: {v}")
    return f"{v:064x}"


def _i(v: int) -> str:
    if not -(1 << 255) <= v < 1 << 255:
        raise ValueError(f"int256 out of range: {v}")
    return f"{v % (1 << 256):064x}"


def _a(addr: str) -> str:
    return addr[2:].lower().rjust(64, "0")


def _b(v: bool) -> str:
    return _u(1 if v else 0)


def _topic(word: str) -> str:
    return "0x" + word


@dataclass(frozen=True, slots=True)
class SynthLog:
    """One emitted event, with the execution-order key it sorts by inside its transaction."""

    key: tuple[int, ...]
    address: str
    topics: tuple[str, ...]
    data: str


def _log(
    ta: tuple[int, ...], seq: int, address: str, topics: Iterable[str], words: Iterable[str]
) -> SynthLog:
    return SynthLog((*ta, _END, seq), address, tuple(topics), "0x" + "".join(words))


def _transfer_logs(t: Transfer) -> list[SynthLog]:
    ta = t.trace_address or ()
    if t.token == ETH:
        return []
    if t.protocol == "weth" and t.token == WETH:
        if t.from_ == WETH:  # wrap: WETH9 emits Deposit, no Transfer
            return [_log(ta, 0, WETH, (TOPICS["deposit"], _topic(_a(t.to))), [_u(t.amount)])]
        if t.to == WETH:
            return [_log(ta, 0, WETH, (TOPICS["withdrawal"], _topic(_a(t.from_))), [_u(t.amount)])]
    return [_log(ta, 0, t.token, (TOPICS["transfer"], _topic(_a(t.from_)), _topic(_a(t.to))), [_u(t.amount)])]


def _v2_logs(s: Swap) -> list[SynthLog]:
    ta = s.trace_address or ()
    zero_in = s.token_in < s.token_out  # token0 is the lower address
    ins = (s.amount_in, 0) if zero_in else (0, s.amount_in)
    outs = (0, s.amount_out) if zero_in else (s.amount_out, 0)
    out: list[SynthLog] = []
    if s.reserves_after is not None:
        r_in, r_out = s.reserves_after
        r0, r1 = (r_in, r_out) if zero_in else (r_out, r_in)
        if r0 >= 1 << 112 or r1 >= 1 << 112:
            raise ValueError(f"V2 reserves over uint112 on {s.pool}: {r0}, {r1}")
        out.append(_log(ta, 0, s.pool, (TOPICS["v2_sync"],), [_u(r0), _u(r1)]))
    topics = (TOPICS["v2_swap"], _topic(_a(s.sender)), _topic(_a(s.recipient)))
    out.append(_log(ta, 1, s.pool, topics, [_u(ins[0]), _u(ins[1]), _u(outs[0]), _u(outs[1])]))
    return out


def _v3_state(amount0: int, amount1: int) -> tuple[int, int, int]:
    """(sqrtPriceX96, liquidity, tick) consistent with the swap's own average price."""
    a0, a1 = abs(amount0), abs(amount1)
    sqrt_price = math.isqrt((a1 << 192) // a0)
    sqrt_price = min(max(sqrt_price, _MIN_SQRT_RATIO), _MAX_SQRT_RATIO - 1)
    price = (sqrt_price / (1 << 96)) ** 2
    tick = math.floor(math.log(price) / math.log(1.0001))
    tick = min(max(tick, -887272), 887272)
    return sqrt_price, math.isqrt(a0 * a1), tick


def _v3_swap_logs(s: Swap) -> list[SynthLog]:
    ta = s.trace_address or ()
    zero_in = s.token_in < s.token_out
    amount0, amount1 = (s.amount_in, -s.amount_out) if zero_in else (-s.amount_out, s.amount_in)
    sqrt_price, liquidity, tick = _v3_state(amount0, amount1)
    if s.sqrt_price_x96_after is not None:
        sqrt_price = s.sqrt_price_x96_after
    if s.liquidity_after is not None:
        liquidity = s.liquidity_after
    if s.tick_after is not None:
        tick = s.tick_after
    topics = (TOPICS["v3_swap"], _topic(_a(s.sender)), _topic(_a(s.recipient)))
    words = [_i(amount0), _i(amount1), _u(sqrt_price), _u(liquidity), _i(tick)]
    return [_log(ta, 0, s.pool, topics, words)]


def _v3_liquidity(c: LiquidityChange, frame: Trace) -> list[SynthLog]:
    """``Mint(sender, owner indexed, tickLower indexed, tickUpper indexed, amount, amount0, amount1)``,
    ``Burn(owner indexed, tickLower indexed, tickUpper indexed, amount, amount0, amount1)``,
    ``Collect(owner indexed, recipient, tickLower indexed, tickUpper indexed, amount0, amount1)``.

    ``amount0``/``amount1`` are the call's own return words (exact, also for a one-sided change
    whose other token the decoder could not name)."""
    out = (frame.output or "")[2:]
    if len(out) < 128 or c.tick_lower is None or c.tick_upper is None:
        return []
    ta = c.trace_address or ()
    a0, a1 = out[0:64], out[64:128]
    lo, hi = _topic(_i(c.tick_lower)), _topic(_i(c.tick_upper))
    if c.change == ActionKind.LIQUIDITY_ADD:
        topics = (TOPICS["v3_mint"], _topic(_a(c.provider)), lo, hi)
        words = [_a(frame.from_ or c.provider), _u(c.liquidity or 0), a0, a1]
    elif c.change == ActionKind.LIQUIDITY_REMOVE:
        topics = (TOPICS["v3_burn"], _topic(_a(c.provider)), lo, hi)
        words = [_u(c.liquidity or 0), a0, a1]
    else:
        topics = (TOPICS["v3_collect"], _topic(_a(c.provider)), lo, hi)
        words = [_a(c.recipient or c.provider), a0, a1]
    return [_log(ta, 0, c.pool, topics, words)]


def _aave_logs(liq: Liquidation, frame: Trace, timestamp: int) -> list[SynthLog]:
    ta = liq.trace_address or ()
    args = frame.input[10:]
    collateral = "0x" + args[24:64]  # liquidationCall's first argument: the underlying asset
    receive_atoken = int(args[256:320], 16) != 0
    topics = (
        TOPICS["aave_v1_liquidation" if liq.protocol == "aave_v1" else "aave_liquidation"],
        _topic(_a(collateral)),
        _topic(_a(liq.debt_token)),
        _topic(_a(liq.borrower)),
    )
    if liq.protocol == "aave_v1":
        words = [
            _u(liq.debt_amount),
            _u(liq.collateral_amount),
            _u(0),
            _a(liq.liquidator),
            _b(receive_atoken),
            _u(timestamp),
        ]
    else:
        words = [_u(liq.debt_amount), _u(liq.collateral_amount), _a(liq.liquidator), _b(receive_atoken)]
    return [_log(ta, 0, liq.pool, topics, words)]


def _compound_logs(liq: Liquidation) -> list[SynthLog]:
    words = [
        _a(liq.liquidator),
        _a(liq.borrower),
        _u(liq.debt_amount),
        _a(liq.collateral_token),
        _u(liq.collateral_amount),
    ]
    return [_log(liq.trace_address or (), 0, liq.pool, (TOPICS["compound_liquidation"],), words)]


def _selector(signature: str) -> str:
    return event_topic(signature)[:10]


# Curve exchange calls -> the event the pool emits (indices as the call's own int128/uint256).
_CURVE_EVENTS: dict[str, str] = {
    _selector("exchange(int128,int128,uint256,uint256)"): "curve_exchange",
    _selector("exchange(int128,int128,uint256,uint256,address)"): "curve_exchange",
    _selector("exchange_underlying(int128,int128,uint256,uint256)"): "curve_exchange_underlying",
    _selector("exchange_underlying(int128,int128,uint256,uint256,address)"): "curve_exchange_underlying",
    _selector("exchange(uint256,uint256,uint256,uint256)"): "curve_crypto_exchange",
    _selector("exchange(uint256,uint256,uint256,uint256,bool)"): "curve_crypto_exchange",
    _selector("exchange(uint256,uint256,uint256,uint256,bool,address)"): "curve_crypto_exchange",
}


def _curve_logs(s: Swap, frame: Trace) -> list[SynthLog]:
    """``TokenExchange[Underlying](address indexed buyer, i, tokens_sold, j, tokens_bought)``, the
    coin indices copied from the call (``i``, ``j`` are its first two arguments)."""
    name = _CURVE_EVENTS.get(frame.input[:10])
    if name is None:
        return []
    args = frame.input[10:]
    i, j = args[0:64], args[64:128]  # already ABI words of the same type as the event's
    words = [i, _u(s.amount_in), j, _u(s.amount_out)]
    return [_log(s.trace_address or (), 0, s.pool, (TOPICS[name], _topic(_a(s.sender))), words)]


def _balancer_v1_logs(s: Swap) -> list[SynthLog]:
    topics = (
        TOPICS["balancer_v1_swap"],
        _topic(_a(s.sender)),
        _topic(_a(s.token_in)),
        _topic(_a(s.token_out)),
    )
    return [_log(s.trace_address or (), 0, s.pool, topics, [_u(s.amount_in), _u(s.amount_out)])]


def _balancer_v2_logs(s: Swap, frame: Trace) -> list[SynthLog]:
    """The vault's ``Swap(bytes32 indexed poolId, ...)``; the pool id is the ``poolId`` field of the
    ``onSwap`` request (word 4 of the tuple the call's first argument points at)."""
    args = frame.input[10:]
    head = int(args[0:64], 16) // 32
    pool_id = args[64 * (head + 4) : 64 * (head + 5)]
    topics = (TOPICS["balancer_v2_swap"], _topic(pool_id), _topic(_a(s.token_in)), _topic(_a(s.token_out)))
    return [_log(s.trace_address or (), 0, _BALANCER_VAULT, topics, [_u(s.amount_in), _u(s.amount_out)])]


# 0x fill calls: selector -> (event, order words, word of the taker argument or None = the caller).
# Order tuples are static and inlined: Limit = 12 words, RFQ = 10, OTC = 8; a Signature = 4.
_ZX_LIMIT = "(address,address,uint128,uint128,uint128,address,address,address,address,bytes32,uint64,uint256)"
_ZX_RFQ = "(address,address,uint128,uint128,address,address,address,bytes32,uint64,uint256)"
_ZX_OTC = "(address,address,uint128,uint128,address,address,address,uint256)"
_ZX_SIG = "(uint8,uint8,bytes32,bytes32)"
_ZEROX_FILLS: dict[str, tuple[str, int, int | None]] = {
    _selector(f"fillLimitOrder({_ZX_LIMIT},{_ZX_SIG},uint128)"): ("zerox_limit_fill", 12, None),
    _selector(f"_fillLimitOrder({_ZX_LIMIT},{_ZX_SIG},uint128,address,address)"): (
        "zerox_limit_fill",
        12,
        17,
    ),
    _selector(f"fillRfqOrder({_ZX_RFQ},{_ZX_SIG},uint128)"): ("zerox_rfq_fill", 10, None),
    _selector(f"_fillRfqOrder({_ZX_RFQ},{_ZX_SIG},uint128,address,bool,address)"): ("zerox_rfq_fill", 10, 15),
    _selector(f"fillOtcOrder({_ZX_OTC},{_ZX_SIG},uint128)"): ("zerox_otc_fill", 8, None),
    _selector(f"_fillOtcOrder({_ZX_OTC},{_ZX_SIG},uint128,address,bool,address)"): ("zerox_otc_fill", 8, 13),
}


def _zerox_logs(s: Swap, frame: Trace) -> list[SynthLog]:
    """The fill event of a 0x native-order fill frame, all words from its calldata and output.

    ``taker`` is the caller of a public ``fill*`` and the ``taker`` argument of an ``onlySelf``
    ``_fill*``; ``takerTokenFeeFilledAmount`` is ``takerTokenFeeAmount * takerFilled //
    takerAmount`` as the proxy computes it; ``orderHash``/``protocolFeePaid`` are synthetic."""
    spec = _ZEROX_FILLS.get(frame.input[:10])
    out = (frame.output or "")[2:]
    if spec is None or len(out) < 128:
        return []
    name, n_order, taker_word = spec
    args = frame.input[10:]
    w = [args[64 * k : 64 * k + 64] for k in range(len(args) // 64)]
    taker = "0x" + w[taker_word][24:] if taker_word is not None else frame.from_ or ""
    h = keccak.new(digest_bits=256)
    h.update(bytes.fromhex("".join(w[:n_order])))
    order_hash = h.hexdigest()
    taker_filled, maker_filled = out[0:64], out[64:128]
    if name == "zerox_limit_fill":
        taker_amount, fee_amount = int(w[3], 16), int(w[4], 16)
        fee_filled = fee_amount * int(taker_filled, 16) // taker_amount if taker_amount else 0
        words = [order_hash, w[5], _a(taker), w[8], w[0], w[1], taker_filled, maker_filled]
        words += [_u(fee_filled), _u(frame.value), w[9]]
    else:  # RFQ: maker word 4, pool word 7; OTC: maker word 4, no pool
        words = [order_hash, w[4], _a(taker), w[0], w[1], taker_filled, maker_filled]
        if name == "zerox_rfq_fill":
            words.append(w[7])
    return [_log(s.trace_address or (), 0, frame.to or "", (TOPICS[name],), words)]


_SEL_BANCOR_CONVERT = _selector("convert(address,address,uint256,address,address)")


def _bancor_logs(s: Swap, frame: Trace, children: list[Trace]) -> list[SynthLog]:
    """One network ``Conversion`` per path step ``[from, anchor, to, ...]``, emitted after that
    step's converter ``convert`` call (a child of the network frame, returning the step's output);
    ``_trader`` is the network's caller. Steps whose converter calls are not all visible: none."""
    args = frame.input[10:]
    off = int(args[0:64], 16) // 32
    n = int(args[64 * off : 64 * off + 64], 16)
    path = ["0x" + args[64 * (off + 1 + k) + 24 : 64 * (off + 2 + k)] for k in range(n)]
    steps = [c for c in children if c.input[:10] == _SEL_BANCOR_CONVERT and c.call_type == "call"]
    if n < 3 or len(steps) != n // 2:
        return []
    out: list[SynthLog] = []
    amount = s.amount_in
    for k, conv in enumerate(steps):
        to_amount = int((conv.output or "0x0")[2:66] or "0", 16)
        topics = (
            TOPICS["bancor_conversion"],
            _topic(_a(path[2 * k + 1])),
            _topic(_a(path[2 * k])),
            _topic(_a(path[2 * k + 2])),
        )
        words = [_u(amount), _u(to_amount), _a(frame.from_ or "")]
        out.append(_log(conv.trace_address, 0, frame.to or "", topics, words))
        amount = to_amount
    return out


def _frames(block: Block) -> dict[tuple[str, tuple[int, ...]], Trace]:
    return {(t.tx_hash, t.trace_address): t for t in block.traces or () if t.tx_hash is not None}


def _action_logs(
    a: Action, frame: Trace | None, timestamp: int, children: list[Trace] | None = None
) -> list[SynthLog]:
    if isinstance(a, Transfer):
        return _transfer_logs(a)
    if frame is None:
        return []
    sel = frame.input[:10]
    if isinstance(a, Swap):
        if a.protocol == "0x":
            return _zerox_logs(a, frame)
        if a.protocol == "bancor":
            return _bancor_logs(a, frame, children or [])
        if sel == _SEL_V2_SWAP:
            return _v2_logs(a)
        if sel == _SEL_V3_SWAP:
            return _v3_swap_logs(a)
        if a.protocol == "curve":
            return _curve_logs(a, frame)
        if a.protocol == "balancer_v1":
            return _balancer_v1_logs(a)
        if a.protocol == "balancer_v2":
            return _balancer_v2_logs(a, frame)
    elif isinstance(a, LiquidityChange) and a.protocol.startswith("uniswap_v3"):
        return _v3_liquidity(a, frame)
    elif isinstance(a, Liquidation):
        if a.protocol in _AAVE:
            return _aave_logs(a, frame, timestamp)
        if a.protocol in _COMPOUND:
            return _compound_logs(a)
    return []


def synth_logs(decoded: DecodedBlock) -> dict[str, list[SynthLog]]:
    """The logs of every successful transaction of a trace-decoded block, in execution order."""
    if decoded.mode != "traces":
        raise ValueError(f"need a trace-decoded block, got mode {decoded.mode!r}")
    block = decoded.block
    frames = _frames(block)
    timestamp = block.timestamp or 0
    by_tx: dict[str, list[SynthLog]] = {}
    for a in decoded.actions:
        if a.trace_address is None:
            continue
        children = None
        if a.protocol == "bancor":
            ta, n = a.trace_address, len(a.trace_address)
            children = [
                t for (h, tta), t in frames.items() if h == a.tx_hash and len(tta) == n + 1 and tta[:n] == ta
            ]
            children.sort(key=lambda t: t.trace_address)
        logs = _action_logs(a, frames.get((a.tx_hash, a.trace_address)), timestamp, children)
        if logs:
            by_tx.setdefault(a.tx_hash, []).extend(logs)
    for logs in by_tx.values():
        logs.sort(key=lambda lg: lg.key)
    return by_tx


def synth_bundle(decoded: DecodedBlock) -> dict[str, Any]:
    """The block as a logs-only RPC bundle: ``{"block": ..., "receipts": [...]}``, no traces.

    Transactions, status and gas come from the fixture (status from the top-level frame, as
    the fixture has no receipt status); the logs from :func:`synth_logs`.
    """
    block = decoded.block
    logs = synth_logs(decoded)
    meta = {m.hash: m for m in decoded.txs}
    rc = {r.tx_hash: r for r in block.receipts or ()}
    number = hex(block.number)
    txs: list[dict[str, Any]] = []
    receipts: list[dict[str, Any]] = []
    log_index = 0
    for tx in sorted(block.transactions, key=lambda t: t.index):
        m = meta.get(tx.hash)
        r = rc.get(tx.hash)
        txs.append(
            {
                "hash": tx.hash,
                "blockNumber": number,
                "transactionIndex": hex(tx.index),
                "from": tx.from_,
                "to": tx.to,
                "value": hex(tx.value),
                "input": tx.input,
            }
        )
        ok = m is None or m.success is not False
        rlogs = []
        for lg in logs.get(tx.hash, []) if ok else []:
            rlogs.append(
                {
                    "address": lg.address,
                    "topics": list(lg.topics),
                    "data": lg.data,
                    "logIndex": hex(log_index),
                    "transactionHash": tx.hash,
                    "transactionIndex": hex(tx.index),
                    "blockNumber": number,
                    "removed": False,
                }
            )
            log_index += 1
        receipt: dict[str, Any] = {
            "transactionHash": tx.hash,
            "transactionIndex": hex(tx.index),
            "blockNumber": number,
            "status": "0x1" if ok else "0x0",
            "from": tx.from_,
            "to": tx.to,
            "logs": rlogs,
        }
        if r is not None:
            for key, v in (
                ("gasUsed", r.gas_used),
                ("effectiveGasPrice", r.effective_gas_price),
                ("cumulativeGasUsed", r.cumulative_gas_used),
            ):
                if v is not None:
                    receipt[key] = hex(v)
        receipts.append(receipt)
    header: dict[str, Any] = {
        "number": number,
        "miner": block.miner,
        "transactions": txs,
    }
    if block.hash is not None:
        header["hash"] = block.hash
    if block.timestamp is not None:
        header["timestamp"] = hex(block.timestamp)
    if block.base_fee_per_gas:  # 0 in the fixtures means "before London": no such header field
        header["baseFeePerGas"] = hex(block.base_fee_per_gas)
    return {"block": header, "receipts": receipts, "chainId": hex(block.chain_id)}
