"""The pytest plugin, run by pytest itself (``pytester``) against real receivers on loopback."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.check.payloads import GROWABLE
from emulator.check.run import CheckConfig, CheckRun
from emulator.events.registry import default_registry
from emulator.pytest_plugin import ZenotiEmulator

from .conftest import ROOT
from .contract_receiver import BREAKAGES, ContractReceiver
from .receivers import OneTypeReceiver, Receiver, closed_port_url

pytest_plugins = ["pytester"]

SECRET = "whsec_plugin_0042"
TYPES = len(default_registry())
#: two checks per event type (accepts-events, unknown-fields), large-payload for the types
#: whose size can grow, ten once
ITEMS = 2 * TYPES + len(GROWABLE) + 10


@pytest.fixture
def correct() -> Iterator[ContractReceiver]:
    with ContractReceiver(secret=SECRET) as rx:
        yield rx


@pytest.mark.slow
def test_the_check_suite_runs_as_one_test_per_check(pytester: pytest.Pytester, correct: ContractReceiver) -> None:
    pytester.makepyfile(test_own="def test_mine():\n    assert True\n")
    result = pytester.runpytest(
        "--zenoti-receiver", correct.url, "--zenoti-secret", SECRET, "-v", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=ITEMS + 1)  # the checks, then the project's own test
    result.stdout.fnmatch_lines(
        [
            f"*collected {ITEMS + 1} items",
            "zenoti-check::accepts-events[[]AppointmentGroup.Created[]] PASSED*",
            "zenoti-check::out-of-order PASSED*",
            "zenoti-check::burst PASSED*",
        ]
    )
    assert SECRET not in result.stdout.str()


@pytest.mark.slow
def test_k_selects_checks_and_keeps_the_projects_tests_out(
    pytester: pytest.Pytester, correct: ContractReceiver
) -> None:
    pytester.makepyfile(test_own="def test_mine():\n    assert True\n")
    everything = pytester.runpytest(
        "--zenoti-receiver", correct.url, "--zenoti-secret", SECRET, "-k", "zenoti-check", "-p", "no:cacheprovider"
    )
    everything.assert_outcomes(passed=ITEMS, deselected=1)
    some = pytester.runpytest(
        "--zenoti-receiver",
        correct.url,
        "--zenoti-secret",
        SECRET,
        "-k",
        "ping or duplicates",
        "-p",
        "no:cacheprovider",
    )
    some.assert_outcomes(passed=2, deselected=ITEMS - 1)


@pytest.mark.slow
@pytest.mark.parametrize("broken", sorted(BREAKAGES))
def test_each_breakage_fails_one_item_with_its_evidence(pytester: pytest.Pytester, broken: str) -> None:
    verb = ["--zenoti-verb", "PUT"] if broken == "post-only" else []
    items, skipped = ITEMS, 0
    if broken == "rate-limited":  # one type, so that only the burst passes 300 a minute
        verb += ["--zenoti-event-type", "AppointmentGroup.Created"]
        items, skipped = 3 + 10, 1  # out-of-order needs AppointmentGroup.Status too
    with ContractReceiver(secret=SECRET, broken=broken) as rx:
        result = pytester.runpytest(
            "--zenoti-receiver", rx.url, "--zenoti-secret", SECRET, *verb, "-p", "no:cacheprovider"
        )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    check = BREAKAGES[broken]
    failed = [line for line in result.stdout.lines if line.startswith("FAILED ")]
    # one check fails, for one type or (a body limit) for every type whose events can grow
    assert failed and all(line.startswith(f"FAILED zenoti-check::{check}") for line in failed)
    result.assert_outcomes(passed=items - len(failed) - skipped, failed=len(failed), skipped=skipped)
    out = result.stdout.str()
    assert "  why: " in out and "  fix: " in out and "    > " in out and "    < " in out


@pytest.mark.slow
def test_x_stops_at_the_first_failing_check_and_junitxml_has_every_case(pytester: pytest.Pytester) -> None:
    xml = pytester.path / "check.xml"
    with ContractReceiver(secret=SECRET, broken="rejects-ping") as rx:
        stopped = pytester.runpytest(
            "--zenoti-receiver", rx.url, "--zenoti-secret", SECRET, "-x", "-p", "no:cacheprovider"
        )
        full = pytester.runpytest(
            "--zenoti-receiver", rx.url, "--zenoti-secret", SECRET, f"--junitxml={xml}", "-p", "no:cacheprovider"
        )
    stopped.assert_outcomes(passed=TYPES + 4, failed=1)  # ping comes after accepts-events and four checks
    full.assert_outcomes(passed=ITEMS - 1, failed=1)
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(ITEMS) and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) >= {"ping", "burst", "accepts-events[AppointmentGroup.Created]"}
    assert all(c.get("classname") == "zenoti-check" for c in cases.values())
    failure = cases["ping"].find("failure")
    assert failure is not None and "< 400 in " in (failure.text or "")
    props = {p.get("name"): p.get("value") for p in cases["ping"].iter("property")}
    assert props["outcome"] == "fail" and "answered 400" in props["message"]


def test_a_warning_passes_and_is_listed_at_the_end_even_with_w_error(pytester: pytest.Pytester) -> None:
    with ContractReceiver(broken="post-only") as rx:
        result = pytester.runpytest("--zenoti-receiver", rx.url, "-k", "verb", "-W", "error", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, deselected=ITEMS - 1)
    result.stdout.fnmatch_lines(
        ["*zenoti-emulator check: passed with a warning*", "WARN verb: PUT and PATCH refused*", "*< 404 in *"]
    )


def test_bad_usage_and_an_unreachable_receiver_are_usage_errors(pytester: pytest.Pytester) -> None:
    bad = pytester.runpytest("--zenoti-receiver", "ftp://127.0.0.1/hook")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--zenoti-receiver: Target URL must start with http:// or https://*"])
    verb = pytester.runpytest("--zenoti-receiver", "http://127.0.0.1:1/hook", "--zenoti-verb", "GET")
    assert verb.ret == pytest.ExitCode.USAGE_ERROR
    verb.stderr.fnmatch_lines(["*Verb must be POST, PUT or PATCH*"])
    kind = pytester.runpytest("--zenoti-receiver", "http://127.0.0.1:1/hook", "--zenoti-event-type", "Nope.Nope")
    assert kind.ret == pytest.ExitCode.USAGE_ERROR
    kind.stderr.fnmatch_lines(["*Unknown event type 'Nope.Nope'*"])
    url = closed_port_url()
    gone = pytester.runpytest("--zenoti-receiver", url, "-p", "no:cacheprovider")
    assert gone.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--zenoti-receiver: Cannot reach {url}" in gone.stdout.str() + gone.stderr.str()


def test_collect_only_sends_nothing(pytester: pytest.Pytester, correct: ContractReceiver) -> None:
    result = pytester.runpytest("--zenoti-receiver", correct.url, "--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    assert "zenoti-check::burst" in result.stdout.str()
    assert correct.requests == 0


def test_the_plugin_is_inactive_until_used() -> None:
    code = (
        "import sys, emulator.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m.startswith(('emulator.', 'faker', 'requests', 'flask'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(loaded.stdout.replace("'", '"')) == ["emulator.pytest_plugin"]


def test_the_readme_example_runs_as_written(pytester: pytest.Pytester) -> None:
    page = (ROOT / "docs" / "pytest.md").read_text(encoding="utf-8")
    [example] = re.findall(r"```python\n(# test_receiver\.py\n.*?)```", page, re.S)
    pytester.makepyfile(test_receiver=example)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)


# -- the fixture, used directly -----------------------------------------------------------


def test_zenoti_emulator_fires_and_returns_attempts_statuses_and_bodies(zenoti_emulator: ZenotiEmulator) -> None:
    with Receiver([503]) as rx:
        deliveries = zenoti_emulator.fire(rx.url, count=2, secret="s", seed=3)
    assert [d.status for d in deliveries] == ["delivered", "delivered"]
    retried = next(d for d in deliveries if d.attempts == 2)
    assert [a.status_code for a in retried.attempt_log] == [503, 200]
    assert retried.attempt_log[0].response_body == b'{"error": "scripted"}'
    assert retried.schedule[1].delay_s >= 30 and retried.schedule[1].time_scale == 600
    assert zenoti_emulator.db_path.exists() and zenoti_emulator.db_path.parent.name.startswith("test_zenoti_emulator")


def test_zenoti_emulator_waits_for_retries_on_the_scaled_clock(zenoti_emulator: ZenotiEmulator) -> None:
    events = zenoti_emulator.generate(count=1, seed=5, set={"data.guest.email": None})
    assert events[0]["data"]["guest"]["email"] is None
    with Receiver([500, 500]) as rx:
        [first] = zenoti_emulator.fire(rx.url, events, wait=False)
        assert first.status == "pending" and first.attempts == 1
        [final] = zenoti_emulator.wait_for_retries(timeout=30)
        assert final.status == "delivered" and [a.status_code for a in final.attempt_log] == [500, 500, 200]
        assert len({r.body for r in rx.requests}) == 1  # every retry is the same bytes
    assert zenoti_emulator.deliveries() == [final]


def test_zenoti_emulator_sends_the_verb_and_no_content_type(zenoti_emulator: ZenotiEmulator) -> None:
    with Receiver() as rx:
        [d] = zenoti_emulator.fire(rx.url, verb="PATCH", content_type=False, max_attempts=1)
        ping = zenoti_emulator.ping(rx.url)
    assert d.status == "delivered" and rx.requests[0].method == "PATCH"
    assert "content-type" not in rx.requests[0].headers
    assert ping.status_code == 200 and rx.requests[1].body == b""


@pytest.mark.slow
def test_the_readmes_receiver_passes_every_check(
    zenoti_emulator: ZenotiEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The manual teaches a receiver; check must find nothing wrong with it.
    page = (ROOT / "docs" / "receiver.md").read_text(encoding="utf-8")
    [code] = re.findall(r"^# A receiver you would ship\n.*?```python\n(.*?)```", page, re.S)
    (tmp_path / "readme_receiver.py").write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        module = importlib.import_module("readme_receiver")
    finally:
        sys.modules.pop("readme_receiver", None)
    url = zenoti_emulator.serve(module.app) + "/hook"
    config = CheckConfig(url, secret="s3cret", verb="PUT", burst=100)
    with CheckRun(config) as check_run:
        results = check_run.run_all()
    assert {r.name: r.message for r in results if r.outcome not in ("pass", "skip")} == {}
    assert [r.name for r in results if r.outcome == "skip"] == []


def test_the_fixture_plays_a_scenario_and_delivers_it_in_story_order(zenoti_emulator: ZenotiEmulator) -> None:
    events = zenoti_emulator.scenario("no-show", seed=3, now="2024-07-25T08:00:00Z")
    assert events == zenoti_emulator.scenario("no-show", seed=3, now="2024-07-25T08:00:00Z")
    assert [e["event_type"] for e in events][-1] == "AppointmentGroup.Status"
    assert events[-1]["data"]["appointment_group_status"] == -2
    with Receiver() as rx:
        deliveries = zenoti_emulator.scenario("no-show", rx.url, seed=3, now="2024-07-25T08:00:00Z", secret=SECRET)
        received = [json.loads(r.body) for r in rx.wait_for(len(events))]
    assert [d.status for d in deliveries] == ["delivered"] * len(events)
    assert received == events


#: A receiver suite's conftest.py: what its receiver applied, as it would read its own
#: database (here, through the contract receiver's observe endpoint).
OBSERVING_CONFTEST = """
import json, urllib.parse, urllib.request
import pytest

