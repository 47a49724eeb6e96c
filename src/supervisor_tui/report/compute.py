"""Events → the report. The day's queue counters are the dashboard's own (the same
FloorState folds the same events), so every figure the board showed, the report shows.

Each recording is folded on its own (it is its own floor); periods from several recordings
that fall on the same day, week or month are added together.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta

from supervisor_tui.core.erlang import agents_needed
from supervisor_tui.core.kpis import service_level
from supervisor_tui.core.projection import DAY_S, DayCounters, FloorState, QueueView
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    EscalationAcked,
    EscalationRaised,
    EscalationResolved,
    Event,
    SlaChanged,
    SlaState,
    TicketUpserted,
    printable,
)
from supervisor_tui.report.model import (
    AgentFigures,
    Aging,
    Distribution,
    EscalationFigures,
    Grouping,
    HalfHour,
    Period,
    QueueFigures,
    Report,
    SlaFigure,
)

HALF_HOUR_S = 1800
MAX_SPAN_DAYS = 400
"""The longest time one recording's report covers (a year of shifts and some)."""
COMPLAINT_TAGS = ("complaint",)


class ReportError(ValueError):
    """The report cannot be made as asked (unknown queue, nothing in range)."""


# -- periods ---------------------------------------------------------------------------------


def period_key(t: float, grouping: Grouping, utc_offset_s: int) -> str:
    local = datetime.fromtimestamp(t + utc_offset_s, tz=UTC)
    if grouping in ("day", "shift"):
        return local.strftime("%Y-%m-%d")
    if grouping == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.strftime("%Y-%m")


def period_bounds(key: str, grouping: Grouping, utc_offset_s: int) -> tuple[float, float, str]:
    """(start, end, label) of a period key, in UTC epoch seconds."""
    if grouping in ("day", "shift"):
        day = datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=UTC)
        start, end = day, day + timedelta(days=1)
        label = day.strftime("%a %d %b %Y")
    elif grouping == "week":
        day = datetime.strptime(key + "-1", "%G-W%V-%u").replace(tzinfo=UTC)
        start, end = day, day + timedelta(days=7)
        label = f"{key} (from {day.strftime('%a %d %b')})"
    else:
        day = datetime.strptime(key + "-01", "%Y-%m-%d").replace(tzinfo=UTC)
        nxt = (day + timedelta(days=32)).replace(day=1)
        start, end = day, nxt
        label = day.strftime("%B %Y")
    return start.timestamp() - utc_offset_s, end.timestamp() - utc_offset_s, label


# -- accumulators -------------------------------------------------------------------------------


@dataclass
class _Half:
    offered: int = 0
    answered: int = 0
    within_t: int = 0
    abandoned: int = 0
    abandoned_after_t: int = 0
    handled: int = 0
    handle_s: float = 0.0
    staffed_s: float = 0.0  # agent-seconds signed in and not away
    covered_s: float = 0.0  # seconds of the half hour the recording covers


@dataclass
class _QueueAcc:
    days: dict[int, DayCounters] = field(default_factory=dict)
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    sla: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    fcr_solved: int = 0
    fcr_first: int = 0
    backlog_start: Aging | None = None
    backlog_end: Aging | None = None
    esc_raised: int = 0
    esc_acked: list[float] = field(default_factory=list)
    esc_resolved: list[float] = field(default_factory=list)
    halves: dict[int, _Half] = field(default_factory=lambda: defaultdict(_Half))


@dataclass
class _AgentAcc:
    handled: int = 0
    handle_s: float = 0.0
    ended: int = 0
    time: dict[AgentState, float] = field(default_factory=lambda: defaultdict(float))
    csat_good: int = 0
    csat_bad: int = 0


@dataclass
class _PeriodAcc:
    queues: dict[str, _QueueAcc] = field(default_factory=lambda: defaultdict(_QueueAcc))
    agents: dict[str, _AgentAcc] = field(default_factory=lambda: defaultdict(_AgentAcc))
    events: int = 0
    esc_raised: int = 0
    esc_acked: list[float] = field(default_factory=list)
    esc_resolved: list[float] = field(default_factory=list)
    first_at: float = math.inf
    last_at: float = -math.inf


