"""The reported event types: seen handled by receivers of real traffic, absent from Zenoti's docs.

- ``Guest.Merged``: the front desk merges a duplicate profile into another guest of the
  same center. The merged guest leaves the world, so no later event names them: only a
  guest with nothing that could name them later (no open booking or class seat, no
  membership or package) is merged away. ``data.guest`` is the survivor.
- ``AppointmentGroup.Updated``: a booked group is edited before the visit (its first
  service moves to another therapist free at that time); the payload is Created's, as
  the group now stands. A confirmed group goes back to booked (status 0), since the
  guest confirmed the old booking.
- ``AppointmentGroup.Delete``: some cancellations are made by deleting the booking: one
  event per appointment, no status event.

These are the world's own doings: they happen whatever the variant ``reported-events``
says; under ``off`` the events are simply not sent (:func:`emulator.variants.sends`), as
for a receiver that did not subscribe. Which group is edited or deleted is fixed by a
hash of its id, and merges draw from streams of their own, so no other draw moves.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, datetime, timedelta
from typing import Any

from .. import AppointmentGroup, Center, World, habits
from . import Emission, Scheduler, bookings

EMITS = ("Guest.Merged", "AppointmentGroup.Updated", "AppointmentGroup.Delete")

#: Merges per center per day (a Poisson mean): duplicates are found now and then.
MERGES_PER_DAY = 0.3
#: Share of groups edited between booking and the visit (those that will be visited or missed).
EDIT_SHARE = 0.06
#: Share of cancellations made by deleting the booking instead.
DELETE_SHARE = 0.25


def _share(world: World, what: str, key: str) -> float:
    digest = hashlib.blake2b(f"{world.seed}:{what}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


# -- Guest.Merged ----------------------------------------------------------------------


def _mergeable(world: World, center: Center, guest_id: str) -> bool:
    """Nothing ahead could name the guest: no open group or class seat, no membership or
    package (looked up without drawing the lazily made rosters)."""
    if world.open_groups.get(guest_id):
        return False
    roster = world.extra.get("memberships")
    if roster is not None and any(
        m.guest_id == guest_id for m in getattr(roster, "held", {}).get(center.id, {}).values()
    ):
        return False
    holdings = world.extra.get("packages")
    return not (holdings is not None and getattr(holdings, "of_guest", {}).get((center.id, guest_id)))


def merge_guests(world: World, survivor_id: str, merged_id: str, moment: datetime) -> list[Emission]:
    """Merge ``merged_id`` into ``survivor_id``: one guest remains."""
    if survivor_id == merged_id or survivor_id not in world.guests:
        raise AssertionError(f"cannot merge {merged_id} into {survivor_id}")
    merged = world.remove_guest(merged_id)
    survivor = world.guests[survivor_id]
    return [Emission("Guest.Merged", moment, f"guest-merged:{merged_id}", {"guest": survivor, "merged": merged})]


def _merge_at(sim: Scheduler, moment: datetime, center: Center, name: str) -> list[Emission]:
    world = sim.world
    rng = world.streams("guest-merge", center.id, name)
    ids = world.guests_at[center.id]
    if len(ids) < 2:
        return []
    for merged_id in rng.sample(ids, min(5, len(ids))):
        if _mergeable(world, center, merged_id):
            survivor_id = rng.choice([g for g in ids if g != merged_id])
            return merge_guests(world, survivor_id, merged_id, moment)
    return []


def _poisson(rng: random.Random, mean: float) -> int:
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


# -- AppointmentGroup.Updated ------------------------------------------------------------


def edit_group(world: World, group: AppointmentGroup, moment: datetime, rng: random.Random) -> list[Emission]:
    """Move the group's first service (with its add-ons) to another therapist on duty and
    free for all of it, if there is one; announce the group as it now stands; a confirmed
    group goes back to booked."""
    first, block_end = bookings._blocks(group.appointments)[0]
    center = group.center
    local = first.start.astimezone(center.zone)
    minute, last = (
        local.hour * 60 + local.minute,
        local.hour * 60 + local.minute + int((block_end - first.start).total_seconds()) // 60,
    )
    block = [
        a
        for a in group.appointments
        if a is first or (a.is_add_on and first.start <= a.start < block_end and a.therapist is first.therapist)
    ]
    others = [
        t
        for t, lo, hi in bookings._on_duty_on(world, center, local.weekday())
        if t is not first.therapist
        and (bookings._open_all_day(center) or (lo <= minute and last <= hi))
        and world.calendar.is_free(t.id, first.start, block_end)
    ]
    if others:
        therapist = rng.choice(others)
        world.calendar.release(first.therapist.id, first.start, block_end)
        bookings._mark(world, first, block_end, False)
        for appointment in block:
            appointment.therapist = therapist
            appointment.updated = moment.replace(microsecond=0)
        world.calendar.book(therapist.id, first.start, block_end)
        bookings._mark(world, first, block_end, True)
    context = {
        "organization": world.organization,
        "center": center,
        "guest": world.guests[group.guest_id],
        "group": group,
        "appointments": group.appointments,
    }
    emitted = [Emission("AppointmentGroup.Updated", moment, f"group-updated:{group.id}", context)]
    if group.status == habits.STATUS_CONFIRMED:
        emitted += bookings.set_status(world, group, habits.STATUS_BOOKED, moment)
    return emitted


def _edit_at(sim: Scheduler, moment: datetime, group: AppointmentGroup) -> list[Emission]:
    if group.id not in sim.world.groups or group.status not in (habits.STATUS_BOOKED, habits.STATUS_CONFIRMED):
        return []  # over, or already checked in: too late to edit
    return edit_group(sim.world, group, moment, sim.world.streams("group-edit", group.id))


# -- AppointmentGroup.Delete -------------------------------------------------------------


def delete_group(world: World, group: AppointmentGroup, moment: datetime) -> list[Emission]:
    """Delete the booking: its time is freed, one event per appointment, and it is over."""
    bookings.release(world, group)
    group.status = habits.STATUS_CANCELLED  # as good as cancelled for the world; no status is sent
    return [
        Emission(
            "AppointmentGroup.Delete",
            moment,
            f"group-delete:{group.id}:{appointment.id}",
            {"group": group, "appointment": appointment},
        )
        for appointment in group.appointments
    ]


def deleted(world: World, group: AppointmentGroup) -> bool:
    """Whether this group's cancellation is a deletion (a hash of its id decides)."""
    return group.fate == "cancelled" and _share(world, "delete", group.id) < DELETE_SHARE


