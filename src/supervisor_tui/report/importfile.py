"""What every ``supervisor-tui import`` shares: reading the file, and refusing it whole.

A file with one bad row is refused with one line per bad row (file:line: what), and
nothing of it is written; an import builds its events first and appends them in one
transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from pydantic import BaseModel

from supervisor_tui.model import AgentUpserted, NewEvent, Payload, QueueUpserted, printable
from supervisor_tui.store import Store

MAX_ERRORS_SHOWN = 20


class ImportFileError(ValueError):
    """The file is refused; the message has one line per bad row (file:line: what)."""


def read_text(path: Path, what: str = "the export") -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(f"{path}: not UTF-8 text (save {what} as UTF-8)") from None


def csv_rows(
    path: Path, text: str, required: tuple[str, ...], errors: list[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, cells by lower-case header) for each row; a missing column refuses the file,
    a row with more cells than the header is one error."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        raise ImportFileError(
            f"{path}:1: the header lacks {', '.join(missing)} "
            f"(expected columns: {', '.join(required)})"
        )
    reader.fieldnames = header
    try:
        for row in reader:
            if row.get(None):
                errors.append(f"{path}:{reader.line_num}: more cells than the header has columns")
                continue
            cells = {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}
            yield reader.line_num, cells
    except csv.Error as exc:
        errors.append(f"{path}:{reader.line_num}: not valid CSV ({exc})")


def refuse_if_bad(path: Path, errors: list[str], rows: int) -> None:
    if not errors:
        return
    shown = errors[:MAX_ERRORS_SHOWN]
    if len(errors) > len(shown):
        shown.append(f"… and {len(errors) - len(shown)} more bad rows")
    raise ImportFileError(
        "\n".join([*shown, f"{path}: nothing imported ({len(errors)} bad of {rows} rows)"])
    )


def floor_time(text: str, zone: tzinfo, column: str) -> tuple[float | None, str]:
    """An ISO 8601 date-time as a timestamp (one without an offset is floor time), or the
    error to report for the row."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None, f"{column} {printable(text)!r:.60} is not an ISO 8601 date-time"
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.timestamp(), ""


def number(text: str, column: str, *, positive: bool) -> tuple[float | None, str]:
    try:
        value = float(text)
    except ValueError:
        return None, f"{column} {printable(text)!r:.30} is not a number"
    if value != value or value in (float("inf"), float("-inf")) or value > 1e9:
        return None, f"{column} {printable(text)!r:.30} is not a usable number"
    if value < 0 or (positive and value == 0):
        return None, f"{column} must be {'above' if positive else 'at least'} 0 (got {value:g})"
    return value, ""


@dataclass(frozen=True, slots=True)
class Directory:
    """The queues and agents a store knows, for matching a file's rows to them."""

    queues: dict[str, str]
    """queue id -> name"""
    agents: dict[str, tuple[str, str]]
    """agent id -> (name, e-mail)"""


def directory(store: Store, batch: int = 10_000) -> Directory:
    queues: dict[str, str] = {}
    agents: dict[str, tuple[str, str]] = {}
    seq = 0
    while True:
        events = store.read_from(seq, batch)
        if not events:
            return Directory(queues, agents)
        seq = events[-1].seq
        for event in events:
            p = event.payload
            if isinstance(p, QueueUpserted):
                queues[p.queue_id] = p.name
            elif isinstance(p, AgentUpserted):
                before = agents.get(p.agent_id, ("", ""))
                agents[p.agent_id] = (p.name, p.email or before[1])


def content_key(prefix: str, *parts: object) -> str:
    """An event key made from what it holds: importing the same file twice stores it once."""
    digest = hashlib.sha256("\x1f".join(repr(p) for p in parts).encode()).hexdigest()[:24]
    return f"{prefix}:{digest}"


def imported(source: str, at: float, payload: Payload, rows: Iterable[BaseModel]) -> NewEvent:
    """One event of an import, keyed by when it was imported and the rows it holds: a later
    import of the same rows is a new event (it wins again over one made in between)."""
    return NewEvent(
        source=source,
        key=content_key(source, at, *(r.model_dump_json() for r in rows)),
        occurred_at=at,
        received_at=at,
        payload=payload,
    )
