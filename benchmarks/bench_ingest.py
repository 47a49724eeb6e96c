"""Ingest into the SQLite store and fold through the projection.

- store: events/s appended in collector-sized batches, against one transaction per event;
- apply: FloorState.apply events/s, against the cheapest possible fold of the same events
  (a dict keyed by kind) to show what the projection's bookkeeping costs.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.core.projection import FloorState
from supervisor_tui.store import SQLiteStore

EPOCH = 1_790_000_000.0
BATCH = 2_000


def _events(hours: float, agents: int, queues: int) -> list[Any]:
    sim = FloorSimulation(SimOptions(seed=1, agents=agents, queues=queues), EPOCH)
    return list(sim.advance(hours * 3600))


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def run() -> list[dict[str, Any]]:
    events = _events(hours=4, agents=200, queues=20)
    with tempfile.TemporaryDirectory() as tmp:
        batched = SQLiteStore(Path(tmp) / "batched.db")
        t = time.perf_counter()
        for i in range(0, len(events), BATCH):
            batched.append(events[i : i + BATCH])
        batched_rate = _rate(len(events), time.perf_counter() - t)
        stored = batched.read_from(0, len(events) + 1)
        batched.close()

        single = SQLiteStore(Path(tmp) / "single.db")
        sample = events[:3_000]
        t = time.perf_counter()
        for event in sample:
            single.append([event])
        single_rate = _rate(len(sample), time.perf_counter() - t)
        single.close()

    t = time.perf_counter()
    state = FloorState()
    state.apply_all(stored)
    apply_rate = _rate(len(stored), time.perf_counter() - t)

    t = time.perf_counter()
    last: dict[str, Any] = {}
    for event in stored:
        last[event.payload.KIND] = event
    trivial_rate = _rate(len(stored), time.perf_counter() - t)

    rows = [
        {
            "figure": f"store append, batches of {BATCH}",
            "value": batched_rate,
            "unit": "events/s",
            "baseline_name": "one commit per event",
            "baseline": single_rate,
            "ratio": batched_rate / single_rate,
        },
        {
            "figure": "FloorState.apply",
            "value": apply_rate,
            "unit": "events/s",
            "baseline_name": "trivial dict fold",
            "baseline": trivial_rate,
            "ratio": apply_rate / trivial_rate,
        },
    ]
    for row in rows:
        print(
            f"  {row['figure']}: {row['value']:,.0f} {row['unit']} "
            f"({row['ratio']:.1f}x {row['baseline_name']})",
            flush=True,
        )
    return rows
