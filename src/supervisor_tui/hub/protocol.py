"""The hub's wire format: JSON text frames over a websocket.

terminal → hub
  ``{"type": "hello", "token": T, "last_seq": N, "user": NAME}``   first frame, within 5 s
  ``{"type": "command", "id": ID, "action": "ack"|"note"|"snooze"|"resolve",
     "escalation_id": E, "note": TEXT, "minutes": M}``              supervise tokens only

What a terminal sends is checked strictly (``Hello``, ``Command``): a string is a string, a
whole number of minutes is a whole number, lengths are bounded, nothing unknown is taken.
A frame is at most ``MAX_HELLO`` bytes until the hello is accepted, ``MAX_MESSAGE`` after,
and nested at most ``MAX_DEPTH`` deep (checked before it is parsed).
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
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from supervisor_tui.core.commands import NOTE_MAX, SNOOZE_MAX_MIN
from supervisor_tui.model import Event, PayloadError, parse_payload

Scope = Literal["view", "supervise"]
MAX_HELLO = 4 * 1024
"""The largest frame before the hello is accepted: a hello is a token and a name."""
MAX_MESSAGE = 64 * 1024
"""The largest frame from a terminal that said hello: a command with the longest note, every
character escaped, is about 25 KB."""
MAX_DEPTH = 8
"""The deepest nesting of objects and arrays a terminal may send: its frames are flat."""
HELLO_TIMEOUT_S = 5.0
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


# a string (to its closing quote, or to the end when it has none, so the scan stays linear)
# or a bracket
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


def too_deep(frame: str | bytes, limit: int) -> bool:
    """Whether the objects and arrays of a JSON text nest deeper than ``limit``, found
    without parsing it (``json.loads`` of deep input recurses until RecursionError).
    Brackets inside strings do not count."""
    raw = frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame
    depth = 0
    for match in _TOKEN.finditer(raw):
        token = match[0]
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def decode(frame: str | bytes, max_depth: int | None = None) -> dict[str, Any]:
    """One frame as a dict with a string ``type``, or ProtocolError."""
    if max_depth is not None and too_deep(frame, max_depth):
        raise ProtocolError(f"nested deeper than {max_depth}")
    try:
        data = json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("not JSON") from None
    except RecursionError:
        raise ProtocolError("nested too deep") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("not a message (an object with a type)")
    return data


# -- what a terminal may send ------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Hello(_Strict):
    type: Literal["hello"]
    token: str = Field(max_length=512)
    last_seq: int = Field(default=0, ge=0)
    user: str = Field(default="", max_length=200)


class _Command(_Strict):
    type: Literal["command"]
    id: str = Field(max_length=64)
    escalation_id: str = Field(min_length=1, max_length=200)


class AckCommand(_Command):
    action: Literal["ack"]
    note: str = Field(default="", max_length=NOTE_MAX)


class NoteCommand(_Command):
    action: Literal["note"]
    note: str = Field(min_length=1, max_length=NOTE_MAX)


class SnoozeCommand(_Command):
    action: Literal["snooze"]
    minutes: int = Field(ge=1, le=SNOOZE_MAX_MIN)


class ResolveCommand(_Command):
    action: Literal["resolve"]
    note: str = Field(default="", max_length=NOTE_MAX)


Command = Annotated[
    AckCommand | NoteCommand | SnoozeCommand | ResolveCommand, Field(discriminator="action")
]
_COMMAND: TypeAdapter[Command] = TypeAdapter(Command)


def _refusal(what: str, exc: ValidationError) -> ProtocolError:
    """A short reason a terminal can show; never the input itself (it may be huge)."""
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or what}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return ProtocolError(f"bad {what}: " + "; ".join(problems[:3]) + more)


def parse_hello(message: dict[str, Any]) -> Hello:
    try:
        return Hello.model_validate(message)
    except ValidationError as exc:
        raise _refusal("hello", exc) from None


def parse_command(message: dict[str, Any]) -> Command:
    try:
        return _COMMAND.validate_python(message)
    except ValidationError as exc:
        raise _refusal("command", exc) from None
