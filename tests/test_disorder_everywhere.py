"""``--disorder`` on ``simulate`` and ``fire`` as on ``scenario run``: duplicates with the
same bytes and id, reordering as retries reorder, off by default, nothing lost.

The streaming form (:func:`emulator.delivery.disorder.disorder_stream`) is held to the list form
scenarios use: the same deliveries, in the same order, for the same events. The
commands are then run as a user runs them, printing or sending to a real receiver on
loopback, and judged from what arrived alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from emulator.delivery.disorder import Disorder, Report, disorder, disorder_stream
from emulator.delivery.pacing import event_moment
from emulator.events.generate import simulate_events

from .receivers import Receiver

NOW = datetime(2024, 7, 25, 8, tzinfo=UTC)
CLI = str(Path(sys.executable).with_name("zenoti-emulator"))
SPECS = [
    Disorder(0.2, 0.1, 0.05, seed=3),
    Disorder(0.5, 0.5, 0.5, seed=9),
    Disorder(0, 0.9, 0, seed=1),
    Disorder(1, 1, 1, seed=2),
]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([CLI, *args], capture_output=True, timeout=timeout)


@pytest.mark.parametrize("profile", ["realistic", "edge"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.describe())
def test_the_streaming_form_delivers_exactly_what_the_list_form_does(spec: Disorder, profile: str) -> None:
    events = list(simulate_events(seed=spec.seed + 4, now=NOW, days=0.5, profile=profile))
    expected, listed = disorder([(event_moment(e), e) for e in events], spec)
    report = Report(spec)
    streamed = list(disorder_stream(iter(events), spec, event_moment, report))
    assert [(d.index, d.copy, d.due) for d in streamed] == [(d.index, d.copy, d.due) for d in expected]
    assert (report.duplicated, report.reordered, report.delayed) == (
        listed.duplicated,
        listed.reordered,
        listed.delayed,
    )


def lines_of(done: subprocess.CompletedProcess[bytes]) -> list[bytes]:
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.splitlines()


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["realistic", "edge"])
@pytest.mark.parametrize("seed", [1, 8])
def test_simulate_disorder_duplicates_bytes_reorders_and_loses_nothing(seed: int, profile: str) -> None:
    base = ["simulate", "--seed", str(seed), "--now", "2024-07-25T08:00:00Z", "--days", "0.5", "--profile", profile]
    plain = lines_of(run(*base))
    assert lines_of(run(*base)) == plain  # off by default: the same bytes
    done = run(*base, "--disorder", "duplicates=0.2,reorder=0.2,delay=0.1")
    messy = lines_of(done)
    assert Counter(messy).keys() == Counter(plain).keys(), "every event arrives, none is made up"
    copies = {line: n for line, n in Counter(messy).items() if n > 1}
    assert copies and all(n == 2 for n in copies.values()), "duplicates are the same bytes"
    ids = Counter(json.loads(line)["id"] for line in messy)
    assert set(ids) == {json.loads(line)["id"] for line in plain}
    assert sum(ids.values()) == len(plain) + len(copies)
    assert messy != plain and [line for line in dict.fromkeys(messy)] != plain, "the order moved"
    assert b"Disorder duplicates=0.2,reorder=0.2,delay=0.1" in done.stderr
    again = run(*base, "--disorder", "duplicates=0.2,reorder=0.2,delay=0.1")
    assert lines_of(again) == messy, "the same seed replays the same order"


def test_simulate_disorder_to_a_receiver_every_id_arrives_and_copies_are_identical(tmp_path: Path) -> None:
    base = ["simulate", "--seed", "3", "--now", "2024-07-25T08:00:00Z", "--days", "0.25"]
    plain = lines_of(run(*base))
    with Receiver() as rx:
        done = run(
            *base,
            "-t",
            rx.url,
            "--disorder",
            "duplicates=0.3,reorder=0.2",
            "--db",
            str(tmp_path / "log.sqlite3"),
            "--secret",
            "s3cret-value",
        )
        assert done.returncode == 0, done.stderr.decode()
        bodies = [json.loads(r.body) for r in rx.requests]
        raw = [r.body for r in rx.requests]
    ids = Counter(body["id"] for body in bodies)
    assert set(ids) == {json.loads(line)["id"] for line in plain}
    repeated = [i for i, n in ids.items() if n > 1]
    assert repeated
    for event_id in repeated:
        assert len({raw[k] for k, body in enumerate(bodies) if body["id"] == event_id}) == 1, (
            "a duplicate is the same bytes"
        )


def test_fire_disorder_sends_every_event_at_least_once_with_identical_copies(tmp_path: Path) -> None:
    with Receiver() as rx:
        done = run(
            "fire",
            "-t",
            rx.url,
            "-n",
            "40",
            "--seed",
            "5",
            "--now",
            "2024-07-25T08:00:00Z",
            "--disorder",
            "duplicates=0.4,reorder=0.3",
            "--db",
            str(tmp_path / "log.sqlite3"),
        )
        assert done.returncode == 0, done.stderr.decode()
        raw = [r.body for r in rx.requests]
    plain = lines_of(run("generate", "-n", "40", "--seed", "5", "--now", "2024-07-25T08:00:00Z", "--format", "jsonl"))
    expected = {json.loads(line)["id"] for line in plain}
    ids = Counter(json.loads(body)["id"] for body in raw)
    assert set(ids) == expected and sum(ids.values()) > len(expected)
    assert all(len({b for b in raw if json.loads(b)["id"] == i}) == 1 for i in ids)
    assert [json.loads(b)["id"] for b in dict.fromkeys(raw)] != [json.loads(line)["id"] for line in plain]
    assert b"Disorder duplicates=0.4,reorder=0.3" in done.stderr


@pytest.mark.parametrize("command", [["simulate", "--days", "0.01"], ["fire", "-t", "http://127.0.0.1:9/hook"]])
@pytest.mark.parametrize(
    "args, says",
    [
        (["--disorder", "shuffle=0.2"], b"is not one of duplicates, reorder, delay"),
        (["--disorder", "duplicates=2"], b"from 0 to 1"),
        (["--disorder-seed", "3"], b"give --disorder too"),
    ],
)
def test_a_wrong_disorder_is_one_line_and_exit_2(command: list[str], args: list[str], says: bytes) -> None:
    done = run(*command, *args)
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith(b"Error:")]
    assert len(errors) == 1 and says in errors[0], done.stderr
