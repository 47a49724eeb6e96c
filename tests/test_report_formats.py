"""Issue #18 (7): term, md, html and csv show the same numbers. Each rendering is parsed on
its own (the csv module, the Markdown tables, an HTML parser, the terminal's text) and every
figure a human reads is compared with the CSV's plain value put through the board's one
formatter (``core.fmt``)."""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from supervisor_tui.core import fmt
from supervisor_tui.model import NewEvent, SurveyAnswered, TicketUpserted
from supervisor_tui.report import render
from supervisor_tui.report.compute import compute
from supervisor_tui.report.model import Report

from .conftest import EPOCH, record_floor, targets

NONE = render.NONE
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
Table = list[dict[str, str]]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    path = tmp_path_factory.mktemp("formats") / "floor.db"
    store = record_floor(path, until_s=2 * 3600)
    try:
        events = store.read_from(0, 10**6)
        solved = [
            e.payload.ticket_id
            for e in events
            if isinstance(e.payload, TicketUpserted) and not e.payload.status.is_open
        ]
        answers = [
            NewEvent(
                source="simulator",
                key=f"survey:{tid}",
                occurred_at=EPOCH + 7000,
                received_at=EPOCH + 7000,
                payload=SurveyAnswered(ticket_id=tid, score=(3 * i) % 11, at=EPOCH + 7000),
            )
            for i, tid in enumerate(solved[:12])
        ]
        store.append(answers)
        events = store.read_from(0, 10**6)
    finally:
        store.close()
    return compute([("floor.db", events)], targets=targets(), now=EPOCH)


# -- parsers, one per rendering -----------------------------------------------------------


def md_tables(text: str) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    heading = ""
    header: list[str] = []
    for line in text.splitlines():
        if line.startswith("### "):
            heading, header = line[4:], []
            continue
        if not line.startswith("|") or set(line) <= {"|", "-", ":"}:
            continue
        cells = [re.sub(r"\\(.)", r"\1", c.strip()) for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if not header:
            header = cells
            tables[heading] = []
        else:
            tables[heading].append(dict(zip(header, cells, strict=True)))
    return tables


class _HtmlTables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, Table] = {}
        self.heading = ""
        self.row: list[str] | None = None
        self.header: list[str] = []
        self.cell: list[str] | None = None
        self.in_h3 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h3":
            self.in_h3, self.heading = True, ""
        elif tag == "table":
            self.header = []
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h3":
            self.in_h3 = False
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if not self.header:
                self.header = self.row
                self.tables[self.heading] = []
            else:
                self.tables[self.heading].append(dict(zip(self.header, self.row, strict=True)))
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.in_h3:
            self.heading += data
        elif self.cell is not None:
            self.cell.append(data)


def html_tables(text: str) -> dict[str, Table]:
    parser = _HtmlTables()
    parser.feed(text)
    return parser.tables


def term_tables(report: Report) -> dict[str, Table]:
    """The terminal summary's Queues and Agents tables, read back from its plain text."""
    console = Console(width=250, record=True, color_system=None, file=io.StringIO())
    console.print(render.rich_summary(report))
    tables: dict[str, Table] = {}
    heading, header = "", []
    for line in console.export_text().splitlines():
        stripped = line.strip()
        if stripped in ("Queues", "Agents"):
            heading, header = stripped, []
            continue
        if not heading or not stripped or set(stripped) <= {"─"}:
            if header and not stripped:
                continue
            continue
        cells = re.split(r"\s{2,}", stripped)
        if not header:
            header = cells
            tables[heading] = []
        elif len(cells) == len(header):
            tables[heading].append(dict(zip(header, cells, strict=True)))
        else:
            heading = ""
    return tables


