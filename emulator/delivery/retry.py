"""When Zenoti tries again: the retry policy, and the options a deliverer runs with.

:class:`RetryPolicy` is pure data plus a pure :meth:`~RetryPolicy.delays`: up to 5
retries with exponential backoff between 30 s and 10 min, with jitter, and the webhook
deactivated after 20 failures in a row (``ZENOTI_WEBHOOKS.md``). :class:`DeliveryOptions`
gathers what a command or the API chooses for a run.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..bounds import MAX_TIME_SCALE, MAX_TIMEOUT, MIN_TIME_SCALE, check_time_scale, parse_seconds
from ..defaults import DEFAULT_DEACTIVATE_AFTER, DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT, FAILURE_UNITS
from ..errors import UsageError
from . import signing

#: The backoff between attempts stays within these bounds (seconds, unscaled).
MIN_BACKOFF = 30.0
MAX_BACKOFF = 600.0
#: Each wait is its nominal value plus or minus this fraction, kept within the bounds.
DEFAULT_JITTER = 0.2


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them (unscaled seconds).

    The nominal waits grow geometrically from ``min_delay`` (before the first retry) to
    ``max_delay`` (before the last): with the defaults 30 s, 63 s, 134 s, 284 s, 600 s.
    Jitter moves each by up to ``jitter`` of its value either way, never outside
    ``[min_delay, max_delay]``.

    :raise UsageError: for a policy that cannot work (no attempt, negative waits).
    """

    #: the first attempt plus the retries; always finite
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    min_delay: float = MIN_BACKOFF
    max_delay: float = MAX_BACKOFF
    jitter: float = DEFAULT_JITTER

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise UsageError(f"max_attempts must be at least 1, not {self.max_attempts}.")
        if not 0 < self.min_delay <= self.max_delay:
            raise UsageError(f"Backoff bounds must satisfy 0 < min <= max, not {self.min_delay}..{self.max_delay}.")
        if not 0 <= self.jitter < 1:
            raise UsageError(f"jitter must be in [0, 1), not {self.jitter}.")

    @classmethod
    def no_retry(cls) -> RetryPolicy:
        """One attempt and no retry (``fire --no-retry``)."""
        return cls(max_attempts=1)

    @property
    def retries(self) -> int:
        return self.max_attempts - 1

    def nominal(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1-based), before jitter."""
        if self.retries <= 1:
            return self.min_delay
        ratio = self.max_delay / self.min_delay
        return float(self.min_delay * ratio ** ((retry - 1) / (self.retries - 1)))

    def bounds(self, retry: int) -> tuple[float, float]:
        """The smallest and largest wait jitter can give before retry ``retry``."""
        base = self.nominal(retry)
        return max(self.min_delay, base * (1 - self.jitter)), min(self.max_delay, base * (1 + self.jitter))

    def delay(self, retry: int, rng: random.Random) -> float:
        """The wait before retry ``retry`` (1-based), jittered with ``rng``."""
        base = self.nominal(retry)
        jittered = base * (1 + self.jitter * (2 * rng.random() - 1))
        return min(self.max_delay, max(self.min_delay, jittered))

    def delays(self, rng: random.Random) -> list[float]:
        """Every wait of a delivery that fails every attempt: pure, given ``rng``."""
        return [self.delay(k, rng) for k in range(1, self.max_attempts)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetryPolicy:
        return cls(**{k: data[k] for k in ("max_attempts", "min_delay", "max_delay", "jitter") if k in data})


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    """How one delivery is made; stored with it, so a resumed delivery behaves the same."""

    #: seconds to wait for a response, per attempt
    timeout: float = DEFAULT_TIMEOUT
    #: divides every wait between attempts (600 turns 10 min into 1 s)
    time_scale: float = 1.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    #: send ``Content-Type: application/json; charset=utf-8`` (real Zenoti may not)
    content_type: bool = True
    #: ``dashed`` (reported) or ``hex``
    signature_format: str = "dashed"
    #: ``attempt``: every failed attempt counts towards deactivation; ``event``: only an
    #: event whose retries ran out
    failure_unit: str = "attempt"
    #: failures in a row that deactivate the webhook; 0 never deactivates
    deactivate_after: int = DEFAULT_DEACTIVATE_AFTER
    #: headers sent with every attempt, after Content-Type: what a relay passes on from
    #: the request it received (a signature here is replaced when the webhook has a secret)
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # finite and bounded: a timeout of inf would hold an attempt (and resume) for ever
        parse_seconds(self.timeout, what="Timeout")
        check_time_scale(self.time_scale, what="Time scale")
        if self.signature_format not in signing.SIGNATURE_FORMATS:
            raise UsageError(
                f"Signature format must be one of {', '.join(signing.SIGNATURE_FORMATS)}, not {self.signature_format!r}."
            )
        if self.failure_unit not in FAILURE_UNITS:
            raise UsageError(f"Failure unit must be one of {', '.join(FAILURE_UNITS)}, not {self.failure_unit!r}.")
        if self.deactivate_after < 0:
            raise UsageError(f"deactivate_after must be 0 (never) or more, not {self.deactivate_after}.")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["policy"] = self.policy.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeliveryOptions:
        """Options as stored with a delivery.

        A log written before timeouts were bounded may hold ``Infinity``: it is read as
        :data:`~emulator.bounds.MAX_TIMEOUT`, so ``resume`` cannot hold an attempt for ever.
        """
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "policy"}
        timeout = known.get("timeout")
        if isinstance(timeout, (int, float)) and not 0 < timeout <= MAX_TIMEOUT:
            known["timeout"] = MAX_TIMEOUT if timeout > 0 else DEFAULT_TIMEOUT
        scale = known.get("time_scale")
        if isinstance(scale, (int, float)) and not MIN_TIME_SCALE <= scale <= MAX_TIME_SCALE:
            # written before time scales were bounded (1e-320): the nearest bound
            known["time_scale"] = MAX_TIME_SCALE if scale > MAX_TIME_SCALE else MIN_TIME_SCALE
        return cls(policy=RetryPolicy.from_dict(data.get("policy", {})), **known)
