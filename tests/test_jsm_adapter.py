"""The Jira Service Management adapter against the fake JSM, over real HTTP on loopback.

The fake is fed a seeded simulated floor; the adapter must bring it into a real SQLite store:
every request in its newest state, queue counts, SLA cycles, agents known only by their
work; and survive paging, a crash mid-pagination, 429s, 5xx, bad bodies and a wrong token,
and write acks back once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from supervisor_tui.adapters.jsm import parse
from supervisor_tui.adapters.jsm.adapter import NO_PRESENCE, JsmAdapter, JsmSettings
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.config import ConfigError, parse_config
from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.fakes.jsm import FakeJsm
from supervisor_tui.hub.collector import Collector
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    Capability,
    EscalationRaised,
    HealthState,
    NewEvent,
    Priority,
    QueueStats,
    Severity,
    SlaChanged,
    TicketStatus,
    TicketUpserted,
)
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, FakeClock, rules, targets
from .helpers import StoreSink
from .test_freshdesk_adapter import newest

EMAIL, TOKEN = "bot@example.com", "jsm-test-token-not-a-secret"
STATUS = {  # the fake's workflow status → what the board must show
    "Waiting for customer": "pending",
    "Pending": "hold",
    "In Progress": "open",
    "Resolved": "solved",
    "Closed": "closed",
}


@dataclass
class Floor:
    fake: FakeJsm
    sim: FloorSimulation
    clock: FakeClock
    store: SQLiteStore
    sink: StoreSink
    fed: list[NewEvent] = field(default_factory=list)

    def adapter(self, **over: object) -> JsmAdapter:
        settings = JsmSettings(
            base_url=self.fake.base_url,
            email=EMAIL,
            token=TOKEN,
            write_back=True,
            rate_limit_per_minute=2000,
            backfill_s=2 * 86400,
        )
        adapter = JsmAdapter("jsm", replace(settings, **over), clock=self.clock)  # type: ignore[arg-type]
        adapter.sla_per_round = 10_000  # one round reads every SLA: states as of one instant
        return adapter

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
    fake = FakeJsm(email=EMAIL, token=TOKEN, clock=clock, rate_limit=5000)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=8, agents=30, speed=None, warmup_s=0), EPOCH)
    store = SQLiteStore(tmp_path / "floor.db")
    f = Floor(fake, sim, clock, store, StoreSink(store, "jsm", clock))
    f.advance(3 * 3600)
    yield f
    store.close()
    await fake.stop()


def done(adapter: JsmAdapter) -> bool:
    return adapter._cursor["token"] is None and not adapter._cursor["sla"]


async def sync(floor: Floor, adapter: JsmAdapter) -> None:
    """Every task until the search is read to its end and every SLA is read."""
    for task in adapter.tasks:
        task.due_at = 0
    for _ in range(30):
        await adapter.poll_due(floor.sink)
        if done(adapter) and all(t.failures == 0 for t in adapter.tasks):
            return
        floor.clock.advance(61)
        for task in adapter.tasks:
            task.due_at = min(task.due_at, floor.clock())
    raise AssertionError("the search never ended")


def versions(store: SQLiteStore) -> list[tuple[str, float, str | None]]:
    out = []
    for e in store.events_of_kind("ticket.upserted"):
        assert isinstance(e.payload, TicketUpserted)
        out.append((e.payload.ticket_id, e.payload.updated_at, e.payload.queue_id))
    return out


def slas(store: SQLiteStore) -> dict[tuple[str, str], SlaChanged]:
    out = {}
    for e in store.events_of_kind("sla.changed"):
        assert isinstance(e.payload, SlaChanged)
        out[(e.payload.ticket_id, e.payload.policy)] = e.payload
    return out


def search_calls(fake: FakeJsm) -> list[str]:
    return [p for _, p in fake.requests if p.startswith("/rest/api/3/search/jql")]


async def test_full_sync_equals_the_fakes_truth(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    got = newest(floor.store)
    truth = floor.fake.issues
    assert len(truth) > 80 and set(got) == set(truth)
    for key, issue in truth.items():
        fields = issue["fields"]
        status = fields["status"]["name"]
        want = STATUS.get(status) or ("new" if fields["assignee"] is None else "open")
        assert got[key].status.value == want, key
        assert got[key].raw_status == status
        assert got[key].tags == tuple(fields["labels"])
    open_truth = sum(1 for i in truth.values() if i["fields"]["resolutiondate"] is None)
    assert sum(adapter.report.tickets.values()) == open_truth
    # queues: every JSM queue, its count as the fake counts it, requests placed in them
    state = floor.state()
    counts = {state.queues[q].name: q_stats.waiting for q, q_stats in _stats(floor).items()}
    assert counts == floor.fake.queue_counts() and adapter.report.queues == 6
    placed = Counter(t.queue_id for t in got.values() if t.status.is_open)
    assert placed[None] == 0  # every open request sits in a queue
    # SLA cycles: each request's two SLAs in the fake's state
    clocks = slas(floor.store)
    for key in truth:
        for name, want_state in floor.fake.sla_truth(key).items():
            assert clocks[(key, name)].state.value == want_state, (key, name)
    assert {c.metric for c in clocks.values()} == {"first_reply_time", "resolution_time"}
    assert Counter(c.state.value for c in clocks.values())["paused"] > 0
    assert floor.sink.health_reports[-1].state is HealthState.CONNECTED


async def test_requests_sit_in_their_own_queue_when_the_catch_all_comes_first(
    floor: Floor,
) -> None:
    """Many desks list "All open requests" first; a request still belongs to the queue of
    its kind (the smallest that lists it), not to the catch-all."""
    floor.fake.catch_all_first = True
    adapter = floor.adapter()
    await sync(floor, adapter)
    state = floor.state()
    names = {q.queue_id: q.name for q in state.queues.values()}
    assert next(iter(floor.fake.queue_counts())) == "All open requests"
    placed = Counter(
        names.get(t.queue_id or "") for t in state.tickets.values() if t.status.is_open
    )
    assert placed["All open requests"] == 0
    assert sum(placed.values()) > 10 and len(placed) >= 2


def _stats(floor: Floor) -> dict[str, QueueStats]:
    out = {}
    for e in floor.store.events_of_kind("queue.stats"):
        assert isinstance(e.payload, QueueStats)
        out[e.payload.queue_id] = e.payload
    return out


async def test_longest_wait_is_the_oldest_unassigned_request(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    now = floor.clock()
    all_open = next(
        q for q, s in _stats(floor).items() if floor.state().queues[q].name.startswith("All")
    )
    waiting = [
        i["fields"]["created"]
        for i in floor.fake.issues.values()
        if i["fields"]["resolutiondate"] is None and i["fields"]["assignee"] is None
    ]
    assert waiting
    from supervisor_tui.adapters.jsm.parse import jira_ts

    oldest = min(jira_ts(c) for c in waiting)
    assert _stats(floor)[all_open].longest_wait_s == pytest.approx(now - oldest)


async def test_agents_have_no_presence_and_show_their_open_requests(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    held: Counter[str] = Counter()
    everyone = set()
    for issue in floor.fake.issues.values():
        assignee = issue["fields"]["assignee"]
        if assignee is not None:
            everyone.add(f"jsm:{assignee['accountId']}")
            if issue["fields"]["resolutiondate"] is None:
                held[f"jsm:{assignee['accountId']}"] += 1
    assert everyone and held
    states: dict[str, AgentStateChanged] = {}
    for e in floor.store.events_of_kind("agent.state"):
        assert isinstance(e.payload, AgentStateChanged)
        states[e.payload.agent_id] = e.payload
    assert set(states) == everyone and adapter.report.agents == len(everyone)
    for agent_id, s in states.items():
        assert s.state is AgentState.UNKNOWN and s.raw_state == NO_PRESENCE
        n = held[agent_id]
        assert s.work == (f"{n} open requests" if n != 1 else "1 open request")
    board = floor.state()
    assert all(board.agents[a].state is AgentState.UNKNOWN for a in everyone)


async def test_pagination_ends_on_is_last(floor: Floor) -> None:
    adapter = floor.adapter()
    adapter.search_page = 10
    await sync(floor, adapter)
    calls = search_calls(floor.fake)
    n = len(floor.fake.issues)
    assert len(calls) == (n + 9) // 10  # one request per page, none after the last
    assert sum("nextPageToken" in c for c in calls) == len(calls) - 1
    floor.clock.advance(30)
    adapter.task("tickets").due_at = 0
    await adapter.poll_due(floor.sink)
    again = search_calls(floor.fake)[len(calls) :]
    assert len(again) == 1  # nothing changed: one page from the cursor, minus the overlap


async def test_resume_after_a_crash_mid_pagination_is_a_clean_run(
    floor: Floor, tmp_path: Path
) -> None:
    clean_store = SQLiteStore(tmp_path / "clean.db")
    clean = floor.adapter()
    clean.search_page = 15
    clean_sink = StoreSink(clean_store, "jsm", floor.clock)
    for task in clean.tasks:
        task.due_at = 0
    await clean.poll_due(clean_sink)
    assert done(clean)
    expected = sorted(versions(clean_store))
    expected_slas = {k: v.state for k, v in slas(clean_store).items()}
    assert len(expected) > 80

    crashing = floor.adapter()
    crashing.search_page = 15
    pages = 0
    real_emit = floor.sink.emit

    async def emit_then_crash(events: Sequence[NewEvent], cursor: str | None = None) -> None:
        nonlocal pages
        if any(e.kind == "ticket.upserted" for e in events):
            pages += 1
            if pages == 3:
                raise KeyboardInterrupt("power cut before page 3 was stored")
        await real_emit(events, cursor)

    floor.sink.emit = emit_then_crash  # type: ignore[method-assign]
    for task in crashing.tasks:
        task.due_at = 0
    with pytest.raises(KeyboardInterrupt):
        await crashing.poll_due(floor.sink)
    floor.sink.emit = real_emit  # type: ignore[method-assign]
    assert len(versions(floor.store)) == 30  # two pages stored

    resumed = floor.adapter()
    resumed.search_page = 15
    resumed.load_cursor(floor.store.get_cursor("jsm"))
    assert resumed._cursor["token"] is not None  # resumes at page 3, not from the start
    for task in resumed.tasks:
        task.due_at = 0
    await resumed.poll_due(floor.sink)
    got = versions(floor.store)
    assert sorted(got) == expected  # no gap
    assert len(got) == len(set(got)) and len({v[0] for v in got}) == len(got)  # no duplicate
    assert {k: v.state for k, v in slas(floor.store).items()} == expected_slas


async def test_changes_after_the_cursor_arrive_once(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    before = len(versions(floor.store))
    floor.advance(1800)  # the floor moves on
    adapter.task("tickets").due_at = 0
    await sync(floor, adapter)
    got = newest(floor.store)
    for key, issue in floor.fake.issues.items():
        assert got[key].raw_status == issue["fields"]["status"]["name"], key
    stored = versions(floor.store)
    assert len(stored) > before
    assert len({(k, u) for k, u, _ in stored}) == len(stored)  # the overlap stored once


async def test_429_sends_nothing_before_retry_after(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    floor.fake.inject("/rest/api/3/search/jql", "429", retry_after=12)
    floor.advance(30)
    adapter.task("tickets").due_at = 0
    await adapter.poll_due(floor.sink)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.DEGRADED and report.reason == "jsm: 429, retry in 12 s"
    assert report.retry_at == pytest.approx(floor.clock() + 12)
    sent = len(floor.fake.requests)
    floor.clock.advance(6)
    for task in adapter.tasks:
        task.due_at = 0
    await adapter.poll_due(floor.sink)
    assert len(floor.fake.requests) == sent  # still inside Retry-After: not one request
    floor.clock.advance(7)
    await adapter.poll_due(floor.sink)
    assert len(floor.fake.requests) > sent
    assert floor.sink.health_reports[-1].state is HealthState.CONNECTED


async def test_wrong_token_is_down_and_nothing_is_stored(floor: Floor) -> None:
    adapter = floor.adapter(token="wrong-token-7788")
    for task in adapter.tasks:
        task.due_at = 0
    await adapter.poll_due(floor.sink)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.DOWN and "(401)" in report.reason
    kinds = {e.kind for e in floor.store.read_from(0)}
    assert kinds == {"source.health"}  # nothing but the health
    text = json.dumps([e.payload.model_dump() for e in floor.store.read_from(0)])
    assert "wrong-token-7788" not in text and TOKEN not in text
    assert "wrong-token-7788" not in repr(adapter.settings)


@pytest.mark.parametrize("fault", ["500", "503", "malformed", "truncated", "wrong_shape"])
async def test_a_bad_answer_is_retried_and_nothing_lost(floor: Floor, fault: str) -> None:
    adapter = floor.adapter()
    adapter.search_page = 20
    floor.fake.inject("/rest/api/3/search/jql", fault)
    await sync(floor, adapter)
    if fault in ("malformed", "truncated", "wrong_shape"):
        (q, *_) = floor.store.quarantined()
        assert q.kind == "jsm.tickets"
    assert set(newest(floor.store)) == set(floor.fake.issues)
    assert len(versions(floor.store)) == len(set(versions(floor.store)))


async def raise_and_ack(floor: Floor, adapter: JsmAdapter) -> tuple[str, Collector]:
    await sync(floor, adapter)
    ticket = next(t for t in floor.state().tickets.values() if t.status.is_open)
    raised = EscalationRaised(
        escalation_id="esc-7",
        rule_id="complaint",
        subject=f"ticket:{ticket.ticket_id}",
        ticket_source="jsm",
        ticket_id=ticket.ticket_id,
        severity=Severity.WARNING,
        title=f"Complaint on {ticket.ticket_id}",
        raised_at=floor.clock(),
    )
    floor.store.append(
        [
            NewEvent(
                source="rules",
                key="esc-7",
                occurred_at=floor.clock(),
                received_at=floor.clock(),
                payload=raised,
            )
        ]
    )
    esc = floor.state().escalations["esc-7"]
    EscalationDesk(floor.store, floor.clock).ack(esc, "Kim Lead", "Called back *now* {color}")
    return ticket.ticket_id, Collector(floor.store, [adapter], rules(), targets(), floor.clock)


def ours(fake: FakeJsm, key: str) -> list[dict]:
    return [c for c in fake.comments.get(key, []) if "[supervisor-tui ack" in c["body"]]


async def test_ack_is_one_internal_comment_and_an_added_label(floor: Floor) -> None:
    adapter = floor.adapter()
    key, collector = await raise_and_ack(floor, adapter)
    floor.fake.agent_edit(key, add_label="vip")  # an agent labels it meanwhile
    assert await collector.deliver_outbox() == 1
    (comment,) = ours(floor.fake, key)
    assert comment["public"] is False
    assert "Called back *now* {color}" in comment["body"]  # literal text, not wiki markup
    assert comment["body"].startswith("{noformat}")
    labels = floor.fake.issues[key]["fields"]["labels"]
    assert "supervisor_acked" in labels and "vip" in labels


async def test_a_retry_after_a_lost_answer_posts_once(floor: Floor) -> None:
    adapter = floor.adapter()
    key, collector = await raise_and_ack(floor, adapter)
    # the comment is taken, but its answer comes back cut short: the outbox keeps the ack
    floor.fake.inject(f"/rest/servicedeskapi/request/{key}/comment", "truncated", method="POST")
    real_request = adapter.api.request
    posts = 0

    async def count_posts(method: str, path: str, **kw: object) -> object:
        nonlocal posts
        if method == "POST":
            posts += 1
        return await real_request(method, path, **kw)  # type: ignore[arg-type]

    adapter.api.request = count_posts  # type: ignore[method-assign]
    assert await collector.deliver_outbox() == 0
    assert len(ours(floor.fake, key)) == 1 and posts == 1
    floor.clock.advance(120)
    assert await collector.deliver_outbox() == 1
    assert len(ours(floor.fake, key)) == 1 and posts == 1  # read first, found, not posted again
    assert "supervisor_acked" in floor.fake.issues[key]["fields"]["labels"]


async def test_write_back_off_writes_nothing(floor: Floor) -> None:
    adapter = floor.adapter(write_back=False)
    key, collector = await raise_and_ack(floor, adapter)
    assert await collector.deliver_outbox() == 1  # taken: kept on the floor only
    assert floor.fake.write_backs == [] and ours(floor.fake, key) == []
    assert "supervisor_acked" not in floor.fake.issues[key]["fields"]["labels"]


async def test_oauth_bearer_works_and_a_wrong_one_is_down(floor: Floor) -> None:
    floor.fake.oauth_token = "oauth-token-3141"
    adapter = floor.adapter(email=None, token=None, oauth_token="oauth-token-3141")
    await sync(floor, adapter)
    assert set(newest(floor.store)) == set(floor.fake.issues)
    wrong = floor.adapter(email=None, token=None, oauth_token="oauth-token-2718")
    wrong.task("directory").due_at = 0
    await wrong.poll_due(floor.sink)
    assert floor.sink.health_reports[-1].state is HealthState.DOWN
    assert "oauth-token-2718" not in repr(wrong.settings) + repr(wrong.settings.auth())


async def test_a_refused_page_token_reads_again_from_the_cursor(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    before = len(versions(floor.store))
    floor.advance(600)
    adapter._cursor.update(
        token="bm9wZQ", jql=adapter._jql(adapter._jql_since(adapter._cursor["since"]))
    )
    adapter.task("tickets").due_at = 0
    await sync(floor, adapter)
    calls = search_calls(floor.fake)
    assert any("nextPageToken=bm9wZQ" in c for c in calls)  # sent, refused (400), read again
    got = newest(floor.store)
    assert all(
        got[k].raw_status == i["fields"]["status"]["name"] for k, i in floor.fake.issues.items()
    )
    assert len(versions(floor.store)) >= before


async def test_a_new_request_is_placed_in_its_queue_once_the_queue_is_read(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)
    known = set(newest(floor.store))
    floor.advance(900)
    fresh = [
        k
        for k, i in floor.fake.issues.items()
        if k not in known and i["fields"]["resolutiondate"] is None
    ]
    assert fresh
    adapter.task("tickets").due_at = 0
    adapter.task("queues").due_at = floor.clock() + 1000  # the search first
    await adapter.poll_due(floor.sink)
    assert all(newest(floor.store)[k].queue_id is None for k in fresh)  # not known yet: said so
    adapter.task("queues").due_at = 0
    await adapter.poll_due(floor.sink)
    board = floor.state()
    for key in fresh:
        ticket = board.tickets[f"jsm/{key}"]
        assert (
            ticket.queue_id is not None
            and board.queues[ticket.queue_id].name != "All open requests"
        )


async def test_an_unknown_time_zone_widens_the_search_to_the_worst_case(floor: Floor) -> None:
    floor.fake.profile_time_zone = "Mars/Olympus_Mons"  # a name our zone database lacks
    adapter = floor.adapter()
    await sync(floor, adapter)
    assert adapter.zone is None
    since = adapter._cursor["since"]
    text = adapter._jql_since(since)
    from datetime import UTC, datetime

    floor_of = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp()
    assert floor_of <= since - adapter.settings.overlap_s - 14 * 3600
    assert set(newest(floor.store)) == set(floor.fake.issues)


async def test_requests_edited_while_the_pages_are_read_are_neither_lost_nor_stale(
    floor: Floor,
) -> None:
    adapter = floor.adapter()
    adapter.search_page = 10
    pages = 0
    read: list[str] = []
    real_emit = floor.sink.emit

    async def edit_during_paging(events: Sequence[NewEvent], cursor: str | None = None) -> None:
        nonlocal pages
        keys = [e.payload.ticket_id for e in events if isinstance(e.payload, TicketUpserted)]
        read.extend(keys)
        if keys:
            pages += 1
            if pages == 2:  # agents edit one request already read and one not read yet
                floor.clock.advance(5)
                floor.fake.agent_edit(read[0], add_label="edited-early")
                later = next(k for k in floor.fake.issues if k not in read)
                floor.fake.agent_edit(later, add_label="edited-late")
        await real_emit(events, cursor)

    floor.sink.emit = edit_during_paging  # type: ignore[method-assign]
    await sync(floor, adapter)
    floor.sink.emit = real_emit  # type: ignore[method-assign]
    got = newest(floor.store)
    assert set(got) == set(floor.fake.issues)
    for key, issue in floor.fake.issues.items():
        assert list(got[key].tags) == issue["fields"]["labels"], key  # the newest version
    assert sum("edited-early" in t.tags for t in got.values()) == 1
    assert sum("edited-late" in t.tags for t in got.values()) == 1


async def test_configured_service_desks_are_read_and_a_wrong_one_is_said(floor: Floor) -> None:
    adapter = floor.adapter(service_desk_ids=("SUP",))  # a project key works as an id
    await sync(floor, adapter)
    assert [d.project_key for d in adapter.desks] == ["SUP"]
    assert set(newest(floor.store)) == set(floor.fake.issues)
    wrong = floor.adapter(service_desk_ids=("9",))
    wrong.task("directory").due_at = 0
    await wrong.poll_due(floor.sink)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.DEGRADED and "not found (404)" in report.reason


async def test_queue_counts_every_poll_members_less_often(floor: Floor) -> None:
    adapter = floor.adapter()
    await sync(floor, adapter)

    def queue_calls() -> tuple[int, int]:
        paths = [p.split("?")[0] for _, p in floor.fake.requests]
        return (
            sum(p.endswith("/queue") for p in paths),
            sum(p.endswith("/issue") and "/queue/" in p for p in paths),
        )

    lists, members = queue_calls()
    floor.clock.advance(40)
    adapter.task("queues").due_at = 0
    await adapter.poll_due(floor.sink)
    assert queue_calls() == (lists + 1, members)  # counts read, member lists kept
    floor.clock.advance(adapter.settings.members_interval_s)
    adapter.task("queues").due_at = 0
    await adapter.poll_due(floor.sink)
    assert queue_calls()[1] > members  # the member lists read again


@pytest.mark.parametrize("fault", ["500", "truncated"])
async def test_a_failed_sla_read_is_kept_for_the_next_round(floor: Floor, fault: str) -> None:
    adapter = floor.adapter()
    floor.fake.inject("/rest/servicedeskapi/request/", fault, count=3)
    await sync(floor, adapter)
    clocks = slas(floor.store)
    for key in floor.fake.issues:  # every request's SLAs, none skipped by the failures
        for name, state in floor.fake.sla_truth(key).items():
            assert clocks[(key, name)].state.value == state, (key, name)


# -- real accounts (issue #16): priority schemes, statuses without a category, desks where the
# token's user is only a customer, a request whose SLA it may not read ---------------------

SCHEMES = {
    "P1 - Critical": {
        Priority.URGENT: "P1 - Critical",
        Priority.HIGH: "P2 - High",
        Priority.NORMAL: "P3 - Medium",
        Priority.LOW: "P4 - Low",
    },
    "Sev 1": {
        Priority.URGENT: "Sev 1",
        Priority.HIGH: "Sev 2",
        Priority.NORMAL: "Sev 3",
        Priority.LOW: "Sev 4",
    },
    "Blocker": {
        Priority.URGENT: "Blocker",
        Priority.HIGH: "Major",
        Priority.NORMAL: "Medium",
        Priority.LOW: "Trivial",
    },
}


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
async def test_a_site_s_priority_scheme_is_read_by_its_names(floor: Floor, scheme: str) -> None:
    """ "P1 - Critical", "Sev 1", "Blocker": every request's priority is known, so the SLA
    rules by priority can fire."""
    floor.fake.priority_names = SCHEMES[scheme]
    adapter = floor.adapter()
    await sync(floor, adapter)
    got = newest(floor.store)
    truth = {r.key: r.priority for r in floor.fake._by_key.values() if not r.deleted}
    assert set(got) == set(truth) and len(set(truth.values())) >= 3
    for key, want in truth.items():
        assert got[key].priority is want, key


async def test_priority_names_from_the_config_win(floor: Floor) -> None:
    floor.fake.priority_names = {
        Priority.URGENT: "Code Red",
        Priority.HIGH: "Code Amber",
        Priority.NORMAL: "Business as usual",
        Priority.LOW: "Whenever",
    }
    names = {
        "Code Red": "urgent",
        "code amber": "high",
        "Business as usual": "normal",
        "Whenever": "low",
    }
    adapter = floor.adapter(priority_names=names)
    await sync(floor, adapter)
    got = newest(floor.store)
    for r in floor.fake._by_key.values():
        assert got[r.key].priority is r.priority


async def test_a_status_without_a_category_is_read_by_name_or_counted_open(
    floor: Floor,
) -> None:
    """A status whose category is "undefined" is read by its name (In Progress, Declined), or
    else the request counts as open with its own status shown: never dropped."""
    keys = sorted(
        (k for k, i in floor.fake.issues.items() if i["fields"]["resolutiondate"] is None),
        key=lambda k: int(k.split("-")[1]),
    )
    a, b, c = keys[:3]
    floor.fake.set_status(a, "In Progress", "undefined")  # the site's common one, uncategorised
    floor.fake.set_status(b, "Escalated to vendor L3", "undefined")
    floor.fake.set_status(c, "Declined", "undefined")
    adapter = floor.adapter()
    await sync(floor, adapter)
    assert floor.store.quarantined() == []
    got = newest(floor.store)
    assert set(got) == set(floor.fake.issues)
    assert got[a].status is TicketStatus.OPEN and got[a].raw_status == "In Progress"
    assert got[b].status.is_open and got[b].raw_status == "Escalated to vendor L3"
    assert got[c].status is TicketStatus.CLOSED and got[c].raw_status == "Declined"
    assert adapter.report.tickets[a] and adapter.report.tickets[b]
    assert not adapter.report.tickets[c]


async def test_a_desk_where_the_user_is_only_a_customer_is_skipped(floor: Floor) -> None:
    """Discovery lists a desk where the token's user is a customer (403 on its queues, its
    project unknown to the user's JQL): that desk is skipped with the reason, the source stays
    connected and every other desk is read."""
    floor.fake.customer_desks = [("2", "HR", "Human Resources")]
    adapter = floor.adapter()
    await sync(floor, adapter)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.CONNECTED
    (limit,) = report.limits  # connected, with the desk left out said
    assert limit.capability is Capability.TICKETS and limit.partial  # the rest stands
    assert limit.reason == "desk HR: the token's user is a customer there, skipped"
    assert "Human Resources" in limit.fix
    assert [d.project_key for d in adapter.desks] == ["SUP"]
    assert set(newest(floor.store)) == set(floor.fake.issues)
    assert adapter.report.queues == 6


async def test_a_403_on_one_request_s_sla_leaves_that_sla_unknown(floor: Floor) -> None:
    keys = sorted(floor.fake.issues)
    hidden = set(keys[:3])
    floor.fake.sla_forbidden |= hidden
    adapter = floor.adapter()
    await sync(floor, adapter)
    report = floor.sink.health_reports[-1]
    assert report.state is HealthState.CONNECTED
    clocks = slas(floor.store)
    assert not any(key in hidden for key, _ in clocks)  # unknown: no clock made up
    for key in keys[3:]:
        for name in floor.fake.sla_truth(key):
            assert (key, name) in clocks, (key, name)
    (limit,) = report.limits  # SLA clocks stay on for every other request
    assert limit.capability is Capability.SLA_CLOCKS and limit.partial
    assert limit.reason == "SLA of 3 requests not readable (403): shown unknown"


def test_priority_names_come_from_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JSM_TEST_TOKEN", TOKEN)
    source = {
        "name": "jsm",
        "kind": "jsm",
        "site": "acme",
        "email": EMAIL,
        "token_env": "JSM_TEST_TOKEN",
        "priority_names": {"Code Red": "urgent", "Whenever": "low"},
    }
    (parsed,) = parse_config({"sources": [source]}, "test").sources
    adapter = JsmAdapter.from_config(
        "jsm", parsed.model_dump(exclude={"name", "kind"}), FakeClock(EPOCH)
    )
    assert parse.priority_of({"name": "CODE  red"}, adapter.ctx.priority_names) is Priority.URGENT
    assert parse.priority_of({"name": "Whenever"}, adapter.ctx.priority_names) is Priority.LOW
    with pytest.raises(ConfigError, match="priority_names"):
        parse_config({"sources": [{**source, "priority_names": {"Code Red": "asap"}}]}, "test")


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("Highest", Priority.URGENT),
        ("High", Priority.HIGH),
        ("Medium", Priority.NORMAL),
        ("Low", Priority.LOW),
        ("Lowest", Priority.LOW),
        ("Blocker", Priority.URGENT),
        ("Critical", Priority.URGENT),
        ("Major", Priority.HIGH),
        ("Minor", Priority.LOW),
        ("Trivial", Priority.LOW),
        ("P1", Priority.URGENT),
        ("P2", Priority.HIGH),
        ("P3", Priority.NORMAL),
        ("P4", Priority.LOW),
        ("P5", Priority.LOW),
        ("P0 - Outage", Priority.URGENT),
        ("P1 - Critical", Priority.URGENT),
        ("P2 - High", Priority.HIGH),
        ("P3 - Moderate", Priority.NORMAL),
        ("P4 - Low", Priority.LOW),
        ("p2-major", Priority.HIGH),
        ("Sev 1", Priority.URGENT),
        ("Sev 2", Priority.HIGH),
        ("SEV3", Priority.NORMAL),
        ("Sev 4", Priority.LOW),
        ("Severity 1 - Outage", Priority.URGENT),
        ("Severity-2", Priority.HIGH),
        ("Priority 1", Priority.URGENT),
        ("Priority 3", Priority.NORMAL),
        ("Priority: 4", Priority.LOW),
        ("Level 2", Priority.HIGH),
        ("1 - Critical", Priority.URGENT),
        ("2 - High", Priority.HIGH),
        ("3 - Medium", Priority.NORMAL),
        ("Very High", Priority.HIGH),
        ("  urgent ", Priority.URGENT),
        ("Normal", Priority.NORMAL),
        ("Code Red", None),
        ("", None),
        ("Sev 9", None),
    ],
)
def test_common_priority_schemes_are_known_by_default(name: str, want: Priority | None) -> None:
    assert parse.priority_of({"name": name}) is want
    assert parse.priority_of({"name": name}, {"code red": Priority.URGENT}) is (
        Priority.URGENT if name == "Code Red" else want
    )


@pytest.mark.parametrize(
    ("name", "category", "assigned", "resolved", "want"),
    [
        ("Waiting for support", "undefined", False, False, TicketStatus.NEW),
        ("Waiting for support", None, True, False, TicketStatus.OPEN),
        ("In progress", "undefined", True, False, TicketStatus.OPEN),
        ("Pending", "undefined", True, False, TicketStatus.PENDING),
        ("Done", "undefined", True, True, TicketStatus.SOLVED),
        ("Resolved", "undefined", True, True, TicketStatus.SOLVED),
        ("Closed", None, True, True, TicketStatus.CLOSED),
        ("Canceled", "undefined", False, True, TicketStatus.CLOSED),
        ("Declined", "no-such-category", False, True, TicketStatus.CLOSED),
        ("Escalated to vendor", "undefined", True, False, TicketStatus.OPEN),
        ("Shipped to customer", "undefined", True, True, TicketStatus.SOLVED),
    ],
)
def test_a_status_without_a_usable_category(
    name: str, category: str | None, assigned: bool, resolved: bool, want: TicketStatus
) -> None:
    status: dict[str, object] = {"name": name}
    if category is not None:
        status["statusCategory"] = {"key": category}
    assert parse.status_of(status, assigned=assigned, resolved=resolved) == (want, name)
