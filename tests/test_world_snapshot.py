"""Built worlds kept and copied (emulator.world.snapshot): a copy is the world as built,
makes the same bytes, and shares nothing another copy can change."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from emulator.events.generate import Projector
from emulator.events.registry import default_registry
from emulator.world import World
from emulator.world.simulation import Simulation
from emulator.world.snapshot import Snapshot, built_world

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MUTABLE = (list, dict, set, bytearray)


def history(world: World, days: float = 2) -> list[str]:
    """Every event the world emits over ``days``, as the JSON ``simulate`` would print."""
    registry, project = default_registry(), Projector(world)
    until = world.start + timedelta(days=days)
    return [json.dumps(project(registry[e.event_type], e), sort_keys=True) for e in Simulation(world).run(until)]


@pytest.mark.parametrize("profile", ["realistic", "edge"])
def test_a_copy_makes_the_same_bytes_as_a_fresh_world_whatever_another_copy_did(profile: str) -> None:
    fresh = history(World(5, NOW, profile))
    snapshot = Snapshot(World(5, NOW, profile))
    first, second = snapshot.copy(), snapshot.copy()
    assert history(first) == fresh  # this one lived two days: guests changed, groups booked...
    assert first.guests is not second.guests and first.calendar is not second.calendar
    assert history(second) == fresh


def test_built_world_hands_out_independent_copies_of_one_build() -> None:
    one = built_world(11, NOW)
    two = built_world(11, NOW)  # built again, and kept
    three = built_world(11, NOW)  # a copy
    history(two, 1)
    assert history(one, 1) == history(three, 1)
    assert three.centers[0] is built_world(11, NOW).centers[0]  # frozen: shared, not copied
    assert three.guests is not built_world(11, NOW).guests


def _reachable(root: object) -> list[object]:
    seen: dict[int, object] = {}
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool, type(None), datetime)):
            continue
        seen[id(obj)] = obj
        if isinstance(obj, dict):
            todo += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo += list(obj)
        elif dataclasses.is_dataclass(obj):
            todo += [getattr(obj, f.name) for f in dataclasses.fields(obj)]
    return list(seen.values())


@pytest.mark.parametrize("profile", ["realistic", "edge"])
def test_frozen_entities_hold_nothing_mutable_so_sharing_them_is_safe(profile: str) -> None:
    """A copy shares every frozen dataclass instance: one holding a list or a dict would
    carry one test's changes into the next."""
    world = World(3, NOW, profile)
    frozen = [
        obj
        for obj in _reachable(vars(world))
        if dataclasses.is_dataclass(obj) and type(obj).__dataclass_params__.frozen
    ]
    assert len(frozen) > 600
    for obj in frozen:
        for f in dataclasses.fields(obj):
            assert not isinstance(getattr(obj, f.name), MUTABLE), f"{type(obj).__name__}.{f.name} is mutable"
