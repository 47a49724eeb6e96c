"""Render: a floor of 1,000 agents, 100 queues and ~20,000 open tickets at 50 events/s.

The headless app (200×60) follows a real SQLite store while a feeder thread appends the
simulated floor's next events at 50 per second. Measured over the run:

- CPU of the process, % of one core (the feeder's own CPU subtracted);
- frame cost p50/p99: the compositor's time to paint one screen update;
- event to screen p50/p99: from the append in the store to the frame that shows it;
- RSS at the end.

Baseline, same run, same feed: the board as DataTables updated per event (naive_board.py).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.naive_board import NaiveBoard
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.app import FloorSettings, SupervisorApp
from supervisor_tui.core.rules import RuleEngine
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import NewEvent
from supervisor_tui.store import SQLiteStore

RATE = 50.0
SECONDS = float(os.environ.get("BENCH_RENDER_SECONDS", "60"))
WARMUP_S = 3600.0


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def build_floor(path: Path) -> tuple[SQLiteStore, list[NewEvent]]:
    """The floor an hour after opening, and the events that come next (to feed live)."""
    epoch = time.time() - WARMUP_S
    sim = FloorSimulation(SimOptions(seed=5, agents=1000, queues=100, backlog=520), epoch)
    store = SQLiteStore(path)
    first = list(sim.advance(WARMUP_S))
    for i in range(0, len(first), 5_000):
        store.append(first[i : i + 5_000])
    later = list(sim.advance(WARMUP_S + 1800))
    return store, later


class Feeder(threading.Thread):
    """Appends the floor's next events at RATE per second, stamped with the wall clock."""

    def __init__(self, store: SQLiteStore, events: list[NewEvent]) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.events = events
        self.stop = threading.Event()
        self.cpu = 0.0
        self.sent = 0

    def run(self) -> None:
        start_cpu = time.thread_time()
        start = time.perf_counter()
        batch = 5  # ten appends a second
        while not self.stop.is_set() and self.sent < len(self.events):
            due = start + self.sent / RATE
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            now = time.time()
            chunk = [
                e.model_copy(update={"received_at": now})
                for e in self.events[self.sent : self.sent + batch]
            ]
            self.store.append(chunk)
            self.sent += len(chunk)
        self.cpu = time.thread_time() - start_cpu


def instrument(app: Any, frames: list[float]) -> None:
    """Time every compositor refresh of the app's screens."""
    original = app.screen.__class__._compositor_refresh

    def timed(screen: Any) -> None:
        t = time.perf_counter()
        original(screen)
        frames.append(time.perf_counter() - t)

    app.screen.__class__._compositor_refresh = timed


async def measure(make_app: Any, store: SQLiteStore, events: list[NewEvent]) -> dict[str, Any]:
    app = make_app()
    frames: list[float] = []
    latencies: list[float] = []
    fed_from = [float("inf")]  # only events the feeder appended count for event→screen
    if isinstance(app, SupervisorApp):

        def painted(events: list[Any]) -> None:
            now = time.time()
            latencies.extend(now - e.received_at for e in events if e.received_at >= fed_from[0])

        app.board.painted_hook = painted
    rss_before = rss_mb()
    async with app.run_test(size=(200, 60)) as pilot:
        for _ in range(600):  # let it fold the first hour
            await pilot.pause(0.1)
            if app.board.state.seq >= store.last_seq():
                break
        await pilot.pause(1.0)
        original_class_method = app.screen.__class__._compositor_refresh
        instrument(app, frames)
        feeder = Feeder(store, events)
        fed_from[0] = time.time()
        cpu, wall = time.process_time(), time.perf_counter()
        feeder.start()
        await asyncio.sleep(SECONDS)
        feeder.stop.set()
        feeder.join()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        app.screen.__class__._compositor_refresh = original_class_method
        behind = store.last_seq() - app.board.state.seq
    return {
        "cpu": 100 * (cpu - feeder.cpu) / wall,
        "frame_p50": statistics.median(frames) * 1000 if frames else 0.0,
        "frame_p99": sorted(frames)[int(0.99 * (len(frames) - 1))] * 1000 if frames else 0.0,
        "latency_p50": statistics.median(latencies) * 1000 if latencies else 0.0,
        "latency_p99": sorted(latencies)[int(0.99 * (len(latencies) - 1))] * 1000
        if latencies
        else 0.0,
        "events": feeder.sent,
        "behind": behind,
        "rss": rss_mb(),
        "rss_before": rss_before,
    }


def run() -> list[dict[str, Any]]:
    results = {}
    for name in ("supervisor-tui", "naive DataTable"):
        with tempfile.TemporaryDirectory() as tmp:
            store, events = build_floor(Path(tmp) / "floor.db")
            if name == "supervisor-tui":
                settings = FloorSettings(
                    floor_name="bench",
                    operator="bench",
                    targets=FloorTargets(),
                    rules=RuleEngine([]),
                )

                def make_app(store: SQLiteStore = store, settings: FloorSettings = settings) -> Any:
                    return SupervisorApp(store, settings, clock=time.time)
            else:

                def make_app(store: SQLiteStore = store) -> Any:
                    return NaiveBoard(store, time.time)

            results[name] = asyncio.run(measure(make_app, store, events))
            store.close()
        r = results[name]
        print(
            f"  {name}: {r['cpu']:.1f}% of a core, frame p50 {r['frame_p50']:.1f} ms "
            f"p99 {r['frame_p99']:.1f} ms, event→screen p50 {r['latency_p50']:.0f} ms "
            f"p99 {r['latency_p99']:.0f} ms, {r['events']} events fed, {r['behind']} behind "
            f"at the end, RSS {r['rss']:.0f} MB",
            flush=True,
        )
    ours, naive = results["supervisor-tui"], results["naive DataTable"]
    rows = [
        ("CPU at 50 events/s, 1,000 agents", "cpu", "% core"),
        ("frame p50", "frame_p50", "ms"),
        ("frame p99", "frame_p99", "ms"),
    ]
    out = [
        {
            "figure": label,
            "value": ours[key],
            "unit": unit,
            "baseline_name": "naive DataTable",
            "baseline": naive[key],
            "ratio": naive[key] / ours[key] if ours[key] else 0.0,
        }
        for label, key, unit in rows
    ]
    out.append(
        {
            "figure": "event to screen p50",
            "value": ours["latency_p50"],
            "unit": "ms",
            "baseline_name": "feed interval",
            "baseline": 100.0,
            "ratio": ours["latency_p50"] / 100.0,
        }
    )
    out.append(
        {
            "figure": "event to screen p99",
            "value": ours["latency_p99"],
            "unit": "ms",
            "baseline_name": "feed interval",
            "baseline": 100.0,
            "ratio": ours["latency_p99"] / 100.0,
        }
    )
    out.append(
        {
            "figure": "RSS after the run",
            "value": ours["rss"],
            "unit": "MB",
            "baseline_name": "process before the app",
            "baseline": ours["rss_before"],
            "ratio": ours["rss"] / ours["rss_before"] if ours["rss_before"] else 0.0,
        }
    )
    return out
