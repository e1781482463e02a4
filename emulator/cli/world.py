"""The world's commands: ``simulate``, ``event-types`` and ``schema``."""

from __future__ import annotations

import dataclasses
import functools
import json
import operator
from typing import Any

import click
from click.core import ParameterSource

from ..errors import UsageError
from . import cli
from .api import api_options
from .delivery import Delivery, fire_events
from .delivery_options import db_option, delivery_options, json_option
from .params import (
    AssignmentParam,
    CoreParam,
    EventTypeParam,
    TimestampParam,
    disorder_from,
    disorder_options,
    fresh_option,
    variant_option,
    variants_from,
)

FORMATS = ("jsonl", "json", "pretty")


def output_options(func: Any) -> Any:
    """``--format`` and ``-o``: how commands that print or send events (``simulate``,
    ``scenario run``) print them when no ``--target`` is given."""
    func = click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, writable=True),
        default=None,
        help="Without --target: write to FILE.",
    )(func)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default=None,
        help="Without --target: jsonl, json or pretty (default: pretty on a terminal, jsonl otherwise).",
    )(func)


class PaceParam(CoreParam):
    """``--pace``: fast, real, or simulated seconds per real second."""

    name = "fast|real|X"
    parsed_type = (float, type(None))

    def parse(self, text: str) -> Any:
        from ..delivery.pacing import parse_pace

        return parse_pace(text)


@cli.command("simulate", short_help="The world's event stream over some days: every type, in time order.")
@click.option(
    "--seed", type=int, default=None, help="Seed of the world: same seed and --now, same bytes. Random when omitted."
)
@click.option(
    "--now",
    type=TimestampParam(),
    default=None,
    help="When the world's clock starts (ISO 8601, UTC when no zone). The real clock when omitted.",
)
@click.option(
    "--days", type=float, default=1.0, show_default=True, help="How many simulated days (more than 0, at most 3660)."
)
@click.option(
    "-e",
    "--event-type",
    "event_types",
    type=EventTypeParam(),
    multiple=True,
    help="Only these types (repeatable); the others still happen in the world, unprinted. All when omitted.",
)
@click.option(
    "--profile",
    type=click.Choice(("realistic", "edge")),
    default="realistic",
    show_default=True,
    help="realistic: what a busy spa sends; edge: the values receivers break on (still schema-valid).",
)
@click.option(
    "--set",
    "assignments",
    type=AssignmentParam(),
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a field of every event printed or sent. Repeatable.",
)
@click.option("--no-validate", is_flag=True, help="Let --set break the schema.")
@variant_option
@fresh_option
@output_options
@click.option(
    "--pace",
    type=PaceParam(),
    default="fast",
    show_default=True,
    help="With --target: fast (as fast as the receiver takes them), real (the simulated clock's own speed) or X simulated seconds per real second.",
)
@disorder_options
@functools.partial(delivery_options, target_required=False)
@db_option
@json_option
@click.option(
    "--api-port",
    type=click.IntRange(0, 65535),
    default=None,
    metavar="PORT",
    help="With --target: also answer Zenoti's read API (/v1) on this port for the world as it stands "
    "at the event being sent (the simulated clock, when paced). 0 picks a free port.",
)
@api_options
@click.pass_context
def simulate_command(
    ctx: click.Context,
    /,
    seed: int | None,
    now: Any,
    days: float,
    event_types: tuple[str, ...],
    profile: str,
    assignments: tuple[Any, ...],
    no_validate: bool,
    variants: tuple[tuple[str, str], ...],
    fresh: bool,
    fmt: str | None,
    output: str | None,
    pace: float | None,
    disorder: str | None,
    disorder_seed: int | None,
    db: str | None,
    as_json: bool,
    api_port: int | None,
    api_key: str,
    rate_limit: int | None,
    api_latency: float,
    **delivery: Any,
) -> None:
    """Run one seeded Zenoti organization for --days from --now and print (or deliver
    with --target) every event it emits, in the order they happen: guests created and
    updated, groups booked, confirmed, checked in, appointments started and completed,
    invoices closed.

    The calendar starts empty at --now, so every booking, appointment and invoice an
    event mentions was created earlier in the stream; with --fresh the account is empty
    too, so every guest, employee, membership and package is. The same --seed and --now give
    byte-identical output. With --target, events go out one at a time (-c 1) so the
    receiver sees them in order, unless -c says otherwise. With --disorder, some are
    duplicated (same bytes), overtaken or held back as Zenoti's retries do, printed or
    sent in that order; what was done is summed up on stderr at the end.

    \b
    Examples:
      zenoti-emulator simulate --seed 7 --now 2024-07-25T08:00:00Z --days 1
      zenoti-emulator simulate --seed 7 --days 7 -e AppointmentGroup.Status -o status.jsonl
      zenoti-emulator simulate --seed 7 -t http://127.0.0.1:9000/hook --pace 3600
      zenoti-emulator simulate --seed 7 -t http://127.0.0.1:9000/hook --disorder duplicates=0.1,reorder=0.05
    """
    from ..events.generate import simulate_events

    spec = disorder_from(disorder, disorder_seed, seed)  # a bad --disorder fails before the world is built
    stream = simulate_events(
        seed=seed,
        now=now,
        days=days,
        types=list(event_types) or None,
        profile=profile,
        overrides=list(assignments),
        validate=not no_validate,
        variants=variants_from(variants),
        fresh=fresh,
    )
    if api_port is not None and delivery["target"] is None:
        raise UsageError(
            "--api-port goes with --target: the API answers while the stream is delivered (`api` serves a printed one)."
        )
    server = _serve_api(stream, api_port, api_key, rate_limit, api_latency) if api_port is not None else None
    report = None
    items: Any = stream
    when: Any = None
    if spec is not None:
        from ..delivery.disorder import Report, disorder_stream
        from ..delivery.pacing import event_moment

        if disorder_seed is None and seed is None:
            spec = dataclasses.replace(spec, seed=stream.seed)  # the world's drawn seed replays both
        report = Report(spec)
        items = disorder_stream(stream, spec, event_moment, report)
        when = operator.attrgetter("due")
    try:
        if delivery["target"] is not None:
            from ..delivery.pacing import paced
            from ..delivery.store import Store

            if ctx.get_parameter_source("concurrency") is ParameterSource.DEFAULT:
                delivery["concurrency"] = 1
            due = paced(items, pace) if when is None else (d.event for d in paced(items, pace, when=when))
            with Store(db) as store:
                # A paced stream goes out as it falls due, not 64 at a time.
                fire_events(
                    store,
                    due,
                    None,
                    Delivery.from_options(**delivery),
                    label="simulate",
                    as_json=as_json,
                    db=db,
                    batch=64 if pace is None else 1,
                )
            return
        from .generate import print_events

        print_events(items if when is None else (d.event for d in items), fmt, output, f"event(s) over {days:g} day(s)")
    finally:
        if server is not None:
            server.close()
        if report is not None:
            click.echo(report.tally(), err=True)


