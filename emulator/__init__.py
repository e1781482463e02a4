"""Zenoti's webhooks on your own machine.

The public names are re-exported here and loaded on first use, so that ``import
emulator`` pays for none of Flask, requests or Faker until a name is used (the CLI loads
Flask only for ``serve``).
Everything else is reachable by module path but carries no promise.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Business": "emulator.business",
    "EmulatorError": "emulator.errors",
    "Generator": "emulator.generate",
    "generate_events": "emulator.generate",
    "load_registry": "emulator.registry",
    "sign": "emulator.signing",
    "verify": "emulator.signing",
    "Deliverer": "emulator.delivery",
    "RetryPolicy": "emulator.delivery",
    "create_app": "emulator.web",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emulator' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
