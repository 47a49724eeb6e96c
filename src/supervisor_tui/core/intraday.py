"""The intraday book: what forecast, adherence and the what-if read, folded with the floor.

Per queue and half hour: contacts offered and handled (from the store's own history, so a
forecast needs no other system); forecasts and schedules imported from a workforce tool;
and each agent's presence timeline. It lives inside FloorState, so the board, replay (through
snapshots) and the hub see the same book at the same instant.
"""

from __future__ import annotations

import base64
import bisect
import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from pydantic import Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import AgentState, ForecastImported, ScheduleImported

FORECAST_SOURCE = "forecast"
SCHEDULE_SOURCE = "schedule"
HISTORY_SOURCE = "history"
"""The sources of imported forecasts and schedules and of the demo's written history (the
simulator names the same two of its own): not helpdesks, so never stale on the board."""
INTRADAY_SOURCES = frozenset({FORECAST_SOURCE, SCHEDULE_SOURCE, HISTORY_SOURCE})

INTERVAL_S = 1800
"""The half hour every forecast, schedule and report interval is counted in."""
DAY_S = 86_400
COUNTS_KEPT_DAYS = 9 * 7
"""Interval counts are kept nine weeks: enough for a forecast over the last eight."""
TIMELINE_KEPT_S = 2.0 * DAY_S
KEEP_ALL_S = 1e11
"""What a report keeps: everything its recordings hold."""
"""Presence and schedule are kept two days back (today's adherence needs only today)."""


@dataclass(frozen=True, slots=True)
class IntradaySettings:
    """``[intraday]`` in the config."""

    history_weeks: int = 4
    """A forecast is the mean of the same weekday and half hour over this many past weeks."""
    over_forecast_margin: float = 0.15
    """A queue is flagged when its offered contacts today run more than this share above
    forecast."""
    over_forecast_min: int = 10
    """…and by at least this many contacts (a quiet morning's 3 against 2 is no alarm)."""
    adherence_grace_s: float = 300.0
    """An agent is flagged out of adherence only after this long out of the scheduled state."""
    whatif_intervals: int = 4
    """Half hours after the current one that the what-if projects."""


Presence = tuple[float, AgentState]
_STATES: tuple[AgentState, ...] = tuple(AgentState)
_CODE = {state: code for code, state in enumerate(_STATES)}
_NO_CODE = 0xFF
"""Never a state's code (the vocabulary has a handful): marks a code a snapshot's own
vocabulary does not name."""


class PresenceTimeline:
    """An agent's presence changes, oldest first, as (since, state) pairs: two arrays, 9 bytes
    a change. A tuple a change (about 90 bytes, three objects) made a 1,000-agent floor's two
    days of presence 350,000 tuples: the most objects of a snapshot to build when replay
    restores one, and to walk at each full collection while a state is held. Read like the
    list of pairs it stands for; ``since`` is there to bisect on."""

    __slots__ = ("_codes", "since")

    def __init__(self, changes: Iterable[Presence] = ()) -> None:
        self.since = array("d")
        self._codes = bytearray()
        for since, state in changes:
            self.since.append(since)
            self._codes.append(_CODE[state])

    def __len__(self) -> int:
        return len(self._codes)

    def __bool__(self) -> bool:
        return bool(self._codes)

    def __getitem__(self, i: int) -> Presence:
        return self.since[i], _STATES[self._codes[i]]

    def __iter__(self) -> Iterator[Presence]:
        return zip(self.since, map(_STATES.__getitem__, self._codes), strict=True)

    def state(self, i: int) -> AgentState:
        return _STATES[self._codes[i]]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PresenceTimeline):
            return self.since == other.since and self._codes == other._codes
        return isinstance(other, list | tuple) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PresenceTimeline({list(self)!r})"

    def record(self, since: float, state: AgentState) -> None:
        """A change reported at ``since``: a later one is added, one at the same instant as
        the last replaces it, an older one (a late report) is dropped, as the projection
        drops it."""
        if self._codes:
            last = self.since[-1]
            if since < last:
                return
            if since == last:
                self._codes[-1] = _CODE[state]
                return
        self.since.append(since)
        self._codes.append(_CODE[state])

    def forget_before(self, cut: float) -> None:
        """Drop the changes before ``cut`` but the last of them: the state the agent was in
        when the cut fell (and always the last two changes)."""
        since = self.since
        if len(since) > 2 and since[1] <= cut:
            drop = min(len(since) - 2, bisect.bisect_right(since, cut) - 1)
            del since[:drop]
            del self._codes[:drop]


