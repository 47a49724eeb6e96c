"""The store, against both backends (SQLite and PostgreSQL): append-only, idempotent by key,
cursors committed with events, gapless seqs that readers can follow without skipping one."""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

import supervisor_tui.store.sqlite as sqlite_module
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    EscalationAcked,
    Event,
    NewEvent,
    TicketDeleted,
)
from supervisor_tui.store import (
    SCHEMA_VERSION,
    OutboxRequest,
    PostgresStore,
    SQLiteStore,
    Store,
    StoreCorrupt,
    StoreError,
    StoreTooNew,
)

from .doors import fuzz_examples
from .pg import free_port, new_schema

AnyStore = SQLiteStore | PostgresStore


def state_event(n: int, source: str = "sim", key: str | None = None) -> NewEvent:
    payload = AgentStateChanged(agent_id=f"a{n % 7}", state=AgentState.BUSY, since=1000.0 + n)
    return NewEvent(
        source=source,
        key=key or f"k{n}",
        occurred_at=1000.0 + n,
        received_at=1000.0 + n,
        payload=payload,
    )


# -- the two backends ------------------------------------------------------------------------


class Backend:
    """Where one test's store lives, and a way around the store to its raw tables."""

    name: str
    db_error: type[Exception]

    def open(self, *, read_only: bool = False) -> AnyStore:
        raise NotImplementedError

    def raw(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        raise NotImplementedError


@dataclass
class SQLiteBackend(Backend):
    path: Path
    name = "sqlite"
    db_error = sqlite3.DatabaseError

    def open(self, *, read_only: bool = False) -> AnyStore:
        return SQLiteStore(self.path, read_only=read_only)

    def raw(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        conn = sqlite3.connect(self.path)
        try:
            conn.execute(statement.replace("%s", "?"), params)
            conn.commit()
        finally:
            conn.close()


@dataclass
class PostgresBackend(Backend):
    url: str
    schema: str
    name = "postgres"
    db_error = psycopg.Error

    def open(self, *, read_only: bool = False) -> AnyStore:
        return PostgresStore(self.url, read_only=read_only, schema=self.schema)

    def raw(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            conn.execute(statement, params)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backends(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], Backend]:
    """Makes a fresh place for a store: a new file, or a new schema in the session's server."""
    if request.param == "sqlite":
        return lambda: SQLiteBackend(tmp_path_factory.mktemp("store") / "floor.db")
    url: str = request.getfixturevalue("pg_url")
    return lambda: PostgresBackend(url, new_schema())


@pytest.fixture
def backend(backends: Callable[[], Backend]) -> Backend:
    return backends()


@pytest.fixture
def store(backend: Backend) -> Iterator[AnyStore]:
    s = backend.open()
    yield s
    s.close()


@pytest.fixture
def pg(pg_url: str) -> Iterator[PostgresBackend]:
    """A PostgreSQL-only test's own schema."""
    yield PostgresBackend(pg_url, new_schema())


# -- every backend ---------------------------------------------------------------------------


def test_seq_order(store: AnyStore) -> None:
    stored = store.append([state_event(i) for i in range(5)])
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    assert [e.key for e in store.read_from(2)] == ["k2", "k3", "k4"]
    assert store.read_from(0, limit=2)[-1].seq == 2
    assert store.last_seq() == 5
    assert store.read_from(0) == stored  # events round-trip, payload included


def test_same_key_is_stored_once(store: AnyStore) -> None:
    first = store.append([state_event(1), state_event(2)])
    again = store.append([state_event(2), state_event(3), state_event(3)])
    assert [e.key for e in first] == ["k1", "k2"]
    assert [e.key for e in again] == ["k3"]
    assert [e.key for e in store.read_from(0)] == ["k1", "k2", "k3"]
    # Same key from another source is another fact.
    assert len(store.append([state_event(1, source="other")])) == 1
    assert store.append([]) == []


def test_events_cannot_be_changed_or_deleted(backend: Backend) -> None:
    store = backend.open()
    store.append([state_event(1)])
    with pytest.raises(backend.db_error, match="append-only"):
        backend.raw("UPDATE events SET key = 'x'")
    with pytest.raises(backend.db_error, match="append-only"):
        backend.raw("DELETE FROM events")
    assert [e.key for e in store.read_from(0)] == ["k1"]
    store.close()


def test_cursor_is_written_with_its_events(store: AnyStore) -> None:
    store.append([state_event(1)], {"sim": "c1"})
    assert store.get_cursor("sim") == "c1"
    # A failing batch leaves neither its events nor its cursor behind.
    bad = NewEvent.model_construct(
        source="sim",
        key="bad",
        occurred_at=1.0,
        received_at=1.0,
        payload=TicketDeleted(ticket_id="1"),
    )
    object.__setattr__(bad, "occurred_at", None)  # violates NOT NULL inside the transaction
    with pytest.raises(StoreError, match="cannot append"):
        store.append([state_event(2), bad], {"sim": "c2"})
    assert store.get_cursor("sim") == "c1"
    assert [e.key for e in store.read_from(0)] == ["k1"]
    # ... and uses up no seq.
    assert store.append([state_event(2)])[0].seq == 2


def test_reopen_keeps_everything(backend: Backend) -> None:
    s = backend.open()
    s.append([state_event(i) for i in range(3)], {"sim": "c3"})
    s.close()
    s = backend.open()
    assert s.last_seq() == 3 and s.get_cursor("sim") == "c3"
    assert s.append([state_event(3)])[0].seq == 4
    s.close()


def test_durable_ack_writes_outbox_in_the_same_transaction(store: AnyStore) -> None:
    store.append([state_event(1)])
    ack = NewEvent(
        source="operator",
        key="ack1",
        occurred_at=5.0,
        received_at=5.0,
        payload=EscalationAcked(escalation_id="e1", by="ana", note="on it", at=5.0),
    )
    seen: list[int] = []
    store.add_listener(seen.append)
    stored = store.append_durable(ack, OutboxRequest("zendesk", "ack", json.dumps({"t": 1})))
    assert stored is not None and stored.seq == 2 and seen == [2]
    assert store.append_durable(ack, OutboxRequest("zendesk", "ack", "{}")) is None  # once
    assert store.outbox_pending_count() == 1
    due = store.outbox_due(now=10.0)
    assert [(i.event_seq, i.source, i.action) for i in due] == [(stored.seq, "zendesk", "ack")]
    store.outbox_failed(due[0].id, "timeout", retry_at=20.0)
    assert store.outbox_due(now=10.0) == []
    assert store.outbox_due(now=20.0)[0].attempts == 1
    assert store.outbox_due(now=20.0)[0].last_error == "timeout"
    store.outbox_delivered(due[0].id, at=21.0)
    assert store.outbox_due(now=99.0) == [] and store.outbox_pending_count() == 0
    assert store.events_of_kind("escalation.acked") == [stored]


def test_outbox_gives_up_when_told(store: AnyStore) -> None:
    ack = NewEvent(
        source="operator",
        key="ack1",
        occurred_at=5.0,
        received_at=5.0,
        payload=EscalationAcked(escalation_id="e1", by="ana", at=5.0),
    )
    store.append_durable(ack, OutboxRequest("zendesk", "ack", "{}"))
    [item] = store.outbox_due(now=5.0)
    store.outbox_failed(item.id, "404", retry_at=None)
    assert store.outbox_due(now=1e12) == [] and store.outbox_pending_count() == 0


def test_quarantine_keeps_the_bad_payload_and_reason(store: AnyStore) -> None:
    store.quarantine("zendesk", "ticket.upserted", '{"id": "x"}', "status: missing", at=3.0)
    store.quarantine("zendesk", "ticket.upserted", "{}", "second", at=4.0)
    [q, first] = store.quarantined()
    assert q.reason == "second"
    assert (first.source, first.kind, first.reason, first.raw, first.received_at) == (
        "zendesk",
        "ticket.upserted",
        "status: missing",
        '{"id": "x"}',
        3.0,
    )
    assert len(store.quarantined(limit=1)) == 1
    assert store.read_from(0) == []


def test_ranges_timeline_and_snapshots(store: AnyStore) -> None:
    store.append([state_event(i) for i in range(6)])
    assert [e.seq for e in store.read_range(2, 4)] == [3, 4]
    assert store.read_range(4, 4) == []
    seqs, times = store.timeline()
    assert seqs == [1, 2, 3, 4, 5, 6] and times == [1000.0 + i for i in range(6)]
    assert len(store.events_of_kind(AgentStateChanged.KIND)) == 6
    assert store.events_of_kind("ticket.deleted") == []
    assert store.snapshot_index() == [] and store.snapshot_formats() == set()
    store.save_snapshot(3, 1003.0, 1, b"\x00old")
    store.save_snapshot(3, 1003.0, 2, b"\x00\xffnew")  # replaces
    store.save_snapshot(6, 1006.0, 2, b"six")
    assert store.snapshot_index() == [3, 6]
    assert store.snapshot_formats() == {2}
    assert store.load_snapshot(3) == (2, b"\x00\xffnew")
    assert store.load_snapshot(4) is None


def test_too_new_is_refused(backend: Backend) -> None:
    backend.open().close()
    backend.raw(
        "UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    with pytest.raises(StoreTooNew, match="written by a newer supervisor-tui"):
        backend.open(read_only=True)
    with pytest.raises(StoreTooNew, match="written by a newer supervisor-tui"):
        backend.open()


def test_read_only_store_refuses_writes(backend: Backend) -> None:
    writer = backend.open()
    writer.append([state_event(1)])
    ro = backend.open(read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        ro.append([state_event(2)])
    if isinstance(ro, PostgresStore):  # the SQLite store has no writer connection to refuse
        for write in (
            lambda: ro.append_durable(state_event(3)),
            lambda: ro.quarantine("s", "k", "{}", "r", 1.0),
            lambda: ro.save_snapshot(1, 1.0, 1, b""),
            lambda: ro.outbox_delivered(1, 1.0),
        ):
            with pytest.raises(StoreError, match="read-only"):
                write()
    assert [e.key for e in ro.read_from(0)] == ["k1"] and ro.last_seq() == 1
    ro.close()
    writer.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.integers(min_value=0, max_value=40), max_size=60),
    st.integers(min_value=1, max_value=10),
)
def test_any_batching_stores_each_key_once_in_first_seen_order(
    backends: Callable[[], Backend], keys: list[int], batch: int
) -> None:
    s = backends().open()  # a fresh store for every example
    for i in range(0, len(keys), batch):
        s.append([state_event(k) for k in keys[i : i + batch]])
    stored = s.read_from(0, 10_000)
    assert [e.key for e in stored] == [f"k{k}" for k in dict.fromkeys(keys)]
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    s.close()


Batch = list[tuple[str, int]]
"""One append: (source, key number) pairs, repeats allowed."""


@settings(
    max_examples=fuzz_examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 12)), max_size=8),
        max_size=30,
    )
)
def test_appends_hand_back_exactly_the_new_events_with_gapless_seqs(
    backends: Callable[[], Backend], batches: list[Batch]
) -> None:
    """Against a model (a dict of what is stored): every append hands back exactly the
    batch's events not stored before, first-seen order, numbered on from the last seq;
    what the store reads back is what the appends handed back, nothing lost or doubled;
    and no seq was used up by a refused event, so the next new event is numbered on."""
    s = backends().open()  # a fresh store for every example
    model: dict[tuple[str, int], tuple[int, float]] = {}  # seq, when the first one came
    handed: list[Event] = []
    for b, batch in enumerate(batches):
        # each event of the batch its own: the first of a key is the one kept
        events = [state_event(n, source, f"k{n}") for source, n in batch]
        events = [e.model_copy(update={"received_at": b * 100.0 + i}) for i, e in enumerate(events)]
        fresh = []
        for i, pair in enumerate(batch):
            if pair not in model:
                model[pair] = (len(model) + 1, b * 100.0 + i)
                fresh.append(pair)
        stored = s.append(events)
        assert [(e.source, e.key, e.seq, e.received_at) for e in stored] == [
            (source, f"k{n}", *model[(source, n)]) for source, n in fresh
        ]
        handed += stored
    assert s.read_from(0, 10_000) == handed
    (last,) = s.append([state_event(99, "c", "k99")])
    assert last.seq == len(model) + 1
    s.close()


