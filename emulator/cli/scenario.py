"""``zenoti-emulator scenario``: list, show and run scenarios (short stories on the world)."""

from __future__ import annotations

import functools
import json
import sys
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from ..defaults import PROFILES
from . import cli
from .delivery import Delivery, fire_events
from .delivery_options import db_option, delivery_options, json_option
from .params import (
    AssignmentParam,
    TimestampParam,
    disorder_from,
    disorder_options,
    fresh_option,
    variant_option,
    variants_from,
)
from .world import PaceParam, output_options

if TYPE_CHECKING:
    from ..scenario import Run


@cli.group("scenario", short_help="Built-in and user-written scenarios: list, show, run.")
def scenario_group() -> None:
    """Scenarios are short stories on the simulated business (a guest's day, a no-show, a
    refund, a class with a waitlist, a membership's life...), each an ordered list of steps
    in a TOML file. NAME is a built-in
    scenario's name or the path of your own file (see the README's "Scenarios")."""


@scenario_group.command("list", short_help="The built-in scenarios.")
@json_option
def list_command(as_json: bool) -> None:
    """List the built-in scenarios with what each tells."""
    from ..scenario import builtin_names, load

    scenarios = [load(name) for name in builtin_names()]
    rows: list[dict[str, Any]] = [
        {"name": s.name, "description": s.description, "steps": len(s.steps)} for s in scenarios
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        click.echo(f"{row['name']:<{width}}  {row['description']}")


def _story_options(func: Any) -> Any:
    decorators = [
        click.argument("name"),
        click.option(
            "--seed",
            type=int,
            default=None,
            help="Seed of the world the story happens in: same seed and --now, same bytes. Random when omitted.",
        ),
        click.option(
            "--now",
            type=TimestampParam(),
            default=None,
            help="When the story begins (ISO 8601, UTC when no zone). The real clock when omitted.",
        ),
        click.option(
            "--profile",
            type=click.Choice(PROFILES),
            default="realistic",
            show_default=True,
            help="realistic or edge values (still schema-valid).",
        ),
        click.option(
            "--set",
            "assignments",
            type=AssignmentParam(),
            multiple=True,
            metavar="PATH=VALUE",
            help="Override a field of every event (after each step's own set). Repeatable.",
        ),
        click.option("--no-validate", is_flag=True, help="Let --set break the schema."),
        variant_option,
        fresh_option,
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _stage(
    name: str,
    seed: int | None,
    now: Any,
    profile: str,
    assignments: tuple[Any, ...],
    no_validate: bool,
    variants: tuple[tuple[str, str], ...] = (),
    fresh: bool = False,
    disorder: str | None = None,
    disorder_seed: int | None = None,
) -> Run:
    from ..scenario import load, stage

    if disorder is not None and seed is None:
        import secrets

        seed = secrets.randbits(63)  # the story's seed is the disorder's unless told
    spec = disorder_from(disorder, disorder_seed, seed)
    scenario = load(name)
    return stage(
        scenario,
        seed=seed,
        now=now,
        profile=profile,
        overrides=list(assignments),
        validate=not no_validate,
        disorder=spec,
        variants=variants_from(variants),
        fresh=fresh,
    )


@scenario_group.command("show", short_help="A scenario's steps: simulated times, event types and linking ids.")
@_story_options
@json_option
def show_command(
    name: str,
    seed: int | None,
    now: Any,
    profile: str,
    assignments: tuple[Any, ...],
    no_validate: bool,
    variants: tuple[tuple[str, str], ...],
    fresh: bool,
    as_json: bool,
) -> None:
    """Play NAME on the world of --seed without sending anything, and show each event it
    makes: the step, its simulated time, the event type, the event's id and the guest,
    group and invoice ids that link one event to the next (and the class session, booking,
    membership or package: in the table's "other" column, by name in --json).

    \b
    Examples:
      zenoti-emulator scenario show guest-day --seed 7 --now 2024-07-25T08:00:00Z
      zenoti-emulator scenario show my-story.toml --json
    """
    run = _stage(name, seed, now, profile, assignments, no_validate, variants, fresh)
    rows: list[dict[str, Any]] = [
        {
            "step": p.step.number,
            "do": p.step.do,
            "time": p.moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "event_type": p.event_type,
            "id": p.event.get("id"),
            **p.links,
        }
        for p in run.played
    ]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "scenario": run.scenario.name,
                    "seed": run.seed,
                    "description": run.scenario.description,
                    "events": rows,
                },
                indent=2,
            )
        )
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{run.scenario.name} (seed {run.seed}): {run.scenario.description}", title_justify="left")
    for column in ("#", "step", "time (UTC)", "event type", "id", "guest", "group", "invoice", "other"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["step"]),
            row["do"],
            row["time"][:19],
            row["event_type"],
            str(row["id"]),
            *(escape(row.get(k, "-")[:8]) for k in ("guest", "group", "invoice")),
            escape(_other(row)),
        )
    # Off a terminal nothing tells rich the width; a wide one keeps ids whole in files and pipes.
    Console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)


