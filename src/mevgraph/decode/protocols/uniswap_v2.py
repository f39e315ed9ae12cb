"""Uniswap V2 and its forks (Sushiswap, Shibaswap, Pancakeswap, unknown factories): swaps.

**From traces** -- the pair's ``swap(uint256 amount0Out, uint256 amount1Out, address to, bytes
data)``. Its calldata gives the amount out and the recipient but not the tokens nor the amount
in, because a V2 pair is paid *before* (or, for flash swaps, during) the call. What the frame's
children show, in order: the optimistic ``transfer`` of the out-token to ``to``, the
``uniswapV2Call`` callback when ``data`` is non-empty, then ``balanceOf(pair)`` on token0 and on
token1 -- the balances that become the new reserves. So:

* tokens: the targets of the last two ``balanceOf`` children (token0, token1); the side with a
  non-zero ``amountOut`` is the out-token;
* ``reserves_after``: the outputs of those two reads, ordered (token_in, token_out);
* ``amount_in``: the sum of token_in ``transfer``/``transferFrom`` calls into the pair that
  *completed* after the previous swap on the same pair in this transaction read its balances and
  before this one does (so a flash swap's repayment inside the callback counts, and a
  fee-on-transfer token's outer ``transferFrom`` that runs a swap on the pair inside itself pays
  the *next* swap, see :class:`~mevgraph.decode.pools.TokenMove`). Amounts are what the payer
  sent; a fee-on-transfer token credits the pair less (the pair's books show the net). A swap
  decoded "as attempted" (inside a reverted call) also counts payments that reverted with it. mev-inspect-py takes the last transfer into the pool;
  the sum differs only when a trader pays in several instalments, where the sum is what the
  pair actually saw. When no such call is visible (tokens moved by an unusual method), the
  fallback is the pair's own accounting: ``balance_in_after - reserve_in_before`` with the
  reserves read by a ``getReserves()`` staticcall earlier in the transaction (routers always
  make one). With neither, the frame is skipped with a reason rather than guessed.

**Payments made by an earlier transaction.** The pair counts as input whatever it holds above its
reserves -- ``amountIn = balance - (reserve - amountOut)`` -- so the payment may come from any
earlier transaction of the block that no ``swap``/``mint``/``burn``/``skim``/``sync`` of the pair
has consumed since. A plain EOA trades that way in two transactions: ``token.transfer(pair, a)``,
then ``pair.swap(...)`` (recorded on anvil with the real V2 pair bytecode in
``tests/data/anvil_v2_sandwich.json``: tx 0x6c15cff18bb8194153e4ea1960643d80fec578807c18a45731fb6107de76cca8
pays, tx 0x9e0e857b087cd0384a9d6c33482bf5a4818c3bc03aa4e1f1461e5e968117a441 swaps). Only when
the swap's own transaction shows no payment (and, from traces, no ``getReserves()`` either), the
decoder falls back to the block's *pending payments*: per pair and token, the successful
transfers into the pair since the pair's last consuming call (traces) or its last ``Sync`` event
or outgoing ``Transfer`` (logs) in an earlier transaction, and only if nothing in the swap's own
transaction consumed them first. That ledger is built once per block, on the first swap that
needs it, and kept in the contexts' shared ``block_cache``; blocks whose swaps are all paid
in-transaction never build it.

The fork is named by recomputing the CREATE2 pair address for every known factory
(:mod:`mevgraph.decode.pools`); unknown factories give ``"uniswap_v2_fork"`` and no fee.
A swap with non-empty ``data`` is a flash swap and additionally yields a :class:`FlashLoan` of the
out-token from the pair to ``to``.

**From logs** -- ``Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256
amount0Out, uint256 amount1Out, address indexed to)`` preceded by the pair's ``Sync(uint112
reserve0, uint112 reserve1)``. Events do not name the tokens either: the out-token is the ERC20
``Transfer`` from the pair of exactly ``amountOut`` since the pair's previous swap, the in-token the
latest other ``Transfer`` into the pair before the ``Swap`` event. Not inferable -> ``ValueError``
(a logged skip). Here ``amount_in`` is the pair's own figure, i.e. net of any transfer fee.
"""

from __future__ import annotations

from mevgraph.core.actions import Action, FlashLoan, Swap
from mevgraph.core.types import Address
from mevgraph.decode.abi import addr_word, selector, topic_addr, word
from mevgraph.decode.context import LogContext, TraceContext
from mevgraph.decode.pools import (
    SEL_BALANCE_OF,
    SEL_TRANSFER,
    SEL_TRANSFER_FROM,
    TOPIC_TRANSFER,
    frame_token_transfers,
    identify_v2,
    log_token_transfers,
    sort_tokens,
)
from mevgraph.decode.protocols.erc20 import FALSE_WORD
from mevgraph.decode.registry import REGISTRY

