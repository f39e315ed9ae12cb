"""Webhooks: alert rules per API key (REST) and the dispatcher that POSTs matching alerts.

**Rules (REST, mounted by** :func:`mount_webhooks` **from** ``create_app``\\ **).** A key with scope
``alerts`` manages its own rules under ``/v1/alerts``: ``POST /rules`` (an ``http(s)`` URL, an
optional name and an :class:`~mevgraph.core.alerts.AlertFilter` -- ``kinds``, ``chains``,
``minProfitUsd``, ``pools``, ``bots``, ``protocols``, ``stages``), which answers the rule with
its signing ``secret`` -- the only time the secret is shown; ``GET /rules``, ``GET|PATCH|DELETE
/rules/{id}`` (PATCH pauses or resumes: ``{"active": false}``); ``GET /dead-letters`` and
``DELETE /dead-letters/{id}``. A key never sees another key's rules or dead letters (someone
else's rule id is a 404). The routes need a key even when the API runs with ``auth=False`` (rules
belong to a key), share the key's rate limit with ``/v1/mev`` and answer errors like the rest of
the API (``{"error", "message"[, "parameter"]}``; 422 for bad input).

**Delivery** (:class:`WebhookDispatcher`) runs in the process that *publishes* alerts (the
follower, or ``serve`` when it embeds one): :meth:`WebhookDispatcher.attach` hooks the bus's
publish side, so each alert is queued once per matching rule however many API processes
subscribe. Each request is ``POST <url>`` with the JSON of :meth:`Alert.to_dict
<mevgraph.core.alerts.Alert.to_dict>` and the headers

* ``X-Mevgraph-Timestamp``: unix seconds when this attempt was signed;
* ``X-Mevgraph-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed with the rule's secret, of
  ``"<timestamp>.<body>"`` (check it with :func:`verify_signature`);
* ``X-Mevgraph-Alert-Id``: the alert's id, stable across retries and restarts -- delivery is
  at-least-once (a receiver slower than the timeout is retried), so receivers de-duplicate on it.

A 2xx answer is delivered. 408, 429, 5xx, timeouts and connection errors are retried after
``backoff_s`` doubling per attempt up to ``max_backoff_s`` (a ``Retry-After`` answer is honoured
up to that cap), ``max_attempts`` attempts in all; any other answer (other 4xx, 3xx: redirects
are not followed, a signed alert is not re-sent elsewhere) fails at once. A failed alert becomes a
dead letter (alert, attempts, last status and error) that the key lists over REST.

**Queues and drop policy.** Every rule has its own worker and a bounded FIFO queue
(``queue_per_rule``); a rule's alerts are delivered one at a time, in order. :meth:`offer
<WebhookDispatcher.offer>` only matches and enqueues -- it never waits, never raises and never
touches the network or the store -- so a slow or dead receiver holds up its own rule only, never
the pipeline or other rules. When a rule's queue is full the *new* alert is not queued: it goes
straight to the dead-letter list with the error ``"queue full"``, so nothing is lost silently.
(The bus's own subscribers drop their *oldest* alert instead: a live feed prefers fresh alerts,
a webhook consumer prefers a complete record.) Pausing or deleting a rule discards its queued
alerts; closing the dispatcher dead-letters what it could not deliver in time. Active rules are
re-read from the store every ``refresh_s`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import hmac
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request, Response, Security
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

from mevgraph import __version__
from mevgraph.api.app import ADDRESS, API_KEY, ApiError, _Api, admit_key, enforce_rate
from mevgraph.api.models import ErrorBody, iso_time
from mevgraph.core.alerts import STAGES, Alert, AlertFilter
from mevgraph.store.base import OPPORTUNITY_TYPES
from mevgraph.store.webhooks import AlertRule, DeadLetter, Undelivered

__all__ = [
    "WebhookDispatcher",
    "DispatcherStats",
    "mount_webhooks",
    "sign",
    "verify_signature",
    "SCOPE",
    "MAX_RULES_PER_KEY",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "ALERT_ID_HEADER",
]

log = logging.getLogger(__name__)

SCOPE = "alerts"
"""The API key scope the ``/v1/alerts`` routes need."""
MAX_RULES_PER_KEY = 100
MAX_URL = 2048
MAX_LIST = 1000  # values per filter list

SIGNATURE_HEADER = "X-Mevgraph-Signature"
TIMESTAMP_HEADER = "X-Mevgraph-Timestamp"
ALERT_ID_HEADER = "X-Mevgraph-Alert-Id"
DEFAULT_TOLERANCE_S = 300.0

_RETRY_STATUS = frozenset({408, 429})
_QUEUE_FULL = "queue full"
_CLOSED = "dispatcher closed before delivery"
_DEAD_QUEUE = 10_000  # dead letters waiting to be written
_DEAD_BATCH = 500
_DEAD_FLUSH_S = 30.0  # how long close() waits for dead letters to be written


# --- signatures ------------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Mevgraph-Signature`` value of ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | None,
    body: bytes | str,
    header: str | None,
    *,
    tolerance_s: float | None = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether a webhook request is genuine: ``header`` (``X-Mevgraph-Signature``) signs ``body``
    (the raw request body) and ``timestamp`` (``X-Mevgraph-Timestamp``) with ``secret``.

    ``tolerance_s`` rejects a timestamp that far from ``now`` (default: the clock), so a captured
    request cannot be replayed later; None skips that check. The comparison is constant-time.

    >>> body = b'{"id":"a1"}'
    >>> verify_signature("s3cret", "1700000000", body, sign("s3cret", "1700000000", body), tolerance_s=None)
    True
    >>> verify_signature("other", "1700000000", body, sign("s3cret", "1700000000", body), tolerance_s=None)
    False
    """
    if not timestamp or not header:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if tolerance_s is not None and abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    raw = body.encode() if isinstance(body, str) else body
    return hmac.compare_digest(sign(secret, timestamp, raw).encode(), header.strip().encode())


