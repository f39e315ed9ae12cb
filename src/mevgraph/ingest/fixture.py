"""Reader for mev-inspect-py block fixtures (``<n>.json`` / ``<n>.json.gz``).

Format (see ``shared/data/README.md``): ``block_number``, ``miner``, ``base_fee_per_gas``,
optional ``block_timestamp``, Parity ``traces`` with snake_case top-level keys (camelCase, hex
numbers inside ``action``/``result``) and minimal ``receipts`` (no logs, no status, no sender).
Transactions are synthesised from top-level trace frames; success comes from their ``error``.
The fee recipient comes from ``miner``; a block reward trace is the fallback (pre-Merge).
"""

from __future__ import annotations

from typing import Any

from mevgraph.core.types import Address, Block, Receipt, Trace, Transaction, TxHash

__all__ = ["block_from_fixture", "is_fixture", "trace_from_parity"]


class FormatError(ValueError):
    """The file is not in the expected format; the message says what is wrong."""


def is_fixture(obj: Any) -> bool:
    return isinstance(obj, dict) and "block_number" in obj and "traces" in obj


def _hex_int(v: Any) -> int:
    if v is None:
        return 0
    if isinstance(v, int):
        return v
    return int(v, 16) if v[:2] in ("0x", "0X") else int(v)


def _addr(v: Any) -> Address | None:
    return Address(v.lower()) if isinstance(v, str) and v else None


def trace_from_parity(t: dict[str, Any]) -> Trace:
    """One Parity trace record; accepts snake_case (fixtures) or camelCase (RPC) top-level keys."""
    action = t.get("action") or {}
    result = t.get("result") or {}
    ttype = t.get("type") or "call"
    ta = t.get("trace_address")
    if ta is None:
        ta = t.get("traceAddress") or []
    tx_hash = t.get("transaction_hash", t.get("transactionHash"))
    tx_pos = t.get("transaction_position", t.get("transactionPosition"))
    if ttype == "reward":
        return Trace(
            tx_hash=None,
            tx_index=None,
            trace_address=(),
            type="reward",
            call_type=None,
            from_=None,
            to=None,
            value=_hex_int(action.get("value")),
            input="0x",
            output=None,
            gas_used=None,
            error=None,
            subtraces=0,
            author=_addr(action.get("author")),
            reward_type=action.get("rewardType"),
        )
    if ttype == "suicide":
        frm, to, value, inp = action.get("address"), action.get("refundAddress"), action.get("balance"), "0x"
    elif ttype == "create":
        frm, to, value, inp = (
            action.get("from"),
            result.get("address"),
            action.get("value"),
            action.get("init") or "0x",
        )
    else:
        frm, to, value, inp = (
            action.get("from"),
            action.get("to"),
            action.get("value"),
            action.get("input") or "0x",
        )
    gas_used = result.get("gasUsed") if result else None
    return Trace(
        tx_hash=TxHash(tx_hash.lower()) if tx_hash else None,
        tx_index=_hex_int(tx_pos) if tx_pos is not None else None,
        trace_address=tuple(ta),
        type=ttype,
        call_type=action.get("callType"),
        from_=_addr(frm),
        to=_addr(to),
        value=_hex_int(value),
        input=inp.lower() if isinstance(inp, str) else "0x",
        output=(result.get("output") if result else None),
        gas_used=_hex_int(gas_used) if gas_used is not None else None,
        error=t.get("error"),
        subtraces=int(t.get("subtraces") or 0),
    )


def block_from_fixture(obj: dict[str, Any], *, chain_id: int = 1, source: str = "") -> Block:
    """Build a :class:`Block` from a decoded fixture object."""
    if not is_fixture(obj):
        raise FormatError("not a mev-inspect fixture: needs 'block_number' and 'traces'")
    if not isinstance(obj["traces"], list):
        raise FormatError("'traces' must be a list")
    number = int(obj["block_number"])
    traces = tuple(trace_from_parity(t) for t in obj["traces"])
    notes: list[str] = []
    miner = _addr(obj.get("miner"))
    if miner is not None:
        notes.append("fee recipient from the fixture's miner field")
    else:
        rewards = [t for t in traces if t.type == "reward" and t.reward_type == "block" and t.author]
        if rewards:
            miner = rewards[0].author
            notes.append("fee recipient from the block reward trace (pre-Merge fallback)")
        else:
            notes.append("fee recipient unknown: no miner field and no reward trace")
    receipts = []
    for r in obj.get("receipts") or []:
        receipts.append(
            Receipt(
                tx_hash=TxHash(r["transaction_hash"].lower()),
                tx_index=int(r["transaction_index"]),
                status=None,
                gas_used=r.get("gas_used"),
                effective_gas_price=r.get("effective_gas_price"),
                cumulative_gas_used=r.get("cumulative_gas_used"),
                to=_addr(r.get("to")),
            )
        )
    txs: list[Transaction] = []
    for t in traces:
        if t.tx_hash is not None and t.trace_address == () and t.from_ is not None:
            txs.append(
                Transaction(
                    hash=t.tx_hash,
                    index=t.tx_index if t.tx_index is not None else len(txs),
                    from_=t.from_,
                    to=t.to,
                    value=t.value,
                    input=t.input,
                )
            )
    base_fee = obj.get("base_fee_per_gas")
    return Block(
        chain_id=chain_id,
        number=number,
        hash=(obj["traces"][0].get("block_hash") if obj["traces"] else None),
        timestamp=obj.get("block_timestamp"),
        miner=miner,
        base_fee_per_gas=int(base_fee) if base_fee is not None else None,
        transactions=tuple(sorted(txs, key=lambda x: x.index)),
        receipts=tuple(receipts),
        traces=traces,
        source=source,
        notes=tuple(notes),
    )
