"""The checks of what a body holds: fields Zenoti may add, and the largest events there are.

``unknown-fields`` adds a field and undocumented code values Zenoti may start sending;
``large-payload`` sends each type that can grow at the largest size the world produces
(:data:`GROWABLE`: never more than it can); ``stress-payload`` (only with ``--only``) a
body beyond anything real, as a warning at most.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

from ..delivery.sender import serialize
from ..events.registry import EventType
from ..world.habits import GROUP_SIZES
from .results import PASS, SKIP, WARN, CheckResult
from .run import CheckRun
from .verdicts import _accepted, _result

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
        (("data", "appointments"),),
        MAX_GROUP_APPOINTMENTS,
        f"the largest group the world books: {max(GROUP_SIZES['edge'])} services, each with {MAX_ADD_ONS} add-ons",
    ),
    "Invoice.Closed": (
        (("data", "invoice", "invoice_items"), ("data", "invoice", "appointments")),
        MAX_GROUP_APPOINTMENTS,
        "the invoice of the largest group: a line and an appointment for each of its appointments",
    ),
}
#: How many further events a large payload takes items from (real items, their own ids)
#: before it repeats the items it has.
LARGE_PAYLOAD_FRESH_EVENTS = 40
#: The ``stress-payload`` check (a warning at most): a body this large, beyond anything the
#: world produces, for a receiver that wants to know its headroom.
STRESS_PAYLOAD_BYTES = 512 * 1024
#: An unknown field added to events by ``unknown-fields``; the name says who sent it.
UNKNOWN_FIELD = "x_emulator_added_field"


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
    return _accepted(
        "unknown-fields",
        event_type,
        e,
        "an event with new fields and code values",
        "the next change Zenoti makes would stop every delivery",
        changes=changes,
    )


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


def _grow(
    run: CheckRun,
    kind: EventType,
    event: dict[str, Any],
    path: Sequence[str],
    *,
    items: int | None = None,
    size: int | None = None,
) -> int:
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
    return _accepted(
        "large-payload",
        event_type,
        run.send_event(what, event),
        what,
        "Zenoti can send this event, and a refused one is retried until the webhook is deactivated",
        body_bytes=len(prepared.body),
    )


def _stress_payload(run: CheckRun, event_type: str | None) -> CheckResult:
    growable = [kind for kind in run.event_types if kind.name in GROWABLE]
    if not growable:
        return _result("stress-payload", None, SKIP, "the webhook subscribes to no event type whose size can grow")
    kind = growable[0]
    event = max(run.events(kind, 10, profile="edge"), key=lambda e: len(serialize(e)))
    path = GROWABLE[kind.name][0][0]
    items = _grow(run, kind, event, path, size=STRESS_PAYLOAD_BYTES)
    prepared = run.request(event)
    what = (
        f"a {len(prepared.body) / 1024:.0f} KiB {kind.name} ({items} items in {'.'.join(path)}; beyond anything "
        "the world produces, a stress test of headroom)"
    )
    e = run.send_event(what, event)
    if e.ok:
        return _result(
            "stress-payload", None, PASS, f"{what} was answered {e.answer()}", [e], body_bytes=len(prepared.body)
        )
    return _result(
        "stress-payload",
        None,
        WARN,
        f"{what}: {e.cause.says()} (a warning only: no real event is this large)",
        [e],
        e.cause,
        body_bytes=len(prepared.body),
    )
