"""The hub's wire format: JSON text frames over a websocket.

terminal → hub
  ``{"type": "hello", "token": T, "last_seq": N, "user": NAME}``   first frame, within 10 s
  ``{"type": "command", "id": ID, "action": "ack"|"note"|"snooze"|"resolve",
     "escalation_id": E, "note": TEXT, "minutes": M}``              supervise tokens only
hub → terminal
  ``{"type": "welcome", "scope": S, "user": NAME, "floor": {...}, "seq": HUB_SEQ}``
  ``{"type": "snapshot", "seq": S, "format": F, "state": BASE64}``  the floor at seq S
  ``{"type": "events", "events": [EVENT, ...]}``                   every event after the last
  ``{"type": "tick", "at": T, "seq": S, "pending": N}``            every 2 s: the hub is alive
  ``{"type": "result", "id": ID, "ok": BOOL, "error": TEXT}``      a command's outcome
  ``{"type": "error", "error": TEXT}``                             then the hub closes

An event on the wire: ``{"seq", "source", "key", "kind", "occurred_at", "received_at",
"payload"}``; the payload is validated by its kind on arrival, as from the store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from supervisor_tui.model import Event, PayloadError, parse_payload

Scope = Literal["view", "supervise"]
MAX_MESSAGE = 1 << 20  # what a terminal may send: a command is a few hundred bytes
HELLO_TIMEOUT_S = 10.0
TICK_S = 2.0


class ProtocolError(ValueError):
    """A frame that is not what the protocol says."""


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """A terminal's token, as the hub keeps it: a name, a scope, and the SHA-256 of the
    token (the token itself is never stored)."""

    name: str
    scope: Scope
    sha256: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_token(token: str, entries: Sequence[TokenEntry]) -> TokenEntry | None:
    """The entry for this token; every entry is compared, in constant time each."""
    digest = hash_token(token)
    found = None
    for entry in entries:
        if hmac.compare_digest(digest, entry.sha256):
            found = entry
    return found


def event_to_wire(event: Event) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "source": event.source,
        "key": event.key,
        "kind": event.kind,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at,
        "payload": event.payload.model_dump(mode="json"),
    }


def event_from_wire(data: Any) -> Event:
    if not isinstance(data, dict):
        raise ProtocolError("an event is not an object")
    try:
        payload = parse_payload(str(data["kind"]), data["payload"])
        return Event(
            seq=int(data["seq"]),
            source=str(data["source"]),
            key=str(data["key"]),
            occurred_at=float(data["occurred_at"]),
            received_at=float(data["received_at"]),
            payload=payload,
        )
    except (KeyError, TypeError, ValueError, PayloadError) as exc:
        raise ProtocolError(f"bad event: {str(exc)[:200]}") from None


def events_frame(events: Iterable[Event]) -> str:
    return json.dumps({"type": "events", "events": [event_to_wire(e) for e in events]})


def snapshot_frame(seq: int, fmt: int, state: bytes) -> str:
    return json.dumps(
        {
            "type": "snapshot",
            "seq": seq,
            "format": fmt,
            "state": base64.b64encode(state).decode("ascii"),
        }
    )


def decode(frame: str | bytes) -> dict[str, Any]:
    """One frame as a dict with a string ``type``, or ProtocolError."""
    try:
        data = json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("not a message (an object with a type)")
    return data
