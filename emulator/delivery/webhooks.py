"""The webhooks table of the delivery log: create, find, change, deactivate and reactivate.

A webhook is where events go (URL, verb, secret, the event types it takes) and whether it
is still active: Zenoti deactivates one after its failures in a row, and so does the log.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from .. import bounds
from ..defaults import VERBS
from ..errors import NotFound, UsageError, WebhookInactive
from ..urls import redact_url
from .database import Database, _fits
from .rows import _WEBHOOK_COLUMNS, Webhook, _webhook, secret_key


def _check_verb(verb: str) -> str:
    upper = verb.upper()
    if upper not in VERBS:
        raise UsageError(f"Verb must be one of {', '.join(VERBS)}, not {verb!r}.")
    return upper


class WebhookLog(Database):
    """The webhooks of a delivery log (a base of :class:`~emulator.delivery.store.Store`)."""

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
                (
                    name or redact_url(url),
                    url,
                    verb,
                    secret or None,
                    secret_key(secret),
                    json.dumps(list(event_types)),
                    int(active),
                    now,
                    now,
                ),
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
        rows = (
            self._read(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?", (webhook_id,))
            if _fits(webhook_id)
            else []
        )
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

    def _cancel_pending(
        self, conn: sqlite3.Connection, where: str, params: Sequence[Any], reason: str, now: float
    ) -> None:
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
