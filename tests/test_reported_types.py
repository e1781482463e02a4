"""The reported types (Guest.Merged, AppointmentGroup.Updated, AppointmentGroup.Delete),
proved from the events alone, and the variant that turns them off.

- a merged guest is never named by a later event; the survivor is a guest that exists;
- an Updated group was created before, carries Created's fields, and shows the group as
  it now stands (later events name the new therapist);
- a deleted group's appointments are the ones booked, and nothing follows for it;
- ``reported-events=off`` is the same stream without those three types, byte for byte;
- ``event-types`` marks them as reported, in text and JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emulator.errors import UsageError
from emulator.events.generate import generate_events, simulate_events
from emulator.events.registry import default_registry
from emulator.world.actions import reported

NOW = datetime(2024, 7, 25, 8, tzinfo=UTC)
REPORTED = {"Guest.Merged", "AppointmentGroup.Updated", "AppointmentGroup.Delete"}
CLI = str(Path(sys.executable).with_name("zenoti-emulator"))
_CACHE: dict[tuple[Any, ...], list[dict[str, Any]]] = {}


def stream(seed: int, profile: str, days: float = 4.0, **variants: str) -> list[dict[str, Any]]:
    key = (seed, profile, days, tuple(sorted(variants.items())))
    if key not in _CACHE:
        _CACHE[key] = list(simulate_events(seed=seed, now=NOW, days=days, profile=profile, variants=variants or None))
    return _CACHE[key]


def guest_ids(node: Any) -> set[str]:
    """Every id a receiver would read as a guest's."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("guest_id", "user_id", "userid") and isinstance(value, str):
                found.add(value.lower())
            elif key == "guest" and isinstance(value, dict) and isinstance(value.get("id"), str):
                found.add(value["id"].lower())
            found |= guest_ids(value)
    elif isinstance(node, list):
        for value in node:
            found |= guest_ids(value)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["realistic", "edge"])
@pytest.mark.parametrize("seed", [2, 6, 10])
def test_a_merged_guest_is_never_named_again_and_the_survivor_exists(seed: int, profile: str) -> None:
    events = stream(seed, profile)
    merges = [(i, e["data"]) for i, e in enumerate(events) if e["event_type"] == "Guest.Merged"]
    assert merges, "a few days see a merge"
    for index, data in merges:
        gone = data["merged_guest_id"].lower()
        assert data["guest"]["id"].lower() != gone
        for later in events[index + 1 :]:
            named = guest_ids(later["data"]) | (
                {later["data"]["id"].lower()}
                if later["event_type"].startswith("Guest.") and isinstance(later["data"].get("id"), str)
                else set()
            )
            assert gone not in named, f"{later['event_type']} names merged guest {gone}"
    for number, (_, data) in enumerate(merges):
        earlier = {d["merged_guest_id"] for _, d in merges[:number]}
        assert data["guest"]["id"] not in earlier, "a survivor is a guest that still exists"


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["realistic", "edge"])
@pytest.mark.parametrize("seed", [2, 6, 10])
def test_updated_groups_were_booked_before_and_later_events_show_the_edit(seed: int, profile: str) -> None:
    events = stream(seed, profile)
    created = {
        e["data"]["appointment_group_id"]: e["data"] for e in events if e["event_type"] == "AppointmentGroup.Created"
    }
    updates = [e["data"] for e in events if e["event_type"] == "AppointmentGroup.Updated"]
    assert updates
    moved = 0
    for data in updates:
        group = data["appointment_group_id"]
        assert group in created, "an edit names a group booked earlier in the stream"
        before = created[group]
        assert set(data) == set(before)
        assert [a["id"] for a in data["appointments"]] == [a["id"] for a in before["appointments"]]
        therapists = {a["id"]: a["therapist_id"] for a in data["appointments"]}
        if therapists != {a["id"]: a["therapist_id"] for a in before["appointments"]}:
            moved += 1
            for later in events:
                if later["event_type"] == "Appointment.Started" and later["data"]["appointment_group_id"] == group:
                    (shown,) = later["data"]["appointments"]
                    assert shown["TherapistId"] == therapists[shown["id"]]
    assert moved, "most edits move a service to another therapist"


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["realistic", "edge"])
@pytest.mark.parametrize("seed", [2, 6, 10])
def test_status_0_comes_only_after_an_edit_of_a_confirmed_group(seed: int, profile: str) -> None:
    events = stream(seed, profile)
    edited: set[str] = set()
    for event in events:
        data = event["data"]
        if event["event_type"] == "AppointmentGroup.Updated":
            edited.add(data["appointment_group_id"])
        elif event["event_type"] == "AppointmentGroup.Status" and data["appointment_group_status"] == 0:
            assert data["appointment_group_id"] in edited


