"""The Zendesk adapter against the fake Zendesk, over real HTTP on loopback.

The fake is fed a seeded simulated floor; the adapter must bring that floor into a real
SQLite store: every ticket once in its newest state, deletions, agents, queues, waiting
calls and SLA clocks; and survive 429s, 5xx, bad bodies, a wrong token and a crash.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from supervisor_tui.adapters.http import RateLimited
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter, ZendeskSettings
from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.hub.collector import Collector
from supervisor_tui.model import (
    AgentStateChanged,
    Capability,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    EscalationRaised,
    HealthState,
    NewEvent,
    Severity,
    TicketUpserted,
)
from supervisor_tui.store import SQLiteStore, StoreError

from .conftest import EPOCH, FakeClock, rules, targets
from .helpers import StoreSink

TOKEN = "test-token-not-a-secret"
SIM_S = 3 * 3600.0


@dataclass
class Floor:
    fake: FakeZendesk
    sim: FloorSimulation
    clock: FakeClock
    store: SQLiteStore
    sink: StoreSink
    fed: list[NewEvent] = field(default_factory=list)

    def adapter(self, **over: object) -> ZendeskAdapter:
        settings = ZendeskSettings(
            base_url=self.fake.base_url,
            email=self.fake.email,
            token=TOKEN,
            write_back=True,
            backfill_s=2 * 24 * 3600,
        )
        return ZendeskAdapter("zendesk", replace(settings, **over), clock=self.clock)  # type: ignore[arg-type]

    def advance(self, seconds: float) -> None:
        """The floor moves on: the simulation runs and the clock follows."""
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
    fake = FakeZendesk(email="bot@example.com", token=TOKEN, clock=clock, rate_limit=700)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=5, agents=30, speed=None, warmup_s=0), EPOCH)
    store = SQLiteStore(tmp_path / "floor.db")
    f = Floor(fake, sim, clock, store, StoreSink(store, "zendesk", clock))
    f.advance(SIM_S)
    yield f
    store.close()
    await fake.stop()


async def full_sync(floor: Floor, adapter: ZendeskAdapter) -> None:
    for task in adapter.tasks:
        task.due_at = 0
    await adapter.poll_due(floor.sink)


def exported_truth(fake: FakeZendesk, lag_s: float) -> dict[str, str]:
    """What Zendesk's export can show now: each ticket's newest status older than the lag."""
    return {str(tid): t["status"] for tid, t in fake.tickets.items()}


async def test_full_sync_brings_the_floor_in(floor: Floor) -> None:
    adapter = floor.adapter()
    await full_sync(floor, adapter)
    state = floor.state()
    # queues and agents: every group and every simulated agent, with their groups
    assert len(adapter.report.tickets) > 50
    assert adapter.report.queues == 5 and adapter.report.agents == 30
    names = sorted(q.name for q in state.queues.values())
    assert names == sorted(g["name"] for g in floor.fake.groups.values())
    assert len(state.agents) == 30
    # tickets: every e-mail ticket the fake exports, once, in its newest exported state
    tickets = [e.payload for e in floor.store.events_of_kind("ticket.upserted")]
    assert tickets
    newest: dict[str, TicketUpserted] = {}
    for t in tickets:
        assert isinstance(t, TicketUpserted)
        newest[t.ticket_id] = t
    truth = {
        str(tid): t
        for tid, t in floor.fake.tickets.items()
        if t["updated_at"] <= iso_at(floor.clock() - floor.fake.export_lag_s)
    }
    for tid, zt in truth.items():
        if zt["status"] == "deleted":
            continue
        assert newest[tid].status.value == zt["status"], tid
    # agent state came from the availabilities (and Talk for calls)
    states = Counter(a.state.value for a in state.agents.values())
    assert sum(states.values()) == 30 and states["offline"] < 30
    # waiting calls from Talk, per voice group
    reported = {q.name for q in state.queues.values() if q.reported is not None}
    # the two voice groups from Talk; the chat group from the export's unassigned chats
    assert reported == {"Voice · Sales", "Voice · Support", "Chat"}
    # SLA clocks from the metric events
    assert floor.store.events_of_kind("sla.changed")
    health = floor.sink.health_reports[-1]
    assert health.state is HealthState.CONNECTED and health.budget_left is not None


def iso_at(t: float) -> str:
    from supervisor_tui.adapters.zendesk.parse import iso

    return iso(t)


async def drain(adapter: ZendeskAdapter, sink: StoreSink, clock: FakeClock) -> None:
    """Read the ticket export to its end, waiting out its 10-a-minute limit."""
    for _ in range(100):
        try:
            await adapter._poll_tickets(sink)
        except RateLimited as exc:
            clock.advance(exc.retry_at - clock() + 0.5)
            continue
        position = adapter._cursor["tickets"]
        if adapter.budget.wait_s() > 0:
            clock.advance(adapter.budget.wait_s() + 0.5)
            continue
        if adapter.last_export_ended:
            return
    raise AssertionError(f"the export never ended at {position}")


def ticket_versions(store: SQLiteStore) -> list[tuple[str, float, str]]:
    out = []
    for e in store.events_of_kind("ticket.upserted"):
        p = e.payload
        assert isinstance(p, TicketUpserted)
        out.append((p.ticket_id, p.updated_at, p.status.value))
    return out


async def test_staff_pages_end_on_has_more_false(tmp_path: Path) -> None:
    clock = FakeClock(EPOCH)
    fake = FakeZendesk(email="bot@example.com", token=TOKEN, clock=clock)
    await fake.start()
    try:
        sim = FloorSimulation(SimOptions(seed=2, agents=230, speed=None, warmup_s=0), EPOCH)
        fake.feed(sim.advance(60))
        store = SQLiteStore(tmp_path / "f.db")
        f = Floor(fake, sim, clock, store, StoreSink(store, "zendesk", clock))
        adapter = f.adapter()
        await adapter._poll_directory(f.sink)
        user_pages = [p for m, p in fake.requests if p.startswith("/api/v2/users")]
        assert len(user_pages) == 3  # 100 + 100 + 30 (+1 API user); stops though next is set
        assert adapter.report.agents == 230
        store.close()
    finally:
        await fake.stop()


async def test_deleted_ticket_leaves_the_floor(floor: Floor) -> None:
    adapter = floor.adapter()
    await full_sync(floor, adapter)
    open_ids = [t.ticket_id for t in floor.state().tickets.values() if t.status.is_open]
    victim = int(open_ids[0])
    floor.fake.delete_ticket(victim)
    floor.advance(90)  # past the export's lag
    adapter.task("tickets").due_at = 0
    await adapter.poll_due(floor.sink)
    assert str(victim) in adapter.report.deleted
    assert [e.payload.ticket_id for e in floor.store.events_of_kind("ticket.deleted")] == [
        str(victim)
    ]
    assert str(victim) not in {t.ticket_id for t in floor.state().tickets.values()}


async def test_resume_after_a_crash_mid_export_loses_and_repeats_nothing(
    floor: Floor, tmp_path: Path
) -> None:
    floor.clock.advance(120)  # every change is now older than the export's lag
    # the clean run, for comparison
    clean_store = SQLiteStore(tmp_path / "clean.db")
    clean = floor.adapter()
    clean.export_per_page = 25
    await drain(clean, StoreSink(clean_store, "zendesk", floor.clock), floor.clock)
    expected = sorted(ticket_versions(clean_store))
    assert len(expected) > 100

    crashing = floor.adapter()
    crashing.export_per_page = 25
    pages = 0
    real_emit = floor.sink.emit

    async def emit_then_crash(events: Sequence[NewEvent], cursor: str | None = None) -> None:
        nonlocal pages
        pages += 1
        if pages == 3:
            raise KeyboardInterrupt("power cut before page 3 was stored")
        await real_emit(events, cursor)

    floor.sink.emit = emit_then_crash  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        await drain(crashing, floor.sink, floor.clock)
    floor.sink.emit = real_emit  # type: ignore[method-assign]
    stored_before = len(ticket_versions(floor.store))
    assert 0 < stored_before < len(expected)

    resumed = floor.adapter()
    resumed.export_per_page = 25
    resumed.load_cursor(floor.store.get_cursor("zendesk"))
    await drain(resumed, floor.sink, floor.clock)
    got = ticket_versions(floor.store)
    assert sorted(got) == expected  # nothing missing, nothing twice
    assert len(got) == len(set(got))
    clean_store.close()


async def test_429_waits_for_retry_after_and_says_so(floor: Floor) -> None:
    adapter = floor.adapter()
    await full_sync(floor, adapter)
    floor.fake.inject("/api/v2/incremental/tickets", "429", retry_after=9)
    floor.advance(30)
    await adapter.poll_due(floor.sink)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.DEGRADED
    assert report.reason == "zendesk: 429, retry in 9 s"
    assert report.retry_at == pytest.approx(floor.clock() + 9)
    sent = len(floor.fake.requests)
    floor.clock.advance(5)  # still inside Retry-After: not one request goes out
    await adapter.poll_due(floor.sink)
    assert len(floor.fake.requests) == sent
    floor.advance(5)
    await adapter.poll_due(floor.sink)
    assert len(floor.fake.requests) > sent
    assert floor.sink.health_reports[-1].state is HealthState.CONNECTED


async def test_wrong_token_is_down_and_the_token_is_nowhere(floor: Floor) -> None:
    adapter = floor.adapter(token="wrong-token-value-123")
    await full_sync(floor, adapter)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.DOWN
    assert "refused the API token of bot@example.com (401)" in report.reason
    assert report.retry_at is not None and report.retry_at > floor.clock()
    dump = json.dumps([e.payload.model_dump() for e in floor.store.read_from(0)])
    assert "wrong-token-value-123" not in dump and TOKEN not in dump
    assert "wrong-token-value-123" not in repr(adapter.settings)


@pytest.mark.parametrize("fault", ["500", "503", "malformed", "truncated", "wrong_shape", "slow"])
async def test_a_bad_answer_is_retried_and_nothing_is_lost(floor: Floor, fault: str) -> None:
    adapter = floor.adapter()
    await full_sync(floor, adapter)
    floor.advance(600)
    floor.fake.inject("/api/v2/incremental/tickets", fault, delay_s=0.2)
    adapter.task("tickets").due_at = 0
    await adapter.poll_due(floor.sink)
    before = ticket_versions(floor.store)
    if fault != "slow":
        degraded = [h for h in floor.sink.health_reports if h.state is HealthState.DEGRADED]
        quarantined = floor.store.quarantined()
        assert degraded or quarantined
        if fault in ("malformed", "truncated", "wrong_shape"):
            assert quarantined and quarantined[0].kind == "zendesk.tickets"
    floor.clock.advance(400)
    for task in adapter.tasks:
        task.due_at = min(task.due_at, floor.clock())
    await adapter.poll_due(floor.sink)
    after = ticket_versions(floor.store)
    assert len(after) >= len(before)
    # once the fault passes, the floor matches a clean read of the same account
    check = SQLiteStore(floor.store.path.with_name("check.db"))
    await floor.adapter()._poll_tickets(StoreSink(check, "zendesk", floor.clock))
    assert {(t, s) for t, _, s in after} >= {(t, s) for t, _, s in ticket_versions(check)}
    check.close()


async def ack_one_ticket(floor: Floor, adapter: ZendeskAdapter) -> tuple[int, Collector]:
    """Raise an escalation about an open ticket and ack it: one outbox row to deliver."""
    await full_sync(floor, adapter)
    ticket = next(t for t in floor.state().tickets.values() if t.status.is_open)
    raised = EscalationRaised(
        escalation_id="esc-1",
        rule_id="complaint",
        subject=f"ticket:{ticket.ticket_id}",
        ticket_source="zendesk",
        ticket_id=ticket.ticket_id,
        severity=Severity.CRITICAL,
        title=f"Complaint on #{ticket.ticket_id}",
        raised_at=floor.clock(),
    )
    floor.store.append(
        [
            NewEvent(
                source="rules",
                key="esc-1",
                occurred_at=floor.clock(),
                received_at=floor.clock(),
                payload=raised,
            )
        ]
    )
    esc = floor.state().escalations["esc-1"]
    EscalationDesk(floor.store, floor.clock).ack(esc, "Sam Lead", "Two agents moved to email")
    collector = Collector(floor.store, [adapter], rules(), targets(), floor.clock)
    return int(ticket.ticket_id), collector


def supervisor_comments(fake: FakeZendesk, ticket_id: int) -> list[dict]:
    return [c for c in fake.comments.get(ticket_id, []) if "[supervisor-tui ack" in c["body"]]


async def test_ack_lands_once_as_a_private_comment_and_a_tag(floor: Floor) -> None:
    adapter = floor.adapter()
    ticket_id, collector = await ack_one_ticket(floor, adapter)
    assert await collector.deliver_outbox() == 1
    (comment,) = supervisor_comments(floor.fake, ticket_id)
    assert comment["public"] is False
    assert "Sam Lead" in comment["body"] and "Two agents moved to email" in comment["body"]
    assert "supervisor_acked" in floor.fake.tickets[ticket_id]["tags"]
    assert floor.store.outbox_pending_count() == 0
    assert await collector.deliver_outbox() == 0  # nothing left to send


async def test_ack_is_not_sent_twice_when_the_answer_is_lost(floor: Floor) -> None:
    adapter = floor.adapter()
    ticket_id, collector = await ack_one_ticket(floor, adapter)
    real = floor.store.outbox_delivered

    def crash(item_id: int, at: float) -> None:
        raise StoreError("disk full while marking the delivery")

    floor.store.outbox_delivered = crash  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        await collector.deliver_outbox()  # Zendesk took it; we could not record that
    floor.store.outbox_delivered = real  # type: ignore[method-assign]
    assert floor.store.outbox_pending_count() == 1
    assert await collector.deliver_outbox() == 1  # delivered again: found, not re-posted
    assert len(supervisor_comments(floor.fake, ticket_id)) == 1


async def test_a_lost_answer_is_found_behind_many_newer_comments(floor: Floor) -> None:
    """The retry looks further than the newest page: 250 replies came in meanwhile."""
    adapter = floor.adapter()
    ticket_id, collector = await ack_one_ticket(floor, adapter)
    real = floor.store.outbox_delivered

    def crash(item_id: int, at: float) -> None:
        raise StoreError("disk full while marking the delivery")

    floor.store.outbox_delivered = crash  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        await collector.deliver_outbox()
    floor.store.outbox_delivered = real  # type: ignore[method-assign]
    author = floor.fake.comments[ticket_id][0]["author_id"]
    floor.fake.agent_comments(ticket_id, 250, author)
    assert await collector.deliver_outbox() == 1
    assert len(supervisor_comments(floor.fake, ticket_id)) == 1
    pages = [
        p for m, p in floor.fake.requests if m == "GET" and f"/tickets/{ticket_id}/comments" in p
    ]
    assert len(pages) >= 3  # it paged back to find it


async def test_an_agents_concurrent_edit_is_not_overwritten(floor: Floor) -> None:
    adapter = floor.adapter()
    ticket_id, collector = await ack_one_ticket(floor, adapter)
    real = adapter._already_posted
    edits = 0

    async def agent_edits_meanwhile(tid: str, ref: str) -> bool:
        nonlocal edits
        if edits == 0:
            floor.clock.advance(3)
            floor.fake.agent_edit(ticket_id)  # after our read, before our write
            edits += 1
        return await real(tid, ref)

    adapter._already_posted = agent_edits_meanwhile  # type: ignore[method-assign]
    assert await collector.deliver_outbox() == 1
    puts = [
        p
        for m, p in floor.fake.requests
        if m == "PUT" and p.startswith(f"/api/v2/tickets/{ticket_id}.json")
    ]
    assert len(puts) == 2  # refused once (409, stale stamp), then sent on a fresh read
    assert len(supervisor_comments(floor.fake, ticket_id)) == 1


async def test_write_back_off_sends_nothing(floor: Floor) -> None:
    adapter = floor.adapter(write_back=False)
    ticket_id, collector = await ack_one_ticket(floor, adapter)
    sent = len(floor.fake.requests)
    assert await collector.deliver_outbox() == 1
    assert len(floor.fake.requests) == sent
    assert supervisor_comments(floor.fake, ticket_id) == []


async def test_a_deleted_ticket_fails_the_write_back_for_good(floor: Floor) -> None:
    adapter = floor.adapter()
    ticket_id, collector = await ack_one_ticket(floor, adapter)
    floor.fake.delete_ticket(ticket_id)
    assert await collector.deliver_outbox() == 0
    assert floor.store.outbox_pending_count() == 0  # failed, not retried forever


async def test_chats_and_calls_keep_their_waits(floor: Floor) -> None:
    """A chat is answered at the agent's first reply, a call at its wait: the waits the
    board computes SL from are the floor's own, to the second."""
    floor.clock.advance(120)  # everything older than the export's lag
    adapter = floor.adapter()
    await full_sync(floor, adapter)
    truth = {
        p.contact_id: p.wait_s
        for e in floor.fed
        if isinstance(p := e.payload, ContactAnswered | ContactAbandoned)
    }
    kinds = Counter()
    for e in floor.store.read_from(0, 1_000_000):
        p = e.payload
        if not isinstance(p, ContactAnswered | ContactAbandoned):
            continue
        _, kind, number = p.contact_id.split(":")
        n = int(number) - (900_000 if kind == "chat" else 380_000_000_000)
        assert p.wait_s == pytest.approx(truth[f"c{n}"], abs=1.01), p.contact_id
        kinds[(kind, p.KIND)] += 1
    assert kinds[("chat", "contact.answered")] > 20 and kinds[("call", "contact.answered")] > 20
    assert kinds[("chat", "contact.abandoned")] > 0 and kinds[("call", "contact.abandoned")] > 0
    state = floor.state()
    chat = state.queues[f"zendesk:{360_000_000_003}"]
    assert chat.today.handled > 0 and chat.today.handle_s > 0  # AHT from answer to solve
    # calls end through their agent legs: handled and handle time as the floor had them
    for i, queue_id in enumerate(("voice-sales", "voice-support")):
        ended = [
            p
            for e in floor.fed
            if isinstance(p := e.payload, ContactEnded) and p.queue_id == queue_id
        ]
        today = state.queues[f"zendesk:{360_000_000_001 + i}"].today
        assert today.handled == len(ended) > 10
        truth_s = sum(p.talk_s + p.hold_s + p.wrap_s for p in ended)
        assert today.handle_s == pytest.approx(truth_s, abs=2 * len(ended))  # whole seconds


