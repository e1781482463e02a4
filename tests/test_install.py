"""``pip install .`` (not editable) gives a command that works from any directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from .conftest import ROOT


@pytest.mark.slow
def test_wheel_carries_the_schemas_and_its_command_runs_anywhere(tmp_path):
    # Build the wheel offline with the hatchling of the test venv (no download).
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("zenoti_webhook_emulator-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "emulator/schemas/events/appointment-group-created.v1.json" in names

    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    subprocess.run(
        [target / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    # The dependencies come from the test venv's site-packages on PYTHONPATH; a path
    # there does not run .pth files, so the editable checkout stays out of the picture.
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [target / "bin" / "zenoti-emulator", "generate", "--seed", "1", "--now", "2024-07-25T14:52:06Z"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["event_type"] == "AppointmentGroup.Created"
    where = subprocess.run(
        [target / "bin" / "python", "-c", "import emulator.events.registry as r; print(r.schema_dir())"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        timeout=60,
    ).stdout
    assert Path(where.strip()).is_relative_to(target)
    # The built-in scenarios travel in the wheel too, and play from it.
    from emulator.scenario import builtin_names

    assert {f"emulator/scenario/builtin/{name}.toml" for name in builtin_names()} <= set(names)
    story = subprocess.run(
        [
            target / "bin" / "zenoti-emulator",
            "scenario",
            "run",
            "walk-in",
            "--seed",
            "1",
            "--now",
            "2024-07-25T08:00:00Z",
            "--format",
            "jsonl",
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        timeout=120,
    )
    assert story.returncode == 0, story.stderr
    assert [json.loads(line)["event_type"] for line in story.stdout.splitlines()][:2] == [
        "Guest.Created",
        "AppointmentGroup.Created",
    ]


def test_the_version_comes_from_the_installed_metadata_everywhere(command):
    import emulator
    from emulator.delivery.sender import user_agent

    installed = metadata.version("zenoti-webhook-emulator")
    assert emulator.__version__ == installed
    assert user_agent() == f"zenoti-webhook-emulator/{installed}"
    shown = subprocess.run([command, "--version"], capture_output=True, text=True, check=True, timeout=60)
    assert shown.stdout.split() == ["zenoti-emulator,", "version", installed]


def test_a_checkout_that_was_never_installed_says_its_version_is_unknown(tmp_path):
    # -S: no site-packages, so no metadata of the installed package is found
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import emulator; print(emulator.__version__)"
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path, timeout=60
    )
    assert out.stdout.strip() == "0+unknown"


def _make_plan(target: str, venv_dir: Path) -> list[str]:
    """The commands `make TARGET` would run from nothing (-B: as if nothing were installed; -n: nothing is run)."""
    # Under `make test` the environment says we are a sub-make, which makes make print
    # "Entering directory" lines: plan as a person at a terminal would.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", target, f"VENV={venv_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_make_run_installs_the_runtime_only_and_make_test_adds_the_test_extras(tmp_path):
    run = _make_plan("run", tmp_path / "venv")
    installs = [line for line in run if " pip install " in line and "--upgrade pip" not in line]
    assert installs == [f"{tmp_path}/venv/bin/python -m pip install --quiet -e ."], run
    assert run[-1].rstrip().endswith("zenoti-emulator serve")
    test = _make_plan("test", tmp_path / "venv")
    assert any(line.endswith("pip install --quiet -e '.[test]'") for line in test), test
    assert any("npm ci --prefix tests/node" in line for line in test), test  # express, for the README's receiver
