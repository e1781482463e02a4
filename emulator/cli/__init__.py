"""The ``zenoti-emulator`` command: a click group with one module per family of commands.

This package is the only place that imports click. Commands parse options, call core
code and print; every :class:`~emulator.errors.EmulatorError` becomes one line on stderr
and its ``exit_code`` here, in :class:`EmulatorGroup`, and nowhere else.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import __version__
from ..errors import EmulatorError, ExitCode

EPILOG = """\b
Exit codes:
  0  everything worked (all events delivered, all captures valid)
  1  some events failed for good, or were invalid
  2  bad usage or unreadable input
"""


class EmulatorGroup(click.Group):
    """Turns our errors into a one-line message and their exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EmulatorError as exc:
            if ctx.find_root().params.get("traceback"):
                raise
            click.echo(f"Error: {exc.message}", err=True)
            ctx.exit(int(exc.exit_code))


@click.group(cls=EmulatorGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="zenoti-emulator")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error instead of one line.")
def cli(traceback: bool) -> None:
    """Zenoti's webhooks on your own machine: generate, deliver, log and validate events."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``zenoti-emulator``, ``python -m emulator``)."""
    cli.main(args=argv, prog_name="zenoti-emulator", auto_envvar_prefix="ZENOTI_EMULATOR")


# Command modules register themselves on ``cli``; one import per family.
from . import generate as _generate  # noqa: E402,F401
from . import validate as _validate  # noqa: E402,F401
from . import delivery as _delivery  # noqa: E402,F401
from . import serve as _serve  # noqa: E402,F401
from . import world as _world  # noqa: E402,F401
from . import relay as _relay  # noqa: E402,F401
