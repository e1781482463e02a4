"""Built-in receivers ("sinks"): their settings and the requests they captured.

A sink is what a developer points a webhook at before their own receiver exists: it
answers like a real receiver would (a configurable status, after a configurable delay, so
retries can be rehearsed) and keeps every request it got, raw. Sinks live in the same
SQLite file as the delivery log, in tables of their own (``sink``, ``sink_request``).

Each call opens its own short-lived connection: the web server answers from several
threads, and a connection per call is both thread-safe and cheap with SQLite in WAL mode.
"""

from __future__ import annotations

import base64
import builtins
import json
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import bounds
from ..errors import EmulatorError, NotFound, UsageError
from .rows import mask_secret

#: A sink name is one URL path segment: ``/sink/<name>``.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Requests kept per sink; older ones are dropped so the file cannot grow without bound.
MAX_REQUESTS_PER_SINK = 500
#: The longest a sink may wait before answering: past a real sender's 10 s timeout, which
#: is what a delay rehearses, and no longer than that needs (a waiting answer holds a thread).
MAX_DELAY_MS = 15_000
#: Statuses a sink may answer with.
STATUS_RANGE = range(100, 600)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sink (
    name        TEXT PRIMARY KEY,
    secret      TEXT,
    status      INTEGER NOT NULL DEFAULT 200,
    delay_ms    INTEGER NOT NULL DEFAULT 0,
    script      TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sink_request (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sink         TEXT NOT NULL REFERENCES sink(name) ON DELETE CASCADE,
    received_at  TEXT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    headers      TEXT NOT NULL,
    body         BLOB NOT NULL,
    signature    TEXT NOT NULL,
    status       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sink_request_by_sink ON sink_request(sink, id);
CREATE TABLE IF NOT EXISTS app_setting (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
"""


class SinkStoreError(EmulatorError):
    """The sink tables could not be read or written."""

    status_code = 500
    code = "sink_store_error"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Sink:
    """A built-in receiver's settings."""

    name: str
    secret: str | None
    #: the status it answers with once ``script`` is used up
    status: int
    delay_ms: int
    #: statuses to answer with first, one per request (``[503, 503]`` then ``status``)
    script: tuple[int, ...] = ()
    created_at: str = ""

    def to_settings(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`SinkStore.put` that recreate these settings."""
        return {"secret": self.secret, "status": self.status, "delay_ms": self.delay_ms, "script": list(self.script)}

    def to_dict(self, request_count: int = 0) -> dict[str, Any]:
        return {
            "name": self.name,
            "secret": mask_secret(self.secret) or None,
            "has_secret": bool(self.secret),
            "status": self.status,
            "delay_ms": self.delay_ms,
            "script": list(self.script),
            "created_at": self.created_at,
            "request_count": request_count,
        }


@dataclass(frozen=True, slots=True)
class CapturedRequest:
    """One request a sink received, exactly as it arrived."""

    id: int
    sink: str
    received_at: str
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    #: ``valid``, ``invalid``, ``missing`` (the sink has a secret, the request no
    #: signature) or ``not_checked`` (the sink has no secret)
    signature: str
    #: what the sink answered
    status: int

    def to_dict(self) -> dict[str, Any]:
        try:
            text: str | None = self.body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        try:
            # a receiver must take any body; shown parsed only when it is sane JSON
            parsed = bounds.loads_json(self.body) if self.body else None
        except ValueError:
            parsed = None
        return {
            "id": self.id,
            "sink": self.sink,
            "received_at": self.received_at,
            "method": self.method,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers],
            "body": text,
            "body_base64": None if text is not None else _b64(self.body),
            "body_size": len(self.body),
            "json": parsed,
            "signature": self.signature,
            "status": self.status,
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_name(name: str) -> str:
    """Refuse a sink name that would not fit in one URL path segment."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise UsageError(
            f"Sink name {name!r} is not valid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
            details={"field": "name"},
        )
    return name


class SinkStore:
    """Sinks and their captured requests in one SQLite file.

    :param path: the database file (shared with the delivery log).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            with closing(sqlite3.connect(self.path, timeout=15)) as db:
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA foreign_keys=ON")
                with db:  # one transaction per call, committed on success
                    yield db
        except sqlite3.Error as exc:
            raise SinkStoreError(f"Sink storage in {self.path} failed: {exc}") from exc

    # -- sinks ---------------------------------------------------------------------------

    def list(self) -> list[tuple[Sink, int]]:
        """Every sink with how many requests it holds, by name."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT s.*, (SELECT COUNT(*) FROM sink_request r WHERE r.sink = s.name) AS n"
                " FROM sink s ORDER BY s.name"
            ).fetchall()
        return [(_sink(row), row["n"]) for row in rows]

    def get(self, name: str) -> Sink:
        """:raise NotFound: no sink has that name."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM sink WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"No sink named {name!r}. Create it with PUT /api/sinks/{name}.", details={"sink": name})
        return _sink(row)

    def count(self, name: str) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM sink_request WHERE sink = ?", (name,)).fetchone()[0])

    def put(
        self,
        name: str,
        *,
        secret: str | None = None,
        status: int = 200,
        delay_ms: int = 0,
        script: Sequence[int] = (),
    ) -> tuple[Sink, bool]:
        """Create or replace a sink's settings, keeping its captured requests.

        :return: the sink, and whether it was created.
        """
        sink = Sink(check_name(name), secret or None, status, delay_ms, tuple(script), _now())
        with self._connect() as db:
            existed = db.execute("SELECT 1 FROM sink WHERE name = ?", (name,)).fetchone() is not None
            db.execute(
                "INSERT INTO sink (name, secret, status, delay_ms, script, created_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET secret = excluded.secret, status = excluded.status,"
                " delay_ms = excluded.delay_ms, script = excluded.script",
                (sink.name, sink.secret, sink.status, sink.delay_ms, json.dumps(list(sink.script)), sink.created_at),
            )
        return self.get(name), not existed

    def ensure(self, name: str, *, secret: str | None) -> Sink:
        """The sink ``name``, created with ``secret`` if it does not exist yet."""
        try:
            return self.get(name)
        except NotFound:
            return self.put(name, secret=secret)[0]

    def delete(self, name: str) -> None:
        """:raise NotFound: no sink has that name."""
        with self._connect() as db:
            db.execute("DELETE FROM sink_request WHERE sink = ?", (name,))
            gone = db.execute("DELETE FROM sink WHERE name = ?", (name,)).rowcount
        if not gone:
            raise NotFound(f"No sink named {name!r}.", details={"sink": name})

    def next_status(self, name: str) -> tuple[Sink, int]:
        """The sink and the status to answer the current request with, consuming ``script``."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # two requests at once must not both take the same step
            row = db.execute("SELECT * FROM sink WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"No sink named {name!r}. Create it with PUT /api/sinks/{name}.", details={"sink": name})
            sink = _sink(row)
            if not sink.script:
                return sink, sink.status
            db.execute("UPDATE sink SET script = ? WHERE name = ?", (json.dumps(list(sink.script[1:])), name))
        return sink, sink.script[0]

    # -- the app's own settings (what a fresh start created) -----------------------------

    def get_setting(self, key: str) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT value FROM app_setting WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO app_setting (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- captured requests ---------------------------------------------------------------

    def record(
        self,
        name: str,
        *,
        method: str,
        path: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        signature: str,
        status: int,
    ) -> CapturedRequest:
        """Keep one request, dropping the oldest beyond :data:`MAX_REQUESTS_PER_SINK`."""
        received = _now()
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO sink_request (sink, received_at, method, path, headers, body, signature, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, received, method, path, json.dumps([list(h) for h in headers]), body, signature, status),
            )
            db.execute(
                "DELETE FROM sink_request WHERE sink = ? AND id <= ?",
                (name, int(cursor.lastrowid or 0) - MAX_REQUESTS_PER_SINK),
            )
        return CapturedRequest(
            int(cursor.lastrowid or 0), name, received, method, path, list(headers), body, signature, status
        )

    def requests(
        self, name: str, *, limit: int = 50, after: int | None = None
    ) -> builtins.list[CapturedRequest]:  # not self.list
        """A sink's requests, newest first; with ``after``, only those newer than that id.

        :raise NotFound: no sink has that name.
        """
        self.get(name)
        query = "SELECT * FROM sink_request WHERE sink = ?"
        args: list[Any] = [name]
        if after is not None:
            query += " AND id > ?"
            args.append(after)
        query += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self._connect() as db:
            rows = db.execute(query, args).fetchall()
        return [_captured(row) for row in rows]

    def clear(self, name: str) -> int:
        """Forget a sink's requests; :return: how many there were."""
        self.get(name)
        with self._connect() as db:
            return int(db.execute("DELETE FROM sink_request WHERE sink = ?", (name,)).rowcount)


def _sink(row: Mapping[str, Any]) -> Sink:
    return Sink(
        row["name"],
        row["secret"],
        int(row["status"]),
        int(row["delay_ms"]),
        tuple(json.loads(row["script"] or "[]")),
        row["created_at"],
    )


def _captured(row: Mapping[str, Any]) -> CapturedRequest:
    headers = [(str(k), str(v)) for k, v in json.loads(row["headers"])]
    return CapturedRequest(
        int(row["id"]),
        row["sink"],
        row["received_at"],
        row["method"],
        row["path"],
        headers,
        bytes(row["body"]),
        row["signature"],
        int(row["status"]),
    )
