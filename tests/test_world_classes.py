"""Class schedules and bookings add up, over long simulations, on the events alone.

A receiver that keeps a class roster is a state machine over ``Class.Schedule.*`` and
``Class.Booking.*``; these are the promises it may rely on (and the samples' habits).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from emulator.cli import cli
from emulator.events.generate import simulate_events

from .conftest import ROOT

# Its tests share module fixtures (built worlds, a server, a browser): `make test` keeps them on
# one xdist worker (tests/conftest.py), which builds each once and runs them in order.
pytestmark = pytest.mark.xdist_group("test_world_classes")

NOW = datetime(2024, 7, 25, 14, 52, 6, tzinfo=UTC)
DAYS = 14
CLASS_TYPES = [
    "Class.Schedule.Created",
    "Class.Schedule.Updated",
    "Class.Schedule.Cancelled",
    "Class.Schedule.Deleted",
    "Class.Booking.Created",
    "Class.Booking.Cancelled",
    "Class.Booking.Deleted",
    "Class.Booking.NoShow",
    "Class.Booking.Approved",
    "Class.Booking.Rejected",
]


def fired(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["event_timestamp"][:26]).replace(tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(
    scope="module",
    params=[("realistic", s) for s in range(4)] + [("edge", 0), ("edge", 1)],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def run(request: pytest.FixtureRequest) -> tuple[Any, list[dict[str, Any]]]:
    profile, seed = request.param
    stream = simulate_events(seed=seed, now=NOW, days=DAYS, profile=profile)
    return stream, list(stream)


def sample(name: str) -> dict[str, Any]:
    slug = {"NoShow": "no-show"}.get(name.rsplit(".", 1)[1], name.rsplit(".", 1)[1].lower())
    part = name.split(".")[1].lower()
    return json.loads((ROOT / "fixtures" / "docs" / f"class-{part}-{slug}.json").read_text())


@pytest.mark.slow
def test_bookings_are_for_open_sessions_within_capacity_by_guests_who_exist(run):
    _, events = run
    sessions: dict[int, dict[str, Any]] = {}
    bookings: dict[int, dict[str, Any]] = {}
    deleted_guests: set[str] = set()
    seen = {name: 0 for name in CLASS_TYPES}

    def live(sid: int) -> list[dict[str, Any]]:
        return [b for b in bookings.values() if b["sid"] == sid and b["state"] in ("seated", "waiting")]

    for event in events:
        kind, data, when = event["event_type"], event["data"], fired(event)
        if kind == "Guest.Deleted":
            deleted_guests.add(data["id"])
            # Nobody with a class ahead is deleted (a session's roster is settled by its no-shows).
            assert not any(
                b["guest"] == data["id"] and b["state"] in ("seated", "waiting") and sessions[b["sid"]]["start"] > when
                for b in bookings.values()
            )
        if not kind.startswith("Class."):
            continue
        seen[kind] += 1
        if kind.startswith("Class.Schedule."):
            sid = data["sesion_id"]
            assert at(data["end_time"]) - at(data["start_time"]) == timedelta(minutes=data["duration_in_mins"])
            assert 0 <= data["web_capacity"] <= data["capacity"]
            if kind == "Class.Schedule.Created":
                assert sid not in sessions and at(data["start_time"]) > when
                sessions[sid] = {
                    "state": "scheduled",
                    "capacity": data["capacity"],
                    "center": data["center_id"],
                    "start": at(data["start_time"]),
                }
                continue
            session = sessions[sid]
            if kind == "Class.Schedule.Updated":
                assert session["state"] == "scheduled" and when < session["start"]
                assert data["capacity"] >= len([b for b in live(sid) if b["state"] == "seated"])
                session["capacity"] = data["capacity"]
            elif kind == "Class.Schedule.Cancelled":
                assert session["state"] == "scheduled" and not live(sid)  # its bookings were cancelled first
                session["state"] = "cancelled"
            else:
                assert session["state"] in ("scheduled", "cancelled") and not live(sid)
                session["state"] = "deleted"
            continue
        sid, reg = data["session_id"], data["registration_id"]
        session = sessions[sid]  # a booking names a session that was scheduled
        assert session["state"] == "scheduled", f"{kind} after the session was {session['state']}"
        assert data["center_id"] == session["center"] and data["guest_id"] not in deleted_guests
        seated = len([b for b in live(sid) if b["state"] == "seated"])
        if kind == "Class.Booking.Created":
            assert reg not in bookings and when < session["start"]
            assert data["guest_id"] not in {b["guest"] for b in live(sid)}
            assert data["waitlist"] is (seated >= session["capacity"])  # the waitlist is for full sessions
            bookings[reg] = {
                "sid": sid,
                "guest": data["guest_id"],
                "state": "waiting" if data["waitlist"] else "seated",
            }
        else:
            booking = bookings[reg]
            assert booking["sid"] == sid and booking["guest"] == data["guest_id"]
            if kind == "Class.Booking.Approved":
                assert booking["state"] == "waiting" and seated < session["capacity"]
                booking["state"] = "seated"
            elif kind == "Class.Booking.Rejected":
                assert booking["state"] == "waiting" and when < session["start"]
                booking["state"] = "rejected"
            elif kind == "Class.Booking.NoShow":
                assert booking["state"] == "seated" and when > session["start"]
                booking["state"] = "no_show"
            else:
                assert booking["state"] in ("seated", "waiting")
                booking["state"] = kind
        assert len([b for b in live(sid) if b["state"] == "seated"]) <= session["capacity"]
    assert all(seen.values()), seen
    ids = [e["id"] for e in events if e["event_type"].startswith("Class.")]
    assert len(set(ids)) == len(ids)  # each event's key is its own, edits and all


@pytest.mark.slow
def test_classes_happen_mornings_and_evenings_on_the_centers_clock(run):
    stream, events = run
    hours = set()
    for event in events:
        if event["event_type"] == "Class.Schedule.Created":
            zone = stream.world.center_by_id[event["data"]["center_id"]].zone
            local = at(event["data"]["start_time"]).astimezone(zone)
            hours.add(local.hour)
            assert 6 <= local.hour <= 10 or 17 <= local.hour <= 20, local
    assert hours & {6, 7, 8, 9, 10} and hours & {17, 18, 19, 20}


@pytest.mark.parametrize("name", CLASS_TYPES)
def test_each_type_keeps_its_samples_keys_misspellings_and_codes(registry, name):
    published = sample(name)["data"]
    events = list(simulate_events(seed=1, now=NOW, days=6, types=[name]))
    assert events
    known = {path.rsplit(".", 1)[1]: sub.get("x-known-values") for path, sub in registry[name].iter_fields()}
    for event in events:
        data = event["data"]
        assert list(data) == list(published)  # the same keys in the same order: sesion_id, num_occurences...
        assert event["event_resource"] == "Class"
        for key, values in known.items():
            if values and data.get(key) is not None:
                assert data[key] in values, (key, data[key])
        if name.startswith("Class.Booking."):
            # Which fields an event leaves null depends on the event, as in the samples.
            for key in ("add_to_all", "booking_source", "training_virtual_guests", "recurrence_id"):
                if published[key] is None:
                    assert data[key] is None, key
            assert (data["waitlist"] is None) == (published["waitlist"] is None)
            if name.endswith(("Approved", "Rejected")):
                assert data["waitlist"] is True and data["group_invoice_id"] == data["group_invoice_id"].upper()
            assert data["track_id"] == -1 and data["class_id"] == data["workshop_id"]
    if name == "Class.Schedule.Updated":  # an edited session: "" and -1 where a new one has null
        assert {
            (e["data"]["event_id"], e["data"]["description"] is not None, e["data"]["student_virtual_link"])
            for e in events
        } == {(-1, True, "")}
    elif name.startswith("Class.Schedule."):
        assert all(e["data"]["event_id"] is None or e["data"]["event_id"] == -1 for e in events)
    if name == "Class.Booking.Created":
        assert {e["data"]["waitlist"] for e in events} == {False, True}  # seats, and a waitlist when full


def test_class_types_asked_alone_are_the_same_events_as_in_the_whole_world():
    everything = [e for e in simulate_events(seed=5, now=NOW, days=3) if e["event_type"].startswith("Class.")]
    alone = list(simulate_events(seed=5, now=NOW, days=3, types=CLASS_TYPES))
    again = list(simulate_events(seed=5, now=NOW, days=3, types=CLASS_TYPES))
    assert alone == everything == again and len(alone) > 100


def test_the_sessions_of_a_long_run_are_let_go(run):
    """Only sessions that can still be named are kept: they are all ahead of the clock."""
    stream, _ = run
    queued = {id(args[0]) for _, _, step, args in stream.simulation._queue if args and getattr(args[0], "kind", None)}
    studio = stream.world.extra["classes"]
    assert queued and len(studio.timetables) == len(stream.world.centers)
    for _, _, step, args in stream.simulation._queue:
        if getattr(step, "__self__", None) is studio and step.__name__ == "take_attendance":
            assert args[0].start > stream.world.now - timedelta(hours=1)


def test_a_published_data_only_page_validates_with_its_event_type(tmp_path):
    """The Approved page shows only data, with a center_id that is not a GUID (a `t` in it)."""
    runner = CliRunner()
    data = sample("Class.Booking.Approved")["data"]
    (tmp_path / "repaired.json").write_text(json.dumps(data))
    result = runner.invoke(cli, ["validate", "--event-type", "Class.Booking.Approved", str(tmp_path / "repaired.json")])
    assert result.exit_code == 0, result.output
    assert "1 valid" in result.output and "no envelope" in result.output
    broken = dict(data, center_id=data["center_id"].replace("65f3", "65t3"))
    assert broken["center_id"] in (ROOT / "docs" / "assumptions.md").read_text()  # the repair is listed, quoted
    (tmp_path / "published.json").write_text(json.dumps(broken))
    result = runner.invoke(
        cli, ["validate", "--event-type", "Class.Booking.Approved", str(tmp_path / "published.json")]
    )
    assert result.exit_code == 1 and "$.center_id" in result.output


@pytest.mark.parametrize("name", ["Class.Booking.NoShow", "Class.Schedule.Deleted"])
def test_generate_prints_a_class_type(name):
    result = CliRunner().invoke(
        cli, ["generate", name, "-n", "3", "--seed", "2", "--now", "2024-07-25T14:52:06Z", "--format", "jsonl"]
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines()]
    assert [e["event_type"] for e in events] == [name] * 3