# -- SQLite only -----------------------------------------------------------------------------


def test_sqlite_is_in_wal_mode(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "floor.db")
    mode = sqlite3.connect(s.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    s.close()


def test_sqlite_append_gives_the_seqs_in_the_file_when_the_counter_jumped(
    tmp_path: Path,
) -> None:
    """An append hands back each event with the seq the file gave it. SQLite numbers after
    its own counter, not after the last row: a file whose counter is ahead (a copy edited by
    hand, a tool of its own) numbers the batch after that, and the events say so."""
    s = SQLiteStore(tmp_path / "floor.db")
    s.append([state_event(0)])
    raw = sqlite3.connect(s.path)
    with raw:
        raw.execute("UPDATE sqlite_sequence SET seq = 40 WHERE name = 'events'")
    raw.close()
    stored = s.append([state_event(1), state_event(2)])
    assert [(e.seq, e.key) for e in stored] == [(41, "k1"), (42, "k2")]
    assert [(e.seq, e.key) for e in s.read_from(0)] == [(1, "k0"), (41, "k1"), (42, "k2")]
    s.close()


@settings(max_examples=fuzz_examples(50), deadline=None)
@given(
    st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=40),
    st.one_of(st.just([1] * 40), st.lists(st.integers(1, 3), min_size=40, max_size=40)),
    st.integers(1, 4),
    st.lists(st.floats(-1e9, 1e9), max_size=3),
)
def test_sqlite_the_timeline_notes_the_latest_time_up_to_each_row(
    received: list[float], steps: list[int], first: int, before: list[float]
) -> None:
    """Each ``TIMELINE_EVERY``-th seq of a batch gets a row holding the latest time received
    up to it (the events stored before the batch included), as the fold over the batch
    event by event gives it; with the batch's seqs in a row (a batch's usual seqs) or not
    (the file's own numbering)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(sqlite_module._SCHEMA)
    events = [state_event(n).model_copy(update={"received_at": t}) for n, t in enumerate(received)]
    for n, t in enumerate(before):  # stored before the batch, with no row of their own
        conn.execute(
            "INSERT INTO events (seq, source, key, kind, occurred_at, received_at, payload) "
            "VALUES (?, 'x', ?, 'agent.state', 0, ?, '{}')",
            (n + 1, f"b{n}", t),
        )
    seqs = list(itertools.accumulate(steps[: len(events)], initial=len(before) + first))[1:]
    every = 4
    latest = max(before, default=-math.inf)
    expected = []
    for seq, event in zip(seqs, events, strict=True):  # the oracle: the fold, event by event
        latest = max(latest, event.received_at)
        if seq % every == 0:
            expected.append((seq, latest))
    original = sqlite_module.TIMELINE_EVERY
    sqlite_module.TIMELINE_EVERY = every
    if seqs[0] > every:
        expected = []  # the rows of the events before would be missing: none is noted
    try:
        sqlite_module._note_timeline(conn, seqs, events)
    finally:
        sqlite_module.TIMELINE_EVERY = original
    assert conn.execute("SELECT seq, latest FROM timeline ORDER BY seq").fetchall() == expected
    conn.close()


def test_sqlite_a_batch_meeting_a_stored_event_gives_back_the_seqs_it_used(
    tmp_path: Path,
) -> None:
    """A batch is inserted whole first; the first event already stored stops it, and
    SQLite had used up a seq for each row inserted before it and for the refused one. They
    are all given back: the batch's new events follow on from the last seq, and so does
    the file's counter (which numbers the next append)."""
    s = SQLiteStore(tmp_path / "floor.db")
    s.append([state_event(n) for n in range(5)])
    stored = s.append([state_event(n) for n in (5, 6, 2, 7, 3, 8)])
    assert [(e.seq, e.key) for e in stored] == [(6, "k5"), (7, "k6"), (8, "k7"), (9, "k8")]
    raw = sqlite3.connect(s.path)
    counter = raw.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    raw.close()
    assert counter == (9,)
    assert [e.key for e in s.read_from(0)] == [f"k{n}" for n in (0, 1, 2, 3, 4, 5, 6, 7, 8)]
    assert [e.seq for e in s.append([state_event(9)])] == [10]
    s.close()


