"""Events → the report. Every figure is a fold of the events inside the window (whatever
the window: a shift, an hour, ``--from``/``--to``), counted through the board's own
classifier (``projection.count_contact``) and formulas (``kpis.contact_figures``), so the
report and the board agree by construction.

Several recordings are merged into one stream by event key (source and key): an event held
by two overlapping recordings counts once.
"""

from __future__ import annotations

import bisect
import heapq
import math
import statistics
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from sys import intern

from supervisor_tui.core.erlang import agents_needed
from supervisor_tui.core.forecast import forecast_interval, mape
from supervisor_tui.core.intraday import INTERVAL_S, KEEP_ALL_S, interval_start
from supervisor_tui.core.kpis import contact_figures, service_level
from supervisor_tui.core.projection import (
    COMPLAINT_TAGS,
    DAY_S,
    AgentView,
    DayCounters,
    FloorState,
    QueueView,
    count_contact,
    count_ticket,
)
from supervisor_tui.core.schedule import agent_adherence, floor_adherence
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import (
    AgentState,
    AgentUpserted,
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
    SlaChanged,
    SlaState,
    SurveyAnswered,
    TicketDeleted,
    TicketUpserted,
    printable,
)
from supervisor_tui.report.model import (
    FCR_NOTE,
    AdherenceHalfHour,
    AgentFigures,
    Aging,
    Distribution,
    EscalationFigures,
    ForecastHalfHour,
    Grouping,
    HalfHour,
    Period,
    QueueFigures,
    Report,
    SlaFigure,
    nps_note,
)

HALF_HOUR_S = 1800
_STAFFING_KINDS = frozenset(("agent.state", "agent.upserted", "queue.upserted"))
"""The events that may change an agent's state, a queue's staffing or whether it is known."""
_TICKET_KINDS = frozenset(
    c.KIND for c in (TicketUpserted, SurveyAnswered, TicketDeleted, SlaChanged)
)
_COUNTED_KINDS = frozenset(
    c.KIND
    for c in (
        ContactOffered,
        ContactAnswered,
        ContactAbandoned,
        ContactEnded,
        EscalationRaised,
        EscalationAcked,
        EscalationResolved,
    )
)
"""What a period counts of the events in it, besides their number."""
_CONTACTS = (ContactOffered, ContactAnswered, ContactAbandoned, ContactEnded)
_CONTACT_KINDS = frozenset(c.KIND for c in _CONTACTS)
REPEAT_WINDOW_S = 7 * 86_400
"""A ticket from a requester who opened another within this long before is a repeat contact."""
MAX_SPAN_DAYS = 400
"""The longest time one recording's report covers (a year of shifts and some)."""


class ReportError(ValueError):
    """The report cannot be made as asked (unknown queue, nothing in range)."""


def _too_long() -> ReportError:
    # each half hour of the span holds figures for every queue: a recording whose times
    # leap years ahead would take the memory of the machine
    return ReportError(
        f"the events span more than {MAX_SPAN_DAYS} days; report a part at a time with "
        "--from and --to"
    )


# -- periods ---------------------------------------------------------------------------------


def period_key(t: float, grouping: Grouping, floor: FloorTargets) -> str:
    """The period holding instant ``t``, by the floor's own calendar (its time zone)."""
    local = floor.local(t)
    if grouping in ("day", "shift"):
        return local.strftime("%Y-%m-%d")
    if grouping == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.strftime("%Y-%m")


def period_bounds(key: str, grouping: Grouping, floor: FloorTargets) -> tuple[float, float, str]:
    """(start, end, label) of a period key, in UTC epoch seconds: from the floor's midnight
    to its next (23 or 25 hours on a day the clocks change)."""
    zone = floor.zone()
    if grouping in ("day", "shift"):
        day = datetime.strptime(key, "%Y-%m-%d")
        start, end = day, day + timedelta(days=1)
        label = day.strftime("%a %d %b %Y")
    elif grouping == "week":
        day = datetime.strptime(key + "-1", "%G-W%V-%u")
        start, end = day, day + timedelta(days=7)
        label = f"{key} (from {day.strftime('%a %d %b')})"
    else:
        day = datetime.strptime(key + "-01", "%Y-%m-%d")
        nxt = (day + timedelta(days=32)).replace(day=1)
        start, end = day, nxt
        label = day.strftime("%B %Y")
    return start.replace(tzinfo=zone).timestamp(), end.replace(tzinfo=zone).timestamp(), label


# -- accumulators -------------------------------------------------------------------------------


@dataclass
class _Half:
    counts: DayCounters = field(default_factory=DayCounters)
    staffed_s: float = 0.0  # agent-seconds signed in and not away
    covered_s: float = 0.0  # seconds of the half hour the recording covers


@dataclass
class _Escalations:
    raised: int = 0
    acked: list[float] = field(default_factory=list)
    resolved: list[float] = field(default_factory=list)

    def figures(self) -> EscalationFigures:
        return EscalationFigures(
            raised=self.raised,
            acked=len(self.acked),
            resolved=len(self.resolved),
            median_ack_s=_median(self.acked),
            median_resolve_s=_median(self.resolved),
        )


