"""Per-queue targets: the thresholds the projection classifies contacts against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from supervisor_tui.model import FloorSettingsRecorded, NewEvent, QueueTargetsRecorded

SETTINGS_SOURCE = "floor"
"""The source of ``floor.settings`` events (internal: not a helpdesk on the board)."""


@dataclass(frozen=True, slots=True)
class QueueTargets:
    sl_threshold_s: float = 20.0
    """T in "answered within T": the service-level threshold."""
    sl_target: float = 0.80
    """The share answered within T that the floor aims for (Erlang C need is sized to it)."""
    short_abandon_s: float = 5.0
    """Contacts abandoned within this many seconds are not counted as abandons."""
    aht_default_s: float = 300.0
    """Average handle time used for staffing until the queue has handled contacts of its own."""
    erlang_window_s: float = 1800.0
    """Arrivals over this many seconds give the arrival rate for Erlang C."""
    max_concurrent: int = 1
    """Contacts an agent takes at once (chats): "need" counts agents, not contacts."""


@dataclass(frozen=True, slots=True)
class FloorTargets:
    default: QueueTargets = field(default_factory=QueueTargets)
    queues: dict[str, QueueTargets] = field(default_factory=dict)
    utc_offset_s: int = 0
    """The floor's offset from UTC: "today" starts at the floor's midnight. With a
    ``timezone``, its offset when the settings were read (the zone decides every date)."""
    timezone: str = ""
    """The floor's IANA time zone (``Asia/Ho_Chi_Minh``); empty: the fixed offset above."""

    def for_queue(self, queue_id: str) -> QueueTargets:
        return self.queues.get(queue_id, self.default)

    def zone(self) -> tzinfo:
        """The floor's time zone: every date on the board, in replay and in reports."""
        if self.timezone:
            return ZoneInfo(self.timezone)
        return timezone(timedelta(seconds=self.utc_offset_s))

    def offset_at(self, ts: float) -> int:
        """The floor's offset from UTC at instant ``ts`` (summer time included)."""
        if not self.timezone:
            return self.utc_offset_s
        offset = datetime.fromtimestamp(ts, ZoneInfo(self.timezone)).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def midnight(self, ts: float, days: int = 0, hour: int = 0) -> float:
        """The floor's midnight (or ``hour`` o'clock) on the day of ``ts`` plus ``days``."""
        zone = self.zone()
        day = datetime.fromtimestamp(ts, zone).date() + timedelta(days=days)
        return datetime(day.year, day.month, day.day, hour, tzinfo=zone).timestamp()

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC).astimezone(self.zone())


def settings_payload(
    floor_name: str, targets: FloorTargets, rules: Sequence[dict[str, Any]], at: float
) -> FloorSettingsRecorded:
    """The settings event a collector or a recorder writes so the recording carries them."""
    return FloorSettingsRecorded(
        floor_name=floor_name,
        timezone=targets.timezone,
        utc_offset_s=targets.utc_offset_s,
        default=QueueTargetsRecorded(**asdict(targets.default)),
        queues={qid: QueueTargetsRecorded(**asdict(q)) for qid, q in targets.queues.items()},
        rules=tuple(rules),
        at=at,
    )


def targets_from_settings(settings: FloorSettingsRecorded) -> FloorTargets:
    """The targets a recording's settings event says the board used."""
    return FloorTargets(
        default=QueueTargets(**settings.default.model_dump()),
        queues={qid: QueueTargets(**q.model_dump()) for qid, q in settings.queues.items()},
        utc_offset_s=settings.utc_offset_s,
        timezone=settings.timezone,
    )


def same_settings(a: FloorSettingsRecorded, b: FloorSettingsRecorded) -> bool:
    """Equal but for when they were written: a restart with the same config writes nothing."""
    return a.model_dump(exclude={"at"}) == b.model_dump(exclude={"at"})


def settings_event(
    floor_name: str,
    targets: FloorTargets,
    rules: Sequence[dict[str, Any]],
    at: float,
    recorded: FloorSettingsRecorded | None = None,
) -> NewEvent | None:
    """The ``floor.settings`` event to write now, or None when ``recorded`` (the latest in
    the store) already says the same."""
    payload = settings_payload(floor_name, targets, rules, at)
    if recorded is not None and same_settings(recorded, payload):
        return None
    return NewEvent(
        source=SETTINGS_SOURCE,
        key=f"floor.settings:{at!r}",
        occurred_at=at,
        received_at=at,
        payload=payload,
    )
