"""Standard Ethereum JSON-RPC objects -> :mod:`mevgraph.core.types`.

Inputs are the ``result`` values of ``eth_getBlockByNumber(n, true|false)``,
``eth_getBlockReceipts(n)`` (or a list of ``eth_getTransactionReceipt`` results) and Parity
``trace_block(n)``: camelCase keys, quantities as ``0x`` hex strings (plain ints are accepted too).

What the source does not give stays ``None`` (the decoder then states why it cannot compute
something); nothing is filled in with a made-up zero. Field mapping:

- block: ``number`` (required), ``hash``, ``parentHash``, ``timestamp``, ``miner`` (the header's fee
  recipient), ``baseFeePerGas``, ``transactions`` (objects, or bare hashes with ``false``).
- transaction: ``hash``, ``from``, ``to`` (``None`` for a creation), ``value``, ``input``, ``gas``,
  ``gasPrice``, ``maxFeePerGas``, ``maxPriorityFeePerGas``, ``nonce``, ``type``, ``transactionIndex``.
- receipt: ``transactionHash``, ``transactionIndex``, ``status`` (``"0x1"``/``"0x0"``; absent on
  pre-Byzantium receipts, which carry ``root``), ``gasUsed``, ``effectiveGasPrice`` (absent before
  London on some nodes), ``cumulativeGasUsed``, ``from``, ``to``, ``contractAddress``, ``logs``.
- log: ``address`` and ``topics`` lowercased, ``data``, ``logIndex``, ``removed``.

Chain id: the first transaction object carrying ``chainId`` wins (pre-EIP-155 legacy transactions
carry none), else the caller's ``chain_id`` (a bundle's top-level ``"chainId"``), else 1.
Fee recipient: the header's ``miner``; when it is missing, the author of a block-reward trace
(pre-Merge only) with a note in ``Block.notes``.

Robustness: a structurally wrong block (not an object, no ``number``, ``transactions`` not a list)
raises :class:`~mevgraph.ingest.fixture.FormatError`. A single malformed transaction, receipt,
log or trace record is skipped with one log line per block and a note in ``Block.notes``; for a
malformed trace record all frames of its transaction are dropped, because a frame tree with a
hole would attribute calls to the wrong parent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from mevgraph.core.types import Address, Block, Log, Receipt, Trace, Transaction, TxHash
from mevgraph.ingest.fixture import FormatError, trace_from_parity

__all__ = [
    "FormatError",
    "quantity",
    "transaction_from_rpc",
    "receipt_from_rpc",
    "log_from_rpc",
    "traces_from_rpc",
    "block_from_rpc",
]

log = logging.getLogger(__name__)

# What a malformed record raises while being read field by field.
_BAD = (KeyError, TypeError, ValueError, AttributeError)


def quantity(v: Any) -> int | None:
    """A JSON-RPC quantity (``"0x1a"``; a plain int or decimal string is accepted) or ``None``.

    >>> quantity("0x1a"), quantity(26), quantity(None)
    (26, 26, None)
    """
    if v is None:
        return None
    if type(v) is str:
        return int(v, 16) if v[:2] in ("0x", "0X") else int(v)
    if type(v) is int:
        return v
    raise ValueError(f"not a quantity: {v!r}")


def _required_int(v: Any, name: str) -> int:
    q = quantity(v)
    if q is None:
        raise ValueError(f"missing {name!r}")
    return q


def _addr(v: Any) -> Address | None:
    if v is None:
        return None
    if type(v) is not str or len(v) != 42:
        raise ValueError(f"not an address: {v!r}")
    return Address(v.lower())


def _hash(v: Any, name: str) -> TxHash:
    if type(v) is not str or len(v) != 66:
        raise ValueError(f"{name} is not a 32-byte hash: {v!r}")
    return TxHash(v.lower())


def _hex_data(v: Any, name: str) -> str:
    if type(v) is not str or v[:2] not in ("0x", "0X"):
        raise ValueError(f"{name} is not 0x-hex data: {v!r}")
    return v.lower()


def transaction_from_rpc(obj: dict[str, Any], index: int | None = None) -> Transaction:
    """A transaction object of ``eth_getBlockByNumber(n, true)``.

    ``index`` is used when the object has no ``transactionIndex``. ``hash``, ``from``, ``value``
    and ``input`` are required: a transaction without them is not one this engine can reason about.
    """
    idx = quantity(obj.get("transactionIndex"))
    if idx is None:
        if index is None:
            raise ValueError("missing 'transactionIndex'")
        idx = index
    frm = _addr(obj["from"])
    if frm is None:
        raise ValueError("missing 'from'")
    return Transaction(
        hash=_hash(obj["hash"], "hash"),
        index=idx,
        from_=frm,
        to=_addr(obj.get("to")),
        value=_required_int(obj["value"], "value"),
        input=_hex_data(obj["input"], "input"),
        gas=quantity(obj.get("gas")),
        gas_price=quantity(obj.get("gasPrice")),
        max_fee_per_gas=quantity(obj.get("maxFeePerGas")),
        max_priority_fee_per_gas=quantity(obj.get("maxPriorityFeePerGas")),
        nonce=quantity(obj.get("nonce")),
        type=quantity(obj.get("type")),
    )


def log_from_rpc(obj: dict[str, Any], tx_hash: TxHash, tx_index: int) -> Log:
    """One entry of a receipt's ``logs``."""
    topics = obj["topics"]
    if type(topics) is not list:
        raise ValueError(f"topics is not a list: {topics!r}")
    return Log(
        address=Address(obj["address"].lower()),
        topics=tuple(t.lower() for t in topics),
        data=_hex_data(obj["data"], "data"),
        log_index=_required_int(obj.get("logIndex"), "logIndex"),
        tx_hash=tx_hash,
        tx_index=tx_index,
        removed=bool(obj.get("removed", False)),
    )