async def test_chats_waiting_are_reported_as_of_the_exports_horizon(floor: Floor) -> None:
    adapter = floor.adapter()
    await full_sync(floor, adapter)
    chat_group = 360_000_000_003
    seen = set()
    for _ in range(80):  # the floor moves on; look at each export's horizon
        floor.advance(15)
        adapter.task("tickets").due_at = 0
        await adapter._poll_tickets(floor.sink)
        horizon = floor.clock() - 60
        as_exported = [
            max(
                (v for v in versions if v["updated_at"] <= iso_at(horizon)),
                key=lambda v: v["generated_timestamp"],
                default=None,
            )
            for versions in floor.fake._versions.values()
        ]
        truth = [
            t
            for t in as_exported
            if t is not None
            and t["group_id"] == chat_group
            and t["created_at"] <= iso_at(horizon)
            and t["assignee_id"] is None
            and t["status"] == "new"
        ]
        chat = floor.state().queues[f"zendesk:{chat_group}"]
        assert chat.reported is not None
        assert horizon - 60 < chat.reported.as_of <= horizon  # unchanged figures: once a minute
        assert chat.reported.waiting == len(truth)
        assert not chat.waiting  # nothing in flight sits in the list: no false long waits
        seen.add(len(truth))
    assert max(seen) >= 2  # the check did meet chats waiting


