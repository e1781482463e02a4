"""Start-up time of the command: what a person pays for `--help` and for every Tab.

    .venv/bin/python benchmarks/bench_startup.py [--runs 21]

Each case is a fresh process, run ``--runs`` times after one warm-up; the figure is the
median wall time (subprocess spawn to exit). The baseline is ``python -c "import flask"``
with the same interpreter: the issue's target is every case within 1.2x of it. Shell
completion is click's own protocol (``_ZENOTI_EMULATOR_COMPLETE=bash_complete``), which
runs the whole program on each Tab. ``--imports`` adds the heavy modules a start loaded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMAND = str(BIN / "zenoti-emulator")
#: Modules whose loading at start was the problem (issue 14): none may load for --help.
HEAVY = ("faker", "jsonschema", "jsonschema_rs", "requests", "rich", "flask", "sqlite3")


def complete(words: str) -> dict[str, str]:
    """Environment for click's bash completion of ``words`` (the last one being typed)."""
    parts = words.split(" ")
    return {"_ZENOTI_EMULATOR_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)}


CASES: list[tuple[str, list[str], dict[str, str]]] = [
    ('python -c "import flask" (baseline)', [sys.executable, "-c", "import flask"], {}),
    ("zenoti-emulator --help", [COMMAND, "--help"], {}),
    ("zenoti-emulator fire --help", [COMMAND, "fire", "--help"], {}),
    ("complete: zenoti-emulator <Tab>", [COMMAND], complete("zenoti-emulator ")),
    ("complete: zenoti-emulator fire --<Tab>", [COMMAND], complete("zenoti-emulator fire --")),
]


def median_seconds(argv: list[str], env: dict[str, str], runs: int) -> float:
    full_env = {**os.environ, **env}
    subprocess.run(argv, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def heavy_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """The heavy top-level packages the process imported (from ``-X importtime``)."""
    if argv[0] == COMMAND:
        argv = [sys.executable, "-X", "importtime", "-m", "emulator", *argv[1:]]
    else:
        argv = [argv[0], "-X", "importtime", *argv[1:]]
    done = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True)
    names = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    return sorted(names & set(HEAVY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--imports", action="store_true", help="also list the heavy modules each case loads")
    args = parser.parse_args()
    print(f"{sys.version.split()[0]}, {os.cpu_count()} cores, median of {args.runs} runs")
    baseline = None
    for name, argv, env in CASES:
        seconds = median_seconds(argv, env, args.runs)
        baseline = baseline or seconds
        line = f"{name:42} {seconds * 1000:7.1f} ms  {seconds / baseline:5.2f}x"
        if args.imports:
            line += "  " + (", ".join(heavy_imports(argv, env)) or "-")
        print(line)


if __name__ == "__main__":
    main()
