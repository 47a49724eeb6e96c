"""Queue and floor figures at an instant: a pure function of FloorState and ``now``.

Each figure names its formula so the screen can print it next to the number.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from supervisor_tui.core.erlang import agents_needed
from supervisor_tui.core.projection import (
    TREND_MINUTES,
    DayCounters,
    FloorState,
    QueueView,
    TicketFigures,
    TicketShare,
    TicketTally,
)
from supervisor_tui.i18n import N_
from supervisor_tui.model import Capability, Channel, Severity, SlaState

SL_FORMULA = N_("answered≤T ÷ (answered + abandoned>T)")
ABANDON_FORMULA = N_("abandoned>short ÷ offered")
FCR_FORMULA = N_(
    "tickets solved with at most one agent reply and never reopened ÷ tickets solved, over "
    "the tickets whose helpdesk counts their replies (Zendesk with an admin's token; "
    "Freshdesk, Jira Service Management and ServiceNow do not: —)"
)
SLA_AT_RISK_FRACTION = 0.25
AGING_BUCKETS = ("0–24h", "24–48h", "48h+")
AGE_DAY_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class QueueKpis:
    queue_id: str
    name: str
    channel: str
    realtime: bool
    waiting: int | None  # None: unknown (the backend did not say)
    longest_wait_s: float | None
    waiting_as_of: float | None  # None when counted from contact events we hold
    sl_threshold_s: float
    service_level: float | None  # None until something was answered or abandoned after T
    asa_s: float | None
    abandon_rate: float | None
    aht_s: float | None
    offered: int | None  # None: the account does not let us read its calls and chats
    answered: int | None
    backlog: int
    aging: tuple[int, int, int]
    sla_at_risk: int | None  # None: the account does not let us read SLA clocks
    sla_breached: int | None
    csat: float | None
    need: int | None
    have: int | None  # None: no presence for the queue's agents (unknown, never 0)
    sl_counted: int = 0
    """The contacts service level counts (answered, and abandoned after T): how much data
    is behind the figure."""
    fcr: float | None = None
    """Today's first contact resolution; None where the source does not count replies."""
    sl_target: float | None = None
    """The service level the queue is staffed for (the tile shows "SL 82% / 80%")."""
    trend: tuple[float | None, ...] = ()
    """The last hour, oldest first, a point per TREND_POINTS-th of it: service level for a
    call or chat queue, backlog for a ticket queue; None where nothing is known."""


def service_level(answered_within_t: int, answered: int, abandoned_after_t: int) -> float | None:
    denominator = answered + abandoned_after_t
    return None if denominator == 0 else answered_within_t / denominator


@dataclass(frozen=True, slots=True)
class ContactFigures:
    """SL, ASA, abandon rate, AHT and CSAT from a queue's counters: the one formula for each,
    for the board's day and a report's window alike."""

    service_level: float | None
    asa_s: float | None
    abandon_rate: float | None
    aht_s: float | None
    csat: float | None
    fcr: float | None
    """First contact resolution: solved with at most one agent reply and never reopened ÷
    solved, over the tickets whose source counts replies; None without any."""


def contact_figures(c: DayCounters) -> ContactFigures:
    counted_abandons = c.abandoned - c.abandoned_short
    offered_counted = c.offered - c.abandoned_short
    rated = c.csat_good + c.csat_bad
    return ContactFigures(
        service_level=service_level(c.answered_within_t, c.answered, c.abandoned_after_t),
        asa_s=c.wait_answered_s / c.answered if c.answered else None,
        abandon_rate=counted_abandons / offered_counted if offered_counted > 0 else None,
        aht_s=c.handle_s / c.handled if c.handled else None,
        csat=c.csat_good / rated if rated else None,
        fcr=c.fcr_first_contact / c.fcr_solved if c.fcr_solved else None,
    )


TREND_POINTS = 20
"""Points in a tile's hour-long sparkline: three minutes each, so it fits the narrowest tile."""


