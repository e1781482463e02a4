"""The events one load user sends: its own shard of the world, signed, ready for the wire.

Each Locust user runs its own :class:`~emulator.events.generate.EventStream`, seeded from the
run's seed, the worker's index and the user's index (:func:`shard_seed`), so users make
different businesses' events, in the mix that business makes them, and a run is
reproducible for a seed. Ids cannot collide across users: the five "machine" bytes of
every ObjectId carry the worker and user index (:func:`shard_machine`), and within one
shard an id already sent in the same second is never sent again.

This module is pure: no Locust, no gevent, no I/O. A generator process of its own
(:mod:`emulator.load.batches`) calls :meth:`Feed.next` and hands the sending process
batches of signed bodies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..delivery.sender import JSON_CONTENT_TYPE, PreparedDelivery, serialize, user_agent
from ..delivery.signing import SIGNATURE_HEADER
from ..errors import UsageError
from ..events.generate import EventStream, ObjectIds

#: Worker and user indexes each take 16 of the ObjectId's 40 machine bits.
MAX_SHARD_INDEX = 0xFFFF


def shard_seed(seed: int, worker: int, user: int) -> int:
    """The seed of user ``user`` on worker ``worker``: a 63-bit hash of the three, so two
    shards' worlds share nothing and the same run seed gives the same shards again."""
    digest = hashlib.blake2b(f"{seed}/{worker}/{user}".encode(), digest_size=8, person=b"zenoti-load").digest()
    return int.from_bytes(digest, "big") >> 1


def shard_machine(seed: int, worker: int, user: int) -> int:
    """The 40 machine bits of every ObjectId of a shard: 8 from the run's seed, then 16 for
    the worker and 16 for the user. Two shards of a run never share them, so never an id."""
    if not (0 <= worker <= MAX_SHARD_INDEX and 0 <= user <= MAX_SHARD_INDEX):
        raise UsageError(f"A load runs at most {MAX_SHARD_INDEX + 1} workers of {MAX_SHARD_INDEX + 1} users each.")
    top = hashlib.blake2b(str(seed).encode(), digest_size=1).digest()[0]
    return top << 32 | worker << 16 | user


@dataclass(frozen=True, slots=True)
class Shot:
    """One event, ready to send: its type and id (for the report), and the signed request."""

    event_type: str
    event_id: str
    body: bytes
    #: the Content-Type, User-Agent and signature headers (Locust copies them per request)
    headers: dict[str, str]
    #: the signature header's value (``None`` unsigned): what a batch carries to the sender
    signature: str | None = None


@dataclass
class Feed:
    """The events of one shard, one :class:`Shot` at a time, for ever (the world runs on).

    :param types: the event types sent (all when ``None``: the business's own mix).
    :param variants: readings of disputed facts, ``{name: value}`` (:mod:`emulator.variants`),
        passed to the event stream as generate passes them.
    """

    seed: int
    worker: int
    user: int
    secret: str | None = None
    signature_format: str = "dashed"
    verb: str = "POST"
    types: Collection[str] | None = None
    profile: str = "realistic"
    variants: Mapping[str, Any] = field(default_factory=dict)
    now: datetime | None = None

    def __post_init__(self) -> None:
        self.stream = EventStream(
            seed=shard_seed(self.seed, self.worker, self.user),
            now=self.now,
            profile=self.profile,
            types=self.types,
            variants=dict(self.variants) or None,
        )
        self.stream.project.ids = ObjectIds(shard_machine(self.seed, self.worker, self.user))
        self._events = iter(self.stream)
        self._headers = {"Content-Type": JSON_CONTENT_TYPE, "User-Agent": user_agent()}
        # ids of the current (simulated) second: an id drawn twice in one second is skipped
        self._second = ""
        self._seen: set[str] = set()

    @property
    def headers(self) -> dict[str, str]:
        """Every header but the signature: the same for every event of the run."""
        return dict(self._headers)

    def next(self) -> Shot:
        """The shard's next event, serialised once and signed as Zenoti signs it."""
        while True:
            event = next(self._events)
            event_id = str(event.get("id"))
            second = event_id[:8]
            if second != self._second:
                self._second, self._seen = second, set()
            if event_id not in self._seen:
                break
        self._seen.add(event_id)
        prepared = PreparedDelivery(self.verb, "", serialize(event), self._headers, self.secret, self.signature_format)
        signature = prepared.signature
        headers = dict(prepared.headers)
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
        return Shot(str(event.get("event_type")), event_id, prepared.body, headers, signature)
