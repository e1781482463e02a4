"""``zenoti-emulator load``: Locust headless in this process, as one machine, a master or a worker.

:func:`run` takes a :class:`LoadPlan` (what the command line asked for), builds Locust's
:class:`~locust.env.Environment` around :class:`~emulator.load.user.ZenotiWebhookUser`
with the user's ``--zenoti-*`` options filled in (so a master hands them to its workers),
runs it, and returns the report and the exit code. Locust's own CSV and HTML reports are
written where asked, from the same run.

Importing this module imports Locust, hence gevent's monkey patching: the CLI imports it
inside the ``load`` command only, after patching first thing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import IO, Any

import gevent
from locust import events, stats
from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments
from locust.env import Environment
from locust.html import get_html_report

from ..defaults import DEFAULT_TIMEOUT
from .feed import Feed
from .tally import CLASSES, Tally
from .user import STATE, STOP_MESSAGE, TALLY_MESSAGE, ZenotiWebhookUser, _shards, shards

#: Each step of --find-limit asks this much more than the one before.
STEP_FACTOR = 1.2
MAX_STEPS = 60
#: Where --find-limit starts without --rate (events per second).
FIRST_RATE = 10.0
#: A step whose achieved rate falls this far below its target did not hold.
HELD_SHARE = 0.8
#: How long a master waits for its workers' final tallies: their users' last requests
#: (Zenoti's 10 s at most), and a margin.
FLUSH_WAIT = DEFAULT_TIMEOUT + 10


@dataclass
class LoadPlan:
    """What ``load`` was asked to do (the command line, parsed and checked)."""

    url: str | None
    users: int = 10
    spawn_rate: float = 10.0
    run_time: float | None = None
    rate: float | None = None
    secret: str | None = None
    signature_format: str = "dashed"
    verb: str = "POST"
    event_types: tuple[str, ...] = ()
    profile: str = "realistic"
    seed: int | None = None
    variants: dict[str, str] = field(default_factory=dict)
    csv_prefix: str | None = None
    html_file: str | None = None
    role: str = "local"  # local, master or worker
    expect_workers: int = 1
    master_bind_host: str = "*"
    master_bind_port: int = 5557
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    find_limit: bool = False
    latency_bound_s: float = DEFAULT_TIMEOUT / 2
    error_share: float = 0.01
    step_time: float = 10.0
    plot_file: str | None = None
    drain: int | None = None


def _options(plan: LoadPlan) -> Any:
    """Locust's parsed options with ours filled in, as ``locust`` itself would have them."""
    parser = get_empty_argument_parser()
    setup_parser_arguments(parser)
    events.init_command_line_parser.fire(parser=parser)
    options = parser.parse_args(args=[])
    options.headless = True
    options.host = plan.url
    options.num_users, options.spawn_rate = plan.users, plan.spawn_rate
    options.expect_workers = plan.expect_workers
    options.master = plan.role == "master"
    options.worker = plan.role == "worker"
    options.zenoti_secret = plan.secret
    options.zenoti_signature_format = plan.signature_format
    options.zenoti_verb = plan.verb
    options.zenoti_event_type = list(plan.event_types) or None
    options.zenoti_profile = plan.profile
    options.zenoti_seed = plan.seed
    options.zenoti_variant = [f"{k}={v}" for k, v in plan.variants.items()] or None
    # --find-limit starts at --rate (10/s by default) and sets each step's rate itself
    options.zenoti_rate = (plan.rate or FIRST_RATE) if plan.find_limit else plan.rate
    options.zenoti_drain = plan.drain
    return options


def check(plan: LoadPlan) -> None:
    """Refuse, before anything starts, what would only fail inside every user: an unknown
    event type or variant, a profile... by making the first shard's first event."""
    Feed(
        plan.seed or 0,
        0,
        0,
        secret=plan.secret,
        signature_format=plan.signature_format,
        verb=plan.verb,
        types=list(plan.event_types) or None,
        profile=plan.profile,
        variants=plan.variants,
    ).next()
    STATE.warm = True


