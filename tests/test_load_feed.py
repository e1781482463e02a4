"""The pure pieces of ``load``: each user's shard of the world, and the tally of answers.

These import neither Locust nor gevent (which would monkey-patch the test process); the
whole command runs against a real receiver in ``tests/test_load.py``.
"""

from __future__ import annotations

import json
import sys

import pytest

from emulator.delivery.signing import SIGNATURE_HEADER, verify
from emulator.errors import UsageError
from emulator.load.batches import GeneratorProcess, feed_options
from emulator.load.feed import MAX_SHARD_INDEX, Feed, shard_machine, shard_seed
from emulator.load.tally import Tally, status_class


def test_the_pure_pieces_load_no_locust() -> None:
    assert "locust" not in sys.modules and "gevent" not in sys.modules


def test_shards_never_share_machine_bytes_or_seeds() -> None:
    shards = [(w, u) for w in range(4) for u in range(50)]
    assert len({shard_machine(7, w, u) for w, u in shards}) == len(shards)
    assert len({shard_seed(7, w, u) for w, u in shards}) == len(shards)
    assert shard_seed(7, 1, 2) == shard_seed(7, 1, 2) != shard_seed(8, 1, 2)
    with pytest.raises(UsageError):
        shard_machine(7, MAX_SHARD_INDEX + 1, 0)


def test_users_send_distinct_ids_signed_as_zenoti_signs() -> None:
    feeds = [Feed(5, w, u, secret="s3cret") for w in range(2) for u in range(3)]
    ids: list[str] = []
    for feed in feeds:
        for _ in range(150):
            shot = feed.next()
            event = json.loads(shot.body)
            assert shot.event_id == event["id"] and shot.event_type == event["event_type"]
            assert verify(shot.body, shot.headers[SIGNATURE_HEADER], "s3cret")
            assert shot.headers[SIGNATURE_HEADER].startswith("sha256 =")
            ids.extend((event["id"], event["event_id"]))
    assert len(ids) == len(set(ids))


def test_a_feed_follows_the_business_mix_unless_narrowed() -> None:
    mixed = {s.event_type for s in _take(Feed(1, 0, 0), 400)}
    assert len(mixed) > 3
    narrowed = {s.event_type for s in _take(Feed(1, 0, 0, types=["Guest.Created"]), 20)}
    assert narrowed == {"Guest.Created"}


def test_a_feed_passes_variants_as_generate_does() -> None:
    [shot] = _take(Feed(3, 0, 0, types=["Invoice.Closed"], variants={"invoice-guest-email": "guest_email"}), 1)
    guest = json.loads(shot.body)["data"]["invoice"]["guest"]
    assert "guest_email" in guest and "email" not in guest


def _take(feed: Feed, n: int) -> list:
    return [feed.next() for _ in range(n)]


def test_status_classes() -> None:
    assert [status_class(s) for s in (200, 204, 302, 404, 429, 503)] == ["2xx", "2xx", "3xx", "4xx", "429", "5xx"]
    assert status_class(None, "ConnectionRefusedError(111)") == "connection"
    assert status_class(None, "timeout('timed out')") == "timeout"


def test_tallies_merge_as_workers_report_them() -> None:
    a, b = Tally(), Tally()
    for i in range(90):
        a.add("Guest.Created", "2xx", 5, 1000.0 + i / 100)
    for _ in range(10):
        b.add("Invoice.Closed", "5xx", 2000, 1001.5)
    merged = Tally.merged([a.to_dict(), b.to_dict()])
    assert merged.sent == 100 and merged.ok == 90
    assert merged.by_class() == {"2xx": 90, "5xx": 10}
    assert merged.by_type() == {"Guest.Created": {"2xx": 90}, "Invoice.Closed": {"5xx": 10}}
    assert merged.percentile(0.5) == 5 and merged.percentile(0.95) == 2000
    summary = merged.summary(2.0)
    assert summary["events_sent"] == 100 and not summary["all_ok"] and summary["throughput"]


def test_a_2xx_slower_than_zenotis_timeout_is_not_a_success() -> None:
    tally = Tally()
    tally.add("Guest.Created", "2xx", 10_500, 1000.0)
    assert tally.ok == 0 and not tally.summary(1.0)["all_ok"]


def test_a_generator_process_sends_each_shards_own_events_in_batches() -> None:
    """The batches a sender gets from its generator child are its shard's: the ids carry
    the shard's machine bytes, never repeat across users, workers or batches, and every
    body is signed."""
    child = GeneratorProcess(feed_options(5, secret="s3cret"))
    try:
        child.wait_ready()
        got: dict[tuple[int, int], list] = {}
        for _ in range(3):  # three batches a shard, the shards' requests interleaved
            for worker in range(2):
                for user in range(3):
                    child.ask(worker, user, 40)
            for _ in range(6):
                user, worker, shots = child.read()
                assert len(shots) == 40
                got.setdefault((worker, user), []).extend(shots)
    finally:
        child.close()
    ids = [event_id for shots in got.values() for _, event_id, _, _ in shots]
    assert len(ids) == 6 * 120 == len(set(ids))
    for (worker, user), shots in got.items():
        for event_type, event_id, body, signature in shots:
            event = json.loads(body)
            assert (event["event_type"], event["id"]) == (event_type, event_id)
            assert int(event_id[8:18], 16) == shard_machine(5, worker, user)
            assert verify(body, signature, "s3cret")


def test_a_generator_process_refuses_what_a_feed_refuses() -> None:
    child = GeneratorProcess(feed_options(1, types=["No.Such.Event"]))
    try:
        child.wait_ready()
        child.ask(0, 0, 1)
        with pytest.raises(UsageError):
            child.read()
    finally:
        child.close()
