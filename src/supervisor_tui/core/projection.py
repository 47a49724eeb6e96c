"""FloorState: the floor folded from events.

``apply`` is pure bookkeeping over the event alone (no clock, no I/O), so the same events
give the same state live, after a restart, and in replay. Everything that depends on the
time of day (waits, ages, countdowns) is computed later from this state and a ``now``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, get_type_hints
from urllib.parse import quote, urlsplit

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from supervisor_tui.core.intraday import IntradayBook
from supervisor_tui.core.targets import FloorTargets, QueueTargets, targets_from_settings
from supervisor_tui.model import (
    PAYLOAD_TYPES,
    AgentState,
    AgentStateChanged,
    AgentUpserted,
    Capability,
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
    EscalationStatus,
    Event,
    FloorSettingsRecorded,
    ForecastImported,
    HealthState,
    Limit,
    Payload,
    Priority,
    QueueStats,
    QueueUpserted,
    Reason,
    ScheduleImported,
    Severity,
    SlaChanged,
    SlaState,
    SourceHealth,
    TicketDeleted,
    TicketStatus,
    TicketUpserted,
    ViewCount,
    WriteBackResult,
)

DAY_S = 86_400
RESOLVED_KEPT = 300
"""Resolved escalations kept for the feed; older ones live only in the store."""
NOTES_KEPT = 20
HISTORY_KEPT = 20
OVERLAY_KEY = "overlay"
"""The key of a fact folded from outside the store (a trainee's action)."""
SOLVED_KEPT_S = 3600
"""Solved tickets stay in the projection this long after their last update."""
_OPEN_STATUSES = tuple(s for s in TicketStatus if s.is_open)
"""``TicketStatus.is_open`` as a tuple the fold tests against without a property call."""
_NOT_STAFFING = (AgentState.OFFLINE, AgentState.AWAY, AgentState.UNKNOWN)
# Members the fold tests for on every event, as names of the module: an enum's member read
# from its class (``AgentState.UNKNOWN``) goes through a descriptor, about 0.15 µs a read.
_UNKNOWN = AgentState.UNKNOWN
_CLOSED = TicketStatus.CLOSED
_FULFILLED = SlaState.FULFILLED


@dataclass(slots=True)
class DayCounters:
    """A queue's running figures for the floor's current day."""

    day: int = -1
    offered: int = 0
    answered: int = 0
    answered_within_t: int = 0
    abandoned: int = 0  # all abandons, short ones included
    abandoned_short: int = 0
    abandoned_after_t: int = 0
    wait_answered_s: float = 0.0
    handled: int = 0
    handle_s: float = 0.0
    tickets_created: int = 0
    tickets_solved: int = 0
    csat_good: int = 0
    csat_bad: int = 0
    complaints: int = 0
    fcr_solved: int = 0
    """Tickets solved whose source said how many agent replies they took."""
    fcr_first_contact: int = 0
    """Of those, solved with at most one agent reply and never reopened."""


TREND_MINUTES = 60
"""How far back a queue keeps its minute-by-minute trend (the tile's sparkline)."""


@dataclass(slots=True)
class TrendMinute:
    """One minute of a queue's last hour: the contacts counted in it (through the same
    classifier as the day's figures) and the backlog after its last ticket change."""

    minute: int
    counters: DayCounters = field(default_factory=DayCounters)
    backlog: int | None = None

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        """In a snapshot (format 2) a row: the minute, the backlog, then the counters in
        their order. As objects, every minute of every queue's hour repeated the counters'
        17 names (2.2 of the 1,000-agent floor's 10.9 MB of snapshot); rows are still read
        as the objects of format 1."""
        counters = [
            handler.generate_schema(hint)
            for hint in (get_type_hints(DayCounters)[f.name] for f in fields(DayCounters))
        ]
        row = core_schema.tuple_schema(
            [core_schema.int_schema(), handler.generate_schema(int | None), *counters]
        )
        return core_schema.union_schema(
            [
                core_schema.is_instance_schema(cls),
                core_schema.no_info_after_validator_function(_trend_minute_of_row, row),
                handler(source),
            ],
            serialization=core_schema.plain_serializer_function_ser_schema(
                _trend_minute_row, return_schema=row
            ),
        )


def _trend_minute_of_row(row: tuple[Any, ...]) -> TrendMinute:
    return TrendMinute(row[0], DayCounters(*row[2:]), row[1])


_COUNTER_NAMES = tuple(f.name for f in fields(DayCounters))


def _trend_minute_row(minute: TrendMinute) -> tuple[Any, ...]:
    counters = minute.counters
    return (minute.minute, minute.backlog, *(getattr(counters, n) for n in _COUNTER_NAMES))


def trend_minute(trend: deque[TrendMinute], at: float) -> TrendMinute | None:
    """The bucket for the minute of ``at``, made when needed; None when it is older than
    the hour kept. Older minutes fall off as new ones come, so the trend stays bounded."""
    minute = int(at // 60)
    if trend and trend[-1].minute == minute:
        return trend[-1]  # the usual case: the minute being filled
    if not trend or trend[-1].minute < minute:
        trend.append(TrendMinute(minute))
        while trend[0].minute <= minute - TREND_MINUTES:
            trend.popleft()
        return trend[-1]
    if minute <= trend[-1].minute - TREND_MINUTES:
        return None
    # a late event (sources do not arrive in time order): its own minute, in place
    for i in range(len(trend) - 1, -1, -1):
        if trend[i].minute == minute:
            return trend[i]
        if trend[i].minute < minute:
            trend.insert(i + 1, TrendMinute(minute))
            return trend[i + 1]
    trend.appendleft(TrendMinute(minute))
    return trend[0]


COMPLAINT_TAGS = ("complaint",)

Contact = ContactOffered | ContactAnswered | ContactAbandoned | ContactEnded


def count_contact(counters: DayCounters, p: Contact, targets: QueueTargets) -> None:
    """The one classifier of contacts (answered within T, abandoned short or after T,
    handled): the board's day and a report's window both count through it."""
    if isinstance(p, ContactOffered):
        counters.offered += 1
    elif isinstance(p, ContactAnswered):
        counters.answered += 1
        counters.wait_answered_s += p.wait_s
        if p.wait_s <= targets.sl_threshold_s:
            counters.answered_within_t += 1
    elif isinstance(p, ContactAbandoned):
        counters.abandoned += 1
        if p.wait_s <= targets.short_abandon_s:
            counters.abandoned_short += 1
        if p.wait_s > targets.sl_threshold_s:
            counters.abandoned_after_t += 1
    else:
        counters.handled += 1
        counters.handle_s += p.talk_s + p.hold_s + p.wrap_s


def count_ticket(
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
        if p.tags and any(tag in p.tags for tag in COMPLAINT_TAGS):
            counters.complaints += 1
    solved = not was_solved and p.status not in _OPEN_STATUSES
    if solved:
        counters.tickets_solved += 1
        if p.agent_replies > 0:  # the source says how many replies it took (FCR)
            counters.fcr_solved += 1
            if not p.reopened and p.agent_replies <= 1:
                counters.fcr_first_contact += 1
    rating = p.satisfaction
    if rating is not None and rating != rated_before:
        if rating == "good":
            counters.csat_good += 1
        elif rating == "bad":
            counters.csat_bad += 1
    return solved


@dataclass(slots=True)
class QueueView:
    queue_id: str
    name: str
    channel: Channel
    source: str = ""
    """The source that described it: its limits make some of the queue's figures unknown."""
    waiting: dict[str, float] = field(default_factory=dict)  # contact id -> offered at
    reported: QueueStats | None = None
    reported_at_seq: int = 0
    contact_seq: int = 0
    today: DayCounters = field(default_factory=DayCounters)
    recent_offers: deque[float] = field(default_factory=deque)
    recent_handle: deque[tuple[float, float]] = field(default_factory=deque)
    open_tickets: set[str] = field(default_factory=set)
    trend: deque[TrendMinute] = field(default_factory=deque)
    """The last hour, a bucket per minute that saw a contact or a ticket change."""
    sources: set[str] = field(default_factory=set)
    """The sources whose events fed this queue: its figures are as fresh as the stalest."""


@dataclass(slots=True)
class TicketView:
    ref: str  # "source/ticket id"
    source: str
    ticket_id: str
    status: TicketStatus
    raw_status: str
    queue_id: str | None
    priority: Priority | None
    channel: Channel
    assignee_id: str | None
    subject: str
    requester: str
    created_at: float
    updated_at: float
    solved_at: float | None
    tags: tuple[str, ...]
    escalated: bool
    satisfaction: str | None


@dataclass(slots=True)
class SlaView:
    ticket_ref: str
    metric: str
    policy: str
    target_s: float
    due_at: float
    state: SlaState


@dataclass(slots=True)
class AgentView:
    agent_id: str
    name: str
    queue_ids: tuple[str, ...] = ()
    state: AgentState = AgentState.UNKNOWN
    """Until a presence source says otherwise: no status (never offline, never staffing)."""
    raw_state: str = ""
    reason: str = ""
    since: float = 0.0
    work: str = ""
    handled_day: int = -1
    handled_today: int = 0
    email: str = ""
    """For matching a schedule's rows (last, so positional construction keeps its meaning)."""


@dataclass(slots=True)
class WriteBack:
    """An ack, note or resolve on its way to the ticket's helpdesk."""

    request_seq: int
    action: str
    requested_at: float
    state: str = "pending"
    """pending, retrying, delivered or failed (given up): the outbox's words."""
    reason: str = ""
    retry_at: float | None = None
    at: float | None = None
    """When the last attempt ended."""


@dataclass(slots=True)
class Escalation:
    escalation_id: str
    rule_id: str
    subject: str
    queue_id: str | None
    ticket_source: str | None
    ticket_id: str | None
    severity: Severity
    title: str
    detail: str
    raised_at: float
    raised_seq: int
    status: EscalationStatus = EscalationStatus.RAISED
    acked_by: str | None = None
    acked_at: float | None = None
    ack_note: str = ""
    notes: list[tuple[float, str, str]] = field(default_factory=list)
    snoozed_until: float | None = None
    snoozed_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    resolve_reason: str = ""
    write_backs: list[WriteBack] = field(default_factory=list)
    """Each ack, note and resolve written back to the ticket's helpdesk, oldest first."""
    history: list[tuple[float, str]] = field(default_factory=list)
    """What the rules did, oldest first: raised, stepped up, resolved, reopened, each with
    the title (and so the value) of that moment; the title above is the latest."""

    @property
    def is_open(self) -> bool:
        return self.status is not EscalationStatus.RESOLVED

    def is_snoozed(self, now: float) -> bool:
        return self.snoozed_until is not None and now < self.snoozed_until

    def needs_attention(self, now: float) -> bool:
        """Raised, not acked, not snoozed: somebody should look at it."""
        return self.status is EscalationStatus.RAISED and not self.is_snoozed(now)


@dataclass(slots=True)
class SourceView:
    name: str
    ticket_url: str = ""
    """The helpdesk's page of a ticket, ``{id}`` standing for its id ("" none)."""
    state: HealthState = HealthState.CONNECTED
    reason: str = ""
    said: Reason | None = None
    """``reason`` as a code: ``model.reasons.source_reason`` says it in the board's language."""
    retry_at: float | None = None
    budget_left: float | None = None
    poll_interval_s: float | None = None
    health_at: float = 0.0
    newest_event_at: float = 0.0  # when the newest event from this source was received
    data_at: float = 0.0
    """When the newest event other than a health report was received: 0 means the source
    has sent no data at all (it never connected, if it reported trouble)."""
    synced_at: float | None = None
    """When the source first reported CONNECTED (its first full sync done). A source that
    reports health is not caught up before that; one that never reports health is."""
    events: int = 0
    views: dict[str, int | None] = field(default_factory=dict)
    """The helpdesk's own view counts by name; None while it is still counting."""
    limits: tuple[Limit, ...] = ()
    """Capabilities this account does not give: their figures are unknown, never 0."""

    def lacks(self, capability: Capability) -> bool:
        return any(limit.capability is capability and not limit.partial for limit in self.limits)

    def ticket_page(self, ticket_id: str) -> str | None:
        """The helpdesk's own page of this ticket, or None when the source has none. A
        recording from elsewhere is data: only an http(s) address is ever made a link."""
        if not self.ticket_url or urlsplit(self.ticket_url).scheme not in ("http", "https"):
            return None
        return self.ticket_url.replace("{id}", quote(ticket_id, safe=""))


@dataclass(frozen=True, slots=True)
class TicketFigures:
    """A queue's open tickets counted at ``computed_at``: aging buckets and SLA clocks at
    risk or breached. The counts stay true until the queue's tickets change (the projection
    forgets them then) or until ``valid_until``, the next instant a ticket crosses an age
    boundary or an SLA crosses into risk or breach."""

    aging: tuple[int, int, int]
    at_risk: int
    breached: int
    computed_at: float
    valid_until: float

    def holds_at(self, now: float) -> bool:
        return self.computed_at <= now < self.valid_until


TicketShare = tuple[str, int, int, int, float]
"""One open ticket's share of its queue's ``TicketFigures``: queue id, age bucket (0, 1, 2),
SLA clocks at risk, breached, and the instant the clock alone would change it."""


@dataclass(slots=True)
class TicketTally:
    """Each open ticket's share of its queue's backlog figures, summed per queue and kept
    (``kpis.ticket_figures``): the projection notes the tickets an event touched, and the
    figures refigure only those and the shares whose instant came, instead of counting
    every open ticket of a queue each time one of them changes."""

    as_of: float = -math.inf
    """The latest instant a share was figured at: shares hold from there until theirs."""
    touched: set[str] = field(default_factory=set)
    """Tickets whose status, queue or SLA clocks changed since the figures last looked."""
    shares: dict[str, TicketShare] = field(default_factory=dict)
    sums: dict[str, list[int]] = field(default_factory=dict)
    """Per queue: open tickets 0-24 h, 24-48 h, 48 h+, SLA clocks at risk, breached."""
    due: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    """Per queue, a heap of (instant, ticket ref): the shares to figure again when the
    clock gets there (an entry whose share was refigured since is passed over)."""
    built: set[str] = field(default_factory=set)
    """Queues whose open tickets all have their share (the others are counted the first
    time they are asked for)."""


@dataclass(slots=True)
class Changes:
    """What changed since the screen last looked: the widgets redraw only these."""

    queues: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    escalations: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    agents_added: bool = False
    queues_added: bool = False

    def __bool__(self) -> bool:
        return bool(self.queues or self.agents or self.escalations or self.sources)


class FloorState:
    """The floor as the events so far describe it."""

    def __init__(
        self,
        targets: FloorTargets | None = None,
        *,
        follow_settings: bool = False,
        tickets: bool = True,
    ) -> None:
        """``tickets=False``: tickets and their SLA clocks are not kept, only the queue a
        ticket names (a queue first seen on a ticket exists as on the board). A report
        counts tickets itself and reads only queues, agents, escalations and intraday here:
        over a month the board's open tickets and clocks were a third of what it held."""
        self.targets = targets or FloorTargets()
        self.follow_settings = follow_settings
        """Take the targets of the recording's ``floor.settings`` events as they come (a
        report or replay without ``-c``); otherwise they are only noted."""
        self.settings: FloorSettingsRecorded | None = None
        self.seq = 0
        self.queues: dict[str, QueueView] = {}
        self.agents: dict[str, AgentView] = {}
        self.tickets: dict[str, TicketView] = {}
        self.slas: dict[str, dict[str, SlaView]] = {}  # ticket ref -> metric -> SLA
        self.escalations: dict[str, Escalation] = {}
        self.sources: dict[str, SourceView] = {}
        self.resolved_order: deque[str] = deque()
        self.solved_order: deque[tuple[float, str]] = deque()
        self.staffed: dict[str, int] = {}
        """Agents signed in to each queue and not away, kept as agents change."""
        self.members: dict[str, int] = {}
        self.presence_known: dict[str, int] = {}
        """Members of each queue, and those of them whose presence a source tells: a queue
        whose members all have no status has unknown staffing, never 0."""
        self.roster_version = 0
        """Counts every change to which agents serve which queues (figures made from the
        queues' members, such as the schedule's agents per queue, are kept until it moves)."""
        self.changes = Changes()
        self._applying = ""  # the source of the event being folded
        self.overlaid = False
        """A fact not in the store was folded in (``apply_overlay``): no longer the fold of
        the recording's events, so replay never keeps it to seek back to."""
        self.intraday = IntradayBook()
        """Interval history, imported forecasts and schedules, presence timelines."""
        self.ticket_tally: TicketTally | None = None
        """Kept by ``kpis.ticket_figures`` once it is first asked (a report never asks):
        the tickets changed here are noted in it, so a thousand queues of backlog are not
        recounted every second."""
        self._handlers = _HANDLERS if tickets else _HANDLERS_WITHOUT_TICKETS
        """Functions of the class, not bound methods: a state holding its own bound
        methods was a reference cycle, freed only by a full collection (replay lets go of
        states as it seeks, a report or a hub resync of whole floors)."""
        self._handlers_by_type = _BY_TYPE if tickets else _BY_TYPE_WITHOUT_TICKETS
        """The same, by the payload's class (what ``apply_all`` looks them up by)."""

    # -- folding ---------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        self.apply_all((event,))

    def apply_overlay(self, source: str, payload: Payload, at: float) -> None:
        """Fold a fact that is not in the store (a trainee's ack in training), keeping seq."""
        event = Event(
            seq=self.seq,
            source=source,
            key=OVERLAY_KEY,
            occurred_at=at,
            received_at=at,
            payload=payload,
        )
        self._applying = source
        self.overlaid = True
        self._handlers[payload.KIND](self, event, payload)

    def apply_all(self, events: Iterable[Event]) -> None:
        sources, by_type, by_kind = self.sources, self._handlers_by_type, self._handlers
        folded = self.seq
        for event in events:
            seq = event.seq
            if seq <= folded:
                continue  # already folded: applying the same events twice changes nothing
            self.seq = folded = seq
            name = event.source
            source = sources.get(name)
            if source is None:
                source = sources[name] = SourceView(name)
            received = event.received_at
            if received > source.newest_event_at:
                source.newest_event_at = received
            source.events += 1
            payload = event.payload
            # by the payload's class: its KIND, a class attribute of a pydantic model, is
            # read through the model's __getattr__ hook (0.2 µs an event)
            handler = by_type.get(type(payload)) or by_kind[payload.KIND]
            if received > source.data_at and handler is not _SOURCE_HEALTH:
                source.data_at = received
            self.changes.sources.add(name)
            self._applying = name
            handler(self, event, payload)

    def take_changes(self) -> Changes:
        changes, self.changes = self.changes, Changes()
        return changes

    def caught_up(self, source_name: str) -> bool:
        """Whether a source has finished its first sync: rules wait for it, so a half-read
        floor (abandons read before the answers) never raises a false alarm. A source that
        reports no health at all (an old recording) is taken as caught up."""
        source = self.sources.get(source_name)
        return source is None or source.health_at == 0 or source.synced_at is not None

    # The instants [_day_lo, _day_hi) of the floor's local day _day within one UTC hour over
    # which the floor's offset stays the same: a zone's offset changes a few times a year,
    # while every event asks for its local day.
    _day_targets: FloorTargets | None = None
    _day_lo: float = math.inf
    _day_hi: float = -math.inf
    _day: int = 0

    def day_of(self, ts: float) -> int:
        """The floor's local day of ``ts``: ``(ts + offset_at(ts)) // DAY_S``."""
        if self._day_lo <= ts < self._day_hi and self.targets is self._day_targets:
            return self._day
        return self._find_day(ts)

    def _find_day(self, ts: float) -> int:
        targets = self.targets
        if ts < self._day_lo and targets is self._day_targets:
            # before the hour kept (a ticket created days ago, a late event): found without
            # letting go of the hour the floor's events are in
            return int((ts + targets.offset_at(ts)) // DAY_S)
        start = ts // 3600 * 3600
        offset = targets.offset_at(start)
        # Offsets change at whole seconds, and never twice in an hour: the same offset at its
        # first and its last second holds for the whole hour.
        if targets.offset_at(start + 3599) != offset:
            return int((ts + targets.offset_at(ts)) // DAY_S)
        day = int((ts + offset) // DAY_S)
        # The part of the hour on that day; (t + offset) // DAY_S never decreases as t grows,
        # so the day at its first instant and at the last one below its end holds between.
        lo = max(start, day * DAY_S - offset)
        hi = min(start + 3600, (day + 1) * DAY_S - offset)
        if (
            lo <= ts < hi
            and (lo + offset) // DAY_S == day
            and (math.nextafter(hi, -math.inf) + offset) // DAY_S == day
        ):
            self._day_targets, self._day_lo, self._day_hi, self._day = targets, lo, hi, day
        return day

    def _queue(self, queue_id: str) -> QueueView:
        queue = self.queues.get(queue_id)
        if queue is None:
            queue = self.queues[queue_id] = QueueView(queue_id, queue_id, Channel.OTHER)
            self.changes.queues_added = True
        applying = self._applying
        if applying:
            queue.sources.add(applying)
        self.changes.queues.add(queue_id)
        return queue

    def _ticket_touched(self, ref: str) -> None:
        tally = self.ticket_tally
        if tally is not None:
            tally.touched.add(ref)

    @staticmethod
    def _today(queue: QueueView, day: int) -> DayCounters:
        """The queue's counters of ``day`` (a later day starts them again)."""
        if day > queue.today.day:
            queue.today = DayCounters(day=day)
        return queue.today

    def _queue_upserted(self, event: Event, p: QueueUpserted) -> None:
        queue = self._queue(p.queue_id)
        queue.name = p.name
        queue.channel = p.channel
        queue.source = event.source

    def _queue_stats(self, event: Event, p: QueueStats) -> None:
        queue = self._queue(p.queue_id)
        queue.reported = p
        queue.reported_at_seq = event.seq

    def _contact_offered(self, event: Event, p: ContactOffered) -> None:
        queue_id, at, targets = p.queue_id, p.offered_at, self.targets
        queue = self._queue(queue_id)
        queue.waiting[p.contact_id] = at
        queue.contact_seq = event.seq
        day = self.day_of(at)
        today = self._today(queue, day)
        queue_targets = targets.for_queue(queue_id)
        if day == today.day:
            count_contact(today, p, queue_targets)
        self.intraday.offered(queue_id, at, targets)
        window = queue_targets.erlang_window_s
        recent = queue.recent_offers
        recent.append(at)
        while recent and recent[0] < at - window:
            recent.popleft()

    def _contact_answered(self, event: Event, p: ContactAnswered) -> None:
        self._contact_left(event, p, p.answered_at)

    def _contact_abandoned(self, event: Event, p: ContactAbandoned) -> None:
        self._contact_left(event, p, p.abandoned_at)

    def _contact_left(self, event: Event, p: ContactAnswered | ContactAbandoned, at: float) -> None:
        """A contact answered or abandoned: out of the queue, counted in its day and minute."""
        queue_id = p.queue_id
        queue = self._queue(queue_id)
        queue.waiting.pop(p.contact_id, None)
        queue.contact_seq = event.seq
        queue_targets = self.targets.for_queue(queue_id)
        day = self.day_of(at)
        today = self._today(queue, day)
        if day == today.day:
            count_contact(today, p, queue_targets)
        bucket = trend_minute(queue.trend, at)
        if bucket is not None:
            count_contact(bucket.counters, p, queue_targets)

    @staticmethod
    def _trend_backlog(queue: QueueView, at: float) -> None:
        bucket = trend_minute(queue.trend, at)
        if bucket is not None:
            bucket.backlog = len(queue.open_tickets)

    def _contact_ended(self, event: Event, p: ContactEnded) -> None:
        queue_id, at, targets = p.queue_id, p.ended_at, self.targets
        queue = self._queue(queue_id)
        handle = p.talk_s + p.hold_s + p.wrap_s
        day = self.day_of(at)
        today = self._today(queue, day)
        queue_targets = targets.for_queue(queue_id)
        if day == today.day:
            count_contact(today, p, queue_targets)
        self.intraday.handled(queue_id, at, handle, targets)
        recent = queue.recent_handle
        recent.append((at, handle))
        window = queue_targets.erlang_window_s
        while recent and recent[0][0] < at - window:
            recent.popleft()
        self._count_handled(p.agent_id, at)

    def _count_handled(self, agent_id: str, at: float) -> None:
        """A contact ended or a ticket solved: one more handled today for the agent."""
        agent = self.agents.get(agent_id)
        if agent is None:
            return
        day = self.day_of(at)
        if day > agent.handled_day:
            agent.handled_day, agent.handled_today = day, 0
        if day == agent.handled_day:
            agent.handled_today += 1
        self.changes.agents.add(agent_id)

    def _ticket_queue_only(self, event: Event, p: TicketUpserted) -> None:
        if p.queue_id:
            self._queue(p.queue_id)

    def _not_kept(self, event: Event, p: Payload) -> None:
        return None

    def _ticket_upserted(self, event: Event, p: TicketUpserted) -> None:
        # each field read once: a pydantic model's fields are read through its __getattr__ hook
        source, ticket_id = event.source, p.ticket_id
        ref = f"{source}/{ticket_id}"
        tickets = self.tickets
        before = tickets.get(ref)
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
        created = p.created_at
        if queue_id:
            queue = self._queue(queue_id)
            day = self.day_of(updated)
            today = self._today(queue, day)
            if day == today.day:
                solved = count_ticket(
                    today,
                    p,
                    created_here=before is None and self.day_of(created) == day,
                    was_solved=before is not None and before.status not in _OPEN_STATUSES,
                    rated_before=before.satisfaction if before is not None else None,
                )
                if solved:
                    assignee_id = p.assignee_id
                    if assignee_id is not None:
                        self._count_handled(assignee_id, updated)
            if is_open:
                queue.open_tickets.add(ref)
            else:
                queue.open_tickets.discard(ref)
            self._trend_backlog(queue, updated)
        if status is _CLOSED:
            self._forget_ticket(ref)
        else:
            tickets[ref] = TicketView(
                ref,
                source,
                ticket_id,
                status,
                p.raw_status or status.value,
                queue_id,
                p.priority,
                p.channel,
                p.assignee_id,
                p.subject,
                p.requester,
                created,
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
            kept = tickets.get(old)
            if (
                kept is not None
                and kept.status not in _OPEN_STATUSES
                and kept.updated_at < kept_after
            ):
                self._forget_ticket(old)

    def _ticket_deleted(self, event: Event, p: TicketDeleted) -> None:
        self._forget_ticket(f"{event.source}/{p.ticket_id}", event.occurred_at)

    def _forget_ticket(self, ref: str, at: float | None = None) -> None:
        self._ticket_touched(ref)
        ticket = self.tickets.pop(ref, None)
        if ticket is not None and ticket.queue_id:
            queue = self._queue(ticket.queue_id)
            queue.open_tickets.discard(ref)
            if at is not None:
                self._trend_backlog(queue, at)
        self.slas.pop(ref, None)

    def _sla_changed(self, event: Event, p: SlaChanged) -> None:
        ref = f"{event.source}/{p.ticket_id}"
        slas = self.slas
        metrics = slas.get(ref)
        state = p.state
        if state is _FULFILLED:
            if metrics is not None:
                metrics.pop(p.metric, None)
                if not metrics:
                    del slas[ref]
        else:
            if metrics is None:
                metrics = slas[ref] = {}
            metric = p.metric
            metrics[metric] = SlaView(ref, metric, p.policy, p.target_s, p.due_at, state)
        self._ticket_touched(ref)
        ticket = self.tickets.get(ref)
        if ticket is not None and ticket.queue_id:
            self.changes.queues.add(ticket.queue_id)

    def _agent_upserted(self, event: Event, p: AgentUpserted) -> None:
        agent = self.agents.get(p.agent_id)
        if agent is None:
            agent = self.agents[p.agent_id] = AgentView(p.agent_id, p.name)
            self.changes.agents_added = True
        self._staff(agent, -1)
        if agent.queue_ids != p.queue_ids:
            self.roster_version += 1
        agent.name = p.name
        agent.queue_ids = p.queue_ids
        agent.email = p.email
        self._staff(agent, +1)
        self.changes.agents.add(p.agent_id)

    def _staff(self, agent: AgentView, sign: int) -> None:
        state = agent.state
        known = state is not _UNKNOWN
        staffing = state not in _NOT_STAFFING
        members, presence_known, staffed = self.members, self.presence_known, self.staffed
        for queue_id in agent.queue_ids:
            members[queue_id] = members.get(queue_id, 0) + sign
            if known:
                presence_known[queue_id] = presence_known.get(queue_id, 0) + sign
            if staffing:
                staffed[queue_id] = staffed.get(queue_id, 0) + sign

    def _agent_state(self, event: Event, p: AgentStateChanged) -> None:
        agent_id = p.agent_id
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = AgentView(agent_id, agent_id)
            self.changes.agents_added = True
        since = p.since
        if since < agent.since:
            return
        before, state = agent.state, p.state
        self.intraday.presence(agent_id, since, state)
        if (before is _UNKNOWN) is not (state is _UNKNOWN) or (before in _NOT_STAFFING) is not (
            state in _NOT_STAFFING
        ):
            self._staff(agent, -1)
            agent.state = state
            self._staff(agent, +1)
        else:  # busy to available and the like: the queues' counts stay as they are
            agent.state = state
        agent.raw_state = p.raw_state
        agent.reason = p.reason
        agent.since = since
        agent.work = p.work
        changes = self.changes
        changes.agents.add(agent_id)
        queues = self.queues
        changed_queues = changes.queues
        for queue_id in agent.queue_ids:
            if queue_id in queues:
                changed_queues.add(queue_id)

    def _escalation_raised(self, event: Event, p: EscalationRaised) -> None:
        existing = self.escalations.get(p.escalation_id)
        if existing is not None:
            if existing.is_open:
                # The same condition stepped up (or down): keep the ack, show the new severity.
                existing.history.append((p.raised_at, f"{p.severity.value}: {p.title}"))
            else:
                # It came back soon after it cleared: the same escalation, open again (the
                # rules decide how soon; an old one is never raised with the same id).
                existing.status = EscalationStatus.RAISED
                existing.resolved_at = existing.resolved_by = None
                existing.resolve_reason = ""
                existing.snoozed_until = existing.snoozed_by = None
                existing.history.append((p.raised_at, f"reopened, {p.severity.value}: {p.title}"))
            existing.severity = p.severity
            existing.title = p.title
            existing.detail = p.detail
            del existing.history[:-HISTORY_KEPT]
        else:
            self.escalations[p.escalation_id] = Escalation(
                escalation_id=p.escalation_id,
                rule_id=p.rule_id,
                subject=p.subject,
                queue_id=p.queue_id,
                ticket_source=p.ticket_source,
                ticket_id=p.ticket_id,
                severity=p.severity,
                title=p.title,
                detail=p.detail,
                raised_at=p.raised_at,
                raised_seq=event.seq,
                history=[(p.raised_at, f"raised, {p.severity.value}: {p.title}")],
            )
        self.changes.escalations.add(p.escalation_id)

    def _escalation_acked(self, event: Event, p: EscalationAcked) -> None:
        esc = self.escalations.get(p.escalation_id)
        if esc is None or not esc.is_open:
            return
        self._write_back(esc, event, "ack", p.at, p.write_back)
        esc.status = EscalationStatus.ACKED
        esc.acked_by = p.by
        esc.acked_at = p.at
        if p.note:
            esc.ack_note = p.note
            self._add_note(esc, p.at, p.by, p.note)
        elif esc.notes:
            esc.ack_note = esc.notes[-1][2]  # acked without words: the latest note stands
        self.changes.escalations.add(p.escalation_id)

    def _escalation_noted(self, event: Event, p: EscalationNoted) -> None:
        esc = self.escalations.get(p.escalation_id)
        if esc is None:
            return
        self._write_back(esc, event, "note", p.at, p.write_back)
        self._add_note(esc, p.at, p.by, p.note)
        if esc.status is EscalationStatus.ACKED:
            esc.ack_note = p.note  # an acked escalation shows its latest note
        self.changes.escalations.add(p.escalation_id)

    @staticmethod
    def _add_note(esc: Escalation, at: float, by: str, note: str) -> None:
        esc.notes.append((at, by, note))
        del esc.notes[:-NOTES_KEPT]

    def _escalation_snoozed(self, event: Event, p: EscalationSnoozed) -> None:
        esc = self.escalations.get(p.escalation_id)
        if esc is None or not esc.is_open:
            return
        esc.snoozed_until = p.until
        esc.snoozed_by = p.by
        self.changes.escalations.add(p.escalation_id)

    def _escalation_resolved(self, event: Event, p: EscalationResolved) -> None:
        esc = self.escalations.get(p.escalation_id)
        if esc is None or not esc.is_open:
            return
        self._write_back(esc, event, "resolve", p.at, p.write_back)
        esc.status = EscalationStatus.RESOLVED
        esc.resolved_at = p.at
        esc.resolved_by = p.by
        esc.resolve_reason = p.reason
        esc.snoozed_until = None
        esc.history.append((p.at, f"resolved by {p.by or 'the rules'}: {p.reason}"))
        del esc.history[:-HISTORY_KEPT]
        self.resolved_order.append(p.escalation_id)
        while len(self.resolved_order) > RESOLVED_KEPT:
            old = self.resolved_order.popleft()
            gone = self.escalations.get(old)
            if gone is not None and not gone.is_open:
                del self.escalations[old]
                self.changes.escalations.add(old)
        self.changes.escalations.add(p.escalation_id)

    @staticmethod
    def _write_back(esc: Escalation, event: Event, action: str, at: float, queued: bool) -> None:
        if queued and event.key != OVERLAY_KEY:  # a trainee's ack is never written back
            esc.write_backs.append(WriteBack(event.seq, action, at))
            del esc.write_backs[:-NOTES_KEPT]

    def _writeback_result(self, event: Event, p: WriteBackResult) -> None:
        esc = self.escalations.get(p.escalation_id)
        if esc is None:
            return
        for wb in esc.write_backs:
            if wb.request_seq == p.request_seq:
                wb.state, wb.reason, wb.retry_at, wb.at = p.outcome, p.reason, p.retry_at, p.at
                self.changes.escalations.add(p.escalation_id)
                return

    def _source_health(self, event: Event, p: SourceHealth) -> None:
        source = self.sources[event.source]
        source.ticket_url = p.ticket_url
        source.state = p.state
        source.reason, source.said = p.reason, p.said
        source.retry_at = p.retry_at
        source.budget_left = p.budget_left
        source.poll_interval_s = p.poll_interval_s
        source.health_at = p.at
        if source.limits != p.limits:
            source.limits = p.limits
            self.changes.queues.update(q for q, v in self.queues.items() if v.source == source.name)
        if p.state is HealthState.CONNECTED and source.synced_at is None:
            source.synced_at = p.at

    def _view_count(self, event: Event, p: ViewCount) -> None:
        self.sources[event.source].views[p.name] = p.count
        self.changes.sources.add(event.source)

    def _survey_answered(self, event: Event, p: Payload) -> None:
        """Survey answers are a report's figure (NPS), not a live one."""

    def _forecast_imported(self, event: Event, p: ForecastImported) -> None:
        self.intraday.forecast_imported(p)
        self.changes.queues.update(r.queue_id for r in p.intervals if r.queue_id in self.queues)

    def _schedule_imported(self, event: Event, p: ScheduleImported) -> None:
        self.intraday.schedule_imported(p)
        self.changes.agents.update(r.agent_id for r in p.activities if r.agent_id in self.agents)

    def _floor_settings(self, event: Event, p: FloorSettingsRecorded) -> None:
        self.settings = p
        if self.follow_settings:
            self.targets = targets_from_settings(p)

    # -- comparing -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything the events determine, as plain data (for equality checks and snapshots)."""
        return {
            "seq": self.seq,
            "queues": {k: _plain(asdict(v)) for k, v in sorted(self.queues.items())},
            "agents": {k: asdict(v) for k, v in sorted(self.agents.items())},
            "tickets": {k: asdict(v) for k, v in sorted(self.tickets.items())},
            "slas": {
                ref: {m: asdict(v) for m, v in sorted(metrics.items())}
                for ref, metrics in sorted(self.slas.items())
            },
            "escalations": {k: asdict(v) for k, v in sorted(self.escalations.items())},
            "sources": {k: asdict(v) for k, v in sorted(self.sources.items())},
            "intraday": _plain(asdict(self.intraday)),
        }


_Handler = Callable[[FloorState, Event, Any], None]
_HANDLERS: dict[str, _Handler] = {
    "ticket.upserted": FloorState._ticket_upserted,
    "ticket.deleted": FloorState._ticket_deleted,
    "sla.changed": FloorState._sla_changed,
    "agent.upserted": FloorState._agent_upserted,
    "agent.state": FloorState._agent_state,
    "queue.upserted": FloorState._queue_upserted,
    "queue.stats": FloorState._queue_stats,
    "contact.offered": FloorState._contact_offered,
    "contact.answered": FloorState._contact_answered,
    "contact.abandoned": FloorState._contact_abandoned,
    "contact.ended": FloorState._contact_ended,
    "escalation.raised": FloorState._escalation_raised,
    "escalation.acked": FloorState._escalation_acked,
    "escalation.noted": FloorState._escalation_noted,
    "escalation.snoozed": FloorState._escalation_snoozed,
    "escalation.resolved": FloorState._escalation_resolved,
    "writeback.result": FloorState._writeback_result,
    "source.health": FloorState._source_health,
    "view.count": FloorState._view_count,
    "floor.settings": FloorState._floor_settings,
    "survey.answered": FloorState._survey_answered,
    "forecast.imported": FloorState._forecast_imported,
    "schedule.imported": FloorState._schedule_imported,
}
_HANDLERS_WITHOUT_TICKETS: dict[str, _Handler] = {
    **_HANDLERS,
    "ticket.upserted": FloorState._ticket_queue_only,
    "ticket.deleted": FloorState._not_kept,
    "sla.changed": FloorState._not_kept,
}
_BY_TYPE: dict[type[Payload], _Handler] = {PAYLOAD_TYPES[k]: h for k, h in _HANDLERS.items()}
_BY_TYPE_WITHOUT_TICKETS: dict[type[Payload], _Handler] = {
    PAYLOAD_TYPES[k]: h for k, h in _HANDLERS_WITHOUT_TICKETS.items()
}
_SOURCE_HEALTH: _Handler = FloorState._source_health
"""The handler of the one kind of event that is not data (a source's health)."""


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, deque | list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(value)
    return value
