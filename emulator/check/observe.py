"""What a receiver did with an event, when it lets the checks see (``--observe``, fixtures).

``duplicates`` and ``out-of-order`` judge the effect of an event, not only the answer: a
receiver that applies a duplicate twice answers 2xx all the same. An :class:`Observer`
asks the receiver (over HTTP, or through the pytest fixtures) and gives a receiver that
works after answering :data:`OBSERVE_WITHIN` seconds to show it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..shown import printable as _printable
from .results import excerpt

#: Seconds ``duplicates`` and ``out-of-order`` give a receiver that works after answering
#: to show the effect of an event (``--observe``, the pytest fixtures).
OBSERVE_WITHIN = 3.0


class ObserveError(Exception):
    """The observer could not say (no answer, not the documented JSON)."""


class Observer:
    """What a receiver did with the events it was sent, when it lets us see.

    :param applied: given an event ``id``, how many times the receiver applied it.
    :param group_status: given an ``appointment_group_id``, the status code the receiver
        holds for that group now, or ``None``.
    :param how: how it was given (``--observe URL``, the fixture's name), for the evidence.
    """

    def __init__(
        self, applied: Callable[[str], Any] | None, group_status: Callable[[str], Any] | None, how: str
    ) -> None:
        self.applied = applied
        self.group_status = group_status
        self.how = how


class HTTPObserver(Observer):
    """``--observe URL``: ``GET URL?id=<event id>`` answers ``{"applied": N}`` and
    ``GET URL?group=<group id>`` answers ``{"status": CODE|null}``."""

    def __init__(self, url: str, timeout: float) -> None:
        import requests

        self.url = url
        self.timeout = timeout
        self._session = requests.Session()
        super().__init__(
            lambda event_id: self._get("id", event_id, "applied"),
            lambda group: self._get("group", group, "status"),
            f"--observe {url}",
        )

    def _get(self, param: str, value: str, key: str) -> Any:
        import requests

        try:
            response = self._session.get(self.url, params={param: value}, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise ObserveError(f"GET {self.url}?{param}=… failed: {_printable(str(exc))[:200]}") from None
        try:
            doc = response.json() if response.status_code == 200 else None
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or key not in doc:
            raise ObserveError(
                f"GET {self.url}?{param}=… answered {response.status_code} "
                f"{excerpt(response.content)!r}, not {{'{key}': …}}"
            )
        return doc[key]

    def close(self) -> None:
        self._session.close()


def not_observed(fixture: str) -> str:
    """How a person lets a check see what their receiver did with an event."""
    return f"effect not observed: pass --observe URL, or define the pytest fixture {fixture}, to see it"


def observe_until(ask: Callable[[str], Any], key: str, done: Callable[[Any], bool]) -> Any:
    """Ask until ``done`` says the answer is final or :data:`OBSERVE_WITHIN` passed: a
    receiver that answers first and works later shows the effect a moment after."""
    deadline = time.monotonic() + OBSERVE_WITHIN
    while True:
        value = ask(key)
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(0.05)  # polling the receiver's own state: there is nothing to wait on
