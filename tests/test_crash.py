"""SIGKILL the collector at random moments while it ingests, restart it, and compare the
store with the simulator's ground truth: every event once, none missing, none twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.store import SQLiteStore

HOURS = 12.0

COLLECTOR = """
import asyncio, sys
from supervisor_tui.adapters.simulator import SimOptions, SimulatorAdapter
from supervisor_tui.config import Config, default_rules
from supervisor_tui.core.rules import RuleEngine
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.hub.collector import Collector
from supervisor_tui.store import SQLiteStore

async def main():
    store = SQLiteStore(sys.argv[1])
    # 12 simulated hours in about two seconds: time to be killed in the middle
    options = SimOptions(seed=9, agents=30, speed=20_000, warmup_s=0, hours=float(sys.argv[2]),
                         epoch=float(sys.argv[3]))
    adapter = SimulatorAdapter("simulator", options)
    rules = RuleEngine(list(Config.model_validate({"rules": default_rules()}).rules))
    collector = Collector(store, [adapter], rules, FloorTargets(), lambda: float(sys.argv[3]))
    await collector.start()
    task = next(t for t in collector._tasks if t.get_name() == "adapter-simulator")
    await task
    await collector.stop()
    store.close()
    print("done", flush=True)

asyncio.run(main())
"""


def run_collector(db: Path, epoch: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", COLLECTOR, str(db), str(HOURS), str(epoch)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_sigkill_during_ingest_loses_and_repeats_nothing(tmp_path: Path) -> None:
    db = tmp_path / "floor.db"
    epoch = round(time.time())  # the floor opens now: a restart resumes near where it was
    rng = random.Random(5)
    kills = 0
    for _ in range(5):
        proc = run_collector(db, epoch)
        time.sleep(rng.uniform(0.7, 1.6))
        if proc.poll() is not None:
            break  # it finished before the kill
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    final = run_collector(db, epoch)
    out, _ = final.communicate(timeout=240)
    assert final.returncode == 0 and "done" in out
    assert kills >= 2, "the collector was never killed mid-ingest"

    truth = [
        (e.source, e.key)
        for e in FloorSimulation(
            SimOptions(seed=9, agents=30, speed=None, warmup_s=0, hours=HOURS, epoch=epoch), epoch
        ).advance(HOURS * 3600)
    ]
    store = SQLiteStore(db, read_only=True)
    stored = store.read_from(0, 10**7)
    store.close()
    seqs = [e.seq for e in stored]
    assert seqs == list(range(1, len(stored) + 1))  # no gap in seq
    sim = [
        (e.source, e.key) for e in stored if e.source == "simulator" and e.kind != "source.health"
    ]
    assert len(sim) == len(set(sim))  # nothing twice
    assert sim == truth  # nothing missing, in the simulator's own order


ACKER = """
import sys, time
from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.model import EscalationRaised, NewEvent, Severity
from supervisor_tui.store import SQLiteStore

store = SQLiteStore(sys.argv[1])
start = int(sys.argv[2])
desk = EscalationDesk(store, time.time)
for n in range(start, start + 100_000):
    esc_id = f"e{n}"
    store.append([NewEvent(source="rules", key=esc_id, occurred_at=n, received_at=n,
        payload=EscalationRaised(escalation_id=esc_id, rule_id="r", subject="ticket:1",
            ticket_source="zendesk", ticket_id=str(n), severity=Severity.WARNING, title="t",
            raised_at=n))])
    state = FloorState()
    state.apply_all(store.read_range(store.last_seq() - 1, store.last_seq()))
    event = desk.ack(state.escalations[esc_id], "ana", f"note {n}")
    print(esc_id, event.seq, flush=True)  # the board would show it acked now
"""


def test_sigkill_during_acks_keeps_every_ack_that_was_shown(tmp_path: Path) -> None:
    """An ack the screen showed is on disk with its write-back, whatever kills the process."""
    db = tmp_path / "floor.db"
    shown: list[tuple[str, int]] = []
    rng = random.Random(8)
    start = 0
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", ACKER, str(db), str(start)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        deadline = time.monotonic() + rng.uniform(0.8, 1.5)
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line:
                esc_id, seq = line.split()
                shown.append((esc_id, int(seq)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for line in proc.stdout:  # what was printed just before the kill
            esc_id, seq = line.split()
            shown.append((esc_id, int(seq)))
        start += 100_000
    assert len(shown) > 20
    store = SQLiteStore(db, read_only=True)
    acked = {e.payload.escalation_id: e.seq for e in store.events_of_kind("escalation.acked")}  # type: ignore[attr-defined]
    store.close()
    for esc_id, seq in shown:
        assert acked.get(esc_id) == seq, f"{esc_id} was shown acked but is not on disk"
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    outbox = conn.execute("SELECT event_seq FROM outbox").fetchall()
    conn.close()
    assert {seq for (seq,) in outbox} >= {seq for _, seq in shown}  # each with its write-back
    assert len(outbox) == len({seq for (seq,) in outbox})  # once each
