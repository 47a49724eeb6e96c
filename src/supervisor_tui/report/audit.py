"""The audit trail: every ack, note, snooze and resolve an operator made, with who, when (floor
time), from which terminal, and how its write-back to the helpdesk went.

Read from a recording (the events and the outbox beside them); nothing is changed. Resolves the
rules made by themselves (the condition cleared) are not commands and are left out. Text from
an operator or a helpdesk is data: rendered as rich ``Text``, CSV-quoted, JSON-escaped.

CSV and JSON are for machines: their keys and words are English in every language. The
terminal's table is in the floor's language (``supervisor_tui.i18n``).
"""

from __future__ import annotations

import csv
import gettext
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from rich.table import Table
from rich.text import Text

from supervisor_tui.core.rules import title_words
from supervisor_tui.i18n import N_, _, ngettext, pgettext
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
    text_shown: str = field(default="", repr=False)
    """``text`` in the floor's language (the table's); ``text`` itself stays English."""
    write_back_shown: str = field(default="", repr=False)
    """``write_back`` in the floor's language."""


class _Words:
    """The audit's own words: English for CSV and JSON, or the floor's language (called as
    ``words._`` and ``words.ngettext`` so that ``make messages`` finds them)."""

    def __init__(self, translate: bool) -> None:
        plain = gettext.NullTranslations()
        self._: Callable[[str], str] = _ if translate else plain.gettext
        self.ngettext: Callable[[str, str, int], str] = ngettext if translate else plain.ngettext


_PLAIN, _SHOWN = _Words(False), _Words(True)


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
        minutes: int | None = None
        if isinstance(payload, EscalationAcked):
            command, text = "ack", payload.note
        elif isinstance(payload, EscalationNoted):
            command, text = "note", payload.note
        elif isinstance(payload, EscalationSnoozed):
            minutes = round((payload.until - payload.at) / 60)
            command, text = "snooze", _snooze(minutes, _PLAIN)
        elif isinstance(payload, EscalationResolved) and payload.by is not None:
            command, text = "resolve", payload.reason
        else:
            continue
        if (start is not None and payload.at < start) or (end is not None and payload.at >= end):
            continue
        known = outcomes is not None
        outcome = by_seq.get(event.seq)

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
                write_back=_write_back(known, command, outcome, zone, _PLAIN),
                text_shown=text if minutes is None else _snooze(minutes, _SHOWN),
                write_back_shown=_write_back(known, command, outcome, zone, _SHOWN),
            )
        )
    return out


def _floor_time(at: float, zone: tzinfo) -> str:
    return datetime.fromtimestamp(at, zone).strftime("%Y-%m-%d %H:%M:%S %z")


def _write_back(
    known: bool, command: str, outcome: WriteBackOutcome | None, zone: tzinfo, words: _Words
) -> str:
    if not known:
        return words._("unknown (the outbox could not be read)")
    if command == "snooze":
        return words._("— (a snooze stays on the floor)")
    return _outcome_text(outcome, zone, words)


def _snooze(minutes: int, words: _Words) -> str:
    # TRANSLATORS: how long a snooze lasts, in the audit's text column
    return words.ngettext("{minutes} min", "{minutes} min", minutes).format(minutes=minutes)


def _outcome_text(outcome: WriteBackOutcome | None, zone: tzinfo, words: _Words) -> str:
    if outcome is None:
        return words._("none (no helpdesk ticket)")
    n = outcome.attempts
    tries = words.ngettext("{count} attempt", "{count} attempts", n).format(count=n)
    if outcome.state == "delivered":
        at = outcome.delivered_at
        when = datetime.fromtimestamp(at, zone).strftime("%H:%M:%S") if at is not None else "?"
        return words._("delivered to {source} at {time} ({tries})").format(
            source=outcome.source, time=when, tries=tries
        )
    error = (outcome.last_error or "").splitlines()[0][:160] if outcome.last_error else ""
    if outcome.state == "failed":
        return words._("failed for good ({tries}): {error}").format(tries=tries, error=error)
    if outcome.attempts == 0:
        return words._("waiting to be sent to {source}").format(source=outcome.source)
    next_at = datetime.fromtimestamp(outcome.next_attempt_at, zone).strftime("%H:%M:%S")
    return words._("not delivered yet ({tries}, next at {time}): {error}").format(
        tries=tries, time=next_at, error=error
    )


COLUMNS = ("when", "command", "by", "terminal", "escalation_id", "title", "text", "write_back")
JSON_FIELDS = ("seq", "at", *COLUMNS)
"""Each command's keys in the JSON, in this order (English in every language)."""

_TABLE_HEADERS = (
    N_("when (floor time)"),
    N_("command"),
    N_("by"),
    N_("terminal"),
    N_("escalation"),
    N_("text"),
    N_("write-back"),
)


def _command(command: str) -> str:
    words = {
        "ack": pgettext("audit command", "ack"),
        "note": pgettext("audit command", "note"),
        "snooze": pgettext("audit command", "snooze"),
        "resolve": pgettext("audit command", "resolve"),
    }
    return words.get(command, command)


def to_table(entries: Sequence[AuditEntry], title: str) -> Table:
    """The commands for a terminal, in the floor's language (names and notes as they are)."""
    table = Table(title=Text(title), expand=False)
    for name in _TABLE_HEADERS:
        table.add_column(Text(_(name)), overflow="fold")
    for e in entries:
        escalation = e.escalation_id + (f" · {title_words(e.title)}" if e.title else "")
        terminal = _("not recorded") if e.terminal == "not recorded" else e.terminal
        cells = (
            e.when,
            _command(e.command),
            e.by,
            terminal,
            escalation,
            e.text_shown or e.text,
            e.write_back_shown or e.write_back,
        )
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
    commands = [{name: getattr(e, name) for name in JSON_FIELDS} for e in entries]
    return json.dumps({"commands": commands}, indent=2) + "\n"
