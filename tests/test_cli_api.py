"""``zenoti-emulator api`` as a user runs it: the world ``simulate`` printed, at its end."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from .conftest import COMMAND
from .web_support import wait_for

NOW = "2024-07-25T08:00:00Z"
WORLD = ["--seed", "5", "--now", NOW, "--days", "0.5"]


class Running:
    """A running ``api`` process and what it printed on stderr."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        line = wait_for(
            lambda: next((ln for ln in self.lines if " on http://" in ln), None), 60, message="api to start"
        )
        self.url = re.search(r"http://[^/\s]+", line).group(0)  # type: ignore[union-attr]
        self.session = requests.Session()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def get(self, path: str, key: str = "zenoti-emulator-key") -> requests.Response:
        return self.session.get(self.url + path, headers={"Authorization": f"apikey {key}"}, timeout=10)

    def stop(self) -> int:
        self.session.close()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(20)
        self._reader.join(5)
        return code


@contextmanager
def api(*args: str) -> Iterator[Running]:
    proc = subprocess.Popen(
        [COMMAND, "api", "--port", "0", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield Running(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def test_api_answers_for_everything_the_same_simulate_printed_and_stops_cleanly() -> None:
    printed = subprocess.run(
        [COMMAND, "simulate", *WORLD, "--format", "jsonl"], capture_output=True, text=True, check=True
    ).stdout
    events = [json.loads(line) for line in printed.splitlines()]
    created = [e["data"] for e in events if e["event_type"] == "AppointmentGroup.Created"]
    closed = [e["data"]["invoice"] for e in events if e["event_type"] == "Invoice.Closed"]
    assert created and closed
    with api(*WORLD) as running:
        for data in created:
            assert running.get(f"/v1/guests/{data['guest']['id']}").status_code == 200
            group = running.get(f"/v1/appointment_groups/{data['appointment_group_id']}").json()["appointment_group"]
            assert group["invoice_id"] == data["invoice_id"]
        for invoice in closed:
            answered = running.get(f"/v1/invoices/{invoice['id']}").json()["invoice"]
            assert (answered["total_price"], answered["invoice_items"]) == (
                invoice["total_price"],
                invoice["invoice_items"],
            )
        assert running.get("/v1/centers", key="wrong").status_code == 401
        assert running.stop() == 0
    assert any("seed 5" in line for line in running.lines) and running.lines[-1] == "Stopped."


def test_api_takes_its_own_key_rate_limit_and_latency() -> None:
    with api(*WORLD, "--api-key", "k3y", "--rate-limit", "2", "--api-latency", "0.01") as running:
        assert running.get("/v1/centers").status_code == 401
        assert [running.get("/v1/centers", key="k3y").status_code for _ in range(3)] == [200, 200, 429]
        assert running.stop() == 0


@pytest.mark.parametrize(
    "args, says",
    [
        (["--seed", "5"], "Missing option '--now'"),
        ([*WORLD, "--api-latency", "nan"], "--api-latency"),
        ([*WORLD, "--api-latency", "61"], "--api-latency"),
        ([*WORLD, "--rate-limit", "0"], "--rate-limit"),
        (["--seed", "5", "--now", "yesterday"], "--now"),
        (["--seed", "5", "--now", NOW, "--days", "0"], "days"),
        ([*WORLD, "--api-key", " "], "--api-key"),
        (["--seed", "5", "--now", NOW, "--days", "400"], "at most 366 days"),
    ],
)
def test_bad_options_say_what_to_fix_in_one_line_and_exit_2(args: list[str], says: str) -> None:
    done = subprocess.run([COMMAND, "api", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr


def test_api_refuses_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([COMMAND, "api", *WORLD, "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Choose another --port" in done.stderr and "Traceback" not in done.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_paced_simulate_answers_at_the_simulated_clock_not_at_the_end(tmp_path: Path) -> None:
    from flask import Flask, request
    from werkzeug.serving import make_server

    port = _free_port()
    seen: list[tuple[str, int]] = []
    receiver = Flask("callback")

    @receiver.post("/hook")
    def hook() -> tuple[str, int]:
        event = request.get_json(force=True)
        if event["event_type"] == "AppointmentGroup.Created":
            group_id = event["data"]["appointment_group_id"]
            answer = requests.get(
                f"http://127.0.0.1:{port}/v1/appointment_groups/{group_id}",
                timeout=10,
                headers={"Authorization": "apikey zenoti-emulator-key"},
            )
            seen.append((group_id, answer.json()["appointment_group"]["status"] if answer.ok else answer.status_code))
        return "", 200

    server = make_server("127.0.0.1", 0, receiver, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    world = ["--seed", "2", "--now", NOW, "--days", "0.25"]
    try:
        done = subprocess.run(
            [
                COMMAND,
                "simulate",
                *world,
                "-t",
                f"http://127.0.0.1:{server.server_port}/hook",
                "--pace",
                "7200",
                "--api-port",
                str(port),
                "--db",
                str(tmp_path / "log.sqlite3"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.shutdown()
        thread.join()
    assert done.returncode == 0, done.stderr
    printed = [
        json.loads(line)
        for line in subprocess.run(
            [COMMAND, "simulate", *world, "--format", "jsonl"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    ]
    booked = [e["data"]["appointment_group_id"] for e in printed if e["event_type"] == "AppointmentGroup.Created"]
    assert [g for g, _ in seen] == booked and booked
    # Asked as each booking was delivered, every group was just booked (status 0); at the
    # end of the stream some have moved on, which the end-of-stream world would have shown.
    assert {status for _, status in seen} == {0}
    moved = {e["data"]["appointment_group_id"] for e in printed if e["event_type"] == "AppointmentGroup.Status"}
    assert moved & set(booked)
