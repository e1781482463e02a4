"""``zenoti-emulator serve`` as a real process: it starts ready to use, and stops losing nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from .web_support import check_response, wait_for

COMMAND = str(Path(sys.executable).with_name("zenoti-emulator"))


class Served:
    """A running ``serve`` process and what it printed on stderr."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        line = wait_for(
            lambda: next((ln for ln in self.lines if " on http://" in ln), None), 20, message="serve to start"
        )
        self.url = re.search(r"http://[^/\s]+", line).group(0)  # type: ignore[union-attr]
        self.session = requests.Session()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        response = self.session.request(method, self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]
        check_response(method, path, response.status_code, response.headers.get("Content-Type"), response.json)
        return response

    def stop(self, sig: int = signal.SIGINT) -> int:
        self.session.close()
        self.proc.send_signal(sig)
        code = self.proc.wait(20)
        self._reader.join(5)
        return code


@contextmanager
def serve(db: Path, *args: str) -> Iterator[Served]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("ZENOTI_EMULATOR_DB", None)
    proc = subprocess.Popen(
        [COMMAND, "serve", "--port", "0", "--db", str(db), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        served = Served(proc)
        yield served
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def test_serve_starts_ready_to_fire_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    with serve(tmp_path / "log.sqlite3", "--time-scale", "600") as app:
        assert app.url.startswith("http://127.0.0.1:")
        assert app.request("GET", "/api/health").json()["status"] == "ok"
        page = app.session.get(app.url + "/", timeout=10)
        assert page.status_code == 200 and "Zenoti webhook emulator" in page.text
        assert page.headers["Server"] == "zenoti-emulator"  # waitress, not Flask's development server

        fired = app.request("POST", "/api/events", json={"count": 3}).json()
        for d in fired["deliveries"]:
            got = wait_for(
                lambda d=d: (
                    (x := app.request("GET", f"/api/deliveries/{d['id']}").json())["status"] == "delivered" and x
                )
            )
            assert got["last_status_code"] == 200
        rows = app.request("GET", "/api/sinks/default/requests").json()["requests"]
        assert {r["signature"] for r in rows} == {"valid"} and len(rows) == 3

        foreign = app.session.get(app.url + "/api/health", headers={"Host": "attacker.example"}, timeout=10)
        assert foreign.status_code == 403
        assert app.stop(signal.SIGINT) == 0
    assert any("Stopped" in line for line in app.lines), app.lines


def test_pending_retries_survive_a_stop_and_resume_at_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    # 10x faster: the first retry is due 2.4..3.6 s after a failure, time enough to stop.
    with serve(db, "--time-scale", "10") as first:
        first.request("PUT", "/api/sinks/default", json={"status": 503})
        delivery = first.request("POST", "/api/events", json={}).json()["deliveries"][0]
        wait_for(lambda: first.request("GET", f"/api/deliveries/{delivery['id']}").json()["attempts"] == 1)
        first.request("PUT", "/api/sinks/default", json={"status": 200})
        assert first.stop(signal.SIGTERM) == 0

    with serve(db, "--time-scale", "10") as second:
        assert any("resumed 1 pending" in line for line in second.lines), second.lines
        done = wait_for(
            lambda: (
                (d := second.request("GET", f"/api/deliveries/{delivery['id']}").json())["status"] == "delivered" and d
            ),
            timeout=20,
        )
        assert [a["status_code"] for a in done["attempt_log"]] == [503, 200]
        # The built-in sink's webhook followed the server to its new port.
        assert second.request("GET", "/api/webhooks").json()["webhooks"][0]["url"] == f"{second.url}/sink/default"
        assert second.stop() == 0


def test_serve_refuses_a_port_in_use(tmp_path: Path) -> None:
    with serve(tmp_path / "a.sqlite3") as first:
        port = first.url.rsplit(":", 1)[1]
        result = subprocess.run(
            [COMMAND, "serve", "--port", port, "--db", str(tmp_path / "b.sqlite3")],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2
        assert result.stderr.startswith(f"Error: Cannot listen on 127.0.0.1:{port}: Address already in use.")
        assert "Traceback" not in result.stderr
        first.stop()
