"""Issue #21: reports (terminal, Markdown, HTML) and the audit's table in the floor's language;
CSV and JSON keep their English keys and plain numbers, byte for byte, in every language.

One recording made as on a floor: a simulated morning in a real SQLite file, the escalations
the default rules raised, commands made at a desk (ack, note, snooze, resolve) and survey
answers imported through the command line (one ticket answered twice, one not recorded).
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console, Group
from rich.table import Table

from supervisor_tui import i18n
from supervisor_tui.cli import main
from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.model import TicketUpserted
from supervisor_tui.report import audit, render
from supervisor_tui.report.compute import compute
from supervisor_tui.report.model import Grouping, Report
from supervisor_tui.store import SQLiteStore, every_event

from .conftest import EPOCH, record_floor, targets

LANGUAGES = [lang for lang in i18n.LANGUAGES if lang != "en"]
NOW = EPOCH + 6 * 3600  # when the report was made: fixed, so two renderings can be compared

ENGLISH = (
    # headings, column headers, notes and phrases of the report and the audit in English: none
    # may be left on a page in another language (the names of queues and agents are data and
    # the simulator's are English, so only words no name holds are listed)
    "How figures are computed",
    "Staffing",
    "Escalations",
    "Notes",
    "Sources",
    "Generated",
    "Grouping",
    "Queues",
    "Agents",
    "Median to ack",
    "Median to resolve",
    "Occupancy",
    "Handled",
    "Backlog ageing",
    "Tickets in/solved",
    "First response",
    "Resolution",
    "Half hours",
    "Short half hours",
    "survey answers in these recordings",
    "FCR counts tickets",
    "offered and service level",
    "staffing need vs staffed",
    "Local time",
    "events",
    "recording",
    "generated",
    "Service level",
    "answered within T",
    "solved in the period",
    "Customers",
    "Repeat contacts",
    "Reopened",
    "Complaints",
    "Policy",
    "Attainment",
    "Breached",
    "All queues",
    "need",
    "staffed",
    "report",
)
AUDIT_ENGLISH = (
    "when (floor time)",
    "command",
    "terminal",
    "write-back",
    "escalation",
    "waiting to be sent",
    "none (no helpdesk ticket)",
    "a snooze stays on the floor",
    "Commands on",
)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("i18n-report")
    path = folder / "floor.db"
    store = record_floor(path, until_s=3 * 3600)
    state = FloorState(targets())
    state.apply_all(store.read_from(0, 10**7))
    raised = sorted(state.escalations.values(), key=lambda e: e.escalation_id)
    open_ = [e for e in raised if e.is_open][:3]
    assert len(open_) == 3, "the default rules raise escalations on the simulated morning"
    desk = EscalationDesk(store, lambda: EPOCH + 3 * 3600, terminal="desk-7")
    desk.ack(open_[0], "Linh", "gọi lại khách")
    desk.note(open_[1], "Aiko", "返金を承認")
    desk.snooze(open_[2], "Olena", 15)
    desk.resolve(open_[0], "Linh", "done")
    tickets = sorted(
        e.payload.ticket_id
        for e in store.events_of_kind("ticket.upserted")
        if isinstance(e.payload, TicketUpserted)
    )
    store.close()
    at = datetime.fromtimestamp(EPOCH + 1800, UTC).isoformat()
    later = datetime.fromtimestamp(EPOCH + 3600, UTC).isoformat()
    answers = folder / "answers.csv"
    rows = [
        f"{tid},{score},{at}" for tid, score in zip(tickets[:5], (10, 9, 3, 7, 10), strict=True)
    ]
    rows.append(f"{tickets[0]},2,{later}")  # the customer answered again: the latest counts
    rows.append(f"no-such-ticket,9,{at}")  # a ticket the recording does not hold
    answers.write_text("ticket,score,answered_at\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert main(["import", "surveys", str(answers), "--db", str(path)]) == 0
    yield path


def _report(path: Path, language: str) -> Report:
    """The report computed while ``language`` is spoken (as ``report --lang`` does)."""
    i18n.use(language)
    store = SQLiteStore(path, read_only=True)
    try:
        return compute(
            [(str(path), every_event(store))],
            targets=targets(),
            grouping="day",
            title="Night floor: report",
            now=NOW,
        )
    finally:
        store.close()


def _terminal(report: Report, width: int = 200) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(render.rich_summary(report))
    return console.export_text()


class _Text(HTMLParser):
    """An HTML page's text as a reader sees it (entities decoded, tags gone)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False

    def handle_data(self, data: str) -> None:
        if not self.in_style:  # the stylesheet's class names are not read
            self.parts.append(data)


