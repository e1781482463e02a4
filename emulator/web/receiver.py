"""Built-in receivers at ``/sink/<name>``: what a developer fires at before theirs exists.

A sink takes POST, PUT or PATCH with any body and any content type, as a real receiver
must (Zenoti is reported not to send ``Content-Type`` reliably). It checks the signature
when it has a secret, records the request raw, waits its configured delay, and answers
with its configured status, so a developer can rehearse retries and deactivation.

A request whose signature is missing or wrong, at a sink with a secret, is answered 401,
as a careful receiver would; Zenoti's "Testing your trigger" ping (an empty body with no
signature) is answered normally.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..delivery import signing
from ..delivery.signing import SIGNATURE_HEADER
from .services import services

bp = Blueprint("receiver", __name__, url_prefix="/sink")

#: What a sink answers when a signature it can check is missing or wrong.
BAD_SIGNATURE_STATUS = 401
#: Statuses that must not carry a body.
_NO_BODY = frozenset({204, 304})


@bp.route("/<name>", methods=["POST", "PUT", "PATCH"])
def receive(name: str) -> Any:
    sinks = services().sinks
    body = request.get_data(cache=False)
    verdict = signing.verdict(body, request.headers.get(SIGNATURE_HEADER), sinks.get(name).secret)
    if verdict in ("missing", "invalid"):
        sink, status = sinks.get(name), BAD_SIGNATURE_STATUS
    else:
        sink, status = sinks.next_status(name)
    captured = sinks.record(
        name,
        method=request.method,
        path=request.full_path.rstrip("?"),
        headers=list(request.headers.items()),
        body=body,
        signature=verdict,
        status=status,
    )
    if sink.delay_ms:
        # The sink's own answer time, configured by the user to rehearse timeouts.
        time.sleep(sink.delay_ms / 1000)
    if status in _NO_BODY:
        return Response(status=status)
    response = jsonify({"received": captured.id, "signature": verdict})
    response.status_code = status
    return response
