"""Queue figures on small event sets worked out by hand, and Erlang C against known values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor_tui.core.erlang import agents_needed, erlang_b, erlang_c_figures
from supervisor_tui.core.kpis import queue_kpis, service_level
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.targets import FloorTargets, QueueTargets
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    AgentUpserted,
    Channel,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    HealthState,
    Priority,
    QueueStats,
    QueueUpserted,
    SlaChanged,
    SlaState,
    SourceHealth,
    TicketStatus,
    TicketUpserted,
)

from .helpers import Feed

DAY = 86_400
T0 = 20_000 * DAY + 9 * 3600  # 09:00 UTC on some day


def test_erlang_c_reproduces_the_textbook_case() -> None:
    # 360 calls per half hour, AHT 240 s, 55 agents: SL(15 s) 84.6 %, ASA 8.2 s.
    r = erlang_c_figures(55, 360 / 1800, 240, 15)
    assert r.traffic == pytest.approx(48.0)
    assert round(r.service_level * 100, 1) == 84.6
    assert round(r.asa_s, 1) == 8.2
    assert agents_needed(360 / 1800, 240, 15, 0.80) == 55
    assert agents_needed(360 / 1800, 240, 15, 0.85) == 56


def test_erlang_b_recursion_is_stable_for_big_floors() -> None:
    b = erlang_b(1000, 950.0)
    assert 0 < b < 1 and math.isfinite(b)
    r = erlang_c_figures(1000, 950 / 240, 240, 20)
    assert 0 < r.service_level <= 1
    assert erlang_c_figures(10, 1 / 24, 240, 20).wait_probability == 1.0  # 10 Erlangs, 10 agents


def _plain_erlang_b(agents: int, traffic: float) -> float:
    """The textbook recursion from B(0) = 1, one agent at a time: the reference."""
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


@settings(max_examples=300, deadline=None)
@given(
    traffic=st.floats(min_value=0.0, max_value=20_000.0),
    spread=st.floats(min_value=-0.5, max_value=2.0),
    extra=st.integers(min_value=0, max_value=400),
)
def test_erlang_b_shortcut_equals_the_recursion(traffic: float, spread: float, extra: int) -> None:
    """The O(√A) start for big floors gives the recursion's answer to rounding, below, at
    and far above the traffic (where the sum would overflow and the recursion carries on)."""
    agents = max(0, int(traffic * (1 + spread)) + extra)
    expected = _plain_erlang_b(agents, traffic)
    assert erlang_b(agents, traffic) == pytest.approx(expected, rel=1e-11, abs=1e-300)


def test_a_ten_thousand_agent_queue_is_sized_exactly() -> None:
    """10,000 erlangs of voice at 80/20, AHT 180 s: the first n whose SL reaches the target,
    checked against the plain recursion's SL at n and n - 1."""
    arrivals, aht, t_s = 10_000 / 180, 180.0, 20.0
    n = agents_needed(arrivals, aht, t_s, 0.80)

    def sl(agents: int) -> float:
        a = arrivals * aht
        b = _plain_erlang_b(agents, a)
        pw = agents * b / (agents - a * (1 - b))
        return 1 - pw * math.exp(-(agents - a) * t_s / aht)

    assert sl(n) >= 0.80 > sl(n - 1)
    assert 10_000 < n < 10_100


def test_service_level_formula() -> None:
    assert service_level(answered_within_t=8, answered=10, abandoned_after_t=2) == pytest.approx(
        8 / 12
    )
    assert service_level(0, 0, 0) is None


def voice_floor() -> tuple[FloorState, Feed]:
    state = FloorState(FloorTargets(default=QueueTargets(sl_threshold_s=20, short_abandon_s=5)))
    feed = Feed(state)
    feed(QueueUpserted(queue_id="v", name="Voice", channel=Channel.VOICE), T0)
    return state, feed


