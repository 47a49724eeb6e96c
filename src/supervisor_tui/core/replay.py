"""Replay: the floor at any instant of a recording, through the same projection as live.

A recording is a store. Its timeline is the seq of every event against the time it was
received (made monotonic: an event is on the board from the moment the one before it was).
The state at an instant is the fold of every event up to the last seq received by then;
seeking starts from the nearest FloorState snapshot at or before that seq and applies the rest,
or from a state the player let go of when it is nearer (seeking back and forth folds only the
events in between).
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.snapshot import (
    READ_FORMATS,
    SNAPSHOT_FORMAT,
    SnapshotError,
    collector_paused,
    freeze,
    thaw,
)
from supervisor_tui.core.targets import FloorTargets, settings_payload, targets_from_settings
from supervisor_tui.model import Event, FloorSettingsRecorded
from supervisor_tui.store import StoreError
from supervisor_tui.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from supervisor_tui.store.postgres import PostgresStore

log = logging.getLogger(__name__)

SNAPSHOT_EVERY = 5_000
KEEP_MB = 256
"""Memory for the states the player let go of (seeking away), most recently used kept."""
RESTORE_BYTES_PER_EVENT = 6_000
"""Restoring a snapshot costs about as much as reading and folding one event for each this
many bytes of the state's ``footprint``: 6,000-7,900 for snapshot format 2 on the 1,000-agent
floor (a restore as long as reading and folding 3,600-4,700 events, for 28 MB of footprint;
three runs of ``/tmp``'s ratio script, thaw against 5,000 events after it). At 2,400 (format
1), a seek back folded up to 26,000 events from a kept state rather than restore."""
SPEEDS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class RecordingError(StoreError):
    """The file cannot be replayed; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class Mark:
    """An escalation raised in the recording: a place to jump to, a decision point."""

    seq: int
    at: float


