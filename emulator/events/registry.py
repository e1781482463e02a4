"""Event types: their schemas, the actions that emit them, and their compiled validators.

A schema file ``schemas/events/<slug>.v1.json`` names its event type in ``x-event-type``
(Zenoti's spelling, ``AppointmentGroup.Created``); a module of :mod:`emulator.world.actions`
lists the same type in ``EMITS``. :func:`load_registry` pairs them, so adding an event type
is a small schema (mostly references to the shared shapes) and the action that emits it.

Validation has two speeds. Every event goes through a compiled validator
(``jsonschema_rs``, a few microseconds); only an event that fails is run through the
pure-Python ``jsonschema`` validator, whose errors carry paths and a best match.

Everything about a type is made on its first use, once per process: its bundled schema,
its resolved tree, its validators. A command that makes one event of one type pays for
that type only, and ``jsonschema`` itself is imported only when an event fails.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import SchemaBroken, UnknownEventType
from ..world import actions
from .catalog import Catalog, bundle, load_catalog, resolve

if TYPE_CHECKING:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
EVENT_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6,7}Z$")
DATA_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def _is_object_id(value: object) -> bool:
    return not isinstance(value, str) or OBJECT_ID.match(value) is not None


def _is_event_timestamp(value: object) -> bool:
    return not isinstance(value, str) or EVENT_TIMESTAMP.match(value) is not None


def _is_data_datetime(value: object) -> bool:
    return not isinstance(value, str) or DATA_DATETIME.match(value) is not None


#: Zenoti's own formats. Each predicate passes non-strings: ``type`` judges those.
ZENOTI_FORMATS: dict[str, Callable[[object], bool]] = {
    "zenoti-objectid": _is_object_id,
    "zenoti-timestamp": _is_event_timestamp,
    "zenoti-datetime": _is_data_datetime,
}


def make_format_checker() -> FormatChecker:
    """A fresh checker: jsonschema's formats plus Zenoti's, never the class-wide one."""
    from jsonschema import FormatChecker

    checker = FormatChecker()
    for name, predicate in ZENOTI_FORMATS.items():
        checker.checks(name)(predicate)
    return checker


@dataclass(frozen=True)
class SchemaError:
    """One way an instance breaks its schema, located for a person to find."""

    #: ``$.data.appointments[0].start_time``
    path: str
    #: ``/data/appointments/0/start_time``, for APIs
    pointer: str
    message: str
    #: the schema keyword that failed (``type``, ``required``, ``pattern``...)
    keyword: str = ""


def json_path(parts: Any) -> str:
    """``['data', 'appointments', 0]`` -> ``$.data.appointments[0]``."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(part)):
            out += f".{part}"
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


