"""What the world has shown so far: every entity an event named, found again by its id.

The world keeps only what later events still need: a group is let go once it is over
(:meth:`~emulator.world.World.forget`), a deleted guest leaves ``world.guests``. A
receiver may still ask Zenoti's API about them, so the :class:`Ledger` watches the
emissions as they pass and keeps a reference to every entity they carried. The
references are the world's own objects, not copies: an invoice paid after the booking
event, a membership frozen after its sale, are answered as they stand now. That is the
"one truth": the API reads the very objects the events were projected from.

A ledger is fed by :meth:`Ledger.watch` (a pass-through generator around the
simulation's emissions), so it costs one dict update per entity and event, and nothing
when nobody asks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ..world import Appointment, AppointmentGroup, Guest, Invoice, World
from ..world.actions import Emission

#: The event types after which the event's guest no longer exists (Zenoti answers 404).
#: A Guest.Merged's ``guest`` is the survivor: the guest merged away is its ``merged``.
GONE = frozenset({"Guest.Deleted"})


class Ledger:
    """Every entity the events of one world named, by id, with the world itself.

    :param world: the world the emissions come from; guests that existed before its
        clock started (and were never named by an event) are read from it directly.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        #: held while the simulation advances and while an answer is read, so an answer
        #: never sees half of an action
        self.lock = threading.RLock()
        #: the last version of each guest an event showed (a deleted guest stays here)
        self.guests: dict[str, Guest] = {}
        self.gone: set[str] = set()
        #: guests merged away (Guest.Merged), by id: the guest they became
        self.merged_into: dict[str, str] = {}
        self.groups: dict[str, AppointmentGroup] = {}
        self.invoices: dict[str, Invoice] = {}
        self.appointments: dict[str, tuple[Appointment, AppointmentGroup]] = {}
        self.memberships: dict[str, Any] = {}
        self.packages: dict[str, Any] = {}
        self.employees: dict[str, Any] = {}
        self.groups_of: dict[str, list[str]] = {}
        self.memberships_of: dict[str, list[str]] = {}
        self.packages_of: dict[str, list[str]] = {}
        #: the moment of the last emission seen: what "now" means for the answers
        self.moment: datetime = world.start
        self.events = 0

    # -- feeding ----------------------------------------------------------------------

    def watch(self, emissions: Iterable[Emission]) -> Iterator[Emission]:
        """Pass ``emissions`` through, recording each before it is handed on.

        Each step of the simulation runs under :attr:`lock`, so an answer read while a
        paced stream advances sees the world between two actions, never inside one.
        """
        steps = iter(emissions)
        while True:
            with self.lock:
                emission = next(steps, None)
                if emission is None:
                    return
                self.observe(emission)
            yield emission

    def observe(self, emission: Emission) -> None:
        """Record the entities ``emission`` carries (its context)."""
        context = emission.context
        self.moment = emission.moment
        self.events += 1
        guest = context.get("guest")
        if isinstance(guest, Guest):
            self.guests[guest.id] = guest
            if emission.event_type in GONE:
                self.gone.add(guest.id)
        merged = context.get("merged")
        if isinstance(merged, Guest) and isinstance(guest, Guest):
            self.guests.setdefault(merged.id, merged)
            self.merged_into[merged.id] = guest.id
        group = context.get("group")
        if isinstance(group, AppointmentGroup):
            if emission.event_type == "AppointmentGroup.Delete":
                self._forget(group)
            else:
                self._group(group)
        invoice = context.get("invoice")
        if isinstance(invoice, Invoice):
            self.invoices[invoice.id] = invoice
        for name, found, by_guest in (
            ("membership", self.memberships, self.memberships_of),
            ("package", self.packages, self.packages_of),
        ):
            thing = context.get(name)
            if thing is not None and thing.id not in found:
                found[thing.id] = thing
                by_guest.setdefault(thing.guest_id, []).append(thing.id)
        employee = context.get("employee")
        if employee is not None:
            self.employees[employee.id] = employee

    def _group(self, group: AppointmentGroup) -> None:
        if group.id not in self.groups:
            self.groups[group.id] = group
            self.groups_of.setdefault(group.guest_id, []).append(group.id)
        self.invoices.setdefault(group.invoice.id, group.invoice)
        for appointment in group.appointments:
            self.appointments[appointment.id] = (appointment, group)

    def _forget(self, group: AppointmentGroup) -> None:
        """A deleted booking is gone from the API, as from Zenoti's calendar (its invoice stays)."""
        if self.groups.pop(group.id, None) is not None:
            self.groups_of[group.guest_id].remove(group.id)
        for appointment in group.appointments:
            self.appointments.pop(appointment.id, None)

    # -- reading ----------------------------------------------------------------------

    def guest(self, guest_id: str) -> Guest | None:
        """The guest as they stand now; None when unknown or deleted. A guest merged away
        answers as the guest they became (a receiver holding the old id still finds the
        person; the answer's ``id`` tells it the survivor's)."""
        for _ in range(len(self.merged_into) + 1):  # a chain of merges ends; a cycle cannot
            survivor = self.merged_into.get(guest_id)
            if survivor is None:
                break
            guest_id = survivor
        if guest_id in self.gone:
            return None
        return self.world.guests.get(guest_id) or self.guests.get(guest_id)

    def last_seen_guest(self, guest_id: str) -> Guest | None:
        """The guest even when gone: an invoice still shows who it was for."""
        return self.world.guests.get(guest_id) or self.guests.get(guest_id)

    def all_guests(self) -> list[Guest]:
        """Every guest who exists now, in a stable order (the world's)."""
        return list(self.world.guests.values())
