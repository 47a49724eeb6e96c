"""A floor under way opens at the store's newest snapshot: the board, the collector and the hub
fold only the events after it (issue #20: at 10,000 agents a day's first hour is 565,576
events, half a minute to fold from the first), and the floor they reach is the one a fold
from the first event reaches."""

from __future__ import annotations

import dataclasses
import gc
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from supervisor_tui.adapters.simulator import SimOptions
from supervisor_tui.app import SupervisorApp
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.replay import SNAPSHOT_EVERY, newest_floor
from supervisor_tui.core.snapshot import SNAPSHOT_FORMAT, freeze, thaw
from supervisor_tui.core.targets import QueueTargets
from supervisor_tui.hub.collector import Collector
from supervisor_tui.hub.record import record_simulation
from supervisor_tui.hub.server import Hub
from supervisor_tui.model import Event
from supervisor_tui.store import SQLiteStore, every_event

from .conftest import EPOCH, FakeClock, rules, targets
from .test_app import settings, wait_for


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("open") / "floor.db"
    record_simulation(path, SimOptions(seed=11, epoch=EPOCH), rules(), targets(), hours=8)
    return path


@pytest.fixture
def store_path(recorded: Path, tmp_path: Path) -> Path:
    """A copy of the recorded floor, with a few events after its newest snapshot: the part
    an opener folds itself."""
    path = tmp_path / "floor.db"
    shutil.copyfile(recorded, path)
    path.chmod(0o600)
    store = SQLiteStore(path)
    newest = store.snapshot_index()[-1]
    assert store.last_seq() > newest, "the recording ends past its newest snapshot"
    store.close()
    return path


def folded(store: SQLiteStore) -> dict[str, object]:
    state = FloorState(targets())
    state.apply_all(every_event(store))
    return state.snapshot()


def reads_from(store: SQLiteStore) -> list[int]:
    """The ``after_seq`` of every ``read_from`` the store is asked from now on."""
    asked: list[int] = []
    read_from: Callable[..., list[Event]] = store.read_from

    def spy(after_seq: int, limit: int = 10_000) -> list[Event]:
        asked.append(after_seq)
        return read_from(after_seq, limit)

    store.read_from = spy  # type: ignore[method-assign]
    return asked


def test_the_newest_snapshot_and_the_events_after_it_are_the_whole_fold(store_path: Path) -> None:
    store = SQLiteStore(store_path, read_only=True)
    seqs = store.snapshot_index()
    assert len(seqs) >= 2 and seqs[-1] >= 2 * SNAPSHOT_EVERY
    opened = newest_floor(store, targets())
    assert opened is not None and opened.seq == seqs[-1]
    opened.apply_all(store.read_from(opened.seq, 1_000_000))
    assert opened.snapshot() == folded(store)
    store.close()


@pytest.mark.parametrize(
    "damage",
    ["not zlib", "another format", "later than the events", "filed under another seq"],
)
def test_a_newest_snapshot_that_does_not_hold_leaves_the_floor_to_the_events(
    store_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(store_path)
    newest = store.snapshot_index()[-1]
    older = FloorState(targets())
    older.apply_all(store.read_from(0, newest - 1))
    last = store.last_seq()
    if damage == "not zlib":
        store.save_snapshot(newest, EPOCH, SNAPSHOT_FORMAT, b"not a snapshot")
    elif damage == "another format":
        store.save_snapshot(newest, EPOCH, SNAPSHOT_FORMAT + 1, freeze(older))
    elif damage == "later than the events":
        ahead = FloorState(targets())
        ahead.apply_all(store.read_from(0, 1_000_000))
        ahead.seq = last + 50
        store.save_snapshot(last + 50, EPOCH, SNAPSHOT_FORMAT, freeze(ahead))
    else:  # the floor at one seq filed as the floor at another: its events would be lost
        store.save_snapshot(newest, EPOCH, SNAPSHOT_FORMAT, freeze(older))
    with caplog.at_level(logging.WARNING, logger="supervisor_tui.core.replay"):
        assert newest_floor(store, targets()) is None
    assert "folded from its first event" in caplog.text
    store.close()


@pytest.mark.parametrize("damaged", [False, True])
async def test_the_board_opens_at_the_newest_snapshot_or_folds_every_event(
    store_path: Path, damaged: bool
) -> None:
    """At the newest snapshot; from the first event when that snapshot is damaged."""
    store = SQLiteStore(store_path)
    newest = store.snapshot_index()[-1]
    if damaged:
        store.save_snapshot(newest, EPOCH, SNAPSHOT_FORMAT, b"damaged")
    whole, last = folded(store), store.last_seq()
    asked = reads_from(store)
    gc.unfreeze()
    app = SupervisorApp(store, settings(), clock=FakeClock(EPOCH + 8 * 3600))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.board.state.seq == last, "the board to catch up")
        assert asked and asked[0] == (0 if damaged else newest), "where the board read from"
        assert app.board.state.snapshot() == whole
        board = app.board.agents  # on screen: the agents of the floor it opened
        shown = "".join(board.render_line(y).text for y in range(board.size.height))
        assert any(a.name in shown for a in app.board.state.agents.values())
    assert gc.get_freeze_count() == 0  # given back as the board closed
    store.close()


