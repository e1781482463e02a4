"""What the CLI says when things go wrong, and the exit code that goes with it.

A newcomer's first hour (issue 14): a run that fails says why while it happens, stops
waiting once nothing more can be sent, and exits with a code that matches its help; a
typo is refused with a did-you-mean instead of silently doing something else. Every
test runs the real command against a real receiver on loopback and a real SQLite log.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from emulator.cli import cli
from emulator.delivery.store import Store

from .receivers import Receiver, closed_port_url
from .test_web_serve import serve


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "log.sqlite3")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_url_given_without_target_says_did_you_mean_target(db: str) -> None:
    result = run("fire", "http://127.0.0.1:9000/hook", "--db", db)
    assert result.exit_code == 2
    assert "is a URL, not an event type. Did you mean --target http://127.0.0.1:9000/hook?" in result.stderr
    assert not Path(db).exists()  # nothing was sent or logged


def test_a_typo_in_the_last_key_of_set_is_refused_with_did_you_mean() -> None:
    result = run("generate", "--seed", "1", "--set", "data.guest.emial=x")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "data.guest has no field 'emial'. Did you mean data.guest.email?" in result.stderr
    assert "+data.guest.emial=VALUE" in result.stderr


def test_a_plus_in_front_of_set_adds_a_new_field() -> None:
    result = run("generate", "--seed", "1", "--format", "jsonl", "--no-validate", "--set", "+data.guest.nickname=Bob")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["data"]["guest"]["nickname"] == "Bob"


def test_one_off_targets_subscribe_to_no_event_type(db: str) -> None:
    with Receiver() as rx:
        assert run("fire", "-t", rx.url, "--db", db).exit_code == 0
    result = run("webhooks", "--db", db)
    assert "(one-off target)" in result.stderr
    assert " * " not in result.stderr


def test_fire_says_why_a_receiver_fails_and_when_the_retry_is(db: str) -> None:
    with Receiver([401], default=200) as rx:
        result = run("fire", "-t", rx.url, "--db", db, "--secret", "wrong", "--time-scale", "60000")
    assert result.exit_code == 0, result.stderr
    assert re.search(
        r"^→ AppointmentGroup\.Created \w+ ← 401 Unauthorized \d+ ms, retry 2 at [0-9:]{8} \(in \d+ s\)$",
        result.stderr,
        re.M,
    ), result.stderr


def test_a_large_run_says_the_last_failure_instead_of_a_line_per_event(db: str) -> None:
    with Receiver([401], default=200) as rx:
        result = run("fire", "-t", rx.url, "--db", db, "-n", "25", "-c", "1", "--time-scale", "60000")
    assert result.exit_code == 0, result.stderr
    assert "fire: last failure: delivery 1 attempt 1: HTTP 401 Unauthorized; retry 2 at " in result.stderr
    assert "→" not in result.stderr


def test_fire_stops_waiting_once_the_webhook_is_deactivated(db: str, command: str) -> None:
    # Real schedule (time scale 1): without stopping, the retries would keep fire for 30 s or more.
    with Receiver(default=401) as rx:
        done = subprocess.run(
            [command, "fire", "-t", rx.url, "--db", db, "-n", "3", "--deactivate-after", "3", "--json"],
            capture_output=True,
            text=True,
            timeout=25,
        )
    assert done.returncode == 1
    assert "webhook deactivated after this failure" in done.stderr
    assert "Webhook 1 is now deactivated. Fix the receiver, then run: zenoti-emulator reactivate 1" in done.stderr
    summary = json.loads(done.stdout)
    assert (summary["failed"], summary["pending"], summary["attempts"]) == (3, 0, 3)


def test_replay_all_failed_stopped_by_deactivation_exits_1_and_says_how_many_were_not_sent(db: str) -> None:
    url = closed_port_url()
    # 60 failures, one short of the threshold: the first failed replay deactivates the webhook.
    fired = run("fire", "-t", url, "--db", db, "-n", "60", "--no-retry", "--deactivate-after", "61", "--json")
    assert fired.exit_code == 1 and json.loads(fired.stdout)["failed"] == 60
    result = run("replay", "--all-failed", "--db", db, "--json", "--concurrency", "1")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    # Replays run at most two per worker ahead: the first failure stops the rest.
    assert summary["events"] <= 3 and summary["events"] + summary["not_replayed"] == 60
    assert summary["delivered"] == 0 and summary["failed"] == summary["events"]
    assert f"{summary['not_replayed']} not sent" in result.stderr and "reactivate" in result.stderr


def test_resume_time_scale_runs_waiting_retries_sooner(db: str, command: str) -> None:
    with Receiver([503], default=200) as rx:
        fired = run("fire", "-t", rx.url, "--db", db, "--no-wait", "--json")  # retry due in 24..36 s
        assert json.loads(fired.stdout)["pending"] == 1
        done = subprocess.run(
            [command, "resume", "--db", db, "--time-scale", "600", "--json"], capture_output=True, text=True, timeout=20
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["delivered"] == 1
        assert len(rx.requests) == 2


def test_resume_without_time_scale_says_when_the_first_retry_is_due(db: str, command: str) -> None:
    with Receiver([503], default=200) as rx:
        run("fire", "-t", rx.url, "--db", db, "--no-wait")
        with subprocess.Popen([command, "resume", "--db", db], stderr=subprocess.PIPE, text=True) as proc:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=20)
    assert "1 pending; the first retry is due at" in line and "--time-scale 600" in line


def test_ctrl_c_says_what_is_left_once_and_exits_130(db: str, command: str) -> None:
    with Receiver(default=200, delay=2) as rx:  # in flight when Ctrl-C comes; logged before exit
        proc = subprocess.Popen(
            [command, "fire", "-t", rx.url, "--db", db, "-n", "5", "-c", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            rx.wait_for(1)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130
    assert "Interrupted: pending retries stay in the log" in err
    assert "Aborted!" not in err and "Traceback" not in err


def test_serve_sends_retries_another_process_left_in_the_log(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    with serve(db) as app, Receiver([503], default=200) as rx:
        fired = run("fire", "-t", rx.url, "--db", str(db), "--no-wait", "--time-scale", "600", "--json")
        assert json.loads(fired.stdout)["pending"] == 1
        rx.wait_for(2, timeout=15)  # the retry comes from serve: fire has exited
        app.stop()
    with Store(str(db)) as store:
        assert store.get_delivery(json.loads(fired.stdout)["delivery_ids"][0]).status == "delivered"


def test_on_a_terminal_the_failure_is_printed_above_the_bar_whole(db: str, command: str) -> None:
    from .test_cli_validate import read_terminal

    primary, secondary = pty.openpty()
    try:
        with Receiver(default=401) as rx:
            proc = subprocess.run(
                [command, "fire", "-t", rx.url, "--db", db, "-n", "2", "--deactivate-after", "2"],
                stdout=subprocess.PIPE,
                stderr=secondary,
                timeout=30,
                env={**os.environ, "COLUMNS": "60", "TERM": "xterm"},
            )
        os.close(secondary)
        seen = read_terminal(primary).decode("utf-8", "replace")
    finally:
        os.close(primary)
    assert proc.returncode == 1
    assert "━" in seen  # the bar was drawn
    # whole: one line, not cut by the bar's columns (both deliveries fail at once: either is first)
    assert re.search(
        r"→ AppointmentGroup\.Created \w+ ← 401 Unauthorized \d+ ms, retry 2 at [0-9:]{8} \(in \d+ s\)\r?\n", seen
    ), seen
    assert "its waiting retries end now, unsent" in seen
    assert "Aborted!" not in seen and "Traceback" not in seen