async def test_view_counts_are_unknown_until_zendesk_has_counted(floor: Floor) -> None:
    adapter = floor.adapter(views={"Open e-mail": 360_000_000_901})
    await full_sync(floor, adapter)
    source = floor.state().sources["zendesk"]
    assert source.views == {"Open e-mail": None}  # the first answer: still counting, not 0
    floor.clock.advance(61)
    adapter.task("views").due_at = 0
    await adapter.poll_due(floor.sink)
    open_mail = sum(
        1
        for t in floor.fake.tickets.values()
        if t["via"]["channel"] == "email" and t["status"] in ("new", "open", "pending", "hold")
    )
    assert floor.state().sources["zendesk"].views == {"Open e-mail": open_mail} != {}
    assert open_mail > 0


async def test_connected_only_once_every_task_has_synced(floor: Floor) -> None:
    """The rules wait for CONNECTED (issue #17): a round that left a task for later (its
    budget, its interval) is still the first sync, so it must not say CONNECTED."""
    adapter = floor.adapter()
    for task in adapter.tasks:
        task.due_at = 0
    late = [t for t in adapter.tasks if t.enabled and not t.first][-1]
    late.due_at = adapter.wall() + 3600  # not run in this round
    await adapter.poll_due(floor.sink)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.POLLING and report.reason == "first sync"
    late.due_at = 0
    await adapter.poll_due(floor.sink)
    assert floor.sink.health_reports[-1].state is HealthState.CONNECTED


