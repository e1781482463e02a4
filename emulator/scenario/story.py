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
entity it acts on (``start``, ``end`` and ``booked`` of its group or appointment, ``open``
of its center) plus or minus a duration. ``set`` changes fields of that step's events the
way ``--set`` does.

Everything a user can get wrong is found here, before the world runs, and said in one
line that names the file, the step and the field (:class:`ScenarioError`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from .. import overrides as overrides_module
from ..errors import NotFound, UsageError

#: The largest scenario file read, and the most steps one may have: a story, not a load test.
MAX_FILE_BYTES = 256 * 1024
MAX_STEPS = 200
#: The farthest a step's offset may reach, and how many days ahead a booking may be made.
MAX_OFFSET = timedelta(days=60)
MAX_LEAD_DAYS = 60
MAX_SERVICES = 8
#: A center named by its policy instead of its number: the first center of the world that has it.
CENTER_POLICIES = ("late-cancel-fee", "no-show-fee")

_NAME = r"[A-Za-z][A-Za-z0-9_-]{0,39}"
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ANCHORED = re.compile(r"(start|end|booked|open)\s*(?:([+-])\s*(\S+))?")

#: Every action a step may name: the parameters it takes (beyond ``do``, ``after``, ``at``,
#: ``set``) and the anchors its ``at`` may use.
ACTIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "create_guest": (frozenset({"as", "center"}), frozenset({"open"})),
    "update_guest": (frozenset({"guest"}), frozenset()),
    "book": (frozenset({"as", "guest", "center", "services", "add_ons", "lead_days", "soonest", "rebook"}),
             frozenset({"open"})),
    "confirm": (frozenset({"group"}), frozenset({"start", "end", "booked"})),
    "check_in": (frozenset({"group"}), frozenset({"start", "end", "booked"})),
    "cancel": (frozenset({"group"}), frozenset({"start", "end", "booked"})),
    "no_show": (frozenset({"group"}), frozenset({"start", "end", "booked"})),
    "start": (frozenset({"group", "appointment"}), frozenset({"start", "end", "booked"})),
    "complete": (frozenset({"group", "appointment"}), frozenset({"start", "end", "booked"})),
    "serve": (frozenset({"group"}), frozenset({"start", "end", "booked"})),
    "close_invoice": (frozenset({"group"}), frozenset({"start", "end", "booked"})),
    "refund": (frozenset({"group"}), frozenset({"start", "end", "booked"})),
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
    span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if span > MAX_OFFSET:
        raise ValueError(f"{text!r} is longer than {MAX_OFFSET.days} days")
    return span


class _Reader:
    """Checks one file's steps, naming the place of each mistake."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.guests: set[str] = set()
        self.groups: dict[str, int] = {}  # group name -> services it books

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
                raise self.fail(f"{where}: {key}", f"unknown parameter; {do} takes {', '.join(sorted(allowed | _COMMON))}")
        params = {key: value for key, value in raw.items() if key in allowed}
        self.check_params(where, do, params)
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
            raise self.fail(f"{where}: set", 'must be a table of PATH = VALUE, e.g. set = { "data.guest.email" = "a@b.c" }')
        out = []
        for path, value in table.items():
            try:
                out.append((overrides_module.parse_path(path), value))
            except UsageError as exc:
                raise self.fail(f"{where}: set", exc.message.rstrip(".")) from None
        return tuple(out)

    def check_params(self, where: str, do: str, params: dict[str, Any]) -> None:
        def integer(key: str, low: int, high: int) -> None:
            value = params.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high):
                raise self.fail(f"{where}: {key}", f"{value!r} must be a whole number from {low} to {high}"
                                + (f" (or one of {', '.join(CENTER_POLICIES)})" if key == "center" else ""))

        def name(key: str) -> str | None:
            value = params.get(key)
            if value is not None and (not isinstance(value, str) or not re.fullmatch(_NAME, value)):
                raise self.fail(f"{where}: {key}", f"{value!r} must be a name of letters, digits, - and _")
            return value

        if params.get("center") not in CENTER_POLICIES:
            integer("center", 1, 50)
        if do == "create_guest":
            self.guests.add(name("as") or "guest")
        elif do == "update_guest":
            self.known_guest(where, name("guest") or "guest", given="guest" in params)
        elif do == "book":
            integer("services", 1, MAX_SERVICES)
            integer("add_ons", 0, MAX_SERVICES)
            integer("lead_days", 0, MAX_LEAD_DAYS)
            if params.get("add_ons", 0) > params.get("services", 1):
                raise self.fail(f"{where}: add_ons", "at most one add-on per service")
            if "soonest" in params and not isinstance(params["soonest"], bool):
                raise self.fail(f"{where}: soonest", "must be true or false")
            guest = name("guest")
            if guest is not None:
                self.known_guest(where, guest, given=True)
            rebook = name("rebook")
            if rebook is not None and rebook not in self.groups:
                raise self.fail(f"{where}: rebook", f"no group {rebook!r} is booked above")
            self.groups[name("as") or "group"] = params.get("services", 1) + params.get("add_ons", 0)
        else:
            group = name("group") or "group"
            if group not in self.groups:
                raise self.fail(f"{where}: group", f"no group {group!r} is booked above (a book step names it with as)")
            if do in ("start", "complete"):
                integer("appointment", 1, 2 * MAX_SERVICES)
                if params.get("appointment", 1) > self.groups[group]:
                    raise self.fail(f"{where}: appointment", f"group {group!r} has {self.groups[group]} appointment(s)")

    def known_guest(self, where: str, guest: str, *, given: bool) -> None:
        if given and guest not in self.guests:
            raise self.fail(f"{where}: guest", f"no guest {guest!r} is created above (a create_guest step names it with as)")


def parse(text: str, *, name: str, source: str) -> Scenario:
    """A scenario from TOML ``text``; ``source`` names it in errors (a path, or ``built-in NAME``)."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise ScenarioError(f"{source}: the file is larger than {MAX_FILE_BYTES // 1024} KiB; a scenario is a short story.")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}.") from None
    return _Reader(source).scenario(name, data)


def _builtin_dir() -> Any:
    return resources.files(__package__).joinpath("builtin")


def builtin_names() -> list[str]:
    """The scenarios shipped in the package, by name."""
    return sorted(entry.name.removesuffix(".toml") for entry in _builtin_dir().iterdir() if entry.name.endswith(".toml"))


def load(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or the scenario file at a path (anything with a ``/``
    or ending in ``.toml``)."""
    if "/" in name_or_path or "\\" in name_or_path or name_or_path.endswith(".toml"):
        path = Path(name_or_path)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ScenarioError(f"{path}: the file is larger than {MAX_FILE_BYTES // 1024} KiB; a scenario is a short story.")
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError(f"{path}: no such scenario file.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"{path}: cannot read it: {exc}.") from None
        return parse(text, name=path.stem, source=str(path))
    if name_or_path not in builtin_names():
        raise NotFound(f"No scenario {name_or_path!r}: built-in ones are {', '.join(builtin_names())}; "
                       "or give the path of a .toml file.")
    text = _builtin_dir().joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
    return parse(text, name=name_or_path, source=f"built-in {name_or_path}")
