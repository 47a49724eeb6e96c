"""Every request the JSM and ServiceNow adapters send is held to their share of the limit
(``budget_share`` × ``rate_limit_per_minute``) in every minute, the first sync included: the
fake counts what it is sent, the clock is stepped by hand (no timing), and a 60 s window is
slid over the whole run. What the budget holds back is read later, the most urgent first, and
said in the source's health meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor_tui.adapters.jsm.adapter import JsmAdapter, JsmSettings
from supervisor_tui.adapters.polling import Task, stretched
from supervisor_tui.adapters.servicenow.adapter import ServiceNowAdapter, ServiceNowSettings
from supervisor_tui.adapters.servicenow.parse import sn_time
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.fakes.jsm import FakeJsm
from supervisor_tui.fakes.servicenow import FakeServiceNow
from supervisor_tui.hub.check import MemorySink
from supervisor_tui.model import (
    AgentStateChanged,
    HealthState,
    Priority,
    QueueStats,
    SlaChanged,
    TicketUpserted,
)

from .conftest import EPOCH, FakeClock

EMAIL, TOKEN = "bot@example.com", "pacing-test-token"
USER, PASSWORD = "integration", "pacing-test-password"
STEP_S = 0.5
RANK = {"Highest": 0, "High": 1, "Medium": 2, "Low": 3}


@dataclass
class Run:
    """(clock, requests the fake was sent) at each step of the loop."""

    steps: list[tuple[float, int]] = field(default_factory=list)

    def busiest_minute(self) -> int:
        best = 0
        for i, (start, _) in enumerate(self.steps):
            best = max(best, sum(n for t, n in self.steps[i:] if t < start + 60))
        return best

    def per_clock_minute(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for t, n in self.steps:
            out[int(t // 60)] = out.get(int(t // 60), 0) + n
        return out


async def drive(
    adapter: Any,
    fake: FakeJsm | FakeServiceNow,
    sim: FloorSimulation,
    clock: FakeClock,
    sink: MemorySink,
    minutes: float,
    run: Run | None = None,
    *,
    feed: bool = True,
) -> Run:
    """The adapter's loop as it runs (every due task, within the budget), the clock stepped
    by hand, the floor moving on; what the fake was sent at each step is counted."""
    run = run or Run()
    end = clock() + minutes * 60
    while clock() < end:
        before = len(fake.requests)
        await adapter.poll_due(sink)
        run.steps.append((clock(), len(fake.requests) - before))
        clock.advance(STEP_S)
        if feed:
            fake.feed(sim.advance(clock() - EPOCH))
    return run


def sla_reads(requests: list[tuple[str, str]]) -> list[str]:
    """The request keys whose SLA cycles were read, in order."""
    paths = [p.split("?")[0] for _, p in requests]
    return [p.split("/")[-2] for p in paths if p.endswith("/sla")]


@dataclass
class Jsm:
    fake: FakeJsm
    sim: FloorSimulation
    clock: FakeClock
    throttled: list[float]

    def adapter(self, **over: Any) -> JsmAdapter:
        settings = JsmSettings(
            base_url=self.fake.base_url, email=EMAIL, token=TOKEN, backfill_s=86_400, **over
        )
        return JsmAdapter("it", settings, clock=self.clock)


async def jsm_floor(agents: int, queues: int, first_queue: int = 0) -> AsyncIterator[Jsm]:
    clock = FakeClock(EPOCH)
    fake = FakeJsm(email=EMAIL, token=TOKEN, clock=clock, rate_limit=600)
    throttled: list[float] = []
    answer = fake._limited

    def limited(retry_after: int) -> Any:
        throttled.append(clock())
        return answer(retry_after)

    fake._limited = limited  # type: ignore[method-assign]
    await fake.start()
    sim = FloorSimulation(
        SimOptions(
            seed=11,
            agents=agents,
            queues=queues,
            first_queue=first_queue,
            speed=None,
            warmup_s=0,
        ),
        EPOCH,
    )
    clock.advance(3 * 3600)
    fake.feed(sim.advance(clock() - EPOCH))
    yield Jsm(fake, sim, clock, throttled)
    await fake.stop()


@pytest.fixture
async def desk() -> AsyncIterator[Jsm]:
    """A desk like the demo's IT desk: 10 agents, 2 e-mail queues, three hours of requests."""
    async for f in jsm_floor(agents=10, queues=2, first_queue=3):
        yield f


