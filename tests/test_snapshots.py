"""Screenshots of the wall view at a fixed size and a frozen clock (pytest-textual-snapshot).

After an intended change of look, regenerate with ``pytest --snapshot-update`` and review
the SVGs in tests/__snapshots__ before committing them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from supervisor_tui.app import FloorSettings, SupervisorApp

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
        if app.state.seq and app.state.seq == app.store.last_seq():
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


def test_wall_view_desk_profile(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path, "desk"), terminal_size=(180, 48), run_before=settle)


def test_wall_view_wall_profile_hides_subjects(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path, "wall"), terminal_size=(140, 40), run_before=settle)
