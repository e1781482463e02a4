"""``zenoti-emulator check``: against a correct receiver and one broken per check, on loopback.

Each breakage of :mod:`tests.contract_receiver` must fail its own check and no other.
"""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from emulator.check import checks as core, payloads, results as check_results, run as runner, speed
from emulator.cli import check as cli_check, cli
from emulator.events.registry import Registry, default_registry

from .contract_receiver import BREAKAGES, ContractReceiver
from .receivers import LoopbackServer, QuietHandler, Receiver, closed_port_url

SECRET = "whsec_contract_0042"
#: results of a default run: two checks per event type, large-payload for the types whose
#: size can grow, ten checks run once
RESULTS = 2 * len(default_registry()) + len(payloads.GROWABLE) + 10


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)


def report(result: Result) -> dict[str, Any]:
    return json.loads(result.stdout)


def outcomes(doc: dict[str, Any]) -> dict[str, str]:
    return {r["name"]: r["outcome"] for r in doc["results"]}


@pytest.fixture
def correct() -> Iterator[ContractReceiver]:
    with ContractReceiver(secret=SECRET) as rx:
        yield rx


@pytest.mark.slow
def test_a_correct_receiver_passes_every_check_with_the_defaults(correct: ContractReceiver) -> None:
    result = run(correct.url, "--secret", SECRET, "-v")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"zenoti-emulator check {correct.url}"
    verdicts = [line.split()[:2] for line in lines if line[:4] in ("PASS", "FAIL", "WARN", "SKIP")]
    types = sorted(default_registry(), key=lambda name: name != "AppointmentGroup.Created")
    assert [name for _, name in verdicts] == [
        *(f"accepts-events[{t}]" for t in types),
        "verb",
        "signature-format",
        "rejects-bad-signature",
        "rejects-missing-signature",
        "ping",
        "no-content-type",
        "duplicates",
        "out-of-order",
        *(f"unknown-fields[{t}]" for t in types),
        *(f"large-payload[{t}]" for t in types if t in payloads.GROWABLE),
        "latency",
        "burst",
    ]
    assert {v for v, _ in verdicts} == {"PASS"}
    n = RESULTS
    assert lines[-1].startswith(f"{n} checks: {n} passed, 0 failed, 0 warned, 0 skipped in ")
    assert SECRET not in result.output
    # what the receiver stored: the realistic and edge events, the large one, the burst
    assert correct.requests > runner.DEFAULT_BURST
    assert max(len(json.dumps(e)) for e in correct.stored) >= 100 * 1024  # the world's largest group


@pytest.mark.slow
@pytest.mark.parametrize("broken", sorted(BREAKAGES))
def test_each_breakage_fails_its_own_check_and_no_other(broken: str) -> None:
    verb = ["--verb", "PUT"] if broken == "post-only" else []
    if broken == "rate-limited":
        # 300 a minute: the rest of the suite for 38 types is more than that already, so the
        # webhook subscribes to one type, and only the burst goes past the limit.
        verb += ["--event-type", "AppointmentGroup.Created"]
    with ContractReceiver(secret=SECRET, broken=broken) as rx:
        result = run(rx.url, "--secret", SECRET, "--format", "json", *verb)
    assert result.exit_code == 1, result.output
    doc = report(result)
    failed = {r["check"] for r in doc["results"] if r["outcome"] == "fail"}
    assert failed == {BREAKAGES[broken]}
    assert {r["outcome"] for r in doc["results"]} <= {"pass", "fail", "skip"}
    for failure in [r for r in doc["results"] if r["outcome"] == "fail"]:  # one check, maybe of several types
        assert all(e["request"]["url"] == rx.url for e in failure["evidence"])
        statuses = [e["response"]["status"] for e in failure["evidence"]]
        if failure["check"].startswith("rejects-"):  # the failure is a 2xx to a forgery
            assert all(200 <= s < 300 for s in statuses)
        else:
            assert any(s >= 400 for s in statuses)
        assert failure["why"] and failure["fix"]
    assert doc["exit_code"] == 1 and doc["ok"] is False and SECRET not in result.stdout


@pytest.mark.slow
def test_the_text_report_shows_the_evidence_of_a_failure_then_the_summary() -> None:
    with ContractReceiver(secret=SECRET, broken="accepts-wrong-signature") as rx:
        result = run(rx.url, "--secret", SECRET, "--skip", "burst,latency")
    assert result.exit_code == 1
    out = result.stdout
    assert "FAIL  rejects-bad-signature  an event signed with the wrong secret was answered 200" in out
    block = out[out.index("\nFAIL rejects-bad-signature:") :]
    assert "  why: " in block and "  fix: " in block
    assert f"    > an event signed with the wrong secret: POST {rx.url}" in block
    assert "zenoti-webhook-signature: sha256 =" in block
    assert "    < 200 in " in block and '{"ok": true}' in block
    n = RESULTS - 2  # without burst and latency
    assert out.splitlines()[-1].startswith(f"{n} checks: {n - 1} passed, 1 failed, 0 warned, 0 skipped in ")


