"""The ``/v1`` paths in the app's OpenAPI document (``/openapi.json``).

Carried by the blueprint as ``openapi_paths`` and ``openapi_schemas`` (the app merges
them in). The answers' schemas name the keys a receiver reads and leave the rest open
(``additionalProperties``): the exact fields are the event schemas', which the answers
are projected through.
"""

from __future__ import annotations

from typing import Any

from .. import defaults

MAX_PAGE = 1_000_000_000


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("ZenotiError"), description)


_AUTH_TEXT = (
    f"Send 'Authorization: apikey KEY' (default key {defaults.DEFAULT_API_KEY!r}, `--api-key`) or "
    "'Authorization: bearer TOKEN' from POST /v1/tokens."
)
_READ_ERRORS = {
    "400": _error("A malformed query parameter"),
    "401": _error("No valid key or token"),
    "404": _error("No such entity in the worlds answered for"),
    "429": _error("Over the rate limit (`--rate-limit`); see Retry-After"),
}
_PAGE = [
    {
        "name": "page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
    },
    {
        "name": "size",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        "description": "At most 100 (422 above)",
    },
]
_ID = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[0-9A-Za-z-]+$"}


def _path(name: str, what: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _ID, "description": what}


def _get(
    op_id: str, summary: str, ok: dict[str, Any], params: list[dict[str, Any]] | None = None, paged: bool = False
) -> dict[str, Any]:
    responses = {"200": _json(ok, summary), **_READ_ERRORS}
    if paged:
        responses["422"] = _error("size above 100")
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "description": _AUTH_TEXT,
            "tags": ["zenoti"],
            "parameters": (params or []) + (_PAGE if paged else []),
            "responses": responses,
        }
    }


def _page_of(key: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [key, "page_info"],
        "properties": {
            key: {"type": "array", "items": item},
            "page_info": _ref("ZenotiPageInfo"),
            "error": {"type": "null"},
        },
    }


_OPEN = {"type": "object", "additionalProperties": True}

SCHEMAS: dict[str, Any] = {
    "ZenotiError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
            }
        },
    },
    "ZenotiPageInfo": {
        "type": "object",
        "required": ["total", "page", "size"],
        "properties": {"total": {"type": "integer"}, "page": {"type": "integer"}, "size": {"type": "integer"}},
    },
    "ZenotiGuest": {
        "type": "object",
        "required": ["id", "code", "center_id", "personal_info", "address_info", "preferences"],
        "properties": {
            "id": {"type": "string"},
            "code": {"type": "string"},
            "center_id": {"type": "string"},
            "personal_info": _OPEN,
            "address_info": _OPEN,
            "preferences": _OPEN,
        },
    },
    "ZenotiGroup": {
        "type": "object",
        "required": ["appointment_group_id", "invoice_id", "status", "center_id", "appointment_services"],
        "properties": {
            "appointment_group_id": {"type": "string"},
            "invoice_id": {"type": "string"},
            "status": {"type": "integer"},
            "center_id": {"type": "string"},
            "appointment_services": {"type": "array", "items": _OPEN},
        },
    },
    "ZenotiAppointment": {
        "type": "object",
        "required": ["appointment_id", "appointment_group_id", "invoice_id", "status", "start_time_utc"],
        "properties": {
            "appointment_id": {"type": "string"},
            "appointment_group_id": {"type": "string"},
            "invoice_id": {"type": "string"},
            "status": {"type": "integer"},
            "start_time_utc": {"type": "string"},
        },
    },
    "ZenotiInvoice": {
        "type": "object",
        "required": ["id", "invoice_number", "is_closed", "total_price", "guest", "invoice_items", "transactions"],
        "properties": {
            "id": {"type": "string"},
            "invoice_number": {"type": "string"},
            "is_closed": {"type": "boolean"},
            "total_price": _OPEN,
            "guest": _OPEN,
            "invoice_items": {"type": "array"},
            "transactions": {"type": "array"},
        },
    },
    "ZenotiTokenRequest": {
        "type": "object",
        "required": ["grant_type"],
        "properties": {
            "account_name": {"type": "string"},
            "user_name": {"type": "string"},
            "password": {"type": "string"},
            "grant_type": {"enum": ["password", "refresh_token"]},
            "app_id": {"type": "string"},
            "app_secret": {"type": "string", "description": "The emulator's API key"},
            "device_id": {"type": "string"},
            "refresh_token": {"type": "string"},
        },
    },
    "ZenotiCredentials": {
        "type": "object",
        "required": ["credentials"],
        "properties": {
            "credentials": {
                "type": "object",
                "required": ["access_token", "token_type", "refresh_token"],
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"const": "bearer"},
                    "refresh_token": {"type": "string"},
                },
            },
            "error": {"type": "null"},
        },
    },
}

