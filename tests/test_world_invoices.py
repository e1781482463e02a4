"""The untidy invoice paths real Zenoti takes, at the rates docs/assumptions.md defends,
checked on the events alone over several seeds and both profiles.

The bounds are the documented rate with room for a two-week sample: a rate that drifts
outside them is a change of habit, not noise.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.events.generate import simulate_events
from emulator.world.actions import invoices

# Its tests share module fixtures (built worlds, a server, a browser): `make test` keeps them on
# one xdist worker (tests/conftest.py), which builds each once and runs them in order.
pytestmark = pytest.mark.xdist_group("test_world_invoices")

NOW = datetime(2024, 7, 25, 14, 52, 6, tzinfo=UTC)
DAYS = 14
RUNS = [("realistic", 0), ("realistic", 1), ("realistic", 2), ("edge", 0), ("edge", 1)]
FEES = ("NSFEE", "LCFEE")


@pytest.fixture(scope="module", params=RUNS, ids=lambda p: f"{p[0]}-{p[1]}")
def events(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    profile, seed = request.param
    return list(simulate_events(seed=seed, now=NOW, days=DAYS, profile=profile))


def when(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["event_timestamp"][:19]).replace(tzinfo=UTC)


def histories(events: list[dict[str, Any]]) -> dict[str, list[tuple[datetime, dict[str, Any]]]]:
    """Every Invoice.Closed of each invoice id, in order (refunds are invoices of their own)."""
    out: dict[str, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
    for event in events:
        if event["event_type"] == "Invoice.Closed":
            out[event["data"]["invoice"]["id"]].append((when(event), event["data"]["invoice"]))
    return out


def checkouts(events: list[dict[str, Any]]) -> dict[str, list[tuple[datetime, dict[str, Any]]]]:
    """Histories of invoices billed at a check-out (not refunds, fees or sales of memberships and packages),
    whose first event is early enough that what follows it fits in the run."""
    end = NOW + timedelta(days=DAYS - 3)
    return {
        i: h
        for i, h in histories(events).items()
        if h[0][0] < end
        and not h[0][1]["is_refund"]
        and h[0][1]["appointment_group_id"] is not None
        and not any(it["code"] in FEES for it in h[0][1]["invoice_items"])
    }


def paid(invoice: dict[str, Any]) -> float:
    return round(sum(t["amount_paid"] for t in invoice["transactions"]), 2)


@pytest.mark.slow
def test_some_checkouts_leave_the_invoice_open_and_a_second_event_closes_it(events):
    found = checkouts(events)
    left_open = [h for h in found.values() if not h[0][1]["is_closed"]]
    share = len(left_open) / len(found)
    assert invoices.LEFT_OPEN_SHARE / 2.5 <= share <= invoices.LEFT_OPEN_SHARE * 2.5, share
    for history in left_open:
        assert len(history) >= 2
        first, then = history[0][1], history[1][1]
        assert not first["lock"] and then["is_closed"] and then["lock"]
        assert then["id"] == first["id"] and paid(then) == then["total_price"]["sum_total"]
        assert history[1][0] - history[0][0] >= timedelta(minutes=invoices.LEFT_OPEN_MINUTES[0])
    # Some open invoices are already paid in full: a receiver that sums payments sees them settled.
    assert any(paid(h[0][1]) == h[0][1]["total_price"]["sum_total"] for h in left_open)


@pytest.mark.slow
def test_some_closed_invoices_are_edited_and_closed_again(events):
    found = checkouts(events)
    edited = [h for h in found.values() if h[0][1]["is_closed"] and len(h) >= 2]
    share = len(edited) / len(found)
    assert invoices.EDITED_SHARE / 3 <= share <= invoices.EDITED_SHARE * 2.5, share
    for history in edited:
        before, after = history[0][1], history[1][1]
        assert len(after["invoice_items"]) == len(before["invoice_items"]) + 1
        assert after["total_price"]["sum_total"] > before["total_price"]["sum_total"]
        assert paid(after) == after["total_price"]["sum_total"]


@pytest.mark.slow
def test_split_tenders_and_tips(events):
    closed = [inv for h in checkouts(events).values() for _, inv in h[:1] if inv["is_closed"]]
    split = sum(1 for inv in closed if len(inv["transactions"]) > 1) / len(closed)
    assert invoices.SPLIT_TENDER_SHARE / 2 <= split <= invoices.SPLIT_TENDER_SHARE * 1.8, split
    tipped = [inv for inv in closed if any("tip" in t for t in inv["transactions"])]
    assert 0.05 <= len(tipped) / len(closed) <= 0.6
    for inv in closed:
        # A tip is on top of what was paid: the payments still add up to the total.
        assert paid(inv) == inv["total_price"]["sum_total"]
        assert all(t["tip"] > 0 for t in inv["transactions"] if "tip" in t)


@pytest.mark.slow
def test_flagged_fees_are_charged_on_the_groups_invoice(events):
    flagged: dict[str, str] = {}
    unflagged: set[str] = set()
    end = NOW + timedelta(days=DAYS - 2)
    for event in events:
        data = event["data"]
        if event["event_type"] == "AppointmentGroup.Status" and when(event) < end:
            status = data["appointment_group_status"]
            if status == -2 or (data["is_cancellationfeerequired"] == "Yes" and status not in (2, 4, 0, 1)):
                fee = data["is_noshowfeerequired"] if status == -2 else data["is_cancellationfeerequired"]
                (
                    flagged.__setitem__(data["invoice_id"], "NSFEE" if status == -2 else "LCFEE")
                    if fee == "Yes"
                    else unflagged.add(data["invoice_id"])
                )
    charged = {
        i: inv
        for i, h in histories(events).items()
        for _, inv in h
        if any(it["code"] in FEES for it in inv["invoice_items"])
    }
    assert flagged
    assert not set(charged) & unflagged, "a fee charged that the status event did not flag"
    share = sum(1 for i in flagged if i in charged) / len(flagged)
    assert invoices.FEE_CHARGED_SHARE - 0.3 <= share <= 1.0, share
    for invoice_id, code in flagged.items():
        if invoice_id in charged:
            inv = charged[invoice_id]
            assert [it["code"] for it in inv["invoice_items"]] == [code]
            assert inv["is_closed"] and paid(inv) == inv["total_price"]["sum_total"] > 0


@pytest.mark.slow
def test_memberships_and_packages_are_sold_on_invoices(events):
    """Each sale's Invoice.Closed: the sale invoice's id, one line of type 3 (membership)
    or 4 (package), no appointment group; a closed one is paid in full."""
    sold = {}
    for event in events:
        if event["event_type"] in ("Guest.Membership.Created", "Guest.Package.Created"):
            sold[event["data"]["invoice"]["id"]] = 3 if "Membership" in event["event_type"] else 4
    closed = {inv["id"]: inv for h in histories(events).values() for _, inv in h}
    assert sold and {3, 4} <= set(sold.values())
    for invoice_id, kind in sold.items():
        inv = closed[invoice_id]
        assert [item["type"] for item in inv["invoice_items"]] == [kind]
        assert inv["appointment_group_id"] is None and inv["appointments"] == []
        assert not inv["is_closed"] or paid(inv) == inv["total_price"]["sum_total"]
