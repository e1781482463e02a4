"""Where a command writes its output: ``-o/--output FILE``, opened or refused in one line."""

from __future__ import annotations

from typing import TextIO

from ..errors import UsageError


def open_output(path: str, option: str = "--output") -> TextIO:
    """Open ``path`` for writing text, before any work is done.

    :raise UsageError: a missing folder, a directory, no permission: what failed and
        which option to change, instead of an ``OSError`` traceback.
    """
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot write {path}: {exc.strerror or exc}. Choose another {option}.") from None
