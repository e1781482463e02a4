"""Start-up: `--help` and shell completion load none of the heavy libraries.

Timings live in ``benchmarks/bench_startup.py``; here the cause is pinned down instead:
a fresh interpreter runs the command and reports which heavy modules it imported. A new
command that imports Faker, jsonschema, requests, rich, Flask or sqlite3 at module top
fails this test (import them inside the command function).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from emulator import defaults

HEAVY = ("faker", "jsonschema", "jsonschema_rs", "requests", "rich", "flask", "sqlite3", "waitress")
#: Only `load` may bring these: Locust monkey-patches the whole process with gevent.
LOAD_ONLY = ("locust", "gevent", "zmq")

PROBE = """
import json, sys
from emulator.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.stdin.readline())))
from socket import socket
import threading
if "gevent" in sys.modules:
    from gevent import monkey
    if monkey.is_module_patched("socket") or monkey.is_module_patched("threading"):
        heavy.append("monkey-patched")
print("HEAVY=" + json.dumps(heavy), file=sys.stderr)
"""


def loaded_by(args: list[str], env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        input=json.dumps(HEAVY + LOAD_ONLY) + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    [line] = [line for line in done.stderr.splitlines() if line.startswith("HEAVY=")]
    return json.loads(line.removeprefix("HEAVY="))


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["fire", "--help"],
        ["validate", "--help"],
        ["deliveries", "--help"],
        ["--version"],
        ["load", "--help"],
    ],
)
def test_help_loads_no_heavy_library(args: list[str]) -> None:
    assert loaded_by(args) == []


@pytest.mark.parametrize("words", ["zenoti-emulator ", "zenoti-emulator fire --", "zenoti-emulator fire --verb "])
def test_shell_completion_loads_no_heavy_library(words: str) -> None:
    env = {
        "_ZENOTI_EMULATOR_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    assert loaded_by([], env) == []


def test_a_command_that_runs_loads_what_it_needs() -> None:
    # The probe can see a heavy import: generating an event loads Faker and the compiled
    # validator; the pure-Python one (jsonschema) only comes when an event fails.
    loaded = set(loaded_by(["generate", "--seed", "1", "--format", "jsonl"]))
    assert {"faker", "jsonschema_rs"} <= loaded and "jsonschema" not in loaded


COUNTING = """
import json, sys
import jsonschema
from emulator.events import catalog
calls = {"check_schema": 0, "bundle": 0}
original_check, original_bundle = jsonschema.Draft202012Validator.check_schema, catalog.bundle

def check_schema(*args, **kwargs):
    calls["check_schema"] += 1
    return original_check(*args, **kwargs)

def bundle(*args, **kwargs):
    calls["bundle"] += 1
    return original_bundle(*args, **kwargs)

jsonschema.Draft202012Validator.check_schema = check_schema
catalog.bundle = bundle
from emulator.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("CALLS=" + json.dumps(calls), file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("args", "types"),
    [
        (["generate", "--seed", "1"], 1),
        (["scenario", "run", "no-show", "--seed", "1"], 2),  # AppointmentGroup.Created and .Status
    ],
)
def test_a_start_checks_no_schema_and_bundles_only_the_types_it_uses(args: list[str], types: int) -> None:
    """Our schemas are checked by the test suite (tests/test_registry.py), not at every
    start, where it cost most of a second; a type is bundled when it is first used."""
    done = subprocess.run(
        [sys.executable, "-c", COUNTING, *args, "--format", "jsonl"], capture_output=True, text=True, timeout=120
    )
    [line] = [line for line in done.stderr.splitlines() if line.startswith("CALLS=")]
    calls = json.loads(line.removeprefix("CALLS="))
    assert done.stdout.strip() and calls == {"check_schema": 0, "bundle": types}


@pytest.mark.parametrize(
    "args",
    [
        ["generate", "--seed", "1", "--format", "jsonl"],
        ["schema", "Guest.Created"],
        ["load", "--worker", "http://127.0.0.1:9/hook"],
    ],
)
def test_commands_other_than_a_running_load_never_load_locust_or_gevent(args: list[str]) -> None:
    # (the last one is a load refused for bad usage: refused before Locust is imported)
    assert not set(loaded_by(args)) & {*LOAD_ONLY, "monkey-patched"}


def test_a_running_load_loads_locust() -> None:
    # The probe can see them: a load (of a port nobody listens on, for a second) imports Locust.
    assert {"locust", "gevent", "monkey-patched"} <= set(
        loaded_by(["load", "http://127.0.0.1:9/hook", "-t", "1s", "-u", "1"])
    )


def test_the_light_defaults_agree_with_the_modules_that_use_them() -> None:
    from emulator.captures import renderers
    from emulator.events import generate

    assert defaults.PROFILES == generate.PROFILES
    assert defaults.DEFAULT_EVENT_TYPE == generate.DEFAULT_EVENT_TYPE
    assert tuple(renderers.RENDERERS) == defaults.REPORT_FORMATS


def test_version_is_the_installed_one() -> None:
    from click.testing import CliRunner

    from emulator import __version__
    from emulator.cli import cli

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"zenoti-emulator, version {__version__}\n"
