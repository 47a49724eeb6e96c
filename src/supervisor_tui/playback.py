"""Replay and training: the controller that plays a recording onto the board.

The board is the same one a live floor shows; this controller owns what only a replay has:
the player's clock and speed, seeks and jumps, the timeline, and in training the decision
points, the trainee's actions (applied in memory, never to the recording) and the score card.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from supervisor_tui.actions import Mode
from supervisor_tui.core.bell import CritBell
from supervisor_tui.core.projection import Escalation, FloorState
from supervisor_tui.core.replay import Mark, ReplayPlayer, parse_hms
from supervisor_tui.core.rules import title_words
from supervisor_tui.core.training import Decision, RecordedAction, TrainingSession
from supervisor_tui.i18n import _
from supervisor_tui.model import (
    EscalationAcked,
    EscalationNoted,
    EscalationRaised,
    EscalationResolved,
    EscalationSnoozed,
    Payload,
)
from supervisor_tui.store import StoreError
from supervisor_tui.widgets.scoreline import ScoreLine


class Board(Protocol):
    """What the controller asks of the board it plays onto."""

    state: FloorState
    crit_bell: CritBell

    def repaint_all(self) -> None: ...

    def paint_changes(self, *, chrome: bool = True) -> None: ...

    def paint_chrome(self) -> None: ...

    def tick(self) -> None: ...

    def select_escalation(self, escalation_id: str) -> None: ...

    def say(
        self,
        message: str,
        *,
        title: str = "",
        severity: str = "information",
        timeout: float | None = None,
    ) -> None: ...

    def show_score_card(self, markdown: str, written: tuple[Path, Path]) -> None: ...


class ReplayController:
    def __init__(
        self,
        player: ReplayPlayer,
        training: TrainingSession | None = None,
        card_path: Path | None = None,
    ) -> None:
        self.player = player
        self.training = training
        self.card_path = card_path
        self.card_written: tuple[Path, Path] | None = None
        self.score_line = ScoreLine(id="scoreline")
        self.score_line.display = training is not None
        self._recorded: dict[str, RecordedAction] = {}
        self._last_step = time.monotonic()
        self._shown: tuple[int, str] = (0, "")
        self._started = False
        """The trainee has pressed play once: the first-screen hint goes."""

    @property
    def mode(self) -> Mode:
        return Mode.TRAINING if self.training is not None else Mode.REPLAY

    def start(self) -> None:
        if self.training is not None:
            self._recorded = TrainingSession.recorded_actions(self.player.recording)
            self.score_line.show_hint()

    def mode_text(self) -> str:
        player = self.player
        # "replay" leads: the top bar puts its own word for it in the floor's language
        what = "replay · " + _("training") if self.training is not None else "replay"
        if player.decision is not None:
            return what + " · " + _("decision point")
        if not player.playing:
            return what + " " + _("paused")
        return f"{what} {player.speed:.0f}x"

    # -- playing --------------------------------------------------------------------------

    def step(self, board: Board) -> None:
        """Called ten times a second: the replay clock moves on by the wall time."""
        player = self.player
        wall = time.monotonic()
        elapsed, self._last_step = wall - self._last_step, wall
        was_deciding = player.decision is not None
        try:
            applied = player.advance(elapsed)
        except StoreError as exc:
            player.playing = False
            board.say(str(exc), title=_("Recording"), severity="error", timeout=15)
            return
        if applied:
            board.paint_changes(chrome=False)
        if player.decision is not None and not was_deciding:
            self._decision_point(board)
        if (
            self.training is not None
            and player.t >= player.recording.end
            and (self.training.open_decision is None and self.card_written is None)
        ):
            self.finish_training(board)
        shown = (int(player.t), self.mode_text())
        if shown != self._shown:  # the top bar and timeline move once a replayed second
            self._shown = shown
            board.paint_chrome()

    def play(self, board: Board) -> None:
        player = self.player
        if player.decision is not None:
            self._let_go()
            player.decision = None
            player.playing = True
        else:
            player.playing = not player.playing
        if player.playing and not self._started:
            self._started = True
            self._show_score()
        self._last_step = time.monotonic()
        board.paint_chrome()

    def faster(self, board: Board) -> None:
        self.player.faster()
        board.paint_chrome()

    def slower(self, board: Board) -> None:
        self.player.slower()
        board.paint_chrome()

    def seek(self, board: Board, seconds: float) -> None:
        self.seek_to(board, self.player.t + seconds)

    def seek_to(self, board: Board, t: float) -> None:
        self._jump_past()
        try:
            rebuilt = self.player.seek(t)
        except StoreError as exc:
            board.say(str(exc), title=_("Recording"), severity="error", timeout=15)
            return
        self._after_jump(board, rebuilt)

    def jump_to_mark(self, board: Board, *, forward: bool) -> None:
        player = self.player
        mark = player.next_mark() if forward else player.previous_mark()
        if mark is None:
            board.say(_("No further escalation that way."), timeout=3)
            return
        self._jump_past()
        player.decision = None
        self._after_jump(board, player.jump(mark))
        if self.training is not None:
            player.decision = mark
            player.playing = False
            self._decision_point(board)
        else:
            raised = self._raised(mark)
            if raised is not None:
                board.select_escalation(raised.escalation_id)
        board.paint_chrome()

    def clock_target(self, answer: str, utc_offset_s: int) -> float | None:
        """``HH:MM[:SS]`` on the replayed day, as a timestamp (None: not a clock time)."""
        return parse_clock(answer, self.player.t, utc_offset_s)

    def _after_jump(self, board: Board, rebuilt: bool) -> None:
        board.crit_bell.since = self.player.clock()  # what a jump skips over does not ring
        if rebuilt:
            board.state = self.player.state
            board.repaint_all()
        else:
            board.paint_changes()
        board.tick()

    def _let_go(self) -> None:
        """Playing on from an open decision point lets the escalation go (a choice)."""
        if self.training is not None and self.training.open_decision is not None:
            self._scored(self.training.act("none", "", time.monotonic()))

    def _jump_past(self) -> None:
        """Jumping past an open decision point leaves it not reached: no choice was made."""
        if self.training is not None and self.training.skip() is not None:
            self._show_score()

    # -- training -------------------------------------------------------------------------

    def _raised(self, mark: Mark) -> EscalationRaised | None:
        event = self.player.recording.store.read_range(mark.seq - 1, mark.seq)
        payload = event[0].payload if event else None
        return payload if isinstance(payload, EscalationRaised) else None

    def _decision_point(self, board: Board) -> None:
        player, training = self.player, self.training
        assert player.decision is not None
        raised = self._raised(player.decision)
        if raised is None:
            return
        board.select_escalation(raised.escalation_id)
        if training is not None:
            recorded = self._recorded.get(raised.escalation_id, RecordedAction("none", None))
            training.stop(player.decision, raised, recorded, time.monotonic())
            self._started = True
            self.score_line.show_decision(title_words(raised.title), self._score())

    def act(self, board: Board, esc: Escalation, action: str, text: str, by: str) -> None:
        """A trainee's action: shown on the board, scored, never written to the recording."""
        training = self.training
        assert training is not None
        now = self.player.clock()
        payload: Payload
        if action == "ack":
            payload = EscalationAcked(escalation_id=esc.escalation_id, by=by, note=text, at=now)
        elif action == "note":
            payload = EscalationNoted(escalation_id=esc.escalation_id, by=by, note=text, at=now)
        elif action == "snooze":
            payload = EscalationSnoozed(
                escalation_id=esc.escalation_id, by=by, until=now + float(text) * 60, at=now
            )
        else:
            payload = EscalationResolved(
                escalation_id=esc.escalation_id, by=by, reason=text or "resolved by hand", at=now
            )
        board.state.apply_overlay("training", payload, now)
        board.paint_changes()
        open_decision = training.open_decision
        if (
            action != "note"
            and open_decision is not None
            and open_decision.escalation_id == esc.escalation_id
        ):
            self._scored(training.act(action, text if action != "snooze" else "", time.monotonic()))
            self.player.decision = None
            self.player.playing = True
        board.paint_chrome()

    def _score(self) -> tuple[int, float | None]:
        """Decisions made so far and their average, as the score card counts them."""
        training = self.training
        assert training is not None
        return len(training.scored), training.total

    def _scored(self, decision: Decision | None) -> None:
        if decision is not None:
            self.score_line.show_scored(decision, self._score())

    def _show_score(self) -> None:
        if self.training is not None:
            self.score_line.show_running(self._score())

    def finish_training(self, board: Board) -> None:
        """Write the score card (markdown and JSON) and show it."""
        if self.training is None or self.card_written is not None:
            return
        base = self.card_path or Path(f"training-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            self.card_written = self.training.write(base)
        except OSError as exc:
            board.say(
                _("score card not written: {error}").format(error=exc), severity="error", timeout=15
            )
            self.card_written = (base, base)
        board.show_score_card(self.training.to_markdown(), self.card_written)

    def quit_first(self, board: Board) -> bool:
        """Training shows its score card before the app ends; True when it did."""
        if self.training is not None and self.card_written is None:
            self.finish_training(board)
            return True
        return False


def parse_clock(text: str, around: float, utc_offset_s: int) -> float | None:
    """``HH:MM[:SS]`` on the floor's day of ``around``, as a timestamp."""
    hms = parse_hms(text)
    if hms is None:
        return None
    h, m, sec = hms
    midnight = (around + utc_offset_s) // 86_400 * 86_400 - utc_offset_s
    return float(midnight + h * 3600 + m * 60 + sec)
