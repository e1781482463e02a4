"""Staff on the world: hires are booked, leavers are not, deletion comes after the last booking.

Checked on the events alone, as a receiver sees them, over long simulations; and the
roster hook that takes a leaver out of booking, on the world directly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.events.generate import simulate_events
from emulator.world import World
from emulator.world.actions import bookings, employees
from emulator.world.staff import NO_DATE

from .conftest import ROOT

# Its tests share module fixtures (built worlds, a server, a browser): `make test` keeps them on
# one xdist worker (tests/conftest.py), which builds each once and runs them in order.
pytestmark = pytest.mark.xdist_group("test_world_employees")

NOW = datetime(2024, 7, 25, 14, 52, 6, tzinfo=UTC)
DAYS = 24


# Edge groups are large: a shorter run keeps the edge case affordable.
@pytest.fixture(
    scope="module",
    params=[("realistic", 0, DAYS), ("realistic", 1, DAYS), ("edge", 2, 10)],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def events(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    profile, seed, days = request.param
    return list(simulate_events(seed=seed, now=NOW, days=days, profile=profile))


def _therapists(event: dict[str, Any]) -> set[str]:
    data = event["data"]
    if event["event_type"] == "AppointmentGroup.Created" or event["event_type"] in (
        "Appointment.Started",
        "Appointment.Completed",
    ):
        return {a.get("therapist_id") or a["TherapistId"] for a in data["appointments"]}
    return set()


@pytest.mark.slow
def test_a_leaver_is_booked_no_more_and_deleted_only_after_their_last_appointment(events):
    left: set[str] = set()
    deleted: set[str] = set()
    therapist_leavers = 0
    for event in events:
        kind, data = event["event_type"], event["data"]
        if kind == "AppointmentGroup.Created":
            assert not _therapists(event) & left, "a new booking names an employee who left"
        assert not _therapists(event) & deleted, "an appointment event names a deleted employee"
        if kind == "Employee.Updated" and data["job_info"]["end_date"] != NO_DATE:
            assert data["id"] not in left
            left.add(data["id"])
            therapist_leavers += data["job_info"]["job_name"] not in ("RECEPTIONIST", "CENTER MANAGER")
        elif kind == "Employee.Deleted":
            assert data["id"] in left, "deleted without leaving first"
            assert data["job_info"]["end_date"] != NO_DATE
            deleted.add(data["id"])
        elif kind == "Employee.Created":
            assert data["job_info"]["end_date"] == NO_DATE
    assert therapist_leavers and deleted


@pytest.mark.slow
def test_a_hired_therapist_is_booked_after_they_are_created(events):
    hired = {e["data"]["id"]: e["event_timestamp"] for e in events if e["event_type"] == "Employee.Created"}
    booked_hires = set()
    for event in events:
        if event["event_type"] == "AppointmentGroup.Created":
            for therapist in _therapists(event) & set(hired):
                assert hired[therapist] < event["event_timestamp"]
                booked_hires.add(therapist)
    assert booked_hires, "no hire was ever booked: the roster does not take hires"


@pytest.mark.slow
def test_an_employee_looks_the_same_in_every_event(events):
    seen: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["event_type"].startswith("Employee."):
            data = event["data"]
            fixed = (
                data["code"],
                data["center_id"],
                data["personal_info"]["first_name"],
                data["personal_info"]["last_name"],
                data["job_info"]["start_date"],
                data["job_info"]["job_id"],
            )
            assert seen.setdefault(data["id"], {"fixed": fixed})["fixed"] == fixed
            assert data["login_info"]["username"] == data["personal_info"]["email"].lower()


def test_the_roster_hook_keeps_a_leaver_out_of_booking():
    world = World(seed=5, start=NOW)
    center = world.centers[0]
    leaver = center.therapists[0]

    def book_many(first: int) -> set[str]:
        names = set()
        for n in range(first, first + 120):
            rng = world.streams("test-booking", n)
            guest_id = world.guests_at[center.id][n % 100]
            group, _ = bookings.book(world, guest_id, center, NOW + timedelta(minutes=n), rng, fate="completed")
            if group is not None:
                names |= {a.therapist.id for a in group.appointments}
        return names

    assert leaver.id in book_many(0)  # booking's tables are made before the departure
    emitted = employees.employee_leaves(world, center, leaver.id, NOW + timedelta(hours=3))
    assert emitted[0].event_type == "Employee.Updated"
    assert leaver not in world.extra[bookings.ROSTER][center.id]
    names = book_many(120)
    assert leaver.id not in names and len(names) >= len(center.therapists) - 2


def test_deleting_someone_with_appointments_ahead_is_refused():
    world = World(seed=5, start=NOW)
    center = world.centers[0]
    group, _ = bookings.book(world, world.guests_at[center.id][0], center, NOW, world.streams("t"), fate="completed")
    therapist = group.appointments[0].therapist
    employees.employee_leaves(world, center, therapist.id, NOW)
    with pytest.raises(AssertionError, match="booked until"):
        employees.delete_employee(world, therapist.id, NOW + timedelta(minutes=1))


def _keys(value: Any, path: str = "") -> set[str]:
    if isinstance(value, dict):
        return {f"{path}.{k}" for k in value} | {p for k, v in value.items() for p in _keys(v, f"{path}.{k}")}
    if isinstance(value, list) and value:
        return _keys(value[0], path + "[]")
    return set()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["Employee.Created", "Employee.Updated", "Employee.Deleted"])
def test_keys_misspellings_and_codes_match_the_sample(events, kind):
    slug = kind.lower().replace(".", "-")
    sample = json.loads((ROOT / "fixtures" / "docs" / f"{slug}.json").read_text())
    ours = [e for e in events if e["event_type"] == kind]
    assert ours
    for event in ours:
        assert _keys(event) == _keys(sample)
        assert "is_elgible_for_additional_commision_bonus" in event["data"]["job_info"]
        assert event["data"]["personal_info"]["gender"] in (-1, 0, 1, 2)
        assert event["event_resource"] == "Employee"
