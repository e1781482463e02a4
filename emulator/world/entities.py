"""The things a Zenoti organization is made of, and the things that happen to them.

Two kinds. The *fixtures* of the business (organization, centers, rooms, employees,
services, products) are frozen: drawn once when the world is built. The *records* that
actions create (guests, appointment groups, appointments, invoices) change as the
simulation runs; a guest is frozen too and replaced whole on update, so that an event
about a guest always shows one consistent version of them.

Attributes are named for the world, not for Zenoti's keys; the schemas' ``x-source``
annotations map one to the other. The few ``@property`` texts (``start_time``...) are how
Zenoti writes an attribute, computed when an event shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from .geography import COUNTRIES, Country
from .invoice_fields import AdditionalField, additional_fields
from .timefmt import local_text, utc_text


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Employee:
    """A therapist or stylist: works at one center, on a shift, five days a week."""

    id: str
    code: str
    first_name: str
    last_name: str
    center_id: str
    #: first and last hour of the shift on the center's wall clock
    shift: tuple[int, int]
    #: weekdays off (0 is Monday)
    days_off: frozenset[int]

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    name: str
    code: str
    #: minutes
    duration: int
    needs_room: bool
    equipment: str | None
    equipment_id: str
    price: float
    add_ons: tuple[Service, ...] = ()


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    name: str
    code: str
    price: float


@dataclass(frozen=True, slots=True)
class Center:
    id: str
    name: str
    #: IANA zone name, e.g. ``America/Los_Angeles``
    zone_name: str
    zone: ZoneInfo
    #: what Zenoti prints before invoice numbers (``BEL1``)
    invoice_prefix: str | None
    #: opening and closing hour on the wall clock (24 = midnight)
    hours: tuple[int, int]
    rooms: tuple[Room, ...]
    therapists: tuple[Employee, ...]
    services: tuple[Service, ...]
    products: tuple[Product, ...]
    currency_id: int
    tax_rate: float
    #: the center charges a fee for a no-show
    charges_no_show: bool
    #: a cancellation this many hours before the start or later costs a fee (None: never)
    late_cancel_hours: int | None
    #: decides currency, prices, tax and the guests' names, addresses and phones
    country: Country = COUNTRIES["US"]


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone: the dialling code, the number, and Zenoti's country id (guests' phones
    carry both codes: ``country_code`` the id, ``phone_code`` the dialling code)."""

    country_code: int
    number: str
    country_id: int = -1

    @property
    def phone_code(self) -> int:
        return self.country_code

    @property
    def text(self) -> str:
        return f"+{self.country_code} {self.number}"


@dataclass(frozen=True, slots=True)
class Preferences:
    receive_transactional_email: bool
    receive_transactional_sms: bool
    receive_marketing_email: bool
    receive_marketing_sms: bool
    recieve_lp_stmt: bool
    opt_in_for_loyalty_program: bool
    transactional_sms_optin: int
    transactional_email_optin: int
    marketing_sms_optin: int
    marketing_email_optin: int
    transactional_whatsapp_optin: int
    receive_transactional_whatsapp: bool


@dataclass(frozen=True, slots=True)
class Guest:
    """A guest's profile. Replaced whole by an update: every later event shows the new one."""

    id: str
    #: Zenoti's integer key (``_id``)
    number: int
    code: str
    center_id: str
    center_name: str
    created: datetime
    first_name: str
    middle_name: str
    last_name: str
    email: str | None
    mobile: Phone | None
    gender: int
    date_of_birth: str | None
    nationality_id: int
    address_1: str
    address_2: str
    city: str
    country_id: int
    state_id: int
    zip_code: str
    preferences: Preferences
    user_name: str = ""
    is_minor: bool = False
    anniversary_date: str | None = None
    lock_guest_custom_data: bool = False
    pan: str = ""
    dob_incomplete_year: str | None = None
    state_other: str = ""
    work_phone: None = None
    home_phone: None = None

    @property
    def created_date(self) -> str:
        return utc_text(self.created)

    @property
    def mobile_text(self) -> str:
        return self.mobile.text if self.mobile else ""


