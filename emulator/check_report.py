"""The report of a ``check`` run, as ``text`` (a test run), ``json`` (stable) or ``junit``.

Renderers are pure: results in, a string out. The text reads like a test run: one line
per check as it finishes, then the evidence of each failure and warning, then a
summary line. Nothing here ever holds the webhook's secret: only the signatures it
produced, which are what the receiver saw.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .check import FAIL, OUTCOMES, PASS, SKIP, WARN, CheckResult, Exchange

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


def counts(results: Sequence[CheckResult]) -> dict[str, int]:
    return {outcome: sum(1 for r in results if r.outcome == outcome) for outcome in OUTCOMES}


def exit_code(results: Sequence[CheckResult]) -> int:
    """0 when nothing failed (warnings and skips included), 1 when a check failed."""
    return 1 if any(r.outcome == FAIL for r in results) else 0


def header(info: RunInfo) -> str:
    signed = "signed" if info.signed else "unsigned (no --secret)"
    lines = [f"zenoti-emulator check {info.url}",
             f"  verb {info.verb}, {signed}, event types: {', '.join(info.event_types) or '-'}"]
    lines += [f"  note: {note}" for note in info.notes]
    return "\n".join(lines)


def result_line(result: CheckResult) -> str:
    """``PASS  ping  the empty unsigned POST was answered 200  (0.01 s)``."""
    return f"{result.outcome.upper():4}  {result.name}  {result.message}  ({result.duration_s:.2f} s)"


def summary_line(results: Sequence[CheckResult], elapsed_s: float) -> str:
    c = counts(results)
    return (f"{len(results)} checks: {c[PASS]} passed, {c[FAIL]} failed, {c[WARN]} warned, "
            f"{c[SKIP]} skipped in {elapsed_s:.2f} s")


def exchange_lines(e: Exchange) -> list[str]:
    """Two lines: what was sent (``>``), what came back (``<``)."""
    headers = "".join(f"  {k}: {v}" for k, v in e.headers.items()) or "  (no Content-Type, no signature)"
    sent = f"    > {e.label}: {e.method} {e.url}  {e.body_bytes:,} bytes{headers}"
    if e.status is not None:
        back = f"    < {e.status} in {e.latency_ms:.0f} ms" + (f": {_one_line(e.response_excerpt)}" if e.response_excerpt else "")
    else:
        back = f"    < no answer after {e.latency_ms:.0f} ms: {e.error or e.outcome}"
    return [sent, back]


def evidence_text(result: CheckResult) -> str:
    """The block printed for a failure or a warning: verdict, why, fix, exchanges."""
    lines = [f"{result.outcome.upper()} {result.name}: {result.message}", f"  why: {result.why}", f"  fix: {result.fix}"]
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
        parts += [result_line(r) for r in results]
    blocks = [evidence_text(r) for r in results if r.outcome in (FAIL, WARN)]
    if blocks:
        parts.append("")
        parts.append("\n\n".join(blocks))
    parts.append("")
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
        "notes": info.notes,
        "results": [r.to_dict() for r in results],
        "summary": {"checks": len(results), "passed": c[PASS], "failed": c[FAIL], "warned": c[WARN],
                    "skipped": c[SKIP], "elapsed_s": round(info.elapsed_s, 3)},
        "ok": exit_code(results) == 0,
        "exit_code": exit_code(results),
    }
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def render_junit(results: Sequence[CheckResult], info: RunInfo) -> str:
    """JUnit XML: one test case per result; a warning passes with its evidence as output."""
    c = counts(results)
    root = ET.Element("testsuites", name="zenoti-emulator check", tests=str(len(results)), failures=str(c[FAIL]),
                      errors="0", skipped=str(c[SKIP]), time=f"{info.elapsed_s:.3f}")
    suite = ET.SubElement(root, "testsuite", name=_clean(f"zenoti-emulator check {info.url}"), tests=str(len(results)),
                          failures=str(c[FAIL]), errors="0", skipped=str(c[SKIP]), time=f"{info.elapsed_s:.3f}")
    props = ET.SubElement(suite, "properties")
    for name, value in (("url", info.url), ("verb", info.verb), ("signed", str(info.signed).lower()),
                        ("event_types", ",".join(info.event_types))):
        ET.SubElement(props, "property", name=name, value=_clean(value))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="zenoti.check", name=_clean(r.name), time=f"{r.duration_s:.3f}")
        if r.outcome == FAIL:
            failure = ET.SubElement(case, "failure", type="check", message=_clean(r.message))
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