def test_sqlite_a_source_resending_stored_events_is_asked_first_for_a_while(
    tmp_path: Path,
) -> None:
    """A collector re-reading overlapping pages sends stored events batch after batch:
    its source's batches are then appended asking which keys are stored first, rather than
    each tried whole, undone and done again; another source's batches are still tried
    whole, and the resending source's are again once it has sent none for a while."""
    s = SQLiteStore(tmp_path / "floor.db")
    statements: list[str] = []
    s._writer.set_trace_callback(statements.append)

    def append(source: str, numbers: range) -> tuple[int, int]:
        """An append's (undone tries, stored-key queries)."""
        statements.clear()
        s.append([state_event(n, source, f"k{n}") for n in numbers])
        return (
            statements.count("ROLLBACK"),
            sum(q.startswith("SELECT key FROM events") for q in statements),
        )

    assert append("a", range(0, 10)) == (0, 0)  # nothing stored: tried whole, no question
    assert append("a", range(5, 15)) == (1, 1)  # overlaps: undone once, then asked
    for start in range(10, 45, 5):  # overlapping pages: asked at once, never undone
        assert append("a", range(start, start + 10)) == (0, 1)
    assert append("b", range(0, 10)) == (0, 0)  # another source is not held back
    counts = [append("a", range(n * 10, n * 10 + 10)) for n in range(5, 40)]
    assert counts[0] == (0, 1)
    assert counts[-1] == (0, 0)  # no repeat for a while: tried whole again
    assert all(undone == 0 for undone, _ in counts)
    stored = s.read_from(0, 10_000)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert len(stored) == 400 + 10
    s.close()