@pytest.fixture
async def big_desk() -> AsyncIterator[Jsm]:
    async for f in jsm_floor(agents=60, queues=5):
        yield f


async def test_jsm_holds_a_small_share_in_every_minute_first_sync_included(
    big_desk: Jsm,
) -> None:
    """A share of 10 a minute for a 60-agent desk: far too little for its first sync. Its
    search pages, member lists and SLA reads used to go out a task at a time, 20 in a
    minute; now no minute has more than 10, and the backlog is said."""
    adapter = big_desk.adapter(rate_limit_per_minute=20, budget_share=0.5)
    assert adapter.budget.allowed_per_minute == 10
    sink = MemorySink()
    run = await drive(adapter, big_desk.fake, big_desk.sim, big_desk.clock, sink, minutes=20)
    assert run.busiest_minute() <= 10
    assert max(run.per_clock_minute().values()) <= 10
    assert sum(n for _, n in run.steps) >= 10 * 10  # and it did use it
    assert big_desk.throttled == []
    assert sla_reads(big_desk.fake.requests)
    pending = len(adapter._cursor["sla"])
    assert pending > adapter.sla_per_round
    assert sink.health_reports[-1][0] is HealthState.DEGRADED
    assert f"SLA of {pending} requests still to read" in sink.health_reports[-1][1]


async def test_jsm_demo_desk_keeps_its_share_then_catches_up_and_says_so(desk: Jsm) -> None:
    """The default budget (150 of the site's 600 a minute): the first sync's SLA reads are
    spread so no minute passes 150; while they wait the health says how many; once read,
    the source is connected and its steady state costs a fraction of the share."""
    adapter = desk.adapter()
    share = adapter.budget.allowed_per_minute
    assert share == 150
    sink = MemorySink()
    first = await drive(adapter, desk.fake, desk.sim, desk.clock, sink, minutes=5)
    assert first.busiest_minute() <= share
    behind = [r for s, r in sink.health_reports if "still to read" in r]
    assert behind and all(s is HealthState.DEGRADED for s, r in sink.health_reports if r in behind)
    assert len(adapter._cursor["sla"]) <= adapter.sla_per_round  # what just changed, no more
    assert adapter._cursor["token"] is None
    assert sink.health_reports[-1] == (HealthState.CONNECTED, "")
    sent = len(desk.fake.requests)
    steady = await drive(adapter, desk.fake, desk.sim, desk.clock, sink, minutes=10)
    assert steady.busiest_minute() <= share
    assert (len(desk.fake.requests) - sent) / 10 < share / 2
    assert desk.throttled == []
    slas = [e.payload for e in sink.events if isinstance(e.payload, SlaChanged)]
    assert {s.ticket_id for s in slas} >= {
        k
        for k, issue in desk.fake.issues.items()
        if issue["fields"]["status"]["statusCategory"]["key"] != "done"
    }


async def test_jsm_reads_the_most_urgent_slas_first(big_desk: Jsm) -> None:
    """SLA reads wait their turn most urgent first: open requests before done ones, by
    priority, the most recently changed first within a priority."""
    adapter = big_desk.adapter(rate_limit_per_minute=2000)
    sink = MemorySink()
    adapter.task("slas").enabled = False
    for _ in range(8):  # the directory, the queues and the search, before any SLA is read
        await adapter.poll_due(sink)
        big_desk.clock.advance(STEP_S)
        if adapter._cursor["token"] is None and adapter._cursor["sla"]:
            break
    waiting = list(adapter._cursor["sla"])
    assert len(waiting) > 2 * adapter.sla_per_round
    issues = big_desk.fake.issues
    tickets = {
        e.payload.ticket_id: e.payload for e in sink.events if isinstance(e.payload, TicketUpserted)
    }

    def urgency(key: str) -> tuple[int, int, float]:
        fields = issues[key]["fields"]
        done = fields["status"]["statusCategory"]["key"] == "done"
        return (1 if done else 0, RANK[fields["priority"]["name"]], -tickets[key].updated_at)

    assert not sla_reads(big_desk.fake.requests)
    sent = len(big_desk.fake.requests)
    adapter.task("slas").enabled = True
    adapter.task("slas").due_at = 0
    await adapter.poll_due(sink)
    read = sla_reads(big_desk.fake.requests[sent:])
    assert len(read) == adapter.sla_per_round
    assert read == sorted(waiting, key=urgency)[: len(read)]
    assert read != waiting[: len(read)]  # not the order the search found them in
    assert all(tickets[k].status.is_open for k in read)
    assert any(tickets[k].priority is Priority.URGENT for k in read)


