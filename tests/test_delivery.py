"""Delivery over real loopback sockets: the wire, every failure kind, retries, deactivation.

Receivers are real HTTP servers (``tests/receivers.py``); waits are scaled down with a
large time scale or run on a fake clock, never slept through by the test.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.delivery.deliverer import Deliverer
from emulator.delivery.retry import DeliveryOptions, RetryPolicy
from emulator.delivery.sender import JSON_CONTENT_TYPE, PreparedDelivery, serialize, user_agent
from emulator.delivery.store import Store
from emulator.errors import NotFound, UsageError, WebhookInactive

from .receivers import Receiver, TLSGarbageServer, closed_port_url

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = json.loads((ROOT / "fixtures" / "docs" / "appointment-group-created.json").read_text(encoding="utf-8"))
SECRET = "whsec_0123456789abcdef"
#: waits of 30 s..10 min become 0.5..10 ms
FAST = 60_000


def make_events(n: int) -> list[dict[str, Any]]:
    """Copies of the documented sample, each with its own call id."""
    out = []
    for i in range(n):
        e = copy.deepcopy(SAMPLE)
        e["id"] = f"{0x66A26696C7314F7815DB0000 + i:024x}"
        e["data"]["guest"]["first_name"] = f"Guest \u00e9{i}"
        out.append(e)
    return out


def independent_signature(body: bytes, secret: str) -> str:
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256 =" + "-".join(f"{b:02X}" for b in mac)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "log.sqlite3") as s:
        yield s


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


def fast(**kw: Any) -> DeliveryOptions:
    kw.setdefault("time_scale", FAST)
    kw.setdefault("timeout", 2.0)
    return DeliveryOptions(**kw)


def deliver(
    store: Store,
    url: str,
    events: list[dict[str, Any]],
    *,
    secret: str | None = SECRET,
    verb: str = "POST",
    concurrency: int = 4,
    **opts: Any,
) -> list[int]:
    hook = store.upsert_webhook(url, verb=verb, secret=secret)
    with Deliverer(store, options=fast(**opts), concurrency=concurrency, rng=random.Random(0)) as d:
        ids = d.submit_many(events, hook)
        assert d.wait(30)
    return ids


# -- the wire --------------------------------------------------------------------------


def test_body_is_the_exact_signed_bytes_with_zenoti_headers(store: Store, receiver: Receiver) -> None:
    event = make_events(1)[0]
    [delivery_id] = deliver(store, receiver.url, [event])
    [req] = receiver.wait_for(1)
    assert req.method == "POST"
    assert req.body == serialize(event)
    assert json.loads(req.body) == event
    assert req.headers["zenoti-webhook-signature"] == independent_signature(req.body, SECRET)
    assert req.headers["content-type"] == JSON_CONTENT_TYPE
    assert req.headers["user-agent"] == user_agent()
    assert user_agent().startswith("zenoti-webhook-emulator/")
    logged = store.get_delivery(delivery_id)
    assert logged.body == req.body
    assert logged.status == "delivered"
    assert logged.attempt_log[0].request_headers["zenoti-webhook-signature"] == req.headers["zenoti-webhook-signature"]


@pytest.mark.parametrize("verb", ["PUT", "PATCH"])
def test_verb_is_per_webhook(store: Store, receiver: Receiver, verb: str) -> None:
    deliver(store, receiver.url, make_events(1), verb=verb)
    assert receiver.wait_for(1)[0].method == verb


def test_without_a_secret_there_is_no_signature_header(store: Store, receiver: Receiver) -> None:
    deliver(store, receiver.url, make_events(1), secret=None)
    assert "zenoti-webhook-signature" not in receiver.wait_for(1)[0].headers


def test_content_type_can_be_left_out(store: Store, receiver: Receiver) -> None:
    deliver(store, receiver.url, make_events(1), content_type=False)
    assert "content-type" not in receiver.wait_for(1)[0].headers


def test_plain_hex_signature_format_is_available(store: Store, receiver: Receiver) -> None:
    deliver(store, receiver.url, make_events(1), signature_format="hex")
    req = receiver.wait_for(1)[0]
    assert (
        req.headers["zenoti-webhook-signature"]
        == "sha256=" + hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    )


def test_ping_is_an_empty_post_without_signature_or_content_type(store: Store, receiver: Receiver) -> None:
    with Deliverer(store, concurrency=1) as d:
        result = d.ping(receiver.url)
    [req] = receiver.wait_for(1)
    assert result.ok and result.status_code == 200
    assert (req.method, req.body) == ("POST", b"")
    assert "zenoti-webhook-signature" not in req.headers
    assert "content-type" not in req.headers
    assert req.headers["content-length"] == "0"


def test_prepared_delivery_serialises_once_and_hides_the_secret() -> None:
    from emulator.delivery.rows import Webhook

    hook = Webhook(1, "n", "http://127.0.0.1:1/h", "PUT", SECRET, (), True, 0, 0.0, 0.0, None)
    prepared = PreparedDelivery.for_event(SAMPLE, hook)
    assert prepared.body == serialize(SAMPLE)
    assert prepared.signature == independent_signature(prepared.body, SECRET)
    assert SECRET not in repr(prepared) and SECRET not in repr(prepared.auth()) and SECRET not in repr(hook)


# -- retries ----------------------------------------------------------------------------


def test_retries_resend_the_same_call_re_signed_until_a_2xx(store: Store) -> None:
    with Receiver([503, 503, 200]) as rx:
        [delivery_id] = deliver(store, rx.url, make_events(1))
        reqs = rx.wait_for(3)
    assert len(reqs) == 3
    assert len({r.body for r in reqs}) == 1
    assert {json.loads(r.body)["id"] for r in reqs} == {make_events(1)[0]["id"]}
    assert all(r.headers["zenoti-webhook-signature"] == independent_signature(r.body, SECRET) for r in reqs)
    d = store.get_delivery(delivery_id)
    assert (d.status, d.attempts) == ("delivered", 3)
    assert [a.status_code for a in d.attempt_log] == [503, 503, 200]
    assert [s.kind for s in d.schedule] == ["first", "retry", "retry"]
    assert all(s.state == "done" for s in d.schedule)


@pytest.mark.parametrize(
    ("action", "outcome", "status"),
    [
        (500, "http_status", 500),
        (404, "http_status", 404),
        (429, "http_status", 429),
        (("redirect", "/elsewhere"), "redirect", 302),
        ("reset", "connection", None),
        ("stall", "timeout", None),
    ],
)
def test_every_failure_kind_is_a_failed_attempt(store: Store, action: Any, outcome: str, status: int | None) -> None:
    with Receiver([action]) as rx:
        [delivery_id] = deliver(store, rx.url, make_events(1), policy=RetryPolicy.no_retry(), timeout=0.3)
        # a redirect is not followed: the receiver sees exactly one request
        assert len(rx.wait_for(1)) == 1
    d = store.get_delivery(delivery_id)
    assert d.status == "failed"
    [attempt] = d.attempt_log
    assert (attempt.outcome, attempt.status_code) == (outcome, status)
    assert attempt.error
    if outcome == "timeout":
        assert "0.3 s" in attempt.error


def test_a_refused_connection_is_a_failed_attempt(store: Store) -> None:
    [delivery_id] = deliver(store, closed_port_url(), make_events(1), policy=RetryPolicy(max_attempts=2))
    d = store.get_delivery(delivery_id)
    assert (d.status, d.attempts) == ("failed", 2)
    assert {a.outcome for a in d.attempt_log} == {"connection"}
    assert "refused" in (d.last_error or "").lower()


def test_a_tls_error_is_a_failed_attempt(store: Store) -> None:
    with TLSGarbageServer() as tls:
        [delivery_id] = deliver(store, tls.url, make_events(1), policy=RetryPolicy.no_retry())
    assert store.get_delivery(delivery_id).attempt_log[0].outcome == "tls"


def test_response_log_keeps_the_first_64_kib(store: Store) -> None:
    with Receiver([("body", 200_000)]) as rx:
        [delivery_id] = deliver(store, rx.url, make_events(1))
    [attempt] = store.get_delivery(delivery_id).attempt_log
    assert attempt.ok and attempt.response_body == b"x" * 65536


def test_rate_spaces_requests_out(store: Store, receiver: Receiver) -> None:
    hook = store.upsert_webhook(receiver.url)
    with Deliverer(store, options=fast(), concurrency=8, rate=100) as d:
        submitted = time.time()
        d.submit_many(make_events(6), hook)
        assert d.wait(10)
    last = max(r.at for r in receiver.wait_for(6))
    # 6 requests at 100/s: the sixth slot is 50 ms after the first, which is no earlier
    # than the submit. A lower bound from a time taken before any send, so a slow machine
    # cannot break it (the gap between two arrivals can shrink when the first is late).
    assert last - submitted >= 5 * 0.01


def test_a_delivery_gives_up_after_six_attempts(store: Store) -> None:
    with Receiver(default=503) as rx:
        [delivery_id] = deliver(store, rx.url, make_events(1))
        assert len(rx.wait_for(6)) == 6
    d = store.get_delivery(delivery_id)
    assert (d.status, d.attempts, d.last_status) == ("failed", 6, 503)
    assert [s.number for s in d.schedule] == [1, 2, 3, 4, 5, 6]


# -- the schedule --------------------------------------------------------------------------


def test_nominal_schedule_grows_from_30_seconds_to_10_minutes() -> None:
    policy = RetryPolicy(jitter=0)
    delays = policy.delays(random.Random(0))
    assert len(delays) == 5
    assert delays[0] == pytest.approx(30)
    assert delays[-1] == pytest.approx(600)
    assert all(b > a * 1.9 for a, b in itertools.pairwise(delays))


def test_jitter_stays_within_its_bounds_and_30s_to_10min() -> None:
    policy = RetryPolicy()
    seen: list[list[float]] = []
    for seed in range(300):
        delays = policy.delays(random.Random(seed))
        for retry, delay in enumerate(delays, start=1):
            lo, hi = policy.bounds(retry)
            assert 30 <= lo <= delay <= hi <= 600
        seen.append(delays)
    # jitter really varies the waits
    assert len({round(d[2], 3) for d in seen}) > 100


def test_delays_are_a_pure_function_of_the_rng() -> None:
    assert RetryPolicy().delays(random.Random(5)) == RetryPolicy().delays(random.Random(5))


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"min_delay": 0}, {"min_delay": 700}, {"jitter": 1.5}])
def test_impossible_policies_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        RetryPolicy(**kwargs)


def test_scaled_schedule_is_logged_unscaled_and_respected(store: Store) -> None:
    scale = 6000.0  # 30 s..600 s become 5..100 ms
    with Receiver(default=503) as rx:
        [delivery_id] = deliver(store, rx.url, make_events(1), time_scale=scale)
        reqs = rx.wait_for(6)
    d = store.get_delivery(delivery_id)
    retries = [s for s in d.schedule if s.kind == "retry"]
    policy = RetryPolicy()
    for n, s in enumerate(retries, start=1):
        lo, hi = policy.bounds(n)
        assert lo <= s.delay_s <= hi  # the real Zenoti schedule, unscaled
        assert s.time_scale == scale
        assert s.due_at - s.scheduled_at == pytest.approx(s.delay_s / scale, abs=1e-6)
    gaps = [b.at - a.at for a, b in itertools.pairwise(reqs)]
    for gap, s in zip(gaps, retries, strict=False):  # each retry with the gap before it
        assert gap >= s.delay_s / scale - 0.002


class FakeClock:
    """Time that moves only when slept through: the real schedule without real waiting."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_unscaled_schedule_runs_on_an_injected_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    with Receiver(default=503) as rx, Store(tmp_path / "log.sqlite3", clock=clock.time) as store:
        hook = store.upsert_webhook(rx.url, secret=SECRET)
        with Deliverer(
            store,
            concurrency=1,
            clock=clock.time,
            sleep=clock.sleep,
            rng=random.Random(1),
            options=DeliveryOptions(timeout=2),
        ) as d:
            [delivery_id] = d.submit_many(make_events(1), hook)
            assert d.wait(30)
        assert len(rx.requests) == 6
    with Store(tmp_path / "log.sqlite3") as store:
        delivery = store.get_delivery(delivery_id)
        store_delays = [s.delay_s for s in delivery.schedule if s.kind == "retry"]
    assert store_delays == pytest.approx(RetryPolicy().delays(random.Random(1)))
    assert sum(clock.slept) == pytest.approx(sum(store_delays))
    assert delivery.status == "failed"