@dataclass(slots=True)
class Appointment:
    """One booked service of a group, with its place in the calendars."""

    id: str
    invoice_item_id: str
    service: Service
    therapist: Employee
    room: Room | None
    center: Center
    start: datetime
    end: datetime
    created: datetime
    has_add_ons: bool
    is_add_on: bool
    appointment_type: int
    therapist_request_type: int
    is_recurring: bool
    show_in_calendar: bool
    #: 0 booked, 1 started, 2 completed (``appointment_progress``)
    progress: int = 0
    updated: datetime | None = None
    # Zenoti's texts of the times, written once at booking: every event shows them.
    start_time: str = field(init=False)
    end_time: str = field(init=False)
    start_time_in_center: str = field(init=False)
    end_time_in_center: str = field(init=False)
    creation_date: str = field(init=False)

    def __post_init__(self) -> None:
        zone = self.center.zone
        self.start_time, self.end_time = utc_text(self.start), utc_text(self.end)
        self.start_time_in_center, self.end_time_in_center = local_text(self.start, zone), local_text(self.end, zone)
        self.creation_date = utc_text(self.created)

    @property
    def last_updated_on(self) -> str:
        return utc_text(self.updated or self.created)

    @property
    def room_id(self) -> str | None:
        return self.room.id if self.room else None

    @property
    def room_name(self) -> str | None:
        return self.room.name if self.room else None

    @property
    def equipment_name(self) -> str | None:
        return self.service.equipment

    @property
    def equipment_id(self) -> str:
        return self.service.equipment_id


@dataclass(slots=True)
class InvoiceItem:
    invoice_item_id: str
    item_id: str
    name: str
    #: Zenoti's item types: 0 service, 2 product, 3 membership, 4 package, 5 day package,
    #: 6 prepaid or gift card
    type: int
    code: str
    currency_id: int
    sales: float
    tax: float
    discount: float
    sale_by_id: str
    therapist_name: str
    quantity: int = 1

    @property
    def final(self) -> float:
        return round(self.sales + self.tax, 2)


@dataclass(slots=True)
class Transaction:
    transaction_id: str
    payment_date: str
    amount_paid: float
    #: the tip given with this payment, on top of amount_paid (None: no tip; the key is left out)
    tip: float | None = None


@dataclass(slots=True)
class Invoice:
    """The invoice Zenoti opens at booking; closed at check-out, or refunded by another."""

    id: str
    number: int
    center: Center
    guest_id: str
    group_id: str | None
    sale_by_id: str
    items: list[InvoiceItem] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    receipt_number: str = "0"
    is_closed: bool = False
    is_refund: bool = False
    lock: bool = False
    invoice_date: str = "0001-01-01T00:00:00"
    rounding_adjustment: float = 0.0
    totals_currency_id: int = 0

    @property
    def number_text(self) -> str:
        return str(self.number)

    @property
    def additional_fields(self) -> tuple[AdditionalField, ...] | None:
        """The center's custom fields on this invoice, or ``None`` (most invoices)."""
        return additional_fields(self.id)

    @property
    def net_price(self) -> float:
        return round(sum(i.sales * i.quantity for i in self.items), 2)

    @property
    def tax(self) -> float:
        return round(sum(i.tax * i.quantity for i in self.items), 2)

    @property
    def sum_total(self) -> float:
        return round(self.net_price + self.tax + self.rounding_adjustment, 2)


@dataclass(slots=True)
class AppointmentGroup:
    """Appointments a guest booked together, their invoice, and where they stand."""

    id: str
    center: Center
    guest_id: str
    invoice: Invoice
    appointments: list[Appointment]
    created: datetime
    utm_source: str | None
    utm_medium: str | None
    #: what will become of it (a key of ``habits.FATES``), drawn at booking
    fate: str
    status: int = 0
    rebooked_source_group_id: str | None = None
    #: every status the group has had, in order (a status reached twice is a new event)
    history: list[int] = field(default_factory=list)

    @property
    def first_start(self) -> datetime:
        return min(a.start for a in self.appointments)

    @property
    def last_end(self) -> datetime:
        return max(a.end for a in self.appointments)
