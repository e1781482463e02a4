"""Guest memberships: sold, collected every month, frozen and unfrozen, cancelled and
sometimes reinstated; term memberships renew themselves when they expire.

Each center keeps a roster of the memberships its guests hold (``world.extra``), drawn
when its first day begins. The rules of :mod:`emulator.world.memberships` hold every
move: a membership is frozen before it is unfrozen, and after a cancellation the only
thing that can happen to it is a reinstatement.

What happens to one membership is a public function (:func:`create_membership`,
:func:`freeze_membership`, :func:`unfreeze_membership`, :func:`cancel_membership`,
:func:`reinstate_membership`), called alike by the simulation's steps below (which decide
who and when, and what follows) and by a scenario's steps (which are told).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from .. import AppointmentGroup, Center, World, pick
from ..memberships import (
    AUTO_RENEW_SHARE,
    CANCEL_REASONS,
    CANCELLATIONS_PER_DAY,
    EARLY_UNFREEZE_SHARE,
    EDGE_PLANS,
    FREEZE_COMMENTS,
    FREEZE_DAYS,
    FREEZES_PER_DAY,
    GRACE_PERIOD_DAYS,
    PLANS,
    REINSTATE_SHARE,
    ROSTER_SIZE,
    SALE_AT_CHECKOUT_SHARE,
    SALES_PER_DAY,
    Cancel,
    Freeze,
    Membership,
    MembershipPlan,
    Named,
    add_month,
    move,
    next_collection_after,
)
from ..randomness import new_uuid
from ..timefmt import local_text
from . import Emission, Scheduler, invoices
from ._desk import arrivals, kept, sale_invoice, staff_name

EMITS = (
    "Guest.Membership.Created",
    "Guest.Membership.Freeze",
    "Guest.Membership.Unfreeze",
    "Guest.Membership.Cancelled",
    "Guest.Membership.Reinstate",
)


class Roster:
    """The memberships of one world, by center; what ``world.extra["memberships"]`` holds."""

    def __init__(self) -> None:
        self.plans: dict[str, tuple[MembershipPlan, ...]] = {}
        #: center id -> membership id -> membership (those a later event can mention)
        self.held: dict[str, dict[str, Membership]] = {}


def _roster(world: World) -> Roster:
    return kept(world, "memberships", Roster)


def _plans(world: World, center: Center) -> tuple[MembershipPlan, ...]:
    roster = _roster(world)
    plans = roster.plans.get(center.id)
    if plans is None:
        rng = world.streams("membership-plans", center.id)
        table = PLANS + EDGE_PLANS if world.profile == "edge" else PLANS
        plans = roster.plans[center.id] = tuple(
            MembershipPlan(
                new_uuid(rng),
                name,
                "".join(w[:1] for w in name.split()).upper() or "M",
                recurring,
                center.country.price(price),
                rng.choice(center.services),
                credits,
                center.country.price(credit),
                rng.choice((None, "Cancel with 30 days notice")),
                rng.choice((None, center.country.price(20.0))) if recurring else None,
            )
            for name, recurring, price, credits, credit in rng.sample(table, min(len(table), rng.randint(3, 4)))
        )
    return plans


def plans(world: World, center: Center) -> tuple[MembershipPlan, ...]:
    """The plans ``center`` sells (drawn once, from the center's own stream)."""
    return _plans(world, center)


def _member_code(rng: random.Random) -> str | None:
    return rng.choice(
        (None, f"{''.join(rng.choice('abcdefghjkmnpqrstuvwxyz') for _ in range(3))}{rng.randint(100000, 999999)}")
    )


def sell(
    world: World,
    center: Center,
    guest_id: str,
    moment: datetime,
    rng: random.Random,
    sold_by: Named,
    plan: MembershipPlan | None = None,
) -> Membership:
    """A membership of ``plan`` (or a plan drawn from the center's) for the guest, bought at ``moment``."""
    plan = plan or rng.choice(_plans(world, center))
    guest = world.guests[guest_id]
    bought = moment.astimezone(center.zone).date()
    membership = Membership(
        new_uuid(rng),
        plan,
        center,
        guest_id,
        (Named(guest_id, f"{guest.first_name} {guest.last_name[:1].lower()} (Primary)"),),
        _member_code(rng),
        sale_invoice(world, center, rng, "membership"),
        moment,
        expiry=date(bought.year + (2 if plan.recurring else 1), bought.month, min(bought.day, 28)),
        next_collection=add_month(bought) if plan.recurring else None,
        grace_period_days=rng.choice(GRACE_PERIOD_DAYS),
        sold_by=sold_by,
        auto_renew=rng.random() < AUTO_RENEW_SHARE,
        renew_option_id=new_uuid(rng),
    )
    _roster(world).held.setdefault(center.id, {})[membership.id] = membership
    return membership


def _emission(kind: str, membership: Membership, moment: datetime, key: str) -> Emission:
    return Emission(kind, moment, key, {"membership": membership, "center": membership.center, "event_resource": None})


def _members_at(world: World, center: Center) -> dict[str, Membership]:
    """The center's roster; drawn on first use (memberships bought before the world's start)."""
    held = _roster(world).held
    if center.id not in held:
        held[center.id] = {}
        rng = world.streams("membership-roster", center.id)
        ids = [] if world.fresh else world.regulars_at(center)  # holders are regulars; a fresh account has none
        for guest_id in rng.sample(ids, min(len(ids), rng.randint(*ROSTER_SIZE))):
            bought = world.start - timedelta(days=rng.randint(1, 330), seconds=rng.randint(0, 86_399))
            membership = sell(world, center, guest_id, bought, rng, Named(None, None))
            if membership.plan.recurring:
                membership.next_collection = next_collection_after(
                    bought.astimezone(center.zone).date(), world.start.astimezone(center.zone).date()
                )
            membership.used = rng.randint(0, membership.plan.credits)
    return held[center.id]


def _candidates(world: World, center: Center, state: str) -> list[Membership]:
    """The center's recurring memberships in ``state`` whose guest still exists, in a stable order."""
    return [
        m
        for m in _members_at(world, center).values()
        if m.state == state and m.plan.recurring and m.guest_id in world.guests
    ]


# -- the steps -----------------------------------------------------------------------------


def _day(sim: Scheduler, moment: datetime, center: Center, day: date, _rng: random.Random) -> list[Emission]:
    """Collect what is due, let term memberships expire (or renew), and plan the day's desk work."""
    world = sim.world
    rng = world.streams("memberships-day", center.id, day.isoformat())
    emitted: list[Emission] = []
    held = _members_at(world, center)
    for membership in list(held.values()):
        if (
            membership.state == "active"
            and membership.next_collection is not None
            and membership.next_collection <= day
        ):
            membership.next_collection = add_month(membership.next_collection)  # collected: the cycle renews
            membership.payment_history.clear()
            membership.used = 0
        elif not membership.plan.recurring and membership.expiry <= day:
            del held[membership.id]
            if membership.auto_renew and membership.guest_id in world.guests:
                emitted += create_membership(world, center, membership.guest_id, moment, rng, plan=membership.plan)[1]
    for n, when in enumerate(arrivals(rng, SALES_PER_DAY, center, day, moment)):
        sim.at(when, _sell_at_desk, sim, center, f"{day.isoformat()}:{n}")
    for n, when in enumerate(arrivals(rng, FREEZES_PER_DAY, center, day, moment)):
        sim.at(when, _freeze, sim, center, f"{day.isoformat()}:{n}")
    for n, when in enumerate(arrivals(rng, CANCELLATIONS_PER_DAY, center, day, moment)):
        sim.at(when, _cancel, sim, center, f"{day.isoformat()}:{n}")
    return emitted


def _not_members(world: World, center: Center, guest_ids: list[str]) -> list[str]:
    members = {m.guest_id for m in _members_at(world, center).values()}
    return [g for g in guest_ids if g not in members]


def _sell_at_desk(moment: datetime, sim: Scheduler, center: Center, name: str) -> list[Emission]:
    world = sim.world
    rng = world.streams("membership-sale", center.id, name)
    ids = world.guests_at[center.id]
    choices = _not_members(world, center, rng.sample(ids, min(5, len(ids))))
    if not choices:
        return []
    online = rng.random() < 0.4
    seller = Named(None, None) if online else Named(*_staff(rng, center))
    return create_membership(world, center, choices[0], moment, rng, sold_by=seller)[1]


def _staff(rng: random.Random, center: Center) -> tuple[str, str]:
    person = rng.choice(center.therapists)
    return person.id, person.full_name


def _checkout(sim: Scheduler, moment: datetime, group: AppointmentGroup) -> list[Emission]:
    """Now and then a guest paying for a visit joins a membership at the desk."""
    world = sim.world
    rng = world.streams("membership-checkout", group.id)
    if rng.random() >= SALE_AT_CHECKOUT_SHARE or group.guest_id not in world.guests:
        return []
    if not _not_members(world, group.center, [group.guest_id]):
        return []
    seller = group.appointments[0].therapist
    return create_membership(
        world, group.center, group.guest_id, moment, rng, sold_by=Named(seller.id, seller.full_name)
    )[1]


def _pick(world: World, center: Center, name: str, state: str) -> tuple[random.Random, Membership] | None:
    """Draw one of the center's active recurring memberships to move to ``state`` (frozen
    or cancelled), with that decision's own stream (the move draws from it too)."""
    rng = world.streams(f"membership-{state}", center.id, name)
    active = _candidates(world, center, "active")
    if not active:
        return None
    return rng, rng.choice(active)


def _resume(moment: datetime, membership: Membership) -> None:
    """Back to active: collections resume on the next monthly anniversary of the purchase."""
    move(membership, "active")
    membership.freeze = membership.cancel = None
    zone = membership.center.zone
    membership.next_collection = next_collection_after(
        membership.purchased.astimezone(zone).date(), moment.astimezone(zone).date()
    )


def _key(kind: str, membership: Membership, moment: datetime, name: str | None) -> str:
    """An event's key: the simulation names a desk decision (``name``); a scenario's step has only its moment."""
    return f"membership-{kind}:{membership.id}:{name or moment.isoformat()}"


# -- what happens to one membership: the simulation's steps and a scenario's call these ----


def create_membership(
    world: World,
    center: Center,
    guest_id: str,
    moment: datetime,
    rng: random.Random,
    *,
    sold_by: Named | None = None,
    plan: MembershipPlan | None = None,
    on_invoice: bool = True,
) -> tuple[Membership, list[Emission]]:
    """Sell the guest a membership at ``center`` (of ``plan``, or one of the center's drawn),
    on its own invoice. The center's roster is drawn first, so the sale continues its
    invoice numbers as the simulation's would; ``sold_by`` unset is an online sale.
    ``on_invoice``: also the sale invoice's Invoice.Closed (a scenario's story leaves it out)."""
    _members_at(world, center)
    membership = sell(world, center, guest_id, moment, rng, sold_by or Named(None, None), plan)
    seller = (membership.sold_by.id, membership.sold_by.name or "") if membership.sold_by.id else None
    sold = (
        invoices.sale_closed(
            world,
            center,
            guest_id,
            membership.invoice,
            moment,
            kind=invoices.ITEM_MEMBERSHIP,
            item_id=membership.plan.id,
            name=membership.plan.name,
            code=membership.plan.code,
            price=membership.plan.price,
            seller=seller,
        )
        if on_invoice
        else []
    )
    return membership, [
        _emission("Guest.Membership.Created", membership, moment, f"membership-created:{membership.id}"),
        *sold,
    ]


def freeze_membership(
    world: World,
    membership: Membership,
    moment: datetime,
    rng: random.Random,
    *,
    days: int | None = None,
    name: str | None = None,
) -> list[Emission]:
    """Freeze an active membership from today for ``days`` (drawn from the habits when
    unset): collections stop until it is unfrozen. ``name`` keys the event (see :func:`_key`)."""
    center = membership.center
    move(membership, "frozen")
    today = membership.since = moment.astimezone(center.zone).date()
    ends = today + timedelta(days=pick(rng, FREEZE_DAYS) if days is None else days)
    fee = membership.plan.freeze_fee
    membership.freeze = Freeze(
        f"{today.isoformat()}T00:00:00",
        f"{ends.isoformat()}T00:00:00",
        2,
        fee or 0,
        2,
        rng.choice(FREEZE_COMMENTS),
        staff_name(rng, center),
    )
    return [_emission("Guest.Membership.Freeze", membership, moment, _key("freeze", membership, moment, name))]


def unfreeze_membership(world: World, membership: Membership, moment: datetime) -> list[Emission]:
    """Lift a freeze (at its end, or early at the desk): collections resume."""
    _resume(moment, membership)
    return [
        _emission(
            "Guest.Membership.Unfreeze", membership, moment, f"membership-unfreeze:{membership.id}:{moment.isoformat()}"
        )
    ]


def cancel_membership(
    world: World, membership: Membership, moment: datetime, rng: random.Random, *, name: str | None = None
) -> list[Emission]:
    """Cancel an active membership, effective today, with a reason and who did it at the desk."""
    center = membership.center
    move(membership, "cancelled")
    membership.since = moment.astimezone(center.zone).date()
    effective = f"{membership.since.isoformat()}T00:00:00"
    membership.cancel = Cancel(
        local_text(moment, center.zone), effective, effective, rng.choice(CANCEL_REASONS), staff_name(rng, center)
    )
    return [_emission("Guest.Membership.Cancelled", membership, moment, _key("cancelled", membership, moment, name))]


def reinstate_membership(world: World, membership: Membership, moment: datetime) -> list[Emission]:
    """Undo a cancellation (the guest changed their mind): active again, collections resume."""
    _resume(moment, membership)
    return [
        _emission(
            "Guest.Membership.Reinstate",
            membership,
            moment,
            f"membership-reinstate:{membership.id}:{moment.isoformat()}",
        )
    ]


def _freeze(moment: datetime, sim: Scheduler, center: Center, name: str) -> list[Emission]:
    picked = _pick(sim.world, center, name, "frozen")
    if picked is None:
        return []
    rng, membership = picked
    emitted = freeze_membership(sim.world, membership, moment, rng, name=name)
    assert membership.freeze is not None  # freeze_membership just set it
    ends = membership.freeze.ends
    lifted = datetime(ends.year, ends.month, ends.day, tzinfo=center.zone).astimezone(UTC) + timedelta(
        minutes=rng.uniform(1, 240)
    )
    if rng.random() < EARLY_UNFREEZE_SHARE:
        lifted = moment + (lifted - moment) * rng.uniform(0.2, 0.9)
    sim.at(lifted, _unfreeze, sim, membership)
    return emitted


def _unfreeze(moment: datetime, sim: Scheduler, membership: Membership) -> list[Emission]:
    return unfreeze_membership(sim.world, membership, moment)


def _cancel(moment: datetime, sim: Scheduler, center: Center, name: str) -> list[Emission]:
    picked = _pick(sim.world, center, name, "cancelled")
    if picked is None:
        return []
    rng, membership = picked
    emitted = cancel_membership(sim.world, membership, moment, rng, name=name)
    if rng.random() < REINSTATE_SHARE:
        sim.at(moment + timedelta(days=rng.uniform(0.5, 4)), _reinstate, sim, membership)
    else:
        del _members_at(sim.world, center)[membership.id]  # nothing more can happen to it
    return emitted


def _reinstate(moment: datetime, sim: Scheduler, membership: Membership) -> list[Emission]:
    if membership.guest_id not in sim.world.guests:  # deleted meanwhile: nothing to reinstate
        del _members_at(sim.world, membership.center)[membership.id]
        return []
    return reinstate_membership(sim.world, membership, moment)


def install(sim: Scheduler) -> None:
    """Plug memberships into the simulation: desk work each day, joining at check-out."""
    sim.on("day", _day)
    sim.on("invoice_closed", _checkout)