# -- deactivation -----------------------------------------------------------------------


def test_twenty_failed_attempts_in_a_row_deactivate_the_webhook(store: Store) -> None:
    with Receiver(default=503) as rx:
        hook = store.upsert_webhook(rx.url, secret=SECRET)
        with Deliverer(store, options=fast(policy=RetryPolicy.no_retry()), concurrency=1) as d:
            ids = d.submit_many(make_events(25), hook)
            assert d.wait(30)
        assert len(rx.requests) == 20
    after = store.get_webhook(hook.id)
    assert not after.active and after.consecutive_failures == 20 and after.deactivated_at
    statuses = [store.get_delivery(i) for i in ids]
    assert all(d.status == "failed" for d in statuses)
    assert sum(d.attempts for d in statuses) == 20
    assert all("deactivated" in (d.last_error or "") for d in statuses if d.attempts == 0)
    with Deliverer(store, concurrency=1) as d, pytest.raises(WebhookInactive, match="reactivate"):
        d.submit(make_events(1)[0], hook)


def test_reactivation_brings_a_webhook_back_with_a_fresh_count(store: Store) -> None:
    hook = store.create_webhook("http://127.0.0.1:9/hook")
    store.update_webhook(hook.id, active=False)
    back = store.reactivate("http://127.0.0.1:9/hook")
    assert back.active and back.consecutive_failures == 0 and back.deactivated_at is None


