"""Delivery commands: ``fire``, ``webhooks``, ``reactivate``, ``resume``, ``deliveries``, ``replay``.

Each parses its options, opens the delivery log and a :class:`~emulator.delivery.deliverer.Deliverer`,
and reports: progress and tables on stderr, data (``--json``) on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from ..errors import EmulatorError, ExitCode, UsageError, WebhookInactive
from ..urls import redact_url
from . import cli
from .delivery_options import concurrency_option, db_option, delivery_options, json_option
from .hints import PER_EVENT_MAX
from .params import (
    IdParam,
    TimeScaleParam,
    disorder_from,
    disorder_options,
    disordered,
    events_from_options,
    generation_options,
)
from .reporting import Explain, Reporter, RunStats, _err_console, print_summary, summarize

if TYPE_CHECKING:
    from ..delivery.deliverer import Deliverer
    from ..delivery.retry import DeliveryOptions
    from ..delivery.store import Store


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
        queue_bound: dict[str, Any] = {"max_queued": max_queued} if max_queued else {}
        deliverer = Deliverer(
            store,
            options=options,
            concurrency=concurrency,
            rate=rate,
            **queue_bound,
            hooks={
                "attempt": [stats.on_attempt, reporter.on_attempt],
                "complete": [stats.on_complete, reporter.on_complete],
            },
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
    def from_options(
        cls,
        *,
        target: str,
        secret: str | None,
        verb: str,
        concurrency: int,
        rate: float | None,
        time_scale: float,
        timeout: float,
        max_attempts: int,
        no_retry: bool,
        wait: bool,
        no_content_type: bool,
        signature_format: str,
        failure_unit: str,
        deactivate_after: int,
        verbose: bool = False,
    ) -> Delivery:
        from ..delivery.retry import DeliveryOptions, RetryPolicy

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


def fire_events(
    store: Store,
    events: Iterable[Any],
    total: int | None,
    delivery: Delivery,
    *,
    label: str,
    as_json: bool,
    db: str | None,
    made: str = "generated",
    batch: int = 64,
    on_sent: Callable[[list[int]], None] | None = None,
) -> None:
    """Deliver ``events`` to the target, report, and exit 1 when some failed for good.

    ``batch``: events logged together before their workers start; 1 for a paced stream,
    whose events must go out when each falls due, not when 64 have. ``on_sent`` gets the
    delivery ids, in the order sent, before the report (a scenario logs its run there).
    """
    webhook = store.upsert_webhook(delivery.target, verb=delivery.verb, secret=delivery.secret)
    store.require_active(webhook)
    small = total is not None and total <= PER_EVENT_MAX
    explain = Explain(
        store,
        delivery.options,
        webhook.shown_url,
        signed=delivery.secret is not None,
        per_event=small or delivery.verbose,
        hints=True,
        wait=delivery.wait,
    )
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
    print_summary(
        summary,
        as_json=as_json,
        title=f"Fired at {redact_url(delivery.target)} (webhook {webhook.id})",
        db=db,
        table=not small,
    )
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
@click.option(
    "--ping",
    is_flag=True,
    help="Only test the target: an empty POST with no body and no signature, like Zenoti's test button.",
)
@click.option(
    "--from-file",
    "from_files",
    multiple=True,
    type=click.Path(),
    metavar="PATH",
    help="Send recorded events instead of generated ones, byte for byte (re-signed with --secret): "
    "a file of one event, JSON Lines, a HAR, or a folder such as `captures export` writes. Repeatable.",
)
@disorder_options
@db_option
@json_option
def fire_command(
    event_type: str,
    count: int,
    seed: int | None,
    now: Any,
    assignments: tuple[Any, ...],
    profile: str,
    no_validate: bool,
    variants: tuple[tuple[str, str], ...],
    fresh: bool,
    ping: bool,
    from_files: tuple[str, ...],
    disorder: str | None,
    disorder_seed: int | None,
    db: str | None,
    as_json: bool,
    **delivery: Any,
) -> None:
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
        raise UsageError(
            "--set changes generated events; --from-file sends recorded bytes as they are. Use one or the other."
        )
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
            events = events_from_options(
                event_type, count, seed, now, assignments, profile, no_validate, variants, fresh
            )
        total = None if from_files else count
        if spec is not None:
            events, report = disordered(iter(events), spec)
            total = None  # duplicates add deliveries
        try:
            fire_events(
                store,
                events,
                total,
                settings,
                label="fire",
                as_json=as_json,
                db=db,
                made="read" if from_files else "generated",
            )
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
    from ..delivery.deliverer import Deliverer
    from ..delivery.retry import DeliveryOptions

    with Deliverer(store, concurrency=1, options=DeliveryOptions(timeout=timeout)) as deliverer:
        result = deliverer.ping(target, timeout=timeout)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "url": redact_url(target),
                    "ok": result.ok,
                    "status": result.status_code,
                    "outcome": result.outcome,
                    "latency_ms": round(result.latency_ms, 1),
                    "error": result.error,
                }
            )
        )
    word = "answered" if result.status_code is not None else "failed:"
    click.echo(
        f"Ping {redact_url(target)}: {word} {result.error or result.status_code} in {result.latency_ms:.0f} ms",
        err=True,
    )
    if not result.ok:
        sys.exit(ExitCode.FAILED)


@cli.command("webhooks", short_help="List webhooks with their state and failure count.")
@db_option
@json_option
def webhooks_command(db: str | None, as_json: bool) -> None:
    """List every webhook in the log: id, URL, verb, masked secret, state, failures in a row."""
    from rich.markup import escape
    from rich.table import Table

    from ..delivery.rows import iso
    from ..delivery.store import Store

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
        table.add_row(
            str(h.id),
            escape(h.name),
            h.verb,
            escape(h.shown_url),
            h.masked_secret or "-",
            escape(",".join(h.event_types) or "(one-off target)"),
            state,
            str(h.consecutive_failures),
            iso(h.created_at),
        )
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


@cli.command("resume", short_help="Run every pending retry in the log to its end, then exit.")
@db_option
@concurrency_option
@click.option(
    "--time-scale",
    type=TimeScaleParam(),
    default=None,
    help="Run the waiting retries F times faster than they were scheduled (600 turns 10 min into 1 s). "
    "Default: each at the time the log says.",
)
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
                click.echo(
                    f"{pending} pending; the first retry is due at {due} "
                    f"(in {first - time.time():.0f} s). --time-scale 600 runs them sooner.",
                    err=True,
                )
        if not pending:
            click.echo("Nothing to resume: no delivery is pending.", err=True)
            if as_json:
                print_summary(summarize(store, [], RunStats(), 0.0), as_json=True, title="")
            return
        ids, stats, elapsed, _ = _run(
            store,
            label="resume",
            total=pending,
            settle=True,
            concurrency=concurrency,
            start=lambda d: d.resume_pending(time_scale=time_scale),
        )
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
def replay_command(
    delivery_ids: tuple[int, ...], all_failed: bool, db: str | None, concurrency: int, as_json: bool
) -> None:
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
        ids, stats, elapsed, stopped = _run(
            store,
            label="replay",
            total=len(targets),
            settle=True,
            start=lambda d: d.replay_many(targets),
            concurrency=concurrency,
            max_queued=2 * concurrency,
        )
        summary = summarize(store, ids, stats, elapsed)
        summary["not_replayed"] = len(targets) - len(ids)
        print_summary(summary, as_json=as_json, title="Replayed deliveries")
    if stopped:
        click.echo(
            f"Error: stopped after {len(ids)} of {len(targets)} replays, {summary['not_replayed']} not sent: {stopped}",
            err=True,
        )
    if stopped or summary["failed"] or summary["pending"]:
        sys.exit(ExitCode.FAILED)