@dataclass
class Ops:
    fake: FakeServiceNow
    sim: FloorSimulation
    clock: FakeClock


@pytest.fixture
async def ops() -> AsyncIterator[Ops]:
    clock = FakeClock(EPOCH)
    fake = FakeServiceNow(username=USER, password=PASSWORD, clock=clock)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=12, agents=30, speed=None, warmup_s=0), EPOCH)
    clock.advance(3 * 3600)
    fake.feed(sim.advance(clock() - EPOCH))
    yield Ops(fake, sim, clock)
    await fake.stop()


async def test_servicenow_holds_its_share_in_every_minute_and_loses_nothing(ops: Ops) -> None:
    """A share of 10 a minute and pages of 20: the change streams are read a few pages at
    a time (they used to be read to their end in one go, 17 in a minute), said while they
    are, and every incident reaches its newest state all the same."""
    settings = ServiceNowSettings(
        base_url=ops.fake.base_url,
        username=USER,
        password=PASSWORD,
        rate_limit_per_minute=20,
        page_size=20,
        backfill_s=86_400,
    )
    adapter = ServiceNowAdapter("ops", settings, clock=ops.clock)
    assert adapter.budget.allowed_per_minute == 10
    sink = MemorySink()
    run = await drive(adapter, ops.fake, ops.sim, ops.clock, sink, minutes=3)
    assert run.busiest_minute() <= 10
    assert any(
        s is HealthState.DEGRADED and "incident changes still being read" in r
        for s, r in sink.health_reports
    )
    await drive(adapter, ops.fake, ops.sim, ops.clock, sink, minutes=40, run=run)
    assert run.busiest_minute() <= 10
    assert max(run.per_clock_minute().values()) <= 10
    # the floor stops; a few minutes later every incident is stored in its newest state
    await drive(adapter, ops.fake, ops.sim, ops.clock, sink, minutes=3, run=run, feed=False)
    assert run.busiest_minute() <= 10
    newest: dict[str, float] = {}
    for e in sink.events:
        if isinstance(e.payload, TicketUpserted):
            number = e.payload.ticket_id
            newest[number] = max(newest.get(number, 0.0), e.payload.updated_at)
    truth = {n: sn_time(row["sys_updated_on"]) for n, row in ops.fake.incidents.items()}
    assert len(truth) > 5 * 20  # more pages than half a minute's share, task SLAs aside
    assert newest == truth


async def test_a_write_back_while_a_poll_waits_for_its_answer_is_not_held_back(desk: Jsm) -> None:
    """Acks go out as soon as they are made, whatever the poll's budget: an ack delivered
    (in the outbox's own asyncio task) while a poll waits for a slow search, with the share
    spent, is posted, and the poll stops quietly at its next page."""
    adapter = desk.adapter(rate_limit_per_minute=20, write_back=True)
    sink = MemorySink()
    await drive(adapter, desk.fake, desk.sim, desk.clock, sink, minutes=1)
    key = sorted(desk.fake.issues)[0]
    desk.clock.advance(61)
    for task in adapter.tasks:
        task.due_at = desk.clock() + 3600
    adapter.task("tickets").due_at = 0
    budget = adapter.budget
    budget._sent.extend(
        [desk.clock()] * (budget.allowed_per_minute - 1 - budget.used_last_minute())
    )
    desk.fake.inject("/rest/api/3/search/jql", "slow", delay_s=0.3)
    searches = len([p for _, p in desk.fake.requests if p.startswith("/rest/api/3/search/jql")])
    poll = asyncio.create_task(adapter.poll_due(sink))
    while len([p for _, p in desk.fake.requests if p.startswith("/rest/api/3/search")]) == searches:
        await asyncio.sleep(0.01)  # the search is out, and the share with it
    assert budget.wait_s(hot=True) > 0
    await adapter.write_back(
        "ack", {"ticket_id": key, "delivery_key": "pacing-1", "title": "Breach", "by": "Sam"}
    )
    await poll
    assert [what for k, what, _ in desk.fake.write_backs if k == key] == ["comment", "labels"]