@dataclass
class _QueueAcc:
    counts: DayCounters = field(default_factory=DayCounters)
    first_response: list[float] = field(default_factory=list)
    resolution: array[float] = field(default_factory=lambda: array("d"))
    """Each ticket solved in the period, how long it took: 8 bytes each (a month's)."""
    sla: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    backlog_start: Aging | None = None
    backlog_end: Aging | None = None
    escalations: _Escalations = field(default_factory=_Escalations)
    halves: dict[int, _Half] = field(default_factory=lambda: defaultdict(_Half))
    scores: list[int] = field(default_factory=list)
    repeats: int = 0
    reopened: int = 0


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
    queue_agents: dict[str, dict[str, _AgentAcc]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(_AgentAcc))
    )
    """Per queue: what each agent handled in it (``--queue`` shows these)."""
    events: int = 0
    escalations: _Escalations = field(default_factory=_Escalations)
    first_at: float = math.inf
    last_at: float = -math.inf


class _Ticket:
    """What the report keeps of a ticket for the whole fold (the board's projection forgets
    solved tickets after a while): enough to say whether it was open at any instant.

    A month holds hundreds of thousands of these: its times live in one array of numbers
    (created, updated, first response, then when, open after it (1.0 or 0.0) and solved at
    for each update that changed open/solved), not in a float object each."""

    __slots__ = ("complaint", "numbers", "open", "queue_id", "rating", "requester")

    def __init__(self, created_at: float, first: tuple[float, bool, float] | None = None) -> None:
        """``first``: its first sight, as ``changed`` takes it (in the array from the start:
        growing it at once cost as much again)."""
        self.queue_id: str | None = None
        self.open = True
        self.rating: str | None = None
        self.complaint = False
        """A complaint tag was on it at any update (whenever it was added)."""
        self.requester = ""
        if first is None:
            self.numbers = array("d", (created_at, -math.inf, math.nan))
        else:
            when, is_open, solved_at = first
            self.numbers = array(
                "d", (created_at, -math.inf, math.nan, when, 1.0 if is_open else 0.0, solved_at)
            )

    @property
    def created_at(self) -> float:
        return self.numbers[0]

    @property
    def updated_at(self) -> float:
        return self.numbers[1]

    @updated_at.setter
    def updated_at(self, value: float) -> None:
        self.numbers[1] = value

    @property
    def first_response_at(self) -> float | None:
        value = self.numbers[2]
        return None if math.isnan(value) else value

    @first_response_at.setter
    def first_response_at(self, value: float | None) -> None:
        self.numbers[2] = math.nan if value is None else value

    def changed(self, when: float, is_open: bool, solved_at: float) -> None:
        self.numbers.extend((when, 1.0 if is_open else 0.0, solved_at))

    def open_at(self, t: float) -> bool:
        numbers = self.numbers
        if numbers[0] >= t or len(numbers) == 3:
            return False
        state: bool | None = None
        for i in range(3, len(numbers), 3):
            if numbers[i] > t:
                break
            state = numbers[i + 1] == 1.0
        if state is not None:
            return state
        first_open, solved_at = numbers[4] == 1.0, numbers[5]
        return first_open or solved_at > t  # first seen solved: open until it was solved


def merged(recordings: Sequence[tuple[str, Iterable[Event]]]) -> Iterator[Event]:
    """Several recordings as one stream: in time received (each recording's own order kept),
    an event held by several (same source and key) once, numbered afresh.

    One recording is passed through as it is: a store holds an event once (its UNIQUE
    source and key), so remembering every key of a month (millions of them) would buy
    nothing; only a seq that does not go up is numbered afresh."""
    if len(recordings) == 1:
        last = 0  # the projection folds seqs from 1
        for event in recordings[0][1]:
            if event.seq <= last:
                event = event.model_copy(update={"seq": last + 1})
            last = event.seq
            yield event
        return
    seen: set[tuple[str, str]] = set()
    n = 0
    streams = [iter(events) for _, events in recordings]
    for event in heapq.merge(*streams, key=lambda e: e.received_at):
        key = (event.source, event.key)
        if key in seen:
            continue
        seen.add(key)
        n += 1
        yield event.model_copy(update={"seq": n})


# -- the fold -----------------------------------------------------------------------------------


