"""Zenoti's webhooks on your own machine.

The public names are re-exported here and loaded on first use, so that ``import
emulator`` pays for none of Flask, requests or Faker until a name is used (the CLI loads
Flask only for ``serve``).
Everything else is reachable by module path but carries no promise.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "World": "emulator.world",
    "EventStream": "emulator.events.generate",
    "simulate_events": "emulator.events.generate",
    "EmulatorError": "emulator.errors",
    "Generator": "emulator.events.generate",
    "generate_events": "emulator.events.generate",
    "load_registry": "emulator.events.registry",
    "sign": "emulator.delivery.signing",
    "verify": "emulator.delivery.signing",
    "Deliverer": "emulator.delivery.deliverer",
    "RetryPolicy": "emulator.delivery.deliverer",
    "create_app": "emulator.web",
}

__all__ = sorted(_EXPORTS)


def _installed_version() -> str:
    # The one source of the version: the installed distribution's metadata (pyproject.toml).
    from importlib import metadata

    try:
        return metadata.version("zenoti-webhook-emulator")
    except metadata.PackageNotFoundError:  # a bare checkout that was never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read on first use: importlib.metadata costs ~30 ms to import
        version = globals()["__version__"] = _installed_version()
        return version
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emulator' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
