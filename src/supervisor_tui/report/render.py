"""Renderings of a :class:`~supervisor_tui.report.model.Report`: JSON, CSV, Markdown, HTML, rich.

Every renderer reads the report only; none computes a figure the model does not hold, except
the plain sums the tables need (SLA attainment over all policies, the count of short half hours).

Text that comes from a helpdesk (queue, channel and agent names, SLA policy names) is data and
is escaped for each output: ``html.escape`` for HTML and SVG, backslash escapes for Markdown,
``rich.text.Text`` (never a markup string) for the terminal, the ``csv`` module's quoting for CSV.

The SL *target* (e.g. 80 %) is each queue's ``sl_target``; HTML and rich also take
``sl_targets`` (queue id → fraction) to override it. Times print in the report's local time
(``utc_offset_s``).

Words, dates and numbers on the page are the floor's language (``supervisor_tui.i18n``, dates
and numbers through ``core.fmt``); CSV and JSON are for machines and keep their English keys
and plain numbers in every language. What the model holds in English for them (the title,
period labels, notes, formulas) is put in the floor's language where it is drawn.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import html
import io
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from supervisor_tui import i18n
from supervisor_tui.core import fmt
from supervisor_tui.core.feed import floor_words
from supervisor_tui.core.fmt import md_escape
from supervisor_tui.core.kpis import FCR_FORMULA
from supervisor_tui.i18n import N_, _, ngettext, pgettext
from supervisor_tui.report.model import (
    FCR_IN_PERIOD,
    FIXED_NOTES,
    AgentFigures,
    EscalationFigures,
    HalfHour,
    Period,
    QueueFigures,
    Report,
    nps_counts,
)

__all__ = [
    "CSV_COLUMNS",
    "CSV_SECTIONS",
    "DEFAULT_SL_TARGET",
    "NONE",
    "QUEUE_HEADERS",
    "fmt_clock",
    "fmt_duration",
    "fmt_local",
    "fmt_rate",
    "iso_time",
    "md_escape",
    "rich_summary",
    "short_half_hours",
    "sl_bar",
    "sla_attainment_all",
    "sparkline",
    "svg_offered_sl",
    "svg_staffing",
    "to_csv",
    "to_html",
    "to_json",
    "to_markdown",
]

NONE = "–"
"""What every human-readable rendering prints for a figure with no data (``None``)."""

DEFAULT_SL_TARGET = 0.80
"""The service-level target drawn when neither the caller nor the model gives one."""

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"

# ---------------------------------------------------------------------------------------------
# Formatting helpers


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value) or math.isinf(value)


def fmt_duration(seconds: float | None) -> str:
    """``0:43``, ``4:49``, ``1h05m``, ``2d03h``; ``–`` when there is no figure (the board's
    own formatter: one rounding rule for both)."""
    return fmt.duration(seconds, none=NONE)


def fmt_rate(share: float | None) -> str:
    """A fraction 0..1 as a whole percentage: ``62%``; ``–`` when there is no figure."""
    return fmt.percent(share, none=NONE)


def _fmt_threshold(seconds: float) -> str:
    """The SL threshold T, short: ``20s``, ``1:30``."""
    if seconds < 60:
        # TRANSLATORS: the service-level threshold T in seconds, as short as the language allows
        return _("{seconds}s").format(seconds=fmt.number(seconds, 2))
    return fmt_duration(seconds)


def _fmt_agents(value: float | None) -> str:
    """Average agents: ``6.5``, ``6``; ``–`` when the recording did not know."""
    return fmt.number(value, 1, none=NONE)


def _fmt_count(value: int | None) -> str:
    return fmt.number(value, none=NONE)


Zone = int | tzinfo
"""The floor's time zone (from ``Report.timezone``) or its fixed offset in seconds."""


def report_zone(report: Report) -> Zone:
    return ZoneInfo(report.timezone) if report.timezone else report.utc_offset_s


def _tz(utc_offset_s: Zone) -> tzinfo:
    if isinstance(utc_offset_s, tzinfo):
        return utc_offset_s
    return timezone(timedelta(seconds=utc_offset_s))


def _local(ts: float, utc_offset_s: Zone) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC).astimezone(_tz(utc_offset_s))


def fmt_clock(ts: float, utc_offset_s: Zone) -> str:
    """Local clock time ``HH:MM``."""
    return fmt.clock(_local(ts, utc_offset_s))


def fmt_local(ts: float, utc_offset_s: Zone) -> str:
    """Local date and time: ``Tue 24 Nov 2026 08:00`` (``2026年11月24日(火) 08:00`` in Japanese)."""
    return fmt.date(_local(ts, utc_offset_s), "day_time")


def _fmt_offset(utc_offset_s: Zone) -> str:
    if isinstance(utc_offset_s, tzinfo):
        return str(utc_offset_s)
    if utc_offset_s == 0:
        return "UTC"
    sign = "+" if utc_offset_s > 0 else "−"
    minutes = abs(utc_offset_s) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _spans_days(period: Period, utc_offset_s: Zone) -> bool:
    end = max(period.start, period.end - 1)
    return _local(period.start, utc_offset_s).date() != _local(end, utc_offset_s).date()


def _fmt_half_hour(hh: HalfHour, utc_offset_s: Zone, with_day: bool) -> str:
    return _fmt_slot(hh.start, utc_offset_s, with_day)


def _fmt_slot(start: float, utc_offset_s: Zone, with_day: bool) -> str:
    local = _local(start, utc_offset_s)
    return fmt.date(local, "weekday_time") if with_day else fmt.clock(local)


def _fmt_span(period: Period, utc_offset_s: Zone) -> str:
    return ngettext(
        "{start} – {end} ({zone}) · {count} event",
        "{start} – {end} ({zone}) · {count} events",
        period.events,
    ).format(
        start=fmt_local(period.start, utc_offset_s),
        end=fmt_local(period.end, utc_offset_s),
        zone=_fmt_offset(utc_offset_s),
        count=_fmt_count(period.events),
    )


def _fmt_count_rate(count: int, rate: float | None) -> str:
    if rate is None:
        return _fmt_count(count) if count else NONE
    return f"{_fmt_count(count)} ({fmt_rate(rate)})"


# ---------------------------------------------------------------------------------------------
# What the model keeps in English (its JSON is for machines), in the floor's language

FORMULA_LABELS: dict[str, str] = {
    "service_level": N_("Service level"),
    "asa": N_("ASA"),
    "aht": N_("AHT"),
    "abandonment": N_("Abandonment"),
    "first_response": N_("First response"),
    "resolution": N_("Resolution"),
    "sla_attainment": N_("SLA attainment"),
    "csat": N_("CSAT"),
    "fcr": N_("FCR"),
    "complaint_rate": N_("Complaint rate"),
    "occupancy": N_("Occupancy"),
    "staffing": N_("Staffing"),
    "nps": N_("NPS"),
    "repeat_contact": N_("Repeat contact"),
    "reopen_rate": N_("Reopen rate"),
    "escalations_raised": N_("Escalations raised"),
    "forecast": N_("Forecast"),
    "adherence": N_("Adherence"),
    "conformance": N_("Conformance"),
    "backlog": N_("Backlog"),
}
"""Each formula's heading; a key without one is shown as it is made (``first_response`` →
``First response``)."""


