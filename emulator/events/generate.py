"""Events from the world: run the simulation, project what it emits, check every event.

:class:`EventStream` is the one way events are made. It builds a
:class:`~emulator.world.World` for the seed, runs a
:class:`~emulator.world.simulation.Simulation` from ``now``, and turns each emission of a wanted
type into Zenoti's payload through the type's schema (:mod:`emulator.events.projection`). Types
that are not wanted still happen in the world (a status change needs its booking), they
are just not projected: ``generate AppointmentGroup.Status`` talks about groups that were
booked inside, unprinted.

Every event is checked against its schema before it is handed out: a generator bug is an
error (:class:`~emulator.errors.GeneratorBug`), never a silently wrong event.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from .. import bounds
from ..errors import GeneratorBug, PayloadInvalid, UsageError
from ..variants import DEFAULT as DEFAULT_VARIANTS, Variants, coerce, select, sends
from ..world import PROFILES, World
from ..world.actions import Emission
from ..world.build import make_faker
from ..world.simulation import Simulation
from ..world.snapshot import built_world
from ..world.timefmt import event_timestamp_text, utc_text
from . import overrides as overrides_module
from .projection import Fill, Filler, compile_schema
from .registry import EventType, Registry, default_registry

DEFAULT_EVENT_TYPE = "AppointmentGroup.Created"
#: What an ObjectId's four time bytes can carry: the world's clock must stay inside.
EARLIEST = bounds.MIN_TIME
LATEST = bounds.MAX_TIME
MAX_DAYS = bounds.MAX_DAYS


class ObjectIds:
    """MongoDB ObjectIds as Zenoti sends them: 4-byte time, 5 machine bytes, 3-byte counter.

    ``event_id`` is drawn just before ``id``: the counter steps by one or two between them,
    as in the published samples. The counter comes from the event's own stream, so one
    event's ids do not depend on how many events came before it.
    """

    def __init__(self, machine: int) -> None:
        self.machine = f"{machine:010x}"

    def pair(self, moment: datetime, bits: int) -> tuple[str, str]:
        """``(id, event_id)`` of an event at ``moment``, from 25 of the event's own bits."""
        event_id = bits & 0xFFFFF0
        call_id = event_id + 1 + (bits >> 24 & 1)
        prefix = f"{int(moment.timestamp()):08x}{self.machine}"
        return f"{prefix}{call_id:06x}", f"{prefix}{event_id:06x}"


@functools.cache
def _compiled(event_type: EventType, variants: Variants = DEFAULT_VARIANTS) -> Filler:
    return compile_schema(select(event_type.resolved, variants))


class Projector:
    """Turns emissions into payloads: envelope facts, then the schema's fill."""

    def __init__(self, world: World) -> None:
        self.streams = world.streams
        self.seed = str(world.seed).encode()
        self.profile = world.profile
        self.variants = world.variants
        #: each type's compiled fill under this world's variants (a dict lookup per event)
        self._fills: dict[EventType, Filler] = {}
        self.ids = ObjectIds(world.streams("machine").getrandbits(40))
        self.fake = make_faker()["en_US"]

    def __call__(self, kind: EventType, emission: Emission) -> dict[str, Any]:
        # The envelope's draws come from a hash of the event's key: cheaper than a stream,
        # and as independent of other events. Fields that draw get the event's own stream.
        bits = int.from_bytes(hashlib.blake2b(self.seed + emission.key.encode(), digest_size=8).digest(), "big")
        moment = emission.moment
        call_id, event_id = self.ids.pair(moment, bits)
        seventh = bits >> 32 & 15
        timestamp = event_timestamp_text(moment, seventh if seventh < 10 else None)
        event = SimpleNamespace(id=call_id, event_id=event_id, created=utc_text(moment), timestamp=timestamp)
        context = SimpleNamespace(**emission.context, event=event)
        fill = Fill(functools.partial(self.streams, "event", emission.key), self.fake, self.profile, [context])
        compiled = self._fills.get(kind)
        if compiled is None:
            compiled = self._fills[kind] = _compiled(kind, self.variants)
        payload: dict[str, Any] = compiled(fill)
        return payload


#: Called with every new :class:`EventStream` before it is read (the app's read API
#: follows the worlds the app plays, :mod:`emulator.zenoti_api.worlds`).
STREAM_WATCHERS: list[Callable[[EventStream], None]] = []


