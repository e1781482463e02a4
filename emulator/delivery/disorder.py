"""Disorder: what at-least-once delivery does to a stream, on purpose and replayably.

Zenoti retries a delivery it thinks failed (a timeout, a 5xx), so a receiver sees the same
event twice, and a retried event arrives after events that happened later. ``--disorder``
rehearses this on a stream of events:

- ``duplicates=R``: each event, with chance R, is delivered a second time (the same
  bytes, the same ``id``) one retry delay after the first;
- ``reorder=R``: each event, with chance R, is overtaken by the event after it;
- ``delay=R``: each event, with chance R, is held back by one of Zenoti's retry delays
  (30 s to 10 min of simulated time), and whatever falls due meanwhile goes first.

Every choice comes from one random stream named after the seed, so the same seed, rates
and events give the same deliveries in the same order: a failing order is replayed
exactly. Nothing is lost: every event is delivered at least once, and :class:`Report`
says what was done to which.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..errors import UsageError

KINDS = ("duplicates", "reorder", "delay")
#: The waits Zenoti leaves before its retries (seconds): a duplicate or a delayed event
#: arrives one of these after its first time.
RETRY_DELAYS = (30, 63, 134, 284, 600)


@dataclass(frozen=True, slots=True)
class Disorder:
    """The rate of each kind of disorder (0 to 1) and the seed that decides which events."""

    duplicates: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    seed: int = 0

    @property
    def active(self) -> bool:
        return bool(self.duplicates or self.reorder or self.delay)

    def describe(self) -> str:
        rates = ",".join(f"{kind}={getattr(self, kind):g}" for kind in KINDS if getattr(self, kind))
        return f"{rates or 'none'} (seed {self.seed})"


def parse_disorder(text: str, seed: int) -> Disorder:
    """``duplicates=0.2,reorder=0.1,delay=0.05`` (a kind without ``=R`` means 0.1)."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, sep, raw = part.partition("=")
        kind = kind.strip().lower()
        if kind not in KINDS:
            raise UsageError(
                f"Disorder {kind!r} is not one of {', '.join(KINDS)}: write e.g. --disorder duplicates=0.2,reorder=0.1."
            )
        try:
            rate = float(raw) if sep else 0.1
        except ValueError:
            raise UsageError(f"Disorder rate {raw!r} of {kind} is not a number from 0 to 1.") from None
        if not 0 <= rate <= 1:
            raise UsageError(f"Disorder rate of {kind} must be from 0 to 1, not {raw}.")
        rates[kind] = rate
    if not rates:
        raise UsageError(
            "--disorder needs a kind: duplicates, reorder or delay, each with a rate, e.g. duplicates=0.2."
        )
    return Disorder(seed=seed, **rates)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery of an event: which (its place in the story), which copy, and when due."""

    index: int
    copy: int
    due: datetime
    event: dict[str, Any]


@dataclass
class Report:
    """What was disordered: story positions (from 0) of each kind, and the order delivered."""

    disorder: Disorder
    events: int = 0
    duplicated: list[int] = field(default_factory=list)
    reordered: list[int] = field(default_factory=list)
    delayed: list[int] = field(default_factory=list)
    #: the story position of each delivery, in the order they go out
    order: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "disorder": self.disorder.describe(),
            "seed": self.disorder.seed,
            "events": self.events,
            "deliveries": len(self.order),
            "duplicated": self.duplicated,
            "reordered": self.reordered,
            "delayed": self.delayed,
            "order": self.order,
        }

    def summary(self) -> str:
        return (
            f"Disorder {self.disorder.describe()}: {self.events} events, {len(self.order)} deliveries; "
            f"duplicated {_places(self.duplicated)}, reordered {_places(self.reordered)}, delayed {_places(self.delayed)}."
        )

    def tally(self) -> str:
        """:meth:`summary` in counts, for a stream whose positions are too many to list."""
        return (
            f"Disorder {self.disorder.describe()}: {self.events} events, {self.events + len(self.duplicated)} deliveries; "
            f"duplicated {len(self.duplicated)}, reordered {len(self.reordered)}, delayed {len(self.delayed)}."
        )


def _places(indexes: Sequence[int]) -> str:
    return "none" if not indexes else "#" + ", #".join(str(i + 1) for i in indexes)


def disorder(events: Sequence[tuple[datetime, dict[str, Any]]], spec: Disorder) -> tuple[list[Delivery], Report]:
    """The deliveries of ``events`` (``(moment, payload)`` in story order) under ``spec``,
    in the order they go out, with the report of what was done."""
    rng = random.Random(f"disorder:{spec.seed}")
    report = Report(spec, events=len(events))
    due = [moment for moment, _ in events]
    overtaken: list[int] = []
    for index in range(len(events)):
        # Four draws per event whatever the rates: a rate changes which events, not the stream.
        dup, over, late, wait = rng.random(), rng.random(), rng.random(), rng.choice(RETRY_DELAYS)
        if late < spec.delay:
            due[index] += timedelta(seconds=wait)
            report.delayed.append(index)
        if over < spec.reorder and index + 1 < len(events):
            overtaken.append(index)
        if dup < spec.duplicates:
            report.duplicated.append(index)
    # Last first, so that each reordered event goes out after its successor's final time.
    for index in reversed(overtaken):
        due[index] = max(due[index], due[index + 1]) + timedelta(microseconds=1)
    report.reordered = overtaken
    out = [Delivery(i, 0, due[i], event) for i, (_, event) in enumerate(events)]
    rng_copies = random.Random(f"disorder-copies:{spec.seed}")
    out += [
        Delivery(i, 1, due[i] + timedelta(seconds=rng_copies.choice(RETRY_DELAYS)), events[i][1])
        for i in report.duplicated
    ]
    out.sort(key=lambda d: (d.due, d.index, d.copy))
    report.order = [d.index for d in out]
    return out, report


def disorder_stream(
    events: Iterable[dict[str, Any]],
    spec: Disorder,
    when: Callable[[dict[str, Any]], datetime],
    report: Report | None = None,
) -> Iterator[Delivery]:
    """:func:`disorder` for a stream too long to hold (``simulate``, ``fire``): the same
    deliveries in the same order for the same events, made as the events come.

    An event's final due time is known once the run of events that overtake one another
    ends; a delivery goes out once nothing still to come can fall due before it (every
    event is due no earlier than its own moment, ``when(event)``, and moments never go
    back). Memory holds what a retry delay spans, not the stream. ``report`` (when given)
    counts what was done; its ``order`` stays empty, as the stream has no end.
    """
    rng = random.Random(f"disorder:{spec.seed}")
    rng_copies = random.Random(f"disorder-copies:{spec.seed}")
    heap: list[tuple[datetime, int, int, dict[str, Any]]] = []
    #: events whose final due time is not known yet: (index, due, event, moment, duplicated),
    #: each but the last overtaken by the next
    run: list[tuple[int, datetime, dict[str, Any], datetime, bool]] = []

    def settle() -> None:
        """The run ends: last first, each overtaken event goes after its successor's final time."""
        later: datetime | None = None
        final = []
        for index, due, event, _, duplicated in reversed(run):
            if later is not None:
                due = max(due, later) + timedelta(microseconds=1)
            later = due
            final.append((index, due, event, duplicated))
        for index, due, event, duplicated in reversed(final):  # copies drawn in story order, as disorder() does
            heapq.heappush(heap, (due, index, 0, event))
            if duplicated:
                heapq.heappush(heap, (due + timedelta(seconds=rng_copies.choice(RETRY_DELAYS)), index, 1, event))
        run.clear()

    overtaken = False
    for index, event in enumerate(events):
        moment = when(event)
        if run and not overtaken:
            settle()
        # Four draws per event whatever the rates, as disorder() draws them.
        dup, over, late, wait = rng.random(), rng.random(), rng.random(), rng.choice(RETRY_DELAYS)
        due = moment + timedelta(seconds=wait) if late < spec.delay else moment
        run.append((index, due, event, moment, dup < spec.duplicates))
        overtaken = over < spec.reorder
        if report is not None:
            report.events += 1
            if late < spec.delay:
                report.delayed.append(index)
            if overtaken:
                report.reordered.append(index)
            if dup < spec.duplicates:
                report.duplicated.append(index)
        bound = run[0][3]  # nothing unsettled or still to come is due before this
        while heap and heap[0][0] <= bound:
            due_at, i, copy, e = heapq.heappop(heap)
            yield Delivery(i, copy, due_at, e)
    if run:
        if overtaken and report is not None:
            report.reordered.pop()  # the last event has no successor to be overtaken by
        settle()
    while heap:
        due_at, i, copy, e = heapq.heappop(heap)
        yield Delivery(i, copy, due_at, e)
