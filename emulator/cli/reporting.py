"""What a delivering command prints: progress while it runs, a summary and a table at the end.

Progress and tables go to stderr, data (``--json``) to stdout. :class:`Reporter` follows a
run's attempts as the deliverer reports them; :func:`summarize` and :func:`print_summary`
turn a run's deliveries into :class:`RunStats` and its lines.
"""

from __future__ import annotations

import json
import shlex
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from ..delivery.retry import DeliveryOptions
    from ..delivery.rows import AttemptRecord, RecordResult
    from ..delivery.store import Store


def _err_console() -> Console:
    from rich.console import Console

    # Off a terminal nothing tells rich the width; a wide one keeps tables unclipped in logs.
    width = None if sys.stderr.isatty() else 200
    return Console(stderr=True, highlight=False, width=width)


@dataclass
class RunStats:
    """What a run did, gathered from the deliverer's hooks (on worker threads)."""

    total: int = 0
    delivered: int = 0
    failed: int = 0
    attempts: int = 0
    latencies: list[float] = field(default_factory=list)
    retried: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_attempt(self, record: AttemptRecord, result: RecordResult) -> None:
        with self.lock:
            self.attempts += 1
            if record.latency_ms is not None:
                self.latencies.append(record.latency_ms)
            if record.number > 1:
                self.retried.add(record.delivery_id)

    def on_complete(self, delivery_id: int, status: str) -> None:
        with self.lock:
            if status == "delivered":
                self.delivered += 1
            else:
                self.failed += 1


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarize(store: Store, ids: Sequence[int], stats: RunStats, elapsed: float) -> dict[str, Any]:
    """The run's figures; statuses are read back from the log, the authority."""
    counts = store.counts(ids=ids)
    return {
        "events": len(ids),
        "delivered": counts["delivered"],
        "failed": counts["failed"],
        "pending": counts["pending"],
        "retried": len(stats.retried),
        "attempts": stats.attempts,
        "latency_ms": {
            "p50": _round(_percentile(stats.latencies, 0.50)),
            "p95": _round(_percentile(stats.latencies, 0.95)),
            "max": _round(max(stats.latencies) if stats.latencies else None),
        },
        "elapsed_s": round(elapsed, 3),
        "deliveries_per_s": round(len(ids) / elapsed, 1) if elapsed > 0 else None,
        "delivery_ids": [min(ids), max(ids)] if ids else [],
        "last_failure": _last_failure(store, ids) if counts["failed"] else None,
    }


def _last_failure(store: Store, ids: Sequence[int]) -> str | None:
    page, _ = store.list_deliveries(ids=list(ids)[-500:], status="failed", limit=1)
    if not page:
        return None
    d = page[0]
    return d.last_error or (f"HTTP {d.last_status}" if d.last_status is not None else None)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def print_summary(
    summary: dict[str, Any], *, as_json: bool, title: str, db: str | None = None, table: bool = True
) -> None:
    if as_json:
        click.echo(json.dumps(summary))
    elif table:
        _print_table(summary, title)
    if summary["pending"]:
        resume = "zenoti-emulator resume" + (f" --db {shlex.quote(db)}" if db else "")
        click.echo(f"{summary['pending']} deliveries have retries scheduled; run: {resume}", err=True)
    if summary["failed"]:
        last = f" (last: {summary['last_failure']})" if summary.get("last_failure") else ""
        click.echo(
            f"{summary['failed']} failed for good{last}. See: zenoti-emulator deliveries --status failed", err=True
        )


def _print_table(summary: dict[str, Any], title: str) -> None:
    """Figures down, names across: fits any terminal width."""

    def ms(key: str) -> str:
        value = summary["latency_ms"][key]
        return "-" if value is None else f"{value:.1f} ms"

    from rich import box
    from rich.table import Table

    rate = summary["deliveries_per_s"]
    rows = [
        ("events", str(summary["events"])),
        ("delivered", f"[green]{summary['delivered']}[/]"),
        ("failed", f"[red]{summary['failed']}[/]" if summary["failed"] else "0"),
        ("pending", f"[yellow]{summary['pending']}[/]" if summary["pending"] else "0"),
        ("retried", str(summary["retried"])),
        ("attempts", str(summary["attempts"])),
        ("latency p50", ms("p50")),
        ("latency p95", ms("p95")),
        ("latency max", ms("max")),
        ("throughput", "-" if rate is None else f"{rate:.1f} deliveries/s"),
        ("elapsed", f"{summary['elapsed_s']:.2f} s"),
    ]
    table = Table(show_header=False, box=box.SIMPLE)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    console = _err_console()
    console.print(title, markup=False, style="bold")
    console.print(table)


