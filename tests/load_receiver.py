"""A counting webhook receiver in its own process, for ``load``'s tests and benchmark.

    python tests/load_receiver.py [--secret S] [--slow-past RATE --slow-delay SECONDS]

Prints its port on the first line of stdout, then answers every webhook 200 and counts
it: requests, distinct event ids, duplicate ids, invalid signatures, verbs. ``GET /stats``
returns the counts as JSON. With ``--slow-past RATE`` it answers after ``--slow-delay``
seconds whenever more than RATE requests arrived in the last second: a receiver that
holds RATE events per second and slows down past it.

Its own process, so the load under test does not share its interpreter; the standard
library only (plus the emulator's ``signing`` to check signatures).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.delivery.signing import SIGNATURE_HEADER, verify


class State:
    def __init__(self, secret: str | None, slow_past: float | None, slow_delay: float) -> None:
        self.secret, self.slow_past, self.slow_delay = secret, slow_past, slow_delay
        self.lock = threading.Lock()
        self.count = 0
        self.ids: set[str] = set()
        self.duplicates = 0
        self.invalid = 0
        self.verbs: Counter[str] = Counter()
        self.types: Counter[str] = Counter()
        self.arrivals: deque[float] = deque()
        self.slowed = 0
        #: worker indexes read off the ids' machine bytes (emulator.load.feed.shard_machine)
        self.workers: set[int] = set()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State

    def log_message(self, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _answer(self, status: int, body: bytes) -> None:
        self.wfile.write(
            b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (status, len(body), body)
        )

    def do_GET(self) -> None:
        s = self.state
        with s.lock:
            stats = {
                "count": s.count,
                "distinct_ids": len(s.ids),
                "duplicates": s.duplicates,
                "invalid_signatures": s.invalid,
                "verbs": dict(s.verbs),
                "types": dict(s.types),
                "slowed": s.slowed,
                "workers": sorted(s.workers),
            }
        self._answer(200, json.dumps(stats).encode())

    def _hook(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        s = self.state
        slow = False
        event = json.loads(body)
        now = time.monotonic()
        with s.lock:
            s.count += 1
            s.verbs[self.command] += 1
            s.types[str(event.get("event_type"))] += 1
            event_id = str(event.get("id"))
            if event_id in s.ids:
                s.duplicates += 1
            s.ids.add(event_id)
            s.workers.add(int(event_id[8:18], 16) >> 16 & 0xFFFF)
            if s.secret is not None and not verify(body, self.headers.get(SIGNATURE_HEADER), s.secret):
                s.invalid += 1
            if s.slow_past is not None:
                s.arrivals.append(now)
                while s.arrivals and s.arrivals[0] < now - 1.0:
                    s.arrivals.popleft()
                slow = len(s.arrivals) > s.slow_past
                s.slowed += slow
        if slow:
            time.sleep(s.slow_delay)
        self._answer(200, b'{"ok":true}')

    do_POST = do_PUT = do_PATCH = _hook


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a load that ends resets its kept-alive connections: not news


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", default=None)
    parser.add_argument("--slow-past", type=float, default=None)
    parser.add_argument("--slow-delay", type=float, default=0.5)
    args = parser.parse_args()
    Handler.state = State(args.secret, args.slow_past, args.slow_delay)
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
