"""The checks: each one sends what Zenoti will send, and judges what the receiver did.

One function per check (``accepts-events``, ``verb``, the signature checks, ``ping``,
``duplicates``, ``out-of-order``, ``unknown-fields``, the payload sizes, ``latency``,
``burst``), each given the :class:`~emulator.check.run.CheckRun` that sends its requests,
and :data:`CHECKS`, the suite in the order it runs with why each matters and its fix.

The checks run over whatever event types the registry lists, so a new type joins the
suite with no edit here.
"""

from __future__ import annotations

import copy
import itertools
import math
import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..delivery.sender import serialize
from ..events.registry import EventType
from ..world.habits import GROUP_SIZES
from .causes import (
    ACCEPTED,
    AUTH,
    CLIENT,
    MEDIA,
    NOT_FOUND,
    RATE_LIMITED,
    SERVER,
    TIMEOUT,
    TOO_LARGE,
    UNPROCESSABLE,
    Cause,
)
from .observe import ObserveError, not_observed, observe_until
from .results import FAIL, MAX_EVIDENCE, PASS, SKIP, WARN, Check, CheckResult, Exchange
from .run import GROUP_CREATED, STATUS_EVENT, CheckRun

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
#: Events of each type (realistic and edge) that ``accepts-events`` sends.
ACCEPT_SAMPLES = 3
#: The burst stops once this many of its requests failed: Zenoti's deactivation threshold.
BURST_STOP_AFTER = 20
#: An unknown field added to events by ``unknown-fields``; the name says who sent it.
UNKNOWN_FIELD = "x_emulator_added_field"


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
        return _result("duplicates", None, PASS, f"{what}: {_answers(exchanges)} ({not_observed('zenoti_applied')} "
                       "applied once)", exchanges[:1])
    try:
        applied = observe_until(observer.applied, event["id"], lambda n: n != 0)
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
        return _result("out-of-order", None, PASS, f"{what}: {_answers(exchanges)} ({not_observed('zenoti_group_status')} "
                       "keep the latest status)", exchanges[:1])
    try:
        held = observe_until(observer.group_status, group_id, lambda value: value == code)
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
            best = max(best, _largest_list(value, (*path, key)), key=lambda b: b[0])
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
    stats: dict[str, Any] = {"events": sent, "p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "max_ms": round(max(values), 1)}
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
    slow = run.config.slow
    assert slow is not None  # CheckConfig sets it when it is made
    if p95 > slow * 1000:
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
    stats: dict[str, Any] = {"events": len(exchanges), "concurrency": c, "elapsed_s": round(elapsed, 3),
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
