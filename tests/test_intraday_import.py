"""``supervisor-tui import forecast`` and ``import schedule`` on a real SQLite store: rows
matched to the floor's queues and agents, one error per bad row, nothing half-imported."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from supervisor_tui.cli import main
from supervisor_tui.core.forecast import forecast_interval
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.schedule import activity_at
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import AgentUpserted, Channel, NewEvent, Payload, QueueUpserted
from supervisor_tui.store import SQLiteStore

T0 = datetime(2026, 11, 30, tzinfo=UTC).timestamp()


def _floor(path: Path) -> Path:
    db = path / "floor.db"
    store = SQLiteStore(db)
    payloads: list[Payload] = [
        QueueUpserted(queue_id="zendesk:1", name="Chat", channel=Channel.CHAT),
        QueueUpserted(queue_id="zendesk:2", name="Email · Billing", channel=Channel.EMAIL),
        AgentUpserted(agent_id="zendesk:11", name="Ana B.", email="ana@example.com"),
        AgentUpserted(agent_id="zendesk:12", name="Ben C.", email="ben@example.com"),
        AgentUpserted(agent_id="zendesk:13", name="Sam D."),
        AgentUpserted(agent_id="zendesk:14", name="Sam D."),
    ]
    store.append(
        [
            NewEvent(source="zendesk", key=f"k{i}", occurred_at=T0, received_at=T0, payload=p)
            for i, p in enumerate(payloads)
        ]
    )
    store.close()
    return db


def _state(db: Path) -> tuple[FloorState, int]:
    store = SQLiteStore(db)
    try:
        state = FloorState(FloorTargets())
        state.apply_all(store.read_from(0, 100_000))
        return state, store.last_seq()
    finally:
        store.close()


def test_a_forecast_csv_is_stored_and_replaces_history(tmp_path: Path) -> None:
    db = _floor(tmp_path)
    file = tmp_path / "forecast.csv"
    file.write_text(
        "queue,interval_start,offered,aht\n"
        "Chat,2026-11-30T09:00:00+00:00,42,310\n"
        "zendesk:1,2026-11-30T09:30,55.5,300\n",  # no offset: floor time (UTC here)
        encoding="utf-8",
    )
    assert main(["import", "forecast", str(file), "--db", str(db)]) == 0
    state, _ = _state(db)
    first = forecast_interval(state.intraday, "zendesk:1", int(T0 + 9 * 3600), 4, state.targets)
    second = forecast_interval(state.intraday, "zendesk:1", int(T0 + 9.5 * 3600), 4, state.targets)
    assert first is not None and (first.offered, first.aht_s, first.imported) == (42, 310, True)
    assert second is not None and (second.offered, second.aht_s) == (55.5, 300)


def test_a_forecast_with_bad_rows_is_refused_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _floor(tmp_path)
    _, before = _state(db)
    file = tmp_path / "forecast.csv"
    file.write_text(
        "queue,interval_start,offered,aht\n"
        "Chat,2026-11-30T09:00,42,310\n"  # good
        "Voice,2026-11-30T09:00,10,200\n"  # line 3: no such queue
        "Chat,2026-11-30T09:10,10,200\n"  # line 4: not a half hour
        "Chat,2026-11-30T10:00,-1,200\n"  # line 5: negative
        "Chat,2026-11-30T10:30,3,0\n"  # line 6: AHT 0
        "Chat,yesterday,3,100\n"  # line 7
        "Chat,2026-11-30T09:00,40,300\n",  # line 8: the same interval as line 2
        encoding="utf-8",
    )
    assert main(["import", "forecast", str(file), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    for line, what in (
        (3, "'Voice' is not a queue of this floor"),
        (4, "half hour"),
        (5, "offered must be at least 0"),
        (6, "aht must be above 0"),
        (7, "not an ISO 8601"),
        (8, "the same queue and interval as line 2"),
    ):
        assert f"forecast.csv:{line}: " in err and what in err
    assert "nothing imported (6 bad of 7 rows)" in err
    _, after = _state(db)
    assert after == before


def test_a_schedule_csv_matches_agents_by_email_or_name(tmp_path: Path) -> None:
    db = _floor(tmp_path)
    file = tmp_path / "schedule.csv"
    file.write_text(
        "agent,start,end,activity\n"
        "ANA@example.com,2026-11-30T09:00,2026-11-30T11:00,Open\n"
        "Ana B.,2026-11-30T11:00,2026-11-30T11:15,Break\n"
        "ben c.,2026-11-30T09:00,2026-11-30T13:00,Training\n",
        encoding="utf-8",
    )
    assert main(["import", "schedule", str(file), "--db", str(db)]) == 0
    state, _ = _state(db)
    book = state.intraday
    assert [(a.activity, a.end - a.start) for a in book.schedule["zendesk:11"]] == [
        ("open", 7200),
        ("break", 900),
    ]
    planned = activity_at(book, "zendesk:12", T0 + 10 * 3600)
    assert planned is not None and planned.activity == "training"


def test_a_schedule_row_matching_no_agent_or_two_refuses_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _floor(tmp_path)
    _, before = _state(db)
    file = tmp_path / "schedule.csv"
    file.write_text(
        "agent,start,end,activity\n"
        "ana@example.com,2026-11-30T09:00,2026-11-30T11:00,open\n"
        "Zed Q.,2026-11-30T09:00,2026-11-30T11:00,open\n"  # 3: nobody
        "Sam D.,2026-11-30T09:00,2026-11-30T11:00,open\n"  # 4: two agents of that name
        "ben@example.com,2026-11-30T11:00,2026-11-30T10:00,open\n"  # 5: ends before it starts
        "ana@example.com,2026-11-30T10:30,2026-11-30T11:30,lunch\n",  # 6: overlaps line 2
        encoding="utf-8",
    )
    assert main(["import", "schedule", str(file), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "schedule.csv:3: agent 'Zed Q.' matches no helpdesk agent" in err
    assert "schedule.csv:4: agent 'Sam D.' matches 2 helpdesk agents" in err
    assert "schedule.csv:5: end is not after start" in err
    assert "schedule.csv:6: overlaps line 2 for the same agent" in err
    assert "nothing imported (4 bad of 5 rows)" in err
    _, after = _state(db)
    assert after == before


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//example//wfm//EN
X-WR-CALNAME:Ben C.
BEGIN:VEVENT
UID:1@example
DTSTAMP:20261129T120000Z
DTSTART:20261130T080000Z
DTEND:20261130T120000Z
SUMMARY:Open
ATTENDEE;CN=Ana B.:mailto:ana@example.com
END:VEVENT
BEGIN:VEVENT
UID:2@example
DTSTAMP:20261129T120000Z
DTSTART:20261130T120000Z
DURATION:PT30M
SUMMARY:Lunch
END:VEVENT
END:VCALENDAR
"""