def csv_figures(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """{(section, queue or agent name or detail): {figure: value}} of the one period."""
    out: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for row in csv.DictReader(io.StringIO(text)):
        who = row["queue"] or row["agent"] or row["detail"]
        if row["section"] in ("half_hour", "sla", "backlog"):
            who = f"{who}|{row['detail']}|{row['window_start']}"
        out[row["section"], who][row["figure"]] = row["value"]
    return out


# -- the CSV's plain values as a person reads them -------------------------------------------


def pct(value: str) -> str:
    return fmt.percent(float(value), none=NONE) if value else NONE


def dur(value: str) -> str:
    return fmt.duration(float(value), none=NONE) if value else NONE


def count_rate(count: str, rate: str) -> str:
    if not rate:
        return count if count != "0" else NONE
    return f"{count} ({pct(rate)})"


def test_one_period_one_floor(report: Report) -> None:
    assert len(report.periods) == 1
    assert any(q.nps is not None for q in report.periods[0].queues)  # NPS is in play


def test_md_and_html_hold_the_same_tables(report: Report) -> None:
    md = md_tables(render.to_markdown(report))
    html = html_tables(render.to_html(report))
    assert set(md) >= {"Queues", "SLA", "Escalations", "Customers", "Agents"}
    assert md == html


def test_md_html_and_term_show_the_csv_numbers(report: Report) -> None:
    figures = csv_figures(render.to_csv(report))
    md = md_tables(render.to_markdown(report))
    term = term_tables(report)
    assert len(term["Queues"]) == len(md["Queues"]) == len(report.periods[0].queues)
    checked = 0
    for row, trow in zip(md["Queues"], term["Queues"], strict=True):
        q = figures["queue", row["Queue"]]
        assert trow["Queue"] == row["Queue"]
        realtime = row["Channel"] in ("voice", "chat")
        assert row["Offered"] == (q["offered"] if realtime or q["offered"] != "0" else NONE)
        assert row["SL (T)"].split(" ")[0] == (pct(q["service_level"]) if realtime else NONE)
        if realtime:
            assert row["SL (T)"].endswith(f"({render._fmt_threshold(float(q['sl_threshold']))})")
        assert row["ASA"] == trow["ASA"] == dur(q["asa"])
        assert row["AHT"] == trow["AHT"] == dur(q["aht"])
        assert row["Abandon"] == trow["Aband"] == pct(q["abandon_rate"])
        assert row["Tickets in/solved"] == f"{q['tickets_created']} / {q['tickets_solved']}"
        assert trow["Tickets"] == f"{q['tickets_created']}/{q['tickets_solved']}"
        median, p90 = dur(q["first_response_median"]), dur(q["first_response_p90"])
        assert row["First response med/p90"] == f"{median} / {p90}"
        assert trow["1st rsp"] == median
        assert row["Resolution med/p90"] == (
            f"{dur(q['resolution_median'])} / {dur(q['resolution_p90'])}"
        )
        assert row["SLA met"] == trow["SLA"] == pct(q["sla_attainment"])
        assert row["CSAT"] == trow["CSAT"] == pct(q["csat"])
        assert row["FCR"] == pct(q["fcr"])
        assert row["Complaints"] == count_rate(q["complaints"], q["complaint_rate"])
        assert trow["Offered"] == (q["offered"] if realtime else NONE)
        assert trow["SL ┃target"].split(" ")[-1] == (pct(q["service_level"]) if realtime else NONE)
        checked += 1
    for row in md["Customers"]:
        c = figures["customers", row["Queue"]]
        nps = NONE if not c["nps"] else f"{math.floor(float(c['nps']) + 0.5):+d}"  # halves up
        assert row["NPS (answers)"] == (nps if nps == NONE else f"{nps} ({c['survey_answers']})")
        assert row["Repeat contacts"] == count_rate(c["repeat_contacts"], c["repeat_contact_rate"])
        assert row["Reopened"] == count_rate(c["reopened"], c["reopen_rate"])
        checked += 1
    for row, trow in zip(md["Agents"], term["Agents"], strict=True):
        a = figures["agent", row["Agent"]]
        assert trow["Agent"] == row["Agent"]
        assert row["Handled"] == trow["Handled"] == a["handled"]
        assert row["AHT"] == trow["AHT"] == dur(a["aht"])
        assert row["Occupancy"] == trow["Occupancy"] == pct(a["occupancy"])
        assert row["CSAT"] == trow["CSAT"] == pct(a["csat"])
        checked += 1
    for row in md["Escalations"]:
        e = figures["escalations", "all queues" if row["Scope"] == "All queues" else row["Scope"]]
        assert row["Raised"] == e["escalations_raised"]
        assert row["Median to ack"] == dur(e["median_to_ack"])
        checked += 1
    for row in md["SLA"]:
        (s,) = [
            v
            for (section, who), v in figures.items()
            if section == "sla"
            and who.startswith(f"{row['Queue']}|{row['Policy']} / {row['Metric']}|")
        ]
        assert (row["Met"], row["Breached"]) == (s["sla_met"], s["sla_breached"])
        assert row["Attainment"] == pct(s["sla_attainment"])
        checked += 1
    assert checked > 40


def test_csv_round_trips_through_the_csv_module_alone(tmp_path: Path, report: Report) -> None:
    path = tmp_path / "report.csv"
    path.write_text(render.to_csv(report), encoding="utf-8")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(render.CSV_COLUMNS)
    assert all(len(r) == len(render.CSV_COLUMNS) for r in rows)
    values = [r[10] for r in rows[1:] if r[10]]
    assert all(_NUMBER.fullmatch(v) for v in values)  # every value a plain number, or empty
    assert len(values) > 100
