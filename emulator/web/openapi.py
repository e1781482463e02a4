"""The OpenAPI 3.1 description of the HTTP API, and the request schemas the views enforce.

The document is data built here, not generated from the views, and the views validate
their request bodies against the same ``components.schemas`` (:func:`validate_body`), so
what the document promises about input is what the server checks. A test walks
``app.url_map`` against ``paths`` and validates every response the test suite sees
against the documented schema, so the two cannot drift apart silently.

Why it stays hand-kept (issue 24; spectree 3.0.0, flask-smorest 0.47.0 and APIFlask 3.1.2
were each tried on createWebhook, updateWebhook and listDeliveries): none produces this
document from the views and validates with it without losing what the contract test checks.

- spectree and APIFlask read the body with ``request.get_json`` themselves, not through
  :func:`emulator.bounds.loads_json`: JSON nested 5,000 deep is their 500 (RecursionError),
  our 400; spectree reads malformed JSON as ``{}``, so a garbled ``POST /api/events`` would
  fire the default event. (flask-smorest can be given our reader, by a parser subclass.)
- What their model languages lack (``oneOf``/``propertyNames`` of ``set``, the ``not`` of
  FireRequest, ``minProperties``, ``maxProperties``, ``prefixItems``, ``uniqueItems``, the
  ``uri`` format that :func:`emulator.urls.check_url` decides) must be written twice, as
  extra schema for the document and as validator code, and schemathesis finds the two apart
  within a few hundred cases on those three endpoints: spectree documents ``format: uri``
  and does not check it; flask-smorest, even given our reader, our error body, strict
  booleans and schema validators, writes ``format: url`` (unknown to schemathesis, so any
  string is valid there) and then refuses those strings.
- spectree: a path parameter of our ``id`` converter gets ``schema: null`` (schemathesis
  cannot generate it), every request body is ``required: true`` (ten of ours are optional),
  no response headers, ``default`` responses or links; the document is cached per SpecTree
  instance, not per app. flask-smorest and APIFlask: marshmallow's Boolean takes ``1``
  (even with ``truthy={True}``: ``1 == True``) and by default ``"yes"``; their own error
  bodies and 422s replace ``{error: {code, message, details}}`` unless overridden; only
  routes on their own Blueprint class are documented (APIFlask also replaces Flask).
- Weight: pydantic, or marshmallow + webargs + apispec (APIFlask needs both); 90 to 150 ms
  more import on ``serve``'s start-up. And Zenoti's ``/v1`` part
  (:mod:`emulator.zenoti_api.openapi`) would stay hand-kept whichever was chosen.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from .. import bounds
from ..errors import EmulatorError, UsageError
from ..generate import PROFILES
from ..sinks import MAX_DELAY_MS
from ..urls import MAX_URL_LENGTH, check_url
from ..variants import VARIANTS

#: Largest batch ``/api/events/generate`` returns and ``/api/events`` fires at once.
MAX_EVENTS = 100
#: Longest a sink may wait before answering (the sinks' own limit).
MAX_SINK_DELAY_MS = MAX_DELAY_MS
VERBS = ["POST", "PUT", "PATCH"]
DELIVERY_STATUSES = ["pending", "delivered", "failed"]

_HTTP_URL = {"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/\\s]+", "maxLength": MAX_URL_LENGTH}
#: An override path: dotted segments, none empty, no whitespace (``data.appointments.0.room_name``,
#: ``$.data.guest.email``, ``data.appointments[0].room_name``); every string it allows parses.
_SET_PATH = r"(?!\$(=|$))[^.=WS]+(\.[^.=WS]+)*".replace(
    # what str.strip() removes, spelled out: JSON Schema's \s (ECMA 262) is not Python's
    "WS", r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: Times an event id can carry: the years 1971 to 2105 (the exact range is 1970-01-01 to
#: 2106-02-07 UTC, which a pattern cannot state with zones; the server checks it exactly).
_NOW_PATTERN = "^(197[1-9]|19[89][0-9]|20[0-9][0-9]|210[0-5])-"
_TIMESTAMP = {"type": "string", "description": "ISO 8601, UTC"}
_NULLABLE_TIMESTAMP = {"type": ["string", "null"], "description": "ISO 8601, UTC"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_GENERATE_FIELDS: dict[str, Any] = {
    "event_type": {"type": "string", "default": "AppointmentGroup.Created", "description": "Zenoti's name, e.g. AppointmentGroup.Created"},
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
    "profile": {"enum": list(PROFILES), "default": "realistic", "description": "realistic: what a busy spa sends; edge: the values receivers break on"},
    "variants": {
        "type": "object",
        "additionalProperties": False,
        "description": "Readings of facts receivers disagree on, {name: choice} (GET /api/variants lists them); the default of each when omitted",
        "properties": {v.name: {"enum": list(v.choices), "default": v.default, "description": v.evidence} for v in VARIANTS.values()},
    },
    "fresh": {"type": "boolean", "default": False,
              "description": "Start from an empty account: every guest, employee, membership and package an event names was created by an earlier event"},
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
                    "code": {"type": "string", "description": "Stable, machine-readable: not_found, schema_violation, ..."},
                    "message": {"type": "string", "description": "What failed and what to do next"},
                    "details": {"description": "Structured detail; for schema violations, a list of {path, pointer, message}"},
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
        "properties": {"variants": {"type": "array", "items": _ref("Variant")}},
    },
    "EventTypeList": {
        "type": "object",
        "required": ["event_types"],
        "properties": {"event_types": {"type": "array", "items": _ref("EventTypeSummary")}},
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
        "properties": {"event_type": {"type": "string"}, "fields": {"type": "array", "items": _ref("Field")}},
    },
    "JsonSchema": {"type": "object", "description": "A JSON Schema (draft 2020-12) for the whole delivery body"},
    "GenerateRequest": {"type": "object", "additionalProperties": False, "properties": _GENERATE_FIELDS},
    "GenerateResponse": {
        "type": "object",
        "required": ["event_type", "count", "events"],
        "properties": {
            "event_type": {"type": "string"},
            "count": {"type": "integer"},
            "events": {"type": "array", "items": {"type": "object", "description": "A delivery body, valid against its event type's schema"}},
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
            **{k: v for k, v in _GENERATE_FIELDS.items() if k != "now"},
            "webhooks": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                "minItems": 1,
                "uniqueItems": True,
                "description": "Deliver to these webhooks (each must be active). Default: every active webhook subscribed to the event type.",
            },
            "target": _ref("Target"),
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
            "events": {"type": "array", "items": _ref("FiredEvent")},
            "deliveries": {"type": "array", "items": _ref("Delivery")},
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
        "properties": {"webhooks": {"type": "array", "items": _ref("Webhook")}},
    },
    "WebhookCreate": {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "event_types": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True, "description": "Default: every known event type"},
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
            "event_id": {"type": ["string", "null"], "description": "The envelope's event_id (null when an event sent with validation off has none)"},
            "event_type": {"type": ["string", "null"], "description": "null when the body sent had none (validation off)"},
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
            _ref("Delivery"),
            {
                "type": "object",
                "required": ["attempt_log", "body", "signature", "signature_check", "curl"],
                "properties": {
                    "attempt_log": {"type": "array", "items": _ref("Attempt")},
                    "body": {"type": ["string", "null"], "description": "The exact bytes sent (UTF-8)"},
                    "signature": {"type": ["string", "null"], "description": "The zenoti-webhook-signature sent last"},
                    "signature_check": {
                        "enum": ["valid", "invalid", "unsigned", "unknown"],
                        "description": "Whether that signature verifies with the webhook's secret now",
                    },
                    "curl": {"type": ["string", "null"], "description": "The last attempt as a curl command: the same bytes"},
                },
            },
        ]
    },
    "DeliveryPage": {
        "type": "object",
        "required": ["deliveries", "next_cursor", "total"],
        "properties": {
            "deliveries": {"type": "array", "items": _ref("Delivery")},
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
        "properties": {"name": {"type": "string"}, "secret": {"type": ["string", "null"], "description": "In full; null without one"}},
    },
    "SinkList": {
        "type": "object",
        "required": ["sinks"],
        "properties": {"sinks": {"type": "array", "items": _ref("Sink")}},
    },
    "SinkPut": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "secret": {"type": ["string", "null"], "maxLength": 512, "description": "Verify signatures with this secret; null: do not check"},
            "status": {"type": "integer", "minimum": 200, "maximum": 599, "default": 200},
            "delay_ms": {"type": "integer", "minimum": 0, "maximum": MAX_SINK_DELAY_MS, "default": 0, "description": "Up to 15 s: past Zenoti's 10 s timeout, which is what a delay rehearses"},
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
            "headers": {"type": "array", "items": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}], "minItems": 2, "maxItems": 2}},
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
        "properties": {"sink": {"type": "string"}, "requests": {"type": "array", "items": _ref("CapturedRequest")}},
    },
    "SinkAnswer": {
        "type": "object",
        "required": ["received", "signature"],
        "properties": {"received": {"type": "integer"}, "signature": {"type": "string"}},
    },
    "Cleared": {"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "integer"}}},
    "Empty": {"type": "object", "maxProperties": 0, "description": "No parameters: send {} or nothing (with Content-Type: application/json)"},
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    words = {
        400: "Malformed JSON or fields",
        403: "Host not allowed, or a cross-origin write",
        404: "Unknown id or event type",
        405: "Method not allowed",
        409: "Conflict: the webhook is inactive, or the delivery is still pending or lost its webhook",
        413: "Body too large",
        415: "Content-Type is not application/json",
        422: "Well-formed, but cannot be applied: an override the event schema refuses or that does not fit the event, an unknown event type in a field (details carry JSON pointers)",
    }
    return {str(s): _json("Error", words[s]) for s in statuses}


def _body(schema: str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(schema)}}}


def _param(name: str, where: str, schema: dict[str, Any], description: str = "", required: bool | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path" if required is None else required,
        "schema": schema,
        "description": description,
    }


_ID = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
_WEBHOOK_ID = _param("id", "path", _ID, "Webhook id")
_DELIVERY_ID = _param("id", "path", _ID, "Delivery id")
_SINK_NAME = _param("name", "path", {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}, "Sink name")
_WRITE_ERRORS = (400, 403, 413, 415)

PATHS: dict[str, Any] = {
    "/api/health": {
        "get": {"operationId": "health", "summary": "Liveness and counts", "responses": {"200": _json("Health", "Alive")}},
    },
    "/api/event-types": {
        "get": {"operationId": "listEventTypes", "summary": "Every event type the emulator knows", "responses": {"200": _json("EventTypeList", "Event types")}},
    },
    "/api/variants": {
        "get": {"operationId": "listVariants", "summary": "Facts receivers disagree on: each variant's default, choices and evidence",
                "responses": {"200": _json("VariantList", "Variants")}},
    },
    "/api/event-types/{type}/schema": {
        "get": {
            "operationId": "getEventTypeSchema",
            "summary": "The JSON Schema of one event type",
            "parameters": [_param("type", "path", {"type": "string"}, "e.g. AppointmentGroup.Created")],
            "responses": {"200": _json("JsonSchema", "The schema"), **_errors(404)},
        },
    },
    "/api/event-types/{type}/fields": {
        "get": {
            "operationId": "getEventTypeFields",
            "summary": "The schema of one event type as a flat list of fields (for tables)",
            "parameters": [_param("type", "path", {"type": "string"})],
            "responses": {"200": _json("FieldList", "Fields"), **_errors(404)},
        },
    },
    "/api/events/generate": {
        "post": {
            "operationId": "generateEvents",
            "summary": "Generate events without delivering them",
            "requestBody": _body("GenerateRequest", required=False),
            "responses": {"200": _json("GenerateResponse", "The events"), **_errors(*_WRITE_ERRORS, 404, 422)},
        },
    },
    "/api/events": {
        "post": {
            "operationId": "fireEvents",
            "summary": "Generate events and deliver them: to the given webhooks, a one-off target, or every active webhook subscribed to the type",
            "requestBody": _body("FireRequest", required=False),
            "responses": {"202": _json("FireResponse", "Accepted: deliveries run in the background"), **_errors(*_WRITE_ERRORS, 404, 409, 422)},
        },
    },
    "/api/webhooks": {
        "get": {"operationId": "listWebhooks", "summary": "Every webhook, with its state", "responses": {"200": _json("WebhookList", "Webhooks")}},
        "post": {
            "operationId": "createWebhook",
            "summary": "Create a webhook",
            "requestBody": _body("WebhookCreate"),
            "responses": {"201": _json("Webhook", "Created"), **_errors(*_WRITE_ERRORS, 422)},
        },
    },
    "/api/webhooks/{id}": {
        "parameters": [_WEBHOOK_ID],
        "get": {"operationId": "getWebhook", "summary": "One webhook", "responses": {"200": _json("Webhook", "The webhook"), **_errors(404)}},
        "patch": {
            "operationId": "updateWebhook",
            "summary": "Change a webhook (setting active=true also resets its failure count)",
            "requestBody": _body("WebhookUpdate"),
            "responses": {"200": _json("Webhook", "Updated"), **_errors(*_WRITE_ERRORS, 404, 422)},
        },
        "delete": {
            "operationId": "deleteWebhook",
            "summary": "Delete a webhook (its deliveries stay in the log)",
            "responses": {"204": {"description": "Deleted"}, **_errors(403, 404)},
        },
    },
    "/api/webhooks/{id}/reactivate": {
        "parameters": [_WEBHOOK_ID],
        "post": {
            "operationId": "reactivateWebhook",
            "requestBody": _body("Empty", required=False),
            "summary": "Bring back a webhook deactivated after repeated failures",
            "responses": {"200": _json("Webhook", "Active again"), **_errors(*_WRITE_ERRORS, 404)},
        },
    },
    "/api/webhooks/{id}/ping": {
        "parameters": [_WEBHOOK_ID],
        "post": {
            "operationId": "pingWebhook",
            "requestBody": _body("Empty", required=False),
            "summary": "Zenoti's 'Testing your trigger': an empty POST, no body, no signature; answers what the receiver said",
            "responses": {"200": _json("PingResult", "The receiver's answer"), **_errors(*_WRITE_ERRORS, 404)},
        },
    },
    "/api/deliveries": {
        "get": {
            "operationId": "listDeliveries",
            "summary": "The delivery log, newest first",
            "parameters": [
                _param("status", "query", {"enum": DELIVERY_STATUSES}),
                _param("webhook", "query", _ID, "Only this webhook's deliveries"),
                _param("event_type", "query", {"type": "string", "maxLength": 200}, "Only events of this type"),
                _param("status_code", "query", {"type": "integer", "minimum": 100, "maximum": 599},
                       "Only deliveries whose last answer had this HTTP status"),
                _param("event_id", "query", {"type": "string", "maxLength": 200}, "Only this event: its envelope id or event_id"),
                _param("since", "query", {"type": "string", "format": "date-time"}, "Created at or after (ISO 8601; UTC without a zone)"),
                _param("until", "query", {"type": "string", "format": "date-time"}, "Created before (ISO 8601; UTC without a zone)"),
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
                _param("cursor", "query", {"type": "string", "pattern": "^[0-9]{1,19}$"}, "next_cursor of the previous page"),
            ],
            "responses": {"200": _json("DeliveryPage", "A page of deliveries"), **_errors(400)},
        },
    },
    "/api/deliveries/{id}": {
        "parameters": [_DELIVERY_ID],
        "get": {"operationId": "getDelivery", "summary": "One delivery with its attempts", "responses": {"200": _json("DeliveryDetail", "The delivery"), **_errors(404)}},
    },
    "/api/deliveries/{id}/replay": {
        "parameters": [_DELIVERY_ID],
        "post": {
            "operationId": "replayDelivery",
            "requestBody": _body("Empty", required=False),
            "summary": "Send a delivery's event again, as a new attempt of the same event",
            "responses": {"202": _json("Delivery", "Accepted"), **_errors(*_WRITE_ERRORS, 404, 409)},
        },
    },
    "/api/sinks": {
        "get": {"operationId": "listSinks", "summary": "The built-in receivers", "responses": {"200": _json("SinkList", "Sinks")}},
    },
    "/api/sinks/{name}": {
        "parameters": [_SINK_NAME],
        "get": {"operationId": "getSink", "summary": "One sink's settings", "responses": {"200": _json("Sink", "The sink"), **_errors(404)}},
        "put": {
            "operationId": "putSink",
            "summary": "Create or configure a sink: secret, status, delay, scripted statuses. Fields left out keep their value (defaults for a new sink).",
            "requestBody": _body("SinkPut", required=False),
            "responses": {"200": _json("Sink", "Updated"), "201": _json("Sink", "Created"), **_errors(*_WRITE_ERRORS)},
        },
        "delete": {"operationId": "deleteSink", "summary": "Delete a sink and its requests", "responses": {"204": {"description": "Deleted"}, **_errors(403, 404)}},
    },
    "/api/sinks/{name}/secret": {
        "parameters": [_SINK_NAME],
        "get": {
            "operationId": "getSinkSecret",
            "summary": "The sink's secret in full (shown masked elsewhere), to sign for it from the CLI",
            "responses": {"200": _json("SinkSecret", "The secret"), **_errors(404)},
        },
    },
    "/api/sinks/{name}/requests": {
        "parameters": [_SINK_NAME],
        "get": {
            "operationId": "listSinkRequests",
            "summary": "What a sink captured, newest first",
            "parameters": [
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
                _param("after", "query", _ID, "Only requests newer than this id"),
            ],
            "responses": {"200": _json("CapturedRequestList", "Requests"), **_errors(400, 404)},
        },
        "delete": {"operationId": "clearSinkRequests", "summary": "Forget what a sink captured", "responses": {"200": _json("Cleared", "Cleared"), **_errors(403, 404)}},
    },
    "/sink/{name}": {
        "parameters": [_SINK_NAME],
        **{
            verb.lower(): {
                "operationId": f"sink{verb.title()}",
                "tags": ["receiver"],
                "summary": "A built-in receiver: takes any body, verifies the signature if it has a secret, answers with its configured status after its delay",
                "requestBody": {"required": False, "content": {"*/*": {"schema": {}}}},
                "responses": {
                    "default": _json("SinkAnswer", "The configured status; the body says what was recorded"),
                    "204": {"description": "Configured to answer 204: no body"},
                    "304": {"description": "Configured to answer 304: no body"},
                    # a sink may be configured to answer 404 or 413 itself: then it says what it recorded
                    **{
                        str(status): {
                            "description": f"{_errors(status)[str(status)]['description']}; or the sink's configured status",
                            "content": {"application/json": {"schema": {"anyOf": [_ref("Error"), _ref("SinkAnswer")]}}},
                        }
                        for status in (404, 413)
                    },
                },
            }
            for verb in VERBS
        },
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}},
        },
    },
}


def _with_guards(paths: dict[str, Any]) -> dict[str, Any]:
    # Every route sits behind the Host check, so every operation can answer 403.
    for item in paths.values():
        for method, op in item.items():
            if method != "parameters":
                op["responses"].setdefault("403", _errors(403)["403"])
    return paths


PATHS = _with_guards(PATHS)


def document(version: str = "0", blueprints: Iterable[Any] = ()) -> dict[str, Any]:
    """The OpenAPI 3.1 document, a fresh copy each call (callers may add ``servers``).

    A blueprint registered by another module documents its own routes: it carries
    ``openapi_paths`` (paths, as in :data:`PATHS`) and optionally ``openapi_schemas``
    (components, as in :data:`SCHEMAS`) as attributes, and they are merged in here.

    :param blueprints: the app's blueprints (``app.blueprints.values()``).
    """
    doc = copy.deepcopy(
        {
            "openapi": "3.1.0",
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "info": {
                "title": "Zenoti webhook emulator",
                "version": version,
                "description": (
                    "Fire Zenoti webhook events at receivers and watch what they answered. "
                    "Every error is JSON: {error: {code, message, details}}. Writes need "
                    "Content-Type: application/json and a Host that names this machine."
                ),
            },
            "paths": PATHS,
            "components": {"schemas": SCHEMAS},
        }
    )
    for bp in blueprints:
        doc["paths"].update(_with_guards(copy.deepcopy(getattr(bp, "openapi_paths", {}))))
        doc["components"]["schemas"].update(copy.deepcopy(getattr(bp, "openapi_schemas", {})))
    return doc


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


def _plain(error: Any) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    if error.validator == "not" and error.schema_path and list(error.schema_path)[-1] == "not":
        return "give either 'webhooks' or 'target', not both"
    if error.validator == "pattern" and error.schema_path and "url" in list(error.path):
        return f"{error.instance!r} is not an http(s) URL"
    return str(error.message)


def view() -> Any:
    """``GET /openapi.json``: the document, with this server as its only server."""
    from flask import current_app, jsonify, request

    from .. import __version__

    doc = document(__version__, current_app.blueprints.values())
    doc["servers"] = [{"url": request.host_url.rstrip("/")}]
    return jsonify(doc)
