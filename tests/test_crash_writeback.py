"""SIGKILL the collector while it delivers write-backs to the fake Zendesk, restart it, and
check that each ack is on the ticket exactly once (one private comment with its reference
string, the tag set), and that every ack is still in the store.

The collector runs in its own process and kills itself with SIGKILL at an exact point of the
delivery (the test's script wraps its calls; the product code has no hook for it): before
the comment is sent, after Zendesk took the comment but before the tag, after the whole
write-back but before the outbox row is marked delivered, and just after the mark. So every
point is hit on every run, deterministically; one more run kills it from outside at random
moments while it delivers.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.fakes.freshdesk import FakeFreshdesk
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.model import EscalationRaised, NewEvent, Severity
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, FakeClock, targets

TOKEN = "test-token-not-a-secret"
FD_KEY = "freshdesk-test-key"

DELIVER = """
import asyncio, os, signal, sys, time
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter, ZendeskSettings
from supervisor_tui.config import Config, default_rules
from supervisor_tui.core.rules import RuleEngine
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.hub.collector import Collector
from supervisor_tui.store import SQLiteStore

db, base_url, point, nth, helpdesk = sys.argv[1:6]
nth = int(nth)

def die():
    os.kill(os.getpid(), signal.SIGKILL)

async def main():
    store = SQLiteStore(db)
    if helpdesk == "zendesk":
        settings = ZendeskSettings(base_url=base_url, email="bot@example.com",
                                   token=os.environ["HELPDESK_SECRET"], write_back=True)
        adapter = ZendeskAdapter("zendesk", settings, clock=time.time)
    else:
        from supervisor_tui.adapters.freshdesk.adapter import FreshdeskAdapter, FreshdeskSettings
        settings = FreshdeskSettings(base_url=base_url, api_key=os.environ["HELPDESK_SECRET"],
                                     write_back=True, plan="pro")
        adapter = FreshdeskAdapter("freshdesk", settings, clock=time.time)
    rules = RuleEngine(list(Config.model_validate({"rules": default_rules()}).rules))
    collector = Collector(store, [adapter], rules, FloorTargets(), time.time)
    collector.take_lease()  # as a restarted collector does: the claims of the killed one are freed
    seen = {"comment": 0, "tag": 0, "mark": 0}
    request = adapter.api.request

    def kind_of(method, path):
        # Zendesk: the comment is a PUT of the ticket, the tag a PUT on /tags.json;
        # Freshdesk: the note is a POST on /notes, the tag a PUT of the ticket
        if method == "POST" and path.endswith("/notes"):
            return "comment"
        if method == "PUT":
            if path.endswith("/tags.json") or helpdesk == "freshdesk":
                return "tag"
            return "comment"
        return None

    async def wrapped(method, path, **kw):
        if point == "slow":
            await asyncio.sleep(0.02)  # a slower helpdesk: time to be killed in the middle
        kind = kind_of(method, path)
        if kind is not None:
            seen[kind] += 1
            if point == "before_comment" and kind == "comment" and seen[kind] == nth:
                die()
        answer = await request(method, path, **kw)
        if kind is not None:
            print(f"{kind} {path}", flush=True)
            if point == "after_comment" and kind == "comment" and seen[kind] == nth:
                die()
            if point == "after_tag" and kind == "tag" and seen[kind] == nth:
                die()
        return answer

    adapter.api.request = wrapped
    mark = store.outbox_delivered

    def marked(item_id, at):
        seen["mark"] += 1
        if point == "before_mark" and seen["mark"] == nth:
            die()
        mark(item_id, at)
        print(f"marked {item_id}", flush=True)
        if point == "after_mark" and seen["mark"] == nth:
            die()

    store.outbox_delivered = marked
    while store.outbox_pending_count():
        await collector.deliver_outbox()
    await adapter.api.close()
    store.close()
    print("done", flush=True)

