"""What the API answers for an entity: the world's object, shown through the event schemas.

Every fact an event also carries is filled by the same compiled projection the webhook
events use (:mod:`emulator.events.projection`, the schemas' ``x-source``): a guest is the
``data`` of ``Guest.Updated``, an invoice the ``data.invoice`` of ``Invoice.Closed``, a
membership the ``data`` of ``Guest.Membership.Created``, a group's status the
``appointment_group_status`` of ``AppointmentGroup.Status``. So a code or a format fixed
in a schema (gender, phones, a status) changes the API's answers with it, and an answer
cannot disagree with an event about the same object at the same moment: there is no
second table of codes here.

Facts no event carries (a service's price list, the API's own keys such as
``appointment_services`` or ``price_info``) are arranged around those projected parts,
with the names Zenoti's API reference uses (see docs/assumptions.md, "The read API").
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

from ..events.projection import Fill, Filler, compile_schema
from ..events.registry import default_registry
from ..world import Appointment, AppointmentGroup, Center, Guest, Invoice, Service
from ..world.actions.bookings import status_code
from ..world.build import make_faker
from .ledger import Ledger


@functools.cache
def part(event_type: str, *path: str) -> Filler:
    """The compiled projection of one part of ``event_type``'s payload (``data``, ``data.invoice``)."""
    schema = default_registry().get_type(event_type).resolved
    for key in path:
        schema = schema["properties"][key]
    return compile_schema(schema, f"{event_type}:$." + ".".join(path))


