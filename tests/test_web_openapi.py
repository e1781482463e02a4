"""``/openapi.json`` matches the app exactly: the same routes, the same methods, valid schemas.

Responses are checked against the document by every web test (``web_support``); here
the document itself is compared with ``app.url_map`` and the checker is shown to bite.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from jsonschema import Draft202012Validator

from emulator.web.api_schemas import SCHEMAS
from emulator.web.openapi import document

from .web_support import app, check_response, operation_for  # noqa: F401  (fixtures)

#: Routes that are not API: the dashboard page and its static files.
NOT_API = {"/", "/static/<path:filename>"}


def _flask_routes(app: Flask) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule in NOT_API:
            continue
        template = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes.setdefault(template, set()).update(m for m in rule.methods or () if m not in ("HEAD", "OPTIONS"))
    return routes


def _documented(doc: dict) -> dict[str, set[str]]:
    return {path: {m.upper() for m in item if m != "parameters"} for path, item in doc["paths"].items()}


def test_every_route_is_documented_with_its_methods_and_nothing_else(app: Flask) -> None:
    flask_routes = _flask_routes(app)
    documented = _documented(document(blueprints=app.blueprints.values()))
    # Path parameters may be named differently in Flask ({webhook_id}) and the document ({id}).
    normalise = lambda p: re.sub(r"\{[^}]+\}", "{}", p)  # noqa: E731
    assert {normalise(p): m for p, m in flask_routes.items()} == {normalise(p): m for p, m in documented.items()}


def test_path_parameters_are_declared_for_every_templated_path(app: Flask) -> None:
    for path, item in document(blueprints=app.blueprints.values())["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", path))
        for method, op in item.items():
            if method == "parameters":
                continue
            declared = {p["name"] for p in item.get("parameters", []) + op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, f"{method.upper()} {path}: declares {declared}, needs {names}"


def test_the_document_is_openapi_3_1_with_valid_schemas() -> None:
    doc = document("1.2.3")
    assert doc["openapi"] == "3.1.0" and doc["info"]["version"] == "1.2.3"
    for _name, schema in SCHEMAS.items():
        Draft202012Validator.check_schema(schema)
    ids = [op["operationId"] for item in doc["paths"].values() for m, op in item.items() if m != "parameters"]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for item in doc["paths"].values():
        for method, op in item.items():
            if method == "parameters":
                continue
            assert op["responses"], f"{method} has no responses"
            for _status, response in op["responses"].items():
                for media in response.get("content", {}).values():
                    Draft202012Validator.check_schema(media["schema"])


def test_every_ref_resolves() -> None:
    text = str(document())
    for ref in set(re.findall(r"#/components/schemas/([A-Za-z]+)", text)):
        assert ref in SCHEMAS, ref


def test_the_served_document_is_the_built_one(app: Flask) -> None:
    served = app.test_client().get("/openapi.json").get_json()
    built = document(served["info"]["version"], app.blueprints.values())
    served.pop("servers")
    assert served == built


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/api/sinks/default/requests", "/api/sinks/{name}/requests"),
        ("POST", "/api/webhooks/3/ping", "/api/webhooks/{id}/ping"),
        ("PATCH", "/sink/x", "/sink/{name}"),
    ],
)
def test_paths_resolve_to_their_operation(method: str, path: str, template: str) -> None:
    found = operation_for(method, path)
    assert found is not None and found[0] == template


def test_the_response_checker_rejects_what_the_document_does_not_promise() -> None:
    with pytest.raises(AssertionError, match="does not list"):
        check_response("GET", "/api/health", 201, "application/json", lambda: {})
    with pytest.raises(AssertionError, match="breaks its documented schema"):
        check_response("GET", "/api/webhooks", 200, "application/json", lambda: {"webhooks": [{"id": "one"}]})
    with pytest.raises(AssertionError, match="not JSON"):
        check_response("GET", "/api/health", 200, "text/html", lambda: None)
    check_response(
        "GET",
        "/api/health",
        200,
        "application/json",
        lambda: {
            "status": "ok",
            "version": "1",
            "database": "x",
            "deliveries": {},
            "event_types": 1,
        },
    )


def test_a_blueprint_from_another_module_documents_its_own_routes(tmp_path) -> None:
    from flask import Blueprint

    from emulator.web.services import services_of

    from .web_support import make_app

    extra = Blueprint("extra", __name__, url_prefix="/api")
    extra.add_url_rule("/echo", "echo", lambda: {"ok": True}, methods=["POST"])
    extra.openapi_paths = {  # type: ignore[attr-defined]
        "/api/echo": {
            "post": {
                "operationId": "echo",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Echo"}}},
                    }
                },
            }
        }
    }
    extra.openapi_schemas = {"Echo": {"type": "object"}}  # type: ignore[attr-defined]
    app = make_app(tmp_path, PUBLIC_URL="http://127.0.0.1:9")
    try:
        app.register_blueprint(extra)
        doc = app.test_client().get("/openapi.json").get_json()
        assert "403" in doc["paths"]["/api/echo"]["post"]["responses"]
        assert doc["components"]["schemas"]["Echo"] == {"type": "object"}
        documented = {re.sub(r"\{[^}]+\}", "{}", p) for p in _documented(doc)}
        assert {re.sub(r"\{[^}]+\}", "{}", p) for p in _flask_routes(app)} == documented
    finally:
        services_of(app).close()
