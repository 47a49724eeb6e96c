"""Building events by hand for worked examples, a sink straight into a store, and a helpdesk
that reads nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from supervisor_tui.core.projection import FloorState
from supervisor_tui.model import (
    Event,
    HealthState,
    Limit,
    NewEvent,
    Payload,
    Reason,
    SourceHealth,
)
from supervisor_tui.store import SQLiteStore

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


@dataclass
class StoreSink:
    """What the collector gives an adapter, without the collector: straight to the store."""

    store: SQLiteStore
    source: str
    clock: Callable[[], float]
    health_reports: list[SourceHealth] = field(default_factory=list)

    async def emit(self, events: Sequence[NewEvent], cursor: str | None = None) -> None:
        self.store.append(events, {self.source: cursor} if cursor else None)

    async def health(
        self,
        state: HealthState,
        reason: str = "",
        *,
        retry_at: float | None = None,
        budget_left: float | None = None,
        poll_interval_s: float | None = None,
        limits: Sequence[Limit] = (),
        said: Reason | None = None,
    ) -> None:
        now = self.clock()
        payload = SourceHealth(
            state=state,
            reason=reason,
            retry_at=retry_at,
            budget_left=budget_left,
            limits=tuple(limits),
            said=said,
            at=now,
        )
        self.health_reports.append(payload)
        self.store.append(
            [
                NewEvent(
                    source=self.source,
                    key=f"h{now}{len(self.health_reports)}",
                    occurred_at=now,
                    received_at=now,
                    payload=payload,
                )
            ]
        )

    async def quarantine(self, kind: str, raw: str, reason: str) -> None:
        self.store.quarantine(self.source, kind, raw, reason, self.clock())


class QuietHelpdesk:
    """A source that reads nothing (its collector holds its lease, writes no event) and keeps
    what is written back to it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.written: list[tuple[str, dict[str, Any]]] = []

    async def run(self, sink: object, cursor: str | None) -> None:
        await asyncio.Event().wait()

    async def write_back(self, action: str, body: dict[str, Any]) -> None:
        self.written.append((action, body))
