"""The API under hostile or careless input (issue 13): each once answered 500, 405 or 415.

The client checks every response against ``/openapi.json`` (``CheckedClient``), so each
test also checks that the answer is one the document promises.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from emulator.errors import WebhookInactive
from emulator.web.services import services_of

from .test_web_api import error_of, new_webhook
from .web_support import app, client  # noqa: F401  (fixtures)

DEEP = "[" * 100_000 + "]" * 100_000
TWENTY_DIGITS = "9" * 20


def test_an_integral_float_count_is_an_integer(client: FlaskClient) -> None:
    generated = client.post("/api/events/generate", json={"count": 2.0, "seed": 3.0})
    assert generated.status_code == 200, generated.get_json()
    assert generated.get_json()["count"] == 2
    hook = new_webhook(client)
    fired = client.post("/api/events", json={"count": 2.0, "webhooks": [float(hook["id"])]})
    assert fired.status_code == 202, fired.get_json()
    assert len(fired.get_json()["deliveries"]) == 2


def test_a_sink_script_of_integral_floats_keeps_every_step(client: FlaskClient) -> None:
    put = client.put("/api/sinks/flaky", json={"script": [503.0, 502.0], "status": 200.0, "delay_ms": 0.0})
    assert put.status_code == 201, put.get_json()
    assert put.get_json()["script"] == [503, 502]
    answers = [client.post("/sink/flaky", data=b"{}").status_code for _ in range(3)]
    assert answers == [503, 502, 200]


@pytest.mark.parametrize("path", ["/api/webhooks", "/api/events/generate", "/api/sinks/x"])
def test_deeply_nested_json_is_a_400(client: FlaskClient, path: str) -> None:
    method = client.put if path.startswith("/api/sinks") else client.post
    response = method(path, data=DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 64 levels" in error_of(response)["message"]


def test_deeply_nested_captures_are_reported_invalid_by_validate(client: FlaskClient) -> None:
    response = client.post("/api/validate", data=DEEP, content_type="application/json")
    assert response.status_code == 200
    report = response.get_json()
    assert report["ok"] is False and "nested more than 64 levels" in report["events"][0]["message"]


def test_deeply_nested_set_value_is_a_400(client: FlaskClient) -> None:
    deep_value: Any = []
    for _ in range(80):
        deep_value = [deep_value]
    response = client.post("/api/events/generate", json={"set": {"data.guest.email": deep_value}})
    assert response.status_code == 400
    assert "nested more than 64 levels" in error_of(response)["message"]


@pytest.mark.parametrize("cursor", ["²", "١٢", TWENTY_DIGITS * 2, "-1", ""])
def test_a_cursor_that_is_not_ascii_digits_is_a_400(client: FlaskClient, cursor: str) -> None:
    response = client.get("/api/deliveries", query_string={"cursor": cursor})
    assert response.status_code == 400


def test_a_cursor_past_every_id_lists_from_the_newest(client: FlaskClient) -> None:
    response = client.get("/api/deliveries", query_string={"cursor": TWENTY_DIGITS[:19]})
    assert response.status_code == 200


def test_a_non_ascii_digit_in_a_set_path_is_a_key_not_an_index(client: FlaskClient) -> None:
    response = client.post("/api/events/generate", json={"set": {"data.appointments.²": 1}})
    assert response.status_code == 422
    assert "no item ²" in error_of(response)["message"]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_an_id_too_large_for_any_row_is_404_whatever_the_method(client: FlaskClient, method: str) -> None:
    response = client.open(
        f"/api/webhooks/{TWENTY_DIGITS}", method=method, json={"name": "x"} if method == "PATCH" else None
    )
    assert response.status_code == 404
    assert client.get(f"/api/deliveries/{TWENTY_DIGITS}").status_code == 404
    assert client.post(f"/api/deliveries/{TWENTY_DIGITS}/replay").status_code == 404


def test_actions_with_an_optional_body_take_a_post_with_none(client: FlaskClient) -> None:
    hook = new_webhook(client)
    for path in (f"/api/webhooks/{hook['id']}/reactivate", f"/api/webhooks/{hook['id']}/ping"):
        response = client.post(path)  # no body, no Content-Type
        assert response.status_code == 200, (path, response.get_json())
    # a body that is not JSON is still refused
    assert client.post(f"/api/webhooks/{hook['id']}/ping", data="x", content_type="text/plain").status_code == 415


@pytest.mark.parametrize(
    "url", ["https://\ud9c3\udd2c/hook", "http://bücher.example/", "http://a..b/hook", "http://a b/", "http://x/\x00"]
)
def test_a_target_url_that_cannot_be_sent_to_is_a_400(client: FlaskClient, url: str) -> None:
    response = client.post("/api/webhooks", json={"url": url})
    assert response.status_code == 400, response.get_json()


def test_a_delivery_without_event_id_keeps_the_documented_shape(app: Flask, client: FlaskClient) -> None:
    hook = new_webhook(client)
    services = services_of(app)
    [delivery_id] = services.deliverer.submit_all([b'{"id": "abc"}'], [services.store.get_webhook(hook["id"])])
    listed = client.get("/api/deliveries").get_json()["deliveries"]
    assert [d["event_id"] for d in listed if d["id"] == delivery_id] == [None]
    assert client.get(f"/api/deliveries/{delivery_id}").status_code == 200


def test_credentials_in_a_target_url_are_masked_in_every_answer(app: Flask, client: FlaskClient) -> None:
    hook = new_webhook(client, url="http://alice:PW-s3cret@127.0.0.1:9/hook")
    fired = client.post("/api/events", json={"webhooks": [hook["id"]]})
    assert fired.status_code == 202
    services_of(app).deliverer.wait(settle=False)  # the first attempt; its retries are not needed
    [delivery] = fired.get_json()["deliveries"]
    texts = [
        client.get("/api/webhooks").get_data(as_text=True),
        client.get(f"/api/webhooks/{hook['id']}").get_data(as_text=True),
        client.get("/api/deliveries").get_data(as_text=True),
        client.get(f"/api/deliveries/{delivery['id']}").get_data(as_text=True),
        client.get("/").get_data(as_text=True),
    ]
    secret_b64 = base64.b64encode(b"alice:PW-s3cret").decode()
    for text in texts:
        assert "PW-s3cret" not in text and secret_b64 not in text
    assert "alice:****@127.0.0.1:9" in texts[0]


def test_fire_to_several_webhooks_is_all_or_nothing(app: Flask, client: FlaskClient) -> None:
    services = services_of(app)
    good = services.store.get_webhook(new_webhook(client)["id"])
    bad = services.store.get_webhook(new_webhook(client, name="off", active=False)["id"])
    with pytest.raises(WebhookInactive):
        services.deliverer.submit_all([b'{"id": "a"}', b'{"id": "b"}'], [good, bad])
    assert services.store.counts() == {"pending": 0, "delivered": 0, "failed": 0}
