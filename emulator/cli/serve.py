"""``zenoti-emulator serve``: the dashboard, the HTTP API and the built-in sinks on waitress.

Start-up binds the socket first (so ``--port 0`` can pick a free port and the built-in
sink's webhook knows where it is), then starts the deliverer, which resumes every retry
a previous run left scheduled. Shutdown, on Ctrl-C or SIGTERM, runs in the opposite
order: the deliverer stops taking work and lets in-flight attempts finish and be logged
while the server still answers (an attempt may be aimed at our own sink), then the
server stops, then the log is closed. Attempts not yet due stay scheduled in the log for
the next start. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import _thread
import signal
import threading
from typing import Any

import click

from ..errors import UsageError
from ..urls import redact_url
from . import cli
from .api import api_options
from .delivery_options import db_option
from .params import TimeScaleParam, TimestampParam
from .relay import build_relay, relay_options, relay_server

#: Threads answering HTTP requests: sinks that delay their answer hold one each.
DEFAULT_THREADS = 16


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"  # a wildcard bind is reached through loopback from here
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@cli.command("serve", short_help="Run the dashboard, the HTTP API and the built-in sinks.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Keep it on loopback unless you mean it.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8025,
    show_default=True,
    help="Port to listen on; 0 picks a free one.",
)
@db_option
@click.option(
    "--time-scale",
    type=TimeScaleParam(),
    default=None,
    help="Divide every retry wait by this (600 turns 10 min into 1 s). Default 1: Zenoti's real schedule.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests whose Host is NAME (e.g. a tunnel's). Loopback names are always allowed.",
)
@click.option(
    "--threads",
    type=click.IntRange(2, 256),
    default=DEFAULT_THREADS,
    show_default=True,
    help="Threads answering HTTP requests.",
)
@relay_options(prefix="relay-")
@api_options
@click.option(
    "--api-seed",
    type=int,
    default=None,
    help="Also answer /v1 for the world of this seed advanced --api-days from --api-now (as `api` does).",
)
@click.option("--api-now", type=TimestampParam(), default=None, help="With --api-seed: when that world's clock starts.")
@click.option(
    "--api-days", type=float, default=1.0, show_default=True, help="With --api-seed: how many days it is advanced."
)
def serve_command(
    host: str,
    port: int,
    db: str | None,
    time_scale: float | None,
    allow_hosts: tuple[str, ...],
    threads: int,
    forward_to: str | None,
    relay_port: int,
    relay_secret: str | None,
    forward_secret: str | None,
    refuse_bad_signature: bool,
    mirror_status: bool,
    max_body: int,
    api_key: str,
    rate_limit: int | None,
    api_latency: float,
    api_seed: int | None,
    api_now: Any,
    api_days: float,
) -> None:
    """Serve the dashboard at /, the JSON API at /api (described at /openapi.json) and
    the built-in receivers at /sink/<name>, on a real WSGI server (waitress).

    A fresh database gets one sink, "default", and one webhook pointing at it, so firing
    works with nothing else running. Pending retries of an earlier run resume at start.
    Ctrl-C (or SIGTERM) stops cleanly: in-flight deliveries are logged first.

    Zenoti's read API answers at /v1 (guests, appointments, invoices, centers...) for
    the worlds the app plays: what fired, generated or scenario events named, and the
    world of --api-seed when given. Authenticate with 'Authorization: apikey KEY'.

    With --relay-to URL, the relay endpoint of `zenoti-emulator relay` also listens, on
    its own port (--relay-port), the one to point a tunnel at.
    """
    from waitress import wasyncore

    from ..web import create_app, server as web_server
    from ..web.services import services_of

    config: dict[str, Any] = {"BIND_HOST": host}
    if db is not None:
        config["DATABASE"] = db
    if time_scale is not None:
        config["TIME_SCALE"] = time_scale
    if allow_hosts:
        config["ALLOWED_HOSTS"] = list(allow_hosts)
    config.update(API_KEY=api_key, API_RATE_LIMIT=rate_limit, API_LATENCY=api_latency)
    if api_seed is not None:
        if api_now is None:
            raise UsageError("--api-seed needs --api-now: the moment that world's clock starts (as given to simulate).")
        config["API_WORLD"] = {"seed": api_seed, "now": api_now, "days": api_days}
    elif api_now is not None:
        raise UsageError("--api-now goes with --api-seed.")
    app = create_app(config)
    svc = services_of(app)
    try:
        server = web_server.create(
            app,
            host=host,
            port=port,
            hint="Choose another --port (0 picks a free one).",
            threads=threads,
            ident="zenoti-emulator",
            clear_untrusted_proxy_headers=True,
        )
    except UsageError:
        svc.close()
        raise
    public_url = f"http://{_url_host(host)}:{server.effective_port}"
    svc.start(public_url)
    relay_srv = None
    if forward_to:
        try:
            relay = build_relay(
                svc.store,
                svc.deliverer,
                forward_to=forward_to,
                relay_secret=relay_secret,
                forward_secret=forward_secret,
                refuse_bad_signature=refuse_bad_signature,
                mirror_status=mirror_status,
                time_scale=svc.options.time_scale,
                max_attempts=svc.options.policy.max_attempts,
                timeout=svc.options.timeout,
            )
            # Its own port, on the same loop: a tunnel to it reaches the relay endpoint only.
            relay_srv = relay_server(relay, host=host, port=relay_port, max_body=max_body, map=server._map)
        except BaseException:
            wasyncore.close_all(server._map)
            svc.close()
            raise

    stopping = threading.Event()

    def drain_then_stop() -> None:
        svc.stop_delivering()
        _thread.interrupt_main(signal.SIGINT)  # the handler below sees `stopping` and ends the loop

    def on_signal(signum: int, frame: Any) -> None:
        if stopping.is_set():
            raise KeyboardInterrupt
        stopping.set()
        click.echo("Stopping: letting in-flight deliveries finish (Ctrl-C again to stop at once)...", err=True)
        threading.Thread(target=drain_then_stop, name="zenoti-shutdown", daemon=True).start()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    resumed = f", resumed {len(svc.resumed)} pending deliveries" if svc.resumed else ""
    click.echo(
        f"Zenoti webhook emulator on {public_url}/  (API {public_url}/api, log {svc.store.path}{resumed})", err=True
    )
    click.echo(f"Zenoti read API on {public_url}/v1  (Authorization: apikey {api_key})", err=True)
    if relay_srv is not None:
        assert forward_to is not None  # the relay runs only with --relay-to
        click.echo(
            f"Relay endpoint on http://{_url_host(host)}:{relay_srv.effective_port}/ -> {redact_url(forward_to)}"
            " (point a tunnel at this port only)",
            err=True,
        )
    click.echo("Press Ctrl-C to stop.", err=True)
    try:
        server.run()  # returns once KeyboardInterrupt ends waitress's loop and its threads
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        wasyncore.close_all(server._map)  # the listening sockets and any idle channel
        if relay_srv is not None:
            relay_srv.task_dispatcher.shutdown()
        svc.close()
    click.echo("Stopped; pending retries stay scheduled for the next start.", err=True)
