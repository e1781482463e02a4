"""The web app: Zenoti's webhook setup page, an HTTP API, a dashboard and built-in receivers.

:func:`create_app` builds everything; there is no module-level app. Blueprints are
registered inside it, one line each, so another family of routes is one more line. A
blueprint documents its routes for ``/openapi.json`` by carrying ``openapi_paths`` (and
``openapi_schemas``) attributes; the tests fail for a route the document does not have.

Usage::

    app = create_app({"DATABASE": "/tmp/emulator.sqlite3"})
    # serve it with waitress (``zenoti-emulator serve``) or use app.test_client()
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from ..errors import EmulatorError
from ..shown import masked

log = logging.getLogger(__name__)

#: Largest request body accepted (the biggest thing we take is a batch of overrides).
DEFAULT_MAX_CONTENT_LENGTH = 1024 * 1024


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``ZENOTI_EMULATOR_*`` variables, then ``config``.

    Settings (all optional):

    - ``DATABASE``: the SQLite file shared with the delivery log (default: the delivery
      log's default, under the user's data directory).
    - ``BIND_HOST`` / ``ALLOWED_HOSTS``: the names a request's ``Host`` may carry
      (loopback names are always allowed).
    - ``PUBLIC_URL``: how the emulator reaches itself (for the built-in sink's webhook);
      set by ``serve``, else taken from the first request.
    - ``TIME_SCALE``: divides every retry wait (1 = Zenoti's real schedule).
    - ``DELIVERY_WORKERS``, ``DELIVERY_TIMEOUT``: the delivery pool.
    - ``FOLLOW_LOG_S``: how often the running app picks up retries other processes left
      in the shared log (``fire --no-wait``); 0 never.
    - ``MAX_CONTENT_LENGTH``: body size limit in bytes (413 above it).
    - ``API_KEY``, ``API_RATE_LIMIT``, ``API_LATENCY``, ``API_WORLD``: Zenoti's read API
      at ``/v1`` (:func:`emulator.zenoti_api.worlds.init_app`).

    :param config: overrides, applied last (tests pass ``DATABASE`` here).
    """
    app = Flask(__name__)
    app.config.from_mapping(
        DATABASE=None,
        BIND_HOST="127.0.0.1",
        ALLOWED_HOSTS=[],
        PUBLIC_URL=None,
        TIME_SCALE=1.0,
        DELIVERY_WORKERS=8,
        DELIVERY_TIMEOUT=10.0,
        MAX_CONTENT_LENGTH=DEFAULT_MAX_CONTENT_LENGTH,
        SEED_DEFAULTS=True,
        DASHBOARD_POLL_MS=1000,
        FOLLOW_LOG_S=2.0,
        API_KEY=None,
        API_RATE_LIMIT=None,
        API_LATENCY=0.0,
        API_WORLD=None,
    )
    app.config.from_prefixed_env("ZENOTI_EMULATOR")
    if config is not None:
        app.config.from_mapping(config)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep envelopes in Zenoti's order

    from . import security, services

    security.init_app(app)
    services.init_app(app)
    _register_error_handlers(app)

    from . import api, captures_api, dashboard, openapi, receiver, scenarios_api, validate_api

    app.register_blueprint(api.bp)
    app.register_blueprint(validate_api.bp)
    app.register_blueprint(captures_api.bp)
    app.register_blueprint(scenarios_api.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(receiver.bp)
    app.add_url_rule("/openapi.json", "openapi", openapi.view)

    from ..zenoti_api import worlds

    worlds.init_app(app)  # Zenoti's read API at /v1, for the worlds this app plays
    return app


def _wants_json() -> bool:
    path = request.path
    return (
        path.startswith(("/api/", "/sink/"))
        or path in ("/api", "/openapi.json")
        or request.accept_mimetypes.best == "application/json"
    )


def json_http_error(exc: HTTPException) -> Any:
    """Werkzeug's HTTP error as our JSON error body (a 405 lists the allowed methods)."""
    code = (exc.name or "error").lower().replace(" ", "_")
    details: dict[str, Any] | None = None
    if exc.code == 405:
        allowed = sorted(m for m in (exc.valid_methods or []) if m != "OPTIONS")  # type: ignore[attr-defined]
        details = {"allowed": allowed}
    body = {"error": {"code": code, "message": exc.description or exc.name, "details": details}}
    response = jsonify(body)
    response.status_code = exc.code or 500
    for name, value in exc.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(EmulatorError)
    def emulator_error(exc: EmulatorError) -> Any:
        if exc.status_code >= 500:
            log.error("%s %s: %s", request.method, request.path, exc.message)
        body = exc.to_dict()
        if exc.web_message:
            body["error"]["message"] = exc.web_message
        response = jsonify(body)
        response.set_data(masked(response.get_data(as_text=True)))  # a message may quote a URL given with its password
        return response, exc.status_code

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if request.path.startswith("/v1/"):
            from ..zenoti_api.service import http_error as zenoti_error

            return zenoti_error(exc)  # Zenoti's error body, as the rest of /v1 answers
        if not _wants_json():
            return exc  # the dashboard's own pages keep Werkzeug's HTML
        return json_http_error(exc)

    @app.errorhandler(InternalServerError)
    def internal_error(exc: InternalServerError) -> Any:
        # Our bug, never the user's input: keep the traceback in the log, answer JSON.
        original = getattr(exc, "original_exception", None)
        if original is not None:
            log.exception("Unhandled error on %s %s", request.method, request.path, exc_info=original)
        if not _wants_json():
            return exc
        body = {
            "error": {
                "code": "internal_error",
                "message": "The emulator hit a bug; the server log has the traceback.",
                "details": None,
            }
        }
        return jsonify(body), 500