class EventStream:
    """The events one seeded world emits from ``now`` on, in time order, lazily.

    Usage::

        stream = EventStream(seed=7, now=moment, types={"AppointmentGroup.Status"})
        for event in stream.take(100):
            ...

    :param now: the world's first clock reading (aware or UTC); ``None`` uses the real
        clock once, at the start: the world's clock runs on from there.
    :param types: the event types to hand out (all when ``None``); the others happen unseen.
    :param until: stop at this simulated instant (``simulate --days``); ``None`` runs on.
    :param overrides: ``(path, value)`` pairs applied to every event handed out.
    :param validate: check every event against its schema (an event broken by an override
        is refused with :class:`PayloadInvalid`).
    :param variants: readings of disputed facts (:mod:`emulator.variants`): a
        :class:`~emulator.variants.Variants`, ``{name: value}`` or ``NAME=VALUE`` texts.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        now: datetime | None = None,
        profile: str = "realistic",
        types: Collection[str] | None = None,
        until: datetime | None = None,
        overrides: Sequence[tuple[Any, Any]] = (),
        validate: bool = True,
        registry: Registry | None = None,
        variants: Any = None,
        fresh: bool = False,
    ) -> None:
        if profile not in PROFILES:
            raise UsageError(f"Unknown profile {profile!r}: use one of {', '.join(PROFILES)}.")
        self.variants = coerce(variants)
        self.registry = registry or default_registry()
        self.kinds = {name: self.registry.get_type(name) for name in (types if types is not None else self.registry)}
        silenced = [name for name, kind in self.kinds.items() if not sends(kind, self.variants)]
        if silenced and types is not None and len(silenced) == len(self.kinds):
            raise UsageError(
                f"{', '.join(silenced)} is a reported type, not sent under --variant reported-events=off: "
                "drop that variant or ask for another type."
            )
        for name in silenced:
            del self.kinds[name]
        self.seed = secrets.randbits(63) if seed is None else seed
        start = check_moment(_as_utc(now) if now is not None else datetime.now(UTC))
        self.until = until
        if until is not None and until > LATEST:
            raise UsageError(
                f"The simulation would run past {LATEST:%Y-%m-%d}, the last second an ObjectId can carry: start earlier or simulate fewer days."
            )
        self.profile = profile
        self.validate = validate
        self.overrides = [(overrides_module.parse_path(p) if isinstance(p, str) else tuple(p), v) for p, v in overrides]
        self.world = built_world(self.seed, start, profile, self.variants, fresh=fresh)
        self.simulation = Simulation(self.world)
        self.project = Projector(self.world)
        self._emissions = self.simulation.run(until)
        for watcher in tuple(STREAM_WATCHERS):
            watcher(self)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        kinds = self.kinds
        for emission in self._emissions:
            if emission.moment > LATEST:
                return
            kind = kinds.get(emission.event_type)
            if kind is None or not emission.sent:
                continue
            yield self.make(kind, emission)

    def make(self, kind: EventType, emission: Emission, overrides: Sequence[tuple[Any, Any]] = ()) -> dict[str, Any]:
        """One emission as Zenoti's payload: projected, overridden (``overrides`` first, then
        the stream's own), and checked against its schema. Scenarios make their steps' events here."""
        return self.finish(kind, self.project(kind, emission), overrides)

    def finish(
        self,
        kind: EventType,
        event: dict[str, Any],
        overrides: Sequence[tuple[Any, Any]] = (),
        validate: bool | None = None,
    ) -> dict[str, Any]:
        """A projected event, overridden (``overrides``, then the stream's own) and checked
        against its schema (``validate``: the stream's setting when None). The pytest
        fixture finishes copies of events it projected once."""
        if overrides:
            overrides_module.apply(event, overrides)
        if self.overrides:
            overrides_module.apply(event, self.overrides)
        if (self.validate if validate is None else validate) and not kind.is_valid(event):
            self._refuse(kind, event, bool(overrides))
        return event

    def take(self, count: int) -> Iterator[dict[str, Any]]:
        """The next ``count`` events: memory stays flat however many."""
        iterator = iter(self)
        for _ in range(count):
            event = next(iterator, None)
            if event is None:
                return
            yield event

    def _refuse(self, kind: EventType, event: dict[str, Any], overridden: bool = False) -> None:
        errors = [(e.path, e.pointer, e.message) for e in kind.errors(event)]
        if self.overrides or overridden:
            raise PayloadInvalid(
                kind.name, errors, hint=". Fix the --set value, or pass --no-validate to send it anyway"
            )
        raise GeneratorBug(
            f"Generated {kind.name} event breaks its schema (seed {self.seed}): {errors[0][0]}: {errors[0][2]}",
            details=errors,
        )


class Generator:
    """Events of one type as the world of a seed emits them, one at a time.

    Usage::

        gen = Generator(registry.get_type("AppointmentGroup.Created"), seed=7, now=moment)
        for event in gen.events(100):
            ...
    """

    def __init__(
        self,
        event_type: EventType,
        *,
        seed: int | None = None,
        now: datetime | None = None,
        profile: str = "realistic",
        overrides: Sequence[tuple[Any, Any]] = (),
        validate: bool = True,
        registry: Registry | None = None,
        variants: Any = None,
        fresh: bool = False,
    ) -> None:
        self.event_type = event_type
        registry = registry or _registry_with(event_type)
        self.stream = EventStream(
            seed=seed,
            now=now,
            profile=profile,
            types=[event_type.name],
            overrides=overrides,
            validate=validate,
            registry=registry,
            variants=variants,
            fresh=fresh,
        )
        self.seed = self.stream.seed
        self.world = self.stream.world
        self._events = iter(self.stream)

    def one(self) -> dict[str, Any]:
        """The next event: generated, overridden, and checked against its schema."""
        return next(self._events)

    def events(self, count: int) -> Iterator[dict[str, Any]]:
        """``count`` events, one at a time: memory stays flat however many."""
        for _ in range(count):
            yield next(self._events)


def _registry_with(event_type: EventType) -> Registry:
    """The default registry, or a registry of just ``event_type`` when it comes from elsewhere."""
    registry = default_registry()
    if registry.get(event_type.name) is event_type:
        return registry
    own = Registry()
    own[event_type.name] = event_type
    return own


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_moment(moment: datetime) -> datetime:
    """``moment`` if an ObjectId can carry it (1970 to 2106), else a usage error."""
    return bounds.check_time(moment)


def parse_time(text: str) -> datetime:
    """ISO 8601 (``2024-07-25T14:52:06Z``) as an aware UTC time; a time with no zone is UTC.

    No range check: :func:`emulator.bounds.parse_instant`, the one parser of times.
    """
    return bounds.parse_instant(text)


def parse_now(text: str) -> datetime:
    """``--now``: a time the world's clock can start at (one an ObjectId can carry)."""
    return bounds.parse_time(text)


check_days = bounds.check_days


def generate_events(
    event_type: str = DEFAULT_EVENT_TYPE,
    *,
    count: int = 1,
    seed: int | None = None,
    now: datetime | None = None,
    overrides: Sequence[tuple[Any, Any]] = (),
    profile: str = "realistic",
    validate: bool = True,
    registry: Registry | None = None,
    variants: Any = None,
    fresh: bool = False,
) -> Iterator[dict[str, Any]]:
    """Generate ``count`` events of ``event_type`` (Zenoti's name), lazily.

    Arguments are checked at the call, before the first event is asked for.

    :raise UnknownEventType: no schema for ``event_type``.
    :raise PayloadInvalid: an override makes the event break its schema.
    """
    if count < 0:
        raise UsageError(f"count must be 0 or more, not {count}.")
    registry = registry or default_registry()
    stream = EventStream(
        seed=seed,
        now=now,
        profile=profile,
        types=[registry.get_type(event_type).name],
        overrides=overrides,
        validate=validate,
        registry=registry,
        variants=variants,
        fresh=fresh,
    )
    return stream.take(count)


def simulate_events(
    *,
    seed: int | None = None,
    now: datetime | None = None,
    days: float = 1.0,
    types: Collection[str] | None = None,
    profile: str = "realistic",
    overrides: Sequence[tuple[Any, Any]] = (),
    validate: bool = True,
    registry: Registry | None = None,
    variants: Any = None,
    fresh: bool = False,
) -> EventStream:
    """Every event the world of ``seed`` emits over ``days`` from ``now``, in time order.

    :raise UsageError: ``days`` out of range, or a span that leaves what an ObjectId carries.
    """
    span = check_days(days)
    start = check_moment(_as_utc(now) if now is not None else datetime.now(UTC))
    return EventStream(
        seed=seed,
        now=start,
        profile=profile,
        types=types,
        until=start + span,
        overrides=overrides,
        validate=validate,
        registry=registry,
        variants=variants,
        fresh=fresh,
    )
