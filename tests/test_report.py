"""The report's figures: worked out by hand on a small floor, and equal to the dashboard's
on a simulated one."""

from __future__ import annotations

from itertools import count
from pathlib import Path

import pytest

from supervisor_tui.core import fmt
from supervisor_tui.core.kpis import queue_kpis
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
    EscalationAcked,
    EscalationRaised,
    EscalationResolved,
    Event,
    Payload,
    QueueUpserted,
    Severity,
    SlaChanged,
    SlaState,
    TicketStatus,
    TicketUpserted,
)
from supervisor_tui.report.compute import ReportError, compute

from .conftest import record_floor, targets

DAY0 = 1_790_035_200.0  # a midnight (UTC), so the hand-made day is one period
H = 3600.0


def at(hh: float) -> float:
    return DAY0 + hh * H


class Floor:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.seq = count(1)

    def add(self, payload: Payload, t: float, source: str = "hd") -> None:
        n = next(self.seq)
        self.events.append(
            Event(seq=n, source=source, key=f"k{n}", occurred_at=t, received_at=t, payload=payload)
        )


def ticket(tid: str, status: TicketStatus, t: float, **kw: object) -> TicketUpserted:
    base: dict[str, object] = dict(
        ticket_id=tid,
        status=status,
        channel=Channel.EMAIL,
        queue_id="mail",
        created_at=at(9),
        updated_at=t,
        assignee_id="ag1",
    )
    base.update(kw)
    return TicketUpserted(**base)  # type: ignore[arg-type]


@pytest.fixture
def small() -> Floor:
    f = Floor()
    f.add(QueueUpserted(queue_id="voice", name="Voice", channel=Channel.VOICE), at(8))
    f.add(QueueUpserted(queue_id="mail", name="Mail", channel=Channel.EMAIL), at(8))
    f.add(AgentUpserted(agent_id="ag1", name="Ana", queue_ids=("voice", "mail")), at(8))
    f.add(AgentStateChanged(agent_id="ag1", state=AgentState.AVAILABLE, since=at(9)), at(9))
    # voice: four calls; T = 20 s, short abandon = 5 s
    for cid, offered in (("c1", 9.1), ("c2", 9.2), ("c3", 9.3), ("c4", 9.4)):
        f.add(
            ContactOffered(
                contact_id=cid, queue_id="voice", channel=Channel.VOICE, offered_at=at(offered)
            ),
            at(offered),
        )
    f.add(
        ContactAnswered(
            contact_id="c1", queue_id="voice", agent_id="ag1", answered_at=at(9.1) + 10, wait_s=10
        ),
        at(9.1) + 10,
    )
    f.add(
        ContactAnswered(
            contact_id="c2", queue_id="voice", agent_id="ag1", answered_at=at(9.2) + 30, wait_s=30
        ),
        at(9.2) + 30,
    )
    f.add(
        ContactAbandoned(contact_id="c3", queue_id="voice", abandoned_at=at(9.3) + 3, wait_s=3),
        at(9.3) + 3,
    )
    f.add(
        ContactAbandoned(contact_id="c4", queue_id="voice", abandoned_at=at(9.4) + 40, wait_s=40),
        at(9.4) + 40,
    )
    f.add(AgentStateChanged(agent_id="ag1", state=AgentState.BUSY, since=at(9.5)), at(9.5))
    f.add(
        ContactEnded(
            contact_id="c1",
            queue_id="voice",
            agent_id="ag1",
            ended_at=at(9.6),
            talk_s=100,
            hold_s=20,
            wrap_s=30,
        ),
        at(9.6),
    )
    f.add(AgentStateChanged(agent_id="ag1", state=AgentState.WRAP_UP, since=at(9.75)), at(9.75))
    f.add(
        ContactEnded(
            contact_id="c2",
            queue_id="voice",
            agent_id="ag1",
            ended_at=at(9.7),
            talk_s=200,
            hold_s=0,
            wrap_s=0,
        ),
        at(9.8),
    )
    f.add(AgentStateChanged(agent_id="ag1", state=AgentState.AVAILABLE, since=at(9.875)), at(9.875))
    f.add(AgentStateChanged(agent_id="ag1", state=AgentState.OFFLINE, since=at(10)), at(10))
    # mail: A first reply after 30 min, solved at 11:00 in one reply; B a complaint,
    # breached, reopened, three replies; C still open at the end
    f.add(ticket("A", TicketStatus.NEW, at(9)), at(9))
    f.add(
        SlaChanged(
            ticket_id="A",
            metric="first_reply_time",
            policy="Gold",
            target_s=3600,
            due_at=at(10),
            state=SlaState.ACTIVE,
        ),
        at(9),
    )
    f.add(ticket("B", TicketStatus.NEW, at(9.1), created_at=at(9.1), tags=("complaint",)), at(9.1))
    f.add(
        SlaChanged(
            ticket_id="B",
            metric="first_reply_time",
            policy="Gold",
            target_s=1800,
            due_at=at(9.6),
            state=SlaState.ACTIVE,
        ),
        at(9.1),
    )
    f.add(
        ticket("A", TicketStatus.OPEN, at(9.5), first_response_at=at(9.5), agent_replies=1), at(9.5)
    )
    f.add(
        SlaChanged(
            ticket_id="A",
            metric="first_reply_time",
            policy="Gold",
            target_s=3600,
            due_at=at(10),
            state=SlaState.FULFILLED,
        ),
        at(9.5),
    )
    f.add(
        SlaChanged(
            ticket_id="B",
            metric="first_reply_time",
            policy="Gold",
            target_s=1800,
            due_at=at(9.6),
            state=SlaState.BREACHED,
        ),
        at(9.6),
    )
    f.add(
        ticket(
            "B",
            TicketStatus.OPEN,
            at(9.7),
            created_at=at(9.1),
            tags=("complaint",),
            first_response_at=at(9.7),
            agent_replies=1,
        ),
        at(9.7),
    )
    f.add(
        SlaChanged(
            ticket_id="B",
            metric="first_reply_time",
            policy="Gold",
            target_s=1800,
            due_at=at(9.6),
            state=SlaState.FULFILLED,
        ),
        at(9.7),
    )
    f.add(ticket("C", TicketStatus.NEW, at(9.9), created_at=at(9.9)), at(9.9))
    # an escalation: acked after 5 minutes, resolved after 20
    f.add(
        EscalationRaised(
            escalation_id="e1",
            rule_id="r",
            subject="queue:voice",
            queue_id="voice",
            severity=Severity.WARNING,
            title="Long wait",
            raised_at=at(10),
        ),
        at(10),
    )
    f.add(EscalationAcked(escalation_id="e1", by="Sam", at=at(10) + 300), at(10) + 300)
    f.add(EscalationResolved(escalation_id="e1", at=at(10) + 1200), at(10) + 1200)
    f.add(
        ticket(
            "A",
            TicketStatus.SOLVED,
            at(11),
            first_response_at=at(9.5),
            agent_replies=1,
            solved_at=at(11),
            satisfaction="good",
        ),
        at(11),
    )
    f.add(
        ticket(
            "B",
            TicketStatus.SOLVED,
            at(11.5),
            created_at=at(9.1),
            tags=("complaint",),
            first_response_at=at(9.7),
            agent_replies=3,
            reopened=True,
            solved_at=at(11.5),
            satisfaction="bad",
        ),
        at(11.5),
    )
    return f


