"""Checking one capture: its verdict (valid, invalid, skipped), its errors, and the counts.

:class:`CaptureValidator` classifies each :class:`~emulator.captures.readers.Capture`
(an envelope, a body of only ``data``, not a webhook, unreadable), validates it and feeds
the drift collector of its type; every error is one :class:`Problem` line (path, what the
schema expects, what was found).

Speed: every event goes through the compiled validator (``jsonschema_rs``); only one that
fails is run through the pure-Python validator, for its error detail.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import jsonschema_rs
from jsonschema import Draft202012Validator

from .. import bounds
from ..events.registry import (
    ZENOTI_FORMATS,
    EventType,
    Registry,
    json_path,
    json_pointer,
    make_format_checker,
)
from .drift import DriftCollector, drift_clean_schema, drift_has_findings
from .readers import JSON_TYPE, Capture

#: Label for records whose event type could not be told (not JSON, no ``event_type``).
UNRECOGNIZED = "(unrecognized)"
# How much of a found value an error line quotes.
_QUOTE_LIMIT = 80
#: Status of one record.
VALID, INVALID, SKIPPED = "valid", "invalid", "skipped"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Problem:
    """One error in one event, located and explained for a person to act on."""

    #: ``$.data.appointments[0].start_time`` (relative to the body as received)
    path: str
    #: ``/data/appointments/0/start_time``
    pointer: str
    #: the schema keyword that failed (``type``, ``required``...), or ``unknown_field``
    keyword: str
    #: what the schema expects: ``string``, ``present``, ``format 'uuid'``
    expected: str
    #: what was there: ``integer 8086``, ``nothing``
    found: str
    #: jsonschema's own message
    message: str

    def __str__(self) -> str:
        return f"{self.path}: expected {self.expected}, found {self.found}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "pointer": self.pointer,
            "keyword": self.keyword,
            "expected": self.expected,
            "found": self.found,
            "message": self.message,
        }


@dataclass(slots=True)
class EventResult:
    """What became of one record."""

    capture: Capture
    #: ``valid``, ``invalid`` or ``skipped``
    status: str
    #: the event type it was checked as; the unknown name for ``unknown_event_type``
    event_type: str | None = None
    #: the event's ``id``, when it has one
    event_id: str | None = None
    #: False for a body that is only ``data`` (checked with ``--event-type``)
    envelope: bool = True
    #: machine-readable cause: ``schema``, ``not_json``, ``empty``, ``unknown_event_type``...
    reason: str = ""
    #: one line for a person
    message: str = ""
    errors: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.capture.to_dict(),
            "status": self.status,
            "event_type": self.event_type,
            "id": self.event_id,
            "envelope": self.envelope,
            "reason": self.reason,
            "message": self.message,
            "errors": [e.to_dict() for e in self.errors],
        }


def quote(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 1] + "…"


def _found(value: Any) -> str:
    kind = JSON_TYPE.get(type(value), type(value).__name__)
    if kind in ("object", "array"):
        return f"{kind} {quote(value)}"
    return f"{kind} {quote(value)}" if kind != "null" else "null"


def _types_text(types: Any) -> str:
    if isinstance(types, list):
        return " or ".join(types)
    return str(types)


def _describe(error: jsonschema.ValidationError) -> tuple[list[Any], str, str]:
    """``(path parts, expected, found)`` for one jsonschema error."""
    parts = list(error.absolute_path)
    keyword = error.validator
    # what the schema asked for and what was there: any JSON value
    expected_value: Any = error.validator_value
    instance: Any = error.instance
    if keyword == "required":
        missing = _missing_property(error)
        return [*parts, missing], "present (required)", "nothing"
    if keyword == "type":
        return parts, _types_text(expected_value), _found(instance)
    if keyword == "pattern":
        return parts, f"string matching {expected_value}", _found(instance)
    if keyword == "format":
        return parts, f"format {expected_value!r}", _found(instance)
    if keyword == "const":
        return parts, quote(expected_value), _found(instance)
    if keyword == "enum":
        return parts, "one of " + ", ".join(quote(v) for v in expected_value), _found(instance)
    if keyword in ("minItems", "maxItems"):
        return parts, f"{keyword} {expected_value}", f"{len(instance)} items"
    if keyword in ("minLength", "maxLength"):
        return parts, f"{keyword} {expected_value}", f"length {len(instance)}"
    if keyword == "additionalProperties":
        return parts, "no other properties", error.message
    return parts, f"{keyword} {quote(expected_value)}", _found(instance)


def _missing_property(error: jsonschema.ValidationError) -> str:
    # jsonschema says "'email' is a required property"; take the name back out of it.
    message = error.message
    required: Any = error.validator_value  # the "required" list
    suffix = " is a required property"
    if message.endswith(suffix):
        quoted = message[: -len(suffix)]
        for name in required:
            if repr(name) == quoted:
                return str(name)
    present = error.instance if isinstance(error.instance, dict) else {}
    missing = [n for n in required if n not in present]
    return str(missing[0]) if missing else "?"


def _relevance(error: jsonschema.ValidationError) -> tuple[Any, ...]:
    # The order of EventType.errors(): deeper first, then jsonschema's own ranking.
    return (-len(error.path), jsonschema.exceptions.relevance(error))


def problems(validator: Draft202012Validator, instance: Any) -> list[Problem]:
    """Every error of ``instance`` under ``validator``, most relevant first."""
    found = sorted(validator.iter_errors(instance), key=_relevance)
    out = []
    for error in found:
        parts, expected, got = _describe(error)
        out.append(Problem(json_path(parts), json_pointer(parts), str(error.validator), expected, got, error.message))
    return out


# --------------------------------------------------------------------------- checking


@dataclass(slots=True)
class _Checker:
    """An event type's validators for one shape of body (envelope or data only)."""

    #: compiled: valid and nothing for the drift report (see :func:`drift_clean_schema`)
    is_clean: Callable[[Any], bool]
    #: compiled: valid
    is_valid: Callable[[Any], bool]
    #: pure Python, for the errors of an invalid event
    full: Draft202012Validator


