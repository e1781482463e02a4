"""Untrusted numbers, ids, times, override paths and JSON, parsed and bounded in one place.

Everything a user types or a client posts passes through here before the core uses it,
so a value the core cannot represent is refused as a :class:`~emulator.errors.UsageError`
(exit 2, HTTP 400) with a sentence that says what is accepted, instead of surfacing later
as an ``OverflowError``, a ``RecursionError`` or a wrong event. The CLI's click types and
the API's views call the same functions, so the two accept exactly the same inputs.

The limits, and why each is what it is:

- **ids** are SQLite integers: ``0 .. 2**63 - 1`` (:data:`MAX_ID`); a larger one cannot
  name a row and makes ``sqlite3`` raise ``OverflowError``.
- **times** lie between 1970-01-01 and 2106-02-07T06:28:15Z (:data:`MIN_TIME`,
  :data:`MAX_TIME`): an event's ``id`` and ``event_id`` are ObjectIds whose first four
  bytes are its Unix second, unsigned.
- **digits** are ASCII ``0-9``: ``str.isdigit()`` accepts ``"²"``, which ``int()`` refuses.
- **JSON** nests at most :data:`MAX_JSON_DEPTH` levels: Zenoti's events nest five, and
  Python's parser and validators recurse once per level.
- **seconds** (timeouts) are finite and at most :data:`MAX_TIMEOUT`: ``inf`` would leave
  an attempt open for ever.
- **time scales** lie within :data:`MIN_TIME_SCALE` .. :data:`MAX_TIME_SCALE`: the longest
  wait (10 min) divided by the scale must be a time a clock, a condition variable and the
  log can hold (``1e-320`` made it infinite), and the shortest must not be below what a
  clock can tell apart.
- **events** are at most :data:`MAX_EVENT_BYTES`: Zenoti's bodies are a few kilobytes (its
  largest, an invoice with many items, is tens of kilobytes); a larger input is not an
  event, and reading it whole (``/dev/zero``, a 300 MB line) would exhaust memory. Inputs
  are read as streams and a longer record is refused with one line (:func:`read_record`).
- **numbers the log keeps** (due times) are finite: :func:`check_finite`.

This module is pure: no click, flask, sqlite3 or requests.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from .errors import UsageError

#: The largest id a row can have (SQLite's INTEGER is a signed 64-bit number).
MAX_ID = 2**63 - 1
#: The ObjectId time prefix is an unsigned 32-bit Unix second: these are its ends.
MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = datetime.fromtimestamp(2**32 - 1, UTC)
#: Levels of nesting a JSON input may have (an event has five; a HAR entry seven).
MAX_JSON_DEPTH = 64
#: The longest a single attempt may wait for its receiver, in seconds (Zenoti: 10).
MAX_TIMEOUT = 600.0
#: The most days one simulation may cover (ten years; the clock must also end by MAX_TIME).
MAX_DAYS = 3660
#: The slowest rate of requests: one an hour.
MIN_RATE = 1 / 3600
#: ``--time-scale`` bounds: 0.001 turns Zenoti's 10 min backoff into about a week; 1e6
#: turns it into 0.6 ms. Outside them the waits stop being times (overflow, infinity).
MIN_TIME_SCALE = 1e-3
MAX_TIME_SCALE = 1e6
#: The largest event body read, sent or kept (1 MiB): Zenoti's are a few KiB.
MAX_EVENT_BYTES = 1024 * 1024
#: Digits an integer may be written with (more than any bounded value needs).
_MAX_DIGITS = 40
_INTEGER = re.compile(r"[+-]?[0-9]+")
_LEAP_SECOND = re.compile(r"([Tt ][0-9]{2}:[0-9]{2}):60")


class TooDeep(UsageError, ValueError):
    """JSON nested deeper than :data:`MAX_JSON_DEPTH`.

    Also a :class:`ValueError`, so that code reporting unparsable captures ("not JSON")
    reports this one the same way.
    """


def is_index(text: str) -> bool:
    """Whether ``text`` is a list index: ASCII digits only (``"²"`` is not one)."""
    return 0 < len(text) <= 9 and text.isascii() and text.isdigit()


def parse_int(text: str, *, what: str, low: int | None = None, high: int | None = None) -> int:
    """An integer written in ASCII digits (with an optional sign), within ``low..high``.

    :param what: names the value in the message (``"--limit"``, ``"Query parameter 'limit'"``).
    :raise UsageError: for anything else, saying what is accepted.
    """
    text = text.strip()
    if len(text) > _MAX_DIGITS or not _INTEGER.fullmatch(text):
        raise UsageError(f"{what} must be a whole number{_range(low, high)}, not {_show(text)}.")
    return check_int(int(text), what=what, low=low, high=high)


def check_int(value: int, *, what: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` if it lies within ``low..high``; :raise UsageError: otherwise."""
    if (low is not None and value < low) or (high is not None and value > high):
        raise UsageError(f"{what} must be{_range(low, high)}, not {_show(str(value))}.")
    return value


