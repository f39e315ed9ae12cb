"""Findings as something a person would rather look at: a terminal table or an HTML page."""

from __future__ import annotations

import html
from collections.abc import Sequence

from rich.table import Table

from mevgraph.core.tokens import format_amount
from mevgraph.detection.base import Finding

__all__ = ["findings_table", "findings_html"]


def _usd(v: float | None) -> str:
    return "—" if v is None else f"${v:,.2f}"


def _short(h: str | None) -> str:
    return "—" if not h else f"{h[:10]}…"


def _profit(f: Finding) -> str:
    parts = [format_amount(f.chain_id, t, a) for t, a in sorted(f.profit_by_token.items())]
    return ", ".join(parts) if parts else "—"


def _kind(f: Finding) -> str:
    if f.nested_in is None:
        return str(f.kind)
    parent = f.nested_in.split(":")[1] if f.nested_in.count(":") >= 2 else "another finding"
    return f"{f.kind} (in {parent})"


def _row(f: Finding) -> list[str]:
    return [
        str(f.block_number),
        _kind(f),
        str(f.status),
        _short(f.searcher),
        _short(f.contract),
        str(len(f.tx_hashes)),
        str(len(f.victim_txs)) if f.victim_txs else "",
        ", ".join(f.protocols),
        _profit(f),
        _usd(f.profit_usd),
        _usd(f.victim_loss_usd),
        f"{f.confidence:.2f}",
    ]


_HEADERS = [
    "block",
    "kind",
    "status",
    "searcher",
    "contract",
    "txs",
    "victims",
    "protocols",
    "gross profit (tokens)",
    "net USD",
    "victim loss USD",
    "conf",
]


def findings_table(findings: Sequence[Finding]) -> Table:
    """A rich table, one row per finding, with a totals caption."""
    t = Table(title=f"MEV findings ({len(findings)})", show_lines=False)
    for h in _HEADERS:
        t.add_column(
            h,
            overflow="fold",
            justify="right" if h in ("txs", "victims", "net USD", "victim loss USD", "conf") else "left",
        )
    for f in findings:
        t.add_row(*_row(f))
    # Nested findings (a sandwich leg that is itself a loop) are shown but not counted twice.
    counted = [f for f in findings if f.counted]
    priced = [f.profit_usd for f in counted if f.profit_usd is not None]
    by_kind: dict[str, int] = {}
    for f in counted:
        by_kind[str(f.kind)] = by_kind.get(str(f.kind), 0) + 1
    nested = len(findings) - len(counted)
    t.caption = (
        ", ".join(f"{k}: {v}" for k, v in sorted(by_kind.items()))
        + (f" (+{nested} nested, not counted)" if nested else "")
        + f" — net USD over {len(priced)} priced findings: {_usd(sum(priced)) if priced else '—'}"
    )
    return t


def findings_html(findings: Sequence[Finding]) -> str:
    """A self-contained HTML page with the same table (no external assets)."""
    rows = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _row(f)) + "</tr>" for f in findings
    )
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEADERS)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>mevgraph findings</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px}}th{{background:#f3f3f3}}</style></head>
<body><h1>MEV findings ({len(findings)})</h1>
<table><thead><tr>{head}</tr></thead><tbody>
{rows}
</tbody></table></body></html>
"""
