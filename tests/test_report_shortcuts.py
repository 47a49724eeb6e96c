"""The report's fold takes shortcuts (the period it found last, a piece of time that only
extends the current stretch, an agent whose queues' presence is known already): folded
without them, over simulated recordings that cross midnights, a change of the floor's time
zone and the window's edges, every figure is the same."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest

from supervisor_tui.core.targets import FloorTargets, settings_event
from supervisor_tui.model import Event
from supervisor_tui.report.compute import _Fold, compute
from supervisor_tui.report.model import Grouping, Report

from .conftest import simulate

ZONES = (
    FloorTargets(),
    FloorTargets(timezone="Asia/Kathmandu"),  # +05:45: its midnight is not on a half hour
    FloorTargets(utc_offset_s=5 * 3600 + 45 * 60),
    FloorTargets(timezone="America/New_York"),
)
GROUPINGS: tuple[Grouping, ...] = ("day", "shift", "week", "month")


def recording(seed: int) -> list[Event]:
    """A floor's day (across midnight in every zone here), its settings changed twice on
    the way (to Kathmandu's zone, then to a fixed -05:00), numbered as a store numbers them."""
    new = simulate(seed, 14 * 3600.0, agents=12, queues=4)
    changes = ((2, ZONES[1]), (4, FloorTargets(utc_offset_s=-18_000)))
    for share, zone in changes:
        at = new[len(new) * (share - 1) // share].received_at
        settings = settings_event("floor", zone, [], at)
        assert settings is not None
        new.append(settings)
    new.sort(key=lambda e: e.received_at)
    seq = count(1)
    return [
        Event(seq=next(seq), **e.model_dump(exclude={"payload"}), payload=e.payload) for e in new
    ]


def windows(events: list[Event]) -> Iterator[tuple[float | None, float | None]]:
    first, last = events[0].received_at, events[-1].received_at
    yield None, None
    yield first + 5 * 3600 + 17.25, last - 7 * 3600  # edges inside half hours and days
    yield first + 9 * 3600 + 900.5, None


def folded(events: list[Event], shortcuts: bool, **asked: Any) -> Report:
    _Fold.shortcuts = shortcuts
    try:
        return compute([("rec", events)], now=0.0, **asked)
    finally:
        _Fold.shortcuts = True


@pytest.mark.parametrize("seed", [3, 8])
def test_the_folds_shortcuts_change_no_figure(seed: int) -> None:
    events = recording(seed)
    asked_for: list[dict[str, Any]] = [
        {
            "targets": zone,
            "grouping": GROUPINGS[(i + w) % len(GROUPINGS)],
            "start": start,
            "end": end,
            "follow_settings": (i + w) % 2 == 0,
        }
        for i, zone in enumerate(ZONES)
        for w, (start, end) in enumerate(windows(events))
    ]
    asked_for.append({"targets": ZONES[1], "grouping": "day", "queue": "voice-support"})
    for asked in asked_for:
        fast, slow = folded(events, True, **asked), folded(events, False, **asked)
        assert repr(fast) == repr(slow), asked
        assert fast.periods and sum(p.events for p in fast.periods) > 0


def test_the_shortcuts_are_taken_on_a_busy_recording() -> None:
    """Most pieces of time only extend the stretch: the shortcut is what a report runs."""
    events = recording(5)
    fold = _Fold(FloorTargets(), "day", (-float("inf"), float("inf")))
    advanced = 0
    slow = fold._advance

    def counted(t: float) -> None:
        nonlocal advanced
        advanced += 1
        slow(t)

    fold._advance = counted  # type: ignore[method-assign]
    fold.run(events)
    assert 0 < advanced < len(events) / 3
