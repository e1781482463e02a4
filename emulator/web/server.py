"""The HTTP server of ``serve`` and ``relay``: waitress, with limits for a hostile network.

The relay is the endpoint meant to face a tunnel, so anyone on the internet may connect
to it. waitress reads requests on one event loop and hands only complete ones to its
threads, but left to its defaults a hundred connections that each send half a request
and stop (slowloris) fill its connection limit for two minutes, and nobody else is
answered. Here:

- a request must arrive whole within :data:`REQUEST_READ_S` of its first byte (headers
  and body together; Zenoti's own requests take milliseconds), and a connection that
  sends nothing is closed after :data:`IDLE_S`;
- one client (one address) holds at most :data:`MAX_PER_CLIENT` connections: the next
  one is answered ``429`` and closed, so one peer cannot take every slot;
- the server as a whole takes :data:`MAX_CONNECTIONS` (or fewer, if the process may open
  fewer files), far more than a few slow peers can hold within those times.

Every other request is answered meanwhile. :func:`create` is the one way both commands
make a server, and turns an address that cannot be listened on into one usage error.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from waitress import create_server, wasyncore
from waitress.channel import HTTPChannel

from ..errors import UsageError

#: Seconds a request may take to arrive, from its first byte to the end of its body.
REQUEST_READ_S = 20.0
#: Seconds a connection may stay open sending nothing (between requests, or before one).
IDLE_S = 30
#: Connections one client address may hold at once.
MAX_PER_CLIENT = 64
#: Connections the server holds at once, at most.
MAX_CONNECTIONS = 1000
#: How often (seconds) connections are checked against those times.
_SWEEP_S = 1

_TOO_MANY = (
    b"HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 39\r\n\r\nToo many connections from this address."
)


class _Channel(HTTPChannel):  # type: ignore[misc]  # waitress ships no types
    """waitress's connection, which knows when its current request began to arrive."""

    #: ``time.monotonic()`` of the first byte of the request being read; ``None`` between requests
    read_started: float | None = None

    def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:
        super().__init__(server, sock, addr, adj, map=map)
        peer = _peer(addr)
        limit = getattr(server, "max_per_client", MAX_PER_CLIENT)
        if sum(1 for c in list(server.active_channels.values()) if _peer(c.addr) == peer) > limit:
            with contextlib.suppress(OSError):
                sock.send(_TOO_MANY)  # a few bytes on a fresh socket: they fit its buffer
            self.close()

    def received(self, data: bytes) -> bool:
        if self.request is None and data:
            self.read_started = time.monotonic()
        result: bool = super().received(data)
        if self.request is None:
            self.read_started = None
        return result


def _peer(addr: Any) -> Any:
    return addr[0] if isinstance(addr, tuple) and addr else addr


def _sweep(server: Any, maintenance: Any, read_s: float) -> Any:
    """waitress's maintenance (idle connections), plus requests that take too long to arrive."""

    def sweep(now: float) -> None:
        maintenance(now)
        cutoff = time.monotonic() - read_s
        for channel in list(server.active_channels.values()):
            started = getattr(channel, "read_started", None)
            if started is not None and started < cutoff and not channel.requests:
                channel.will_close = True

    return sweep


def _connection_limit() -> int:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # Windows: no resource module
        return 500
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(50, min(MAX_CONNECTIONS, soft - 100))  # files for the log, the sender, the threads


def create(
    app: Any,
    *,
    host: str,
    port: int,
    hint: str,
    read_s: float = REQUEST_READ_S,
    max_per_client: int = MAX_PER_CLIENT,
    map: dict[Any, Any] | None = None,
    **options: Any,
) -> Any:
    """A waitress server of ``app`` on ``host:port`` with the limits above (not yet running).

    :param hint: what to change when the address cannot be listened on ("Choose another --port").
    :param options: more waitress settings (threads, ident, body and header sizes...).
    :raise UsageError: the address cannot be bound, or is no address at all (``999.1.1.1``,
        a name that does not resolve).
    """
    own_map: dict[Any, Any] = {} if map is None else map
    try:
        server = create_server(
            app,
            map=own_map,
            host=host,
            port=port,
            connection_limit=_connection_limit(),
            channel_timeout=IDLE_S,
            cleanup_interval=_SWEEP_S,
            **options,
        )
    except (OSError, ValueError) as exc:
        if map is None:  # a shared loop's owner closes it (serve does)
            wasyncore.close_all(own_map)  # the sockets waitress opened before the bind failed
        why = (
            exc.strerror
            if isinstance(exc, OSError) and exc.strerror
            else (
                "not an address this machine has, or a name that does not resolve"
                if isinstance(exc, ValueError)
                else str(exc)
            )
        )
        raise UsageError(f"Cannot listen on {host}:{port}: {why}. {hint}") from None
    server.channel_class = _Channel
    server.max_per_client = max_per_client
    server.maintenance = _sweep(server, server.maintenance, read_s)
    return server


__all__ = ["IDLE_S", "MAX_CONNECTIONS", "MAX_PER_CLIENT", "REQUEST_READ_S", "create"]
