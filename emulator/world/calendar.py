"""Calendars: who and what is booked when, so that nothing is booked twice at once.

One calendar per resource (a therapist, a room), each a sorted list of half-open
intervals ``[start, end)`` that never overlap. The past is let go (:meth:`forget_before`),
so a long simulation keeps only what is still ahead.
"""

from __future__ import annotations

import bisect
from datetime import datetime


class Calendar:
    """Booked intervals per resource id."""

    def __init__(self) -> None:
        self._starts: dict[str, list[datetime]] = {}
        self._ends: dict[str, list[datetime]] = {}

    def is_free(self, resource: str, start: datetime, end: datetime) -> bool:
        starts = self._starts.get(resource)
        if not starts:
            return True
        i = bisect.bisect_left(starts, end)  # intervals at i and after start at or after ``end``
        # Intervals never overlap, so ends are sorted too: only the one before i can reach in.
        return i == 0 or self._ends[resource][i - 1] <= start

    def book(self, resource: str, start: datetime, end: datetime) -> None:
        """Book ``[start, end)``. The caller has checked :meth:`is_free`; booking twice is a bug."""
        if not self.is_free(resource, start, end):
            raise AssertionError(f"{resource} is already booked between {start} and {end}")
        starts = self._starts.setdefault(resource, [])
        ends = self._ends.setdefault(resource, [])
        i = bisect.bisect_left(starts, start)
        starts.insert(i, start)
        ends.insert(i, end)

    def release(self, resource: str, start: datetime, end: datetime) -> None:
        """Free an interval booked before (a cancellation)."""
        starts = self._starts.get(resource, [])
        i = bisect.bisect_left(starts, start)
        if i < len(starts) and starts[i] == start and self._ends[resource][i] == end:
            del starts[i]
            del self._ends[resource][i]

    def last_end(self, resource: str) -> datetime | None:
        """When the resource's last booking ends (None: nothing booked ahead of the forgotten past)."""
        ends = self._ends.get(resource)
        return ends[-1] if ends else None

    def forget_before(self, moment: datetime) -> None:
        """Drop every interval that ended before ``moment``: nothing can be booked there again."""
        for resource, ends in self._ends.items():
            cut = bisect.bisect_right(ends, moment)
            if cut:
                del ends[:cut]
                del self._starts[resource][:cut]

    def __len__(self) -> int:
        return sum(len(s) for s in self._starts.values())
