"""The app on a real server (waitress on loopback): sinks, fan-out, deactivation, replay.

Deliveries go over real sockets, to the app's own sinks or to an independent receiver
(``tests/receivers.py``); retry waits are scaled down 10 000 times; every wait is a poll
with a deadline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import requests

from .receivers import Receiver
from .web_support import LiveServer, live, wait_for  # noqa: F401  (fixtures)

TYPE = "AppointmentGroup.Created"


def independent_signature(body: bytes, secret: str) -> str:
    """Zenoti's reported format, computed here without emulator.delivery.signing."""
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256 =" + "-".join(f"{b:02X}" for b in mac)


def captured(live: LiveServer, sink: str, n: int) -> list[dict[str, Any]]:
    return wait_for(
        lambda: (rows := live.get(f"/api/sinks/{sink}/requests").json()["requests"]) and len(rows) >= n and rows,
        message=f"{n} requests at sink {sink}",
    )


def new_sink_webhook(live: LiveServer, name: str, *, secret: str | None = None, **sink: Any) -> dict[str, Any]:
    live.put(f"/api/sinks/{name}", json={"secret": secret, **sink})
    response = live.post(
        "/api/webhooks", json={"name": name, "url": f"{live.url}/sink/{name}", "secret": secret, "event_types": [TYPE]}
    )
    assert response.status_code == 201
    return response.json()  # type: ignore[no-any-return]


# -- a fresh start works with nothing else running -----------------------------------


def test_a_fresh_start_fires_to_the_built_in_sink_and_the_signature_verifies(live: LiveServer) -> None:
    hooks = live.get("/api/webhooks").json()["webhooks"]
    assert [h["url"] for h in hooks] == [f"{live.url}/sink/default"]

    fired = live.post("/api/events", json={"seed": 4}).json()
    delivery = live.settled(fired["deliveries"][0]["id"])
    assert delivery["status"] == "delivered" and delivery["last_status_code"] == 200
    assert delivery["attempt_log"][0]["latency_ms"] is not None

    [request] = captured(live, "default", 1)
    assert request["signature"] == "valid" and request["status"] == 200 and request["method"] == "POST"
    assert request["json"]["id"] == fired["events"][0]["id"]
    assert request["body"] == delivery["body"]  # the bytes sent are the bytes logged
    headers = {k.lower(): v for k, v in request["headers"]}
    assert headers["zenoti-webhook-signature"].startswith("sha256 =")


# -- the sink -----------------------------------------------------------------------


def test_the_sink_checks_signatures_and_answers_401_to_bad_ones(live: LiveServer) -> None:
    secret = "sink-secret-1234"
    live.put("/api/sinks/checked", json={"secret": secret})
    body = b'{"id": "x"}'
    url = f"{live.url}/sink/checked"
    with requests.Session() as s:
        good = s.post(
            url, data=body, headers={"zenoti-webhook-signature": independent_signature(body, secret)}, timeout=5
        )
        bad = s.put(
            url, data=body, headers={"zenoti-webhook-signature": independent_signature(body, "wrong")}, timeout=5
        )
        missing = s.patch(url, data=body, timeout=5)
        ping = s.post(url, timeout=5)  # Zenoti's "Testing your trigger": empty, unsigned
    assert [r.status_code for r in (good, bad, missing, ping)] == [200, 401, 401, 200]
    assert [r.json()["signature"] for r in (good, bad, missing, ping)] == ["valid", "invalid", "missing", "ping"]
    rows = live.get("/api/sinks/checked/requests").json()["requests"]
    assert [(r["method"], r["signature"], r["status"]) for r in rows] == [
        ("POST", "ping", 200),
        ("PATCH", "missing", 401),
        ("PUT", "invalid", 401),
        ("POST", "valid", 200),
    ]
    assert live.get("/api/sinks/checked/requests?after=" + str(rows[1]["id"])).json()["requests"] == rows[:1]


def test_the_sink_stores_any_body_raw_without_a_content_type(live: LiveServer) -> None:
    live.put("/api/sinks/raw")
    with requests.Session() as s:
        s.post(f"{live.url}/sink/raw", data=b"\xff\x00 not json", headers={"Content-Type": ""}, timeout=5)
    [row] = captured(live, "raw", 1)
    assert row["body"] is None and row["body_base64"] == "/wAgbm90IGpzb24=" and row["signature"] == "not_checked"


def test_an_unknown_sink_is_a_json_404(live: LiveServer) -> None:
    with requests.Session() as s:
        response = s.post(f"{live.url}/sink/nobody", data=b"{}", timeout=5)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_scripted_sink_rehearses_retries_until_delivered(live: LiveServer) -> None:
    hook = new_sink_webhook(live, "flaky", secret="flaky-secret", script=[503, 500], status=200)
    fired = live.post("/api/events", json={"webhooks": [hook["id"]]}).json()
    delivery = live.settled(fired["deliveries"][0]["id"])
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempt_log"]] == [503, 500, 200]
    rows = captured(live, "flaky", 3)
    assert len({r["json"]["id"] for r in rows}) == 1  # every retry is the same call
    assert all(r["signature"] == "valid" for r in rows)
    assert live.get(f"/api/webhooks/{hook['id']}").json()["failure_count"] == 0  # a success resets it


