"""Capture validation speed and memory: ours against a plain jsonschema loop and check-jsonschema.

    .venv/bin/python benchmarks/bench_validate.py [--lines 100000] [--cj-files 2000] [--memory 1000,1000000]

Input: ``--lines`` events of the world's stream as JSON Lines (``simulate``, seed 1: every
event type the emulator has, mixed as a real capture is), one in ``--invalid-every``
corrupted (a wrong type, a missing field, a bad timestamp, an extra field, an undocumented
code, in turn), so the slow path and the drift report both work.

- ours: :func:`emulator.captures.validate.run` over the file, the way ``validate --format json``
  does it: read, parse, compiled check, full errors for the invalid, drift walk, JSON
  report to /dev/null.
- plain loop: ``json.loads`` then ``list(Draft202012Validator(schema,
  format_checker=...).iter_errors(event))`` per line, the schema chosen by the line's
  ``event_type`` (each type's self-contained schema, as ``zenoti-emulator schema`` prints
  it), with our format checker (so format checks are on and cover Zenoti's formats). The
  validators are built once, which flatters it.
- check-jsonschema: the usual CLI for the job reads whole files against one schema, so it
  gets the first ``--cj-files`` AppointmentGroup.Created events as one file each, in one
  process; its rate leaves out its start-up time (measured on one file), which flatters it.

Memory: peak RSS (``ru_maxrss`` from ``wait4``) of a fresh ``python -m emulator validate
FILE --format json -o /dev/null`` at each of ``--memory`` line counts (lines repeat the
generated ones); flat means the same.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from itertools import cycle, islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jsonschema import Draft202012Validator  # noqa: E402

from emulator.captures import (  # noqa: E402
    checking,
    readers,
    renderers,
    validate as core,
)
from emulator.events.generate import simulate_events  # noqa: E402
from emulator.events.registry import default_registry, make_format_checker  # noqa: E402

TYPE = "AppointmentGroup.Created"
NOW = datetime(2024, 7, 25, 14, 52, 6, tzinfo=UTC)


def _wrong_type(e: dict[str, Any]) -> None:
    e["event_id"] = 8086


def _missing(e: dict[str, Any]) -> None:
    del e["data"][next(iter(e["data"]))]


def _bad_timestamp(e: dict[str, Any]) -> None:
    e["event_timestamp"] = e["event_timestamp"][:19] + "Z"


def _extra_field(e: dict[str, Any]) -> None:
    e["data"]["is_virtual"] = False


def _undocumented(e: dict[str, Any]) -> None:
    data = e["data"]
    if data.get("appointments"):
        data["appointments"][0]["appointment_type"] = 7
    elif "appointment_group_status" in data:
        data["appointment_group_status"] = 9
    elif isinstance(data.get("personal_info"), dict):
        data["personal_info"]["gender"] = 9
    elif data.get("invoice", {}).get("invoice_items"):
        data["invoice"]["invoice_items"][0]["type"] = 9
    else:
        _extra_field(e)


CORRUPTIONS = (_wrong_type, _missing, _bad_timestamp, _extra_field, _undocumented)


def write_input(path: Path, lines: int, invalid_every: int) -> None:
    corruptions = cycle(CORRUPTIONS)
    with path.open("w", encoding="utf-8") as out:
        for number, event in enumerate(islice(simulate_events(seed=1, now=NOW, days=3660), lines), 1):
            if invalid_every and number % invalid_every == 0:
                event = copy.deepcopy(event)
                next(corruptions)(event)
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")


class CountingJson(renderers.JsonRenderer):
    """The JSON report, counting the errors it writes (to compare with the plain loop's)."""

    errors = 0

    def event(self, result: checking.EventResult) -> None:
        self.errors += len(result.errors)
        super().event(result)


def ours(path: Path) -> tuple[float, core.Report, int]:
    validator = checking.CaptureValidator(default_registry())
    start = time.perf_counter()
    with open(os.devnull, "w", encoding="utf-8") as out:
        renderer = CountingJson(out)
        report = core.run(readers.iter_captures([path]), validator, renderer=renderer)
    return time.perf_counter() - start, report, renderer.errors


def plain_loop(path: Path) -> tuple[float, int, int, int]:
    validators = {
        name: Draft202012Validator(kind.schema, format_checker=make_format_checker())
        for name, kind in default_registry().items()
    }
    count = invalid = total_errors = 0
    start = time.perf_counter()
    with path.open("rb") as lines:
        for line in lines:
            event = json.loads(line)
            errors = list(validators[event["event_type"]].iter_errors(event))
            count += 1
            invalid += bool(errors)
            total_errors += len(errors)
    return time.perf_counter() - start, count, invalid, total_errors


def check_jsonschema(path: Path, files: int, workdir: Path) -> tuple[float, int] | None:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    if exe is None:
        return None
    schema = workdir / "schema.json"
    schema.write_text(json.dumps(default_registry()[TYPE].schema), encoding="utf-8")
    folder = workdir / "cj"
    folder.mkdir()
    names = []
    with path.open("rb") as lines:
        chosen = (line for line in lines if f'"event_type":"{TYPE}"'.encode() in line)
        for number, line in enumerate(islice(chosen, files)):
            name = folder / f"e{number:06d}.json"
            name.write_bytes(line)
            names.append(str(name))

    def timed(args: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run([exe, "--schemafile", str(schema), *args], capture_output=True, check=False)
        return time.perf_counter() - start

    startup = timed(names[:1])
    elapsed = timed(names)
    return elapsed - startup, len(names)


# A child's ru_maxrss counts what it held between fork and exec: a copy of this (large)
# process. So a small launcher starts the command, and reports its child's peak.
LAUNCHER = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
elapsed = time.perf_counter() - start
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, elapsed)
"""


def peak_rss(path: Path) -> tuple[float, float]:
    """Peak RSS (MiB) and wall time of the real command on ``path``."""
    command = [sys.executable, "-m", "emulator", "validate", str(path), "--format", "json", "-o", os.devnull]
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command], cwd=ROOT, capture_output=True, text=True, check=True
    )
    code, rss_kib, elapsed = out.stdout.split()
    if int(code) not in (0, 1):
        raise SystemExit(f"validate failed on {path} with exit code {code}")
    return int(rss_kib) / 1024, float(elapsed)


def repeat_lines(source: Path, target: Path, lines: int) -> None:
    with source.open("rb") as src:
        base = src.readlines()
    with target.open("wb") as out:
        for line in islice(cycle(base), lines):
            out.write(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--invalid-every", type=int, default=100, help="Corrupt one line in N (0: none).")
    parser.add_argument("--cj-files", type=int, default=2_000, help="Events given to check-jsonschema, one file each.")
    parser.add_argument("--memory", default="1000,1000000", help="Line counts to measure peak RSS at ('' to skip).")
    parser.add_argument("--workdir", type=Path, default=None, help="Keep inputs here instead of a temporary directory.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / f"events-{args.lines}.jsonl"
        t = time.perf_counter()
        write_input(path, args.lines, args.invalid_every)
        print(
            f"input: {args.lines:,} lines, {path.stat().st_size / 2**20:.0f} MiB, one in {args.invalid_every} corrupted "
            f"(generated in {time.perf_counter() - t:.1f}s)"
        )

        ours(path)  # warm caches and compiled validators, as the plain loop's validator is built once
        ours_time, report, ours_errors = ours(path)
        summary = report.summary.to_dict()
        kinds = report.drift["event_types"]
        drift = {
            key: sum(len(d[key]) for d in kinds.values())
            for key in ("unknown_fields", "undocumented_values", "varying_types")
        }
        print(
            f"{len(kinds)} event types; drift: {drift['unknown_fields']} unknown fields, {drift['undocumented_values']} undocumented "
            f"values, {drift['varying_types']} varying types; {summary['valid']:,} valid, {summary['invalid']:,} invalid"
        )
        plain_time, plain_count, plain_invalid, plain_errors = plain_loop(path)
        same = (plain_invalid, plain_errors) == (summary["invalid"], ours_errors)
        print(
            f"same detail: {'yes' if same else 'NO'} (invalid events {summary['invalid']:,} vs {plain_invalid:,}, "
            f"errors {ours_errors:,} vs {plain_errors:,})"
        )
        cj = check_jsonschema(path, args.cj_files, workdir)

        rate = args.lines / ours_time
        plain_rate = plain_count / plain_time
        print()
        print(f"{'':28}{'events/s':>12}{'µs/event':>11}{'vs plain':>10}")
        print(f"{'ours (with drift)':28}{rate:12,.0f}{1e6 / rate:11.1f}{rate / plain_rate:9.1f}x")
        print(f"{'plain jsonschema loop':28}{plain_rate:12,.0f}{1e6 / plain_rate:11.1f}{1:9.1f}x")
        if cj is None:
            print(f"{'check-jsonschema':28}{'not installed (pip install -e .[bench])':>33}")
        else:
            cj_rate = cj[1] / cj[0]
            print(
                f"{'check-jsonschema (' + format(cj[1], ',') + ' files)':28}{cj_rate:12,.0f}{1e6 / cj_rate:11.1f}{cj_rate / plain_rate:9.1f}x"
            )

        sizes = [int(n) for n in args.memory.split(",") if n.strip()]
        if sizes:
            print()
            print(f"{'peak RSS, validate CLI':28}{'MiB':>12}{'events/s':>11}")
            for size in sizes:
                target = workdir / f"repeat-{size}.jsonl"
                repeat_lines(path, target, size)
                rss, elapsed = peak_rss(target)
                print(f"{format(size, ',') + ' lines':28}{rss:12.1f}{size / elapsed:11,.0f}")
                target.unlink()


if __name__ == "__main__":
    main()
