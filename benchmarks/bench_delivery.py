"""Delivery speed: ours against a plain ``requests.post`` loop, in the same run.

    .venv/bin/python benchmarks/bench_delivery.py [--count 2000] [--plain-count 300]
                                                   [--concurrency 8] [--repeat 3] [--profile]

The receiver runs in a separate process (so it does not share our GIL): a threading
HTTP/1.1 server that takes ``--delay`` (10 ms by default, a real handler's work) or 0 s
to answer 200. Both sides send the same pre-generated AppointmentGroup.Created events.

- plain: ``for e in events: requests.post(url, json=e)``: a new connection per event,
  no signature, no log.
- ours: ``Deliverer`` at ``--concurrency``, with a secret (every body signed), the
  SQLite delivery log on (every event, attempt and schedule row written), connection
  reuse.

``--profile`` runs ours with one worker against the instant receiver under cProfile
and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from emulator.delivery.deliverer import Deliverer  # noqa: E402
from emulator.delivery.retry import DeliveryOptions  # noqa: E402
from emulator.delivery.store import Store  # noqa: E402
from emulator.events.generate import generate_events  # noqa: E402

RECEIVER = r"""
import socket, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY = float(sys.argv[1])

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if DELAY:
            time.sleep(DELAY)
        body = b'{"ok":true}'
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class ReceiverProcess:
    def __init__(self, delay: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(delay)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}/hook"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def plain(url: str, events: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for e in events:
        requests.post(url, json=e)
    return len(events) / (time.perf_counter() - start)


def ours(url: str, events: list[dict[str, Any]], concurrency: int, db: Path) -> float:
    with Store(db) as store:
        hook = store.upsert_webhook(url, secret="whsec_benchmark_secret")
        with Deliverer(store, options=DeliveryOptions(), concurrency=concurrency) as deliverer:
            start = time.perf_counter()
            deliverer.submit_many(events, hook)
            deliverer.wait()
            rate = len(events) / (time.perf_counter() - start)
        counts = store.counts()
    assert counts["delivered"] == len(events) and counts["failed"] == 0, counts
    return rate


#: (label, file suffix, function names) of the parts "where the time goes" adds up
PARTS = [
    ("HTTP (requests, sockets, the receiver)", "emulator/delivery/deliverer.py", {"send"}),
    (
        "delivery log (SQLite)",
        "emulator/delivery/store.py",
        {"claim", "record_attempt", "get_webhook", "create_deliveries", "require_active", "delivery_payload"},
    ),
    ("signature (HMAC-SHA256)", "emulator/delivery/signing.py", {"sign"}),
    ("serialising events to bytes", "emulator/delivery/deliverer.py", {"serialize"}),
]


def profile_ours(url: str, events: list[dict[str, Any]], concurrency: int, db: Path) -> str:
    """cProfile in the submitting thread and in every worker, merged; a breakdown first."""
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    original = Deliverer._worker

    def profiled_worker(self: Deliverer) -> None:
        prof = cProfile.Profile()
        with lock:
            profiles.append(prof)
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()

    Deliverer._worker = profiled_worker  # type: ignore[method-assign]
    main = cProfile.Profile()
    try:
        main.enable()
        rate = ours(url, events, concurrency, db)
        main.disable()
    finally:
        Deliverer._worker = original  # type: ignore[method-assign]
    out = io.StringIO()
    stats = pstats.Stats(main, stream=out)
    for p in profiles:
        stats.add(p)
    raw = stats.stats  # type: ignore[attr-defined]

    # the work: every attempt (_run, in the workers) and every submission (turning
    # events into rows, in the caller); waits for work or for room are left out
    def cum(name: str, suffix: str) -> float:
        return sum(v[3] for (f, _, n), v in raw.items() if n == name and f.endswith(suffix))

    total = (
        cum("_run", "emulator/delivery/deliverer.py")
        + cum("_new_delivery", "emulator/delivery/deliverer.py")
        + cum("create_deliveries", "emulator/delivery/store.py")
    )
    workers = pstats.Stats(*profiles) if profiles else None
    out.write(f"{rate:.0f} deliveries/s under the profiler; {total * 1000 / len(events):.2f} ms of work per delivery\n")
    accounted = 0.0
    for label, suffix, names in PARTS:
        part = sum(cum(n, suffix) for n in names)
        if "send" in names:  # the signature is computed inside send; counted on its own line
            part -= cum("sign", "emulator/delivery/signing.py")
        accounted += part
        out.write(f"  {label:42s} {part / total:6.1%}\n")
    out.write(f"  {'the rest (queueing, records, hooks)':42s} {1 - accounted / total:6.1%}\n")
    out.write("\nworker thread, by own time:\n")
    if workers:
        workers.stream = out  # type: ignore[attr-defined]
        workers.sort_stats("tottime").print_stats(15)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="events sent by ours")
    parser.add_argument("--plain-count", type=int, default=300, help="events sent by the plain loop")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="report the best of this many runs of each")
    parser.add_argument("--profile", action="store_true", help="also profile ours against the instant receiver")
    args = parser.parse_args()

    now = datetime(2024, 7, 25, tzinfo=UTC)
    events = list(generate_events(count=max(args.count, args.plain_count), seed=1, now=now))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for delay in (0.010, 0.0):
            rx = ReceiverProcess(delay)
            try:
                requests.post(rx.url, json={}).close()  # warm up both sides
                # best of --repeat, alternating the two: the machine's other load hits both
                p = o = 0.0
                for i in range(args.repeat):
                    p = max(p, plain(rx.url, events[: args.plain_count]))
                    o = max(
                        o, ours(rx.url, events[: args.count], args.concurrency, Path(tmp) / f"ours-{delay}-{i}.sqlite3")
                    )
            finally:
                rx.close()
            rows.append((delay, p, o))
        print(
            f"deliveries/s (best of {args.repeat}), receiver in its own process; "
            f"ours at concurrency {args.concurrency}, signed and logged"
        )
        print(f"{'receiver':>18} {'plain loop':>12} {'ours':>10} {'ratio':>7}")
        for delay, p, o in rows:
            label = f"{delay * 1000:.0f} ms to answer" if delay else "answers at once"
            print(f"{label:>18} {p:12.1f} {o:10.1f} {o / p:6.1f}x")
        if args.profile:
            # One worker: with an instant receiver the process is CPU-bound under one GIL,
            # and a single thread's profile shows CPU, not threads queueing for it.
            rx = ReceiverProcess(0.0)
            try:
                print("\nWhere the time goes (ours, one worker, instant receiver):")
                print(profile_ours(rx.url, events[: args.count], 1, Path(tmp) / "profile.sqlite3"))
            finally:
                rx.close()


if __name__ == "__main__":
    main()
