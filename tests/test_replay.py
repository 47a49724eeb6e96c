"""Replay: same projection as live, fast seeks from snapshots, keys, training, bad files."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor_tui.adapters.simulator import SimOptions
from supervisor_tui.app import FloorSettings, SupervisorApp
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.replay import (
    RESTORE_BYTES_PER_EVENT,
    Recording,
    ReplayPlayer,
    SparseTimeline,
    Timeline,
    footprint,
)
from supervisor_tui.core.training import TrainingSession, score_choice, score_time
from supervisor_tui.hub.record import record_simulation
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    EscalationAcked,
    EscalationStatus,
    NewEvent,
)
from supervisor_tui.playback import parse_clock
from supervisor_tui.screens import board as board_module
from supervisor_tui.store import SQLiteStore
from supervisor_tui.store import sqlite as sqlite_module
from supervisor_tui.widgets import EscalationFeed, TopBar
from supervisor_tui.widgets.scoreline import ScoreLine
from supervisor_tui.widgets.topbar import clock_text

from .conftest import EPOCH, rules, targets
from .doors import fuzz_examples
from .test_app import wait_for
from .test_board_scale import event


@pytest.fixture(scope="module")
def recording_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "shift.db"
    record_simulation(path, SimOptions(seed=7, epoch=EPOCH), rules(), targets(), hours=5)
    return path


def open_recording(path: Path, every: int = 1_000) -> Recording:
    return Recording(SQLiteStore(path, read_only=True), targets(), snapshot_every=every)


def test_record_writes_escalations_supervisor_acks_and_snapshots(recording_path: Path) -> None:
    store = SQLiteStore(recording_path, read_only=True)
    kinds = {e.kind for e in store.read_from(0, 1_000_000)}
    assert {"escalation.raised", "escalation.acked", "contact.answered"} <= kinds
    assert store.snapshot_index(), "the recorder stores snapshots like the live collector"
    store.close()


@pytest.fixture(scope="module")
def both(recording_path: Path) -> tuple[Recording, Recording]:
    """The recording with snapshots built in memory on open, and with the recorded ones."""
    built = open_recording(recording_path, every=700)
    built._stored = []
    built._memory.clear()
    built._build_snapshots(None)
    return built, Recording(built.store, targets())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.data())
def test_state_after_event_n_is_the_same_live_and_in_replay(
    both: tuple[Recording, Recording], data: st.DataObject
) -> None:
    built, recorded = both
    assert built.snapshot_seqs() and recorded.snapshot_seqs()
    n = data.draw(st.integers(0, built.last_seq))
    live = FloorState(targets())
    live.apply_all(built.store.read_range(0, n))  # as the live board folded them
    assert built.state_at_seq(n).snapshot() == live.snapshot()
    assert recorded.state_at_seq(n).snapshot() == live.snapshot()


def test_seek_forward_back_and_to_escalations(recording_path: Path) -> None:
    recording = open_recording(recording_path)
    player = ReplayPlayer(recording)
    assert player.t == recording.start and recording.marks
    player.seek(recording.start + 2 * 3600)
    assert player.state.seq == recording.seq_at(recording.start + 2 * 3600)
    assert player.seek(recording.start + 600)  # backwards: rebuilt from a snapshot
    assert player.state.snapshot() == recording.state_at_seq(player.state.seq).snapshot()
    mark = player.next_mark()
    assert mark is not None and mark.seq > player.state.seq
    player.jump(mark)
    assert player.state.seq == mark.seq
    raised = [e for e in player.state.escalations.values() if e.raised_seq == mark.seq]
    assert len(raised) == 1
    previous = player.previous_mark()
    assert previous is None or previous.seq < mark.seq
    player.playing = True
    player.speed_index = 5  # 60x
    before = player.t
    player.advance(2.0)
    assert player.t == pytest.approx(before + 120)
    recording.store.close()


_FOLDS: dict[tuple[str, int], dict[str, object]] = {}


def fresh_fold(recording: Recording, seq: int) -> dict[str, object]:
    """The state after event ``seq`` folded from the start (remembered: the examples revisit)."""
    key = (str(recording.store.path), seq)
    if key not in _FOLDS:
        state = FloorState(targets())
        state.apply_all(recording.store.read_range(0, seq))
        _FOLDS[key] = state.snapshot()
    return _FOLDS[key]


def test_a_seek_back_to_where_the_player_was_folds_on_from_the_state_it_let_go(
    recording_path: Path,
) -> None:
    recording = open_recording(recording_path)
    player = ReplayPlayer(recording)
    late = recording.start + 3 * 3600
    player.seek(late)
    left = player.state
    assert player.seek(recording.start + 600)  # back: rebuilt, the late state kept as it was
    assert recording.kept_seqs() == [left.seq]
    assert player.seek(late + 60)  # forward past a snapshot: on from the kept state
    assert player.state is left and recording.kept_seqs() != [left.seq]
    assert player.state.snapshot() == fresh_fold(recording, player.state.seq)
    recording.store.close()


def test_a_kept_state_a_little_before_the_snapshot_is_folded_on_rather_than_a_restore(
    recording_path: Path,
) -> None:
    def let_go_at(recording: Recording, player: ReplayPlayer, seq: int) -> FloorState:
        player.seek(recording.time_of(seq))
        left = player.state
        player.seek(recording.start)  # far back: rebuilt, ``left`` kept
        assert left.seq in recording.kept_seqs()
        return left

    recording = open_recording(recording_path)
    snapshot = recording.snapshot_seqs()[0]
    player = ReplayPlayer(recording)
    near = let_go_at(recording, player, snapshot - 50)
    lead = footprint(near) // RESTORE_BYTES_PER_EVENT
    assert snapshot - near.seq < lead < snapshot - 1_500  # cheaper to fold on than restore
    player.seek(recording.time_of(snapshot + 50))
    assert player.state is near
    assert player.state.snapshot() == fresh_fold(recording, player.state.seq)
    recording.store.close()

    recording = open_recording(recording_path)
    player = ReplayPlayer(recording)
    far = let_go_at(recording, player, snapshot - lead - 200)
    player.seek(recording.time_of(snapshot + 50))
    assert player.state is not far and far.seq in recording.kept_seqs()  # restored instead
    assert player.state.snapshot() == fresh_fold(recording, player.state.seq)
    recording.store.close()


def test_kept_states_stay_within_their_memory_and_a_trainees_state_is_never_kept(
    recording_path: Path,
) -> None:
    recording = open_recording(recording_path)
    player = ReplayPlayer(recording)
    player.seek(recording.start + 3 * 3600)
    one = footprint(player.state)
    recording.keep_bytes = 2 * one + one // 2  # room for two such states, not three
    for hours in (2.5, 2.0, 1.5, 1.0):
        player.seek(recording.start + hours * 3600)
        assert recording._kept_bytes <= recording.keep_bytes
    assert len(recording.kept_seqs()) == 2
    kept = recording.kept_seqs()
    raised = next(iter(player.state.escalations.values()), None)
    assert raised is not None
    player.state.apply_overlay(
        "training", EscalationAcked(escalation_id=raised.escalation_id, by="t", at=0.0), 0.0
    )
    player.seek(recording.start + 600)
    assert recording.kept_seqs() == kept  # the overlaid state was let go, not kept
    recording.store.close()


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    moves=st.lists(
        st.tuples(st.sampled_from(["seek", "play", "mark", "back"]), st.floats(0.0, 1.0)),
        min_size=1,
        max_size=8,
    ),
    keep_mb=st.sampled_from([0, 8, 256]),
)
def test_random_seeks_back_and_forth_equal_a_fresh_fold(
    recording_path: Path, moves: list[tuple[str, float]], keep_mb: int
) -> None:
    recording = Recording(
        SQLiteStore(recording_path, read_only=True),
        targets(),
        snapshot_every=1_000,
        keep_mb=keep_mb,
    )
    player = ReplayPlayer(recording)
    span = recording.end - recording.start
    expected, mark = player.state.seq, None
    try:
        for move, x in moves:
            if move == "seek":
                player.seek(recording.start + x * span)
            elif move == "back":
                player.seek(player.t - x * 1800)
            elif move == "play":
                player.playing = True
                player.speed_index = 5
                player.advance(x * 30)
            else:
                mark = player.next_mark() if x > 0.5 else player.previous_mark()
                if mark is not None:
                    player.jump(mark)
            # a jump stops at the mark even when later events share its instant
            if move != "mark":
                expected = recording.seq_at(player.t)
            elif mark is not None:
                expected = mark.seq
            assert player.state.seq == expected
            assert player.state.snapshot() == fresh_fold(recording, expected)
            assert recording._kept_bytes <= recording.keep_bytes
    finally:
        recording.store.close()


def test_training_stops_at_escalations_and_scores(recording_path: Path) -> None:
    assert score_choice("ack", "ack") == 1.0 and score_choice("snooze", "ack") == 0.5
    assert score_choice("none", "ack") == 0.0 and score_choice("ack", "none") == 0.5
    assert score_time(20, 60) == 1.0 and score_time(180, 60) == 0.0
    assert score_time(120, 60) == pytest.approx(0.5)
    recording = open_recording(recording_path)
    actions = TrainingSession.recorded_actions(recording)
    assert any(a.action == "ack" and a.by == "sim-supervisor" for a in actions.values())
    player = ReplayPlayer(recording, stop_at_escalations=True)
    player.playing = True
    player.speed_index = 5
    for _ in range(100):
        player.advance(10)
        if player.decision is not None:
            break
    assert player.decision is not None and not player.playing
    assert player.state.seq == player.decision.seq  # stopped right at the raise
    recording.store.close()


@pytest.mark.parametrize("freeze_heap", [False, True])
def test_a_seek_sets_off_no_collection_and_moves_what_it_built_on_once(
    recording_path: Path, freeze_heap: bool
) -> None:
    """A seek builds a floor and reads thousands of events: collections set off by its
    allocations walked the states the recording keeps. None runs while it seeks; what it
    built is collected once at its end (its young generations), or frozen for the app."""
    recording = open_recording(recording_path)
    player = ReplayPlayer(recording, freeze_heap=freeze_heap)
    ran: list[int] = []

    def heard(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            ran.append(info["generation"])

    gc.collect()
    frozen_before = gc.get_freeze_count()
    gc.callbacks.append(heard)
    try:
        rebuilt = [
            player.seek(recording.start + 3 * 3600),
            player.seek(recording.start + 600),
            player.jump(recording.marks[-1]),
        ]
        frozen = gc.get_freeze_count()
        enabled = gc.isenabled()
    finally:
        gc.callbacks.remove(heard)
        gc.unfreeze()
    assert rebuilt[:2] == [True, True] and enabled
    assert player.state.snapshot() == fresh_fold(recording, player.state.seq)
    if freeze_heap:
        assert ran == [] and frozen > frozen_before
    else:  # one young collection a seek (the jump's inner seek is part of it)
        assert ran == [1, 1, 1] and frozen == frozen_before
    recording.store.close()


def replay_app(
    path: Path, *, train: bool = False, card: Path | None = None, freeze_heap: bool = False
) -> SupervisorApp:
    recording = open_recording(path)
    player = ReplayPlayer(recording, stop_at_escalations=train, freeze_heap=freeze_heap)
    training = TrainingSession("trainee", str(path)) if train else None
    settings_ = FloorSettings(
        floor_name="Replay", operator="trainee", targets=targets(), rules=rules()
    )
    return SupervisorApp(
        recording.store,
        settings_,
        clock=player.clock,
        player=player,
        training=training,
        card_path=card,
    )


async def test_a_fast_replay_refigures_the_half_hour_figures_by_the_walls_time(
    recording_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 60x the replay's clock moves a minute a second: the forecast of every queue (a
    quarter second at 1,000 queues) was figured again at every tick. A replay refigures them
    at most every INTRADAY_EVERY_S of the wall's time, and at once after a seek."""
    wall = [1_000.0]
    monkeypatch.setattr(board_module, "time", types.SimpleNamespace(monotonic=lambda: wall[0]))
    figured_at: list[float] = []
    real = board_module.queue_forecast

    def counting(state: FloorState, queue_id: str, now: float, **options: Any) -> Any:
        if not figured_at or figured_at[-1] != now:
            figured_at.append(now)  # one entry per refigure of every queue
        return real(state, queue_id, now, **options)

    monkeypatch.setattr(board_module, "queue_forecast", counting)
    app = replay_app(recording_path)
    player = app.player
    assert player is not None
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        board = app.board
        player.t = player.recording.start + 3600
        wall[0] += board.INTRADAY_EVERY_S
        board.tick()
        assert figured_at and figured_at[-1] == player.t
        refigures = len(figured_at)
        for _ in range(5):  # five seconds of wall at 60x: five minutes of the floor
            player.t += 60
            wall[0] += 1
            board.tick()
            await pilot.pause()
        assert len(figured_at) == refigures
        wall[0] += board.INTRADAY_EVERY_S
        board.tick()
        assert len(figured_at) == refigures + 1 and figured_at[-1] == player.t
        await pilot.press("right")  # a seek: at once, whatever the wall
        await pilot.pause()
        assert len(figured_at) == refigures + 2 and figured_at[-1] == player.t
    player.recording.store.close()


