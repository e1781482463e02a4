"""Projections: an emission's entities, shown in Zenoti's payload shape by the schema.

The schema drives the projection. Each field declares where its value comes from, in this
order of preference:

- ``const``: the one value it can have;
- ``x-source``: an attribute of the emission's entities (``guest.first_name``,
  ``group.invoice.id``), read through the context; on an array it names the list whose
  items fill the array (or ``null``), on an object the entity whose attributes fill it
  (or ``null``);
- ``x-faker``: a Faker method (``name`` or ``name:ARG``), for facts that belong to no
  entity;
- ``x-choices``: ``[[value, weight], ...]``, likewise;
- ``enum``: one of the listed values.

A property marked ``x-omit-if-null`` is left out of the object when its value is null, as
Zenoti leaves out what does not apply (``rebooked_source_group_id`` outside reschedules).

A leaf that declares none of these is refused when the schema is compiled
(:class:`~emulator.errors.SchemaBroken`): no field is ever filled with a silent default.
The walk happens once per event type; projecting an event is then a few closures.
"""

from __future__ import annotations

import bisect
import itertools
import json
import operator
import random
from collections.abc import Callable
from typing import Any

from faker import Faker

from ..errors import SchemaBroken
from ..world.build import set_random

#: In the edge profile, how often a nullable field that no entity fills is null.
EDGE_NULL_RATE = 0.35


class Fill:
    """The state one event is filled from: the context frames, innermost last.

    Frames are objects (entities, and the event's context as a namespace), read by
    attribute. The event's random stream is made on first use: most events are filled
    from entities alone and never draw.
    """

    __slots__ = ("_make_rng", "_rng", "fake", "profile", "stack")

    def __init__(self, make_rng: Callable[[], random.Random], fake: Faker, profile: str, stack: list[Any]) -> None:
        self._make_rng = make_rng
        self._rng: random.Random | None = None
        self.fake = fake
        self.profile = profile
        self.stack = stack

    @property
    def rng(self) -> random.Random:
        if self._rng is None:
            self._rng = self._make_rng()
            set_random(self.fake, self._rng)
        return self._rng


Filler = Callable[[Fill], Any]
_MISSING = object()


def _lookup(stack: list[Any], keys: tuple[str, ...]) -> Any:
    """Resolve ``center.id`` against the innermost frame that has ``center``."""
    head = keys[0]
    for frame in reversed(stack):
        value = getattr(frame, head, _MISSING)
        if value is not _MISSING:
            break
    else:
        raise AttributeError(head)
    for key in keys[1:]:
        value = getattr(value, key)
    return value


def _types(schema: dict[str, Any]) -> tuple[str, ...]:
    kind = schema.get("type", ())
    return (kind,) if isinstance(kind, str) else tuple(kind)


def compile_schema(schema: dict[str, Any], where: str = "$") -> Filler:
    """Turn a resolved schema node (no ``$ref`` left) into a function that fills one value.

    :raise SchemaBroken: a field with no declared source, or an annotation that cannot
        work (an unknown Faker method, ``x-choices`` that are not pairs...).
    """
    if "const" in schema:
        value = schema["const"]
        return lambda fill: value
    types = _types(schema)
    if "x-source" in schema:
        return _source_filler(schema, types, where)
    base = _compile_plain(schema, types, where)
    if "null" not in types:
        return base

    def fill_nullable(fill: Fill) -> Any:
        if fill.profile == "edge" and fill.rng.random() < EDGE_NULL_RATE:
            return None
        return base(fill)

    return fill_nullable


