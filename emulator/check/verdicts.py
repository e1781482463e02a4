"""How a check words its verdict from what came back: the result, its main cause, the counts.

Shared by every check (:mod:`.checks`, :mod:`.payloads`, :mod:`.speed`): a refusal is
worded from its :class:`~emulator.check.causes.Cause` ("answered 413"), never from the
check's name, and the evidence kept is the first few exchanges that show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .causes import (
    Cause,
)
from .results import FAIL, MAX_EVIDENCE, PASS, CheckResult, Exchange, _suite


def _result(
    check: str,
    event_type: str | None,
    outcome: str,
    message: str,
    evidence: Sequence[Exchange] = (),
    cause: Cause | None = None,
    **stats: Any,
) -> CheckResult:
    return CheckResult(check, event_type, outcome, message, list(evidence)[:MAX_EVIDENCE], stats=stats, cause=cause)


def _main_cause(exchanges: Sequence[Exchange]) -> Cause:
    """The cause of most of ``exchanges`` (the first of them on a tie)."""
    causes = [e.cause for e in exchanges]
    keys = [c.key() for c in causes]
    return max(causes, key=lambda c: keys.count(c.key()))


def _refused(name: str, what: str, cause: Cause, consequence: str) -> str:
    """The message of a refusal: what was sent, what came back and what it means; the
    check's consequence only when what came back is what the check tests."""
    message = f"{what}: {cause.says()}"
    if consequence and cause.kind in _suite()[name].own:
        message += f"; {consequence}"
    return message


def _all_accepted(
    name: str, event_type: str | None, exchanges: Sequence[Exchange], what: str, consequence: str = ""
) -> CheckResult:
    """Pass when every exchange got a 2xx; else fail with the ones that did not."""
    bad = [e for e in exchanges if not e.ok]
    if not bad:
        return _result(name, event_type, PASS, f"{what}: {_answers(exchanges)}", exchanges[:1])
    cause = _main_cause(bad)
    counts = f" ({_answers(exchanges)})" if len(exchanges) > 1 else ""
    return _result(name, event_type, FAIL, _refused(name, what, cause, consequence) + counts, bad, cause)


def _answers(exchanges: Sequence[Exchange]) -> str:
    """``3 answered 200, 1 answered 409``."""
    return ", ".join(
        f"{n} answered {answer}" if answer[0].isdigit() else f"{n} with {answer}"
        for answer, n in _counts(exchanges).items()
    )


def _counts(exchanges: Sequence[Exchange]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in exchanges:
        counts[e.answer()] = counts.get(e.answer(), 0) + 1
    return counts


def _accepted(name: str, event_type: str | None, e: Exchange, what: str, consequence: str, **stats: Any) -> CheckResult:
    """Pass when ``e`` got a 2xx; else fail, saying what came back and what it costs."""
    if e.ok:
        return _result(name, event_type, PASS, f"{what} was answered {e.answer()}", [e], **stats)
    return _result(name, event_type, FAIL, _refused(name, what, e.cause, consequence), [e], e.cause, **stats)
