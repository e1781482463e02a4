"""Scenarios: every built-in story chains on several seeds, a user's file runs, each kind of
mistake in one is a one-line error naming file, step and field, disorder is exactly what
its seed says and loses nothing, and pacing follows the story's clock.

The chaining checks read the events as a receiver sees them (ids, order, status moves),
not the world's objects.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from emulator.cli import cli
from emulator.delivery.disorder import Disorder, disorder, parse_disorder
from emulator.delivery.pacing import paced
from emulator.errors import UsageError
from emulator.events.registry import default_registry
from emulator.scenario import builtin_names, load, parse, stage
from emulator.world import habits

from .receivers import Receiver
from .test_delivery import FakeClock

NOW = datetime(2024, 7, 25, 8, 0, tzinfo=UTC)
REGISTRY = default_registry()
BUILTINS = (
    "guest-day",
    "no-show",
    "late-cancel",
    "reschedule",
    "refund",
    "walk-in",
    "class-day",
    "membership-lifecycle",
    "package-redemption",
)


def events_of(name: str, seed: int, profile: str = "realistic", now: datetime = NOW) -> list[dict[str, Any]]:
    return [p.event for p in stage(load(name), seed=seed, now=now, profile=profile).played]


def group_id(event: dict[str, Any]) -> str | None:
    """The group an event names (feedback names it in upper case, as its samples do)."""
    data = event["data"]
    found = data.get("appointment_group_id") or (data.get("invoice") or {}).get("appointment_group_id")
    return found.lower() if found else None


def check_chain(events: list[dict[str, Any]]) -> dict[str, list[int]]:
    """What every story must keep: time never goes back, every event is valid, a group is
    announced before anything names it, its status moves are legal, ids are unique; and so
    for classes, memberships and packages (:func:`check_desk`). Returns each group's statuses."""
    stamps = [e["event_timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert len({e["id"] for e in events}) == len(events)
    for event in events:
        assert REGISTRY[event["event_type"]].errors(event) == [], event["event_type"]
    check_desk(events)
    created_guests: set[str] = set()
    statuses: dict[str, list[int]] = {}
    for event in events:
        kind, data = event["event_type"], event["data"]
        if kind == "Guest.Created":
            created_guests.add(data["id"])
        elif kind == "AppointmentGroup.Created":
            statuses[data["appointment_group_id"]] = [habits.STATUS_BOOKED]
            source = data.get("rebooked_source_group_id")
            assert source is None or source in statuses, "a rebooked group names a group announced before"
        else:
            group = group_id(event)
            if group is not None:
                assert group in statuses, f"{kind} names group {group} before its AppointmentGroup.Created"
            if kind == "AppointmentGroup.Status":
                now, new = statuses[group][-1], data["appointment_group_status"]
                assert new in habits.LEGAL_MOVES[now], f"illegal move {now} -> {new}"
                statuses[group].append(new)
    return statuses


#: What may follow what, for one membership, as a receiver sees it (as in test_world_memberships_packages).
MEMBERSHIP_MOVES = {
    "Guest.Membership.Created": {"Guest.Membership.Freeze", "Guest.Membership.Cancelled"},
    "Guest.Membership.Freeze": {"Guest.Membership.Unfreeze"},
    "Guest.Membership.Unfreeze": {"Guest.Membership.Freeze", "Guest.Membership.Cancelled"},
    "Guest.Membership.Cancelled": {"Guest.Membership.Reinstate"},
    "Guest.Membership.Reinstate": {"Guest.Membership.Freeze", "Guest.Membership.Cancelled"},
}


def check_desk(events: list[dict[str, Any]]) -> None:
    """Classes, memberships and packages chain as a receiver follows them: a booking names a
    session scheduled before (and not over), an ending names a booking made before, only a
    waitlisted booking is approved or rejected, seats never exceed the capacity; a
    membership's events follow its rules; a package's events name a package sold before,
    and a redemption a visit's invoice closed before (a reversal, a redemption made before)."""
    sessions: dict[int, dict[str, Any]] = {}
    seated: dict[int, set[int]] = {}
    bookings: dict[int, dict[str, Any]] = {}
    membership_last: dict[str, str] = {}
    packages: set[str] = set()
    invoices: dict[str, dict[str, Any]] = {}
    redeemed: list[tuple[str, str]] = []
    for event in events:
        kind, data = event["event_type"], event["data"]
        if kind == "Class.Schedule.Created":
            sessions[data["sesion_id"]] = data
            seated[data["sesion_id"]] = set()
        elif kind.startswith("Class.Schedule."):
            assert data["sesion_id"] in sessions, f"{kind} of a session never scheduled"
            sessions[data["sesion_id"]] = data
        elif kind.startswith("Class.Booking."):
            session, registration = data["session_id"], data["registration_id"]
            assert session in sessions and sessions[session]["center_id"] == data["center_id"]
            if kind == "Class.Booking.Created":
                bookings[registration] = data
                if not data["waitlist"]:
                    seated[session].add(registration)
            else:
                assert registration in bookings and bookings[registration]["session_id"] == session
                if kind in ("Class.Booking.Approved", "Class.Booking.Rejected"):
                    assert bookings[registration]["waitlist"] is True and data["waitlist"] is True
                if kind == "Class.Booking.Approved":
                    seated[session].add(registration)
                else:
                    seated[session].discard(registration)
            assert len(seated[session]) <= sessions[session]["capacity"]
        elif kind.startswith("Guest.Membership."):
            membership = data["user_membership_id"]
            if kind != "Guest.Membership.Created":
                assert kind in MEMBERSHIP_MOVES[membership_last[membership]], (
                    f"{membership_last[membership]} then {kind}"
                )
            membership_last[membership] = kind
        elif kind == "Invoice.Closed":
            invoices[data["invoice"]["id"]] = data["invoice"]
        elif kind.startswith("Guest.Package."):
            package = data["user_package_id"]
            if kind == "Guest.Package.Created":
                packages.add(package)
            assert package in packages, f"{kind} of a package never sold"
            if kind == "Guest.Package.Redemption":
                for used in data["service_redemptions"]:
                    invoice = invoices[used["invoice"]["id"]]
                    assert used["invoice"]["item_id"] in {i["invoice_item_id"] for i in invoice["invoice_items"]}
                    redeemed.append((package, used["invoice"]["item_id"]))
            elif kind == "Guest.Package.RedemptionReversal":
                for used in data["service_redemptions_reversal"]:
                    redeemed.remove((package, used["invoice"]["item_id"]))


def check_class_day(events: list[dict[str, Any]]) -> None:
    """Two seats: the regular and ann book them, ben is waitlisted, ann cancels and ben is
    approved into her seat (his own registration), the regular is the no-show."""
    kinds = [e["event_type"] for e in events]
    assert kinds == [
        "Class.Schedule.Created",
        "Class.Booking.Created",
        "Guest.Created",
        "Class.Booking.Created",
        "Guest.Created",
        "Class.Booking.Created",
        "Class.Booking.Cancelled",
        "Class.Booking.Approved",
        "Class.Booking.NoShow",
    ]
    schedule, regular, ann_created, ann, ben_created, ben, cancelled, approved, no_show = (e["data"] for e in events)
    assert schedule["capacity"] == 2
    assert {d["session_id"] for d in (regular, ann, ben, cancelled, approved, no_show)} == {schedule["sesion_id"]}
    assert (regular["waitlist"], ann["waitlist"], ben["waitlist"]) == (False, False, True)
    assert ann["guest_id"] == ann_created["id"] and ben["guest_id"] == ben_created["id"]
    assert len({regular["guest_id"], ann["guest_id"], ben["guest_id"]}) == 3
    assert cancelled["registration_id"] == ann["registration_id"]
    assert approved["registration_id"] == ben["registration_id"] and approved["guest_id"] == ben["guest_id"]
    assert no_show["registration_id"] == regular["registration_id"]
    start = datetime.fromisoformat(schedule["start_time"]).replace(tzinfo=UTC)
    assert (
        fired(events[7]) < start - timedelta(minutes=30) < start < fired(events[8])
    )  # approved while the waitlist is open


def check_membership_lifecycle(events: list[dict[str, Any]]) -> None:
    """Exactly the five moves, in order, of one recurring membership of one guest; the
    freeze is for the 14 days asked and lifted before they end; a cancelled membership has a
    reason and a grace period, a reinstated one neither, and is collected again."""
    assert [e["event_type"] for e in events] == [
        "Guest.Membership.Created",
        "Guest.Membership.Freeze",
        "Guest.Membership.Unfreeze",
        "Guest.Membership.Cancelled",
        "Guest.Membership.Reinstate",
    ]
    created, frozen, unfrozen, cancelled, reinstated = (e["data"] for e in events)
    assert len({d["user_membership_id"] for d in (created, frozen, unfrozen, cancelled, reinstated)}) == 1
    assert created["recurrence_status"] == 3 and created["sold_by"]["id"] is not None
    assert reinstated["members"][0]["id"] == created["guest_id"]
    start, end = (datetime.fromisoformat(frozen["freeze"][k]) for k in ("start_date", "end_date"))
    assert end - start == timedelta(days=14) and fired(events[2]).date() < end.date()  # lifted early
    assert cancelled["cancel"]["reason"] and cancelled["grace_period_date"] is not None
    assert reinstated["next_collection_date"] is not None and reinstated["grace_period_date"] is None


def check_package_redemption(events: list[dict[str, Any]], statuses: dict[str, list[int]]) -> None:
    """The package's service is booked, served and paid; the visit redeems one session of it
    (naming the visit's invoice line), the reversal gives the same session back, and the
    extension moves the end 30 days."""
    kinds = [e["event_type"] for e in events]
    assert kinds == [
        "Guest.Package.Created",
        "AppointmentGroup.Created",
        "AppointmentGroup.Status",
        "Appointment.Started",
        "Appointment.Completed",
        "Invoice.Closed",
        "AppointmentGroup.Status",
        "Guest.Package.Redemption",
        "Guest.Package.RedemptionReversal",
        "Guest.Package.ValidityUpdate",
    ]
    sold, booked, invoice = events[0]["data"], events[1]["data"], events[5]["data"]["invoice"]
    redemption, reversal, extended = (e["data"] for e in events[7:])
    assert {d["user_package_id"] for d in (sold, redemption, reversal, extended)} == {sold["user_package_id"]}
    assert booked["guest"]["id"] == invoice["guest"]["id"] and list(statuses.values()) == [[0, 2, 1]]
    service = booked["appointments"][0]["service_id"]
    assert service in {s["service_type_info"]["id"] for s in sold["services"]}
    used = redemption["service_redemptions"]
    assert [(u["invoice"]["id"], u["service"]["id"]) for u in used] == [(invoice["id"], service)]
    assert used[0]["invoice"]["item_id"] == invoice["invoice_items"][0]["invoice_item_id"]
    assert reversal["service_redemptions_reversal"] == used
    assert all(line["used"] == 0 for line in sold["services"])  # a new package: its first session is this visit's
    before, after = (datetime.fromisoformat(d["date"]["end"]) for d in (sold, extended))
    assert after - before == timedelta(days=30)


def fired(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["event_timestamp"][:26]).replace(tzinfo=UTC)


@pytest.mark.parametrize("profile", ["realistic", "edge"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_scenario_chains(name: str, seed: int, profile: str) -> None:
    events = events_of(name, seed, profile)
    statuses = check_chain(events)
    kinds = [e["event_type"] for e in events]
    if name == "guest-day":
        guest = events[0]["data"]["id"]
        assert kinds[:4] == [
            "Guest.Created",
            "AppointmentGroup.Created",
            "AppointmentGroup.Status",
            "AppointmentGroup.Status",
        ]
        assert events[1]["data"]["guest"]["id"] == guest
        appointments = events[1]["data"]["appointments"]
        assert len(appointments) == 3 and sum(a["is_add_on"] for a in appointments) == 1
        assert kinds[4:10] == ["Appointment.Started", "Appointment.Completed"] * 3
        started = [e["data"]["appointments"][0]["id"] for e in events[4:10:2]]
        assert started == [a["id"] for a in appointments]  # each appointment, in the order they run
        assert kinds[10:] == [
            "Invoice.Closed",
            "AppointmentGroup.Status",
            "Appointment.Feedback.V1",
        ]  # paid: closed (1); the world's first center asks V1
        assert events[11]["data"]["appointment_group_status"] == 1
        assert events[10]["data"]["invoice"]["id"] == events[1]["data"]["invoice_id"]
        rated = events[12]["data"]
        assert (rated["appointment_group_id"], rated["user_id"]) == (
            events[1]["data"]["appointment_group_id"].upper(),
            guest.upper(),
        )
        assert list(statuses.values()) == [[0, 4, 2, 1]]
    elif name == "no-show":
        assert list(statuses.values()) == [[0, 4, -2]]
        assert events[-1]["data"]["is_noshowfeerequired"] == "Yes"
    elif name == "late-cancel":
        assert list(statuses.values()) == [[0, 4, -1]]
        assert events[-1]["data"]["is_cancellationfeerequired"] == "Yes"
    elif name == "reschedule":
        old, new = (e["data"] for e in events if e["event_type"] == "AppointmentGroup.Created")
        assert new["rebooked_source_group_id"] == old["appointment_group_id"]
        assert statuses[old["appointment_group_id"]] == [0, -1]
        assert statuses[new["appointment_group_id"]] == [0, 2, 1]
        cancel = next(i for i, e in enumerate(events) if e["data"].get("appointment_group_status") == -1)
        assert kinds.index("AppointmentGroup.Created", 1) < cancel  # the new group first, then the old one cancelled
    elif name == "refund":
        paid, refund = (e["data"]["invoice"] for e in events if e["event_type"] == "Invoice.Closed")
        assert (paid["is_refund"], refund["is_refund"]) == (False, True)
        assert refund["appointment_group_id"] == paid["appointment_group_id"]
        assert refund["total_price"]["sum_total"] == -paid["total_price"]["sum_total"]
    elif name == "walk-in":
        first_start = next(e for e in events if e["event_type"] == "Appointment.Started")
        gap = datetime.fromisoformat(first_start["event_timestamp"][:19]) - datetime.fromisoformat(
            events[1]["event_timestamp"][:19]
        )
        assert timedelta(0) < gap < timedelta(hours=1), f"walk-in started {gap} after booking"
        assert list(statuses.values()) == [[0, 2, 1]]
    elif name == "class-day":
        check_class_day(events)
    elif name == "membership-lifecycle":
        check_membership_lifecycle(events)
    elif name == "package-redemption":
        check_package_redemption(events, statuses)


def test_the_builtins_are_the_documented_ones() -> None:
    assert set(builtin_names()) == set(BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
def test_a_scenario_replays_byte_for_byte_and_another_seed_differs(name: str) -> None:
    one, two = events_of(name, 5), events_of(name, 5)
    assert json.dumps(one) == json.dumps(two)
    assert json.dumps(one) != json.dumps(events_of(name, 6))


USER_FILE = """
description = "Two friends book the same morning; one cancels."

[[step]]
do = "create_guest"
as = "ann"
center = 2

[[step]]
do = "book"
guest = "ann"
as = "morning"
services = 1
lead_days = 2
set = { "data.utm_source" = "friends" }

[[step]]
do = "update_guest"
guest = "ann"
after = "1h"

[[step]]
do = "cancel"
group = "morning"
at = "start-30h"
"""


def test_a_user_written_scenario_file_runs(tmp_path: Path) -> None:
    path = tmp_path / "friends.toml"
    path.write_text(USER_FILE)
    result = CliRunner().invoke(
        cli,
        [
            "scenario",
            "run",
            str(path),
            "--seed",
            "4",
            "--now",
            "2024-07-25T08:00:00Z",
            "--format",
            "jsonl",
            "--set",
            "+x_rehearsal=friends",
        ],
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event_type"] for e in events] == [
        "Guest.Created",
        "AppointmentGroup.Created",
        "Guest.Updated",
        "AppointmentGroup.Status",
    ]
    check_chain(events)
    booked = events[1]["data"]
    assert booked["utm_source"] == "friends"  # the step's own set
    assert all(e["x_rehearsal"] == "friends" for e in events)  # the run's --set
    assert booked["guest"]["id"] == events[0]["data"]["id"] == events[2]["data"]["id"]
    assert events[3]["data"]["appointment_group_status"] == -1


DESK_FILE = """
description = "The rest of the desk: a one-seat class gets a seat more, closes its waitlist, is cancelled and deleted; a term membership; a package closed; a bad review."

[[step]]
do = "schedule_class"
as = "yoga"
capacity = 1
lead_days = 2

[[step]]
do = "create_guest"
as = "ann"

[[step]]
do = "create_guest"
as = "ben"

[[step]]
do = "create_guest"
as = "cat"

[[step]]
do = "book_class"
class = "yoga"
as = "first"

[[step]]
do = "book_class"
class = "yoga"
guest = "ann"
as = "ann"

[[step]]
do = "update_class"
class = "yoga"
add_seats = 1

[[step]]
do = "book_class"
class = "yoga"
guest = "ben"
as = "ben"

[[step]]
do = "book_class"
class = "yoga"
guest = "cat"
as = "cat"

[[step]]
do = "delete_class_booking"
booking = "cat"

[[step]]
do = "close_waitlist"
class = "yoga"
at = "start-30m"

[[step]]
do = "cancel_class"
class = "yoga"
after = "5m"

[[step]]
do = "delete_class"
class = "yoga"

[[step]]
do = "create_membership"
guest = "ann"
recurring = false

[[step]]
do = "create_package"
guest = "ben"

[[step]]
do = "close_package"

[[step]]
do = "book"
guest = "cat"

[[step]]
do = "check_in"
at = "start-5m"

[[step]]
do = "serve"

[[step]]
do = "close_invoice"

[[step]]
do = "feedback"
score = 1
after = "1h"
"""


def test_every_other_desk_action_plays_as_the_world_says(tmp_path: Path) -> None:
    """What the built-ins leave out: more seats move the waitlist up, a deleted waiting
    booking frees nothing, closing the waitlist rejects who still waits, cancelling a class
    cancels its bookings first; a term membership; a package closed; the score given."""
    path = tmp_path / "desk.toml"
    path.write_text(DESK_FILE)
    result = CliRunner().invoke(
        cli, ["scenario", "run", str(path), "--seed", "4", "--now", "2024-07-25T08:00:00Z", "--format", "jsonl"]
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    check_chain(events)
    kinds = [e["event_type"] for e in events]
    assert kinds == [
        "Class.Schedule.Created",
        "Guest.Created",
        "Guest.Created",
        "Guest.Created",
        "Class.Booking.Created",
        "Class.Booking.Created",
        "Class.Schedule.Updated",
        "Class.Booking.Approved",
        "Class.Booking.Created",
        "Class.Booking.Created",
        "Class.Booking.Deleted",
        "Class.Booking.Rejected",
        "Class.Booking.Cancelled",
        "Class.Booking.Cancelled",
        "Class.Schedule.Cancelled",
        "Class.Schedule.Deleted",
        "Guest.Membership.Created",
        "Guest.Package.Created",
        "Guest.Package.StatusUpdate",
        "AppointmentGroup.Created",
        "AppointmentGroup.Status",
        "Appointment.Started",
        "Appointment.Completed",
        "Invoice.Closed",
        "AppointmentGroup.Status",
        "Appointment.Feedback.V1",
    ]
    data = [e["data"] for e in events]
    ann, ben, cat = (d["id"] for d in data[1:4])
    assert data[6]["capacity"] == 2 and (data[7]["guest_id"], data[7]["registration_id"]) == (
        ann,
        data[5]["registration_id"],
    )
    assert [data[i]["guest_id"] for i in (8, 9, 10, 11)] == [
        ben,
        cat,
        cat,
        ben,
    ]  # ben and cat wait; cat deleted, ben rejected
    assert {data[12]["guest_id"], data[13]["guest_id"]} == {
        data[4]["guest_id"],
        ann,
    }  # the seated ones, cancelled with the class
    assert (
        data[16]["guest_id"] == ann and data[16]["recurrence_status"] == -1 and data[16]["next_collection_date"] is None
    )
    assert data[18]["user_package_id"] == data[17]["user_package_id"] and data[18]["user_package_state"] == 0
    assert data[24]["appointment_group_status"] == 1  # paid at check-out: closed
    assert data[25]["rating_value"] == {"service": 1, "therapist": 1, "ambience": 1, "cleanliness": 1}
    assert data[25]["user_id"] == cat.upper()


MISTAKES = [
    ('[[step]]\ndo = "explode"\n', "step 1: do: 'explode' is not an action"),
    ('[[step]]\ndo = "create_guest"\ncolour = "red"\n', "step 1 (create_guest): colour: unknown parameter"),
    ('[[step]]\ndo = "book"\nservices = 0\n', "step 1 (book): services: 0 must be a whole number from 1 to 8"),
    ('[[step]]\ndo = "book"\nservices = "two"\n', "step 1 (book): services: 'two' must be a whole number"),
    (
        '[[step]]\ndo = "book"\n[[step]]\ndo = "check_in"\nafter = "soon"\n',
        "step 2 (check_in): after: 'soon' is not a duration",
    ),
    (
        '[[step]]\ndo = "book"\n[[step]]\ndo = "check_in"\nat = "lunch+5m"\n',
        "step 2 (check_in): at: 'lunch+5m' is not ANCHOR",
    ),
    ('[[step]]\ndo = "create_guest"\nat = "start"\n', "step 1 (create_guest): at: start is no anchor of this action"),
    ('[[step]]\ndo = "confirm"\n', "step 1 (confirm): group: no group 'group' is booked above"),
    ('[[step]]\ndo = "book"\nguest = "zoe"\n', "step 1 (book): guest: no guest 'zoe' is created above"),
    (
        '[[step]]\ndo = "book"\n[[step]]\ndo = "start"\nappointment = 3\n',
        "step 2 (start): appointment: group 'group' has 1",
    ),
    ('[[step]]\ndo = "book"\nset = "x"\n', "step 1 (book): set: must be a table"),
    ('[[step]]\ndo = "book"\nset = { "data..x" = 1 }\n', "step 1 (book): set: Malformed override path"),
    ('[[step]]\ndo = "book"\nafter = "400d"\n', "step 1 (book): after: '400d' is longer than 60 days"),
    ('colour = 1\n[[step]]\ndo = "book"\n', "top level: colour: unknown key"),
    ('description = "nothing"\n', "top level: step: a scenario needs at least one [[step]]"),
    ('[[step]\ndo = "book"\n', "not valid TOML"),
    # mistakes only the world finds: the step still names itself
    (
        '[[step]]\ndo = "book"\n[[step]]\ndo = "cancel"\n[[step]]\ndo = "check_in"\n',
        "step 3 (check_in): do: group 'group' is cancelled; Zenoti does not move it to checked in",
    ),
    (
        '[[step]]\ndo = "book"\n[[step]]\ndo = "start"\n',
        "step 2 (start): do: an appointment starts once, after its group is checked in",
    ),
    ('[[step]]\ndo = "book"\n[[step]]\ndo = "refund"\n', "step 2 (refund): do: only a closed invoice is refunded"),
    ('[[step]]\ndo = "book"\ncenter = 40\n', "step 1 (book): center: this world has 6 centers"),
    (
        '[[step]]\ndo = "book"\n[[step]]\ndo = "check_in"\n[[step]]\ndo = "serve"\n[[step]]\ndo = "set_status"\n',
        "step 4: do: 'set_status' is not an action",
    ),
    # feedback, classes, memberships, packages: the file's mistakes...
    (
        '[[step]]\ndo = "book"\n[[step]]\ndo = "feedback"\nscore = 6\n',
        "step 2 (feedback): score: 6 must be a whole number from 1 to 5",
    ),
    (
        '[[step]]\ndo = "schedule_class"\ncapacity = 0\n',
        "step 1 (schedule_class): capacity: 0 must be a whole number from 1 to 200",
    ),
    (
        '[[step]]\ndo = "book_class"\nclass = "yoga"\n',
        "step 1 (book_class): class: no class 'yoga' is scheduled above (a schedule_class step names it with as)",
    ),
    (
        '[[step]]\ndo = "schedule_class"\n[[step]]\ndo = "cancel_class_booking"\n',
        "step 2 (cancel_class_booking): booking: no booking 'booking' is made above (a book_class step names it with as)",
    ),
    (
        '[[step]]\ndo = "schedule_class"\n[[step]]\ndo = "update_class"\nadd_seats = 0\n',
        "step 2 (update_class): add_seats: 0 must be a whole number from 1 to 50",
    ),
    (
        '[[step]]\ndo = "schedule_class"\n[[step]]\ndo = "book_class"\n[[step]]\ndo = "take_attendance"\nno_shows = "booking"\n',
        "step 3 (take_attendance): no_shows: must be a list of booking names",
    ),
    (
        '[[step]]\ndo = "schedule_class"\n[[step]]\ndo = "take_attendance"\nno_shows = ["zed"]\n',
        "step 2 (take_attendance): no_shows: 'zed' is no booking of class 'class' made above",
    ),
    (
        '[[step]]\ndo = "freeze_membership"\n',
        "step 1 (freeze_membership): membership: no membership 'membership' is created above (a create_membership step names it with as)",
    ),
    (
        '[[step]]\ndo = "create_membership"\nrecurring = "yes"\n',
        "step 1 (create_membership): recurring: must be true or false",
    ),
    (
        '[[step]]\ndo = "create_membership"\n[[step]]\ndo = "freeze_membership"\ndays = 0\n',
        "step 2 (freeze_membership): days: 0 must be a whole number from 1 to 365",
    ),
    (
        '[[step]]\ndo = "create_membership"\n[[step]]\ndo = "freeze_membership"\nat = "start"\n',
        "step 2 (freeze_membership): at: start is no anchor of this action; it has none (use after)",
    ),
    (
        '[[step]]\ndo = "book"\npackage = "p"\n',
        "step 1 (book): package: no package 'p' is sold above (a create_package step names it with as)",
    ),
    (
        '[[step]]\ndo = "create_package"\n[[step]]\ndo = "book"\npackage = "package"\nadd_ons = 1\n',
        "step 2 (book): add_ons: a package's visit books the services it covers, without add-ons",
    ),
    (
        '[[step]]\ndo = "create_package"\n[[step]]\ndo = "extend_package"\ndays = 400\n',
        "step 2 (extend_package): days: 400 must be a whole number from 1 to 365",
    ),
    # ...and what the world refuses
    (
        '[[step]]\ndo = "book"\n[[step]]\ndo = "feedback"\n',
        "step 2 (feedback): do: feedback follows a visit whose every appointment is completed",
    ),
    (
        '[[step]]\ndo = "schedule_class"\n[[step]]\ndo = "book_class"\n[[step]]\ndo = "take_attendance"\n',
        "step 3 (take_attendance): at: attendance is taken once the class has started",
    ),
    (
        '[[step]]\ndo = "schedule_class"\n[[step]]\ndo = "book_class"\n[[step]]\ndo = "book_class"\nas = "again"\n',
        "step 3 (book_class): guest: guest 'guest' already has a booking of this class",
    ),
    (
        '[[step]]\ndo = "schedule_class"\n[[step]]\ndo = "book_class"\nat = "start-10m"\n',
        "step 2 (book_class): class: class 'class' takes bookings until 30 minutes before it starts",
    ),
    (
        '[[step]]\ndo = "schedule_class"\n[[step]]\ndo = "cancel_class"\n[[step]]\ndo = "book_class"\n',
        "step 3 (book_class): class: class 'class' is cancelled",
    ),
    (
        '[[step]]\ndo = "schedule_class"\n[[step]]\ndo = "close_waitlist"\n',
        "step 2 (close_waitlist): do: nobody waits for a seat of class 'class'",
    ),
    (
        '[[step]]\ndo = "schedule_class"\ncapacity = 1\n[[step]]\ndo = "book_class"\n[[step]]\ndo = "create_guest"\nas = "ann"\n'
        '[[step]]\ndo = "book_class"\nguest = "ann"\nas = "ann"\n[[step]]\ndo = "take_attendance"\nat = "start+5m"\n',
        "step 5 (take_attendance): do: guests still wait for a seat: close the waitlist first (close_waitlist)",
    ),
    (
        '[[step]]\ndo = "schedule_class"\n[[step]]\ndo = "book_class"\n[[step]]\ndo = "cancel_class_booking"\n'
        '[[step]]\ndo = "cancel_class_booking"\n',
        "step 4 (cancel_class_booking): booking: booking 'booking' is cancelled; only a seated",
    ),
    (
        '[[step]]\ndo = "schedule_class"\n[[step]]\ndo = "book_class"\n[[step]]\ndo = "cancel_class_booking"\n'
        '[[step]]\ndo = "take_attendance"\nat = "start+5m"\nno_shows = ["booking"]\n',
        "step 4 (take_attendance): no_shows: booking 'booking' holds no seat of this class (it is cancelled)",
    ),
    (
        '[[step]]\ndo = "create_membership"\n[[step]]\ndo = "unfreeze_membership"\n',
        "step 2 (unfreeze_membership): do: membership 'membership' is active; only a frozen membership is unfrozen",
    ),
    (
        '[[step]]\ndo = "create_membership"\n[[step]]\ndo = "cancel_membership"\n[[step]]\ndo = "freeze_membership"\n',
        "step 3 (freeze_membership): do: membership 'membership' is cancelled; only an active membership is frozen",
    ),
    (
        '[[step]]\ndo = "create_package"\n[[step]]\ndo = "book"\npackage = "package"\n[[step]]\ndo = "redeem_package"\n',
        "step 3 (redeem_package): do: a package is redeemed at check-out: close the group's invoice first",
    ),
    (
        '[[step]]\ndo = "create_package"\n[[step]]\ndo = "book"\npackage = "package"\n[[step]]\ndo = "reverse_redemption"\n',
        "step 3 (reverse_redemption): group: no redemption of group 'group' from package 'package' is left to reverse",
    ),
    (
        '[[step]]\ndo = "create_guest"\nas = "ann"\n[[step]]\ndo = "create_package"\n[[step]]\ndo = "book"\nguest = "ann"\n'
        'package = "package"\n',
        "step 3 (book): guest: package 'package' was sold to another guest",
    ),
    (
        '[[step]]\ndo = "create_package"\n[[step]]\ndo = "close_package"\n[[step]]\ndo = "close_package"\n',
        "step 3 (close_package): package: package 'package' is closed",
    ),
]


@pytest.mark.parametrize(("text", "expected"), MISTAKES)
def test_each_kind_of_mistake_is_one_line_naming_file_step_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["scenario", "run", str(path), "--seed", "1", "--now", "2024-07-25T08:00:00Z"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"Error: {path}: "), lines[0]
    assert expected in lines[0], lines[0]


def test_missing_files_and_unknown_names_are_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["scenario", "show", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2 and "no such scenario file" in missing.stderr
    unknown = runner.invoke(cli, ["scenario", "show", "guest-night"])
    assert unknown.exit_code == 2 and "built-in ones are class-day, guest-day" in unknown.stderr
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 300_000)
    assert "larger than 256 KiB" in runner.invoke(cli, ["scenario", "run", str(big)]).stderr
    many = "".join('[[step]]\ndo = "create_guest"\n' for _ in range(201))
    with pytest.raises(UsageError, match="201 steps; at most 200"):
        parse(many, name="many", source="many.toml")


def test_list_and_show_tell_the_steps_their_times_types_and_links() -> None:
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["scenario", "list", "--json"]).stdout)
    assert [row["name"] for row in listed] == sorted(BUILTINS)
    shown = runner.invoke(
        cli, ["scenario", "show", "reschedule", "--seed", "2", "--now", "2024-07-25T08:00:00Z", "--json"]
    )
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.stdout)["events"]
    assert [r["do"] for r in rows][:3] == ["book", "book", "cancel"]
    assert rows[1]["rebooked_from"] == rows[0]["group"] == rows[2]["group"]
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    table = runner.invoke(cli, ["scenario", "show", "guest-day", "--seed", "2", "--now", "2024-07-25T08:00:00Z"])
    assert "Guest.Created" in table.stdout and "close_invoice" in table.stdout
    shown = runner.invoke(
        cli, ["scenario", "show", "class-day", "--seed", "2", "--now", "2024-07-25T08:00:00Z", "--json"]
    )
    rows = json.loads(shown.stdout)["events"]
    session = rows[0]["session"]
    assert [r["booking"] for r in rows if r["event_type"] == "Class.Booking.Approved"] == [rows[5]["booking"]]
    table = runner.invoke(cli, ["scenario", "show", "class-day", "--seed", "2", "--now", "2024-07-25T08:00:00Z"])
    assert f"class {session}" in table.stdout and f"booking {rows[5]['booking']}" in table.stdout  # the "other" column


# -- disorder --------------------------------------------------------------------------------


def _story(n: int = 40) -> list[tuple[datetime, dict[str, Any]]]:
    return [(NOW + timedelta(minutes=5 * i), {"id": f"e{i}", "n": i}) for i in range(n)]


@pytest.mark.parametrize("seed", range(6))
def test_disorder_is_exactly_what_its_report_says_and_loses_nothing(seed: int) -> None:
    story = _story()
    spec = Disorder(duplicates=0.2, reorder=0.15, delay=0.1, seed=seed)
    out, report = disorder(story, spec)
    positions = [d.index for d in out]
    assert positions == report.order
    # every event at least once; exactly the reported ones twice, as the very same object (same bytes)
    counts = {i: positions.count(i) for i in range(len(story))}
    assert all(c >= 1 for c in counts.values())
    assert sorted(i for i, c in counts.items() if c == 2) == report.duplicated
    assert len(out) == len(story) + len(report.duplicated)
    for index in report.duplicated:
        first, second = (d for d in out if d.index == index)
        assert json.dumps(first.event) == json.dumps(second.event) and first.event["id"] == f"e{index}"
    # each reordered event is overtaken by the one after it
    first_at = {i: positions.index(i) for i in range(len(story))}
    for index in report.reordered:
        assert first_at[index] > first_at[index + 1]
    # an event neither reordered nor delayed, nor overtaking because of one, keeps its place
    moved = set(report.reordered) | set(report.delayed)
    calm = [i for i in range(len(story)) if i not in moved]
    assert [first_at[i] for i in calm] == sorted(first_at[i] for i in calm)
    # the same seed replays the same order; the rates say how much happens
    assert disorder(story, spec)[1].order == report.order
    assert report.duplicated and report.reordered


def test_disorder_seeds_differ_and_rates_bound_it() -> None:
    story = _story()
    orders = {tuple(disorder(story, Disorder(reorder=0.3, seed=s))[1].order) for s in range(5)}
    assert len(orders) == 5
    none, report = disorder(story, Disorder(seed=3))
    assert [d.index for d in none] == list(range(len(story))) and not report.duplicated
    everything, report = disorder(story, Disorder(duplicates=1.0, seed=3))
    assert len(everything) == 2 * len(story)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("shuffle=0.1", "is not one of duplicates, reorder, delay"),
        ("duplicates=2", "from 0 to 1"),
        ("reorder=lots", "is not a number"),
        ("", "needs a kind"),
    ],
)
def test_bad_disorder_is_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_disorder(text, 1)
    result = CliRunner().invoke(cli, ["scenario", "run", "no-show", "--seed", "1", "--disorder", text])
    assert result.exit_code == 2 and message in result.stderr


def test_a_disorder_seed_without_disorder_is_refused() -> None:
    result = CliRunner().invoke(cli, ["scenario", "run", "no-show", "--seed", "1", "--disorder-seed", "4"])
    assert result.exit_code == 2 and "give --disorder too" in result.stderr


def test_disorder_delivers_to_a_receiver_as_reported(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    with Receiver() as rx:
        result = CliRunner().invoke(
            cli,
            [
                "scenario",
                "run",
                "guest-day",
                "--seed",
                "9",
                "--now",
                "2024-07-25T08:00:00Z",
                "-t",
                rx.url,
                "--disorder",
                "duplicates=0.4,reorder=0.3",
                "--db",
                str(db),
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
        summary, disordered = (json.loads(line) for line in result.stdout.splitlines())
        report = disordered["disorder"]
        rx.wait_for(report["deliveries"])
    played = events_of("guest-day", 9)
    received = [json.loads(r.body) for r in rx.requests]
    assert [e["id"] for e in received] == [played[i]["id"] for i in report["order"]]
    assert {e["id"] for e in received} == {e["id"] for e in played}  # nothing lost
    assert summary["events"] == report["deliveries"] == len(played) + len(report["duplicated"])
    for index in report["duplicated"]:
        copies = [r.body for r in rx.requests if json.loads(r.body)["id"] == played[index]["id"]]
        assert len(copies) == 2 and copies[0] == copies[1]
    assert "Disorder duplicates=0.4,reorder=0.3 (seed 9)" in result.stderr


def test_the_same_disorder_seed_replays_the_same_deliveries() -> None:
    args = [
        "scenario",
        "run",
        "refund",
        "--seed",
        "2",
        "--now",
        "2024-07-25T08:00:00Z",
        "--format",
        "jsonl",
        "--disorder",
        "duplicates=0.3,reorder=0.3,delay=0.3",
    ]
    one, two = (
        CliRunner().invoke(cli, [*args, "--disorder-seed", "11"]),
        CliRunner().invoke(cli, [*args, "--disorder-seed", "11"]),
    )
    other = CliRunner().invoke(cli, [*args, "--disorder-seed", "12"])
    assert one.exit_code == 0, one.output
    assert one.stdout == two.stdout and one.stderr == two.stderr
    assert one.stdout != other.stdout


# -- pacing ----------------------------------------------------------------------------------


def test_a_scenario_is_paced_on_its_own_clock() -> None:
    run = stage(load("walk-in"), seed=1, now=NOW)
    clock = FakeClock()
    sent = [
        (clock.now, d) for d in paced(run.deliveries, 60.0, clock=clock.time, sleep=clock.sleep, when=lambda d: d.due)
    ]
    first = run.deliveries[0].due
    for at, delivery in sent:
        assert at - sent[0][0] == pytest.approx((delivery.due - first).total_seconds() / 60.0)
    assert sum(clock.slept) == pytest.approx((run.deliveries[-1].due - first).total_seconds() / 60.0)


def test_disordered_deliveries_are_paced_by_when_they_fall_due() -> None:
    run = stage(load("guest-day"), seed=4, now=NOW, disorder=Disorder(delay=0.5, duplicates=0.5, seed=4))
    clock = FakeClock()
    list(paced(run.deliveries, 3600.0, clock=clock.time, sleep=clock.sleep, when=lambda d: d.due))
    span = (run.deliveries[-1].due - run.deliveries[0].due).total_seconds()
    assert sum(clock.slept) == pytest.approx(span / 3600.0)
    assert [d.due for d in run.deliveries] == sorted(d.due for d in run.deliveries)


def test_a_delivered_run_is_logged_with_its_deliveries_and_disorder(tmp_path: Path) -> None:
    db = str(tmp_path / "log.sqlite3")
    runner = CliRunner()
    with Receiver() as rx:
        result = runner.invoke(
            cli,
            [
                "scenario",
                "run",
                "no-show",
                "--seed",
                "2",
                "--now",
                "2024-07-25T08:00:00Z",
                "-t",
                rx.url,
                "--db",
                db,
                "--disorder",
                "duplicates=1",
            ],
        )
        assert result.exit_code == 0, result.output
        assert "logged as run 1" in result.stderr
    runs = json.loads(runner.invoke(cli, ["scenario", "runs", "--db", db, "--json"]).stdout)
    assert len(runs) == 1 and runs[0]["scenario"] == "no-show" and runs[0]["seed"] == 2
    assert len(runs[0]["delivery_ids"]) == 6 and runs[0]["disorder"]["duplicated"] == [0, 1, 2]
    listed = runner.invoke(cli, ["scenario", "runs", "--db", db])
    assert "no-show (seed 2)  6 deliveries" in listed.stdout and "duplicates=1" in listed.stdout


def test_run_writes_a_file_and_says_what_it_holds(tmp_path: Path) -> None:
    out = tmp_path / "walk-in.jsonl"
    result = CliRunner().invoke(
        cli, ["scenario", "run", "walk-in", "--seed", "1", "--now", "2024-07-25T08:00:00Z", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote 7 event(s) of scenario walk-in (seed 1) to {out}." in result.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [
        e["id"] for e in events_of("walk-in", 1)
    ]
