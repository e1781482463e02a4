"""The relay from the command line: ``relay`` and ``serve --relay-to`` as real processes,
``captures export`` then ``validate`` and ``fire --from-file`` round-tripping the same bytes,
and what was relayed on the API (``GET /api/captures``)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from emulator.cli import cli
from emulator.delivery import signing
from emulator.delivery.sender import serialize
from emulator.delivery.store import Store
from emulator.web.services import services_of

from .receivers import Receiver
from .test_relay import ZENOTI_SECRET, ZENOTI_TIMEOUT, RelayServer, event
from .web_support import make_app, wait_for

COMMAND = str(Path(sys.executable).with_name("zenoti-emulator"))


class Process:
    """A running command and what it printed on stderr."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        env.pop("ZENOTI_EMULATOR_DB", None)
        self.proc = subprocess.Popen(
            [COMMAND, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def url_after(self, marker: str) -> str:
        line = wait_for(
            lambda: next((ln for ln in self.lines if marker in ln), None), 20, message=f"{marker!r} in {self.lines}"
        )
        return re.search(r"http://[^/\s]+", line.split(marker, 1)[1]).group(0)  # type: ignore[union-attr]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(20)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()


@contextmanager
def running(*args: str, env: dict[str, str] | None = None) -> Iterator[Process]:
    process = Process(*args, env=env)
    try:
        yield process
    finally:
        process.kill()


def signed_post(url: str, body: bytes, **headers: str) -> requests.Response:
    sent = {"Content-Type": "application/json", signing.SIGNATURE_HEADER: signing.sign(body, ZENOTI_SECRET), **headers}
    return requests.post(url, data=body, headers=sent, timeout=ZENOTI_TIMEOUT)


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_relay_command_keeps_forwards_prints_a_line_and_stops_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    # the secret from the environment, out of the process list
    with (
        Receiver() as rx,
        running(
            "relay",
            "--port",
            "0",
            "--forward-to",
            rx.url,
            "--db",
            str(db),
            env={"ZENOTI_EMULATOR_RELAY_SECRET": ZENOTI_SECRET},
        ) as relay,
    ):
        url = relay.url_after("Relaying ")
        body = serialize(event())
        answer = signed_post(url + "/zenoti", body)
        assert answer.status_code == 202
        assert rx.wait_for(1)[0].body == body
        ev_id = json.loads(body)["id"]
        line = wait_for(
            lambda: next((ln for ln in relay.lines if f"id={ev_id}" in ln), None), message="the event's line"
        )
        assert re.search(
            rf"\d\d:\d\d:\d\d  AppointmentGroup.Created  id={ev_id}  sig=valid  schema=valid  -> 200  \d+ ms", line
        )
        assert relay.stop() == 0
    listed = run("deliveries", "--json", "--db", str(db))
    (delivery,) = json.loads(listed.output)  # type: ignore[attr-defined]
    assert delivery["call_id"] == ev_id and delivery["status"] == "delivered" and delivery["url"] == rx.url


def test_relay_refuses_a_port_in_use_in_one_line(tmp_path: Path) -> None:
    with Receiver() as rx:
        port = rx.url.rsplit(":", 1)[1].split("/")[0]
        result = CliRunner().invoke(
            cli, ["relay", "--port", port, "--forward-to", rx.url, "--db", str(tmp_path / "x.db")]
        )
    assert result.exit_code == 2
    assert (
        result.output.strip().startswith("Error: Cannot listen on 127.0.0.1:")
        and len(result.output.strip().splitlines()) == 1
    )


def test_relay_needs_a_forward_url_that_is_http(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["relay", "--forward-to", "ftp://x/y", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2 and "http:// or https://" in result.output
    result = CliRunner().invoke(
        cli, ["relay", "--forward-to", "http://127.0.0.1:9/h", "--refuse-bad-signature", "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 2 and "--secret" in result.output


def test_serve_relay_to_runs_the_relay_on_its_own_port_beside_the_dashboard(tmp_path: Path) -> None:
    with (
        Receiver() as rx,
        running(
            "serve",
            "--port",
            "0",
            "--db",
            str(tmp_path / "log.sqlite3"),
            "--time-scale",
            "600",
            "--relay-to",
            rx.url,
            "--relay-port",
            "0",
            "--relay-secret",
            ZENOTI_SECRET,
        ) as served,
    ):
        relay_url = served.url_after("Relay endpoint on ")
        app_url = served.url_after("Zenoti webhook emulator on ")
        assert relay_url != app_url
        body = serialize(event())
        answer = signed_post(relay_url + "/hooks/zenoti", body, Host="abc.trycloudflare.com")
        assert answer.status_code == 202
        assert rx.wait_for(1)[0].body == body
        # the relay's port reaches nothing else; the dashboard's port keeps its Host check
        assert requests.get(relay_url + "/api/health", timeout=5).status_code == 405
        assert requests.get(app_url + "/api/health", timeout=5).status_code == 200
        assert (
            requests.get(app_url + "/api/health", headers={"Host": "abc.trycloudflare.com"}, timeout=5).status_code
            == 403
        )
        delivery_id = answer.json()["delivery_id"]
        shown = wait_for(
            lambda: (
                (d := requests.get(f"{app_url}/api/deliveries/{delivery_id}", timeout=5).json())["status"]
                == "delivered"
                and d
            )
        )
        assert shown["body"] == body.decode()  # on the dashboard's API like any delivery
        assert served.stop() == 0


@pytest.fixture
def relayed(tmp_path: Path) -> tuple[Path, list[bytes]]:
    """A log holding what a relay received: valid, drifted and invalid events, a ping, a forged one."""
    db = tmp_path / "log.sqlite3"
    drifted = event(seed=2, loyalty_points=3)
    bad = event(seed=3)
    bad["data"]["invoice_number"] = 15544
    bodies = [serialize(event(seed=1)), serialize(drifted), serialize(bad)]
    with Receiver() as rx:
        relay = RelayServer(db, rx.url, secret=ZENOTI_SECRET)
        try:
            for body in bodies:
                assert relay.send(body).status_code == 202
            assert relay.send(b"", secret=None, content_type=None).status_code == 202  # the ping
            relay.deliverer.wait()
        finally:
            relay.close()
    return db, bodies


def test_export_to_a_folder_then_validate_and_fire_from_file_round_trip_the_same_bytes(
    tmp_path: Path, relayed: tuple[Path, list[bytes]]
) -> None:
    db, bodies = relayed
    out = tmp_path / "fixtures"
    result = run("captures", "export", "-o", str(out), "--db", str(db))
    assert "Exported 3 events one file each in" in result.output and "1 pings left out" in result.output  # type: ignore[attr-defined]
    files = sorted(out.iterdir())
    assert [f.read_bytes() for f in files] == bodies
    assert files[0].name.startswith("000001-AppointmentGroup.Created-")
    for f in files:  # only bodies: no signature, no secret
        assert ZENOTI_SECRET.encode() not in f.read_bytes() and b"sha256" not in f.read_bytes()

    checked = run("validate", str(out), "--format", "json")
    report = json.loads(checked.output)  # type: ignore[attr-defined]
    assert report["summary"]["valid"] == 2 and report["summary"]["invalid"] == 1
    unknown = report["drift"]["event_types"]["AppointmentGroup.Created"]["unknown_fields"]
    assert [u["path"] for u in unknown] == ["$.data.loyalty_points"]

    with Receiver() as rx:
        fired = run(
            "fire", "--from-file", str(out), "-t", rx.url, "--secret", "local-secret", "--db", str(tmp_path / "fire.db")
        )
        assert fired.exit_code == 0, fired.output  # type: ignore[attr-defined]
        got = rx.wait_for(3)
    assert sorted(r.body for r in got) == sorted(bodies)  # same bytes, invalid one included
    assert all(signing.verify(r.body, r.headers[signing.SIGNATURE_HEADER], "local-secret") for r in got)  # re-signed


def test_export_as_json_lines_filters_and_round_trips(tmp_path: Path, relayed: tuple[Path, list[bytes]]) -> None:
    db, bodies = relayed
    out = tmp_path / "relayed.jsonl"
    result = run(
        "captures",
        "export",
        "-o",
        str(out),
        "--event-type",
        "AppointmentGroup.Created",
        "--since",
        "1h",
        "--db",
        str(db),
    )
    assert "Exported 3 events as JSON Lines to" in result.output  # type: ignore[attr-defined]
    assert out.read_bytes() == b"".join(b + b"\n" for b in bodies)
    none = run(
        "captures", "export", "-o", str(tmp_path / "none.jsonl"), "--since", "2999-01-01T00:00:00Z", "--db", str(db)
    )
    assert "Exported 0 events" in none.output and (tmp_path / "none.jsonl").read_bytes() == b""  # type: ignore[attr-defined]
    other = run("captures", "export", "-o", str(tmp_path / "other"), "--event-type", "Guest.Created", "--db", str(db))
    assert "Exported 0 events" in other.output  # type: ignore[attr-defined]
    with Receiver() as rx:
        fired = run("fire", "--from-file", str(out), "-t", rx.url, "--db", str(tmp_path / "fire.db"))
        assert fired.exit_code == 0
        assert sorted(r.body for r in rx.wait_for(3)) == sorted(bodies)


def test_a_body_spanning_lines_is_written_compact_in_json_lines_and_exact_in_a_folder(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    pretty = json.dumps(event(), indent=2).encode()
    broken = b"not json\nat all"
    with Receiver() as rx:
        relay = RelayServer(db, rx.url)
        try:
            relay.send(pretty, secret=None)
            relay.send(broken, secret=None)
            relay.deliverer.wait()
        finally:
            relay.close()
    lines = run("captures", "export", "-o", str(tmp_path / "x.jsonl"), "--db", str(db))
    assert "1 written compact" in lines.output and "Left out capture 2: not JSON and spans lines" in lines.output  # type: ignore[attr-defined]
    assert json.loads((tmp_path / "x.jsonl").read_bytes()) == json.loads(pretty)
    run("captures", "export", "-o", str(tmp_path / "dir"), "--db", str(db))
    assert [f.read_bytes() for f in sorted((tmp_path / "dir").iterdir())] == [pretty, broken]


def test_replay_sends_a_relayed_event_again_with_the_same_bytes(
    tmp_path: Path, relayed: tuple[Path, list[bytes]]
) -> None:
    db, bodies = relayed
    listed = json.loads(run("deliveries", "--json", "--db", str(db)).output)  # type: ignore[attr-defined]
    first = min(d["id"] for d in listed)
    (webhook,) = json.loads(run("webhooks", "--json", "--db", str(db)).output)  # type: ignore[attr-defined]
    with Receiver() as rx:
        # the receiver the relay forwarded to is gone: point its webhook at this one and replay
        with Store(db) as store:
            store.update_webhook(webhook["id"], url=rx.url)
        replayed = run("replay", str(first), "--db", str(db))
        assert replayed.exit_code == 0  # type: ignore[attr-defined]
        assert [r.body for r in rx.wait_for(1)] == [bodies[0]]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["captures", "export", "-o", "x", "--since", "yesterday"], "'since' must be an ISO 8601 time"),
        (["fire", "-t", "http://127.0.0.1:9/h", "--from-file", "no/such/file.jsonl"], "Cannot read no/such/file.jsonl"),
        (
            ["fire", "-t", "http://127.0.0.1:9/h", "--from-file", "x.jsonl", "--set", "data.x=1"],
            "--from-file sends recorded bytes",
        ),
    ],
)
def test_mistakes_are_one_line_and_exit_2(tmp_path: Path, args: list[str], expected: str) -> None:
    result = CliRunner().invoke(cli, [*args, "--db", str(tmp_path / "log.db")])
    assert result.exit_code == 2, result.output
    assert expected in result.output and len(result.output.strip().splitlines()) == 1


def test_the_api_lists_what_was_relayed_with_its_verdicts(tmp_path: Path, relayed: tuple[Path, list[bytes]]) -> None:
    db, bodies = relayed
    app = make_app(tmp_path, DATABASE=str(db), PUBLIC_URL="http://127.0.0.1:9", SEED_DEFAULTS=False)
    try:
        client = app.test_client()
        first = client.get("/api/captures?limit=2").get_json()  # checked against /openapi.json
        assert [c["body"].encode() for c in first["captures"]] == bodies[:2] and first["next_after"] == 2
        rest = client.get(f"/api/captures?after={first['next_after']}").get_json()
        assert [c["signature"] for c in rest["captures"]] == ["valid", "ping"] and rest["next_after"] is None
        drifted = first["captures"][1]
        assert drifted["schema"]["drift"] == ["unknown field $.data.loyalty_points (integer)"]
        assert drifted["delivery_id"] is not None and drifted["path"] == "/zenoti"
        assert all(name.lower() != signing.SIGNATURE_HEADER for name, _ in drifted["headers"])
        typed = client.get("/api/captures?event_type=AppointmentGroup.Created&since=1h").get_json()
        assert len(typed["captures"]) == 3
        for query, parameter in (("limit=0", "limit"), ("after=-1", "after"), ("since=soon", "since")):
            answer = client.get(f"/api/captures?{query}")
            assert answer.status_code == 400 and parameter in answer.get_json()["error"]["message"]
    finally:
        services_of(app).close()