def run(plan: LoadPlan, say: IO[str]) -> tuple[dict[str, Any], int]:
    """Run the load; ``say`` gets progress lines. Returns the report and the exit code.

    The first event is made before Locust starts (on a worker too, with the defaults):
    loading the schemas and Faker takes a second or two, which would otherwise be spent
    inside the first user while the run's clock runs.
    """
    if not logging.getLogger("locust").level:
        logging.getLogger("locust").setLevel(logging.WARNING)
    check(plan)
    options = _options(plan)
    env = Environment(
        user_classes=[ZenotiWebhookUser],
        events=events,
        host=plan.url,
        parsed_options=options,
        stop_timeout=DEFAULT_TIMEOUT + 1,
    )
    if plan.role != "master":
        shards()  # the generator child, schemas and Faker loaded; a worker's options come later
    if plan.role == "local":
        # every user's world and first batch, made (in the generator child) before the
        # run's clock starts rather than inside it
        shards().configure(options)
        prefetch(shards(), plan.users)
    if plan.role == "worker":
        try:
            return _work(env, plan, say)
        finally:
            _close_shards()
    if plan.role == "master":
        runner: Any = env.create_master_runner(
            master_bind_host=plan.master_bind_host, master_bind_port=plan.master_bind_port
        )
    else:
        runner = env.create_local_runner()
    events.init.fire(environment=env, runner=runner, web_ui=None)
    history = gevent.spawn(stats.stats_history, runner)
    writer = writing = None
    if plan.csv_prefix:
        writer = stats.StatsCSVFileWriter(env, stats.PERCENTILES_TO_REPORT, plan.csv_prefix, full_history=False)
        writing = gevent.spawn(writer.stats_writer)
    tally = STATE.tally if plan.role == "local" else _collect_from_workers(runner)
    try:
        if plan.role == "master":
            _wait_for_workers(runner, plan, say)
        started = time.time()
        runner.start(plan.users, plan.spawn_rate)
        limit = _find_limit(runner, plan, say) if plan.find_limit else None
        if limit is None:
            _run_until_done(runner, plan, tally)
        if plan.role == "master":
            _stop_workers(runner)
        else:
            runner.stop()
        elapsed = time.time() - started
    finally:
        runner.quit()
        _close_shards()
        history.kill(block=False)
        if writer is not None and writing is not None:
            writing.kill(block=True)
            writer.close_files()
            _final_csv(env, plan.csv_prefix or "")
    if plan.html_file:
        with open(plan.html_file, "w", encoding="utf-8") as out:
            out.write(get_html_report(env, show_download_link=False))
    report = tally.summary(elapsed)
    report.update(url=plan.url, users=plan.users, workers=plan.expect_workers if plan.role == "master" else 0)
    if plan.drain is not None:
        report["drain"] = {
            "asked": plan.drain,
            "sent": report["events_sent"],
            "duration_s": report["first_to_last_answer_s"],
            "refused": {k: v for k, v in report["by_status_class"].items() if k != "2xx"},
        }
    if limit is not None:
        report["find_limit"] = limit
        return report, 0
    return report, 0 if report["all_ok"] else 1


def prefetch(batches: Any, users: int) -> None:
    """Ask for the first batch of users 0..``users``-1 on this machine and wait for them."""
    for index in range(users):
        batches.ask(0, index)
    while any(not batches.queue(0, i) and (0, i) not in batches.exhausted for i in range(users)):
        batches.arrived.wait()


def _close_shards() -> None:
    while _shards:
        _shards.pop().close()


def _final_csv(env: Environment, prefix: str) -> None:
    """Locust's CSV files as the run ended: its writer rewrites them each second, so the
    last second's requests would be missing from the totals otherwise."""
    import csv

    final = stats.StatsCSV(env, stats.PERCENTILES_TO_REPORT)
    for suffix, write in (
        ("_stats.csv", final.requests_csv),
        ("_failures.csv", final.failures_csv),
        ("_exceptions.csv", final.exceptions_csv),
    ):
        with open(prefix + suffix, "w", newline="", encoding="utf-8") as out:
            write(csv.writer(out))


