"""Guests opt in to, or out of, marketing email and text messages.

Zenoti documents Guest.OptedIn and Guest.OptedOut but publishes no sample; we send the
guest's whole profile, as every other Guest event does, with the new preferences (an
inference, listed in docs/assumptions.md).
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta

from .. import Center, Guest, World
from . import Emission, Scheduler

EMITS = ("Guest.OptedIn", "Guest.OptedOut")

#: Opt-in or opt-out changes per center per day, on average (half each way).
CHANGES_PER_DAY = 0.8
#: Opt-in codes we write: 1 opted in (as the samples), 2 opted out (assumed).
OPTED_IN, OPTED_OUT = 1, 2
#: Which channels one change covers.
CHANNELS = (("email",), ("sms",), ("email", "sms"))


def set_marketing(world: World, guest_id: str, on: bool, channels: tuple[str, ...], moment: datetime) -> list[Emission]:
    """Turn marketing on or off on ``channels``; every later event shows the new profile."""
    old = world.guests[guest_id]
    prefs = old.preferences
    code = OPTED_IN if on else OPTED_OUT
    if "email" in channels:
        prefs = dataclasses.replace(prefs, receive_marketing_email=on, marketing_email_optin=code)
    if "sms" in channels:
        prefs = dataclasses.replace(prefs, receive_marketing_sms=on, marketing_sms_optin=code)
    new = world.guests[guest_id] = dataclasses.replace(old, preferences=prefs)
    kind = "Guest.OptedIn" if on else "Guest.OptedOut"
    return [Emission(kind, moment, f"{kind}:{guest_id}:{moment.isoformat()}", {"guest": new})]


def _receives(guest: Guest, channel: str) -> bool:
    prefs = guest.preferences
    return prefs.receive_marketing_email if channel == "email" else prefs.receive_marketing_sms


def install(sim: Scheduler) -> None:
    def on_day(sim: Scheduler, moment: datetime, center: Center, day: date, _: random.Random) -> list[Emission]:
        rng = sim.world.streams("optins-day", center.id, day.isoformat())
        for n in range(sum(rng.random() < CHANGES_PER_DAY / 4 for _ in range(4))):
            local = datetime(day.year, day.month, day.day, tzinfo=center.zone) + timedelta(
                seconds=rng.uniform(7 * 3600, 23 * 3600)
            )
            when = local.astimezone(UTC)
            if when >= moment:
                sim.at(when, change, center, f"{day.isoformat()}:{n}")
        return []

    def change(moment: datetime, center: Center, name: str) -> list[Emission]:
        world = sim.world
        rng = world.streams("optin", center.id, name)
        on, channels = rng.random() < 0.5, rng.choice(CHANNELS)
        ids = world.guests_at[center.id]
        for guest_id in rng.sample(ids, min(10, len(ids))):
            if all(_receives(world.guests[guest_id], c) != on for c in channels):
                return set_marketing(world, guest_id, on, channels, moment)
        return []

    sim.on("day", on_day)
