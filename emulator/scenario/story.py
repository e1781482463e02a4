"""A scenario file: a short story on the world, read and checked before anything runs.

A scenario is TOML (read by the standard library's :mod:`tomllib`)::

    description = "A new guest books, comes and pays."

    [[step]]
    do = "create_guest"

    [[step]]
    do = "book"
    after = "6m"
    services = 2
    add_ons = 1

    [[step]]
    do = "check_in"
    at = "start-5m"
    set = { "data.guest.first_name" = "Ada" }

Each ``[[step]]`` names an action of the world (:data:`ACTIONS`), its parameters, and
when it happens: ``after`` the step above (default one minute), or ``at`` an anchor of the
entity it acts on (``start``, ``end`` and ``booked`` of its group or appointment, ``start``
and ``end`` of its class, ``open`` of its center) plus or minus a duration. ``set`` changes fields of that step's events the
way ``--set`` does.

Everything a user can get wrong is found here, before the world runs, and said in one
line that names the file, the step and the field (:class:`ScenarioError`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Container
from dataclasses import dataclass, field, replace
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from .. import bounds
from ..errors import NotFound, UsageError
from ..events import overrides as overrides_module

#: The largest scenario file read, and the most steps one may have: a story, not a load test.
MAX_FILE_BYTES = 256 * 1024
MAX_STEPS = 200
#: The farthest a step's offset may reach, and how many days ahead a booking may be made.
MAX_OFFSET = timedelta(days=60)
MAX_LEAD_DAYS = 60
MAX_SERVICES = 8
#: The most seats a scenario's class may have, seats an edit may add, and days a membership
#: freeze or a package extension may last.
MAX_CAPACITY = 200
MAX_ADD_SEATS = 50
MAX_DAYS = 365
#: A center named by its policy instead of its number: the first center of the world that has it.
CENTER_POLICIES = ("late-cancel-fee", "no-show-fee")

_NAME = r"[A-Za-z][A-Za-z0-9_-]{0,39}"
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ANCHORED = re.compile(r"(start|end|booked|open)\s*(?:([+-])\s*(\S+))?")

_GROUP = frozenset({"start", "end", "booked"})
_CLASS = frozenset({"start", "end"})
_OPEN = frozenset({"open"})

#: Every action a step may name: the parameters it takes (beyond ``do``, ``after``, ``at``,
#: ``set``) and the anchors its ``at`` may use (of its group, its class's session, or the
#: center it happens at).
ACTIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "create_guest": (frozenset({"as", "center"}), _OPEN),
    "update_guest": (frozenset({"guest"}), frozenset()),
    "book": (
        frozenset({"as", "guest", "center", "services", "add_ons", "lead_days", "soonest", "rebook", "package"}),
        _OPEN,
    ),
    "confirm": (frozenset({"group"}), _GROUP),
    "check_in": (frozenset({"group"}), _GROUP),
    "cancel": (frozenset({"group"}), _GROUP),
    "no_show": (frozenset({"group"}), _GROUP),
    "start": (frozenset({"group", "appointment"}), _GROUP),
    "complete": (frozenset({"group", "appointment"}), _GROUP),
    "serve": (frozenset({"group"}), _GROUP),
    "close_invoice": (frozenset({"group"}), _GROUP),
    "refund": (frozenset({"group"}), _GROUP),
    "feedback": (frozenset({"group", "score"}), _GROUP),
    # classes: a session of a center's timetable, and guests' bookings of it
    "schedule_class": (frozenset({"as", "center", "lead_days", "capacity"}), _OPEN),
    "update_class": (frozenset({"class", "add_seats"}), _CLASS),
    "cancel_class": (frozenset({"class"}), _CLASS),
    "delete_class": (frozenset({"class"}), _CLASS),
    "book_class": (frozenset({"as", "guest", "class"}), _CLASS),
    "cancel_class_booking": (frozenset({"booking"}), _CLASS),
    "delete_class_booking": (frozenset({"booking"}), _CLASS),
    "close_waitlist": (frozenset({"class"}), _CLASS),
    "take_attendance": (frozenset({"class", "no_shows"}), _CLASS),
    # memberships
    "create_membership": (frozenset({"as", "guest", "center", "recurring"}), _OPEN),
    "freeze_membership": (frozenset({"membership", "days"}), frozenset()),
    "unfreeze_membership": (frozenset({"membership"}), frozenset()),
    "cancel_membership": (frozenset({"membership"}), frozenset()),
    "reinstate_membership": (frozenset({"membership"}), frozenset()),
    # packages
    "create_package": (frozenset({"as", "guest", "center"}), _OPEN),
    "redeem_package": (frozenset({"package", "group"}), _GROUP),
    "reverse_redemption": (frozenset({"package", "group"}), _GROUP),
    "extend_package": (frozenset({"package", "days"}), frozenset()),
    "close_package": (frozenset({"package"}), frozenset()),
}
_COMMON = frozenset({"do", "after", "at", "set", "note"})


class ScenarioError(UsageError):
    """A mistake in a scenario: one line naming the file, the step and the field."""


@dataclass(frozen=True, slots=True)
class When:
    """When a step happens: ``offset`` after the step above, or after ``anchor`` of its entity."""

    offset: timedelta
    anchor: str | None = None

    def __str__(self) -> str:
        sign = "-" if self.offset < timedelta(0) else "+"
        text = _duration_text(abs(self.offset))
        return f"{self.anchor}{sign}{text}" if self.anchor else f"after {text}"


@dataclass(frozen=True, slots=True)
class Step:
    """One action of the story, checked: its parameters have the right types and ranges."""

    number: int
    do: str
    when: When
    params: dict[str, Any]
    overrides: tuple[overrides_module.Override, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named story: its steps in the order they happen."""

    name: str
    description: str
    steps: tuple[Step, ...]
    source: str = field(default="")
    #: names the random streams its steps draw from: the built-in's name for a copy of
    #: a built-in file under another name (so it draws the same), else :attr:`name`
    stream: str = field(default="")

    @property
    def stream_name(self) -> str:
        return self.stream or self.name


