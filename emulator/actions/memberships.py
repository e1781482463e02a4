"""Guest memberships: sold, collected every month, frozen and unfrozen, cancelled and
sometimes reinstated; term memberships renew themselves when they expire.

Each center keeps a roster of the memberships its guests hold (``world.extra``), drawn
when its first day begins. The rules of :mod:`emulator.world.memberships` hold every
move: a membership is frozen before it is unfrozen, and after a cancellation the only
thing that can happen to it is a reinstatement.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from ..world import AppointmentGroup, Center, World, pick
from ..world.memberships import (
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
from ..world.randomness import new_uuid
from ..world.timefmt import UTC, local_text
from . import Emission
from ._desk import arrivals, kept, sale_invoice, staff_name

EMITS = ("Guest.Membership.Created", "Guest.Membership.Freeze", "Guest.Membership.Unfreeze",
         "Guest.Membership.Cancelled", "Guest.Membership.Reinstate")


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
            MembershipPlan(new_uuid(rng), name, "".join(w[:1] for w in name.split()).upper() or "M", recurring, price,
                           rng.choice(center.services), credits, credit, rng.choice((None, "Cancel with 30 days notice")),
                           rng.choice((None, 20.0)) if recurring else None)
            for name, recurring, price, credits, credit in rng.sample(table, min(len(table), rng.randint(3, 4))))
    return plans


def _member_code(rng: random.Random) -> str | None:
    return rng.choice((None, f"{''.join(rng.choice('abcdefghjkmnpqrstuvwxyz') for _ in range(3))}{rng.randint(100000, 999999)}"))


def sell(world: World, center: Center, guest_id: str, moment: datetime, rng: random.Random,
         sold_by: Named, plan: MembershipPlan | None = None) -> Membership:
    """A membership of ``plan`` (or a plan drawn from the center's) for the guest, bought at ``moment``."""
    plan = plan or rng.choice(_plans(world, center))
    guest = world.guests[guest_id]
    bought = moment.astimezone(center.zone).date()
    membership = Membership(
        new_uuid(rng), plan, center, guest_id,
        (Named(guest_id, f"{guest.first_name} {guest.last_name[:1].lower()} (Primary)"),),
        _member_code(rng), sale_invoice(world, center, rng, "membership"), moment,
        expiry=date(bought.year + (2 if plan.recurring else 1), bought.month, min(bought.day, 28)),
        next_collection=add_month(bought) if plan.recurring else None,
        grace_period_days=rng.choice(GRACE_PERIOD_DAYS), sold_by=sold_by,
        auto_renew=rng.random() < AUTO_RENEW_SHARE, renew_option_id=new_uuid(rng))
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
        ids = world.guests_at[center.id]
        for guest_id in rng.sample(ids, min(len(ids), rng.randint(*ROSTER_SIZE))):
            bought = world.start - timedelta(days=rng.randint(1, 330), seconds=rng.randint(0, 86_399))
            membership = sell(world, center, guest_id, bought, rng, Named(None, None))
            if membership.plan.recurring:
                membership.next_collection = next_collection_after(bought.astimezone(center.zone).date(), world.start.astimezone(center.zone).date())
            membership.used = rng.randint(0, membership.plan.credits)
    return held[center.id]


def _candidates(world: World, center: Center, state: str) -> list[Membership]:
    """The center's recurring memberships in ``state`` whose guest still exists, in a stable order."""
    return [m for m in _members_at(world, center).values()
            if m.state == state and m.plan.recurring and m.guest_id in world.guests]


# -- the steps -----------------------------------------------------------------------------


def _day(sim: Any, moment: datetime, center: Center, day: date, _rng: random.Random) -> list[Emission]:
    """Collect what is due, let term memberships expire (or renew), and plan the day's desk work."""
    world = sim.world
    rng = world.streams("memberships-day", center.id, day.isoformat())
    emitted: list[Emission] = []
    held = _members_at(world, center)
    for membership in list(held.values()):
        if membership.state == "active" and membership.next_collection is not None and membership.next_collection <= day:
            membership.next_collection = add_month(membership.next_collection)  # collected: the cycle renews
            membership.payment_history.clear()
            membership.used = 0
        elif not membership.plan.recurring and membership.expiry <= day:
            del held[membership.id]
            if membership.auto_renew and membership.guest_id in world.guests:
                renewal = sell(world, center, membership.guest_id, moment, rng, Named(None, None), membership.plan)
                emitted.append(_emission("Guest.Membership.Created", renewal, moment, f"membership-created:{renewal.id}"))
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


def _sell_at_desk(moment: datetime, sim: Any, center: Center, name: str) -> list[Emission]:
    world = sim.world
    rng = world.streams("membership-sale", center.id, name)
    ids = world.guests_at[center.id]
    choices = _not_members(world, center, rng.sample(ids, min(5, len(ids))))
    if not choices:
        return []
    online = rng.random() < 0.4
    seller = Named(None, None) if online else Named(*_staff(rng, center))
    membership = sell(world, center, choices[0], moment, rng, seller)
    return [_emission("Guest.Membership.Created", membership, moment, f"membership-created:{membership.id}")]


def _staff(rng: random.Random, center: Center) -> tuple[str, str]:
    person = rng.choice(center.therapists)
    return person.id, person.full_name


def _checkout(sim: Any, moment: datetime, group: AppointmentGroup) -> list[Emission]:
    """Now and then a guest paying for a visit joins a membership at the desk."""
    world = sim.world
    rng = world.streams("membership-checkout", group.id)
    if rng.random() >= SALE_AT_CHECKOUT_SHARE or group.guest_id not in world.guests:
        return []
    if not _not_members(world, group.center, [group.guest_id]):
        return []
    seller = group.appointments[0].therapist
    membership = sell(world, group.center, group.guest_id, moment, rng, Named(seller.id, seller.full_name))
    return [_emission("Guest.Membership.Created", membership, moment, f"membership-created:{membership.id}")]


def _begin(moment: datetime, world: World, center: Center, name: str, state: str) -> tuple[random.Random, Membership] | None:
    """Draw one of the center's active recurring memberships and move it to ``state``
    (frozen or cancelled), from that decision's own stream."""
    rng = world.streams(f"membership-{state}", center.id, name)
    active = _candidates(world, center, "active")
    if not active:
        return None
    membership = rng.choice(active)
    move(membership, state)
    membership.since = moment.astimezone(center.zone).date()
    return rng, membership


def _resume(moment: datetime, membership: Membership) -> None:
    """Back to active: collections resume on the next monthly anniversary of the purchase."""
    move(membership, "active")
    membership.freeze = membership.cancel = None
    zone = membership.center.zone
    membership.next_collection = next_collection_after(membership.purchased.astimezone(zone).date(), moment.astimezone(zone).date())


def _freeze(moment: datetime, sim: Any, center: Center, name: str) -> list[Emission]:
    begun = _begin(moment, sim.world, center, name, "frozen")
    if begun is None:
        return []
    rng, membership = begun
    today = membership.since
    days = pick(rng, FREEZE_DAYS)
    ends = today + timedelta(days=days)
    fee = membership.plan.freeze_fee
    membership.freeze = Freeze(f"{today.isoformat()}T00:00:00", f"{ends.isoformat()}T00:00:00", 2, fee or 0, 2,
                               rng.choice(FREEZE_COMMENTS), staff_name(rng, center))
    lifted = datetime(ends.year, ends.month, ends.day, tzinfo=center.zone).astimezone(UTC) + timedelta(minutes=rng.uniform(1, 240))
    if rng.random() < EARLY_UNFREEZE_SHARE:
        lifted = moment + (lifted - moment) * rng.uniform(0.2, 0.9)
    sim.at(lifted, _unfreeze, sim, membership)
    return [_emission("Guest.Membership.Freeze", membership, moment, f"membership-freeze:{membership.id}:{name}")]


def _unfreeze(moment: datetime, sim: Any, membership: Membership) -> list[Emission]:
    _resume(moment, membership)
    return [_emission("Guest.Membership.Unfreeze", membership, moment, f"membership-unfreeze:{membership.id}:{moment.isoformat()}")]


def _cancel(moment: datetime, sim: Any, center: Center, name: str) -> list[Emission]:
    begun = _begin(moment, sim.world, center, name, "cancelled")
    if begun is None:
        return []
    rng, membership = begun
    effective = f"{membership.since.isoformat()}T00:00:00"
    membership.cancel = Cancel(local_text(moment, center.zone), effective, effective, rng.choice(CANCEL_REASONS),
                               staff_name(rng, center))
    if rng.random() < REINSTATE_SHARE:
        sim.at(moment + timedelta(days=rng.uniform(0.5, 4)), _reinstate, sim, membership)
    else:
        del _members_at(sim.world, center)[membership.id]  # nothing more can happen to it
    return [_emission("Guest.Membership.Cancelled", membership, moment, f"membership-cancelled:{membership.id}:{name}")]


def _reinstate(moment: datetime, sim: Any, membership: Membership) -> list[Emission]:
    if membership.guest_id not in sim.world.guests:  # deleted meanwhile: nothing to reinstate
        del _members_at(sim.world, membership.center)[membership.id]
        return []
    _resume(moment, membership)
    return [_emission("Guest.Membership.Reinstate", membership, moment, f"membership-reinstate:{membership.id}:{moment.isoformat()}")]


def install(sim: Any) -> None:
    """Plug memberships into the simulation: desk work each day, joining at check-out."""
    sim.on("day", _day)
    sim.on("invoice_closed", _checkout)
