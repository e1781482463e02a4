"""A hostile receiver against ``fire``: how long one attempt lasts, and the sender's peak memory.

    .venv/bin/python benchmarks/bench_hostile.py [--timeout 10]

Each row runs the installed ``zenoti-emulator fire -n 1 --no-retry --timeout T`` in its
own process against a loopback receiver (``tests/receivers.py``) that misbehaves one way,
and reports the wall time of the run, the attempt's logged latency and outcome, and the
process's peak RSS (``ru_maxrss`` from ``wait4``). The targets: every attempt ends
within ``T`` + 1 s, and RSS stays under 150 MB.

- endless: 200, then a body that never ends (64 KiB writes, as fast as the socket takes)
- 300 MiB: 200 with a 300 MiB body
- drip body: 200 with a 1 KiB body sent one byte every 0.5 s
- drip status: the status line itself one byte every 0.5 s
- stall: accepts the request, answers nothing
- well-behaved: 200 at once (the baseline)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.receivers import Receiver  # noqa: E402

COMMAND = str(Path(sys.executable).with_name("zenoti-emulator"))
CASES = [
    ("well-behaved", 200),
    ("endless body", ("endless",)),
    ("300 MiB body", ("body", 300 * 1024 * 1024)),
    ("drip body (1 B / 0.5 s)", ("drip", 0.5)),
    ("drip status line", ("drip-head", 0.5)),
    ("stall", "stall"),
]


def run_case(action: object, timeout: float, db: Path) -> dict[str, object]:
    with Receiver([action]) as rx:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [
                COMMAND,
                "fire",
                "-t",
                rx.url,
                "-n",
                "1",
                "--seed",
                "1",
                "--no-retry",
                "--timeout",
                str(timeout),
                "--json",
                "--db",
                str(db),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
    summary = json.loads(out)
    return {
        "wall_s": wall,
        "latency_s": (summary["latency_ms"]["max"] or 0) / 1000,
        "rss_mb": usage.ru_maxrss / 1024,
        "exit": proc.returncode,
        "delivered": summary["delivered"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=10.0, help="fire --timeout (Zenoti: 10)")
    args = parser.parse_args()
    print(f"fire -n 1 --no-retry --timeout {args.timeout:g}; target: attempt <= {args.timeout + 1:g} s, RSS < 150 MB\n")
    print(f"{'receiver':<26}{'attempt s':>10}{'run s':>8}{'peak RSS MB':>13}{'outcome':>12}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, action) in enumerate(CASES):
            row = run_case(action, args.timeout, Path(tmp) / f"log{i}.sqlite3")
            outcome = "delivered" if row["delivered"] else f"failed ({row['exit']})"
            print(f"{name:<26}{row['latency_s']:>10.2f}{row['wall_s']:>8.2f}{row['rss_mb']:>13.1f}{outcome:>12}")
            worst = max(worst, float(row["latency_s"]))  # type: ignore[arg-type]
    print(f"\nlongest attempt: {worst:.2f} s (timeout {args.timeout:g} s)")


if __name__ == "__main__":
    main()
