"""``POST /api/validate``: the CLI's JSON report over HTTP (responses checked against /openapi.json)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from emulator.cli import cli

from .web_support import app, client  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "fixtures" / "captures"
DOC_SAMPLE = ROOT / "fixtures" / "docs" / "appointment-group-created.json"
TYPE = "AppointmentGroup.Created"


@pytest.fixture
def event() -> dict[str, Any]:
    return json.loads(DOC_SAMPLE.read_text(encoding="utf-8"))


def post(client: FlaskClient, body: bytes | str, query: str = "", content_type: str = "application/json") -> Any:
    return client.post(f"/api/validate{query}", data=body, content_type=content_type)


def test_a_valid_event_is_ok(client: FlaskClient, event: dict[str, Any]) -> None:
    response = post(client, json.dumps(event))
    assert response.status_code == 200
    report = response.get_json()
    assert (report["ok"], report["exit_code"], report["events"]) == (True, 0, [])
    assert report["summary"]["by_event_type"] == {TYPE: {"total": 1, "valid": 1, "invalid": 0, "skipped": 0}}


def test_invalid_events_are_listed_with_their_errors(client: FlaskClient, event: dict[str, Any]) -> None:
    broken = copy.deepcopy(event)
    broken["data"]["invoice_number"] = 8086
    report = post(client, json.dumps([event, broken])).get_json()
    assert (report["ok"], report["exit_code"]) == (False, 1)
    [invalid] = report["events"]
    assert invalid["source"]["label"] == "<body>[1]"
    assert [(e["path"], e["expected"], e["found"]) for e in invalid["errors"]] == [
        ("$.data.invoice_number", "string", "integer 8086")
    ]


def test_a_har_body_is_checked_entry_by_entry(client: FlaskClient) -> None:
    report = post(client, (CAPTURES / "proxy.har").read_bytes()).get_json()
    summary = report["summary"]
    assert (summary["total"], summary["valid"], summary["invalid"], summary["skipped"]) == (7, 1, 2, 4)


def test_json_lines_are_read_line_by_line(client: FlaskClient, event: dict[str, Any]) -> None:
    report = post(client, json.dumps(event) + "\n" + json.dumps(event) + "\n").get_json()
    assert report["summary"]["valid"] == 2


def test_event_type_recognizes_a_data_only_body(client: FlaskClient, event: dict[str, Any]) -> None:
    report = post(client, json.dumps(event["data"]), f"?event_type={TYPE}").get_json()
    assert report["ok"] is True
    assert report["summary"]["no_envelope"] == 1
    assert report["options"]["event_type"] == TYPE


def test_strict_and_fail_on_drift_change_the_verdict(client: FlaskClient, event: dict[str, Any]) -> None:
    event["data"]["loyalty_points"] = 3
    body = json.dumps(event)
    assert post(client, body).get_json()["ok"] is True
    strict = post(client, body, "?strict=true").get_json()
    assert strict["events"][0]["errors"][0]["keyword"] == "unknown_field"
    drift = post(client, body, "?fail_on_drift=1").get_json()
    assert (drift["ok"], drift["exit_code"], drift["drift"]["has_drift"]) == (False, 1, True)


def test_an_unknown_event_type_is_a_404_with_a_close_match(client: FlaskClient, event: dict[str, Any]) -> None:
    response = post(client, json.dumps(event), "?event_type=AppointmentGroup.Create")
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "unknown_event_type"
    assert "Did you mean 'AppointmentGroup.Created'?" in error["message"]


def test_a_bad_flag_is_a_400(client: FlaskClient, event: dict[str, Any]) -> None:
    response = post(client, json.dumps(event), "?strict=maybe")
    assert response.status_code == 400
    assert response.get_json()["error"]["details"] == {"parameter": "strict"}


def test_a_body_not_declared_json_is_refused(client: FlaskClient, event: dict[str, Any]) -> None:
    response = post(client, json.dumps(event), content_type="text/plain")
    assert response.status_code == 415


def test_the_api_answers_what_the_cli_prints(client: FlaskClient, tmp_path: Path) -> None:
    capture = tmp_path / "capture.jsonl"
    capture.write_bytes((CAPTURES / "corrupted.jsonl").read_bytes())
    printed = json.loads(CliRunner().invoke(cli, ["validate", "--format", "json", str(capture)]).stdout)
    answered = post(client, capture.read_bytes()).get_json()
    text = json.dumps(printed).replace(json.dumps(str(capture))[1:-1], "<body>")
    assert json.loads(text) == answered
