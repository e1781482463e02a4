"""``zenoti-emulator load``: Locust against a real counting receiver, over loopback.

Every test starts real processes: the receiver (``tests/load_receiver.py``, which counts
requests, distinct ids and valid signatures) and the installed command, as one machine or
as a master with two workers. Nothing is mocked; what the command reports is compared
with what the receiver counted.
"""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest

from .conftest import COMMAND, ROOT

RECEIVER = str(ROOT / "tests" / "load_receiver.py")
SECRET = "load-s3cret"


class CountingReceiver:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, RECEIVER, *args], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def stats(self) -> dict:
        with urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=10) as answer:
            return json.load(answer)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def receiver() -> Iterator[CountingReceiver]:
    rx = CountingReceiver("--secret", SECRET)
    yield rx
    rx.close()


def load(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COMMAND, "load", *args], capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_headless_load_reports_what_the_receiver_counted(receiver: CountingReceiver, tmp_path: Path) -> None:
    done = load(
        receiver.url,
        "-u",
        "3",
        "-r",
        "50",
        "-t",
        "2s",
        "--secret",
        SECRET,
        "--verb",
        "PUT",
        "--seed",
        "11",
        "--csv",
        str(tmp_path / "run"),
        "--html",
        str(tmp_path / "run.html"),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    got = receiver.stats()
    assert report["events_sent"] == got["count"] > 0
    assert got["distinct_ids"] == got["count"] and got["duplicates"] == 0
    assert got["invalid_signatures"] == 0
    assert got["verbs"] == {"PUT": got["count"]}
    assert report["by_status_class"] == {"2xx": got["count"]}
    assert {t: sum(c.values()) for t, c in report["by_event_type"].items()} == got["types"]
    assert report["latency_ms"]["p50"] is not None and report["throughput"]
    # Locust's own reports: a row per event type, and the HTML page
    with open(tmp_path / "run_stats.csv", newline="") as f:
        rows = {row["Name"]: int(row["Request Count"]) for row in csv.DictReader(f)}
    assert rows["Aggregated"] == got["count"]
    assert {name for name in rows if name != "Aggregated"} == set(got["types"])
    assert "locust" in (tmp_path / "run.html").read_text(encoding="utf-8").lower()


def test_the_text_summary_names_classes_latency_and_the_result(receiver: CountingReceiver) -> None:
    done = load(
        receiver.url,
        "-u",
        "2",
        "-r",
        "50",
        "-t",
        "1s",
        "--secret",
        SECRET,
        "--event-type",
        "Guest.Created",
        "--event-type",
        "AppointmentGroup.Created",
    )
    assert done.returncode == 0, done.stderr
    got = receiver.stats()
    assert set(got["types"]) <= {"Guest.Created", "AppointmentGroup.Created"}
    assert f"Load: {got['count']} event(s) sent" in done.stdout
    assert f"Answers: 2xx {got['count']}" in done.stdout
    assert "Latency: p50" in done.stdout and "Throughput" in done.stdout
    assert "Result: every answer 2xx within 10 s." in done.stdout


def test_a_refusing_receiver_exits_1() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = load(f"http://127.0.0.1:{port}/hook", "-u", "1", "-t", "1s", "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["events_sent"] > 0 and set(report["by_status_class"]) == {"connection"}


@pytest.mark.slow
def test_drain_sends_exactly_n_and_reports_the_time_taken(receiver: CountingReceiver) -> None:
    done = load(receiver.url, "-u", "4", "-r", "100", "--drain", "300", "--secret", SECRET, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    got = receiver.stats()
    assert got["count"] == 300 == report["drain"]["sent"] == report["events_sent"]
    assert got["distinct_ids"] == 300 and got["invalid_signatures"] == 0
    assert report["drain"]["refused"] == {} and report["drain"]["duration_s"] > 0


@pytest.mark.slow
def test_a_master_and_two_workers_share_the_load_without_sharing_ids(receiver: CountingReceiver) -> None:
    port = str(free_port())
    master = subprocess.Popen(
        [
            COMMAND,
            "load",
            receiver.url,
            "--master",
            "--expect-workers",
            "2",
            "--master-bind-port",
            port,
            "-u",
            "4",
            "-r",
            "50",
            "--drain",
            "200",
            "--secret",
            SECRET,
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    workers = [
        subprocess.Popen(
            [COMMAND, "load", "--worker", "--master-port", port],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    out, err = master.communicate(timeout=120)
    assert master.returncode == 0, err
    for worker in workers:
        worker.communicate(timeout=60)
        assert worker.returncode == 0
    report = json.loads(out)
    got = receiver.stats()
    # a drain, not a run time: each worker has its 100 events to send however slowly it starts
    assert report["events_sent"] == got["count"] == 200 and report["workers"] == 2
    assert got["distinct_ids"] == 200 and got["invalid_signatures"] == 0
    assert got["workers"] == [0, 1]  # both workers sent, each from its own shards


@pytest.mark.slow
def test_find_limit_finds_the_rate_a_receiver_holds(tmp_path: Path) -> None:
    limit = 60.0
    rx = CountingReceiver("--slow-past", str(limit), "--slow-delay", "0.4")
    try:
        plot = tmp_path / "limit.html"
        done = load(
            rx.url,
            "--find-limit",
            "--rate",
            "30",
            "--step-time",
            "1",
            "--latency-bound",
            "0.2",
            "-u",
            "8",
            "-r",
            "100",
            "--plot",
            str(plot),
            "--json",
        )
    finally:
        rx.close()
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)["find_limit"]
    assert found["held_per_s"] is not None, found
    assert abs(found["held_per_s"] - limit) <= 0.25 * limit, found
    assert found["broke_first"].startswith("latency")
    assert "<svg" in plot.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "args, says",
    [
        ([], "Missing the receiver's URL"),
        (["http://127.0.0.1:9/hook", "--worker"], "A --worker takes no URL"),
        (["http://127.0.0.1:9/hook", "--master", "--worker"], "not both"),
        (["http://127.0.0.1:9/hook", "--find-limit", "--master"], "--find-limit runs on one machine"),
        (["http://127.0.0.1:9/hook", "--run-time", "soon"], "30s, 2m or 1h30m"),
        (["http://127.0.0.1:9/hook", "--plot", "x.html"], "add --find-limit"),
        (["http://127.0.0.1:9/hook", "--event-type", "Guest.Nope"], "Guest.Nope"),
        (["http://127.0.0.1:9/hook", "--users", "0"], "--users"),
        (["http://127.0.0.1:9/hook", "--html", "/no/such/folder/r.html"], "no folder"),
        (["not a url"], "URL"),
    ],
)
def test_bad_usage_is_one_error_line_and_exit_2(args: list[str], says: str) -> None:
    # click's own usage errors come with its "Usage:" reminder, as for every command
    done = load(*args, timeout=60)
    assert done.returncode == 2, done
    [error] = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert says in error and "Traceback" not in done.stderr
