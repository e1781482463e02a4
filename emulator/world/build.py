"""Building the organization of a seed: its centers, staff, menus and first guests.

Each center, employee and guest is drawn from its own stream (:mod:`.randomness`), so
adding a guest attribute changes guests' draws and nothing else.
"""

from __future__ import annotations

import functools
import itertools
import random
import threading
import unicodedata
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from faker import Faker

from . import habits, providers
from .entities import Center, Employee, Guest, Organization, Phone, Preferences, Product, Room, Service
from .geography import COUNTRIES, LOCALES, Country
from .randomness import Streams, new_uuid

#: Where centers can be: a town and its real IANA zone. The offsets span UTC-10 to +12:45.
LOCATIONS: tuple[tuple[str, str, str], ...] = (
    ("Bellevue", "America/Los_Angeles", "US"),
    ("Santa Monica", "America/Los_Angeles", "US"),
    ("Scottsdale", "America/Phoenix", "US"),
    ("Boulder", "America/Denver", "US"),
    ("Austin", "America/Chicago", "US"),
    ("Brooklyn", "America/New_York", "US"),
    ("Miami Beach", "America/New_York", "US"),
    ("Toronto", "America/Toronto", "CA"),
    ("London Soho", "Europe/London", "GB"),
    ("Dubai Marina", "Asia/Dubai", "AE"),
    ("Hyderabad", "Asia/Kolkata", "IN"),
    ("Sydney CBD", "Australia/Sydney", "AU"),
    ("Honolulu", "Pacific/Honolulu", "US"),
)
#: The zones receivers get wrong: half and quarter hours, DST in the south, +12:45.
EDGE_LOCATIONS: tuple[tuple[str, str, str], ...] = (
    ("Kathmandu", "Asia/Kathmandu", "NP"),
    ("Adelaide", "Australia/Adelaide", "AU"),
    ("St. John's", "America/St_Johns", "CA"),
    ("Chatham Islands", "Pacific/Chatham", "NZ"),
    ("Mumbai", "Asia/Kolkata", "IN"),
    ("Eucla", "Australia/Eucla", "AU"),
    ("Tehran", "Asia/Tehran", "IR"),
    ("London Soho", "Europe/London", "GB"),
    ("Bellevue", "America/Los_Angeles", "US"),
)
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "proton.me")
#: Opening hours a center can keep (local wall clock); edge centers never close, so that
#: groups cross midnight and DST changes.
OPENING_HOURS = ((9, 19), (9, 20), (8, 20), (10, 21), (10, 19))
#: A winter and a summer instant: DST can make two zones agree in one season only.
_SEASONS = (datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 7, 15, tzinfo=UTC))


_FAKERS = threading.local()


def _list_provider_packages_once() -> None:
    """Let Faker list each provider package's locales once, not once per locale.

    Making a Faker of our six locales lists the folder of every localized provider for
    each locale (``faker.factory.list_module``, about 130 directory scans), which was a
    fifth of a command's start. An installed package's folders do not change while we
    run, so the listing is kept; the answers are the same, and so is every draw.
    """
    import faker.factory

    listing = getattr(faker.factory, "list_module", None)
    if listing is not None and not hasattr(listing, "cache_info"):
        faker.factory.list_module = functools.cache(listing)  # type: ignore[attr-defined]  # patched, not exported


def set_random(fake: Faker, rng: random.Random) -> None:
    """Make ``rng`` the one source of ``fake``'s draws (a locale's Faker, ``fake["en_US"]``).

    Faker's proxies and generators have a ``random`` property that its type stubs leave
    out; it is set here, in one place, so the type checker is told so once.
    """
    fake.random = rng  # type: ignore[attr-defined]


def make_faker() -> Faker:
    """A Faker over our locales with the spa provider. Callers set ``.random`` per draw.

    One per thread, made on first use: making one costs tens of milliseconds (Faker lists
    its provider packages on disk for each locale), and a world, its organization and its
    projector each asked for one. Every user sets ``.random`` before it draws, so sharing
    changes no draw; a thread of its own keeps two worlds in two threads apart.
    """
    fake = getattr(_FAKERS, "fake", None)
    if fake is None:
        _list_provider_packages_once()
        fake = _FAKERS.fake = Faker(list(LOCALES))
        for locale in fake.locales:
            fake[locale].add_provider(providers.Provider)
    return fake


