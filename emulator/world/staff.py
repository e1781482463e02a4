"""The staff of a center as Zenoti's Employee events show them: more than the booking needs.

Booking knows a therapist as an :class:`~.entities.Employee` (name, shift, days off).
Employee events show the whole profile: contact details, job, start and end dates,
catalog settings. A :class:`StaffMember` wraps the employee with that profile; like a
guest it is frozen and replaced whole on update, so one event shows one version of it.

Profiles of the staff a world is built with are drawn lazily, each from the employee's own
stream, the first time an event shows them: a run that never touches staff draws nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

from .build import _ascii, set_random
from .entities import Center, Employee, Phone
from .randomness import new_uuid

#: .NET's "no date", which Zenoti writes for every unset date of an employee.
NO_DATE = "0001-01-01T00:00:00"
#: The all-zero GUID, Zenoti's "nobody" (``created_by``, ``security_profile_id``).
NO_ID = "00000000-0000-0000-0000-000000000000"
#: Jobs a spa's staff hold: (name as Zenoti prints it, books appointments). The samples
#: show "BEAUTICIAN" and "THERAPIST", upper case.
JOBS: tuple[tuple[str, bool], ...] = (
    ("THERAPIST", True),
    ("BEAUTICIAN", True),
    ("STYLIST", True),
    ("ESTHETICIAN", True),
    ("RECEPTIONIST", False),
    ("CENTER MANAGER", False),
)
#: Zenoti's culture ids seen in the samples (54, 44) and a few more of the same kind.
CULTURE_IDS = (54, 54, 54, 44, 31, 9)
COMPANY_NAMES = ("Serenity Spa Group", "KQA", "Glow Holdings")


@dataclass(frozen=True, slots=True)
class StaffMember:
    """One employee's profile, as every Employee event shows it whole."""

    employee: Employee
    email: str
    mobile: Phone
    #: Zenoti's code: -1 unset (the sample), 0, 1 male, 2 female
    gender: int
    job_id: str
    job_name: str
    #: books appointments (a therapist), or works the front desk
    bookable: bool
    #: the center's local date they started, Zenoti's text (``2022-03-22T00:00:00``)
    start_date: str
    country_id: int
    state_id: int
    culture_id: int
    company_name: str
    show_in_catalog: bool
    #: their last day, once they leave; :data:`NO_DATE` while they work here
    end_date: str = NO_DATE

    @property
    def id(self) -> str:
        return self.employee.id

    @property
    def code(self) -> str:
        return self.employee.code

    @property
    def center_id(self) -> str:
        return self.employee.center_id

    @property
    def first_name(self) -> str:
        return self.employee.first_name

    @property
    def last_name(self) -> str:
        return self.employee.last_name

    @property
    def notification_name(self) -> str:
        return self.employee.full_name

    @property
    def username(self) -> str:
        return self.email.lower()

    @property
    def home_phone(self) -> Phone:
        return Phone(self.mobile.country_code, "")

    @property
    def work_phone(self) -> Phone:
        return Phone(self.mobile.country_code, "")


def make_profile(
    rng: random.Random, employee: Employee, center: Center, job: tuple[str, bool], start_date: str
) -> StaffMember:
    """The profile of ``employee``, every value drawn from ``rng`` (the employee's stream)."""
    country = center.country
    user = f"{_ascii(employee.first_name).lower()}.{_ascii(employee.last_name).lower()}".replace(" ", "").replace(
        "'", ""
    )
    email = (
        f"{user or 'staff'}@{_ascii(center.name).lower().replace(' ', '').replace('.', '').replace(chr(39), '')}spa.com"
    )
    number = country.mobile_number(rng) if rng.random() < 0.7 else ""
    return StaffMember(
        employee=employee,
        email=email,
        mobile=Phone(country.phone_code, number),
        gender=rng.choice((-1, 0, 1, 0, 0)),
        job_id=new_uuid(rng),
        job_name=job[0],
        bookable=job[1],
        start_date=start_date,
        country_id=country.zenoti_id,
        state_id=rng.choice(country.states)[0],
        culture_id=rng.choice(CULTURE_IDS),
        company_name=rng.choice(COMPANY_NAMES),
        show_in_catalog=rng.random() < 0.6,
    )


def hire(rng: random.Random, fake: Faker, center: Center, job: tuple[str, bool], start_date: str) -> StaffMember:
    """A new employee of ``center``: a shift inside its hours, two days off, a profile."""
    en = fake["en_US"]
    set_random(en, rng)
    first, last = en.first_name(), en.last_name()
    opens, closes = center.hours
    length = min(closes - opens, rng.choice((8, 8, 9, 10)))
    start = opens + rng.randint(0, max(0, closes - opens - length))
    code = "".join(rng.choice("0123456789") for _ in range(rng.choice((3, 4))))
    employee = Employee(
        new_uuid(rng), code, first, last, center.id, (start, start + length), frozenset(rng.sample(range(7), 2))
    )
    return make_profile(rng, employee, center, job, start_date)
