"""What an operator does to an escalation: ack, note, snooze, resolve.

Each command is one event written with ``synchronous=FULL`` before it returns, together
with its write-back to the helpdesk in the outbox (same transaction), so the screen can
only ever show an ack that is already on disk, and no ack is lost on the way back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol

from supervisor_tui.core.projection import Escalation
from supervisor_tui.model import (
    EscalationAcked,
    EscalationNoted,
    EscalationResolved,
    EscalationSnoozed,
    Event,
    NewEvent,
    Payload,
)
from supervisor_tui.store import OutboxRequest, Store

OPERATOR_SOURCE = "operator"
NOTE_MAX = 2000
SNOOZE_MAX_MIN = 24 * 60


class CommandRefused(ValueError):
    """The command makes no sense for this escalation (already resolved, empty note, ...)."""


class Desk(Protocol):
    """Where an operator's commands go: the store this process writes (``EscalationDesk``)
    or the hub (``hub.client.RemoteDesk``)."""

    def ack(self, esc: Escalation, by: str, note: str = "") -> object: ...

    def note(self, esc: Escalation, by: str, note: str) -> object: ...

    def snooze(self, esc: Escalation, by: str, minutes: float) -> object: ...

    def resolve(self, esc: Escalation, by: str, reason: str = "") -> object: ...


class EscalationDesk:
    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock

    def ack(self, esc: Escalation, by: str, note: str = "") -> Event | None:
        if not esc.is_open:
            raise CommandRefused("this escalation is already resolved")
        now = self.clock()
        note = _clean(note)
        payload = EscalationAcked(escalation_id=esc.escalation_id, by=by, note=note, at=now)
        return self._record(esc, payload, "ack", note, now)

    def note(self, esc: Escalation, by: str, note: str) -> Event | None:
        note = _clean(note)
        if not note:
            raise CommandRefused("a note needs some text")
        now = self.clock()
        payload = EscalationNoted(escalation_id=esc.escalation_id, by=by, note=note, at=now)
        return self._record(esc, payload, "note", note, now)

    def snooze(self, esc: Escalation, by: str, minutes: float) -> Event | None:
        if not esc.is_open:
            raise CommandRefused("this escalation is already resolved")
        if not 0 < minutes <= SNOOZE_MAX_MIN:
            raise CommandRefused("snooze for 1 minute to 24 hours")
        now = self.clock()
        payload = EscalationSnoozed(
            escalation_id=esc.escalation_id, by=by, until=now + minutes * 60, at=now
        )
        return self._record(esc, payload, None, "", now)

    def resolve(self, esc: Escalation, by: str, reason: str = "") -> Event | None:
        if not esc.is_open:
            raise CommandRefused("this escalation is already resolved")
        now = self.clock()
        reason = _clean(reason) or "resolved by hand"
        payload = EscalationResolved(escalation_id=esc.escalation_id, by=by, reason=reason, at=now)
        return self._record(esc, payload, "resolve", reason, now)

    def _record(
        self, esc: Escalation, payload: Payload, action: str | None, text: str, now: float
    ) -> Event | None:
        by = getattr(payload, "by", "") or ""
        outbox = None
        if action is not None and esc.ticket_source and esc.ticket_id:
            body = {
                "ticket_id": esc.ticket_id,
                "escalation_id": esc.escalation_id,
                "by": by,
                "text": text,
                "title": esc.title,
            }
            outbox = OutboxRequest(esc.ticket_source, action, json.dumps(body, sort_keys=True))
            # the board can then say the write-back is pending until its outcome arrives
            payload = payload.model_copy(update={"write_back": True})
        event = NewEvent(
            source=OPERATOR_SOURCE,
            key=f"{payload.KIND}:{esc.escalation_id}:{by}:{now:.6f}",
            occurred_at=now,
            received_at=now,
            payload=payload,
        )
        return self.store.append_durable(event, outbox)


def _clean(text: str) -> str:
    """Operator text is stored as typed, minus control characters and surrounding space."""
    cleaned = "".join(ch for ch in text if ch == "\n" or ch >= " ").strip()
    return cleaned[:NOTE_MAX]
