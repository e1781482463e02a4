"""The HTTP API keeps the contract ``/openapi.json`` states, checked by schemathesis on every run.

The app runs on waitress on a loopback port; the ``st`` command (schemathesis) reads the
served document and sends what it generates, in every phase (the documented examples,
boundary values, fuzzing, and stateful sequences that follow the document's links: a
webhook created, then read, changed, pinged, deleted), with **all** of its checks: no
5xx, every status and body as documented, schema-valid input accepted, invalid input
refused.

The run in the suite is bounded (``CI_EXAMPLES`` per operation and ``CI_SECONDS`` in all,
so it stays under a minute). A thorough run is the same test with more cases::

    ZENOTI_SCHEMATHESIS_EXAMPLES=200 ZENOTI_SCHEMATHESIS_SECONDS=900 \\
        .venv/bin/python -m pytest tests/test_api_contract.py -s

It prints the number of cases schemathesis generated. Nothing leaves the machine: the
server's deliveries and pings go through ``HTTP(S)_PROXY`` set to a closed loopback port,
so a generated target URL such as ``http://example.com`` is refused locally, never
resolved or reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .receivers import closed_port_url
from .web_support import LiveServer, make_app

ST = str(Path(sys.executable).with_name("st"))
CONFIG = Path(__file__).with_name("schemathesis.toml")
CI_EXAMPLES = 12
CI_SECONDS = 40


@pytest.fixture
def offline_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    # Every request the emulator itself makes goes to a port nobody listens on.
    closed = closed_port_url().removesuffix("/hook")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, closed)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    # A small world behind Zenoti's read API (/v1), so its lists have something in them.
    world = {"seed": 1, "now": datetime(2024, 7, 25, 8, tzinfo=UTC), "days": 0.2}
    app = make_app(tmp_path, TIME_SCALE=10_000.0, DELIVERY_TIMEOUT=2.0, API_WORLD=world)
    with LiveServer(app) as server:
        yield server


def run_schemathesis(url: str, report: Path, *, examples: int, seconds: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return subprocess.run(
        [
            ST,
            "--config-file",
            str(CONFIG),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            # Zenoti's read API (/v1) wants its key; the other paths ignore the header.
            "--header",
            "Authorization: apikey zenoti-emulator-key",
            "--phases",
            os.environ.get("ZENOTI_SCHEMATHESIS_PHASES", "examples,coverage,fuzzing,stateful"),
            "--max-examples",
            str(examples),
            "--max-time",
            str(seconds),
            # one worker: hypothesis describing strategies in two threads at once trips
            # CPython 3.11's ast.parse ("AST constructor recursion depth mismatch")
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--seed",
            "13",
            "--suppress-health-check",
            "all",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=report.parent,  # its .schemathesis cache goes there, not into the repository
        timeout=seconds + 120,
        check=False,
    )


@pytest.mark.slow
def test_every_operation_keeps_the_documented_contract(offline_live: LiveServer, tmp_path: Path) -> None:
    examples = int(os.environ.get("ZENOTI_SCHEMATHESIS_EXAMPLES", CI_EXAMPLES))
    seconds = int(os.environ.get("ZENOTI_SCHEMATHESIS_SECONDS", CI_SECONDS))
    report = tmp_path / "schemathesis.json"
    done = run_schemathesis(offline_live.url, report, examples=examples, seconds=seconds)
    tail = "\n".join(done.stdout.splitlines()[-60:])
    assert done.returncode == 0, f"schemathesis found contract violations:\n{tail}\n{done.stderr[-2000:]}"
    summary = _summary(report)
    print(f"\nschemathesis: {summary}")
    assert summary.get("cases", 1) > 0


def _summary(report: Path) -> dict[str, object]:
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: data[k] for k in ("cases", "failures", "errors", "duration") if k in data} or {"keys": sorted(data)[:10]}