@pytest.mark.slow
def test_a_receiver_that_takes_post_only_is_a_warning_without_verb() -> None:
    with ContractReceiver(secret=SECRET, broken="post-only") as rx:
        result = run(rx.url, "--secret", SECRET, "--format", "json", "--burst", "20")
    assert result.exit_code == 0
    verb = next(r for r in report(result)["results"] if r["check"] == "verb")
    assert verb["outcome"] == "warn" and "PUT and PATCH refused" in verb["message"]
    assert [e["request"]["method"] for e in verb["evidence"]] == ["PUT", "PATCH"]


@pytest.mark.slow
def test_with_a_verb_every_event_is_sent_with_it() -> None:
    with Receiver() as rx:
        result = run(rx.url, "--verb", "patch", "--only", "accepts-events,duplicates")
    assert result.exit_code == 0, result.output
    methods = {r.method for r in rx.requests}
    assert methods == {"PATCH"}


@pytest.mark.slow
def test_without_a_secret_the_signature_checks_are_skipped_and_nothing_is_signed() -> None:
    with ContractReceiver() as rx, Receiver() as plain:
        result = run(rx.url, "--format", "json", "--burst", "20")
        run(plain.url, "--only", "accepts-events")
    assert result.exit_code == 0
    skipped = {r["check"]: r["message"] for r in report(result)["results"] if r["outcome"] == "skip"}
    assert set(skipped) == {"signature-format", "rejects-bad-signature", "rejects-missing-signature"}
    assert "no --secret" in skipped["signature-format"]
    assert all("zenoti-webhook-signature" not in r.headers for r in plain.requests)


@pytest.mark.slow
def test_a_slow_receiver_warns_and_one_past_the_timeout_fails() -> None:
    with ContractReceiver(secret=SECRET, delay=0.05) as rx:
        slow = run(rx.url, "--secret", SECRET, "--slow", "0.03", "--burst", "20", "--format", "json")
    assert slow.exit_code == 0
    assert {n: o for n, o in outcomes(report(slow)).items() if o != "pass"} == {"latency": "warn"}
    latency = next(r for r in report(slow)["results"] if r["check"] == "latency")
    assert latency["stats"]["p95_ms"] >= 50 and latency["stats"]["events"] == runner.DEFAULT_LATENCY_EVENTS
    # Past Zenoti's timeout every event is a failed delivery; the latency check says so,
    # and stops once the p95 cannot come back under it (2 timeouts of 20 is over 5 %).
    with ContractReceiver(delay=0.4, fast_first=1) as rx:
        late = run(rx.url, "--only", "latency", "--timeout", "0.2", "--slow", "0.1")
    assert late.exit_code == 1
    assert re.search(
        r"FAIL  latency  p95 2\d\d ms over 2 events .*, stopped after 2 timeouts: no answer within 0.2 s", late.stdout
    )
    assert "< no answer after " in late.stdout


@pytest.mark.slow
def test_junit_report_is_valid_and_written_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "check.xml"
    with ContractReceiver(secret=SECRET, broken="rejects-ping") as rx:
        result = run(rx.url, "--secret", SECRET, "--format", "junit", "-o", str(out), "--burst", "20")
    assert result.exit_code == 1
    assert result.stdout == ""
    n = RESULTS
    assert "FAIL  ping" in result.stderr and f"{n} checks: {n - 1} passed, 1 failed" in result.stderr
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites" and root.get("tests") == str(n) and root.get("failures") == "1"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == n and suite.get("skipped") == "0"
    assert all(c.get("classname") == "zenoti.check" and float(c.get("time") or "x") >= 0 for c in cases)
    [failed] = [c for c in cases if c.find("failure") is not None]
    assert failed.get("name") == "ping"
    failure = failed.find("failure")
    assert failure is not None and "400" in (failure.get("message") or "")
    assert "< 400 in " in (failure.text or "")
    assert [c for c in cases if c.find("skipped") is not None] == []
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["url"] == rx.url and props["signed"] == "true"
    assert SECRET not in out.read_text()
    # and a JUnit reader (as CI servers use) sees the same verdicts
    from junitparser import Failure, JUnitXml

    [read] = list(JUnitXml.fromfile(str(out)))
    verdicts = {case.name: [type(r).__name__ for r in case.result] for case in read}
    assert len(verdicts) == n and read.tests == n and read.failures == 1 and read.skipped == 0
    assert verdicts["ping"] == [Failure.__name__] and verdicts["out-of-order"] == []
    assert verdicts["burst"] == [] and verdicts["accepts-events[AppointmentGroup.Created]"] == []


