"""The report of a ``check`` run, as ``text`` (a test run), ``json`` (stable) or ``junit``.

Renderers are pure: results in, a string out. The text reads like a test run: one line
per check (a check run per event type folds its types into one line, "38 types", unless
``verbose``; a failing type is listed in full), then the failures and warnings, those
sharing one cause (:mod:`emulator.check.causes`) grouped under it once, then what the
set-up sent and a summary line. Nothing here ever holds the webhook's secret: only the
signatures it produced, which are what the receiver saw.
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .causes import AUTH, TOO_LARGE, Cause
from .results import FAIL, OUTCOMES, PASS, SKIP, WARN, CheckResult, Exchange

FORMATS = ("text", "json", "junit")
#: JSON report layout version; bumped only on a change that breaks a reader.
REPORT_VERSION = 1


@dataclass
class RunInfo:
    """What was checked, for the report's header."""

    url: str
    verb: str
    signed: bool
    event_types: list[str]
    elapsed_s: float = 0.0
    #: what the probe had to change for the other checks to test what they name
    notes: list[str] = field(default_factory=list)
    #: what was sent only to set the checks up: the probe, the bookings later events name
    setup: list[Exchange] = field(default_factory=list)
    #: every event type and every result on its own line
    verbose: bool = False
    #: what the run learnt on the way (a rate limit), printed after the checks
    late_notes: list[str] = field(default_factory=list)


def counts(results: Sequence[CheckResult]) -> dict[str, int]:
    return {outcome: sum(1 for r in results if r.outcome == outcome) for outcome in OUTCOMES}


def exit_code(results: Sequence[CheckResult]) -> int:
    """0 when nothing failed (warnings and skips included), 1 when a check failed."""
    return 1 if any(r.outcome == FAIL for r in results) else 0


def header(info: RunInfo) -> str:
    signed = "signed" if info.signed else "unsigned (no --secret)"
    if info.verbose or len(info.event_types) <= 3:
        types = f"event types: {', '.join(info.event_types) or '-'}"
    else:
        types = f"{len(info.event_types)} event types (-v lists them)"
    lines = [f"zenoti-emulator check {info.url}", f"  verb {info.verb}, {signed}, {types}"]
    lines += [f"  note: {note}" for note in info.notes]
    return "\n".join(lines)


def result_line(result: CheckResult) -> str:
    """``PASS  ping  the empty unsigned POST was answered 200  (0.01 s)``."""
    return f"{result.outcome.upper():4}  {result.name}  {result.message}  ({result.duration_s:.2f} s)"


def folded_lines(results: Sequence[CheckResult]) -> list[str]:
    """The lines of one check run per event type: one ``PASS  accepts-events  38 types``
    line for the types that passed or were skipped, and each type that failed or warned
    in full."""
    if len(results) == 1:
        return [result_line(results[0])]
    full = [r for r in results if r.outcome in (FAIL, WARN)]
    skipped = [r for r in results if r.outcome == SKIP]
    outcome = (
        FAIL
        if any(r.outcome == FAIL for r in full)
        else WARN
        if full
        else SKIP
        if len(skipped) == len(results)
        else PASS
    )
    seconds = sum(r.duration_s for r in results)
    what = f"{len(results)} types"
    if full or skipped:
        what = f"{len(results) - len(full) - len(skipped)} of {len(results)} types passed"
    if skipped:
        first = skipped[0]
        reason = first.cause.says() if first.cause is not None else first.message
        what += f", {len(skipped)} skipped ({reason})"
    paced = sum(r.stats.get("paced_s", 0.0) for r in results)
    if paced:
        what += f" (paced: waited {paced:.1f} s for the receiver's rate limit)"
    lines = [f"{outcome.upper():4}  {results[0].check}  {what}  ({seconds:.2f} s)"]
    return lines + [f"  {result_line(r)}" for r in full]


def check_lines(results: Sequence[CheckResult], verbose: bool = False) -> list[str]:
    """Every check's line(s), in order: one per result with ``verbose``, else folded."""
    if verbose:
        return [result_line(r) for r in results]
    lines: list[str] = []
    i = 0
    while i < len(results):
        j = i + 1
        while j < len(results) and results[j].check == results[i].check and results[i].event_type is not None:
            j += 1
        lines += folded_lines(results[i:j])
        i = j
    return lines


