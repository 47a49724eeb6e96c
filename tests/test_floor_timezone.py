"""Issue #18 (F): the floor's IANA time zone decides every date on the board, in replay and
in reports, summer time included."""

from __future__ import annotations

from datetime import date, datetime
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from supervisor_tui import config as config_module
from supervisor_tui.core.projection import DAY_S, FloorState
from supervisor_tui.core.replay import clock_in_recording
from supervisor_tui.core.targets import FloorTargets, settings_payload, targets_from_settings
from supervisor_tui.hub.record import yesterday_eight
from supervisor_tui.model import Channel, ContactOffered, Event, QueueUpserted
from supervisor_tui.report.compute import compute
from supervisor_tui.report.render import to_markdown

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> float:
    return datetime(*args, tzinfo=BERLIN).timestamp()  # type: ignore[misc]


def test_board_days_follow_summer_time() -> None:
    """Berlin is UTC+2 in summer: 00:30 on 1 July is the 1st, which a floor set to its
    winter offset (+1 h) would call the 30th of June."""
    early = berlin(2026, 7, 1, 0, 30)
    floor = FloorState(FloorTargets(timezone="Europe/Berlin", utc_offset_s=3600))
    epoch_day = date(1970, 1, 1).toordinal()
    assert floor.day_of(early) == date(2026, 7, 1).toordinal() - epoch_day
    assert FloorState(FloorTargets(utc_offset_s=3600)).day_of(early) == floor.day_of(early) - 1


def test_report_days_are_the_floors_days_across_summer_time() -> None:
    seq = count(1)
    events = [
        Event(
            seq=next(seq),
            source="hd",
            key="q",
            occurred_at=berlin(2026, 3, 28, 8),
            received_at=berlin(2026, 3, 28, 8),
            payload=QueueUpserted(queue_id="voice", name="Voice", channel=Channel.VOICE),
        )
    ]
    offered = [berlin(2026, 3, d, h, m) for d in (28, 29, 30) for h, m in ((0, 10), (23, 50))]
    for n, t in enumerate(sorted(offered)):
        events.append(
            Event(
                seq=next(seq),
                source="hd",
                key=f"c{n}",
                occurred_at=t,
                received_at=t,
                payload=ContactOffered(
                    contact_id=f"c{n}", queue_id="voice", channel=Channel.VOICE, offered_at=t
                ),
            )
        )
    floor = FloorTargets(timezone="Europe/Berlin", utc_offset_s=3600)
    report = compute([("r", events)], targets=floor)
    by_label = {p.label: p for p in report.periods}
    for day in (28, 29, 30):
        period = by_label[datetime(2026, 3, day).strftime("%a %d %b %Y")]
        assert period.start == berlin(2026, 3, day)
        assert period.end == berlin(2026, 3, day + 1)
        (voice,) = period.queues
        assert voice.offered == 2  # 00:10 and 23:50 of that day, floor time
    short_day = by_label["Sun 29 Mar 2026"]
    assert short_day.end - short_day.start == DAY_S - 3600
    # --from/--to in floor time: the 29th alone
    window = compute(
        [("r", events)], targets=floor, start=berlin(2026, 3, 29), end=berlin(2026, 3, 30)
    )
    assert [p.queues[0].offered for p in window.periods] == [2]
    assert "Europe/Berlin" in to_markdown(report)


def test_replay_at_finds_the_clock_time_after_midnight() -> None:
    """A recording that starts at 23:00: 00:20 is the next day's, 23:30 the first day's."""
    floor = FloorTargets(timezone="Asia/Ho_Chi_Minh")
    start = datetime(2026, 12, 5, 23, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).timestamp()
    assert clock_in_recording("00:20", start, floor) == start + 80 * 60
    assert clock_in_recording("23:30", start, floor) == start + 30 * 60
    assert clock_in_recording("24:00", start, floor) is None


def test_the_zone_is_checked_and_recorded() -> None:
    parse_config = config_module.parse_config
    config = parse_config({"floor": {"timezone": "Asia/Ho_Chi_Minh"}}, "floor.toml")
    targets = config.floor_targets()
    assert targets.timezone == "Asia/Ho_Chi_Minh" and targets.utc_offset_s == 7 * 3600
    back = targets_from_settings(settings_payload("F", targets, [], 0.0))
    assert back.timezone == "Asia/Ho_Chi_Minh"
    # (the class as the config module has it now: another test reloads the module)
    with pytest.raises(config_module.ConfigError, match="unknown time zone 'Mars/Olympus'"):
        parse_config({"floor": {"timezone": "Mars/Olympus"}}, "floor.toml")
    with pytest.raises(config_module.ConfigError, match="not both"):
        parse_config({"floor": {"timezone": "UTC", "utc_offset_minutes": 60}}, "floor.toml")


def test_a_recorded_shift_starts_at_eight_floor_time_yesterday() -> None:
    floor = FloorTargets(timezone="Europe/Berlin")
    now = berlin(2026, 3, 30, 12)  # the day after the change: yesterday had 23 hours
    assert yesterday_eight(floor, now) == berlin(2026, 3, 29, 8)
