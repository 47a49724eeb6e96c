"""`supervisor-tui audit FILE` (issue #24): every ack, note, snooze and resolve of a recorded
shift, with who, when (floor time), from which terminal, and its write-back's outcome.

The commands are made as on a real floor: through the hub over a websocket on loopback (a
supervise token; a view token is refused and leaves no line) and at a terminal of the
collector's own; the write-backs are delivered by a real collector to the fake Freshdesk,
which refuses one ticket's. Then `audit` reads the recording file, as an operator would.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from supervisor_tui.cli import main
from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.targets import FloorTargets, settings_event
from supervisor_tui.fakes.freshdesk import FakeFreshdesk
from supervisor_tui.hub.client import HubClient, RemoteDesk
from supervisor_tui.hub.server import Hub
from supervisor_tui.model import EscalationResolved, NewEvent
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, record_floor
from .test_hub import SUPERVISE, TOKENS, VIEW, until
from .test_one_writer import close_adapters, escalation, freshdesk, freshdesk_collector

__all__ = ["freshdesk"]  # the fixture, shared with test_one_writer

SAIGON = FloorTargets(timezone="Asia/Ho_Chi_Minh", utc_offset_s=7 * 3600)
AT = EPOCH + 3 * 3600  # 2026-09-21 17:13:20 UTC is 2026-09-22 00:13:20 in Saigon (+7)


async def test_audit_lists_a_shifts_commands_with_who_where_and_write_back(
    tmp_path: Path, freshdesk: FakeFreshdesk, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = freshdesk
    db = tmp_path / "shift.db"
    store = record_floor(db, until_s=3600)
    settings = settings_event("Night floor", SAIGON, [], EPOCH)
    assert settings is not None
    a, b, c, d = [tid for tid, t in sorted(fake.tickets.items()) if t["status"] == 2][:4]
    store.append([settings] + [escalation(tid, AT) for tid in (a, b, c, d)])
    # a rule saw esc-d's condition clear: not an operator's command, not in the trail
    cleared = EscalationResolved(escalation_id=f"esc-{d}", by=None, reason="cleared", at=AT + 5)
    store.append([NewEvent(source="rules", key="clear-d", occurred_at=AT + 5,
                           received_at=AT + 5, payload=cleared)])  # fmt: skip

    now = [AT + 60.0]
    hub = Hub(store, TOKENS, SAIGON, lambda: now[0], port=0)
    await hub.start()
    sam = HubClient(f"ws://127.0.0.1:{hub.port}", SUPERVISE, SAIGON)
    wall = HubClient(f"ws://127.0.0.1:{hub.port}", VIEW, SAIGON)
    sam.start()
    wall.start()
    try:
        await until(lambda: sam.seq == hub.state.seq and wall.seq == hub.state.seq)
        esc = hub.state.escalations
        await asyncio.to_thread(RemoteDesk(sam).ack, esc[f"esc-{a}"], "", "calling back")
        now[0] += 60
        await asyncio.to_thread(RemoteDesk(sam).note, esc[f"esc-{b}"], "", "refund approved")
        now[0] += 60
        await asyncio.to_thread(RemoteDesk(sam).snooze, esc[f"esc-{c}"], "", 15)
        with pytest.raises(Exception, match="scope view"):
            await asyncio.to_thread(RemoteDesk(wall).ack, esc[f"esc-{c}"], "", "")
        now[0] += 60
        await asyncio.to_thread(RemoteDesk(sam).resolve, esc[f"esc-{b}"], "", "refund sent")
    finally:
        sam.close()
        wall.close()
        await hub.stop()
    # at the collector's own keyboard
    state = FloorState(SAIGON)
    state.apply_all(store.read_from(0, 10**7))
    desk = EscalationDesk(store, lambda: AT + 600, terminal="desk-7 /dev/pts/2")
    desk.ack(state.escalations[f"esc-{c}"], "Ana Nguyen", "")

    # the collector delivers; the helpdesk refuses every write to ticket b
    fake.inject(f"/api/v2/tickets/{b}", "500", count=1_000)
    collector = freshdesk_collector(store, fake)
    await collector.deliver_outbox()
    await close_adapters(collector)
    store.close()

    assert main(["audit", str(db), "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)["commands"]
    rows = [
        (e["when"], e["command"], e["by"], e["terminal"], e["escalation_id"], e["text"])
        for e in entries
    ]
    assert rows == [
        ("2026-09-22 00:14:20 +0700", "ack", "Sam Lead", "watch 127.0.0.1", f"esc-{a}",
         "calling back"),
        ("2026-09-22 00:15:20 +0700", "note", "Sam Lead", "watch 127.0.0.1", f"esc-{b}",
         "refund approved"),
        ("2026-09-22 00:16:20 +0700", "snooze", "Sam Lead", "watch 127.0.0.1", f"esc-{c}",
         "15 min"),
        ("2026-09-22 00:17:20 +0700", "resolve", "Sam Lead", "watch 127.0.0.1", f"esc-{b}",
         "refund sent"),
        ("2026-09-22 00:23:20 +0700", "ack", "Ana Nguyen", "desk-7 /dev/pts/2", f"esc-{c}", ""),
    ]  # fmt: skip
    outcome = [e["write_back"] for e in entries]
    assert outcome[0].startswith("delivered to freshdesk at ") and "(1 attempt)" in outcome[0]
    assert outcome[1].startswith("not delivered yet (1 attempt, next at ")
    assert "500" in outcome[1]
    assert outcome[2] == "— (a snooze stays on the floor)"
    assert outcome[3].startswith("not delivered yet (1 attempt")
    assert outcome[4].startswith("delivered to freshdesk at ")
    assert entries[0]["title"] == f"Complaint on #{a}"

    # --from / --to in floor time: the snooze and the resolve only
    args = ["audit", str(db), "--from", "2026-09-22T00:16", "--to", "2026-09-22T00:20"]
    assert main([*args, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "when,command,by,terminal,escalation_id,title,text,write_back"
    assert [line.split(",")[1] for line in lines[1:]] == ["snooze", "resolve"]

    # on screen
    assert main(["audit", str(db)]) == 0
    screen = capsys.readouterr().out
    assert "Commands on" in screen and "Sam Lead" in screen and "desk-7" in screen


def test_audit_of_a_missing_file_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "/nonexistent/shift.db"]) == 2
    assert capsys.readouterr().err.strip() == "supervisor-tui: /nonexistent/shift.db: no such file"


def test_a_recording_without_commands_lists_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record_floor(tmp_path / "quiet.db", until_s=600).close()
    SQLiteStore(tmp_path / "quiet.db", read_only=True).close()
    assert main(["audit", str(tmp_path / "quiet.db"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"commands": []}