# --- dispatcher ------------------------------------------------------------------------------


class _Store(Protocol):
    def alert_rules(self, key_identity: str | None = None, active_only: bool = True) -> list[AlertRule]: ...

    def add_dead_letters(self, failures: list[Undelivered]) -> list[DeadLetter]: ...


class _Hookable(Protocol):
    def add_publish_hook(self, hook: Callable[[Alert], None]) -> None: ...

    def remove_publish_hook(self, hook: Callable[[Alert], None]) -> None: ...


@dataclass(slots=True)
class DispatcherStats:
    """Counters since the dispatcher was made (read them from the event loop's thread)."""

    offered: int = 0  # alerts offered
    queued: int = 0  # (alert, rule) pairs queued
    delivered: int = 0
    retries: int = 0  # attempts after the first
    dead_letters: int = 0  # handed to the store (incl. "queue full")
    queue_full: int = 0
    discarded: int = 0  # queued for a rule that was then paused or deleted
    lost: int = 0  # could not even be dead-lettered (store down, or offered outside run); logged
    refresh_errors: int = 0


class _Lane:
    """One rule's queue and worker."""

    __slots__ = ("attempts", "current", "queue", "rule", "task")

    def __init__(self, rule: AlertRule, maxsize: int):
        self.rule = rule
        self.queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=maxsize)
        self.task: asyncio.Task[None] | None = None
        self.current: Alert | None = None  # the alert being delivered
        self.attempts = 0