def causes(results: Sequence[CheckResult]) -> list[tuple[Cause, list[CheckResult]]]:
    """Failures and warnings grouped by what came back (:meth:`Cause.key`), in the order
    their first result ran; a result with no cause is a group of its own."""
    groups: dict[Any, tuple[Cause | None, list[CheckResult]]] = {}
    for r in results:
        if r.outcome not in (FAIL, WARN):
            continue
        key = (r.outcome,) + (r.cause.key() if r.cause is not None else ("own", r.name))
        groups.setdefault(key, (r.cause, []))[1].append(r)
    return [(cause, members) for cause, members in groups.values()]  # type: ignore[misc]


def _group_title(cause: Cause, members: Sequence[CheckResult]) -> str:
    if cause.kind == TOO_LARGE:  # the smallest body refused is the limit's best estimate
        cause = dataclasses.replace(cause, body_bytes=min(r.cause.body_bytes for r in members if r.cause))
    return cause.group_title(len(members))


def group_text(cause: Cause | None, members: Sequence[CheckResult]) -> str:
    """One failure (:func:`evidence_text`), or many sharing one cause: the cause once, the
    checks listed, the evidence of the first."""
    if cause is None or len(members) == 1:
        return evidence_text(members[0])
    first = members[0]
    lines = [f"{first.outcome.upper()} {_group_title(cause, members)}"]
    # each member's own words without the cause they share (said once, above)
    lines += [
        f"  - {r.name}: {r.message.replace(': ' + r.cause.says(), '') if r.cause else r.message}" for r in members
    ]
    if len({r.check for r in members}) == 1:
        lines += [f"  why: {first.why}", f"  fix: {first.fix}"]
    else:
        lines.append(f"  fix: {cause.fix()}")
    for e in first.evidence[:1]:
        lines += exchange_lines(e)
    return "\n".join(lines)


def setup_text(setup: Sequence[Exchange]) -> str:
    """What the run sent only to set the checks up, and, if the receiver refused some of
    it, those requests: the checks after them judged events about what it does not have."""
    if not setup:
        return ""
    probes = sum(e.label.startswith("probe") for e in setup)
    bookings = len(setup) - probes
    parts = [f"{probes} probe{'s' if probes != 1 else ''}"] + (
        [f"{bookings} bookings that later events name"] if bookings else []
    )
    answers: dict[str, int] = {}
    for e in setup:
        answers[e.answer()] = answers.get(e.answer(), 0) + 1
    said = ", ".join(f"{n} answered {a}" if a[0].isdigit() else f"{n} with {a}" for a, n in answers.items())
    lines = [f"set-up: {' and '.join(parts)}: {said}"]
    # (a 401 to an unsigned booking says only what the header's note says: pass --secret)
    refused = [
        e
        for e in setup
        if not e.ok and not e.label.startswith("probe") and not (e.cause.kind == AUTH and not e.cause.signed)
    ]
    if refused:
        lines.append(
            f"  {len(refused)} set-up bookings were not accepted ({refused[0].cause.says()}): the checks "
            "that sent events about those groups judged a receiver that lacks them"
        )
        for e in refused[:3]:
            lines += exchange_lines(e)
    return "\n".join(lines)


def summary_line(results: Sequence[CheckResult], elapsed_s: float) -> str:
    c = counts(results)
    return (
        f"{len(results)} checks: {c[PASS]} passed, {c[FAIL]} failed, {c[WARN]} warned, "
        f"{c[SKIP]} skipped in {elapsed_s:.2f} s"
    )


def exchange_lines(e: Exchange) -> list[str]:
    """Two lines: what was sent (``>``), what came back (``<``)."""
    headers = "".join(f"  {k}: {v}" for k, v in e.headers.items()) or "  (no Content-Type, no signature)"
    sent = f"    > {e.label}: {e.method} {e.url}  {e.body_bytes:,} bytes{headers}"
    if e.status is not None:
        back = f"    < {e.status} in {e.latency_ms:.0f} ms" + (
            f": {_one_line(e.response_excerpt)}" if e.response_excerpt else ""
        )
        if e.retry_after is not None:
            back += f"  (Retry-After: {e.retry_after})"
        if e.paced_s:
            back += f"  (after waiting {e.paced_s:.1f} s for the rate limit)"
    else:
        back = f"    < no answer after {e.latency_ms:.0f} ms: {e.error or e.outcome}"
    return [sent, back]


