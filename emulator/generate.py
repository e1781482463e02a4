"""Events from schemas: walk the schema once into fillers, then fill one event per call.

The schema drives generation. Each field is filled, in this order of preference, from:
``const``; ``x-source`` (a value of the event's scene, built by the event type's rules
from the simulated business); ``x-faker`` (a Faker method, ``name`` or ``name:arg,arg``);
``x-choices`` (``[[value, weight], ...]``); ``enum``/``examples``; and last the field's
``type`` and ``format``. A field added to a schema file therefore appears in generated
events with no Python edit. The walk happens once per event type (:func:`compile_schema`);
filling an event is then a few closures and picks from the business, no schema lookups.

Every event is checked against its schema before it is returned: a generator bug is an
error (:class:`~emulator.errors.GeneratorBug`), never a silently wrong event.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import random
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from faker import Generator as FakerGenerator

from . import overrides as overrides_module
from .business import Business, make_faker, new_uuid
from .errors import GeneratorBug, PayloadInvalid, SchemaBroken, UsageError
from .registry import EventType, Registry, default_registry
from .scene import SceneContext, utc_text

UTC = timezone.utc
PROFILES = ("realistic", "edge")
DEFAULT_EVENT_TYPE = "AppointmentGroup.Created"
#: In the edge profile, how often a nullable field without a scene value is null.
EDGE_NULL_RATE = 0.35
#: Mean seconds between two events of one run, when the clock is ``--now``.
MEAN_GAP_SECONDS = 20.0


@dataclass
class Fill:
    """The state one event is filled from: the scene frames, innermost last."""

    rng: random.Random
    fake: FakerGenerator
    profile: str
    stack: list[Any] = field(default_factory=list)


Filler = Callable[[Fill], Any]
_MISSING = object()


def _lookup(stack: list[Any], keys: tuple[str, ...]) -> Any:
    """Resolve ``center.id`` against the innermost scene frame that has ``center``."""
    head = keys[0]
    for frame in reversed(stack):
        if type(frame) is dict:
            if head in frame:
                value = frame[head]
                break
        else:
            value = getattr(frame, head, _MISSING)
            if value is not _MISSING:
                break
    else:
        raise KeyError(head)
    for key in keys[1:]:
        value = value[key] if type(value) is dict else getattr(value, key)
    return value


def _types(schema: dict[str, Any]) -> tuple[str, ...]:
    kind = schema.get("type", ())
    return (kind,) if isinstance(kind, str) else tuple(kind)


def compile_schema(schema: dict[str, Any], where: str = "$") -> Filler:
    """Turn a schema node into a function that fills one value of it.

    :raise SchemaBroken: an annotation that cannot work (an unknown Faker method, an
        ``x-source`` on an array whose scene value is not a list...).
    """
    if "const" in schema:
        value = schema["const"]
        return lambda fill: value
    types = _types(schema)
    nullable = "null" in types
    if "x-source" in schema:
        keys = tuple(schema["x-source"].split("."))
        if "array" in types:
            item = compile_schema(schema.get("items", {}), where + "[*]")

            def fill_list(fill: Fill) -> list[Any]:
                out = []
                for frame in _lookup(fill.stack, keys):
                    fill.stack.append(frame)
                    out.append(item(fill))
                    fill.stack.pop()
                return out

            return fill_list

        head, rest = keys[0], keys[1:]

        def fill_source(fill: Fill) -> Any:
            # The hot path of generation: most leaves are found in the innermost frame.
            frame = fill.stack[-1]
            try:
                value = frame[head] if type(frame) is dict else getattr(frame, head)
                for key in rest:
                    value = value[key] if type(value) is dict else getattr(value, key)
                return value
            except (KeyError, AttributeError):
                pass
            try:
                return _lookup(fill.stack, keys)
            except (KeyError, AttributeError, TypeError) as exc:
                raise SchemaBroken(f"{where}: x-source {schema['x-source']!r} is not in the scene ({exc}).") from None

        return fill_source
    base = _compile_plain(schema, types, where)
    if not nullable:
        return base

    def fill_nullable(fill: Fill) -> Any:
        if fill.profile == "edge" and fill.rng.random() < EDGE_NULL_RATE:
            return None
        return base(fill)

    return fill_nullable


def _compile_plain(schema: dict[str, Any], types: tuple[str, ...], where: str) -> Filler:
    if "x-faker" in schema:
        name, args, kwargs = _faker_call(schema["x-faker"], where)
        return lambda fill: getattr(fill.fake, name)(*args, **kwargs)
    if "x-choices" in schema:
        values = [pair[0] for pair in schema["x-choices"]]
        cumulative = list(itertools.accumulate(pair[1] for pair in schema["x-choices"]))
        total = cumulative[-1]
        return lambda fill: values[bisect.bisect(cumulative, fill.rng.random() * total)]
    if "enum" in schema or "examples" in schema:
        options = [v for v in schema.get("enum", schema.get("examples", [])) if v is not None or "null" in types]
        if options:
            return lambda fill: fill.rng.choice(options)
    if "object" in types or "properties" in schema:
        fields = [(key, compile_schema(sub, f"{where}.{key}")) for key, sub in schema.get("properties", {}).items()]
        return lambda fill: {key: filler(fill) for key, filler in fields}
    if "array" in types:
        item = compile_schema(schema.get("items", {}), where + "[*]")
        low = schema.get("minItems", 1)
        high = max(low, schema.get("maxItems", low + 2))
        return lambda fill: [item(fill) for _ in range(fill.rng.randint(low, high))]
    if "string" in types:
        return _string_filler(schema)
    if "integer" in types:
        known = schema.get("x-known-values")
        if known:
            return lambda fill: fill.rng.choice(known)
        low, high = schema.get("minimum", 0), schema.get("maximum", 100)
        return lambda fill: fill.rng.randint(low, high)
    if "number" in types:
        low, high = schema.get("minimum", 0), schema.get("maximum", 500)
        return lambda fill: round(fill.rng.uniform(low, high), 2)
    if "boolean" in types:
        return lambda fill: fill.rng.random() < 0.5
    return lambda fill: None


def _string_filler(schema: dict[str, Any]) -> Filler:
    fmt, pattern = schema.get("format"), schema.get("pattern", "")
    if fmt == "uuid":
        return lambda fill: new_uuid(fill.rng)
    if pattern == "^[0-9]+$":
        return lambda fill: str(fill.rng.randint(1, 99999))
    if fmt == "zenoti-datetime" or pattern.startswith("^\\d{4}-\\d{2}-\\d{2}T"):
        return lambda fill: _lookup(fill.stack, ("event", "created"))
    if fmt == "email":
        return lambda fill: fill.fake.email()
    return lambda fill: fill.fake.word()


def _faker_call(hint: Any, where: str) -> tuple[str, list[Any], dict[str, Any]]:
    """``"name"``, ``"name:ARG"`` (ARG as JSON where it parses) or ``{"method", "args", "kwargs"}``."""
    if isinstance(hint, dict) and isinstance(hint.get("method"), str):
        return hint["method"], list(hint.get("args", [])), dict(hint.get("kwargs", {}))
    if not isinstance(hint, str) or not hint:
        raise SchemaBroken(f"{where}: x-faker must be a method name, 'name:ARG' or {{method, args, kwargs}}, not {hint!r}.")
    name, sep, raw = hint.partition(":")
    if not sep:
        return name, [], {}
    try:
        return name, [json.loads(raw)], {}
    except ValueError:
        return name, [raw], {}


class ObjectIds:
    """MongoDB ObjectIds as Zenoti sends them: 4-byte time, 5 random bytes, 3-byte counter.

    ``event_id`` is drawn just before ``id``: the counter steps by one or two between them,
    as in the published samples.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.machine = f"{rng.getrandbits(40):010x}"
        self.counter = rng.getrandbits(22)

    def pair(self, moment: datetime) -> tuple[str, str]:
        if self.counter > 0xFFFFF0:
            self.counter = 0
        event_id = self.counter
        call_id = event_id + self.rng.choice((1, 2))
        self.counter = call_id + 1
        prefix = f"{int(moment.timestamp()):08x}{self.machine}"
        return f"{prefix}{call_id:06x}", f"{prefix}{event_id:06x}"


