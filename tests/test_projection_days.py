"""The floor's local day of an instant, as the fold finds it (one zone lookup an hour, not
one an event), is the zone's own answer for every instant: in any order, across summer time
(transitions at midnight, half-hour shifts), and after the floor's targets change."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor_tui.core.projection import DAY_S, FloorState
from supervisor_tui.core.targets import FloorTargets

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))

ZONES = (
    "America/New_York",
    "America/Santiago",  # summer time ends and starts at midnight
    "America/Asuncion",
    "Australia/Lord_Howe",  # a half-hour shift
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Kathmandu",  # +5:45, no summer time
    "Europe/London",
)


def transitions(zone: str, year: int = 2025, years: int = 2) -> list[float]:
    """The instants in those years at which the zone's offset changes (to the second)."""
    targets = FloorTargets(timezone=zone)
    start = datetime(year, 1, 1, tzinfo=UTC).timestamp()
    found = []
    before = targets.offset_at(start)
    for hour in range(1, years * 366 * 24):
        at = start + hour * 3600
        now = targets.offset_at(at)
        if now != before:
            low, high = at - 3600, at  # the change is in (low, high]
            while high - low > 1:
                mid = (low + high) // 2
                low, high = (mid, high) if targets.offset_at(mid) == before else (low, mid)
            found.append(high)
            before = now
    return found


NEAR = {zone: transitions(zone) for zone in ZONES}
# Newfoundland turned its clocks at 00:01 until 2011: a change in the middle of a UTC hour
# that moves the wall clock back across midnight (an hour cached at its first second would
# put the minutes after the change on the wrong day).
NEAR["America/St_Johns"] = transitions("America/St_Johns", 2010, 1)


def the_zones_day(targets: FloorTargets, ts: float) -> int:
    """The definition: the floor's wall-clock date at ``ts``, as a day number."""
    return int((ts + targets.offset_at(ts)) // DAY_S)


floors = st.one_of(
    st.sampled_from(ZONES).map(lambda zone: FloorTargets(timezone=zone)),
    st.integers(-14 * 3600, 14 * 3600).map(lambda offset: FloorTargets(utc_offset_s=offset)),
)


@st.composite
def walks(draw: st.DrawFn) -> list[float]:
    """Instants around a summer-time change (or any instant), a few hours either side, in
    the order a floor's sources might send them (mostly forward, some late)."""
    zone = draw(st.sampled_from(ZONES))
    base = draw(st.sampled_from(NEAR[zone] or [1.75e9]) | st.floats(1.7e9, 1.8e9))
    steps = draw(st.lists(st.floats(-2 * 3600, 3 * 3600), min_size=1, max_size=60))
    at, out = base, []
    for step in steps:
        at += step
        out.append(at)
    return out


@settings(max_examples=EXAMPLES, deadline=None)
@given(floors, floors, walks(), st.integers(0, 60))
def test_the_folds_day_is_the_zones_day(
    first: FloorTargets, then: FloorTargets, instants: list[float], switch: int
) -> None:
    state = FloorState(first)
    for i, ts in enumerate(instants):
        if i == switch:
            state.targets = then  # settings from the recording take effect mid-fold
        assert state.day_of(ts) == the_zones_day(state.targets, ts), (state.targets, ts)


def test_every_second_around_each_change_is_on_the_zones_day() -> None:
    """Second by second through the two hours around each of the zones' changes."""
    assert sum(1 for changes in NEAR.values() if changes) >= 6  # the search finds them
    for zone, changes in NEAR.items():
        targets = FloorTargets(timezone=zone)
        state = FloorState(targets)
        for change in changes[:4]:
            for ts in range(int(change) - 3600, int(change) + 3600, 7):
                assert state.day_of(ts + 0.5) == the_zones_day(targets, ts + 0.5), (zone, ts)


def test_new_targets_are_used_from_the_next_event_on() -> None:
    """The floor's settings change in the middle of an hour: the day is the new zone's."""
    ts = datetime(2026, 3, 2, 20, 30, tzinfo=UTC).timestamp()  # 15:30 in New York
    state = FloorState(FloorTargets(timezone="America/New_York"))
    new_york_day = state.day_of(ts)
    assert new_york_day == the_zones_day(state.targets, ts)
    state.targets = FloorTargets(timezone="Asia/Kathmandu")  # 02:15 the next day there
    assert state.day_of(ts + 1) == the_zones_day(state.targets, ts + 1) == new_york_day + 1
