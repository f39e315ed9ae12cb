"""Turn a :class:`~mevgraph.core.types.Block` into normalized actions.

Traces are used when the block has them (they see internal calls and ETH movements); otherwise
receipts' logs. Per transaction, phase-0 handlers (balance movements) run first so that phase-1
handlers (swaps, liquidations, ...) can read them. A handler that raises skips that one frame or
log with a logged reason; a transaction that fails as a whole is skipped; the block goes on.

Frames inside a reverted call produce no actions. For transactions that reverted as a whole, the
decoder additionally decodes their frames "as attempted" into ``DecodedBlock.attempted`` so the
arbitrage detector can report reverted attempts -- those actions never move balances. The same
holds for the reverted sub-calls of a successful transaction that contain a swap, liquidation or
other phase-1 action (a caught revert: see :func:`_run_reverted_subcalls`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import groupby
from operator import attrgetter

from mevgraph.core.actions import Action, ActionSource, CoinbasePayment, Transfer
from mevgraph.core.types import ETH, Address, Block, Receipt, Trace, Transaction, TxHash
from mevgraph.decode.context import LogContext, TraceContext
from mevgraph.decode.registry import REGISTRY, Registry

__all__ = ["TxMeta", "Skip", "DecodedBlock", "decode_block", "load_protocols", "with_gas_used", "GAS_MISSING"]

log = logging.getLogger(__name__)

_loaded = False

MAX_PLAUSIBLE_GAS = 1 << 32
"""No transaction can use more gas than a block holds (no block ever held 2**32); larger receipt
values are corrupt (the peer's fixtures carry 2**64 - 1, e.g. block 11931272 tx 0x73186ff0...)."""


def load_protocols() -> None:
    """Import every built-in protocol module so that it registers its handlers."""
    global _loaded
    if _loaded:
        return
    from mevgraph.decode import protocols  # noqa: F401  (registers on import)

    _loaded = True


@dataclass(frozen=True, slots=True)
class TxMeta:
    """What the detectors need to know about a transaction besides its actions."""

    hash: TxHash
    index: int
    from_: Address | None
    to: Address | None
    success: bool | None
    gas_used: int | None
    effective_gas_price: int | None
    gas_cost_wei: int | None
    gas_cost_reason: str | None
    selector: str
    input_hash: int | None = None  # hash of the full calldata, for displacement matching
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    value: int = 0


@dataclass(frozen=True, slots=True)
class Skip:
    tx_hash: str | None
    where: str
    reason: str


@dataclass(slots=True)
class DecodedBlock:
    block: Block
    mode: str  # "traces" | "logs" | "traces+logs" (some txs had no frames) | "none"
    txs: list[TxMeta] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    attempted: list[Action] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)

    @property
    def chain_id(self) -> int:
        return self.block.chain_id

    @property
    def number(self) -> int:
        return self.block.number