async def test_replies_from_the_exports_metric_sets_give_the_board_fcr(floor: Floor) -> None:
    """FCR on the board (issue #18, 6): the export's metric sets say how many replies each
    ticket took and whether it reopened; the board's FCR for an e-mail queue equals the
    simulated floor's own count of the tickets exported solved."""
    from supervisor_tui.core.kpis import queue_kpis

    adapter = floor.adapter()
    await full_sync(floor, adapter)
    state = floor.state()
    exported = floor.store.events_of_kind("ticket.upserted")
    replied = 0
    for event in exported:  # each version's replies are Zendesk's count for that version
        t = event.payload
        assert isinstance(t, TicketUpserted)
        stamp = int(event.key.rsplit(":", 1)[1])
        metric = floor.fake._metric_sets[int(t.ticket_id), stamp]
        assert (t.agent_replies, t.reopened) == (metric["replies"], metric["reopens"] > 0)
        replied += t.agent_replies > 0
    assert replied > 10
    # satisfaction is CSAT (good/bad), never an NPS answer: no survey.answered from it
    rated = [e.payload for e in exported if getattr(e.payload, "satisfaction", None)]
    assert any(t.satisfaction in ("good", "bad") for t in rated)  # type: ignore[attr-defined]
    assert floor.store.events_of_kind("survey.answered") == []
    checked = 0
    for queue in state.queues.values():
        if queue.channel.is_realtime:
            continue
        live = queue_kpis(state, queue, floor.clock())
        counters = queue.today
        assert counters.fcr_solved > 0
        assert live.fcr == counters.fcr_first_contact / counters.fcr_solved
        checked += 1
    assert checked == 2


