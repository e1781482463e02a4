"""``pip install .`` (not editable) gives a command that works from any directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from .conftest import ROOT


def test_wheel_carries_the_schemas_and_its_command_runs_anywhere(tmp_path):
    # Build the wheel offline with the hatchling of the test venv (no download).
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("zenoti_webhook_emulator-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "emulator/schemas/appointment-group-created.v1.json" in names

    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    subprocess.run([target / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=300)
    # The dependencies come from the test venv's site-packages on PYTHONPATH; a path
    # there does not run .pth files, so the editable checkout stays out of the picture.
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([target / "bin" / "zenoti-emulator", "generate", "--seed", "1", "--now", "2024-07-25T14:52:06Z"],
                            capture_output=True, text=True, cwd=elsewhere, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["event_type"] == "AppointmentGroup.Created"
    where = subprocess.run([target / "bin" / "python", "-c", "import emulator.registry as r; print(r.schema_dir())"],
                           capture_output=True, text=True, cwd=elsewhere, env=env, timeout=60).stdout
    assert Path(where.strip()).is_relative_to(target)
