"""Guests book groups of services; groups are confirmed, checked in, cancelled or missed;
appointments start and complete.

Booking finds room in the calendars: every appointment gets a therapist on shift and,
when its service needs one, a room, both free for its whole time; add-ons follow their
parent with the same therapist and room. Nothing is ever booked twice at once.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from .. import Appointment, AppointmentGroup, Center, Employee, Invoice, Room, Service, World, habits, new_uuid, pick
from ..timefmt import next_dst_change
from . import Emission

EMITS = ("AppointmentGroup.Created", "AppointmentGroup.Status", "Appointment.Started", "Appointment.Completed")

#: ``world.extra`` key of the therapists each center books from once its staff changed
#: (:mod:`.employees` keeps it: a hire joins, a leaver goes); a center absent from it books
#: from its own ``therapists``.
ROSTER = "roster"
#: Appointments start on this grid of minutes.
GRID = timedelta(minutes=15)
#: The soonest a booking can start after it is made.
MIN_NOTICE = timedelta(minutes=20)
#: How many days past the wished-for one booking looks for room before giving up.
DAYS_TO_TRY = 7

#: One service to place: the service, its chosen add-ons, and whether it runs beside the one before.
Wish = tuple[Service, tuple[Service, ...], bool]


def wishes(rng: random.Random, center: Center, profile: str) -> list[Wish]:
    """The services a guest wants, drawn from the center's menu."""
    out: list[Wish] = []
    for index in range(pick(rng, habits.GROUP_SIZES[profile])):
        service = rng.choice(center.services)
        add_ons = tuple(a for a in service.add_ons if rng.random() < habits.ADD_ON_SHARE)
        out.append((service, add_ons, index > 0 and rng.random() < habits.PARALLEL_SHARE))
    return out


#: A start to try: the instant (UTC), its minute on the center's wall clock, its weekday.
Candidate = tuple[datetime, int, int]


def _cache(world: World, name: str) -> dict[Any, Any]:
    """A cache that lives with the world (two worlds may share a center id, not a center)."""
    return world.extra.setdefault(f"bookings.{name}", {})  # type: ignore[no-any-return]


def _grid(world: World, center: Center, day: date) -> list[Candidate]:
    """Every start on the 15-minute grid of the center's opening hours on ``day``, computed
    once per center and day (a zone conversion each is the costly part of booking)."""
    grids = _cache(world, "grids")
    key = (center.id, day)
    grid = grids.get(key)
    if grid is None:
        if len(grids) > 5_000:
            grids.clear()
        opens, closes = center.hours
        weekday = day.weekday()
        grid = grids[key] = [
            (datetime(day.year, day.month, day.day, h, m, tzinfo=center.zone).astimezone(UTC), h * 60 + m, weekday)
            for h in range(opens, min(closes, 24))
            for m in (0, 15, 30, 45)
        ]
    return grid


def _candidate_starts(
    world: World, center: Center, day: date, rng: random.Random, not_before: datetime, soonest: bool = False
) -> Iterator[Candidate]:
    """Start times to try on ``day`` (the center's wall clock), on the grid, in a random
    rotation so that bookings spread over the day instead of piling up at opening
    (``soonest``: in time order, as a walk-in takes the first free slot)."""
    if world.profile == "edge" and not soonest:
        shape = rng.random()
        if shape < 0.35:  # groups that run past midnight
            steps = [(23, 0), (23, 15), (23, 30), (23, 45), (22, 30), (22, 45)]
            for h, m in steps:
                moment = datetime(day.year, day.month, day.day, h, m, tzinfo=center.zone).astimezone(UTC)
                if moment >= not_before:
                    yield moment, h * 60 + m, day.weekday()
            return
        if shape < 0.7:  # groups that span a change of the clocks
            change = next_dst_change(center.zone, not_before + timedelta(minutes=90))
            if change is not None:
                for minutes in (30, 45, 60, 90):
                    moment = change - timedelta(minutes=minutes)
                    local = moment.astimezone(center.zone)
                    yield moment, local.hour * 60 + local.minute, local.weekday()
                return
    grid = _grid(world, center, day)
    cut = 0 if soonest else rng.randrange(len(grid))
    for index in range(len(grid)):
        candidate = grid[(cut + index) % len(grid)]
        if candidate[0] >= not_before:
            yield candidate


def _open_all_day(center: Center) -> bool:
    """Edge centers never close: their groups cross midnight and changes of the clocks, so
    neither wall-clock minutes of one day nor shifts bound them."""
    return center.hours == (0, 24)