async def test_the_collector_and_the_hub_open_at_the_newest_snapshot(store_path: Path) -> None:
    store = SQLiteStore(store_path)
    whole, newest = folded(store), store.snapshot_index()[-1]
    asked = reads_from(store)
    clock = FakeClock(EPOCH + 8 * 3600)
    collector = Collector(store, [], rules(), targets(), clock)
    await collector.start()
    try:
        assert asked[0] == newest
        assert collector.state.snapshot() == whole
    finally:
        await collector.stop()
    asked.clear()
    hub = Hub(store, [], targets(), clock, port=0)
    await hub.start()
    try:
        assert asked[0] == newest
        assert hub.state.snapshot() == whole
    finally:
        await hub.stop()
    store.close()


def test_targets_changed_since_the_snapshot_fold_the_floor_from_the_first_event(
    store_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The snapshot's service levels were counted with the threshold then; a floor whose
    config changed is counted again from the events, as before snapshots were read."""
    store = SQLiteStore(store_path, read_only=True)
    assert store.events_of_kind("floor.settings"), "the recording says its targets"
    assert newest_floor(store, targets()) is not None
    changed = dataclasses.replace(targets(), default=QueueTargets(sl_threshold_s=45))
    with caplog.at_level(logging.INFO, logger="supervisor_tui.core.replay"):
        assert newest_floor(store, changed) is None
    assert "targets changed" in caplog.text
    store.close()


async def test_a_collector_restarted_at_the_snapshot_writes_its_settings_only_when_changed(
    store_path: Path,
) -> None:
    """The fold knew the last settings event; a state restored from a snapshot must too, or
    every restart wrote the same settings again."""
    store = SQLiteStore(store_path)
    clock = FakeClock(EPOCH + 8 * 3600)
    written = len(store.events_of_kind("floor.settings"))
    collector = Collector(store, [], rules(), targets(), clock, floor_name="Simulated floor")
    await collector.start()
    await collector.stop()
    assert collector.state.seq > store.snapshot_index()[-1] - 1
    assert len(store.events_of_kind("floor.settings")) == written
    store.close()


@pytest.mark.parametrize("collecting", [True, False])
def test_a_thaw_sets_off_no_garbage_collection_and_leaves_the_collector_as_it_was(
    store_path: Path, collecting: bool
) -> None:
    """A thaw builds the floor at once (5 million objects at 10,000 agents): collections set
    off by its allocations walked all it had built so far, a quarter of the thaw. None runs
    while it builds; the collector is on again after it, unless it was off before."""
    store = SQLiteStore(store_path, read_only=True)
    loaded = store.load_snapshot(store.snapshot_index()[-1])
    store.close()
    assert loaded is not None
    ran: list[int] = []

    def heard(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            ran.append(info["generation"])

    was = gc.isenabled()
    gc.collect()
    (gc.enable if collecting else gc.disable)()
    gc.callbacks.append(heard)
    try:
        thawed = thaw(loaded[1], targets(), loaded[0])
        after = gc.isenabled()
    finally:
        gc.callbacks.remove(heard)
        (gc.enable if was else gc.disable)()
    assert len(thawed.tickets) + len(thawed.agents) > 100  # a floor, enough to set one off
    # at most the one its allocations set off as the collector comes back (8 in the thaw
    # itself without the pause, for this small floor)
    assert len(ran) <= (1 if collecting else 0), ran
    assert after is collecting


def test_the_board_s_restore_freezes_what_it_built_instead_of_collecting_it(
    store_path: Path,
) -> None:
    """For the board (``freeze_heap``), the floor restored is moved out of the collector's
    reach at no cost: no collection at all, young or full, walks it (at 10,000 agents the
    young one took 0.2 s of the first paint); the board unfreezes when it closes."""
    store = SQLiteStore(store_path, read_only=True)
    ran: list[int] = []

    def heard(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            ran.append(info["generation"])

    gc.collect()
    gc.unfreeze()
    gc.callbacks.append(heard)
    try:
        opened = newest_floor(store, targets(), freeze_heap=True)
        frozen = gc.get_freeze_count()
    finally:
        gc.callbacks.remove(heard)
        gc.unfreeze()
        store.close()
    assert opened is not None and len(opened.tickets) > 100
    # no collection but young ones the reads after the restore may set off (of their own)
    assert all(generation == 0 for generation in ran) and frozen > len(opened.tickets)
