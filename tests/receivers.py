"""A real webhook receiver for tests: an HTTP server on a loopback port-0 socket, in a thread.

It records every request (method, path, headers, exact body bytes) and answers from a
script: a status code, ``"stall"`` (answer nothing until the test ends), ``"reset"`` (a
TCP reset), ``("redirect", location)`` or ``("body", size)`` (200 with a big body), ``("set-cookie",)`` (200 setting a cookie); once the script runs out it answers
``default``. Hostile receivers: ``("endless",)`` (200, then a body that never ends),
``("drip", seconds)`` (200 with a 1 KiB body sent one byte per ``seconds``) and
``("drip-head", seconds)`` (the status line itself one byte per ``seconds``). Nothing is mocked: the emulator's requests go over real sockets.

Usage::

    with Receiver([503, 503, 200]) as rx:
        ...fire at rx.url...
        rx.wait_for(3)
        assert rx.requests[-1].body == ...
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Action = Any  # int | "stall" | "reset" | ("redirect", url)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    #: header names in lower case
    headers: dict[str, str]
    body: bytes
    at: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # a burst opens many connections at once; the default backlog of 5 drops some SYNs
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:  # resets are deliberate
        pass


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, no log lines, no Nagle delay, no noise from a reset socket."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle and
        # delayed ACKs add 40 ms to every answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().finish()


class LoopbackServer:
    """A threaded HTTP server on a 127.0.0.1 port-0 socket, serving ``handler`` until closed."""

    #: the path of :attr:`url`
    path = "/hook"

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, port: int = 0) -> None:
        self._server = _Server(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Receiver(LoopbackServer):
    """A scripted HTTP receiver on 127.0.0.1 (see the module docstring).

    :param script: answers for the first requests, in order.
    :param default: the status for every request after the script.
    :param delay: seconds to take before answering (a real handler's work).
    :param port: the port to listen on (0 picks one; a given one brings a receiver back).
    """

    def __init__(self, script: Iterable[Action] = (), *, default: int = 200, delay: float = 0.0, port: int = 0) -> None:
        self.script: deque[Action] = deque(script)
        self.default = default
        self.delay = delay
        self.requests: list[Received] = []
        self._cond = threading.Condition()
        self._release = threading.Event()
        receiver = self

        class Handler(QuietHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._cond:
                    receiver.requests.append(
                        Received(
                            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()
                        )
                    )
                    action = receiver.script.popleft() if receiver.script else receiver.default
                    receiver._cond.notify_all()
                if receiver.delay:
                    time.sleep(receiver.delay)
                if action == "stall":
                    receiver._release.wait(30)
                    self.close_connection = True
                    return
                if action == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if isinstance(action, tuple) and action[0] in ("endless", "drip", "drip-head"):
                    self.close_connection = True
                    self._hostile(action)
                    return
                if isinstance(action, tuple) and action[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", action[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                cookie = isinstance(action, tuple) and action[0] == "set-cookie"
                if isinstance(action, tuple) and action[0] == "body":
                    self._big_body(action[1])
                    return
                else:
                    action = 200 if cookie else action
                    payload = b'{"received": true}' if 200 <= int(action) < 300 else b'{"error": "scripted"}'
                self.send_response(int(action))
                if cookie:
                    self.send_header("Set-Cookie", "session=abc; Path=/")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _big_body(self, size: int) -> None:
                # written in pieces: a 300 MiB answer must not cost the test 300 MiB
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    while size > 0:
                        self.wfile.write(chunk[: min(size, len(chunk))])
                        size -= len(chunk)
                except OSError:
                    self.close_connection = True  # the client stopped reading, as it may

            def _hostile(self, action: tuple[Any, ...]) -> None:
                try:
                    if action[0] == "drip-head":
                        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            if receiver._release.wait(action[1]):
                                return
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    if action[0] == "drip":
                        self.send_header("Content-Length", "1024")
                        self.end_headers()
                        for _ in range(1024):
                            self.wfile.write(b"x")
                            self.wfile.flush()
                            if receiver._release.wait(action[1]):
                                return
                        return
                    self.end_headers()  # no length: the body ends when the connection does
                    chunk = b"x" * 65536
                    while not receiver._release.is_set():
                        self.wfile.write(chunk)
                except OSError:
                    pass  # the client hung up: what a client bounding its read does

            do_POST = do_PUT = do_PATCH = do_GET = _handle

        super().__init__(Handler, port=port)

    def answer(self, *actions: Action) -> None:
        """Append answers to the script."""
        with self._cond:
            self.script.extend(actions)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        """Block until ``n`` requests arrived (or fail after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} requests, got {len(self.requests)}")
                self._cond.wait(left)
            return list(self.requests)

    def close(self) -> None:
        self._release.set()  # stalled handlers end first, or shutdown would wait for them
        super().close()


class OneTypeReceiver(LoopbackServer):
    """A receiver that answers 200 to one event type and never answers anything else (the
    ping included) until the test ends: a route written for one event, as found in the wild.

    :param answered: the event type it answers.
    """

    def __init__(self, answered: str = "AppointmentGroup.Created") -> None:
        self.answered = answered
        self.requests = 0
        self._release = threading.Event()
        receiver = self

        class Handler(QuietHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests += 1
                if f'"event_type":"{receiver.answered}"'.encode() not in body:
                    receiver._release.wait(30)
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_PATCH = _handle

        super().__init__(Handler)

    def close(self) -> None:
        self._release.set()  # hanging handlers end first, or shutdown would wait for them
        super().close()


def closed_port_url() -> str:
    """A loopback URL nobody listens on: connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


class TLSGarbageServer:
    """A TCP server that answers a TLS handshake with plain HTTP: a TLS error for https clients."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._sock.getsockname()[1]}/hook"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.settimeout(1)
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()

    def __enter__(self) -> TLSGarbageServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
