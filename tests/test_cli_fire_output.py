"""What `fire` says (issue 26): a line per event, and hints at a failing receiver.

Every test runs the installed command against a real receiver on loopback. Pipes (what a
script sees) get stable lines; a pseudo-terminal (what a person sees) also gets, at the
first failure, what Zenoti's schedule will do and how to get a quick loop. "At the first
failure" is asserted by order: the hint is read before the receiver has a second request.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .receivers import Receiver, closed_port_url
from .test_cli_validate import read_terminal

SECRET = "whsec_fire_output_0026"
EVENT_LINE = re.compile(
    r"^→ (?P<type>[A-Za-z.]+) (?P<id>\S+)(?: \(attempt (?P<n>\d+)\))? ← (?P<status>\d{3})(?: [A-Za-z ]+)? (?P<ms>\d+) ms(?P<rest>.*)$",
    re.M,
)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "log.sqlite3")


def fire(command: str, db: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`fire` on plain pipes, as a script runs it."""
    return subprocess.run(
        [command, "fire", "-t", url, "--db", db, "--seed", "26", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_a_small_run_prints_a_line_per_event_with_type_id_status_and_latency(command: str, db: str) -> None:
    with Receiver() as rx:
        done = fire(command, db, rx.url, "-n", "3", "-c", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # stdout stays for --json
    lines = [m.groupdict() for m in EVENT_LINE.finditer(done.stderr)]
    sent = [json.loads(r.body) for r in rx.requests]
    assert [(line["type"], line["id"], line["status"], line["rest"]) for line in lines] == [
        (e["event_type"], e["id"], "200", "") for e in sent
    ]
    assert done.stderr.endswith("fire: 3/3 done, delivered 3  failed 0  retried 0\n"), done.stderr
    assert "latency p50" not in done.stderr  # the lines said it all: no summary table


def test_a_large_run_keeps_the_summary_table_and_v_adds_the_lines(command: str, db: str) -> None:
    with Receiver() as rx:
        quiet = fire(command, db, rx.url, "-n", "25")
        verbose = fire(command, db, rx.url, "-n", "25", "-v")
    assert quiet.returncode == verbose.returncode == 0, quiet.stderr + verbose.stderr
    assert not EVENT_LINE.search(quiet.stderr) and "latency p50" in quiet.stderr
    assert len(EVENT_LINE.findall(verbose.stderr)) == 25 and "latency p50" in verbose.stderr


def test_a_retried_event_shows_each_attempt_and_when_the_next_is(command: str, db: str) -> None:
    with Receiver([503], default=200) as rx:
        done = fire(command, db, rx.url, "--time-scale", "60000")
    assert done.returncode == 0, done.stderr
    first, second = EVENT_LINE.finditer(done.stderr)
    assert first["id"] == second["id"] == json.loads(rx.requests[0].body)["id"]
    assert (first["status"], second["status"]) == ("503", "200")
    assert re.fullmatch(r", retry 2 at [0-9:]{8} \(in \d+ s\)", first["rest"]), first.group(0)
    assert (first["n"], second["n"]) == (None, "2")


def test_on_a_pipe_the_failure_lines_stay_stable_with_no_terminal_hint(command: str, db: str) -> None:
    done = fire(command, db, closed_port_url(), "--no-retry")
    assert done.returncode == 1
    assert re.search(r"^→ AppointmentGroup\.Created \S+ ← .*[Rr]efused.*, no retry left$", done.stderr, re.M), (
        done.stderr
    )
    assert "For a quick loop" not in done.stderr and "Ctrl-C" not in done.stderr


def test_a_401_to_a_signed_event_shows_zenotis_header_and_the_check_to_run(command: str, db: str) -> None:
    with Receiver(default=401) as rx:
        done = fire(command, db, rx.url, "-n", "3", "--no-retry", "--secret", SECRET)
    assert done.returncode == 1
    sent = [r.headers["zenoti-webhook-signature"] for r in rx.requests]
    assert len(sent) == 3 and all(s.startswith("sha256 =") for s in sent)
    err = done.stderr
    assert err.count("the receiver refused a signed event (401 Unauthorized)") == 1  # once, not per event
    # the hint shows the header of the first refusal to come back; events go out concurrently,
    # so that may be any of the three the receiver saw
    shown = re.search(r"^  zenoti-webhook-signature: (.*)$", err, re.M)
    assert shown and shown[1] in {s[:40] + "…" for s in sent}, err
    assert f"zenoti-emulator check {rx.url} --secret YOUR_SECRET --only signature-format" in err
    assert SECRET not in err + done.stdout


def test_a_401_to_an_unsigned_event_says_to_pass_the_secret(command: str, db: str) -> None:
    with Receiver(default=401) as rx:
        done = fire(command, db, rx.url, "--no-retry")
    assert done.returncode == 1
    assert "the receiver refused an unsigned event (401 Unauthorized)" in done.stderr
    assert "--secret YOUR_SECRET" in done.stderr and "signature-format" not in done.stderr


# -- on a terminal ---------------------------------------------------------------------------


def read_until(primary: int, needle: bytes, seen: bytes = b"", timeout: float = 30.0) -> bytes:
    """What the terminal shows until ``needle`` (waiting on the fd, not sleeping)."""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{needle!r} never appeared:\n{seen.decode('utf-8', 'replace')}"
        ready, _, _ = select.select([primary], [], [], left)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the other end closed (EIO)
                chunk = b""
            assert chunk, f"the command ended before {needle!r}:\n{seen.decode('utf-8', 'replace')}"
            seen += chunk
    return seen


def on_terminal(command: str, db: str, url: str, *args: str, until: bytes) -> tuple[str, int, str]:
    """Run `fire` with stderr on a pseudo-terminal, read until ``until``, then Ctrl-C:
    (what the terminal showed by then, the exit code, what it showed after)."""
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [command, "fire", "-t", url, "--db", db, *args],
            stdout=subprocess.DEVNULL,
            stderr=secondary,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
        )
        os.close(secondary)
        try:
            seen = read_until(primary, until)
            proc.send_signal(signal.SIGINT)
            rest = read_until(primary, b"Interrupted")
            proc.wait(20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        os.close(primary)
    return seen.decode("utf-8", "replace"), proc.returncode, rest.decode("utf-8", "replace")


def test_at_the_first_failure_a_terminal_learns_the_schedule_and_the_quick_loop(command: str, db: str) -> None:
    with Receiver(default=503) as rx:
        # Zenoti's real schedule: the first retry is 24..36 s away, so by the time the
        # hint is read the receiver has had one request and no more: it came at the failure.
        seen, code, after = on_terminal(command, db, rx.url, "-n", "1", until=b"Why it fails")
        assert len(rx.requests) == 1
    event = seen.index("← 503 Service Unavailable")
    hint = seen.index("fire: delivery 1 failed (503 Service Unavailable).")
    assert event < hint
    text = seen[hint:]
    assert "retries each failed event 5 times, after 30 s, 63 s, 2 min, 5 min, 10 min" in text
    assert "may take up to about 19 min" in text
    assert "--no-retry" in text and "--time-scale 600" in text
    assert "Ctrl-C stops here; the retries stay in the log" in text
    assert f"Why it fails: zenoti-emulator check {rx.url}" in text
    assert code == 130 and "Interrupted: pending retries stay in the log" in after
    with subprocess.Popen([command, "deliveries", "--db", db, "--json"], stdout=subprocess.PIPE, text=True) as listing:
        out, _ = listing.communicate(timeout=20)
    assert [d["status"] for d in json.loads(out)] == ["pending"]  # Ctrl-C kept the retry


def test_the_hint_gives_this_runs_own_schedule(command: str, db: str) -> None:
    url = closed_port_url()
    seen, _, _ = on_terminal(command, db, url, "--time-scale", "2", "--max-attempts", "3", until=b"Why it fails")
    assert (
        "retries each failed event 2 times, after 30 s, 10 min: this run may take up to about 5 min at --time-scale 2"
        in seen
    ), seen


def test_deliveries_at_100_columns_shows_every_event_type_whole(command: str, db: str) -> None:
    url = closed_port_url()
    longest = "Guest.Package.RedemptionReversal"  # the longest type name there is
    for event_type in ("AppointmentGroup.Created", longest):
        assert fire(command, db, url, event_type, "--no-retry").returncode == 1
    primary, secondary = pty.openpty()
    try:
        done = subprocess.run(
            [command, "deliveries", "--db", db],
            stdout=subprocess.DEVNULL,
            stderr=secondary,
            stdin=subprocess.DEVNULL,
            timeout=30,
            env={**os.environ, "COLUMNS": "100", "NO_COLOR": "1"},
        )
        os.close(secondary)
        seen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", read_terminal(primary).decode("utf-8", "replace"))
    finally:
        os.close(primary)
    assert done.returncode == 0
    rows = [line for line in seen.splitlines() if line.strip()]
    assert len(rows) == 3 and all(len(line) <= 100 for line in rows), seen
    assert rows[0].split()[:2] == ["id", "event"] and rows[0].rstrip().endswith("created (UTC)"), seen
    assert rows[1].split()[:2] == ["2", longest] and rows[2].split()[:2] == ["1", "AppointmentGroup.Created"], seen
    assert all(" failed 1 " in row for row in rows[1:]), seen  # status and tries are never cut


def test_with_no_wait_the_hint_says_the_retries_wait_in_the_log(command: str, db: str) -> None:
    primary, secondary = pty.openpty()
    try:
        with Receiver(default=503) as rx:
            done = subprocess.run(
                [command, "fire", "-t", rx.url, "--db", db, "--no-wait"],
                stdout=subprocess.DEVNULL,
                stderr=secondary,
                stdin=subprocess.DEVNULL,
                timeout=30,
                env={**os.environ, "COLUMNS": "200", "TERM": "xterm"},
            )
        os.close(secondary)
        seen = read_terminal(primary).decode("utf-8", "replace")
    finally:
        os.close(primary)
    assert done.returncode == 0  # nothing failed for good: the retry is pending
    assert (
        "retries each failed event 5 times, after 30 s, 63 s, 2 min, 5 min, 10 min: about 19 min, "
        "left in the log for `zenoti-emulator resume`." in seen
    ), seen
    assert "this run may take" not in seen and f"Why it fails: zenoti-emulator check {rx.url}" in seen
