"""Hardening, second round (issue 21): each repro of the probe, on real processes, real
loopback sockets and a real SQLite log.

Bad command lines that only need one ``Error:`` line are rows of the CLI sweep
(``test_cli_bad_input.py``); what needs a file, a server or a log to set up is here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from emulator import bounds
from emulator.cli import cli
from emulator.delivery.sender import serialize
from emulator.scenario import story

from .receivers import Receiver, closed_port_url
from .test_relay import ZENOTI_TIMEOUT, RelayServer, event, make_relay  # noqa: F401 - the fixture
from .web_support import LiveServer, make_app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ZENOTI_EMULATOR_DB", str(tmp_path / "log.sqlite3"))
    return tmp_path


def one_error(result: Any, code: int = 2) -> str:
    """The one ``Error:`` line of a run that exited ``code`` without a traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert len(errors[0]) < 400
    return errors[0]


def run(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


# -- 3. deep nesting ----------------------------------------------------------------------

DEEP_1000 = b"[" * 1000 + b"]" * 1000


@pytest.mark.parametrize("body", [DEEP_1000, b"[" * 900 + b"]" * 900, b'{"a":' * 1000 + b"1" + b"}" * 1000])
def test_the_relay_keeps_a_deeply_nested_body_byte_for_byte_and_flags_it(make_relay: Any, body: bytes) -> None:
    with Receiver() as rx:
        relay = make_relay(rx.url)
        answer = relay.send(body, secret=None)
        assert answer.status_code == 202, answer.text  # as for any invalid body, not 500
        assert answer.json()["schema"] == "too-deep"
        relay.deliverer.wait()
        (capture,) = relay.captures()
        assert capture.body == body and capture.schema_status == "invalid"
        assert "nested more than" in capture.report["message"]
        assert rx.wait_for(1)[0].body == body


def test_the_relay_answers_405_to_options(make_relay: Any) -> None:
    relay = make_relay(closed_port_url())
    answer = requests.options(relay.url, timeout=ZENOTI_TIMEOUT)
    assert answer.status_code == 405 and answer.json()["error"]["code"] == "method_not_allowed"
    assert relay.captures() == []


def test_fire_from_a_deeply_nested_file_is_one_line(env: Path) -> None:
    path = env / "deep.json"
    path.write_bytes(DEEP_1000)
    assert "nested more than 64 levels" in one_error(run("fire", "-t", closed_port_url(), "--from-file", str(path)))


# -- 8. bounded memory on one huge input ----------------------------------------------------


def test_fire_refuses_an_endless_file_after_reading_one_event_s_worth(env: Path) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("needs /dev/zero")
    assert "larger than 1024 KiB" in one_error(run("fire", "-t", closed_port_url(), "--from-file", "/dev/zero"))


@pytest.mark.parametrize("name", ["big.json", "big.jsonl"])
def test_fire_refuses_a_line_larger_than_any_event_and_sends_nothing(env: Path, name: str) -> None:
    path = env / name
    with path.open("wb") as out:  # one line of 3 MiB: a JSON string no event holds
        out.write(b'{"event_type":"AppointmentGroup.Created","data":"' + b"x" * (3 << 20) + b'"}\n')
    with Receiver() as rx:
        line = one_error(run("fire", "-t", rx.url, "--from-file", str(path)))
        assert "larger than 1024 KiB" in line and str(path) in line
        assert rx.requests == []


def test_an_event_just_under_the_bound_is_still_sent(env: Path) -> None:
    body = serialize(event())
    padded = body[:-1] + b',"pad":"' + b"x" * (bounds.MAX_EVENT_BYTES - len(body) - 20) + b'"}'
    assert len(padded) <= bounds.MAX_EVENT_BYTES
    (env / "one.json").write_bytes(padded)
    with Receiver() as rx:
        result = run("fire", "-t", rx.url, "--from-file", str(env / "one.json"), "--no-retry")
        assert result.exit_code == 0, result.output
        assert rx.wait_for(1)[0].body == padded


def test_validate_reports_a_huge_line_as_one_invalid_record(env: Path) -> None:
    path = env / "huge.jsonl"
    with path.open("wb") as out:
        out.write(serialize(event()) + b"\n")
        out.write(b'{"x":"' + b"y" * (2 << 20) + b'"}\n')
    result = run("validate", str(path), "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    (huge,) = [e for e in report["events"] if e["reason"] == "too_large"]
    assert "larger than 1024 KiB" in huge["message"] and huge["status"] == "invalid"
    assert report["summary"]["valid"] == 1, report["summary"]


def test_fire_from_an_empty_folder_is_an_error_not_a_success(env: Path) -> None:
    (env / "empty").mkdir()
    assert "No events in" in one_error(run("fire", "-t", closed_port_url(), "--from-file", str(env / "empty")))


# -- 4. tiny and huge time scales; old rows that hold them ----------------------------------


def test_a_log_row_with_an_infinite_due_time_is_shown_and_resumed(env: Path, command: str) -> None:
    db = env / "log.sqlite3"
    target = closed_port_url()
    fired = run("fire", "-t", target, "--max-attempts", "2", "--no-wait")
    assert fired.exit_code == 0, fired.output
    with sqlite3.connect(db) as conn:  # what --time-scale 1e-320 wrote before it was refused
        conn.execute("UPDATE scheduled_attempts SET due_at = 9e999, time_scale = 1e-320 WHERE state = 'pending'")
        conn.execute("UPDATE deliveries SET options = json_set(options, '$.time_scale', 1e-320)")
    shown = run("deliveries", "show", "1")
    assert shown.exit_code == 0 and "Traceback" not in shown.output
    as_json = json.loads(run("deliveries", "show", "1", "--json").stdout)
    assert as_json["schedule"][-1]["state"] == "pending"
    app = make_app(env, DATABASE=str(db), TIME_SCALE=1.0)
    with LiveServer(app) as live:
        answer = live.session.get(f"{live.url}/api/deliveries/1", timeout=15)
        assert answer.status_code in (200,), answer.text
    resumed = subprocess.run([command, "resume", "--db", str(db)], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in resumed.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM deliveries WHERE id = 1").fetchone()[0] == "failed"


def test_the_log_refuses_a_non_finite_due_time(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="finite"):
        bounds.check_finite(float("inf"), what="An attempt's due time")
    assert bounds.check_time_scale(600) == 600.0
    for bad in (1e-320, 1e-9, float("nan"), float("inf"), 1e7):
        with pytest.raises(bounds.UsageError):
            bounds.check_time_scale(bad)


# -- 5. scenario files that once crashed -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[step]]\ndo = "create_guest"\nafter = "99999999999999999999d"\n', "longer than 60 days"),
        ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", "TOML nested more than"),
    ],
)
def test_a_scenario_file_that_once_crashed_is_one_line(env: Path, text: str, needle: str) -> None:
    path = env / "bad.toml"
    path.write_text(text, encoding="utf-8")
    for args in (["scenario", "show", str(path)], ["scenario", "run", str(path)]):
        assert needle in one_error(run(*args))


def test_a_copy_of_a_built_in_scenario_draws_what_the_built_in_draws(env: Path) -> None:
    copy = env / "my-day.toml"
    copy.write_text(story._builtin_dir().joinpath("guest-day.toml").read_text(encoding="utf-8"), encoding="utf-8")
    built_in = run("scenario", "run", "guest-day", "--seed", "5")
    copied = run("scenario", "run", str(copy), "--seed", "5")
    assert built_in.exit_code == copied.exit_code == 0, copied.output
    assert copied.stdout == built_in.stdout
    edited = env / "edited.toml"
    edited.write_text(copy.read_text(encoding="utf-8") + "\n# mine now\n", encoding="utf-8")
    assert story.load(str(edited)).stream_name == "edited"


# -- 1. processes sharing one log: each owns what it scheduled while it lives -----------------


def fire_beside(db: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``fire ... --json`` as its own process on ``db``: its exit code and summary."""
    from .test_web_serve import COMMAND

    done = subprocess.run(
        [COMMAND, "fire", "--db", str(db), "--json", *args], capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_fire_beside_serve_and_relay_keeps_its_rate_and_makes_every_attempt(tmp_path: Path) -> None:
    import threading

    from .test_web_serve import COMMAND, serve

    db = tmp_path / "log.sqlite3"
    with (
        serve(db, "--time-scale", "600"),
        Receiver() as rx,
        Receiver() as local,
        _relay_process(COMMAND, db, forward_to=local.url) as relay,
    ):
        bodies = [serialize(event(seed=n)) for n in range(10)]
        answers: list[int] = []

        def zenoti() -> None:  # real Zenoti through the relay, meanwhile
            for body in bodies:
                answers.append(requests.post(relay.url + "/zenoti", data=body, timeout=10).status_code)

        sender = threading.Thread(target=zenoti)
        sender.start()
        code, summary = fire_beside(db, "-t", rx.url, "-n", "20", "--rate", "5/s")
        sender.join(60)
        assert answers == [202] * 10
        assert sorted(r.body for r in local.wait_for(10)) == sorted(bodies)  # each forwarded once, by the relay
        assert code == 0 and summary["delivered"] == 20 and summary["attempts"] == 20, summary
        times = sorted(r.at for r in rx.wait_for(20))
        # serve follows the log every 2 s: had it taken fire's attempts, they would have
        # gone out at once, not 0.2 s apart
        assert times[-1] - times[0] >= 19 / 5 * 0.9, times[-1] - times[0]
        assert len(rx.requests) == 20 and len(local.requests) == 10


@pytest.mark.slow
def test_fire_beside_serve_reports_and_exits_for_the_retries_it_started(tmp_path: Path) -> None:
    from .test_web_serve import serve

    db = tmp_path / "log.sqlite3"
    with serve(db, "--time-scale", "600"), Receiver(default=500) as rx:
        # one retry each, about 3 s later: serve follows the log meanwhile
        code, summary = fire_beside(db, "-t", rx.url, "-n", "3", "--max-attempts", "2", "--time-scale", "10")
        assert code == 1, summary
        assert (summary["failed"], summary["pending"], summary["attempts"]) == (3, 0, 6), summary
        assert len(rx.requests) == 6


@pytest.mark.slow
@pytest.mark.parametrize("how", ["exits", "killed"])
def test_serve_takes_over_the_retries_of_a_fire_that_is_gone(tmp_path: Path, how: str) -> None:
    import signal

    from .test_web_serve import COMMAND, serve
    from .web_support import wait_for

    db = tmp_path / "log.sqlite3"
    with serve(db, "--time-scale", "600"), Receiver([500]) as rx:
        args = [COMMAND, "fire", "--db", str(db), "-t", rx.url, "--max-attempts", "2", "--time-scale", "10"]
        if how == "exits":
            assert subprocess.run([*args, "--no-wait"], capture_output=True, timeout=60).returncode == 0
        else:
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rx.wait_for(1, timeout=30)

            def retry_scheduled() -> bool:  # the first attempt is logged, its retry written down
                with sqlite3.connect(db) as conn:
                    found = conn.execute("SELECT COUNT(*) FROM scheduled_attempts WHERE kind = 'retry'").fetchone()[0]
                conn.close()
                return bool(found)

            wait_for(retry_scheduled, 30, message="fire to schedule its retry")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        first, retry = rx.wait_for(2, timeout=90)  # made by serve, once fire is gone (a loaded CI machine: generous)
        assert retry.body == first.body

        def outcome() -> list[tuple[str, int]]:
            with sqlite3.connect(db) as conn:
                rows = conn.execute("SELECT status, attempts FROM deliveries").fetchall()
            conn.close()
            return rows

        # serve records the answer just after the receiver has it: wait for the row to settle
        wait_for(
            lambda: all(status != "pending" for status, _ in outcome()),
            30,
            message="serve to record the retry's answer",
        )
        assert outcome() == [("delivered", 2)]


# -- 2. slowloris: half requests hold no one else up -----------------------------------------


def slow_connections(url: str, n: int, source: str = "127.0.0.2") -> list[Any]:
    """``n`` connections from ``source`` (another loopback address: another client), each
    sending half a request and stopping there."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    held = []
    for _ in range(n):
        sock = socket.create_connection((parts.hostname, parts.port), timeout=10, source_address=(source, 0))
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")  # headers never end
        held.append(sock)
    return held


@pytest.mark.parametrize("which", ["serve", "relay"])
def test_a_normal_request_is_answered_while_slow_connections_are_held(tmp_path: Path, which: str) -> None:
    from .test_web_serve import COMMAND, serve

    db = tmp_path / "log.sqlite3"
    if which == "serve":
        ctx: Any = serve(db)
    else:
        ctx = _relay_process(COMMAND, db)
    with ctx as running:
        url = running.url
        held = slow_connections(url, 100)  # past waitress's default limit of 100 connections
        try:
            path = "/api/health" if which == "serve" else "/zenoti"
            method = "GET" if which == "serve" else "POST"
            answer = requests.request(method, url + path, data=b"{}" if method == "POST" else None, timeout=10)
            assert answer.status_code in (200, 202), answer.text
            # one client holds at most MAX_PER_CLIENT: the others were told so and closed
            refused = 0
            for sock in held:
                sock.settimeout(0.05)
                try:
                    data = sock.recv(200)
                except OSError:
                    continue
                refused += data.startswith(b"HTTP/1.1 429")
            from emulator.web.server import MAX_PER_CLIENT

            assert refused == 100 - MAX_PER_CLIENT
        finally:
            for sock in held:
                sock.close()


class _relay_process:
    """``zenoti-emulator relay`` as its own process, forwarding to a closed port."""

    def __init__(self, command: str, db: Path, forward_to: str | None = None) -> None:
        self.args = [command, "relay", "--port", "0", "--db", str(db), "--forward-to", forward_to or closed_port_url()]

    def __enter__(self) -> _relay_process:
        import re

        from .web_support import wait_for

        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []
        import threading

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line)

        threading.Thread(target=read, daemon=True).start()
        line = wait_for(
            lambda: next((ln for ln in self.lines if ln.startswith("Relaying ")), None), 20, message="relay to start"
        )
        self.url = re.search(r"http://[^/\s]+", line).group(0)  # type: ignore[union-attr]
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()


def test_a_request_that_does_not_arrive_in_time_is_cut_off(tmp_path: Path) -> None:
    import threading

    from flask import Flask
    from waitress import wasyncore

    from emulator.web import server as web_server

    app = Flask(__name__)
    app.add_url_rule("/", "ok", lambda: "ok", methods=["GET", "POST"])
    srv = web_server.create(app, host="127.0.0.1", port=0, hint="", read_s=1.0, threads=2)
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.is_set():
                wasyncore.loop(timeout=0.05, use_poll=True, map=srv._map, count=1)
        finally:
            wasyncore.close_all(srv._map)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{srv.effective_port}"
        (sock,) = slow_connections(url, 1, source="127.0.0.1")
        started = time.monotonic()
        sock.settimeout(15)
        assert sock.recv(100) == b""  # closed by the server: the request took too long to arrive
        assert time.monotonic() - started < web_server.IDLE_S  # the read deadline, not the idle one
        sock.close()
        assert requests.get(url + "/", timeout=10).text == "ok"
    finally:
        stop.set()
        thread.join(10)
        srv.task_dispatcher.shutdown()


# -- 9. a dripped head is not a body --------------------------------------------------------


def test_a_dripped_status_line_and_headers_are_reported_as_such(env: Path) -> None:
    # 38 bytes of head, one each 50 ms: the status line is in after 0.85 s, the headers
    # would be after 1.9 s; the attempt's deadline falls between
    with Receiver([("drip-head", 0.05)]) as rx:
        result = run("fire", "-t", rx.url, "--timeout", "1.4", "--no-retry", "--json")
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout.strip().splitlines()[-1])["last_failure"]
    assert "body did not finish" not in error and "no response within 1.4 s" in error, error


