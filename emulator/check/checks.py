"""Contract tests for a receiver: what Zenoti will do to it, tried before Zenoti does.

``zenoti-emulator check URL`` and the pytest plugin both run this suite. Each
:class:`Check` sends real requests through :class:`~emulator.delivery.deliverer.Sender` (the
emulator's one HTTP client: the same bytes, signature and headers as a delivery) and
judges the answers: ``pass``, ``fail``, ``warn`` or ``skip``, with the exchanges that
prove it as evidence. Nothing is logged to the delivery log: a check is a probe, not a
delivery, and a forged signature has no place among real attempts.

The checks run over whatever event types the registry lists, so a new type joins the
suite with no edit here. Usage::

    config = CheckConfig("http://127.0.0.1:9000/hook", secret="s3cret")
    with CheckRun(config) as run:
        results = run.run_all()

Core code: no click, no flask, no sqlite. A receiver that cannot be reached at all is
:class:`ReceiverUnreachable` (a usage error: the URL is wrong or nothing listens).
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..shown import printable as _printable
from ..urls import redact_url
from .causes import ACCEPTED, AUTH, CLIENT, MEDIA, NOT_FOUND, RATE_LIMITED, SERVER, TIMEOUT, TOO_LARGE, UNPROCESSABLE, Cause, classify, parse_retry_after
from ..delivery.deliverer import DEFAULT_TIMEOUT, JSON_CONTENT_TYPE, PreparedDelivery, SendResult, Sender, check_url, serialize
from ..errors import UsageError

from ..events.registry import EventType, Registry, default_registry
from ..delivery.signing import SIGNATURE_HEADER
from ..world.habits import GROUP_SIZES

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"
OUTCOMES = (PASS, FAIL, WARN, SKIP)

#: Answers slower than this at p95 are a warning: far from Zenoti's timeout, but a
#: receiver that slow under load will reach it.
DEFAULT_SLOW = 2.0
#: Events whose latency the ``latency`` check measures, one after another.
DEFAULT_LATENCY_EVENTS = 20
#: The ``burst`` check: this many events, this many in flight. Zenoti does not publish
#: its sending concurrency; a busy organization's evening (check-ins, closed invoices,
#: rebookings across its centers), or Zenoti draining a backlog, easily puts a few hundred
#: events in a minute, and a limiter of "300 a minute" is a common default that trips.
DEFAULT_BURST = 500
DEFAULT_BURST_CONCURRENCY = 20
#: Most add-ons a service of the world offers (``emulator/world/build.py`` draws 0 to 3).
MAX_ADD_ONS = 3
#: The largest group the world books: the edge profile's largest group of services, each
#: with every add-on it may offer (40 x 4 = 160 appointments).
MAX_GROUP_APPOINTMENTS = max(GROUP_SIZES["edge"]) * (1 + MAX_ADD_ONS)
#: The types whose size can grow, the lists that grow, how many items the world puts in
#: them at most, and why that is realistic. ``large-payload`` runs for these types only
#: (an event of a fixed shape is as small at its largest as anywhere else), and sends
#: exactly that many items: never more than the world can produce.
GROWABLE: dict[str, tuple[tuple[tuple[str, ...], ...], int, str]] = {
    "AppointmentGroup.Created": (
        (("data", "appointments"),), MAX_GROUP_APPOINTMENTS,
        f"the largest group the world books: {max(GROUP_SIZES['edge'])} services, each with {MAX_ADD_ONS} add-ons"),
    "Invoice.Closed": (
        (("data", "invoice", "invoice_items"), ("data", "invoice", "appointments")), MAX_GROUP_APPOINTMENTS,
        "the invoice of the largest group: a line and an appointment for each of its appointments"),
}
#: How many further events a large payload takes items from (real items, their own ids)
#: before it repeats the items it has.
LARGE_PAYLOAD_FRESH_EVENTS = 40
#: The ``stress-payload`` check (a warning at most): a body this large, beyond anything the
#: world produces, for a receiver that wants to know its headroom.
STRESS_PAYLOAD_BYTES = 512 * 1024
#: Checks run side by side once the receiver has let a request time out: a receiver that
#: answers after the timeout then takes one timeout per this many checks, not per check.
HANG_WORKERS = 20
#: Longest a check waits in all for a rate limiter on one request (``Retry-After``).
MAX_PACE_S = 120.0
#: Seconds ``duplicates`` and ``out-of-order`` give a receiver that works after answering
#: to show the effect of an event (``--observe``, the pytest fixtures).
OBSERVE_WITHIN = 3.0
#: Events of each type (realistic and edge) that ``accepts-events`` sends.
ACCEPT_SAMPLES = 3
#: The burst stops once this many of its requests failed: Zenoti's deactivation threshold.
BURST_STOP_AFTER = 20
#: Evidence kept per check: a failing burst of 500 is explained by its first few.
MAX_EVIDENCE = 5
#: Characters of a body or response shown in the evidence.
EXCERPT = 300
#: The event type whose out-of-order delivery the ``out-of-order`` check tries.
STATUS_EVENT = "AppointmentGroup.Status"
GROUP_CREATED = "AppointmentGroup.Created"
#: An unknown field added to events by ``unknown-fields``; the name says who sent it.
UNKNOWN_FIELD = "x_emulator_added_field"


class ReceiverUnreachable(UsageError):
    """Nothing answers at the URL: not a failing check, a wrong address (exit 2)."""

    code = "receiver_unreachable"


@dataclass(frozen=True)
class CheckConfig:
    """What to check and how; every bound of the run is here, checked once.

    :param url: the receiver (http or https).
    :param secret: the webhook's secret; the signature checks are skipped without it.
    :param verb: the verb configured in Zenoti; ``None`` tries PUT and PATCH as a warning.
    :param event_types: the types the webhook subscribes to; empty means all registered.
    :param timeout: seconds Zenoti waits per request (10); slower is a failed delivery.
    :param slow: p95 latency above this is a warning (2 s, or the timeout if shorter).
    """

    url: str
    secret: str | None = None
    verb: str | None = None
    event_types: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    slow: float | None = None
    latency_events: int = DEFAULT_LATENCY_EVENTS
    burst: int = DEFAULT_BURST
    burst_concurrency: int = DEFAULT_BURST_CONCURRENCY
    seed: int | None = None
    #: ``--observe URL``: where the receiver says what it did with an event (see :class:`Observer`)
    observe: str | None = None
    #: the worlds' first clock reading; with ``seed``, the run's events are the same every
    #: time (``None``: the real clock, so the same seed gives other events at another hour)
    now: datetime | None = None
    #: readings of disputed facts (``--variant``) the events are made with
    variants: Any = None

    def __post_init__(self) -> None:
        check_url(self.url)
        if self.observe is not None:
            check_url(self.observe)
        from ..variants import coerce

        object.__setattr__(self, "variants", coerce(self.variants))
        if self.verb is not None:
            object.__setattr__(self, "verb", _verb(self.verb))
        if not (0 < self.timeout <= 600 and math.isfinite(self.timeout)):
            raise UsageError(f"Timeout must be between 0 and 600 seconds, not {self.timeout}.")
        if self.slow is None:
            object.__setattr__(self, "slow", min(DEFAULT_SLOW, self.timeout))
        assert self.slow is not None
        if not (0 < self.slow <= self.timeout):
            raise UsageError(f"The slow threshold must be positive and at most the timeout ({self.timeout:g} s), not {self.slow}.")
        if not 1 <= self.latency_events <= 10_000:
            raise UsageError(f"Latency events must be between 1 and 10000, not {self.latency_events}.")
        if not 1 <= self.burst <= 100_000:
            raise UsageError(f"Burst size must be between 1 and 100000 events, not {self.burst}.")
        if not 1 <= self.burst_concurrency <= 256:
            raise UsageError(f"Burst concurrency must be between 1 and 256, not {self.burst_concurrency}.")
        for option, names in (("--only", self.only), ("--skip", self.skip)):
            for name in names:
                if name not in CHECKS:
                    close = difflib.get_close_matches(name, CHECKS, n=1)
                    hint = f"Did you mean {close[0]!r}?" if close else f"Known: {', '.join(CHECKS)}."
                    raise UsageError(f"Unknown check {name!r} in {option}. {hint}")

    def selected(self) -> list[Check]:
        """The checks this run makes, in suite order."""
        return [c for name, c in CHECKS.items()
                if (name in self.only if self.only else c.default) and name not in self.skip]


def with_scheme(url: str) -> str:
    """``localhost:9000/hook`` -> ``http://localhost:9000/hook``: a receiver's URL without a
    scheme is the developer's own machine, as Stripe's CLI reads it; any scheme is kept."""
    return url if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url) else "http://" + url


def _verb(text: str) -> str:
    verb = text.strip().upper()
    if verb not in ("POST", "PUT", "PATCH"):
        raise UsageError(f"Verb must be POST, PUT or PATCH (what Zenoti's setup offers), not {text!r}.")
    return verb


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
    def of(cls, label: str, prepared: PreparedDelivery, result: SendResult, *, timeout: float = DEFAULT_TIMEOUT,
           paced_s: float = 0.0) -> Exchange:
        wanted = {"content-type", SIGNATURE_HEADER}
        headers = {k: v for k, v in result.request_headers.items() if k.lower() in wanted}
        retry_after = next((v for k, v in result.response_headers.items() if k.lower() == "retry-after"), None)
        return cls(
            label=label,
            method=prepared.method,
            url=redact_url(prepared.url),
            headers=headers,
            body_bytes=len(prepared.body),
            body_excerpt=_excerpt(prepared.body),
            status=result.status_code,
            outcome=result.outcome,
            latency_ms=round(result.latency_ms, 1),
            response_excerpt=_excerpt(result.response_body),
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
        return classify(status=self.status, outcome=self.outcome, method=self.method, body_bytes=self.body_bytes,
                        timeout=self.timeout_s, signed=self.signed or self.body_bytes == 0,
                        retry_after=self.retry_after, error=self.error)

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
            "request": {"method": self.method, "url": self.url, "headers": dict(self.headers),
                        "body_bytes": self.body_bytes, "body_excerpt": self.body_excerpt},
            "response": {"status": self.status, "outcome": self.outcome, "latency_ms": self.latency_ms,
                         "body_excerpt": self.response_excerpt, "error": self.error, "retry_after": self.retry_after},
            "class": self.cause.kind,
            "paced_s": self.paced_s,
        }


def _excerpt(data: bytes) -> str:
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
        return CHECKS[self.check].why

    @property
    def fix(self) -> str:
        """The check's own fix when what came back is what it tests (a 413 to a large
        payload), else the fix of what came back (a 429 to anything: the rate limiter)."""
        check = CHECKS[self.check]
        if self.cause is None or self.cause.kind in check.own:
            return check.fix
        return self.cause.fix()

    @property
    def own_cause(self) -> bool:
        """Whether the failure is the check's own finding, not a cause shared with others."""
        return self.cause is None or self.cause.kind in CHECKS[self.check].own

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