def test_sqlite_a_large_batch_goes_in_whole_in_its_order_with_gapless_seqs(
    tmp_path: Path,
) -> None:
    """A batch is inserted a statement of many rows at a time (of 128, then of smaller
    powers of two): a batch of any size goes in whole and in its order, seqs on from the
    last; a stored event or a key twice in a later statement of it undoes the whole try,
    the first of each key is kept and the seqs stay gapless; a source whose batch held a
    key twice is asked first for its next batches too."""
    s = SQLiteStore(tmp_path / "floor.db")
    statements: list[str] = []
    s._writer.set_trace_callback(statements.append)
    first = s.append([state_event(n) for n in range(1_337)])
    assert [(e.seq, e.key) for e in first] == [(n + 1, f"k{n}") for n in range(1_337)]
    inserts = [q for q in statements if q.startswith("INSERT INTO events")]
    # the trace shows each statement with its values: one "('sim', 'k" a row
    assert [q.count("('sim', 'k") for q in inserts] == [128] * 10 + [32, 16, 8, 1]
    # the 600th new event is stored already; the 900th, 1,200th and 1,300th come twice
    numbers = [*range(2_000, 2_599), 5, *range(2_599, 2_900), 2_000, *range(2_900, 3_200)]
    numbers += [2_100, *range(3_200, 3_300), 2_200, *range(3_300, 3_400)]
    statements.clear()
    second = s.append([state_event(n) for n in numbers])
    new = [n for n in dict.fromkeys(numbers) if n >= 2_000]
    assert [(e.seq, e.key) for e in second] == [(1_338 + i, f"k{n}") for i, n in enumerate(new)]
    assert statements.count("ROLLBACK") == 1
    assert s.read_from(0, 10_000) == first + second
    statements.clear()
    third = s.append([state_event(n) for n in (4_000, 4_001, 4_000)])
    assert [(e.seq, e.key) for e in third] == [
        (len(first + second) + 1, "k4000"),
        (len(first + second) + 2, "k4001"),
    ]
    assert statements.count("ROLLBACK") == 0  # asked first: not tried whole and undone
    assert sum(q.startswith("SELECT key FROM events") for q in statements) == 1
    s.close()


