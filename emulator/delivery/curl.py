"""A logged request as a ``curl`` command line, to send the same bytes again by hand.

The body goes in as one single-quoted ``--data-binary`` argument: exactly the bytes that
were signed (a heredoc would add a newline and break the signature). Headers curl sets
itself from the arguments (``Content-Length``, ``Host``) or that only describe the
connection are left out.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

#: Headers curl computes itself, or that describe this connection rather than the request.
_LEFT_OUT = frozenset({"content-length", "host", "connection", "accept-encoding", "transfer-encoding"})


def as_curl(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> str:
    """``curl -X POST URL -H ... --data-binary '...'``, one argument per line."""
    parts = [f"curl -sS -X {shlex.quote(method)} {shlex.quote(url)}"]
    for name, value in headers.items():
        if name.lower() not in _LEFT_OUT:
            parts.append(f"-H {shlex.quote(f'{name}: {value}')}")
    if not any(name.lower() == "content-type" for name in headers):
        parts.append("-H 'Content-Type:'")  # curl would add form-urlencoded; Zenoti may send none
    if body:
        parts.append(f"--data-binary {shlex.quote(body.decode('utf-8', 'replace'))}")
    return " \\\n  ".join(parts)