class WebhookDispatcher:
    """Delivers alerts to the webhook rules stored in ``store`` (see the module doc).

    Use it on the event loop of the process that publishes alerts::

        dispatcher = WebhookDispatcher(store)
        await dispatcher.start()     # loads the rules
        dispatcher.attach(bus)       # every alert this process publishes is offered
        ...
        await dispatcher.close()     # drains for up to ``drain_s``, dead-letters the rest

    (``async with WebhookDispatcher(store) as d:`` does start and close; ``await d.run()`` starts
    and then waits for :meth:`close`, for running it as a task.)

    Args:
        store: the store holding the rules and dead letters (thread-safe; it is called from
            worker threads, never on the event loop).
        client: the HTTP client to send with (its own one is made, and closed, when None).
        max_attempts: attempts per alert before it becomes a dead letter.
        backoff_s: the wait after the first failed attempt; doubles per attempt...
        max_backoff_s: ...up to this (also the cap on a receiver's ``Retry-After``).
        queue_per_rule: alerts a rule may have waiting; more become "queue full" dead letters.
        timeout_s: per attempt (connect, write, read).
        refresh_s: how often active rules are re-read from the store.
        drain_s: how long :meth:`close` lets queued deliveries finish.
    """

    def __init__(
        self,
        store: _Store,
        *,
        client: httpx.AsyncClient | None = None,
        max_attempts: int = 6,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        queue_per_rule: int = 1000,
        timeout_s: float = 5.0,
        refresh_s: float = 5.0,
        drain_s: float = 5.0,
    ):
        if max_attempts < 1 or queue_per_rule < 1:
            raise ValueError("max_attempts and queue_per_rule must be at least 1")
        self.store = store
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.queue_per_rule = queue_per_rule
        self.timeout_s = timeout_s
        self.refresh_s = refresh_s
        self.drain_s = drain_s
        self.stats = DispatcherStats()
        self._client = client
        self._own_client = client is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._lanes: dict[str, _Lane] = {}
        self._early: list[Alert] = []  # offered before start()
        self._dead: asyncio.Queue[Undelivered] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._buses: list[_Hookable] = []
        self._closing = False
        self._closed: asyncio.Event | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the active rules and start the workers (idempotent). Raises if the store fails."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._closed = asyncio.Event()
        self._dead = asyncio.Queue(maxsize=_DEAD_QUEUE)
        if self._client is None:
            # no connection cap: a pool shared by every rule would let slow receivers that hold
            # their connections delay the others (concurrency is bounded by the rules anyway)
            self._client = httpx.AsyncClient(
                headers={"User-Agent": f"mevgraph-webhooks/{__version__}"},
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            )
        try:
            await self.refresh()
        except BaseException:
            self._loop = self._thread = None
            raise
        self._tasks = [
            asyncio.create_task(self._refresh_forever(), name="mevgraph-webhook-rules"),
            asyncio.create_task(self._write_dead_letters(), name="mevgraph-webhook-dead-letters"),
        ]
        early, self._early = self._early, []
        for alert in early:
            self._route(alert)

    async def run(self) -> None:
        """Start, then wait until :meth:`close` is called."""
        await self.start()
        assert self._closed is not None
        await self._closed.wait()

    async def close(self) -> None:
        """Stop: give queued deliveries ``drain_s`` seconds, dead-letter what is left, write the
        dead letters (waiting up to 30 s for the store), close the HTTP client (if it is ours).
        Idempotent."""
        if self._closing:
            return
        self._closing = True
        for bus in self._buses:
            bus.remove_publish_hook(self.offer)
        self._buses.clear()
        if self._loop is None:
            self._lose(self._early, "the dispatcher was closed before it started")
            self._early.clear()
            return
        await self._drain(self.drain_s)
        for lane in list(self._lanes.values()):
            self._stop_lane(lane, _CLOSED)
        await asyncio.gather(
            *(lane.task for lane in self._lanes.values() if lane.task), return_exceptions=True
        )
        self._lanes.clear()
        assert self._dead is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._dead.join(), timeout=_DEAD_FLUSH_S)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        unwritten = []
        while not self._dead.empty():
            unwritten.append(self._dead.get_nowait().alert)
        self._lose(unwritten, "their dead letters were not written in time")
        if self._own_client and self._client is not None:
            await self._client.aclose()
        assert self._closed is not None
        self._closed.set()

    async def __aenter__(self) -> WebhookDispatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def attach(self, bus: _Hookable) -> None:
        """Offer every alert ``bus`` publishes from this process (a publish hook, see
        :mod:`mevgraph.ingest.bus`); :meth:`close` detaches."""
        bus.add_publish_hook(self.offer)
        self._buses.append(bus)

    # -- the publish side --------------------------------------------------------------------------

    def offer(self, alert: Alert) -> None:
        """Queue ``alert`` for every active rule it matches. Never blocks, never raises; callable
        from any thread (off the dispatcher's loop it is handed over thread-safely)."""
        try:
            if self._closing:
                self._lose([alert], "it was offered after close()")
            elif self._loop is None:
                if len(self._early) < self.queue_per_rule:
                    self._early.append(alert)
                else:
                    self._lose([alert], "it was offered before start() and the early buffer is full")
            elif threading.get_ident() == self._thread:
                self._route(alert)
            else:
                self._loop.call_soon_threadsafe(self._route, alert)
        except Exception:
            log.exception("webhook dispatcher could not take alert %s", alert.id)

    def _route(self, alert: Alert) -> None:
        self.stats.offered += 1
        for lane in self._lanes.values():
            try:
                if not lane.rule.filter.matches(alert):
                    continue
                lane.queue.put_nowait(alert)
                self.stats.queued += 1
            except asyncio.QueueFull:
                self.stats.queue_full += 1
                self._fail(Undelivered(lane.rule.id, alert, 0, None, _QUEUE_FULL))
            except Exception:
                log.exception("webhook rule %s could not take alert %s", lane.rule.id, alert.id)

    # -- rules ---------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Re-read the active rules now: start workers for new ones, stop those of rules that
        were paused or deleted (their queued alerts are discarded)."""
        rules = await asyncio.to_thread(self.store.alert_rules, None, True)
        if self._closing:
            return
        current = {r.id: r for r in rules}
        for rule_id in [r for r in self._lanes if r not in current]:
            gone = self._lanes.pop(rule_id)
            if gone.task is not None:
                gone.task.cancel()
            self.stats.discarded += gone.current is not None
            while not gone.queue.empty():
                gone.queue.get_nowait()
                gone.queue.task_done()
                self.stats.discarded += 1
        for rule_id, rule in current.items():
            lane = self._lanes.get(rule_id)
            if lane is None:
                lane = self._lanes[rule_id] = _Lane(rule, self.queue_per_rule)
                lane.task = asyncio.create_task(self._work(lane), name=f"mevgraph-webhook-{rule_id}")
            else:
                lane.rule = rule

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception as exc:
                self.stats.refresh_errors += 1
                log.warning("could not re-read webhook rules (keeping the last ones): %s", exc)

    # -- delivery ------------------------------------------------------------------------------

    async def _work(self, lane: _Lane) -> None:
        while True:
            alert = await lane.queue.get()
            lane.current, lane.attempts = alert, 0
            try:
                await self._deliver(lane, alert)
            except Exception as exc:  # a bug must not stop the rule's worker
                log.exception("webhook delivery of %s to rule %s failed", alert.id, lane.rule.id)
                self._fail(Undelivered(lane.rule.id, alert, lane.attempts, None, f"internal error: {exc}"))
            finally:
                lane.current = None
                lane.queue.task_done()

    async def _deliver(self, lane: _Lane, alert: Alert) -> None:
        assert self._client is not None
        body = alert.to_json()
        status: int | None = None
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            rule = lane.rule
            lane.attempts = attempt
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: sign(rule.secret, stamp, body),
                ALERT_ID_HEADER: alert.id,
            }
            retry_after: float | None = None
            try:
                async with asyncio.timeout(self.timeout_s):  # the whole attempt, not per phase
                    resp = await self._client.post(rule.url, content=body, headers=headers)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                self._fail(Undelivered(rule.id, alert, attempt, None, _describe(exc)))
                return
            except TimeoutError:
                status, error = None, f"timed out after {self.timeout_s:g} s"
            except httpx.TransportError as exc:  # refused or dropped connections
                status, error = None, _describe(exc)
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    self.stats.delivered += 1
                    return
                error = f"HTTP {status} {resp.reason_phrase}".strip()
                if not (status in _RETRY_STATUS or status >= 500):
                    self._fail(Undelivered(rule.id, alert, attempt, status, error))
                    return
                retry_after = _retry_after(resp.headers.get("Retry-After"))
            if attempt < self.max_attempts:
                self.stats.retries += 1
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                if retry_after is not None:
                    delay = max(delay, min(retry_after, self.max_backoff_s))
                await asyncio.sleep(delay)
        self._fail(Undelivered(lane.rule.id, alert, self.max_attempts, status, error))

    # -- dead letters ----------------------------------------------------------------------------

    def _fail(self, failure: Undelivered) -> None:
        assert self._dead is not None
        try:
            self._dead.put_nowait(failure)
        except asyncio.QueueFull:
            self._lose([failure.alert], f"the dead-letter queue is full ({failure.last_error})")

    async def _write_dead_letters(self) -> None:
        """Write dead letters in batches (one transaction each), so a burst -- a dead receiver
        with a full queue, a shutdown -- costs a few store round trips, not one per alert."""
        assert self._dead is not None
        while True:
            batch = [await self._dead.get()]
            while len(batch) < _DEAD_BATCH and not self._dead.empty():
                batch.append(self._dead.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._dead.task_done()

    async def _write(self, batch: list[Undelivered]) -> None:
        delay = 0.5
        for attempt in range(3):
            try:
                written = await asyncio.to_thread(self.store.add_dead_letters, batch)
            except Exception as exc:
                if attempt == 2:
                    self._lose([f.alert for f in batch], f"their dead letters could not be stored: {exc}")
                    return
                await asyncio.sleep(delay)
                delay *= 2
            else:
                self.stats.dead_letters += len(written)
                self.stats.discarded += len(batch) - len(written)  # their rules were deleted
                return

    def _lose(self, alerts: list[Alert], why: str) -> None:
        if alerts:
            self.stats.lost += len(alerts)
            log.error(
                "webhooks lost %d alert(s) (%s): %s", len(alerts), why, ", ".join(a.id for a in alerts[:10])
            )

    # -- shutdown helpers ------------------------------------------------------------------------

    async def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every queued alert is delivered or dead-lettered and every dead letter is
        written; False if ``timeout_s`` passed first."""
        return await self._drain(timeout_s)

    async def _drain(self, timeout_s: float | None) -> bool:
        async def idle() -> None:
            await asyncio.gather(*(lane.queue.join() for lane in list(self._lanes.values())))
            if self._dead is not None:
                await self._dead.join()

        try:
            await asyncio.wait_for(idle(), timeout_s)
        except TimeoutError:
            return False
        return True

    def _stop_lane(self, lane: _Lane, why: str) -> None:
        """Cancel ``lane``'s worker and dead-letter its in-flight and queued alerts."""
        if lane.task is not None:
            lane.task.cancel()
        if lane.current is not None:
            self._fail(Undelivered(lane.rule.id, lane.current, lane.attempts, None, why))
            lane.current = None
        while not lane.queue.empty():
            self._fail(Undelivered(lane.rule.id, lane.queue.get_nowait(), 0, None, why))
            lane.queue.task_done()


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# --- REST ------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True)