__all__ = ["swap_from_trace", "swap_from_log", "SWAP_TOPIC", "SYNC_TOPIC"]

SWAP_TOPIC = "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"
SYNC_TOPIC = "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1"
_SEL_GET_RESERVES = "0x0902f1ac"  # getReserves()
# Calls after which a pair's reserves equal its balances (or its excess was sent away).
_CONSUMING = frozenset(
    selector(sig)
    for sig in (
        "swap(uint256,uint256,address,bytes)",
        "mint(address)",
        "burn(address)",
        "skim(address)",
        "sync()",
    )
)
_BOOK_TRACES = "uniswap_v2.pending_traces"
_BOOK_LOGS = "uniswap_v2.pending_logs"

# A ledger event: (tx position, position in the block's source, 0 = payment / 1 = consumed, token, amount).
_Event = tuple[int, int, int, str, int]
_Book = dict[str, list[_Event]]


def _sorted_book(book: _Book) -> _Book:
    for events in book.values():
        if len(events) > 1:
            events.sort()
    return book


def _trace_book(ctx: TraceContext) -> _Book:
    """Per address, the block's successful token payments into it and consuming calls on it.

    Built once per block from ``block.traces`` (one pass, selector comparison only). A payment
    is placed where its call completes and a consuming call where it ends, so a flash swap's
    repayment inside the callback is consumed by that swap.
    """
    book: _Book | None = ctx.block_cache.get(_BOOK_TRACES)
    if book is not None:
        return book
    book = {}
    traces = ctx.block.traces or ()
    n = len(traces)
    tx_state: dict[str, tuple[int, set[tuple[int, ...]]]] = {}
    cur: str | None = None
    tx_key = 0
    bad: set[tuple[int, ...]] = set()
    for k, fr in enumerate(traces):
        h = fr.tx_hash
        if h is None:
            continue
        if h != cur:
            cur = h
            state = tx_state.get(h)
            if state is None:
                # Transaction positions as the decoder assigns them (``ctx.tx_index``).
                state = (fr.tx_index if fr.tx_index is not None else len(tx_state), set())
                tx_state[h] = state
            tx_key, bad = state
        ta = fr.trace_address
        if fr.error is not None or (bad and ta and ta[:-1] in bad):
            bad.add(ta)
            continue
        if fr.call_type != "call" or fr.to is None:
            continue
        inp = fr.input
        sel = inp[:10]
        dst: str
        token: str
        if sel == SEL_TRANSFER:
            if len(inp) < 138 or fr.output == FALSE_WORD:
                continue
            dst, kind, token, amount = "0x" + inp[34:74], 0, fr.to, int(inp[74:138], 16)
        elif sel == SEL_TRANSFER_FROM:
            if len(inp) < 202 or fr.output == FALSE_WORD:
                continue
            dst, kind, token, amount = "0x" + inp[98:138], 0, fr.to, int(inp[138:202], 16)
        elif sel in _CONSUMING:
            dst, kind, token, amount = fr.to, 1, "", 0
        else:
            continue
        end = k
        if fr.subtraces:
            d = len(ta)
            while end + 1 < n and traces[end + 1].tx_hash == h and traces[end + 1].trace_address[:d] == ta:
                end += 1
        book.setdefault(dst, []).append((tx_key, end, kind, token, amount))
    ctx.block_cache[_BOOK_TRACES] = _sorted_book(book)
    return book


def _log_book(ctx: LogContext) -> _Book:
    """Per address, the block's ERC20 ``Transfer`` events into it, and its ``Sync`` events and
    outgoing ``Transfer`` events (each leaves a pair with no unconsumed balance)."""
    book: _Book | None = ctx.block_cache.get(_BOOK_LOGS)
    if book is not None:
        return book
    book = {}
    for rc in ctx.block.receipts or ():
        if rc.status is False:
            continue
        tx_key = rc.tx_index
        for k, lg in enumerate(rc.logs):
            t = lg.topics
            if not t or lg.removed:
                continue
            if t[0] == TOPIC_TRANSFER and len(t) == 3 and len(lg.data) >= 66:
                book.setdefault("0x" + t[2][-40:], []).append(
                    (tx_key, k, 0, lg.address, int(lg.data[2:66], 16))
                )
                book.setdefault("0x" + t[1][-40:], []).append((tx_key, k, 1, "", 0))
            elif t[0] == SYNC_TOPIC:
                book.setdefault(lg.address, []).append((tx_key, k, 1, "", 0))
    ctx.block_cache[_BOOK_LOGS] = _sorted_book(book)
    return book