def _compiled(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True, formats=dict(ZENOTI_FORMATS))


def _envelope_checker(event_type: EventType) -> _Checker:
    clean = _compiled(drift_clean_schema(event_type.schema))
    return _Checker(clean.is_valid, event_type.fast.is_valid, event_type.full)


def _data_checker(event_type: EventType) -> _Checker | None:
    """Validators for a body that is only ``data``: the schema's ``data`` with its ``$defs``."""
    data = event_type.schema.get("properties", {}).get("data")
    if not isinstance(data, dict):
        return None
    schema = {"$schema": event_type.schema.get("$schema", "https://json-schema.org/draft/2020-12/schema"), **data}
    defs = {**event_type.schema.get("$defs", {}), **data.get("$defs", {})}
    if defs:
        schema["$defs"] = defs
    clean = _compiled(drift_clean_schema(schema))
    return _Checker(
        clean.is_valid, _compiled(schema).is_valid, Draft202012Validator(schema, format_checker=make_format_checker())
    )


class Summary:
    """Counts over a run: records by status, by event type, and skip reasons."""

    def __init__(self) -> None:
        self.by_type: dict[str, list[int]] = {}
        self.reasons: Counter[str] = Counter()
        self.unreadable = 0
        #: bodies of only ``data``, checked with ``--event-type``
        self.no_envelope = 0

    def add(self, result: EventResult) -> None:
        row = self.by_type.get(result.event_type or UNRECOGNIZED)
        if row is None:
            row = self.by_type[result.event_type or UNRECOGNIZED] = [0, 0, 0]
        row[0 if result.status == VALID else 1 if result.status == INVALID else 2] += 1
        if result.status != VALID:
            self.reasons[result.reason] += 1
        if result.reason == "unreadable":
            self.unreadable += 1
        if not result.envelope:
            self.no_envelope += 1

    def totals(self) -> tuple[int, int, int]:
        valid = sum(r[0] for r in self.by_type.values())
        invalid = sum(r[1] for r in self.by_type.values())
        skipped = sum(r[2] for r in self.by_type.values())
        return valid, invalid, skipped

    def to_dict(self) -> dict[str, Any]:
        valid, invalid, skipped = self.totals()
        return {
            "total": valid + invalid + skipped,
            "valid": valid,
            "invalid": invalid,
            "skipped": skipped,
            "unreadable": self.unreadable,
            "no_envelope": self.no_envelope,
            "by_event_type": {
                name: {"total": sum(row), "valid": row[0], "invalid": row[1], "skipped": row[2]}
                for name, row in sorted(self.by_type.items())
            },
            "reasons": dict(sorted(self.reasons.items())),
        }

    def line(self) -> str:
        """``12 events: 8 valid, 3 invalid, 1 skipped; AppointmentGroup.Created: 10 (8 valid, 2 invalid)``."""
        valid, invalid, skipped = self.totals()
        total = valid + invalid + skipped
        out = f"{total} event{'' if total == 1 else 's'}: {valid} valid, {invalid} invalid, {skipped} skipped"
        per = []
        for name, row in sorted(self.by_type.items()):
            parts = [f"{n} {label}" for n, label in zip(row, ("valid", "invalid", "skipped"), strict=True) if n]
            per.append(f"{name}: {sum(row)} ({', '.join(parts)})")
        if self.no_envelope:
            out += f" ({self.no_envelope} with no envelope)"
        return out + ("; " + "; ".join(per) if per else "")


