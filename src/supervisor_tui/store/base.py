"""The store interface shared by every backend, and its errors."""

from __future__ import annotations

import collections
import itertools
import os
import socket
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

from pydantic import BaseModel

from supervisor_tui.i18n import _
from supervisor_tui.model import (
    FURTHEST_AHEAD_S,
    LONGEST_AGO_S,
    Event,
    NewEvent,
    PayloadError,
    in_range,
    parse_payload,
    printable,
)

SCHEMA_VERSION = 1


class StoreError(Exception):
    """The store cannot do what was asked; the message says why in one line, in English
    (the log), and ``said`` in the floor's language (what a person is shown)."""

    def __init__(self, message: str, *, said: str | None = None) -> None:
        super().__init__(message)
        self.said = message if said is None else said

    @classmethod
    def worded(cls, template: str, **values: object) -> Self:
        """The error from one ``N_`` template: English for the log, translated for people."""
        return cls(template.format(**values), said=_(template).format(**values))


class StoreCorrupt(StoreError):
    """The file is not a supervisor-tui store, or its contents do not parse."""


class StoreTooNew(StoreError):
    """The file was written by a newer version of supervisor-tui."""


class StoreBusy(StoreError):
    """Another collector holds this store's writer lease."""


OUTBOX_CLAIM_S = 900.0
"""How long a claimed write-back is left to its collector before another may take it: far
longer than any one delivery (HTTP deadlines, paging back through a long ticket)."""


