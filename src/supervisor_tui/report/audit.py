"""The audit trail: every ack, note, snooze and resolve an operator made, with who, when (floor
time), from which terminal, and how its write-back to the helpdesk went.

Read from a recording (the events and the outbox beside them); nothing is changed. Resolves the
rules made by themselves (the condition cleared) are not commands and are left out. Text from
an operator or a helpdesk is data: rendered as rich ``Text``, CSV-quoted, JSON-escaped.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo

from rich.table import Table
from rich.text import Text

from supervisor_tui.model import (
    EscalationAcked,
    EscalationNoted,
    EscalationRaised,
    EscalationResolved,
    EscalationSnoozed,
    Event,
)
from supervisor_tui.report.render import csv_text
from supervisor_tui.store.base import WriteBackOutcome


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: float
    when: str
    """Floor time, ``YYYY-MM-DD HH:MM:SS`` and its UTC offset."""
    command: str  # ack | note | snooze | resolve
    by: str
    terminal: str
    escalation_id: str
    title: str
    text: str
    """The note, the resolve's reason, or how long a snooze lasts."""
    write_back: str


def audit_trail(
    events: Iterable[Event],
    outcomes: Sequence[WriteBackOutcome] | None,
    zone: tzinfo,
    *,
    start: float | None = None,
    end: float | None = None,
) -> list[AuditEntry]:
    """The commands in ``events`` made in [start, end). ``outcomes`` None: the outbox could
    not be read (the write-back column says unknown, never "none")."""
    by_seq = {o.event_seq: o for o in outcomes or ()}
    titles: dict[str, str] = {}
    out: list[AuditEntry] = []
    for event in events:
        payload = event.payload
        if isinstance(payload, EscalationRaised):
            titles.setdefault(payload.escalation_id, payload.title)
            continue
        if isinstance(payload, EscalationAcked):
            command, text = "ack", payload.note
        elif isinstance(payload, EscalationNoted):
            command, text = "note", payload.note
        elif isinstance(payload, EscalationSnoozed):
            command, text = "snooze", f"{round((payload.until - payload.at) / 60)} min"
        elif isinstance(payload, EscalationResolved) and payload.by is not None:
            command, text = "resolve", payload.reason
        else:
            continue
        if (start is not None and payload.at < start) or (end is not None and payload.at >= end):
            continue
        if outcomes is None:
            write_back = "unknown (the outbox could not be read)"
        elif command == "snooze":
            write_back = "— (a snooze stays on the floor)"
        else:
            write_back = _outcome_text(by_seq.get(event.seq), zone)
        out.append(
            AuditEntry(
                seq=event.seq,
                at=payload.at,
                when=_floor_time(payload.at, zone),
                command=command,
                by=payload.by or "",
                terminal=payload.terminal or "not recorded",
                escalation_id=payload.escalation_id,
                title=titles.get(payload.escalation_id, ""),
                text=text,
                write_back=write_back,
            )
        )
    return out


def _floor_time(at: float, zone: tzinfo) -> str:
    return datetime.fromtimestamp(at, zone).strftime("%Y-%m-%d %H:%M:%S %z")


def _outcome_text(outcome: WriteBackOutcome | None, zone: tzinfo) -> str:
    if outcome is None:
        return "none (no helpdesk ticket)"
    tries = f"{outcome.attempts} attempt{'s' if outcome.attempts != 1 else ''}"
    if outcome.state == "delivered":
        at = outcome.delivered_at
        when = datetime.fromtimestamp(at, zone).strftime("%H:%M:%S") if at is not None else "?"
        return f"delivered to {outcome.source} at {when} ({tries})"
    error = (outcome.last_error or "").splitlines()[0][:160] if outcome.last_error else ""
    if outcome.state == "failed":
        return f"failed for good ({tries}): {error}"
    if outcome.attempts == 0:
        return f"waiting to be sent to {outcome.source}"
    next_at = datetime.fromtimestamp(outcome.next_attempt_at, zone).strftime("%H:%M:%S")
    return f"not delivered yet ({tries}, next at {next_at}): {error}"


COLUMNS = ("when", "command", "by", "terminal", "escalation_id", "title", "text", "write_back")


def to_table(entries: Sequence[AuditEntry], title: str) -> Table:
    table = Table(title=Text(title), expand=False)
    for name in (
        "when (floor time)",
        "command",
        "by",
        "terminal",
        "escalation",
        "text",
        "write-back",
    ):
        table.add_column(name, overflow="fold")
    for e in entries:
        escalation = e.escalation_id + (f" · {e.title}" if e.title else "")
        cells = (e.when, e.command, e.by, e.terminal, escalation, e.text, e.write_back)
        table.add_row(*(Text(cell) for cell in cells))
    return table


def to_csv(entries: Sequence[AuditEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow([csv_text(str(getattr(e, name))) for name in COLUMNS])
    return buffer.getvalue()


def to_json(entries: Sequence[AuditEntry]) -> str:
    return json.dumps({"commands": [asdict(e) for e in entries]}, indent=2) + "\n"
