"""``supervisor-tui import forecast FILE.csv``: a workforce tool's forecast into the store.

Columns ``queue`` (the queue's id or its name on the board), ``interval_start`` (ISO 8601,
on a half hour of the floor's clock; without an offset it is floor time), ``offered`` and
``aht`` (seconds). Every row is checked before anything is written; the forecast is stored
as ``forecast.imported`` events, so the board, replay and reports all see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from supervisor_tui.core.intraday import FORECAST_SOURCE, INTERVAL_S, interval_start
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import ForecastImported, ForecastInterval, NewEvent, printable
from supervisor_tui.report.importfile import (
    Directory,
    csv_rows,
    floor_time,
    imported,
    number,
    read_text,
    refuse_if_bad,
)

COLUMNS = ("queue", "interval_start", "offered", "aht")
ROWS_PER_EVENT = 500


@dataclass(frozen=True, slots=True)
class ForecastImport:
    events: list[NewEvent]
    rows: int


def read_forecast(path: Path, floor: FloorTargets, known: Directory, at: float) -> ForecastImport:
    text = read_text(path, "the forecast")
    errors: list[str] = []
    intervals: list[ForecastInterval] = []
    seen: dict[tuple[str, int], int] = {}
    by_name = {name.casefold(): qid for qid, name in known.queues.items()}
    rows = 0
    for line, cell in csv_rows(path, text, COLUMNS, errors):
        rows += 1
        problem, row = _interval(cell, floor, known, by_name)
        if row is not None:
            first = seen.setdefault((row.queue_id, int(row.start)), line)
            if first != line:
                problem = f"the same queue and interval as line {first}"
        if problem:
            errors.append(f"{path}:{line}: {problem}")
        elif row is not None:
            intervals.append(row)
    refuse_if_bad(path, errors, rows)
    name = printable(path.name)
    events = []
    for k in range(0, len(intervals), ROWS_PER_EVENT):
        chunk = tuple(intervals[k : k + ROWS_PER_EVENT])
        payload = ForecastImported(intervals=chunk, file=name, at=at)
        events.append(imported(FORECAST_SOURCE, at, payload, chunk))
    return ForecastImport(events, rows)


def _interval(
    cell: dict[str, str], floor: FloorTargets, known: Directory, by_name: dict[str, str]
) -> tuple[str, ForecastInterval | None]:
    queue = cell.get("queue", "")
    queue_id = queue if queue in known.queues else by_name.get(queue.casefold())
    if queue_id is None:
        return f"queue {printable(queue)!r:.60} is not a queue of this floor (by id or name)", None
    start, problem = floor_time(cell.get("interval_start", ""), floor.zone(), "interval_start")
    if start is None:
        return problem, None
    if interval_start(start, floor) != start:
        return f"interval_start must be on a half hour of the floor's clock ({INTERVAL_S} s)", None
    offered, problem = number(cell.get("offered", ""), "offered", positive=False)
    if offered is None:
        return problem, None
    aht, problem = number(cell.get("aht", ""), "aht", positive=True)
    if aht is None:
        return problem, None
    return "", ForecastInterval(queue_id=queue_id, start=start, offered=offered, aht_s=aht)
