"""The HTTP API's schemas (``components.schemas``), and the check every request body passes.

The views validate their request bodies against these schemas (:func:`validate_body`),
and the OpenAPI document (:mod:`emulator.web.openapi`) publishes the same ones, so what
the document promises about input is what the server checks.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from .. import bounds
from ..delivery.sinks import MAX_DELAY_MS
from ..errors import EmulatorError, UsageError
from ..urls import MAX_URL_LENGTH, check_url
from ..variants import VARIANTS
from ..world import PROFILES

#: Largest batch ``/api/events/generate`` returns and ``/api/events`` fires at once.
MAX_EVENTS = 100
#: Longest a sink may wait before answering (the sinks' own limit).
MAX_SINK_DELAY_MS = MAX_DELAY_MS
VERBS = ["POST", "PUT", "PATCH"]
DELIVERY_STATUSES = ["pending", "delivered", "failed"]
_HTTP_URL = {
    "type": "string",
    "format": "uri",
    "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/\\s]+",
    "maxLength": MAX_URL_LENGTH,
}
#: An override path: dotted segments, none empty, no whitespace (``data.appointments.0.room_name``,
#: ``$.data.guest.email``, ``data.appointments[0].room_name``); every string it allows parses.
_SET_PATH = r"(?!\$(=|$))[^.=WS]+(\.[^.=WS]+)*".replace(
    # what str.strip() removes, spelled out: JSON Schema's \s (ECMA 262) is not Python's
    "WS",
    r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000",
)
#: Times an event id can carry: the years 1971 to 2105 (the exact range is 1970-01-01 to
#: 2106-02-07 UTC, which a pattern cannot state with zones; the server checks it exactly).
_NOW_PATTERN = "^(197[1-9]|19[89][0-9]|20[0-9][0-9]|210[0-5])-"
_TIMESTAMP = {"type": "string", "description": "ISO 8601, UTC"}
_NULLABLE_TIMESTAMP = {"type": ["string", "null"], "description": "ISO 8601, UTC"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


GENERATE_FIELDS: dict[str, Any] = {
    "event_type": {
        "type": "string",
        "default": "AppointmentGroup.Created",
        "description": "Zenoti's name, e.g. AppointmentGroup.Created",
    },
    "count": {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS, "default": 1},
    "seed": {"type": ["integer", "null"], "description": "Same seed, same events"},
    "now": {
        "type": ["string", "null"],
        "format": "date-time",
        "pattern": _NOW_PATTERN,
        "description": "The clock the events are generated at (default: now); between 1970-01-01 and 2106-02-07 UTC, the times an event id can carry",
    },
    "set": {
        "description": "Overrides: an object of path -> JSON value, or a list of 'PATH=VALUE' strings. Paths look like data.appointments.0.room_name.",
        "oneOf": [
            {"type": "object", "propertyNames": {"pattern": f"^{_SET_PATH}$"}, "maxProperties": 200},
            {"type": "array", "items": {"type": "string", "pattern": f"^{_SET_PATH}="}, "maxItems": 200},
        ],
    },
    "profile": {
        "enum": list(PROFILES),
        "default": "realistic",
        "description": "realistic: what a busy spa sends; edge: the values receivers break on",
    },
    "variants": {
        "type": "object",
        "additionalProperties": False,
        "description": "Readings of facts receivers disagree on, {name: choice} (GET /api/variants lists them); the default of each when omitted",
        "properties": {
            v.name: {"enum": list(v.choices), "default": v.default, "description": v.evidence}
            for v in VARIANTS.values()
        },
    },
    "fresh": {
        "type": "boolean",
        "default": False,
        "description": "Start from an empty account: every guest, employee, membership and package an event names was created by an earlier event",
    },
}
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "additionalProperties": False,
                "properties": {
                    "code": {
                        "type": "string",
                        "description": "Stable, machine-readable: not_found, schema_violation, ...",
                    },
                    "message": {"type": "string", "description": "What failed and what to do next"},
                    "details": {
                        "description": "Structured detail; for schema violations, a list of {path, pointer, message}"
                    },
                },
            }
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "version", "database", "deliveries", "event_types"],
        "properties": {
            "status": {"const": "ok"},
            "version": {"type": "string"},
            "database": {"type": "string"},
            "public_url": {"type": ["string", "null"]},
            "time_scale": {"type": "number"},
            "event_types": {"type": "integer"},
            "deliveries": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "Count of deliveries by status",
            },
        },
    },
    "EventTypeSummary": {
        "type": "object",
        "required": ["name", "resource", "title", "description", "schema_url"],
        "properties": {
            "name": {"type": "string"},
            "resource": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "schema_url": {"type": "string"},
        },
    },
    "Variant": {
        "type": "object",
        "required": ["name", "default", "choices", "evidence", "changes"],
        "properties": {
            "name": {"type": "string"},
            "default": {"type": "string"},
            "choices": {"type": "array", "items": {"type": "string"}},
            "evidence": {"type": "string"},
            "changes": {"type": "string"},
        },
    },
    "VariantList": {
        "type": "object",
        "required": ["variants"],
        "properties": {"variants": {"type": "array", "items": ref("Variant")}},
    },
    "EventTypeList": {
        "type": "object",
        "required": ["event_types"],
        "properties": {"event_types": {"type": "array", "items": ref("EventTypeSummary")}},
    },
    "Field": {
        "type": "object",
        "required": ["path", "type", "required"],
        "properties": {
            "path": {"type": "string", "description": "$.data.appointments[*].room_name"},
            "type": {"type": "string"},
            "format": {"type": ["string", "null"]},
            "required": {"type": "boolean"},
            "description": {"type": ["string", "null"]},
            "example": {},
        },
    },
    "FieldList": {
        "type": "object",
        "required": ["event_type", "fields"],
        "properties": {"event_type": {"type": "string"}, "fields": {"type": "array", "items": ref("Field")}},
    },
    "JsonSchema": {"type": "object", "description": "A JSON Schema (draft 2020-12) for the whole delivery body"},
    "GenerateRequest": {"type": "object", "additionalProperties": False, "properties": GENERATE_FIELDS},
    "GenerateResponse": {
        "type": "object",
        "required": ["event_type", "count", "events"],
        "properties": {
            "event_type": {"type": "string"},
            "count": {"type": "integer"},
            "events": {
                "type": "array",
                "items": {"type": "object", "description": "A delivery body, valid against its event type's schema"},
            },
        },
    },
    "Target": {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "url": _HTTP_URL,
            "verb": {"enum": VERBS, "default": "POST"},
            "secret": {"type": ["string", "null"], "maxLength": 512},
        },
    },
    "FireRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **{k: v for k, v in GENERATE_FIELDS.items() if k != "now"},
            "webhooks": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                "minItems": 1,
                "uniqueItems": True,
                "description": "Deliver to these webhooks (each must be active). Default: every active webhook subscribed to the event type.",
            },
            "target": ref("Target"),
        },
        "not": {"required": ["webhooks", "target"]},
    },
    "FiredEvent": {
        "type": "object",
        "required": ["id", "event_type"],
        "properties": {"id": {"type": "string"}, "event_type": {"type": "string"}},
    },
    "FireResponse": {
        "type": "object",
        "required": ["events", "deliveries"],
        "properties": {
            "events": {"type": "array", "items": ref("FiredEvent")},
            "deliveries": {"type": "array", "items": ref("Delivery")},
        },
    },
    "Webhook": {
        "type": "object",
        "required": ["id", "name", "event_types", "verb", "url", "secret", "active", "failure_count"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "event_types": {"type": "array", "items": {"type": "string"}},
            "verb": {"enum": VERBS},
            "url": {"type": "string"},
            "secret": {"type": ["string", "null"], "description": "Masked: never returned in full"},
            "active": {"type": "boolean"},
            "failure_count": {"type": "integer", "description": "Failures in a row; deactivated at the threshold"},
            "created_at": _NULLABLE_TIMESTAMP,
            "updated_at": _NULLABLE_TIMESTAMP,
        },
    },
    "WebhookList": {
        "type": "object",
        "required": ["webhooks"],
        "properties": {"webhooks": {"type": "array", "items": ref("Webhook")}},
    },
    "WebhookCreate": {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "event_types": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "uniqueItems": True,
                "description": "Default: every known event type",
            },
            "verb": {"enum": VERBS, "default": "POST"},
            "url": _HTTP_URL,
            "secret": {"type": ["string", "null"], "maxLength": 512},
            "active": {"type": "boolean", "default": True},
        },
    },
    "WebhookUpdate": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "event_types": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
            "verb": {"enum": VERBS},
            "url": _HTTP_URL,
            "secret": {"type": ["string", "null"], "maxLength": 512},
            "active": {"type": "boolean"},
        },
    },
    "PingResult": {
        "type": "object",
        "required": ["ok", "status_code", "latency_ms", "error"],
        "properties": {
            "ok": {"type": "boolean"},
            "status_code": {"type": ["integer", "null"]},
            "latency_ms": {"type": ["number", "null"]},
            "error": {"type": ["string", "null"]},
        },
    },
    "Delivery": {
        "type": "object",
        "required": ["id", "event_id", "event_type", "webhook_id", "url", "verb", "status", "attempts"],
        "properties": {
            "id": {"type": "integer"},
            "call_id": {"type": ["string", "null"], "description": "The envelope's id: the same on every attempt"},
            "event_id": {
                "type": ["string", "null"],
                "description": "The envelope's event_id (null when an event sent with validation off has none)",
            },
            "event_type": {
                "type": ["string", "null"],
                "description": "null when the body sent had none (validation off)",
            },
            "webhook_id": {"type": ["integer", "null"], "description": "null for a one-off target"},
            "url": {"type": "string"},
            "verb": {"enum": VERBS},
            "status": {"enum": DELIVERY_STATUSES},
            "attempts": {"type": "integer"},
            "last_status_code": {"type": ["integer", "null"]},
            "last_error": {"type": ["string", "null"]},
            "latency_ms": {"type": ["number", "null"], "description": "Of the last attempt"},
            "response_excerpt": {"type": ["string", "null"]},
            "created_at": _NULLABLE_TIMESTAMP,
            "next_attempt_at": _NULLABLE_TIMESTAMP,
        },
    },
    "Attempt": {
        "type": "object",
        "required": ["number", "status_code", "error"],
        "properties": {
            "number": {"type": "integer"},
            "started_at": _NULLABLE_TIMESTAMP,
            "status_code": {"type": ["integer", "null"]},
            "latency_ms": {"type": ["number", "null"]},
            "error": {"type": ["string", "null"]},
            "response_excerpt": {"type": ["string", "null"]},
            "request_headers": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
            "response_headers": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
            "response_body": {"type": ["string", "null"], "description": "The first 64 KiB of the answer"},
        },
    },
    "DeliveryDetail": {
        "allOf": [
            ref("Delivery"),
            {
                "type": "object",
                "required": ["attempt_log", "body", "signature", "signature_check", "curl"],
                "properties": {
                    "attempt_log": {"type": "array", "items": ref("Attempt")},
                    "body": {"type": ["string", "null"], "description": "The exact bytes sent (UTF-8)"},
                    "signature": {"type": ["string", "null"], "description": "The zenoti-webhook-signature sent last"},
                    "signature_check": {
                        "enum": ["valid", "invalid", "unsigned", "unknown"],
                        "description": "Whether that signature verifies with the webhook's secret now",
                    },
                    "curl": {
                        "type": ["string", "null"],
                        "description": "The last attempt as a curl command: the same bytes",
                    },
                },
            },
        ]
    },
    "DeliveryPage": {
        "type": "object",
        "required": ["deliveries", "next_cursor", "total"],
        "properties": {
            "deliveries": {"type": "array", "items": ref("Delivery")},
            "next_cursor": {"type": ["string", "null"], "description": "Pass as ?cursor= for the next (older) page"},
            "total": {"type": "integer", "description": "How many deliveries match the filters, over all pages"},
        },
    },
    "Sink": {
        "type": "object",
        "required": ["name", "secret", "has_secret", "status", "delay_ms", "script", "request_count", "url"],
        "properties": {
            "name": {"type": "string"},
            "url": {"type": "string"},
            "secret": {"type": ["string", "null"], "description": "Masked"},
            "has_secret": {"type": "boolean"},
            "status": {"type": "integer"},
            "delay_ms": {"type": "integer"},
            "script": {"type": "array", "items": {"type": "integer"}},
            "created_at": _TIMESTAMP,
            "request_count": {"type": "integer"},
        },
    },
    "SinkSecret": {
        "type": "object",
        "required": ["name", "secret"],
        "properties": {
            "name": {"type": "string"},
            "secret": {"type": ["string", "null"], "description": "In full; null without one"},
        },
    },
    "SinkList": {
        "type": "object",
        "required": ["sinks"],
        "properties": {"sinks": {"type": "array", "items": ref("Sink")}},
    },
    "SinkPut": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "secret": {
                "type": ["string", "null"],
                "maxLength": 512,
                "description": "Verify signatures with this secret; null: do not check",
            },
            "status": {"type": "integer", "minimum": 200, "maximum": 599, "default": 200},
            "delay_ms": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_SINK_DELAY_MS,
                "default": 0,
                "description": "Up to 15 s: past Zenoti's 10 s timeout, which is what a delay rehearses",
            },
            "script": {
                "type": "array",
                "items": {"type": "integer", "minimum": 200, "maximum": 599},
                "maxItems": 100,
                "description": "Statuses to answer first, one per request, before falling back to status: [503, 503] rehearses two retries",
            },
        },
    },
    "CapturedRequest": {
        "type": "object",
        "required": ["id", "sink", "received_at", "method", "headers", "body", "signature", "status"],
        "properties": {
            "id": {"type": "integer"},
            "sink": {"type": "string"},
            "received_at": _TIMESTAMP,
            "method": {"type": "string"},
            "path": {"type": "string"},
            "headers": {
                "type": "array",
                "items": {
                    "type": "array",
                    "prefixItems": [{"type": "string"}, {"type": "string"}],
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
            "body": {"type": ["string", "null"], "description": "The raw body as text (null when not UTF-8)"},
            "body_base64": {"type": ["string", "null"]},
            "body_size": {"type": "integer"},
            "json": {"description": "The body parsed as JSON, or null"},
            "signature": {"enum": ["valid", "invalid", "missing", "not_checked", "ping"]},
            "status": {"type": "integer", "description": "What the sink answered"},
        },
    },
    "CapturedRequestList": {
        "type": "object",
        "required": ["sink", "requests"],
        "properties": {"sink": {"type": "string"}, "requests": {"type": "array", "items": ref("CapturedRequest")}},
    },
    "SinkAnswer": {
        "type": "object",
        "required": ["received", "signature"],
        "properties": {"received": {"type": "integer"}, "signature": {"type": "string"}},
    },
    "Cleared": {"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "integer"}}},
    "Empty": {
        "type": "object",
        "maxProperties": 0,
        "description": "No parameters: send {} or nothing (with Content-Type: application/json)",
    },
}
#: The formats request bodies are checked for (jsonschema checks none unless asked).
FORMATS = FormatChecker(formats=())


@FORMATS.checks("uri", raises=EmulatorError)
def _is_target_url(value: object) -> bool:
    return not isinstance(value, str) or bool(check_url(value))


@FORMATS.checks("date-time", raises=EmulatorError)
def _is_time(value: object) -> bool:
    return not isinstance(value, str) or bool(bounds.parse_time(value))


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    # The named schema, resolvable against its siblings through the components pointer.
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": {"schemas": SCHEMAS}}, format_checker=FORMATS
    )


def validate_body(name: str, body: Any) -> dict[str, Any]:
    """Check a request body against ``components.schemas[name]``.

    :return: ``body``, unchanged.
    :raise UsageError: (400) naming the first offending field by JSON pointer, with every
        error in ``details``.
    """
    errors = sorted(_validator(name).iter_errors(body), key=lambda e: (len(e.absolute_path), e.message))
    if not errors:
        return body  # type: ignore[no-any-return]
    found = [
        {
            "pointer": "".join(f"/{p}" for p in e.absolute_path),
            "message": _plain(e),
        }
        for e in errors
    ]
    first = found[0]
    where = first["pointer"] or "the body"
    raise UsageError(f"Invalid request: {where}: {first['message']}", details=found)


def _plain(error: ValidationError) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    if error.validator == "not" and error.schema_path and list(error.schema_path)[-1] == "not":
        return "give either 'webhooks' or 'target', not both"
    if error.validator == "pattern" and error.schema_path and "url" in list(error.path):
        return f"{error.instance!r} is not an http(s) URL"
    return str(error.message)