def parse_id(text: str, *, what: str = "id") -> int:
    """A row id: ASCII digits, ``0 .. MAX_ID``.

    :raise UsageError: for a sign, a letter, a non-ASCII digit or a number no row can have.
    """
    return parse_int(text, what=what, low=0, high=MAX_ID)


def looks_like_id(text: str) -> bool:
    """Whether ``text`` is meant as an id rather than a URL or a name (ASCII digits only)."""
    text = text.strip()
    return bool(text) and text.isascii() and text.isdigit()


def parse_seconds(value: str | float, *, what: str, high: float = MAX_TIMEOUT) -> float:
    """A positive, finite number of seconds, at most ``high``.

    :raise UsageError: for ``0``, a negative number, ``inf``, ``nan`` or above ``high``.
    """
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a number of seconds, not {_show(str(value))}.") from None
    if not (math.isfinite(seconds) and 0 < seconds <= high):
        raise UsageError(f"{what} must be more than 0 and at most {high:g} seconds, not {_show(str(value))}.")
    return seconds


def check_days(days: float) -> timedelta:
    """``--days`` as a span: more than 0 (NaN is not) and at most :data:`MAX_DAYS`."""
    if not 0 < days <= MAX_DAYS:
        raise UsageError(f"--days must be more than 0 and at most {MAX_DAYS}, not {days:g}.")
    return timedelta(days=days)


def check_time_scale(value: float, *, what: str = "--time-scale") -> float:
    """A time scale within :data:`MIN_TIME_SCALE` .. :data:`MAX_TIME_SCALE` (NaN is not).

    :raise UsageError: otherwise, saying what is accepted.
    """
    if not (isinstance(value, (int, float)) and MIN_TIME_SCALE <= value <= MAX_TIME_SCALE):
        raise UsageError(f"{what} must be from {MIN_TIME_SCALE:g} to {MAX_TIME_SCALE:g}, not {_show(str(value))}.")
    return float(value)


def parse_time_scale(text: str, *, what: str = "--time-scale") -> float:
    """``--time-scale`` as typed: an ASCII number within the bounds of :func:`check_time_scale`."""
    raw = str(text).strip()
    if not raw.isascii():
        raise UsageError(f"{what} must be a number written in ASCII digits, not {_show(raw)}.")
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{what} must be a number, e.g. 600, not {_show(raw)}.") from None
    return check_time_scale(value, what=what)


def check_finite(value: float, *, what: str) -> float:
    """``value`` if it is a finite number; :raise ValueError: otherwise (a bug, not input)."""
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    return value


