"""One attempt: an event's bytes, signed and sent, and what came back.

This is where :mod:`requests` is used (the deliverer runs it). An event is serialised **once**
into a :class:`PreparedDelivery` (verb, URL, headers, body bytes); every attempt sends
those same bytes, signed afresh by :class:`ZenotiSignature`. :class:`Sender` owns the one
``requests.Session`` and makes single requests with Zenoti's 10 s per attempt; a 2xx is
success and anything else (another status, a 3xx, which is not followed, a timeout, a
refused or reset connection, a TLS error) is a failed attempt (:class:`SendResult`).
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import requests
from requests.auth import AuthBase

from .. import __version__
from ..defaults import DEFAULT_CONCURRENCY
from ..shown import safe
from ..urls import redact_headers, redact_url
from . import signing
from .rows import AttemptRecord, Webhook
from .transport import DeadlineAdapter, Watchdog

#: How much of a response body the log keeps.
RESPONSE_LOG_LIMIT = 64 * 1024
JSON_CONTENT_TYPE = "application/json; charset=utf-8"


def user_agent() -> str:
    """``zenoti-webhook-emulator/<version>``: says who is calling, and which build."""
    return f"zenoti-webhook-emulator/{__version__}"


def serialize(event: Mapping[str, Any]) -> bytes:
    """The wire bytes of an event: compact JSON, UTF-8, non-ASCII kept as is."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ZenotiSignature(AuthBase):
    """Signs a prepared request's body into ``zenoti-webhook-signature``, as Zenoti does."""

    def __init__(self, secret: str, signature_format: str = "dashed") -> None:
        self._secret = secret
        self.signature_format = signature_format

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        r.headers[signing.SIGNATURE_HEADER] = signing.sign(body, self._secret, signature_format=self.signature_format)  # type: ignore[arg-type]
        return r

    def __repr__(self) -> str:
        return f"ZenotiSignature(secret=<hidden>, signature_format={self.signature_format!r})"


