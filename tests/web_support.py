"""Fixtures and helpers shared by the web tests (imported by each ``test_web_*`` module).

- :func:`check_response` validates a response against ``/openapi.json``: the status must
  be documented for that operation and the JSON body must match the documented schema.
  :class:`CheckedClient` calls it on every response of the Flask test client, and
  :class:`LiveServer` on every response of a real server, so every response the suite
  sees is checked against the document.
- ``app`` / ``client``: an app on a temporary database, driven in-process.
- ``live``: the same app on waitress, on a loopback port, with the deliverer running.
- :func:`wait_for`: polls a condition until a deadline instead of sleeping.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from waitress import create_server, wasyncore

from emulator.web import create_app
from emulator.web.openapi import document
from emulator.web.services import Services, services_of

T = TypeVar("T")


def _served_document() -> dict[str, Any]:
    # The document of a real app, so routes other modules' blueprints add are in it too.
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "DATABASE": str(Path(tmp) / "doc.sqlite3")})
        try:
            return document(blueprints=app.blueprints.values())
        finally:
            services_of(app).close()


DOC = _served_document()
#: Documented paths as regexes, most literal first, so /api/sinks/{name}/requests wins over /{name}.
_ROUTES = sorted(
    ((re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), path) for path in DOC["paths"]),
    key=lambda pair: pair[1].count("{"),
)


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    for pattern, template in _ROUTES:
        if pattern.match(path):
            op = DOC["paths"][template].get(method.lower())
            return (template, op) if op is not None else None
    return None


def _schema_validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": DOC["components"]})


def check_response(method: str, path: str, status: int, content_type: str | None, body: Callable[[], Any]) -> None:
    """Fail unless ``status`` is documented for ``method path`` and the body fits its schema.

    Paths outside the document (the dashboard page, static files) are not API and are
    skipped; an undocumented method on a documented path must be a JSON 405.
    """
    path = path.split("?", 1)[0]
    if method == "HEAD" or method == "OPTIONS":
        return
    found = operation_for(method, path)
    if found is None:
        if any(p.match(path) for p, _ in _ROUTES) or path.startswith("/api"):
            assert status in (404, 405), f"{method} {path} is not documented but answered {status}"
            assert content_type and content_type.startswith("application/json"), f"{method} {path}: {content_type}"
            _schema_validator({"$ref": "#/components/schemas/Error"}).validate(body())
        return
    template, op = found
    responses = op["responses"]
    spec = responses.get(str(status)) or responses.get("default")
    assert spec is not None, (
        f"{method} {template} answered {status}, which the document does not list ({sorted(responses)})"
    )
    content = spec.get("content")
    if not content:
        return
    assert content_type and content_type.startswith("application/json"), (
        f"{method} {path} -> {status} is {content_type}, not JSON"
    )
    schema = content["application/json"]["schema"]
    errors = sorted(_schema_validator(schema).iter_errors(body()), key=lambda e: list(e.absolute_path))
    assert not errors, f"{method} {template} -> {status} breaks its documented schema: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:3]
    )


class CheckedClient(FlaskClient):
    """A test client that checks every response against the OpenAPI document."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        request = response.request
        check_response(
            request.method, request.path, response.status_code, response.content_type, lambda: response.get_json()
        )
        return response


def wait_for(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, message: str = "") -> T:
    """Poll ``condition`` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message or condition}")
        time.sleep(interval)  # polling a condition, not waiting a fixed time


def make_app(tmp_path: Path, **config: Any) -> Flask:
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "emulator.sqlite3"), **config})
    app.test_client_class = CheckedClient
    return app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    # PUBLIC_URL points at a closed port: in-process tests never reach a network.
    app = make_app(tmp_path, PUBLIC_URL="http://127.0.0.1:9", TIME_SCALE=1.0)
    yield app
    services_of(app).close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class LiveServer:
    """The app on waitress in a thread, on a loopback port; its responses are checked too."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server = create_server(app, host="127.0.0.1", port=0, threads=8)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"  # type: ignore[union-attr]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="live-waitress", daemon=True)
        self.session = requests.Session()
        self.services: Services = services_of(app)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        self.services.start(self.url)
        return self

    def _serve(self) -> None:
        # waitress's own run() loops until its map is empty, which another thread can only
        # arrange by closing sockets under the loop's feet (through the trigger pipe, which
        # raced with teardown: EBADF once in a few full runs). Running the loop a poll at a
        # time lets the loop's own thread notice the stop and close everything itself.
        server = self.server
        try:
            while not self.stopping.is_set():
                wasyncore.loop(timeout=0.05, use_poll=True, map=server._map, count=1)  # type: ignore[union-attr]
        finally:
            wasyncore.close_all(server._map)  # type: ignore[union-attr]

    def __exit__(self, *exc: object) -> None:
        self.services.stop_delivering()
        self.session.close()
        self.stopping.set()
        self.thread.join(10)
        self.server.task_dispatcher.shutdown()  # type: ignore[union-attr]
        self.services.close()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        response = self.session.request(method, self.url + path, **kwargs)
        check_response(method, path, response.status_code, response.headers.get("Content-Type"), response.json)
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json={} if json is None else json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, json={} if json is None else json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def delivery(self, delivery_id: int) -> dict[str, Any]:
        return self.get(f"/api/deliveries/{delivery_id}").json()  # type: ignore[no-any-return]

    def settled(self, delivery_id: int, timeout: float = 15.0) -> dict[str, Any]:
        """The delivery once it is delivered or failed."""
        return wait_for(
            lambda: (d := self.delivery(delivery_id))["status"] != "pending" and d,
            timeout,
            message=f"delivery {delivery_id} to settle",
        )


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    # 10 000 times faster than Zenoti: retry waits of 30 s..10 min become 3..60 ms.
    app = make_app(tmp_path, TIME_SCALE=10_000.0, DELIVERY_TIMEOUT=5.0)
    with LiveServer(app) as server:
        yield server
