"""What a receiver's answer means, in one place: the class of an answer, its words and its fix.

``check`` judges answers, and a verdict that follows the check's name instead of what came
back misleads: a 429 told to "raise the body size limit", a timeout called "unreachable".
So every answer is classified here once (:func:`classify`), and the message and the fix
of a failure are written from its :class:`Cause`, naming the status and the limit seen.
A check keeps its own fix only for the classes that are the very thing it tests (a 413
for ``large-payload``, a 404 for ``verb``): see :attr:`emulator.check.checks.Check.own`.

The same cause travels to the text, JSON and JUnit reports and to the pytest items, and
the report groups failures that share one (:meth:`Cause.key`): "11 checks: answered 413".

Pure: no HTTP here, only the facts of an exchange.
"""

from __future__ import annotations

import email.utils
import math
import time
from dataclasses import dataclass
from typing import Any

#: The classes, in the order a report lists them.
ACCEPTED = "accepted"  # 2xx
AUTH = "auth"  # 401, 403
NOT_FOUND = "not_found"  # 404, 405
TIMEOUT = "timeout"  # no answer within the timeout, or 408
TOO_LARGE = "too_large"  # 413
MEDIA = "media"  # 415
UNPROCESSABLE = "unprocessable"  # 422
RATE_LIMITED = "rate_limited"  # 429
CLIENT = "client"  # any other 4xx (400, 409...)
SERVER = "server"  # 5xx
REDIRECT = "redirect"  # 3xx: Zenoti does not follow redirects
CONNECTION = "connection"  # refused, reset, TLS, anything without an HTTP answer
KINDS = (
    ACCEPTED,
    AUTH,
    NOT_FOUND,
    TIMEOUT,
    TOO_LARGE,
    MEDIA,
    UNPROCESSABLE,
    RATE_LIMITED,
    CLIENT,
    SERVER,
    REDIRECT,
    CONNECTION,
)

#: Longest wait a ``Retry-After`` may ask of a check (seconds); a longer one is capped.
MAX_RETRY_AFTER = 60.0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), ``None``
    when absent or unreadable; never negative, capped at :data:`MAX_RETRY_AFTER`."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


