"""``zenoti-emulator load``: Locust, headless in this process, loading a receiver with Zenoti's webhooks.

Locust and gevent load inside the command function, and gevent's monkey patching runs
before anything else there: no other command ever imports them
(``tests/test_cli_startup.py`` checks it).
"""

from __future__ import annotations

import json
import sys

import click

from .. import bounds
from ..defaults import PROFILES, VERBS
from ..delivery.signing import SIGNATURE_FORMATS
from ..errors import UsageError
from . import cli
from .delivery_options import RateParam, URLParam
from .params import CoreParam, EventTypeParam, IntParam, variant_option


class DurationParam(CoreParam):
    """``90``, ``90s``, ``2m``, ``1h30m``."""

    name = "DURATION"
    parsed_type = float

    def parse(self, text: str) -> float:
        return bounds.parse_duration(text)


class SecondsBoundParam(CoreParam):
    """Seconds, more than 0, at most a run's length."""

    name = "SECONDS"
    parsed_type = float

    def parse(self, text: str) -> float:
        return bounds.parse_duration(text, what="The value")


class ShareParam(CoreParam):
    """A share in percent: ``1``, ``1%`` or ``0.5 %``, from 0 to 100."""

    name = "PERCENT"
    parsed_type = float

    def parse(self, text: str) -> float:
        raw = text.strip().removesuffix("%").strip()
        try:
            value = float(raw)
        except ValueError:
            raise UsageError(f"{text!r} is not a percentage; write e.g. 1 or 0.5%.") from None
        if not 0 <= value <= 100:
            raise UsageError(f"A share must be between 0 and 100 %, not {text!r}.")
        return value / 100