def build_organization(streams: Streams, profile: str) -> tuple[Organization, tuple[Center, ...]]:
    """The organization and its three to six centers, over at least three UTC offsets."""
    rng = streams("organization")
    fake = make_faker()
    en = fake["en_US"]
    set_random(en, rng)
    org = Organization(new_uuid(rng), f"{en.last_name()} {rng.choice(('Spa', 'Med Spa', 'Salon & Spa', 'Wellness'))}")
    locations = EDGE_LOCATIONS if profile == "edge" else LOCATIONS
    chosen = _pick_locations(rng, locations)
    centers = tuple(
        _build_center(streams("center", i), fake, name, zone, COUNTRIES[iso], i, profile)
        for i, (name, zone, iso) in enumerate(chosen)
    )
    return org, centers


def _pick_locations(rng: random.Random, locations: tuple[tuple[str, str, str], ...]) -> list[tuple[str, str, str]]:
    while True:
        chosen = rng.sample(locations, rng.randint(3, 6))
        if all(len({probe.astimezone(ZoneInfo(zone)).utcoffset() for _, zone, _ in chosen}) >= 3 for probe in _SEASONS):
            return chosen


def _code(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(length))


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _build_center(
    rng: random.Random, fake: Faker, name: str, zone: str, country: Country, index: int, profile: str
) -> Center:
    """A center whose prices, currency and tax are its country's (:mod:`.geography`)."""
    en = fake["en_US"]
    set_random(en, rng)
    center_id = new_uuid(rng)
    room_names = rng.sample(providers.ROOMS, rng.randint(4, 8))
    if profile == "edge":
        room_names = [rng.choice(providers.EDGE_ROOMS) if rng.random() < 0.3 else n for n in room_names]
    rooms = tuple(Room(new_uuid(rng), n) for n in room_names)
    hours = (0, 24) if profile == "edge" else rng.choice(OPENING_HOURS)
    therapists = tuple(_build_employee(rng, en, center_id, hours) for _ in range(rng.randint(5, 10)))
    menu = rng.sample(providers.SERVICES, rng.randint(8, 14))
    services = []
    for s_name, minutes, needs_room, equipment in menu:
        add_ons = tuple(
            Service(
                new_uuid(rng),
                a_name,
                _code(rng, 4),
                a_min,
                needs_room,
                "",
                "",
                country.price(providers.ADD_ON_PRICES[a_name]),
            )
            for a_name, a_min in rng.sample(providers.ADD_ONS, rng.choice((0, 0, 1, 2, 3)))
        )
        shown: str | None = equipment
        if profile == "edge":
            shown = rng.choice((equipment, "", None))
        services.append(
            Service(
                new_uuid(rng),
                s_name,
                _code(rng, 4),
                minutes,
                needs_room,
                shown,
                new_uuid(rng) if equipment else "",
                country.price(providers.SERVICE_PRICES[s_name]),
                add_ons,
            )
        )
    products = tuple(
        Product(new_uuid(rng), p_name, _code(rng, 6), country.price(price))
        for p_name, price in rng.sample(providers.PRODUCTS, 5)
    )
    letters = "".join(ch for ch in _ascii(name).upper() if ch.isalpha())
    prefix: str | None = f"{(letters + 'XXX')[:3]}{index + 1}"
    if profile == "edge":
        prefix = rng.choice((prefix, "", None))
    return Center(
        center_id,
        name,
        zone,
        ZoneInfo(zone),
        prefix,
        hours,
        rooms,
        therapists,
        tuple(services),
        products,
        currency_id=country.currency_id,
        tax_rate=country.tax_rate,
        charges_no_show=rng.random() < 0.7,
        late_cancel_hours=rng.choice((None, 12, 24, 24, 48)),
        country=country,
    )


def _build_employee(rng: random.Random, en: Faker, center_id: str, hours: tuple[int, int]) -> Employee:
    first, last = en.first_name(), en.last_name()
    opens, closes = hours
    length = min(closes - opens, rng.choice((8, 8, 9, 10)))
    start = opens + rng.randint(0, max(0, closes - opens - length))
    off = frozenset(rng.sample(range(7), 2))
    return Employee(new_uuid(rng), _code(rng, 4), first, last, center_id, (start, start + length), off)


