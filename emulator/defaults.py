"""The numbers and names the commands' options are built from, in a module that imports nothing.

``zenoti-emulator --help`` and shell completion build every option of every command, so
whatever those options need at import time is paid on each Tab. Keeping the defaults and
choices here lets the CLI describe itself without loading requests, Faker, jsonschema or
SQLite; the core modules take their values from here (or, where a module belongs to
another part of the code, a test checks that both agree).
"""

from __future__ import annotations

# -- delivery, as Zenoti does it --------------------------------------------------------

#: Seconds Zenoti waits for a response, per attempt.
DEFAULT_TIMEOUT = 10.0
#: Retries after the first attempt.
DEFAULT_RETRIES = 5
DEFAULT_MAX_ATTEMPTS = DEFAULT_RETRIES + 1
#: Failures in a row that deactivate a webhook.
DEFAULT_DEACTIVATE_AFTER = 20
DEFAULT_CONCURRENCY = 8

# -- the delivery log --------------------------------------------------------------------

#: The verbs Zenoti's setup offers.
VERBS: tuple[str, ...] = ("POST", "PUT", "PATCH")
#: Delivery states. ``pending`` has an attempt scheduled; the other two are final.
STATUSES: tuple[str, ...] = ("pending", "delivered", "failed")
#: What counts as one failure towards deactivation: an attempt, or an event whose retries ran out.
FAILURE_UNITS: tuple[str, ...] = ("attempt", "event")

# -- generation and validation (checked against emulator.events.generate and emulator.captures.validate) --

DEFAULT_EVENT_TYPE = "AppointmentGroup.Created"
PROFILES: tuple[str, ...] = ("realistic", "edge")
REPORT_FORMATS: tuple[str, ...] = ("text", "json", "junit")

# -- Zenoti's read API (``api``, ``serve``) ---------------------------------------------

#: The key ``Authorization: apikey`` takes when none is set: documented, so a receiver's
#: test can hard-code it.
DEFAULT_API_KEY = "zenoti-emulator-key"
#: The longest latency the API may add before an answer, in seconds.
MAX_API_LATENCY = 60.0
#: The highest rate limit, in calls per minute per key.
MAX_API_RATE_LIMIT = 1_000_000
#: The most days a world the API answers for may be advanced: it keeps every entity its
#: events named (about 0.4 MB a simulated day), where ``simulate`` alone keeps none.
MAX_API_DAYS = 366
