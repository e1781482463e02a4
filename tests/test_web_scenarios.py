"""``/api/scenarios`` on a real server: list, show, run in order to a receiver, disorder
as reported, runs logged with their deliveries; bad input is a 4xx naming the field.

Every response is checked against ``/openapi.json`` by ``LiveServer``.
"""

from __future__ import annotations

import json

from emulator.events.generate import parse_now
from emulator.scenario import load, stage

from .receivers import Receiver
from .web_support import LiveServer, live, wait_for  # noqa: F401  (fixtures)

NOW = "2024-07-25T08:00:00Z"


def test_lists_and_shows_the_built_in_scenarios(live: LiveServer) -> None:
    names = [s["name"] for s in live.get("/api/scenarios").json()["scenarios"]]
    assert {"guest-day", "no-show", "walk-in", "class-day", "membership-lifecycle", "package-redemption"} <= set(names)
    shown = live.get("/api/scenarios/reschedule?seed=2").json()
    assert shown["seed"] == 2 and shown["events"][1]["rebooked_from"] == shown["events"][0]["group"]
    missing = live.get("/api/scenarios/guest-night")
    assert missing.status_code == 404 and "built-in ones are class-day, guest-day" in missing.json()["error"]["message"]


def test_shows_what_links_a_class_a_membership_and_a_package(live: LiveServer) -> None:
    rows = live.get("/api/scenarios/class-day?seed=2").json()["events"]
    assert len({r["session"] for r in rows if "session" in r}) == 1 and all(
        "session" in r for r in rows if r["do"] != "create_guest"
    )
    waitlisted, approved = rows[5], next(r for r in rows if r["event_type"] == "Class.Booking.Approved")
    assert approved["booking"] == waitlisted["booking"] and approved["guest"] == waitlisted["guest"] == rows[4]["guest"]
    rows = live.get("/api/scenarios/membership-lifecycle?seed=2").json()["events"]
    assert len(rows) == 5 and len({(r["membership"], r["guest"]) for r in rows}) == 1
    rows = live.get("/api/scenarios/package-redemption?seed=2").json()["events"]
    redeemed = next(r for r in rows if r["event_type"] == "Guest.Package.Redemption")
    paid = next(r for r in rows if r["event_type"] == "Invoice.Closed")
    assert redeemed["package"] == rows[0]["package"] and redeemed["invoice"] == paid["invoice"] != rows[0]["invoice"]


def test_a_run_reaches_the_receiver_in_story_order_and_is_logged(live: LiveServer) -> None:
    with Receiver() as rx:
        response = live.post("/api/scenarios/guest-day/run", json={"seed": 3, "now": NOW, "target": {"url": rx.url}})
        assert response.status_code == 202, response.json()
        body = response.json()
        expected = [p.event["id"] for p in stage(load("guest-day"), seed=3, now=parse_now(NOW)).played]
        assert [row["id"] for row in body["events"]] == expected
        rx.wait_for(len(expected))
        assert [json.loads(r.body)["id"] for r in rx.requests] == expected
    run = body["run"]
    assert run["scenario"] == "guest-day" and run["seed"] == 3 and run["disorder"] is None
    runs = wait_for(
        lambda: (
            (rows := live.get("/api/scenarios/runs").json()["runs"])
            and all(d["status"] == "delivered" for d in rows[0]["deliveries"])
            and rows
        ),
        message="the run's deliveries to be delivered",
    )
    assert [d["id"] for d in runs[0]["deliveries"]] == run["delivery_ids"]
    assert [d["call_id"] for d in runs[0]["deliveries"]] == expected


def test_a_disordered_run_delivers_what_its_report_says(live: LiveServer) -> None:
    with Receiver() as rx:
        body = live.post(
            "/api/scenarios/refund/run",
            json={"seed": 5, "now": NOW, "target": {"url": rx.url}, "disorder": "duplicates=0.5,reorder=0.4"},
        ).json()
        report = body["run"]["disorder"]
        rx.wait_for(report["deliveries"])
    played = [row["id"] for row in body["events"]]
    assert [json.loads(r.body)["id"] for r in rx.requests] == [played[i] for i in report["order"]]
    assert set(played) == {json.loads(r.body)["id"] for r in rx.requests}
    assert len(rx.requests) == len(played) + len(report["duplicated"])


def test_bad_runs_are_refused_naming_the_field(live: LiveServer) -> None:
    bad_disorder = live.post("/api/scenarios/no-show/run", json={"disorder": "shuffle=1"})
    assert bad_disorder.status_code == 400 and "shuffle" in bad_disorder.json()["error"]["message"]
    bad_seed = live.post("/api/scenarios/no-show/run", json={"seed": "x"})
    assert bad_seed.status_code == 400
    both = live.post("/api/scenarios/no-show/run", json={"webhooks": [1], "target": {"url": "http://127.0.0.1:9/x"}})
    assert both.status_code == 400
    path = live.post("/api/scenarios/..%2Fetc%2Fpasswd/run", json={})
    assert path.status_code == 404
    assert live.get("/api/scenarios/runs").json()["runs"] == []  # nothing was logged by a refused run


def test_a_failed_first_attempt_of_a_run_is_retried_to_delivered(live: LiveServer) -> None:
    with Receiver([503, 503]) as rx:
        body = live.post("/api/scenarios/no-show/run", json={"seed": 1, "now": NOW, "target": {"url": rx.url}}).json()
        ids = body["run"]["delivery_ids"]
        settled = [live.settled(i) for i in ids]
        assert [d["status"] for d in settled] == ["delivered"] * 3
        # the first two requests are answered 503: the first two events' first attempts, in story order
        assert [d["attempts"] for d in settled] == [2, 2, 1]
        rx.wait_for(5)
        first_tries = [json.loads(r.body)["id"] for r in rx.requests[:2]]
        assert first_tries == [row["id"] for row in body["events"][:2]]
