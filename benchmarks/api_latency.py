"""REST API latency over 1,000,000 stored opportunities in PostgreSQL (issue 4).

Usage::

    .venv/bin/python benchmarks/api_latency.py [--rows 1000000] [--reload] [--requests 3000]
        [--clients 32] [--workers 1] [--testbed out/demo]

Three steps, each timed:

1. **Load.** A dedicated database (``--db``, default ``mevgraph_bench``) is opened with
   :func:`~mevgraph.store.open_store` (migrations) and filled with ``--rows`` opportunities unless
   it already holds exactly that many (``--reload`` forces it). Rows are *derived from real
   findings*: the shared mainnet blocks (``../shared/data/mainnet/blocks``) are inspected and
   their findings turned into rows by the store's own :func:`~mevgraph.store.rows.opportunity_row`;
   a testbed run (``--testbed``, default ``out/demo`` when present) adds the kinds those blocks
   lack (frontrun, JIT). Each template is then replicated with fresh tx hashes, block hashes and
   ids (the store's uuid5 scheme), USD figures scaled by a log-normal factor (unpriced templates
   stay unpriced), over one year of blocks (2024; chain 1 at 12 s per block, Optimism at 2 s,
   Arbitrum at 0.25 s; about four opportunities per block that has any), about 5,000 bot
   addresses with Zipf(1.1) activity inside each chain and specialty, kind shares
   :data:`KIND_SHARES` and chain shares :data:`CHAIN_SHARES`. The ``blocks`` table gets one row per
   block used (its per-protocol tx counts feed leakage). Loading is ``COPY`` with the
   secondary indexes of ``mev_opportunities`` dropped and then re-created from the migration's own
   statements; bots, leakage and both daily summaries are rebuilt by the store
   (:meth:`~mevgraph.store.SqlStore.rebuild_derived`); then ``VACUUM ANALYZE`` (index-only scans need the visibility map).
2. **Server.** ``mevgraph serve`` runs as a separate process (Redis cache and rate limiter on
   ``--redis``, limit raised out of the way; ``--workers N`` is passed on) with a key made by
   ``mevgraph apikey create``. ``--base-url URL --api-key KEY`` measures a server started
   otherwise instead.
3. **Load generator.** ``--clients`` asyncio tasks (uvloop), one keep-alive HTTP/1.1 connection
   each (a minimal client: :class:`_Conn`), send ``--requests`` requests per scenario after
   ``--warmup`` untimed ones:

   * (a) ``default``: no filters (newest first);
   * (b) ``bot``: ``botAddress`` drawn from the stored bots weighted by their opportunity count;
   * (c) ``type_window``: one ``opportunityTypes`` and a random 1-7 day ``startTime``/``endTime``.

   Each runs twice. ``cached``: queries as clients would send them (``default`` repeats one URL;
   windows start at UTC midnight), so repeated queries are answered from the Redis cache; the
   hit rate is measured from the ``X-Cache`` header. ``cold``: every request is a different query,
   so every one reaches PostgreSQL -- for (a) and (b) a ``startTime`` years before the data with
   a unique microsecond (same rows, same totals), for (c) windows at random seconds.

Client, server, Redis and PostgreSQL share this machine's cores: the load generator's CPU is part
of what is measured. The table gives p50/p95/p99 latency (ms), throughput (requests/s) and cache
hit rate per scenario; the last line is JSON with the same figures and the load timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg

from mevgraph.api.cache import invalidate_cache
from mevgraph.core.chains import apply_file as apply_chain_profile
from mevgraph.core.chains import find_profile
from mevgraph.decode.decoder import decode_block
from mevgraph.ingest.files import expand_paths, read_block_file
from mevgraph.ingest.fixture import block_from_fixture
from mevgraph.pipeline import inspect_blocks
from mevgraph.store import open_store
from mevgraph.store.migrations import MIGRATIONS, statements
from mevgraph.store.rows import KIND_FAMILY, NAMESPACE, OPPORTUNITY_COLUMNS, block_record, opportunity_row

ROOT = Path(__file__).resolve().parents[1]
MAINNET = ROOT.parent / "shared" / "data" / "mainnet" / "blocks"

KIND_SHARES = {
    "arbitrage": 0.50,
    "sandwich": 0.24,
    "backrun": 0.10,
    "liquidation": 0.06,
    "frontrun": 0.05,
    "jit": 0.05,
}
"""Share of each kind among the generated rows (arbitrage-dominated, as public dashboards show)."""

CHAIN_SHARES = {"1": 0.85, "10": 0.08, "42161": 0.07}
# chain -> (bots, first block of 2024, seconds per block)
CHAINS = {"1": (4000, 18_908_895, 12.0), "10": (500, 114_000_000, 2.0), "42161": (500, 166_000_000, 0.25)}
YEAR_START = datetime(2024, 1, 1)
YEAR_S = 366 * 86400
# bot specialties and their share of a chain's bots; generalists take any kind
BOT_FAMILIES = {
    "arbitrage": 0.45,
    "sandwich": 0.20,
    "liquidation": 0.12,
    "frontrun": 0.05,
    "jit": 0.05,
    "generalist": 0.13,
}
GENERALIST_SHARE = 0.15  # of each kind's rows done by generalist bots
ZIPF_S = 1.1
MEAN_PER_BLOCK = 4.0

SCENARIOS = ("default", "bot", "type_window")


# -- templates ---------------------------------------------------------------------------------


def _templates(
    testbed: Path | None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """Rows of real findings grouped by kind, and the ``blocks`` rows they came from, by kind."""
    mainnet = {}
    for f in sorted(MAINNET.glob("*.json.gz")):
        with gzip.open(f) as fh:
            b = block_from_fixture(json.load(fh), source=f.name)
        mainnet[b.number] = b  # one file repeats a block
    groups: list[list[Any]] = [sorted(mainnet.values(), key=lambda b: b.number)]
    if testbed is not None:
        profile = find_profile(testbed)
        if profile is not None:
            apply_chain_profile(profile)
        groups.append(
            sorted((read_block_file(p) for p in expand_paths([testbed / "blocks"])), key=lambda b: b.number)
        )
    by_kind: dict[str, list[dict[str, Any]]] = {}
    protocol_txs: dict[str, list[dict[str, Any]]] = {}
    for blocks in groups:
        records = {b.number: block_record(b, decode_block(b)) for b in blocks}
        for f in inspect_blocks(blocks):
            rec = records[f.block_number]
            row = opportunity_row(f, rec, rec.timestamp or 0)
            by_kind.setdefault(row["opportunity_type"], []).append(row)
            protocol_txs.setdefault(row["opportunity_type"], []).append(dict(rec.protocol_txs))
    missing = set(KIND_SHARES) - set(by_kind)
    if missing:
        raise SystemExit(f"no template findings of kind {sorted(missing)}: pass --testbed DIR (a sim run)")
    return by_kind, protocol_txs


# -- synthetic rows ----------------------------------------------------------------------------


def _hex(n: int, rng: random.Random) -> str:
    return "0x" + rng.randbytes(n).hex()


def _zipf(n: int) -> list[float]:
    """Cumulative Zipf(``ZIPF_S``) weights of ranks 1..n (for ``random.choices``)."""
    out, acc = [], 0.0
    for r in range(1, n + 1):
        acc += 1.0 / r**ZIPF_S
        out.append(acc)
    return out


@dataclass(slots=True)
class _Bot:
    address: str
    eoa: str


def _bots(rng: random.Random) -> dict[tuple[str, str], tuple[list[_Bot], list[float]]]:
    """(chain, specialty) -> bots and their cumulative Zipf weights."""
    pools: dict[tuple[str, str], tuple[list[_Bot], list[float]]] = {}
    for chain, (n, _, _) in CHAINS.items():
        for family, share in BOT_FAMILIES.items():
            k = max(1, round(n * share))
            bots = [_Bot(_hex(20, rng), _hex(20, rng)) for _ in range(k)]
            pools[chain, family] = (bots, _zipf(k))
    return pools


def _scale(value: Decimal | None, factor: float, cap: Decimal) -> Decimal | None:
    if value is None:
        return None
    out = (value * Decimal(repr(factor))).quantize(Decimal("0.01"))
    return max(min(out, cap), -cap)


_COLUMNS = (*OPPORTUNITY_COLUMNS, "created_at")
_BLOCK_COLUMNS = (
    "chain_id",
    "number",
    "hash",
    "parent_hash",
    "timestamp",
    "tx_count",
    "protocol_txs",
    "ingested_at",
)


def _block_hash(chain: str, number: int) -> str:
    return "0x" + hashlib.sha256(f"bench:{chain}:{number}".encode()).hexdigest()


def _generate(
    n_rows: int,
    templates: dict[str, list[dict[str, Any]]],
    protocol_txs: dict[str, list[dict[str, Any]]],
    seed: int,
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """``("o", opportunity row)`` and ``("b", block row)`` tuples in column order."""
    rng = random.Random(seed)
    pools = _bots(rng)
    kinds, kind_w = list(KIND_SHARES), list(KIND_SHARES.values())
    json_of = {
        id(t): (json.dumps(t["profit_by_token"]), json.dumps(t["details"]))
        for ts in templates.values()
        for t in ts
    }
    now = datetime.now(UTC).replace(tzinfo=None)
    money_cap, gas_cap = Decimal(10) ** 12, Decimal(10) ** 7
    for chain, share in CHAIN_SHARES.items():
        target = round(n_rows * share)
        _, first_block, block_s = CHAINS[chain]
        span = int(YEAR_S / block_s)
        counts: list[int] = []
        left = target
        while left > 0:  # 1 + geometric: most blocks hold a few, some a dozen
            n = min(left, 1 + int(rng.expovariate(1 / MEAN_PER_BLOCK)))
            counts.append(n)
            left -= n
        offsets = sorted(rng.sample(range(span), len(counts)))
        for off, count in zip(offsets, counts, strict=True):
            number = first_block + off
            ts = YEAR_START + timedelta(seconds=off * block_s)
            bhash = _block_hash(chain, number)
            touched: dict[str, int] = {}
            for kind in rng.choices(kinds, kind_w, k=count):
                t = rng.choice(templates[kind])
                family = "generalist" if rng.random() < GENERALIST_SHARE else KIND_FAMILY[kind]
                if family not in BOT_FAMILIES:
                    family = "arbitrage"
                bots, cum = pools[chain, family]
                bot = rng.choices(bots, cum_weights=cum)[0]
                mev = [_hex(32, rng) for _ in range(max(1, t["attacker_tx_count"]))]
                victims = [_hex(32, rng) for _ in t["victim_txs"]]
                target_tx = victims[0] if victims else (_hex(32, rng) if t["target_tx_hash"] else None)
                f = rng.lognormvariate(0.0, 1.2)
                gross = _scale(t["mev_profit_usd"], f, money_cap)
                gas = _scale(t["gas_cost_usd"], rng.lognormvariate(0.0, 0.5), gas_cap)
                net = None if gross is None or gas is None or t["net_profit_usd"] is None else gross - gas
                finding_id = f"{chain}:{kind}:{mev[0]}"
                counted = bool(t["counted"])
                pbt, details = json_of[id(t)]
                for p in t["protocols"]:
                    touched[p] = touched.get(p, 0) + 1
                values = {
                    **t,
                    "id": uuid.uuid5(NAMESPACE, f"{chain}:{bhash}:{finding_id}"),
                    "chain_id": chain,
                    "block_number": number,
                    "timestamp": ts,
                    "target_tx_hash": target_tx,
                    "mev_tx_hashes": mev,
                    "mev_profit_usd": gross,
                    "gross_profit_usd": gross,
                    "victim_loss_usd": _scale(t["victim_loss_usd"], f, money_cap),
                    "gas_cost_usd": gas,
                    "net_profit_usd": net,
                    "bot_address": bot.address,
                    "searcher": bot.eoa,
                    "contract": bot.address if t["contract"] else None,
                    "block_hash": bhash,
                    "finding_id": finding_id,
                    "victim_txs": victims,
                    "nested_in": None if counted else f"{chain}:sandwich:{_hex(32, rng)}",
                    "profit_by_token": pbt,
                    "details": details,
                    "created_at": now,
                }
                if values["contract"] is None:
                    values["bot_address"] = bot.eoa
                    values["searcher"] = bot.eoa
                yield "o", tuple(values[c] for c in _COLUMNS)
            base = rng.choice(protocol_txs[kinds[0]])
            ptx = {p: n + rng.randint(3, 60) for p, n in touched.items()}
            for p, n in base.items():
                ptx.setdefault(p, n)
            yield (
                "b",
                (
                    chain,
                    number,
                    bhash,
                    _block_hash(chain, number - 1),
                    ts,
                    rng.randint(80, 320),
                    json.dumps(ptx),
                    now,
                ),
            )


# -- load --------------------------------------------------------------------------------------


def _opportunity_indexes() -> list[tuple[str, str]]:
    """(name, CREATE statement) of every secondary index on ``mev_opportunities``."""
    out = []
    for m in MIGRATIONS:
        for stmt in statements(m, "postgres"):
            words = stmt.split()
            if words[:2] == ["CREATE", "INDEX"] and "ON mev_opportunities(" in " ".join(words):
                out.append((words[2], stmt))
    return out


def _ensure_database(admin_url: str, db: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
            conn.execute(f'CREATE DATABASE "{db}"')
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{db}"


def _load(url: str, n_rows: int, testbed: Path | None, seed: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    templates, protocol_txs = _templates(testbed)
    timings["templates_s"] = time.perf_counter() - t0
    print(
        "templates: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(templates.items())),
        file=sys.stderr,
    )
    indexes = _opportunity_indexes()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(
            "TRUNCATE mev_opportunities, blocks, mev_bots, protocol_mev_leakage, "
            "mev_opportunity_daily, mev_bot_daily"
        )
        for name, _ in indexes:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            o_sql = f"COPY mev_opportunities ({', '.join(_quote(c) for c in _COLUMNS)}) FROM STDIN"
            b_sql = f"COPY blocks ({', '.join(_quote(c) for c in _BLOCK_COLUMNS)}) FROM STDIN"
            blocks: list[tuple[Any, ...]] = []
            with cur.copy(o_sql) as copy:
                for kind, row in _generate(n_rows, templates, protocol_txs, seed):
                    if kind == "o":
                        copy.write_row(row)
                    else:
                        blocks.append(row)
            with cur.copy(b_sql) as copy:
                for row in blocks:
                    copy.write_row(row)
        timings["copy_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '256MB'")
        for _, stmt in indexes:
            conn.execute(stmt)  # type: ignore[arg-type]
        timings["indexes_s"] = time.perf_counter() - t0
        conn.execute("ANALYZE mev_opportunities")
        conn.execute("ANALYZE blocks")
    t0 = time.perf_counter()
    store = open_store(url)
    try:
        store.rebuild_derived()
    finally:
        store.close()
    timings["derived_s"] = time.perf_counter() - t0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # the visibility map: index-only scans for totals
    return timings


def _quote(column: str) -> str:
    return f'"{column}"' if column in ("timestamp", "date") else column


# -- server ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(url: str, redis_url: str, workers: int) -> tuple[subprocess.Popen[bytes], str, str]:
    exe = str(Path(sys.executable).with_name("mevgraph"))
    key = (
        subprocess.run(
            [exe, "apikey", "create", "--store", url, "--name", "api-latency-bench"],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = _free_port()
    cmd = [
        exe,
        "serve",
        "--store",
        url,
        "--port",
        str(port),
        "--redis",
        redis_url,
        "--rate-limit",
        "100000000",
    ]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    print("server: " + " ".join(cmd), file=sys.stderr)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(base + "/v1/health", timeout=1).status_code == 200:
                return proc, base, key
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("server did not become healthy within 60 s")


# -- load generator ----------------------------------------------------------------------------


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="microseconds") + "Z"


class _Queries:
    """URL paths per scenario; ``cold`` makes every one distinct."""

    def __init__(self, bots: list[str], bot_weights: list[int], t0: datetime, t1: datetime, seed: int):
        self.rng = random.Random(seed)
        self.bots = bots
        self.cum: list[float] = []
        acc = 0.0
        for w in bot_weights:
            acc += w
            self.cum.append(acc)
        self.t0, self.t1 = t0, t1
        self.unique = 0

    def _past(self) -> str:
        self.unique += 1
        return "startTime=" + _iso(datetime(2000, 1, 1) + timedelta(microseconds=self.unique))

    def path(self, scenario: str, cold: bool) -> str:
        rng = self.rng
        q = ""
        if scenario == "default":
            q = self._past() if cold else ""
        elif scenario == "bot":
            bot = rng.choices(self.bots, cum_weights=self.cum)[0]
            q = f"botAddress={bot}" + ("&" + self._past() if cold else "")
        else:
            days = rng.randint(1, 7)
            span = (self.t1 - self.t0).total_seconds() - days * 86400
            start = self.t0 + timedelta(seconds=rng.uniform(0, span))
            if cold:
                self.unique += 1
                start = start.replace(microsecond=self.unique % 1_000_000)
            else:
                start = start.replace(hour=0, minute=0, second=0, microsecond=0)
            end = start + timedelta(days=days)
            kind = rng.choice(list(KIND_SHARES))
            q = f"opportunityTypes={kind}&startTime={_iso(start)}&endTime={_iso(end)}"
        return "/v1/mev/opportunities" + ("?" + q if q else "")


@dataclass(slots=True)
class _Result:
    latencies_ms: list[float]
    seconds: float
    hits: int
    errors: int


class _Conn:
    """One keep-alive HTTP/1.1 connection doing GETs, one at a time.

    Deliberately minimal (asyncio streams, ``Content-Length`` bodies, which is what uvicorn sends
    for these responses): the load generator shares the cores with the server, and a general
    client (httpx spends ~1 ms of CPU per request) would measure mostly itself."""

    def __init__(self, host: str, port: int, key: str):
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nX-API-Key: {key}\r\nAccept: application/json\r\n\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bool]:
        """(status, served from cache) of ``GET path``; the body is read and dropped."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self.head)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, hit, close = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"x-cache":
                hit = value.strip() == b"hit"
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, hit

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _run(base: str, key: str, paths: list[str], clients: int) -> _Result:
    latencies: list[float] = []
    hits = errors = 0
    it = iter(paths)
    target = httpx.URL(base)

    async def client() -> None:
        nonlocal hits, errors
        conn = _Conn(target.host, target.port or 80, key)
        try:
            for path in it:
                t = time.perf_counter()
                status, hit = await conn.get(path)
                latencies.append((time.perf_counter() - t) * 1000)
                if status != 200:
                    errors += 1
                elif hit:
                    hits += 1
        finally:
            await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return _Result(latencies, time.perf_counter() - t0, hits, errors)


