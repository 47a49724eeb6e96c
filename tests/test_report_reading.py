"""Issue #20: how a report reads and keeps a long recording. The fast paths must read and
count exactly what the plain ones did: the stores' lazy reader gives the events read_from
gives, and one recording is folded as the merged stream numbered it (the compact presence
timelines are tested in test_intraday.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import Event
from supervisor_tui.report.compute import _STAFFING_KINDS, compute, merged
from supervisor_tui.store import PostgresStore, SQLiteStore, StoreCorrupt, every_event

from .conftest import simulate, targets
from .pg import new_schema

EXAMPLES = 60


@pytest.fixture(params=["sqlite", "postgres"])
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteStore | PostgresStore]:
    """A store holding a simulated hour of the floor."""
    store: SQLiteStore | PostgresStore
    if request.param == "sqlite":
        store = SQLiteStore(tmp_path / "floor.db")
    else:
        store = PostgresStore(request.getfixturevalue("pg_url"), schema=new_schema())
    store.append(simulate(7, 3600.0))
    yield store
    store.close()


def test_the_lazy_reader_reads_what_read_from_reads(filled: SQLiteStore | PostgresStore) -> None:
    every = filled.read_from(0, 1_000_000)
    assert len(every) > 500
    # chunks of 7 rows: the chunk edges fall everywhere
    assert list(every_event(filled, chunk=7)) == every
    assert list(every_event(filled)) == every


def test_the_lazy_reader_stops_at_a_damaged_row_with_the_events_before_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "floor.db"
    store = SQLiteStore(path)
    store.append(simulate(7, 1800.0))
    n = store.last_seq()
    store.close()
    raw = sqlite3.connect(path)  # a recording from elsewhere: its triggers gone, a row broken
    raw.execute("DROP TRIGGER events_append_only_update")
    raw.execute("UPDATE events SET payload = '{\"queue_id\": 5}' WHERE seq = ?", (n // 2,))
    raw.commit()
    raw.close()
    store = SQLiteStore(path, read_only=True)
    read: list[Event] = []
    with pytest.raises(StoreCorrupt, match=f"event {n // 2} does not parse"):
        for event in every_event(store, chunk=50):
            read.append(event)
    store.close()
    assert [e.seq for e in read] == list(range(1, n // 2))


def test_one_recording_is_folded_as_the_merged_stream_numbered_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "floor.db")
    store.append(simulate(3, 2 * 3600.0))
    events = store.read_from(0, 1_000_000)
    store.close()
    # seqs that do not go up (0, repeated, falling): numbered afresh; the rest kept
    jumbled = [e.model_copy(update={"seq": s}) for e, s in zip(events, [0, 5, 5, 3], strict=False)]
    jumbled += events[4:]
    seqs = [e.seq for e in merged([("rec", jumbled)])]
    assert seqs[:4] == [1, 5, 6, 7]
    assert all(b > a for a, b in pairwise(seqs))
    targets = FloorTargets()
    assert compute([("rec", events)], targets=targets, now=0.0) == compute(
        [("rec", jumbled)], targets=targets, now=0.0
    )


def test_only_the_staffing_kinds_change_what_the_report_integrates_lazily() -> None:
    """The report adds an agent's time in state and a queue's staffing only before the events
    that may change them (``_STAFFING_KINDS``): any other event that changed an agent's state
    or queues, a queue's channel or staffing would be counted wrongly, with no error."""

    def integrated(state: FloorState) -> tuple[object, ...]:
        return (
            {a.agent_id: (a.state, a.queue_ids) for a in state.agents.values()},
            {q.queue_id: q.channel for q in state.queues.values()},
            dict(state.staffed),
        )

    state = FloorState(targets())
    kinds_seen = set()
    for n, new in enumerate(simulate(5, 2 * 3600.0), 1):
        event = Event(seq=n, **new.model_dump(exclude={"payload"}), payload=new.payload)
        kinds_seen.add(event.kind)
        before = integrated(state)
        state.apply(event)
        if event.kind not in _STAFFING_KINDS:
            # a new queue or agent may appear (the report counts it from then on)
            after = integrated(state)
            for was, now in zip(before, after, strict=True):
                assert isinstance(was, dict) and isinstance(now, dict)
                assert {k: v for k, v in now.items() if k in was} == was, event.kind
    assert {"agent.state", "contact.offered", "ticket.upserted"} <= kinds_seen