def test_a_success_resets_the_failure_count(store: Store) -> None:
    with Receiver([503] * 19 + [200, 503]) as rx:
        hook = store.upsert_webhook(rx.url)
        with Deliverer(store, options=fast(policy=RetryPolicy.no_retry()), concurrency=1) as d:
            d.submit_many(make_events(21), hook)
            assert d.wait(30)
    after = store.get_webhook(hook.id)
    assert after.active and after.consecutive_failures == 1


def test_failures_can_be_counted_per_event_instead(store: Store) -> None:
    with Receiver(default=503) as rx:
        hook = store.upsert_webhook(rx.url)
        opts = fast(policy=RetryPolicy(max_attempts=2), failure_unit="event", deactivate_after=3)
        with Deliverer(store, options=opts, concurrency=1) as d:
            d.submit_many(make_events(5), hook)
            assert d.wait(30)
        # five first attempts (all due at once), then retries: the third event whose
        # retries run out deactivates, so two events never get their retry
        assert len(rx.requests) == 8
    after = store.get_webhook(hook.id)
    assert not after.active and after.consecutive_failures == 3


# -- replay, resume, concurrency ------------------------------------------------------------


def test_replay_is_a_new_attempt_of_the_same_event(store: Store) -> None:
    with Receiver([500]) as rx:
        [delivery_id] = deliver(store, rx.url, make_events(1), policy=RetryPolicy.no_retry())
        assert store.get_delivery(delivery_id).status == "failed"
        with Deliverer(store, options=fast()) as d:
            d.replay(delivery_id)
            assert d.wait(10)
        first, second = rx.wait_for(2)
    assert first.body == second.body
    d2 = store.get_delivery(delivery_id)
    assert (d2.status, d2.attempts) == ("delivered", 2)
    assert [a.number for a in d2.attempt_log] == [1, 2]
    assert d2.schedule[-1].kind == "replay"