@dataclass(frozen=True, slots=True)
class PreparedDelivery:
    """One call, final: the bytes that are signed are the bytes that are sent.

    Build it with :meth:`for_event` (or :meth:`ping`); every attempt of a delivery
    sends the same ``body``.
    """

    method: str
    url: str
    body: bytes
    #: every header but the signature, which is computed per attempt from ``body``
    headers: Mapping[str, str]
    secret: str | None = field(default=None, repr=False)
    signature_format: str = "dashed"

    @classmethod
    def for_event(
        cls,
        event: Mapping[str, Any] | bytes,
        webhook: Webhook,
        *,
        content_type: bool = True,
        signature_format: str = "dashed",
        headers: Mapping[str, str] | None = None,
    ) -> PreparedDelivery:
        """The call that delivers ``event`` (a dict, or its exact bytes) to ``webhook``.

        :param headers: more headers, sent as given (a relay's copy of what it received).
        """
        body = event if isinstance(event, bytes) else serialize(event)
        headers = {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})} if content_type else dict(headers or {})
        return cls(webhook.verb, webhook.url, body, headers, webhook.secret, signature_format)

    @classmethod
    def ping(cls, url: str) -> PreparedDelivery:
        """Zenoti's "test your trigger": an empty POST, no body, no signature."""
        return cls("POST", url, b"", {})

    @property
    def signature(self) -> str | None:
        """The signature header value, or ``None`` without a secret."""
        if not self.secret:
            return None
        return signing.sign(self.body, self.secret, signature_format=self.signature_format)  # type: ignore[arg-type]

    def auth(self) -> ZenotiSignature | None:
        return ZenotiSignature(self.secret, self.signature_format) if self.secret else None


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one HTTP request did, before it is logged."""

    started_at: float
    verb: str
    url: str
    request_headers: Mapping[str, str]
    status_code: int | None
    #: ``success``, ``http_status``, ``redirect``, ``timeout``, ``connection``, ``tls`` or ``error``
    outcome: str
    latency_ms: float
    response_headers: Mapping[str, str]
    response_body: bytes
    error: str | None

    def __post_init__(self) -> None:
        # the receiver wrote part of this text (a reason phrase, a bad status line): it is
        # shown on terminals and in reports, so it carries no escape and no password
        if self.error:
            object.__setattr__(self, "error", safe(self.error))

    @property
    def ok(self) -> bool:
        return self.outcome == "success"

    def describe(self) -> str:
        """``200``, ``503``, ``timeout``: how the attempt ended, in a word."""
        return str(self.status_code) if self.status_code is not None else self.outcome

    def record(self, *, delivery_id: int, scheduled_id: int | None, number: int) -> AttemptRecord:
        """This result as the log's record of attempt ``number`` of ``delivery_id``.

        Every field of a result is a field of the record, so one added here reaches the
        log (or fails loudly if the store lacks it) instead of being dropped by a copy.
        """
        outcome = {f.name: getattr(self, f.name) for f in fields(self)}
        return AttemptRecord(delivery_id=delivery_id, scheduled_id=scheduled_id, number=number, **outcome)


def _classify(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls"
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower():
        return "timeout"
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return "connection"
    return "error"


def _outcome(status: int) -> str:
    if 200 <= status < 300:
        return "success"
    if 300 <= status < 400:
        return "redirect"
    return "http_status"


class Sender:
    """Makes webhook calls one request at a time, on one pool of kept-alive connections.

    This is the HTTP client of the emulator: :class:`Deliverer` sends every attempt
    through one, and ``check`` uses one directly for requests that are not deliveries
    (a forged signature, a burst). It is safe to share between threads.

    :param pool_size: connections kept open per host (the requests in flight at most).
    :param clock: the epoch time recorded as each result's ``started_at``.
    """

    def __init__(self, *, pool_size: int = DEFAULT_CONCURRENCY, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent()
        # Proxies from the environment are looked up once per URL (see _proxies), not
        # on every request; and no ~/.netrc credentials are sent to a receiver.
        self.session.trust_env = False
        self._proxy_cache: dict[str, dict[str, str]] = {}
        self._templates: dict[tuple[str, str], requests.PreparedRequest] = {}
        # Zenoti sends no cookies back; neither do we, whatever a receiver sets.
        self.session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        adapter = DeadlineAdapter(pool_connections=max(10, pool_size), pool_maxsize=max(10, pool_size))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # ends each attempt at its deadline, whatever the receiver does (see transport.py)
        self._watchdog = Watchdog()

    def send(self, prepared: PreparedDelivery, *, timeout: float) -> SendResult:
        """Make one HTTP request and say how it went; never raises for a network failure.

        The whole attempt, connection, request, headers and body, ends within
        ``timeout`` seconds (a receiver that drips its answer is cut off, as Zenoti cuts
        it off), and at most :data:`RESPONSE_LOG_LIMIT` bytes of the response are read:
        past them the connection is closed, so an endless body costs neither memory
        nor time. Redirects are not followed (a 3xx is a failed attempt).
        """
        started_at = self._clock()
        t0 = time.perf_counter()
        try:
            prep = self._prepare(prepared)
        except (requests.RequestException, ValueError) as exc:
            return SendResult(
                started_at, prepared.method, _shown_url(prepared.url), {}, None, "error", 0.0, {}, b"", _error_text(exc)
            )
        headers = _shown_headers(prep.headers)
        url = _shown_url(prepared.url)
        with self._watchdog.deadline(timeout) as scope:
            try:
                resp = self.session.send(
                    prep, timeout=timeout, allow_redirects=False, stream=True, proxies=self._proxies(prepared.url)
                )
            except requests.RequestException as exc:
                latency = (time.perf_counter() - t0) * 1000
                outcome = "timeout" if scope.expired else _classify(exc)
                text = _error_text(exc)
                if outcome == "timeout":
                    text = f"no response within {timeout:g} s ({'attempt deadline' if scope.expired else text})"
                return SendResult(started_at, prepared.method, url, headers, None, outcome, latency, {}, b"", text)
            # The deadline cut the status line or headers while they dripped in: http.client
            # then takes what came (an empty header block) as the whole head.
            head_cut = scope.expired
            try:
                body, broken = (b"", None) if head_cut else _read_limited(resp, RESPONSE_LOG_LIMIT)
            finally:
                scope.end()  # before the connection can go back to the pool
                resp.close()
            latency = (time.perf_counter() - t0) * 1000
            status = resp.status_code
            response_headers = dict(resp.headers)
            if head_cut:
                error = f"no response within {timeout:g} s (the status line and headers were still arriving)"
                return SendResult(
                    started_at, prepared.method, url, headers, None, "timeout", latency, response_headers, b"", error
                )
            if scope.expired or broken:
                how = f"did not finish within {timeout:g} s" if scope.expired else f"was cut off ({broken})"
                error = f"HTTP {status} answered, but its body {how} after {len(body)} bytes"
                outcome = "timeout" if scope.expired else "connection"
                return SendResult(
                    started_at, prepared.method, url, headers, None, outcome, latency, response_headers, body, error
                )
        return SendResult(
            started_at,
            prepared.method,
            url,
            headers,
            status,
            _outcome(status),
            latency,
            response_headers,
            body,
            None if 200 <= status < 300 else f"HTTP {status} {resp.reason or ''}".strip(),
        )

    def _prepare(self, prepared: PreparedDelivery) -> requests.PreparedRequest:
        """The request on the wire, from a per-(verb, URL) template.

        ``Session.prepare_request`` re-parses the URL and merges every session setting
        on each call: 0.4 ms, half of our CPU per delivery against a fast receiver. The
        template is prepared once; each request copies it and adds body and headers.
        """
        key = (prepared.method, prepared.url)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = self.session.prepare_request(
                requests.Request(prepared.method, prepared.url)
            )
        prep = template.copy()
        prep.prepare_body(prepared.body, None)
        prep.headers.update(prepared.headers)
        auth = prepared.auth()
        return auth(prep) if auth is not None else prep

    def _proxies(self, url: str) -> dict[str, str]:
        proxies = self._proxy_cache.get(url)
        if proxies is None:
            # HTTP(S)_PROXY and NO_PROXY, as requests would read them for this URL
            proxies = self._proxy_cache[url] = requests.utils.get_environ_proxies(url)
        return proxies

    def close(self) -> None:
        self._watchdog.close()
        self.session.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Bytes asked of the socket per read of a response body.
_READ_CHUNK = 16 * 1024


def _read_limited(resp: requests.Response, limit: int) -> tuple[bytes, str | None]:
    """At most ``limit`` bytes of the body (decoded), and why reading broke off, if it did.

    Reading stops at ``limit``: the caller closes the connection, so the rest of a
    300 MiB (or endless) body is never read. ``(body, None)`` is a clean read, cut or
    not; ``(body, reason)`` a connection that broke (or was ended by the deadline).
    """
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in resp.raw.stream(_READ_CHUNK, decode_content=True):
            chunks.append(chunk[: limit - size])
            size += len(chunk)
            if size >= limit:
                break
    except (requests.RequestException, OSError, ValueError) as exc:
        return b"".join(chunks), _error_text(exc)
    except Exception as exc:  # urllib3's ProtocolError, DecodeError...: the receiver's fault
        if type(exc).__module__.startswith("urllib3"):
            return b"".join(chunks), _error_text(exc)
        raise
    return b"".join(chunks), None


def _shown_url(url: str) -> str:
    """The URL as the log keeps it: a password in it is never written down."""
    return redact_url(url)


def _shown_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Request headers as the log keeps them: text, credentials masked (see :func:`redact_headers`)."""
    return redact_headers({k: v if isinstance(v, str) else v.decode("latin-1") for k, v in headers.items()})


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _error_text(exc: BaseException) -> str:
    """A readable one-liner for a requests/urllib3 error (they nest their reasons deeply)."""
    inner: BaseException = exc
    for _ in range(6):
        nested = getattr(inner, "reason", None)
        if not isinstance(nested, BaseException):
            nested = next((a for a in inner.args if isinstance(a, BaseException)), None)
        if nested is None:
            break
        inner = nested
    text = str(inner)
    errno = _ERRNO.search(text)
    if errno:
        return errno.group(0).strip()
    if "timed out" in text.lower():
        return "read timed out"
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")
