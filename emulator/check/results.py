"""What a check is and what it found: the exchanges it sent, and its verdict.

An :class:`Exchange` is one request and its answer, the evidence a person reads; a
:class:`CheckResult` is one check's outcome (``pass``, ``fail``, ``warn``, ``skip``) with
its cause (:mod:`emulator.check.causes`) and fix; a :class:`Check` names what is sent,
why it matters and what a receiver should do. Pure data: no HTTP here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..defaults import DEFAULT_TIMEOUT
from ..delivery.sender import PreparedDelivery, SendResult
from ..delivery.signing import SIGNATURE_HEADER
from ..shown import printable as _printable
from ..urls import redact_url
from .causes import Cause, classify

if TYPE_CHECKING:
    from .run import CheckRun

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"
OUTCOMES = (PASS, FAIL, WARN, SKIP)
#: Evidence kept per check: a failing burst of 500 is explained by its first few.
MAX_EVIDENCE = 5
#: Characters of a body or response shown in the evidence.
EXCERPT = 300


@dataclass(frozen=True)
class Exchange:
    """One request and its answer: the evidence a person reads to see why a check failed."""

    label: str
    method: str
    url: str
    #: the request headers that matter here (content type, signature)
    headers: Mapping[str, str]
    body_bytes: int
    body_excerpt: str
    status: int | None
    #: ``success``, ``http_status``, ``redirect``, ``timeout``, ``connection``, ``tls``, ``error``
    outcome: str
    latency_ms: float
    response_excerpt: str
    error: str | None
    #: the seconds the request was given
    timeout_s: float = DEFAULT_TIMEOUT
    #: the answer's ``Retry-After`` header, if any
    retry_after: str | None = None
    #: seconds this request waited for the receiver's rate limiter before its answer
    paced_s: float = 0.0

    @classmethod
    def of(
        cls,
        label: str,
        prepared: PreparedDelivery,
        result: SendResult,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        paced_s: float = 0.0,
    ) -> Exchange:
        wanted = {"content-type", SIGNATURE_HEADER}
        headers = {k: v for k, v in result.request_headers.items() if k.lower() in wanted}
        retry_after = next((v for k, v in result.response_headers.items() if k.lower() == "retry-after"), None)
        return cls(
            label=label,
            method=prepared.method,
            url=redact_url(prepared.url),
            headers=headers,
            body_bytes=len(prepared.body),
            body_excerpt=excerpt(prepared.body),
            status=result.status_code,
            outcome=result.outcome,
            latency_ms=round(result.latency_ms, 1),
            response_excerpt=excerpt(result.response_body),
            error=None if result.error is None else _printable(result.error),
            timeout_s=timeout,
            retry_after=None if retry_after is None else _printable(retry_after[:100]),
            paced_s=round(paced_s, 3),
        )

    @property
    def ok(self) -> bool:
        return self.outcome == "success"

    @property
    def signed(self) -> bool:
        return any(k.lower() == SIGNATURE_HEADER for k in self.headers)

    @property
    def cause(self) -> Cause:
        """What this answer means (:func:`emulator.check.causes.classify`)."""
        return classify(
            status=self.status,
            outcome=self.outcome,
            method=self.method,
            body_bytes=self.body_bytes,
            timeout=self.timeout_s,
            signed=self.signed or self.body_bytes == 0,
            retry_after=self.retry_after,
            error=self.error,
        )

    def answer(self) -> str:
        """``401``, ``timeout``, ``connection refused``: how it ended, in a few words."""
        if self.status is not None:
            return str(self.status)
        if self.outcome == "timeout":
            return f"no answer within {self.timeout_s:g} s"
        return self.error or self.outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": dict(self.headers),
                "body_bytes": self.body_bytes,
                "body_excerpt": self.body_excerpt,
            },
            "response": {
                "status": self.status,
                "outcome": self.outcome,
                "latency_ms": self.latency_ms,
                "body_excerpt": self.response_excerpt,
                "error": self.error,
                "retry_after": self.retry_after,
            },
            "class": self.cause.kind,
            "paced_s": self.paced_s,
        }


def excerpt(data: bytes) -> str:
    text = _printable(data[: EXCERPT * 4].decode("utf-8", "replace"))
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


@dataclass
class CheckResult:
    """The verdict of one check (for one event type, when it runs per type)."""

    check: str
    event_type: str | None
    outcome: str
    message: str
    evidence: list[Exchange] = field(default_factory=list)
    duration_s: float = 0.0
    #: figures of the check (latencies, counts by answer)
    stats: dict[str, Any] = field(default_factory=dict)
    #: what came back, for a failure or a warning: the message and the fix follow it
    cause: Cause | None = None

    @property
    def name(self) -> str:
        """``accepts-events[AppointmentGroup.Created]``, ``burst``: the id of this result."""
        return f"{self.check}[{self.event_type}]" if self.event_type else self.check

    @property
    def why(self) -> str:
        return _suite()[self.check].why

    @property
    def fix(self) -> str:
        """The check's own fix when what came back is what it tests (a 413 to a large
        payload), else the fix of what came back (a 429 to anything: the rate limiter)."""
        check = _suite()[self.check]
        if self.cause is None or self.cause.kind in check.own:
            return check.fix
        return self.cause.fix()

    @property
    def own_cause(self) -> bool:
        """Whether the failure is the check's own finding, not a cause shared with others."""
        return self.cause is None or self.cause.kind in _suite()[self.check].own

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "check": self.check,
            "event_type": self.event_type,
            "outcome": self.outcome,
            "message": self.message,
            "why": self.why,
            "fix": self.fix,
            "cause": None if self.cause is None else self.cause.to_dict(),
            "duration_s": round(self.duration_s, 3),
            "stats": self.stats,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True)
class Check:
    """One named check: what it sends, why it matters, what a receiver should do."""

    name: str
    summary: str
    why: str
    fix: str
    run: Callable[[CheckRun, str | None], CheckResult]
    #: runs once per subscribed event type instead of once
    per_event_type: bool = False
    #: the classes of answer (:mod:`emulator.check.causes`) that are what this check tests:
    #: for those its own fix applies; for any other the fix of what came back does
    own: frozenset[str] = frozenset()
    #: the event types it runs for, when not all (``large-payload``: those that can grow)
    applies_to: Callable[[str], bool] | None = None
    #: runs unless left out; ``False``: only when named in ``--only`` (a stress test)
    default: bool = True


def _suite() -> dict[str, Check]:
    """The suite by name. :mod:`emulator.check.checks` is built on this module, so it is
    looked up on use rather than imported with it."""
    from .checks import CHECKS

    return CHECKS
