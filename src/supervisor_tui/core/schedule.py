"""Schedule adherence and conformance, from the imported schedule and presence timelines.

Standard workforce-management definitions (printed in help):

- adherence = time in the scheduled state ÷ scheduled time. "Open" (on queue) is kept by
  Available, Busy or Wrap-up; any other activity (break, lunch, training, meeting, …) by
  Away or Offline. Time whose presence the helpdesk does not tell is left out of both.
- conformance = time worked (Available, Busy, Wrap-up) ÷ time scheduled to work ("open"),
  whenever in the day it was worked: it can pass 100 %. Scheduled time whose presence is
  not known (before the helpdesk first said it) is left out here too.

Both are taken over the floor's day so far, for agents with a schedule that day.
"""

from __future__ import annotations

import bisect
import functools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from supervisor_tui import i18n
from supervisor_tui.core.intraday import Activity, IntradayBook
from supervisor_tui.core.projection import FloorState
from supervisor_tui.i18n import N_, pgettext
from supervisor_tui.model import AgentState

ADHERENCE_FORMULA = N_("adherence = time in the scheduled state ÷ scheduled time")
CONFORMANCE_FORMULA = N_("conformance = time worked ÷ time scheduled to work")
OPEN_ACTIVITIES = frozenset({"open", "on queue", "on-queue", "work", "phone", "available"})
"""Activities on which an agent is meant to take contacts."""
WORKING = frozenset({AgentState.AVAILABLE, AgentState.BUSY, AgentState.WRAP_UP})
NOT_WORKING = frozenset({AgentState.AWAY, AgentState.OFFLINE})


def activity_word(activity: str) -> str:
    """A planned activity as the agents' list shows it ("" is "off": scheduled today, not
    now). The words schedules commonly use are said in the floor's language; a site's own
    words (its WFM's) are its data, shown as written."""
    return _activity_words(i18n.current()).get(activity.strip().lower() or "off", activity)


@functools.cache
def _activity_words(language: str) -> dict[str, str]:
    del language  # the cache's key: the words below are looked up in the language in use
    return {
        "open": pgettext("schedule activity", "open"),
        "off": pgettext("schedule activity", "off"),
        "break": pgettext("schedule activity", "break"),
        "lunch": pgettext("schedule activity", "lunch"),
        "training": pgettext("schedule activity", "training"),
        "meeting": pgettext("schedule activity", "meeting"),
    }


def is_open(activity: str) -> bool:
    return _is_open(activity)


@functools.lru_cache(maxsize=1024)
def _is_open(activity: str) -> bool:
    return activity.strip().lower() in OPEN_ACTIVITIES


def keeps(activity: str, state: AgentState) -> bool | None:
    """Whether ``state`` is what ``activity`` plans; None when the state is unknown."""
    if state is AgentState.UNKNOWN:
        return None
    return state in WORKING if is_open(activity) else state in NOT_WORKING


def activity_at(book: IntradayBook, agent_id: str, at: float) -> Activity | None:
    planned = book.schedule.get(agent_id, ())
    index = _activity_index(planned, at)
    return None if index is None else planned[index]


def _activity_index(planned: Sequence[Activity], at: float) -> int | None:
    for index, activity in enumerate(planned):
        if activity.start <= at < activity.end:
            return index
        if activity.start > at:
            break
    return None


def state_at(book: IntradayBook, agent_id: str, at: float) -> tuple[float, AgentState] | None:
    """The agent's presence at ``at`` and since when; None before anything was said."""
    timeline = book.states.get(agent_id)
    if timeline is None:
        return None
    i = bisect.bisect_right(timeline.since, at)
    return timeline[i - 1] if i else None


@dataclass(frozen=True, slots=True)
class Adherence:
    """One agent's (or the floor's) figures over a span, in seconds."""

    scheduled_s: float = 0.0
    """Scheduled time whose presence is known."""
    adherent_s: float = 0.0
    open_scheduled_s: float = 0.0
    worked_s: float = 0.0

    @property
    def adherence(self) -> float | None:
        return self.adherent_s / self.scheduled_s if self.scheduled_s > 0 else None

    @property
    def conformance(self) -> float | None:
        return self.worked_s / self.open_scheduled_s if self.open_scheduled_s > 0 else None

    def __add__(self, other: Adherence) -> Adherence:
        return Adherence(
            self.scheduled_s + other.scheduled_s,
            self.adherent_s + other.adherent_s,
            self.open_scheduled_s + other.open_scheduled_s,
            self.worked_s + other.worked_s,
        )


def agent_adherence(book: IntradayBook, agent_id: str, start: float, end: float) -> Adherence:
    """Adherence and conformance of one agent between ``start`` and ``end``; all zero when
    nothing was scheduled for the agent then.

    The span up to the agent's last presence change before ``end`` is remembered on the
    book (it cannot move unless the schedule does): asked again later the same day, only
    the presence changes since are walked."""
    planned = book.schedule.get(agent_id, ())
    if not any(a.end > start and a.start < end for a in planned):
        return Adherence()
    timeline = book.states.get(agent_id)
    if not timeline:
        return Adherence()
    since = timeline.since
    last = bisect.bisect_right(since, end) - 1
    first = since[0]
    version = book.schedule_version
    begin, figures = 0, (0.0, 0.0, 0.0, 0.0)
    memo = book.adherence_memo.get(agent_id)
    if memo is not None and memo[:2] == (start, first) and memo[3] == version and last >= 0:
        at = bisect.bisect_left(since, memo[2])
        if at <= last and since[at] == memo[2]:
            begin, figures = at, memo[4]
    for i in range(begin, last):
        figures = _add_span(
            figures, planned, max(since[i], start), since[i + 1], timeline.state(i), end
        )
    if last >= 0:
        book.adherence_memo[agent_id] = (start, first, since[last], version, figures)
        figures = _add_span(
            figures, planned, max(since[last], start), end, timeline.state(last), end
        )
    return Adherence(*figures)