# -- 6. a password in a target URL lives in the webhook only --------------------------------

PW = "PW-s3cret"


def with_password(url: str) -> str:
    return url.replace("http://", f"http://alice:{PW}@")


@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
@pytest.mark.parametrize("up", [True, False], ids=["reached", "cannot reach"])
def test_check_never_shows_the_password(env: Path, fmt: str, up: bool) -> None:
    from .contract_receiver import ContractReceiver

    with ContractReceiver() as rx:
        url = with_password(rx.url if up else closed_port_url())
        result = run("check", url, "--format", fmt, "--only", "ping,rejects-missing-signature")
    assert "Traceback" not in result.output
    assert PW not in result.output and "alice:****@" in result.output, result.output[:2000]


def test_the_relay_banner_never_shows_the_password(tmp_path: Path, command: str) -> None:
    relay = _relay_process(command, tmp_path / "log.sqlite3")
    relay.args[relay.args.index("--forward-to") + 1] = with_password(closed_port_url())
    with relay as running:
        banner = next(line for line in running.lines if line.startswith("Relaying "))
    assert PW not in banner and "alice:****@" in banner


def test_a_bad_url_with_a_password_is_refused_without_showing_it(env: Path) -> None:
    line = one_error(run("fire", "-t", f"http://alice:{PW}@a b/hook"))
    assert PW not in line and "alice:****@" in line
    app = make_app(env)
    with LiveServer(app) as live:
        answer = live.session.post(f"{live.url}/api/webhooks", json={"url": f"http://alice:{PW}@a b/hook"}, timeout=15)
    assert answer.status_code == 400 and PW not in answer.text and "alice:****@" in answer.text