class _CompactPresence(TypedDict):
    """A book's presence timelines as a snapshot (format 2) holds them: each agent and how
    many changes are its, then every change of every agent in that order, in base64: the
    instants as little-endian doubles, byte-shuffled (every double's first byte, then every
    second byte, and so on: nearby instants share their high bytes, so the 1,000-agent
    floor's presence compresses to 1.65 MB against 1.90 as decimal text and 2.25
    unshuffled), and each state as a byte naming its place in ``of``. One piece for all: a
    piece an agent cost 44 µs each to decode at a restore."""

    agents: list[str]
    counts: list[int]
    since: str
    states: str
    of: list[AgentState]


class PresenceTimelines(dict[str, PresenceTimeline]):
    """agent -> presence timeline, written in a snapshot as one ``_CompactPresence``; read
    from it, or from the list of (since, state) pairs per agent that format 1 wrote."""

    def compact(self) -> _CompactPresence:
        since = array("d")
        codes = bytearray()
        for timeline in self.values():
            since.extend(timeline.since)
            codes.extend(timeline._codes)
        if sys.byteorder == "big":
            since.byteswap()
        raw = since.tobytes()
        return {
            "agents": list(self),
            "counts": [len(timeline) for timeline in self.values()],
            "since": base64.b64encode(b"".join(raw[i::8] for i in range(8))).decode("ascii"),
            "states": base64.b64encode(codes).decode("ascii"),
            "of": list(_STATES),
        }

    @classmethod
    def from_compact(cls, compact: _CompactPresence) -> PresenceTimelines:
        """The timelines ``compact`` holds; ValueError when its parts do not pair up or a
        state is one its ``of`` does not name (the snapshot then does not load)."""
        agents, counts = compact["agents"], compact["counts"]
        raw_since = base64.b64decode(compact["since"], validate=True)
        raw_codes = base64.b64decode(compact["states"], validate=True)
        total = len(raw_codes)
        if (
            len(agents) != len(counts)
            or any(n < 0 for n in counts)
            or sum(counts) != total
            or len(raw_since) != 8 * total
        ):
            raise ValueError("the presence timelines' agents, instants and states do not pair up")
        of = compact["of"]
        if len(of) >= _NO_CODE:
            raise ValueError("the presence timelines name too many states")
        table = bytearray([_NO_CODE]) * 256
        for code, state in enumerate(of):
            table[code] = _CODE[state]
        codes = bytearray(raw_codes.translate(table))
        if _NO_CODE in codes:
            raise ValueError("a presence timeline holds a state it does not name")
        unshuffled = bytearray(len(raw_since))
        for i in range(8):
            unshuffled[i::8] = raw_since[i * total : (i + 1) * total]
        since = memoryview(unshuffled)
        timelines = cls()
        at = 0
        for agent_id, count in zip(agents, counts, strict=True):
            timeline = timelines[agent_id] = PresenceTimeline()
            timeline.since.frombytes(since[8 * at : 8 * (at + count)])
            if sys.byteorder == "big":
                timeline.since.byteswap()
            timeline._codes = codes[at : at + count]
            at += count
        return timelines

    @classmethod
    def of_pairs(cls, pairs: dict[str, list[Presence]]) -> PresenceTimelines:
        return cls((agent_id, PresenceTimeline(changes)) for agent_id, changes in pairs.items())

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        def typed(of: Any) -> core_schema.TypedDictField:
            return core_schema.typed_dict_field(handler.generate_schema(of))

        compact = core_schema.typed_dict_schema(
            {
                "agents": typed(list[str]),
                "counts": typed(list[int]),
                "since": typed(str),
                "states": typed(str),
                "of": typed(list[AgentState]),
            }
        )
        return core_schema.union_schema(
            [
                core_schema.is_instance_schema(cls),
                core_schema.no_info_after_validator_function(cls.from_compact, compact),
                core_schema.no_info_after_validator_function(
                    cls.of_pairs, handler.generate_schema(dict[str, list[tuple[float, AgentState]]])
                ),
            ],
            serialization=core_schema.plain_serializer_function_ser_schema(
                PresenceTimelines.compact
            ),
        )


@dataclass(slots=True)
class IntervalCount:
    offered: int = 0
    handled: int = 0
    handle_s: float = 0.0


@dataclass(slots=True)
class PlannedInterval:
    offered: float
    aht_s: float


@dataclass(slots=True)
class Activity:
    start: float
    end: float
    activity: str


