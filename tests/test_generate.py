"""Invariants of generated AppointmentGroup.Created events, over thousands of seeded events."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from emulator.errors import GeneratorBug, PayloadInvalid, SchemaBroken, UsageError
from emulator.events.generate import Generator, generate_events, parse_now
from emulator.events.registry import load_registry, schema_dir
from emulator.world.actions.bookings import ROSTER
from emulator.world.build import build_organization
from emulator.world.randomness import Streams
from emulator.world.timefmt import next_dst_change

# Its tests share module fixtures (built worlds, a server, a browser): `make test` keeps them on
# one xdist worker (tests/conftest.py), which builds each once and runs them in order.
pytestmark = pytest.mark.xdist_group("test_generate")

NOW = datetime(2024, 7, 25, 14, 52, 6, 769417, tzinfo=UTC)
SEEDS = range(8)
PER_SEED = 400  # 3,200 events per profile


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


#: therapist ids by center, as generated() met them
STAFF: dict[str, set[str]] = {}


def generated(registry, profile: str = "realistic", now: datetime = NOW):
    """(event, center) for every event of every seed."""
    kind = registry["AppointmentGroup.Created"]
    for seed in SEEDS:
        gen = Generator(kind, seed=seed, now=now, profile=profile)
        centers = {c.id: c for c in gen.world.centers}
        for event in gen.events(PER_SEED):
            center = centers[event["data"]["center_id"]]
            # who works there: the therapists it was built with and those it hired since
            roster = gen.world.extra.get(ROSTER, {}).get(center.id, ())
            STAFF.setdefault(center.id, set()).update(t.id for t in (*center.therapists, *roster))
            yield event, center


@pytest.fixture(scope="module", params=["realistic", "edge"])
def events(request, registry):
    return list(generated(registry, request.param))


@pytest.mark.slow
def test_ids_are_object_ids_of_the_event_second_event_id_just_before_id(events):
    seen = set()
    for event, _ in events:
        call_id, event_id = event["id"], event["event_id"]
        assert re.fullmatch(r"[0-9a-f]{24}", call_id) and re.fullmatch(r"[0-9a-f]{24}", event_id)
        second = int(parse(event["event_timestamp"][:19]).replace(tzinfo=UTC).timestamp())
        assert int(call_id[:8], 16) == second == int(event_id[:8], 16)
        assert int(call_id, 16) - int(event_id, 16) in (1, 2)
        assert call_id not in seen and event_id not in seen
        seen.update((call_id, event_id))


def test_event_timestamp_has_six_or_seven_fraction_digits_and_z(events):
    shapes = Counter(len(e["event_timestamp"].split(".")[1]) for e, _ in events)
    assert set(shapes) == {7, 8}  # digits plus the Z
    assert all(e["event_timestamp"].endswith("Z") for e, _ in events)


@pytest.mark.slow
def test_end_minus_start_is_the_service_duration(events):
    for event, _ in events:
        for a in event["data"]["appointments"]:
            assert parse(a["end_time"]) - parse(a["start_time"]) == timedelta(minutes=a["service_duration_in_minutes"])


def test_in_center_times_are_the_same_instant_on_the_centers_clock(events):
    for event, center in events:
        zone = ZoneInfo(center.zone_name)
        for a in event["data"]["appointments"]:
            for key in ("start_time", "end_time"):
                wall = parse(a[key]).replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
                assert a[f"{key}_in_center"] == wall.isoformat()


@pytest.mark.slow
def test_appointments_follow_each_other_or_run_in_parallel_and_add_ons_follow_their_parent(events):
    for event, _ in events:
        appointments = event["data"]["appointments"]
        assert not appointments[0]["is_add_on"]
        for before, a in itertools.pairwise(appointments):
            assert before["has_add_ons"] == (a["is_add_on"] and not before["is_add_on"]) or before["is_add_on"]
            if a["is_add_on"]:
                assert a["start_time"] == before["end_time"]
                assert a["therapist_id"] == before["therapist_id"]
                assert before["has_add_ons"] or before["is_add_on"]
            else:
                ends = {x["end_time"] for x in appointments[: appointments.index(a)]}
                starts = {x["start_time"] for x in appointments[: appointments.index(a)] if not x["is_add_on"]}
                assert a["start_time"] in ends | starts
        last = appointments[-1]
        assert not last["has_add_ons"]


def test_created_equals_last_updated_within_a_second_of_the_event_and_before_the_first_start(events):
    for event, _ in events:
        fired = parse(event["event_timestamp"].rstrip("Z")[:26])
        for a in event["data"]["appointments"]:
            assert a["creation_date"] == a["last_updated_on"]
            created = parse(a["creation_date"])
            assert timedelta(0) <= fired - created < timedelta(seconds=1)
        first = min(parse(a["start_time"]) for a in event["data"]["appointments"])
        assert parse(event["data"]["appointments"][0]["creation_date"]) < first


@pytest.mark.slow
def test_a_group_spanning_a_dst_change_starts_after_the_event_even_when_the_change_is_minutes_away(registry):
    kind = registry["AppointmentGroup.Created"]
    checked = 0
    for seed in range(6):
        centers = build_organization(Streams(seed), "edge")[1]
        for change in {next_dst_change(c.zone, NOW) for c in centers} - {None}:
            for lead in (5, 20, 60):  # the event fires this many minutes before the clocks move
                now = change - timedelta(minutes=lead)
                for event in Generator(kind, seed=seed, now=now, profile="edge").events(20):
                    appointments = event["data"]["appointments"]
                    assert appointments[0]["creation_date"] < min(a["start_time"] for a in appointments)
                    checked += 1
    assert checked > 300


@pytest.mark.slow
def test_center_fields_come_from_the_center(events):
    for event, center in events:
        data = event["data"]
        assert data["center_Name"] == center.name
        assert data["invoice_number_prefix"] == center.invoice_prefix
        assert data["invoice_number_prefix"] in ("", None) or re.fullmatch(
            r"[A-Z]{3}\d+", data["invoice_number_prefix"]
        )
        assert re.fullmatch(r"\d+", data["invoice_number"])
        ids = {s.id for s in center.services} | {a.id for s in center.services for a in s.add_ons}
        assert all(a["service_id"] in ids for a in data["appointments"])
        assert all(a["therapist_id"] in STAFF[center.id] for a in data["appointments"])


@pytest.mark.slow
def test_utm_fields_are_sometimes_null(registry):
    data = [e["data"] for e, _ in generated(registry)]
    assert {d["utm_source"] is None for d in data} == {True, False}
    assert {d["utm_medium"] is None for d in data} == {True, False}
    assert all(d["utm_medium"] not in (None, "online") for d in data if d["utm_source"] == "booknow")


def test_business_spans_at_least_three_utc_offsets_in_real_zones(registry):
    for seed in range(30):
        for profile in ("realistic", "edge"):
            centers = build_organization(Streams(seed), profile)[1]
            assert len({NOW.astimezone(ZoneInfo(c.zone_name)).utcoffset() for c in centers}) >= 3
            assert all(c.rooms and c.therapists and c.services for c in centers)


def test_different_seeds_build_different_businesses(registry):
    orgs = {build_organization(Streams(s), "realistic")[0].id for s in range(20)}
    assert len(orgs) == 20


def test_same_seed_and_now_give_identical_events():
    one = json.dumps(list(generate_events(count=200, seed=42, now=NOW)))
    two = json.dumps(list(generate_events(count=200, seed=42, now=NOW)))
    assert one == two


def test_without_now_the_worlds_clock_starts_at_the_real_clock():
    before = datetime.now(UTC)
    first = next(generate_events(count=1, seed=9))
    fired = parse(first["event_timestamp"][:26]).replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= fired < before + timedelta(days=2)


def test_without_a_seed_every_run_differs():
    runs = {json.dumps(next(generate_events(now=NOW))["data"]) for _ in range(5)}
    assert len(runs) == 5


@pytest.mark.slow
def test_edge_profile_has_the_values_receivers_break_on(registry):
    names, nulls, sizes, midnight, dst, offsets = [], Counter(), Counter(), 0, 0, set()
    for event, center in generated(registry, "edge"):
        data = event["data"]
        names += [data["guest"]["first_name"], data["guest"]["last_name"]]
        for key in ("utm_source", "utm_medium", "invoice_number_prefix"):
            nulls[key] += data[key] is None
        nulls["email"] += data["guest"]["email"] in (None, "")
        sizes[len(data["appointments"])] += 1
        offsets.add(NOW.astimezone(ZoneInfo(center.zone_name)).utcoffset().total_seconds() % 3600)
        for a in data["appointments"]:
            midnight += a["start_time_in_center"][:10] != a["end_time_in_center"][:10]
            wall = parse(a["end_time_in_center"]) - parse(a["start_time_in_center"])
            dst += wall != timedelta(minutes=a["service_duration_in_minutes"])
    assert any(any(ord(ch) > 0x2000 for ch in n) for n in names)  # CJK, emoji
    assert any("'" in n for n in names) and any(len(n) > 100 for n in names) and "" in names
    assert all(nulls[key] > 0 for key in ("utm_source", "utm_medium", "invoice_number_prefix", "email"))
    assert max(sizes) >= 12
    assert midnight > 0 and dst > 0
    assert {1800.0, 2700.0} <= offsets  # half- and quarter-hour zones


def test_overrides_set_fields_of_every_event():
    events = list(
        generate_events(
            count=20,
            seed=1,
            now=NOW,
            overrides=[("data.guest.email", None), ("data.appointments.0.room_name", "Suite 4"), ("+data.x_new", 1)],
        )
    )
    assert all(e["data"]["guest"]["email"] is None for e in events)
    assert all(e["data"]["appointments"][0]["room_name"] == "Suite 4" for e in events)
    assert all(e["data"]["x_new"] == 1 for e in events)


def test_an_override_of_a_field_the_event_lacks_is_refused_unless_marked_new():
    with pytest.raises(UsageError, match=r"data has no field 'x_new'\. To add a new field, write \+data\.x_new=VALUE"):
        next(generate_events(seed=1, now=NOW, overrides=[("data.x_new", 1)]))
    with pytest.raises(UsageError, match=r"Did you mean data\.center_Name\?"):
        next(generate_events(seed=1, now=NOW, overrides=[("data.center_name", "Spa")]))


def test_an_override_that_breaks_the_schema_is_refused_with_the_schema_error():
    with pytest.raises(PayloadInvalid) as caught:
        next(generate_events(seed=1, now=NOW, overrides=[("data.appointments.0.start_time", "2024-13-01")]))
    assert caught.value.errors[0][0] == "$.data.appointments[0].start_time"
    assert caught.value.errors[0][1] == "/data/appointments/0/start_time"
    assert "--no-validate" in caught.value.message


def test_no_validate_lets_a_breaking_override_through():
    event = next(generate_events(seed=1, now=NOW, overrides=[("data.invoice_number", 8086)], validate=False))
    assert event["data"]["invoice_number"] == 8086


@pytest.mark.parametrize("path", ["data.appointments.99.room_name", "data.nope.deeper", "data.center_Name.x"])
def test_an_override_of_a_path_that_cannot_exist_is_a_usage_error(path):
    with pytest.raises(UsageError, match="Override"):
        next(generate_events(seed=1, now=NOW, overrides=[(path, 1)]))


def _catalog_copy(tmp_path, edit):
    """A copy of the whole catalog with the AppointmentGroup.Created schema edited."""
    root = tmp_path / "schemas"
    shutil.copytree(schema_dir(), root)
    path = root / "events" / "appointment-group-created.v1.json"
    schema = json.loads(path.read_text())
    edit(schema)
    path.write_text(json.dumps(schema))
    return load_registry(root)["AppointmentGroup.Created"]


def test_a_field_added_to_the_schema_appears_with_no_python_edit(tmp_path):
    def edit(schema):
        data = schema["properties"]["data"]
        data["properties"]["loyalty_tier"] = {
            "type": "string",
            "description": "new",
            "x-faker": 'random_element:["gold","silver"]',
        }
        data["properties"]["points"] = {"type": "integer", "description": "new", "x-choices": [[5, 1], [9, 1]]}
        data["properties"]["guest_phone"] = {
            "type": ["string", "null"],
            "description": "new",
            "x-source": "guest.mobile_text",
        }

    kind = _catalog_copy(tmp_path, edit)
    for event in Generator(kind, seed=3, now=NOW).events(50):
        assert event["data"]["loyalty_tier"] in ("gold", "silver")
        assert event["data"]["points"] in (5, 9)
        assert event["data"]["guest_phone"] == "" or re.fullmatch(r"\+\d+ \d{9,10}", event["data"]["guest_phone"])


def test_a_field_with_no_declared_source_is_refused_not_filled_with_a_default(tmp_path):
    def edit(schema):
        schema["properties"]["data"]["properties"]["points"] = {"type": "integer", "minimum": 5, "description": "new"}

    with pytest.raises(SchemaBroken, match=r"\$\.data\.points: no declared source"):
        Generator(_catalog_copy(tmp_path, edit), seed=3, now=NOW).one()


def test_a_generator_bug_is_an_error_never_a_silent_event(tmp_path):
    def edit(schema):
        schema["properties"]["data"]["properties"]["center_Name"]["pattern"] = "^Nowhere$"

    with pytest.raises(GeneratorBug, match="center_Name"):
        Generator(_catalog_copy(tmp_path, edit), seed=3, now=NOW).one()


@pytest.mark.parametrize("text", ["2024-07-25T14:52:06Z", "2024-07-25T14:52:06", "2024-07-25T16:52:06+02:00"])
def test_now_accepts_iso_8601_and_means_utc_without_a_zone(text):
    assert parse_now(text) == datetime(2024, 7, 25, 14, 52, 6, tzinfo=UTC)


def test_unknown_profile_is_a_usage_error(registry):
    with pytest.raises(UsageError, match="realistic, edge"):
        Generator(registry["AppointmentGroup.Created"], profile="weird")
