"""What an operator does to an escalation: ack, note, snooze, resolve.

Each command is one event written with ``synchronous=FULL`` before it returns, together
with its write-back to the helpdesk in the outbox (same transaction), so the screen can
only ever show an ack that is already on disk, and no ack is lost on the way back.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from typing import Protocol

from supervisor_tui.core.projection import Escalation
from supervisor_tui.i18n import N_, _
from supervisor_tui.model import (
    EscalationAcked,
    EscalationNoted,
    EscalationResolved,
    EscalationSnoozed,
    Event,
    NewEvent,
    Payload,
)
from supervisor_tui.store import OutboxRequest, Store, StoreError

OPERATOR_SOURCE = "operator"
NOTE_MAX = 2000
SNOOZE_MAX_MIN = 24 * 60

log = logging.getLogger(__name__)


def this_terminal() -> str:
    """Where a command typed here came from: the machine and its terminal device."""
    try:
        tty = os.ttyname(0)
    except OSError:
        tty = "no tty"
    return f"{socket.gethostname()} {tty}"


REFUSALS: dict[str, str] = {
    "resolved": N_("this escalation is already resolved"),
    "empty_note": N_("a note needs some text"),
    "snooze_range": N_("snooze for 1 minute to 24 hours"),
    "snooze_whole": N_("snooze for a whole number of minutes"),
    "scope_view": N_("this token may watch, not act (scope view)"),
    "unknown_token": N_("unknown token"),
    "not_saved": N_("not saved: {error}"),
    "refused": N_("refused by the hub"),
}
"""Why a command or a terminal is refused, by code: the hub sends the code beside the
English words, so each terminal says it in its own floor's language (``refusal_said``)."""


def refusal_said(code: str, text: str, error: str = "") -> str:
    """A refusal in the floor's language; ``text`` as sent where the code is not one this
    version knows (an older hub sends words only, a newer one may send new codes)."""
    template = REFUSALS.get(code)
    return text if template is None else _(template).format(error=error)


class CommandRefused(ValueError):
    """The command makes no sense for this escalation (already resolved, empty note, ...).
    Its message is English (the log); ``said`` is for the person who tried it."""

    def __init__(self, code: str, text: str = "", *, error: str = "") -> None:
        template = REFUSALS.get(code)
        english = template.format(error=error) if template is not None else text or code
        super().__init__(english)
        self.code = code
        self.error = error
        self.said = refusal_said(code, english, error)


class Desk(Protocol):
    """Where an operator's commands go: the store this process writes (``EscalationDesk``)
    or the hub (``hub.client.RemoteDesk``)."""

    def ack(self, esc: Escalation, by: str, note: str = "") -> object: ...

    def note(self, esc: Escalation, by: str, note: str) -> object: ...

    def snooze(self, esc: Escalation, by: str, minutes: float) -> object: ...

    def resolve(self, esc: Escalation, by: str, reason: str = "") -> object: ...


class EscalationDesk:
    def __init__(
        self, store: Store, clock: Callable[[], float], terminal: str | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.terminal = this_terminal() if terminal is None else terminal
        """Recorded with each command (the audit trail's "from which terminal")."""

    def ack(
        self, esc: Escalation, by: str, note: str = "", *, terminal: str | None = None
    ) -> Event | None:
        where = self.terminal if terminal is None else terminal
        if not esc.is_open:
            raise _refused("ack", esc, by, where, "resolved")
        now = self.clock()
        note = _clean(note)
        payload = EscalationAcked(
            escalation_id=esc.escalation_id, by=by, note=note, at=now, terminal=where
        )
        return self._record(esc, payload, "ack", note, now)

    def note(
        self, esc: Escalation, by: str, note: str, *, terminal: str | None = None
    ) -> Event | None:
        where = self.terminal if terminal is None else terminal
        note = _clean(note)
        if not note:
            raise _refused("note", esc, by, where, "empty_note")
        now = self.clock()
        payload = EscalationNoted(
            escalation_id=esc.escalation_id, by=by, note=note, at=now, terminal=where
        )
        return self._record(esc, payload, "note", note, now)

    def snooze(
        self, esc: Escalation, by: str, minutes: float, *, terminal: str | None = None
    ) -> Event | None:
        where = self.terminal if terminal is None else terminal
        if not esc.is_open:
            raise _refused("snooze", esc, by, where, "resolved")
        if not 0 < minutes <= SNOOZE_MAX_MIN:
            raise _refused("snooze", esc, by, where, "snooze_range")
        now = self.clock()
        payload = EscalationSnoozed(
            escalation_id=esc.escalation_id,
            by=by,
            until=now + minutes * 60,
            at=now,
            terminal=where,
        )
        return self._record(esc, payload, None, f"{minutes:g} min", now)

    def resolve(
        self, esc: Escalation, by: str, reason: str = "", *, terminal: str | None = None
    ) -> Event | None:
        where = self.terminal if terminal is None else terminal
        if not esc.is_open:
            raise _refused("resolve", esc, by, where, "resolved")
        now = self.clock()
        reason = _clean(reason) or "resolved by hand"
        payload = EscalationResolved(
            escalation_id=esc.escalation_id, by=by, reason=reason, at=now, terminal=where
        )
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
        what = payload.KIND.removeprefix("escalation.")
        detail = f"for {text}" if action is None else f"with {len(text)} characters of text"
        try:
            stored = self.store.append_durable(event, outbox)
        except StoreError as exc:
            log.error(
                "operator: %s by %r on escalation %s not saved: %s",
                what,
                by,
                esc.escalation_id,
                exc,
            )
            raise
        log.info(
            "operator: %s by %r from %s on escalation %s (%s) %s%s",
            what,
            by,
            getattr(payload, "terminal", ""),
            esc.escalation_id,
            esc.title[:80],
            detail,
            "; its write-back is in the outbox" if outbox is not None else "",
        )
        return stored


def _refused(what: str, esc: Escalation, by: str, terminal: str, code: str) -> CommandRefused:
    refusal = CommandRefused(code)
    log.warning(
        "operator: %s by %r from %s on escalation %s refused: %s",
        what,
        by,
        terminal,
        esc.escalation_id,
        refusal,
    )
    return refusal


def _clean(text: str) -> str:
    """Operator text is stored as typed, minus control characters and surrounding space."""
    cleaned = "".join(ch for ch in text if ch == "\n" or ch >= " ").strip()
    return cleaned[:NOTE_MAX]
