"""Fixtures shared by every test module. Module-specific fixtures live with their tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from emulator.events.registry import Registry, default_registry

ROOT = Path(__file__).resolve().parent.parent
#: The installed console command of the venv running the tests.
COMMAND = str(Path(sys.executable).with_name("zenoti-emulator"))


@pytest.fixture(scope="session")
def registry() -> Registry:
    return default_registry()


@pytest.fixture
def command() -> str:
    """Path of the installed ``zenoti-emulator`` (tests run the real thing, not a function)."""
    assert os.path.exists(COMMAND), f"{COMMAND} is not installed: run `make test`"
    return COMMAND
