"""The codes as Zenoti's API defines them, proved from the events alone.

- a person's gender: 1 male, 0 female, -1 not specified, never 2;
- appointment status: 1 (closed) follows each paid check-out, 0 follows an edit of a
  confirmed group, and the optional ``data.guest`` rides on a minority of status events;
- ``additional_fields`` on some invoices, as ``{key, value}`` pairs;
- the variant ``status-1=cancelled`` changes exactly the codes it says and nothing else.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from emulator.events.generate import simulate_events
from emulator.events.registry import default_registry
from emulator.world import habits

NOW = datetime(2024, 7, 25, 8, tzinfo=UTC)
SEEDS = (1, 5, 9)
PROFILES = ("realistic", "edge")
_CACHE: dict[tuple[Any, ...], list[dict[str, Any]]] = {}


def stream(seed: int, profile: str, days: float = 3.0, **variants: str) -> list[dict[str, Any]]:
    key = (seed, profile, days, tuple(sorted(variants.items())))
    if key not in _CACHE:
        _CACHE[key] = list(simulate_events(seed=seed, now=NOW, days=days, profile=profile, variants=variants or None))
    return _CACHE[key]


def people(event: dict[str, Any]) -> list[dict[str, Any]]:
    """Every person object in an event that carries a gender."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "gender" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(event["data"])
    return found


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("seed", SEEDS)
def test_gender_is_zenotis_person_code_never_2(seed: int, profile: str) -> None:
    genders = Counter(person["gender"] for event in stream(seed, profile) for person in people(event))
    assert set(genders) <= {-1, 0, 1}, genders
    assert genders[0] and genders[1] and genders[-1], genders
    guests = Counter(
        e["data"]["personal_info"]["gender"] for e in stream(seed, profile) if e["event_type"] == "Guest.Created"
    )
    assert set(guests) <= {-1, 0, 1}


def statuses(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["event_type"] == "AppointmentGroup.Status"]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("seed", SEEDS)
def test_status_1_follows_each_paid_check_out_and_codes_are_zenotis(seed: int, profile: str) -> None:
    events = stream(seed, profile)
    codes = Counter(s["appointment_group_status"] for s in statuses(events))
    assert set(codes) <= {-2, -1, 0, 1, 2, 4}, codes
    # a visit's invoice once closed (one left open at check-out is closed later, by a second
    # Invoice.Closed); a no-show or late-cancellation fee closes no visit
    paid = [
        e["data"]["invoice"]["appointment_group_id"]
        for e in events
        if e["event_type"] == "Invoice.Closed"
        and not e["data"]["invoice"]["is_refund"]
        and e["data"]["invoice"]["appointment_group_id"]
        and e["data"]["invoice"]["is_closed"]
        and not {i["code"] for i in e["data"]["invoice"]["invoice_items"]} & {"NSFEE", "LCFEE"}
    ]
    closed = [s["appointment_group_id"] for s in statuses(events) if s["appointment_group_status"] == 1]
    assert paid and sorted(closed) == sorted(set(paid)), "one status 1 per group paid, none other"
    for index, event in enumerate(events):  # status 1 comes right after its Invoice.Closed
        if event["event_type"] == "AppointmentGroup.Status" and event["data"]["appointment_group_status"] == 1:
            before = [
                e
                for e in events[:index]
                if e["event_type"] == "Invoice.Closed"
                and e["data"]["invoice"]["is_closed"]
                and e["data"]["invoice"]["appointment_group_id"] == event["data"]["appointment_group_id"]
            ]
            assert before, "closed before its invoice was paid"
    checked_in = codes[2]
    assert 0.6 <= codes[1] / checked_in <= 1.0, codes  # most visits checked in are paid within the stream


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("seed", SEEDS)
def test_the_optional_guest_rides_on_some_status_events_and_names_the_groups_guest(seed: int, profile: str) -> None:
    events = stream(seed, profile)
    booked = {
        e["data"]["appointment_group_id"]: e["data"]["guest"]["id"]
        for e in events
        if e["event_type"] == "AppointmentGroup.Created"
    }
    found = statuses(events)
    with_guest = [s for s in found if "guest" in s]
    share = len(with_guest) / len(found)
    assert 0.15 <= share <= 0.45, f"{share:.2f} of {len(found)}"
    for status in with_guest:
        guest = status["guest"]
        assert set(guest) == {"id", "first_name", "last_name", "email"}
        if status["appointment_group_id"] in booked:
            assert guest["id"] == booked[status["appointment_group_id"]]


@pytest.mark.parametrize("profile", PROFILES)
def test_some_invoices_carry_additional_fields_as_key_value_pairs(profile: str) -> None:
    invoices = [
        e["data"]["invoice"] for seed in SEEDS for e in stream(seed, profile) if e["event_type"] == "Invoice.Closed"
    ]
    carrying = [i["additional_fields"] for i in invoices if "additional_fields" in i]
    assert 0.05 <= len(carrying) / len(invoices) <= 0.4, (len(carrying), len(invoices))
    for fields in carrying:
        assert 1 <= len(fields) <= 3 and all(set(f) == {"key", "value"} and f["key"] for f in fields)
        assert len({f["key"] for f in fields}) == len(fields)


def _as_default(event: dict[str, Any]) -> dict[str, Any]:
    """An event of the status-1=cancelled stream, written back in the default reading."""
    if event["event_type"] == "AppointmentGroup.Status" and event["data"]["appointment_group_status"] == 1:
        event = json.loads(json.dumps(event))
        event["data"]["appointment_group_status"] = -1
    return event


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("seed", SEEDS[:2])
def test_status_1_cancelled_moves_those_codes_and_nothing_else(seed: int, profile: str) -> None:
    default = stream(seed, profile)
    other = stream(seed, profile, **{"status-1": "cancelled"})
    assert not [s for s in statuses(other) if s["appointment_group_status"] == -1], "no -1 under this reading"
    assert [s for s in statuses(other) if s["appointment_group_status"] == 1], "cancellations send 1"
    without_closing = [
        e
        for e in default
        if not (
            e["event_type"] == "AppointmentGroup.Status"
            and e["data"]["appointment_group_status"] == habits.STATUS_CLOSED
        )
    ]
    assert [_as_default(e) for e in other] == without_closing
    registry = default_registry()
    assert all(registry[e["event_type"]].is_valid(e) for e in other)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_event_of_the_new_codes_validates(profile: str) -> None:
    registry = default_registry()
    for event in stream(SEEDS[0], profile):
        assert registry[event["event_type"]].is_valid(event), event["event_type"]