def test_sqlite_not_a_store(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    junk.chmod(0o600)
    with pytest.raises(StoreCorrupt, match=r"junk\.db: not a supervisor-tui store"):
        SQLiteStore(junk)


def test_sqlite_a_recording_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "floor.db"
    SQLiteStore(path).close()
    path.chmod(0o640)
    for read_only in (False, True):
        with pytest.raises(StoreError, match=r"read or written by others \(mode 640\).*chmod 600"):
            SQLiteStore(path, read_only=read_only)


def test_a_new_store_file_is_private_to_its_owner(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "private.db").close()
    assert (tmp_path / "private.db").stat().st_mode & 0o077 == 0


# -- PostgreSQL only -------------------------------------------------------------------------


def test_postgres_store_is_a_store(pg: PostgresBackend) -> None:
    s: Store = PostgresStore(pg.url, schema=pg.schema)
    s.close()
    s.close()  # twice is fine


def test_postgres_cannot_truncate_events(pg: PostgresBackend) -> None:
    pg.open().close()
    with pytest.raises(psycopg.Error, match="append-only"):
        pg.raw("TRUNCATE events CASCADE")


def test_postgres_not_a_store_and_no_store(pg: PostgresBackend) -> None:
    with pytest.raises(StoreError, match="no such store"):
        PostgresStore(pg.url, schema=pg.schema, read_only=True)
    pg.raw(f'CREATE SCHEMA "{pg.schema}"')
    pg.raw("CREATE TABLE events (id int)")
    with pytest.raises(StoreCorrupt, match="not a supervisor-tui store"):
        PostgresStore(pg.url, schema=pg.schema)


def test_postgres_schemas_are_separate_stores(pg_url: str) -> None:
    a = PostgresStore(pg_url, schema=new_schema())
    b = PostgresStore(pg_url, schema=new_schema())
    a.append([state_event(i) for i in range(3)])
    assert b.append([state_event(0)])[0].seq == 1
    assert b.last_seq() == 1 and a.last_seq() == 3
    a.close()
    b.close()


def test_postgres_store_survives_lost_connections(pg: PostgresBackend) -> None:
    store = PostgresStore(pg.url, schema=pg.schema)
    store.append([state_event(1)])
    assert store.wait_for_new(0.01) == 1  # subscribes
    kill = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'supervisor-tui' AND pid <> pg_backend_pid()"
    )
    pg.raw(kill)
    assert [e.seq for e in store.read_from(0)] == [1]  # a read is retried on a new connection
    with pytest.raises(StoreError, match="cannot append"):
        store.append([state_event(2)])  # a write is not retried ...
    assert [e.seq for e in store.append([state_event(2)])] == [2]  # ... the next one reconnects
    assert store.wait_for_new(0.01) == 2  # subscribes again, and says what is there
    store.close()