async def test_replay_keys_seek_speed_and_next_escalation(recording_path: Path) -> None:
    digest = hashlib.sha256(recording_path.read_bytes()).hexdigest()
    gc.unfreeze()
    app = replay_app(recording_path, freeze_heap=True)  # as `supervisor-tui replay` runs it
    player = app.player
    assert player is not None
    async with app.run_test(size=(180, 48)) as pilot:
        await pilot.pause()
        assert "REPLAY paused" in str(app.query_one(TopBar).render())
        start = player.t
        await pilot.press("right")
        assert player.t == pytest.approx(start + 60)
        await pilot.press("shift+right")
        assert player.t == pytest.approx(start + 960)
        await pilot.press("left")
        assert player.t == pytest.approx(start + 900)
        await pilot.press("plus", "plus")
        assert player.speed == 5
        await pilot.press("minus")
        assert player.speed == 2
        await pilot.press("right_square_bracket")
        await pilot.pause()
        mark = next(m for m in player.recording.marks if m.at >= start + 900)
        assert player.state.seq == mark.seq
        feed = app.query_one(EscalationFeed)
        assert feed.selected is not None and feed.selected.raised_seq == mark.seq
        await pilot.press("a")  # no acking a recording outside training
        await pilot.pause()
        assert feed.selected.status is EscalationStatus.RAISED
        two_hours_in = clock_text(start + 2 * 3600, 0)[:5]
        await pilot.press("g", *two_hours_in, "enter")
        await pilot.pause()
        target = parse_clock(two_hours_in, start, 0)
        assert target is not None and player.t == target
        assert gc.get_freeze_count() > 0  # the seeks froze what they built
        await pilot.press("space")
        await pilot.pause(0.3)
        assert player.t > target
        assert "REPLAY 2x" in str(app.query_one(TopBar).render())
    assert gc.get_freeze_count() == 0  # given back to the collector as the board closed
    app.store.close()
    assert hashlib.sha256(recording_path.read_bytes()).hexdigest() == digest