def _duration_text(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    parts = [(seconds // 86400, "d"), (seconds // 3600 % 24, "h"), (seconds // 60 % 60, "m"), (seconds % 60, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def parse_duration(text: str) -> timedelta:
    """``90s``, ``5m``, ``1h30m``, ``2d``: a span of time; ValueError otherwise."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration: write e.g. 90s, 5m, 1h30m or 2d")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    try:
        span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:  # "99999999999999999999d": past what a timedelta holds, so past the bound too
        span = timedelta.max
    if span > MAX_OFFSET:
        raise ValueError(f"{text!r} is longer than {MAX_OFFSET.days} days")
    return span


#: What each kind of name is made by, for the error that a step names one nobody made.
_MADE_BY = {
    "guest": "is created above (a create_guest step names it with as)",
    "group": "is booked above (a book step names it with as)",
    "class": "is scheduled above (a schedule_class step names it with as)",
    "booking": "is made above (a book_class step names it with as)",
    "membership": "is created above (a create_membership step names it with as)",
    "package": "is sold above (a create_package step names it with as)",
}


class _Reader:
    """Checks one file's steps, naming the place of each mistake."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.guests: set[str] = set()
        self.groups: dict[str, int] = {}  # group name -> services it books
        self.classes: set[str] = set()
        self.bookings: dict[str, str] = {}  # booking name -> the class it is of
        self.memberships: set[str] = set()
        self.packages: set[str] = set()

    def fail(self, where: str, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {where}: {problem}.")

    def scenario(self, name: str, data: dict[str, Any]) -> Scenario:
        unknown = sorted(set(data) - {"description", "step"})
        if unknown:
            raise self.fail(f"top level: {unknown[0]}", "unknown key; a scenario has description and [[step]] tables")
        description = data.get("description", "")
        if not isinstance(description, str):
            raise self.fail("top level: description", "must be a string")
        raw_steps = data.get("step")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise self.fail("top level: step", "a scenario needs at least one [[step]] table")
        if len(raw_steps) > MAX_STEPS:
            raise self.fail("top level: step", f"{len(raw_steps)} steps; at most {MAX_STEPS}")
        steps = tuple(self.step(n, raw) for n, raw in enumerate(raw_steps, 1))
        return Scenario(name, description, steps, self.source)

    def step(self, number: int, raw: Any) -> Step:
        if not isinstance(raw, dict):
            raise self.fail(f"step {number}", "must be a table ([[step]])")
        do = raw.get("do")
        if not isinstance(do, str) or do not in ACTIONS:
            raise self.fail(f"step {number}: do", f"{do!r} is not an action; use one of {', '.join(ACTIONS)}")
        where = f"step {number} ({do})"
        allowed, anchors = ACTIONS[do]
        for key in raw:
            if key not in allowed and key not in _COMMON:
                raise self.fail(
                    f"{where}: {key}", f"unknown parameter; {do} takes {', '.join(sorted(allowed | _COMMON))}"
                )
        params = {key: value for key, value in raw.items() if key in allowed}
        _Params(self, where, params).check(do)
        when = self.when(where, raw, anchors)
        overrides = self.overrides(where, raw.get("set", {}))
        note = raw.get("note", "")
        if not isinstance(note, str):
            raise self.fail(f"{where}: note", "must be a string")
        return Step(number, do, when, params, overrides, note)

    def when(self, where: str, raw: dict[str, Any], anchors: frozenset[str]) -> When:
        if "after" in raw and "at" in raw:
            raise self.fail(f"{where}: at", "give after or at, not both")
        if "at" in raw:
            text = raw["at"]
            match = _ANCHORED.fullmatch(text.strip()) if isinstance(text, str) else None
            if match is None:
                raise self.fail(f"{where}: at", f"{text!r} is not ANCHOR[+-DURATION], e.g. start-10m")
            anchor, sign, span = match.groups()
            if anchor not in anchors:
                allowed = ", ".join(sorted(anchors)) or "none (use after)"
                raise self.fail(f"{where}: at", f"{anchor} is no anchor of this action; it has {allowed}")
            offset = self.duration(f"{where}: at", span) if span else timedelta(0)
            return When(-offset if sign == "-" else offset, anchor)
        text = raw.get("after", "1m")
        return When(self.duration(f"{where}: after", text))

    def duration(self, where: str, text: Any) -> timedelta:
        if not isinstance(text, str):
            raise self.fail(where, f"{text!r} is not a duration: write e.g. 90s, 5m, 1h30m or 2d")
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise self.fail(where, str(exc)) from None

    def overrides(self, where: str, table: Any) -> tuple[overrides_module.Override, ...]:
        if not isinstance(table, dict):
            raise self.fail(
                f"{where}: set", 'must be a table of PATH = VALUE, e.g. set = { "data.guest.email" = "a@b.c" }'
            )
        out = []
        for path, value in table.items():
            try:
                out.append((overrides_module.parse_path(path), value))
            except UsageError as exc:
                raise self.fail(f"{where}: set", exc.message.rstrip(".")) from None
        return tuple(out)


class _Params:
    """One step's parameters, checked against the story so far: types, ranges, and that
    every name it uses was made by a step above (and what it names with ``as`` is recorded)."""

    def __init__(self, reader: _Reader, where: str, params: dict[str, Any]) -> None:
        self.reader = reader
        self.where = where
        self.params = params

    def fail(self, key: str, problem: str) -> ScenarioError:
        return self.reader.fail(f"{self.where}: {key}", problem)

    # -- types -----------------------------------------------------------------------------

    def integer(self, key: str, low: int, high: int) -> int | None:
        value = self.params.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high):
            raise self.fail(
                key,
                f"{value!r} must be a whole number from {low} to {high}"
                + (f" (or one of {', '.join(CENTER_POLICIES)})" if key == "center" else ""),
            )
        return value

    def name(self, key: str) -> str | None:
        value = self.params.get(key)
        if value is not None and (not isinstance(value, str) or not re.fullmatch(_NAME, value)):
            raise self.fail(key, f"{value!r} must be a name of letters, digits, - and _")
        return value

    def boolean(self, key: str) -> None:
        if key in self.params and not isinstance(self.params[key], bool):
            raise self.fail(key, "must be true or false")

    def known(self, key: str, names: Container[str]) -> str:
        """The name ``key`` gives (by default the key itself: ``group = "group"``), which a
        step above must have made."""
        found = self.name(key) or key
        if found not in names:
            raise self.fail(key, f"no {key} {found!r} {_MADE_BY[key]}")
        return found

    def made(self, kind: str) -> str:
        """The name this step gives the ``kind`` it makes: ``as``, or the kind itself."""
        return self.name("as") or kind

    # -- each action -----------------------------------------------------------------------

    def check(self, do: str) -> None:
        if self.params.get("center") not in CENTER_POLICIES:
            self.integer("center", 1, 50)
        reader, takes = self.reader, ACTIONS[do][0]
        if "guest" in self.params:  # left out: the guest named guest, or a returning guest of the world
            self.known("guest", reader.guests)
        # What the step acts on: named (or the default name) and made by a step above.
        for key, names in (
            ("group", reader.groups),
            ("class", reader.classes),
            ("membership", reader.memberships),
            ("package", reader.packages),
            ("booking", reader.bookings),
        ):
            if key in takes and (key in self.params or do != "book"):
                self.known(key, names)
        getattr(self, f"_{do}", lambda: None)()

    def _create_guest(self) -> None:
        self.reader.guests.add(self.made("guest"))

    def _book(self) -> None:
        self.integer("services", 1, MAX_SERVICES)
        self.integer("add_ons", 0, MAX_SERVICES)
        self.integer("lead_days", 0, MAX_LEAD_DAYS)
        if self.params.get("add_ons", 0) > self.params.get("services", 1):
            raise self.fail("add_ons", "at most one add-on per service")
        self.boolean("soonest")
        rebook = self.name("rebook")
        if rebook is not None and rebook not in self.reader.groups:
            raise self.fail("rebook", f"no group {rebook!r} is booked above")
        if "package" in self.params and self.params.get("add_ons"):
            raise self.fail("add_ons", "a package's visit books the services it covers, without add-ons")
        self.reader.groups[self.made("group")] = self.params.get("services", 1) + self.params.get("add_ons", 0)

    def _start(self) -> None:
        group = self.name("group") or "group"
        self.integer("appointment", 1, 2 * MAX_SERVICES)
        if self.params.get("appointment", 1) > self.reader.groups[group]:
            raise self.fail("appointment", f"group {group!r} has {self.reader.groups[group]} appointment(s)")

    _complete = _start

    def _feedback(self) -> None:
        self.integer("score", 1, 5)

    def _schedule_class(self) -> None:
        self.integer("lead_days", 0, MAX_LEAD_DAYS)
        self.integer("capacity", 1, MAX_CAPACITY)
        self.reader.classes.add(self.made("class"))

    def _update_class(self) -> None:
        self.integer("add_seats", 1, MAX_ADD_SEATS)

    def _book_class(self) -> None:
        self.reader.bookings[self.made("booking")] = self.name("class") or "class"

    def _take_attendance(self) -> None:
        names = self.params.get("no_shows", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and re.fullmatch(_NAME, n) for n in names):
            raise self.fail("no_shows", 'must be a list of booking names, e.g. ["ann"]')
        session = self.name("class") or "class"
        for booking in names:
            if self.reader.bookings.get(booking) != session:
                raise self.fail("no_shows", f"{booking!r} is no booking of class {session!r} made above")

    def _create_membership(self) -> None:
        self.boolean("recurring")
        self.reader.memberships.add(self.made("membership"))

    def _days(self) -> None:
        self.integer("days", 1, MAX_DAYS)

    _freeze_membership = _extend_package = _days

    def _create_package(self) -> None:
        self.reader.packages.add(self.made("package"))


def parse(text: str, *, name: str, source: str) -> Scenario:
    """A scenario from TOML ``text``; ``source`` names it in errors (a path, or ``built-in NAME``)."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise ScenarioError(
            f"{source}: the file is larger than {MAX_FILE_BYTES // 1024} KiB; a scenario is a short story."
        )
    try:
        with bounds.nesting_guard(what="TOML"):
            data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}.") from None
    except bounds.TooDeep as exc:
        raise ScenarioError(f"{source}: {exc.message}") from None
    return _Reader(source).scenario(name, data)


def _builtin_dir() -> Any:
    return resources.files(__package__).joinpath("builtin")


def builtin_names() -> list[str]:
    """The scenarios shipped in the package, by name."""
    return sorted(
        entry.name.removesuffix(".toml") for entry in _builtin_dir().iterdir() if entry.name.endswith(".toml")
    )


def _builtin_with_text(text: str) -> str | None:
    """The built-in scenario whose file holds exactly ``text`` (line endings aside), if one does."""
    wanted = text.replace("\r\n", "\n")
    for name in builtin_names():
        if _builtin_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8").replace("\r\n", "\n") == wanted:
            return name
    return None


def load(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or the scenario file at a path (anything with a ``/``
    or ending in ``.toml``)."""
    if "/" in name_or_path or "\\" in name_or_path or name_or_path.endswith(".toml"):
        path = Path(name_or_path)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ScenarioError(
                    f"{path}: the file is larger than {MAX_FILE_BYTES // 1024} KiB; a scenario is a short story."
                )
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError(f"{path}: no such scenario file.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"{path}: cannot read it: {exc}.") from None
        # A copy of a built-in file is that scenario: its streams are named by what it
        # says, so it draws what the built-in draws. An edited copy is another story.
        scenario = parse(text, name=path.stem, source=str(path))
        return replace(scenario, stream=_builtin_with_text(text) or scenario.name)
    if name_or_path not in builtin_names():
        raise NotFound(
            f"No scenario {name_or_path!r}: built-in ones are {', '.join(builtin_names())}; "
            "or give the path of a .toml file."
        )
    text = _builtin_dir().joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
    return parse(text, name=name_or_path, source=f"built-in {name_or_path}")
