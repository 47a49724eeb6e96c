"""Training on a recorded shift: decision points, the trainee's choices, and a score card.

At each escalation raised in the recording the replay stops. The trainee acks (with a note),
snoozes or resolves it, or lets it go. The choice is scored against what the situation
needed, read from the escalation's later course in the recording: one that cleared by itself
(the rule resolved it before it got worse) needed waiting (letting it go, or a snooze); one
that got worse (stepped up in severity, an SLA breached) needed acting (an ack). Only when the
recording does not say (still open at its end, or resolved by a person) is the recorded
supervisor's choice the reference. An ack without a note where the recorded supervisor wrote
one scores lower. Speed counts only when the choice was right. A decision the trainee jumps
past (a seek, the next escalation) or still open when they quit is "not reached": listed, not
scored, not in the average; only going on playing (space) lets it go, a choice scored as any
other. Nothing the trainee does is written to the recording.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from supervisor_tui.core import fmt
from supervisor_tui.core.files import write_private
from supervisor_tui.core.replay import Mark, Recording
from supervisor_tui.core.rules import title_words
from supervisor_tui.i18n import N_, _, pgettext
from supervisor_tui.model import (
    EscalationAcked,
    EscalationRaised,
    EscalationResolved,
    EscalationSnoozed,
    Event,
)

CHOICE_WEIGHT = 0.6
TIME_WEIGHT = 0.4
REFERENCE_MIN_S = 30.0
"""Acting within this many seconds always earns full time points."""
NO_ACTION_WINDOW_S = 15 * 60
"""A recorded supervisor who did nothing for this long is taken to have let it go."""

WORSE, BREACHED, CLEARED, UNKNOWN = "got worse", "breached", "cleared by itself", ""
COURSE_WORDS = {WORSE: N_("got worse"), BREACHED: N_("breached"), CLEARED: N_("cleared by itself")}
"""What an escalation did next, as the score card words it (translated where written)."""
ACTION_WORDS = {
    "ack": N_("ack"),
    "snooze": N_("snooze"),
    "resolve": N_("resolve"),
    "none": N_("none"),
}
"""A decision's action (the training's own word) as the score line and card say it."""
CARD_COLUMNS = (
    "#",
    N_("escalation"),
    N_("then it"),
    N_("needed"),
    N_("you"),
    N_("took"),
    N_("recorded supervisor"),
    N_("after"),
    N_("choice"),
    N_("time"),
    N_("score"),
)
"""An escalation's course after it was raised, as the recording shows it."""
WHEN_IT_NEEDED_ACTING = {"ack": 1.0, "resolve": 0.5, "snooze": 0.25, "none": 0.0}
"""It got worse or breached: an ack was right; resolving it by hand closed what was still
going on, a snooze put it off, letting it go missed it."""
WHEN_IT_NEEDED_WAITING = {"none": 1.0, "snooze": 1.0, "ack": 0.5, "resolve": 0.5}
"""It cleared by itself: waiting (or a snooze) was right; acting was not wrong, but spent a
supervisor's attention on what needed none."""
NO_NOTE = 0.25
"""Taken off an ack's choice points when it has no note and the recorded supervisor's had."""


@dataclass(frozen=True, slots=True)
class RecordedAction:
    action: str  # "ack" | "snooze" | "resolve" | "none"
    after_s: float | None  # replayed seconds from the raise to the action
    by: str = ""
    note: str = ""
    course: str = UNKNOWN
    """WORSE, BREACHED, CLEARED or UNKNOWN: what the escalation did after it was raised."""

    @property
    def needed(self) -> str:
        """What the situation needed: "act", "wait", or "" (the recording does not say)."""
        if self.course in (WORSE, BREACHED):
            return "act"
        return "wait" if self.course == CLEARED else ""


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
    reached: bool = False
    """The trainee made a choice (letting it go is one); False: still open at the end."""
    right: bool = False
    """The choice was what the situation needed (so its speed counted)."""

    @property
    def score(self) -> float:
        return 100 * (CHOICE_WEIGHT * self.choice_score + TIME_WEIGHT * self.time_score)

    @property
    def choice_points(self) -> float:
        return 100 * CHOICE_WEIGHT * self.choice_score

    @property
    def time_points(self) -> float:
        return 100 * TIME_WEIGHT * self.time_score


def action_word(action: str) -> str:
    """A decision's action in the floor's language."""
    return _(ACTION_WORDS.get(action, action))


