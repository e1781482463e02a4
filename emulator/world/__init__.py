"""The world: one seeded, mutable simulation of a Zenoti organization with one clock.

A :class:`World` holds what exists (centers with their staff, rooms and menus; guests;
booked groups, their appointments and invoices) and the calendars that keep bookings
apart. It knows nothing of events: :mod:`emulator.world.actions` change it and say which events
Zenoti would send, and :mod:`emulator.world.simulation` decides when actions happen.

Pure, like the rest of the core: no I/O, no global randomness, no real clock. Every draw
comes from a stream named after what it is for (:class:`~.randomness.Streams`).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from ..variants import DEFAULT as DEFAULT_VARIANTS, Variants
from . import habits
from .build import build_guest, build_organization, make_faker
from .calendar import Calendar
from .entities import (
    Appointment,
    AppointmentGroup,
    Center,
    Employee,
    Guest,
    Invoice,
    InvoiceItem,
    Organization,
    Phone,
    Product,
    Room,
    Service,
    Transaction,
)
from .randomness import Streams, new_uuid, pick

__all__ = [
    "Appointment",
    "AppointmentGroup",
    "Calendar",
    "Center",
    "Employee",
    "Guest",
    "Invoice",
    "InvoiceItem",
    "Organization",
    "Phone",
    "Product",
    "Room",
    "Service",
    "Streams",
    "Transaction",
    "World",
    "habits",
    "new_uuid",
    "pick",
]

PROFILES = ("realistic", "edge")


class World:
    """One organization, as it stands at :attr:`now`.

    :param seed: decides everything: the same seed builds the same organization and,
        driven by the same simulation from the same start, makes the same history.
    :param start: the clock's first reading (aware). The calendar starts empty then:
        nothing is booked before it. Guests who exist already were created before it.
    :param variants: the chosen readings of disputed facts (:class:`~emulator.variants.Variants`).
    """

    def __init__(
        self,
        seed: int,
        start: datetime,
        profile: str = "realistic",
        variants: Variants = DEFAULT_VARIANTS,
        fresh: bool = False,
    ) -> None:
        self.seed = seed
        self.profile = profile
        #: the readings of facts receivers disagree on (:mod:`emulator.variants`): actions
        #: and the projection read them here, and nowhere else
        self.variants = variants
        #: an empty account: nothing exists before the start, every guest, employee,
        #: membership and package an event names is created in the stream first
        self.fresh = fresh
        self.streams = Streams(seed)
        self.start = self.now = start
        self.fake = make_faker()
        self.organization, self.centers = build_organization(self.streams, profile)
        self.center_by_id = {c.id: c for c in self.centers}
        self.calendar = Calendar()
        #: guests who exist (deleted ones are removed)
        self.guests: dict[str, Guest] = {}
        #: guest ids by home center, to pick a returning guest from
        self.guests_at: dict[str, list[str]] = {c.id: [] for c in self.centers}
        #: each center's guest base by slot: a guest id, None for a guest not met yet
        #: (built when first drawn), "" for a deleted guest; every
        #: :data:`~.habits.REGULAR_EVERY`-th slot is a regular (see :meth:`returning_guest`)
        self.roster: dict[str, list[str | None]] = {}
        self._slot: dict[str, int] = {}
        #: when each guest last booked (drawn as returning, or created), to space their visits
        self._booked: dict[str, datetime] = {}
        #: how many groups each guest has that are not over yet (a guest with some is not deleted)
        self.open_groups: dict[str, int] = {}
        #: groups that later events can still mention
        self.groups: dict[str, AppointmentGroup] = {}
        #: state that plugged-in parts of the business keep (class schedules, memberships...),
        #: by the name of the module that keeps it
        self.extra: dict[str, Any] = {}
        self._invoice_numbers: dict[str, int] = {}
        self._guest_numbers = self.streams("guest-numbers").randint(300_000, 700_000)
        for center in self.centers:
            self.roster[center.id] = [None] * (habits.GUESTS_PER_THERAPIST * len(center.therapists))
            if not fresh:  # mid-life: the first guests and regulars exist (the rest are built when they come)
                for n in range(habits.GUESTS_BUILT_AT_START):
                    self.guest_in_slot(center, n, start)
                for n in range(
                    habits.GUESTS_BUILT_AT_START,
                    habits.REGULARS_BUILT_AT_START * habits.REGULAR_EVERY,
                    habits.REGULAR_EVERY,
                ):
                    self.guest_in_slot(center, n, start)

    def guest_in_slot(self, center: Center, n: int, moment: datetime) -> Guest | None:
        """The guest of ``center``'s slot ``n``, built on first use from the slot's own stream:
        created before the start in a mid-life world, at ``moment`` in a fresh one (the
        caller announces it). None when the slot's guest was deleted."""
        found = self.roster[center.id][n]
        if found is not None:
            return self.guests.get(found)
        index = self.centers.index(center)
        rng = self.streams("guest", index, n)
        if self.fresh:
            created = moment.replace(microsecond=0)
        else:
            since = self.streams("guest-since", index, n)
            created = self.start - timedelta(days=since.randint(1, 1500), seconds=since.randint(0, 86_399))
        guest = build_guest(rng, self.fake, center, self.next_guest_number(), created, self.profile)
        self.add_guest(guest, slot=n)
        return guest

    def regulars_at(self, center: Center) -> list[str]:
        """The regulars of ``center`` met so far (those who hold memberships and packages)."""
        return [g for g in self.roster[center.id][:: habits.REGULAR_EVERY] if g]

    def returning_guest(self, center: Center, rng: random.Random, moment: datetime) -> tuple[Guest | None, bool]:
        """A guest of ``center``'s base who books again, and whether they are new to the
        account (a fresh world's guest met for the first time: announce them).

        Regulars (every :data:`~.habits.REGULAR_EVERY`-th slot) take
        :data:`~.habits.REGULAR_VISIT_SHARE` of the returning visits, the others share the rest:
        regulars come every few weeks, the others every few months.
        """
        slots = self.roster[center.id]
        size = len(slots)
        if not size:
            return None, False
        every = habits.REGULAR_EVERY
        regulars = -(-size // every)
        soonest = moment - timedelta(days=habits.DAYS_BETWEEN_BOOKINGS)
        for _ in range(3):  # a guest who booked days ago is not back yet: someone else books
            if size == regulars or rng.random() < habits.REGULAR_VISIT_SHARE:
                n = every * rng.randrange(regulars)
            else:
                j = rng.randrange(size - regulars)
                n = j + j // (every - 1) + 1
            found = slots[n]
            if not found or self._booked.get(found, soonest) <= soonest:
                break
        else:
            return None, False
        guest = self.guest_in_slot(center, n, moment)
        if guest is not None:
            self._booked[guest.id] = moment
        return guest, found is None and guest is not None and self.fresh

    # -- records ---------------------------------------------------------------------

    def next_guest_number(self) -> int:
        self._guest_numbers += 1
        return self._guest_numbers

    def next_invoice_number(self, center: Center) -> int:
        number = self._invoice_numbers.get(center.id)
        if number is None:
            number = self.streams("invoice-numbers", center.id).randint(1000, 20000)
        self._invoice_numbers[center.id] = number + 1
        return number

    def add_guest(self, guest: Guest, slot: int | None = None) -> None:
        """A guest joins their home center's base: a new slot, or the slot drawn for them."""
        self.guests[guest.id] = guest
        self.guests_at[guest.center_id].append(guest.id)
        self.open_groups.setdefault(guest.id, 0)
        slots = self.roster[guest.center_id]
        if slot is None:  # a new guest: they book right away
            slot = len(slots)
            slots.append(guest.id)
            self._booked[guest.id] = guest.created
        else:
            slots[slot] = guest.id
        self._slot[guest.id] = slot

    def remove_guest(self, guest_id: str) -> Guest:
        guest = self.guests.pop(guest_id)
        self.guests_at[guest.center_id].remove(guest_id)
        del self.open_groups[guest_id]
        self.roster[guest.center_id][self._slot.pop(guest_id)] = ""
        self._booked.pop(guest_id, None)
        return guest

    def forget(self, group: AppointmentGroup) -> None:
        """Let a group go: no later event can mention it (bounded memory over long runs)."""
        if self.groups.pop(group.id, None) is not None and group.guest_id in self.open_groups:
            self.open_groups[group.guest_id] -= 1

    def advance(self, moment: datetime) -> None:
        """Move the clock forward (never back) and let go of calendars' past."""
        if moment < self.now:
            raise AssertionError(f"the world's clock cannot go back from {self.now} to {moment}")
        if moment.date() != self.now.date():
            self.calendar.forget_before(moment - timedelta(days=1))
        self.now = moment
