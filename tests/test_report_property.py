"""Issue #18 (D): for random event streams and random windows, the report equals a fold of
the window's events written here in plain Python (it calls no report or projection code)."""

from __future__ import annotations

import os
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor_tui.core.targets import FloorTargets, QueueTargets
from supervisor_tui.model import (
    AgentUpserted,
    Channel,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    EscalationRaised,
    Event,
    Payload,
    QueueUpserted,
    Severity,
    TicketStatus,
    TicketUpserted,
)
from supervisor_tui.report.compute import ReportError, compute

DAY0 = 1_790_035_200.0  # a UTC midnight
SPAN_S = 2 * 86_400
T = {"voice": 20.0, "chat": 60.0}
SHORT = 5.0
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))

waits = st.sampled_from([0.0, 4.0, 5.0, 5.5, 19.0, 20.0, 20.5, 59.0, 60.0, 61.0, 300.0])
contact = st.tuples(
    st.sampled_from(["voice", "chat"]),
    st.integers(0, SPAN_S),  # offered at
    st.sampled_from(["answered", "abandoned", "waiting"]),
    waits,
    st.integers(30, 900),  # handle time
)
ticket = st.tuples(
    st.integers(0, SPAN_S),  # created at
    st.booleans(),  # complaint
    st.one_of(st.none(), st.integers(60, 20 * 3600)),  # first response after
    st.one_of(st.none(), st.integers(60, 30 * 3600)),  # solved after the response
    st.sampled_from([None, "good", "bad"]),
)
raise_ = st.tuples(st.sampled_from(["e1", "e2", "e3", "e4"]), st.integers(0, SPAN_S))
window = st.tuples(st.integers(-3600, SPAN_S), st.integers(600, SPAN_S))


@dataclass
class Day:
    offered: int = 0
    answered: int = 0
    within: int = 0
    wait: float = 0.0
    abandoned: int = 0
    short: int = 0
    after_t: int = 0
    handled: int = 0
    handle: float = 0.0
    created: int = 0
    complaints: int = 0
    solved: int = 0
    good: int = 0
    bad: int = 0
    responses: list[float] = field(default_factory=list)


