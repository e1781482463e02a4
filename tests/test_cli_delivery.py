"""The delivery commands: exit codes, output streams, deactivation, replay, kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from emulator.cli import cli
from emulator.delivery.store import Store

from .receivers import Receiver, closed_port_url

SECRET = "whsec_cli_secret_0042"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "log.sqlite3")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def fire(db: str, url: str, *args: str) -> Result:
    return run("fire", "--target", url, "--db", db, "--seed", "7", "--time-scale", "60000", "--timeout", "2", *args)


def summary(result: Result) -> dict[str, Any]:
    return json.loads(result.stdout)


def test_fire_delivers_and_exits_0_with_a_summary(db: str, receiver: Receiver) -> None:
    result = fire(db, receiver.url, "--count", "5", "--secret", SECRET, "--json")
    assert result.exit_code == 0, result.stderr
    s = summary(result)
    assert (s["events"], s["delivered"], s["failed"], s["pending"]) == (5, 5, 0, 0)
    assert set(s["latency_ms"]) == {"p50", "p95", "max"}
    assert len(receiver.requests) == 5
    assert all(json.loads(r.body)["event_type"] == "AppointmentGroup.Created" for r in receiver.requests)
    assert "fire: 5/5 done" in result.stderr  # plain lines off a terminal
    assert SECRET not in result.stdout + result.stderr


def test_fire_prints_a_table_on_stderr_and_nothing_on_stdout(db: str, receiver: Receiver) -> None:
    result = fire(db, receiver.url, "--count", "21")  # more than 20 events: the summary, not a line each
    assert result.exit_code == 0
    assert result.stdout == ""
    for column in ("delivered", "failed", "retried", "latency p50", "latency p95", "latency max"):
        assert column in result.stderr


def test_fire_applies_set_overrides_and_the_verb(db: str, receiver: Receiver) -> None:
    result = fire(db, receiver.url, "--verb", "patch", "--set", "data.guest.email=null")
    assert result.exit_code == 0, result.stderr
    [req] = receiver.requests
    assert req.method == "PATCH" and json.loads(req.body)["data"]["guest"]["email"] is None


def test_fire_counts_retries_and_exits_0_once_delivered(db: str) -> None:
    with Receiver([503, 503]) as rx:
        result = fire(db, rx.url, "--count", "1", "--json")
    assert result.exit_code == 0
    assert summary(result)["retried"] == 1 and summary(result)["attempts"] == 3


def test_fire_exits_1_when_some_events_fail_for_good(db: str) -> None:
    with Receiver([500], default=200) as rx:
        result = fire(db, rx.url, "--count", "3", "--no-retry", "--concurrency", "1", "--json")
    assert result.exit_code == 1
    assert (summary(result)["delivered"], summary(result)["failed"]) == (2, 1)
    assert "1 failed for good (last: HTTP 500 Internal Server Error)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "ftp://127.0.0.1/x"], "http:// or https://"),
        (["--target", "http:///nohost"], "no host"),
        (["--target", "http://[::1/h"], "malformed"),
        (["--target", "http://127.0.0.1:99999/h", "--no-retry"], "malformed"),
        (["--target", "http://127.0.0.1:9/h", "--set", "no-equals-sign"], "PATH=VALUE"),
        (["--target", "http://127.0.0.1:9/h", "--verb", "DELETE"], "DELETE"),
        (["--target", "http://127.0.0.1:9/h", "--rate", "fast"], "rate"),
        (["--target", "http://127.0.0.1:9/h", "--time-scale", "0"], "time-scale"),
        (["--count", "1"], "--target"),
    ],
)
def test_bad_usage_exits_2_with_a_one_line_reason(db: str, args: list[str], message: str) -> None:
    result = run("fire", "--db", db, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_set_that_breaks_the_schema_exits_2_before_sending(db: str, receiver: Receiver) -> None:
    result = fire(db, receiver.url, "--set", "data.appointments=7")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
    assert receiver.requests == []


@pytest.mark.parametrize("wait", ["--wait", "--no-wait"])
def test_a_set_that_fits_the_first_event_only_sends_those_before_the_misfit_then_exits_2(
    db: str, command: str, wait: str
) -> None:
    # An index that fits the first event (its last appointment) but not a later, smaller one.
    when = ["--seed", "1", "--now", "2026-01-01T10:00:00"]
    made = subprocess.run([command, "generate", "-n", "6", *when], capture_output=True, text=True, check=True)
    sizes = [len(json.loads(line)["data"]["appointments"]) for line in made.stdout.splitlines()]
    misfit = next((i for i, size in enumerate(sizes) if size < sizes[0]), None)
    assert misfit is not None and misfit >= 2, f"seed 1 no longer gives a smaller event after two: {sizes}"
    override = f"data.appointments.{sizes[0] - 1}.room_name=Suite 4"
    with Receiver([503], default=200) as rx:
        result = subprocess.run(
            [
                command,
                "fire",
                "--target",
                rx.url,
                "--db",
                db,
                "-n",
                "6",
                *when,
                "--set",
                override,
                "--time-scale",
                "20",
                wait,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines[-1].startswith(f"Error: Override: no item {sizes[0] - 1} in data.appointments"), result.stderr
        assert lines[-2] == f"Stopped after sending {misfit} of 6 events: event {misfit + 1} could not be generated."
        assert "Traceback" not in result.stderr
        with Store(db) as store:
            statuses = [d.status for d in reversed(store.list_deliveries(limit=None)[0])]
        if wait == "--wait":  # the ones sent before ran to their end, one after a retry
            assert statuses == ["delivered"] * misfit
            assert len(rx.requests) == misfit + 1
        else:  # the retry is left to resume, and the hint names this log
            assert sorted(statuses) == ["delivered"] * (misfit - 1) + ["pending"]
            assert f"run: zenoti-emulator resume --db {db}" in result.stderr
            resumed = subprocess.run([command, "resume", "--db", db], capture_output=True, text=True, timeout=60)
            assert resumed.returncode == 0, resumed.stderr
    bodies = [json.loads(r.body) for r in rx.requests]
    assert {len(b["data"]["appointments"]) for b in bodies} <= set(sizes[:misfit])
    assert all(b["data"]["appointments"][sizes[0] - 1]["room_name"] == "Suite 4" for b in bodies)


def test_ping_sends_an_empty_post(db: str, receiver: Receiver) -> None:
    result = fire(db, receiver.url, "--ping", "--secret", SECRET, "--json")
    assert result.exit_code == 0
    [req] = receiver.requests
    assert req.body == b"" and "zenoti-webhook-signature" not in req.headers
    assert run("fire", "--db", db, "--target", closed_port_url(), "--ping").exit_code == 1


def test_deactivated_webhook_refuses_fire_lists_and_reactivates(db: str) -> None:
    with Receiver(default=503) as rx:
        result = fire(db, rx.url, "--count", "25", "--no-retry", "--concurrency", "1", "--secret", SECRET, "--json")
        assert result.exit_code == 1
        assert len(rx.requests) == 20
        refused = fire(db, rx.url, "--count", "1", "--secret", SECRET)
        assert refused.exit_code == 1
        assert "deactivated after 20 failures in a row" in refused.stderr
        assert "zenoti-emulator reactivate" in refused.stderr
        assert len(rx.requests) == 20

        listed = json.loads(run("webhooks", "--db", db, "--json").stdout)
        assert [(h["url"], h["active"], h["consecutive_failures"]) for h in listed] == [(rx.url, False, 20)]
        assert listed[0]["secret"] == "****0042"
        table = run("webhooks", "--db", db)
        assert "deactivated" in table.stderr and SECRET not in table.stderr

        assert run("reactivate", rx.url, "--db", db).exit_code == 0
        assert json.loads(run("webhooks", "--db", db, "--json").stdout)[0]["active"] is True
        rx.default = 200
        assert fire(db, rx.url, "--count", "1", "--secret", SECRET).exit_code == 0


def test_reactivate_unknown_webhook_exits_2(db: str) -> None:
    result = run("reactivate", "42", "--db", db)
    assert result.exit_code == 2 and "No webhook with id 42" in result.stderr


def test_deliveries_lists_filters_and_shows_attempts(db: str) -> None:
    with Receiver([503, 200, 500]) as rx:
        fire(db, rx.url, "--count", "1", "--secret", SECRET)
        fire(db, rx.url, "--count", "1", "--secret", SECRET, "--no-retry")
    rows = json.loads(run("deliveries", "--db", db, "--json").stdout)  # one array, like `webhooks --json`
    assert [(r["id"], r["status"], r["attempts"]) for r in rows] == [(2, "failed", 1), (1, "delivered", 2)]
    failed = json.loads(run("deliveries", "--db", db, "--status", "failed", "--json").stdout)
    assert [d["id"] for d in failed] == [2]
    assert json.loads(run("deliveries", "--db", db, "--status", "pending", "--json").stdout) == []
    shown = json.loads(run("deliveries", "--db", db, "show", "1", "--json").stdout)
    assert [a["status_code"] for a in shown["attempt_log"]] == [503, 200]
    assert [s["kind"] for s in shown["schedule"]] == ["first", "retry"]
    assert 24 <= shown["schedule"][1]["delay_s"] <= 36  # unscaled
    assert shown["attempt_log"][0]["request_headers"]["zenoti-webhook-signature"].startswith("sha256 =")
    table = run("deliveries", "show", "1", "--db", db)
    assert table.exit_code == 0 and "Attempts" in table.stderr and SECRET not in table.stderr
    assert run("deliveries", "show", "99", "--db", db).exit_code == 2


def test_tables_show_urls_with_brackets_as_text_not_markup(db: str, receiver: Receiver) -> None:
    url = receiver.url + "/a[/b]"  # rich would read "[/b]" as a closing tag
    assert fire(db, url, "--count", "1").exit_code == 0
    for args in (["webhooks"], ["deliveries"], ["deliveries", "show", "1"]):
        result = run(*args, "--db", db)
        assert result.exit_code == 0, result.stderr
        assert "/a[/b]" in result.stderr


def test_replay_one_and_all_failed(db: str) -> None:
    with Receiver([500, 500, 500]) as rx:
        result = fire(db, rx.url, "--count", "3", "--no-retry", "--secret", SECRET)
        assert result.exit_code == 1
        one = run("replay", "1", "--db", db, "--json")
        assert one.exit_code == 0 and summary(one)["delivered"] == 1
        rest = run("replay", "--all-failed", "--db", db, "--json")
        assert rest.exit_code == 0 and summary(rest)["events"] == 2
        bodies = {}
        for r in rx.requests:
            bodies.setdefault(json.loads(r.body)["id"], set()).add(r.body)
    assert len(rx.requests) == 6 and all(len(b) == 1 for b in bodies.values())
    with Store(db) as store:
        assert [a.number for a in store.get_delivery(1).attempt_log] == [1, 2]
    assert run("replay", "--db", db).exit_code == 2


def test_replay_to_a_deactivated_webhook_is_refused_before_sending(db: str) -> None:
    with Receiver([500]) as rx:
        fire(db, rx.url, "--no-retry", "--deactivate-after", "1")
        result = run("replay", "1", "--db", db)
        assert result.exit_code == 1 and "reactivate" in result.stderr
        assert len(rx.requests) == 1


def test_no_wait_leaves_retries_for_resume(db: str) -> None:
    with Receiver([503]) as rx:
        result = run("fire", "--target", rx.url, "--db", db, "--time-scale", "20", "--no-wait", "--json")
        assert result.exit_code == 0
        assert summary(result)["pending"] == 1
        assert "zenoti-emulator resume" in result.stderr
        resumed = run("resume", "--db", db, "--json")
        assert resumed.exit_code == 0, resumed.stderr
        assert summary(resumed)["delivered"] == 1
        assert len(rx.requests) == 2
    assert "Nothing to resume" in run("resume", "--db", db).stderr


def _pending_retries(db: str) -> int:
    if not os.path.exists(db):
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM scheduled_attempts WHERE kind = 'retry' AND state = 'pending'"
            ).fetchone()
        conn.close()
        return int(row[0])
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def test_kill_9_with_pending_retries_then_resume_delivers_exactly_once_more(db: str, command: str) -> None:
    with Receiver([503], default=200) as rx:
        # time scale 20: the first retry is due 1.2..1.8 s after the first attempt
        proc = subprocess.Popen(
            [command, "fire", "--target", rx.url, "--db", db, "--secret", SECRET, "--time-scale", "20", "--seed", "3"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while _pending_retries(db) == 0:
                assert proc.poll() is None, "fire ended before its retry was scheduled"
                assert time.monotonic() < deadline, "no retry was scheduled"
                time.sleep(0.01)  # polling the log, not waiting for time to pass
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert len(rx.requests) == 1

        resumed = subprocess.run([command, "resume", "--db", db, "--json"], capture_output=True, text=True, timeout=60)
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout)["delivered"] == 1
        first, second = rx.requests
    assert first.body == second.body
    assert second.headers["zenoti-webhook-signature"] == first.headers["zenoti-webhook-signature"]
    with Store(db) as store:
        d = store.get_delivery(1)
        assert (d.status, d.attempts) == ("delivered", 2)
        retry = d.schedule[1]
        # resumed on schedule: not before it was due
        assert second.at >= retry.due_at - 0.01
    assert _pending_retries(db) == 0


def test_secret_can_come_from_the_environment(db: str, receiver: Receiver) -> None:
    result = CliRunner().invoke(
        cli, ["fire", "--url", receiver.url, "--db", db], env={"ZENOTI_EMULATOR_SECRET": SECRET}
    )
    assert result.exit_code == 0, result.stderr
    [req] = receiver.requests
    from emulator.delivery.signing import verify

    assert verify(req.body, req.headers["zenoti-webhook-signature"], SECRET)
