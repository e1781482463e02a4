"""``GET /api/captures``: what the relay received from real Zenoti, with its verdicts.

Read-only, under every rule of ``security.py`` (this is the dashboard's port, not the
relay's). Oldest first from a cursor, as ``captures export`` writes them. Each capture
links to its forward (``delivery_id``: ``/api/deliveries/<id>`` has every attempt). The
signature header is left out of the headers shown, as export leaves out every header.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from flask import Blueprint, request

from ..captures.recorded import parse_since
from ..delivery.rows import StoredCapture, iso
from ..delivery.signing import SIGNATURE_HEADER
from .api import MAX_ID, MAX_PAGE, query_int
from .services import services

bp = Blueprint("captures_api", __name__, url_prefix="/api")


@bp.get("/captures")
def list_captures() -> Any:
    """A page of captures, oldest first after ``after``; ``next_after`` continues it."""
    limit = query_int("limit", 50, low=1, high=MAX_PAGE) or 50
    since = request.args.get("since")  # given but empty is malformed, as the document says
    types = [t for t in request.args.getlist("event_type") if t]
    rows = list(
        islice(
            services().store.captures(
                event_types=types,
                since=parse_since(since) if since is not None else None,
                after=query_int("after", 0, low=0, high=MAX_ID) or 0,
            ),
            limit + 1,
        )
    )
    page = rows[:limit]
    return {"captures": [capture_dict(c) for c in page], "next_after": page[-1].id if len(rows) > limit else None}


def capture_dict(c: StoredCapture) -> dict[str, Any]:
    return {
        "id": c.id,
        "received_at": iso(c.received_at),
        "method": c.method,
        "path": c.path,
        "event_type": c.event_type,
        "call_id": c.call_id,
        "event_id": c.event_id,
        "signature": c.signature,
        "schema": dict(c.report),
        "delivery_id": c.delivery_id,
        "headers": [[k, v] for k, v in c.headers if k.lower() != SIGNATURE_HEADER],
        "body": c.body.decode("utf-8", "replace"),
    }


# -- its part of /openapi.json (merged in by emulator.web.openapi.document) -------------

bp.openapi_schemas = {  # type: ignore[attr-defined]
    "Capture": {
        "type": "object",
        "description": "A request the relay received from real Zenoti, kept byte for byte",
        "required": [
            "id",
            "received_at",
            "method",
            "path",
            "event_type",
            "call_id",
            "event_id",
            "signature",
            "schema",
            "delivery_id",
            "headers",
            "body",
        ],
        "properties": {
            "id": {"type": "integer"},
            "received_at": {"type": "string", "format": "date-time"},
            "method": {"enum": ["POST", "PUT", "PATCH"]},
            "path": {"type": "string", "description": "Path and query it was sent to"},
            "event_type": {"type": ["string", "null"]},
            "call_id": {"type": ["string", "null"], "description": "The envelope's id"},
            "event_id": {"type": ["string", "null"]},
            "signature": {"enum": ["ping", "not_checked", "missing", "valid", "invalid"]},
            "schema": {
                "type": "object",
                "required": ["status", "reason", "message", "errors", "drift"],
                "properties": {
                    "status": {"enum": ["valid", "invalid", "skipped"]},
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object"}},
                    "drift": {"type": "array", "items": {"type": "string"}},
                },
            },
            "delivery_id": {
                "type": ["integer", "null"],
                "description": "Its forward to the local receiver; null when refused",
            },
            "headers": {
                "type": "array",
                "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
                "description": "As received, in order, without the signature header",
            },
            "body": {"type": "string", "description": "The body as received (UTF-8; undecodable bytes replaced)"},
        },
    },
    "CapturePage": {
        "type": "object",
        "required": ["captures", "next_after"],
        "properties": {
            "captures": {"type": "array", "items": {"$ref": "#/components/schemas/Capture"}},
            "next_after": {"type": ["integer", "null"], "description": "Pass as `after` for the next page"},
        },
    },
}

bp.openapi_paths = {  # type: ignore[attr-defined]
    "/api/captures": {
        "get": {
            "operationId": "listCaptures",
            "summary": "What the relay received from real Zenoti, oldest first, with signature and schema verdicts",
            "parameters": [
                {
                    "name": "event_type",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Only this type (repeatable)",
                },
                {
                    "name": "since",
                    "in": "query",
                    "required": False,
                    "schema": {
                        "anyOf": [
                            {"type": "string", "format": "date-time"},
                            {"type": "string", "pattern": "^[0-9]{1,12}(\\.[0-9]{1,9})?[smhd]$"},
                        ]
                    },
                    "description": "An ISO 8601 time, or an age: 30m, 2h, 7d",
                },
                {
                    "name": "after",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                    "description": "next_after of the previous page",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                },
            ],
            "responses": {
                "200": {
                    "description": "A page of captures",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CapturePage"}}},
                },
                "400": {
                    "description": "A bad query parameter",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
    }
}