def test_postgres_connection_failure_is_one_line_without_the_password(pg_url: str) -> None:
    port = free_port()  # nothing listens there
    for url in (
        f"postgresql://alice:hunter2-secret@127.0.0.1:{port}/floor",
        f"host=127.0.0.1 port={port} user=alice password=hunter2-secret dbname=floor",
    ):
        with pytest.raises(StoreError, match="cannot connect") as info:
            PostgresStore(url)
        message = str(info.value)
        assert "hunter2" not in message and "\n" not in message
        assert f"postgresql://alice@127.0.0.1:{port}/floor" in message
    # A real server refusing the password.
    password = psycopg.conninfo.conninfo_to_dict(pg_url)["password"]
    wrong = pg_url.replace(str(password), "wrong-pw-123")
    with pytest.raises(StoreError, match="password authentication failed") as info:
        PostgresStore(wrong)
    message = str(info.value)
    assert "wrong-pw-123" not in message and str(password) not in message
    assert "\n" not in message


def test_postgres_notify_wakes_a_waiting_reader(pg: PostgresBackend) -> None:
    writer = PostgresStore(pg.url, schema=pg.schema)
    reader = PostgresStore(pg.url, schema=pg.schema, read_only=True)
    assert reader.wait_for_new(0.05) is None  # subscribes; nothing stored yet
    woke: list[int | None] = []
    waiter = threading.Thread(target=lambda: woke.append(reader.wait_for_new(20)))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.2)
    writer.append([state_event(i) for i in range(3)])
    waiter.join(20)
    assert woke == [3] and time.monotonic() - started < 5
    assert [e.seq for e in reader.read_from(0)] == [1, 2, 3]
    # Only commits that add events ring: a batch of known events does not.
    writer.append([state_event(1)])
    assert reader.wait_for_new(0.2) is None
    # Several commits before anyone waits: each wait returns the newest seq that has arrived
    # (both may come in one packet or in two), until the newest of all.
    writer.append([state_event(3)])
    writer.append([state_event(4)])
    announced: list[int | None] = []
    while len(announced) < 3 and (not announced or announced[-1] != 5):
        announced.append(reader.wait_for_new(5))
    assert announced in ([5], [4, 5])
    # A new subscriber hears at once about what is already there.
    late = PostgresStore(pg.url, schema=pg.schema, read_only=True)
    assert late.wait_for_new(20) == 5
    for s in (writer, reader, late):
        s.close()


