"""What a rule set draws from when it builds the scene of one event.

Pure: no I/O, no global randomness. The clock and the generator come in as arguments,
so the same seed and the same ``--now`` give the same scene.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from faker import Generator

from .business import Business

T = TypeVar("T")
UTC = timezone.utc


def utc_text(moment: datetime) -> str:
    """Zenoti's data date-time: UTC, no zone, no fraction (``2024-07-25T16:15:00``)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    """The same instant on the center's wall clock, DST included."""
    return moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


@functools.lru_cache(maxsize=256)
def _dst_changes(zone: ZoneInfo, year: int) -> tuple[datetime, ...]:
    """Every UTC instant in ``year`` and the next at which ``zone``'s offset changes."""
    changes: list[datetime] = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    stop = datetime(year + 2, 1, 1, tzinfo=UTC)
    step = timedelta(days=1)
    offset = moment.astimezone(zone).utcoffset()
    while moment < stop:
        after = moment + step
        if after.astimezone(zone).utcoffset() != offset:
            low, high = moment, after
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                if mid.astimezone(zone).utcoffset() == offset:
                    low = mid
                else:
                    high = mid
            changes.append(high.replace(second=0, microsecond=0))
            offset = after.astimezone(zone).utcoffset()
        moment = after
    return tuple(changes)


def next_dst_change(zone: ZoneInfo, after: datetime) -> datetime | None:
    """The first instant after ``after`` when ``zone`` changes offset, within about a year."""
    changes = _dst_changes(zone, after.year)
    index = bisect.bisect_right(changes, after)
    return changes[index] if index < len(changes) else None


_CUMULATIVE: dict[int, tuple[Mapping[Any, int], list[Any], list[float]]] = {}


def _cumulative(weighted: Mapping[T, int]) -> tuple[list[T], list[float]]:
    # The weight tables are module constants: sum them once, not once per event. The
    # table itself is kept in the cache, so its id cannot be reused by another object.
    found = _CUMULATIVE.get(id(weighted))
    if found is None or found[0] is not weighted:
        found = _CUMULATIVE[id(weighted)] = (weighted, list(weighted), list(itertools.accumulate(weighted.values())))
    return found[1], found[2]


@dataclass
class SceneContext:
    """The run's business, randomness and clock, as a rule set sees them for one event."""

    business: Business
    rng: random.Random
    #: Faker (en_US) with the spa provider, drawing from ``rng``
    fake: Generator
    profile: str
    #: when this event fires (aware, UTC)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: per-run counters (invoice numbers per center), kept across events
    counters: dict[str, int] = field(default_factory=dict)
    utc: timezone = UTC

    def pick(self, weighted: Mapping[T, int]) -> T:
        """One key of ``weighted``, drawn by its weight: skew is declared, not coded."""
        keys, cumulative = _cumulative(weighted)
        return keys[bisect.bisect(cumulative, self.rng.random() * cumulative[-1])]

    def next_invoice_number(self, center_id: str) -> int:
        number = self.counters.get(center_id)
        if number is None:
            number = self.rng.randint(1000, 20000)
        self.counters[center_id] = number + 1
        return number


