"""What follows a visit: the guest's feedback, guest passes redeemed, payments on the invoice.

These records are made by :mod:`emulator.world.actions.feedback`, :mod:`~emulator.world.actions.guestpasses`
and :mod:`~emulator.world.actions.payments`; the event schemas' ``x-source`` paths read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .entities import Center


@dataclass(frozen=True, slots=True)
class Rating:
    """Feedback V1's four scores, 1 to 5."""

    service: int
    therapist: int
    ambience: int
    cleanliness: int


@dataclass(frozen=True, slots=True)
class Tag:
    """A Feedback V2 tag: what the guest's rating was about."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Feedback:
    """A guest's feedback on a visit (an appointment group). Ids are upper case, as in
    both published samples."""

    organization_id: str
    center_id: str
    user_id: str
    appointment_group_id: str
    #: V1: a :class:`Rating`; V2: one score, 1 to 5
    rating_value: Rating | int
    comments: str
    source: int
    recommendation: bool
    share_feedback: bool
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True, slots=True)
class Membership:
    """The membership plan that grants guest passes."""

    id: str
    name: str


@dataclass(slots=True)
class GuestPassBook:
    """A member's allowance of guest passes: redeemed one at a time, never below zero."""

    id: str
    guest_id: str
    user_membership_id: str
    membership: Membership
    is_category: bool
    total: int
    used: int
    transferred: int = 0
    expired: int = 0
    frequency: str = "Any"

    @property
    def balance(self) -> int:
        return self.total - self.used - self.transferred - self.expired


@dataclass(frozen=True, slots=True)
class Redemption:
    """One guest pass redeemed at a check-in: the book's counts just after it."""

    id: str
    date: str
    guestpass_id: str
    guest_id: str
    session_id: int
    invoice_id: str
    user_membership_id: str
    membership: Membership
    is_category: bool
    total: int
    balance: int
    used: int
    transferred: int
    expired: int
    frequency: str


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment on an invoice as Invoice.Payments.* show it: the transaction and its center."""

    transaction_id: str
    payment_date: str
    amount_paid: float
    center: Center = field(repr=False)