def _html_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(parser.parts)


def _english_left(text: str, words: tuple[str, ...]) -> list[str]:
    return [w for w in words if re.search(rf"(?<![A-Za-z]){re.escape(w)}(?![a-z])", text)]


def _names(report: Report) -> set[str]:
    return {q.name for p in report.periods for q in p.queues} | {
        a.name for p in report.periods for a in p.agents
    }


def _without(text: str, names: set[str], sources: tuple[str, ...]) -> str:
    """``text`` without the helpdesk's names and the file names (data, in any language)."""
    for name in sorted(names | set(sources), key=len, reverse=True):
        text = text.replace(name, " ")
    return text


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_english_heading_is_left_on_any_page(recording: Path, language: str) -> None:
    report = _report(recording, language)
    english = _report(recording, "en")
    i18n.use(language)
    pages = {
        "md": render.to_markdown(report),
        "html": _html_text(render.to_html(report)),
        "term": _terminal(report),
    }
    names = _names(report)
    for kind, page in pages.items():
        left = _english_left(_without(page, names, report.sources), ENGLISH)
        assert not left, f"{language} {kind}: English left: {left}"
    # and each of those words is on the English pages, so the list checks something
    i18n.use("en")
    every_english = render.to_markdown(english) + _html_text(render.to_html(english))
    every_english += _terminal(english)
    assert not set(_english_left(every_english, ENGLISH)) ^ set(ENGLISH)


def test_the_notes_the_report_makes_are_the_ones_translated(recording: Path) -> None:
    """The surveys (one ticket answered twice, one answer for a ticket not recorded) give
    the NPS note all its clauses; each note is put in the language, none passes as it is."""
    report = _report(recording, "ja")
    assert len(report.notes) == 2
    nps = report.notes[0]
    assert re.search(r", \d+ of them for", nps) and ", 1 for tickets not in them" in nps, nps
    answers = re.match(r"NPS: (\d+) survey answers", nps)
    assert answers is not None
    phrases = (
        "survey answers",
        "of them",
        "answered again",
        "not in them",
        "left out",
        "counts tickets",
        "reports its replies",
        "these recordings",
    )
    for language in LANGUAGES:
        i18n.use(language)
        for note in report.notes:
            shown = render._note(note)
            assert shown != note and not _english_left(shown, phrases), (language, shown)
        assert answers[1] in render._note(nps)  # the numbers go with the words


DATE = {
    # the period's heading for the simulated day (2026-09-21, a Monday, UTC) in each language
    "en": "Mon 21 Sep 2026",
    "vi": "Thứ 2, 21 thg 9, 2026",
    "zh": "2026年9月21日周一",
    "ja": "2026年9月21日(月)",
    "uk": "пн, 21 вер. 2026\u202fр.",
}


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_dates_and_numbers_follow_the_language(recording: Path, language: str) -> None:
    report = _report(recording, language)
    period = report.periods[0]
    assert datetime.fromtimestamp(period.start, UTC).date().isoformat() == "2026-09-21"
    i18n.use(language)
    md = render.to_markdown(report)
    assert f"\n## {DATE[language]}\n" in md
    html = render.to_html(report)
    assert f">{DATE[language]}</h2>" in html
    assert DATE[language] in _terminal(report)
    # the events count of the period groups thousands as the language does
    assert period.events >= 1000
    thousands, rest = divmod(period.events, 1000)
    grouped = {"en": ",", "zh": ",", "ja": ",", "vi": ".", "uk": "\xa0"}[language]
    assert f"{thousands}{grouped}{rest:03d}" in md
    # an average of agents has the language's decimal sign
    staffed = [
        hh.staffed
        for q in period.queues
        for hh in q.half_hours
        if hh.short and hh.staffed is not None and hh.staffed != int(hh.staffed)
    ]
    assert staffed, "the simulated morning has a short half hour with part-time staff"
    sign = "," if language in ("vi", "uk") else "."
    text = render._fmt_agents(staffed[0])
    i18n.use("en")
    assert sign in text and text.replace(sign, ".") == render._fmt_agents(staffed[0])
    i18n.use(language)
    assert text in md


