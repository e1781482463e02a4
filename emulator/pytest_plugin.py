"""The pytest plugin: an emulator per test, and the ``check`` suite as test items.

Installed with the package (the ``pytest11`` entry point ``zenoti_emulator``) and
inactive until used: pytest imports this module at start-up, so it imports nothing of
the emulator until a test asks for the fixture or ``--zenoti-receiver`` is given.

- The ``zenoti_emulator`` fixture gives a test an emulator of its own, with its own
  delivery log in the test's temporary directory (:class:`ZenotiEmulator`).
- ``pytest --zenoti-receiver URL [--zenoti-secret S] [--zenoti-verb V]`` adds one test
  item per check and event type of ``zenoti-emulator check``, so a receiver's CI gets the
  conformance run with pytest's own ``-k``, ``-x`` and ``--junitxml``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .check import CheckResult, CheckRun
    from .delivery import Deliverer, SendResult
    from .store import Delivery, Store

SUITE_NAME = "zenoti-check"


# -- the fixture ------------------------------------------------------------------------


class ZenotiEmulator:
    """An emulator of one test's own: generate events, fire them, wait for retries.

    Every delivery goes through the real :class:`~emulator.delivery.Deliverer` into a
    delivery log of its own, so what a test reads back (statuses, attempts, response
    bodies) is what ``zenoti-emulator deliveries`` would show.

    :param directory: where the log lives (the test's ``tmp_path``).
    :param time_scale: divides every wait between retries; 600 (the default) plays
        Zenoti's 30 s .. 10 min schedule in about 2 s.
    """

    def __init__(self, directory: Path, *, time_scale: float = 600.0) -> None:
        from .store import Store

        self.db_path = Path(directory) / "deliveries.sqlite3"
        self.store: Store = Store(self.db_path)
        self.time_scale = time_scale
        self._deliverer: Deliverer | None = None
        self._ids: list[int] = []
        self._servers: list[Any] = []

    @property
    def deliverer(self) -> Deliverer:
        if self._deliverer is None:
            from .delivery import Deliverer

            self._deliverer = Deliverer(self.store)
        return self._deliverer

    def generate(self, event_type: str = "AppointmentGroup.Created", count: int = 1, *, seed: int | None = None,
                 now: Any = None, set: Mapping[str, Any] | None = None, profile: str = "realistic",
                 validate: bool = True, variants: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """``count`` events, as ``zenoti-emulator generate`` makes them.

        :param set: ``{"data.guest.email": None}``: fields to override in every event.
        :param now: the first event's clock (a ``datetime`` or ISO 8601 text).
        :param variants: ``{"status-1": "cancelled"}``: readings of disputed facts, as
            ``--variant`` (``zenoti-emulator variants`` lists them).
        """
        from .generate import generate_events, parse_now

        moment = parse_now(now) if isinstance(now, str) else now
        overrides = list((set or {}).items())
        return list(generate_events(event_type, count=count, seed=seed, now=moment, overrides=overrides,
                                    profile=profile, validate=validate, variants=variants))

    def fire(self, url: str, events: Sequence[Mapping[str, Any] | bytes] | None = None, *,
             event_type: str = "AppointmentGroup.Created", count: int = 1, secret: str | None = None,
             verb: str = "POST", content_type: bool = True, signature_format: str = "dashed",
             max_attempts: int = 6, timeout: float = 10.0, wait: bool = True, **generate: Any) -> list[Delivery]:
        """Deliver ``events`` (or ``count`` new ones of ``event_type``) to ``url`` as Zenoti does.

        :param max_attempts: the first attempt and its retries (Zenoti: 6; 1 for none).
        :param wait: ``True`` returns once every delivery is delivered or failed for good
            (retries included, on the scaled clock); ``False`` once each first attempt was
            made, leaving retries to :meth:`wait_for_retries`.
        :param generate: more arguments of :meth:`generate` (``seed``, ``set``...).
        :return: the deliveries, read back from the log, with every attempt so far.
        """
        from .delivery import DeliveryOptions, RetryPolicy

        if events is None:
            events = self.generate(event_type, count, **generate)
        options = DeliveryOptions(timeout=timeout, time_scale=self.time_scale, content_type=content_type,
                                  policy=RetryPolicy(max_attempts=max_attempts), signature_format=signature_format)
        webhook = self.store.upsert_webhook(url, verb=verb, secret=secret)
        ids = self.deliverer.submit_many(events, webhook, options=options)
        self._ids += ids
        self.deliverer.wait(settle=wait)
        return [self.store.get_delivery(i) for i in ids]

    def scenario(self, name: str, url: str | None = None, *, seed: int | None = None, now: Any = None,
                 profile: str = "realistic", variants: Mapping[str, str] | None = None, **fire: Any) -> list[Any]:
        """Play scenario ``name`` (a built-in, or a path to a scenario file) on the world of
        ``seed``: its events in story order, or, with ``url``, their deliveries there, sent
        one at a time in that order (``fire``: more arguments of :meth:`fire`; ``variants``
        as in :meth:`generate`).
        """
        from .generate import parse_now
        from .scenario.play import play
        from .scenario.story import load

        moment = parse_now(now) if isinstance(now, str) else now
        events = [played.event for played in play(load(name), seed=seed, now=moment, profile=profile, variants=variants)]
        if url is None:
            return events
        return [delivery for event in events for delivery in self.fire(url, [event], **fire)]

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
        self.store.close()


@pytest.fixture
def zenoti_emulator(tmp_path: Path) -> Iterator[ZenotiEmulator]:
    """An emulator of this test's own, its delivery log in ``tmp_path``."""
    emulator = ZenotiEmulator(tmp_path)
    try:
        yield emulator
    finally:
        emulator.close()


# -- the check suite as test items ----------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("zenoti", "Zenoti webhook receiver conformance (zenoti-emulator check)")
    group.addoption("--zenoti-receiver", metavar="URL", default=None,
                    help="Run the zenoti-emulator check suite against the receiver at URL, one test per check.")
    group.addoption("--zenoti-secret", metavar="SECRET", default=None,
                    help="The webhook's secret (also $ZENOTI_EMULATOR_SECRET); signature checks are skipped without it.")
    group.addoption("--zenoti-verb", metavar="VERB", default=None, help="The verb set in Zenoti: POST, PUT or PATCH.")
    group.addoption("--zenoti-event-type", metavar="TYPE", action="append", default=[],
                    help="An event type the webhook subscribes to (repeatable; default: all).")


def _config_of(config: pytest.Config) -> Any:
    from .check import CheckConfig
    from .errors import EmulatorError

    url = config.getoption("zenoti_receiver")
    secret = config.getoption("zenoti_secret") or os.environ.get("ZENOTI_EMULATOR_SECRET")
    try:
        return CheckConfig(url, secret=secret, verb=config.getoption("zenoti_verb"),
                           event_types=tuple(config.getoption("zenoti_event_type")))
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
    session.ihook.pytest_collectreport(report=pytest.CollectReport(suite.nodeid, "passed", None, collected))
    items.extend(collected)


class ZenotiCheckSuite(pytest.Collector):
    """The checks of one receiver; owns the :class:`~emulator.check.CheckRun` they share."""

    run: CheckRun | None = None

    def collect(self) -> list[pytest.Item]:
        from .check import CheckRun
        from .errors import EmulatorError

        try:
            # Event types are resolved here, without a request: --collect-only works offline.
            plan = CheckRun(self.config.stash[_CONFIG])
        except EmulatorError as exc:
            raise pytest.UsageError(f"--zenoti-event-type: {exc.message}") from None
        try:
            return [ZenotiCheckItem.from_parent(self, name=_item_name(check.name, event_type),
                                                check=check.name, event_type=event_type)
                    for check, event_type in plan.items()]
        finally:
            plan.close()

    def setup(self) -> None:
        from .check import CheckRun, ReceiverUnreachable

        self.run = CheckRun(self.config.stash[_CONFIG])
        try:
            self.run.probe()
        except ReceiverUnreachable as exc:
            pytest.exit(f"--zenoti-receiver: {exc.message}", returncode=pytest.ExitCode.USAGE_ERROR)

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


class ZenotiCheckItem(pytest.Item):
    """One check (for one event type) of ``zenoti-emulator check``, as a test."""

    def __init__(self, *, check: str, event_type: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.event_type = event_type

    def runtest(self) -> None:
        from .check import CHECKS, FAIL, SKIP, WARN
        from .check_report import evidence_text

        suite = self.parent
        assert isinstance(suite, ZenotiCheckSuite) and suite.run is not None
        result = suite.run.run_check(CHECKS[self.check], self.event_type)
        self.user_properties.append(("outcome", result.outcome))
        self.user_properties.append(("message", result.message))
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

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            from .check_report import evidence_text

            return evidence_text(excinfo.value.result)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{SUITE_NAME}::{self.name}"
