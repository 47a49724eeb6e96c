"""Screenshots of the wall view at a fixed size and a frozen clock (pytest-textual-snapshot).

After an intended change of look, regenerate with ``pytest --snapshot-update`` and review
the SVGs in tests/__snapshots__ before committing them.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from supervisor_tui.app import FloorSettings, SupervisorApp
from supervisor_tui.core.replay import Recording, ReplayPlayer
from supervisor_tui.hub.client import HubClient, RemoteDesk
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, FakeClock, record_floor, rules, targets

NOW = EPOCH + 3.5 * 3600  # 11:30 on the simulated floor


def make_app(tmp_path: Path, profile: str) -> SupervisorApp:
    store = record_floor(tmp_path / "f.db")
    settings = FloorSettings(
        floor_name="Snapshot floor",
        operator="ana",
        targets=targets(),
        rules=rules(),
        profile=profile,
    )
    return SupervisorApp(store, settings, clock=FakeClock(NOW))


async def settle(pilot: Any) -> None:
    app = pilot.app
    for _ in range(200):
        if app.board.state.seq and app.board.state.seq == app.store.last_seq():
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


def test_wall_view_desk_profile(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path, "desk"), terminal_size=(180, 48), run_before=settle)


def test_wall_view_wall_profile_hides_subjects(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path, "wall"), terminal_size=(140, 40), run_before=settle)


# -- the wall at every size, in every state (issue #17) ---------------------------------------

SIZES = [(80, 24), (120, 40), (160, 50), (240, 70)]
SIZE_IDS = [f"{w}x{h}" for w, h in SIZES]


@pytest.fixture(scope="module")
def floor_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One recorded morning for every screenshot below (each takes a copy)."""
    path = tmp_path_factory.mktemp("floor") / "f.db"
    record_floor(path).close()
    return path


def copied(floor_file: Path, tmp_path: Path) -> SQLiteStore:
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{floor_file}{suffix}")
        if src.exists():
            shutil.copy(src, f"{tmp_path / 'f.db'}{suffix}")
    return SQLiteStore(tmp_path / "f.db")


def wall_settings() -> FloorSettings:
    return FloorSettings(
        floor_name="Snapshot floor", operator="ana", targets=targets(), rules=rules()
    )


def board_app(floor_file: Path, tmp_path: Path, clock: FakeClock) -> SupervisorApp:
    return SupervisorApp(copied(floor_file, tmp_path), wall_settings(), clock=clock)


async def ticked(pilot: Any) -> None:
    await settle(pilot)
    pilot.app.board._tick()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_live_floor(snap_compare: Any, floor_file: Path, tmp_path: Path, size: Any) -> None:
    app = board_app(floor_file, tmp_path, FakeClock(NOW))
    assert snap_compare(app, terminal_size=size, run_before=ticked)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_stale_source(snap_compare: Any, floor_file: Path, tmp_path: Path, size: Any) -> None:
    clock = FakeClock(NOW)
    app = board_app(floor_file, tmp_path, clock)

    async def go_quiet(pilot: Any) -> None:
        await settle(pilot)
        clock.advance(125)
        pilot.app.board._tick()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=go_quiet)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_paused(snap_compare: Any, floor_file: Path, tmp_path: Path, size: Any) -> None:
    clock = FakeClock(NOW)
    app = board_app(floor_file, tmp_path, clock)

    async def pause(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("p")
        clock.advance(75)
        pilot.app.board._tick()
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=pause)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_hub_down(snap_compare: Any, size: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HubClient(f"ws://127.0.0.1:{port}", "token", targets(), clock=FakeClock(NOW))
    app = SupervisorApp(client, wall_settings(), clock=FakeClock(NOW), desk=RemoteDesk(client))

    async def wait_down(pilot: Any) -> None:
        for _ in range(200):
            if client.state == "reconnecting":
                break
            await pilot.pause(0.05)
        client.close()
        client.retry_at = None
        client.last_error = client.last_error_said = "connection refused"
        pilot.app.board._tick()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=wait_down)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_replay(snap_compare: Any, floor_file: Path, tmp_path: Path, size: Any) -> None:
    copied(floor_file, tmp_path).close()
    recording = Recording(SQLiteStore(tmp_path / "f.db", read_only=True), targets())
    player = ReplayPlayer(recording)
    player.seek(NOW - 1800)
    player.playing = False
    app = SupervisorApp(recording.store, wall_settings(), clock=player.clock, player=player)

    async def shown(pilot: Any) -> None:
        await pilot.pause(0.3)
        pilot.app.board._paint_chrome(pilot.app.clock())
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=shown)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_escalation_detail(snap_compare: Any, floor_file: Path, tmp_path: Path, size: Any) -> None:
    clock = FakeClock(NOW)
    app = board_app(floor_file, tmp_path, clock)

    async def open_detail(pilot: Any) -> None:
        await settle(pilot)
        feed = pilot.app.board.feed
        feed.select(next(i for i in feed.order if pilot.app.board.state.escalations[i].ticket_id))
        clock.advance(90)
        pilot.app.board._tick()  # every clock on the board at the new time, whatever the load
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=open_detail)


# -- the wall's look (issue #17, items 3 and 6) -------------------------------------------


@pytest.mark.parametrize("theme", ["high-contrast", "light"])
def test_theme(snap_compare: Any, floor_file: Path, tmp_path: Path, theme: str) -> None:
    settings = FloorSettings(
        floor_name="Snapshot floor", operator="ana", targets=targets(), rules=rules(), theme=theme
    )
    app = SupervisorApp(copied(floor_file, tmp_path), settings, clock=FakeClock(NOW))
    assert snap_compare(app, terminal_size=(160, 50), run_before=ticked)


def test_one_queue_at_80x24_has_a_plain_headline(
    snap_compare: Any, floor_file: Path, tmp_path: Path
) -> None:
    app = board_app(floor_file, tmp_path, FakeClock(NOW))

    async def filtered(pilot: Any) -> None:
        await ticked(pilot)
        pilot.app.board.set_queue_filter("voice-sales")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=filtered)


def test_wall_pages_at_80x24(snap_compare: Any, tmp_path: Path) -> None:
    """Twenty queues on a wall of 24 lines: the first page of the queue table, "page 1/3"."""
    from supervisor_tui.model import Channel, NewEvent, QueueUpserted

    store = SQLiteStore(tmp_path / "f.db")
    store.append(
        [
            NewEvent(
                source="sim",
                key=f"q{i}",
                occurred_at=EPOCH,
                received_at=EPOCH,
                payload=QueueUpserted(
                    queue_id=f"q{i:02}", name=f"Queue {i:02}", channel=Channel.CHAT
                ),
            )
            for i in range(20)
        ]
    )
    settings = FloorSettings(
        floor_name="Snapshot floor",
        operator="ana",
        targets=targets(),
        rules=rules(),
        profile="wall",
    )
    app = SupervisorApp(store, settings, clock=FakeClock(EPOCH + 30))
    assert snap_compare(app, terminal_size=(80, 24), run_before=ticked)
