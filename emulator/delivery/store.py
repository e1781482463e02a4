"""The delivery log: webhooks, events, deliveries, attempts and scheduled attempts in SQLite.

This is the only module that imports :mod:`sqlite3`. The database runs in WAL mode so the
command line, the web app and a worker pool can read while one writes. Each thread gets
its own connection (:class:`Store` hands them out and closes them all in
:meth:`Store.close`); every ``sqlite3.Error`` leaves this module as a :class:`StoreError`.

Ownership: a process owns the attempts it schedules (``scheduled_attempts.owned_by``)
while it lives. It holds a lease in ``owners``, renewed every :data:`LEASE_RENEW_S` by a
thread of its :class:`Store` and given up by :meth:`Store.close`; another process (``serve``
following the log, ``resume``) takes an attempt over only once its owner is gone: its
lease was given up or expired, or its process no longer runs. So a ``fire --rate`` beside
``serve`` keeps its rate and its order, and its summary and exit status cover every
attempt it started.

Nothing is lost on a crash: an attempt is written to ``scheduled_attempts`` (with its due
time in real time, and its delay in unscaled time) *before* anyone waits for it, and the
row that records an attempt's outcome is committed in the same transaction as the row
that schedules the next one. :meth:`Store.pending_schedule` is what a restart picks up.

Usage::

    with Store(path) as store:
        hook = store.create_webhook("http://127.0.0.1:9000/hook", secret="s3cret")
        page, cursor = store.list_deliveries(status="failed", limit=20)
        delivery = store.get_delivery(page[0].id)   # with .attempt_log and .schedule

Secrets: a webhook's secret is kept in the ``webhooks`` table, because retries resumed
after a restart must be signed with it. It never appears in attempt rows, in
:meth:`Webhook.to_dict` or in ``repr``; use :attr:`Webhook.masked_secret` to show one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from .. import bounds
from ..defaults import FAILURE_UNITS, STATUSES, VERBS
from ..urls import redact_headers, redact_url
from ..errors import NotFound, StoreError, UsageError, WebhookInactive

#: File name of the default log, under ``platformdirs.user_data_dir("zenoti-emulator")``.
DEFAULT_DB_NAME = "deliveries.sqlite3"
#: How long a writer waits for another writer's lock before giving up.
BUSY_TIMEOUT_MS = 30_000
#: How long an owner's lease lasts without renewal, and how often it is renewed. A process
#: killed on this machine is seen gone at once (its pid); the lease covers the rest.
LEASE_S = 60.0
LEASE_RENEW_S = 10.0
#: A claim on an attempt older than this is abandoned, whoever holds it (an attempt
#: lasts its timeout, 10 s by default; this covers any sane one).
STALE_CLAIM_S = 600.0

DeliveryStatus = Literal["pending", "delivered", "failed"]
FailureUnit = Literal["attempt", "event"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    verb TEXT NOT NULL,
    secret TEXT,
    -- a hash of the secret, so an ad-hoc `fire --target` finds its webhook again
    secret_key TEXT NOT NULL DEFAULT '',
    event_types TEXT NOT NULL DEFAULT '[]',
    active INTEGER NOT NULL DEFAULT 1,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    deactivated_at REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_identity ON webhooks (url, verb, secret_key);

CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    call_id TEXT,
    event_id TEXT,
    event_type TEXT,
    body BLOB NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    event_row INTEGER NOT NULL REFERENCES events (id),
    webhook_id INTEGER,
    url TEXT NOT NULL,
    verb TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    completed_at REAL
);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (status, id);
CREATE INDEX IF NOT EXISTS deliveries_webhook ON deliveries (webhook_id, id);

CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    number INTEGER NOT NULL,
    started_at REAL NOT NULL,
    verb TEXT NOT NULL,
    url TEXT NOT NULL,
    request_headers TEXT NOT NULL,
    status_code INTEGER,
    outcome TEXT NOT NULL,
    latency_ms REAL,
    response_headers TEXT,
    response_body BLOB,
    error TEXT,
    UNIQUE (delivery_id, number)
);

CREATE TABLE IF NOT EXISTS scheduled_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    number INTEGER NOT NULL,
    kind TEXT NOT NULL,
    scheduled_at REAL NOT NULL,
    delay_s REAL NOT NULL,
    time_scale REAL NOT NULL,
    due_at REAL NOT NULL,
    -- pending -> running (claimed by one process) -> done, or cancelled
    state TEXT NOT NULL,
    claimed_by TEXT,
    claimed_at REAL,
    -- the process that scheduled it (pid:random); NULL in a log from before owners
    owned_by TEXT
);
CREATE INDEX IF NOT EXISTS scheduled_pending ON scheduled_attempts (state, due_at);
CREATE INDEX IF NOT EXISTS scheduled_delivery ON scheduled_attempts (delivery_id);

-- processes that own scheduled attempts, while their lease runs (see Store.pending_schedule)
CREATE TABLE IF NOT EXISTS owners (
    owner TEXT PRIMARY KEY,
    lease_until REAL NOT NULL
);

-- requests the relay received from real Zenoti; the body is the event row's, byte for byte
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY,
    event_row INTEGER NOT NULL REFERENCES events (id),
    -- the forward to the local receiver; NULL when the request was refused
    delivery_id INTEGER REFERENCES deliveries (id),
    received_at REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    -- [[name, value], ...] in the order received (signature included: never exported)
    headers TEXT NOT NULL,
    signature TEXT NOT NULL,
    schema_status TEXT NOT NULL,
    -- schema errors and drift of this request, as JSON
    report TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS captures_received ON captures (received_at, id);

-- scenario runs: the deliveries one run made, in the order sent, and what --disorder did
CREATE TABLE IF NOT EXISTS scenario_runs (
    id INTEGER PRIMARY KEY,
    scenario TEXT NOT NULL,
    -- text: a seed is any integer, SQLite's are 64-bit
    seed TEXT NOT NULL,
    created_at REAL NOT NULL,
    -- [delivery id, ...] as JSON
    delivery_ids TEXT NOT NULL,
    -- the disorder report as JSON, NULL for a run in story order
    disorder TEXT
);
"""