class Answers:
    """Turns a ledger's entities into the JSON Zenoti's API answers with."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.world = ledger.world
        self.fake = make_faker()["en_US"]
        self._guests: dict[str, tuple[Guest, dict[str, Any]]] = {}

    def _fill(self, filler: Filler, key: str, **context: Any) -> Any:
        # A field that draws (none of the entity facts do) draws from a stream named after
        # the entity: the same question gets the same answer.
        fill = Fill(
            functools.partial(self.world.streams, "api", key),
            self.fake,
            self.world.profile,
            [SimpleNamespace(**context)],
        )
        return filler(fill)

    # -- guests -----------------------------------------------------------------------

    def guest(self, guest: Guest) -> dict[str, Any]:
        """``GET /v1/guests/{id}``: the profile Guest.Updated shows, and the API's extra keys.

        Kept per guest object: a guest is frozen and replaced whole on update, so the same
        object always shows the same profile (a search reads every guest's). Callers must
        not change the dict they get.
        """
        cached = self._guests.get(guest.id)
        if cached is not None and cached[0] is guest:
            return cached[1]
        out: dict[str, Any] = self._fill(part("Guest.Updated", "data"), guest.id, guest=guest)
        out.setdefault("tags", [])
        out.setdefault("referral", None)
        out.setdefault("primary_employee", None)
        self._guests[guest.id] = (guest, out)
        return out

    def guest_brief(self, guest: Guest) -> dict[str, Any]:
        """The ``guest`` of an appointment: a few fields of the projected profile."""
        full = self.guest(guest)
        info = full["personal_info"]
        mobile = info.get("mobile_phone")
        if isinstance(mobile, dict):
            # Live guests carry both codes: country_code is Zenoti's country id (the dialling
            # code under guest-phone-country-code=phone-code), phone_code the dialling code.
            country = mobile.get("country_code")
            number = mobile.get("number")
            dialling = mobile.get("phone_code", country)
            display = f"+{dialling} {number}" if number else None
        else:
            country, number, display = None, None, None
        return {
            "id": full["id"],
            "first_name": info["first_name"],
            "last_name": info["last_name"],
            "gender": info.get("gender"),
            "mobile": {"country_id": country, "number": number, "display_number": display},
            "email": info.get("email"),
        }

    # -- appointments -----------------------------------------------------------------

    def _status(self, group: AppointmentGroup) -> int:
        """The group's status as AppointmentGroup.Status codes it (:func:`~emulator.world.actions.bookings.status_code`,
        which reads the ``status-1`` variant); a status no event sends keeps the world's code."""
        code = status_code(self.world, group.status)
        status = SimpleNamespace(
            code=group.status if code is None else code, noshow_fee=None, cancellation_fee=None, guest=None
        )
        shown: int = self._fill(
            part("AppointmentGroup.Status", "data", "appointment_group_status"), group.id, group=group, status=status
        )
        return shown

    def _progress(self, group: AppointmentGroup) -> dict[str, dict[str, Any]]:
        """Each appointment as Appointment.Completed shows it (progress, times), by id."""
        data = self._fill(
            part("Appointment.Completed", "data"),
            group.id,
            group=group,
            center=group.center,
            appointments=group.appointments,
        )
        return {a["id"]: a for a in data["appointments"]}

    def _booked(self, group: AppointmentGroup) -> dict[str, Any]:
        guest = self.ledger.last_seen_guest(group.guest_id)
        shown: dict[str, Any] = self._fill(
            part("AppointmentGroup.Created", "data"),
            group.id,
            group=group,
            center=group.center,
            organization=self.world.organization,
            guest=guest,
            appointments=group.appointments,
        )
        return shown

    def _service(self, service: Service, center: Center) -> dict[str, Any]:
        return {
            "id": service.id,
            "name": service.name,
            "display_name": None,
            "price": _price(service.price, center),
            "duration": service.duration,
            "category_id": None,
            "is_addon": None,
            "has_addons": bool(service.add_ons),
            "addons": None,
            "is_variant": None,
            "has_variant": None,
            "parent_service_id": None,
        }

    def group(self, group: AppointmentGroup) -> dict[str, Any]:
        """A group as ``GET /v1/guests/{id}/appointments`` lists it (and ``/v1/appointment_groups/{id}``)."""
        booked = self._booked(group)
        progress = self._progress(group)
        status = self._status(group)
        services = []
        for appointment, shown in zip(group.appointments, booked["appointments"], strict=True):
            done = progress.get(shown["id"], {})
            services.append(
                {
                    "appointment_id": shown["id"],
                    "invoice_item_id": shown["invoice_item_id"],
                    "service": {**self._service(appointment.service, group.center), "is_addon": shown["is_add_on"]},
                    "requested_therapist_gender": 0,
                    "start_time": shown["start_time_in_center"],
                    "end_time": shown["end_time_in_center"],
                    "start_time_utc": shown["start_time"],
                    "end_time_utc": shown["end_time"],
                    "room": {"id": shown["room_id"], "name": shown["room_name"]} if shown.get("room_id") else None,
                    "equipment": None,
                    "appointment_status": status,
                    "requested_therapist_id": shown["therapist_id"],
                    "therapist": {"id": shown["therapist_id"], "name": shown["therapist_name"]},
                    "quantity": 1,
                    "progress": done.get("appointment_progress", 0),
                    "is_addon": shown["is_add_on"],
                    "parent_appointment_id": None,
                }
            )
        invoice = self.invoice(group.invoice)
        return {
            "appointment_group_id": booked["appointment_group_id"],
            "no_of_guests": 1,
            "invoice_id": booked["invoice_id"],
            "invoice_number": booked["invoice_number"],
            "invoice_status": 4 if invoice["is_closed"] else 0,
            "is_rebooking": booked.get("rebooked_source_group_id") is not None,
            "rebooked_source_group_id": booked.get("rebooked_source_group_id"),
            "status": status,
            "notes": None,
            "center_id": booked["center_id"],
            "guest": booked["guest"],
            "appointment_services": services,
            "appointment_packages": [],
            "price": {
                "currency_id": group.center.currency_id,
                "sales": invoice["total_price"]["net_price"],
                "tax": invoice["total_price"]["tax"],
                "final": invoice["total_price"]["sum_total"],
            },
            "group_invoice_id": None,
            "is_feedback_submitted": False,
        }

    def appointment(self, appointment: Appointment, group: AppointmentGroup) -> dict[str, Any]:
        """``GET /v1/appointments/{id}``: one service of a group, with its guest and therapist."""
        whole = self.group(group)
        shown = next(s for s in whole["appointment_services"] if s["appointment_id"] == appointment.id)
        guest = self.ledger.last_seen_guest(group.guest_id)
        therapist = appointment.therapist
        return {
            "appointment_id": shown["appointment_id"],
            "appointment_segment_id": None,
            "appointment_group_id": whole["appointment_group_id"],
            "invoice_id": whole["invoice_id"],
            "service": {
                "id": shown["service"]["id"],
                "name": shown["service"]["name"],
                "is_addon": shown["is_addon"],
                "has_addons": shown["service"]["has_addons"],
                "parent_appointment_id": None,
            },
            "start_time": shown["start_time"],
            "start_time_utc": shown["start_time_utc"],
            "end_time": shown["end_time"],
            "end_time_utc": shown["end_time_utc"],
            "status": whole["status"],
            "source": 0,
            "progress": shown["progress"],
            "locked": False,
            "invoice_locked": whole["invoice_status"] == 4,
            "guest": self.guest_brief(guest) if guest is not None else None,
            "therapist": {
                "id": therapist.id,
                "first_name": therapist.first_name,
                "last_name": therapist.last_name,
                "nick_name": None,
                "display_name": None,
            },
            "room": shown["room"],
            "equipment": None,
            "notes": None,
            "price": _price(appointment.service.price, group.center),
            "center_id": whole["center_id"],
            "group_invoice_id": None,
            "error": None,
        }

    # -- invoices ---------------------------------------------------------------------

    def invoice(self, invoice: Invoice) -> dict[str, Any]:
        """``GET /v1/invoices/{id}``'s ``invoice``: what Invoice.Closed shows, as it stands now."""
        group = self.ledger.groups.get(invoice.group_id or "")
        billed = [a for a in group.appointments if a.progress == 2] if group else []
        guest = self.ledger.last_seen_guest(invoice.guest_id)
        shown: dict[str, Any] = self._fill(
            part("Invoice.Closed", "data", "invoice"),
            invoice.id,
            invoice=invoice,
            center=invoice.center,
            guest=guest,
            appointments=billed,
        )
        return shown

    # -- memberships and packages -----------------------------------------------------

    def membership(self, membership: Any) -> dict[str, Any]:
        shown: dict[str, Any] = self._fill(
            part("Guest.Membership.Created", "data"),
            membership.id,
            membership=membership,
            center=membership.center,
            event_resource=None,
        )
        return shown

    def package(self, package: Any) -> dict[str, Any]:
        shown: dict[str, Any] = self._fill(
            part("Guest.Package.Created", "data"),
            package.id,
            package=package,
            center=package.center,
            event_resource=None,
        )
        return shown

    # -- the business -----------------------------------------------------------------

    def center(self, center: Center) -> dict[str, Any]:
        return {
            "id": center.id,
            "code": center.invoice_prefix or "",
            "name": center.name,
            "display_name": center.name,
            "currency_id": center.currency_id,
            "time_zone": center.zone_name,
            "working_hours": {"open": f"{center.hours[0] % 24:02d}:00", "close": f"{center.hours[1] % 24:02d}:00"},
        }

    def service(self, service: Service, center: Center) -> dict[str, Any]:
        tax = round(service.price * center.tax_rate, 2)
        return {
            "id": service.id,
            "code": service.code,
            "name": service.name,
            "description": "",
            "duration": service.duration,
            "recovery_time": 0,
            "is_couple_service": False,
            "price_info": {
                "currency_id": center.currency_id,
                "sale_price": service.price,
                "tax_id": "",
                "ssg": 0,
                "include_tax": False,
                "demand_group_id": "",
                "tax": tax,
                "price_without_tax": service.price,
                "final_price": round(service.price + tax, 2),
            },
            "additional_info": None,
            "catalog_info": None,
            "variants_info": None,
            "add_ons_info": [{"id": a.id, "name": a.name} for a in service.add_ons] or None,
            "image_paths": None,
        }

    def employee(self, member: Any) -> dict[str, Any]:
        """An employee as Employee.Created shows them, with the list API's short keys added."""
        out: dict[str, Any] = self._fill(part("Employee.Created", "data"), member.id, employee=member)
        info, job = out.get("personal_info") or {}, out.get("job_info") or {}
        info.setdefault("name", f"{info.get('first_name', '')} {info.get('last_name', '')}".strip())
        job.setdefault("id", job.get("job_id"))
        job.setdefault("name", job.get("job_name"))
        return out


def _price(amount: float, center: Center) -> dict[str, Any]:
    tax = round(amount * center.tax_rate, 2)
    return {"currency_id": center.currency_id, "sales": amount, "tax": tax, "final": round(amount + tax, 2)}
