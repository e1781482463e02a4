"""Guest memberships and packages add up, over long simulations and many seeds.

As in test_world.py, each promise is checked on the events alone, as a receiver sees
them: the order of a membership's events, a package's sessions, the visit a redemption
belongs to. Then the shapes: every generated event has its published sample's keys
(misspellings included) and only the codes the samples document.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from emulator.captures.drift import drift_clean_schema
from emulator.captures.validate import validate_payloads
from emulator.events.generate import generate_events, simulate_events
from emulator.events.registry import default_registry
from emulator.world.memberships import Membership, move

from .conftest import ROOT

# Its tests share module fixtures (built worlds, a server, a browser): `make test` keeps them on
# one xdist worker (tests/conftest.py), which builds each once and runs them in order.
pytestmark = pytest.mark.xdist_group("test_world_memberships_packages")

NOW = datetime(2024, 7, 25, 14, 52, 6, tzinfo=UTC)
DAYS = 30
MEMBERSHIP = (
    "Guest.Membership.Created",
    "Guest.Membership.Freeze",
    "Guest.Membership.Unfreeze",
    "Guest.Membership.Cancelled",
    "Guest.Membership.Reinstate",
)
PACKAGE = (
    "Guest.Package.Created",
    "Guest.Package.Redemption",
    "Guest.Package.RedemptionReversal",
    "Guest.Package.StatusUpdate",
    "Guest.Package.ValidityUpdate",
)
MINE = MEMBERSHIP + PACKAGE


@pytest.fixture(
    scope="module",
    params=[("realistic", 0), ("realistic", 1), ("realistic", 2), ("edge", 0), ("edge", 3)],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def run(request: pytest.FixtureRequest) -> tuple[Any, list[dict[str, Any]]]:
    """A month of one world, with the events a receiver of these types (and invoices) gets."""
    profile, seed = request.param
    stream = simulate_events(
        seed=seed, now=NOW, days=DAYS, profile=profile, types=[*MINE, "Invoice.Closed", "Guest.Deleted"]
    )
    return stream, list(stream)


@pytest.fixture(scope="module")
def events(run: tuple[Any, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return run[1]


@pytest.mark.slow
def test_every_type_appears_within_a_week(events):
    # Ten days: since the guest base is sized for realistic visits (issue 19), holders come
    # back every few weeks, not every few days, and a reversal needs a redemption first.
    week = NOW + timedelta(days=10)
    seen = Counter(e["event_type"] for e in events if e["event_timestamp"] < week.strftime("%Y-%m-%dT%H:%M:%S"))
    assert set(MINE) <= set(seen)


#: What may follow what, for one membership, as a receiver sees it (None: its first event).
MEMBERSHIP_MOVES = {
    None: {"Guest.Membership.Created", "Guest.Membership.Freeze", "Guest.Membership.Cancelled"},
    "Guest.Membership.Created": {"Guest.Membership.Freeze", "Guest.Membership.Cancelled"},
    "Guest.Membership.Freeze": {"Guest.Membership.Unfreeze"},
    "Guest.Membership.Unfreeze": {"Guest.Membership.Freeze", "Guest.Membership.Cancelled"},
    "Guest.Membership.Cancelled": {"Guest.Membership.Reinstate"},
    "Guest.Membership.Reinstate": {"Guest.Membership.Freeze", "Guest.Membership.Cancelled"},
}


@pytest.mark.slow
def test_frozen_before_unfrozen_and_only_reinstatement_after_a_cancellation(events):
    last: dict[str, str | None] = defaultdict(lambda: None)
    center: dict[str, str] = {}
    moves: Counter[tuple[str | None, str]] = Counter()
    for event in events:
        kind = event["event_type"]
        if kind not in MEMBERSHIP:
            continue
        data = event["data"]
        key = data["user_membership_id"]
        assert kind in MEMBERSHIP_MOVES[last[key]], f"{kind} after {last[key]} for membership {key}"
        moves[(last[key], kind)] += 1
        last[key] = kind
        assert center.setdefault(key, data["center"]["id"]) == data["center"]["id"]
        if kind == "Guest.Membership.Freeze":
            assert data["freeze"]["start_date"] < data["freeze"]["end_date"]
            assert data["recurrence_status"] == 3 and data["next_collection_date"] is not None
        if kind == "Guest.Membership.Unfreeze":
            assert data["next_collection_date"] > event["event_timestamp"][:10]
        if kind == "Guest.Membership.Cancelled":
            assert data["cancel"]["cancel_date"] == data["cancel"]["termination_date"]
            assert data["grace_period_date"] >= data["cancel"]["cancel_date"]
    # the rules were exercised, not vacuously true
    assert moves[("Guest.Membership.Freeze", "Guest.Membership.Unfreeze")] > 3
    assert moves[("Guest.Membership.Cancelled", "Guest.Membership.Reinstate")] > 0


@pytest.mark.slow
def test_a_new_membership_belongs_to_the_invoice_it_was_sold_on_and_its_guest(events):
    deleted: set[str] = set()
    for event in events:
        if event["event_type"] == "Guest.Deleted":
            deleted.add(event["data"]["id"])
        if event["event_type"] in ("Guest.Membership.Created", "Guest.Membership.Reinstate"):
            assert not {m["id"] for m in event["data"]["members"]} & deleted, "a membership of a deleted guest"
        if event["event_type"] == "Guest.Membership.Created":
            data = event["data"]
            assert data["group_user_membership_id"] == data["invoice"]["id"]
            assert data["members"][0]["id"] == data["guest_id"] and data["members"][0]["name"].endswith(" (Primary)")
            assert (data["next_collection_date"] is None) == (data["recurrence_status"] == -1)
            assert data["expiry_date"] > data["purchase"]["date"]
            balance = data["service_balance"][0]
            assert balance["balance"] == balance["total"] - balance["used"] >= 0


@pytest.mark.slow
def test_packages_are_redeemed_only_while_sessions_are_left_and_reversals_follow_redemptions(events):
    sessions: dict[str, Counter[str]] = {}  # sessions left by service, for packages sold in the run
    redeemed: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    closed: set[str] = set()
    ends: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for event in events:
        kind, data = event["event_type"], event["data"]
        if kind not in PACKAGE:
            continue
        key = data["user_package_id"]
        assert key not in closed, f"{kind} after the package {key} closed"
        counts[kind] += 1
        if kind == "Guest.Package.Created":
            assert key not in sessions
            sessions[key] = Counter({s["service_type_info"]["id"]: s["balance"] for s in data["services"]})
            assert all(s["used"] == 0 and s["balance"] == s["total"] > 0 for s in data["services"])
        elif kind == "Guest.Package.Redemption":
            visit = tuple(sorted(r["invoice"]["item_id"] for r in data["service_redemptions"]))
            assert visit and visit not in redeemed[key]
            redeemed[key].add(visit)
            assert data["has_first_redemption"] is True and data["product_redemptions"] == []
            for r in data["service_redemptions"]:
                if key in sessions:
                    assert sessions[key][r["service"]["id"]] > 0, "a session redeemed that the package does not have"
                    sessions[key][r["service"]["id"]] -= 1
        elif kind == "Guest.Package.RedemptionReversal":
            visit = tuple(sorted(r["invoice"]["item_id"] for r in data["service_redemptions_reversal"]))
            assert visit in redeemed[key], "a reversal of nothing redeemed"
            redeemed[key].remove(visit)
            for r in data["service_redemptions_reversal"]:
                if key in sessions:
                    sessions[key][r["service"]["id"]] += 1
        elif kind == "Guest.Package.StatusUpdate":
            assert data["user_package_state"] == 0
            closed.add(key)
        elif kind == "Guest.Package.ValidityUpdate":
            assert data["date"]["end"] > ends.get(key, data["date"]["start"])
            assert data["date"]["end_date_with_grace"] >= data["date"]["end"]
        if kind != "Guest.Package.StatusUpdate":
            assert data["user_package_state"] == 2
        ends[key] = data["date"]["end"]
    assert counts["Guest.Package.Redemption"] > 20 and counts["Guest.Package.RedemptionReversal"] > 3


@pytest.mark.slow
def test_a_redemption_is_a_session_of_a_visit_just_paid_for(events):
    """Redeemed at check-out: the visit's invoice, its appointment's line, therapist and center."""
    invoices: dict[str, dict[str, Any]] = {}
    checked = 0
    for event in events:
        if event["event_type"] == "Invoice.Closed":
            invoice = event["data"]["invoice"]
            if not invoice["is_refund"]:
                invoices[invoice["id"]] = invoice
        elif event["event_type"] == "Guest.Package.Redemption":
            for r in event["data"]["service_redemptions"]:
                invoice = invoices[r["invoice"]["id"]]
                line = next(i for i in invoice["invoice_items"] if i["invoice_item_id"] == r["invoice"]["item_id"])
                assert line["id"] == r["service"]["id"] and line["type"] == 0
                assert invoice["center_id"] == r["center"]["id"] == event["data"]["center"]["id"]
                assert r["therapist"]["id"] == line["sale_by_id"]
                checked += 1
    assert checked > 20


def test_what_the_world_keeps_is_what_a_later_event_can_mention(run):
    stream, _ = run
    world = stream.world
    for held in world.extra["memberships"].held.values():
        for membership in held.values():
            assert membership.state != "cancelled" or any(
                step.__name__ == "_reinstate" and args[1] is membership for _, _, step, args in stream.simulation._queue
            )
    for held in world.extra["packages"].held.values():
        for package in held.values():
            assert package.state == 2
            assert all(0 <= line.used <= line.total for line in package.lines)


def test_the_state_machine_refuses_what_the_rules_forbid():
    membership = Membership.__new__(Membership)
    membership.id, membership.state = "m", "cancelled"
    with pytest.raises(AssertionError, match="cannot go from cancelled to frozen"):
        move(membership, "frozen")
    membership.state = "active"
    with pytest.raises(AssertionError, match="cannot go from active to active"):
        move(membership, "active")


def test_same_seed_same_bytes_and_other_types_untouched_by_asking_for_these():
    one = [json.dumps(e) for e in simulate_events(seed=5, now=NOW, days=4, types=MINE)]
    two = [json.dumps(e) for e in simulate_events(seed=5, now=NOW, days=4, types=MINE)]
    assert one == two and len(one) > 20
    assert one != [json.dumps(e) for e in simulate_events(seed=6, now=NOW, days=4, types=MINE)]
    everything = [json.dumps(e) for e in simulate_events(seed=5, now=NOW, days=4)]
    assert [e for e in everything if json.loads(e)["event_type"] in MINE] == one


def _keys(value: Any, path: str = "") -> set[str]:
    """Every key path in ``value``, list items folded to ``[*]``."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, sub in value.items():
            out.add(f"{path}.{key}")
            out |= _keys(sub, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            out |= _keys(item, f"{path}[*]")
    return out


#: Samples the docs cut off: generated events have more keys than the published text.
CUT_OFF = {"Guest.Membership.Created", "Guest.Package.Created"}


@pytest.mark.parametrize("name", MINE)
@pytest.mark.parametrize("profile", ["realistic", "edge"])
def test_generated_events_have_the_samples_keys_misspellings_and_codes(name, profile):
    kind = default_registry()[name]
    sample = json.loads((ROOT / kind.schema["x-doc-sample"]).read_text())
    published = _keys(sample["data"])
    clean = Draft202012Validator(drift_clean_schema(kind.schema))
    generated: set[str] = set()
    for event in generate_events(name, count=6, seed=11, now=NOW, profile=profile):
        assert event["event_resource"] is None
        assert not list(clean.iter_errors(event)), "an unknown key or an undocumented code"
        generated |= _keys(event["data"])
    # Keys the samples show in one list item but we may leave empty (product redemptions).
    optional = {k for k in published if "product_redemptions" in k and k.count(".") > 1}
    assert published - optional <= generated
    if name not in CUT_OFF:
        assert generated <= published
    for misspelt in ("frequncy", "transfered", "is_dicount_only_membership"):
        assert any(k.endswith(misspelt) for k in generated) == any(k.endswith(misspelt) for k in published)


@pytest.mark.parametrize("name", [n for n in MINE if n != "Guest.Membership.Created"])
def test_validate_reads_the_published_data_only_bodies_with_event_type(name):
    """The docs pages show only ``data``: validate recognizes such bodies when told the type."""
    kind = default_registry()[name]
    data = json.loads((ROOT / kind.schema["x-doc-sample"]).read_text())["data"]
    report = validate_payloads(json.dumps(data).encode(), event_type=name)
    assert report.to_dict()["exit_code"] == 0
    broken = {**data, "user_package_id" if "Package" in name else "user_membership_id": 7}
    assert validate_payloads(json.dumps(broken).encode(), event_type=name).to_dict()["exit_code"] == 1
