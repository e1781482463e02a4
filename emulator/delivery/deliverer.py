"""Deliver events the way Zenoti does: signed bytes, a timeout, retries with backoff.

This is the only module that imports :mod:`requests`. An event is serialised **once**
into a :class:`PreparedDelivery` (verb, URL, headers, body bytes); every attempt sends
those same bytes, signed afresh by :class:`ZenotiSignature`. :class:`RetryPolicy` is
pure data plus a pure :meth:`~RetryPolicy.delays`. :class:`Sender` owns the one
``requests.Session`` and makes single requests; :class:`Deliverer` owns a sender and a
bounded pool of worker threads, and writes everything to a
:class:`~emulator.delivery.store.Store` so that a killed process loses nothing.

Usage::

    with Store(path) as store, Deliverer(store, concurrency=8) as deliverer:
        hook = store.upsert_webhook("http://127.0.0.1:9000/hook", secret="s3cret")
        ids = deliverer.submit_many(events, hook)
        deliverer.wait()            # until every delivery is delivered or failed

The facts it reproduces (``ZENOTI_WEBHOOKS.md``): 10 s per attempt; a 2xx is success and
anything else (another status, a 3xx, which is not followed, a timeout, a refused or
reset connection, a TLS error) is a failed attempt; up to 5 retries with exponential
backoff between 30 s and 10 min, with jitter; the webhook is deactivated after 20
failures in a row.
"""

from __future__ import annotations

import heapq
import http.cookiejar
import itertools
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import requests
from requests.auth import AuthBase

from .. import __version__, bounds
from . import signing
from ..defaults import DEFAULT_CONCURRENCY, DEFAULT_DEACTIVATE_AFTER, DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT
from ..bounds import MAX_TIME_SCALE, MAX_TIMEOUT, MIN_TIME_SCALE, check_time_scale, parse_rate, parse_seconds
from ..errors import Conflict, NotFound, UsageError, WebhookInactive
from .store import FAILURE_UNITS, AttemptRecord, NewDelivery, ScheduledAttempt, Store, Webhook
from ..shown import safe
from .transport import DeadlineAdapter, Watchdog
from ..urls import check_url, redact_headers, redact_url

log = logging.getLogger(__name__)

#: The backoff between attempts stays within these bounds (seconds, unscaled).
MIN_BACKOFF = 30.0
MAX_BACKOFF = 600.0
#: Each wait is its nominal value plus or minus this fraction, kept within the bounds.
DEFAULT_JITTER = 0.2
#: First attempts queued in memory before submit_many waits for the workers.
DEFAULT_MAX_QUEUED = 1024
#: The longest a worker waits on its condition at once (a far due time is waited in steps:
#: ``Condition.wait`` refuses a timeout past what the OS can hold).
_MAX_WAIT = 3600.0
#: How much of a response body the log keeps.
RESPONSE_LOG_LIMIT = 64 * 1024
JSON_CONTENT_TYPE = "application/json; charset=utf-8"


def user_agent() -> str:
    """``zenoti-webhook-emulator/<version>``: says who is calling, and which build."""
    return f"zenoti-webhook-emulator/{__version__}"