@dataclass(frozen=True)
class Cause:
    """The class of one answer and what it says: ``413`` with a 138 KiB body, a timeout at 10 s.

    :param kind: one of :data:`KINDS`.
    :param status: the HTTP status, ``None`` without an answer.
    :param method: the request's verb.
    :param body_bytes: the size of the request body.
    :param timeout: the seconds the request was given.
    :param signed: whether the request carried a signature made with ``--secret``.
    :param retry_after: seconds a 429 asked to wait (``Retry-After``), if it said.
    :param error: how a request without an answer ended (``connection refused``).
    """

    kind: str
    status: int | None
    method: str = "POST"
    body_bytes: int = 0
    timeout: float = 10.0
    signed: bool = True
    retry_after: float | None = None
    error: str | None = None

    @property
    def answer(self) -> str:
        """``answered 413``, ``no answer within 10 s``, ``no answer (connection refused)``."""
        if self.kind == TIMEOUT and self.status is None:
            return f"no answer within {self.timeout:g} s"
        if self.status is None:
            return f"no answer ({self.error or 'connection failed'})"
        return f"answered {self.status}"

    def says(self) -> str:
        """The answer and what it means, naming the status and the limit seen."""
        a, kib = self.answer, _kib(self.body_bytes)
        if self.kind == ACCEPTED:
            return a
        if self.kind == AUTH:
            if not self.signed:
                return f"{a}: the receiver wants signed events (pass --secret)"
            return f"{a}: the receiver refused the signature"
        if self.kind == NOT_FOUND:
            return f"{a}: nothing handles {self.method} at this URL"
        if self.kind == TIMEOUT:
            return a if self.status is None else f"{a} (request timeout)"
        if self.kind == TOO_LARGE:
            return f"{a}: a {kib} body is over the receiver's body size limit"
        if self.kind == MEDIA:
            return f"{a}: the receiver refuses the body's Content-Type"
        if self.kind == UNPROCESSABLE:
            return f"{a}: the receiver refused the event's content"
        if self.kind == RATE_LIMITED:
            wait = f", Retry-After {self.retry_after:g} s" if self.retry_after is not None else ""
            return f"{a}: a rate limiter refused it{wait}"
        if self.kind == CLIENT:
            if self.status == 409:
                return f"{a} (conflict): the receiver refused it as already seen"
            return f"{a}: the receiver refused the request"
        if self.kind == SERVER:
            return f"{a}: the receiver failed (a server error)"
        if self.kind == REDIRECT:
            return f"{a}: a redirect, which Zenoti does not follow"
        return a

    def fix(self) -> str:
        """What to change in the receiver (or the command) for this class of answer."""
        if self.kind == AUTH:
            if not self.signed:
                return (
                    "Pass the webhook's secret with --secret (or $ZENOTI_EMULATOR_SECRET): the receiver verifies "
                    "signatures, so unsigned events say nothing about the rest."
                )
            return (
                "Check that --secret is this webhook's secret, and that the receiver verifies the HMAC-SHA256 of "
                "the raw body in Zenoti's 'sha256 =AB-12-…' format (see the signature-format check)."
            )
        if self.kind == NOT_FOUND:
            return f"Check the URL's path, and route POST, PUT and PATCH to the webhook handler ({self.method} was refused)."
        if self.kind == TIMEOUT:
            return (
                f"Answer 2xx as soon as the event is stored and do the work afterwards (a queue): Zenoti waits "
                f"{self.timeout:g} s, then counts a failed attempt and sends the event again."
            )
        if self.kind == TOO_LARGE:
            return (
                f"Raise the body size limit above the largest event Zenoti can send ({_kib(self.body_bytes)} was "
                "refused; 1 MB is safe. Express: express.json({limit: '1mb'}); Flask: MAX_CONTENT_LENGTH)."
            )
        if self.kind == MEDIA:
            return (
                "Parse the raw body as JSON whatever the Content-Type (Flask: get_json(force=True); Express: "
                "express.json({type: '*/*'}))."
            )
        if self.kind in (UNPROCESSABLE, CLIENT):
            return (
                "Answer 2xx to every well-signed event Zenoti can send: ignore fields and codes you do not know, "
                "accept duplicates and any order, and log what you could not use instead of refusing it "
                "(the evidence shows the body and the receiver's answer)."
            )
        if self.kind == RATE_LIMITED:
            return (
                "Exempt the webhook route from the rate limiter (or allow Zenoti's addresses a burst of hundreds a "
                "minute): a refused event is retried, and 20 failures in a row deactivate the webhook."
            )
        if self.kind == SERVER:
            return (
                "Read the receiver's log for this request (the evidence shows the body): a 5xx is a crash or an "
                "outage to Zenoti, which retries it until the webhook is deactivated."
            )
        if self.kind == REDIRECT:
            return "Give Zenoti the final URL (the redirect's Location): a redirect is a failed attempt to it."
        if self.kind == CONNECTION:
            return (
                "The connection was refused or dropped mid-run: did the receiver crash or restart? Read its log "
                "for the request in the evidence."
            )
        return ""

    def key(self) -> tuple[Any, ...]:
        """What failures must share to be one cause in the report: the class and the status."""
        return (self.kind, self.status)

    def group_title(self, n: int) -> str:
        """``11 checks: answered 413, a body over the receiver's body size limit``."""
        if self.kind == TOO_LARGE:
            return (
                f"{n} checks: bodies of {_kib(self.body_bytes)} and more answered 413 (the receiver's body size limit)"
            )
        if self.kind == TIMEOUT and self.status is None:
            return f"{n} checks: no answer within {self.timeout:g} s"
        return f"{n} checks: {self.says()}"

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.kind, "status": self.status, "retry_after_s": self.retry_after, "says": self.says()}


def _kib(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size >= 1024 else f"{size} bytes"


def classify(
    *,
    status: int | None,
    outcome: str,
    method: str = "POST",
    body_bytes: int = 0,
    timeout: float = 10.0,
    signed: bool = True,
    retry_after: str | None = None,
    error: str | None = None,
) -> Cause:
    """The :class:`Cause` of one answer (see the module docstring for the classes).

    :param outcome: how the request ended, as :class:`~emulator.delivery.sender.SendResult` says
        (``success``, ``http_status``, ``redirect``, ``timeout``, ``connection``, ``tls``, ``error``).
    """
    base: dict[str, Any] = {
        "status": status,
        "method": method,
        "body_bytes": body_bytes,
        "timeout": timeout,
        "signed": signed,
        "error": error,
    }
    if status is None:
        return Cause(TIMEOUT if outcome == "timeout" else CONNECTION, **base)
    if 200 <= status < 300:
        kind = ACCEPTED
    elif 300 <= status < 400:
        kind = REDIRECT
    elif status in (401, 403):
        kind = AUTH
    elif status in (404, 405):
        kind = NOT_FOUND
    elif status == 408:
        kind = TIMEOUT
    elif status == 413:
        kind = TOO_LARGE
    elif status == 415:
        kind = MEDIA
    elif status == 422:
        kind = UNPROCESSABLE
    elif status == 429:
        return Cause(RATE_LIMITED, retry_after=parse_retry_after(retry_after), **base)
    elif 400 <= status < 500:
        kind = CLIENT
    else:
        kind = SERVER
    return Cause(kind, **base)


__all__ = ["KINDS", "Cause", "classify", "parse_retry_after"]
