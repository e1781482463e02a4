"""Deliver events the way Zenoti does: signed bytes, a timeout, retries with backoff.

:class:`Deliverer` owns a :class:`~emulator.delivery.sender.Sender` (one attempt: the
event's bytes, serialised once and signed afresh each time) and a bounded pool of worker
threads; it schedules each retry by the :class:`~emulator.delivery.retry.RetryPolicy`,
counts failures towards deactivation, and writes everything to a
:class:`~emulator.delivery.store.Store` so that a killed process loses nothing.

Usage::

    with Store(path) as store, Deliverer(store, concurrency=8) as deliverer:
        hook = store.upsert_webhook("http://127.0.0.1:9000/hook", secret="s3cret")
        ids = deliverer.submit_many(events, hook)
        deliverer.wait()            # until every delivery is delivered or failed

The facts it reproduces (``ZENOTI_WEBHOOKS.md``): 10 s per attempt; a 2xx is success and
anything else (another status, a 3xx, which is not followed, a timeout, a refused or
reset connection, a TLS error) is a failed attempt; up to 5 retries with exponential
backoff between 30 s and 10 min, with jitter; the webhook is deactivated after 20
failures in a row.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .. import bounds
from ..bounds import check_time_scale, parse_rate
from ..defaults import DEFAULT_CONCURRENCY
from ..errors import Conflict, NotFound, UsageError, WebhookInactive
from .retry import DeliveryOptions
from .rows import NewDelivery, ScheduledAttempt, Webhook
from .sender import PreparedDelivery, Sender, SendResult, _str_or_none, serialize
from .store import Store

log = logging.getLogger(__name__)
#: First attempts queued in memory before submit_many waits for the workers.
DEFAULT_MAX_QUEUED = 1024
#: The longest a worker waits on its condition at once (a far due time is waited in steps:
#: ``Condition.wait`` refuses a timeout past what the OS can hold).
_MAX_WAIT = 3600.0


@dataclass(order=True)
class _Job:
    due_at: float
    seq: int
    scheduled: ScheduledAttempt = field(compare=False)
    #: body, webhook id and options when known (a fresh submit); loaded otherwise
    payload: tuple[bytes, int | None, DeliveryOptions] | None = field(compare=False, default=None)


#: ``attempt`` hooks receive ``(AttemptRecord, RecordResult)`` after each attempt is
#: logged; ``complete`` hooks receive ``(delivery_id, status)`` once a delivery is
#: final (``delivered`` or ``failed``). Both run on worker threads: keep them short.
Hook = Callable[..., None]
HOOK_NAMES = ("attempt", "complete")


class Deliverer:
    """Sends deliveries on a bounded worker pool, with retries, logging every step.

    Owns one :class:`Sender` (connections are reused) and ``concurrency`` worker
    threads, started on creation. Every delivery goes to the :class:`Store` before it
    is sent, and each retry is written down before it is waited for, so closing or
    killing the process leaves pending work that :meth:`resume_pending` picks up.

    :param store: the delivery log.
    :param options: defaults for :meth:`submit` (timeout, retry policy, time scale...).
    :param concurrency: worker threads, i.e. requests in flight at most.
    :param rate: at most this many requests per second overall; ``None`` for no limit.
    :param rng: draws the jitter; a seeded ``random.Random`` makes it reproducible.
    :param clock: the epoch time (``time.time``); due times are stored in it.
    :param sleep: when given, waits for a due time by calling ``sleep(seconds)`` (a fake
        clock's sleep advances it at once); by default workers wait on a condition, so
        a newly submitted job or :meth:`close` wakes them.
    :param hooks: ``{"attempt": [...], "complete": [...]}`` callables, run on worker
        threads after each attempt is logged (see :data:`HOOK_NAMES`).
    :param max_queued: once this many first attempts are queued, :meth:`submit_many`
        waits until half of them are made, so a generator of a million events is drawn
        as fast as it is sent and memory stays flat.
    """

    def __init__(
        self,
        store: Store,
        *,
        options: DeliveryOptions | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        hooks: Mapping[str, Iterable[Hook]] | None = None,
        max_queued: int = DEFAULT_MAX_QUEUED,
    ) -> None:
        if concurrency < 1:
            raise UsageError(f"Concurrency must be at least 1, not {concurrency}.")
        if rate is not None:
            parse_rate(str(rate))  # finite, at least one an hour: the wait must fit a clock
        self.store = store
        self.options = options or DeliveryOptions()
        self.concurrency = concurrency
        self.max_queued = max(1, max_queued)
        self._rng = rng or random.Random()
        self._clock = clock
        self._sleep = sleep
        self._interval = 1.0 / rate if rate else 0.0
        self._next_slot = 0.0
        self._rate_lock = threading.Lock()
        self.hooks: dict[str, list[Hook]] = {name: [] for name in HOOK_NAMES}
        for name, fns in (hooks or {}).items():
            if name not in self.hooks:
                raise ValueError(f"Unknown hook {name!r}; known: {', '.join(HOOK_NAMES)}")
            self.hooks[name].extend(fns)

        self.sender = Sender(pool_size=concurrency, clock=clock)

        # One lock, three conditions: workers wait for jobs (_cond, woken one at a time
        # per job), wait() for the work to end (_idle), submitters for room (_space).
        # Waking everyone on every completion costs a third of the throughput.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._space = threading.Condition(self._lock)
        self._heap: list[_Job] = []
        self._known: set[int] = set()  # scheduled-attempt ids queued or running here
        self._seq = itertools.count()
        self._running = 0
        self._unattempted = 0  # first attempts and replays not yet made
        self._closing = False
        self._rescale: float | None = None  # resume_pending(time_scale=...)
        self._stop_following = threading.Event()
        self._followers: list[threading.Thread] = []
        self._threads = [
            threading.Thread(target=self._worker, name=f"zenoti-deliverer-{i}", daemon=True) for i in range(concurrency)
        ]
        for t in self._threads:
            t.start()

    # -- public API --------------------------------------------------------------------

    def submit(
        self, event: Mapping[str, Any] | bytes, webhook: Webhook, *, options: DeliveryOptions | None = None
    ) -> int:
        """Log ``event`` for ``webhook`` and queue its first attempt.

        :param event: the envelope as a dict, or its exact JSON bytes.
        :param webhook: where it goes (from :meth:`Store.create_webhook` and friends).
        :param options: overrides the deliverer's :class:`DeliveryOptions`.
        :return: the delivery id.
        :raise WebhookInactive: when the webhook is deactivated.
        """
        return self.submit_many([event], webhook, options=options)[0]

    def submit_many(
        self,
        events: Iterable[Mapping[str, Any] | bytes],
        webhook: Webhook,
        *,
        options: DeliveryOptions | None = None,
        batch: int = 64,
    ) -> list[int]:
        """:meth:`submit` for many events, logged ``batch`` at a time (workers start at once).

        :raise WebhookInactive: when the webhook is deactivated (before anything is logged),
            or becomes deactivated while events are being submitted; those submitted
            before stay queued.
        """
        if self._closing:
            raise RuntimeError("This Deliverer is closed; open a new one to submit.")
        opts = options or self.options
        stored = opts.to_dict()
        ids: list[int] = []
        chunk: list[NewDelivery] = []
        self.store.require_active(webhook)
        try:
            for event in events:
                chunk.append(_new_delivery(event, webhook, stored))
                if len(chunk) >= batch:
                    ids += self._enqueue(chunk, webhook, opts)
                    chunk = []
            if chunk:
                ids += self._enqueue(chunk, webhook, opts)
        except WebhookInactive as exc:
            exc.submitted = ids
            raise
        return ids

    def submit_all(
        self,
        events: Iterable[Mapping[str, Any] | bytes],
        webhooks: Iterable[Webhook],
        *,
        options: DeliveryOptions | None = None,
    ) -> list[int]:
        """Every event to every webhook, all or nothing: logged in one transaction, then sent.

        For a bounded batch (an API request): a crash before the commit leaves none of
        them in the log, after it leaves all of them, to be sent or resumed; none is sent
        before all are logged. Ids come webhook by webhook, events in order.

        :raise WebhookInactive: when a webhook is deactivated (nothing is logged).
        """
        if self._closing:
            raise RuntimeError("This Deliverer is closed; open a new one to submit.")
        opts = options or self.options
        stored = opts.to_dict()
        events = list(events)
        hooks = [self.store.require_active(hook) for hook in webhooks]
        items = [_new_delivery(event, hook, stored) for hook in hooks for event in events]
        scheduled = self.store.create_deliveries(items, time_scale=opts.time_scale) if items else []
        for item, sched in zip(items, scheduled, strict=True):  # one scheduled attempt per item
            self._push(sched, (item.body, item.webhook.id, opts))
        return [sched.delivery_id for sched in scheduled]

    def _wait_for_room(self) -> None:
        """Backpressure: once ``max_queued`` first attempts wait, wait until half are made."""
        with self._lock:
            if self._unattempted >= self.max_queued:
                while self._unattempted > self.max_queued // 2 and not self._closing:
                    self._space.wait()

    def _enqueue(self, chunk: list[NewDelivery], webhook: Webhook, opts: DeliveryOptions) -> list[int]:
        self._wait_for_room()
        # Checked per batch: the webhook may be deactivated by failures while we submit.
        self.store.require_active(webhook)
        scheduled = self.store.create_deliveries(chunk, time_scale=opts.time_scale)
        for item, sched in zip(chunk, scheduled, strict=True):
            self._push(sched, (item.body, webhook.id, opts))
        return [sched.delivery_id for sched in scheduled]

    def resume_pending(self, *, time_scale: float | None = None) -> list[int]:
        """Queue every attempt the log has scheduled but not made, each at its due time.

        Call it at start-up (``resume``, ``serve``): retries of a process that was
        killed resume on their original schedule; ones already overdue go at once.
        Attempts already queued here are left as they are, so calling it again picks up
        only what another process scheduled since (see :meth:`follow_log`).

        :param time_scale: run the resumed deliveries at this scale instead of the one
            they were scheduled with: a waiting retry is due at its scheduled time plus
            its unscaled delay divided by it (never later than it was), and their later
            retries wait accordingly. ``None`` keeps the log's schedule.
        :return: the ids of the deliveries resumed.
        """
        if time_scale is not None:
            check_time_scale(time_scale, what="Time scale")
            self._rescale = time_scale
        out = []
        for sched in self.store.pending_schedule():
            if time_scale is not None:
                sched = replace(sched, due_at=min(sched.due_at, sched.scheduled_at + sched.delay_s / time_scale))
            if self._push(sched, None):
                out.append(sched.delivery_id)
        return out

    def queue(self, scheduled: ScheduledAttempt) -> None:
        """Queue an attempt the log already holds (written by another part of the store,
        such as :meth:`Store.record_capture`), to be made at its due time."""
        if self._closing:
            raise RuntimeError("This Deliverer is closed; open a new one to queue.")
        self._push(scheduled, None)

    def follow_log(self, interval_s: float) -> None:
        """Pick up, every ``interval_s`` seconds, attempts other processes scheduled.

        A long-running process (``serve``) shares the log with short ones (``fire
        --no-wait``, a ``fire`` stopped by Ctrl-C): their retries come due while it
        runs, and nothing else would send them. Claims keep an attempt from going out
        twice. Stops with :meth:`close`.
        """

        def loop() -> None:
            while not self._stop_following.wait(interval_s):
                try:
                    self.resume_pending()
                except Exception:  # a busy or closing log: try again at the next tick
                    log.exception("Could not read the log's pending attempts")

        follower = threading.Thread(target=loop, name="zenoti-follow-log", daemon=True)
        self._followers.append(follower)
        follower.start()

    def replay(self, delivery_id: int) -> int:
        """Send a finished delivery again, as one new attempt of the same event.

        The body is the same bytes (same ``id``), signed with the webhook's current
        secret. A replay is a single attempt: it does not start a new series of retries.

        :return: the delivery id.
        :raise NotFound: no such delivery. :raise UsageError: it is still pending.
        :raise WebhookInactive: its webhook is deactivated.
        """
        _, webhook_id, _ = self.store.delivery_payload(delivery_id)
        if webhook_id is None:
            raise Conflict(f"Delivery {delivery_id} has no webhook any more (it was deleted); nothing to replay to.")
        self.store.require_active(self.store.get_webhook(webhook_id))
        sched = self.store.schedule_replay(delivery_id)
        self._push(sched, None)
        return delivery_id

    def replay_many(self, delivery_ids: Iterable[int]) -> list[int]:
        """:meth:`replay` for many, with :meth:`submit_many`'s backpressure: at most
        ``max_queued`` wait in memory, so failures that deactivate a webhook stop the
        run after a bounded number of replays instead of after all were queued.

        :raise WebhookInactive: a webhook is (or became) deactivated; ``submitted``
            holds the ids replayed before, which still run.
        """
        replayed: list[int] = []
        try:
            for delivery_id in delivery_ids:
                self._wait_for_room()
                replayed.append(self.replay(delivery_id))
        except WebhookInactive as exc:
            exc.submitted = replayed
            raise
        return replayed

    def ping(self, url: str, *, timeout: float | None = None) -> SendResult:
        """Zenoti's trigger test: an empty POST with no body and no signature; not logged."""
        return self.send(PreparedDelivery.ping(url), timeout=timeout or self.options.timeout)

    def send(self, prepared: PreparedDelivery, *, timeout: float) -> SendResult:
        """One request on this deliverer's connections (see :meth:`Sender.send`)."""
        return self.sender.send(prepared, timeout=timeout)

    def wait(self, timeout: float | None = None, *, settle: bool = True) -> bool:
        """Block until the queued work is done.

        :param settle: ``True`` waits until every delivery is delivered or failed (all
            retries run); ``False`` only until every first attempt (and replay) was made,
            leaving later retries scheduled.
        :param timeout: real seconds; ``None`` waits as long as it takes.
        :return: ``False`` if ``timeout`` ran out first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                done = (
                    (not self._heap and self._running == 0)
                    if settle
                    else (self._unattempted == 0 and self._running == 0)
                )
                if done:
                    return True
                if deadline is None:
                    self._idle.wait()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._idle.wait(left)

    def close(self) -> None:
        """Stop the workers once their in-flight attempts are logged; close the session.

        Attempts not yet made stay scheduled in the log for :meth:`resume_pending`.
        Call :meth:`wait` first to finish them here.
        """
        self._stop_following.set()
        for follower in self._followers:
            follower.join()
        with self._lock:
            self._closing = True
            for cond in (self._cond, self._idle, self._space):
                cond.notify_all()
        for t in self._threads:
            t.join()
        self.sender.close()

    def __enter__(self) -> Deliverer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the worker loop -------------------------------------------------------------

    def _push(self, sched: ScheduledAttempt, payload: tuple[bytes, int | None, DeliveryOptions] | None) -> bool:
        with self._cond:
            if sched.id in self._known:
                return False
            self._known.add(sched.id)
            if sched.kind != "retry":
                self._unattempted += 1
            heapq.heappush(self._heap, _Job(sched.due_at, next(self._seq), sched, payload))
            self._cond.notify()
            return True

    def _take(self) -> _Job | None:
        """The next due job, waiting for it; ``None`` once closing."""
        while True:
            with self._cond:
                while True:
                    if self._closing:
                        return None
                    if not self._heap:
                        self._cond.wait()
                        continue
                    job = self._heap[0]
                    left = job.due_at - self._clock()
                    if left <= 0:
                        heapq.heappop(self._heap)
                        self._running += 1
                        return job
                    if self._sleep is None:
                        self._cond.wait(min(left, _MAX_WAIT))
                        continue
                    break
            # An injected sleep (a fake clock) runs outside the lock, then we look again.
            self._sleep(left)

    def _worker(self) -> None:
        while True:
            job = self._take()
            if job is None:
                return
            try:
                self._run(job)
            except Exception:  # a bug or a broken log: keep the worker, keep the row pending
                log.exception(
                    "Attempt %s of delivery %s could not be made", job.scheduled.number, job.scheduled.delivery_id
                )
            finally:
                with self._lock:
                    self._running -= 1
                    self._known.discard(job.scheduled.id)
                    if job.scheduled.kind != "retry":
                        self._unattempted -= 1
                        if self._unattempted == self.max_queued // 2:
                            self._space.notify_all()
                    self._idle.notify_all()

    def _throttle(self) -> None:
        if not self._interval:
            return
        with self._rate_lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        wait = slot - time.monotonic()
        if wait > 0:
            (self._sleep or time.sleep)(wait)

    def _run(self, job: _Job) -> None:
        sched = job.scheduled
        if not self.store.claim(sched.id):
            log.debug("Attempt %s of delivery %s is not pending any more", sched.number, sched.delivery_id)
            return
        try:
            self._attempt(job)
        except BaseException:
            self.store.release(sched.id)
            raise

    def _attempt(self, job: _Job) -> None:
        sched = job.scheduled
        if job.payload is not None:
            body, webhook_id, opts = job.payload
        else:
            body, webhook_id, stored = self.store.delivery_payload(sched.delivery_id)
            opts = DeliveryOptions.from_dict(stored) if stored else self.options
            if self._rescale is not None:
                opts = replace(opts, time_scale=self._rescale)
        try:
            webhook = self.store.get_webhook(webhook_id) if webhook_id is not None else None
        except NotFound:
            webhook = None
        if webhook is None:
            self.store.fail_pending(sched.delivery_id, "webhook deleted")
            self._complete(sched.delivery_id, "failed")
            return
        if not webhook.active:
            self.store.fail_pending(
                sched.delivery_id, f"webhook deactivated after {webhook.consecutive_failures} failures in a row"
            )
            self._complete(sched.delivery_id, "failed")
            return
        prepared = PreparedDelivery.for_event(
            body, webhook, content_type=opts.content_type, signature_format=opts.signature_format, headers=opts.headers
        )
        self._throttle()
        result = self.send(prepared, timeout=opts.timeout)
        retry_delay: float | None = None
        if not result.ok and sched.kind != "replay" and sched.number < opts.policy.max_attempts:
            retry_delay = opts.policy.delay(sched.number, self._rng)
        record = result.record(delivery_id=sched.delivery_id, scheduled_id=sched.id, number=sched.number)
        outcome = self.store.record_attempt(
            record,
            retry_delay_s=retry_delay,
            time_scale=opts.time_scale,
            failure_unit=opts.failure_unit,  # type: ignore[arg-type]
            deactivate_after=opts.deactivate_after,
            webhook_id=webhook.id,
        )
        if outcome.deactivated:
            log.warning(
                "Webhook %s (%s) deactivated after %s failures in a row",
                webhook.id,
                webhook.shown_url,
                opts.deactivate_after,
            )
        log.debug("Delivery %s attempt %s: %s", sched.delivery_id, sched.number, result.describe())
        if outcome.next is not None:
            self._push(outcome.next, job.payload)
        if outcome.deactivated:
            self._end_waiting(webhook.id)
        self._call("attempt", record, outcome)
        if outcome.status != "pending":
            self._complete(sched.delivery_id, outcome.status)

    def _end_waiting(self, webhook_id: int) -> None:
        """A deactivated webhook's waiting retries will never be sent: make them due now.

        Each is then taken at once, finds the webhook inactive and ends failed, so a run
        that waits for its deliveries to settle stops waiting (instead of sitting until
        the last retry's time only to cancel it).
        """
        page, _ = self.store.list_deliveries(status="pending", webhook_id=webhook_id, limit=None)
        ids = {d.id for d in page}
        now = self._clock()
        with self._cond:
            for job in self._heap:
                if job.scheduled.delivery_id in ids and job.due_at > now:
                    job.due_at = now
            heapq.heapify(self._heap)
            self._cond.notify_all()

    def _complete(self, delivery_id: int, status: str) -> None:
        self._call("complete", delivery_id, status)

    def _call(self, name: str, *args: Any) -> None:
        for fn in self.hooks[name]:
            try:
                fn(*args)
            except Exception:
                log.exception("%s hook %r failed", name, fn)


def _new_delivery(event: Mapping[str, Any] | bytes, webhook: Webhook, options: Mapping[str, Any]) -> NewDelivery:
    body = event if isinstance(event, bytes) else serialize(event)
    meta = event if isinstance(event, Mapping) else _meta(body)
    return NewDelivery(
        body=body,
        event_type=_str_or_none(meta.get("event_type")),
        call_id=_str_or_none(meta.get("id")),
        event_id=_str_or_none(meta.get("event_id")),
        webhook=webhook,
        options=options,
    )


def _meta(body: bytes) -> Mapping[str, Any]:
    try:
        parsed = bounds.loads_json(body)
    except ValueError:  # not JSON, or too deep to be an event (TooDeep): sent as it is
        return {}
    return parsed if isinstance(parsed, dict) else {}
