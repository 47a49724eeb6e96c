"""``supervisor-tui import schedule FILE``: agents' planned activities into the store.

From CSV (columns ``agent``, ``start``, ``end``, ``activity``) or iCalendar (.ics: one
VEVENT per activity; the agent is the event's ATTENDEE e-mail or CN, else its ORGANIZER, else
the calendar's name X-WR-CALNAME; the activity is its SUMMARY). An agent is matched to a
helpdesk agent by e-mail, else by name; a row that matches none, or more than one, is an
error, and a file with one bad row is refused whole. Times without an offset are floor time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from itertools import pairwise
from pathlib import Path
from typing import Any

import icalendar

from supervisor_tui.core.intraday import SCHEDULE_SOURCE
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import NewEvent, ScheduledActivity, ScheduleImported, printable
from supervisor_tui.report.importfile import (
    Directory,
    ImportFileError,
    csv_rows,
    floor_time,
    imported,
    read_text,
    refuse_if_bad,
)

COLUMNS = ("agent", "start", "end", "activity")
ROWS_PER_EVENT = 500
LONGEST_ACTIVITY_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class ScheduleImport:
    events: list[NewEvent]
    rows: int
    agents: int


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    agent: str
    start: float | None
    end: float | None
    activity: str
    problem: str = ""


class AgentMatcher:
    """Finds a helpdesk agent by e-mail (any case) or by name (any case); two agents of one
    name are not guessed between."""

    def __init__(self, known: Directory) -> None:
        self.by_email: dict[str, list[str]] = {}
        self.by_name: dict[str, list[str]] = {}
        for agent_id, (name, email) in known.agents.items():
            if email:
                self.by_email.setdefault(email.casefold(), []).append(agent_id)
            self.by_name.setdefault(name.strip().casefold(), []).append(agent_id)
        self.ids = set(known.agents)

    def match(self, who: str) -> tuple[str | None, str]:
        key = who.strip().casefold().removeprefix("mailto:")
        if not key:
            return None, "no agent"
        found = self.by_email.get(key) or self.by_name.get(key)
        if found is None and who in self.ids:
            return who, ""
        if not found:
            return None, f"agent {printable(who)!r:.60} matches no helpdesk agent by e-mail or name"
        if len(found) > 1:
            return None, (
                f"agent {printable(who)!r:.60} matches {len(found)} helpdesk agents: "
                "give the e-mail instead"
            )
        return found[0], ""


def read_schedule(path: Path, floor: FloorTargets, known: Directory, at: float) -> ScheduleImport:
    text = read_text(path, "the schedule")
    errors: list[str] = []
    if path.suffix.lower() in (".ics", ".ical", ".ifb") or text.lstrip().startswith("BEGIN:"):
        rows = list(_ics_rows(path, text, floor.zone()))
    else:
        rows = list(_csv_rows(path, text, floor.zone(), errors))
    matcher = AgentMatcher(known)
    planned: dict[str, list[tuple[_Row, ScheduledActivity]]] = {}
    for row in rows:
        problem = row.problem
        agent_id = None
        if not problem:
            agent_id, problem = matcher.match(row.agent)
        if not problem and not row.activity:
            problem = "no activity"
        if not problem and row.start is not None and row.end is not None:
            if row.end <= row.start:
                problem = "end is not after start"
            elif row.end - row.start > LONGEST_ACTIVITY_S:
                problem = "an activity longer than a day (split it)"
        if problem or agent_id is None or row.start is None or row.end is None:
            errors.append(f"{path}:{row.line}: {problem}")
            continue
        activity = ScheduledActivity(
            agent_id=agent_id, start=row.start, end=row.end, activity=row.activity[:40]
        )
        planned.setdefault(agent_id, []).append((row, activity))
    for items in planned.values():
        items.sort(key=lambda item: item[1].start)
        for (before, a), (row, b) in pairwise(items):
            if b.start < a.end:
                errors.append(f"{path}:{row.line}: overlaps line {before.line} for the same agent")
    refuse_if_bad(path, errors, len(rows))
    name = printable(path.name)
    events: list[NewEvent] = []
    chunk: list[ScheduledActivity] = []

    def flush() -> None:
        if chunk:
            payload = ScheduleImported(activities=tuple(chunk), file=name, at=at)
            events.append(imported(SCHEDULE_SOURCE, at, payload, chunk))
            chunk.clear()

    # an agent's activities stay in one event: each event replaces the span it covers
    for items in planned.values():
        if chunk and len(chunk) + len(items) > ROWS_PER_EVENT:
            flush()
        chunk.extend(a for _, a in items)
    flush()
    return ScheduleImport(events, len(rows), len(planned))


def _csv_rows(path: Path, text: str, zone: tzinfo, errors: list[str]) -> Iterator[_Row]:
    for line, cell in csv_rows(path, text, COLUMNS, errors):
        start, problem = floor_time(cell.get("start", ""), zone, "start")
        end, problem_end = floor_time(cell.get("end", ""), zone, "end")
        yield _Row(
            line,
            cell.get("agent", ""),
            start,
            end,
            printable(cell.get("activity", "")).strip().lower(),
            problem or problem_end,
        )


def _ics_rows(path: Path, text: str, zone: tzinfo) -> Iterator[_Row]:
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise ImportFileError(f"{path}: not an iCalendar file ({str(exc)[:120]})") from None
    owner = str(calendar.get("X-WR-CALNAME") or "")
    for k, event in enumerate(calendar.walk("VEVENT"), start=1):
        where = k  # iCalendar has no useful line numbers: the event's place in the file
        summary = printable(str(event.get("SUMMARY") or "")).strip().lower()
        if event.get("RRULE") is not None:
            yield _Row(where, "", None, None, summary, "a recurring event (export occurrences)")
            continue
        start = _instant(event.get("DTSTART"), zone)
        end = _instant(event.get("DTEND"), zone)
        if end is None and start is not None and event.get("DURATION") is not None:
            duration = event.get("DURATION").dt
            if isinstance(duration, timedelta):
                end = start + duration.total_seconds()
        problem = "" if start is not None and end is not None else "no DTSTART or DTEND time"
        yield _Row(where, _ics_agent(event, owner), start, end, summary, problem)


def _ics_agent(event: Any, owner: str) -> str:
    for field in ("ATTENDEE", "ORGANIZER"):
        value = event.get(field)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            address = str(value)
            if address.lower().startswith("mailto:") and len(address) > 7:
                return address[7:]
            cn = getattr(value, "params", {}).get("CN")
            if cn:
                return str(cn)
    return owner


def _instant(prop: Any, zone: tzinfo) -> float | None:
    if prop is None:
        return None
    value = prop.dt
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return value.timestamp()
    if isinstance(value, date):
        return None  # a whole-day event is no shift
    return None