def small_targets() -> FloorTargets:
    return FloorTargets(default=QueueTargets(sl_threshold_s=20, short_abandon_s=5), utc_offset_s=0)


def test_hand_checked_figures(small: Floor) -> None:
    report = compute([("small", small.events)], targets=small_targets(), grouping="day")
    (day,) = report.periods
    queues = {q.queue_id: q for q in day.queues}
    voice = queues["voice"]
    assert (voice.offered, voice.answered, voice.answered_within_t) == (4, 2, 1)
    assert (voice.abandoned, voice.abandoned_short, voice.abandoned_after_t) == (2, 1, 1)
    assert voice.service_level == pytest.approx(1 / 3)  # 1 within T ÷ (2 answered + 1 after T)
    assert voice.asa_s == pytest.approx(20)  # (10 + 30) ÷ 2
    assert voice.aht_s == pytest.approx(175)  # (100+20+30 + 200) ÷ 2
    assert voice.abandon_rate == pytest.approx(1 / 3)  # 1 counted ÷ (4 offered − 1 short)
    mail = queues["mail"]
    assert (mail.tickets_created, mail.tickets_solved) == (3, 2)
    assert mail.first_response.count == 2
    assert mail.first_response.median_s == pytest.approx((0.5 * H + 0.6 * H) / 2)
    assert mail.resolution.median_s == pytest.approx((2 * H + 2.4 * H) / 2)
    (gold,) = mail.sla
    assert (gold.policy, gold.met, gold.breached) == ("Gold", 1, 1)
    assert gold.attainment == pytest.approx(0.5)
    assert (mail.csat_good, mail.csat_bad, mail.csat) == (1, 1, pytest.approx(0.5))
    assert (mail.fcr_solved, mail.fcr_first_contact) == (2, 1)  # B was reopened
    assert mail.complaints == 1 and mail.complaint_rate == pytest.approx(1 / 3)
    assert mail.backlog_end.total == 1 and mail.backlog_end.under_1d == 1  # C
    assert voice.escalations.raised == 1
    assert voice.escalations.median_ack_s == pytest.approx(300)
    assert voice.escalations.median_resolve_s == pytest.approx(1200)
    (ana,) = day.agents
    # 2 calls ended + 2 tickets solved; busy 09:30–09:45 and wrap-up 09:45–09:52:30 out of
    # 09:00–10:00 signed in (offline from 10:00)
    assert ana.handled == 4 and ana.aht_s == pytest.approx(175)
    assert ana.occupancy == pytest.approx((0.25 + 0.125) / 1.0)
    assert (ana.csat_good, ana.csat_bad) == (1, 1)


