"""Target URLs as they may be shown: a password in ``user:password@host`` never is.

A receiver behind HTTP Basic auth is configured as ``https://alice:PW@host/hook``. The
emulator keeps that URL to send to (the log needs it to retry and replay), but every
place that shows or returns a URL (the API, the dashboard, the CLI tables, the attempt
log) shows :func:`redact_url` of it: ``https://alice:****@host/hook``.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

#: What a password is replaced with.
MASK = "****"


def redact_url(url: str) -> str:
    """``url`` with the password of its user-info masked (the user name is kept).

    A URL without credentials, or one that does not parse, is returned as it is: a
    malformed URL was refused before it could be stored.
    """
    if "@" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    shown = f"{user}:{MASK}" if colon else user
    return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries ``user[:password]@``."""
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return False


__all__ = ["MASK", "has_credentials", "redact_url"]