def test_a_schedule_from_icalendar(tmp_path: Path) -> None:
    db = _floor(tmp_path)
    file = tmp_path / "week.ics"
    file.write_text(ICS.replace("\n", "\r\n"), encoding="utf-8")
    assert main(["import", "schedule", str(file), "--db", str(db)]) == 0
    state, _ = _state(db)
    ana = activity_at(state.intraday, "zendesk:11", T0 + 9 * 3600)
    ben = activity_at(state.intraday, "zendesk:12", T0 + 12.25 * 3600)  # the calendar's owner
    assert ana is not None and ana.activity == "open"
    assert ben is not None and ben.activity == "lunch" and ben.end - ben.start == 1800


def test_a_recurring_icalendar_event_is_refused_not_guessed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _floor(tmp_path)
    file = tmp_path / "week.ics"
    file.write_text(ICS.replace("SUMMARY:Lunch", "SUMMARY:Lunch\nRRULE:FREQ=DAILY"), "utf-8")
    assert main(["import", "schedule", str(file), "--db", str(db)]) == 2
    assert "week.ics:2: a recurring event" in capsys.readouterr().err


def test_text_from_a_schedule_file_never_drives_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _floor(tmp_path)
    file = tmp_path / "schedule.csv"
    file.write_text(
        "agent,start,end,activity\n"
        "\x1b[2J\x1b]0;owned\x07Ana,2026-11-30T09:00,2026-11-30T11:00,open\n"
        "ana@example.com,2026-11-30T11:00,2026-11-30T12:00,\x1b[31mlunch\n",
        encoding="utf-8",
    )
    assert main(["import", "schedule", str(file), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "schedule.csv:2: agent" in err and "matches no helpdesk agent" in err
    assert "\x1b" not in err and "\x07" not in err