class Timeline:
    """A recording's clock: each event's instant is the latest time received up to it
    (sources do not deliver in order, and the clock never goes back), and the event on the
    board at an instant is the last one whose instant has come. Every event's, read at open."""

    def __init__(self, seqs: list[int], times: list[float]) -> None:
        self.seqs = seqs
        self.times: list[float] = list(accumulate(times, max))

    @property
    def start(self) -> float:
        return self.times[0]

    @property
    def end(self) -> float:
        return self.times[-1]

    @property
    def last_seq(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    def time_of(self, seq: int) -> float:
        i = bisect.bisect_left(self.seqs, seq)
        return self.times[min(i, len(self.times) - 1)]

    def seq_at(self, t: float) -> int:
        i = bisect.bisect_right(self.times, t)
        return self.seqs[i - 1] if i else 0

    def mark_time(self, event: Event) -> float:
        return self.time_of(event.seq)


class SparseTimeline(Timeline):
    """The same clock from the store's coarse timeline (the latest time received by every
    thousandth event): a recording of 10,000,000 events opens on 10,000 rows instead of
    reading every event's time (8 s and 700 MB), and a seek reads the thousand events around
    its instant. Those are kept, the last ``CHUNKS_KEPT`` read."""

    CHUNKS_KEPT = 64

    def __init__(self, store: SQLiteStore, seqs: list[int], latests: list[float]) -> None:
        self._store = store
        self._seqs, self._latests = seqs, latests
        self._chunks: OrderedDict[int, Timeline] = OrderedDict()
        self.seqs, self.times = [], []  # read a chunk at a time, never whole
        tail = self._chunk(len(seqs))  # the events after the last row, read now: the end
        first = self._chunk(0)
        self._start = first.start if first.seqs else 0.0
        self._end = tail.end if tail.seqs else latests[-1] if latests else 0.0
        self._last = tail.last_seq if tail.seqs else seqs[-1] if seqs else 0

    def _chunk(self, i: int) -> Timeline:
        """Events after row ``i - 1`` up to row ``i`` (after the last row: ``i`` is past
        it), their instants counted on from the row before."""
        chunk = self._chunks.get(i)
        if chunk is not None:
            self._chunks.move_to_end(i)
            return chunk
        after = self._seqs[i - 1] if i else 0
        upto = self._seqs[i] if i < len(self._seqs) else None
        seqs, times = self._store.timeline(after, upto)
        chunk = Timeline(seqs, times)
        if i:
            floor = self._latests[i - 1]
            chunk.times = [max(floor, t) for t in chunk.times]
        self._chunks[i] = chunk
        if len(self._chunks) > self.CHUNKS_KEPT:
            self._chunks.popitem(last=False)
        return chunk

    @property
    def start(self) -> float:
        return self._start

    @property
    def end(self) -> float:
        return self._end

    @property
    def last_seq(self) -> int:
        return self._last

    def time_of(self, seq: int) -> float:
        i = bisect.bisect_left(self._seqs, seq)
        chunk = self._chunk(i)
        if not chunk.seqs:  # past the last event
            return self._end
        return chunk.time_of(seq)

    def seq_at(self, t: float) -> int:
        i = bisect.bisect_right(self._latests, t)  # the first row whose instant is past t
        chunk = self._chunk(i)
        seq = chunk.seq_at(t) if chunk.seqs else 0
        return seq or (self._seqs[i - 1] if i else 0)

    def mark_time(self, event: Event) -> float:
        """Without reading the thousand events before it: the row's instant before it, or
        its own time received if later. The same as ``time_of`` when events are received
        in their order, as a collector writes them; never later (a jump to the mark then
        folds on to it)."""
        i = bisect.bisect_left(self._seqs, event.seq)
        floor = self._latests[i - 1] if i else -math.inf
        return max(floor, event.received_at)


class Recording:
    """A store opened for replay: its timeline, escalation marks and snapshots."""

    def __init__(
        self,
        store: SQLiteStore | PostgresStore,
        targets: FloorTargets,
        *,
        snapshot_every: int = SNAPSHOT_EVERY,
        progress: Callable[[int, int], None] | None = None,
        follow_settings: bool = False,
        keep_mb: int = KEEP_MB,
    ) -> None:
        self.store = store
        self.targets = targets
        self.snapshot_every = snapshot_every
        self.follow_settings = follow_settings
        """The board's targets as the recording's ``floor.settings`` events set them at each
        instant (replay without ``-c``); otherwise ``targets`` throughout."""
        self._settings: list[tuple[int, FloorTargets]] = (
            [
                (e.seq, targets_from_settings(e.payload))
                for e in store.events_of_kind(FloorSettingsRecorded.KIND)
                if isinstance(e.payload, FloorSettingsRecorded)
            ]
            if follow_settings
            else []
        )
        self.timeline: Timeline
        if isinstance(store, SQLiteStore) and (coarse := store.coarse_timeline()) is not None:
            self.timeline = SparseTimeline(store, *coarse)
        else:
            self.timeline = Timeline(*store.timeline())
        if self.timeline.last_seq == 0:
            where = store.path if isinstance(store, SQLiteStore) else store.url
            raise RecordingError(f"{where}: the recording holds no events")
        self.marks = self._first_raises()
        self._stored = store.snapshot_index() if store.snapshot_formats() <= READ_FORMATS else []
        self._memory: dict[int, bytes] = {}
        self.keep_bytes = keep_mb * 1024 * 1024
        self._kept: OrderedDict[int, tuple[FloorState, int]] = OrderedDict()
        self._kept_bytes = 0
        if not self._stored:  # none recorded, or of a format this version does not read
            self._build_snapshots(progress)

    def _first_raises(self) -> list[Mark]:
        """Where escalations were first raised (a step up in severity is not a new one)."""
        seen: set[str] = set()
        marks = []
        for event in self.store.events_of_kind("escalation.raised"):
            escalation_id = getattr(event.payload, "escalation_id", "")
            if escalation_id not in seen:
                seen.add(escalation_id)
                marks.append(Mark(event.seq, self.timeline.mark_time(event)))
        return marks

    @property
    def start(self) -> float:
        return self.timeline.start

    @property
    def end(self) -> float:
        return self.timeline.end

    @property
    def last_seq(self) -> int:
        return self.timeline.last_seq

    def time_of(self, seq: int) -> float:
        return self.timeline.time_of(seq)

    def seq_at(self, t: float) -> int:
        """The last seq on the board at instant ``t`` (0 before the first event)."""
        return self.timeline.seq_at(t)

    def targets_at(self, seq: int) -> FloorTargets:
        """The targets in force once event ``seq`` is on the board."""
        i = bisect.bisect_right([s for s, _ in self._settings], seq)
        return self._settings[i - 1][1] if i else self.targets

    def _new_state(self, seq: int = 0) -> FloorState:
        return FloorState(self.targets_at(seq), follow_settings=self.follow_settings)

    def _build_snapshots(self, progress: Callable[[int, int], None] | None) -> None:
        """No snapshots were recorded: fold once and keep them in memory (the file is not
        touched)."""
        state = self._new_state()
        after = 0
        while True:
            events = self.store.read_from(after, self.snapshot_every)
            if not events:
                break
            state.apply_all(events)
            after = events[-1].seq
            self._memory[after] = freeze(state)
            if progress is not None:
                progress(after, self.last_seq)
        state.take_changes()

    def snapshot_seqs(self) -> list[int]:
        return sorted(set(self._stored) | set(self._memory))

    def keep(self, state: FloorState) -> None:
        """Keep a state the player lets go of, as it is (no copy: nothing else holds it on),
        so a seek back to it or past it folds only the events in between. A state with a
        trainee's overlay is not the recording's and is not kept; the least recently used go
        first past ``keep_mb``."""
        if state.overlaid or state.seq in self._kept:
            return
        size = footprint(state)
        if size > self.keep_bytes:
            return
        self._kept[state.seq] = (state, size)
        self._kept_bytes += size
        while self._kept_bytes > self.keep_bytes:
            _, (_, dropped) = self._kept.popitem(last=False)
            self._kept_bytes -= dropped

    def kept_seqs(self) -> list[int]:
        return sorted(self._kept)

    def _take_kept(self, base: int, upto: int) -> FloorState | None:
        """The kept state nearest before ``upto``, taken out for the caller to fold on, when
        that is less work than restoring the snapshot at ``base``: past it, or so little
        before it that folding the events in between costs less than the restore."""
        best = max((s for s in self._kept if s <= upto), default=None)
        if best is None:
            return None
        state, size = self._kept[best]
        if best < base - size // RESTORE_BYTES_PER_EVENT:
            return None
        del self._kept[best]
        self._kept_bytes -= size
        return state

    def state_at_seq(self, seq: int) -> FloorState:
        seqs = self.snapshot_seqs()
        i = bisect.bisect_right(seqs, seq)
        state = self._take_kept(seqs[i - 1] if i else 0, seq)
        while state is None and i > 0:
            base = seqs[i - 1]
            try:
                state = self._load(base)
            except SnapshotError:
                if base in self._memory:
                    i -= 1
                    continue
                # A recorded snapshot that does not load (refused, crafted, damaged): trust
                # none of them and fold the events once, as for a recording without any.
                self._stored = []
                self._kept.clear()
                self._kept_bytes = 0
                self._build_snapshots(None)
                return self.state_at_seq(seq)
        if state is None:
            state = self._new_state()
        state.apply_all(self.store.read_range(state.seq, seq))
        state.take_changes()
        return state

    def _load(self, seq: int) -> FloorState:
        if seq in self._memory:
            data, fmt = self._memory[seq], SNAPSHOT_FORMAT
        else:
            stored = self.store.load_snapshot(seq)
            if stored is None:
                raise SnapshotError(f"no snapshot at {seq}")
            fmt, data = stored
        state = thaw(data, self.targets_at(seq), fmt)
        state.follow_settings = self.follow_settings
        return state

    def events_between(self, after_seq: int, upto_seq: int) -> list[Event]:
        return self.store.read_range(after_seq, upto_seq)


def footprint(state: FloorState) -> int:
    """Bytes a state holds, over-estimated from its counts (measured on the simulated
    1,000-agent floor: 4.5-12.9 MB live for 2,300-5,600 tickets, about 2.3 kB a ticket with
    the agents' timelines and the queues' trends spread over them)."""
    return 3_000 * (len(state.tickets) + len(state.agents)) + 20_000 * len(state.queues)


def parse_hms(text: str) -> tuple[int, int, int] | None:
    """``HH:MM[:SS]`` as (hours, minutes, seconds), or None if it is not a clock time."""
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        return None
    h, m = int(parts[0]), int(parts[1])
    sec = int(parts[2]) if len(parts) == 3 else 0
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= sec < 60):
        return None
    return h, m, sec


