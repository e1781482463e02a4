"""The OpenAPI 3.1 description of the HTTP API: its paths, over the schemas the views enforce.

The document is data built here, not generated from the views; its components are
:data:`emulator.web.api_schemas.SCHEMAS`, the very schemas the views validate request
bodies against. A test walks ``app.url_map`` against ``paths`` and validates every
response the test suite sees against the documented schema, so the two cannot drift
apart silently.

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
from collections.abc import Iterable
from typing import Any

from .api_schemas import DELIVERY_STATUSES, SCHEMAS, VERBS, ref


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


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
    return {"required": required, "content": {"application/json": {"schema": ref(schema)}}}


def _param(
    name: str, where: str, schema: dict[str, Any], description: str = "", required: bool | None = None
) -> dict[str, Any]:
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
        "get": {
            "operationId": "health",
            "summary": "Liveness and counts",
            "responses": {"200": _json("Health", "Alive")},
        },
    },
    "/api/event-types": {
        "get": {
            "operationId": "listEventTypes",
            "summary": "Every event type the emulator knows",
            "responses": {"200": _json("EventTypeList", "Event types")},
        },
    },
    "/api/variants": {
        "get": {
            "operationId": "listVariants",
            "summary": "Facts receivers disagree on: each variant's default, choices and evidence",
            "responses": {"200": _json("VariantList", "Variants")},
        },
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
            "responses": {
                "202": _json("FireResponse", "Accepted: deliveries run in the background"),
                **_errors(*_WRITE_ERRORS, 404, 409, 422),
            },
        },
    },
    "/api/webhooks": {
        "get": {
            "operationId": "listWebhooks",
            "summary": "Every webhook, with its state",
            "responses": {"200": _json("WebhookList", "Webhooks")},
        },
        "post": {
            "operationId": "createWebhook",
            "summary": "Create a webhook",
            "requestBody": _body("WebhookCreate"),
            "responses": {"201": _json("Webhook", "Created"), **_errors(*_WRITE_ERRORS, 422)},
        },
    },
    "/api/webhooks/{id}": {
        "parameters": [_WEBHOOK_ID],
        "get": {
            "operationId": "getWebhook",
            "summary": "One webhook",
            "responses": {"200": _json("Webhook", "The webhook"), **_errors(404)},
        },
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
                _param(
                    "status_code",
                    "query",
                    {"type": "integer", "minimum": 100, "maximum": 599},
                    "Only deliveries whose last answer had this HTTP status",
                ),
                _param(
                    "event_id",
                    "query",
                    {"type": "string", "maxLength": 200},
                    "Only this event: its envelope id or event_id",
                ),
                _param(
                    "since",
                    "query",
                    {"type": "string", "format": "date-time"},
                    "Created at or after (ISO 8601; UTC without a zone)",
                ),
                _param(
                    "until",
                    "query",
                    {"type": "string", "format": "date-time"},
                    "Created before (ISO 8601; UTC without a zone)",
                ),
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
                _param(
                    "cursor",
                    "query",
                    {"type": "string", "pattern": "^[0-9]{1,19}$"},
                    "next_cursor of the previous page",
                ),
            ],
            "responses": {"200": _json("DeliveryPage", "A page of deliveries"), **_errors(400)},
        },
    },
    "/api/deliveries/{id}": {
        "parameters": [_DELIVERY_ID],
        "get": {
            "operationId": "getDelivery",
            "summary": "One delivery with its attempts",
            "responses": {"200": _json("DeliveryDetail", "The delivery"), **_errors(404)},
        },
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
        "get": {
            "operationId": "listSinks",
            "summary": "The built-in receivers",
            "responses": {"200": _json("SinkList", "Sinks")},
        },
    },
    "/api/sinks/{name}": {
        "parameters": [_SINK_NAME],
        "get": {
            "operationId": "getSink",
            "summary": "One sink's settings",
            "responses": {"200": _json("Sink", "The sink"), **_errors(404)},
        },
        "put": {
            "operationId": "putSink",
            "summary": "Create or configure a sink: secret, status, delay, scripted statuses. Fields left out keep their value (defaults for a new sink).",
            "requestBody": _body("SinkPut", required=False),
            "responses": {"200": _json("Sink", "Updated"), "201": _json("Sink", "Created"), **_errors(*_WRITE_ERRORS)},
        },
        "delete": {
            "operationId": "deleteSink",
            "summary": "Delete a sink and its requests",
            "responses": {"204": {"description": "Deleted"}, **_errors(403, 404)},
        },
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
        "delete": {
            "operationId": "clearSinkRequests",
            "summary": "Forget what a sink captured",
            "responses": {"200": _json("Cleared", "Cleared"), **_errors(403, 404)},
        },
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
                            "content": {"application/json": {"schema": {"anyOf": [ref("Error"), ref("SinkAnswer")]}}},
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
            "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}
            },
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
    doc: dict[str, Any] = copy.deepcopy(
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


def view() -> Any:
    """``GET /openapi.json``: the document, with this server as its only server."""
    from flask import current_app, jsonify, request

    from .. import __version__

    doc = document(__version__, current_app.blueprints.values())
    doc["servers"] = [{"url": request.host_url.rstrip("/")}]
    return jsonify(doc)
