"""The dashboard a newcomer uses (issue 14), in headless Chromium against a real ``serve``.

The delivery detail (headers both ways, signature and verdict, copy-as-curl, Replay in
view at 1440 px), a live refresh that keeps what the reader opened or scrolled, filters
and paging, the validate page, the sink's secret, and a 390 px phone with no sideways
overflow. Each test leaves a screenshot in ``test-artifacts/``. Waits are on the page's
own refresh counters (``<body data-delivery-refreshes>``), never on the clock.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import COMMAND, ROOT
from .test_browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, sync_api
from .test_web_serve import Served, serve
from .web_support import wait_for

# Its tests share module fixtures (built worlds, a server, a browser): `make test` keeps them on
# one xdist worker (tests/conftest.py), which builds each once and runs them in order.
pytestmark = pytest.mark.xdist_group("test_browser_dashboard")

expect = sync_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Served]:
    with serve(tmp_path / "log.sqlite3", "--time-scale", "600") as served:
        yield served
        assert served.stop() == 0


def open_page(browser: Any, app: Served, width: int = 1440, height: int = 1000) -> tuple[Any, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app.url + "/")
    return page, errors


def fire(app: Served, count: int = 1, **body: Any) -> list[dict[str, Any]]:
    deliveries = app.request("POST", "/api/events", json={"count": count, **body}).json()["deliveries"]
    for d in deliveries:
        wait_for(lambda d=d: app.request("GET", f"/api/deliveries/{d['id']}").json()["status"] != "pending", timeout=20)
    return deliveries


def wait_refreshes(page: Any, counter: str, more: int = 2) -> None:
    """Until the page counted ``more`` further live refreshes (the page's CSP forbids
    wait_for_function's eval, so: an attribute matching any number at least the target)."""
    attribute = "data-" + re.sub(r"[A-Z]", lambda m: "-" + m.group(0).lower(), counter)
    target = int(page.evaluate(f"Number(document.body.dataset.{counter} || 0)")) + more
    at_least = "|".join(str(n) for n in range(target, target + 100))
    expect(page.locator("body")).to_have_attribute(
        attribute, re.compile(rf"^({at_least}|\d{{{len(str(target + 100))},}})$"), timeout=15_000
    )


def shot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.mark.slow
def test_delivery_detail_shows_both_ways_signature_verdict_and_a_curl_that_sends_the_same_bytes(
    browser: Any, app: Served
) -> None:
    fire(app)
    page, errors = open_page(browser, app)
    row = page.locator("#deliveries-table tbody tr[data-status=delivered]")
    expect(row).to_have_count(1, timeout=10_000)

    # At 1440 px the row's Replay button is inside the table's visible box, not scrolled off.
    wrap = page.locator("#deliveries .table-wrap").bounding_box()
    replay = row.get_by_test_id("replay").bounding_box()
    assert wrap and replay and replay["x"] + replay["width"] <= wrap["x"] + wrap["width"] + 1

    row.click()
    detail = page.locator("#delivery-detail")
    expect(detail.get_by_test_id("signature")).to_contain_text("sha256 =")
    expect(detail.get_by_test_id("signature").locator(".badge")).to_have_text("valid")
    detail.locator("details.attempt summary").first.click()
    attempt = detail.locator("details.attempt").first
    expect(attempt).to_contain_text("zenoti-webhook-signature:")
    expect(attempt).to_contain_text("User-Agent: zenoti-webhook-emulator/")
    expect(attempt.locator(".both-ways > div").nth(1)).to_contain_text("Content-Type:")  # the sink's answer
    expect(detail.get_by_test_id("detail-replay")).to_be_in_viewport()

    detail.get_by_test_id("copy-curl").click()
    expect(page.get_by_test_id("fire-status")).to_contain_text("curl command copied")
    curl = page.evaluate("navigator.clipboard.readText()")
    assert curl == detail.get_by_test_id("curl").text_content()
    before = len(app.request("GET", "/api/sinks/default/requests").json()["requests"])
    sent = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=20)
    assert sent.returncode == 0, sent.stderr
    latest = app.request("GET", "/api/sinks/default/requests").json()["requests"]
    assert len(latest) == before + 1
    assert latest[0]["signature"] == "valid"  # the same bytes, the same signature
    assert latest[0]["body"] == app.request("GET", "/api/deliveries/1").json()["body"]

    shot(page, "dashboard-detail.png")
    assert errors == []


