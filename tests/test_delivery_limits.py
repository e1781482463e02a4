"""A hostile receiver cannot hold an attempt past its timeout, fill memory, or leak a credential.

Real receivers on loopback (``tests/receivers.py``) answer with an endless body, drip their
body or their status line a byte at a time; the attempt must end within its timeout (plus
a margin for a busy machine), having read at most :data:`RESPONSE_LOG_LIMIT` bytes.
Timings bound behaviour here; the figures (RSS, duration) are in
``benchmarks/bench_hostile.py``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.delivery.deliverer import Deliverer
from emulator.delivery.retry import DeliveryOptions, RetryPolicy
from emulator.delivery.rows import NewDelivery
from emulator.delivery.sender import RESPONSE_LOG_LIMIT, PreparedDelivery
from emulator.delivery.store import Store
from emulator.errors import UsageError

from .receivers import Receiver

TIMEOUT = 1.0
#: what a loaded 2-core machine may add to a deadline
MARGIN = 1.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "log.sqlite3") as s:
        yield s


@pytest.fixture
def deliverer(store: Store) -> Iterator[Deliverer]:
    with Deliverer(store, concurrency=2, options=DeliveryOptions(timeout=TIMEOUT, policy=RetryPolicy.no_retry())) as d:
        yield d


def timed_send(deliverer: Deliverer, url: str) -> tuple[float, object]:
    t0 = time.monotonic()
    result = deliverer.send(PreparedDelivery("POST", url, b"{}", {}), timeout=TIMEOUT)
    return time.monotonic() - t0, result


def test_an_endless_body_is_read_up_to_the_limit_and_no_further(deliverer: Deliverer) -> None:
    with Receiver([("endless",)]) as rx:
        elapsed, result = timed_send(deliverer, rx.url)
    assert result.ok and result.status_code == 200  # type: ignore[attr-defined]
    assert len(result.response_body) == RESPONSE_LOG_LIMIT  # type: ignore[attr-defined]
    assert elapsed < TIMEOUT + MARGIN


@pytest.mark.parametrize("action", [("drip", 0.2), ("drip-head", 0.2)], ids=["body", "status line"])
def test_a_dripping_receiver_is_cut_off_at_the_timeout(deliverer: Deliverer, action: tuple[str, float]) -> None:
    with Receiver([action]) as rx:
        elapsed, result = timed_send(deliverer, rx.url)
    assert not result.ok  # type: ignore[attr-defined]
    assert result.outcome == "timeout", result.error  # type: ignore[attr-defined]
    assert f"{TIMEOUT:g} s" in result.error  # type: ignore[attr-defined]
    assert TIMEOUT - 0.1 <= elapsed < TIMEOUT + MARGIN


def test_a_dripped_delivery_is_logged_as_a_timeout_and_the_next_one_goes_through(
    store: Store, deliverer: Deliverer
) -> None:
    with Receiver([("drip", 0.2)]) as rx:
        hook = store.upsert_webhook(rx.url)
        first = deliverer.submit(b'{"id": "a"}', hook)
        deliverer.wait()
        second = deliverer.submit(b'{"id": "b"}', hook)
        deliverer.wait()
    [attempt] = store.get_delivery(first).attempt_log
    assert attempt.outcome == "timeout" and attempt.status_code is None
    assert attempt.latency_ms < (TIMEOUT + MARGIN) * 1000
    assert store.get_delivery(second).status == "delivered"


@pytest.mark.parametrize("timeout", [float("inf"), 1e308, float("nan"), 0.0, -1.0, 601.0])
def test_a_timeout_must_be_finite_and_bounded(timeout: float) -> None:
    with pytest.raises(UsageError, match="Timeout must be more than 0 and at most 600 seconds"):
        DeliveryOptions(timeout=timeout)


def test_a_log_holding_an_infinite_timeout_resumes_with_a_bounded_one(store: Store) -> None:
    # written by a version that stored --timeout inf as it was
    assert DeliveryOptions.from_dict({"timeout": float("inf")}).timeout == 600.0
    with Receiver() as rx:
        hook = store.upsert_webhook(rx.url)
        store.create_deliveries([_stored(hook, {"timeout": float("inf")})])
        with Deliverer(store, concurrency=1) as deliverer:
            [delivery_id] = deliverer.resume_pending()
            deliverer.wait()
    assert store.get_delivery(delivery_id).status == "delivered"


def _stored(hook: object, options: dict[str, object]) -> NewDelivery:
    return NewDelivery(body=b'{"id": "x"}', event_type=None, call_id="x", event_id=None, webhook=hook, options=options)  # type: ignore[arg-type]


def test_credentials_in_a_target_url_are_sent_but_never_logged_in_clear(store: Store, deliverer: Deliverer) -> None:
    with Receiver() as rx:
        url = rx.url.replace("http://", "http://alice:PW-s3cret@")
        hook = store.upsert_webhook(url)
        delivery_id = deliverer.submit(b'{"id": "a"}', hook)
        deliverer.wait()
        [received] = rx.wait_for(1)
    # the receiver gets the credentials it asked for...
    assert received.headers["authorization"] == "Basic " + base64.b64encode(b"alice:PW-s3cret").decode()
    # ...and nothing the log shows holds them
    d = store.get_delivery(delivery_id)
    assert d.status == "delivered"
    shown = repr(d.to_dict()) + repr([a.to_dict() for a in d.attempt_log]) + repr(hook.to_dict()) + hook.name
    assert "PW-s3cret" not in shown
    assert base64.b64encode(b"alice:PW-s3cret").decode() not in shown
    assert d.attempt_log[0].request_headers["Authorization"] == "Basic <redacted>"
    assert "alice:****@" in d.to_dict()["url"]


def test_a_credential_logged_before_masking_is_masked_when_read(store: Store, deliverer: Deliverer) -> None:
    import json
    import sqlite3

    with Receiver() as rx:
        delivery_id = deliverer.submit(b'{"id": "a"}', store.upsert_webhook(rx.url))
        deliverer.wait()
    with sqlite3.connect(store.path) as db:  # as an older version wrote it
        db.execute("UPDATE attempts SET request_headers = ?", (json.dumps({"Authorization": "Basic YWxpY2U6UFc="}),))
    [attempt] = store.get_delivery(delivery_id).attempt_log
    assert attempt.request_headers == {"Authorization": "Basic <redacted>"}
