"""Webhook alert rules and their dead letters, stored per API key (both backends, one SQL).

A rule says *where* to POST the alerts that pass *which* :class:`~mevgraph.core.alerts.AlertFilter`
(stored as JSON with the filter's field names); :mod:`mevgraph.api.webhooks` delivers them. Rules
belong to an API key by its :func:`~mevgraph.api.auth.key_identity` (a hash, never the key), so
one key sees and deletes only its own rules.

The signing ``secret`` is stored *as given*, not hashed: the dispatcher needs it to compute each
delivery's HMAC. It is returned once, when the rule is created; afterwards only an API key with
scope ``alerts`` reaches the rule, so the keys (stored hashed) are the credential protecting it,
and read access to the database is read access to the secrets.

A dead letter is an alert a rule could not deliver (a permanent HTTP error, retries exhausted,
its queue full): the alert as JSON, the attempts made, the last status and error. Deleting a rule
deletes its dead letters, and a dead letter for a rule that no longer exists is not written (a
delivery still in flight when its rule was deleted).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from mevgraph.core.alerts import Alert, AlertFilter

if TYPE_CHECKING:
    from mevgraph.store.aggregates import Session

__all__ = [
    "AlertRule",
    "DeadLetter",
    "Undelivered",
    "WebhookStore",
    "filter_to_dict",
    "filter_from_dict",
    "MAX_DEAD_LETTERS",
]

MAX_DEAD_LETTERS = 1000
"""Most dead letters one :meth:`WebhookStore.dead_letters` call returns."""

_INSERT_CHUNK = 200  # dead letters per INSERT statement
_RULE_COLUMNS = ("id", "key_identity", "name", "url", "secret", "filter", "active", "created_at")
_DEAD_COLUMNS = ("id", "rule_id", "alert_id", "alert", "attempts", "last_status", "last_error", "failed_at")


@dataclass(frozen=True, slots=True)
class AlertRule:
    """Deliver the alerts passing ``filter`` to ``url``, signed with ``secret``."""

    id: str
    key_identity: str  # the owning API key's ``key_identity``
    name: str | None
    url: str
    secret: str
    filter: AlertFilter
    active: bool
    created_at: datetime  # aware UTC


@dataclass(frozen=True, slots=True)
class Undelivered:
    """What :meth:`WebhookStore.add_dead_letters` records: ``rule_id`` gave up on ``alert``."""

    rule_id: str
    alert: Alert
    attempts: int  # HTTP attempts made (0: never sent, e.g. its queue was full)
    last_status: int | None = None  # the last HTTP status, None when no response came
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An alert ``rule_id`` gave up on, with why."""

    id: str
    rule_id: str
    alert_id: str
    alert: Alert
    attempts: int  # HTTP attempts made (0: never sent, e.g. its queue was full)
    last_status: int | None  # the last HTTP status, None when no response came
    last_error: str | None
    failed_at: datetime  # aware UTC


def filter_to_dict(f: AlertFilter) -> dict[str, Any]:
    """``f`` as JSON-ready data: the filter's field names, sorted lists, unset fields left out."""
    out: dict[str, Any] = {}
    for field in fields(AlertFilter):
        name = field.name
        value = getattr(f, name)
        if value is None:
            continue
        out[name] = sorted(value) if isinstance(value, frozenset) else value
    return out


def filter_from_dict(d: Mapping[str, Any]) -> AlertFilter:
    """The inverse of :func:`filter_to_dict` (normalises case like :meth:`AlertFilter.of`)."""
    return AlertFilter.of(
        kinds=d.get("kinds"),
        chains=d.get("chains"),
        min_profit_usd=d.get("min_profit_usd"),
        pools=d.get("pools"),
        bots=d.get("bots"),
        protocols=d.get("protocols"),
        stages=d.get("stages"),
    )


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def _rule_match(rule_id: str, key_identity: str | None) -> tuple[str, dict[str, Any]] | None:
    """The condition (and its parameters) selecting rule ``rule_id`` -- only if it is
    ``key_identity``'s, when given; None when ``rule_id`` is not a UUID (no rule has it)."""
    key = _uuid(rule_id)
    if key is None:
        return None
    params: dict[str, Any] = {"id": key}
    cond = "id = :id"
    if key_identity is not None:
        cond += " AND key_identity = :key"
        params["key"] = key_identity
    return cond, params


def _in(column: str, values: Iterable[Any], params: dict[str, Any]) -> str:
    names = []
    for i, v in enumerate(values):
        params[f"v{i}"] = v
        names.append(f":v{i}")
    return f"{column} IN ({', '.join(names)})"


