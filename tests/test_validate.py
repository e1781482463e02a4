"""The capture validator's core: readers, classification, errors, drift and reports."""

from __future__ import annotations

import copy
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from emulator.captures import checking, drift as drift_module, readers, renderers, validate as core
from emulator.captures.drift import DriftCollector
from emulator.errors import CaptureUnreadable, ExitCode, UnknownEventType
from emulator.events.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "fixtures" / "captures"
DOC_SAMPLE = ROOT / "fixtures" / "docs" / "appointment-group-created.json"
TYPE = "AppointmentGroup.Created"


@pytest.fixture
def event() -> dict[str, Any]:
    return json.loads(DOC_SAMPLE.read_text(encoding="utf-8"))


def run_paths(registry: Registry, *paths: Path | str, collect: bool = True, **options: Any) -> core.Report:
    fail_on_drift = options.pop("fail_on_drift", False)
    validator = checking.CaptureValidator(registry, **options)
    return core.run(readers.iter_captures(paths), validator, fail_on_drift=fail_on_drift, collect=collect)


def by_label(report: core.Report) -> dict[str, checking.EventResult]:
    return {r.capture.label: r for r in report.results or ()}


# --------------------------------------------------------------------------- readers


def test_jsonl_records_carry_their_line_numbers_and_blank_lines_are_not_records(
    tmp_path: Path, event: dict[str, Any]
) -> None:
    path = tmp_path / "hooks.jsonl"
    path.write_text(json.dumps(event) + "\n\n   \n" + json.dumps(event) + "\n", encoding="utf-8")
    records = list(readers.iter_captures([path]))
    assert [(r.line, r.index) for r in records] == [(1, None), (4, None)]
    assert records[1].label == f"{path}:4"


def test_a_json_file_is_one_event_or_an_array_of_them(tmp_path: Path, event: dict[str, Any]) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps(event, indent=2), encoding="utf-8")
    many = tmp_path / "many.json"
    many.write_text(json.dumps([event, event, event], indent=2), encoding="utf-8")
    assert [r.value["id"] for r in readers.iter_captures([one])] == [event["id"]]
    assert [r.label for r in readers.iter_captures([many])] == [f"{many}[0]", f"{many}[1]", f"{many}[2]"]


def test_a_json_array_is_streamed_in_chunks_element_by_element(
    tmp_path: Path, event: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "_CHUNK", 7)  # every value straddles a chunk boundary
    path = tmp_path / "many.json"
    values: list[Any] = [event, 12345, "abc", [1, 2], event, 1.5e10]
    path.write_bytes(b"\xef\xbb\xbf\n" + json.dumps(values, indent=2).encode())
    assert [r.value for r in readers.iter_captures([path])] == values


def test_a_broken_array_keeps_the_elements_before_the_break(
    registry: Registry, tmp_path: Path, event: dict[str, Any]
) -> None:
    path = tmp_path / "cut.json"
    path.write_text("[" + json.dumps(event) + ",\n" + json.dumps(event)[:200], encoding="utf-8")
    report = run_paths(registry, path)
    assert [(r.capture.label, r.status, r.reason) for r in report.results or ()] == [
        (f"{path}[0]", "valid", ""),
        (f"{path}[1]", "invalid", "not_json"),
    ]
    assert (report.results or [])[1].message == "not JSON: Unterminated string starting at (cut off?)"


def test_a_json_file_holding_json_lines_is_read_line_by_line(tmp_path: Path, event: dict[str, Any]) -> None:
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(event) + "\n" + json.dumps(event) + "\n", encoding="utf-8")
    assert [r.line for r in readers.iter_captures([path])] == [1, 2]


def test_json_lines_with_a_broken_first_line_are_still_read_as_lines(tmp_path: Path, event: dict[str, Any]) -> None:
    path = tmp_path / "dump.log"
    path.write_text(json.dumps(event)[:50] + "\n" + json.dumps(event) + "\n", encoding="utf-8")
    records = list(readers.iter_captures([path]))
    assert [r.line for r in records] == [1, 2]


def test_a_directory_is_walked_recursively_in_name_order_leaving_out_hidden_and_other_files() -> None:
    files = [p.relative_to(CAPTURES / "folder").as_posix() for p in readers.capture_files([CAPTURES / "folder"])]
    assert files == ["2024-07-25/ab12.json", "2024-07-26/hooks.ndjson"]


