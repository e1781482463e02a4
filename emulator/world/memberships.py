"""Guest memberships: the plans a center sells, the memberships guests hold, and their habits.

A membership is sold on its own invoice and then lives on its own clock. A *recurring*
membership is collected every month on the day it was bought (the collection moves
``next_collection_date``); it can be frozen for a while, then unfrozen; it can be
cancelled, and a cancelled membership can only be reinstated. A *term* membership is paid
once for a year; when it expires, those that renew automatically are sold again as a new
membership (``Guest.Membership.Created``).

The state machine lives here, so that every action asserts the same rules:

=============  ==============================  ======================================
state          may become                      event
=============  ==============================  ======================================
active         frozen, cancelled               Guest.Membership.Freeze / .Cancelled
frozen         active                          Guest.Membership.Unfreeze
cancelled      active (reinstated)             Guest.Membership.Reinstate
=============  ==============================  ======================================
"""

from __future__ import annotations

import calendar
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime

from .entities import Center, Service
from .timefmt import utc_text

# -- habits: every distribution of the membership lifecycle, in one place ---------------

#: Memberships each center already has when the world starts (a Poisson mean is not
#: needed: the roster is drawn once).
ROSTER_SIZE = (14, 26)
#: New memberships sold per center per day (front desk and online), on average.
SALES_PER_DAY = 0.7
#: Share of check-outs at which the guest also buys a membership.
SALE_AT_CHECKOUT_SHARE = 0.02
#: Freezes and cancellations requested per center per day, on average.
FREEZES_PER_DAY = 0.7
CANCELLATIONS_PER_DAY = 0.45
#: How long a freeze lasts, in days (weight); some are lifted early by the front desk.
FREEZE_DAYS = OrderedDict([(2, 3), (3, 4), (5, 4), (7, 5), (14, 3), (30, 2)])
EARLY_UNFREEZE_SHARE = 0.25
#: Share of cancellations reinstated, half a day to 4 days later (the guest changes their mind).
REINSTATE_SHARE = 0.4
#: Share of term memberships that renew themselves when they expire.
AUTO_RENEW_SHARE = 0.6
#: Days of grace after a cancellation or a missed collection.
GRACE_PERIOD_DAYS = (0, 3, 5, 7)
CANCEL_REASONS = (
    "Moving away",
    "Financial reasons",
    "Not using it enough",
    "Medical reasons",
    "Switching to another location",
    "Membership Cancellation Reason",
)
FREEZE_COMMENTS = ("paused", "Travelling", "Injury", "Pregnancy", "Guest request", "")

#: (name, recurring, monthly or yearly price, credits of one service per cycle, credit balance)
PLANS: tuple[tuple[str, bool, float, int, float], ...] = (
    ("Monthly Massage Club", True, 89.0, 1, 0.0),
    ("Glow Facial Membership", True, 99.0, 1, 0.0),
    ("Wellness Unlimited", True, 189.0, 4, 25.0),
    ("10- Massages - mem", False, 1000.0, 10, 0.0),
    ("Annual VIP", False, 1450.0, 12, 100.0),
    ("Blowout Bar Pass", True, 129.0, 4, 0.0),
)
EDGE_PLANS: tuple[tuple[str, bool, float, int, float], ...] = (
    ("Club Détente ✨", True, 0.0, 1, 0.0),
    ("O'Brien's \"Forever\" Plan", False, 99999.99, 99, 0.01),
    ("M" * 150, True, 1.0, 1, 0.0),
)

#: ``recurrence_status`` as the samples show it: -1 on a paid-once membership, 3 on a
#: recurring one (the only two values published).
RECURRENCE_NONE, RECURRENCE_ACTIVE = -1, 3
#: ``status`` in every published sample, whatever happened to the membership.
STATUS_SOLD = 1
#: Sale invoices as the samples show them: 4 closed (paid, with a receipt), 0 open.
INVOICE_CLOSED = 4


@dataclass(frozen=True, slots=True)
class MembershipPlan:
    """What a center sells: a name, a price per cycle, and credits for one service."""

    id: str
    name: str
    code: str
    recurring: bool
    price: float
    service: Service
    credits: int
    credit_balance: float
    terms: str | None
    freeze_fee: float | None
    #: 1 in both samples: the only type published
    type: int = 1
    OTP_required: bool = False
    add_on_members_count: int = 0
    can_select_specific_post_expiry_setting: bool = False
    redeem_post_expiry: bool = True
    post_expiry_grace_days: int | None = None
    guestpass_total: int = 0
    guestpass_balance: int = 0
    lock_cycles: int = 0
    restrict_cross_center_redemption: bool = False
    freeze_fee_reason_enabled: bool = False
    is_dicount_only_membership: bool | None = None


@dataclass(frozen=True, slots=True)
class SaleInvoice:
    """The invoice a membership or a package was sold on (``BTS1325``, receipt ``BTSR522``)."""

    id: str
    no: str
    receipt_no: str
    item_id: str | None
    status: int = INVOICE_CLOSED
    allow_other_centers_for_action_on_invoices: bool = False


@dataclass(frozen=True, slots=True)
class Named:
    """``{"id", "name"}``: how these payloads name a guest, a center or an employee
    (both null where nobody is named, as an online sale's ``sold_by``)."""

    id: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class Place:
    """A center as Guest.Membership.Created shows it: the sample's location and zone are empty."""

    id: str
    name: str
    address_1: None = None
    address_2: None = None
    city: None = None
    state: None = None
    country: None = None
    time_zone_id: int = 0
    time_zone_name: None = None
    standard_name: None = None
    identifier_name: None = None
    abbreviation: None = None

    @classmethod
    def of(cls, center: Center) -> Place:
        return cls(center.id, center.name)


