"""When things happen: the world's one clock, driven by a queue of what is due next.

Each center plans its day at local midnight: how many guests book (and when, on the
center's wall clock), who is new, whose profile changes. A booking then schedules its own
future from its fate (:data:`~emulator.world.habits.FATES`): confirmation, check-in, each
appointment's start and completion, the invoice, maybe a refund; or a cancellation, a
no-show, a reschedule. The queue hands out the next due step in time order, so the events
come out in the order they happen and ``event_timestamp`` never goes back.

Every decision draws from a stream named after what it decides (a center's day, a
booking, a group), so the history of one seed is the same in every run.

Other parts of the business plug in without editing this module: a module of
:mod:`emulator.world.actions` may define ``install(sim)``, which subscribes handlers to the
moments listed in :data:`MOMENTS` with :meth:`Simulation.on` (a center's day begins, an
appointment is completed, an invoice is closed...) and schedules its own steps with
:meth:`Simulation.at`. A handler returns the emissions of that moment.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from . import AppointmentGroup, Center, World, habits, pick
from .actions import Emission, bookings, closing, guests, installers, invoices, reported

Step = Callable[..., list[Emission]]

#: What handlers can subscribe to, and the arguments each gets after ``(sim, moment)``.
MOMENTS = {
    "day": "center, day (the center's local date), rng (the center-day's stream)",
    "guest_created": "guest",
    "group_booked": "group",
    "group_checked_in": "group",
    "appointment_completed": "group, appointment",
    "invoice_closed": "group",
    "group_over": "group (cancelled, a no-show, or paid and past any refund)",
}


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means of a center's day."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _jitter(rng: random.Random, moment: datetime, low: float, high: float) -> datetime:
    """``moment`` plus ``low``..``high`` minutes, with seconds and microseconds."""
    return moment + timedelta(seconds=rng.uniform(low * 60, high * 60))


class Simulation:
    """Runs a :class:`World` forward and yields what it emits, in time order.

    Usage::

        world = World(seed=7, start=now)
        for emission in Simulation(world).run(until=now + timedelta(days=1)):
            ...
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self._queue: list[tuple[datetime, int, Step, tuple[Any, ...]]] = []
        self._order = itertools.count()
        self._handlers: dict[str, list[Callable[..., list[Emission]]]] = {name: [] for name in MOMENTS}
        for module in installers():
            module.install(self)
        for center in world.centers:
            today = world.start.astimezone(center.zone).date()
            self._at(world.start, self._plan_day, center, today)

    def at(self, moment: datetime, step: Step, *args: Any) -> None:
        """Do ``step(moment, *args)`` at ``moment`` (not before the clock's reading)."""
        heapq.heappush(self._queue, (max(moment, self.world.now), next(self._order), step, args))

    _at = at

    def on(self, moment_name: str, handler: Callable[..., list[Emission]]) -> None:
        """Call ``handler(sim, moment, ...)`` at each such moment (see :data:`MOMENTS`)."""
        if moment_name not in MOMENTS:
            raise ValueError(f"No moment {moment_name!r}: the simulation offers {', '.join(MOMENTS)}.")
        self._handlers[moment_name].append(handler)

    def _notify(self, moment_name: str, moment: datetime, *args: Any) -> list[Emission]:
        out: list[Emission] = []
        for handler in self._handlers[moment_name]:
            out.extend(handler(self, moment, *args))
        return out

    def run(self, until: datetime | None = None) -> Iterator[Emission]:
        """Every emission before ``until`` (forever when ``None``), in time order."""
        queue = self._queue
        last = self.world.start - timedelta(microseconds=1)
        while queue:
            if until is not None and queue[0][0] >= until:
                return
            moment, _, step, args = heapq.heappop(queue)
            self.world.advance(moment)
            for emission in step(moment, *args):
                # One microsecond per event: the order of events is the order of their
                # timestamps, whatever digits the text of a timestamp adds after them.
                if emission.moment <= last:
                    emission.moment = last + timedelta(microseconds=1)
                last = emission.moment
                yield emission

    # -- a center's day ----------------------------------------------------------------

    def _plan_day(self, moment: datetime, center: Center, day: date) -> list[Emission]:
        world = self.world
        rng = world.streams("day", center.id, day.isoformat())
        midnight = datetime(day.year, day.month, day.day, tzinfo=center.zone)
        tomorrow = day + timedelta(days=1)
        self._at(
            datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=center.zone).astimezone(UTC),
            self._plan_day,
            center,
            tomorrow,
        )

        def at_hour() -> datetime:
            hour = pick(rng, habits.BOOKING_HOURS)
            return (midnight + timedelta(hours=hour, seconds=rng.uniform(0, 3600))).astimezone(UTC)

        for n in range(_poisson(rng, habits.BOOKINGS_PER_THERAPIST[world.profile] * len(center.therapists))):
            when = at_hour()
            if when >= moment:
                self._at(when, self._arrive, center, f"{day.isoformat()}:{n}", rng.random() < habits.NEW_GUEST_SHARE)
        for n in range(_poisson(rng, habits.GUEST_UPDATES_PER_DAY)):
            when = at_hour()
            if when >= moment:
                self._at(when, self._update_guest, center, f"{day.isoformat()}:{n}")
        for n in range(_poisson(rng, habits.GUEST_DELETIONS_PER_DAY)):
            when = at_hour()
            if when >= moment:
                self._at(when, self._delete_guest, center, f"{day.isoformat()}:{n}")
        return self._notify("day", moment, center, day, world.streams("day-plugins", center.id, day.isoformat()))

    def _arrive(self, moment: datetime, center: Center, name: str, new_guest: bool) -> list[Emission]:
        """A guest wants to book: a new one is created first, minutes before they book."""
        world = self.world
        rng = world.streams("booking", center.id, name)
        if new_guest:
            guest, emitted = guests.create_guest(world, center, moment, rng)
            self._at(_jitter(rng, moment, 1, 12), self._book, center, guest.id, name)
            return emitted + self._notify("guest_created", moment, guest)
        home = center if rng.random() < habits.HOME_CENTER_SHARE else rng.choice(world.centers)
        returning, met = world.returning_guest(home, rng, moment)
        if returning is None:
            return []
        if met:  # a fresh account meets this guest for the first time: the desk creates them
            self._at(_jitter(rng, moment, 1, 12), self._book, center, returning.id, name)
            return [guests.announce_guest(returning, moment), *self._notify("guest_created", moment, returning)]
        return self._book(moment, center, returning.id, name, rng=rng)

    def _book(
        self,
        moment: datetime,
        center: Center,
        guest_id: str,
        name: str,
        rebooked_from: AppointmentGroup | None = None,
        rng: random.Random | None = None,
    ) -> list[Emission]:
        """Book for the guest; ``rng`` is the booking's stream when the arrival has one."""
        world = self.world
        if guest_id not in world.guests:
            return []  # deleted meanwhile
        rng = rng or world.streams("group", center.id, name)
        fate = pick(rng, habits.FATES)
        if rebooked_from is not None and fate == "rescheduled":
            fate = "completed"
        group, emitted = bookings.book(world, guest_id, center, moment, rng, fate=fate, rebooked_from=rebooked_from)
        if group is not None:
            self._plan_group(moment, group, rng)
            emitted += self._notify("group_booked", moment, group)
        return emitted

    def _plan_group(self, booked: datetime, group: AppointmentGroup, rng: random.Random) -> None:
        """Schedule the group's future from its fate."""
        start = group.first_start
        ahead = (start - booked).total_seconds() / 60  # minutes between booking and start
        if group.fate in ("cancelled", "late_cancel", "rescheduled"):
            if group.fate == "late_cancel" and group.center.late_cancel_hours:
                window = min(ahead, group.center.late_cancel_hours * 60)
                when = start - timedelta(minutes=rng.uniform(2, max(3.0, window - 1)))
            else:
                when = _jitter(rng, booked, 1, max(2.0, ahead * 0.8))
            when = min(max(when, booked + timedelta(seconds=30)), start - timedelta(minutes=1))
            step = self._reschedule if group.fate == "rescheduled" else self._cancel
            self._at(when, step, group)
            return
        if rng.random() < habits.CONFIRM_SHARE and ahead > 60:
            lead = min(ahead - 30, rng.uniform(60, 48 * 60))
            self._at(start - timedelta(minutes=lead), self._status, group, habits.STATUS_CONFIRMED)
        if group.fate == "no_show":
            self._at(_jitter(rng, start, 15, 30), self._status, group, habits.STATUS_NO_SHOW)
            return
        # The visit's times are drawn now, from the group's stream: when the guest checks
        # in, when each appointment starts (on time or a little late) and is done (by its
        # booked end, so an add-on, which starts then, never starts first), how long the
        # checkout takes.
        checked_in = _jitter(rng, start, -min(12.0, ahead * 0.5), 0)
        visit = []
        for appointment in group.appointments:
            began = max(_jitter(rng, appointment.start, 0, 3), checked_in + timedelta(seconds=1))
            visit.append((appointment, began, max(_jitter(rng, appointment.end, -3, 0), began + timedelta(seconds=30))))
        self._at(checked_in, self._check_in, group, visit, timedelta(minutes=rng.uniform(3, 20)))

    # -- the steps ------------------------------------------------------------------------

    def _status(self, moment: datetime, group: AppointmentGroup, status: int) -> list[Emission]:
        emitted = bookings.set_status(self.world, group, status, moment)
        if status in (habits.STATUS_CANCELLED, habits.STATUS_NO_SHOW):
            rng = self.world.streams("fee", group.id)
            if invoices.fee_flagged(group, emitted) and rng.random() < invoices.FEE_CHARGED_SHARE:
                self._at(_jitter(rng, moment, *invoices.FEE_MINUTES), self._charge_fee, group)
            else:
                emitted += self._over(moment, group)
        return emitted

    def _charge_fee(self, moment: datetime, group: AppointmentGroup) -> list[Emission]:
        return invoices.charge_fee(self.world, group, moment) + self._over(moment, group)

    def _over(self, moment: datetime, group: AppointmentGroup) -> list[Emission]:
        emitted = self._notify("group_over", moment, group)
        self.world.forget(group)
        return emitted

    def _cancel(self, moment: datetime, group: AppointmentGroup) -> list[Emission]:
        if reported.deleted(self.world, group):  # the front desk deletes the booking instead
            return reported.delete_group(self.world, group, moment) + self._over(moment, group)
        return self._status(moment, group, habits.STATUS_CANCELLED)

    def _reschedule(self, moment: datetime, group: AppointmentGroup) -> list[Emission]:
        """A new group for another day, naming the old one; then the old one is cancelled."""
        emitted = self._book(moment, group.center, group.guest_id, f"rebook:{group.id}", rebooked_from=group)
        return emitted + self._status(moment, group, habits.STATUS_CANCELLED)

    def _check_in(
        self,
        moment: datetime,
        group: AppointmentGroup,
        visit: list[tuple[Any, datetime, datetime]],
        checkout: timedelta,
    ) -> list[Emission]:
        emitted = bookings.set_status(self.world, group, habits.STATUS_CHECKED_IN, moment)
        for appointment, began, done in visit:
            self._at(began, self._start, group, appointment, done, checkout)
        return emitted + self._notify("group_checked_in", moment, group)

    def _start(
        self, moment: datetime, group: AppointmentGroup, appointment: Any, done: datetime, checkout: timedelta
    ) -> list[Emission]:
        self._at(done, self._complete, group, appointment, checkout)
        return bookings.start_appointment(self.world, group, appointment, moment)

    def _complete(
        self, moment: datetime, group: AppointmentGroup, appointment: Any, checkout: timedelta
    ) -> list[Emission]:
        emitted = bookings.complete_appointment(self.world, group, appointment, moment)
        if all(a.progress == 2 for a in group.appointments):
            self._at(moment + checkout, self._close_invoice, group)
        return emitted + self._notify("appointment_completed", moment, group, appointment)

    def _close_invoice(self, moment: datetime, group: AppointmentGroup) -> list[Emission]:
        rng = self.world.streams("checkout", group.id)
        emitted = invoices.close_invoice(self.world, group, moment, rng)
        emitted += self._notify("invoice_closed", moment, group)
        if not group.invoice.is_closed:  # left open: the desk closes it later, then the rest follows
            self._at(_jitter(rng, moment, *invoices.LEFT_OPEN_MINUTES), self._settle, group, rng)
            return emitted
        return emitted + self._closed(moment, group, rng)

    def _settle(self, moment: datetime, group: AppointmentGroup, rng: random.Random) -> list[Emission]:
        # Paid at last: the group closes now (status 1), as at a check-out that closed it;
        # the check-out's other followers (redemptions, payments) ran when it was left open.
        emitted = invoices.settle(self.world, group, moment) + closing.close_group(self.world, group, moment)
        return emitted + self._closed(moment, group, rng)

    def _closed(self, moment: datetime, group: AppointmentGroup, rng: random.Random) -> list[Emission]:
        """After the invoice is closed: maybe a refund, maybe an edit, then the group is over."""
        if rng.random() < habits.REFUND_SHARE:
            self._at(_jitter(rng, moment, 60 * 24, 60 * 24 * 6), self._refund, group)
            return []
        edits = self.world.streams("invoice-edited", group.id)
        if edits.random() < invoices.EDITED_SHARE:
            self._at(_jitter(edits, moment, *invoices.EDITED_MINUTES), self._amend, group)
            return []
        return self._over(moment, group)

    def _amend(self, moment: datetime, group: AppointmentGroup) -> list[Emission]:
        return invoices.amend(self.world, group, moment) + self._over(moment, group)

    def _refund(self, moment: datetime, group: AppointmentGroup) -> list[Emission]:
        emitted = invoices.refund(self.world, group, moment, self.world.streams("refund", group.id))
        return emitted + self._over(moment, group)

    # -- guests ---------------------------------------------------------------------------

    def _update_guest(self, moment: datetime, center: Center, name: str) -> list[Emission]:
        rng = self.world.streams("guest-update", center.id, name)
        ids = self.world.guests_at[center.id]
        return guests.update_guest(self.world, rng.choice(ids), moment, rng) if ids else []

    def _delete_guest(self, moment: datetime, center: Center, name: str) -> list[Emission]:
        rng = self.world.streams("guest-delete", center.id, name)
        ids = self.world.guests_at[center.id]
        for guest_id in rng.sample(ids, min(5, len(ids))):
            if not self.world.open_groups.get(guest_id):
                return guests.delete_guest(self.world, guest_id, moment)
        return []