class _Input(_Model):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True, extra="forbid"
    )


Kind = Literal["sandwich", "frontrun", "backrun", "arbitrage", "liquidation", "jit"]
StageName = Literal["mempool", "block", "retraction"]
Address = Annotated[str, StringConstraints(pattern=ADDRESS)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=255)]
ChainId = Annotated[int, Field(ge=0, le=2**63 - 1)]


class RuleFilter(_Input):
    """Which alerts a rule receives; an omitted or null field matches everything, a list matches
    when the alert has any of its values (see :class:`~mevgraph.core.alerts.AlertFilter`)."""

    kinds: list[Kind] | None = Field(default=None, max_length=len(OPPORTUNITY_TYPES))
    chains: list[ChainId] | None = Field(default=None, max_length=MAX_LIST)
    min_profit_usd: float | None = Field(
        default=None, ge=0, le=10**18, allow_inf_nan=False, description="never matches an unpriced alert"
    )
    pools: list[Address] | None = Field(default=None, max_length=MAX_LIST)
    bots: list[Address] | None = Field(default=None, max_length=MAX_LIST)
    protocols: list[Label] | None = Field(default=None, max_length=MAX_LIST)
    stages: list[StageName] | None = Field(default=None, max_length=len(STAGES))

    def to_filter(self) -> AlertFilter:
        return AlertFilter.of(
            kinds=self.kinds,
            chains=self.chains,
            min_profit_usd=self.min_profit_usd,
            pools=self.pools,
            bots=self.bots,
            protocols=self.protocols,
            stages=self.stages,
        )

    @classmethod
    def of(cls, f: AlertFilter) -> RuleFilter:
        def listed(values: frozenset[Any] | None) -> list[Any] | None:
            return sorted(values) if values is not None else None

        return cls(
            kinds=listed(f.kinds),
            chains=listed(f.chains),
            min_profit_usd=f.min_profit_usd,
            pools=listed(f.pools),
            bots=listed(f.bots),
            protocols=listed(f.protocols),
            stages=listed(f.stages),
        )


