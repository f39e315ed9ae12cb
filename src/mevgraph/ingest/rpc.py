"""Read blocks from a live Ethereum JSON-RPC node over HTTP.

Per block, ONE batched HTTP request ``[eth_getBlockByNumber(n, true), eth_getBlockReceipts(n),
trace_block(n)]``; ``eth_chainId`` once per client. Raw batched JSON-RPC is used on purpose:
building the same three results through web3 costs more in Python-side formatting than the
request itself (see ``docs/TESTBED.md``: 203 ms batched vs 722 ms for a 333-tx block).

Degraded nodes (user complaint #7, "trace_block not available on many providers"):

- ``trace_block`` answered with "method not found / not supported / does not exist" (codes
  -32601, -32600, -32004, or such a message): ONE warning ``node has no trace API: continuing
  logs-only``; traces are no longer requested and blocks come with ``traces is None``.
- ``eth_getBlockReceipts`` unsupported: receipts come from batched ``eth_getTransactionReceipt``
  calls (``max_batch`` per request) for the block's transactions.

Deferred receipts (``defer_receipts=True``, the live follower's default): a block's receipts are
the slowest of the three answers on some nodes (anvil: ~0.5 ms per receipt, 165 ms for a 340-tx
block, against ~30 ms for the block, its traces and its logs together). With a trace API, the
receipts' other contents are known without them -- status from each tx's top frame, logs from
``eth_getLogs`` of the block, the effective gas price from the tx and the base fee -- all but
``gasUsed``. So the request is ``[eth_getBlockByNumber(n, true), trace_block(n), eth_getLogs(n)]``
and the block's receipts carry their logs without ``gasUsed``; detectors ask for the ``gasUsed``
of the few txs they price (:meth:`RpcClient.gas_used`, via ``PropertyGraph.ensure_gas``). Without
traces (status unknown for txs that logged nothing), or when the logs or traces do not belong to
the block fetched (a reorg between the calls), the block is fetched the usual way.

Errors: connection errors, timeouts, HTTP 429/5xx and transient JSON-RPC errors (rate limits,
"header not found" while a node catches up, internal errors) are retried with exponential
backoff and full jitter, ``max_retries`` times. A block that still fails is yielded as a
:class:`FailedBlock` with the reason, and the range goes on. A node that cannot be reached at all
(connection refused after every retry) raises :class:`NodeUnavailable`: that is not one bad
block, and retrying every block of a long range against a dead node would only look like a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import random
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any, NamedTuple

import httpx
import orjson

from mevgraph.core.types import Block
from mevgraph.ingest.bundle import block_from_bundle, make_bundle
from mevgraph.ingest.fixture import FormatError
from mevgraph.ingest.rpc_model import quantity

__all__ = ["RpcError", "NodeUnavailable", "FailedBlock", "RpcClient", "fetch_range"]

log = logging.getLogger(__name__)

_UNSUPPORTED_CODES = frozenset({-32601, -32600, -32004})
_UNSUPPORTED_WORDS = ("does not exist", "not supported", "unsupported", "not available", "method not found")
_TRANSIENT_CODES = frozenset({-32005, -32603, 429})
_TRANSIENT_WORDS = (
    "timeout",
    "timed out",
    "rate limit",
    "too many",
    "busy",
    "try again",
    "temporar",
    "header not found",
    "unavailable",
    "capacity",
    "overload",
)


class RpcError(Exception):
    """A JSON-RPC error object, or an HTTP-level failure that exhausted its retries."""

    def __init__(self, message: str, *, code: int | None = None, method: str | None = None) -> None:
        super().__init__(f"{method}: {message}" if method else message)
        self.code = code
        self.rpc_message = message
        self.method = method

    @property
    def unsupported(self) -> bool:
        """The node does not offer this method at all."""
        if self.code in _UNSUPPORTED_CODES:
            return True
        m = self.rpc_message.lower()
        return any(w in m for w in _UNSUPPORTED_WORDS) or ("method" in m and "not found" in m)

    @property
    def transient(self) -> bool:
        """Worth retrying: rate limits, overload, a node still catching up."""
        if self.unsupported:
            return False
        if self.code in _TRANSIENT_CODES:
            return True
        m = self.rpc_message.lower()
        return any(w in m for w in _TRANSIENT_WORDS)


class NodeUnavailable(RpcError):
    """The node could not be reached at all (after every retry)."""


class _RetryableHTTP(Exception):
    """One failed HTTP attempt worth retrying (connection error, timeout, 429, 5xx)."""

    def __init__(self, message: str, *, connect: bool) -> None:
        super().__init__(message)
        self.connect = connect


class FailedBlock(NamedTuple):
    """A block of the range that could not be fetched; ``reason`` says why."""

    number: int
    reason: str


def _rpc_error(obj: Any, method: str | None) -> RpcError:
    if isinstance(obj, dict):
        code = obj.get("code")
        return RpcError(
            str(obj.get("message", obj)), code=code if isinstance(code, int) else None, method=method
        )
    return RpcError(str(obj), method=method)


class RpcClient:
    """Async JSON-RPC client for block ingestion.

    Args:
        url: HTTP(S) endpoint of the node.
        concurrency: blocks in flight at once in :meth:`fetch_blocks`.
        timeout: seconds per HTTP request (connect, read, write, pool).
        max_retries: retries after the first attempt, for retryable failures.
        backoff: base delay in seconds; attempt ``k`` waits ``uniform(0, backoff * 2**k)``,
            capped at ``max_backoff``.
        max_batch: most calls per HTTP request for receipt fallbacks.
        chain_id: known chain id (skips ``eth_chainId``).
        defer_receipts: fetch blocks with logs instead of receipts when the node has traces;
            ``gasUsed`` then comes from :meth:`gas_used` (module doc).

    Use as ``async with RpcClient(url) as c: async for b in c.fetch_blocks(a, z): ...``.
    """

    def __init__(
        self,
        url: str,
        *,
        concurrency: int = 4,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        max_batch: int = 100,
        chain_id: int | None = None,
        defer_receipts: bool = False,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.url = url
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_batch = max_batch
        self.has_traces = True
        self.has_block_receipts = True
        self.defer_receipts = defer_receipts
        self._chain_id = chain_id
        self._ids = 0
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=concurrency + 1, max_keepalive_connections=concurrency + 1),
            headers={"content-type": "application/json"},
        )

    async def __aenter__(self) -> RpcClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport -----------------------------------------------------------------------------

    async def _post_once(self, payload: Any) -> Any:
        try:
            resp = await self._http.post(self.url, content=orjson.dumps(payload))
        except httpx.ConnectError as exc:
            raise _RetryableHTTP(f"cannot connect: {exc}", connect=True) from None
        except httpx.TimeoutException as exc:
            raise _RetryableHTTP(f"timed out ({type(exc).__name__})", connect=False) from None
        except httpx.TransportError as exc:
            raise _RetryableHTTP(f"transport error: {type(exc).__name__}: {exc}", connect=False) from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise _RetryableHTTP(f"HTTP {resp.status_code}", connect=False)
        try:
            body = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            if resp.status_code >= 400:
                raise RpcError(f"HTTP {resp.status_code}: {resp.text[:200]}") from None
            raise _RetryableHTTP(
                f"HTTP {resp.status_code} with a body that is not JSON", connect=False
            ) from None
        return body

    async def _sleep_backoff(self, attempt: int) -> None:
        await asyncio.sleep(random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt)))

    async def _post(self, payload: Any) -> Any:
        """POST with retries on retryable HTTP failures."""
        last = _RetryableHTTP("no attempt made", connect=False)
        for attempt in range(self.max_retries + 1):
            try:
                return await self._post_once(payload)
            except _RetryableHTTP as exc:
                last = exc
                if attempt < self.max_retries:
                    await self._sleep_backoff(attempt)
        msg = f"{self.url}: {last} (after {self.max_retries + 1} attempts)"
        raise NodeUnavailable(msg) if last.connect else RpcError(msg)

    def _payload(self, calls: list[tuple[str, list[Any]]]) -> tuple[list[dict[str, Any]], list[int]]:
        ids = []
        out = []
        for method, params in calls:
            self._ids += 1
            ids.append(self._ids)
            out.append({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params})
        return out, ids

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """One HTTP request for ``calls``; each entry is the result or an :class:`RpcError`."""
        payload, ids = self._payload(calls)
        body = await self._post(payload)
        if isinstance(body, dict):  # the node rejected the batch as a whole
            err = _rpc_error(body.get("error", body), None)
            if len(calls) == 1:
                return [body["result"] if "error" not in body and "result" in body else err]
            return [err] * len(calls)
        if not isinstance(body, list):
            raise RpcError(f"{self.url}: batch answer is a {type(body).__name__}, not a list")
        by_id = {r.get("id"): r for r in body if isinstance(r, dict)}
        out: list[Any] = []
        for (method, _), i in zip(calls, ids, strict=True):
            r = by_id.get(i)
            if r is None:
                out.append(RpcError("no answer in the batch response", method=method))
            elif r.get("error") is not None:
                out.append(_rpc_error(r["error"], method))
            else:
                out.append(r.get("result"))
        return out

    async def batch_retrying(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """:meth:`batch`, sent again with backoff while any answer is a transient JSON-RPC error
        (at most ``max_retries`` more times); the last answers are returned as they are."""
        for attempt in range(self.max_retries + 1):
            res = await self.batch(calls)
            if attempt == self.max_retries or not any(isinstance(r, RpcError) and r.transient for r in res):
                return res
            await self._sleep_backoff(attempt)
        raise AssertionError("unreachable")

    async def call(self, method: str, params: list[Any]) -> Any:
        """One call, retried while its JSON-RPC error is transient."""
        (res,) = await self.batch_retrying([(method, params)])
        if isinstance(res, RpcError):
            raise res
        return res

    async def chain_id(self) -> int:
        """``eth_chainId``, asked once."""
        if self._chain_id is None:
            cid = quantity(await self.call("eth_chainId", []))
            if cid is None:
                raise RpcError("eth_chainId returned null", method="eth_chainId")
            self._chain_id = cid
        return self._chain_id

    # -- blocks --------------------------------------------------------------------------------

    def _no_traces(self, err: RpcError) -> None:
        if self.has_traces:  # checked and set without an await in between: warns once
            self.has_traces = False
            log.warning("node has no trace API: continuing logs-only (%s)", err)

    async def _receipts_by_tx(self, txs: list[Any]) -> tuple[list[Any], list[str]]:
        hashes = [h for h in (t.get("hash") if isinstance(t, dict) else t for t in txs) if isinstance(h, str)]
        receipts: list[Any] = []
        notes: list[str] = []
        for start in range(0, len(hashes), self.max_batch):
            chunk = hashes[start : start + self.max_batch]
            res = await self.batch_retrying([("eth_getTransactionReceipt", [h]) for h in chunk])
            for h, r in zip(chunk, res, strict=True):
                if isinstance(r, RpcError) or r is None:
                    notes.append(f"no receipt for {h}: {r if r is not None else 'null'}")
                else:
                    receipts.append(r)
        return receipts, notes

    async def gas_used(self, hashes: list[str]) -> dict[str, int | None]:
        """``gasUsed`` of each tx in ``hashes`` from its receipt (None: the node has no receipt)."""
        receipts, notes = await self._receipts_by_tx(hashes)
        for n in notes:
            log.info("gasUsed unknown: %s", n)
        out: dict[str, int | None] = dict.fromkeys(hashes)
        for r in receipts:
            if isinstance(r, dict) and isinstance(r.get("transactionHash"), str):
                out[r["transactionHash"].lower()] = quantity(r.get("gasUsed"))
        return out

    async def _deferred_bundle(self, number: int, chain_id: int) -> tuple[dict[str, Any], list[str]] | None:
        """Block ``number`` with traces and with receipts built from its logs (no ``gasUsed``);
        None when that is not possible for this block (module doc: deferred receipts)."""
        q = hex(number)
        calls: list[tuple[str, list[Any]]] = [
            ("eth_getBlockByNumber", [q, True]),
            ("trace_block", [q]),
            ("eth_getLogs", [{"fromBlock": q, "toBlock": q}]),
        ]
        blk, tr, logs = await self.batch_retrying(calls)
        if isinstance(tr, RpcError) and tr.unsupported:
            self._no_traces(tr)
            return None
        if not isinstance(blk, dict) or not isinstance(tr, list) or not isinstance(logs, list):
            return None  # the usual path reports what went wrong
        txs = blk.get("transactions")
        if not isinstance(txs, list) or any(not isinstance(t, dict) for t in txs):
            return None
        block_hash = blk.get("hash")
        if any(isinstance(t, dict) and t.get("blockHash", block_hash) != block_hash for t in tr):
            return None  # traces of another block at this height (a reorg between the calls)
        by_tx: dict[str, list[Any]] = {}
        for lg in logs:
            if not isinstance(lg, dict) or lg.get("blockHash") != block_hash:
                return None  # not this block's logs (a reorg between the calls)
            by_tx.setdefault(str(lg.get("transactionHash")).lower(), []).append(lg)
        receipts = [
            {
                "transactionHash": t.get("hash"),
                "transactionIndex": t.get("transactionIndex"),
                "logs": by_tx.get(str(t.get("hash")).lower(), []),
            }
            for t in txs
        ]
        notes = ["receipts deferred: logs from eth_getLogs, status from traces, gasUsed on demand"]
        return make_bundle(blk, receipts, tr, chain_id=chain_id), notes

    async def fetch_bundle(self, number: int) -> tuple[dict[str, Any], list[str]]:
        """Raw results for block ``number`` as a bundle (see :mod:`mevgraph.ingest.bundle`),
        plus notes on what is missing and why.

        Raises:
            RpcError: the block itself could not be fetched (permanent error or retries spent).
        """
        chain_id = await self.chain_id()
        if self.defer_receipts and self.has_traces:
            deferred = await self._deferred_bundle(number, chain_id)
            if deferred is not None:
                return deferred
        q = hex(number)
        calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", [q, True])]
        want_rc, want_tr = self.has_block_receipts, self.has_traces
        if want_rc:
            calls.append(("eth_getBlockReceipts", [q]))
        if want_tr:
            calls.append(("trace_block", [q]))
        res = await self.batch_retrying(calls)
        blk = res[0]
        rc = res[1] if want_rc else None
        tr = res[-1] if want_tr else None
        if isinstance(blk, RpcError):
            raise blk
        if blk is None:
            raise RpcError(f"node has no block {number} (null result)", method="eth_getBlockByNumber")
        if not isinstance(blk, dict):
            raise RpcError(
                f"block result is a {type(blk).__name__}, not an object", method="eth_getBlockByNumber"
            )
        notes: list[str] = []
        receipts: list[Any] | None = None
        fallback = not want_rc
        if isinstance(rc, RpcError):
            if rc.unsupported:
                if self.has_block_receipts:  # checked and set without an await: logged once
                    self.has_block_receipts = False
                    log.info("node has no eth_getBlockReceipts: using eth_getTransactionReceipt (%s)", rc)
                fallback = True
            else:
                notes.append(f"receipts unavailable: {rc}")
        elif want_rc:
            receipts = rc
            if rc is None:
                notes.append("receipts unavailable: eth_getBlockReceipts returned null")
        if fallback:
            receipts, rc_notes = await self._receipts_by_tx(blk.get("transactions") or [])
            notes.extend(rc_notes)
        traces: list[Any] | None = None
        if isinstance(tr, RpcError):
            if tr.unsupported:
                self._no_traces(tr)
                notes.append("node has no trace API: logs-only")
            else:
                notes.append(f"traces unavailable: {tr}")
        elif want_tr:
            traces = tr
        else:
            notes.append("node has no trace API: logs-only")
        return make_bundle(blk, receipts, traces, chain_id=chain_id), notes

    async def fetch_block(self, number: int) -> Block:
        """Block ``number`` with its receipts and traces (whatever the node offers)."""
        bundle, notes = await self.fetch_bundle(number)
        blk = block_from_bundle(bundle, chain_id=self._chain_id or 1, source=f"rpc:{number}")
        if notes:
            blk = _with_notes(blk, notes)
        return blk

    async def _fetch_or_fail(self, number: int) -> Block | FailedBlock:
        try:
            return await self.fetch_block(number)
        except NodeUnavailable:
            raise
        except (RpcError, FormatError) as exc:
            log.info("block %d failed: %s", number, exc)
            return FailedBlock(number, str(exc))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # malformed node answer
            log.info("block %d failed: %s: %s", number, type(exc).__name__, exc)
            return FailedBlock(number, f"malformed node answer: {type(exc).__name__}: {exc}")

    async def fetch_blocks(self, from_: int, to: int) -> AsyncIterator[Block | FailedBlock]:
        """Blocks ``from_..to`` (inclusive) in order, ``concurrency`` of them in flight."""
        await self.chain_id()
        pending: deque[asyncio.Task[Block | FailedBlock]] = deque()
        nxt = from_
        try:
            while nxt <= to or pending:
                while nxt <= to and len(pending) < self.concurrency:
                    pending.append(asyncio.ensure_future(self._fetch_or_fail(nxt)))
                    nxt += 1
                yield await pending.popleft()
        finally:
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


def _with_notes(blk: Block, notes: list[str]) -> Block:
    return replace(blk, notes=(*blk.notes, *notes))


_DONE = object()


def fetch_range(
    url: str,
    from_: int,
    to: int,
    *,
    concurrency: int = 4,
    progress: Callable[[int, int], None] | None = None,
    **client_options: Any,
) -> Iterator[Block | FailedBlock]:
    """Synchronous :meth:`RpcClient.fetch_blocks` for the CLI.

    The event loop runs in a helper thread so that fetching overlaps with the caller's work;
    at most ``2 * concurrency`` fetched blocks wait in the queue. ``progress(done, total)`` is
    called after each block. Closing the iterator early stops the fetch.

    Raises:
        NodeUnavailable: the node cannot be reached.
    """
    total = max(0, to - from_ + 1)
    q: queue.Queue[Any] = queue.Queue(maxsize=2 * concurrency)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    async def produce() -> None:
        async with RpcClient(url, concurrency=concurrency, **client_options) as client:
            async for item in client.fetch_blocks(from_, to):
                if not await asyncio.to_thread(put, item):
                    return

    loop = asyncio.new_event_loop()
    main = loop.create_task(produce())

    def run() -> None:
        try:
            loop.run_until_complete(main)
            put(_DONE)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # handed to the consumer thread, which re-raises it
            put(exc)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    worker = threading.Thread(target=run, name="mevgraph-rpc", daemon=True)
    worker.start()
    done = 0
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            done += 1
            if progress is not None:
                progress(done, total)
            yield item
    finally:
        stop.set()
        if worker.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(main.cancel)
            worker.join(timeout=10)
