"""``load``'s speed: one worker beside a plain Locust FastHttpUser, and a master with two workers.

    .venv/bin/python benchmarks/bench_load.py [--users 10] [--seconds 10] [--repeat 2]

The receiver (``tests/load_receiver.py``: reads, parses and counts every event, answers
200) runs in its own process. Each side is its own process, one at a time:

- plain: ``locust -f plain.py --headless``: a ``FastHttpUser`` posting one fixed
  AppointmentGroup.Created body, unsigned, no generation at all; Locust's ceiling.
- ours: ``zenoti-emulator load``: every event generated from its user's shard of the world,
  serialised and signed (target: at least 0.8 of plain's events/s).
- master + 2 workers: ``load --master --expect-workers 2`` and two ``load --worker``.

Both rates are events answered per second of wall time, counted by the receiver. Beside
them, events per CPU second of the load process(es) (children's rusage), which a busy
machine disturbs far less than wall time: on a shared two-core machine the receiver,
the sender and everyone else compete for the same cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COMMAND = str(BIN / "zenoti-emulator")
LOCUST = str(BIN / "locust")

PLAIN = '''
from locust import FastHttpUser, task

BODY = {body!r}
HEADERS = {{"Content-Type": "application/json; charset=utf-8"}}


class Plain(FastHttpUser):
    @task
    def post(self):
        self.client.post("", data=BODY, headers=HEADERS)
'''


class Receiver:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "load_receiver.py")], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def count(self) -> int:
        with urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=30) as answer:
            return int(json.load(answer)["count"])

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(rx: Receiver, commands: list[list[str]], seconds: float) -> tuple[int, float, float]:
    """Run ``commands`` together (the first is the one that ends the run); return events the
    receiver counted, the wall seconds the first took, and the CPU seconds of all."""
    before, cpu = rx.count(), children_cpu()
    started = time.perf_counter()
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for cmd in commands]
    for proc in procs:
        proc.wait(timeout=seconds + 120)
    return rx.count() - before, time.perf_counter() - started, children_cpu() - cpu


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from emulator.delivery import serialize
    from emulator.generate import generate_events

    body = serialize(next(generate_events(seed=1))).decode()
    seconds = f"{args.seconds:g}s"
    rx = Receiver()
    rows: dict[str, list[tuple[int, float, float]]] = {"plain": [], "ours": [], "master+2": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            plain_file = Path(tmp) / "plain.py"
            plain_file.write_text(PLAIN.format(body=body))
            for _ in range(args.repeat):
                rows["plain"].append(measure(rx, [[LOCUST, "-f", str(plain_file), "--headless", "-u", str(args.users), "-r", "100",
                                                   "-t", seconds, "-H", rx.url, "--only-summary"]], args.seconds))
                rows["ours"].append(measure(rx, [[COMMAND, "load", rx.url, "-u", str(args.users), "-r", "100", "-t", seconds,
                                                  "--secret", "s3cret"]], args.seconds))
                port = str(free_port())
                master = [COMMAND, "load", rx.url, "--master", "--expect-workers", "2", "--master-bind-port", port,
                          "-u", str(args.users), "-r", "100", "-t", seconds, "--secret", "s3cret"]
                worker = [COMMAND, "load", "--worker", "--master-port", port]
                rows["master+2"].append(measure(rx, [master, worker, worker], args.seconds))
    finally:
        rx.close()

    print(f"{args.users} users, {args.seconds:g} s a run, best of {args.repeat}; events counted by the receiver")
    print(f"{'':<10} {'events/s (run time)':>20} {'events per CPU s':>18}")
    best = {}
    for name, runs in rows.items():
        rate = max(n / args.seconds for n, _, _ in runs)
        per_cpu = max(n / cpu for n, _, cpu in runs if cpu)
        best[name] = (rate, per_cpu)
        print(f"{name:<10} {rate:>20.0f} {per_cpu:>18.0f}")
    ours, plain = best["ours"], best["plain"]
    print(f"ours / plain: {ours[0] / plain[0]:.2f} of its events/s, {ours[1] / plain[1]:.2f} of its events per CPU s (target >= 0.8)")
    print("(CPU s: the whole process, start-up included: imports, and for ours each user's world)")


if __name__ == "__main__":
    main()
