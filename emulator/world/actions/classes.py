"""Class schedules and class bookings: a center's timetable runs, and guests book into it.

Each center publishes its sessions :data:`~emulator.world.classes.HORIZON_DAYS` ahead,
every morning (``Class.Schedule.Created``). Guests then book until shortly before the
start (``Class.Booking.Created``); a full session puts them on its waitlist, a seat freed
by a cancellation goes to the first of it (``Class.Booking.Approved``), and whoever is
still waiting when the waitlist closes is turned down (``Class.Booking.Rejected``). After
the start, the guests who did not come are marked (``Class.Booking.NoShow``). A session
may be edited, cancelled (its bookings are cancelled first) or deleted.

What a receiver may rely on, and the tests check on the events alone: a booking is for a
session that was scheduled and not yet cancelled or deleted, for a guest who exists; the
seated bookings of a session never exceed its capacity; after a session is cancelled or
deleted no event names it but its deletion.

Plugs into the simulation through :func:`install`; all state lives in
``world.extra["classes"]``, and every decision draws from a stream named after it. What
happens to one session or booking is a public function (:func:`schedule_class`,
:func:`book_class`, :func:`cancel_class_booking`, :func:`take_class_attendance`...) that
the simulation's steps and a scenario's steps both call.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .. import Center, World, new_uuid, pick
from ..classes import (
    BOOKING_FATES,
    BOOKING_SKEW,
    DELETE_AFTER_CANCEL_SHARE,
    DEMAND,
    EDIT_SHARE,
    HORIZON_DAYS,
    MORE_SEATS_SHARE,
    NO_SHOW_SHARE,
    ROOM_SHARE,
    SESSION_FATES,
    WAITLIST_CLOSES,
    WAITLIST_SIZE,
    ClassBooking,
    ClassKind,
    Session,
    Timetable,
    build_timetable,
)
from . import Emission, Scheduler
from ._desk import kept

EMITS = (
    "Class.Schedule.Created",
    "Class.Schedule.Updated",
    "Class.Schedule.Cancelled",
    "Class.Schedule.Deleted",
    "Class.Booking.Created",
    "Class.Booking.Cancelled",
    "Class.Booking.Deleted",
    "Class.Booking.NoShow",
    "Class.Booking.Approved",
    "Class.Booking.Rejected",
)

#: A session is published at least this long before it starts (later slots wait a day).
LEAD = timedelta(hours=2)
#: What the front desk writes when it edits a session's description.
DESCRIPTIONS = (
    "",
    "Bring your own mat.",
    "All levels welcome.",
    "Arrive ten minutes early to settle in.",
    "Mats, blocks and straps provided.",
)


@dataclass(frozen=True, slots=True)
class View:
    """The booking fields that depend on which event shows the booking, not on the booking.

    From the samples: Created shows ``add_to_all: 0`` and the waitlist flag; Approved and
    Rejected (a waitlisted booking decided) show ``waitlist: true``, ``booking_source: 0``
    and the invoice; Cancelled, Deleted and NoShow show null for all four.
    """

    add_to_all: int | None = None
    waitlist: bool | None = None
    booking_source: int | None = None
    group_invoice_id: str | None = None


_BLANK = View()
_SEATED = View(add_to_all=0, waitlist=False)
_WAITING = View(add_to_all=0, waitlist=True)


class Studio:
    """The classes of one world: timetables and counters, and the simulation's steps.

    What happens to one session or booking is a module function (:func:`schedule_class`,
    :func:`book_class`, :func:`cancel_class_booking`...) that a scenario calls too; the
    methods here are the simulation's side: they decide what happens and when (drawing
    from the decision's own stream), call those functions, and schedule what follows.
    ``sim`` is None in a world no simulation drives.
    """

    def __init__(self, world: World, sim: Scheduler | None = None) -> None:
        self.sim = sim
        self.world = world
        self.timetables: dict[str, Timetable] = {}
        #: the last date each center has published sessions for
        self.published: dict[str, date] = {}
        rng = self.world.streams("class-numbers")
        self.next_session = rng.randint(60_000, 95_000)
        self.next_registration = rng.randint(100_000, 200_000)

    def timetable(self, center: Center) -> Timetable:
        found = self.timetables.get(center.id)
        if found is None:
            found = self.timetables[center.id] = build_timetable(
                self.world.streams("class-timetable", center.id), self.world.profile
            )
        return found

    def _at(self, moment: datetime, step: Callable[..., list[Emission]], *args: object) -> None:
        assert self.sim is not None, "only a simulation schedules what follows"
        self.sim.at(moment, step, *args)

    # -- the timetable ---------------------------------------------------------------------

    def on_day(
        self, sim: Scheduler, moment: datetime, center: Center, day: date, _rng: random.Random
    ) -> list[Emission]:
        """At the center's midnight: plan the morning publication of the days not yet out."""
        last = self.published.get(center.id)
        first = day if last is None else last + timedelta(days=1)
        days = [first + timedelta(days=n) for n in range((day + timedelta(days=HORIZON_DAYS) - first).days + 1)]
        if days:
            self.published[center.id] = days[-1]
            rng = self.world.streams("class-publish", center.id, day.isoformat())
            when = datetime(day.year, day.month, day.day, 6, tzinfo=center.zone) + timedelta(
                seconds=rng.uniform(0, 5400)
            )
            sim.at(when.astimezone(UTC), self.publish, center, tuple(days))
        return []

    def publish(self, moment: datetime, center: Center, days: tuple[date, ...]) -> list[Emission]:
        """Schedule the sessions of ``days`` that start far enough ahead."""
        out: list[Emission] = []
        timetable = self.timetable(center)
        for day in days:
            for kind, hour, minute in timetable.week[day.weekday()]:
                start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=center.zone).astimezone(UTC)
                if start - moment < LEAD:
                    continue
                rng = self.world.streams("class-session", center.id, day.isoformat(), hour, minute)
                session, emitted = schedule_class(self.world, center, kind, start, moment, rng)
                out += emitted
                self._plan(moment, session, rng)
        return out

    def _plan(self, moment: datetime, session: Session, rng: random.Random) -> None:
        """The session's future: bookings, maybe an edit, maybe its end, the waitlist, attendance."""
        start, sim = session.start, self.sim
        assert sim is not None, "only a simulation schedules what follows"
        closes = start - WAITLIST_CLOSES
        fate = pick(rng, SESSION_FATES)
        if fate != "held":
            when = _between(rng, moment + timedelta(minutes=20), start - timedelta(minutes=60))
            if fate == "cancelled":
                sim.at(when, self.cancel_session, session)
                if rng.random() < DELETE_AFTER_CANCEL_SHARE:
                    sim.at(when + timedelta(seconds=rng.uniform(30, 600)), self.delete_session, session)
            else:
                sim.at(when, self.delete_session, session)
        if rng.random() < EDIT_SHARE:
            sim.at(
                _between(rng, moment + timedelta(minutes=10), closes - timedelta(minutes=10)),
                self.edit_session,
                session,
            )
        first, last = moment + timedelta(minutes=2), closes - timedelta(minutes=5)
        for n in range(round(session.capacity * rng.uniform(*DEMAND))):
            # Most book soon after the timetable is out: a popular session fills early,
            # which leaves its waitlist time to move up as others cancel.
            sim.at(first + (last - first) * rng.random() ** BOOKING_SKEW, self.book, session, n)
        sim.at(closes + timedelta(seconds=rng.uniform(1, 90)), self.close_waitlist, session)
        sim.at(start + timedelta(seconds=rng.uniform(600, 1200)), self.take_attendance, session)

    def edit_session(self, moment: datetime, session: Session) -> list[Emission]:
        """The front desk edits the session (the edit's stream is named by its count)."""
        if not session.open:
            return []
        return update_class(
            self.world, session, moment, self.world.streams("class-edit", session.number, session.edits + 1)
        )

    def cancel_session(self, moment: datetime, session: Session) -> list[Emission]:
        return cancel_class(self.world, session, moment) if session.open else []

    def delete_session(self, moment: datetime, session: Session) -> list[Emission]:
        return delete_class(self.world, session, moment)

    # -- bookings --------------------------------------------------------------------------

    def book(self, moment: datetime, session: Session, n: int) -> list[Emission]:
        """A guest of the center books the session, or joins its waitlist when it is full."""
        if not bookable(session, moment):
            return []
        rng = self.world.streams("class-booking", session.number, n)
        ids = self.world.guests_at[session.center.id]
        guest_id = (
            next((g for g in (rng.choice(ids) for _ in range(3)) if g not in session.guest_ids), None) if ids else None
        )
        if guest_id is None:
            return []
        booking, emitted = book_class(self.world, session, guest_id, moment, rng)
        if booking.waitlisted and len(session.waiting) == 1 and rng.random() < MORE_SEATS_SHARE:
            # The first guest on a waitlist: the desk may find more seats (a bigger room).
            self._at(
                _between(rng, moment + timedelta(minutes=5), session.start - WAITLIST_CLOSES),
                self.edit_session,
                session,
            )
        fate = pick(rng, BOOKING_FATES)
        if fate == "cancelled":
            self._at(
                _between(rng, moment + timedelta(minutes=1), session.start - timedelta(minutes=5)),
                self.cancel_booking,
                booking,
            )
        elif fate == "deleted":
            self._at(
                min(moment + timedelta(seconds=rng.uniform(120, 1800)), session.start - timedelta(minutes=5)),
                self.delete_booking,
                booking,
            )
        return emitted

    def cancel_booking(self, moment: datetime, booking: ClassBooking) -> list[Emission]:
        return cancel_class_booking(self.world, booking, moment) if ongoing(booking) else []

    def delete_booking(self, moment: datetime, booking: ClassBooking) -> list[Emission]:
        return delete_class_booking(self.world, booking, moment) if ongoing(booking) else []

    def close_waitlist(self, moment: datetime, session: Session) -> list[Emission]:
        return close_class_waitlist(self.world, session, moment) if session.open else []

    def take_attendance(self, moment: datetime, session: Session) -> list[Emission]:
        """After the start: each seated guest is a no-show now and then (one draw each, in order)."""
        if not session.open:
            return []
        rng = self.world.streams("class-attendance", session.number)
        return take_class_attendance(self.world, session, moment, lambda _booking: rng.random() < NO_SHOW_SHARE)


