"""Simulation speed: every type the world emits, generated, validated and serialised.

    .venv/bin/python benchmarks/bench_simulate.py [--days 7] [--seeds 3]

What ``zenoti-emulator simulate`` does for each event, minus the terminal: the world runs
(bookings, memberships, packages...), each emission is projected through its schema,
validated by the compiled validator and written as one JSON line. The rate is events per
second of wall time, building the world included; target: at least 8,000/s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator.generate import simulate_events  # noqa: E402

NOW = datetime(2024, 7, 25, 14, 52, 6, tzinfo=timezone.utc)


def rate(seed: int, days: float) -> tuple[float, Counter[str]]:
    start = time.perf_counter()
    kinds: Counter[str] = Counter()
    for event in simulate_events(seed=seed, now=NOW, days=days):
        json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        kinds[event["event_type"]] += 1
    return sum(kinds.values()) / (time.perf_counter() - start), kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    rate(0, 0.5)  # warm up: compile validators and projections
    rates, total = [], Counter()
    for seed in range(args.seeds):
        events_per_s, kinds = rate(seed, args.days)
        rates.append(events_per_s)
        total += kinds
    rates.sort()
    print(f"simulate: {rates[len(rates) // 2]:,.0f} events/s (median of {args.seeds} seeds, {args.days:g} days each; "
          f"{sum(total.values()):,} events of {len(total)} types)  (target: at least 8,000/s)")


if __name__ == "__main__":
    main()