def trend_windows(now: float, points: int = TREND_POINTS) -> list[tuple[int, int]]:
    """The last hour's minutes (``ts // 60``), oldest first, cut into ``points`` runs of
    equal length: (first minute, last minute) of each."""
    last = int(now // 60)
    step = TREND_MINUTES // points
    first = last - TREND_MINUTES + 1
    return [(first + i * step, first + (i + 1) * step - 1) for i in range(points)]


def sl_trend(queue: QueueView, now: float, points: int = TREND_POINTS) -> list[float | None]:
    """Service level of the contacts counted in each run of minutes (answered, abandoned
    after T): how the hour went, not the day's figure again."""
    first = trend_windows(now, points)[0][0]
    step = TREND_MINUTES // points
    sums = [[0, 0, 0] for _ in range(points)]
    for bucket in queue.trend:  # one pass: sixty buckets at most
        at = (bucket.minute - first) // step
        if 0 <= at < points:
            counted = sums[at]
            counted[0] += bucket.counters.answered_within_t
            counted[1] += bucket.counters.answered
            counted[2] += bucket.counters.abandoned_after_t
    return [service_level(*counted) for counted in sums]


def backlog_trend(queue: QueueView, now: float, points: int = TREND_POINTS) -> list[float | None]:
    """Backlog at the end of each run of minutes: the count after the last ticket change
    up to then (carried over quiet minutes); None before the first change seen."""
    trend: list[float | None] = []
    known: int | None = None
    buckets = iter(b for b in queue.trend if b.backlog is not None)
    pending = next(buckets, None)
    for _, last in trend_windows(now, points):
        while pending is not None and pending.minute <= last:
            known = pending.backlog
            pending = next(buckets, None)
        trend.append(None if known is None else float(known))
    return trend


def ticket_share(state: FloorState, ref: str, now: float) -> TicketShare | None:
    """One open ticket's share of its queue's figures at ``now``, and the next instant the
    clock alone would change it (it crosses an age boundary, an SLA clock crosses into risk
    or breach); None for a ticket the floor no longer holds."""
    ticket = state.tickets.get(ref)
    if ticket is None:
        return None
    age_s = now - ticket.created_at
    bucket = 0 if age_s < AGE_DAY_S else 1 if age_s < 2 * AGE_DAY_S else 2
    until = ticket.created_at + (bucket + 1) * AGE_DAY_S if bucket < 2 else math.inf
    at_risk = breached = 0
    for sla in state.slas.get(ref, {}).values():
        if sla.state is SlaState.PAUSED:
            continue
        left = sla.due_at - now
        risk_from = sla.due_at - SLA_AT_RISK_FRACTION * sla.target_s
        if sla.state is SlaState.BREACHED or left <= 0:
            breached += 1
            continue
        if left < SLA_AT_RISK_FRACTION * sla.target_s:
            at_risk += 1
        elif risk_from >= now:
            until = min(until, risk_from)
        until = min(until, sla.due_at)
    return ticket.queue_id or "", bucket, at_risk, breached, until


def count_ticket_figures(state: FloorState, queue: QueueView, now: float) -> TicketFigures:
    """The queue's open tickets by age, and their SLA clocks at risk or breached, counted
    ticket by ticket: the long way, which ``ticket_figures`` keeps up with."""
    aging = [0, 0, 0]
    at_risk = breached = 0
    until = math.inf
    for ref in queue.open_tickets:
        share = ticket_share(state, ref, now)
        if share is None:
            continue
        aging[share[1]] += 1
        at_risk += share[2]
        breached += share[3]
        until = min(until, share[4])
    return TicketFigures((aging[0], aging[1], aging[2]), at_risk, breached, now, until)


_NOT_COUNTED = TicketFigures((0, 0, 0), 0, 0, -math.inf, -math.inf)


def ticket_figures(state: FloorState, queue: QueueView, now: float) -> TicketFigures:
    """``count_ticket_figures``, kept: each open ticket's share is figured when an event
    touches the ticket (the projection notes it in ``state.ticket_tally``) or when the
    instant its share changes by the clock comes, not every open ticket of the queue each
    time one changes. The clock going back (a replay seeking back) counts afresh."""
    tally = state.ticket_tally
    if tally is None or now < tally.as_of:
        tally = state.ticket_tally = TicketTally()
    tally.as_of = now
    if tally.touched:
        for ref in tally.touched:
            _refigure(state, tally, ref, now)
        tally.touched.clear()
    queue_id = queue.queue_id
    due = tally.due.setdefault(queue_id, [])
    if queue_id not in tally.built:
        tally.built.add(queue_id)
        for ref in queue.open_tickets:
            _refigure(state, tally, ref, now)
    elif due and due[0][0] <= now:
        came: list[str] = []
        while due and due[0][0] <= now:
            came.append(heapq.heappop(due)[1])
        for ref in came:
            share = tally.shares.get(ref)
            if share is not None and share[0] == queue_id and share[4] <= now:
                _refigure(state, tally, ref, now)
    if len(due) > 2 * len(queue.open_tickets) + 64:
        # entries of shares refigured since: kept to their instant, they would pile up
        shares = tally.shares
        due[:] = [
            (share[4], ref)
            for ref in queue.open_tickets
            if (share := shares.get(ref)) is not None
            and share[0] == queue_id
            and share[4] < math.inf
        ]
        heapq.heapify(due)
    sums = tally.sums.get(queue_id) or [0, 0, 0, 0, 0]
    return TicketFigures(
        (sums[0], sums[1], sums[2]), sums[3], sums[4], now, due[0][0] if due else math.inf
    )


def _refigure(state: FloorState, tally: TicketTally, ref: str, now: float) -> None:
    """A ticket's share taken out of its queue's sums and, if it is open in a queue whose
    tickets are counted, figured again at ``now``."""
    old = tally.shares.pop(ref, None)
    if old is not None:
        left = tally.sums[old[0]]
        left[old[1]] -= 1
        left[3] -= old[2]
        left[4] -= old[3]
    ticket = state.tickets.get(ref)
    if ticket is None or ticket.queue_id not in tally.built:
        return
    queue = state.queues.get(ticket.queue_id)
    if queue is None or ref not in queue.open_tickets:
        return
    share = ticket_share(state, ref, now)
    if share is None:
        return
    queue_id = share[0]
    tally.shares[ref] = share
    sums = tally.sums.setdefault(queue_id, [0, 0, 0, 0, 0])
    sums[share[1]] += 1
    sums[3] += share[2]
    sums[4] += share[3]
    if share[4] < math.inf:
        heapq.heappush(tally.due.setdefault(queue_id, []), (share[4], ref))


def tickets_counted(state: FloorState, queue: QueueView, now: float) -> bool:
    """Whether ``ticket_figures`` keeps this queue's open tickets counted at ``now``, so that
    asking costs only what changed since; the first time, it walks every open ticket of the
    queue (a floor just opened at 10,000 agents: 200,000 tickets, most of a second)."""
    tally = state.ticket_tally
    return not queue.open_tickets or (
        tally is not None and queue.queue_id in tally.built and now >= tally.as_of
    )


def queue_kpis(
    state: FloorState, queue: QueueView, now: float, *, count_tickets: bool = True
) -> QueueKpis:
    """The queue's figures at ``now``. ``count_tickets=False``: a queue whose open tickets
    are not counted yet (``tickets_counted``) is not counted now: its aging reads nothing and
    its SLA clocks are unknown (None), for a row that stays off screen until counted."""
    targets = state.targets.for_queue(queue.queue_id)
    today = queue.today
    if today.day != state.day_of(now):
        today = DayCounters(day=state.day_of(now))  # nothing yet today

    # Waiting: from the backend's own report if it is newer than the contact events we hold,
    # or if those hold nobody waiting (contacts that arrive with their outcome, after the
    # fact, as Talk's finished calls do, never sit in the waiting list).
    waiting: int | None
    longest: float | None
    as_of: float | None = None
    reported = queue.reported
    if reported is not None and (queue.reported_at_seq >= queue.contact_seq or not queue.waiting):
        waiting = reported.waiting
        as_of = reported.as_of
        longest = reported.longest_wait_s + max(0.0, now - reported.as_of) if waiting else 0.0
    elif queue.channel.is_realtime or queue.waiting:
        waiting = len(queue.waiting)
        longest = max((now - t for t in queue.waiting.values()), default=0.0)
        longest = max(0.0, longest)
    else:
        waiting = None
        longest = None

    day = contact_figures(today)
    sl, asa, abandon_rate, aht, csat = (
        day.service_level,
        day.asa_s,
        day.abandon_rate,
        day.aht_s,
        day.csat,
    )
    fcr = day.fcr
    counted = count_tickets or tickets_counted(state, queue, now)
    figures = ticket_figures(state, queue, now) if counted else _NOT_COUNTED

    source = state.sources.get(queue.source)
    members = state.members.get(queue.queue_id, 0)
    have: int | None = state.staffed.get(queue.queue_id, 0)
    if (source is not None and source.lacks(Capability.PRESENCE)) or (
        members and not state.presence_known.get(queue.queue_id, 0)
    ):
        have = None
    need: int | None = None
    # During a source's first sync its contacts of the last window are not all read yet:
    # the arrivals would size staffing on part of them ("need 0" on a busy line).
    if queue.channel.is_realtime and state.caught_up(queue.source):
        window = targets.erlang_window_s
        arrivals = sum(1 for t in queue.recent_offers if now - window <= t <= now)
        recent = [h for t, h in queue.recent_handle if t >= now - window]
        aht_for_need = sum(recent) / len(recent) if recent else (aht or targets.aht_default_s)
        need = agents_needed(
            arrivals / window,
            aht_for_need,
            targets.sl_threshold_s,
            targets.sl_target,
            targets.max_concurrent,
        )
    offered: int | None = today.offered
    answered: int | None = today.answered
    at_risk: int | None = figures.at_risk if counted else None
    breached: int | None = figures.breached if counted else None
    if source is not None and source.limits:
        if source.lacks(Capability.SLA_CLOCKS):
            at_risk = breached = None
        if source.lacks(Capability.SATISFACTION):
            csat = None
        if source.lacks(Capability.REPLIES):
            fcr = None
        contacts = Capability.CALLS if queue.channel is Channel.VOICE else Capability.CHATS
        if queue.channel.is_realtime and source.lacks(contacts):
            sl = asa = abandon_rate = aht = None
            offered = answered = None
            need = None  # no arrivals to size staffing on: unknown, not 0
        if source.lacks(Capability.QUEUE_STATS) and reported is None:
            waiting = longest = None
    return QueueKpis(
        queue_id=queue.queue_id,
        name=queue.name,
        channel=queue.channel.value,
        realtime=queue.channel.is_realtime,
        waiting=waiting,
        longest_wait_s=longest,
        waiting_as_of=as_of,
        sl_threshold_s=targets.sl_threshold_s,
        service_level=sl,
        asa_s=asa,
        abandon_rate=abandon_rate,
        aht_s=aht,
        offered=offered,
        answered=answered,
        backlog=len(queue.open_tickets),
        aging=figures.aging,
        sla_at_risk=at_risk,
        sla_breached=breached,
        csat=csat,
        need=need,
        have=have,
        sl_counted=today.answered + today.abandoned_after_t,
        fcr=fcr,
        sl_target=targets.sl_target,
        trend=tuple(
            (sl_trend(queue, now) if offered is not None else [None] * TREND_POINTS)
            if queue.channel.is_realtime
            else backlog_trend(queue, now)
        ),
    )


def backlog_severity(kpis: QueueKpis) -> Severity | None:
    """A ticket queue's level from its SLA clocks, as the SLA rule sees them: a breach is
    critical, a clock at risk a warning. The tile and the feed then say the same thing."""
    if kpis.realtime:
        return None
    if kpis.sla_breached:
        return Severity.CRITICAL
    if kpis.sla_at_risk:
        return Severity.WARNING
    return None


def sla_level(state: FloorState, queue: QueueView, now: float) -> Severity | None:
    """``backlog_severity`` of the queue's figures without figuring the rest of them (its
    contacts, staffing, trend): the board orders a thousand queues by it every second, and a
    queue's ticket counts are kept (``ticket_figures``) until one of them would change."""
    if queue.channel.is_realtime:
        return None
    source = state.sources.get(queue.source)
    if source is not None and source.limits and source.lacks(Capability.SLA_CLOCKS):
        return None
    figures = ticket_figures(state, queue, now)
    if figures.breached:
        return Severity.CRITICAL
    if figures.at_risk:
        return Severity.WARNING
    return None


def floor_kpis(state: FloorState, now: float) -> dict[str, QueueKpis]:
    return {qid: queue_kpis(state, q, now) for qid, q in state.queues.items()}
