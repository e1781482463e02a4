"""The simulated business: one Zenoti organization, its centers, staff, menu and guests.

Built once per run from the seed, then every event picks from it. That is what makes
the events coherent (a guest keeps their name and email, a therapist works at one
center, a service has one duration) and what makes generation fast: a pick from a tuple
costs far less than a Faker call per field per event.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from faker import Faker

from . import providers

#: Where centers can be: a town and its real IANA zone. The offsets span UTC-10 to +12:45.
LOCATIONS: tuple[tuple[str, str], ...] = (
    ("Bellevue", "America/Los_Angeles"),
    ("Santa Monica", "America/Los_Angeles"),
    ("Scottsdale", "America/Phoenix"),
    ("Boulder", "America/Denver"),
    ("Austin", "America/Chicago"),
    ("Brooklyn", "America/New_York"),
    ("Miami Beach", "America/New_York"),
    ("Toronto", "America/Toronto"),
    ("London Soho", "Europe/London"),
    ("Dubai Marina", "Asia/Dubai"),
    ("Hyderabad", "Asia/Kolkata"),
    ("Sydney CBD", "Australia/Sydney"),
    ("Honolulu", "Pacific/Honolulu"),
)

#: The zones receivers get wrong: half and quarter hours, DST in the south, +12:45.
EDGE_LOCATIONS: tuple[tuple[str, str], ...] = (
    ("Kathmandu", "Asia/Kathmandu"),
    ("Adelaide", "Australia/Adelaide"),
    ("St. John's", "America/St_Johns"),
    ("Chatham Islands", "Pacific/Chatham"),
    ("Mumbai", "Asia/Kolkata"),
    ("Eucla", "Australia/Eucla"),
    ("Tehran", "Asia/Tehran"),
    ("London Soho", "Europe/London"),
    ("Bellevue", "America/Los_Angeles"),
)

GUEST_LOCALES = ("en_US", "en_US", "en_US", "en_GB", "es_MX", "fr_FR", "en_IN", "en_AU")
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "proton.me")


def new_uuid(rng: random.Random) -> str:
    """A version-4 GUID drawn from ``rng``, so the seed decides it.

    The same value as ``str(uuid.UUID(int=rng.getrandbits(128), version=4))``, at a third
    of the cost: this runs several times per generated event.
    """
    n = (rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


#: uuid.UUID(version=4): version nibble 4, RFC 4122 variant bits 10.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (4 << 76) | (0x8000 << 48)


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Therapist:
    id: str
    first_name: str
    last_name: str
    full_name: str


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    name: str
    #: minutes
    duration: int
    needs_room: bool
    equipment: str
    add_ons: tuple[Service, ...] = ()


@dataclass(frozen=True, slots=True)
class Center:
    id: str
    name: str
    #: IANA zone name, e.g. ``America/Los_Angeles``
    zone_name: str
    zone: ZoneInfo
    #: what Zenoti prints before invoice numbers, derived from the center (``BEL1``)
    invoice_prefix: str | None
    rooms: tuple[Room, ...]
    therapists: tuple[Therapist, ...]
    services: tuple[Service, ...]


@dataclass(frozen=True, slots=True)
class Guest:
    id: str
    first_name: str
    last_name: str
    email: str | None


@dataclass(frozen=True, slots=True)
class Business:
    """Everything the events of one run talk about."""

    organization: Organization
    centers: tuple[Center, ...]
    guests: tuple[Guest, ...]

    @classmethod
    def build(cls, rng: random.Random, *, profile: str = "realistic", guests: int = 400) -> Business:
        """Build a business drawing every value from ``rng``, the run's seeded generator.

        :param profile: ``edge`` gives centers in half- and quarter-hour zones and guests
            with the names receivers break on.
        """
        fake = make_faker(rng)
        org = Organization(new_uuid(rng), f"{fake['en_US'].last_name()} {rng.choice(('Spa', 'Med Spa', 'Salon & Spa', 'Wellness'))}")
        locations = EDGE_LOCATIONS if profile == "edge" else LOCATIONS
        centers = tuple(_build_center(fake, name, zone, i, profile) for i, (name, zone) in enumerate(_pick_locations(rng, locations)))
        people = tuple(_build_guest(fake, profile) for _ in range(guests))
        return cls(org, centers, people)


#: A winter and a summer instant: DST can make two zones agree in one season only.
_SEASONS = (datetime(2026, 1, 15, tzinfo=timezone.utc), datetime(2026, 7, 15, tzinfo=timezone.utc))


def _pick_locations(rng: random.Random, locations: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """Three to six locations over at least three distinct UTC offsets, summer and winter."""
    while True:
        chosen = rng.sample(locations, rng.randint(3, 6))
        if all(len({probe.astimezone(ZoneInfo(zone)).utcoffset() for _, zone in chosen}) >= 3 for probe in _SEASONS):
            return chosen


def _invoice_prefix(name: str, index: int) -> str:
    letters = "".join(ch for ch in _ascii(name).upper() if ch.isalpha())
    return f"{(letters + 'XXX')[:3]}{index + 1}"


def _build_center(fake: Faker, name: str, zone: str, index: int, profile: str) -> Center:
    rng = fake["en_US"].random
    rooms = tuple(Room(new_uuid(rng), room) for room in rng.sample(providers.ROOMS, rng.randint(3, 6)))
    therapists = tuple(_build_therapist(fake) for _ in range(rng.randint(4, 9)))
    menu = rng.sample(providers.SERVICES, rng.randint(8, 14))
    services = tuple(
        Service(
            new_uuid(rng), s_name, minutes, needs_room, equipment,
            tuple(Service(new_uuid(rng), a_name, a_min, needs_room, "") for a_name, a_min in rng.sample(providers.ADD_ONS, rng.choice((0, 0, 1, 2, 3)))),
        )
        for s_name, minutes, needs_room, equipment in menu
    )
    prefix: str | None = _invoice_prefix(name, index)
    if profile == "edge":
        prefix = rng.choice((prefix, "", None))
    return Center(new_uuid(rng), name, zone, ZoneInfo(zone), prefix, rooms, therapists, services)


def _build_therapist(fake: Faker) -> Therapist:
    en = fake["en_US"]
    first, last = en.first_name(), en.last_name()
    return Therapist(new_uuid(en.random), first, last, f"{first} {last}")


def _build_guest(fake: Faker, profile: str) -> Guest:
    en = fake["en_US"]
    rng = en.random
    if profile == "edge" and rng.random() < 0.7:
        first, last = en.edge_first_name(), en.edge_last_name()
        email = rng.choice((None, "", _email(rng, first, last), "o'brien+spa@example.com"))
        return Guest(new_uuid(rng).upper() if rng.random() < 0.2 else new_uuid(rng), first, last, email)
    local = fake[rng.choice(GUEST_LOCALES)]
    first, last = local.first_name(), local.last_name()
    email = _email(rng, first, last) if rng.random() < 0.95 else None
    return Guest(new_uuid(rng), first, last, email)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _email(rng: random.Random, first: str, last: str) -> str:
    user = ".".join(p for p in (_ascii(first).lower(), _ascii(last).lower()) if p).replace(" ", "").replace("'", "")
    user = "".join(ch for ch in user if ch.isalnum() or ch in "._-")[:40] or "guest"
    return f"{user}{rng.choice(('', '', str(rng.randint(1, 99))))}@{rng.choice(EMAIL_DOMAINS)}"


def make_faker(rng: random.Random) -> Faker:
    """A Faker over our locales and spa provider, drawing from ``rng`` and nothing else."""
    fake = Faker(list(dict.fromkeys(GUEST_LOCALES)))
    for locale in fake.locales:
        fake[locale].add_provider(providers.Provider)
        fake[locale].random = rng
    return fake
