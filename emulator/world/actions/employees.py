"""Staff join, change their profile, leave and are deleted.

A center hires now and then (a therapist joins the roster that booking draws from, a
receptionist does not book); profiles change (a new phone, a new job title, shown online
or not); people leave. A therapist who leaves is taken off the roster at once, so no new
booking names them, and is deleted only once their last booked appointment is over, so
no event about a booking ever names a deleted employee. Front-desk staff book nothing and
are deleted the day they leave.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .. import Center, World
from ..staff import JOBS, StaffMember, hire, make_profile
from . import Emission, Scheduler
from .bookings import ROSTER

EMITS = ("Employee.Created", "Employee.Updated", "Employee.Deleted")

#: Per center and day, on average: hires (Employee.Created), profile changes
#: (Employee.Updated) and departures (an Updated setting end_date, then Employee.Deleted).
#: Far above a real spa's turnover, so that a week's simulation shows every type.
HIRES_PER_DAY = 0.3
UPDATES_PER_DAY = 0.6
DEPARTURES_PER_DAY = 0.3
#: Of departures, the share that are front-desk staff (deleted the same day).
FRONT_DESK_DEPARTURE_SHARE = 0.6
#: Of hires, the share who book appointments (the rest work the front desk).
BOOKABLE_HIRE_SHARE = 0.6
#: A center keeps at least this many therapists: a departure that would leave fewer is a
#: front-desk departure instead.
MIN_THERAPISTS = 3
#: Front-desk staff a center has when the world is built.
FRONT_DESK = 2
#: Staff work is done in office hours on the center's wall clock.
OFFICE_HOURS = (9, 18)

_BOOKABLE_JOBS = tuple(job for job in JOBS if job[1])
_DESK_JOBS = tuple(job for job in JOBS if not job[1])


class Staff:
    """Everyone employed per center, with their profiles; kept in ``world.extra``."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.profiles: dict[str, StaffMember] = {}
        self.members: dict[str, list[str]] = {}
        roster: dict[str, tuple[Any, ...]] = world.extra.setdefault(ROSTER, {})
        self.roster = roster

    def at(self, center: Center) -> list[str]:
        """The ids of ``center``'s staff, its first staff drawn on first use."""
        ids = self.members.get(center.id)
        if ids is None:
            ids = self.members[center.id] = []
            start = self.world.start.astimezone(center.zone).date()
            for therapist in center.therapists:
                rng = self.world.streams("employee", therapist.id)
                self._add(make_profile(rng, therapist, center, rng.choice(_BOOKABLE_JOBS), _days_before(rng, start)))
            for n in range(FRONT_DESK):
                rng = self.world.streams("front-desk", center.id, n)
                self._add(hire(rng, self.world.fake, center, rng.choice(_DESK_JOBS), _days_before(rng, start)))
        return ids

    def therapists(self, center: Center) -> tuple[Any, ...]:
        return self.roster.get(center.id, center.therapists)

    def _add(self, member: StaffMember) -> None:
        self.profiles[member.id] = member
        self.members.setdefault(member.center_id, []).append(member.id)

    def join(self, center: Center, member: StaffMember) -> None:
        self.at(center)
        self._add(member)
        if member.bookable:
            self.roster[center.id] = (*self.therapists(center), member.employee)

    def leave(self, center: Center, member: StaffMember) -> None:
        """Off the roster (booked no more) and out of the staff that later picks draw from."""
        self.members[center.id].remove(member.id)
        if member.bookable:
            self.roster[center.id] = tuple(t for t in self.therapists(center) if t.id != member.id)


def _days_before(rng: random.Random, day: date) -> str:
    return (day - timedelta(days=rng.randint(30, 3000))).strftime("%Y-%m-%dT00:00:00")


def _staff(world: World) -> Staff:
    staff = world.extra.get(__name__)
    if staff is None:
        staff = world.extra[__name__] = Staff(world)
    return staff


def _emission(kind: str, member: StaffMember, moment: datetime) -> Emission:
    return Emission(kind, moment, f"{kind}:{member.id}:{moment.isoformat()}", {"employee": member})


# -- actions ------------------------------------------------------------------------------


def hire_employee(world: World, center: Center, moment: datetime, rng: random.Random) -> list[Emission]:
    """A new employee starts today; a therapist can be booked from now on."""
    jobs = _BOOKABLE_JOBS if rng.random() < BOOKABLE_HIRE_SHARE else _DESK_JOBS
    today = moment.astimezone(center.zone).strftime("%Y-%m-%dT00:00:00")
    member = hire(rng, world.fake, center, rng.choice(jobs), today)
    _staff(world).join(center, member)
    return [_emission("Employee.Created", member, moment)]