#: Faker's name lists by (locale, attribute): values and cumulative weights (None: equal).
#: Drawn with one ``rng.choices`` instead of Faker's weighted draw, which rebuilds its
#: table on every call (most of a guest's cost when guests are built as they come).
_NAMES: dict[tuple[str, str], tuple[tuple[str, ...], list[float] | None]] = {}


def _name(rng: random.Random, fake: Faker, locale: str, attr: str) -> str:
    pool = _NAMES.get((locale, attr))
    if pool is None:
        found = next(getattr(p, attr) for p in fake[locale].get_providers() if hasattr(p, attr))
        if isinstance(found, dict):
            pool = (tuple(found), list(itertools.accumulate(found.values())))
        else:
            pool = (tuple(found), None)
        _NAMES[(locale, attr)] = pool
    values, cumulative = pool
    if cumulative is None:
        return values[rng.randrange(len(values))]
    return rng.choices(values, cum_weights=cumulative)[0]


def build_guest(rng: random.Random, fake: Faker, center: Center, number: int, created: datetime, profile: str) -> Guest:
    """A guest whose every attribute comes from ``rng``: their own stream."""
    upper = (profile == "edge" and rng.random() < 0.2) or rng.random() < habits.UPPER_CASE_GUID_SHARE
    guest_id = new_uuid(rng)
    if upper:
        guest_id = guest_id.upper()
    country = center.country
    if profile == "edge" and rng.random() < 0.7:
        en = fake["en_US"]
        set_random(en, rng)
        first, last = en.edge_first_name(), en.edge_last_name()
        email: str | None = rng.choice((None, "", _email(rng, first, last), "o'brien+spa@example.com"))
    else:
        locale = rng.choice(country.locales)
        first, last = _name(rng, fake, locale, "first_names"), _name(rng, fake, locale, "last_names")
        email = _email(rng, first, last) if rng.random() < 0.93 else ""
    mobile = Phone(country.phone_code, country.mobile_number(rng), country.zenoti_id) if rng.random() < 0.8 else None
    birth: str | None = None
    if rng.random() < 0.55:
        birth = (datetime(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))).strftime("%Y-%m-%dT00:00:00")
    # The address is the guest's country's: a street near their center, a state of the
    # country, a postcode of its shape.
    home = fake[country.locales[0]]
    set_random(home, rng)
    has_address = rng.random() < 0.4
    street = ""
    if has_address:
        street = (
            f"{rng.randint(1, 999)}{',' if country.number_comma else ''} "
            f"{_name(rng, fake, country.locales[0], 'last_names')} {rng.choice(country.street_kinds)}"
        )
    marketing = rng.random() < 0.6
    return Guest(
        id=guest_id,
        number=number,
        code=_code(rng),
        center_id=center.id,
        center_name=center.name,
        created=created,
        first_name=first,
        middle_name="",
        last_name=last,
        email=email,
        mobile=mobile,
        gender=pick_gender(rng),
        date_of_birth=birth,
        nationality_id=rng.choice((-1, -1, country.zenoti_id)),
        address_1=street,
        address_2="",
        city=center.name if has_address else "",
        country_id=country.zenoti_id,
        state_id=rng.choice(country.states)[0] if has_address else -1,
        zip_code=home.postcode() if rng.random() < 0.6 and country.has_postcode else "",
        preferences=Preferences(True, True, marketing, marketing, True, rng.random() < 0.5, 0, 0, 0, 0, 0, True),
    )


def pick_gender(rng: random.Random) -> int:
    """Zenoti's person codes: 0 female, 1 male, -1 not specified (its API refuses 2)."""
    return rng.choices((-1, 1, 0), weights=(20, 25, 55))[0]


def _email(rng: random.Random, first: str, last: str) -> str:
    user = ".".join(p for p in (_ascii(first).lower(), _ascii(last).lower()) if p).replace(" ", "").replace("'", "")
    user = "".join(ch for ch in user if ch.isalnum() or ch in "._-")[:40] or "guest"
    return f"{user}{rng.choice(('', '', str(rng.randint(1, 99))))}@{rng.choice(EMAIL_DOMAINS)}"
