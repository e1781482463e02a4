"""The speeds a user waits on (issue 22), each beside its baseline, in one run.

    .venv/bin/python benchmarks/bench_feel.py [--runs 7] [--fire-count 800] [--days 7] [--tests 40]

1. Time to the first event: ``generate --count 1`` and ``fire --count 1`` (at a local
   receiver that answers at once) against ``python -c "import flask"``, each a fresh
   process. Target: at most 3x. Median CPU time (user + system) of ``--runs`` runs after
   a warm-up, which a machine shared with other work disturbs far less than wall time
   (printed too).
2. ``fire --count 800 -c 8`` at a receiver answering in 10 ms against a naive loop
   (``for event in events: requests.post(url, json=event)``, a process reading the same
   800 events from a file). Wall time of each process, start-up included. Target: 6x.
3. The pytest fixture: a generated test file of ``--tests`` tests that each make one event
   (``zenoti_emulator.generate()``) and as many that each play a built-in scenario; the
   cost of a test is its setup + call + teardown as pytest reports it. Target: median at
   most 20 ms after the first test of the session.
4. ``simulate``, every type, realistic, to /dev/null: events per second of wall time,
   from the difference between ``--days`` and 1 day (so the start-up cancels out), and the
   peak RSS of both. Target: at least 25,000 events/s, the RSS about the same.

Every child runs with bytecode caches written (as an installed package has them), even
when ``PYTHONDONTWRITEBYTECODE`` is set in the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_delivery import ReceiverProcess  # noqa: E402

BIN = Path(sys.executable).parent
COMMAND = str(BIN / "zenoti-emulator")
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
NOW = "2026-03-02T08:00:00Z"

NAIVE = """
import json, sys, requests
for line in open(sys.argv[1]):
    requests.post(sys.argv[2], json=json.loads(line))
"""

FIXTURE_TESTS = """
import pytest

SCENARIOS = ["no-show", "guest-day", "late-cancel", "reschedule", "refund", "walk-in"]


@pytest.mark.parametrize("n", range({tests}))
def test_one_event(zenoti_emulator, n):
    [event] = zenoti_emulator.generate()
    assert event["event_type"] == "AppointmentGroup.Created"


@pytest.mark.parametrize("n", range({tests}))
def test_a_scenario(zenoti_emulator, n):
    assert zenoti_emulator.scenario(SCENARIOS[n % len(SCENARIOS)])


@pytest.mark.parametrize("n", range({tests}))
def test_own_world(n):
    # the baseline: what the fixture did before issue 22, a world of a random seed per call
    from emulator.events.generate import generate_events
    [event] = generate_events(count=1)
"""

#: records each test's setup + call + teardown (wall, as pytest reports it, and the CPU
#: time of the process meanwhile), in order, to the file in $FEEL_DURATIONS
FIXTURE_CONFTEST = """
import json, os, time
import pytest
durations = {}

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item):
    start = time.process_time()
    yield
    durations.setdefault(item.nodeid, [0.0, 0.0])[1] = time.process_time() - start

def pytest_runtest_logreport(report):
    durations.setdefault(report.nodeid, [0.0, 0.0])[0] += report.duration

def pytest_sessionfinish(session):
    with open(os.environ["FEEL_DURATIONS"], "w") as out:
        json.dump(list(durations.items()), out)
