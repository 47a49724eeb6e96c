"""Recordings carry their floor settings (issue #18, A): a report or replay without ``-c``
uses the targets, rules and floor name the board ran with; ``-c`` overrides and says so."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from supervisor_tui.adapters.simulator import SimOptions, SimulatorAdapter
from supervisor_tui.cli import main
from supervisor_tui.core.erlang import agents_needed
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.replay import Recording, recorded_settings
from supervisor_tui.core.targets import FloorTargets, QueueTargets, settings_event
from supervisor_tui.hub.collector import Collector
from supervisor_tui.model import (
    Channel,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    Event,
    FloorSettingsRecorded,
    NewEvent,
    Payload,
    QueueUpserted,
)
from supervisor_tui.report.compute import compute
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, FakeClock, rules, simulate


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "shift.db"
    assert main(["record", "--out", str(path), "--hours", "2", "--seed", "3"]) == 0
    return path


def _report_json(args: list[str], tmp_path: Path) -> dict[str, object]:
    out = tmp_path / "r.json"
    out.unlink(missing_ok=True)
    assert main(["report", *args, "--format", "json", "--out", str(out)]) == 0
    data: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return data


def _chat(data: dict[str, object]) -> dict[str, object]:
    periods = data["periods"]
    assert isinstance(periods, list)
    chat: dict[str, object] = next(q for q in periods[0]["queues"] if q["queue_id"] == "chat")
    return chat


def test_record_writes_its_settings_and_the_report_uses_them(
    shift: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SQLiteStore(shift, read_only=True)
    try:
        settings = recorded_settings(store)
    finally:
        store.close()
    assert settings is not None
    assert settings.queues["chat"].sl_threshold_s == 60
    assert {r["id"] for r in settings.rules} >= {"longest-wait", "service-level"}
    data = _report_json([str(shift)], tmp_path)
    # the board ran chat with T = 60 s; before settings were recorded the report used 20 s
    assert _chat(data)["sl_threshold_s"] == 60
    assert "not the ones recorded" not in capsys.readouterr().err
    assert str(data["title"]).startswith("Demo floor (simulated)")


def test_config_overrides_the_recorded_settings_and_says_so(
    shift: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "floor.toml"
    config.write_text('[floor]\nname = "Other"\nutc_offset_minutes = 0\n', encoding="utf-8")
    os.chmod(config, 0o600)
    data = _report_json([str(shift), "-c", str(config)], tmp_path)
    assert _chat(data)["sl_threshold_s"] == 20
    err = capsys.readouterr().err
    assert f"targets from {config}, not the ones recorded with the floor" in err


async def test_the_collector_writes_settings_at_start_and_again_only_when_they_change(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "floor.db")
    clock = FakeClock(EPOCH)

    async def run(targets: FloorTargets) -> None:
        options = SimOptions(seed=7, speed=None, hours=0.05, epoch=EPOCH)
        adapter = SimulatorAdapter("simulator", options, clock=clock)
        collector = Collector(store, [adapter], rules(), targets, clock, floor_name="Hall B")
        await collector.start()
        task = next(t for t in collector._tasks if t.get_name() == "adapter-simulator")
        await asyncio.wait_for(task, 60)
        await collector.stop()

    try:
        first = FloorTargets(queues={"chat": QueueTargets(sl_threshold_s=60)})
        await run(first)
        clock.advance(600)
        await run(first)  # restarted with the same settings: nothing new
        written = store.events_of_kind(FloorSettingsRecorded.KIND)
        assert len(written) == 1
        clock.advance(600)
        await run(FloorTargets(queues={"chat": QueueTargets(sl_threshold_s=45)}))
        written = store.events_of_kind(FloorSettingsRecorded.KIND)
        assert len(written) == 2
        latest = written[-1].payload
        assert isinstance(latest, FloorSettingsRecorded)
        assert latest.floor_name == "Hall B" and latest.queues["chat"].sl_threshold_s == 45
    finally:
        store.close()


def test_replay_follows_settings_changed_mid_recording(tmp_path: Path) -> None:
    """The board changed chat's T from 60 s to 30 s halfway: replay counts each answer
    against the T in force when it was answered, whichever snapshot it starts from."""
    events = simulate(seed=4, until_s=2 * 3600)
    half = len(events) // 2
    switch_at = events[half].received_at

    def settings(t_s: float, at: float) -> NewEvent:
        chat = FloorTargets(queues={"chat": QueueTargets(sl_threshold_s=t_s)})
        event = settings_event("Hall B", chat, [], at)
        assert event is not None
        return event

    store = SQLiteStore(tmp_path / "floor.db")
    store.append([settings(60, EPOCH), *events[:half], settings(30, switch_at), *events[half:]])
    store.close()
    replay_store = SQLiteStore(tmp_path / "floor.db", read_only=True)
    try:
        recording = Recording(
            replay_store, FloorTargets(), snapshot_every=500, follow_settings=True
        )
        state = recording.state_at_seq(recording.last_seq)
        assert state.targets.for_queue("chat").sl_threshold_s == 30
        early = recording.state_at_seq(10)
        assert early.targets.for_queue("chat").sl_threshold_s == 60
        answered = [
            e.payload
            for e in replay_store.read_from(0, 10**6)
            if isinstance(e.payload, ContactAnswered) and e.payload.queue_id == "chat"
        ]
        within = sum(1 for p in answered if p.wait_s <= (60 if p.answered_at < switch_at else 30))
        assert state.queues["chat"].today.answered_within_t == within
        assert within != sum(1 for p in answered if p.wait_s <= 60)  # the switch mattered
    finally:
        replay_store.close()


def _settings_at(at: float, t_s: float, target: float, timezone: str = "") -> Event:
    chat = FloorTargets(
        queues={"chat": QueueTargets(sl_threshold_s=t_s, sl_target=target)}, timezone=timezone
    )
    event = settings_event("Hall B", chat, [], at)
    assert event is not None
    return Event(seq=0, **event.model_dump(exclude={"payload"}), payload=event.payload)


def _chat_calls(start: float, n: int, wait_s: float) -> list[Event]:
    """``n`` chats offered a minute apart from ``start``, each answered after ``wait_s``."""
    out: list[Event] = []
    for i in range(n):
        offered = start + 60 * i
        cid = f"c{start:.0f}-{i}"
        payloads: list[tuple[float, Payload]] = [
            (
                offered,
                ContactOffered(
                    contact_id=cid, queue_id="chat", channel=Channel.CHAT, offered_at=offered
                ),
            ),
            (
                offered + wait_s,
                ContactAnswered(
                    contact_id=cid,
                    queue_id="chat",
                    agent_id="a1",
                    answered_at=offered + wait_s,
                    wait_s=wait_s,
                ),
            ),
            (
                offered + wait_s + 240,
                ContactEnded(
                    contact_id=cid,
                    queue_id="chat",
                    agent_id="a1",
                    ended_at=offered + wait_s + 240,
                    talk_s=240,
                ),
            ),
        ]
        out += [
            Event(
                seq=0, source="hd", key=f"{cid}:{p.KIND}", occurred_at=t, received_at=t, payload=p
            )
            for t, p in payloads
        ]
    return out


def _numbered(events: list[Event]) -> list[Event]:
    ordered = sorted(events, key=lambda e: e.received_at)
    return [e.model_copy(update={"seq": n}) for n, e in enumerate(ordered, 1)]


DAY = 1_790_035_200.0  # a UTC midnight
CHAT_QUEUE = Event(
    seq=0,
    source="hd",
    key="q",
    occurred_at=DAY,
    received_at=DAY,
    payload=QueueUpserted(queue_id="chat", name="Chat", channel=Channel.CHAT),
)


def test_report_applies_each_recorded_setting_from_its_time_onward() -> None:
    """At 10:00 the board changed chat's T from 60 s to 30 s and its SL target from 80 % to
    95 %. Chats answered after 40 s count within T before 10:00 and not after; each half
    hour's need is Erlang C with the targets in force in that half hour (before, the report
    sized every half hour with the last targets)."""
    events = _numbered(
        [
            CHAT_QUEUE,
            _settings_at(DAY + 8 * 3600, 60, 0.80),
            *_chat_calls(DAY + 9 * 3600, 20, 40),
            _settings_at(DAY + 10 * 3600, 30, 0.95),
            *_chat_calls(DAY + 10 * 3600 + 1, 20, 40),
        ]
    )
    report = compute([("rec", events)], targets=FloorTargets(), follow_settings=True)
    (chat,) = report.periods[0].queues
    assert (chat.answered, chat.answered_within_t) == (40, 20)  # 20 before 10:00, none after
    assert (chat.sl_threshold_s, chat.sl_target) == (30, 0.95)  # as the board ended the day
    needs = {hh.start: hh.need for hh in chat.half_hours}
    for start, t_s, target in ((DAY + 9 * 3600, 60, 0.80), (DAY + 10 * 3600, 30, 0.95)):
        offered = sum(
            1
            for e in events
            if isinstance(e.payload, ContactOffered)
            and start <= e.payload.offered_at < start + 1800
        )
        assert needs[start] == agents_needed(offered / 1800, 240, t_s, target)
    assert needs[DAY + 9 * 3600] != needs[DAY + 10 * 3600]  # the change mattered


def test_report_splits_days_by_the_time_zone_in_force() -> None:
    """At 20:00 UTC the floor's zone became Asia/Ho_Chi_Minh (UTC+7): a chat at 21:00 UTC is
    04:00 on the next day there, so it belongs to the next day's period, as the board's own
    day counter rolled over then."""
    events = _numbered(
        [
            CHAT_QUEUE,
            _settings_at(DAY + 8 * 3600, 60, 0.80),
            *_chat_calls(DAY + 9 * 3600, 3, 10),
            _settings_at(DAY + 20 * 3600, 60, 0.80, "Asia/Ho_Chi_Minh"),
            *_chat_calls(DAY + 21 * 3600, 2, 10),
        ]
    )
    report = compute([("rec", events)], targets=FloorTargets(), follow_settings=True)
    assert [[q.offered for q in p.queues] for p in report.periods] == [[3], [2]]
    assert report.timezone == "Asia/Ho_Chi_Minh"
    state = FloorState(FloorTargets(), follow_settings=True)
    state.apply_all(events)
    assert state.queues["chat"].today.offered == 2  # the board's day held the last two only
