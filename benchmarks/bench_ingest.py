"""Ingest the issue's floor into the SQLite store and fold it through the projection.

- store: events/s appended in collector-sized batches, against a bare ``executemany`` of the
  same rows, already prepared, into the same schema (the ceiling of this machine's SQLite);
- apply: ``FloorState.apply`` events/s, against the cheapest possible fold of the same events
  (a dict keyed by kind) to show what the projection's bookkeeping costs.

The events are the first hour of the run's simulated floor (``scale.floor_store``); CPU time
(``time.process_time``) rather than wall time, since the machine is shared.

Each measure starts after ``gc.collect()``: reading the floor's events just before leaves a
full collection due (a quarter more long-lived objects than the last one saw), and whichever
measure allocates next would pay it (0.3-0.9 s, more than the measure itself) for work done
before it started. The collections the measured code causes itself still count.
"""

from __future__ import annotations

import gc
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.scale import FLOOR, aim, floor_next, floor_store, profile
from supervisor_tui.core.projection import FloorState
from supervisor_tui.model import NewEvent
from supervisor_tui.store import SQLiteStore, as_new, every_event
from supervisor_tui.store.sqlite import _SCHEMA

BATCH = 2_000
SAMPLE = 300_000
"""Events appended per measure: enough that the collector's pauses average out."""


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def _append(path: Path, events: list[NewEvent]) -> float:
    store = SQLiteStore(path)
    gc.collect()
    t = time.process_time()
    for i in range(0, len(events), BATCH):
        store.append(events[i : i + BATCH])
    took = time.process_time() - t
    store.close()
    return took


def _bare(path: Path, events: list[NewEvent]) -> float:
    """The same rows, prepared beforehand, through one executemany a batch: no checks."""
    rows = [
        (
            e.source,
            e.key,
            e.payload.KIND,
            e.occurred_at,
            e.received_at,
            e.payload.model_dump_json(),
        )
        for e in events
    ]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(_SCHEMA)
    gc.collect()
    t = time.process_time()
    for i in range(0, len(rows), BATCH):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO events (source, key, kind, occurred_at, received_at, payload) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows[i : i + BATCH],
        )
        conn.execute("COMMIT")
    took = time.process_time() - t
    conn.close()
    return took


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        simulated_s = floor_store(Path(tmp) / "floor.db")
        source = SQLiteStore(Path(tmp) / "floor.db", read_only=True)
        stored = list(every_event(source))
        source.close()
        simulated = len(stored) + len(floor_next())
    events = as_new(stored[:SAMPLE])
    with tempfile.TemporaryDirectory() as tmp:
        bare_s = _bare(Path(tmp) / "bare.db", events)
        append_s = _append(Path(tmp) / "append.db", events)
        append_rate, bare_rate = _rate(len(events), append_s), _rate(len(events), bare_s)
        append_profile = ""
        if append_rate < 150_000:
            _, append_profile = profile(
                "store_append", lambda: _append(Path(tmp) / "profiled.db", events[:60_000])
            )

    def fold() -> FloorState:
        state = FloorState()
        state.apply_all(stored)
        return state

    gc.collect()
    t = time.process_time()
    fold()
    apply_rate = _rate(len(stored), time.process_time() - t)
    apply_profile = ""
    if apply_rate < 500_000:
        _, apply_profile = profile("projection_apply", fold)

    gc.collect()
    t = time.process_time()
    last: dict[str, Any] = {}
    for event in stored:
        last[event.payload.KIND] = event
    trivial_rate = _rate(len(stored), time.process_time() - t)

    rows = [
        {
            "figure": f"simulate and store the floor ({simulated:,} events: {FLOOR.label}, "
            f"1.5 h), once a run",
            "value": _rate(simulated, simulated_s),
            "unit": "events/s",
            "baseline_name": "SQLite append alone",
            "baseline": append_rate,
            "ratio": _rate(simulated, simulated_s) / append_rate,
            "why": f"{simulated_s:.0f} s of the run",
        },
        aim(
            {
                "figure": f"SQLite store append, batches of {BATCH:,} ({len(events):,} events "
                f"of the {FLOOR.agents:,}-agent floor)",
                "value": append_rate,
                "unit": "events/s",
                "baseline_name": "bare executemany of the same rows",
                "baseline": bare_rate,
                "ratio": append_rate / bare_rate,
                "profile": append_profile,
            },
            "≥",
            150_000,
        ),
        aim(
            {
                "figure": f"FloorState.apply ({len(stored):,} events: {FLOOR.label}, 1 h)",
                "value": apply_rate,
                "unit": "events/s",
                "baseline_name": "trivial dict fold",
                "baseline": trivial_rate,
                "ratio": apply_rate / trivial_rate,
                "profile": apply_profile,
            },
            "≥",
            500_000,
        ),
    ]
    for row in rows:
        print(
            f"  {row['figure']}: {row['value']:,.0f} {row['unit']} "
            f"({row['ratio']:.2f}x {row['baseline_name']}; aim {row.get('aim', '-')}: "
            f"{ {True: 'met', False: 'missed'}.get(row.get('met')) })",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    run()
