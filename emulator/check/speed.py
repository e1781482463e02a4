"""The checks of speed: ``latency`` (p95 of events sent one after another) and ``burst``.

They run alone, never beside other checks (:data:`~emulator.check.run.ALONE`), since they
measure the receiver's answers in time; ``burst`` stops at Zenoti's deactivation
threshold of failures.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .causes import (
    RATE_LIMITED,
)
from .results import FAIL, PASS, WARN, CheckResult, Exchange
from .run import GROUP_CREATED, CheckRun
from .verdicts import _answers, _counts, _main_cause, _result

#: The burst stops once this many of its requests failed: Zenoti's deactivation threshold.
BURST_STOP_AFTER = 20


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of non-empty ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _latency_of(e: Exchange, timeout: float) -> float:
    # A timeout took at least the timeout: count it so, not as the moment it gave up.
    return max(e.latency_ms, timeout * 1000) if e.outcome == "timeout" else e.latency_ms


def _latency(run: CheckRun, event_type: str | None) -> CheckResult:
    n = run.config.latency_events
    timeout = run.config.timeout
    kinds = itertools.cycle(run.event_types)
    # More timeouts than 5 % of n put the p95 at the timeout whatever comes next: stop
    # there rather than wait out the whole run on a receiver that hangs (at the first,
    # when the run has already seen one).
    allowed = 0 if run.hanging else int(n * 0.05)
    exchanges: list[Exchange] = []
    for i in range(n):
        exchanges.append(run.send_event(f"event {i + 1} of {n}", run.events(next(kinds))[0]))
        if sum(e.outcome == "timeout" for e in exchanges) > allowed:
            break
    values = [_latency_of(e, timeout) for e in exchanges]
    p95, p50 = percentile(values, 0.95), percentile(values, 0.50)
    slowest = sorted(exchanges, key=lambda e: -_latency_of(e, timeout))
    sent = len(exchanges)
    stats: dict[str, Any] = {
        "events": sent,
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(max(values), 1),
    }
    timeouts = sum(e.outcome == "timeout" for e in exchanges)
    figures = f"p95 {p95:.0f} ms over {sent} events (p50 {p50:.0f} ms, max {max(values):.0f} ms)"
    if sent < n:
        figures += f", stopped after {timeouts} timeouts"
    if timeouts:
        cause = next(e for e in slowest if e.outcome == "timeout").cause
        return _result(
            "latency",
            None,
            FAIL,
            f"{figures}: {cause.says()}, so those events are retried and arrive twice",
            slowest,
            cause,
            **stats,
        )
    if p95 >= timeout * 1000:
        return _result(
            "latency",
            None,
            FAIL,
            f"{figures}: at the {timeout:g} s timeout (Zenoti's: 10 s), so those events are retried and arrive twice",
            slowest,
            **stats,
        )
    slow = run.config.slow
    assert slow is not None  # CheckConfig sets it when it is made
    if p95 > slow * 1000:
        return _result(
            "latency", None, WARN, f"{figures}: above {run.config.slow:g} s; answer first, work later", slowest, **stats
        )
    bad = [e for e in exchanges if not e.ok]
    if bad:  # fast, but not accepted: what came back is the finding, not the speed
        cause = _main_cause(bad)
        return _result("latency", None, FAIL, f"{figures}: {len(bad)} {cause.says()}", bad, cause, **stats)
    return _result("latency", None, PASS, figures, [], **stats)


def _burst(run: CheckRun, event_type: str | None) -> CheckResult:
    n, c = run.config.burst, run.config.burst_concurrency
    kinds = itertools.cycle(run.event_types)
    events = [run.events(next(kinds))[0] for _ in range(n)]
    # The bookings the burst's other events build on go first, one by one, not in the
    # burst; a booking of the burst that went first is replaced by a fresh one.
    sent_first: list[dict[str, Any]] = []
    for event in events:
        if event["event_type"] != GROUP_CREATED:
            for earlier in run.prerequisites(event):
                run.prelude.append(run.send("first, a booking the burst builds on", run.request(earlier)))
                sent_first.append(earlier)
    events = [run.events(GROUP_CREATED)[0] if any(e is s for s in sent_first) else e for e in events]
    for event in events:
        run.prerequisites(event)  # the burst's own bookings count as sent
    prepared = [run.request(event) for event in events]
    stop = threading.Event()
    failures = itertools.count(1)  # next() is atomic: the workers share it

    def send(index: int) -> Exchange | None:
        if stop.is_set():
            return None
        # not paced: a rate limit is what the burst is here to find
        e = run.send(f"burst event {index + 1} of {n}", prepared[index], pace=False)
        if not e.ok and next(failures) >= BURST_STOP_AFTER:
            stop.set()
        return e

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=c) as pool:
        exchanges = [e for e in pool.map(send, range(n)) if e is not None]
    elapsed = time.perf_counter() - t0
    bad = [e for e in exchanges if not e.ok]
    stats: dict[str, Any] = {
        "events": len(exchanges),
        "concurrency": c,
        "elapsed_s": round(elapsed, 3),
        "per_s": round(len(exchanges) / elapsed, 1) if elapsed > 0 else None,
        "answers": _counts(exchanges),
    }
    figures = f"{len(exchanges)} events at {c} in flight in {elapsed:.1f} s"
    if not bad:
        return _result("burst", None, PASS, f"{figures}: all answered 2xx", [], **stats)
    stopped = (
        f"; stopped after {len(bad)} failures (Zenoti deactivates a webhook after {BURST_STOP_AFTER} in a row)"
        if len(exchanges) < n
        else ""
    )
    cause = _main_cause(bad)
    accepted = len(exchanges) - len(bad)
    detail = f"{len(bad)} not accepted ({_answers(bad)}), {accepted} accepted"
    if cause.kind == RATE_LIMITED:
        detail = f"{len(bad)} {cause.says()} ({accepted} accepted)"
    return _result("burst", None, FAIL, f"{figures}: {detail}{stopped}", bad, cause, **stats)
