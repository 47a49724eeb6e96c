"""More faults: a token that expires mid-shift, a store file that turns read-only."""

from __future__ import annotations

import asyncio
from pathlib import Path

from supervisor_tui.hub.collector import Collector
from supervisor_tui.model import HealthState
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, rules, simulate, targets
from .test_zendesk_adapter import Floor, floor, full_sync, ticket_versions  # noqa: F401


async def test_a_token_that_expires_mid_shift_is_down_then_catches_up(floor: Floor) -> None:  # noqa: F811
    adapter = floor.adapter()
    await full_sync(floor, adapter)
    before = len(ticket_versions(floor.store))
    floor.fake.token = "rotated-by-the-admin"  # the old token stops working
    floor.advance(120)
    for task in adapter.tasks:
        task.due_at = 0
    await adapter.poll_due(floor.sink)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.DOWN and "(401)" in report.reason
    assert len(ticket_versions(floor.store)) == before  # nothing half-read
    floor.fake.token = "test-token-not-a-secret"  # the token is put back
    floor.clock.advance(301)  # the 5-minute retry
    floor.advance(0)
    await adapter.poll_due(floor.sink)
    assert floor.sink.health_reports[-1].state is HealthState.CONNECTED
    got = {(t, u) for t, u, _ in ticket_versions(floor.store)}
    lag = floor.clock() - floor.fake.export_lag_s
    from supervisor_tui.adapters.polling import ts

    for tid, t in floor.fake.tickets.items():
        if ts(t["updated_at"]) <= lag and t["status"] != "deleted":
            assert (str(tid), ts(t["updated_at"])) in got  # caught up, no gap


async def test_a_store_that_turns_read_only_keeps_events_until_it_is_writable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "floor.db"
    store = SQLiteStore(path)
    collector = Collector(store, [], rules(), targets(), lambda: EPOCH)
    await collector.start()
    events = simulate(seed=4, until_s=3600)[:1000]
    await collector.submit(events[:200], "simulator", "a")
    store._writer.execute("PRAGMA query_only = ON")  # as a remount read-only would
    pending = asyncio.create_task(collector.submit(events[200:], "simulator", "b"))
    for _ in range(200):
        if collector.store_trouble is not None:
            break
        await asyncio.sleep(0.02)
    assert collector.store_trouble is not None and "readonly" in collector.store_trouble.replace(
        " ", ""
    ).replace("-", "")
    # the rules' own escalations may have been stored before the remount (their tick is
    # every second): from the remount on, nothing is stored and the batch waits
    frozen = store.last_seq()
    assert frozen >= 200
    await asyncio.sleep(0.5)
    assert not pending.done() and store.last_seq() == frozen
    store._writer.execute("PRAGMA query_only = OFF")
    await asyncio.wait_for(pending, 30)
    stored = store.read_from(0, 10**6)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    floor_keys = [e.key for e in stored if e.source == "simulator"]
    assert floor_keys == [e.key for e in events]  # every floor event, once, in order
    assert store.get_cursor("simulator") == "b"
    await collector.stop()
    store.close()
