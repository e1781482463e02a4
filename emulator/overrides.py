"""``--set PATH=VALUE``: change one field of every generated event.

``data.guest.email=null`` and ``data.appointments.0.room_name="Suite 4"``: the path is
dotted keys with list indices as numbers (``$.`` and ``[0]`` are accepted too, as the
validator prints them); the value is JSON where it parses and a plain string otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from . import bounds
from .errors import Unprocessable, UsageError

Path = tuple[str | int, ...]
Override = tuple[Path, Any]


def parse_path(text: str) -> Path:
    """``$.data.appointments[0].room_name`` or ``data.appointments.0.room_name`` -> keys."""
    text = text.strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    # a[0], a.[0] and a leading [0] all name item 0
    text = re.sub(r"\.?\[([0-9]+)\]", r".\1", text).removeprefix(".")
    parts = text.split(".")
    if not text or any(part == "" for part in parts):
        raise UsageError(f"Malformed override path {text!r}: use dotted keys like data.guest.email or data.appointments.0.room_name.")
    # ASCII digits only: "²" is a key (str.isdigit() would call it a number int() refuses)
    return tuple(int(part) if bounds.is_index(part) else part for part in parts)


def parse_assignment(text: str) -> Override:
    """``PATH=VALUE`` -> ``(path, value)``; the value parsed as JSON where it can be."""
    path, sep, raw = text.partition("=")
    if not sep:
        raise UsageError(f"Malformed override {text!r}: expected PATH=VALUE, e.g. data.guest.email=null.")
    try:
        value = bounds.loads_json(raw)
    except bounds.TooDeep as exc:
        raise UsageError(f"Override {path.strip()!r}: {exc.message}") from None
    except ValueError:
        value = raw
    return parse_path(path), value


def apply(event: dict[str, Any], overrides: Sequence[Override]) -> dict[str, Any]:
    """Set each path in ``event`` (in place) and return it.

    A missing key at the end of a path is created (Zenoti adds fields too); a missing
    parent, or an index past the end of a list, is an :class:`Unprocessable` usage error
    naming the path (422 over HTTP: the path is well formed, the event lacks it).
    """
    for path, value in overrides:
        target: Any = event
        for depth, key in enumerate(path[:-1]):
            target = _step(target, key, path[: depth + 1])
        last = path[-1]
        if isinstance(target, list):
            if not isinstance(last, int) or last >= len(target):
                raise Unprocessable(f"Override {_dotted(path)}: no item {last} in {_dotted(path[:-1])} (it has {len(target)}).")
            target[last] = value
        elif isinstance(target, dict):
            target[str(last)] = value
        else:
            raise Unprocessable(f"Override {_dotted(path)}: {_dotted(path[:-1])} is a {type(target).__name__}, not an object or list.")
    return event


def _step(target: Any, key: str | int, where: Path) -> Any:
    if isinstance(target, list) and isinstance(key, int):
        if key < len(target):
            return target[key]
        raise Unprocessable(f"Override: no item {key} in {_dotted(where[:-1])} (it has {len(target)}).")
    if isinstance(target, dict) and str(key) in target:
        return target[str(key)]
    raise Unprocessable(f"Override: {_dotted(where)} does not exist in the event.")


def _dotted(path: Path) -> str:
    return ".".join(str(p) for p in path) or "$"
