"""Drift: how captured events differ from the schema without (necessarily) being invalid.

Over a whole input, :class:`DriftCollector` lists fields the schema does not know,
undocumented code values, types that vary, and schema fields never seen. It caches each
object's *shape* (its keys, their value types and its code values), so an object shaped
like one seen before costs two tuple builds and a dict lookup; its bounds keep memory flat
whatever the input holds.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..events.registry import EventType, json_path
from .readers import JSON_TYPE

# Bounds that keep memory flat whatever the input holds: shapes cached before they are
# folded into counters, distinct unknown paths, distinct undocumented values per field.
_MAX_SHAPES = 20_000
_MAX_UNKNOWN_PATHS = 1_000
_MAX_VALUES_PER_FIELD = 100


@dataclass(eq=False, slots=True)
class _Field:
    """A place in the schema that holds a value: a property, or the items of an array."""

    path: str
    #: keys from the top of the envelope, ``*`` for array items: ``("data", "appointments", "*", "id")``
    parts: tuple[str, ...]
    #: JSON types the schema allows here; None when it does not say
    types: frozenset[str] | None
    #: ``(json type, value)`` pairs the schema documents (enum, const, x-known-values)
    documented: frozenset[tuple[str, Any]] | None
    #: JSON types of the documented values: a value of another type is a type drift
    documented_types: frozenset[str]
    documented_list: list[Any] | None
    #: present in every valid event whose parent object is present
    required: bool = False
    #: an array that always has items (``minItems`` >= 1)
    nonempty: bool = False
    #: left out of most events by design (``x-omit-if-null``): not worth a "never seen"
    occasional: bool = False
    obj: _Node | None = None
    items: _Field | None = None


@dataclass(eq=False, slots=True)
class _Node:
    """An object in the schema: its known fields, and the shapes seen of it."""

    path: str
    fields: dict[str, _Field]
    #: keys beyond ``fields`` are allowed by design (patternProperties, a map)
    open: bool
    #: keys whose values are checked against documented values
    watched: tuple[str, ...]
    shapes: dict[tuple[Any, ...], _Shape] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class _Shape:
    """What one shape of object contributes, computed the first time it is seen."""

    count: int
    #: ``(path, json type)`` per key, counted once per occurrence
    types: tuple[tuple[str, str], ...]
    #: ``(path, (json type, value))`` for undocumented code values
    values: tuple[tuple[str, tuple[str, Any]], ...]
    #: keys the schema does not know, and their normalized paths
    unknown: tuple[str, ...]
    unknown_paths: tuple[str, ...]
    #: ``(key, field, is_list)`` to walk into
    descend: tuple[tuple[str, _Field, bool], ...]


_COMPOSITION = ("allOf", "anyOf", "oneOf")


def _resolve(node: Any, root: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Follow local ``$ref``s and fold ``allOf``/``anyOf``/``oneOf`` branches' properties."""
    if not isinstance(node, dict):
        return {}
    schema: dict[str, Any] = node
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and depth < 20:
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(target, dict) else {}
        schema = {**_resolve(target, root, depth + 1), **{k: v for k, v in schema.items() if k != "$ref"}}
    branches = [(key, b) for key in _COMPOSITION for b in schema.get(key, []) if isinstance(b, dict)]
    if not branches:
        return schema
    merged = dict(schema)
    properties = dict(schema.get("properties", {}))
    required = list(schema.get("required", []))
    for key, branch in branches:
        branch = _resolve(branch, root, depth + 1)
        for name, sub in branch.get("properties", {}).items():
            properties.setdefault(name, sub)
        if key == "allOf":  # only allOf makes a branch's required fields always present
            required += [r for r in branch.get("required", []) if r not in required]
        for name in ("type", "items", "patternProperties"):
            if name in branch and name not in merged:
                merged[name] = branch[name]
    if properties:
        merged["properties"] = properties
    merged["required"] = required
    return merged


def _allowed_types(schema: dict[str, Any]) -> frozenset[str] | None:
    kind = schema.get("type")
    if isinstance(kind, str):
        return frozenset({kind})
    if isinstance(kind, list):
        return frozenset(kind)
    if "const" in schema:
        return frozenset({JSON_TYPE.get(type(schema["const"]), "object")})
    if isinstance(schema.get("enum"), list):
        return frozenset(JSON_TYPE.get(type(v), "object") for v in schema["enum"])
    return None


