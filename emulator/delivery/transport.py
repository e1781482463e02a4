"""The connection layer under :mod:`emulator.delivery.deliverer`: every attempt ends by its deadline.

requests' ``timeout`` bounds each socket operation, not the call: a receiver that sends
one byte every half second never lets a read time out, and holds an attempt (and a
worker) as long as it likes. Zenoti gives an attempt 10 s in all, and so do we.

:class:`DeadlineAdapter` is a requests adapter whose connections report their socket to
the calling thread's current :class:`Deadline` (set by :meth:`Watchdog.deadline`). One
:class:`Watchdog` thread per deliverer shuts a socket down when its deadline passes,
which ends whatever ``recv`` is blocked on it; the caller sees a broken connection, and
:attr:`Deadline.expired` says it was the deadline. The socket is shut down with the
plain ``socket`` method, below TLS, so no other thread's TLS state is touched.

Usage::

    watchdog = Watchdog()
    session.mount("http://", DeadlineAdapter())
    with watchdog.deadline(10.0) as scope:
        response = session.send(prepared, stream=True, timeout=10.0)
        ...  # read the body
        scope.end()  # before the connection goes back to the pool
        response.close()
    scope.expired  # True if the 10 s ran out first
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_local = threading.local()


class Deadline:
    """The end of one attempt: sockets watched for it are shut down once it passes."""

    def __init__(self, at: float) -> None:
        #: ``time.monotonic()`` seconds
        self.at = at
        self.expired = False
        self.done = False
        self._sockets: list[socket.socket] = []

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def watch(self, sock: socket.socket | None) -> None:
        if sock is not None and sock not in self._sockets:
            self._sockets.append(sock)


class Watchdog:
    """One thread that ends attempts at their deadline; started on first use, daemonic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def deadline(self, seconds: float) -> _Scope:
        """A context in which this thread's connections are watched for ``seconds``."""
        return _Scope(self, Deadline(time.monotonic() + seconds))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _arm(self, deadline: Deadline) -> None:
        with self._lock:
            heapq.heappush(self._heap, (deadline.at, next(self._seq), deadline))
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="zenoti-deadline", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._wake.notify()

    def _disarm(self, deadline: Deadline) -> None:
        # Left in the heap (lazy removal): marked done, it is skipped when it comes up.
        with self._lock:
            deadline.done = True
            deadline._sockets.clear()

    def _run(self) -> None:
        with self._lock:
            while not self._closed:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                left = self._heap[0][0] - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                _, _, deadline = heapq.heappop(self._heap)
                deadline.expired = True
                for sock in deadline._sockets:
                    with contextlib.suppress(OSError):  # already closed: nothing left to end
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Scope:
    def __init__(self, watchdog: Watchdog, deadline: Deadline) -> None:
        self.watchdog = watchdog
        self.deadline = deadline

    def __enter__(self) -> _Scope:
        _local.deadline = self.deadline
        self.watchdog._arm(self.deadline)
        return self

    @property
    def expired(self) -> bool:
        return self.deadline.expired

    def __exit__(self, *exc: object) -> None:
        self.end()

    def end(self) -> None:
        """Stop watching (before the connection goes back to the pool for another attempt)."""
        _local.deadline = None
        self.watchdog._disarm(self.deadline)


def _watch(sock: Any) -> None:
    deadline: Deadline | None = getattr(_local, "deadline", None)
    if deadline is not None and not deadline.done:
        deadline.watch(sock)


class _OneWrite:
    """Send a request's head and its (bytes) body in one write.

    urllib3 writes the head, then the body: two system calls, and on loopback two wake-ups
    of the receiver, per attempt; at concurrency 8 that was the largest single cost of an
    attempt in the process (issue 22). The bytes on the wire are the same.
    """

    _held: bytes | None = None
    _hold_next = False

    def request(self, method: str, url: str, body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        hold = isinstance(body, bytes) and bool(body) and not kwargs.get("chunked")
        if hold and self.sock is None:  # type: ignore[attr-defined]
            # connect first, as send() would: a proxy tunnel's CONNECT must go alone
            self.connect()  # type: ignore[attr-defined]
        self._hold_next = hold
        try:
            super().request(method, url, body=body, headers=headers, **kwargs)  # type: ignore[misc]
            if self._held is not None:  # no body followed after all: the head goes alone
                held, self._held = self._held, None
                super().send(held)  # type: ignore[misc]
        finally:
            self._held, self._hold_next = None, False

    def send(self, data: Any) -> None:
        if self._hold_next and isinstance(data, bytes):
            if self._held is None:
                self._held = data
                return
            data, self._held, self._hold_next = self._held + data, None, False
        super().send(data)  # type: ignore[misc]


class _WatchedHTTPConnection(_OneWrite, HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _watch(self.sock)  # a kept-alive connection was connected by an earlier attempt
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(_OneWrite, HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _watch(self.sock)
        return super().getresponse(*args, **kwargs)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An :class:`~requests.adapters.HTTPAdapter` whose connections a :class:`Deadline` can end."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


__all__ = ["Deadline", "DeadlineAdapter", "Watchdog"]
