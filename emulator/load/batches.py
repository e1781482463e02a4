"""Events made in a process of their own, handed to the sending process in batches.

Making an event (the simulated business acting, projection, schema check, JSON, signing)
costs about as much CPU as sending it: in the sending process it halved what one Locust
worker sent. So each sending process starts one generator process (``python -m
emulator.load.batches``) that holds its users' :class:`~emulator.load.feed.Feed` s and
answers "the next N events of shard (worker, user)" with those events serialised and
signed, ready for the wire. The sender only pops a body and sends it; on a machine with
a core to spare, generation no longer limits the send rate.

What is sent does not change: the shards are the same (:func:`~.feed.shard_seed`,
:func:`~.feed.shard_machine` by worker and user index), so ids stay distinct across users
and workers, and every batch comes from its shard's one feed, in order.

The protocol, over the child's stdin and stdout:

- out, first: the frame ``(-1, -1, [])`` once the child has loaded schemas and Faker
  (it starts at once; a Locust worker learns the run's options from its master later);
- in: a line of JSON (the run's seed and the ``Feed`` options: the secret goes this way,
  never on the command line), then lines ``WORKER USER COUNT``;
- out: frames of a 4-byte big-endian length and a pickle of ``(user, worker, shots)``,
  ``shots`` a list of ``(event_type, event_id, body, signature)``; a shard whose world has
  run out answers fewer, then none; ``(-2, -2, message)`` is a refusal (a bad event type...).

This module uses ``subprocess`` through the module (not ``from subprocess import``), so
under Locust it is gevent's cooperative ``Popen``, and reading a frame yields to the users.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import struct
import subprocess
import sys
from collections.abc import Mapping
from typing import IO, Any

from ..errors import EmulatorError, UsageError
from .feed import Feed

READY = -1
REFUSED = -2
_LENGTH = struct.Struct(">I")
#: One shot on the wire between the processes: type, id, body, signature (or None).
WireShot = tuple[str, str, bytes, "str | None"]


def feed_options(
    seed: int,
    *,
    secret: str | None = None,
    signature_format: str = "dashed",
    verb: str = "POST",
    types: list[str] | None = None,
    profile: str = "realistic",
    variants: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The first line the child reads: what every shard's :class:`Feed` is built with."""
    return {
        "seed": seed,
        "secret": secret,
        "signature_format": signature_format,
        "verb": verb,
        "types": types,
        "profile": profile,
        "variants": dict(variants or {}),
    }


class GeneratorProcess:
    """The sending side's handle on one generator child: ask for batches, read frames."""

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "emulator.load.batches"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in: IO[bytes] = self.proc.stdin
        self._out: IO[bytes] = self.proc.stdout
        self.configured = False
        if options is not None:
            self.configure(options)

    def configure(self, options: Mapping[str, Any]) -> None:
        """The run's seed and feed options (:func:`feed_options`): once, before any :meth:`ask`."""
        self._in.write(json.dumps(dict(options)).encode() + b"\n")
        self.configured = True

    def ask(self, worker: int, user: int, count: int) -> None:
        """Ask for the next ``count`` events of shard (worker, user); a frame answers."""
        self._in.write(b"%d %d %d\n" % (worker, user, count))

    def read(self) -> tuple[int, int, Any]:
        """The next frame, ``(user, worker, shots)``; ``EOFError`` when the child has gone,
        :class:`UsageError` when it refused the options."""
        head = _read_exactly(self._out, _LENGTH.size)
        user, worker, data = pickle.loads(_read_exactly(self._out, _LENGTH.unpack(head)[0]))
        if user == REFUSED:
            raise UsageError(str(data))
        return user, worker, data

    def wait_ready(self) -> None:
        """Until the child has loaded schemas and Faker (a second or two)."""
        user, _, _ = self.read()
        if user != READY:
            raise RuntimeError(f"the event generator answered {user!r} before it was ready")

    def close(self) -> None:
        for pipe in (self._in, self._out):
            with contextlib.suppress(OSError):
                pipe.close()
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise EOFError("the event generator has gone")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _write_frame(out: IO[bytes], frame: Any) -> None:
    data = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_LENGTH.pack(len(data)) + data)
    out.flush()


def _batch(feed: Feed, count: int) -> list[WireShot]:
    shots: list[WireShot] = []
    try:
        for _ in range(count):
            shot = feed.next()
            shots.append((shot.event_type, shot.event_id, shot.body, shot.signature))
    except StopIteration:  # the world ran out of time (2106): fewer, then none
        pass
    return shots


def serve(lines: IO[bytes], out: IO[bytes]) -> None:
    """The child's loop: build each shard's feed on its first request, answer each request."""
    # schemas and Faker load here, before the sender's first request waits on them
    Feed(0, 0, 0).next()
    _write_frame(out, (READY, READY, []))
    first = lines.readline()
    if not first:
        return
    options = json.loads(first)
    seed = int(options.pop("seed"))
    feeds: dict[tuple[int, int], Feed] = {}
    for line in lines:
        worker, user, count = (int(field) for field in line.split())
        feed = feeds.get((worker, user))
        if feed is None:
            try:
                feed = feeds[(worker, user)] = Feed(seed, worker, user, **options)
            except EmulatorError as refused:
                _write_frame(out, (REFUSED, REFUSED, str(refused)))
                return
        _write_frame(out, (user, worker, _batch(feed, count)))


def main() -> None:
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):  # the sender has gone: so do we
        serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
