"""Spa vocabulary as Faker data: what a salon, spa or med-spa on Zenoti is made of.

Like Faker's own providers, this is mostly data (tuples and weighted dicts) read by
one-line methods. Every draw goes through ``self.generator.random``, the one seeded
``random.Random`` of the run, so a seed decides every value.
"""

from __future__ import annotations

from faker.providers import BaseProvider

#: (name, minutes, needs a room, equipment): the services a center can put on its menu.
SERVICES: tuple[tuple[str, int, bool, str], ...] = (
    ("Swedish Massage 60", 60, True, ""),
    ("Deep Tissue Massage 90", 90, True, ""),
    ("Hot Stone Massage", 75, True, ""),
    ("Couples Massage", 60, True, ""),
    ("Prenatal Massage", 60, True, ""),
    ("Signature Facial", 60, True, ""),
    ("HydraFacial Deluxe", 45, True, "HydraFacial MD"),
    ("Chemical Peel", 45, True, ""),
    ("Microneedling", 75, True, "SkinPen"),
    ("Laser Hair - Male", 60, True, "GentleMax Pro"),
    ("Laser Hair - Female", 45, True, "GentleMax Pro"),
    ("Botox Consultation", 30, True, ""),
    ("Dermal Filler - Lips", 45, True, ""),
    ("Women's Haircut & Style", 45, False, ""),
    ("Men's Haircut", 30, False, ""),
    ("Balayage", 150, False, ""),
    ("Root Touch-Up", 90, False, ""),
    ("Blowout", 30, False, ""),
    ("Gel Manicure", 45, False, ""),
    ("Spa Pedicure", 60, False, ""),
    ("Brow Wax", 15, False, ""),
    ("Lash Lift & Tint", 60, True, ""),
    ("Body Scrub", 45, True, ""),
    ("Infrared Sauna", 30, True, "Sauna Pod 2"),
)

#: (name, minutes): add-ons a service can offer, booked right after it.
ADD_ONS: tuple[tuple[str, int], ...] = (
    ("Aromatherapy Add-On", 15),
    ("Scalp Massage", 15),
    ("Paraffin Hand Treatment", 15),
    ("Hot Towel Upgrade", 10),
    ("LED Light Therapy", 20),
    ("Eye Treatment", 15),
    ("Hair Gloss", 20),
    ("Cuticle Care", 10),
)

#: List prices of the services above, in currency units (what an invoice bills).
SERVICE_PRICES: dict[str, float] = {
    "Swedish Massage 60": 110.0,
    "Deep Tissue Massage 90": 165.0,
    "Hot Stone Massage": 145.0,
    "Couples Massage": 240.0,
    "Prenatal Massage": 115.0,
    "Signature Facial": 125.0,
    "HydraFacial Deluxe": 199.0,
    "Chemical Peel": 150.0,
    "Microneedling": 325.0,
    "Laser Hair - Male": 189.0,
    "Laser Hair - Female": 159.0,
    "Botox Consultation": 0.0,
    "Dermal Filler - Lips": 650.0,
    "Women's Haircut & Style": 78.0,
    "Men's Haircut": 42.0,
    "Balayage": 265.0,
    "Root Touch-Up": 95.0,
    "Blowout": 48.0,
    "Gel Manicure": 45.0,
    "Spa Pedicure": 62.0,
    "Brow Wax": 22.0,
    "Lash Lift & Tint": 95.0,
    "Body Scrub": 89.0,
    "Infrared Sauna": 35.0,
}
#: Add-on prices.
ADD_ON_PRICES: dict[str, float] = {
    "Aromatherapy Add-On": 15.0,
    "Scalp Massage": 20.0,
    "Paraffin Hand Treatment": 18.0,
    "Hot Towel Upgrade": 10.0,
    "LED Light Therapy": 35.0,
    "Eye Treatment": 25.0,
    "Hair Gloss": 30.0,
    "Cuticle Care": 12.0,
}
#: (name, list price): retail a guest buys at check-out (invoice item type 2).
PRODUCTS: tuple[tuple[str, float], ...] = (
    ("Hydrating Serum 30ml", 68.0),
    ("SPF 50 Daily Shield", 42.0),
    ("Argan Oil Shampoo", 28.0),
    ("Repair Mask", 36.0),
    ("Cuticle Oil", 14.0),
    ("Lip Balm Trio", 18.0),
    ("Retinol Night Cream", 89.0),
    ("Body Butter", 32.0),
    ("Gift Card Sleeve", 5.0),
)

ROOMS: tuple[str, ...] = (
    "Treatment Room 1",
    "Treatment Room 2",
    "Treatment Room 3",
    "Suite 4",
    "Serenity Room",
    "Laser Room",
    "Facial Room A",
    "Facial Room B",
    "Couples Suite",
    "Wet Room",
    "Med Spa Room 1",
    "Quiet Room",
    "Roomsacred Hours",
)

#: The values receivers break on: still valid JSON strings, but not what a form expects.
EDGE_FIRST_NAMES: tuple[str, ...] = (
    "Zoë",
    "José María",
    "Nguyễn",
    "Ægir",
    "Siobhán",
    "Łukasz",
    "李",
    "Алёна",
    "محمد",
    "D'Arcy",
    "O'Neil",
    "Anne-Marie",
    "Renée 🌸",
    "💅",
    'Jo"Jo',
    "Back\\Slash",
    "Wolfeschlegelsteinhausenbergerdorff" * 3,
    "",
)
EDGE_LAST_NAMES: tuple[str, ...] = (
    "O'Connor",
    "D'Angelo-Smythe",
    "Müller",
    "Ñúñez",
    "Đặng",
    "王",
    "Иванова",
    "العلي",
    "van der Berg",
    "St. John",
    "Smith 🧖",
    "X Æ A-12",
    "Hubert Blaine Wolfeschlegelsteinhausenbergerdorff Sr." * 4,
    "",
)
EDGE_ROOMS: tuple[str, ...] = ("Suite 4 🌿", "Salle d'été", 'Room "Zen"', "Ruhe­raum", "", "R" * 200)


class Provider(BaseProvider):
    """Spa vocabulary. Added to a Faker instance with ``fake.add_provider(Provider)``."""

    def spa_service(self) -> tuple[str, int, bool, str]:
        return self.random_element(SERVICES)

    def spa_add_on(self) -> tuple[str, int]:
        return self.random_element(ADD_ONS)

    def spa_room(self) -> str:
        return self.random_element(ROOMS)

    def edge_first_name(self) -> str:
        return self.random_element(EDGE_FIRST_NAMES)

    def edge_last_name(self) -> str:
        return self.random_element(EDGE_LAST_NAMES)

    def edge_room(self) -> str:
        return self.random_element(EDGE_ROOMS)
