"""Target URLs as they may be shown: a password in ``user:password@host`` never is.

A receiver behind HTTP Basic auth is configured as ``https://alice:PW@host/hook``. The
emulator keeps that URL to send to (the log needs it to retry and replay), but every
place that shows or returns a URL (the API, the dashboard, the CLI tables, the attempt
log) shows :func:`redact_url` of it: ``https://alice:****@host/hook``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from .errors import UsageError

#: What a password is replaced with.
MASK = "****"
#: The longest target URL accepted (the API documents the same ``maxLength``).
MAX_URL_LENGTH = 2048


def check_url(url: str) -> str:
    """An http(s) URL with a host that can be sent to, or a :class:`UsageError` saying why not.

    Refused: another scheme (the emulator must not become a file reader), no host, a port
    outside 0..65535, whitespace or control characters, anything not ASCII (RFC 3986; an
    international host name is written in its ``xn--`` form), a host name with an empty
    or over-long label, and more than :data:`MAX_URL_LENGTH` characters.
    """
    shown = redact_text(url)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    if len(url) > MAX_URL_LENGTH:
        raise UsageError(f"Target URL is {len(url)} characters long; the limit is {MAX_URL_LENGTH}.")
    if not url.isascii():  # RFC 3986, what format "uri" means; requests would mangle some
        raise UsageError(
            f"Target URL {shown!r} holds non-ASCII characters: percent-encode them, and write an "
            "international host name in its xn-- form."
        )
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise UsageError(f"Target URL {shown!r} holds whitespace or control characters; percent-encode them.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number in 0..65535
    except ValueError as exc:  # an unclosed [IPv6 bracket, a port of letters
        raise UsageError(f"Target URL {shown!r} is malformed: {exc}.") from None
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"Target URL must start with http:// or https://, not {shown!r}.")
    if not parts.hostname:
        raise UsageError(f"Target URL has no host: {shown!r}.")
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        raise UsageError(
            f"Target URL {shown!r} has a host name that is not valid (empty or over-long labels?)."
        ) from None
    return url


#: ``scheme://user:password@``: the password runs to the last ``@`` before the path (a
#: password may hold an ``@``; ``/``, ``?``, ``#`` and white space end the authority).
_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/?#\s:@]*):[^/?#\s]*@")


def redact_text(text: str) -> str:
    """``text`` with the password of every URL in it masked (user names are kept).

    The one masking rule, for a URL alone or a message that quotes one (an error, a
    banner), well formed or not.
    """
    if "@" not in text:
        return text
    return _PASSWORD.sub(rf"\1:{MASK}@", text)


def redact_url(url: str) -> str:
    """``url`` with the password of its user-info masked (the user name is kept): :func:`redact_text`."""
    return redact_text(url)


#: Headers that carry credentials: logged as their scheme only.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with credentials masked: ``Authorization: Basic <redacted>``.

    requests derives ``Authorization: Basic ...`` from a URL's ``user:password@``; what
    is shown says that one was sent, not what it was. Applied when an attempt is logged
    and again when one is read back, so a log written before this masking shows none.
    """
    return {k: f"{v.split(' ', 1)[0]} <redacted>" if k.lower() in CREDENTIAL_HEADERS else v for k, v in headers.items()}


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries ``user[:password]@``."""
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return False


__all__ = ["MASK", "MAX_URL_LENGTH", "check_url", "has_credentials", "redact_headers", "redact_text", "redact_url"]
