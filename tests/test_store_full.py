"""A full disk: the collector keeps the events, says so loudly, and stores them once the
store takes writes again; nothing is lost, nothing is stored twice."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from supervisor_tui.hub.collector import Collector
from supervisor_tui.store import SQLiteStore
from supervisor_tui.widgets.freshness import FreshnessBar

from .conftest import EPOCH, rules, simulate, targets


async def test_full_disk_keeps_events_and_retries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="supervisor_tui")
    store = SQLiteStore(tmp_path / "floor.db")
    collector = Collector(store, [], rules(), targets(), lambda: EPOCH)
    await collector.start()
    events = simulate(seed=4, until_s=2 * 3600)
    first, rest = events[:500], events[500:3500]
    await collector.submit(first, "simulator", "c1")
    writer = store._writer  # the file may not grow past its current size: "disk full"
    pages = writer.execute("PRAGMA page_count").fetchone()[0]
    writer.execute(f"PRAGMA max_page_count = {pages}")
    submits = [
        asyncio.create_task(collector.submit(rest[i : i + 250], "simulator", f"c{i}"))
        for i in range(0, len(rest), 250)
    ]
    for _ in range(1500):  # up to 30 s on a loaded machine; usually a few ms
        if collector.store_trouble is not None:
            break
        await asyncio.sleep(0.02)
    assert collector.store_trouble is not None and "full" in collector.store_trouble
    assert not any(t.done() for t in submits)  # nobody was told "stored"
    # only the first batch of the floor's events is in (the rules' own escalations may
    # still fit in the file's last free page, and are kept whenever they do)
    kept = store.read_from(0, 10**6)
    assert sum(1 for e in kept if e.source == "simulator") == 500
    assert collector.events_waiting > 0
    bar = FreshnessBar()
    bar.show({}, EPOCH, 60, alert=f"STORE REFUSES WRITES: {collector.store_trouble}")
    assert "✖ STORE REFUSES WRITES" in str(bar.render())
    writer.execute("PRAGMA max_page_count = 1073741823")  # space again
    await asyncio.wait_for(asyncio.gather(*submits), 30)
    assert collector.store_trouble is None and collector.events_waiting == 0
    stored = store.read_from(0, 10**6)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    floor = [e for e in stored if e.source == "simulator"]
    assert [e.key for e in floor] == [e.key for e in first + rest]  # all, once, in order
    assert len({(e.source, e.key) for e in stored}) == len(stored)
    assert store.get_cursor("simulator") == f"c{(len(rest) - 1) // 250 * 250}"
    # the log says it once when it starts and once when it ends, not for every retry
    said = [(r.levelname, r.getMessage()) for r in caplog.records if "store" in r.getMessage()]
    refused = [m for level, m in said if level == "ERROR" and "refuses events" in m]
    assert len(refused) == 1 and "full" in refused[0] and "kept, retrying" in refused[0]
    assert ("INFO", "store accepts events again") in said
    await collector.stop()
    store.close()
