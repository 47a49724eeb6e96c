"""Soak: a 12-hour shift of 1,000 agents, time-compressed, with the dashboard following it.

``supervisor-tui record`` writes the shift in a separate process (simulator → store → rules →
simulated supervisor) as fast as it can, while the headless dashboard in this process follows
the store live, its clock at the newest event. RSS is this process's only (the simulator's
own memory is not the board's): sampled once the first simulated hour is in and at the end,
with the number of open tickets the floor holds at each point, since a backlog that grows
during the shift legitimately takes memory.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_render import rss_mb
from benchmarks.scale import QUICK
from supervisor_tui.app import FloorSettings, SupervisorApp
from supervisor_tui.config import Config, default_rules
from supervisor_tui.core.rules import RuleEngine
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.store import SQLiteStore, StoreError

HOURS = 3 if QUICK else 12


async def soak(path: Path) -> dict[str, Any]:
    rules = RuleEngine(list(Config.model_validate({"rules": default_rules()}).rules))
    recorder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "supervisor_tui.cli",
            "record",
            "--hours",
            str(HOURS),
            "--agents",
            "1000",
            "--queues",
            "100",
            "--seed",
            "9",
            "--step",
            "30",
            "--out",
            str(path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = None
    for _ in range(600):
        await asyncio.sleep(0.1)
        try:
            store = SQLiteStore(path, read_only=True)
            if store.last_seq():
                break
        except StoreError:
            continue
    assert store is not None
    settings = FloorSettings(
        floor_name="soak", operator="bench", targets=FloorTargets(), rules=rules
    )
    app: SupervisorApp | None = None

    def clock() -> float:
        # the recording's own time (the board asks before the app is made: the bell's start)
        if app is None:
            return time.time()
        sources = app.board.state.sources
        return max((s.newest_event_at for s in sources.values()), default=time.time())

    app = SupervisorApp(store, settings, clock=clock)
    start: tuple[float, int] | None = None
    t = time.perf_counter()
    async with app.run_test(size=(200, 60)) as pilot:
        first_at = None
        while recorder.poll() is None:
            await pilot.pause(0.5)
            now = clock()
            first_at = first_at or now
            if start is None and now >= first_at + 3600:
                start = (rss_mb(), len(app.board.state.tickets))
        for _ in range(600):
            await pilot.pause(0.1)
            if app.board.state.seq >= store.last_seq():
                break
        end = (rss_mb(), len(app.board.state.tickets))
        events = app.board.state.seq
        escalations = len(app.board.state.escalations)
    store.close()
    return {
        "start": start or end,
        "end": end,
        "events": events,
        "escalations": escalations,
        "seconds": time.perf_counter() - t,
        "code": recorder.returncode,
    }


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(soak(Path(tmp) / "soak.db"))
    (rss0, tickets0), (rss1, tickets1) = r["start"], r["end"]
    print(
        f"  {HOURS} h shift, {r['events']:,} events in {r['seconds']:.0f} s (recorder exit "
        f"{r['code']}): RSS {rss0:.0f} MB after the first hour ({tickets0:,} tickets held), "
        f"{rss1:.0f} MB at the end ({tickets1:,} tickets held, {r['escalations']} "
        "escalations)",
        flush=True,
    )
    return [
        {
            "figure": f"soak RSS at the end of {HOURS} h, 1,000 agents",
            "value": rss1,
            "unit": "MB",
            "baseline_name": "after the first hour",
            "baseline": rss0,
            "ratio": rss1 / rss0 if rss0 else 0.0,
        },
    ]
