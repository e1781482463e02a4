"""``simulate``, ``event-types`` and ``schema`` as a user runs them, and pacing."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from emulator.cli import cli
from emulator.delivery.pacing import paced, parse_pace
from emulator.errors import UsageError
from emulator.events.registry import default_registry

from .conftest import ROOT
from .receivers import Receiver

NOW = "2024-07-25T08:00:00Z"


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_simulate_prints_every_type_in_time_order_and_the_same_bytes_across_processes(command):
    args = [command, "simulate", "--seed", "7", "--now", NOW, "--days", "2"]
    one = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    two = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    assert one == two
    events = [json.loads(line) for line in one.splitlines()]
    assert len(events) > 300
    assert {e["event_type"] for e in events} >= {
        "Guest.Created",
        "AppointmentGroup.Created",
        "AppointmentGroup.Status",
        "Appointment.Started",
        "Appointment.Completed",
        "Invoice.Closed",
    }
    stamps = [e["event_timestamp"] for e in events]
    assert stamps == sorted(stamps) and stamps[-1] < "2024-07-27T08:00:00"


def test_simulate_event_type_keeps_only_those_of_the_same_world():
    everything = run("simulate", "--seed", "3", "--now", NOW, "--days", "1").stdout.splitlines()
    statuses = run(
        "simulate", "--seed", "3", "--now", NOW, "--days", "1", "-e", "AppointmentGroup.Status"
    ).stdout.splitlines()
    assert statuses and statuses == [line for line in everything if '"AppointmentGroup.Status"' in line]


def test_simulate_writes_a_file_and_says_so(tmp_path):
    out = tmp_path / "day.jsonl"
    result = CliRunner().invoke(cli, ["simulate", "--seed", "1", "--now", NOW, "-o", str(out)])
    assert result.exit_code == 0
    assert f"to {out}" in result.stderr and len(out.read_text().splitlines()) > 100


def test_simulate_delivers_to_a_target_in_order_with_the_delivery_options(tmp_path):
    with Receiver() as rx:
        result = CliRunner().invoke(
            cli,
            [
                "simulate",
                "--seed",
                "2",
                "--now",
                NOW,
                "--days",
                "0.25",
                "-t",
                rx.url,
                "--secret",
                "s3cret",
                "--db",
                str(tmp_path / "log.sqlite3"),
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        bodies = [json.loads(r.body) for r in rx.requests]
    assert summary["delivered"] == summary["events"] == len(bodies) > 10
    stamps = [b["event_timestamp"] for b in bodies]
    assert stamps == sorted(stamps)  # -c 1 by default: the receiver sees the story in order
    assert all("zenoti-webhook-signature" in r.headers for r in rx.requests)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "0"], "--days must be more than 0"),
        (["--days", "99999"], "at most 3660"),
        (["--now", "1969-12-31T23:00:00Z"], "outside what a Zenoti id can carry"),
        (["--now", "9999-12-31"], "outside what a Zenoti id can carry"),
        (["--now", "2106-02-01", "--days", "30"], "past 2106-02-07"),
        (["-e", "Guest.Creatd"], "Did you mean 'Guest.Created'?"),
        (["--pace", "slow", "-t", "http://127.0.0.1:9/x"], "not fast, real or a number"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run("simulate", *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_event_types_lists_every_type_with_its_schema_and_sample():
    rows = json.loads(run("event-types", "--json").stdout)
    assert [r["name"] for r in rows] == sorted(default_registry(), key=lambda n: (n.split(".")[0], n))
    for row in rows:
        assert (ROOT / row["schema"]).is_file() and (row["reported"] or (ROOT / row["sample"]).is_file())
        assert row["resource"] == row["name"].split(".")[0]
    table = run("event-types").stdout
    assert "Invoice.Closed" in table and "schemas/events/invoice-closed.v1.json" in table


@pytest.mark.parametrize("name", sorted(default_registry()))
def test_schema_prints_a_self_contained_document_a_plain_validator_uses(name):
    result = run("schema", name)
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)
    if schema.get("x-reported"):  # not in Zenoti's docs: no published sample
        return
    sample = json.loads((ROOT / schema["x-doc-sample"]).read_text())
    assert list(Draft202012Validator(schema).iter_errors(sample)) == []
    assert '"$ref": "../' not in result.stdout  # no reference leaves the document


def test_schema_of_an_unknown_type_is_a_usage_error():
    result = run("schema", "Invoice.Close")
    assert result.exit_code == 2 and "Did you mean 'Invoice.Closed'?" in result.stderr


class FakeClock:
    """A clock that moves only when the paced stream sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def _event(second: int) -> dict[str, str]:
    moment = datetime(2024, 7, 25, 8, 0, second, tzinfo=UTC)
    return {"event_timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z")}


@pytest.mark.parametrize(("text", "speed"), [("fast", None), ("real", 1.0), ("60", 60.0), ("0.5", 0.5)])
def test_pace_words_and_numbers(text, speed):
    assert parse_pace(text) == speed


@pytest.mark.parametrize("text", ["0", "-3", "nan", "1e12", "slow"])
def test_a_pace_out_of_range_is_refused(text):
    with pytest.raises(UsageError):
        parse_pace(text)


def test_paced_waits_for_simulated_time_divided_by_the_speed_and_fast_never_waits():
    events = [_event(0), _event(10), _event(10), _event(40)]
    clock = FakeClock()
    assert list(paced(events, 10.0, clock=clock, sleep=clock.sleep)) == events
    assert clock.slept == [1.0, 3.0]  # 10 s then 30 s more, at 10 simulated seconds per second
    fast = FakeClock()
    assert list(paced(events, None, clock=fast, sleep=fast.sleep)) == events and fast.slept == []


def test_paced_does_not_wait_for_what_is_already_late():
    events = [_event(0), _event(2)]
    clock = FakeClock()
    out = []
    for event in paced(events, 1.0, clock=clock, sleep=clock.sleep):
        out.append(event)
        clock.now += 5  # the receiver took 5 s to answer the first
    assert out == events and clock.slept == []
