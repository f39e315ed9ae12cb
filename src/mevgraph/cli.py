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
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from mevgraph.ingest.follow import FollowerStatus, FollowSpec
    from mevgraph.store import Store

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


def _apply_profiles(profiles: Iterable[Path]) -> int | None:
    """Register chain profile files (``--chain-profile``); the last one's chain id. A bad file
    is a usage error naming it."""
    chain: int | None = None
    for prof in profiles:
        try:
            chain = apply_chain_profile(prof)
        except (OSError, ValueError, KeyError) as exc:
            raise typer.BadParameter(f"chain profile {prof}: {exc}") from exc
    return chain


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
    profile_chain = _apply_profiles(profiles)
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
    out: Annotated[
        Path | None,
        typer.Option(help="Write node.json (URLs), chain.json and labels.json here for followers."),
    ] = None,
) -> None:
    """Keep a chain producing MEV live; prints its JSON-RPC and WebSocket URLs."""
    import signal
    import time as _time

    from mevgraph.sim.runner import Sim

    def terminate(*_: object) -> None:  # kill, a Makefile's trap: unwind like Ctrl-C, stopping the node
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    from mevgraph.sim.scenario import open_testbed

    with open_testbed(seed) as tb:
        err.print(
            f"[bold]testbed live[/]: rpc {tb.node.url}  ws {tb.node.ws_url}  chain id {tb.env.world.chain_id}"
        )
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            labels: dict[str, object] = {}
            for a in tb.agents:
                labels.update(a.labels())
            (out / "chain.json").write_text(json.dumps(tb.env.chain_profile(), indent=2))
            (out / "labels.json").write_text(json.dumps(labels, indent=2, sort_keys=True))
            node = {"rpc": tb.node.url, "ws": tb.node.ws_url, "chain_id": tb.env.world.chain_id}
            (out / "node.json").write_text(json.dumps(node))  # last: readers wait for it
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
    follow_rpc: Annotated[
        list[str] | None,
        typer.Option(help="Follow this node live in the server process (HTTP JSON-RPC; repeatable)."),
    ] = None,
    follow_ws: Annotated[
        list[str] | None, typer.Option(help="The followed node's WebSocket URL (one per --follow-rpc).")
    ] = None,
    mempool: Annotated[
        bool, typer.Option(help="Watch the followed nodes' mempools (mempool-stage alerts).")
    ] = True,
    bots: Annotated[
        Path | None,
        typer.Option(help="A labels.json (testbed) naming known bot addresses for the mempool monitor."),
    ] = None,
    chain_profile: Annotated[
        list[Path] | None,
        typer.Option(
            help="Chain profile JSON (tokens, routers, factories) for a followed chain not built in."
        ),
    ] = None,
) -> None:
    """Serve the REST API (OpenAPI at /docs) and GraphQL (/graphql, with live alert
    subscriptions) over a store; with --follow-rpc/--follow-ws the live pipeline runs in this
    process (the way to follow a node with the embedded store, which has one writer)."""
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
        from mevgraph.api.workers import reuse_port_balances, serve_workers

        if not reuse_port_balances():  # uvicorn's workers share one socket (unevenly; see workers.py)
            uvicorn.run(
                "mevgraph.api.app:app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="warning",
            )
            return
        try:
            status = serve_workers("mevgraph.api.app:app_from_env", host, port, workers)
        except OSError as exc:
            raise typer.BadParameter(f"cannot listen on {host}:{port}: {exc}", param_hint="--port") from None
        if status:
            raise typer.Exit(status)
        return
    from mevgraph.api.app import create_app
    from mevgraph.ingest.bus import open_bus

    _apply_profiles(chain_profile or [])
    bus = open_bus(redis)
    web = create_app(
        st, auth=not no_auth, redis_url=redis, rate_limit_per_minute=rate_limit, bus=bus, freeze_gc=True
    )
    rpcs, wss = list(follow_rpc or []), list(follow_ws or [])
    if len(rpcs) != len(wss):
        raise typer.BadParameter("give one --follow-ws per --follow-rpc")
    if rpcs:
        from mevgraph.api.cache import invalidate_cache
        from mevgraph.api.live import LiveOptions, attach_live
        from mevgraph.ingest.follow import FollowSpec
        from mevgraph.ingest.mempool import bots_from_labels

        known = bots_from_labels(bots) if bots is not None else frozenset()
        attach_live(
            web,
            st,
            bus,
            LiveOptions(
                specs=[FollowSpec(r, w) for r, w in zip(rpcs, wss, strict=True)],
                mempool=mempool,
                known_bots=known,
                status_redis=redis,
                on_stored=lambda _rec: invalidate_cache(redis),
            ),
        )
        err.print(f"following {', '.join(rpcs)} live" + (" with mempool monitoring" if mempool else ""))
        err.print(
            f"  live alerts: subscription alerts over ws://{host}:{port}/graphql (graphql-transport-ws)"
        )
    config = uvicorn.Config(web, host=host, port=port, log_level="warning")
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


