"""``zenoti-emulator api``: Zenoti's REST API (read side) for a world advanced to its end.

The world is the one ``simulate`` prints for the same ``--seed``, ``--now``, ``--days``
and ``--profile``: a receiver fed that stream (by ``simulate --target``) asks this API
about the guests, groups and invoices the events named and gets answers that agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from .. import defaults
from ..errors import UsageError
from . import cli
from .lifetime import run_until_stopped
from .params import TimestampParam


def _bounded_latency(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if value != value or not 0 <= value <= defaults.MAX_API_LATENCY:  # NaN, negative, too long
        raise click.BadParameter(f"must be between 0 and {defaults.MAX_API_LATENCY:g} seconds, not {value}.")
    return value


def api_options(func: Any) -> Any:
    """``--api-key``, ``--rate-limit`` and ``--api-latency``: shared with ``serve``."""
    decorators = [
        click.option(
            "--api-key",
            default=defaults.DEFAULT_API_KEY,
            show_default=True,
            metavar="KEY",
            help="The key 'Authorization: apikey KEY' must carry (and the app_secret POST /v1/tokens takes).",
        ),
        click.option(
            "--rate-limit",
            type=click.IntRange(1, defaults.MAX_API_RATE_LIMIT),
            default=None,
            metavar="N",
            help="Allow N calls per minute per key, then answer 429 as Zenoti does. Off when omitted.",
        ),
        click.option(
            "--api-latency",
            type=float,
            default=0.0,
            show_default=True,
            callback=_bounded_latency,
            metavar="SECONDS",
            help="Wait this long before every answer, to test a receiver's timeouts and retries.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@cli.command("api", short_help="Serve Zenoti's REST API (read side) for the world `simulate` prints.")
@click.option("--seed", type=int, required=True, help="Seed of the world (as given to simulate).")
@click.option(
    "--now", type=TimestampParam(), required=True, help="When the world's clock starts (as given to simulate)."
)
@click.option(
    "--days",
    type=float,
    default=1.0,
    show_default=True,
    help="Advance the world this many simulated days (as simulate).",
)
@click.option("--profile", type=click.Choice(("realistic", "edge")), default="realistic", show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Keep it on loopback unless you mean it.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8026,
    show_default=True,
    help="Port to listen on; 0 picks a free one.",
)
@api_options
def api_command(
    seed: int,
    now: datetime,
    days: float,
    profile: str,
    host: str,
    port: int,
    api_key: str,
    rate_limit: int | None,
    api_latency: float,
) -> None:
    """Answer Zenoti's API paths (/v1/guests/{id}, /v1/guests/search, a guest's
    appointments, memberships and packages, /v1/appointments, /v1/invoices/{id},
    /v1/centers and their employees, therapists and services) for the world of --seed
    run from --now for --days: every entity the stream of `simulate` with the same
    options named, as it stands at the end of that stream.

    Point the receiver's Zenoti base URL at the printed address; authenticate with
    'Authorization: apikey KEY' or a bearer token from POST /v1/tokens.

    \b
    Example:
      zenoti-emulator api --seed 7 --now 2024-07-25T08:00:00Z --days 1 --port 8026
      curl -H 'Authorization: apikey zenoti-emulator-key' http://127.0.0.1:8026/v1/centers
    """
    from waitress import create_server

    from ..zenoti_api import ApiState, advanced_world, create_api_app

    if not api_key.strip():
        raise UsageError("--api-key must not be empty.")
    ledger = advanced_world(seed=seed, now=now, days=days, profile=profile)
    app = create_api_app(ApiState(lambda: ledger, api_key=api_key, rate_limit=rate_limit, latency=api_latency))
    try:
        server = create_server(app, host=host, port=port, threads=8, ident="zenoti-emulator-api")
    except OSError as exc:
        raise UsageError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Choose another --port (0 picks a free one)."
        ) from exc
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    url = f"http://{shown}:{server.effective_port}"
    click.echo(
        f"Zenoti API on {url}/v1 (key {api_key!r}; world of seed {seed} after {days:g} day(s): "
        f"{ledger.events} events, {len(ledger.world.guests)} guests, {len(ledger.groups)} groups, "
        f"{len(ledger.invoices)} invoices)",
        err=True,
    )
    click.echo("Press Ctrl-C to stop.", err=True)

    try:
        run_until_stopped(server.run)
    finally:
        server.close()
    click.echo("Stopped.", err=True)
