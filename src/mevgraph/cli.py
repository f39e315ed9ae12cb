"""Command line: ``mevgraph inspect``.

``mevgraph inspect PATH... [--format table|jsonl|html]`` reads block files (mev-inspect fixtures
or RPC bundles, ``.json``/``.json.gz``, or directories of them);
``mevgraph inspect --rpc URL --from N --to M`` reads a range from a JSON-RPC node.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mevgraph.core.types import Block
from mevgraph.detection.base import Finding
from mevgraph.pipeline import BlockError, InspectStats, inspect_blocks, read_block_or_error
from mevgraph.report import findings_html, findings_table

app = typer.Typer(add_completion=False, no_args_is_help=True, help="mevgraph: graph-centric MEV detection.")
err = Console(stderr=True, soft_wrap=True)


class Format(StrEnum):
    table = "table"
    jsonl = "jsonl"
    html = "html"


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log skipped transactions.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False)],
    )


def _file_blocks(paths: list[Path], chain_id: int) -> tuple[int, Iterator[Block | BlockError]]:
    from mevgraph.ingest.files import expand_paths

    files = expand_paths(paths)
    return len(files), (read_block_or_error(p, chain_id) for p in files)


def _rpc_blocks(url: str, start: int, end: int, concurrency: int) -> tuple[int, Iterator[Block | BlockError]]:
    from mevgraph.ingest.rpc import FailedBlock, RpcError, fetch_range

    def gen() -> Iterator[Block | BlockError]:
        try:
            for item in fetch_range(url, start, end, concurrency=concurrency):
                if isinstance(item, FailedBlock):
                    yield BlockError(f"block {item.number}", item.reason)
                else:
                    yield item
        except RpcError as exc:  # the node is unreachable: what was fetched stands, say why we stopped
            yield BlockError(url, f"{type(exc).__name__}: {exc}")

    return end - start + 1, gen()


def _block_progress() -> Progress:
    """The progress bar of a block range, on stderr (stdout carries the findings)."""
    return Progress(
        TextColumn("[bold]inspect"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _progress_wrap(
    total: int, items: Iterable[Block | BlockError], show: bool
) -> Iterator[Block | BlockError]:
    if not show:
        yield from items
        return
    with _block_progress() as prog:
        task = prog.add_task("blocks", total=total)
        for it in items:
            yield it
            prog.advance(task)


def _parallel_files(
    paths: list[Path], chain_id: int, workers: int, batch_size: int, stats: InspectStats, progress: bool
) -> Iterator[Finding]:
    from mevgraph.ingest.files import expand_paths
    from mevgraph.parallel import inspect_files_parallel

    files = expand_paths(paths)
    if not progress:
        yield from inspect_files_parallel(
            files, workers=workers, chain_id=chain_id, batch_size=batch_size, stats=stats
        )
        return
    with _block_progress() as prog:
        task = prog.add_task("blocks", total=len(files))
        yield from inspect_files_parallel(
            files,
            workers=workers,
            chain_id=chain_id,
            batch_size=batch_size,
            stats=stats,
            on_shard=lambda n: prog.advance(task, n),
        )


@app.command()
def inspect(
    paths: Annotated[list[Path] | None, typer.Argument(help="Block files or directories.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC URL of a node.")] = None,
    from_: Annotated[int | None, typer.Option("--from", help="First block (with --rpc).")] = None,
    to: Annotated[int | None, typer.Option("--to", help="Last block, inclusive (with --rpc).")] = None,
    chain_id: Annotated[int, typer.Option(help="Chain id for files that do not carry one.")] = 1,
    concurrency: Annotated[int, typer.Option(help="Blocks in flight (with --rpc).")] = 4,
    batch_size: Annotated[int, typer.Option(help="Blocks per detection batch.")] = 128,
    out: Annotated[Path | None, typer.Option(help="Write the output here instead of stdout.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    workers: Annotated[
        int, typer.Option(help="Worker processes for files (reading, decoding and detection).")
    ] = 1,
) -> None:
    """Detect MEV in blocks from files or from a node and print the findings."""
    if rpc:
        if from_ is None or to is None or to < from_:
            raise typer.BadParameter("--rpc needs --from N --to M with M >= N")
        if paths:
            raise typer.BadParameter("give either PATHs or --rpc, not both")
        total, blocks = _rpc_blocks(rpc, from_, to, concurrency)
    else:
        if not paths:
            raise typer.BadParameter("give block files/directories, or --rpc URL --from N --to M")
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise typer.BadParameter(f"no such file or directory: {', '.join(missing)}")
        total, blocks = _file_blocks(list(paths), chain_id)

    if workers < 1:
        raise typer.BadParameter("--workers must be >= 1")
    stats = InspectStats()
    findings: list[Finding] = []
    stream = sys.stdout if out is None or fmt != Format.jsonl else out.open("w")
    if workers > 1 and not rpc:
        results = _parallel_files(list(paths or []), chain_id, workers, batch_size, stats, progress)
    else:
        results = inspect_blocks(
            _progress_wrap(total, blocks, progress and total > 1), batch_size=batch_size, stats=stats
        )
    try:
        for f in results:
            if fmt == Format.jsonl:
                stream.write(json.dumps(f.to_json()) + "\n")
                stream.flush()
            else:
                findings.append(f)
    finally:
        if stream is not sys.stdout:
            stream.close()

    if fmt == Format.table:
        # Not a terminal (a pipe, a file): wide enough that hashes and amounts stay on one line.
        console = Console(file=out.open("w"), width=220) if out else Console()
        if not console.is_terminal:
            console.width = max(console.width, 220)
        console.print(findings_table(findings))
    elif fmt == Format.html:
        html = findings_html(findings)
        if out:
            out.write_text(html)
        else:
            sys.stdout.write(html)

    for e in stats.errors:
        err.print(f"[yellow]skipped[/] {e.where}: {e.reason}")
    err.print(
        f"{stats.blocks} blocks ({', '.join(f'{v} {k}' for k, v in sorted(stats.modes.items()))}), "
        f"{stats.txs} txs, {stats.actions} actions, {len(stats.skips)} skipped frames/logs, "
        f"{len(stats.errors)} unreadable inputs"
    )
    if stats.blocks == 0 and stats.errors:
        raise typer.Exit(code=2)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
