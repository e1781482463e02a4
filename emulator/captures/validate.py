"""Validate captured Zenoti webhooks against our schemas, and report how they drift.

Teams keep what Zenoti sent them: log files, JSON Lines dumps, folders of files, HAR files
saved from a proxy. :func:`run` reads those as a stream of records
(:mod:`~emulator.captures.readers`), checks each one (:mod:`~emulator.captures.checking`)
and builds a :class:`Report`: every event that is not valid with each error on one line
(path, what the schema expects, what was found), plus a drift report over the whole input
(:mod:`~emulator.captures.drift`), written as it goes by a renderer
(:mod:`~emulator.captures.renderers`).

It is core code: no click, no flask, no printing. Renderers write to a file object the
caller hands them, so the CLI streams a million lines in flat memory while the HTTP API
collects a small :class:`Report` and returns :meth:`Report.to_dict`.

Usage::

    >>> from emulator.captures.validate import validate_payloads
    >>> report = validate_payloads([event], event_type=None, strict=False)
    >>> report.to_dict()["summary"]["invalid"]
    0"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any, TextIO

from ..errors import ExitCode
from ..events.registry import Registry, default_registry
from .checking import VALID, CaptureValidator, EventResult
from .readers import Capture, iter_payloads
from .renderers import REPORT_VERSION, Renderer, make_renderer


class Report:
    """The outcome of a run: summary, drift, and (when collected) every result.

    :meth:`to_dict` is the stable JSON of the CLI's ``--format json`` and of
    ``POST /api/validate``.
    """

    def __init__(
        self, validator: CaptureValidator, *, fail_on_drift: bool = False, results: list[EventResult] | None = None
    ) -> None:
        self.summary = validator.summary
        self.drift = validator.drift_dict()
        self.event_type = validator.forced.name if validator.forced else None
        self.strict = validator.strict
        self.fail_on_drift = fail_on_drift
        #: every result, valid ones included; None when the run streamed them away
        self.results = results

    @property
    def exit_code(self) -> ExitCode:
        """0 all valid; 1 invalid events (or drift with ``fail_on_drift``); 2 unreadable input."""
        if self.summary.unreadable:
            return ExitCode.USAGE
        _, invalid, _ = self.summary.totals()
        if invalid or (self.fail_on_drift and self.drift["has_drift"]):
            return ExitCode.FAILED
        return ExitCode.OK

    def to_dict(self, *, events: bool = True) -> dict[str, Any]:
        """Stable JSON: ``version``, ``events`` (every record that is not valid),
        ``summary``, ``drift``, ``options``, ``ok`` and ``exit_code``."""
        out: dict[str, Any] = {"version": REPORT_VERSION}
        if events:
            out["events"] = [r.to_dict() for r in self.results or () if r.status != VALID]
        out["summary"] = self.summary.to_dict()
        out["drift"] = self.drift
        out["options"] = {"event_type": self.event_type, "strict": self.strict, "fail_on_drift": self.fail_on_drift}
        out["ok"] = self.exit_code == ExitCode.OK
        out["exit_code"] = int(self.exit_code)
        return out

    def render(self, fmt: str, out: TextIO | None = None) -> str:
        """Render the collected results as ``text``, ``json`` or ``junit``.

        :param out: where to write; when None, the rendering is returned as a string.
        """
        if out is None:
            buffer = io.StringIO()
            self.render(fmt, buffer)
            return buffer.getvalue()
        renderer = make_renderer(fmt, out)
        for result in self.results or ():
            renderer.event(result)
        renderer.finish(self)
        return ""


def run(
    captures: Iterable[Capture],
    validator: CaptureValidator,
    *,
    renderer: Renderer | None = None,
    fail_on_drift: bool = False,
    collect: bool = False,
) -> Report:
    """Check every record, streaming results to ``renderer``; keep them only if ``collect``."""
    results: list[EventResult] | None = [] if collect else None
    check = validator.check
    for capture in captures:
        result = check(capture)
        if renderer is not None:
            renderer.event(result)
        if results is not None:
            results.append(result)
    report = Report(validator, fail_on_drift=fail_on_drift, results=results)
    if renderer is not None:
        renderer.finish(report)
    return report


def validate_payloads(
    payloads: Iterable[Any] | bytes | str,
    *,
    event_type: str | None = None,
    strict: bool = False,
    fail_on_drift: bool = False,
    registry: Registry | None = None,
    source: str = "<payload>",
) -> Report:
    """Validate what an API received, and return the whole :class:`Report`.

    This is the core of ``POST /api/validate``: hand it the request body as bytes (one
    event, an array, JSON Lines or a HAR, sniffed like stdin) or parsed values, and return
    ``report.to_dict()`` as the response (its ``exit_code`` says what the CLI would exit).

    :param event_type: check every body as this type (recognizes data-only bodies).
    :raise UnknownEventType: ``event_type`` is not in the registry.
    """
    validator = CaptureValidator(registry or default_registry(), event_type=event_type, strict=strict)
    return run(iter_payloads(payloads, source=source), validator, fail_on_drift=fail_on_drift, collect=True)
