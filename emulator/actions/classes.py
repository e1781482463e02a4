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
``world.extra["classes"]``, and every decision draws from a stream named after it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from ..world import Center, World, new_uuid, pick
from ..world.classes import (
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
    Session,
    Timetable,
    build_timetable,
)
from ..world.timefmt import UTC
from . import Emission

if TYPE_CHECKING:
    from ..simulation import Simulation

EMITS = (
    "Class.Schedule.Created", "Class.Schedule.Updated", "Class.Schedule.Cancelled", "Class.Schedule.Deleted",
    "Class.Booking.Created", "Class.Booking.Cancelled", "Class.Booking.Deleted", "Class.Booking.NoShow",
    "Class.Booking.Approved", "Class.Booking.Rejected",
)

#: A session is published at least this long before it starts (later slots wait a day).
LEAD = timedelta(hours=2)
#: What the front desk writes when it edits a session's description.
DESCRIPTIONS = ("", "Bring your own mat.", "All levels welcome.", "Arrive ten minutes early to settle in.",
                "Mats, blocks and straps provided.")


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
    """The classes of every center of one world: timetables, counters, and the steps."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.world: World = sim.world
        self.timetables: dict[str, Timetable] = {}
        #: the last date each center has published sessions for
        self.published: dict[str, date] = {}
        rng = self.world.streams("class-numbers")
        self.next_session = rng.randint(60_000, 95_000)
        self.next_registration = rng.randint(100_000, 200_000)

    def timetable(self, center: Center) -> Timetable:
        found = self.timetables.get(center.id)
        if found is None:
            found = self.timetables[center.id] = build_timetable(self.world.streams("class-timetable", center.id), self.world.profile)
        return found

    # -- the timetable ---------------------------------------------------------------------

    def on_day(self, sim: Simulation, moment: datetime, center: Center, day: date, _rng: random.Random) -> list[Emission]:
        """At the center's midnight: plan the morning publication of the days not yet out."""
        last = self.published.get(center.id)
        first = day if last is None else last + timedelta(days=1)
        days = [first + timedelta(days=n) for n in range((day + timedelta(days=HORIZON_DAYS) - first).days + 1)]
        if days:
            self.published[center.id] = days[-1]
            rng = self.world.streams("class-publish", center.id, day.isoformat())
            when = datetime(day.year, day.month, day.day, 6, tzinfo=center.zone) + timedelta(seconds=rng.uniform(0, 5400))
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
                number = self.next_session
                self.next_session += rng.choice((1, 1, 1, 2, 3))  # other centers' sessions take numbers too
                web = kind.capacity if rng.random() < 0.6 else rng.randint(kind.capacity // 2, kind.capacity)
                session = Session(
                    number, kind, center, start, kind.duration, kind.capacity, web,
                    room_id=rng.choice(center.rooms).id if rng.random() < ROOM_SHARE else None,
                    show_in_catalog=1, is_free=rng.random() < 0.04,
                )
                out.append(_schedule("Created", session, moment))
                self._plan(moment, session, rng)
        return out

    def _plan(self, moment: datetime, session: Session, rng: random.Random) -> None:
        """The session's future: bookings, maybe an edit, maybe its end, the waitlist, attendance."""
        start, sim = session.start, self.sim
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
            sim.at(_between(rng, moment + timedelta(minutes=10), closes - timedelta(minutes=10)), self.edit_session, session)
        first, last = moment + timedelta(minutes=2), closes - timedelta(minutes=5)
        for n in range(round(session.capacity * rng.uniform(*DEMAND))):
            # Most book soon after the timetable is out: a popular session fills early,
            # which leaves its waitlist time to move up as others cancel.
            sim.at(first + (last - first) * rng.random() ** BOOKING_SKEW, self.book, session, n)
        sim.at(closes + timedelta(seconds=rng.uniform(1, 90)), self.close_waitlist, session)
        sim.at(start + timedelta(seconds=rng.uniform(600, 1200)), self.take_attendance, session)

    def edit_session(self, moment: datetime, session: Session) -> list[Emission]:
        """The front desk changes the session's length, capacity or description.

        A session with guests waiting gets more seats, and the waitlist moves up into them.
        """
        if not session.open:
            return []
        session.edits += 1
        rng = self.world.streams("class-edit", session.number, session.edits)
        what = "capacity" if session.waiting else rng.choice(("duration", "capacity", "description"))
        if what == "duration":
            session.duration = max(30, session.duration + rng.choice((-15, 15, 30)))
        elif what == "capacity":
            session.capacity += rng.randint(1, 4)  # never below the seats already taken
            session.web_capacity = min(session.capacity, session.web_capacity + rng.randint(0, 4))
        else:
            session.description_text = rng.choice(DESCRIPTIONS)
        return [_schedule("Updated", session, moment), *self._move_up(moment, session)]

    def cancel_session(self, moment: datetime, session: Session) -> list[Emission]:
        """Cancel the session: its bookings are cancelled first, then the session."""
        if not session.open:
            return []
        out = self._cancel_all(moment, session)
        session.state = "cancelled"
        return out + [_schedule("Cancelled", session, moment)]

    def delete_session(self, moment: datetime, session: Session) -> list[Emission]:
        """Delete the session; one that still has bookings is cancelled first."""
        out: list[Emission] = []
        if session.open and (session.seated or session.waiting):
            out = self.cancel_session(moment, session)
        if session.state not in ("scheduled", "cancelled"):
            return out
        session.state = "deleted"
        return out + [_schedule("Deleted", session, moment)]

    def _cancel_all(self, moment: datetime, session: Session) -> list[Emission]:
        out = []
        for booking in session.seated + session.waiting:
            self._release(booking, "cancelled")
            out.append(_booking("Cancelled", booking, moment))
        return out

    # -- bookings --------------------------------------------------------------------------

    def book(self, moment: datetime, session: Session, n: int) -> list[Emission]:
        """A guest of the center books the session, or joins its waitlist when it is full."""
        if not session.open or moment >= session.start - WAITLIST_CLOSES:
            return []
        waiting = session.full
        if waiting and len(session.waiting) >= WAITLIST_SIZE:
            return []
        rng = self.world.streams("class-booking", session.number, n)
        ids = self.world.guests_at[session.center.id]
        guest_id = next((g for g in (rng.choice(ids) for _ in range(3)) if g not in session.guest_ids), None) if ids else None
        if guest_id is None:
            return []
        booking = ClassBooking(self.next_registration, session, guest_id, waiting, new_uuid(rng).upper(),
                               "waiting" if waiting else "seated")
        self.next_registration += 1
        (session.waiting if waiting else session.seated).append(booking)
        session.guest_ids.add(guest_id)
        # A guest with a booking ahead is not deleted (the world's rule for open groups).
        self.world.open_groups[guest_id] = self.world.open_groups.get(guest_id, 0) + 1
        if waiting and len(session.waiting) == 1 and rng.random() < MORE_SEATS_SHARE:
            # The first guest on a waitlist: the desk may find more seats (a bigger room).
            self.sim.at(_between(rng, moment + timedelta(minutes=5), session.start - WAITLIST_CLOSES), self.edit_session, session)
        fate = pick(rng, BOOKING_FATES)
        if fate == "cancelled":
            self.sim.at(_between(rng, moment + timedelta(minutes=1), session.start - timedelta(minutes=5)), self.cancel_booking, booking)
        elif fate == "deleted":
            self.sim.at(min(moment + timedelta(seconds=rng.uniform(120, 1800)), session.start - timedelta(minutes=5)), self.delete_booking, booking)
        return [_booking("Created", booking, moment, _WAITING if waiting else _SEATED)]

    def cancel_booking(self, moment: datetime, booking: ClassBooking) -> list[Emission]:
        return self._end_booking(moment, booking, "cancelled", "Cancelled")

    def delete_booking(self, moment: datetime, booking: ClassBooking) -> list[Emission]:
        return self._end_booking(moment, booking, "deleted", "Deleted")

    def _end_booking(self, moment: datetime, booking: ClassBooking, state: str, action: str) -> list[Emission]:
        """The guest cancels (or the desk deletes); a freed seat goes to the waitlist's first."""
        session = booking.session
        if not session.open or booking.state not in ("seated", "waiting"):
            return []
        freed = booking.state == "seated"
        self._release(booking, state)
        return [_booking(action, booking, moment), *(self._move_up(moment, session) if freed else ())]

    def _move_up(self, moment: datetime, session: Session) -> list[Emission]:
        """Free seats go to the waitlist, first come first served, until it closes."""
        out = []
        while session.waiting and not session.full and moment < session.start - WAITLIST_CLOSES:
            lucky = session.waiting.pop(0)
            lucky.state = "seated"
            session.seated.append(lucky)
            out.append(_booking("Approved", lucky, moment, View(0, True, 0, lucky.invoice_id)))
        return out

    def close_waitlist(self, moment: datetime, session: Session) -> list[Emission]:
        """Whoever still waits for a seat is turned down."""
        if not session.open:
            return []
        out = []
        for booking in list(session.waiting):
            self._release(booking, "rejected")
            out.append(_booking("Rejected", booking, moment, View(0, True, 0, booking.invoice_id)))
        return out

    def take_attendance(self, moment: datetime, session: Session) -> list[Emission]:
        """After the start: the guests who did not come are marked; the session is over."""
        if not session.open:
            return []
        session.state = "started"
        rng = self.world.streams("class-attendance", session.number)
        out = []
        for booking in list(session.seated):
            if rng.random() < NO_SHOW_SHARE:
                self._release(booking, "no_show")
                out.append(_booking("NoShow", booking, moment))
            else:
                self._release(booking, "attended")
        return out

    def _release(self, booking: ClassBooking, state: str) -> None:
        session = booking.session
        (session.seated if booking.state == "seated" else session.waiting).remove(booking)
        session.guest_ids.discard(booking.guest_id)
        booking.state = state
        self.world.open_groups[booking.guest_id] -= 1


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
    return Emission(kind, moment, f"{kind}:{booking.registration_id}",
                    {"booking": booking, "session": session, "center": session.center, "view": view})


def install(sim: Simulation) -> None:
    """Run every center's classes in ``sim``; the state is ``world.extra["classes"]``."""
    studio = sim.world.extra["classes"] = Studio(sim)
    sim.on("day", studio.on_day)

