"""Options shared by the commands that generate events (``generate``, ``fire``).

Parsing lives in click types, so a malformed value is a usage error (exit 2) naming the
option, before any event is generated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import click

from .. import bounds
from ..defaults import DEFAULT_EVENT_TYPE, PROFILES
from ..errors import EmulatorError
from ..events import overrides

# The generator (Faker) and the registry (jsonschema) load when a value is parsed or an
# event made, not when the CLI starts: --help and completion build these options.
# (bounds is the standard library only.)

F = TypeVar("F", bound=Callable[..., Any])


class CoreParam(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click; we support 8.1
    """A value parsed by core code: its :class:`EmulatorError` becomes click's usage error.

    Subclasses name the parser; the message is the core's, prefixed by click with the
    option at fault (``Invalid value for '--set': ...``), and the exit code is 2.
    """

    #: the type of an already-converted value (click converts defaults again)
    parsed_type: type | tuple[type, ...] = ()

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if self.parsed_type and isinstance(value, self.parsed_type):
            return value
        if ctx is not None and ctx.resilient_parsing:
            # Shell completion parses the line on every Tab and runs nothing: checking an
            # event type would load the registry (jsonschema, Faker) for no use.
            return value
        try:
            return self.parse(str(value))
        except EmulatorError as exc:
            self.fail(exc.message, param, ctx)


class EventTypeParam(CoreParam):
    """A Zenoti event type name, checked against the registry (with a close match)."""

    name = "EVENT_TYPE"

    def parse(self, text: str) -> str:
        from ..events.registry import default_registry

        return default_registry().get_type(text).name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value)
        if "://" in text and not (ctx is not None and ctx.resilient_parsing):
            # `fire http://...`: the URL landed in the EVENT_TYPE argument.
            takes_target = ctx is not None and any(p.name == "target" for p in ctx.command.params)
            hint = f" Did you mean --target {text}?" if takes_target else " This command takes no URL."
            self.fail(f"{text!r} is a URL, not an event type.{hint}", param, ctx)
        return super().convert(value, param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        from ..events.registry import default_registry

        return [CompletionItem(name) for name in default_registry() if name.startswith(incomplete)]


class AssignmentParam(CoreParam):
    """``PATH=VALUE`` for ``--set``; the value is JSON where it parses."""

    name = "PATH=VALUE"
    parsed_type = tuple

    def parse(self, text: str) -> Any:
        return overrides.parse_assignment(text)


class TimestampParam(CoreParam):
    """``--now``: ISO 8601, UTC when it names no zone, within the times an ObjectId carries."""

    name = "TIMESTAMP"
    parsed_type = datetime

    def parse(self, text: str) -> datetime:
        return bounds.parse_time(text)


class IntParam(CoreParam):
    """A whole number in ASCII digits within ``low..high`` (:func:`emulator.bounds.parse_int`)."""

    name = "INTEGER"
    parsed_type = int

    def __init__(self, low: int | None = None, high: int | None = None) -> None:
        self.low, self.high = low, high

    def parse(self, text: str) -> int:
        return bounds.parse_int(text, what="the value", low=self.low, high=self.high)


class IdParam(CoreParam):
    """A row id of the delivery log: ASCII digits, at most 2**63 - 1."""

    name = "ID"
    parsed_type = int

    def parse(self, text: str) -> int:
        return bounds.parse_id(text)


class SecondsParam(CoreParam):
    """Seconds: positive, finite, at most :data:`emulator.bounds.MAX_TIMEOUT`."""

    name = "SECONDS"
    parsed_type = float

    def parse(self, text: str) -> float:
        return bounds.parse_seconds(text, what="the value")


class TimeScaleParam(CoreParam):
    """``--time-scale``: within :data:`emulator.bounds.MIN_TIME_SCALE` .. ``MAX_TIME_SCALE``."""

    name = "FACTOR"
    parsed_type = float

    def parse(self, text: str) -> float:
        return bounds.parse_time_scale(text, what="the time scale")


#: ``--fresh`` on every command that builds a world.
FRESH_HELP = (
    "Start from an empty account: every guest, employee, membership and package an event names "
    "was created by an earlier event. Default: a business in mid-life, most of it already there."
)
fresh_option = click.option("--fresh", is_flag=True, help=FRESH_HELP)


class VariantParam(CoreParam):
    """``--variant NAME=VALUE``: a reading of a disputed fact (``zenoti-emulator variants``)."""

    name = "NAME=VALUE"
    parsed_type = tuple

    def parse(self, text: str) -> tuple[str, str]:
        from ..variants import Variants

        name, _, value = text.partition("=")
        Variants.parse([text])  # an unknown name or value fails here, naming the choices
        return name.strip(), value.strip()


def variant_option(func: F) -> F:
    """``--variant NAME=VALUE`` (repeatable): passed to the command as ``variants``, a tuple
    of pairs that :func:`variants_from` turns into one :class:`~emulator.variants.Variants`."""
    return click.option(
        "--variant",
        "variants",
        type=VariantParam(),
        multiple=True,
        metavar="NAME=VALUE",
        help="Read a fact receivers disagree on another way, e.g. status-1=cancelled "
        "(`zenoti-emulator variants` lists them). Repeatable.",
    )(func)


def variants_from(pairs: tuple[tuple[str, str], ...]) -> Any:
    """The :class:`~emulator.variants.Variants` that ``--variant`` pairs choose."""
    from ..variants import Variants

    return Variants.of(dict(pairs))


def disorder_options(func: F) -> F:
    """``--disorder KIND=RATE,...`` and ``--disorder-seed``: at-least-once delivery on purpose
    (:mod:`emulator.delivery.disorder`), the same options on ``scenario run``, ``simulate`` and ``fire``."""
    decorators = [
        click.option(
            "--disorder",
            default=None,
            metavar="KIND=RATE,...",
            help="Deliver as at-least-once does: duplicates=R (some events twice, same bytes), reorder=R (overtaken "
            "by the next), delay=R (held back by a retry delay). Rates from 0 to 1. Off when omitted.",
        ),
        click.option(
            "--disorder-seed",
            type=int,
            default=None,
            help="Seed of the disorder (default: --seed): replays one order exactly.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def disorder_from(disorder: str | None, disorder_seed: int | None, seed: int | None) -> Any:
    """The :class:`~emulator.delivery.disorder.Disorder` the options ask for, or ``None`` (off)."""
    from ..errors import UsageError

    if disorder is None:
        if disorder_seed is not None:
            raise UsageError(
                "--disorder-seed chooses which events --disorder touches: give --disorder too, e.g. --disorder duplicates=0.2."
            )
        return None
    import secrets

    from ..delivery.disorder import parse_disorder

    chosen = disorder_seed if disorder_seed is not None else seed
    return parse_disorder(disorder, secrets.randbits(63) if chosen is None else chosen)


def disordered(events: Iterator[dict[str, Any]], spec: Any) -> tuple[Iterator[dict[str, Any]], Any]:
    """``events`` in the order ``spec`` delivers them (duplicates included), lazily, with the
    :class:`~emulator.delivery.disorder.Report` that fills as they go."""
    from ..delivery.disorder import Report, disorder_stream
    from ..delivery.pacing import event_moment

    report = Report(spec)
    return (d.event for d in disorder_stream(events, spec, event_moment, report)), report


def generation_options(func: F) -> F:
    """EVENT_TYPE, --count, --seed, --now, --set, --profile, --no-validate, --variant and --fresh."""
    decorators = [
        click.argument("event_type", type=EventTypeParam(), default=DEFAULT_EVENT_TYPE, required=False),
        click.option(
            "-n", "--count", type=IntParam(1, bounds.MAX_ID), default=1, show_default=True, help="How many events."
        ),
        click.option(
            "--seed",
            type=int,
            default=None,
            help="Seed of the simulated business and every value: same seed and --now, same bytes. Random when omitted.",
        ),
        click.option(
            "--now",
            type=TimestampParam(),
            default=None,
            help="Clock of the first event (ISO 8601, UTC when no zone). The real clock when omitted.",
        ),
        click.option(
            "--set",
            "assignments",
            type=AssignmentParam(),
            multiple=True,
            metavar="PATH=VALUE",
            help='Override a field of every event, e.g. data.guest.email=null or data.appointments.0.room_name="Suite 4". Repeatable.',
        ),
        click.option(
            "--profile",
            type=click.Choice(PROFILES),
            default="realistic",
            show_default=True,
            help="realistic: what a busy spa sends; edge: the values receivers break on (still schema-valid).",
        ),
        click.option(
            "--no-validate", is_flag=True, help="Let --set break the schema (for testing how a receiver copes)."
        ),
        variant_option,
        fresh_option,
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def events_from_options(
    event_type: str,
    count: int,
    seed: int | None,
    now: datetime | None,
    assignments: tuple[Any, ...],
    profile: str,
    no_validate: bool,
    variants: tuple[tuple[str, str], ...] = (),
    fresh: bool = False,
) -> Iterator[dict[str, Any]]:
    """The events the generation options ask for, lazily; the first one is made eagerly
    so that an override that breaks the schema fails before anything is printed or sent."""
    from ..events.generate import Generator
    from ..events.registry import default_registry

    generator = Generator(
        default_registry().get_type(event_type),
        seed=seed,
        now=now,
        profile=profile,
        overrides=list(assignments),
        validate=not no_validate,
        variants=variants_from(variants),
        fresh=fresh,
    )
    first = generator.one()

    def stream() -> Iterator[dict[str, Any]]:
        yield first
        yield from generator.events(count - 1)

    return stream()
