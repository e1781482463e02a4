"""``/api/scenarios``: the built-in scenarios, their steps, and runs delivered in order.

A run plays the scenario on the world of its seed (as ``scenario run`` does), orders its
deliveries (disordered when asked), logs them and sends them one at a time, in that
order, to a one-off ``target``, the named ``webhooks``, or else the built-in sink. The
run and its disorder report are logged (``GET /api/scenarios/runs``), so the dashboard
shows each run's deliveries together.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, request

from ..delivery.disorder import parse_disorder
from ..errors import Conflict, NotFound, Unprocessable, UsageError
from ..scenario import Run, builtin_names, load, stage
from . import api_schemas
from .api import check_url, json_body, now_from, overrides_from, query_int
from .services import DEFAULT_WEBHOOK_NAME, services

bp = Blueprint("scenarios_api", __name__, url_prefix="/api")

#: The most runs the list returns.
MAX_RUNS = 50


@bp.get("/scenarios")
def list_scenarios() -> Any:
    return {"scenarios": [_summary(name) for name in builtin_names()]}


def _summary(name: str) -> dict[str, Any]:
    scenario = load(name)
    return {"name": name, "description": scenario.description, "steps": len(scenario.steps)}


@bp.get("/scenarios/<name>")
def show_scenario(name: str) -> Any:
    """The steps as played on the world of ``seed`` (query), with times, types and links."""
    run = stage(load(_builtin(name)), seed=query_int("seed", 1, low=0, high=2**63 - 1), profile="realistic")
    return {**_summary(name), "seed": run.seed, "events": _rows(run)}


@bp.post("/scenarios/<name>/run")
def run_scenario(name: str) -> Any:
    # A disorder the schema's pattern refuses is explained in words, before the schema would
    # answer with its pattern.
    raw = request.get_json(silent=True)
    if isinstance(raw, dict) and isinstance(raw.get("disorder"), str) and len(raw["disorder"]) <= 200:
        try:
            parse_disorder(raw["disorder"], 0)
        except UsageError as exc:
            raise UsageError(exc.message, details={"pointer": "/disorder"}) from None
    body = json_body("ScenarioRunRequest")
    target = body.get("target")
    if target is not None:
        check_url(target["url"], "/target/url")
    seed = body.get("seed")
    seed = secrets.randbits(63) if seed is None else seed
    spec = parse_disorder(body["disorder"], body.get("disorder_seed", seed)) if body.get("disorder") else None
    now, overrides = now_from(body), overrides_from(body)
    try:
        run = stage(
            load(_builtin(name)),
            seed=seed,
            now=now,
            profile=body.get("profile", "realistic"),
            overrides=overrides,
            disorder=spec,
            variants=body.get("variants"),
            fresh=body.get("fresh", False),
        )
    except UsageError as exc:
        # The request matched the schema; the story cannot take it (a `set` path an event
        # lacks, a world with no center of the policy a step asks for): 422, not 400.
        raise Unprocessable(exc.message, details=exc.details) from None
    hooks = _hooks(body)
    store = services().store
    ids = services().deliver_in_order([d.event for d in run.deliveries], hooks)
    report = run.report.to_dict() if run.report else None
    number = store.record_run(run.scenario.name, run.seed, ids, report)
    logged = next(r for r in store.list_runs(limit=MAX_RUNS) if r["id"] == number)
    return {"run": _run_dict(logged), "events": _rows(run)}, 202


@bp.get("/scenarios/runs")
def list_runs() -> Any:
    limit = query_int("limit", 10, low=1, high=MAX_RUNS) or 10
    return {"runs": [_run_dict(r) for r in services().store.list_runs(limit=limit)]}


def _run_dict(row: dict[str, Any]) -> dict[str, Any]:
    ids = row["delivery_ids"]
    store = services().store
    by_id = {d.id: d for d in store.list_deliveries(ids=ids, limit=None)[0]} if ids else {}
    return {**row, "deliveries": [services().delivery_dict(by_id[i]) for i in ids if i in by_id]}


def _builtin(name: str) -> str:
    """Only the built-ins by name: the API reads no file a request names."""
    if name not in builtin_names():
        raise NotFound(f"No scenario {name!r}: built-in ones are {', '.join(builtin_names())}.")
    return name


def _hooks(body: dict[str, Any]) -> list[Any]:
    store = services().store
    if body.get("webhooks"):
        return [store.require_active(store.get_webhook(i)) for i in body["webhooks"]]
    target = body.get("target")
    if target is not None:
        return [
            store.require_active(
                store.upsert_webhook(target["url"], verb=target.get("verb", "POST"), secret=target.get("secret"))
            )
        ]
    sink = next((h for h in store.list_webhooks() if h.name == DEFAULT_WEBHOOK_NAME), None)
    if sink is None:
        raise Conflict(
            "Give a target or webhooks: the built-in sink's webhook is gone.", details={"pointer": "/target"}
        )
    return [store.require_active(sink)]


def _rows(run: Run) -> list[dict[str, Any]]:
    return [
        {
            "step": p.step.number,
            "do": p.step.do,
            "time": p.moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "event_type": p.event_type,
            "id": p.event.get("id"),
            **p.links,
        }
        for p in run.played
    ]


# -- its part of /openapi.json ---------------------------------------------------------------

_RATE = r"(=(0(\.[0-9]{1,6})?|1(\.0{1,6})?|\.[0-9]{1,6}))?"
_DISORDER_PATTERN = rf"^(duplicates|reorder|delay){_RATE}(,(duplicates|reorder|delay){_RATE}){{0,2}}$"
# Request bodies are checked by api_schemas.validate_body, which reads api_schemas.SCHEMAS.
api_schemas.SCHEMAS["ScenarioRunRequest"] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
        "now": api_schemas.GENERATE_FIELDS["now"],
        "profile": api_schemas.GENERATE_FIELDS["profile"],
        "set": api_schemas.GENERATE_FIELDS["set"],
        "variants": api_schemas.GENERATE_FIELDS["variants"],
        "fresh": api_schemas.GENERATE_FIELDS["fresh"],
        "disorder": {
            "type": "string",
            "pattern": _DISORDER_PATTERN,
            "description": "duplicates=R,reorder=R,delay=R (rates from 0 to 1)",
        },
        "disorder_seed": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
        "webhooks": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
            "minItems": 1,
            "maxItems": 20,
            "uniqueItems": True,
        },
        "target": {"$ref": "#/components/schemas/Target"},
    },
    "not": {"required": ["webhooks", "target"]},
}
_ROW = {
    "type": "object",
    "required": ["step", "do", "time", "event_type", "id"],
    "properties": {
        "step": {"type": "integer"},
        "do": {"type": "string"},
        "time": {"type": "string"},
        "event_type": {"type": "string"},
        "id": {"type": "string"},
        "guest": {"type": "string"},
        "group": {"type": "string"},
        "invoice": {"type": "string"},
        "rebooked_from": {"type": "string"},
        "session": {"type": "string", "description": "A class session's number (sesion_id, session_id)"},
        "booking": {"type": "string", "description": "A class booking's registration_id"},
        "membership": {"type": "string", "description": "user_membership_id"},
        "package": {"type": "string", "description": "user_package_id"},
    },
}
_SUMMARY: dict[str, Any] = {
    "type": "object",
    "required": ["name", "description", "steps"],
    "properties": {"name": {"type": "string"}, "description": {"type": "string"}, "steps": {"type": "integer"}},
}
_RUN = {
    "type": "object",
    "required": ["id", "scenario", "seed", "created_at", "delivery_ids", "disorder", "deliveries"],
    "properties": {
        "id": {"type": "integer"},
        "scenario": {"type": "string"},
        "seed": {"type": "integer"},
        "created_at": {"type": "string"},
        "delivery_ids": {"type": "array", "items": {"type": "integer"}},
        "disorder": {"type": ["object", "null"], "description": "What was duplicated, reordered, delayed"},
        "deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}},
    },
}
bp.openapi_schemas = {  # type: ignore[attr-defined]
    "ScenarioRunRequest": api_schemas.SCHEMAS["ScenarioRunRequest"],
    "ScenarioList": {
        "type": "object",
        "required": ["scenarios"],
        "properties": {"scenarios": {"type": "array", "items": _SUMMARY}},
    },
    "ScenarioDetail": {
        "type": "object",
        "required": ["name", "description", "steps", "seed", "events"],
        "properties": {
            **_SUMMARY["properties"],
            "seed": {"type": "integer"},
            "events": {"type": "array", "items": _ROW},
        },
    },
    "ScenarioRun": _RUN,
    "ScenarioRunResponse": {
        "type": "object",
        "required": ["run", "events"],
        "properties": {"run": _RUN, "events": {"type": "array", "items": _ROW}},
    },
    "ScenarioRunList": {
        "type": "object",
        "required": ["runs"],
        "properties": {"runs": {"type": "array", "items": _RUN}},
    },
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _error(words: str) -> dict[str, Any]:
    return _json("Error", words)


_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "A built-in scenario",
}
bp.openapi_paths = {  # type: ignore[attr-defined]
    "/api/scenarios": {
        "get": {
            "operationId": "listScenarios",
            "summary": "The built-in scenarios",
            "responses": {"200": _json("ScenarioList", "Scenarios")},
        },
    },
    "/api/scenarios/{name}": {
        "parameters": [_NAME],
        "get": {
            "operationId": "showScenario",
            "summary": "A scenario's events as played on the world of `seed`",
            "parameters": [
                {
                    "name": "seed",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
                }
            ],
            "responses": {
                "200": _json("ScenarioDetail", "Its steps"),
                "400": _error("A bad seed"),
                "404": _error("No such scenario"),
            },
        },
    },
    "/api/scenarios/{name}/run": {
        "parameters": [_NAME],
        "post": {
            "operationId": "runScenario",
            "summary": "Play a scenario and deliver its events in order (disordered when asked); the run is logged",
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScenarioRunRequest"}}},
            },
            "responses": {
                "202": _json("ScenarioRunResponse", "Accepted: deliveries go out in the background, in order"),
                "400": _error("Malformed fields"),
                "404": _error("No such scenario or webhook"),
                "409": _error("The webhook is inactive"),
                "413": _error("Body too large"),
                "415": _error("Content-Type is not application/json"),
                "422": _error("A set the events cannot take, or a world the story cannot happen in"),
            },
        },
    },
    "/api/scenarios/runs": {
        "get": {
            "operationId": "listScenarioRuns",
            "summary": "The latest scenario runs, each with its deliveries in the order sent",
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RUNS},
                }
            ],
            "responses": {"200": _json("ScenarioRunList", "Runs, newest first"), "400": _error("A bad limit")},
        },
    },
}
