"""``additional_fields``: the custom fields a center adds to its invoices, as ``{key, value}``.

Seen live on Invoice.Closed (a receiver stores them as key/value pairs); what keys a
business defines is its own choice, so these are examples of the kind. Most invoices
carry none: the key is left out. Which invoice carries which is fixed by a hash of the
invoice's id, so no random stream of the world moves and the fields are the same in
every event that shows the invoice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: Share of invoices that carry custom fields.
SHARE = 0.2
#: The fields a center may define, each with the values staff pick from.
FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Referral Source", ("Instagram", "Google", "Friend", "Walk-in", "Gift")),
    ("Booked Via", ("Phone", "Online", "Front Desk", "App")),
    ("Occasion", ("Birthday", "Anniversary", "Bridal", "Self-care")),
    ("Consultation Form", ("Signed", "Pending")),
)


@dataclass(frozen=True, slots=True)
class AdditionalField:
    key: str
    value: str


def additional_fields(invoice_id: str) -> tuple[AdditionalField, ...] | None:
    """The invoice's custom fields (one to three), or ``None`` for most invoices."""
    digest = hashlib.blake2b(invoice_id.encode(), digest_size=16).digest()
    if digest[0] / 256 >= SHARE:
        return None
    count = 1 + digest[1] % 3
    start = digest[2] % len(FIELDS)
    chosen = [FIELDS[(start + i) % len(FIELDS)] for i in range(count)]
    return tuple(AdditionalField(key, values[digest[3 + i] % len(values)]) for i, (key, values) in enumerate(chosen))