def _add_span(
    figures: tuple[float, float, float, float],
    planned: Sequence[Activity],
    lo: float,
    hi: float,
    state: AgentState,
    end: float,
) -> tuple[float, float, float, float]:
    """``figures`` (scheduled, adherent, open scheduled, worked) with the presence ``state``
    between ``lo`` and ``hi`` (cut at ``end``) added, against the plan."""
    hi = min(hi, end)
    if hi <= lo:
        return figures
    scheduled, adherent, open_s, worked = figures
    if state in WORKING:
        worked += hi - lo
    for activity in planned:
        if activity.start >= hi:
            break
        overlap = min(hi, activity.end) - max(lo, activity.start)
        if overlap <= 0:
            continue
        kept = keeps(activity.activity, state)
        if kept is None:
            continue
        scheduled += overlap
        if is_open(activity.activity):
            open_s += overlap
        if kept:
            adherent += overlap
    return scheduled, adherent, open_s, worked


def floor_adherence(state: FloorState, start: float, end: float) -> Adherence:
    total = Adherence()
    for agent_id in state.intraday.schedule:
        total = total + agent_adherence(state.intraday, agent_id, start, end)
    return total


@dataclass(frozen=True, slots=True)
class AgentPlan:
    """What the agents board shows beside an agent's state."""

    activity: str | None
    """Scheduled now; None: not scheduled."""
    out_since: float | None
    """Out of adherence since then (beyond the grace time), else None."""


def agent_plan(book: IntradayBook, agent_id: str, now: float, grace_s: float) -> AgentPlan:
    planned = book.schedule.get(agent_id, [])
    index = _activity_index(planned, now)
    if index is None:
        return AgentPlan(None, None)
    activity = planned[index]
    presence = state_at(book, agent_id, now)
    if presence is None or keeps(activity.activity, presence[1]) is not False:
        return AgentPlan(activity.activity, None)
    # out since the later of: the state began, the planned activity began (a run of
    # activities of the same kind counts as one, as a break after lunch is no new start)
    out_since = max(presence[0], _run_starts(book, agent_id, planned)[index])
    return AgentPlan(activity.activity, out_since if now - out_since > grace_s else None)


def _run_starts(book: IntradayBook, agent_id: str, planned: list[Activity]) -> list[float]:
    """For each planned activity, when its run began: back through the activities before
    it while each touches the next and is of the same kind (open or not). Kept on the book
    until the schedule changes: the board asks for every agent out of adherence each time."""
    kept = book.run_starts.get(agent_id)
    if kept is not None and kept[0] == book.schedule_version and kept[1] is planned:
        return kept[2]
    starts: list[float] = []
    for i, activity in enumerate(planned):
        before = planned[i - 1] if i else None
        joined = (
            before is not None
            and before.end >= activity.start
            and is_open(before.activity) == is_open(activity.activity)
        )
        starts.append(starts[-1] if joined else activity.start)
    book.run_starts[agent_id] = (book.schedule_version, planned, starts)
    return starts


def scheduled_open_agents(state: FloorState, queue_id: str, at: float) -> int | None:
    """Agents the schedule puts on ``queue_id`` at ``at`` (on an open activity and serving
    the queue); None when no schedule is known at all."""
    if not state.intraday.schedule:
        return None
    return _scheduled_open(state, at).get(queue_id, 0)


_OPEN_BY_QUEUE: weakref.WeakKeyDictionary[
    FloorState, tuple[tuple[int, int, int], dict[float, dict[str, int]]]
] = weakref.WeakKeyDictionary()
"""Per floor, as it stands (its schedule, which agents serve which queues), the scheduled
agents per queue at each instant asked for: the forecasts of every queue ask for the same
few instants, and a walk of 10,000 schedules per queue per half hour took the board a
minute. Presence and contacts do not move these counts, so a busy floor keeps them."""
OPEN_INSTANTS_KEPT = 512
"""Instants remembered per floor (a day asks for 48, a what-if a few more)."""


def _scheduled_open(state: FloorState, at: float) -> dict[str, int]:
    book = state.intraday
    version = (id(book), book.schedule_version, state.roster_version)
    kept = _OPEN_BY_QUEUE.get(state)
    if kept is None or kept[0] != version or len(kept[1]) >= OPEN_INSTANTS_KEPT:
        kept = (version, {})
        _OPEN_BY_QUEUE[state] = kept
    counts = kept[1].get(at)
    if counts is not None:
        return counts
    counts = {}
    for agent_id in book.schedule:
        agent = state.agents.get(agent_id)
        if agent is None or not agent.queue_ids:
            continue
        activity = activity_at(book, agent_id, at)
        if activity is not None and is_open(activity.activity):
            for queue_id in set(agent.queue_ids):
                counts[queue_id] = counts.get(queue_id, 0) + 1
    kept[1][at] = counts
    return counts