async def test_training_session_scores_the_trainee(recording_path: Path, tmp_path: Path) -> None:
    digest = hashlib.sha256(recording_path.read_bytes()).hexdigest()
    card = tmp_path / "card"
    app = replay_app(recording_path, train=True, card=card)
    player, training = app.player, app.training
    assert player is not None and training is not None
    async with app.run_test(size=(180, 48)) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: training.open_decision is not None, "a decision point")
        await pilot.press("a", *"calling the customer", "enter")
        await wait_for(pilot, lambda: training.decisions[0].action == "ack", "the scored ack")
        first = training.decisions[0]
        assert first.action == "ack" and first.note == "calling the customer"
        assert first.took_s is not None and 0 <= first.score <= 100
        esc = app.board.state.escalations[first.escalation_id]
        assert esc.status is EscalationStatus.ACKED and esc.acked_by == "trainee"
        await wait_for(pilot, lambda: len(training.decisions) == 2, "the next decision")
        await pilot.press("space")  # let this one go
        await pilot.pause()
        assert training.decisions[1].action == "none" and training.decisions[1].score < 100
        await pilot.press("q")  # ends the session with the score card
        await pilot.pause()
        assert app.card_written is not None
    markdown = card.with_suffix(".md").read_text()
    assert "Training score card: trainee" in markdown and "calling the customer" in markdown
    assert '"decisions"' in card.with_suffix(".json").read_text()
    assert hashlib.sha256(recording_path.read_bytes()).hexdigest() == digest  # untouched
    store = SQLiteStore(recording_path, read_only=True)
    assert not any(
        e.payload.by == "trainee"  # type: ignore[attr-defined]
        for e in store.events_of_kind("escalation.acked")
    )
    store.close()


