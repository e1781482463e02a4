"""The world's event stream adds up to a business, over many seeds.

Each property is checked on the events alone, as a receiver sees them: a receiver is a
state machine over this stream, and these are the promises it may rely on.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.events.generate import simulate_events
from emulator.events.registry import load_registry, schema_dir
from emulator.world import habits

# Its tests share module fixtures (built worlds, a server, a browser): `make test` keeps them on
# one xdist worker (tests/conftest.py), which builds each once and runs them in order.
pytestmark = pytest.mark.xdist_group("test_world")

NOW = datetime(2024, 7, 25, 14, 52, 6, tzinfo=UTC)
SEEDS = range(5)
DAYS = 8


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fired(event: dict[str, Any]) -> datetime:
    return parse(event["event_timestamp"][:26])


@pytest.fixture(
    scope="module",
    params=[("realistic", s) for s in SEEDS] + [("edge", 0), ("edge", 1)],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def run(request: pytest.FixtureRequest) -> tuple[Any, list[dict[str, Any]]]:
    profile, seed = request.param
    stream = simulate_events(seed=seed, now=NOW, days=DAYS, profile=profile)
    return stream, list(stream)


@pytest.fixture(scope="module", params=list(SEEDS))
def realistic_run(request: pytest.FixtureRequest) -> tuple[Any, list[dict[str, Any]]]:
    stream = simulate_events(seed=request.param, now=NOW, days=DAYS)
    return stream, list(stream)


@pytest.fixture(scope="module")
def events(run: tuple[Any, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return run[1]


def by_type(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"] == name]


@pytest.mark.slow
def test_every_type_happens_and_time_never_goes_back(events):
    assert {e["event_type"] for e in events} >= {
        "Guest.Created",
        "Guest.Updated",
        "AppointmentGroup.Created",
        "AppointmentGroup.Status",
        "Appointment.Started",
        "Appointment.Completed",
        "Invoice.Closed",
    }
    times = [e["event_timestamp"] for e in events]
    assert times == sorted(times)
    assert all(NOW <= fired(e) < NOW + timedelta(days=DAYS) for e in events)


def test_ids_chain_every_group_appointment_and_invoice_was_created_earlier(events):
    groups: dict[str, dict[str, Any]] = {}
    for event in events:
        data, kind = event["data"], event["event_type"]
        if kind == "AppointmentGroup.Created":
            assert data["appointment_group_id"] not in groups
            groups[data["appointment_group_id"]] = data
        elif kind == "AppointmentGroup.Status":
            booked = groups[data["appointment_group_id"]]
            assert (data["invoice_id"], data["invoice_number"]) == (booked["invoice_id"], booked["invoice_number"])
        elif kind in ("Appointment.Started", "Appointment.Completed"):  # feedback names the group only
            booked = groups[data["appointment_group_id"]]
            assert data["invoice_id"] == booked["invoice_id"] and data["center_id"] == booked["center_id"]
            known = {a["id"]: a for a in booked["appointments"]}
            for a in data["appointments"]:
                assert a["invoice_item_id"] == known[a["id"]]["invoice_item_id"]
                assert a["start_time"] == known[a["id"]]["start_time"]
        elif kind == "Invoice.Closed" and data["invoice"]["appointment_group_id"] is None:
            # a membership or package sold on its own invoice: one line of type 3 or 4
            assert [i["type"] for i in data["invoice"]["invoice_items"]] in ([3], [4])
        elif kind == "Invoice.Closed":
            invoice = data["invoice"]
            booked = groups[invoice["appointment_group_id"]]
            if not invoice["is_refund"]:
                assert invoice["id"] == booked["invoice_id"] and invoice["invoice_number"] == booked["invoice_number"]
            assert invoice["guest"]["id"] == booked["guest"]["id"] and invoice["center_id"] == booked["center_id"]
            booked_ids = {a["id"] for a in booked["appointments"]}
            assert {a["id"] for a in invoice["appointments"]} <= booked_ids
            lines = {i["invoice_item_id"] for i in invoice["invoice_items"]}
            assert all(a["invoice_item_id"] in lines for a in invoice["appointments"]) or invoice["is_refund"]


def _final_status(events: list[dict[str, Any]]) -> dict[str, int]:
    final: dict[str, int] = {}
    for e in by_type(events, "AppointmentGroup.Status"):
        final[e["data"]["appointment_group_id"]] = e["data"]["appointment_group_status"]
    return final


@pytest.mark.slow
@pytest.mark.parametrize("resource", ["therapist_id", "room_id"])
def test_no_therapist_or_room_is_booked_twice_at_once(events, resource):
    gone = {g for g, s in _final_status(events).items() if s in (habits.STATUS_CANCELLED, habits.STATUS_NO_SHOW)}
    gone |= {e["data"]["appointment_group_id"] for e in by_type(events, "AppointmentGroup.Delete")}
    # a group as last booked: AppointmentGroup.Updated (an edit) replaces what Created showed
    latest = {
        e["data"]["appointment_group_id"]: e["data"]
        for e in events
        if e["event_type"] in ("AppointmentGroup.Created", "AppointmentGroup.Updated")
    }
    held: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for group_id, data in latest.items():
        if group_id in gone:
            continue
        for a in data["appointments"]:
            if a[resource]:
                held[a[resource]].append((parse(a["start_time"]), parse(a["end_time"])))
    checked = 0
    for spans in held.values():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start
            checked += 1
    assert checked > 50


@pytest.mark.slow
def test_statuses_move_only_in_legal_ways_and_nothing_starts_after_a_cancellation(events):
    status: dict[str, int] = {}
    progress: dict[str, int] = {}
    for e in events:
        data, kind = e["data"], e["event_type"]
        if kind == "AppointmentGroup.Created":
            status[data["appointment_group_id"]] = habits.STATUS_BOOKED
        elif kind == "AppointmentGroup.Status":
            group = data["appointment_group_id"]
            assert data["appointment_group_status"] in habits.LEGAL_MOVES[status[group]]
            status[group] = data["appointment_group_status"]
        elif kind == "Appointment.Started":
            assert status[data["appointment_group_id"]] == habits.STATUS_CHECKED_IN
            (a,) = data["appointments"]
            assert a["appointment_progress"] == 1 and a["id"] not in progress
            progress[a["id"]] = 1
        elif kind == "Appointment.Completed":
            (a,) = data["appointments"]
            assert a["appointment_progress"] == 2 and progress.pop(a["id"]) == 1
        elif kind == "Invoice.Closed" and not data["invoice"]["is_refund"] and data["invoice"]["appointment_group_id"]:
            group_status = status[data["invoice"]["appointment_group_id"]]
            if any(item["code"] in ("NSFEE", "LCFEE") for item in data["invoice"]["invoice_items"]):
                # a no-show or late-cancellation fee, charged after the status event flagged it
                assert group_status in (habits.STATUS_CANCELLED, habits.STATUS_NO_SHOW)
            else:  # at check-out; or later, closing an invoice left open, or an edit
                assert group_status in (habits.STATUS_CHECKED_IN, habits.STATUS_CLOSED)
    assert Counter(status.values())[habits.STATUS_CLOSED] > 10  # paid at check-out: closed (1)


def test_a_guest_looks_the_same_in_every_event_and_follows_updates(events):
    known: dict[str, dict[str, Any]] = {}
    deleted: set[str] = set()

    def agree(guest_id: str, seen: dict[str, Any]) -> None:
        assert guest_id not in deleted, "an event about a deleted guest"
        current = known.setdefault(guest_id, dict(seen))
        for key, value in seen.items():
            assert current.setdefault(key, value) == value, (guest_id, key)

    for e in events:
        data, kind = e["data"], e["event_type"]
        if kind in ("Guest.Created", "Guest.Updated", "Guest.Deleted"):
            info = data["personal_info"]
            phone = info["mobile_phone"]
            seen = {
                "first_name": info["first_name"],
                "last_name": info["last_name"],
                "email": info["email"],
                "code": data["code"],
                "gender": info["gender"],
                "mobile": f"+{phone['phone_code']} {phone['number']}" if phone else "",
            }
            if kind == "Guest.Created":
                assert data["id"] not in known
            if kind == "Guest.Updated":
                known[data["id"]] = seen  # every later event shows the new values
            agree(data["id"], seen)
            if kind == "Guest.Deleted":
                deleted.add(data["id"])
        elif kind == "AppointmentGroup.Created":
            g = data["guest"]
            agree(g["id"], {"first_name": g["first_name"], "last_name": g["last_name"], "email": g["email"]})
        elif kind == "Invoice.Closed":
            g = data["invoice"]["guest"]
            agree(
                g["id"],
                {
                    "first_name": g["first_name"],
                    "last_name": g["last_name"],
                    "code": g["code"],
                    "gender": g["gender"],
                    "mobile": g["mobile_phone"],
                },
            )
    assert len(known) > 50


@pytest.mark.slow
def test_a_new_guest_is_created_before_they_book(events):
    created = {e["data"]["id"]: fired(e) for e in by_type(events, "Guest.Created")}
    booked = [e for e in by_type(events, "AppointmentGroup.Created") if e["data"]["guest"]["id"] in created]
    assert booked
    assert all(created[e["data"]["guest"]["id"]] < fired(e) for e in booked)


def test_invoices_add_up_and_refunds_are_negative(events):
    invoices = [e["data"]["invoice"] for e in by_type(events, "Invoice.Closed")]
    for invoice in invoices:
        total = invoice["total_price"]
        assert round(total["net_price"] + total["tax"] + total["rounding_adjustment"], 2) == total["sum_total"]
        paid = round(sum(t["amount_paid"] for t in invoice["transactions"]), 2)
        # an invoice left open at check-out may be unpaid yet; a closed one is paid in full
        assert paid == total["sum_total"] or (not invoice["is_closed"] and paid == 0)
        assert round(sum(i["price"]["sales"] for i in invoice["invoice_items"]), 2) == total["net_price"]
        assert (total["sum_total"] <= 0) == invoice["is_refund"] or total["sum_total"] == 0
        assert {i["type"] for i in invoice["invoice_items"]} <= {0, 2, 3, 4}


def test_groups_are_coherent_inside(run):
    _stream, events = run
    for e in by_type(events, "AppointmentGroup.Created"):
        data = e["data"]
        appointments = data["appointments"]
        assert len({a["is_recurring"] for a in appointments}) == 1
        for before, a in itertools.pairwise(appointments):
            if a["is_add_on"]:
                assert a["appointment_type"] == before["appointment_type"]
                assert a["therapist_id"] == before["therapist_id"] and a["start_time"] == before["end_time"]
        assert data["utm_medium"] is None or data["utm_source"] is not None
        assert all(fired(e) < parse(a["start_time"]) for a in appointments)


def test_realistic_business_hours_home_centers_and_lead_times(realistic_run):
    """The edge profile breaks these on purpose (24-hour centers, far-off DST groups)."""
    stream, events = realistic_run
    world = stream.world
    centers = {c.id: c for c in world.centers}
    home = at_home = 0
    leads = []
    for e in by_type(events, "AppointmentGroup.Created"):
        data = e["data"]
        center = centers[data["center_id"]]
        for a in data["appointments"]:
            start, end = parse(a["start_time"]).astimezone(center.zone), parse(a["end_time"]).astimezone(center.zone)
            assert (
                center.hours[0] <= start.hour
                and (end.hour, end.minute) <= (center.hours[1], 0)
                and start.date() == end.date()
            )
        guest = world.guests.get(data["guest"]["id"])
        if guest is not None:
            home += 1
            at_home += guest.center_id == data["center_id"]
        leads.append((parse(data["appointments"][0]["start_time"]) - fired(e)).days)
    assert at_home / home > 0.85
    assert sum(d <= 3 for d in leads) / len(leads) > 0.45 and 0 in leads and max(leads) >= 7


def test_the_past_is_let_go(run):
    """What is left in memory is only what a later event can still mention."""
    stream, _ = run
    world = stream.world
    due = {
        step.__name__: set()
        for step in (stream.simulation._refund, stream.simulation._amend, stream.simulation._charge_fee)
    }
    for _, _, step, args in stream.simulation._queue:
        if step.__name__ in due:
            due[step.__name__].add(args[0].id)
    for group in world.groups.values():
        if group.status in (habits.STATUS_CANCELLED, habits.STATUS_NO_SHOW):  # kept only while a fee is due
            assert group.id in due["_charge_fee"]
        elif group.invoice.is_closed:  # a closed group is kept only while its refund or an edit is due
            assert group.id in due["_refund"] | due["_amend"]
    assert world.calendar and all(
        end > world.now - timedelta(days=2) for ends in world.calendar._ends.values() for end in ends
    )


def test_same_seed_and_now_give_the_same_bytes():
    one = [json.dumps(e) for e in simulate_events(seed=3, now=NOW, days=2)]
    two = [json.dumps(e) for e in simulate_events(seed=3, now=NOW, days=2)]
    assert one == two and len(one) > 100
    other = [json.dumps(e) for e in simulate_events(seed=4, now=NOW, days=2)]
    assert other != one


def test_a_field_added_to_one_type_leaves_every_other_types_bytes_unchanged(tmp_path):
    root = tmp_path / "schemas"
    shutil.copytree(schema_dir(), root)
    path = root / "events" / "guest-updated.v1.json"
    schema = json.loads(path.read_text())
    schema["properties"]["data"]["properties"] = {
        "loyalty_tier": {"type": "string", "description": "new", "x-faker": 'random_element:["gold","silver"]'}
    }
    path.write_text(json.dumps(schema))
    changed = load_registry(root)
    before = list(simulate_events(seed=8, now=NOW, days=3))
    after = list(simulate_events(seed=8, now=NOW, days=3, registry=changed))
    assert len(before) == len(after)
    updated = 0
    for old, new in zip(before, after, strict=True):
        if old["event_type"] == "Guest.Updated":
            assert new["data"].pop("loyalty_tier") in ("gold", "silver")
            updated += 1
        assert json.dumps(old) == json.dumps(new)
    assert updated > 0


def test_asking_for_one_type_gives_that_types_events_of_the_same_world():
    everything = list(simulate_events(seed=2, now=NOW, days=2))
    statuses = list(simulate_events(seed=2, now=NOW, days=2, types=["AppointmentGroup.Status"]))
    assert statuses == [e for e in everything if e["event_type"] == "AppointmentGroup.Status"]


@pytest.mark.parametrize("seed", [0, 3])
def test_the_days_free_starts_agree_with_the_calendars(seed: int) -> None:
    """Booking skips the starts :func:`fitting_starts` rules out; it must rule out exactly
    those where the calendars have no therapist on duty (and room) free for the time."""
    from emulator.world import World
    from emulator.world.actions.bookings import _on_duty_on, fitting_starts
    from emulator.world.simulation import Simulation

    world = World(seed, NOW, "realistic")
    for _ in Simulation(world).run(until=NOW + timedelta(days=3)):
        pass
    checked = ruled_out = 0
    for center in world.centers:
        opens, closes = center.hours
        for ahead in range(4):
            day = (world.now + timedelta(days=ahead)).astimezone(center.zone).date()
            duty = _on_duty_on(world, center, day.weekday())
            for minutes, needs_room in ((30, False), (60, True), (95, True), (150, False)):
                fits = fitting_starts(world, center, day, minutes, needs_room)
                for first in range(opens * 60, closes * 60, 5):
                    start = datetime(
                        day.year, day.month, day.day, first // 60, first % 60, tzinfo=center.zone
                    ).astimezone(UTC)
                    end = start + timedelta(minutes=minutes)
                    free = any(
                        lo <= first and first + minutes <= hi and world.calendar.is_free(t.id, start, end)
                        for t, lo, hi in duty
                    )
                    if needs_room:
                        free = free and any(world.calendar.is_free(r.id, start, end) for r in center.rooms)
                    assert bool(fits >> first & 1) == free, (center.name, day, first, minutes, needs_room)
                    checked += 1
                    ruled_out += not free
    assert ruled_out and checked - ruled_out  # the days were neither empty nor full