def _pending(book: _Book, pool: str, tx_key: int) -> dict[str, int]:
    """Unconsumed payments into ``pool`` by transactions before position ``tx_key``, per token,
    the most recently paid token last."""
    pending: dict[str, int] = {}
    for tk, _, kind, token, amount in book.get(pool, ()):
        if tk >= tx_key:
            break
        if kind:
            pending.clear()
        else:
            pending[token] = pending.pop(token, 0) + amount
    return pending


def _paid_earlier_trace(ctx: TraceContext, i: int, pool: str, token_in: str) -> int:
    """``token_in`` paid into ``pool`` by earlier transactions and still unconsumed at frame ``i``."""
    frames = ctx.frames
    reverted = ctx.reverted
    attempted = reverted[i]
    for j in range(i):
        fr = frames[j]
        if (
            fr.to == pool
            and fr.call_type == "call"
            and fr.input[:10] in _CONSUMING
            and (attempted or not reverted[j])
        ):
            return 0  # this transaction already consumed whatever was pending
    return _pending(_trace_book(ctx), pool, ctx.tx_index).get(token_in, 0)


def _token_paid_earlier_log(
    ctx: LogContext, i: int, pool: str, token_out: str, amount_in: int, amount_out: int
) -> str | None:
    """The token of the pair's unconsumed payments by earlier transactions (the one whose amount
    is exactly ``amount_in``, else the latest paid), if nothing before the swap's own ``Sync`` and
    output ``Transfer`` in this transaction consumed them."""
    syncs = 0
    for k in range(i):
        lg = ctx.logs[k]
        if lg.address == pool and lg.topics and lg.topics[0] == SYNC_TOPIC:
            syncs += 1
    sent = [t for t in log_token_transfers(ctx) if t.pos < i and t.from_ == pool]
    if syncs > 1 or any(t.token != token_out for t in sent) or sum(t.amount for t in sent) != amount_out:
        return None
    paid = _pending(_log_book(ctx), pool, ctx.tx_index)
    candidates = [tok for tok, amt in paid.items() if amt > 0 and tok != token_out and tok != pool]
    if not candidates:
        return None
    exact = [tok for tok in candidates if paid[tok] == amount_in]
    return exact[-1] if exact else candidates[-1]


def _amount_in_from_reserves(
    ctx: TraceContext, i: int, prev: int, pool: str, in_idx: int, bal_in: int
) -> int | None:
    """``balance_in_after - reserve_in_before`` using the latest ``getReserves()`` on the pair."""
    frames = ctx.frames
    for j in range(i - 1, prev, -1):
        fr = frames[j]
        if (
            fr.to == pool
            and fr.input[:10] == _SEL_GET_RESERVES
            and fr.output
            and (ctx.reverted[i] or not ctx.reverted[j])
        ):
            out = fr.output[2:]
            if len(out) < 128:
                return None
            return bal_in - word(out, in_idx)
    return None


