"""The ``zenoti-emulator`` command: a click group with one module per family of commands.

This package is the only place that imports click. Commands parse options, call core
code and print; every :class:`~emulator.errors.EmulatorError` becomes one line on stderr
and its ``exit_code`` here, in :class:`EmulatorGroup`, and nowhere else.

Every command module is imported at each start (``--help`` and every Tab of shell
completion build all options), so a command imports Faker, jsonschema, requests, rich,
Flask or sqlite3 inside its function, and takes option defaults and choices from
:mod:`emulator.defaults`. ``tests/test_cli_startup.py`` fails otherwise.
"""

from __future__ import annotations

from typing import Any

import click

from ..errors import EmulatorError
from ..shown import safe

EPILOG = """\b
Exit codes:
  0  everything worked (all events delivered, all captures valid)
  1  some events failed for good, or were invalid
  2  bad usage or unreadable input
"""


class EmulatorGroup(click.Group):
    """Turns our errors into a one-line message and their exit code, and Ctrl-C into 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EmulatorError as exc:
            if ctx.find_root().params.get("traceback"):
                raise
            click.echo(f"Error: {safe(exc.message)}", err=True)  # a message may quote a URL or a receiver
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            # Ctrl-C is the user's choice, not an error: the command has said what it left
            # behind; click would add "Aborted!". 130 is the shell's code for SIGINT.
            ctx.exit(130)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # Read only when asked: the installed metadata costs ~20 ms to import at every start.
    if not value or ctx.resilient_parsing:
        return
    from .. import __version__

    click.echo(f"zenoti-emulator, version {__version__}")
    ctx.exit()


@click.group(cls=EmulatorGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error instead of one line.")
def cli(traceback: bool) -> None:
    """Zenoti's webhooks on your own machine: generate, deliver, log and validate events."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``zenoti-emulator``, ``python -m emulator``)."""
    cli.main(args=argv, prog_name="zenoti-emulator", auto_envvar_prefix="ZENOTI_EMULATOR")


# Command modules register themselves on ``cli`` (so they come after it); one import per family.
from . import (  # noqa: E402
    api as _api,  # noqa: F401
    check as _check,  # noqa: F401
    deliveries as _deliveries,  # noqa: F401
    delivery as _delivery,  # noqa: F401
    generate as _generate,  # noqa: F401
    load as _load,  # noqa: F401
    relay as _relay,  # noqa: F401
    scenario as _scenario,  # noqa: F401
    serve as _serve,  # noqa: F401
    validate as _validate,  # noqa: F401
    world as _world,  # noqa: F401
)