@dataclass(frozen=True, slots=True)
class Credit:
    """One service a membership gives sessions of, and how many are used (service_balance)."""

    service: Service
    total: int
    used: int
    is_category: bool
    last_usage_date: str | None
    has_segments: bool = False
    item_type: None = None
    sale_as_part_of_package_or_membership_only: None = None
    book_with_partial_balance: int = 1
    redeemable_balance: int = 0
    transfered: int = 0
    expired: int = 0
    frequncy: str = "Any"
    accrued_on: None = None
    exists_in_current_center: bool = True
    discount_type: int = 0
    peak_discount: float = 0
    offpeak_discount: float = 0
    post_credit_peak_discount: float = 0
    post_credit_offpeak_discount: float = 0
    price: None = None

    @property
    def balance(self) -> int:
        return self.total - self.used


@dataclass(frozen=True, slots=True)
class Freeze:
    start_date: str
    end_date: str
    #: 2 and 2 in the sample: the only values published
    type: int
    fee: float
    fee_type: int
    comments: str
    froze_by: str

    @property
    def ends(self) -> date:
        """The last day of the freeze, on the center's calendar: when it is lifted."""
        return date.fromisoformat(self.end_date[:10])


@dataclass(frozen=True, slots=True)
class Cancel:
    cancel_initiated_date: str
    cancel_date: str
    termination_date: str
    reason: str
    cancelled_by: str


@dataclass(slots=True)
class Membership:
    """One guest's membership, as it stands now."""

    id: str
    plan: MembershipPlan
    center: Center
    guest_id: str
    members: tuple[Named, ...]
    member_code: str | None
    invoice: SaleInvoice
    purchased: datetime
    expiry: date
    #: the next monthly collection (recurring memberships only)
    next_collection: date | None
    grace_period_days: int
    sold_by: Named
    auto_renew: bool
    used: int = 0
    state: str = "active"
    freeze: Freeze | None = None
    cancel: Cancel | None = None
    #: the latest freeze or cancellation began on this local date
    since: date | None = None
    last_usage: str | None = None
    renew_option_id: str = ""
    status: int = STATUS_SOLD
    is_refunded: bool = False
    pending_waive_collections: int = 0
    has_digital_form: bool = False
    tc_acceptedon: None = None
    recurring_details: None = None
    payment_history: list[object] = field(default_factory=list)

    # -- Zenoti's texts ---------------------------------------------------------------

    @property
    def group_user_membership_id(self) -> str:
        """In both samples that show it, the id of the invoice the membership was sold on."""
        return self.invoice.id

    @property
    def recurrence_status(self) -> int:
        return RECURRENCE_ACTIVE if self.plan.recurring else RECURRENCE_NONE

    @property
    def expiry_date(self) -> str:
        return f"{self.expiry.isoformat()}T00:00:00"

    @property
    def next_collection_date(self) -> str | None:
        return None if self.next_collection is None else f"{self.next_collection.isoformat()}T00:00:00"

    @property
    def grace_period_date(self) -> str | None:
        if self.cancel is None:
            return None
        return f"{_add_days(self.since, self.grace_period_days).isoformat()}T00:00:00" if self.since else None

    @property
    def purchase_date(self) -> str:
        return utc_text(self.purchased)[:10] + "T00:00:00"

    @property
    def balance(self) -> int:
        return max(0, self.plan.credits - self.used)

    @property
    def credit_total(self) -> float:
        return self.plan.credit_balance

    @property
    def payment_type(self) -> int:
        return 0

    @property
    def duration(self) -> int:
        return 1 if self.plan.recurring else 0

    @property
    def duration_type(self) -> int:
        return 1 if self.plan.recurring else 0

    @property
    def default_payment_info(self) -> str | None:
        return "Cash" if self.plan.recurring else None

    @property
    def service_balances(self) -> tuple[Credit, ...]:
        """The one service credit line (the samples each show one)."""
        plan = self.plan
        return (Credit(plan.service, plan.credits, min(self.used, plan.credits), plan.credits >= 10, self.last_usage),)

    @property
    def sales(self) -> float:
        return self.plan.price

    @property
    def tax(self) -> float:
        return round(self.plan.price * self.center.tax_rate, 2)

    @property
    def final(self) -> float:
        return round(self.sales + self.tax, 2)

    @property
    def currency_id(self) -> int:
        return self.center.currency_id

    @property
    def place(self) -> Place:
        return Place.of(self.center)

    @property
    def zero_credit(self) -> float:
        """Product and other credit: no plan here gives any."""
        return 0

    @property
    def credit_comments(self) -> None:
        return None

    @property
    def is_expired(self) -> bool:
        return False

    @property
    def renew_amount(self) -> float:
        return 0


def _add_days(day: date, days: int) -> date:
    return date.fromordinal(day.toordinal() + days)


def add_month(day: date) -> date:
    """The same day next month, or the month's last day (31 January -> 28/29 February)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_collection_after(purchased: date, today: date) -> date:
    """The first monthly anniversary of ``purchased`` after ``today``."""
    collection = add_month(purchased)
    while collection <= today:
        collection = add_month(collection)
    return collection


#: Which state may follow which: actions assert every move against this table.
LEGAL_MOVES: dict[str, frozenset[str]] = {
    "active": frozenset({"frozen", "cancelled"}),
    "frozen": frozenset({"active"}),
    "cancelled": frozenset({"active"}),
}


def move(membership: Membership, state: str) -> None:
    """Change the membership's state, or fail loudly on a move the rules forbid."""
    if state not in LEGAL_MOVES[membership.state]:
        raise AssertionError(f"membership {membership.id} cannot go from {membership.state} to {state}")
    membership.state = state
