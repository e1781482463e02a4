"""Invoices: closed at check-out with what was sold and paid, refunded now and then.

The invoice exists from booking (AppointmentGroup.Created announces its id); closing it
bills each completed appointment at the service's price, maybe a product, adds tax and
takes payment for the total. A refund is another invoice, for the same guest and group,
with negative amounts and ``is_refund: true``, as receivers have seen live.

The untidy paths real traffic takes, at the rates below (docs/assumptions.md, "Messy
invoice paths", says why each): a check-out that leaves the invoice open
(``is_closed: false``, paid or not) and a second Invoice.Closed when the desk closes it;
an invoice edited after closing (another Invoice.Closed, same id, a line added and paid);
split tenders (two or three payments) and tips; the no-show or late-cancellation fee
that the status event flagged ``"Yes"``, charged on the group's invoice.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from .. import AppointmentGroup, Center, Invoice, InvoiceItem, Transaction, World, habits, new_uuid
from ..timefmt import local_text
from . import Emission

EMITS = ("Invoice.Closed",)

#: Share of check-outs that leave the invoice open, and how long until the desk closes it
#: (minutes).
LEFT_OPEN_SHARE = 0.05
LEFT_OPEN_MINUTES = (10.0, 2 * 24 * 60.0)
#: Of invoices left open, the share already paid in full (a receiver that sums payments
#: sees it settled though ``is_closed`` is false, as one has seen live).
OPEN_PAID_SHARE = 0.6
#: Share of closed invoices edited afterwards (a forgotten product added and paid), and when.
EDITED_SHARE = 0.03
EDITED_MINUTES = (5.0, 3 * 24 * 60.0)
#: Share of check-outs paid in several tenders (card and gift card, card and cash...).
SPLIT_TENDER_SHARE = 0.12
#: A tip, when given: this share of the services' sales (tip shares are per country).
TIP_RATE = (0.12, 0.22)
#: Share of fees flagged "Yes" that the desk charges (the rest are waived), when, and how
#: much of the booked services' list price.
FEE_CHARGED_SHARE = 0.8
FEE_MINUTES = (30.0, 24 * 60.0)
FEE_RATE = 0.5


def _line(
    rng: random.Random,
    item_id: str,
    name: str,
    code: str,
    kind: int,
    price: float,
    rate: float,
    currency: int,
    seller_id: str,
    seller: str,
    line_id: str | None = None,
) -> InvoiceItem:
    discount = round(price * rng.choice((0, 0, 0, 0, 0.1, 0.15, 0.2)), 2)
    sales = round(price - discount, 2)
    return InvoiceItem(
        line_id or new_uuid(rng),
        item_id,
        name,
        kind,
        code,
        currency,
        sales,
        round(sales * rate, 2),
        discount,
        seller_id,
        seller,
    )


def _context(world: World, invoice: Invoice, group: AppointmentGroup | None) -> dict[str, object]:
    billed = [a for a in group.appointments if a.progress == 2] if group else []
    return {
        "invoice": invoice,
        "center": invoice.center,
        "guest": world.guests[invoice.guest_id],
        "appointments": billed,
    }


def close_invoice(
    world: World, group: AppointmentGroup, moment: datetime, rng: random.Random, untidy: bool = True
) -> list[Emission]:
    """Bill the group's completed appointments (and maybe a product) and take payment.
    ``untidy=False`` (a scenario's step) always closes it, paid in one tender."""
    invoice, center = group.invoice, group.center
    for appointment in group.appointments:
        if appointment.progress == 2:
            service = appointment.service
            invoice.items.append(
                _line(
                    rng,
                    service.id,
                    service.name,
                    service.code,
                    0,
                    service.price,
                    center.tax_rate,
                    center.currency_id,
                    appointment.therapist.id,
                    appointment.therapist.full_name,
                    appointment.invoice_item_id,
                )
            )
    if rng.random() < habits.PRODUCT_SHARE and center.products:
        product = rng.choice(center.products)
        seller = group.appointments[0].therapist
        invoice.items.append(
            _line(
                rng,
                product.id,
                product.name,
                product.code,
                2,
                product.price,
                center.tax_rate,
                center.currency_id,
                seller.id,
                seller.full_name,
            )
        )
    invoice.receipt_number = f"R{invoice.number // 3 + rng.randint(100, 999)}"
    invoice.invoice_date = local_text(moment, center.zone)
    # The untidy paths draw from the invoice's own stream: the check-out's draws stay put.
    messy = world.streams("checkout-paths", invoice.id)
    left_open = untidy and messy.random() < LEFT_OPEN_SHARE
    if not untidy:
        invoice.transactions.append(Transaction(new_uuid(rng), local_text(moment, center.zone), invoice.sum_total))
    elif not left_open or messy.random() < OPEN_PAID_SHARE:
        _pay(invoice, moment, messy, invoice.sum_total, tips=True)
    invoice.is_closed = invoice.lock = not left_open
    return [Emission("Invoice.Closed", moment, f"invoice-closed:{invoice.id}", _context(world, invoice, group))]


def _pay(invoice: Invoice, moment: datetime, rng: random.Random, amount: float, tips: bool = False) -> None:
    """Take ``amount`` in one tender, or several (:data:`SPLIT_TENDER_SHARE`); maybe a tip."""
    when = local_text(moment, invoice.center.zone)
    parts = [amount]
    if rng.random() < SPLIT_TENDER_SHARE and amount > 1:
        first = round(amount * rng.uniform(0.2, 0.8), 2)
        parts = [first, round(amount - first, 2)]
        if rng.random() < 0.25:
            second = round(parts[1] * rng.uniform(0.3, 0.7), 2)
            parts[1:] = [second, round(amount - first - second, 2)]
    payments = [Transaction(new_uuid(rng), when, part) for part in parts]
    if tips and rng.random() < invoice.center.country.tip_share:
        services = sum(i.sales for i in invoice.items if i.type == 0)
        if services > 0:
            payments[-1].tip = round(services * rng.uniform(*TIP_RATE), 2)
    invoice.transactions.extend(payments)


def settle(world: World, group: AppointmentGroup, moment: datetime) -> list[Emission]:
    """The desk closes an invoice left open at check-out: a second Invoice.Closed, same id."""
    invoice = group.invoice
    if invoice.is_closed:
        raise AssertionError(f"invoice {invoice.id} is closed already")
    rng = world.streams("checkout-settle", invoice.id)
    paid = round(sum(t.amount_paid for t in invoice.transactions), 2)
    if paid < invoice.sum_total:
        _pay(invoice, moment, rng, round(invoice.sum_total - paid, 2), tips=True)
    invoice.is_closed = invoice.lock = True
    return [Emission("Invoice.Closed", moment, f"invoice-closed:{invoice.id}:settled", _context(world, invoice, group))]


def amend(world: World, group: AppointmentGroup, moment: datetime) -> list[Emission]:
    """Edit a closed invoice: a product the guest took is added and paid; Invoice.Closed again."""
    invoice, center = group.invoice, group.center
    rng = world.streams("invoice-edit", invoice.id)
    if not center.products:
        return []
    product = rng.choice(center.products)
    seller = group.appointments[0].therapist
    before = invoice.sum_total
    invoice.items.append(
        _line(
            rng,
            product.id,
            product.name,
            product.code,
            2,
            product.price,
            center.tax_rate,
            center.currency_id,
            seller.id,
            seller.full_name,
        )
    )
    _pay(invoice, moment, rng, round(invoice.sum_total - before, 2))
    return [Emission("Invoice.Closed", moment, f"invoice-closed:{invoice.id}:edited", _context(world, invoice, group))]


#: Item types of what the desk sells on its own invoice (Zenoti's API definitions).
ITEM_MEMBERSHIP, ITEM_PACKAGE = 3, 4


def sale_closed(
    world: World,
    center: Center,
    guest_id: str,
    sale: Any,
    moment: datetime,
    *,
    kind: int,
    item_id: str,
    name: str,
    code: str,
    price: float,
    seller: tuple[str, str] | None,
) -> list[Emission]:
    """Invoice.Closed for a membership or package sold on its own invoice (``sale``, the
    SaleInvoice its events name): one line of item type 3 or 4, no appointment group, paid
    unless the sale invoice is still open. Memberships and packages are income a revenue
    receiver counts from invoices."""
    if guest_id not in world.guests:
        return []
    rng = world.streams("sale-invoice", sale.id)
    prefix = center.invoice_prefix or ""
    number = int(sale.no[len(prefix) :]) if sale.no[len(prefix) :].isdigit() else world.next_invoice_number(center)
    seller_id, seller_name = seller or (center.therapists[0].id, "")
    invoice = Invoice(sale.id, number, center, guest_id, None, seller_id)
    invoice.items.append(
        InvoiceItem(
            sale.item_id or new_uuid(rng),
            item_id,
            name,
            kind,
            code,
            center.currency_id,
            price,
            round(price * center.tax_rate, 2),
            0.0,
            seller_id,
            seller_name,
        )
    )
    invoice.invoice_date = local_text(moment, center.zone)
    invoice.receipt_number = sale.receipt_no
    invoice.is_closed = invoice.lock = sale.status != 0
    if invoice.is_closed:
        _pay(invoice, moment, rng, invoice.sum_total)
    context = {"invoice": invoice, "center": center, "guest": world.guests[guest_id], "appointments": []}
    return [Emission("Invoice.Closed", moment, f"invoice-closed:{invoice.id}:sale", context)]


def fee_flagged(group: AppointmentGroup, emitted: list[Emission]) -> bool:
    """Whether the status event just emitted flagged a fee for this move ("Yes")."""
    status = emitted[-1].context["status"]
    fee: str = status.noshow_fee if group.status == habits.STATUS_NO_SHOW else status.cancellation_fee
    return fee == "Yes"


def charge_fee(world: World, group: AppointmentGroup, moment: datetime) -> list[Emission]:
    """Charge the no-show or late-cancellation fee on the group's invoice, and close it."""
    invoice, center = group.invoice, group.center
    rng = world.streams("invoice-fee", invoice.id)
    no_show = group.status == habits.STATUS_NO_SHOW
    booked = [a for a in group.appointments if not a.is_add_on]
    price = round(sum(a.service.price for a in booked) * FEE_RATE, 2)
    if price <= 0:  # nothing to charge for free services
        return []
    name, code = ("No Show Fee", "NSFEE") if no_show else ("Late Cancellation Fee", "LCFEE")
    first = booked[0]
    invoice.items.append(
        InvoiceItem(
            new_uuid(rng),
            first.service.id,
            name,
            0,
            code,
            center.currency_id,
            price,
            round(price * center.tax_rate, 2),
            0.0,
            first.therapist.id,
            first.therapist.full_name,
        )
    )
    _pay(invoice, moment, rng, invoice.sum_total)
    invoice.receipt_number = f"R{invoice.number // 3 + rng.randint(100, 999)}"
    invoice.invoice_date = local_text(moment, center.zone)
    invoice.is_closed = invoice.lock = True
    return [Emission("Invoice.Closed", moment, f"invoice-closed:{invoice.id}:fee", _context(world, invoice, group))]


def refund(world: World, group: AppointmentGroup, moment: datetime, rng: random.Random) -> list[Emission]:
    """A refund invoice for everything the group's invoice billed."""
    original, center = group.invoice, group.center
    invoice = Invoice(
        new_uuid(rng), world.next_invoice_number(center), center, original.guest_id, group.id, original.sale_by_id
    )
    for item in original.items:
        invoice.items.append(
            InvoiceItem(
                new_uuid(rng),
                item.item_id,
                item.name,
                item.type,
                item.code,
                item.currency_id,
                -item.sales,
                -item.tax,
                0.0,
                item.sale_by_id,
                item.therapist_name,
            )
        )
    invoice.transactions.append(Transaction(new_uuid(rng), local_text(moment, center.zone), invoice.sum_total))
    invoice.receipt_number = f"R{invoice.number // 3 + rng.randint(100, 999)}"
    invoice.is_closed = invoice.lock = invoice.is_refund = True
    invoice.invoice_date = local_text(moment, center.zone)
    return [Emission("Invoice.Closed", moment, f"invoice-closed:{invoice.id}", _context(world, invoice, group))]