OBSERVE = {url!r}

def _get(**query):
    with urllib.request.urlopen(OBSERVE + "?" + urllib.parse.urlencode(query)) as answer:
        return json.load(answer)

@pytest.fixture
def zenoti_applied():
    return lambda event_id: _get(id=event_id)["applied"]

@pytest.fixture
def zenoti_group_status():
    return lambda group_id: _get(group=group_id)["status"]
"""


@pytest.mark.parametrize(
    ("broken", "item", "words"),
    [
        ("applies-duplicates-twice", "duplicates", "but applied 2 times (observed through the fixture zenoti_applied"),
        ("drops-early-status", "out-of-order", "but the group holds status 0, not "),
    ],
)
def test_the_receivers_fixtures_let_the_checks_see_what_it_did(
    pytester: pytest.Pytester, broken: str, item: str, words: str
) -> None:
    with ContractReceiver(secret=SECRET, broken=broken) as rx:
        blind = pytester.runpytest(
            "--zenoti-receiver", rx.url, "--zenoti-secret", SECRET, "-k", item, "-p", "no:cacheprovider"
        )
        pytester.makeconftest(OBSERVING_CONFTEST.format(url=rx.observe_url))
        seen = pytester.runpytest(
            "--zenoti-receiver", rx.url, "--zenoti-secret", SECRET, "-k", item, "-p", "no:cacheprovider"
        )
    blind.assert_outcomes(passed=1, deselected=ITEMS - 1)
    seen.assert_outcomes(failed=1, deselected=ITEMS - 1)
    assert words in seen.stdout.str()


@pytest.mark.slow
def test_a_hanging_receiver_gets_every_item_with_its_timeout(pytester: pytest.Pytester) -> None:
    with OneTypeReceiver("AppointmentGroup.Created") as rx:
        result = pytester.runpytest(
            "--zenoti-receiver",
            rx.url.removeprefix("http://"),
            "--zenoti-timeout",
            "0.5",
            "-k",
            "accepts-events or ping",
            "-p",
            "no:cacheprovider",
            "-rf",
        )
    result.assert_outcomes(passed=1, failed=TYPES, deselected=ITEMS - TYPES - 1)
    failed = [line for line in result.stdout.lines if line.startswith("FAILED ")]
    assert len(failed) == TYPES and "FAILED zenoti-check::accepts-events[AppointmentGroup.Created]" not in failed
    # each failure says what came back; the run took a few timeouts, not one per item
    assert result.stdout.str().count(": no answer within 0.5 s") >= TYPES
    assert result.duration < TYPES * 0.5


# -- the session's shared world (issue 22) -------------------------------------------------

SHARED = """
import pytest
from emulator.events.generate import generate_events
from emulator.scenario.play import play
from emulator.scenario.story import load
from emulator.world import snapshot

