"""What `fire` says about each event and about a failing receiver (issue 26).

Pure text: each function takes what an attempt recorded (and the run's settings) and
returns the lines to print; :class:`~emulator.cli.reporting.Reporter` decides when and
where. Kept apart so the wording is written (and tested) once, whatever prints it.

- :func:`event_line`: one line per attempt, the way Stripe's ``listen`` shows one per
  event: ``→ AppointmentGroup.Created 66a26696f3245482081a3989 ← 200 59 ms``. Stable
  on a pipe (a script can split it on spaces: arrow, type, id, arrow, status...).
- :func:`first_failure_hint`: at the first failure, on a terminal: what Zenoti's retry
  schedule will do with the run, and how to get a quick loop instead.
- :func:`signature_hint`, :func:`unsigned_hint`: a 401/403 is nearly always the
  signature; say what Zenoti's header looks like and which check explains it.
"""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING

from ..delivery.signing import SIGNATURE_HEADER

if TYPE_CHECKING:
    from ..delivery.retry import DeliveryOptions
    from ..delivery.rows import AttemptRecord, RecordResult

#: Runs of at most this many events print a line per event instead of the summary table.
PER_EVENT_MAX = 20

#: Answers that say "who are you?": the signature is the first suspect.
REFUSALS = (401, 403)


def answer(record: AttemptRecord) -> str:
    """What came back, short: ``200``, ``401 Unauthorized``, ``connection refused``."""
    if record.status_code is not None:
        reason = (record.error or "").removeprefix("HTTP ").strip()
        return reason if reason.startswith(str(record.status_code)) else str(record.status_code)
    return record.error or record.outcome


def what_next(result: RecordResult, *, now: float | None = None) -> str:
    """After a failed attempt: when the retry is, or why there is none."""
    if result.deactivated:
        return "webhook deactivated"
    if result.next is not None:
        due = time.strftime("%H:%M:%S", time.localtime(result.next.due_at))
        wait = max(0.0, result.next.due_at - (time.time() if now is None else now))
        return f"retry {result.next.number} at {due} (in {wait:.0f} s)"
    return "no retry left" if result.status == "failed" else "not retried"


def event_line(event_type: str | None, call_id: str | None, record: AttemptRecord, result: RecordResult) -> str:
    """``→ TYPE ID ← STATUS N ms``, plus the attempt number on a retry and what comes next
    after a failure. Missing values print as ``-`` so the columns stay in place."""
    head = f"→ {event_type or '-'} {call_id or '-'}"
    if record.number > 1:
        head += f" (attempt {record.number})"
    latency = f" {record.latency_ms:.0f} ms" if record.latency_ms is not None else ""
    line = f"{head} ← {answer(record)}{latency}"
    return line if record.ok else f"{line}, {what_next(result)}"


def duration(seconds: float) -> str:
    """``0.4 s``, ``38 s``, ``19 min``, ``2.5 h``: as a person says it."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def first_failure_hint(
    label: str, record: AttemptRecord, options: DeliveryOptions, check_command: str, *, wait: bool = True
) -> list[str]:
    """At the first failure of a run, on a terminal: what will happen and how to go faster.

    The schedule comes from the run's own policy and time scale, so the figures are the
    ones this run will wait (before jitter): ``--max-attempts``, ``--time-scale`` and
    ``--no-retry`` change them.
    """
    policy, scale = options.policy, options.time_scale
    lines = [f"{label}: delivery {record.delivery_id} failed ({answer(record)})."]
    if policy.retries:
        waits = [policy.nominal(k) for k in range(1, policy.retries + 1)]
        total = sum(waits) / scale
        schedule = ", ".join(duration(w) for w in waits)
        scaled = "" if scale == 1 else f" at --time-scale {scale:g}"
        lines[0] += f" Like Zenoti, the emulator retries each failed event {policy.retries} times, after {schedule}"
        if not wait:  # --no-wait: the run ends after the first attempts; the retries wait in the log
            lines[0] += f": about {duration(total)}{scaled}, left in the log for `zenoti-emulator resume`."
            lines.append(f"  Why it fails: {check_command}")
            return lines
        lines[0] += f": this run may take up to about {duration(total)}{scaled}."
        lines.append(
            "  For a quick loop: --no-retry (one attempt per event), or --time-scale 600 "
            "(Zenoti's schedule, 600 times sooner)."
        )
        lines.append("  Ctrl-C stops here; the retries stay in the log (zenoti-emulator resume sends them).")
    lines.append(f"  Why it fails: {check_command}")
    return lines


def signature_hint(label: str, record: AttemptRecord, check_command: str) -> list[str] | None:
    """A signed event refused with 401/403: show the header as sent, and the check to run."""
    if record.status_code not in REFUSALS:
        return None
    header = next((v for k, v in record.request_headers.items() if k.lower() == SIGNATURE_HEADER), None)
    if header is None:
        return None
    shown = header if len(header) <= 40 else header[:40] + "…"
    return [
        f"{label}: the receiver refused a signed event ({answer(record)}). Zenoti signs the raw body "
        "(HMAC-SHA256 with the webhook's secret) in this header:",
        f"  {SIGNATURE_HEADER}: {shown}",
        '  ("sha256 =" with a space, then upper-case hex pairs joined by "-"; a receiver expecting '
        "sha256=<lower hex> refuses it).",
        f"  Check it: {check_command} --only signature-format",
    ]


def unsigned_hint(label: str, record: AttemptRecord) -> list[str] | None:
    """An unsigned event refused with 401/403: the receiver wants signed events."""
    if record.status_code not in REFUSALS:
        return None
    if any(k.lower() == SIGNATURE_HEADER for k in record.request_headers):
        return None
    return [
        f"{label}: the receiver refused an unsigned event ({answer(record)}); if it verifies "
        "Zenoti's signature, pass the webhook's secret: --secret YOUR_SECRET (or $ZENOTI_EMULATOR_SECRET)."
    ]


def check_command(shown_url: str, signed: bool) -> str:
    """The `check` command line for this target (the secret never printed)."""
    return f"zenoti-emulator check {shlex.quote(shown_url)}" + (" --secret YOUR_SECRET" if signed else "")
