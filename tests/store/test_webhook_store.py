"""Webhook rules and dead letters: the store contract, on both backends (embedded DuckDB, PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mevgraph.core.alerts import Alert, AlertFilter
from mevgraph.store import SqlStore
from mevgraph.store.webhooks import MAX_DEAD_LETTERS, filter_from_dict, filter_to_dict

KEY_A = "a" * 32
KEY_B = "b" * 32
POOL = "0x" + "ab" * 20


def _alert(n: int, **kw: object) -> Alert:
    fields: dict[str, object] = {
        "id": f"block:1:0x{n:064x}:sandwich",
        "stage": "block",
        "kind": "sandwich",
        "chain_id": 1,
        "block_number": 100 + n,
        "txs": ("0x" + "11" * 32, "0x" + "22" * 32),
        "pools": (POOL,),
        "profit_usd": 12.5,
        "details": {"n": n},
    }
    fields.update(kw)
    return Alert(**fields)  # type: ignore[arg-type]


def test_filter_json_round_trip() -> None:
    f = AlertFilter.of(
        kinds=["Sandwich", "jit"],
        chains=[1, 10],
        min_profit_usd=2.5,
        pools=[POOL.upper().replace("0X", "0x")],
        stages=["block", "retraction"],
    )
    d = filter_to_dict(f)
    assert d == {
        "kinds": ["jit", "sandwich"],
        "chains": [1, 10],
        "min_profit_usd": 2.5,
        "pools": [POOL],
        "stages": ["block", "retraction"],
    }
    assert filter_from_dict(d) == f
    assert filter_to_dict(AlertFilter()) == {}
    assert filter_from_dict({}) == AlertFilter()


def test_rule_round_trip(store: SqlStore) -> None:
    f = AlertFilter.of(kinds=["sandwich"], min_profit_usd=1.0, pools=[POOL])
    before = datetime.now(UTC) - timedelta(seconds=1)
    rule = store.create_alert_rule(KEY_A, "https://example.org/hook?x=1", f, name="mine")
    assert rule.secret.startswith("whsec_") and len(rule.secret) > 40
    assert rule.active and rule.created_at.tzinfo is not None and rule.created_at >= before
    (got,) = store.alert_rules(KEY_A)
    assert got == rule
    assert store.alert_rule(rule.id) == rule
    assert store.alert_rule(rule.id, KEY_A) == rule
    assert store.alert_rule(rule.id, KEY_B) is None
    assert store.alert_rule("not-a-uuid") is None
    assert store.alert_rule(str(uuid.uuid4())) is None


def test_secret_generated_unique_or_kept(store: SqlStore) -> None:
    a = store.create_alert_rule(KEY_A, "http://127.0.0.1:9/a")
    b = store.create_alert_rule(KEY_A, "http://127.0.0.1:9/b")
    c = store.create_alert_rule(KEY_A, "http://127.0.0.1:9/c", secret="given")
    assert a.secret != b.secret
    assert store.alert_rule(c.id) is not None and store.alert_rule(c.id).secret == "given"  # type: ignore[union-attr]


def test_url_must_be_http(store: SqlStore) -> None:
    for url in ("ftp://example.org/x", "example.org", "file:///etc/passwd"):
        with pytest.raises(ValueError, match="http"):
            store.create_alert_rule(KEY_A, url)
    assert store.alert_rules(active_only=False) == []


def test_rules_are_per_key_and_pausable(store: SqlStore) -> None:
    a1 = store.create_alert_rule(KEY_A, "http://127.0.0.1:9/1")
    a2 = store.create_alert_rule(KEY_A, "http://127.0.0.1:9/2")
    b1 = store.create_alert_rule(KEY_B, "http://127.0.0.1:9/3")
    assert [r.id for r in store.alert_rules(KEY_A)] == [a1.id, a2.id]  # oldest first
    assert [r.id for r in store.alert_rules(KEY_B)] == [b1.id]
    assert {r.id for r in store.alert_rules()} == {a1.id, a2.id, b1.id}

    assert not store.set_alert_rule_active(a1.id, False, KEY_B)  # not B's rule
    assert store.set_alert_rule_active(a1.id, False, KEY_A)
    assert [r.id for r in store.alert_rules(KEY_A)] == [a2.id]
    paused = store.alert_rules(KEY_A, active_only=False)
    assert [(r.id, r.active) for r in paused] == [(a1.id, False), (a2.id, True)]
    assert store.set_alert_rule_active(a1.id, True)
    assert len(store.alert_rules(KEY_A)) == 2
    assert not store.set_alert_rule_active("nope", True)


def test_dead_letters(store: SqlStore) -> None:
    rule = store.create_alert_rule(KEY_A, "http://127.0.0.1:9/x")
    other = store.create_alert_rule(KEY_B, "http://127.0.0.1:9/y")
    # details that plain JSON cannot encode are kept as strings, like Alert.to_json does
    odd = _alert(1, details={"raw": Decimal("1.5"), "n": 10**30})
    first = store.add_dead_letter(rule.id, odd, attempts=6, last_status=503, last_error="HTTP 503")
    second = store.add_dead_letter(rule.id, _alert(2), attempts=0, last_error="queue full")
    store.add_dead_letter(other.id, _alert(3), attempts=1, last_status=400, last_error="HTTP 400")
    assert first is not None and second is not None

    mine = store.dead_letters(key_identity=KEY_A)
    assert [d.id for d in mine] == [second.id, first.id]  # newest first
    assert mine[1] == first
    got = mine[1]
    assert got.rule_id == rule.id and got.alert_id == odd.id
    assert (got.attempts, got.last_status, got.last_error) == (6, 503, "HTTP 503")
    assert got.alert.details == {"raw": "1.5", "n": str(10**30)}  # wide ints as decimal strings
    assert got.alert.txs == odd.txs and got.alert.detected_at == odd.detected_at
    assert got.failed_at.tzinfo is not None
    assert mine[0].alert == _alert(2, detected_at=mine[0].alert.detected_at)

    assert [d.alert_id for d in store.dead_letters(rule_id=other.id)] == [_alert(3).id]
    assert store.dead_letters(rule_id=other.id, key_identity=KEY_A) == []
    assert len(store.dead_letters(limit=1)) == 1 and len(store.dead_letters()) == 3
    assert store.dead_letters(rule_id="garbage") == []
    with pytest.raises(ValueError):
        store.dead_letters(limit=MAX_DEAD_LETTERS + 1)


def test_dead_letter_of_deleted_rule_not_written(store: SqlStore) -> None:
    assert store.add_dead_letter(str(uuid.uuid4()), _alert(1), attempts=1) is None
    assert store.add_dead_letter("garbage", _alert(1), attempts=1) is None
    assert store.dead_letters() == []


def test_delete_rule_deletes_its_dead_letters(store: SqlStore) -> None:
    rule = store.create_alert_rule(KEY_A, "http://127.0.0.1:9/x")
    keep = store.create_alert_rule(KEY_A, "http://127.0.0.1:9/y")
    store.add_dead_letter(rule.id, _alert(1), attempts=1)
    store.add_dead_letter(keep.id, _alert(2), attempts=1)
    assert not store.delete_alert_rule(rule.id, KEY_B)
    assert len(store.dead_letters()) == 2
    assert store.delete_alert_rule(rule.id, KEY_A)
    assert not store.delete_alert_rule(rule.id, KEY_A)
    assert [r.id for r in store.alert_rules(active_only=False)] == [keep.id]
    assert [d.rule_id for d in store.dead_letters()] == [keep.id]
    assert not store.delete_alert_rule("garbage")


def test_delete_dead_letters(store: SqlStore) -> None:
    ra = store.create_alert_rule(KEY_A, "http://127.0.0.1:9/x")
    rb = store.create_alert_rule(KEY_B, "http://127.0.0.1:9/y")
    da = store.add_dead_letter(ra.id, _alert(1), attempts=1)
    db = store.add_dead_letter(rb.id, _alert(2), attempts=1)
    assert da is not None and db is not None
    assert store.delete_dead_letters([da.id, db.id], KEY_A) == 1  # only A's
    assert [d.id for d in store.dead_letters()] == [db.id]
    assert store.delete_dead_letters([db.id, "garbage"]) == 1
    assert store.delete_dead_letters([]) == 0
    assert store.dead_letters() == []