asyncio.run(main())
"""

POINTS = ["before_comment", "after_comment", "after_tag", "before_mark", "after_mark"]
ACKS = 12


@pytest.fixture
async def zendesk() -> AsyncIterator[FakeZendesk]:
    clock = FakeClock(EPOCH)
    fake = FakeZendesk(email="bot@example.com", token=TOKEN, clock=clock, rate_limit=700)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=5, agents=30, speed=None, warmup_s=0), EPOCH)
    clock.advance(3 * 3600)
    fake.feed(sim.advance(3 * 3600))
    yield fake
    await fake.stop()


def ack_open_tickets(db: Path, fake: FakeZendesk, count: int) -> list[int]:
    """Raise and ack an escalation on each of ``count`` open tickets: that many outbox rows."""
    store = SQLiteStore(db)
    open_ids = [tid for tid, t in sorted(fake.tickets.items()) if t["status"] in ("new", "open")][
        :count
    ]
    assert len(open_ids) == count
    at = EPOCH + 3 * 3600
    store.append(
        [
            NewEvent(
                source="rules",
                key=f"esc-{tid}",
                occurred_at=at,
                received_at=at,
                payload=EscalationRaised(
                    escalation_id=f"esc-{tid}",
                    rule_id="complaint",
                    subject=f"ticket:{tid}",
                    ticket_source="zendesk",
                    ticket_id=str(tid),
                    severity=Severity.CRITICAL,
                    title=f"Complaint on #{tid}",
                    raised_at=at,
                ),
            )
            for tid in open_ids
        ]
    )
    state = FloorState(targets())
    state.apply_all(store.read_from(0, 10**6))
    desk = EscalationDesk(store, lambda: at)
    for tid in open_ids:
        desk.ack(state.escalations[f"esc-{tid}"], "Sam Lead", f"moving agents for {tid}")
    store.close()
    return open_ids


async def run_delivery(
    db: Path, fake: FakeZendesk | FakeFreshdesk, point: str = "none", nth: int = 0
) -> tuple[int, list[str]]:
    proc = await start_delivery(db, fake, point, nth)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode().splitlines()


async def start_delivery(
    db: Path, fake: FakeZendesk | FakeFreshdesk, point: str, nth: int
) -> asyncio.subprocess.Process:
    helpdesk, secret = (
        ("zendesk", TOKEN) if isinstance(fake, FakeZendesk) else ("freshdesk", FD_KEY)
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        DELIVER,
        str(db),
        fake.base_url,
        point,
        str(nth),
        helpdesk,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "HELPDESK_SECRET": secret},
    )


def check_exactly_once(db: Path, fake: FakeZendesk, tickets: list[int]) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute("SELECT event_seq, state, body FROM outbox ORDER BY id").fetchall()
    acked = conn.execute("SELECT seq FROM events WHERE kind = 'escalation.acked'").fetchall()
    conn.close()
    assert len(rows) == len(tickets) == len(acked)  # every ack is still there
    assert {seq for seq, _, _ in rows} == {seq for (seq,) in acked}
    assert all(state == "delivered" for _, state, _ in rows)
    for seq, _, body in rows:
        tid = int(json.loads(body)["ticket_id"])
        ours = [c for c in fake.comments.get(tid, []) if "[supervisor-tui ack" in c["body"]]
        assert len(ours) == 1, f"ticket {tid}: {len(ours)} ack comments"
        assert f"[supervisor-tui ack {seq}-" in ours[0]["body"]  # its own reference
        assert ours[0]["public"] is False
        assert "supervisor_acked" in fake.tickets[tid]["tags"]


@pytest.mark.parametrize("point", POINTS)
async def test_sigkill_at_each_point_of_a_write_back_delivers_each_ack_once(
    zendesk: FakeZendesk, tmp_path: Path, point: str
) -> None:
    db = tmp_path / "floor.db"
    tickets = ack_open_tickets(db, zendesk, ACKS)
    for nth in (1, 3, 2):  # three kills at that point, at the nth delivery of each run
        code, lines = await run_delivery(db, zendesk, point, nth)
        assert code == -signal.SIGKILL, f"not killed at {point} #{nth}: {lines[-3:]}"
        comments = [line for line in lines if line.startswith("comment")]
        if point == "before_comment":
            assert len(comments) == nth - 1  # killed before the nth comment went out
        elif point == "after_comment":
            assert len(comments) >= nth and not lines[-1].startswith("tag")
    code, lines = await run_delivery(db, zendesk)
    assert code == 0 and lines[-1] == "done"
    check_exactly_once(db, zendesk, tickets)


async def test_sigkill_at_random_moments_while_delivering(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    db = tmp_path / "floor.db"
    tickets = ack_open_tickets(db, zendesk, 30)
    rng = random.Random(11)
    kills = 0
    for _ in range(6):
        proc = await start_delivery(db, zendesk, "slow", 0)
        assert proc.stdout is not None
        # wait for the first delivery step, then a random moment more
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            await proc.wait()
            break
        await asyncio.sleep(rng.uniform(0.0, 0.15))
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        await proc.wait()
    code, lines = await run_delivery(db, zendesk)
    assert code == 0 and lines[-1] == "done"
    assert kills >= 3
    check_exactly_once(db, zendesk, tickets)


# -- Freshdesk: a private note and a merged tag ------------------------------------------------


@pytest.fixture
async def freshdesk() -> AsyncIterator[FakeFreshdesk]:
    clock = FakeClock(EPOCH)
    fake = FakeFreshdesk(api_key=FD_KEY, clock=clock, plan="pro")
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=6, agents=30, speed=None, warmup_s=0), EPOCH)
    clock.advance(3 * 3600)
    fake.feed(sim.advance(3 * 3600))
    yield fake
    await fake.stop()


def ack_freshdesk_tickets(db: Path, fake: FakeFreshdesk, count: int) -> list[int]:
    store = SQLiteStore(db)
    open_ids = [tid for tid, t in sorted(fake.tickets.items()) if t["status"] == 2][:count]
    assert len(open_ids) == count
    at = EPOCH + 3 * 3600
    store.append(
        [
            NewEvent(
                source="rules",
                key=f"esc-{tid}",
                occurred_at=at,
                received_at=at,
                payload=EscalationRaised(
                    escalation_id=f"esc-{tid}",
                    rule_id="complaint",
                    subject=f"ticket:{tid}",
                    ticket_source="freshdesk",
                    ticket_id=str(tid),
                    severity=Severity.CRITICAL,
                    title=f"Complaint on #{tid}",
                    raised_at=at,
                ),
            )
            for tid in open_ids
        ]
    )
    state = FloorState(targets())
    state.apply_all(store.read_from(0, 10**6))
    desk = EscalationDesk(store, lambda: at)
    for tid in open_ids:
        desk.ack(state.escalations[f"esc-{tid}"], "Sam Lead", f"moving agents for {tid}")
    store.close()
    return open_ids


@pytest.mark.parametrize("point", ["after_comment", "before_mark"])
async def test_freshdesk_sigkill_after_the_note_posts_it_once_even_on_a_long_ticket(
    freshdesk: FakeFreshdesk, tmp_path: Path, point: str
) -> None:
    """Killed after Freshdesk took the note: the restart must find the note before posting
    again, also on a ticket whose conversations fill more than one page (oldest first, so
    the note is on the last page)."""
    db = tmp_path / "floor.db"
    tickets = ack_freshdesk_tickets(db, freshdesk, 6)
    for tid in tickets:
        freshdesk.add_conversations(tid, 130)  # more than one page of 100
    for nth in (1, 2, 2):
        code, lines = await run_delivery(db, freshdesk, point, nth)
        assert code == -signal.SIGKILL, f"not killed at {point} #{nth}: {lines[-3:]}"
    code, lines = await run_delivery(db, freshdesk)
    assert code == 0 and lines[-1] == "done"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute("SELECT event_seq, state, body FROM outbox ORDER BY id").fetchall()
    conn.close()
    assert len(rows) == len(tickets) and all(state == "delivered" for _, state, _ in rows)
    for seq, _, body in rows:
        tid = int(json.loads(body)["ticket_id"])
        ours = [n for n in freshdesk.notes.get(tid, []) if "[supervisor-tui ack" in n["body"]]
        assert len(ours) == 1, f"ticket {tid}: {len(ours)} ack notes"
        assert f"[supervisor-tui ack {seq}-" in ours[0]["body"] and ours[0]["private"] is True
        assert "supervisor_acked" in freshdesk.tickets[tid]["tags"]
