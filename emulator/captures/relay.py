"""Relay real Zenoti traffic to a local receiver, checking and keeping every request.

A Zenoti webhook can only point at a public URL, so the user runs a tunnel of their
choice to the relay's port. For each request that arrives, :meth:`Relay.handle`:

1. checks the signature with the secret Zenoti signs with (:func:`signing.verdict`),
2. validates the body against the schemas and lists its drift (unknown fields, new code
   values) without ever blocking it (:class:`SchemaCheck`),
3. keeps the request exactly as received, and its forward to the local receiver, in one
   transaction of the delivery log (:meth:`Store.record_capture`),
4. queues the forward on the :class:`~emulator.delivery.deliverer.Deliverer`: the same bytes with
   Zenoti's headers, re-signed when the local receiver has a secret of its own, retried
   on the log's schedule while the receiver is down,
5. answers Zenoti: 202 once the request is stored, so a slow or stopped receiver never
   makes Zenoti retry or deactivate the webhook; or, in mirror mode, the local receiver's
   own status, within :data:`MIRROR_DEADLINE` seconds whatever the receiver does.

Core code: no click, no flask, no sqlite. ``web/relay.py`` is the HTTP shell around
:meth:`Relay.handle`; ``cli/relay.py`` starts it and prints :class:`RelayLine` s.

Usage::

    relay = Relay(store, deliverer, RelaySettings("http://127.0.0.1:3000/hook", secret="s3cret"))
    answer = relay.handle("POST", "/zenoti", [("Content-Type", "application/json")], body)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .. import bounds
from ..defaults import DEFAULT_TIMEOUT
from ..delivery import signing
from ..delivery.deliverer import Deliverer
from ..delivery.retry import DeliveryOptions, RetryPolicy
from ..delivery.rows import AttemptRecord, NewCapture, RecordResult, StoredCapture, Webhook
from ..delivery.store import Store
from ..errors import UsageError
from ..events.registry import Registry, default_registry
from ..shown import printable
from ..urls import check_url

log = logging.getLogger(__name__)

#: The verbs Zenoti may deliver with; anything else is not Zenoti.
RELAY_METHODS = ("POST", "PUT", "PATCH")
#: In mirror mode, Zenoti is answered within this many seconds (it gives up at 10).
MIRROR_DEADLINE = 8.0
#: What the relay answers Zenoti once a request is stored (and not mirrored).
STORED_STATUS = 202
#: What a refused signature is answered with.
BAD_SIGNATURE_STATUS = 401
#: Headers that describe one hop, not the request: never passed on.
HOP_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "accept-encoding",
    }
)
#: At most this many received headers are kept and passed on, each value cut to
#: :data:`MAX_HEADER_VALUE` characters (Zenoti sends a handful).
MAX_HEADERS = 64
MAX_HEADER_VALUE = 8192


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """What the user chose: where to forward, which secrets, how to answer Zenoti.

    :param forward_to: the local receiver's URL (http or https).
    :param secret: the secret Zenoti signs with; ``None`` leaves signatures unchecked.
    :param forward_secret: re-sign forwards with this secret (the local receiver's);
        ``None`` passes Zenoti's own signature header on as received.
    :param refuse_bad_signature: answer 401 to a missing or wrong signature and forward
        nothing (the request is still kept); by default it is only flagged.
    :param mirror_status: answer Zenoti with the local receiver's status instead of 202.
        Zenoti then does the retrying, so the relay makes one attempt per request.
    :param options: how forwards are made (timeout, retry schedule, time scale).
    """

    forward_to: str
    secret: str | None = field(default=None, repr=False)
    forward_secret: str | None = field(default=None, repr=False)
    refuse_bad_signature: bool = False
    mirror_status: bool = False
    options: DeliveryOptions = field(default_factory=lambda: DeliveryOptions(deactivate_after=0))
    mirror_deadline: float = MIRROR_DEADLINE

    def __post_init__(self) -> None:
        check_url(self.forward_to)
        if self.refuse_bad_signature and not self.secret:
            raise UsageError("Refusing bad signatures needs the secret Zenoti signs with: pass --secret too.")
        if not 0 < self.mirror_deadline < DEFAULT_TIMEOUT:
            raise UsageError(
                f"The mirror deadline must be between 0 and {DEFAULT_TIMEOUT:g} s, not {self.mirror_deadline}."
            )

    def forward_options(self, headers: Mapping[str, str]) -> DeliveryOptions:
        """The options of one forward: the received headers, and one attempt when mirroring."""
        policy = RetryPolicy.no_retry() if self.mirror_status else self.options.policy
        return replace(self.options, content_type=False, headers=dict(headers), policy=policy)


@dataclass(frozen=True, slots=True)
class SchemaVerdict:
    """What the schemas say about one body: a word for the terminal, details for the log."""

    #: ``valid``, ``invalid`` or ``skipped`` (a ping, an unknown event type...)
    status: str
    #: why, when not valid: ``schema``, ``not_json``, ``empty``, ``unknown_event_type``...
    reason: str
    event_type: str | None
    #: the envelope's ``id`` (the call's), and its ``event_id``
    call_id: str | None
    event_id: str | None
    message: str
    errors: tuple[dict[str, Any], ...] = ()
    #: one line per finding: ``unknown field $.data.x (integer)``
    drift: tuple[str, ...] = ()

    @property
    def word(self) -> str:
        """``valid``, ``valid+drift``, ``invalid``, ``ping``, ``unknown-type``, ``not-json``..."""
        if self.status == "skipped":
            return {"empty": "ping", "unknown_event_type": "unknown-type"}.get(
                self.reason, self.reason.replace("_", "-")
            )
        if self.status == "invalid" and self.reason != "schema":
            return self.reason.replace("_", "-")
        return self.status + ("+drift" if self.drift else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "errors": list(self.errors),
            "drift": list(self.drift),
        }

    @classmethod
    def from_capture(cls, capture: StoredCapture) -> SchemaVerdict:
        """The verdict a kept request was given (its ``report``)."""
        report = capture.report
        return cls(
            status=capture.schema_status,
            reason=report.get("reason", ""),
            event_type=capture.event_type,
            call_id=capture.call_id,
            event_id=capture.event_id,
            message=report.get("message", ""),
            errors=tuple(report.get("errors", ())),
            drift=tuple(report.get("drift", ())),
        )


class SchemaCheck:
    """Validates one body at a time against the registry, with that body's own drift.

    Built on :class:`~emulator.captures.validate.CaptureValidator` (its compiled validators are
    made once per event type); drift is taken per request from a fresh
    :class:`~emulator.captures.validate.DriftCollector` (a quarter of a millisecond), so each
    line and log row says what *this* request brought. Thread-safe.
    """

    def __init__(self, registry: Registry | None = None) -> None:
        from .checking import CaptureValidator

        self.registry = registry or default_registry()
        self._validator = CaptureValidator(self.registry)
        self._lock = threading.Lock()

    def check(self, body: bytes) -> SchemaVerdict:
        from .drift import DriftCollector
        from .readers import Capture

        try:  # parsed once, here; a body that does not parse is the validator's to explain
            capture = Capture("relay", value=bounds.loads_json(body)) if body.strip() else Capture("relay", body=body)
        except ValueError:  # not JSON, or nested past bounds.MAX_JSON_DEPTH: the validator says which
            capture = Capture("relay", body=body)
        with self._lock:  # the validator keeps running counts
            result = self._validator.check(capture)
        drift: list[str] = []
        if result.reason == "unknown_event_type":
            drift.append(f"unknown event type {result.event_type!r}")
        elif result.event_type in self.registry and result.reason in ("", "schema"):
            collector = DriftCollector(self.registry.get_type(result.event_type))  # type: ignore[arg-type]
            collector.observe(capture.value)
            drift = _drift_lines(collector.to_dict())
        event_id = capture.value.get("event_id") if capture.parsed and isinstance(capture.value, dict) else None
        return SchemaVerdict(
            status=result.status,
            reason=result.reason,
            event_type=result.event_type,
            call_id=result.event_id,
            event_id=event_id if isinstance(event_id, str) else None,
            message=result.message,
            errors=tuple(e.to_dict() for e in result.errors),
            drift=tuple(drift),
        )


def _drift_lines(drift: Mapping[str, Any]) -> list[str]:
    out = [f"unknown field {f['path']} ({', '.join(f['types'])})" for f in drift["unknown_fields"]]
    out += [f"undocumented value {v['path']} = {json.dumps(v['value'])}" for v in drift["undocumented_values"]]
    out += [f"varying type {v['path']}: {', '.join(v['types'])}" for v in drift["varying_types"]]
    return out


@dataclass(frozen=True, slots=True)
class RelayAnswer:
    """What the relay answers Zenoti."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RelayLine:
    """One line on the terminal per request, and one per later attempt of its forward."""

    at: float
    capture_id: int | None
    delivery_id: int | None
    event_type: str | None
    call_id: str | None
    signature: str
    schema: str
    #: the local receiver's status, or how the attempt ended (``connection``, ``timeout``),
    #: or ``refused`` when the request was not forwarded
    local: str
    latency_ms: float | None = None
    attempt: int = 1
    #: ``retry in 3.1 s`` when another attempt is scheduled
    note: str = ""

    def __str__(self) -> str:
        at = datetime.fromtimestamp(self.at, UTC).strftime("%H:%M:%S")
        latency = f"{self.latency_ms:.0f} ms" if self.latency_ms is not None else "-"
        attempt = f" (attempt {self.attempt})" if self.attempt > 1 else ""
        note = f"  {self.note}" if self.note else ""
        # event type and id come from the request's body: the internet's text, on a terminal
        return printable(
            f"{at}  {self.event_type or '-'}  id={self.call_id or '-'}  sig={self.signature}  schema={self.schema}"
            f"  -> {self.local}{attempt}  {latency}{note}"
        )


@dataclass(slots=True)
class _Pending:
    """A forward in flight: what its lines say, and who waits for its first answer."""

    line: RelayLine
    done: threading.Event | None = None
    record: AttemptRecord | None = None


class Relay:
    """Takes what Zenoti sends, keeps it, checks it and forwards it (see the module doc).

    :param store: the delivery log the requests are kept in.
    :param deliverer: makes the forwards; the relay adds its hooks to it.
    :param settings: the user's choices.
    :param on_line: called with a :class:`RelayLine` per request and per forward
        attempt (on request and worker threads: keep it short).
    """

    def __init__(
        self,
        store: Store,
        deliverer: Deliverer,
        settings: RelaySettings,
        *,
        registry: Registry | None = None,
        on_line: Callable[[RelayLine], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.deliverer = deliverer
        self.settings = settings
        self.schema = SchemaCheck(registry)
        self.on_line = on_line
        self._clock = clock
        self._webhooks: dict[str, Webhook] = {}
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        deliverer.hooks["attempt"].append(self._on_attempt)
        deliverer.hooks["complete"].append(self._on_complete)

    def webhook(self, verb: str) -> Webhook:
        """The forward target for ``verb``: one webhook per verb, found again on the next run.

        A forward target that a past run deactivated is brought back: the relay's own
        forwards never deactivate it, and a dead target would silently drop real events.
        """
        with self._lock:
            hook = self._webhooks.get(verb)
            if hook is None:
                hook = self.store.upsert_webhook(
                    self.settings.forward_to, verb=verb, secret=self.settings.forward_secret
                )
                if not hook.active:
                    log.warning("Reactivating webhook %s (%s) to relay to it", hook.id, hook.url)
                    hook = self.store.update_webhook(hook.id, active=True)
                self._webhooks[verb] = hook
            return hook

    def handle(self, method: str, path: str, headers: Sequence[tuple[str, str]], body: bytes) -> RelayAnswer:
        """Keep, check and forward one request; say what to answer Zenoti.

        :param method: ``POST``, ``PUT`` or ``PATCH`` (the shell refuses others).
        :param path: the path and query it was sent to, kept for the record.
        :param headers: the received headers, in order.
        :param body: the raw body, exactly as received (already bounded by the shell).
        """
        kept = [(name, value[:MAX_HEADER_VALUE]) for name, value in list(headers)[:MAX_HEADERS]]
        lower = {name.lower(): value for name, value in kept}
        signature_header = lower.get(signing.SIGNATURE_HEADER)
        sig = signing.verdict(body, signature_header, self.settings.secret)
        verdict = self.schema.check(body)
        refused = self.settings.refuse_bad_signature and sig in ("missing", "invalid")
        options = self.settings.forward_options(self._forward_headers(kept, resign=bool(self.settings.forward_secret)))
        if signature_header is not None and self.settings.forward_secret:
            options = replace(options, signature_format=signing.format_of(signature_header))
        capture = NewCapture(
            body=body,
            method=method,
            path=path,
            headers=kept,
            event_type=verdict.event_type,
            call_id=verdict.call_id,
            event_id=verdict.event_id,
            signature=sig,
            schema_status=verdict.status,
            report=verdict.to_dict(),
        )
        forward = None if refused else self.webhook(method)
        capture_id, scheduled = self.store.record_capture(
            capture, forward=forward, options=options.to_dict(), time_scale=options.time_scale
        )
        line = RelayLine(
            self._clock(), capture_id, None, verdict.event_type, verdict.call_id, sig, verdict.word, "refused"
        )
        if scheduled is None:
            self._emit(replace(line, note="not forwarded: bad signature"))
            return RelayAnswer(
                BAD_SIGNATURE_STATUS,
                {
                    "error": {
                        "code": "bad_signature",
                        "message": f"Signature {sig}; the request was kept, not forwarded.",
                        "details": None,
                    }
                },
            )
        stored = {"relayed": capture_id, "delivery_id": scheduled.delivery_id, "signature": sig, "schema": verdict.word}
        pending = _Pending(replace(line, delivery_id=scheduled.delivery_id, local="?"))
        if self.settings.mirror_status:
            pending.done = threading.Event()
        with self._lock:
            self._pending[scheduled.delivery_id] = pending
        try:
            self.deliverer.queue(scheduled)
        except RuntimeError:  # shutting down: the forward stays scheduled for the next start
            log.info("Forward %s stays scheduled for the next start", scheduled.delivery_id)
            with self._lock:
                self._pending.pop(scheduled.delivery_id, None)
            return RelayAnswer(STORED_STATUS, stored)
        if pending.done is None:
            return RelayAnswer(STORED_STATUS, stored)
        return self._mirror(pending, stored)

    def _mirror(self, pending: _Pending, stored: dict[str, Any]) -> RelayAnswer:
        """The local receiver's answer, or 504 when it has none within the deadline."""
        assert pending.done is not None
        if not pending.done.wait(self.settings.mirror_deadline) or pending.record is None:
            return RelayAnswer(504, {**stored, "local": "no answer in time"})
        record = pending.record
        if record.status_code is None:  # refused, reset, timed out: the gateway's failure
            return RelayAnswer(502, {**stored, "local": record.outcome, "error": record.error})
        return RelayAnswer(record.status_code, {**stored, "local": record.status_code})

    @staticmethod
    def _forward_headers(headers: Sequence[tuple[str, str]], *, resign: bool) -> dict[str, str]:
        """The received headers a forward carries: not the hop-by-hop ones, and not
        Zenoti's signature when the forward is signed afresh."""
        dropped = HOP_HEADERS | {signing.SIGNATURE_HEADER} if resign else HOP_HEADERS
        return {name: value for name, value in headers if name.lower() not in dropped}

    # -- the deliverer's hooks (worker threads) ----------------------------------------------

    def _on_attempt(self, record: AttemptRecord, result: RecordResult) -> None:
        with self._lock:
            pending = self._pending.get(record.delivery_id)
        if pending is None:
            pending = self._resumed(record.delivery_id)
        if pending is None:
            return  # not a forward (a `fire` delivery resumed from the same log)
        note = ""
        if result.next is not None:
            note = f"retry in {max(0.0, result.next.due_at - self._clock()):.1f} s"
        elif not record.ok:
            note = f"gave up; send it again with: zenoti-emulator replay {record.delivery_id}"
        local = str(record.status_code) if record.status_code is not None else record.outcome
        self._emit(
            replace(
                pending.line,
                at=self._clock(),
                local=local,
                latency_ms=record.latency_ms,
                attempt=record.number,
                note=note,
            )
        )
        if pending.done is not None and pending.record is None:
            pending.record = record
            pending.done.set()

    def _resumed(self, delivery_id: int) -> _Pending | None:
        """A forward left pending by an earlier run, known again from its capture."""
        capture = next(self.store.captures(delivery_id=delivery_id), None)
        if capture is None:
            return None
        verdict = SchemaVerdict.from_capture(capture)
        line = RelayLine(
            capture.received_at,
            capture.id,
            delivery_id,
            capture.event_type,
            capture.call_id,
            capture.signature,
            verdict.word,
            "?",
        )
        pending = _Pending(line)
        with self._lock:
            self._pending[delivery_id] = pending
        return pending

    def _on_complete(self, delivery_id: int, status: str) -> None:
        with self._lock:
            self._pending.pop(delivery_id, None)

    def _emit(self, line: RelayLine) -> None:
        if self.on_line is None:
            return
        try:
            self.on_line(line)
        except Exception:  # a closed terminal must not lose a request
            log.exception("Could not print a relay line")
