"""What the views call: the registry, the delivery log, the deliverer and the sinks, wired once.

:class:`Services` is built by :func:`init_app` and lives in ``app.extensions``; views reach
it through :func:`services`. It is also the adapter between the web layer and the core:
it turns store rows into the JSON shapes ``openapi.py`` documents, and it decides fan-out
(which webhooks an event goes to). Background threads (the deliverer's workers) start in
:meth:`Services.start`, not at import or at ``create_app``, and stop in
:meth:`Services.close`, which leaves unmade attempts scheduled in the log for the next
start to resume.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request

from .. import __version__
from ..delivery.curl import as_curl
from ..delivery.deliverer import Deliverer
from ..delivery.retry import DeliveryOptions
from ..delivery.rows import Delivery, Webhook, iso
from ..delivery.signing import SIGNATURE_HEADER, verify
from ..delivery.sinks import Sink, SinkStore
from ..delivery.store import Store
from ..errors import Conflict, EmulatorError, NotFound, PayloadInvalid, UnknownEventType, Unprocessable
from ..events.generate import DEFAULT_EVENT_TYPE, generate_events
from ..events.registry import EventType, Registry, default_registry
from ..world import PROFILES
from .security import is_loopback

log = logging.getLogger(__name__)

#: The built-in receiver every fresh start has, and the webhook that points at it.
DEFAULT_SINK = "default"
DEFAULT_WEBHOOK_NAME = "Built-in sink"
#: How much of a response body a delivery row shows.
EXCERPT_CHARS = 300
#: Subscribes a webhook to every event type.
ALL_TYPES = "*"
_EXTENSION = "zenoti_emulator"


class ShuttingDown(EmulatorError):
    status_code = 503
    code = "shutting_down"


class Services:
    """Everything a request needs, shared by every request of one app.

    :param config: the app's config (``DATABASE``, ``TIME_SCALE``, ...).
    """

    def __init__(self, config: Mapping[str, Any], registry: Registry | None = None) -> None:
        self.config = config
        self.registry = registry or default_registry()
        self.store = Store(config.get("DATABASE"))
        self.sinks = SinkStore(self.store.path)
        self.options = DeliveryOptions(
            timeout=float(config.get("DELIVERY_TIMEOUT", 10.0)),
            time_scale=float(config.get("TIME_SCALE", 1.0)),
            deactivate_after=int(config.get("DEACTIVATE_AFTER", 20)),
        )
        self.public_url: str | None = config.get("PUBLIC_URL")
        self.default_event_type = (
            DEFAULT_EVENT_TYPE if DEFAULT_EVENT_TYPE in self.registry else next(iter(self.registry))
        )
        self.profiles = PROFILES
        self.resumed: list[int] = []
        self._deliverer: Deliverer | None = None
        #: one-worker deliverers of runs that must go out in order (scenarios), until their first attempts are made
        self._in_order: set[Deliverer] = set()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._started

    def start(self, public_url: str | None = None) -> None:
        """Seed the built-in sink and its webhook, start the workers, resume pending retries.

        Idempotent. :param public_url: how the emulator reaches itself
        (``http://127.0.0.1:8025``); the built-in sink's webhook points there.
        """
        with self._lock:
            if self._started or self._closed:
                return
            if public_url:
                self.public_url = public_url.rstrip("/")
            if self.config.get("SEED_DEFAULTS", True) and self.public_url:
                self._seed_defaults(self.public_url)
            self._deliverer = Deliverer(
                self.store, options=self.options, concurrency=int(self.config.get("DELIVERY_WORKERS", 8))
            )
            self.resumed = self._deliverer.resume_pending()
            # Retries left by `fire --no-wait` (or a stopped fire) come due while we run.
            follow = float(self.config.get("FOLLOW_LOG_S") or 0)
            if follow > 0:
                self._deliverer.follow_log(follow)
            if self.resumed:
                log.info("Resumed %d pending deliveries", len(self.resumed))
            self._started = True

    @property
    def deliverer(self) -> Deliverer:
        if self._deliverer is None and not self._closed:
            self.start()
        if self._deliverer is None:
            raise ShuttingDown("The emulator is shutting down; nothing new is sent.")
        return self._deliverer

    def stop_delivering(self) -> None:
        """Stop the workers once their in-flight attempts are logged.

        Attempts not yet made stay scheduled in the log, for the next start to resume.
        Firing afterwards is refused (the app is shutting down).
        """
        with self._lock:
            self._closed = True
            deliverer, self._deliverer = self._deliverer, None
            in_order, self._in_order = list(self._in_order), set()
        for one in [*in_order, *([deliverer] if deliverer else [])]:
            one.close()

    def deliver_in_order(self, events: Sequence[Mapping[str, Any]], hooks: Sequence[Webhook]) -> list[int]:
        """Log ``events`` for each of ``hooks`` and send them one at a time, in this order.

        The shared deliverer's workers would send them side by side; a scenario's story
        must reach the receiver in its order. A one-worker deliverer makes each first
        attempt in turn, then closes: its retries stay scheduled in the log, where the
        shared deliverer picks them up (``FOLLOW_LOG_S``).
        """
        with self._lock:
            if self._closed:
                raise ShuttingDown("The emulator is shutting down; nothing new is sent.")
            one = Deliverer(self.store, options=self.options, concurrency=1)
            self._in_order.add(one)
        ids: list[int] = []
        try:
            for hook in hooks:
                ids += one.submit_many(events, hook, batch=len(events) or 1)
        except BaseException:
            self._finish(one)
            raise

        threading.Thread(target=self._finish, args=(one, True), name="in-order delivery", daemon=True).start()
        return ids

    def _finish(self, one: Deliverer, wait: bool = False) -> None:
        if wait:
            one.wait(settle=False)
        with self._lock:
            if one not in self._in_order:
                return  # closed by stop_delivering
            self._in_order.discard(one)
        one.close()

    def close(self) -> None:
        """:meth:`stop_delivering`, then close the log. Idempotent."""
        self.stop_delivering()
        self.store.close()

    def _seed_defaults(self, public_url: str) -> None:
        url = f"{public_url}/sink/{DEFAULT_SINK}"
        secret = self.sinks.get_setting("default_secret")
        if secret is None:
            secret = secrets.token_urlsafe(24)
            self.sinks.set_setting("default_secret", secret)
        self.sinks.ensure(DEFAULT_SINK, secret=secret)
        hook_id = self.sinks.get_setting("default_webhook_id")
        if hook_id is None:
            hook = self.store.create_webhook(url, name=DEFAULT_WEBHOOK_NAME, secret=secret, event_types=[ALL_TYPES])
            self.sinks.set_setting("default_webhook_id", str(hook.id))
            return
        try:
            hook = self.store.get_webhook(int(hook_id))
        except NotFound:
            return  # the user deleted it: a deliberate choice, not a fresh start
        if hook.url != url and _is_own_sink_url(hook.url):
            # Started on another port than last time: follow it.
            self.store.update_webhook(hook.id, url=url)

    # -- events --------------------------------------------------------------------------

    def generate(
        self,
        event_type: str,
        *,
        count: int = 1,
        seed: int | None = None,
        now: datetime | None = None,
        overrides: Sequence[tuple[Any, Any]] = (),
        profile: str = "realistic",
        variants: Mapping[str, str] | None = None,
        fresh: bool = False,
    ) -> list[dict[str, Any]]:
        try:
            return list(
                generate_events(
                    event_type,
                    count=count,
                    seed=seed,
                    now=now,
                    overrides=overrides,
                    profile=profile,
                    registry=self.registry,
                    variants=variants,
                    fresh=fresh,
                )
            )
        except PayloadInvalid as exc:
            # The generator's hint names CLI options; here the fix is in the request's `set`.
            raise PayloadInvalid(exc.event_type, exc.errors, hint=". Fix the value in 'set'") from None

    def fire(
        self,
        event_type: str,
        *,
        count: int = 1,
        seed: int | None = None,
        overrides: Sequence[tuple[Any, Any]] = (),
        profile: str = "realistic",
        variants: Mapping[str, str] | None = None,
        fresh: bool = False,
        webhook_ids: Sequence[int] | None = None,
        target: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Generate events and queue one delivery per event and webhook, all or nothing.

        Webhooks: the ones named, else a one-off ``target`` (kept as an unsubscribed
        webhook so its failures count, as ``fire --target`` does), else every active
        webhook subscribed to ``event_type``.

        :raise NotFound: an unknown webhook id or event type.
        :raise WebhookInactive: (409) a named webhook or the target is deactivated.
        :raise PayloadInvalid: (422) an override breaks the schema.
        """
        self.registry.get_type(event_type)
        if webhook_ids is not None:
            hooks = [self.store.require_active(self.store.get_webhook(i)) for i in webhook_ids]
        elif target is not None:
            hook = self.store.upsert_webhook(
                target["url"], verb=target.get("verb", "POST"), secret=target.get("secret")
            )
            hooks = [self.store.require_active(hook)]
        else:
            hooks = self.subscribers(event_type)
        events = self.generate(
            event_type, count=count, seed=seed, overrides=overrides, profile=profile, variants=variants, fresh=fresh
        )
        # All or nothing: every delivery is logged in one transaction before any is sent,
        # so a crash leaves either none of them or all of them (to resume).
        ids = self.deliverer.submit_all(events, hooks)
        page, _ = self.store.list_deliveries(ids=ids, limit=None) if ids else ([], None)
        return {
            "events": [{"id": e.get("id"), "event_type": e.get("event_type", event_type)} for e in events],
            "deliveries": [self.delivery_dict(d) for d in reversed(page)],
        }

    def subscribers(self, event_type: str) -> list[Webhook]:
        """Active webhooks subscribed to ``event_type``.

        A webhook with no event types at all is a one-off target (made by ``fire
        --target`` or the API's ``target``): it receives only what is sent to it by name.
        """
        return [h for h in self.store.list_webhooks(active=True) if h.event_types and h.subscribes_to(event_type)]

    # -- webhooks ------------------------------------------------------------------------

    def _check_types(self, names: Iterable[str]) -> list[str]:
        """The names of a webhook's ``event_types``; an unknown one is a 422 naming its index."""
        names = list(names)
        for index, name in enumerate(names):
            if name == ALL_TYPES:
                continue
            try:
                self.registry.get_type(name)
            except UnknownEventType as exc:
                raise Unprocessable(exc.message, details={"pointer": f"/event_types/{index}", **exc.details}) from None
        return names

    def create_webhook(self, body: Mapping[str, Any]) -> Webhook:
        return self.store.create_webhook(
            body["url"],
            verb=body.get("verb", "POST"),
            secret=body.get("secret"),
            name=body.get("name"),
            event_types=self._check_types(body.get("event_types", [ALL_TYPES])),
            active=body.get("active", True),
        )

    def update_webhook(self, webhook_id: int, body: Mapping[str, Any]) -> Webhook:
        fields: dict[str, Any] = {k: body[k] for k in ("name", "url", "verb", "active") if k in body}
        if "event_types" in body:
            fields["event_types"] = self._check_types(body["event_types"])
        if "secret" in body:
            if body["secret"]:
                fields["secret"] = body["secret"]
            else:
                fields["clear_secret"] = True
        return self.store.update_webhook(webhook_id, **fields)

    def ping(self, webhook_id: int) -> dict[str, Any]:
        """Zenoti's "Testing your trigger": an empty POST, answered synchronously."""
        hook = self.store.get_webhook(webhook_id)
        result = self.deliverer.ping(hook.url)
        return {
            "ok": result.ok,
            "status_code": result.status_code,
            "latency_ms": round(result.latency_ms, 1),
            "error": result.error,
        }

    @staticmethod
    def webhook_dict(hook: Webhook) -> dict[str, Any]:
        return {
            "id": hook.id,
            "name": hook.name,
            "event_types": list(hook.event_types),
            "verb": hook.verb,
            "url": hook.shown_url,
            "secret": hook.masked_secret or None,
            "has_secret": bool(hook.secret),
            "active": hook.active,
            "failure_count": hook.consecutive_failures,
            "created_at": iso(hook.created_at),
            "updated_at": iso(hook.updated_at),
            "deactivated_at": iso(hook.deactivated_at),
        }

    # -- deliveries ----------------------------------------------------------------------

    def delivery_dict(self, d: Delivery) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": d.id,
            "call_id": d.call_id,
            "event_id": d.event_id,
            "event_type": d.event_type,
            "webhook_id": d.webhook_id,
            "url": d.shown_url,
            "verb": d.verb,
            "status": d.status,
            "attempts": d.attempts,
            "last_status_code": d.last_status,
            "last_error": d.last_error,
            "latency_ms": None,
            "response_excerpt": None,
            "created_at": iso(d.created_at),
            "completed_at": iso(d.completed_at),
            "next_attempt_at": None,
        }
        if d.attempt_log:
            last = d.attempt_log[-1]
            out["latency_ms"] = None if last.latency_ms is None else round(last.latency_ms, 1)
            out["response_excerpt"] = _excerpt(last.response_body)
        due = [s.due_at for s in d.schedule if s.state == "pending"]
        if due:
            out["next_attempt_at"] = iso(min(due))
        return out

    def delivery_dicts(self, page: Sequence[Delivery]) -> list[dict[str, Any]]:
        """Rows of the list, each with its last attempt's latency and response excerpt."""
        return [self.delivery_dict(self.store.get_delivery(d.id)) for d in page]

    def delivery_detail(self, delivery_id: int) -> dict[str, Any]:
        """A delivery with everything the log has: each attempt's headers both ways and
        response, the signature sent and whether it checks out, and a curl command that
        sends the same bytes again."""
        d = self.store.get_delivery(delivery_id)
        out = self.delivery_dict(d)
        out["attempt_log"] = [
            {
                "number": a.number,
                "started_at": iso(a.started_at),
                "verb": a.verb,
                "url": a.url,
                "status_code": a.status_code,
                "outcome": a.outcome,
                "latency_ms": None if a.latency_ms is None else round(a.latency_ms, 1),
                "error": a.error,
                "response_excerpt": _excerpt(a.response_body),
                "request_headers": dict(a.request_headers),
                "response_headers": dict(a.response_headers),
                "response_body": a.response_body.decode("utf-8", "replace") if a.response_body else None,
            }
            for a in d.attempt_log
        ]
        out["schedule"] = [s.to_dict() for s in d.schedule]
        out["body"] = None if d.body is None else d.body.decode("utf-8", "replace")
        last = d.attempt_log[-1] if d.attempt_log else None
        headers = dict(last.request_headers) if last else {}
        sent = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
        out["signature"] = sent
        out["signature_check"] = self._signature_check(d, sent)
        out["curl"] = as_curl(last.verb, last.url, headers, d.body) if last else None
        return out

    def _signature_check(self, d: Delivery, sent: str | None) -> str:
        """``valid``: the signature sent verifies with the webhook's secret now;
        ``invalid``: it does not (the secret changed since); ``unsigned``: none was sent;
        ``unknown``: the webhook is gone, or has no secret any more."""
        if sent is None:
            return "unsigned"
        try:
            hook = self.store.get_webhook(d.webhook_id) if d.webhook_id is not None else None
        except NotFound:
            hook = None
        if hook is None or not hook.secret or d.body is None:
            return "unknown"
        return "valid" if verify(d.body, sent, hook.secret) else "invalid"

    def replay(self, delivery_id: int) -> dict[str, Any]:
        """:raise Conflict: (409) the delivery is still pending. :raise WebhookInactive: (409)."""
        current = self.store.get_delivery(delivery_id)
        if current.status == "pending":
            raise Conflict(
                f"Delivery {delivery_id} is still pending: its retries are running. Replay it once it is delivered or failed.",
                details={"delivery_id": delivery_id, "status": "pending"},
            )
        self.deliverer.replay(delivery_id)
        return self.delivery_dict(self.store.get_delivery(delivery_id))

    # -- sinks, schema, health -----------------------------------------------------------

    def sink_url(self, name: str) -> str:
        base = self.public_url or request.host_url.rstrip("/")
        return f"{base}/sink/{name}"

    def sink_dict(self, sink: Sink, count: int) -> dict[str, Any]:
        return {**sink.to_dict(count), "url": self.sink_url(sink.name)}

    @staticmethod
    def fields(kind: EventType) -> list[dict[str, Any]]:
        """The schema as rows: path, type, format, required, description, example."""
        return list(_walk(kind.resolved, "$"))

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "database": str(self.store.path),
            "public_url": self.public_url,
            "time_scale": self.options.time_scale,
            "event_types": len(self.registry),
            "deliveries": self.store.counts(),
        }