class CaptureValidator:
    """Checks records one by one, and keeps the summary and drift of all it has seen.

    :param registry: the event types to check against.
    :param event_type: check every body as this type; a body of only ``data`` is then
        recognized ("no envelope"), and events of other types are skipped.
    :param strict: a field the schema does not know makes its event invalid.
    """

    def __init__(self, registry: Registry, *, event_type: str | None = None, strict: bool = False) -> None:
        self.registry = registry
        self.forced = registry.get_type(event_type) if event_type else None
        self.strict = strict
        self.summary = Summary()
        self.drift: dict[str, DriftCollector] = {}
        self.unknown_types: Counter[str] = Counter()
        self._checkers: dict[tuple[str, bool], _Checker | None] = {}

    def _checker(self, event_type: EventType, envelope: bool) -> _Checker | None:
        key = (event_type.name, envelope)
        if key not in self._checkers:
            if envelope:
                self._checkers[key] = _envelope_checker(event_type)
            else:
                self._checkers[key] = _data_checker(event_type)
        return self._checkers[key]

    def _collector(self, event_type: EventType) -> DriftCollector:
        collector = self.drift.get(event_type.name)
        if collector is None:
            collector = self.drift[event_type.name] = DriftCollector(event_type)
        return collector

    def check(self, capture: Capture) -> EventResult:
        """Classify and validate one record, and count it."""
        result = self._check(capture)
        self.summary.add(result)
        return result

    def _check(self, capture: Capture) -> EventResult:
        if capture.problem:
            reason, _, message = capture.problem.partition(":")
            if reason == "not_json":
                return EventResult(capture, INVALID, reason=reason, message=f"not JSON: {message}")
            if reason in ("no_body", "too_large"):  # nothing could be checked: not valid, not skippable either
                return EventResult(capture, INVALID, reason=reason, message=message)
            return EventResult(capture, SKIPPED, reason=reason, message=_skip_message(reason, message))
        if capture.parsed:
            value = capture.value
        else:
            body = capture.body
            if not body or body.isspace():
                return EventResult(
                    capture, SKIPPED, reason="empty", message="empty body (what Zenoti's 'Test your trigger' sends)"
                )
            try:
                value = bounds.loads_json(body)
            except bounds.TooDeep as exc:
                return EventResult(capture, INVALID, reason="too_deep", message=exc.message)
            except ValueError:
                return EventResult(capture, INVALID, reason="not_json", message=_not_json(body))
        if type(value) is not dict:
            kind = JSON_TYPE.get(type(value), type(value).__name__)
            return EventResult(
                capture, INVALID, reason="not_object", message=f"not an event: expected a JSON object, found {kind}"
            )
        event_id = value.get("id")
        event_id = event_id if isinstance(event_id, str) else None
        name = value.get("event_type")
        envelope = True
        if self.forced is not None:
            event_type = self.forced
            if isinstance(name, str) and name != event_type.name:
                return EventResult(
                    capture,
                    SKIPPED,
                    str(name),
                    event_id,
                    reason="other_event_type",
                    message=f"event type {name!r}, not {event_type.name!r} (--event-type)",
                )
            if name is None and not _looks_like_envelope(value):
                envelope = False
        elif isinstance(name, str):
            event_type = self.registry.get(name)  # type: ignore[assignment]
            if event_type is None:
                self.unknown_types[name] += 1
                close = difflib.get_close_matches(name, list(self.registry), n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                return EventResult(
                    capture,
                    SKIPPED,
                    name,
                    event_id,
                    reason="unknown_event_type",
                    message=f"unknown event type {name!r}{hint}",
                )
        else:
            found = "missing" if name is None else f"{JSON_TYPE.get(type(name), 'object')} {quote(name)}"
            return EventResult(
                capture,
                INVALID,
                None,
                event_id,
                reason="no_event_type",
                message=f"no event_type ({found}): not a webhook envelope; a body of only `data` needs --event-type",
            )
        return self._validate(capture, value, event_type, envelope, event_id)

    def _validate(
        self, capture: Capture, value: dict[str, Any], event_type: EventType, envelope: bool, event_id: str | None
    ) -> EventResult:
        checker = self._checker(event_type, envelope)
        if checker is None:
            return EventResult(
                capture,
                INVALID,
                event_type.name,
                event_id,
                envelope=False,
                reason="no_envelope",
                message=f"no envelope, and the {event_type.name} schema has no `data` to check it against",
            )
        note = "" if envelope else "no envelope (a body of only `data`)"
        collector = self._collector(event_type)
        if checker.is_clean(value):  # the common case: one compiled call says it all
            collector.observe_clean(value, envelope=envelope)
            return EventResult(capture, VALID, event_type.name, event_id, envelope, reason="", message=note)
        try:  # only here: a value the compiled check passed is as shallow as its schema
            bounds.check_depth(value)
        except bounds.TooDeep as exc:
            return EventResult(
                capture, INVALID, event_type.name, event_id, envelope, reason="too_deep", message=exc.message
            )
        unknown = collector.observe(value, envelope=envelope, label=lambda: capture.label)
        errors: list[Problem] = []
        if not checker.is_valid(value):
            errors = problems(checker.full, value)
        if self.strict and unknown:
            errors.extend(_unknown_problem(parts, value) for parts in unknown)
        if not errors:
            return EventResult(capture, VALID, event_type.name, event_id, envelope, reason="", message=note)
        message = str(errors[0]) + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        return EventResult(
            capture,
            INVALID,
            event_type.name,
            event_id,
            envelope,
            reason="schema",
            message=(note + "; " if note else "") + message,
            errors=errors,
        )

    def drift_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_types": {name: collector.to_dict() for name, collector in sorted(self.drift.items())},
            "unknown_event_types": [
                {"event_type": name, "count": count} for name, count in sorted(self.unknown_types.items())
            ],
        }
        out["has_drift"] = drift_has_findings(out)
        return out


