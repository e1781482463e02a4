"""Validate captured Zenoti webhooks against our schemas, and report how they drift.

Teams keep what Zenoti sent them: log files, JSON Lines dumps, folders of files, HAR files
saved from a proxy. This module reads those as a stream of :class:`Capture` records, checks
each one, and builds a :class:`Report`: every event that is not valid with each error on
one line (path, what the schema expects, what was found), plus a drift report over the
whole input (fields the schema does not know, undocumented code values, types that vary,
schema fields never seen).

It is core code: no click, no flask, no printing. Renderers write to a file object the
caller hands them, so the CLI streams a million lines in flat memory while the HTTP API
collects a small :class:`Report` and returns :meth:`Report.to_dict`.

Usage::

    >>> from emulator.captures.validate import validate_payloads
    >>> report = validate_payloads([event], event_type=None, strict=False)
    >>> report.to_dict()["summary"]["invalid"]
    0

Speed: every event goes through the compiled validator (``jsonschema_rs``); only one that
fails is run through the pure-Python validator, for its error detail. The drift walk
caches each object's *shape* (its keys, their value types and its code values), so an
object shaped like one seen before costs two tuple builds and a dict lookup.
"""

from __future__ import annotations

import base64
import codecs
import copy
import difflib
import io
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO
from xml.sax.saxutils import escape as _xml_escape
from xml.sax.saxutils import quoteattr as _xml_attr

import jsonschema
import jsonschema_rs
from jsonschema import Draft202012Validator

from .. import bounds
from ..errors import CaptureUnreadable, ExitCode
from ..events.registry import ZENOTI_FORMATS, EventType, Registry, default_registry, json_path, json_pointer, make_format_checker

#: Version of the JSON report's layout; bumped only when a key changes meaning or goes.
REPORT_VERSION = 1
#: Suffixes a directory walk reads. Files without a suffix are read too (saved bodies).
CAPTURE_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson", ".har", ".txt", ".log"})
#: Suffixes always read line by line, never as one document.
LINE_SUFFIXES = frozenset({".jsonl", ".ndjson"})
#: HTTP verbs Zenoti may deliver with (chosen per webhook in its setup).
WEBHOOK_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: The header Zenoti signs with (*reported*); its presence marks a HAR entry as a webhook.
SIGNATURE_HEADER = "zenoti-webhook-signature"
#: Label for records whose event type could not be told (not JSON, no ``event_type``).
UNRECOGNIZED = "(unrecognized)"

# Bounds that keep memory flat whatever the input holds: shapes cached before they are
# folded into counters, distinct unknown paths, distinct undocumented values per field.
_MAX_SHAPES = 20_000
_MAX_UNKNOWN_PATHS = 1_000
_MAX_VALUES_PER_FIELD = 100
# How often readers report progress, in bytes; how much a streaming reader reads at once;
# the largest single value it will buffer before calling the JSON broken.
_PROGRESS_STEP = 1 << 20
_CHUNK = 1 << 20
_MAX_VALUE = bounds.MAX_EVENT_BYTES
# The largest value of a HAR streamed (an entry may hold a page's script, not only an event).
_MAX_HAR_VALUE = 64 << 20
# The largest document read whole (not JSON Lines, not an array, not a .har): a HAR of a
# few requests, or one pretty-printed event.
_MAX_DOCUMENT = 16 << 20
# How much of a found value an error line quotes.
_QUOTE_LIMIT = 80

_JSON_TYPE: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}

#: Status of one record.
VALID, INVALID, SKIPPED = "valid", "invalid", "skipped"


# --------------------------------------------------------------------------- records


class Capture:
    """One record read from an input: where it came from, and its body.

    A body is raw (``bytes``/``str``, parsed when checked) or already parsed (``value``),
    as for an element of a JSON array. ``problem`` is set when the record could not be
    read at all (an unreadable file); such a record has no body.
    """

    __slots__ = ("file", "line", "index", "detail", "body", "value", "problem")

    _UNSET: Any = object()

    def __init__(
        self,
        file: str,
        line: int | None = None,
        index: int | None = None,
        detail: str = "",
        body: bytes | str | None = None,
        value: Any = _UNSET,
        problem: str = "",
    ) -> None:
        #: path of the input file, or ``<stdin>``/``<payload>``
        self.file = file
        #: 1-based line of a JSON Lines record
        self.line = line
        #: 0-based position in a JSON array, or of a HAR entry in ``log.entries``
        self.index = index
        #: for a HAR entry, ``POST https://receiver/hook``
        self.detail = detail
        self.body = body
        self.value = value
        self.problem = problem

    @property
    def parsed(self) -> bool:
        return self.value is not Capture._UNSET

    @property
    def label(self) -> str:
        """``dump.jsonl:17``, ``events.json[3]``, ``proxy.har entries[4] (POST https://…)``."""
        out = self.file
        if self.line is not None:
            out += f":{self.line}"
        if self.index is not None:
            out += f" entries[{self.index}]" if self.detail else f"[{self.index}]"
        if self.detail:
            out += f" ({self.detail})"
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "index": self.index, "detail": self.detail or None, "label": self.label}


def _lines(stream: BinaryIO, file: str, progress: Callable[[int], None] | None, first_line: int = 1) -> Iterator[Capture]:
    # The hot loop of a large JSON Lines input: no parsing here, one object per line.
    # Each line is read bounded (bounds.read_record): one longer than any event ends the
    # input with a "too large" record instead of taking its size in memory.
    pending = 0
    number = first_line - 1
    while True:
        number += 1
        try:
            line = bounds.read_record(stream, line=True)
        except bounds.TooLarge as exc:
            yield Capture(file, number, problem=f"too_large:{exc.message}")
            return
        if not line:
            break
        if progress is not None:
            pending += len(line)
            if pending >= _PROGRESS_STEP:
                progress(pending)
                pending = 0
        if line.isspace():
            continue
        yield Capture(file, number, body=line)
    if progress is not None and pending:
        progress(pending)


def _expand(value: Any, file: str, line: int | None = None) -> Iterator[Capture]:
    """A parsed document as records: a HAR's entries, an array's elements, or itself."""
    if isinstance(value, dict) and isinstance(value.get("log"), dict) and isinstance(value["log"].get("entries"), list):
        yield from _har_entries(value["log"]["entries"], file)
    elif isinstance(value, list):
        for index, element in enumerate(value):
            yield Capture(file, line, index, value=element)
    else:
        yield Capture(file, line, value=value)


def _kind(value: Any) -> str:
    """``an array``, ``a number``: the JSON type of a parsed value, for a message."""
    name = _JSON_TYPE.get(type(value), type(value).__name__)
    name = "number" if name == "integer" else name
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}" if name != "null" else "null"


def _har_entries(entries: list[Any], file: str) -> Iterator[Capture]:
    """The request body of each HAR entry that looks like a webhook; the rest skipped.

    An entry is a webhook when it is a POST, PUT or PATCH and either carries Zenoti's
    signature header or has a JSON body with an ``event_type``. An empty POST is kept (as
    an empty body): it is what Zenoti's "Test your trigger" button sends.
    """
    for index, entry in enumerate(entries):
        yield _har_entry(entry, index, file)


def _har_entry(entry: Any, index: int, file: str) -> Capture:
    if not isinstance(entry, dict):
        return Capture(file, None, index, "?", problem=f"not_webhook:HAR entry is {_kind(entry)}, not an object")
    request = entry.get("request")
    if not isinstance(request, dict):
        return Capture(file, None, index, "?", problem="not_webhook:HAR entry without a request")
    method = str(request.get("method", "")).upper()
    detail = f"{method} {request.get('url', '')}".strip()
    listed = request.get("headers")
    headers = {str(h.get("name", "")).lower() for h in listed if isinstance(h, dict)} if isinstance(listed, list) else set()
    post = request.get("postData") if isinstance(request.get("postData"), dict) else {}
    text = post.get("text")
    body: bytes | str = text if isinstance(text, str) else ""
    if post.get("encoding") == "base64" and isinstance(text, str):
        try:
            body = base64.b64decode(text)
        except ValueError:
            body = text
    if method not in WEBHOOK_METHODS:
        return Capture(file, None, index, detail, problem=f"not_webhook:{method or 'no method'} request")
    signed = SIGNATURE_HEADER in headers
    size = request.get("bodySize")
    if not isinstance(request.get("postData"), dict) and (signed or (isinstance(size, int) and size > 0)):
        # A signed request has a body (the signature is of it): the HAR lost it.
        return Capture(
            file, None, index, detail,
            problem=f"no_body:the HAR has no postData for this {'signed ' if signed else ''}request"
            f"{f' of {size} bytes' if isinstance(size, int) and size > 0 else ''}; export it with request bodies",
        )
    stripped = body.strip() if body else body
    if not stripped:
        return Capture(file, None, index, detail, body=body)
    if not signed and (b"event_type" if isinstance(body, bytes) else "event_type") not in body:
        return Capture(file, None, index, detail, problem="not_webhook:body has no event_type and no Zenoti signature")
    return Capture(file, None, index, detail, body=body)