_WRITER_PROCESS = """
import sys
from supervisor_tui.model import AgentState, AgentStateChanged, NewEvent
from supervisor_tui.store import PostgresStore

url, schema, source, batches, size = sys.argv[1:6]
store = PostgresStore(url, schema=schema)
print("ready", flush=True)
sys.stdin.readline()
for b in range(int(batches)):
    events = [
        NewEvent(source=source, key=f"{b}.{i}", occurred_at=b, received_at=b,
                 payload=AgentStateChanged(agent_id=source, state=AgentState.BUSY, since=b))
        for i in range(int(size))
    ]
    shared = NewEvent(source="shared", key=f"s{b}", occurred_at=b, received_at=b,
                      payload=AgentStateChanged(agent_id="x", state=AgentState.AWAY, since=b))
    store.append([*events, shared], {source: str(b)})
store.close()
"""


def test_postgres_concurrent_writers_and_a_following_reader(pg: PostgresBackend) -> None:
    """Threads and processes append at once, each through its own store, some of them the
    same events; a reader following with read_from sees every seq once, in order, no gap."""
    threads_n, procs_n, batches, size, acks_n = 3, 3, 25, 8, 20
    PostgresStore(pg.url, schema=pg.schema).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER_PROCESS, pg.url, pg.schema, f"proc{p}", str(batches),
             str(size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for p in range(procs_n)
    ]  # fmt: skip
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        go = threading.Event()
        errors: list[BaseException] = []

        def write(source: str) -> None:
            store = PostgresStore(pg.url, schema=pg.schema)
            try:
                go.wait()
                for b in range(batches):
                    fresh = [state_event(b, source, key=f"{b}.{i}") for i in range(size)]
                    shared = state_event(b, "shared", key=f"s{b}")
                    store.append([*fresh, shared], {source: str(b)})
            except BaseException as exc:
                errors.append(exc)
            finally:
                store.close()

        def ack() -> None:
            store = PostgresStore(pg.url, schema=pg.schema)
            try:
                go.wait()
                for n in range(acks_n):
                    event = state_event(n, "operator", key=f"ack{n}")
                    assert store.append_durable(event, OutboxRequest("z", "ack", "{}"))
                    assert store.append_durable(event) is None
            except BaseException as exc:
                errors.append(exc)
            finally:
                store.close()

        workers = [threading.Thread(target=write, args=(f"thread{t}",)) for t in range(threads_n)]
        workers.append(threading.Thread(target=ack))
        for w in workers:
            w.start()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        go.set()

        total = (threads_n + procs_n) * batches * size + batches + acks_n
        reader = PostgresStore(pg.url, schema=pg.schema, read_only=True)
        seen: list[tuple[int, str, str]] = []
        cursor = 0
        deadline = time.monotonic() + 90
        while len(seen) < total and time.monotonic() < deadline:
            if any(p.poll() not in (None, 0) for p in procs) or errors:
                break  # a writer failed: it is reported below
            page = reader.read_from(cursor, limit=97)
            for e in page:
                assert e.seq == cursor + 1, f"after seq {cursor} the reader got {e.seq}"
                cursor = e.seq
                seen.append((e.seq, e.source, e.key))
            if not page:
                reader.wait_for_new(0.05)
        for w in workers:
            w.join(60)
        for p in procs:
            assert p.wait(60) == 0
        assert errors == []
        assert reader.read_from(cursor) == []  # nothing more than counted
        reader.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [s for s, _, _ in seen] == list(range(1, total + 1))
    keys = [(source, key) for _, source, key in seen]
    assert len(set(keys)) == total
    assert sum(1 for source, _ in keys if source == "shared") == batches
    last = PostgresStore(pg.url, schema=pg.schema, read_only=True)
    assert last.outbox_pending_count() == acks_n
    assert {last.get_cursor(f"proc{p}") for p in range(procs_n)} == {str(batches - 1)}
    assert {last.get_cursor(f"thread{t}") for t in range(threads_n)} == {str(batches - 1)}
    last.close()


