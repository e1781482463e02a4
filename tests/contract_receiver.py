"""A webhook receiver written the way the README says, and its classic bugs, one at a time.

:class:`ContractReceiver` is a real HTTP server on a loopback port-0 socket. With no
breakage it does everything ``zenoti-emulator check`` asks: it answers an empty ping,
verifies the signature of any non-empty body with :func:`emulator.delivery.signing.verify`,
parses JSON whatever the Content-Type, takes POST, PUT and PATCH, answers 2xx to
duplicates, ignores unknown fields and codes, takes bodies up to 1 MB, and answers fast.
Each name in :data:`BREAKAGES` turns one of those into a bug seen in real receivers.

Usage::

    with ContractReceiver(secret="s3cret", broken="json-only") as rx:
        ...check rx.url...
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from typing import Any

from emulator.delivery.signing import SIGNATURE_HEADER, verify

from .receivers import LoopbackServer, QuietHandler

#: Each breakage, and the check that must catch it.
BREAKAGES = {
    "post-only": "verb",  # Express's app.post(): 404 to PUT and PATCH
    "hex-signature-only": "signature-format",  # compares against sha256=<lower hex>
    "accepts-wrong-signature": "rejects-bad-signature",  # only checks that the header is there
    "accepts-missing-signature": "rejects-missing-signature",  # verifies only when the header is present
    "rejects-ping": "ping",  # parses JSON before anything: 400 to an empty body
    "json-only": "no-content-type",  # express.json(): no Content-Type, no body
    "conflict-on-duplicate": "duplicates",  # unique key on the event id: 409
    "strict-fields": "unknown-fields",  # a closed schema: 422 on a field or code it does not know
    "body-limit-100kb": "large-payload",  # express.json()'s default limit: 413
    "rate-limited": "burst",  # 300 requests a minute, then 429
    "status-before-group": "out-of-order",  # 422 to a status change of a group it has not seen
}
#: Bugs that every answer hides (each request is answered 2xx): only a check that observes
#: what the receiver did (``--observe``, the pytest fixtures) catches them.
HIDDEN_BREAKAGES = {
    "applies-duplicates-twice": "duplicates",  # answers 200 to a duplicate, and books it again
    "drops-early-status": "out-of-order",  # answers 200 to a status of a group it has not seen, and drops it
}
#: Where the receiver says what it did: GET ?id=<event id>, ?group=<group id>.
OBSERVE_PATH = "/observe"
MAX_BODY = 1024 * 1024
KNOWN_CODES = {0, 1, 2}
KNOWN_TOP = {"id", "event_id", "event_schema", "event_resource", "event_type", "event_timestamp", "data"}


class ContractReceiver(LoopbackServer):
    """See the module docstring.

    :param secret: verify signatures with it; ``None`` takes unsigned events.
    :param broken: one name of :data:`BREAKAGES`, or ``None`` for a correct receiver.
    :param delay: seconds each non-empty request takes (a slow handler)...
    :param fast_first: ...after this many were answered at once (slow under load).
    :param rate_limit: requests per ``rate_window`` before ``rate-limited`` answers 429...
    :param rate_window: ...in seconds (60: a minute, as ``express-rate-limit`` counts), with
        a ``Retry-After`` of the seconds until the window lets one through again.
    """

    path = "/hook"  # the README's example path

    @property
    def observe_url(self) -> str:
        """Where ``check --observe`` asks what this receiver did."""
        return self.url.removesuffix(self.path) + OBSERVE_PATH

    def __init__(
        self,
        *,
        secret: str | None = None,
        broken: str | None = None,
        delay: float = 0.0,
        fast_first: int = 0,
        rate_limit: int = 300,
        rate_window: float = 60.0,
    ) -> None:
        if broken is not None and broken not in BREAKAGES and broken not in HIDDEN_BREAKAGES:
            raise ValueError(f"unknown breakage {broken!r}")
        self.secret = secret
        self.broken = broken
        self.delay = delay
        self.fast_first = fast_first
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.seen: set[str] = set()
        self.groups: set[str] = set()
        self.stored: list[dict[str, Any]] = []
        #: times each event id was applied, and the status each group holds
        self.applied: dict[str, int] = {}
        self.group_status: dict[str, int | None] = {}
        self.requests = 0
        self._window: deque[float] = deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(QuietHandler):
            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                if "retry_after" in payload:
                    self.send_header("Retry-After", str(payload["retry_after"]))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = receiver.handle(self.command, {k.lower(): v for k, v in self.headers.items()}, body)
                self._answer(status, payload)

            def do_GET(self) -> None:
                from urllib.parse import parse_qs, urlsplit

                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                if parts.path != OBSERVE_PATH:
                    self._answer(404, {"error": "not found"})
                elif "id" in query:
                    with receiver._lock:
                        self._answer(200, {"applied": receiver.applied.get(query["id"][0], 0)})
                elif "group" in query:
                    with receiver._lock:
                        self._answer(200, {"status": receiver.group_status.get(query["group"][0].lower())})
                else:
                    self._answer(400, {"error": "?id= or ?group="})

            do_POST = do_PUT = do_PATCH = _handle

        super().__init__(Handler)

    def handle(self, method: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """The receiver's logic: ``(status, JSON answer)`` for one request."""
        broken = self.broken
        with self._lock:
            self.requests += 1
            if broken == "rate-limited":
                now = time.monotonic()
                while self._window and now - self._window[0] > self.rate_window:
                    self._window.popleft()
                if len(self._window) >= self.rate_limit:
                    wait = max(1, math.ceil(self.rate_window - (now - self._window[0])))
                    return 429, {"error": "too many requests", "retry_after": wait}
                self._window.append(now)
        if method != "POST" and broken == "post-only":
            return 404, {"error": f"Cannot {method} /hook"}
        if broken == "json-only" and body and not headers.get("content-type", "").startswith("application/json"):
            # the parser left req.body as {}, and the handler finds no event_type in it
            return 400, {"error": "event_type is required"}
        if not body:
            if broken == "rejects-ping":
                return 400, {"error": "Unexpected end of JSON input"}
            return 200, {"ok": True, "ping": True}
        if broken == "body-limit-100kb" and len(body) > 100 * 1024:
            return 413, {"error": "request entity too large"}
        if len(body) > MAX_BODY:
            return 413, {"error": "request entity too large"}
        if self.secret is not None:
            signature = headers.get(SIGNATURE_HEADER)
            if signature is None:
                if broken != "accepts-missing-signature":
                    return 401, {"error": "missing signature"}
            elif broken == "hex-signature-only":
                if not _hex_only_verify(body, signature, self.secret):
                    return 401, {"error": "bad signature"}
            elif broken != "accepts-wrong-signature" and not verify(body, signature, self.secret):
                return 401, {"error": "bad signature"}
        try:
            event = json.loads(body)
        except ValueError:
            return 400, {"error": "not JSON"}
        if not isinstance(event, dict):
            return 400, {"error": "not an object"}
        if broken == "strict-fields" and not _strict_ok(event):
            return 422, {"error": "unexpected field or value"}
        with self._lock:
            self.fast_first -= 1
            slow = self.fast_first < 0
        if self.delay and slow:
            time.sleep(self.delay)
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        group = data.get("appointment_group_id")
        with self._lock:
            if event.get("id") in self.seen:
                if broken == "conflict-on-duplicate":
                    return 409, {"error": "duplicate"}
                if broken == "applies-duplicates-twice":
                    self.applied[str(event.get("id"))] += 1
                return 200, {"ok": True, "duplicate": True}
            if (
                broken == "status-before-group"
                and event.get("event_type") == "AppointmentGroup.Status"
                and group not in self.groups
            ):
                return 422, {"error": f"unknown appointment group {group}"}
            self.seen.add(str(event.get("id")))
            self.applied[str(event.get("id"))] = 1
            if isinstance(group, str) and event.get("event_type") == "AppointmentGroup.Status":
                if group in self.groups or broken != "drops-early-status":
                    self.group_status[group.lower()] = data.get("appointment_group_status")
            elif isinstance(group, str) and event.get("event_type") == "AppointmentGroup.Created":
                self.group_status.setdefault(group.lower(), 0)  # booked, unless a status came first
            if group:
                self.groups.add(group)
            self.stored.append(event)
        return 200, {"ok": True}


def _hex_only_verify(body: bytes, header: str, secret: str) -> bool:
    from emulator.delivery.signing import sign

    return header == sign(body, secret, signature_format="hex")


def _known_data_fields(event_type: str) -> set[str]:
    from emulator.events.registry import default_registry

    kind = default_registry().get(event_type)
    return set(kind.resolved["properties"]["data"]["properties"]) if kind else set()


def _strict_ok(event: dict[str, Any]) -> bool:
    if set(event) - KNOWN_TOP:
        return False
    data = event.get("data")
    if isinstance(data, dict) and set(data) - _known_data_fields(str(event.get("event_type"))):
        return False
    for appt in (data or {}).get("appointments") or []:
        if appt.get("appointment_type") not in KNOWN_CODES or appt.get("therapist_request_type") not in KNOWN_CODES:
            return False
    return True
