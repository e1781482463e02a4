"""Zenoti's REST API, read side, as a Flask blueprint under ``/v1``.

Mounted twice: on the app (``serve``) and on a small app of its own (``zenoti-emulator
api``, :func:`create_api_app`). Either way the blueprint reads its state from
``app.extensions["zenoti_api"]`` (an :class:`ApiState`): where the world's ledger comes
from, the API key, the tokens handed out, the rate limit and the latency.

Zenoti's behaviour around the answers (docs/assumptions.md, "The read API"):

- ``Authorization: apikey KEY``, or ``Authorization: bearer TOKEN`` with a token from
  ``POST /v1/tokens``; anything else is 401.
- ``page`` (from 1) and ``size`` (1..100, default 10); a size above 100 is 422 with
  Zenoti's message; lists carry ``page_info: {total, page, size}``.
- An unknown id is 404; every error body is ``{"error": {"code", "message"}}``.
- A per-key rate limit (off unless set), as Zenoti's token bucket: ``N;w=60;b=N``
  headers, 429 with ``Retry-After`` when the bucket is empty.
- A fixed latency before every answer, to rehearse a receiver's timeouts.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import defaults
from .answers import Answers
from .ledger import Ledger

#: Zenoti's page size limit ("You cannot request more than 100 items").
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 10
#: The highest page number asked for (the OpenAPI document says the same).
MAX_PAGE = 1_000_000_000
#: The longest search criterion.
MAX_CRITERION = 200
#: Zenoti's bearer tokens last 10 hours (its onboarding guide).
TOKEN_LIFETIME = timedelta(hours=10)
#: The most tokens kept at once: a client asking for one per call cannot fill memory.
MAX_TOKENS = 10_000
#: Bounds of the settings (seconds of latency, calls per minute), and the default key.
MAX_LATENCY = defaults.MAX_API_LATENCY
MAX_RATE_LIMIT = defaults.MAX_API_RATE_LIMIT
DEFAULT_API_KEY = defaults.DEFAULT_API_KEY
_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")
_DIGITS = re.compile(r"\D+")


class ApiError(Exception):
    """An answer other than 200, in Zenoti's error body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class ApiState:
    """What the blueprint answers from, and how.

    :param ledger: gives the ledger to answer from (None: no world yet, every read is 404).
    :param ledgers: gives every ledger an id may be found in, newest first (the app's
        recent worlds); lists and searches use ``ledger``'s.
    :param api_key: the one key ``Authorization: apikey`` accepts (and the app secret the
        token flow takes).
    :param rate_limit: calls per minute per key; None for no limit (the default).
    :param latency: seconds to wait before every answer.
    """

    ledger: Callable[[], Ledger | None]
    #: every world answered for, newest first (None: just ``ledger``'s)
    ledgers: Callable[[], list[Ledger]] | None = None
    api_key: str = DEFAULT_API_KEY
    rate_limit: int | None = None
    latency: float = 0.0
    clock: Callable[[], float] = time.monotonic
    tokens: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, _Bucket] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _answers: tuple[Ledger, Answers] | None = None

    def answers(self, ledger: Ledger) -> Answers:
        if self._answers is None or self._answers[0] is not ledger:
            self._answers = (ledger, Answers(ledger))
        return self._answers[1]

    def take(self, who: str) -> dict[str, str]:
        """Spend one call of ``who``'s bucket; the rate headers, or ApiError 429."""
        if self.rate_limit is None:
            return {}
        limit, now = self.rate_limit, self.clock()
        with self.lock:
            bucket = self.buckets.setdefault(who, _Bucket(float(limit), now))
            bucket.tokens = min(float(limit), bucket.tokens + (now - bucket.updated) * limit / 60.0)
            bucket.updated = now
            reset = math.ceil((1 - bucket.tokens % 1) * 60.0 / limit) if bucket.tokens < limit else 0
            headers = {"Organization-RateLimit-Limit": f"{limit};w=60;b={limit}"}
            if bucket.tokens < 1:
                wait = math.ceil((1 - bucket.tokens) * 60.0 / limit)
                headers.update({"RateLimit-Remaining": "0", "RateLimit-Reset": str(wait), "Retry-After": str(wait)})
                raise ApiError(
                    429, f"API rate limit exceeded: {limit} calls per minute. Retry after {wait} s.", headers
                )
            bucket.tokens -= 1
            headers.update({"RateLimit-Remaining": str(int(bucket.tokens)), "RateLimit-Reset": str(reset)})
            return headers

    def issue(self) -> tuple[str, float]:
        token = secrets.token_urlsafe(32)
        expiry = self.clock() + TOKEN_LIFETIME.total_seconds()
        with self.lock:
            if len(self.tokens) >= MAX_TOKENS:
                now = self.clock()
                for old in [t for t, e in self.tokens.items() if e <= now] or list(self.tokens)[: MAX_TOKENS // 10]:
                    del self.tokens[old]
            self.tokens[token] = expiry
        return token, expiry

    def valid_token(self, token: str) -> bool:
        expiry = self.tokens.get(token)
        return expiry is not None and expiry > self.clock()


bp = Blueprint("zenoti_api", __name__, url_prefix="/v1")


def state() -> ApiState:
    return current_app.extensions["zenoti_api"]  # type: ignore[no-any-return]


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Any:
    response = jsonify({"error": {"code": status, "message": message}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Any:
    return error_response(exc.status, exc.message, exc.headers)


def http_error(exc: HTTPException) -> Any:
    """Werkzeug's errors under ``/v1`` (an unknown path, a wrong method) in Zenoti's body;
    a 405 keeps its ``Allow`` header."""
    allow = {name: value for name, value in exc.get_headers() if name.lower() == "allow"}
    return error_response(exc.code or 500, exc.description or exc.name, allow)


# -- what every request goes through -----------------------------------------------------


def _caller() -> str:
    """Whose call this is (the key, or the key behind a token); ApiError 401 otherwise."""
    st = state()
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "apikey" and value and hmac.compare_digest(value.encode(), st.api_key.encode()):
        return "key"
    if scheme.lower() == "bearer" and value and st.valid_token(value):
        return "key"
    raise ApiError(
        401,
        "Authorization has been denied for this request: send 'Authorization: apikey <key>' "
        "or 'Authorization: bearer <token from POST /v1/tokens>'.",
    )


@bp.before_request
def _guard() -> None:
    st = state()
    if st.latency:
        time.sleep(st.latency)
    if request.endpoint == "zenoti_api.tokens":
        request.environ["zenoti_api.headers"] = st.take("tokens")
        return
    request.environ["zenoti_api.headers"] = st.take(_caller())


@bp.after_request
def _rate_headers(response: Any) -> Any:
    for name, value in request.environ.get("zenoti_api.headers", {}).items():
        response.headers[name] = value
    return response


# -- arguments ---------------------------------------------------------------------------


def _int(name: str, default: int) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    if not re.fullmatch(r"[+-]?[0-9]{1,12}", text.strip()):
        raise ApiError(400, f"Query parameter {name} must be a whole number, not {text[:40]!r}.")
    return int(text)


def _paging(page_name: str = "page", size_name: str = "size") -> tuple[int, int]:
    page = _int(page_name, 1)
    size = _int(size_name, DEFAULT_PAGE_SIZE)
    if not 1 <= page <= MAX_PAGE:
        raise ApiError(400, f"Query parameter {page_name} must be between 1 and {MAX_PAGE}, not {page}.")
    if size < 1:
        raise ApiError(400, f"Query parameter {size_name} must be 1 or more, not {size}.")
    if size > MAX_PAGE_SIZE:
        raise ApiError(422, "You cannot request more than 100 items.")
    return page, size


def _paged(
    key: str, items: Sequence[Any], render: Callable[[Any], Any], *, page_name: str = "page", size_name: str = "size"
) -> dict[str, Any]:
    page, size = _paging(page_name, size_name)
    chunk = items[(page - 1) * size : page * size]
    return {
        key: [render(x) for x in chunk],
        "page_info": {"total": len(items), "page": page, "size": size},
        "error": None,
    }


def _day(name: str) -> date | None:
    text = request.args.get(name)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip()[:19]).date()
    except ValueError:
        raise ApiError(400, f"Query parameter {name} must be a date like 2024-07-25, not {text[:40]!r}.") from None


def _ledger() -> Ledger:
    ledger = state().ledger()
    if ledger is None:
        raise ApiError(
            404, "No world is being simulated yet: start a simulation, then ask about what its events named."
        )
    return ledger


def _find(lookup: Callable[[Ledger], Any], what: str) -> tuple[Ledger, Any]:
    """The newest world that knows the thing ``lookup`` looks for; ApiError 404 otherwise."""
    st = state()
    ledgers = st.ledgers() if st.ledgers is not None else [ledger for ledger in (st.ledger(),) if ledger is not None]
    for ledger in ledgers:
        with ledger.lock:
            found = lookup(ledger)
        if found is not None:
            return ledger, found
    raise ApiError(404, f"{what} not found.")


def _checked_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise ApiError(404, f"{what} not found.")
    return value


def _center(ledger: Ledger, center_id: str | None, *, required: bool = False) -> Any:
    if not center_id:
        if required:
            raise ApiError(400, "Query parameter center_id is required.")
        return None
    center = ledger.world.center_by_id.get(center_id.strip().lower())
    if center is None:
        raise ApiError(404, "Center not found.")
    return center


def _center_anywhere(center_id: str) -> tuple[Ledger, Any]:
    """A center of any world answered for (the newest that has it)."""
    key = center_id.strip().lower()
    return _find(lambda ledger: ledger.world.center_by_id.get(key), "Center")


# -- authentication ----------------------------------------------------------------------


@bp.post("/tokens")
def tokens() -> Any:
    """``POST /v1/tokens``: a bearer token for an app secret equal to the API key."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "Send a JSON object: account_name, user_name, password, grant_type, app_id, app_secret.")
    grant = body.get("grant_type")
    if grant not in ("password", "refresh_token"):
        raise ApiError(400, "grant_type must be 'password' (or 'refresh_token').")
    st = state()
    secret = body.get("app_secret")
    if grant == "refresh_token":
        refresh = body.get("refresh_token")
        ok = isinstance(refresh, str) and st.valid_token(refresh)
    else:
        ok = (
            isinstance(secret, str)
            and hmac.compare_digest(secret.encode(), st.api_key.encode())
            and bool(body.get("user_name"))
            and bool(body.get("password"))
        )
    if not ok:
        raise ApiError(
            401, "Invalid credentials: app_secret must be the emulator's API key, with any user_name and password."
        )
    access, expiry = st.issue()
    refresh_token, refresh_expiry = st.issue()
    wall = datetime.now(UTC)

    def stamp(seconds: float) -> str:
        return (wall + timedelta(seconds=seconds - st.clock())).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    return {
        "credentials": {
            "access_token": access,
            "access_token_expiry": stamp(expiry),
            "refresh_token": refresh_token,
            "refresh_token_expiry": stamp(refresh_expiry),
            "token_type": "bearer",
            "token_id": secrets.token_hex(16),
            "app_id": body.get("app_id"),
            "user_type": "Employee",
        },
        "error": None,
    }


# -- guests ------------------------------------------------------------------------------

SEARCH_KEYS = ("phone", "email", "first_name", "last_name", "user_code", "code", "user_name", "zip_code")


@bp.get("/guests/search")
def search_guests() -> Any:
    """``GET /v1/guests/search``: guests matching every criterion given."""
    wanted = {k: request.args[k].strip() for k in SEARCH_KEYS if request.args.get(k, "").strip()}
    if not wanted:
        raise ApiError(400, f"Give at least one of {', '.join(SEARCH_KEYS)}.")
    too_long = next((k for k, v in wanted.items() if len(v) > MAX_CRITERION), None)
    if too_long is not None:
        raise ApiError(400, f"Query parameter {too_long} is longer than {MAX_CRITERION} characters.")
    if "phone" in wanted and not _DIGITS.sub("", wanted["phone"]):
        raise ApiError(400, f"Query parameter phone has no digits: {wanted['phone'][:40]!r}.")
    ledger = _ledger()
    center = _center(ledger, request.args.get("center_id"))
    answers = state().answers(ledger)
    with ledger.lock:
        shown = [answers.guest(g) for g in ledger.all_guests() if center is None or g.center_id == center.id]
        found = [g for g in shown if _matches(g, wanted)]
        return _paged("guests", found, lambda g: g)


def _matches(guest: dict[str, Any], wanted: dict[str, str]) -> bool:
    info, address = guest.get("personal_info") or {}, guest.get("address_info") or {}
    for key, value in wanted.items():
        if key == "phone":
            if not _phone_matches(info.get("mobile_phone"), value):
                return False
        elif key == "email":
            if (info.get("email") or "").lower() != value.lower():
                return False
        elif key in ("user_code", "code"):
            if (guest.get("code") or "").lower() != value.lower():
                return False
        elif key == "zip_code":
            if (address.get("zip_code") or "") != value:
                return False
        elif (info.get(key) or "").lower() != value.lower():
            return False
    return True


def _phone_matches(mobile: Any, asked: str) -> bool:
    """The number with or without its country code, in any punctuation."""
    if not isinstance(mobile, dict):
        return False
    digits = _DIGITS.sub("", asked)
    number = _DIGITS.sub("", str(mobile.get("number") or ""))
    if not digits or not number:
        return False
    full = _DIGITS.sub("", str(mobile.get("country_code") or "")) + number
    return digits in (number, full)


@bp.get("/guests/<guest_id>")
def get_guest(guest_id: str) -> Any:
    ledger, guest = _guest_or_404(guest_id)
    with ledger.lock:
        return state().answers(ledger).guest(guest)


def _guest_or_404(guest_id: str) -> tuple[Ledger, Any]:
    _checked_id(guest_id, "Guest")
    return _find(lambda ledger: ledger.guest(guest_id), "Guest")


@bp.get("/guests/<guest_id>/appointments")
def guest_appointments(guest_id: str) -> Any:
    start, end = _day("start_date"), _day("end_date")
    ledger, _ = _guest_or_404(guest_id)
    with ledger.lock:
        groups = [ledger.groups[g] for g in ledger.groups_of.get(guest_id, [])]
        if start is not None or end is not None:
            groups = [g for g in groups if _within(g.first_start.astimezone(g.center.zone).date(), start, end)]
        return _paged("appointments", groups, state().answers(ledger).group)


def _within(day: date, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


@bp.get("/guests/<guest_id>/memberships")
def guest_memberships(guest_id: str) -> Any:
    ledger, _ = _guest_or_404(guest_id)
    with ledger.lock:
        center = _center(ledger, request.args.get("center_id"))
        found = [ledger.memberships[m] for m in ledger.memberships_of.get(guest_id, [])]
        if center is not None:
            found = [m for m in found if m.center.id == center.id]
        return _paged("memberships", found, state().answers(ledger).membership)


@bp.get("/guests/<guest_id>/packages")
def guest_packages(guest_id: str) -> Any:
    ledger, _ = _guest_or_404(guest_id)
    with ledger.lock:
        center = _center(ledger, request.args.get("center_id"))
        found = [ledger.packages[p] for p in ledger.packages_of.get(guest_id, [])]
        if center is not None:
            found = [p for p in found if p.center.id == center.id]
        names = (
            ("page_num", "page_size") if "page_num" in request.args or "page_size" in request.args else ("page", "size")
        )
        return _paged("packages", found, state().answers(ledger).package, page_name=names[0], size_name=names[1])


# -- appointments ------------------------------------------------------------------------


@bp.get("/appointments")
def list_appointments() -> Any:
    """``GET /v1/appointments?center_id=&start_date=&end_date=``: a center's appointments by day."""
    if not request.args.get("center_id"):
        raise ApiError(400, "Query parameter center_id is required.")
    ledger, center = _center_anywhere(request.args["center_id"])
    start, end = _day("start_date"), _day("end_date")
    if start is None or end is None:
        raise ApiError(400, "Query parameters start_date and end_date are required (e.g. 2024-07-25).")
    if end < start:
        raise ApiError(400, "end_date is before start_date.")
    answers = state().answers(ledger)
    with ledger.lock:
        rows = [
            (a, g)
            for a, g in ledger.appointments.values()
            if g.center.id == center.id and _within(a.start.astimezone(center.zone).date(), start, end)
        ]
        rows.sort(key=lambda row: (row[0].start, row[0].id))
        return _paged("appointments", rows, lambda row: answers.appointment(*row))


@bp.get("/appointments/<appointment_id>")
def get_appointment(appointment_id: str) -> Any:
    _checked_id(appointment_id, "Appointment")
    ledger, found = _find(lambda ledger: ledger.appointments.get(appointment_id), "Appointment")
    with ledger.lock:
        return state().answers(ledger).appointment(*found)


@bp.get("/appointment_groups/<group_id>")
def get_group(group_id: str) -> Any:
    _checked_id(group_id, "Appointment group")
    ledger, group = _find(lambda ledger: ledger.groups.get(group_id), "Appointment group")
    with ledger.lock:
        return {"appointment_group": state().answers(ledger).group(group), "error": None}


# -- invoices ----------------------------------------------------------------------------


@bp.get("/invoices/<invoice_id>")
def get_invoice(invoice_id: str) -> Any:
    _checked_id(invoice_id, "Invoice")
    ledger, invoice = _find(lambda ledger: ledger.invoices.get(invoice_id), "Invoice")
    with ledger.lock:
        return {"invoice": state().answers(ledger).invoice(invoice), "error": None}


# -- centers, employees, services --------------------------------------------------------


@bp.get("/centers")
def list_centers() -> Any:
    ledger = _ledger()
    return _paged("centers", ledger.world.centers, state().answers(ledger).center)


@bp.get("/centers/<center_id>")
def get_center(center_id: str) -> Any:
    ledger, center = _center_anywhere(center_id)
    return {"center": state().answers(ledger).center(center), "error": None}


def _staff(ledger: Ledger, center: Any) -> list[Any]:
    from ..world.actions.employees import _staff as staff_of

    with ledger.lock:
        staff = staff_of(ledger.world)
        return [staff.profiles[i] for i in staff.at(center)]


@bp.get("/centers/<center_id>/employees")
def center_employees(center_id: str) -> Any:
    ledger, center = _center_anywhere(center_id)
    return _paged("employees", _staff(ledger, center), state().answers(ledger).employee)


@bp.get("/centers/<center_id>/therapists")
def center_therapists(center_id: str) -> Any:
    ledger, center = _center_anywhere(center_id)
    return _paged("therapists", [m for m in _staff(ledger, center) if m.bookable], state().answers(ledger).employee)


@bp.get("/centers/<center_id>/services")
def center_services(center_id: str) -> Any:
    ledger, center = _center_anywhere(center_id)
    answers = state().answers(ledger)
    return _paged("services", center.services, lambda s: answers.service(s, center))


# -- a small app of its own --------------------------------------------------------------


def install(app: Flask, api_state: ApiState) -> None:
    """Mount the API on ``app`` with ``api_state``."""
    app.extensions["zenoti_api"] = api_state
    app.register_blueprint(bp)


def create_api_app(api_state: ApiState) -> Flask:
    """An app that is only Zenoti's API (``zenoti-emulator api``)."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    install(app, api_state)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        return http_error(exc)

    return app


def _document(blueprint: Blueprint) -> None:
    from .openapi import PATHS, SCHEMAS

    blueprint.openapi_paths = PATHS  # type: ignore[attr-defined]
    blueprint.openapi_schemas = SCHEMAS  # type: ignore[attr-defined]


_document(bp)
