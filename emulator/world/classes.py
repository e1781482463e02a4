"""Group classes: each center's weekly timetable, its sessions and the guests booked into them.

A center that runs classes (yoga, pilates, barre...) publishes a timetable: a few classes
in the morning, a few in the evening, on its own wall clock. Each session of it has a
capacity; a guest who books a full session joins its waitlist and gets a seat when
someone cancels, or is turned down before the class starts. Zenoti reports all of it as
``Class.Schedule.*`` and ``Class.Booking.*`` events (:mod:`emulator.world.actions.classes`).

The distributions are declared here, as :mod:`.habits` declares the booking lifecycle's:
this module is the classes' part of the picture of the business. The timetable is drawn
lazily, per center, from the center's own stream, so adding classes moves no other
event's bytes.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .entities import Center
from .randomness import pick
from .timefmt import utc_text

#: Classes a center may teach: (name, minutes, capacity). Capacity is the studio's.
CLASSES = (
    ("Vinyasa Flow", 60, 16),
    ("Sunrise Yoga", 45, 14),
    ("Yin Yoga", 75, 12),
    ("Pilates Mat", 50, 12),
    ("Reformer Pilates", 50, 8),
    ("Barre Sculpt", 45, 14),
    ("Guided Meditation", 30, 20),
    ("Breathwork", 45, 15),
    ("Aqua Aerobics", 45, 10),
    ("Stretch & Restore", 60, 18),
    ("Sound Bath", 60, 20),
    ("HIIT Express", 30, 12),
    ("Prenatal Yoga", 60, 10),
)
#: What the edge profile adds: names receivers mangle, a session of one, a hall of 200.
EDGE_CLASSES = (
    ("Yoga für Anfänger — 初心者ヨガ 🧘", 60, 12),
    ('Mommy & Me "Tiny Toes" Ballet', 45, 1),
    ("O'Brien's Bootcamp", 30, 200),
    ("Guided Meditation: " + "Deep Rest " * 20, 90, 25),
)
#: Start times on the center's wall clock (hour, minute): classes are mornings and evenings.
MORNING_SLOTS = ((6, 30), (7, 0), (7, 30), (8, 0), (9, 0), (9, 30), (10, 0))
EVENING_SLOTS = ((17, 0), (17, 30), (18, 0), (18, 30), (19, 0), (19, 30), (20, 0))
#: How many sessions a center runs in a morning and in an evening, by weight.
SESSIONS_PER_HALF_DAY = OrderedDict([(0, 3), (1, 5), (2, 1)])
#: Days ahead the timetable is published: sessions up to this many days out are scheduled.
HORIZON_DAYS = 2
#: Bookings a session draws, as a share of its capacity (uniform between the two):
#: some sessions stay half empty, popular ones overflow into the waitlist.
DEMAND = (0.3, 1.6)
#: When bookings come, between publication and the waitlist's closing: the fraction of
#: that window is ``random() ** BOOKING_SKEW``, so most book soon after publication.
BOOKING_SKEW = 2.0
#: Guests a full session's waitlist takes before a booking is refused outright.
WAITLIST_SIZE = 5
#: Chance that a session whose waitlist starts gets more seats (an edit) before it closes.
MORE_SEATS_SHARE = 0.3
#: The waitlist closes this long before the start: who is still on it is rejected.
WAITLIST_CLOSES = timedelta(minutes=30)
#: What becomes of a session once scheduled. ``cancelled`` sessions are deleted
#: afterwards half the time; ``deleted`` ones are removed outright, bookings and all.
SESSION_FATES = OrderedDict([("held", 84), ("cancelled", 10), ("deleted", 6)])
DELETE_AFTER_CANCEL_SHARE = 0.5
#: Chance that a session is edited (length, capacity or description) before it starts.
EDIT_SHARE = 0.15
#: What becomes of a booking: most are kept; some are cancelled by the guest, a few are
#: deleted by the front desk (a mistake), and a kept booking is a no-show now and then.
BOOKING_FATES = OrderedDict([("kept", 86), ("cancelled", 12), ("deleted", 2)])
NO_SHOW_SHARE = 0.07
#: Share of sessions whose room is set on the schedule (the samples leave it null).
ROOM_SHARE = 0.6


@dataclass(frozen=True, slots=True)
class ClassKind:
    """A class a center teaches; ``number`` is Zenoti's integer id (class_id, workshop_id)."""

    number: int
    name: str
    duration: int
    capacity: int