def serialize(event: Mapping[str, Any]) -> bytes:
    """The wire bytes of an event: compact JSON, UTF-8, non-ASCII kept as is."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them (unscaled seconds).

    The nominal waits grow geometrically from ``min_delay`` (before the first retry) to
    ``max_delay`` (before the last): with the defaults 30 s, 63 s, 134 s, 284 s, 600 s.
    Jitter moves each by up to ``jitter`` of its value either way, never outside
    ``[min_delay, max_delay]``.

    :raise UsageError: for a policy that cannot work (no attempt, negative waits).
    """

    #: the first attempt plus the retries; always finite
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    min_delay: float = MIN_BACKOFF
    max_delay: float = MAX_BACKOFF
    jitter: float = DEFAULT_JITTER

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise UsageError(f"max_attempts must be at least 1, not {self.max_attempts}.")
        if not 0 < self.min_delay <= self.max_delay:
            raise UsageError(f"Backoff bounds must satisfy 0 < min <= max, not {self.min_delay}..{self.max_delay}.")
        if not 0 <= self.jitter < 1:
            raise UsageError(f"jitter must be in [0, 1), not {self.jitter}.")

    @classmethod
    def no_retry(cls) -> RetryPolicy:
        """One attempt and no retry (``fire --no-retry``)."""
        return cls(max_attempts=1)

    @property
    def retries(self) -> int:
        return self.max_attempts - 1

    def nominal(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1-based), before jitter."""
        if self.retries <= 1:
            return self.min_delay
        ratio = self.max_delay / self.min_delay
        return float(self.min_delay * ratio ** ((retry - 1) / (self.retries - 1)))

    def bounds(self, retry: int) -> tuple[float, float]:
        """The smallest and largest wait jitter can give before retry ``retry``."""
        base = self.nominal(retry)
        return max(self.min_delay, base * (1 - self.jitter)), min(self.max_delay, base * (1 + self.jitter))

    def delay(self, retry: int, rng: random.Random) -> float:
        """The wait before retry ``retry`` (1-based), jittered with ``rng``."""
        base = self.nominal(retry)
        jittered = base * (1 + self.jitter * (2 * rng.random() - 1))
        return min(self.max_delay, max(self.min_delay, jittered))

    def delays(self, rng: random.Random) -> list[float]:
        """Every wait of a delivery that fails every attempt: pure, given ``rng``."""
        return [self.delay(k, rng) for k in range(1, self.max_attempts)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetryPolicy:
        return cls(**{k: data[k] for k in ("max_attempts", "min_delay", "max_delay", "jitter") if k in data})


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    """How one delivery is made; stored with it, so a resumed delivery behaves the same."""

    #: seconds to wait for a response, per attempt
    timeout: float = DEFAULT_TIMEOUT
    #: divides every wait between attempts (600 turns 10 min into 1 s)
    time_scale: float = 1.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    #: send ``Content-Type: application/json; charset=utf-8`` (real Zenoti may not)
    content_type: bool = True
    #: ``dashed`` (reported) or ``hex``
    signature_format: str = "dashed"
    #: ``attempt``: every failed attempt counts towards deactivation; ``event``: only an
    #: event whose retries ran out
    failure_unit: str = "attempt"
    #: failures in a row that deactivate the webhook; 0 never deactivates
    deactivate_after: int = DEFAULT_DEACTIVATE_AFTER
    #: headers sent with every attempt, after Content-Type: what a relay passes on from
    #: the request it received (a signature here is replaced when the webhook has a secret)
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # finite and bounded: a timeout of inf would hold an attempt (and resume) for ever
        parse_seconds(self.timeout, what="Timeout")
        check_time_scale(self.time_scale, what="Time scale")
        if self.signature_format not in signing.SIGNATURE_FORMATS:
            raise UsageError(
                f"Signature format must be one of {', '.join(signing.SIGNATURE_FORMATS)}, not {self.signature_format!r}."
            )
        if self.failure_unit not in FAILURE_UNITS:
            raise UsageError(f"Failure unit must be one of {', '.join(FAILURE_UNITS)}, not {self.failure_unit!r}.")
        if self.deactivate_after < 0:
            raise UsageError(f"deactivate_after must be 0 (never) or more, not {self.deactivate_after}.")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["policy"] = self.policy.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeliveryOptions:
        """Options as stored with a delivery.

        A log written before timeouts were bounded may hold ``Infinity``: it is read as
        :data:`~emulator.bounds.MAX_TIMEOUT`, so ``resume`` cannot hold an attempt for ever.
        """
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "policy"}
        timeout = known.get("timeout")
        if isinstance(timeout, (int, float)) and not 0 < timeout <= MAX_TIMEOUT:
            known["timeout"] = MAX_TIMEOUT if timeout > 0 else DEFAULT_TIMEOUT
        scale = known.get("time_scale")
        if isinstance(scale, (int, float)) and not MIN_TIME_SCALE <= scale <= MAX_TIME_SCALE:
            # written before time scales were bounded (1e-320): the nearest bound
            known["time_scale"] = MAX_TIME_SCALE if scale > MAX_TIME_SCALE else MIN_TIME_SCALE
        return cls(policy=RetryPolicy.from_dict(data.get("policy", {})), **known)


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


@dataclass(order=True)
class _Job:
    due_at: float
    seq: int
    scheduled: ScheduledAttempt = field(compare=False)
    #: body, webhook id and options when known (a fresh submit); loaded otherwise
    payload: tuple[bytes, int | None, DeliveryOptions] | None = field(compare=False, default=None)


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
            return SendResult(started_at, prepared.method, _shown_url(prepared.url), {}, None, "error", 0.0, {}, b"", _error_text(exc))
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
                return SendResult(started_at, prepared.method, url, headers, None, "timeout", latency, response_headers, b"", error)
            if scope.expired or broken:
                how = f"did not finish within {timeout:g} s" if scope.expired else f"was cut off ({broken})"
                error = f"HTTP {status} answered, but its body {how} after {len(body)} bytes"
                outcome = "timeout" if scope.expired else "connection"
                return SendResult(started_at, prepared.method, url, headers, None, outcome, latency, response_headers, body, error)
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
            template = self._templates[key] = self.session.prepare_request(requests.Request(prepared.method, prepared.url))
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


#: ``attempt`` hooks receive ``(AttemptRecord, RecordResult)`` after each attempt is
#: logged; ``complete`` hooks receive ``(delivery_id, status)`` once a delivery is
#: final (``delivered`` or ``failed``). Both run on worker threads: keep them short.
Hook = Callable[..., None]
HOOK_NAMES = ("attempt", "complete")


class Deliverer:
    """Sends deliveries on a bounded worker pool, with retries, logging every step.

    Owns one :class:`Sender` (connections are reused) and ``concurrency`` worker
    threads, started on creation. Every delivery goes to the :class:`Store` before it
    is sent, and each retry is written down before it is waited for, so closing or
    killing the process leaves pending work that :meth:`resume_pending` picks up.

    :param store: the delivery log.
    :param options: defaults for :meth:`submit` (timeout, retry policy, time scale...).
    :param concurrency: worker threads, i.e. requests in flight at most.
    :param rate: at most this many requests per second overall; ``None`` for no limit.
    :param rng: draws the jitter; a seeded ``random.Random`` makes it reproducible.
    :param clock: the epoch time (``time.time``); due times are stored in it.
    :param sleep: when given, waits for a due time by calling ``sleep(seconds)`` (a fake
        clock's sleep advances it at once); by default workers wait on a condition, so
        a newly submitted job or :meth:`close` wakes them.
    :param hooks: ``{"attempt": [...], "complete": [...]}`` callables, run on worker
        threads after each attempt is logged (see :data:`HOOK_NAMES`).
    :param max_queued: once this many first attempts are queued, :meth:`submit_many`
        waits until half of them are made, so a generator of a million events is drawn
        as fast as it is sent and memory stays flat.
    """

    def __init__(
        self,
        store: Store,
        *,
        options: DeliveryOptions | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        hooks: Mapping[str, Iterable[Hook]] | None = None,
        max_queued: int = DEFAULT_MAX_QUEUED,
    ) -> None:
        if concurrency < 1:
            raise UsageError(f"Concurrency must be at least 1, not {concurrency}.")
        if rate is not None:
            parse_rate(str(rate))  # finite, at least one an hour: the wait must fit a clock
        self.store = store
        self.options = options or DeliveryOptions()
        self.concurrency = concurrency
        self.max_queued = max(1, max_queued)
        self._rng = rng or random.Random()
        self._clock = clock
        self._sleep = sleep
        self._interval = 1.0 / rate if rate else 0.0
        self._next_slot = 0.0
        self._rate_lock = threading.Lock()
        self.hooks: dict[str, list[Hook]] = {name: [] for name in HOOK_NAMES}
        for name, fns in (hooks or {}).items():
            if name not in self.hooks:
                raise ValueError(f"Unknown hook {name!r}; known: {', '.join(HOOK_NAMES)}")
            self.hooks[name].extend(fns)

        self.sender = Sender(pool_size=concurrency, clock=clock)

        # One lock, three conditions: workers wait for jobs (_cond, woken one at a time
        # per job), wait() for the work to end (_idle), submitters for room (_space).
        # Waking everyone on every completion costs a third of the throughput.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._space = threading.Condition(self._lock)
        self._heap: list[_Job] = []
        self._known: set[int] = set()  # scheduled-attempt ids queued or running here
        self._seq = itertools.count()
        self._running = 0
        self._unattempted = 0  # first attempts and replays not yet made
        self._closing = False
        self._rescale: float | None = None  # resume_pending(time_scale=...)
        self._stop_following = threading.Event()
        self._followers: list[threading.Thread] = []
        self._threads = [
            threading.Thread(target=self._worker, name=f"zenoti-deliverer-{i}", daemon=True) for i in range(concurrency)
        ]
        for t in self._threads:
            t.start()

    # -- public API --------------------------------------------------------------------

    def submit(
        self, event: Mapping[str, Any] | bytes, webhook: Webhook, *, options: DeliveryOptions | None = None
    ) -> int:
        """Log ``event`` for ``webhook`` and queue its first attempt.

        :param event: the envelope as a dict, or its exact JSON bytes.
        :param webhook: where it goes (from :meth:`Store.create_webhook` and friends).
        :param options: overrides the deliverer's :class:`DeliveryOptions`.
        :return: the delivery id.
        :raise WebhookInactive: when the webhook is deactivated.
        """
        return self.submit_many([event], webhook, options=options)[0]

    def submit_many(
        self,
        events: Iterable[Mapping[str, Any] | bytes],
        webhook: Webhook,
        *,
        options: DeliveryOptions | None = None,
        batch: int = 64,
    ) -> list[int]:
        """:meth:`submit` for many events, logged ``batch`` at a time (workers start at once).

        :raise WebhookInactive: when the webhook is deactivated (before anything is logged),
            or becomes deactivated while events are being submitted; those submitted
            before stay queued.
        """
        if self._closing:
            raise RuntimeError("This Deliverer is closed; open a new one to submit.")
        opts = options or self.options
        stored = opts.to_dict()
        ids: list[int] = []
        chunk: list[NewDelivery] = []
        self.store.require_active(webhook)
        try:
            for event in events:
                chunk.append(_new_delivery(event, webhook, stored))
                if len(chunk) >= batch:
                    ids += self._enqueue(chunk, webhook, opts)
                    chunk = []
            if chunk:
                ids += self._enqueue(chunk, webhook, opts)
        except WebhookInactive as exc:
            exc.submitted = ids
            raise
        return ids

    def submit_all(
        self,
        events: Iterable[Mapping[str, Any] | bytes],
        webhooks: Iterable[Webhook],
        *,
        options: DeliveryOptions | None = None,
    ) -> list[int]:
        """Every event to every webhook, all or nothing: logged in one transaction, then sent.

        For a bounded batch (an API request): a crash before the commit leaves none of
        them in the log, after it leaves all of them, to be sent or resumed; none is sent
        before all are logged. Ids come webhook by webhook, events in order.

        :raise WebhookInactive: when a webhook is deactivated (nothing is logged).
        """
        if self._closing:
            raise RuntimeError("This Deliverer is closed; open a new one to submit.")
        opts = options or self.options
        stored = opts.to_dict()
        events = list(events)
        hooks = [self.store.require_active(hook) for hook in webhooks]
        items = [_new_delivery(event, hook, stored) for hook in hooks for event in events]
        scheduled = self.store.create_deliveries(items, time_scale=opts.time_scale) if items else []
        for item, sched in zip(items, scheduled):
            self._push(sched, (item.body, item.webhook.id, opts))
        return [sched.delivery_id for sched in scheduled]

    def _wait_for_room(self) -> None:
        """Backpressure: once ``max_queued`` first attempts wait, wait until half are made."""
        with self._lock:
            if self._unattempted >= self.max_queued:
                while self._unattempted > self.max_queued // 2 and not self._closing:
                    self._space.wait()

    def _enqueue(self, chunk: list[NewDelivery], webhook: Webhook, opts: DeliveryOptions) -> list[int]:
        self._wait_for_room()
        # Checked per batch: the webhook may be deactivated by failures while we submit.
        self.store.require_active(webhook)
        scheduled = self.store.create_deliveries(chunk, time_scale=opts.time_scale)
        for item, sched in zip(chunk, scheduled):
            self._push(sched, (item.body, webhook.id, opts))
        return [sched.delivery_id for sched in scheduled]

    def resume_pending(self, *, time_scale: float | None = None) -> list[int]:
        """Queue every attempt the log has scheduled but not made, each at its due time.

        Call it at start-up (``resume``, ``serve``): retries of a process that was
        killed resume on their original schedule; ones already overdue go at once.
        Attempts already queued here are left as they are, so calling it again picks up
        only what another process scheduled since (see :meth:`follow_log`).

        :param time_scale: run the resumed deliveries at this scale instead of the one
            they were scheduled with: a waiting retry is due at its scheduled time plus
            its unscaled delay divided by it (never later than it was), and their later
            retries wait accordingly. ``None`` keeps the log's schedule.
        :return: the ids of the deliveries resumed.
        """
        if time_scale is not None:
            check_time_scale(time_scale, what="Time scale")
            self._rescale = time_scale
        out = []
        for sched in self.store.pending_schedule():
            if time_scale is not None:
                sched = replace(sched, due_at=min(sched.due_at, sched.scheduled_at + sched.delay_s / time_scale))
            if self._push(sched, None):
                out.append(sched.delivery_id)
        return out

    def queue(self, scheduled: ScheduledAttempt) -> None:
        """Queue an attempt the log already holds (written by another part of the store,
        such as :meth:`Store.record_capture`), to be made at its due time."""
        if self._closing:
            raise RuntimeError("This Deliverer is closed; open a new one to queue.")
        self._push(scheduled, None)

    def follow_log(self, interval_s: float) -> None:
        """Pick up, every ``interval_s`` seconds, attempts other processes scheduled.

        A long-running process (``serve``) shares the log with short ones (``fire
        --no-wait``, a ``fire`` stopped by Ctrl-C): their retries come due while it
        runs, and nothing else would send them. Claims keep an attempt from going out
        twice. Stops with :meth:`close`.
        """

        def loop() -> None:
            while not self._stop_following.wait(interval_s):
                try:
                    self.resume_pending()
                except Exception:  # a busy or closing log: try again at the next tick
                    log.exception("Could not read the log's pending attempts")

        follower = threading.Thread(target=loop, name="zenoti-follow-log", daemon=True)
        self._followers.append(follower)
        follower.start()

    def replay(self, delivery_id: int) -> int:
        """Send a finished delivery again, as one new attempt of the same event.

        The body is the same bytes (same ``id``), signed with the webhook's current
        secret. A replay is a single attempt: it does not start a new series of retries.

        :return: the delivery id.
        :raise NotFound: no such delivery. :raise UsageError: it is still pending.
        :raise WebhookInactive: its webhook is deactivated.
        """
        _, webhook_id, _ = self.store.delivery_payload(delivery_id)
        if webhook_id is None:
            raise Conflict(f"Delivery {delivery_id} has no webhook any more (it was deleted); nothing to replay to.")
        self.store.require_active(self.store.get_webhook(webhook_id))
        sched = self.store.schedule_replay(delivery_id)
        self._push(sched, None)
        return delivery_id

    def replay_many(self, delivery_ids: Iterable[int]) -> list[int]:
        """:meth:`replay` for many, with :meth:`submit_many`'s backpressure: at most
        ``max_queued`` wait in memory, so failures that deactivate a webhook stop the
        run after a bounded number of replays instead of after all were queued.

        :raise WebhookInactive: a webhook is (or became) deactivated; ``submitted``
            holds the ids replayed before, which still run.
        """
        replayed: list[int] = []
        try:
            for delivery_id in delivery_ids:
                self._wait_for_room()
                replayed.append(self.replay(delivery_id))
        except WebhookInactive as exc:
            exc.submitted = replayed
            raise
        return replayed

    def ping(self, url: str, *, timeout: float | None = None) -> SendResult:
        """Zenoti's trigger test: an empty POST with no body and no signature; not logged."""
        return self.send(PreparedDelivery.ping(url), timeout=timeout or self.options.timeout)

    def send(self, prepared: PreparedDelivery, *, timeout: float) -> SendResult:
        """One request on this deliverer's connections (see :meth:`Sender.send`)."""
        return self.sender.send(prepared, timeout=timeout)

    def wait(self, timeout: float | None = None, *, settle: bool = True) -> bool:
        """Block until the queued work is done.

        :param settle: ``True`` waits until every delivery is delivered or failed (all
            retries run); ``False`` only until every first attempt (and replay) was made,
            leaving later retries scheduled.
        :param timeout: real seconds; ``None`` waits as long as it takes.
        :return: ``False`` if ``timeout`` ran out first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                done = (not self._heap and self._running == 0) if settle else (self._unattempted == 0 and self._running == 0)
                if done:
                    return True
                if deadline is None:
                    self._idle.wait()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._idle.wait(left)

    def close(self) -> None:
        """Stop the workers once their in-flight attempts are logged; close the session.

        Attempts not yet made stay scheduled in the log for :meth:`resume_pending`.
        Call :meth:`wait` first to finish them here.
        """
        self._stop_following.set()
        for follower in self._followers:
            follower.join()
        with self._lock:
            self._closing = True
            for cond in (self._cond, self._idle, self._space):
                cond.notify_all()
        for t in self._threads:
            t.join()
        self.sender.close()

    def __enter__(self) -> Deliverer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the worker loop -------------------------------------------------------------

    def _push(self, sched: ScheduledAttempt, payload: tuple[bytes, int | None, DeliveryOptions] | None) -> bool:
        with self._cond:
            if sched.id in self._known:
                return False
            self._known.add(sched.id)
            if sched.kind != "retry":
                self._unattempted += 1
            heapq.heappush(self._heap, _Job(sched.due_at, next(self._seq), sched, payload))
            self._cond.notify()
            return True

    def _take(self) -> _Job | None:
        """The next due job, waiting for it; ``None`` once closing."""
        while True:
            with self._cond:
                while True:
                    if self._closing:
                        return None
                    if not self._heap:
                        self._cond.wait()
                        continue
                    job = self._heap[0]
                    left = job.due_at - self._clock()
                    if left <= 0:
                        heapq.heappop(self._heap)
                        self._running += 1
                        return job
                    if self._sleep is None:
                        self._cond.wait(min(left, _MAX_WAIT))
                        continue
                    break
            # An injected sleep (a fake clock) runs outside the lock, then we look again.
            self._sleep(left)

    def _worker(self) -> None:
        while True:
            job = self._take()
            if job is None:
                return
            try:
                self._run(job)
            except Exception:  # a bug or a broken log: keep the worker, keep the row pending
                log.exception("Attempt %s of delivery %s could not be made", job.scheduled.number, job.scheduled.delivery_id)
            finally:
                with self._lock:
                    self._running -= 1
                    self._known.discard(job.scheduled.id)
                    if job.scheduled.kind != "retry":
                        self._unattempted -= 1
                        if self._unattempted == self.max_queued // 2:
                            self._space.notify_all()
                    self._idle.notify_all()

    def _throttle(self) -> None:
        if not self._interval:
            return
        with self._rate_lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        wait = slot - time.monotonic()
        if wait > 0:
            (self._sleep or time.sleep)(wait)

    def _run(self, job: _Job) -> None:
        sched = job.scheduled
        if not self.store.claim(sched.id):
            log.debug("Attempt %s of delivery %s is not pending any more", sched.number, sched.delivery_id)
            return
        try:
            self._attempt(job)
        except BaseException:
            self.store.release(sched.id)
            raise

    def _attempt(self, job: _Job) -> None:
        sched = job.scheduled
        if job.payload is not None:
            body, webhook_id, opts = job.payload
        else:
            body, webhook_id, stored = self.store.delivery_payload(sched.delivery_id)
            opts = DeliveryOptions.from_dict(stored) if stored else self.options
            if self._rescale is not None:
                opts = replace(opts, time_scale=self._rescale)
        try:
            webhook = self.store.get_webhook(webhook_id) if webhook_id is not None else None
        except NotFound:
            webhook = None
        if webhook is None:
            self.store.fail_pending(sched.delivery_id, "webhook deleted")
            self._complete(sched.delivery_id, "failed")
            return
        if not webhook.active:
            self.store.fail_pending(
                sched.delivery_id, f"webhook deactivated after {webhook.consecutive_failures} failures in a row"
            )
            self._complete(sched.delivery_id, "failed")
            return
        prepared = PreparedDelivery.for_event(
            body, webhook, content_type=opts.content_type, signature_format=opts.signature_format, headers=opts.headers
        )
        self._throttle()
        result = self.send(prepared, timeout=opts.timeout)
        retry_delay: float | None = None
        if not result.ok and sched.kind != "replay" and sched.number < opts.policy.max_attempts:
            retry_delay = opts.policy.delay(sched.number, self._rng)
        record = result.record(delivery_id=sched.delivery_id, scheduled_id=sched.id, number=sched.number)
        outcome = self.store.record_attempt(
            record,
            retry_delay_s=retry_delay,
            time_scale=opts.time_scale,
            failure_unit=opts.failure_unit,  # type: ignore[arg-type]
            deactivate_after=opts.deactivate_after,
            webhook_id=webhook.id,
        )
        if outcome.deactivated:
            log.warning(
                "Webhook %s (%s) deactivated after %s failures in a row", webhook.id, webhook.shown_url, opts.deactivate_after
            )
        log.debug("Delivery %s attempt %s: %s", sched.delivery_id, sched.number, result.describe())
        if outcome.next is not None:
            self._push(outcome.next, job.payload)
        if outcome.deactivated:
            self._end_waiting(webhook.id)
        self._call("attempt", record, outcome)
        if outcome.status != "pending":
            self._complete(sched.delivery_id, outcome.status)

    def _end_waiting(self, webhook_id: int) -> None:
        """A deactivated webhook's waiting retries will never be sent: make them due now.

        Each is then taken at once, finds the webhook inactive and ends failed, so a run
        that waits for its deliveries to settle stops waiting (instead of sitting until
        the last retry's time only to cancel it).
        """
        page, _ = self.store.list_deliveries(status="pending", webhook_id=webhook_id, limit=None)
        ids = {d.id for d in page}
        now = self._clock()
        with self._cond:
            for job in self._heap:
                if job.scheduled.delivery_id in ids and job.due_at > now:
                    job.due_at = now
            heapq.heapify(self._heap)
            self._cond.notify_all()

    def _complete(self, delivery_id: int, status: str) -> None:
        self._call("complete", delivery_id, status)

    def _call(self, name: str, *args: Any) -> None:
        for fn in self.hooks[name]:
            try:
                fn(*args)
            except Exception:
                log.exception("%s hook %r failed", name, fn)


def _new_delivery(event: Mapping[str, Any] | bytes, webhook: Webhook, options: Mapping[str, Any]) -> NewDelivery:
    body = event if isinstance(event, bytes) else serialize(event)
    meta = event if isinstance(event, Mapping) else _meta(body)
    return NewDelivery(
        body=body,
        event_type=_str_or_none(meta.get("event_type")),
        call_id=_str_or_none(meta.get("id")),
        event_id=_str_or_none(meta.get("event_id")),
        webhook=webhook,
        options=options,
    )


def _meta(body: bytes) -> Mapping[str, Any]:
    try:
        parsed = bounds.loads_json(body)
    except ValueError:  # not JSON, or too deep to be an event (TooDeep): sent as it is
        return {}
    return parsed if isinstance(parsed, dict) else {}


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


__all__ = [
    "DEFAULT_TIMEOUT",
    "Deliverer",
    "DeliveryOptions",
    "PreparedDelivery",
    "RetryPolicy",
    "SendResult",
    "Sender",
    "ZenotiSignature",
    "check_url",
    "serialize",
    "user_agent",
]
