"""Memory of the report: what keeping per-ticket records costs over a large recording.

The report keeps, for the whole fold, a small record per ticket (its open/solved changes,
first response, requester, rating), so a backlog, first response and repeat contacts are
right for any window. A recording of a long, busy floor is written once (``record``); then
two fresh processes read it in the report's own chunks: the baseline reads every event and
keeps nothing, the other makes the report. The figure is the peak RSS of each (Linux
``ru_maxrss``), so the ratio is what the report holds above reading alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.scale import QUICK, aim, profile

HOURS = 12 if QUICK else 24
AGENTS = 400
QUEUES = 40
PROFILED = 60_000
MONTH = 15_000_000
"""Events in a month of recordings (30 shifts), the issue's aim: in 60 s and 500 MB."""

_MEASURE = """
import json, resource, sys, time
started = time.process_time()
from supervisor_tui.store import SQLiteStore, every_event

store = SQLiteStore(sys.argv[2], read_only=True)
events = lambda: every_event(store)  # the report's own reader

counted = {"events": 0, "tickets": set()}
if sys.argv[1] == "report":
    from supervisor_tui.core.targets import FloorTargets
    from supervisor_tui.report.compute import compute

    report = compute([("rec", events())], targets=FloorTargets(), follow_settings=True)
    counted["events"] = sum(p.events for p in report.periods)
    counted["tickets"] = sum(q.tickets_created for p in report.periods for q in p.queues)
else:
    n = 0
    for event in events():  # read and parsed exactly as the report reads them, then dropped
        n += 1
    counted["events"] = n
    counted["tickets"] = 0
store.close()
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mb": peak_mb, "events": counted["events"],
                  "tickets": counted["tickets"], "cpu_s": time.process_time() - started}))
"""


def _measure(mode: str, path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _profile(path: Path) -> str:
    """The report over the recording's first PROFILED events, under cProfile."""
    from itertools import islice

    from supervisor_tui.core.targets import FloorTargets
    from supervisor_tui.report.compute import compute
    from supervisor_tui.store import SQLiteStore, every_event

    store = SQLiteStore(path, read_only=True)
    try:
        _, where = profile(
            "report_speed",
            lambda: compute(
                [("rec", islice(every_event(store), PROFILED))],
                targets=FloorTargets(),
                follow_settings=True,
            ),
        )
    finally:
        store.close()
    return where


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "floor.db"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "supervisor_tui.cli",
                "record",
                "--hours",
                str(HOURS),
                "--agents",
                str(AGENTS),
                "--queues",
                str(QUEUES),
                "--seed",
                "11",
                "--step",
                "30",
                "--out",
                str(path),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        baseline = _measure("read", path)
        report = _measure("report", path)
        speed_profile = ""
        if report["events"] / max(report["cpu_s"], 1e-9) < MONTH / 60:
            speed_profile = _profile(path)
    print(
        f"  {HOURS} h, {AGENTS} agents, {QUEUES} queues: {baseline['events']:,} events, "
        f"{report['tickets']:,} tickets; peak RSS reading {baseline['peak_mb']:.0f} MB, "
        f"report {report['peak_mb']:.0f} MB",
        flush=True,
    )
    rate = report["events"] / report["cpu_s"] if report["cpu_s"] else 0.0
    read_rate = baseline["events"] / baseline["cpu_s"] if baseline["cpu_s"] else 0.0
    per_ticket_kb = (
        (report["peak_mb"] - baseline["peak_mb"]) * 1024 / report["tickets"]
        if report["tickets"]
        else 0.0
    )
    month_tickets = report["tickets"] * MONTH / max(report["events"], 1)
    month_mb = baseline["peak_mb"] + per_ticket_kb * month_tickets / 1024
    size = f"{HOURS} h recording ({baseline['events']:,} events, {report['tickets']:,} tickets)"
    return [
        aim(
            {
                "figure": f"report speed, {size}: a month of {MONTH / 1e6:g} M events "
                f"would take {MONTH / rate:,.0f} s at this rate",
                "value": rate,
                "unit": "events/s",
                "baseline_name": "reading the same events, nothing kept",
                "baseline": read_rate,
                "ratio": rate / read_rate if read_rate else 0.0,
                "profile": speed_profile,
                "why": "measured at this size (a month takes too long to simulate in a run), "
                "extrapolated linearly; reading alone is the ceiling",
            },
            "≥",
            MONTH / 60,
            f"≥ {MONTH / 60:,.0f} events/s (a month in 60 s)",
        ),
        aim(
            {
                "figure": f"report peak RSS, {size}: a month would hold about {month_mb:,.0f} MB "
                f"({per_ticket_kb:.2f} kB a ticket above reading)",
                "value": report["peak_mb"],
                "unit": "MB",
                "baseline_name": "reading the same events, nothing kept",
                "baseline": baseline["peak_mb"],
                "ratio": report["peak_mb"] / baseline["peak_mb"] if baseline["peak_mb"] else 0.0,
            },
            "≤",
            500.0,
        ),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
