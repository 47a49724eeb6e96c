"""The shift report as data: what ``compute`` produces and every renderer reads.

Times are UTC epoch seconds; durations are seconds; rates are fractions 0..1; ``None``
means "no data to compute it from" (never 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from supervisor_tui.core.kpis import FCR_FORMULA
from supervisor_tui.i18n import N_

Grouping = Literal["shift", "day", "week", "month"]

# TRANSLATORS: {formula} is the first contact resolution formula
FCR_IN_PERIOD = N_("{formula}, solved in the period")

FORMULAS: dict[str, str] = {
    "service_level": N_("answered within T ÷ (answered + abandoned after T)"),
    "asa": N_("total wait of answered contacts ÷ answered"),
    "aht": N_("(talk + hold + wrap-up) ÷ contacts ended"),
    "abandonment": N_(
        "abandoned after the short-abandon threshold ÷ offered (short abandons excluded)"
    ),
    "first_response": N_("first agent response − ticket created, tickets created in the period"),
    "resolution": N_("solved − created, tickets solved in the period"),
    "sla_attainment": N_(
        "SLA clocks met ÷ (met + breached), per policy and metric, for clocks that ended "
        "in the period"
    ),
    "csat": N_("good ÷ (good + bad) ratings given in the period"),
    "fcr": FCR_IN_PERIOD.format(formula=FCR_FORMULA),
    "complaint_rate": N_("tickets created with a complaint tag ÷ tickets created"),
    "occupancy": N_("(busy + wrap-up time) ÷ (available + busy + wrap-up time)"),
    "staffing": N_(
        "need = Erlang C agents for the SL target at the half hour's arrivals and handle "
        "time (÷ max_concurrent, rounded up, where agents take several chats at once); "
        "staffed = average agents signed in to the queue and not away"
    ),
    "nps": N_(
        "(promoters 9–10 − detractors 0–6) ÷ survey answers × 100, answers given in the "
        "period, by the queue of their ticket, one per ticket (its latest)"
    ),
    "repeat_contact": N_(
        "tickets created in the period whose requester had created another ticket in the "
        "7 days before ÷ tickets created"
    ),
    "reopen_rate": N_("tickets reopened in the period (solved, then open again) ÷ tickets solved"),
    "escalations_raised": N_(
        "distinct escalations raised in the period (a step up in severity is the same one)"
    ),
    "forecast": N_(
        "offered forecast = mean of the same weekday and half hour over the last N weeks in "
        "the recordings (or the imported forecast); error = |actual − forecast| ÷ actual; "
        "MAPE = its mean over the half hours with contacts"
    ),
    "adherence": N_(
        "time in the scheduled state ÷ scheduled time (open: available, busy or wrap-up; "
        "other activities: away or offline), time without presence left out"
    ),
    "conformance": N_("time worked ÷ time scheduled to work (open), whenever worked"),
    "backlog": N_(
        "open tickets at the period's first and last instant within the window and the "
        "recording, aged from creation"
    ),
}


@dataclass(frozen=True, slots=True)
class Distribution:
    count: int
    median_s: float | None
    p90_s: float | None


@dataclass(frozen=True, slots=True)
class Aging:
    total: int
    under_1d: int
    d1_to_2d: int
    over_2d: int


@dataclass(frozen=True, slots=True)
class SlaFigure:
    policy: str
    metric: str
    met: int
    breached: int
    attainment: float | None


@dataclass(frozen=True, slots=True)
class EscalationFigures:
    raised: int
    acked: int
    resolved: int
    median_ack_s: float | None
    median_resolve_s: float | None


@dataclass(frozen=True, slots=True)
class HalfHour:
    start: float
    offered: int
    answered: int
    abandoned: int
    service_level: float | None
    need: int | None  # Erlang C; None for ticket queues or without arrivals
    staffed: float | None
    """Average agents signed in to the queue and not away, over the part of the half hour
    when the recording knew their presence; None when it knew none of it (before the first
    agent state reached the store, or a helpdesk without presence)."""
    short: bool  # staffed < need


@dataclass(frozen=True, slots=True)
class ForecastHalfHour:
    """A queue's half hour, forecast against actual."""

    start: float
    offered: int
    forecast: float
    error: float | None
    """|actual − forecast| ÷ actual; None when nothing was offered."""
    aht_s: float | None
    forecast_aht_s: float | None
    imported: bool


@dataclass(frozen=True, slots=True)
class AdherenceHalfHour:
    start: float
    scheduled_s: float
    adherence: float | None
    conformance: float | None