def event_timestamp_text(moment: datetime, seventh_digit: int | None) -> str:
    """``2024-07-25T14:52:06.769417Z``, or with a seventh digit as .NET prints ticks."""
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    return f"{text}{'' if seventh_digit is None else seventh_digit}Z"


@functools.lru_cache(maxsize=32)
def _built_business(seed: int, profile: str) -> tuple[Business, Any]:
    # Building costs ~0.1 s of Faker calls; an app generating again and again with one
    # seed pays it once. The rng state after the build is kept so that draws continue
    # exactly as they would have in a fresh run.
    rng = random.Random(seed)
    business = Business.build(rng, profile=profile)
    return business, rng.getstate()


@functools.lru_cache(maxsize=None)
def _compiled(event_type: EventType) -> Filler:
    return compile_schema(event_type.schema)


class Generator:
    """Generates events of one type from a seeded business, one at a time.

    Usage::

        gen = Generator(registry.get_type("AppointmentGroup.Created"), seed=7, now=moment)
        for event in gen.events(100):
            ...

    :param now: the clock of the first event (aware or UTC); ``None`` uses the real clock
        for every event, so only the times differ between two runs with one seed.
    :param overrides: ``(path, value)`` pairs applied to every event (``data.guest.email``).
    :param validate: check every event against the schema (on by default; an event broken
        by an override is refused with :class:`PayloadInvalid`).
    """

    def __init__(self, event_type: EventType, *, seed: int | None = None, now: datetime | None = None,
                 profile: str = "realistic", overrides: Sequence[tuple[Any, Any]] = (), validate: bool = True) -> None:
        if profile not in PROFILES:
            raise UsageError(f"Unknown profile {profile!r}: use one of {', '.join(PROFILES)}.")
        self.event_type = event_type
        self.seed = secrets.randbits(63) if seed is None else seed
        self.profile = profile
        self.validate = validate
        self.overrides = [(overrides_module.parse_path(p) if isinstance(p, str) else tuple(p), v) for p, v in overrides]
        business, state = _built_business(self.seed, profile)
        self.rng = random.Random()
        self.rng.setstate(state)
        fake = make_faker(self.rng)["en_US"]
        self.ctx = SceneContext(business, self.rng, fake, profile)
        self.fill = Fill(self.rng, fake, profile)
        self.filler = _compiled(event_type)
        self.ids = ObjectIds(self.rng)
        self.rules = event_type.rules
        self.resource = getattr(self.rules, "EVENT_RESOURCE", event_type.name.split(".")[0])
        self.finish = getattr(self.rules, "finish", None)
        self.fixed_clock = _as_utc(now) if now is not None else None
        self.last: datetime | None = None

    def _tick(self) -> datetime:
        gap = timedelta(seconds=self.rng.expovariate(1 / MEAN_GAP_SECONDS))
        if self.fixed_clock is not None:
            moment = self.fixed_clock if self.last is None else self.last + gap
        else:
            moment = datetime.now(UTC)
            if self.last is not None and moment <= self.last:
                moment = self.last + timedelta(microseconds=1)
        self.last = moment
        return moment

    def one(self) -> dict[str, Any]:
        """The next event: generated, overridden, and checked against its schema."""
        moment = self._tick()
        self.ctx.timestamp = moment
        call_id, event_id = self.ids.pair(moment)
        seventh = self.rng.randrange(10) if self.rng.random() < 0.5 else None
        scene = self.event_type.rules.scene(self.ctx)
        scene["event"] = {
            "id": call_id,
            "event_id": event_id,
            "timestamp": event_timestamp_text(moment, seventh),
            "created": utc_text(moment),
            "resource": self.resource,
        }
        self.fill.stack = [scene]
        event: dict[str, Any] = self.filler(self.fill)
        if self.finish is not None:
            self.finish(event, self.ctx)
        if self.overrides:
            overrides_module.apply(event, self.overrides)
        if self.validate and not self.event_type.is_valid(event):
            errors = [(e.path, e.pointer, e.message) for e in self.event_type.errors(event)]
            if self.overrides:
                raise PayloadInvalid(self.event_type.name, errors, hint=". Fix the --set value, or pass --no-validate to send it anyway")
            raise GeneratorBug(f"Generated {self.event_type.name} event breaks its schema (seed {self.seed}): {errors[0][0]}: {errors[0][2]}", details=errors)
        return event

    def events(self, count: int) -> Iterator[dict[str, Any]]:
        """``count`` events, one at a time: memory stays flat however many."""
        for _ in range(count):
            yield self.one()


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_now(text: str) -> datetime:
    """``--now`` as ISO 8601 (``2024-07-25T14:52:06Z``); a time with no zone is UTC."""
    try:
        return _as_utc(datetime.fromisoformat(text.strip().replace("z", "Z")))
    except ValueError:
        raise UsageError(f"Malformed time {text!r}: use ISO 8601, e.g. 2024-07-25T14:52:06Z.") from None


def generate_events(event_type: str = DEFAULT_EVENT_TYPE, *, count: int = 1, seed: int | None = None,
                    now: datetime | None = None, overrides: Sequence[tuple[Any, Any]] = (),
                    profile: str = "realistic", validate: bool = True,
                    registry: Registry | None = None) -> Iterator[dict[str, Any]]:
    """Generate ``count`` events of ``event_type`` (Zenoti's name), lazily.

    The convenience form of :class:`Generator`; arguments are checked before the first
    event is asked for, so a bad name or profile fails at the call.

    :raise UnknownEventType: no schema for ``event_type``.
    :raise PayloadInvalid: an override makes the event break its schema.
    """
    if count < 0:
        raise UsageError(f"count must be 0 or more, not {count}.")
    kind = (registry or default_registry()).get_type(event_type)
    return Generator(kind, seed=seed, now=now, profile=profile, overrides=overrides, validate=validate).events(count)