@cli.command("load", short_help="Load a receiver as a busy Zenoti organization does (Locust; one machine or many).")
@click.argument("url", type=URLParam(), required=False)
@click.option(
    "-u",
    "--users",
    type=IntParam(1, bounds.MAX_LOAD_USERS),
    default=None,
    help="Concurrent webhook senders, each from its own shard of the world. Default 10 (32 with --find-limit).",
)
@click.option(
    "-r",
    "--spawn-rate",
    type=click.FloatRange(min=0, min_open=True, max=10_000),
    default=10.0,
    show_default=True,
    help="Users started per second.",
)
@click.option(
    "-t",
    "--run-time",
    type=DurationParam(),
    default=None,
    help="Stop after this long (30s, 2m, 1h30m). Until Ctrl-C when omitted (a --drain stops by itself).",
)
@click.option(
    "--rate",
    type=RateParam(),
    default=None,
    help="At most R events per second, all users together (e.g. 200/s). As fast as answers come when omitted.",
)
@click.option(
    "--secret",
    default=None,
    envvar="ZENOTI_EMULATOR_SECRET",
    help="Sign each body with this secret (zenoti-webhook-signature); also $ZENOTI_EMULATOR_SECRET. Unsigned when omitted.",
)
@click.option(
    "--verb",
    type=click.Choice(VERBS, case_sensitive=False),
    default="POST",
    show_default=True,
    help="HTTP verb, as chosen in Zenoti's setup.",
)
@click.option(
    "--signature-format",
    type=click.Choice(SIGNATURE_FORMATS),
    default="dashed",
    show_default=True,
    help="dashed: 'sha256 =AB-12-...' as reported from real traffic; hex: 'sha256=ab12...'.",
)
@click.option(
    "--event-type",
    "event_types",
    type=EventTypeParam(),
    multiple=True,
    help="Only this event type (repeatable). The simulated business's own mix when omitted.",
)
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="realistic",
    show_default=True,
    help="realistic: what a busy spa sends; edge: the values receivers break on.",
)
@click.option(
    "--seed",
    type=IntParam(0, 2**63 - 1),
    default=None,
    help="Seed of the run: the same seed gives every user the same shard again. Random when omitted.",
)
@variant_option
@click.option(
    "--csv", "csv_prefix", default=None, metavar="PREFIX", help="Write Locust's CSV reports (PREFIX_stats.csv, ...)."
)
@click.option(
    "--html",
    "html_file",
    default=None,
    metavar="FILE",
    help="Write Locust's HTML report (charts of rate and latency over time).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option(
    "--master", is_flag=True, help="Run as Locust master: wait for --expect-workers workers, then lead the load."
)
@click.option(
    "--expect-workers", type=IntParam(1, 65_536), default=1, show_default=True, help="Workers a --master waits for."
)
@click.option("--master-bind-host", default="*", show_default=True, help="Interface a --master listens on.")
@click.option(
    "--master-bind-port", type=IntParam(1, 65_535), default=5557, show_default=True, help="Port a --master listens on."
)
@click.option(
    "--worker", is_flag=True, help="Run as Locust worker of the master at --master-host (no URL: the master gives it)."
)
@click.option("--master-host", default="127.0.0.1", show_default=True, help="Where a --worker finds its master.")
@click.option(
    "--master-port",
    type=IntParam(1, 65_535),
    default=5557,
    show_default=True,
    help="The master's port, for a --worker.",
)
@click.option(
    "--find-limit",
    is_flag=True,
    help="Ramp the rate (from --rate, default 10/s, x1.2 a step) until the receiver stops holding it; report the highest rate held.",
)
@click.option(
    "--latency-bound",
    type=SecondsBoundParam(),
    default=5.0,
    show_default=True,
    help="--find-limit: a step whose p95 latency passes this many seconds broke (Zenoti's 10 s timeout halved).",
)
@click.option(
    "--error-share",
    type=ShareParam(),
    default=0.01,
    show_default="1%",
    help="--find-limit: a step with more non-2xx answers than this broke.",
)
@click.option(
    "--step-time",
    type=SecondsBoundParam(),
    default=10.0,
    show_default=True,
    help="--find-limit: seconds each rate is held.",
)
@click.option(
    "--plot",
    "plot_file",
    default=None,
    metavar="FILE",
    help="--find-limit: write latency against rate as an HTML page.",
)
@click.option(
    "--drain",
    type=IntParam(1, 100_000_000),
    default=None,
    metavar="N",
    help="Send N events as fast as the receiver takes them (a backlog after an outage) and report how long it took.",
)
def load_command(
    url: str | None,
    users: int | None,
    spawn_rate: float,
    run_time: float | None,
    rate: float | None,
    secret: str | None,
    verb: str,
    signature_format: str,
    event_types: tuple[str, ...],
    profile: str,
    seed: int | None,
    variants: tuple[tuple[str, str], ...],
    csv_prefix: str | None,
    html_file: str | None,
    as_json: bool,
    master: bool,
    expect_workers: int,
    master_bind_host: str,
    master_bind_port: int,
    worker: bool,
    master_host: str,
    master_port: int,
    find_limit: bool,
    latency_bound: float,
    error_share: float,
    step_time: float,
    plot_file: str | None,
    drain: int | None,
) -> None:
    """Load URL with signed Zenoti webhooks from a simulated business, on Locust.

    Runs Locust headless in this process; --master and --worker spread the same load over
    machines. Exit 0 when every answer was 2xx within Zenoti's 10 s, 1 otherwise
    (--find-limit: 0 once the limit is found), 2 for bad usage.

    \b
    Examples:
      zenoti-emulator load http://127.0.0.1:9000/hook -u 20 -t 30s --secret s3cret
      zenoti-emulator load http://127.0.0.1:9000/hook --find-limit --plot limit.html
      zenoti-emulator load http://127.0.0.1:9000/hook --drain 50000
      zenoti-emulator load http://10.0.0.5:9000/hook --master --expect-workers 2 -t 1m
      zenoti-emulator load --worker --master-host 10.0.0.4
    """
    if master and worker:
        raise UsageError("Choose --master or --worker, not both.")
    if worker:
        if url:
            raise UsageError(f"A --worker takes no URL: its master gives it ({url}). Pass the URL to the --master.")
    elif not url:
        raise UsageError("Missing the receiver's URL, e.g. zenoti-emulator load http://127.0.0.1:9000/hook.")
    if find_limit and (master or worker):
        raise UsageError("--find-limit runs on one machine: drop --master/--worker.")
    if find_limit and drain:
        raise UsageError("Choose --find-limit or --drain, not both.")
    if plot_file and not find_limit:
        raise UsageError("--plot draws --find-limit's steps: add --find-limit, or drop --plot.")
    for path in (csv_prefix and csv_prefix + "_stats.csv", html_file, plot_file):
        _check_writable(path)

    # gevent first: Locust patches sockets, threads and ssl when imported, and patching
    # after requests (imported below it) has loaded ssl warns and misbehaves.
    from gevent import monkey

    monkey.patch_all()
    from ..load.run import LoadPlan, render_text, run

    plan = LoadPlan(
        url=url,
        users=users or (32 if find_limit else 10),
        spawn_rate=spawn_rate,
        run_time=run_time,
        rate=rate,
        secret=secret,
        signature_format=signature_format,
        verb=verb.upper(),
        event_types=event_types,
        profile=profile,
        seed=seed,
        variants=dict(variants),
        csv_prefix=csv_prefix,
        html_file=html_file,
        role="master" if master else "worker" if worker else "local",
        expect_workers=expect_workers,
        master_bind_host=master_bind_host,
        master_bind_port=master_bind_port,
        master_host=master_host,
        master_port=master_port,
        find_limit=find_limit,
        latency_bound_s=latency_bound,
        error_share=error_share,
        step_time=step_time,
        plot_file=plot_file,
        drain=drain,
    )
    if plan.seed is None and not worker:
        import secrets

        plan.seed = secrets.randbits(63)
    report, code = run(plan, sys.stderr)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_text(report), nl=False)
    sys.exit(code)


def _check_writable(path: str | None) -> None:
    """A report that cannot be written is refused before the load, not after it."""
    if not path:
        return
    import os

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"Cannot write {path}: no folder {folder}. Create it or choose another path.")
    if os.path.isdir(path):
        raise UsageError(f"Cannot write {path}: it is a folder. Name a file.")
