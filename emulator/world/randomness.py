"""Randomness per entity: every stream of draws is derived from the seed and a name.

A single shared ``random.Random`` makes every value depend on every draw before it: add a
field to one event type and the bytes of every other type move. Here each entity (a
guest, a center's day of bookings, a group, one event's projection) draws from its own
stream, named by what it is, so a change in one place leaves the others' bytes alone.
Streams are ``random.Random`` seeded with a string, which Python hashes with SHA-512: the
same name gives the same stream in every process, whatever ``PYTHONHASHSEED`` is.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class Streams:
    """The seed's named streams: ``streams("guest", 17)`` is guest 17's, always the same."""

    __slots__ = ("seed",)

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __call__(self, *name: Any) -> random.Random:
        return random.Random(":".join((str(self.seed), *map(str, name))))


def new_uuid(rng: random.Random) -> str:
    """A version-4 GUID drawn from ``rng``, so the seed decides it.

    The same value as ``str(uuid.UUID(int=rng.getrandbits(128), version=4))``, at a third
    of the cost: this runs several times per event.
    """
    n = (rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


#: uuid.UUID(version=4): version nibble 4, RFC 4122 variant bits 10.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (4 << 76) | (0x8000 << 48)

_CUMULATIVE: dict[int, tuple[Mapping[Any, float], list[Any], list[float]]] = {}


def pick(rng: random.Random, weighted: Mapping[T, float]) -> T:
    """One key of ``weighted``, drawn by its weight: skew is declared, not coded.

    The tables are module constants, so their running sums are computed once and kept
    (with the table itself, so that its id cannot be reused by another object).
    """
    found = _CUMULATIVE.get(id(weighted))
    if found is None or found[0] is not weighted:
        found = _CUMULATIVE[id(weighted)] = (weighted, list(weighted), list(itertools.accumulate(weighted.values())))
    keys: list[T] = found[1]
    cumulative = found[2]
    return keys[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def pick_pair(rng: random.Random, weighted: Sequence[tuple[T, float]]) -> T:
    """:func:`pick` for a list of ``(value, weight)`` pairs (values that are not hashable)."""
    total = sum(w for _, w in weighted)
    mark = rng.random() * total
    for value, weight in weighted:
        mark -= weight
        if mark < 0:
            return value
    return weighted[-1][0]
