"""Contract tests for a receiver: the run that sends the checks' requests, and its settings.

``zenoti-emulator check URL`` and the pytest plugin both run this suite. Each
:class:`Check` sends real requests through :class:`~emulator.delivery.sender.Sender` (the
emulator's one HTTP client: the same bytes, signature and headers as a delivery) and
judges the answers: ``pass``, ``fail``, ``warn`` or ``skip``, with the exchanges that
prove it as evidence. Nothing is logged to the delivery log: a check is a probe, not a
delivery, and a forged signature has no place among real attempts.

:class:`CheckRun` holds what a run shares: its HTTP client, its events (from one world
per profile), the probe that finds a verb and signature format the receiver accepts, and
the pacing a rate limiter asks for. The checks themselves are in
:mod:`emulator.check.checks`. Usage::

    config = CheckConfig("http://127.0.0.1:9000/hook", secret="s3cret")
    with CheckRun(config) as run:
        results = run.run_all()

Core code: no click, no flask, no sqlite. A receiver that cannot be reached at all is
:class:`ReceiverUnreachable` (a usage error: the URL is wrong or nothing listens).
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..defaults import DEFAULT_TIMEOUT
from ..delivery.sender import JSON_CONTENT_TYPE, PreparedDelivery, Sender, serialize
from ..errors import UsageError
from ..events.registry import EventType, Registry, default_registry
from ..urls import check_url, redact_url
from .causes import AUTH, parse_retry_after
from .observe import HTTPObserver, Observer
from .results import FAIL, SKIP, WARN, Check, CheckResult, Exchange, _suite

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
#: Checks run side by side once the receiver has let a request time out: a receiver that
#: answers after the timeout then takes one timeout per this many checks, not per check.
HANG_WORKERS = 20
#: Longest a check waits in all for a rate limiter on one request (``Retry-After``).
MAX_PACE_S = 120.0
#: The event type whose out-of-order delivery the ``out-of-order`` check tries.
STATUS_EVENT = "AppointmentGroup.Status"
GROUP_CREATED = "AppointmentGroup.Created"


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
            raise UsageError(
                f"The slow threshold must be positive and at most the timeout ({self.timeout:g} s), not {self.slow}."
            )
        if not 1 <= self.latency_events <= 10_000:
            raise UsageError(f"Latency events must be between 1 and 10000, not {self.latency_events}.")
        if not 1 <= self.burst <= 100_000:
            raise UsageError(f"Burst size must be between 1 and 100000 events, not {self.burst}.")
        if not 1 <= self.burst_concurrency <= 256:
            raise UsageError(f"Burst concurrency must be between 1 and 256, not {self.burst_concurrency}.")
        checks = _suite()
        for option, names in (("--only", self.only), ("--skip", self.skip)):
            for name in names:
                if name not in checks:
                    close = difflib.get_close_matches(name, checks, n=1)
                    hint = f"Did you mean {close[0]!r}?" if close else f"Known: {', '.join(checks)}."
                    raise UsageError(f"Unknown check {name!r} in {option}. {hint}")

    def selected(self) -> list[Check]:
        """The checks this run makes, in suite order."""
        return [
            c
            for name, c in _suite().items()
            if (name in self.only if self.only else c.default) and name not in self.skip
        ]


def with_scheme(url: str) -> str:
    """``localhost:9000/hook`` -> ``http://localhost:9000/hook``: a receiver's URL without a
    scheme is the developer's own machine, as Stripe's CLI reads it; any scheme is kept."""
    return url if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url) else "http://" + url


def _verb(text: str) -> str:
    verb = text.strip().upper()
    if verb not in ("POST", "PUT", "PATCH"):
        raise UsageError(f"Verb must be POST, PUT or PATCH (what Zenoti's setup offers), not {text!r}.")
    return verb


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

    def events(
        self, event_type: str | EventType, count: int = 1, *, profile: str = "realistic"
    ) -> list[dict[str, Any]]:
        """``count`` fresh events: each one new to the receiver."""
        kind = event_type if isinstance(event_type, EventType) else self.registry.get_type(event_type)
        with self._lock:
            waiting = self._waiting.setdefault((kind.name, profile), [])
            stream = self._streams.get(profile)
            if stream is None:
                from ..events.generate import EventStream

                seed = None if self.seed is None else self.seed + len(self._streams)
                types = {k.name for k in self.event_types} | {GROUP_CREATED}
                stream = self._streams[profile] = iter(
                    EventStream(
                        seed=seed,
                        now=self.config.now,
                        profile=profile,
                        types=types,
                        registry=self.registry,
                        variants=self.config.variants,
                    )
                )
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
        group = data.get("appointment_group_id") or (
            invoice.get("appointment_group_id") if isinstance(invoice, dict) else None
        )
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
            self.prelude.append(
                self.send(
                    f"first, the booking of group {earlier['data']['appointment_group_id']}", self.request(earlier)
                )
            )
        return self.send(label, self.request(event, **how))

    def status_and_its_group(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """A status change and the booking of the group it names, from one world's stream:
        the same group, invoice and guest, as a receiver would get them in order."""
        from ..events.generate import EventStream

        booked: dict[str, dict[str, Any]] = {}
        seed = None if self.seed is None else self.seed + 997
        for event in EventStream(
            seed=seed,
            now=self.config.now,
            types=[GROUP_CREATED, STATUS_EVENT],
            registry=self.registry,
            variants=self.config.variants,
        ):
            group = event["data"]["appointment_group_id"]
            if event["event_type"] == GROUP_CREATED:
                booked[group] = event
            elif group in booked and event["data"]["appointment_group_status"] != 0:
                # not "booked": a receiver that dropped it would still look right
                return event, booked[group]
        raise AssertionError("the world emitted no status change")  # it always does within hours

    def request(
        self,
        event: Mapping[str, Any] | bytes,
        *,
        verb: str | None = None,
        secret: str | bool | None = True,
        signature_format: str | None = None,
        content_type: bool = True,
    ) -> PreparedDelivery:
        """The call that delivers ``event`` as this run does, with one thing changed.

        :param secret: ``True`` signs with the configured secret (if any), a string
            signs with that one (a forged signature), ``None``/``False`` sends none.
        """
        body = event if isinstance(event, bytes) else serialize(event)
        key = self.config.secret if secret is True else (secret or None)
        headers = {"Content-Type": JSON_CONTENT_TYPE} if content_type else {}
        prepared = PreparedDelivery(
            verb or self.verb, self.config.url, body, headers, key, signature_format or self.signature_format
        )
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
            self.probe_notes.append(
                f"the first event got no answer within {self.config.timeout:g} s: the receiver "
                "accepts connections but answers too late; the checks run side by side"
            )
            return
        if first.ok:
            return
        if first.status in (401, 403) and not self.config.secret:
            self.wants_secret = True
            self.probe_notes.append(
                f"the receiver wants signed events (an unsigned one was answered {first.status}): "
                "pass --secret; the checks it refuses for that are skipped"
            )
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
        self.probe_notes.append(
            f"a valid event was answered {first.answer()}{hint}: the checks that send events will fail"
        )

    def rate_limit_note(self) -> str | None:
        """What the run learnt of the receiver's rate limit, or ``None`` if it met none."""
        if self.rate_limit is None:
            return None
        before, wait = self.rate_limit
        after = f", Retry-After {wait:g} s" if wait is not None else ""
        return (
            f"the receiver rate-limits: 429 after {before} requests{after}; the checks before burst paced "
            f"themselves ({self.paced_s:.1f} s of waiting in all)"
        )

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
        if (
            result.outcome in (FAIL, WARN)
            and cause is not None
            and cause.kind == AUTH
            and not cause.signed
            and not self.config.secret
            and check.name != "ping"
        ):
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


#: Checks that never run side by side with others: they measure the receiver's speed.
ALONE = frozenset({"latency", "burst"})
