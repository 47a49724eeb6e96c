"""Forecast against actual, per queue and half hour, and the service level it projects.

The method (printed in help as FORECAST_METHOD):

- offered: the mean of the contacts offered in the same half hour of the same weekday over
  the last N weeks that the store holds (a week whose day has no contact at all for the
  queue is absent, not zero); its error is shown as the spread (lowest–highest) over those
  weeks and, once half hours of today are over, as MAPE against them;
- AHT: the handle time of contacts that ended in those half hours ÷ their number;
- an imported forecast (``supervisor-tui import forecast``) replaces both for the half
  hours it covers.

The projection for the rest of the day sizes each coming half hour by Erlang C with the
agents the schedule puts on the queue then (those on an "open" activity who serve it;
without a schedule, those staffing it now), each taking ``max_concurrent`` contacts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from supervisor_tui.core.erlang import erlang_c_figures
from supervisor_tui.core.intraday import INTERVAL_S, IntradayBook, floor_day, interval_start
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.schedule import scheduled_open_agents
from supervisor_tui.core.targets import FloorTargets, QueueTargets
from supervisor_tui.i18n import N_

FORECAST_METHOD = N_(
    "forecast = mean of the same weekday and half hour over the last N weeks (spread "
    "low–high over them; MAPE = mean |actual − forecast| ÷ actual over today's past half "
    "hours); AHT = handle time ÷ handled in those half hours; an imported forecast wins"
)
PROJECTION_METHOD = N_(
    "projected SL = Erlang C per coming half hour: forecast offered and AHT, agents the "
    "schedule puts on the queue (else those staffing it now) × max_concurrent; weighted by "
    "offered"
)


@dataclass(frozen=True, slots=True)
class IntervalForecast:
    start: int
    offered: float
    aht_s: float | None
    """None: no contact ended in those half hours (the queue's default AHT is used)."""
    weeks: int
    """Past weeks behind the figure; 0 for an imported forecast."""
    low: float | None
    high: float | None
    imported: bool


def same_slot_weeks_back(start: int, weeks: int, targets: FloorTargets) -> list[int]:
    """The same half hour on the same weekday 1..``weeks`` weeks earlier, on the floor's
    clock (a summer-time change between them moves the UTC instant, not the floor's)."""
    midnight = targets.midnight(start)
    slot = round(start - midnight)
    return [int(targets.midnight(start, days=-7 * w) + slot) for w in range(1, weeks + 1)]


PAST_SLOTS_KEPT = 4096
"""Half hours remembered by ``past_slots``: a day of a thousand queues asks for 48 of them
(and the coming ones), so this holds a couple of days at any number of weeks back."""
_past_slots: dict[tuple[int, int, str, int], tuple[tuple[int, int], ...]] = {}


def past_slots(start: int, weeks: int, targets: FloorTargets) -> tuple[tuple[int, int], ...]:
    """``same_slot_weeks_back`` with each half hour's floor day, remembered: the board
    forecasts every realtime queue's day every ten seconds, each half hour a time-zone
    look-up per week back, and the answer depends only on the floor's zone and offset."""
    key = (start, weeks, targets.timezone, targets.utc_offset_s)
    found = _past_slots.get(key)
    if found is None:
        if len(_past_slots) >= PAST_SLOTS_KEPT:
            _past_slots.clear()
        found = _past_slots[key] = tuple(
            (past, floor_day(past, targets)) for past in same_slot_weeks_back(start, weeks, targets)
        )
    return found


def forecast_interval(
    book: IntradayBook, queue_id: str, start: int, weeks: int, targets: FloorTargets
) -> IntervalForecast | None:
    """The forecast for one queue's half hour starting at ``start``; None when there is
    neither an import nor a past week to go on."""
    planned = book.imported.get(queue_id, {}).get(start)
    if planned is not None:
        return IntervalForecast(start, planned.offered, planned.aht_s, 0, None, None, True)
    seen = book.days_seen.get(queue_id, set())
    counts = book.counts.get(queue_id, {})
    offered: list[int] = []
    handled = 0
    handle_s = 0.0
    for past, day in past_slots(start, weeks, targets):
        if day not in seen:
            continue
        count = counts.get(past)
        offered.append(count.offered if count is not None else 0)
        if count is not None:
            handled += count.handled
            handle_s += count.handle_s
    if not offered:
        return None
    return IntervalForecast(
        start=start,
        offered=sum(offered) / len(offered),
        aht_s=handle_s / handled if handled else None,
        weeks=len(offered),
        low=float(min(offered)),
        high=float(max(offered)),
        imported=False,
    )


def actual_offered(book: IntradayBook, queue_id: str, start: int) -> int:
    count = book.counts.get(queue_id, {}).get(start)
    return count.offered if count is not None else 0


def mape(pairs: list[tuple[float, float]]) -> float | None:
    """Mean absolute percentage error of (actual, forecast) pairs, over those with an
    actual above zero (a percentage of nothing is undefined); None when there are none."""
    errors = [abs(actual - fc) / actual for actual, fc in pairs if actual > 0]
    return sum(errors) / len(errors) if errors else None


@dataclass(frozen=True, slots=True)
class QueueForecast:
    """A queue's forecast against actual at an instant, for its tile and the reports."""

    queue_id: str
    interval: IntervalForecast | None
    """The current half hour's forecast (None: no history and no import)."""
    actual_now: int
    """Offered so far in the current half hour."""
    forecast_today: float | None
    """Forecast offered from the floor's midnight to now (the current half hour pro rata)."""
    actual_today: int
    mape: float | None
    """Over today's past half hours."""
    over: bool
    """Running more than the margin above forecast today."""
    projected_sl: float | None
    """Offered-weighted Erlang C service level for the rest of the day."""
    projected_asa_s: float | None


def queue_forecast(
    state: FloorState,
    queue_id: str,
    now: float,
    *,
    weeks: int,
    margin: float,
    min_over: int,
) -> QueueForecast:
    targets = state.targets
    book = state.intraday
    current = interval_start(now, targets)
    day_start = int(targets.midnight(now))
    interval = forecast_interval(book, queue_id, current, weeks, targets)
    forecast_today = 0.0
    known = False
    actual_today = 0
    pairs: list[tuple[float, float]] = []
    start = day_start
    while start <= current:
        fc = (
            interval
            if start == current
            else forecast_interval(book, queue_id, start, weeks, targets)
        )
        actual = actual_offered(book, queue_id, start)
        actual_today += actual
        if fc is not None:
            known = True
            share = 1.0 if start < current else min(1.0, (now - start) / INTERVAL_S)
            forecast_today += fc.offered * share
            if start < current:
                pairs.append((float(actual), fc.offered))
        start += INTERVAL_S
    over = (
        known
        and actual_today > forecast_today * (1 + margin)
        and actual_today - forecast_today >= min_over
    )
    sl, asa = project_rest_of_day(state, queue_id, now, weeks=weeks)
    return QueueForecast(
        queue_id=queue_id,
        interval=interval,
        actual_now=actual_offered(book, queue_id, current),
        forecast_today=forecast_today if known else None,
        actual_today=actual_today,
        mape=mape(pairs),
        over=over,
        projected_sl=sl,
        projected_asa_s=asa,
    )


@dataclass(frozen=True, slots=True)
class IntervalProjection:
    start: int
    offered: float
    aht_s: float
    agents: int
    service_level: float
    asa_s: float


def project_interval(
    offered: float, aht_s: float, agents: int, queue: QueueTargets
) -> tuple[float, float]:
    """Service level and ASA for a half hour of ``offered`` contacts at ``aht_s`` with
    ``agents`` agents, each taking ``max_concurrent`` at once (Erlang C; an unstable queue
    gives SL 0 and ASA ∞). No contacts: SL 1, ASA 0."""
    if offered <= 0:
        return 1.0, 0.0
    figures = erlang_c_figures(
        agents * queue.max_concurrent, offered / INTERVAL_S, aht_s, queue.sl_threshold_s
    )
    return figures.service_level, figures.asa_s


def coming_intervals(
    state: FloorState,
    queue_id: str,
    now: float,
    *,
    weeks: int,
    count: int | None = None,
    agent_delta: int = 0,
    targets_override: QueueTargets | None = None,
) -> list[IntervalProjection]:
    """The current and coming half hours of the floor's day (or ``count`` of them after the
    current one) that have a forecast, each sized by Erlang C."""
    targets = state.targets
    queue = targets_override or targets.for_queue(queue_id)
    start = interval_start(now, targets)
    end = int(targets.midnight(now, days=1))
    if count is not None:
        end = min(end, start + (count + 1) * INTERVAL_S)
    staffed_now = state.staffed.get(queue_id, 0)
    out: list[IntervalProjection] = []
    while start < end:
        fc = forecast_interval(state.intraday, queue_id, start, weeks, targets)
        if fc is not None:
            aht = fc.aht_s or queue.aht_default_s
            planned = scheduled_open_agents(state, queue_id, start + INTERVAL_S / 2)
            agents = max(0, (staffed_now if planned is None else planned) + agent_delta)
            sl, asa = project_interval(fc.offered, aht, agents, queue)
            out.append(IntervalProjection(start, fc.offered, aht, agents, sl, asa))
        start += INTERVAL_S
    return out


def weighted(projections: list[IntervalProjection]) -> tuple[float | None, float | None]:
    """Service level and ASA over half hours, weighted by their offered contacts."""
    total = sum(p.offered for p in projections)
    if total <= 0:
        return None, None
    sl = sum(p.service_level * p.offered for p in projections) / total
    asa = sum(p.asa_s * p.offered for p in projections) / total
    return sl, asa if math.isfinite(asa) else math.inf


def project_rest_of_day(
    state: FloorState, queue_id: str, now: float, *, weeks: int
) -> tuple[float | None, float | None]:
    queue = state.queues.get(queue_id)
    if queue is None or not queue.channel.is_realtime:
        return None, None
    return weighted(coming_intervals(state, queue_id, now, weeks=weeks))
