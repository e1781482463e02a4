"""Captures as records: every format teams keep Zenoti's webhooks in, read as a stream.

Log files, JSON Lines dumps, folders of files, a JSON array, HAR files saved from a
proxy, stdin: each is read as :class:`Capture` records, lazily and in flat memory (a HAR
or an array is streamed value by value, never loaded whole), with progress reported in
bytes. A record that cannot be read says why in :attr:`Capture.problem` instead of
stopping the run.

Core code: no click, no flask, no printing.
"""

from __future__ import annotations

import base64
import codecs
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .. import bounds
from ..errors import CaptureUnreadable

#: Suffixes a directory walk reads. Files without a suffix are read too (saved bodies).
CAPTURE_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson", ".har", ".txt", ".log"})
#: Suffixes always read line by line, never as one document.
LINE_SUFFIXES = frozenset({".jsonl", ".ndjson"})
#: HTTP verbs Zenoti may deliver with (chosen per webhook in its setup).
WEBHOOK_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: The header Zenoti signs with (*reported*); its presence marks a HAR entry as a webhook.
SIGNATURE_HEADER = "zenoti-webhook-signature"
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
JSON_TYPE: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


# --------------------------------------------------------------------------- records


class Capture:
    """One record read from an input: where it came from, and its body.

    A body is raw (``bytes``/``str``, parsed when checked) or already parsed (``value``),
    as for an element of a JSON array. ``problem`` is set when the record could not be
    read at all (an unreadable file); such a record has no body.
    """

    __slots__ = ("body", "detail", "file", "index", "line", "problem", "value")

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
        return {
            "file": self.file,
            "line": self.line,
            "index": self.index,
            "detail": self.detail or None,
            "label": self.label,
        }


def _lines(
    stream: BinaryIO, file: str, progress: Callable[[int], None] | None, first_line: int = 1
) -> Iterator[Capture]:
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
    name = JSON_TYPE.get(type(value), type(value).__name__)
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
    headers = (
        {str(h.get("name", "")).lower() for h in listed if isinstance(h, dict)} if isinstance(listed, list) else set()
    )
    post_data = request.get("postData")
    post = post_data if isinstance(post_data, dict) else {}
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
            file,
            None,
            index,
            detail,
            problem=f"no_body:the HAR has no postData for this {'signed ' if signed else ''}request"
            f"{f' of {size} bytes' if isinstance(size, int) and size > 0 else ''}; export it with request bodies",
        )
    stripped = body.strip() if body else body
    if not stripped:
        return Capture(file, None, index, detail, body=body)
    names_type = b"event_type" in body if isinstance(body, bytes) else "event_type" in body
    if not signed and not names_type:
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
        yield Capture(
            file, problem=f"too_large:{bounds.too_large(_MAX_DOCUMENT).message} (a HAR file streams when named .har)"
        )
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

    def __init__(
        self, stream: BinaryIO, prefix: bytes, progress: Callable[[int], None] | None, limit: int = _MAX_VALUE
    ) -> None:
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


def _stream_values(
    stream: BinaryIO, file: str, progress: Callable[[int], None] | None, prefix: bytes
) -> Iterator[Capture]:
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
                yield Capture(
                    file, problem=f"unreadable:not a HAR file: log is {_kind(_next_value(cursor))}, not an object"
                )
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
