"""Training on a recorded shift: decision points, the trainee's choices, and a score card.

At each escalation raised in the recording the replay stops. The trainee acks (with a note),
snoozes or resolves it, or lets it go; the choice and the time taken are scored against what
the recorded supervisor did. Nothing the trainee does is written to the recording.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from supervisor_tui.core import fmt
from supervisor_tui.core.files import write_private
from supervisor_tui.core.replay import Mark, Recording
from supervisor_tui.model import (
    EscalationAcked,
    EscalationRaised,
    EscalationResolved,
    EscalationSnoozed,
)

CHOICE_WEIGHT = 0.6
TIME_WEIGHT = 0.4
REFERENCE_MIN_S = 30.0
"""Acting within this many seconds always earns full time points."""
NO_ACTION_WINDOW_S = 15 * 60
"""A recorded supervisor who did nothing for this long is taken to have let it go."""


@dataclass(frozen=True, slots=True)
class RecordedAction:
    action: str  # "ack" | "snooze" | "resolve" | "none"
    after_s: float | None  # replayed seconds from the raise to the action
    by: str = ""
    note: str = ""


@dataclass(slots=True)
class Decision:
    escalation_id: str
    title: str
    severity: str
    raised_at: float
    recorded: RecordedAction
    action: str = "none"
    note: str = ""
    took_s: float | None = None  # the trainee's wall seconds from the stop to the action
    choice_score: float = 0.0
    time_score: float = 0.0

    @property
    def score(self) -> float:
        return 100 * (CHOICE_WEIGHT * self.choice_score + TIME_WEIGHT * self.time_score)


def score_choice(trainee: str, recorded: str) -> float:
    if trainee == recorded:
        return 1.0
    if trainee == "none":
        return 0.0  # the recorded supervisor acted; the trainee let it go
    return 0.5  # acted, but differently (or where the supervisor let it clear by itself)


def score_time(took_s: float | None, recorded_after_s: float | None) -> float:
    """Full marks up to the reference time, none at three times it."""
    if took_s is None:
        return 0.0
    reference = max(REFERENCE_MIN_S, recorded_after_s or REFERENCE_MIN_S)
    if took_s <= reference:
        return 1.0
    return max(0.0, 1.0 - (took_s - reference) / (2 * reference))


@dataclass(slots=True)
class TrainingSession:
    trainee: str
    recording: str
    decisions: list[Decision] = field(default_factory=list)
    _open: Decision | None = None
    _stopped_at: float = 0.0

    @staticmethod
    def recorded_actions(recording: Recording) -> dict[str, RecordedAction]:
        """The first thing the recorded supervisor did about each escalation."""
        raised: dict[str, float] = {}
        for event in recording.store.events_of_kind("escalation.raised"):
            p = event.payload
            assert isinstance(p, EscalationRaised)
            raised.setdefault(p.escalation_id, p.raised_at)
        actions: dict[str, RecordedAction] = {}
        for kind, name in (
            ("escalation.acked", "ack"),
            ("escalation.snoozed", "snooze"),
            ("escalation.resolved", "resolve"),
        ):
            for event in recording.store.events_of_kind(kind):
                p = event.payload
                assert isinstance(p, EscalationAcked | EscalationSnoozed | EscalationResolved)
                if isinstance(p, EscalationResolved) and p.by is None:
                    continue  # the rule resolved it: not a person's choice
                start = raised.get(p.escalation_id)
                if start is None:
                    continue
                after = p.at - start
                known = actions.get(p.escalation_id)
                if known is None or (known.after_s is not None and after < known.after_s):
                    note = getattr(p, "note", "") or getattr(p, "reason", "")
                    actions[p.escalation_id] = RecordedAction(name, after, p.by or "", note)
        return actions

    def stop(
        self, mark: Mark, escalation: EscalationRaised, recorded: RecordedAction, wall_now: float
    ) -> Decision:
        decision = Decision(
            escalation_id=escalation.escalation_id,
            title=escalation.title,
            severity=escalation.severity.value,
            raised_at=mark.at,
            recorded=recorded,
        )
        self.decisions.append(decision)
        self._open = decision
        self._stopped_at = wall_now
        return decision

    @property
    def open_decision(self) -> Decision | None:
        return self._open

    def act(self, action: str, note: str, wall_now: float) -> Decision | None:
        decision = self._open
        if decision is None:
            return None
        decision.action = action
        decision.note = note
        decision.took_s = max(0.0, wall_now - self._stopped_at) if action != "none" else None
        decision.choice_score = score_choice(action, decision.recorded.action)
        if action == "none":
            decision.time_score = 1.0 if decision.recorded.action == "none" else 0.0
        else:
            decision.time_score = score_time(decision.took_s, decision.recorded.after_s)
        self._open = None
        return decision

    @property
    def total(self) -> float:
        if not self.decisions:
            return 0.0
        return sum(d.score for d in self.decisions) / len(self.decisions)

    def to_json(self) -> str:
        return json.dumps(
            {
                "trainee": self.trainee,
                "recording": self.recording,
                "score": round(self.total, 1),
                "decisions": [asdict(d) | {"score": round(d.score, 1)} for d in self.decisions],
            },
            indent=2,
        )

    def to_markdown(self) -> str:
        lines = [
            f"# Training score card: {self.trainee}",
            "",
            f"Recording: `{self.recording}`  ",
            f"Decision points: {len(self.decisions)}  ",
            f"**Score: {self.total:.0f} / 100** "
            f"(choice {CHOICE_WEIGHT:.0%}, time to act {TIME_WEIGHT:.0%})",
            "",
            "| # | escalation | you | took | recorded supervisor | after | score |",
            "|---|---|---|---|---|---|---|",
        ]
        for i, d in enumerate(self.decisions, 1):
            title = d.title.replace("|", "\\|")
            you = d.action + (f": “{d.note}”" if d.note else "")
            recorded = d.recorded.action + (f" ({d.recorded.by})" if d.recorded.by else "")
            lines.append(
                f"| {i} | {title} | {you.replace('|', '/')} | {fmt.duration(d.took_s)} | "
                f"{recorded} | {fmt.duration(d.recorded.after_s)} | {d.score:.0f} |"
            )
        return "\n".join(lines) + "\n"

    def write(self, base: Path) -> tuple[Path, Path]:
        md, js = base.with_suffix(".md"), base.with_suffix(".json")
        write_private(md, self.to_markdown())
        write_private(js, self.to_json())
        return md, js
