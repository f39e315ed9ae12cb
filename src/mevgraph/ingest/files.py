"""Read blocks from files: mev-inspect fixtures or RPC bundles, ``.json`` or ``.json.gz``.

The format is detected from the content, not the name: gzip by its magic bytes, then
a mev-inspect fixture (``block_number`` + ``traces``, see :mod:`mevgraph.ingest.fixture`), an RPC
bundle (``block`` object, see :mod:`mevgraph.ingest.bundle`), or a bare
``eth_getBlockByNumber`` result (``number`` + ``transactions``; no receipts, no traces).

Directories expand to their ``*.json`` / ``*.json.gz`` files (not recursively), sorted by block
number: the longest digit run of the file name when every file has one (``15049646.json.gz``,
``block-15049646.json``), else the number read from each file.

Every problem is a :class:`FormatError` whose message starts with the file name.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from mevgraph.core.types import Block
from mevgraph.ingest.bundle import block_from_bundle, is_bundle
from mevgraph.ingest.fixture import FormatError, block_from_fixture, is_fixture

__all__ = [
    "FormatError",
    "load_json",
    "block_from_object",
    "read_block_file",
    "expand_paths",
    "iter_block_files",
]

_GZIP_MAGIC = b"\x1f\x8b"
_DIGITS = re.compile(r"\d+")
_BAD = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def load_json(path: str | Path) -> Any:
    """The decoded JSON of ``path`` (gunzipped if it is gzip), or a :class:`FormatError`."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise FormatError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if not raw:
        raise FormatError(f"{p}: empty file")
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise FormatError(f"{p}: corrupt or truncated gzip data ({exc})") from None
        if not raw:
            raise FormatError(f"{p}: empty file (after gunzip)")
    elif p.name.endswith(".gz"):
        raise FormatError(f"{p}: named .gz but not gzip data")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"{p}: not valid JSON ({exc})") from None


def _is_bare_block(obj: Any) -> bool:
    return isinstance(obj, dict) and "number" in obj and "transactions" in obj


def block_from_object(obj: Any, *, chain_id: int = 1, source: str = "") -> Block:
    """Detect the format of a decoded object and build the :class:`Block`."""
    pre = f"{source}: " if source else ""
    if not isinstance(obj, dict):
        raise FormatError(
            f"{pre}top-level JSON value is a {type(obj).__name__}; expected an object "
            "(mev-inspect fixture or RPC bundle)"
        )
    try:
        if is_fixture(obj):
            return block_from_fixture(obj, chain_id=chain_id, source=source)
        if is_bundle(obj) or "block" in obj:
            return block_from_bundle(obj, chain_id=chain_id, source=source)
        if _is_bare_block(obj):
            return block_from_bundle({"block": obj}, chain_id=chain_id, source=source)
    except FormatError as exc:
        raise FormatError(f"{pre}{exc}") from None
    except _BAD as exc:
        what = (
            f"missing field {exc.args[0]!r}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        )
        raise FormatError(f"{pre}malformed block data: {what}") from None
    raise FormatError(
        f"{pre}neither a mev-inspect fixture (needs 'block_number' and 'traces') nor an RPC bundle "
        f"(needs 'block'); top-level keys: {sorted(obj)[:8]}"
    )


def read_block_file(path: str | Path, *, chain_id: int = 1) -> Block:
    """Read one block file of any supported format.

    Raises:
        FormatError: unreadable file, bad gzip/JSON or an unknown/malformed format; the message
            names the file and the problem.
    """
    p = Path(path)
    return block_from_object(load_json(p), chain_id=chain_id, source=str(p))


def _is_block_file(p: Path) -> bool:
    return p.is_file() and (p.name.endswith(".json") or p.name.endswith(".json.gz"))


def _name_number(p: Path) -> int | None:
    runs = _DIGITS.findall(p.name.removesuffix(".gz").removesuffix(".json"))
    return int(max(runs, key=len)) if runs else None


def _content_number(p: Path) -> int:
    try:
        obj = load_json(p)
        if isinstance(obj, dict):
            if "block_number" in obj:
                return int(obj["block_number"])
            blk = obj.get("block", obj)
            if isinstance(blk, dict) and blk.get("number") is not None:
                n = blk["number"]
                return int(n, 16) if isinstance(n, str) and n[:2] in ("0x", "0X") else int(n)
    except (FormatError, *_BAD):
        pass
    return -1  # unreadable files sort first; reading them later reports the problem


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; each directory replaced by its block files sorted by block number.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files = [f for f in p.iterdir() if _is_block_file(f)]
            nums = [_name_number(f) for f in files]
            if all(n is not None for n in nums):
                keyed = [(n, f.name, f) for n, f in zip(nums, files, strict=True)]
            else:
                keyed = [(_content_number(f), f.name, f) for f in files]
            out.extend(f for _, _, f in sorted(keyed, key=lambda k: (k[0], k[1])))
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"no such file or directory: {p}")
    return out


def iter_block_files(
    paths: Iterable[str | Path], *, chain_id: int = 1, errors: list[tuple[Path, str]] | None = None
) -> Iterator[Block]:
    """Blocks from files and directories; an unreadable file is skipped and recorded in ``errors``
    (or raised when ``errors`` is ``None``)."""
    for p in expand_paths(paths):
        try:
            yield read_block_file(p, chain_id=chain_id)
        except FormatError as exc:
            if errors is None:
                raise
            errors.append((p, str(exc)))
