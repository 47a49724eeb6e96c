"""The store interface shared by every backend, and its errors."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from supervisor_tui.model import (
    Event,
    NewEvent,
    PayloadError,
    in_range,
    parse_payload,
    printable,
)

SCHEMA_VERSION = 1


class StoreError(Exception):
    """The store cannot do what was asked; the message says why in one line."""


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


def numbered(seqs: Sequence[int], events: Sequence[NewEvent]) -> list[Event]:
    """The events a store has just written, each with the seq it was given. Built through
    validation: in pydantic 2.14 ``model_construct`` is slower for this model (measured)."""
    return [
        Event(
            seq=seq,
            source=e.source,
            key=e.key,
            occurred_at=e.occurred_at,
            received_at=e.received_at,
            payload=e.payload,
        )
        for seq, e in zip(seqs, events, strict=True)
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


def every_event(store: Readable, chunk: int = 20_000) -> Iterator[Event]:
    """A store's events in seq order, read a chunk at a time (a report or a benchmark
    folds a large recording without holding it all)."""
    seq = 0
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


def event_from_row(row: EventRow, where: str) -> Event:
    seq, source, key, kind, occurred_at, received_at, payload = row
    # A recording from elsewhere may hold any type in any column (SQLite checks none).
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
    try:
        parsed = parse_payload(kind, payload)
    except PayloadError as exc:
        raise StoreCorrupt(f"{where}: event {seq} does not parse ({exc})") from None
    # Every field is already typed (the payload was validated just above, the rest comes
    # from typed columns): build the event without validating it a second time.
    return Event.model_construct(
        seq=seq,
        source=printable(source),  # shown in the freshness bar, the help and reports
        key=key,
        occurred_at=occurred_at,
        received_at=received_at,
        payload=parsed,
    )