async def test_a_decision_jumped_past_in_training_is_not_reached(
    recording_path: Path, tmp_path: Path
) -> None:
    app = replay_app(recording_path, train=True, card=tmp_path / "card")
    player, training = app.player, app.training
    assert player is not None and training is not None
    async with app.run_test(size=(180, 48)) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: training.open_decision is not None, "a decision point")
        await pilot.press("a", *"on it", "enter")
        await wait_for(pilot, lambda: training.decisions[0].reached, "the scored ack")
        await wait_for(pilot, lambda: len(training.decisions) == 2, "the next decision")
        await pilot.press("right")  # a minute on: past the decision, no choice made
        await pilot.pause()
        skipped = training.decisions[1]
        assert training.open_decision is None and not skipped.reached
        assert skipped.choice_score == 0.0 and skipped.took_s is None
        # the average is the one decision made, not it and a zero
        assert training.total == pytest.approx(training.decisions[0].score)
        await pilot.press("right_square_bracket")  # the next escalation: a decision again
        await wait_for(pilot, lambda: training.open_decision is not None, "the next decision")
        opened = training.open_decision
        await pilot.press("q")  # quits with it open
        await pilot.pause()
        assert app.card_written is not None
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["decisions_made"] == 1 and card["not_reached"] == len(training.decisions) - 1
    assert opened is not None and not opened.reached
    assert card["score"] == pytest.approx(round(training.decisions[0].score, 1))
    app.store.close()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supervisor_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_recordings_get_one_clear_line_and_are_not_modified(
    recording_path: Path, tmp_path: Path
) -> None:
    missing = run_cli("replay", str(tmp_path / "nope.db"))
    assert missing.returncode == 2 and "nope.db: no such file" in missing.stderr
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00garbage" * 4096)
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(recording_path.read_bytes()[: 64 * 1024])
    junk.chmod(0o600)
    truncated.chmod(0o600)
    empty = tmp_path / "empty.db"
    SQLiteStore(empty).close()
    shared = tmp_path / "shared.db"
    shared.write_bytes(recording_path.read_bytes())
    shared.chmod(0o644)  # anyone on the machine could read the customers' names in it
    for path, expected in (
        (shared, "can be read or written by others (mode 644)"),
        (junk, "not a supervisor-tui store"),
        (truncated, "truncated.db"),
        (empty, "holds no events"),
    ):
        before = path.read_bytes()
        result = run_cli("replay", str(path))
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], result.stderr
        assert "Traceback" not in result.stderr
        assert path.read_bytes() == before


