"""How a long-running command (`api`, `relay`) ends: on Ctrl-C or SIGTERM, cleanly.

A terminal sends SIGINT, a process manager (systemd, Docker, CI) SIGTERM; both must end
the server's loop the same way, so that the caller's ``finally`` logs what is in flight.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_until_stopped(loop: Callable[[], object]) -> None:
    """Run ``loop`` (a server's blocking loop) until Ctrl-C or SIGTERM, then return.

    The previous SIGTERM handler is restored, so a caller's own cleanup runs as before.
    """
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        loop()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