def _follow_line(s: FollowerStatus) -> str:
    """One chain's status line: state, head, stored, lag, last block's latency, counters."""
    color = {"connected": "green", "reconnecting": "yellow", "starting": "cyan"}.get(s.state, "white")
    line = (
        f"chain {s.chain_id if s.chain_id is not None else '?'} [{color}]{s.state}[/] {s.node}  "
        f"head {s.head if s.head is not None else '-'}  stored {s.last_stored if s.last_stored is not None else '-'}"
        f"  lag {s.lag if s.lag is not None else '-'}"
        + (f"  last block {s.last_block_ms:.0f} ms" if s.last_block_ms is not None else "")
        + f"  alerts {s.alerts_published}  reorgs {s.reorgs}  reconnects {s.reconnects}"
    )
    if s.state == "reconnecting" and s.last_error:
        line += f"\n  [yellow]last error[/]: {s.last_error}"
    return line


async def _follow(
    specs: list[FollowSpec],
    st: Store,
    redis: str | None,
    for_seconds: float,
    progress: bool,
    options: dict[str, object],
) -> list[FollowerStatus]:
    import asyncio
    import signal

    from rich.live import Live
    from rich.text import Text

    from mevgraph.api.live import LiveOptions, run_live
    from mevgraph.ingest.bus import open_bus
    from mevgraph.ingest.follow import follower_statuses

    bus = open_bus(redis)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if for_seconds > 0:
        loop.call_later(for_seconds, stop.set)
    on_stored = options.pop("on_stored", None)
    live_options = LiveOptions(
        specs=specs,
        mempool=bool(options.pop("mempool", True)),
        known_bots=frozenset(options.pop("known_bots", frozenset())),  # type: ignore[call-overload]
        status_redis=redis,
        on_stored=on_stored,  # type: ignore[arg-type]
        follower_options=options,
    )
    task = asyncio.create_task(run_live(st, bus, live_options, stop))
    try:
        if progress and err.is_terminal:
            with Live(console=err, refresh_per_second=4, transient=True) as live:
                while not task.done():
                    live.update(Text.from_markup("\n".join(_follow_line(s) for s in follower_statuses())))
                    await asyncio.wait({task}, timeout=0.25)
        elif progress:  # a log, not a terminal: a line whenever a chain's state changes
            shown: dict[str, tuple[object, ...]] = {}
            while not task.done():
                for s in follower_statuses():
                    key = (s.state, s.chain_id, s.reconnects, s.reorgs)
                    if shown.get(s.node) != key:
                        shown[s.node] = key
                        err.print(_follow_line(s))
                await asyncio.wait({task}, timeout=0.25)
        followers = await task
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await bus.close()
    return [f.status for f in followers]