def evidence_text(result: CheckResult) -> str:
    """The block printed for a failure or a warning: verdict, why, fix, exchanges."""
    lines = [f"{result.outcome.upper()} {result.name}: {result.message}"]
    if result.own_cause:
        lines.append(f"  why: {result.why}")
    else:  # not what the check tests: the check's reason would mislead, what came back does not
        assert result.cause is not None
        lines.append(f"  cause: {result.cause.says()} (not what {result.check} tests: the fix is for that)")
    lines.append(f"  fix: {result.fix}")
    for e in result.evidence:
        lines += exchange_lines(e)
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_text(results: Sequence[CheckResult], info: RunInfo, *, with_lines: bool = True) -> str:
    """The whole text report; ``with_lines=False`` leaves out the per-check lines (the CLI
    prints those as each check finishes)."""
    parts = []
    if with_lines:
        parts.append(header(info))
        parts += check_lines(results, info.verbose)
    blocks = [group_text(cause, members) for cause, members in causes(results)]
    if blocks:
        parts.append("")
        parts.append("\n\n".join(blocks))
    parts.append("")
    parts += [f"note: {note}" for note in info.late_notes]
    if info.setup:
        parts.append(setup_text(info.setup))
    parts.append(summary_line(results, info.elapsed_s))
    return "\n".join(parts) + "\n"


def render_json(results: Sequence[CheckResult], info: RunInfo) -> str:
    c = counts(results)
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "url": info.url,
        "verb": info.verb,
        "signed": info.signed,
        "event_types": info.event_types,
        "notes": info.notes + info.late_notes,
        "results": [r.to_dict() for r in results],
        "causes": [
            {
                "title": _group_title(cause, members) if cause else members[0].message,
                "outcome": members[0].outcome,
                "cause": cause.to_dict() if cause else None,
                "checks": [r.name for r in members],
                "fix": members[0].fix
                if len({r.check for r in members}) == 1
                else (cause.fix() if cause else members[0].fix),
            }
            for cause, members in causes(results)
        ],
        "setup": [e.to_dict() for e in info.setup],
        "summary": {
            "checks": len(results),
            "passed": c[PASS],
            "failed": c[FAIL],
            "warned": c[WARN],
            "skipped": c[SKIP],
            "elapsed_s": round(info.elapsed_s, 3),
        },
        "ok": exit_code(results) == 0,
        "exit_code": exit_code(results),
    }
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def render_junit(results: Sequence[CheckResult], info: RunInfo) -> str:
    """JUnit XML: one test case per result; a warning passes with its evidence as output."""
    c = counts(results)
    root = ET.Element(
        "testsuites",
        name="zenoti-emulator check",
        tests=str(len(results)),
        failures=str(c[FAIL]),
        errors="0",
        skipped=str(c[SKIP]),
        time=f"{info.elapsed_s:.3f}",
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name=_clean(f"zenoti-emulator check {info.url}"),
        tests=str(len(results)),
        failures=str(c[FAIL]),
        errors="0",
        skipped=str(c[SKIP]),
        time=f"{info.elapsed_s:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("url", info.url),
        ("verb", info.verb),
        ("signed", str(info.signed).lower()),
        ("event_types", ",".join(info.event_types)),
    ):
        ET.SubElement(props, "property", name=name, value=_clean(value))
    for r in results:
        case = ET.SubElement(
            suite, "testcase", classname="zenoti.check", name=_clean(r.name), time=f"{r.duration_s:.3f}"
        )
        if r.outcome == FAIL:
            failure = ET.SubElement(
                case, "failure", type=r.cause.kind if r.cause else "check", message=_clean(r.message)
            )
            failure.text = _clean(evidence_text(r))
        elif r.outcome == SKIP:
            ET.SubElement(case, "skipped", message=_clean(r.message))
        else:
            out = ET.SubElement(case, "system-out")
            out.text = _clean(evidence_text(r) if r.outcome == WARN else r.message)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _clean(text: str) -> str:
    # XML 1.0 cannot carry most control characters, even escaped; a receiver's answer can.
    return "".join(ch if ch in "\t\n\r" or ord(ch) >= 0x20 else f"\\x{ord(ch):02x}" for ch in text)


def render(fmt: str, results: Sequence[CheckResult], info: RunInfo) -> str:
    if fmt == "text":
        return render_text(results, info)
    if fmt == "json":
        return render_json(results, info)
    if fmt == "junit":
        return render_junit(results, info)
    raise ValueError(f"Unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}.")
