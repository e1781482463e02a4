"""What a load run got back: answers by status class and event type, latencies, throughput.

A :class:`Tally` is filled by one process's users, sent to the master as a plain dict
(:meth:`Tally.to_dict`, through Locust's worker reports) and merged there
(:meth:`Tally.merge`), so the summary of a distributed run is the sum of its workers'.
Latencies are kept as a histogram of rounded milliseconds (as Locust keeps them): merging
is adding counts, and memory stays flat however long the run.

Pure: no Locust, no gevent, no I/O.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..defaults import DEFAULT_TIMEOUT

#: The status classes of the report, in the order they are shown. ``429`` has its own
#: class: a rate limiter's answer is what earns a webhook its deactivation.
CLASSES: tuple[str, ...] = ("2xx", "3xx", "4xx", "429", "5xx", "timeout", "connection")
#: An answer slower than this is not a success, whatever its status (Zenoti's timeout).
SUCCESS_WITHIN_MS = DEFAULT_TIMEOUT * 1000


def status_class(status: int | None, error: str | None = None) -> str:
    """``2xx``, ``3xx``, ``4xx``, ``429``, ``5xx``; ``timeout`` or ``connection`` with no answer."""
    if not status:
        return (
            "timeout"
            if (error and "timeout" in error.lower()) or (error and "timed out" in error.lower())
            else "connection"
        )
    if status == 429:
        return "429"
    if 200 <= status < 300:
        return "2xx"
    if 300 <= status < 400:
        return "3xx"
    if 400 <= status < 500:
        return "4xx"
    return "5xx"


def rounded_ms(ms: float) -> int:
    """Latency bucket: exact below 100 ms, two significant digits above (as Locust does)."""
    value = round(ms)
    if value < 100:
        return value
    digits: int = 10 ** (len(str(value)) - 2)
    return round(value / digits) * digits


@dataclass
class Tally:
    """Counts of one run (or one process of it)."""

    #: (event type, status class) -> answers
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: rounded latency in ms -> answers
    latencies: Counter[int] = field(default_factory=Counter)
    #: epoch second -> answers in it
    per_second: Counter[int] = field(default_factory=Counter)
    #: answers that were 2xx but slower than Zenoti's timeout
    slow: int = 0
    #: epoch time the first request left, and the last answer came (0.0: none yet)
    first_at: float = 0.0
    last_at: float = 0.0

    def add(self, event_type: str, klass: str, latency_ms: float, at: float) -> None:
        """One answer (or failure) that came at epoch time ``at``, ``latency_ms`` after its request left."""
        started = at - latency_ms / 1000
        self.first_at = min(self.first_at, started) if self.first_at else started
        self.last_at = max(self.last_at, at)
        self.answers[(event_type, klass)] += 1
        self.latencies[rounded_ms(latency_ms)] += 1
        self.per_second[int(at)] += 1
        if klass == "2xx" and latency_ms > SUCCESS_WITHIN_MS:
            self.slow += 1

    @property
    def sent(self) -> int:
        return sum(self.answers.values())

    @property
    def ok(self) -> int:
        return sum(n for (_, klass), n in self.answers.items() if klass == "2xx") - self.slow

    def by_class(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for (_, klass), n in self.answers.items():
            counts[klass] += n
        return {k: counts[k] for k in CLASSES if counts[k]}

    def by_type(self) -> dict[str, dict[str, int]]:
        table: dict[str, Counter[str]] = {}
        for (event_type, klass), n in self.answers.items():
            table.setdefault(event_type, Counter())[klass] += n
        return {
            t: {k: c[k] for k in CLASSES if c[k]} for t, c in sorted(table.items(), key=lambda kv: -sum(kv[1].values()))
        }

    def percentile(self, q: float) -> float | None:
        """The latency (ms) under which a share ``q`` of answers came, or ``None`` with none."""
        total = sum(self.latencies.values())
        if not total:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        for ms in sorted(self.latencies):
            seen += self.latencies[ms]
            if seen >= rank:
                return float(ms)
        return float(max(self.latencies))

    def throughput(self, buckets: int = 10) -> list[dict[str, float]]:
        """Events per second over the run, in at most ``buckets`` equal slices of whole seconds."""
        if not self.per_second:
            return []
        first, last = min(self.per_second), max(self.per_second)
        span = last - first + 1
        width = max(1, math.ceil(span / buckets))
        rows = []
        for start in range(first, last + 1, width):
            count = sum(self.per_second.get(s, 0) for s in range(start, min(start + width, last + 1)))
            seconds = min(width, last + 1 - start)
            rows.append(
                {"from_s": start - first, "to_s": start - first + seconds, "events_per_s": round(count / seconds, 1)}
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """A plain, msgpack-able form: what a worker sends its master."""
        return {
            "answers": [[t, k, n] for (t, k), n in self.answers.items()],
            "latencies": [[ms, n] for ms, n in self.latencies.items()],
            "per_second": [[s, n] for s, n in self.per_second.items()],
            "slow": self.slow,
            "first_at": self.first_at,
            "last_at": self.last_at,
        }

    def merge(self, data: Mapping[str, Any]) -> None:
        for t, k, n in data.get("answers", ()):
            self.answers[(t, k)] += n
        for ms, n in data.get("latencies", ()):
            self.latencies[int(ms)] += n
        for s, n in data.get("per_second", ()):
            self.per_second[int(s)] += n
        self.slow += int(data.get("slow", 0))
        first, last = float(data.get("first_at") or 0.0), float(data.get("last_at") or 0.0)
        if first:
            self.first_at = min(self.first_at, first) if self.first_at else first
        self.last_at = max(self.last_at, last)

    def clear(self) -> None:
        self.answers.clear()
        self.latencies.clear()
        self.per_second.clear()
        self.slow = 0
        self.first_at = self.last_at = 0.0

    @classmethod
    def merged(cls, parts: Iterable[Mapping[str, Any]]) -> Tally:
        tally = cls()
        for part in parts:
            tally.merge(part)
        return tally

    def summary(self, elapsed: float) -> dict[str, Any]:
        """The report: what was sent, how it was answered, how fast."""
        sent = self.sent
        return {
            "events_sent": sent,
            "answered_2xx_within_10s": self.ok,
            "all_ok": sent > 0 and self.ok == sent,
            "by_status_class": self.by_class(),
            "by_event_type": self.by_type(),
            "latency_ms": {
                "p50": self.percentile(0.50),
                "p95": self.percentile(0.95),
                "p99": self.percentile(0.99),
                "max": float(max(self.latencies)) if self.latencies else None,
            },
            "elapsed_s": round(elapsed, 3),
            "first_to_last_answer_s": round(self.last_at - self.first_at, 3) if sent else None,
            "events_per_s": round(sent / elapsed, 1) if elapsed > 0 else None,
            "throughput": self.throughput(),
        }