async def test_an_agents_token_has_no_replies_and_fcr_says_so(tmp_path: Path) -> None:
    """With an agent's token the export is refused and tickets come by search, which carries
    no metric sets: FCR is a limit with its reason (never a 0 %), and the board shows —."""
    from supervisor_tui.fakes.common import Account

    clock = FakeClock(EPOCH)
    fake = FakeZendesk(
        email="bot@example.com", token=TOKEN, clock=clock, account=Account(role="agent")
    )
    await fake.start()
    store = SQLiteStore(tmp_path / "floor.db")
    try:
        sim = FloorSimulation(SimOptions(seed=5, agents=10, speed=None, warmup_s=0), EPOCH)
        f = Floor(fake, sim, clock, store, StoreSink(store, "zendesk", clock))
        f.advance(2 * 3600)
        adapter = f.adapter()
        await full_sync(f, adapter)
        limits = {lim.capability: lim for lim in adapter.sync_limits()}
        assert Capability.REPLIES in limits
        assert "admin" in limits[Capability.REPLIES].fix
    finally:
        store.close()
        await fake.stop()


async def test_a_first_sync_longer_than_the_exports_minute_waits_for_it_never_earning_a_429(
    floor: Floor,
) -> None:
    """A big account's first sync pages the ticket export faster than its 10 a minute. The
    answer that spends the minute says so (``Zendesk-RateLimit-incremental-exports:
    remaining=0; resets=N``): the export waits for the reset, no 429 is earned and the
    source is never shown degraded for it; every ticket comes in."""
    refused: list[str] = []
    limited = floor.fake._budget

    def counting(request: object) -> object:
        answer = limited(request)  # type: ignore[arg-type]
        if answer is not None:
            refused.append(str(getattr(request, "path", "")))
        return answer

    floor.fake._budget = counting  # type: ignore[method-assign,assignment]
    adapter = floor.adapter()
    adapter.export_per_page = max(1, len(floor.fake.tickets) // 25)  # 25 pages and more
    for task in adapter.tasks:
        task.due_at = 0
    truth = exported_truth(floor.fake, 60)
    for _ in range(600):  # ten minutes of the clock at most
        await adapter.poll_due(floor.sink)
        tickets = {
            p.ticket_id: p.status.value
            for p in (e.payload for e in floor.store.read_from(0, 1_000_000))
            if isinstance(p, TicketUpserted)
        }
        if tickets == truth:
            break
        floor.clock.advance(1)
    assert tickets == truth
    assert floor.clock() - EPOCH - SIM_S > 60, "the export was not held to its minute"
    assert refused == []
    degraded = [h for h in floor.sink.health_reports if h.state is HealthState.DEGRADED]
    assert degraded == []


def test_talks_exports_have_limits_of_their_own() -> None:
    """Talk's call and leg exports are limited to 10 a minute each: a 429 there holds back
    that export, not the agents' states and the queues (it held every call for a minute)."""
    from supervisor_tui.adapters.zendesk.adapter import endpoint_family, rate_figures

    calls = endpoint_family("/api/v2/channels/voice/stats/incremental/calls.json")
    legs = endpoint_family("/api/v2/channels/voice/stats/incremental/legs.json")
    assert calls and legs and len({calls, legs, "incremental exports"}) == 3
    assert endpoint_family("/api/v2/channels/voice/stats/agents_activity.json") is None
    spent = rate_figures(
        {"Zendesk-RateLimit-talk-incremental-calls": "total=10; remaining=0; resets=42"}
    )
    assert spent.family_spent and spent.family_reset_s == 42
    left = rate_figures(
        {"Zendesk-RateLimit-incremental-exports": "total=30; remaining=3; resets=9"}
    )
    assert not left.family_spent


async def test_a_floor_of_many_pages_is_read_as_often_as_the_budget_allows(tmp_path: Path) -> None:
    """Agent states of 450 agents are ten pages a run, not one call: the adapter plans its
    minute by what each task's runs cost, so it stays inside its share of the account's
    limit (no 429, no minute over the share) and still reads the floor, less often, and
    says how often."""
    clock = FakeClock(EPOCH)
    fake = FakeZendesk(email="bot@example.com", token=TOKEN, clock=clock, rate_limit=120)
    refused: list[str] = []
    limited = fake._budget

    def counting(request: object) -> object:
        answer = limited(request)  # type: ignore[arg-type]
        if answer is not None:
            refused.append(str(getattr(request, "path", "")))
        return answer

    fake._budget = counting  # type: ignore[method-assign,assignment]
    await fake.start()
    store = SQLiteStore(tmp_path / "floor.db")
    try:
        sim = FloorSimulation(
            SimOptions(seed=9, agents=450, queues=10, speed=None, warmup_s=0), EPOCH
        )
        clock.advance(3600)
        fake.feed(sim.advance(clock() - EPOCH))
        sink = StoreSink(store, "zendesk", clock)
        settings = ZendeskSettings(
            base_url=fake.base_url,
            email=fake.email,
            token=TOKEN,
            backfill_s=2 * 3600,
            rate_limit_per_minute=120,
        )
        adapter = ZendeskAdapter("zendesk", settings, clock=clock)
        steps: list[tuple[float, int]] = []
        for _ in range(int(8 * 60 / 0.5)):  # eight minutes of the clock
            before = len(fake.requests)
            await adapter.poll_due(sink)
            steps.append((clock(), len(fake.requests) - before))
            clock.advance(0.5)
            fake.feed(sim.advance(clock() - EPOCH))
        assert refused == []
        allowed = adapter.budget.allowed_per_minute
        settled = [(t, n) for t, n in steps if t >= steps[0][0] + 180]  # past the first sync
        for i, (start, _) in enumerate(settled):
            window = sum(n for t, n in settled[i:] if t < start + 60)
            assert window <= allowed * 1.2, (start - EPOCH, window, allowed)
        agents = next(t for t in adapter.tasks if t.name == "agents")
        assert agents.calls >= 8  # pages of availabilities and of Talk's agent activity
        assert adapter.stretch(agents) > settings.hot_interval_s
        later = [
            e
            for e in store.read_from(0, 1_000_000)
            if isinstance(e.payload, AgentStateChanged) and e.received_at >= EPOCH + 3600 + 300
        ]
        assert later, "the agents were not read any more"
    finally:
        store.close()
        await fake.stop()


async def test_a_first_sync_pages_the_legs_alongside_the_calls_and_ends_every_call(
    floor: Floor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Talk's call and leg exports have a limit of 10 pages a minute each: the first sync of
    a big floor's morning pages the legs while the calls are still paging (never past the
    calls read), so it takes the longer of the two, not both in turn. Every call still ends
    through its agent legs, with the handle time the floor had: when the calls stop on their
    minute, a page of legs taken is stored before the legs stop, never dropped in between."""
    from supervisor_tui.adapters.zendesk import adapter as adapter_module
    from supervisor_tui.fakes import zendesk as fake_module

    monkeypatch.setattr(adapter_module, "EXPORT_PAGE", 8)
    monkeypatch.setattr(fake_module, "EXPORT_PAGE_MAX", 8)
    stored = floor.sink.emit

    async def emit(events: Sequence[NewEvent], cursor: str | None = None) -> None:
        await asyncio.sleep(0.01)  # as the collector's writer: the page waits its turn
        await stored(events, cursor)

    floor.sink.emit = emit  # type: ignore[method-assign]
    floor.clock.advance(120)  # everything older than the export's lag
    adapter = floor.adapter()
    for task in adapter.tasks:
        task.due_at = 0
    truth = {
        q: [p for e in floor.fed if isinstance(p := e.payload, ContactEnded) and p.queue_id == q]
        for q in ("voice-sales", "voice-support")
    }
    for _ in range(900):  # fifteen minutes of the clock at most
        await adapter.poll_due(floor.sink)
        today = [floor.state().queues[f"zendesk:{360_000_000_001 + i}"].today for i in (0, 1)]
        if [t.handled for t in today] == [len(truth[q]) for q in truth]:
            break
        floor.clock.advance(1)
    for t, ended in zip(today, truth.values(), strict=True):
        assert t.handled == len(ended) > 10
        truth_s = sum(p.talk_s + p.hold_s + p.wrap_s for p in ended)
        assert t.handle_s == pytest.approx(truth_s, abs=2 * len(ended))
    talk = [p for _, p in floor.fake.requests if "/voice/stats/incremental/" in p]
    calls = [i for i, p in enumerate(talk) if "/incremental/calls" in p]
    legs = [i for i, p in enumerate(talk) if "/incremental/legs" in p]
    assert len(calls) > 3 and len(legs) > 3
    assert legs[0] < calls[-1], "the legs waited for the last page of calls"
    assert not adapter._early_legs  # every leg found its call
