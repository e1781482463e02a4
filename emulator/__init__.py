"""Zenoti's webhooks on your own machine.

What the product does, one package each (each package's docstring lists its modules):

- :mod:`.world`: a seeded Zenoti organization with one clock (centers, guests, staff,
  calendars); :mod:`.world.actions`, what happens in it and the events Zenoti sends when
  it does; :mod:`.world.simulation`, when things happen;
- :mod:`.events`: the schemas (catalog, registry), the projection of what the world
  emits into Zenoti's payloads, generation, ``--set`` overrides;
- :mod:`.delivery`: sending events as Zenoti does (the deliverer, its retry policy and
  transport, signing), the delivery log, the built-in sinks, pacing and disorder;
- :mod:`.captures`: what real Zenoti sent, read from every capture format, validated,
  its drift reported; the relay, and recorded events exported as fixtures;
- :mod:`.check`: contract checks of a receiver, what an answer means, the report;
- :mod:`.scenario`: built-in and user-written stories played through the actions;
- :mod:`.load`: a busy organization's load on a receiver (Locust);
- :mod:`.zenoti_api`: Zenoti's REST API, read side, answering from the same world;
- :mod:`.web`: the dashboard and the HTTP API; :mod:`.cli`: the ``zenoti-emulator``
  command; :mod:`.pytest_plugin`: the fixtures and the check suite as pytest items.

Beside them, small modules every part shares: :mod:`.errors` (each error with its exit
code and HTTP status), :mod:`.bounds` (the one place hostile input is bounded),
:mod:`.urls` and :mod:`.shown` (what may be shown of a URL or a receiver's text),
:mod:`.variants` (the facts about Zenoti receivers read two ways) and :mod:`.defaults`
(the options' values, importing nothing, so ``--help`` stays fast).

Arrows point one way: the core (world, events, delivery, captures, check) imports no
click or flask, and only the delivery log and the sinks touch SQLite; a package never imports one
that imports it. The public names are re-exported here and loaded on first use, so that
``import emulator`` pays for none of Flask, requests or Faker until a name is used (the
CLI loads Flask only for ``serve``). Everything else is reachable by module path but
carries no promise.
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
    "RetryPolicy": "emulator.delivery.retry",
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
