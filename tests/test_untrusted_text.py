"""Vendor text is data: ticket subjects, requester, agent and queue names, health reasons and
escalation notes carrying Rich markup, terminal escapes, other control characters, a
right-to-left override, 5,000 characters or wide characters, through the real app (Pilot, at
160x44 and 80x24) and the report renderers.

On screen the text must show as typed (markup brackets visible, no style or link taken from
it), never reach the terminal as an escape or a control character, and never break the layout
(every line of every widget fits its width).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widget import Widget

from supervisor_tui.app import FloorSettings, SupervisorApp
from supervisor_tui.core.rules import RuleEngine
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    AgentUpserted,
    Channel,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    EscalationAcked,
    EscalationRaised,
    HealthState,
    NewEvent,
    Payload,
    QueueUpserted,
    Severity,
    SourceHealth,
    TicketStatus,
    TicketUpserted,
    ViewCount,
)
from supervisor_tui.report.compute import compute
from supervisor_tui.report.model import Report
from supervisor_tui.report.render import md_escape, rich_summary, to_csv, to_html, to_json
from supervisor_tui.report.render import to_markdown as render_markdown
from supervisor_tui.screens import ChoiceScreen, TextPrompt
from supervisor_tui.store import SQLiteStore
from supervisor_tui.widgets import AgentBoard, EscalationFeed, FreshnessBar, QueueTile, TopBar

from .conftest import EPOCH, FakeClock, targets
from .test_app import wait_for

LONG = ("[i]long[/i] 漢 " * 400)[:5000]
# Text that a markup parser would eat, a bidi override, wide characters and sheer length.
LITERAL: dict[str, str] = {
    "markup": "[bold red]x[/] tail",
    "link": "[link=http://evil]y[/link]",
    "rlo": "\u202eevil.exe",
    "wide": "漢字テスト😀👍",
    "long": LONG,
}
# Text that must never reach the terminal as it is.
CONTROL: dict[str, str] = {
    "sgr": "\x1b[31mred",
    "osc8": "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",
    "c0": "nul\x00bel\x07cr\rtab\tend",
}
CONTROL_CHAR = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # C0 (tab and newline apart) and DEL
RAW_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # in a rendered segment, not even a tab
SIZES = [(160, 44), (80, 24)]
NOW = EPOCH + 120
ENGINE = RuleEngine([])


def _event(source: str, key: str, payload: Payload, at: float = EPOCH) -> NewEvent:
    return NewEvent(source=source, key=key, occurred_at=at, received_at=at, payload=payload)


def untrusted_floor(samples: dict[str, str]) -> list[NewEvent]:
    """One queue, agent, ticket, helpdesk and three escalations per sample, each carrying it:
    the queue's name is in its escalation's title, the subject in another's detail, the note
    on a third (acked) one. Titles are short so the sample is what the line shows."""
    events: list[NewEvent] = []
    for i, text in enumerate(samples.values()):
        q, agent, ticket = f"q{i}", f"a{i}", f"{100 + i}"
        t = EPOCH + i
        events += [
            _event("zendesk", f"q{i}", QueueUpserted(queue_id=q, name=text, channel=Channel.EMAIL)),
            _event("zendesk", f"a{i}", AgentUpserted(agent_id=agent, name=text, queue_ids=(q,))),
            _event(
                "zendesk",
                f"as{i}",
                AgentStateChanged(agent_id=agent, state=AgentState.BUSY, since=t, work=text),
            ),
            _event("zendesk", f"w{i}", AgentUpserted(agent_id=f"w{i}", name=f"Away {i}")),
            _event(
                "zendesk",
                f"ws{i}",
                AgentStateChanged(agent_id=f"w{i}", state=AgentState.AWAY, reason=text, since=t),
            ),
            _event(
                "zendesk",
                f"t{i}",
                TicketUpserted(
                    ticket_id=ticket,
                    status=TicketStatus.OPEN,
                    channel=Channel.EMAIL,
                    queue_id=q,
                    subject=text,
                    requester=text,
                    tags=("complaint",),
                    created_at=t,
                    updated_at=t,
                ),
            ),
            _event(
                "zendesk",
                f"co{i}",
                ContactOffered(contact_id=f"c{i}", queue_id=q, channel=Channel.EMAIL, offered_at=t),
            ),
            _event(
                "zendesk",
                f"ca{i}",
                ContactAnswered(
                    contact_id=f"c{i}", queue_id=q, agent_id=agent, answered_at=t + 5, wait_s=5
                ),
            ),
            _event(
                "zendesk",
                f"ce{i}",
                ContactEnded(
                    contact_id=f"c{i}", queue_id=q, agent_id=agent, ended_at=t + 65, talk_s=60
                ),
            ),
            _event(
                f"helpdesk-{i}",
                "health",
                SourceHealth(state=HealthState.DEGRADED, reason=text, at=NOW - 5),
                NOW - 5,
            ),
            _event(
                f"helpdesk-{i}",
                "view",
                ViewCount(view_id="v", name=text, count=3, as_of=NOW - 5),
                NOW - 5,
            ),
        ]
        raised = EPOCH + 60
        for kind, title, detail in (
            ("queue", f"{text}: service level 50% (≤ 60%)", ""),
            ("subject", f"#{ticket}", text),
            ("note", f"#{ticket}", ""),
        ):
            events.append(
                _event(
                    "rules",
                    f"raise:{kind}-{i}",
                    EscalationRaised(
                        escalation_id=f"{kind}-{i}",
                        rule_id="r",
                        subject=f"queue:{q}" if kind == "queue" else f"ticket:zendesk/{ticket}",
                        queue_id=q,
                        ticket_source=None if kind == "queue" else "zendesk",
                        ticket_id=None if kind == "queue" else ticket,
                        severity=Severity.WARNING,
                        title=title,
                        detail=detail,
                        raised_at=raised,
                    ),
                    raised,
                )
            )
        events.append(
            _event(
                "operator",
                f"ack:note-{i}",
                EscalationAcked(escalation_id=f"note-{i}", by="ana", note=text, at=raised + 1),
                raised + 1,
            )
        )
    return events


def floor_store(path: Path, samples: dict[str, str]) -> SQLiteStore:
    store = SQLiteStore(path)
    store.append(untrusted_floor(samples))
    return store


def make_app(store: SQLiteStore) -> SupervisorApp:
    settings = FloorSettings(floor_name="Floor", operator="ana", targets=targets(), rules=ENGINE)
    return SupervisorApp(store, settings, clock=FakeClock(NOW))


async def board_ready(app: SupervisorApp, pilot: Pilot[None], samples: dict[str, str]) -> None:
    """The whole floor on the board (RuntimeError if not: a board that never loaded is not
    mistaken for one that shows the text wrongly)."""
    feed, board = app.query_one(EscalationFeed), app.query_one(AgentBoard)
    try:
        await wait_for(
            pilot,
            lambda: (
                len(feed.order) == 3 * len(samples)
                and board.agent_count == 2 * len(samples)
                and len(app.board.tiles.queue_ids) == len(samples)
            ),
            "the untrusted floor on the board",
        )
    except AssertionError as exc:
        raise RuntimeError(str(exc)) from None
    await pilot.pause()
    app.board._tick()  # every clock-driven widget painted once more, then laid out
    await pilot.pause()


# -- reading what is on screen -------------------------------------------------------------


def line_lines(widget: EscalationFeed | AgentBoard) -> list[Strip]:
    """Every line of a Line-API widget, visible or not."""
    return [widget.render_line(y) for y in range(widget.virtual_size.height)]


def widget_lines(widget: Widget) -> list[Strip]:
    """What a widget draws, border and padding included."""
    width, height = widget.outer_size
    if not width or not height:
        return []
    return widget.render_lines(Region(0, 0, width, height))


def screen_lines(app: SupervisorApp) -> list[Strip]:
    return app.screen._compositor.render_strips()


def visible_prefix(line: str, value: str) -> str:
    """The longest start of ``value`` the line shows (lines crop with an ellipsis)."""
    for end in range(len(value), 0, -1):
        if value[:end] in line:
            return value[:end]
    return ""


def styles_over(strip: Strip, start: int, end: int) -> set[Style | None]:
    """The styles of the segments that hold characters start..end of the strip's text."""
    styles: set[Style | None] = set()
    at = 0
    for segment in strip:
        stop = at + len(segment.text)
        if stop > start and at < end and segment.text.strip():
            styles.add(segment.style)
        at = stop
    return styles