def clock_in_recording(text: str, start: float, floor: FloorTargets) -> float | None:
    """``HH:MM[:SS]``, floor time, at its first occurrence from the recording's start: a
    recording that starts at 23:00 finds 00:20 on the next day. None if not a clock time."""
    hms = parse_hms(text)
    if hms is None:
        return None
    h, m, sec = hms
    zone = floor.zone()
    day = datetime.fromtimestamp(start, zone).date()
    for _ in range(2):
        at = datetime(day.year, day.month, day.day, h, m, sec, tzinfo=zone).timestamp()
        if at >= start:
            return at
        day += timedelta(days=1)
    return at


def recorded_settings(store: SQLiteStore | PostgresStore) -> FloorSettingsRecorded | None:
    """The settings the board ran with when the recording began (its first
    ``floor.settings`` event), or None for a recording made before they were written."""
    for event in store.events_of_kind(FloorSettingsRecorded.KIND):
        if isinstance(event.payload, FloorSettingsRecorded):
            return event.payload
    return None


def record_snapshot(store: SQLiteStore | PostgresStore, state: FloorState, at: float) -> None:
    """Called by the collector every ``SNAPSHOT_EVERY`` events while recording."""
    store.save_snapshot(state.seq, at, SNAPSHOT_FORMAT, freeze(state))