def test_half_hours_and_staffing(small: Floor) -> None:
    report = compute([("small", small.events)], targets=small_targets(), grouping="day")
    voice = next(q for q in report.periods[0].queues if q.queue_id == "voice")
    by_start = {h.start: h for h in voice.half_hours}
    nine = by_start[at(9)]
    # offered 09:06, 09:12, 09:18, 09:24; answered within T: c1 only; c4 gave up after T
    assert (nine.offered, nine.answered, nine.abandoned) == (4, 2, 1)
    assert nine.service_level == pytest.approx(1 / 3)
    assert nine.staffed == pytest.approx(1.0)  # Ana signed in all that half hour
    assert nine.need is not None and nine.need >= 1
    ten = by_start[at(10)]
    assert ten.staffed == 0 and ten.offered == 0


def test_periods_and_filters(small: Floor) -> None:
    t = small_targets()
    week = compute([("small", small.events)], targets=t, grouping="week")
    assert week.periods[0].label.startswith("2026-W")
    month = compute([("small", small.events)], targets=t, grouping="month")
    assert month.periods[0].label == "September 2026"
    only = compute([("small", small.events)], targets=t, queue="Mail")
    assert [q.queue_id for q in only.periods[0].queues] == ["mail"]
    with pytest.raises(ReportError, match=r"no queue 'Fax'.*voice"):
        compute([("small", small.events)], targets=t, queue="Fax")
    with pytest.raises(ReportError, match="no events"):
        compute([("small", small.events)], targets=t, start=at(30), end=at(40))
    late = compute([("small", small.events)], targets=t, start=at(10.5))
    mail = next(q for q in late.periods[0].queues if q.queue_id == "mail")
    assert mail.tickets_solved == 2 and mail.first_response.count == 0


def test_the_report_agrees_with_the_dashboard(tmp_path: Path) -> None:
    """The same KPIs through the live projection and through the report, same events."""
    store = record_floor(tmp_path / "floor.db", until_s=5 * 3600)
    events = store.read_from(0, 10**7)
    store.close()
    report = compute([("floor.db", events)], targets=targets(), grouping="day")
    (day,) = report.periods
    state = FloorState(targets())
    state.apply_all(events)
    now = max(e.occurred_at for e in events)
    compared = 0
    for figures in day.queues:
        live = queue_kpis(state, state.queues[figures.queue_id], now)
        assert figures.offered == live.offered
        assert figures.answered == live.answered
        assert figures.service_level == live.service_level
        assert figures.asa_s == live.asa_s
        assert figures.aht_s == live.aht_s
        assert figures.abandon_rate == live.abandon_rate
        assert figures.csat == live.csat
        assert figures.backlog_end.total == live.backlog
        compared += 1
    assert compared == 5
    assert sum(q.offered for q in day.queues) > 1000


