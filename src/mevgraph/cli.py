"""Command line: ``mevgraph inspect``.

``mevgraph inspect PATH... [--format table|jsonl|html]`` reads block files (mev-inspect fixtures
or RPC bundles, ``.json``/``.json.gz``, or directories of them);
``mevgraph inspect --rpc URL --from N --to M`` reads a range from a JSON-RPC node.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mevgraph.core.chains import apply_file as apply_chain_profile
from mevgraph.core.chains import find_profile
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
    chain_id: Annotated[
        int | None,
        typer.Option(help="Chain id for files that do not carry one (default: the chain profile's, else 1)."),
    ] = None,
    chain_profile: Annotated[
        list[Path] | None,
        typer.Option(
            help="Chain profile JSON (tokens, routers, factories) for a chain not built in; "
            "a chain.json beside the given files is used automatically."
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Blocks in flight (with --rpc).")] = 4,
    batch_size: Annotated[int, typer.Option(help="Blocks per detection batch.")] = 128,
    out: Annotated[Path | None, typer.Option(help="Write the output here instead of stdout.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    workers: Annotated[
        int, typer.Option(help="Worker processes for files (reading, decoding and detection).")
    ] = 1,
) -> None:
    """Detect MEV in blocks from files or from a node and print the findings."""
    profiles = list(chain_profile or [])
    for p in paths or []:
        found = find_profile(p)
        if found is not None and found not in profiles:
            profiles.append(found)
    profile_chain: int | None = None
    for prof in profiles:
        try:
            profile_chain = apply_chain_profile(prof)
        except (OSError, ValueError, KeyError) as exc:
            raise typer.BadParameter(f"chain profile {prof}: {exc}") from exc
    chain_id = chain_id if chain_id is not None else (profile_chain or 1)
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


sim_app = typer.Typer(no_args_is_help=True, help="The local testbed: a real node with agents producing MEV.")
app.add_typer(sim_app, name="sim")


@sim_app.command("run")
def sim_run(
    out: Annotated[Path, typer.Option(help="Directory for blocks/, truth.jsonl, labels.json, chain.json.")],
    blocks: Annotated[int, typer.Option(min=1, help="Blocks to produce.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same chain.")] = 1,
    traces: Annotated[bool, typer.Option(help="Record trace_block in the bundles.")] = True,
    retail: Annotated[int, typer.Option(min=0, help="Retail trader EOAs.")] = 400,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Run the testbed for BLOCKS blocks and record bundles and ground truth into OUT."""
    from mevgraph.sim.scenario import Cast, run_scenario

    stats = run_scenario(blocks, seed, out, cast=Cast(retail=retail), traces=traces, progress=progress)
    err.print(
        f"{stats.blocks} blocks, {stats.txs} txs ({stats.txs / max(1, stats.blocks):.0f}/block), "
        f"{stats.reverted} reverted, {stats.refused} refused, {stats.seconds:.1f} s; truth: "
        + ", ".join(f"{k} {v}" for k, v in sorted(stats.truth.items()))
    )
    err.print(f"recorded into {out}; score with `mevgraph sim score {out}`")


