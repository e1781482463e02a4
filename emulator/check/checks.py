"""The checks: each one sends what Zenoti will send, and judges what the receiver did.

One function per check, each given the :class:`~emulator.check.run.CheckRun` that sends
its requests: here those of the protocol (``accepts-events``, ``verb``, the signature
checks, ``ping``, ``no-content-type``, ``duplicates``, ``out-of-order``); the payload
checks are in :mod:`.payloads` and the speed checks in :mod:`.speed`. :data:`CHECKS` is
the suite in the order it runs, with why each matters and its fix.

The checks run over whatever event types the registry lists, so a new type joins the
suite with no edit here.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

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
)
from .observe import ObserveError, not_observed, observe_until
from .payloads import GROWABLE, _large_payload, _stress_payload, _unknown_fields
from .results import FAIL, PASS, SKIP, WARN, Check, CheckResult
from .run import GROUP_CREATED, STATUS_EVENT, CheckRun
from .speed import _burst, _latency
from .verdicts import _accepted, _all_accepted, _answers, _main_cause, _refused, _result

#: Events of each type (realistic and edge) that ``accepts-events`` sends.
ACCEPT_SAMPLES = 3


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
    return _all_accepted(
        "accepts-events",
        event_type,
        exchanges,
        f"{len(exchanges)} {event_type} event{'s' if len(exchanges) > 1 else ''} (realistic and edge values)",
        "Zenoti retries each and counts it toward deactivation",
    )


def _verb_check(run: CheckRun, event_type: str | None) -> CheckResult:
    kind = run.event_types[0]
    verbs = [run.config.verb] if run.config.verb else ["PUT", "PATCH"]
    exchanges = [run.send(f"{verb} {kind.name}", run.request(run.events(kind)[0], verb=verb)) for verb in verbs]
    refused = [e for e in exchanges if not e.ok]
    if not refused:
        return _result("verb", None, PASS, f"{' and '.join(verbs)} accepted: {_answers(exchanges)}", exchanges[:1])
    cause = _main_cause(refused)
    if run.config.verb:
        return _result(
            "verb",
            None,
            FAIL,
            _refused("verb", f"the configured verb {run.config.verb}", cause, "every event would be refused"),
            refused,
            cause,
        )
    names = " and ".join(e.method for e in refused)
    if cause.kind in CHECKS["verb"].own:
        message = (
            f"{names} refused ({_answers(refused)}): set this webhook to POST in Zenoti, "
            "or accept every verb Zenoti offers"
        )
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
    return _accepted(
        "signature-format",
        None,
        e,
        "a correct signature in Zenoti's format ('sha256 =AB-12-…')",
        "every real event would be refused",
    )


def _rejects(name: str, run: CheckRun, label: str, secret: str | None) -> CheckResult:
    if (skipped := _needs_secret(name, run)) is not None:
        return skipped
    kind = run.event_types[0]
    e = run.send(label, run.request(forged(run.events(kind)[0]), secret=secret))
    cause = e.cause
    if e.ok:
        return _result(
            name, None, FAIL, f"{label} was answered {e.answer()}: the receiver accepts forged events", [e], cause
        )
    if cause.kind in (AUTH, CLIENT, UNPROCESSABLE):
        return _result(name, None, PASS, f"{label} was refused ({e.answer()})", [e])
    if cause.kind == SERVER:
        return _result(
            name,
            None,
            WARN,
            f"{label} was refused, but {cause.answer}: answer 401 or 403, so that it is not taken for an outage",
            [e],
            cause,
        )
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
    return _rejects(
        "rejects-bad-signature", run, "an event signed with the wrong secret", "not-the-" + (run.config.secret or "")
    )


def _rejects_missing_signature(run: CheckRun, event_type: str | None) -> CheckResult:
    return _rejects("rejects-missing-signature", run, "an event with no signature header", None)


def _ping(run: CheckRun, event_type: str | None) -> CheckResult:
    return _accepted(
        "ping",
        None,
        run.ping(),
        "Zenoti's 'test your trigger' ping (an empty unsigned POST)",
        "the setup screen would report the webhook as broken",
    )


def _no_content_type(run: CheckRun, event_type: str | None) -> CheckResult:
    kind = run.event_types[0]
    e = run.send("an event without Content-Type", run.request(run.events(kind)[0], content_type=False))
    return _accepted(
        "no-content-type",
        None,
        e,
        "a body without Content-Type",
        "a parser that reads only JSON-typed bodies loses these events",
    )


def _duplicates(run: CheckRun, event_type: str | None) -> CheckResult:
    kind = run.event_types[0]
    event = run.events(kind)[0]
    prepared = run.request(event)
    exchanges = [run.send(f"the same event (id {event['id']}), first time", prepared)]
    if exchanges[0].outcome != "timeout":  # after a timeout the second would only wait as long
        exchanges.append(run.send(f"the same event (id {event['id']}), second time", prepared))
    what = "the same event twice"
    if not all(e.ok for e in exchanges):
        return _all_accepted(
            "duplicates",
            None,
            exchanges,
            what,
            "Zenoti retries after a timeout, and a refused duplicate is retried until the webhook is deactivated",
        )
    observer = run.observer
    if observer is None or observer.applied is None:
        return _result(
            "duplicates",
            None,
            PASS,
            f"{what}: {_answers(exchanges)} ({not_observed('zenoti_applied')} applied once)",
            exchanges[:1],
        )
    try:
        applied = observe_until(observer.applied, event["id"], lambda n: n != 0)
    except ObserveError as exc:
        return _result(
            "duplicates",
            None,
            FAIL,
            f"{what}: {_answers(exchanges)}, but {observer.how} could not say how often it was applied: {exc}",
            exchanges[:1],
        )
    if applied == 1:
        return _result(
            "duplicates",
            None,
            PASS,
            f"{what}: {_answers(exchanges)}, applied once (observed through {observer.how})",
            exchanges[:1],
            applied=applied,
        )
    return _result(
        "duplicates",
        None,
        FAIL,
        f"{what}: {_answers(exchanges)}, but applied {applied} times (observed "
        f"through {observer.how}): a retry would book, charge or count twice",
        exchanges[:1],
        applied=applied,
    )


def _out_of_order(run: CheckRun, event_type: str | None) -> CheckResult:
    subscribed = {kind.name for kind in run.event_types}
    if not {STATUS_EVENT, GROUP_CREATED} <= subscribed:
        return _result(
            "out-of-order",
            None,
            SKIP,
            f"the webhook does not subscribe to both {GROUP_CREATED} and {STATUS_EVENT} (--event-type)",
        )
    status, created = run.status_and_its_group()
    group_id = created["data"]["appointment_group_id"]
    code = status["data"]["appointment_group_status"]
    exchanges = [
        run.send(
            f"{STATUS_EVENT} (status {code}) for group {group_id}, before its {GROUP_CREATED}", run.request(status)
        ),
        run.send(f"{GROUP_CREATED} of group {group_id}, after its status", run.request(created)),
    ]
    what = "a status change before the group it names"
    if not all(e.ok for e in exchanges):
        return _all_accepted("out-of-order", None, exchanges, what, "that status change is lost")
    observer = run.observer
    if observer is None or observer.group_status is None:
        return _result(
            "out-of-order",
            None,
            PASS,
            f"{what}: {_answers(exchanges)} ({not_observed('zenoti_group_status')} keep the latest status)",
            exchanges[:1],
        )
    try:
        held = observe_until(observer.group_status, group_id, lambda value: value == code)
    except ObserveError as exc:
        return _result(
            "out-of-order",
            None,
            FAIL,
            f"{what}: {_answers(exchanges)}, but {observer.how} could not say the group's status: {exc}",
            exchanges[:1],
        )
    if held == code:
        return _result(
            "out-of-order",
            None,
            PASS,
            f"{what}: {_answers(exchanges)}, and the group holds status {code} (observed through {observer.how})",
            exchanges[:1],
            status=held,
        )
    return _result(
        "out-of-order",
        None,
        FAIL,
        f"{what}: {_answers(exchanges)}, but the group holds status "
        f"{'none' if held is None else held}, not {code}, the status sent (observed through {observer.how}): "
        "the status change that came first was dropped",
        exchanges,
        status=held,
    )


_REFUSED_CONTENT = frozenset({CLIENT, UNPROCESSABLE, MEDIA})
#: The suite, in the order it runs: ``burst`` last, so that a rate limiter it trips
#: cannot fail the checks after it (the checks before it wait for one they meet).
CHECKS: dict[str, Check] = {
    c.name: c
    for c in [
        Check(
            "accepts-events",
            "accepts each subscribed event type, realistic and edge values, 2xx within the timeout",
            "Every event Zenoti sends must be answered 2xx within 10 s, or it is retried and counts toward deactivation.",
            "Answer 2xx to every well-signed event; store it and do the work after answering.",
            _accepts_events,
            per_event_type=True,
            own=_REFUSED_CONTENT,
        ),
        Check(
            "verb",
            "accepts the verb configured in Zenoti (PUT and PATCH too)",
            "A webhook's verb is chosen in Zenoti's setup: POST, PUT or PATCH. A handler for POST only answers 404 or 405 to the others.",
            "Route POST, PUT and PATCH to the same handler.",
            _verb_check,
            own=frozenset({NOT_FOUND}),
        ),
        Check(
            "signature-format",
            "accepts Zenoti's exact signature header (sha256 =AB-12-…)",
            "Zenoti writes the HMAC-SHA256 as dashed upper-case hex after 'sha256 =' with a space. A receiver that compares "
            "against plain lower-case hex refuses every real event.",
            "Parse the header tolerantly: drop the sha256 prefix, spaces and dashes, compare the bytes in constant time.",
            _signature_format,
            own=frozenset({AUTH}),
        ),
        Check(
            "rejects-bad-signature",
            "refuses an event signed with the wrong secret",
            "A receiver that answers 2xx to a wrong signature accepts forged events from anyone who knows its URL.",
            "Verify the signature of the raw body before anything else; answer 401 when it does not match.",
            _rejects_bad_signature,
            own=frozenset({ACCEPTED, SERVER}),
        ),
        Check(
            "rejects-missing-signature",
            "refuses a non-empty body without a signature",
            "Skipping the check when the header is absent is the most common forgery hole.",
            "Treat a missing signature on a non-empty body like a wrong one: 401.",
            _rejects_missing_signature,
            own=frozenset({ACCEPTED, SERVER}),
        ),
        Check(
            "ping",
            "accepts Zenoti's 'test your trigger' ping: an empty unsigned POST",
            "The setup screen's test button sends an empty POST with no signature; anything but 2xx reports the webhook as broken.",
            "Answer 2xx to an empty body before checking the signature or parsing JSON.",
            _ping,
            own=_REFUSED_CONTENT | {AUTH},
        ),
        Check(
            "no-content-type",
            "accepts a body sent without Content-Type",
            "Zenoti is reported not to send Content-Type reliably; body parsers that only read application/json bodies see nothing.",
            "Parse the raw body as JSON whatever the Content-Type (Flask: get_json(force=True); Express: express.json({type: '*/*'})).",
            _no_content_type,
            own=_REFUSED_CONTENT,
        ),
        Check(
            "duplicates",
            "answers 2xx to the same event delivered twice, and applies it once",
            "Zenoti retries after a timeout or an error, with the same id: duplicates are normal. A 409 or 5xx makes Zenoti "
            "retry again; applying it twice books or charges twice.",
            "Deduplicate on the envelope's id (or the resource's own id) before applying, and answer 2xx to a duplicate.",
            _duplicates,
            own=_REFUSED_CONTENT | {ACCEPTED},
        ),
        Check(
            "out-of-order",
            "accepts a status change before the group it names, and keeps it",
            "Zenoti documents no ordering; retries reorder events. A receiver that refuses or drops an event about an "
            "unknown group loses it.",
            "Accept it and reconcile later: keep the status for the group to come (or fetch the group from Zenoti's API).",
            _out_of_order,
            own=_REFUSED_CONTENT | {NOT_FOUND, ACCEPTED},
        ),
        Check(
            "unknown-fields",
            "accepts unknown fields and undocumented code values",
            "Zenoti adds fields and codes without notice; strict parsing turns its next release into an outage.",
            "Ignore fields you do not know; map unknown codes to an 'other' value instead of failing.",
            _unknown_fields,
            per_event_type=True,
            own=_REFUSED_CONTENT,
        ),
        Check(
            "large-payload",
            "accepts each growing type at the largest size the world produces",
            "The largest group the world books (160 appointments, long names) and its invoice are over 100 KiB, the "
            "default body limit of common parsers (Express's express.json()).",
            "Set the body size limit to at least 1 MB.",
            _large_payload,
            per_event_type=True,
            own=frozenset({TOO_LARGE}),
            applies_to=GROWABLE.__contains__,
        ),
        Check(
            "stress-payload",
            "only with --only: a 512 KiB event, beyond anything real; a warning at most",
            "No real event is this large; a receiver that takes it has headroom for whatever Zenoti adds.",
            "Nothing is required; a body limit of 1 MB takes it.",
            _stress_payload,
            own=frozenset({TOO_LARGE}),
            default=False,
        ),
        Check(
            "latency",
            "answers fast: p95 latency, warn above 2 s, fail at the 10 s timeout",
            "Zenoti waits 10 s; a slower answer is a failed attempt, retried, so the receiver gets the event twice.",
            "Answer as soon as the event is stored; do the work in a queue.",
            _latency,
            own=frozenset({TIMEOUT}),
        ),
        Check(
            "burst",
            "survives a burst of events without 5xx or 429",
            "A receiver that throttles Zenoti gets retries, and after 20 failures in a row a deactivated webhook.",
            "Do not rate-limit Zenoti's addresses; queue the work instead of refusing it.",
            _burst,
            own=frozenset({RATE_LIMITED, SERVER}),
        ),
    ]
}
