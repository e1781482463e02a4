"""Relay speed: how fast Zenoti is answered, and how fast events reach the receiver.

    .venv/bin/python benchmarks/bench_relay.py [--count 500] [--senders 8] [--slow 0.5]

Plays Zenoti with ``--senders`` threads, each POSTing signed AppointmentGroup.Created
events over a kept-alive connection, at the real ``zenoti-emulator relay`` (a separate
process, its log on a temporary file), which forwards to a receiver in a process of its
own. For each case it prints the time Zenoti waits for its answer (p50, p95, max), the
requests answered per second, and how long until every event was forwarded:

- direct: Zenoti posts to the receiver itself (no relay), for comparison;
- receiver instant / slow (``--slow`` seconds per answer) / down (connection refused).

A slow or stopped receiver must not change what Zenoti sees: that is the relay's promise.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from bench_delivery import ReceiverProcess  # noqa: E402

from emulator.delivery import signing  # noqa: E402
from emulator.delivery.sender import serialize  # noqa: E402
from emulator.delivery.store import Store  # noqa: E402
from emulator.events.generate import generate_events  # noqa: E402

SECRET = "zenoti-benchmark-secret"
COMMAND = str(Path(sys.executable).with_name("zenoti-emulator"))


class RelayProcess:
    """``zenoti-emulator relay --port 0`` until closed."""

    def __init__(self, forward_to: str, db: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "ZENOTI_EMULATOR_RELAY_SECRET": SECRET}
        self.proc = subprocess.Popen(
            [COMMAND, "relay", "--port", "0", "--forward-to", forward_to, "--db", str(db), "--time-scale", "600"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stderr is not None
        first = self.proc.stderr.readline()
        match = re.search(r"Relaying (http://\S+/)", first)
        if not match:
            raise SystemExit(f"relay did not start: {first}")
        self.url = match.group(1) + "zenoti"
        # drain the per-event lines so the pipe never fills
        self._drain = threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True)  # type: ignore[union-attr]
        self._drain.start()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def play_zenoti(url: str, bodies: list[bytes], senders: int) -> tuple[list[float], float]:
    """Every body POSTed, signed, by ``senders`` threads; (answer times in ms, elapsed s)."""
    local = threading.local()

    def post(body: bytes) -> float:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        headers = {"Content-Type": "application/json", signing.SIGNATURE_HEADER: signing.sign(body, SECRET)}
        t0 = time.perf_counter()
        answer = session.post(url, data=body, headers=headers, timeout=10)
        elapsed = (time.perf_counter() - t0) * 1000
        assert answer.status_code in (200, 202), answer.text
        return elapsed

    start = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        times = list(pool.map(post, bodies))
    return times, time.perf_counter() - start


def forwarded_after(db: Path, count: int, start: float, limit: float = 120.0) -> float | None:
    """Seconds from ``start`` until ``count`` forwards were delivered (None past ``limit``)."""
    with Store(db) as store:
        while time.perf_counter() - start < limit:
            if store.counts()["delivered"] >= count:
                return time.perf_counter() - start
            time.sleep(0.05)  # a poll of another process's log: nothing here to wait on
    return None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500, help="events per case")
    parser.add_argument("--senders", type=int, default=8, help="Zenoti's concurrent requests")
    parser.add_argument("--slow", type=float, default=0.5, help="seconds the slow receiver takes to answer")
    args = parser.parse_args()

    now = datetime(2024, 7, 25, 14, 52, 6, tzinfo=UTC)
    bodies = [serialize(e) for e in generate_events("AppointmentGroup.Created", count=args.count, seed=1, now=now)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        instant = ReceiverProcess(0.0)
        try:
            times, elapsed = play_zenoti(instant.url, bodies, args.senders)
            rows.append(("direct to receiver (no relay)", times, elapsed, None))
            for label, delay in (
                ("relay, receiver instant", 0.0),
                (f"relay, receiver {args.slow:g} s to answer", args.slow),
                ("relay, receiver down", None),
            ):
                db = Path(tmp, f"{len(rows)}.sqlite3")
                receiver = ReceiverProcess(delay) if delay is not None else None
                target = receiver.url if receiver else "http://127.0.0.1:9/hook"
                relay = RelayProcess(target, db)
                try:
                    start = time.perf_counter()
                    times, elapsed = play_zenoti(relay.url, bodies, args.senders)
                    done = forwarded_after(db, len(bodies), start) if receiver else None
                    rows.append((label, times, elapsed, done))
                finally:
                    relay.close()
                    if receiver:
                        receiver.close()
        finally:
            instant.close()

    print(f"{args.count} signed events, {args.senders} concurrent senders; relay = the `relay` command, log on")
    print(f"{'case':38s} {'answer p50':>11s} {'p95':>8s} {'max':>8s} {'answered/s':>11s} {'all forwarded':>14s}")
    for label, times, elapsed, done in rows:
        forwarded = "-" if done is None else f"{done:.1f} s"
        print(
            f"{label:38s} {pct(times, 0.5):8.1f} ms {pct(times, 0.95):5.1f} ms {max(times):5.1f} ms"
            f" {len(times) / elapsed:11.0f} {forwarded:>14s}"
        )


if __name__ == "__main__":
    main()
