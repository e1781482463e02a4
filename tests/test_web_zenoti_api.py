"""The app's ``/v1``: Zenoti's read API for the worlds the app plays (in-process; every
response is checked against the OpenAPI document by the test client)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from emulator.web.services import services_of

from .web_support import app, client, make_app  # noqa: F401  (fixtures)

AUTH = {"Authorization": "apikey zenoti-emulator-key"}


def generate(
    client: FlaskClient, count: int = 2, seed: int = 7, event_type: str = "AppointmentGroup.Created"
) -> list[dict[str, Any]]:
    answer = client.post("/api/events/generate", json={"event_type": event_type, "count": count, "seed": seed})
    assert answer.status_code == 200
    return [e["data"] for e in answer.get_json()["events"]]


def test_what_the_app_generated_is_answered_for(client: FlaskClient) -> None:
    assert client.get("/v1/centers", headers=AUTH).status_code == 404  # no world played yet
    for data in generate(client):
        guest = client.get(f"/v1/guests/{data['guest']['id']}", headers=AUTH).get_json()
        assert guest["personal_info"]["email"] == data["guest"]["email"]
        group = client.get(f"/v1/appointment_groups/{data['appointment_group_id']}", headers=AUTH).get_json()[
            "appointment_group"
        ]
        assert [s["appointment_id"] for s in group["appointment_services"]] == [a["id"] for a in data["appointments"]]
        invoice = client.get(f"/v1/invoices/{data['invoice_id']}", headers=AUTH).get_json()["invoice"]
        assert invoice["invoice_number"] == data["invoice_number"]
    assert client.get("/v1/centers", headers=AUTH).get_json()["page_info"]["total"] > 0
    assert client.get("/v1/centers").status_code == 401


def test_older_worlds_still_answer_until_eight_newer_ones_replace_them(client: FlaskClient) -> None:
    [first] = generate(client, count=1, seed=1)
    path = f"/v1/invoices/{first['invoice_id']}"
    for seed in range(2, 9):
        generate(client, count=1, seed=seed)
    assert client.get(path, headers=AUTH).status_code == 200  # 8 worlds kept, the first among them
    generate(client, count=1, seed=9)
    answer = client.get(path, headers=AUTH)
    assert answer.status_code == 404 and answer.get_json() == {"error": {"code": 404, "message": "Invoice not found."}}


def test_the_apps_settings_and_a_world_given_at_start(tmp_path: Path) -> None:
    world = {"seed": 4, "now": datetime(2024, 7, 25, 8, tzinfo=UTC), "days": 0.3}
    app = make_app(tmp_path, API_KEY="k", API_RATE_LIMIT=2, API_WORLD=world)
    try:
        client = app.test_client()
        assert client.get("/v1/centers", headers=AUTH).status_code == 401
        answers = [client.get("/v1/centers", headers={"Authorization": "apikey k"}) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        page = client.get("/")
        assert b'data-zenoti-key="k"' in page.data  # the dashboard asks /v1 with it
        missing = client.get("/v1/no/such/path", headers={"Authorization": "apikey k"})
        assert missing.status_code in (404, 429) and set(missing.get_json()["error"]) == {"code", "message"}
    finally:
        services_of(app).close()
