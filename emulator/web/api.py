"""The HTTP API under ``/api``: JSON in, JSON out, described by ``/openapi.json``.

Views parse input (request bodies are checked against the OpenAPI document's own
schemas), call :class:`~emulator.web.services.Services` and return dicts. Every
:class:`~emulator.errors.EmulatorError` becomes ``{"error": {code, message, details}}``
with its ``status_code`` (see :func:`emulator.web.create_app`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from .. import bounds, urls
from ..errors import NotFound, UsageError
from ..events.overrides import parse_assignment, parse_path
from ..events.registry import EventType
from . import api_schemas
from .services import services

bp = Blueprint("api", __name__, url_prefix="/api")


class IdConverter(BaseConverter):
    """``<id:...>``: any run of ASCII digits, as an int.

    Werkzeug's ``int(max=...)`` makes a path with a 20-digit id match no route, which
    answers 405 where another method of the path exists; here every such path reaches
    its view, whose lookup answers 404 for an id no row can have.
    """

    regex = "[0-9]{1,40}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


def _add_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("id", IdConverter)


# Before any route of the blueprint is added to the app: they use the converter.
bp.record_once(_add_converter)

#: The most rows one page of a list returns.
MAX_PAGE = 500
#: Ids are SQLite integers: anything larger cannot name a row.
MAX_ID = bounds.MAX_ID


# -- input helpers -------------------------------------------------------------------


def json_body(schema: str) -> dict[str, Any]:
    """The request body as a JSON object, checked against ``components.schemas[schema]``.

    An empty body is ``{}``, so actions without parameters need no body. Numbers are
    read as JSON Schema reads them (``2.0`` is the integer ``2``), and nesting is bounded
    (:func:`emulator.bounds.loads_json`).

    :raise UsageError: (400) for malformed or too deeply nested JSON, a body that is not
        an object, or a field that breaks the schema (named by JSON pointer in ``details``).
    """
    try:
        raw = request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("The body is not UTF-8 JSON.", details={"encoding": "utf-8"}) from None
    if not raw.strip(" \t\n\r"):  # JSON's whitespace; "\x0b" is not JSON at all
        body: Any = {}
    else:
        try:
            body = bounds.loads_json(raw, integral=True)
        except bounds.TooDeep as exc:
            raise UsageError(exc.message, details={"max_depth": bounds.MAX_JSON_DEPTH}) from None
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
                details={"line": exc.lineno, "column": exc.colno},
            ) from None
    if not isinstance(body, dict):
        raise UsageError(f"The body must be a JSON object, not {type(body).__name__}.", details={"pointer": ""})
    return api_schemas.validate_body(schema, body)


def query_int(name: str, default: int | None = None, *, low: int | None = None, high: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None:  # given but empty (?limit=) is malformed, as the document says
        return default
    try:
        return bounds.parse_int(raw, what=f"Query parameter {name!r}", low=low, high=high)
    except UsageError as exc:
        raise UsageError(exc.message, details={"parameter": name}) from None


def query_text(name: str, *, max_length: int = 200) -> str | None:
    """A free-text query parameter, bounded; empty is absent."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return None
    if len(raw) > max_length:
        raise UsageError(
            f"Query parameter {name!r} is longer than {max_length} characters.", details={"parameter": name}
        )
    return raw.strip()


def query_time(name: str) -> float | None:
    """An ISO 8601 query parameter (UTC when it names no zone) as an epoch time."""
    raw = request.args.get(name)
    if raw is None:  # given but empty (?until=) is not a time, as the document says
        return None
    if len(raw) > 64:
        raise UsageError(f"Query parameter {name!r} is longer than 64 characters.", details={"parameter": name})
    try:
        return bounds.parse_instant(raw).timestamp()
    except UsageError as exc:
        raise UsageError(f"Query parameter {name!r}: {exc.message}", details={"parameter": name}) from None


def check_url(url: str, pointer: str = "/url") -> str:
    """Only http(s) URLs with a host: the emulator must not be turned into a file reader.

    :raise UsageError: (400) naming the field at ``pointer``.
    """
    try:
        return urls.check_url(url)
    except UsageError as exc:
        raise UsageError(exc.message, details={"pointer": pointer}) from None