def _not_json(body: bytes | str) -> str:
    """Why ``body`` is not JSON, saying so when it looks cut off (a truncated log line)."""
    text = body.rstrip()
    try:
        bounds.loads_json(text)
    except bounds.TooDeep as exc:
        return exc.message
    except UnicodeDecodeError as exc:
        return f"not JSON: not UTF-8 text ({exc.reason} at byte {exc.start})"
    except json.JSONDecodeError as exc:
        cut = exc.pos >= len(text) - 1 or exc.msg.startswith("Unterminated")
        return f"not JSON{' (cut off?)' if cut else ''}: {exc.msg}: line {exc.lineno} column {exc.colno} ({len(text)} characters in all)"
    except ValueError as exc:
        return f"not JSON: {exc}"
    return "not JSON"


def _looks_like_envelope(value: dict[str, Any]) -> bool:
    return "data" in value and any(k in value for k in ("id", "event_id", "event_timestamp", "event_schema"))


def _unknown_problem(parts: tuple[Any, ...], value: dict[str, Any]) -> Problem:
    found: Any = value
    for part in parts:
        found = found[part]
    return Problem(
        json_path(parts),
        json_pointer(parts),
        "unknown_field",
        "no such field (--strict)",
        _found(found),
        f"{parts[-1]!r} is not in the schema",
    )


def _skip_message(reason: str, detail: str) -> str:
    if reason == "not_webhook":
        return f"not a webhook: {detail}"
    if reason == "unreadable":
        return f"cannot read: {detail}"
    return detail or reason