def test_staffing_is_unknown_until_the_recording_knows_presence() -> None:
    """A recording that starts before any agent state (a collector started mid-shift, or
    a helpdesk without presence) says nothing about staffing then: not 0, and not short."""
    f = Floor()
    f.add(QueueUpserted(queue_id="voice", name="Voice", channel=Channel.VOICE), at(8))
    f.add(AgentUpserted(agent_id="ag1", name="Ana", queue_ids=("voice",)), at(8))
    f.add(AgentUpserted(agent_id="ag2", name="Bo", queue_ids=("voice",)), at(8))
    for k in range(12):  # busy from 08:00: Erlang C wants agents in every half hour
        t = at(8) + k * 600
        f.add(
            ContactOffered(
                contact_id=f"c{k}", queue_id="voice", channel=Channel.VOICE, offered_at=t
            ),
            t,
        )
        f.add(
            ContactAnswered(
                contact_id=f"c{k}", queue_id="voice", agent_id="ag1", answered_at=t + 5, wait_s=5
            ),
            t + 5,
        )
    # a helpdesk without presence says so for Bo; Ana's presence reaches the store at 08:45
    f.add(AgentStateChanged(agent_id="ag2", state=AgentState.UNKNOWN, since=at(8)), at(8))
    f.add(AgentStateChanged(agent_id="ag1", state=AgentState.AVAILABLE, since=at(8.75)), at(8.75))
    timed = sorted(f.events, key=lambda e: (e.occurred_at, e.seq))  # as a store holds them
    events = [e.model_copy(update={"seq": n}) for n, e in enumerate(timed, 1)]
    report = compute([("r", events)], targets=small_targets(), grouping="day")
    voice = next(q for q in report.periods[0].queues if q.queue_id == "voice")
    by_start = {h.start: h for h in voice.half_hours}
    eight, half_eight, nine = by_start[at(8)], by_start[at(8.5)], by_start[at(9)]
    assert eight.need is not None and eight.staffed is None and not eight.short
    assert half_eight.staffed == pytest.approx(1.0)  # over the quarter hour it was known
    assert nine.staffed == pytest.approx(1.0)
    import json

    from supervisor_tui.report.render import short_half_hours, to_json

    assert at(8) not in [h.start for h in short_half_hours(voice)]
    (period,) = json.loads(to_json(report))["periods"]
    (shown,) = [q for q in period["queues"] if q["queue_id"] == "voice"]
    assert shown["half_hours"][0]["staffed"] is None  # null in JSON, never 0


def test_the_board_shows_the_reports_fcr(tmp_path: Path) -> None:
    """FCR (issue #18, 6): the board's figure and the report's come from one counter
    (``projection.count_ticket``) and equal an independent count over the same events:
    tickets solved whose source counts replies, with at most one reply and no reopen."""
    from supervisor_tui.widgets.tiles import QueueTile

    store = record_floor(tmp_path / "floor.db", until_s=5 * 3600)
    events = store.read_from(0, 10**7)
    store.close()
    report = compute([("floor.db", events)], targets=targets(), grouping="day")
    (day,) = report.periods
    state = FloorState(targets())
    state.apply_all(events)
    now = max(e.occurred_at for e in events)
    was_open: dict[str, bool] = {}
    solved: dict[str, list[bool]] = {}
    for e in events:
        p = e.payload
        if not isinstance(p, TicketUpserted) or not p.queue_id:
            continue
        ref = f"{e.source}/{p.ticket_id}"
        if not p.status.is_open and was_open.get(ref, True) and p.agent_replies > 0:
            solved.setdefault(p.queue_id, []).append(p.agent_replies <= 1 and not p.reopened)
        was_open[ref] = p.status.is_open
    shown = 0
    for figures in day.queues:
        live = queue_kpis(state, state.queues[figures.queue_id], now)
        outcomes = solved.get(figures.queue_id, [])
        expected = sum(outcomes) / len(outcomes) if outcomes else None
        assert figures.fcr == live.fcr == expected
        if expected is not None:
            assert 0 < expected < 1  # some first-contact, some not: the figure means something
            lines = QueueTile._ticket_lines(live)
            runs = [text for line in lines for variant in line for text, _ in variant]
            assert fmt.percent(expected) in runs and "  FCR " in runs
            shown += 1
    assert shown == 2  # both e-mail queues


def test_fcr_is_unknown_where_the_source_does_not_count_replies() -> None:
    """Freshdesk's tickets do not say how many replies they took: a solved ticket with no
    reply count is left out, and with none counted the board shows — (unknown), not 0 %."""
    from supervisor_tui.widgets.tiles import QueueTile

    f = Floor()
    f.add(QueueUpserted(queue_id="mail", name="Mail", channel=Channel.EMAIL), at(8))
    f.add(ticket("A", TicketStatus.NEW, at(9)), at(9))
    f.add(ticket("A", TicketStatus.SOLVED, at(10), solved_at=at(10)), at(10))
    state = FloorState(FloorTargets())
    state.apply_all(f.events)
    live = queue_kpis(state, state.queues["mail"], at(11))
    assert live.fcr is None
    report = compute([("f", f.events)], targets=FloorTargets())
    assert report.periods[0].queues[0].tickets_solved == 1
    assert report.periods[0].queues[0].fcr is None
    runs = [text for line in QueueTile._ticket_lines(live) for v in line for text, _ in v]
    assert fmt.UNKNOWN in runs[runs.index("  FCR ") + 1]
