"""Generation speed and memory: ours against jsf, in the same run, on the same schema.

    .venv/bin/python benchmarks/bench_generate.py [--count 20000] [--jsf-count 500]

Ours: the world of a seed runs (bookings, check-ins, invoices...; only the
AppointmentGroup.Created events are projected), and each of those is generated, validated
(every event, compiled validator) and serialised to JSON Lines. jsf: ``JSF(schema).generate()``
on the same type's bundled schema (what ``zenoti-emulator schema`` prints) only, without
validation (its events would fail it: timestamps like "7641-36-27T92:60:23Z"), which
flatters jsf. Memory: the peak RSS of a
fresh process streaming 1k and 100k events to /dev/null; flat means the same. Rates are
events per second of CPU time, which a busy machine disturbs far less than wall time.

"Where the time goes" splits one AppointmentGroup.Created into the world's run up to it
(the booking and everything else the world does per booking: check-ins, visits, invoices,
classes, memberships...) and the event's projection, validation and JSON, beside the
budget per event that the 10x target leaves (issue 22 replaced the 20x set when an event
was a stateless draw).
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator.events.generate import EventStream, generate_events  # noqa: E402
from emulator.events.registry import default_registry  # noqa: E402

RSS_SNIPPET = """
import resource, sys
from emulator.cli.generate import write_events
from emulator.events.generate import generate_events
with open("/dev/null", "w") as out:
    write_events(generate_events(count=int(sys.argv[1]), seed=1), out, "jsonl")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def ours(count: int) -> float:
    start = time.process_time()
    size = 0
    for event in generate_events(count=count, seed=1, now=datetime(2024, 7, 25, tzinfo=UTC)):
        size += len(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
    return count / (time.process_time() - start)


def jsf_rate(count: int) -> float:
    from jsf import JSF

    # jsf cannot follow references into nested $defs: it gets the same schema resolved.
    faker = JSF(copy.deepcopy(default_registry()["AppointmentGroup.Created"].resolved))
    start = time.process_time()
    for _ in range(count):
        faker.generate()
    return count / (time.process_time() - start)


def split(count: int) -> dict[str, float]:
    """Microseconds of CPU time per AppointmentGroup.Created, by stage, and the world's
    emissions per booking (every type happens; only this one is projected)."""
    kind = default_registry()["AppointmentGroup.Created"]
    stream = EventStream(seed=1, now=datetime(2024, 7, 25, tzinfo=UTC), types=[kind.name])
    for _ in stream.take(200):  # warm up
        pass
    wanted, emitted = [], 0
    start = time.process_time()
    for emission in stream._emissions:
        emitted += 1
        if emission.event_type == kind.name:
            wanted.append(emission)
            if len(wanted) == count:
                break
    world = time.process_time() - start
    start = time.process_time()
    events = [stream.project(kind, emission) for emission in wanted]
    project = time.process_time() - start
    start = time.process_time()
    for event in events:
        kind.is_valid(event)
    validate = time.process_time() - start
    start = time.process_time()
    for event in events:
        json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    serialise = time.process_time() - start
    per = 1e6 / count
    return {
        "world": world * per,
        "project": project * per,
        "validate": validate * per,
        "json": serialise * per,
        "emissions": emitted / count,
    }


def peak_rss_mib(count: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", RSS_SNIPPET, str(count)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return int(out.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--jsf-count", type=int, default=500)
    args = parser.parse_args()
    ours(200)  # warm up: compile the validator, build the business
    rate = ours(args.count)
    theirs = jsf_rate(args.jsf_count)
    print(f"ours  (generate + validate + serialise): {rate:10,.0f} events/s  ({args.count:,} events)")
    print(f"jsf   (generate only):                  {theirs:10,.0f} events/s  ({args.jsf_count:,} events)")
    print(f"ratio: {rate / theirs:.1f}x  (target: at least 10x)")
    parts = split(min(args.count, 10_000))
    budget = 1e6 / (10 * theirs)
    print(
        f"where the time goes, CPU us per event: world {parts['world']:.0f} (it emits {parts['emissions']:.2f} "
        f"events per booking, all run), projection {parts['project']:.0f}, validation {parts['validate']:.0f}, "
        f"JSON {parts['json']:.0f}; the 10x target leaves {budget:.0f} in all"
    )
    small, large = peak_rss_mib(1_000), peak_rss_mib(100_000)
    print(f"peak RSS streaming 1,000 events: {small:.1f} MiB; 100,000 events: {large:.1f} MiB")


if __name__ == "__main__":
    main()