def test_deliveries_and_attempts_keep_no_password_only_the_webhook_does(env: Path) -> None:
    with Receiver() as rx:
        url = with_password(rx.url)
        assert run("fire", "-t", url, "-n", "2").exit_code == 0
        got = rx.wait_for(2)
    assert got[0].headers["authorization"].startswith("Basic ")  # it was sent
    with sqlite3.connect(env / "log.sqlite3") as conn:
        assert [u for (u,) in conn.execute("SELECT url FROM webhooks")] == [url]
        for table in ("deliveries", "attempts"):
            urls = [u for (u,) in conn.execute(f"SELECT url FROM {table}")]
            assert urls and all(PW not in u and "alice:****@" in u for u in urls), (table, urls)
        dump = "\n".join(conn.iterdump())
    assert dump.count(PW) == 1  # the webhook's row, nowhere else


def test_an_old_log_loses_the_passwords_its_deliveries_copied(env: Path) -> None:
    with Receiver() as rx:
        url = with_password(rx.url)
        assert run("fire", "-t", url).exit_code == 0
    db = env / "log.sqlite3"
    with sqlite3.connect(db) as conn:  # as a log written before deliveries were masked
        conn.execute("UPDATE deliveries SET url = ?", (url,))
        conn.execute("PRAGMA user_version = 0")
    conn.close()
    assert run("deliveries").exit_code == 0  # opening the log is enough
    with sqlite3.connect(db) as conn:
        assert [u for (u,) in conn.execute("SELECT url FROM deliveries")] == [url.replace(PW, "****")]
    conn.close()


