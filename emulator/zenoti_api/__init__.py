"""Zenoti's REST API, read side, answering from the world the events came from.

A receiver that calls Zenoti back (the guest's phone for an ``AppointmentGroup.Created``,
the invoice's payments) points its Zenoti base URL here and nothing else changes:

- :class:`~.ledger.Ledger` keeps every entity the world's events named;
- :mod:`.answers` shows them through the same schema projection the events use;
- :mod:`.service` is the ``/v1`` blueprint: authentication, paging, 404, 429, latency.

Usage::

    ledger = advanced_world(seed=7, now=start, days=1)   # what `simulate` printed, at its end
    app = create_api_app(ApiState(lambda: ledger))

    stream = EventStream(seed=7, now=start, until=end)
    ledger = tap(stream)                                  # follows the stream as it is read
"""

from __future__ import annotations

from datetime import UTC, datetime

from .. import defaults
from ..errors import UsageError
from ..events.generate import EventStream, check_days, check_moment
from ..world import World
from ..world.simulation import Simulation
from .ledger import Ledger
from .service import DEFAULT_API_KEY, ApiError, ApiState, create_api_app, install

__all__ = ["DEFAULT_API_KEY", "ApiError", "ApiState", "Ledger", "advanced_world", "create_api_app", "install", "tap"]


def advanced_world(*, seed: int, now: datetime, days: float = 1.0, profile: str = "realistic") -> Ledger:
    """The world of ``seed`` run from ``now`` for ``days``: the one ``simulate`` prints.

    Nothing is projected (the events are not wanted, only what they did to the world).
    """
    if days > defaults.MAX_API_DAYS:
        raise UsageError(
            f"The API keeps every entity a world's events named: advance it at most {defaults.MAX_API_DAYS} days, not {days:g}."
        )
    span = check_days(days)
    start = check_moment(now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC)
    world = World(seed, start, profile)
    ledger = Ledger(world)
    with ledger.lock:
        for _ in ledger.watch(Simulation(world).run(start + span)):
            pass
    return ledger


def tap(stream: EventStream) -> Ledger:
    """A ledger that records every emission of ``stream`` as the stream is read.

    The stream's events and the API's answers then come from one world object: what the
    API says at any point agrees with every event handed out before it.
    """
    ledger = Ledger(stream.world)
    stream._emissions = ledger.watch(stream._emissions)  # the one seam EventStream has
    return ledger
