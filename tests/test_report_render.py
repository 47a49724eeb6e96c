"""Report renderers: JSON, CSV, Markdown, HTML and the rich terminal summary.

The report is built by hand so every figure below is known; helpdesk names carry ``<script>``,
``[bold]``, ``|`` and ``&`` to prove each renderer treats names as data.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from rich.console import Console

from supervisor_tui.report.model import (
    FORMULAS,
    AgentFigures,
    Aging,
    Distribution,
    EscalationFigures,
    HalfHour,
    Period,
    QueueFigures,
    Report,
    SlaFigure,
)
from supervisor_tui.report.render import (
    CSV_COLUMNS,
    fmt_duration,
    fmt_rate,
    md_escape,
    sl_bar,
    sparkline,
    to_csv,
    to_html,
    to_json,
    to_markdown,
)
from supervisor_tui.report.render import rich_summary as rich_summary_

OFFSET = 3600  # UTC+01:00
DAY1 = datetime(2026, 11, 24, 7, 0, tzinfo=UTC).timestamp()  # 08:00 local
DAY2 = DAY1 + 86_400
VOICE_NAME = "Voice <script>alert(1)</script>"
EMAIL_NAME = "Email [bold]VIP[/bold] | A&B"
ANN = "Ann <script>x</script>"
BOB = "Bob [bold] | & Co"

NO_ESC = EscalationFigures(raised=0, acked=0, resolved=0, median_ack_s=None, median_resolve_s=None)
EMPTY_AGING = Aging(total=0, under_1d=0, d1_to_2d=0, over_2d=0)
NO_DIST = Distribution(count=0, median_s=None, p90_s=None)


def half_hours(start: float) -> tuple[HalfHour, ...]:
    """Seven half hours from 08:00 local; 10:00 is short (need 9, staffed 6.5)."""
    rows = [
        # offered, answered, abandoned, SL, need, staffed
        (10, 9, 1, 0.9, 4, 5.0),
        (20, 18, 2, 0.8, 6, 6.0),
        (30, 27, 3, 0.7, 7, 7.5),
        (40, 35, 5, 0.6, 8, 8.0),
        (50, 40, 10, 0.4, 9, 6.5),
        (5, 5, 0, None, None, 3.0),
        (0, 0, 0, None, None, 2.0),
    ]
    return tuple(
        HalfHour(
            start=start + i * 1800,
            offered=o,
            answered=a,
            abandoned=ab,
            service_level=sl,
            need=need,
            staffed=st,
            short=need is not None and st < need,
        )
        for i, (o, a, ab, sl, need, st) in enumerate(rows)
    )


def voice(start: float) -> QueueFigures:
    return QueueFigures(
        queue_id="q-voice",
        name=VOICE_NAME,
        channel="voice",
        realtime=True,
        sl_threshold_s=20.0,
        sl_target=0.8,
        short_abandon_s=5.0,
        offered=155,
        answered=134,
        answered_within_t=90,
        abandoned=21,
        abandoned_short=4,
        abandoned_after_t=10,
        service_level=0.6234,
        asa_s=43.4,
        aht_s=289.0,
        handled=134,
        abandon_rate=0.1097,
        tickets_created=0,
        tickets_solved=0,
        first_response=NO_DIST,
        resolution=NO_DIST,
        sla=(),
        backlog_start=EMPTY_AGING,
        backlog_end=EMPTY_AGING,
        csat_good=8,
        csat_bad=2,
        csat=0.8,
        fcr_solved=0,
        fcr_first_contact=0,
        fcr=None,
        complaints=0,
        complaint_rate=None,
        escalations=NO_ESC,
        half_hours=half_hours(start),
    )


def email() -> QueueFigures:
    return QueueFigures(
        queue_id="q-email",
        name=EMAIL_NAME,
        channel="email",
        realtime=False,
        sl_threshold_s=86_400.0,
        sl_target=0.8,
        short_abandon_s=5.0,
        offered=0,
        answered=0,
        answered_within_t=0,
        abandoned=0,
        abandoned_short=0,
        abandoned_after_t=0,
        service_level=None,
        asa_s=None,
        aht_s=None,
        handled=0,
        abandon_rate=None,
        tickets_created=40,
        tickets_solved=32,
        first_response=Distribution(count=40, median_s=289.4, p90_s=3900.0),
        resolution=Distribution(count=32, median_s=7200.0, p90_s=93_600.0),
        sla=(
            SlaFigure(policy="Gold | VIP", metric="first_reply_time", met=30, breached=10,
                      attainment=0.75),
            SlaFigure(policy="Gold | VIP", metric="next_reply_time", met=10, breached=0,
                      attainment=1.0),
        ),
        backlog_start=Aging(total=14, under_1d=8, d1_to_2d=4, over_2d=2),
        backlog_end=Aging(total=11, under_1d=7, d1_to_2d=3, over_2d=1),
        csat_good=9,
        csat_bad=1,
        csat=0.9,
        fcr_solved=32,
        fcr_first_contact=20,
        fcr=0.625,
        complaints=2,
        complaint_rate=0.05,
        escalations=EscalationFigures(
            raised=3, acked=2, resolved=1, median_ack_s=250.0, median_resolve_s=3900.0
        ),
        half_hours=(),
    )  # fmt: skip


def agents() -> tuple[AgentFigures, ...]:
    return (
        AgentFigures(agent_id="a1", name=ANN, handled=70, aht_s=275.6, occupancy=0.8123,
                     csat_good=4, csat_bad=1, csat=0.8),
        AgentFigures(agent_id="a2", name=BOB, handled=64, aht_s=None, occupancy=None,
                     csat_good=0, csat_bad=0, csat=None),
    )  # fmt: skip


def period(label: str, start: float) -> Period:
    return Period(
        label=label,
        start=start - 8 * 3600,  # local midnight
        end=start + 16 * 3600,
        queues=(voice(start), email()),
        agents=agents(),
        escalations=EscalationFigures(
            raised=3, acked=2, resolved=1, median_ack_s=250.0, median_resolve_s=3900.0
        ),
        events=1234,
    )


@pytest.fixture
def report() -> Report:
    return Report(
        title="Floor report <b>& co</b>",
        generated_at=DAY2 + 13 * 3600,
        sources=("recordings/day_1.sqlite", "recordings/day_2.sqlite"),
        grouping="day",
        utc_offset_s=OFFSET,
        periods=(period("Tue 24 Nov 2026", DAY1), period("Wed 25 Nov 2026", DAY2)),
        notes=("NPS: no surveys in these recordings",),
    )


# --------------------------------------------------------------------------------------------
# Formatting helpers


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(43.4, "0:43"), (289.0, "4:49"), (3900.0, "1h05m"), (59.6, "1:00"), (93_600.0, "1d02h"),
     (None, "–"), (float("nan"), "–")],
)  # fmt: skip
def test_durations(seconds: float | None, text: str) -> None:
    assert fmt_duration(seconds) == text


@pytest.mark.parametrize(
    ("share", "text"), [(0.6234, "62%"), (0.625, "63%"), (1.0, "100%"), (0.0, "0%"), (None, "–")]
)
def test_rates(share: float | None, text: str) -> None:
    assert fmt_rate(share) == text


def test_sparkline_scales_to_the_peak_and_fits_its_width() -> None:
    assert sparkline([0, 5, 10]) == "▁▅█"
    assert sparkline([0, 0]) == "▁▁"
    assert len(sparkline([float(i) for i in range(48)], width=24)) == 24
    assert sparkline([]) == ""


def test_sl_bar_marks_the_target_and_colours_by_it() -> None:
    under = sl_bar(0.62, 0.8)
    assert under.plain == "▇▇▇▇▇▇·┃·· 62%"
    assert "red" in {str(span.style) for span in under.spans}
    over = sl_bar(0.9, 0.8)
    assert over.plain.startswith("▇" * 9)
    assert "green" in {str(span.style) for span in over.spans}


# --------------------------------------------------------------------------------------------
# JSON


def test_json_round_trips_every_number(report: Report) -> None:
    data = json.loads(to_json(report))
    assert data["utc_offset_s"] == OFFSET
    assert data["grouping"] == "day"
    p0 = data["periods"][0]
    v, e = p0["queues"]
    assert v["name"] == VOICE_NAME
    assert v["service_level"] == 0.6234
    assert v["asa_s"] == 43.4
    assert v["fcr"] is None
    assert v["half_hours"][4] == {
        "start": DAY1 + 4 * 1800,
        "offered": 50,
        "answered": 40,
        "abandoned": 10,
        "service_level": 0.4,
        "need": 9,
        "staffed": 6.5,
        "short": True,
    }
    assert e["sla"][0]["attainment"] == 0.75
    assert e["backlog_end"] == {"total": 11, "under_1d": 7, "d1_to_2d": 3, "over_2d": 1}
    assert p0["agents"][1]["aht_s"] is None
    assert data["formulas"] == FORMULAS
    assert data["notes"] == ["NPS: no surveys in these recordings"]


def test_json_key_order_is_the_model_field_order(report: Report) -> None:
    text = to_json(report)
    assert list(json.loads(text)) == [
        "title", "generated_at", "sources", "grouping", "utc_offset_s", "periods", "formulas",
        "notes", "timezone",
    ]  # fmt: skip
    assert text == to_json(report)
    assert text.startswith('{\n  "title": ')


# --------------------------------------------------------------------------------------------
# CSV


def csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == list(CSV_COLUMNS)
    rows = list(reader)
    assert all(None not in r and len(r) == len(CSV_COLUMNS) for r in rows)
    return rows


def figures_of(rows: list[dict[str, str]], period: str, section: str, who: str) -> dict[str, str]:
    """{figure: value} of one period, section and queue or agent (by name; "" for the floor)."""
    return {
        r["figure"]: r["value"]
        for r in rows
        if r["period"] == period and r["section"] == section and (r["queue"] or r["agent"]) == who
    }


def test_csv_is_one_long_table_with_every_queue_figure(report: Report) -> None:
    rows = csv_rows(to_csv(report))
    v = figures_of(rows, "Tue 24 Nov 2026", "queue", VOICE_NAME)
    assert v["service_level"] == "0.6234"
    assert v["abandon_rate"] == "0.1097"
    assert v["asa"] == "43"
    assert v["aht"] == "289"
    assert v["csat"] == "0.8000"
    assert v["fcr"] == ""  # None
    assert v["sla_attainment"] == ""  # no SLA clocks at all
    assert v["short_half_hours"] == "1"
    e = figures_of(rows, "Tue 24 Nov 2026", "queue", EMAIL_NAME)  # quoted by csv, intact
    assert e["service_level"] == ""
    assert e["first_response_median"] == "289"
    assert e["first_response_p90"] == "3900"
    assert e["resolution_p90"] == "93600"
    assert e["sla_attainment"] == "0.8000"  # (30 + 10) ÷ (30 + 10 + 10 + 0), both policies
    assert e["fcr"] == "0.6250"
    assert e["complaint_rate"] == "0.0500"
    b = figures_of(rows, "Tue 24 Nov 2026", "backlog", EMAIL_NAME)
    assert (b["backlog_start"], b["backlog_end"]) == ("14", "11")
    esc = figures_of(rows, "Tue 24 Nov 2026", "escalations", EMAIL_NAME)
    assert (esc["escalations_raised"], esc["median_to_ack"], esc["median_to_resolve"]) == (
        "3",
        "250",
        "3900",
    )
    assert {r["period"] for r in rows} == {"Tue 24 Nov 2026", "Wed 25 Nov 2026"}
    units = {(r["figure"], r["unit"]) for r in rows}
    assert ("service_level", "share") in units and ("asa", "seconds") in units


def test_csv_windows_are_iso_8601_with_the_floor_offset(report: Report) -> None:
    rows = csv_rows(to_csv(report))
    first = rows[0]
    assert (first["window_start"], first["window_end"]) == (
        "2026-11-24T00:00:00+01:00",
        "2026-11-25T00:00:00+01:00",
    )
    for r in rows:
        start = datetime.fromisoformat(r["window_start"])
        end = datetime.fromisoformat(r["window_end"])
        assert start.utcoffset() is not None and start < end
    halves = [r for r in rows if r["section"] == "half_hour" and r["figure"] == "need"]
    assert halves[4]["window_start"] == "2026-11-24T10:00:00+01:00"
    assert halves[4]["window_end"] == "2026-11-24T10:30:00+01:00"
    assert halves[4]["value"] == "9"
    staffed = [r["value"] for r in rows if r["section"] == "half_hour" and r["figure"] == "staffed"]
    assert staffed[:5] == ["5", "6", "7.5", "8", "6.5"]


def test_csv_agent_rows(report: Report) -> None:
    rows = csv_rows(to_csv(report))
    ann = figures_of(rows, "Tue 24 Nov 2026", "agent", ANN)
    assert ann == {"handled": "70", "aht": "276", "occupancy": "0.8123", "csat": "0.8000"}
    bob = figures_of(rows, "Tue 24 Nov 2026", "agent", BOB)
    assert bob == {"handled": "64", "aht": "", "occupancy": "", "csat": ""}
    assert {r["agent_id"] for r in rows if r["section"] == "agent"} == {"a1", "a2"}


def test_csv_quotes_names_with_commas_and_newlines(report: Report) -> None:
    odd = 'Sales, "EU"\nline two'
    p = report.periods[0]
    q = replace(p.queues[0], name=odd)
    r = replace(report, periods=(replace(p, queues=(q,)),))
    rows = csv_rows(to_csv(r))
    assert {row["queue"] for row in rows if row["section"] == "queue"} == {odd}


# --------------------------------------------------------------------------------------------
# Markdown


def test_markdown_has_sections_tables_staffing_and_formulas(report: Report) -> None:
    md = to_markdown(report)
    assert md.startswith("# Floor report \\<b\\>& co\\</b\\>\n")
    assert "- Sources: recordings/day_1.sqlite, recordings/day_2.sqlite" in md
    assert "- Generated: Wed 25 Nov 2026 21:00 (UTC+01:00)" in md
    assert "- Grouping: day" in md
    assert md.count("## Tue 24 Nov 2026") == 1
    assert md.count("## Wed 25 Nov 2026") == 1
    assert "Tue 24 Nov 2026 00:00 – Wed 25 Nov 2026 00:00 (UTC+01:00) · 1,234 events" in md
    header = (
        "| Queue | Channel | Offered | SL (T) | ASA | AHT | Abandon | Tickets in/solved | "
        "First response med/p90 | Resolution med/p90 | SLA met | Backlog start→end | CSAT | "
        "FCR | Complaints |"
    )
    assert md.count(header) == 2
    assert "| Agent | Handled | AHT | Occupancy | CSAT |" in md
    assert "| Queue | Policy | Metric | Met | Breached | Attainment |" in md
    assert "| All queues | 3 | 2 | 1 | 4:10 | 1h05m |" in md
    # The short half hour, in local time: 07:00 UTC + 4 half hours at UTC+01:00.
    assert "- 10:00 Voice \\<script\\>alert(1)\\</script\\> need 9, staffed 6.5" in md
    assert md.count("need 9, staffed 6.5") == 2  # once per period, no other short half hour
    assert "## How figures are computed" in md
    for formula in FORMULAS.values():
        assert md_escape(formula) in md
    assert "- **Service level**: answered within T ÷ (answered + abandoned after T)" in md
    assert "- **AHT**:" in md
    assert "NPS: no surveys in these recordings" in md


def test_markdown_tables_escape_pipes_and_markup_in_names(report: Report) -> None:
    md = to_markdown(report)
    voice_row = next(line for line in md.splitlines() if line.startswith("| Voice"))
    assert voice_row == (
        "| Voice \\<script\\>alert(1)\\</script\\> | voice | 155 | 62% (20s) | 0:43 | 4:49 | 11% "
        "| 0 / 0 | – / – | – / – | – | 0 → 0 | 80% | – | – |"
    )
    email_row = next(line for line in md.splitlines() if line.startswith("| Email"))
    assert email_row.startswith("| Email \\[bold\\]VIP\\[/bold\\] \\| A&B | email | – | – |")
    assert "4:49 / 1h05m" in email_row and "2:00:00" not in email_row
    assert "| 14 → 11 |" in email_row and "| 2 (5%) |" in email_row
    # Every table row has exactly as many unescaped pipes (cell borders) as its table's header.
    header_pipes = 0
    rows_checked = 0
    for line in md.splitlines():
        if not line.startswith("|"):
            header_pipes = 0
            continue
        pipes = len(re.findall(r"(?<!\\)\|", line))
        if header_pipes == 0:
            header_pipes = pipes
        else:
            assert pipes == header_pipes, line
            rows_checked += 1
    assert rows_checked > 20
    assert "| Bob \\[bold\\] \\| & Co | 64 | – | – | – |" in md
    assert not re.search(r"(?<!\\)<", md)  # every < is backslash-escaped: no raw HTML


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a|b", "a\\|b"),
        ("<img src=x>", "\\<img src=x\\>"),
        ("[x](y)", "\\[x\\](y)"),
        ("*bold* _em_", "\\*bold\\* \\_em\\_"),
        ("first_reply_time", "first_reply_time"),
        ("A&B", "A&B"),
        ("&amp; &#60; #1", "\\&amp; \\&\\#60; \\#1"),
        ("back\\slash `code`", "back\\\\slash \\`code\\`"),
        ("two\nlines", "two lines"),
    ],
)
def test_md_escape(text: str, escaped: str) -> None:
    assert md_escape(text) == escaped


# --------------------------------------------------------------------------------------------
# HTML

VOID = {"meta", "br", "hr", "img", "link", "input", "col", "area", "base", "wbr", "source"}
SVG_SELF_CLOSING = {"line", "rect", "circle", "path", "polyline"}


class TagChecker(HTMLParser):
    """Walks the document and checks every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.svgs = 0
        self.svg_titles = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.svgs += 1
        if tag == "title" and self.stack and self.stack[-1] == "svg":
            self.svg_titles += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID | SVG_SELF_CLOSING:
            self.errors.append(f"unexpected self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_well_formed_with_svg_charts(report: Report) -> None:
    doc = to_html(report)
    checker = TagChecker()
    checker.feed(doc)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    # Two charts per realtime queue per period; each svg opens with its <title>.
    assert checker.svgs == 4 == doc.count("<svg")
    assert checker.svg_titles == 4
    text = "".join(checker.text)
    assert f"{VOICE_NAME}: offered and service level per half hour" in text
    assert f"{VOICE_NAME}: staffing need vs staffed per half hour" in text
    assert "Target 80% in 20s" in text
    assert re.search(r"\b08:00\b", text) and re.search(r"\b11:00\b", text)  # local clock ticks
    assert "Local time (UTC+01:00)" in text
    assert doc.count('class="shade"') == 2 + 2  # one legend swatch + one short, per period


def test_html_escapes_names_and_has_no_scripts_or_fetches(report: Report) -> None:
    doc = to_html(report)
    assert "&lt;script&gt;" in doc
    assert "<script" not in doc.lower()
    assert "http://" not in doc and "https://" not in doc
    assert "@import" not in doc and "url(" not in doc and "src=" not in doc
    assert "<title>Floor report &lt;b&gt;&amp; co&lt;/b&gt;</title>" in doc
    assert "Email [bold]VIP[/bold] | A&amp;B" in doc
    assert "Bob [bold] | &amp; Co" in doc


def test_html_has_the_tables_and_print_styles(report: Report) -> None:
    doc = to_html(report)
    assert "@media print" in doc
    assert re.search(r"section\.period \+ section\.period[^{]*\{[^}]*break-before: page", doc)
    assert doc.count('<section class="period"') == 2
    for header in ("SL (T)", "Tickets in/solved", "Backlog start→end", "Occupancy", "Attainment"):
        assert f">{header}</th>" in doc
    assert "<li>10:00 Voice &lt;script&gt;alert(1)&lt;/script&gt; need 9, staffed 6.5</li>" in doc
    assert "<h2>How figures are computed</h2>" in doc
    assert "answered within T ÷ (answered + abandoned after T)" in doc
    assert "NPS: no surveys in these recordings" in doc


def test_html_target_line_follows_the_given_target(report: Report) -> None:
    assert "Target 90% in 20s" in to_html(report, sl_targets={"q-voice": 0.9})


def test_html_with_a_period_of_no_half_hours_still_renders(report: Report) -> None:
    p = report.periods[0]
    bare = replace(p, queues=(replace(p.queues[0], half_hours=()),), agents=())
    doc = to_html(replace(report, periods=(bare,)))
    assert "<svg" not in doc
    assert "no half-hour figures" in doc


# --------------------------------------------------------------------------------------------
# rich


def test_render_does_not_import_textual() -> None:
    code = (
        "import sys, supervisor_tui.report.render; "
        "print(any(m == 'textual' or m.startswith('textual.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def render_text(report: Report) -> str:
    console = Console(record=True, width=120, color_system=None)
    console.print(rich_summary_(report))
    return console.export_text()


def test_rich_summary_shows_names_literally(report: Report) -> None:
    text = render_text(report)
    assert "[bold]" in text  # a markup string would have swallowed it
    assert "VIP[/bold]" in text
    assert "Bob [bold] | & Co" in text
    assert "<script>" in text


def test_rich_summary_has_headlines_bar_sparkline_and_agents(report: Report) -> None:
    text = render_text(report)
    assert text.count("Tue 24 Nov 2026") >= 1 and "Wed 25 Nov 2026" in text
    assert "▇▇▇▇▇·┃· 62%" in text  # 8 cells: 62% fills 5, the 80% target marks the 7th
    assert sparkline([10, 20, 30, 40, 50, 5, 0]) in text
    assert sparkline([10, 20, 30, 40, 50, 5, 0]) == "▂▄▅▇█▂▁"
    assert "0:43" in text and "4:49" in text
    assert "Short half hours (1):" in text
    assert "10:00" in text and "need 9, staffed 6.5" in text
    assert "Occupancy" in text and "81%" in text
    assert "Escalations: raised 3, acked 2, resolved 1" in text
    assert all(len(line) <= 120 for line in text.splitlines())


def test_a_narrow_terminal_keeps_queue_names_and_drops_the_least_needed_columns(
    report: Report,
) -> None:
    """At 80 columns (an SSH session, a laptop split) the names stay; the sparkline and
    the second-order figures go first."""
    wide = render_text(report)
    console = Console(record=True, width=80, color_system=None)
    console.print(rich_summary_(report))
    narrow = console.export_text()
    assert all(len(line) <= 80 for line in narrow.splitlines())
    for q in report.periods[0].queues:
        assert q.name.split()[0] in narrow, q.name
    assert "Offered/½h" in wide and "Offered/½h" not in narrow
    assert "Queue" in narrow and "Offered" in narrow and "Tickets" in narrow