class _Fold:
    shortcuts = True
    """Take the shortcuts below (the period found last, a piece of time that only extends
    the current stretch); a test folds without them to check they change no figure."""

    def __init__(
        self,
        targets: FloorTargets,
        grouping: Grouping,
        span: tuple[float, float],
        follow_settings: bool = False,
    ) -> None:
        self.state = FloorState(targets, follow_settings=follow_settings, tickets=False)
        self.settings_times: list[float] = [-math.inf]
        self.settings_in_force: list[FloorTargets] = [targets]
        """Each recorded ``floor.settings`` from its time onward (targets, time zone), as
        the board applied them: a half hour is sized and a day split by what held then."""
        # a report reads adherence and forecasts for every day of its recordings
        self.state.intraday.kept_s = KEEP_ALL_S
        self.state.intraday.counts_kept_days = int(KEEP_ALL_S // DAY_S)
        self.floor = targets
        self.grouping = grouping
        self.periods: dict[str, _PeriodAcc] = defaultdict(_PeriodAcc)
        self.names: dict[str, tuple[str, str, bool]] = {}
        self.agent_names: dict[str, str] = {}
        self.span = span
        self.now = -math.inf
        self.first = math.inf
        self.tickets: dict[str, _Ticket] = {}
        self.walked_s = 0.0  # time of the span folded so far
        self.breached: set[tuple[str, str]] = set()
        self.met: set[tuple[str, str, float]] = set()
        self.presence_known: set[str] = set()
        self._with_presence: set[str] = set()
        self.surveys: list[tuple[float, str, str | None, int]] = []
        self.surveys_unmatched = 0
        self.surveys_superseded = 0
        """Answers for a ticket that has a later one (or the same one brought twice)."""
        self._bare: dict[str, _Ticket] | None = None
        self._period_cache: list[tuple[FloorTargets, float, float, str]] = []
        """The periods looked up lately: their settings, the instants each holds [lo, hi),
        its key (a strftime an event cost more than the rest of its fold)."""
        self._hit_lo, self._hit_hi, self._hit_key = math.inf, -math.inf, ""
        """The instants [lo, hi) where the period last found from the cache holds (its bounds
        within the settings then in force), and its key: one comparison for most events."""
        # Time on the floor is integrated lazily: the span is walked in pieces (split at
        # half hours, the window's edges and event times, as it always was), and pieces in
        # the same period and half hour form one "stretch" whose figures are added only when
        # an agent's state or a queue's staffing changes, or when the stretch ends.
        self._stretch: tuple[_PeriodAcc, int] | None = None
        self._stretch_key: tuple[str, int] = ("", 0)
        self._stretch_start = 0.0
        self._stretch_end = 0.0
        self._fast_start_before = -math.inf
        self._fast_end_by = -math.inf
        """Time from ``now`` (before the first, to the second) is one more piece of the
        current stretch, as ``_advance`` would cut it: the same period and half hour, no
        window's edge inside (a comparison an event instead of a walk)."""
        self._agent_since: dict[str, float] = {}
        self._queue_since: dict[str, float] = {}
        self._counting: set[str] = set()
        """The queues whose staffing counts now (``_counts``), kept as it changes."""

    def floor_at(self, t: float) -> FloorTargets:
        """The settings in force at ``t``."""
        return self.settings_in_force[bisect.bisect_right(self.settings_times, t) - 1]

    def period(self, t: float) -> _PeriodAcc:
        return self.periods[self.period_of(t)]

    def period_of(self, t: float) -> str:
        """``period_key`` at ``t`` by the settings then, remembering the period's bounds."""
        if self._hit_lo <= t < self._hit_hi:  # the period asked last (most events' own)
            return self._hit_key
        times = self.settings_times
        i = bisect.bisect_right(times, t) - 1
        floor = self.settings_in_force[i]
        for cached in self._period_cache:
            if cached[0] is floor and cached[1] <= t < cached[2]:
                if self.shortcuts:
                    # the instants where this answer holds: the period's, under these settings
                    self._hit_lo = max(cached[1], times[i])
                    self._hit_hi = min(cached[2], times[i + 1] if i + 1 < len(times) else math.inf)
                    self._hit_key = cached[3]
                return cached[3]
        key = period_key(t, self.grouping, floor)
        try:
            lo, hi, _ = period_bounds(key, self.grouping, floor)
        except (OverflowError, ValueError, OSError):
            return key  # a period at the edge of what a datetime holds: not cached
        # kept only when its bounds and the key agree (a clock change at midnight may not);
        # a microsecond off each edge, as the clock rounds to microseconds
        lo, hi = lo + 1e-6, hi - 1e-6
        if (
            lo <= t < hi
            and period_key(lo, self.grouping, floor) == key
            and period_key(hi, self.grouping, floor) == key
        ):
            # a few kept: an event's own day and the days its SLA clocks fall due on
            self._period_cache = [(floor, lo, hi, key), *self._period_cache[:7]]
        return key

    def in_span(self, t: float) -> bool:
        return self.span[0] <= t < self.span[1]

    def run(self, events: Iterable[Event]) -> None:
        state = self.state
        agents, queues = state.agents, state.queues
        for event in events:
            t = _when(event)
            # a late event is counted when it happened (as the board counts it), but time
            # on the floor (staffing, time in state) does not go back
            if t > self.now:
                now = self.now
                if now < self._fast_start_before and t <= self._fast_end_by:
                    # one more piece of the current stretch (``_advance``'s own cut)
                    self.walked_s += t - now
                    if self.walked_s > MAX_SPAN_DAYS * DAY_S:
                        raise _too_long()
                    self._stretch_end = self.now = t
                else:
                    self._advance(t)
            if t < self.first:
                self.first = t
            self._account(event, t)
            kind = event.payload.KIND
            n_agents, n_queues = len(agents), len(queues)
            if kind in _STAFFING_KINDS:
                self._settle_before(event)
                state.apply(event)
                self._learn_presence(event)  # only an agent's events tell of presence
            elif kind in _CONTACT_KINDS and self.shortcuts:
                self._contact(event)
            else:
                state.apply(event)
            if len(agents) != n_agents or len(queues) != n_queues:
                self._arrived()
            if kind == "floor.settings" and state.targets is not (self.settings_in_force[-1]):
                self.settings_times.append(max(t, self.settings_times[-1]))
                self.settings_in_force.append(state.targets)
                self._period_cache = []
                self._hit_lo, self._hit_hi = math.inf, -math.inf
                self._fast_start_before = self._fast_end_by = -math.inf
                self._stretch_key = ("", 0)  # the next piece looks its period up again
        self._end_stretch()
        for queue in self.state.queues.values():
            self.names[queue.queue_id] = (
                queue.name,
                queue.channel.value,
                queue.channel.is_realtime,
            )
        for agent in self.state.agents.values():
            self.agent_names[agent.agent_id] = agent.name
        self._tickets_created()

    def _contact(self, event: Event) -> None:
        """The board's fold of a contact, as far as a report reads the floor: in a queue it
        knows, only the half hours' counts (for forecasts) change of what a report reads
        (``FloorState._contact_*``: its waiting list, today's counters, its trend and
        Erlang window, an agent's handled today are the board's alone), so the rest of the
        board's fold is skipped; a contact in a queue not seen yet is folded whole."""
        state = self.state
        p = event.payload
        if not isinstance(p, _CONTACTS) or p.queue_id not in state.queues:
            state.apply(event)
        elif isinstance(p, ContactOffered):
            state.intraday.offered(p.queue_id, p.offered_at, state.targets)
        elif isinstance(p, ContactEnded):
            handle = p.talk_s + p.hold_s + p.wrap_s
            state.intraday.handled(p.queue_id, p.ended_at, handle, state.targets)

    def _learn_presence(self, event: Event) -> None:
        """Queues whose staffing the recording knows: those served by an agent whose
        presence (a state other than "no presence") has been recorded."""
        payload = event.payload
        if payload.KIND == "queue.upserted":
            self._counting_again()  # its channel may have changed
            return
        agent_id = getattr(payload, "agent_id", None)
        if payload.KIND == "agent.state":
            if getattr(payload, "state", None) is AgentState.UNKNOWN:
                return
            if agent_id in self._with_presence and self.shortcuts:
                # its queues are known already: an agent's state does not change its queues,
                # and a change of queues (``agent.upserted``) added the new ones
                return
            self._with_presence.add(str(agent_id))
        elif payload.KIND != "agent.upserted" or agent_id not in self._with_presence:
            return
        agent = self.state.agents.get(str(agent_id))
        if agent is not None and not self.presence_known.issuperset(agent.queue_ids):
            self.presence_known.update(agent.queue_ids)
            self._counting_again()

    def _counting_again(self) -> None:
        """Which queues' staffing counts (``_counts``), after a queue's channel or the
        queues whose presence is known changed (nothing else changes it)."""
        self._counting = {
            queue_id for queue_id, queue in self.state.queues.items() if self._counts(queue)
        }

    # time passing: staffing integrals and agent state time
    def _advance(self, t: float) -> None:
        if self.now == -math.inf:
            self.now = t
        start = self.now
        counted = min(t, self.span[1]) - max(start, self.span[0])
        if counted > 0:
            self.walked_s += counted
            if self.walked_s > MAX_SPAN_DAYS * DAY_S:
                raise _too_long()
        self._fast_start_before = self._fast_end_by = -math.inf
        while start < t:
            if not self.in_span(start):  # nothing is counted outside the span: skip to it
                if start >= self.span[1]:
                    break
                start = min(t, self.span[0])
                continue
            half = math.floor(start / HALF_HOUR_S) * HALF_HOUR_S
            end = min(t, half + HALF_HOUR_S)
            for edge in self.span:  # the window's edges split time as period edges do
                if start < edge < end:
                    end = edge
            # each piece counts in the period its start falls in, as it always has
            key = (self.period_of(start), int(half))
            if key != self._stretch_key or self._stretch is None:
                self._end_stretch()
                self._stretch = (self.periods[key[0]], key[1])
                self._stretch_key = key
                self._stretch_start = start
            elif start != self._stretch_end:
                # the same period and half hour after a gap (time outside the window):
                # what was counted so far stops where the gap began
                self._end_stretch()
                self._stretch = (self.periods[key[0]], key[1])
                self._stretch_start = start
            self._stretch_end = end
            start = end
        self.now = max(self.now, t)
        now = self.now
        if self.shortcuts and self._stretch is not None and self._stretch_end == now:
            # where the next pieces are this stretch's: while they start in its period (as
            # the cache bounds it, under the settings then) and half hour, in the window,
            # and end by the half hour's end and the window's next edge
            period, stretch_half = self._stretch_key
            if self.period_of(now) == period and self._hit_lo <= now < self._hit_hi:
                half_end = stretch_half + HALF_HOUR_S
                self._fast_start_before = min(self._hit_hi, half_end, self.span[1])
                self._fast_end_by = min([half_end, *(e for e in self.span if e > now)])

    def _counts(self, queue: QueueView) -> bool:
        return queue.channel.is_realtime and queue.queue_id in self.presence_known

    def _settle_agent(self, agent: AgentView) -> None:
        """The agent's time in its state so far in the stretch, counted; from now on anew."""
        stretch = self._stretch
        if stretch is not None:
            dt = self._stretch_end - max(
                self._agent_since.get(agent.agent_id, -math.inf), self._stretch_start
            )
            if dt > 0:
                stretch[0].agents[agent.agent_id].time[agent.state] += dt
        self._agent_since[agent.agent_id] = self.now

    def _settle_queues(self, queue_ids: Iterable[str]) -> None:
        """The queues' staffing so far in the stretch, counted; from now on anew."""
        stretch = self._stretch
        since = self._queue_since
        now = self.now
        if stretch is None:
            for queue_id in queue_ids:
                since[queue_id] = now
            return
        counting, staffed = self._counting, self.state.staffed
        end, start = self._stretch_end, self._stretch_start
        for queue_id in queue_ids:
            if queue_id in counting:
                dt = end - max(since.get(queue_id, -math.inf), start)
                if dt > 0:
                    h = stretch[0].queues[queue_id].halves[stretch[1]]
                    h.staffed_s += staffed.get(queue_id, 0) * dt
                    h.covered_s += dt
            since[queue_id] = now

    def _settle_before(self, event: Event) -> None:
        """Before an event that may change an agent's state, a queue's staffing or whether
        a queue's staffing is known: what they counted until now, counted."""
        p = event.payload
        if isinstance(p, QueueUpserted):
            self._settle_queues((p.queue_id,))
            return
        agent_id = getattr(p, "agent_id", None)
        agent = self.state.agents.get(str(agent_id))
        if agent is not None:
            self._settle_agent(agent)
            self._settle_queues(agent.queue_ids)
        if isinstance(p, AgentUpserted):
            self._settle_queues(p.queue_ids)

    def _arrived(self) -> None:
        """A new agent or queue counts from now (not from the stretch's start)."""
        now = self.now
        for agent_id in self.state.agents.keys() - self._agent_since.keys():
            self._agent_since[agent_id] = now
        for queue_id in self.state.queues.keys() - self._queue_since.keys():
            self._queue_since[queue_id] = now

    def _end_stretch(self) -> None:
        """Every agent's and queue's time to the stretch's end, counted (a half hour, a
        period or the window ended): one walk of the floor a stretch, not one an event."""
        stretch = self._stretch
        if stretch is None:
            return
        acc, half = stretch
        start, end = self._stretch_start, self._stretch_end
        since = self._queue_since
        staffed = self.state.staffed
        counting = self._counting
        for queue in self.state.queues.values():
            if queue.queue_id in counting:
                dt = end - max(since.get(queue.queue_id, -math.inf), start)
                if dt > 0:
                    h = acc.queues[queue.queue_id].halves[half]
                    h.staffed_s += staffed.get(queue.queue_id, 0) * dt
                    h.covered_s += dt
        since = self._agent_since
        for agent in self.state.agents.values():
            dt = end - max(since.get(agent.agent_id, -math.inf), start)
            if dt > 0:
                acc.agents[agent.agent_id].time[agent.state] += dt
        self._stretch = None

    def _seen(self, t: float) -> _PeriodAcc | None:
        """The period an event at ``t`` counts in (None outside the window), told of it."""
        span = self.span
        if not span[0] <= t < span[1]:
            return None
        acc = self.periods[self.period_of(t)]
        acc.events += 1
        if t < acc.first_at:
            acc.first_at = t
        if t > acc.last_at:
            acc.last_at = t
        return acc

    # what each event adds to the period it falls in
    def _account(self, event: Event, t: float) -> None:
        p = event.payload
        kind = p.KIND  # one look at the kind: most events are none of those below
        # facts kept whatever the window: a ticket's life, SLA clocks, escalations
        if kind in _TICKET_KINDS:
            if isinstance(p, TicketUpserted):
                self._ticket(event, p, t)
                return
            if isinstance(p, SurveyAnswered):
                source = event.source
                self.surveys.append((t, f"{source}/{p.ticket_id}", p.ticket_id, p.score))
            if isinstance(p, TicketDeleted):
                self.tickets.pop(f"{event.source}/{p.ticket_id}", None)
            elif isinstance(p, SlaChanged):
                self._sla(event, p, t)
        acc = self._seen(t)
        if acc is None or kind not in _COUNTED_KINDS:
            return
        if isinstance(p, _CONTACTS):
            targets = self.state.targets.for_queue(p.queue_id)
            q = acc.queues[p.queue_id]
            count_contact(q.counts, p, targets)
            count_contact(q.halves[_half(t)].counts, p, targets)
            if isinstance(p, ContactEnded):
                handle = p.talk_s + p.hold_s + p.wrap_s
                for agent in (acc.agents[p.agent_id], acc.queue_agents[p.queue_id][p.agent_id]):
                    agent.handled += 1
                    agent.ended += 1
                    agent.handle_s += handle
        elif isinstance(p, EscalationRaised):
            existing = self.state.escalations.get(p.escalation_id)
            if existing is None or not existing.is_open:  # a step up is the same escalation
                acc.escalations.raised += 1
                if p.queue_id:
                    acc.queues[p.queue_id].escalations.raised += 1
        elif isinstance(p, EscalationAcked):
            self._esc_done(acc, p.escalation_id, p.at, acked=True)
        elif isinstance(p, EscalationResolved):
            self._esc_done(acc, p.escalation_id, p.at, acked=False)

    def _ticket(self, event: Event, p: TicketUpserted, t: float) -> None:
        # names held for the whole fold are interned: one copy each, not one a ticket
        ref = intern(f"{event.source}/{p.ticket_id}")
        life = self.tickets.get(ref)
        if life is not None and life.updated_at > p.updated_at:
            return  # a late, older copy (the board ignores it too)
        first_sight = life is None
        if life is None:
            first = (t, p.status.is_open, p.solved_at or p.updated_at)
            life = self.tickets[ref] = _Ticket(p.created_at, first)
        life.complaint = life.complaint or any(tag in p.tags for tag in COMPLAINT_TAGS)
        if p.requester and p.requester != life.requester:
            life.requester = intern(p.requester)
        life.updated_at = p.updated_at
        if p.queue_id and p.queue_id != life.queue_id:
            life.queue_id = intern(p.queue_id)
        if life.first_response_at is None and p.first_response_at is not None:
            life.first_response_at = p.first_response_at
        was_solved = not first_sight and not life.open
        if not first_sight and p.status.is_open != life.open:
            life.changed(t, p.status.is_open, p.solved_at or p.updated_at)
        rated_before = life.rating
        life.open = p.status.is_open
        life.rating = p.satisfaction if p.satisfaction in ("good", "bad") else life.rating
        acc = self._seen(t)
        if acc is None or not p.queue_id:
            return
        q = acc.queues[p.queue_id]
        solved = count_ticket(
            q.counts, p, created_here=False, was_solved=was_solved, rated_before=rated_before
        )
        if was_solved and p.status.is_open:
            q.reopened += 1
        agents = (
            (acc.agents[p.assignee_id], acc.queue_agents[p.queue_id][p.assignee_id])
            if p.assignee_id
            else ()
        )
        if solved:
            solved_at = p.solved_at or p.updated_at
            q.resolution.append(max(0.0, solved_at - p.created_at))
            for agent in agents:
                agent.handled += 1
        if p.satisfaction in ("good", "bad") and rated_before != p.satisfaction:
            for agent in agents:
                if p.satisfaction == "good":
                    agent.csat_good += 1
                else:
                    agent.csat_bad += 1

    def _tickets_created(self) -> None:
        """Tickets created in each period (by when they were created, however late they were
        first seen), with their first response and complaint tag."""
        for life in self.tickets.values():
            if life.queue_id is None or not self.in_span(life.created_at):
                continue
            q = self.period(life.created_at).queues[life.queue_id]
            q.counts.tickets_created += 1
            q.counts.complaints += life.complaint
            if life.first_response_at is not None:
                q.first_response.append(max(0.0, life.first_response_at - life.created_at))
        by_requester: dict[str, list[float]] = defaultdict(list)
        for life in self.tickets.values():
            if life.requester:
                by_requester[life.requester].append(life.created_at)
        for times in by_requester.values():
            times.sort()
        for life in self.tickets.values():
            if life.queue_id is None or not life.requester or not self.in_span(life.created_at):
                continue
            times = by_requester[life.requester]
            i = bisect.bisect_left(times, life.created_at)
            if i > 0 and life.created_at - times[i - 1] <= REPEAT_WINDOW_S:
                self.period(life.created_at).queues[life.queue_id].repeats += 1
        # one answer per ticket, its latest, whoever brought it (the helpdesk, an import
        # with --source, the same file imported without): merged by the ticket it is for
        latest: dict[int, tuple[float, _Ticket, int]] = {}
        for t, ref, ticket_id, score in self.surveys:
            answered = self.tickets.get(ref) or self._by_bare_id().get(ticket_id or "")
            if answered is None or answered.queue_id is None:
                self.surveys_unmatched += self.in_span(t)
                continue
            kept = latest.get(id(answered))
            if kept is not None:
                self.surveys_superseded += 1
            if kept is None or t >= kept[0]:
                latest[id(answered)] = (t, answered, score)
        for t, answered, score in latest.values():
            if self.in_span(t) and answered.queue_id is not None:
                self.period(t).queues[answered.queue_id].scores.append(score)

    def _by_bare_id(self) -> dict[str, _Ticket]:
        """Tickets by their id alone, for survey answers imported without a source (an id
        two sources share is left out rather than guessed)."""
        if self._bare is None:
            seen: dict[str, _Ticket | None] = {}
            for ref, life in self.tickets.items():
                bare = ref.split("/", 1)[1]
                seen[bare] = None if bare in seen else life
            self._bare = {k: v for k, v in seen.items() if v is not None}
        return self._bare

    def _sla(self, event: Event, p: SlaChanged, t: float) -> None:
        ref = intern(f"{event.source}/{p.ticket_id}")
        life = self.tickets.get(ref)
        if life is None or life.queue_id is None:
            return
        if (
            p.metric == "first_reply_time"
            and p.state is SlaState.FULFILLED
            and life.first_response_at is None
        ):
            # a source that does not say when the first reply came: the SLA fulfil does
            life.first_response_at = t
        metric = intern(p.metric)
        clock = (ref, metric)
        policy = (p.policy or "(no policy)", metric)
        if p.state is SlaState.BREACHED and clock not in self.breached:
            self.breached.add(clock)
            if self.in_span(p.due_at):  # a breach belongs to when the clock fell due
                self.period(p.due_at).queues[life.queue_id].sla[policy][1] += 1
        elif (
            p.state is SlaState.FULFILLED
            and clock not in self.breached
            and (ref, metric, p.due_at) not in self.met
            and self.in_span(t)
        ):
            self.met.add((ref, metric, p.due_at))
            self.period(t).queues[life.queue_id].sla[policy][0] += 1

    def _esc_done(self, acc: _PeriodAcc, escalation_id: str, at: float, *, acked: bool) -> None:
        esc = self.state.escalations.get(escalation_id)
        if esc is None or not esc.is_open:
            return
        if acked and esc.acked_at is not None:
            return  # the first ack counts
        took = max(0.0, at - esc.raised_at)
        (acc.escalations.acked if acked else acc.escalations.resolved).append(took)
        if esc.queue_id:
            q = acc.queues[esc.queue_id].escalations
            (q.acked if acked else q.resolved).append(took)

    def backlog(self, queue_id: str, at: float) -> Aging:
        ages = [
            at - life.created_at
            for life in self.tickets.values()
            if life.queue_id == queue_id and life.open_at(at)
        ]
        return Aging(
            total=len(ages),
            under_1d=sum(1 for a in ages if a < DAY_S),
            d1_to_2d=sum(1 for a in ages if DAY_S <= a < 2 * DAY_S),
            over_2d=sum(1 for a in ages if a >= 2 * DAY_S),
        )


def _half(t: float) -> int:
    return int(math.floor(t / HALF_HOUR_S) * HALF_HOUR_S)


_TIMES = ("offered_at", "answered_at", "abandoned_at", "ended_at", "at", "as_of")
_time_fields: dict[type[Payload], tuple[str, ...]] = {}


def _when(event: Event) -> float:
    """When it happened on the floor (the payload's own time where it has one)."""
    p = event.payload
    names = _time_fields.get(type(p))
    if names is None:  # once a payload class: which of the time fields it has
        names = _time_fields[type(p)] = tuple(n for n in _TIMES if n in type(p).model_fields)
    for attr in names:
        value = getattr(p, attr)
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


def _queue_figures(
    queue_id: str,
    q: _QueueAcc,
    names: dict[str, tuple[str, str, bool]],
    targets: FloorTargets,
    targets_at: Callable[[float], FloorTargets],
) -> QueueFigures:
    """``targets``: those in force at the period's end (its T and SL target as shown);
    ``targets_at``: those in force at an instant (each half hour's need is sized by them)."""
    name, channel, realtime = names.get(queue_id, (queue_id, "other", False))
    t = targets.for_queue(queue_id)
    c = q.counts
    figures = contact_figures(c)
    half_hours = []
    for start in sorted(q.halves):
        h = q.halves[start]
        hc = h.counts
        staffed = round(h.staffed_s / h.covered_s, 2) if h.covered_s else None
        need = None
        if realtime and hc.offered:
            ht = targets_at(float(start)).for_queue(queue_id)
            aht = hc.handle_s / hc.handled if hc.handled else ht.aht_default_s
            need = agents_needed(
                hc.offered / HALF_HOUR_S,
                aht,
                ht.sl_threshold_s,
                ht.sl_target,
                max_concurrent=ht.max_concurrent,
            )
        half_hours.append(
            HalfHour(
                start=float(start),
                offered=hc.offered,
                answered=hc.answered,
                abandoned=hc.abandoned - hc.abandoned_short,
                service_level=service_level(
                    hc.answered_within_t, hc.answered, hc.abandoned_after_t
                ),
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
    promoters = sum(1 for score in q.scores if score >= 9)
    detractors = sum(1 for score in q.scores if score <= 6)
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
        service_level=figures.service_level,
        asa_s=figures.asa_s,
        aht_s=figures.aht_s,
        handled=c.handled,
        abandon_rate=figures.abandon_rate,
        tickets_created=c.tickets_created,
        tickets_solved=c.tickets_solved,
        first_response=_dist(q.first_response),
        resolution=_dist(q.resolution),
        sla=sla,
        backlog_start=q.backlog_start or empty,
        backlog_end=q.backlog_end or q.backlog_start or empty,
        csat_good=c.csat_good,
        csat_bad=c.csat_bad,
        csat=figures.csat,
        fcr_solved=c.fcr_solved,
        fcr_first_contact=c.fcr_first_contact,
        fcr=figures.fcr,
        complaints=c.complaints,
        complaint_rate=_ratio(c.complaints, c.tickets_created),
        escalations=q.escalations.figures(),
        half_hours=tuple(half_hours),
        survey_answers=len(q.scores),
        promoters=promoters,
        detractors=detractors,
        nps=100 * (promoters - detractors) / len(q.scores) if q.scores else None,
        repeat_contacts=q.repeats,
        repeat_contact_rate=_ratio(q.repeats, c.tickets_created),
        reopened=q.reopened,
        reopen_rate=_ratio(q.reopened, c.tickets_solved),
    )


def _agent_figures(
    agent_id: str, a: _AgentAcc, time_of: _AgentAcc, agent_names: dict[str, str]
) -> AgentFigures:
    """``a``: what the agent handled (in one queue, or all); ``time_of``: their time in
    each state (floor-wide: an agent's time is not split between queues)."""
    working = time_of.time[AgentState.BUSY] + time_of.time[AgentState.WRAP_UP]
    signed_in = working + time_of.time[AgentState.AVAILABLE]
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


def _half_hours(fold: _Fold, within: tuple[float, float]) -> Iterator[int]:
    lo, hi = within
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return
    start = interval_start(lo, fold.floor)
    while start < hi:
        yield start
        start += INTERVAL_S


def _with_forecast(
    q: QueueFigures, fold: _Fold, within: tuple[float, float], weeks: int
) -> QueueFigures:
    """The queue's half hours in the period, forecast (from the weeks before, or an import)
    against what was offered."""
    if not q.realtime:
        return q
    book = fold.state.intraday
    rows = []
    for start in _half_hours(fold, within):
        fc = forecast_interval(book, q.queue_id, start, weeks, fold.floor)
        if fc is None:
            continue
        count = book.counts.get(q.queue_id, {}).get(start)
        offered = count.offered if count is not None else 0
        if offered == 0 and fc.offered == 0:
            continue  # closed then, as forecast: no line to read
        aht = count.handle_s / count.handled if count is not None and count.handled else None
        rows.append(
            ForecastHalfHour(
                start=start,
                offered=offered,
                forecast=fc.offered,
                error=abs(offered - fc.offered) / offered if offered else None,
                aht_s=aht,
                forecast_aht_s=fc.aht_s,
                imported=fc.imported,
            )
        )
    return replace(
        q,
        forecast=tuple(rows),
        forecast_mape=mape([(float(r.offered), r.forecast) for r in rows]),
    )


def _with_adherence(a: AgentFigures, fold: _Fold, within: tuple[float, float]) -> AgentFigures:
    if a.agent_id not in fold.state.intraday.schedule or within[1] <= within[0]:
        return a
    got = agent_adherence(fold.state.intraday, a.agent_id, *within)
    return replace(
        a, scheduled_s=got.scheduled_s, adherence=got.adherence, conformance=got.conformance
    )


def _adherence_half_hours(
    fold: _Fold, within: tuple[float, float]
) -> tuple[AdherenceHalfHour, ...]:
    if not fold.state.intraday.schedule:
        return ()
    rows = []
    for start in _half_hours(fold, within):
        got = floor_adherence(fold.state, start, min(start + INTERVAL_S, within[1]))
        if got.scheduled_s > 0:
            rows.append(AdherenceHalfHour(start, got.scheduled_s, got.adherence, got.conformance))
    return tuple(rows)


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
    follow_settings: bool = False,
    history_weeks: int = 4,
) -> Report:
    """The report over these recordings ((name, events in seq order) each), merged by event
    key into one floor."""
    span = (start if start is not None else -math.inf, end if end is not None else math.inf)
    fold = _Fold(targets, grouping, span, follow_settings)
    fold.run(merged(recordings))
    names, periods = fold.names, fold.periods
    if queue is not None and queue not in names:
        by_name = {n: qid for qid, (n, _, _) in names.items()}
        if queue in by_name:
            queue = by_name[queue]
        else:
            known = ", ".join(sorted(f"{qid} ({n})" for qid, (n, _, _) in names.items()))
            raise ReportError(f"no queue {queue!r} in these recordings (known: {known or 'none'})")
    out = []
    for key in sorted(periods):
        acc = periods[key]
        if acc.events == 0:
            continue
        floor = fold.floor_at(acc.first_at)  # the day as the floor's clock then split it
        targets = fold.floor_at(acc.last_at)
        p_start, p_end, label = period_bounds(key, grouping, floor)
        if grouping == "shift":
            first = floor.local(acc.first_at).strftime("%H:%M")
            last = floor.local(acc.last_at).strftime("%H:%M")
            label = f"{label} {first}–{last}"
            p_start, p_end = acc.first_at, acc.last_at
        p_start, p_end = max(p_start, span[0]), min(p_end, span[1])  # the window's part
        # the backlog as it stood at the period's first and last instant in the window
        # and the recording
        opened = max(p_start, span[0], fold.first)
        closed = min(p_end, span[1], fold.now)
        for qid in names:
            q = acc.queues[qid]
            q.backlog_start = fold.backlog(qid, opened)
            q.backlog_end = fold.backlog(qid, closed)
        queue_ids = sorted(acc.queues, key=lambda qid: (names.get(qid, (qid,))[0], qid))
        if queue is not None:
            queue_ids = [qid for qid in queue_ids if qid == queue]
        queues = tuple(
            _queue_figures(qid, acc.queues[qid], names, targets, fold.floor_at)
            for qid in queue_ids
            if qid in names
        )
        if queue is None:
            handled_by = dict(acc.agents)
            escalations = acc.escalations.figures()
        else:
            members = {a.agent_id for a in fold.state.agents.values() if queue in a.queue_ids}
            handled_by = dict(acc.queue_agents.get(queue, {}))
            for agent_id in members:
                handled_by.setdefault(agent_id, _AgentAcc())
            escalations = acc.queues[queue].escalations.figures()
        agents = tuple(
            sorted(
                (
                    _agent_figures(aid, a, acc.agents.get(aid, a), fold.agent_names)
                    for aid, a in handled_by.items()
                ),
                key=lambda f: f.name,
            )
        )
        within = (max(p_start, fold.first), min(p_end, fold.now))
        queues = tuple(_with_forecast(q, fold, within, history_weeks) for q in queues)
        agents = tuple(_with_adherence(a, fold, within) for a in agents)
        floor_day = floor_adherence(fold.state, *within)
        out.append(
            Period(
                label=label,
                start=p_start,
                end=p_end,
                queues=queues,
                agents=agents,
                escalations=escalations,
                events=acc.events,
                adherence=floor_day.adherence,
                conformance=floor_day.conformance,
                adherence_half_hours=_adherence_half_hours(fold, within),
            )
        )
    if not out:
        raise ReportError("no events in the range asked for")
    answers = len(fold.surveys)
    notes = (nps_note(answers, fold.surveys_superseded, fold.surveys_unmatched), FCR_NOTE)
    return Report(
        title=title,
        generated_at=now if now is not None else time.time(),
        sources=tuple(printable(name) for name, _ in recordings),  # a file's name, shown
        grouping=grouping,
        utc_offset_s=fold.state.targets.utc_offset_s,
        periods=tuple(out),
        notes=notes,
        timezone=fold.state.targets.timezone,
    )