class RuleCreate(_Input):
    url: str = Field(description="http(s) URL the alerts are POSTed to", max_length=MAX_URL)
    name: Label | None = None
    filter: RuleFilter = Field(default_factory=lambda: RuleFilter())
    active: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
        except ValueError as exc:
            raise ValueError(f"not a URL ({exc})") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value


class RuleUpdate(_Input):
    active: bool


class Rule(_Model):
    id: str
    name: str | None
    url: str
    filter: RuleFilter
    active: bool
    created_at: str | None


class CreatedRule(Rule):
    secret: str = Field(description="the HMAC signing key; shown only in this answer")


class RulesResponse(_Model):
    rules: list[Rule]


class DeadLetterOut(_Model):
    id: str
    rule_id: str
    alert_id: str
    alert: dict[str, Any]
    attempts: int
    last_status: int | None
    last_error: str | None
    failed_at: str | None


class DeadLettersResponse(_Model):
    dead_letters: list[DeadLetterOut]


def _rule_fields(rule: AlertRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "url": rule.url,
        "filter": RuleFilter.of(rule.filter),
        "active": rule.active,
        "created_at": iso_time(rule.created_at),
    }


def _dead_out(d: DeadLetter) -> DeadLetterOut:
    return DeadLetterOut(
        id=d.id,
        rule_id=d.rule_id,
        alert_id=d.alert_id,
        alert=d.alert.to_dict(),
        attempts=d.attempts,
        last_status=d.last_status,
        last_error=d.last_error,
        failed_at=iso_time(d.failed_at),
    )


