"""The dashboard's Scenarios card in headless Chromium against a real ``serve``: pick a
scenario, see its steps, run it with disorder to the built-in sink, and watch the run's
deliveries, grouped under the run, become delivered. Waits are on the page's own refresh
counter (``data-scenario-refreshes``) and on what it shows, never on the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, sync_api
from .test_browser_dashboard import shot, wait_refreshes
from .test_web_serve import Served, serve

expect = sync_api.expect


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Served]:
    with serve(tmp_path / "log.sqlite3", "--time-scale", "600") as served:
        yield served
        assert served.stop() == 0


@pytest.mark.slow
def test_pick_a_scenario_see_its_steps_run_it_and_watch_its_deliveries(app: Served) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(app.url + "/#scenarios")

            select = page.get_by_test_id("scenario-select")
            expect(select.locator("option")).to_have_count(9)
            select.select_option("reschedule")
            steps = page.get_by_test_id("scenario-steps")
            expect(steps.locator("tbody tr").nth(2)).to_contain_text("cancel")
            expect(steps.locator("tbody tr").nth(1)).to_contain_text("AppointmentGroup.Created")

            select.select_option("class-day")  # a class's rows link by session and booking
            expect(steps.locator("tbody tr").first).to_contain_text("class ")
            expect(steps.locator("tbody tr").nth(7)).to_contain_text("Class.Booking.Approved")
            expect(steps.locator("tbody tr").nth(7)).to_contain_text("booking ")

            select.select_option("guest-day")
            page.get_by_test_id("scenario-seed").fill("4")
            page.get_by_test_id("scenario-show").click()
            expect(steps.locator("tbody tr").first).to_contain_text("Guest.Created")
            expect(steps.locator("tbody tr")).to_have_count(13)  # check-out now sends status 1 (closed)

            page.get_by_test_id("scenario-disorder").fill("duplicates=1")
            page.get_by_test_id("scenario-run").click()
            expect(page.get_by_test_id("scenario-status")).to_contain_text("26 deliveries")
            card = page.locator("[data-testid=scenario-runs] details").first
            expect(card).to_contain_text("guest-day (seed 4)")
            expect(card).to_contain_text("duplicated 13")
            expect(card.locator("tbody tr")).to_have_count(26)
            wait_refreshes(page, "scenarioRefreshes")
            expect(card.locator(".badge.delivered")).to_have_count(26, timeout=20_000)

            bad = page.get_by_test_id("scenario-disorder")
            bad.fill("shuffle=1")
            page.get_by_test_id("scenario-run").click()
            expect(page.get_by_test_id("scenario-status")).to_contain_text("is not one of duplicates, reorder, delay")
            shot(page, "dashboard-scenarios.png")
            assert errors == []
        finally:
            browser.close()
