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


def read_of(fold: _Fold) -> dict[str, object]:
    """What a report reads of the board's fold (``compute``, ``core.schedule``,
    ``core.forecast``): its agents and queues, staffing, escalations and intraday book."""
    state = fold.state
    book = state.intraday
    return {
        "agents": {a.agent_id: (a.name, a.state, a.queue_ids) for a in state.agents.values()},
        "queues": {q.queue_id: (q.name, q.channel) for q in state.queues.values()},
        "staffed": state.staffed,
        "escalations": state.escalations,
        "counts": book.counts,
        "days_seen": book.days_seen,
        "presence": {agent: list(timeline) for agent, timeline in book.states.items()},
        "schedule": book.schedule,
        "imported": book.imported,
        "targets": state.targets,
    }


@pytest.mark.parametrize("zone", [ZONES[0], ZONES[1]])
def test_a_contact_folded_for_the_report_leaves_what_it_reads_as_the_board_left_it(
    zone: FloorTargets,
) -> None:
    """A contact in a known queue changes only the intraday counts of what a report reads:
    the rest of the board's fold of it is skipped (``_Fold._contact``)."""
    events = recording(4)
    assert sum(e.kind.startswith("contact.") for e in events) > len(events) / 4
    folds = []
    for shortcuts in (True, False):
        _Fold.shortcuts = shortcuts
        try:
            fold = _Fold(zone, "day", (-float("inf"), float("inf")), follow_settings=True)
            fold.state.intraday.kept_s = 4 * 3600.0  # counts and presence pruned as they go
            fold.run(events)
        finally:
            _Fold.shortcuts = True
        folds.append(read_of(fold))
    assert folds[0] == folds[1]
    assert folds[0]["counts"] and folds[0]["days_seen"]