def _on_duty_on(world: World, center: Center, weekday: int) -> tuple[tuple[Employee, int, int], ...]:
    """The therapists who work on ``weekday``, each with the first and last minute of the
    day they can take appointments (their shift inside the center's hours)."""
    duties = _cache(world, "duty")
    key = (center.id, weekday)
    # The roster, once staff changed (a new tuple each time): the table is made again then.
    therapists = world.extra.get(ROSTER, {}).get(center.id, center.therapists)
    cached = duties.get(key)
    if cached is not None and cached[0] is therapists:
        return cached[1]  # type: ignore[no-any-return]
    if _open_all_day(center):
        duty = tuple((t, -(10**6), 10**6) for t in therapists)
    else:
        opens, closes = center.hours
        duty = tuple(
            (t, max(opens, t.shift[0]) * 60, min(closes, t.shift[1]) * 60)
            for t in therapists
            if weekday not in t.days_off
        )
    duties[key] = (therapists, duty)
    return duty


#: Every minute of a day, as bits.
_WHOLE_DAY = (1 << 24 * 60) - 1


def _busy(world: World, center: Center, day: date) -> dict[str, int]:
    """Which wall-clock minutes of ``day`` each therapist and room of ``center`` is booked:
    bit ``m`` is minute ``m`` after local midnight. Kept beside the calendars (which stay
    the authority) for the grid search of centers that close at night, where a day's
    bookings never cross midnight or a change of the clocks."""
    days: dict[tuple[str, date], dict[str, int]] = _cache(world, "busy")
    found = days.get((center.id, day))
    if found is None:
        if len(days) > 5_000:  # the past is never searched again
            cut = world.now.date() - timedelta(days=2)
            for key in [k for k in days if k[1] < cut]:
                del days[key]
        found = days[(center.id, day)] = {}
    return found