class _State(FloorState):
    """The dashboard's projection, keeping each queue's finished days."""

    def __init__(self, targets: FloorTargets) -> None:
        super().__init__(targets)
        self.finished: list[tuple[str, DayCounters]] = []

    def _today(self, queue: QueueView, ts: float) -> DayCounters:
        day = self.day_of(ts)
        if day > queue.today.day and queue.today.day >= 0:
            self.finished.append((queue.queue_id, queue.today))
        return super()._today(queue, ts)


# -- the fold -----------------------------------------------------------------------------------


class _Fold:
    def __init__(
        self,
        targets: FloorTargets,
        grouping: Grouping,
        periods: dict[str, _PeriodAcc],
        names: dict[str, tuple[str, str, bool]],
        agent_names: dict[str, str],
        span: tuple[float, float],
    ) -> None:
        self.state = _State(targets)
        self.targets = targets
        self.grouping = grouping
        self.periods = periods
        self.names = names
        self.agent_names = agent_names
        self.span = span
        self.key: str | None = None
        self.now = -math.inf
        self.walked_s = 0.0  # time of the span folded so far
        self.first_response_seen: set[str] = set()
        self.breached: set[tuple[str, str]] = set()
        self.presence_known: set[str] = set()
        self._with_presence: set[str] = set()

    def period(self, t: float) -> _PeriodAcc:
        return self.periods[period_key(t, self.grouping, self.targets.utc_offset_s)]

    def in_span(self, t: float) -> bool:
        return self.span[0] <= t < self.span[1]

    def run(self, events: Iterable[Event]) -> None:
        for event in events:
            t = _when(event)
            if t < self.now:
                t = self.now  # a late event: time on the floor does not go back
            self._advance(t)
            if self.in_span(t):
                self._account(event, t)
            else:
                self._remember(event)
            self.state.apply(event)
            self._learn_presence(event)
        self._close()
        for queue in self.state.queues.values():
            if queue.today.day >= 0:
                self.state.finished.append((queue.queue_id, queue.today))
        offset = self.targets.utc_offset_s
        for queue_id, counters in self.state.finished:
            start = counters.day * DAY_S - offset
            if not self.in_span(start + DAY_S / 2) and not self.in_span(start):
                continue
            acc = self.period(start + 1).queues[queue_id]
            acc.days[counters.day] = counters
        for queue in self.state.queues.values():
            self.names[queue.queue_id] = (
                queue.name,
                queue.channel.value,
                queue.channel.is_realtime,
            )
        for agent in self.state.agents.values():
            self.agent_names[agent.agent_id] = agent.name

    def _learn_presence(self, event: Event) -> None:
        """Queues whose staffing the recording knows: those served by an agent whose
        presence (a state other than "no presence") has been recorded."""
        payload = event.payload
        agent_id = getattr(payload, "agent_id", None)
        if payload.KIND == "agent.state":
            if getattr(payload, "state", None) is AgentState.UNKNOWN:
                return
            self._with_presence.add(str(agent_id))
        elif payload.KIND != "agent.upserted" or agent_id not in self._with_presence:
            return
        agent = self.state.agents.get(str(agent_id))
        if agent is not None:
            self.presence_known.update(agent.queue_ids)

    # time passing: staffing integrals, agent state time, period boundaries
    def _advance(self, t: float) -> None:
        if self.now == -math.inf:
            self.now = t
        key = period_key(t, self.grouping, self.targets.utc_offset_s)
        if key != self.key:
            if self.key is not None:
                self._close()
            self.key = key
            if self.in_span(t):
                self._open(t)
        start = self.now
        counted = min(t, self.span[1]) - max(start, self.span[0])
        if counted > 0:
            self.walked_s += counted
            if self.walked_s > MAX_SPAN_DAYS * DAY_S:
                # each half hour of the span holds figures for every queue: a recording
                # whose times leap years ahead would take the memory of the machine
                raise ReportError(
                    f"the events span more than {MAX_SPAN_DAYS} days; report a part at a "
                    "time with --from and --to"
                )
        while start < t:
            if not self.in_span(start):  # nothing is counted outside the span: skip to it
                if start >= self.span[1]:
                    break
                start = min(t, self.span[0])
                continue
            half = math.floor(start / HALF_HOUR_S) * HALF_HOUR_S
            end = min(t, half + HALF_HOUR_S)
            dt = end - start
            if self.in_span(start):
                acc = self.period(start)
                for queue in self.state.queues.values():
                    if queue.channel.is_realtime and queue.queue_id in self.presence_known:
                        h = acc.queues[queue.queue_id].halves[int(half)]
                        h.staffed_s += self.state.staffed.get(queue.queue_id, 0) * dt
                        h.covered_s += dt
                for agent in self.state.agents.values():
                    acc.agents[agent.agent_id].time[agent.state] += dt
            start = end
        self.now = max(self.now, t)

    def _aging(self, queue: QueueView, at: float) -> Aging:
        ages = [
            at - ticket.created_at
            for ref in queue.open_tickets
            if (ticket := self.state.tickets.get(ref)) is not None
        ]
        return Aging(
            total=len(ages),
            under_1d=sum(1 for a in ages if a < DAY_S),
            d1_to_2d=sum(1 for a in ages if DAY_S <= a < 2 * DAY_S),
            over_2d=sum(1 for a in ages if a >= 2 * DAY_S),
        )

    def _open(self, t: float) -> None:
        acc = self.period(t)
        for queue in self.state.queues.values():
            q = acc.queues[queue.queue_id]
            if q.backlog_start is None:
                q.backlog_start = self._aging(queue, t)

    def _close(self) -> None:
        if self.key is None or not self.in_span(self.now):
            return
        acc = self.period(self.now)
        for queue in self.state.queues.values():
            acc.queues[queue.queue_id].backlog_end = self._aging(queue, self.now)

    # what each event adds to the period it falls in
    def _account(self, event: Event, t: float) -> None:
        acc = self.period(t)
        acc.events += 1
        acc.first_at = min(acc.first_at, t)
        acc.last_at = max(acc.last_at, t)
        p = event.payload
        if isinstance(p, ContactOffered):
            acc.queues[p.queue_id].halves[_half(p.offered_at)].offered += 1
        elif isinstance(p, ContactAnswered):
            h = acc.queues[p.queue_id].halves[_half(p.answered_at)]
            h.answered += 1
            if p.wait_s <= self.targets.for_queue(p.queue_id).sl_threshold_s:
                h.within_t += 1
        elif isinstance(p, ContactAbandoned):
            h = acc.queues[p.queue_id].halves[_half(p.abandoned_at)]
            targets = self.targets.for_queue(p.queue_id)
            if p.wait_s > targets.short_abandon_s:
                h.abandoned += 1
            if p.wait_s > targets.sl_threshold_s:
                h.abandoned_after_t += 1
        elif isinstance(p, ContactEnded):
            handle = p.talk_s + p.hold_s + p.wrap_s
            h = acc.queues[p.queue_id].halves[_half(p.ended_at)]
            h.handled += 1
            h.handle_s += handle
            agent = acc.agents[p.agent_id]
            agent.handled += 1
            agent.ended += 1
            agent.handle_s += handle
        elif isinstance(p, TicketUpserted):
            self._ticket(acc, event, p)
        elif isinstance(p, SlaChanged):
            self._sla(acc, event, p)
        elif isinstance(p, EscalationRaised):
            acc.esc_raised += 1
            if p.queue_id:
                acc.queues[p.queue_id].esc_raised += 1
        elif isinstance(p, EscalationAcked):
            self._esc_done(acc, p.escalation_id, p.at, acked=True)
        elif isinstance(p, EscalationResolved):
            self._esc_done(acc, p.escalation_id, p.at, acked=False)
        elif isinstance(p, AgentStateChanged):
            pass  # the time in state is integrated as time passes

    def _remember(self, event: Event) -> None:
        """Outside the range: nothing is counted, but first replies and breaches are
        noted, so they are not counted again when the ticket comes back inside it."""
        p = event.payload
        ref = f"{event.source}/{getattr(p, 'ticket_id', '')}"
        if isinstance(p, TicketUpserted) and p.first_response_at is not None:
            self.first_response_seen.add(ref)
        elif isinstance(p, SlaChanged):
            if p.state is SlaState.BREACHED:
                self.breached.add((ref, p.metric))
            elif p.metric == "first_reply_time" and p.state is SlaState.FULFILLED:
                self.first_response_seen.add(ref)

    def _ticket(self, acc: _PeriodAcc, event: Event, p: TicketUpserted) -> None:
        ref = f"{event.source}/{p.ticket_id}"
        before = self.state.tickets.get(ref)
        if not p.queue_id:
            return
        q = acc.queues[p.queue_id]
        if p.first_response_at is not None and ref not in self.first_response_seen:
            self.first_response_seen.add(ref)
            q.first_response.append(max(0.0, p.first_response_at - p.created_at))
        was_open = before is None or before.status.is_open
        if not p.status.is_open and was_open:
            solved = p.solved_at or p.updated_at
            q.resolution.append(max(0.0, solved - p.created_at))
            if p.agent_replies > 0:  # the source says how many replies it took
                q.fcr_solved += 1
                if not p.reopened and p.agent_replies <= 1:
                    q.fcr_first += 1
            if p.assignee_id is not None:
                acc.agents[p.assignee_id].handled += 1
        if (
            p.satisfaction in ("good", "bad")
            and p.assignee_id
            and (before is None or before.satisfaction != p.satisfaction)
        ):
            agent = acc.agents[p.assignee_id]
            if p.satisfaction == "good":
                agent.csat_good += 1
            else:
                agent.csat_bad += 1

    def _sla(self, acc: _PeriodAcc, event: Event, p: SlaChanged) -> None:
        ref = f"{event.source}/{p.ticket_id}"
        ticket = self.state.tickets.get(ref)
        queue_id = ticket.queue_id if ticket is not None else None
        if queue_id is None:
            return
        q = acc.queues[queue_id]
        clock = (ref, p.metric)
        replied = p.metric == "first_reply_time" and p.state is SlaState.FULFILLED
        if replied and ref not in self.first_response_seen and ticket is not None:
            # a source that does not say when the first reply came: the SLA fulfil does
            self.first_response_seen.add(ref)
            q.first_response.append(max(0.0, _when(event) - ticket.created_at))
        policy = (p.policy or "(no policy)", p.metric)
        if p.state is SlaState.BREACHED and clock not in self.breached:
            self.breached.add(clock)
            q.sla[policy][1] += 1
        elif p.state is SlaState.FULFILLED and clock not in self.breached:
            q.sla[policy][0] += 1

    def _esc_done(self, acc: _PeriodAcc, escalation_id: str, at: float, *, acked: bool) -> None:
        esc = self.state.escalations.get(escalation_id)
        if esc is None:
            return
        if acked and esc.acked_at is not None:
            return  # the first ack counts
        if not acked and esc.resolved_at is not None:
            return
        took = max(0.0, at - esc.raised_at)
        (acc.esc_acked if acked else acc.esc_resolved).append(took)
        if esc.queue_id:
            q = acc.queues[esc.queue_id]
            (q.esc_acked if acked else q.esc_resolved).append(took)


