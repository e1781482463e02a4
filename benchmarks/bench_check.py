"""How long ``zenoti-emulator check`` takes against one correct receiver, with the defaults.

    .venv/bin/python benchmarks/bench_check.py [--repeat 3] [--delay 0 0.01 0.05]

The target is a whole run under 30 s. The receiver is the correct one of the tests
(``tests/contract_receiver.py``: verifies signatures, deduplicates, threaded HTTP/1.1),
run in its own process so that it does not share the command's GIL, each request taking
``--delay`` seconds (a real handler's work: a database write). The command is the
installed ``zenoti-emulator``, timed from start to exit (start-up included), best and
worst of ``--repeat`` runs, with its CPU time (user + system, of the command's process:
what the run costs on a shared machine, where the wall time also counts the others'
load) and the per-check time of the last run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = str(Path(sys.executable).with_name("zenoti-emulator"))
SECRET = "bench-secret"

RECEIVER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from tests.contract_receiver import ContractReceiver
with ContractReceiver(secret=sys.argv[2], delay=float(sys.argv[3])) as rx:
    print(rx.url, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--delay", type=float, nargs="+", default=[0.0, 0.01, 0.05])
    args = parser.parse_args()
    print(f"{'receiver':28} {'best s':>8} {'worst s':>8} {'CPU s':>7}  slowest checks (last run)")
    for delay in args.delay:
        rx = subprocess.Popen(
            [sys.executable, "-c", RECEIVER, str(ROOT), SECRET, str(delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert rx.stdout is not None
            url = rx.stdout.readline().strip()
            times, cpu, doc = [], [], {}
            for _ in range(args.repeat):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                done = subprocess.run(
                    [COMMAND, "check", url, "--secret", SECRET, "--format", "json"],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                times.append(time.perf_counter() - t0)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
                doc = json.loads(done.stdout)
                if done.returncode != 0:
                    sys.exit(f"check failed against a correct receiver: {done.stdout}")
            slowest = sorted(doc["results"], key=lambda r: -r["duration_s"])[:3]
            detail = ", ".join(f"{r['name']} {r['duration_s']:.2f}" for r in slowest)
            label = f"answers in {delay * 1000:.0f} ms"
            print(f"{label:28} {min(times):8.2f} {max(times):8.2f} {min(cpu):7.2f}  {detail}")
        finally:
            assert rx.stdin is not None
            rx.stdin.close()
            rx.wait(timeout=10)


if __name__ == "__main__":
    main()