def _sniff(stream: BinaryIO, file: str, progress: Callable[[int], None] | None) -> Iterator[Capture]:
    """JSON Lines if the first line is a whole JSON value, else one JSON document.

    A document that starts with ``[`` is streamed element by element, so a huge array
    takes no more memory than one event. Any other document that does not parse is one
    "not JSON" record, unless later lines parse on their own: then it is JSON Lines with a
    broken first line.
    """
    skipped_lines = 0
    start = stream.read(1)
    if start == b"\xef":  # a UTF-8 byte order mark, as Windows tools write
        mark = stream.read(2)
        start = stream.read(1) if mark == b"\xbb\xbf" else start + mark
    while start and start.isspace():
        skipped_lines += start == b"\n"
        start = stream.read(1)
    if progress is not None:
        progress(skipped_lines + len(start))
    if not start:
        yield Capture(file, body=b"")
        return
    if start == b"[":
        yield from _stream_values(stream, file, progress, start)
        return
    number = skipped_lines + 1
    try:
        first = start + bounds.read_record(stream, line=True, limit=bounds.MAX_EVENT_BYTES - 1)
    except bounds.TooLarge as exc:
        yield Capture(file, number, problem=f"too_large:{exc.message}")
        return
    try:
        value = bounds.loads_json(first)
    except ValueError:  # TooDeep is one too
        value = Capture._UNSET
    if value is not Capture._UNSET:
        if progress is not None:
            progress(len(first) - 1)
        yield from _expand(value, file, number)
        yield from _lines(stream, file, progress, first_line=number + 1)
        return
    try:  # one document (a pretty-printed event, a HAR not named .har): bounded too
        rest = bounds.read_record(stream, limit=_MAX_DOCUMENT)
    except bounds.TooLarge:
        yield Capture(file, problem=f"too_large:{bounds.too_large(_MAX_DOCUMENT).message} (a HAR file streams when named .har)")
        return
    if progress is not None:
        progress(len(first) - 1 + len(rest))
    whole = first + rest
    try:
        document = bounds.loads_json(whole)
    except ValueError:
        lines = whole.splitlines(keepends=True)
        if any(_parses(line) for line in lines[1:]):
            yield from _lines(io.BytesIO(whole), file, None, first_line=number)
        else:
            yield Capture(file, body=whole)
        return
    yield from _expand(document, file)


class _Cursor:
    """Text decoded from a byte stream a chunk at a time, for a streaming JSON reader."""

    def __init__(self, stream: BinaryIO, prefix: bytes, progress: Callable[[int], None] | None, limit: int = _MAX_VALUE) -> None:
        self.stream = stream
        #: the longest value read before it is refused as too large
        self.limit = limit
        self.progress = progress
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.text = self.decoder.decode(prefix)
        self.pos = 0
        self.eof = False

    def more(self) -> bool:
        """Read another chunk, dropping what was consumed; False at the end of the stream."""
        if self.eof:
            return False
        chunk = self.stream.read(_CHUNK)
        if self.progress is not None:
            self.progress(len(chunk))
        self.text = self.text[self.pos :] + self.decoder.decode(chunk, final=not chunk)
        self.pos = 0
        self.eof = not chunk
        return True

    def skip_space(self) -> str:
        """The next character that is not white space ('' at the end)."""
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if not self.more():
                return ""


_decode_value = json.JSONDecoder().raw_decode


def _stream_values(stream: BinaryIO, file: str, progress: Callable[[int], None] | None, prefix: bytes) -> Iterator[Capture]:
    """Top-level JSON values one after another; the elements of an array one at a time.

    Broken JSON cannot be resynchronized: it becomes one "not JSON" record, and the rest
    of the stream is not read.
    """
    cursor = _Cursor(stream, prefix, progress)
    index = 0
    try:
        while (char := cursor.skip_space()) != "":
            if char != "[":
                value = _next_value(cursor)
                yield from _expand(value, file)
                continue
            for value in _elements(cursor):
                yield Capture(file, None, index, value=value)
                index += 1
    except bounds.TooLarge as exc:
        yield Capture(file, None, index, problem=f"too_large:{exc.message}")
    except ValueError as exc:
        yield Capture(file, None, index, problem=f"not_json:{_stream_error(exc, cursor)}")


def _elements(cursor: _Cursor) -> Iterator[Any]:
    """The values of the array whose ``[`` is at the cursor, parsed one at a time."""
    cursor.pos += 1
    if cursor.skip_space() == "]":
        cursor.pos += 1
        return
    while True:
        cursor.skip_space()
        yield _next_value(cursor)
        char = cursor.skip_space()
        cursor.pos += 1
        if char == "]":
            return
        if char != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", cursor.text, cursor.pos - 1)


def _members(cursor: _Cursor) -> Iterator[tuple[str, str]]:
    """The keys of the object whose ``{`` is at the cursor, each with the first character
    of its value; the cursor is left on that value, which the caller must read through
    (``_next_value``, or ``_elements``/``_members`` for a container to stream)."""
    cursor.pos += 1
    if cursor.skip_space() == "}":
        cursor.pos += 1
        return
    while True:
        if cursor.skip_space() != '"':
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", cursor.text, cursor.pos)
        key = _next_value(cursor)
        if cursor.skip_space() != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", cursor.text, cursor.pos)
        cursor.pos += 1
        yield key, cursor.skip_space()
        char = cursor.skip_space()
        cursor.pos += 1
        if char == "}":
            return
        if char != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", cursor.text, cursor.pos - 1)


def _stream_har(stream: BinaryIO, file: str, progress: Callable[[int], None] | None) -> Iterator[Capture]:
    """The entries of a HAR file one at a time, so a proxy's huge HAR takes no more memory
    than its largest entry; everything else in it is parsed and dropped.

    A document that is no HAR (no ``log`` object, no ``log.entries`` array) is one
    unreadable record; broken JSON is one "not JSON" record after the entries before it.
    """
    cursor = _Cursor(stream, b"", progress, limit=_MAX_HAR_VALUE)
    index = 0
    try:
        first = cursor.skip_space()
        if not first:
            yield Capture(file, problem="unreadable:not a HAR file: the file is empty")
            return
        if first != "{":
            why = f"expected a JSON object, found {_kind(_next_value(cursor))}"
            yield Capture(file, problem=f"unreadable:not a HAR file: {why}")
            return
        seen_log = False
        for key, start in _members(cursor):
            if key != "log" or seen_log:
                _next_value(cursor)
                continue
            seen_log = True
            if start != "{":
                yield Capture(file, problem=f"unreadable:not a HAR file: log is {_kind(_next_value(cursor))}, not an object")
                return
            seen_entries = False
            for name, first in _members(cursor):
                if name != "entries" or seen_entries:
                    _next_value(cursor)
                    continue
                seen_entries = True
                if first != "[":
                    why = f"log.entries is {_kind(_next_value(cursor))}, not an array"
                    yield Capture(file, problem=f"unreadable:not a HAR file: {why}")
                    return
                for entry in _elements(cursor):
                    yield _har_entry(entry, index, file)
                    index += 1
            if not seen_entries:
                yield Capture(file, problem="unreadable:not a HAR file: no log.entries")
                return
        if cursor.skip_space():
            raise json.JSONDecodeError("Extra data", cursor.text, cursor.pos)
        if not seen_log:
            yield Capture(file, problem="unreadable:not a HAR file: no log object")
    except ValueError as exc:
        yield Capture(file, problem=f"not_json:{_stream_error(exc, cursor)}")


def _next_value(cursor: _Cursor) -> Any:
    # A value cut by the end of the buffer fails to parse, or (a number) parses short:
    # read more and try again until it ends before the buffer does, or the stream ends.
    while True:
        try:
            value, end = _decode_value(cursor.text, cursor.pos)
        except RecursionError:
            raise bounds.TooDeep(f"JSON nested more than {bounds.MAX_JSON_DEPTH} levels deep") from None
        except json.JSONDecodeError:
            # "Unterminated string" points at the string's start, not the cut: read on,
            # up to a size no event reaches, before calling it broken.
            if len(cursor.text) - cursor.pos > cursor.limit:
                raise bounds.too_large(cursor.limit) from None
            if cursor.more():
                continue
            raise
        if end < len(cursor.text) or cursor.eof or not cursor.more():
            if bounds.count_openers(cursor.text, cursor.pos, end) > bounds.MAX_JSON_DEPTH:
                bounds.check_depth(value)  # parsed, but too deep for what checks it next
            cursor.pos = end
            return value