def parse_rate(text: str) -> float:
    """Requests per second, ``50`` or ``50/s``: finite, from :data:`MIN_RATE` (one an hour).

    A smaller rate would make the wait between two requests longer than a clock can hold.

    :raise UsageError: for anything else.
    """
    raw = str(text).strip().lower().removesuffix("/s")
    if not raw.isascii():  # float() reads Arabic-Indic and other digits: "٣" is 3
        raise UsageError(
            f"{_show(str(text))} is not a rate; write requests per second in ASCII digits, e.g. 50 or 50/s."
        )
    try:
        rate = float(raw)
    except ValueError:
        raise UsageError(f"{_show(str(text))} is not a rate; write requests per second, e.g. 50 or 50/s.") from None
    if not (math.isfinite(rate) and rate >= MIN_RATE):
        raise UsageError(
            f"A rate must be at least {MIN_RATE:.6f} requests per second (one an hour) and finite, not {_show(str(text))}."
        )
    return rate


def parse_time(text: str, *, what: str = "Time") -> datetime:
    """An ISO 8601 time (``2024-07-25T14:52:06Z``) as an aware UTC datetime.

    A time with no zone is UTC. The result lies between :data:`MIN_TIME` and
    :data:`MAX_TIME`, the times an ObjectId can carry.

    :raise UsageError: for a malformed time or one outside that range.
    """
    return check_time(parse_instant(text), what=what, shown=str(text).strip())


