"""``supervisor-tui import surveys FILE.csv``: survey answers (0–10) into a store, for NPS.

Every row is checked before anything is written: a file with one bad row is refused whole,
with one line per bad row, and nothing is half-imported. Each answer's event key is made
from its row, so importing the same file twice stores it once.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import NewEvent, SurveyAnswered

SURVEY_SOURCE = "surveys"
COLUMNS = ("ticket", "requester", "score", "answered_at")
MAX_ERRORS_SHOWN = 20


class SurveyFileError(ValueError):
    """The file is refused; the message has one line per bad row (file:line: what)."""


@dataclass(frozen=True, slots=True)
class SurveyImport:
    events: list[NewEvent]
    rows: int


def read_surveys(path: Path, floor: FloorTargets, source: str = SURVEY_SOURCE) -> SurveyImport:
    """The answers of a CSV file with a header naming ``score``, ``answered_at`` and
    ``ticket`` or ``requester`` (other columns are ignored). ``answered_at`` is ISO 8601; one
    without an offset is floor time. Raises SurveyFileError naming every bad row."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise SurveyFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise SurveyFileError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SurveyFileError(f"{path}: not UTF-8 text (save the export as UTF-8 CSV)") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in ("score", "answered_at") if c not in header]
    if "ticket" not in header and "requester" not in header:
        missing.append("ticket or requester")
    if missing:
        raise SurveyFileError(
            f"{path}:1: the header lacks {', '.join(missing)} "
            f"(expected columns: {', '.join(COLUMNS)})"
        )
    reader.fieldnames = header
    errors: list[str] = []
    events: list[NewEvent] = []
    rows = 0
    try:
        for row in reader:
            rows += 1
            line = reader.line_num
            problem, event = _answer(row, floor, source)
            if problem:
                errors.append(f"{path}:{line}: {problem}")
            elif event is not None:
                events.append(event)
    except csv.Error as exc:
        errors.append(f"{path}:{reader.line_num}: not valid CSV ({exc})")
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        if len(errors) > len(shown):
            shown.append(f"… and {len(errors) - len(shown)} more bad rows")
        raise SurveyFileError(
            "\n".join([*shown, f"{path}: nothing imported ({len(errors)} bad of {rows} rows)"])
        )
    return SurveyImport(events, rows)


def _answer(
    row: dict[str | None, str | list[str] | None], floor: FloorTargets, source: str
) -> tuple[str, NewEvent | None]:
    if row.get(None):
        return "more cells than the header has columns", None
    cell = {k: (v or "").strip() if isinstance(v, str) else "" for k, v in row.items() if k}
    ticket, requester = cell.get("ticket", ""), cell.get("requester", "")
    if not ticket and not requester:
        return "neither a ticket nor a requester", None
    raw_score = cell.get("score", "")
    if not raw_score.isdigit() or not 0 <= int(raw_score) <= 10:
        return f"score {raw_score!r} is not a whole number from 0 to 10", None
    raw_at = cell.get("answered_at", "")
    try:
        at = datetime.fromisoformat(raw_at)
    except ValueError:
        return f"answered_at {raw_at!r} is not an ISO 8601 date-time", None
    if at.tzinfo is None:
        at = at.replace(tzinfo=floor.zone())
    when = at.timestamp()
    payload = SurveyAnswered(
        ticket_id=ticket or None, requester=requester, score=int(raw_score), at=when
    )
    digest = hashlib.sha256(
        f"{ticket}\x1f{requester}\x1f{raw_score}\x1f{when!r}".encode()
    ).hexdigest()[:24]
    return "", NewEvent(
        source=source,
        key=f"survey:{digest}",
        occurred_at=when,
        received_at=when,
        payload=payload,
    )
