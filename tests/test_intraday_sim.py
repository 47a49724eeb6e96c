"""The simulator's past weeks and schedule: forecastable history written in one go, a
schedule that the simulated agents keep only partly, and a replay that shows what the board
showed."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from supervisor_tui.adapters.simulator import (
    FloorSimulation,
    SimOptions,
    history_events,
    schedule_events,
)
from supervisor_tui.core.forecast import forecast_interval, queue_forecast
from supervisor_tui.core.intraday import INTERVAL_S
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.replay import Recording, ReplayPlayer
from supervisor_tui.core.schedule import floor_adherence
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import ContactOffered, Event, NewEvent, ScheduleImported
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH

UTC_FLOOR = FloorTargets()
WEEK = 7 * 86_400


def _events(new: list[NewEvent]) -> list[Event]:
    return [
        Event(
            seq=i + 1,
            source=e.source,
            key=e.key,
            occurred_at=e.occurred_at,
            received_at=e.received_at,
            payload=e.payload,
        )
        for i, e in enumerate(new)
    ]


def test_history_gives_every_live_queue_a_forecast_of_four_weeks() -> None:
    options = SimOptions(seed=7)
    history = history_events(options, EPOCH, 4)
    state = FloorState(UTC_FLOOR)
    state.apply_all(_events(history))
    slot = int(EPOCH + 2 * 3600)  # two hours after opening
    slot -= int(slot + UTC_FLOOR.offset_at(slot)) % INTERVAL_S
    # counted again here from the events: offered in that half hour, 1 to 4 weeks back
    offered: Counter[tuple[str, int]] = Counter()
    for e in history:
        p = e.payload
        if isinstance(p, ContactOffered):
            for w in range(1, 5):
                if slot - w * WEEK <= p.offered_at < slot - w * WEEK + INTERVAL_S:
                    offered[(p.queue_id, w)] += 1
    for queue in ("voice-sales", "voice-support", "chat"):
        fc = forecast_interval(state.intraday, queue, slot, 4, UTC_FLOOR)
        assert fc is not None and fc.weeks == 4
        by_week = [offered[(queue, w)] for w in range(1, 5)]
        assert min(by_week) > 0
        assert fc.offered == pytest.approx(sum(by_week) / 4)
        assert (fc.low, fc.high) == (min(by_week), max(by_week))
        assert fc.aht_s is not None and fc.aht_s > 0
    # e-mail queues take tickets, not contacts: no history is made for them
    assert forecast_interval(state.intraday, "email-billing", slot, 4, UTC_FLOOR) is None


def test_the_schedule_covers_each_shift_and_the_simulated_day_keeps_it_only_partly() -> None:
    options = SimOptions(seed=7, agents=12)
    schedule = schedule_events(options, EPOCH)
    sim = FloorSimulation(replace(options, speed=None), EPOCH)
    payload = schedule[0].payload
    assert isinstance(payload, ScheduleImported)
    for agent in sim.agents:
        mine = [a for a in payload.activities if a.agent_id == agent.agent_id]
        assert mine[0].start == pytest.approx(EPOCH + agent.shift_start, abs=0.01)
        assert mine[-1].end == pytest.approx(EPOCH + agent.shift_end, abs=0.01)
        assert all(a.end == b.start for a, b in itertools.pairwise(mine))
        assert [a.activity for a in mine if a.activity != "open"] == ["break", "lunch", "break"]
    day = list(sim.advance(6 * 3600))
    state = FloorState(UTC_FLOOR)
    state.apply_all(_events(schedule + day))
    got = floor_adherence(state, EPOCH, EPOCH + 6 * 3600)
    assert got.adherence is not None and 0.5 < got.adherence < 1.0  # breaks run late
    assert got.conformance is not None and got.conformance > 0.5


def test_replay_shows_the_forecast_the_board_showed(tmp_path: Path) -> None:
    options = SimOptions(seed=7, agents=12, queues=3)
    store = SQLiteStore(tmp_path / "floor.db")
    sim = FloorSimulation(replace(options, speed=None), EPOCH)
    store.append(history_events(options, EPOCH, 4, received_at=EPOCH))
    store.append(schedule_events(options, EPOCH, at=EPOCH))
    store.append(list(sim.advance(4 * 3600)))
    live = FloorState(UTC_FLOOR)
    at = EPOCH + 3 * 3600
    live.apply_all(e for e in store.read_from(0, 1_000_000) if e.received_at <= at)
    player = ReplayPlayer(Recording(store, UTC_FLOOR))
    player.seek(at)
    for queue in ("voice-sales", "chat"):
        then = queue_forecast(live, queue, at, weeks=4, margin=0.15, min_over=10)
        again = queue_forecast(player.state, queue, at, weeks=4, margin=0.15, min_over=10)
        assert then.interval is not None and then == again
    store.close()


def test_written_history_never_makes_a_live_queue_look_stale() -> None:
    from supervisor_tui.core.freshness import helpdesk_sources, queue_condition
    from supervisor_tui.model import ContactOffered as Offered

    state = FloorState(UTC_FLOOR)
    events = _events(history_events(SimOptions(seed=7), EPOCH, 2, received_at=EPOCH - 86_400))
    state.apply_all(events)
    live = Event(
        seq=len(events) + 1,
        source="zendesk",
        key="live",
        occurred_at=EPOCH,
        received_at=EPOCH,
        payload=Offered(contact_id="c1", queue_id="chat", channel="chat", offered_at=EPOCH),
    )
    state.apply(live)
    assert queue_condition(state, "chat", EPOCH + 5, stale_after_s=60) is None
    assert [s.name for s in helpdesk_sources(state.sources)] == ["zendesk"]


def test_record_with_history_gives_a_report_forecast_and_adherence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from supervisor_tui.cli import main

    out = tmp_path / "shift.db"
    args = ["record", "--hours", "2", "--agents", "12", "--queues", "3", "--out", str(out)]
    assert main([*args, "--history-weeks", "2"]) == 0
    assert main(["report", str(out), "--format", "md"]) == 0
    md = capsys.readouterr().out
    today = md.split("\n## ")[-3]  # the last period, before the formulas and the notes
    assert "### Forecast against actual (MAPE: Chat " in today
    assert "### Schedule adherence (day: adherence " in today
    assert "### Adherence by agent" in today


def test_a_floor_too_big_for_weeks_of_history_gets_todays_forecast_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found running `demo --agents 10000 --queues 1000`: four weeks of past contacts were
    9 million events held in one list (8 GB before the board opened). A floor whose history
    would pass the demo's budget gets a forecast as a workforce tool gives it: each voice and
    chat half hour's expected contacts from the same rates the history is drawn from."""
    import argparse

    from supervisor_tui import cli
    from supervisor_tui.adapters.simulator import HOURLY_LOAD, forecast_events, history_size

    options = SimOptions(seed=7, agents=60, queues=5)
    sim = FloorSimulation(replace(options, speed=None), EPOCH)
    live = [q for q in sim.queues if q.channel.is_realtime and sim.rates[q.queue_id] > 0]
    per_day = sum(sim.rates[q.queue_id] for q in live) * sum(HOURLY_LOAD) * 3600
    assert history_size(options, EPOCH, 4) == int(3 * 4 * per_day)
    # the whole open day in half hours: the forecast's contacts are the history's per week
    starts = [EPOCH + k * INTERVAL_S for k in range(24)]
    day = forecast_events(options, EPOCH, starts, INTERVAL_S, at=EPOCH)
    rows = [row for e in day for row in e.payload.intervals]  # type: ignore[attr-defined]
    assert sum(row.offered for row in rows) == pytest.approx(per_day, rel=1e-3)
    assert {row.queue_id for row in rows} == {q.queue_id for q in live}

    monkeypatch.setattr(cli, "DEMO_HISTORY_EVENTS", 1_000)  # this small floor counts as big
    args = argparse.Namespace(
        seed=7, agents=60, queues=5, speed=1.0, history_weeks=4, helpdesk="none"
    )
    db = tmp_path / "demo.db"
    cli._demo_intraday(args, db, EPOCH, str, str)
    assert "today's forecast" in capsys.readouterr().err
    store = SQLiteStore(db)
    try:
        kinds = Counter(e.kind for e in store.read_from(0, 10**6))
        state = FloorState(UTC_FLOOR)
        state.apply_all(store.read_from(0, 10**6))
    finally:
        store.close()
    assert set(kinds) == {"forecast.imported", "schedule.imported"}  # no past contact
    slot = int(EPOCH + 2 * 3600)
    slot -= int(slot + UTC_FLOOR.offset_at(slot)) % INTERVAL_S
    for queue in live:
        fc = forecast_interval(state.intraday, queue.queue_id, slot, 4, UTC_FLOOR)
        assert fc is not None and fc.imported and fc.offered > 0
        assert fc.aht_s == pytest.approx(queue.aht_s)
