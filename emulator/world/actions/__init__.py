"""What happens in the world, and the events Zenoti sends when it does.

Each action changes the :class:`~emulator.world.World` and returns the
emissions (:class:`Emission`) Zenoti would send for that change: creating a guest emits
``Guest.Created``, booking emits ``AppointmentGroup.Created``, checking in emits
``AppointmentGroup.Status``. An emission carries the entities the event shows (its
*context*); the event type's schema says which attribute each field shows, and
:mod:`emulator.events.projection` fills it in. Actions never build payloads.

Each module of this package declares ``EMITS``, the event types its actions emit. The
registry pairs every schema with the module that emits its type, so a schema nothing
emits, or an emitted type without a schema, is found when the catalog loads.

A module that plugs into the simulation defines ``install(sim)`` and sees the simulation
only as a :class:`Scheduler`: what it asks of it (the world, ``at``, ``on``) is declared
here, so actions never import :mod:`emulator.world.simulation`, which imports them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any, Protocol

from .. import World


@dataclass(slots=True)
class Emission:
    """One event the world emits: its type, when, and the entities it shows."""

    event_type: str
    moment: datetime
    #: unique in one world's history; names the event's own random stream (its ids)
    key: str
    #: what the schema's ``x-source`` paths read: ``{"guest": Guest, "center": Center, ...}``
    context: dict[str, Any]
    #: ``False``: it happened, but under the chosen variants Zenoti sends no event for it
    #: (it still takes its place in time, so the events around it are the same bytes)
    sent: bool = True


#: What happens at a step: ``step(moment, *args)`` returns the emissions of that moment.
Step = Callable[..., list[Emission]]
#: A handler of a moment (:data:`emulator.world.simulation.MOMENTS`): ``handler(sim, moment, ...)``.
Handler = Callable[..., list[Emission]]


class Scheduler(Protocol):
    """What an action module asks of the simulation that drives it (see ``install(sim)``)."""

    @property
    def world(self) -> World: ...

    def at(self, moment: datetime, step: Step, *args: Any) -> None:
        """Do ``step(moment, *args)`` at ``moment``."""

    def on(self, moment_name: str, handler: Handler) -> None:
        """Call ``handler(sim, moment, ...)`` at each such moment."""


def _modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]


def installers() -> list[ModuleType]:
    """The modules that plug into the simulation (they define ``install(sim)``), by name."""
    return [module for module in _modules() if callable(getattr(module, "install", None))]


def emitters() -> dict[str, ModuleType]:
    """Every event type some action emits, with the module that declares it."""
    found: dict[str, ModuleType] = {}
    for module in _modules():
        for name in getattr(module, "EMITS", ()):
            found[name] = module
    return found
