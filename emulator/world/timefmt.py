"""Time as Zenoti writes it, and the DST changes a center's clock goes through."""

from __future__ import annotations

import bisect
import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def utc_text(moment: datetime) -> str:
    """Zenoti's data date-time: UTC, no zone, no fraction (``2024-07-25T16:15:00``)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    """The same instant on the center's wall clock, DST included."""
    return moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def event_timestamp_text(moment: datetime, seventh_digit: int | None) -> str:
    """``2024-07-25T14:52:06.769417Z``, or with a seventh digit as .NET prints ticks."""
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    return f"{text}{'' if seventh_digit is None else seventh_digit}Z"


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