def _status(v: Any) -> bool | None:
    if v is None:
        return None
    s = quantity(v)
    if s not in (0, 1):
        raise ValueError(f"status is neither 0 nor 1: {v!r}")
    return s == 1


def receipt_from_rpc(
    obj: dict[str, Any], tx_index: int | None = None, skipped: list[str] | None = None
) -> Receipt:
    """A receipt; malformed logs inside it are skipped and described in ``skipped``."""
    tx_hash = _hash(obj["transactionHash"], "transactionHash")
    idx = quantity(obj.get("transactionIndex"))
    if idx is None:
        if tx_index is None:
            raise ValueError("missing 'transactionIndex'")
        idx = tx_index
    raw_logs = obj.get("logs")
    logs: list[Log] = []
    if raw_logs is not None:
        if type(raw_logs) is not list:
            raise ValueError(f"logs is not a list: {type(raw_logs).__name__}")
        for lg in raw_logs:
            try:
                logs.append(log_from_rpc(lg, tx_hash, idx))
            except _BAD as exc:
                if skipped is not None:
                    skipped.append(f"log of {tx_hash}: {_reason(exc)}")
    return Receipt(
        tx_hash=tx_hash,
        tx_index=idx,
        status=_status(obj.get("status")),
        gas_used=quantity(obj.get("gasUsed")),
        effective_gas_price=quantity(obj.get("effectiveGasPrice")),
        cumulative_gas_used=quantity(obj.get("cumulativeGasUsed")),
        from_=_addr(obj.get("from")),
        to=_addr(obj.get("to")),
        contract_address=_addr(obj.get("contractAddress")),
        logs=tuple(logs),
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}"


def traces_from_rpc(raw: Sequence[Any], skipped: list[str] | None = None) -> tuple[Trace, ...]:
    """Parity trace records; a malformed record drops every frame of its transaction."""
    out: list[Trace] = []
    bad_txs: set[str] = set()
    for i, t in enumerate(raw):
        try:
            out.append(trace_from_parity(t))
        except _BAD as exc:
            tx = t.get("transactionHash", t.get("transaction_hash")) if isinstance(t, dict) else None
            if isinstance(tx, str):
                bad_txs.add(tx.lower())
            if skipped is not None:
                skipped.append(f"trace record {i} (tx {tx}): {_reason(exc)}")
    if bad_txs:
        out = [t for t in out if t.tx_hash not in bad_txs]
    return tuple(out)


def _summarise(what: str, skipped: list[str]) -> str:
    head = "; ".join(skipped[:3])
    more = f" (+{len(skipped) - 3} more)" if len(skipped) > 3 else ""
    return f"skipped {len(skipped)} malformed {what}: {head}{more}"


