"""``supervisor-tui record``: a simulated shift written to a recording, with no UI.

The simulation is stepped through simulated time and the rules run at every step against the
simulated clock, so the escalations in the recording are raised when they would have been
live. Snapshots are stored as the live collector stores them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from supervisor_tui.adapters.simulator import (
    FloorSimulation,
    SimOptions,
    history_events,
    schedule_events,
)
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.replay import SNAPSHOT_EVERY, record_snapshot
from supervisor_tui.core.rules import RuleEngine
from supervisor_tui.core.targets import FloorTargets, settings_event
from supervisor_tui.model import (
    EscalationAcked,
    EscalationSnoozed,
    EscalationStatus,
    HealthState,
    NewEvent,
    Payload,
    Severity,
    SourceHealth,
)
from supervisor_tui.store import SQLiteStore, StoreError

STEP_S = 5.0


def yesterday_eight(floor: FloorTargets, now: float | None = None) -> float:
    """08:00 floor time yesterday: a recorded shift that looks like last shift."""
    now = time.time() if now is None else now
    return floor.midnight(now, days=-1, hour=8)


def record_simulation(
    out: Path,
    options: SimOptions,
    rules: RuleEngine,
    targets: FloorTargets,
    *,
    hours: float,
    step_s: float = STEP_S,
    progress: Callable[[float, int], None] | None = None,
    supervised: bool = True,
    floor_name: str = "Simulated floor",
    history_weeks: int = 0,
) -> int:
    """Write ``hours`` of a simulated floor to ``out``; returns the number of events. With
    ``history_weeks``, the same weekday of those past weeks and the day's schedule first."""
    if out.exists():
        raise StoreError(f"{out}: already exists (record writes a new file)")
    epoch = options.epoch if options.epoch is not None else yesterday_eight(targets)
    options = replace(options, epoch=epoch, speed=None)
    store = SQLiteStore(out)
    try:
        sim = FloorSimulation(options, epoch)
        state = FloorState(targets)
        health = SourceHealth(state=HealthState.CONNECTED, reason="simulated floor", at=epoch)
        rule_settings = [rule.model_dump(mode="json") for rule in rules.rules]
        settings = settings_event(floor_name, targets, rule_settings, epoch)
        start = [
            *([settings] if settings is not None else []),
            NewEvent(
                source=options.source,
                key="health:start",
                occurred_at=epoch,
                received_at=epoch,
                payload=health,
            ),
        ]
        if history_weeks > 0:
            start += history_events(options, epoch, history_weeks, received_at=epoch)
            start += schedule_events(options, epoch, at=epoch)
        store_batch(store, state, start, None)
        supervisor = SimulatedSupervisor(options.seed) if supervised else None
        t = 0.0
        end = hours * 3600
        while t < end:
            t = min(end, t + step_s)
            events = list(sim.advance(t))
            cursor = f'{{"seed": {options.seed}, "epoch": {epoch}, "emitted": {sim.emitted}}}'
            store_batch(store, state, events, {options.source: cursor})
            store_batch(store, state, rules.evaluate(state, epoch + t), None)
            if supervisor is not None:
                store_batch(store, state, supervisor.act(state, epoch + t), None)
            if progress is not None:
                progress(t / end, state.seq)
        return state.seq
    finally:
        store.close()


def store_batch(
    store: SQLiteStore, state: FloorState, events: list[NewEvent], cursors: dict[str, str] | None
) -> None:
    """Append a batch, fold it, and store a snapshot when it crosses a SNAPSHOT_EVERY line."""
    if not events:
        return
    before = state.seq
    state.apply_all(store.append(events, cursors))
    state.take_changes()
    if state.seq // SNAPSHOT_EVERY > before // SNAPSHOT_EVERY:
        record_snapshot(store, state, events[-1].received_at)


class SimulatedSupervisor:
    """The supervisor on a recorded training shift: acks most escalations after a while, with
    a note; snoozes some warnings; lets some go. Deterministic from the seed."""

    NAME = "sim-supervisor"

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed * 7919 + 1)
        self.plans: dict[str, tuple[float, str]] = {}

    def act(self, state: FloorState, now: float) -> list[NewEvent]:
        out: list[NewEvent] = []
        for esc in state.escalations.values():
            if not esc.is_open or esc.status is not EscalationStatus.RAISED:
                continue
            if esc.escalation_id not in self.plans:
                roll = self.rng.random()
                critical = esc.severity is Severity.CRITICAL
                if roll < (0.85 if critical else 0.6):
                    plan = (esc.raised_at + self.rng.uniform(20, 90 if critical else 240), "ack")
                elif roll < 0.8:
                    plan = (esc.raised_at + self.rng.uniform(30, 120), "snooze")
                else:
                    plan = (float("inf"), "none")
                self.plans[esc.escalation_id] = plan
            at, action = self.plans[esc.escalation_id]
            if now < at or esc.is_snoozed(now):
                continue
            payload: Payload
            if action == "ack":
                note = self.rng.choice(NOTES)
                payload = EscalationAcked(
                    escalation_id=esc.escalation_id, by=self.NAME, note=note, at=now
                )
            else:
                payload = EscalationSnoozed(
                    escalation_id=esc.escalation_id, by=self.NAME, until=now + 15 * 60, at=now
                )
                self.plans[esc.escalation_id] = (float("inf"), "done")
            out.append(
                NewEvent(
                    source="operator",
                    key=f"{payload.KIND}:{esc.escalation_id}",
                    occurred_at=now,
                    received_at=now,
                    payload=payload,
                )
            )
        return out


NOTES = (
    "Moving two agents over from e-mail",
    "Calling the customer back myself",
    "Asked the team lead to take it",
    "Known spike, watching it",
    "Pulled one agent off break early",
)
