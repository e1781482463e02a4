"""Guest packages: sold, redeemed at check-out, reversed now and then, extended or closed.

A guest's package is redeemed when they check out of a visit: one session per completed
appointment of a service the package still has sessions of. A reversal gives back the
sessions of one earlier redemption. A package closes (``StatusUpdate``) when its last
session is used, unless a reversal of it is still due, or when it expires; the front desk
extends some packages shortly before they would (``ValidityUpdate``).

What happens to one package is a public function (:func:`create_package`,
:func:`redeem_package`, :func:`reverse_redemption`, :func:`extend_package`,
:func:`close_package`), called alike by the simulation's steps (which decide who, when and
what follows) and by a scenario's steps (which are told).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from .. import AppointmentGroup, Center, World, pick
from ..packages import (
    CATEGORY_TYPES,
    EDGE_PLANS,
    EXTEND_SHARE,
    EXTENSION_DAYS,
    GRACE_DAYS,
    PLANS,
    REVERSAL_SHARE,
    ROSTER_SIZE,
    SALE_AT_CHECKOUT_SHARE,
    SALES_PER_DAY,
    STATE_CLOSED,
    VALIDITY_DAYS,
    GuestPackage,
    PackageLine,
    PackagePlan,
    Redemption,
)
from ..randomness import new_uuid
from . import Emission, Scheduler, invoices
from ._desk import arrivals, kept, sale_invoice

EMITS = (
    "Guest.Package.Created",
    "Guest.Package.Redemption",
    "Guest.Package.RedemptionReversal",
    "Guest.Package.StatusUpdate",
    "Guest.Package.ValidityUpdate",
)


class Holdings:
    """The open packages of one world; what ``world.extra["packages"]`` holds."""

    def __init__(self) -> None:
        self.plans: dict[str, tuple[PackagePlan, ...]] = {}
        #: center id -> package id -> package (open ones only: a closed package is let go)
        self.held: dict[str, dict[str, GuestPackage]] = {}
        #: (center id, guest id) -> that guest's open packages there
        self.of_guest: dict[tuple[str, str], list[GuestPackage]] = {}


def _holdings(world: World) -> Holdings:
    return kept(world, "packages", Holdings)


def _plans(world: World, center: Center) -> tuple[PackagePlan, ...]:
    holdings = _holdings(world)
    plans = holdings.plans.get(center.id)
    if plans is None:
        rng = world.streams("package-plans", center.id)
        table = PLANS + EDGE_PLANS if world.profile == "edge" else PLANS
        built = []
        for name, sessions, count, discount in table:
            services = rng.sample(center.services, min(count, len(center.services)))
            lines = tuple(
                (s, sessions, rng.choice(CATEGORY_TYPES), round(s.price * (1 - discount), 2)) for s in services
            )
            title = name if count > 1 else f"{services[0].name} - {name}"
            built.append(
                PackagePlan(
                    new_uuid(rng),
                    title,
                    title[:40],
                    round(sum(p * n for _, n, _, p in lines), 2),
                    pick(rng, VALIDITY_DAYS),
                    lines,
                )
            )
        plans = holdings.plans[center.id] = tuple(built)
    return plans


def sell(
    world: World, center: Center, guest_id: str, moment: datetime, rng: random.Random, plan: PackagePlan | None = None
) -> GuestPackage:
    """A package of ``plan`` (or one drawn from the center's) for the guest, bought at ``moment``."""
    plan = plan or rng.choice(_plans(world, center))
    start = moment.astimezone(center.zone).date()
    package = GuestPackage(
        new_uuid(rng),
        plan,
        center,
        guest_id,
        sale_invoice(world, center, rng, "package", closed=rng.random() < 0.7),
        moment,
        start,
        start + timedelta(days=plan.validity_days),
        rng.choice(GRACE_DAYS),
        [PackageLine(service, total, 0, category, price) for service, total, category, price in plan.lines],
    )
    holdings = _holdings(world)
    holdings.held.setdefault(center.id, {})[package.id] = package
    holdings.of_guest.setdefault((center.id, guest_id), []).append(package)
    return package


def _held_at(world: World, center: Center) -> dict[str, GuestPackage]:
    """The center's open packages; drawn on first use (bought before the world's start)."""
    held = _holdings(world).held
    if center.id not in held:
        held[center.id] = {}
        rng = world.streams("package-roster", center.id)
        ids = [] if world.fresh else world.regulars_at(center)  # holders are regulars; a fresh account has none
        for guest_id in rng.sample(ids, min(len(ids), rng.randint(*ROSTER_SIZE))):
            plan = rng.choice(_plans(world, center))
            bought = world.start - timedelta(days=rng.uniform(1, plan.validity_days - 1))
            package = sell(world, center, guest_id, bought, rng, plan)
            for line in package.lines:
                line.used = rng.randint(0, line.total - 1)
            package.has_first_redemption = any(line.used for line in package.lines)
    return held[center.id]


def _emission(kind: str, package: GuestPackage, moment: datetime, key: str) -> Emission:
    return Emission(kind, moment, key, {"package": package, "center": package.center, "event_resource": None})


def _let_go(world: World, package: GuestPackage) -> None:
    holdings = _holdings(world)
    holdings.held[package.center.id].pop(package.id, None)
    mine = holdings.of_guest.get((package.center.id, package.guest_id), [])
    if package in mine:
        mine.remove(package)


# -- the steps -----------------------------------------------------------------------------


def _day(sim: Scheduler, moment: datetime, center: Center, day: date, _rng: random.Random) -> list[Emission]:
    """Expire what ends today (or extend it), and plan the day's sales away from a visit."""
    world = sim.world
    rng = world.streams("packages-day", center.id, day.isoformat())
    for package in list(_held_at(world, center).values()):
        if package.end_with_grace <= day + timedelta(days=2) and package.pending == 0:
            if rng.random() < EXTEND_SHARE:
                sim.at(moment + timedelta(hours=rng.uniform(8, 18)), _extend, sim, package)
            else:
                sim.at(
                    moment + timedelta(days=(package.end_with_grace - day).days, minutes=rng.uniform(1, 90)),
                    _close,
                    sim,
                    package,
                )
            package.pending += 1
    for n, when in enumerate(arrivals(rng, SALES_PER_DAY, center, day, moment)):
        sim.at(when, _sell_at_desk, sim, center, f"{day.isoformat()}:{n}")
    return []


def _sell_at_desk(moment: datetime, sim: Scheduler, center: Center, name: str) -> list[Emission]:
    world = sim.world
    rng = world.streams("package-sale", center.id, name)
    ids = world.guests_at[center.id]
    if not ids:
        return []
    return create_package(world, center, rng.choice(ids), moment, rng)[1]


def _checkout(sim: Scheduler, moment: datetime, group: AppointmentGroup) -> list[Emission]:
    """At check-out: redeem the guest's packages for the services they had; maybe sell one."""
    world = sim.world
    center = group.center
    _held_at(world, center)
    rng = world.streams("package-checkout", group.id)
    emitted: list[Emission] = []
    for package in list(_holdings(world).of_guest.get((center.id, group.guest_id), ())):
        redeemed = redeem_package(world, package, group, moment)
        if not redeemed:
            continue
        emitted += redeemed
        if rng.random() < REVERSAL_SHARE:
            package.pending += 1
            later = moment + timedelta(minutes=rng.uniform(5, 2 * 24 * 60))
            sim.at(later, _reverse, sim, package, package.redemptions, group.id)
        elif package.sessions_left == 0 and package.pending == 0:
            package.pending += 1
            sim.at(moment + timedelta(minutes=rng.uniform(1, 30)), _close, sim, package)
    if rng.random() < SALE_AT_CHECKOUT_SHARE and group.guest_id in world.guests:
        service = group.appointments[0].service
        plan = next((p for p in _plans(world, center) if p.lines[0][0].id == service.id), None)
        emitted += create_package(world, center, group.guest_id, moment, rng, plan)[1]
    return emitted


def _reverse(
    moment: datetime, sim: Scheduler, package: GuestPackage, used: tuple[Redemption, ...], group_id: str
) -> list[Emission]:
    package.pending -= 1
    return reverse_redemption(sim.world, package, used, group_id, moment)


def _close(moment: datetime, sim: Scheduler, package: GuestPackage) -> list[Emission]:
    """Used up or expired: the package closes, unless something else about it is still due."""
    package.pending -= 1
    if package.pending or package.state == STATE_CLOSED:
        return []
    return close_package(sim.world, package, moment)


def _extend(moment: datetime, sim: Scheduler, package: GuestPackage) -> list[Emission]:
    package.pending -= 1
    if package.state == STATE_CLOSED:
        return []
    return extend_package(
        sim.world, package, moment, sim.world.streams("package-extend", package.id, package.end.isoformat())
    )


# -- what happens to one package: the simulation's steps and a scenario's call these --------


def create_package(
    world: World,
    center: Center,
    guest_id: str,
    moment: datetime,
    rng: random.Random,
    plan: PackagePlan | None = None,
    on_invoice: bool = True,
) -> tuple[GuestPackage, list[Emission]]:
    """Sell the guest a package at ``center`` (of ``plan``, or one of the center's drawn).
    The center's holdings are drawn first, so the sale continues its invoice numbers as the
    simulation's would."""
    _held_at(world, center)
    package = sell(world, center, guest_id, moment, rng, plan)
    sold = (
        invoices.sale_closed(
            world,
            center,
            guest_id,
            package.invoice,
            moment,
            kind=invoices.ITEM_PACKAGE,
            item_id=package.plan.id,
            name=package.plan.name,
            code=package.plan.code,
            price=package.plan.price,
            seller=None,
        )
        if on_invoice
        else []
    )
    return package, [_emission("Guest.Package.Created", package, moment, f"package-created:{package.id}"), *sold]


def redeem_package(world: World, package: GuestPackage, group: AppointmentGroup, moment: datetime) -> list[Emission]:
    """At check-out: one session of ``package`` for each completed appointment of ``group``
    whose service it still has sessions of, each naming the visit's invoice line. Nothing
    when it covers none of them."""
    center, invoice = group.center, group.invoice
    used: list[Redemption] = []
    for appointment in group.appointments:
        line = next((ln for ln in package.lines if ln.service.id == appointment.service.id and ln.balance > 0), None)
        if appointment.progress != 2 or line is None:
            continue
        line.used += 1
        used.append(
            Redemption(
                invoice.id,
                f"{center.invoice_prefix or ''}{invoice.number}",
                appointment.invoice_item_id,
                appointment.service,
                line.category_type,
                appointment.therapist,
                center,
                appointment.start.astimezone(center.zone).strftime("%Y-%m-%d %H:%M:%S.000"),
            )
        )
    if not used:
        return []
    package.has_first_redemption = True
    package.redemptions = tuple(used)
    return [_emission("Guest.Package.Redemption", package, moment, f"package-redemption:{package.id}:{group.id}")]


def reverse_redemption(
    world: World, package: GuestPackage, used: tuple[Redemption, ...], group_id: str, moment: datetime
) -> list[Emission]:
    """Give back the sessions of one redemption (``used``, of the visit ``group_id``)."""
    for redemption in used:
        line = next(ln for ln in package.lines if ln.service.id == redemption.service.id)
        if line.used == 0:
            raise AssertionError(f"package {package.id} reverses a session of {line.service.name} it never used")
        line.used -= 1
    package.redemptions = used
    return [_emission("Guest.Package.RedemptionReversal", package, moment, f"package-reversal:{package.id}:{group_id}")]


def close_package(world: World, package: GuestPackage, moment: datetime) -> list[Emission]:
    """The package closes (used up, expired, or closed at the desk) and is let go."""
    package.state = STATE_CLOSED
    _let_go(world, package)
    return [_emission("Guest.Package.StatusUpdate", package, moment, f"package-status:{package.id}")]


def extend_package(
    world: World, package: GuestPackage, moment: datetime, rng: random.Random, *, days: int | None = None
) -> list[Emission]:
    """The front desk moves the end date (and the end with grace) ``days`` later (drawn from
    the habits when unset)."""
    package.end += timedelta(days=pick(rng, EXTENSION_DAYS) if days is None else days)
    return [
        _emission(
            "Guest.Package.ValidityUpdate", package, moment, f"package-validity:{package.id}:{package.end.isoformat()}"
        )
    ]


def install(sim: Scheduler) -> None:
    """Plug packages into the simulation: redeemed and sold at check-out, expiring by day."""
    sim.on("day", _day)
    sim.on("invoice_closed", _checkout)
