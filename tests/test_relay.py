"""The relay: tests play Zenoti over real HTTP on loopback, through the relay (waitress, a real
SQLite log, the real Deliverer) to a real local receiver that is up, slow, down and back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from waitress import create_server, wasyncore

from emulator.captures.relay import Relay, RelayLine, RelaySettings
from emulator.delivery import signing
from emulator.delivery.deliverer import Deliverer
from emulator.delivery.retry import DeliveryOptions
from emulator.delivery.sender import serialize
from emulator.delivery.store import Store
from emulator.errors import UsageError
from emulator.events.generate import generate_events
from emulator.web.relay import create_relay_app

from .receivers import Receiver, closed_port_url
from .web_support import wait_for

ZENOTI_SECRET = "zenoti-side-secret"
LOCAL_SECRET = "receiver-own-secret"
#: Zenoti gives a receiver 10 s: every request below is made with that timeout.
ZENOTI_TIMEOUT = 10


#: A fixed clock: the same seed gives the same bytes.
NOW = datetime(2024, 7, 25, 14, 52, 6, tzinfo=UTC)


def event(seed: int = 1, **data: Any) -> dict[str, Any]:
    ev = next(iter(generate_events("AppointmentGroup.Created", count=1, seed=seed, now=NOW)))
    ev["data"].update(data)
    return ev


class RelayServer:
    """A Relay on waitress in a thread, over a real log and a real Deliverer."""

    def __init__(self, db: Path, forward_to: str, *, max_body: int = 1024 * 1024, **settings: Any) -> None:
        settings.setdefault("options", DeliveryOptions(time_scale=100.0, timeout=5.0, deactivate_after=0))
        self.store = Store(db)
        self.deliverer = Deliverer(self.store, concurrency=4)
        self.lines: list[RelayLine] = []
        self.relay = Relay(self.store, self.deliverer, RelaySettings(forward_to, **settings), on_line=self.lines.append)
        self.server = create_server(
            create_relay_app(self.relay, max_content_length=max_body), host="127.0.0.1", port=0, threads=8
        )
        self.url = f"http://127.0.0.1:{self.server.effective_port}/zenoti"  # type: ignore[union-attr]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                wasyncore.loop(timeout=0.05, use_poll=True, map=self.server._map, count=1)  # type: ignore[union-attr]
        finally:
            wasyncore.close_all(self.server._map)  # type: ignore[union-attr]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.server.task_dispatcher.shutdown()  # type: ignore[union-attr]
        self.deliverer.close()
        self.store.close()

    def send(
        self,
        body: bytes,
        *,
        secret: str | None = ZENOTI_SECRET,
        method: str = "POST",
        content_type: str | None = "application/json",
        **kwargs: Any,
    ) -> requests.Response:
        """What Zenoti does: the raw bytes, signed, with its 10 s timeout."""
        headers = dict(kwargs.pop("headers", {}))
        if content_type is not None:
            headers["Content-Type"] = content_type
        if secret is not None:
            headers[signing.SIGNATURE_HEADER] = signing.sign(body, secret)
        return requests.request(method, self.url, data=body, headers=headers, timeout=ZENOTI_TIMEOUT, **kwargs)

    def delivery(self, delivery_id: int) -> Any:
        return self.store.get_delivery(delivery_id)

    def captures(self) -> list[Any]:
        return list(self.store.captures())


@pytest.fixture
def make_relay(tmp_path: Path) -> Iterator[Any]:
    made: list[RelayServer] = []

    def make(forward_to: str, **settings: Any) -> RelayServer:
        made.append(RelayServer(tmp_path / "log.sqlite3", forward_to, **settings))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_a_signed_event_is_kept_byte_for_byte_checked_and_forwarded_once(make_relay: Any) -> None:
    with Receiver() as rx:
        relay = make_relay(rx.url, secret=ZENOTI_SECRET)
        body = serialize(event())
        answer = relay.send(body)
        assert answer.status_code == 202
        assert answer.json()["signature"] == "valid" and answer.json()["schema"] == "valid"
        relay.deliverer.wait()
        (got,) = rx.wait_for(1)
        # the same bytes, Zenoti's signature passed on as received: a receiver sharing
        # Zenoti's secret verifies it
        assert got.body == body and got.method == "POST"
        assert signing.verify(got.body, got.headers[signing.SIGNATURE_HEADER], ZENOTI_SECRET)
        assert got.headers["content-type"] == "application/json"
        (capture,) = relay.captures()
        assert capture.body == body and capture.signature == "valid" and capture.schema_status == "valid"
        assert ("Content-Type", "application/json") in capture.headers and capture.path == "/zenoti"
        delivery = relay.delivery(capture.delivery_id)
        assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.body == body
        assert delivery.call_id == json.loads(body)["id"] and delivery.event_id == json.loads(body)["event_id"]
        (line,) = relay.lines
        text = str(line)
        for part in (
            "AppointmentGroup.Created",
            f"id={json.loads(body)['id']}",
            "sig=valid",
            "schema=valid",
            "-> 200",
            " ms",
        ):
            assert part in text


def test_forward_secret_re_signs_so_a_receiver_with_its_own_secret_verifies(make_relay: Any) -> None:
    with Receiver() as rx:
        relay = make_relay(rx.url, secret=ZENOTI_SECRET, forward_secret=LOCAL_SECRET)
        body = serialize(event())
        assert relay.send(body).status_code == 202
        hex_body = serialize(event(seed=2))
        hex_signature = signing.sign(hex_body, ZENOTI_SECRET, signature_format="hex")
        assert relay.send(hex_body, secret=None, headers={signing.SIGNATURE_HEADER: hex_signature}).status_code == 202
        relay.deliverer.wait()
        first, second = sorted(rx.wait_for(2), key=lambda r: r.body != body)
        assert signing.verify(first.body, first.headers[signing.SIGNATURE_HEADER], LOCAL_SECRET)
        assert not signing.verify(first.body, first.headers[signing.SIGNATURE_HEADER], ZENOTI_SECRET)
        # re-signed in the format Zenoti used
        assert second.headers[signing.SIGNATURE_HEADER] == signing.sign(hex_body, LOCAL_SECRET, signature_format="hex")


def test_a_bad_or_missing_signature_is_flagged_and_forwarded_by_default(make_relay: Any) -> None:
    with Receiver() as rx:
        relay = make_relay(rx.url, secret=ZENOTI_SECRET)
        unsigned, forged = serialize(event(seed=1)), serialize(event(seed=2))
        assert relay.send(unsigned, secret=None).json()["signature"] == "missing"
        assert relay.send(forged, secret="not-the-secret").json()["signature"] == "invalid"
        relay.deliverer.wait()
        assert sorted(r.body for r in rx.wait_for(2)) == sorted([unsigned, forged])
        assert [c.signature for c in relay.captures()] == ["missing", "invalid"]
        # the terminal lines come as the forwards finish, which two workers may swap
        assert sorted(line.signature for line in relay.lines) == ["invalid", "missing"]


def test_refuse_bad_signature_answers_401_keeps_the_request_and_forwards_nothing(make_relay: Any) -> None:
    with Receiver() as rx:
        relay = make_relay(rx.url, secret=ZENOTI_SECRET, refuse_bad_signature=True)
        forged, good = serialize(event(seed=1)), serialize(event(seed=2))
        answer = relay.send(forged, secret="not-the-secret")
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "bad_signature"
        assert relay.send(good).status_code == 202
        relay.deliverer.wait()
        assert [r.body for r in rx.wait_for(1)] == [good]
        refused, kept = relay.captures()
        assert refused.body == forged and refused.signature == "invalid" and refused.delivery_id is None
        assert kept.delivery_id is not None
        assert "not forwarded" in str(relay.lines[0]) and "refused" in str(relay.lines[0])


def test_refusing_needs_the_secret() -> None:
    with pytest.raises(UsageError, match="--secret"):
        RelaySettings("http://127.0.0.1:9/hook", refuse_bad_signature=True)


def test_the_test_ping_and_a_body_without_content_type_go_through_as_they_came(make_relay: Any) -> None:
    with Receiver() as rx:
        relay = make_relay(rx.url, secret=ZENOTI_SECRET)
        ping = requests.post(relay.url, timeout=ZENOTI_TIMEOUT)  # Zenoti's "Testing your trigger"
        assert ping.status_code == 202 and ping.json()["signature"] == "ping" and ping.json()["schema"] == "ping"
        body = serialize(event())
        assert relay.send(body, content_type=None).status_code == 202
        relay.deliverer.wait()
        got = {r.body: r for r in rx.wait_for(2)}
        assert got[b""].method == "POST" and signing.SIGNATURE_HEADER not in got[b""].headers
        assert "content-type" not in got[body].headers  # not added on the way
        assert [c.signature for c in relay.captures()] == ["ping", "valid"]


@pytest.mark.parametrize("verb", ["PUT", "PATCH"])
def test_the_verb_zenoti_used_is_the_verb_forwarded(make_relay: Any, verb: str) -> None:
    with Receiver() as rx:
        relay = make_relay(rx.url)
        body = serialize(event())
        assert relay.send(body, method=verb).status_code == 202
        relay.deliverer.wait()
        (got,) = rx.wait_for(1)
        assert got.method == verb and got.body == body
        assert relay.delivery(relay.captures()[0].delivery_id).verb == verb


def test_invalid_bodies_and_drift_are_logged_without_blocking(make_relay: Any) -> None:
    with Receiver() as rx:
        relay = make_relay(rx.url)
        bad = event(seed=1)
        bad["data"]["invoice_number"] = 8086  # a string in the schema
        drifted = event(seed=2, loyalty_points=12)
        drifted["data"]["appointments"][0]["appointment_type"] = 7
        bodies = [
            serialize(bad),
            serialize(drifted),
            b'{"event_type": "AppointmentGroup.Created", "id": "cut',
            b"\xff\xfe not json",
        ]
        answers = [relay.send(b, secret=None) for b in bodies]
        assert [a.status_code for a in answers] == [202] * 4
        assert [a.json()["schema"] for a in answers] == ["invalid+drift", "valid+drift", "not-json", "not-json"]
        relay.deliverer.wait()
        assert sorted(r.body for r in rx.wait_for(4)) == sorted(bodies)  # forwarded all the same
        invalid, drift, cut, garbage = relay.captures()
        assert invalid.schema_status == "invalid"
        assert invalid.report["errors"][0]["path"] == "$.data.invoice_number"
        assert "varying type $.data.invoice_number: integer" in invalid.report["drift"]
        assert drift.schema_status == "valid"
        assert "unknown field $.data.loyalty_points (integer)" in drift.report["drift"]
        assert "undocumented value $.data.appointments[*].appointment_type = 7" in drift.report["drift"]
        assert cut.body == bodies[2] and garbage.body == bodies[3]  # kept exactly, broken as they are
        assert cut.report["reason"] == "not_json"


def test_an_unknown_event_type_is_kept_forwarded_and_reported_as_drift(make_relay: Any) -> None:
    with Receiver() as rx:
        relay = make_relay(rx.url)
        body = json.dumps({"id": "66a2670cf3245482081a39a0", "event_type": "Invoice.Voided", "data": {}}).encode()
        assert relay.send(body, secret=None).json()["schema"] == "unknown-type"
        relay.deliverer.wait()
        assert rx.wait_for(1)[0].body == body
        (capture,) = relay.captures()
        assert capture.event_type == "Invoice.Voided" and capture.report["drift"] == [
            "unknown event type 'Invoice.Voided'"
        ]


def test_a_burst_is_kept_and_forwarded_exactly_once_each(make_relay: Any) -> None:
    with Receiver() as rx:
        relay = make_relay(rx.url, secret=ZENOTI_SECRET)
        bodies = [serialize(e) for e in generate_events("AppointmentGroup.Created", count=60, seed=5, now=NOW)]
        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(relay.send, bodies))
        assert [a.status_code for a in answers] == [202] * 60
        relay.deliverer.wait()
        got = rx.wait_for(60)
        assert sorted(r.body for r in got) == sorted(bodies)  # each once: no duplicate, no loss
        assert sorted(c.body for c in relay.captures()) == sorted(bodies)


def test_zenoti_is_answered_at_once_while_the_local_receiver_hangs(make_relay: Any) -> None:
    with Receiver(["stall"]) as rx:
        relay = make_relay(rx.url, options=DeliveryOptions(time_scale=100.0, timeout=3.0, deactivate_after=0))
        body = serialize(event())
        answer = relay.send(body)
        assert answer.status_code == 202
        rx.wait_for(1)
        # Zenoti has its answer while the receiver still holds the forward
        assert relay.delivery(answer.json()["delivery_id"]).attempts == 0
        relay.deliverer.wait()
        delivery = relay.delivery(answer.json()["delivery_id"])
        assert delivery.status == "delivered" and delivery.attempt_log[0].outcome == "timeout"
        assert [r.body for r in rx.requests] == [body, body]  # retried after the timeout


def test_a_receiver_that_is_down_gets_the_event_when_it_comes_back(make_relay: Any) -> None:
    url = closed_port_url()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    relay = make_relay(url, secret=ZENOTI_SECRET)
    body = serialize(event())
    answer = relay.send(body)
    assert answer.status_code == 202  # stored: Zenoti has nothing to retry
    delivery_id = answer.json()["delivery_id"]
    wait_for(lambda: relay.delivery(delivery_id).attempts >= 1, message="the first forward to fail")
    first = relay.delivery(delivery_id)
    assert first.status == "pending" and first.attempt_log[0].outcome == "connection"
    assert any(line.local == "connection" and "retry in" in line.note for line in relay.lines)
    with Receiver(port=port) as rx:
        done = wait_for(
            lambda: relay.delivery(delivery_id).status != "pending" and relay.delivery(delivery_id),
            30,
            message="the forward to be retried",
        )
        assert done.status == "delivered"
        relay.deliverer.wait()
        assert [r.body for r in rx.requests] == [body]  # once, now that it is back
        assert rx.requests[0].path == "/hook"


def test_a_request_stored_while_shutting_down_is_forwarded_at_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    with Receiver() as rx:
        first = RelayServer(db, rx.url)
        first.deliverer.close()  # stopping: the server still answers, the forwarder is gone
        body = serialize(event())
        answer = first.send(body)
        assert answer.status_code == 202  # stored, so Zenoti must not send it again
        first.close()
        assert rx.requests == []
        second = RelayServer(db, rx.url)
        try:
            assert second.deliverer.resume_pending() == [answer.json()["delivery_id"]]  # what `relay` does at start
            second.deliverer.wait()
            assert second.delivery(answer.json()["delivery_id"]).status == "delivered"
        finally:
            second.close()
        assert [r.body for r in rx.requests] == [body]
        # its line, from what the first run kept
        (line,) = second.lines
        assert (line.event_type, line.signature, line.schema, line.local) == (
            "AppointmentGroup.Created",
            "not_checked",
            "valid",
            "200",
        )


class TestMirrorStatus:
    def test_passes_the_receivers_status_back(self, make_relay: Any) -> None:
        with Receiver([503, 200]) as rx:
            relay = make_relay(rx.url, mirror_status=True)
            body = serialize(event())
            failed = relay.send(body)
            assert failed.status_code == 503 and failed.json()["local"] == 503
            assert relay.send(body).status_code == 200
            relay.deliverer.wait()
            # Zenoti retries a 503 itself: the relay made one attempt per request
            assert len(rx.requests) == 2
            assert [relay.delivery(c.delivery_id).status for c in relay.captures()] == ["failed", "delivered"]

    def test_a_receiver_that_is_down_is_a_502(self, make_relay: Any) -> None:
        relay = make_relay(closed_port_url(), mirror_status=True)
        answer = relay.send(serialize(event()))
        assert answer.status_code == 502 and answer.json()["local"] == "connection"
        assert relay.captures()[0].body == serialize(event())  # kept all the same

    def test_a_receiver_that_hangs_is_a_504_before_zenoti_gives_up(self, make_relay: Any) -> None:
        with Receiver(["stall"]) as rx:
            relay = make_relay(rx.url, mirror_status=True, mirror_deadline=0.5)
            answer = relay.send(serialize(event()))
            assert answer.status_code == 504
            rx.wait_for(1)


def test_the_endpoint_bounds_its_body_and_serves_nothing_else(make_relay: Any) -> None:
    with Receiver() as rx:
        relay = make_relay(rx.url, max_body=2048)
        too_big = relay.send(b'{"x": "' + b"a" * 4096 + b'"}', secret=None)
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "request_entity_too_large"
        chunked = relay.send(iter([b"a" * 1500, b"b" * 1500]), secret=None)  # no Content-Length
        assert chunked.status_code == 413
        base = relay.url.rsplit("/", 1)[0]
        for path in ("/", "/api/health", "/api/deliveries", "/sink/default"):
            answer = requests.get(base + path, timeout=ZENOTI_TIMEOUT)
            assert answer.status_code == 405 and answer.json()["error"]["code"] == "method_not_allowed"
        # a foreign Host (a tunnel's name) is fine here: this is the tunnel's way in
        assert relay.send(b"{}", secret=None, headers={"Host": "abc123.trycloudflare.com"}).status_code == 202
        assert relay.send(b"", secret=None, method="DELETE").status_code == 405
        relay.deliverer.wait()
        assert len(rx.requests) == 1 and ("Host", "abc123.trycloudflare.com") in relay.captures()[0].headers


def test_headers_are_bounded_in_number_and_length(make_relay: Any) -> None:
    with Receiver() as rx:
        relay = make_relay(rx.url)
        many = {"X-Long": "a" * 20_000, **{f"X-Extra-{i:03d}": "v" for i in range(100)}}
        assert relay.send(b"{}", secret=None, headers=many).status_code == 202
        relay.deliverer.wait()
        (capture,) = relay.captures()
        assert len(capture.headers) == 64  # MAX_HEADERS, in the order received
        (got,) = rx.wait_for(1)
        assert "x-extra-099" not in got.headers and len([h for h in got.headers if h.startswith("x-extra-")]) <= 64
        assert len(dict(capture.headers)["X-Long"]) == 8192  # MAX_HEADER_VALUE
        assert got.headers["x-long"] == "a" * 8192


def test_a_request_that_cannot_be_kept_is_answered_503_so_zenoti_sends_it_again(
    make_relay: Any, tmp_path: Path
) -> None:
    import sqlite3

    with Receiver() as rx:
        relay = make_relay(rx.url)
        with sqlite3.connect(tmp_path / "log.sqlite3") as conn:  # a log that broke under the relay
            conn.execute("DROP TABLE captures")
        answer = relay.send(serialize(event()), secret=None)
        assert answer.status_code == 503 and answer.json()["error"]["message"].endswith("send it again.")
        relay.deliverer.wait()
        assert rx.requests == []  # nothing forwarded that was not kept