def json_pointer(parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _relevance(error: jsonschema.ValidationError) -> tuple[Any, ...]:
    # Deeper errors say more than "not valid under anyOf"; then jsonschema's own ranking.
    import jsonschema

    return (-len(error.path), jsonschema.exceptions.relevance(error))


@dataclass(eq=False)
class EventType:
    """One Zenoti event type: its schema, the actions that emit it, its validators."""

    name: str
    slug: str
    #: the schema as one self-contained document (every ``$ref`` into its own ``$defs``);
    #: None: bundled from ``source`` on first use (see :attr:`schema`)
    bundled: dict[str, Any] | None
    #: the file as written, whose references the catalog's registry resolves
    source: dict[str, Any]
    schema_path: Path
    #: the module of :mod:`emulator.world.actions` that emits this type (None: validation only)
    emitter: ModuleType | None = None
    #: the catalog the source's references resolve in (None: a source without references)
    catalog: Catalog | None = field(default=None, repr=False)
    _fast: Any = field(default=None, repr=False)
    _full: Draft202012Validator | None = field(default=None, repr=False)
    _resolved: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def resource(self) -> str:
        """``Guest`` for ``Guest.Created``: what the dashboard and the API group types by."""
        return self.name.split(".")[0]

    @property
    def reported(self) -> bool:
        """Seen in receivers of real traffic but not in Zenoti's docs (``x-reported``): sent
        only under ``--variant reported-events=on``, marked so in ``event-types``."""
        return bool(self.source.get("x-reported"))

    @property
    def schema(self) -> dict[str, Any]:
        """The schema as one self-contained document (every ``$ref`` into its own ``$defs``)."""
        if self.bundled is None:
            self.bundled = self.source if self.catalog is None else bundle(self.catalog, self.source)
        return self.bundled

    @property
    def resolved(self) -> dict[str, Any]:
        """The schema with every ``$ref`` replaced by its target: for walking its fields."""
        if self._resolved is None:
            self._resolved = (
                self.source if self.catalog is None else resolve(self.catalog, self.source, self.source["$id"])
            )
        return self._resolved

    @property
    def fast(self) -> Any:
        # Compiled once per process, on first use: most commands touch one type only.
        if self._fast is None:
            import jsonschema_rs

            self._fast = jsonschema_rs.Draft202012Validator(
                self.schema, validate_formats=True, formats=dict(ZENOTI_FORMATS)
            )
        return self._fast

    @property
    def full(self) -> Draft202012Validator:
        if self._full is None:
            from jsonschema import Draft202012Validator

            if self.catalog is None:
                self._full = Draft202012Validator(self.schema, format_checker=make_format_checker())
            else:
                self._full = Draft202012Validator(
                    self.source, registry=self.catalog.registry, format_checker=make_format_checker()
                )
        return self._full

    def is_valid(self, instance: Any) -> bool:
        return bool(self.fast.is_valid(instance))

    def errors(self, instance: Any) -> list[SchemaError]:
        """Every error in ``instance``, most relevant first; ``[]`` when valid."""
        if self.fast.is_valid(instance):
            return []
        found = sorted(self.full.iter_errors(instance), key=_relevance)
        return [
            SchemaError(json_path(e.absolute_path), json_pointer(e.absolute_path), e.message, str(e.validator))
            for e in found
        ]

    def iter_fields(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each field of the schema as ``($.data.guest.email, subschema)``, for docs and drift."""
        yield from _walk_fields(self.resolved, "$")


def _walk_fields(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for key, sub in schema.get("properties", {}).items():
        child = json_path([key]).replace("$", path, 1)
        yield child, sub
        yield from _walk_fields(sub, child)
    items = schema.get("items")
    if isinstance(items, dict):
        yield from _walk_fields(items, path + "[*]")


def slug_for(event_type: str) -> str:
    """``AppointmentGroup.Created`` -> ``appointment-group-created``: the one name mapping."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", event_type).replace(".", "-")
    return words.lower()


def schema_dir() -> Path:
    """Where the schemas are: inside the installed package, else the source tree's top."""
    packaged = resources.files("emulator") / "schemas"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "schemas"  # emulator/events/ -> the top


class Registry(dict[str, EventType]):
    """Event types by Zenoti's name. A plain dict that knows how to refuse a wrong name."""

    def get_type(self, name: str) -> EventType:
        try:
            return self[name]
        except KeyError:
            raise UnknownEventType(name, self) from None


def load_registry(directory: Path | None = None, *, check: bool | None = None) -> Registry:
    """Load the catalog in ``directory`` and pair each event schema with its emitter.

    :param check: check every schema against the 2020-12 metaschema and every reference
        (:func:`~emulator.events.catalog.check_catalog`). By default a folder passed in is checked
        and the packaged one is not: the test suite checks ours once, instead of every
        start paying most of a second for it.
    :raise SchemaBroken: a schema that does not parse, or (checked) breaks the metaschema
        or refers to nothing; an event type no action emits; an emitted type with no schema.
    """
    catalog = load_catalog(directory or schema_dir(), check=directory is not None if check is None else check)
    emitted = actions.emitters()
    registry = Registry()
    # In the order people look for them: by resource, then by name.
    named = sorted(
        (
            (document.get("x-event-type") or document.get("title"), path, document)
            for path, document in catalog.event_files
        ),
        key=lambda entry: (str(entry[0]).split(".")[0], str(entry[0])),
    )
    for name, path, document in named:
        if name not in emitted:
            raise SchemaBroken(f"Schema {path.name} names {name!r}, which no module of emulator.world.actions emits.")
        registry[name] = EventType(name, slug_for(name), None, document, path, emitted[name], catalog)
    return registry


@functools.cache
def default_registry() -> Registry:
    """The packaged registry, loaded once per process (schemas never change while running)."""
    return load_registry()
