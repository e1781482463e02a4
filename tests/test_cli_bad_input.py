"""A careless user's inputs: each gets one ``Error:`` line, the right exit code, no traceback.

Each row is a command line that once crashed or exited wrongly (issue 13), or one of its
kind: non-ASCII digits (``²``), ids no row can have, times an event id cannot carry,
unbounded timeouts, deeply nested JSON, an output device that is full, an address that
cannot be bound. The commands run through click's runner with exceptions *not* caught,
so a traceback fails the test instead of being turned into an exit code.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import cli

from .receivers import closed_port_url

BIG = "1" * 30
DEEP = "[" * 100_000 + "]" * 100_000
#: Stands for a closed loopback port, chosen when the test runs: a port picked at import
#: would differ between pytest-xdist's workers, which must all collect the same test ids.
TARGET = "<closed-port>"

#: (arguments, exit code, text the error line holds)
CASES: list[tuple[list[str], int, str]] = [
    # numbers written with a non-ASCII digit, or too large for anything to hold
    (["generate", "--set", "data.appointments.²=1"], 2, "no item ²"),
    (["generate", "--set", "data.appointments.²²²²²²²²²²²²²²²²²²²².x=1"], 2, "does not exist"),
    (["generate", "--set", f"data.appointments.{BIG}.x=1"], 2, "does not exist"),
    (["generate", "-n", "²"], 2, "whole number"),
    (["generate", "-n", BIG], 2, "from 1 to"),
    (["deliveries", "--webhook", "²"], 2, "No webhook"),
    (["deliveries", "--webhook", BIG], 2, "webhook id"),
    (["deliveries", "--limit", BIG], 2, "from 1 to"),
    (["deliveries", "--limit", "²"], 2, "whole number"),
    (["deliveries", "show", BIG], 2, "from 0 to"),
    (["deliveries", "show", "²"], 2, "whole number"),
    (["replay", BIG], 2, "from 0 to"),
    (["reactivate", BIG], 2, "from 0 to"),
    (["reactivate", "²"], 2, "No webhook"),
    # times an ObjectId cannot carry: a usage error, not a generator bug (exit 1)
    (["generate", "--now", "9999-12-31"], 2, "outside what a Zenoti id can carry"),
    (["generate", "--now", "1969-12-31T23:59:59Z"], 2, "outside what a Zenoti id can carry"),
    (["generate", "--now", "2106-02-08"], 2, "outside what a Zenoti id can carry"),
    (["generate", "--now", "0001-01-01T00:00:00+01:00"], 2, "outside what a Zenoti id can carry"),
    # a timeout that never ends, stored and repeated by resume
    (["fire", "-t", TARGET, "--timeout", "inf"], 2, "at most 600 seconds"),
    (["fire", "-t", TARGET, "--timeout", "1e308"], 2, "at most 600 seconds"),
    (["fire", "-t", TARGET, "--timeout", "nan"], 2, "at most 600 seconds"),
    (["fire", "-t", TARGET, "--timeout", "0"], 2, "more than 0"),
    (["fire", "-t", TARGET, "--rate", "1e-300"], 2, "one an hour"),
    (["fire", "-t", TARGET, "--rate", "inf/s"], 2, "one an hour"),
    # issue 21: a non-ASCII digit taken as 3; time scales that overflowed or hung
    (["fire", "-t", TARGET, "--rate", "\u0663/s"], 2, "ASCII digits"),
    (["fire", "-t", TARGET, "--time-scale", "1e-9", "--max-attempts", "2"], 2, "time scale must be from"),
    (["fire", "-t", TARGET, "--time-scale", "1e-320"], 2, "time scale must be from"),
    (["fire", "-t", TARGET, "--time-scale", "nan"], 2, "time scale must be from"),
    (["relay", "--forward-to", TARGET, "--time-scale", "1e-9"], 2, "time scale must be from"),
    (["resume", "--time-scale", "1e309"], 2, "time scale must be from"),
    (["fire", "-t", TARGET, "--from-file", "/dev/zero"], 2, "larger than 1024 KiB"),
    # deeply nested JSON
    (["generate", "--set", f"data.guest.email={DEEP}"], 2, "nested more than 64 levels"),
    # nowhere to write, nowhere to listen
    (["generate", "-o", "/dev/full"], 2, "No space left"),
    # target URLs that cannot be sent to
    (["fire", "-t", "http://a..b/hook"], 2, "host name"),
    (["fire", "-t", "http://a b/hook"], 2, "whitespace"),
]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "log.sqlite3"
    monkeypatch.setenv("ZENOTI_EMULATOR_DB", str(db))
    return tmp_path


def _id(case: tuple[list[str], int, str]) -> str:
    return " ".join(a if len(a) < 24 else a[:20] + "..." for a in case[0])


@pytest.mark.parametrize(("args", "code", "needle"), CASES, ids=[_id(c) for c in CASES])
def test_bad_input_is_one_line_and_the_right_exit_code(env: Path, args: list[str], code: int, needle: str) -> None:
    if args[:3] == ["generate", "-o", "/dev/full"] and not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux's always-full device) to test a write that fails")
    args = [closed_port_url() if a == TARGET else a for a in args]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert needle in errors[0], errors[0]
    assert len(errors[0]) < 400, "one readable line, not a dump of the input"
    assert "Traceback" not in result.output


@pytest.mark.parametrize("where", ["file", "stdin"])
def test_deeply_nested_json_to_validate_is_reported_not_a_crash(env: Path, where: str) -> None:
    path = env / "deep.json"
    path.write_text(DEEP, encoding="utf-8")
    args, stdin = (["validate", str(path)], None) if where == "file" else (["validate", "-"], DEEP)
    result = CliRunner().invoke(cli, args, input=stdin, catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "nested more than 64 levels" in result.stdout


def test_an_address_that_cannot_be_bound_is_one_line(command: str, env: Path) -> None:
    # The installed command, in its own process: waitress leaves the failed socket to
    # the garbage collector, which must not warn inside this test process.
    done = subprocess.run(
        [command, "serve", "--host", "192.0.2.1", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ZENOTI_EMULATOR_DB": str(env / "log.sqlite3")},
    )
    assert done.returncode == 2
    assert done.stderr.startswith("Error: Cannot listen on 192.0.2.1:0") and done.stderr.count("\n") == 1, done.stderr


@pytest.mark.parametrize("host", ["999.1.1.1", "no.such.host.invalid"])
def test_a_host_that_is_no_address_is_one_line(command: str, env: Path, host: str) -> None:
    done = subprocess.run(
        [command, "serve", "--host", host, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ZENOTI_EMULATOR_DB": str(env / "log.sqlite3")},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"Error: Cannot listen on {host}:0") and done.stderr.count("\n") == 1, done.stderr


def test_credentials_in_a_target_url_are_never_printed(env: Path) -> None:
    url = closed_port_url().replace("http://", "http://alice:PW-s3cret@")
    fired = CliRunner().invoke(cli, ["fire", "-t", url, "--no-retry", "--json"], catch_exceptions=False)
    assert fired.exit_code == 1
    listed = [
        CliRunner().invoke(cli, args, catch_exceptions=False)
        for args in (
            ["webhooks"],
            ["webhooks", "--json"],
            ["deliveries"],
            ["deliveries", "--json"],
            ["deliveries", "show", "1"],
            ["deliveries", "show", "1", "--json"],
        )
    ]
    for result in [fired, *listed]:
        assert result.exit_code in (0, 1), result.output
        assert "PW-s3cret" not in result.output
    assert "alice:****@" in listed[1].stdout