@dataclass
class Explain:
    """What a run that delivers to one target says besides progress (see :mod:`.hints`).

    ``per_event``: a line per attempt (small runs, ``-v``); ``hints``: at the first
    failure, on a terminal, what Zenoti's schedule will do and how to go faster; a
    refused (401/403) event always gets the signature hint, once.
    """

    store: Store
    options: DeliveryOptions
    shown_url: str
    signed: bool
    per_event: bool
    hints: bool
    #: the run waits for retries (not --no-wait)
    wait: bool = True
    said: set[str] = field(default_factory=set)
    labels: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)

    def once(self, key: str) -> bool:
        """True the first time ``key`` is asked (called under the reporter's lock)."""
        if key in self.said:
            return False
        self.said.add(key)
        return True

    def label_of(self, delivery_id: int) -> tuple[str | None, str | None]:
        """The event type and envelope id of a delivery, read from the log once."""
        if delivery_id not in self.labels:
            page, _ = self.store.list_deliveries(ids=[delivery_id], limit=1)
            self.labels[delivery_id] = (page[0].event_type, page[0].call_id) if page else (None, None)
        return self.labels[delivery_id]


class Reporter:
    """A progress bar on a terminal, plain lines (at most one a second) otherwise."""

    def __init__(self, stats: RunStats, total: int | None, label: str, explain: Explain | None = None) -> None:
        self.stats = stats
        self.label = label
        self.total = total
        self.explain = explain
        self.tty = sys.stderr.isatty()
        self._progress: Progress | None = None
        self._task: Any = None
        self._last = 0.0
        self._last_line = ""
        self._lock = threading.Lock()

    def __enter__(self) -> Reporter:
        if self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn(f"[bold]{self.label}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=_err_console(),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=self.total, detail="")
        return self

    def on_attempt(self, record: AttemptRecord, result: RecordResult) -> None:
        """Say why a receiver fails while it happens: the failure, and when the retry is."""
        if self.explain is not None:
            self._explain(self.explain, record, result)
            if self.explain.per_event and not result.deactivated:
                return  # the event's own line said it
        if record.ok:
            return
        why = record.error or (f"HTTP {record.status_code}" if record.status_code is not None else record.outcome)
        if result.next is not None:
            due = time.strftime("%H:%M:%S", time.localtime(result.next.due_at))
            wait = max(0.0, result.next.due_at - time.time())
            then = f"retry {result.next.number} at {due} (in {wait:.0f} s)"
        else:
            then = "no retry left" if result.status == "failed" else "not retried"
        where = f"delivery {record.delivery_id} attempt {record.number}: {why}"
        failure = f"{where}; {then}"
        if result.deactivated:
            # Always said, and at once: it is why the run ends early.
            self._say(
                f"{self.label}: webhook deactivated after this failure ({where}); its waiting retries end now, unsent",
                force=True,
            )
        else:
            self._say(f"{self.label}: last failure: {failure}")

    def _explain(self, ex: Explain, record: AttemptRecord, result: RecordResult) -> None:
        """The event's line (small runs, -v) and, at the first failure, the hints: all
        printed at once (never held back by the once-a-second limit)."""
        from . import hints

        lines: list[str] = []
        if ex.per_event:
            lines.append(hints.event_line(*ex.label_of(record.delivery_id), record, result))
        if not record.ok:
            check = hints.check_command(ex.shown_url, ex.signed)
            with self._lock:
                first = ex.hints and self.tty and ex.once("first-failure")
                refused = hints.signature_hint(self.label, record, check) or hints.unsigned_hint(self.label, record)
                refused = refused if refused and ex.once("refused") else None
            if first:
                lines += hints.first_failure_hint(self.label, record, ex.options, check, wait=ex.wait)
            if refused:
                lines += refused
        for line in lines:
            self._say(line, force=True)

    def on_complete(self, delivery_id: int, status: str) -> None:
        self._refresh()

    def _refresh(self) -> None:
        s = self.stats
        detail = f"delivered {s.delivered}  failed {s.failed}  retried {len(s.retried)}"
        if self._progress is not None:
            self._progress.update(self._task, completed=s.delivered + s.failed, detail=detail)
            return
        if self.explain is not None and self.explain.per_event:
            return  # each event has its line; the total comes at the end
        self._say(f"{self.label}: {s.delivered + s.failed}/{self.total or '?'} done, {detail}")

    def _say(self, line: str, *, force: bool = False) -> None:
        """A line, at most one a second unless ``force``: plain off a terminal, printed
        above the bar on one (whole, where the bar's own columns would cut it)."""
        now = time.monotonic()
        with self._lock:
            if not force:  # a forced line is extra: it does not use up the second's line
                if now - self._last < 1.0:
                    return
                self._last = now
            if self._progress is not None:
                self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
            elif force:
                click.echo(line, err=True)  # two events may have the same line: both are said
            else:
                self._echo(line)

    def _echo(self, line: str) -> None:
        if line != self._last_line:
            self._last_line = line
            click.echo(line, err=True)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            return
        s = self.stats
        with self._lock:
            self._echo(
                f"{self.label}: {s.delivered + s.failed}/{self.total or '?'} done, "
                f"delivered {s.delivered}  failed {s.failed}  retried {len(s.retried)}"
            )