@pytest.mark.slow
def test_live_refresh_keeps_an_open_sink_request_and_a_scrolled_body(browser: Any, app: Served) -> None:
    fire(app)
    page, errors = open_page(browser, app, height=900)
    first = page.locator("#sink-requests li[data-id]").first
    expect(first).to_be_visible(timeout=10_000)
    first.locator("details summary").click()
    expect(first.locator("details")).to_have_attribute("open", "")

    page.locator("#deliveries-table tbody tr").first.click()
    body = page.get_by_test_id("body-sent")
    expect(body).to_be_visible()
    body.evaluate("node => { node.scrollTop = 200; }")

    wait_refreshes(page, "deliveryRefreshes", 3)
    wait_refreshes(page, "sinkRefreshes", 2)
    assert body.evaluate("node => node.isConnected && node.scrollTop") == 200
    expect(first.locator("details")).to_have_attribute("open", "")

    # A change redraws the detail (a replay adds an attempt), and still keeps the scroll.
    page.get_by_test_id("detail-replay").click()
    expect(page.locator("#delivery-detail details.attempt")).to_have_count(2, timeout=10_000)
    assert page.get_by_test_id("body-sent").evaluate("node => node.scrollTop") == 200
    expect(page.locator("#sink-requests li[data-id]")).to_have_count(2, timeout=10_000)
    expect(page.locator("#sink-requests li[data-id] details[open]")).to_have_count(1)
    assert errors == []


@pytest.mark.slow
def test_filters_and_paging(browser: Any, app: Served) -> None:
    app.request("PUT", "/api/sinks/down", json={"status": 500})
    down = app.request(
        "POST",
        "/api/webhooks",
        json={"name": "down", "url": app.url + "/sink/down", "event_types": ["AppointmentGroup.Created"]},
    ).json()
    app.request("PATCH", f"/api/webhooks/{down['id']}", json={"event_types": ["AppointmentGroup.Created"]})
    failing = fire(app, 3, webhooks=[down["id"]])  # retried 5 times at 600x, then failed
    fire(app, 52, webhooks=[1])
    page, errors = open_page(browser, app)
    rng = page.get_by_test_id("delivery-range")
    expect(rng).to_have_text("1–50 of 55", timeout=10_000)
    page.get_by_test_id("page-older").click()
    expect(rng).to_have_text("51–55 of 55")
    expect(page.locator("#deliveries-table tbody tr[data-status=failed]")).to_have_count(3)
    page.locator("#page-newer").click()
    expect(rng).to_have_text("1–50 of 55")

    page.get_by_test_id("filter-status-code").fill("500")
    expect(rng).to_have_text("1–3 of 3")
    page.get_by_test_id("filter-status-code").fill("")
    page.get_by_test_id("filter-webhook").select_option(str(down["id"]))
    expect(rng).to_have_text("1–3 of 3")
    page.get_by_test_id("filter-status").select_option("delivered")
    expect(rng).to_have_text("No delivery matches these filters.")
    page.locator("#delivery-filters button[type=reset]").click()
    expect(rng).to_have_text("1–50 of 55")

    call_id = app.request("GET", f"/api/deliveries/{failing[0]['id']}").json()["call_id"]
    page.get_by_test_id("filter-event-id").fill(call_id)
    expect(rng).to_have_text("1–1 of 1")
    expect(page.locator("#deliveries-table tbody tr")).to_have_count(1)
    page.get_by_test_id("filter-event-id").fill("")
    page.get_by_test_id("filter-event-type").select_option("AppointmentGroup.Created")
    expect(rng).to_have_text("1–50 of 55")
    page.get_by_test_id("filter-since").fill("2999-01-01T00:00:00")
    expect(rng).to_have_text("No delivery matches these filters.")
    page.get_by_test_id("filter-since").fill("")
    page.get_by_test_id("filter-until").fill("2000-01-01T00:00:00")
    expect(rng).to_have_text("No delivery matches these filters.")
    shot(page, "dashboard-filters.png")
    assert errors == []


@pytest.mark.slow
def test_validate_page_checks_a_pasted_capture_and_an_uploaded_har(browser: Any, app: Served) -> None:
    page, errors = open_page(browser, app)
    page.get_by_test_id("validate-input").fill((ROOT / "fixtures/captures/corrupted.jsonl").read_text())
    page.get_by_test_id("validate").click()
    summary = page.get_by_test_id("validate-summary")
    expect(summary).to_contain_text("9 events: 2 valid, 6 invalid, 1 skipped")
    events = page.get_by_test_id("validate-events")
    expect(events).to_contain_text("$.data.invoice_number: expected string, found integer 15544")
    expect(page.get_by_test_id("validate-drift")).to_contain_text("unknown field $.data.loyalty_points")

    page.get_by_test_id("validate-file").set_input_files(str(ROOT / "fixtures/captures/proxy.har"))
    expect(page.get_by_test_id("validate-result")).to_contain_text("proxy.har loaded")
    page.get_by_test_id("validate").click()
    expect(summary).to_contain_text("invalid")
    expect(events).to_contain_text("therapist_request_type: expected integer")
    page.locator("#validate").scroll_into_view_if_needed()
    page.locator("#validate").screenshot(path=str(ARTIFACTS / "dashboard-validate.png"))
    assert errors == []