def test_har_entries_are_webhooks_only_when_they_look_like_one() -> None:
    records = list(readers.iter_captures([CAPTURES / "proxy.har"]))
    assert [r.index for r in records] == list(range(7))
    problems = {r.index: r.problem for r in records if r.problem}
    assert problems == {
        0: "not_webhook:GET request",
        3: "not_webhook:body has no event_type and no Zenoti signature",
        5: "not_webhook:OPTIONS request",
    }
    assert records[2].detail == "POST https://hooks.example.com/hook"
    assert records[1].body == ""  # the empty "Test your trigger" POST is kept, as empty


def test_a_base64_har_body_is_decoded(tmp_path: Path, event: dict[str, Any]) -> None:
    import base64

    body = base64.b64encode(json.dumps(event).encode()).decode()
    har = {
        "log": {
            "entries": [
                {
                    "request": {
                        "method": "PUT",
                        "url": "http://r/h",
                        "headers": [{"name": "Zenoti-Webhook-Signature", "value": "x"}],
                        "postData": {"mimeType": "application/json", "text": body, "encoding": "base64"},
                    }
                }
            ]
        }
    }
    path = tmp_path / "b64.har"
    path.write_text(json.dumps(har), encoding="utf-8")
    report = core.validate_payloads(path.read_bytes())
    assert report.summary.totals() == (1, 0, 0)


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ({"log": 5}, "log is a number, not an object"),
        ({"log": {"entries": {"0": {}}}}, "log.entries is an object, not an array"),
        ({"log": {}}, "no log.entries"),
        ([{"log": {"entries": []}}], "expected a JSON object, found an array"),
    ],
)
def test_a_har_file_that_is_not_a_har_is_unreadable_and_the_run_goes_on(
    registry: Registry, tmp_path: Path, event: dict[str, Any], document: Any, why: str
) -> None:
    (tmp_path / "a.har").write_text(json.dumps(document), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(event), encoding="utf-8")
    report = run_paths(registry, tmp_path / "a.har", tmp_path / "b.json")
    results = by_label(report)
    assert results[str(tmp_path / "a.har")].message == f"cannot read: not a HAR file: {why}"
    assert report.summary.totals() == (1, 0, 1)
    assert report.summary.unreadable == 1
    assert report.exit_code == ExitCode.USAGE


def test_har_entries_of_the_wrong_shape_are_skipped_one_by_one(
    registry: Registry, tmp_path: Path, event: dict[str, Any]
) -> None:
    good = {"request": {"method": "POST", "url": "http://r/h", "postData": {"text": json.dumps(event)}}}
    bad_headers = {
        "request": {"method": "POST", "url": "http://r/h", "headers": 5, "postData": {"text": json.dumps(event)}}
    }
    har = {"log": {"entries": [5, None, "x", {"request": 3}, bad_headers, good]}}
    path = tmp_path / "odd.har"
    path.write_text(json.dumps(har), encoding="utf-8")
    report = run_paths(registry, path)
    messages = [r.message for r in report.results or ()]
    assert messages[:4] == [
        "not a webhook: HAR entry is a number, not an object",
        "not a webhook: HAR entry is null, not an object",
        "not a webhook: HAR entry is a string, not an object",
        "not a webhook: HAR entry without a request",
    ]
    assert report.summary.totals() == (2, 0, 4)  # headers that are not a list count as none
    assert core.validate_payloads(path.read_bytes(), registry=registry).summary.totals() == (2, 0, 4)


def test_a_har_file_is_streamed_entry_by_entry(
    tmp_path: Path, event: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "_CHUNK", 7)  # every value straddles a chunk boundary
    har = json.loads((CAPTURES / "proxy.har").read_text(encoding="utf-8"))
    har["log"] = {
        "creator": {"name": 'a "quoted" {brace} [bracket]'},
        "pages": [{"id": "p\u00e9"}],
        **har["log"],
        "comment": "after",
    }
    har = {"before": [1, {"log": 2}], **har, "after": None}
    path = tmp_path / "odd-order.har"
    path.write_text(json.dumps(har, indent=1), encoding="utf-8")
    read: list[int] = []
    records = readers.read_file(path, progress=read.append)
    first = next(records)
    assert sum(read) < path.stat().st_size  # the first entry came before the whole file was read
    expected = list(readers.iter_captures([CAPTURES / "proxy.har"]))
    got = [first, *records]
    assert [(r.index, r.detail, r.body, r.problem) for r in got] == [
        (r.index, r.detail, r.body, r.problem) for r in expected
    ]
    assert sum(read) == path.stat().st_size


