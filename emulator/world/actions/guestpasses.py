"""Members redeem guest passes when they check in.

Some guests hold a membership that grants guest passes (drawn once per guest, from their
own stream); at a check-in such a guest may redeem one for the friend they bring. A book
never goes below zero: with no pass left, nothing is redeemed.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from .. import AppointmentGroup, World, new_uuid
from ..aftercare import GuestPassBook, Membership, Redemption
from ..timefmt import utc_text
from . import Emission, Scheduler

EMITS = ("Guestpass.redeemed",)

#: Share of guests whose membership grants guest passes.
HOLDER_SHARE = 0.15
#: Share of a holder's check-ins at which they redeem a pass.
REDEEM_SHARE = 0.5
#: Membership plans that grant passes: (name, passes a year).
PLANS = (("Spa Essentials", 12), ("Wellness Plus", 24), ("Unlimited Glow", 55))


class Passes:
    """Guest-pass books by guest id (None: the guest holds none); kept in ``world.extra``."""

    def __init__(self, world: World) -> None:
        rng = world.streams("guestpass-plans")
        self.plans = tuple((Membership(new_uuid(rng), name), total) for name, total in PLANS)
        self.books: dict[str, GuestPassBook | None] = {}
        self.session_id = world.streams("guestpass-sessions").randint(10_000, 90_000)

    def book(self, world: World, guest_id: str) -> GuestPassBook | None:
        if guest_id not in self.books:
            rng = world.streams("guestpass-holder", guest_id)
            book = None
            if rng.random() < HOLDER_SHARE:
                plan, total = rng.choice(self.plans)
                used = rng.randint(0, total - 1)
                held = new_uuid(rng)
                if world.fresh:  # an empty account: passes come with a membership sold in the stream
                    mine = _held_membership(world, guest_id)
                    if mine is None:
                        return None  # not remembered: a membership bought later may grant some
                    held, plan, used = mine.id, Membership(mine.plan.id, mine.plan.name), 0
                book = GuestPassBook(
                    new_uuid(rng),
                    guest_id,
                    held,
                    plan,
                    rng.random() < 0.5,
                    total,
                    used,
                    expired=rng.choice((0, 0, 0, min(1, total - used - 1))),
                )
            self.books[guest_id] = book
        return self.books[guest_id]


def _held_membership(world: World, guest_id: str) -> Any:
    """A membership ``guest_id`` holds (sold in this stream), or None."""
    from .memberships import _roster  # the memberships module keeps who holds what

    for held in _roster(world).held.values():
        for membership in held.values():
            if membership.guest_id == guest_id:
                return membership
    return None


def _passes(world: World) -> Passes:
    passes = world.extra.get(__name__)
    if passes is None:
        passes = world.extra[__name__] = Passes(world)
    return passes


def redeem(world: World, group: AppointmentGroup, moment: datetime, rng: random.Random) -> list[Emission]:
    """Redeem one of the guest's passes at this visit, if they have one left."""
    passes = _passes(world)
    book = passes.book(world, group.guest_id)
    if book is None or book.balance <= 0:
        return []
    book.used += 1
    passes.session_id += rng.randint(1, 40)
    redemption = Redemption(
        new_uuid(rng).upper(),
        utc_text(moment),
        book.id,
        book.guest_id,
        passes.session_id,
        group.invoice.id,
        book.user_membership_id,
        book.membership,
        book.is_category,
        book.total,
        book.balance,
        book.used,
        book.transferred,
        book.expired,
        book.frequency,
    )
    return [Emission("Guestpass.redeemed", moment, f"guestpass:{group.id}", {"redemption": redemption})]


def install(sim: Scheduler) -> None:
    def on_checked_in(sim: Scheduler, moment: datetime, group: AppointmentGroup) -> list[Emission]:
        rng = sim.world.streams("guestpass", group.id)
        return redeem(sim.world, group, moment, rng) if rng.random() < REDEEM_SHARE else []

    sim.on("group_checked_in", on_checked_in)
