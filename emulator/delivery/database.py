"""The delivery log's SQLite file: its schema, a connection per thread, transactions, the lease.

This is where :mod:`sqlite3` is opened. The database runs in WAL mode so the command
line, the web app and a worker pool can read while one writes. Each thread gets its own
connection (:class:`Database` hands them out and closes them all in
:meth:`Database.close`); every ``sqlite3.Error`` leaves as a :class:`StoreError`.

The lease: a process owns the attempts it schedules while it lives. It holds a lease in
``owners``, renewed every :data:`LEASE_RENEW_S` by a thread of its store and given up by
:meth:`Database.close`; another process takes an attempt over only once its owner is gone
(:meth:`Database._owner_gone`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from .. import bounds
from ..errors import StoreError
from ..urls import redact_url

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


class Database:
    """The delivery log's file, safe to share between threads; :class:`~emulator.delivery.store.Store` is what reads and writes it.

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
            raise StoreError(
                f"Cannot create the delivery log at {self.path}: {exc.strerror}. Choose another --db."
            ) from exc
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

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise StoreError(f"The delivery log {self.path} is closed.")
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes
            # the lock up front instead of failing to upgrade a read lock mid-transaction.
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
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
            with contextlib.suppress(sqlite3.Error):  # closing from another thread mid-use
                conn.close()
        self._local = threading.local()

    def __enter__(self) -> Self:
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
