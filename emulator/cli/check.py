"""``zenoti-emulator check URL``: the contract tests of a receiver, as a command.

The checks live in :mod:`emulator.check.checks` and the report formats in
:mod:`emulator.check.report`; both are imported when the command runs, not when the CLI
starts (they bring in the generator and requests).
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

import click

from ..errors import ExitCode
from ..urls import redact_url
from . import cli
from .delivery_options import URLParam
from .output import open_output
from .params import EventTypeParam, TimestampParam, variant_option, variants_from

# Mirrors of emulator.check.checks's defaults, kept here so --help needs no import of it
# (tests/test_check.py checks that they agree).
DEFAULT_TIMEOUT = 10.0
DEFAULT_SLOW = 2.0
DEFAULT_LATENCY_EVENTS = 20
DEFAULT_BURST = 500
DEFAULT_BURST_CONCURRENCY = 20
FORMATS = ("text", "json", "junit")


class ReceiverURLParam(URLParam):
    """A receiver's URL; without a scheme (``localhost:9000/hook``) it is ``http://``, as a
    developer pointing at their own machine means (Stripe's CLI does the same)."""

    def parse(self, text: str) -> str:
        # not emulator.check.checks.with_scheme: --help must not import the checks
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
            text = "http://" + text
        return super().parse(text)


def _names(values: tuple[str, ...]) -> tuple[str, ...]:
    """``--only a,b --only c`` -> ``(a, b, c)``."""
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


@cli.command("check", short_help="Contract-test a receiver: everything Zenoti will send it, before Zenoti does.")
@click.argument("url", type=ReceiverURLParam(), required=False)
@click.option(
    "--secret",
    default=None,
    envvar="ZENOTI_EMULATOR_SECRET",
    help="The webhook's secret: events are signed, and the receiver must refuse wrong and missing "
    "signatures. Also $ZENOTI_EMULATOR_SECRET. The signature checks are skipped without it.",
)
@click.option(
    "--verb",
    type=click.Choice(("POST", "PUT", "PATCH"), case_sensitive=False),
    default=None,
    help="The verb set in Zenoti for this webhook. Without it, POST is used and PUT and PATCH are tried as a warning.",
)
@click.option(
    "--event-type",
    "event_types",
    type=EventTypeParam(),
    multiple=True,
    help="An event type the webhook subscribes to (repeatable). Default: every type the emulator knows.",
)
@click.option("--only", multiple=True, metavar="CHECK[,CHECK]", help="Run only these checks (repeatable; see --list).")
@click.option("--skip", multiple=True, metavar="CHECK[,CHECK]", help="Leave these checks out (repeatable).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text: a test run for a person; json: stable, machine-readable; junit: JUnit XML for CI.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the report to FILE; the progress lines and summary go to stderr.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0, 600, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds a request may take (Zenoti: 10); slower is a failed delivery.",
)
@click.option(
    "--slow",
    type=click.FloatRange(0, 600, min_open=True),
    default=None,
    help=f"p95 latency above this many seconds is a warning. Default: {DEFAULT_SLOW:g}, or the timeout if shorter.",
)
@click.option(
    "--latency-events",
    type=click.IntRange(1, 10_000),
    default=DEFAULT_LATENCY_EVENTS,
    show_default=True,
    help="Events sent one after another to measure latency.",
)
@click.option(
    "--burst",
    type=click.IntRange(1, 100_000),
    default=DEFAULT_BURST,
    show_default=True,
    help="Events in the burst check.",
)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 256),
    default=DEFAULT_BURST_CONCURRENCY,
    show_default=True,
    help="Requests in flight during the burst.",
)
@click.option("--seed", type=int, default=None, help="Seed of the events sent (random when omitted).")
@click.option(
    "--now",
    type=TimestampParam(),
    default=None,
    help="Clock of the first event (ISO 8601, UTC when no zone); with --seed, the same events every run. "
    "The real clock when omitted.",
)
@click.option(
    "--observe",
    type=ReceiverURLParam(),
    default=None,
    metavar="URL",
    help='Where the receiver says what it did: GET URL?id=<event id> answers {"applied": N}, '
    'GET URL?group=<group id> answers {"status": CODE|null}. Then duplicates fails unless a '
    "duplicate was applied once, and out-of-order unless the group keeps its latest status.",
)
@click.option("-v", "--verbose", is_flag=True, help="One line per check and event type, and every type in the header.")
@variant_option
@click.option("--list", "list_checks", is_flag=True, help="List the checks and exit.")
def check_command(
    url: str | None,
    secret: str | None,
    verb: str | None,
    event_types: tuple[str, ...],
    only: tuple[str, ...],
    skip: tuple[str, ...],
    fmt: str,
    output: str | None,
    timeout: float,
    slow: float | None,
    latency_events: int,
    burst: int,
    concurrency: int,
    seed: int | None,
    now: Any,
    observe: str | None,
    verbose: bool,
    variants: tuple[tuple[str, str], ...],
    list_checks: bool,
) -> None:
    """Run the contract tests of the receiver at URL: signatures, the test ping, verbs,
    duplicates, unknown fields, large payloads, latency and a burst.

    Each check passes, fails, warns or is skipped, with the requests and answers that
    show why. Exit 0 when no check fails, 1 when one does (a receiver too slow to answer
    included), 2 for bad usage or a URL where nothing listens. A URL without a scheme
    is http://.

    \b
    Examples:
      zenoti-emulator check http://127.0.0.1:9000/hook --secret s3cret
      zenoti-emulator check localhost:9000/hook --verb PUT --only ping,verb
      zenoti-emulator check http://127.0.0.1:9000/hook --format junit -o check.xml
    """
    from ..check import checks as core, report as report, run as check_run

    if list_checks:
        for check in core.CHECKS.values():
            click.echo(f"{check.name:28} {check.summary}")
        return
    if url is None:
        raise click.UsageError("Missing argument 'URL': the receiver to check, e.g. http://127.0.0.1:9000/hook.")
    config = check_run.CheckConfig(
        url,
        secret=secret,
        verb=verb,
        event_types=event_types,
        only=_names(only),
        skip=_names(skip),
        timeout=timeout,
        slow=slow,
        latency_events=latency_events,
        burst=burst,
        burst_concurrency=concurrency,
        seed=seed,
        observe=observe,
        now=now,
        variants=variants_from(variants),
    )
    file = open_output(output) if output else None
    # The report goes to stdout (or FILE); as a text report on stdout the lines are part
    # of it, otherwise they go to stderr so that a person still sees the run progress.
    lines_to_stderr = fmt != "text" or file is not None
    t0 = time.perf_counter()
    try:
        with check_run.CheckRun(config) as run:
            run.probe()  # first: an unreachable URL is exit 2 before anything is printed
            info = report.RunInfo(
                redact_url(url),
                verb or "POST",
                bool(secret),
                [k.name for k in run.event_types],
                notes=run.probe_notes,
                verbose=verbose,
            )
            click.echo(report.header(info), err=lines_to_stderr)
            # A check run per event type is shown once its last type is done, folded
            # into one line (unless -v): hold its results until then.
            held: list[Any] = []

            def flush() -> None:
                for line in report.check_lines(held, verbose):
                    click.echo(line, err=lines_to_stderr)
                held.clear()

            def show(result: Any) -> None:
                if held and (held[0].check != result.check or result.event_type is None):
                    flush()
                held.append(result)
                if result.event_type is None:
                    flush()

            results = run.run_all(on_result=show)
            flush()
            if (note := run.rate_limit_note()) is not None:
                info.late_notes.append(note)
            info.setup = list(run.prelude)
        info.elapsed_s = time.perf_counter() - t0
        if fmt == "text":
            text = report.render_text(results, info, with_lines=file is not None)
        else:
            text = report.render(fmt, results, info)
        (file or sys.stdout).write(text)
    finally:
        if file is not None:
            file.close()
    if lines_to_stderr:
        click.echo(report.summary_line(results, info.elapsed_s), err=True)
    click.get_current_context().exit(int(ExitCode.FAILED if report.exit_code(results) else ExitCode.OK))