@app.command()
def follow(
    rpc: Annotated[list[str], typer.Option("--rpc", help="JSON-RPC URL of a node; repeat for more chains.")],
    ws: Annotated[list[str], typer.Option("--ws", help="WebSocket URL of the same node, in --rpc order.")],
    store: StoreOpt = None,
    redis: Annotated[
        str | None,
        typer.Option(
            "--redis",
            envvar="MEVGRAPH_REDIS",
            help="Redis URL: alerts are published there and the status mirrored for /v1/health "
            "(without it alerts stay in this process).",
        ),
    ] = None,
    from_: Annotated[
        list[int] | None,
        typer.Option(
            "--from",
            help="First block of a chain the store has nothing of (once, or once per --rpc); "
            "default: the node's head. Otherwise the follower resumes after the last stored block.",
        ),
    ] = None,
    for_seconds: Annotated[float, typer.Option(help="Stop after this many seconds (0 = until Ctrl-C).")] = 0,
    chain_profile: Annotated[
        list[Path] | None,
        typer.Option(help="Chain profile JSON (tokens, routers, factories) for a chain not built in."),
    ] = None,
    max_reorg_depth: Annotated[int, typer.Option(min=1, help="Stored blocks compared on a reorg.")] = 64,
    progress: Annotated[bool, typer.Option(help="Show the status line on stderr.")] = True,
    mempool: Annotated[
        bool, typer.Option(help="Watch each node's mempool too (mempool-stage alerts, private flow).")
    ] = True,
    bots: Annotated[
        Path | None,
        typer.Option(help="A labels.json (testbed) naming known bot addresses for the mempool monitor."),
    ] = None,
) -> None:
    """Follow nodes live: store every new block's findings and publish alerts.

    One follower per --rpc/--ws pair (the chain id comes from the node), resuming after the last
    stored block of its chain. Ctrl-C stops cleanly (the block being written is finished).
    The embedded store (a directory) allows one writing process: to serve an API on it, run the
    follower inside `mevgraph serve`; a separate `mevgraph follow` needs a PostgreSQL store.
    """
    import asyncio

    from mevgraph.api.cache import invalidate_cache
    from mevgraph.ingest.follow import FollowError, FollowSpec
    from mevgraph.store import open_store

    if len(rpc) != len(ws):
        raise typer.BadParameter("give one --ws per --rpc (the same node's WebSocket URL)")
    starts = list(from_ or [])
    if len(starts) == 1:
        starts *= len(rpc)
    if starts and len(starts) != len(rpc):
        raise typer.BadParameter("give --from once, or once per --rpc")
    specs = [
        FollowSpec(r, w, starts[i] if starts else None) for i, (r, w) in enumerate(zip(rpc, ws, strict=True))
    ]
    _apply_profiles(chain_profile or [])
    st = open_store(store)
    if not st.url.startswith("postgres"):
        err.print(
            f"[yellow]{st.url} is an embedded store: this process is its only writer; "
            "to serve an API on it, run the follower inside `mevgraph serve`[/]"
        )
    if not redis:
        err.print("[yellow]no --redis: alerts are published in this process only[/]")
    from mevgraph.ingest.mempool import bots_from_labels

    options: dict[str, object] = {"max_reorg_depth": max_reorg_depth, "mempool": mempool}
    if bots is not None:
        options["known_bots"] = bots_from_labels(bots)
    if redis:
        options["on_stored"] = lambda _rec: invalidate_cache(redis)
    err.print(f"following {len(specs)} node(s) into {st.url}; Ctrl-C stops")
    try:
        statuses = asyncio.run(_follow(specs, st, redis, for_seconds, progress, options))
    except FollowError as exc:
        err.print(f"[red]stopped[/]: {exc}")
        raise typer.Exit(code=2) from None
    finally:
        st.close()
    for s in statuses:
        err.print(
            f"chain {s.chain_id}: stored {s.blocks_stored} blocks (last {s.last_stored}), "
            f"{s.alerts_published} alerts published, {s.reorgs} reorgs, {s.reconnects} reconnects"
        )


_ALERTS_QUERY = """subscription($f: AlertFilterInput) {
  alerts(filter: $f) {
    id stage kind chainId blockNumber txs victimTxs bot pools profitUsd seenInMempool detectedAt
  }
}"""


