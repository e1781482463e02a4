"""Contract tests for a receiver: what Zenoti will do to it, tried before Zenoti does.

``zenoti-emulator check URL`` and the pytest plugin both run this suite. Each
:class:`Check` sends real requests through :class:`~emulator.delivery.Sender` (the
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
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .delivery import DEFAULT_TIMEOUT, JSON_CONTENT_TYPE, PreparedDelivery, SendResult, Sender, check_url, serialize
from .errors import UsageError

from .registry import EventType, Registry, default_registry
from .signing import SIGNATURE_HEADER

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
#: The ``large-payload`` body grows to at least this: beyond the 100 kB default body limit
#: of Express's ``express.json()``, one of the most common receiver stacks. Zenoti
#: publishes no maximum; a group with many appointments and long names gets there.
LARGE_PAYLOAD_BYTES = 128 * 1024
#: How many more events a large payload takes items from before it repeats the items it
#: has: a type whose lists are short (one member, one redemption) would otherwise make
#: the world run for months to fill 128 KiB.
LARGE_PAYLOAD_FRESH_EVENTS = 2
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
    #: readings of disputed facts (``--variant``) the events are made with
    variants: Any = None

    def __post_init__(self) -> None:
        check_url(self.url)
        from .variants import coerce

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
        return [c for name, c in CHECKS.items() if (not self.only or name in self.only) and name not in self.skip]


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

    @classmethod
    def of(cls, label: str, prepared: PreparedDelivery, result: SendResult) -> Exchange:
        wanted = {"content-type", SIGNATURE_HEADER}
        headers = {k: v for k, v in result.request_headers.items() if k.lower() in wanted}
        return cls(
            label=label,
            method=prepared.method,
            url=prepared.url,
            headers=headers,
            body_bytes=len(prepared.body),
            body_excerpt=_excerpt(prepared.body),
            status=result.status_code,
            outcome=result.outcome,
            latency_ms=round(result.latency_ms, 1),
            response_excerpt=_excerpt(result.response_body),
            error=None if result.error is None else _printable(result.error),
        )

    @property
    def ok(self) -> bool:
        return self.outcome == "success"

    def answer(self) -> str:
        """``401``, ``timeout``, ``connection refused``: how it ended, in a few words."""
        if self.status is not None:
            return str(self.status)
        return self.error or self.outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "request": {"method": self.method, "url": self.url, "headers": dict(self.headers),
                        "body_bytes": self.body_bytes, "body_excerpt": self.body_excerpt},
            "response": {"status": self.status, "outcome": self.outcome, "latency_ms": self.latency_ms,
                         "body_excerpt": self.response_excerpt, "error": self.error},
        }


def _excerpt(data: bytes) -> str:
    text = _printable(data[: EXCERPT * 4].decode("utf-8", "replace"))
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


def _printable(text: str) -> str:
    """The receiver's text with control characters escaped (``\\x1b``): a report printed on
    a terminal must not run the escape sequences a hostile receiver answers with."""
    return "".join(c if c.isprintable() or c == " " else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   for c in text)


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

    @property
    def name(self) -> str:
        """``accepts-events[AppointmentGroup.Created]``, ``burst``: the id of this result."""
        return f"{self.check}[{self.event_type}]" if self.event_type else self.check

    @property
    def why(self) -> str:
        return CHECKS[self.check].why

    @property
    def fix(self) -> str:
        return CHECKS[self.check].fix

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "check": self.check,
            "event_type": self.event_type,
            "outcome": self.outcome,
            "message": self.message,
            "why": self.why,
            "fix": self.fix,
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


class CheckRun:
    """One run of the suite against one receiver: its HTTP client, its events, its probe.

    Events come from one world per profile (:class:`~emulator.generate.EventStream`), so
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
        from .variants import sends

        names = dict.fromkeys(config.event_types) or tuple(self.registry)  # each type once, in order
        self.event_types: list[EventType] = [self.registry.get_type(n) for n in names]
        if not config.event_types:  # all registered: those the variants send
            self.event_types = [kind for kind in self.event_types if sends(kind, config.variants)]
        # The booking first: the checks that need one event send the first type's.
        self.event_types.sort(key=lambda kind: kind.name != GROUP_CREATED)
        self.sender = Sender(pool_size=config.burst_concurrency)
        self._streams: dict[str, Iterator[dict[str, Any]]] = {}
        self._waiting: dict[tuple[str, str], list[dict[str, Any]]] = {}
        #: each group's booking, by group id, as the worlds emitted them
        self._bookings: dict[str, dict[str, Any]] = {}
        #: groups whose booking the receiver has been sent
        self._introduced: set[str] = set()
        #: what was sent only so that an event made sense (a group's booking): not judged
        self.prelude: list[Exchange] = []
        self._lock = threading.Lock()
        self.seed = config.seed
        #: the verb and signature format the other checks use (see :meth:`probe`)
        self.verb = config.verb or "POST"
        self.signature_format = "dashed"
        self.probe_notes: list[str] = []
        self._probed = False

    def close(self) -> None:
        self.sender.close()

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
                from .generate import EventStream

                seed = None if self.seed is None else self.seed + len(self._streams)
                types = {k.name for k in self.event_types} | {GROUP_CREATED}
                stream = self._streams[profile] = iter(EventStream(seed=seed, profile=profile, types=types, registry=self.registry,
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
        from .generate import EventStream

        booked: dict[str, dict[str, Any]] = {}
        seed = None if self.seed is None else self.seed + 997
        for event in EventStream(seed=seed, types=[GROUP_CREATED, STATUS_EVENT], registry=self.registry,
                                 variants=self.config.variants):
            group = event["data"]["appointment_group_id"]
            if event["event_type"] == GROUP_CREATED:
                booked[group] = event
            elif group in booked:
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
        return PreparedDelivery(verb or self.verb, self.config.url, body, headers, key,
                                signature_format or self.signature_format)

    def send(self, label: str, prepared: PreparedDelivery) -> Exchange:
        return Exchange.of(label, prepared, self.sender.send(prepared, timeout=self.config.timeout))

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
        first = self.send("probe", self.request(event))
        # A first request that cannot connect, or gets no answer at all, is a wrong URL or
        # a receiver that is down: every check would wait out its timeout to say so.
        if first.outcome in ("connection", "tls", "error", "timeout"):
            raise ReceiverUnreachable(
                f"Cannot reach {self.config.url}: {first.error}. Is the receiver running, and is the URL right?"
            )
        if first.ok:
            return
        verbs = [self.verb] + (["POST"] if self.verb != "POST" else [])
        formats = ["dashed"] + (["hex"] if self.config.secret else [])
        for verb, fmt in itertools.product(verbs, formats):
            if (verb, fmt) == (self.verb, "dashed"):
                continue
            if self.send("probe", self.request(event, verb=verb, signature_format=fmt)).ok:
                if verb != self.verb:
                    self.probe_notes.append(f"{self.verb} is refused: the other checks send POST")
                if fmt != "dashed":
                    self.probe_notes.append("Zenoti's signature format is refused: the other checks sign sha256=<hex>")
                self.verb, self.signature_format = verb, fmt
                return
        hint = ""
        if first.status in (401, 403) and not self.config.secret:
            hint = " (does it need --secret?)"
        elif first.outcome == "redirect":
            hint = " (a redirect: Zenoti does not follow them; check the URL it points to)"
        self.probe_notes.append(f"a valid event was answered {first.answer()}{hint}: the checks that send events will fail")

    def run_check(self, check: Check, event_type: str | None = None) -> CheckResult:
        """Run one check (for one event type) and time it; the probe runs first, once."""
        self.probe()
        t0 = time.perf_counter()
        result = check.run(self, event_type)
        result.duration_s = time.perf_counter() - t0
        return result

    def items(self) -> Iterator[tuple[Check, str | None]]:
        """``(check, event_type)`` for every result the selected checks will give."""
        for check in self.config.selected():
            if check.per_event_type:
                for kind in self.event_types:
                    yield check, kind.name
            else:
                yield check, None

    def run_all(self, on_result: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
        results = []
        for check, event_type in self.items():
            result = self.run_check(check, event_type)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results


# -- helpers for the checks -------------------------------------------------------------


def _result(check: str, event_type: str | None, outcome: str, message: str, evidence: Sequence[Exchange] = (),
            **stats: Any) -> CheckResult:
    return CheckResult(check, event_type, outcome, message, list(evidence)[:MAX_EVIDENCE], stats=stats)


def _all_accepted(name: str, event_type: str | None, exchanges: Sequence[Exchange], what: str,
                  refused: str = "") -> CheckResult:
    """Pass when every exchange got a 2xx; else fail with the ones that did not."""
    bad = [e for e in exchanges if not e.ok]
    if not bad:
        return _result(name, event_type, PASS, f"{what}: {_answers(exchanges)}", exchanges[:1])
    return _result(name, event_type, FAIL, f"{refused or what}: {_answers(exchanges)}", bad)


def _answers(exchanges: Sequence[Exchange]) -> str:
    """``3 answered 200, 1 answered 409``."""
    return ", ".join(f"{n} answered {answer}" for answer, n in _counts(exchanges).items())


def _counts(exchanges: Sequence[Exchange]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in exchanges:
        counts[e.answer()] = counts.get(e.answer(), 0) + 1
    return counts


def _accepted(name: str, event_type: str | None, e: Exchange, what: str, consequence: str,
              **stats: Any) -> CheckResult:
    """Pass when ``e`` got a 2xx; else fail, saying what refusing it costs."""
    verdict = f"{what} was answered {e.answer()}"
    if e.ok:
        return _result(name, event_type, PASS, verdict, [e], **stats)
    return _result(name, event_type, FAIL, f"{verdict}: {consequence}", [e], **stats)


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
    return _all_accepted("accepts-events", event_type, exchanges,
                         f"{len(exchanges)} events (realistic and edge values)",
                         f"refused valid {event_type} events")


def _verb_check(run: CheckRun, event_type: str | None) -> CheckResult:
    kind = run.event_types[0]
    verbs = [run.config.verb] if run.config.verb else ["PUT", "PATCH"]
    exchanges = [run.send(f"{verb} {kind.name}", run.request(run.events(kind)[0], verb=verb)) for verb in verbs]
    refused = [e for e in exchanges if not e.ok]
    if not refused:
        return _result("verb", None, PASS, f"{' and '.join(verbs)} accepted: {_answers(exchanges)}", exchanges[:1])
    if run.config.verb:
        return _result("verb", None, FAIL, f"the configured verb {run.config.verb} is refused: {_answers(exchanges)}", refused)
    names = " and ".join(e.method for e in refused)
    return _result("verb", None, WARN, f"{names} refused ({_answers(refused)}): set this webhook to POST in Zenoti, "
                   "or accept every verb Zenoti offers", refused)


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
    e = run.send(label, run.request(run.events(kind)[0], secret=secret))
    if e.ok:
        return _result(name, None, FAIL, f"{label} was answered {e.answer()}: the receiver accepts forged events", [e])
    if e.status is not None and 400 <= e.status < 500:
        return _result(name, None, PASS, f"{label} was refused ({e.answer()})", [e])
    return _result(name, None, WARN, f"{label} was refused, but with {e.answer()}: "
                   "answer 401 or 403, so that it is not taken for an outage", [e])


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
    prepared = run.request(run.events(kind)[0])
    exchanges = [run.send(f"the same event, {n} time", prepared) for n in ("first", "second")]
    if all(e.ok for e in exchanges):
        return _result("duplicates", None, PASS, f"the same event twice: {_answers(exchanges)}", exchanges)
    return _result("duplicates", None, FAIL, f"the same event twice: {_answers(exchanges)}; Zenoti retries "
                   "after a timeout, and a refused duplicate is retried until the webhook is deactivated", exchanges)


def _out_of_order(run: CheckRun, event_type: str | None) -> CheckResult:
    if STATUS_EVENT not in run.registry:
        return _result("out-of-order", None, SKIP,
                       f"{STATUS_EVENT} is not an event type of this emulator yet: nothing to send out of order")
    subscribed = {kind.name for kind in run.event_types}
    if not {STATUS_EVENT, GROUP_CREATED} <= subscribed:
        return _result("out-of-order", None, SKIP,
                       f"the webhook does not subscribe to both {GROUP_CREATED} and {STATUS_EVENT} (--event-type)")
    status, created = run.status_and_its_group()
    group_id = created["data"]["appointment_group_id"]
    exchanges = [
        run.send(f"{STATUS_EVENT} for group {group_id}, before its {GROUP_CREATED}", run.request(status)),
        run.send(f"{GROUP_CREATED} of group {group_id}, after its status", run.request(created)),
    ]
    return _all_accepted("out-of-order", None, exchanges, "a status change before the group it names",
                         "a status change before the group it names")


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


def large_payload(run: CheckRun, kind: EventType) -> dict[str, Any]:
    """The biggest event this run can make of ``kind``, at least :data:`LARGE_PAYLOAD_BYTES`.

    Starts from the largest of a few edge-profile events (long names, many items) and
    grows its longest list with the items of further events, so every item stays a real
    one (its own ids), until the body is big enough; after
    :data:`LARGE_PAYLOAD_FRESH_EVENTS` further events it doubles the list with copies of
    its own items.
    """
    events = run.events(kind, 10, profile="edge")
    event = max(events, key=lambda e: len(serialize(e)))
    size, path = _largest_list(event)
    if not size:
        return event
    items = _at(event, path)
    for fresh in range(200):
        if len(serialize(event)) >= LARGE_PAYLOAD_BYTES:
            break
        if fresh < LARGE_PAYLOAD_FRESH_EVENTS:
            more = _at(run.events(kind, 1, profile="edge")[0], path)
        else:  # a type with short lists (a membership's members): its real items again
            more = copy.deepcopy(items)
        items.extend(more if isinstance(more, list) else [])
    return event


def _large_payload(run: CheckRun, event_type: str | None) -> CheckResult:
    assert event_type is not None
    kind = run.registry.get_type(event_type)
    event = large_payload(run, kind)
    for earlier in run.prerequisites(event):
        run.prelude.append(run.send("first, the booking it builds on", run.request(earlier)))
    prepared = run.request(event)
    size, path = _largest_list(event)
    what = f"a {len(prepared.body) // 1024} KiB {event_type}" + (f" ({size} items in {'.'.join(map(str, path))})" if size else "")
    return _accepted("large-payload", event_type, run.send(what, prepared), what,
                     "raise the body size limit (1 MB is safe)", body_bytes=len(prepared.body))


def _latency(run: CheckRun, event_type: str | None) -> CheckResult:
    n = run.config.latency_events
    timeout = run.config.timeout
    kinds = itertools.cycle(run.event_types)
    # More timeouts than 5 % of n put the p95 at the timeout whatever comes next: stop
    # there rather than wait out the whole run on a receiver that hangs.
    allowed = int(n * 0.05)
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
    figures = f"p95 {p95:.0f} ms over {sent} events (p50 {p50:.0f} ms, max {max(values):.0f} ms)"
    if sent < n:
        figures += f", stopped after {sum(e.outcome == 'timeout' for e in exchanges)} timeouts"
    if p95 >= timeout * 1000:
        return _result("latency", None, FAIL, f"{figures}: at the {timeout:g} s timeout (Zenoti's: 10 s), so "
                       "those events are retried and arrive twice", slowest, **stats)
    if p95 > run.config.slow * 1000:
        return _result("latency", None, WARN, f"{figures}: above {run.config.slow:g} s; answer first, work later",
                       slowest, **stats)
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
        e = run.send(f"burst event {index + 1} of {n}", prepared[index])
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
    hint = " (429: a rate limiter throttles Zenoti, which then retries)" if any(e.status == 429 for e in bad) else ""
    return _result("burst", None, FAIL, f"{figures}: {len(bad)} not accepted, {_answers(bad)}{hint}{stopped}", bad,
                   **stats)


#: The suite, in the order it runs: ``burst`` last, so that a rate limiter it trips
#: cannot fail the checks after it.
CHECKS: dict[str, Check] = {c.name: c for c in [
    Check("accepts-events", "accepts each subscribed event type, realistic and edge values, 2xx within the timeout",
          "Every event Zenoti sends must be answered 2xx within 10 s, or it is retried and counts toward deactivation.",
          "Answer 2xx to every well-signed event; store it and do the work after answering.",
          _accepts_events, per_event_type=True),
    Check("verb", "accepts the verb configured in Zenoti (PUT and PATCH too)",
          "A webhook's verb is chosen in Zenoti's setup: POST, PUT or PATCH. A handler for POST only answers 404 or 405 to the others.",
          "Route POST, PUT and PATCH to the same handler.", _verb_check),
    Check("signature-format", "accepts Zenoti's exact signature header (sha256 =AB-12-…)",
          "Zenoti writes the HMAC-SHA256 as dashed upper-case hex after 'sha256 =' with a space. A receiver that compares "
          "against plain lower-case hex refuses every real event.",
          "Parse the header tolerantly (emulator.signing.verify does): drop the sha256 prefix, spaces and dashes, compare the bytes in constant time.",
          _signature_format),
    Check("rejects-bad-signature", "refuses an event signed with the wrong secret",
          "A receiver that answers 2xx to a wrong signature accepts forged events from anyone who knows its URL.",
          "Verify the signature of the raw body before anything else; answer 401 when it does not match.",
          _rejects_bad_signature),
    Check("rejects-missing-signature", "refuses a non-empty body without a signature",
          "Skipping the check when the header is absent is the most common forgery hole.",
          "Treat a missing signature on a non-empty body like a wrong one: 401.", _rejects_missing_signature),
    Check("ping", "accepts Zenoti's 'test your trigger' ping: an empty unsigned POST",
          "The setup screen's test button sends an empty POST with no signature; anything but 2xx reports the webhook as broken.",
          "Answer 2xx to an empty body before checking the signature or parsing JSON.", _ping),
    Check("no-content-type", "accepts a body sent without Content-Type",
          "Zenoti is reported not to send Content-Type reliably; body parsers that only read application/json bodies see nothing.",
          "Parse the raw body as JSON whatever the Content-Type (Flask: get_json(force=True); Express: express.json({type: '*/*'})).",
          _no_content_type),
    Check("duplicates", "answers 2xx to the same event delivered twice",
          "Zenoti retries after a timeout or an error, with the same id: duplicates are normal. A 409 or 5xx makes Zenoti retry again.",
          "Deduplicate on the envelope's id (or the resource's own id), and answer 2xx to a duplicate.", _duplicates),
    Check("out-of-order", "accepts a status change before the group it names",
          "Zenoti documents no ordering; retries reorder events. A receiver that refuses an event about an unknown group loses it.",
          "Accept it and reconcile later (store it, or fetch the resource from Zenoti's API).", _out_of_order),
    Check("unknown-fields", "accepts unknown fields and undocumented code values",
          "Zenoti adds fields and codes without notice; strict parsing turns its next release into an outage.",
          "Ignore fields you do not know; map unknown codes to an 'other' value instead of failing.",
          _unknown_fields, per_event_type=True),
    Check("large-payload", "accepts the largest payloads (many items, long names)",
          "A group with many appointments and long names is well beyond the 100 kB default body limit of common parsers.",
          "Set the body size limit to at least 1 MB.", _large_payload, per_event_type=True),
    Check("latency", "answers fast: p95 latency, warn above 2 s, fail at the 10 s timeout",
          "Zenoti waits 10 s; a slower answer is a failed attempt, retried, so the receiver gets the event twice.",
          "Answer as soon as the event is stored; do the work in a queue.", _latency),
    Check("burst", "survives a burst of events without 5xx or 429",
          "A receiver that throttles Zenoti gets retries, and after 20 failures in a row a deactivated webhook.",
          "Do not rate-limit Zenoti's addresses; queue the work instead of refusing it.", _burst),
]}

__all__ = ["CHECKS", "OUTCOMES", "Check", "CheckConfig", "CheckResult", "CheckRun", "Exchange", "ReceiverUnreachable"]