def _excerpt(body: bytes) -> str | None:
    if not body:
        return None
    text = body[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def _type_text(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if kind is None:
        if "const" in schema:
            return "const"
        if "enum" in schema:
            return "enum"
        return "any"
    return " | ".join(kind) if isinstance(kind, list) else str(kind)


def _walk(schema: Mapping[str, Any], path: str) -> Iterable[dict[str, Any]]:
    needed = set(schema.get("required", ()))
    for key, sub in schema.get("properties", {}).items():
        child = f"{path}.{key}"
        example = sub.get("const", (sub.get("examples") or sub.get("enum") or [None])[0])
        yield {
            "path": child,
            "type": _type_text(sub),
            "format": sub.get("format"),
            "required": key in needed,
            "description": sub.get("description"),
            "example": example,
        }
        yield from _walk(sub, child)
    items = schema.get("items")
    if isinstance(items, Mapping):
        yield from _walk(items, path + "[*]")


def _is_own_sink_url(url: str) -> bool:
    parts = urlsplit(url)
    return is_loopback((parts.hostname or "").lower()) and parts.path == f"/sink/{DEFAULT_SINK}"


def services_of(app: Flask) -> Services:
    """An app's :class:`Services` (``serve`` starts and closes them)."""
    return app.extensions[_EXTENSION]  # type: ignore[no-any-return]


def services() -> Services:
    """The current app's :class:`Services`."""
    return services_of(current_app)


def init_app(app: Flask) -> None:
    """Build the services and start them on the first request (``serve`` starts them earlier)."""
    app.extensions[_EXTENSION] = Services(app.config)

    @app.before_request
    def _start_on_first_request() -> None:
        svc: Services = app.extensions[_EXTENSION]
        if not svc.started:
            svc.start(svc.public_url or request.host_url)
