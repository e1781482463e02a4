"""``deliveries`` and ``deliveries show``: what the delivery log holds, as tables or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from ..bounds import MAX_ID
from ..defaults import STATUSES
from ..shown import printable, safe
from . import cli
from .delivery_options import db_option, json_option
from .params import IdParam, IntParam
from .reporting import _err_console

if TYPE_CHECKING:
    from rich.table import Table


@cli.group(
    "deliveries", invoke_without_command=True, short_help="List logged deliveries; `deliveries show ID` for one."
)
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only deliveries in this state.")
@click.option("--webhook", "webhook_ref", default=None, metavar="URL_OR_ID", help="Only this webhook's deliveries.")
@click.option(
    "--limit", type=IntParam(1, MAX_ID), default=50, show_default=True, help="Newest first, at most this many."
)
@db_option
@json_option
@click.pass_context
def deliveries_command(
    ctx: click.Context, status: str | None, webhook_ref: str | None, limit: int, db: str | None, as_json: bool
) -> None:
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

    from ..delivery.rows import iso

    colour = {"delivered": "green", "failed": "red", "pending": "yellow"}
    rows = []
    for d in page:
        last = str(d.last_status) if d.last_status is not None else (d.last_error or "-")
        created = iso(d.created_at) or "-"  # 2024-07-25T14:52:06.123Z: the year and the fraction go
        rows.append(
            (
                str(d.id),
                d.event_type or "-",
                d.call_id or "-",
                f"{d.webhook_id or '-'} {d.verb} {d.shown_url}",
                d.status,
                str(d.attempts),
                safe(last)[:40],
                f"{created[5:10]} {created[11:19]}",
            )
        )
    headers = ("id", "event", "call id", "webhook", "status", "tries", "last", "created (UTC)")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    # Rich squeezes every column alike when a table is too wide; we choose who gives way.
    _give_way(widths, {2: 8, 3: 10, 6: 8}, room=width - len(headers))
    table = Table(show_header=True, box=None, padding=(0, 1, 0, 0), pad_edge=False, header_style="bold")
    for header, w in zip(headers, widths, strict=True):
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
def deliveries_show_command(
    ctx: click.Context, delivery_id: int, with_body: bool, db: str | None, as_json: bool
) -> None:
    """Show delivery DELIVERY_ID: each attempt (time, verb, URL, request headers, status,
    latency, response, error) and each scheduled attempt (real due time and the unscaled
    Zenoti delay)."""
    from rich.markup import escape
    from rich.table import Table

    from ..delivery.rows import iso
    from ..delivery.store import Store

    with Store(db or ctx.obj.get("db")) as store:
        d = store.get_delivery(delivery_id)
    if as_json:
        click.echo(json.dumps(d.to_dict(with_body=with_body)))
        return
    console = _err_console()
    console.print(
        f"[bold]Delivery {d.id}[/]  {escape(printable(str(d.event_type)))}  id={escape(printable(str(d.call_id)))}  {d.verb} "
        f"{escape(d.shown_url)}  status={d.status}  attempts={d.attempts}",
        markup=True,
    )
    table = Table(show_header=True, title="Attempts", title_justify="left")
    for column in ("#", "started", "status", "outcome", "ms", "error", "response"):
        table.add_column(column)
    for a in d.attempt_log:
        table.add_row(
            str(a.number),
            iso(a.started_at),
            str(a.status_code or "-"),
            a.outcome,
            f"{a.latency_ms:.1f}" if a.latency_ms is not None else "-",
            escape(safe(a.error or "")),
            escape(printable(a.response_body[:60].decode("utf-8", "replace"))),
        )
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