def test_status_0_is_sent_over_several_seeds() -> None:
    zeros = sum(
        1
        for seed in (2, 6, 10)
        for e in stream(seed, "realistic")
        if e["event_type"] == "AppointmentGroup.Status" and e["data"]["appointment_group_status"] == 0
    )
    assert zeros > 0


@pytest.mark.parametrize("profile", ["realistic", "edge"])
@pytest.mark.parametrize("seed", [2, 6, 10])
def test_a_deleted_group_is_one_event_per_booked_appointment_and_then_silence(seed: int, profile: str) -> None:
    events = stream(seed, profile)
    created = {
        e["data"]["appointment_group_id"]: e["data"] for e in events if e["event_type"] == "AppointmentGroup.Created"
    }
    deletes = [(i, e["data"]) for i, e in enumerate(events) if e["event_type"] == "AppointmentGroup.Delete"]
    by_group: dict[str, list[str]] = {}
    for _, data in deletes:
        by_group.setdefault(data["appointment_group_id"], []).append(data["appointment_id"])
    for group, appointments in by_group.items():
        if group in created:
            assert appointments == [a["id"] for a in created[group]["appointments"]]
    last = {group: max(i for i, d in deletes if d["appointment_group_id"] == group) for group in by_group}
    for group, index in last.items():
        after = [e for e in events[index + 1 :] if e["data"].get("appointment_group_id") == group]
        assert after == [], f"{after[0]['event_type']} after group {group} was deleted"
    if profile == "realistic":
        assert deletes


@pytest.mark.parametrize("profile", ["realistic", "edge"])
@pytest.mark.parametrize("seed", [2, 6])
def test_reported_events_off_is_the_same_stream_without_those_types(seed: int, profile: str) -> None:
    on = stream(seed, profile)
    off = stream(seed, profile, **{"reported-events": "off"})
    assert Counter(e["event_type"] for e in on) & Counter(dict.fromkeys(REPORTED, 1)), "on sends them"
    assert off == [e for e in on if e["event_type"] not in REPORTED]


@pytest.mark.slow
def test_every_reported_event_validates_and_is_marked_reported() -> None:
    registry = default_registry()
    seen = Counter()
    for seed in (2, 6):
        for event in stream(seed, "realistic") + stream(seed, "edge"):
            if event["event_type"] in REPORTED:
                assert registry[event["event_type"]].is_valid(event)
                seen[event["event_type"]] += 1
    assert set(seen) == REPORTED
    assert {name for name, kind in registry.items() if kind.reported} == REPORTED


def test_asking_only_for_a_type_the_variant_turns_off_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="reported-events=off"):
        generate_events("Guest.Merged", count=1, seed=1, now=NOW, variants={"reported-events": "off"})
    (merged,) = generate_events("Guest.Merged", count=1, seed=1, now=NOW)
    assert merged["data"]["merged_guest_id"] != merged["data"]["guest"]["id"]


def test_event_types_marks_the_reported_ones() -> None:
    listed = json.loads(
        subprocess.run([CLI, "event-types", "--json"], capture_output=True, text=True, check=True).stdout
    )
    assert {row["name"] for row in listed if row["reported"]} == REPORTED
    assert all(row["sample"] for row in listed if not row["reported"])
    text = subprocess.run([CLI, "event-types"], capture_output=True, text=True, check=True).stdout
    assert all("reported" in line for line in text.splitlines() if line.split()[0] in REPORTED)
    done = subprocess.run(
        [CLI, "generate", "Guest.Merged", "--variant", "reported-events=off"], capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stderr.count("Error:") == 1 and "reported-events=off" in done.stderr


def center_ids(node: Any) -> set[str]:
    """Every center an event names."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "center_id" and isinstance(value, str):
                found.add(value.lower())
            found |= center_ids(value)
    elif isinstance(node, list):
        for value in node:
            found |= center_ids(value)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["realistic", "edge"])
@pytest.mark.parametrize("seed", [2, 6, 10])
def test_merges_and_edits_come_at_their_documented_rates(seed: int, profile: str) -> None:
    # docs/assumptions.md: about 0.3 merges a day per center; 6 % of the groups that will be
    # visited or missed are edited (so a little under 6 % of all groups created). The bounds
    # are the documented rate divided and multiplied by 2.5, as for the invoice paths.
    days = 14
    events = stream(seed, profile, days)
    counts = Counter(e["event_type"] for e in events)
    centers = set().union(*(center_ids(e["data"]) for e in events))
    merges_per_center_day = counts["Guest.Merged"] / (len(centers) * days)
    assert reported.MERGES_PER_DAY / 2.5 <= merges_per_center_day <= reported.MERGES_PER_DAY * 2.5, (
        merges_per_center_day
    )
    edited = counts["AppointmentGroup.Updated"] / counts["AppointmentGroup.Created"]
    assert reported.EDIT_SHARE / 2.5 <= edited <= reported.EDIT_SHARE * 2.5, edited
