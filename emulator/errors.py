"""The errors a user can meet, each carrying its own exit code and HTTP status.

Core code raises these and never prints or exits; ``cli`` turns them into a one-line
message and :class:`ExitCode`, ``web`` into a JSON error body with ``status_code``.
Anything that is not an :class:`EmulatorError` is our bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Sequence
from typing import Any


class ExitCode(enum.IntEnum):
    """The process exit codes the commands promise, and no more."""

    OK = 0
    #: some events failed for good, or were invalid
    FAILED = 1
    #: bad usage or unreadable input
    USAGE = 2


class EmulatorError(Exception):
    """Root of every error that is the user's to fix (or to know about)."""

    exit_code: int = ExitCode.USAGE
    status_code: int = 400
    code: str = "bad_request"
    #: the message over HTTP (the API and the dashboard), when the fix is not a command
    web_message: str | None = None

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class UsageError(EmulatorError):
    """A malformed option or field: what was given and what is accepted."""


class Unprocessable(UsageError):
    """Well-formed input that cannot be applied: an override that does not fit the event,
    an unknown event type named in a field. A usage error on the command line (exit 2),
    422 over HTTP (the request itself matched the API's schema)."""

    status_code = 422
    code = "unprocessable"


class Conflict(EmulatorError):
    """A request the current state refuses: replaying a delivery still pending, or one
    whose webhook was deleted."""

    status_code = 409
    code = "conflict"


class NotFound(EmulatorError):
    status_code = 404
    code = "not_found"


class UnknownEventType(NotFound):
    """An event type name we have no schema for; suggests the closest names."""

    code = "unknown_event_type"

    def __init__(self, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else f" Known: {', '.join(known)}."
        super().__init__(f"Unknown event type {name!r}.{hint}", details={"known": known})
        self.name = name


class PayloadInvalid(EmulatorError):
    """An event that breaks its schema, with every error located by JSON path.

    :param errors: ``(json_path, json_pointer, message)`` triples, most relevant first.
    """

    status_code = 422
    code = "schema_violation"

    def __init__(self, event_type: str, errors: Sequence[tuple[str, str, str]], *, hint: str = "") -> None:
        first = errors[0] if errors else ("$", "", "invalid")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(
            f"{event_type} event breaks its schema: {first[0]}: {first[2]}{more}{hint}.",
            details=[{"path": p, "pointer": ptr, "message": m} for p, ptr, m in errors],
        )
        self.event_type = event_type
        self.errors = list(errors)


class SchemaBroken(EmulatorError):
    """A schema or rule set that cannot work: our bug, never the user's input."""

    exit_code = ExitCode.FAILED
    status_code = 500
    code = "schema_broken"


class GeneratorBug(SchemaBroken):
    """The generator produced an event its own schema rejects."""

    code = "generator_bug"


# --- delivery (issue 4) -------------------------------------------------------------


class StoreError(EmulatorError):
    """The delivery log cannot be opened, read or written (path, permissions, a bad file)."""

    status_code = 500
    code = "store_error"


class WebhookInactive(EmulatorError):
    """Firing to a webhook that was deactivated after too many failures in a row."""

    exit_code = ExitCode.FAILED
    status_code = 409
    code = "webhook_inactive"

    def __init__(self, webhook_id: int, url: str, failures: int) -> None:
        super().__init__(
            f"Webhook {webhook_id} ({url}) is deactivated after {failures} failures in a row. "
            f"Fix the receiver, then run: zenoti-emulator reactivate {webhook_id}",
            details={"webhook_id": webhook_id, "url": url, "consecutive_failures": failures},
        )
        # In the dashboard the fix is a button next to the webhook, not a command to type.
        self.web_message = (
            f"Webhook {webhook_id} ({url}) is deactivated after {failures} failures in a row. Fix the receiver, "
            f"then press Reactivate next to it under Webhooks (or POST /api/webhooks/{webhook_id}/reactivate)."
        )
        self.webhook_id = webhook_id
        #: deliveries already submitted when it was found deactivated (they still run)
        self.submitted: list[int] = []


class CaptureUnreadable(UsageError):
    """An input of ``validate`` that is not there or cannot be read."""

    code = "capture_unreadable"