async def test_training_says_how_to_start_and_keeps_a_running_score_instead_of_toasts(
    recording_path: Path, tmp_path: Path
) -> None:
    app = replay_app(recording_path, train=True, card=tmp_path / "card")
    training = app.training
    assert training is not None
    async with app.run_test(size=(180, 48)) as pilot:
        await pilot.pause()
        line = app.query_one(ScoreLine)
        assert line.display and "press space to start" in line.said  # the first screen
        await pilot.press("space")
        await pilot.pause()
        assert "space to start" not in line.said  # gone once the trainee has started
        await wait_for(pilot, lambda: training.open_decision is not None, "a decision point")
        await pilot.pause()
        decision = training.open_decision
        assert decision is not None and "your call" in line.said and decision.title in line.said
        await pilot.press("a", *"on it", "enter")
        await wait_for(pilot, lambda: "last:" in line.said, "the score line")
        scored = training.decisions[0]
        assert f"{scored.score:.0f} pts" in line.said and "1 decision" in line.said
        assert f"Score {training.decisions[0].score:.0f} / 100" in line.said
        toasts = [n.title for n in app._notifications]
        assert "Decision scored" not in toasts and "Your call" not in toasts, toasts
    app.store.close()


async def test_a_plain_replay_has_no_score_line(recording_path: Path) -> None:
    app = replay_app(recording_path)
    async with app.run_test(size=(180, 48)) as pilot:
        await pilot.pause()
        assert not app.query_one(ScoreLine).display
    app.store.close()


# -- the coarse timeline: a recording of 10,000,000 events opens on 10,000 rows -----------------


def agent_busy(n: int, at: float) -> NewEvent:
    return event(AgentStateChanged(agent_id=f"a{n % 5}", state=AgentState.BUSY, since=at), at)