def _label(key: str) -> str:
    """A FORMULAS key as a heading: ``first_response`` → ``First response``, ``aht`` → ``AHT``."""
    if key in FORMULA_LABELS:
        return _(FORMULA_LABELS[key])
    special = {"asa": "ASA", "aht": "AHT", "csat": "CSAT", "fcr": "FCR", "nps": "NPS", "sla": "SLA"}
    words = [special.get(w, w) for w in key.split("_") if w]
    if not words:
        return key
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def _formula(key: str, text: str) -> str:
    """A formula in the floor's language (``model.FORMULAS`` marks each for translation)."""
    if key == "fcr" and text == FCR_IN_PERIOD.format(formula=FCR_FORMULA):
        return _(FCR_IN_PERIOD).format(formula=_(FCR_FORMULA))
    return _(text)


def _title(title: str) -> str:
    """The report's title: the ``report`` command's ``<floor>: report`` and ``compute``'s
    default in the floor's language; any other title is the caller's and shown as it is."""
    if title == "Shift report":
        return _("Shift report")
    floor, colon, rest = title.rpartition(": ")
    if colon and rest == "report":
        # TRANSLATORS: a report's title; {floor} is the floor's name
        return _("{floor}: report").format(floor=floor_words(floor))
    return title


def _grouping(grouping: str) -> str:
    words = {
        "shift": pgettext("grouping", "shift"),
        "day": pgettext("grouping", "day"),
        "week": pgettext("grouping", "week"),
        "month": pgettext("grouping", "month"),
    }
    return words.get(grouping, grouping)


def _period_label(period: Period, grouping: str, zone: Zone) -> str:
    """The period's name: the model's (English) one in English, else made again from its
    start by the language's own date patterns (the model's stays in the JSON)."""
    if i18n.current() == "en":
        return period.label
    start = _local(period.start, zone)
    if grouping == "day":
        return fmt.date(start, "day")
    if grouping == "shift":
        # TRANSLATORS: a shift's name: its day, then the first and last event's clock times
        return _("{day} {first}–{last}").format(
            day=fmt.date(start, "day"),
            first=fmt.clock(start),
            last=fmt.clock(_local(period.end, zone)),
        )
    if grouping == "week":
        year, week, weekday = start.isocalendar()
        monday = start - timedelta(days=weekday - 1)
        # TRANSLATORS: a week's name: its ISO number (2026-W48) and its Monday
        return _("{week} (from {monday})").format(
            week=f"{year}-W{week:02d}", monday=fmt.date(monday, "day_month")
        )
    if grouping == "month":
        return fmt.date(start, "month")
    return period.label


def _note(note: str) -> str:
    """One of ``compute``'s notes in the floor's language (English: as the model has it); a
    note not known here is shown as it is."""
    if i18n.current() == "en":
        return note
    if note in FIXED_NOTES:
        return _(note)
    nps = nps_counts(note)
    if nps is None:
        return note
    answers = nps["answers"]
    sentences = [
        ngettext(
            "NPS: {count} survey answer in these recordings.",
            "NPS: {count} survey answers in these recordings.",
            answers,
        ).format(count=_fmt_count(answers))
    ]
    if nps["superseded"]:
        n = nps["superseded"]
        sentences.append(
            ngettext(
                "{count} of them for a ticket answered again or brought twice (its latest "
                "answer counts).",
                "{count} of them for tickets answered again or brought twice (the latest "
                "answer counts).",
                n,
            ).format(count=_fmt_count(n))
        )
    if nps["unmatched"]:
        n = nps["unmatched"]
        sentences.append(
            ngettext(
                "{count} for a ticket not in these recordings (left out).",
                "{count} for tickets not in these recordings (left out).",
                n,
            ).format(count=_fmt_count(n))
        )
    return " ".join(sentences)


# ---------------------------------------------------------------------------------------------
# Figures derived by plain sums


def sla_attainment_all(queue: QueueFigures) -> float | None:
    """SLA clocks met ÷ (met + breached) over every policy and metric of the queue."""
    met = sum(s.met for s in queue.sla)
    breached = sum(s.breached for s in queue.sla)
    return met / (met + breached) if met + breached else None


def short_half_hours(queue: QueueFigures) -> tuple[HalfHour, ...]:
    return tuple(hh for hh in queue.half_hours if hh.short)


def _sl_target(queue: QueueFigures, overrides: Mapping[str, float] | None) -> float:
    """The SL target: the caller's per-queue override, else the queue's own."""
    if overrides is not None and queue.queue_id in overrides:
        return overrides[queue.queue_id]
    return queue.sl_target


# ---------------------------------------------------------------------------------------------
# JSON


def to_json(report: Report) -> str:
    """The whole report: ``dataclasses.asdict`` in field order, indent 2, ``None`` as ``null``."""
    return json.dumps(dataclasses.asdict(report), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------
# CSV

CSV_COLUMNS: tuple[str, ...] = (
    "period",
    "window_start",
    "window_end",
    "section",
    "queue_id",
    "queue",
    "agent_id",
    "agent",
    "detail",
    "figure",
    "value",
    "unit",
)
"""One long ("tidy") table: one figure per row. A spreadsheet's pivot table or filter and a
BI tool read it as it is, and a new figure or section adds rows, never columns."""

UNITS = {
    "count": "a whole number",
    "share": "a fraction 0..1 (0.6234 is 62.34 %)",
    "seconds": "whole seconds",
    "agents": "agents (need: Erlang C, whole; staffed: an average)",
    "nps": "−100..100",
    "flag": "1 yes, 0 no",
}


def _csv_rate(share: float | None) -> str:
    return "" if share is None or _missing(share) else f"{share:.4f}"


def _csv_seconds(seconds: float | None) -> str:
    return "" if seconds is None or _missing(seconds) else str(fmt.whole_seconds(seconds))


def _csv_number(value: float | None, unit: str) -> str:
    if value is None or _missing(value):
        return ""
    if unit == "share":
        return _csv_rate(value)
    if unit == "seconds":
        return _csv_seconds(value)
    if unit == "nps":
        return f"{value:.2f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")  # 7.5 agents, 12 offered


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def csv_text(text: str) -> str:
    """A name as a CSV cell a spreadsheet will not run: one starting like a formula (=, +, -,
    @, tab, CR) gets a leading ' (OWASP's advice); a plain number such as -5 stays a number."""
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def iso_time(ts: float, zone: Zone) -> str:
    """ISO 8601 in the floor's time, with its offset: ``2026-11-24T08:00:00+07:00``."""
    return _local(ts, zone).isoformat(timespec="seconds")


_HALF_HOUR_S = 1800

Figure = tuple[str, float | None, str]
"""(figure, value, unit) of one CSV row."""


@dataclass(frozen=True, slots=True)
class _CsvScope:
    """Where a group of figures belongs: the period, the section, and a queue or agent."""

    period: Period
    zone: Zone
    section: str
    queue: QueueFigures | None = None
    agent: AgentFigures | None = None
    detail: str = ""
    start: float | None = None  # default: the period's
    end: float | None = None

    def rows(self, figures: Sequence[Figure]) -> list[list[str]]:
        start = self.period.start if self.start is None else self.start
        end = self.period.end if self.end is None else self.end
        head = [
            csv_text(self.period.label),
            iso_time(start, self.zone),
            iso_time(end, self.zone),
            self.section,
            csv_text(self.queue.queue_id) if self.queue else "",
            csv_text(self.queue.name) if self.queue else "",
            csv_text(self.agent.agent_id) if self.agent else "",
            csv_text(self.agent.name) if self.agent else "",
            csv_text(self.detail),
        ]
        return [[*head, name, _csv_number(value, unit), unit] for name, value, unit in figures]


