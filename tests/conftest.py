"""Fixtures shared by every test module. Module-specific fixtures live with their tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from emulator.registry import Registry, default_registry

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each module whose tests share a module-scoped fixture on one xdist worker.

    Those fixtures build worlds (seconds of CPU each, for several seeds and profiles):
    spread over four workers, a module would build each of them up to four times.
    ``--dist loadgroup`` (``make test``) sends a group to one worker and spreads the rest
    test by test; without xdist the mark does nothing.
    """
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        scopes = {d.scope for defs in info.name2fixturedefs.values() for d in defs}
        if scopes & {"module", "class", "package"}:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__ if item.module else item.nodeid))