def test_a_har_cut_off_keeps_the_entries_before_the_cut(
    registry: Registry, tmp_path: Path, event: dict[str, Any]
) -> None:
    entry = {"request": {"method": "POST", "url": "http://r/h", "postData": {"text": json.dumps(event)}}}
    text = json.dumps({"log": {"entries": [entry, entry, entry]}})
    path = tmp_path / "cut.har"
    path.write_text(text[: len(text) * 5 // 6], encoding="utf-8")
    report = run_paths(registry, path)
    assert report.summary.totals() == (2, 1, 0)
    assert (report.results or [])[-1].message.startswith("not JSON: Unterminated string")
    assert (report.results or [])[-1].message.endswith("(cut off?)")


def test_an_empty_har_is_unreadable_and_trailing_junk_is_not_json(registry: Registry, tmp_path: Path) -> None:
    # An empty .har is a failed export, not a capture of one empty request: exit 2.
    (tmp_path / "empty.har").write_text("\n", encoding="utf-8")
    (tmp_path / "broken.har").write_text('{"log": {"entries": []}} x', encoding="utf-8")
    report = run_paths(registry, tmp_path)
    assert [r.message for r in report.results or ()] == [
        "not JSON: Extra data",
        "cannot read: not a HAR file: the file is empty",
    ]
    assert report.exit_code == 2


def test_a_signed_har_request_without_post_data_is_invalid_not_skipped(registry: Registry, tmp_path: Path) -> None:
    entry = {
        "request": {
            "method": "POST",
            "url": "https://h/hook",
            "bodySize": 1432,
            "headers": [{"name": "zenoti-webhook-signature", "value": "sha256 =AB"}],
        }
    }
    ping = {"request": {"method": "POST", "url": "https://h/hook", "bodySize": 0, "headers": []}}
    (tmp_path / "bodiless.har").write_text(json.dumps({"log": {"entries": [entry, ping]}}), encoding="utf-8")
    report = run_paths(registry, tmp_path)
    first, second = report.results or ()
    assert (first.status, first.reason) == ("invalid", "no_body")
    assert "no postData" in first.message
    assert second.reason == "empty"
    assert report.exit_code == 1


@pytest.mark.parametrize(
    "shape", ["[" * 100_000 + "]" * 100_000, "[" + "[" * 500 + "]" * 500 + "]", '{"a": 1}\n' + "[" * 5000 + "]" * 5000]
)
def test_deeply_nested_json_is_one_invalid_record_not_a_crash(registry: Registry, tmp_path: Path, shape: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(shape, encoding="utf-8")
    report = run_paths(registry, path)
    assert any("nested more than 64 levels" in r.message for r in report.results or ())
    assert report.exit_code == 1


def test_payload_bytes_are_sniffed_like_stdin(registry: Registry, event: dict[str, Any]) -> None:
    lines = (json.dumps(event) + "\n" + json.dumps(event) + "\n").encode()
    array = json.dumps([event, event, event]).encode()
    pretty = json.dumps(event, indent=2).encode()
    assert core.validate_payloads(lines, registry=registry).summary.totals() == (2, 0, 0)
    assert core.validate_payloads(array, registry=registry).summary.totals() == (3, 0, 0)
    assert core.validate_payloads(pretty, registry=registry).summary.totals() == (1, 0, 0)
    assert core.validate_payloads((CAPTURES / "proxy.har").read_bytes(), registry=registry).summary.totals() == (
        1,
        2,
        4,
    )


def test_a_missing_input_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    with pytest.raises(CaptureUnreadable, match=r"no-such\.jsonl") as caught:
        readers.check_inputs([CAPTURES / "valid.jsonl", tmp_path / "no-such.jsonl"])
    assert caught.value.exit_code == ExitCode.USAGE


def test_a_file_that_cannot_be_read_is_reported_and_the_run_goes_on(registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(DOC_SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "b.json").symlink_to(tmp_path / "gone.json")
    report = run_paths(registry, tmp_path)
    assert report.summary.totals() == (1, 0, 1)
    assert report.summary.unreadable == 1
    assert report.exit_code == ExitCode.USAGE


# --------------------------------------------------------------------------- classification


CORRUPTED = {
    1: ("invalid", "schema"),
    2: ("invalid", "schema"),
    3: ("invalid", "schema"),
    4: ("invalid", "not_json"),
    5: ("invalid", "no_event_type"),
    6: ("skipped", "unknown_event_type"),
    7: ("valid", ""),
    8: ("valid", ""),
    10: ("invalid", "not_object"),
}


def test_each_corrupted_capture_is_classified(registry: Registry) -> None:
    report = run_paths(registry, CAPTURES / "corrupted.jsonl")
    got = {r.capture.line: (r.status, r.reason) for r in report.results or ()}
    assert got == CORRUPTED


def test_the_whole_fixture_folder_adds_up(registry: Registry) -> None:
    report = run_paths(registry, CAPTURES)
    summary = report.to_dict()["summary"]
    assert (summary["total"], summary["valid"], summary["invalid"], summary["skipped"]) == (29, 13, 10, 6)
    assert summary["by_event_type"][TYPE] == {"total": 17, "valid": 13, "invalid": 4, "skipped": 0}
    assert summary["by_event_type"]["Invoice.Voided"]["skipped"] == 1
    assert report.exit_code == ExitCode.FAILED


def test_not_json_says_where_and_that_it_looks_cut_off(registry: Registry) -> None:
    report = run_paths(registry, CAPTURES / "corrupted.jsonl", CAPTURES / "not-json.json")
    results = by_label(report)
    truncated = results[f"{CAPTURES / 'corrupted.jsonl'}:4"].message
    assert truncated.startswith("not JSON (cut off?): Unterminated string")
    assert "300 characters" in truncated
    html = results[str(CAPTURES / "not-json.json")].message
    assert html.startswith("not JSON: Expecting value: line 1 column 1") and "cut off" not in html


def test_an_empty_body_is_skipped_not_failed(registry: Registry) -> None:
    report = core.validate_payloads([b"", "  \n"], registry=registry)
    assert [r.reason for r in report.results or ()] == ["empty", "empty"]
    assert report.exit_code == ExitCode.OK


def test_an_unknown_event_type_is_skipped_with_a_close_match(registry: Registry, event: dict[str, Any]) -> None:
    event["event_type"] = "AppointmentGroup.Create"
    [result] = core.validate_payloads([event], registry=registry).results or ()
    assert (result.status, result.reason) == ("skipped", "unknown_event_type")
    assert result.message == "unknown event type 'AppointmentGroup.Create'; did you mean 'AppointmentGroup.Created'?"


def test_a_data_only_body_needs_event_type_and_is_then_reported_without_envelope(
    registry: Registry, event: dict[str, Any]
) -> None:
    data = event["data"]
    [without] = core.validate_payloads([data], registry=registry).results or ()
    assert (without.status, without.reason) == ("invalid", "no_event_type")
    report = core.validate_payloads([data], registry=registry, event_type=TYPE)
    [result] = report.results or ()
    assert (result.status, result.envelope, result.event_type) == ("valid", False, TYPE)
    assert report.to_dict()["summary"]["no_envelope"] == 1


def test_errors_in_a_data_only_body_are_located_in_the_body(registry: Registry, event: dict[str, Any]) -> None:
    data = event["data"]
    data["guest"]["email"] = 5
    [result] = core.validate_payloads([data], registry=registry, event_type=TYPE).results or ()
    assert result.status == "invalid"
    assert [str(p) for p in result.errors] == ["$.guest.email: expected string or null, found integer 5"]


def test_an_envelope_without_event_type_is_checked_as_the_given_type(registry: Registry, event: dict[str, Any]) -> None:
    del event["event_type"]
    [result] = core.validate_payloads([event], registry=registry, event_type=TYPE).results or ()
    assert result.envelope is True
    assert [p.path for p in result.errors] == ["$.event_type"]


def test_event_type_skips_events_of_other_types(registry: Registry, event: dict[str, Any]) -> None:
    other = copy.deepcopy(event)
    other["event_type"] = "Invoice.Voided"
    report = core.validate_payloads([event, other], registry=registry, event_type=TYPE)
    assert [(r.status, r.reason) for r in report.results or ()] == [("valid", ""), ("skipped", "other_event_type")]


def test_an_unknown_event_type_option_is_refused(registry: Registry) -> None:
    with pytest.raises(UnknownEventType, match=r"Did you mean 'AppointmentGroup\.Created'"):
        checking.CaptureValidator(registry, event_type="AppointmentGroup.Create")


# --------------------------------------------------------------------------- errors


def errors_of(registry: Registry, event: dict[str, Any], **options: Any) -> list[str]:
    [result] = core.validate_payloads([event], registry=registry, **options).results or ()
    return [str(p) for p in result.errors]


def test_wrong_types_say_what_was_expected_and_found(registry: Registry, event: dict[str, Any]) -> None:
    event["data"]["invoice_number"] = 8086
    event["data"]["appointments"][0]["has_add_ons"] = "false"
    assert errors_of(registry, event) == [
        '$.data.appointments[0].has_add_ons: expected boolean, found string "false"',
        "$.data.invoice_number: expected string, found integer 8086",
    ]


def test_a_missing_field_is_located_at_the_field_itself(registry: Registry, event: dict[str, Any]) -> None:
    del event["data"]["guest"]["email"]
    del event["event_id"]
    assert errors_of(registry, event) == [
        "$.data.guest.email: expected present (required), found nothing",
        "$.event_id: expected present (required), found nothing",
    ]


def test_a_bad_timestamp_names_the_pattern_and_the_format(registry: Registry, event: dict[str, Any]) -> None:
    event["event_timestamp"] = "2024-07-25T14:52:06Z"
    assert errors_of(registry, event) == [
        '$.event_timestamp: expected string matching ^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6,7}Z$, found string "2024-07-25T14:52:06Z"',
        "$.event_timestamp: expected format 'zenoti-timestamp', found string \"2024-07-25T14:52:06Z\"",
    ]


def test_errors_come_in_the_registry_order_most_relevant_first(registry: Registry, event: dict[str, Any]) -> None:
    event["data"]["appointments"][0]["start_time"] = "2024-07-25 16:15"
    event["data"]["invoice_id"] = "not-a-guid"
    event["event_schema"] = "v2"
    [result] = core.validate_payloads([event], registry=registry).results or ()
    assert [p.path for p in result.errors] == [e.path for e in registry[TYPE].errors(event)]
    assert result.errors[0].path == "$.data.appointments[0].start_time"


def test_a_long_found_value_is_cut_to_one_line(registry: Registry, event: dict[str, Any]) -> None:
    event["data"]["guest"] = ["x" * 500]
    [line] = errors_of(registry, event)
    assert line.startswith('$.data.guest: expected object, found array ["xxx')
    assert len(line) < 160 and "\n" not in line


def test_strict_turns_unknown_fields_into_errors(registry: Registry, event: dict[str, Any]) -> None:
    event["data"]["appointments"][0]["is_virtual"] = False
    assert errors_of(registry, event) == []
    assert errors_of(registry, event, strict=True) == [
        "$.data.appointments[0].is_virtual: expected no such field (--strict), found boolean false"
    ]


# --------------------------------------------------------------------------- drift


def drift_of(report: core.Report) -> dict[str, Any]:
    return report.to_dict()["drift"]["event_types"][TYPE]


def test_the_published_sample_shows_no_drift(registry: Registry, event: dict[str, Any]) -> None:
    drift = drift_of(core.validate_payloads([event], registry=registry))
    assert drift == {
        "events": 1,
        "unknown_fields": [],
        "unknown_fields_not_listed": 0,
        "undocumented_values": [],
        "varying_types": [],
        "never_seen": [],
    }


def test_drift_sees_the_schema_fields_that_iter_fields_lists(registry: Registry) -> None:
    collector = DriftCollector(registry[TYPE])
    assert sorted(collector.field_paths()) == sorted(path for path, _ in registry[TYPE].iter_fields())


def test_unknown_fields_are_counted_with_an_example(registry: Registry, event: dict[str, Any]) -> None:
    second = copy.deepcopy(event)
    second["data"]["appointments"].append(copy.deepcopy(second["data"]["appointments"][0]))
    second["data"]["appointments"][1]["is_virtual"] = True
    event["data"]["appointments"][0]["is_virtual"] = None
    event["data"]["loyalty"] = {"points": 5}
    drift = drift_of(core.validate_payloads([event, second], registry=registry))
    assert drift["unknown_fields"] == [
        {
            "path": "$.data.appointments[*].is_virtual",
            "count": 2,
            "types": {"boolean": 1, "null": 1},
            "example": {"source": "<payload>[0]", "path": "$.data.appointments[0].is_virtual"},
        },
        {
            "path": "$.data.loyalty",
            "count": 1,
            "types": {"object": 1},
            "example": {"source": "<payload>[0]", "path": "$.data.loyalty"},
        },
    ]
    # An unknown field whose type varies is a varying type too; one inside an unknown
    # object is not listed on its own.
    assert [v["path"] for v in drift["varying_types"]] == ["$.data.appointments[*].is_virtual"]


def test_undocumented_code_values_are_counted_against_x_known_values(registry: Registry, event: dict[str, Any]) -> None:
    events = []
    for code in (7, 7, 1, -1):
        e = copy.deepcopy(event)
        e["data"]["appointments"][0]["appointment_type"] = code
        events.append(e)
    drift = drift_of(core.validate_payloads(events, registry=registry))
    found = [(v["path"], v["value"], v["count"], v["documented"]) for v in drift["undocumented_values"]]
    assert found == [
        ("$.data.appointments[*].appointment_type", 7, 2, [0, 1, 2]),
        ("$.data.appointments[*].appointment_type", -1, 1, [0, 1, 2]),
    ]
    assert drift["undocumented_values"][0]["example"] == {
        "source": "<payload>[0]",
        "path": "$.data.appointments[0].appointment_type",
    }


def test_a_boolean_is_not_taken_for_a_documented_integer_code(registry: Registry, event: dict[str, Any]) -> None:
    event["data"]["appointments"][0]["therapist_request_type"] = True  # True == 1 in Python
    drift = drift_of(core.validate_payloads([event], registry=registry))
    assert drift["undocumented_values"] == []
    assert drift["varying_types"] == [
        {"path": "$.data.appointments[*].therapist_request_type", "types": {"boolean": 1}, "schema": ["integer"]}
    ]


def test_a_new_event_schema_version_is_drift(registry: Registry, event: dict[str, Any]) -> None:
    event["event_schema"] = "v2"
    drift = drift_of(core.validate_payloads([event], registry=registry))
    assert [(v["path"], v["value"]) for v in drift["undocumented_values"]] == [("$.event_schema", "v2")]


def test_types_that_vary_across_captures_are_counted(registry: Registry, event: dict[str, Any]) -> None:
    other = copy.deepcopy(event)
    other["data"]["invoice_number"] = 8086
    nulled = copy.deepcopy(event)
    nulled["data"]["utm_source"] = None  # allowed by the schema: not drift
    drift = drift_of(core.validate_payloads([event, other, nulled], registry=registry))
    # The types the schema does not allow, each counted exactly; the allowed ones are the rest.
    assert drift["varying_types"] == [{"path": "$.data.invoice_number", "types": {"integer": 1}, "schema": ["string"]}]


def test_schema_fields_never_seen_are_listed_only_under_objects_that_were(
    registry: Registry, event: dict[str, Any]
) -> None:
    del event["data"]["center_id"]
    del event["data"]["guest"]
    drift = drift_of(core.validate_payloads([event], registry=registry))
    assert drift["never_seen"] == ["$.data.center_id", "$.data.guest"]
    data_only = drift_of(core.validate_payloads([event["data"]], registry=registry, event_type=TYPE))
    assert "$.id" not in data_only["never_seen"]  # no envelope was seen: nothing to say about it


def test_drift_is_counted_the_same_when_shapes_are_folded_early(
    registry: Registry, event: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    events = []
    for i in range(30):
        e = copy.deepcopy(event)
        e["data"][f"extra_{i % 7}"] = i
        e["data"]["appointments"][0]["appointment_type"] = i % 5
        events.append(e)
    expected = drift_of(core.validate_payloads(events, registry=registry))
    monkeypatch.setattr(drift_module, "_MAX_SHAPES", 2)
    assert drift_of(core.validate_payloads(events, registry=registry)) == expected
    assert {u["path"]: u["count"] for u in expected["unknown_fields"]}["$.data.extra_0"] == 5


def test_distinct_unknown_fields_are_bounded(
    registry: Registry, event: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drift_module, "_MAX_UNKNOWN_PATHS", 3)
    monkeypatch.setattr(drift_module, "_MAX_SHAPES", 1)
    events = []
    for i in range(10):
        e = copy.deepcopy(event)
        e["data"][f"k{i}"] = i
        events.append(e)
    drift = drift_of(core.validate_payloads(events, registry=registry))
    assert len(drift["unknown_fields"]) == 3
    assert drift["unknown_fields_not_listed"] == 7


def test_unknown_event_types_are_drift(registry: Registry, event: dict[str, Any]) -> None:
    event["event_type"] = "Invoice.Voided"
    report = core.validate_payloads([event, event], registry=registry)
    assert report.drift["unknown_event_types"] == [{"event_type": "Invoice.Voided", "count": 2}]
    assert report.drift["has_drift"] is True


# --------------------------------------------------------------------------- exit codes


def test_exit_code_follows_validity_and_drift_when_asked(registry: Registry, event: dict[str, Any]) -> None:
    drifted = copy.deepcopy(event)
    drifted["data"]["loyalty_points"] = 1
    broken = copy.deepcopy(event)
    broken["id"] = "nope"
    assert core.validate_payloads([event], registry=registry).exit_code == ExitCode.OK
    assert core.validate_payloads([drifted], registry=registry).exit_code == ExitCode.OK
    assert core.validate_payloads([drifted], registry=registry, fail_on_drift=True).exit_code == ExitCode.FAILED
    assert core.validate_payloads([event], registry=registry, fail_on_drift=True).exit_code == ExitCode.OK
    assert core.validate_payloads([broken], registry=registry).exit_code == ExitCode.FAILED


def test_schema_fields_never_seen_do_not_fail_on_drift(registry: Registry, event: dict[str, Any]) -> None:
    del event["data"]["utm_medium"]
    report = core.validate_payloads([event], registry=registry, fail_on_drift=True)
    assert report.drift["event_types"][TYPE]["never_seen"] == ["$.data.utm_medium"]
    assert report.drift["has_drift"] is False


# --------------------------------------------------------------------------- reports


def test_to_dict_has_stable_keys_and_lists_only_what_is_not_valid(registry: Registry) -> None:
    report = run_paths(registry, CAPTURES / "corrupted.jsonl")
    out = report.to_dict()
    assert list(out) == ["version", "events", "summary", "drift", "options", "ok", "exit_code"]
    assert out["version"] == 1 and out["ok"] is False and out["exit_code"] == 1
    assert [e["source"]["line"] for e in out["events"]] == [1, 2, 3, 4, 5, 6, 10]
    assert set(out["events"][0]) == {"source", "status", "event_type", "id", "envelope", "reason", "message", "errors"}
    assert set(out["events"][0]["errors"][0]) == {"path", "pointer", "keyword", "expected", "found", "message"}
    json.dumps(out)  # all of it is JSON


def test_the_streamed_json_is_the_same_as_to_dict(registry: Registry) -> None:
    out = io.StringIO()
    validator = checking.CaptureValidator(registry)
    report = core.run(readers.iter_captures([CAPTURES]), validator, renderer=renderers.JsonRenderer(out), collect=True)
    assert json.loads(out.getvalue()) == json.loads(json.dumps(report.to_dict()))


def test_an_empty_run_is_still_valid_json(registry: Registry) -> None:
    out = io.StringIO()
    core.run([], checking.CaptureValidator(registry), renderer=renderers.JsonRenderer(out))
    assert json.loads(out.getvalue())["summary"]["total"] == 0


def test_junit_is_xml_with_a_case_per_record(registry: Registry) -> None:
    report = run_paths(registry, CAPTURES, fail_on_drift=True)
    root = ET.fromstring(report.render("junit"))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites][-1] == "schema drift"
    cases = [c for s in suites[:-1] for c in s.findall("testcase")]
    assert len(cases) == 29
    assert sum(1 for c in cases if c.find("failure") is not None) == 10
    assert sum(1 for c in cases if c.find("skipped") is not None) == 6
    for suite in suites:
        members = suite.findall("testcase")
        assert int(suite.get("tests", -1)) == len(members)
        assert int(suite.get("failures", -1)) == sum(1 for c in members if c.find("failure") is not None)
    assert int(root.get("tests", -1)) == 29 + len(suites[-1].findall("testcase"))
    drift_failures = [c for c in suites[-1] if c.find("failure") is not None]
    assert [c.get("name") for c in drift_failures] == [TYPE, checking.UNRECOGNIZED]


def test_junit_drift_does_not_fail_unless_asked(registry: Registry) -> None:
    root = ET.fromstring(run_paths(registry, CAPTURES).render("junit"))
    drift_suite = root.findall("testsuite")[-1]
    assert drift_suite.get("failures") == "0"
    assert "unknown field $.data.loyalty_points" in (drift_suite.find("testcase/system-out").text or "")


def test_junit_survives_control_characters_and_markup_in_captures(registry: Registry, event: dict[str, Any]) -> None:
    event["data"]["guest"]["email"] = 3
    event["id"] = "<b>&\x01"
    root = ET.fromstring(core.validate_payloads([event, b"\x00\x02<not json>"], registry=registry).render("junit"))
    assert len(root.findall("testsuite/testcase/failure")) == 2


def test_text_shows_each_error_on_its_own_line_then_drift_then_the_summary(registry: Registry) -> None:
    text = run_paths(registry, CAPTURES / "corrupted.jsonl").render("text")
    lines = text.splitlines()
    label = str(CAPTURES / "corrupted.jsonl")
    first = lines.index(f"INVALID {label}:2  {TYPE}  id=66a266f2f3245482081a3994")
    assert lines[first + 1 : first + 3] == [
        "  $.data.guest.email: expected present (required), found nothing",
        "  $.data.center_id: expected present (required), found nothing",
    ]
    assert "Drift (warnings):" in lines
    assert lines[-2].startswith("9 events: 2 valid, 6 invalid, 1 skipped; ")


def test_text_caps_the_skipped_records_it_lists(registry: Registry) -> None:
    report = core.validate_payloads([b""] * 25, registry=registry)
    text = report.render("text")
    assert text.count("SKIPPED") == renderers.TextRenderer.max_skipped_shown
    assert "... 5 more skipped records not shown" in text


def test_large_inputs_keep_only_counts_when_not_collecting(
    registry: Registry, tmp_path: Path, event: dict[str, Any]
) -> None:
    path = tmp_path / "big.jsonl"
    line = json.dumps(event)
    path.write_text((line + "\n") * 2000, encoding="utf-8")
    report = run_paths(registry, path, collect=False)
    assert report.results is None
    assert report.summary.totals() == (2000, 0, 0)
    assert report.drift["event_types"][TYPE]["events"] == 2000


# --------------------------------------------------------------------------- the drift-clean fast path


def mutations(event: dict[str, Any]) -> list[dict[str, Any]]:
    edits = [
        lambda e: None,
        lambda e: e["data"].__setitem__("loyalty_points", 1),
        lambda e: e["data"]["appointments"][0].__setitem__("appointment_type", 7),
        lambda e: e["data"]["appointments"][0].__setitem__("appointment_type", True),
        lambda e: e["data"]["appointments"][0].__setitem__("appointment_type", "2"),
        lambda e: e["data"].__setitem__("invoice_number", 8086),
        lambda e: e["data"]["guest"].__setitem__("email", None),
        lambda e: e["data"]["guest"].__setitem__("middle_name", ""),
        lambda e: e.__setitem__("event_schema", "v2"),
        lambda e: e["data"].__setitem__("appointments", []),
        lambda e: e["data"].__setitem__("guest", "someone"),
        lambda e: e["data"]["appointments"].append("x"),
    ]
    out = []
    for edit in edits:
        e = copy.deepcopy(event)
        edit(e)
        out.append(e)
    return out


def test_the_drift_clean_schema_passes_exactly_the_events_the_walk_finds_nothing_in(
    registry: Registry, event: dict[str, Any]
) -> None:
    kind = registry[TYPE]
    clean = checking._envelope_checker(kind).is_clean
    verdicts = []
    for e in mutations(event):
        collector = DriftCollector(kind)
        unknown = collector.observe(e)
        drift = collector.to_dict()
        walk_clean = kind.is_valid(e) and not (unknown or drift["undocumented_values"] or drift["varying_types"])
        verdicts.append((clean(e), walk_clean))
    assert [c for c, _ in verdicts] == [w for _, w in verdicts]
    assert [c for c, _ in verdicts] == [
        True,
        False,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
        False,
        False,
        False,
    ]


OPTIONAL_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Test.Optional",
    "type": "object",
    "required": ["event_type", "data"],
    "properties": {
        "event_type": {"const": "Test.Optional"},
        "data": {
            "type": "object",
            "required": ["guest"],
            "properties": {
                "guest": {"$ref": "#/$defs/guest"},
                "note": {"type": "string"},
                "items": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"code": {"type": "integer", "x-known-values": [1, 2]}}},
                },
                "extra": {
                    "allOf": [
                        {"type": "object", "properties": {"a": {"type": "string"}}},
                        {"properties": {"b": {"type": "string"}}},
                    ]
                },
            },
        },
    },
    "$defs": {
        "guest": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": {"type": "string"}, "phone": {"type": ["string", "null"]}},
        }
    },
}