def _studio(world: World) -> Studio:
    """The world's classes: the simulation's studio, or one made for a world without it."""
    return kept(world, "classes", lambda: Studio(world))


def timetable(world: World, center: Center) -> Timetable:
    """``center``'s classes and weekly timetable (drawn once, from the center's own stream)."""
    return _studio(world).timetable(center)


def bookable(session: Session, moment: datetime) -> bool:
    """Whether a guest can book ``session`` at ``moment``: it is open, its waitlist has not
    closed, and a full session's waitlist has room."""
    if not session.open or moment >= session.start - WAITLIST_CLOSES:
        return False
    return not (session.full and len(session.waiting) >= WAITLIST_SIZE)


def ongoing(booking: ClassBooking) -> bool:
    """A booking of an open session still seated or waiting: the only kind that can end."""
    return booking.session.open and booking.state in ("seated", "waiting")


# -- what happens to one session: the simulation's steps and a scenario's call these --------


def schedule_class(
    world: World,
    center: Center,
    kind: ClassKind,
    start: datetime,
    moment: datetime,
    rng: random.Random,
    *,
    capacity: int | None = None,
) -> tuple[Session, list[Emission]]:
    """Put a session of ``kind`` on the schedule at ``start`` (with the studio's capacity,
    or ``capacity`` seats), numbered by the world's counter."""
    studio = _studio(world)
    number = studio.next_session
    studio.next_session += rng.choice((1, 1, 1, 2, 3))  # other centers' sessions take numbers too
    seats = capacity or kind.capacity
    web = seats if rng.random() < 0.6 else rng.randint(seats // 2, seats)
    session = Session(
        number,
        kind,
        center,
        start,
        kind.duration,
        seats,
        web,
        room_id=rng.choice(center.rooms).id if rng.random() < ROOM_SHARE else None,
        show_in_catalog=1,
        is_free=rng.random() < 0.04,
    )
    return session, [_schedule("Created", session, moment)]


def update_class(
    world: World, session: Session, moment: datetime, rng: random.Random, *, add_seats: int | None = None
) -> list[Emission]:
    """The front desk changes an open session's length, capacity or description (``add_seats``:
    that many more seats). A session with guests waiting always gets more seats, and the
    waitlist moves up into them."""
    session.edits += 1
    what = "capacity" if session.waiting or add_seats else rng.choice(("duration", "capacity", "description"))
    if what == "duration":
        session.duration = max(30, session.duration + rng.choice((-15, 15, 30)))
    elif what == "capacity":
        session.capacity += add_seats or rng.randint(1, 4)  # never below the seats already taken
        session.web_capacity = min(session.capacity, session.web_capacity + rng.randint(0, 4))
    else:
        session.description_text = rng.choice(DESCRIPTIONS)
    return [_schedule("Updated", session, moment), *_move_up(moment, session)]


def cancel_class(world: World, session: Session, moment: datetime) -> list[Emission]:
    """Cancel an open session: its bookings are cancelled first, then the session."""
    out = [_booking("Cancelled", booking, moment) for booking in _release_all(world, session, "cancelled")]
    session.state = "cancelled"
    return [*out, _schedule("Cancelled", session, moment)]


def delete_class(world: World, session: Session, moment: datetime) -> list[Emission]:
    """Delete a session (open or cancelled); one that still has bookings is cancelled first."""
    out: list[Emission] = []
    if session.open and (session.seated or session.waiting):
        out = cancel_class(world, session, moment)
    if session.state not in ("scheduled", "cancelled"):
        return out
    session.state = "deleted"
    return [*out, _schedule("Deleted", session, moment)]


def close_class_waitlist(world: World, session: Session, moment: datetime) -> list[Emission]:
    """Whoever still waits for a seat of an open session is turned down."""
    out = []
    for booking in list(session.waiting):
        _release(world, booking, "rejected")
        out.append(_booking("Rejected", booking, moment, View(0, True, 0, booking.invoice_id)))
    return out


def take_class_attendance(
    world: World, session: Session, moment: datetime, absent: Callable[[ClassBooking], bool]
) -> list[Emission]:
    """After an open session starts: the seated guests ``absent`` says did not come are
    marked no-shows, the others attended; the session is over."""
    session.state = "started"
    out = []
    for booking in list(session.seated):
        if absent(booking):
            _release(world, booking, "no_show")
            out.append(_booking("NoShow", booking, moment))
        else:
            _release(world, booking, "attended")
    return out


# -- what happens to one booking -----------------------------------------------------------


def book_class(
    world: World, session: Session, guest_id: str, moment: datetime, rng: random.Random
) -> tuple[ClassBooking, list[Emission]]:
    """The guest books a seat of a :func:`bookable` session, or joins its waitlist when it is full."""
    studio = _studio(world)
    waiting = session.full
    booking = ClassBooking(
        studio.next_registration, session, guest_id, waiting, new_uuid(rng).upper(), "waiting" if waiting else "seated"
    )
    studio.next_registration += 1
    (session.waiting if waiting else session.seated).append(booking)
    session.guest_ids.add(guest_id)
    # A guest with a booking ahead is not deleted (the world's rule for open groups).
    world.open_groups[guest_id] = world.open_groups.get(guest_id, 0) + 1
    return booking, [_booking("Created", booking, moment, _WAITING if waiting else _SEATED)]


def cancel_class_booking(world: World, booking: ClassBooking, moment: datetime) -> list[Emission]:
    """The guest cancels a seated or waiting booking; a freed seat goes to the waitlist's first."""
    return _end_booking(world, booking, moment, "cancelled", "Cancelled")


def delete_class_booking(world: World, booking: ClassBooking, moment: datetime) -> list[Emission]:
    """The front desk deletes a seated or waiting booking (a mistake); a freed seat goes to the waitlist."""
    return _end_booking(world, booking, moment, "deleted", "Deleted")


def _end_booking(world: World, booking: ClassBooking, moment: datetime, state: str, action: str) -> list[Emission]:
    session = booking.session
    freed = booking.state == "seated"
    _release(world, booking, state)
    return [_booking(action, booking, moment), *(_move_up(moment, session) if freed else ())]


def _move_up(moment: datetime, session: Session) -> list[Emission]:
    """Free seats go to the waitlist, first come first served, until it closes."""
    out = []
    while session.waiting and not session.full and moment < session.start - WAITLIST_CLOSES:
        lucky = session.waiting.pop(0)
        lucky.state = "seated"
        session.seated.append(lucky)
        out.append(_booking("Approved", lucky, moment, View(0, True, 0, lucky.invoice_id)))
    return out


def _release_all(world: World, session: Session, state: str) -> list[ClassBooking]:
    """End every booking of the session, seated ones first; returns them in that order."""
    bookings = session.seated + session.waiting
    for booking in bookings:
        _release(world, booking, state)
    return bookings


def _release(world: World, booking: ClassBooking, state: str) -> None:
    session = booking.session
    (session.seated if booking.state == "seated" else session.waiting).remove(booking)
    session.guest_ids.discard(booking.guest_id)
    booking.state = state
    world.open_groups[booking.guest_id] -= 1


def _between(rng: random.Random, low: datetime, high: datetime) -> datetime:
    """A moment between ``low`` and ``high`` (``low`` when the window is empty)."""
    span = (high - low).total_seconds()
    return low + timedelta(seconds=rng.uniform(0, span)) if span > 0 else low


def _schedule(action: str, session: Session, moment: datetime) -> Emission:
    kind = f"Class.Schedule.{action}"
    key = f"{kind}:{session.number}:{session.edits}" if action == "Updated" else f"{kind}:{session.number}"
    return Emission(kind, moment, key, {"session": session, "center": session.center})


def _booking(action: str, booking: ClassBooking, moment: datetime, view: View = _BLANK) -> Emission:
    kind = f"Class.Booking.{action}"
    session = booking.session
    return Emission(
        kind,
        moment,
        f"{kind}:{booking.registration_id}",
        {"booking": booking, "session": session, "center": session.center, "view": view},
    )


def install(sim: Scheduler) -> None:
    """Run every center's classes in ``sim``; the state is ``world.extra["classes"]``."""
    studio = sim.world.extra["classes"] = Studio(sim.world, sim)
    sim.on("day", studio.on_day)