"""


def run(argv: list[str], **kwargs: object) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, **kwargs)  # type: ignore[call-overload]
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def median_run(argv: list[str], runs: int) -> tuple[float, float]:
    run(argv)  # warm-up: writes bytecode caches
    done = [run(argv) for _ in range(runs)]
    return statistics.median(c for c, _ in done), statistics.median(w for _, w in done)


def start_up(runs: int, db: Path) -> None:
    print(f"1. time to the first event (median of {runs}; CPU, wall)  target: at most 3x the baseline")
    base_cpu, base_wall = median_run([sys.executable, "-c", "import flask"], runs)
    baseline = 'python -c "import flask" (baseline)'
    print(f"   {baseline:38} {base_cpu * 1000:6.0f} ms {base_wall * 1000:6.0f} ms")
    rx = ReceiverProcess(0.0)
    try:
        for name, argv in (
            ("generate --count 1", [COMMAND, "generate", "--count", "1", "--format", "jsonl"]),
            (
                "fire --count 1 (local receiver)",
                [COMMAND, "fire", "-t", rx.url, "--count", "1", "--db", str(db), "--json"],
            ),
        ):
            cpu, wall = median_run(argv, runs)
            print(
                f"   {name:38} {cpu * 1000:6.0f} ms {wall * 1000:6.0f} ms  {cpu / base_cpu:4.1f}x CPU  {wall / base_wall:4.1f}x wall"
            )
    finally:
        rx.close()


def fire_many(count: int, db: Path, tmp: Path) -> None:
    print(
        f"2. fire {count} events, receiver answering in 10 ms, -c 8 (wall, start-up included)  target: at least 6x the naive loop"
    )
    events = tmp / "events.jsonl"
    with events.open("w") as out:
        subprocess.run(
            [COMMAND, "generate", "--count", str(count), "--seed", "1", "--now", NOW, "--format", "jsonl"],
            env=ENV,
            stdout=out,
            check=True,
        )
    rx = ReceiverProcess(0.010)
    try:
        _, naive = run([sys.executable, "-c", NAIVE, str(events), rx.url])
        _, ours = run([COMMAND, "fire", "-t", rx.url, "--count", str(count), "-c", "8", "--db", str(db), "--json"])
    finally:
        rx.close()
    print(f"   naive requests loop (baseline)         {naive:6.2f} s  {count / naive:6.0f} events/s")
    print(
        f"   zenoti-emulator fire -c 8              {ours:6.2f} s  {count / ours:6.0f} events/s  {naive / ours:4.1f}x"
    )


def fixture(tests: int, tmp: Path) -> None:
    print(f"3. the pytest fixture: {tests} tests of each kind  target: median at most 20 ms")
    folder = tmp / "fixture"
    folder.mkdir()
    (folder / "test_feel.py").write_text(FIXTURE_TESTS.replace("{tests}", str(tests)))
    (folder / "conftest.py").write_text(FIXTURE_CONFTEST)
    out = folder / "durations.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        env={**ENV, "FEEL_DURATIONS": str(out)},
        stdout=subprocess.DEVNULL,
        check=True,
    )
    durations = json.loads(out.read_text())
    _first_wall, first_cpu = durations[0][1]
    for label, prefix in (
        ("its own world (baseline)", "test_own_world"),
        ("one event", "test_one_event"),
        ("a scenario", "test_a_scenario"),
    ):
        walls = [d[0] for node, d in durations[1:] if prefix in node]
        cpus = [d[1] for node, d in durations[1:] if prefix in node]
        print(
            f"   a test making {label:24} median {statistics.median(cpus) * 1000:5.1f} ms CPU, "
            f"{statistics.median(walls) * 1000:5.1f} ms wall  (the session's first test: {first_cpu * 1000:.0f} ms CPU)"
        )


SIMULATE = """
import resource, sys, time
from datetime import datetime, timezone
from emulator.cli.generate import write_events
from emulator.events.generate import simulate_events
start, cpu = time.perf_counter(), time.process_time()
with open("/dev/null", "w") as out:
    n = write_events(simulate_events(seed=1, now=datetime(2026, 3, 2, 8, tzinfo=timezone.utc), days=float(sys.argv[1])), out, "jsonl")
print(n, time.perf_counter() - start, time.process_time() - cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def simulate(days: float) -> None:
    print(
        f"4. simulate, every type, realistic (wall; {days:g} days against 1)  target: at least 25,000 events/s, RSS flat"
    )
    rows = []
    for span in (1.0, days):
        done = subprocess.run(
            [sys.executable, "-c", SIMULATE, str(span)], env=ENV, capture_output=True, text=True, check=True
        )
        n, wall, cpu, rss = done.stdout.split()
        rows.append((int(n), float(wall), float(cpu), int(rss) / 1024))
    (n1, w1, c1, r1), (n2, w2, c2, r2) = rows
    print(
        f"   {(n2 - n1) / (w2 - w1):10,.0f} events/s wall, {(n2 - n1) / (c2 - c1):,.0f} of CPU  "
        f"({n2:,} events in {w2:.2f} s; 1 day: {n1:,} in {w1:.2f} s)"
    )
    print(f"   peak RSS: 1 day {r1:.1f} MiB, {days:g} days {r2:.1f} MiB, ratio {r2 / r1:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--fire-count", type=int, default=800)
    parser.add_argument("--tests", type=int, default=40)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--only", choices=("start", "fire", "fixture", "simulate"), action="append")
    args = parser.parse_args()
    only = set(args.only or ("start", "fire", "fixture", "simulate"))
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if "start" in only:
            start_up(args.runs, tmp / "start.sqlite3")
        if "fire" in only:
            fire_many(args.fire_count, tmp / "fire.sqlite3", tmp)
        if "fixture" in only:
            fixture(args.tests, tmp)
        if "simulate" in only:
            simulate(args.days)


if __name__ == "__main__":
    main()
