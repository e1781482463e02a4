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
worker and user index), generated ahead in a child process (:mod:`~emulator.load.batches`)
that hands over batches of signed bodies, so the request loop only pops a body and sends
it. Answers are tallied per process
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
from locust import FastHttpUser, events, task
from locust.exception import StopUser

from ..defaults import DEFAULT_TIMEOUT, PROFILES, VERBS
from ..delivery.sender import JSON_CONTENT_TYPE, user_agent
from ..delivery.signing import SIGNATURE_FORMATS, SIGNATURE_HEADER
from ..errors import UsageError
from .batches import GeneratorProcess, WireShot, feed_options
from .tally import Tally, status_class

#: Events a user asks its generator for at a time; it asks again when fewer are left.
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


class Shards:
    """This process's generator child (:mod:`.batches`) and the batches it has sent, by shard.

    One reader greenlet files each batch under its (worker, user) and wakes whoever waits
    for it; a user asks for its next batch when fewer than :data:`AHEAD` events are left,
    so the child generates while the user sends.
    """

    def __init__(self) -> None:
        self.child = GeneratorProcess()
        self.child.wait_ready()
        self.queues: dict[tuple[int, int], deque[WireShot]] = {}
        self.asked: set[tuple[int, int]] = set()
        self.exhausted: set[tuple[int, int]] = set()
        self.arrived = Event()
        self.reader = gevent.spawn(self._read)

    def configure(self, options: Any) -> None:
        """The run's ``--zenoti-*`` options, once: a worker has them from its master only
        when its users start, long after its child has loaded schemas and Faker."""
        if not self.child.configured:
            self.child.configure(generator_options(options))

    def ask(self, worker: int, user: int, count: int = AHEAD) -> None:
        shard = (worker, user)
        if shard not in self.asked and shard not in self.exhausted:
            self.asked.add(shard)
            self.child.ask(worker, user, count)

    def queue(self, worker: int, user: int) -> deque[WireShot]:
        return self.queues.setdefault((worker, user), deque())

    def _read(self) -> None:
        while True:
            try:
                user, worker, shots = self.child.read()
            except (EOFError, OSError, ValueError, UsageError):
                return
            shard = (worker, user)
            self.asked.discard(shard)
            if len(shots) < AHEAD:
                self.exhausted.add(shard)
            self.queue(worker, user).extend(shots)
            self.arrived.set()
            self.arrived = Event()

    def close(self) -> None:
        self.reader.kill(block=False)
        self.child.close()


_shards: list[Shards] = []


def shards() -> Shards:
    """This process's :class:`Shards`, its generator child started on first use."""
    if not _shards:
        _shards.append(Shards())
    return _shards[0]


def _is_worker(options: Any) -> bool:
    """A worker sends its share of --rate and --drain (the master's expect_workers reach it)."""
    return bool(getattr(options, "worker", False))


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_: Any) -> None:
    group = parser.add_argument_group("Zenoti webhooks (emulator.load)")
    group.add_argument(
        "--zenoti-secret",
        default=None,
        env_var="ZENOTI_EMULATOR_SECRET",
        help="Sign each body with this secret (zenoti-webhook-signature). Unsigned when omitted.",
    )
    group.add_argument("--zenoti-signature-format", choices=SIGNATURE_FORMATS, default="dashed")
    group.add_argument("--zenoti-verb", choices=VERBS, default="POST", help="HTTP verb, as chosen in Zenoti's setup.")
    group.add_argument(
        "--zenoti-event-type",
        action="append",
        default=None,
        help="Only this event type (repeatable). The business's own mix when omitted.",
    )
    group.add_argument("--zenoti-profile", choices=PROFILES, default="realistic")
    group.add_argument("--zenoti-seed", type=int, default=None, help="Seed of the run: the same seed, the same shards.")
    group.add_argument(
        "--zenoti-variant", action="append", default=None, help="NAME=VALUE, as generate takes it (repeatable)."
    )
    group.add_argument(
        "--zenoti-rate", type=float, default=None, help="At most this many events per second, all users together."
    )
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
        # The generator child loads the schemas and Faker (a second or two): under plain
        # `locust` that would fall inside the first user, while the run's clock runs.
        shards()
        STATE.warm = True
        gevent.get_hub().loop.update_now()  # the loop's clock stood still meanwhile: timers start from now
    if runner is None or type(runner).__name__ != "WorkerRunner":
        return

    def stop_and_report(environment: Any, msg: Any, **_: Any) -> None:
        runner.stop()
        runner.send_message(TALLY_MESSAGE, STATE.tally.to_dict())
        STATE.tally.clear()

    runner.register_message(STOP_MESSAGE, stop_and_report, concurrent=True)


def generator_options(options: Any) -> dict[str, Any]:
    """What every shard's feed is built with, as the ``--zenoti-*`` options ask."""
    seed = getattr(options, "zenoti_seed", None)
    return feed_options(
        int(seed) if seed is not None else _RANDOM_SEED,
        secret=getattr(options, "zenoti_secret", None),
        signature_format=getattr(options, "zenoti_signature_format", "dashed") or "dashed",
        verb=str(getattr(options, "zenoti_verb", "POST") or "POST").upper(),
        types=getattr(options, "zenoti_event_type", None) or None,
        profile=getattr(options, "zenoti_profile", "realistic") or "realistic",
        variants=variants_from(options),
    )


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

    def wait_time(self) -> float:
        return STATE.wait()

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.worker = getattr(self.environment.runner, "worker_index", 0) or 0
        self.index = next(STATE.user_index)
        self.verb = str(getattr(options, "zenoti_verb", "POST") or "POST").upper()
        self.shards = shards()
        self.shards.configure(options)
        self.ahead = self.shards.queue(self.worker, self.index)
        self.base_headers = {"Content-Type": JSON_CONTENT_TYPE, "User-Agent": user_agent()}
        # the first batch (the shard's world is built for it: ~0.1 s in the child)
        self.shards.ask(self.worker, self.index)
        while not self.ahead and (self.worker, self.index) not in self.shards.exhausted:
            self.shards.arrived.wait()
        STATE.ready += 1

    def _next(self) -> WireShot | None:
        """The next event of this user's shard, asking for more while some are left."""
        ahead, shards, shard = self.ahead, self.shards, (self.worker, self.index)
        if len(ahead) < AHEAD:
            shards.ask(*shard)
        while not ahead:
            if shard in shards.exhausted and shard not in shards.asked:
                return None
            shards.arrived.wait()
        return ahead.popleft()

    @task
    def send_event(self) -> None:
        if not STATE.take_ticket():
            raise StopUser()
        shot = self._next()
        if shot is None:  # the world ran out of time (2106): nothing more to send
            raise StopUser()
        event_type, _, body, signature = shot
        headers = self.base_headers if signature is None else {**self.base_headers, SIGNATURE_HEADER: signature}
        started = time.time()
        # Locust types data as str or dict; it sends bytes as they are, which the signature needs
        data: Any = body
        with self.client.request(
            self.verb, "", name=event_type, data=data, headers=headers, catch_response=True, allow_redirects=False
        ) as response:
            status = response.status_code or None
            error = repr(response.error) if getattr(response, "error", None) is not None else None
            klass = status_class(status, error)
            latency_ms = (time.time() - started) * 1000
            STATE.record(event_type, klass, latency_ms, time.time())
            if klass == "2xx":
                response.success()
            else:
                response.failure(f"HTTP {status}" if status else (error or klass))