def holder_name() -> str:
    """Who takes a writer lease: this process, on this machine."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


def holder_text(text: str) -> str:
    """Who holds a lease, as read back from a file or a table: data, so no control
    characters, and not a page of it."""
    return "".join(c if c.isprintable() else " " for c in text).strip()[:200]


class WriterLease(Protocol):
    """The right to write a store's sources, held for the collector's life: the whole store
    (a SQLite file), or the sources the collector reads (a PostgreSQL floor fed by several
    collectors, each holding its own sources). Whoever holds it may also be the floor's one
    rules runner."""

    sources: frozenset[str] | None
    """The sources whose events and write-backs are this collector's; None: every one."""

    def verify(self) -> None:
        """Raise StoreError if the lease (or the store it is for) is no longer ours; take the
        rules over when the floor has no runner."""

    @property
    def runs_rules(self) -> bool:
        """This collector raises and resolves the floor's escalations (one collector does)."""

    def append_rules(self, events: Sequence[NewEvent]) -> list[Event]:
        """Store the rules' escalations, only while this collector is the rules runner (a
        StoreError otherwise, even if another collector took the rules over a moment ago)."""

    def release(self) -> None: ...


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A write-back to a helpdesk (an ack as an internal note or a tag), delivered at least once."""

    id: int
    event_seq: int
    source: str
    action: str
    body: str  # JSON
    attempts: int
    next_attempt_at: float
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class WriteBackOutcome:
    """Where an operator command's write-back stands (the audit trail's last column)."""

    event_seq: int
    source: str
    action: str
    state: str  # pending | delivered | failed
    attempts: int
    last_error: str | None
    delivered_at: float | None
    next_attempt_at: float


@dataclass(frozen=True, slots=True)
class OutboxRequest:
    source: str
    action: str
    body: str


@dataclass(frozen=True, slots=True)
class QuarantinedPayload:
    id: int
    source: str
    kind: str
    reason: str
    raw: str
    received_at: float


class Readable(Protocol):
    def read_from(self, after_seq: int, limit: int = 10_000) -> list[Event]: ...


_EVERY_FIELD = set(Event.model_fields)
"""The ``__pydantic_fields_set__`` of every event built here, one set for all (a copy each
was a tenth of building one): every field is set, so the set can only grow by a name that
is not a field, which pydantic adds only on assignment to a model that is not frozen (an
Event is) or with extra="allow" (not an Event's); ``model_copy`` copies it before adding
the fields it updates."""
_new_object = object.__new__
# each slot's own setter: object.__setattr__ looks the name up on the class first (a sixth
# of building an event)
_set_fields = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _built(fields: dict[str, Any]) -> Event:
    """An event of its fields, already typed, as pydantic's ``model_construct`` builds it
    but without its generic walk over fields, aliases and defaults (several times the cost).
    ``tests/test_store_events.py`` checks the result equals a validated event for every
    kind, so a pydantic upgrade that changes how a model holds its fields fails there."""
    event = _new_object(Event)
    _set_fields(event, fields)
    _set_fields_set(event, _EVERY_FIELD)
    _set_extra(event, None)
    _set_private(event, None)
    return event


_consume: Callable[[Iterable[object]], None] = collections.deque[object](maxlen=0).extend
"""Runs an iterator to its end, keeping nothing."""


def numbered(seqs: Sequence[int], events: Sequence[NewEvent]) -> list[Event]:
    """The events a store has just written, each with the seq it was given: each
    ``NewEvent`` was validated when it was made and the seq comes from the store, so they
    are not validated again (that was a third of an append's time). A new event's fields
    are an event's but its seq, in the same order.

    Built as ``_built`` builds one, a step at a time for the whole batch, each step one
    ``map`` of the slot's setter: no Python call an event (0.9 -> 0.7 us an event)."""
    built: list[Event] = list(map(_new_object, itertools.repeat(Event, len(events))))
    fields = [{"seq": seq, **e.__dict__} for seq, e in zip(seqs, events, strict=True)]
    _consume(map(_set_fields, built, fields))
    _consume(map(_set_fields_set, built, itertools.repeat(_EVERY_FIELD)))
    _consume(map(_set_extra, built, itertools.repeat(None)))
    _consume(map(_set_private, built, itertools.repeat(None)))
    return built


StoredColumns = tuple[str, str, str, float, float, str]
"""source, key, kind, occurred_at, received_at, payload JSON: a new event's columns."""


def stored_rows(events: Iterable[NewEvent]) -> list[StoredColumns]:
    """New events' columns as both stores write them."""
    return [
        (
            e.source,
            e.key,
            (payload := e.payload).KIND,
            e.occurred_at,
            e.received_at,
            # the serializer itself: model_dump_json's wrapper costs as much again
            payload.__pydantic_serializer__.to_json(payload).decode(),
        )
        for e in events
    ]


def as_new(events: Iterable[Event], source: str | None = None) -> list[NewEvent]:
    """Stored events as new ones, to append elsewhere (``source`` to file them under another)."""
    return [
        NewEvent(
            source=source or e.source,
            key=e.key,
            occurred_at=e.occurred_at,
            received_at=e.received_at,
            payload=e.payload,
        )
        for e in events
    ]


@runtime_checkable
class RowReadable(Readable, Protocol):
    def read_rows_from(self, after_seq: int, limit: int = 10_000) -> list[EventRow]: ...

    def event_of(self, row: EventRow) -> Event: ...


def every_event(store: Readable, chunk: int = 20_000) -> Iterator[Event]:
    """A store's events in seq order, read a chunk at a time (a report or a benchmark
    folds a large recording without holding it all)."""
    seq = 0
    if isinstance(store, RowReadable):
        # a chunk of rows, each made an event only when its turn comes: a chunk of
        # 20,000 events held at once cost more than making them (fresh memory, the
        # collector's walks), about half of reading a recording
        while True:
            rows = store.read_rows_from(seq, chunk)
            if not rows:
                return
            event_of = store.event_of
            for row in rows:
                yield event_of(row)
            seq = rows[-1][0]
    while True:
        events = store.read_from(seq, chunk)
        if not events:
            return
        yield from events
        seq = events[-1].seq


Listener = Callable[[int], None]
"""Called with the newest seq after a commit that added events (from the committing thread)."""


class LocalFeed:
    """A store read by this process is a floor feed (core.feed.FloorFeed) with no link to
    watch: every event is in it, and whoever reads it may act."""

    def link_status(self) -> None:
        return None

    @property
    def view_only(self) -> bool:
        return False

    def take_snapshot(self) -> None:
        return None  # every event is in the store: the board never skips any

    def start(self) -> None:
        return None


class Store(Protocol):
    def append(
        self, events: Sequence[NewEvent], cursors: Mapping[str, str] | None = None
    ) -> list[Event]:
        """Store new events and, in the same transaction, each source's sync cursor.

        Returns the events not seen before (by source and key), with their seq."""

    def append_durable(self, event: NewEvent, outbox: OutboxRequest | None = None) -> Event | None:
        """Store one operator event (ack, note, ...) on disk before returning, with its
        write-back to the helpdesk in the same transaction."""

    def read_from(self, after_seq: int, limit: int = 10_000) -> list[Event]: ...

    def read_range(self, after_seq: int, upto_seq: int) -> list[Event]:
        """Events with after_seq < seq <= upto_seq, in order."""

    def last_seq(self) -> int: ...

    def get_cursor(self, source: str) -> str | None: ...

    def quarantine(self, source: str, kind: str, raw: str, reason: str, at: float) -> None: ...

    def quarantined(self, limit: int = 100) -> list[QuarantinedPayload]: ...

    def outbox_due(self, now: float, limit: int = 50) -> list[OutboxItem]: ...

    def outbox_claim(
        self,
        now: float,
        claimer: str,
        limit: int = 50,
        claim_s: float = OUTBOX_CLAIM_S,
        sources: Collection[str] | None = None,
    ) -> list[OutboxItem]:
        """The due write-backs (to ``sources`` only, when given), claimed for ``claimer``
        until ``now + claim_s`` in one transaction: another collector does not get them
        meanwhile, so none is sent twice. Rows ``claimer`` already holds are returned again."""

    def outbox_release_claims(self, keep: str, sources: Collection[str] | None = None) -> int:
        """Release every claim (to ``sources`` only, when given) not held by ``keep``: their
        collectors are gone, the writer lease says so. Returns how many."""

    def writer_lease(self, holder: str, sources: Collection[str] = ()) -> WriterLease:
        """Take the writer lease for ``holder`` ("pid N on HOST") and the ``sources`` it
        reads, or raise StoreBusy naming who holds it (or which source, and who has it)."""

    def outbox_pending_count(self) -> int: ...

    def outbox_delivered(self, item_id: int, at: float) -> None: ...

    def outbox_failed(self, item_id: int, error: str, retry_at: float | None) -> None: ...

    def add_listener(self, listener: Listener) -> None: ...

    def close(self) -> None: ...


EventRow = tuple[int, str, str, str, float, float, str]
"""seq, source, key, kind, occurred_at, received_at, payload JSON: an event as stored."""


def is_time(value: object) -> bool:
    """A time as stored: a number a datetime can hold (a file from elsewhere may hold text,
    NULL, inf or 1e300)."""
    return type(value) in (int, float) and in_range(value)


def sql_type(value: object) -> str:
    """What a stored value is, in words, for an error message (never the value itself)."""
    return {type(None): "NULL", int: "an integer", float: "a number", str: "text"}.get(
        type(value), "a blob"
    )


def _check_columns(row: EventRow, where: str) -> None:
    """Raise StoreCorrupt naming the first column of the row that is not what it must be."""
    seq, source, key, kind, occurred_at, received_at, payload = row
    if type(seq) is not int:
        raise StoreCorrupt(f"{where}: an event's seq is {sql_type(seq)}, not an integer")
    for name, text in (("source", source), ("key", key), ("kind", kind)):
        if type(text) is not str:
            raise StoreCorrupt(f"{where}: event {seq}: its {name} is {sql_type(text)}, not text")
    for name, at in (("occurred_at", occurred_at), ("received_at", received_at)):
        if not is_time(at):
            raise StoreCorrupt(f"{where}: event {seq}: its {name} is {sql_type(at)}, not a time")
    if type(payload) not in (str, bytes):
        raise StoreCorrupt(f"{where}: event {seq}: its payload is {sql_type(payload)}")


def event_from_row(row: EventRow, where: str) -> Event:
    seq, source, key, kind, occurred_at, received_at, payload = row
    # A recording from elsewhere may hold any type in any column (SQLite checks none). A
    # row as this program writes it passes in one test (a call a column cost 1 us an event);
    # any other is looked at column by column.
    if not (
        type(seq) is int
        and type(source) is str
        and type(key) is str
        and type(kind) is str
        and type(occurred_at) is float
        and type(received_at) is float
        and LONGEST_AGO_S <= occurred_at <= FURTHEST_AHEAD_S
        and LONGEST_AGO_S <= received_at <= FURTHEST_AHEAD_S
        and type(payload) is str
    ):
        _check_columns(row, where)
    try:
        parsed = parse_payload(kind, payload)
    except PayloadError as exc:
        raise StoreCorrupt(f"{where}: event {seq} does not parse ({exc})") from None
    # Every field is already typed (the payload was validated just above, the rest comes
    # from typed columns): build the event without validating it a second time.
    return _built(
        {
            "seq": seq,
            "source": printable(source),  # shown in the freshness bar, the help and reports
            "key": key,
            "occurred_at": occurred_at,
            "received_at": received_at,
            "payload": parsed,
        }
    )