@dataclass(slots=True)
class IntradayBook:
    counts: dict[str, dict[int, IntervalCount]] = field(default_factory=dict)
    """queue -> interval start (UTC seconds) -> what happened in it."""
    days_seen: dict[str, set[int]] = field(default_factory=dict)
    """queue -> floor days on which it offered anything: a week absent from the store is no
    week of zero contacts."""
    imported: dict[str, dict[int, PlannedInterval]] = field(default_factory=dict)
    schedule: dict[str, list[Activity]] = field(default_factory=dict)
    """agent -> planned activities, by start."""
    states: PresenceTimelines = field(default_factory=PresenceTimelines)
    """agent -> presence changes (since, state), oldest first."""
    pruned_day: int = -1
    kept_s: float = TIMELINE_KEPT_S
    """How far back presence and schedules are kept (a report over weeks keeps them all)."""
    counts_kept_days: int = COUNTS_KEPT_DAYS
    schedule_ends_from: float | None = None
    """No planned activity ends before this (None: not known, as in a book thawed from an
    older snapshot): the daily pruning of schedules walks them only when its cut passes it."""
    schedule_version: int = 0
    """Counts every change to ``schedule`` (an import, a day's pruning): figures remembered
    from an older version are figured again."""
    adherence_memo: Annotated[
        dict[str, tuple[float, float, float, int, tuple[float, float, float, float]]],
        Field(exclude=True),
    ] = field(default_factory=dict, repr=False, compare=False)
    """agent -> (start, first presence, until, schedule version, figures over [start, until)):
    the part of an agent's day that ended at its last presence change does not move, so the
    board's figures every minute add only what came since (core.schedule.agent_adherence).
    Not part of a snapshot: figured again after a thaw."""
    run_starts: Annotated[
        dict[str, tuple[int, list[Activity], list[float]]], Field(exclude=True)
    ] = field(default_factory=dict, repr=False, compare=False)
    """agent -> (schedule version, its plan, when the run of each planned activity began)."""

    # -- folding ----------------------------------------------------------------------------

    def offered(self, queue_id: str, at: float, targets: FloorTargets) -> None:
        count = self._count(queue_id, interval_start(at, targets))
        count.offered += 1
        self.days_seen.setdefault(queue_id, set()).add(floor_day(at, targets))
        self._prune(at, targets)

    def handled(self, queue_id: str, at: float, handle_s: float, targets: FloorTargets) -> None:
        """A contact's handle time counts in the half hour it ended in."""
        count = self._count(queue_id, interval_start(at, targets))
        count.handled += 1
        count.handle_s += handle_s

    def presence(self, agent_id: str, since: float, state: AgentState) -> None:
        timeline = self.states.get(agent_id)
        if timeline is None:
            timeline = self.states[agent_id] = PresenceTimeline()
        timeline.record(since, state)
        timeline.forget_before(timeline.since[-1] - self.kept_s)

    def forecast_imported(self, p: ForecastImported) -> None:
        for row in p.intervals:
            self.imported.setdefault(row.queue_id, {})[int(row.start)] = PlannedInterval(
                row.offered, row.aht_s
            )

    def schedule_imported(self, p: ScheduleImported) -> None:
        by_agent: dict[str, list[Activity]] = {}
        for row in p.activities:
            by_agent.setdefault(row.agent_id, []).append(Activity(row.start, row.end, row.activity))
        for agent_id, planned in by_agent.items():
            first, last = min(a.start for a in planned), max(a.end for a in planned)
            kept = [a for a in self.schedule.get(agent_id, []) if a.end <= first or a.start >= last]
            self.schedule[agent_id] = sorted(kept + planned, key=lambda a: a.start)
            if self.schedule_ends_from is not None:
                self.schedule_ends_from = min(self.schedule_ends_from, *(a.end for a in planned))
        self.schedule_version += 1

    def _count(self, queue_id: str, start: int) -> IntervalCount:
        per_queue = self.counts.setdefault(queue_id, {})
        count = per_queue.get(start)
        if count is None:
            count = per_queue[start] = IntervalCount()
        return count

    def _prune(self, at: float, targets: FloorTargets) -> None:
        """Once a floor day: forget counts older than nine weeks and schedules of days gone."""
        day = floor_day(at, targets)
        if day <= self.pruned_day:
            return
        self.pruned_day = day
        oldest = at - self.counts_kept_days * DAY_S
        for per_queue in self.counts.values():
            for start in [s for s in per_queue if s < oldest]:
                del per_queue[start]
        for seen in self.days_seen.values():
            seen.difference_update({d for d in seen if d < day - self.counts_kept_days})
        cut = at - self.kept_s
        if self.schedule_ends_from is not None and cut <= self.schedule_ends_from:
            return  # nothing planned ended before the cut (a day of old events replayed)
        for agent_id, planned in list(self.schedule.items()):
            planned[:] = [a for a in planned if a.end >= cut]
            if not planned:
                del self.schedule[agent_id]
        ends = [a.end for planned in self.schedule.values() for a in planned]
        self.schedule_ends_from = min(ends) if ends else cut
        self.schedule_version += 1


def interval_start(at: float, targets: FloorTargets) -> int:
    """The start of the floor's half hour that holds ``at`` (half hours start on the floor's
    clock, so a +05:30 floor's 09:00 is a boundary)."""
    local = at + targets.offset_at(at)
    return int(at - local % INTERVAL_S)


def floor_day(at: float, targets: FloorTargets) -> int:
    return int((at + targets.offset_at(at)) // DAY_S)
