"""The Locust user that sends Zenoti's webhooks: :class:`ZenotiWebhookUser`.

Importing this module imports Locust (which monkey-patches the process with gevent) and
registers the user's options with Locust's command line, so a team's own locustfile needs
one line::

    # locustfile.py
    from emulator.load.user import ZenotiWebhookUser  # noqa: F401

and plain ``locust -f locustfile.py --host http://127.0.0.1:9000/hook --zenoti-secret s3cret``
runs it, on one machine or as ``--master`` and ``--worker``s (the ``--zenoti-*`` options
travel from the master to its workers). The host is the receiver's whole URL.

Each user sends from its own shard of the world (:class:`~emulator.load.feed.Feed`, by
worker and user index); a background greenlet generates ahead of the sends, so the
request loop only pops a signed body and sends it. Answers are tallied per process
(:class:`~emulator.load.tally.Tally`) and, on a worker, sent to the master with Locust's
own worker reports.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import deque
from typing import Any

import gevent
from gevent.event import Event
from gevent.threadpool import ThreadPool
from locust import FastHttpUser, events, task
from locust.exception import StopUser

from ..defaults import DEFAULT_TIMEOUT, PROFILES, VERBS
from ..delivery.signing import SIGNATURE_FORMATS
from .feed import Feed, Shot
from .tally import Tally, status_class

#: Events each user keeps generated ahead of its sends.
AHEAD = 64
#: The custom messages of a run's end: the master asks each worker to stop its users (each
#: finishing the request it has in flight), and each answers with the rest of its tally.
#: Locust's own "stop" would leave a worker deaf for its stop timeout, and "quit" gives the
#: workers' last reports half a second.
STOP_MESSAGE = "zenoti_stop"
TALLY_MESSAGE = "zenoti_tally"


class ProcessState:
    """What the users of one process share: the tally, the pace, the drain's tickets."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.user_index = itertools.count()
        #: events per second this process sends at most; None: as fast as answers come
        self.rate: float | None = None
        self._next_slot = 0.0
        #: events this process may still send (``--drain``); None: no limit
        self.tickets: int | None = None
        #: feeds built before the run started, by user index (one machine: see run.run)
        self.prebuilt: dict[int, Feed] = {}
        #: users whose shard is built and whose first events are generated
        self.ready = 0
        #: the schemas and Faker are loaded (a first event was made in this process)
        self.warm = False
        #: a second tally of the current --find-limit step, when one is measured
        self.window: Tally | None = None

    def record(self, event_type: str, klass: str, latency_ms: float, at: float) -> None:
        self.tally.add(event_type, klass, latency_ms, at)
        if self.window is not None:
            self.window.add(event_type, klass, latency_ms, at)

    def configure(self, options: Any, worker_index: int) -> None:
        workers = max(1, int(getattr(options, "expect_workers", 1) or 1)) if _is_worker(options) else 1
        rate = getattr(options, "zenoti_rate", None)
        self.set_rate(float(rate) / workers if rate else None)
        drain = int(getattr(options, "zenoti_drain", None) or 0)
        self.tickets = drain // workers + (1 if worker_index < drain % workers else 0) if drain else None

    def set_rate(self, rate: float | None) -> None:
        self.rate = rate
        self._next_slot = time.monotonic()

    def wait(self) -> float:
        """Seconds until this user may send: the next free slot of the process's pace."""
        if not self.rate:
            return 0.0
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1.0 / self.rate
        return slot - now

    def take_ticket(self) -> bool:
        if self.tickets is None:
            return True
        if self.tickets <= 0:
            return False
        self.tickets -= 1
        return True


STATE = ProcessState()
#: The run's seed under plain ``locust`` without --zenoti-seed: random, so a second run does
#: not send the first run's ids again (workers differ by their index in every id anyway).
_RANDOM_SEED = secrets.randbits(63)
#: Builds users' worlds off the event loop: a world takes ~0.1 s of CPU, and a worker whose
#: loop is blocked for seconds by a burst of new users misses its master's heartbeats and
#: starves the users already sending. One thread: the builds queue, the sends go on.
_builder: list[ThreadPool] = []


def build_feed(options: Any, worker: int, user: int) -> Feed:
    """:func:`feed_for` in the builder thread, the calling greenlet waiting for it."""
    if not _builder:
        _builder.append(ThreadPool(1))
    return _builder[0].apply(feed_for, (options, worker, user))


def _is_worker(options: Any) -> bool:
    """A worker sends its share of --rate and --drain (the master's expect_workers reach it)."""
    return bool(getattr(options, "worker", False))


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_: Any) -> None:
    group = parser.add_argument_group("Zenoti webhooks (emulator.load)")
    group.add_argument("--zenoti-secret", default=None, env_var="ZENOTI_EMULATOR_SECRET",
                       help="Sign each body with this secret (zenoti-webhook-signature). Unsigned when omitted.")
    group.add_argument("--zenoti-signature-format", choices=SIGNATURE_FORMATS, default="dashed")
    group.add_argument("--zenoti-verb", choices=VERBS, default="POST", help="HTTP verb, as chosen in Zenoti's setup.")
    group.add_argument("--zenoti-event-type", action="append", default=None,
                       help="Only this event type (repeatable). The business's own mix when omitted.")
    group.add_argument("--zenoti-profile", choices=PROFILES, default="realistic")
    group.add_argument("--zenoti-seed", type=int, default=None, help="Seed of the run: the same seed, the same shards.")
    group.add_argument("--zenoti-variant", action="append", default=None, help="NAME=VALUE, as generate takes it (repeatable).")
    group.add_argument("--zenoti-rate", type=float, default=None, help="At most this many events per second, all users together.")
    group.add_argument("--zenoti-drain", type=int, default=None, help="Send this many events in all, then stop.")


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    runner = environment.runner
    STATE.tally.clear()
    STATE.user_index = itertools.count()
    STATE.ready = 0
    STATE.configure(environment.parsed_options, getattr(runner, "worker_index", 0))


