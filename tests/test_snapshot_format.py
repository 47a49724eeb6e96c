"""Issue #20: snapshot format 2 (views as columns, trend minutes as rows, presence timelines
compact) gives back the floor it froze, in its order, and format 1 (each view an object, as
older recordings hold them) still loads to the same floor."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import pytest
import zstandard

from supervisor_tui.core.projection import DayCounters, FloorState
from supervisor_tui.core.snapshot import (
    _ADAPTERS,
    SnapshotError,
    _frozen,
    _FrozenFormat1,
    freeze,
    thaw,
)
from supervisor_tui.store import SQLiteStore

from .conftest import simulate, targets

COUNTERS = [f.name for f in dataclasses.fields(DayCounters)]


def _floor(seed: int, hours: float) -> FloorState:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "floor.db")
        store.append(simulate(seed, hours * 3600))
        state = FloorState(targets())
        state.apply_all(store.read_from(0, 1_000_000))
        store.close()
    state.take_changes()
    return state


def _orders(state: FloorState) -> tuple[list[str], list[str], list[tuple[str, list[str]]]]:
    return (
        list(state.tickets),
        list(state.agents),
        [(ref, list(metrics)) for ref, metrics in state.slas.items()],
    )


def _written_as_format_1(state: FloorState) -> bytes:
    """The floor as an older version wrote it: the same fields, each view an object."""
    frozen = _frozen(state, _FrozenFormat1)
    old = json.loads(_ADAPTERS[1].dump_json(frozen))
    assert isinstance(old["tickets"][next(iter(state.tickets))], dict)
    # format 1 wrote each minute of a queue's trend as an object
    for queue in old["queues"].values():
        assert queue["trend"] and all(isinstance(row, list) for row in queue["trend"])
        queue["trend"] = [
            {
                "minute": row[0],
                "backlog": row[1],
                "counters": dict(zip(COUNTERS, row[2:], strict=True)),
            }
            for row in queue["trend"]
        ]
    # and each presence timeline as its list of (since, state) pairs
    old["intraday"]["states"] = {
        agent_id: [[since, s.value] for since, s in timeline]
        for agent_id, timeline in state.intraday.states.items()
    }
    return zstandard.ZstdCompressor().compress(
        json.dumps(old, ensure_ascii=False, separators=(",", ":")).encode()
    )


@pytest.mark.parametrize(("seed", "hours"), [(1, 0.5), (7, 2.0), (11, 4.0)])
def test_a_floor_frozen_in_either_format_thaws_to_the_same_floor_in_its_order(
    seed: int, hours: float
) -> None:
    state = _floor(seed, hours)
    assert state.tickets and state.slas and state.agents and state.intraday.states
    again = thaw(freeze(state), targets())
    assert again.snapshot() == state.snapshot()
    assert _orders(again) == _orders(state)
    older = thaw(_written_as_format_1(state), targets(), 1)
    assert older.snapshot() == state.snapshot()
    assert _orders(older) == _orders(state)


def _damaged(state: FloorState, damage: str) -> bytes:
    document = json.loads(zstandard.ZstdDecompressor().decompress(freeze(state)))
    tickets = document["tickets"]
    if damage == "a column cut short":
        tickets["subject"] = tickets["subject"][:-1]
    elif damage == "a column missing":
        del tickets["status"]
    elif damage == "a status no helpdesk has":
        tickets["status"][0] = "teleported"
    elif damage == "a trend minute cut short":
        queue = next(q for q in document["queues"].values() if q["trend"])
        queue["trend"][0] = queue["trend"][0][:-1]
    elif damage == "a view as an object":
        ref = next(iter(state.tickets))
        document["tickets"] = {ref: tickets["ref"]}
    return zstandard.ZstdCompressor().compress(json.dumps(document).encode())


@pytest.mark.parametrize(
    "damage",
    [
        "a column cut short",
        "a column missing",
        "a status no helpdesk has",
        "a trend minute cut short",
        "a view as an object",
    ],
)
def test_damaged_columns_are_one_clear_snapshot_error(damage: str) -> None:
    state = _floor(3, 1.0)
    assert thaw(_damaged(state, "none"), targets()).snapshot() == state.snapshot()
    with pytest.raises(SnapshotError, match=r"^snapshot does not load \("):
        thaw(_damaged(state, damage), targets())