def same_clock(sparse: Timeline, dense: Timeline) -> None:
    """Every question replay asks of its clock answered alike."""
    assert (sparse.start, sparse.end, sparse.last_seq) == (dense.start, dense.end, dense.last_seq)
    instants = sorted({*dense.times, *(t + d for t in dense.times for d in (-0.5, 0.5))})
    for t in [dense.start - 10, *instants, dense.end + 10]:
        assert sparse.seq_at(t) == dense.seq_at(t), t
    for seq in range(0, dense.last_seq + 3):
        assert sparse.time_of(seq) == dense.time_of(seq), seq


@settings(max_examples=fuzz_examples(40), deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=1, max_size=60),  # received, out of order at times
    st.lists(st.integers(1, 9), min_size=1, max_size=60),  # the sizes of the batches
    st.sets(st.integers(1, 60), max_size=6),  # events appended one at a time, as an ack is
)
def test_the_coarse_timeline_gives_the_clock_every_events_time_gives(
    received: list[int], sizes: list[int], durable: set[int]
) -> None:
    import tempfile

    every = 4
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "t.db")
        original = sqlite_module.TIMELINE_EVERY
        sqlite_module.TIMELINE_EVERY = every
        try:
            events = [agent_busy(n, EPOCH + t) for n, t in enumerate(received)]
            at, turn = 0, 0
            while at < len(events):
                if at + 1 in durable:
                    store.append_durable(events[at])
                    at += 1
                    continue
                size = sizes[turn % len(sizes)]
                turn += 1
                store.append(events[at : at + size])
                at += size
            coarse = store.coarse_timeline()
        finally:
            sqlite_module.TIMELINE_EVERY = original
        assert coarse is not None
        assert coarse[0] == list(range(every, len(events) + 1, every))
        dense = Timeline(*store.timeline())
        same_clock(SparseTimeline(store, *coarse), dense)
        store.close()


def test_a_recording_opens_on_its_coarse_timeline_and_plays_as_on_every_event(
    recording_path: Path,
) -> None:
    recording = open_recording(recording_path)
    assert isinstance(recording.timeline, SparseTimeline)
    dense = Timeline(*recording.store.timeline())
    same_clock(recording.timeline, dense)
    assert recording.marks
    for mark in recording.marks:  # from the row before and its own time: never later
        assert mark.at <= dense.time_of(mark.seq)
    player = ReplayPlayer(recording)
    for mark in recording.marks[:5]:
        player.jump(mark)
        assert player.state.seq == mark.seq
    recording.store.close()


@pytest.mark.parametrize(
    "damage",
    ["older file: no table", "a row missing", "a row out of order", "a row not a time"],
)
def test_a_coarse_timeline_that_is_not_whole_is_left_for_every_events_time(
    recording_path: Path, tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "r.db"
    path.write_bytes(recording_path.read_bytes())
    path.chmod(0o600)
    conn = sqlite3.connect(path)
    if damage == "older file: no table":
        conn.execute("DROP TABLE timeline")
    elif damage == "a row missing":
        conn.execute("DELETE FROM timeline WHERE seq = 2000")
    elif damage == "a row out of order":
        conn.execute("UPDATE timeline SET latest = 0 WHERE seq = 3000")
    else:
        conn.execute("UPDATE timeline SET latest = 'soon' WHERE seq = 3000")
    conn.commit()
    conn.close()
    store = SQLiteStore(path, read_only=True)
    assert store.coarse_timeline() is None
    recording = Recording(store, targets())
    assert type(recording.timeline) is Timeline
    same_clock(recording.timeline, Timeline(*store.timeline()))
    store.close()


def test_a_store_written_before_the_coarse_timeline_notes_none_of_it_later(tmp_path: Path) -> None:
    """Its first thousand events were stored without a row: a row noted from the next would
    not know them, so the store keeps none and replay reads every event's time."""
    store = SQLiteStore(tmp_path / "old.db")
    store.append([agent_busy(n, EPOCH + n) for n in range(1_500)])
    store.close()
    conn = sqlite3.connect(tmp_path / "old.db")
    conn.execute("DELETE FROM timeline")  # as a file made before the table was
    conn.commit()
    conn.close()
    store = SQLiteStore(tmp_path / "old.db")
    store.append([agent_busy(n, EPOCH + n) for n in range(1_500, 2_600)])
    assert store.coarse_timeline() is None
    assert len(store.timeline()[0]) == 2_600
    store.close()