def block_from_rpc(
    block: dict[str, Any],
    receipts: Sequence[Any] | None = None,
    traces: Sequence[Any] | None = None,
    *,
    chain_id: int | None = None,
    source: str = "",
    notes: Sequence[str] = (),
) -> Block:
    """Build a :class:`Block` from JSON-RPC results.

    Args:
        block: ``eth_getBlockByNumber`` result (full transactions or hashes only; may be partial
            but must have ``number``).
        receipts: ``eth_getBlockReceipts`` result, or ``None`` when the source has none.
        traces: ``trace_block`` result, or ``None`` (logs-only node).
        chain_id: used when no transaction carries ``chainId``; ``None`` means mainnet (1).
        source: where the data came from, for messages.
        notes: notes the caller already has (e.g. "node has no trace API").

    Raises:
        FormatError: the block object itself is unusable.
    """
    if not isinstance(block, dict):
        raise FormatError(f"block must be a JSON object, got {type(block).__name__}")
    try:
        number = _required_int(block.get("number"), "number")
        timestamp = quantity(block.get("timestamp"))
        base_fee = quantity(block.get("baseFeePerGas"))
        miner = _addr(block.get("miner"))
        bhash = block.get("hash")
        parent = block.get("parentHash")
    except _BAD as exc:
        raise FormatError(f"bad block header: {_reason(exc)}") from None
    raw_txs = block.get("transactions")
    if raw_txs is not None and not isinstance(raw_txs, list):
        raise FormatError(f"block 'transactions' must be a list, got {type(raw_txs).__name__}")
    if receipts is not None and not isinstance(receipts, list):
        raise FormatError(f"receipts must be a list, got {type(receipts).__name__}")
    if traces is not None and not isinstance(traces, list):
        raise FormatError(f"traces must be a list, got {type(traces).__name__}")

    out_notes = list(notes)
    bad_txs: list[str] = []
    bad_rcs: list[str] = []
    bad_traces: list[str] = []

    # Transactions (objects), or only their hashes.
    txs: list[Transaction] = []
    tx_chain: int | None = None
    hashes_only = False
    for i, t in enumerate(raw_txs or ()):
        if type(t) is str:
            hashes_only = True
            continue
        try:
            txs.append(transaction_from_rpc(t, i))
            if tx_chain is None and t.get("chainId") is not None:
                tx_chain = quantity(t["chainId"])
        except _BAD as exc:
            h = t.get("hash") if isinstance(t, dict) else None
            bad_txs.append(f"transaction {i} ({h}): {_reason(exc)}")

    trs = traces_from_rpc(traces, bad_traces) if traces is not None else None

    if hashes_only:
        if trs is not None:
            txs = _txs_from_traces(trs)
            out_notes.append("block has transaction hashes only: transactions rebuilt from top-level traces")
        else:
            out_notes.append("block has transaction hashes only and no traces: transactions unknown")
    elif raw_txs is None:
        out_notes.append("block object has no 'transactions' field: transactions unknown")

    tx_index: dict[str, int] = {t.hash: t.index for t in txs}
    rcs: list[Receipt] | None = None
    if receipts is not None:
        rcs = []
        for i, r in enumerate(receipts):
            try:
                rcs.append(
                    receipt_from_rpc(r, tx_index.get(str(r.get("transactionHash", "")).lower()), bad_rcs)
                )
            except _BAD as exc:
                bad_rcs.append(f"receipt {i}: {_reason(exc)}")

    if miner is None:
        reward = next(
            (t for t in trs or () if t.type == "reward" and t.reward_type == "block" and t.author), None
        )
        if reward is not None:
            miner = reward.author
            out_notes.append(
                "fee recipient from the block reward trace (pre-Merge fallback): header has no miner"
            )
        else:
            out_notes.append("fee recipient unknown: header has no miner and there is no block reward trace")

    if trs is not None and txs:
        traced = {t.tx_hash for t in trs if not t.trace_address and t.tx_hash is not None}
        missing = sum(1 for t in txs if t.hash not in traced)
        if missing:
            out_notes.append(
                f"traces missing for {missing} of {len(txs)} transactions (truncated trace list?)"
            )

    for what, lst in (("transactions", bad_txs), ("receipts/logs", bad_rcs), ("trace records", bad_traces)):
        if lst:
            out_notes.append(_summarise(what, lst))
            log.warning("block %s%s: %s", number, f" ({source})" if source else "", out_notes[-1])

    return Block(
        chain_id=tx_chain if tx_chain is not None else (chain_id if chain_id is not None else 1),
        number=number,
        hash=bhash.lower() if isinstance(bhash, str) else None,
        parent_hash=parent.lower() if isinstance(parent, str) else None,
        timestamp=timestamp,
        miner=miner,
        base_fee_per_gas=base_fee,
        transactions=tuple(sorted(txs, key=_by_index)),
        receipts=tuple(sorted(rcs, key=_rc_index)) if rcs is not None else None,
        traces=trs,
        source=source,
        notes=tuple(out_notes),
    )


def _by_index(t: Transaction) -> int:
    return t.index


def _rc_index(r: Receipt) -> int:
    return r.tx_index


def _txs_from_traces(traces: Sequence[Trace]) -> list[Transaction]:
    """Transactions synthesised from top-level frames (nonce, gas and fee fields unknown)."""
    out: list[Transaction] = []
    for t in traces:
        if t.tx_hash is not None and not t.trace_address and t.from_ is not None:
            out.append(
                Transaction(
                    hash=t.tx_hash,
                    index=t.tx_index if t.tx_index is not None else len(out),
                    from_=t.from_,
                    to=None if t.type == "create" else t.to,
                    value=t.value,
                    input=t.input,
                )
            )
    return out