def overrides_from(body: dict[str, Any]) -> list[tuple[Any, Any]]:
    """``set`` as ``(path, value)`` pairs: from ``{"a.b": 1}`` or ``["a.b=1"]``."""
    given = body.get("set")
    if not given:
        return []
    if isinstance(given, dict):
        return [(parse_path(path), value) for path, value in given.items()]
    return [parse_assignment(text) for text in given]


def now_from(body: dict[str, Any]) -> datetime | None:
    text = body.get("now")
    if text is None:
        return None
    try:
        return bounds.parse_time(text, what="'now'")
    except UsageError as exc:
        raise UsageError(exc.message, details={"pointer": "/now"}) from None


# -- health and event types ----------------------------------------------------------


@bp.get("/health")
def health() -> Any:
    return services().health()


def _summary(kind: EventType) -> dict[str, Any]:
    return {
        "name": kind.name,
        "resource": kind.name.split(".")[0],
        "title": str(kind.schema.get("title", kind.name)),
        "description": str(kind.schema.get("description", "")),
        "schema_url": url_for("api.event_type_schema", event_type=kind.name),
    }


@bp.get("/event-types")
def event_types() -> Any:
    return {"event_types": [_summary(kind) for kind in services().registry.values()]}


@bp.get("/variants")
def list_variants() -> Any:
    from ..variants import VARIANTS

    return {"variants": [variant.to_dict() for variant in VARIANTS.values()]}


@bp.get("/event-types/<event_type>/schema")
def event_type_schema(event_type: str) -> Any:
    return services().registry.get_type(event_type).schema


@bp.get("/event-types/<event_type>/fields")
def event_type_fields(event_type: str) -> Any:
    kind = services().registry.get_type(event_type)
    return {"event_type": kind.name, "fields": services().fields(kind)}


# -- events --------------------------------------------------------------------------


@bp.post("/events/generate")
def generate() -> Any:
    body = json_body("GenerateRequest")
    events = services().generate(
        body.get("event_type", services().default_event_type),
        count=body.get("count", 1),
        seed=body.get("seed"),
        now=now_from(body),
        overrides=overrides_from(body),
        profile=body.get("profile", "realistic"),
        variants=body.get("variants"),
        fresh=body.get("fresh", False),
    )
    return {"event_type": body.get("event_type", services().default_event_type), "count": len(events), "events": events}


@bp.post("/events")
def fire() -> Any:
    body = json_body("FireRequest")
    target = body.get("target")
    if target is not None:
        check_url(target["url"], "/target/url")
    result = services().fire(
        body.get("event_type", services().default_event_type),
        count=body.get("count", 1),
        seed=body.get("seed"),
        overrides=overrides_from(body),
        profile=body.get("profile", "realistic"),
        variants=body.get("variants"),
        fresh=body.get("fresh", False),
        webhook_ids=body.get("webhooks"),
        target=target,
    )
    return result, 202


# -- webhooks ------------------------------------------------------------------------


@bp.get("/webhooks")
def list_webhooks() -> Any:
    return {"webhooks": [services().webhook_dict(h) for h in services().store.list_webhooks()]}


@bp.post("/webhooks")
def create_webhook() -> Any:
    body = json_body("WebhookCreate")
    check_url(body["url"])
    hook = services().create_webhook(body)
    response = services().webhook_dict(hook)
    return response, 201, {"Location": url_for("api.get_webhook", webhook_id=hook.id)}


@bp.get("/webhooks/<id:webhook_id>")
def get_webhook(webhook_id: int) -> Any:
    return services().webhook_dict(services().store.get_webhook(webhook_id))


@bp.patch("/webhooks/<id:webhook_id>")
def update_webhook(webhook_id: int) -> Any:
    body = json_body("WebhookUpdate")
    if "url" in body:
        check_url(body["url"])
    return services().webhook_dict(services().update_webhook(webhook_id, body))


@bp.delete("/webhooks/<id:webhook_id>")
def delete_webhook(webhook_id: int) -> Any:
    services().store.delete_webhook(webhook_id)
    return Response(status=204)


