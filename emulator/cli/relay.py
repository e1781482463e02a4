"""``zenoti-emulator relay`` and ``captures export``: real Zenoti traffic, kept and forwarded.

``relay`` serves the relay endpoint (``web/relay.py``) on its own port, for a tunnel to
reach, and prints one line per request; ``serve --relay-to`` runs the same beside the
dashboard (see ``serve.py``). ``captures export`` writes what was relayed as fixtures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..urls import redact_url
from . import cli
from .delivery_options import URLParam, db_option
from .lifetime import run_until_stopped
from .params import TimeScaleParam

#: Where the relay listens by default (``serve`` has 8025).
DEFAULT_RELAY_PORT = 8026
#: Threads answering Zenoti: mirror mode holds one per request for up to 8 s.
RELAY_THREADS = 8
#: Largest header block the relay reads (Zenoti sends a handful of headers).
MAX_HEADER_BYTES = 64 * 1024


def relay_options(prefix: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The relay's options: ``--forward-to`` etc. for ``relay``; ``--relay-*`` for ``serve``.

    ``serve`` names them with a ``relay-`` prefix, so both commands read the same.
    """

    def name(option: str) -> str:
        return f"--{prefix}{option}"

    forward = "--relay-to" if prefix else "--forward-to"

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option(
                forward,
                "forward_to",
                type=URLParam(),
                required=not prefix,
                default=None,
                help="The local receiver every request is forwarded to (http or https).",
            ),
            click.option(
                name("port"),
                "relay_port",
                type=click.IntRange(0, 65535),
                default=DEFAULT_RELAY_PORT,
                show_default=True,
                help="Port of the relay endpoint (the one to point a tunnel at); 0 picks a free one.",
            ),
            click.option(
                name("secret"),
                "relay_secret",
                default=None,
                envvar="ZENOTI_EMULATOR_RELAY_SECRET",
                help="The secret Zenoti signs with: each request's signature is checked and the verdict logged. "
                "Also $ZENOTI_EMULATOR_RELAY_SECRET, which keeps it out of the process list.",
            ),
            click.option(
                name("forward-secret"),
                "forward_secret",
                default=None,
                envvar="ZENOTI_EMULATOR_FORWARD_SECRET",
                help="Re-sign forwards with this secret (your receiver's); also $ZENOTI_EMULATOR_FORWARD_SECRET. "
                "Without it, Zenoti's signature is passed on as received.",
            ),
            click.option(
                name("refuse-bad-signature"),
                "refuse_bad_signature",
                is_flag=True,
                help="Answer 401 to a missing or wrong signature and forward nothing (it is still kept). Default: flag it only.",
            ),
            click.option(
                name("mirror-status"),
                "mirror_status",
                is_flag=True,
                help="Answer Zenoti with your receiver's status (within 8 s) instead of 202 once stored; Zenoti then does the retrying.",
            ),
            click.option(
                name("max-body"),
                "max_body",
                type=click.IntRange(1, 64 * 1024 * 1024),
                default=1024 * 1024,
                show_default=True,
                help="Largest body taken, in bytes (413 above).",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def build_relay(
    store: Any,
    deliverer: Any,
    *,
    forward_to: str,
    relay_secret: str | None,
    forward_secret: str | None,
    refuse_bad_signature: bool,
    mirror_status: bool,
    time_scale: float,
    max_attempts: int,
    timeout: float,
) -> Any:
    """The :class:`~emulator.captures.relay.Relay` the options describe, printing a line per request."""
    from ..captures.relay import Relay, RelaySettings
    from ..delivery.retry import DeliveryOptions, RetryPolicy

    options = DeliveryOptions(
        timeout=timeout, time_scale=time_scale, policy=RetryPolicy(max_attempts=max_attempts), deactivate_after=0
    )
    settings = RelaySettings(
        forward_to,
        secret=relay_secret,
        forward_secret=forward_secret,
        refuse_bad_signature=refuse_bad_signature,
        mirror_status=mirror_status,
        options=options,
    )
    return Relay(store, deliverer, settings, on_line=lambda line: click.echo(str(line), err=True))


def relay_server(relay: Any, *, host: str, port: int, max_body: int, map: dict[Any, Any] | None = None) -> Any:
    """A waitress server of the relay endpoint only; ``map`` shares another server's loop.

    :raise UsageError: when the port cannot be bound.
    """
    from ..web import server
    from ..web.relay import create_relay_app

    app = create_relay_app(relay, max_content_length=max_body)
    return server.create(
        app,
        map=map,
        host=host,
        port=port,
        hint="Choose another relay port (0 picks a free one).",
        threads=RELAY_THREADS,
        ident="zenoti-emulator-relay",
        clear_untrusted_proxy_headers=True,
        max_request_body_size=max_body + 1,
        max_request_header_size=MAX_HEADER_BYTES,
    )


@cli.command("relay", short_help="Relay real Zenoti traffic to a local receiver, keeping and checking every event.")
@relay_options()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; a tunnel on this machine reaches loopback.",
)
@db_option
@click.option(
    "--time-scale",
    type=TimeScaleParam(),
    default=1.0,
    show_default=True,
    help="Divide every wait between forward attempts by F (600 turns 10 min into 1 s).",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 50),
    default=6,
    show_default=True,
    help="Forward attempts per request while your receiver is down (first plus retries, 30 s to 10 min apart).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for your receiver's answer, per attempt.",
)
def relay_command(
    forward_to: str,
    relay_port: int,
    relay_secret: str | None,
    forward_secret: str | None,
    refuse_bad_signature: bool,
    mirror_status: bool,
    max_body: int,
    host: str,
    db: str | None,
    time_scale: float,
    max_attempts: int,
    timeout: float,
) -> None:
    """Take what real Zenoti sends (through a tunnel of your choice to --port), keep each
    request byte for byte in the delivery log, check its signature and schema, and forward
    it to --forward-to, printing one line per request.

    Zenoti is answered 202 as soon as the request is stored, so a slow or stopped receiver
    never makes it retry or deactivate the webhook; forwards your receiver missed are sent
    again when it comes back (and at the next start). Only this endpoint is served here:
    run `serve --db` on the same log for the dashboard.

    \b
    Examples:
      ZENOTI_EMULATOR_RELAY_SECRET=s3cret zenoti-emulator relay --forward-to http://127.0.0.1:9000/hook
      cloudflared tunnel --url http://127.0.0.1:8026     # or ngrok http 8026; give Zenoti that URL
    """
    from waitress import wasyncore

    from ..delivery.deliverer import Deliverer
    from ..delivery.store import Store

    store = Store(db)
    deliverer = Deliverer(store)
    try:
        relay = build_relay(
            store,
            deliverer,
            forward_to=forward_to,
            relay_secret=relay_secret,
            forward_secret=forward_secret,
            refuse_bad_signature=refuse_bad_signature,
            mirror_status=mirror_status,
            time_scale=time_scale,
            max_attempts=max_attempts,
            timeout=timeout,
        )
        server = relay_server(relay, host=host, port=relay_port, max_body=max_body)
    except BaseException:
        deliverer.close()
        store.close()
        raise
    resumed = deliverer.resume_pending()
    url = f"http://{host if ':' not in host else f'[{host}]'}:{server.effective_port}/"
    click.echo(
        f"Relaying {url} -> {redact_url(forward_to)}  (log {store.path}"
        f"{f', resumed {len(resumed)} pending forwards' if resumed else ''})",
        err=True,
    )
    click.echo("Point a tunnel at it and give Zenoti the tunnel's URL. Press Ctrl-C to stop.", err=True)
    try:
        run_until_stopped(server.run)
    finally:
        wasyncore.close_all(server._map)
        server.task_dispatcher.shutdown()
        deliverer.close()  # in-flight forwards are logged; the rest stay scheduled
        store.close()
    click.echo("Stopped; forwards not yet made stay scheduled for the next start.", err=True)


