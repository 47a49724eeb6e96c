"""Building events by hand for worked examples."""

from __future__ import annotations

from itertools import count

from supervisor_tui.core.projection import FloorState
from supervisor_tui.model import Event, Payload

_seq = count(1)


class Feed:
    """Feeds hand-made payloads into a FloorState with increasing seqs."""

    def __init__(self, state: FloorState, source: str = "t") -> None:
        self.state = state
        self.source = source
        self.seq = state.seq

    def __call__(self, payload: Payload, at: float = 0.0, source: str | None = None) -> Event:
        self.seq += 1
        event = Event(
            seq=self.seq,
            source=source or self.source,
            key=f"k{self.seq}",
            occurred_at=at,
            received_at=at,
            payload=payload,
        )
        self.state.apply(event)
        return event