@runtime_checkable
class SnapshotShelf(Protocol):
    """A store that keeps the floor's snapshots (SQLite, PostgreSQL; a hub link does not)."""

    def snapshot_index(self) -> list[int]: ...

    def load_snapshot(self, seq: int) -> tuple[int, bytes] | None: ...

    def last_seq(self) -> int: ...

    def events_of_kind(self, kind: str) -> list[Event]: ...


def newest_floor(
    store: object, targets: FloorTargets, *, freeze_heap: bool = False
) -> FloorState | None:
    """The floor as the store's newest snapshot holds it, for whoever opens a floor already
    under way (the board, the collector, the hub): it folds only the events after it. At
    10,000 agents the day's first hour is 565,576 events, half a minute to fold; the
    collector saves a snapshot every ``SNAPSHOT_EVERY`` events, a restore of about a second.

    None when the store keeps none, or when the newest does not load (another version's
    format, damaged, refused): the caller folds every event, which hold everything. An older
    snapshot is not tried then, as replay trusts none once one fails. None too when the
    targets the floor was recorded with then (its last ``floor.settings`` event) are not
    ``targets``: the figures made with the old ones (answered within the old threshold) are
    made again from the events with the new, as they were before snapshots were read.

    ``freeze_heap``: the floor built is frozen (``gc.freeze``) rather than collected once,
    for the board, which unfreezes when it closes (the young collection walked the 10,000-
    agent floor for 0.2 s of the first paint)."""
    if not isinstance(store, SnapshotShelf):
        return None
    try:
        seqs = store.snapshot_index()
        if not seqs:
            return None
        stored = store.load_snapshot(seqs[-1])
        if stored is None:
            return None
        fmt, data = stored
        state = thaw(data, targets, fmt, freeze_heap=freeze_heap)
        last = store.last_seq()
    except (SnapshotError, StoreError) as exc:
        log.warning("the floor is folded from its first event: %s", exc)
        return None
    if state.seq != seqs[-1] or state.seq > last:
        log.warning(
            "the floor is folded from its first event: the snapshot filed at event %d holds "
            "the floor at event %d (the store's last is %d)",
            seqs[-1],
            state.seq,
            last,
        )
        return None
    recorded = [
        e.payload
        for e in store.events_of_kind(FloorSettingsRecorded.KIND)
        if e.seq <= state.seq and isinstance(e.payload, FloorSettingsRecorded)
    ]
    if recorded:
        state.settings = recorded[-1]  # what the fold would know (a restart writes no new)
        now = targets_from_settings(settings_payload("", targets, [], 0.0))
        if targets_from_settings(recorded[-1]) != now:
            log.info(
                "the floor is folded from its first event: its targets changed since the "
                "snapshot at event %d",
                state.seq,
            )
            return None
    state.take_changes()
    return state


