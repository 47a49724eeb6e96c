"""Issue #18 (B, C): each report figure is a fold of the events inside the window and does
what its definition says. Each test recomputes its figure from the events by hand."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from supervisor_tui.core import fmt
from supervisor_tui.core.erlang import ErlangError, agents_needed, erlang_c_figures
from supervisor_tui.core.targets import FloorTargets, QueueTargets
from supervisor_tui.model import (
    AgentUpserted,
    Channel,
    ContactAnswered,
    ContactOffered,
    EscalationRaised,
    Event,
    NewEvent,
    QueueUpserted,
    Severity,
    SlaChanged,
    SlaState,
    TicketStatus,
)
from supervisor_tui.report import render
from supervisor_tui.report.compute import compute
from supervisor_tui.store import SQLiteStore

from .conftest import record_floor, targets
from .test_report import Floor, at, small, small_targets, ticket

__all__ = ["small"]  # the fixture, shared with test_report


def _queue(report: object, queue_id: str) -> object:
    periods = report.periods  # type: ignore[attr-defined]
    return next(q for q in periods[0].queues if q.queue_id == queue_id)


def test_an_hour_window_counts_the_contacts_of_that_hour(small: Floor) -> None:
    """09:00–09:15 holds calls c1 and c2 (offered 09:06 and 09:12, answered after 10 s and
    30 s); 09:15–10:00 holds c3 and c4; the day counters gave all four to both windows."""
    t = small_targets()
    first = compute([("s", small.events)], targets=t, start=at(9), end=at(9.25))
    voice = _queue(first, "voice")
    offered = [
        e.payload
        for e in small.events
        if isinstance(e.payload, ContactOffered) and at(9) <= e.payload.offered_at < at(9.25)
    ]
    answered = [
        e.payload
        for e in small.events
        if isinstance(e.payload, ContactAnswered) and at(9) <= e.payload.answered_at < at(9.25)
    ]
    assert voice.offered == len(offered) == 2  # type: ignore[attr-defined]
    assert voice.answered == len(answered) == 2  # type: ignore[attr-defined]
    within = sum(1 for a in answered if a.wait_s <= 20)
    assert voice.service_level == pytest.approx(within / len(answered))  # type: ignore[attr-defined]
    assert voice.asa_s == pytest.approx(sum(a.wait_s for a in answered) / 2)  # type: ignore[attr-defined]
    later = compute([("s", small.events)], targets=t, start=at(9.25), end=at(10))
    voice = _queue(later, "voice")
    assert (voice.offered, voice.answered, voice.abandoned) == (2, 0, 2)  # type: ignore[attr-defined]
    mail = _queue(later, "mail")
    # tickets created 09:00, 09:06 (before) and 09:54 (C, inside): one created in the window
    assert mail.tickets_created == 1  # type: ignore[attr-defined]


def test_first_response_counts_the_tickets_created_in_the_period() -> None:
    """A ticket created the day before and first answered today is not today's first
    response; one created today and answered tomorrow is (its response is known)."""
    f = Floor()
    f.add(QueueUpserted(queue_id="mail", name="Mail", channel=Channel.EMAIL), at(-20))
    f.add(ticket("old", TicketStatus.NEW, at(-20), created_at=at(-20)), at(-20))
    f.add(
        ticket("old", TicketStatus.OPEN, at(9), created_at=at(-20), first_response_at=at(9)),
        at(9),
    )
    f.add(ticket("new", TicketStatus.NEW, at(10), created_at=at(10)), at(10))
    f.add(
        ticket("new", TicketStatus.OPEN, at(25), created_at=at(10), first_response_at=at(11)),
        at(25),
    )
    report = compute([("r", f.events)], targets=small_targets(), start=at(0), end=at(24))
    mail = _queue(report, "mail")
    # by definition: tickets created in [00:00, 24:00) with a first response: "new", 1 h
    assert mail.first_response.count == 1  # type: ignore[attr-defined]
    assert mail.first_response.median_s == pytest.approx(3600)  # type: ignore[attr-defined]


def test_sla_attainment_leaves_out_breaches_that_fell_due_before_the_period() -> None:
    f = Floor()
    f.add(QueueUpserted(queue_id="mail", name="Mail", channel=Channel.EMAIL), at(8))
    f.add(ticket("A", TicketStatus.OPEN, at(8), created_at=at(5)), at(8))
    f.add(ticket("B", TicketStatus.OPEN, at(8), created_at=at(8)), at(8))
    for tid, due, state, seen in (
        ("A", at(7), SlaState.BREACHED, at(8)),  # fell due at 07:00, first seen at 08:00
        ("B", at(9), SlaState.BREACHED, at(9)),
    ):
        f.add(
            SlaChanged(
                ticket_id=tid,
                metric="first_reply_time",
                policy="Gold",
                target_s=3600,
                due_at=due,
                state=state,
            ),
            seen,
        )
    report = compute([("r", f.events)], targets=small_targets(), start=at(8), end=at(12))
    (gold,) = _queue(report, "mail").sla  # type: ignore[attr-defined]
    assert (gold.met, gold.breached) == (0, 1)  # B only: A fell due before 08:00


def test_escalations_raised_counts_distinct_escalations_not_steps_up() -> None:
    f = Floor()
    f.add(QueueUpserted(queue_id="voice", name="Voice", channel=Channel.VOICE), at(8))
    raises = [("e1", Severity.WARNING), ("e1", Severity.CRITICAL), ("e2", Severity.WARNING)]
    for n, (eid, severity) in enumerate(raises):
        f.add(
            EscalationRaised(
                escalation_id=eid,
                rule_id="r",
                subject=f"queue:voice:{eid}",
                queue_id="voice",
                severity=severity,
                title="Long wait",
                raised_at=at(9) + n,
            ),
            at(9) + n,
        )
    report = compute([("r", f.events)], targets=small_targets())
    distinct = len({eid for eid, _ in raises})
    assert report.periods[0].escalations.raised == distinct == 2
    assert _queue(report, "voice").escalations.raised == 2  # type: ignore[attr-defined]


def test_backlog_at_start_is_the_state_at_the_start_of_the_first_period() -> None:
    """The recording starts at 08:00 and its first poll finds three tickets created the day
    before, two open and one solved at 07:00: two were open at the start."""
    f = Floor()
    f.add(QueueUpserted(queue_id="mail", name="Mail", channel=Channel.EMAIL), at(8))
    f.add(ticket("a", TicketStatus.OPEN, at(8), created_at=at(-5)), at(8))
    f.add(ticket("b", TicketStatus.NEW, at(8), created_at=at(-3)), at(8))
    f.add(ticket("c", TicketStatus.SOLVED, at(8), created_at=at(-3), solved_at=at(7)), at(8) + 1)
    f.add(ticket("a", TicketStatus.SOLVED, at(10), created_at=at(-5), solved_at=at(10)), at(10))
    report = compute([("r", f.events)], targets=small_targets())
    mail = _queue(report, "mail")
    assert mail.backlog_start.total == 2  # type: ignore[attr-defined]
    assert mail.backlog_end.total == 1  # type: ignore[attr-defined]
    window = compute([("r", f.events)], targets=small_targets(), start=at(9), end=at(11))
    assert _queue(window, "mail").backlog_start.total == 2  # type: ignore[attr-defined]


def test_queue_filter_applies_to_agents_and_escalations(small: Floor) -> None:
    small.add(AgentUpserted(agent_id="ag2", name="Bo", queue_ids=("voice",)), at(8) + 1)
    small.add(
        EscalationRaised(
            escalation_id="e-mail",
            rule_id="r",
            subject="queue:mail",
            queue_id="mail",
            severity=Severity.WARNING,
            title="Backlog",
            raised_at=at(10.5),
        ),
        at(10.5),
    )
    t = small_targets()
    only = compute([("s", small.events)], targets=t, queue="voice")
    (period,) = only.periods
    # Ana and Bo serve voice; Ana handled its two calls (her two tickets were mail)
    assert [a.name for a in period.agents] == ["Ana", "Bo"]
    assert period.agents[0].handled == 2
    assert period.escalations.raised == 1  # e1 (voice); e-mail is mail's


def test_board_and_report_format_alike() -> None:
    """One rounding rule: an ASA of 20.6 s is 0:21 on the board and in the report."""
    for seconds in (20.4, 20.5, 20.6, 59.5, 3599.5, 86_399.7):
        assert render.fmt_duration(seconds) == fmt.duration(seconds)
    assert fmt.duration(20.6) == "0:21"
    for share in (0.125, 0.615, 0.9949, 0.005):
        assert render.fmt_rate(share) == fmt.percent(share)
    assert fmt.percent(0.615) == "62%"


def _as_new(event: Event) -> NewEvent:
    return NewEvent(
        source=event.source,
        key=event.key,
        occurred_at=event.occurred_at,
        received_at=event.received_at,
        payload=event.payload,
    )


def _comparable(report: object) -> object:
    return dataclasses.replace(report, sources=(), generated_at=0.0)  # type: ignore[type-var]


def test_two_overlapping_recordings_report_as_their_union(tmp_path: Path) -> None:
    union = record_floor(tmp_path / "union.db", until_s=4 * 3600)
    events = union.read_from(0, 10**7)
    union.close()
    cut_a, cut_b = len(events) * 6 // 10, len(events) * 4 // 10  # 20 % held by both
    paths = []
    for name, part in (("a.db", events[:cut_a]), ("b.db", events[cut_b:])):
        store = SQLiteStore(tmp_path / name)
        store.append([_as_new(e) for e in part])
        paths.append(store.read_from(0, 10**7))
        store.close()
    both = compute([("a", paths[0]), ("b", paths[1])], targets=targets(), now=0)
    one = compute([("union", events)], targets=targets(), now=0)
    assert _comparable(both) == _comparable(one)
    assert sum(q.offered for q in one.periods[0].queues) > 500


def test_erlang_c_has_no_cap() -> None:
    """6,000 erlangs needs more than the old cap of 5,000 agents; the answer is the first n
    whose service level (computed on its own here) reaches the target."""
    arrivals, aht, t_s, target = 6000 / 300, 300.0, 20.0, 0.8
    n = agents_needed(arrivals, aht, t_s, target)
    assert n > 6000
    assert erlang_c_figures(n, arrivals, aht, t_s).service_level >= target
    assert erlang_c_figures(n - 1, arrivals, aht, t_s).service_level < target
    with pytest.raises(ErlangError, match="erlangs"):
        agents_needed(math.inf, aht, t_s, target)


def test_chat_concurrency_divides_servers_by_chats_per_agent() -> None:
    servers = agents_needed(0.2, 600, 60, 0.8)
    for m in (1, 2, 3):
        assert agents_needed(0.2, 600, 60, 0.8, max_concurrent=m) == math.ceil(servers / m)
    floor = FloorTargets(queues={"chat": QueueTargets(max_concurrent=3)})
    assert floor.for_queue("chat").max_concurrent == 3
