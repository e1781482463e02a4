"""Guest packages: prepaid sessions of services, redeemed one visit at a time.

A package is sold on its own invoice with a number of sessions of each of its services
and a validity (start, end, and an end with grace). Sessions are redeemed at check-out,
one per completed appointment of a service the package covers, while the package has
sessions of it left; a redemption can be reversed (the session comes back). A package
closes when its last session is used or when it expires (``Guest.Package.StatusUpdate``);
the front desk extends some packages before they expire (``.ValidityUpdate``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime

from .entities import Center, Employee, Service
from .memberships import Named, SaleInvoice
from .timefmt import utc_text

# -- habits: every distribution of the package lifecycle, in one place ------------------

#: Packages each center's guests already hold when the world starts (drawn once).
ROSTER_SIZE = (50, 70)
#: Packages sold per center per day away from a visit, and the share of check-outs at
#: which the guest buys a package of a service they just had.
SALES_PER_DAY = 0.3
SALE_AT_CHECKOUT_SHARE = 0.05
#: Share of redemptions reversed (a mistake at the desk, a refunded visit), minutes to
#: two days later.
REVERSAL_SHARE = 0.25
#: Share of packages about to expire whose validity the front desk extends instead.
EXTEND_SHARE = 0.35
#: Extensions granted, in days (weight).
EXTENSION_DAYS = OrderedDict([(14, 3), (30, 5), (60, 2), (90, 1)])
#: Validity of a package, in days (weight), and the grace after it.
VALIDITY_DAYS = OrderedDict([(30, 3), (90, 5), (180, 4), (365, 3)])
GRACE_DAYS = (0, 0, 14, 25)

#: (name, sessions of each of its services, how many services, discount on list price)
PLANS: tuple[tuple[str, int, int, float], ...] = (
    ("Series of 3", 3, 1, 0.10),
    ("Series of 5", 5, 1, 0.15),
    ("Series of 6", 6, 1, 0.20),
    ("Bridal Package", 1, 3, 0.10),
    ("Relax & Renew Package", 2, 2, 0.12),
    ("Spa Day Package", 1, 4, 0.15),
)
EDGE_PLANS: tuple[tuple[str, int, int, float], ...] = (
    ("Séance découverte 🌿", 1, 1, 0.0),
    ("O'Brien's \"Mega\" Package", 40, 4, 0.5),
    ("P" * 150, 2, 1, 1.0),
)

#: ``user_package_state`` (the samples show 2 on a package being used and 0 on one whose
#: status changed): we send 2 while it is open, 0 once it is closed.
STATE_OPEN, STATE_CLOSED = 2, 0
STATUS_SOLD = 1
#: ``service_category_type`` in the samples: 1, 2 and 3 (meanings unpublished).
CATEGORY_TYPES = (1, 2, 3)


@dataclass(frozen=True, slots=True)
class PackagePlan:
    id: str
    name: str
    code: str
    price: float
    validity_days: int
    #: (service, sessions, service_category_type, price of one session in the package)
    lines: tuple[tuple[Service, int, int, float], ...]
    #: 0 in every sample: the only type published
    type: int = 0
    is_OTP_required: bool = False


@dataclass(slots=True)
class PackageLine:
    """One service of a guest's package: how many sessions, how many used."""

    service: Service
    total: int
    used: int
    category_type: int
    package_service_price: float
    exists_in_current_center: bool = True
    price: None = None
    sale_as_part_of_package_or_membership_only: bool | None = False
    book_with_partial_balance: int = 1
    has_segments: bool = False

    @property
    def balance(self) -> int:
        return self.total - self.used

    @property
    def balance_amount(self) -> float:
        return round(self.balance * self.package_service_price, 2)


@dataclass(frozen=True, slots=True)
class Redemption:
    """One session used at a visit: the visit's invoice line, service and therapist."""

    invoice_id: str
    invoice_no: str
    item_id: str
    service: Service
    category_type: int
    therapist: Employee
    center: Center
    #: the appointment's start on the center's clock, as the samples write it
    usage_date: str
    invoice_status: int = 4

    @property
    def therapist_named(self) -> Named:
        return Named(self.therapist.id, self.therapist.full_name)

    @property
    def center_named(self) -> Named:
        return Named(self.center.id, self.center.name)


@dataclass(slots=True)
class GuestPackage:
    """A guest's package, as it stands now."""

    id: str
    plan: PackagePlan
    center: Center
    guest_id: str
    invoice: SaleInvoice
    purchased: datetime
    start: date
    end: date
    grace_days: int
    lines: list[PackageLine]
    state: int = STATE_OPEN
    status: int = STATUS_SOLD
    is_refunded: bool = False
    has_first_redemption: bool = False
    start_validity_at_first_redemption: bool = False
    never_expires: bool = False
    lookup_package_user_id: None = None
    completed_schedules: int | None = None
    next_schedule_date: str | None = None
    #: the redemptions shown by the event being emitted (one visit's, or those reversed)
    redemptions: tuple[Redemption, ...] = ()
    #: steps scheduled that change it (a reversal, a closing, an extension): while one
    #: is due, nothing else closes the package
    pending: int = 0
    #: ``{id: null, no: null}`` in every sample (meaning unpublished)
    sale_invoice: _NoSaleInvoice = field(default_factory=lambda: _NO_SALE_INVOICE)

    @property
    def purchase_date(self) -> str:
        return utc_text(self.purchased)

    @property
    def start_text(self) -> str:
        return f"{self.start.isoformat()}T00:00:00"

    @property
    def end_text(self) -> str:
        return f"{self.end.isoformat()}T00:00:00"

    @property
    def end_with_grace(self) -> date:
        return date.fromordinal(self.end.toordinal() + self.grace_days)

    @property
    def end_with_grace_text(self) -> str:
        return f"{self.end_with_grace.isoformat()}T00:00:00"

    @property
    def expiration_days(self) -> int:
        return self.plan.validity_days

    @property
    def sessions_left(self) -> int:
        return sum(line.balance for line in self.lines)

    @property
    def center_named(self) -> Named:
        return Named(self.center.id, self.center.name)

    @property
    def tax(self) -> float:
        """Packages here are sold tax-free (the samples show a tax of 0)."""
        return 0.0

    @property
    def no_products(self) -> tuple[()]:
        """No package here holds products: product redemption lists are always empty."""
        return ()


@dataclass(frozen=True, slots=True)
class _NoSaleInvoice:
    id: None = None
    no: None = None


_NO_SALE_INVOICE: _NoSaleInvoice = _NoSaleInvoice()