@pytest.fixture
def optional_type(tmp_path: Path) -> Any:

    from emulator.events.registry import EventType

    return EventType("Test.Optional", "test-optional", OPTIONAL_SCHEMA, OPTIONAL_SCHEMA, tmp_path / "schema.json")


def test_clean_events_still_count_optional_fields_as_seen(optional_type: Any) -> None:
    registry = Registry({"Test.Optional": optional_type})
    events: list[Any] = [
        {"event_type": "Test.Optional", "data": {"guest": {"id": "g"}}},
        {"event_type": "Test.Optional", "data": {"guest": {"id": "g", "phone": None}, "items": [{}, {"code": 2}]}},
    ]
    report = core.validate_payloads(events, registry=registry)
    assert report.summary.totals() == (2, 0, 0)
    drift = report.drift["event_types"]["Test.Optional"]
    assert drift["never_seen"] == ["$.data.extra", "$.data.note"]
    assert not report.drift["has_drift"]


def test_composed_schemas_keep_their_branches_properties_known(optional_type: Any) -> None:
    registry = Registry({"Test.Optional": optional_type})
    composed = {"event_type": "Test.Optional", "data": {"guest": {"id": "g"}, "extra": {"a": "x", "b": "y"}}}
    drifted = {
        "event_type": "Test.Optional",
        "data": {"guest": {"id": "g", "vip": True}, "extra": {"c": 1}, "items": [{"code": 3}]},
    }
    assert checking._envelope_checker(optional_type).is_clean(composed)
    report = core.validate_payloads([composed, drifted], registry=registry)
    drift = report.drift["event_types"]["Test.Optional"]
    assert [u["path"] for u in drift["unknown_fields"]] == ["$.data.extra.c", "$.data.guest.vip"]
    assert [(v["path"], v["value"]) for v in drift["undocumented_values"]] == [("$.data.items[*].code", 3)]
    assert drift["never_seen"] == ["$.data.guest.phone", "$.data.note"]