@dataclass(frozen=True, slots=True)
class QueueFigures:
    queue_id: str
    name: str
    channel: str
    realtime: bool
    sl_threshold_s: float
    sl_target: float
    short_abandon_s: float
    offered: int
    answered: int
    answered_within_t: int
    abandoned: int
    abandoned_short: int
    abandoned_after_t: int
    service_level: float | None
    asa_s: float | None
    aht_s: float | None
    handled: int
    abandon_rate: float | None
    tickets_created: int
    tickets_solved: int
    first_response: Distribution
    resolution: Distribution
    sla: tuple[SlaFigure, ...]
    backlog_start: Aging
    backlog_end: Aging
    csat_good: int
    csat_bad: int
    csat: float | None
    fcr_solved: int
    fcr_first_contact: int
    fcr: float | None
    complaints: int
    complaint_rate: float | None
    escalations: EscalationFigures
    half_hours: tuple[HalfHour, ...]
    survey_answers: int = 0
    promoters: int = 0
    detractors: int = 0
    nps: float | None = None
    """(promoters − detractors) ÷ answers × 100, −100..100; None without answers."""
    repeat_contacts: int = 0
    repeat_contact_rate: float | None = None
    reopened: int = 0
    reopen_rate: float | None = None
    forecast: tuple[ForecastHalfHour, ...] = ()
    forecast_mape: float | None = None


@dataclass(frozen=True, slots=True)
class AgentFigures:
    agent_id: str
    name: str
    handled: int
    aht_s: float | None
    occupancy: float | None
    csat_good: int
    csat_bad: int
    csat: float | None
    scheduled_s: float = 0.0
    """Scheduled time whose presence is known; 0: no schedule for the agent."""
    adherence: float | None = None
    conformance: float | None = None


@dataclass(frozen=True, slots=True)
class Period:
    label: str  # "Tue 24 Nov 2026", "2026-W48", "November 2026", "Tue 24 Nov 08:00–20:00"
    start: float
    end: float
    queues: tuple[QueueFigures, ...]
    agents: tuple[AgentFigures, ...]
    escalations: EscalationFigures
    events: int
    adherence: float | None = None
    conformance: float | None = None
    adherence_half_hours: tuple[AdherenceHalfHour, ...] = ()


NO_SURVEYS_NOTE = N_(
    "NPS: no surveys in these recordings (supervisor-tui import surveys FILE.csv)."
)
FCR_NOTE = N_(
    "FCR counts tickets whose source reports its replies (tickets solved with no agent "
    "reply reported are left out)."
)
FIXED_NOTES = (NO_SURVEYS_NOTE, FCR_NOTE)
"""The report's notes that are one sentence each, translated as they are (``_``)."""

_NPS_PARTS = (
    ("answers", "NPS: {answers} survey answers in these recordings"),
    (
        "superseded",
        ", {superseded} of them for a ticket answered again or brought twice "
        "(its latest answer counts)",
    ),
    ("unmatched", ", {unmatched} for tickets not in them (left out)"),
)
"""The NPS note's parts, in the English a report keeps (JSON, CSV, Markdown): ``nps_note``
words it from them and ``nps_counts`` reads it back with the same ones, so the two cannot
drift; the renderers say the counts in the floor's language."""
_NPS_READ = re.compile(
    "".join(
        f"(?:{re.escape(part).replace(re.escape('{' + name + '}'), f'(?P<{name}>[0-9]+)')})"
        + ("" if name == "answers" else "?")
        for name, part in _NPS_PARTS
    )
    + re.escape(".")
)


def nps_note(answers: int, superseded: int = 0, unmatched: int = 0) -> str:
    """The NPS note for the surveys read (``NO_SURVEYS_NOTE`` when there are none)."""
    if not answers:
        return NO_SURVEYS_NOTE
    counts = {"answers": answers, "superseded": superseded, "unmatched": unmatched}
    return "".join(part.format(**counts) for name, part in _NPS_PARTS if counts[name]) + "."


def nps_counts(note: str) -> dict[str, int] | None:
    """The counts of a note ``nps_note`` worded (0 for a part it left out), else None."""
    found = _NPS_READ.fullmatch(note)
    if found is None:
        return None
    return {name: int(found[name] or 0) for name, _part in _NPS_PARTS}


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    generated_at: float
    sources: tuple[str, ...]  # the recordings read
    grouping: Grouping
    utc_offset_s: int
    periods: tuple[Period, ...]
    formulas: dict[str, str] = field(default_factory=lambda: dict(FORMULAS))
    notes: tuple[str, ...] = ()  # e.g. "NPS: no surveys in these recordings"
    timezone: str = ""
    """The floor's IANA time zone; empty: the fixed ``utc_offset_s``."""
