"""How the simulated business behaves: every distribution the world draws from, in one place.

These tables are the emulator's picture of a busy spa on Zenoti. They are declared here,
not scattered through the code, so a user can read them (the README's "The simulated
business" section explains each) and change them. Weights are relative, not percentages.
"""

from __future__ import annotations

from collections import OrderedDict

#: A center's guest base, per therapist it employs: a center of 7 therapists knows about
#: 900 guests. Sized so that a returning guest books about once in three months, a regular
#: every three weeks (see REGULAR_EVERY): few guests book more than twice a month.
GUESTS_PER_THERAPIST = 130
#: Every fifth guest of a base is a regular...
REGULAR_EVERY = 5
#: ...and regulars make this share of the returning guests' bookings: with 2.8 bookings per
#: therapist a day, 88 % of them by returning guests, a regular books every ~21 days and
#: any other guest every ~84 days.
REGULAR_VISIT_SHARE = 0.5
#: Guests built when a mid-life world is built (they pre-exist: no Guest.Created for them;
#: memberships and packages held at the start are theirs). The rest of the base is built
#: the first time one of them books; a fresh world (``--fresh``) starts with none.
GUESTS_BUILT_AT_START = 120
#: ...and the first regulars up to this many (the memberships and packages held at the
#: start are regulars': holders come back often enough to redeem what they hold).
REGULARS_BUILT_AT_START = 70
#: A guest drawn to book again within this many days of their last booking does not (the
#: draw goes to someone else): a regular's visits are weeks apart, not days.
DAYS_BETWEEN_BOOKINGS = 10
#: Bookings a center takes per day, on average, for each therapist it employs (a Poisson
#: draw per center and day): a center of 7 therapists takes about 20 bookings a day.
BOOKINGS_PER_THERAPIST = OrderedDict([("realistic", 2.8), ("edge", 2.0)])
#: Of those bookings, how many are by a guest who is new to the business (Guest.Created
#: comes a few minutes before their AppointmentGroup.Created).
NEW_GUEST_SHARE = 0.12
#: Profile changes (Guest.Updated) per center per day, and deletions (Guest.Deleted).
GUEST_UPDATES_PER_DAY = 3.0
GUEST_DELETIONS_PER_DAY = 0.4
#: How often a returning guest books at their home center rather than another one.
HOME_CENTER_SHARE = 0.93

#: When bookings are made, on the center's wall clock: (hour, weight). Online booking
#: runs late into the evening; the front desk books during opening hours.
BOOKING_HOURS = OrderedDict(
    [
        (7, 2),
        (8, 4),
        (9, 7),
        (10, 9),
        (11, 9),
        (12, 10),
        (13, 9),
        (14, 8),
        (15, 8),
        (16, 8),
        (17, 8),
        (18, 7),
        (19, 6),
        (20, 6),
        (21, 4),
        (22, 2),
    ]
)
#: Days between booking and the first appointment: most book for the next days, some the
#: same day (walk-ins and same-day calls), a tail up to three weeks out.
LEAD_DAYS = OrderedDict(
    [(0, 16), (1, 17), (2, 13), (3, 10), (4, 8), (5, 7), (6, 6), (7, 6), (8, 3), (10, 3), (12, 3), (14, 4), (21, 4)]
)
#: How many services a guest books together, by profile (add-ons come on top).
GROUP_SIZES = {
    "realistic": OrderedDict([(1, 72), (2, 18), (3, 7), (4, 3)]),
    "edge": OrderedDict([(1, 15), (2, 15), (5, 20), (12, 25), (40, 25)]),
}
#: Chance that each add-on a service offers is taken.
ADD_ON_SHARE = 0.35
#: Chance that the next service of a group runs in parallel with the one before (another
#: therapist, same start), as couples and mother-daughter bookings do.
PARALLEL_SHARE = 0.3

#: What becomes of a group once booked. ``completed``: confirmed (mostly), checked in,
#: each appointment started and completed, invoice closed.
FATES = OrderedDict([("completed", 82), ("cancelled", 6), ("late_cancel", 2), ("no_show", 4), ("rescheduled", 6)])
#: Share of groups the guest confirms (status 4) before they come.
CONFIRM_SHARE = 0.7
#: Share of closed invoices refunded a few days later (Invoice.Closed, is_refund: true).
REFUND_SHARE = 0.03
#: Share of invoices that also sell a product at check-out.
PRODUCT_SHARE = 0.25

#: Appointment status codes as Zenoti's API defines them: 0 new (booked), 1 closed
#: (completed and paid), 2 checked in, 4 confirmed, -1 cancelled, -2 no-show. The world
#: keeps these; what AppointmentGroup.Status sends for them depends on the variant
#: ``status-1`` (:func:`emulator.world.actions.bookings.status_code`).
STATUS_BOOKED, STATUS_CLOSED, STATUS_CONFIRMED, STATUS_CHECKED_IN = 0, 1, 4, 2
STATUS_CANCELLED, STATUS_NO_SHOW = -1, -2
#: Which status may follow which: the world asserts every move against this table. A
#: confirmed group that is edited goes back to booked (its confirmation was for the old
#: booking); a checked-in group is closed when its invoice is paid.
LEGAL_MOVES: dict[int, frozenset[int]] = {
    STATUS_BOOKED: frozenset({STATUS_CONFIRMED, STATUS_CHECKED_IN, STATUS_CANCELLED, STATUS_NO_SHOW}),
    STATUS_CONFIRMED: frozenset({STATUS_BOOKED, STATUS_CHECKED_IN, STATUS_CANCELLED, STATUS_NO_SHOW}),
    STATUS_CHECKED_IN: frozenset({STATUS_CLOSED}),
    STATUS_CLOSED: frozenset(),
    STATUS_CANCELLED: frozenset(),
    STATUS_NO_SHOW: frozenset(),
}
#: Share of AppointmentGroup.Status events that carry the optional ``data.guest`` (id,
#: names, email). Receivers read it as optional and the docs sample lacks it; no source
#: gives a rate, so a minority, drawn per event.
STATUS_GUEST_SHARE = 0.3

#: Marketing sources of online bookings; ``None`` is the front desk.
UTM_SOURCES: OrderedDict[str | None, int] = OrderedDict(
    [(None, 40), ("booknow", 18), ("facebook", 12), ("google", 12), ("instagram", 8), ("email", 6), ("tiktok", 4)]
)
#: Mediums, drawn with a source (a booking without a source has no medium).
UTM_MEDIUMS: OrderedDict[str | None, int] = OrderedDict(
    [(None, 20), ("online", 45), ("cpc", 15), ("social", 12), ("email", 8)]
)
#: With ``utm_source: "booknow"`` (Zenoti's widget) the medium carries the real source.
BOOKNOW_MEDIUMS: OrderedDict[str, int] = OrderedDict(
    [("google", 40), ("instagram", 25), ("facebook", 20), ("direct", 15)]
)

#: appointment_type codes (undocumented; 2 is what most samples show). An add-on has its
#: parent's; every appointment of a recurring group is recurring.
APPOINTMENT_TYPES = OrderedDict([(2, 60), (0, 30), (1, 10)])
THERAPIST_REQUEST_TYPES = OrderedDict([(0, 70), (1, 20), (2, 10)])
RECURRING_SHARE = 0.05
HIDDEN_FROM_CALENDAR_SHARE = 0.03
#: Realistic traffic carries upper-case GUIDs now and then, not only the edge profile.
UPPER_CASE_GUID_SHARE = 0.04