# -- 7. a receiver's terminal escapes never reach the terminal ------------------------------

EVIL = "\x1b]0;PWNED\x07\x1b[2J"


class EvilReceiver:
    """Answers every request with escapes in its status line, a header and its body."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        body = f"{EVIL}oops".encode()
        answer = (
            f"HTTP/1.1 500 {EVIL}Broken\r\nX-Evil: {EVIL}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(65536)
                    head, _, rest = data.partition(b"\r\n\r\n")
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length")
                        ),
                        0,
                    )
                    while len(rest) < length:
                        rest += conn.recv(65536)
                    conn.sendall(answer)
                except OSError:
                    pass

    def __enter__(self) -> EvilReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_a_receiver_s_escapes_are_shown_escaped(env: Path) -> None:
    with EvilReceiver() as rx:
        fired = run("fire", "-t", rx.url, "--no-retry")
        fired_json = run("fire", "-t", rx.url, "--no-retry", "--json")
    shown = [
        fired,
        fired_json,
        run("deliveries"),
        run("deliveries", "show", "1"),
        run("deliveries", "show", "1", "--json"),
    ]
    for result in shown:
        assert "Traceback" not in result.output
        assert "\x1b" not in result.output and "\x07" not in result.output, repr(result.output[:3000])
    assert "\\x1b]0;PWNED\\x07" in fired.stderr  # shown, escaped: the evidence is still there
    with sqlite3.connect(env / "log.sqlite3") as conn:  # the log keeps the body byte for byte
        (body,) = conn.execute("SELECT response_body FROM attempts WHERE id = 1").fetchone()
    conn.close()
    assert bytes(body) == f"{EVIL}oops".encode()


@pytest.mark.slow
def test_simulate_in_order_beside_serve_arrives_in_order(tmp_path: Path) -> None:
    from .test_web_serve import COMMAND, serve

    db = tmp_path / "log.sqlite3"
    with serve(db, "--time-scale", "600"), Receiver() as rx:
        done = subprocess.run(
            [
                COMMAND,
                "simulate",
                "--db",
                str(db),
                "-t",
                rx.url,
                "-c",
                "1",
                "--rate",
                "20/s",
                "--seed",
                "3",
                "--days",
                "0.5",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        with sqlite3.connect(db) as conn:
            sent = [
                bytes(b)
                for (b,) in conn.execute(
                    "SELECT e.body FROM deliveries d JOIN events e ON e.id = d.event_row ORDER BY d.id"
                )
            ]
        conn.close()
        assert len(sent) > 40  # long enough to span serve's 2 s follow ticks
        assert [r.body for r in rx.wait_for(len(sent))] == sent
