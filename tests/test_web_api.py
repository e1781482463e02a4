"""The HTTP API in-process: every route, with good and bad input.

Every response here goes through ``CheckedClient``, which validates it against
``/openapi.json``; these tests assert the behaviour on top of that.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from emulator.events.registry import default_registry

from .web_support import app, client  # noqa: F401  (fixtures)

TYPE = "AppointmentGroup.Created"
NOW = "2024-07-25T14:52:06Z"


def error_of(response: Any) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]


def new_webhook(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "mine", "url": "http://127.0.0.1:9/hook", "secret": "a-long-secret-value", **fields}
    response = client.post("/api/webhooks", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


# -- health and event types ----------------------------------------------------------


def test_health_reports_the_database_and_delivery_counts(client: FlaskClient) -> None:
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok"
    assert body["database"].endswith("emulator.sqlite3")
    assert set(body["deliveries"]) == {"pending", "delivered", "failed"}


def test_event_types_lists_every_registered_type_with_its_schema_url(client: FlaskClient) -> None:
    listed = client.get("/api/event-types").get_json()["event_types"]
    assert [t["name"] for t in listed] == list(default_registry())
    for kind in listed:
        schema = client.get(kind["schema_url"])
        assert schema.status_code == 200
        assert schema.get_json() == default_registry()[kind["name"]].schema


def test_fields_lists_the_schema_as_rows(client: FlaskClient) -> None:
    fields = client.get(f"/api/event-types/{TYPE}/fields").get_json()["fields"]
    paths = {f["path"]: f for f in fields}
    assert paths["$.event_type"]["required"] is True
    assert any(p.startswith("$.data.appointments[*].") for p in paths)


@pytest.mark.parametrize("suffix", ["schema", "fields"])
def test_unknown_event_type_is_404_with_a_suggestion(client: FlaskClient, suffix: str) -> None:
    response = client.get(f"/api/event-types/AppointmentGroup.Create/{suffix}")
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "unknown_event_type"
    assert TYPE in error["message"]


# -- generate ------------------------------------------------------------------------


def test_generate_returns_schema_valid_events_without_delivering(client: FlaskClient) -> None:
    body = client.post("/api/events/generate", json={"event_type": TYPE, "count": 3, "seed": 7}).get_json()
    assert body["count"] == 3 and len(body["events"]) == 3
    kind = default_registry()[TYPE]
    assert all(kind.is_valid(e) for e in body["events"])
    assert client.get("/api/deliveries").get_json()["deliveries"] == []


def test_generate_with_an_empty_body_uses_the_defaults(client: FlaskClient) -> None:
    response = client.post("/api/events/generate", data="", content_type="application/json")
    assert response.status_code == 200
    assert response.get_json()["events"][0]["event_type"] == TYPE


def test_generate_is_deterministic_for_a_seed_and_a_clock(client: FlaskClient) -> None:
    ask = {"count": 2, "seed": 11, "now": NOW}
    first = client.post("/api/events/generate", json=ask).get_json()
    again = client.post("/api/events/generate", json=ask).get_json()
    other = client.post("/api/events/generate", json={**ask, "seed": 12}).get_json()
    assert first == again
    assert first != other
    # The world's clock starts at ``now``; its first booking comes a little later.
    assert "2024-07-25T14:52:06" <= first["events"][0]["event_timestamp"] < "2024-07-26"


@pytest.mark.parametrize(
    "overrides",
    [
        {"data.appointments.0.room_name": "Suite 4"},
        ['data.appointments.0.room_name="Suite 4"'],
        ["$.data.appointments[0].room_name=Suite 4"],
    ],
)
def test_generate_applies_overrides_as_object_or_assignments(client: FlaskClient, overrides: Any) -> None:
    events = client.post("/api/events/generate", json={"seed": 1, "set": overrides}).get_json()["events"]
    assert events[0]["data"]["appointments"][0]["room_name"] == "Suite 4"


def test_an_override_that_breaks_the_schema_is_422_with_the_json_pointer(client: FlaskClient) -> None:
    response = client.post("/api/events/generate", json={"seed": 1, "set": {"data.appointments.0.room_name": 5}})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "schema_violation"
    assert error["details"][0]["pointer"] == "/data/appointments/0/room_name"
    assert error["message"].endswith("Fix the value in 'set'.") and "--" not in error["message"]


def test_an_override_path_the_event_lacks_is_422(client: FlaskClient) -> None:
    response = client.post("/api/events/generate", json={"set": {"data.nope.deeper": 1}})
    assert response.status_code == 422, response.get_json()
    assert "does not exist" in error_of(response)["message"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"count": 0}, "/count"),
        ({"count": 101}, "/count"),
        ({"count": "3"}, "/count"),
        ({"seed": 1.5}, "/seed"),
        ({"colour": "red"}, "unknown field"),
        ({"set": "data.x=1"}, "/set"),
        ({"set": ["no equals sign"]}, "/set"),
        ({"profile": "chaotic"}, "profile"),
        ({"now": "yesterday"}, "yesterday"),
        ({"set": {"data..x": 1}}, "/set"),
        ({"set": ["="]}, "/set"),
        ({"set": {"": 1}}, "/set"),
        ({"now": "1969-12-31T23:59:59Z"}, "/now"),
        ({"now": "9999-12-31T00:00:00Z"}, "/now"),
        ({"count": 2.5}, "/count"),
        ({"count": 1e400}, "/count"),
    ],
)
def test_generate_rejects_malformed_fields_with_400(client: FlaskClient, body: dict[str, Any], needle: str) -> None:
    response = client.post("/api/events/generate", json=body)
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert needle in error["message"] + json.dumps(error["details"])


@pytest.mark.parametrize(
    ("data", "needle"),
    [('{"count": 1', "line 1"), ("[1, 2]", "JSON object"), ('"text"', "JSON object"), (b"\xff\xfe{}", "UTF-8")],
)
def test_malformed_json_is_400(client: FlaskClient, data: Any, needle: str) -> None:
    response = client.post("/api/events/generate", data=data, content_type="application/json")
    assert response.status_code == 400
    assert needle in error_of(response)["message"]


def test_unknown_event_type_in_a_body_is_404(client: FlaskClient) -> None:
    response = client.post("/api/events/generate", json={"event_type": "Invoice.Open"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "unknown_event_type"


# -- fire ----------------------------------------------------------------------------


def test_fire_to_a_webhook_answers_202_with_event_and_delivery_ids(client: FlaskClient) -> None:
    hook = new_webhook(client)
    response = client.post("/api/events", json={"count": 2, "seed": 3, "webhooks": [hook["id"]]})
    assert response.status_code == 202
    body = response.get_json()
    assert len(body["events"]) == 2 and len(body["deliveries"]) == 2
    assert {d["webhook_id"] for d in body["deliveries"]} == {hook["id"]}
    assert [d["call_id"] for d in body["deliveries"]] == [e["id"] for e in body["events"]]


def test_fire_to_an_inactive_webhook_is_409(client: FlaskClient) -> None:
    hook = new_webhook(client, active=False)
    response = client.post("/api/events", json={"webhooks": [hook["id"]]})
    assert response.status_code == 409
    assert error_of(response)["code"] == "webhook_inactive"
    # The dashboard shows this message: it points at the webhook's own button, not at a command.
    message = error_of(response)["message"]
    assert (
        "press Reactivate next to it under Webhooks" in message and f"/api/webhooks/{hook['id']}/reactivate" in message
    )
    assert "zenoti-emulator reactivate" not in message
    assert client.get("/api/deliveries").get_json()["deliveries"] == []


def test_fire_to_an_unknown_webhook_is_404(client: FlaskClient) -> None:
    response = client.post("/api/events", json={"webhooks": [999]})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"webhooks": [1], "target": {"url": "http://127.0.0.1:9/"}},
        {"target": {"url": "ftp://127.0.0.1/x"}},
        {"target": {"url": "file:///etc/passwd"}},
        {"target": {"url": "http://[::1/"}},
        {"target": {"url": "http://127.0.0.1:99999/"}},
        {"target": {"url": "http://"}},
        {"target": {"url": "http://127.0.0.1:9/", "verb": "GET"}},
        {"target": {}},
        {"webhooks": []},
        {"webhooks": ["1"]},
    ],
)
def test_fire_rejects_bad_targets_with_400(client: FlaskClient, body: dict[str, Any]) -> None:
    response = client.post("/api/events", json=body)
    assert response.status_code == 400, response.get_json()


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        # malformed: the API's schema refuses them
        ({"data..x": 1}, 400),
        (["no-equals-sign"], 400),
        # well formed, but the event has no such place: unprocessable
        ({"data.nope.x": 1}, 422),
        ({"data.appointments.99.room_name": "x"}, 422),
        ({"event_type.x": 1}, 422),
    ],
)
def test_a_bad_set_is_refused_and_names_no_cli_option(client: FlaskClient, overrides: Any, status: int) -> None:
    response = client.post("/api/events/generate", json={"seed": 1, "set": overrides})
    assert response.status_code == status
    assert "--" not in error_of(response)["message"]


def test_fire_with_a_breaking_override_is_422_and_queues_nothing(client: FlaskClient) -> None:
    hook = new_webhook(client)
    response = client.post("/api/events", json={"webhooks": [hook["id"]], "set": {"event_type": 3}})
    assert response.status_code == 422
    assert error_of(response)["details"][0]["pointer"] == "/event_type"
    assert client.get("/api/deliveries").get_json()["deliveries"] == []


# -- webhooks ------------------------------------------------------------------------


def test_webhook_lifecycle(client: FlaskClient) -> None:
    hook = new_webhook(client, event_types=[TYPE], verb="PUT")
    assert hook["event_types"] == [TYPE] and hook["verb"] == "PUT" and hook["active"] is True
    assert client.get(f"/api/webhooks/{hook['id']}").get_json() == hook
    assert hook["id"] in [h["id"] for h in client.get("/api/webhooks").get_json()["webhooks"]]

    changed = client.patch(f"/api/webhooks/{hook['id']}", json={"name": "renamed", "active": False}).get_json()
    assert changed["name"] == "renamed" and changed["active"] is False
    back = client.post(f"/api/webhooks/{hook['id']}/reactivate", json={}).get_json()
    assert back["active"] is True and back["failure_count"] == 0

    unsigned = client.patch(f"/api/webhooks/{hook['id']}", json={"secret": None}).get_json()
    assert unsigned["secret"] is None and unsigned["has_secret"] is False

    assert client.delete(f"/api/webhooks/{hook['id']}").status_code == 204
    assert client.get(f"/api/webhooks/{hook['id']}").status_code == 404


def test_create_webhook_answers_with_its_location(client: FlaskClient) -> None:
    response = client.post("/api/webhooks", json={"url": "https://example.test/hook"})
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/webhooks/{response.get_json()['id']}"
    assert response.get_json()["event_types"] == ["*"]


def test_secrets_are_never_returned_in_full(client: FlaskClient) -> None:
    secret = "do-not-show-this-secret-9F3A"
    hook = new_webhook(client, secret=secret)
    assert hook["secret"] != secret and hook["secret"].endswith("9F3A") and hook["has_secret"] is True
    for path in ("/api/webhooks", f"/api/webhooks/{hook['id']}"):
        assert secret not in client.get(path).get_data(as_text=True)
    client.put("/api/sinks/guarded", json={"secret": secret})
    for path in ("/api/sinks", "/api/sinks/guarded", "/"):
        assert secret not in client.get(path).get_data(as_text=True)


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.test/"},
        {"url": "javascript:alert(1)"},
        {"url": "http://[::1/"},
        {"url": "http://example.test/", "verb": "DELETE"},
        {"url": "http://example.test/", "event_types": []},
        {"url": "http://example.test/", "name": ""},
        {"name": "no url"},
        {"url": "http://example.test/", "active": "yes"},
    ],
)
def test_create_webhook_rejects_bad_fields_with_400(client: FlaskClient, body: dict[str, Any]) -> None:
    assert client.post("/api/webhooks", json=body).status_code == 400


def test_a_webhook_with_an_unknown_event_type_is_422_naming_the_field(client: FlaskClient) -> None:
    # 422, not 404: the webhook path exists; a field of the body names nothing known
    response = client.post("/api/webhooks", json={"url": "http://example.test/", "event_types": ["*", "Nope.Never"]})
    assert response.status_code == 422
    assert error_of(response)["details"]["pointer"] == "/event_types/1"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/webhooks/999", None),
        ("PATCH", "/api/webhooks/999", {"name": "x"}),
        ("DELETE", "/api/webhooks/999", None),
        ("POST", "/api/webhooks/999/reactivate", {}),
        ("POST", "/api/webhooks/999/ping", {}),
        ("GET", "/api/webhooks/abc", None),
        ("GET", "/api/deliveries/999", None),
        ("POST", "/api/deliveries/999/replay", {}),
        ("GET", "/api/sinks/nosuch", None),
        ("GET", "/api/sinks/nosuch/requests", None),
        ("DELETE", "/api/sinks/nosuch", None),
        ("DELETE", "/api/sinks/nosuch/requests", None),
        ("GET", "/api/nothing-here", None),
    ],
)
def test_unknown_ids_are_404_json(client: FlaskClient, method: str, path: str, body: Any) -> None:
    response = client.open(path, method=method, json=body)
    assert response.status_code == 404
    assert response.content_type == "application/json"
    assert error_of(response)["message"]


@pytest.mark.parametrize(
    "body",
    [{}, {"url": "ftp://x.test/"}, {"url": "http://[::1/"}, {"verb": "GET"}, {"id": 3}, {"event_types": ["*", "*"]}],
)
def test_patch_webhook_rejects_bad_fields_with_400(client: FlaskClient, body: dict[str, Any]) -> None:
    hook = new_webhook(client)
    assert client.patch(f"/api/webhooks/{hook['id']}", json=body).status_code == 400


def test_action_endpoints_take_no_parameters(client: FlaskClient) -> None:
    hook = new_webhook(client)
    response = client.post(f"/api/webhooks/{hook['id']}/reactivate", json={"force": True})
    assert response.status_code == 400


def test_ping_reports_an_unreachable_receiver_without_failing(client: FlaskClient) -> None:
    hook = new_webhook(client)  # points at port 9, where nothing listens
    result = client.post(f"/api/webhooks/{hook['id']}/ping", json={}).get_json()
    assert result["ok"] is False and result["status_code"] is None and result["error"]


# -- deliveries ----------------------------------------------------------------------


def test_deliveries_page_with_a_cursor_and_filters(client: FlaskClient) -> None:
    hook = new_webhook(client)
    other = new_webhook(client, name="other")
    client.post("/api/events", json={"count": 3, "webhooks": [hook["id"]]})
    client.post("/api/events", json={"count": 2, "webhooks": [other["id"]]})
    first = client.get("/api/deliveries?limit=2").get_json()
    assert len(first["deliveries"]) == 2 and first["next_cursor"]
    second = client.get(f"/api/deliveries?limit=2&cursor={first['next_cursor']}").get_json()
    ids = [d["id"] for d in first["deliveries"] + second["deliveries"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    mine = client.get(f"/api/deliveries?webhook={hook['id']}").get_json()["deliveries"]
    assert {d["webhook_id"] for d in mine} == {hook["id"]} and len(mine) == 3
    for status in ("pending", "delivered", "failed"):
        rows = client.get(f"/api/deliveries?status={status}").get_json()["deliveries"]
        assert all(d["status"] == status for d in rows)


def test_delivery_detail_has_the_exact_body(client: FlaskClient) -> None:
    hook = new_webhook(client)
    fired = client.post("/api/events", json={"webhooks": [hook["id"]], "seed": 5}).get_json()
    detail = client.get(f"/api/deliveries/{fired['deliveries'][0]['id']}").get_json()
    assert json.loads(detail["body"])["id"] == fired["events"][0]["id"]
    assert isinstance(detail["attempt_log"], list)


@pytest.mark.parametrize("query", ["status=lost", "limit=0", "limit=501", "limit=ten", "webhook=x", "cursor=abc"])
def test_deliveries_rejects_bad_query_parameters_with_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/deliveries?{query}")
    assert response.status_code == 400
    assert error_of(response)["details"]["parameter"] == query.split("=")[0]


def test_replaying_a_pending_delivery_is_409(client: FlaskClient) -> None:
    hook = new_webhook(client)
    fired = client.post("/api/events", json={"webhooks": [hook["id"]]}).get_json()
    response = client.post(f"/api/deliveries/{fired['deliveries'][0]['id']}/replay", json={})
    assert response.status_code == 409


# -- sinks ---------------------------------------------------------------------------


def test_a_fresh_start_has_the_default_sink_and_its_webhook(client: FlaskClient) -> None:
    sinks = client.get("/api/sinks").get_json()["sinks"]
    assert [s["name"] for s in sinks] == ["default"]
    assert sinks[0]["has_secret"] is True
    hooks = client.get("/api/webhooks").get_json()["webhooks"]
    assert len(hooks) == 1 and hooks[0]["url"].endswith("/sink/default") and hooks[0]["active"]


def test_sink_configuration(client: FlaskClient) -> None:
    created = client.put("/api/sinks/flaky", json={"status": 503, "delay_ms": 10, "script": [500]})
    assert created.status_code == 201
    assert created.get_json()["url"].endswith("/sink/flaky")
    updated = client.put("/api/sinks/flaky", json={"status": 200})
    assert updated.status_code == 200
    sink = client.get("/api/sinks/flaky").get_json()
    assert (sink["status"], sink["delay_ms"], sink["script"]) == (200, 10, [500])  # left-out fields kept
    assert client.get("/api/sinks/flaky/requests").get_json() == {"sink": "flaky", "requests": []}
    assert client.delete("/api/sinks/flaky/requests").get_json() == {"deleted": 0}
    assert client.delete("/api/sinks/flaky").status_code == 204
    assert client.get("/api/sinks/flaky").status_code == 404


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("ok", {"status": 99}),
        ("ok", {"status": 600}),
        ("ok", {"delay_ms": -1}),
        ("ok", {"delay_ms": 60001}),
        ("ok", {"script": [200, "x"]}),
        ("ok", {"colour": 1}),
        ("-bad", {}),
        ("a" * 65, {}),
    ],
)
def test_sink_configuration_rejects_bad_input_with_400(client: FlaskClient, name: str, body: dict[str, Any]) -> None:
    assert client.put(f"/api/sinks/{name}", json=body).status_code == 400


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "after=y"])
def test_sink_requests_rejects_bad_query_parameters(client: FlaskClient, query: str) -> None:
    assert client.get(f"/api/sinks/default/requests?{query}").status_code == 400


# -- method and content errors are JSON ----------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/webhooks"),
        ("GET", "/api/events"),
        ("PUT", "/api/health"),
        ("GET", "/api/webhooks/1/reactivate"),
        ("GET", "/sink/default"),
    ],
)
def test_wrong_method_is_a_json_405_with_allow(client: FlaskClient, method: str, path: str) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.content_type == "application/json"
    assert error_of(response)["details"]["allowed"]
    assert "Allow" in response.headers


def test_openapi_document_is_served(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert doc["servers"] == [{"url": "http://localhost"}]


def test_dashboard_renders_the_page(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    text = page.get_data(as_text=True)
    for anchor in ('id="fire"', 'id="deliveries"', 'id="webhooks"', 'id="sinks"', 'id="schema"', TYPE):
        assert anchor in text
    for asset in ("/static/app.js", "/static/app.css"):
        with client.get(asset) as response:
            assert response.status_code == 200


# -- no input gives a 500 ------------------------------------------------------------

HUGE = 2**70
NASTY: list[Any] = [
    None,
    0,
    -1,
    HUGE,
    1e308,
    "",
    "\u0000",
    "☃" * 1000,
    [],
    {},
    [None],
    {"": None},
    True,
]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/events/generate", "event_type"),
        ("/api/events/generate", "seed"),
        ("/api/events/generate", "count"),
        ("/api/events/generate", "set"),
        ("/api/events/generate", "now"),
        ("/api/events/generate", "profile"),
        ("/api/events", "webhooks"),
        ("/api/events", "target"),
        ("/api/events", "seed"),
        ("/api/webhooks", "url"),
        ("/api/webhooks", "event_types"),
        ("/api/webhooks", "secret"),
        ("/api/webhooks", "name"),
    ],
)
def test_no_value_of_any_field_is_a_server_error(client: FlaskClient, path: str, field: str) -> None:
    base = {"url": "http://127.0.0.1:9/"} if path == "/api/webhooks" else {}
    for value in NASTY:
        response = client.post(path, json={**base, field: value})
        assert response.status_code < 500, (field, value, response.get_json())


@pytest.mark.parametrize(
    "path",
    [
        f"/api/webhooks/{HUGE}",
        f"/api/deliveries/{HUGE}",
        "/api/webhooks/-1",
        f"/api/deliveries?webhook={HUGE}",
        f"/api/deliveries?cursor={HUGE}",
        f"/api/sinks/default/requests?after={HUGE}",
        "/api/sinks/%00/requests",
        "/api/event-types/%2e%2e/schema",
        "/api/event-types/" + "A" * 5000 + "/schema",
    ],
)
def test_no_path_or_query_is_a_server_error(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code in (400, 404)
