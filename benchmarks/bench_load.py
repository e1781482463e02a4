"""``load``'s speed: one worker beside a plain Locust FastHttpUser, and a master with two workers.

    .venv/bin/python benchmarks/bench_load.py [--users 10] [--seconds 10] [--repeat 2]

The receiver (``tests/load_receiver.py``: reads, parses and counts every event, answers
200) runs in its own process. Each side is its own process, one at a time:

- plain: ``locust -f plain.py --headless``: a ``FastHttpUser`` posting one fixed
  AppointmentGroup.Created body, unsigned, no generation at all; Locust's ceiling.
- ours: ``zenoti-emulator load``: every event generated from its user's shard of the world,
  serialised and signed (target: at least 0.8 of plain's events/s).
- master + 2 workers: ``load --master --expect-workers 2`` and two ``load --worker``.

Rates are events the receiver counted per second, from a second after the first event to
the run's end (start-up, imports and each user's world, is left out for both). Beside
them, events per CPU second of the load's processes over the same window (/proc, the
event generator children included), which a busy machine disturbs far less than wall
time: on a shared two-core machine the receiver, the sender and everyone else compete for
the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
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

PLAIN = """
from locust import FastHttpUser, task

BODY = {body!r}
HEADERS = {{"Content-Type": "application/json; charset=utf-8"}}


class Plain(FastHttpUser):
    @task
    def post(self):
        self.client.post("", data=BODY, headers=HEADERS)
"""


class Receiver:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "load_receiver.py")], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def count(self) -> int:
        with urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=30) as answer:
            return int(json.load(answer)["count"])

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_cpu(pids: list[int], seen: dict[int, int]) -> float:
    """CPU seconds (user + system) the processes and their children (``load``'s event
    generator) have used so far (Linux /proc); ``seen`` keeps each one's last figure, so a
    child that has exited still counts."""
    family = set(pids)
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            parents[int(entry)] = int(fields[1])
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in family and pid not in family:
                family.add(pid)
                grew = True
    for pid in family:
        if (fields := _stat(pid)) is not None:
            seen[pid] = int(fields[11]) + int(fields[12])
    return sum(seen.values()) / os.sysconf("SC_CLK_TCK")


def measure(rx: Receiver, commands: list[list[str]], seconds: float) -> tuple[float, float]:
    """Run ``commands`` together; return the steady events/s the receiver counted and the
    events per CPU second of the commands' processes over the same window.

    The window starts a second after the first event arrives (imports, worlds and
    connections are behind) and ends at the run's last second: start-up is Locust's and
    ours alike, and is not what a long load pays per event.
    """
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for cmd in commands]
    pids = [p.pid for p in procs]
    seen: dict[int, int] = {}
    base = rx.count()
    samples: list[tuple[float, int, float]] = []
    first_at = None
    while procs[0].poll() is None:
        count = rx.count() - base
        now = time.perf_counter()
        if count and first_at is None:
            first_at = now
        if first_at is not None and now - first_at >= 1.0:
            samples.append((now, count, process_cpu(pids, seen)))
        time.sleep(0.25)
    for proc in procs:
        proc.wait(timeout=seconds + 120)
    # the last samples may fall into the run's stop: keep those up to the last increase
    while len(samples) > 2 and samples[-1][1] == samples[-2][1]:
        samples.pop()
    if len(samples) < 2:
        return 0.0, 0.0
    (t0, n0, c0), (t1, n1, c1) = samples[0], samples[-1]
    return (n1 - n0) / (t1 - t0), (n1 - n0) / (c1 - c0) if c1 > c0 else 0.0


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
    from emulator.delivery.sender import serialize
    from emulator.events.generate import generate_events

    body = serialize(next(generate_events(seed=1))).decode()
    seconds = f"{args.seconds:g}s"
    rx = Receiver()
    rows: dict[str, list[tuple[float, float]]] = {"plain": [], "ours": [], "master+2": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            plain_file = Path(tmp) / "plain.py"
            plain_file.write_text(PLAIN.format(body=body))
            for _ in range(args.repeat):
                rows["plain"].append(
                    measure(
                        rx,
                        [
                            [
                                LOCUST,
                                "-f",
                                str(plain_file),
                                "--headless",
                                "-u",
                                str(args.users),
                                "-r",
                                "100",
                                "-t",
                                seconds,
                                "-H",
                                rx.url,
                                "--only-summary",
                            ]
                        ],
                        args.seconds,
                    )
                )
                rows["ours"].append(
                    measure(
                        rx,
                        [
                            [
                                COMMAND,
                                "load",
                                rx.url,
                                "-u",
                                str(args.users),
                                "-r",
                                "100",
                                "-t",
                                seconds,
                                "--secret",
                                "s3cret",
                            ]
                        ],
                        args.seconds,
                    )
                )
                port = str(free_port())
                master = [
                    COMMAND,
                    "load",
                    rx.url,
                    "--master",
                    "--expect-workers",
                    "2",
                    "--master-bind-port",
                    port,
                    "-u",
                    str(args.users),
                    "-r",
                    "100",
                    "-t",
                    seconds,
                    "--secret",
                    "s3cret",
                ]
                worker = [COMMAND, "load", "--worker", "--master-port", port]
                rows["master+2"].append(measure(rx, [master, worker, worker], args.seconds))
    finally:
        rx.close()

    print(
        f"{args.users} users, {args.seconds:g} s a run, best of {args.repeat}; events counted by the receiver, "
        "from a second after the first one to the run's end"
    )
    print(f"{'':<10} {'events/s':>10} {'events per CPU s':>18}")
    best = {}
    for name, runs in rows.items():
        best[name] = (max(r for r, _ in runs), max(c for _, c in runs))
        print(f"{name:<10} {best[name][0]:>10.0f} {best[name][1]:>18.0f}")
    ours, plain = best["ours"], best["plain"]
    print(
        f"ours / plain: {ours[0] / plain[0]:.2f} of its events/s, {ours[1] / plain[1]:.2f} of its events per CPU s (target >= 0.8)"
    )
    print(
        "(CPU s: of the load's processes only, master, workers and their event generators together; "
        "the receiver's is not counted)"
    )


if __name__ == "__main__":
    main()
