"""Delivery commands: ``fire``, ``webhooks``, ``reactivate``, ``resume``, ``deliveries``, ``replay``.

Each parses its options, opens the delivery log and a :class:`~emulator.delivery.deliverer.Deliverer`,
and reports: progress and tables on stderr, data (``--json``) on stdout.
"""

from __future__ import annotations

import json
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from .. import bounds
from ..bounds import MAX_ID
from ..defaults import DEFAULT_CONCURRENCY, DEFAULT_DEACTIVATE_AFTER, DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT, FAILURE_UNITS, STATUSES, VERBS
from ..errors import EmulatorError, ExitCode, UsageError, WebhookInactive
from ..delivery.signing import SIGNATURE_FORMATS
from ..shown import printable, safe
from ..urls import redact_url
from . import cli
from .hints import PER_EVENT_MAX
from .params import (CoreParam, IdParam, IntParam, SecondsParam, TimeScaleParam, disorder_from, disorder_options,
                     disordered, events_from_options, generation_options)

# rich, requests (under ..delivery) and sqlite3 (under ..store) load when a command runs,
# not when the CLI starts: `--help` and shell completion build every command's options.
if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from ..delivery.deliverer import Deliverer, DeliveryOptions
    from ..delivery.store import AttemptRecord, RecordResult, Store


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
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of a table on stderr.")(func)


def concurrency_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "-c",
        "--concurrency",
        type=click.IntRange(1, 256),
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        help="Requests in flight at most.",
    )(func)


def _err_console() -> Console:
    from rich.console import Console

    # Off a terminal nothing tells rich the width; a wide one keeps tables unclipped in logs.
    width = None if sys.stderr.isatty() else 200
    return Console(stderr=True, highlight=False, width=width)


# -- reporting -------------------------------------------------------------------------


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


def print_summary(summary: dict[str, Any], *, as_json: bool, title: str, db: str | None = None,
                  table: bool = True) -> None:
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
            self._say(f"{self.label}: webhook deactivated after this failure ({where}); "
                      "its waiting retries end now, unsent", force=True)
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
                refused = (hints.signature_hint(self.label, record, check) or hints.unsigned_hint(self.label, record))
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


def _run(
    store: Store,
    *,
    label: str,
    total: int | None,
    start: Callable[[Deliverer], list[int]],
    settle: bool,
    concurrency: int,
    options: DeliveryOptions | None = None,
    rate: float | None = None,
    max_queued: int | None = None,
    explain: Explain | None = None,
) -> tuple[list[int], RunStats, float, str | None]:
    """Start work on a deliverer, report progress, wait; ``(ids, stats, elapsed, stop reason)``."""
    from ..delivery.deliverer import Deliverer

    stats = RunStats()
    reporter = Reporter(stats, total, label, explain)
    stopped: str | None = None
    ids: list[int] = []
    t0 = time.perf_counter()
    with reporter:
        deliverer = Deliverer(
            store,
            options=options,
            concurrency=concurrency,
            rate=rate,
            **({"max_queued": max_queued} if max_queued else {}),
            hooks={"attempt": [stats.on_attempt, reporter.on_attempt], "complete": [stats.on_complete, reporter.on_complete]},
        )
        try:
            try:
                ids = start(deliverer)
            except WebhookInactive as exc:
                # deactivated part-way: what was submitted still runs to its end
                stopped = exc.message
                ids = exc.submitted
            deliverer.wait(settle=settle)
        except KeyboardInterrupt:
            click.echo("Interrupted: pending retries stay in the log; run: zenoti-emulator resume", err=True)
            raise  # EmulatorGroup exits 130, without click's "Aborted!"
        finally:
            deliverer.close()
    return ids, stats, time.perf_counter() - t0, stopped


# -- fire ------------------------------------------------------------------------------


