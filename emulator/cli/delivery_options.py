"""Options the delivering commands share: the target, the rate, the log, the worker pool.

``fire``, ``resume``, ``replay``, ``simulate``, ``scenario run``, ``relay``, ``load`` and
``check`` take the same options the same way; each is declared once here. Imported at
every start (``--help`` builds them), so it imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from .. import bounds
from ..defaults import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DEACTIVATE_AFTER,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT,
    FAILURE_UNITS,
    VERBS,
)
from ..delivery.signing import SIGNATURE_FORMATS
from .params import CoreParam, SecondsParam, TimeScaleParam

if TYPE_CHECKING:
    pass


class URLParam(CoreParam):
    """An http(s) URL with a host."""

    name = "URL"

    def parse(self, text: str) -> str:
        from ..urls import check_url  # the standard library only: no requests at start-up

        return check_url(text)


class RateParam(CoreParam):
    """Requests per second: ``50`` or ``50/s`` (:func:`emulator.bounds.parse_rate`)."""

    name = "R/s"
    parsed_type = float

    def parse(self, text: str) -> float:
        return bounds.parse_rate(text)


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False),
        default=None,
        envvar="ZENOTI_EMULATOR_DB",
        help="The delivery log (SQLite). Default: deliveries.sqlite3 in the user's data directory.",
    )(func)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of a table on stderr.")(
        func
    )


def concurrency_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "-c",
        "--concurrency",
        type=click.IntRange(1, 256),
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        help="Requests in flight at most.",
    )(func)


def delivery_options(func: Callable[..., Any], *, target_required: bool = True) -> Callable[..., Any]:
    """The options of every command that delivers: --target, --secret, --verb, retries..."""
    target_help = (
        "The receiver's URL (http or https)."
        if target_required
        else "Deliver to this URL (http or https) instead of printing."
    )
    decorators: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option("-t", "--target", "--url", "target", type=URLParam(), required=target_required, help=target_help),
        click.option(
            "--secret",
            default=None,
            envvar="ZENOTI_EMULATOR_SECRET",
            help="Sign each body with this secret (zenoti-webhook-signature); also $ZENOTI_EMULATOR_SECRET, "
            "which keeps it out of the process list. Unsigned when omitted.",
        ),
        click.option(
            "--verb",
            type=click.Choice(VERBS, case_sensitive=False),
            default="POST",
            show_default=True,
            help="HTTP verb, as chosen in Zenoti's setup.",
        ),
        concurrency_option,
        click.option(
            "--rate",
            type=RateParam(),
            default=None,
            help="At most R requests per second (e.g. 50/s). No limit when omitted.",
        ),
        click.option(
            "--time-scale",
            type=TimeScaleParam(),
            default=1.0,
            show_default=True,
            help="Divide every wait between attempts by F (600 turns 10 min into 1 s). The log keeps the real schedule too.",
        ),
        click.option(
            "--timeout",
            type=SecondsParam(),
            default=DEFAULT_TIMEOUT,
            show_default=True,
            help="Seconds each attempt may take, response body included (Zenoti: 10; at most 600).",
        ),
        click.option(
            "--max-attempts",
            type=click.IntRange(1, 50),
            default=DEFAULT_MAX_ATTEMPTS,
            show_default=True,
            help="First attempt plus retries (Zenoti: 1 + 5).",
        ),
        click.option("--no-retry", is_flag=True, help="One attempt per event, no retry."),
        click.option(
            "--wait/--no-wait",
            default=True,
            show_default=True,
            help="Wait for retries to settle; --no-wait returns after each event's first attempt and leaves retries to `resume`.",
        ),
        click.option(
            "--no-content-type",
            is_flag=True,
            help="Send no Content-Type header (real Zenoti is reported not to send it reliably).",
        ),
        click.option(
            "--signature-format",
            type=click.Choice(SIGNATURE_FORMATS),
            default="dashed",
            show_default=True,
            help="dashed: 'sha256 =AB-12-...' as reported from real traffic; hex: 'sha256=ab12...'.",
        ),
        click.option(
            "--count-failures",
            "failure_unit",
            type=click.Choice(FAILURE_UNITS),
            default="attempt",
            show_default=True,
            help="What counts towards deactivation: each failed attempt, or each event whose retries ran out.",
        ),
        click.option(
            "--deactivate-after",
            type=click.IntRange(min=0),
            default=DEFAULT_DEACTIVATE_AFTER,
            show_default=True,
            help="Failures in a row that deactivate the webhook (0: never).",
        ),
        click.option(
            "-v",
            "--verbose",
            is_flag=True,
            help="A line per event (type, id, answer, latency) however many there are; "
            "runs of up to 20 events print them anyway, instead of the summary table.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func