def _csv_queues(period: Period, zone: Zone) -> list[list[str]]:
    rows: list[list[str]] = []
    for q in period.queues:
        scope = _CsvScope(period, zone, "queue", queue=q, detail=q.channel)
        rows += scope.rows(
            [
                ("offered", q.offered, "count"),
                ("answered", q.answered, "count"),
                ("sl_threshold", q.sl_threshold_s, "seconds"),
                ("service_level", q.service_level, "share"),
                ("asa", q.asa_s, "seconds"),
                ("aht", q.aht_s, "seconds"),
                ("abandon_rate", q.abandon_rate, "share"),
                ("tickets_created", q.tickets_created, "count"),
                ("tickets_solved", q.tickets_solved, "count"),
                ("first_response_median", q.first_response.median_s, "seconds"),
                ("first_response_p90", q.first_response.p90_s, "seconds"),
                ("resolution_median", q.resolution.median_s, "seconds"),
                ("resolution_p90", q.resolution.p90_s, "seconds"),
                ("sla_attainment", sla_attainment_all(q), "share"),
                ("csat", q.csat, "share"),
                ("fcr", q.fcr, "share"),
                ("complaints", q.complaints, "count"),
                ("complaint_rate", q.complaint_rate, "share"),
                ("short_half_hours", len(short_half_hours(q)), "count"),
            ]
        )
    return rows


def _csv_sla(period: Period, zone: Zone) -> list[list[str]]:
    rows: list[list[str]] = []
    for q in period.queues:
        for s in q.sla:
            scope = _CsvScope(period, zone, "sla", queue=q, detail=f"{s.policy} / {s.metric}")
            rows += scope.rows(
                [
                    ("sla_met", s.met, "count"),
                    ("sla_breached", s.breached, "count"),
                    ("sla_attainment", s.attainment, "share"),
                ]
            )
    return rows


def _csv_escalation_figures(e: EscalationFigures) -> list[Figure]:
    return [
        ("escalations_raised", e.raised, "count"),
        ("escalations_acked", e.acked, "count"),
        ("escalations_resolved", e.resolved, "count"),
        ("median_to_ack", e.median_ack_s, "seconds"),
        ("median_to_resolve", e.median_resolve_s, "seconds"),
    ]


def _csv_escalations(period: Period, zone: Zone) -> list[list[str]]:
    rows = _CsvScope(period, zone, "escalations", detail="all queues").rows(
        _csv_escalation_figures(period.escalations)
    )
    for q in period.queues:
        if q.escalations.raised:
            scope = _CsvScope(period, zone, "escalations", queue=q)
            rows += scope.rows(_csv_escalation_figures(q.escalations))
    return rows


def _csv_backlog(period: Period, zone: Zone) -> list[list[str]]:
    rows: list[list[str]] = []
    for q in period.queues:
        for edge, aging in (("start", q.backlog_start), ("end", q.backlog_end)):
            scope = _CsvScope(period, zone, "backlog", queue=q, detail=f"at {edge}")
            rows += scope.rows(
                [
                    (f"backlog_{edge}", aging.total, "count"),
                    (f"backlog_{edge}_under_1d", aging.under_1d, "count"),
                    (f"backlog_{edge}_1d_to_2d", aging.d1_to_2d, "count"),
                    (f"backlog_{edge}_over_2d", aging.over_2d, "count"),
                ]
            )
    return rows


def _csv_customers(period: Period, zone: Zone) -> list[list[str]]:
    rows: list[list[str]] = []
    for q in period.queues:
        rows += _CsvScope(period, zone, "customers", queue=q).rows(
            [
                ("nps", q.nps, "nps"),
                ("survey_answers", q.survey_answers, "count"),
                ("promoters", q.promoters, "count"),
                ("detractors", q.detractors, "count"),
                ("repeat_contacts", q.repeat_contacts, "count"),
                ("repeat_contact_rate", q.repeat_contact_rate, "share"),
                ("reopened", q.reopened, "count"),
                ("reopen_rate", q.reopen_rate, "share"),
            ]
        )
    return rows


def _csv_half_hours(period: Period, zone: Zone) -> list[list[str]]:
    rows: list[list[str]] = []
    for q in period.queues:
        for hh in q.half_hours:
            scope = _CsvScope(
                period, zone, "half_hour", queue=q, start=hh.start, end=hh.start + _HALF_HOUR_S
            )
            rows += scope.rows(
                [
                    ("offered", hh.offered, "count"),
                    ("answered", hh.answered, "count"),
                    ("abandoned", hh.abandoned, "count"),
                    ("service_level", hh.service_level, "share"),
                    ("need", hh.need, "agents"),
                    ("staffed", hh.staffed, "agents"),
                    ("short", int(hh.short), "flag"),
                ]
            )
    return rows


def _csv_agents(period: Period, zone: Zone) -> list[list[str]]:
    rows: list[list[str]] = []
    for a in period.agents:
        rows += _CsvScope(period, zone, "agent", agent=a).rows(
            [
                ("handled", a.handled, "count"),
                ("aht", a.aht_s, "seconds"),
                ("occupancy", a.occupancy, "share"),
                ("csat", a.csat, "share"),
            ]
        )
    return rows


CSV_SECTIONS: tuple[Callable[[Period, Zone], list[list[str]]], ...] = (
    _csv_queues,
    _csv_sla,
    _csv_escalations,
    _csv_backlog,
    _csv_customers,
    _csv_half_hours,
    _csv_agents,
)
"""The report's sections as CSV rows, in this order within each period: a new section of
the report adds its function here."""


def to_csv(report: Report) -> str:
    """One long table (``CSV_COLUMNS``): a row per figure, period, section and queue or agent,
    with the window each figure covers in ISO 8601 with the floor's offset.

    ``value`` is a plain number in ``unit`` (see ``UNITS``): shares are fractions with 4
    decimals, durations whole seconds (the board's rounding), no figure an empty cell. Lines
    end in ``\\n``; the ``csv`` module quotes names holding commas, quotes or newlines.
    """
    zone = report_zone(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for period in report.periods:
        for section in CSV_SECTIONS:
            writer.writerows(section(period, zone))
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Tables shared by Markdown and HTML: plain-text cells, escaped by each renderer


@dataclass(frozen=True, slots=True)
class _Table:
    heading: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]  # right-align these columns


QUEUE_HEADERS: tuple[str, ...] = (
    N_("Queue"),
    N_("Channel"),
    N_("Offered"),
    N_("SL (T)"),
    N_("ASA"),
    N_("AHT"),
    N_("Abandon"),
    N_("Tickets in/solved"),
    N_("First response med/p90"),
    N_("Resolution med/p90"),
    N_("SLA met"),
    N_("Backlog start→end"),
    N_("CSAT"),
    N_("FCR"),
    N_("Complaints"),
)
"""The queue table's headers in English (translated where drawn)."""


def _words(texts: Sequence[str]) -> tuple[str, ...]:
    return tuple(_(t) for t in texts)


def _channel(channel: str) -> str:
    """A channel's name in the floor's language (the model's word where it has no other)."""
    words = {
        "voice": pgettext("channel", "voice"),
        "chat": pgettext("channel", "chat"),
        "email": pgettext("channel", "email"),
        "web": pgettext("channel", "web"),
        "social": pgettext("channel", "social"),
        "other": pgettext("channel", "other"),
    }
    return words.get(channel, channel)