def _work(env: Environment, plan: LoadPlan, say: IO[str]) -> tuple[dict[str, Any], int]:
    runner = env.create_worker_runner(master_host=plan.master_host, master_port=plan.master_port)
    events.init.fire(environment=env, runner=runner, web_ui=None)
    say.write(f"Worker connected to {plan.master_host}:{plan.master_port}; the master runs the load.\n")
    say.flush()
    runner.greenlet.join()
    return {"worker": True}, 0


def _wait_for_workers(runner: Any, plan: LoadPlan, say: IO[str]) -> None:
    say.write(f"Waiting for {plan.expect_workers} worker(s) on port {plan.master_bind_port}...\n")
    say.flush()
    while len(runner.clients.ready) < plan.expect_workers:
        gevent.sleep(0.1)


def _collect_from_workers(runner: Any) -> Tally:
    """The master's tally: every worker report's share, and each final flush."""
    tally = Tally()
    runner.zenoti_flushed = set()

    def on_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        tally.merge(data.get("zenoti") or {})

    def on_tally(environment: Any, msg: Any, **_: Any) -> None:
        tally.merge(msg.data or {})
        runner.zenoti_flushed.add(msg.node_id)

    events.worker_report.add_listener(on_report)
    runner.register_message(TALLY_MESSAGE, on_tally)
    return tally


def _stop_workers(runner: Any) -> None:
    """Have each worker stop its users and send what it has not reported yet; wait for all."""
    workers = {c.id for c in runner.clients.all}
    runner.send_message(STOP_MESSAGE)
    deadline = time.monotonic() + FLUSH_WAIT
    while not workers <= runner.zenoti_flushed and time.monotonic() < deadline:
        gevent.sleep(0.05)


def _run_until_done(runner: Any, plan: LoadPlan, tally: Tally) -> None:
    """Until --run-time passes, --drain's events are answered, or Ctrl-C."""
    deadline = time.monotonic() + plan.run_time if plan.run_time else None
    try:
        while deadline is None or time.monotonic() < deadline:
            if plan.drain is not None and tally.sent >= plan.drain:
                return
            if plan.drain is not None and plan.role == "local" and runner.user_count == 0 and STATE.tickets == 0:
                return
            gevent.sleep(0.05)
    except KeyboardInterrupt:
        return


def _find_limit(runner: Any, plan: LoadPlan, say: IO[str]) -> dict[str, Any]:
    """Ramp the rate by :data:`STEP_FACTOR` each ``step_time`` until p95 latency passes the
    bound, non-2xx answers pass their share, or the receiver stops keeping up."""
    # Measure from the moment every user has built its shard (a second of CPU for 10 users)
    # and sent at the first rate for a moment: building worlds is not the receiver's latency.
    rate = plan.rate or FIRST_RATE
    while STATE.ready < plan.users:
        gevent.sleep(0.05)
    gevent.sleep(min(1.0, plan.step_time))
    bound_ms = plan.latency_bound_s * 1000
    steps: list[dict[str, Any]] = []
    held: dict[str, Any] | None = None
    broke = None
    deadline = time.monotonic() + plan.run_time if plan.run_time else None
    for _ in range(MAX_STEPS):
        if deadline is not None and time.monotonic() >= deadline:
            broke = "nothing before --run-time ran out"
            break
        window = STATE.window = Tally()
        STATE.set_rate(rate)
        began = time.monotonic()
        gevent.sleep(plan.step_time)
        STATE.window = None
        # a busy process wakes late: the rate is what came in the time that really passed
        step = _judge(window, rate, time.monotonic() - began, bound_ms, plan.error_share)
        steps.append(step)
        say.write(
            f"  {rate:8.1f}/s asked, {step['achieved_per_s']:8.1f}/s answered, p95 {step['p95_ms']} ms, "
            f"non-2xx {step['non_2xx_share'] * 100:.2f} %{'  <- ' + step['broke'] if step['broke'] else ''}\n"
        )
        say.flush()
        if step["broke"]:
            broke = step["broke"]
            break
        held = step
        rate *= STEP_FACTOR
    else:
        broke = f"nothing within {MAX_STEPS} steps"
    STATE.set_rate(None)
    held_rate = held["target_per_s"] if held else None
    if plan.plot_file:
        from .plot import render

        with open(plan.plot_file, "w", encoding="utf-8") as out:
            out.write(
                render(
                    steps,
                    bound_ms=bound_ms,
                    held=held["achieved_per_s"] if held else None,
                    broke=broke,
                    url=plan.url or "",
                )
            )
    return {
        "held_per_s": held_rate,
        "held_achieved_per_s": held["achieved_per_s"] if held else None,
        "broke_first": broke,
        "latency_bound_ms": bound_ms,
        "error_share": plan.error_share,
        "steps": steps,
    }