def _mark(world: World, appointment: Appointment, end: datetime, booked: bool) -> None:
    """Book (or free) the minutes of ``appointment`` up to ``end`` in :func:`_busy`."""
    center = appointment.center
    if _open_all_day(center):
        return
    local = appointment.start.astimezone(center.zone)
    first = local.hour * 60 + local.minute
    bits = ((1 << int((end - appointment.start).total_seconds()) // 60) - 1) << first
    busy = _busy(world, center, local.date())
    for resource in (appointment.therapist, appointment.room):
        if resource is not None:
            busy[resource.id] = busy.get(resource.id, 0) | bits if booked else busy.get(resource.id, 0) & ~bits


def _runs(free: int, length: int) -> int:
    """The bits ``i`` of ``free`` such that bits ``i`` to ``i + length - 1`` are all set."""
    span = 1
    while span * 2 <= length:
        free &= free >> span
        span *= 2
    return free & (free >> (length - span)) if span < length else free


def fitting_starts(world: World, center: Center, day: date, minutes: int, needs_room: bool) -> int:
    """The wall-clock minutes of ``day`` (as bits) at which a first service ``minutes`` long
    finds a therapist on duty and free for all of it, and a free room when it needs one.

    Exactly the test :func:`_place` makes of a group's first service, for a whole day at
    once: starts that fail it are not tried. Once the next days fill up, two thirds of the
    starts booking tried were on days with none free.
    """
    busy = _busy(world, center, day)
    therapists = 0
    for therapist, lo, hi in _on_duty_on(world, center, day.weekday()):
        if hi - lo >= minutes:
            therapists |= _runs(((1 << hi) - (1 << lo)) & ~busy.get(therapist.id, 0), minutes)
    if needs_room and therapists:
        rooms = 0
        for room in center.rooms:
            rooms |= _runs(_WHOLE_DAY & ~busy.get(room.id, 0), minutes)
        therapists &= rooms
    return therapists


def _place(
    world: World, center: Center, wanted: Sequence[Wish], candidate: Candidate, rng: random.Random
) -> list[tuple[Service, Employee, Room | None, datetime, datetime, bool, bool]] | None:
    """Where each appointment of the group goes if the group starts at ``candidate``.

    The hot path of booking (a few candidates per booking): therapists on duty come from a
    table per center and weekday, and wall-clock minutes are added up, not converted.
    """
    is_free = world.calendar.is_free
    taken: list[tuple[str, datetime, datetime]] = []  # this group's own tentative bookings

    def free(resource: str, start: datetime, end: datetime) -> bool:
        if not is_free(resource, start, end):
            return False
        return not taken or all(r != resource or e <= start or end <= s for r, s, e in taken)

    first_start, first_minute, weekday = candidate
    duty = _on_duty_on(world, center, weekday)
    count = len(duty)
    if not count:
        return None
    placed = []
    block_start = block_end = first_start
    for service, add_ons, parallel in wanted:
        start = block_start if parallel else block_end
        minutes = service.duration + sum(a.duration for a in add_ons)
        end = start + timedelta(minutes=minutes)
        # Opening hours hold no change of the clocks (those come at night): wall minutes add up.
        first = first_minute + int((start - first_start).total_seconds()) // 60
        last = first + minutes
        offset = rng.randrange(count)  # a random therapist first, so work spreads
        person = None
        for index in range(count):
            therapist, lo, hi = duty[(offset + index) % count]
            if lo <= first and last <= hi and free(therapist.id, start, end):
                person = therapist
                break
        if person is None:
            return None
        room = None
        if service.needs_room:
            room = next((r for r in center.rooms if free(r.id, start, end)), None)
            if room is None:
                return None
            taken.append((room.id, start, end))
        taken.append((person.id, start, end))
        at = start
        for item, is_add_on in ((service, False), *((a, True) for a in add_ons)):
            finish = at + timedelta(minutes=item.duration)
            placed.append((item, person, room, at, finish, bool(add_ons) and not is_add_on, is_add_on))
            at = finish
        block_start, block_end = start, max(block_end, end)
    return placed


def book(
    world: World,
    guest_id: str,
    center: Center,
    moment: datetime,
    rng: random.Random,
    *,
    fate: str,
    rebooked_from: AppointmentGroup | None = None,
    lead_days: int | None = None,
    wanted: Sequence[Wish] | None = None,
    soonest: bool = False,
) -> tuple[AppointmentGroup | None, list[Emission]]:
    """Book a group for the guest at ``center``, on the first day from their wish with room.

    ``wanted`` names the services instead of drawing them (a scenario's step does);
    ``soonest`` takes the first free start instead of one spread over the day.

    :return: the group and its AppointmentGroup.Created, or ``(None, [])`` when the center
        has no room for it within :data:`DAYS_TO_TRY` days (the guest gives up).
    """
    if wanted is None:
        wanted = wishes(rng, center, world.profile)
    lead = pick(rng, habits.LEAD_DAYS) if lead_days is None else lead_days
    not_before = moment + MIN_NOTICE
    today = moment.astimezone(center.zone).date()
    first, first_add_ons, _ = wanted[0]
    minutes = first.duration + sum(a.duration for a in first_add_ons)
    placed = None
    for extra in range(DAYS_TO_TRY):
        day = today + timedelta(days=lead + extra)
        # Centers open all day search start by start (no bitmap covers a night).
        fits = -1 if _open_all_day(center) else fitting_starts(world, center, day, minutes, first.needs_room)
        if not fits:
            continue
        for candidate in _candidate_starts(world, center, day, rng, not_before, soonest):
            if not fits >> candidate[1] & 1:
                continue
            placed = _place(world, center, wanted, candidate, rng)
            if placed:
                break
        if placed:
            break
    if not placed:
        return None, []
    created = moment.replace(microsecond=0)
    appointment_type = pick(rng, habits.APPOINTMENT_TYPES)
    request_type = pick(rng, habits.THERAPIST_REQUEST_TYPES)
    recurring = rng.random() < habits.RECURRING_SHARE
    shown = rng.random() >= habits.HIDDEN_FROM_CALENDAR_SHARE
    appointments = [
        Appointment(
            new_uuid(rng),
            new_uuid(rng),
            service,
            person,
            room,
            center,
            start,
            end,
            created,
            has_add_ons,
            is_add_on,
            appointment_type,
            request_type,
            recurring,
            shown,
        )
        for service, person, room, start, end, has_add_ons, is_add_on in placed
    ]
    for appointment, block_end in _blocks(appointments):
        world.calendar.book(appointment.therapist.id, appointment.start, block_end)
        if appointment.room is not None:
            world.calendar.book(appointment.room.id, appointment.start, block_end)
        _mark(world, appointment, block_end, True)
    source, medium = _utm(rng)
    invoice = Invoice(
        new_uuid(rng), world.next_invoice_number(center), center, guest_id, None, appointments[0].therapist.id
    )
    group = AppointmentGroup(
        new_uuid(rng),
        center,
        guest_id,
        invoice,
        appointments,
        created,
        source,
        medium,
        fate,
        rebooked_source_group_id=rebooked_from.id if rebooked_from else None,
    )
    invoice.group_id = group.id
    world.groups[group.id] = group
    world.open_groups[guest_id] = world.open_groups.get(guest_id, 0) + 1
    context = {
        "organization": world.organization,
        "center": center,
        "guest": world.guests[guest_id],
        "group": group,
        "appointments": appointments,
    }
    return group, [Emission("AppointmentGroup.Created", moment, f"group-created:{group.id}", context)]


def _blocks(appointments: list[Appointment]) -> list[tuple[Appointment, datetime]]:
    """Each service with the end of its add-ons: the time its therapist and room are held."""
    out: list[tuple[Appointment, datetime]] = []
    for appointment in appointments:
        if appointment.is_add_on:
            out[-1] = (out[-1][0], appointment.end)
        else:
            out.append((appointment, appointment.end))
    return out


def _utm(rng: random.Random) -> tuple[str | None, str | None]:
    """Source and medium drawn together: no medium without a source; booknow's medium is
    the real source (reported)."""
    source = pick(rng, habits.UTM_SOURCES)
    if source is None:
        return None, None
    if source == "booknow":
        return source, pick(rng, habits.BOOKNOW_MEDIUMS)
    return source, pick(rng, habits.UTM_MEDIUMS)


def release(world: World, group: AppointmentGroup) -> None:
    """Free the group's therapists and rooms (a cancellation, a no-show, a deletion)."""
    for appointment, block_end in _blocks(group.appointments):
        world.calendar.release(appointment.therapist.id, appointment.start, block_end)
        if appointment.room is not None:
            world.calendar.release(appointment.room.id, appointment.start, block_end)
        _mark(world, appointment, block_end, False)


def status_code(world: World, status: int) -> int | None:
    """The code AppointmentGroup.Status sends for the world's ``status`` (Zenoti's API
    codes), or ``None`` when none is sent. Under the variant ``status-1=cancelled`` (one
    receiver's reading) a cancellation sends 1 and closing sends nothing."""
    if world.variants["status-1"] == "cancelled":
        if status == habits.STATUS_CANCELLED:
            return habits.STATUS_CLOSED
        if status == habits.STATUS_CLOSED:
            return None
    return status


def set_status(world: World, group: AppointmentGroup, status: int, moment: datetime) -> list[Emission]:
    """Move the group to ``status``; an illegal move is a bug in the simulation.

    The event carries the optional ``data.guest`` on :data:`~emulator.world.habits.STATUS_GUEST_SHARE`
    of them, decided by a hash of the event's key (no stream's draws move).
    """
    if status not in habits.LEGAL_MOVES[group.status]:
        raise AssertionError(f"group {group.id} cannot move from status {group.status} to {status}")
    group.status = status
    group.history.append(status)
    center = group.center
    if status in (habits.STATUS_CANCELLED, habits.STATUS_NO_SHOW):
        release(world, group)
    late = center.late_cancel_hours is not None and group.first_start - moment <= timedelta(
        hours=center.late_cancel_hours
    )
    code = status_code(world, status)
    again = group.history.count(status) - 1
    key = f"group-status:{group.id}:{status}" + (f":{again}" if again else "")
    guest = world.guests.get(group.guest_id) if _share(world, key) < habits.STATUS_GUEST_SHARE else None
    fees = SimpleNamespace(
        noshow_fee="Yes" if center.charges_no_show else "No",
        cancellation_fee="Yes" if late else "No",
        code=code,
        guest=guest,
    )
    context = {"group": group, "status": fees}
    return [Emission("AppointmentGroup.Status", moment, key, context, sent=code is not None)]


def _share(world: World, key: str) -> float:
    """A number in [0, 1) fixed by the seed and ``key``: a draw that moves no stream."""
    digest = hashlib.blake2b(f"{world.seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _progress(kind: str, group: AppointmentGroup, appointment: Appointment, moment: datetime) -> Emission:
    context = {"group": group, "center": group.center, "appointments": [appointment]}
    return Emission(kind, moment, f"{kind}:{appointment.id}", context)


def start_appointment(
    world: World, group: AppointmentGroup, appointment: Appointment, moment: datetime
) -> list[Emission]:
    if group.status != habits.STATUS_CHECKED_IN or appointment.progress != 0:
        raise AssertionError(
            f"appointment {appointment.id} cannot start: group status {group.status}, progress {appointment.progress}"
        )
    appointment.progress = 1
    appointment.updated = moment.replace(microsecond=0)
    return [_progress("Appointment.Started", group, appointment, moment)]


def complete_appointment(
    world: World, group: AppointmentGroup, appointment: Appointment, moment: datetime
) -> list[Emission]:
    if appointment.progress != 1:
        raise AssertionError(f"appointment {appointment.id} completes before it started")
    appointment.progress = 2
    appointment.updated = moment.replace(microsecond=0)
    return [_progress("Appointment.Completed", group, appointment, moment)]