def _arun(coro: Any) -> Any:
    """Run ``coro`` on uvloop when installed (it is, with uvicorn[standard]): less client CPU."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin URL")
    ap.add_argument("--db", default="mevgraph_bench")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reload", action="store_true", help="reload even if the row count matches")
    ap.add_argument("--testbed", type=Path, default=ROOT / "out" / "demo", help="a sim run's directory")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=3000, help="timed requests per scenario and mode")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--modes", default="cached,cold")
    ap.add_argument("--load-only", action="store_true", help="stop after loading the database")
    ap.add_argument("--base-url", help="measure a server already running there (with --api-key)")
    ap.add_argument("--api-key")
    args = ap.parse_args()

    url = _ensure_database(args.pg, args.db)
    store = open_store(url)
    store.close()
    with psycopg.connect(url) as conn:
        have = conn.execute("SELECT count(*) FROM mev_opportunities").fetchone()
        summarized = conn.execute("SELECT count(*) FROM mev_bot_daily").fetchone()
    load: dict[str, float] = {}
    if args.reload or not have or have[0] != args.rows or not summarized or not summarized[0]:
        testbed = args.testbed if args.testbed.is_dir() else None
        t0 = time.perf_counter()
        load = _load(url, args.rows, testbed, args.seed)
        load["total_s"] = time.perf_counter() - t0
        print("load: " + ", ".join(f"{k} {v:.1f}" for k, v in load.items()), file=sys.stderr)
    else:
        print(f"{url}: already holds {args.rows} opportunities (use --reload to rebuild)", file=sys.stderr)
    if args.load_only:
        print(json.dumps({"rows": args.rows, "load": {k: round(v, 1) for k, v in load.items()}}))
        return

    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        bots = conn.execute(
            "SELECT bot_address, sum(total_opportunities) FROM mev_bots GROUP BY bot_address"
        ).fetchall()
        span = conn.execute('SELECT min("timestamp"), max("timestamp") FROM mev_opportunities').fetchone()
    assert span is not None and span[0] is not None
    queries = _Queries([b for b, _ in bots], [int(n) for _, n in bots], span[0], span[1], args.seed)

    invalidate_cache(args.redis)  # entries of an earlier run must not count as hits
    proc: subprocess.Popen[bytes] | None = None
    if args.base_url:
        base, key = args.base_url.rstrip("/"), args.api_key or ""
    else:
        proc, base, key = _start_server(url, args.redis, args.workers)
    load_avg = [os.getloadavg()[0]]
    results: dict[str, dict[str, float]] = {}
    try:
        for mode in args.modes.split(","):
            for scenario in args.scenarios.split(","):
                cold = mode == "cold"
                warm = [queries.path(scenario, cold) for _ in range(args.warmup)]
                _arun(_run(base, key, warm, args.clients))
                paths = [queries.path(scenario, cold) for _ in range(args.requests)]
                r = _arun(_run(base, key, paths, args.clients))
                lat = r.latencies_ms
                results[f"{scenario}/{mode}"] = {
                    "p50_ms": round(_pct(lat, 50), 1),
                    "p95_ms": round(_pct(lat, 95), 1),
                    "p99_ms": round(_pct(lat, 99), 1),
                    "mean_ms": round(statistics.fmean(lat), 1),
                    "rps": round(len(lat) / r.seconds, 1),
                    "hit_rate": round(r.hits / len(lat), 3),
                    "errors": r.errors,
                }
    finally:
        load_avg.append(os.getloadavg()[0])
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)

    out = io.StringIO()
    out.write(f"{args.rows:,} opportunities, {args.clients} clients, {args.requests} requests per row, ")
    out.write(f"{os.cpu_count()} cores shared by client, server, Redis and PostgreSQL ")
    out.write(f"(1-min load average {load_avg[0]:.1f} before, {load_avg[-1]:.1f} after)\n")
    out.write(
        f"{'scenario/mode':<24}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>9}{'hits':>7}{'errors':>8}\n"
    )
    for name, fig in results.items():
        out.write(
            f"{name:<24}{fig['p50_ms']:>9.1f}{fig['p95_ms']:>9.1f}{fig['p99_ms']:>9.1f}{fig['rps']:>9.1f}"
            f"{fig['hit_rate']:>7.0%}{fig['errors']:>8}\n"
        )
    print(out.getvalue(), end="")
    summary = {
        "rows": args.rows,
        "clients": args.clients,
        "requests": args.requests,
        "workers": args.workers,
        "cores": os.cpu_count(),
        "load_avg_1m": load_avg,  # before and after: other work on the machine skews the figures
        "load": {k: round(v, 1) for k, v in load.items()},
        "results": results,
        "p95_under_50ms": {k: v["p95_ms"] < 50 for k, v in results.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
