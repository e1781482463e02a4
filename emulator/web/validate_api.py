"""``POST /api/validate``: check captured webhooks, answer the report ``validate --format json`` prints.

The body is the capture itself, sent as ``application/json`` (the API's rule for writes):
one event, an array of events, a HAR, or JSON Lines. Options come in the query string.
The answer is :meth:`emulator.captures.validate.Report.to_dict`, with 200 whenever the captures
could be checked: whether they are valid is in ``ok`` and ``exit_code``, as in the CLI.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from ..captures.validate import validate_payloads
from ..errors import UsageError
from .security import check_json_body
from .services import services

bp = Blueprint("validate_api", __name__, url_prefix="/api")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _flag(name: str) -> bool:
    """A boolean query parameter; absent is false.

    :raise UsageError: (400) a value that is not one of true/false, 1/0, yes/no, on/off.
    """
    raw = request.args.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(
        f"Query parameter {name!r} must be true or false, not {request.args[name]!r}.", details={"parameter": name}
    )


@bp.post("/validate")
def validate() -> Any:
    """Validate the captures in the body; answer the stable JSON report.

    :raise UnknownEventType: (404) ``event_type`` names no known event type.
    """
    check_json_body(allow_empty=False)  # the captures are the body: there is no default
    report = validate_payloads(
        request.get_data(cache=False),
        event_type=request.args.get("event_type") or None,
        strict=_flag("strict"),
        fail_on_drift=_flag("fail_on_drift"),
        registry=services().registry,
        source="<body>",
    )
    return report.to_dict()


# -- its part of /openapi.json (merged in by emulator.web.openapi.document) -------------

_SOURCE = {
    "type": "object",
    "required": ["file", "line", "index", "detail", "label"],
    "properties": {
        "file": {"type": "string"},
        "line": {"type": ["integer", "null"], "description": "1-based line of a JSON Lines record"},
        "index": {"type": ["integer", "null"], "description": "0-based position in an array, or HAR entry"},
        "detail": {"type": ["string", "null"], "description": "A HAR entry's method and URL"},
        "label": {"type": "string", "description": "<body>:3, <body>[2], <body> entries[4] (POST https://...)"},
    },
}
_PROBLEM = {
    "type": "object",
    "required": ["path", "pointer", "keyword", "expected", "found", "message"],
    "properties": {
        "path": {"type": "string", "description": "$.data.appointments[0].start_time"},
        "pointer": {"type": "string", "description": "/data/appointments/0/start_time"},
        "keyword": {"type": "string", "description": "type, required, pattern, format, ... or unknown_field (strict)"},
        "expected": {"type": "string"},
        "found": {"type": "string"},
        "message": {"type": "string"},
    },
}
_COUNTS: dict[str, Any] = {
    "type": "object",
    "required": ["total", "valid", "invalid", "skipped"],
    "properties": {k: {"type": "integer", "minimum": 0} for k in ("total", "valid", "invalid", "skipped")},
}
_EXAMPLE = {
    "type": "object",
    "required": ["source", "path"],
    "properties": {"source": {"type": "string"}, "path": {"type": "string"}},
}

bp.openapi_schemas = {  # type: ignore[attr-defined]
    "ValidationReport": {
        "type": "object",
        "description": "What `zenoti-emulator validate --format json` prints, version 1.",
        "required": ["version", "events", "summary", "drift", "options", "ok", "exit_code"],
        "properties": {
            "version": {"const": 1},
            "events": {
                "type": "array",
                "description": "Every record that is not valid, in input order",
                "items": {
                    "type": "object",
                    "required": ["source", "status", "event_type", "id", "envelope", "reason", "message", "errors"],
                    "properties": {
                        "source": _SOURCE,
                        "status": {"enum": ["invalid", "skipped"]},
                        "event_type": {"type": ["string", "null"]},
                        "id": {"type": ["string", "null"]},
                        "envelope": {"type": "boolean", "description": "false: a body of only `data`"},
                        "reason": {
                            "type": "string",
                            "description": "schema, not_json, not_object, no_event_type, empty, unknown_event_type, other_event_type, not_webhook",
                        },
                        "message": {"type": "string"},
                        "errors": {"type": "array", "items": _PROBLEM},
                    },
                },
            },
            "summary": {
                "type": "object",
                "required": [
                    "total",
                    "valid",
                    "invalid",
                    "skipped",
                    "unreadable",
                    "no_envelope",
                    "by_event_type",
                    "reasons",
                ],
                "properties": {
                    **_COUNTS["properties"],
                    "unreadable": {"type": "integer"},
                    "no_envelope": {"type": "integer"},
                    "by_event_type": {"type": "object", "additionalProperties": _COUNTS},
                    "reasons": {"type": "object", "additionalProperties": {"type": "integer"}},
                },
            },
            "drift": {
                "type": "object",
                "required": ["event_types", "unknown_event_types", "has_drift"],
                "properties": {
                    "has_drift": {"type": "boolean"},
                    "unknown_event_types": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["event_type", "count"],
                            "properties": {"event_type": {"type": "string"}, "count": {"type": "integer"}},
                        },
                    },
                    "event_types": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "required": [
                                "events",
                                "unknown_fields",
                                "unknown_fields_not_listed",
                                "undocumented_values",
                                "varying_types",
                                "never_seen",
                            ],
                            "properties": {
                                "events": {"type": "integer"},
                                "unknown_fields": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["path", "count", "types", "example"],
                                        "properties": {"example": _EXAMPLE},
                                    },
                                },
                                "unknown_fields_not_listed": {"type": "integer"},
                                "undocumented_values": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["path", "value", "count", "documented", "example"],
                                        "properties": {"example": _EXAMPLE},
                                    },
                                },
                                "varying_types": {
                                    "type": "array",
                                    "items": {"type": "object", "required": ["path", "types", "schema"]},
                                },
                                "never_seen": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    },
                },
            },
            "options": {
                "type": "object",
                "required": ["event_type", "strict", "fail_on_drift"],
                "properties": {
                    "event_type": {"type": ["string", "null"]},
                    "strict": {"type": "boolean"},
                    "fail_on_drift": {"type": "boolean"},
                },
            },
            "ok": {"type": "boolean", "description": "Every event valid (and no drift, with fail_on_drift)"},
            "exit_code": {"enum": [0, 1, 2], "description": "What the CLI would exit with"},
        },
    }
}

_FLAG = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"]}

bp.openapi_paths = {  # type: ignore[attr-defined]
    "/api/validate": {
        "post": {
            "operationId": "validateCaptures",
            "summary": "Validate captured webhooks against the schemas, with a drift report",
            "description": (
                "The body is the capture as received: one event, an array of events, a HAR file "
                "(its webhook requests are checked) or JSON Lines, sent as application/json. "
                "200 whenever the captures could be checked; `ok` and `exit_code` say whether they were valid."
            ),
            "parameters": [
                {
                    "name": "event_type",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Check every body as this type; recognizes bodies of only `data`",
                },
                {
                    "name": "strict",
                    "in": "query",
                    "required": False,
                    "schema": _FLAG,
                    "description": "Unknown fields are errors",
                },
                {
                    "name": "fail_on_drift",
                    "in": "query",
                    "required": False,
                    "schema": _FLAG,
                    "description": "Drift makes `ok` false",
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"description": "An event, an array, a HAR, or JSON Lines"}}
                },
            },
            "responses": {
                "200": {
                    "description": "The report",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ValidationReport"}}},
                },
                **{
                    str(status): {
                        "description": words,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    }
                    for status, words in (
                        (400, "A bad query parameter"),
                        (404, "Unknown event_type"),
                        (413, "Body too large"),
                        (415, "Content-Type is not application/json"),
                    )
                },
            },
        }
    }
}