@sim_app.command("score")
def sim_score(
    out: Annotated[Path, typer.Argument(help="A directory written by `mevgraph sim run`.")],
    logs_only: Annotated[
        bool, typer.Option(help="Drop the traces first (a node without trace API).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Detect MEV in a recorded run and score it against its truth.jsonl, per kind."""
    from rich.table import Table

    from mevgraph.sim.score import score_dir

    if not (out / "truth.jsonl").is_file():
        raise typer.BadParameter(f"{out} has no truth.jsonl (write one with `mevgraph sim run --out {out}`)")
    scores = score_dir(out, logs_only=logs_only)
    rows = [s.to_json() for s in scores.values()]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    t = Table(title=f"detection vs ground truth ({'logs only' if logs_only else 'with traces'})")
    for h in ("kind", "truth", "found", "matched", "precision", "recall", "exact tx sets", "victim recall"):
        t.add_column(h, justify="left" if h == "kind" else "right")
    for r in rows:
        t.add_row(
            r["family"],
            str(r["truth"]),
            str(r["found"]),
            str(r["matched"]),
            "—" if r["precision"] is None else f"{r['precision']:.3f}",
            "—" if r["recall"] is None else f"{r['recall']:.3f}",
            str(r["exact_tx_sets"]),
            "—" if r["victim_recall"] is None else f"{r['victim_recall']:.3f}",
        )
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 120)
    console.print(t)


@sim_app.command("serve")
def sim_serve(
    seed: Annotated[int, typer.Option(help="Seed of the agents' behaviour.")] = 1,
    block_time: Annotated[float, typer.Option(help="Seconds between blocks.")] = 2.0,
    blocks: Annotated[int, typer.Option(help="Stop after this many blocks (0 = until Ctrl-C).")] = 0,
) -> None:
    """Keep a chain producing MEV live; prints its JSON-RPC and WebSocket URLs."""
    import time as _time

    from mevgraph.sim.runner import Sim
    from mevgraph.sim.scenario import open_testbed

    with open_testbed(seed) as tb:
        err.print(
            f"[bold]testbed live[/]: rpc {tb.node.url}  ws {tb.node.ws_url}  chain id {tb.env.world.chain_id}"
        )
        err.print("Ctrl-C stops it (the node is stopped with it).")
        sys.stderr.flush()
        with Sim(tb.env, tb.agents, seed=seed) as sim:
            n = 0
            try:
                while blocks == 0 or n < blocks:
                    t0 = _time.monotonic()
                    mined = sim.step()
                    n += 1
                    err.print(
                        f"block {mined.number}: {len(mined.order)} txs; truth so far "
                        + ", ".join(f"{k} {v}" for k, v in sorted(sim.stats.truth.items()))
                    )
                    _time.sleep(max(0.0, block_time - (_time.monotonic() - t0)))
            except KeyboardInterrupt:
                err.print("stopping")


StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="MEVGRAPH_STORE",
        help="A directory (embedded store, no server) or a postgresql:// URL. Default: ./.mevgraph/store.",
    ),
]
RedisOpt = Annotated[
    str | None,
    typer.Option("--redis", envvar="MEVGRAPH_REDIS", help="Redis URL for the shared cache and rate limits."),
]


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Block files or directories.")] = None,
    store: StoreOpt = None,
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC URL of a node.")] = None,
    from_: Annotated[int | None, typer.Option("--from", help="First block (with --rpc).")] = None,
    to: Annotated[int | None, typer.Option("--to", help="Last block, inclusive (with --rpc).")] = None,
    chain_id: Annotated[int | None, typer.Option(help="Chain id for files that do not carry one.")] = None,
    concurrency: Annotated[int, typer.Option(help="Blocks in flight (with --rpc).")] = 4,
    redis: RedisOpt = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Detect MEV in blocks (files or a node) and store the findings, bots and leakage."""
    from mevgraph.api.cache import invalidate_cache
    from mevgraph.store import open_store
    from mevgraph.store.ingest import ingest as ingest_blocks

    profile_chain: int | None = None
    for p in paths or []:
        found = find_profile(p)
        if found is not None:
            profile_chain = apply_chain_profile(found)
    cid = chain_id if chain_id is not None else (profile_chain or 1)
    if rpc:
        if from_ is None or to is None or to < from_:
            raise typer.BadParameter("--rpc needs --from N --to M with M >= N")
        total, blocks = _rpc_blocks(rpc, from_, to, concurrency)
    else:
        if not paths:
            raise typer.BadParameter("give block files/directories, or --rpc URL --from N --to M")
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise typer.BadParameter(f"no such file or directory: {', '.join(missing)}")
        total, blocks = _file_blocks(list(paths), cid)
    st = open_store(store)
    try:
        stats = ingest_blocks(st, _progress_wrap(total, blocks, progress and total > 1))
    finally:
        st.close()
    invalidate_cache(redis)
    for e in stats.inspect.errors:
        err.print(f"[yellow]skipped[/] {e.where}: {e.reason}")
    err.print(
        f"stored {stats.blocks} blocks ({stats.unchanged} already stored unchanged), "
        f"{stats.opportunities} opportunities written"
        + (f", reorg replaced heights {sorted(set(stats.reorged))}" if stats.reorged else "")
        + f" into {st.url}"
    )
    if stats.blocks == 0 and stats.inspect.errors:
        raise typer.Exit(code=2)


@app.command()
def serve(
    store: StoreOpt = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    redis: RedisOpt = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Allow anonymous requests (explicit opt-in).")
    ] = False,
    rate_limit: Annotated[int, typer.Option(help="Requests per minute per key.")] = 600,
    workers: Annotated[int, typer.Option(help="Server processes (PostgreSQL stores only).")] = 1,
    for_seconds: Annotated[float, typer.Option(help="Stop after this many seconds (0 = until Ctrl-C).")] = 0,
    show_key: Annotated[
        str | None, typer.Option(help="A key to print ready-made example requests with.")
    ] = None,
) -> None:
    """Serve the REST API (OpenAPI at /docs) over a store."""
    import threading

    import uvicorn

    from mevgraph.store import open_store

    st = open_store(store)
    pg = st.url.startswith("postgresql")
    if workers > 1 and not pg:
        raise typer.BadParameter("--workers > 1 needs a PostgreSQL store (the embedded store is one process)")
    base = f"http://{host}:{port}"
    err.print(f"serving {st.url} on {base}  (OpenAPI: {base}/docs, health: {base}/v1/health)")
    if no_auth:
        err.print("[yellow]--no-auth: anonymous requests are allowed[/]")
    if show_key:
        err.print(f"API key: {show_key}")
        err.print(f"  curl -H 'X-API-Key: {show_key}' '{base}/v1/mev/opportunities?sortBy=profit&limit=5'")
        err.print(f"  curl -H 'X-API-Key: {show_key}' '{base}/v1/mev/bots?limit=5'")
        err.print(f"  curl -H 'X-API-Key: {show_key}' '{base}/v1/mev/leakage'")
    if workers > 1:
        st.close()
        os.environ["MEVGRAPH_STORE"] = st.url
        os.environ["MEVGRAPH_API_AUTH"] = "0" if no_auth else "1"
        os.environ["MEVGRAPH_API_RATE_LIMIT"] = str(rate_limit)
        if redis:
            os.environ["MEVGRAPH_REDIS"] = redis
        uvicorn.run(
            "mevgraph.api.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
        return
    from mevgraph.api.app import create_app

    config = uvicorn.Config(
        create_app(st, auth=not no_auth, redis_url=redis, rate_limit_per_minute=rate_limit),
        host=host,
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    if for_seconds > 0:
        timer = threading.Timer(for_seconds, lambda: setattr(server, "should_exit", True))
        timer.daemon = True
        timer.start()
        err.print(f"(stops by itself after {for_seconds:g} s)")
    try:
        server.run()
    finally:
        st.close()


apikey_app = typer.Typer(no_args_is_help=True, help="API keys for the REST API.")
app.add_typer(apikey_app, name="apikey")


@apikey_app.command("create")
def apikey_create(
    store: StoreOpt = None,
    scope: Annotated[list[str] | None, typer.Option(help="Scope(s) of the key, e.g. read.")] = None,
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
) -> None:
    """Create an API key; the key is the last line printed (it is stored only hashed)."""
    from mevgraph.store import open_store

    st = open_store(store)
    try:
        key = st.create_api_key(list(scope or ["read"]), name)
    finally:
        st.close()
    err.print(f"created a key with scopes {', '.join(scope or ['read'])} in {st.url}; it is shown once:")
    sys.stdout.write(key + "\n")


db_app = typer.Typer(no_args_is_help=True, help="The store's schema.")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(store: StoreOpt = None) -> None:
    """Apply pending migrations (also done whenever a store is opened)."""
    from mevgraph.store import open_store

    st = open_store(store)
    try:
        applied = st.upgrade()
    finally:
        st.close()
    err.print(f"{st.url}: " + (f"applied {', '.join(applied)}" if applied else "schema up to date"))