_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or unknown API key"},
    403: {"model": ErrorBody, "description": f"the key lacks the `{SCOPE}` scope"},
    422: {"model": ErrorBody, "description": "an invalid parameter (named in `parameter`)"},
    429: {"model": ErrorBody, "description": "rate limit exceeded; see `Retry-After`"},
    500: {"model": ErrorBody, "description": "unexpected server error"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such rule of this key"}
}
_BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "a body that cannot be parsed as JSON"}
}

RuleId = Annotated[uuid.UUID, Path(description="rule id (UUID)")]


def _owner(request: Request, key: Annotated[str | None, Security(API_KEY)] = None) -> str:
    """The calling key's identity, once its scope and rate limit are checked (with the app's
    key checker and limiter, so a key has one budget for every route)."""
    api: _Api = request.app.state.api
    identity = admit_key(key, api.keys.scopes(key) if key else None, scope=SCOPE, anonymous=None)
    enforce_rate(api.limiter.hit(identity))
    return identity.removeprefix("key:")  # rules belong to the key (never anonymous here)


Owner = Annotated[str, Depends(_owner)]


def mount_webhooks(app: FastAPI, api: _Api) -> None:
    """Add the ``/v1/alerts`` routes to ``app``; ``api`` is the app's shared state (store, key
    checker, rate limiter), also found at ``app.state.api``."""
    store = api.store
    router = APIRouter(prefix="/v1/alerts", tags=["alerts"], responses=_RESPONSES)

    @router.post(
        "/rules",
        status_code=201,
        response_model=CreatedRule,
        responses={
            **_BAD_BODY,
            409: {"model": ErrorBody, "description": f"the key has {MAX_RULES_PER_KEY} rules"},
        },
        summary="Create a webhook rule (the answer holds its signing secret, shown once)",
    )
    def create_rule(ident: Owner, body: Annotated[RuleCreate, Body()]) -> CreatedRule:
        if len(api.call(store.alert_rules, ident, False)) >= MAX_RULES_PER_KEY:
            raise ApiError(409, "conflict", f"a key may have at most {MAX_RULES_PER_KEY} rules")
        rule = api.call(
            lambda: store.create_alert_rule(
                ident, body.url, body.filter.to_filter(), name=body.name, active=body.active
            )
        )
        return CreatedRule(**_rule_fields(rule), secret=rule.secret)

    @router.get("/rules", response_model=RulesResponse, summary="This key's webhook rules")
    def list_rules(ident: Owner) -> RulesResponse:
        return RulesResponse(
            rules=[Rule(**_rule_fields(r)) for r in api.call(store.alert_rules, ident, False)]
        )

    @router.get("/rules/{id}", response_model=Rule, responses=_NOT_FOUND, summary="One webhook rule")
    def get_rule(ident: Owner, id: RuleId) -> Rule:
        rule = api.call(store.alert_rule, str(id), ident)
        if rule is None:
            raise ApiError(404, "not found", f"no rule {id} of this key")
        return Rule(**_rule_fields(rule))

    @router.patch(
        "/rules/{id}",
        response_model=Rule,
        responses={**_NOT_FOUND, **_BAD_BODY},
        summary="Pause or resume a webhook rule",
    )
    def update_rule(ident: Owner, id: RuleId, body: Annotated[RuleUpdate, Body()]) -> Rule:
        if not api.call(store.set_alert_rule_active, str(id), body.active, ident):
            raise ApiError(404, "not found", f"no rule {id} of this key")
        rule = api.call(store.alert_rule, str(id), ident)
        if rule is None:  # deleted meanwhile
            raise ApiError(404, "not found", f"no rule {id} of this key")
        return Rule(**_rule_fields(rule))

    @router.delete(
        "/rules/{id}",
        status_code=204,
        response_class=Response,
        responses=_NOT_FOUND,
        summary="Delete a webhook rule and its dead letters",
    )
    def delete_rule(ident: Owner, id: RuleId) -> Response:
        if not api.call(store.delete_alert_rule, str(id), ident):
            raise ApiError(404, "not found", f"no rule {id} of this key")
        return Response(status_code=204)

    @router.get(
        "/dead-letters",
        response_model=DeadLettersResponse,
        summary="Alerts this key's rules could not deliver, newest first",
    )
    def dead_letters(
        ident: Owner,
        rule_id: Annotated[uuid.UUID | None, Query(alias="ruleId", description="one rule's only")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100,
    ) -> DeadLettersResponse:
        rows = api.call(
            lambda: store.dead_letters(
                rule_id=str(rule_id) if rule_id else None, key_identity=ident, limit=limit
            )
        )
        return DeadLettersResponse(dead_letters=[_dead_out(d) for d in rows])

    @router.delete(
        "/dead-letters/{id}",
        status_code=204,
        response_class=Response,
        responses={404: {"model": ErrorBody, "description": "no such dead letter of this key"}},
        summary="Acknowledge (delete) a dead letter",
    )
    def delete_dead_letter(
        ident: Owner, id: Annotated[uuid.UUID, Path(description="dead letter id (UUID)")]
    ) -> Response:
        if not api.call(store.delete_dead_letters, [str(id)], ident):
            raise ApiError(404, "not found", f"no dead letter {id} of this key")
        return Response(status_code=204)

    app.include_router(router)
