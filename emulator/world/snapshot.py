"""Built worlds, kept per (seed, start, profile, variants, fresh) and handed out as copies.

Building a world is most of what making a first event costs (hundreds of guests, each
drawn through Faker); a copy of one already built costs a fraction of a millisecond. A
process that asks twice for the world of the same seed, start and profile (the pytest
fixture, test after test; the web app, scenario after scenario) builds it once.

The copy is a pickle of the world as built, in which every instance of a frozen
dataclass (a center, a guest, a service...) is shared rather than copied: it cannot
change, and a change to a guest replaces the object in the world's dictionaries, which
are copied. Everything else (the dictionaries, lists, counters, calendars) is new in
each copy, so no copy sees what another did. ``tests/test_world.py`` checks both: a
copy makes the same bytes as a fresh world, and frozen entities hold nothing mutable.
Faker is the one shared thing that is not frozen: each copy gets its thread's own
(:func:`~.build.make_faker`).
"""

from __future__ import annotations

import io
import pickle
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from ..variants import DEFAULT as DEFAULT_VARIANTS, Variants
from . import World
from .build import make_faker

#: How many built worlds a process keeps (each a few tens of kB beside shared entities).
KEEP = 8
_FAKER = "faker"


def _is_frozen(kind: type, known: dict[type, bool] = {}) -> bool:  # noqa: B006 - a cache on purpose
    frozen = known.get(kind)
    if frozen is None:
        params = getattr(kind, "__dataclass_params__", None)
        frozen = known[kind] = bool(params is not None and params.frozen)
    return frozen


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, world: World, shared: list[Any]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.fake = world.fake
        self.shared = shared

    def persistent_id(self, obj: Any) -> Any:
        if obj is self.fake:
            return _FAKER
        if _is_frozen(type(obj)):
            self.shared.append(obj)
            return len(self.shared) - 1
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, shared: list[Any]) -> None:
        super().__init__(io.BytesIO(data))
        self.shared = shared

    def persistent_load(self, pid: Any) -> Any:
        return make_faker() if pid == _FAKER else self.shared[pid]


class Snapshot:
    """One world as it stood when taken; :meth:`copy` hands out an independent world.

    Usage::

        snapshot = Snapshot(World(seed, start, profile))   # before anything runs on it
        world = snapshot.copy()
    """

    __slots__ = ("data", "shared")

    def __init__(self, world: World) -> None:
        self.shared: list[Any] = []
        out = io.BytesIO()
        _Pickler(out, world, self.shared).dump(world)
        self.data = out.getvalue()

    def copy(self) -> World:
        world: World = _Unpickler(self.data, self.shared).load()
        return world


_snapshots: OrderedDict[tuple[Any, ...], Snapshot | None] = OrderedDict()
_lock = threading.Lock()


def built_world(
    seed: int, start: datetime, profile: str = "realistic", variants: Variants = DEFAULT_VARIANTS, fresh: bool = False
) -> World:
    """The world of ``(seed, start, profile, variants, fresh)`` as built, before anything
    happened in it.

    The first request builds it as :class:`World` does. From the second on, the world is
    a copy of one built once (kept for the last :data:`KEEP` keys): a command run once
    pays nothing for keeping it.
    """
    key = (seed, start, profile, variants, fresh)
    with _lock:
        known = key in _snapshots
        snapshot = _snapshots.get(key)
        if known:
            _snapshots.move_to_end(key)
    if snapshot is not None:
        return snapshot.copy()
    world = World(seed, start, profile, variants, fresh=fresh)
    if known:
        snapshot = Snapshot(world)  # bytes and frozen entities: ``world`` itself can go out
    with _lock:
        _snapshots[key] = snapshot
        _snapshots.move_to_end(key)
        while len(_snapshots) > KEEP:
            _snapshots.popitem(last=False)
    return world