def needed_word(needed: str) -> str:
    """What the situation needed ("act", "wait" or unknown), as the score card says it."""
    if needed == "act":
        return _("an ack")
    if needed == "wait":
        return pgettext("what the situation needed", "waiting")
    return _("as recorded")


def score_choice(trainee: str, recorded: str) -> float:
    """Against the recorded supervisor alone (when the recording does not say more)."""
    if trainee == recorded:
        return 1.0
    if trainee == "none":
        return 0.0  # the recorded supervisor acted; the trainee let it go
    return 0.5  # acted, but differently (or where the supervisor let it clear by itself)


def judge(action: str, note: str, recorded: RecordedAction) -> tuple[float, bool]:
    """The choice's points (0..1) and whether it was the right one."""
    needed = recorded.needed
    if needed == "act":
        base = WHEN_IT_NEEDED_ACTING[action]
    elif needed == "wait":
        base = WHEN_IT_NEEDED_WAITING[action]
    else:
        base = score_choice(action, recorded.action)
    points = base
    if action == "ack" and not note.strip() and recorded.note.strip():
        points = max(0.0, base - NO_NOTE)
    return points, base == 1.0


def score_time(took_s: float | None, recorded_after_s: float | None) -> float:
    """Full marks up to the reference time, none at three times it."""
    if took_s is None:
        return 0.0
    reference = max(REFERENCE_MIN_S, recorded_after_s or REFERENCE_MIN_S)
    if took_s <= reference:
        return 1.0
    return max(0.0, 1.0 - (took_s - reference) / (2 * reference))


def courses_of(raised: list[Event], resolved: list[Event]) -> dict[str, str]:
    """Each escalation's course after its first raise, by the first thing that settled it:
    a step up in severity (WORSE, or BREACHED for an SLA), or the rule resolving it
    (CLEARED). Resolved by a person first, or neither within the recording: UNKNOWN."""
    first_rank: dict[str, int] = {}
    course: dict[str, str] = {}
    for event in sorted([*raised, *resolved], key=lambda e: e.seq):
        p = event.payload
        if isinstance(p, EscalationRaised):
            esc_id = p.escalation_id
            if esc_id in course:
                continue
            breached = p.title.startswith("SLA breached")
            if esc_id not in first_rank:
                first_rank[esc_id] = p.severity.rank
                if breached:
                    course[esc_id] = BREACHED
            elif p.severity.rank > first_rank[esc_id]:
                course[esc_id] = BREACHED if breached else WORSE
        elif (
            isinstance(p, EscalationResolved)
            and p.escalation_id in first_rank
            and p.escalation_id not in course
        ):
            course[p.escalation_id] = CLEARED if p.by is None else UNKNOWN
    return {esc_id: c for esc_id, c in course.items() if c != UNKNOWN}