@cli.group("captures", short_help="What the relay kept from real Zenoti: export it as fixtures.")
def captures_group() -> None:
    """Requests the relay received from real Zenoti, kept in the delivery log."""


@captures_group.command("export", short_help="Write relayed events as fixtures (JSON Lines or one file per event).")
@click.option(
    "-o", "--output", required=True, type=click.Path(), help="A .jsonl file, or a folder for one file per event."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("jsonl", "files")),
    default=None,
    help="jsonl or files; by default told from -o (.jsonl/.ndjson: jsonl, else a folder).",
)
@click.option(
    "--event-type", "event_types", multiple=True, metavar="TYPE", help="Only events of this type. Repeatable."
)
@click.option(
    "--since",
    default=None,
    metavar="WHEN",
    help="Only requests received since WHEN: ISO 8601 time, or an age such as 30m, 2h, 7d.",
)
@db_option
def captures_export_command(
    output: str, fmt: str | None, event_types: tuple[str, ...], since: str | None, db: str | None
) -> None:
    """Write the bodies the relay kept, exactly as received, for `validate`,
    `fire --from-file` and tests. Headers are not exported: no signature, no secret.

    \b
    Examples:
      zenoti-emulator captures export -o relayed/                    # one file per event
      zenoti-emulator captures export -o today.jsonl --since 24h --event-type AppointmentGroup.Created
    """
    from ..captures.recorded import export, parse_since
    from ..delivery.store import Store

    after = parse_since(since) if since is not None else None
    with Store(db) as store:
        result = export(store.captures(event_types=event_types, since=after), output, fmt=fmt)
    for reason in result.left_out:
        click.echo(f"Left out {reason}", err=True)
    notes = []
    if result.rewritten:
        notes.append(f"{result.rewritten} written compact (they spanned lines)")
    if result.pings:
        notes.append(f"{result.pings} pings left out")
    extra = f" ({'; '.join(notes)})" if notes else ""
    where = "one file each in" if result.format == "files" else "as JSON Lines to"
    click.echo(f"Exported {result.written} events {where} {result.path}{extra}", err=True)