def parse_instant(text: str) -> datetime:
    """An ISO 8601 / RFC 3339 time as an aware UTC datetime, with no range check.

    A time with no zone is UTC; a leap second (``23:59:60``) is read as ``23:59:59``;
    a time whose UTC equivalent is past year 9999 is ``datetime.max``.

    :raise UsageError: for a malformed time.
    """
    text = str(text).strip()
    try:
        moment = datetime.fromisoformat(_LEAP_SECOND.sub(r"\1:59", text.replace("z", "Z")))
    except ValueError:
        raise UsageError(f"Malformed time {_show(text)}: use ISO 8601, e.g. 2024-07-25T14:52:06Z.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past datetime.max in UTC
        return datetime.max.replace(tzinfo=UTC)


def check_time(moment: datetime, *, what: str = "Time", shown: str | None = None) -> datetime:
    """``moment`` (aware) if an ObjectId can carry it; :raise UsageError: otherwise."""
    if not MIN_TIME <= moment <= MAX_TIME:
        raise UsageError(
            f"{what} {_show(shown or moment.isoformat())} is outside what a Zenoti id can carry (its time "
            f"is a 32-bit Unix second): use a time from {_iso(MIN_TIME)} to {_iso(MAX_TIME)}."
        )
    return moment


def json_number(text: str) -> int | float:
    """A JSON number literal with a fraction or exponent, as Python should see it.

    JSON has one number type and JSON Schema calls ``2.0`` an integer, so an integral
    value is an ``int`` here (``2.0`` -> ``2``, ``1e3`` -> ``1000``) and every caller can
    use it where an ``int`` is meant. Pass as ``json.loads(..., parse_float=json_number)``.
    """
    value = float(text)
    return int(value) if value.is_integer() else value


def loads_json(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, integral: bool = False) -> Any:
    """``json.loads`` that refuses input nested deeper than ``max_depth``.

    :param integral: read integral numbers as ``int`` (see :func:`json_number`).
    :raise TooDeep: too deeply nested (before Python's recursion limit is met).
    :raise ValueError: (``json.JSONDecodeError``) not JSON.
    """
    try:
        value = json.loads(text, parse_float=json_number) if integral else json.loads(text)
    except RecursionError:
        raise _too_deep(max_depth) from None
    # Nesting needs as many brackets as levels: most texts have too few to be too deep,
    # and counting them (in C) is far cheaper than walking what was parsed.
    if count_openers(text) > max_depth:
        check_depth(value, max_depth=max_depth)
    return value


def count_openers(text: str | bytes, start: int = 0, end: int | None = None) -> int:
    """How many ``[`` and ``{`` ``text[start:end]`` holds: a bound on its JSON nesting."""
    end = len(text) if end is None else end
    if isinstance(text, str):
        return text.count("[", start, end) + text.count("{", start, end)
    return text.count(b"[", start, end) + text.count(b"{", start, end)


def check_depth(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``value`` if its containers nest at most ``max_depth`` levels; :raise TooDeep: otherwise.

    Iterative, so it cannot itself run out of stack.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise _too_deep(max_depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return value


@contextmanager
def nesting_guard(max_depth: int = MAX_JSON_DEPTH, *, what: str = "JSON") -> Iterator[None]:
    """Turn a ``RecursionError`` of a recursive parser or checker into :class:`TooDeep`.

    The one place nesting past Python's stack is caught, whatever recursed (``json``,
    ``tomllib``, a validator): the message is :data:`MAX_JSON_DEPTH`'s.
    """
    try:
        yield
    except RecursionError:
        raise _too_deep(max_depth, what) from None


class TooLarge(UsageError, ValueError):
    """A record (an event body, a line) longer than :data:`MAX_EVENT_BYTES`."""


def too_large(limit: int = MAX_EVENT_BYTES, *, where: str = "") -> TooLarge:
    """The error for a record past ``limit`` bytes (``where`` names it: a file, a line)."""
    at = f"{where}: " if where else ""
    return TooLarge(
        f"{at}larger than {limit // 1024} KiB, which no Zenoti event comes near (they are a few KiB); "
        "is this the right file?"
    )


def read_record(stream: BinaryIO, *, limit: int = MAX_EVENT_BYTES, line: bool = False, where: str = "") -> bytes:
    """One record of a stream, read in bounded memory: a line (``line=True``) or the rest.

    At most ``limit + 1`` bytes are held: a longer record raises :class:`TooLarge`, and
    the rest of that input is not read (an endless one, ``/dev/zero``, has no next line).
    """
    data = stream.readline(limit + 1) if line else stream.read(limit + 1)
    if len(data) > limit and not (line and data.endswith(b"\n") and len(data) == limit + 1):
        raise too_large(limit, where=where)
    return data


def _too_deep(max_depth: int, what: str = "JSON") -> TooDeep:
    return TooDeep(f"{what} nested more than {max_depth} levels deep (an event has about five); flatten it.")


def _range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    if high is not None:
        return f" of at most {high}"
    return ""


def _show(text: str) -> str:
    """A value quoted for a message, cut short: a user's input may be a megabyte."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "MAX_DAYS",
    "MAX_EVENT_BYTES",
    "MAX_ID",
    "MAX_JSON_DEPTH",
    "MAX_TIME",
    "MAX_TIMEOUT",
    "MAX_TIME_SCALE",
    "MIN_RATE",
    "MIN_TIME",
    "MIN_TIME_SCALE",
    "TooDeep",
    "TooLarge",
    "check_days",
    "check_depth",
    "check_finite",
    "check_int",
    "check_time",
    "check_time_scale",
    "count_openers",
    "is_index",
    "json_number",
    "loads_json",
    "looks_like_id",
    "nesting_guard",
    "parse_id",
    "parse_instant",
    "parse_int",
    "parse_rate",
    "parse_seconds",
    "parse_time",
    "parse_time_scale",
    "read_record",
]


# -- load (``zenoti-emulator load``) ------------------------------------------------------

#: Users of one load process: the worker and user indexes each take 16 bits of every
#: ObjectId's machine bytes, which is what keeps two users' ids apart.
MAX_LOAD_USERS = 65_536
#: A load runs at most a week: longer is a typo (``--run-time 100000``), not a test.
MAX_RUN_TIME = 7 * 86_400.0
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def parse_duration(text: str, *, what: str = "A duration") -> float:
    """Seconds from ``90``, ``90s``, ``2m``, ``1h30m`` (Locust's spelling), more than 0 and
    at most :data:`MAX_RUN_TIME`.

    :raise UsageError: for anything else.
    """
    match = _DURATION.match(str(text))
    if not match or not any(match.groups()):
        raise UsageError(f"{what} must be seconds or a span like 30s, 2m or 1h30m, not {_show(str(text))}.")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if not 0 < total <= MAX_RUN_TIME:
        raise UsageError(
            f"{what} must be more than 0 and at most {MAX_RUN_TIME / 86_400:g} days, not {_show(str(text))}."
        )
    return total
