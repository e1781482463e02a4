"""The dashboard in a real browser: headless Chromium (Debian's) driven by Playwright.

Against a real ``serve`` process: pick nothing, press Fire, and the delivery appears on
the page as delivered without a reload; the sink's captured request shows a valid
signature. A screenshot is kept in ``test-artifacts/`` for people to look at.

Needs ``/usr/bin/chromium`` (``.ci/run`` installs it). Without it the test is skipped,
unless ``ZENOTI_REQUIRE_BROWSER=1`` (set by CI), where a missing browser is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .test_web_serve import serve

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not os.path.exists(CHROMIUM) and os.environ.get("ZENOTI_REQUIRE_BROWSER") != "1":
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does it)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.mark.slow
def test_fire_from_the_dashboard_and_watch_it_delivered(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(tmp_path / "log.sqlite3", "--time-scale", "600") as app, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # The browser logs every 4xx as a console error; the 422 below is asked for.
            page.on(
                "console",
                lambda msg: errors.append(msg.text) if msg.type == "error" and "422" not in msg.text else None,
            )
            page.goto(app.url + "/")

            expect = sync_api.expect
            expect(page.locator("#preview")).to_contain_text('"event_type": "AppointmentGroup.Created"')
            expect(page.locator("#webhooks-table tbody tr")).to_have_count(1)

            page.fill("[data-testid=count]", "2")
            page.click("[data-testid=fire]")
            expect(page.get_by_test_id("fire-status")).to_contain_text("Fired 2 events")

            delivered = page.locator("#deliveries-table tbody tr[data-status=delivered]")
            expect(delivered).to_have_count(2, timeout=15_000)
            expect(delivered.first).to_contain_text("AppointmentGroup.Created")
            expect(delivered.first).to_contain_text("200")

            requests_list = page.locator("#sink-requests li[data-signature=valid]")
            expect(requests_list).to_have_count(2, timeout=15_000)

            delivered.first.click()
            expect(page.locator("#delivery-detail")).to_contain_text("Body sent")

            # An override that breaks the schema is explained on the page, with its pointer.
            page.fill("[data-testid=overrides]", "data.appointments.0.room_name=5")
            page.click("#preview-button")
            expect(page.get_by_test_id("fire-status")).to_contain_text("/data/appointments/0/room_name")
            page.fill("[data-testid=overrides]", "")
            page.click("#preview-button")
            expect(page.get_by_test_id("fire-status")).to_have_text("")

            # A webhook deactivated behind the page's back shows as such, and one click brings it back.
            app.request("PATCH", "/api/webhooks/1", json={"active": False})
            expect(page.locator("#webhooks-table tr[data-state=inactive]")).to_have_count(1, timeout=10_000)
            page.get_by_test_id("reactivate").click()
            expect(page.locator("#webhooks-table tr[data-state=active]")).to_have_count(1, timeout=10_000)
            expect(page.get_by_test_id("fire-status")).to_contain_text("active again")

            # Scrolled (the clicks above scroll), a full-page shot paints the sticky header mid-page.
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()
        assert app.stop() == 0
