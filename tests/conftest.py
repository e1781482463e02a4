"""Fixtures shared by every test module. Module-specific fixtures live with their tests."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

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


# -- parallel runs (pytest-xdist) ----------------------------------------------------------


@functools.cache
def _keeps_together(module: str) -> bool:
    """Whether a test module asks for one worker (``pytestmark = pytest.mark.xdist_group(...)``)."""
    path = ROOT / module
    return path.is_file() and "pytest.mark.xdist_group(" in path.read_text(encoding="utf-8")


@pytest.hookimpl(optionalhook=True)  # xdist's hook: unknown when it is not loaded (-p no:xdist)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` (``make test``): a module that shares module fixtures (built
    worlds, the README's world, a browser) on one worker, every other test on its own.

    xdist's ``loadgroup`` would do this from the marks, but with pytest 9.2 its renaming of
    node ids has no effect (ids are derived, no longer stored), so it spreads those modules
    over every worker: each worker built each world again, and the README's blocks, which
    run in order in one world, ran part here and part there. Scheduling by scope does not
    depend on renaming.
    """
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleWhenAsked(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if _keeps_together(module) else nodeid

    return ModuleWhenAsked(config, log)