@pytest.mark.slow
def test_the_sink_secret_can_be_revealed_and_signs_a_fire_from_the_cli(
    browser: Any, app: Served, tmp_path: Path
) -> None:
    page, errors = open_page(browser, app)
    code = page.get_by_test_id("sink-secret")
    expect(code).to_have_text("****" + app.request("GET", "/api/sinks/default/secret").json()["secret"][-4:])
    page.get_by_test_id("sink-reveal").click()
    secret = app.request("GET", "/api/sinks/default/secret").json()["secret"]
    expect(code).to_have_text(secret)
    hint = page.get_by_test_id("sink-sign-hint")
    expect(hint).to_contain_text(f"zenoti-emulator fire -t {app.url}/sink/default --secret")
    argv = shlex.split(hint.text_content() or "")
    assert argv[0] == "zenoti-emulator"
    done = subprocess.run(
        [COMMAND, *argv[1:], "--db", str(tmp_path / "cli.sqlite3"), "--json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["delivered"] == 1
    expect(page.locator("#sink-requests li[data-signature=valid]")).to_have_count(1, timeout=10_000)
    page.get_by_test_id("sink-reveal").click()
    expect(code).to_have_text("****" + secret[-4:])
    assert errors == []


@pytest.mark.slow
def test_overrides_errors_speak_of_overrides(browser: Any, app: Served) -> None:
    page, errors = open_page(browser, app)
    status = page.get_by_test_id("fire-status")
    page.get_by_test_id("overrides").fill("data.guest.email=null\ndata.guest.first_name")
    page.click("#preview-button")
    expect(status).to_have_text(
        'Overrides, line 2: "data.guest.first_name" is not PATH=VALUE; write e.g. data.guest.email=null'
    )
    page.get_by_test_id("overrides").fill("data.guest.emial=1")
    page.click("#preview-button")
    expect(status).to_contain_text("Did you mean data.guest.email?")
    page.get_by_test_id("fire").click()
    expect(status).to_contain_text("Did you mean data.guest.email?")
    assert "set" not in (status.text_content() or "").replace("+data", "")
    assert errors == []


@pytest.mark.slow
def test_a_390px_phone_has_no_sideways_overflow(browser: Any, app: Served) -> None:
    fire(app)
    page, errors = open_page(browser, app, width=390, height=844)
    expect(page.locator("#deliveries-table tbody tr[data-status=delivered]")).to_have_count(1, timeout=10_000)
    page.locator("#deliveries-table tbody tr").first.click()
    expect(page.locator("#delivery-detail")).to_contain_text("Body sent")
    page.locator("#delivery-detail details.attempt summary").first.click()
    page.locator("#sink-requests li[data-id] details summary").first.click()
    widths = page.evaluate("""() => ({
        doc: document.documentElement.scrollWidth,
        body: document.body.scrollWidth,
        wide: [...document.querySelectorAll('header, main > section, nav, footer')]
            .filter((n) => n.getBoundingClientRect().right > window.innerWidth + 0.5)
            .map((n) => n.id || n.tagName),
    })""")
    assert widths == {"doc": 390, "body": 390, "wide": []}
    shot(page, "dashboard-phone.png")
    assert errors == []


@pytest.mark.slow
def test_type_pickers_and_the_schema_view_group_types_by_resource(browser: Any, app: Served) -> None:
    listed = app.request("GET", "/api/event-types").json()
    listed = listed.get("event_types", listed) if isinstance(listed, dict) else listed
    by_resource: dict[str, list[str]] = {}
    for kind in listed:
        assert kind["name"].split(".")[0] == kind["resource"]
        by_resource.setdefault(kind["resource"], []).append(kind["name"])
    assert {"Employee", "Guest", "Invoice", "Appointment"} <= set(by_resource)
    page, errors = open_page(browser, app)
    for picker in ("#event-type", "#schema-pick", "[data-testid=filter-event-type]"):
        groups = page.evaluate(
            """(sel) => [...document.querySelector(sel).querySelectorAll('optgroup')]
            .map((g) => [g.label, [...g.querySelectorAll('option')].map((o) => o.value)])""",
            picker,
        )
        assert {label: sorted(names) for label, names in groups} == {r: sorted(n) for r, n in by_resource.items()}, (
            picker
        )
    page.get_by_test_id("schema-pick").select_option("Employee.Deleted")
    expect(page.locator("#schema-type")).to_have_text("Employee.Deleted")
    expect(page.locator("#schema-table")).to_contain_text("data.job_info.is_elgible_for_additional_commision_bonus")
    page.get_by_test_id("event-type").select_option("Invoice.Payments.Added")  # the fire picker leads the schema view
    expect(page.get_by_test_id("schema-pick")).to_have_value("Invoice.Payments.Added")
    expect(page.locator("#schema-table")).to_contain_text("transaction_center")
    shot(page, "dashboard-schema-by-resource.png")
    assert errors == []