BUILT = []
IDS = []


@pytest.fixture(autouse=True)
def count_builds(monkeypatch):
    real = snapshot.World
    def counting(*args, **kwargs):
        BUILT.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(snapshot, "World", counting)


def session_events(em, count):
    return list(generate_events(count=count, seed=em.seed, now=em.session.start))


@pytest.mark.parametrize("order", ["first", "second"])
def test_spoils_what_it_got(zenoti_emulator, order):
    events = zenoti_emulator.generate(count=2)
    IDS.extend(event["id"] for event in events)
    events[0]["data"]["guest"]["first_name"] = "SPOILED"
    events[1]["data"].clear()
    story = zenoti_emulator.scenario("guest-day")
    story[0]["data"]["personal_info"]["first_name"] = "SPOILED"
    zenoti_emulator.generate("Guest.Created", set={"data.personal_info.first_name": "SPOILED"})


def test_sees_a_fresh_world(zenoti_emulator):
    [one] = zenoti_emulator.generate()
    [two] = zenoti_emulator.generate()  # a call continues where the session's last one stopped
    IDS.extend([one["id"], two["id"]])
    assert [one, two] == session_events(zenoti_emulator, len(IDS))[-2:]
    assert "SPOILED" not in repr(zenoti_emulator.generate("Guest.Created", count=3))
    fresh = [p.event for p in play(load("guest-day"), seed=zenoti_emulator.seed, now=zenoti_emulator.session.start)]
    assert zenoti_emulator.scenario("guest-day") == fresh
    assert zenoti_emulator.generate(seed=3, count=2) == zenoti_emulator.generate(seed=3, count=2)


def test_no_two_tests_got_the_same_event():
    assert IDS and len(IDS) == len(set(IDS))


def test_the_world_was_built_once_per_key():
    keys = [args for args in BUILT]
    assert len(keys) == len(set(keys)) + 1  # the session's world: built, then built once more to be kept
"""


def test_the_sessions_world_is_shared_and_no_test_sees_what_another_did(pytester: pytest.Pytester) -> None:
    """Tests share one built world per seed, start and profile, and events projected from
    it, as copies: a test that spoils its events and plays a scenario leaves the next test
    the same fresh world, in either order."""
    pytester.makepyfile(test_shared=SHARED)
    first = pytester.runpytest("-p", "no:cacheprovider", "-q", "test_shared.py")
    first.assert_outcomes(passed=5)
    # the other order: fresh, spoiled, fresh again
    again = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-q",
        "test_shared.py::test_sees_a_fresh_world",
        "test_shared.py::test_spoils_what_it_got",
        "test_shared.py::test_sees_a_fresh_world",
        "test_shared.py::test_no_two_tests_got_the_same_event",
    )
    again.assert_outcomes(passed=4)