def day_of(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d")


def build(
    contacts: list[tuple[str, int, str, float, int]],
    tickets: list[tuple[int, bool, int | None, int | None, str | None]],
    raises: list[tuple[str, int]],
) -> list[tuple[float, Payload]]:
    out: list[tuple[float, Payload]] = [
        (DAY0 - 1, QueueUpserted(queue_id="voice", name="Voice", channel=Channel.VOICE)),
        (DAY0 - 1, QueueUpserted(queue_id="chat", name="Chat", channel=Channel.CHAT)),
        (DAY0 - 1, QueueUpserted(queue_id="mail", name="Mail", channel=Channel.EMAIL)),
        (DAY0 - 1, AgentUpserted(agent_id="ag", name="Ana", queue_ids=("voice", "chat"))),
    ]
    for n, (queue, offered, outcome, wait, handle) in enumerate(contacts):
        cid, o = f"c{n}", DAY0 + offered
        channel = Channel.VOICE if queue == "voice" else Channel.CHAT
        out.append(
            (o, ContactOffered(contact_id=cid, queue_id=queue, channel=channel, offered_at=o))
        )
        if outcome == "answered":
            out.append(
                (
                    o + wait,
                    ContactAnswered(
                        contact_id=cid,
                        queue_id=queue,
                        agent_id="ag",
                        answered_at=o + wait,
                        wait_s=wait,
                    ),
                )
            )
            end = o + wait + handle
            out.append(
                (
                    end,
                    ContactEnded(
                        contact_id=cid, queue_id=queue, agent_id="ag", ended_at=end, talk_s=handle
                    ),
                )
            )
        elif outcome == "abandoned":
            out.append(
                (
                    o + wait,
                    ContactAbandoned(
                        contact_id=cid, queue_id=queue, abandoned_at=o + wait, wait_s=wait
                    ),
                )
            )
    for n, (created, complaint, response, solve, rating) in enumerate(tickets):
        c = DAY0 + created
        base: dict[str, Any] = dict(
            ticket_id=f"t{n}",
            channel=Channel.EMAIL,
            queue_id="mail",
            created_at=c,
            tags=("complaint",) if complaint else (),
        )
        out.append((c, TicketUpserted(status=TicketStatus.NEW, updated_at=c, **base)))
        if response is not None:
            r = c + response
            out.append(
                (
                    r,
                    TicketUpserted(
                        status=TicketStatus.OPEN, updated_at=r, first_response_at=r, **base
                    ),
                )
            )
            if solve is not None:
                s = r + solve
                out.append(
                    (
                        s,
                        TicketUpserted(
                            status=TicketStatus.SOLVED,
                            updated_at=s,
                            solved_at=s,
                            first_response_at=r,
                            satisfaction=rating,
                            **base,
                        ),
                    )
                )
    for eid, at in raises:
        out.append(
            (
                DAY0 + at,
                EscalationRaised(
                    escalation_id=eid,
                    rule_id="r",
                    subject=f"queue:voice:{eid}",
                    queue_id="voice",
                    severity=Severity.WARNING,
                    title="Long wait",
                    raised_at=DAY0 + at,
                ),
            )
        )
    return out


def expected(
    timed: list[tuple[float, Payload]], start: float, end: float
) -> tuple[dict[str, dict[str, Day]], dict[str, int], set[str]]:
    """The window's figures by day and queue, folded from the events alone."""
    days: dict[str, dict[str, Day]] = defaultdict(lambda: defaultdict(Day))
    raised: dict[str, int] = defaultdict(int)
    with_events: set[str] = set()
    first_raise: dict[str, float] = {}
    created: dict[str, tuple[float, bool]] = {}
    response: dict[str, float] = {}
    inside = lambda t: start <= t < end  # noqa: E731
    for t, p in timed:
        if inside(t):
            with_events.add(day_of(t))
        if isinstance(p, EscalationRaised) and p.escalation_id not in first_raise:
            first_raise[p.escalation_id] = t
            if inside(t):
                raised[day_of(t)] += 1
        if isinstance(p, TicketUpserted):
            if p.ticket_id not in created:
                created[p.ticket_id] = (p.created_at, "complaint" in p.tags)
            if p.first_response_at is not None:
                response.setdefault(p.ticket_id, p.first_response_at)
        if not inside(t):
            continue
        if isinstance(p, ContactOffered):
            days[day_of(t)][p.queue_id].offered += 1
        elif isinstance(p, ContactAnswered):
            d = days[day_of(t)][p.queue_id]
            d.answered += 1
            d.wait += p.wait_s
            d.within += p.wait_s <= T[p.queue_id]
        elif isinstance(p, ContactAbandoned):
            d = days[day_of(t)][p.queue_id]
            d.abandoned += 1
            d.short += p.wait_s <= SHORT
            d.after_t += p.wait_s > T[p.queue_id]
        elif isinstance(p, ContactEnded):
            d = days[day_of(t)][p.queue_id]
            d.handled += 1
            d.handle += p.talk_s
        elif isinstance(p, TicketUpserted) and p.status is TicketStatus.SOLVED:
            d = days[day_of(t)]["mail"]
            d.solved += 1
            d.good += p.satisfaction == "good"
            d.bad += p.satisfaction == "bad"
    for tid, (c, complaint) in created.items():
        if inside(c):
            d = days[day_of(c)]["mail"]
            d.created += 1
            d.complaints += complaint
            if tid in response:
                d.responses.append(response[tid] - c)
    return days, raised, with_events


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.lists(contact, max_size=40),
    st.lists(ticket, max_size=12),
    st.lists(raise_, max_size=8),
    window,
)
def test_the_report_is_the_fold_of_the_window(
    contacts: list[tuple[str, int, str, float, int]],
    tickets: list[tuple[int, bool, int | None, int | None, str | None]],
    raises: list[tuple[str, int]],
    win: tuple[int, int],
) -> None:
    timed = build(contacts, tickets, raises)
    order = sorted(range(len(timed)), key=lambda i: (timed[i][0], i))  # as a store holds them
    events = [
        Event(
            seq=n,
            source="hd",
            key=f"k{i}",
            occurred_at=timed[i][0],
            received_at=timed[i][0],
            payload=timed[i][1],
        )
        for n, i in enumerate(order, 1)
    ]
    timed = [timed[i] for i in order]
    start, end = DAY0 + win[0], DAY0 + win[0] + win[1]
    targets = FloorTargets(
        default=QueueTargets(sl_threshold_s=20, short_abandon_s=SHORT),
        queues={"chat": QueueTargets(sl_threshold_s=60, short_abandon_s=SHORT)},
    )
    days, raised, with_events = expected(timed, start, end)
    if not with_events:
        with pytest.raises(ReportError):
            compute([("r", events)], targets=targets, start=start, end=end)
        return
    report = compute([("r", events)], targets=targets, start=start, end=end, now=0)
    got = {datetime.fromtimestamp(p.start, tz=UTC).strftime("%Y-%m-%d"): p for p in report.periods}
    assert set(got) == with_events
    for key, period in got.items():
        assert period.escalations.raised == raised.get(key, 0)
        for q in period.queues:
            d = days[key][q.queue_id]
            assert (q.offered, q.answered, q.answered_within_t) == (d.offered, d.answered, d.within)
            assert (q.abandoned, q.abandoned_short, q.abandoned_after_t) == (
                d.abandoned,
                d.short,
                d.after_t,
            )
            assert q.service_level == ratio(d.within, d.answered + d.after_t)
            assert q.asa_s == ratio(d.wait, d.answered)
            assert q.aht_s == ratio(d.handle, d.handled)
            assert q.abandon_rate == ratio(d.abandoned - d.short, d.offered - d.short)
            assert (q.tickets_created, q.tickets_solved, q.complaints) == (
                d.created,
                d.solved,
                d.complaints,
            )
            assert (q.csat_good, q.csat_bad) == (d.good, d.bad)
            assert q.first_response.count == len(d.responses)
            if d.responses:
                assert q.first_response.median_s == statistics.median(d.responses)