def _queue_table(period: Period) -> _Table:
    rows = []
    for q in period.queues:
        sl = (
            f"{fmt_rate(q.service_level)} ({_fmt_threshold(q.sl_threshold_s)})"
            if q.realtime
            else NONE
        )
        rows.append(
            (
                q.name,
                _channel(q.channel),
                _fmt_count(q.offered) if q.realtime or q.offered else NONE,
                sl,
                fmt_duration(q.asa_s),
                fmt_duration(q.aht_s),
                fmt_rate(q.abandon_rate),
                f"{_fmt_count(q.tickets_created)} / {_fmt_count(q.tickets_solved)}",
                f"{fmt_duration(q.first_response.median_s)} / "
                f"{fmt_duration(q.first_response.p90_s)}",
                f"{fmt_duration(q.resolution.median_s)} / {fmt_duration(q.resolution.p90_s)}",
                fmt_rate(sla_attainment_all(q)),
                f"{_fmt_count(q.backlog_start.total)} → {_fmt_count(q.backlog_end.total)}",
                fmt_rate(q.csat),
                fmt_rate(q.fcr),
                _fmt_count_rate(q.complaints, q.complaint_rate),
            )
        )
    numeric = (False, False) + (True,) * (len(QUEUE_HEADERS) - 2)
    return _Table(_("Queues"), _words(QUEUE_HEADERS), tuple(rows), numeric)


def _sla_table(period: Period) -> _Table:
    rows = tuple(
        (
            q.name,
            s.policy,
            s.metric,
            _fmt_count(s.met),
            _fmt_count(s.breached),
            fmt_rate(s.attainment),
        )
        for q in period.queues
        for s in q.sla
    )
    headers = (_("Queue"), _("Policy"), _("Metric"), _("Met"), _("Breached"), _("Attainment"))
    return _Table(_("SLA"), headers, rows, (False, False, False, True, True, True))


def _escalation_row(scope: str, e: EscalationFigures) -> tuple[str, ...]:
    return (
        scope,
        _fmt_count(e.raised),
        _fmt_count(e.acked),
        _fmt_count(e.resolved),
        fmt_duration(e.median_ack_s),
        fmt_duration(e.median_resolve_s),
    )


def _escalation_table(period: Period) -> _Table:
    rows = [_escalation_row(_("All queues"), period.escalations)]
    rows += [_escalation_row(q.name, q.escalations) for q in period.queues if q.escalations.raised]
    headers = (
        _("Scope"),
        _("Raised"),
        _("Acked"),
        _("Resolved"),
        _("Median to ack"),
        _("Median to resolve"),
    )
    return _Table(_("Escalations"), headers, tuple(rows), (False,) + (True,) * 5)


def _backlog_table(period: Period) -> _Table:
    rows = tuple(
        (
            q.name,
            _fmt_count(q.backlog_start.total),
            _fmt_count(q.backlog_start.under_1d),
            _fmt_count(q.backlog_start.d1_to_2d),
            _fmt_count(q.backlog_start.over_2d),
            _fmt_count(q.backlog_end.total),
            _fmt_count(q.backlog_end.under_1d),
            _fmt_count(q.backlog_end.d1_to_2d),
            _fmt_count(q.backlog_end.over_2d),
        )
        for q in period.queues
        if q.backlog_start.total or q.backlog_end.total or not q.realtime
    )
    # TRANSLATORS: backlog ages: under a day, one to two days, over two days
    ages = (_("<1d"), _("1–2d"), _(">2d"))
    headers = (_("Queue"), pgettext("backlog", "Start"), *ages, pgettext("backlog", "End"), *ages)
    return _Table(_("Backlog ageing (open tickets)"), headers, rows, (False,) + (True,) * 8)


def _agent_table(period: Period) -> _Table:
    rows = tuple(
        (
            a.name,
            _fmt_count(a.handled),
            fmt_duration(a.aht_s),
            fmt_rate(a.occupancy),
            fmt_rate(a.csat),
        )
        for a in period.agents
    )
    headers = (_("Agent"), _("Handled"), _("AHT"), _("Occupancy"), _("CSAT"))
    return _Table(_("Agents"), headers, rows, (False, True, True, True, True))


def _fmt_nps(q: QueueFigures) -> str:
    if q.nps is None:
        return NONE
    score = math.floor(q.nps + 0.5)
    sign = "+" if score > 0 else ""  # −5 has its minus from the number
    return f"{sign}{fmt.number(score)} ({_fmt_count(q.survey_answers)})"


def _customer_table(period: Period) -> _Table:
    rows = tuple(
        (
            q.name,
            _fmt_nps(q),
            _fmt_count_rate(q.repeat_contacts, q.repeat_contact_rate),
            _fmt_count_rate(q.reopened, q.reopen_rate),
        )
        for q in period.queues
        if q.survey_answers or q.tickets_created or q.tickets_solved
    )
    headers = (_("Queue"), _("NPS (answers)"), _("Repeat contacts"), _("Reopened"))
    return _Table(_("Customers"), headers, rows, (False, True, True, True))


def _intraday_tables(period: Period, zone: Zone) -> list[_Table]:
    """Forecast against actual per queue and half hour, adherence and conformance per half
    hour and per agent: only where the recordings hold a forecast or a schedule."""
    with_day = _spans_days(period, zone)
    tables = []
    rows = tuple(
        (
            q.name,
            _fmt_slot(f.start, zone, with_day),
            _fmt_count(f.offered),
            # TRANSLATORS: a forecast figure that came from an imported file
            _("{forecast} (imported)").format(forecast=fmt.number(f.forecast, 1, fixed=True))
            if f.imported
            else fmt.number(f.forecast, 1, fixed=True),
            fmt_rate(f.error),
            fmt_duration(f.aht_s),
            fmt_duration(f.forecast_aht_s),
        )
        for q in period.queues
        for f in q.forecast
    )
    if rows:
        mapes = "; ".join(
            f"{q.name} {fmt_rate(q.forecast_mape)}" for q in period.queues if q.forecast
        )
        tables.append(
            _Table(
                _("Forecast against actual (MAPE: {mapes})").format(mapes=mapes),
                _words(
                    (
                        N_("Queue"),
                        N_("Half hour"),
                        N_("Offered"),
                        N_("Forecast"),
                        N_("Error"),
                        N_("AHT"),
                        N_("Forecast AHT"),
                    )
                ),
                rows,
                (False, False, True, True, True, True, True),
            )
        )
    if period.adherence_half_hours:
        tables.append(
            _Table(
                _(
                    "Schedule adherence (day: adherence {adherence}, conformance {conformance})"
                ).format(
                    adherence=fmt_rate(period.adherence), conformance=fmt_rate(period.conformance)
                ),
                (_("Half hour"), _("Scheduled"), _("Adherence"), _("Conformance")),
                tuple(
                    (
                        _fmt_slot(h.start, zone, with_day),
                        fmt_duration(h.scheduled_s),
                        fmt_rate(h.adherence),
                        fmt_rate(h.conformance),
                    )
                    for h in period.adherence_half_hours
                ),
                (False, True, True, True),
            )
        )
    scheduled = [a for a in period.agents if a.scheduled_s > 0]
    if scheduled:
        tables.append(
            _Table(
                _("Adherence by agent"),
                (_("Agent"), _("Scheduled"), _("Adherence"), _("Conformance")),
                tuple(
                    (
                        a.name,
                        fmt_duration(a.scheduled_s),
                        fmt_rate(a.adherence),
                        fmt_rate(a.conformance),
                    )
                    for a in scheduled
                ),
                (False, True, True, True),
            )
        )
    return tables


