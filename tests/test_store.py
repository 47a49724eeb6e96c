"""The SQLite store: append-only, WAL, idempotent by key, cursors committed with events."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor_tui.model import AgentState, AgentStateChanged, NewEvent, TicketDeleted
from supervisor_tui.store import (
    SCHEMA_VERSION,
    OutboxRequest,
    SQLiteStore,
    StoreCorrupt,
    StoreError,
    StoreTooNew,
)


def state_event(n: int, source: str = "sim") -> NewEvent:
    payload = AgentStateChanged(agent_id=f"a{n % 7}", state=AgentState.BUSY, since=1000.0 + n)
    return NewEvent(
        source=source, key=f"k{n}", occurred_at=1000.0 + n, received_at=1000.0 + n, payload=payload
    )


def test_wal_mode_and_seq_order(store: SQLiteStore) -> None:
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    stored = store.append([state_event(i) for i in range(5)])
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    assert [e.key for e in store.read_from(2)] == ["k2", "k3", "k4"]
    assert store.read_from(0, limit=2)[-1].seq == 2
    assert store.last_seq() == 5


def test_same_key_is_stored_once(store: SQLiteStore) -> None:
    first = store.append([state_event(1), state_event(2)])
    again = store.append([state_event(2), state_event(3), state_event(3)])
    assert [e.key for e in first] == ["k1", "k2"]
    assert [e.key for e in again] == ["k3"]
    assert [e.key for e in store.read_from(0)] == ["k1", "k2", "k3"]
    # Same key from another source is another fact.
    assert len(store.append([state_event(1, source="other")])) == 1


def test_events_cannot_be_changed_or_deleted(store: SQLiteStore) -> None:
    store.append([state_event(1)])
    conn = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET key = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events")


def test_cursor_is_written_with_its_events(store: SQLiteStore, tmp_path: Path) -> None:
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


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    s = SQLiteStore(path)
    s.append([state_event(i) for i in range(3)], {"sim": "c3"})
    s.close()
    s = SQLiteStore(path)
    assert s.last_seq() == 3 and s.get_cursor("sim") == "c3"
    assert s.append([state_event(3)])[0].seq == 4
    s.close()


def test_durable_ack_writes_outbox_in_the_same_transaction(store: SQLiteStore) -> None:
    from supervisor_tui.model import EscalationAcked

    ack = NewEvent(
        source="operator",
        key="ack1",
        occurred_at=5.0,
        received_at=5.0,
        payload=EscalationAcked(escalation_id="e1", by="ana", note="on it", at=5.0),
    )
    stored = store.append_durable(ack, OutboxRequest("zendesk", "ack", json.dumps({"t": 1})))
    assert stored is not None
    assert store.append_durable(ack, OutboxRequest("zendesk", "ack", "{}")) is None  # once
    due = store.outbox_due(now=10.0)
    assert [(i.event_seq, i.source, i.action) for i in due] == [(stored.seq, "zendesk", "ack")]
    store.outbox_failed(due[0].id, "timeout", retry_at=20.0)
    assert store.outbox_due(now=10.0) == []
    assert store.outbox_due(now=20.0)[0].attempts == 1
    store.outbox_delivered(due[0].id, at=21.0)
    assert store.outbox_due(now=99.0) == [] and store.outbox_pending_count() == 0


def test_quarantine_keeps_the_bad_payload_and_reason(store: SQLiteStore) -> None:
    store.quarantine("zendesk", "ticket.upserted", '{"id": "x"}', "status: missing", at=3.0)
    [q] = store.quarantined()
    assert (q.source, q.kind, q.reason, q.raw) == (
        "zendesk",
        "ticket.upserted",
        "status: missing",
        '{"id": "x"}',
    )
    assert store.read_from(0) == []


def test_not_a_store_and_too_new(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreCorrupt, match=r"junk\.db: not a supervisor-tui store"):
        SQLiteStore(junk)
    newer = tmp_path / "newer.db"
    SQLiteStore(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreTooNew, match="written by a newer supervisor-tui"):
        SQLiteStore(newer, read_only=True)


def test_read_only_store_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    SQLiteStore(path).close()
    ro = SQLiteStore(path, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        ro.append([state_event(1)])
    ro.close()


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=40), max_size=60),
    st.integers(min_value=1, max_value=10),
)
def test_any_batching_stores_each_key_once_in_first_seen_order(
    tmp_path_factory: pytest.TempPathFactory, keys: list[int], batch: int
) -> None:
    s = SQLiteStore(tmp_path_factory.mktemp("h") / "f.db")
    for i in range(0, len(keys), batch):
        s.append([state_event(k) for k in keys[i : i + batch]])
    stored = s.read_from(0, 10_000)
    assert [e.key for e in stored] == [f"k{k}" for k in dict.fromkeys(keys)]
    assert [e.seq for e in stored] == sorted({e.seq for e in stored})
    s.close()


def test_a_new_store_file_is_private_to_its_owner(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "private.db").close()
    assert (tmp_path / "private.db").stat().st_mode & 0o077 == 0
