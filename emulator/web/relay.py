"""The relay endpoint: the one route of the emulator meant to be reached through a tunnel.

It is an app of its own, served on its own port, so that a tunnel to it reaches nothing
else: no dashboard, no API, no sink. It takes POST, PUT and PATCH on any path, with any
content type or none (Zenoti is reported not to send one reliably), bodies up to
``MAX_CONTENT_LENGTH`` (413 above), and hands each request to
:meth:`emulator.captures.relay.Relay.handle`. Every other method is 405.

It has no ``Host`` check: a tunnel's name is whatever the tunnel provider chose, and
there is nothing here for a rebinding page to read or drive: the answer says only what
became of the request, and the forward goes to the one URL the user gave on the command
line. The dashboard and the API keep every check of ``web/security.py`` on their own port.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ..captures.relay import RELAY_METHODS, Relay
from ..errors import EmulatorError
from . import json_http_error

log = logging.getLogger(__name__)

#: The largest body the relay takes (Zenoti's events are a few KiB).
DEFAULT_MAX_BODY = 1024 * 1024
#: Statuses that must not carry a body.
_NO_BODY = frozenset({204, 304})


def create_relay_app(relay: Relay, *, max_content_length: int = DEFAULT_MAX_BODY) -> Flask:
    """The relay's WSGI app around ``relay``: one catch-all route and JSON errors."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_content_length

    # no automatic OPTIONS: every method but these is 405, as the README says
    @app.route("/", defaults={"path": ""}, methods=RELAY_METHODS, provide_automatic_options=False)
    @app.route("/<path:path>", methods=RELAY_METHODS, provide_automatic_options=False)
    def relay_view(path: str) -> Any:
        body = request.get_data(cache=False)
        answer = relay.handle(request.method, request.full_path.rstrip("?"), list(request.headers.items()), body)
        if answer.status in _NO_BODY:
            return Response(status=answer.status)
        response = jsonify(answer.body)
        response.status_code = answer.status
        return response

    @app.errorhandler(EmulatorError)
    def emulator_error(exc: EmulatorError) -> Any:
        # The request could not be kept (a full disk, a broken log): a 5xx makes Zenoti
        # send it again later instead of counting it as received.
        log.error("Relay could not keep a %s request: %s", request.method, exc.message)
        body = {
            "error": {
                "code": exc.code,
                "message": "The relay could not keep this request; send it again.",
                "details": None,
            }
        }
        return jsonify(body), 503

    app.register_error_handler(HTTPException, json_http_error)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