#: The links a row may have besides guest, group and invoice, and how the table names them
#: (a booking's row names the booking; its session is in --json).
_OTHER_LINKS = (("booking", "booking"), ("session", "class"), ("membership", "membership"), ("package", "package"))


def _other(row: dict[str, Any]) -> str:
    """The class, booking, membership or package a row links to, e.g. ``class 90678``."""
    return next((f"{label} {row[key][:8]}" for key, label in _OTHER_LINKS if key in row), "-")


@scenario_group.command("run", short_help="Play a scenario and print or deliver its events in order.")
@_story_options
@output_options
@click.option(
    "--pace",
    type=PaceParam(),
    default="fast",
    show_default=True,
    help="With --target: fast, real (the story's own clock) or X simulated seconds per real second.",
)
@disorder_options
@functools.partial(delivery_options, target_required=False)
@db_option
@json_option
@click.pass_context
def run_command(
    ctx: click.Context,
    /,
    name: str,
    seed: int | None,
    now: Any,
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
    **delivery: Any,
) -> None:
    """Play NAME (a built-in scenario or your .toml file) on the world of --seed and print
    its events, or deliver them to --target one at a time, in order, with every delivery
    option of `fire`. With --disorder, what was duplicated, reordered and delayed is
    reported at the end (and in --json).

    \b
    Examples:
      zenoti-emulator scenario run guest-day --seed 7 --format jsonl
      zenoti-emulator scenario run no-show -t http://127.0.0.1:9000/hook --pace 3600
      zenoti-emulator scenario run guest-day -t http://127.0.0.1:9000/hook --disorder duplicates=0.3,reorder=0.2
    """
    run = _stage(name, seed, now, profile, assignments, no_validate, variants, fresh, disorder, disorder_seed)
    report = run.report
    events = [d.event for d in run.deliveries]
    try:
        if delivery["target"] is not None:
            from ..delivery.pacing import paced
            from ..delivery.store import Store

            if ctx.get_parameter_source("concurrency") is ParameterSource.DEFAULT:
                delivery["concurrency"] = 1
            due = (d.event for d in paced(run.deliveries, pace, when=lambda d: d.due))
            with Store(db) as store:

                def log_run(ids: list[int]) -> None:
                    number = store.record_run(run.scenario.name, run.seed, ids, report.to_dict() if report else None)
                    click.echo(f"Scenario {run.scenario.name} (seed {run.seed}) logged as run {number}.", err=True)

                fire_events(
                    store,
                    due,
                    len(events),
                    Delivery.from_options(**delivery),
                    label=f"scenario {run.scenario.name}",
                    as_json=as_json,
                    db=db,
                    batch=1 if pace else 64,
                    on_sent=log_run,
                )
            return
        from .generate import print_events

        print_events(events, fmt, output, f"event(s) of scenario {run.scenario.name} (seed {run.seed})")
    finally:
        if report is not None:
            click.echo(report.summary(), err=True)
            if as_json and delivery["target"] is not None:  # a second JSON line, after the delivery summary
                click.echo(json.dumps({"disorder": report.to_dict()}))


@scenario_group.command("runs", short_help="Scenario runs logged by `scenario run --target` and the API.")
@click.option(
    "--limit", type=click.IntRange(1, 500), default=20, show_default=True, help="Newest first, at most this many."
)
@db_option
@json_option
def runs_command(limit: int, db: str | None, as_json: bool) -> None:
    """List the logged scenario runs: which deliveries each made, in the order sent, and
    what --disorder did (`deliveries show ID` has each delivery's attempts)."""
    from ..delivery.store import Store

    with Store(db) as store:
        runs = store.list_runs(limit=limit)
    if as_json:
        click.echo(json.dumps(runs))
        return
    if not runs:
        click.echo("No scenario runs yet: `zenoti-emulator scenario run NAME --target URL` logs one.", err=True)
        return
    for run in runs:
        ids = run["delivery_ids"]
        span = f"deliveries {ids[0]}..{ids[-1]}" if ids else "no deliveries"
        disorder = run["disorder"]["disorder"] if run["disorder"] else "in story order"
        click.echo(
            f"run {run['id']}  {run['created_at']}  {run['scenario']} (seed {run['seed']})  {len(ids)} {span}  {disorder}"
        )