def _half(t: float) -> int:
    return int(math.floor(t / HALF_HOUR_S) * HALF_HOUR_S)


def _when(event: Event) -> float:
    """When it happened on the floor (the payload's own time where it has one)."""
    p = event.payload
    for attr in ("offered_at", "answered_at", "abandoned_at", "ended_at", "at", "as_of"):
        value = getattr(p, attr, None)
        if isinstance(value, int | float):
            return float(value)
    if isinstance(p, TicketUpserted):
        return p.updated_at
    return event.occurred_at


# -- figures ------------------------------------------------------------------------------------


def _dist(values: Sequence[float]) -> Distribution:
    if not values:
        return Distribution(0, None, None)
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return Distribution(len(values), statistics.median(ordered), p90)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _sum_days(days: Iterable[DayCounters]) -> DayCounters:
    total = DayCounters()
    for day in days:
        for f in fields(DayCounters):
            if f.name != "day":
                setattr(total, f.name, getattr(total, f.name) + getattr(day, f.name))
    return total


def _queue_figures(
    queue_id: str,
    q: _QueueAcc,
    names: dict[str, tuple[str, str, bool]],
    targets: FloorTargets,
) -> QueueFigures:
    name, channel, realtime = names.get(queue_id, (queue_id, "other", False))
    t = targets.for_queue(queue_id)
    c = _sum_days(q.days.values())
    counted_abandons = c.abandoned - c.abandoned_short
    counted_offered = c.offered - c.abandoned_short
    half_hours = []
    for start in sorted(q.halves):
        h = q.halves[start]
        staffed = round(h.staffed_s / h.covered_s, 2) if h.covered_s else None
        need = None
        if realtime and h.offered:
            aht = h.handle_s / h.handled if h.handled else t.aht_default_s
            need = agents_needed(h.offered / HALF_HOUR_S, aht, t.sl_threshold_s, t.sl_target)
        half_hours.append(
            HalfHour(
                start=float(start),
                offered=h.offered,
                answered=h.answered,
                abandoned=h.abandoned,
                service_level=service_level(h.within_t, h.answered, h.abandoned_after_t),
                need=need,
                staffed=staffed,
                short=need is not None and staffed is not None and staffed < need,
            )
        )
    sla = tuple(
        SlaFigure(policy, metric, met, breached, _ratio(met, met + breached))
        for (policy, metric), (met, breached) in sorted(q.sla.items())
    )
    empty = Aging(0, 0, 0, 0)
    return QueueFigures(
        queue_id=queue_id,
        name=name,
        channel=channel,
        realtime=realtime,
        sl_threshold_s=t.sl_threshold_s,
        sl_target=t.sl_target,
        short_abandon_s=t.short_abandon_s,
        offered=c.offered,
        answered=c.answered,
        answered_within_t=c.answered_within_t,
        abandoned=c.abandoned,
        abandoned_short=c.abandoned_short,
        abandoned_after_t=c.abandoned_after_t,
        service_level=service_level(c.answered_within_t, c.answered, c.abandoned_after_t),
        asa_s=c.wait_answered_s / c.answered if c.answered else None,
        aht_s=c.handle_s / c.handled if c.handled else None,
        handled=c.handled,
        abandon_rate=_ratio(counted_abandons, counted_offered),
        tickets_created=c.tickets_created,
        tickets_solved=c.tickets_solved,
        first_response=_dist(q.first_response),
        resolution=_dist(q.resolution),
        sla=sla,
        backlog_start=q.backlog_start or empty,
        backlog_end=q.backlog_end or q.backlog_start or empty,
        csat_good=c.csat_good,
        csat_bad=c.csat_bad,
        csat=_ratio(c.csat_good, c.csat_good + c.csat_bad),
        fcr_solved=q.fcr_solved,
        fcr_first_contact=q.fcr_first,
        fcr=_ratio(q.fcr_first, q.fcr_solved),
        complaints=c.complaints,
        complaint_rate=_ratio(c.complaints, c.tickets_created),
        escalations=EscalationFigures(
            raised=q.esc_raised,
            acked=len(q.esc_acked),
            resolved=len(q.esc_resolved),
            median_ack_s=_median(q.esc_acked),
            median_resolve_s=_median(q.esc_resolved),
        ),
        half_hours=tuple(half_hours),
    )