async def test_servicenow_lists_longer_than_the_share_are_read_in_parts(ops: Ops) -> None:
    """Open work and presence in pages of 5 with a share of 10 a minute: each list needs more
    requests than a minute allows. Each is read in parts, from the last sys_id read, said
    while it is ("open work still being read"), and its figures reach the board."""
    settings = ServiceNowSettings(
        base_url=ops.fake.base_url,
        username=USER,
        password=PASSWORD,
        rate_limit_per_minute=20,
        page_size=5,
        backfill_s=3600,
    )
    adapter = ServiceNowAdapter("ops", settings, clock=ops.clock)
    open_rows = [r for r in ops.fake.incidents.values() if r["state"] in ("1", "2", "3")]
    assert len(open_rows) > 10 * 5  # more pages than a minute's share
    sink = MemorySink()
    run = await drive(adapter, ops.fake, ops.sim, ops.clock, sink, minutes=40, feed=False)
    assert run.busiest_minute() <= 10
    assert any("open work" in r and "still being read" in r for _, r in sink.health_reports)
    stats = [e.payload for e in sink.events if isinstance(e.payload, QueueStats)]
    assert stats  # the open work was read to its end
    waiting = sum(1 for r in open_rows if not r.get("assigned_to"))
    newest = {s.queue_id: s.waiting for s in stats}
    assert sum(newest.values()) == waiting
    states = [e.payload for e in sink.events if isinstance(e.payload, AgentStateChanged)]
    assert len({s.agent_id for s in states}) == len(ops.fake.tables["awa_agent_presence"])


async def _idle(sink: object) -> None:
    return None


def test_one_costly_hot_task_stretches_alone() -> None:
    """A voice line's queue activity at 1,000 queues costs 333 calls a run: it stretches to
    what the budget leaves it; agent states, one page a run, keep their 5 s."""
    agents = Task("agents", 5.0, True, _idle, calls=1)
    activity = Task("activity", 5.0, True, _idle, calls=333)
    policies = Task("policies", 60.0, False, _idle, calls=1)
    tasks = [agents, activity, policies]
    allowed = 700.0
    assert stretched(agents, tasks, allowed) == 5.0
    cold = 1.5 * (12 + 3996 + 1) / allowed
    share = allowed - 1 / cold - 12
    assert stretched(activity, tasks, allowed) == pytest.approx(5.0 * 3996 / share)
    assert stretched(policies, tasks, allowed) == pytest.approx(60.0 * cold)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from([2.0, 5.0, 10.0, 60.0]), st.integers(1, 400)),
        min_size=1,
        max_size=8,
    ),
    st.floats(50, 5_000),
)
def test_stretched_intervals_fit_the_budget_and_spare_the_cheap(
    shapes: list[tuple[bool, float, int]], allowed: float
) -> None:
    tasks = [Task(f"t{i}", s, hot, _idle, calls=c) for i, (hot, s, c) in enumerate(shapes)]
    rate = {t.name: 60.0 / t.interval_s * t.calls for t in tasks}
    used = {t.name: 60.0 / stretched(t, tasks, allowed) * t.calls for t in tasks}
    assert sum(used.values()) <= allowed * (1 + 1e-9) or sum(rate.values()) <= allowed
    for t in tasks:
        assert used[t.name] <= rate[t.name] * (1 + 1e-9)  # never run more often than asked
    hot = [t for t in tasks if t.hot]
    for t in hot:  # a hot task is cut only to the share the costliest hot task is cut to
        if used[t.name] < rate[t.name] * (1 - 1e-9):
            assert all(used[o.name] <= used[t.name] * (1 + 1e-9) for o in hot)
