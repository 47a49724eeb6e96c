"""The projection is a pure fold: duplicates and batch boundaries do not change the floor."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor_tui.core.projection import FloorState
from supervisor_tui.store import SQLiteStore

from .conftest import simulate, targets

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
