"""Style and types, checked with the tests: ``ruff check``, ``ruff format --check``, ``mypy``.

The settings live in ``pyproject.toml`` (the rule set and why each family is there; mypy
strict on the core: the world and its actions, events, signing, bounds). Each tool runs
from the test venv on the whole project, as a developer would run it, so ``make test``
and CI fail the moment style or types drift. A failure prints the tool's own report:
``ruff check --fix`` and ``ruff format`` repair most of what it lists.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

TOOLS = {
    "ruff check": [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
    "ruff format --check": [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
    # its cache lives in .mypy_cache at the top: a second run checks only what changed
    "mypy": [sys.executable, "-m", "mypy"],
}


@pytest.mark.parametrize("tool", TOOLS)
def test_the_project_is_clean(tool: str) -> None:
    done = subprocess.run(TOOLS[tool], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{tool} found problems:\n{done.stdout}{done.stderr}"
