"""What a played step gives back: each event with the ids a reader follows to the next.

A scenario's table (``scenario show``) and its JSON link events by guest, group and
invoice, class session and booking, membership or package: :func:`links` reads them from
the entities an emission shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..world.actions import Emission
from .story import Step


@dataclass(frozen=True, slots=True)
class Played:
    """One event of a played scenario, with the step that made it and the ids that link it."""

    step: Step
    event_type: str
    moment: datetime
    event: dict[str, Any]
    links: dict[str, str]


def links(emission: Emission) -> dict[str, str]:
    """The ids a reader follows from one event to the next: guest, group and invoice; the
    class session and booking; the membership or package (and, for a package's redemption
    or its reversal, the visit's invoice)."""
    context = emission.context
    out: dict[str, str] = {}
    guest = context.get("guest")
    group = context.get("group")
    if guest is not None:
        out["guest"] = guest.id
    elif group is not None:
        out["guest"] = group.guest_id
    if group is not None:
        out["group"] = group.id
        if group.rebooked_source_group_id:
            out["rebooked_from"] = group.rebooked_source_group_id
    invoice = context.get("invoice")
    if invoice is not None:
        out["invoice"] = invoice.id
        if invoice.group_id and "group" not in out:
            out["group"] = invoice.group_id
    elif group is not None:
        out["invoice"] = group.invoice.id
    out.update(_more_links(emission))
    return out


def _more_links(emission: Emission) -> dict[str, str]:
    """Links of the events that show no group: feedback (its ids are upper case in the
    payload; the links keep the case the other rows have), classes, memberships, packages."""
    context = emission.context
    if (opinion := context.get("feedback")) is not None:
        return {"guest": opinion.user_id.lower(), "group": opinion.appointment_group_id.lower()}
    out: dict[str, str] = {}
    if (session := context.get("session")) is not None:
        out["session"] = str(session.number)
    if (booking := context.get("booking")) is not None:
        out.update(guest=booking.guest_id, booking=str(booking.registration_id))
    if (membership := context.get("membership")) is not None:
        out.update(guest=membership.guest_id, membership=membership.id, invoice=membership.invoice.id)
    if (package := context.get("package")) is not None:
        out.update(guest=package.guest_id, package=package.id, invoice=package.invoice.id)
        if emission.event_type in ("Guest.Package.Redemption", "Guest.Package.RedemptionReversal"):
            out["invoice"] = package.redemptions[0].invoice_id
    return out
