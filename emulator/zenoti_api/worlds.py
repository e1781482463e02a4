"""The worlds the app has played, for its ``/v1`` API: the newest few, each with its ledger.

Every stream the app makes (``POST /api/events``, ``/api/events/generate``, a scenario
run) builds a world of its own from its seed; the API answers for the entities any of
the recent ones named, newest first, so a receiver that calls back after a fire finds
what the fire's events named. A world given at start (``serve --api-seed``) stays.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from typing import Any

from flask import Flask, current_app, has_app_context

from ..events.generate import STREAM_WATCHERS, EventStream
from . import tap
from .ledger import Ledger

#: How many recent worlds are kept (each holds its whole history in memory).
KEEP = 8


class Worlds:
    """The newest :data:`KEEP` ledgers of the streams one app made, and a pinned one."""

    def __init__(self, app: Flask, keep: int = KEEP) -> None:
        self.app = app
        self.recent: deque[Ledger] = deque(maxlen=keep)
        self.pinned: Ledger | None = None
        self.lock = threading.Lock()

    def watch(self, stream: EventStream) -> None:
        """A new stream: follow it if it is this app's (made while serving one of its requests)."""
        if not has_app_context() or current_app._get_current_object() is not self.app:  # type: ignore[attr-defined]
            return
        ledger = tap(stream)
        with self.lock:
            self.recent.append(ledger)

    def ledgers(self) -> list[Ledger]:
        """Newest first, the pinned world last."""
        with self.lock:
            found = list(reversed(self.recent))
        return found + ([self.pinned] if self.pinned is not None else [])

    def latest(self) -> Ledger | None:
        found = self.ledgers()
        return found[0] if found else None

    def start(self) -> None:
        """Follow the streams made from now on; the hook goes when this object does."""
        ref = weakref.ref(self)

        def watcher(stream: EventStream) -> None:
            worlds = ref()
            if worlds is None:
                if watcher in STREAM_WATCHERS:
                    STREAM_WATCHERS.remove(watcher)
                return
            worlds.watch(stream)

        STREAM_WATCHERS.append(watcher)


def init_app(app: Flask) -> Worlds:
    """Mount ``/v1`` on the app, answering for the worlds it plays.

    Settings: ``API_KEY``, ``API_RATE_LIMIT`` (calls per minute, None for none),
    ``API_LATENCY`` (seconds), ``API_WORLD`` (``{"seed", "now", "days", "profile"}``: a
    world advanced at start and answered for as long as the app runs).
    """
    from .. import defaults
    from . import advanced_world
    from .service import ApiState, install

    worlds = Worlds(app)
    world: dict[str, Any] | None = app.config.get("API_WORLD")
    if world:
        worlds.pinned = advanced_world(
            seed=world["seed"], now=world["now"], days=world.get("days", 1.0), profile=world.get("profile", "realistic")
        )
    rate = app.config.get("API_RATE_LIMIT")
    state = ApiState(
        worlds.latest,
        ledgers=worlds.ledgers,
        api_key=app.config.get("API_KEY") or defaults.DEFAULT_API_KEY,
        rate_limit=int(rate) if rate else None,
        latency=float(app.config.get("API_LATENCY") or 0.0),
    )
    install(app, state)
    worlds.start()
    app.extensions["zenoti_api_worlds"] = worlds
    return worlds
