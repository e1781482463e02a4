"""What keeps a local server that sends requests on command from being driven by a web page.

The emulator listens on 127.0.0.1 and sends HTTP requests to URLs it is given. Any page
open in the developer's browser can make requests to 127.0.0.1 too, so:

- **DNS rebinding**: a page on ``evil.example`` whose name is re-pointed at 127.0.0.1
  reaches us with ``Host: evil.example``. Every request whose ``Host`` is not the address
  we are bound to, ``localhost`` or a loopback address (or a name in ``ALLOWED_HOSTS``)
  is refused with 403.
- **Cross-site writes**: a page can POST a form or a "simple" ``fetch`` without asking.
  API writes must carry ``Content-Type: application/json``, which a browser only sends
  cross-site after a CORS preflight, and we answer no preflight (no CORS headers at all).
  Writes that carry an ``Origin`` (or ``Sec-Fetch-Site``) header must come from our own
  origin. ``DELETE`` cannot be sent cross-site without a preflight, so it needs no body.
- **Size**: bodies larger than ``MAX_CONTENT_LENGTH`` are refused with 413 before they
  are read.

The sinks under ``/sink/`` are receivers: they accept any content type from anywhere,
as a real receiver would, but still only under an allowed ``Host``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import EmulatorError

#: Methods that change something and therefore get the write checks.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Methods whose body must be declared JSON (DELETE is preflighted by browsers anyway).
JSON_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: Names that always mean this machine.
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class HostNotAllowed(EmulatorError):
    status_code = 403
    code = "host_not_allowed"


class CrossOriginWrite(EmulatorError):
    status_code = 403
    code = "cross_origin"


class NotJson(EmulatorError):
    status_code = 415
    code = "unsupported_media_type"


def host_name(host_header: str) -> str:
    """``Host`` header -> the bare host name: ``[::1]:8025`` -> ``::1``, ``LocalHost.`` -> ``localhost``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return host.rstrip(".")


def is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_hosts(app: Flask) -> frozenset[str]:
    """The bound host, plus ``ALLOWED_HOSTS``; loopback names are always allowed."""
    configured = app.config.get("ALLOWED_HOSTS") or ()
    if isinstance(configured, str):  # ZENOTI_EMULATOR_ALLOWED_HOSTS=a.example,b.example
        configured = configured.split(",")
    names = {host_name(h) for h in configured if h.strip()}
    bound = app.config.get("BIND_HOST")
    if bound and bound not in {"0.0.0.0", "::"}:  # a wildcard bind is not a name to allow
        names.add(host_name(bound))
    return frozenset(names)


def check_host() -> None:
    name = host_name(request.host or "")
    if is_loopback(name) or name in allowed_hosts(current_app):
        return
    raise HostNotAllowed(
        f"Host {request.host!r} is not allowed: this server answers only to its own address."
        " Add the name to ZENOTI_EMULATOR_ALLOWED_HOSTS if you really mean to reach it that way.",
        details={"host": request.host},
    )


def check_same_origin() -> None:
    """A write carrying ``Origin`` must come from the origin it is sent to."""
    origin = request.headers.get("Origin")
    if origin is not None:
        parts = urlsplit(origin)
        if origin == "null" or (parts.netloc.lower() != (request.host or "").lower()):
            raise CrossOriginWrite(
                f"Refused a {request.method} from origin {origin!r}: only this server's own pages may write.",
                details={"origin": origin},
            )
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site not in (None, "same-origin", "none"):
        raise CrossOriginWrite(
            f"Refused a {request.method} from a {fetch_site} page: only this server's own pages may write.",
            details={"sec_fetch_site": fetch_site},
        )


def check_json_body(*, allow_empty: bool = True) -> None:
    """Writes carry JSON, which a page of another origin cannot send without a preflight.

    A write with no body at all and no ``Content-Type`` is let through (``allow_empty``):
    it carries nothing to misread, the actions whose body is optional (replay, ping,
    reactivate) need none, and a cross-origin page sending one was already refused by its
    ``Origin``. A view whose body is required calls this again with ``allow_empty=False``.
    """
    if (
        allow_empty
        and request.method in JSON_METHODS
        and not request.content_type
        and not request.content_length
        and not _has_body()
    ):
        return
    if request.method in JSON_METHODS and request.mimetype != "application/json":
        raise NotJson(
            f"{request.method} {request.path} needs 'Content-Type: application/json'"
            f" (got {request.content_type or 'none'!r}).",
            details={"content_type": request.content_type},
        )


def _has_body() -> bool:
    # A chunked request has no Content-Length; it has a body if the stream has a byte.
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def check_size() -> None:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"The body is {request.content_length} bytes; the limit is {limit}.")


def _before_request() -> None:
    check_host()
    check_size()
    if request.routing_exception is not None:
        return  # an unknown path or method: the 404 or 405 says more than a content check
    if request.method not in WRITE_METHODS or request.path.startswith("/sink/"):
        return
    check_same_origin()
    if request.path.startswith("/api/"):
        check_json_body()


def _headers(response: Response) -> Response:
    # No Access-Control-* header is ever set: a browser page elsewhere reads nothing from us.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    if response.mimetype == "text/html":
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
            " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        )
    return response


def init_app(app: Flask) -> None:
    """Run the checks before every request and add the protective headers after it."""
    app.before_request(_before_request)
    app.after_request(_headers)