class CheckRun:
    """One run of the suite against one receiver: its HTTP client, its events, its probe.

    Events come from one world per profile (:class:`~emulator.events.generate.EventStream`), so
    no two requests of a run carry the same ``id`` unless a check means them to (a
    receiver that deduplicates must not fail a check for a duplicate it was not sent),
    and an event that names a group is preceded by that group's booking
    (:meth:`send_event`): only the ``out-of-order`` check sends a status change first.

    Before the first check, :meth:`probe` finds a verb and signature format the receiver
    accepts: the ``verb`` and ``signature-format`` checks judge those; the other checks
    use what works, so one breakage fails one check, not all of them.
    """

    def __init__(self, config: CheckConfig, *, registry: Registry | None = None) -> None:
        self.config = config
        self.registry = registry or default_registry()
        from ..variants import sends

        names = dict.fromkeys(config.event_types) or tuple(self.registry)  # each type once, in order
        self.event_types: list[EventType] = [self.registry.get_type(n) for n in names]
        if not config.event_types:  # all registered: those the variants send
            self.event_types = [kind for kind in self.event_types if sends(kind, config.variants)]
        # The booking first: the checks that need one event send the first type's.
        self.event_types.sort(key=lambda kind: kind.name != GROUP_CREATED)
        self.sender = Sender(pool_size=max(config.burst_concurrency, HANG_WORKERS))
        self._streams: dict[str, Iterator[dict[str, Any]]] = {}
        self._waiting: dict[tuple[str, str], list[dict[str, Any]]] = {}
        #: each group's booking, by group id, as the worlds emitted them
        self._bookings: dict[str, dict[str, Any]] = {}
        #: groups whose booking the receiver has been sent
        self._introduced: set[str] = set()
        #: bookings requested and not yet sent: ``id(prepared) -> (prepared, group)``
        self._bookings_out: dict[int, tuple[PreparedDelivery, str]] = {}
        #: what was sent only so that an event made sense (a group's booking): not judged
        self.prelude: list[Exchange] = []
        self._lock = threading.Lock()
        self.seed = config.seed
        #: the verb and signature format the other checks use (see :meth:`probe`)
        self.verb = config.verb or "POST"
        self.signature_format = "dashed"
        self.probe_notes: list[str] = []
        self._probed = False
        #: the probe's first answer was 401/403 to an unsigned event: the receiver wants --secret
        self.wants_secret = False
        #: a request of this run got no answer within the timeout: the rest run side by side
        self.hanging = False
        #: the receiver's rate limit, once a 429 showed it: ``(requests before it, Retry-After)``
        self.rate_limit: tuple[int, float | None] | None = None
        #: seconds the checks waited for the rate limiter, in all
        self.paced_s = 0.0
        self._sent = itertools.count(1)  # next() is atomic: requests sent so far
        self._local = threading.local()
        #: what the receiver did with an event, when it lets us see (``--observe``, fixtures)
        self.observer: Observer | None = HTTPObserver(config.observe, config.timeout) if config.observe else None

    def close(self) -> None:
        self.sender.close()
        if isinstance(self.observer, HTTPObserver):
            self.observer.close()

    def __enter__(self) -> CheckRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events and requests ------------------------------------------------------------

    def events(self, event_type: str | EventType, count: int = 1, *, profile: str = "realistic") -> list[dict[str, Any]]:
        """``count`` fresh events: each one new to the receiver."""
        kind = event_type if isinstance(event_type, EventType) else self.registry.get_type(event_type)
        with self._lock:
            waiting = self._waiting.setdefault((kind.name, profile), [])
            stream = self._streams.get(profile)
            if stream is None:
                from ..events.generate import EventStream

                seed = None if self.seed is None else self.seed + len(self._streams)
                types = {k.name for k in self.event_types} | {GROUP_CREATED}
                stream = self._streams[profile] = iter(EventStream(seed=seed, now=self.config.now, profile=profile,
                                                                   types=types, registry=self.registry,
                                                                   variants=self.config.variants))
            while len(waiting) < count:
                event = next(stream)
                if event["event_type"] == GROUP_CREATED:
                    self._bookings[event["data"]["appointment_group_id"].lower()] = event
                self._waiting.setdefault((event["event_type"], profile), []).append(event)
            taken, waiting[:] = waiting[:count], waiting[count:]
            return taken

    def prerequisites(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The events a receiver must have had for ``event`` to make sense (the booking of
        the group it names), that this run has not sent it yet."""
        data = event.get("data")
        if not isinstance(data, dict):
            return []
        invoice = data.get("invoice")
        group = data.get("appointment_group_id") or (invoice.get("appointment_group_id") if isinstance(invoice, dict) else None)
        if isinstance(group, str):
            group = group.lower()  # a GUID in any case: feedback writes the group's id upper case
        with self._lock:
            if event.get("event_type") == GROUP_CREATED and isinstance(group, str):
                self._introduced.add(group)
                return []
            if not isinstance(group, str) or group in self._introduced or group not in self._bookings:
                return []
            self._introduced.add(group)
            booking = self._bookings[group]
            for (name, _), waiting in self._waiting.items():  # sent now: never handed out again
                if name == GROUP_CREATED and booking in waiting:
                    waiting.remove(booking)
            return [booking]

    def send_event(self, label: str, event: dict[str, Any], **how: Any) -> Exchange:
        """Send ``event`` as :meth:`request` makes it, after what it builds on (not judged)."""
        for earlier in self.prerequisites(event):
            self.prelude.append(self.send(f"first, the booking of group {earlier['data']['appointment_group_id']}",
                                          self.request(earlier)))
        return self.send(label, self.request(event, **how))

    def status_and_its_group(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """A status change and the booking of the group it names, from one world's stream:
        the same group, invoice and guest, as a receiver would get them in order."""
        from ..events.generate import EventStream

        booked: dict[str, dict[str, Any]] = {}
        seed = None if self.seed is None else self.seed + 997
        for event in EventStream(seed=seed, now=self.config.now, types=[GROUP_CREATED, STATUS_EVENT],
                                 registry=self.registry, variants=self.config.variants):
            group = event["data"]["appointment_group_id"]
            if event["event_type"] == GROUP_CREATED:
                booked[group] = event
            elif group in booked and event["data"]["appointment_group_status"] != 0:
                # not "booked": a receiver that dropped it would still look right
                return event, booked[group]
        raise AssertionError("the world emitted no status change")  # it always does within hours

    def request(self, event: Mapping[str, Any] | bytes, *, verb: str | None = None, secret: str | None | bool = True,
                signature_format: str | None = None, content_type: bool = True) -> PreparedDelivery:
        """The call that delivers ``event`` as this run does, with one thing changed.

        :param secret: ``True`` signs with the configured secret (if any), a string
            signs with that one (a forged signature), ``None``/``False`` sends none.
        """
        body = event if isinstance(event, bytes) else serialize(event)
        key = self.config.secret if secret is True else (secret or None)
        headers = {"Content-Type": JSON_CONTENT_TYPE} if content_type else {}
        prepared = PreparedDelivery(verb or self.verb, self.config.url, body, headers, key,
                                    signature_format or self.signature_format)
        data = event.get("data") if isinstance(event, Mapping) else None
        if isinstance(event, Mapping) and event.get("event_type") == GROUP_CREATED and isinstance(data, dict):
            group = data.get("appointment_group_id")
            if isinstance(group, str):
                with self._lock:  # held with the request, so that its id stays its own
                    self._bookings_out[id(prepared)] = (prepared, group.lower())
        return prepared

    def _booking_sent(self, prepared: PreparedDelivery, accepted: bool) -> None:
        """A booking the receiver accepted is never sent again as another event's
        prerequisite (its id would repeat); one it refused still is, when an event names
        its group (the receiver must have it for that event to make sense)."""
        with self._lock:
            held = self._bookings_out.pop(id(prepared), None)
            if held is not None and accepted:
                self._introduced.add(held[1])

    def send(self, label: str, prepared: PreparedDelivery, *, pace: bool = True) -> Exchange:
        """Send one request; under a rate limit (429) wait as ``Retry-After`` says and send it
        again (``pace=False``: the burst, which judges the limit, does not wait)."""
        waited, tries = 0.0, 0
        while True:
            number = next(self._sent)
            result = self.sender.send(prepared, timeout=self.config.timeout)
            if result.outcome == "timeout":
                self.hanging = True
            if result.status_code != 429 or not pace or waited >= MAX_PACE_S:
                self._booking_sent(prepared, result.outcome == "success")
                break
            header = next((v for k, v in result.response_headers.items() if k.lower() == "retry-after"), None)
            wait = parse_retry_after(header)
            with self._lock:
                if self.rate_limit is None:
                    self.rate_limit = (number - 1, wait)
            tries += 1
            wait = max(0.05, wait if wait is not None else min(2.0 ** (tries - 1), 30.0))  # 1, 2, 4 s...
            wait = min(wait, MAX_PACE_S - waited)
            time.sleep(wait)  # the receiver asked for it: Retry-After
            waited += wait
        if waited:
            with self._lock:
                self.paced_s += waited
            self._local.paced = getattr(self._local, "paced", 0.0) + waited
        return Exchange.of(label, prepared, result, timeout=self.config.timeout, paced_s=waited)

    def ping(self) -> Exchange:
        prepared = PreparedDelivery.ping(self.config.url)
        return self.send("test-your-trigger ping (empty POST, no signature)", prepared)

    # -- running ------------------------------------------------------------------------

    def probe(self) -> None:
        """Find a verb and signature format the receiver takes; raise if nothing answers.

        :raise ReceiverUnreachable: the first request could not connect, or got no answer
            within the timeout.
        """
        if self._probed:
            return
        self._probed = True
        event = self.events(self.event_types[0])[0] if self.event_types else {}
        first = self.send("probe: the first event", self.request(event))
        self.prelude.append(first)
        # A first request that cannot connect is a wrong URL or a receiver that is down:
        # every check would fail to say so. One that connects but gets no answer in time
        # is a finding (a slow receiver): the checks run, side by side, and say so.
        if first.outcome in ("connection", "tls", "error"):
            raise ReceiverUnreachable(
                f"Cannot reach {redact_url(self.config.url)}: {first.error}. Is the receiver running, and is the URL right?"
            )
        if first.outcome == "timeout":
            self.probe_notes.append(f"the first event got no answer within {self.config.timeout:g} s: the receiver "
                                    "accepts connections but answers too late; the checks run side by side")
            return
        if first.ok:
            return
        if first.status in (401, 403) and not self.config.secret:
            self.wants_secret = True
            self.probe_notes.append(f"the receiver wants signed events (an unsigned one was answered {first.status}): "
                                    "pass --secret; the checks it refuses for that are skipped")
            return
        verbs = [self.verb] + (["POST"] if self.verb != "POST" else [])
        formats = ["dashed"] + (["hex"] if self.config.secret else [])
        for verb, fmt in itertools.product(verbs, formats):
            if (verb, fmt) == (self.verb, "dashed"):
                continue
            retry = self.send(f"probe: {verb}, signature {fmt}", self.request(event, verb=verb, signature_format=fmt))
            self.prelude.append(retry)
            if retry.ok:
                if verb != self.verb:
                    self.probe_notes.append(f"{self.verb} is refused: the other checks send POST")
                if fmt != "dashed":
                    self.probe_notes.append("Zenoti's signature format is refused: the other checks sign sha256=<hex>")
                self.verb, self.signature_format = verb, fmt
                return
        hint = ""
        if first.outcome == "redirect":
            hint = " (a redirect: Zenoti does not follow them; check the URL it points to)"
        self.probe_notes.append(f"a valid event was answered {first.answer()}{hint}: the checks that send events will fail")

    def rate_limit_note(self) -> str | None:
        """What the run learnt of the receiver's rate limit, or ``None`` if it met none."""
        if self.rate_limit is None:
            return None
        before, wait = self.rate_limit
        after = f", Retry-After {wait:g} s" if wait is not None else ""
        return (f"the receiver rate-limits: 429 after {before} requests{after}; the checks before burst paced "
                f"themselves ({self.paced_s:.1f} s of waiting in all)")

    def run_check(self, check: Check, event_type: str | None = None) -> CheckResult:
        """Run one check (for one event type) and time it; the probe runs first, once.

        A failure that only says the receiver wants signed events (a 401 to an unsigned
        event, no ``--secret``) is a skip that says so: it tells nothing of the check.
        Waits for a rate limiter are in the message and the stats.
        """
        self.probe()
        self._local.paced = 0.0
        t0 = time.perf_counter()
        result = check.run(self, event_type)
        result.duration_s = time.perf_counter() - t0
        cause = result.cause
        if (result.outcome in (FAIL, WARN) and cause is not None and cause.kind == AUTH and not cause.signed
                and not self.config.secret and check.name != "ping"):
            result.outcome = SKIP
            result.message = f"{result.message}; nothing else can be judged without the secret"
        paced = self._local.paced
        if paced:
            result.stats["paced_s"] = round(paced, 3)
            result.message += f" (paced: waited {paced:.1f} s for the receiver's rate limit)"
        return result

    def items(self) -> Iterator[tuple[Check, str | None]]:
        """``(check, event_type)`` for every result the selected checks will give."""
        for check in self.config.selected():
            if check.per_event_type:
                for kind in self.event_types:
                    if check.applies_to is None or check.applies_to(kind.name):
                        yield check, kind.name
            else:
                yield check, None

    def run_many(self, items: Sequence[tuple[Check, str | None]]) -> Iterator[CheckResult]:
        """The results of ``items``, in order; side by side once the receiver lets requests
        time out (a receiver answering after 10 s then costs a few timeouts, not one per
        check), one after another otherwise. ``latency`` and ``burst`` always run alone."""
        i = 0
        while i < len(items):
            if not self.hanging or items[i][0].name in ALONE:
                yield self.run_check(*items[i])
                i += 1
                continue
            j = i
            while j < len(items) and items[j][0].name not in ALONE:
                j += 1
            with ThreadPoolExecutor(max_workers=HANG_WORKERS) as pool:
                yield from pool.map(lambda item: self.run_check(*item), items[i:j])
            i = j

    def run_all(self, on_result: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
        self.probe()
        results = []
        for result in self.run_many(list(self.items())):
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results


# -- what the receiver did with an event -------------------------------------------------


class ObserveError(Exception):
    """The observer could not say (no answer, not the documented JSON)."""


class Observer:
    """What a receiver did with the events it was sent, when it lets us see.

    :param applied: given an event ``id``, how many times the receiver applied it.
    :param group_status: given an ``appointment_group_id``, the status code the receiver
        holds for that group now, or ``None``.
    :param how: how it was given (``--observe URL``, the fixture's name), for the evidence.
    """

    def __init__(self, applied: Callable[[str], Any] | None, group_status: Callable[[str], Any] | None,
                 how: str) -> None:
        self.applied = applied
        self.group_status = group_status
        self.how = how


class HTTPObserver(Observer):
    """``--observe URL``: ``GET URL?id=<event id>`` answers ``{"applied": N}`` and
    ``GET URL?group=<group id>`` answers ``{"status": CODE|null}``."""

    def __init__(self, url: str, timeout: float) -> None:
        import requests

        self.url = url
        self.timeout = timeout
        self._session = requests.Session()
        super().__init__(lambda event_id: self._get("id", event_id, "applied"),
                         lambda group: self._get("group", group, "status"), f"--observe {url}")

    def _get(self, param: str, value: str, key: str) -> Any:
        import requests

        try:
            response = self._session.get(self.url, params={param: value}, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise ObserveError(f"GET {self.url}?{param}=… failed: {_printable(str(exc))[:200]}") from None
        try:
            doc = response.json() if response.status_code == 200 else None
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or key not in doc:
            raise ObserveError(f"GET {self.url}?{param}=… answered {response.status_code} "
                               f"{_excerpt(response.content)!r}, not {{'{key}': …}}")
        return doc[key]

    def close(self) -> None:
        self._session.close()


def _not_observed(fixture: str) -> str:
    """How a person lets a check see what their receiver did with an event."""
    return f"effect not observed: pass --observe URL, or define the pytest fixture {fixture}, to see it"


def _observe(ask: Callable[[str], Any], key: str, done: Callable[[Any], bool]) -> Any:
    """Ask until ``done`` says the answer is final or :data:`OBSERVE_WITHIN` passed: a
    receiver that answers first and works later shows the effect a moment after."""
    deadline = time.monotonic() + OBSERVE_WITHIN
    while True:
        value = ask(key)
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(0.05)  # polling the receiver's own state: there is nothing to wait on


# -- helpers for the checks -------------------------------------------------------------


def _result(check: str, event_type: str | None, outcome: str, message: str, evidence: Sequence[Exchange] = (),
            cause: Cause | None = None, **stats: Any) -> CheckResult:
    return CheckResult(check, event_type, outcome, message, list(evidence)[:MAX_EVIDENCE], stats=stats, cause=cause)


def _main_cause(exchanges: Sequence[Exchange]) -> Cause:
    """The cause of most of ``exchanges`` (the first of them on a tie)."""
    causes = [e.cause for e in exchanges]
    keys = [c.key() for c in causes]
    return max(causes, key=lambda c: keys.count(c.key()))


def _refused(name: str, what: str, cause: Cause, consequence: str) -> str:
    """The message of a refusal: what was sent, what came back and what it means; the
    check's consequence only when what came back is what the check tests."""
    message = f"{what}: {cause.says()}"
    if consequence and cause.kind in CHECKS[name].own:
        message += f"; {consequence}"
    return message


def _all_accepted(name: str, event_type: str | None, exchanges: Sequence[Exchange], what: str,
                  consequence: str = "") -> CheckResult:
    """Pass when every exchange got a 2xx; else fail with the ones that did not."""
    bad = [e for e in exchanges if not e.ok]
    if not bad:
        return _result(name, event_type, PASS, f"{what}: {_answers(exchanges)}", exchanges[:1])
    cause = _main_cause(bad)
    counts = f" ({_answers(exchanges)})" if len(exchanges) > 1 else ""
    return _result(name, event_type, FAIL, _refused(name, what, cause, consequence) + counts, bad, cause)


def _answers(exchanges: Sequence[Exchange]) -> str:
    """``3 answered 200, 1 answered 409``."""
    return ", ".join(f"{n} answered {answer}" if answer[0].isdigit() else f"{n} with {answer}"
                     for answer, n in _counts(exchanges).items())


def _counts(exchanges: Sequence[Exchange]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in exchanges:
        counts[e.answer()] = counts.get(e.answer(), 0) + 1
    return counts


def _accepted(name: str, event_type: str | None, e: Exchange, what: str, consequence: str,
              **stats: Any) -> CheckResult:
    """Pass when ``e`` got a 2xx; else fail, saying what came back and what it costs."""
    if e.ok:
        return _result(name, event_type, PASS, f"{what} was answered {e.answer()}", [e], **stats)
    return _result(name, event_type, FAIL, _refused(name, what, e.cause, consequence), [e], e.cause, **stats)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of non-empty ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _latency_of(e: Exchange, timeout: float) -> float:
    # A timeout took at least the timeout: count it so, not as the moment it gave up.
    return max(e.latency_ms, timeout * 1000) if e.outcome == "timeout" else e.latency_ms


# -- the checks ---------------------------------------------------------------------------


def _accepts_events(run: CheckRun, event_type: str | None) -> CheckResult:
    assert event_type is not None
    exchanges = []
    for profile in ("realistic", "edge"):
        for event in run.events(event_type, ACCEPT_SAMPLES, profile=profile):
            exchanges.append(run.send_event(f"{profile} {event_type} id={event.get('id')}", event))
            if exchanges[-1].outcome == "timeout":
                break  # one timeout is the finding; more would only wait
        if exchanges[-1].outcome == "timeout":
            break
    return _all_accepted("accepts-events", event_type, exchanges,
                         f"{len(exchanges)} {event_type} event{'s' if len(exchanges) > 1 else ''} "
                         "(realistic and edge values)",
                         "Zenoti retries each and counts it toward deactivation")


def _verb_check(run: CheckRun, event_type: str | None) -> CheckResult:
    kind = run.event_types[0]
    verbs = [run.config.verb] if run.config.verb else ["PUT", "PATCH"]
    exchanges = [run.send(f"{verb} {kind.name}", run.request(run.events(kind)[0], verb=verb)) for verb in verbs]
    refused = [e for e in exchanges if not e.ok]
    if not refused:
        return _result("verb", None, PASS, f"{' and '.join(verbs)} accepted: {_answers(exchanges)}", exchanges[:1])
    cause = _main_cause(refused)
    if run.config.verb:
        return _result("verb", None, FAIL, _refused("verb", f"the configured verb {run.config.verb}", cause,
                                                    "every event would be refused"), refused, cause)
    names = " and ".join(e.method for e in refused)
    if cause.kind in CHECKS["verb"].own:
        message = (f"{names} refused ({_answers(refused)}): set this webhook to POST in Zenoti, "
                   "or accept every verb Zenoti offers")
    else:
        message = _refused("verb", names, cause, "")
    return _result("verb", None, WARN, message, refused, cause)


def _needs_secret(name: str, run: CheckRun) -> CheckResult | None:
    if run.config.secret:
        return None
    return _result(name, None, SKIP, "no --secret given: the receiver's signature check cannot be tried")


def _signature_format(run: CheckRun, event_type: str | None) -> CheckResult:
    if (skipped := _needs_secret("signature-format", run)) is not None:
        return skipped
    kind = run.event_types[0]
    e = run.send("signed as Zenoti signs: sha256 =AB-12-…", run.request(run.events(kind)[0], signature_format="dashed"))
    return _accepted("signature-format", None, e, "a correct signature in Zenoti's format ('sha256 =AB-12-…')",
                     "every real event would be refused")


def _rejects(name: str, run: CheckRun, label: str, secret: str | None) -> CheckResult:
    if (skipped := _needs_secret(name, run)) is not None:
        return skipped
    kind = run.event_types[0]
    e = run.send(label, run.request(forged(run.events(kind)[0]), secret=secret))
    cause = e.cause
    if e.ok:
        return _result(name, None, FAIL, f"{label} was answered {e.answer()}: the receiver accepts forged events", [e],
                       cause)
    if cause.kind in (AUTH, CLIENT, UNPROCESSABLE):
        return _result(name, None, PASS, f"{label} was refused ({e.answer()})", [e])
    if cause.kind == SERVER:
        return _result(name, None, WARN, f"{label} was refused, but {cause.answer}: answer 401 or 403, so that it is "
                       "not taken for an outage", [e], cause)
    return _result(name, None, FAIL, f"{label}: {cause.says()}; whether the receiver refuses it is unknown", [e], cause)


def forged(event: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``event`` with ids of its own (the event's, and its group's): a forgery the
    receiver refuses must not take an id or a group a real event of the run will use."""
    copied = copy.deepcopy(dict(event))
    copied["id"] = secrets.token_hex(12)
    data = copied.get("data")
    if isinstance(data, dict) and isinstance(data.get("appointment_group_id"), str):
        data["appointment_group_id"] = str(uuid.uuid4())
    return copied


def _rejects_bad_signature(run: CheckRun, event_type: str | None) -> CheckResult:
    return _rejects("rejects-bad-signature", run, "an event signed with the wrong secret", "not-the-" + (run.config.secret or ""))


def _rejects_missing_signature(run: CheckRun, event_type: str | None) -> CheckResult:
    return _rejects("rejects-missing-signature", run, "an event with no signature header", None)


def _ping(run: CheckRun, event_type: str | None) -> CheckResult:
    return _accepted("ping", None, run.ping(), "Zenoti's 'test your trigger' ping (an empty unsigned POST)",
                     "the setup screen would report the webhook as broken")


def _no_content_type(run: CheckRun, event_type: str | None) -> CheckResult:
    kind = run.event_types[0]
    e = run.send("an event without Content-Type", run.request(run.events(kind)[0], content_type=False))
    return _accepted("no-content-type", None, e, "a body without Content-Type",
                     "a parser that reads only JSON-typed bodies loses these events")


def _duplicates(run: CheckRun, event_type: str | None) -> CheckResult:
    kind = run.event_types[0]
    event = run.events(kind)[0]
    prepared = run.request(event)
    exchanges = [run.send(f"the same event (id {event['id']}), first time", prepared)]
    if exchanges[0].outcome != "timeout":  # after a timeout the second would only wait as long
        exchanges.append(run.send(f"the same event (id {event['id']}), second time", prepared))
    what = "the same event twice"
    if not all(e.ok for e in exchanges):
        return _all_accepted("duplicates", None, exchanges, what,
                             "Zenoti retries after a timeout, and a refused duplicate is retried until the webhook "
                             "is deactivated")
    observer = run.observer
    if observer is None or observer.applied is None:
        return _result("duplicates", None, PASS, f"{what}: {_answers(exchanges)} ({_not_observed('zenoti_applied')} "
                       "applied once)", exchanges[:1])
    try:
        applied = _observe(observer.applied, event["id"], lambda n: n != 0)
    except ObserveError as exc:
        return _result("duplicates", None, FAIL, f"{what}: {_answers(exchanges)}, but {observer.how} could not say "
                       f"how often it was applied: {exc}", exchanges[:1])
    if applied == 1:
        return _result("duplicates", None, PASS, f"{what}: {_answers(exchanges)}, applied once (observed through "
                       f"{observer.how})", exchanges[:1], applied=applied)
    return _result("duplicates", None, FAIL, f"{what}: {_answers(exchanges)}, but applied {applied} times (observed "
                   f"through {observer.how}): a retry would book, charge or count twice", exchanges[:1],
                   applied=applied)


def _out_of_order(run: CheckRun, event_type: str | None) -> CheckResult:
    subscribed = {kind.name for kind in run.event_types}
    if not {STATUS_EVENT, GROUP_CREATED} <= subscribed:
        return _result("out-of-order", None, SKIP,
                       f"the webhook does not subscribe to both {GROUP_CREATED} and {STATUS_EVENT} (--event-type)")
    status, created = run.status_and_its_group()
    group_id = created["data"]["appointment_group_id"]
    code = status["data"]["appointment_group_status"]
    exchanges = [
        run.send(f"{STATUS_EVENT} (status {code}) for group {group_id}, before its {GROUP_CREATED}",
                 run.request(status)),
        run.send(f"{GROUP_CREATED} of group {group_id}, after its status", run.request(created)),
    ]
    what = "a status change before the group it names"
    if not all(e.ok for e in exchanges):
        return _all_accepted("out-of-order", None, exchanges, what, "that status change is lost")
    observer = run.observer
    if observer is None or observer.group_status is None:
        return _result("out-of-order", None, PASS, f"{what}: {_answers(exchanges)} ({_not_observed('zenoti_group_status')} "
                       "keep the latest status)", exchanges[:1])
    try:
        held = _observe(observer.group_status, group_id, lambda value: value == code)
    except ObserveError as exc:
        return _result("out-of-order", None, FAIL, f"{what}: {_answers(exchanges)}, but {observer.how} could not say "
                       f"the group's status: {exc}", exchanges[:1])
    if held == code:
        return _result("out-of-order", None, PASS, f"{what}: {_answers(exchanges)}, and the group holds status {code} "
                       f"(observed through {observer.how})", exchanges[:1], status=held)
    return _result("out-of-order", None, FAIL, f"{what}: {_answers(exchanges)}, but the group holds status "
                   f"{'none' if held is None else held}, not {code}, the status sent (observed through {observer.how}): "
                   "the status change that came first was dropped", exchanges, status=held)


def _known_codes(event_type: EventType) -> Iterator[tuple[str, list[int]]]:
    """``($.data.appointments[*].appointment_type, [0, 1, 2])`` for each integer code field."""
    for path, sub in event_type.iter_fields():
        known = sub.get("x-known-values") or sub.get("enum")
        if known and all(isinstance(v, int) and not isinstance(v, bool) for v in known):
            yield path, list(known)


def _set_everywhere(node: Any, parts: Sequence[str], value: Any) -> int:
    """Set ``value`` at every place ``parts`` (``data``, ``appointments[*]``, ...) reaches."""
    head, rest = parts[0], parts[1:]
    key = head.removesuffix("[*]")
    if not isinstance(node, dict) or key not in node:
        return 0
    child = node[key]
    if head.endswith("[*]"):
        if not rest or not isinstance(child, list):
            return 0
        return sum(_set_everywhere(item, rest, value) for item in child)
    if not rest:
        node[key] = value
        return 1
    return _set_everywhere(child, rest, value)


def forward_compatible(event: dict[str, Any], event_type: EventType) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``event`` as a newer Zenoti might send it: new fields, new code values.

    :return: the event and what was changed, for the evidence.
    """
    event = copy.deepcopy(event)
    changes = [f"$.{UNKNOWN_FIELD}", f"$.data.{UNKNOWN_FIELD}"]
    event[UNKNOWN_FIELD] = {"added_by": "zenoti-emulator check", "version": 2}
    if isinstance(event.get("data"), dict):
        event["data"][UNKNOWN_FIELD] = ["a list", 1, None]
    for path, known in _known_codes(event_type):
        if '["' in path:
            continue
        value = max(known) + 1
        if _set_everywhere(event, path.removeprefix("$.").split("."), value):
            changes.append(f"{path} = {value}")
    return event, changes


def _unknown_fields(run: CheckRun, event_type: str | None) -> CheckResult:
    assert event_type is not None
    kind = run.registry.get_type(event_type)
    event, changes = forward_compatible(run.events(kind)[0], kind)
    e = run.send_event(f"{event_type} with " + ", ".join(changes), event)
    return _accepted("unknown-fields", event_type, e, "an event with new fields and code values",
                     "the next change Zenoti makes would stop every delivery", changes=changes)


def _largest_list(node: Any, path: tuple[Any, ...] = ()) -> tuple[int, tuple[Any, ...]]:
    """``(size, path)`` of the list of objects with the most items in ``node``."""
    best: tuple[int, tuple[Any, ...]] = (0, ())
    if isinstance(node, dict):
        for key, value in node.items():
            best = max(best, _largest_list(value, path + (key,)), key=lambda b: b[0])
    elif isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        best = (len(node), path)
    return best


def _at(node: Any, path: Sequence[Any]) -> Any:
    for key in path:
        node = node[key] if isinstance(node, dict) and key in node else None
    return node


def _grow(run: CheckRun, kind: EventType, event: dict[str, Any], path: Sequence[str], *, items: int | None = None,
          size: int | None = None) -> int:
    """Grow the list at ``path`` of ``event`` to ``items`` items (or until the body has
    ``size`` bytes) with the items of further events of the world (real items, their own
    ids); after :data:`LARGE_PAYLOAD_FRESH_EVENTS` of them, with copies of its own.

    :return: the items in the list now.
    """
    target = _at(event, path)
    if not isinstance(target, list) or not target:
        return 0
    fresh = 0
    while (items is not None and len(target) < items) or (size is not None and len(serialize(event)) < size):
        more: Any = None
        if fresh < LARGE_PAYLOAD_FRESH_EVENTS:
            more = _at(run.events(kind, 1, profile="edge")[0], path)
            fresh += 1
        if not isinstance(more, list) or not more:
            more = copy.deepcopy(target) if fresh >= LARGE_PAYLOAD_FRESH_EVENTS else []
        target.extend(more)
    if items is not None:
        del target[items:]
    return len(target)


def large_payload(run: CheckRun, kind: EventType) -> tuple[dict[str, Any], str]:
    """The largest event of ``kind`` the world can produce: the largest of a few
    edge-profile events (long names, many items), its growing lists filled to the most
    items the world puts in them (:data:`GROWABLE`).

    :return: the event, and what it holds and why that size is realistic.
    """
    paths, most, why = GROWABLE[kind.name]
    event = max(run.events(kind, 10, profile="edge"), key=lambda e: len(serialize(e)))
    held = [f"{_grow(run, kind, event, path, items=most)} items in {'.'.join(path)}" for path in paths]
    return event, f"{', '.join(held)}: {why}"


def _large_payload(run: CheckRun, event_type: str | None) -> CheckResult:
    assert event_type is not None
    kind = run.registry.get_type(event_type)
    event, why = large_payload(run, kind)
    prepared = run.request(event)
    what = f"a {len(prepared.body) / 1024:.0f} KiB {event_type} ({why})"
    return _accepted("large-payload", event_type, run.send_event(what, event), what,
                     "Zenoti can send this event, and a refused one is retried until the webhook is deactivated",
                     body_bytes=len(prepared.body))


def _stress_payload(run: CheckRun, event_type: str | None) -> CheckResult:
    growable = [kind for kind in run.event_types if kind.name in GROWABLE]
    if not growable:
        return _result("stress-payload", None, SKIP, "the webhook subscribes to no event type whose size can grow")
    kind = growable[0]
    event = max(run.events(kind, 10, profile="edge"), key=lambda e: len(serialize(e)))
    path = GROWABLE[kind.name][0][0]
    items = _grow(run, kind, event, path, size=STRESS_PAYLOAD_BYTES)
    prepared = run.request(event)
    what = (f"a {len(prepared.body) / 1024:.0f} KiB {kind.name} ({items} items in {'.'.join(path)}; beyond anything "
            "the world produces, a stress test of headroom)")
    e = run.send_event(what, event)
    if e.ok:
        return _result("stress-payload", None, PASS, f"{what} was answered {e.answer()}", [e],
                       body_bytes=len(prepared.body))
    return _result("stress-payload", None, WARN, f"{what}: {e.cause.says()} (a warning only: no real event is this "
                   "large)", [e], e.cause, body_bytes=len(prepared.body))


def _latency(run: CheckRun, event_type: str | None) -> CheckResult:
    n = run.config.latency_events
    timeout = run.config.timeout
    kinds = itertools.cycle(run.event_types)
    # More timeouts than 5 % of n put the p95 at the timeout whatever comes next: stop
    # there rather than wait out the whole run on a receiver that hangs (at the first,
    # when the run has already seen one).
    allowed = 0 if run.hanging else int(n * 0.05)
    exchanges: list[Exchange] = []
    for i in range(n):
        exchanges.append(run.send_event(f"event {i + 1} of {n}", run.events(next(kinds))[0]))
        if sum(e.outcome == "timeout" for e in exchanges) > allowed:
            break
    values = [_latency_of(e, timeout) for e in exchanges]
    p95, p50 = percentile(values, 0.95), percentile(values, 0.50)
    slowest = sorted(exchanges, key=lambda e: -_latency_of(e, timeout))
    sent = len(exchanges)
    stats = {"events": sent, "p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "max_ms": round(max(values), 1)}
    timeouts = sum(e.outcome == "timeout" for e in exchanges)
    figures = f"p95 {p95:.0f} ms over {sent} events (p50 {p50:.0f} ms, max {max(values):.0f} ms)"
    if sent < n:
        figures += f", stopped after {timeouts} timeouts"
    if timeouts:
        cause = next(e for e in slowest if e.outcome == "timeout").cause
        return _result("latency", None, FAIL, f"{figures}: {cause.says()}, so those events are retried and arrive twice",
                       slowest, cause, **stats)
    if p95 >= timeout * 1000:
        return _result("latency", None, FAIL, f"{figures}: at the {timeout:g} s timeout (Zenoti's: 10 s), so "
                       "those events are retried and arrive twice", slowest, **stats)
    if p95 > run.config.slow * 1000:
        return _result("latency", None, WARN, f"{figures}: above {run.config.slow:g} s; answer first, work later",
                       slowest, **stats)
    bad = [e for e in exchanges if not e.ok]
    if bad:  # fast, but not accepted: what came back is the finding, not the speed
        cause = _main_cause(bad)
        return _result("latency", None, FAIL, f"{figures}: {len(bad)} {cause.says()}", bad, cause, **stats)
    return _result("latency", None, PASS, figures, [], **stats)


def _burst(run: CheckRun, event_type: str | None) -> CheckResult:
    n, c = run.config.burst, run.config.burst_concurrency
    kinds = itertools.cycle(run.event_types)
    events = [run.events(next(kinds))[0] for _ in range(n)]
    # The bookings the burst's other events build on go first, one by one, not in the
    # burst; a booking of the burst that went first is replaced by a fresh one.
    sent_first: list[dict[str, Any]] = []
    for event in events:
        if event["event_type"] != GROUP_CREATED:
            for earlier in run.prerequisites(event):
                run.prelude.append(run.send("first, a booking the burst builds on", run.request(earlier)))
                sent_first.append(earlier)
    events = [run.events(GROUP_CREATED)[0] if any(e is s for s in sent_first) else e for e in events]
    for event in events:
        run.prerequisites(event)  # the burst's own bookings count as sent
    prepared = [run.request(event) for event in events]
    stop = threading.Event()
    failures = itertools.count(1)  # next() is atomic: the workers share it

    def send(index: int) -> Exchange | None:
        if stop.is_set():
            return None
        # not paced: a rate limit is what the burst is here to find
        e = run.send(f"burst event {index + 1} of {n}", prepared[index], pace=False)
        if not e.ok and next(failures) >= BURST_STOP_AFTER:
            stop.set()
        return e

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=c) as pool:
        exchanges = [e for e in pool.map(send, range(n)) if e is not None]
    elapsed = time.perf_counter() - t0
    bad = [e for e in exchanges if not e.ok]
    stats = {"events": len(exchanges), "concurrency": c, "elapsed_s": round(elapsed, 3),
             "per_s": round(len(exchanges) / elapsed, 1) if elapsed > 0 else None, "answers": _counts(exchanges)}
    figures = f"{len(exchanges)} events at {c} in flight in {elapsed:.1f} s"
    if not bad:
        return _result("burst", None, PASS, f"{figures}: all answered 2xx", [], **stats)
    stopped = (f"; stopped after {len(bad)} failures (Zenoti deactivates a webhook after {BURST_STOP_AFTER} in a row)"
               if len(exchanges) < n else "")
    cause = _main_cause(bad)
    accepted = len(exchanges) - len(bad)
    detail = f"{len(bad)} not accepted ({_answers(bad)}), {accepted} accepted"
    if cause.kind == RATE_LIMITED:
        detail = f"{len(bad)} {cause.says()} ({accepted} accepted)"
    return _result("burst", None, FAIL, f"{figures}: {detail}{stopped}", bad, cause, **stats)


#: Checks that never run side by side with others: they measure the receiver's speed.
ALONE = frozenset({"latency", "burst"})
_REFUSED_CONTENT = frozenset({CLIENT, UNPROCESSABLE, MEDIA})

#: The suite, in the order it runs: ``burst`` last, so that a rate limiter it trips
#: cannot fail the checks after it (the checks before it wait for one they meet).
CHECKS: dict[str, Check] = {c.name: c for c in [
    Check("accepts-events", "accepts each subscribed event type, realistic and edge values, 2xx within the timeout",
          "Every event Zenoti sends must be answered 2xx within 10 s, or it is retried and counts toward deactivation.",
          "Answer 2xx to every well-signed event; store it and do the work after answering.",
          _accepts_events, per_event_type=True, own=_REFUSED_CONTENT),
    Check("verb", "accepts the verb configured in Zenoti (PUT and PATCH too)",
          "A webhook's verb is chosen in Zenoti's setup: POST, PUT or PATCH. A handler for POST only answers 404 or 405 to the others.",
          "Route POST, PUT and PATCH to the same handler.", _verb_check, own=frozenset({NOT_FOUND})),
    Check("signature-format", "accepts Zenoti's exact signature header (sha256 =AB-12-…)",
          "Zenoti writes the HMAC-SHA256 as dashed upper-case hex after 'sha256 =' with a space. A receiver that compares "
          "against plain lower-case hex refuses every real event.",
          "Parse the header tolerantly: drop the sha256 prefix, spaces and dashes, compare the bytes in constant time.",
          _signature_format, own=frozenset({AUTH})),
    Check("rejects-bad-signature", "refuses an event signed with the wrong secret",
          "A receiver that answers 2xx to a wrong signature accepts forged events from anyone who knows its URL.",
          "Verify the signature of the raw body before anything else; answer 401 when it does not match.",
          _rejects_bad_signature, own=frozenset({ACCEPTED, SERVER})),
    Check("rejects-missing-signature", "refuses a non-empty body without a signature",
          "Skipping the check when the header is absent is the most common forgery hole.",
          "Treat a missing signature on a non-empty body like a wrong one: 401.", _rejects_missing_signature,
          own=frozenset({ACCEPTED, SERVER})),
    Check("ping", "accepts Zenoti's 'test your trigger' ping: an empty unsigned POST",
          "The setup screen's test button sends an empty POST with no signature; anything but 2xx reports the webhook as broken.",
          "Answer 2xx to an empty body before checking the signature or parsing JSON.", _ping,
          own=_REFUSED_CONTENT | {AUTH}),
    Check("no-content-type", "accepts a body sent without Content-Type",
          "Zenoti is reported not to send Content-Type reliably; body parsers that only read application/json bodies see nothing.",
          "Parse the raw body as JSON whatever the Content-Type (Flask: get_json(force=True); Express: express.json({type: '*/*'})).",
          _no_content_type, own=_REFUSED_CONTENT),
    Check("duplicates", "answers 2xx to the same event delivered twice, and applies it once",
          "Zenoti retries after a timeout or an error, with the same id: duplicates are normal. A 409 or 5xx makes Zenoti "
          "retry again; applying it twice books or charges twice.",
          "Deduplicate on the envelope's id (or the resource's own id) before applying, and answer 2xx to a duplicate.",
          _duplicates, own=_REFUSED_CONTENT | {ACCEPTED}),
    Check("out-of-order", "accepts a status change before the group it names, and keeps it",
          "Zenoti documents no ordering; retries reorder events. A receiver that refuses or drops an event about an "
          "unknown group loses it.",
          "Accept it and reconcile later: keep the status for the group to come (or fetch the group from Zenoti's API).",
          _out_of_order, own=_REFUSED_CONTENT | {NOT_FOUND, ACCEPTED}),
    Check("unknown-fields", "accepts unknown fields and undocumented code values",
          "Zenoti adds fields and codes without notice; strict parsing turns its next release into an outage.",
          "Ignore fields you do not know; map unknown codes to an 'other' value instead of failing.",
          _unknown_fields, per_event_type=True, own=_REFUSED_CONTENT),
    Check("large-payload", "accepts each growing type at the largest size the world produces",
          "The largest group the world books (160 appointments, long names) and its invoice are over 100 KiB, the "
          "default body limit of common parsers (Express's express.json()).",
          "Set the body size limit to at least 1 MB.", _large_payload, per_event_type=True,
          own=frozenset({TOO_LARGE}), applies_to=GROWABLE.__contains__),
    Check("stress-payload", "only with --only: a 512 KiB event, beyond anything real; a warning at most",
          "No real event is this large; a receiver that takes it has headroom for whatever Zenoti adds.",
          "Nothing is required; a body limit of 1 MB takes it.", _stress_payload, own=frozenset({TOO_LARGE}),
          default=False),
    Check("latency", "answers fast: p95 latency, warn above 2 s, fail at the 10 s timeout",
          "Zenoti waits 10 s; a slower answer is a failed attempt, retried, so the receiver gets the event twice.",
          "Answer as soon as the event is stored; do the work in a queue.", _latency, own=frozenset({TIMEOUT})),
    Check("burst", "survives a burst of events without 5xx or 429",
          "A receiver that throttles Zenoti gets retries, and after 20 failures in a row a deactivated webhook.",
          "Do not rate-limit Zenoti's addresses; queue the work instead of refusing it.", _burst,
          own=frozenset({RATE_LIMITED, SERVER})),
]}

__all__ = ["CHECKS", "OUTCOMES", "Check", "CheckConfig", "CheckResult", "CheckRun", "Exchange", "HTTPObserver",
           "Observer", "ReceiverUnreachable"]
