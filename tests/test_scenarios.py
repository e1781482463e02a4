"""Scenarios: every built-in story chains on several seeds, a user's file runs, each kind of
mistake in one is a one-line error naming file, step and field, disorder is exactly what
its seed says and loses nothing, and pacing follows the story's clock.

The chaining checks read the events as a receiver sees them (ids, order, status moves),
not the world's objects.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from emulator.cli import cli
from emulator.disorder import Disorder, disorder, parse_disorder
from emulator.errors import UsageError
from emulator.pacing import paced
from emulator.scenario import builtin_names, load, parse, stage
from emulator.world import habits
from .receivers import Receiver
from .test_delivery import FakeClock

NOW = datetime(2024, 7, 25, 8, 0, tzinfo=timezone.utc)
BUILTINS = ("guest-day", "no-show", "late-cancel", "reschedule", "refund", "walk-in")


def events_of(name: str, seed: int, profile: str = "realistic", now: datetime = NOW) -> list[dict[str, Any]]:
    return [p.event for p in stage(load(name), seed=seed, now=now, profile=profile).played]


def group_id(event: dict[str, Any]) -> str | None:
    data = event["data"]
    return data.get("appointment_group_id") or (data.get("invoice") or {}).get("appointment_group_id")


def check_chain(events: list[dict[str, Any]]) -> dict[str, list[int]]:
    """What every story must keep: time never goes back, a group is announced before
    anything names it, its status moves are legal, ids are unique. Returns each group's statuses."""
    stamps = [e["event_timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert len({e["id"] for e in events}) == len(events)
    created_guests: set[str] = set()
    statuses: dict[str, list[int]] = {}
    for event in events:
        kind, data = event["event_type"], event["data"]
        if kind == "Guest.Created":
            created_guests.add(data["id"])
        elif kind == "AppointmentGroup.Created":
            statuses[data["appointment_group_id"]] = [habits.STATUS_BOOKED]
            source = data.get("rebooked_source_group_id")
            assert source is None or source in statuses, "a rebooked group names a group announced before"
        else:
            group = group_id(event)
            if group is not None:
                assert group in statuses, f"{kind} names group {group} before its AppointmentGroup.Created"
            if kind == "AppointmentGroup.Status":
                now, new = statuses[group][-1], data["appointment_group_status"]
                assert new in habits.LEGAL_MOVES[now], f"illegal move {now} -> {new}"
                statuses[group].append(new)
    return statuses


@pytest.mark.parametrize("profile", ["realistic", "edge"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_scenario_chains(name: str, seed: int, profile: str) -> None:
    events = events_of(name, seed, profile)
    statuses = check_chain(events)
    kinds = [e["event_type"] for e in events]
    if name == "guest-day":
        guest = events[0]["data"]["id"]
        assert kinds[:4] == ["Guest.Created", "AppointmentGroup.Created", "AppointmentGroup.Status", "AppointmentGroup.Status"]
        assert events[1]["data"]["guest"]["id"] == guest
        appointments = events[1]["data"]["appointments"]
        assert len(appointments) == 3 and sum(a["is_add_on"] for a in appointments) == 1
        assert kinds[4:10] == ["Appointment.Started", "Appointment.Completed"] * 3
        started = [e["data"]["appointments"][0]["id"] for e in events[4:10:2]]
        assert started == [a["id"] for a in appointments]  # each appointment, in the order they run
        assert kinds[10:] == ["Invoice.Closed"] and events[10]["data"]["invoice"]["id"] == events[1]["data"]["invoice_id"]
        assert list(statuses.values()) == [[0, 4, 2]]
    elif name == "no-show":
        assert list(statuses.values()) == [[0, 4, -2]]
        assert events[-1]["data"]["is_noshowfeerequired"] == "Yes"
    elif name == "late-cancel":
        assert list(statuses.values()) == [[0, 4, -1]]
        assert events[-1]["data"]["is_cancellationfeerequired"] == "Yes"
    elif name == "reschedule":
        old, new = (e["data"] for e in events if e["event_type"] == "AppointmentGroup.Created")
        assert new["rebooked_source_group_id"] == old["appointment_group_id"]
        assert statuses[old["appointment_group_id"]] == [0, -1]
        assert statuses[new["appointment_group_id"]] == [0, 2]
        cancel = next(i for i, e in enumerate(events) if e["data"].get("appointment_group_status") == -1)
        assert kinds.index("AppointmentGroup.Created", 1) < cancel  # the new group first, then the old one cancelled
    elif name == "refund":
        paid, refund = (e["data"]["invoice"] for e in events if e["event_type"] == "Invoice.Closed")
        assert (paid["is_refund"], refund["is_refund"]) == (False, True)
        assert refund["appointment_group_id"] == paid["appointment_group_id"]
        assert refund["total_price"]["sum_total"] == -paid["total_price"]["sum_total"]
    elif name == "walk-in":
        first_start = next(e for e in events if e["event_type"] == "Appointment.Started")
        gap = datetime.fromisoformat(first_start["event_timestamp"][:19]) - datetime.fromisoformat(events[1]["event_timestamp"][:19])
        assert timedelta(0) < gap < timedelta(hours=1), f"walk-in started {gap} after booking"
        assert list(statuses.values()) == [[0, 2]]


def test_the_builtins_are_the_documented_ones() -> None:
    assert set(builtin_names()) == set(BUILTINS)


def test_a_scenario_replays_byte_for_byte_and_another_seed_differs() -> None:
    one, two = events_of("guest-day", 5), events_of("guest-day", 5)
    assert json.dumps(one) == json.dumps(two)
    assert json.dumps(one) != json.dumps(events_of("guest-day", 6))


USER_FILE = """
description = "Two friends book the same morning; one cancels."

[[step]]
do = "create_guest"
as = "ann"
center = 2

[[step]]
do = "book"
guest = "ann"
as = "morning"
services = 1
lead_days = 2
set = { "data.utm_source" = "friends" }

[[step]]
do = "update_guest"
guest = "ann"
after = "1h"

[[step]]
do = "cancel"
group = "morning"
at = "start-30h"
"""


def test_a_user_written_scenario_file_runs(tmp_path: Path) -> None:
    path = tmp_path / "friends.toml"
    path.write_text(USER_FILE)
    result = CliRunner().invoke(cli, ["scenario", "run", str(path), "--seed", "4", "--now", "2024-07-25T08:00:00Z",
                                      "--format", "jsonl", "--set", "+x_rehearsal=friends"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event_type"] for e in events] == ["Guest.Created", "AppointmentGroup.Created", "Guest.Updated",
                                                 "AppointmentGroup.Status"]
    check_chain(events)
    booked = events[1]["data"]
    assert booked["utm_source"] == "friends"  # the step's own set
    assert all(e["x_rehearsal"] == "friends" for e in events)  # the run's --set
    assert booked["guest"]["id"] == events[0]["data"]["id"] == events[2]["data"]["id"]
    assert events[3]["data"]["appointment_group_status"] == -1


MISTAKES = [
    ('[[step]]\ndo = "explode"\n', "step 1: do: 'explode' is not an action"),
    ('[[step]]\ndo = "create_guest"\ncolour = "red"\n', "step 1 (create_guest): colour: unknown parameter"),
    ('[[step]]\ndo = "book"\nservices = 0\n', "step 1 (book): services: 0 must be a whole number from 1 to 8"),
    ('[[step]]\ndo = "book"\nservices = "two"\n', "step 1 (book): services: 'two' must be a whole number"),
    ('[[step]]\ndo = "book"\n[[step]]\ndo = "check_in"\nafter = "soon"\n', "step 2 (check_in): after: 'soon' is not a duration"),
    ('[[step]]\ndo = "book"\n[[step]]\ndo = "check_in"\nat = "lunch+5m"\n', "step 2 (check_in): at: 'lunch+5m' is not ANCHOR"),
    ('[[step]]\ndo = "create_guest"\nat = "start"\n', "step 1 (create_guest): at: start is no anchor of this action"),
    ('[[step]]\ndo = "confirm"\n', "step 1 (confirm): group: no group 'group' is booked above"),
    ('[[step]]\ndo = "book"\nguest = "zoe"\n', "step 1 (book): guest: no guest 'zoe' is created above"),
    ('[[step]]\ndo = "book"\n[[step]]\ndo = "start"\nappointment = 3\n', "step 2 (start): appointment: group 'group' has 1"),
    ('[[step]]\ndo = "book"\nset = "x"\n', "step 1 (book): set: must be a table"),
    ('[[step]]\ndo = "book"\nset = { "data..x" = 1 }\n', "step 1 (book): set: Malformed override path"),
    ('[[step]]\ndo = "book"\nafter = "400d"\n', "step 1 (book): after: '400d' is longer than 60 days"),
    ('colour = 1\n[[step]]\ndo = "book"\n', "top level: colour: unknown key"),
    ('description = "nothing"\n', "top level: step: a scenario needs at least one [[step]]"),
    ('[[step]\ndo = "book"\n', "not valid TOML"),
    # mistakes only the world finds: the step still names itself
    ('[[step]]\ndo = "book"\n[[step]]\ndo = "cancel"\n[[step]]\ndo = "check_in"\n',
     "step 3 (check_in): do: group 'group' is cancelled; Zenoti does not move it to checked in"),
    ('[[step]]\ndo = "book"\n[[step]]\ndo = "start"\n', "step 2 (start): do: an appointment starts once, after its group is checked in"),
    ('[[step]]\ndo = "book"\n[[step]]\ndo = "refund"\n', "step 2 (refund): do: only a closed invoice is refunded"),
    ('[[step]]\ndo = "book"\ncenter = 40\n', "step 1 (book): center: this world has 6 centers"),
    ('[[step]]\ndo = "book"\n[[step]]\ndo = "check_in"\n[[step]]\ndo = "serve"\n[[step]]\ndo = "set_status"\n',
     "step 4: do: 'set_status' is not an action"),
]


@pytest.mark.parametrize(("text", "expected"), MISTAKES)
def test_each_kind_of_mistake_is_one_line_naming_file_step_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["scenario", "run", str(path), "--seed", "1", "--now", "2024-07-25T08:00:00Z"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"Error: {path}: "), lines[0]
    assert expected in lines[0], lines[0]


def test_missing_files_and_unknown_names_are_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["scenario", "show", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2 and "no such scenario file" in missing.stderr
    unknown = runner.invoke(cli, ["scenario", "show", "guest-night"])
    assert unknown.exit_code == 2 and "built-in ones are guest-day" in unknown.stderr
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 300_000)
    assert "larger than 256 KiB" in runner.invoke(cli, ["scenario", "run", str(big)]).stderr
    many = "".join('[[step]]\ndo = "create_guest"\n' for _ in range(201))
    with pytest.raises(UsageError, match="201 steps; at most 200"):
        parse(many, name="many", source="many.toml")


def test_list_and_show_tell_the_steps_their_times_types_and_links() -> None:
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["scenario", "list", "--json"]).stdout)
    assert [row["name"] for row in listed] == sorted(BUILTINS)
    shown = runner.invoke(cli, ["scenario", "show", "reschedule", "--seed", "2", "--now", "2024-07-25T08:00:00Z", "--json"])
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.stdout)["events"]
    assert [r["do"] for r in rows][:3] == ["book", "book", "cancel"]
    assert rows[1]["rebooked_from"] == rows[0]["group"] == rows[2]["group"]
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    table = runner.invoke(cli, ["scenario", "show", "guest-day", "--seed", "2", "--now", "2024-07-25T08:00:00Z"])
    assert "Guest.Created" in table.stdout and "close_invoice" in table.stdout


# -- disorder --------------------------------------------------------------------------------


def _story(n: int = 40) -> list[tuple[datetime, dict[str, Any]]]:
    return [(NOW + timedelta(minutes=5 * i), {"id": f"e{i}", "n": i}) for i in range(n)]


@pytest.mark.parametrize("seed", range(6))
def test_disorder_is_exactly_what_its_report_says_and_loses_nothing(seed: int) -> None:
    story = _story()
    spec = Disorder(duplicates=0.2, reorder=0.15, delay=0.1, seed=seed)
    out, report = disorder(story, spec)
    positions = [d.index for d in out]
    assert positions == report.order
    # every event at least once; exactly the reported ones twice, as the very same object (same bytes)
    counts = {i: positions.count(i) for i in range(len(story))}
    assert all(c >= 1 for c in counts.values())
    assert sorted(i for i, c in counts.items() if c == 2) == report.duplicated
    assert len(out) == len(story) + len(report.duplicated)
    for index in report.duplicated:
        first, second = (d for d in out if d.index == index)
        assert json.dumps(first.event) == json.dumps(second.event) and first.event["id"] == f"e{index}"
    # each reordered event is overtaken by the one after it
    first_at = {i: positions.index(i) for i in range(len(story))}
    for index in report.reordered:
        assert first_at[index] > first_at[index + 1]
    # an event neither reordered nor delayed, nor overtaking because of one, keeps its place
    moved = set(report.reordered) | set(report.delayed)
    calm = [i for i in range(len(story)) if i not in moved]
    assert [first_at[i] for i in calm] == sorted(first_at[i] for i in calm)
    # the same seed replays the same order; the rates say how much happens
    assert disorder(story, spec)[1].order == report.order
    assert report.duplicated and report.reordered


def test_disorder_seeds_differ_and_rates_bound_it() -> None:
    story = _story()
    orders = {tuple(disorder(story, Disorder(reorder=0.3, seed=s))[1].order) for s in range(5)}
    assert len(orders) == 5
    none, report = disorder(story, Disorder(seed=3))
    assert [d.index for d in none] == list(range(len(story))) and not report.duplicated
    everything, report = disorder(story, Disorder(duplicates=1.0, seed=3))
    assert len(everything) == 2 * len(story)


@pytest.mark.parametrize(("text", "message"), [
    ("shuffle=0.1", "is not one of duplicates, reorder, delay"),
    ("duplicates=2", "from 0 to 1"),
    ("reorder=lots", "is not a number"),
    ("", "needs a kind"),
])
def test_bad_disorder_is_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_disorder(text, 1)
    result = CliRunner().invoke(cli, ["scenario", "run", "no-show", "--seed", "1", "--disorder", text])
    assert result.exit_code == 2 and message in result.stderr


def test_a_disorder_seed_without_disorder_is_refused() -> None:
    result = CliRunner().invoke(cli, ["scenario", "run", "no-show", "--seed", "1", "--disorder-seed", "4"])
    assert result.exit_code == 2 and "give --disorder too" in result.stderr


def test_disorder_delivers_to_a_receiver_as_reported(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    with Receiver() as rx:
        result = CliRunner().invoke(cli, [
            "scenario", "run", "guest-day", "--seed", "9", "--now", "2024-07-25T08:00:00Z", "-t", rx.url,
            "--disorder", "duplicates=0.4,reorder=0.3", "--db", str(db), "--json"])
        assert result.exit_code == 0, result.output
        summary, disordered = (json.loads(line) for line in result.stdout.splitlines())
        report = disordered["disorder"]
        rx.wait_for(report["deliveries"])
    played = events_of("guest-day", 9)
    received = [json.loads(r.body) for r in rx.requests]
    assert [e["id"] for e in received] == [played[i]["id"] for i in report["order"]]
    assert {e["id"] for e in received} == {e["id"] for e in played}  # nothing lost
    assert summary["events"] == report["deliveries"] == len(played) + len(report["duplicated"])
    for index in report["duplicated"]:
        copies = [r.body for r in rx.requests if json.loads(r.body)["id"] == played[index]["id"]]
        assert len(copies) == 2 and copies[0] == copies[1]
    assert "Disorder duplicates=0.4,reorder=0.3 (seed 9)" in result.stderr


def test_the_same_disorder_seed_replays_the_same_deliveries() -> None:
    args = ["scenario", "run", "refund", "--seed", "2", "--now", "2024-07-25T08:00:00Z", "--format", "jsonl",
            "--disorder", "duplicates=0.3,reorder=0.3,delay=0.3"]
    one, two = CliRunner().invoke(cli, [*args, "--disorder-seed", "11"]), CliRunner().invoke(cli, [*args, "--disorder-seed", "11"])
    other = CliRunner().invoke(cli, [*args, "--disorder-seed", "12"])
    assert one.exit_code == 0, one.output
    assert one.stdout == two.stdout and one.stderr == two.stderr
    assert one.stdout != other.stdout


# -- pacing ----------------------------------------------------------------------------------


def test_a_scenario_is_paced_on_its_own_clock() -> None:
    run = stage(load("walk-in"), seed=1, now=NOW)
    clock = FakeClock()
    sent = [(clock.now, d) for d in paced(run.deliveries, 60.0, clock=clock.time, sleep=clock.sleep, when=lambda d: d.due)]
    first = run.deliveries[0].due
    for at, delivery in sent:
        assert at - sent[0][0] == pytest.approx((delivery.due - first).total_seconds() / 60.0)
    assert sum(clock.slept) == pytest.approx((run.deliveries[-1].due - first).total_seconds() / 60.0)


def test_disordered_deliveries_are_paced_by_when_they_fall_due() -> None:
    run = stage(load("guest-day"), seed=4, now=NOW, disorder=Disorder(delay=0.5, duplicates=0.5, seed=4))
    clock = FakeClock()
    list(paced(run.deliveries, 3600.0, clock=clock.time, sleep=clock.sleep, when=lambda d: d.due))
    span = (run.deliveries[-1].due - run.deliveries[0].due).total_seconds()
    assert sum(clock.slept) == pytest.approx(span / 3600.0)
    assert [d.due for d in run.deliveries] == sorted(d.due for d in run.deliveries)


def test_a_delivered_run_is_logged_with_its_deliveries_and_disorder(tmp_path: Path) -> None:
    db = str(tmp_path / "log.sqlite3")
    runner = CliRunner()
    with Receiver() as rx:
        result = runner.invoke(cli, ["scenario", "run", "no-show", "--seed", "2", "--now", "2024-07-25T08:00:00Z",
                                     "-t", rx.url, "--db", db, "--disorder", "duplicates=1"])
        assert result.exit_code == 0, result.output
        assert "logged as run 1" in result.stderr
    runs = json.loads(runner.invoke(cli, ["scenario", "runs", "--db", db, "--json"]).stdout)
    assert len(runs) == 1 and runs[0]["scenario"] == "no-show" and runs[0]["seed"] == 2
    assert len(runs[0]["delivery_ids"]) == 6 and runs[0]["disorder"]["duplicated"] == [0, 1, 2]
    listed = runner.invoke(cli, ["scenario", "runs", "--db", db])
    assert "no-show (seed 2)  6 deliveries" in listed.stdout and "duplicates=1" in listed.stdout


def test_run_writes_a_file_and_says_what_it_holds(tmp_path: Path) -> None:
    out = tmp_path / "walk-in.jsonl"
    result = CliRunner().invoke(cli, ["scenario", "run", "walk-in", "--seed", "1", "--now", "2024-07-25T08:00:00Z", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Wrote 6 event(s) of scenario walk-in (seed 1) to {out}." in result.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [e["id"] for e in events_of("walk-in", 1)]