# -- plugging in ----------------------------------------------------------------------------


def install(sim: Scheduler) -> None:
    def on_day(sim: Scheduler, moment: datetime, center: Center, day: date, rng: random.Random) -> list[Emission]:
        own = sim.world.streams("guest-merges", center.id, day.isoformat())
        midnight = datetime(day.year, day.month, day.day, tzinfo=center.zone)
        for n in range(_poisson(own, MERGES_PER_DAY)):
            when = (midnight + timedelta(hours=own.uniform(9, 19))).astimezone(moment.tzinfo)
            if when >= moment:
                key = f"{day.isoformat()}:{n}"
                sim.at(when, lambda at, c=center, name=key: _merge_at(sim, at, c, name))
        return []

    def on_booked(sim: Scheduler, moment: datetime, group: AppointmentGroup) -> list[Emission]:
        if group.fate not in ("completed", "no_show") or _share(sim.world, "edit", group.id) >= EDIT_SHARE:
            return []
        ahead = (group.first_start - moment).total_seconds()
        if ahead < 40 * 60:
            return []
        fraction = _share(sim.world, "edit-when", group.id)
        when = moment + timedelta(seconds=60 + fraction * (ahead - 30 * 60))  # at least 15 min before check-in
        sim.at(when, _edit_at_step(sim), group)
        return []

    sim.on("day", on_day)
    sim.on("group_booked", on_booked)


def _edit_at_step(sim: Scheduler) -> Any:
    return lambda moment, group: _edit_at(sim, moment, group)