def _stable_hash(data: str) -> int:
    """64-bit signed digest of calldata, identical across processes (unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(data.encode(), digest_size=8).digest(), "big", signed=True)


def _tx_meta(
    block: Block,
    tx_hash: TxHash,
    index: int,
    tx: Transaction | None,
    receipt: Receipt | None,
    top: Trace | None,
) -> TxMeta:
    from_ = tx.from_ if tx else (receipt.from_ if receipt and receipt.from_ else None)
    to = tx.to if tx else (receipt.to if receipt else None)
    if top is not None:
        from_ = from_ or top.from_
        to = to or top.to
    success: bool | None = None
    if receipt is not None and receipt.status is not None:
        success = receipt.status
    elif top is not None:
        success = top.error is None
    gas_used = receipt.gas_used if receipt else None
    # An executed transaction always pays intrinsic gas: 0 means "not recorded" (block 11931272's
    # fixture has gas_used = 0 on 222 of 227 receipts), never a free transaction.
    bad_gas = gas_used is not None and not 0 < gas_used <= MAX_PLAUSIBLE_GAS
    if bad_gas:
        # Seen in the peer's fixture of block 12498502: gas_used = 2**64 - 1 on some receipts.
        gas_used = None
    price = receipt.effective_gas_price if receipt else None
    if price is None and tx is not None:
        # Legacy transactions pay exactly gasPrice; for 1559 txs the price needs the base fee.
        if tx.max_fee_per_gas is None and tx.gas_price is not None:
            price = tx.gas_price
        elif (
            tx.max_fee_per_gas is not None
            and tx.max_priority_fee_per_gas is not None
            and block.base_fee_per_gas is not None
        ):
            price = min(tx.max_fee_per_gas, block.base_fee_per_gas + tx.max_priority_fee_per_gas)
    cost: int | None
    reason: str | None
    if bad_gas:
        cost, reason = None, f"receipt gasUsed implausible ({receipt.gas_used if receipt else None})"
    elif gas_used is None:
        cost, reason = None, GAS_MISSING[0] if receipt else GAS_MISSING[1]
    else:
        cost, reason = _gas_cost(gas_used, price)
    data = tx.input if tx else (top.input if top else "")
    return TxMeta(
        hash=tx_hash,
        index=index,
        from_=from_,
        to=to,
        success=success,
        gas_used=gas_used,
        effective_gas_price=price,
        gas_cost_wei=cost,
        gas_cost_reason=reason,
        selector=data[:10] if len(data) >= 10 else "",
        input_hash=_stable_hash(data) if len(data) > 2 else None,
        max_fee_per_gas=tx.max_fee_per_gas if tx else None,
        max_priority_fee_per_gas=tx.max_priority_fee_per_gas if tx else None,
        value=tx.value if tx else (top.value if top else 0),
    )


GAS_MISSING = ("receipt has no gasUsed", "no receipt for this transaction")
"""``TxMeta.gas_cost_reason`` when the source had no ``gasUsed`` for a tx (a gas source may know it)."""


def _gas_cost(gas_used: int, price: int | None) -> tuple[int | None, str | None]:
    if price is None:
        return None, "effective gas price unknown (no effectiveGasPrice, no fee fields)"
    return gas_used * price, None


def with_gas_used(meta: TxMeta, gas_used: int | None) -> TxMeta:
    """``meta`` with its receipt's ``gasUsed`` filled in afterwards (a block decoded before its
    receipts were fetched: :meth:`mevgraph.graph.tables.PropertyGraph.ensure_gas`); the same
    plausibility check as at decoding time."""
    if gas_used is None:
        return replace(meta, gas_cost_reason="the node returned no receipt for this transaction")
    if not 0 < gas_used <= MAX_PLAUSIBLE_GAS:
        return replace(meta, gas_used=None, gas_cost_reason=f"receipt gasUsed implausible ({gas_used})")
    cost, reason = _gas_cost(gas_used, meta.effective_gas_price)
    return replace(meta, gas_used=gas_used, gas_cost_wei=cost, gas_cost_reason=reason)


_NO_VALUE_MOVE = frozenset(("delegatecall", "staticcall", "callcode"))


def _run_traces(
    ctx: TraceContext, registry: Registry, out: list[Action], skips: list[Skip], attempted: bool
) -> None:
    traces = registry.traces
    hooks = registry.value_hooks
    reverted = ctx.reverted
    skip_reverted = not attempted and True in reverted
    phase1: list[tuple[int, object]] = []
    transfers: list[Transfer] = []
    # The hot loop of the whole engine (~1,000 frames per mainnet block): one dict lookup per
    # frame, everything else only for frames that matched or move ETH.
    for i, fr in enumerate(ctx.frames):
        if skip_reverted and reverted[i]:
            continue
        if fr.type == "call":
            h = traces.get(fr.input[:10])
            if h is not None:
                if h.phase == 0:
                    _call(h.fn, ctx, i, transfers, skips, "trace")
                else:
                    phase1.append((i, h.fn))
            if fr.value and fr.call_type not in _NO_VALUE_MOVE:
                for hk in hooks:
                    _call(hk.fn, ctx, i, transfers, skips, "trace")
        elif hooks and fr.type in ("suicide", "create"):
            for hk in hooks:
                _call(hk.fn, ctx, i, transfers, skips, "trace")
    ctx.transfers = [a for a in transfers if isinstance(a, Transfer)]
    out.extend(transfers)
    for i, fn in phase1:
        _call(fn, ctx, i, out, skips, "trace")


def _call(fn, ctx, i, out: list, skips: list[Skip], kind: str) -> None:  # type: ignore[no-untyped-def]
    try:
        res = fn(ctx, i)
    except Exception as exc:  # a malformed frame/log skips itself, never the block
        where = (
            f"trace {list(ctx.frames[i].trace_address)}"
            if kind == "trace"
            else f"log {ctx.logs[i].log_index}"
        )
        skips.append(Skip(ctx.tx_hash, where, f"{type(exc).__name__}: {exc}"))
        log.debug("skip %s %s: %s", ctx.tx_hash, where, exc)
        return
    if res:
        out.extend(res)


def _run_logs(ctx: LogContext, registry: Registry, out: list[Action], skips: list[Skip]) -> None:
    logs_t = registry.logs
    phase1: list[tuple[int, object]] = []
    transfers: list[Action] = []
    for i, lg in enumerate(ctx.logs):
        if not lg.topics or lg.removed:
            continue
        h = logs_t.get(lg.topics[0])
        if h is None:
            continue
        if h.phase == 0:
            _call(h.fn, ctx, i, transfers, skips, "log")
        else:
            phase1.append((i, h.fn))
    # Without traces, the transaction's own value is the only visible ETH movement.
    tx = ctx.tx
    if tx is not None and tx.value and tx.to is not None:
        transfers.append(
            Transfer(
                chain_id=ctx.chain_id,
                block_number=ctx.block.number,
                tx_hash=ctx.tx_hash,
                tx_index=ctx.tx_index,
                protocol="eth",
                source=ActionSource.LOG,
                trace_address=(),
                token=ETH,
                from_=tx.from_,
                to=tx.to,
                amount=tx.value,
            )
        )
    ctx.transfers = [a for a in transfers if isinstance(a, Transfer)]
    out.extend(transfers)
    for i, fn in phase1:
        _call(fn, ctx, i, out, skips, "log")


def _reverted_action_frames(ctx: TraceContext, registry: Registry) -> bool:
    """True when a reverted frame of the transaction calls a phase-1 (non-transfer) handler."""
    traces = registry.traces
    reverted = ctx.reverted
    for i, fr in enumerate(ctx.frames):
        if reverted[i] and len(fr.input) >= 10:
            h = traces.get(fr.input[:10])
            if h is not None and h.phase != 0:
                return True
    return False


def _run_reverted_subcalls(
    block: Block,
    tx_hash: TxHash,
    index: int,
    frames: list[Trace],
    tx: Transaction | None,
    registry: Registry,
    out: list[Action],
    block_cache: dict[str, object] | None = None,
) -> None:
    """Decode the reverted sub-calls of a successful transaction "as attempted".

    A searcher contract may wrap its attempt in a call whose revert it catches: tx
    0x23a4dc7044666d3d4cc2d394a8017fc9d6b87018c20390d35266cea1af783e8a (block 12483198) succeeds
    while its whole arbitrage sits under the reverted delegatecall at trace [0, 0]. Only actions
    of reverted frames are kept, and no balance movements (transfers, coinbase payments): the
    transaction's real transfers are the only ones money may read. Skips of this second pass are
    not recorded (the frames have no effect on chain).
    """
    ctx = TraceContext(block=block, tx_hash=tx_hash, tx_index=index, frames=frames, tx=tx)
    if block_cache is not None:
        ctx.block_cache = block_cache
    found: list[Action] = []
    _run_traces(ctx, registry, found, [], attempted=True)
    where = {fr.trace_address: i for i, fr in enumerate(frames)}
    reverted = ctx.reverted
    for a in found:
        if isinstance(a, Transfer | CoinbasePayment):
            continue  # balance movements of a successful tx must stay the real ones (money reads them)
        i = where.get(a.trace_address) if a.trace_address is not None else None
        if i is not None and reverted[i]:
            out.append(a)


def _decode_logs_tx(
    block: Block,
    rc: Receipt,
    tx: Transaction | None,
    reg: Registry,
    out: DecodedBlock,
    block_cache: dict[str, object],
) -> None:
    """Decode one transaction from its receipt's logs; a failure skips that transaction only."""
    try:
        lctx = LogContext(
            block=block,
            tx_hash=rc.tx_hash,
            tx_index=rc.tx_index,
            logs=list(rc.logs),
            receipt=rc,
            tx=tx,
            block_cache=block_cache,
        )
        _run_logs(lctx, reg, out.actions, out.skips)
    except Exception as exc:
        out.skips.append(Skip(rc.tx_hash, "tx", f"{type(exc).__name__}: {exc}"))
        log.warning("skipping tx %s: %s", rc.tx_hash, exc)