def as_kept(value: str) -> str:
    """The text as the floor keeps it: what is not printable (a control character, an escape,
    a direction override) is turned into a space when the event is made."""
    return "".join(ch if ch.isprintable() else " " for ch in value)


def assert_shown_literally(strip: Strip, value: str, min_chars: int, where: str) -> None:
    """The start of ``value`` is on the line as typed, in one style that links nowhere."""
    value = as_kept(value)
    text = strip.text
    shown = visible_prefix(text, value)
    assert len(shown) >= min(min_chars, len(value)), f"{where}: {value[:30]!r} not in {text!r}"
    start = text.index(shown)
    styles = styles_over(strip, start, start + len(shown))
    assert len(styles) == 1, f"{where}: {value[:30]!r} drawn in several styles: {styles}"
    style = next(iter(styles))
    assert style is None or style.link is None, f"{where}: {value[:30]!r} became a link"


def all_segments(strips: Iterable[Strip]) -> Iterator[Segment]:
    for strip in strips:
        yield from strip


def assert_fits(strips: list[Strip], width: int, where: str) -> None:
    for y, strip in enumerate(strips):
        assert strip.cell_length <= width, f"{where} line {y}: {strip.cell_length} > {width}"
        assert cell_len(strip.text) <= width, f"{where} line {y}: {strip.text!r}"


