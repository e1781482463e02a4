"""Text from outside, as it may be shown: no terminal escapes, no passwords.

Two rules, each owned here, applied where text leaves the emulator for a terminal, a
report or a message:

- :func:`printable`: a receiver (or a sender through the relay) controls its status
  line, headers and body; printed raw, ``\\x1b]0;PWNED\\x07`` retitles the terminal and
  ``\\x1b[2J`` clears it. Every control character is written as an escape (``\\x1b``).
- :func:`masked`: a password in a URL (``https://alice:PW@host``) is kept once, in the
  webhook, to send with; anywhere else it is ``****`` (see :mod:`emulator.urls`).

:func:`safe` is both, for a message that may hold either.
"""

from __future__ import annotations

from .urls import redact_text as masked


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``, ``\\x07``, ``\\u2028``); spaces kept."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or c == " " else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" for c in text
    )


def safe(text: str) -> str:
    """``text`` fit for a terminal and a report: :func:`masked`, then :func:`printable`."""
    return printable(masked(text))


__all__ = ["masked", "printable", "safe"]
