"""The log of ``run``, ``serve``, ``demo``, ``check`` and ``watch``: one line per event that
matters at 3 a.m.

A file only its owner can read (0600, also each file rotation starts), rotated by size, in
plain text or JSON lines. Text from a helpdesk or a terminal may be quoted in a message, so
control characters are escaped: a ticket title cannot forge a line of its own.

The log stays in English whatever the floor's language (``--lang``, ``[display] language``):
it is for operators, their grep and their alerting rules, and a line must read the same on
every floor. What a user reads on screen or on a command's output is translated instead
(``supervisor_tui.i18n``); a source's health reason is logged in English and shown in the
board's language (``model.reasons``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import logging.handlers
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LEVELS = ("debug", "info", "warning", "error")
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 5
"""Rotation: up to 10 MB a file, the five before it kept (FILE.log.1 … FILE.log.5)."""

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _one_line(text: str) -> str:
    """Control characters (a newline, an escape sequence) shown as escapes, never acted on."""
    if all(ch >= " " and ch != "\x7f" for ch in text):
        return text
    return "".join(ch if ch >= " " and ch != "\x7f" else repr(ch)[1:-1] for ch in text)


class TextLines(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        # a traceback too stays on its line (its newlines escaped), so a line is an event
        return _one_line(super().format(record))


class JsonLines(logging.Formatter):
    """One JSON object a line: ``at`` (UTC, ISO 8601), ``level``, ``logger``, ``message``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler whose files are created 0600 (and an existing one made so)."""

    def _open(self) -> io.TextIOWrapper:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.baseFilename, flags, 0o600)
        # an existing file made 0600 too (one left by an older version, or copied in)
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)
        return open(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)


def log_to(path: Path, *, level: str = "info", json_lines: bool = False) -> Path:
    """Send every logger's lines at ``level`` and above to ``path`` (OSError if it cannot be
    written). Replaces the file an earlier call set up, so one process logs to one file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = PrivateRotatingFile(
        path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(JsonLines() if json_lines else TextLines())
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, PrivateRotatingFile):  # ours; another's handler stays
            root.removeHandler(old)
            old.close()
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    # httpx logs every request at INFO with its full URL (a query may carry a cursor):
    # ours are the lines that say what happened
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("websockets").setLevel(max(logging.WARNING, root.level))
    return path


@contextlib.contextmanager
def logging_to(path: Path, *, level: str = "info", json_lines: bool = False) -> Iterator[Path]:
    """:func:`log_to` for one command's life: the file is closed and the root logger's level
    put back when it ends (``main`` is also called in-process, by tests and tools)."""
    root = logging.getLogger()
    before = root.level
    log_to(path, level=level, json_lines=json_lines)
    try:
        yield path
    finally:
        for handler in list(root.handlers):
            if isinstance(handler, PrivateRotatingFile):
                root.removeHandler(handler)
                handler.close()
        root.setLevel(before)
