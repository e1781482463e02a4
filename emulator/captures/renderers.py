"""A validation report written as results arrive: ``text`` (a person), ``json``, ``junit``.

Renderers write to a file object the caller hands them, so the CLI streams a million
lines in flat memory; :meth:`Renderer.event` per result, :meth:`Renderer.finish` once.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, TextIO
from xml.sax.saxutils import escape as _xml_escape, quoteattr as _xml_attr

from .checking import SKIPPED, UNRECOGNIZED, VALID, EventResult, quote

if TYPE_CHECKING:
    from .validate import Report

#: Version of the JSON report's layout; bumped only when a key changes meaning or goes.
REPORT_VERSION = 1


class Renderer:
    """Writes a report as results arrive: :meth:`event` per result, :meth:`finish` once."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def event(self, result: EventResult) -> None:
        raise NotImplementedError

    def finish(self, report: Report) -> None:
        raise NotImplementedError


class TextRenderer(Renderer):
    """For a person: each invalid event with its errors, one line each; drift; summary."""

    #: skipped records shown one by one before the rest are only counted
    max_skipped_shown = 20

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self._skipped_shown = 0
        self._notes_shown = 0
        self._wrote = False

    def event(self, result: EventResult) -> None:
        if result.status == VALID:
            if not result.envelope:
                self._notes_shown += 1
                if self._notes_shown <= self.max_skipped_shown:
                    self.out.write(
                        f"NOTE    {result.capture.label}  {result.event_type}: valid, no envelope (a body of only `data`)\n"
                    )
                    self._wrote = True
            return
        self._wrote = True
        head = f"{result.capture.label}"
        if result.event_type:
            head += f"  {result.event_type}"
        if result.event_id:
            head += f"  id={result.event_id}"
        if result.status == SKIPPED:
            self._skipped_shown += 1
            if self._skipped_shown <= self.max_skipped_shown:
                self.out.write(f"SKIPPED {head}: {result.message}\n")
            return
        if not result.errors:
            self.out.write(f"INVALID {head}: {result.message}\n")
            return
        note = "" if result.envelope else "  (no envelope)"
        self.out.write(f"INVALID {head}{note}\n")
        for problem in result.errors:
            self.out.write(f"  {problem}\n")

    def finish(self, report: Report) -> None:
        write = self.out.write
        if self._skipped_shown > self.max_skipped_shown:
            write(
                f"... {self._skipped_shown - self.max_skipped_shown} more skipped records not shown (see reasons below)\n"
            )
        if self._notes_shown > self.max_skipped_shown:
            write(f"... {self._notes_shown - self.max_skipped_shown} more bodies with no envelope not shown\n")
        drift = report.drift
        fails = report.fail_on_drift
        if drift["has_drift"] or any(e["never_seen"] for e in drift["event_types"].values()):
            write(f"{chr(10) if self._wrote else ''}Drift ({'errors: --fail-on-drift' if fails else 'warnings'}):\n")
            for name, entry in drift["event_types"].items():
                lines = list(_drift_lines(entry))
                if lines:
                    write(f"  {name} ({entry['events']} event{'' if entry['events'] == 1 else 's'}):\n")
                    for line in lines:
                        write(f"    {line}\n")
            for unknown in drift["unknown_event_types"]:
                write(
                    f"  unknown event type {unknown['event_type']!r}: {unknown['count']} event{'' if unknown['count'] == 1 else 's'} (no schema)\n"
                )
            self._wrote = True
        reasons = {k: v for k, v in report.summary.reasons.items() if k != "schema"}
        write(("\n" if self._wrote else "") + report.summary.line() + "\n")
        if reasons:
            write("not valid events, by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) + "\n")


def _drift_lines(entry: dict[str, Any]) -> Iterator[str]:
    for item in entry["unknown_fields"]:
        types = ", ".join(item["types"])
        yield f"unknown field {item['path']} ({types}): {item['count']}x, e.g. {item['example']['path']} in {item['example']['source']}"
    if entry["unknown_fields_not_listed"]:
        yield f"... and {entry['unknown_fields_not_listed']} more occurrences of unknown fields not listed"
    for item in entry["undocumented_values"]:
        documented = ", ".join(quote(v) for v in item["documented"] or [])
        yield f"undocumented value {item['path']} = {quote(item['value'])}: {item['count']}x (documented: {documented}), e.g. {item['example']['source']}"
    for item in entry["varying_types"]:
        seen = ", ".join(f"{k} {v}x" for k, v in item["types"].items())
        schema = " or ".join(item["schema"]) if item["schema"] else "not in the schema"
        yield f"varying type {item['path']}: {seen} (schema: {schema})"
    if entry["never_seen"]:
        yield "never seen: " + ", ".join(entry["never_seen"])


class JsonRenderer(Renderer):
    """The stable JSON of :meth:`Report.to_dict`, streamed: one event per line."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self._count = 0
        out.write(f'{{"version": {REPORT_VERSION}, "events": [')

    def event(self, result: EventResult) -> None:
        if result.status == VALID:
            return
        self.out.write(("," if self._count else "") + "\n" + json.dumps(result.to_dict(), ensure_ascii=False))
        self._count += 1

    def finish(self, report: Report) -> None:
        rest = report.to_dict(events=False)
        del rest["version"]
        tail = json.dumps(rest, ensure_ascii=False)
        self.out.write(("\n" if self._count else "") + "], " + tail[1:] + "\n")


class JunitRenderer(Renderer):
    """JUnit XML: a test suite per input file, a test case per record, and one for drift.

    Invalid records are failures, skipped ones ``<skipped>``. Suites are spooled (to disk
    past a few MB) because their counts go in the opening tag.
    """

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self._body: IO[str] = tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+", encoding="utf-8")  # noqa: SIM115 (closed in finish)
        self._suite: IO[str] | None = None
        self._suite_name: str | None = None
        self._counts = [0, 0, 0]  # tests, failures, skipped: current suite
        self._totals = [0, 0, 0]

    def event(self, result: EventResult) -> None:
        file = result.capture.file
        if file != self._suite_name:
            self._close_suite()
            self._suite_name = file
            self._suite = tempfile.SpooledTemporaryFile(max_size=4 << 20, mode="w+", encoding="utf-8")  # noqa: SIM115 (closed in _close_suite)
        assert self._suite is not None  # opened just above; not user input
        classname = result.event_type or UNRECOGNIZED
        name = result.capture.label + (f" id={result.event_id}" if result.event_id else "")
        self._counts[0] += 1
        write = self._suite.write
        write(f"    <testcase classname={_attr(classname)} name={_attr(name)}")
        if result.status == VALID:
            write(
                "/>\n"
                if result.envelope
                else ">\n      <system-out>no envelope (a body of only `data`)</system-out>\n    </testcase>\n"
            )
            return
        write(">\n")
        if result.status == SKIPPED:
            self._counts[2] += 1
            write(f"      <skipped message={_attr(result.message)}/>\n")
        else:
            self._counts[1] += 1
            body = "\n".join(str(p) for p in result.errors) or result.message
            write(
                f"      <failure type={_attr(result.reason)} message={_attr(result.message)}>{_text(body)}</failure>\n"
            )
        write("    </testcase>\n")

    def _close_suite(self) -> None:
        if self._suite is None:
            return
        tests, failures, skipped = self._counts
        self._body.write(
            f'  <testsuite name={_attr(self._suite_name or "")} tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}">\n'
        )
        self._suite.seek(0)
        for chunk in iter(lambda: self._suite.read(1 << 16), ""):  # type: ignore[union-attr]
            self._body.write(chunk)
        self._body.write("  </testsuite>\n")
        self._suite.close()
        self._suite = None
        for i, n in enumerate(self._counts):
            self._totals[i] += n
        self._counts = [0, 0, 0]

    def finish(self, report: Report) -> None:
        self._close_suite()
        self._drift_suite(report)
        tests, failures, skipped = self._totals
        out = self.out
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(
            f'<testsuites name="zenoti-emulator validate" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}">\n'
        )
        self._body.seek(0)
        for chunk in iter(lambda: self._body.read(1 << 16), ""):
            out.write(chunk)
        out.write("</testsuites>\n")
        self._body.close()

    def _drift_suite(self, report: Report) -> None:
        # Drift is a property of the whole input: one case per event type, failing only
        # when --fail-on-drift asks for it; the findings go in its output either way.
        drift = report.drift
        cases = []
        for name, entry in drift["event_types"].items():
            lines = list(_drift_lines(entry))
            findings = bool(entry["unknown_fields"] or entry["undocumented_values"] or entry["varying_types"])
            cases.append((name, lines, findings))
        if drift["unknown_event_types"]:
            lines = [
                f"unknown event type {u['event_type']!r}: {u['count']} events" for u in drift["unknown_event_types"]
            ]
            cases.append((UNRECOGNIZED, lines, True))
        if not cases:
            return
        self._suite_name = "schema drift"
        self._suite = tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", encoding="utf-8")  # noqa: SIM115 (closed in _close_suite)
        for name, lines, findings in cases:
            self._counts[0] += 1
            text = _text("\n".join(lines))
            self._suite.write(f'    <testcase classname="drift" name={_attr(name)}>\n')
            if findings and report.fail_on_drift:
                self._counts[1] += 1
                self._suite.write(f'      <failure type="drift" message={_attr(lines[0])}>{text}</failure>\n')
            if lines:
                self._suite.write(f"      <system-out>{text}</system-out>\n")
            self._suite.write("    </testcase>\n")
        self._close_suite()


def _xml_clean(text: str) -> str:
    # XML 1.0 cannot carry most control characters, even escaped; captures can.
    return "".join(c if c in "\t\n\r" or ord(c) >= 0x20 else f"\\x{ord(c):02x}" for c in text)


def _attr(text: str) -> str:
    return _xml_attr(_xml_clean(text), {"\n": "&#10;"})


def _text(text: str) -> str:
    return _xml_escape(_xml_clean(text))


#: Output formats by name, for the CLI's ``--format`` and :meth:`Report.render`.
RENDERERS: dict[str, type[Renderer]] = {"text": TextRenderer, "json": JsonRenderer, "junit": JunitRenderer}


def make_renderer(fmt: str, out: TextIO) -> Renderer:
    try:
        return RENDERERS[fmt](out)
    except KeyError:
        raise ValueError(f"Unknown report format {fmt!r}; choose one of {', '.join(RENDERERS)}.") from None