def default_db_path() -> Path:
    """Where the log lives when no ``--db`` is given: the user's data directory."""
    import platformdirs

    return Path(platformdirs.user_data_dir("zenoti-emulator", appauthor=False)) / DEFAULT_DB_NAME


def iso(ts: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC with milliseconds, for output."""
    if ts is None:
        return None
    if not (bounds.MIN_TIME.timestamp() <= ts <= bounds.MAX_TIME.timestamp()):  # inf, NaN: a row from before due times were checked
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def secret_key(secret: str | None) -> str:
    """A short one-way fingerprint of a secret, used to tell ad-hoc webhooks apart."""
    if not secret:
        return ""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def mask_secret(secret: str | None) -> str:
    """A secret as it may be shown: ``****f3a9`` (short secrets show nothing of themselves)."""
    if not secret:
        return ""
    return "****" + (secret[-4:] if len(secret) >= 12 else "")


@dataclass(frozen=True, slots=True)
class Webhook:
    """A target: URL, verb and secret, with the events it subscribes to and its health."""

    id: int
    name: str
    url: str
    verb: str
    #: kept to sign with; never shown (see :attr:`masked_secret`)
    secret: str | None = field(repr=False)
    #: event types it subscribes to; empty or ``("*",)`` means all
    event_types: tuple[str, ...]
    active: bool
    consecutive_failures: int
    created_at: float
    updated_at: float
    deactivated_at: float | None

    @property
    def masked_secret(self) -> str:
        return mask_secret(self.secret)

    @property
    def shown_url(self) -> str:
        """The URL as it may be shown: a password in it masked."""
        return redact_url(self.url)

    def subscribes_to(self, event_type: str) -> bool:
        """Whether events of ``event_type`` go to this webhook."""
        return not self.event_types or "*" in self.event_types or event_type in self.event_types

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the secret masked."""
        return {
            "id": self.id,
            "name": self.name,
            "url": self.shown_url,
            "verb": self.verb,
            "secret": self.masked_secret,
            "has_secret": bool(self.secret),
            "event_types": list(self.event_types),
            "active": self.active,
            "consecutive_failures": self.consecutive_failures,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "deactivated_at": iso(self.deactivated_at),
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP request of a delivery and what came of it."""

    id: int
    delivery_id: int
    number: int
    started_at: float
    verb: str
    url: str
    request_headers: Mapping[str, str]
    status_code: int | None
    #: ``success``, ``http_status``, ``redirect``, ``timeout``, ``connection``, ``tls`` or ``error``
    outcome: str
    latency_ms: float | None
    response_headers: Mapping[str, str]
    #: the first 64 KiB of the response body
    response_body: bytes
    error: str | None

    @property
    def ok(self) -> bool:
        return self.outcome == "success"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "delivery_id": self.delivery_id,
            "number": self.number,
            "started_at": iso(self.started_at),
            "verb": self.verb,
            "url": redact_url(self.url),
            "request_headers": dict(self.request_headers),
            "status_code": self.status_code,
            "outcome": self.outcome,
            "latency_ms": self.latency_ms,
            "response_headers": dict(self.response_headers),
            "response_body": self.response_body.decode("utf-8", "replace"),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ScheduledAttempt:
    """An attempt written down before it is waited for: what a restart resumes."""

    id: int
    delivery_id: int
    #: the attempt number it will make (1 is the first attempt)
    number: int
    #: ``first``, ``retry`` or ``replay``
    kind: str
    scheduled_at: float
    #: the wait in unscaled time (the real Zenoti schedule)
    delay_s: float
    time_scale: float
    #: real time it is due: ``scheduled_at + delay_s / time_scale``
    due_at: float
    #: ``pending``, ``running`` (claimed by a process), ``done`` or ``cancelled``
    state: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "kind": self.kind,
            "scheduled_at": iso(self.scheduled_at),
            "delay_s": self.delay_s,
            "time_scale": self.time_scale,
            "due_at": iso(self.due_at),
            "state": self.state,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event sent to one webhook, over one or more attempts."""

    id: int
    event_type: str | None
    #: the envelope's ``id``: the same on every attempt, it is the same call
    call_id: str | None
    event_id: str | None
    webhook_id: int | None
    url: str
    verb: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    options: Mapping[str, Any]
    created_at: float
    updated_at: float
    completed_at: float | None
    #: the exact bytes sent (only filled by :meth:`Store.get_delivery`)
    body: bytes | None = None
    attempt_log: tuple[Attempt, ...] = ()
    schedule: tuple[ScheduledAttempt, ...] = ()

    @property
    def shown_url(self) -> str:
        """The URL as it may be shown: a password in it masked."""
        return redact_url(self.url)

    def to_dict(self, *, with_body: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "event_type": self.event_type,
            "call_id": self.call_id,
            "event_id": self.event_id,
            "webhook_id": self.webhook_id,
            "url": self.shown_url,
            "verb": self.verb,
            "status": self.status,
            "attempts": self.attempts,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "completed_at": iso(self.completed_at),
        }
        if self.attempt_log or self.schedule:
            d["attempt_log"] = [a.to_dict() for a in self.attempt_log]
            d["schedule"] = [s.to_dict() for s in self.schedule]
        if with_body and self.body is not None:
            d["body"] = self.body.decode("utf-8", "replace")
        return d


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """What :meth:`Store.create_deliveries` needs for one event."""

    body: bytes
    event_type: str | None
    call_id: str | None
    event_id: str | None
    webhook: Webhook
    options: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """An attempt's outcome, as :meth:`Store.record_attempt` writes it."""

    delivery_id: int
    scheduled_id: int | None
    number: int
    started_at: float
    verb: str
    url: str
    request_headers: Mapping[str, str]
    status_code: int | None
    outcome: str
    latency_ms: float | None
    response_headers: Mapping[str, str]
    response_body: bytes
    error: str | None

    @property
    def ok(self) -> bool:
        return self.outcome == "success"


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What recording an attempt decided: the next scheduled attempt, if any."""

    status: str
    next: ScheduledAttempt | None
    #: this attempt (or event) deactivated the webhook
    deactivated: bool


@dataclass(frozen=True, slots=True)
class NewCapture:
    """A request received by the relay, as :meth:`Store.record_capture` keeps it."""

    body: bytes
    method: str
    path: str
    #: ``(name, value)`` pairs in the order received
    headers: Sequence[tuple[str, str]]
    event_type: str | None
    call_id: str | None
    event_id: str | None
    #: :func:`emulator.delivery.signing.verdict`
    signature: str
    #: ``valid``, ``invalid`` or ``skipped`` (see :mod:`emulator.captures.validate`)
    schema_status: str
    #: errors and drift of this request
    report: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredCapture(NewCapture):
    """A request the relay kept: what :class:`NewCapture` holds, with its id, time and forward."""

    id: int
    received_at: float
    #: the forward to the local receiver; ``None`` when the request was refused
    delivery_id: int | None


_WEBHOOK_COLUMNS = (
    "id, name, url, verb, secret, event_types, active, consecutive_failures, created_at, updated_at, deactivated_at"
)
_DELIVERY_COLUMNS = (
    "d.id, e.event_type, e.call_id, e.event_id, d.webhook_id, d.url, d.verb, d.status, d.attempts, "
    "d.last_status, d.last_error, d.options, d.created_at, d.updated_at, d.completed_at"
)
_SCHEDULE_COLUMNS = "id, delivery_id, number, kind, scheduled_at, delay_s, time_scale, due_at, state"
_ATTEMPT_COLUMNS = (
    "id, delivery_id, number, started_at, verb, url, request_headers, status_code, outcome, latency_ms, "
    "response_headers, response_body, error"
)


def _delivery_filter(
    *,
    status: str | None = None,
    webhook_id: int | None = None,
    ids: Sequence[int] | None = None,
    event_type: str | None = None,
    status_code: int | None = None,
    event_id: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> tuple[list[str], list[Any]]:
    """The WHERE terms (over ``deliveries d JOIN events e``) of a delivery search."""
    where: list[str] = []
    params: list[Any] = []
    if status is not None:
        if status not in STATUSES:
            raise UsageError(f"Status must be one of {', '.join(STATUSES)}, not {status!r}.")
        where.append("d.status = ?")
        params.append(status)
    if ids is not None:
        where.append(f"d.id IN ({', '.join('?' * len(ids)) or 'NULL'})")
        params.extend(ids)
    if event_id is not None:
        where.append("(e.call_id = ? OR e.event_id = ?)")
        params.extend((event_id, event_id))
    for value, term in (
        (webhook_id, "d.webhook_id = ?"),
        (event_type, "e.event_type = ?"),
        (status_code, "d.last_status = ?"),
        (since, "d.created_at >= ?"),
        (until, "d.created_at < ?"),
    ):
        if value is not None:
            where.append(term)
            params.append(value)
    return where, params


def _webhook(row: Sequence[Any]) -> Webhook:
    return Webhook(
        id=row[0],
        name=row[1],
        url=row[2],
        verb=row[3],
        secret=row[4],
        event_types=tuple(json.loads(row[5])),
        active=bool(row[6]),
        consecutive_failures=row[7],
        created_at=row[8],
        updated_at=row[9],
        deactivated_at=row[10],
    )


def _delivery(row: Sequence[Any], **extra: Any) -> Delivery:
    return Delivery(
        id=row[0],
        event_type=row[1],
        call_id=row[2],
        event_id=row[3],
        webhook_id=row[4],
        url=row[5],
        verb=row[6],
        status=row[7],
        attempts=row[8],
        last_status=row[9],
        last_error=row[10],
        options=json.loads(row[11]),
        created_at=row[12],
        updated_at=row[13],
        completed_at=row[14],
        **extra,
    )


def _scheduled(row: Sequence[Any]) -> ScheduledAttempt:
    item = ScheduledAttempt(*row)
    if not math.isfinite(item.due_at):  # written before the log refused it (--time-scale 1e-320): due now
        item = replace(item, due_at=item.scheduled_at)
    return item


def _attempt(row: Sequence[Any]) -> Attempt:
    return Attempt(
        id=row[0],
        delivery_id=row[1],
        number=row[2],
        started_at=row[3],
        verb=row[4],
        url=row[5],
        request_headers=redact_headers(json.loads(row[6])),
        status_code=row[7],
        outcome=row[8],
        latency_ms=row[9],
        response_headers=json.loads(row[10] or "{}"),
        response_body=bytes(row[11] or b""),
        error=row[12],
    )


def _owner_alive(owner: str | None) -> bool:
    """Whether the process behind a claim (``pid:random``) still runs on this machine."""
    try:
        pid = int((owner or "").split(":", 1)[0])
    except ValueError:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C there; trust the lease
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _fits(row_id: int) -> bool:
    """Whether ``row_id`` can name a row: sqlite3 raises OverflowError past 64 bits."""
    return 0 <= row_id <= bounds.MAX_ID


def _check_verb(verb: str) -> str:
    upper = verb.upper()
    if upper not in VERBS:
        raise UsageError(f"Verb must be one of {', '.join(VERBS)}, not {verb!r}.")
    return upper


class Store:
    """The delivery log in one SQLite file; safe to share between threads.

    :param path: the database file; ``None`` for :func:`default_db_path`. Its folder is
        created if needed, and a new file is made readable by its owner only (it holds
        webhook secrets).
    :param clock: returns the current epoch time; injected by tests.
    :raise StoreError: when the file cannot be opened or is not a database.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, clock: Any = time.time) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self._clock = clock
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False
        #: identifies this store's claims on scheduled attempts, and what it owns: ``pid:random``
        self.owner = f"{os.getpid()}:{secrets.token_hex(4)}"
        self._lease: threading.Thread | None = None
        self._lease_stop = threading.Event()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
        except OSError as exc:
            raise StoreError(f"Cannot create the delivery log at {self.path}: {exc.strerror}. Choose another --db.") from exc
        with self._errors():
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(scheduled_attempts)")}
            for column, kind in (("claimed_by", "TEXT"), ("claimed_at", "REAL"), ("owned_by", "TEXT")):
                if column not in columns:  # a log made before claims existed
                    conn.execute(f"ALTER TABLE scheduled_attempts ADD COLUMN {column} {kind}")
            if conn.execute("PRAGMA user_version").fetchone()[0] < 1:
                # Deliveries keep the URL only to show it: a log from before they were written
                # masked loses the passwords it copied from its webhooks (those keep theirs).
                conn.create_function("redact_url", 1, redact_url, deterministic=True)
                conn.execute("UPDATE deliveries SET url = redact_url(url) WHERE url LIKE '%@%'")
                conn.execute("PRAGMA user_version = 1")

    # -- connections -----------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise StoreError(f"The delivery log {self.path} is closed.")
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes
            # the lock up front instead of failing to upgrade a read lock mid-transaction.
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # WAL + NORMAL survives the process being killed; only an OS crash may lose
            # the last commits.
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            me = threading.current_thread()
            with self._lock:
                # Threads come and go (a web server's request threads): close the
                # connections of finished ones instead of keeping them until close().
                dead = [c for t, c in self._connections if not t.is_alive()]
                self._connections = [(t, c) for t, c in self._connections if t.is_alive()]
                self._connections.append((me, conn))
            for old in dead:
                old.close()
        return conn

    def close(self) -> None:
        """Give up this process's lease (what it owns is others' to take at once), then
        close every thread's connection. The store cannot be used afterwards."""
        self._release_lease()
        with self._lock:
            self._closed = True
            conns, self._connections = self._connections, []
        for _, conn in conns:
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover - closing from another thread mid-use
                pass
        self._local = threading.local()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            hint = " Choose another --db, or move that file away." if "not a database" in str(exc) else ""
            raise StoreError(
                f"Delivery log {self.path}: {exc}.{hint}", details={"sqlite_error": type(exc).__name__}
            ) from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        # Writers of this process queue on a Python lock: waiting in SQLite's busy
        # handler means sleeping 1..100 ms at a time, which halves throughput at
        # concurrency 8. The SQLite lock still guards against other processes.
        with self._write_lock, self._errors():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._errors():
            return self._conn().execute(sql, params).fetchall()

    # -- ownership -------------------------------------------------------------------

    def _hold_lease(self, conn: sqlite3.Connection, now: float) -> None:
        """Take (or extend) this process's lease, inside a write transaction, and keep it
        renewed from then on."""
        conn.execute(
            "INSERT INTO owners (owner, lease_until) VALUES (?, ?)"
            " ON CONFLICT (owner) DO UPDATE SET lease_until = excluded.lease_until",
            (self.owner, now + LEASE_S),
        )
        if self._lease is None:
            self._lease = threading.Thread(target=self._renew_lease, name="zenoti-log-lease", daemon=True)
            self._lease.start()

    def _renew_lease(self) -> None:
        while not self._lease_stop.wait(LEASE_RENEW_S):
            try:
                with self._tx() as conn:
                    self._hold_lease(conn, self._clock())
            except StoreError:  # a busy log: the lease has LEASE_S to spare; try at the next tick
                continue

    def _release_lease(self) -> None:
        lease, self._lease = self._lease, None
        if lease is None or self._closed:
            return
        self._lease_stop.set()
        lease.join()
        try:
            with self._tx() as conn:
                conn.execute("DELETE FROM owners WHERE owner = ?", (self.owner,))
        except StoreError:  # the lease then runs out by itself
            pass

    def _owner_gone(self, conn: sqlite3.Connection, owner: str | None, now: float) -> bool:
        """Whether ``owner``'s attempts are free to take: no owner, or one whose lease was
        given up or ran out, or whose process is dead."""
        if owner is None or owner == self.owner:
            return owner is None
        row = conn.execute("SELECT lease_until FROM owners WHERE owner = ?", (owner,)).fetchone()
        return row is None or row[0] < now or not _owner_alive(owner)

    # -- webhooks --------------------------------------------------------------------

    def create_webhook(
        self,
        url: str,
        *,
        verb: str = "POST",
        secret: str | None = None,
        name: str | None = None,
        event_types: Sequence[str] = (),
        active: bool = True,
    ) -> Webhook:
        """Add a webhook, as Zenoti's setup page does.

        :param url: where events are sent (http or https).
        :param verb: ``POST``, ``PUT`` or ``PATCH``.
        :param secret: signs every delivery; ``None`` sends no signature header.
        :param name: a label; defaults to the URL.
        :param event_types: the event types it receives; empty means all.
        :raise UsageError: for an unknown verb.
        """
        verb = _check_verb(verb)
        now = self._clock()
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO webhooks (name, url, verb, secret, secret_key, event_types, active, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name or redact_url(url), url, verb, secret or None, secret_key(secret), json.dumps(list(event_types)), int(active), now, now),
            )
            webhook_id = cur.lastrowid
        return self.get_webhook(webhook_id)  # type: ignore[arg-type]

    def upsert_webhook(self, url: str, *, verb: str = "POST", secret: str | None = None) -> Webhook:
        """The ad-hoc webhook of ``fire --target``: found again by (URL, verb, secret).

        The same target fired twice is the same webhook, so its failure count and
        deactivation carry over between runs, as they do in Zenoti.
        """
        verb = _check_verb(verb)
        rows = self._read(
            f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE url = ? AND verb = ? AND secret_key = ? ORDER BY id LIMIT 1",
            (url, verb, secret_key(secret)),
        )
        if rows:
            return _webhook(rows[0])
        return self.create_webhook(url, verb=verb, secret=secret)

    def get_webhook(self, webhook_id: int) -> Webhook:
        """:raise NotFound: when there is no such webhook."""
        rows = self._read(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?", (webhook_id,)) if _fits(webhook_id) else []
        if not rows:
            raise NotFound(f"No webhook with id {webhook_id}. List them with: zenoti-emulator webhooks")
        return _webhook(rows[0])

    def find_webhook(self, url_or_id: str | int) -> Webhook:
        """A webhook by id, or by URL when exactly one webhook has that URL.

        :raise NotFound: when nothing matches.
        :raise UsageError: when several webhooks share the URL (the message lists their ids).
        """
        text = str(url_or_id).strip()
        if bounds.looks_like_id(text):
            return self.get_webhook(bounds.parse_id(text, what="A webhook id"))
        rows = self._read(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE url = ? ORDER BY id", (text,))
        if not rows:
            raise NotFound(f"No webhook with URL {redact_url(text)}. List them with: zenoti-emulator webhooks")
        if len(rows) > 1:
            ids = ", ".join(str(r[0]) for r in rows)
            raise UsageError(f"Several webhooks have URL {redact_url(text)} (ids {ids}); name one by its id.")
        return _webhook(rows[0])

    def list_webhooks(self, *, active: bool | None = None) -> list[Webhook]:
        """Every webhook, oldest first; ``active`` filters on state."""
        if active is None:
            rows = self._read(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks ORDER BY id")
        else:
            rows = self._read(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE active = ? ORDER BY id", (int(active),))
        return [_webhook(r) for r in rows]

    def update_webhook(
        self,
        webhook_id: int,
        *,
        name: str | None = None,
        url: str | None = None,
        verb: str | None = None,
        secret: str | None = None,
        clear_secret: bool = False,
        event_types: Sequence[str] | None = None,
        active: bool | None = None,
    ) -> Webhook:
        """Change the given fields; ``None`` leaves a field as it is.

        Pending retries use the new URL, verb and secret at their next attempt (the
        body bytes stay the same). Setting ``active=True`` is :meth:`reactivate`.

        :param clear_secret: remove the secret (deliveries go unsigned).
        :raise NotFound: when there is no such webhook.
        """
        sets: list[str] = []
        params: list[Any] = []
        if name is not None:
            sets.append("name = ?")
            params.append(name)
        if url is not None:
            sets.append("url = ?")
            params.append(url)
        if verb is not None:
            sets.append("verb = ?")
            params.append(_check_verb(verb))
        if secret is not None or clear_secret:
            new = None if clear_secret else secret
            sets += ["secret = ?", "secret_key = ?"]
            params += [new, secret_key(new)]
        if event_types is not None:
            sets.append("event_types = ?")
            params.append(json.dumps(list(event_types)))
        if active is not None:
            sets.append("active = ?")
            params.append(int(active))
            if active:
                sets += ["consecutive_failures = 0", "deactivated_at = NULL"]
            else:
                sets.append("deactivated_at = ?")
                params.append(self._clock())
        self.get_webhook(webhook_id)
        if sets:
            sets.append("updated_at = ?")
            params.append(self._clock())
            with self._tx() as conn:
                conn.execute(f"UPDATE webhooks SET {', '.join(sets)} WHERE id = ?", (*params, webhook_id))
        return self.get_webhook(webhook_id)

    def delete_webhook(self, webhook_id: int) -> None:
        """Remove a webhook. Its deliveries stay in the log; pending ones fail.

        :raise NotFound: when there is no such webhook.
        """
        self.get_webhook(webhook_id)
        now = self._clock()
        with self._tx() as conn:
            self._cancel_pending(conn, "webhook_id = ?", (webhook_id,), "webhook deleted", now)
            conn.execute("UPDATE deliveries SET webhook_id = NULL WHERE webhook_id = ?", (webhook_id,))
            conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))

    def reactivate(self, url_or_id: str | int) -> Webhook:
        """Bring a deactivated webhook back, with its failure count reset.

        :raise NotFound: / :raise UsageError: as :meth:`find_webhook`.
        """
        hook = self.find_webhook(url_or_id)
        return self.update_webhook(hook.id, active=True)

    def require_active(self, webhook: Webhook) -> Webhook:
        """The webhook as stored now, if it is active.

        :raise WebhookInactive: when it was deactivated.
        """
        current = self.get_webhook(webhook.id)
        if not current.active:
            raise WebhookInactive(current.id, current.shown_url, current.consecutive_failures)
        return current

    # -- deliveries ------------------------------------------------------------------

    def create_deliveries(self, items: Sequence[NewDelivery], *, time_scale: float = 1.0) -> list[ScheduledAttempt]:
        """Log events and schedule their first attempt (due now), in one transaction.

        :return: the scheduled first attempts, in the order of ``items``.
        """
        now = self._clock()
        out: list[ScheduledAttempt] = []
        with self._tx() as conn:
            for item in items:
                event_row = conn.execute(
                    "INSERT INTO events (call_id, event_id, event_type, body, created_at) VALUES (?, ?, ?, ?, ?)",
                    (item.call_id, item.event_id, item.event_type, item.body, now),
                ).lastrowid
                delivery_id = conn.execute(
                    "INSERT INTO deliveries (event_row, webhook_id, url, verb, status, options, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                    (event_row, item.webhook.id, redact_url(item.webhook.url), item.webhook.verb, json.dumps(dict(item.options)), now, now),
                ).lastrowid
                out.append(self._schedule(conn, delivery_id, 1, "first", now, 0.0, time_scale))  # type: ignore[arg-type]
        return out

    def _schedule(
        self, conn: sqlite3.Connection, delivery_id: int, number: int, kind: str, now: float, delay_s: float, time_scale: float
    ) -> ScheduledAttempt:
        # the one place a due time is made: a non-finite one is a bug upstream, never a row
        due = bounds.check_finite(now + delay_s / time_scale, what="An attempt's due time")
        sid = conn.execute(
            "INSERT INTO scheduled_attempts (delivery_id, number, kind, scheduled_at, delay_s, time_scale, due_at, state,"
            " owned_by) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
            (delivery_id, number, kind, now, delay_s, time_scale, due, self.owner),
        ).lastrowid
        if self._lease is None:
            self._hold_lease(conn, now)
        return ScheduledAttempt(sid, delivery_id, number, kind, now, delay_s, time_scale, due, "pending")  # type: ignore[arg-type]

    def record_attempt(
        self,
        record: AttemptRecord,
        *,
        retry_delay_s: float | None,
        time_scale: float = 1.0,
        failure_unit: FailureUnit = "attempt",
        deactivate_after: int = 20,
        webhook_id: int | None = None,
    ) -> RecordResult:
        """Write an attempt and decide what follows, atomically.

        In one transaction: the attempt row, its scheduled row marked done, the
        delivery's status, the webhook's failure count (reset on success; on failure
        counted per attempt or per event according to ``failure_unit``, deactivating
        the webhook at ``deactivate_after``), and, when the attempt failed and
        ``retry_delay_s`` is given, the next attempt scheduled ``retry_delay_s /
        time_scale`` seconds from now.

        :param retry_delay_s: the unscaled wait before a retry, or ``None`` when this
            attempt was the last one allowed.
        :param deactivate_after: failures in a row that deactivate; ``0`` never does.
        """
        now = self._clock()
        deactivated = False
        nxt: ScheduledAttempt | None = None
        with self._tx() as conn:
            conn.execute(
                f"INSERT INTO attempts ({_ATTEMPT_COLUMNS.removeprefix('id, ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.delivery_id,
                    record.number,
                    record.started_at,
                    record.verb,
                    record.url,
                    json.dumps(dict(record.request_headers)),
                    record.status_code,
                    record.outcome,
                    record.latency_ms,
                    json.dumps(dict(record.response_headers)),
                    record.response_body,
                    record.error,
                ),
            )
            if record.scheduled_id is not None:
                conn.execute("UPDATE scheduled_attempts SET state = 'done' WHERE id = ?", (record.scheduled_id,))
            current = conn.execute("SELECT status FROM deliveries WHERE id = ?", (record.delivery_id,)).fetchone()
            if current is not None and current[0] != "pending":
                # ended while the attempt was in flight (its webhook was deleted): keep
                # the attempt, change nothing else
                conn.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, updated_at = ? WHERE id = ?", (now, record.delivery_id)
                )
                return RecordResult(status=current[0], next=None, deactivated=False)
            if record.ok:
                status = "delivered"
            elif retry_delay_s is not None:
                status = "pending"
                nxt = self._schedule(conn, record.delivery_id, record.number + 1, "retry", now, retry_delay_s, time_scale)
            else:
                status = "failed"
            conn.execute(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, last_status = ?, last_error = ?,"
                " updated_at = ?, completed_at = ? WHERE id = ?",
                (status, record.status_code, record.error, now, None if status == "pending" else now, record.delivery_id),
            )
            if webhook_id is not None:
                if record.ok:
                    conn.execute("UPDATE webhooks SET consecutive_failures = 0 WHERE id = ?", (webhook_id,))
                elif failure_unit == "attempt" or status == "failed":
                    row = conn.execute(
                        "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = ?"
                        " RETURNING consecutive_failures, active",
                        (webhook_id,),
                    ).fetchone()
                    if row and row[1] and deactivate_after > 0 and row[0] >= deactivate_after:
                        conn.execute(
                            "UPDATE webhooks SET active = 0, deactivated_at = ?, updated_at = ? WHERE id = ?",
                            (now, now, webhook_id),
                        )
                        deactivated = True
        return RecordResult(status=status, next=nxt, deactivated=deactivated)

    def record_capture(
        self, capture: NewCapture, *, forward: Webhook | None, options: Mapping[str, Any], time_scale: float = 1.0
    ) -> tuple[int, ScheduledAttempt | None]:
        """Keep a received request and, unless ``forward`` is ``None``, its forward, atomically.

        One transaction writes the body (as an event, so ``deliveries``, ``replay`` and
        the dashboard treat it as any other), the capture row, and the delivery to
        ``forward`` with its first attempt due now: once this returns, the request is
        safe, and a crash before the forward leaves it pending for the next start.

        :return: the capture id, and the scheduled first attempt to queue (or ``None``).
        """
        now = self._clock()
        scheduled: ScheduledAttempt | None = None
        with self._tx() as conn:
            event_row = conn.execute(
                "INSERT INTO events (call_id, event_id, event_type, body, created_at) VALUES (?, ?, ?, ?, ?)",
                (capture.call_id, capture.event_id, capture.event_type, capture.body, now),
            ).lastrowid
            delivery_id = None
            if forward is not None:
                delivery_id = conn.execute(
                    "INSERT INTO deliveries (event_row, webhook_id, url, verb, status, options, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                    (event_row, forward.id, redact_url(forward.url), forward.verb, json.dumps(dict(options)), now, now),
                ).lastrowid
                scheduled = self._schedule(conn, delivery_id, 1, "first", now, 0.0, time_scale)  # type: ignore[arg-type]
            capture_id = conn.execute(
                "INSERT INTO captures (event_row, delivery_id, received_at, method, path, headers, signature,"
                " schema_status, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event_row,
                    delivery_id,
                    now,
                    capture.method,
                    capture.path,
                    json.dumps([list(h) for h in capture.headers]),
                    capture.signature,
                    capture.schema_status,
                    json.dumps(dict(capture.report)),
                ),
            ).lastrowid
        return capture_id, scheduled  # type: ignore[return-value]

    def captures(
        self,
        *,
        event_types: Sequence[str] = (),
        since: float | None = None,
        after: int = 0,
        delivery_id: int | None = None,
        page: int = 500,
    ) -> Iterator[StoredCapture]:
        """Every request the relay kept, oldest first, read ``page`` rows at a time.

        :param event_types: only these event types; empty for all.
        :param since: only those received at or after this epoch time.
        :param after: only those with a larger id (a cursor).
        :param delivery_id: only the one forwarded by this delivery.
        """
        where = ["c.id > ?"]
        params: list[Any] = []
        if delivery_id is not None:
            where.append("c.delivery_id = ?")
            params.append(delivery_id)
        if event_types:
            where.append(f"e.event_type IN ({', '.join('?' * len(event_types))})")
            params.extend(event_types)
        if since is not None:
            where.append("c.received_at >= ?")
            params.append(since)
        sql = (
            "SELECT c.id, c.received_at, c.method, c.path, c.headers, e.body, e.event_type, e.call_id, e.event_id,"
            " c.signature, c.schema_status, c.report, c.delivery_id FROM captures c JOIN events e ON e.id = c.event_row"
            f" WHERE {' AND '.join(where)} ORDER BY c.id LIMIT ?"
        )
        last = after
        while True:
            rows = self._read(sql, [last, *params, page])
            for r in rows:
                yield StoredCapture(
                    id=r[0],
                    received_at=r[1],
                    method=r[2],
                    path=r[3],
                    headers=tuple((str(k), str(v)) for k, v in json.loads(r[4])),
                    body=bytes(r[5]),
                    event_type=r[6],
                    call_id=r[7],
                    event_id=r[8],
                    signature=r[9],
                    schema_status=r[10],
                    report=json.loads(r[11]),
                    delivery_id=r[12],
                )
            if len(rows) < page:
                return
            last = rows[-1][0]

    def fail_pending(self, delivery_id: int, reason: str) -> None:
        """End a pending delivery without an attempt (its webhook was deactivated or deleted)."""
        with self._tx() as conn:
            self._cancel_pending(conn, "id = ?", (delivery_id,), reason, self._clock())

    def _cancel_pending(self, conn: sqlite3.Connection, where: str, params: Sequence[Any], reason: str, now: float) -> None:
        ids = [r[0] for r in conn.execute(f"SELECT id FROM deliveries WHERE status = 'pending' AND {where}", params)]
        for delivery_id in ids:
            conn.execute(
                "UPDATE scheduled_attempts SET state = 'cancelled' WHERE delivery_id = ? AND state IN ('pending', 'running')",
                (delivery_id,),
            )
            conn.execute(
                "UPDATE deliveries SET status = 'failed', last_error = ?, updated_at = ?, completed_at = ? WHERE id = ?",
                (reason, now, now, delivery_id),
            )

    def schedule_replay(self, delivery_id: int) -> ScheduledAttempt:
        """Send a finished delivery again, as a new attempt of the same event (due now).

        :raise NotFound: when there is no such delivery.
        :raise UsageError: when it is still pending (its retries are still running).
        """
        now = self._clock()
        with self._tx() as conn:
            row = conn.execute("SELECT status, attempts FROM deliveries WHERE id = ?", (delivery_id,)).fetchone() if _fits(delivery_id) else None
            if row is None:
                raise NotFound(f"No delivery with id {delivery_id}. List them with: zenoti-emulator deliveries")
            if row[0] == "pending":
                raise UsageError(f"Delivery {delivery_id} is still pending; wait for it or run: zenoti-emulator resume")
            last = conn.execute("SELECT COALESCE(MAX(number), 0) FROM attempts WHERE delivery_id = ?", (delivery_id,)).fetchone()
            conn.execute(
                "UPDATE deliveries SET status = 'pending', updated_at = ?, completed_at = NULL WHERE id = ?", (now, delivery_id)
            )
            return self._schedule(conn, delivery_id, max(row[1], last[0]) + 1, "replay", now, 0.0, 1.0)

    def claim(self, scheduled_id: int) -> bool:
        """Take a scheduled attempt for this process, right before making it.

        Two processes on one log (``serve`` and ``resume``) may both queue the same
        pending row; only the one that claims it sends.

        :return: ``False`` when it is no longer pending (claimed elsewhere, done, cancelled)
            or another process owns it (see :meth:`pending_schedule`).
        """
        # One statement is its own transaction: no BEGIN/COMMIT round trips, which
        # matters on this path (once per attempt, with the workers taking turns).
        with self._write_lock, self._errors():
            cur = self._conn().execute(
                "UPDATE scheduled_attempts SET state = 'running', claimed_by = ?, claimed_at = ?"
                " WHERE id = ? AND state = 'pending' AND (owned_by IS NULL OR owned_by = ?)",
                (self.owner, self._clock(), scheduled_id, self.owner),
            )
            return cur.rowcount == 1

    def release(self, scheduled_id: int) -> None:
        """Give back a claimed attempt that could not be made (it stays pending)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE scheduled_attempts SET state = 'pending', claimed_by = NULL, claimed_at = NULL"
                " WHERE id = ? AND state = 'running' AND claimed_by = ?",
                (scheduled_id, self.owner),
            )

    def pending_schedule(self) -> list[ScheduledAttempt]:
        """Every attempt scheduled but not made, earliest first: what a restart resumes.

        Attempts claimed by a process that died (``kill -9`` mid-request), or claimed
        longer ago than :data:`STALE_CLAIM_S`, are pending again: the receiver may see
        that call twice, as it may from Zenoti. Attempts a live process is making are
        left to it. A pending delivery whose scheduled row is missing (it cannot happen
        through this API, but a file may be old) gets a fresh attempt due now.

        Only this process's attempts are returned, with those it takes over: unowned ones
        (a log from before owners) and those of an owner that is gone (see
        :meth:`_owner_gone`). A live process's attempts stay its own: it keeps their rate
        and order, and reports them.
        """
        with self._tx() as conn:
            now = self._clock()
            owners = conn.execute(
                "SELECT DISTINCT owned_by FROM scheduled_attempts WHERE state IN ('pending', 'running')"
                " AND (owned_by IS NULL OR owned_by != ?)", (self.owner,)
            ).fetchall()
            gone = [o for (o,) in owners if self._owner_gone(conn, o, now)]
            for owner in gone:
                conn.execute(
                    "UPDATE scheduled_attempts SET owned_by = ? WHERE state IN ('pending', 'running') AND owned_by IS ?",
                    (self.owner, owner),
                )
            if gone or conn.execute("SELECT 1 FROM scheduled_attempts WHERE state = 'pending' AND owned_by = ? LIMIT 1",
                                    (self.owner,)).fetchone():
                self._hold_lease(conn, now)
            for sid, owner, claimed_at in conn.execute(
                "SELECT id, claimed_by, claimed_at FROM scheduled_attempts WHERE state = 'running'"
            ).fetchall():
                if owner != self.owner and (not _owner_alive(owner) or (claimed_at or 0) < now - STALE_CLAIM_S):
                    conn.execute(
                        "UPDATE scheduled_attempts SET state = 'pending', claimed_by = NULL, claimed_at = NULL WHERE id = ?",
                        (sid,),
                    )
            orphans = conn.execute(
                "SELECT d.id, d.attempts FROM deliveries d WHERE d.status = 'pending' AND NOT EXISTS"
                " (SELECT 1 FROM scheduled_attempts s WHERE s.delivery_id = d.id AND s.state IN ('pending', 'running'))"
            ).fetchall()
            for delivery_id, attempts in orphans:
                self._schedule(conn, delivery_id, attempts + 1, "retry" if attempts else "first", now, 0.0, 1.0)
            rows = conn.execute(
                f"SELECT {_SCHEDULE_COLUMNS} FROM scheduled_attempts WHERE state = 'pending' AND owned_by = ?"
                " ORDER BY due_at, id", (self.owner,)
            ).fetchall()
        return [_scheduled(r) for r in rows]

    def delivery_payload(self, delivery_id: int) -> tuple[bytes, int | None, Mapping[str, Any]]:
        """What an attempt needs: the body bytes, the webhook id and the delivery options."""
        rows = self._read(
            "SELECT e.body, d.webhook_id, d.options FROM deliveries d JOIN events e ON e.id = d.event_row WHERE d.id = ?",
            (delivery_id,),
        ) if _fits(delivery_id) else []
        if not rows:
            raise NotFound(f"No delivery with id {delivery_id}. List them with: zenoti-emulator deliveries")
        return bytes(rows[0][0]), rows[0][1], json.loads(rows[0][2])

    def get_delivery(self, delivery_id: int) -> Delivery:
        """A delivery with its body, every attempt and every scheduled attempt.

        :raise NotFound: when there is no such delivery.
        """
        rows = self._read(
            f"SELECT {_DELIVERY_COLUMNS}, e.body FROM deliveries d JOIN events e ON e.id = d.event_row WHERE d.id = ?",
            (delivery_id,),
        ) if _fits(delivery_id) else []
        if not rows:
            raise NotFound(f"No delivery with id {delivery_id}. List them with: zenoti-emulator deliveries")
        attempts = self._read(f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = ? ORDER BY number", (delivery_id,))
        schedule = self._read(
            f"SELECT {_SCHEDULE_COLUMNS} FROM scheduled_attempts WHERE delivery_id = ? ORDER BY id", (delivery_id,)
        )
        return _delivery(
            rows[0][:-1],
            body=bytes(rows[0][-1]),
            attempt_log=tuple(_attempt(a) for a in attempts),
            schedule=tuple(_scheduled(s) for s in schedule),
        )

    def list_deliveries(
        self,
        *,
        status: str | None = None,
        webhook_id: int | None = None,
        ids: Sequence[int] | None = None,
        limit: int | None = 50,
        cursor: int | None = None,
        event_type: str | None = None,
        status_code: int | None = None,
        event_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> tuple[list[Delivery], int | None]:
        """Deliveries, newest first, one page at a time (without bodies or attempts).

        :param status: ``pending``, ``delivered`` or ``failed``; ``None`` for all.
        :param webhook_id: only this webhook's.
        :param ids: only these deliveries.
        :param limit: page size; ``None`` for everything.
        :param cursor: the ``next_cursor`` of the previous page.
        :param event_type: only events of this type.
        :param status_code: only those whose last answer had this HTTP status.
        :param event_id: only this event: its envelope ``id`` or its ``event_id``.
        :param since: created at or after this epoch time. :param until: before it.
        :return: ``(page, next_cursor)``; ``next_cursor`` is ``None`` on the last page.
        :raise UsageError: for an unknown status.
        """
        where, params = _delivery_filter(status=status, webhook_id=webhook_id, ids=ids, event_type=event_type,
                                         status_code=status_code, event_id=event_id, since=since, until=until)
        if cursor is not None:
            where.append("d.id < ?")
            params.append(cursor)
        sql = f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_row"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY d.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit + 1)
        rows = self._read(sql, params)
        page = [_delivery(r) for r in (rows[:limit] if limit is not None else rows)]
        more = limit is not None and len(rows) > limit
        return page, (page[-1].id if more and page else None)

    def count_deliveries(self, **filters: Any) -> int:
        """How many deliveries :meth:`list_deliveries` would page through with ``filters``
        (its keyword arguments but ``limit`` and ``cursor``): the "of 500" of a page."""
        where, params = _delivery_filter(**filters)
        sql = "SELECT COUNT(*) FROM deliveries d JOIN events e ON e.id = d.event_row"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return int(self._read(sql, params)[0][0])

    def counts(self, *, ids: Sequence[int] | None = None) -> dict[str, int]:
        """How many deliveries are in each status (all of them, or only ``ids``)."""
        if ids is None:
            rows = self._read("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
        else:
            out = dict.fromkeys(STATUSES, 0)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for st, n in self._read(
                    f"SELECT status, COUNT(*) FROM deliveries WHERE id IN ({', '.join('?' * len(chunk))}) GROUP BY status",
                    chunk,
                ):
                    out[st] += n
            return out
        return {**dict.fromkeys(STATUSES, 0), **dict(rows)}

    # -- scenario runs -------------------------------------------------------------------

    def record_run(self, scenario: str, seed: int, delivery_ids: Sequence[int], disorder: Mapping[str, Any] | None) -> int:
        """Log one scenario run: its deliveries, in the order sent, and its disorder report."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO scenario_runs (scenario, seed, created_at, delivery_ids, disorder) VALUES (?, ?, ?, ?, ?)",
                (scenario, str(seed), self._clock(), json.dumps(list(delivery_ids)),
                 None if disorder is None else json.dumps(disorder)),
            )
            return int(cur.lastrowid or 0)

    def list_runs(self, *, limit: int = 20) -> list[dict[str, Any]]:
        """The newest scenario runs, each with its delivery ids and disorder report."""
        rows = self._read("SELECT id, scenario, seed, created_at, delivery_ids, disorder FROM scenario_runs "
                          "ORDER BY id DESC LIMIT ?", (limit,))
        return [{"id": r[0], "scenario": r[1], "seed": int(r[2]), "created_at": iso(r[3]), "delivery_ids": json.loads(r[4]),
                 "disorder": None if r[5] is None else json.loads(r[5])} for r in rows]