def _stream_error(exc: ValueError, cursor: _Cursor) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({exc.reason})"
    if isinstance(exc, json.JSONDecodeError):
        cut = cursor.eof and (exc.pos >= len(cursor.text) - 1 or exc.msg.startswith("Unterminated"))
        return f"{exc.msg}{' (cut off?)' if cut else ''}"
    return str(exc)


def _parses(line: bytes) -> bool:
    try:
        bounds.loads_json(line)
    except ValueError:
        return False
    return not line.isspace()


def capture_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """The files behind ``paths``: each file, and each capture file under each directory.

    A directory is walked recursively in name order; hidden entries are left out, and so
    are files whose suffix is not one of :data:`CAPTURE_SUFFIXES` (files without a suffix
    are kept). ``-`` (stdin) is not a file and is left out.
    """
    for raw in paths:
        if str(raw) == "-":
            continue
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                suffix = Path(name).suffix.lower()
                if not name.startswith(".") and (suffix in CAPTURE_SUFFIXES or not suffix):
                    yield Path(root, name)


def check_inputs(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Refuse inputs that are not there before reading any.

    :raise CaptureUnreadable: a path that does not exist.
    """
    for raw in paths:
        if str(raw) != "-" and not Path(raw).exists():
            raise CaptureUnreadable(f"Cannot read {raw}: no such file or directory.")


def read_file(path: Path, progress: Callable[[int], None] | None = None) -> Iterator[Capture]:
    """The records of one file, by its suffix: lines, HAR entries, or sniffed."""
    file = str(path)
    try:
        stream = path.open("rb")
    except OSError as exc:
        yield Capture(file, problem=f"unreadable:{exc.strerror or exc}")
        return
    with stream:
        suffix = path.suffix.lower()
        if suffix in LINE_SUFFIXES:
            yield from _lines(stream, file, progress)
        elif suffix == ".har":
            yield from _stream_har(stream, file, progress)
        else:
            yield from _sniff(stream, file, progress)


def iter_captures(
    paths: Iterable[str | os.PathLike[str]],
    *,
    stdin: BinaryIO | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Capture]:
    """Stream the records of every input, in order; ``-`` reads ``stdin``.

    :param progress: called now and then with the number of bytes read since last call.
    """
    for raw in paths:
        if str(raw) == "-":
            if stdin is not None:
                yield from _sniff(stdin, "<stdin>", progress)
            continue
        path = Path(raw)
        files = capture_files([path]) if path.is_dir() else [path]
        for file in files:
            yield from read_file(file, progress)


def iter_payloads(payloads: Iterable[Any] | bytes | str, *, source: str = "<payload>") -> Iterator[Capture]:
    """Records from what an API received: raw text (sniffed like stdin) or parsed values."""
    if isinstance(payloads, str):
        payloads = payloads.encode("utf-8")
    if isinstance(payloads, bytes):
        yield from _sniff(io.BytesIO(payloads), source, None)
        return
    for index, value in enumerate(payloads):
        if isinstance(value, (bytes, str)):
            yield Capture(source, None, index, body=value)
        else:
            yield Capture(source, None, index, value=value)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Problem:
    """One error in one event, located and explained for a person to act on."""

    #: ``$.data.appointments[0].start_time`` (relative to the body as received)
    path: str
    #: ``/data/appointments/0/start_time``
    pointer: str
    #: the schema keyword that failed (``type``, ``required``...), or ``unknown_field``
    keyword: str
    #: what the schema expects: ``string``, ``present``, ``format 'uuid'``
    expected: str
    #: what was there: ``integer 8086``, ``nothing``
    found: str
    #: jsonschema's own message
    message: str

    def __str__(self) -> str:
        return f"{self.path}: expected {self.expected}, found {self.found}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "pointer": self.pointer,
            "keyword": self.keyword,
            "expected": self.expected,
            "found": self.found,
            "message": self.message,
        }


@dataclass(slots=True)
class EventResult:
    """What became of one record."""

    capture: Capture
    #: ``valid``, ``invalid`` or ``skipped``
    status: str
    #: the event type it was checked as; the unknown name for ``unknown_event_type``
    event_type: str | None = None
    #: the event's ``id``, when it has one
    event_id: str | None = None
    #: False for a body that is only ``data`` (checked with ``--event-type``)
    envelope: bool = True
    #: machine-readable cause: ``schema``, ``not_json``, ``empty``, ``unknown_event_type``...
    reason: str = ""
    #: one line for a person
    message: str = ""
    errors: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.capture.to_dict(),
            "status": self.status,
            "event_type": self.event_type,
            "id": self.event_id,
            "envelope": self.envelope,
            "reason": self.reason,
            "message": self.message,
            "errors": [e.to_dict() for e in self.errors],
        }


def _quote(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 1] + "…"


def _found(value: Any) -> str:
    kind = _JSON_TYPE.get(type(value), type(value).__name__)
    if kind in ("object", "array"):
        return f"{kind} {_quote(value)}"
    return f"{kind} {_quote(value)}" if kind != "null" else "null"


def _types_text(types: Any) -> str:
    if isinstance(types, list):
        return " or ".join(types)
    return str(types)


def _describe(error: jsonschema.ValidationError) -> tuple[list[Any], str, str]:
    """``(path parts, expected, found)`` for one jsonschema error."""
    parts = list(error.absolute_path)
    keyword, expected_value, instance = error.validator, error.validator_value, error.instance
    if keyword == "required":
        missing = _missing_property(error)
        return parts + [missing], "present (required)", "nothing"
    if keyword == "type":
        return parts, _types_text(expected_value), _found(instance)
    if keyword == "pattern":
        return parts, f"string matching {expected_value}", _found(instance)
    if keyword == "format":
        return parts, f"format {expected_value!r}", _found(instance)
    if keyword == "const":
        return parts, _quote(expected_value), _found(instance)
    if keyword == "enum":
        return parts, "one of " + ", ".join(_quote(v) for v in expected_value), _found(instance)
    if keyword in ("minItems", "maxItems"):
        return parts, f"{keyword} {expected_value}", f"{len(instance)} items"
    if keyword in ("minLength", "maxLength"):
        return parts, f"{keyword} {expected_value}", f"length {len(instance)}"
    if keyword == "additionalProperties":
        return parts, "no other properties", error.message
    return parts, f"{keyword} {_quote(expected_value)}", _found(instance)


def _missing_property(error: jsonschema.ValidationError) -> str:
    # jsonschema says "'email' is a required property"; take the name back out of it.
    message = error.message
    suffix = " is a required property"
    if message.endswith(suffix):
        quoted = message[: -len(suffix)]
        for name in error.validator_value:
            if repr(name) == quoted:
                return str(name)
    present = error.instance if isinstance(error.instance, dict) else {}
    missing = [n for n in error.validator_value if n not in present]
    return str(missing[0]) if missing else "?"


def _relevance(error: jsonschema.ValidationError) -> tuple[Any, ...]:
    # The order of EventType.errors(): deeper first, then jsonschema's own ranking.
    return (-len(error.path), jsonschema.exceptions.relevance(error))


def problems(validator: Draft202012Validator, instance: Any) -> list[Problem]:
    """Every error of ``instance`` under ``validator``, most relevant first."""
    found = sorted(validator.iter_errors(instance), key=_relevance)
    out = []
    for error in found:
        parts, expected, got = _describe(error)
        out.append(Problem(json_path(parts), json_pointer(parts), str(error.validator), expected, got, error.message))
    return out


# --------------------------------------------------------------------------- drift


@dataclass(eq=False, slots=True)
class _Field:
    """A place in the schema that holds a value: a property, or the items of an array."""

    path: str
    #: keys from the top of the envelope, ``*`` for array items: ``("data", "appointments", "*", "id")``
    parts: tuple[str, ...]
    #: JSON types the schema allows here; None when it does not say
    types: frozenset[str] | None
    #: ``(json type, value)`` pairs the schema documents (enum, const, x-known-values)
    documented: frozenset[tuple[str, Any]] | None
    #: JSON types of the documented values: a value of another type is a type drift
    documented_types: frozenset[str]
    documented_list: list[Any] | None
    #: present in every valid event whose parent object is present
    required: bool = False
    #: an array that always has items (``minItems`` >= 1)
    nonempty: bool = False
    #: left out of most events by design (``x-omit-if-null``): not worth a "never seen"
    occasional: bool = False
    obj: _Node | None = None
    items: _Field | None = None


@dataclass(eq=False, slots=True)
class _Node:
    """An object in the schema: its known fields, and the shapes seen of it."""

    path: str
    fields: dict[str, _Field]
    #: keys beyond ``fields`` are allowed by design (patternProperties, a map)
    open: bool
    #: keys whose values are checked against documented values
    watched: tuple[str, ...]
    shapes: dict[tuple[Any, ...], _Shape] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class _Shape:
    """What one shape of object contributes, computed the first time it is seen."""

    count: int
    #: ``(path, json type)`` per key, counted once per occurrence
    types: tuple[tuple[str, str], ...]
    #: ``(path, (json type, value))`` for undocumented code values
    values: tuple[tuple[str, tuple[str, Any]], ...]
    #: keys the schema does not know, and their normalized paths
    unknown: tuple[str, ...]
    unknown_paths: tuple[str, ...]
    #: ``(key, field, is_list)`` to walk into
    descend: tuple[tuple[str, _Field, bool], ...]


_COMPOSITION = ("allOf", "anyOf", "oneOf")


def _resolve(schema: Any, root: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Follow local ``$ref``s and fold ``allOf``/``anyOf``/``oneOf`` branches' properties."""
    if not isinstance(schema, dict):
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and depth < 20:
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(target, dict) else {}
        schema = {**_resolve(target, root, depth + 1), **{k: v for k, v in schema.items() if k != "$ref"}}
    branches = [(key, b) for key in _COMPOSITION for b in schema.get(key, []) if isinstance(b, dict)]
    if not branches:
        return schema
    merged = dict(schema)
    properties = dict(schema.get("properties", {}))
    required = list(schema.get("required", []))
    for key, branch in branches:
        branch = _resolve(branch, root, depth + 1)
        for name, sub in branch.get("properties", {}).items():
            properties.setdefault(name, sub)
        if key == "allOf":  # only allOf makes a branch's required fields always present
            required += [r for r in branch.get("required", []) if r not in required]
        for name in ("type", "items", "patternProperties"):
            if name in branch and name not in merged:
                merged[name] = branch[name]
    if properties:
        merged["properties"] = properties
    merged["required"] = required
    return merged


def _allowed_types(schema: dict[str, Any]) -> frozenset[str] | None:
    kind = schema.get("type")
    if isinstance(kind, str):
        return frozenset({kind})
    if isinstance(kind, list):
        return frozenset(kind)
    if "const" in schema:
        return frozenset({_JSON_TYPE.get(type(schema["const"]), "object")})
    if isinstance(schema.get("enum"), list):
        return frozenset(_JSON_TYPE.get(type(v), "object") for v in schema["enum"])
    return None


def _value_key(value: Any) -> tuple[str, Any]:
    # (type, value): True must not pass for the documented code 1, nor 1.0 for 1.
    kind = _JSON_TYPE.get(type(value), "object")
    if kind in ("object", "array"):
        return kind, json.dumps(value, sort_keys=True)
    return kind, value


def _documented(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    for key in ("enum", "x-known-values"):
        if isinstance(schema.get(key), list):
            return list(schema[key])
    # Integer codes documented only by example ("integer codes for enumerations").
    if schema.get("type") == "integer" and isinstance(schema.get("examples"), list):
        return list(schema["examples"])
    return None


def _is_open(schema: dict[str, Any]) -> bool:
    # Keys beyond the properties are by design: a map, pattern keys, or no properties at all.
    additional = schema.get("additionalProperties", True)
    return bool(schema.get("patternProperties")) or isinstance(additional, dict) or not schema.get("properties")


def _build_field(schema: Any, path: str, parts: tuple[str, ...], root: dict[str, Any], required: bool) -> _Field:
    schema = _resolve(schema, root)
    documented = _documented(schema)
    result = _Field(
        path,
        parts,
        _allowed_types(schema),
        frozenset(_value_key(v) for v in documented) if documented is not None else None,
        frozenset(_value_key(v)[0] for v in documented or ()),
        documented,
        required,
        int(schema.get("minItems", 0)) >= 1,
        bool(schema.get("x-omit-if-null")),
    )
    types = result.types
    if "properties" in schema or "patternProperties" in schema or (types is not None and "object" in types):
        result.obj = _build_node(schema, path, parts, root)
    items = schema.get("items")
    if isinstance(items, dict):
        result.items = _build_field(items, path + "[*]", parts + ("*",), root, False)
    return result


def _build_node(schema: dict[str, Any], path: str, parts: tuple[str, ...], root: dict[str, Any]) -> _Node:
    required = set(schema.get("required", []))
    fields = {
        key: _build_field(sub, json_path([key]).replace("$", path, 1), parts + (key,), root, key in required)
        for key, sub in schema.get("properties", {}).items()
    }
    watched = tuple(key for key, f in fields.items() if f.documented is not None)
    return _Node(path, fields, _is_open(schema), watched)


def drift_clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` narrowed so that an event passing it shows no drift at all.

    Each object the drift report watches gets ``additionalProperties: false`` (or
    ``unevaluatedProperties: false`` where composition is involved), and each field with
    documented values (``x-known-values``, integer ``examples``) an ``enum``. It only adds
    constraints, so an event that passes is valid too: the compiled validator can answer
    "valid and nothing to report" in one call, and only the other events are walked.
    """
    return _narrow(copy.deepcopy(schema), branch=False)


def _narrow(schema: Any, *, branch: bool) -> Any:
    if isinstance(schema, list):
        return [_narrow(s, branch=False) for s in schema]
    if not isinstance(schema, dict):
        return schema
    for key in ("properties", "patternProperties", "$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            schema[key] = {name: _narrow(sub, branch=False) for name, sub in schema[key].items()}
    for key in ("items", "additionalProperties", "contains", "not", "if", "then", "else"):
        if isinstance(schema.get(key), dict):
            schema[key] = _narrow(schema[key], branch=False)
    if isinstance(schema.get("prefixItems"), list):
        schema["prefixItems"] = [_narrow(s, branch=False) for s in schema["prefixItems"]]
    for key in _COMPOSITION:
        if isinstance(schema.get(key), list):
            # A branch sees only its own properties: closing it would reject its siblings'.
            schema[key] = [_narrow(s, branch=True) for s in schema[key]]
    if not branch and not _is_open(schema):
        composed = any(k in schema for k in (*_COMPOSITION, "$ref", "if", "dependentSchemas"))
        schema["unevaluatedProperties" if composed else "additionalProperties"] = False
    documented = _documented(schema)
    if documented is not None and "enum" not in schema and "const" not in schema:
        schema["enum"] = documented
    return schema


class DriftCollector:
    """Drift of one event type's captures from its schema, over a whole input.

    Feed it events with :meth:`observe` (or :meth:`observe_clean` for one that passed
    :func:`drift_clean_schema`); read :meth:`to_dict`. Array indices are folded to ``[*]``
    (``$.data.appointments[*].room_id``); examples keep the concrete path and where it was
    seen.
    """

    def __init__(self, event_type: EventType) -> None:
        self.event_type = event_type.name
        schema = event_type.schema
        self.root = _build_node(_resolve(schema, schema), "$", (), schema)
        data = self.root.fields.get("data")
        #: where a body that is only ``data`` starts
        self.data_node = data.obj if data is not None else None
        self.events = 0
        self._nodes = list(self._all_nodes(self.root))
        self._shape_total = 0
        self._types: dict[str, Counter[str]] = {}
        self._unknown: Counter[str] = Counter()
        self._unknown_overflow = 0
        self._values: dict[str, Counter[tuple[str, Any]]] = {}
        self._examples: dict[Any, tuple[str, str]] = {}
        self._known_fields = {f.path: f for f in self._all_fields(self.root)}
        self._seen_nodes: set[str] = set()
        self._seen_fields: set[str] = set()
        # For events that passed the drift-clean schema: what they surely hold, marked
        # once, and the optional fields still to look for, by envelope or data only.
        self._clean_marked = {True: False, False: False}
        self._optional = {True: self._optional_fields(self.root), False: self._optional_fields(self.data_node)}

    # -- schema side

    @classmethod
    def _all_nodes(cls, node: _Node) -> Iterator[_Node]:
        yield node
        for f in node.fields.values():
            yield from cls._field_nodes(f)

    @classmethod
    def _field_nodes(cls, f: _Field) -> Iterator[_Node]:
        if f.obj is not None:
            yield from cls._all_nodes(f.obj)
        if f.items is not None:
            yield from cls._field_nodes(f.items)

    @classmethod
    def _all_fields(cls, node: _Node) -> Iterator[_Field]:
        for f in node.fields.values():
            yield from cls._field_and_items(f)

    @classmethod
    def _field_and_items(cls, f: _Field) -> Iterator[_Field]:
        yield f
        if f.obj is not None:
            yield from cls._all_fields(f.obj)
        if f.items is not None:
            yield from cls._field_and_items(f.items)

    def field_paths(self) -> list[str]:
        """Named fields of the schema as drift sees them (the paths of ``iter_fields``)."""
        return [p for p in self._known_fields if not p.endswith("[*]")]

    def _optional_fields(self, node: _Node | None) -> list[_Field]:
        if node is None:
            return []
        return [f for f in self._all_fields(node) if not f.path.endswith("[*]") and not f.required]

    def _mark_present(self, node: _Node) -> None:
        """Mark ``node`` and what a valid event always has under it as seen."""
        self._seen_nodes.add(node.path)
        for f in node.fields.values():
            if f.required:
                self._mark_field(f)

    def _mark_field(self, f: _Field) -> None:
        self._seen_fields.add(f.path)
        if f.obj is not None and f.types == frozenset({"object"}):
            self._mark_present(f.obj)
        items = f.items
        if items is not None and f.nonempty and items.obj is not None and items.types == frozenset({"object"}):
            self._mark_present(items.obj)

    # -- observing

    def observe_clean(self, event: dict[str, Any], *, envelope: bool = True) -> None:
        """Record an event that passed :func:`drift_clean_schema`: nothing to walk."""
        self.events += 1
        if not self._clean_marked[envelope]:
            node = self.root if envelope else self.data_node
            if node is not None:
                self._mark_present(node)
            self._clean_marked[envelope] = True
        pending = self._optional[envelope]
        if pending:
            offset = 0 if envelope else 1
            found = [f for f in pending if _present(event, f.parts, offset)]
            for f in found:
                self._mark_field(f)
            if found:
                for mode in (True, False):
                    self._optional[mode] = [f for f in self._optional[mode] if f.path not in self._seen_fields]

    def observe(self, event: dict[str, Any], *, envelope: bool = True, label: Callable[[], str] = str) -> list[tuple[Any, ...]]:
        """Record one event; return the concrete paths of fields the schema does not know.

        :param envelope: False for a body that is only ``data``.
        :param label: where the event came from, called only when an example is kept.
        """
        node = self.root if envelope else self.data_node
        if node is None:
            return []
        self.events += 1
        unknown: list[tuple[Any, ...]] = []
        self._walk(event, node, (), label, unknown)
        if self._shape_total > _MAX_SHAPES:
            self._fold()
        return unknown

    def _walk(self, obj: dict[str, Any], node: _Node, parts: tuple[Any, ...], label: Callable[[], str], unknown: list[tuple[Any, ...]]) -> None:
        watched = node.watched
        try:
            if watched:
                key: tuple[Any, ...] = (tuple(obj), tuple(map(type, obj.values())), tuple(map(obj.get, watched)))
            else:
                key = (tuple(obj), tuple(map(type, obj.values())))
            shape = node.shapes.get(key)
        except TypeError:  # an unhashable value in a watched field: learn it, cache nothing
            key, shape = (), None
        if shape is None:
            shape = self._learn(obj, node, parts, label)
            if key:
                node.shapes[key] = shape
                self._shape_total += 1
        shape.count += 1
        if shape.unknown:
            unknown.extend(parts + (k,) for k in shape.unknown)
        for name, f, is_list in shape.descend:
            value = obj[name]
            if is_list:
                self._walk_list(value, f, parts + (name,), label, unknown)
            else:
                self._walk(value, f.obj, parts + (name,), label, unknown)  # type: ignore[arg-type]

    def _walk_list(self, values: list[Any], items: _Field, parts: tuple[Any, ...], label: Callable[[], str], unknown: list[tuple[Any, ...]]) -> None:
        for index, value in enumerate(values):
            kind = type(value)
            if kind is dict and items.obj is not None:
                self._walk(value, items.obj, parts + (index,), label, unknown)
                continue
            self._count(items.path, _JSON_TYPE.get(kind, "object"), 1)
            if items.documented is not None:
                self._check_value(items, value, parts + (index,), label, 1)
            if kind is list and items.items is not None:
                self._walk_list(value, items.items, parts + (index,), label, unknown)

    def _learn(self, obj: dict[str, Any], node: _Node, parts: tuple[Any, ...], label: Callable[[], str]) -> _Shape:
        types, values, unknown, unknown_paths, descend = [], [], [], [], []
        self._seen_nodes.add(node.path)
        for name, value in obj.items():
            kind = type(value)
            f = node.fields.get(name)
            if f is None:
                if node.open:
                    continue
                path = json_path([name]).replace("$", node.path, 1)
                types.append((path, _JSON_TYPE.get(kind, "object")))
                unknown.append(name)
                unknown_paths.append(path)
                self._examples.setdefault(("unknown", path), (label(), json_path(parts + (name,))))
                continue
            self._seen_fields.add(f.path)
            types.append((f.path, _JSON_TYPE.get(kind, "object")))
            if f.documented is not None:
                vkey = _value_key(value)
                if vkey not in f.documented and vkey[0] in f.documented_types:
                    values.append((f.path, vkey))
                    self._examples.setdefault(("value", f.path, vkey), (label(), json_path(parts + (name,))))
            if kind is dict and f.obj is not None:
                descend.append((name, f, False))
            elif kind is list and f.items is not None:
                descend.append((name, f.items, True))
        return _Shape(0, tuple(types), tuple(values), tuple(unknown), tuple(unknown_paths), tuple(descend))

    def _check_value(self, f: _Field, value: Any, parts: tuple[Any, ...], label: Callable[[], str], count: int) -> None:
        try:
            vkey = _value_key(value)
            if vkey in f.documented or vkey[0] not in f.documented_types:  # type: ignore[operator]
                return
        except TypeError:
            return
        self._add_value(f.path, vkey, count)
        self._examples.setdefault(("value", f.path, vkey), (label(), json_path(parts)))

    def _count(self, path: str, kind: str, count: int) -> None:
        counter = self._types.get(path)
        if counter is None:
            counter = self._types[path] = Counter()
        counter[kind] += count

    def _add_value(self, path: str, vkey: tuple[str, Any], count: int) -> None:
        counter = self._values.setdefault(path, Counter())
        if vkey in counter or len(counter) < _MAX_VALUES_PER_FIELD:
            counter[vkey] += count
        else:
            counter[("other", "…")] += count

    def _fold(self) -> None:
        """Turn cached shapes into counters and forget them: memory stays bounded."""
        for node in self._nodes:
            for shape in node.shapes.values():
                c = shape.count
                if not c:
                    continue
                for path, kind in shape.types:
                    self._count(path, kind, c)
                for path, vkey in shape.values:
                    self._add_value(path, vkey, c)
                for path in shape.unknown_paths:
                    if path in self._unknown or len(self._unknown) < _MAX_UNKNOWN_PATHS:
                        self._unknown[path] += c
                    else:
                        self._unknown_overflow += c
            node.shapes.clear()
        self._shape_total = 0

    # -- reporting

    def to_dict(self) -> dict[str, Any]:
        """The drift of this event type: stable keys, lists sorted by path."""
        self._fold()
        unknown_fields = []
        for path, count in sorted(self._unknown.items()):
            where, concrete = self._examples.get(("unknown", path), ("", path))
            unknown_fields.append(
                {"path": path, "count": count, "types": dict(sorted(self._types.get(path, Counter()).items())), "example": {"source": where, "path": concrete}}
            )
        values = []
        for path, counter in sorted(self._values.items()):
            f = self._known_fields.get(path)
            for (kind, value), count in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))):
                where, concrete = self._examples.get(("value", path, (kind, value)), ("", path))
                shown = json.loads(value) if kind in ("object", "array") else value
                values.append(
                    {
                        "path": path,
                        "value": shown,
                        "count": count,
                        "documented": f.documented_list if f is not None else None,
                        "example": {"source": where, "path": concrete},
                    }
                )
        varying = []
        for path, counter in sorted(self._types.items()):
            f = self._known_fields.get(path)
            if f is None:
                # Outside the schema: any mix of types is worth knowing.
                seen = {k: v for k, v in sorted(counter.items()) if v}
                if len(seen) > 1:
                    varying.append({"path": path, "types": seen, "schema": None})
            elif f.types is not None:
                # Inside it: the types it does not allow, each counted exactly.
                outside = {k: v for k, v in sorted(counter.items()) if v and not _allows(f.types, k)}
                if outside:
                    varying.append({"path": path, "types": outside, "schema": sorted(f.types)})
        return {
            "events": self.events,
            "unknown_fields": unknown_fields,
            "unknown_fields_not_listed": self._unknown_overflow,
            "undocumented_values": values,
            "varying_types": varying,
            "never_seen": sorted(self._never_seen()),
        }

    def _never_seen(self) -> Iterator[str]:
        # A field is "never seen" only where its parent object was seen at all: a body of
        # only ``data`` says nothing about the envelope.
        for node in self._nodes:
            if node.path in self._seen_nodes:
                for f in node.fields.values():
                    if f.path not in self._seen_fields and not f.occasional:
                        yield f.path


def _present(value: Any, parts: tuple[str, ...], start: int) -> bool:
    for position in range(start, len(parts)):
        part = parts[position]
        if part == "*":
            return isinstance(value, list) and any(_present(v, parts, position + 1) for v in value)
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


def _allows(types: frozenset[str], kind: str) -> bool:
    return kind in types or (kind == "integer" and "number" in types)


def drift_has_findings(drift: dict[str, Any]) -> bool:
    """Whether a drift report (``Report.to_dict()['drift']``) shows Zenoti's payload moved.

    Unknown fields, undocumented values, types outside the schema and unknown event types
    count; schema fields never seen do not (a small sample misses optional fields).
    """
    if drift.get("unknown_event_types"):
        return True
    for entry in drift.get("event_types", {}).values():
        if entry["unknown_fields"] or entry["undocumented_values"] or entry["varying_types"] or entry["unknown_fields_not_listed"]:
            return True
    return False


# --------------------------------------------------------------------------- checking


@dataclass(slots=True)
class _Checker:
    """An event type's validators for one shape of body (envelope or data only)."""

    #: compiled: valid and nothing for the drift report (see :func:`drift_clean_schema`)
    is_clean: Callable[[Any], bool]
    #: compiled: valid
    is_valid: Callable[[Any], bool]
    #: pure Python, for the errors of an invalid event
    full: Draft202012Validator


def _compiled(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True, formats=dict(ZENOTI_FORMATS))


def _envelope_checker(event_type: EventType) -> _Checker:
    clean = _compiled(drift_clean_schema(event_type.schema))
    return _Checker(clean.is_valid, event_type.fast.is_valid, event_type.full)


def _data_checker(event_type: EventType) -> _Checker | None:
    """Validators for a body that is only ``data``: the schema's ``data`` with its ``$defs``."""
    data = event_type.schema.get("properties", {}).get("data")
    if not isinstance(data, dict):
        return None
    schema = {"$schema": event_type.schema.get("$schema", "https://json-schema.org/draft/2020-12/schema"), **data}
    defs = {**event_type.schema.get("$defs", {}), **data.get("$defs", {})}
    if defs:
        schema["$defs"] = defs
    clean = _compiled(drift_clean_schema(schema))
    return _Checker(clean.is_valid, _compiled(schema).is_valid, Draft202012Validator(schema, format_checker=make_format_checker()))


class Summary:
    """Counts over a run: records by status, by event type, and skip reasons."""

    def __init__(self) -> None:
        self.by_type: dict[str, list[int]] = {}
        self.reasons: Counter[str] = Counter()
        self.unreadable = 0
        #: bodies of only ``data``, checked with ``--event-type``
        self.no_envelope = 0

    def add(self, result: EventResult) -> None:
        row = self.by_type.get(result.event_type or UNRECOGNIZED)
        if row is None:
            row = self.by_type[result.event_type or UNRECOGNIZED] = [0, 0, 0]
        row[0 if result.status == VALID else 1 if result.status == INVALID else 2] += 1
        if result.status != VALID:
            self.reasons[result.reason] += 1
        if result.reason == "unreadable":
            self.unreadable += 1
        if not result.envelope:
            self.no_envelope += 1

    def totals(self) -> tuple[int, int, int]:
        valid = sum(r[0] for r in self.by_type.values())
        invalid = sum(r[1] for r in self.by_type.values())
        skipped = sum(r[2] for r in self.by_type.values())
        return valid, invalid, skipped

    def to_dict(self) -> dict[str, Any]:
        valid, invalid, skipped = self.totals()
        return {
            "total": valid + invalid + skipped,
            "valid": valid,
            "invalid": invalid,
            "skipped": skipped,
            "unreadable": self.unreadable,
            "no_envelope": self.no_envelope,
            "by_event_type": {
                name: {"total": sum(row), "valid": row[0], "invalid": row[1], "skipped": row[2]}
                for name, row in sorted(self.by_type.items())
            },
            "reasons": dict(sorted(self.reasons.items())),
        }

    def line(self) -> str:
        """``12 events: 8 valid, 3 invalid, 1 skipped; AppointmentGroup.Created: 10 (8 valid, 2 invalid)``."""
        valid, invalid, skipped = self.totals()
        total = valid + invalid + skipped
        out = f"{total} event{'' if total == 1 else 's'}: {valid} valid, {invalid} invalid, {skipped} skipped"
        per = []
        for name, row in sorted(self.by_type.items()):
            parts = [f"{n} {label}" for n, label in zip(row, ("valid", "invalid", "skipped")) if n]
            per.append(f"{name}: {sum(row)} ({', '.join(parts)})")
        if self.no_envelope:
            out += f" ({self.no_envelope} with no envelope)"
        return out + ("; " + "; ".join(per) if per else "")


class CaptureValidator:
    """Checks records one by one, and keeps the summary and drift of all it has seen.

    :param registry: the event types to check against.
    :param event_type: check every body as this type; a body of only ``data`` is then
        recognized ("no envelope"), and events of other types are skipped.
    :param strict: a field the schema does not know makes its event invalid.
    """

    def __init__(self, registry: Registry, *, event_type: str | None = None, strict: bool = False) -> None:
        self.registry = registry
        self.forced = registry.get_type(event_type) if event_type else None
        self.strict = strict
        self.summary = Summary()
        self.drift: dict[str, DriftCollector] = {}
        self.unknown_types: Counter[str] = Counter()
        self._checkers: dict[tuple[str, bool], _Checker | None] = {}

    def _checker(self, event_type: EventType, envelope: bool) -> _Checker | None:
        key = (event_type.name, envelope)
        if key not in self._checkers:
            if envelope:
                self._checkers[key] = _envelope_checker(event_type)
            else:
                self._checkers[key] = _data_checker(event_type)
        return self._checkers[key]

    def _collector(self, event_type: EventType) -> DriftCollector:
        collector = self.drift.get(event_type.name)
        if collector is None:
            collector = self.drift[event_type.name] = DriftCollector(event_type)
        return collector

    def check(self, capture: Capture) -> EventResult:
        """Classify and validate one record, and count it."""
        result = self._check(capture)
        self.summary.add(result)
        return result

    def _check(self, capture: Capture) -> EventResult:
        if capture.problem:
            reason, _, message = capture.problem.partition(":")
            if reason == "not_json":
                return EventResult(capture, INVALID, reason=reason, message=f"not JSON: {message}")
            if reason in ("no_body", "too_large"):  # nothing could be checked: not valid, not skippable either
                return EventResult(capture, INVALID, reason=reason, message=message)
            return EventResult(capture, SKIPPED, reason=reason, message=_skip_message(reason, message))
        if capture.parsed:
            value = capture.value
        else:
            body = capture.body
            if not body or body.isspace():
                return EventResult(capture, SKIPPED, reason="empty", message="empty body (what Zenoti's 'Test your trigger' sends)")
            try:
                value = bounds.loads_json(body)
            except bounds.TooDeep as exc:
                return EventResult(capture, INVALID, reason="too_deep", message=exc.message)
            except ValueError:
                return EventResult(capture, INVALID, reason="not_json", message=_not_json(body))
        if type(value) is not dict:
            kind = _JSON_TYPE.get(type(value), type(value).__name__)
            return EventResult(capture, INVALID, reason="not_object", message=f"not an event: expected a JSON object, found {kind}")
        event_id = value.get("id")
        event_id = event_id if isinstance(event_id, str) else None
        name = value.get("event_type")
        envelope = True
        if self.forced is not None:
            event_type = self.forced
            if isinstance(name, str) and name != event_type.name:
                return EventResult(
                    capture, SKIPPED, str(name), event_id, reason="other_event_type",
                    message=f"event type {name!r}, not {event_type.name!r} (--event-type)",
                )
            if name is None and not _looks_like_envelope(value):
                envelope = False
        elif isinstance(name, str):
            event_type = self.registry.get(name)  # type: ignore[assignment]
            if event_type is None:
                self.unknown_types[name] += 1
                close = difflib.get_close_matches(name, list(self.registry), n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                return EventResult(capture, SKIPPED, name, event_id, reason="unknown_event_type", message=f"unknown event type {name!r}{hint}")
        else:
            found = "missing" if name is None else f"{_JSON_TYPE.get(type(name), 'object')} {_quote(name)}"
            return EventResult(
                capture, INVALID, None, event_id, reason="no_event_type",
                message=f"no event_type ({found}): not a webhook envelope; a body of only `data` needs --event-type",
            )
        return self._validate(capture, value, event_type, envelope, event_id)

    def _validate(self, capture: Capture, value: dict[str, Any], event_type: EventType, envelope: bool, event_id: str | None) -> EventResult:
        checker = self._checker(event_type, envelope)
        if checker is None:
            return EventResult(
                capture, INVALID, event_type.name, event_id, envelope=False, reason="no_envelope",
                message=f"no envelope, and the {event_type.name} schema has no `data` to check it against",
            )
        note = "" if envelope else "no envelope (a body of only `data`)"
        collector = self._collector(event_type)
        if checker.is_clean(value):  # the common case: one compiled call says it all
            collector.observe_clean(value, envelope=envelope)
            return EventResult(capture, VALID, event_type.name, event_id, envelope, reason="", message=note)
        try:  # only here: a value the compiled check passed is as shallow as its schema
            bounds.check_depth(value)
        except bounds.TooDeep as exc:
            return EventResult(capture, INVALID, event_type.name, event_id, envelope, reason="too_deep", message=exc.message)
        unknown = collector.observe(value, envelope=envelope, label=lambda: capture.label)
        errors: list[Problem] = []
        if not checker.is_valid(value):
            errors = problems(checker.full, value)
        if self.strict and unknown:
            errors.extend(_unknown_problem(parts, value) for parts in unknown)
        if not errors:
            return EventResult(capture, VALID, event_type.name, event_id, envelope, reason="", message=note)
        message = str(errors[0]) + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        return EventResult(capture, INVALID, event_type.name, event_id, envelope, reason="schema", message=(note + "; " if note else "") + message, errors=errors)

    def drift_dict(self) -> dict[str, Any]:
        out = {
            "event_types": {name: collector.to_dict() for name, collector in sorted(self.drift.items())},
            "unknown_event_types": [
                {"event_type": name, "count": count} for name, count in sorted(self.unknown_types.items())
            ],
        }
        out["has_drift"] = drift_has_findings(out)
        return out


def _not_json(body: bytes | str) -> str:
    """Why ``body`` is not JSON, saying so when it looks cut off (a truncated log line)."""
    text = body.rstrip()
    try:
        bounds.loads_json(text)
    except bounds.TooDeep as exc:
        return exc.message
    except UnicodeDecodeError as exc:
        return f"not JSON: not UTF-8 text ({exc.reason} at byte {exc.start})"
    except json.JSONDecodeError as exc:
        cut = exc.pos >= len(text) - 1 or exc.msg.startswith("Unterminated")
        return f"not JSON{' (cut off?)' if cut else ''}: {exc.msg}: line {exc.lineno} column {exc.colno} ({len(text)} characters in all)"
    except ValueError as exc:
        return f"not JSON: {exc}"
    return "not JSON"


def _looks_like_envelope(value: dict[str, Any]) -> bool:
    return "data" in value and any(k in value for k in ("id", "event_id", "event_timestamp", "event_schema"))


def _unknown_problem(parts: tuple[Any, ...], value: dict[str, Any]) -> Problem:
    found: Any = value
    for part in parts:
        found = found[part]
    return Problem(json_path(parts), json_pointer(parts), "unknown_field", "no such field (--strict)", _found(found), f"{parts[-1]!r} is not in the schema")


def _skip_message(reason: str, detail: str) -> str:
    if reason == "not_webhook":
        return f"not a webhook: {detail}"
    if reason == "unreadable":
        return f"cannot read: {detail}"
    return detail or reason


# --------------------------------------------------------------------------- report


class Report:
    """The outcome of a run: summary, drift, and (when collected) every result.

    :meth:`to_dict` is the stable JSON of the CLI's ``--format json`` and of
    ``POST /api/validate``.
    """

    def __init__(self, validator: CaptureValidator, *, fail_on_drift: bool = False, results: list[EventResult] | None = None) -> None:
        self.summary = validator.summary
        self.drift = validator.drift_dict()
        self.event_type = validator.forced.name if validator.forced else None
        self.strict = validator.strict
        self.fail_on_drift = fail_on_drift
        #: every result, valid ones included; None when the run streamed them away
        self.results = results

    @property
    def exit_code(self) -> ExitCode:
        """0 all valid; 1 invalid events (or drift with ``fail_on_drift``); 2 unreadable input."""
        if self.summary.unreadable:
            return ExitCode.USAGE
        _, invalid, _ = self.summary.totals()
        if invalid or (self.fail_on_drift and self.drift["has_drift"]):
            return ExitCode.FAILED
        return ExitCode.OK

    def to_dict(self, *, events: bool = True) -> dict[str, Any]:
        """Stable JSON: ``version``, ``events`` (every record that is not valid),
        ``summary``, ``drift``, ``options``, ``ok`` and ``exit_code``."""
        out: dict[str, Any] = {"version": REPORT_VERSION}
        if events:
            out["events"] = [r.to_dict() for r in self.results or () if r.status != VALID]
        out["summary"] = self.summary.to_dict()
        out["drift"] = self.drift
        out["options"] = {"event_type": self.event_type, "strict": self.strict, "fail_on_drift": self.fail_on_drift}
        out["ok"] = self.exit_code == ExitCode.OK
        out["exit_code"] = int(self.exit_code)
        return out

    def render(self, fmt: str, out: TextIO | None = None) -> str:
        """Render the collected results as ``text``, ``json`` or ``junit``.

        :param out: where to write; when None, the rendering is returned as a string.
        """
        buffer = out or io.StringIO()
        renderer = make_renderer(fmt, buffer)
        for result in self.results or ():
            renderer.event(result)
        renderer.finish(self)
        return buffer.getvalue() if out is None else ""  # type: ignore[union-attr]


def run(
    captures: Iterable[Capture],
    validator: CaptureValidator,
    *,
    renderer: Renderer | None = None,
    fail_on_drift: bool = False,
    collect: bool = False,
) -> Report:
    """Check every record, streaming results to ``renderer``; keep them only if ``collect``."""
    results: list[EventResult] | None = [] if collect else None
    check = validator.check
    for capture in captures:
        result = check(capture)
        if renderer is not None:
            renderer.event(result)
        if results is not None:
            results.append(result)
    report = Report(validator, fail_on_drift=fail_on_drift, results=results)
    if renderer is not None:
        renderer.finish(report)
    return report


def validate_payloads(
    payloads: Iterable[Any] | bytes | str,
    *,
    event_type: str | None = None,
    strict: bool = False,
    fail_on_drift: bool = False,
    registry: Registry | None = None,
    source: str = "<payload>",
) -> Report:
    """Validate what an API received, and return the whole :class:`Report`.

    This is the core of ``POST /api/validate``: hand it the request body as bytes (one
    event, an array, JSON Lines or a HAR, sniffed like stdin) or parsed values, and return
    ``report.to_dict()`` as the response (its ``exit_code`` says what the CLI would exit).

    :param event_type: check every body as this type (recognizes data-only bodies).
    :raise UnknownEventType: ``event_type`` is not in the registry.
    """
    validator = CaptureValidator(registry or default_registry(), event_type=event_type, strict=strict)
    return run(iter_payloads(payloads, source=source), validator, fail_on_drift=fail_on_drift, collect=True)


# --------------------------------------------------------------------------- renderers


class Renderer:
    """Writes a report as results arrive: :meth:`event` per result, :meth:`finish` once."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def event(self, result: EventResult) -> None:
        raise NotImplementedError

    def finish(self, report: Report) -> None:
        raise NotImplementedError


class TextRenderer(Renderer):
    """For a person: each invalid event with its errors, one line each; drift; summary."""

    #: skipped records shown one by one before the rest are only counted
    max_skipped_shown = 20

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self._skipped_shown = 0
        self._notes_shown = 0
        self._wrote = False

    def event(self, result: EventResult) -> None:
        if result.status == VALID:
            if not result.envelope:
                self._notes_shown += 1
                if self._notes_shown <= self.max_skipped_shown:
                    self.out.write(f"NOTE    {result.capture.label}  {result.event_type}: valid, no envelope (a body of only `data`)\n")
                    self._wrote = True
            return
        self._wrote = True
        head = f"{result.capture.label}"
        if result.event_type:
            head += f"  {result.event_type}"
        if result.event_id:
            head += f"  id={result.event_id}"
        if result.status == SKIPPED:
            self._skipped_shown += 1
            if self._skipped_shown <= self.max_skipped_shown:
                self.out.write(f"SKIPPED {head}: {result.message}\n")
            return
        if not result.errors:
            self.out.write(f"INVALID {head}: {result.message}\n")
            return
        note = "" if result.envelope else "  (no envelope)"
        self.out.write(f"INVALID {head}{note}\n")
        for problem in result.errors:
            self.out.write(f"  {problem}\n")

    def finish(self, report: Report) -> None:
        write = self.out.write
        if self._skipped_shown > self.max_skipped_shown:
            write(f"... {self._skipped_shown - self.max_skipped_shown} more skipped records not shown (see reasons below)\n")
        if self._notes_shown > self.max_skipped_shown:
            write(f"... {self._notes_shown - self.max_skipped_shown} more bodies with no envelope not shown\n")
        drift = report.drift
        fails = report.fail_on_drift
        if drift["has_drift"] or any(e["never_seen"] for e in drift["event_types"].values()):
            write(f"{chr(10) if self._wrote else ''}Drift ({'errors: --fail-on-drift' if fails else 'warnings'}):\n")
            for name, entry in drift["event_types"].items():
                lines = list(_drift_lines(entry))
                if lines:
                    write(f"  {name} ({entry['events']} event{'' if entry['events'] == 1 else 's'}):\n")
                    for line in lines:
                        write(f"    {line}\n")
            for unknown in drift["unknown_event_types"]:
                write(f"  unknown event type {unknown['event_type']!r}: {unknown['count']} event{'' if unknown['count'] == 1 else 's'} (no schema)\n")
            self._wrote = True
        reasons = {k: v for k, v in report.summary.reasons.items() if k != "schema"}
        write(("\n" if self._wrote else "") + report.summary.line() + "\n")
        if reasons:
            write("not valid events, by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) + "\n")


def _drift_lines(entry: dict[str, Any]) -> Iterator[str]:
    for item in entry["unknown_fields"]:
        types = ", ".join(item["types"])
        yield f"unknown field {item['path']} ({types}): {item['count']}x, e.g. {item['example']['path']} in {item['example']['source']}"
    if entry["unknown_fields_not_listed"]:
        yield f"... and {entry['unknown_fields_not_listed']} more occurrences of unknown fields not listed"
    for item in entry["undocumented_values"]:
        documented = ", ".join(_quote(v) for v in item["documented"] or [])
        yield f"undocumented value {item['path']} = {_quote(item['value'])}: {item['count']}x (documented: {documented}), e.g. {item['example']['source']}"
    for item in entry["varying_types"]:
        seen = ", ".join(f"{k} {v}x" for k, v in item["types"].items())
        schema = " or ".join(item["schema"]) if item["schema"] else "not in the schema"
        yield f"varying type {item['path']}: {seen} (schema: {schema})"
    if entry["never_seen"]:
        yield "never seen: " + ", ".join(entry["never_seen"])


class JsonRenderer(Renderer):
    """The stable JSON of :meth:`Report.to_dict`, streamed: one event per line."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self._count = 0
        out.write(f'{{"version": {REPORT_VERSION}, "events": [')

    def event(self, result: EventResult) -> None:
        if result.status == VALID:
            return
        self.out.write(("," if self._count else "") + "\n" + json.dumps(result.to_dict(), ensure_ascii=False))
        self._count += 1

    def finish(self, report: Report) -> None:
        rest = report.to_dict(events=False)
        del rest["version"]
        tail = json.dumps(rest, ensure_ascii=False)
        self.out.write(("\n" if self._count else "") + "], " + tail[1:] + "\n")


class JunitRenderer(Renderer):
    """JUnit XML: a test suite per input file, a test case per record, and one for drift.

    Invalid records are failures, skipped ones ``<skipped>``. Suites are spooled (to disk
    past a few MB) because their counts go in the opening tag.
    """

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self._body: IO[str] = tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+", encoding="utf-8")
        self._suite: IO[str] | None = None
        self._suite_name: str | None = None
        self._counts = [0, 0, 0]  # tests, failures, skipped: current suite
        self._totals = [0, 0, 0]

    def event(self, result: EventResult) -> None:
        file = result.capture.file
        if file != self._suite_name:
            self._close_suite()
            self._suite_name = file
            self._suite = tempfile.SpooledTemporaryFile(max_size=4 << 20, mode="w+", encoding="utf-8")
        assert self._suite is not None  # opened just above; not user input
        classname = result.event_type or UNRECOGNIZED
        name = result.capture.label + (f" id={result.event_id}" if result.event_id else "")
        self._counts[0] += 1
        write = self._suite.write
        write(f"    <testcase classname={_attr(classname)} name={_attr(name)}")
        if result.status == VALID:
            write("/>\n" if result.envelope else ">\n      <system-out>no envelope (a body of only `data`)</system-out>\n    </testcase>\n")
            return
        write(">\n")
        if result.status == SKIPPED:
            self._counts[2] += 1
            write(f"      <skipped message={_attr(result.message)}/>\n")
        else:
            self._counts[1] += 1
            body = "\n".join(str(p) for p in result.errors) or result.message
            write(f"      <failure type={_attr(result.reason)} message={_attr(result.message)}>{_text(body)}</failure>\n")
        write("    </testcase>\n")

    def _close_suite(self) -> None:
        if self._suite is None:
            return
        tests, failures, skipped = self._counts
        self._body.write(
            f'  <testsuite name={_attr(self._suite_name or "")} tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}">\n'
        )
        self._suite.seek(0)
        for chunk in iter(lambda: self._suite.read(1 << 16), ""):  # type: ignore[union-attr]
            self._body.write(chunk)
        self._body.write("  </testsuite>\n")
        self._suite.close()
        self._suite = None
        for i, n in enumerate(self._counts):
            self._totals[i] += n
        self._counts = [0, 0, 0]

    def finish(self, report: Report) -> None:
        self._close_suite()
        self._drift_suite(report)
        tests, failures, skipped = self._totals
        out = self.out
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(f'<testsuites name="zenoti-emulator validate" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}">\n')
        self._body.seek(0)
        for chunk in iter(lambda: self._body.read(1 << 16), ""):
            out.write(chunk)
        out.write("</testsuites>\n")
        self._body.close()

    def _drift_suite(self, report: Report) -> None:
        # Drift is a property of the whole input: one case per event type, failing only
        # when --fail-on-drift asks for it; the findings go in its output either way.
        drift = report.drift
        cases = []
        for name, entry in drift["event_types"].items():
            lines = list(_drift_lines(entry))
            findings = bool(entry["unknown_fields"] or entry["undocumented_values"] or entry["varying_types"])
            cases.append((name, lines, findings))
        if drift["unknown_event_types"]:
            lines = [f"unknown event type {u['event_type']!r}: {u['count']} events" for u in drift["unknown_event_types"]]
            cases.append((UNRECOGNIZED, lines, True))
        if not cases:
            return
        self._suite_name = "schema drift"
        self._suite = tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", encoding="utf-8")
        for name, lines, findings in cases:
            self._counts[0] += 1
            text = _text("\n".join(lines))
            self._suite.write(f"    <testcase classname=\"drift\" name={_attr(name)}>\n")
            if findings and report.fail_on_drift:
                self._counts[1] += 1
                self._suite.write(f"      <failure type=\"drift\" message={_attr(lines[0])}>{text}</failure>\n")
            if lines:
                self._suite.write(f"      <system-out>{text}</system-out>\n")
            self._suite.write("    </testcase>\n")
        self._close_suite()


def _xml_clean(text: str) -> str:
    # XML 1.0 cannot carry most control characters, even escaped; captures can.
    return "".join(c if c in "\t\n\r" or ord(c) >= 0x20 else f"\\x{ord(c):02x}" for c in text)


def _attr(text: str) -> str:
    return _xml_attr(_xml_clean(text), {"\n": "&#10;"})


def _text(text: str) -> str:
    return _xml_escape(_xml_clean(text))


#: Output formats by name, for the CLI's ``--format`` and :meth:`Report.render`.
RENDERERS: dict[str, type[Renderer]] = {"text": TextRenderer, "json": JsonRenderer, "junit": JunitRenderer}


def make_renderer(fmt: str, out: TextIO) -> Renderer:
    try:
        return RENDERERS[fmt](out)
    except KeyError:
        raise ValueError(f"Unknown report format {fmt!r}; choose one of {', '.join(RENDERERS)}.") from None
