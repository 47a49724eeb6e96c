"""The store, the projection and the escalation desk driven together by hypothesis.

A state machine ingests slices of one simulated morning (re-sending slices to exercise dedupe
by key), raises escalations, acks / notes / snoozes / resolves them through the real
EscalationDesk, "crashes" (the files as they are on disk, never closed, opened again) and
replays the file. After every step: seqs are gapless from 1, (source, key) is unique, an ack
or a resolve never goes back, the live FloorState equals one folded from the file from
scratch, and the outbox holds exactly one row per write-back the desk recorded.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from supervisor_tui.core.commands import CommandRefused, EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.replay import Recording
from supervisor_tui.core.snapshot import freeze, thaw
from supervisor_tui.model import (
    EscalationAcked,
    EscalationNoted,
    EscalationRaised,
    EscalationResolved,
    EscalationStatus,
    Event,
    NewEvent,
    Severity,
)
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, FakeClock, simulate, targets

SIM_S = 1800.0
SIM_EVENTS = simulate(seed=7, until_s=SIM_S)
OPERATORS = ("ana", "ben")
# Notes as people type them, control characters and surrounding space included: the desk
# stores them cleaned, and the projection must show what was stored.
NOTE_TEXT = st.text(
    alphabet=st.sampled_from(["a", "b", "Z", " ", "é", "漢", "\n", "\t", "\x07", "[", "]", "/"]),
    max_size=12,
)


def fold(store: SQLiteStore) -> FloorState:
    state = FloorState(targets())
    after = 0
    while batch := store.read_from(after, 5_000):
        state.apply_all(batch)
        after = batch[-1].seq
    state.take_changes()
    return state


def _staffed(state: FloorState) -> dict[str, int]:
    return {queue: n for queue, n in state.staffed.items() if n}


class FloorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="stateful-"))
        self.path = self.dir / "floor.db"
        self.store = SQLiteStore(self.path)
        self.abandoned: list[SQLiteStore] = []
        self.clock = FakeClock(EPOCH + SIM_S)
        self.desk = EscalationDesk(self.store, self.clock)
        self.live = FloorState(targets())
        # the model
        self.sent_keys: set[str] = set()
        self.cursor: str | None = None
        self.raised = 0
        self.crashed_at = 0  # the live seq at the last crash, and at the last replay
        self.replayed_at = 0
        self.rules_events = 0
        self.operator_events = 0
        self.acked: set[str] = set()
        self.resolved: set[str] = set()
        self.latest_note: dict[str, str] = {}
        self.write_backs: list[tuple[int, str, str]] = []  # (event seq, escalation id, action)

    def teardown(self) -> None:
        for store in [self.store, *self.abandoned]:
            store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers ----------------------------------------------------------------------------

    def _feed(self, events: list[Event]) -> None:
        for event in events:
            assert event.seq > self.live.seq, "the store handed out a seq it had already used"
        self.live.apply_all(events)
        self.live.take_changes()

    def _ids(self, *, open_only: bool) -> list[str]:
        return sorted(
            esc_id for esc_id, esc in self.live.escalations.items() if esc.is_open or not open_only
        )

    def _recorded(self, event: Event | None, esc_id: str, action: str | None) -> None:
        assert event is not None, "a command at a new instant was dropped as a duplicate"
        self.operator_events += 1
        self._feed([event])
        esc = self.live.escalations[esc_id]
        if action is not None and esc.ticket_source and esc.ticket_id:
            self.write_backs.append((event.seq, esc_id, action))

    # -- rules ------------------------------------------------------------------------------

    @rule(start=st.integers(0, len(SIM_EVENTS) - 1), length=st.integers(1, 80))
    def ingest(self, start: int, length: int) -> None:
        batch = SIM_EVENTS[start : start + length]
        cursor = f"sim@{start + len(batch)}"
        before = self.store.last_seq()
        stored = self.store.append(batch, {"simulator": cursor})
        fresh = {e.key for e in batch} - self.sent_keys
        assert {e.key for e in stored} == fresh
        assert [e.seq for e in stored] == list(range(before + 1, before + 1 + len(fresh)))
        self.sent_keys |= fresh
        self.cursor = cursor
        self._feed(stored)

    @rule(
        severity=st.sampled_from(Severity),
        ticket=st.sampled_from([None, ("zendesk", "101"), ("freshdesk", "7")]),
        advance=st.integers(0, 120),
    )
    def raise_escalation(
        self, severity: Severity, ticket: tuple[str, str] | None, advance: int
    ) -> None:
        self.clock.advance(advance)
        self.raised += 1
        esc_id = f"rule|subject-{self.raised}|{self.clock.now:.0f}"
        payload = EscalationRaised(
            escalation_id=esc_id,
            rule_id="rule",
            subject=f"ticket:{ticket[1]}" if ticket else "queue:voice-sales",
            queue_id="voice-sales",
            ticket_source=ticket[0] if ticket else None,
            ticket_id=ticket[1] if ticket else None,
            severity=severity,
            title=f"escalation {self.raised}",
            raised_at=self.clock.now,
        )
        event = NewEvent(
            source="rules",
            key=f"raise:{esc_id}:{severity.value}",
            occurred_at=self.clock.now,
            received_at=self.clock.now,
            payload=payload,
        )
        stored = self.store.append([event])
        assert len(stored) == 1
        self.rules_events += 1
        self._feed(stored)

    @precondition(lambda self: any(e.is_open for e in self.live.escalations.values()))
    @rule(data=st.data())
    def step_up(self, data: st.DataObject) -> None:
        """The rule sees the same condition get worse: the same escalation, critical now."""
        esc = self.live.escalations[data.draw(st.sampled_from(self._ids(open_only=True)))]
        payload = EscalationRaised(
            escalation_id=esc.escalation_id,
            rule_id=esc.rule_id,
            subject=esc.subject,
            queue_id=esc.queue_id,
            ticket_source=esc.ticket_source,
            ticket_id=esc.ticket_id,
            severity=Severity.CRITICAL,
            title=esc.title + " (worse)",
            raised_at=self.clock.now,
        )
        event = NewEvent(
            source="rules",
            key=f"raise:{esc.escalation_id}:critical",
            occurred_at=self.clock.now,
            received_at=self.clock.now,
            payload=payload,
        )
        stored = self.store.append([event])
        # Already critical: the same key again, stored once.
        assert len(stored) == (0 if esc.severity is Severity.CRITICAL else 1)
        self.rules_events += len(stored)
        self._feed(stored)
        assert self.live.escalations[esc.escalation_id].status is esc.status

    @precondition(lambda self: bool(self.live.escalations))
    @rule(
        data=st.data(),
        by=st.sampled_from(OPERATORS),
        note=NOTE_TEXT,
        advance=st.integers(1, 90),
    )
    def ack(self, data: st.DataObject, by: str, note: str, advance: int) -> None:
        esc_id = data.draw(st.sampled_from(self._ids(open_only=False)))
        esc = self.live.escalations[esc_id]
        self.clock.advance(advance)
        if not esc.is_open:
            with pytest.raises(CommandRefused):
                self.desk.ack(esc, by, note)
            return
        event = self.desk.ack(esc, by, note)
        assert event is not None and isinstance(event.payload, EscalationAcked)
        self.acked.add(esc_id)
        if event.payload.note:
            self.latest_note[esc_id] = event.payload.note
        self._recorded(event, esc_id, "ack")

    @precondition(lambda self: bool(self.live.escalations))
    @rule(
        data=st.data(),
        by=st.sampled_from(OPERATORS),
        note=NOTE_TEXT,
        advance=st.integers(1, 90),
    )
    def note(self, data: st.DataObject, by: str, note: str, advance: int) -> None:
        esc_id = data.draw(st.sampled_from(self._ids(open_only=False)))
        esc = self.live.escalations[esc_id]
        self.clock.advance(advance)
        if not "".join(ch for ch in note if ch >= " ").strip():
            with pytest.raises(CommandRefused):
                self.desk.note(esc, by, note)
            return
        event = self.desk.note(esc, by, note)
        assert event is not None and isinstance(event.payload, EscalationNoted)
        self.latest_note[esc_id] = event.payload.note
        self._recorded(event, esc_id, "note")

    @precondition(lambda self: any(e.is_open for e in self.live.escalations.values()))
    @rule(
        data=st.data(),
        by=st.sampled_from(OPERATORS),
        minutes=st.sampled_from([5, 15, 30, 60]),
        advance=st.integers(1, 90),
    )
    def snooze(self, data: st.DataObject, by: str, minutes: int, advance: int) -> None:
        esc_id = data.draw(st.sampled_from(self._ids(open_only=True)))
        self.clock.advance(advance)
        event = self.desk.snooze(self.live.escalations[esc_id], by, minutes)
        self._recorded(event, esc_id, None)
        assert self.live.escalations[esc_id].snoozed_until == self.clock.now + minutes * 60

    @precondition(lambda self: bool(self.live.escalations))
    @rule(
        data=st.data(),
        by=st.sampled_from(OPERATORS),
        reason=NOTE_TEXT,
        advance=st.integers(1, 90),
    )
    def resolve(self, data: st.DataObject, by: str, reason: str, advance: int) -> None:
        esc_id = data.draw(st.sampled_from(self._ids(open_only=False)))
        esc = self.live.escalations[esc_id]
        self.clock.advance(advance)
        if not esc.is_open:
            with pytest.raises(CommandRefused):
                self.desk.resolve(esc, by, reason)
            return
        event = self.desk.resolve(esc, by, reason)
        assert event is not None and isinstance(event.payload, EscalationResolved)
        self.resolved.add(esc_id)
        self._recorded(event, esc_id, "resolve")

    @precondition(lambda self: self.live.seq > self.crashed_at)
    @rule()
    def crash(self) -> None:
        """The process dies: its connections are never closed, and what the files hold on disk
        at that moment (the database and its -wal, no -shm) is what the restart opens."""
        crashed = self.dir / "crashed"
        crashed.mkdir(exist_ok=True)
        for suffix in ("", "-wal"):
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                shutil.copy2(src, crashed / f"floor.db{suffix}")  # with its mode, 600
        self.abandoned.append(self.store)  # closed only at teardown, like a zombie's handles
        self.path = self.dir / f"restart-{len(self.abandoned)}.db"
        for suffix in ("", "-wal"):
            copy = crashed / f"floor.db{suffix}"
            if copy.exists():
                shutil.move(copy, f"{self.path}{suffix}")
        self.store = SQLiteStore(self.path)
        self.desk = EscalationDesk(self.store, self.clock)
        self.crashed_at = self.live.seq
        assert self.store.last_seq() == self.live.seq
        assert self.store.get_cursor("simulator") == self.cursor

    @precondition(lambda self: self.live.seq > self.replayed_at)
    @rule()
    def replay(self) -> None:
        """The file opened read-only as a recording: snapshots every few events, the state at
        its last seq, and a snapshot frozen and thawed, all equal to the live floor."""
        self.replayed_at = self.live.seq
        recording_store = SQLiteStore(self.path, read_only=True)
        try:
            recording = Recording(recording_store, targets(), snapshot_every=37)
            at_end = recording.state_at_seq(recording.last_seq)
            assert at_end.snapshot() == self.live.snapshot()
            thawed = thaw(freeze(at_end), targets())
            assert thawed.snapshot() == self.live.snapshot()
            # staffing is rebuilt on thaw; a queue whose last agent left counts 0 or is absent
            assert _staffed(thawed) == _staffed(self.live)
        finally:
            recording_store.close()

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def seqs_are_gapless_and_keys_unique(self) -> None:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as conn:
            seqs = [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]
            doubled = conn.execute(
                "SELECT source, key FROM events GROUP BY source, key HAVING COUNT(*) > 1"
            ).fetchall()
            sim_rows = conn.execute(
                "SELECT COUNT(*) FROM events WHERE source = 'simulator'"
            ).fetchone()[0]
            outbox = conn.execute("SELECT event_seq, source, action, body FROM outbox").fetchall()
        conn.close()
        assert seqs == list(range(1, len(seqs) + 1))
        assert [e.seq for e in self.store.read_from(0, 1_000_000)] == seqs
        assert doubled == []
        assert sim_rows == len(self.sent_keys)
        assert len(seqs) == len(self.sent_keys) + self.rules_events + self.operator_events

        # One outbox row per write-back, tied to its event and naming its ticket.
        assert sorted(row[0] for row in outbox) == sorted(seq for seq, _, _ in self.write_backs)
        expected = {seq: (esc_id, action) for seq, esc_id, action in self.write_backs}
        for event_seq, source, action, body in outbox:
            esc_id, want_action = expected[event_seq]
            esc = self.live.escalations[esc_id]
            parsed = json.loads(body)
            assert (source, action) == (esc.ticket_source, want_action)
            assert (parsed["escalation_id"], parsed["ticket_id"]) == (esc_id, esc.ticket_id)

    @invariant()
    def acks_and_resolves_never_go_back(self) -> None:
        for esc_id in self.acked | self.resolved:
            esc = self.live.escalations[esc_id]
            if esc_id in self.resolved:
                assert esc.status is EscalationStatus.RESOLVED
            else:
                assert esc.status is EscalationStatus.ACKED
                # An acked escalation shows its latest note, whenever it was written.
                assert esc.ack_note == self.latest_note.get(esc_id, "")

    @invariant()
    def live_floor_equals_the_floor_folded_from_the_file(self) -> None:
        assert self.live.seq == self.store.last_seq()
        assert fold(self.store).snapshot() == self.live.snapshot()


FloorMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=30, deadline=None, print_blob=True
)
TestFloorMachine = FloorMachine.TestCase


# -- single findings, pinned ---------------------------------------------------------------


def test_a_repeated_operator_command_leaves_no_gap_in_seqs(tmp_path: Path) -> None:
    """The same ack recorded twice (a retried command, a double key press on a stopped
    clock) is stored once; the next event must still get the next seq."""
    store = SQLiteStore(tmp_path / "floor.db")
    clock = FakeClock(EPOCH)
    raised = EscalationRaised(
        escalation_id="e1",
        rule_id="r",
        subject="queue:q",
        severity=Severity.WARNING,
        title="t",
        raised_at=EPOCH,
    )
    store.append(
        [
            NewEvent(
                source="rules", key="raise:e1", occurred_at=EPOCH, received_at=EPOCH, payload=raised
            )
        ]
    )
    state = fold(store)
    desk = EscalationDesk(store, clock)
    esc = state.escalations["e1"]
    first, again = desk.ack(esc, "ana"), desk.ack(esc, "ana")
    clock.advance(1)
    last = desk.note(esc, "ana", "called back")
    store.close()
    if first is None or again is not None or last is None:
        raise RuntimeError("the same command must be stored once, the next one stored")
    assert (first.seq, last.seq) == (2, 3)


def test_an_acked_escalation_shows_a_note_made_before_the_ack(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "floor.db")
    clock = FakeClock(EPOCH)
    raised = EscalationRaised(
        escalation_id="e1",
        rule_id="r",
        subject="queue:q",
        severity=Severity.WARNING,
        title="t",
        raised_at=EPOCH,
    )
    store.append(
        [
            NewEvent(
                source="rules", key="raise:e1", occurred_at=EPOCH, received_at=EPOCH, payload=raised
            )
        ]
    )
    desk = EscalationDesk(store, clock)
    clock.advance(10)
    desk.note(fold(store).escalations["e1"], "ana", "customer is a VIP, calling back")
    clock.advance(10)
    desk.ack(fold(store).escalations["e1"], "ana")
    esc = fold(store).escalations["e1"]
    store.close()
    if esc.status is not EscalationStatus.ACKED or len(esc.notes) != 1:
        raise RuntimeError("the note and the ack were not both recorded")
    assert esc.ack_note == "customer is a VIP, calling back"
