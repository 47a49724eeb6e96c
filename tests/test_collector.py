"""The collector: adapter → store (with cursor) → rules → outbox, resuming after a restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from supervisor_tui.adapters.base import WriteBackError
from supervisor_tui.adapters.simulator import SimOptions, SimulatorAdapter
from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.hub.collector import Collector
from supervisor_tui.model import EscalationStatus
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, FakeClock, rules, simulate, targets


def sim_adapter(hours: float, clock: FakeClock) -> SimulatorAdapter:
    options = SimOptions(seed=7, speed=None, hours=hours, epoch=EPOCH)
    return SimulatorAdapter("simulator", options, clock=clock)


async def run_until_done(collector: Collector) -> None:
    await collector.start()
    adapter_task = next(t for t in collector._tasks if t.get_name() == "adapter-simulator")
    await asyncio.wait_for(adapter_task, 60)
    await collector.evaluate_rules()
    await collector.stop()


async def test_ingest_cursor_and_resume_without_gaps_or_duplicates(tmp_path: Path) -> None:
    clock = FakeClock(EPOCH + 2 * 3600)
    store = SQLiteStore(tmp_path / "f.db")
    await run_until_done(Collector(store, [sim_adapter(1, clock)], rules(), targets(), clock))
    first = store.read_from(0, 1_000_000)
    cursor = json.loads(store.get_cursor("simulator") or "{}")
    sim_events = [e for e in first if e.source == "simulator" and e.kind != "source.health"]
    assert cursor["emitted"] == len(sim_events) > 1000

    # Restart: a new collector and adapter on the same file carry on from the cursor.
    await run_until_done(Collector(store, [sim_adapter(2, clock)], rules(), targets(), clock))
    keys = [
        e.key
        for e in store.read_from(0, 1_000_000)
        if e.source == "simulator" and e.kind != "source.health"
    ]
    expected = [e.key for e in simulate(seed=7, until_s=2 * 3600)]
    assert keys == expected  # every event once, in order, nothing missing
    store.close()


class RecordingAdapter(SimulatorAdapter):
    """The simulator, with a write-back that fails the first time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failures = 1

    async def write_back(self, action: str, body: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise WriteBackError("helpdesk said 503", retry_after_s=5)
        await super().write_back(action, body)


async def test_rules_raise_and_acks_are_written_back_once(tmp_path: Path) -> None:
    clock = FakeClock(EPOCH + 3 * 3600)
    store = SQLiteStore(tmp_path / "f.db")
    adapter = RecordingAdapter(
        "simulator", SimOptions(seed=7, speed=None, hours=3, epoch=EPOCH), clock=clock
    )
    collector = Collector(store, [adapter], rules(), targets(), clock)
    await run_until_done(collector)
    state = collector.state
    ticket_escs = [e for e in state.escalations.values() if e.ticket_id and e.is_open]
    assert ticket_escs, "a complaint or escalated ticket should be raised by mid-morning"
    esc = ticket_escs[0]

    desk = EscalationDesk(store, clock)
    desk.ack(esc, "ana", "calling the customer")
    assert store.outbox_pending_count() == 1

    await collector.deliver_outbox()  # 503: kept, retried later
    assert adapter.write_backs == [] and store.outbox_pending_count() == 1
    assert await collector.deliver_outbox() == 0  # not due yet
    clock.advance(10)
    assert await collector.deliver_outbox() == 1
    assert await collector.deliver_outbox() == 0
    [(action, body)] = adapter.write_backs
    assert action == "ack" and body["ticket_id"] == esc.ticket_id
    assert body["text"] == "calling the customer" and body["by"] == "ana"

    replayed = FloorState(targets())
    replayed.apply_all(store.read_from(0, 1_000_000))
    acked = replayed.escalations[esc.escalation_id]
    assert acked.status is EscalationStatus.ACKED and acked.ack_note == "calling the customer"
    store.close()


async def test_a_crashing_adapter_marks_its_source_down(tmp_path: Path) -> None:
    clock = FakeClock(EPOCH)

    class Broken(SimulatorAdapter):
        async def run(self, sink: Any, cursor: str | None) -> None:
            raise ConnectionError("connection refused")

    store = SQLiteStore(tmp_path / "f.db")
    collector = Collector(
        store, [Broken("helpdesk", SimOptions(epoch=EPOCH), clock=clock)], rules(), targets(), clock
    )
    await collector.start()
    for _ in range(100):
        await asyncio.sleep(0.01)
        await collector.evaluate_rules()
        if "helpdesk" in collector.state.sources:
            break
    await collector.stop()
    source = collector.state.sources["helpdesk"]
    assert source.state == "down" and "connection refused" in source.reason
    store.close()


async def test_a_bad_payload_is_quarantined_and_the_source_degraded(tmp_path: Path) -> None:
    clock = FakeClock(EPOCH)

    class Sloppy(SimulatorAdapter):
        async def run(self, sink: Any, cursor: str | None) -> None:
            await sink.quarantine(
                "ticket.upserted", '{"id": 1, "status": "weird"}', "status: not a ticket status"
            )
            await asyncio.sleep(3600)

    store = SQLiteStore(tmp_path / "f.db")
    collector = Collector(
        store, [Sloppy("helpdesk", SimOptions(epoch=EPOCH), clock=clock)], rules(), targets(), clock
    )
    await collector.start()
    for _ in range(200):
        await asyncio.sleep(0.01)
        if store.quarantined():
            break
    await collector.evaluate_rules()
    await collector.stop()
    [bad] = store.quarantined()
    assert bad.source == "helpdesk" and bad.raw == '{"id": 1, "status": "weird"}'
    source = collector.state.sources["helpdesk"]
    assert source.state == "degraded" and "quarantined" in source.reason
    assert not any(e.kind == "ticket.upserted" for e in store.read_from(0))
    store.close()
