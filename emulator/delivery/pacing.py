"""Pacing: deliver a simulated stream at the speed its clock runs, or faster.

``--pace real`` sends each event when as much real time has passed since the first as
simulated time did; ``--pace 60`` runs 60 simulated seconds per real second; ``--pace
fast`` sends as fast as the receiver takes them. The clock and the sleep are parameters,
so tests pace a stream without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from ..errors import UsageError

T = TypeVar("T")

#: The fastest named pace: one simulated week per real second.
MAX_SPEED = 7 * 86_400.0


def parse_pace(text: str) -> float | None:
    """``fast`` -> None (no waiting), ``real`` -> 1.0, ``X`` -> X simulated seconds per second."""
    word = text.strip().lower()
    if word == "fast":
        return None
    if word == "real":
        return 1.0
    try:
        speed = float(word)
    except ValueError:
        raise UsageError(
            f"Pace {text!r} is not fast, real or a number of simulated seconds per second (e.g. 60)."
        ) from None
    if not 0 < speed <= MAX_SPEED:
        raise UsageError(
            f"Pace must be more than 0 and at most {MAX_SPEED:g} simulated seconds per second, not {text!r}."
        )
    return speed


def _moment(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["event_timestamp"])[:26])


def event_moment(event: dict[str, Any]) -> datetime:
    """When an event happened, from its ``event_timestamp`` (naive UTC); the earliest time
    when a ``--set`` made it unreadable (disorder then delivers it as soon as it can)."""
    try:
        return _moment(event)
    except (KeyError, TypeError, ValueError):
        return datetime.min


def paced(
    events: Iterable[T],
    speed: float | None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    when: Callable[[Any], datetime] = _moment,
) -> Iterator[T]:
    """``events`` as they fall due: each waits until ``(its time - the first's) / speed``
    real seconds have passed since the first was handed out. ``when`` reads an item's
    time (its ``event_timestamp`` unless told: a disordered delivery has its own)."""
    if speed is None:
        yield from events
        return
    first: datetime | None = None
    started = 0.0
    for event in events:
        moment = when(event)
        if first is None:
            first, started = moment, clock()
        else:
            due = started + (moment - first).total_seconds() / speed
            wait = due - clock()
            if wait > 0:
                sleep(wait)
        yield event
