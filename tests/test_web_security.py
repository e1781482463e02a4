"""What keeps a web page in the developer's browser from driving the local server."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from emulator.web.security import host_name, is_loopback
from emulator.web.services import services_of

from .web_support import app, client, make_app  # noqa: F401  (fixtures)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8025", "127.0.0.1"),
        ("[::1]:8025", "::1"),
        ("LocalHost.", "localhost"),
        ("evil.example:80", "evil.example"),
    ],
)
def test_host_name_parsing(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "127.9.9.9", "::1", "app.localhost"])
def test_loopback_names(name: str) -> None:
    assert is_loopback(name)


@pytest.mark.parametrize("name", ["evil.example", "10.0.0.1", "0.0.0.0", "localhost.evil.example"])
def test_other_names_are_not_loopback(name: str) -> None:
    assert not is_loopback(name)


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/webhooks", "/openapi.json", "/static/app.js"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8025", "192.168.1.20:8025"])
def test_a_foreign_host_is_refused_everywhere(client: FlaskClient, path: str, host: str) -> None:
    response = client.get(path, headers={"Host": host})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "host_not_allowed"


def test_a_foreign_host_cannot_fire_or_feed_a_sink(client: FlaskClient) -> None:
    fired = client.post("/api/events", json={}, headers={"Host": "rebound.example"})
    assert fired.status_code == 403
    assert client.post("/sink/default", data=b"{}", headers={"Host": "rebound.example"}).status_code == 403
    assert client.get("/api/deliveries").get_json()["deliveries"] == []


@pytest.mark.parametrize("host", ["localhost", "localhost:8025", "127.0.0.1:8025", "[::1]:8025"])
def test_loopback_hosts_are_answered(client: FlaskClient, host: str) -> None:
    assert client.get("/api/health", headers={"Host": host}).status_code == 200


def test_allowed_hosts_and_the_bound_address_extend_the_list(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        BIND_HOST="192.168.1.20",
        ALLOWED_HOSTS="tunnel.example, other.example",
        PUBLIC_URL="http://127.0.0.1:9",
    )
    try:
        client = app.test_client()
        for host in ("192.168.1.20:8025", "tunnel.example", "other.example:443"):
            assert client.get("/api/health", headers={"Host": host}).status_code == 200, host
        assert client.get("/api/health", headers={"Host": "evil.example"}).status_code == 403
    finally:
        services_of(app).close()


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        (None, '{"url": "http://127.0.0.1:9/"}'),
        ("text/plain", '{"url": "http://127.0.0.1:9/"}'),
        ("application/x-www-form-urlencoded", "url=http://127.0.0.1:9/"),
        ("multipart/form-data; boundary=x", "--x--"),
    ],
)
def test_api_writes_must_be_json(client: FlaskClient, content_type: str | None, data: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/api/webhooks", data=data, headers=headers)
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"
    assert [h["url"] for h in client.get("/api/webhooks").get_json()["webhooks"]] == ["http://127.0.0.1:9/sink/default"]


def test_json_with_a_charset_is_json(client: FlaskClient) -> None:
    response = client.post(
        "/api/events/generate", data="{}", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost:9999"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_origin_writes_are_refused(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.post("/api/events", json={}, headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "cross_origin"
    assert client.delete("/api/webhooks/1", headers=headers).status_code == 403


def test_same_origin_writes_are_accepted(client: FlaskClient) -> None:
    headers = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/api/events/generate", json={}, headers=headers).status_code == 200


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
@pytest.mark.parametrize("path", ["/api/health", "/api/events", "/sink/default", "/"])
def test_no_cors_headers_ever(client: FlaskClient, method: str, path: str) -> None:
    headers = {
        "Origin": "http://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    response = client.open(path, method=method, headers=headers, json={} if method == "POST" else None)
    # werkzeug's Headers iterates (name, value) pairs: .keys() gives the names
    assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]  # noqa: SIM118


def test_bodies_over_the_limit_are_413_json(client: FlaskClient) -> None:
    big = b'{"set": ["x=' + b"a" * (1024 * 1024) + b'"]}'
    response = client.post("/api/events/generate", data=big, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"
    assert client.post("/sink/default", data=b"x" * (1024 * 1024 + 1)).status_code == 413


def test_the_dashboard_forbids_framing_and_inline_script(client: FlaskClient) -> None:
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in response.get_data(as_text=True)