def _period_tables(period: Period, zone: Zone | None = None) -> list[_Table]:
    tables = [_queue_table(period), _sla_table(period), _escalation_table(period)]
    backlog = _backlog_table(period)
    if backlog.rows:
        tables.append(backlog)
    customers = _customer_table(period)
    if customers.rows:
        tables.append(customers)
    tables.append(_agent_table(period))
    if zone is not None:
        tables += _intraday_tables(period, zone)
    return tables


def _short_lines(period: Period, utc_offset_s: Zone) -> list[str]:
    """``10:30 Chat need 9, staffed 6.5`` for each short half hour, in time order."""
    with_day = _spans_days(period, utc_offset_s)
    shorts = sorted(
        ((hh, q) for q in period.queues for hh in q.half_hours if hh.short),
        key=lambda pair: pair[0].start,
    )
    return [
        # TRANSLATORS: a short half hour: its time, the queue, agents needed and staffed
        _("{time} {queue} need {need}, staffed {staffed}").format(
            time=_fmt_half_hour(hh, utc_offset_s, with_day),
            queue=q.name,
            need=_fmt_count(hh.need),
            staffed=_fmt_agents(hh.staffed),
        )
        for hh, q in shorts
    ]


# ---------------------------------------------------------------------------------------------
# Markdown


# Backslash-escaped: every character that can start markup, emphasis, a link, raw HTML or a
# table cell. ``_`` only where it could open or close emphasis (not inside a word, so
# ``first_reply_time`` stays readable); ``&`` only where it could start an entity.
def _md_table(table: _Table) -> list[str]:
    lines = [
        f"### {md_escape(table.heading)}",
        "",
        "| " + " | ".join(md_escape(h) for h in table.headers) + " |",
        "|" + "|".join("---:" if n else "---" for n in table.numeric) + "|",
    ]
    if not table.rows:
        lines[2:] = ["_" + md_escape(_("None.")) + "_"]
    else:
        lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in table.rows]
    lines.append("")
    return lines


def to_markdown(report: Report) -> str:
    off = report_zone(report)
    sources = ", ".join(md_escape(s) for s in report.sources) or NONE
    generated = f"{fmt_local(report.generated_at, off)} ({_fmt_offset(off)})"
    grouping = md_escape(_grouping(report.grouping))
    # each template is escaped before the (escaped) names go in: braces are not Markdown
    lines = [
        f"# {md_escape(_title(report.title))}",
        "",
        "- " + md_escape(_("Sources: {sources}")).format(sources=sources),
        "- " + md_escape(_("Generated: {when}")).format(when=md_escape(generated)),
        "- " + md_escape(_("Grouping: {grouping}")).format(grouping=grouping),
        "",
    ]
    for period in report.periods:
        label = _period_label(period, report.grouping, off)
        lines += [f"## {md_escape(label)}", "", md_escape(_fmt_span(period, off)), ""]
        for table in _period_tables(period, off):
            lines += _md_table(table)
        lines += ["### " + md_escape(_("Staffing")), ""]
        shorts = _short_lines(period, off)
        lines += [f"- {md_escape(s)}" for s in shorts] or [md_escape(_("No half hour was short."))]
        lines.append("")
    lines += ["## " + md_escape(_("How figures are computed")), ""]
    lines += [
        f"- **{md_escape(_label(k))}**: {md_escape(_formula(k, v))}"
        for k, v in report.formulas.items()
    ]
    lines.append("")
    if report.notes:
        lines += ["## " + md_escape(_("Notes")), ""]
        lines += [f"- {md_escape(_note(n))}" for n in report.notes]
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# SVG charts (inline, no xmlns URL needed inside HTML5)

_W, _H = 760.0, 270.0
_ML, _MR, _MT, _MB = 52.0, 56.0, 40.0, 46.0
_PW, _PH = _W - _ML - _MR, _H - _MT - _MB
_MAX_X_LABELS = 12


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _nice_axis(top_value: float, ticks: int = 4, integer: bool = True) -> tuple[float, float]:
    """(axis maximum, step) with a 1/2/2.5/5 × 10ⁿ step covering ``top_value``."""
    if top_value <= 0 or _missing(top_value):
        return (1.0, 1.0) if integer else (1.0, 0.25)
    raw = top_value / ticks
    mag = 10.0 ** math.floor(math.log10(raw))
    step = 10 * mag
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * mag >= raw:
            step = m * mag
            break
    if integer:
        step = float(max(1, math.ceil(step)))
    return step * math.ceil(top_value / step - 1e-9), step


def _x_ticks(half_hours: Sequence[HalfHour], utc_offset_s: Zone) -> list[tuple[int, str]]:
    """(index, label) of the half hours to label on the time axis: clock times, or days."""
    if not half_hours:
        return []
    locals_ = [_local(hh.start, utc_offset_s) for hh in half_hours]
    if locals_[-1] - locals_[0] <= timedelta(hours=36):
        n = len(half_hours)
        stride = next(
            (s for s in (1, 2, 4, 6, 8, 12, 16, 24, 48) if math.ceil(n / s) <= _MAX_X_LABELS), 48
        )
        return [(i, fmt.clock(locals_[i])) for i in range(0, n, stride)]
    days = [i for i, dt in enumerate(locals_) if i == 0 or dt.date() != locals_[i - 1].date()]
    stride = max(1, math.ceil(len(days) / _MAX_X_LABELS))
    return [(i, fmt.date(locals_[i], "weekday")) for i in days[::stride]]


def _svg_open(chart_id: str, title: str, desc: str) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {_W:.0f} {_H:.0f}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-t">{_e(title)}</title>',
        f'<desc id="{chart_id}-d">{_e(desc)}</desc>',
    ]


def _svg_time_axis(half_hours: Sequence[HalfHour], utc_offset_s: Zone, slot: float) -> list[str]:
    base = _MT + _PH
    parts = [f'<line class="axis" x1="{_ML}" y1="{base}" x2="{_ML + _PW}" y2="{base}"/>']
    for i, label in _x_ticks(half_hours, utc_offset_s):
        x = _ML + i * slot
        parts.append(f'<line class="axis" x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}"/>')
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{base + 16}" text-anchor="middle">'
            f"{_e(label)}</text>"
        )
    title = _("Local time ({zone}), per half hour").format(zone=_fmt_offset(utc_offset_s))
    parts.append(
        f'<text class="axis-title" x="{_ML + _PW / 2:.1f}" y="{_H - 6:.1f}" '
        f'text-anchor="middle">{_e(title)}</text>'
    )
    return parts


def _svg_left_axis(top: float, step: float, title: str) -> list[str]:
    parts = [f'<line class="axis" x1="{_ML}" y1="{_MT}" x2="{_ML}" y2="{_MT + _PH}"/>']
    value = 0.0
    while value <= top + 1e-9:
        y = _MT + _PH - value / top * _PH
        parts.append(f'<line class="grid" x1="{_ML}" y1="{y:.1f}" x2="{_ML + _PW}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{_ML - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_e(fmt.number(value, 2))}</text>"
        )
        value += step
    parts.append(f'<text class="axis-title" x="4" y="{_MT - 10}">{_e(title)}</text>')
    return parts