def assert_layout_holds(app: SupervisorApp) -> None:
    width, _ = app.size
    assert_fits(screen_lines(app), width, "screen")
    for lined in (app.query_one(EscalationFeed), app.query_one(AgentBoard)):
        assert_fits(line_lines(lined), lined.scrollable_content_region.width, type(lined).__name__)
    drawn: list[Widget] = [app.query_one(TopBar), app.query_one(FreshnessBar)]
    drawn += list(app.query(QueueTile))
    for widget in drawn:
        assert_fits(widget_lines(widget), widget.outer_size.width, f"{widget!r}")


# -- the board ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_board_shows_untrusted_text_literally(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    store = floor_store(tmp_path / "f.db", LITERAL)
    app = make_app(store)
    async with app.run_test(size=size) as pilot:
        await board_ready(app, pilot, LITERAL)
        feed, board = app.query_one(EscalationFeed), app.query_one(AgentBoard)
        width = feed.scrollable_content_region.width
        for i, (label, text) in enumerate(LITERAL.items()):
            # The queue's name at the start of its escalation's title ("△ WARN   2:00 ● NEW ").
            line = feed.render_line(feed.order.index(f"queue-{i}"))
            fits = cell_len(text) <= width - 21
            assert_shown_literally(line, text, len(text) if fits else 3, f"queue name {label}")
            if fits:
                assert f"{as_kept(text)}: service level" in line.text
            # The subject after its title, the note after "✔ ACKED ana #10i — “".
            if width >= 60:
                subject = feed.render_line(feed.order.index(f"subject-{i}"))
                assert_shown_literally(subject, text, 3, f"subject {label}")
                note = feed.render_line(feed.order.index(f"note-{i}"))
                assert "✔ ACKED ana" in note.text
                assert_shown_literally(note, text, 3, f"note {label}")
            # Agent names are cut to 12 cells on the board, their work after them.
            if board.line_width >= 46:
                lines = line_lines(board)
                kept = as_kept(text)
                holding = [s for s in lines if visible_prefix(s.text, kept)[:3] == kept[:3]]
                assert holding, f"agent {label}: not on the board"
                assert_shown_literally(holding[0], text, 3, f"agent name {label}")
        # The helpdesks' health reasons on the freshness bar (the first one at least).
        bar = widget_lines(app.query_one(FreshnessBar))
        first = next(iter(LITERAL.values()))
        assert any(visible_prefix(s.text, first) == first for s in bar), [s.text for s in bar]
        # Queue names are the tiles' titles.
        tiles = app.query(QueueTile)
        for tile in tiles:
            if tile.region.height and tile.queue_id == "q0":
                top = widget_lines(tile)[0]
                assert_shown_literally(top, LITERAL["markup"], 5, "tile title")
        if app.board.tiles.compact:  # no tiles: the compact table names every queue
            rows = widget_lines(app.board.queue_table)
            for label, text in LITERAL.items():
                kept = as_kept(text)
                holding = [s for s in rows if visible_prefix(s.text, kept)[:3] == kept[:3]]
                assert holding, f"queue {label}: not in the compact table"
                assert_shown_literally(holding[0], text, 3, f"queue table row {label}")
        assert not any(
            s.style is not None and s.style.link for s in all_segments(screen_lines(app))
        )
        assert_layout_holds(app)
        app.export_screenshot()
    assert app.return_code in (None, 0)
    store.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_control_characters_neither_crash_the_board_nor_break_its_layout(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    store = floor_store(tmp_path / "f.db", CONTROL)
    app = make_app(store)
    async with app.run_test(size=size) as pilot:
        await board_ready(app, pilot, CONTROL)
        feed = app.query_one(EscalationFeed)
        # Whatever becomes of the control characters, the words around them stay readable.
        shown = feed.render_line(feed.order.index("queue-0")).text
        assert "[31mre" in shown  # the escape's ESC became a space; a narrow feed cuts "red"
        assert_layout_holds(app)
        app.export_screenshot()
    assert app.return_code in (None, 0)
    store.close()


async def test_at_80x24_the_feed_and_the_freshness_bar_stay_on_screen(tmp_path: Path) -> None:
    store = floor_store(tmp_path / "f.db", LITERAL)  # five queues
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await board_ready(app, pilot, LITERAL)
        screen = Region(0, 0, 80, 24)
        shown = {
            name: screen.contains_region(widget.region) and widget.region.height > 0
            for name, widget in (
                ("freshness", app.query_one(FreshnessBar)),
                ("feed", app.query_one(EscalationFeed)),
            )
        }
        feed_rows = app.query_one(EscalationFeed).scrollable_content_region.height
    store.close()
    assert shown == {"freshness": True, "feed": True}
    assert feed_rows >= 1


async def test_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    store = floor_store(tmp_path / "f.db", CONTROL)
    app = make_app(store)
    async with app.run_test(size=(160, 44)) as pilot:
        await board_ready(app, pilot, CONTROL)
        strips = screen_lines(app)
        strips += line_lines(app.query_one(EscalationFeed)) + line_lines(app.query_one(AgentBoard))
        for tile in app.query(QueueTile):
            strips += widget_lines(tile)
        leaked = sorted({repr(s.text) for s in all_segments(strips) if RAW_CONTROL.search(s.text)})
        svg = app.export_screenshot()
    store.close()
    assert leaked == []
    assert not CONTROL_CHAR.search(svg)


async def test_prompts_show_an_untrusted_title_and_queue_names_literally(tmp_path: Path) -> None:
    store = floor_store(tmp_path / "f.db", LITERAL)
    app = make_app(store)
    async with app.run_test(size=(160, 44)) as pilot:
        await board_ready(app, pilot, LITERAL)
        feed = app.query_one(EscalationFeed)
        feed.select("queue-0")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), "the ack prompt")
        await pilot.pause()
        prompt = [s for s in screen_lines(app) if "service level 50%" in s.text]
        assert prompt, "the escalation's title in the prompt"
        assert any(LITERAL["markup"] + ": service level" in s.text for s in prompt)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TextPrompt), "prompt closed")
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), "the queue choice")
        await pilot.pause()
        texts = [s.text for s in screen_lines(app)]
        for label in ("markup", "link"):
            assert any(LITERAL[label] in t for t in texts), f"{label} queue name in the choice"
        assert_fits(screen_lines(app), 160, "screen with the choice")
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_code in (None, 0)
    store.close()