def _serve_api(stream: Any, port: int, api_key: str, rate_limit: int | None, latency: float) -> Any:
    """Zenoti's read API for ``stream``'s world, following it as it is read, on a thread."""
    import threading

    from waitress import create_server

    from ..zenoti_api import ApiState, create_api_app, tap

    if not api_key.strip():
        raise UsageError("--api-key must not be empty.")
    ledger = tap(stream)
    app = create_api_app(ApiState(lambda: ledger, api_key=api_key, rate_limit=rate_limit, latency=latency))
    try:
        server = create_server(app, host="127.0.0.1", port=port, threads=8, ident="zenoti-emulator-api")
    except OSError as exc:
        raise UsageError(
            f"Cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}. Choose another --api-port (0 picks a free one)."
        ) from exc
    threading.Thread(target=server.run, name="zenoti-api", daemon=True).start()
    click.echo(
        f"Zenoti API on http://127.0.0.1:{server.effective_port}/v1 (key {api_key!r}), answering as the stream goes",
        err=True,
    )
    return server


@cli.command("event-types", short_help="Every event type, with its schema file and docs sample.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array on stdout instead of a table.")
def event_types_command(as_json: bool) -> None:
    """List every event type the emulator knows: its resource, schema file and the
    published sample it was checked against. Types marked "reported" were seen handled
    by receivers of real traffic but are not in Zenoti's docs (no published sample);
    --variant reported-events=off leaves them out of every stream."""
    from ..events.registry import default_registry, schema_dir

    root = schema_dir()
    rows = [
        {
            "name": kind.name,
            "resource": kind.resource,
            "schema": str(kind.schema_path.relative_to(root.parent)),
            "sample": kind.schema.get("x-doc-sample"),
            "reported": kind.reported,
            "description": kind.schema.get("description", ""),
        }
        for kind in sorted(default_registry().values(), key=lambda k: (k.resource, k.name))
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        click.echo(
            f"{row['name']:<{width}}  {row['schema']}  {row['sample'] or ('reported (not in the docs)' if row['reported'] else '-')}"
        )


@cli.command("variants", short_help="Facts receivers disagree on, each with its default, choices and evidence.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON array of {name, default, choices, evidence, changes}."
)
def variants_command(as_json: bool) -> None:
    """List every variant: a fact about real Zenoti that receivers read differently or
    that the evidence leaves open. Each has a default (the better-sourced reading) and
    other choices, picked with --variant NAME=VALUE on generate, fire, simulate,
    scenario run/show and check (and "variants" in the API and the pytest fixture).

    \b
    Example:
      zenoti-emulator simulate --seed 7 --days 1 --variant status-1=cancelled
    """
    from ..variants import VARIANTS

    rows = [variant.to_dict() for variant in VARIANTS.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        others = [c for c in row["choices"] if c != row["default"]]
        click.echo(f"{row['name']}={row['default']}  (or {', '.join(others)})")
        click.echo(f"    evidence: {row['evidence']}")
        click.echo(f"    {row['changes']}")


@cli.command("schema", short_help="An event type's schema as one self-contained document.")
@click.argument("event_type", type=EventTypeParam())
def schema_command(event_type: str) -> None:
    """Print EVENT_TYPE's JSON Schema (draft 2020-12) with every $ref bundled under
    $defs: one document that a plain validator or a code generator reads as it is.

    \b
    Example:
      zenoti-emulator schema Invoice.Closed > invoice-closed.json
    """
    from ..events.registry import default_registry

    click.echo(json.dumps(default_registry().get_type(event_type).schema, indent=2, ensure_ascii=False))
