"""What memberships and packages share at the front desk: when things happen in a center's
day, and the invoices things are sold on.

Not an actions module of its own (its name starts with ``_``): it emits nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from .. import Center, World
from ..memberships import SaleInvoice
from ..randomness import new_uuid

T = TypeVar("T")


def kept(world: World, name: str, make: Callable[[], T]) -> T:
    """The state a module keeps in ``world.extra[name]``, made on first use."""
    found = world.extra.get(name)
    if found is None:
        found = world.extra[name] = make()
    return found


def arrivals(rng: random.Random, per_day: float, center: Center, day: date, after: datetime) -> Iterator[datetime]:
    """The moments of a Poisson process of ``per_day`` arrivals over the center's opening
    hours on ``day`` (UTC, in order), skipping any before ``after``.

    Drawing the gaps gives the count and the times in one pass, from one stream.
    """
    opens, closes = center.hours
    span = (closes - opens) * 3600.0
    midnight = datetime(day.year, day.month, day.day, tzinfo=center.zone) + timedelta(hours=opens)
    clock = rng.expovariate(per_day / span)
    while clock < span:
        moment = (midnight + timedelta(seconds=clock)).astimezone(UTC)
        if moment >= after:
            yield moment
        clock += rng.expovariate(per_day / span)


def sale_invoice(world: World, center: Center, rng: random.Random, kind: str, closed: bool = True) -> SaleInvoice:
    """A new invoice for a membership or package sale (``BTS1325``, receipt ``BTSR522``).

    Numbered by the center's own counter of such sales (``kind``), kept in ``world.extra``,
    so that selling them never moves the numbers of booking invoices.
    """
    counters: dict[tuple[str, str], int] = world.extra.setdefault("_desk-invoices", {})
    number = counters.get((kind, center.id))
    if number is None:
        number = world.streams("desk-invoice-numbers", kind, center.id).randint(1000, 20000)
    counters[(kind, center.id)] = number + 1
    prefix = center.invoice_prefix or ""
    letters = prefix.rstrip("0123456789") or "RR"
    if not closed:
        return SaleInvoice(new_uuid(rng), f"{prefix}{number}", "0", new_uuid(rng), status=0)
    return SaleInvoice(
        new_uuid(rng), f"{prefix}{number}", f"{letters}R{number // 3 + rng.randint(100, 999)}", new_uuid(rng)
    )


def staff_name(rng: random.Random, center: Center) -> str:
    """Who did it at the desk: one of the center's staff."""
    return rng.choice(center.therapists).full_name
