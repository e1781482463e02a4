"""Guests join, change their profile and are deleted."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime

from .. import Center, Guest, World
from ..build import build_guest, pick_gender, set_random
from ..entities import Phone
from . import Emission

EMITS = ("Guest.Created", "Guest.Updated", "Guest.Deleted")


def _emission(kind: str, guest: Guest, moment: datetime, key: str) -> Emission:
    return Emission(kind, moment, key, {"guest": guest})


def create_guest(world: World, center: Center, moment: datetime, rng: random.Random) -> tuple[Guest, list[Emission]]:
    """A new guest whose home is ``center``, created at ``moment``."""
    guest = build_guest(
        rng, world.fake, center, world.next_guest_number(), moment.replace(microsecond=0), world.profile
    )
    world.add_guest(guest)
    return guest, [announce_guest(guest, moment)]


def announce_guest(guest: Guest, moment: datetime) -> Emission:
    """Guest.Created for a guest the world has just made."""
    return _emission("Guest.Created", guest, moment, f"guest-created:{guest.id}")


#: What a profile update changes, and how often.
UPDATES = ("email", "mobile", "last_name", "marketing", "code", "gender")


def update_guest(world: World, guest_id: str, moment: datetime, rng: random.Random) -> list[Emission]:
    """The guest edits one part of their profile; every later event shows the new value."""
    old = world.guests[guest_id]
    what = rng.choice(UPDATES)
    if what == "email":
        new = dataclasses.replace(
            old,
            email=f"{old.first_name[:1].lower() or 'g'}{rng.randint(100, 9999)}@{rng.choice(('gmail.com', 'icloud.com', 'outlook.com'))}",
        )
    elif what == "mobile":
        country = world.center_by_id[old.center_id].country
        new = dataclasses.replace(old, mobile=Phone(country.phone_code, country.mobile_number(rng), country.zenoti_id))
    elif what == "last_name":
        set_random(world.fake["en_US"], rng)
        new = dataclasses.replace(old, last_name=world.fake["en_US"].last_name())
    elif what == "marketing":
        on = not old.preferences.receive_marketing_email
        prefs = dataclasses.replace(
            old.preferences,
            receive_marketing_email=on,
            receive_marketing_sms=on,
            marketing_email_optin=1,
            marketing_sms_optin=1,
        )
        new = dataclasses.replace(old, preferences=prefs)
    elif what == "code":
        new = dataclasses.replace(old, code=old.code + "".join(rng.choice("ABCDEFGH") for _ in range(3)))
    else:
        new = dataclasses.replace(old, gender=pick_gender(rng))
    world.guests[guest_id] = new
    return [_emission("Guest.Updated", new, moment, f"guest-updated:{guest_id}:{moment.isoformat()}")]


def delete_guest(world: World, guest_id: str, moment: datetime) -> list[Emission]:
    """Delete a guest with nothing booked ahead: no event mentions them afterwards."""
    if world.open_groups.get(guest_id):
        raise AssertionError(f"guest {guest_id} still has groups booked")
    guest = world.remove_guest(guest_id)
    return [_emission("Guest.Deleted", guest, moment, f"guest-deleted:{guest_id}")]
