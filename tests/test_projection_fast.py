"""The fold as it is (``FloorState``) against the plain fold it was made faster from, kept
here as the reference: every event read through the model's attributes, the handler found by
the payload's KIND, the floor's day asked of the zone at every instant, each handler as it was
written before the fast path. Simulated floors (several seeds, floor time zones whose midnight
falls inside the floor's hours, a floor of a day and more) with what the simulator does not
make put in (late and re-delivered copies, tickets moved, closed, deleted, rated and tagged,
escalations acked, noted, snoozed, resolved and raised again, write-back results, health
reports from two sources) must leave the same state: the snapshot's data, the frozen bytes,
the solved order, the staffing counts, the tickets noted for the tally and the changes each
batch reported."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from supervisor_tui.core.projection import (
    _HANDLERS,
    _HANDLERS_WITHOUT_TICKETS,
    _NOT_STAFFING,
    _OPEN_STATUSES,
    COMPLAINT_TAGS,
    DAY_S,
    SOLVED_KEPT_S,
    AgentView,
    Changes,
    DayCounters,
    FloorState,
    QueueView,
    SlaView,
    SourceView,
    TicketTally,
    TicketView,
    count_contact,
    trend_minute,
)
from supervisor_tui.core.snapshot import freeze
from supervisor_tui.core.targets import FloorTargets, QueueTargets
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    Channel,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    EscalationAcked,
    EscalationNoted,
    EscalationRaised,
    EscalationResolved,
    EscalationSnoozed,
    Event,
    HealthState,
    NewEvent,
    Payload,
    Severity,
    SlaChanged,
    SlaState,
    SourceHealth,
    TicketDeleted,
    TicketStatus,
    TicketUpserted,
    WriteBackResult,
)

from .conftest import EPOCH, simulate


def plain_count_ticket(
    counters: DayCounters,
    p: TicketUpserted,
    *,
    created_here: bool,
    was_solved: bool,
    rated_before: str | None,
) -> bool:
    """A ticket update's share of the counters: created (and a complaint) where it was
    created, solved when it turns solved (resolved at first contact when the source counts
    its replies: one at most, never reopened), a rating when the rating changes. True when
    this update solved it."""
    if created_here:
        counters.tickets_created += 1
        if any(tag in p.tags for tag in COMPLAINT_TAGS):
            counters.complaints += 1
    solved = not p.status.is_open and not was_solved
    if solved:
        counters.tickets_solved += 1
        if p.agent_replies > 0:  # the source says how many replies it took (FCR)
            counters.fcr_solved += 1
            if not p.reopened and p.agent_replies <= 1:
                counters.fcr_first_contact += 1
    if p.satisfaction in ("good", "bad") and rated_before != p.satisfaction:
        if p.satisfaction == "good":
            counters.csat_good += 1
        else:
            counters.csat_bad += 1
    return solved


class PlainFloor(FloorState):
    """The reference: the fold's handlers as written before they were made faster."""

    def __init__(self, targets: FloorTargets, *, tickets: bool = True) -> None:
        super().__init__(targets, tickets=tickets)
        self._plain = _PLAIN if tickets else _PLAIN_WITHOUT_TICKETS

    def apply_all(self, events: Any) -> None:
        for event in events:
            self.apply(event)

    def day_of(self, ts: float) -> int:
        """The definition: the floor's wall-clock date at ``ts``, as a day number."""
        return int((ts + self.targets.offset_at(ts)) // DAY_S)

    def apply(self, event: Event) -> None:
        seq = event.seq
        if seq <= self.seq:
            return  # already folded: applying the same events twice changes nothing
        self.seq = seq
        name = event.source
        source = self.sources.get(name)
        if source is None:
            source = self.sources[name] = SourceView(name)
        received = event.received_at
        if received > source.newest_event_at:
            source.newest_event_at = received
        source.events += 1
        payload = event.payload
        kind = payload.KIND
        if received > source.data_at and kind != "source.health":
            source.data_at = received
        self.changes.sources.add(name)
        self._applying = name
        self._plain[kind](self, event, payload)

    def _queue(self, queue_id: str) -> QueueView:
        queue = self.queues.get(queue_id)
        if queue is None:
            queue = self.queues[queue_id] = QueueView(queue_id, queue_id, Channel.OTHER)
            self.changes.queues_added = True
        if self._applying and self._applying not in queue.sources:
            queue.sources.add(self._applying)
        self.changes.queues.add(queue_id)
        return queue

    def _contact_offered(self, event: Event, p: ContactOffered) -> None:
        queue = self._queue(p.queue_id)
        queue.waiting[p.contact_id] = p.offered_at
        queue.contact_seq = event.seq
        day = self.day_of(p.offered_at)
        today = self._today(queue, day)
        if day == today.day:
            count_contact(today, p, self.targets.for_queue(p.queue_id))
        self.intraday.offered(p.queue_id, p.offered_at, self.targets)
        window = self.targets.for_queue(p.queue_id).erlang_window_s
        queue.recent_offers.append(p.offered_at)
        while queue.recent_offers and queue.recent_offers[0] < p.offered_at - window:
            queue.recent_offers.popleft()

    def _contact_answered(self, event: Event, p: ContactAnswered) -> None:
        queue = self._queue(p.queue_id)
        queue.waiting.pop(p.contact_id, None)
        queue.contact_seq = event.seq
        day = self.day_of(p.answered_at)
        today = self._today(queue, day)
        if day == today.day:
            count_contact(today, p, self.targets.for_queue(p.queue_id))
        self._trend_contact(queue, p, p.answered_at)

    def _contact_abandoned(self, event: Event, p: ContactAbandoned) -> None:
        queue = self._queue(p.queue_id)
        queue.waiting.pop(p.contact_id, None)
        queue.contact_seq = event.seq
        day = self.day_of(p.abandoned_at)
        today = self._today(queue, day)
        if day == today.day:
            count_contact(today, p, self.targets.for_queue(p.queue_id))
        self._trend_contact(queue, p, p.abandoned_at)

    def _trend_contact(
        self, queue: QueueView, p: ContactAnswered | ContactAbandoned, at: float
    ) -> None:
        bucket = trend_minute(queue.trend, at)
        if bucket is not None:
            count_contact(bucket.counters, p, self.targets.for_queue(queue.queue_id))

    def _contact_ended(self, event: Event, p: ContactEnded) -> None:
        queue = self._queue(p.queue_id)
        handle = p.talk_s + p.hold_s + p.wrap_s
        day = self.day_of(p.ended_at)
        today = self._today(queue, day)
        if day == today.day:
            count_contact(today, p, self.targets.for_queue(p.queue_id))
        self.intraday.handled(p.queue_id, p.ended_at, handle, self.targets)
        queue.recent_handle.append((p.ended_at, handle))
        window = self.targets.for_queue(p.queue_id).erlang_window_s
        while queue.recent_handle and queue.recent_handle[0][0] < p.ended_at - window:
            queue.recent_handle.popleft()
        self._count_handled(p.agent_id, p.ended_at)

    def _ticket_upserted(self, event: Event, p: TicketUpserted) -> None:
        source = event.source
        ref = f"{source}/{p.ticket_id}"
        before = self.tickets.get(ref)
        updated = p.updated_at
        if before is not None and before.updated_at > updated:
            return  # a late, older copy of the ticket (poll and webhook crossing)
        self._ticket_touched(ref)
        queue_id = p.queue_id
        if before is not None and before.queue_id and before.queue_id != queue_id:
            left = self._queue(before.queue_id)
            left.open_tickets.discard(ref)
            self._trend_backlog(left, updated)
        status = p.status
        is_open = status in _OPEN_STATUSES
        if queue_id:
            queue = self._queue(queue_id)
            day = self.day_of(updated)
            today = self._today(queue, day)
            if day == today.day:
                solved = plain_count_ticket(
                    today,
                    p,
                    created_here=before is None and self.day_of(p.created_at) == day,
                    was_solved=before is not None and before.status not in _OPEN_STATUSES,
                    rated_before=before.satisfaction if before is not None else None,
                )
                if solved and p.assignee_id is not None:
                    self._count_handled(p.assignee_id, updated)
            if is_open:
                queue.open_tickets.add(ref)
            else:
                queue.open_tickets.discard(ref)
            self._trend_backlog(queue, updated)
        if status is TicketStatus.CLOSED:
            self._forget_ticket(ref)
        else:
            self.tickets[ref] = TicketView(
                ref,
                source,
                p.ticket_id,
                status,
                p.raw_status or status.value,
                queue_id,
                p.priority,
                p.channel,
                p.assignee_id,
                p.subject,
                p.requester,
                p.created_at,
                updated,
                p.solved_at,
                p.tags,
                p.escalated,
                p.satisfaction,
            )
            if not is_open:
                self.solved_order.append((updated, ref))
        # The board needs open tickets; solved ones are kept a while for late ratings and
        # reopens, then dropped so a long shift does not grow the projection without bound.
        solved_order = self.solved_order
        kept_after = updated - SOLVED_KEPT_S
        while solved_order and solved_order[0][0] < kept_after:
            _, old = solved_order.popleft()
            kept = self.tickets.get(old)
            if (
                kept is not None
                and kept.status not in _OPEN_STATUSES
                and kept.updated_at < kept_after
            ):
                self._forget_ticket(old)

    def _sla_changed(self, event: Event, p: SlaChanged) -> None:
        ref = f"{event.source}/{p.ticket_id}"
        if p.state is SlaState.FULFILLED:
            metrics = self.slas.get(ref)
            if metrics is not None:
                metrics.pop(p.metric, None)
                if not metrics:
                    del self.slas[ref]
        else:
            metrics = self.slas.get(ref)
            if metrics is None:
                metrics = self.slas[ref] = {}
            metrics[p.metric] = SlaView(ref, p.metric, p.policy, p.target_s, p.due_at, p.state)
        self._ticket_touched(ref)
        ticket = self.tickets.get(ref)
        if ticket is not None and ticket.queue_id:
            self.changes.queues.add(ticket.queue_id)

    def _staff(self, agent: AgentView, sign: int) -> None:
        state = agent.state
        known = state is not AgentState.UNKNOWN
        staffing = state not in _NOT_STAFFING
        members, presence_known, staffed = self.members, self.presence_known, self.staffed
        for queue_id in agent.queue_ids:
            members[queue_id] = members.get(queue_id, 0) + sign
            if known:
                presence_known[queue_id] = presence_known.get(queue_id, 0) + sign
            if staffing:
                staffed[queue_id] = staffed.get(queue_id, 0) + sign

    def _agent_state(self, event: Event, p: AgentStateChanged) -> None:
        agent = self.agents.get(p.agent_id)
        if agent is None:
            agent = self.agents[p.agent_id] = AgentView(p.agent_id, p.agent_id)
            self.changes.agents_added = True
        if p.since < agent.since:
            return
        self.intraday.presence(p.agent_id, p.since, p.state)
        before, state = agent.state, p.state
        if (before is AgentState.UNKNOWN) is not (state is AgentState.UNKNOWN) or (
            before in _NOT_STAFFING
        ) is not (state in _NOT_STAFFING):
            self._staff(agent, -1)
            agent.state = state
            self._staff(agent, +1)
        else:  # busy to available and the like: the queues' counts stay as they are
            agent.state = state
        agent.raw_state = p.raw_state
        agent.reason = p.reason
        agent.since = p.since
        agent.work = p.work
        self.changes.agents.add(p.agent_id)
        for queue_id in agent.queue_ids:
            if queue_id in self.queues:
                self.changes.queues.add(queue_id)


_Handler = Callable[[FloorState, Event, Any], None]


def _plain(handlers: dict[str, _Handler]) -> dict[str, _Handler]:
    """The plain floor's own handler where it has one, else the fold's (the same code)."""
    return {kind: getattr(PlainFloor, handler.__name__) for kind, handler in handlers.items()}


_PLAIN = _plain(_HANDLERS)
_PLAIN_WITHOUT_TICKETS = _plain(_HANDLERS_WITHOUT_TICKETS)


# -- the floors -----------------------------------------------------------------------------

OTHER = "other-desk"
"""A second source: its health reports and tickets share the floor with the simulator's."""


def _stir(new: list[NewEvent], seed: int) -> list[NewEvent]:
    """The simulated events with what a real floor also sends put in among them."""
    rng = random.Random(seed)
    queues = sorted({e.payload.queue_id for e in new if isinstance(e.payload, ContactOffered)})
    out: list[NewEvent] = []
    raised: list[str] = []

    def put(payload: Payload, at: float, source: str = "simulator", late: float = 0.0) -> None:
        out.append(
            NewEvent(
                source=source,
                key=f"stir-{len(out)}",
                occurred_at=at,
                received_at=at + late,
                payload=payload,
            )
        )

    for event in new:
        out.append(event)
        p, at = event.payload, event.received_at
        roll = rng.random()
        if isinstance(p, TicketUpserted) and roll < 0.3:
            later = p.updated_at + rng.choice((0.0, 1.0, 45.0))
            pick = rng.randrange(9)
            if pick == 0:  # a late, older copy
                put(p.model_copy(update={"updated_at": p.updated_at - 30.0}), at)
            elif pick == 1:  # moved to another queue
                put(p.model_copy(update={"queue_id": rng.choice(queues), "updated_at": later}), at)
            elif pick == 2:  # rated, again with the same rating, then changed
                for rating in (rng.choice(("good", "bad", "offered")), None, "good", "bad"):
                    put(p.model_copy(update={"satisfaction": rating, "updated_at": later}), at)
            elif pick == 3:  # a complaint created now (on the floor's day, or not)
                created = rng.choice((p.updated_at, p.updated_at - DAY_S, p.created_at))
                fresh = f"c{p.ticket_id}"
                tags = rng.choice((("complaint",), ("vip", "complaint"), ("vip",)))
                put(
                    p.model_copy(update={"ticket_id": fresh, "tags": tags, "created_at": created}),
                    at,
                )
            elif pick == 4:  # solved at first contact, or not, and reopened
                status = rng.choice((TicketStatus.SOLVED, TicketStatus.CLOSED))
                replies = rng.choice((0, 1, 2))
                solved = {"status": status, "agent_replies": replies, "updated_at": later}
                put(p.model_copy(update={**solved, "reopened": rng.random() < 0.5}), at)
                if rng.random() < 0.5:
                    put(
                        p.model_copy(update={"status": TicketStatus.OPEN, "updated_at": later + 1}),
                        at,
                    )
            elif pick == 5:
                put(TicketDeleted(ticket_id=p.ticket_id), at)
            elif pick == 6:  # the same ticket number at another helpdesk, without a queue
                put(p.model_copy(update={"queue_id": rng.choice((None, "", queues[0]))}), at, OTHER)
            elif pick == 7:  # its clocks: one fulfilled, one breached
                for metric, state in (
                    ("next_reply_time", SlaState.ACTIVE),
                    ("x", SlaState.BREACHED),
                ):
                    sla = SlaChanged(
                        ticket_id=p.ticket_id,
                        metric=metric,
                        policy="p",
                        target_s=600.0,
                        due_at=at + 600.0,
                        state=state,
                    )
                    put(sla, at)
                put(sla.model_copy(update={"state": SlaState.FULFILLED}), at)
            else:  # unchanged but for its time: the update most helpdesks send
                put(p.model_copy(update={"updated_at": later}), at)
        elif isinstance(p, AgentStateChanged) and roll < 0.1:
            state = rng.choice((AgentState.UNKNOWN, AgentState.AWAY, AgentState.AVAILABLE))
            since = p.since + rng.choice((-120.0, 0.0, 5.0))  # late, same instant, later
            put(p.model_copy(update={"state": state, "since": since}), at)
        elif roll < 0.02:
            put(
                SourceHealth(state=rng.choice(list(HealthState)), at=at),
                at,
                rng.choice(("simulator", OTHER)),
                late=rng.choice((-50.0, 0.0, 50.0)),
            )
        elif roll < 0.035:
            esc = rng.choice([*raised, f"e{len(raised)}"]) if raised else "e0"
            if esc not in raised:
                raised.append(esc)
            put(_escalation_step(rng, esc, rng.choice(queues), at, len(out)), at)
    return out


def _escalation_step(rng: random.Random, esc: str, queue: str, at: float, n: int) -> Payload:
    pick = rng.randrange(7)
    if pick == 0:
        return EscalationAcked(escalation_id=esc, by="sam", note=rng.choice(("", "on it")), at=at)
    if pick == 1:
        return EscalationNoted(
            escalation_id=esc, by="kim", note=f"note {n}", at=at, write_back=True
        )
    if pick == 2:
        return EscalationSnoozed(escalation_id=esc, by="sam", until=at + 300.0, at=at)
    if pick == 3:
        return EscalationResolved(escalation_id=esc, by=None, reason="cleared", at=at)
    if pick == 4:
        return WriteBackResult(
            escalation_id=esc, request_seq=n, action="note", outcome="delivered", at=at
        )
    return EscalationRaised(
        escalation_id=esc,
        rule_id="r",
        subject=f"queue:{queue}",
        queue_id=queue,
        severity=rng.choice(list(Severity)),
        title=f"raised {n}",
        raised_at=at,
    )


def floor_events(seed: int, hours: float) -> list[Event]:
    new = _stir(simulate(seed=seed, until_s=hours * 3600), seed)
    return [
        Event(
            seq=i,
            source=e.source,
            key=e.key,
            occurred_at=e.occurred_at,
            received_at=e.received_at,
            payload=e.payload,
        )
        for i, e in enumerate(new, 1)
    ]


def _midnight_at(utc_hours: float) -> int:
    """A fixed offset whose floor's midnight falls ``utc_hours`` after the simulation's start."""
    return int(-(EPOCH + utc_hours * 3600) % DAY_S)


ZONES = (
    FloorTargets(),
    FloorTargets(utc_offset_s=_midnight_at(1.25)),
    FloorTargets(utc_offset_s=_midnight_at(2.0) + 1),  # midnight a second into a UTC hour
    FloorTargets(timezone="Asia/Tokyo"),  # its midnight in the floor's hours
    FloorTargets(timezone="Australia/Adelaide"),  # a half-hour zone, midnight in them too
    FloorTargets(timezone="America/St_Johns"),
    FloorTargets(
        default=QueueTargets(sl_threshold_s=30, erlang_window_s=600),
        queues={"chat": QueueTargets(sl_threshold_s=60, short_abandon_s=10)},
        timezone="Pacific/Chatham",
    ),
)


def everything(state: FloorState) -> dict[str, Any]:
    """What a fold leaves that anything reads: the snapshot's data and frozen bytes, and what
    is kept beside them."""
    tally = state.ticket_tally
    return {
        "snapshot": state.snapshot(),
        "frozen": freeze(state),
        "solved_order": list(state.solved_order),
        "resolved_order": list(state.resolved_order),
        "staffed": state.staffed,
        "members": state.members,
        "presence_known": state.presence_known,
        "roster_version": state.roster_version,
        "touched": None if tally is None else tally.touched,
        "settings": state.settings,
    }


def _changes(changes: Changes) -> tuple[Any, ...]:
    return (
        changes.queues,
        changes.agents,
        changes.escalations,
        changes.sources,
        changes.agents_added,
        changes.queues_added,
    )


def fold_both(
    events: list[Event], targets: FloorTargets, seed: int, *, tickets: bool = True
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both folds, fed the same batches (some re-delivered, some one event at a time), their
    changes taken after each batch and compared."""
    rng = random.Random(seed)
    fast, plain = FloorState(targets, tickets=tickets), PlainFloor(targets, tickets=tickets)
    at = 0
    while at < len(events):
        size = rng.choice((1, 7, 250, 1500))
        start = max(0, at - rng.choice((0, 0, 0, 40)))  # an overlapping poll re-delivers some
        batch = events[start : at + size]
        if at > len(events) // 3 and fast.ticket_tally is None:
            fast.ticket_tally, plain.ticket_tally = TicketTally(), TicketTally()
        if size == 7:
            for event in batch:
                fast.apply(event)
        else:
            fast.apply_all(iter(batch))
        plain.apply_all(batch)
        assert _changes(fast.take_changes()) == _changes(plain.take_changes())
        at += size
    return everything(fast), everything(plain)


# -- the tests ------------------------------------------------------------------------------

EVENTS = {seed: floor_events(seed, 3.5) for seed in (3, 11)}


def test_the_floors_hold_what_the_fast_paths_must_get_right() -> None:
    """The stirred floors reach the paths the fold takes: days that change mid-floor, tickets
    that move, close, solve, get rated and complained about, escalations in every step."""
    events = EVENTS[3]
    kinds = {e.payload.KIND for e in events}
    assert kinds >= {
        "ticket.upserted",
        "ticket.deleted",
        "sla.changed",
        "agent.state",
        "contact.offered",
        "contact.answered",
        "contact.abandoned",
        "contact.ended",
        "source.health",
        "escalation.raised",
        "escalation.acked",
        "escalation.noted",
        "escalation.resolved",
        "writeback.result",
    }
    fast, _ = fold_both(events, ZONES[1], 0)
    days = {q["today"]["day"] for q in fast["snapshot"]["queues"].values()}
    first_day = FloorState(ZONES[1]).day_of(events[0].occurred_at)
    assert days and min(days) > first_day  # the floor's day turned during the floor
    totals = {
        k: sum(q["today"][k] for q in fast["snapshot"]["queues"].values())
        for k in ("tickets_created", "tickets_solved", "complaints", "csat_good", "csat_bad")
    }
    assert all(totals.values()), totals
    assert fast["touched"] and fast["solved_order"] and fast["resolved_order"] is not None


@pytest.mark.parametrize("zone", range(len(ZONES)))
@pytest.mark.parametrize("seed", sorted(EVENTS))
def test_the_fold_leaves_what_the_plain_fold_leaves(seed: int, zone: int) -> None:
    fast, plain = fold_both(EVENTS[seed], ZONES[zone], seed * 31 + zone)
    assert fast == plain


@pytest.mark.parametrize("tickets", [True, False])
def test_over_a_day_and_more(tickets: bool) -> None:
    """A floor of 26 hours: every zone's day turns, solved tickets age out of the fold."""
    events = floor_events(5, 26.0)
    for zone in (ZONES[0], ZONES[4]):
        fast, plain = fold_both(events, zone, 5, tickets=tickets)
        assert fast == plain