@dataclass(slots=True)
class TrainingSession:
    trainee: str
    recording: str
    decisions: list[Decision] = field(default_factory=list)
    _open: Decision | None = None
    _stopped_at: float = 0.0

    @staticmethod
    def recorded_actions(recording: Recording) -> dict[str, RecordedAction]:
        """For each escalation raised: the first thing the recorded supervisor did about it
        ("none" if nothing), and its course after it was raised."""
        raised_events = recording.store.events_of_kind("escalation.raised")
        resolved_events = recording.store.events_of_kind("escalation.resolved")
        courses = courses_of(raised_events, resolved_events)
        raised: dict[str, float] = {}
        for event in raised_events:
            p = event.payload
            assert isinstance(p, EscalationRaised)
            raised.setdefault(p.escalation_id, p.raised_at)
        actions: dict[str, RecordedAction] = {
            esc_id: RecordedAction("none", None, course=courses.get(esc_id, UNKNOWN))
            for esc_id in raised
        }
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
                known = actions[p.escalation_id]
                if known.after_s is None or after < known.after_s:
                    note = getattr(p, "note", "") or getattr(p, "reason", "")
                    actions[p.escalation_id] = RecordedAction(
                        name, after, p.by or "", note, course=known.course
                    )
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
        decision.reached = True
        decision.took_s = max(0.0, wall_now - self._stopped_at) if action != "none" else None
        decision.choice_score, decision.right = judge(action, note, decision.recorded)
        if not decision.right:
            decision.time_score = 0.0  # fast is no merit in the wrong choice
        elif action == "none":
            decision.time_score = 1.0  # waiting was right: nothing to be quick about
        else:
            decision.time_score = score_time(decision.took_s, decision.recorded.after_s)
        self._open = None
        return decision

    def skip(self) -> Decision | None:
        """The trainee jumped past the open decision: it stays not reached, and unscored."""
        decision, self._open = self._open, None
        return decision

    @property
    def scored(self) -> list[Decision]:
        return [d for d in self.decisions if d.reached]

    @property
    def total(self) -> float | None:
        """The average over the decisions made; None before the first."""
        scored = self.scored
        if not scored:
            return None
        return sum(d.score for d in scored) / len(scored)

    def split(self) -> tuple[float, float] | None:
        """The average's choice points (of 60) and time points (of 40)."""
        scored = self.scored
        if not scored:
            return None
        return (
            sum(d.choice_points for d in scored) / len(scored),
            sum(d.time_points for d in scored) / len(scored),
        )

    def to_json(self) -> str:
        total, split = self.total, self.split()
        return json.dumps(
            {
                "trainee": self.trainee,
                "recording": self.recording,
                "score": None if total is None else round(total, 1),
                "choice_points": None if split is None else round(split[0], 1),
                "time_points": None if split is None else round(split[1], 1),
                "decisions_made": len(self.scored),
                "not_reached": len(self.decisions) - len(self.scored),
                "decisions": [
                    asdict(d)
                    | {
                        "needed": d.recorded.needed,
                        "score": round(d.score, 1) if d.reached else None,
                    }
                    for d in self.decisions
                ],
            },
            indent=2,
        )

    def to_markdown(self) -> str:
        """The score card in the floor's language (the JSON keeps the training's own words)."""
        total, split = self.total, self.split()
        made, waiting = len(self.scored), len(self.decisions) - len(self.scored)
        if total is None or split is None:
            score = _("**Score: none** (no decision made)")
        else:
            score = _(
                "**Score: {total} / 100**: choice {choice} / {choice_max}, time to act "
                "{time} / {time_max} (time counts only when the choice was right)"
            ).format(
                total=f"{total:.0f}",
                choice=f"{split[0]:.0f}",
                choice_max=f"{100 * CHOICE_WEIGHT:.0f}",
                time=f"{split[1]:.0f}",
                time_max=f"{100 * TIME_WEIGHT:.0f}",
            )
        points = _("Decision points: {count}, {made} made").format(
            count=len(self.decisions), made=made
        )
        if waiting:
            points = _("{points}, {waiting} not reached (not scored)").format(
                points=points, waiting=waiting
            )
        lines = [
            "# " + _("Training score card: {trainee}").format(trainee=fmt.md_escape(self.trainee)),
            "",
            _("Recording: {recording}").format(recording=fmt.md_escape(self.recording)) + "  ",
            points + "  ",
            score,
            "",
            _(
                "Each choice is judged against what the situation needed, from what the "
                "escalation did next in the recording (cleared by itself: waiting was right; "
                "got worse or breached: an ack was right); where the recording does not say, "
                "against the recorded supervisor."
            ),
            "",
            "| " + " | ".join(_(heading) for heading in CARD_COLUMNS) + " |",
            "|" + "---|" * len(CARD_COLUMNS),
        ]
        for i, d in enumerate(self.decisions, 1):
            rec = d.recorded
            recorded = action_word(rec.action) + (f" ({rec.by})" if rec.by else "")
            if rec.note:
                recorded = _("{action}: “{note}”").format(action=recorded, note=rec.note)
            needed = needed_word(rec.needed)
            if d.reached:
                you = action_word(d.action)
                if d.note:
                    you = _("{action}: “{note}”").format(action=you, note=d.note)
                figures = f"{d.choice_points:.0f} | {d.time_points:.0f} | {d.score:.0f}"
            else:
                you = _("not reached")
                figures = "– | – | " + _("not scored")
            cells = [
                str(i),
                fmt.md_escape(title_words(d.title)),
                _(COURSE_WORDS[rec.course]) if rec.course else _("not seen"),
                needed,
                fmt.md_escape(you),
                fmt.duration(d.took_s),
                fmt.md_escape(recorded),
                fmt.duration(rec.after_s),
                figures,
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def write(self, base: Path) -> tuple[Path, Path]:
        md, js = base.with_suffix(".md"), base.with_suffix(".json")
        write_private(md, self.to_markdown())
        write_private(js, self.to_json())
        return md, js