_GUEST_ID = _path("guest_id", "A guest's id")
_CENTER_ID = _path("center_id", "A center's id")
_CENTER_FILTER = {"name": "center_id", "in": "query", "required": False, "schema": _ID}
_SEARCH = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string", "maxLength": 200}}
    for name in ("phone", "email", "first_name", "last_name", "user_code", "user_name", "zip_code")
]
_DATE = {"type": "string", "format": "date"}

PATHS: dict[str, Any] = {
    "/v1/tokens": {
        "post": {
            "operationId": "zenotiToken",
            "summary": "A bearer token for the app secret (the API key), as Zenoti's token flow",
            "tags": ["zenoti"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ZenotiTokenRequest")}}},
            "responses": {
                "200": _json(_ref("ZenotiCredentials"), "The token"),
                "400": _error("Not a JSON object, or no grant_type"),
                "401": _error("Wrong app_secret, or no user_name/password"),
                "429": _READ_ERRORS["429"],
            },
        }
    },
    "/v1/guests/search": _get(
        "zenotiSearchGuests",
        "Guests matching every criterion given (phone with or without its country code)",
        _page_of("guests", _ref("ZenotiGuest")),
        [_CENTER_FILTER, *_SEARCH],
        paged=True,
    ),
    "/v1/guests/{guest_id}": _get(
        "zenotiGuest", "A guest's profile, as the Guest events show it", _ref("ZenotiGuest"), [_GUEST_ID]
    ),
    "/v1/guests/{guest_id}/appointments": _get(
        "zenotiGuestAppointments",
        "A guest's appointment groups",
        _page_of("appointments", _ref("ZenotiGroup")),
        [
            _GUEST_ID,
            {"name": "start_date", "in": "query", "required": False, "schema": _DATE},
            {"name": "end_date", "in": "query", "required": False, "schema": _DATE},
        ],
        paged=True,
    ),
    "/v1/guests/{guest_id}/memberships": _get(
        "zenotiGuestMemberships",
        "A guest's memberships, as the membership events show them",
        _page_of("memberships", _OPEN),
        [_GUEST_ID, _CENTER_FILTER],
        paged=True,
    ),
    "/v1/guests/{guest_id}/packages": _get(
        "zenotiGuestPackages",
        "A guest's packages, as the package events show them",
        _page_of("packages", _OPEN),
        [_GUEST_ID, _CENTER_FILTER],
        paged=True,
    ),
    "/v1/appointments": _get(
        "zenotiAppointments",
        "A center's appointments between two days (its wall clock)",
        _page_of("appointments", _ref("ZenotiAppointment")),
        [
            {"name": "center_id", "in": "query", "required": True, "schema": _ID},
            {"name": "start_date", "in": "query", "required": True, "schema": _DATE},
            {"name": "end_date", "in": "query", "required": True, "schema": _DATE},
        ],
        paged=True,
    ),
    "/v1/appointments/{appointment_id}": _get(
        "zenotiAppointment",
        "One appointment with its guest and therapist",
        _ref("ZenotiAppointment"),
        [_path("appointment_id", "An appointment's id")],
    ),
    "/v1/appointment_groups/{group_id}": _get(
        "zenotiAppointmentGroup",
        "One appointment group (the emulator's path; Zenoti lists groups per guest)",
        {"type": "object", "required": ["appointment_group"], "properties": {"appointment_group": _ref("ZenotiGroup")}},
        [_path("group_id", "An appointment group's id")],
    ),
    "/v1/invoices/{invoice_id}": _get(
        "zenotiInvoice",
        "An invoice as it stands: items, payments, totals",
        {
            "type": "object",
            "required": ["invoice"],
            "properties": {"invoice": _ref("ZenotiInvoice"), "error": {"type": "null"}},
        },
        [_path("invoice_id", "An invoice's id")],
    ),
    "/v1/centers": _get("zenotiCenters", "The organization's centers", _page_of("centers", _OPEN), paged=True),
    "/v1/centers/{center_id}": _get(
        "zenotiCenter",
        "One center",
        {"type": "object", "required": ["center"], "properties": {"center": _OPEN}},
        [_CENTER_ID],
    ),
    "/v1/centers/{center_id}/employees": _get(
        "zenotiEmployees", "A center's employees", _page_of("employees", _OPEN), [_CENTER_ID], paged=True
    ),
    "/v1/centers/{center_id}/therapists": _get(
        "zenotiTherapists", "A center's bookable employees", _page_of("therapists", _OPEN), [_CENTER_ID], paged=True
    ),
    "/v1/centers/{center_id}/services": _get(
        "zenotiServices", "A center's services with their prices", _page_of("services", _OPEN), [_CENTER_ID], paged=True
    ),
}
