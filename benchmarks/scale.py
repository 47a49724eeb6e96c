"""The sizes every benchmark measures at, their aims (issue #20), and the floors they share.

``make bench`` measures at the issue's size (10,000 agents, 1,000 queues, 200,000 open
tickets); ``make bench-quick`` (``BENCH_QUICK=1``) at a tenth of it through the same code, for
a run of a few minutes. The floor is simulated once per run into a store under
``BENCH_RUN_DIR`` (made and removed by ``benchmarks/__main__.py``) and copied by every
benchmark that needs it, so a run pays for it once.
"""

from __future__ import annotations

import cProfile
import io
import itertools
import os
import pstats
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.replay import SNAPSHOT_EVERY, record_snapshot
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import NewEvent
from supervisor_tui.store import SQLiteStore, as_new, every_event

HERE = Path(__file__).resolve().parent
PROFILES = HERE / "profiles"
QUICK = os.environ.get("BENCH_QUICK") == "1"
EPOCH = 1_790_000_000.0 - 1_790_000_000.0 % 86_400 + 8 * 3600  # 08:00 UTC


@dataclass(frozen=True)
class Floor:
    agents: int
    queues: int
    backlog: int
    """Open tickets per e-mail queue when the floor opens (two queues in five take e-mail)."""

    @property
    def open_tickets(self) -> int:
        return self.backlog * (self.queues * 2 // 5)

    @property
    def label(self) -> str:
        return f"{self.agents:,} agents, {self.queues:,} queues, {self.open_tickets:,} open tickets"


# The floor; quick runs a tenth of it.
FLOOR = Floor(1_000, 100, 500) if QUICK else Floor(10_000, 1_000, 500)


def aim(row: dict[str, Any], op: str, target: float, text: str | None = None) -> dict[str, Any]:
    """Put the row's aim on it (``op`` is "≤" or "≥", against ``row["value"]``) and whether
    the run met it; a row that misses names its profile with ``profile(...)``."""
    value = float(row["value"])
    row["aim"] = text or f"{op} {target:,g} {row['unit']}"
    row["met"] = value <= target if op == "≤" else value >= target
    return row


def profile(name: str, work: Callable[[], Any], top: int = 25) -> tuple[Any, str]:
    """Run ``work`` under cProfile; write its top functions to ``profiles/<name>.txt`` and
    return the result and that file's path."""
    prof = cProfile.Profile()
    result = prof.runcall(work)
    return result, write_profile(name, prof, top)


def write_profile(
    name: str, prof: cProfile.Profile | pstats.Stats, top: int = 25, note: str = ""
) -> str:
    """The profile's top functions, by own time and by cumulative time, in
    ``profiles/<name>.txt``; returns the path to name in RESULTS.md."""
    out = io.StringIO()
    out.write(f"# {name} ({'quick' if QUICK else 'full'} run, {time.strftime('%Y-%m-%d %H:%M')})\n")
    if note:
        out.write(f"\n{note}\n")
    stats = (prof if isinstance(prof, pstats.Stats) else pstats.Stats(prof)).strip_dirs()
    stats.stream = out  # type: ignore[attr-defined]
    out.write("\n## by own time\n")
    stats.sort_stats("tottime").print_stats(top)
    out.write("\n## by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(top)
    PROFILES.mkdir(exist_ok=True)
    (PROFILES / f"{name}.txt").write_text(out.getvalue())
    return f"benchmarks/profiles/{name}.txt"


def run_dir() -> Path:
    """Where this run keeps what its benchmarks share (a temp dir when run alone)."""
    path = Path(os.environ.get("BENCH_RUN_DIR") or HERE / ".cache" / "run")
    path.mkdir(parents=True, exist_ok=True)
    return path


def floor_simulation(seed: int = 5, floor: Floor = FLOOR, epoch: float = EPOCH) -> FloorSimulation:
    return FloorSimulation(
        SimOptions(
            seed=seed,
            agents=floor.agents,
            queues=floor.queues,
            backlog=floor.backlog,
            speed=None,
        ),
        epoch,
    )


def _append_all(store: SQLiteStore, events: Iterable[NewEvent]) -> int:
    n = 0
    batch: list[NewEvent] = []
    for event in events:
        batch.append(event)
        if len(batch) == 20_000:
            n += len(store.append(batch))
            batch = []
    if batch:
        n += len(store.append(batch))
    return n


def _snapshot_as_collector(path: Path) -> None:
    """The snapshot a collector writing this floor saved last (one every ``SNAPSHOT_EVERY``
    events): whoever opens the store (board, collector, hub) starts there and folds the events
    after it, up to ``SNAPSHOT_EVERY`` less one."""
    store = SQLiteStore(path)
    try:
        line = store.last_seq() // SNAPSHOT_EVERY * SNAPSHOT_EVERY
        if not line or line in store.snapshot_index():
            return
        state = FloorState(FloorTargets())
        state.apply_all(itertools.takewhile(lambda e: e.seq <= line, every_event(store)))
        received = store.read_range(line - 1, line)[0].received_at
        record_snapshot(store, state, received)
    finally:
        store.close()


def _floor_files(hours: float, floor: Floor) -> tuple[Path, Path, float]:
    """The floor ``hours`` after opening and, beside it, the half hour that comes next:
    simulated once a run, kept in the run's directory."""
    name = f"floor-{floor.agents}-{floor.queues}-{floor.backlog}-{hours:g}h"
    now, later = run_dir() / f"{name}.db", run_dir() / f"{name}-next.db"
    took_file = run_dir() / f"{name}.took"
    if now.exists() and later.exists() and took_file.exists():
        _snapshot_as_collector(now)  # a floor kept from before snapshots were written
        return now, later, float(took_file.read_text())
    t = time.perf_counter()
    sim = floor_simulation(floor=floor)
    counts = []
    for path, until in ((now, hours * 3600), (later, (hours + 0.5) * 3600)):
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        store = SQLiteStore(tmp)
        counts.append(_append_all(store, sim.advance(until)))
        store.close()
        if path == now:
            _snapshot_as_collector(tmp)
        tmp.rename(path)
    took = time.perf_counter() - t
    took_file.write_text(str(took))
    print(
        f"  simulated the floor ({floor.label}): {counts[0]:,} events for {hours:g} h and "
        f"{counts[1]:,} for the next half hour in {took:.1f} s",
        flush=True,
    )
    return now, later, took


def floor_store(dest: Path, hours: float = 1.0, floor: Floor = FLOOR) -> float:
    """A store at ``dest`` holding the floor ``hours`` after opening (copied from the run's
    own); returns the seconds it took the run to simulate and store it and the next half hour."""
    now, _, took = _floor_files(hours, floor)
    shutil.copyfile(now, dest)
    dest.chmod(0o600)  # a store others may read is refused
    return took


def floor_next_store(hours: float = 1.0, floor: Floor = FLOOR) -> Path:
    """The store of the events of the half hour after ``floor_store``'s (the run's own: read
    it, do not write to it)."""
    return _floor_files(hours, floor)[1]


def floor_next(hours: float = 1.0, floor: Floor = FLOOR) -> list[NewEvent]:
    """The events of the half hour after ``floor_store``'s, to feed live."""
    _, later, _ = _floor_files(hours, floor)
    store = SQLiteStore(later, read_only=True)
    events = as_new(every_event(store))
    store.close()
    return events
