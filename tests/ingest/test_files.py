"""Reading block files of any supported format; directory expansion; clear errors naming the file."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from mevgraph.ingest.bundle import block_from_bundle, write_bundle
from mevgraph.ingest.files import FormatError, expand_paths, iter_block_files, load_json, read_block_file
from mevgraph.ingest.fixture import block_from_fixture

from ..conftest import BLOCK_FILES, DATA

ANVIL_BUNDLE = Path(__file__).resolve().parents[1] / "data" / "anvil_v2_sandwich.json"


def _need_data() -> None:
    if not BLOCK_FILES:
        pytest.skip(f"real mainnet blocks not found under {DATA}")


def _real(name: str) -> Path:
    _need_data()
    return DATA / "blocks" / f"{name}.json.gz"


def test_reads_real_fixture_like_the_fixture_reader() -> None:
    path = _real("12775690")
    with gzip.open(path) as fh:
        want = block_from_fixture(json.load(fh), source=str(path))
    assert read_block_file(path) == want


def test_reads_bundle_json_and_gz_to_the_same_block(tmp_path: Path) -> None:
    raw = json.loads(ANVIL_BUNDLE.read_text())
    want = block_from_bundle(raw)
    plain = read_block_file(ANVIL_BUNDLE)
    gz = read_block_file(write_bundle(tmp_path / "b.json.gz", raw))
    assert plain.source == str(ANVIL_BUNDLE)
    for got in (plain, gz):
        assert got.__class__ is want.__class__
        assert (got.number, got.transactions, got.receipts, got.traces) == (
            want.number,
            want.transactions,
            want.receipts,
            want.traces,
        )


def test_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    p = tmp_path / "12775690.json"
    p.write_bytes(_real("12775690").read_bytes())  # gzip bytes, plain name
    assert read_block_file(p).number == 12775690


def test_bare_eth_get_block_result(tmp_path: Path) -> None:
    raw = json.loads(ANVIL_BUNDLE.read_text())
    p = tmp_path / "bare.json"
    p.write_text(json.dumps(raw["block"]))
    b = read_block_file(p)
    assert len(b.transactions) == 7 and b.receipts is None and b.traces is None


def test_chain_id_argument_for_fixtures() -> None:
    assert read_block_file(_real("12775690"), chain_id=5).chain_id == 5


# -- directories -------------------------------------------------------------------------------


def test_expand_real_directory_sorted_by_block_number() -> None:
    _need_data()
    files = expand_paths([DATA / "blocks"])
    assert len(files) == 21
    numbers = [int(f.name.removesuffix(".json.gz")) for f in files]
    assert numbers == sorted(numbers)


def test_expand_sorts_numerically_not_lexically(tmp_path: Path) -> None:
    for name in ("900.json", "10000.json.gz", "block-2000.json", "notes.txt"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "1.json").write_text("{}")
    assert [f.name for f in expand_paths([tmp_path])] == ["900.json", "block-2000.json", "10000.json.gz"]


def test_expand_without_numbers_in_names_reads_block_numbers(tmp_path: Path) -> None:
    shutil.copy(_real("12775690"), tmp_path / "b.json.gz")
    shutil.copy(_real("10921991"), tmp_path / "c.json.gz")
    shutil.copy(ANVIL_BUNDLE, tmp_path / "a.json")
    (tmp_path / "broken.json").write_text("{")
    assert [f.name for f in expand_paths([tmp_path])] == ["broken.json", "a.json", "c.json.gz", "b.json.gz"]


def test_expand_keeps_explicit_files_in_order_and_rejects_missing(tmp_path: Path) -> None:
    a, b = _real("13666184"), _real("12775690")
    assert expand_paths([a, b]) == [a, b]
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        expand_paths([tmp_path / "nope.json"])


def test_iter_block_files_records_unreadable_files(tmp_path: Path) -> None:
    shutil.copy(_real("12775690"), tmp_path / "12775690.json.gz")
    (tmp_path / "12775691.json").write_text("")
    errors: list[tuple[Path, str]] = []
    blocks = list(iter_block_files([tmp_path], errors=errors))
    assert [b.number for b in blocks] == [12775690]
    assert errors == [(tmp_path / "12775691.json", f"{tmp_path / '12775691.json'}: empty file")]
    with pytest.raises(FormatError, match="empty file"):
        list(iter_block_files([tmp_path]))


# -- errors name the file and the problem ------------------------------------------------------


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)  # stable bytes: xdist workers must agree on test ids


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.json", b"", "empty file"),
        ("empty.json.gz", _gz(b""), r"empty file \(after gunzip\)"),
        ("garbage.json", b"\x00\xffnot json at all", "not valid JSON"),
        ("truncated.json", b'{"block": {"number": "0x1", "transactions": [', "not valid JSON"),
        ("truncated.json.gz", _gz(b'{"block": {"number": "0x1"}}')[:-9], "corrupt or truncated gzip"),
        ("fake.json.gz", b'{"block": {"number": "0x1"}}', "named .gz but not gzip"),
        ("list.json", b"[1, 2]", "top-level JSON value is a list"),
        ("number.json", b"42", "top-level JSON value is a int"),
        ("other.json", b'{"jsonrpc": "2.0", "id": 1}', "neither a mev-inspect fixture"),
        ("bad-block.json", b'{"block": {"number": null}}', "missing 'number'"),
        ("bad-fixture.json", b'{"block_number": 1, "traces": 5}', "'traces' must be a list"),
        (
            "bad-receipt.json",
            b'{"block_number": 1, "traces": [], "receipts": [{"transaction_index": 0}]}',
            "malformed block data: missing field 'transaction_hash'",
        ),
        ("bad-trace.json", b'{"block_number": 1, "traces": [7]}', "malformed block data"),
    ],
)
def test_format_errors_name_file_and_problem(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(FormatError, match=message) as info:
        read_block_file(p)
    assert str(info.value).startswith(str(p))


def test_unreadable_path_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="cannot read"):
        load_json(tmp_path)  # a directory