def test_csv_and_json_are_the_same_in_every_language(recording: Path) -> None:
    english = _report(recording, "en")
    csv_en, json_en = render.to_csv(english), render.to_json(english)
    assert csv_en.startswith(",".join(render.CSV_COLUMNS) + "\n")
    assert json.loads(json_en)["periods"][0]["label"] == DATE["en"]
    for language in LANGUAGES:
        report = _report(recording, language)
        i18n.use(language)
        assert render.to_csv(report) == csv_en, language
        assert render.to_json(report) == json_en, language


def test_the_audit_csv_and_json_are_the_same_in_every_language(recording: Path) -> None:
    def entries(language: str) -> list[audit.AuditEntry]:
        i18n.use(language)
        store = SQLiteStore(recording, read_only=True)
        try:
            events = [e for e in every_event(store) if e.kind.startswith("escalation.")]
            return audit.audit_trail(events, store.write_back_outcomes(), UTC)
        finally:
            store.close()

    english = entries("en")
    assert [e.command for e in english] == ["ack", "note", "snooze", "resolve"]
    data = json.loads(audit.to_json(english))["commands"]
    # the keys a script reads, as they have always been
    assert list(data[0]) == [
        "seq", "at", "when", "command", "by", "terminal", "escalation_id", "title", "text",
        "write_back",
    ]  # fmt: skip
    assert data[2]["text"] == "15 min"
    for language in LANGUAGES:
        shown = entries(language)
        assert audit.to_csv(shown) == audit.to_csv(english), language
        assert audit.to_json(shown) == audit.to_json(english), language
        console = Console(width=220, record=True, file=io.StringIO(), color_system=None)
        console.print(audit.to_table(shown, "x"))
        table = console.export_text()
        assert not _english_left(table, AUDIT_ENGLISH), (language, table)
        assert "gọi lại khách" in table and "返金を承認" in table  # the operators' words


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_terminal_tables_line_up_with_wide_text(recording: Path, language: str) -> None:
    """Japanese and Chinese headers and names take two cells a character: every line of a
    table is as wide as its rule, and each right-aligned figure ends under its header."""
    report = _report(recording, language)
    period = report.periods[0]
    queues = list(period.queues)
    queues[0] = replace(queues[0], name="サポート窓口・請求")
    agents = list(period.agents)
    agents[0] = replace(agents[0], name="山田 太郎")
    agents[1] = replace(agents[1], name="Nguyễn Thị Minh Khai")
    report = replace(report, periods=(replace(period, queues=tuple(queues), agents=tuple(agents)),))
    i18n.use(language)
    summary = render.rich_summary(report)
    assert isinstance(summary, Group)
    tables = [r for r in summary.renderables if isinstance(r, Table)]
    queue_tables = [r for r in summary.renderables if type(r).__name__ == "_RichQueueTable"]
    assert tables and queue_tables
    for table in [*queue_tables, *tables]:
        console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
        console.print(table)
        lines = console.export_text().splitlines()[1:]  # the title is left-justified, alone
        widths = {cell_len(line) for line in lines if line.strip()}
        assert len(widths) == 1, (language, widths, lines[:4])
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    console.print(tables[0])  # the agents
    lines = [line for line in console.export_text().splitlines()[1:] if line.strip()]
    header, rows = lines[0], lines[2:]
    assert "─" in lines[1]
    handled = i18n._("Handled")
    end = cell_len(header[: header.index(handled) + len(handled)])
    assert any("山田 太郎" in row for row in rows)
    for row in rows:
        cells = _cells(row)
        assert cells[end - 1] != " " and (end >= len(cells) or cells[end] == " "), (row, end)


