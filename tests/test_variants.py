"""Variants: one declared registry, one value the world is built with, the same option
everywhere events are made (CLI, API, pytest fixture).

Each variant is proved from the events alone: the stream with the variant differs from
the stream without it exactly where the variant says, and nowhere else.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from emulator.errors import UsageError
from emulator.events.generate import simulate_events
from emulator.events.registry import default_registry
from emulator.variants import DEFAULT, VARIANTS, Variants

from .receivers import Receiver
from .web_support import LiveServer, app, client, live  # noqa: F401  (fixtures)

NOW = datetime(2024, 7, 25, 8, tzinfo=UTC)
CLI = str(Path(sys.executable).with_name("zenoti-emulator"))


def stream(seed: int, profile: str, days: float = 2.0, **variants: str) -> list[dict[str, Any]]:
    return list(simulate_events(seed=seed, now=NOW, days=days, profile=profile, variants=variants or None))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)


# -- the registry and its command -----------------------------------------------------


def test_every_variant_declares_a_default_among_its_choices_and_its_evidence() -> None:
    for name, variant in VARIANTS.items():
        assert variant.name == name
        assert variant.default == variant.choices[0] and len(variant.choices) >= 2
        assert variant.evidence and "\n" not in variant.evidence
        assert variant.changes and "\n" not in variant.changes


def test_variants_json_lists_name_default_choices_and_evidence() -> None:
    done = run("variants", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["name"] for r in rows] == list(VARIANTS)
    for row in rows:
        assert {"name", "default", "choices", "evidence"} <= set(row)
        assert row["default"] in row["choices"]
    text = run("variants").stdout
    assert all(f"{name}=" in text for name in VARIANTS)


@pytest.mark.parametrize(
    "command",
    [
        ["generate"],
        ["fire", "-t", "http://127.0.0.1:9/hook"],
        ["simulate", "--days", "0.01"],
        ["scenario", "run", "guest-day"],
        ["check", "http://127.0.0.1:9/hook"],
    ],
)
@pytest.mark.parametrize(
    "variant, says",
    [
        ("nosuch=1", "Unknown variant 'nosuch'"),
        ("status-1=maybe", "cannot be 'maybe': use one of closed, cancelled"),
        ("status-1", "takes NAME=VALUE"),
    ],
)
def test_a_wrong_variant_is_one_error_line_and_exit_2_on_every_command(
    command: list[str], variant: str, says: str
) -> None:
    done = run(*command, "--variant", variant)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and says in errors[0], done.stderr


def test_variants_parse_keep_only_what_differs_from_the_default() -> None:
    assert Variants.parse(["status-1=closed"]) == DEFAULT
    chosen = Variants.parse(["status-1=cancelled", "invoice-guest-email=guest_email"])
    assert chosen == Variants.of({"invoice-guest-email": "guest_email", "status-1": "cancelled"})
    assert chosen["reported-events"] == "on" and chosen["status-1"] == "cancelled"
    with pytest.raises(UsageError):
        Variants.of({"status-1": 1})


# -- each variant changes what it says and nothing else --------------------------------


def _without_guest_email_key(event: dict[str, Any]) -> dict[str, Any]:
    if event["event_type"] != "Invoice.Closed":
        return event
    event = json.loads(json.dumps(event))
    guest = event["data"]["invoice"]["guest"]
    guest["email"] = guest.pop("guest_email")
    return event


@pytest.mark.parametrize("seed", [3, 11])
@pytest.mark.parametrize("profile", ["realistic", "edge"])
def test_invoice_guest_email_renames_that_key_and_changes_nothing_else(seed: int, profile: str) -> None:
    plain = stream(seed, profile)
    renamed = stream(seed, profile, **{"invoice-guest-email": "guest_email"})
    invoices = [e for e in renamed if e["event_type"] == "Invoice.Closed"]
    assert invoices, "a day has paid invoices"
    assert all(
        "guest_email" in e["data"]["invoice"]["guest"] and "email" not in e["data"]["invoice"]["guest"]
        for e in invoices
    )
    assert all("email" in e["data"]["invoice"]["guest"] for e in plain if e["event_type"] == "Invoice.Closed")
    assert [_without_guest_email_key(e) for e in renamed] == plain
    registry = default_registry()
    assert all(registry[e["event_type"]].is_valid(e) for e in renamed)


# -- the API and the fixture -----------------------------------------------------------


def test_api_generate_and_list_take_variants(client: FlaskClient) -> None:
    listed = client.get("/api/variants").get_json()["variants"]
    assert [v["name"] for v in listed] == list(VARIANTS)
    body = {
        "event_type": "Invoice.Closed",
        "seed": 5,
        "now": "2024-07-25T08:00:00Z",
        "variants": {"invoice-guest-email": "guest_email"},
    }
    event = client.post("/api/events/generate", json=body).get_json()["events"][0]
    assert "guest_email" in event["data"]["invoice"]["guest"]
    wrong = client.post("/api/events/generate", json={**body, "variants": {"status-1": "maybe"}})
    assert wrong.status_code == 400
    assert "variants" in json.dumps(wrong.get_json())


def test_api_scenario_run_plays_the_story_under_the_variants(live: LiveServer) -> None:
    with Receiver() as rx:
        response = live.post(
            "/api/scenarios/late-cancel/run",
            json={
                "seed": 3,
                "now": "2024-07-25T08:00:00Z",
                "target": {"url": rx.url},
                "variants": {"status-1": "cancelled"},
            },
        )
        assert response.status_code == 202, response.json()
        count = len(response.json()["events"])
        rx.wait_for(count)
        codes = [
            json.loads(r.body)["data"]["appointment_group_status"]
            for r in rx.requests
            if json.loads(r.body)["event_type"] == "AppointmentGroup.Status"
        ]
    assert codes[-1] == 1, "the cancellation reads 1 under status-1=cancelled"
    wrong = live.post("/api/scenarios/late-cancel/run", json={"variants": {"nosuch": "x"}})
    assert wrong.status_code == 400


def test_the_pytest_fixture_takes_variants(zenoti_emulator: Any) -> None:
    (plain,) = zenoti_emulator.generate("Invoice.Closed", seed=5, now="2024-07-25T08:00:00Z")
    (other,) = zenoti_emulator.generate(
        "Invoice.Closed", seed=5, now="2024-07-25T08:00:00Z", variants={"invoice-guest-email": "guest_email"}
    )
    assert other["data"]["invoice"]["guest"]["guest_email"] == plain["data"]["invoice"]["guest"]["email"]
    played = zenoti_emulator.scenario(
        "guest-day", seed=5, now="2024-07-25T08:00:00Z", variants={"invoice-guest-email": "guest_email"}
    )
    assert any("guest_email" in e["data"]["invoice"]["guest"] for e in played if e["event_type"] == "Invoice.Closed")