def delivery_options(func: Callable[..., Any], *, target_required: bool = True) -> Callable[..., Any]:
    """The options of every command that delivers: --target, --secret, --verb, retries..."""
    target_help = "The receiver's URL (http or https)." if target_required else "Deliver to this URL (http or https) instead of printing."
    decorators = [
        click.option("-t", "--target", "--url", "target", type=URLParam(), required=target_required, help=target_help),
        click.option("--secret", default=None, envvar="ZENOTI_EMULATOR_SECRET",
                     help="Sign each body with this secret (zenoti-webhook-signature); also $ZENOTI_EMULATOR_SECRET, "
                          "which keeps it out of the process list. Unsigned when omitted."),
        click.option("--verb", type=click.Choice(VERBS, case_sensitive=False), default="POST", show_default=True, help="HTTP verb, as chosen in Zenoti's setup."),
        concurrency_option,
        click.option("--rate", type=RateParam(), default=None, help="At most R requests per second (e.g. 50/s). No limit when omitted."),
        click.option("--time-scale", type=TimeScaleParam(), default=1.0, show_default=True,
                     help="Divide every wait between attempts by F (600 turns 10 min into 1 s). The log keeps the real schedule too."),
        click.option("--timeout", type=SecondsParam(), default=DEFAULT_TIMEOUT, show_default=True,
                     help="Seconds each attempt may take, response body included (Zenoti: 10; at most 600)."),
        click.option("--max-attempts", type=click.IntRange(1, 50), default=DEFAULT_MAX_ATTEMPTS, show_default=True,
                     help="First attempt plus retries (Zenoti: 1 + 5)."),
        click.option("--no-retry", is_flag=True, help="One attempt per event, no retry."),
        click.option("--wait/--no-wait", default=True, show_default=True,
                     help="Wait for retries to settle; --no-wait returns after each event's first attempt and leaves retries to `resume`."),
        click.option("--no-content-type", is_flag=True, help="Send no Content-Type header (real Zenoti is reported not to send it reliably)."),
        click.option("--signature-format", type=click.Choice(SIGNATURE_FORMATS), default="dashed", show_default=True,
                     help="dashed: 'sha256 =AB-12-...' as reported from real traffic; hex: 'sha256=ab12...'."),
        click.option("--count-failures", "failure_unit", type=click.Choice(FAILURE_UNITS), default="attempt", show_default=True,
                     help="What counts towards deactivation: each failed attempt, or each event whose retries ran out."),
        click.option("--deactivate-after", type=click.IntRange(min=0), default=DEFAULT_DEACTIVATE_AFTER, show_default=True,
                     help="Failures in a row that deactivate the webhook (0: never)."),
        click.option("-v", "--verbose", is_flag=True,
                     help="A line per event (type, id, answer, latency) however many there are; "
                          "runs of up to 20 events print them anyway, instead of the summary table."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@dataclass
class Delivery:
    """What the delivery options asked for, gathered for :func:`fire_events`."""

    target: str
    secret: str | None
    verb: str
    concurrency: int
    rate: float | None
    wait: bool
    options: DeliveryOptions
    verbose: bool = False

    @classmethod
    def from_options(cls, *, target: str, secret: str | None, verb: str, concurrency: int, rate: float | None,
                     time_scale: float, timeout: float, max_attempts: int, no_retry: bool, wait: bool,
                     no_content_type: bool, signature_format: str, failure_unit: str, deactivate_after: int,
                     verbose: bool = False) -> Delivery:
        from ..delivery.deliverer import DeliveryOptions, RetryPolicy

        options = DeliveryOptions(
            timeout=timeout,
            time_scale=time_scale,
            policy=RetryPolicy.no_retry() if no_retry else RetryPolicy(max_attempts=max_attempts),
            content_type=not no_content_type,
            signature_format=signature_format,
            failure_unit=failure_unit,
            deactivate_after=deactivate_after,
        )
        return cls(target, secret, verb, concurrency, rate, wait, options, verbose)


def fire_events(store: Store, events: Iterable[Any], total: int | None, delivery: Delivery, *,
                label: str, as_json: bool, db: str | None, made: str = "generated", batch: int = 64,
                on_sent: Callable[[list[int]], None] | None = None) -> None:
    """Deliver ``events`` to the target, report, and exit 1 when some failed for good.

    ``batch``: events logged together before their workers start; 1 for a paced stream,
    whose events must go out when each falls due, not when 64 have. ``on_sent`` gets the
    delivery ids, in the order sent, before the report (a scenario logs its run there).
    """
    webhook = store.upsert_webhook(delivery.target, verb=delivery.verb, secret=delivery.secret)
    store.require_active(webhook)
    small = total is not None and total <= PER_EVENT_MAX
    explain = Explain(store, delivery.options, webhook.shown_url, signed=delivery.secret is not None,
                      per_event=small or delivery.verbose, hints=True, wait=delivery.wait)
    # A later event can still fail to be made (a list index that fits the first event, not
    # this one): the stream ends there and what was made before it is sent and settles.
    broken: list[EmulatorError] = []
    ids, stats, elapsed, stopped = _run(
        store,
        label=label,
        total=total,
        start=lambda d: d.submit_many(_until_error(events, broken), webhook, batch=batch),
        settle=delivery.wait,
        concurrency=delivery.concurrency,
        options=delivery.options,
        rate=delivery.rate,
        explain=explain,
    )
    if on_sent is not None:
        on_sent(ids)
    summary = summarize(store, ids, stats, elapsed)
    summary["webhook_id"] = webhook.id
    # A small run's events each had their line: the 13-line table would only repeat them.
    print_summary(summary, as_json=as_json, title=f"Fired at {redact_url(delivery.target)} (webhook {webhook.id})", db=db,
                  table=not small)
    if not stopped and not store.get_webhook(webhook.id).active:
        stopped = f"Webhook {webhook.id} is now deactivated. Fix the receiver, then run: zenoti-emulator reactivate {webhook.id}"
    if stopped:
        click.echo(f"Error: {stopped}", err=True)
    if broken:
        sent = len(ids)
        of = f" of {total}" if total is not None else ""
        click.echo(f"Stopped after sending {sent}{of} events: event {sent + 1} could not be {made}.", err=True)
        raise broken[0]
    if stopped or summary["failed"]:
        sys.exit(ExitCode.FAILED)


@cli.command("fire", short_help="Generate events and deliver them to a receiver, as Zenoti does.")
@generation_options
@delivery_options
@click.option("--ping", is_flag=True, help="Only test the target: an empty POST with no body and no signature, like Zenoti's test button.")
@click.option("--from-file", "from_files", multiple=True, type=click.Path(), metavar="PATH",
              help="Send recorded events instead of generated ones, byte for byte (re-signed with --secret): "
                   "a file of one event, JSON Lines, a HAR, or a folder such as `captures export` writes. Repeatable.")
@disorder_options
@db_option
@json_option
def fire_command(event_type: str, count: int, seed: int | None, now: Any, assignments: tuple[Any, ...], profile: str,
                 no_validate: bool, variants: tuple[tuple[str, str], ...], fresh: bool, ping: bool, from_files: tuple[str, ...],
                 disorder: str | None, disorder_seed: int | None, db: str | None, as_json: bool, **delivery: Any) -> None:
    """Generate EVENT_TYPE events like `generate` and deliver them to --target.

    Each event is sent as its exact signed bytes, retried up to 5 times with backoff
    from 30 s to 10 min (scaled by --time-scale), and logged. Exits 0 when every event
    was delivered, 1 when some failed for good (or the webhook is deactivated), 2 for
    bad usage.

    \b
    Examples:
      zenoti-emulator fire -t http://127.0.0.1:9000/hook --secret s3cret -n 20
      zenoti-emulator fire -t http://127.0.0.1:9000/hook -n 500 -c 16 --rate 100/s
      zenoti-emulator fire -t http://127.0.0.1:9000/hook --time-scale 600 --no-wait
      zenoti-emulator fire -t http://127.0.0.1:9000/hook --ping
      zenoti-emulator fire -t http://127.0.0.1:9000/hook --from-file relayed/
      zenoti-emulator fire -t http://127.0.0.1:9000/hook -n 50 --disorder duplicates=0.2,reorder=0.1
    """
    from ..delivery.store import Store

    spec = disorder_from(disorder, disorder_seed, seed)
    report = None
    if from_files and assignments:
        raise UsageError("--set changes generated events; --from-file sends recorded bytes as they are. Use one or the other.")
    settings = Delivery.from_options(**delivery)
    with Store(db) as store:
        if ping:
            _ping(store, settings.target, settings.options.timeout, as_json)
            return
        store.require_active(store.upsert_webhook(settings.target, verb=settings.verb, secret=settings.secret))
        events: Iterable[Any]
        if from_files:
            from ..captures.recorded import read_bodies

            events = (body for _, body in read_bodies(from_files))  # a missing path fails here, before any send
        else:
            # The first event is made now: a --set that breaks the schema fails before any send.
            events = events_from_options(event_type, count, seed, now, assignments, profile, no_validate, variants, fresh)
        total = None if from_files else count
        if spec is not None:
            events, report = disordered(iter(events), spec)
            total = None  # duplicates add deliveries
        try:
            fire_events(store, events, total, settings, label="fire", as_json=as_json, db=db,
                        made="read" if from_files else "generated")
        finally:
            if report is not None:
                click.echo(report.tally(), err=True)


def _until_error(events: Iterable[Any], errors: list[EmulatorError]) -> Iterator[Any]:
    """``events`` until one cannot be made; its error is appended to ``errors`` and the stream ends."""
    try:
        yield from events
    except EmulatorError as exc:
        errors.append(exc)


def _ping(store: Store, target: str, timeout: float, as_json: bool) -> None:
    from ..delivery.deliverer import Deliverer, DeliveryOptions

    with Deliverer(store, concurrency=1, options=DeliveryOptions(timeout=timeout)) as deliverer:
        result = deliverer.ping(target, timeout=timeout)
    if as_json:
        click.echo(json.dumps({"url": redact_url(target), "ok": result.ok, "status": result.status_code, "outcome": result.outcome,
                               "latency_ms": round(result.latency_ms, 1), "error": result.error}))
    word = "answered" if result.status_code is not None else "failed:"
    click.echo(f"Ping {redact_url(target)}: {word} {result.error or result.status_code} in {result.latency_ms:.0f} ms", err=True)
    if not result.ok:
        sys.exit(ExitCode.FAILED)


# -- webhooks, reactivate ----------------------------------------------------------------


@cli.command("webhooks", short_help="List webhooks with their state and failure count.")
@db_option
@json_option
def webhooks_command(db: str | None, as_json: bool) -> None:
    """List every webhook in the log: id, URL, verb, masked secret, state, failures in a row."""
    from rich.markup import escape
    from rich.table import Table

    from ..delivery.store import Store, iso

    with Store(db) as store:
        hooks = store.list_webhooks()
    if as_json:
        click.echo(json.dumps([h.to_dict() for h in hooks]))
        return
    if not hooks:
        click.echo("No webhooks yet: `zenoti-emulator fire --target URL` creates one.", err=True)
        return
    table = Table(show_header=True)
    for column in ("id", "name", "verb", "url", "secret", "events", "state", "failures", "created"):
        table.add_column(column)
    for h in hooks:
        state = "active" if h.active else f"[red]deactivated {iso(h.deactivated_at)}[/red]"
        # Names, URLs and answers are the user's (or a receiver's) text, never rich markup.
        table.add_row(str(h.id), escape(h.name), h.verb, escape(h.shown_url), h.masked_secret or "-",
                      escape(",".join(h.event_types) or "(one-off target)"), state, str(h.consecutive_failures), iso(h.created_at))
    _err_console().print(table)


@cli.command("reactivate", short_help="Bring a deactivated webhook back (by id or URL).")
@click.argument("url_or_id")
@db_option
@json_option
def reactivate_command(url_or_id: str, db: str | None, as_json: bool) -> None:
    """Reactivate the webhook URL_OR_ID and reset its failure count, as a person does in
    Zenoti's setup after fixing the receiver."""
    from ..delivery.store import Store

    with Store(db) as store:
        hook = store.reactivate(url_or_id)
    if as_json:
        click.echo(json.dumps(hook.to_dict()))
    click.echo(f"Webhook {hook.id} ({hook.shown_url}) is active again.", err=True)


# -- resume, replay ----------------------------------------------------------------------


@cli.command("resume", short_help="Run every pending retry in the log to its end, then exit.")
@db_option
@concurrency_option
@click.option("--time-scale", type=TimeScaleParam(), default=None,
              help="Run the waiting retries F times faster than they were scheduled (600 turns 10 min into 1 s). "
                   "Default: each at the time the log says.")
@json_option
def resume_command(db: str | None, concurrency: int, time_scale: float | None, as_json: bool) -> None:
    """Resume the deliveries a stopped (or killed) run left pending, each retry at its
    original due time (overdue ones at once; sooner with --time-scale), and wait until
    all are delivered or failed. Exits 1 when some failed for good."""
    from ..delivery.store import Store

    with Store(db) as store:
        pending = store.counts()["pending"]
        if pending and not as_json:
            first = min((s.due_at for s in store.pending_schedule()), default=None)
            if first is not None and first > time.time() + 5 and time_scale is None:
                due = time.strftime("%H:%M:%S", time.localtime(first))
                click.echo(f"{pending} pending; the first retry is due at {due} "
                           f"(in {first - time.time():.0f} s). --time-scale 600 runs them sooner.", err=True)
        if not pending:
            click.echo("Nothing to resume: no delivery is pending.", err=True)
            if as_json:
                print_summary(summarize(store, [], RunStats(), 0.0), as_json=True, title="")
            return
        ids, stats, elapsed, _ = _run(store, label="resume", total=pending, settle=True, concurrency=concurrency,
                                      start=lambda d: d.resume_pending(time_scale=time_scale))
        summary = summarize(store, sorted(set(ids)), stats, elapsed)
        print_summary(summary, as_json=as_json, title="Resumed deliveries")
    if summary["failed"]:
        sys.exit(ExitCode.FAILED)


@cli.command("replay", short_help="Send deliveries again, as new attempts of the same events.")
@click.argument("delivery_ids", nargs=-1, type=IdParam())
@click.option("--all-failed", is_flag=True, help="Replay every delivery whose status is failed.")
@db_option
@concurrency_option
@json_option
def replay_command(delivery_ids: tuple[int, ...], all_failed: bool, db: str | None, concurrency: int, as_json: bool) -> None:
    """Send DELIVERY_IDS (or --all-failed) again: the same bytes, the same `id`, re-signed,
    as one new attempt each. Exits 1 unless every one is delivered."""
    if not delivery_ids and not all_failed:
        raise UsageError("Name the deliveries to replay (zenoti-emulator replay 12 13) or pass --all-failed.")
    from ..delivery.store import Store

    with Store(db) as store:
        targets = list(delivery_ids)
        if all_failed:
            failed, _ = store.list_deliveries(status="failed", limit=None)
            targets += [d.id for d in reversed(failed) if d.id not in targets]
        if not targets:
            click.echo("Nothing to replay: no delivery has failed.", err=True)
            return
        for delivery_id in targets:  # refuse bad ids and deactivated webhooks before sending anything
            webhook_id = store.get_delivery(delivery_id).webhook_id
            if webhook_id is not None:
                store.require_active(store.get_webhook(webhook_id))

        # Two replays a worker ahead at most: failures that deactivate the webhook stop the
        # run within a few requests, not after all of them were sent to a dead receiver.
        ids, stats, elapsed, stopped = _run(store, label="replay", total=len(targets), settle=True,
                                            start=lambda d: d.replay_many(targets), concurrency=concurrency,
                                            max_queued=2 * concurrency)
        summary = summarize(store, ids, stats, elapsed)
        summary["not_replayed"] = len(targets) - len(ids)
        print_summary(summary, as_json=as_json, title="Replayed deliveries")
    if stopped:
        click.echo(f"Error: stopped after {len(ids)} of {len(targets)} replays, {summary['not_replayed']} not sent: "
                   f"{stopped}", err=True)
    if stopped or summary["failed"] or summary["pending"]:
        sys.exit(ExitCode.FAILED)


# -- deliveries ------------------------------------------------------------------------------


@cli.group("deliveries", invoke_without_command=True, short_help="List logged deliveries; `deliveries show ID` for one.")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only deliveries in this state.")
@click.option("--webhook", "webhook_ref", default=None, metavar="URL_OR_ID", help="Only this webhook's deliveries.")
@click.option("--limit", type=IntParam(1, MAX_ID), default=50, show_default=True, help="Newest first, at most this many.")
@db_option
@json_option
@click.pass_context
def deliveries_command(ctx: click.Context, status: str | None, webhook_ref: str | None, limit: int, db: str | None,
                       as_json: bool) -> None:
    """List deliveries, newest first: status, attempts, last answer."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    if ctx.invoked_subcommand is not None:
        return
    from ..delivery.store import Store

    with Store(db) as store:
        webhook_id = store.find_webhook(webhook_ref).id if webhook_ref else None
        page, _ = store.list_deliveries(status=status, webhook_id=webhook_id, limit=limit)
    if as_json:  # one array, like `webhooks --json`: the list is bounded by --limit
        click.echo(json.dumps([d.to_dict() for d in page]))
        return
    if not page:
        click.echo("No deliveries match.", err=True)
        return
    console = _err_console()
    console.print(_deliveries_table(page, console.width))


def _give_way(widths: list[int], narrowest: dict[int, int], room: int) -> None:
    """Narrow the columns named in ``narrowest`` (index: least width), widest first, until
    ``widths`` fit in ``room``; the others keep their width."""
    while sum(widths) > room:
        shrinkable = [i for i, least in narrowest.items() if widths[i] > least]
        if not shrinkable:
            return
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1


def _deliveries_table(page: Sequence[Any], width: int) -> Table:
    """`deliveries` as a table that fits 100 columns without cutting what one reads it for.

    The event type, status, attempts and time are never cut (``Appointme…`` was); the
    call id, the webhook (id, verb, URL in one cell) and the last answer give way on a
    narrow terminal, each ending in an ellipsis. No cell wraps: a row stays one line.
    """
    from rich.markup import escape
    from rich.table import Table

    from ..delivery.store import iso

    colour = {"delivered": "green", "failed": "red", "pending": "yellow"}
    rows = []
    for d in page:
        last = str(d.last_status) if d.last_status is not None else (d.last_error or "-")
        created = iso(d.created_at) or "-"  # 2024-07-25T14:52:06.123Z: the year and the fraction go
        rows.append((str(d.id), d.event_type or "-", d.call_id or "-", f"{d.webhook_id or '-'} {d.verb} {d.shown_url}",
                     d.status, str(d.attempts), safe(last)[:40], f"{created[5:10]} {created[11:19]}"))
    headers = ("id", "event", "call id", "webhook", "status", "tries", "last", "created (UTC)")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    # Rich squeezes every column alike when a table is too wide; we choose who gives way.
    _give_way(widths, {2: 8, 3: 10, 6: 8}, room=width - len(headers))
    table = Table(show_header=True, box=None, padding=(0, 1, 0, 0), pad_edge=False, header_style="bold")
    for header, w in zip(headers, widths):
        table.add_column(header, no_wrap=True, overflow="ellipsis", width=w)
    for r in rows:
        # The user's (or a receiver's) text, never rich markup.
        cells = [escape(printable(c)) for c in r]
        cells[4] = f"[{colour[r[4]]}]{cells[4]}[/]"
        table.add_row(*cells)
    return table


@deliveries_command.command("show", short_help="One delivery with every attempt and its schedule.")
@click.argument("delivery_id", type=IdParam())
@click.option("--body", "with_body", is_flag=True, help="Include the exact body sent.")
@db_option
@json_option
@click.pass_context
def deliveries_show_command(ctx: click.Context, delivery_id: int, with_body: bool, db: str | None, as_json: bool) -> None:
    """Show delivery DELIVERY_ID: each attempt (time, verb, URL, request headers, status,
    latency, response, error) and each scheduled attempt (real due time and the unscaled
    Zenoti delay)."""
    from rich.markup import escape
    from rich.table import Table

    from ..delivery.store import Store, iso

    with Store(db or ctx.obj.get("db")) as store:
        d = store.get_delivery(delivery_id)
    if as_json:
        click.echo(json.dumps(d.to_dict(with_body=with_body)))
        return
    console = _err_console()
    console.print(f"[bold]Delivery {d.id}[/]  {escape(printable(str(d.event_type)))}  id={escape(printable(str(d.call_id)))}  {d.verb} "
                  f"{escape(d.shown_url)}  status={d.status}  attempts={d.attempts}", markup=True)
    table = Table(show_header=True, title="Attempts", title_justify="left")
    for column in ("#", "started", "status", "outcome", "ms", "error", "response"):
        table.add_column(column)
    for a in d.attempt_log:
        table.add_row(str(a.number), iso(a.started_at), str(a.status_code or "-"), a.outcome,
                      f"{a.latency_ms:.1f}" if a.latency_ms is not None else "-", escape(safe(a.error or "")),
                      escape(printable(a.response_body[:60].decode("utf-8", "replace"))))
    console.print(table)
    sched = Table(show_header=True, title="Schedule", title_justify="left")
    for column in ("#", "kind", "delay (unscaled)", "time scale", "due", "state"):
        sched.add_column(column)
    for s in d.schedule:
        sched.add_row(str(s.number), s.kind, f"{s.delay_s:.1f} s", f"{s.time_scale:g}", iso(s.due_at), s.state)
    console.print(sched)
    if d.attempt_log:
        console.print("Request headers of the last attempt:")
        for k, v in d.attempt_log[-1].request_headers.items():
            console.print(printable(f"  {k}: {v}"), markup=False)  # a relay's forward carries the sender's headers
    if with_body and d.body is not None:
        click.echo(d.body.decode("utf-8", "replace"))