def decode_block(block: Block, registry: Registry | None = None) -> DecodedBlock:
    """Decode every transaction of ``block``; never raises for bad transaction data."""
    load_protocols()
    reg = registry or REGISTRY
    tx_by_hash = {t.hash: t for t in block.transactions}
    rc_by_hash = {r.tx_hash: r for r in block.receipts} if block.receipts else {}
    mode = "traces" if block.traces is not None else ("logs" if block.receipts is not None else "none")
    out = DecodedBlock(block=block, mode=mode)
    # Shared by every transaction's context: handlers keep block-wide facts there.
    block_cache: dict[str, object] = {}

    if block.traces is not None:
        # Parity lists a block's frames transaction by transaction: group consecutive runs.
        by_tx: dict[str, list[Trace]] = {}
        order: list[tuple[int, TxHash]] = []
        for h, run in groupby(block.traces, attrgetter("tx_hash")):
            if h is None:
                continue
            lst = by_tx.get(h)
            if lst is None:
                by_tx[h] = lst = list(run)
                first = lst[0]
                order.append((first.tx_index if first.tx_index is not None else len(order), h))
            else:  # frames of one tx out of order in the source: keep them together
                lst.extend(run)
        order.sort()
        seen: set[str] = set()
        for idx, h in order:
            seen.add(h)
            frames = by_tx[h]
            if frames[0].trace_address != ():
                out.skips.append(Skip(h, "trace []", "top-level frame missing (truncated trace list)"))
                frames.sort(key=lambda f: f.trace_address)
            tx = tx_by_hash.get(h)
            meta = _tx_meta(
                block, h, idx, tx, rc_by_hash.get(h), frames[0] if frames[0].trace_address == () else None
            )
            out.txs.append(meta)
            try:
                ctx = TraceContext(
                    block=block, tx_hash=h, tx_index=idx, frames=frames, tx=tx, block_cache=block_cache
                )
                if ctx.tx_reverted:
                    _run_traces(ctx, reg, out.attempted, out.skips, attempted=True)
                else:
                    _run_traces(ctx, reg, out.actions, out.skips, attempted=False)
                    if True in ctx.reverted and _reverted_action_frames(ctx, reg):
                        _run_reverted_subcalls(block, h, idx, frames, tx, reg, out.attempted, block_cache)
            except Exception as exc:
                out.skips.append(Skip(h, "tx", f"{type(exc).__name__}: {exc}"))
                log.warning("skipping tx %s: %s", h, exc)
        # Transactions known from the block but absent from the traces (truncated or empty trace
        # list): decoded from their receipt's logs when there are any, else skipped with a reason.
        for tx in block.transactions:
            if tx.hash in seen:
                continue
            rc = rc_by_hash.get(tx.hash)
            out.txs.append(_tx_meta(block, tx.hash, tx.index, tx, rc, None))
            if rc is None or not rc.logs or rc.status is False:
                out.skips.append(Skip(tx.hash, "tx", "no trace frames for this transaction"))
                continue
            out.skips.append(
                Skip(tx.hash, "tx", "no trace frames for this transaction: decoded from its logs")
            )
            out.mode = "traces+logs"
            _decode_logs_tx(block, rc, tx, reg, out, block_cache)
        out.txs.sort(key=lambda m: m.index)
    elif block.receipts is not None:
        for rc in sorted(block.receipts, key=lambda r: r.tx_index):
            tx = tx_by_hash.get(rc.tx_hash)
            out.txs.append(_tx_meta(block, rc.tx_hash, rc.tx_index, tx, rc, None))
            if rc.status is False:
                continue  # a reverted transaction emits no logs
            _decode_logs_tx(block, rc, tx, reg, out, block_cache)
    else:
        for tx in block.transactions:
            out.txs.append(_tx_meta(block, tx.hash, tx.index, tx, None, None))
    return out


def actions_of(decoded: Sequence[DecodedBlock]) -> list[Action]:
    return [a for d in decoded for a in d.actions]