async def _open_palette(app: SupervisorApp, pilot: Pilot[None]) -> list[str]:
    await pilot.press("ctrl+p")
    for _ in range(20):
        await pilot.pause(0.05)
    await pilot.press(*"Filter")
    for _ in range(20):
        await pilot.pause(0.05)
    return [s.text for s in screen_lines(app)]


async def test_the_command_palette_lists_queue_names_as_text(tmp_path: Path) -> None:
    store = floor_store(tmp_path / "f.db", {"markup": LITERAL["markup"]})
    app = make_app(store)
    async with app.run_test(size=(160, 44)) as pilot:
        await board_ready(app, pilot, {"markup": LITERAL["markup"]})
        texts = await _open_palette(app, pilot)
    store.close()
    if not any("Filter: " in t and "tail" in t for t in texts):
        raise RuntimeError("the palette never listed the queue filter")
    assert any(f"Filter: {LITERAL['markup']}" in t for t in texts)


async def test_the_command_palette_survives_bracket_text_in_a_queue_name(
    tmp_path: Path,
) -> None:
    samples = {"link": LITERAL["link"]}
    store = floor_store(tmp_path / "f.db", samples)
    app = make_app(store)
    try:
        async with app.run_test(size=(160, 44)) as pilot:
            await board_ready(app, pilot, samples)
            texts = await _open_palette(app, pilot)
            assert any("Filter: all queues" in t for t in texts)
    finally:
        store.close()


