"""``zenoti-emulator generate``, run as the installed command a user runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from emulator.events.registry import default_registry

NOW = "2024-07-25T14:52:06.769417Z"


def run(command: str, *args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([command, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_jsonl_prints_one_valid_event_per_line(command):
    result = run(command, "generate", "--count", "25", "--seed", "3", "--now", NOW, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 25
    kind = default_registry()["AppointmentGroup.Created"]
    assert all(kind.is_valid(json.loads(line)) for line in lines)
    assert result.stderr == ""


def test_json_is_one_array_and_pretty_is_indented(command):
    array = json.loads(run(command, "generate", "-n", "3", "--seed", "1", "--now", NOW, "--format", "json").stdout)
    assert len(array) == 3
    pretty = run(command, "generate", "--seed", "1", "--now", NOW, "--format", "pretty").stdout
    assert pretty.startswith('{\n  "id"') and json.loads(pretty) == array[0]


def test_not_a_terminal_defaults_to_jsonl(command):
    out = run(command, "generate", "-n", "2", "--seed", "1", "--now", NOW).stdout
    assert [json.loads(line)["event_type"] for line in out.splitlines()] == ["AppointmentGroup.Created"] * 2


def test_same_seed_and_now_are_byte_identical_across_processes(command):
    args = ("generate", "-n", "50", "--seed", "11", "--now", NOW, "--profile", "edge")
    assert run(command, *args).stdout == run(command, *args).stdout


def test_different_seeds_and_no_seed_differ(command):
    a = run(command, "generate", "--seed", "1", "--now", NOW).stdout
    b = run(command, "generate", "--seed", "2", "--now", NOW).stdout
    c = run(command, "generate", "--now", NOW).stdout
    d = run(command, "generate", "--now", NOW).stdout
    assert len({a, b, c, d}) == 4


def test_output_file_gets_the_events_and_stderr_says_so(command, tmp_path):
    target = tmp_path / "events.jsonl"
    result = run(command, "generate", "-n", "7", "--seed", "1", "-o", str(target))
    assert result.returncode == 0 and result.stdout == ""
    assert len(target.read_text().splitlines()) == 7
    assert "Wrote 7" in result.stderr


def test_set_overrides_with_json_values_and_strings(command):
    out = run(
        command,
        "generate",
        "--seed",
        "1",
        "--now",
        NOW,
        "--set",
        "data.guest.email=null",
        "--set",
        'data.appointments.0.room_name="Suite 4"',
        "--set",
        "data.utm_source=newsletter",
    ).stdout
    data = json.loads(out)["data"]
    assert data["guest"]["email"] is None
    assert data["appointments"][0]["room_name"] == "Suite 4"
    assert data["utm_source"] == "newsletter"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "data.invoice_number=8086"], "$.data.invoice_number: 8086 is not of type 'string'"),
        (["--set", "data.appointments.0.start_time=tomorrow"], "$.data.appointments[0].start_time"),
        (["--set", "nonsense"], "expected PATH=VALUE"),
        (["--set", "data.appointments.50.room_name=x"], "no item 50 in data.appointments"),
        (["Appointment.Created"], "Did you mean 'AppointmentGroup.Created'?"),
        (["--count", "0"], "--count"),
        (["--now", "yesterday"], "Malformed time 'yesterday'"),
        (["--profile", "weird"], "'weird' is not one of 'realistic', 'edge'"),
        (["-o", "/nonexistent-dir/events.jsonl"], "Cannot write /nonexistent-dir/events.jsonl"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(command, args, message):
    result = run(command, "generate", "--seed", "1", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_no_validate_sends_a_breaking_override(command):
    result = run(command, "generate", "--seed", "1", "--set", "data.invoice_number=8086", "--no-validate")
    assert result.returncode == 0
    assert json.loads(result.stdout)["data"]["invoice_number"] == 8086


def test_python_dash_m_emulator_is_the_same_command():
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "generate", "--seed", "4", "--now", NOW],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["event_type"] == "AppointmentGroup.Created"


def test_help_lists_exit_codes(command):
    out = run(command, "--help").stdout
    assert "Exit codes:" in out and "generate" in out