class ReplayPlayer:
    """Plays a recording: replay clock, speed, seek, and stops at decision points."""

    def __init__(
        self,
        recording: Recording,
        *,
        stop_at_escalations: bool = False,
        freeze_heap: bool = False,
    ) -> None:
        self.recording = recording
        self.stop_at_escalations = stop_at_escalations
        self.freeze_heap = freeze_heap
        """Each seek ends with everything alive moved out of the cycle collector's reach
        (``gc.freeze``) rather than its new state collected once: for the app, which
        unfreezes when the board closes. The states kept and played are then never walked
        by a full collection (acyclic, they are freed by their counts when let go)."""
        self.t = recording.start
        with collector_paused(freeze=freeze_heap):
            self.state = recording.state_at_seq(recording.seq_at(self.t))
        self.speed_index = 0
        self.playing = False
        self.decision: Mark | None = None
        self._marks = {m.seq for m in recording.marks}

    @property
    def speed(self) -> float:
        return SPEEDS[self.speed_index]

    def clock(self) -> float:
        return self.t

    def faster(self) -> None:
        self.speed_index = min(len(SPEEDS) - 1, self.speed_index + 1)

    def slower(self) -> None:
        self.speed_index = max(0, self.speed_index - 1)

    def advance(self, wall_seconds: float) -> list[Event]:
        """Move the replay clock on by wall time × speed; returns the events applied.

        In training mode, stops right after an escalation is raised (a decision point)."""
        if not self.playing or self.decision is not None:
            return []
        target = min(self.recording.end, self.t + wall_seconds * self.speed)
        upto = self.recording.seq_at(target)
        events = self.recording.events_between(self.state.seq, upto)
        applied: list[Event] = []
        for event in events:
            self.state.apply(event)
            applied.append(event)
            if self.stop_at_escalations and event.seq in self._marks:
                self.decision = Mark(event.seq, self.recording.time_of(event.seq))
                self.t = self.decision.at
                self.playing = False
                return applied
        self.t = target
        if self.t >= self.recording.end:
            self.playing = False
        return applied

    def seek(self, t: float) -> bool:
        """Jump to instant ``t``; returns True when the state was rebuilt (a full repaint).

        With the cycle collector paused: a seek builds a floor and reads thousands of events
        (none of them in a reference cycle), and the collections their allocations set off
        walked the states the recording keeps (256 MB of them), a quarter to over half of a
        seek's time; the new state is moved on once at the end (``collector_paused``, and
        ``freeze_heap``)."""
        with collector_paused(freeze=self.freeze_heap):
            return self._seek(t)

    def _seek(self, t: float) -> bool:
        t = max(self.recording.start, min(self.recording.end, t))
        seq = self.recording.seq_at(t)
        self.decision = None
        rebuilt = False
        if seq >= self.state.seq and seq - self.state.seq <= self.recording.snapshot_every:
            self.state.apply_all(self.recording.events_between(self.state.seq, seq))
        else:
            self.recording.keep(self.state)
            self.state = self.recording.state_at_seq(seq)
            rebuilt = True
        self.t = t
        return rebuilt

    def next_mark(self) -> Mark | None:
        for mark in self.recording.marks:
            if mark.seq > self.state.seq:
                return mark
        return None

    def previous_mark(self) -> Mark | None:
        earlier = [m for m in self.recording.marks if m.seq < self.state.seq]
        return earlier[-1] if earlier else None

    def jump(self, mark: Mark) -> bool:
        """Seek to just after the escalation was raised."""
        with collector_paused(freeze=self.freeze_heap):
            return self._jump(mark)

    def _jump(self, mark: Mark) -> bool:
        rebuilt = self._seek(mark.at)
        if self.state.seq > mark.seq:  # several events share the instant: stop at the mark
            self.recording.keep(self.state)
            self.state = self.recording.state_at_seq(mark.seq)
            rebuilt = True
        elif self.state.seq < mark.seq:
            self.state.apply_all(self.recording.events_between(self.state.seq, mark.seq))
        return rebuilt
