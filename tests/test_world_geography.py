"""A business with geography: each center's country decides its currency, prices, tax,
and its guests' names, addresses and phones. Checked on the events alone, over several
seeds and both profiles; phone numbers are proved valid by ``phonenumbers`` (Google's
libphonenumber metadata), not by the emulator's own tables.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from emulator.events.generate import simulate_events
from emulator.world.geography import COUNTRIES, STATE_COUNTRY

# Its tests share module fixtures (built worlds, a server, a browser): `make test` keeps them on
# one xdist worker (tests/conftest.py), which builds each once and runs them in order.
pytestmark = pytest.mark.xdist_group("test_world_geography")

NOW = datetime(2024, 7, 25, 14, 52, 6, tzinfo=UTC)
DAYS = 4
RUNS = [("realistic", 0), ("realistic", 1), ("realistic", 2), ("realistic", 3), ("edge", 0), ("edge", 1)]
#: What a receiver might hold: Zenoti country id -> ISO code. Only the id comes in events.
BY_ID = {c.zenoti_id: c.iso for c in COUNTRIES.values()}
#: Postcode shapes by country (the UAE has none).
POSTCODES = {
    "US": r"\d{5}",
    "IN": r"\d{6}",
    "AU": r"\d{4}",
    "NZ": r"\d{4}",
    "CA": r"[A-Z]\d[A-Z] ?\d[A-Z]\d",
    "GB": r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}",
    "NP": r"\d{5}",
    "IR": r"\d{5}-?\d{5}|\d{3,10}",
}
GUEST_TYPES = ("Guest.Created", "Guest.Updated", "Guest.Deleted")


@pytest.fixture(scope="module", params=RUNS, ids=lambda p: f"{p[0]}-{p[1]}")
def events(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    profile, seed = request.param
    return list(simulate_events(seed=seed, now=NOW, days=DAYS, profile=profile))


def guests(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["event_type"] in GUEST_TYPES]


def center_countries(events: list[dict[str, Any]]) -> dict[str, int]:
    """Each center's country, as a receiver learns it: from its guests' addresses."""
    found: dict[str, set[int]] = defaultdict(set)
    for guest in guests(events):
        found[guest["center_id"]].add(guest["address_info"]["country_id"])
    assert all(len(ids) == 1 for ids in found.values()), found
    return {center: ids.pop() for center, ids in found.items()}


def test_guest_phones_carry_both_keys_and_are_valid_for_their_country(events):
    phones = [(g, g["personal_info"]["mobile_phone"]) for g in guests(events) if g["personal_info"]["mobile_phone"]]
    assert len(phones) > 20
    for guest, phone in phones:
        assert set(phone) >= {"country_code", "phone_code", "number"}
        assert isinstance(phone["number"], str) and phone["number"].isdigit()
        iso = BY_ID[phone["country_code"]]  # the country id, as live guests carry it
        assert phone["country_code"] == guest["address_info"]["country_id"]
        parsed = phonenumbers.parse(f"+{phone['phone_code']} {phone['number']}")  # how a receiver builds it
        assert phonenumbers.is_valid_number(parsed), phone
        assert phonenumbers.region_code_for_number(parsed) == iso, phone
        assert phonenumbers.number_type(parsed) in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def test_employee_phones_keep_the_docs_shape_and_are_valid(events):
    staff = [e["data"] for e in events if e["event_type"].startswith("Employee.")]
    checked = 0
    for employee in staff:
        phone, address = employee["personal_info"]["mobile_phone"], employee["address"]
        if address["state_id"] != -1:
            assert STATE_COUNTRY[address["state_id"]] == BY_ID[address["country_id"]]
        if not phone or not phone.get("number"):
            continue
        parsed = phonenumbers.parse(
            f"+{phone['country_code']} {phone['number']}"
        )  # the dialling code, as the docs show
        assert phonenumbers.is_valid_number(parsed), phone
        assert phonenumbers.region_code_for_number(parsed) == BY_ID[address["country_id"]]
        checked += 1
    assert checked or not staff


def test_addresses_name_a_state_of_their_country_and_a_postcode_of_its_shape(events):
    for guest in guests(events):
        address = guest["address_info"]
        iso = BY_ID[address["country_id"]]
        if address["state_id"] != -1:
            assert STATE_COUNTRY[address["state_id"]] == iso, address
        if address["zip_code"]:
            assert re.fullmatch(POSTCODES[iso], address["zip_code"]), address
        elif iso == "AE":
            assert address["zip_code"] == ""


def invoice_lines(events: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (e["data"]["invoice"]["center_id"], item)
        for e in events
        if e["event_type"] == "Invoice.Closed"
        for item in e["data"]["invoice"]["invoice_items"]
    ]


def test_one_currency_per_country_and_tax_its_rate(events):
    countries = center_countries(events)
    currencies: dict[int, set[int]] = defaultdict(set)
    rates: dict[int, set[float]] = defaultdict(set)
    for center, item in invoice_lines(events):
        if center not in countries:
            continue
        country = countries[center]
        currencies[country].add(item["price"]["currency_id"])
        if item["price"]["sales"] >= 20:  # small amounts round the rate away
            rates[country].add(round(item["price"]["tax"] / item["price"]["sales"], 2))
    assert currencies
    assert all(len(ids) == 1 for ids in currencies.values()), currencies
    assert len({min(ids) for ids in currencies.values()}) == len(currencies), "two countries share a currency"
    assert all(len(r) == 1 for r in rates.values()), rates


def test_prices_differ_by_country():
    """Over several seeds, a service sold in two countries costs two different list prices;
    within one country every center asks the same."""
    prices: dict[tuple[str, int], set[float]] = defaultdict(set)
    for seed in range(4):
        evs = list(simulate_events(seed=seed, now=NOW, days=2))
        countries = center_countries(evs)
        for center, item in invoice_lines(evs):
            if (
                item["type"] == 0
                and center in countries
                and item["price"]["sales"] > 0
                and item["code"] not in ("NSFEE", "LCFEE")
            ):
                prices[(item["name"], countries[center])].add(
                    round(item["price"]["sales"] + item["price"]["discount"], 2)
                )
    assert all(len(p) == 1 for p in prices.values()), {k: v for k, v in prices.items() if len(v) > 1}
    by_service: dict[str, dict[int, float]] = defaultdict(dict)
    for (name, country), p in prices.items():
        by_service[name][country] = p.pop()
    compared = [levels for levels in by_service.values() if len(levels) > 1]
    assert compared, "no service sold in two countries"
    assert all(len(set(levels.values())) > 1 for levels in compared), compared


def test_guest_names_follow_the_country():
    """Hyderabad's guests are named from the Indian locale, Brooklyn's from the US one:
    the two name pools barely overlap."""
    first: dict[int, set[str]] = defaultdict(set)
    for seed in range(4):
        for g in guests(list(simulate_events(seed=seed, now=NOW, days=2))):
            first[g["address_info"]["country_id"]].add(g["personal_info"]["first_name"])
    us, india = first[225], first[95]
    assert us and india
    assert len(us & india) < 0.2 * min(len(us), len(india))


def test_the_phone_variant_changes_guest_country_codes_and_nothing_else():
    """guest-phone-country-code=phone-code puts the dialling code in country_code (as the
    docs' Employee samples have it); every other byte of the stream stays the same."""
    default = list(simulate_events(seed=5, now=NOW, days=1))
    variant = list(simulate_events(seed=5, now=NOW, days=1, variants={"guest-phone-country-code": "phone-code"}))
    assert len(default) == len(variant)
    changed = 0
    for before, after in zip(default, variant, strict=True):
        # a profile is the event's data, or its data.guest (Guest.Merged's survivor)
        profile_before, profile_after = (
            (before["data"].get("guest", before["data"]), after["data"].get("guest", after["data"]))
            if before["event_type"] == "Guest.Merged"
            else (before["data"], after["data"])
        )
        if before["event_resource"] == "Guest" and (profile_before.get("personal_info") or {}).get("mobile_phone"):
            phone, moved = (
                profile_before["personal_info"]["mobile_phone"],
                profile_after["personal_info"]["mobile_phone"],
            )
            assert moved["country_code"] == phone["phone_code"] == moved["phone_code"]
            assert BY_ID[phone["country_code"]]  # the default: the country id
            changed += phone["country_code"] != moved["country_code"]
            moved["country_code"] = phone["country_code"]
        assert before == after
    assert changed > 5
