"""The registry is the test matrix: every event type found must be complete and valid."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from jsonschema import Draft202012Validator

from emulator.errors import SchemaBroken, UnknownEventType
from emulator.events.catalog import _lookup, check_catalog, load_catalog
from emulator.events.generate import generate_events, simulate_events
from emulator.events.registry import load_registry, schema_dir, slug_for

from .conftest import ROOT

NOW = datetime(2024, 7, 25, 14, 52, 6, tzinfo=UTC)
EVENT_TYPES = sorted(load_registry())
#: the types with a sample on Zenoti's docs (reported ones have none: receivers saw them)
DOCUMENTED_TYPES = [name for name, kind in sorted(load_registry().items()) if not kind.reported]


def test_our_schemas_obey_the_metaschema_and_every_reference_names_something():
    """The check a start no longer pays for (issue 22): our catalog, once, here."""
    check_catalog(load_catalog(schema_dir()))
    assert len(load_registry(check=True)) == len(EVENT_TYPES)


def test_the_catalogs_lookup_agrees_with_referencing_on_every_reference():
    """Generation follows references with the catalog's own pointer walk; the pure-Python
    validator with ``referencing``. Both must read every ``$ref`` of ours the same way."""
    from urllib.parse import urljoin

    catalog = load_catalog(schema_dir())
    resolver = catalog.registry.resolver()
    seen = 0

    def walk(node, base):
        nonlocal seen
        if isinstance(node, list):
            for item in node:
                walk(item, base)
        elif isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                uri = urljoin(base, node["$ref"])
                assert _lookup(catalog, uri, 0)[0] == resolver.lookup(uri).contents, uri
                seen += 1
            for value in node.values():
                walk(value, base)

    for uri, document in catalog.documents.items():
        walk(document, uri)
    assert seen > 100


def test_every_event_schema_is_an_event_type_that_an_action_emits(registry):
    files = sorted((schema_dir() / "events").glob("*.json"))
    assert len(files) == len(registry) >= 8
    for kind in registry.values():
        assert kind.schema_path.name == f"{slug_for(kind.name)}.v1.json"
        assert kind.name in kind.emitter.EMITS


def test_every_type_an_action_emits_has_a_schema(registry):
    from emulator.world.actions import emitters

    assert sorted(emitters()) == sorted(registry)


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_bundled_schema_is_self_contained_for_a_plain_validator(registry, name):
    """``schema TYPE`` output: every $ref local, so jsonschema needs no registry to use it."""
    kind = registry[name]
    refs = []

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(kind.schema)
    assert refs and all(ref.startswith("#/") for ref in refs)
    if kind.reported:  # not in Zenoti's docs: no published sample, and none is pretended
        assert "x-doc-sample" not in kind.schema
        return
    sample = json.loads((ROOT / kind.schema["x-doc-sample"]).read_text())
    assert list(Draft202012Validator(kind.schema).iter_errors(sample)) == []


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_schema_passes_the_2020_12_metaschema(registry, name):
    schema = registry[name].schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] and schema["title"] == name


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_every_field_says_what_it_means(registry, name):
    undocumented = [path for path, sub in registry[name].iter_fields() if not sub.get("description")]
    assert undocumented == []


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_unknown_fields_are_allowed_for_the_validator_to_report(registry, name):
    objects = [sub for _, sub in registry[name].iter_fields() if sub.get("type") == "object"]
    assert all(sub.get("additionalProperties", True) is not False for sub in objects)


def test_only_reported_types_lack_a_published_sample(registry):
    assert {name for name in EVENT_TYPES if name not in DOCUMENTED_TYPES} == {
        "Guest.Merged",
        "AppointmentGroup.Updated",
        "AppointmentGroup.Delete",
    }
    assert all(registry[name].schema.get("x-doc-sample") for name in DOCUMENTED_TYPES)


@pytest.mark.parametrize("name", DOCUMENTED_TYPES)
def test_published_sample_is_accepted(registry, name):
    kind = registry[name]
    sample = json.loads((ROOT / kind.schema["x-doc-sample"]).read_text())
    assert kind.errors(sample) == []
    assert kind.is_valid(sample)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("profile", ["realistic", "edge"])
def test_every_type_the_world_emits_validates_with_both_validators(registry, seed, profile):
    seen: Counter[str] = Counter()
    # 8 days: the rarest type (a package redemption reversed) takes that long on seed 0
    for event in simulate_events(seed=seed, now=NOW, days=8, profile=profile, validate=False):
        kind = registry[event["event_type"]]
        assert kind.is_valid(event)
        if seen[kind.name] < 5:  # the slow validator on the first few of each type
            assert not list(kind.full.iter_errors(event))
        seen[kind.name] += 1
    assert set(seen) == set(registry)


def test_fast_and_full_validators_agree_on_broken_events(registry):
    kind = registry["AppointmentGroup.Created"]
    event = next(generate_events(count=1, seed=5, now=NOW))
    broken = [
        {**event, "id": "66A26696C7314F7815DB6A1F"},
        {**event, "event_timestamp": "2024-07-25T14:52:06Z"},
        {**event, "data": {**event["data"], "invoice_number": 8086}},
        {
            **event,
            "data": {
                **event["data"],
                "guest": {"id": "not-a-guid", "first_name": "A", "last_name": "B", "email": None},
            },
        },
        {k: v for k, v in event.items() if k != "data"},
    ]
    for instance in broken:
        assert not kind.is_valid(instance)
        errors = kind.errors(instance)
        assert errors and errors[0].path.startswith("$")


def test_error_paths_are_json_paths_most_relevant_first(registry):
    kind = registry["AppointmentGroup.Created"]
    event = next(generate_events(count=1, seed=5, now=NOW))
    event["data"]["appointments"][0]["start_time"] = "2024-13-01"
    errors = kind.errors(event)
    assert errors[0].path == "$.data.appointments[0].start_time"
    assert errors[0].pointer == "/data/appointments/0/start_time"
    assert "2024-13-01" in errors[0].message


def test_unknown_event_type_suggests_the_closest_name(registry):
    with pytest.raises(UnknownEventType, match=r"Did you mean 'AppointmentGroup\.Created'"):
        registry.get_type("Appointment.Created")


def test_a_schema_that_no_action_emits_is_refused(tmp_path):
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "guest-renamed.v1.json").write_text(
        json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://x.local/events/guest-renamed.v1.json",
                "title": "Guest.Renamed",
                "type": "object",
            }
        )
    )
    with pytest.raises(SchemaBroken, match=r"Guest\.Renamed"):
        load_registry(tmp_path)


def test_a_reference_to_nothing_is_found_when_the_catalog_loads(tmp_path):
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "guest-created.v1.json").write_text(
        json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://x.local/events/guest-created.v1.json",
                "title": "Guest.Created",
                "properties": {"data": {"$ref": "../shapes/nowhere.v1.json"}},
            }
        )
    )
    with pytest.raises(SchemaBroken, match="nowhere"):
        load_registry(tmp_path)


def test_a_broken_schema_is_our_error_not_the_users(tmp_path):
    (tmp_path / "x.v1.json").write_text('{"type": 12}')
    with pytest.raises(SchemaBroken, match=r"x\.v1\.json"):
        load_registry(tmp_path)


def test_slug_is_derived_from_zenotis_name():
    assert slug_for("AppointmentGroup.Created") == "appointment-group-created"
    assert slug_for("Guest.Membership.Created") == "guest-membership-created"