@bp.post("/webhooks/<id:webhook_id>/reactivate")
def reactivate_webhook(webhook_id: int) -> Any:
    json_body("Empty")
    return services().webhook_dict(services().store.reactivate(webhook_id))


@bp.post("/webhooks/<id:webhook_id>/ping")
def ping_webhook(webhook_id: int) -> Any:
    json_body("Empty")
    return services().ping(webhook_id)


# -- deliveries ----------------------------------------------------------------------


@bp.get("/deliveries")
def list_deliveries() -> Any:
    status = request.args.get("status")
    if status is not None and status not in api_schemas.DELIVERY_STATUSES:
        raise UsageError(
            f"Query parameter 'status' must be one of {', '.join(api_schemas.DELIVERY_STATUSES)}, not {status!r}.",
            details={"parameter": "status"},
        )
    cursor_text = request.args.get("cursor")
    cursor = None
    if cursor_text is not None:
        if not bounds.looks_like_id(cursor_text) or len(cursor_text) > 19:
            raise UsageError(
                f"Query parameter 'cursor' {cursor_text[:40]!r} is not one this API gave out.",
                details={"parameter": "cursor"},
            )
        # "older than this id": past the largest id, that is every row
        cursor = min(int(cursor_text), MAX_ID)
    filters: dict[str, Any] = {
        "status": status,
        "webhook_id": query_int("webhook", low=0, high=MAX_ID),
        "event_type": query_text("event_type"),
        "status_code": query_int("status_code", low=100, high=599),
        "event_id": query_text("event_id"),
        "since": query_time("since"),
        "until": query_time("until"),
    }
    store = services().store
    page, next_cursor = store.list_deliveries(
        limit=query_int("limit", 50, low=1, high=MAX_PAGE), cursor=cursor, **filters
    )
    return {
        "deliveries": services().delivery_dicts(page),
        "next_cursor": None if next_cursor is None else str(next_cursor),
        "total": store.count_deliveries(**filters),
    }


@bp.get("/deliveries/<id:delivery_id>")
def get_delivery(delivery_id: int) -> Any:
    return services().delivery_detail(delivery_id)


@bp.post("/deliveries/<id:delivery_id>/replay")
def replay_delivery(delivery_id: int) -> Any:
    json_body("Empty")
    return services().replay(delivery_id), 202


# -- sinks ---------------------------------------------------------------------------


@bp.get("/sinks")
def list_sinks() -> Any:
    return {"sinks": [services().sink_dict(sink, count) for sink, count in services().sinks.list()]}


@bp.get("/sinks/<name>")
def get_sink(name: str) -> Any:
    sink = services().sinks.get(name)
    return services().sink_dict(sink, services().sinks.count(name))


@bp.put("/sinks/<name>")
def put_sink(name: str) -> Any:
    body = json_body("SinkPut")
    try:
        current = services().sinks.get(name).to_settings()
    except NotFound:
        current = {}
    sink, created = services().sinks.put(name, **{**current, **body})
    return services().sink_dict(sink, services().sinks.count(name)), 201 if created else 200


@bp.delete("/sinks/<name>")
def delete_sink(name: str) -> Any:
    services().sinks.delete(name)
    return Response(status=204)


@bp.get("/sinks/<name>/secret")
def sink_secret(name: str) -> Any:
    """The sink's secret in full, so that a person can sign for it (``fire --secret``).

    Readable by the dashboard only: the API answers no foreign ``Host`` and sends no
    CORS headers, so another site's page cannot read the answer.
    """
    sink = services().sinks.get(name)
    return {"name": sink.name, "secret": sink.secret or None}


@bp.get("/sinks/<name>/requests")
def sink_requests(name: str) -> Any:
    captured = services().sinks.requests(
        name, limit=query_int("limit", 50, low=1, high=MAX_PAGE) or 50, after=query_int("after", low=0, high=MAX_ID)
    )
    return {"sink": name, "requests": [c.to_dict() for c in captured]}


@bp.delete("/sinks/<name>/requests")
def clear_sink_requests(name: str) -> Any:
    return {"deleted": services().sinks.clear(name)}
