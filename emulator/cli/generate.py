"""``zenoti-emulator generate``: print events, without delivering them."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

import click

from ..errors import UsageError
from . import cli
from .output import open_output
from .params import events_from_options, generation_options

FORMATS = ("jsonl", "json", "pretty")


def write_events(events: Any, out: IO[str], fmt: str) -> int:
    """Stream ``events`` to ``out``: memory stays flat whatever the count."""
    written = 0
    if fmt == "json":
        out.write("[")
    for event in events:
        if fmt == "jsonl":
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
        elif fmt == "json":
            out.write(",\n" if written else "\n")
            out.write(json.dumps(event, ensure_ascii=False, indent=2))
        else:
            out.write(json.dumps(event, ensure_ascii=False, indent=2))
            out.write("\n")
        written += 1
    if fmt == "json":
        out.write("\n]\n")
    return written


@cli.command("generate", short_help="Print generated events (JSON Lines, a JSON array or pretty).")
@generation_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="jsonl: one event per line; json: one array; pretty: indented. Default: pretty on a terminal, jsonl otherwise.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to FILE instead of stdout.",
)
def generate_command(
    event_type: str,
    count: int,
    seed: int | None,
    now: Any,
    assignments: tuple[Any, ...],
    profile: str,
    no_validate: bool,
    variants: tuple[tuple[str, str], ...],
    fresh: bool,
    fmt: str | None,
    output: str | None,
) -> None:
    """Generate realistic, schema-valid EVENT_TYPE events (default AppointmentGroup.Created).

    Every event is checked against its schema before it is printed. The same --seed and
    --now give byte-identical output.

    \b
    Examples:
      zenoti-emulator generate --count 3 --seed 7
      zenoti-emulator generate --set data.guest.email=null --format pretty
      zenoti-emulator generate -n 100000 --profile edge -o events.jsonl
    """
    events = events_from_options(event_type, count, seed, now, assignments, profile, no_validate, variants, fresh)
    print_events(events, fmt, output, f"{event_type} event(s)")


def print_events(events: Any, fmt: str | None, output: str | None, what: str) -> None:
    """Write ``events`` to stdout or ``output`` in ``fmt`` (by default pretty on a terminal,
    JSON Lines otherwise); a file written gets one line on stderr naming ``what`` it holds."""
    if fmt is None:
        fmt = "pretty" if output is None and sys.stdout.isatty() else "jsonl"
    if output is None:
        write_events(events, sys.stdout, fmt)
        return
    out = open_output(output)
    try:
        with out:  # a full disk fails at a write or at the final flush of close
            written = write_events(events, out, fmt)
    except OSError as exc:
        raise UsageError(
            f"Cannot write {output}: {exc.strerror or exc}. Free some space or choose another --output."
        ) from None
    click.echo(f"Wrote {written} {what} to {output}.", err=True)
