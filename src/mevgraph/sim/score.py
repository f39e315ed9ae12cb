"""Score detector findings against the testbed's ground truth (``truth.jsonl``).

Matching is by attacker transactions: a finding matches a truth record of the same family when
they share an attacker tx (``arbitrage`` and ``backrun`` form one family, as the testbed issue
allows: a backrun *is* an arbitrage with a known trigger). Each finding and each truth record
matches at most once. Findings with status ``reverted`` are attempts, not MEV, and nested findings
(a loop leg inside a sandwich) are not counted -- neither has a truth record. Per family we report
precision, recall, how many matches have *exactly* the same attacker-tx set, and for sandwiches
victim recall (truth victims found among the finding's victims).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from mevgraph.detection.base import Finding, Status

__all__ = ["FamilyScore", "family", "score", "read_truth", "FAMILIES"]

FAMILIES = ("sandwich", "arbitrage", "liquidation", "jit", "frontrun")


def family(kind: str) -> str:
    return "arbitrage" if kind in ("arbitrage", "backrun") else kind


@dataclass(slots=True)
class FamilyScore:
    family: str
    truth: int = 0
    found: int = 0
    matched: int = 0
    exact: int = 0
    victims_truth: int = 0
    victims_found: int = 0
    missed: list[dict[str, Any]] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.matched / self.found if self.found else None

    @property
    def recall(self) -> float | None:
        return self.matched / self.truth if self.truth else None

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "truth": self.truth,
            "found": self.found,
            "matched": self.matched,
            "precision": None if self.precision is None else round(self.precision, 4),
            "recall": None if self.recall is None else round(self.recall, 4),
            "exact_tx_sets": self.exact,
            "victim_recall": round(self.victims_found / self.victims_truth, 4)
            if self.victims_truth
            else None,
        }


def read_truth(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def score(
    truth: Sequence[dict[str, Any]], findings: Iterable[Finding], blocks: set[int] | None = None
) -> dict[str, FamilyScore]:
    """Per-family scores; ``blocks`` limits both sides to those block numbers."""
    fs = [
        f
        for f in findings
        if f.counted and f.status != Status.REVERTED and (blocks is None or f.block_number in blocks)
    ]
    ts = [t for t in truth if blocks is None or t["block_number"] in blocks]
    out = {fam: FamilyScore(fam) for fam in FAMILIES}
    by_tx: dict[tuple[str, str], list[int]] = {}
    for i, f in enumerate(fs):
        fam = family(str(f.kind))
        out.setdefault(fam, FamilyScore(fam)).found += 1
        for h in f.attacker_txs:
            by_tx.setdefault((fam, h), []).append(i)
    used: set[int] = set()
    for t in ts:
        fam = family(t["kind"])
        sc = out.setdefault(fam, FamilyScore(fam))
        sc.truth += 1
        cand = [i for h in t["attacker_txs"] for i in by_tx.get((fam, h), []) if i not in used]
        if fam == "sandwich":
            sc.victims_truth += len(t.get("victim_txs") or [])
        if not cand:
            sc.missed.append(t)
            continue
        i = cand[0]
        used.add(i)
        sc.matched += 1
        f = fs[i]
        if set(f.attacker_txs) == set(t["attacker_txs"]):
            sc.exact += 1
        if fam == "sandwich":
            sc.victims_found += len(set(t.get("victim_txs") or []) & set(f.victim_txs))
    for i, f in enumerate(fs):
        if i not in used:
            out[family(str(f.kind))].extra.append(f.to_json())
    return out


def inspect_dir(out_dir: Path, *, logs_only: bool = False) -> list[Finding]:
    """Detect over ``out_dir/blocks`` (with its ``chain.json``); ``logs_only`` drops the traces
    first, as a node without a trace API would serve the blocks."""
    from mevgraph.core.chains import apply_file
    from mevgraph.ingest.files import block_from_object
    from mevgraph.pipeline import inspect_blocks

    profile = out_dir / "chain.json"
    chain_id = apply_file(profile) if profile.is_file() else 1
    files = sorted((out_dir / "blocks").glob("*.json"), key=lambda p: int(p.stem))

    def blocks() -> Iterable[Any]:
        for f in files:
            obj = orjson.loads(f.read_bytes())
            if logs_only:
                obj.pop("traces", None)
            yield block_from_object(obj, chain_id=chain_id)

    return list(inspect_blocks(blocks()))


def score_dir(out_dir: Path, *, logs_only: bool = False) -> dict[str, FamilyScore]:
    """Scores of a recorded run (``mevgraph sim run --out DIR``)."""
    return score(read_truth(out_dir / "truth.jsonl"), inspect_dir(out_dir, logs_only=logs_only))