def test_queue_figures_worked_by_hand() -> None:
    state, feed = voice_floor()
    for i in range(10):
        feed(
            ContactOffered(
                contact_id=f"c{i}", queue_id="v", channel=Channel.VOICE, offered_at=T0 + i
            ),
            T0 + i,
        )
    for i, wait in enumerate([5, 10, 25, 30]):  # c0..c3 answered
        feed(
            ContactAnswered(
                contact_id=f"c{i}", queue_id="v", agent_id="a", answered_at=T0 + 100, wait_s=wait
            ),
            T0 + 100,
        )
    for i, wait in zip((4, 5, 6), [3, 15, 40], strict=True):  # c4..c6 abandoned
        feed(
            ContactAbandoned(contact_id=f"c{i}", queue_id="v", abandoned_at=T0 + 100, wait_s=wait),
            T0 + 100,
        )
    feed(
        ContactEnded(
            contact_id="c0",
            queue_id="v",
            agent_id="a",
            ended_at=T0 + 300,
            talk_s=200,
            hold_s=20,
            wrap_s=30,
        ),
        T0 + 300,
    )
    feed(
        ContactEnded(
            contact_id="c1", queue_id="v", agent_id="a", ended_at=T0 + 300, talk_s=100, wrap_s=10
        ),
        T0 + 300,
    )
    k = queue_kpis(state, state.queues["v"], now=T0 + 307)
    assert k.waiting == 3  # c7, c8, c9
    assert k.longest_wait_s == pytest.approx(307 - 7)  # c7 offered at T0+7
    assert k.service_level == pytest.approx(2 / (4 + 1))  # ≤20 s: 5, 10; abandoned >20 s: one
    assert k.asa_s == pytest.approx((5 + 10 + 25 + 30) / 4)
    assert k.abandon_rate == pytest.approx((3 - 1) / (10 - 1))  # the 3 s abandon is short
    assert k.aht_s == pytest.approx(((200 + 20 + 30) + (100 + 10)) / 2)
    assert (k.offered, k.answered) == (10, 4)


def test_reported_queue_stats_win_when_newer_and_keep_ageing() -> None:
    state, feed = voice_floor()
    feed(ContactOffered(contact_id="c1", queue_id="v", channel=Channel.VOICE, offered_at=T0), T0)
    feed(QueueStats(queue_id="v", waiting=4, longest_wait_s=30, as_of=T0 + 10), T0 + 10)
    k = queue_kpis(state, state.queues["v"], now=T0 + 25)
    assert (k.waiting, k.longest_wait_s, k.waiting_as_of) == (4, 45, T0 + 10)


def test_counters_start_again_at_the_floors_midnight() -> None:
    state, feed = voice_floor()
    feed(ContactOffered(contact_id="c1", queue_id="v", channel=Channel.VOICE, offered_at=T0), T0)
    feed(
        ContactAnswered(contact_id="c1", queue_id="v", agent_id="a", answered_at=T0 + 5, wait_s=5),
        T0 + 5,
    )
    assert queue_kpis(state, state.queues["v"], T0 + 60).answered == 1
    tomorrow = T0 + DAY
    assert queue_kpis(state, state.queues["v"], tomorrow).answered == 0
    feed(
        ContactOffered(contact_id="c2", queue_id="v", channel=Channel.VOICE, offered_at=tomorrow),
        tomorrow,
    )
    assert queue_kpis(state, state.queues["v"], tomorrow).offered == 1


def ticket(
    tid: str, created: float, status: TicketStatus = TicketStatus.OPEN, **extra: object
) -> TicketUpserted:
    return TicketUpserted(
        ticket_id=tid,
        status=status,
        queue_id="mail",
        channel=Channel.EMAIL,
        created_at=created,
        updated_at=extra.pop("updated_at", created),
        **extra,
    )  # type: ignore[arg-type]


def test_backlog_aging_and_sla_risk() -> None:
    state = FloorState()
    feed = Feed(state)
    now = T0
    feed(QueueUpserted(queue_id="mail", name="Mail", channel=Channel.EMAIL), now)
    feed(ticket("1", now - 3600), now)
    feed(ticket("2", now - 30 * 3600), now)
    feed(ticket("3", now - 50 * 3600), now)
    feed(ticket("4", now - 10, TicketStatus.SOLVED), now)  # not backlog
    for tid, due, state_ in [
        ("1", now + 600, SlaState.ACTIVE),
        ("2", now - 10, SlaState.ACTIVE),
        ("3", now + 2000, SlaState.ACTIVE),
        ("3", now - 5, SlaState.PAUSED),
    ]:
        metric = "next_reply_time" if state_ is SlaState.PAUSED else "first_reply_time"
        feed(SlaChanged(ticket_id=tid, metric=metric, target_s=3600, due_at=due, state=state_), now)
    k = queue_kpis(state, state.queues["mail"], now)
    assert k.backlog == 3
    assert k.aging == (1, 1, 1)
    assert (k.sla_at_risk, k.sla_breached) == (1, 1)  # 600 s of 3600 left; 10 s past due
    feed(
        SlaChanged(
            ticket_id="1",
            metric="first_reply_time",
            target_s=3600,
            due_at=now + 600,
            state=SlaState.FULFILLED,
        ),
        now,
    )
    assert queue_kpis(state, state.queues["mail"], now).sla_at_risk == 0


