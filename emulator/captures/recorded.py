"""Recorded events as fixtures: export what the relay kept, and read fixtures back as bytes.

What the relay received from real Zenoti is worth keeping in a repository: ``validate``
checks it, ``fire --from-file`` sends it again, tests load it. :func:`export` writes the
bodies (and only the bodies: no header, so no signature and no secret ever leaves the
log) as JSON Lines or one file per event; :func:`read_bodies` reads such fixtures back as
the exact bytes they hold.

Byte for byte: one file per event keeps every body exactly. A JSON Lines line cannot hold
a body that spans lines, so such a body is written compact (and counted in
:attr:`ExportResult.rewritten`); a body that is not JSON and spans lines can only go to a
folder (counted in :attr:`ExportResult.left_out`). Pings (empty bodies) are not events and
are left out of both.

Core code: no click, no sqlite (rows come from :meth:`Store.captures`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from .. import bounds
from ..delivery.rows import StoredCapture
from ..errors import CaptureUnreadable, UsageError

#: ``--format``: one JSON Lines file, or a folder of one file per event.
EXPORT_FORMATS = ("jsonl", "files")
#: Suffixes that make ``-o`` a JSON Lines file when no format is given.
LINE_SUFFIXES = (".jsonl", ".ndjson")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_DURATION = re.compile(r"^\s*([0-9]{1,12}(?:\.[0-9]{1,9})?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(slots=True)
class ExportResult:
    """What an export wrote."""

    path: Path
    format: str
    written: int = 0
    #: bodies written compact because they spanned lines (JSON Lines only)
    rewritten: int = 0
    #: ``capture id: why`` for bodies that could not be written in this format
    left_out: list[str] = field(default_factory=list)
    pings: int = 0


def parse_since(text: str, *, now: datetime | None = None) -> float:
    """``--since`` (and the API's ``since``): an ISO 8601 time (UTC when it names no zone) or an age (``90s``, ``30m``, ``2h``, ``7d``).

    :return: the epoch time it names.
    :raise UsageError: for anything else.
    """
    match = _DURATION.match(text)
    if match:
        now = now or datetime.now(UTC)
        try:
            return (now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])).timestamp()
        except OverflowError:  # an age longer than the calendar: everything is newer
            return datetime.min.replace(tzinfo=UTC).timestamp()
    try:
        return bounds.parse_instant(text).timestamp()
    except UsageError:
        raise UsageError(
            f"'since' must be an ISO 8601 time (2026-12-01T09:00:00Z) or an age (30m, 2h, 7d), not {text[:60]!r}."
        ) from None


def export_format(output: str | os.PathLike[str], fmt: str | None) -> str:
    """The format for ``output``: as given, else JSON Lines for a ``.jsonl``/``.ndjson`` name, else a folder."""
    if fmt is not None:
        if fmt not in EXPORT_FORMATS:
            raise UsageError(f"Format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}.")
        return fmt
    return "jsonl" if str(output).lower().endswith(LINE_SUFFIXES) else "files"


def export(
    captures: Iterable[StoredCapture], output: str | os.PathLike[str], *, fmt: str | None = None
) -> ExportResult:
    """Write the bodies of ``captures`` to ``output``, streaming (one body in memory at a time).

    :param output: a JSON Lines file, or a folder (created if needed) for one file per
        event, named ``<capture id>-<event type>-<id>.json``.
    :param fmt: ``jsonl`` or ``files``; by default told from ``output`` (see :func:`export_format`).
    :raise UsageError: when ``output`` cannot be written.
    """
    path = Path(output)
    kind = export_format(path, fmt)
    result = ExportResult(path, kind)
    try:
        if kind == "files":
            path.mkdir(parents=True, exist_ok=True)
            for capture in captures:
                if not capture.body.strip():
                    result.pings += 1
                    continue
                (path / _file_name(capture)).write_bytes(capture.body)
                result.written += 1
        else:
            if path.parent != Path(""):
                path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as out:
                for capture in captures:
                    line = _line(capture, result)
                    if line is not None:
                        out.write(line + b"\n")
                        result.written += 1
    except OSError as exc:
        raise UsageError(f"Cannot write {path}: {exc.strerror or exc}. Choose another -o.") from None
    return result


def _file_name(capture: StoredCapture) -> str:
    parts = [f"{capture.id:06d}", capture.event_type or "unrecognized", capture.call_id or ""]
    return _UNSAFE.sub("_", "-".join(p for p in parts if p))[:120] + ".json"


def _line(capture: StoredCapture, result: ExportResult) -> bytes | None:
    body = capture.body
    if not body.strip():
        result.pings += 1
        return None
    if b"\n" not in body and b"\r" not in body:
        return body
    try:
        value = json.loads(body)
    except ValueError:
        result.left_out.append(f"capture {capture.id}: not JSON and spans lines; export to a folder to keep it")
        return None
    result.rewritten += 1
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def read_bodies(paths: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[str, bytes]]:
    """Recorded bodies, as ``(where, bytes)``, exactly as the fixtures hold them.

    A ``.jsonl``/``.ndjson`` file is one body per non-blank line (its line break left
    off); a ``.har`` gives the request body of each webhook entry; any other file is one
    body, the whole file, except a JSON array, whose elements are written compact; a
    folder is walked as ``validate`` walks it. Empty bodies (pings) are left out. Files
    are read as streams, no body past :data:`~emulator.bounds.MAX_EVENT_BYTES`.

    :raise CaptureUnreadable: a path that does not exist (at once, before anything is
        read) or a file that cannot be read.
    :raise UsageError: a folder without event files (at once), no body at all (at the
        end), a body too large (:class:`~emulator.bounds.TooLarge`) or too deep.
    """
    from .readers import capture_files, check_inputs

    paths = list(paths)
    check_inputs(paths)
    for path in paths:
        if Path(path).is_dir() and next(iter(capture_files([Path(path)])), None) is None:
            raise UsageError(f"No events in {path}: the folder holds no .json, .jsonl or .har file.")
    return _bodies(paths)


def _bodies(paths: list[str | os.PathLike[str]]) -> Iterator[tuple[str, bytes]]:
    from .readers import capture_files, read_file

    found = 0
    for where, body in _bodies_of(paths, capture_files, read_file):
        found += 1
        yield where, body
    if not found:  # an empty folder, a file of blank lines: sending nothing is not a success
        raise UsageError(
            f"No events in {', '.join(str(p) for p in paths)}: nothing to send. "
            "Give files of events (.json, .jsonl, .har) or a folder of them."
        )


def _bodies_of(paths: list[str | os.PathLike[str]], capture_files: Any, read_file: Any) -> Iterator[tuple[str, bytes]]:
    for raw in paths:
        root = Path(raw)
        for file in capture_files([root]) if root.is_dir() else [root]:
            suffix = file.suffix.lower()
            if suffix == ".har":
                for capture in read_file(file):
                    body = capture.body.encode("utf-8") if isinstance(capture.body, str) else capture.body
                    if not capture.problem and body and body.strip():
                        yield capture.label, body
                continue
            try:
                with file.open("rb") as stream:
                    yield from _file_bodies(file, stream, suffix)
            except OSError as exc:
                raise CaptureUnreadable(f"Cannot read {file}: {exc.strerror or exc}.") from None


def _file_bodies(file: Path, stream: BinaryIO, suffix: str) -> Iterator[tuple[str, bytes]]:
    """The bodies of one file, read as a stream: no record past :data:`bounds.MAX_EVENT_BYTES`.

    :raise TooLarge: a body (a line, the file, an array element) larger than that.
    :raise TooDeep: an array nested deeper than any event.
    """
    if suffix in LINE_SUFFIXES:
        number = 0
        while line := bounds.read_record(stream, line=True, where=f"{file}:{number + 1}"):
            number += 1
            line = line[:-1] if line.endswith(b"\n") else line
            line = line[:-1] if line.endswith(b"\r") else line
            if line.strip():
                yield f"{file}:{number}", line
        return
    head = stream.read(64)
    if head.lstrip().startswith(b"["):  # an array of events: streamed element by element
        from .readers import _stream_values

        for capture in _stream_values(stream, str(file), None, head):
            if capture.problem:
                reason, _, message = capture.problem.partition(":")
                if reason == "too_large":
                    raise bounds.TooLarge(f"{file}[{capture.index}]: {message}")
                if "nested more than" in message:
                    raise bounds.TooDeep(f"{file}: {message}")
                # not JSON after all: one body, the whole file, as before
                stream.seek(0)
                yield str(file), bounds.read_record(stream, where=str(file))
                return
            yield capture.label, json.dumps(capture.value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return
    data = head + bounds.read_record(stream, where=str(file))
    if len(data) > bounds.MAX_EVENT_BYTES:
        raise bounds.too_large(where=str(file))
    if data.strip():
        yield str(file), data
