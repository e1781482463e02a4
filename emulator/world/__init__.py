"""The world: one seeded, mutable simulation of a Zenoti organization with one clock.

A :class:`World` holds what exists (centers with their staff, rooms and menus; guests;
booked groups, their appointments and invoices) and the calendars that keep bookings
apart. It knows nothing of events: :mod:`emulator.actions` change it and say which events
Zenoti would send, and :mod:`emulator.simulation` decides when actions happen.

Pure, like the rest of the core: no I/O, no global randomness, no real clock. Every draw
comes from a stream named after what it is for (:class:`~.randomness.Streams`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..variants import DEFAULT as DEFAULT_VARIANTS
from ..variants import Variants
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
    "Appointment", "AppointmentGroup", "Calendar", "Center", "Employee", "Guest", "Invoice", "InvoiceItem",
    "Organization", "Phone", "Product", "Room", "Service", "Streams", "Transaction", "World", "habits", "new_uuid", "pick",
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

    def __init__(self, seed: int, start: datetime, profile: str = "realistic", variants: Variants = DEFAULT_VARIANTS) -> None:
        self.seed = seed
        self.profile = profile
        #: the readings of facts receivers disagree on (:mod:`emulator.variants`): actions
        #: and the projection read them here, and nowhere else
        self.variants = variants
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
        #: how many groups each guest has that are not over yet (a guest with some is not deleted)
        self.open_groups: dict[str, int] = {}
        #: groups that later events can still mention
        self.groups: dict[str, AppointmentGroup] = {}
        #: state that plugged-in parts of the business keep (class schedules, memberships...),
        #: by the name of the module that keeps it
        self.extra: dict[str, Any] = {}
        self._invoice_numbers: dict[str, int] = {}
        self._guest_numbers = self.streams("guest-numbers").randint(300_000, 700_000)
        for index, center in enumerate(self.centers):
            rng = self.streams("first-guests", index)
            for n in range(habits.GUESTS_PER_CENTER):
                created = start - timedelta(days=rng.randint(1, 1500), seconds=rng.randint(0, 86_399))
                self.add_guest(build_guest(self.streams("guest", index, n), self.fake, center, self.next_guest_number(), created, profile))

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

    def add_guest(self, guest: Guest) -> None:
        self.guests[guest.id] = guest
        self.guests_at[guest.center_id].append(guest.id)
        self.open_groups.setdefault(guest.id, 0)

    def remove_guest(self, guest_id: str) -> Guest:
        guest = self.guests.pop(guest_id)
        self.guests_at[guest.center_id].remove(guest_id)
        del self.open_groups[guest_id]
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