@pytest.mark.slow
def test_only_and_skip_choose_checks(correct: ContractReceiver) -> None:
    only = report(run(correct.url, "--only", "ping", "--only", "duplicates,verb", "--format", "json"))
    assert list(outcomes(only)) == ["verb", "ping", "duplicates"]
    skip = report(run(correct.url, "--skip", "burst,latency,large-payload", "--format", "json"))
    assert {"burst", "latency"}.isdisjoint(outcomes(skip)) and "ping" in outcomes(skip)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "pingg"], "Unknown check 'pingg' in --only. Did you mean 'ping'?"),
        (["--skip", "nothing-like-it"], "Unknown check 'nothing-like-it' in --skip. Known: accepts-events"),
        (["--burst", "0"], "Invalid value for '--burst'"),
        (["--concurrency", "1000"], "Invalid value for '-c' / '--concurrency'"),
        (["--slow", "20"], "The slow threshold must be positive and at most the timeout (10 s)"),
        (["--verb", "GET"], "Invalid value for '--verb'"),
        (["--event-type", "Appointment.Nope"], "Unknown event type 'Appointment.Nope'"),
        (["--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(correct: ContractReceiver, args: list[str], message: str) -> None:
    before = correct.requests
    result = run(correct.url, *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert correct.requests == before  # nothing was sent


def test_a_url_that_is_not_http_is_exit_2() -> None:
    result = run("ftp://127.0.0.1/hook")
    assert result.exit_code == 2 and "must start with http:// or https://" in result.stderr


@pytest.mark.slow
def test_a_burst_stops_after_twenty_failures_as_zenoti_deactivates() -> None:
    with ContractReceiver(secret=SECRET, broken="rate-limited", rate_limit=100) as rx:
        doc = report(run(rx.url, "--secret", SECRET, "--only", "burst", "--format", "json"))
    [burst] = doc["results"]
    assert burst["outcome"] == "fail" and "stopped after" in burst["message"] and "429" in burst["message"]
    assert burst["stats"]["answers"]["429"] >= speed.BURST_STOP_AFTER
    assert burst["stats"]["events"] < runner.DEFAULT_BURST and rx.requests < runner.DEFAULT_BURST
    assert len(burst["evidence"]) == check_results.MAX_EVIDENCE


def test_a_receiver_that_does_not_answer_the_first_request_is_a_finding_not_exit_2() -> None:
    # It accepts connections: something listens, so the run goes on and reports.
    with Receiver(["stall"]) as rx:
        result = run(rx.url, "--timeout", "0.3", "--only", "ping,duplicates")
    assert result.exit_code == 0, result.output
    assert "note: the first event got no answer within 0.3 s: the receiver accepts connections" in result.stdout
    assert "set-up: 1 probe: 1 with no answer within 0.3 s" in result.stdout


def test_an_unreachable_receiver_is_exit_2_with_one_line(tmp_path: Path) -> None:
    url = closed_port_url()
    result = run(url, "--format", "json")
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: Cannot reach {url}: ") and "Is the receiver running" in line


def test_an_output_file_in_a_missing_folder_is_exit_2(correct: ContractReceiver, tmp_path: Path) -> None:
    result = run(correct.url, "-o", str(tmp_path / "no" / "such" / "report.txt"))
    assert result.exit_code == 2 and "Choose another --output" in result.stderr


def test_list_names_every_check() -> None:
    result = run("--list")
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == list(core.CHECKS)
    missing = run()
    assert missing.exit_code == 2 and "Missing argument 'URL'" in missing.stderr


def test_the_cli_defaults_are_the_core_defaults() -> None:
    # cli/check.py mirrors them so that --help imports nothing heavy.
    assert (
        cli_check.DEFAULT_TIMEOUT,
        cli_check.DEFAULT_SLOW,
        cli_check.DEFAULT_LATENCY_EVENTS,
        cli_check.DEFAULT_BURST,
        cli_check.DEFAULT_BURST_CONCURRENCY,
    ) == (
        runner.DEFAULT_TIMEOUT,
        runner.DEFAULT_SLOW,
        runner.DEFAULT_LATENCY_EVENTS,
        runner.DEFAULT_BURST,
        runner.DEFAULT_BURST_CONCURRENCY,
    )


def test_the_installed_command_runs_check(command: str, correct: ContractReceiver) -> None:
    done = subprocess.run(
        [command, "check", correct.url, "--only", "ping,verb", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"ZENOTI_EMULATOR_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["signed"] is True


# -- out-of-order ------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_check_passes_on_a_correct_receiver_and_events_follow_their_bookings(
    registry: Registry, correct: ContractReceiver
) -> None:
    config = runner.CheckConfig(correct.url, secret=SECRET, burst=50)
    with runner.CheckRun(config, registry=registry) as check_run:
        results = check_run.run_all()
    assert {r.name: r.outcome for r in results if r.outcome != "pass"} == {}
    assert "unknown-fields[AppointmentGroup.Status]" in {r.name for r in results}
    # every status change, start, completion and invoice came after its group's booking,
    # except the one out-of-order sends first on purpose
    booked: set[str] = set()
    early = 0
    for event in correct.stored:
        data = event["data"]
        group = data.get("appointment_group_id") or data.get("invoice", {}).get("appointment_group_id")
        group = group and group.lower()  # feedback names the group in upper case
        if event["event_type"] == "AppointmentGroup.Created":
            booked.add(group)
        elif group is not None:
            early += group not in booked
    assert early == 1


@pytest.mark.parametrize(("broken", "expected"), [(None, "pass"), ("status-before-group", "fail")])
def test_out_of_order_sends_a_status_before_its_group(registry: Registry, broken: str | None, expected: str) -> None:
    with ContractReceiver(secret=SECRET, broken=broken) as rx:
        config = runner.CheckConfig(rx.url, secret=SECRET, only=("out-of-order",))
        with runner.CheckRun(config, registry=registry) as check_run:
            [result] = check_run.run_all()
        order = [(e["event_type"], e["data"]["appointment_group_id"]) for e in rx.stored]
    assert result.outcome == expected
    assert "before its AppointmentGroup.Created" in result.evidence[0].label
    if not broken:  # the status went first, naming the group that came after it
        assert [t for t, _ in order[-2:]] == ["AppointmentGroup.Status", "AppointmentGroup.Created"]
        assert order[-2][1] == order[-1][1]


def test_out_of_order_is_skipped_when_the_webhook_does_not_take_status_events(registry: Registry) -> None:
    with ContractReceiver() as rx:
        config = runner.CheckConfig(rx.url, event_types=("AppointmentGroup.Created",), only=("out-of-order",))
        with runner.CheckRun(config, registry=registry) as check_run:
            [result] = check_run.run_all()
    assert result.outcome == "skip" and "does not subscribe to both" in result.message


def test_a_receiver_that_refuses_unsigned_events_hints_at_the_secret(correct: ContractReceiver) -> None:
    result = run(correct.url, "--only", "ping")
    assert result.exit_code == 0
    assert "  note: the receiver wants signed events (an unsigned one was answered 401): pass --secret" in result.stdout


class _Hostile(QuietHandler):
    """Answers 500 with a reason phrase and a body full of terminal escape sequences."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"\x1b[2J\x1b]0;owned\x07 gone\r\nnext line"
        self.send_response(500, "Oops\x1b[31m")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_hostile_answer_cannot_drive_the_terminal() -> None:
    with LoopbackServer(_Hostile) as rx:
        result = run(rx.url, "--only", "ping", "--timeout", "2")
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert r"< 500 in " in result.stdout and r"\x1b[2J\x1b]0;owned\x07 gone\x0d\x0anext line" in result.stdout


def test_a_text_report_to_a_file_is_whole_and_the_terminal_sees_progress(
    correct: ContractReceiver, tmp_path: Path
) -> None:
    out = tmp_path / "check.txt"
    result = run(correct.url, "--secret", SECRET, "--only", "ping,verb", "-o", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    text = out.read_text(encoding="utf-8").splitlines()
    assert text[0] == f"zenoti-emulator check {correct.url}"
    assert [line.split()[:2] for line in text[2:4]] == [["PASS", "verb"], ["PASS", "ping"]]
    assert text[-1].startswith("2 checks: 2 passed, 0 failed, 0 warned, 0 skipped in ")
    assert "PASS  ping" in result.stderr and result.stderr.splitlines()[-1] == text[-1]


def test_a_redirecting_url_is_named_in_a_note() -> None:
    with Receiver(default=301) as rx:
        result = run(rx.url, "--only", "ping")
    assert "note: a valid event was answered 301 (a redirect: Zenoti does not follow them" in result.stdout
    assert result.exit_code == 1  # the ping got a 301 too