_SQLITE_WRITER = """
import sys
from supervisor_tui.model import AgentState, AgentStateChanged, NewEvent
from supervisor_tui.store import SQLiteStore

path, source, batches, size = sys.argv[1:5]
store = SQLiteStore(path)
print("ready", flush=True)
sys.stdin.readline()
for b in range(int(batches)):
    events = [
        NewEvent(source=source, key=f"{b}.{i}", occurred_at=b, received_at=b,
                 payload=AgentStateChanged(agent_id=source, state=AgentState.BUSY, since=b))
        for i in range(int(size))
    ]
    shared = NewEvent(source="shared", key=f"s{b}", occurred_at=b, received_at=b,
                      payload=AgentStateChanged(agent_id="x", state=AgentState.AWAY, since=b))
    store.append([*events, shared], {source: str(b)})
store.close()
"""


def test_sqlite_concurrent_writers_and_a_following_reader(tmp_path: Path) -> None:
    """The same proof on one SQLite file: writer processes and threads, each with its own
    store, and a reader following by seq: every seq once, in order, no gap."""
    path = tmp_path / "floor.db"
    SQLiteStore(path).close()
    procs_n, threads_n, batches, size = 3, 2, 20, 8
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SQLITE_WRITER, str(path), f"proc{p}", str(batches), str(size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for p in range(procs_n)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        go = threading.Event()
        errors: list[BaseException] = []

        def write(source: str) -> None:
            store = SQLiteStore(path)
            try:
                go.wait()
                for b in range(batches):
                    fresh = [state_event(b, source, key=f"{b}.{i}") for i in range(size)]
                    store.append([*fresh, state_event(b, "shared", key=f"s{b}")], {source: str(b)})
            except BaseException as exc:
                errors.append(exc)
            finally:
                store.close()

        workers = [threading.Thread(target=write, args=(f"thread{t}",)) for t in range(threads_n)]
        for w in workers:
            w.start()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        go.set()
        total = (threads_n + procs_n) * batches * size + batches
        reader = SQLiteStore(path, read_only=True)
        seen: list[int] = []
        keys: set[tuple[str, str]] = set()
        deadline = time.monotonic() + 60
        while len(seen) < total and time.monotonic() < deadline and not errors:
            page = reader.read_from(seen[-1] if seen else 0, limit=53)
            for e in page:
                assert e.seq == (seen[-1] if seen else 0) + 1
                seen.append(e.seq)
                keys.add((e.source, e.key))
            if not page:
                time.sleep(0.005)
        for w in workers:
            w.join(30)
        for p in procs:
            assert p.wait(30) == 0
        assert errors == []
        reader.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert seen == list(range(1, total + 1)) and len(keys) == total


def test_close_waits_for_an_append_still_running_in_its_thread(backend: Backend) -> None:
    """A collector stopped mid-append cancels the task awaiting ``to_thread``; the append
    goes on in its worker thread. Closing the store then waits for it (closing a SQLite
    connection under a running statement crashes the whole process) and keeps its events."""
    store = backend.open()
    events = [state_event(n) for n in range(20_000)]
    failed: list[BaseException] = []

    def append() -> None:
        try:
            store.append(events)
        except BaseException as exc:
            failed.append(exc)

    writer = threading.Thread(target=append)
    writer.start()
    deadline = time.monotonic() + 30
    while not store._write_lock.locked() and writer.is_alive() and time.monotonic() < deadline:
        time.sleep(0.0005)
    store.close()
    writer.join(60)
    assert not writer.is_alive() and failed == []
    reopened = backend.open(read_only=True)
    try:
        assert reopened.last_seq() == len(events)
    finally:
        reopened.close()