@events.report_to_master.add_listener
def _on_report_to_master(client_id: str, data: dict[str, Any], **_: Any) -> None:
    data["zenoti"] = STATE.tally.to_dict()
    STATE.tally.clear()


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if runner is not None and type(runner).__name__ != "MasterRunner" and not STATE.warm:
        # Loading the schemas and Faker takes a second or two: under plain `locust` it would
        # fall inside the first user, while the run's clock runs.
        feed_for(environment.parsed_options, 0, 0).next()
        STATE.warm = True
        gevent.get_hub().loop.update_now()  # the loop's clock stood still meanwhile: timers start from now
    if runner is None or type(runner).__name__ != "WorkerRunner":
        return

    def stop_and_report(environment: Any, msg: Any, **_: Any) -> None:
        runner.stop()
        runner.send_message(TALLY_MESSAGE, STATE.tally.to_dict())
        STATE.tally.clear()

    runner.register_message(STOP_MESSAGE, stop_and_report, concurrent=True)


def feed_for(options: Any, worker: int, user: int) -> Feed:
    """The feed of user ``user`` on worker ``worker``, as the ``--zenoti-*`` options ask."""
    seed = getattr(options, "zenoti_seed", None)
    return Feed(int(seed) if seed is not None else _RANDOM_SEED, worker, user,
                secret=getattr(options, "zenoti_secret", None),
                signature_format=getattr(options, "zenoti_signature_format", "dashed") or "dashed",
                verb=str(getattr(options, "zenoti_verb", "POST") or "POST").upper(),
                types=getattr(options, "zenoti_event_type", None) or None,
                profile=getattr(options, "zenoti_profile", "realistic") or "realistic",
                variants=variants_from(options))


def variants_from(options: Any) -> dict[str, str]:
    """``--zenoti-variant NAME=VALUE`` pairs as a dict (what the event stream takes)."""
    pairs: dict[str, str] = {}
    for text in getattr(options, "zenoti_variant", None) or ():
        name, _, value = str(text).partition("=")
        pairs[name.strip()] = value.strip()
    return pairs


class ZenotiWebhookUser(FastHttpUser):
    """One Zenoti organization's webhook, sending events of its own shard of the world.

    The host is the receiver's URL (path included). Every event is signed and sent with
    Zenoti's verb and headers, within Zenoti's 10 s; redirects are not followed (a 3xx is a
    failed delivery, as at Zenoti). In Locust's statistics each event type is a row.
    """

    network_timeout = DEFAULT_TIMEOUT
    connection_timeout = DEFAULT_TIMEOUT
    max_retries = 0

    def wait_time(self) -> float:  # type: ignore[override]
        return STATE.wait()

    def on_start(self) -> None:
        options = self.environment.parsed_options
        worker = getattr(self.environment.runner, "worker_index", 0) or 0
        self.index = next(STATE.user_index)
        self.verb = str(getattr(options, "zenoti_verb", "POST") or "POST").upper()
        # a world takes ~0.1 s of CPU to build: one machine builds them before the clock starts
        prebuilt = STATE.prebuilt.pop(self.index, None) if worker == 0 else None
        self.feed = prebuilt or build_feed(options, worker, self.index)
        self.ahead: deque[Shot] = deque()
        self.hungry = Event()
        self.exhausted = False
        self._fill(AHEAD // 4)
        self.filler = gevent.spawn(self._generate_ahead)
        STATE.ready += 1

    def on_stop(self) -> None:
        filler = getattr(self, "filler", None)
        if filler is not None:
            filler.kill(block=False)

    def _fill(self, count: int) -> None:
        try:
            for _ in range(count):
                self.ahead.append(self.feed.next())
        except StopIteration:  # the world ran out of time (2106): nothing more to send
            self.exhausted = True

    def _generate_ahead(self) -> None:
        """Keeps :data:`AHEAD` events ready, a few at a time, in the gaps the sends leave."""
        while not self.exhausted:
            while len(self.ahead) < AHEAD and not self.exhausted:
                self._fill(4)
                gevent.sleep(0)
            self.hungry.clear()
            self.hungry.wait()

    @task
    def send_event(self) -> None:
        if not STATE.take_ticket():
            raise StopUser()
        if not self.ahead:
            self._fill(1)
            if not self.ahead:
                raise StopUser()
        shot = self.ahead.popleft()
        if len(self.ahead) < AHEAD // 2:
            self.hungry.set()
        started = time.time()
        with self.client.request(self.verb, "", name=shot.event_type, data=shot.body, headers=shot.headers,
                                 catch_response=True, allow_redirects=False) as response:
            status = response.status_code or None
            error = repr(response.error) if getattr(response, "error", None) is not None else None
            klass = status_class(status, error)
            latency_ms = (time.time() - started) * 1000
            STATE.record(shot.event_type, klass, latency_ms, time.time())
            if klass == "2xx":
                response.success()
            else:
                response.failure(f"HTTP {status}" if status else (error or klass))