def _judge(window: Tally, rate: float, seconds: float, bound_ms: float, error_share: float) -> dict[str, Any]:
    """One step's numbers, and what broke in it (``None`` when it held)."""
    sent = window.sent
    classes = window.by_class()
    bad = sent - window.ok
    share = bad / sent if sent else 0.0
    p95 = window.percentile(0.95)
    broke = None
    if sent and share > error_share:
        worst = max((k for k in CLASSES if k != "2xx"), key=lambda k: classes.get(k, 0))
        broke = {"timeout": "timeouts", "connection": "refused or reset connections"}.get(worst, worst)
        if classes.get(worst, 0) == 0:  # 2xx answered after Zenoti's 10 s
            broke = "timeouts"
    elif p95 is not None and p95 > bound_ms:
        broke = "latency"
    elif sent / seconds < HELD_SHARE * rate:
        broke = "latency (answers too slow for the users to keep the rate)"
    return {
        "target_per_s": round(rate, 1),
        "achieved_per_s": round(sent / seconds, 1),
        "events": sent,
        "p50_ms": window.percentile(0.5),
        "p95_ms": p95,
        "non_2xx_share": round(share, 4),
        "by_status_class": classes,
        "broke": broke,
    }


def render_text(report: dict[str, Any]) -> str:
    """The end summary, for people."""
    lines = []
    if report.get("worker"):
        return "Worker done: its events are in the master's report.\n"
    sent = report["events_sent"]
    rate = report["events_per_s"]
    lines.append(
        f"Load: {sent} event(s) sent to {report['url']} in {report['elapsed_s']:.1f} s "
        f"({rate if rate is not None else 0} events/s), {report['users']} user(s)"
        + (f" on {report['workers']} worker(s)" if report.get("workers") else "")
        + "."
    )
    lines.append("Answers: " + ("  ".join(f"{k} {v}" for k, v in report["by_status_class"].items()) or "none"))
    if report["by_event_type"]:
        lines.append("By event type:")
        width = max(len(t) for t in report["by_event_type"])
        for event_type, counts in report["by_event_type"].items():
            lines.append(f"  {event_type:<{width}}  " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    lat = report["latency_ms"]
    if lat["p50"] is not None:
        lines.append(
            f"Latency: p50 {lat['p50']:g} ms  p95 {lat['p95']:g} ms  p99 {lat['p99']:g} ms  max {lat['max']:g} ms"
        )
    if report["throughput"]:
        lines.append("Throughput (events/s answered):")
        for row in report["throughput"]:
            lines.append(f"  {row['from_s']:>5}-{row['to_s']:<5}s  {row['events_per_s']:>9.1f}")
    if "drain" in report:
        drain = report["drain"]
        refused = "  ".join(f"{k} {v}" for k, v in drain["refused"].items()) or "nothing"
        lines.append(
            f"Drain: {drain['sent']} of {drain['asked']} event(s) taken in {drain['duration_s']} s; refused: {refused}."
        )
    if "find_limit" in report:
        limit = report["find_limit"]
        if limit["held_per_s"] is None:
            lines.append(f"Limit: not even the first step held; what broke: {limit['broke_first']}.")
        else:
            lines.append(
                f"Limit: held {limit['held_per_s']:g} events/s (answered {limit['held_achieved_per_s']:g}/s); "
                f"what broke first past it: {limit['broke_first']}."
            )
    elif report["all_ok"]:
        lines.append("Result: every answer 2xx within 10 s.")
    else:
        bad = sent - report["answered_2xx_within_10s"]
        lines.append(
            f"Result: {bad} of {sent} event(s) not answered 2xx within 10 s." if sent else "Result: no event was sent."
        )
    return "\n".join(lines) + "\n"
