"""``zenoti-emulator validate``: check real captures against the schemas, report drift."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO, cast

import click

from ..defaults import REPORT_FORMATS
from . import cli
from .output import open_output
from .params import EventTypeParam

if TYPE_CHECKING:
    from rich.console import Console


class _AboveBar(io.TextIOBase):
    """The report on a terminal that also shows the bar: whole lines printed above it.

    Text goes out verbatim through the bar's console (``Console.out``): no markup, emoji,
    highlighting or wrapping, since a capture's path or field may hold ``[/b]`` and an
    error line must stay one line. rich's own stdout redirect wraps lines at the terminal
    width and parses a flushed partial line as markup. A partial line waits for its end.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines, newline, self._partial = (self._partial + text).rpartition("\n")
        if newline:
            self._console.out(lines, highlight=False)
        return len(text)

    def close(self) -> None:
        if self._partial:
            self._console.out(self._partial, highlight=False, end="")
            self._partial = ""
        super().close()


@contextlib.contextmanager
def _progress(
    paths: tuple[str, ...], enabled: bool, share_terminal: bool
) -> Iterator[tuple[Callable[[int], None] | None, TextIO | None]]:
    """A byte-counting progress bar on stderr, only when stderr is a terminal.

    Yields the bar's ``advance(n_bytes)`` and, when ``share_terminal`` (stdout is that
    terminal too), a stream that writes the report above the bar instead of across it.
    """
    if not enabled:
        yield None, None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from ..captures import readers

    total = 0 if "-" in paths else sum(f.stat().st_size for f in readers.capture_files(paths) if f.is_file())
    columns = (TextColumn("validating"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(
        *columns, console=Console(stderr=True), transient=True, redirect_stdout=False, redirect_stderr=False
    ) as bar:
        task = bar.add_task("validate", total=total or None)
        # a text stream to the renderers: io.TextIOBase writes text, though typing calls only TextIO so
        above = cast(TextIO, _AboveBar(bar.console)) if share_terminal else None
        try:
            yield (lambda n: bar.advance(task, n)), above
        finally:
            if above is not None:
                above.close()


@cli.command("validate", short_help="Check captured webhooks against the schemas; report drift.")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--event-type",
    "event_type",
    type=EventTypeParam(),
    default=None,
    help="Check every body as this type; recognizes bodies of only `data` (no envelope). Other types are skipped.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(REPORT_FORMATS),
    default="text",
    show_default=True,
    help="text: for a person; json: stable, machine-readable; junit: JUnit XML for CI.",
)
@click.option("--strict", is_flag=True, help="A field the schema does not know makes its event invalid.")
@click.option(
    "--fail-on-drift",
    is_flag=True,
    help="Exit 1 when captures drift from the schema (unknown fields, undocumented values, types).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the report to FILE instead of stdout.",
)
def validate_command(
    paths: tuple[str, ...], event_type: str | None, fmt: str, strict: bool, fail_on_drift: bool, output: str | None
) -> None:
    """Validate captured Zenoti webhooks in PATH... (files, directories, `-` for stdin).

    Reads .json (one event or an array), .jsonl/.ndjson (line by line), .har (the
    webhook requests in it) and directories (recursively). Prints every invalid event
    with each error on one line, then the drift of the captures from the schema and a
    summary. Exit 0 when every event is valid, 1 when some are not (or they drift, with
    --fail-on-drift), 2 when an input cannot be read.

    \b
    Examples:
      zenoti-emulator validate captures/
      zenoti-emulator validate webhooks.jsonl --format junit -o report.xml
      psql -Atc "select body from hooks" | zenoti-emulator validate -
    """
    from ..captures import checking, readers, renderers, validate as core
    from ..events.registry import default_registry

    readers.check_inputs(paths)
    validator = checking.CaptureValidator(default_registry(), event_type=event_type, strict=strict)
    with contextlib.ExitStack() as stack:
        file = stack.enter_context(open_output(output)) if output else None
        progress, above = stack.enter_context(_progress(paths, sys.stderr.isatty(), not output and sys.stdout.isatty()))
        out: TextIO = file or above or sys.stdout
        captures = readers.iter_captures(paths, stdin=sys.stdin.buffer if "-" in paths else None, progress=progress)
        renderer = renderers.make_renderer(fmt, out)
        report = core.run(captures, validator, renderer=renderer, fail_on_drift=fail_on_drift)
    if output:
        click.echo(report.summary.line(), err=True)
    # click's main turns this into the process exit code; nothing deeper exits.
    click.get_current_context().exit(int(report.exit_code))