def _svg_right_percent_axis() -> list[str]:
    x = _ML + _PW
    parts = [f'<line class="axis" x1="{x}" y1="{_MT}" x2="{x}" y2="{_MT + _PH}"/>']
    for pct in (0, 25, 50, 75, 100):
        y = _MT + _PH - pct / 100 * _PH
        label = fmt.percent(pct / 100)
        parts.append(f'<text class="tick" x="{x + 6}" y="{y + 4:.1f}">{label}</text>')
    # TRANSLATORS: service level, the right axis's title on a chart
    title = _e(_("SL"))
    parts.append(f'<text class="axis-title" x="{x + 6}" y="{_MT - 10}">{title}</text>')
    return parts


def _svg_legend(items: Sequence[tuple[str, str]]) -> list[str]:
    """``items``: (swatch kind, label); kinds: bar, line, dash, dash2, shade."""
    parts = []
    x = _ML
    y = 14.0
    for kind, label in items:
        if kind in ("bar", "shade"):
            parts.append(f'<rect class="{kind}" x="{x:.1f}" y="{y - 8}" width="14" height="10"/>')
        else:
            parts.append(
                f'<line class="{kind}" x1="{x:.1f}" y1="{y - 3}" x2="{x + 14:.1f}" y2="{y - 3}"/>'
            )
        parts.append(f'<text class="legend" x="{x + 19:.1f}" y="{y + 1}">{_e(label)}</text>')
        x += 19 + 6.8 * cell_len(label) + 18  # a wide character takes two widths
    return parts


def _step_path(values: Sequence[float | None], slot: float, y_of: Callable[[float], float]) -> str:
    """A step line: each half hour's value held across its slot; gaps where ``None``."""
    parts: list[str] = []
    pen = False
    for i, v in enumerate(values):
        if v is None:
            pen = False
            continue
        xa, xb, y = _ML + i * slot, _ML + (i + 1) * slot, y_of(v)
        parts.append(f"V{y:.1f}H{xb:.1f}" if pen else f"M{xa:.1f},{y:.1f}H{xb:.1f}")
        pen = True
    return "".join(parts)


def svg_offered_sl(
    queue: QueueFigures, utc_offset_s: Zone, target: float, chart_id: str, with_day: bool
) -> str:
    """Offered per half hour as bars; SL per half hour as a line on a 0–100 % right axis."""
    hhs = queue.half_hours
    n = len(hhs)
    slot = _PW / n
    top, step = _nice_axis(max(hh.offered for hh in hhs))
    title = _("{queue}: offered and service level per half hour").format(queue=queue.name)
    desc = _(
        "Bars: contacts offered per half hour (left axis). Line: service level per half hour "
        "(right axis, 0–100%). Dashed line: target {target} answered within {threshold}."
    ).format(target=fmt_rate(target), threshold=_fmt_threshold(queue.sl_threshold_s))
    parts = _svg_open(chart_id, title, desc)
    parts += _svg_left_axis(top, step, _("Offered"))
    parts += _svg_right_percent_axis()
    bar_w = max(slot * 0.7, 0.5)
    for i, hh in enumerate(hhs):
        h = hh.offered / top * _PH
        x = _ML + i * slot + (slot - bar_w) / 2
        tip = _(
            "{time}: offered {offered}, answered {answered}, abandoned {abandoned}, SL {sl}"
        ).format(
            time=_fmt_half_hour(hh, utc_offset_s, with_day),
            offered=_fmt_count(hh.offered),
            answered=_fmt_count(hh.answered),
            abandoned=_fmt_count(hh.abandoned),
            sl=fmt_rate(hh.service_level),
        )
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{_MT + _PH - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}"><title>{_e(tip)}</title></rect>'
        )
    ty = _MT + _PH - target * _PH
    parts.append(f'<line class="dash" x1="{_ML}" y1="{ty:.1f}" x2="{_ML + _PW}" y2="{ty:.1f}"/>')
    runs: list[list[str]] = [[]]
    for i, hh in enumerate(hhs):
        if hh.service_level is None or _missing(hh.service_level):
            runs.append([])
            continue
        x, y = _ML + (i + 0.5) * slot, _MT + _PH - hh.service_level * _PH
        runs[-1].append(f"{x:.1f},{y:.1f}")
    for run in runs:
        if len(run) > 1:
            parts.append(f'<polyline class="line" points="{" ".join(run)}"/>')
        if n <= 96 or len(run) == 1:
            parts += [
                f'<circle class="dot" cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.5"/>'
                for p in run
            ]
    parts += _svg_time_axis(hhs, utc_offset_s, slot)
    parts += _svg_legend(
        [
            ("bar", _("Offered")),
            ("line", _("Service level (right axis)")),
            (
                "dash",
                _("Target {target} in {threshold}").format(
                    target=fmt_rate(target), threshold=_fmt_threshold(queue.sl_threshold_s)
                ),
            ),
        ]
    )
    parts.append("</svg>")
    return "\n".join(parts)


def svg_staffing(queue: QueueFigures, utc_offset_s: Zone, chart_id: str, with_day: bool) -> str:
    """Erlang C need vs agents staffed per half hour as step lines; short half hours shaded."""
    hhs = queue.half_hours
    slot = _PW / len(hhs)
    peak = max(max(hh.staffed or 0 for hh in hhs), max((hh.need or 0) for hh in hhs))
    top, step = _nice_axis(peak)
    shorts = sum(hh.short for hh in hhs)
    title = _("{queue}: staffing need vs staffed per half hour").format(queue=queue.name)
    desc = ngettext(
        "Lines: agents needed (Erlang C) and agents staffed per half hour. "
        "Shaded: {count} half hour where staffed was below need.",
        "Lines: agents needed (Erlang C) and agents staffed per half hour. "
        "Shaded: {count} half hours where staffed was below need.",
        shorts,
    ).format(count=_fmt_count(shorts))
    parts = _svg_open(chart_id, title, desc)
    for i, hh in enumerate(hhs):
        if hh.short:
            tip = _("{time} short: need {need}, staffed {staffed}").format(
                time=_fmt_half_hour(hh, utc_offset_s, with_day),
                need=_fmt_count(hh.need),
                staffed=_fmt_agents(hh.staffed),
            )
            parts.append(
                f'<rect class="shade" x="{_ML + i * slot:.1f}" y="{_MT}" width="{slot:.1f}" '
                f'height="{_PH}"><title>{_e(tip)}</title></rect>'
            )
    parts += _svg_left_axis(top, step, _("Agents"))

    def y_of(v: float) -> float:
        return _MT + _PH - v / top * _PH

    need = [None if hh.need is None else float(hh.need) for hh in hhs]
    staffed: list[float | None] = [hh.staffed for hh in hhs]
    parts.append(f'<path class="need" d="{_step_path(need, slot, y_of)}"/>')
    parts.append(f'<path class="staffed" d="{_step_path(staffed, slot, y_of)}"/>')
    parts += _svg_time_axis(hhs, utc_offset_s, slot)
    parts += _svg_legend(
        [
            ("need", _("Need (Erlang C)")),
            ("staffed", _("Staffed")),
            ("shade", pgettext("agents missing", "Short")),
        ]
    )
    parts.append("</svg>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# HTML

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1a202c; margin: 2rem auto; max-width: 1180px; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .4rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid #2b4c7e; padding-bottom: .2rem;
  margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; }