@REGISTRY.trace("uniswap_v2", "swap(uint256,uint256,address,bytes)")
def swap_from_trace(ctx: TraceContext, i: int) -> list[Action]:
    frames = ctx.frames
    fr = frames[i]
    if fr.call_type != "call" or fr.to is None or fr.from_ is None:
        return []  # a delegatecall repeats the calldata of a proxy's own call frame
    pool = fr.to
    a = fr.input[10:]
    out0, out1 = word(a, 0), word(a, 1)
    to = addr_word(a, 2)
    data_len = word(a, word(a, 3) // 32)
    bal = [j for j in ctx.children[i] if frames[j].input[:10] == SEL_BALANCE_OF]
    if len(bal) < 2:
        raise ValueError("V2 swap frame without the two balanceOf(pair) reads: tokens unknown")
    j0, j1 = bal[-2], bal[-1]
    f0, f1 = frames[j0], frames[j1]
    if f0.to is None or f1.to is None or not f0.output or not f1.output:
        raise ValueError("V2 swap balanceOf reads without target or output")
    token0, token1 = f0.to, f1.to
    bal0, bal1 = int(f0.output[2:66], 16), int(f1.output[2:66], 16)
    if out0 and not out1:
        in_idx, token_in, token_out, amount_out, bal_in, bal_out = 1, token1, token0, out0, bal1, bal0
    elif out1 and not out0:
        in_idx, token_in, token_out, amount_out, bal_in, bal_out = 0, token0, token1, out1, bal0, bal1
    else:
        raise ValueError(f"V2 swap with amounts out ({out0}, {out1}): not a one-directional swap")

    # Payments credited between the previous swap's balance reads on this pair and ours.
    last: dict[str, int] = ctx.cache.setdefault("uniswap_v2.last_reads", {})
    prev = last.get(pool, -1)
    last[pool] = j0
    amount_in = 0
    attempted = ctx.reverted[i]  # decoded "as attempted": the payment reverted along with it
    for t in frame_token_transfers(ctx):
        if t.pos >= j0:
            break
        if prev < t.end < j0 and t.to == pool and t.token == token_in and (attempted or not t.reverted):
            amount_in += t.amount
    if amount_in == 0:
        fallback = _amount_in_from_reserves(ctx, i, prev, pool, in_idx, bal_in)
        if (fallback is None or fallback <= 0) and prev < 0:
            fallback = _paid_earlier_trace(ctx, i, pool, token_in)
        if fallback is None or fallback <= 0:
            raise ValueError(
                f"V2 swap: no payment of {token_in} into pair {pool} visible (this tx or earlier ones)"
            )
        amount_in = fallback

    s0, s1 = sort_tokens(token0, token1)
    protocol, fee = identify_v2(ctx.chain_id, pool, s0, s1)
    base = ctx.base(i, protocol)
    swap = Swap(
        **base,
        pool=pool,
        sender=fr.from_,
        recipient=to,
        token_in=Address(token_in),
        amount_in=amount_in,
        token_out=Address(token_out),
        amount_out=amount_out,
        reserves_after=(bal_in, bal_out),
        fee_ppm=fee,
    )
    if data_len == 0:
        return [swap]
    loan = FlashLoan(**base, lender=pool, receiver=to, token=Address(token_out), amount=amount_out)
    return [loan, swap]


@REGISTRY.log("uniswap_v2", "Swap(address,uint256,uint256,uint256,uint256,address)")
def swap_from_log(ctx: LogContext, i: int) -> list[Action]:
    logs = ctx.logs
    lg = logs[i]
    if len(lg.topics) != 3:
        raise ValueError("V2 Swap event without its two indexed addresses")
    pool = lg.address
    d = lg.data[2:]
    in0, in1, out0, out1 = word(d, 0), word(d, 1), word(d, 2), word(d, 3)
    if out1 and not out0:
        in_idx, amount_in, amount_out = 0, in0, out1
    elif out0 and not out1:
        in_idx, amount_in, amount_out = 1, in1, out0
    else:
        raise ValueError(f"V2 Swap event with amounts out ({out0}, {out1}): not a one-directional swap")
    if amount_in == 0:
        raise ValueError("V2 Swap event with no input on the side opposite to the output")
    # Window: from the pair's previous Swap event to this one.
    prev = -1
    reserves: tuple[int, int] | None = None
    for k in range(i - 1, -1, -1):
        lk = logs[k]
        if lk.address != pool or not lk.topics:
            continue
        if lk.topics[0] == SYNC_TOPIC and reserves is None and len(lk.data) >= 130:
            reserves = (int(lk.data[2:66], 16), int(lk.data[66:130], 16))
        elif lk.topics[0] == SWAP_TOPIC:
            prev = k
            break
    token_out: str | None = None
    token_in: str | None = None
    for t in log_token_transfers(ctx):
        if t.pos <= prev:
            continue
        if t.pos >= i:
            break
        if token_out is None and t.from_ == pool and t.amount == amount_out:
            token_out = t.token
    if token_out is None:
        raise ValueError(f"V2 Swap event: no Transfer of {amount_out} out of pair {pool}; tokens unknown")
    for t in log_token_transfers(ctx):
        if t.pos >= i:
            break
        if t.pos > prev and t.to == pool and t.token != token_out:
            token_in = t.token
    if token_in is None and prev < 0:
        token_in = _token_paid_earlier_log(ctx, i, pool, token_out, amount_in, amount_out)
    if token_in is None:
        raise ValueError(
            f"V2 Swap event: no Transfer into pair {pool} (this tx or earlier ones); token in unknown"
        )
    t0, t1 = (token_in, token_out) if in_idx == 0 else (token_out, token_in)
    protocol, fee = identify_v2(ctx.chain_id, pool, *sort_tokens(t0, t1))
    reserves_after = None
    if reserves is not None:
        reserves_after = (reserves[in_idx], reserves[1 - in_idx])
    return [
        Swap(
            **ctx.base(i, protocol),
            pool=pool,
            sender=topic_addr(lg.topics[1]),
            recipient=topic_addr(lg.topics[2]),
            token_in=Address(token_in),
            amount_in=amount_in,
            token_out=Address(token_out),
            amount_out=amount_out,
            reserves_after=reserves_after,
            fee_ppm=fee,
        )
    ]
