"""The dashboard links an event's guest, group and invoice to what Zenoti's read API
answers for them (headless Chromium against a real ``serve``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .test_browser_dashboard import app, browser, expect, fire, open_page, shot  # noqa: F401  # the fixtures, shared
from .test_web_serve import Served


@pytest.mark.slow
def test_a_deliverys_guest_group_and_invoice_open_what_the_api_answers(browser: Any, app: Served) -> None:
    [delivery] = fire(app, event_type="AppointmentGroup.Created", seed=5)
    sent = json.loads(app.request("GET", f"/api/deliveries/{delivery['id']}").json()["body"])["data"]
    page, errors = open_page(browser, app)
    row = page.locator("#deliveries-table tbody tr[data-status=delivered]")
    expect(row).to_have_count(1, timeout=10_000)  # as the dashboard test does: the row as it settles
    row.click()
    links = page.get_by_test_id("zenoti-links")
    answer = page.get_by_test_id("zenoti-answer")

    expect(links.get_by_test_id("zenoti-guest")).to_be_visible(timeout=30_000)
    links.get_by_test_id("zenoti-guest").click()
    # The first /v1 call follows the app's stream to its end: on a busy machine that can
    # take longer than expect's default 5 s.
    expect(answer).to_contain_text(f"/v1/guests/{sent['guest']['id']} -> 200", timeout=30_000)
    expect(answer).to_contain_text(sent["guest"]["first_name"])
    links.get_by_test_id("zenoti-appointment").click()
    expect(answer).to_contain_text(f"/v1/appointment_groups/{sent['appointment_group_id']} -> 200", timeout=30_000)
    links.get_by_test_id("zenoti-invoice").click()
    expect(answer).to_contain_text(f"/v1/invoices/{sent['invoice_id']} -> 200", timeout=30_000)
    expect(answer).to_contain_text(sent["invoice_number"])
    shot(page, "dashboard-zenoti-api.png")
    assert errors == []
