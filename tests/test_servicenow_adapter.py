"""The ServiceNow adapter against the fake ServiceNow, over real HTTP on loopback."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from supervisor_tui.adapters.servicenow import parse
from supervisor_tui.adapters.servicenow.adapter import (
    NO_AWA,
    ServiceNowAdapter,
    ServiceNowSettings,
)
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.fakes.servicenow import FakeServiceNow
from supervisor_tui.hub.collector import Collector
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    Capability,
    EscalationRaised,
    HealthState,
    NewEvent,
    QueueStats,
    Severity,
    SlaChanged,
    SlaState,
    TicketStatus,
    TicketUpserted,
)
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, FakeClock, rules, targets
from .helpers import StoreSink
from .test_freshdesk_adapter import newest

USER, PASSWORD = "integration", "servicenow-test-password"
STATUS = {"1": "new", "2": "open", "3": "hold", "6": "solved", "7": "closed", "8": "closed"}


@dataclass
class Floor:
    fake: FakeServiceNow
    sim: FloorSimulation
    clock: FakeClock
    store: SQLiteStore
    sink: StoreSink
    fed: list[NewEvent] = field(default_factory=list)

    def adapter(self, **over: object) -> ServiceNowAdapter:
        settings = ServiceNowSettings(
            base_url=self.fake.base_url,
            username=USER,
            password=PASSWORD,
            write_back=True,
            backfill_s=2 * 86400,
        )
        return ServiceNowAdapter("servicenow", replace(settings, **over), clock=self.clock)  # type: ignore[arg-type]

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        events = list(self.sim.advance(self.clock() - EPOCH))
        self.fed.extend(events)
        self.fake.feed(events)

    def state(self) -> FloorState:
        state = FloorState(targets())
        state.apply_all(self.store.read_from(0, 1_000_000))
        return state


async def make_floor(tmp_path: Path, **fake_options: object) -> AsyncIterator[Floor]:
    clock = FakeClock(EPOCH)
    fake = FakeServiceNow(username=USER, password=PASSWORD, clock=clock, **fake_options)  # type: ignore[arg-type]
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=6, agents=30, speed=None, warmup_s=0), EPOCH)
    store = SQLiteStore(tmp_path / "floor.db")
    f = Floor(fake, sim, clock, store, StoreSink(store, "servicenow", clock))
    f.advance(3 * 3600)
    yield f
    store.close()
    await fake.stop()


@pytest.fixture
async def floor(tmp_path: Path) -> AsyncIterator[Floor]:
    async for f in make_floor(tmp_path):
        yield f


@pytest.fixture
async def bare_floor(tmp_path: Path) -> AsyncIterator[Floor]:
    """An instance without Advanced Work Assignment."""
    async for f in make_floor(tmp_path, awa=False):
        yield f


def due_now(floor: Floor, adapter: ServiceNowAdapter) -> None:
    for task in adapter.tasks:
        task.due_at = min(task.due_at, floor.clock())


async def sync(floor: Floor, adapter: ServiceNowAdapter) -> None:
    """Every task until each change stream is read to its end, minute by minute if need be."""
    for task in adapter.tasks:
        task.due_at = 0
    for _ in range(30):
        await adapter.poll_due(floor.sink)
        streams_done = all(not adapter._cursor[w.key]["after"] for w in adapter.walks)
        if streams_done and all(t.failures == 0 for t in adapter.tasks):
            return
        floor.clock.advance(61)
        due_now(floor, adapter)
    raise AssertionError("the change streams never ended")


def latest(store: SQLiteStore, kind: type, key: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for e in store.events_of_kind(kind.KIND):  # type: ignore[attr-defined]
        out[getattr(e.payload, key)] = e.payload
    return out


def stored_versions(store: SQLiteStore) -> list[tuple[str, float]]:
    return [
        (e.payload.ticket_id, e.payload.updated_at)
        for e in store.events_of_kind("ticket.upserted")
        if isinstance(e.payload, TicketUpserted)
    ]


async def test_full_sync_equals_the_instance(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    got = newest(floor.store)
    live = floor.fake.incidents
    assert live and set(got) == set(live)
    for number, row in live.items():
        p = got[number]
        assert p.status.value == STATUS[row["state"]], number
        assert p.updated_at == parse.sn_time(row["sys_updated_on"])
        assert p.escalated is (row["escalation"] != "0")
        want_agent = f"servicenow:{row['assigned_to']}" if row["assigned_to"] else None
        assert p.assignee_id == want_agent
    assert sum(adapter.report.tickets.values()) == sum(
        r["state"] in ("1", "2", "3") for r in live.values()
    )
    state = floor.state()
    assert adapter.report.queues == 5 and len(state.queues) == 5
    assert adapter.report.agents == 30 and len(state.agents) == 30
    assert all(a.queue_ids for a in state.agents.values())
    assert floor.sink.health_reports[-1].state is HealthState.CONNECTED


async def test_sla_states_follow_the_task_slas(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    clocks: dict[tuple[str, str], SlaChanged] = {}
    for e in floor.store.events_of_kind("sla.changed"):
        assert isinstance(e.payload, SlaChanged)
        clocks[(e.payload.ticket_id, e.payload.metric)] = e.payload
    rows = list(floor.fake.tables["task_sla"].values())
    assert rows and len(clocks) == len(rows)
    numbers = {r["sys_id"]: r["number"] for r in floor.fake.tables["incident"].values()}
    definitions = floor.fake.tables["contract_sla"]
    for row in rows:
        got = clocks[(numbers[row["task"]], "first_reply_time")]
        want = {
            ("in_progress", "true"): SlaState.BREACHED,
            ("in_progress", "false"): SlaState.ACTIVE,
            ("paused", "false"): SlaState.PAUSED,
            ("completed", "false"): SlaState.FULFILLED,
        }[(row["stage"], row["has_breached"])]
        assert got.state is want
        assert got.due_at == parse.sn_time(row["planned_end_time"])
        assert got.target_s == parse.sn_time(definitions[row["sla"]]["duration"])
        assert got.policy == definitions[row["sla"]]["name"]
    assert adapter.report.sla_policies == len(definitions)


async def test_awa_presence_reaches_the_agents(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    assert adapter.awa is True
    names = {s: r["name"] for s, r in floor.fake.tables["awa_presence_state"].items()}
    truth = {
        f"servicenow:{r['agent']}": names[r["current_presence_state"]]
        for r in floor.fake.tables["awa_agent_presence"].values()
    }
    assert truth
    got = latest(floor.store, AgentStateChanged, "agent_id")
    for agent_id, name in truth.items():
        p = got[agent_id]
        assert isinstance(p, AgentStateChanged)
        assert p.state is parse.presence(name) and p.raw_state == name
    seen = {p.state for p in got.values() if isinstance(p, AgentStateChanged)}
    assert seen & {AgentState.AVAILABLE, AgentState.OFFLINE}


async def test_without_awa_agents_are_shown_by_their_open_work(bare_floor: Floor) -> None:
    floor = bare_floor
    adapter = floor.adapter()
    await sync(floor, adapter)
    assert adapter.awa is False
    held: dict[str, int] = {}
    for row in floor.fake.incidents.values():
        if row["state"] in ("1", "2", "3") and row["assigned_to"]:
            held[row["assigned_to"]] = held.get(row["assigned_to"], 0) + 1
    assert held
    got = latest(floor.store, AgentStateChanged, "agent_id")
    assert len(got) == 30
    for agent_id, p in got.items():
        assert isinstance(p, AgentStateChanged)
        count = held.get(agent_id.split(":", 1)[1], 0)
        assert p.state is AgentState.UNKNOWN and p.raw_state == NO_AWA
        assert p.work == f"{count} open incident{'s' if count != 1 else ''}"
    state = floor.state()
    assert not any(a.state is AgentState.AVAILABLE for a in state.agents.values())


async def test_queue_stats_are_the_open_unassigned_incidents(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    now = floor.clock()
    waiting: dict[str, list[float]] = {}
    for row in floor.fake.incidents.values():
        if row["state"] in ("1", "2", "3") and not row["assigned_to"] and row["assignment_group"]:
            waiting.setdefault(row["assignment_group"], []).append(parse.sn_time(row["opened_at"]))
    got = latest(floor.store, QueueStats, "queue_id")
    assert len(got) == 5 and any(waiting.values())
    for qid, stats in got.items():
        assert isinstance(stats, QueueStats)
        opened = waiting.get(qid.split(":", 1)[1], [])
        assert stats.waiting == len(opened)
        assert stats.longest_wait_s == (pytest.approx(now - min(opened)) if opened else 0.0)


async def test_pagination_ends_and_ties_in_one_second_lose_nothing(floor: Floor) -> None:
    numbers = sorted(floor.fake.incidents)[:23]
    for number in numbers:  # 23 incidents saved in the same second, more than a page
        floor.fake.touch(number, at=EPOCH + 3 * 3600 - 30)
    adapter = floor.adapter(page_size=5)
    await sync(floor, adapter)
    got = newest(floor.store)
    assert set(got) == set(floor.fake.incidents)
    for number in numbers:
        assert got[number].updated_at == EPOCH + 3 * 3600 - 30
    queries = [q for m, q in floor.fake.requests if "/table/incident?" in q]
    assert any("sys_updated_on%3D" in q and "sys_id%3E" in q for q in queries)  # tie reading
    versions = stored_versions(floor.store)
    assert len(versions) == len(set(versions))


async def test_records_saved_or_deleted_while_paging_are_not_skipped(floor: Floor) -> None:
    """Ordered by sys_updated_on, a record saved behind the page being read moves to the end,
    and one deleted leaves the list: an offset reader would skip the record that crossed
    the page boundary. Reading by key skips none."""
    floor.clock.advance(120)
    adapter = floor.adapter(page_size=5)
    real_emit = floor.sink.emit
    emitted = 0
    touched: list[str] = []
    deleted: list[str] = []

    async def emit_and_move(events: Sequence[NewEvent], cursor: str | None = None) -> None:
        nonlocal emitted
        await real_emit(events, cursor)
        emitted += 1
        read = [e.payload.ticket_id for e in events if isinstance(e.payload, TicketUpserted)]
        if not read or emitted > 20:
            return
        floor.clock.advance(1)
        if emitted % 2:
            floor.fake.touch(read[0])  # an agent saves one we have read: it moves to the end
            touched.append(read[0])
        elif read[-1] in floor.fake.incidents:
            floor.fake.delete_incident(read[-1])  # one we have read leaves the list
            deleted.append(read[-1])

    floor.sink.emit = emit_and_move  # type: ignore[method-assign]
    for _ in range(20):
        await adapter._poll_tickets(floor.sink)
        if not adapter._cursor["t:incident"]["after"]:
            break
    assert touched and deleted
    got = newest(floor.store)
    for number, row in floor.fake.incidents.items():  # every record, at its latest version
        assert got[number].updated_at == parse.sn_time(row["sys_updated_on"]), number
    assert not any("sysparm_offset" in q for _, q in floor.fake.requests)
    versions = stored_versions(floor.store)
    assert len(versions) == len(set(versions))


class Crash(Exception):
    pass


@dataclass
class CrashingSink:
    """Stores the first ``pages`` emits, then the process dies."""

    inner: StoreSink
    pages: int

    async def emit(self, events: Sequence[NewEvent], cursor: str | None = None) -> None:
        if self.pages <= 0:
            raise Crash
        self.pages -= 1
        await self.inner.emit(events, cursor)

    async def health(self, *args: object, **kwargs: object) -> None:
        await self.inner.health(*args, **kwargs)  # type: ignore[arg-type]

    async def quarantine(self, kind: str, raw: str, reason: str) -> None:
        await self.inner.quarantine(kind, raw, reason)


async def test_resume_after_a_crash_mid_pagination_is_a_clean_run(
    floor: Floor, tmp_path: Path
) -> None:
    first = floor.adapter(page_size=7)
    first.tasks = [first.task("tickets")]
    with pytest.raises(Crash):
        await first.poll_due(CrashingSink(floor.sink, pages=4))
    cursor = floor.store.get_cursor("servicenow")
    assert cursor is not None and json.loads(cursor)["t:incident"]["after"]  # mid-pagination
    floor.fake.touch(sorted(floor.fake.incidents)[0])  # saved while we were down
    second = floor.adapter(page_size=7)
    second.load_cursor(cursor)
    second.tasks = [second.task("tickets")]
    for _ in range(5):
        await second.poll_due(floor.sink)
        if not second._cursor["t:incident"]["after"]:
            break
        floor.clock.advance(61)
        second.task("tickets").due_at = 0
    # a clean run over the same instance, into its own store
    clean_store = SQLiteStore(tmp_path / "clean.db")
    clean = floor.adapter(page_size=7)
    await clean._poll_tickets(StoreSink(clean_store, "servicenow", floor.clock))
    resumed = newest(floor.store)
    assert resumed == newest(clean_store)  # no gap: every incident at its latest version
    versions = stored_versions(floor.store)
    assert len(versions) == len(set(versions))  # no duplicate
    clean_store.close()


async def test_429_waits_for_retry_after(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    floor.fake.inject("/api/now/table/incident", "429", retry_after=12)
    floor.advance(30)
    adapter.task("tickets").due_at = 0
    await adapter.poll_due(floor.sink)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.DEGRADED and "429, retry in 12 s" in report.reason
    sent = len(floor.fake.requests)
    floor.clock.advance(6)
    due_now(floor, adapter)
    await adapter.poll_due(floor.sink)
    assert len(floor.fake.requests) == sent  # nothing before Retry-After
    floor.clock.advance(7)
    due_now(floor, adapter)
    await adapter.poll_due(floor.sink)
    assert len(floor.fake.requests) > sent


async def test_a_rate_limit_rule_is_read_per_hour(tmp_path: Path) -> None:
    async for floor in make_floor(tmp_path, rate_limit_per_hour=600):
        adapter = floor.adapter(rate_limit_per_minute=120, budget_share=1.0)
        await adapter.poll_due(floor.sink)
        assert adapter.budget.server_limit == 10  # 600 an hour: 10 a minute
        assert adapter.budget.allowed_per_minute == 10
        assert adapter.budget.server_reset_s is not None
        assert 0 < adapter.budget.server_reset_s <= 3600


async def test_wrong_password_is_down_and_stores_nothing(floor: Floor) -> None:
    adapter = floor.adapter(password="wrong-password-7788")
    await adapter.poll_due(floor.sink)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.DOWN and "(401)" in report.reason
    assert floor.store.events_of_kind("ticket.upserted") == []
    assert floor.store.events_of_kind("agent.upserted") == []
    text = json.dumps([e.payload.model_dump() for e in floor.store.read_from(0)])
    assert "wrong-password-7788" not in text and PASSWORD not in text
    assert "wrong-password-7788" not in repr(adapter.settings)


async def test_bearer_token(tmp_path: Path) -> None:
    async for floor in make_floor(tmp_path, token="oauth-token-5566"):
        adapter = floor.adapter(username=None, password=None, oauth_token="oauth-token-5566")
        await sync(floor, adapter)
        assert set(newest(floor.store)) == set(floor.fake.incidents)
        assert "oauth-token-5566" not in repr(adapter.settings)


@pytest.mark.parametrize("fault", ["500", "503", "malformed", "truncated", "wrong_shape"])
async def test_a_bad_answer_is_retried_and_nothing_is_lost(floor: Floor, fault: str) -> None:
    adapter = floor.adapter()
    floor.fake.inject("/api/now/table/incident", fault)
    await sync(floor, adapter)
    if fault in ("malformed", "truncated", "wrong_shape"):
        (q, *_) = floor.store.quarantined()
        assert q.kind == "servicenow.tickets"
        if fault == "wrong_shape":
            assert "maximum execution time exceeded" in q.reason
    assert set(newest(floor.store)) == set(floor.fake.incidents)  # nothing lost


async def test_a_hibernating_instance_is_said_plainly_and_read_when_awake(floor: Floor) -> None:
    adapter = floor.adapter()
    floor.fake.hibernate()
    for task in adapter.tasks:
        task.due_at = 0
    await adapter.poll_due(floor.sink)
    reasons = [q.reason for q in floor.store.quarantined()]
    assert reasons and all("hibernating" in r for r in reasons)
    assert floor.store.events_of_kind("ticket.upserted") == []
    floor.fake.hibernate(False)
    floor.clock.advance(400)
    await sync(floor, adapter)
    assert set(newest(floor.store)) == set(floor.fake.incidents)


async def test_deleted_incidents_leave_the_floor(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    victim = next(n for n, r in floor.fake.incidents.items() if r["state"] == "2")
    floor.fake.delete_incident(victim)
    fresh = floor.adapter()  # also after a restart (the number from the audit's payload)
    fresh.load_cursor(floor.store.get_cursor("servicenow"))
    fresh.task("deleted").due_at = 0
    await fresh.poll_due(floor.sink)
    assert fresh.report.deleted == {victim}
    assert victim not in floor.state().tickets


async def ack(floor: Floor, adapter: ServiceNowAdapter) -> tuple[str, Collector]:
    await sync(floor, adapter)
    ticket = next(t for t in floor.state().tickets.values() if t.status.is_open)
    raised = EscalationRaised(
        escalation_id="esc-9",
        rule_id="complaint",
        subject=f"ticket:{ticket.ticket_id}",
        ticket_source="servicenow",
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
    return ticket.ticket_id, Collector(floor.store, [adapter], rules(), targets(), floor.clock)


def notes_on(fake: FakeServiceNow, number: str) -> list[dict[str, str]]:
    sys_id = fake.incidents[number]["sys_id"]
    return [n for n in fake.work_notes if n["element_id"] == sys_id]


async def test_ack_is_one_work_note(floor: Floor) -> None:
    adapter = floor.adapter()
    number, collector = await ack(floor, adapter)
    assert await collector.deliver_outbox() == 1
    (note,) = notes_on(floor.fake, number)
    assert note["element"] == "work_notes" and note["name"] == "incident"
    assert floor.fake.number_of(note["element_id"]) == number
    assert "Called back <b>now</b>" in note["value"] and "[supervisor-tui ack" in note["value"]
    assert floor.fake.incidents[number]["comments"] == ""  # nothing the caller can see


@pytest.mark.parametrize("journal", ["readable", "forbidden"])
async def test_a_retry_after_a_lost_answer_does_not_post_twice(floor: Floor, journal: str) -> None:
    if journal == "forbidden":  # found in the record's work notes as displayed instead
        floor.fake.forbidden.add("sys_journal_field")
    adapter = floor.adapter()
    number, collector = await ack(floor, adapter)
    sys_id = floor.fake.incidents[number]["sys_id"]
    real = adapter._noted
    calls = 0

    async def then_lose_the_answer(table: str, record: str, reference: str) -> bool:
        nonlocal calls
        calls += 1
        found = await real(table, record, reference)
        if calls == 1:  # the PATCH is stored, its answer cut short
            floor.fake.inject(f"/api/now/table/incident/{sys_id}", "truncated")
        return found

    adapter._noted = then_lose_the_answer  # type: ignore[method-assign]
    assert await collector.deliver_outbox() == 0
    assert len(notes_on(floor.fake, number)) == 1
    floor.clock.advance(120)
    assert await collector.deliver_outbox() == 1
    assert len(notes_on(floor.fake, number)) == 1
    displayed = [q for _, q in floor.fake.requests if "sysparm_display_value=true" in q]
    assert bool(displayed) is (journal == "forbidden")


async def test_write_back_off_posts_nothing(floor: Floor) -> None:
    adapter = floor.adapter(write_back=False)
    _, collector = await ack(floor, adapter)
    before = len(floor.fake.requests)
    assert await collector.deliver_outbox() == 1
    assert floor.fake.work_notes == [] and len(floor.fake.requests) == before


async def test_what_an_acl_hides_is_said_not_guessed(floor: Floor) -> None:
    floor.fake.forbidden |= {"sys_audit_delete", "contract_sla"}
    adapter = floor.adapter()
    await sync(floor, adapter)
    assert adapter.report.deleted is None  # deletions cannot be seen, not "none"
    assert not adapter.task("deleted").enabled
    assert floor.sink.health_reports[-1].state is HealthState.CONNECTED  # not a dead source
    clocks = [e.payload for e in floor.store.events_of_kind("sla.changed")]
    assert clocks and all(isinstance(p, SlaChanged) and p.policy == "" for p in clocks)
    rows = {r["task"]: r for r in floor.fake.tables["task_sla"].values()}
    numbers = {r["number"]: r["sys_id"] for r in floor.fake.tables["incident"].values()}
    for p in clocks:
        assert isinstance(p, SlaChanged)
        row = rows[numbers[p.ticket_id]]
        span = parse.sn_time(row["planned_end_time"]) - parse.sn_time(row["start_time"])
        assert p.target_s == span  # from the task SLA itself


async def test_presence_none_never_reads_awa(floor: Floor) -> None:
    adapter = floor.adapter(presence="none")
    await sync(floor, adapter)
    assert not any("/awa_" in q for _, q in floor.fake.requests)
    got = latest(floor.store, AgentStateChanged, "agent_id")
    assert len(got) == 30
    assert all(
        isinstance(p, AgentStateChanged) and p.state is AgentState.UNKNOWN for p in got.values()
    )


async def test_presence_awa_on_an_instance_without_it_says_so(bare_floor: Floor) -> None:
    adapter = bare_floor.adapter(presence="awa")
    for task in adapter.tasks:
        task.due_at = 0
    await adapter.poll_due(bare_floor.sink)
    report = bare_floor.sink.health_reports[-1]
    assert (
        report.state is HealthState.DEGRADED and "Invalid table awa_presence_state" in report.reason
    )
    assert bare_floor.store.events_of_kind("agent.state") == []  # no state is made up
    assert set(newest(bare_floor.store)) == set(bare_floor.fake.incidents)  # the rest still flows


# -- real accounts (issue #16): ACLs, plugins and states a site adds ---------------------------


def incident_order(fake: FakeServiceNow) -> list[dict[str, str]]:
    """The incidents in the order a change stream reads them."""
    return sorted(fake.incidents.values(), key=lambda r: (r["sys_updated_on"], r["sys_id"]))


async def test_acl_hidden_rows_end_the_pass_in_a_bounded_number_of_requests(floor: Floor) -> None:
    """Rows a row-level ACL hides still count in X-Total-Count and Link: the pass ends when a
    page brings nothing new, every visible row read once, in about one request a page."""
    rows = incident_order(floor.fake)
    hidden = {r["sys_id"] for r in rows[::3]}  # scattered: pages come back short
    hidden |= {r["sys_id"] for r in rows[10:18]}  # and more than a page in a row: one empty
    floor.fake.hidden |= hidden
    visible = {r["number"] for r in rows if r["sys_id"] not in hidden}
    page = 5
    adapter = floor.adapter(page_size=page)
    before = len(floor.fake.requests)
    for _ in range(5):
        await adapter._poll_tickets(floor.sink)
        if not adapter._cursor["t:incident"]["after"]:
            break
    sent = [q for _, q in floor.fake.requests[before:] if "/table/incident?" in q]
    assert not adapter._cursor["t:incident"]["after"]  # the pass is over
    # Each page reads a new visible row, or steps past a page the ACL emptied, or ends the
    # pass (a page re-reads the last row read: the instance pages on one key, the second)
    assert len(sent) <= len(visible) + math.ceil(len(rows) / page) + 3
    read = [e.payload.ticket_id for e in ticket_events(floor.store)]
    assert sorted(read) == sorted(visible)  # each visible row exactly once, none hidden
    await adapter._poll_directory(floor.sink)
    before = len(floor.fake.requests)
    await adapter._poll_workload(floor.sink)
    open_rows = [r for r in rows if r["state"] in ("1", "2", "3") and r["sys_id"] not in hidden]
    sent = [q for _, q in floor.fake.requests[before:] if "/table/incident?" in q]
    assert len(sent) <= math.ceil(len(rows) / page) + 2  # by sys_id: a page a page
    got = latest(floor.store, QueueStats, "queue_id")
    waiting = sum(1 for r in open_rows if not r["assigned_to"] and r["assignment_group"])
    assert sum(s.waiting for s in got.values() if isinstance(s, QueueStats)) == waiting


def ticket_events(store: SQLiteStore) -> list[NewEvent]:
    return [e for e in store.events_of_kind("ticket.upserted")]


@pytest.mark.parametrize("hidden", ["every row", "some agents"])
async def test_presence_an_acl_hides_is_no_status_never_offline(floor: Floor, hidden: str) -> None:
    """awa_agent_presence answers 200 [] (or leaves agents out) under an ACL: those agents
    show "no status" with their open work; only an explicit Offline row says Offline."""
    presence = floor.fake.tables["awa_agent_presence"]
    if hidden == "every row":
        floor.fake.hidden_tables.add("awa_agent_presence")
        shown: dict[str, dict[str, str]] = {}
    else:
        rows = sorted(presence.values(), key=lambda r: r["sys_id"])
        floor.fake.hidden |= {r["sys_id"] for r in rows[::2]}
        shown = {f"servicenow:{r['agent']}": r for r in rows[1::2]}
    adapter = floor.adapter()
    await sync(floor, adapter)
    names = {s: r["name"] for s, r in floor.fake.tables["awa_presence_state"].items()}
    held: dict[str, int] = {}
    for row in floor.fake.incidents.values():
        if row["state"] in ("1", "2", "3") and row["assigned_to"]:
            held[row["assigned_to"]] = held.get(row["assigned_to"], 0) + 1
    got = latest(floor.store, AgentStateChanged, "agent_id")
    assert len(got) == 30
    unknown = 0
    for agent_id, p in got.items():
        assert isinstance(p, AgentStateChanged)
        row = shown.get(agent_id)
        if row is None:
            count = held.get(agent_id.split(":", 1)[1], 0)
            assert p.state is AgentState.UNKNOWN, agent_id
            assert p.work == f"{count} open incident{'s' if count != 1 else ''}"
            unknown += 1
        else:
            assert p.state is parse.presence(names[row["current_presence_state"]])
    assert unknown >= 15
    state = floor.state()
    offline = {a for a, s in state.agents.items() if s.state is AgentState.OFFLINE}
    said_offline = {a for a, r in shown.items() if names[r["current_presence_state"]] == "Offline"}
    assert offline == said_offline


def test_a_presence_row_without_a_state_is_no_status() -> None:
    assert parse.presence("") is AgentState.UNKNOWN
    assert parse.presence("Offline") is AgentState.OFFLINE


async def test_site_and_legacy_states_are_read_by_active_with_the_site_s_label(
    bare_floor: Floor,
) -> None:
    """Incident states a site adds (or legacy 4, 5, -6) are open or closed by ``active``
    and show the site's own word; none is quarantined or missing from open work."""
    floor = bare_floor
    candidates = sorted(
        (r for r in floor.fake.incidents.values() if r["state"] in ("1", "2", "3")),
        key=lambda r: r["number"],
    )
    assert len(candidates) >= 5
    a, b, c, d, e = (r["number"] for r in candidates[:5])
    floor.fake.site_state(a, "5", "Awaiting Evidence", active=True)
    floor.fake.site_state(b, "-6", "Awaiting Change", active=True)
    floor.fake.site_state(c, "4", "Closed by Caller", active=False)
    floor.fake.incidents[d].update(state="9", active="true")  # a value without a label
    floor.fake.touch(d)
    adapter = floor.adapter()
    await sync(floor, adapter)
    assert floor.store.quarantined() == []
    got = newest(floor.store)
    assert set(got) == set(floor.fake.incidents)
    assert (got[a].status, got[a].raw_status) == (TicketStatus.OPEN, "Awaiting Evidence")
    assert (got[b].status, got[b].raw_status) == (TicketStatus.OPEN, "Awaiting Change")
    assert not got[c].status.is_open and got[c].raw_status == "Closed by Caller"
    assert (got[d].status, got[d].raw_status) == (TicketStatus.OPEN, "state 9")
    labels = {"1": "New", "2": "In Progress", "3": "On Hold"}
    assert got[e].raw_status == labels[floor.fake.incidents[e]["state"]]
    assert adapter.report.tickets[a] and adapter.report.tickets[b] and not adapter.report.tickets[c]
    held: dict[str, int] = {}  # open work: active and not resolved, closed or canceled
    for row in floor.fake.incidents.values():
        if row["active"] == "true" and row["state"] not in ("6", "7", "8") and row["assigned_to"]:
            held[row["assigned_to"]] = held.get(row["assigned_to"], 0) + 1
    states = latest(floor.store, AgentStateChanged, "agent_id")
    for agent_id, p in states.items():
        assert isinstance(p, AgentStateChanged)
        count = held.get(agent_id.split(":", 1)[1], 0)
        assert p.work == f"{count} open incident{'s' if count != 1 else ''}", agent_id
    stats = latest(floor.store, QueueStats, "queue_id")
    waiting = [
        r
        for r in floor.fake.incidents.values()
        if r["active"] == "true"
        and r["state"] not in ("6", "7", "8")
        and not r["assigned_to"]
        and r["assignment_group"]
    ]
    assert sum(s.waiting for s in stats.values() if isinstance(s, QueueStats)) == len(waiting)


