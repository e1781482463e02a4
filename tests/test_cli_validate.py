"""``zenoti-emulator validate``: the installed command for exit codes and stdin, CliRunner for detail."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from emulator.cli import cli

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "fixtures" / "captures"
DOC_SAMPLE = ROOT / "fixtures" / "docs" / "appointment-group-created.json"
TYPE = "AppointmentGroup.Created"


def run(command: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([command, "validate", *args], capture_output=True, text=True, timeout=60, input=stdin)


@pytest.fixture
def event() -> dict[str, Any]:
    return json.loads(DOC_SAMPLE.read_text(encoding="utf-8"))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# --------------------------------------------------------------------------- exit codes, installed command


def read_terminal(primary: int) -> bytes:
    """Everything written to a pseudo-terminal until its other end closes (EIO on Linux)."""
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            return seen
        if not chunk:
            return seen
        seen += chunk


def test_all_valid_exits_0_with_the_summary_on_stdout(command: str) -> None:
    result = run(command, str(CAPTURES / "valid.jsonl"), str(CAPTURES / "folder"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"7 events: 7 valid, 0 invalid, 0 skipped; {TYPE}: 7 (7 valid)\n"
    assert result.stderr == ""  # not a terminal: no progress bar


def test_invalid_events_exit_1(command: str) -> None:
    result = run(command, str(CAPTURES / "corrupted.jsonl"))
    assert result.returncode == 1
    assert "INVALID" in result.stdout and result.stderr == ""


def test_a_missing_path_exits_2_with_one_line(command: str, tmp_path: Path) -> None:
    result = run(command, str(CAPTURES / "valid.jsonl"), str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2
    assert result.stderr == f"Error: Cannot read {tmp_path / 'nope.jsonl'}: no such file or directory.\n"
    assert result.stdout == ""


def test_bad_usage_exits_2(command: str) -> None:
    assert run(command).returncode == 2
    assert run(command, "--format", "xml", str(CAPTURES)).returncode == 2
    unknown = run(command, "--event-type", "AppointmentGroup.Create", str(CAPTURES))
    assert unknown.returncode == 2 and "Did you mean 'AppointmentGroup.Created'?" in unknown.stderr


def test_an_output_file_that_cannot_be_written_exits_2_with_one_line(command: str, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "r.json"
    result = run(command, "-o", str(target), str(CAPTURES / "valid.jsonl"))
    assert result.returncode == 2
    assert result.stderr == f"Error: Cannot write {target}: No such file or directory. Choose another --output.\n"
    assert result.stdout == ""


def test_a_non_json_file_among_others_is_reported_and_the_run_goes_on(command: str) -> None:
    result = run(command, str(CAPTURES / "not-json.json"), str(CAPTURES / "valid.jsonl"))
    assert result.returncode == 1
    assert f"INVALID {CAPTURES / 'not-json.json'}: not JSON" in result.stdout
    assert result.stdout.endswith(
        f"5 events: 4 valid, 1 invalid, 0 skipped; (unrecognized): 1 (1 invalid); {TYPE}: 4 (4 valid)\nnot valid events, by reason: not_json 1\n"
    )


def test_stdin_reads_json_lines(command: str, event: dict[str, Any]) -> None:
    broken = dict(event, id="not-an-id")
    result = run(command, "-", "--format", "json", stdin=json.dumps(event) + "\n" + json.dumps(broken) + "\n")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["summary"]["total"] == 2
    [invalid] = report["events"]
    assert invalid["source"]["label"] == "<stdin>:2"
    assert [e["path"] for e in invalid["errors"]] == ["$.id", "$.id"]


def test_stdin_reads_one_pretty_printed_event(command: str, event: dict[str, Any]) -> None:
    result = run(command, "-", stdin=json.dumps(event, indent=2))
    assert result.returncode == 0
    assert result.stdout.startswith("1 event: 1 valid")


def test_drift_alone_exits_0_unless_fail_on_drift(command: str, event: dict[str, Any], tmp_path: Path) -> None:
    event["data"]["appointments"][0]["appointment_type"] = 9
    path = tmp_path / "drift.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    warned = run(command, str(path))
    assert warned.returncode == 0
    assert "Drift (warnings):" in warned.stdout
    failed = run(command, str(path), "--fail-on-drift")
    assert failed.returncode == 1
    assert "Drift (errors: --fail-on-drift):" in failed.stdout


def test_strict_makes_unknown_fields_fail(command: str, event: dict[str, Any], tmp_path: Path) -> None:
    event["data"]["loyalty_points"] = 3
    path = tmp_path / "extra.jsonl"
    path.write_text(json.dumps(event) + "\n", encoding="utf-8")
    assert run(command, str(path)).returncode == 0
    strict = run(command, str(path), "--strict")
    assert strict.returncode == 1
    assert "  $.data.loyalty_points: expected no such field (--strict), found integer 3\n" in strict.stdout


def test_a_progress_bar_shows_on_a_terminal_only(command: str) -> None:
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            [command, "validate", str(CAPTURES)],
            stdout=subprocess.PIPE,
            stderr=secondary,
            timeout=60,
            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
        )
        os.close(secondary)
        seen = read_terminal(primary)
    finally:
        os.close(primary)
    assert proc.returncode == 1
    assert b"validating" in seen
    assert b"validating" not in proc.stdout


def test_on_a_terminal_the_report_prints_above_the_bar_verbatim(command: str, tmp_path: Path) -> None:
    # stdout and stderr on one narrow terminal: the report goes through rich, above the
    # bar, and must come out as written: no markup read in a path, no line wrapped.
    folder = tmp_path / "x[/b]y"  # the folder "x[" and, in it, "b]y"
    folder.mkdir(parents=True)
    (folder / "[bold]a.jsonl").write_bytes((CAPTURES / "corrupted.jsonl").read_bytes())
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [command, "validate", str(folder)],
            stdout=secondary,
            stderr=secondary,
            env={**os.environ, "COLUMNS": "60", "TERM": "xterm"},
        )
        os.close(secondary)
        seen = read_terminal(primary)
        returncode = proc.wait(timeout=60)
    finally:
        os.close(primary)
    text = seen.decode("utf-8")
    assert returncode == 1, text
    assert "Traceback" not in text
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)  # the bar's cursor moves and colours
    label = folder / "[bold]a.jsonl"
    # each line starts where the bar was cleared (not after the bar) and ends unbroken
    assert f"\rINVALID {label}:1  {TYPE}  id=66a266e9f3245482081a3991\r\n" in text
    assert '\r  $.data.appointments[0].service_duration_in_minutes: expected integer, found string "60"\r\n' in text


def test_text_above_the_bar_is_never_read_as_markup_even_when_flushed_mid_line() -> None:
    # rich's own redirect prints a flushed partial line as markup: MarkupError on '[/b]'.
    from rich.console import Console

    from emulator.cli.validate import _AboveBar

    buffer = io.StringIO()
    above = _AboveBar(Console(file=buffer, width=20, color_system=None))
    long = "x[/b]y :smile: [bold]z " * 3
    above.write("a [/b] path")
    above.flush()
    above.write(f" {long}\nlast [/b]")
    above.close()
    assert buffer.getvalue() == f"a [/b] path {long}\nlast [/b]"


# --------------------------------------------------------------------------- detail, CliRunner


def test_text_lists_every_error_with_path_expected_and_found(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", str(CAPTURES / "corrupted.jsonl")])
    assert result.exit_code == 1
    label = CAPTURES / "corrupted.jsonl"
    assert (
        f"INVALID {label}:1  {TYPE}  id=66a266e9f3245482081a3991\n"
        '  $.data.appointments[0].service_duration_in_minutes: expected integer, found string "60"\n'
        "  $.data.invoice_number: expected string, found integer 15544\n" in result.stdout
    )
    assert (
        f"SKIPPED {label}:6  Invoice.Voided  id=66a2670cf3245482081a39a0: unknown event type 'Invoice.Voided'; did you mean 'Invoice.Closed'?\n"
        in result.stdout
    )
    assert "    unknown field $.data.loyalty_points (integer): 1x, e.g. $.data.loyalty_points in " in result.stdout
    assert result.stderr == ""


def test_event_type_recognizes_data_only_bodies(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", "--event-type", TYPE, str(CAPTURES / "data-only.json")])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"NOTE    {CAPTURES / 'data-only.json'}  {TYPE}: valid, no envelope")
    assert "(1 with no envelope)" in result.stdout


def test_json_format_is_the_report_dict(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", "--format", "json", str(CAPTURES / "proxy.har")])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["summary"]["reasons"] == {"empty": 1, "not_json": 1, "not_webhook": 3, "schema": 1}
    assert [e["source"]["index"] for e in report["events"]] == [0, 1, 3, 4, 5, 6]
    assert report["events"][3]["source"]["detail"] == "POST https://hooks.example.com/hook"
    assert report["options"] == {"event_type": None, "strict": False, "fail_on_drift": False}


def test_junit_goes_to_a_file_with_the_summary_on_stderr(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "report.xml"
    result = runner.invoke(cli, ["validate", "--format", "junit", "-o", str(out), str(CAPTURES)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("29 events: 13 valid, 10 invalid, 6 skipped")
    root = ET.parse(out).getroot()
    assert (root.tag, root.get("failures"), root.get("skipped")) == ("testsuites", "10", "6")
    assert {s.get("name") for s in root.findall("testsuite")} >= {str(CAPTURES / "proxy.har"), "schema drift"}


def test_help_names_the_formats_and_exit_codes(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", "--help"])
    assert result.exit_code == 0
    assert "[text|json|junit]" in result.stdout and "--fail-on-drift" in result.stdout
