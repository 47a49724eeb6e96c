"""Speed and memory of the report over a large recording.

A recording of a long, busy floor is written once (``record``); then fresh processes read it
with the report's own reader: the baseline reads every event and keeps nothing, the others
make the report, over the whole recording and over its first half. Speed is events per CPU
second; memory the peak RSS of each (Linux ``ru_maxrss``). A month is too long to simulate
in a run, so its memory is extrapolated from what the report grew by between the half and
the whole recording (what it keeps per event: tickets, their SLA clocks, presence), not
from the whole's size alone.
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
from itertools import islice
started = time.process_time()
from supervisor_tui.store import SQLiteStore, every_event

store = SQLiteStore(sys.argv[2], read_only=True)
limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
events = lambda: islice(every_event(store), limit)  # the report's own reader

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


def _measure(mode: str, path: Path, limit: int | None = None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, mode, str(path), *([str(limit)] if limit else [])],
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
        half = _measure("report", path, baseline["events"] // 2)
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
    # what the report keeps grows with the events it folds: the growth from the first half
    # to the whole, per event, carried on to a month
    grown_mb = max(0.0, report["peak_mb"] - half["peak_mb"])
    per_kevent_kb = grown_mb * 1024 * 1000 / max(report["events"] - half["events"], 1)
    month_mb = report["peak_mb"] + per_kevent_kb * (MONTH - report["events"]) / 1000 / 1024
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
                "figure": f"report peak RSS for a month of {MONTH / 1e6:g} M events, carried on "
                f"from a {size}: {half['peak_mb']:.0f} MB at its first half, "
                f"{report['peak_mb']:.0f} MB at the whole (+{per_kevent_kb:.1f} kB per 1,000 "
                "events)",
                "value": month_mb,
                "unit": "MB",
                "baseline_name": "reading the same events, nothing kept",
                "baseline": baseline["peak_mb"],
                "ratio": month_mb / baseline["peak_mb"] if baseline["peak_mb"] else 0.0,
                "why": "carried on linearly from the growth between the half and the whole; "
                "what grows is each ticket's record and the SLA clocks met or breached "
                "(benchmarks/profiles/PLANS.md, Report)",
            },
            "≤",
            500.0,
        ),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
