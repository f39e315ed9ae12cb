"""The notebooks run end to end on a real block (they are percent-format Python files)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import DATA, ROOT


def test_explore_block_notebook_runs(block_names: list[str]) -> None:
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "notebooks" / "explore_block.py"),
            str(DATA / "blocks" / "12775690.json.gz"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "sandwich ok" in res.stdout
    assert "transactions swapped on" in res.stdout