@dataclass(slots=True)
class Session:
    """One scheduled session of a class. Mutable: an edit changes it in place."""

    number: int
    kind: ClassKind
    center: Center
    start: datetime
    duration: int
    capacity: int
    web_capacity: int
    room_id: str | None
    show_in_catalog: int
    is_free: bool
    #: ``scheduled`` until it is ``cancelled``, ``deleted`` or ``started``
    state: str = "scheduled"
    #: how many times it was edited: after an edit Zenoti writes "" and -1 where it wrote
    #: null before (the Updated sample)
    edits: int = 0
    description_text: str = ""
    #: bookings holding a seat, then bookings waiting for one (first come, first served)
    seated: list[ClassBooking] = field(default_factory=list)
    waiting: list[ClassBooking] = field(default_factory=list)
    guest_ids: set[str] = field(default_factory=set)

    # Fixed facts of every session we schedule, named for the schema's x-source.
    instructors = None
    recurrence = None
    is_recurring = False
    override_conflict_check = False
    enforce_add_on_conflict = False
    class_type = 1
    code = None

    @property
    def edited(self) -> bool:
        return self.edits > 0

    @property
    def name(self) -> str:
        return self.kind.name

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.duration)

    @property
    def start_time(self) -> str:
        return utc_text(self.start)

    @property
    def end_time(self) -> str:
        return utc_text(self.end)

    @property
    def description(self) -> str | None:
        return self.description_text if self.edited else None

    @property
    def html_description(self) -> str | None:
        return (f"<p>{self.description_text}</p>" if self.description_text else "") if self.edited else None

    @property
    def event_ref(self) -> int | None:
        return -1 if self.edited else None

    @property
    def virtual_link(self) -> str | None:
        return "" if self.edited else None

    @property
    def open(self) -> bool:
        return self.state == "scheduled"

    @property
    def full(self) -> bool:
        return len(self.seated) >= self.capacity


@dataclass(slots=True)
class ClassBooking:
    """A guest's registration into a session: seated, or waiting for a seat."""

    registration_id: int
    session: Session
    guest_id: str
    #: joined the waitlist (stays true once seated: the booking came from the waitlist)
    waitlisted: bool
    #: the invoice a seat from the waitlist is charged on (upper case, as in the samples)
    invoice_id: str
    #: ``seated``, ``waiting``; or over: ``cancelled``, ``deleted``, ``rejected``,
    #: ``no_show``, ``attended``
    state: str

    track_id = -1
    virtual_guests = None
    recurrence = None
    is_recurring = False


@dataclass(frozen=True, slots=True)
class Timetable:
    """A center's week: for each weekday (0 is Monday), the classes and their start times."""

    kinds: tuple[ClassKind, ...]
    week: tuple[tuple[tuple[ClassKind, int, int], ...], ...]


def build_timetable(rng: random.Random, profile: str) -> Timetable:
    """A center's classes and weekly timetable, drawn from the center's own stream."""
    menu = list(rng.sample(CLASSES, rng.randint(3, 6)))
    if profile == "edge":
        menu += rng.sample(EDGE_CLASSES, 2)
    kinds = tuple(ClassKind(rng.randint(1000, 30000), name, minutes, capacity) for name, minutes, capacity in menu)
    week = []
    for _ in range(7):
        day = []
        for slots in (MORNING_SLOTS, EVENING_SLOTS):
            for hour, minute in sorted(rng.sample(slots, pick(rng, SESSIONS_PER_HALF_DAY))):
                day.append((rng.choice(kinds), hour, minute))
        week.append(tuple(day))
    return Timetable(kinds, tuple(week))