def update_employee(world: World, employee_id: str, moment: datetime, rng: random.Random) -> list[Emission]:
    """One part of the profile changes; every later event shows the new version."""
    staff = _staff(world)
    old = staff.profiles[employee_id]
    what = rng.choice(("mobile", "email", "catalog", "job"))
    if what == "mobile":
        new = dataclasses.replace(
            old,
            mobile=dataclasses.replace(old.mobile, number=world.center_by_id[old.center_id].country.mobile_number(rng)),
        )
    elif what == "email":
        new = dataclasses.replace(
            old, email=f"{old.first_name[:1].lower() or 'e'}{rng.randint(10, 999)}@{old.email.partition('@')[2]}"
        )
    elif what == "catalog":
        new = dataclasses.replace(old, show_in_catalog=not old.show_in_catalog)
    else:
        jobs = _BOOKABLE_JOBS if old.bookable else _DESK_JOBS
        new = dataclasses.replace(old, job_name=rng.choice(jobs)[0])
    staff.profiles[employee_id] = new
    return [_emission("Employee.Updated", new, moment)]


def employee_leaves(world: World, center: Center, employee_id: str, moment: datetime) -> list[Emission]:
    """Their last day is today: ``end_date`` is set, and nobody books them any more."""
    staff = _staff(world)
    staff.at(center)
    member = staff.profiles[employee_id] = dataclasses.replace(
        staff.profiles[employee_id], end_date=moment.astimezone(center.zone).strftime("%Y-%m-%dT00:00:00")
    )
    staff.leave(center, member)
    return [_emission("Employee.Updated", member, moment)]


def delete_employee(world: World, employee_id: str, moment: datetime) -> list[Emission]:
    """Delete someone who left and has nothing booked ahead."""
    staff = _staff(world)
    member = staff.profiles.pop(employee_id)
    last = world.calendar.last_end(employee_id)
    if last is not None and last > moment:
        raise AssertionError(f"employee {employee_id} is deleted with appointments booked until {last}")
    return [_emission("Employee.Deleted", member, moment)]


# -- when they happen ---------------------------------------------------------------------


def _count(rng: random.Random, mean: float, slots: int = 4) -> int:
    """How many of something happen in a day: a binomial draw of mean ``mean`` (small means)."""
    return sum(rng.random() < mean / slots for _ in range(slots))


def install(sim: Scheduler) -> None:
    """Plan each center's staff work for its day, in office hours."""

    def office_hour(rng: random.Random, center: Center, day: date) -> datetime:
        opens, closes = OFFICE_HOURS
        local = datetime(day.year, day.month, day.day, tzinfo=center.zone) + timedelta(
            seconds=rng.uniform(opens * 3600, closes * 3600)
        )
        return local.astimezone(UTC)

    def on_day(sim: Scheduler, moment: datetime, center: Center, day: date, _: random.Random) -> list[Emission]:
        rng = sim.world.streams("employees-day", center.id, day.isoformat())
        for kind, mean in (("hire", HIRES_PER_DAY), ("update", UPDATES_PER_DAY), ("leave", DEPARTURES_PER_DAY)):
            for n in range(_count(rng, mean)):
                when = office_hour(rng, center, day)
                if when >= moment:
                    sim.at(when, step, center, kind, f"{day.isoformat()}:{kind}:{n}")
        return []

    def step(moment: datetime, center: Center, kind: str, name: str) -> list[Emission]:
        world = sim.world
        rng = world.streams("employee-step", center.id, name)
        staff = _staff(world)
        ids = staff.at(center)
        if kind == "hire":
            return hire_employee(world, center, moment, rng)
        if kind == "update":
            return update_employee(world, rng.choice(ids), moment, rng) if ids else []
        therapists = [i for i in ids if staff.profiles[i].bookable]
        desk = [i for i in ids if not staff.profiles[i].bookable]
        if therapists and len(therapists) > MIN_THERAPISTS and (not desk or rng.random() >= FRONT_DESK_DEPARTURE_SHARE):
            leaver = rng.choice(therapists)
            emitted = employee_leaves(world, center, leaver, moment)
            sim.at(_after_last_booking(world, leaver, moment, rng), deletion, leaver)
            return emitted
        if not desk:
            return []
        leaver = rng.choice(desk)
        emitted = employee_leaves(world, center, leaver, moment)
        sim.at(moment + timedelta(minutes=rng.uniform(5, 240)), deletion, leaver)
        return emitted

    def deletion(moment: datetime, employee_id: str) -> list[Emission]:
        return delete_employee(sim.world, employee_id, moment)

    def opening(moment: datetime) -> list[Emission]:
        """A fresh account: the staff the centers open with are created before anything else."""
        staff = _staff(sim.world)
        return [
            _emission("Employee.Created", staff.profiles[i], moment)
            for center in sim.world.centers
            for i in staff.at(center)
        ]

    sim.on("day", on_day)
    if sim.world.fresh:
        sim.at(sim.world.start, opening)


def _after_last_booking(world: World, employee_id: str, moment: datetime, rng: random.Random) -> datetime:
    """A day or three after the leaver's last booked appointment (or after today)."""
    last = world.calendar.last_end(employee_id)
    return max(moment, last or moment) + timedelta(hours=rng.uniform(24, 72))
