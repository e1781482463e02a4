"""Playing a scenario: each step is an action of the seed's world, at its own time.

The world is the one ``simulate`` runs for the same seed (its centers, staff, menus and
guests), with an empty calendar and no background business: the story is all that
happens. Each step calls the same action functions the simulation calls
(:mod:`emulator.actions`), and each emission becomes an event through the same
:class:`~emulator.generate.EventStream` (projection, ``--set``, schema check).

A step never happens before the one above it: when its anchor falls earlier (a
check-in at ``start-5m`` of a group booked three minutes before its start), it happens
right after the step above, and ``scenario show`` prints the time it got. A step the
world refuses (checking in a cancelled group) is a :class:`~.story.ScenarioError` naming
the step.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..actions import Emission, bookings, guests, invoices
from ..disorder import Delivery, Disorder, Report
from ..disorder import disorder as shuffle
from ..generate import EventStream
from ..world import Appointment, AppointmentGroup, Center, World, habits
from .story import Scenario, ScenarioError, Step

_STATUS = {"confirm": habits.STATUS_CONFIRMED, "check_in": habits.STATUS_CHECKED_IN,
           "cancel": habits.STATUS_CANCELLED, "no_show": habits.STATUS_NO_SHOW}


@dataclass(frozen=True, slots=True)
class Played:
    """One event of a played scenario, with the step that made it and the ids that link it."""

    step: Step
    event_type: str
    moment: datetime
    event: dict[str, Any]
    links: dict[str, str]


def _links(context: dict[str, Any]) -> dict[str, str]:
    """The ids a reader follows from one event to the next: guest, group, invoice."""
    out: dict[str, str] = {}
    guest = context.get("guest")
    group = context.get("group")
    if guest is not None:
        out["guest"] = guest.id
    elif group is not None:
        out["guest"] = group.guest_id
    if group is not None:
        out["group"] = group.id
        if group.rebooked_source_group_id:
            out["rebooked_from"] = group.rebooked_source_group_id
    invoice = context.get("invoice")
    if invoice is not None:
        out["invoice"] = invoice.id
        if invoice.group_id and "group" not in out:
            out["group"] = invoice.group_id
    elif group is not None:
        out["invoice"] = group.invoice.id
    return out


class Player:
    """Plays one scenario on the world of ``stream`` (see :func:`play`)."""

    def __init__(self, scenario: Scenario, stream: EventStream) -> None:
        self.scenario = scenario
        self.stream = stream
        self.world: World = stream.world
        self.guests: dict[str, str] = {}
        self.groups: dict[str, AppointmentGroup] = {}
        self.booked: dict[str, datetime] = {}
        self.clock = self.world.start
        self.last = self.world.start - timedelta(microseconds=1)

    @property
    def seed(self) -> int:
        return self.stream.seed

    def rng(self, step: Step, *what: object) -> random.Random:
        return self.world.streams("scenario", self.scenario.name, step.number, *what)

    def fail(self, step: Step, key: str, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.scenario.source}: step {step.number} ({step.do}): {key}: {problem}.")

    def __iter__(self) -> Iterator[Played]:
        for step in self.scenario.steps:
            for emission in self.do(step):
                kind = self.stream.kinds.get(emission.event_type)
                if emission.moment <= self.last:  # same rule as the simulation: time never stands still
                    emission.moment = self.last + timedelta(microseconds=1)
                self.last = emission.moment
                if kind is None:
                    continue
                event = self.stream.make(kind, emission, step.overrides)
                yield Played(step, emission.event_type, emission.moment, event, _links(emission.context))

    # -- time ------------------------------------------------------------------------------

    def moment(self, step: Step, group: AppointmentGroup | None = None, appointment: Appointment | None = None,
               center: Center | None = None) -> datetime:
        """When ``step`` happens: its anchor plus offset, never before the step above."""
        when = step.when
        if when.anchor is None:
            moment = self.clock + when.offset
        elif when.anchor == "open":
            moment = _next_open(center or self.world.centers[0], self.clock) + when.offset
        else:
            assert group is not None
            base = {"start": appointment.start if appointment else group.first_start,
                    "end": appointment.end if appointment else max(a.end for a in group.appointments),
                    "booked": group.created}[when.anchor]
            moment = base + when.offset
        moment = max(moment, self.clock)
        self.clock = moment
        self.world.advance(moment)
        return moment

    # -- the actions -------------------------------------------------------------------------

    def do(self, step: Step) -> list[Emission]:
        return getattr(self, f"_{step.do}")(step)

    def _center(self, step: Step, default: Center) -> Center:
        number = step.params.get("center")
        if number is None:
            return default
        if isinstance(number, str):
            has = {"late-cancel-fee": lambda c: c.late_cancel_hours is not None, "no-show-fee": lambda c: c.charges_no_show}[number]
            found = next((c for c in self.world.centers if has(c)), None)
            if found is None:
                raise self.fail(step, "center", f"no center of this world has a {number} (try another seed)")
            return found
        if number > len(self.world.centers):
            raise self.fail(step, "center", f"this world has {len(self.world.centers)} centers; number them from 1")
        return self.world.centers[number - 1]

    def _guest(self, step: Step) -> str:
        name = step.params.get("guest", "guest")
        guest_id = self.guests.get(name)
        if guest_id is None:  # no guest of that name was created: a returning guest of the seed's world
            center = self._center(step, self.world.centers[0])
            guest_id = self.rng(step, "guest").choice(self.world.guests_at[center.id])
            self.guests[name] = guest_id
        if guest_id not in self.world.guests:
            raise self.fail(step, "guest", f"guest {name!r} no longer exists")
        return guest_id

    def _group(self, step: Step) -> AppointmentGroup:
        return self.groups[step.params.get("group", "group")]

    def _create_guest(self, step: Step) -> list[Emission]:
        center = self._center(step, self.world.centers[0])
        moment = self.moment(step, center=center)
        guest, emitted = guests.create_guest(self.world, center, moment, self.rng(step))
        self.guests[step.params.get("as", "guest")] = guest.id
        return emitted

    def _update_guest(self, step: Step) -> list[Emission]:
        guest_id = self._guest(step)
        return guests.update_guest(self.world, guest_id, self.moment(step), self.rng(step))

    def _book(self, step: Step) -> list[Emission]:
        guest_id = self._guest(step)
        home = self.world.center_by_id[self.world.guests[guest_id].center_id]
        center = self._center(step, home)
        moment = self.moment(step, center=center)
        rng = self.rng(step)
        wanted = _wishes(rng, center, step.params.get("services", 1), step.params.get("add_ons", 0))
        if wanted is None:
            raise self.fail(step, "add_ons", f"center {center.name} has too few services with add-ons for this")
        rebook = step.params.get("rebook")
        group, emitted = bookings.book(self.world, guest_id, center, moment, rng, fate="scenario",
                                       rebooked_from=self.groups[rebook] if rebook else None,
                                       lead_days=step.params.get("lead_days", 1), wanted=wanted,
                                       soonest=step.params.get("soonest", False))
        if group is None:
            raise self.fail(step, "services", f"center {center.name} has no room for them within {bookings.DAYS_TO_TRY} days")
        self.groups[step.params.get("as", "group")] = group
        return emitted

    def _status(self, step: Step) -> list[Emission]:
        group = self._group(step)
        status = _STATUS[step.do]
        if status not in habits.LEGAL_MOVES[group.status]:
            raise self.fail(step, "do", f"group {step.params.get('group', 'group')!r} is {_status_name(group.status)}; "
                                        f"Zenoti does not move it to {_status_name(status)}")
        return bookings.set_status(self.world, group, status, self.moment(step, group))

    _confirm = _check_in = _cancel = _no_show = _status

    def _appointments(self, step: Step, group: AppointmentGroup) -> list[Appointment]:
        number = step.params.get("appointment")
        return group.appointments if number is None else [group.appointments[number - 1]]

    def _start(self, step: Step) -> list[Emission]:
        group = self._group(step)
        out: list[Emission] = []
        for appointment in self._appointments(step, group):
            if group.status != habits.STATUS_CHECKED_IN or appointment.progress != 0:
                raise self.fail(step, "do", "an appointment starts once, after its group is checked in")
            out += bookings.start_appointment(self.world, group, appointment, self.moment(step, group, appointment))
        return out

    def _complete(self, step: Step) -> list[Emission]:
        group = self._group(step)
        out: list[Emission] = []
        for appointment in self._appointments(step, group):
            if appointment.progress != 1:
                raise self.fail(step, "do", "an appointment completes once, after it started")
            out += bookings.complete_appointment(self.world, group, appointment, self.moment(step, group, appointment))
        return out

    def _serve(self, step: Step) -> list[Emission]:
        """Every appointment started at its start and completed by its end, in time order
        (an add-on starts when its service ends); ``at`` shifts both."""
        group = self._group(step)
        if group.status != habits.STATUS_CHECKED_IN:
            raise self.fail(step, "do", "a group is served after it is checked in")
        shift = step.when.offset if step.when.anchor else timedelta(0)
        out: list[Emission] = []
        for appointment in group.appointments:
            began = max(appointment.start + shift, self.clock)
            self.clock = began
            self.world.advance(began)
            out += bookings.start_appointment(self.world, group, appointment, began)
            done = max(appointment.end - shift - timedelta(seconds=1), self.clock + timedelta(seconds=30))
            self.clock = done
            self.world.advance(done)
            out += bookings.complete_appointment(self.world, group, appointment, done)
        return sorted(out, key=lambda e: e.moment)

    def _close_invoice(self, step: Step) -> list[Emission]:
        group = self._group(step)
        if any(a.progress != 2 for a in group.appointments) or group.invoice.is_closed:
            raise self.fail(step, "do", "an invoice closes once, after every appointment of its group is completed")
        return invoices.close_invoice(self.world, group, self.moment(step, group), self.rng(step))

    def _refund(self, step: Step) -> list[Emission]:
        group = self._group(step)
        if not group.invoice.is_closed:
            raise self.fail(step, "do", "only a closed invoice is refunded")
        return invoices.refund(self.world, group, self.moment(step, group), self.rng(step))


def _status_name(status: int) -> str:
    return {habits.STATUS_BOOKED: "booked", habits.STATUS_CONFIRMED: "confirmed", habits.STATUS_CHECKED_IN: "checked in",
            habits.STATUS_CANCELLED: "cancelled", habits.STATUS_NO_SHOW: "a no-show"}[status]


def _wishes(rng: random.Random, center: Center, services: int, add_ons: int) -> list[bookings.Wish] | None:
    """``services`` different services of the menu (repeating when the menu is shorter),
    the first ``add_ons`` of them with one add-on each; None when too few offer one."""
    with_add_ons = [s for s in center.services if s.add_ons]
    if add_ons > len(with_add_ons):
        return None
    chosen = rng.sample(with_add_ons, add_ons)
    others = [s for s in center.services if s not in chosen]
    rng.shuffle(others)
    while len(chosen) + len(others) < services:
        others += others or list(center.services)
    chosen += others[: services - add_ons]
    return [(service, (rng.choice(service.add_ons),) if index < add_ons else (), False)
            for index, service in enumerate(chosen)]


def _next_open(center: Center, moment: datetime) -> datetime:
    """``moment`` if the center is open then (with two hours left), else its next opening."""
    opens, closes = center.hours
    if (opens, closes) == (0, 24):
        return moment
    local = moment.astimezone(center.zone)
    for days in range(8):
        day = local.date() + timedelta(days=days)
        start = datetime(day.year, day.month, day.day, opens, tzinfo=center.zone)
        last = datetime(day.year, day.month, day.day, tzinfo=center.zone) + timedelta(hours=closes - 2)
        if local <= last:
            return max(start, local).astimezone(moment.tzinfo)
    return moment


def play(scenario: Scenario, *, seed: int | None = None, now: datetime | None = None, profile: str = "realistic",
         overrides: Sequence[tuple[Any, Any]] = (), validate: bool = True) -> Player:
    """The events of ``scenario`` on the world of ``seed`` from ``now``, in the order they
    happen (iterate the player; its ``seed`` is the one drawn when none was given).

    ``overrides`` (``--set``) apply to every event, after each step's own ``set``.
    """
    stream = EventStream(seed=seed, now=now, profile=profile, overrides=overrides, validate=validate)
    return Player(scenario, stream)


@dataclass(slots=True)
class Run:
    """A played scenario ready to deliver: its events in story order, the deliveries in the
    order they go out (disordered when asked), and what disorder did."""

    scenario: Scenario
    seed: int
    played: list[Played]
    deliveries: list[Delivery]
    report: Report | None


def stage(scenario: Scenario, *, seed: int | None = None, now: datetime | None = None, profile: str = "realistic",
          overrides: Sequence[tuple[Any, Any]] = (), validate: bool = True, disorder: Disorder | None = None) -> Run:
    """Play ``scenario`` to its end and order its deliveries. A scenario is a short story
    (at most :data:`~.story.MAX_STEPS` steps), so its events are kept in memory: disorder
    moves an event after later ones, which needs them at hand."""
    player = play(scenario, seed=seed, now=now, profile=profile, overrides=overrides, validate=validate)
    played = list(player)
    pairs = [(p.moment, p.event) for p in played]
    if disorder is None or not disorder.active:
        return Run(scenario, player.seed, played, [Delivery(i, 0, m, e) for i, (m, e) in enumerate(pairs)], None)
    deliveries, report = shuffle(pairs, disorder)
    return Run(scenario, player.seed, played, deliveries, report)
