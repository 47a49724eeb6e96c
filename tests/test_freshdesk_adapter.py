"""The Freshdesk adapter against the fake Freshdesk, over real HTTP on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest

from supervisor_tui.adapters.freshdesk.adapter import (
    MAX_PAGE,
    FreshdeskAdapter,
    FreshdeskSettings,
)
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.fakes.freshdesk import FakeFreshdesk
from supervisor_tui.hub.collector import Collector
from supervisor_tui.model import (
    EscalationRaised,
    HealthState,
    NewEvent,
    Severity,
    SlaChanged,
    SlaState,
    TicketUpserted,
)
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, FakeClock, rules, targets
from .helpers import StoreSink

KEY = "freshdesk-test-key"


@dataclass
class Floor:
    fake: FakeFreshdesk
    sim: FloorSimulation
    clock: FakeClock
    store: SQLiteStore
    sink: StoreSink
    fed: list[NewEvent] = field(default_factory=list)

    def adapter(self, **over: object) -> FreshdeskAdapter:
        settings = FreshdeskSettings(
            base_url=self.fake.base_url, api_key=KEY, write_back=True, backfill_s=2 * 86400
        )
        return FreshdeskAdapter("freshdesk", replace(settings, **over), clock=self.clock)  # type: ignore[arg-type]

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        events = list(self.sim.advance(self.clock() - EPOCH))
        self.fed.extend(events)
        self.fake.feed(events)

    def state(self) -> FloorState:
        state = FloorState(targets())
        state.apply_all(self.store.read_from(0, 1_000_000))
        return state


@pytest.fixture
async def floor(tmp_path: Path) -> AsyncIterator[Floor]:
    clock = FakeClock(EPOCH)
    fake = FakeFreshdesk(api_key=KEY, clock=clock, plan="pro")
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=6, agents=30, speed=None, warmup_s=0), EPOCH)
    store = SQLiteStore(tmp_path / "floor.db")
    f = Floor(fake, sim, clock, store, StoreSink(store, "freshdesk", clock))
    f.advance(3 * 3600)
    yield f
    store.close()
    await fake.stop()


async def sync(floor: Floor, adapter: FreshdeskAdapter) -> None:
    """Every task until the ticket list is read to its end, minute by minute if need be."""
    for task in adapter.tasks:
        task.due_at = 0
    for _ in range(30):
        await adapter.poll_due(floor.sink)
        if adapter.task("tickets").failures == 0 and adapter._cursor["page"] == 1:
            return
        floor.clock.advance(61)
        for task in adapter.tasks:
            task.due_at = min(task.due_at, floor.clock())
    raise AssertionError("the ticket list never ended")


def newest(store: SQLiteStore) -> dict[str, TicketUpserted]:
    out: dict[str, TicketUpserted] = {}
    for e in store.events_of_kind("ticket.upserted"):
        assert isinstance(e.payload, TicketUpserted)
        out[e.payload.ticket_id] = e.payload
    return out


async def test_full_sync_brings_the_floor_in(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    got = newest(floor.store)
    live = {str(t["id"]): t for t in floor.fake.tickets.values() if not t.get("deleted")}
    assert set(got) == set(live)
    for tid, t in live.items():
        want = {3: "pending", 4: "solved", 5: "closed"}.get(t["status"], "pending")
        if t["status"] == 2:
            want = "open" if t["responder_id"] else "new"
        assert got[tid].status.value == want, tid
    state = floor.state()
    assert adapter.report.queues == 5 and len(state.queues) == 5
    assert adapter.report.agents == 30 and len(state.agents) == 30
    assert all(a.queue_ids for a in state.agents.values())  # members from the groups
    assert floor.sink.health_reports[-1].state is HealthState.CONNECTED


async def test_custom_statuses_are_labelled(floor: Floor) -> None:
    waiting = next(t["id"] for t in floor.fake.tickets.values() if t["status"] == 2)
    async with httpx.AsyncClient(base_url=floor.fake.base_url, auth=(KEY, "X")) as client:
        r = await client.put(f"/api/v2/tickets/{waiting}", json={"status": 6})
        assert r.status_code == 200  # an agent: "Waiting on Customer"
    adapter = floor.adapter()
    await sync(floor, adapter)
    custom = [t for t in floor.fake.tickets.values() if t["status"] >= 6]
    assert custom
    got = newest(floor.store)
    for t in custom:
        p = got[str(t["id"])]
        assert p.status.value == "pending" and p.raw_status in (
            "Waiting on Customer",
            "Waiting on Third Party",
        )


async def test_sla_due_times_and_escalated_flags(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    clocks: dict[tuple[str, str], SlaChanged] = {}
    for e in floor.store.events_of_kind("sla.changed"):
        assert isinstance(e.payload, SlaChanged)
        clocks[(e.payload.ticket_id, e.payload.metric)] = e.payload
    got = newest(floor.store)
    flagged = [t for t in floor.fake.tickets.values() if t["fr_escalated"] and t["status"] == 2]
    assert flagged
    for t in flagged:
        first = clocks[(str(t["id"]), "first_reply_time")]
        late_reply = got[str(t["id"])].first_response_at is not None
        assert first.state is (SlaState.FULFILLED if late_reply else SlaState.BREACHED)
        assert first.due_at == pytest.approx(_ts(t["fr_due_by"]))
    escalated = [t for t in floor.fake.tickets.values() if t["is_escalated"]]
    assert all(got[str(t["id"])].escalated for t in escalated)


def _ts(text: str) -> float:
    from supervisor_tui.adapters.polling import ts

    return ts(text)


async def test_the_list_moves_updated_since_and_never_nears_the_300_page_wall(
    floor: Floor,
) -> None:
    """Each page moves updated_since on (page 1 again), so even at 5 tickets a page the
    300-page wall is never reached; the overlap comes twice and is stored once."""
    adapter = floor.adapter()
    pages = []
    real = adapter._get_list

    async def small_pages(path: str, params: list) -> tuple:
        params = [(k, 5 if k == "per_page" else v) for k, v in params]  # small pages
        page = dict(params).get("page")
        if path == "/api/v2/tickets" and "filter" not in dict(params):
            pages.append(page)
        return await real(path, params)

    adapter._get_list = small_pages  # type: ignore[method-assign]
    await sync(floor, adapter)
    for _ in range(60):
        if adapter._cursor["page"] == 1 and len(newest(floor.store)) >= len(floor.fake.tickets) - 5:
            break
        floor.clock.advance(61)
        adapter.task("tickets").due_at = 0
        await adapter.poll_due(floor.sink)
    assert max(pages) < MAX_PAGE // 10 and pages.count(1) > len(pages) // 2
    stored = [
        (e.payload.ticket_id, e.payload.updated_at)
        for e in floor.store.events_of_kind("ticket.upserted")
        if isinstance(e.payload, TicketUpserted)
    ]
    assert len(stored) == len(set(stored))  # the overlap came twice and was stored once
    live = {str(t["id"]) for t in floor.fake.tickets.values() if not t.get("deleted")}
    assert live <= {tid for tid, _ in stored}


async def test_deleted_tickets_leave_the_floor(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    victim = next(t["id"] for t in floor.fake.tickets.values() if t["status"] == 2)
    floor.fake.delete_ticket(victim)
    floor.clock.advance(400)
    adapter.task("deleted").due_at = 0
    await adapter.poll_due(floor.sink)
    assert str(victim) in adapter.report.deleted
    assert str(victim) not in floor.state().tickets


async def test_429_waits_and_says_so(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    floor.fake.inject("/api/v2/tickets", "429", retry_after=12)
    floor.advance(30)
    adapter.task("tickets").due_at = 0
    await adapter.poll_due(floor.sink)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.DEGRADED and "429, retry in 12 s" in report.reason
    sent = len(floor.fake.requests)
    floor.clock.advance(6)
    await adapter.poll_due(floor.sink)
    assert len(floor.fake.requests) == sent


async def test_bad_key_is_down_and_never_shown(floor: Floor) -> None:
    adapter = floor.adapter(api_key="wrong-key-7788")
    await adapter.poll_due(floor.sink)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.DOWN and "(401)" in report.reason
    text = json.dumps([e.payload.model_dump() for e in floor.store.read_from(0)])
    assert "wrong-key-7788" not in text and KEY not in text
    assert "wrong-key-7788" not in repr(adapter.settings)


@pytest.mark.parametrize("fault", ["500", "malformed", "truncated", "wrong_shape"])
async def test_a_bad_answer_is_kept_aside_and_retried(floor: Floor, fault: str) -> None:
    adapter = floor.adapter()
    floor.fake.inject("/api/v2/tickets", fault)
    await sync(floor, adapter)
    if fault != "500":
        (q, *_) = floor.store.quarantined()
        assert q.kind == "freshdesk.tickets"
    live = {str(t["id"]) for t in floor.fake.tickets.values() if not t.get("deleted")}
    floor.clock.advance(400)
    await sync(floor, adapter)
    assert set(newest(floor.store)) == live  # nothing lost once the fault passed


async def test_webhook_needs_the_shared_secret() -> None:
    settings = FreshdeskSettings(base_url="http://127.0.0.1:9", api_key="k", webhook_secret="s3")
    adapter = FreshdeskAdapter("freshdesk", settings, clock=lambda: EPOCH)
    assert adapter.webhook({}, b"{}")[0] == 401
    assert adapter.webhook({"X-Supervisor-Webhook-Secret": "s4"}, b"{}")[0] == 401
    assert not adapter._hint.is_set()
    assert adapter.webhook({"X-Supervisor-Webhook-Secret": "s3"}, b"{}")[0] == 200
    assert adapter._hint.is_set()
    plain = FreshdeskAdapter(
        "freshdesk", replace(settings, webhook_secret=None), clock=lambda: EPOCH
    )
    assert plain.webhook({"X-Supervisor-Webhook-Secret": "s3"}, b"{}")[0] == 404


async def ack(floor: Floor, adapter: FreshdeskAdapter) -> tuple[int, Collector]:
    await sync(floor, adapter)
    ticket = next(t for t in floor.state().tickets.values() if t.status.is_open)
    raised = EscalationRaised(
        escalation_id="esc-9",
        rule_id="complaint",
        subject=f"ticket:{ticket.ticket_id}",
        ticket_source="freshdesk",
        ticket_id=ticket.ticket_id,
        severity=Severity.WARNING,
        title=f"Complaint on #{ticket.ticket_id}",
        raised_at=floor.clock(),
    )
    floor.store.append(
        [
            NewEvent(
                source="rules",
                key="esc-9",
                occurred_at=floor.clock(),
                received_at=floor.clock(),
                payload=raised,
            )
        ]
    )
    esc = floor.state().escalations["esc-9"]
    EscalationDesk(floor.store, floor.clock).ack(esc, "Kim Lead", "Called back <b>now</b>")
    return int(ticket.ticket_id), Collector(floor.store, [adapter], rules(), targets(), floor.clock)


def floor_notes(fake: FakeFreshdesk, ticket_id: int) -> list[dict]:
    return [n for n in fake.notes.get(ticket_id, []) if "[supervisor-tui ack" in n["body_text"]]


async def test_ack_is_a_private_note_and_a_merged_tag(floor: Floor) -> None:
    adapter = floor.adapter()
    ticket_id, collector = await ack(floor, adapter)
    floor.fake.agent_edit(ticket_id, add_tag="vip")  # an agent tags it just before
    assert await collector.deliver_outbox() == 1
    (note,) = floor_notes(floor.fake, ticket_id)
    assert note["private"] is True
    assert "Called back <b>now</b>" in note["body_text"]  # text, never markup
    tags = floor.fake.tickets[ticket_id]["tags"]
    assert "supervisor_acked" in tags and "vip" in tags  # merged, the agent's tag kept


async def test_ack_is_not_posted_twice(floor: Floor) -> None:
    adapter = floor.adapter()
    ticket_id, collector = await ack(floor, adapter)
    real = adapter._merge_tag
    calls = 0

    async def tag_fails_once(tid: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            floor.fake.inject(f"/api/v2/tickets/{tid}", "503")
        await real(tid)

    adapter._merge_tag = tag_fails_once  # type: ignore[method-assign]
    assert await collector.deliver_outbox() == 0  # the tag step failed: kept for a retry
    floor.clock.advance(120)
    assert await collector.deliver_outbox() == 1
    assert len(floor_notes(floor.fake, ticket_id)) == 1
    assert "supervisor_acked" in floor.fake.tickets[ticket_id]["tags"]


async def test_survey_ratings_reach_their_tickets(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    floor.clock.advance(400)
    adapter.task("ratings").due_at = 0
    await adapter.poll_due(floor.sink)
    truth = {
        str(r["ticket_id"]): r["ratings"]["default_question"] for r in floor.fake.ratings.values()
    }
    assert truth, "the simulated customers answered some surveys"
    got = newest(floor.store)
    for ticket_id, value in truth.items():
        want = "good" if value > 100 else "bad" if value < 100 else None
        assert got[ticket_id].satisfaction == want, ticket_id
