"""``--set PATH=VALUE``: change one field of every generated event.

``data.guest.email=null`` and ``data.appointments.0.room_name="Suite 4"``: the path is
dotted keys with list indices as numbers (``$.`` and ``[0]`` are accepted too, as the
validator prints them); the value is JSON where it parses and a plain string otherwise.

A path names a field the event has: ``data.guest.emial=x`` is refused with a
did-you-mean instead of quietly adding a field nobody asked for. A ``+`` in front
(``+data.guest.nickname=x``) says the field is meant to be new, as Zenoti adds fields.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from .. import bounds
from ..errors import Unprocessable, UsageError

Path = tuple[str | int, ...]
Override = tuple[Path, Any]


class NewKey(str):
    """The last key of a ``+path``: a field the user means to add, not a typo."""


def parse_path(text: str) -> Path:
    """``$.data.appointments[0].room_name`` or ``data.appointments.0.room_name`` -> keys."""
    text = text.strip()
    adding = text.startswith("+")
    text = text.removeprefix("+").lstrip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    # a[0], a.[0] and a leading [0] all name item 0
    text = re.sub(r"\.?\[([0-9]+)\]", r".\1", text).removeprefix(".")
    parts = text.split(".")
    if not text or any(part == "" for part in parts):
        raise UsageError(
            f"Malformed override path {text!r}: use dotted keys like data.guest.email or data.appointments.0.room_name."
        )
    # ASCII digits only: "²" is a key (str.isdigit() would call it a number int() refuses)
    path: Path = tuple(int(part) if bounds.is_index(part) else part for part in parts)
    if adding:
        if isinstance(path[-1], int):
            raise Unprocessable(f"Override +{text}: + adds a field; a list item cannot be added by its index.")
        path = (*path[:-1], NewKey(path[-1]))
    return path


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

    A key the event lacks is a usage error with the closest existing key, unless the
    path was written ``+path`` (:class:`NewKey`): then it is created. A missing parent,
    or an index past the end of a list, is a usage error naming the path. These are
    :class:`Unprocessable` (422 over HTTP: the path is well formed, the event lacks it).
    """
    for path, value in overrides:
        target: Any = event
        for depth, key in enumerate(path[:-1]):
            target = _step(target, key, path[: depth + 1])
        last = path[-1]
        if isinstance(target, list):
            if not isinstance(last, int) or last >= len(target):
                raise Unprocessable(
                    f"Override {_dotted(path)}: no item {last} in {_dotted(path[:-1])} (it has {len(target)})."
                )
            target[last] = value
        elif isinstance(target, dict):
            if str(last) not in target and not isinstance(last, NewKey):
                raise Unprocessable(_unknown_field(path, target))
            target[str(last)] = value
        else:
            raise Unprocessable(
                f"Override {_dotted(path)}: {_dotted(path[:-1])} is a {type(target).__name__}, not an object or list."
            )
    return event


def _step(target: Any, key: str | int, where: Path) -> Any:
    if isinstance(target, list) and isinstance(key, int):
        if key < len(target):
            return target[key]
        raise Unprocessable(f"Override: no item {key} in {_dotted(where[:-1])} (it has {len(target)}).")
    if isinstance(target, dict) and str(key) in target:
        return target[str(key)]
    raise Unprocessable(f"Override: {_dotted(where)} does not exist in the event.")


def _unknown_field(path: Path, parent: dict[str, Any]) -> str:
    where = _dotted(path[:-1])
    close = difflib.get_close_matches(str(path[-1]), [str(k) for k in parent], n=1, cutoff=0.6)
    hint = f" Did you mean {_dotted((*path[:-1], close[0]))}?" if close else ""
    return (
        f"Override {_dotted(path)}: {where} has no field {str(path[-1])!r}.{hint} "
        f"To add a new field, write +{_dotted(path)}=VALUE."
    )


def _dotted(path: Path) -> str:
    return ".".join(str(p) for p in path) or "$"