def _value_key(value: Any) -> tuple[str, Any]:
    # (type, value): True must not pass for the documented code 1, nor 1.0 for 1.
    kind = JSON_TYPE.get(type(value), "object")
    if kind in ("object", "array"):
        return kind, json.dumps(value, sort_keys=True)
    return kind, value


def _documented(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    for key in ("enum", "x-known-values"):
        if isinstance(schema.get(key), list):
            return list(schema[key])
    # Integer codes documented only by example ("integer codes for enumerations").
    if schema.get("type") == "integer" and isinstance(schema.get("examples"), list):
        return list(schema["examples"])
    return None


def _is_open(schema: dict[str, Any]) -> bool:
    # Keys beyond the properties are by design: a map, pattern keys, or no properties at all.
    additional = schema.get("additionalProperties", True)
    return bool(schema.get("patternProperties")) or isinstance(additional, dict) or not schema.get("properties")


def _build_field(schema: Any, path: str, parts: tuple[str, ...], root: dict[str, Any], required: bool) -> _Field:
    schema = _resolve(schema, root)
    documented = _documented(schema)
    result = _Field(
        path,
        parts,
        _allowed_types(schema),
        frozenset(_value_key(v) for v in documented) if documented is not None else None,
        frozenset(_value_key(v)[0] for v in documented or ()),
        documented,
        required,
        int(schema.get("minItems", 0)) >= 1,
        bool(schema.get("x-omit-if-null")),
    )
    types = result.types
    if "properties" in schema or "patternProperties" in schema or (types is not None and "object" in types):
        result.obj = _build_node(schema, path, parts, root)
    items = schema.get("items")
    if isinstance(items, dict):
        result.items = _build_field(items, path + "[*]", (*parts, "*"), root, False)
    return result


def _build_node(schema: dict[str, Any], path: str, parts: tuple[str, ...], root: dict[str, Any]) -> _Node:
    required = set(schema.get("required", []))
    fields = {
        key: _build_field(sub, json_path([key]).replace("$", path, 1), (*parts, key), root, key in required)
        for key, sub in schema.get("properties", {}).items()
    }
    watched = tuple(key for key, f in fields.items() if f.documented is not None)
    return _Node(path, fields, _is_open(schema), watched)


def drift_clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` narrowed so that an event passing it shows no drift at all.

    Each object the drift report watches gets ``additionalProperties: false`` (or
    ``unevaluatedProperties: false`` where composition is involved), and each field with
    documented values (``x-known-values``, integer ``examples``) an ``enum``. It only adds
    constraints, so an event that passes is valid too: the compiled validator can answer
    "valid and nothing to report" in one call, and only the other events are walked.
    """
    narrowed: dict[str, Any] = _narrow(copy.deepcopy(schema), branch=False)
    return narrowed


def _narrow(schema: Any, *, branch: bool) -> Any:
    if isinstance(schema, list):
        return [_narrow(s, branch=False) for s in schema]
    if not isinstance(schema, dict):
        return schema
    for key in ("properties", "patternProperties", "$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            schema[key] = {name: _narrow(sub, branch=False) for name, sub in schema[key].items()}
    for key in ("items", "additionalProperties", "contains", "not", "if", "then", "else"):
        if isinstance(schema.get(key), dict):
            schema[key] = _narrow(schema[key], branch=False)
    if isinstance(schema.get("prefixItems"), list):
        schema["prefixItems"] = [_narrow(s, branch=False) for s in schema["prefixItems"]]
    for key in _COMPOSITION:
        if isinstance(schema.get(key), list):
            # A branch sees only its own properties: closing it would reject its siblings'.
            schema[key] = [_narrow(s, branch=True) for s in schema[key]]
    if not branch and not _is_open(schema):
        composed = any(k in schema for k in (*_COMPOSITION, "$ref", "if", "dependentSchemas"))
        schema["unevaluatedProperties" if composed else "additionalProperties"] = False
    documented = _documented(schema)
    if documented is not None and "enum" not in schema and "const" not in schema:
        schema["enum"] = documented
    return schema


class DriftCollector:
    """Drift of one event type's captures from its schema, over a whole input.

    Feed it events with :meth:`observe` (or :meth:`observe_clean` for one that passed
    :func:`drift_clean_schema`); read :meth:`to_dict`. Array indices are folded to ``[*]``
    (``$.data.appointments[*].room_id``); examples keep the concrete path and where it was
    seen.
    """

    def __init__(self, event_type: EventType) -> None:
        self.event_type = event_type.name
        schema = event_type.schema
        self.root = _build_node(_resolve(schema, schema), "$", (), schema)
        data = self.root.fields.get("data")
        #: where a body that is only ``data`` starts
        self.data_node = data.obj if data is not None else None
        self.events = 0
        self._nodes = list(self._all_nodes(self.root))
        self._shape_total = 0
        self._types: dict[str, Counter[str]] = {}
        self._unknown: Counter[str] = Counter()
        self._unknown_overflow = 0
        self._values: dict[str, Counter[tuple[str, Any]]] = {}
        self._examples: dict[Any, tuple[str, str]] = {}
        self._known_fields = {f.path: f for f in self._all_fields(self.root)}
        self._seen_nodes: set[str] = set()
        self._seen_fields: set[str] = set()
        # For events that passed the drift-clean schema: what they surely hold, marked
        # once, and the optional fields still to look for, by envelope or data only.
        self._clean_marked = {True: False, False: False}
        self._optional = {True: self._optional_fields(self.root), False: self._optional_fields(self.data_node)}

    # -- schema side

    @classmethod
    def _all_nodes(cls, node: _Node) -> Iterator[_Node]:
        yield node
        for f in node.fields.values():
            yield from cls._field_nodes(f)

    @classmethod
    def _field_nodes(cls, f: _Field) -> Iterator[_Node]:
        if f.obj is not None:
            yield from cls._all_nodes(f.obj)
        if f.items is not None:
            yield from cls._field_nodes(f.items)

    @classmethod
    def _all_fields(cls, node: _Node) -> Iterator[_Field]:
        for f in node.fields.values():
            yield from cls._field_and_items(f)

    @classmethod
    def _field_and_items(cls, f: _Field) -> Iterator[_Field]:
        yield f
        if f.obj is not None:
            yield from cls._all_fields(f.obj)
        if f.items is not None:
            yield from cls._field_and_items(f.items)

    def field_paths(self) -> list[str]:
        """Named fields of the schema as drift sees them (the paths of ``iter_fields``)."""
        return [p for p in self._known_fields if not p.endswith("[*]")]

    def _optional_fields(self, node: _Node | None) -> list[_Field]:
        if node is None:
            return []
        return [f for f in self._all_fields(node) if not f.path.endswith("[*]") and not f.required]

    def _mark_present(self, node: _Node) -> None:
        """Mark ``node`` and what a valid event always has under it as seen."""
        self._seen_nodes.add(node.path)
        for f in node.fields.values():
            if f.required:
                self._mark_field(f)

    def _mark_field(self, f: _Field) -> None:
        self._seen_fields.add(f.path)
        if f.obj is not None and f.types == frozenset({"object"}):
            self._mark_present(f.obj)
        items = f.items
        if items is not None and f.nonempty and items.obj is not None and items.types == frozenset({"object"}):
            self._mark_present(items.obj)

    # -- observing

    def observe_clean(self, event: dict[str, Any], *, envelope: bool = True) -> None:
        """Record an event that passed :func:`drift_clean_schema`: nothing to walk."""
        self.events += 1
        if not self._clean_marked[envelope]:
            node = self.root if envelope else self.data_node
            if node is not None:
                self._mark_present(node)
            self._clean_marked[envelope] = True
        pending = self._optional[envelope]
        if pending:
            offset = 0 if envelope else 1
            found = [f for f in pending if _present(event, f.parts, offset)]
            for f in found:
                self._mark_field(f)
            if found:
                for mode in (True, False):
                    self._optional[mode] = [f for f in self._optional[mode] if f.path not in self._seen_fields]

    def observe(
        self, event: dict[str, Any], *, envelope: bool = True, label: Callable[[], str] = str
    ) -> list[tuple[Any, ...]]:
        """Record one event; return the concrete paths of fields the schema does not know.

        :param envelope: False for a body that is only ``data``.
        :param label: where the event came from, called only when an example is kept.
        """
        node = self.root if envelope else self.data_node
        if node is None:
            return []
        self.events += 1
        unknown: list[tuple[Any, ...]] = []
        self._walk(event, node, (), label, unknown)
        if self._shape_total > _MAX_SHAPES:
            self._fold()
        return unknown

    def _walk(
        self,
        obj: dict[str, Any],
        node: _Node,
        parts: tuple[Any, ...],
        label: Callable[[], str],
        unknown: list[tuple[Any, ...]],
    ) -> None:
        watched = node.watched
        try:
            if watched:
                key: tuple[Any, ...] = (tuple(obj), tuple(map(type, obj.values())), tuple(map(obj.get, watched)))
            else:
                key = (tuple(obj), tuple(map(type, obj.values())))
            shape = node.shapes.get(key)
        except TypeError:  # an unhashable value in a watched field: learn it, cache nothing
            key, shape = (), None
        if shape is None:
            shape = self._learn(obj, node, parts, label)
            if key:
                node.shapes[key] = shape
                self._shape_total += 1
        shape.count += 1
        if shape.unknown:
            unknown.extend((*parts, k) for k in shape.unknown)
        for name, f, is_list in shape.descend:
            value = obj[name]
            if is_list:
                self._walk_list(value, f, (*parts, name), label, unknown)
            else:
                self._walk(value, f.obj, (*parts, name), label, unknown)  # type: ignore[arg-type]

    def _walk_list(
        self,
        values: list[Any],
        items: _Field,
        parts: tuple[Any, ...],
        label: Callable[[], str],
        unknown: list[tuple[Any, ...]],
    ) -> None:
        for index, value in enumerate(values):
            kind = type(value)
            if kind is dict and items.obj is not None:
                self._walk(value, items.obj, (*parts, index), label, unknown)
                continue
            self._count(items.path, JSON_TYPE.get(kind, "object"), 1)
            if items.documented is not None:
                self._check_value(items, value, (*parts, index), label, 1)
            if kind is list and items.items is not None:
                self._walk_list(value, items.items, (*parts, index), label, unknown)

    def _learn(self, obj: dict[str, Any], node: _Node, parts: tuple[Any, ...], label: Callable[[], str]) -> _Shape:
        types, values, unknown, unknown_paths, descend = [], [], [], [], []
        self._seen_nodes.add(node.path)
        for name, value in obj.items():
            kind = type(value)
            f = node.fields.get(name)
            if f is None:
                if node.open:
                    continue
                path = json_path([name]).replace("$", node.path, 1)
                types.append((path, JSON_TYPE.get(kind, "object")))
                unknown.append(name)
                unknown_paths.append(path)
                self._examples.setdefault(("unknown", path), (label(), json_path((*parts, name))))
                continue
            self._seen_fields.add(f.path)
            types.append((f.path, JSON_TYPE.get(kind, "object")))
            if f.documented is not None:
                vkey = _value_key(value)
                if vkey not in f.documented and vkey[0] in f.documented_types:
                    values.append((f.path, vkey))
                    self._examples.setdefault(("value", f.path, vkey), (label(), json_path((*parts, name))))
            if kind is dict and f.obj is not None:
                descend.append((name, f, False))
            elif kind is list and f.items is not None:
                descend.append((name, f.items, True))
        return _Shape(0, tuple(types), tuple(values), tuple(unknown), tuple(unknown_paths), tuple(descend))

    def _check_value(self, f: _Field, value: Any, parts: tuple[Any, ...], label: Callable[[], str], count: int) -> None:
        try:
            vkey = _value_key(value)
            if vkey in f.documented or vkey[0] not in f.documented_types:  # type: ignore[operator]
                return
        except TypeError:
            return
        self._add_value(f.path, vkey, count)
        self._examples.setdefault(("value", f.path, vkey), (label(), json_path(parts)))

    def _count(self, path: str, kind: str, count: int) -> None:
        counter = self._types.get(path)
        if counter is None:
            counter = self._types[path] = Counter()
        counter[kind] += count

    def _add_value(self, path: str, vkey: tuple[str, Any], count: int) -> None:
        counter = self._values.setdefault(path, Counter())
        if vkey in counter or len(counter) < _MAX_VALUES_PER_FIELD:
            counter[vkey] += count
        else:
            counter[("other", "…")] += count

    def _fold(self) -> None:
        """Turn cached shapes into counters and forget them: memory stays bounded."""
        for node in self._nodes:
            for shape in node.shapes.values():
                c = shape.count
                if not c:
                    continue
                for path, kind in shape.types:
                    self._count(path, kind, c)
                for path, vkey in shape.values:
                    self._add_value(path, vkey, c)
                for path in shape.unknown_paths:
                    if path in self._unknown or len(self._unknown) < _MAX_UNKNOWN_PATHS:
                        self._unknown[path] += c
                    else:
                        self._unknown_overflow += c
            node.shapes.clear()
        self._shape_total = 0

    # -- reporting

    def to_dict(self) -> dict[str, Any]:
        """The drift of this event type: stable keys, lists sorted by path."""
        self._fold()
        unknown_fields = []
        for path, count in sorted(self._unknown.items()):
            where, concrete = self._examples.get(("unknown", path), ("", path))
            unknown_fields.append(
                {
                    "path": path,
                    "count": count,
                    "types": dict(sorted(self._types.get(path, Counter()).items())),
                    "example": {"source": where, "path": concrete},
                }
            )
        values = []
        for path, counter in sorted(self._values.items()):
            f = self._known_fields.get(path)
            for (kind, value), count in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))):
                where, concrete = self._examples.get(("value", path, (kind, value)), ("", path))
                shown = json.loads(value) if kind in ("object", "array") else value
                values.append(
                    {
                        "path": path,
                        "value": shown,
                        "count": count,
                        "documented": f.documented_list if f is not None else None,
                        "example": {"source": where, "path": concrete},
                    }
                )
        varying: list[dict[str, Any]] = []
        for path, kinds in sorted(self._types.items()):
            f = self._known_fields.get(path)
            if f is None:
                # Outside the schema: any mix of types is worth knowing.
                seen = {k: v for k, v in sorted(kinds.items()) if v}
                if len(seen) > 1:
                    varying.append({"path": path, "types": seen, "schema": None})
            elif f.types is not None:
                # Inside it: the types it does not allow, each counted exactly.
                outside = {k: v for k, v in sorted(kinds.items()) if v and not _allows(f.types, k)}
                if outside:
                    varying.append({"path": path, "types": outside, "schema": sorted(f.types)})
        return {
            "events": self.events,
            "unknown_fields": unknown_fields,
            "unknown_fields_not_listed": self._unknown_overflow,
            "undocumented_values": values,
            "varying_types": varying,
            "never_seen": sorted(self._never_seen()),
        }

    def _never_seen(self) -> Iterator[str]:
        # A field is "never seen" only where its parent object was seen at all: a body of
        # only ``data`` says nothing about the envelope.
        for node in self._nodes:
            if node.path in self._seen_nodes:
                for f in node.fields.values():
                    if f.path not in self._seen_fields and not f.occasional:
                        yield f.path


def _present(value: Any, parts: tuple[str, ...], start: int) -> bool:
    for position in range(start, len(parts)):
        part = parts[position]
        if part == "*":
            return isinstance(value, list) and any(_present(v, parts, position + 1) for v in value)
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


def _allows(types: frozenset[str], kind: str) -> bool:
    return kind in types or (kind == "integer" and "number" in types)


def drift_has_findings(drift: dict[str, Any]) -> bool:
    """Whether a drift report (``Report.to_dict()['drift']``) shows Zenoti's payload moved.

    Unknown fields, undocumented values, types outside the schema and unknown event types
    count; schema fields never seen do not (a small sample misses optional fields).
    """
    if drift.get("unknown_event_types"):
        return True
    for entry in drift.get("event_types", {}).values():
        if (
            entry["unknown_fields"]
            or entry["undocumented_values"]
            or entry["varying_types"]
            or entry["unknown_fields_not_listed"]
        ):
            return True
    return False
