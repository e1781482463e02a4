"""Where the business is: the countries its centers can be in, and what a country decides.

A center's country decides its currency (one per country, every price of its centers in
it), its price level (a facial costs more in Brooklyn than in Hyderabad), its tax rate,
and its guests: the Faker locales their names come from, their address (Zenoti's
``country_id``, a ``state_id`` of that country, a postcode of the country's shape) and
their mobile phone, a number valid for that country.

Declared, not drawn: a receiver that looks a state or a currency up finds the same answer
for every center of a country. What is confirmed and what is chosen is said per row and in
docs/assumptions.md ("Geography").
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Country:
    #: ISO 3166 alpha-2 code (for people and tests; Zenoti sends ids)
    iso: str
    name: str
    #: Zenoti's country id (``country_id``, ``nationality_id``, guest phones' ``country_code``)
    zenoti_id: int
    #: whether the id was seen in Zenoti's own data (docs samples, API definitions); else chosen
    id_confirmed: bool
    #: international dialling code (``phone_code``)
    phone_code: int
    #: mobile numbers: national significant number prefixes, and the number's length in digits
    mobile_prefixes: tuple[str, ...]
    mobile_length: int
    #: Faker locales guests' names and addresses come from
    locales: tuple[str, ...]
    #: Zenoti's ``currency_id`` of the country's currency (chosen), and its ISO code
    currency_id: int
    currency: str
    #: a price in this country is the US list price times this, rounded to ``price_step``
    price_level: float
    price_step: float
    #: tax added to each sold line (a country's usual rate on services; declared, not drawn)
    tax_rate: float
    #: (Zenoti state id, name): ids are unique over every country, so a state names its country
    states: tuple[tuple[int, str], ...]
    #: whether addresses carry a postcode (the UAE has none)
    has_postcode: bool = True
    #: share of service invoices with a tip (a habit of North America; rare elsewhere)
    tip_share: float = 0.1
    #: what streets are called; an address is a number, a surname and one of these
    street_kinds: tuple[str, ...] = ("Street", "Road", "Avenue", "Lane", "Drive", "Place")
    #: whether the house number is followed by a comma ("69, Sehgal Nagar")
    number_comma: bool = False

    def price(self, list_price: float) -> float:
        """``list_price`` (US dollars) in this country's currency at its price level."""
        if list_price <= 0 or self.price_level == 1.0:
            return list_price
        return max(self.price_step, round(list_price * self.price_level / self.price_step) * self.price_step)

    def mobile_number(self, rng: random.Random) -> str:
        """A mobile number valid for this country, as Zenoti's ``number`` holds it: the
        national significant number (no trunk 0, no dialling code), digits only."""
        prefix = rng.choice(self.mobile_prefixes)
        digits = [str(rng.randrange(10)) for _ in range(self.mobile_length - len(prefix))]
        if self.phone_code == 1:  # NANP: the exchange (digits 4-6) starts 2-9 and is not N11
            digits[0] = str(rng.randint(2, 9))
            if digits[1] == "1":
                digits[1] = "2"
        return prefix + "".join(digits)


COUNTRIES: dict[str, Country] = {
    c.iso: c
    for c in (
        Country(
            "US",
            "United States",
            225,
            True,
            1,
            ("206", "212", "305", "310", "415", "480", "512", "602", "646", "718", "720", "786", "808", "917"),
            10,
            ("en_US",),
            148,
            "USD",
            1.0,
            5.0,
            0.08875,
            (
                (42, "Connecticut"),
                (1005, "California"),
                (1010, "Florida"),
                (1011, "Hawaii"),
                (1032, "New York"),
                (1043, "Texas"),
                (1047, "Washington"),
                (1003, "Arizona"),
                (1006, "Colorado"),
            ),
            tip_share=0.6,
        ),
        Country(
            "IN",
            "India",
            95,
            True,
            91,
            ("98", "97", "99", "90", "70"),
            10,
            ("en_IN",),
            61,
            "INR",
            36.0,
            50.0,
            0.18,
            (
                (33, "Uttar Pradesh"),
                (2001, "Telangana"),
                (2002, "Maharashtra"),
                (2003, "Karnataka"),
                (2004, "Delhi"),
                (2005, "Tamil Nadu"),
            ),
            street_kinds=("Nagar", "Marg", "Road", "Colony", "Street"),
            number_comma=True,
        ),
        Country(
            "AU",
            "Australia",
            13,
            True,
            61,
            ("40", "41", "42", "43", "46"),
            9,
            ("en_AU",),
            8,
            "AUD",
            1.5,
            5.0,
            0.10,
            (
                (3001, "New South Wales"),
                (3002, "Victoria"),
                (3003, "South Australia"),
                (3004, "Western Australia"),
                (3005, "Queensland"),
            ),
        ),
        Country(
            "GB",
            "United Kingdom",
            224,
            False,
            44,
            ("740", "741", "742", "743", "746", "747", "771", "772", "775", "780", "788", "796", "797", "798", "799"),
            10,
            ("en_GB",),
            52,
            "GBP",
            0.85,
            5.0,
            0.20,
            ((4001, "England"), (4002, "Scotland"), (4003, "Wales")),
        ),
        Country(
            "AE",
            "United Arab Emirates",
            223,
            False,
            971,
            ("50", "52", "54", "55", "56", "58"),
            9,
            ("en_GB", "en_IN", "en_US"),
            3,
            "AED",
            3.8,
            10.0,
            0.05,
            ((5001, "Dubai"), (5002, "Abu Dhabi"), (5003, "Sharjah")),
            has_postcode=False,
        ),
        Country(
            "CA",
            "Canada",
            38,
            False,
            1,
            ("416", "437", "647", "604", "514", "403", "613"),
            10,
            ("en_CA",),
            39,
            "CAD",
            1.35,
            5.0,
            0.13,
            ((6001, "Ontario"), (6002, "British Columbia"), (6003, "Quebec"), (6004, "Alberta")),
            tip_share=0.5,
        ),
        Country(
            "NZ",
            "New Zealand",
            153,
            False,
            64,
            ("21", "22", "27"),
            9,
            ("en_NZ",),
            112,
            "NZD",
            1.6,
            5.0,
            0.15,
            ((7001, "Chatham Islands"), (7002, "Auckland"), (7003, "Wellington")),
        ),
        Country(
            "NP",
            "Nepal",
            149,
            False,
            977,
            ("984", "985", "986", "980"),
            10,
            ("ne_NP", "en_IN"),
            118,
            "NPR",
            55.0,
            100.0,
            0.13,
            ((8001, "Bagmati"), (8002, "Gandaki")),
        ),
        Country(
            "IR",
            "Iran",
            101,
            False,
            98,
            ("912", "913", "935", "919"),
            10,
            ("fa_IR",),
            69,
            "IRR",
            20000.0,
            10000.0,
            0.10,
            ((9001, "Tehran"), (9002, "Isfahan")),
        ),
    )
}

#: Every Faker locale some country's guests use.
LOCALES: tuple[str, ...] = tuple(dict.fromkeys(locale for c in COUNTRIES.values() for locale in c.locales))
#: A state id's country, for receivers' lookups and for tests.
STATE_COUNTRY: dict[int, str] = {state: c.iso for c in COUNTRIES.values() for state, _ in c.states}
