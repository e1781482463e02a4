"""The delivery log: webhooks, events, deliveries, attempts and scheduled attempts in SQLite.

The file, its connections and the process lease are
:class:`~emulator.delivery.database.Database`'s, the webhooks table
:class:`~emulator.delivery.webhooks.WebhookLog`'s, and the values read back are in
:mod:`emulator.delivery.rows`; :class:`Store` is all of them, with the deliveries, their
attempts, the schedule of attempts to come, captures and runs. Every ``sqlite3.Error``
leaves as a :class:`StoreError`.

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

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .. import bounds
from ..defaults import STATUSES
from ..errors import NotFound, UsageError
from ..urls import redact_url
from .database import STALE_CLAIM_S, _fits, _owner_alive
from .rows import (
    _ATTEMPT_COLUMNS,
    _DELIVERY_COLUMNS,
    _SCHEDULE_COLUMNS,
    AttemptRecord,
    Delivery,
    FailureUnit,
    NewCapture,
    NewDelivery,
    RecordResult,
    ScheduledAttempt,
    StoredCapture,
    Webhook,
    _attempt,
    _delivery,
    _scheduled,
    iso,
)
from .webhooks import WebhookLog


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


class Store(WebhookLog):
    """The delivery log in one SQLite file; safe to share between threads.

    Opened like :class:`~emulator.delivery.database.Database` (``Store(path)``); its
    webhooks are :class:`~emulator.delivery.webhooks.WebhookLog`'s. Here: deliveries and
    their attempts, the schedule of attempts to come, captures, runs.
    """

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
                    (
                        event_row,
                        item.webhook.id,
                        redact_url(item.webhook.url),
                        item.webhook.verb,
                        json.dumps(dict(item.options)),
                        now,
                        now,
                    ),
                ).lastrowid
                out.append(self._schedule(conn, delivery_id, 1, "first", now, 0.0, time_scale))  # type: ignore[arg-type]
        return out

    def _schedule(
        self,
        conn: sqlite3.Connection,
        delivery_id: int,
        number: int,
        kind: str,
        now: float,
        delay_s: float,
        time_scale: float,
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
                    "UPDATE deliveries SET attempts = attempts + 1, updated_at = ? WHERE id = ?",
                    (now, record.delivery_id),
                )
                return RecordResult(status=current[0], next=None, deactivated=False)
            if record.ok:
                status = "delivered"
            elif retry_delay_s is not None:
                status = "pending"
                nxt = self._schedule(
                    conn, record.delivery_id, record.number + 1, "retry", now, retry_delay_s, time_scale
                )
            else:
                status = "failed"
            conn.execute(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, last_status = ?, last_error = ?,"
                " updated_at = ?, completed_at = ? WHERE id = ?",
                (
                    status,
                    record.status_code,
                    record.error,
                    now,
                    None if status == "pending" else now,
                    record.delivery_id,
                ),
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

    def schedule_replay(self, delivery_id: int) -> ScheduledAttempt:
        """Send a finished delivery again, as a new attempt of the same event (due now).

        :raise NotFound: when there is no such delivery.
        :raise UsageError: when it is still pending (its retries are still running).
        """
        now = self._clock()
        with self._tx() as conn:
            row = (
                conn.execute("SELECT status, attempts FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
                if _fits(delivery_id)
                else None
            )
            if row is None:
                raise NotFound(f"No delivery with id {delivery_id}. List them with: zenoti-emulator deliveries")
            if row[0] == "pending":
                raise UsageError(f"Delivery {delivery_id} is still pending; wait for it or run: zenoti-emulator resume")
            last = conn.execute(
                "SELECT COALESCE(MAX(number), 0) FROM attempts WHERE delivery_id = ?", (delivery_id,)
            ).fetchone()
            conn.execute(
                "UPDATE deliveries SET status = 'pending', updated_at = ?, completed_at = NULL WHERE id = ?",
                (now, delivery_id),
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
                " AND (owned_by IS NULL OR owned_by != ?)",
                (self.owner,),
            ).fetchall()
            gone = [o for (o,) in owners if self._owner_gone(conn, o, now)]
            for owner in gone:
                conn.execute(
                    "UPDATE scheduled_attempts SET owned_by = ? WHERE state IN ('pending', 'running') AND owned_by IS ?",
                    (self.owner, owner),
                )
            if (
                gone
                or conn.execute(
                    "SELECT 1 FROM scheduled_attempts WHERE state = 'pending' AND owned_by = ? LIMIT 1", (self.owner,)
                ).fetchone()
            ):
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
                " ORDER BY due_at, id",
                (self.owner,),
            ).fetchall()
        return [_scheduled(r) for r in rows]

    def delivery_payload(self, delivery_id: int) -> tuple[bytes, int | None, Mapping[str, Any]]:
        """What an attempt needs: the body bytes, the webhook id and the delivery options."""
        rows = (
            self._read(
                "SELECT e.body, d.webhook_id, d.options FROM deliveries d JOIN events e ON e.id = d.event_row WHERE d.id = ?",
                (delivery_id,),
            )
            if _fits(delivery_id)
            else []
        )
        if not rows:
            raise NotFound(f"No delivery with id {delivery_id}. List them with: zenoti-emulator deliveries")
        return bytes(rows[0][0]), rows[0][1], json.loads(rows[0][2])

    def get_delivery(self, delivery_id: int) -> Delivery:
        """A delivery with its body, every attempt and every scheduled attempt.

        :raise NotFound: when there is no such delivery.
        """
        rows = (
            self._read(
                f"SELECT {_DELIVERY_COLUMNS}, e.body FROM deliveries d JOIN events e ON e.id = d.event_row WHERE d.id = ?",
                (delivery_id,),
            )
            if _fits(delivery_id)
            else []
        )
        if not rows:
            raise NotFound(f"No delivery with id {delivery_id}. List them with: zenoti-emulator deliveries")
        attempts = self._read(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = ? ORDER BY number", (delivery_id,)
        )
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
        where, params = _delivery_filter(
            status=status,
            webhook_id=webhook_id,
            ids=ids,
            event_type=event_type,
            status_code=status_code,
            event_id=event_id,
            since=since,
            until=until,
        )
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

    def record_run(
        self, scenario: str, seed: int, delivery_ids: Sequence[int], disorder: Mapping[str, Any] | None
    ) -> int:
        """Log one scenario run: its deliveries, in the order sent, and its disorder report."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO scenario_runs (scenario, seed, created_at, delivery_ids, disorder) VALUES (?, ?, ?, ?, ?)",
                (
                    scenario,
                    str(seed),
                    self._clock(),
                    json.dumps(list(delivery_ids)),
                    None if disorder is None else json.dumps(disorder),
                ),
            )
            return int(cur.lastrowid or 0)

    def list_runs(self, *, limit: int = 20) -> list[dict[str, Any]]:
        """The newest scenario runs, each with its delivery ids and disorder report."""
        rows = self._read(
            "SELECT id, scenario, seed, created_at, delivery_ids, disorder FROM scenario_runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            {
                "id": r[0],
                "scenario": r[1],
                "seed": int(r[2]),
                "created_at": iso(r[3]),
                "delivery_ids": json.loads(r[4]),
                "disorder": None if r[5] is None else json.loads(r[5]),
            }
            for r in rows
        ]
