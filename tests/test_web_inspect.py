"""The API behind the dashboard's detail, filters, paging and the sink's secret (issue 14).

Against a live server on loopback (deliveries really go to the built-in sink); every
response is checked against /openapi.json by the LiveServer helper.
"""

from __future__ import annotations

import subprocess

import pytest

from .web_support import LiveServer, live  # noqa: F401  (fixture)


def test_detail_has_headers_both_ways_the_signature_its_verdict_and_a_working_curl(live: LiveServer) -> None:
    [d] = live.post("/api/events", json={}).json()["deliveries"]
    detail = live.settled(d["id"])
    [attempt] = detail["attempt_log"]
    assert attempt["request_headers"]["zenoti-webhook-signature"] == detail["signature"]
    assert attempt["response_headers"]["Content-Type"] == "application/json"
    assert '"signature":"valid"' in attempt["response_body"].replace(" ", "")
    assert detail["signature_check"] == "valid"

    sent = subprocess.run(["bash", "-c", detail["curl"]], capture_output=True, text=True, timeout=20)
    assert sent.returncode == 0, sent.stderr
    [again, first] = live.get("/api/sinks/default/requests?limit=2").json()["requests"]
    assert again["body"] == first["body"] == detail["body"] and again["signature"] == "valid"

    # The secret changed since: the signature that was sent no longer checks out.
    live.patch("/api/webhooks/1", json={"secret": "another-secret-entirely"})
    assert live.delivery(d["id"])["signature_check"] == "invalid"
    live.patch("/api/webhooks/1", json={"secret": None})
    assert live.delivery(d["id"])["signature_check"] == "unknown"


def test_deliveries_filter_by_type_webhook_status_code_event_id_and_time_with_a_total(live: LiveServer) -> None:
    live.put("/api/sinks/down", json={"status": 500})
    down = live.post("/api/webhooks", json={"name": "down", "url": live.url + "/sink/down"}).json()
    failing = live.post("/api/events", json={"count": 2, "webhooks": [down["id"]]}).json()["deliveries"]
    good = live.post("/api/events", json={"count": 3, "webhooks": [1]}).json()["deliveries"]
    for d in failing + good:
        live.settled(d["id"])

    def total(query: str) -> int:
        return int(live.get(f"/api/deliveries?{query}").json()["total"])

    assert total("") == 5
    assert total("limit=2") == 5 and len(live.get("/api/deliveries?limit=2").json()["deliveries"]) == 2
    assert total(f"webhook={down['id']}") == 2
    assert total("status_code=500") == 2 and total("status_code=200") == 3
    assert total("status=failed&status_code=500") == 2
    assert total("event_type=AppointmentGroup.Created") == 5 and total("event_type=Guest.Nope") == 0
    one = live.delivery(good[0]["id"])
    assert total(f"event_id={one['call_id']}") == 1 and total(f"event_id={one['event_id']}") == 1
    assert total("since=2999-01-01T00:00:00Z") == 0 and total("until=2000-01-01") == 0
    assert total("since=2000-01-01&until=2999-01-01T00:00:00%2B02:00") == 5


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("since=yesterday", "since"),
        ("until=2024-13-01", "until"),
        ("status_code=99", "status_code"),
        ("status_code=abc", "status_code"),
        ("event_id=" + "x" * 201, "event_id"),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(live: LiveServer, query: str, parameter: str) -> None:
    response = live.get(f"/api/deliveries?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["parameter"] == parameter


def test_the_sink_secret_is_readable_in_full_by_the_page_only(live: LiveServer) -> None:
    secret = live.get("/api/sinks/default/secret").json()["secret"]
    assert len(secret) >= 24 and live.get("/api/sinks/default").json()["secret"] == "****" + secret[-4:]
    live.put("/api/sinks/open", json={})
    assert live.get("/api/sinks/open/secret").json() == {"name": "open", "secret": None}
    assert live.get("/api/sinks/nope/secret").status_code == 404
    foreign = live.session.get(live.url + "/api/sinks/default/secret", headers={"Host": "evil.example"}, timeout=10)
    assert foreign.status_code == 403 and secret not in foreign.text
    assert "Access-Control-Allow-Origin" not in foreign.headers