def _cells(line: str) -> list[str]:
    """A line as one entry per terminal cell (a wide character fills two)."""
    out: list[str] = []
    for char in line:
        out += [char] * cell_len(char) if cell_len(char) else []
    return out


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_html_says_its_language_and_keeps_names_as_data(recording: Path, language: str) -> None:
    report = _report(recording, language)
    period = report.periods[0]
    hostile = "<script>alert('{queue}')</script> & {0}"
    queues = (replace(period.queues[0], name=hostile), *period.queues[1:])
    report = replace(report, periods=(replace(period, queues=queues),), sources=("<b>x</b>",))
    i18n.use(language)
    page = render.to_html(report)
    lang = {"zh": "zh-Hans"}.get(language, language)
    assert f'<html lang="{lang}">' in page
    assert "<script>" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(&#x27;{queue}&#x27;)&lt;/script&gt; &amp; {0}" in page
    md = render.to_markdown(report)
    assert "<script>" not in md and "\\<script\\>" in md


def test_the_report_command_writes_the_language_asked(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    args = ["report", str(recording), "--format", "html", "--lang", "ja", "--out", str(out)]
    assert main(args) == 0
    page = out.read_text(encoding="utf-8")
    assert '<html lang="ja">' in page and "数値の算出方法" in page
    capsys.readouterr()
    assert main(["report", str(recording), "--format", "csv", "--lang", "uk"]) == 0
    ukrainian = capsys.readouterr().out
    assert main(["report", str(recording), "--format", "csv", "--lang", "en"]) == 0
    assert capsys.readouterr().out == ukrainian


def test_no_drawn_word_hides_in_an_f_string() -> None:
    """``make messages`` cannot see ``_()`` inside an f-string's braces (Python 3.11 reads an
    f-string as one token): such a word would stay English in every language, unnoticed."""
    for module in (render, audit):
        source = Path(module.__file__ or "").read_text(encoding="utf-8")
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.STRING and re.match(r"(?i)[rb]*f", token.string):
                assert not re.search(r"\b(_|N_|ngettext|pgettext)\(", token.string), (
                    module.__name__,
                    token.start,
                    token.string,
                )


def _labels(path: Path, language: str, grouping: Grouping) -> tuple[str, str]:
    """(the model's label, the Markdown heading) of the first period, grouped so."""
    i18n.use(language)
    store = SQLiteStore(path, read_only=True)
    try:
        report = compute([(str(path), every_event(store))], targets=targets(), grouping=grouping)
    finally:
        store.close()
    heading = next(line for line in render.to_markdown(report).splitlines() if line[:3] == "## ")
    return report.periods[0].label, heading.removeprefix("## ")


@pytest.mark.parametrize("language", LANGUAGES)
def test_shifts_weeks_and_months_are_named_in_the_language(recording: Path, language: str) -> None:
    english, _ = _labels(recording, "en", "shift")
    model, shift = _labels(recording, language, "shift")
    assert model == english  # the JSON's label stays English
    clocks = re.fullmatch(r"Mon 21 Sep 2026 (\d\d:\d\d–\d\d:\d\d)", english)
    assert clocks is not None, english
    assert shift.startswith(DATE[language]) and shift.endswith(clocks[1]), shift
    model, week = _labels(recording, language, "week")
    assert model == "2026-W39 (from Mon 21 Sep)"
    monday = {
        "vi": "Thứ 2, 21 thg 9",
        "zh": "9月21日周一",
        "ja": "9月21日(月)",
        "uk": "пн, 21 вер.",
    }
    assert "2026-W39" in week and monday[language] in week and "from" not in week, week
    model, month = _labels(recording, language, "month")
    assert model == "September 2026"
    named = {"vi": "tháng 9 năm 2026", "zh": "2026年9月", "ja": "2026年9月", "uk": "вересень"}
    assert named[language] in month, month
