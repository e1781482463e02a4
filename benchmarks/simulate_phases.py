"""Where ``simulate``'s CPU time goes, per event and by phase, without a profiler (issue 22).

    .venv/bin/python benchmarks/simulate_phases.py [DAYS]     # default 7

cProfile inflates Python-call-heavy code (booking, projection) several times more than
C code (json, the Rust validator), so its shares mislead; this times each phase with
``time.thread_time`` around whole calls instead (about 1 us of overhead per call):

- booking: ``Simulation._arrive`` and ``_book`` (a guest found or made, a slot searched);
- lifecycle + queue: every other step of the world (statuses, invoices, classes, ...)
  and the heap that orders them;
- projection: an emission turned into Zenoti's payload;
- finish: overrides and the schema check (compiled validator);
- json.dumps: the bytes ``simulate`` writes.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.events.generate import simulate_events
from emulator.world.simulation import Simulation

CLOCK = time.thread_time
NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)


def time_booking(spent: list[float]) -> None:
    """Add the CPU time of the outermost ``_arrive``/``_book`` call to ``spent[0]``."""
    depth = [0]

    def wrap(name: str) -> None:
        original = getattr(Simulation, name)

        def timed(self: Simulation, *args: Any, **kwargs: Any) -> Any:
            if depth[0]:
                return original(self, *args, **kwargs)
            depth[0] += 1
            started = CLOCK()
            try:
                return list(original(self, *args, **kwargs))  # a generator is run here, timed
            finally:
                spent[0] += CLOCK() - started
                depth[0] -= 1

        setattr(Simulation, name, timed)

    wrap("_arrive")
    wrap("_book")


def main(days: float) -> None:
    booking = [0.0]
    time_booking(booking)
    started = CLOCK()
    stream = simulate_events(seed=1, now=NOW, days=days)
    build = CLOCK() - started
    world = project = finish = dumps = 0.0
    n = 0
    emissions = iter(stream._emissions)
    while True:
        t0 = CLOCK()
        emission = next(emissions, None)
        t1 = CLOCK()
        world += t1 - t0
        if emission is None:
            break
        kind = stream.kinds.get(emission.event_type)
        if kind is None or not emission.sent:
            continue
        event = stream.project(kind, emission)
        t2 = CLOCK()
        event = stream.finish(kind, event)
        t3 = CLOCK()
        json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        t4 = CLOCK()
        project, finish, dumps, n = project + t2 - t1, finish + t3 - t2, dumps + t4 - t3, n + 1

    def us(seconds: float) -> str:
        return f"{1e6 * seconds / n:6.1f} us/event"

    total = world + project + finish + dumps
    print(f"simulate --days {days:g}: {n} events; world built in {build * 1e3:.0f} ms (CPU)")
    print(f"  booking (arrive + book)   {us(booking[0])}")
    print(f"  lifecycle + queue         {us(world - booking[0])}")
    print(f"  projection                {us(project)}")
    print(f"  finish (schema check)     {us(finish)}")
    print(f"  json.dumps                {us(dumps)}")
    print(f"  total                     {us(total)}  = {n / total:,.0f} events/s of CPU")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 7.0)