def _source_filler(schema: dict[str, Any], types: tuple[str, ...], where: str) -> Filler:
    path = schema["x-source"]
    if not isinstance(path, str) or not path:
        raise SchemaBroken(f"{where}: x-source must be a dotted path like guest.first_name, not {path!r}.")
    keys = tuple(path.split("."))

    def read(fill: Fill) -> Any:
        try:
            return _lookup(fill.stack, keys)
        except (KeyError, AttributeError, TypeError) as exc:
            raise SchemaBroken(f"{where}: x-source {path!r} is not in the event's context ({exc}).") from None

    if "array" in types:
        item = compile_schema(schema.get("items", {}), where + "[*]")

        def fill_list(fill: Fill) -> list[Any] | None:
            frames = read(fill)
            if frames is None:  # as an object's entity may be None: the field is null
                return None
            out = []
            for frame in frames:
                fill.stack.append(frame)
                out.append(item(fill))
                fill.stack.pop()
            return out

        return fill_list
    if "object" in types and "properties" in schema:
        fields = _object_fields(schema, where)
        fill_object = _object_filler(schema)

        def fill_entity(fill: Fill) -> Any:
            entity = read(fill)
            if entity is None:
                return None
            fill.stack.append(entity)
            try:
                return fill_object(fields, fill)
            finally:
                fill.stack.pop()

        return fill_entity
    getter = operator.attrgetter(path)

    def fill_source(fill: Fill) -> Any:
        # The hot path: most leaves are found in the innermost frame, by one C call.
        try:
            return getter(fill.stack[-1])
        except AttributeError:
            return read(fill)

    return fill_source


def _object_fields(schema: dict[str, Any], where: str) -> list[tuple[str, Filler]]:
    return [
        (
            key,
            _omitting(compile_schema(sub, f"{where}.{key}"))
            if sub.get("x-omit-if-null")
            else compile_schema(sub, f"{where}.{key}"),
        )
        for key, sub in schema.get("properties", {}).items()
    ]


_OMIT = object()


def _omitting(filler: Filler) -> Filler:
    return lambda fill: _OMIT if (value := filler(fill)) is None else value


def _fill_object(fields: list[tuple[str, Filler]], fill: Fill) -> dict[str, Any]:
    return {key: filler(fill) for key, filler in fields}


def _fill_object_omitting(fields: list[tuple[str, Filler]], fill: Fill) -> dict[str, Any]:
    out = {key: filler(fill) for key, filler in fields}
    return {key: value for key, value in out.items() if value is not _OMIT}


def _object_filler(schema: dict[str, Any]) -> Callable[[list[tuple[str, Filler]], Fill], dict[str, Any]]:
    """The plain dict-building fill, or the one that drops omitted keys where a property may be."""
    omits = any(isinstance(sub, dict) and sub.get("x-omit-if-null") for sub in schema.get("properties", {}).values())
    return _fill_object_omitting if omits else _fill_object


def _compile_plain(schema: dict[str, Any], types: tuple[str, ...], where: str) -> Filler:
    if "x-faker" in schema:
        name, args, kwargs = _faker_call(schema["x-faker"], where)
        return lambda fill: getattr(fill.fake, name)(*args, **kwargs)
    if "x-choices" in schema:
        pairs = schema["x-choices"]
        if not (isinstance(pairs, list) and pairs and all(isinstance(p, list) and len(p) == 2 for p in pairs)):
            raise SchemaBroken(f"{where}: x-choices must be a list of [value, weight] pairs.")
        values = [pair[0] for pair in pairs]
        cumulative = list(itertools.accumulate(pair[1] for pair in pairs))
        total = cumulative[-1]
        return lambda fill: values[bisect.bisect(cumulative, fill.rng.random() * total)]
    if "enum" in schema:
        options = list(schema["enum"])
        return lambda fill: fill.rng.choice(options)
    if "object" in types or "properties" in schema:
        fields = _object_fields(schema, where)
        fill_object = _object_filler(schema)
        return lambda fill: fill_object(fields, fill)
    raise SchemaBroken(
        f"{where}: no declared source. Give the field an x-source (an entity attribute), "
        "x-faker, x-choices, enum or const."
    )


def _faker_call(hint: Any, where: str) -> tuple[str, list[Any], dict[str, Any]]:
    """``"name"``, ``"name:ARG"`` (ARG as JSON where it parses) or ``{"method", "args", "kwargs"}``."""
    if isinstance(hint, dict) and isinstance(hint.get("method"), str):
        return hint["method"], list(hint.get("args", [])), dict(hint.get("kwargs", {}))
    if not isinstance(hint, str) or not hint:
        raise SchemaBroken(
            f"{where}: x-faker must be a method name, 'name:ARG' or {{method, args, kwargs}}, not {hint!r}."
        )
    name, sep, raw = hint.partition(":")
    if not sep:
        return name, [], {}
    try:
        return name, [json.loads(raw)], {}
    except ValueError:
        return name, [raw], {}
