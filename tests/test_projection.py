"""The projection is a pure fold: duplicates and batch boundaries do not change the floor."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor_tui.core.projection import FloorState
from supervisor_tui.store import SQLiteStore

from .conftest import record_floor, simulate, targets

EVENTS = simulate(seed=3, until_s=2 * 3600)[:1500]


def folded(path: Path, batches: list[list[int]]) -> dict:
    """Append the events in these batches (indexes may repeat), then fold from the store."""
    store = SQLiteStore(path)
    state = FloorState(targets())
    for batch in batches:
        store.append([EVENTS[i] for i in batch])
        state.apply_all(store.read_from(state.seq, 100_000))  # follow as the app does
    replayed = FloorState(targets())
    replayed.apply_all(store.read_from(0, 100_000))
    store.close()
    assert state.snapshot() == replayed.snapshot()  # followed live == folded at once
    return replayed.snapshot()


class Reference:
    """The floor folded in one go; a small repr keeps hypothesis reports readable."""

    def __init__(self, snapshot: dict) -> None:
        self.snapshot = snapshot

    def __repr__(self) -> str:
        return f"Reference(seq={self.snapshot['seq']})"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return Reference(folded(tmp_path_factory.mktemp("ref") / "f.db", [list(range(len(EVENTS)))]))


def test_reference_floor_is_not_empty(reference: Reference) -> None:
    snap = reference.snapshot
    assert len(snap["queues"]) == 5 and len(snap["agents"]) == 40
    assert sum(q["today"]["answered"] for q in snap["queues"].values()) > 100


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_any_batching_and_repeats_give_the_same_floor(
    tmp_path_factory: pytest.TempPathFactory, reference: Reference, data: st.DataObject
) -> None:
    n = len(EVENTS)
    cuts = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=25)))
    bounds = [0, *cuts, n]
    batches = [list(range(a, b)) for a, b in pairwise(bounds)]
    # Re-deliver stretches already delivered, as an overlapping poll or a webhook would.
    for _ in range(data.draw(st.integers(0, 4))):
        at = data.draw(st.integers(1, len(batches)))
        seen = max(b[-1] for b in batches[:at] if b) + 1
        start = data.draw(st.integers(0, seen - 1))
        length = data.draw(st.integers(1, 300))
        batches.insert(at, list(range(start, min(seen, start + length))))
    path = tmp_path_factory.mktemp("p") / "f.db"
    assert folded(path, batches) == reference.snapshot


def test_applying_an_event_twice_changes_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "f.db")
    events = store.append(EVENTS[:500])
    once, twice = FloorState(targets()), FloorState(targets())
    once.apply_all(events)
    twice.apply_all(events)
    twice.apply_all(events[100:300])
    assert once.snapshot() == twice.snapshot()
    store.close()


def test_an_agent_without_presence_is_shown_but_never_staffed() -> None:
    """Helpdesks without presence (JSM, ServiceNow without AWA) report agents by their work:
    such an agent is on the board, but a queue is not counted as staffed by them."""
    from supervisor_tui.model import (
        AgentState,
        AgentStateChanged,
        AgentUpserted,
        Channel,
        QueueUpserted,
    )

    from .helpers import Feed

    state = FloorState(targets())
    feed = Feed(state)
    feed(QueueUpserted(queue_id="q1", name="Service desk", channel=Channel.EMAIL))
    feed(AgentUpserted(agent_id="a1", name="Ana", queue_ids=("q1",)))
    feed(AgentUpserted(agent_id="a2", name="Bo", queue_ids=("q1",)))
    feed(AgentStateChanged(agent_id="a1", state=AgentState.BUSY, since=10.0))
    feed(
        AgentStateChanged(
            agent_id="a2", state=AgentState.UNKNOWN, since=10.0, work="3 open requests"
        )
    )
    assert state.staffed.get("q1") == 1
    assert state.agents["a2"].state is AgentState.UNKNOWN
    assert state.agents["a2"].work == "3 open requests"
    feed(AgentStateChanged(agent_id="a2", state=AgentState.AVAILABLE, since=20.0))
    assert state.staffed.get("q1") == 2


def test_a_floor_without_tickets_is_the_same_floor_for_what_a_report_reads_of_it(
    tmp_path: Path,
) -> None:
    """The report's projection keeps no tickets or SLA clocks (it counts them itself); the
    queues, agents, staffing, escalations and intraday it reads there are the board's."""
    store = record_floor(tmp_path / "f.db", until_s=4 * 3600)
    events = store.read_from(0, 1_000_000)
    store.close()
    full, light = FloorState(targets()), FloorState(targets(), tickets=False)
    full.apply_all(events)
    light.apply_all(events)
    assert full.tickets and full.slas and not light.tickets and not light.slas
    assert {q.queue_id: (q.name, q.channel, q.sources) for q in light.queues.values()} == {
        q.queue_id: (q.name, q.channel, q.sources) for q in full.queues.values()
    }
    whole, kept = full.snapshot(), light.snapshot()
    for part in ("escalations", "intraday", "seq"):
        assert kept[part] == whole[part], part
    assert {a: (v.state, v.since, v.queue_ids) for a, v in light.agents.items()} == {
        a: (v.state, v.since, v.queue_ids) for a, v in full.agents.items()
    }
    assert light.staffed == full.staffed and light.members == full.members


def test_a_queue_first_seen_on_a_ticket_is_known_without_tickets() -> None:
    from supervisor_tui.model import Event, TicketStatus, TicketUpserted

    ticket = TicketUpserted(
        ticket_id="7", status=TicketStatus.OPEN, queue_id="vip", created_at=1.0, updated_at=1.0
    )
    light = FloorState(tickets=False)
    light.apply(
        Event(seq=1, source="desk", key="t7", occurred_at=1.0, received_at=1.0, payload=ticket)
    )
    assert list(light.queues) == ["vip"] and light.queues["vip"].sources == {"desk"}
    assert not light.tickets


@pytest.mark.parametrize("tickets", [True, False])
def test_a_floor_let_go_of_is_freed_at_once_without_the_cycle_collector(tickets: bool) -> None:
    """Replay lets go of states as it seeks, a hub resync and a report of whole floors: a
    state that was a reference cycle (its table of bound methods) waited for a full
    collection, which walks every live object."""
    import gc
    import weakref

    from supervisor_tui.store.base import numbered

    events = simulate(seed=5, until_s=1800)
    state = FloorState(targets(), tickets=tickets)
    state.apply_all(numbered(range(1, len(events) + 1), events))
    gone = weakref.ref(state)
    gc.disable()
    try:
        del state
        assert gone() is None
    finally:
        gc.enable()