def test_replay_refuses_unknown_and_pending_deliveries(store: Store) -> None:
    with Deliverer(store) as d, pytest.raises(NotFound):
        d.replay(999)


def test_pending_retries_survive_close_and_resume(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    with Receiver([503]) as rx:
        with Store(path) as store:
            hook = store.upsert_webhook(rx.url, secret=SECRET)
            # time scale 1: the retry is due in 30 s, so it is still pending at close
            with Deliverer(store, options=DeliveryOptions(timeout=2)) as d:
                [delivery_id] = d.submit_many(make_events(1), hook)
                assert d.wait(10, settle=False)
            assert store.get_delivery(delivery_id).status == "pending"
            [sched] = store.pending_schedule()
            assert 24 <= sched.delay_s <= 36
        # pretend the retry is due now (the test does not wait 30 s)
        with (
            Store(path, clock=lambda: sched.due_at + 1) as store,
            Deliverer(store, clock=lambda: sched.due_at + 1) as d,
        ):
            assert d.resume_pending() == [delivery_id]
            assert d.wait(10)
            d2 = store.get_delivery(delivery_id)
        assert len(rx.requests) == 2
    assert (d2.status, d2.attempts) == ("delivered", 2)


def test_concurrent_deliveries_lose_and_double_no_row(store: Store) -> None:
    n = 300
    rng = random.Random(3)
    script = [rng.choice([200, 200, 200, 503]) for _ in range(2 * n)]
    with Receiver(script) as rx:
        ids = deliver(store, rx.url, make_events(n), concurrency=8)
        received = list(rx.requests)
    assert len(ids) == len(set(ids)) == n
    page, _ = store.list_deliveries(ids=ids, limit=None)
    assert len(page) == n and all(d.status == "delivered" for d in page)
    assert sum(d.attempts for d in page) == len(received)
    # each call reached the receiver once with a 2xx: the attempt rows agree
    attempts = [a for i in ids for a in store.get_delivery(i).attempt_log]
    assert len(attempts) == len(received)
    assert len({(a.delivery_id, a.number) for a in attempts}) == len(attempts)
    assert Counter(a.delivery_id for a in attempts if a.ok) == Counter(ids)
    assert Counter(json.loads(r.body)["id"] for r in received) == Counter(
        {e["id"]: store.get_delivery(i).attempts for e, i in zip(make_events(n), ids, strict=True)}
    )


def test_deliverer_refuses_bad_settings(store: Store) -> None:
    with pytest.raises(UsageError):
        Deliverer(store, concurrency=0)
    with pytest.raises(UsageError):
        DeliveryOptions(time_scale=0)
    with pytest.raises(UsageError):
        DeliveryOptions(failure_unit="minute")


def test_deleting_a_webhook_fails_its_queued_retries(store: Store) -> None:
    with Receiver([503]) as rx:
        hook = store.upsert_webhook(rx.url)
        with Deliverer(store, options=DeliveryOptions(timeout=2)) as d:  # retry due in 30 s
            [delivery_id] = d.submit_many(make_events(1), hook)
            assert d.wait(10, settle=False)
            store.delete_webhook(hook.id)
        with Deliverer(store) as d:
            assert d.resume_pending() == []
    d2 = store.get_delivery(delivery_id)
    assert (d2.status, d2.last_error, d2.attempts) == ("failed", "webhook deleted", 1)


def test_a_closed_deliverer_refuses_new_work(store: Store) -> None:
    d = Deliverer(store, concurrency=1)
    d.close()
    with pytest.raises(RuntimeError, match="closed"):
        d.submit(make_events(1)[0], store.upsert_webhook("http://127.0.0.1:9/h"))


def test_submit_many_draws_events_only_as_fast_as_they_are_sent(store: Store, receiver: Receiver) -> None:
    hook = store.upsert_webhook(receiver.url)
    drawn_ahead: list[int] = []

    def events() -> Iterator[dict[str, Any]]:
        for i, e in enumerate(make_events(200)):
            drawn_ahead.append(i - len(receiver.requests))
            yield e

    with Deliverer(store, options=fast(), concurrency=2, max_queued=10) as d:
        ids = d.submit_many(events(), hook, batch=5)
        assert d.wait(30)
    assert len(ids) == 200 and len(receiver.requests) == 200
    # drawn but not yet received: at most max_queued (running included), the batch
    # that crossed it, and the batch being gathered
    assert max(drawn_ahead) <= 10 + 5 + 5
    assert max(drawn_ahead) >= 5  # it did run ahead, within its bound


def test_cookies_a_receiver_sets_are_not_sent_back(store: Store) -> None:
    with Receiver([("set-cookie",)]) as rx:
        with Deliverer(store, options=fast(), concurrency=1) as d:
            for url in (rx.url, rx.url + "/other"):  # same host, a fresh request each
                d.submit(make_events(1)[0], store.upsert_webhook(url))
                assert d.wait(10)
        _first, second = rx.wait_for(2)
    assert "cookie" not in second.headers
