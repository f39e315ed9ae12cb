"""RPC bundle files: one block as a node returned it.

A bundle is one JSON object::

    {"block":    <eth_getBlockByNumber(n, true) result>,   # or (n, false): tx hashes only
     "receipts": [<eth_getBlockReceipts(n) result>],        # optional
     "traces":   [<trace_block(n) result>],                 # optional (logs-only nodes have none)
     "chainId":  "0x1"}                                     # optional

A missing or ``null`` ``receipts``/``traces`` means the source had none (``Block.receipts`` /
``Block.traces`` is ``None``); an empty list means "none in this block". Other top-level keys are
ignored, so recorders may add metadata (``tests/data/anvil_v2_sandwich.json`` adds ``scenario``).
Field mapping and tolerance of partial objects: :mod:`mevgraph.ingest.rpc_model`.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson

from mevgraph.core.types import Block
from mevgraph.ingest.fixture import FormatError
from mevgraph.ingest.rpc_model import block_from_rpc, quantity

__all__ = ["is_bundle", "block_from_bundle", "make_bundle", "write_bundle"]


def is_bundle(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("block"), dict)


def block_from_bundle(obj: Any, *, chain_id: int = 1, source: str = "") -> Block:
    """Build a :class:`Block` from a decoded bundle object.

    The chain id comes from the transactions' ``chainId``, else the bundle's ``"chainId"``, else
    ``chain_id``.

    Raises:
        FormatError: the object is not a bundle or its block is unusable.
    """
    if not isinstance(obj, dict):
        raise FormatError(f"an RPC bundle must be a JSON object, got {type(obj).__name__}")
    if "block" not in obj:
        raise FormatError(f"not an RPC bundle: no 'block' key (keys: {sorted(obj)[:8]})")
    if not isinstance(obj["block"], dict):
        raise FormatError(f"bundle 'block' must be an object, got {type(obj['block']).__name__}")
    for key in ("receipts", "traces"):
        v = obj.get(key)
        if v is not None and not isinstance(v, list):
            raise FormatError(f"bundle {key!r} must be a list or null, got {type(v).__name__}")
    notes: list[str] = []
    if obj.get("receipts") is None:
        notes.append("bundle has no receipts: status, gas and logs unknown")
    if obj.get("traces") is None:
        notes.append("bundle has no traces: logs-only decoding")
    cid = chain_id
    if obj.get("chainId") is not None:
        try:
            cid = quantity(obj["chainId"]) or chain_id
        except ValueError as exc:
            raise FormatError(f"bundle 'chainId' is not a quantity: {exc}") from None
    return block_from_rpc(
        obj["block"], obj.get("receipts"), obj.get("traces"), chain_id=cid, source=source, notes=notes
    )


def make_bundle(
    block: dict[str, Any],
    receipts: list[Any] | None,
    traces: list[Any] | None,
    *,
    chain_id: int | None = None,
) -> dict[str, Any]:
    """The bundle object for raw RPC results (keys with ``None`` are left out)."""
    out: dict[str, Any] = {"block": block}
    if receipts is not None:
        out["receipts"] = receipts
    if traces is not None:
        out["traces"] = traces
    if chain_id is not None:
        out["chainId"] = hex(chain_id)
    return out


def write_bundle(path: str | Path, bundle: dict[str, Any]) -> Path:
    """Write ``bundle`` as JSON (gzip-compressed when the name ends in ``.gz``)."""
    p = Path(path)
    data = orjson.dumps(bundle, option=orjson.OPT_INDENT_2 if not p.name.endswith(".gz") else 0)
    if p.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    p.write_bytes(data)
    return p
