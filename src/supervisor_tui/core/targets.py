"""Per-queue targets: the thresholds the projection classifies contacts against."""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True, slots=True)
class FloorTargets:
    default: QueueTargets = field(default_factory=QueueTargets)
    queues: dict[str, QueueTargets] = field(default_factory=dict)
    utc_offset_s: int = 0
    """The floor's offset from UTC: "today" starts at the floor's midnight."""

    def for_queue(self, queue_id: str) -> QueueTargets:
        return self.queues.get(queue_id, self.default)