# -- the reports -----------------------------------------------------------------------------

REPORT_NAMES = {
    "markup": "[bold red]x[/] tail",
    "link": "[link=http://evil]y[/link]",
    "html": "<b>bold</b> & <script>alert(1)</script>",
    "table": "A | B `c` *d* _e_",
    "rlo": "\u202eevil.exe",
    "wide": "漢字テスト😀👍",
    "long": LONG,
}


def report_over(tmp_path: Path, samples: dict[str, str]) -> Report:
    store = floor_store(tmp_path / "r.db", samples)
    events = store.read_from(0, 1_000_000)
    store.close()
    return compute([("r.db", events)], targets=targets(), now=NOW)


def summary_segments(report: Report) -> list[Segment]:
    console = Console(
        file=io.StringIO(), width=200, force_terminal=True, color_system="truecolor", record=True
    )
    return list(console.render(rich_summary(report)))


def test_reports_keep_untrusted_names_literal(tmp_path: Path) -> None:
    report = report_over(tmp_path, REPORT_NAMES)
    queue_names = {q.name for p in report.periods for q in p.queues}
    agent_names = {a.name for p in report.periods for a in p.agents}
    kept = {as_kept(n) for n in REPORT_NAMES.values()}
    assert kept <= queue_names
    assert kept <= agent_names

    md = render_markdown(report)
    for name in kept:
        assert md_escape(name) in md
    assert "\\[bold red\\]x\\[/\\] tail" in md
    assert not re.search(r"(?<!\\)[\[<]", md.split("## How figures")[0])
    # A name never splits a table cell: every row has its header's number of columns.
    columns = 0
    for line in md.splitlines():
        if not line.startswith("|"):
            columns = 0
            continue
        bars = len(re.findall(r"(?<!\\)\|", line))
        columns = columns or bars
        assert bars == columns, line[:80]

    doc = to_html(report)
    for name in kept:
        assert html.escape(name, quote=True) in doc
    assert "<script>alert(1)</script>" not in doc and "<b>bold</b>" not in doc

    parsed = json.loads(to_json(report))
    names = json.dumps(parsed, ensure_ascii=False)
    for name in kept:
        assert json.dumps(name, ensure_ascii=False) in names

    rows = list(csv.reader(io.StringIO(to_csv(report))))
    cells = {cell for row in rows for cell in row}
    assert kept <= cells

    segments = summary_segments(report)
    text = "".join(s.text for s in segments)
    for label in ("markup", "link", "html", "table"):
        assert as_kept(REPORT_NAMES[label]) in text, label
    assert not any(s.style is not None and s.style.link for s in segments)
    for segment in segments:
        if "[bold red]x[/]" in segment.text:
            assert segment.style is None or not (segment.style.color and segment.style.bold)


def test_reports_never_carry_raw_control_characters(tmp_path: Path) -> None:
    report = report_over(tmp_path, CONTROL)
    if {q.name for p in report.periods for q in p.queues} != {as_kept(v) for v in CONTROL.values()}:
        raise RuntimeError("the report lost the queues")
    if CONTROL_CHAR.search(to_json(report)):  # JSON escapes them: the baseline
        raise RuntimeError("JSON carries a raw control character")
    leaks = {
        "md": bool(CONTROL_CHAR.search(render_markdown(report))),
        "html": bool(CONTROL_CHAR.search(to_html(report))),
        # the console's own line ends apart
        "term": any(RAW_CONTROL.search(s.text.replace("\n", "")) for s in summary_segments(report)),
    }
    assert leaks == {"md": False, "html": False, "term": False}