def test_csat_and_tickets_solved_count_once() -> None:
    state = FloorState()
    feed = Feed(state)
    feed(ticket("1", T0, priority=Priority.HIGH), T0)
    solved = ticket("1", T0, TicketStatus.SOLVED, updated_at=T0 + 60, satisfaction="good")
    feed(solved, T0 + 60)
    feed(solved, T0 + 60)  # the same update seen twice (poll and webhook)
    feed(ticket("2", T0, TicketStatus.SOLVED, updated_at=T0 + 90, satisfaction="bad"), T0 + 90)
    today = state.queues["mail"].today
    assert (today.tickets_solved, today.csat_good, today.csat_bad) == (2, 1, 1)
    assert queue_kpis(state, state.queues["mail"], T0 + 100).csat == pytest.approx(0.5)


def offer_calls(feed: Feed, count: int, *, every_s: float) -> None:
    """``count`` calls offered to the voice queue from T0, one every ``every_s``."""
    for i in range(count):
        at = T0 + i * every_s
        feed(
            ContactOffered(contact_id=f"c{i}", queue_id="v", channel=Channel.VOICE, offered_at=at),
            at,
        )


def test_need_and_have() -> None:
    state, feed = voice_floor()
    for i in range(3):
        feed(AgentUpserted(agent_id=f"a{i}", name=f"A{i}", queue_ids=("v",)), T0)
    feed(AgentStateChanged(agent_id="a0", state=AgentState.AVAILABLE, since=T0), T0)
    feed(AgentStateChanged(agent_id="a1", state=AgentState.AWAY, since=T0), T0)  # not counted
    offer_calls(feed, 360, every_s=5)  # in the last 30 minutes, none handled: AHT 300 s
    now = T0 + 1800
    k = queue_kpis(state, state.queues["v"], now)
    assert k.have == 1
    assert k.need == agents_needed(360 / 1800, 300, 20, 0.8)


def test_need_is_unknown_until_the_source_has_read_its_contacts_once() -> None:
    """A first sync reads the morning's calls a page at a time: sizing staffing on the part
    read so far said "need 0" for a line taking hundreds of calls."""
    state, feed = voice_floor()
    source = state.queues["v"].source
    feed(SourceHealth(state=HealthState.POLLING, reason="first sync", at=T0), T0)
    offer_calls(feed, 120, every_s=15)
    now = T0 + 1800
    assert not state.caught_up(source)
    assert queue_kpis(state, state.queues["v"], now).need is None
    feed(SourceHealth(state=HealthState.CONNECTED, at=now), now)
    assert queue_kpis(state, state.queues["v"], now).need == agents_needed(120 / 1800, 300, 20, 0.8)


def test_kept_ticket_figures_always_equal_a_fresh_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-queue backlog counts are kept between changes; at any instant, after any
    events, forwards or back in time, they equal counting every open ticket again."""
    import random

    from supervisor_tui.core import kpis as kpis_module
    from supervisor_tui.model import Event

    from .conftest import EPOCH, simulate

    shares = [0]
    real_share = kpis_module.ticket_share

    def counted(state: FloorState, ref: str, now: float) -> object:
        shares[0] += 1
        return real_share(state, ref, now)

    events = simulate(seed=11, until_s=3 * 3600)
    state = FloorState(FloorTargets())
    rng = random.Random(5)
    checked = counted_long_way = 0
    step = max(1, len(events) // 60)
    for start in range(0, len(events), step):
        chunk = events[start : start + step]
        state.apply_all(
            Event(seq=state.seq + i + 1, **e.model_dump(exclude={"payload"}), payload=e.payload)
            for i, e in enumerate(chunk)
        )
        base = chunk[-1].occurred_at
        for _ in range(6):
            # mostly small steps (SLA clocks crossing into risk and breach), some a day or
            # two on (age buckets), some back in time (a replay seeking backwards)
            step_s = rng.choice((rng.uniform(0, 900), rng.uniform(0, 3 * DAY), -300.0))
            now = base + step_s
            base = max(base, now)
            for queue in state.queues.values():
                before = shares[0]
                with monkeypatch.context() as patch:
                    patch.setattr(kpis_module, "ticket_share", counted)
                    kept = queue_kpis(state, queue, now)
                fresh = kpis_module.count_ticket_figures(state, queue, now)
                if not 0 <= step_s <= 900:  # a long jump or back in time: counted afresh
                    shares[0] = before
                else:
                    counted_long_way += len(queue.open_tickets)
                assert (kept.aging, kept.sla_at_risk, kept.sla_breached) == (
                    fresh.aging,
                    fresh.at_risk,
                    fresh.breached,
                ), (queue.queue_id, now - EPOCH)
                checked += 1
    assert checked > 1000
    # kept, not counted again each time: on small steps forward, a fraction of the shares
    # the long way figures
    assert 0 < shares[0] < counted_long_way / 4
