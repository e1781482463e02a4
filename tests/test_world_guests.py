"""The guest base and the fresh account, checked on the events alone.

A guest base that behaves like one: most guests who book in a month book once or twice,
regulars come back after weeks, and new guests are a steady share of bookings. With
``fresh`` the account starts empty: every guest, employee, membership and package an
event names was created by an earlier event of the same stream (the joins a receiver
makes never miss); the default keeps the mid-life start, where most of them pre-exist.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

import pytest

from emulator.events.generate import simulate_events

from .web_support import app, client  # noqa: F401  (fixtures)

# Its tests share module fixtures (built worlds, a server, a browser): `make test` keeps them on
# one xdist worker (tests/conftest.py), which builds each once and runs them in order.
pytestmark = pytest.mark.xdist_group("test_world_guests")

NOW = datetime(2024, 7, 25, 14, 52, 6, tzinfo=UTC)
FRESH_RUNS = [("realistic", 0), ("realistic", 2), ("realistic", 3), ("edge", 0), ("edge", 1)]


def _low(value: Any) -> str:
    return str(value).lower()


def named(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The (kind, id) pairs a receiver joins on in ``event``: guests, employees,
    memberships and packages it names but does not create."""
    kind, data = event["event_type"], event["data"]
    out: list[tuple[str, str]] = []
    if kind in ("Guest.Updated", "Guest.Deleted", "Guest.OptedIn", "Guest.OptedOut"):
        out.append(("guest", data["id"]))
    elif kind == "AppointmentGroup.Created":
        out.append(("guest", data["guest"]["id"]))
        out += [("employee", a["therapist_id"]) for a in data["appointments"]]
    elif kind in ("Appointment.Started", "Appointment.Completed"):
        out += [("employee", a["TherapistId"]) for a in data["appointments"]]
    elif kind.startswith("Class.Booking."):
        out.append(("guest", data["guest_id"]))
    elif kind == "Invoice.Closed":
        invoice = data["invoice"]
        out.append(("guest", invoice["guest"]["id"]))
        out.append(("employee", invoice["sale_by_id"]))
        out += [("employee", item["sale_by_id"]) for item in invoice["invoice_items"] if item.get("sale_by_id")]
    elif kind in ("Employee.Updated", "Employee.Deleted"):
        out.append(("employee", data["id"]))
    elif kind == "Guest.Membership.Created":
        out.append(("guest", data["guest_id"]))
    elif kind.startswith("Guest.Membership."):
        out.append(("membership", data["user_membership_id"]))
    elif kind == "Guestpass.redeemed":
        out += [("guest", data["guest_id"]), ("membership", data["user_membership_id"])]
    elif kind.startswith("Guest.Package.") and kind != "Guest.Package.Created":
        out.append(("package", data["user_package_id"]))
    return [(k, _low(v)) for k, v in out if v]


def created(event: dict[str, Any]) -> tuple[str, str] | None:
    kind, data = event["event_type"], event["data"]
    found = {
        "Guest.Created": ("guest", "id"),
        "Employee.Created": ("employee", "id"),
        "Guest.Membership.Created": ("membership", "user_membership_id"),
        "Guest.Package.Created": ("package", "user_package_id"),
    }.get(kind)
    return (found[0], _low(data[found[1]])) if found else None