def test_a_slow_sink_shows_its_delay_in_the_latency(live: LiveServer) -> None:
    hook = new_sink_webhook(live, "slow", delay_ms=150)
    fired = live.post("/api/events", json={"webhooks": [hook["id"]]}).json()
    delivery = live.settled(fired["deliveries"][0]["id"])
    assert delivery["status"] == "delivered" and delivery["latency_ms"] >= 150


# -- webhooks: fan-out, one-off targets, deactivation, replay, ping ------------------


def test_an_event_goes_to_every_active_subscribed_webhook_and_no_other(live: LiveServer) -> None:
    secret = "independent-receiver-secret"
    with Receiver() as rx:
        outside = live.post(
            "/api/webhooks",
            json={"name": "outside", "url": rx.url, "secret": secret, "verb": "PUT", "event_types": [TYPE]},
        ).json()
        sinked = new_sink_webhook(live, "second", secret="s2-secret")
        off = new_sink_webhook(live, "off")
        live.patch(f"/api/webhooks/{off['id']}", json={"active": False})
        live.post("/api/events", json={"target": {"url": rx.url + "/one-off"}})  # a one-off is no subscriber
        rx.wait_for(1)

        fired = live.post("/api/events", json={"count": 2, "seed": 9}).json()
        by_hook: dict[int, list[dict[str, Any]]] = {}
        for d in fired["deliveries"]:
            by_hook.setdefault(d["webhook_id"], []).append(d)
        default_id = live.get("/api/webhooks").json()["webhooks"][0]["id"]
        assert sorted(by_hook) == sorted([default_id, outside["id"], sinked["id"]])
        assert all(len(v) == 2 for v in by_hook.values())
        for d in fired["deliveries"]:
            assert live.settled(d["id"])["status"] == "delivered"

        received = rx.wait_for(3)[1:]
        assert [r.method for r in received] == ["PUT", "PUT"]
        assert sorted(json.loads(r.body)["id"] for r in received) == sorted(e["id"] for e in fired["events"])
        for r in received:
            assert r.headers["zenoti-webhook-signature"] == independent_signature(r.body, secret)
    assert live.get("/api/sinks/off/requests").json()["requests"] == []


def test_repeated_failures_deactivate_the_webhook_and_reactivation_brings_it_back(live: LiveServer) -> None:
    hook = new_sink_webhook(live, "broken", status=500)
    fired = live.post("/api/events", json={"count": 4, "webhooks": [hook["id"]]}).json()  # 4 x 6 attempts > 20
    for d in fired["deliveries"]:
        assert live.settled(d["id"])["status"] == "failed"
    state = live.get(f"/api/webhooks/{hook['id']}").json()
    assert state["active"] is False and state["failure_count"] >= 20

    refused = live.post("/api/events", json={"webhooks": [hook["id"]]})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "webhook_inactive"
    assert live.post(f"/api/deliveries/{fired['deliveries'][0]['id']}/replay").status_code == 409
    fanned = live.post("/api/events", json={}).json()
    assert hook["id"] not in {d["webhook_id"] for d in fanned["deliveries"]}

    live.put("/api/sinks/broken", json={"status": 200})
    back = live.post(f"/api/webhooks/{hook['id']}/reactivate").json()
    assert back["active"] is True and back["failure_count"] == 0
    again = live.post("/api/events", json={"webhooks": [hook["id"]]}).json()
    assert live.settled(again["deliveries"][0]["id"])["status"] == "delivered"


def test_replay_sends_the_same_event_again(live: LiveServer) -> None:
    fired = live.post("/api/events", json={}).json()
    first = live.settled(fired["deliveries"][0]["id"])
    replayed = live.post(f"/api/deliveries/{first['id']}/replay")
    assert replayed.status_code == 202 and replayed.json()["id"] == first["id"]
    again = wait_for(lambda: (d := live.delivery(first["id"]))["attempts"] == 2 and d["status"] == "delivered" and d)
    assert [a["number"] for a in again["attempt_log"]] == [1, 2]
    rows = captured(live, "default", 2)
    assert rows[0]["body"] == rows[1]["body"]


def test_ping_sends_an_empty_unsigned_post(live: LiveServer) -> None:
    default_id = live.get("/api/webhooks").json()["webhooks"][0]["id"]
    result = live.post(f"/api/webhooks/{default_id}/ping").json()
    assert result["ok"] is True and result["status_code"] == 200
    [row] = captured(live, "default", 1)
    assert row["body_size"] == 0 and row["signature"] == "ping"
    assert live.get("/api/deliveries").json()["deliveries"] == []  # a ping is not a delivery


def test_a_one_off_target_is_delivered_and_listed(live: LiveServer) -> None:
    live.put("/api/sinks/adhoc")
    fired = live.post("/api/events", json={"target": {"url": f"{live.url}/sink/adhoc", "verb": "PATCH"}}).json()
    delivery = live.settled(fired["deliveries"][0]["id"])
    assert delivery["status"] == "delivered" and delivery["verb"] == "PATCH"
    assert captured(live, "adhoc", 1)[0]["method"] == "PATCH"
