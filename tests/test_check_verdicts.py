"""``check``'s verdicts against receivers that behave like ones found in the wild.

Each receiver here is one a developer really ships: a rate limiter of 300 a minute, a
100 KiB body limit, a route that answers one event type and hangs on the rest, a handler
that answers after Zenoti's 10 s, one that verifies no signature, one that applies a
duplicate twice, one that drops a status arriving before its group. Each must fail what
it breaks, and only that, with a message naming what came back and a fix for that.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator.check import payloads
from emulator.events.registry import default_registry

from .conftest import COMMAND
from .contract_receiver import ContractReceiver
from .receivers import LoopbackServer, OneTypeReceiver, QuietHandler, Receiver

SECRET = "whsec_verdicts_0042"
#: the worlds' clock: with a seed, the same events every run
NOW = "2026-03-02T09:00:00Z"
TYPES = len(default_registry())
#: results of a default run: accepts-events and unknown-fields per type, large-payload for
#: the two types whose size grows, and ten checks run once
RESULTS = 2 * TYPES + len(payloads.GROWABLE) + 10


@dataclass
class Result:
    """What the installed command did: its exit status and what it wrote."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run(*args: str) -> Result:
    """``zenoti-emulator check ARGS``, the installed command, as a receiver's developer runs it."""
    done = subprocess.run(
        [COMMAND, "check", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100"},
    )
    return Result(done.returncode, done.stdout, done.stderr)


def report(result: Result) -> dict[str, Any]:
    return json.loads(result.stdout)


def failed(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in doc["results"] if r["outcome"] == "fail"}


@pytest.fixture
def correct() -> Iterator[ContractReceiver]:
    with ContractReceiver(secret=SECRET) as rx:
        yield rx


# -- the default report ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_correct_receiver_gets_a_compact_report_and_every_line_with_v(correct: ContractReceiver) -> None:
    compact = run(correct.url, "--secret", SECRET, "--burst", "100")
    assert compact.exit_code == 0, compact.output
    lines = compact.stdout.splitlines()
    assert len(lines) <= 25
    assert lines[1] == f"  verb POST, signed, {TYPES} event types (-v lists them)"
    verdicts = [line.split()[:3] for line in lines if line[:4] in ("PASS", "FAIL", "WARN", "SKIP")]
    assert [name for _, name, _ in verdicts] == [
        "accepts-events",
        "verb",
        "signature-format",
        "rejects-bad-signature",
        "rejects-missing-signature",
        "ping",
        "no-content-type",
        "duplicates",
        "out-of-order",
        "unknown-fields",
        "large-payload",
        "latency",
        "burst",
    ]
    assert f"PASS  accepts-events  {TYPES} types  (" in compact.stdout
    assert "PASS  large-payload  2 types  (" in compact.stdout
    assert re.search(
        r"^set-up: 1 probe and \d+ bookings that later events name: \d+ answered 200$", compact.stdout, re.M
    )
    assert lines[-1].startswith(f"{RESULTS} checks: {RESULTS} passed, 0 failed, 0 warned, 0 skipped in ")
    verbose = run(correct.url, "--secret", SECRET, "--burst", "100", "-v")
    vlines = verbose.stdout.splitlines()
    assert "AppointmentGroup.Created, " in vlines[1] and "Invoice.Closed" in vlines[1]
    assert sum(line.startswith("PASS  ") for line in vlines) == RESULTS
    assert "PASS  large-payload[Invoice.Closed]  a " in verbose.stdout


def test_a_url_without_a_scheme_is_http(correct: ContractReceiver) -> None:
    bare = correct.url.removeprefix("http://")
    result = run(bare, "--secret", SECRET, "--only", "ping")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"zenoti-emulator check {correct.url}"
    assert run("ftp://127.0.0.1/hook").exit_code == 2


# -- classification: the message and the fix follow what came back ---------------------------


def answered(action: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """no-content-type's one result (and the report) when its event meets ``action``; the
    probe before it is answered 200, so the receiver is up."""
    with Receiver([200, action], default=200) as rx:
        doc = report(
            run(
                rx.url,
                "--secret",
                SECRET,
                "--only",
                "no-content-type",
                "--event-type",
                "AppointmentGroup.Created",
                "--format",
                "json",
                "--seed",
                "1",
                "--now",
                NOW,
            )
        )
    [result] = doc["results"]
    return result, doc


@pytest.mark.parametrize(
    ("status", "says", "fix"),
    [
        (401, "answered 401: the receiver refused the signature", "Check that --secret is this webhook's secret"),
        (404, "answered 404: nothing handles POST at this URL", "Check the URL's path"),
        (408, "answered 408 (request timeout)", "Answer 2xx as soon as the event is stored"),
        (413, "answered 413: a 3 KiB body is over the receiver's body size limit", "Raise the body size limit"),
        (415, "answered 415: the receiver refuses the body's Content-Type", "whatever the Content-Type"),
        (422, "answered 422: the receiver refused the event's content", "Parse the raw body as JSON"),
        (500, "answered 500: the receiver failed (a server error)", "Read the receiver's log"),
        (503, "answered 503: the receiver failed (a server error)", "a 5xx is a crash or an outage"),
    ],
)
def test_each_answer_class_writes_its_own_message_and_fix(status: int, says: str, fix: str) -> None:
    result, doc = answered(status)
    assert result["outcome"] == "fail" and doc["exit_code"] == 1
    assert says in result["message"] and str(status) in result["message"]
    assert fix in result["fix"]
    assert result["cause"]["status"] == status


@pytest.mark.parametrize(
    ("action", "says", "fix", "kind"),
    [
        (
            403,
            "answered 403: the receiver refused the signature",
            "Check that --secret is this webhook's secret",
            "auth",
        ),
        (405, "answered 405: nothing handles POST at this URL", "route POST, PUT and PATCH", "not_found"),
        # another 4xx to a body without Content-Type: the fix names the check's own cause
        (
            409,
            "answered 409 (conflict): the receiver refused it as already seen",
            "whatever the Content-Type",
            "client",
        ),
        (418, "answered 418: the receiver refused the request", "whatever the Content-Type", "client"),
        (
            ("redirect", "/elsewhere"),
            "answered 302: a redirect, which Zenoti does not follow",
            "Give Zenoti the final URL",
            "redirect",
        ),
        ("reset", "no answer (", "dropped mid-run", "connection"),
    ],
)
def test_the_other_answer_classes_and_a_connection_dropped_mid_run(action: Any, says: str, fix: str, kind: str) -> None:
    result, doc = answered(action)
    assert result["outcome"] == "fail" and doc["exit_code"] == 1, result
    assert says in result["message"] and fix in result["fix"], result
    assert result["cause"]["class"] == kind


def test_a_429_is_waited_out_and_the_check_says_it_paced() -> None:
    with Receiver([200, 429], default=200) as rx:  # no Retry-After: a wait of 1 s, then again
        doc = report(
            run(rx.url, "--only", "no-content-type", "--event-type", "AppointmentGroup.Created", "--format", "json")
        )
    [result] = doc["results"]
    assert result["outcome"] == "pass" and "(paced: waited 1.0 s for the receiver's rate limit)" in result["message"]
    assert result["stats"]["paced_s"] == 1.0
    assert "the receiver rate-limits: 429 after 1 requests" in " ".join(doc["notes"])


# -- a rate limiter fails burst and nothing else ---------------------------------------------


def test_a_300_a_minute_rate_limiter_fails_only_burst_naming_429_and_retry_after() -> None:
    types = [
        "--event-type",
        "AppointmentGroup.Created",
        "--event-type",
        "AppointmentGroup.Status",
        "--event-type",
        "Invoice.Closed",
    ]
    with ContractReceiver(secret=SECRET, broken="rate-limited", rate_limit=300) as rx:
        result = run(rx.url, "--secret", SECRET, *types)
    assert result.exit_code == 1
    assert [line.split()[1] for line in result.stdout.splitlines() if line.startswith("FAIL  ")] == ["burst"]
    assert re.search(
        r"FAIL  burst  \d+ events at 20 in flight in [\d.]+ s: \d+ answered 429: a rate limiter "
        r"refused it, Retry-After \d+ s \(\d+ accepted\); stopped after",
        result.stdout,
    )
    assert "fix: Do not rate-limit Zenoti's addresses" in result.stdout


@pytest.mark.slow
def test_the_checks_before_burst_pace_themselves_under_a_limit_they_meet() -> None:
    # The same limiter on a fast clock (30 a second, Retry-After 1, low enough that a busy
    # machine still trips it): the suite's own ~400 requests before the burst go past it,
    # wait as told, and pass.
    with ContractReceiver(secret=SECRET, broken="rate-limited", rate_limit=30, rate_window=1.0) as rx:
        result = run(rx.url, "--secret", SECRET, "--format", "json", "--burst", "100")
    doc = report(result)
    assert set(failed(doc)) == {"burst"} and result.exit_code == 1
    assert failed(doc)["burst"]["cause"]["class"] == "rate_limited"
    # (burst may wait out the window the checks before it used, then fails as it should)
    paced = [r for r in doc["results"] if r["stats"].get("paced_s") and r["check"] != "burst"]
    assert paced and all("(paced: waited " in r["message"] and r["outcome"] == "pass" for r in paced)
    [note] = [n for n in doc["notes"] if n.startswith("the receiver rate-limits")]
    assert re.match(
        r"the receiver rate-limits: 429 after \d+ requests, Retry-After 1 s; the checks before burst "
        r"paced themselves",
        note,
    )


# -- a body limit fails the realistic sizes above it, as one cause ----------------------------


@pytest.mark.slow
def test_a_100_kib_body_limit_fails_the_realistic_sizes_above_it_under_one_cause() -> None:
    with ContractReceiver(secret=SECRET, broken="body-limit-100kb") as rx:
        text = run(rx.url, "--secret", SECRET, "--skip", "burst,latency", "--seed", "2")
        doc = report(run(rx.url, "--secret", SECRET, "--skip", "burst,latency", "--seed", "3", "--format", "json"))
    assert text.exit_code == 1
    assert set(failed(doc)) == {"large-payload[AppointmentGroup.Created]", "large-payload[Invoice.Closed]"}
    for result in failed(doc).values():
        assert "answered 413: a " in result["message"] and "over the receiver's body size limit" in result["message"]
        assert "160 items in data" in result["message"]  # the world's largest group, never more
        assert "the largest group" in result["message"]
        assert result["evidence"][0]["request"]["body_bytes"] > 100 * 1024
    [cause] = doc["causes"]
    assert cause["checks"] == sorted(failed(doc), key=lambda n: n != "large-payload[AppointmentGroup.Created]")
    assert re.match(r"2 checks: bodies of 1\d\d KiB and more answered 413", cause["title"])
    # the text says the cause once, lists the checks, then why and fix once
    block = text.stdout[text.stdout.index("\nFAIL 2 checks: bodies of ") :]
    assert block.count("  fix: ") == 1 and "  - large-payload[Invoice.Closed]: a " in block


@pytest.mark.slow
def test_large_payload_runs_only_for_types_that_can_grow_and_stress_is_opt_in(correct: ContractReceiver) -> None:
    doc = report(run(correct.url, "--secret", SECRET, "--only", "large-payload,stress-payload", "--format", "json"))
    assert [r["name"] for r in doc["results"]] == [
        "large-payload[AppointmentGroup.Created]",
        "large-payload[Invoice.Closed]",
        "stress-payload",
    ]
    assert all(r["outcome"] == "pass" for r in doc["results"])
    plain = report(run(correct.url, "--secret", SECRET, "--skip", "burst", "--format", "json", "--seed", "4"))
    assert "stress-payload" not in {r["name"] for r in plain["results"]}
    with ContractReceiver(secret=SECRET, broken="body-limit-100kb") as rx:
        stress = report(run(rx.url, "--secret", SECRET, "--only", "stress-payload", "--format", "json"))
    [result] = stress["results"]
    assert result["outcome"] == "warn" and stress["exit_code"] == 0 and "answered 413" in result["message"]


# -- slow and hanging receivers: a full report, exit 1 -------------------------------------------


@pytest.mark.slow
def test_a_receiver_answering_after_zenotis_10_s_gets_a_full_report_and_exit_1(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    with Receiver(delay=11) as rx:  # Zenoti's real timeout, not a shortened one
        result = run(
            rx.url,
            "--only",
            "accepts-events,ping,duplicates",
            "--event-type",
            "AppointmentGroup.Created",
            "--format",
            "json",
            "-o",
            str(out),
        )
    assert result.exit_code == 1, result.output
    doc = json.loads(out.read_text())
    assert [r["name"] for r in doc["results"]] == ["accepts-events[AppointmentGroup.Created]", "ping", "duplicates"]
    for r in doc["results"]:
        assert r["outcome"] == "fail" and "no answer within 10 s" in r["message"]
        assert r["fix"].startswith("Answer 2xx as soon as the event is stored and do the work afterwards")
    [cause] = doc["causes"]
    assert cause["title"] == "3 checks: no answer within 10 s"
    assert any("answers too late" in note for note in doc["notes"])
    assert "Cannot reach" not in result.stderr


@pytest.mark.slow
def test_a_route_that_answers_one_type_and_hangs_on_the_rest_fails_each_other_type() -> None:
    with OneTypeReceiver("AppointmentGroup.Created") as rx:
        result = run(rx.url, "--timeout", "0.5", "--format", "json", "--burst", "40")
    doc = report(result)
    assert result.exit_code == 1 and len(doc["results"]) == RESULTS
    accepts = {r["event_type"]: r for r in doc["results"] if r["check"] == "accepts-events"}
    assert accepts.pop("AppointmentGroup.Created")["outcome"] == "pass"
    assert all(r["outcome"] == "fail" and "no answer within 0.5 s" in r["message"] for r in accepts.values())
    assert all("body size" not in r["message"] and "body size" not in r["fix"] for r in failed(doc).values())
    assert failed(doc)["large-payload[Invoice.Closed]"]["message"].endswith("no answer within 0.5 s")
    timeouts = next(c for c in doc["causes"] if c["cause"] and c["cause"]["class"] == "timeout")
    assert len(timeouts["checks"]) >= TYPES - 1 and "ping" in timeouts["checks"]


# -- signatures ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_receiver_that_verifies_no_signature_fails_the_two_forgery_checks_only() -> None:
    with ContractReceiver() as rx:  # takes anything
        doc = report(run(rx.url, "--secret", SECRET, "--format", "json", "--skip", "burst"))
    assert set(failed(doc)) == {"rejects-bad-signature", "rejects-missing-signature"}
    for r in failed(doc).values():
        assert "was answered 200: the receiver accepts forged events" in r["message"]
        assert r["fix"].startswith(("Verify the signature", "Treat a missing signature"))


def test_without_secret_a_verifying_receiver_fails_nothing_and_is_told_to_pass_secret(
    correct: ContractReceiver,
) -> None:
    # The README's own command against the README's kind of receiver.
    result = run(correct.url, "--only", "ping,verb,no-content-type")
    assert result.exit_code == 0, result.output
    assert "note: the receiver wants signed events (an unsigned one was answered 401): pass --secret" in result.stdout
    assert "PASS  ping" in result.stdout
    assert "SKIP  verb  PUT and PATCH: answered 401: the receiver wants signed events (pass --secret)" in result.stdout
    assert "SKIP  no-content-type  " in result.stdout and "FAIL" not in result.stdout
    assert "JSON-only" not in result.stdout


class _BookingsFail(QuietHandler):
    """Answers 500 to every booking (AppointmentGroup.Created), 200 to everything else."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = 500 if b'"event_type":"AppointmentGroup.Created"' in body else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_the_set_up_bookings_are_reported_even_when_refused() -> None:
    with LoopbackServer(_BookingsFail) as rx:
        result = run(rx.url, "--only", "accepts-events", "--event-type", "Appointment.Completed", "--seed", "5")
    assert result.exit_code == 0  # the events under test were accepted
    match = re.search(
        r"^set-up: 1 probe and (\d+) bookings that later events name: 1 answered 200, \1 answered 500$",
        result.stdout,
        re.M,
    )
    assert match, result.stdout
    assert f"  {match.group(1)} set-up bookings were not accepted (answered 500: the receiver failed" in result.stdout
    assert "    > first, the booking of group " in result.stdout and "    < 500 in " in result.stdout


# -- fresh ids ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 3, 5])
def test_every_event_of_a_run_is_new_except_the_duplicate(seed: int) -> None:
    with Receiver() as rx:
        result = run(rx.url, "--seed", str(seed), "--burst", "60", "--skip", "large-payload")
        ids = Counter(json.loads(r.body)["id"] for r in rx.requests if r.body)
    assert result.exit_code == 0, result.output
    repeated = {i: n for i, n in ids.items() if n > 1}
    assert list(repeated.values()) == [2], repeated  # the duplicates check's event, twice
    assert len(ids) > 150


# -- effects, observed -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("broken", "check", "words"),
    [
        ("applies-duplicates-twice", "duplicates", "but applied 2 times"),
        ("drops-early-status", "out-of-order", "but the group holds status 0, not "),
    ],
)
def test_a_hidden_bug_is_caught_only_when_observed(broken: str, check: str, words: str) -> None:
    with ContractReceiver(secret=SECRET, broken=broken) as rx:
        blind = report(run(rx.url, "--secret", SECRET, "--only", check, "--format", "json"))
        seen = report(run(rx.url, "--secret", SECRET, "--only", check, "--format", "json", "--observe", rx.observe_url))
    [b] = blind["results"]
    assert (
        b["outcome"] == "pass"
        and "effect not observed: pass --observe URL, or define the pytest fixture" in b["message"]
    )
    [s] = seen["results"]
    assert s["outcome"] == "fail" and words in s["message"] and f"--observe {rx.observe_url}" in s["message"]


def test_a_correct_receiver_passes_when_observed(correct: ContractReceiver) -> None:
    doc = report(
        run(
            correct.url,
            "--secret",
            SECRET,
            "--only",
            "duplicates,out-of-order",
            "--format",
            "json",
            "--observe",
            correct.observe_url,
        )
    )
    assert [r["outcome"] for r in doc["results"]] == ["pass", "pass"]
    assert "applied once (observed through --observe" in doc["results"][0]["message"]
    assert "and the group holds status " in doc["results"][1]["message"]


def test_an_observer_that_does_not_answer_as_documented_fails_the_check_saying_so(correct: ContractReceiver) -> None:
    doc = report(
        run(
            correct.url,
            "--secret",
            SECRET,
            "--only",
            "duplicates",
            "--format",
            "json",
            "--observe",
            correct.url.replace("/hooks/zenoti", "/nowhere"),
        )
    )
    [r] = doc["results"]
    assert r["outcome"] == "fail" and "could not say how often it was applied" in r["message"]
    assert "answered 404" in r["message"]


def test_the_class_of_an_answer_is_the_same_in_text_json_and_junit() -> None:
    import xml.etree.ElementTree as ET

    outputs = {}
    for fmt in ("text", "json", "junit"):
        with Receiver([200, 413], default=200) as rx:
            outputs[fmt] = run(
                rx.url,
                "--secret",
                SECRET,
                "--only",
                "no-content-type",
                "--event-type",
                "AppointmentGroup.Created",
                "--format",
                fmt,
                "--seed",
                "1",
                "--now",
                NOW,
            ).stdout
    says = "answered 413: a 3 KiB body is over the receiver's body size limit"
    assert f"FAIL  no-content-type  a body without Content-Type: {says}" in outputs["text"]
    assert "  cause: " + says + " (not what no-content-type tests: the fix is for that)" in outputs["text"]
    [result] = json.loads(outputs["json"])["results"]
    assert result["cause"]["class"] == "too_large" and result["cause"]["says"] == says
    failure = ET.fromstring(outputs["junit"].split("\n", 1)[1]).find(".//failure")
    assert failure is not None and failure.get("type") == "too_large" and says in (failure.get("message") or "")
