"""Zenoti's read API answering from the world: a receiver that calls back is tested offline.

Everything runs over real HTTP on loopback: the API on a werkzeug server of the
``zenoti_emulator`` fixture, the receiver likewise, the events delivered by the real
deliverer. The replay test asks the API about every entity a 7-day stream named and
compares the answers with the last event that showed each one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from emulator.pytest_plugin import ZenotiEmulator
from emulator.zenoti_api import ApiState, Ledger, advanced_world, create_api_app

from .zenoti_receiver import EnrichingReceiver

# Its tests share module fixtures (built worlds, a server, a browser): `make test` keeps them on
# one xdist worker (tests/conftest.py), which builds each once and runs them in order.
pytestmark = pytest.mark.xdist_group("test_zenoti_api")

#: The events that show a guest's whole profile.
PROFILE_EVENTS = ("Guest.Created", "Guest.Updated", "Guest.OptedIn", "Guest.OptedOut")
NOW = datetime(2024, 7, 25, 8, 0, tzinfo=UTC)
KEY = "zenoti-emulator-key"
AUTH = {"Authorization": f"apikey {KEY}"}
#: What the API adds to the profile Guest.Updated shows (Zenoti's GET /v1/guests/{id} keys).
API_ONLY_GUEST_KEYS = {"tags", "referral", "primary_employee"}


@pytest.fixture(scope="module")
def day_world() -> Ledger:
    return advanced_world(seed=7, now=NOW, days=1)


class Api:
    """The API of one state, served on loopback, with a session."""

    def __init__(self, emulator: ZenotiEmulator, state: ApiState) -> None:
        self.state = state
        self.url = emulator.serve(create_api_app(state))
        self.session = requests.Session()

    def get(self, path: str, *, auth: bool = True, **kwargs: Any) -> requests.Response:
        headers = {**(AUTH if auth else {}), **kwargs.pop("headers", {})}
        return self.session.get(self.url + path, headers=headers, timeout=15, **kwargs)


@pytest.fixture
def api(zenoti_emulator: ZenotiEmulator, day_world: Ledger) -> Iterator[Api]:
    served = Api(zenoti_emulator, ApiState(lambda: day_world))
    yield served
    served.session.close()


# -- a receiver that calls back ---------------------------------------------------------


def test_a_receiver_enriches_every_booking_of_a_simulated_day_with_the_guests_phone(
    zenoti_emulator: ZenotiEmulator,
) -> None:
    events = zenoti_emulator.simulate(seed=3, now=NOW, days=1)
    receiver = EnrichingReceiver(zenoti_emulator.api_url, zenoti_emulator.api_key)
    hook = zenoti_emulator.serve(receiver.app) + "/hook"
    created = [e for e in events if e["event_type"] == "AppointmentGroup.Created"]
    assert len(created) > 20

    deliveries = zenoti_emulator.fire(hook, created, max_attempts=1)

    assert [d.status for d in deliveries] == ["delivered"] * len(created)
    assert receiver.failures == []
    # The phone the receiver got is the one the last Guest event before the end showed
    # (or, for a guest no Guest event named, the world's: every guest answers).
    last_profile = {e["data"]["id"]: e["data"] for e in events if e["event_type"] in PROFILE_EVENTS}
    got = {b["group_id"]: b for b in receiver.bookings}
    assert set(got) == {e["data"]["appointment_group_id"] for e in created}
    checked = 0
    for event in created:
        guest_id = event["data"]["guest"]["id"]
        assert got[event["data"]["appointment_group_id"]]["guest_id"] == guest_id
        if guest_id in last_profile:
            assert (
                got[event["data"]["appointment_group_id"]]["phone"]
                == last_profile[guest_id]["personal_info"]["mobile_phone"]
            )
            checked += 1
    assert checked > 0
    assert any(b["phone"] for b in receiver.bookings)


def test_a_slow_api_makes_the_receiver_time_out_and_zenoti_retry(zenoti_emulator: ZenotiEmulator) -> None:
    events = zenoti_emulator.simulate(seed=3, now=NOW, days=0.3, types=["AppointmentGroup.Created"])
    zenoti_emulator.api_state.latency = 0.5
    receiver = EnrichingReceiver(zenoti_emulator.api_url, zenoti_emulator.api_key, timeout=0.1)
    hook = zenoti_emulator.serve(receiver.app) + "/hook"

    [delivery] = zenoti_emulator.fire(hook, events[:1], max_attempts=2)

    assert delivery.status == "failed"
    assert (delivery.attempts, delivery.last_status) == (2, 503)
    assert len(receiver.failures) == 2 and "timed out" in receiver.failures[0].lower()


# -- one truth: a replayed week --------------------------------------------------------


def _named(events: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """The last event data that showed each entity, by kind and id."""
    last: dict[str, dict[str, dict[str, Any]]] = {
        k: {}
        for k in (
            "guest",
            "gone",
            "merged",
            "deleted",
            "group",
            "status",
            "invoice",
            "paid",
            "appointment",
            "membership",
            "package",
        )
    }
    for event in events:
        kind, data = event["event_type"], event["data"]
        if kind in PROFILE_EVENTS:
            last["guest"][data["id"]] = data
        elif kind == "Guest.Deleted":
            last["gone"][data["id"]] = data
        elif kind == "Guest.Merged":  # data.guest is the survivor; merged_guest_id is gone into it
            last["guest"][data["guest"]["id"]] = data["guest"]
            last["merged"][data["merged_guest_id"]] = data["guest"]["id"]
        elif kind == "AppointmentGroup.Delete":  # one per appointment; the booking is gone
            last["deleted"][data["appointment_group_id"]] = data
        elif kind in ("AppointmentGroup.Created", "AppointmentGroup.Updated"):
            last["group"][data["appointment_group_id"]] = data
            for appointment in data["appointments"]:
                last["appointment"][appointment["id"]] = {
                    **appointment,
                    "appointment_group_id": data["appointment_group_id"],
                }
            last["guest"].setdefault(data["guest"]["id"], {"id": data["guest"]["id"], "brief": data["guest"]})
        elif kind == "AppointmentGroup.Status":
            last["status"][data["appointment_group_id"]] = data
        elif kind == "Invoice.Closed":
            last["invoice"][data["invoice"]["id"]] = data["invoice"]
            last["paid"][data["invoice"]["id"]] = data["invoice"]["transactions"]
        elif kind.startswith("Invoice.Payments."):  # the whole list after the change
            last["paid"][data["invoice_id"]] = data["transactions"]
        elif kind.startswith("Guest.Membership."):
            last["membership"][data["user_membership_id"]] = data
        elif kind.startswith("Guest.Package.") and "user_package_id" in data:
            last["package"][data["user_package_id"]] = data
    return last


@pytest.mark.slow
def test_every_entity_a_week_of_events_named_answers_and_agrees_with_the_last_event(
    zenoti_emulator: ZenotiEmulator,
) -> None:
    events = zenoti_emulator.simulate(seed=11, now=NOW, days=7)
    base, session = zenoti_emulator.api_url, requests.Session()
    session.headers["Authorization"] = f"apikey {zenoti_emulator.api_key}"

    def get(path: str) -> requests.Response:
        return session.get(base + path, timeout=15)

    named = _named(events)
    assert all(
        named[k]
        for k in ("guest", "merged", "deleted", "group", "status", "invoice", "appointment", "membership", "package")
    ), {k: len(v) for k, v in named.items()}

    for guest_id, shown in named["guest"].items():
        answer = get(f"/v1/guests/{guest_id}")
        if guest_id in named["gone"]:
            assert answer.status_code == 404 and answer.json()["error"]["code"] == 404
            continue
        if guest_id in named["merged"]:  # a guest merged away answers as the guest they became
            survivor = named["merged"][guest_id]
            while survivor in named["merged"]:
                survivor = named["merged"][survivor]
            assert answer.status_code == 200 and answer.json()["id"] == survivor, guest_id
            continue
        assert answer.status_code == 200, guest_id
        profile = answer.json()
        if "brief" in shown:  # named only by a booking: its name and email agree
            brief = shown["brief"]
            info = profile["personal_info"]
            assert (info["first_name"], info["last_name"], info["email"]) == (
                brief["first_name"],
                brief["last_name"],
                brief["email"],
            )
        else:  # the whole profile is the last Guest event's
            assert {k: v for k, v in profile.items() if k not in API_ONLY_GUEST_KEYS} == shown

    # Each guest's groups in one list call: statuses, invoices and appointments as the
    # events last showed them. The single-entity paths are asked for every 5th one.
    listed: dict[str, dict[str, Any]] = {}
    away = set(named["gone"]) | set(named["merged"])  # their groups are checked one by one below
    for guest_id in {shown["guest"]["id"] for shown in named["group"].values()} - away:
        page = get(f"/v1/guests/{guest_id}/appointments?size=100").json()
        assert page["page_info"]["total"] == len(page["appointments"])
        listed.update({g["appointment_group_id"]: g for g in page["appointments"]})
    for n, (group_id, shown) in enumerate(named["group"].items()):
        if group_id in named["deleted"]:
            assert group_id not in listed
            assert get(f"/v1/appointment_groups/{group_id}").status_code == 404
            continue
        if shown["guest"]["id"] in named["gone"]:
            continue
        if shown["guest"]["id"] in named["merged"]:
            group = get(f"/v1/appointment_groups/{group_id}").json()["appointment_group"]
        else:
            group = listed[group_id]
        if n % 5 == 0:
            assert get(f"/v1/appointment_groups/{group_id}").json()["appointment_group"] == group
        assert group["invoice_id"] == shown["invoice_id"]
        assert group["status"] == named["status"].get(group_id, {}).get("appointment_group_status", 0)
        assert [
            (s["appointment_id"], s["start_time_utc"], s["service"]["id"]) for s in group["appointment_services"]
        ] == [(a["id"], a["start_time"], a["service_id"]) for a in shown["appointments"]]
    for n, (appointment_id, shown) in enumerate(named["appointment"].items()):
        if shown["appointment_group_id"] in named["deleted"]:
            continue
        if n % 5 == 0:
            answer = get(f"/v1/appointments/{appointment_id}").json()
            assert (answer["appointment_group_id"], answer["start_time_utc"], answer["service"]["id"]) == (
                shown["appointment_group_id"],
                shown["start_time"],
                shown["service_id"],
            )

    for invoice_id, shown in named["invoice"].items():
        invoice = get(f"/v1/invoices/{invoice_id}").json()["invoice"]
        # Items and totals as Invoice.Closed showed them, payments as the last event about
        # them listed them; the guest as they are now (a profile updated since shows its new
        # name on the old invoice).
        assert {k: v for k, v in invoice.items() if k not in ("guest", "transactions")} == {
            k: v for k, v in shown.items() if k not in ("guest", "transactions")
        }
        assert invoice["guest"]["id"] == shown["guest"]["id"]
        assert [(t["transaction_id"], t["payment_date"], t["amount_paid"]) for t in invoice["transactions"]] == [
            (t["transaction_id"], t["payment_date"], t["amount_paid"]) for t in named["paid"][invoice_id]
        ]

    owned: dict[str, dict[str, Any]] = {}
    for membership_id, shown in named["membership"].items():
        owner = zenoti_emulator.ledger.memberships[membership_id].guest_id  # only .Created names the guest
        if owner in named["gone"]:
            continue
        if owner not in owned:
            owned[owner] = {
                m["user_membership_id"]: m
                for m in get(f"/v1/guests/{owner}/memberships?size=100").json()["memberships"]
            }
        assert (owned[owner][membership_id]["status"], owned[owner][membership_id]["expiry_date"]) == (
            shown["status"],
            shown["expiry_date"],
        )

    packages_checked = 0
    for package_id, shown in named["package"].items():
        # Package events name no guest (nor does Zenoti's sample): the owner is the world's.
        owner = zenoti_emulator.ledger.packages[package_id].guest_id
        if owner in named["gone"]:
            continue
        found = {p["user_package_id"]: p for p in get(f"/v1/guests/{owner}/packages?size=100").json()["packages"]}
        assert (found[package_id]["status"], found[package_id]["user_package_state"]) == (
            shown["status"],
            shown["user_package_state"],
        )
        packages_checked += 1
    assert packages_checked > 0


# -- authentication ------------------------------------------------------------------------


def test_without_a_valid_key_or_token_every_path_is_401(api: Api, day_world: Ledger) -> None:
    guest_id = next(iter(day_world.world.guests))
    for path in ("/v1/centers", f"/v1/guests/{guest_id}", "/v1/guests/search?phone=1", f"/v1/invoices/{guest_id}"):
        for headers in (
            {},
            {"Authorization": "apikey wrong"},
            {"Authorization": KEY},
            {"Authorization": "bearer nope"},
            {"Authorization": "apikey"},
            {"Authorization": "Basic " + KEY},
        ):
            answer = api.get(path, auth=False, headers=headers)
            assert answer.status_code == 401, (path, headers)
            assert answer.json()["error"]["code"] == 401


def test_the_token_flow_gives_a_bearer_token_that_the_api_takes(api: Api) -> None:
    body = {
        "account_name": "spa",
        "user_name": "frontdesk",
        "password": "pw",
        "grant_type": "password",
        "app_id": "DB6D3C87-7913-43E3-81B6-08B0F1708D09",
        "app_secret": KEY,
        "device_id": "x",
    }
    issued = api.session.post(api.url + "/v1/tokens", json=body, timeout=15)
    assert issued.status_code == 200
    credentials = issued.json()["credentials"]
    assert credentials["token_type"] == "bearer" and credentials["app_id"] == body["app_id"]
    assert (
        api.get(
            "/v1/centers", auth=False, headers={"Authorization": f"bearer {credentials['access_token']}"}
        ).status_code
        == 200
    )
    refreshed = api.session.post(
        api.url + "/v1/tokens",
        json={"grant_type": "refresh_token", "refresh_token": credentials["refresh_token"]},
        timeout=15,
    )
    assert refreshed.status_code == 200
    assert api.session.post(api.url + "/v1/tokens", json={**body, "app_secret": "wrong"}, timeout=15).status_code == 401
    assert api.session.post(api.url + "/v1/tokens", data="not json", timeout=15).status_code == 400


# -- paging, 404, 429, bad input -----------------------------------------------------------


def test_lists_page_as_zenoti_pages(api: Api, day_world: Ledger) -> None:
    center = day_world.world.centers[0]
    whole = api.get(f"/v1/centers/{center.id}/services?size=100").json()
    total = whole["page_info"]["total"]
    assert total == len(center.services) == len(whole["services"])
    first, second = (api.get(f"/v1/centers/{center.id}/services?page={n}&size=3").json() for n in (1, 2))
    assert first["page_info"] == {"total": total, "page": 1, "size": 3}
    assert [s["id"] for s in first["services"] + second["services"]] == [s["id"] for s in whole["services"]][:6]
    assert api.get(f"/v1/centers/{center.id}/services").json()["page_info"]["size"] == 10
    beyond = api.get(f"/v1/centers/{center.id}/services?page=999").json()
    assert beyond["services"] == [] and beyond["page_info"]["total"] == total
    too_many = api.get(f"/v1/centers/{center.id}/services?size=101")
    assert too_many.status_code == 422
    assert too_many.json() == {"error": {"code": 422, "message": "You cannot request more than 100 items."}}


def test_an_unknown_id_is_404_with_zenotis_error_body(api: Api) -> None:
    unknown = "00000000-0000-0000-0000-000000000001"
    for path in (
        f"/v1/guests/{unknown}",
        f"/v1/guests/{unknown}/appointments",
        f"/v1/guests/{unknown}/memberships",
        f"/v1/guests/{unknown}/packages",
        f"/v1/appointments/{unknown}",
        f"/v1/appointment_groups/{unknown}",
        f"/v1/invoices/{unknown}",
        f"/v1/centers/{unknown}",
        f"/v1/centers/{unknown}/employees",
        f"/v1/centers/{unknown}/services",
        "/v1/no-such-path",
    ):
        answer = api.get(path)
        assert answer.status_code == 404, path
        assert set(answer.json()["error"]) == {"code", "message"} and answer.json()["error"]["code"] == 404


def test_guests_are_found_by_phone_email_name_and_code(api: Api, day_world: Ledger) -> None:
    guest = next(g for g in day_world.world.guests.values() if g.mobile and g.mobile.number and g.email)
    profile = api.get(f"/v1/guests/{guest.id}").json()
    info = profile["personal_info"]
    phone = info["mobile_phone"]
    for query in (
        {"phone": phone["number"]},
        {"phone": f"+{phone['country_code']} {phone['number']}"},
        {"email": info["email"].upper()},
        {"user_code": profile["code"]},
        {"first_name": info["first_name"], "last_name": info["last_name"]},
    ):
        found = api.get("/v1/guests/search", params={**query, "size": 100}).json()
        assert guest.id in {g["id"] for g in found["guests"]}, query
        assert all(g == api.get(f"/v1/guests/{g['id']}").json() for g in found["guests"][:3])
    assert api.get("/v1/guests/search", params={"email": "nobody@nowhere.example"}).json()["guests"] == []
    assert api.get("/v1/guests/search").status_code == 400


def test_the_rate_limit_answers_429_per_key_until_the_bucket_refills(
    zenoti_emulator: ZenotiEmulator, day_world: Ledger
) -> None:
    clock = [100.0]
    served = Api(zenoti_emulator, ApiState(lambda: day_world, rate_limit=3, clock=lambda: clock[0]))
    answers = [served.get("/v1/centers") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["Organization-RateLimit-Limit"] == "3;w=60;b=3"
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[3].json()["error"]["code"] == 429 and int(answers[3].headers["Retry-After"]) > 0
    clock[0] += 20  # a third of a minute refills one call of three
    assert served.get("/v1/centers").status_code == 200
    assert served.get("/v1/centers").status_code == 429
    off = Api(zenoti_emulator, ApiState(lambda: day_world))
    assert all(off.get("/v1/centers").status_code == 200 for _ in range(20))
    assert "Organization-RateLimit-Limit" not in off.get("/v1/centers").headers


@pytest.mark.parametrize(
    "path",
    [
        "/v1/centers?page=0",
        "/v1/centers?size=0",
        "/v1/centers?page=abc",
        "/v1/centers?size=1e3",
        "/v1/centers?page=-1",
        "/v1/centers?page=99999999999999999999",
        "/v1/guests/search?phone=%00",
        "/v1/guests/search?center_id=nope&phone=1",
        "/v1/guests/" + "a" * 5000,
        "/v1/guests/%C3%A9%E2%82%AC",
        "/v1/guests/..%2F..%2Fetc",
        "/v1/appointments",
        "/v1/appointments?center_id=x&start_date=2024-07-25&end_date=2024-07-26",
        "/v1/guests/x/appointments?start_date=yesterday",
        "/v1/appointments?center_id={center}&start_date=2024-07-26&end_date=2024-07-25",
        "/v1/appointments?center_id={center}&start_date=2024-13-01&end_date=2024-07-25",
    ],
)
def test_bad_input_gets_a_4xx_never_a_5xx(api: Api, day_world: Ledger, path: str) -> None:
    answer = api.get(path.format(center=day_world.world.centers[0].id))
    assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text[:200])
    assert answer.json()["error"]["code"] == answer.status_code


def test_a_centers_appointments_by_day(api: Api, day_world: Ledger) -> None:
    center = day_world.world.centers[0]
    day = NOW.astimezone(center.zone).date().isoformat()
    listed = api.get(
        "/v1/appointments", params={"center_id": center.id, "start_date": day, "end_date": day, "size": 100}
    ).json()
    ours = {
        a.id
        for a, g in day_world.appointments.values()
        if g.center.id == center.id and a.start.astimezone(center.zone).date().isoformat() == day
    }
    assert {a["appointment_id"] for a in listed["appointments"]} == ours
    assert listed["page_info"]["total"] == len(ours)
