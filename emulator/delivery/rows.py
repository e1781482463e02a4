"""What the delivery log holds, as values: webhooks, deliveries, attempts, captures.

Frozen dataclasses read from (or written to) the log's rows, and the functions that make
them from a row. Secrets: a webhook's secret never appears in :meth:`Webhook.to_dict` or
in ``repr``; use :attr:`Webhook.masked_secret` to show one.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from .. import bounds
from ..urls import redact_headers, redact_url

DeliveryStatus = Literal["pending", "delivered", "failed"]
FailureUnit = Literal["attempt", "event"]


def iso(ts: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC with milliseconds, for output."""
    if ts is None:
        return None
    if not (
        bounds.MIN_TIME.timestamp() <= ts <= bounds.MAX_TIME.timestamp()
    ):  # inf, NaN: a row from before due times were checked
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def secret_key(secret: str | None) -> str:
    """A short one-way fingerprint of a secret, used to tell ad-hoc webhooks apart."""
    if not secret:
        return ""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def mask_secret(secret: str | None) -> str:
    """A secret as it may be shown: ``****f3a9`` (short secrets show nothing of themselves)."""
    if not secret:
        return ""
    return "****" + (secret[-4:] if len(secret) >= 12 else "")


@dataclass(frozen=True, slots=True)
class Webhook:
    """A target: URL, verb and secret, with the events it subscribes to and its health."""

    id: int
    name: str
    url: str
    verb: str
    #: kept to sign with; never shown (see :attr:`masked_secret`)
    secret: str | None = field(repr=False)
    #: event types it subscribes to; empty or ``("*",)`` means all
    event_types: tuple[str, ...]
    active: bool
    consecutive_failures: int
    created_at: float
    updated_at: float
    deactivated_at: float | None

    @property
    def masked_secret(self) -> str:
        return mask_secret(self.secret)

    @property
    def shown_url(self) -> str:
        """The URL as it may be shown: a password in it masked."""
        return redact_url(self.url)

    def subscribes_to(self, event_type: str) -> bool:
        """Whether events of ``event_type`` go to this webhook."""
        return not self.event_types or "*" in self.event_types or event_type in self.event_types

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the secret masked."""
        return {
            "id": self.id,
            "name": self.name,
            "url": self.shown_url,
            "verb": self.verb,
            "secret": self.masked_secret,
            "has_secret": bool(self.secret),
            "event_types": list(self.event_types),
            "active": self.active,
            "consecutive_failures": self.consecutive_failures,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "deactivated_at": iso(self.deactivated_at),
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP request of a delivery and what came of it."""

    id: int
    delivery_id: int
    number: int
    started_at: float
    verb: str
    url: str
    request_headers: Mapping[str, str]
    status_code: int | None
    #: ``success``, ``http_status``, ``redirect``, ``timeout``, ``connection``, ``tls`` or ``error``
    outcome: str
    latency_ms: float | None
    response_headers: Mapping[str, str]
    #: the first 64 KiB of the response body
    response_body: bytes
    error: str | None

    @property
    def ok(self) -> bool:
        return self.outcome == "success"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "delivery_id": self.delivery_id,
            "number": self.number,
            "started_at": iso(self.started_at),
            "verb": self.verb,
            "url": redact_url(self.url),
            "request_headers": dict(self.request_headers),
            "status_code": self.status_code,
            "outcome": self.outcome,
            "latency_ms": self.latency_ms,
            "response_headers": dict(self.response_headers),
            "response_body": self.response_body.decode("utf-8", "replace"),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ScheduledAttempt:
    """An attempt written down before it is waited for: what a restart resumes."""

    id: int
    delivery_id: int
    #: the attempt number it will make (1 is the first attempt)
    number: int
    #: ``first``, ``retry`` or ``replay``
    kind: str
    scheduled_at: float
    #: the wait in unscaled time (the real Zenoti schedule)
    delay_s: float
    time_scale: float
    #: real time it is due: ``scheduled_at + delay_s / time_scale``
    due_at: float
    #: ``pending``, ``running`` (claimed by a process), ``done`` or ``cancelled``
    state: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "kind": self.kind,
            "scheduled_at": iso(self.scheduled_at),
            "delay_s": self.delay_s,
            "time_scale": self.time_scale,
            "due_at": iso(self.due_at),
            "state": self.state,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event sent to one webhook, over one or more attempts."""

    id: int
    event_type: str | None
    #: the envelope's ``id``: the same on every attempt, it is the same call
    call_id: str | None
    event_id: str | None
    webhook_id: int | None
    url: str
    verb: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    options: Mapping[str, Any]
    created_at: float
    updated_at: float
    completed_at: float | None
    #: the exact bytes sent (only filled by :meth:`Store.get_delivery`)
    body: bytes | None = None
    attempt_log: tuple[Attempt, ...] = ()
    schedule: tuple[ScheduledAttempt, ...] = ()

    @property
    def shown_url(self) -> str:
        """The URL as it may be shown: a password in it masked."""
        return redact_url(self.url)

    def to_dict(self, *, with_body: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "event_type": self.event_type,
            "call_id": self.call_id,
            "event_id": self.event_id,
            "webhook_id": self.webhook_id,
            "url": self.shown_url,
            "verb": self.verb,
            "status": self.status,
            "attempts": self.attempts,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "completed_at": iso(self.completed_at),
        }
        if self.attempt_log or self.schedule:
            d["attempt_log"] = [a.to_dict() for a in self.attempt_log]
            d["schedule"] = [s.to_dict() for s in self.schedule]
        if with_body and self.body is not None:
            d["body"] = self.body.decode("utf-8", "replace")
        return d


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """What :meth:`Store.create_deliveries` needs for one event."""

    body: bytes
    event_type: str | None
    call_id: str | None
    event_id: str | None
    webhook: Webhook
    options: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """An attempt's outcome, as :meth:`Store.record_attempt` writes it."""

    delivery_id: int
    scheduled_id: int | None
    number: int
    started_at: float
    verb: str
    url: str
    request_headers: Mapping[str, str]
    status_code: int | None
    outcome: str
    latency_ms: float | None
    response_headers: Mapping[str, str]
    response_body: bytes
    error: str | None

    @property
    def ok(self) -> bool:
        return self.outcome == "success"


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What recording an attempt decided: the next scheduled attempt, if any."""

    status: str
    next: ScheduledAttempt | None
    #: this attempt (or event) deactivated the webhook
    deactivated: bool


@dataclass(frozen=True, slots=True)
class NewCapture:
    """A request received by the relay, as :meth:`Store.record_capture` keeps it."""

    body: bytes
    method: str
    path: str
    #: ``(name, value)`` pairs in the order received
    headers: Sequence[tuple[str, str]]
    event_type: str | None
    call_id: str | None
    event_id: str | None
    #: :func:`emulator.delivery.signing.verdict`
    signature: str
    #: ``valid``, ``invalid`` or ``skipped`` (see :mod:`emulator.captures.validate`)
    schema_status: str
    #: errors and drift of this request
    report: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredCapture(NewCapture):
    """A request the relay kept: what :class:`NewCapture` holds, with its id, time and forward."""

    id: int
    received_at: float
    #: the forward to the local receiver; ``None`` when the request was refused
    delivery_id: int | None


_WEBHOOK_COLUMNS = (
    "id, name, url, verb, secret, event_types, active, consecutive_failures, created_at, updated_at, deactivated_at"
)
_DELIVERY_COLUMNS = (
    "d.id, e.event_type, e.call_id, e.event_id, d.webhook_id, d.url, d.verb, d.status, d.attempts, "
    "d.last_status, d.last_error, d.options, d.created_at, d.updated_at, d.completed_at"
)
_SCHEDULE_COLUMNS = "id, delivery_id, number, kind, scheduled_at, delay_s, time_scale, due_at, state"
_ATTEMPT_COLUMNS = (
    "id, delivery_id, number, started_at, verb, url, request_headers, status_code, outcome, latency_ms, "
    "response_headers, response_body, error"
)


def _webhook(row: Sequence[Any]) -> Webhook:
    return Webhook(
        id=row[0],
        name=row[1],
        url=row[2],
        verb=row[3],
        secret=row[4],
        event_types=tuple(json.loads(row[5])),
        active=bool(row[6]),
        consecutive_failures=row[7],
        created_at=row[8],
        updated_at=row[9],
        deactivated_at=row[10],
    )


def _delivery(row: Sequence[Any], **extra: Any) -> Delivery:
    return Delivery(
        id=row[0],
        event_type=row[1],
        call_id=row[2],
        event_id=row[3],
        webhook_id=row[4],
        url=row[5],
        verb=row[6],
        status=row[7],
        attempts=row[8],
        last_status=row[9],
        last_error=row[10],
        options=json.loads(row[11]),
        created_at=row[12],
        updated_at=row[13],
        completed_at=row[14],
        **extra,
    )


def _scheduled(row: Sequence[Any]) -> ScheduledAttempt:
    item = ScheduledAttempt(*row)
    if not math.isfinite(item.due_at):  # written before the log refused it (--time-scale 1e-320): due now
        item = replace(item, due_at=item.scheduled_at)
    return item


def _attempt(row: Sequence[Any]) -> Attempt:
    return Attempt(
        id=row[0],
        delivery_id=row[1],
        number=row[2],
        started_at=row[3],
        verb=row[4],
        url=row[5],
        request_headers=redact_headers(json.loads(row[6])),
        status_code=row[7],
        outcome=row[8],
        latency_ms=row[9],
        response_headers=json.loads(row[10] or "{}"),
        response_body=bytes(row[11] or b""),
        error=row[12],
    )
