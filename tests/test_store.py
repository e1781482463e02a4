"""The delivery log: WAL, webhooks, pagination, atomic attempt records, errors, secrets."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.delivery.rows import AttemptRecord, NewDelivery, mask_secret
from emulator.delivery.store import Store
from emulator.errors import NotFound, StoreError, UsageError, WebhookInactive

SECRET = "whsec_supersecret_f3a9"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sub" / "log.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    with Store(path) as s:
        yield s


def new(store: Store, n: int = 1, secret: str | None = SECRET) -> list[int]:
    hook = store.upsert_webhook("http://127.0.0.1:9/hook", secret=secret)
    items = [NewDelivery(b'{"id":"%d"}' % i, "AppointmentGroup.Created", str(i), None, hook, {}) for i in range(n)]
    return [s.delivery_id for s in store.create_deliveries(items)]


def record(delivery_id: int, number: int, scheduled_id: int | None, *, status: int | None = 503) -> AttemptRecord:
    ok = status is not None and 200 <= status < 300
    return AttemptRecord(
        delivery_id,
        scheduled_id,
        number,
        1.0,
        "POST",
        "http://127.0.0.1:9/hook",
        {"zenoti-webhook-signature": "sha256 =AB"},
        status,
        "success" if ok else "http_status",
        3.0,
        {},
        b"x",
        None,
    )


def test_log_is_a_wal_database_readable_by_its_owner_only(store: Store, path: Path) -> None:
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"bad\.sqlite3"):
        Store(bad)


def test_an_uncreatable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="--db"):
        Store(blocker / "log.sqlite3")


def test_webhooks_are_created_listed_updated_and_deleted(store: Store) -> None:
    hook = store.create_webhook(
        "http://127.0.0.1:9/a", verb="put", secret=SECRET, name="Bookings", event_types=["AppointmentGroup.Created"]
    )
    assert (hook.verb, hook.name, hook.event_types, hook.active) == (
        "PUT",
        "Bookings",
        ("AppointmentGroup.Created",),
        True,
    )
    assert hook.subscribes_to("AppointmentGroup.Created") and not hook.subscribes_to("Invoice.Closed")
    changed = store.update_webhook(hook.id, url="http://127.0.0.1:9/b", event_types=[], clear_secret=True)
    assert (changed.url, changed.secret, changed.subscribes_to("Invoice.Closed")) == (
        "http://127.0.0.1:9/b",
        None,
        True,
    )
    assert [h.id for h in store.list_webhooks()] == [hook.id]
    store.delete_webhook(hook.id)
    with pytest.raises(NotFound):
        store.get_webhook(hook.id)


def test_bad_verb_is_a_usage_error(store: Store) -> None:
    with pytest.raises(UsageError, match="POST, PUT, PATCH"):
        store.create_webhook("http://127.0.0.1:9/a", verb="DELETE")


def test_ad_hoc_webhooks_are_found_again_by_url_verb_and_secret(store: Store) -> None:
    a = store.upsert_webhook("http://127.0.0.1:9/a", secret="one")
    assert store.upsert_webhook("http://127.0.0.1:9/a", secret="one").id == a.id
    assert store.upsert_webhook("http://127.0.0.1:9/a", secret="two").id != a.id
    assert store.upsert_webhook("http://127.0.0.1:9/a", verb="PATCH", secret="one").id != a.id


def test_find_webhook_by_id_or_unique_url(store: Store) -> None:
    a = store.upsert_webhook("http://127.0.0.1:9/a")
    assert store.find_webhook(str(a.id)).id == a.id
    assert store.find_webhook("http://127.0.0.1:9/a").id == a.id
    store.upsert_webhook("http://127.0.0.1:9/a", secret="other")
    with pytest.raises(UsageError, match="Several webhooks"):
        store.find_webhook("http://127.0.0.1:9/a")
    with pytest.raises(NotFound, match="zenoti-emulator webhooks"):
        store.find_webhook("http://127.0.0.1:9/none")


def test_secrets_are_masked_everywhere_they_are_shown(store: Store) -> None:
    hook = store.upsert_webhook("http://127.0.0.1:9/a", secret=SECRET)
    assert hook.masked_secret == "****f3a9" == mask_secret(SECRET)
    assert mask_secret("short") == "****"
    assert SECRET not in repr(hook)
    assert SECRET not in json.dumps(hook.to_dict())


def test_the_secret_is_never_in_the_attempt_log(store: Store, path: Path) -> None:
    [delivery_id] = new(store)
    store.record_attempt(record(delivery_id, 1, None, status=200), retry_delay_s=None)
    dump = json.dumps(store.get_delivery(delivery_id).to_dict(with_body=True))
    assert SECRET not in dump
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT * FROM attempts").fetchall() + conn.execute("SELECT * FROM deliveries").fetchall()
    conn.close()
    assert SECRET not in repr(rows)


def test_an_attempt_and_the_next_retry_are_recorded_together(store: Store) -> None:
    [delivery_id] = new(store)
    [first] = store.pending_schedule()
    result = store.record_attempt(record(delivery_id, 1, first.id), retry_delay_s=30.0, time_scale=600.0, webhook_id=1)
    assert result.status == "pending" and result.next is not None
    assert (result.next.number, result.next.delay_s, result.next.time_scale) == (2, 30.0, 600.0)
    assert result.next.due_at - result.next.scheduled_at == pytest.approx(0.05, abs=1e-6)
    assert [s.id for s in store.pending_schedule()] == [result.next.id]
    d = store.get_delivery(delivery_id)
    assert (d.status, d.attempts, [s.state for s in d.schedule]) == ("pending", 1, ["done", "pending"])
    final = store.record_attempt(record(delivery_id, 2, result.next.id, status=204), retry_delay_s=None, webhook_id=1)
    assert final.status == "delivered" and store.pending_schedule() == []


def test_the_same_attempt_cannot_be_logged_twice(store: Store) -> None:
    [delivery_id] = new(store)
    store.record_attempt(record(delivery_id, 1, None), retry_delay_s=None)
    with pytest.raises(StoreError):
        store.record_attempt(record(delivery_id, 1, None), retry_delay_s=None)
    assert store.get_delivery(delivery_id).attempts == 1  # the failed write left nothing behind


def test_deactivation_at_the_threshold_and_require_active(store: Store) -> None:
    ids = new(store, 3)
    hook = store.list_webhooks()[0]
    results = [
        store.record_attempt(record(i, 1, None), retry_delay_s=None, webhook_id=hook.id, deactivate_after=3)
        for i in ids
    ]
    assert [r.deactivated for r in results] == [False, False, True]
    with pytest.raises(WebhookInactive, match=f"reactivate {hook.id}"):
        store.require_active(hook)


def test_deliveries_page_newest_first_with_a_cursor(store: Store) -> None:
    ids = new(store, 7)
    page1, cursor = store.list_deliveries(limit=3)
    page2, cursor2 = store.list_deliveries(limit=3, cursor=cursor)
    page3, cursor3 = store.list_deliveries(limit=3, cursor=cursor2)
    assert [d.id for d in page1 + page2 + page3] == sorted(ids, reverse=True)
    assert cursor3 is None
    assert store.list_deliveries(status="delivered")[0] == []
    assert len(store.list_deliveries(status="pending", webhook_id=1, limit=None)[0]) == 7
    with pytest.raises(UsageError, match="pending, delivered, failed"):
        store.list_deliveries(status="lost")
    assert store.counts() == {"pending": 7, "delivered": 0, "failed": 0}


def test_deleting_a_webhook_fails_its_pending_deliveries(store: Store) -> None:
    [delivery_id] = new(store)
    store.delete_webhook(1)
    d = store.get_delivery(delivery_id)
    assert (d.status, d.webhook_id, d.last_error) == ("failed", None, "webhook deleted")
    assert store.pending_schedule() == []


def test_replay_schedules_a_new_attempt_number(store: Store) -> None:
    [delivery_id] = new(store)
    with pytest.raises(UsageError, match="still pending"):
        store.schedule_replay(delivery_id)
    store.record_attempt(record(delivery_id, 1, None), retry_delay_s=None)
    sched = store.schedule_replay(delivery_id)
    assert (sched.number, sched.kind) == (2, "replay")
    assert store.get_delivery(delivery_id).status == "pending"
    with pytest.raises(NotFound):
        store.schedule_replay(12345)


def test_threads_get_their_own_connections_and_all_are_closed(path: Path) -> None:
    store = Store(path)
    [delivery_id] = new(store)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                store.get_delivery(delivery_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # the finished threads' connections are closed when the next one is opened
    last = threading.Thread(target=read)
    last.start()
    last.join()
    assert len(store._connections) == 2  # this thread's, and the last one's
    store.close()
    assert store._connections == []
    with pytest.raises(StoreError, match="closed"):
        store.get_delivery(delivery_id)


def test_a_live_process_owns_its_attempts_until_it_is_gone(path: Path) -> None:
    with Store(path) as b:
        a = Store(path)
        [_delivery_id] = new(a)
        # a lives (its lease runs): its attempt is its own, whoever reads the log
        assert b.pending_schedule() == []
        [sched] = a.pending_schedule()
        assert not b.claim(sched.id)
        assert a.claim(sched.id)
        assert not b.claim(sched.id)
        a.release(sched.id)
        a.close()  # gone: its lease is given up, so b takes over at once
        [taken] = b.pending_schedule()
        assert taken.id == sched.id and b.claim(sched.id)


def test_an_owner_whose_lease_ran_out_is_taken_over(path: Path) -> None:
    with Store(path) as a, Store(path) as b:
        [delivery_id] = new(a)
        assert b.pending_schedule() == []
        with sqlite3.connect(path) as conn:  # a hung (stopped) process: its lease is not renewed
            conn.execute("UPDATE owners SET lease_until = 0 WHERE owner = ?", (a.owner,))
        conn.close()
        [taken] = b.pending_schedule()
        assert taken.delivery_id == delivery_id
        assert not a.claim(taken.id)  # a, woken up, no longer owns it
        assert b.claim(taken.id)


def test_an_attempt_claimed_by_a_dead_process_is_pending_again(path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with Store(path) as store:
        [_delivery_id] = new(store)
        [sched] = store.pending_schedule()
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE scheduled_attempts SET state = 'running', claimed_by = ? WHERE id = ?",
                (f"{dead.stdout.strip()}:dead", sched.id),
            )
        conn.close()
        assert [s.id for s in store.pending_schedule()] == [sched.id]


def test_an_attempt_of_a_delivery_ended_meanwhile_changes_nothing(store: Store) -> None:
    [delivery_id] = new(store)
    [sched] = store.pending_schedule()
    assert store.claim(sched.id)
    store.delete_webhook(1)  # fails the delivery while its attempt is in flight
    result = store.record_attempt(record(delivery_id, 1, sched.id), retry_delay_s=30.0)
    assert result.status == "failed" and result.next is None
    d = store.get_delivery(delivery_id)
    assert (d.status, d.attempts) == ("failed", 1) and store.pending_schedule() == []