def orphans(events: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """Per kind: joins whose id no earlier event created, and all joins."""
    known: set[tuple[str, str]] = set()
    missing: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for event in events:
        for pair in named(event):
            total[pair[0]] += 1
            if pair not in known:
                missing[pair[0]] += 1
        made = created(event)
        if made:
            known.add(made)
    return missing, total


@pytest.mark.slow
@pytest.mark.parametrize("profile,seed", FRESH_RUNS, ids=lambda p: str(p))
def test_a_fresh_account_has_no_orphans(profile, seed):
    events = list(simulate_events(seed=seed, now=NOW, days=10, profile=profile, fresh=True))
    missing, total = orphans(events)
    assert dict(missing) == {}, (dict(missing), dict(total))
    assert all(total[k] > 0 for k in ("guest", "employee", "membership", "package")), dict(total)
    # Nothing existed before: the first events are the staff, and no guest comes before its Created.
    assert events[0]["event_type"] == "Employee.Created"


def test_the_default_starts_mid_life():
    """Without fresh, most of what early events name pre-exists (a receiver subscribing late)."""
    missing, total = orphans(list(simulate_events(seed=0, now=NOW, days=3)))
    assert missing["employee"] > 0.5 * total["employee"]
    assert missing["guest"] > 0.5 * total["guest"]


def bookings(events: list[dict[str, Any]]) -> dict[str, list[datetime]]:
    """Each guest's bookings (AppointmentGroup.Created, not reschedules), in order."""
    out: dict[str, list[datetime]] = defaultdict(list)
    for event in events:
        if event["event_type"] == "AppointmentGroup.Created" and not event["data"].get("rebooked_source_group_id"):
            out[_low(event["data"]["guest"]["id"])].append(datetime.fromisoformat(event["event_timestamp"][:19]))
    return out


@pytest.fixture(
    scope="module", params=[("realistic", 0), ("realistic", 1), ("edge", 0)], ids=lambda p: f"{p[0]}-{p[1]}"
)
def month(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    profile, seed = request.param
    return list(simulate_events(seed=seed, now=NOW, days=30, profile=profile))


@pytest.mark.slow
def test_most_guests_book_once_or_twice_a_month(month):
    per_guest = bookings(month)
    counts = [len(times) for times in per_guest.values()]
    assert len(counts) > 200
    often = sum(1 for c in counts if c >= 3) / len(counts)
    assert often < 0.15, f"{often:.0%} of the guests who booked booked three times or more in 30 days"
    assert sum(1 for c in counts if c <= 2) / len(counts) > 0.85
    assert max(counts) <= 8


@pytest.mark.slow
def test_regulars_come_back_after_weeks(month):
    gaps = [(b - a).total_seconds() / 86400 for times in bookings(month).values() for a, b in itertools.pairwise(times)]
    assert len(gaps) > 30
    assert median(gaps) >= 7, f"median gap between a guest's bookings: {median(gaps):.1f} days"


@pytest.mark.slow
def test_new_guests_are_a_steady_share(month):
    """Guest.Created each week is a steady share of the week's bookings (about 12 %)."""
    start = datetime.fromisoformat(month[0]["event_timestamp"][:19])
    weeks: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for event in month:
        week = (datetime.fromisoformat(event["event_timestamp"][:19]) - start) // timedelta(days=7)
        if week < 4:
            if event["event_type"] == "Guest.Created":
                weeks[week][0] += 1
            elif event["event_type"] == "AppointmentGroup.Created":
                weeks[week][1] += 1
    shares = [new / booked for new, booked in weeks.values()]
    assert len(shares) == 4
    assert all(0.06 <= share <= 0.2 for share in shares), shares


# -- every way in takes fresh: the CLI, the JSON API, the pytest fixture ------------------

FRESH_NOW = "2024-07-25T08:00:00Z"


def _opening(events: list[dict[str, Any]]) -> bool:
    """A fresh account's first Employee.Created is the opening staff, at the first instant."""
    return events[0]["event_timestamp"].startswith("2024-07-25T08:00:00")


def test_the_cli_takes_fresh():
    import json
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("zenoti-emulator")
    args = [str(exe), "generate", "Employee.Created", "--seed", "4", "--now", FRESH_NOW, "--format", "jsonl"]
    fresh = subprocess.run([*args, "--fresh"], capture_output=True, text=True, check=True).stdout
    plain = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    assert _opening([json.loads(fresh)]) and not _opening([json.loads(plain)])


def test_the_api_and_the_fixture_take_fresh(client, zenoti_emulator):
    body = {"event_type": "Employee.Created", "seed": 4, "now": FRESH_NOW}
    assert _opening(client.post("/api/events/generate", json={**body, "fresh": True}).get_json()["events"])
    assert not _opening(client.post("/api/events/generate", json=body).get_json()["events"])
    assert client.post("/api/events/generate", json={**body, "fresh": "yes"}).status_code == 400
    assert _opening(zenoti_emulator.generate("Employee.Created", seed=4, now=FRESH_NOW, fresh=True))
    played = zenoti_emulator.scenario("guest-day", seed=4, now=FRESH_NOW, fresh=True)
    assert played[0]["event_type"] == "Guest.Created"
