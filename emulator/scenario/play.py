"""Playing a scenario: each step is an action of the seed's world, at its own time.

The world is the one ``simulate`` runs for the same seed (its centers, staff, menus and
guests), with an empty calendar and no background business: the story is all that
happens. Each step calls the same action functions the simulation calls
(:mod:`emulator.world.actions`), and each emission becomes an event through the same
:class:`~emulator.events.generate.EventStream` (projection, ``--set``, schema check).

A step never happens before the one above it: when its anchor falls earlier (a
check-in at ``start-5m`` of a group booked three minutes before its start), it happens
right after the step above, and ``scenario show`` prints the time it got. A step the
world refuses (checking in a cancelled group) is a :class:`~.story.ScenarioError` naming
the step.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..events.generate import EventStream
from ..world import Appointment, AppointmentGroup, Center, World, habits
from ..world.actions import Emission, bookings, classes, closing, feedback, guests, invoices, memberships, packages
from ..world.classes import WAITLIST_CLOSES, WAITLIST_SIZE, ClassBooking, ClassKind, Session
from ..world.memberships import Membership, Named
from ..world.packages import STATE_CLOSED, GuestPackage, Redemption
from .links import Played, links
from .story import Scenario, ScenarioError, Step

_STATUS = {
    "confirm": habits.STATUS_CONFIRMED,
    "check_in": habits.STATUS_CHECKED_IN,
    "cancel": habits.STATUS_CANCELLED,
    "no_show": habits.STATUS_NO_SHOW,
}
#: Each membership action: the state it needs the membership in, and what it does to it
#: (the moves of :data:`emulator.world.memberships.LEGAL_MOVES`, each by its own name).
_MEMBERSHIP_MOVES = {
    "freeze_membership": ("active", "frozen"),
    "unfreeze_membership": ("frozen", "unfrozen"),
    "cancel_membership": ("active", "cancelled"),
    "reinstate_membership": ("cancelled", "reinstated"),
}


class Player:
    """Plays one scenario on the world of ``stream`` (see :func:`play`)."""

    def __init__(self, scenario: Scenario, stream: EventStream) -> None:
        self.scenario = scenario
        self.stream = stream
        self.world: World = stream.world
        self.guests: dict[str, str] = {}
        self.groups: dict[str, AppointmentGroup] = {}
        self.classes: dict[str, Session] = {}
        self.bookings: dict[str, ClassBooking] = {}
        self.memberships: dict[str, Membership] = {}
        self.packages: dict[str, GuestPackage] = {}
        #: (package, group) -> the sessions that visit redeemed, until reversed
        self.redeemed: dict[tuple[str, str], tuple[Redemption, ...]] = {}
        self.booked: dict[str, datetime] = {}
        self.clock = self.world.start
        self.last = self.world.start - timedelta(microseconds=1)

    @property
    def seed(self) -> int:
        return self.stream.seed

    def rng(self, step: Step, *what: object) -> random.Random:
        return self.world.streams("scenario", self.scenario.stream_name, step.number, *what)

    def fail(self, step: Step, key: str, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.scenario.source}: step {step.number} ({step.do}): {key}: {problem}.")

    def __iter__(self) -> Iterator[Played]:
        for step in self.scenario.steps:
            for emission in self.do(step):
                kind = self.stream.kinds.get(emission.event_type)
                if emission.moment <= self.last:  # same rule as the simulation: time never stands still
                    emission.moment = self.last + timedelta(microseconds=1)
                self.last = emission.moment
                if kind is None or not emission.sent:
                    continue
                event = self.stream.make(kind, emission, step.overrides)
                yield Played(step, emission.event_type, emission.moment, event, links(emission))

    # -- time ------------------------------------------------------------------------------

    def moment(
        self,
        step: Step,
        group: AppointmentGroup | None = None,
        appointment: Appointment | None = None,
        center: Center | None = None,
        session: Session | None = None,
    ) -> datetime:
        """When ``step`` happens: its anchor plus offset, never before the step above."""
        when = step.when
        if when.anchor is None:
            moment = self.clock + when.offset
        elif when.anchor == "open":
            moment = _next_open(center or self.world.centers[0], self.clock) + when.offset
        elif session is not None:
            moment = {"start": session.start, "end": session.end}[when.anchor] + when.offset
        else:
            assert group is not None
            base = {
                "start": appointment.start if appointment else group.first_start,
                "end": appointment.end if appointment else max(a.end for a in group.appointments),
                "booked": group.created,
            }[when.anchor]
            moment = base + when.offset
        moment = max(moment, self.clock)
        self.clock = moment
        self.world.advance(moment)
        return moment

    # -- the actions -------------------------------------------------------------------------

    def do(self, step: Step) -> list[Emission]:
        act: Callable[[Step], list[Emission]] = getattr(self, f"_{step.do}")
        return act(step)

    def _center(self, step: Step, default: Center) -> Center:
        number = step.params.get("center")
        if number is None:
            return default
        if isinstance(number, str):
            has: Callable[[Center], bool] = {
                "late-cancel-fee": lambda c: c.late_cancel_hours is not None,
                "no-show-fee": lambda c: c.charges_no_show,
            }[number]
            found = next((c for c in self.world.centers if has(c)), None)
            if found is None:
                raise self.fail(step, "center", f"no center of this world has a {number} (try another seed)")
            return found
        if number > len(self.world.centers):
            raise self.fail(step, "center", f"this world has {len(self.world.centers)} centers; number them from 1")
        chosen: Center = self.world.centers[number - 1]
        return chosen

    def _guest(self, step: Step, center: Center | None = None) -> str:
        """The step's guest; the first time the default one is named without being created,
        a returning guest of ``center`` (the step's), not one the story already knows."""
        name = step.params.get("guest", "guest")
        guest_id = self.guests.get(name)
        if guest_id is None:  # no guest of that name was created: a returning guest of the seed's world
            center = center or self._center(step, self.world.centers[0])
            known = set(self.guests.values())
            returning = [g for g in self.world.guests_at[center.id] if g not in known]
            if not returning:
                raise self.fail(
                    step,
                    "guest",
                    "this account has no guest of that center yet (--fresh starts empty): "
                    "create one with a create_guest step first",
                )
            guest_id = self.rng(step, "guest").choice(returning)
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
        package = self._package(step) if "package" in step.params else None
        home = package.center if package else self.world.center_by_id[self.world.guests[guest_id].center_id]
        center = self._center(step, home)
        moment = self.moment(step, center=center)
        rng = self.rng(step)
        wanted: list[bookings.Wish] | None
        if package is not None:
            wanted = self._package_wishes(step, package, guest_id, center)
        else:
            wanted = _wishes(rng, center, step.params.get("services", 1), step.params.get("add_ons", 0))
        if wanted is None:
            raise self.fail(step, "add_ons", f"center {center.name} has too few services with add-ons for this")
        rebook = step.params.get("rebook")
        group, emitted = bookings.book(
            self.world,
            guest_id,
            center,
            moment,
            rng,
            fate="scenario",
            rebooked_from=self.groups[rebook] if rebook else None,
            lead_days=step.params.get("lead_days", 1),
            wanted=wanted,
            soonest=step.params.get("soonest", False),
        )
        if group is None:
            raise self.fail(
                step, "services", f"center {center.name} has no room for them within {bookings.DAYS_TO_TRY} days"
            )
        self.groups[step.params.get("as", "group")] = group
        return emitted

    def _package_wishes(self, step: Step, package: GuestPackage, guest_id: str, center: Center) -> list[bookings.Wish]:
        """The services a package's visit books: the first ``services`` it has sessions of."""
        name = step.params["package"]
        if package.guest_id != guest_id:
            raise self.fail(
                step, "guest", f"package {name!r} was sold to another guest; book it for the guest who holds it"
            )
        if center is not package.center:
            raise self.fail(step, "center", f"package {name!r} is redeemed where it was sold, at {package.center.name}")
        left = [line.service for line in package.lines if line.balance > 0]
        services = step.params.get("services", 1)
        if len(left) < services:
            raise self.fail(step, "services", f"package {name!r} has sessions of {len(left)} service(s) left")
        return [(service, (), False) for service in left[:services]]

    def _status(self, step: Step) -> list[Emission]:
        group = self._group(step)
        status = _STATUS[step.do]
        if status not in habits.LEGAL_MOVES[group.status]:
            raise self.fail(
                step,
                "do",
                f"group {step.params.get('group', 'group')!r} is {_status_name(group.status)}; "
                f"Zenoti does not move it to {_status_name(status)}",
            )
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
        moment = self.moment(step, group)
        emitted = invoices.close_invoice(
            self.world, group, moment, self.rng(step), untidy=False
        )  # a story closes what it says
        return emitted + closing.close_group(self.world, group, moment)

    def _refund(self, step: Step) -> list[Emission]:
        group = self._group(step)
        if not group.invoice.is_closed:
            raise self.fail(step, "do", "only a closed invoice is refunded")
        return invoices.refund(self.world, group, self.moment(step, group), self.rng(step))

    def _feedback(self, step: Step) -> list[Emission]:
        group = self._group(step)
        if any(a.progress != 2 for a in group.appointments):
            raise self.fail(step, "do", "feedback follows a visit whose every appointment is completed")
        return feedback.give_feedback(
            self.world, group, self.moment(step, group), self.rng(step), score=step.params.get("score")
        )

    # -- classes -----------------------------------------------------------------------------

    def _session(self, step: Step, *, open_: bool = True) -> Session:
        """The step's class; an open one (scheduled, not yet started) unless told otherwise."""
        name = step.params.get("class", "class")
        session = self.classes[name]
        if open_ and not session.open:
            raise self.fail(step, "class", f"class {name!r} is {session.state}")
        return session

    def _booking(self, step: Step) -> ClassBooking:
        """The step's booking, still seated or waiting for a seat of an open class."""
        name = step.params.get("booking", "booking")
        booking = self.bookings[name]
        if not classes.ongoing(booking):
            state = booking.state if booking.session.open else f"of a class that is {booking.session.state}"
            raise self.fail(
                step, "booking", f"booking {name!r} is {state.replace('_', '-')}; only a seated or waiting one ends"
            )
        return booking

    def _schedule_class(self, step: Step) -> list[Emission]:
        center = self._center(step, self.world.centers[0])
        moment = self.moment(step, center=center)
        rng = self.rng(step)
        kind, start = _timetabled(
            classes.timetable(self.world, center).week, center, moment, step.params.get("lead_days", 1)
        )
        session, emitted = classes.schedule_class(
            self.world, center, kind, start, moment, rng, capacity=step.params.get("capacity")
        )
        self.classes[step.params.get("as", "class")] = session
        return emitted

    def _update_class(self, step: Step) -> list[Emission]:
        session = self._session(step)
        return classes.update_class(
            self.world,
            session,
            self.moment(step, session=session),
            self.rng(step),
            add_seats=step.params.get("add_seats"),
        )

    def _cancel_class(self, step: Step) -> list[Emission]:
        session = self._session(step)
        return classes.cancel_class(self.world, session, self.moment(step, session=session))

    def _delete_class(self, step: Step) -> list[Emission]:
        session = self._session(step, open_=False)
        if session.state not in ("scheduled", "cancelled"):
            raise self.fail(step, "class", f"class {step.params.get('class', 'class')!r} is {session.state}")
        return classes.delete_class(self.world, session, self.moment(step, session=session))

    def _book_class(self, step: Step) -> list[Emission]:
        session = self._session(step)
        guest_id = self._guest(step, session.center)
        moment = self.moment(step, session=session)
        if guest_id in session.guest_ids:
            raise self.fail(
                step, "guest", f"guest {step.params.get('guest', 'guest')!r} already has a booking of this class"
            )
        if not classes.bookable(session, moment):
            name = step.params.get("class", "class")
            if moment >= session.start - WAITLIST_CLOSES:
                raise self.fail(
                    step,
                    "class",
                    f"class {name!r} takes bookings until {WAITLIST_CLOSES.seconds // 60} minutes before it starts",
                )
            raise self.fail(step, "class", f"class {name!r} is full, and so is its waitlist ({WAITLIST_SIZE} guests)")
        booking, emitted = classes.book_class(self.world, session, guest_id, moment, self.rng(step))
        self.bookings[step.params.get("as", "booking")] = booking
        return emitted

    def _cancel_class_booking(self, step: Step) -> list[Emission]:
        booking = self._booking(step)
        return classes.cancel_class_booking(self.world, booking, self.moment(step, session=booking.session))

    def _delete_class_booking(self, step: Step) -> list[Emission]:
        booking = self._booking(step)
        return classes.delete_class_booking(self.world, booking, self.moment(step, session=booking.session))

    def _close_waitlist(self, step: Step) -> list[Emission]:
        session = self._session(step)
        if not session.waiting:
            raise self.fail(step, "do", f"nobody waits for a seat of class {step.params.get('class', 'class')!r}")
        return classes.close_class_waitlist(self.world, session, self.moment(step, session=session))

    def _take_attendance(self, step: Step) -> list[Emission]:
        session = self._session(step)
        moment = self.moment(step, session=session)
        if moment < session.start:
            raise self.fail(step, "at", 'attendance is taken once the class has started (e.g. at = "start+15m")')
        if session.waiting:
            raise self.fail(step, "do", "guests still wait for a seat: close the waitlist first (close_waitlist)")
        absent = [self.bookings[name] for name in step.params.get("no_shows", [])]
        for name, booking in zip(step.params.get("no_shows", []), absent, strict=True):
            if booking.session is not session or booking.state != "seated":
                raise self.fail(
                    step,
                    "no_shows",
                    f"booking {name!r} holds no seat of this class (it is {booking.state.replace('_', '-')})",
                )
        return classes.take_class_attendance(self.world, session, moment, lambda b: any(b is a for a in absent))

    # -- memberships -------------------------------------------------------------------------

    def _create_membership(self, step: Step) -> list[Emission]:
        guest_id = self._guest(step)
        home = self.world.center_by_id[self.world.guests[guest_id].center_id]
        recurring = step.params.get("recurring", True)
        # The step's center; else the guest's, or the first that sells such a membership
        # (each center sells three or four of the plans).
        centers = [self._center(step, home)] if "center" in step.params else [home, *self.world.centers]
        center, plans = next(
            (
                (c, found)
                for c in centers
                if (found := [p for p in memberships.plans(self.world, c) if p.recurring == recurring])
            ),
            (centers[0], []),
        )
        if not plans:
            kind = "recurring" if recurring else "term"
            raise self.fail(
                step, "recurring", f"center {center.name} sells no {kind} membership (try another center or seed)"
            )
        moment = self.moment(step, center=center)
        rng = self.rng(step)
        seller = rng.choice(center.therapists)
        membership, emitted = memberships.create_membership(
            self.world,
            center,
            guest_id,
            moment,
            rng,
            plan=rng.choice(plans),
            sold_by=Named(seller.id, seller.full_name),
            on_invoice=False,
        )
        self.memberships[step.params.get("as", "membership")] = membership
        return emitted

    def _membership(self, step: Step) -> Membership:
        """The step's membership, in the state its action needs (see :data:`_MEMBERSHIP_MOVES`)."""
        name = step.params.get("membership", "membership")
        membership = self.memberships[name]
        needs, done = _MEMBERSHIP_MOVES[step.do]
        if not membership.plan.recurring:
            raise self.fail(
                step,
                "membership",
                f"membership {name!r} is paid once for a term; only a recurring one is frozen or cancelled",
            )
        if membership.state != needs:
            article = "an" if needs[0] in "aeiou" else "a"
            raise self.fail(
                step, "do", f"membership {name!r} is {membership.state}; only {article} {needs} membership is {done}"
            )
        return membership

    def _freeze_membership(self, step: Step) -> list[Emission]:
        membership = self._membership(step)
        return memberships.freeze_membership(
            self.world, membership, self.moment(step), self.rng(step), days=step.params.get("days")
        )

    def _unfreeze_membership(self, step: Step) -> list[Emission]:
        return memberships.unfreeze_membership(self.world, self._membership(step), self.moment(step))

    def _cancel_membership(self, step: Step) -> list[Emission]:
        membership = self._membership(step)
        return memberships.cancel_membership(self.world, membership, self.moment(step), self.rng(step))

    def _reinstate_membership(self, step: Step) -> list[Emission]:
        return memberships.reinstate_membership(self.world, self._membership(step), self.moment(step))

    # -- packages ----------------------------------------------------------------------------

    def _create_package(self, step: Step) -> list[Emission]:
        guest_id = self._guest(step)
        center = self._center(step, self.world.center_by_id[self.world.guests[guest_id].center_id])
        package, emitted = packages.create_package(
            self.world, center, guest_id, self.moment(step, center=center), self.rng(step), on_invoice=False
        )
        self.packages[step.params.get("as", "package")] = package
        return emitted

    def _package(self, step: Step) -> GuestPackage:
        """The step's package, still open."""
        name = step.params.get("package", "package")
        package = self.packages[name]
        if package.state == STATE_CLOSED:
            raise self.fail(step, "package", f"package {name!r} is closed")
        return package

    def _redeem_package(self, step: Step) -> list[Emission]:
        package, group = self._package(step), self._group(step)
        names = (step.params.get("package", "package"), step.params.get("group", "group"))
        if not group.invoice.is_closed:
            raise self.fail(step, "do", "a package is redeemed at check-out: close the group's invoice first")
        if group.guest_id != package.guest_id or group.center is not package.center:
            raise self.fail(
                step,
                "group",
                f"group {names[1]!r} is not a visit of the guest who holds package {names[0]!r}, where it was sold",
            )
        if names in self.redeemed:
            raise self.fail(step, "do", f"group {names[1]!r} is redeemed from package {names[0]!r} already")
        emitted = packages.redeem_package(self.world, package, group, self.moment(step, group))
        if not emitted:
            raise self.fail(
                step, "group", f"package {names[0]!r} has no session left of a service group {names[1]!r} had"
            )
        self.redeemed[names] = package.redemptions
        return emitted

    def _reverse_redemption(self, step: Step) -> list[Emission]:
        package, group = self._package(step), self._group(step)
        names = (step.params.get("package", "package"), step.params.get("group", "group"))
        used = self.redeemed.pop(names, None)
        if used is None:
            raise self.fail(
                step,
                "group",
                f"no redemption of group {names[1]!r} from package {names[0]!r} is left to reverse "
                "(redeem_package makes one)",
            )
        return packages.reverse_redemption(self.world, package, used, group.id, self.moment(step, group))

    def _extend_package(self, step: Step) -> list[Emission]:
        package = self._package(step)
        return packages.extend_package(
            self.world, package, self.moment(step), self.rng(step), days=step.params.get("days")
        )

    def _close_package(self, step: Step) -> list[Emission]:
        return packages.close_package(self.world, self._package(step), self.moment(step))


def _status_name(status: int) -> str:
    return {
        habits.STATUS_BOOKED: "booked",
        habits.STATUS_CONFIRMED: "confirmed",
        habits.STATUS_CHECKED_IN: "checked in",
        habits.STATUS_CLOSED: "closed",
        habits.STATUS_CANCELLED: "cancelled",
        habits.STATUS_NO_SHOW: "a no-show",
    }[status]


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
    return [
        (service, (rng.choice(service.add_ons),) if index < add_ons else (), False)
        for index, service in enumerate(chosen)
    ]


def _timetabled(
    week: Sequence[Sequence[tuple[ClassKind, int, int]]], center: Center, moment: datetime, lead_days: int
) -> tuple[ClassKind, datetime]:
    """The first session of the center's weekly timetable on the day ``lead_days`` ahead (its
    wall clock) or later, at least :data:`~emulator.world.actions.classes.LEAD` after ``moment``:
    its class and start."""
    today = moment.astimezone(center.zone).date()
    for days in range(lead_days, lead_days + 14):
        day = today + timedelta(days=days)
        for kind, hour, minute in week[day.weekday()]:
            start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=center.zone).astimezone(UTC)
            if start - moment >= classes.LEAD:
                return kind, start
    raise AssertionError(f"center {center.name} teaches no class in two weeks")


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


def play(
    scenario: Scenario,
    *,
    seed: int | None = None,
    now: datetime | None = None,
    profile: str = "realistic",
    overrides: Sequence[tuple[Any, Any]] = (),
    validate: bool = True,
    variants: Any = None,
    fresh: bool = False,
) -> Player:
    """The events of ``scenario`` on the world of ``seed`` from ``now``, in the order they
    happen (iterate the player; its ``seed`` is the one drawn when none was given).

    ``overrides`` (``--set``) apply to every event, after each step's own ``set``;
    ``variants`` (``--variant``) are the readings the world is built with.
    """
    stream = EventStream(
        seed=seed, now=now, profile=profile, overrides=overrides, validate=validate, variants=variants, fresh=fresh
    )
    return Player(scenario, stream)
