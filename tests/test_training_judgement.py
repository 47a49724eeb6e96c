"""Training measures judgement (issue #24): a choice is scored against what the situation
needed, read from the escalation's later course in the recording, not only against the
recorded supervisor; an ack with no note where the supervisor wrote one scores lower; speed
counts only when the choice was right; a decision open at quit is "not reached".

Every expected score below is worked by hand from the rules (choice 60 %, time 40 %; time
full up to the reference, max(30 s, the supervisor's time), none at three times it), with the
arithmetic beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supervisor_tui.core.replay import Mark, Recording
from supervisor_tui.core.training import (
    BREACHED,
    CLEARED,
    UNKNOWN,
    WORSE,
    RecordedAction,
    TrainingSession,
)
from supervisor_tui.model import (
    EscalationAcked,
    EscalationRaised,
    EscalationResolved,
    NewEvent,
    Payload,
    Severity,
)
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, targets

T0 = EPOCH + 3600


def raised(esc: str, at: float, severity: Severity, title: str) -> EscalationRaised:
    return EscalationRaised(
        escalation_id=esc,
        rule_id="r",
        subject=f"queue:{esc}",
        severity=severity,
        title=title,
        raised_at=at,
    )


def shift(path: Path) -> Recording:
    """Four escalations, each with its own course:

    - worse: a warning at T0 that steps up to critical at T0+300; the supervisor acked it
      after 90 s with a note;
    - cleared: a warning the rule resolved by itself at T0+200; nobody touched it;
    - breached: "SLA at risk" at T0, "SLA breached" at T0+600; acked after 45 s, no note;
    - open: a warning still open at the end; acked after 60 s with a note.
    """
    payloads: list[tuple[float, Payload]] = [
        (T0, raised("worse", T0, Severity.WARNING, "Chat: 9 waiting")),
        (T0, raised("cleared", T0, Severity.WARNING, "Voice: longest wait 3m")),
        (T0, raised("breached", T0, Severity.WARNING, "SLA at risk: first reply on #7")),
        (T0, raised("open", T0, Severity.WARNING, "E-mail | backlog *high*")),
        (T0 + 45, EscalationAcked(escalation_id="breached", by="Sam", at=T0 + 45)),
        (T0 + 60, EscalationAcked(escalation_id="open", by="Sam", note="called", at=T0 + 60)),
        (
            T0 + 90,
            EscalationAcked(escalation_id="worse", by="Sam", note="moving two agents", at=T0 + 90),
        ),
        (T0 + 200, EscalationResolved(escalation_id="cleared", by=None, reason="ok", at=T0 + 200)),
        (T0 + 300, raised("worse", T0 + 300, Severity.CRITICAL, "Chat: 20 waiting")),
        (T0 + 600, raised("breached", T0 + 600, Severity.CRITICAL, "SLA breached: first reply")),
    ]
    store = SQLiteStore(path)
    store.append(
        [
            NewEvent(source="rules", key=f"k{i}", occurred_at=at, received_at=at, payload=p)
            for i, (at, p) in enumerate(payloads)
        ]
    )
    return Recording(store, targets())


@pytest.fixture
def recorded(tmp_path: Path) -> dict[str, RecordedAction]:
    recording = shift(tmp_path / "shift.db")
    try:
        return TrainingSession.recorded_actions(recording)
    finally:
        recording.store.close()


def test_the_course_of_each_escalation_is_read_from_the_recording(
    recorded: dict[str, RecordedAction],
) -> None:
    assert {k: (v.course, v.needed) for k, v in recorded.items()} == {
        "worse": (WORSE, "act"),
        "cleared": (CLEARED, "wait"),
        "breached": (BREACHED, "act"),
        "open": (UNKNOWN, ""),
    }
    assert recorded["worse"] == RecordedAction("ack", 90, "Sam", "moving two agents", WORSE)
    assert recorded["cleared"].action == "none"  # nobody touched it


def decide(
    session: TrainingSession,
    recorded: dict[str, RecordedAction],
    esc: str,
    action: str | None,
    note: str = "",
    took_s: float = 0.0,
) -> None:
    """Stop at ``esc`` at wall time 1000 and choose ``action`` ``took_s`` later (None: quit
    while it is open)."""
    payload = raised(esc, T0, Severity.WARNING, f"title of {esc}")
    session.stop(Mark(seq=1, at=T0), payload, recorded[esc], 1000.0)
    if action is not None:
        session.act(action, note, 1000.0 + took_s)


def test_choices_are_scored_against_what_the_situation_needed(
    recorded: dict[str, RecordedAction],
) -> None:
    s = TrainingSession("Kim", "shift.db")
    decide(s, recorded, "worse", "ack", "moving agents", took_s=20)
    decide(s, recorded, "cleared", "ack", "", took_s=1)
    decide(s, recorded, "breached", "snooze", took_s=10)
    decide(s, recorded, "open", "ack", "called back", took_s=100)
    decide(s, recorded, "cleared", None)  # open when the trainee quit
    scores = [(d.choice_points, d.time_points, d.score) for d in s.decisions]
    # worse, ack with a note in 20 s: needed acting, ack = 1.0 -> 60; right, reference
    #   max(30, 90) = 90, 20 <= 90 -> time 1.0 -> 40; 100
    assert scores[0] == pytest.approx((60, 40, 100))
    # cleared, ack in 1 s: waiting was right, ack = 0.5 -> 30; wrong, so speed is no merit -> 0
    assert scores[1] == pytest.approx((30, 0, 30))
    # breached, snooze in 10 s: needed acting, snooze = 0.25 -> 15; wrong -> 0; 15
    assert scores[2] == pytest.approx((15, 0, 15))
    # open (the recording does not say), ack with a note in 100 s: as the supervisor -> 1.0
    #   -> 60; right, reference max(30, 60) = 60, 1 - (100 - 60) / (2 * 60) = 2/3 -> 26.67
    assert scores[3] == pytest.approx((60, 80 / 3, 60 + 80 / 3))
    assert not s.decisions[4].reached
    # the average leaves out the one not reached: (100 + 30 + 15 + 86.67) / 4 = 57.92;
    # its split: choice (60 + 30 + 15 + 60) / 4 = 41.25, time (40 + 0 + 0 + 26.67) / 4 = 16.67
    assert s.total == pytest.approx((100 + 30 + 15 + 60 + 80 / 3) / 4)
    assert s.total == pytest.approx(57.92, abs=0.01)
    assert s.split() == pytest.approx((41.25, 50 / 3))

    card = json.loads(s.to_json())
    assert (card["score"], card["choice_points"], card["time_points"]) == (57.9, 41.2, 16.7)
    assert card["decisions_made"] == 4 and card["not_reached"] == 1
    assert card["decisions"][4]["score"] is None and card["decisions"][4]["reached"] is False
    assert card["decisions"][1]["needed"] == "wait"


def test_waiting_or_a_snooze_where_it_cleared_by_itself(
    recorded: dict[str, RecordedAction],
) -> None:
    s = TrainingSession("Kim", "shift.db")
    decide(s, recorded, "cleared", "none")
    decide(s, recorded, "cleared", "snooze", took_s=45)
    decide(s, recorded, "cleared", "snooze", took_s=120)
    decide(s, recorded, "worse", "none")
    # let go where it cleared: 1.0 -> 60, right, nothing to be quick about -> 40; 100
    # snooze in 45 s: 1.0 -> 60; right, reference 30 (nobody acted), 1 - 15 / 60 = 0.75 -> 30
    # snooze in 120 s: 60; 1 - 90 / 60 < 0 -> 0; 60
    # let go where it got worse: 0 and 0
    assert [d.score for d in s.decisions] == pytest.approx([100, 90, 60, 0])


def test_acking_everything_at_once_no_longer_scores_about_100(
    recorded: dict[str, RecordedAction],
) -> None:
    s = TrainingSession("Fast Fred", "shift.db")
    for esc in ("worse", "cleared", "breached", "open"):
        decide(s, recorded, esc, "ack", "", took_s=1)
    # worse: right, but no note where Sam wrote one: 1.0 - 0.25 = 0.75 -> 45; time 1.0 -> 40; 85
    # cleared: waiting was right: 0.5 -> 30; wrong -> 0; 30
    # breached: right, Sam wrote no note either: 60 + 40 = 100
    # open: as Sam (ack), no note where Sam wrote "called": 45 + 40 = 85
    assert [d.score for d in s.decisions] == pytest.approx([85, 30, 100, 85])
    assert s.total == pytest.approx(75)  # (85 + 30 + 100 + 85) / 4; it was 92.5 before


def test_the_card_shows_the_supervisors_action_and_note_and_the_split(
    recorded: dict[str, RecordedAction],
) -> None:
    s = TrainingSession("Kim", "shift.db")
    decide(s, recorded, "worse", "ack", "moving agents", took_s=20)
    decide(s, recorded, "cleared", "ack", "", took_s=1)
    decide(s, recorded, "open", None)
    card = s.to_markdown()
    # (100 + 30) / 2 = 65; choice (60 + 30) / 2 = 45; time (40 + 0) / 2 = 20
    assert "**Score: 65 / 100**: choice 45 / 60, time to act 20 / 40" in card
    assert "Decision points: 3, 2 made, 1 not reached (not scored)" in card
    rows = [line for line in card.splitlines() if line[:4] in ("| 1 ", "| 2 ", "| 3 ")]
    assert rows == [
        "| 1 | title of worse | got worse | an ack | ack: “moving agents” | 0:20 "
        "| ack (Sam): “moving two agents” | 1:30 | 60 | 40 | 100 |",
        "| 2 | title of cleared | cleared by itself | waiting | ack | 0:01 | none | — "
        "| 30 | 0 | 30 |",
        "| 3 | title of open | not seen | as recorded | not reached | — "
        "| ack (Sam): “called” | 1:00 | – | – | not scored |",
    ]


def test_nothing_decided_is_no_score_not_zero() -> None:
    s = TrainingSession("Kim", "shift.db")
    s.stop(
        Mark(seq=1, at=T0),
        raised("x", T0, Severity.WARNING, "x"),
        RecordedAction("ack", 30.0),
        0.0,
    )
    assert s.total is None and s.split() is None
    assert "**Score: none** (no decision made)" in s.to_markdown()
    assert json.loads(s.to_json())["score"] is None


def test_a_decision_jumped_past_is_not_reached_not_scored_as_letting_it_go(
    recorded: dict[str, RecordedAction],
) -> None:
    s = TrainingSession("Kim", "shift.db")

    def stop(esc: str, wall: float) -> None:
        s.stop(Mark(seq=1, at=T0), raised(esc, T0, Severity.WARNING, esc), recorded[esc], wall)

    stop("worse", 0.0)
    # it got worse: an ack was right (60); with a note; 20 s <= max(30, 90) s: time 40 -> 100
    s.act("ack", "moving agents", 20.0)
    stop("breached", 100.0)
    assert s.skip() is not None  # a seek past it: no choice made
    assert s.open_decision is None and s.skip() is None
    stop("cleared", 200.0)
    # it cleared by itself: letting it go (space) was right (60), nothing to be quick about
    # (40) -> 100
    s.act("none", "", 230.0)
    stop("open", 300.0)  # still open when the trainee quits

    made = {d.escalation_id: d.score for d in s.scored}
    assert made == {"worse": pytest.approx(100.0), "cleared": pytest.approx(100.0)}
    # (100 + 100) / 2 = 100; had the jump been letting it go, the breach would have scored
    # 0 (an ack was needed) and the average (100 + 0 + 100) / 3 = 66.7
    assert s.total == pytest.approx(100.0)
    card = json.loads(s.to_json())
    assert card["score"] == 100.0
    assert (card["decisions_made"], card["not_reached"]) == (2, 2)
    by_id = {d["escalation_id"]: d for d in card["decisions"]}
    assert by_id["breached"]["reached"] is False and by_id["breached"]["score"] is None
    assert by_id["open"]["reached"] is False and by_id["open"]["score"] is None
    rows = [line for line in s.to_markdown().splitlines() if line.startswith("| 2 ")]
    assert rows and "not reached" in rows[0] and "not scored" in rows[0]