p.span { color: #4a5568; margin-top: 0; }
div.table-wrap { overflow-x: auto; margin: .3rem 0 1rem; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #cbd5e0; padding: .25rem .5rem; vertical-align: top; }
th { background: #edf2f7; text-align: left; }
th.num { text-align: right; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #f7fafc; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0 0 1rem; flex: 1 1 560px; }
figcaption { font-size: 12px; color: #4a5568; }
svg.chart { width: 100%; height: auto; font-size: 13px; }
svg .axis { stroke: #4a5568; stroke-width: 1; }
svg .grid { stroke: #e2e8f0; stroke-width: 1; }
svg .tick, svg .legend { fill: #2d3748; }
svg .legend { font-size: 12px; }
svg .axis-title { fill: #4a5568; font-weight: 600; }
svg .bar { fill: #9fb7d9; }
svg .line { fill: none; stroke: #1f3f73; stroke-width: 2; }
svg .dot { fill: #1f3f73; }
svg .dash { stroke: #c53030; stroke-width: 1.5; stroke-dasharray: 6 4; fill: none; }
svg .need { fill: none; stroke: #c05621; stroke-width: 2; stroke-dasharray: 5 3; }
svg .staffed { fill: none; stroke: #2b6cb0; stroke-width: 2; }
svg .shade { fill: #fed7d7; }
ul.short li { font-variant-numeric: tabular-nums; }
dl.formulas dt { font-weight: 600; margin-top: .4rem; }
dl.formulas dd { margin-left: 1rem; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  div.table-wrap { overflow: visible; }
  table { font-size: 10px; }
  section.period + section.period, section.method { break-before: page;
    page-break-before: always; }
  table, figure, svg { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  tbody tr:nth-child(even) { background: none; }
  th { background: none; }
}
"""

# The document needs nothing but its own stylesheet (charts are inline SVG): the policy allows
# that one <style> block by its hash and nothing else, so a name that slipped through escaping
# could still neither run a script nor fetch, post or frame anything.
CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()}'; "
    "base-uri 'none'; form-action 'none'"
)


def _tag(tag: str, text: str) -> str:
    """``text`` (escaped) in an element with no attributes."""
    return f"<{tag}>{_e(text)}</{tag}>"


def _html_table(table: _Table) -> list[str]:
    parts = [f"<h3>{_e(table.heading)}</h3>"]
    if not table.rows:
        parts.append(_tag("p", _("None.")))
        return parts

    def cls(i: int) -> str:
        return ' class="num"' if table.numeric[i] else ""

    parts.append('<div class="table-wrap"><table>')
    parts.append(
        "<thead><tr>"
        + "".join(f'<th scope="col"{cls(i)}>{_e(h)}</th>' for i, h in enumerate(table.headers))
        + "</tr></thead>"
    )
    parts.append("<tbody>")
    for row in table.rows:
        parts.append(
            "<tr>" + "".join(f"<td{cls(i)}>{_e(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        )
    parts.append("</tbody></table></div>")
    return parts


def _html_charts(
    period: Period, pi: int, utc_offset_s: Zone, targets: Mapping[str, float] | None
) -> list[str]:
    queues = [q for q in period.queues if q.realtime]
    if not queues:
        return []
    with_day = _spans_days(period, utc_offset_s)
    parts = [_tag("h3", _("Half hours"))]
    for qi, q in enumerate(queues):
        if not q.half_hours:
            parts.append(_tag("p", _("{queue}: no half-hour figures.").format(queue=q.name)))
            continue
        target = _sl_target(q, targets)
        parts.append('<div class="charts">')
        parts.append("<figure>")
        parts.append(svg_offered_sl(q, utc_offset_s, target, f"c{pi}-{qi}-sl", with_day))
        caption = _("{queue}: offered and service level").format(queue=q.name)
        parts.append(f"<figcaption>{_e(caption)}</figcaption>")
        parts.append("</figure>")
        parts.append("<figure>")
        parts.append(svg_staffing(q, utc_offset_s, f"c{pi}-{qi}-st", with_day))
        caption = _("{queue}: staffing need vs staffed").format(queue=q.name)
        parts.append(f"<figcaption>{_e(caption)}</figcaption>")
        parts.append("</figure>")
        parts.append("</div>")
    return parts


def to_html(report: Report, *, sl_targets: Mapping[str, float] | None = None) -> str:
    """One self-contained, printable HTML document: inline CSS and SVG, no scripts, no fetches.

    ``sl_targets`` (queue id → fraction) sets the SL target line; without it the model's
    ``sl_target`` if it has one, else :data:`DEFAULT_SL_TARGET`.
    """
    off = report_zone(report)
    title = _e(_title(report.title))
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{i18n.html_lang()}">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{title}</h1>",
        '<dl class="meta">',
        _tag("dt", _("Sources")) + f"<dd>{'<br>'.join(_e(s) for s in report.sources) or NONE}</dd>",
        _tag("dt", _("Generated"))
        + f"<dd>{_e(fmt_local(report.generated_at, off))} ({_e(_fmt_offset(off))})</dd>",
        _tag("dt", _("Grouping")) + _tag("dd", _grouping(report.grouping)),
        "</dl>",
        "</header>",
        "<main>",
    ]
    for pi, period in enumerate(report.periods):
        parts.append(f'<section class="period" aria-labelledby="p{pi}">')
        parts.append(f'<h2 id="p{pi}">{_e(_period_label(period, report.grouping, off))}</h2>')
        parts.append(f'<p class="span">{_e(_fmt_span(period, off))}</p>')
        tables = _period_tables(period, off)
        parts += _html_table(tables[0])
        parts += _html_charts(period, pi, off, sl_targets)
        for table in tables[1:]:
            parts += _html_table(table)
        parts.append(_tag("h3", _("Staffing")))
        shorts = _short_lines(period, off)
        if shorts:
            parts.append('<ul class="short">')
            parts += [f"<li>{_e(s)}</li>" for s in shorts]
            parts.append("</ul>")
        else:
            parts.append(_tag("p", _("No half hour was short.")))
        parts.append("</section>")
    parts.append('<section class="method">')
    parts.append(_tag("h2", _("How figures are computed")))
    parts.append('<dl class="formulas">')
    for key, formula in report.formulas.items():
        parts.append(f"<dt>{_e(_label(key))}</dt><dd>{_e(_formula(key, formula))}</dd>")
    parts.append("</dl>")
    if report.notes:
        parts.append(_tag("h3", _("Notes")))
        parts.append("<ul>" + "".join(f"<li>{_e(_note(n))}</li>" for n in report.notes) + "</ul>")
    parts.append("</section>")
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Terminal (rich)


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """``▁▂▃▄▅▆▇█`` scaled to the largest value; longer series averaged into ``width`` cells."""
    if not values:
        return ""
    series = list(values)
    if len(series) > width:
        k = math.ceil(len(series) / width)
        series = [sum(series[i : i + k]) / len(series[i : i + k]) for i in range(0, len(series), k)]
    top = max(series)
    if top <= 0:
        return SPARK_BLOCKS[0] * len(series)
    last = len(SPARK_BLOCKS) - 1
    return "".join(SPARK_BLOCKS[min(last, math.floor(v / top * last + 0.5))] for v in series)


def sl_bar(service_level: float | None, target: float, width: int = 10) -> Text:
    """``▇▇▇▇▇▇·┃·· 62%`` filled to the SL, the target's cell marked ``┃`` (hidden once the SL
    passes it); green at or over the target, red under it."""
    if service_level is None or _missing(service_level):
        return Text(NONE, style="dim")
    filled = max(0, min(width, math.floor(service_level * width + 0.5)))
    mark = max(0, min(width - 1, math.ceil(target * width) - 1))
    style = "green" if service_level >= target else "red"
    bar = Text()
    for i in range(width):
        if i < filled:
            bar.append("▇", style=style)
        elif i == mark:
            bar.append("┃", style="bold")
        else:
            bar.append("·", style="dim")
    bar.append(f" {fmt_rate(service_level)}", style=style)
    return bar


QUEUE_COLUMNS_BY_PRIORITY = ("Offered/½h", "1st rsp", "CSAT", "ASA", "SLA", "Aband")
"""The queue table's columns a narrow terminal drops first, in this order: the queue's name
and its headline figures stay readable rather than being squeezed to nothing. (The columns'
English names; their headers are drawn in the floor's language.)"""

_RICH_QUEUE_HEADERS = {
    "Queue": N_("Queue"),
    "Offered": N_("Offered"),
    # TRANSLATORS: the service-level bar's column; ┃ marks the target on the bar
    "SL ┃target": N_("SL ┃target"),
    "ASA": N_("ASA"),
    "AHT": N_("AHT"),
    # TRANSLATORS: abandon rate, a narrow column
    "Aband": N_("Aband"),
    "Tickets": N_("Tickets"),
    # TRANSLATORS: median first response time, a narrow column
    "1st rsp": N_("1st rsp"),
    "SLA": N_("SLA"),
    "CSAT": N_("CSAT"),
    # TRANSLATORS: a sparkline of contacts offered per half hour
    "Offered/½h": N_("Offered/½h"),
}


@dataclass(frozen=True)
class _RichQueueTable:
    period: Period
    targets: Mapping[str, float] | None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        dropped: set[str] = set()
        table = _rich_queue_table(self.period, self.targets, dropped)
        for column in QUEUE_COLUMNS_BY_PRIORITY:
            natural = Measurement.get(console, options.update_width(100_000), table).maximum
            if natural <= options.max_width:
                break
            dropped.add(column)
            table = _rich_queue_table(self.period, self.targets, dropped)
        yield table


def _rich_queue_table(
    period: Period, targets: Mapping[str, float] | None, dropped: set[str] | None = None
) -> Table:
    table = Table(
        title=Text(_("Queues"), style="bold"),
        box=box.SIMPLE_HEAD,
        title_justify="left",
        collapse_padding=True,
        pad_edge=False,
    )
    gone = dropped or set()
    columns: list[tuple[str, dict[str, Any]]] = [
        ("Queue", {"overflow": "fold", "min_width": 14}),
        ("Offered", {"justify": "right", "no_wrap": True}),
        ("SL ┃target", {"no_wrap": True}),
        ("ASA", {"justify": "right", "no_wrap": True}),
        ("AHT", {"justify": "right", "no_wrap": True}),
        ("Aband", {"justify": "right", "no_wrap": True}),
        ("Tickets", {"justify": "right", "no_wrap": True}),
        ("1st rsp", {"justify": "right", "no_wrap": True}),
        ("SLA", {"justify": "right", "no_wrap": True}),
        ("CSAT", {"justify": "right", "no_wrap": True}),
        ("Offered/½h", {"no_wrap": True}),
    ]
    for header, options in columns:
        if header not in gone:
            table.add_column(Text(_(_RICH_QUEUE_HEADERS[header])), **options)
    for q in period.queues:
        realtime = q.realtime
        offered = [float(hh.offered) for hh in q.half_hours]
        cells = {
            "Queue": Text(q.name),
            "Offered": Text(_fmt_count(q.offered) if realtime else NONE),
            "SL ┃target": sl_bar(q.service_level, _sl_target(q, targets), width=8)
            if realtime
            else Text(NONE),
            "ASA": Text(fmt_duration(q.asa_s)),
            "AHT": Text(fmt_duration(q.aht_s)),
            "Aband": Text(fmt_rate(q.abandon_rate)),
            "Tickets": Text(f"{_fmt_count(q.tickets_created)}/{_fmt_count(q.tickets_solved)}"),
            "1st rsp": Text(fmt_duration(q.first_response.median_s)),
            "SLA": Text(fmt_rate(sla_attainment_all(q))),
            "CSAT": Text(fmt_rate(q.csat)),
            "Offered/½h": Text(sparkline(offered, width=12), style="cyan")
            if offered
            else Text(NONE),
        }
        table.add_row(*(cell for header, cell in cells.items() if header not in gone))
    return table


def _rich_agent_table(period: Period) -> Table:
    table = Table(
        title=Text(_("Agents"), style="bold"),
        box=box.SIMPLE_HEAD,
        title_justify="left",
        collapse_padding=True,
        pad_edge=False,
    )
    table.add_column(Text(_("Agent")), overflow="fold", max_width=30)
    for header in (N_("Handled"), N_("AHT"), N_("Occupancy"), N_("CSAT")):
        table.add_column(Text(_(header)), justify="right")
    for a in period.agents:
        table.add_row(
            Text(a.name),
            Text(_fmt_count(a.handled)),
            Text(fmt_duration(a.aht_s)),
            Text(fmt_rate(a.occupancy)),
            Text(fmt_rate(a.csat)),
        )
    return table


def rich_summary(
    report: Report, *, sl_targets: Mapping[str, float] | None = None
) -> RenderableType:
    """Per period: queue headline table (SL bar, offered sparkline), escalations, short half
    hours and agents. Every helpdesk string goes in as ``Text``, never as markup."""
    off = report_zone(report)
    recordings = len(report.sources)
    items: list[RenderableType] = [
        Text(_title(report.title), style="bold"),
        Text(
            ngettext(
                "{grouping} · generated {when} ({zone}) · {count} recording",
                "{grouping} · generated {when} ({zone}) · {count} recordings",
                recordings,
            ).format(
                grouping=_grouping(report.grouping),
                when=fmt_local(report.generated_at, off),
                zone=_fmt_offset(off),
                count=_fmt_count(recordings),
            ),
            style="dim",
        ),
    ]
    for period in report.periods:
        items.append(Rule(Text(_period_label(period, report.grouping, off), style="bold")))
        items.append(Text(_fmt_span(period, off), style="dim"))
        items.append(_RichQueueTable(period, sl_targets))
        e = period.escalations
        items.append(
            Text(
                _(
                    "Escalations: raised {raised}, acked {acked}, resolved {resolved}; "
                    "median to ack {to_ack}, to resolve {to_resolve}"
                ).format(
                    raised=_fmt_count(e.raised),
                    acked=_fmt_count(e.acked),
                    resolved=_fmt_count(e.resolved),
                    to_ack=fmt_duration(e.median_ack_s),
                    to_resolve=fmt_duration(e.median_resolve_s),
                )
            )
        )
        shorts = _short_lines(period, off)
        if shorts:
            heading = _("Short half hours ({count}):").format(count=_fmt_count(len(shorts)))
            items.append(Text(heading, style="bold red"))
            items += [Text(f"  {s}") for s in shorts]
        else:
            items.append(Text(_("No half hour was short."), style="green"))
        items.append(_rich_agent_table(period))
    if report.notes:
        items.append(Rule(Text(_("Notes"))))
        items += [Text(f"• {_note(n)}") for n in report.notes]
    return Group(*items)