def _agent_figures(agent_id: str, a: _AgentAcc, agent_names: dict[str, str]) -> AgentFigures:
    working = a.time[AgentState.BUSY] + a.time[AgentState.WRAP_UP]
    signed_in = working + a.time[AgentState.AVAILABLE]
    return AgentFigures(
        agent_id=agent_id,
        name=agent_names.get(agent_id, agent_id),
        handled=a.handled,
        aht_s=a.handle_s / a.ended if a.ended else None,
        occupancy=working / signed_in if signed_in else None,
        csat_good=a.csat_good,
        csat_bad=a.csat_bad,
        csat=_ratio(a.csat_good, a.csat_good + a.csat_bad),
    )


def compute(
    recordings: Sequence[tuple[str, Iterable[Event]]],
    *,
    targets: FloorTargets,
    grouping: Grouping = "day",
    start: float | None = None,
    end: float | None = None,
    queue: str | None = None,
    title: str = "Shift report",
    now: float | None = None,
) -> Report:
    """The report over these recordings ((name, events in seq order) each)."""
    periods: dict[str, _PeriodAcc] = defaultdict(_PeriodAcc)
    names: dict[str, tuple[str, str, bool]] = {}
    agent_names: dict[str, str] = {}
    span = (start if start is not None else -math.inf, end if end is not None else math.inf)
    for _, events in recordings:
        _Fold(targets, grouping, periods, names, agent_names, span).run(events)
    if queue is not None and queue not in names:
        by_name = {n: qid for qid, (n, _, _) in names.items()}
        if queue in by_name:
            queue = by_name[queue]
        else:
            known = ", ".join(sorted(f"{qid} ({n})" for qid, (n, _, _) in names.items()))
            raise ReportError(f"no queue {queue!r} in these recordings (known: {known or 'none'})")
    out = []
    offset = targets.utc_offset_s
    for key in sorted(periods):
        acc = periods[key]
        if acc.events == 0:
            continue
        p_start, p_end, label = period_bounds(key, grouping, offset)
        if grouping == "shift":
            first = datetime.fromtimestamp(acc.first_at + offset, tz=UTC).strftime("%H:%M")
            last = datetime.fromtimestamp(acc.last_at + offset, tz=UTC).strftime("%H:%M")
            label = f"{label} {first}–{last}"
            p_start, p_end = acc.first_at, acc.last_at
        queue_ids = sorted(acc.queues, key=lambda qid: (names.get(qid, (qid,))[0], qid))
        if queue is not None:
            queue_ids = [qid for qid in queue_ids if qid == queue]
        queues = tuple(
            _queue_figures(qid, acc.queues[qid], names, targets)
            for qid in queue_ids
            if qid in names
        )
        agents = tuple(
            sorted(
                (_agent_figures(aid, a, agent_names) for aid, a in acc.agents.items()),
                key=lambda f: f.name,
            )
        )
        if queue is not None:
            agents = ()  # per-agent figures are floor-wide
        out.append(
            Period(
                label=label,
                start=p_start,
                end=p_end,
                queues=queues,
                agents=agents,
                escalations=EscalationFigures(
                    raised=acc.esc_raised,
                    acked=len(acc.esc_acked),
                    resolved=len(acc.esc_resolved),
                    median_ack_s=_median(acc.esc_acked),
                    median_resolve_s=_median(acc.esc_resolved),
                ),
                events=acc.events,
            )
        )
    if not out:
        raise ReportError("no events in the range asked for")
    notes = (
        "NPS: no surveys in these recordings.",
        "FCR counts tickets whose source reports its replies (tickets solved with no agent "
        "reply reported are left out).",
    )
    return Report(
        title=title,
        generated_at=now if now is not None else time.time(),
        sources=tuple(printable(name) for name, _ in recordings),  # a file's name, shown
        grouping=grouping,
        utc_offset_s=offset,
        periods=tuple(out),
        notes=notes,
    )
