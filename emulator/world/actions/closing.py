"""Check-out closes the appointment: AppointmentGroup.Status with code 1 once it is paid.

Zenoti's API defines appointment status 1 as *closed* (completed and paid). A receiver
that waits for 1 at check-out never sees it if it is never sent, so when a group's
invoice is closed (paid), the group moves to closed and its status event goes out
right after the Invoice.Closed. Under the variant ``status-1=cancelled`` the world still
closes the group but no event is sent (:func:`~emulator.world.actions.bookings.status_code`).
"""

from __future__ import annotations

from datetime import datetime

from .. import AppointmentGroup, World, habits
from . import Emission, Scheduler, bookings


def close_group(world: World, group: AppointmentGroup, moment: datetime) -> list[Emission]:
    """Close a checked-in group whose invoice is paid (status 1), once: an invoice closed
    again (an edit, a refund) or left open at check-out does not close it a second time."""
    if group.status != habits.STATUS_CHECKED_IN or not group.invoice.is_closed:
        return []
    return bookings.set_status(world, group, habits.STATUS_CLOSED, moment)


def install(sim: Scheduler) -> None:
    sim.on("invoice_closed", lambda sim, moment, group: close_group(sim.world, group, moment))
