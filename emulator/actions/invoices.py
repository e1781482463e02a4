"""Invoices: closed at check-out with what was sold and paid, refunded now and then.

The invoice exists from booking (AppointmentGroup.Created announces its id); closing it
bills each completed appointment at the service's price, maybe a product, adds tax and
one payment for the total. A refund is another invoice, for the same guest and group,
with negative amounts and ``is_refund: true``, as receivers have seen live.
"""

from __future__ import annotations

import random
from datetime import datetime

from ..world import AppointmentGroup, Invoice, InvoiceItem, Transaction, World, habits, new_uuid
from ..world.timefmt import local_text
from . import Emission

EMITS = ("Invoice.Closed",)


def _line(rng: random.Random, item_id: str, name: str, code: str, kind: int, price: float, rate: float, currency: int,
          seller_id: str, seller: str, line_id: str | None = None) -> InvoiceItem:
    discount = round(price * rng.choice((0, 0, 0, 0, 0.1, 0.15, 0.2)), 2)
    sales = round(price - discount, 2)
    return InvoiceItem(line_id or new_uuid(rng), item_id, name, kind, code, currency, sales, round(sales * rate, 2), discount,
                       seller_id, seller)


def _context(world: World, invoice: Invoice, group: AppointmentGroup | None) -> dict[str, object]:
    billed = [a for a in group.appointments if a.progress == 2] if group else []
    return {"invoice": invoice, "center": invoice.center, "guest": world.guests[invoice.guest_id], "appointments": billed}


def close_invoice(world: World, group: AppointmentGroup, moment: datetime, rng: random.Random) -> list[Emission]:
    """Bill the group's completed appointments (and maybe a product) and take payment."""
    invoice, center = group.invoice, group.center
    for appointment in group.appointments:
        if appointment.progress == 2:
            service = appointment.service
            invoice.items.append(_line(rng, service.id, service.name, service.code, 0, service.price, center.tax_rate,
                                       center.currency_id, appointment.therapist.id, appointment.therapist.full_name,
                                       appointment.invoice_item_id))
    if rng.random() < habits.PRODUCT_SHARE and center.products:
        product = rng.choice(center.products)
        seller = group.appointments[0].therapist
        invoice.items.append(_line(rng, product.id, product.name, product.code, 2, product.price, center.tax_rate,
                                   center.currency_id, seller.id, seller.full_name))
    invoice.transactions.append(Transaction(new_uuid(rng), local_text(moment, center.zone), invoice.sum_total))
    invoice.receipt_number = f"R{invoice.number // 3 + rng.randint(100, 999)}"
    invoice.is_closed = invoice.lock = True
    invoice.invoice_date = local_text(moment, center.zone)
    return [Emission("Invoice.Closed", moment, f"invoice-closed:{invoice.id}", _context(world, invoice, group))]


def refund(world: World, group: AppointmentGroup, moment: datetime, rng: random.Random) -> list[Emission]:
    """A refund invoice for everything the group's invoice billed."""
    original, center = group.invoice, group.center
    invoice = Invoice(new_uuid(rng), world.next_invoice_number(center), center, original.guest_id, group.id, original.sale_by_id)
    for item in original.items:
        invoice.items.append(InvoiceItem(new_uuid(rng), item.item_id, item.name, item.type, item.code, item.currency_id,
                                         -item.sales, -item.tax, 0.0, item.sale_by_id, item.therapist_name))
    invoice.transactions.append(Transaction(new_uuid(rng), local_text(moment, center.zone), invoice.sum_total))
    invoice.receipt_number = f"R{invoice.number // 3 + rng.randint(100, 999)}"
    invoice.is_closed = invoice.lock = invoice.is_refund = True
    invoice.invoice_date = local_text(moment, center.zone)
    return [Emission("Invoice.Closed", moment, f"invoice-closed:{invoice.id}", _context(world, invoice, group))]
