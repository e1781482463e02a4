"""Payments on an invoice: Invoice.Payments.Added and .Deleted, each with the whole list.

Reported from live traffic, not documented: Zenoti sends these with the invoice's whole
transaction list after the change. The payment taken at check-out is announced as added
when the invoice closes; now and then the front desk corrects it later, deleting the
payment and taking it again in two tenders (a card and a gift card), so that what was
paid still adds up to the invoice's total.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from .. import AppointmentGroup, Invoice, Transaction, World, new_uuid
from ..aftercare import Payment
from ..timefmt import local_text
from . import Emission, Scheduler

EMITS = ("Invoice.Payments.Added", "Invoice.Payments.Deleted")

#: Share of closed invoices whose payment is corrected afterwards (one Deleted, two Added).
CORRECTION_SHARE = 0.08
#: Minutes between closing and the correction.
CORRECTION_MINUTES = (5.0, 90.0)


def _emission(kind: str, invoice: Invoice, moment: datetime, key: str) -> Emission:
    # A snapshot: later changes to the list must not change what this event showed.
    payments = tuple(
        Payment(t.transaction_id, t.payment_date, t.amount_paid, invoice.center) for t in invoice.transactions
    )
    return Emission(kind, moment, f"{kind}:{invoice.id}:{key}", {"invoice": invoice, "payments": payments})


def announce_payment(world: World, invoice: Invoice, moment: datetime) -> list[Emission]:
    """The payment taken when ``invoice`` closed, with the whole list."""
    if not invoice.transactions:
        raise AssertionError(f"invoice {invoice.id} has no payment to announce")
    return [_emission("Invoice.Payments.Added", invoice, moment, "checkout")]


def split_payment(world: World, invoice: Invoice, moment: datetime, rng: random.Random) -> list[Emission]:
    """Delete the last payment and take its amount again in two payments."""
    old = invoice.transactions.pop()
    emitted = [_emission("Invoice.Payments.Deleted", invoice, moment, f"delete:{old.transaction_id}")]
    first = round(old.amount_paid * rng.uniform(0.2, 0.8), 2)
    when = local_text(moment, invoice.center.zone)
    for amount in (first, round(old.amount_paid - first, 2)):
        payment = Transaction(new_uuid(rng), when, amount)
        invoice.transactions.append(payment)
        emitted.append(_emission("Invoice.Payments.Added", invoice, moment, f"add:{payment.transaction_id}"))
    return emitted


def install(sim: Scheduler) -> None:
    def on_closed(sim: Scheduler, moment: datetime, group: AppointmentGroup) -> list[Emission]:
        invoice = group.invoice
        if not invoice.transactions:  # left open unpaid at check-out: nothing to announce yet
            return []
        rng = sim.world.streams("payments", invoice.id)
        if rng.random() < CORRECTION_SHARE:
            when = moment + timedelta(minutes=rng.uniform(*CORRECTION_MINUTES))
            sim.at(when, lambda at, inv: split_payment(sim.world, inv, at, rng), invoice)
        return announce_payment(sim.world, invoice, moment)

    sim.on("invoice_closed", on_closed)
