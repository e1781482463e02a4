"""The pytest plugin: an emulator per test, and the ``check`` suite as test items.

Installed with the package (the ``pytest11`` entry point ``zenoti_emulator``) and
inactive until used: pytest imports this module at start-up, so it imports nothing of
the emulator until a test asks for the fixture or ``--zenoti-receiver`` is given.

- The ``zenoti_emulator`` fixture gives a test an emulator of its own, with its own
  delivery log in the test's temporary directory (:class:`ZenotiEmulator`). The tests of
  a session share one built world per seed, start and profile (:class:`EmulatorSession`),
  so a test that makes an event or plays a scenario costs about a millisecond, not the
  tenth of a second a world takes to build.
- ``pytest --zenoti-receiver URL [--zenoti-secret S] [--zenoti-verb V]`` adds one test
  item per check and event type of ``zenoti-emulator check``, so a receiver's CI gets the
  conformance run with pytest's own ``-k``, ``-x`` and ``--junitxml``. When the receiver's
  suite defines the fixtures ``zenoti_applied`` (event id -> times applied) and
  ``zenoti_group_status`` (group id -> status code or None), ``duplicates`` and
  ``out-of-order`` judge what the receiver did, not only what it answered.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from datetime import datetime

    from .check.results import CheckResult
    from .check.run import CheckRun
    from .delivery.deliverer import Deliverer
    from .delivery.rows import Delivery
    from .delivery.sender import SendResult
    from .delivery.store import Store
    from .events.generate import EventStream
    from .events.registry import EventType

SUITE_NAME = "zenoti-check"


# -- the fixture ------------------------------------------------------------------------


class EmulatorSession:
    """What the tests of one session share: a seed, a start, and what they make.

    Each world (seed, start, profile) is built once in the process and each test plays on
    its own copy (:func:`emulator.world.snapshot.built_world`). Events of a type are
    projected once, from a stream of the session's own, and each test gets deep copies,
    overridden and checked on its side: a test changes nothing another test sees.

    :param seed: the world of every test that passes no ``seed`` (random when None: each
        session has its own; :attr:`seed` says which, to replay it).
    :param start: when that world's clock starts (the real clock when None).
    """

    def __init__(self, seed: int | None = None, start: datetime | None = None) -> None:
        import secrets
        from datetime import datetime

        self.seed = secrets.randbits(63) if seed is None else seed
        self.start = start or datetime.now(UTC)
        self._streams: dict[tuple[Any, ...], tuple[EventStream, Any, list[dict[str, Any]]]] = {}
        #: how many events of each (type, now, profile) the session's tests have taken
        self._taken: dict[tuple[Any, ...], int] = {}
        self._lock = threading.Lock()

    def claim(self, key: tuple[Any, ...], count: int) -> int:
        """Where the next ``count`` events of ``key`` start in the session's stream.

        Tests without a seed take the session's events in turn, so no two tests (and no two
        calls) get the same event: a receiver that keeps one database for the whole session
        never sees a test's event as a duplicate of another test's."""
        with self._lock:
            first = self._taken.get(key, 0)
            self._taken[key] = first + count
            return first

    def events(
        self,
        event_type: str,
        seed: int,
        now: datetime,
        profile: str,
        first: int,
        count: int,
        *,
        variants: Any = None,
        fresh: bool = False,
    ) -> tuple[EventStream, EventType, list[dict[str, Any]]]:
        """Copies of events ``first`` .. ``first + count`` of ``event_type`` in that world
        (projected, neither overridden nor checked), with the stream and type to finish them."""
        from .events.generate import EventStream
        from .events.registry import default_registry

        kind = default_registry().get_type(event_type)
        key = (kind.name, seed, now, profile, variants, fresh)
        with self._lock:
            found = self._streams.get(key)
            if found is None:
                stream = EventStream(
                    seed=seed,
                    now=now,
                    profile=profile,
                    types=[kind.name],
                    validate=False,
                    variants=variants,
                    fresh=fresh,
                )
                found = self._streams[key] = (stream, iter(stream), [])
            stream, made, events = found
            while len(events) < first + count:
                event = next(made, None)
                if event is None:
                    break
                events.append(event)
            return stream, kind, copy.deepcopy(events[first : first + count])


class ZenotiEmulator:
    """An emulator of one test's own: generate events, fire them, wait for retries.

    Every delivery goes through the real :class:`~emulator.delivery.deliverer.Deliverer` into a
    delivery log of its own, so what a test reads back (statuses, attempts, response
    bodies) is what ``zenoti-emulator deliveries`` would show.

    Events with no ``seed`` come from the session's world (:class:`EmulatorSession`):
    each call continues where the session's last call of that type stopped, so no two
    tests get the same event. A ``seed`` (with ``now``) gives the same events at every call.

    :param directory: where the log lives (the test's ``tmp_path``); created on first use.
    :param time_scale: divides every wait between retries; 600 (the default) plays
        Zenoti's 30 s .. 10 min schedule in about 2 s.
    :param session: what this emulator shares with others (a session of its own when None).
    """

    def __init__(self, directory: Path, *, time_scale: float = 600.0, session: EmulatorSession | None = None) -> None:
        self.db_path = Path(directory) / "deliveries.sqlite3"
        self.time_scale = time_scale
        self.session = session or EmulatorSession()
        self._store: Store | None = None
        self._deliverer: Deliverer | None = None
        self._ids: list[int] = []
        self._servers: list[Any] = []
        self._ledger: Any = None
        self._api_state: Any = None
        self._api_url: str | None = None

    @property
    def seed(self) -> int:
        """The seed of the world events come from when a call passes none."""
        return self.session.seed

    @property
    def store(self) -> Store:
        """The delivery log, opened on first use (a test that only generates opens none)."""
        if self._store is None:
            from .delivery.store import Store

            self._store = Store(self.db_path)
        return self._store

    @property
    def deliverer(self) -> Deliverer:
        if self._deliverer is None:
            from .delivery.deliverer import Deliverer

            self._deliverer = Deliverer(self.store)
        return self._deliverer

    def generate(
        self,
        event_type: str = "AppointmentGroup.Created",
        count: int = 1,
        *,
        seed: int | None = None,
        now: Any = None,
        set: Mapping[str, Any] | None = None,
        profile: str = "realistic",
        validate: bool = True,
        variants: Mapping[str, str] | None = None,
        fresh: bool = False,
    ) -> list[dict[str, Any]]:
        """``count`` events, as ``zenoti-emulator generate`` makes them.

        :param set: ``{"data.guest.email": None}``: fields to override in every event.
        :param now: the first event's clock (a ``datetime`` or ISO 8601 text).
        :param variants: ``{"status-1": "cancelled"}``: readings of disputed facts, as
            ``--variant`` (``zenoti-emulator variants`` lists them).
        :param fresh: start from an empty account, as ``--fresh``.
        """
        from .errors import UsageError
        from .events.generate import parse_now
        from .events.overrides import parse_path
        from .variants import coerce

        if count < 0:
            raise UsageError(f"count must be 0 or more, not {count}.")

        chosen = coerce(variants)
        moment = parse_now(now) if isinstance(now, str) else now or self.session.start
        overrides = [(parse_path(path), value) for path, value in (set or {}).items()]
        chosen = coerce(variants)
        first = 0
        if seed is None:
            first = self.session.claim((event_type, moment, profile, chosen, fresh), count)
        stream, kind, events = self.session.events(
            event_type, self.seed if seed is None else seed, moment, profile, first, count, variants=chosen, fresh=fresh
        )
        return [stream.finish(kind, event, overrides, validate) for event in events]

    def fire(
        self,
        url: str,
        events: Sequence[Mapping[str, Any] | bytes] | None = None,
        *,
        event_type: str = "AppointmentGroup.Created",
        count: int = 1,
        secret: str | None = None,
        verb: str = "POST",
        content_type: bool = True,
        signature_format: str = "dashed",
        max_attempts: int = 6,
        timeout: float = 10.0,
        wait: bool = True,
        **generate: Any,
    ) -> list[Delivery]:
        """Deliver ``events`` (or ``count`` new ones of ``event_type``) to ``url`` as Zenoti does.

        :param max_attempts: the first attempt and its retries (Zenoti: 6; 1 for none).
        :param wait: ``True`` returns once every delivery is delivered or failed for good
            (retries included, on the scaled clock); ``False`` once each first attempt was
            made, leaving retries to :meth:`wait_for_retries`.
        :param generate: more arguments of :meth:`generate` (``seed``, ``set``...).
        :return: the deliveries, read back from the log, with every attempt so far.
        """
        from .delivery.retry import DeliveryOptions, RetryPolicy

        if events is None:
            events = self.generate(event_type, count, **generate)
        options = DeliveryOptions(
            timeout=timeout,
            time_scale=self.time_scale,
            content_type=content_type,
            policy=RetryPolicy(max_attempts=max_attempts),
            signature_format=signature_format,
        )
        webhook = self.store.upsert_webhook(url, verb=verb, secret=secret)
        ids = self.deliverer.submit_many(events, webhook, options=options)
        self._ids += ids
        self.deliverer.wait(settle=wait)
        return [self.store.get_delivery(i) for i in ids]

    def scenario(
        self,
        name: str,
        url: str | None = None,
        *,
        seed: int | None = None,
        now: Any = None,
        profile: str = "realistic",
        variants: Mapping[str, str] | None = None,
        fresh: bool = False,
        **fire: Any,
    ) -> list[Any]:
        """Play scenario ``name`` (a built-in, or a path to a scenario file) on the world of
        ``seed``: its events in story order, or, with ``url``, their deliveries there, sent
        one at a time in that order (``fire``: more arguments of :meth:`fire`; ``variants``
        as in :meth:`generate`).
        """
        from .events.generate import parse_now
        from .scenario.play import play
        from .scenario.story import load

        moment = parse_now(now) if isinstance(now, str) else now or self.session.start
        played = play(
            load(name),
            seed=self.seed if seed is None else seed,
            now=moment,
            profile=profile,
            variants=variants,
            fresh=fresh,
        )
        events = [step.event for step in played]
        if url is None:
            return events
        return [delivery for event in events for delivery in self.fire(url, [event], **fire)]

    def simulate(
        self,
        *,
        seed: int | None = None,
        now: Any = None,
        days: float = 1.0,
        types: Sequence[str] | None = None,
        profile: str = "realistic",
    ) -> list[dict[str, Any]]:
        """Every event the world of ``seed`` emits over ``days`` (as ``zenoti-emulator
        simulate`` prints them), and that world behind :attr:`api_url` from now on.

        The API answers as the world stands at the end of the stream: every entity the
        events named, agreeing with them.
        """
        from . import defaults
        from .events.generate import parse_now, simulate_events
        from .zenoti_api import tap

        if days > defaults.MAX_API_DAYS:
            raise ValueError(
                f"simulate(days={days}): the API behind it keeps every entity; at most {defaults.MAX_API_DAYS} days."
            )
        moment = parse_now(now) if isinstance(now, str) else now
        stream = simulate_events(seed=seed, now=moment, days=days, types=types, profile=profile)
        ledger = tap(stream)
        events = list(stream)
        self._ledger = ledger
        return events

    @property
    def ledger(self) -> Any:
        """What the API answers from (:class:`~emulator.zenoti_api.Ledger`): the world of the
        last :meth:`simulate` and every entity its events named; None before."""
        return self._ledger

    @property
    def api_state(self) -> Any:
        """The API's settings (:class:`~emulator.zenoti_api.ApiState`): ``api_key``,
        ``rate_limit`` (calls per minute, None for none), ``latency`` (seconds)."""
        if self._api_state is None:
            from .zenoti_api import ApiState

            self._api_state = ApiState(lambda: self._ledger)
        return self._api_state

    @property
    def api_url(self) -> str:
        """Base URL of Zenoti's read API for the world of the last :meth:`simulate`
        (``http://127.0.0.1:PORT``; the paths are Zenoti's, ``/v1/guests/{id}``...)."""
        if self._api_url is None:
            from .zenoti_api import create_api_app

            self._api_url = self.serve(create_api_app(self.api_state))
        return self._api_url

    @property
    def api_key(self) -> str:
        """The key to send as ``Authorization: apikey KEY``."""
        return str(self.api_state.api_key)

    def wait_for_retries(self, timeout: float = 60.0) -> list[Delivery]:
        """Wait (on the scaled clock) until every delivery of this emulator is final.

        :return: every delivery fired so far, read back from the log.
        :raise TimeoutError: some are still pending after ``timeout`` real seconds.
        """
        if not self.deliverer.wait(timeout):
            raise TimeoutError(f"Deliveries still pending after {timeout:g} s")
        return self.deliveries()

    def deliveries(self) -> list[Delivery]:
        """Every delivery fired by this emulator, in order, as the log has them now."""
        return [self.store.get_delivery(i) for i in self._ids]

    def ping(self, url: str, *, timeout: float = 10.0) -> SendResult:
        """Zenoti's "test your trigger": an empty unsigned POST; not logged."""
        return self.deliverer.ping(url, timeout=timeout)

    def serve(self, app: Any) -> str:
        """Serve a WSGI app (your Flask receiver) on a loopback port until the test ends.

        :return: its base URL, ``http://127.0.0.1:PORT``.
        """
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self._servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    def close(self) -> None:
        if self._deliverer is not None:
            self._deliverer.close()
        for server, thread in self._servers:
            server.shutdown()
            server.server_close()
            thread.join()
        if self._store is not None:
            self._store.close()


@pytest.fixture(scope="session")
def zenoti_emulator_session() -> EmulatorSession:
    """What the session's emulators share: its seed, its start, its built worlds."""
    return EmulatorSession()


@pytest.fixture
def zenoti_emulator(tmp_path: Path, zenoti_emulator_session: EmulatorSession) -> Iterator[ZenotiEmulator]:
    """An emulator of this test's own, its delivery log in ``tmp_path``."""
    emulator = ZenotiEmulator(tmp_path, session=zenoti_emulator_session)
    try:
        yield emulator
    finally:
        emulator.close()


# -- the check suite as test items ----------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("zenoti", "Zenoti webhook receiver conformance (zenoti-emulator check)")
    group.addoption(
        "--zenoti-receiver",
        metavar="URL",
        default=None,
        help="Run the zenoti-emulator check suite against the receiver at URL, one test per check.",
    )
    group.addoption(
        "--zenoti-secret",
        metavar="SECRET",
        default=None,
        help="The webhook's secret (also $ZENOTI_EMULATOR_SECRET); signature checks are skipped without it.",
    )
    group.addoption("--zenoti-verb", metavar="VERB", default=None, help="The verb set in Zenoti: POST, PUT or PATCH.")
    group.addoption(
        "--zenoti-event-type",
        metavar="TYPE",
        action="append",
        default=[],
        help="An event type the webhook subscribes to (repeatable; default: all).",
    )
    group.addoption(
        "--zenoti-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="Seconds a request may take (Zenoti: 10, the default).",
    )
    group.addoption(
        "--zenoti-observe",
        metavar="URL",
        default=None,
        help="Where the receiver says what it did (as check --observe); the fixtures "
        "zenoti_applied and zenoti_group_status do the same from inside the suite.",
    )


def _config_of(config: pytest.Config) -> Any:
    from .check.run import CheckConfig, with_scheme
    from .errors import EmulatorError

    url = with_scheme(config.getoption("zenoti_receiver"))
    secret = config.getoption("zenoti_secret") or os.environ.get("ZENOTI_EMULATOR_SECRET")
    observe = config.getoption("zenoti_observe")
    try:
        return CheckConfig(
            url,
            secret=secret,
            verb=config.getoption("zenoti_verb"),
            event_types=tuple(config.getoption("zenoti_event_type")),
            observe=with_scheme(observe) if observe else None,
            **({"timeout": config.getoption("zenoti_timeout")} if config.getoption("zenoti_timeout") else {}),
        )
    except EmulatorError as exc:
        raise pytest.UsageError(f"--zenoti-receiver: {exc.message}") from None


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("zenoti_receiver", None):
        config.stash[_CONFIG] = _config_of(config)  # a bad URL or verb is a usage error now


_CONFIG = pytest.StashKey[Any]()
#: the evidence of each check that passed with a warning, for the terminal summary
_WARNED = pytest.StashKey[list[str]]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: the items are in the list before -k and -m deselect from it.
    if _CONFIG not in config.stash:
        return
    suite = ZenotiCheckSuite.from_parent(session, name=SUITE_NAME, nodeid=SUITE_NAME)
    collected = suite.collect()
    # Reported like any collected node, so "collected N items" counts the checks.
    nodes: list[pytest.Item | pytest.Collector] = [*collected]
    session.ihook.pytest_collectreport(report=pytest.CollectReport(suite.nodeid, "passed", None, nodes))
    items.extend(collected)


class ZenotiCheckSuite(pytest.Collector):
    """The checks of one receiver; owns the :class:`~emulator.check.checks.CheckRun` they share."""

    run: CheckRun | None = None
    #: results run ahead, side by side, once the receiver let a request time out
    ahead: dict[str, CheckResult]

    def collect(self) -> list[pytest.Item]:
        from .check.run import CheckRun
        from .errors import EmulatorError

        try:
            # Event types are resolved here, without a request: --collect-only works offline.
            plan = CheckRun(self.config.stash[_CONFIG])
        except EmulatorError as exc:
            raise pytest.UsageError(f"--zenoti-event-type: {exc.message}") from None
        try:
            return [
                ZenotiCheckItem.from_parent(
                    self, name=_item_name(check.name, event_type), check=check.name, event_type=event_type
                )
                for check, event_type in plan.items()
            ]
        finally:
            plan.close()

    def setup(self) -> None:
        from .check.run import CheckRun, ReceiverUnreachable

        self.run = CheckRun(self.config.stash[_CONFIG])
        self.ahead = {}
        try:
            self.run.probe()
        except ReceiverUnreachable as exc:
            pytest.exit(f"--zenoti-receiver: {exc.message}", returncode=pytest.ExitCode.USAGE_ERROR)

    def result_of(self, item: ZenotiCheckItem) -> CheckResult:
        """The item's result: run now, or, once the receiver lets requests time out, with
        every item of the suite still to run, side by side (a receiver answering after
        10 s then costs a few timeouts, not one per item)."""
        from .check.checks import CHECKS

        assert self.run is not None
        if item.name in self.ahead:
            return self.ahead.pop(item.name)
        if not self.run.hanging:
            return self.run.run_check(CHECKS[item.check], item.event_type)
        todo = [
            i
            for i in item.session.items[item.session.items.index(item) :]
            if isinstance(i, ZenotiCheckItem) and i.parent is self
        ]
        for other, result in zip(
            todo, self.run.run_many([(CHECKS[i.check], i.event_type) for i in todo]), strict=False
        ):
            self.ahead[other.name] = result
        return self.ahead.pop(item.name)

    def teardown(self) -> None:
        if self.run is not None:
            self.run.close()
            self.run = None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    warned = config.stash.get(_WARNED, [])
    if warned:
        terminalreporter.section("zenoti-emulator check: passed with a warning", sep="=", yellow=True)
        for text in warned:
            terminalreporter.write_line(text)


def _item_name(check: str, event_type: str | None) -> str:
    return f"{check}[{event_type}]" if event_type else check


class CheckFailed(Exception):
    """A check's verdict was ``fail``; carries the result for :meth:`ZenotiCheckItem.repr_failure`."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


def _zenoti_check(request: pytest.FixtureRequest) -> None:
    """The test function of every check item (it needs the receiver's fixtures, if any)."""
    item = request.node
    assert isinstance(item, ZenotiCheckItem)
    item.run_zenoti_check(request)


#: The fixtures a receiver's suite may define so that the checks see what it did.
OBSERVE_FIXTURES = ("zenoti_applied", "zenoti_group_status")


class ZenotiCheckItem(pytest.Function):
    """One check (for one event type) of ``zenoti-emulator check``, as a test.

    A :class:`pytest.Function` (of :func:`_zenoti_check`), so that it can ask for the
    receiver suite's fixtures :data:`OBSERVE_FIXTURES` (in its ``conftest.py``).
    """

    def __init__(self, *, check: str, event_type: str | None, **kwargs: Any) -> None:
        super().__init__(callobj=_zenoti_check, **kwargs)
        self.check = check
        self.event_type = event_type

    def run_zenoti_check(self, request: pytest.FixtureRequest) -> None:
        from .check.observe import Observer
        from .check.report import evidence_text
        from .check.results import FAIL, SKIP, WARN

        suite = self.parent
        assert isinstance(suite, ZenotiCheckSuite) and suite.run is not None
        if self.check in ("duplicates", "out-of-order"):
            found = {name: _fixture(request, name) for name in OBSERVE_FIXTURES}
            if any(found.values()):
                how = "the fixture " + " and ".join(name for name, value in found.items() if value)
                suite.run.observer = Observer(found["zenoti_applied"], found["zenoti_group_status"], how)
        result = suite.result_of(self)
        self.user_properties.append(("outcome", result.outcome))
        self.user_properties.append(("message", result.message))
        if result.cause is not None:
            self.user_properties.append(("cause", result.cause.kind))
        if result.outcome == FAIL:
            raise CheckFailed(result)
        if result.outcome == SKIP:
            pytest.skip(result.message)
        if result.outcome == WARN:
            # Not warnings.warn: a project running with -W error would fail on it, and a
            # warning is by definition not a failure. Listed at the end of the run instead.
            text = evidence_text(result)
            self.add_report_section("call", "zenoti-emulator check", text)
            self.config.stash.setdefault(_WARNED, []).append(text)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailed):
            from .check.report import evidence_text

            return evidence_text(excinfo.value.result)
        # pytest.Function's takes no style (a Node's does): passing it on made any other error a TypeError
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{SUITE_NAME}::{self.name}"


def _fixture(request: pytest.FixtureRequest, name: str) -> Any:
    """The value of fixture ``name`` if the suite defines it, else ``None``."""
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        return None