class WebhookStore:
    """Alert rules and dead letters; mixed into :class:`~mevgraph.store.aggregates.SqlStore`,
    whose sessions and JSON handling it uses."""

    if TYPE_CHECKING:

        def _write(self) -> AbstractContextManager[Session]: ...

        def _read(self) -> AbstractContextManager[Session]: ...

        def _json(self, value: Any) -> Any: ...

        def _from_json(self, value: Any) -> Any: ...

    def create_alert_rule(
        self,
        key_identity: str,
        url: str,
        filter: AlertFilter | None = None,
        *,
        name: str | None = None,
        secret: str | None = None,
        active: bool = True,
    ) -> AlertRule:
        """A new rule of ``key_identity``; ``secret`` is generated when not given.

        Raises:
            ValueError: ``url`` is not an ``http(s)://`` URL.
        """
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"a webhook URL must be http(s), not {url[:40]!r}")
        rule = AlertRule(
            id=str(uuid.uuid4()),
            key_identity=key_identity,
            name=name,
            url=url,
            secret=secret if secret is not None else "whsec_" + secrets.token_urlsafe(32),
            filter=filter or AlertFilter(),
            active=active,
            created_at=datetime.now(UTC),
        )
        with self._write() as s:
            s.execute(
                f"INSERT INTO alert_rules ({', '.join(_RULE_COLUMNS)}) "
                "VALUES (:id, :key, :name, :url, :secret, :filter, :active, :created_at)",
                {
                    "id": uuid.UUID(rule.id),
                    "key": key_identity,
                    "name": name,
                    "url": url,
                    "secret": rule.secret,
                    "filter": self._json(filter_to_dict(rule.filter)),
                    "active": active,
                    "created_at": rule.created_at.replace(tzinfo=None),
                },
            )
        return rule

    def alert_rules(self, key_identity: str | None = None, active_only: bool = True) -> list[AlertRule]:
        """The rules of ``key_identity`` (every key's when None), oldest first."""
        params: dict[str, Any] = {}
        conds = []
        if key_identity is not None:
            conds.append("key_identity = :key")
            params["key"] = key_identity
        if active_only:
            conds.append("active")
        where = " AND ".join(conds) or "TRUE"
        with self._read() as s:
            rows = s.all(
                f"SELECT {', '.join(_RULE_COLUMNS)} FROM alert_rules WHERE {where} ORDER BY created_at, id",
                params,
            )
        return [self._rule(r) for r in rows]

    def alert_rule(self, rule_id: str, key_identity: str | None = None) -> AlertRule | None:
        """One rule (only if it is ``key_identity``'s, when given); None if unknown."""
        found = _rule_match(rule_id, key_identity)
        if found is None:
            return None
        cond, params = found
        with self._read() as s:
            rows = s.all(f"SELECT {', '.join(_RULE_COLUMNS)} FROM alert_rules WHERE {cond}", params)
        return self._rule(rows[0]) if rows else None

    def set_alert_rule_active(self, rule_id: str, active: bool, key_identity: str | None = None) -> bool:
        """Pause (``active=False``) or resume a rule; False if unknown (or not ``key_identity``'s)."""
        found = _rule_match(rule_id, key_identity)
        if found is None:
            return False
        cond, params = found
        params["active"] = active
        with self._write() as s:
            if not s.all(f"SELECT 1 FROM alert_rules WHERE {cond}", params):
                return False
            s.execute(f"UPDATE alert_rules SET active = :active WHERE {cond}", params)
        return True

    def delete_alert_rule(self, rule_id: str, key_identity: str | None = None) -> bool:
        """Delete a rule and its dead letters; False if unknown (or not ``key_identity``'s)."""
        found = _rule_match(rule_id, key_identity)
        if found is None:
            return False
        cond, params = found
        with self._write() as s:
            if not s.all(f"SELECT 1 FROM alert_rules WHERE {cond}", params):
                return False
            s.execute("DELETE FROM alert_dead_letters WHERE rule_id = :id", {"id": params["id"]})
            s.execute("DELETE FROM alert_rules WHERE id = :id", {"id": params["id"]})
        return True

    def add_dead_letter(
        self,
        rule_id: str,
        alert: Alert,
        *,
        attempts: int,
        last_status: int | None = None,
        last_error: str | None = None,
    ) -> DeadLetter | None:
        """Record that ``rule_id`` gave up on ``alert``; None (nothing written) if the rule is gone."""
        written = self.add_dead_letters([Undelivered(rule_id, alert, attempts, last_status, last_error)])
        return written[0] if written else None

    def add_dead_letters(self, failures: Sequence[Undelivered]) -> list[DeadLetter]:
        """Record many failures in one transaction; those of rules that are gone are skipped."""
        keys = {f.rule_id: _uuid(f.rule_id) for f in failures}
        wanted = {k for k in keys.values() if k is not None}
        if not wanted:
            return []
        now = datetime.now(UTC)
        written: list[DeadLetter] = []
        with self._write() as s:
            params: dict[str, Any] = {}
            existing = {
                str(r[0])
                for r in s.all(f"SELECT id FROM alert_rules WHERE {_in('id', wanted, params)}", params)
            }
            rows = []
            for f in failures:
                key = keys[f.rule_id]
                if key is None or str(key) not in existing:
                    continue
                data = orjson.loads(f.alert.to_json())  # as stored: what JSON can hold of ``details``
                letter = DeadLetter(
                    id=str(uuid.uuid4()),
                    rule_id=str(key),
                    alert_id=f.alert.id,
                    alert=Alert.from_dict(data),
                    attempts=f.attempts,
                    last_status=f.last_status,
                    last_error=f.last_error,
                    failed_at=now,
                )
                written.append(letter)
                rows.append(
                    {  # in _DEAD_COLUMNS order
                        "id": uuid.UUID(letter.id),
                        "rule": key,
                        "alert_id": letter.alert_id,
                        "alert": self._json(data),
                        "attempts": f.attempts,
                        "status": f.last_status,
                        "error": f.last_error,
                        "failed_at": now.replace(tzinfo=None),
                    }
                )
            # multi-row VALUES: one statement per chunk, not one round trip per row
            for i in range(0, len(rows), _INSERT_CHUNK):
                chunk = rows[i : i + _INSERT_CHUNK]
                values, bound = [], {}
                for j, row in enumerate(chunk):
                    values.append("(" + ", ".join(f":{name}{j}" for name in row) + ")")
                    bound.update({f"{name}{j}": v for name, v in row.items()})
                s.execute(
                    f"INSERT INTO alert_dead_letters ({', '.join(_DEAD_COLUMNS)}) VALUES {', '.join(values)}",
                    bound,
                )
        return written

    def dead_letters(
        self, *, rule_id: str | None = None, key_identity: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        """Dead letters of one rule and/or of every rule of ``key_identity``, newest first."""
        if not 1 <= limit <= MAX_DEAD_LETTERS:
            raise ValueError(f"limit must be in 1..{MAX_DEAD_LETTERS}")
        params: dict[str, Any] = {"limit": limit}
        conds = []
        if rule_id is not None:
            key = _uuid(rule_id)
            if key is None:
                return []
            conds.append("rule_id = :rule")
            params["rule"] = key
        if key_identity is not None:
            conds.append("rule_id IN (SELECT id FROM alert_rules WHERE key_identity = :key)")
            params["key"] = key_identity
        where = " AND ".join(conds) or "TRUE"
        with self._read() as s:
            rows = s.all(
                f"SELECT {', '.join(_DEAD_COLUMNS)} FROM alert_dead_letters WHERE {where} "
                "ORDER BY failed_at DESC, id DESC LIMIT :limit",
                params,
            )
        return [self._dead_letter(r) for r in rows]

    def delete_dead_letters(self, ids: Sequence[str], key_identity: str | None = None) -> int:
        """Delete dead letters (once handled); returns how many were deleted."""
        keys = [k for k in (_uuid(i) for i in ids) if k is not None]
        if not keys:
            return 0
        params: dict[str, Any] = {}
        cond = _in("id", keys, params)
        if key_identity is not None:
            cond += " AND rule_id IN (SELECT id FROM alert_rules WHERE key_identity = :key)"
            params["key"] = key_identity
        with self._write() as s:
            n = s.all(f"SELECT count(*) FROM alert_dead_letters WHERE {cond}", params)[0][0]
            s.execute(f"DELETE FROM alert_dead_letters WHERE {cond}", params)
        return int(n)

    def _rule(self, r: Sequence[Any]) -> AlertRule:
        return AlertRule(
            id=str(r[0]),
            key_identity=str(r[1]),
            name=r[2],
            url=str(r[3]),
            secret=str(r[4]),
            filter=filter_from_dict(self._from_json(r[5]) or {}),
            active=bool(r[6]),
            created_at=_aware(r[7]),
        )

    def _dead_letter(self, r: Sequence[Any]) -> DeadLetter:
        return DeadLetter(
            id=str(r[0]),
            rule_id=str(r[1]),
            alert_id=str(r[2]),
            alert=Alert.from_dict(self._from_json(r[3])),
            attempts=int(r[4]),
            last_status=None if r[5] is None else int(r[5]),
            last_error=r[6],
            failed_at=_aware(r[7]),
        )