@pytest.mark.parametrize("table", ["contract_sla", "task_sla", "sys_audit_delete"])
async def test_a_table_absent_without_its_plugin_turns_off_one_figure(
    floor: Floor, table: str
) -> None:
    """400 Invalid table (no SLA plugin, no audit table) costs that figure, not the source."""
    floor.fake.absent.add(table)
    adapter = floor.adapter()
    await sync(floor, adapter)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.CONNECTED
    assert set(newest(floor.store)) == set(floor.fake.incidents)
    assert adapter.report.queues == 5 and adapter.report.agents == 30
    clocks = [e.payload for e in floor.store.events_of_kind("sla.changed")]
    if table == "contract_sla":  # targets from the task SLAs: breach time - start
        assert clocks and all(isinstance(p, SlaChanged) and p.policy == "" for p in clocks)
        off = Capability.SLA_POLICIES
    elif table == "task_sla":
        assert clocks == [] and not adapter.task("slas").enabled
        off = Capability.SLA_CLOCKS
    else:
        assert adapter.report.deleted is None and not adapter.task("deleted").enabled
        off = Capability.DELETIONS
    assert list(adapter.limits) == [off]  # that figure only
    (limit,) = report.limits  # said with the health: connected, one capability off
    assert limit.capability is off and f"Invalid table {table}" in limit.reason and limit.fix