@app.command()
def alerts(
    url: Annotated[
        str, typer.Option(help="The API's GraphQL WebSocket URL.")
    ] = "ws://127.0.0.1:8000/graphql",
    key: Annotated[str | None, typer.Option(envvar="MEVGRAPH_API_KEY", help="API key (scope read).")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Only these kinds (sandwich, arbitrage...).")] = None,
    stage: Annotated[
        list[str] | None, typer.Option(help="Only these stages (mempool, block, retraction).")
    ] = None,
    min_profit_usd: Annotated[float | None, typer.Option(help="Only alerts worth at least this.")] = None,
    for_seconds: Annotated[float, typer.Option(help="Stop after this many seconds (0 = until Ctrl-C).")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line instead of a table row.")
    ] = False,
) -> None:
    """Print live MEV alerts as they arrive (a GraphQL subscription over graphql-transport-ws)."""
    import asyncio
    import time as _time

    import websockets

    variables: dict[str, object] = {"f": {}}
    f: dict[str, object] = {}
    if kind:
        f["kinds"] = [k.upper() for k in kind]
    if stage:
        f["stages"] = list(stage)
    if min_profit_usd is not None:
        f["minProfitUsd"] = min_profit_usd
    variables["f"] = f

    async def run() -> None:
        async with websockets.connect(
            url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
        ) as ws:
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"X-API-Key": key} if key else {}})
            )
            ack = json.loads(await ws.recv())
            if ack.get("type") != "connection_ack":
                raise typer.BadParameter(f"the server refused the subscription: {ack}")
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": _ALERTS_QUERY, "variables": variables},
                    }
                )
            )
            err.print(f"subscribed to {url}; waiting for alerts")
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("type") == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                    continue
                if msg.get("type") == "error":
                    raise typer.BadParameter(f"subscription error: {msg.get('payload')}")
                if msg.get("type") != "next":
                    continue
                a = msg["payload"]["data"]["alerts"]
                if as_json:
                    print(json.dumps(a), flush=True)
                    continue
                lag = _time.time() - float(a.get("detectedAt") or _time.time())
                usd = a.get("profitUsd")
                money = f"${usd:,.2f}" if isinstance(usd, int | float) else "unpriced"
                where = f"block {a['blockNumber']}" if a.get("blockNumber") is not None else "pending"
                seen = {True: "seen in mempool", False: "private flow", None: ""}[a.get("seenInMempool")]
                style = {"mempool": "yellow", "block": "green", "retraction": "red"}.get(a["stage"], "")
                err.print(
                    f"[{style}]{a['stage']:<10}[/] {a.get('kind') or '?':<11} chain {a['chainId']} {where:<14} "
                    f"bot {str(a.get('bot') or '?')[:12]}  txs {len(a.get('txs') or [])} "
                    f"victims {len(a.get('victimTxs') or [])}  {money:>12}  {seen}  (+{lag * 1000:.0f} ms)"
                )

    async def bounded() -> None:
        if for_seconds > 0:
            try:
                await asyncio.wait_for(run(), for_seconds)
            except TimeoutError:
                err.print(f"stopped after {for_seconds:g} s")
        else:
            await run()

    try:
        asyncio.run(bounded())
    except KeyboardInterrupt:
        err.print("stopped")
    except websockets.exceptions.ConnectionClosed as exc:
        if exc.rcvd is None or exc.rcvd.code not in (1000, 1001, 1012):  # not a normal server shutdown
            err.print(f"[red]the subscription at {url} was closed: {exc}[/]")
            raise typer.Exit(1) from exc
        err.print("the server closed the subscription (it is shutting down)")
    except (OSError, websockets.exceptions.WebSocketException) as exc:
        err.print(f"[red]cannot subscribe at {url}: {exc}[/]")
        raise typer.Exit(1) from exc


def main() -> None:
    app()


if __name__ == "__main__":  # after every command is registered: ``python -m mevgraph.cli`` sees them all
    main()
