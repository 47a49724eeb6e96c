"""The report's forecast against actual and adherence sections, on the hand-worked examples
of test_intraday (the same figures, reached through the report's own fold)."""

from __future__ import annotations

import pytest

from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    Channel,
    Event,
    Payload,
    QueueUpserted,
)
from supervisor_tui.report.compute import compute
from supervisor_tui.report.render import to_json, to_markdown
from tests.helpers import Feed

from .test_intraday import TODAY, History, _scheduled_agent, at


class Recorder(Feed):
    """A Feed that also keeps the events, to hand them to the report as a recording."""

    def __init__(self, state: FloorState) -> None:
        super().__init__(state)
        self.events: list[Event] = []

    def __call__(self, payload: Payload, at: float = 0.0, source: str | None = None) -> Event:
        event = super().__call__(payload, at, source)
        self.events.append(event)
        return event


def test_report_gives_forecast_against_actual_and_adherence_per_half_hour_and_agent() -> None:
    recorder = Recorder(FloorState(FloorTargets()))
    # the schedule and presence of the hand-worked adherence example, and 09:00's history
    recorder(QueueUpserted(queue_id="voice", name="Voice", channel=Channel.VOICE), at(0))
    _scheduled_agent(recorder)
    history = History(recorder)
    for weeks_ago, offered in ((4, 10), (3, 14), (2, 12), (1, 8)):
        history.contacts(at(9, weeks_ago=weeks_ago), [], offered_only=offered)
    history.contacts(at(9), [240.0] * 2, offered_only=20)  # 22 offered at 09:00 today
    recorder(
        AgentStateChanged(agent_id="a1", state=AgentState.AVAILABLE, since=at(11, 40)), at(11, 40)
    )
    report = compute(
        [("floor.db", sorted(recorder.events, key=lambda e: e.seq))],
        targets=FloorTargets(),
        start=TODAY,
        end=TODAY + 86_400,
        now=at(12),
    )
    (period,) = report.periods
    voice = next(q for q in period.queues if q.queue_id == "voice")
    nine = next(f for f in voice.forecast if f.start == at(9))
    assert (nine.offered, nine.forecast) == (22, pytest.approx(11.0))
    assert nine.error == pytest.approx(11 / 22)
    assert nine.aht_s == pytest.approx(240.0)
    ana = next(a for a in period.agents if a.agent_id == "a1")
    # the report's day ends at its last event, 11:40: the hand-worked 125/160 and 135/145
    assert ana.adherence == pytest.approx(125 / 160)
    assert ana.conformance == pytest.approx(135 / 145)
    assert period.adherence == pytest.approx(125 / 160)
    ten = next(h for h in period.adherence_half_hours if h.start == at(10))
    # 10:00–10:30, open: away 20 min, busy 10 → 10 of 30 minutes in the scheduled state
    assert ten.adherence == pytest.approx(10 / 30)
    md = to_markdown(report)
    assert "### Forecast against actual (MAPE: Voice 50%)" in md
    assert "| Voice | 09:00 | 22 | 11.0 | 50% | 4:00 | – |" in md  # none handled back then
    assert "| Voice | 08:30 |" not in md  # nothing forecast, nothing offered: no line
    assert "| Ana B. | 2h40m | 78% | 93% |" in md
    assert '"adherence_half_hours"' in to_json(report)
