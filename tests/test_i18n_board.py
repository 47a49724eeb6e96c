"""The live board in Vietnamese, Chinese, Japanese and Ukrainian (issue #21): the real app
under Pilot on a floor recorded in the language (its agents, queues and tickets named as in
that country), at a wall's size and at 80×24. Its words are the language's, no English board
word is left in the queues, every agent's name is shown whole, and no line is wider than the
screen even where every character takes two cells."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from supervisor_tui import i18n
from supervisor_tui.adapters.simulator import SimOptions, schedule_events
from supervisor_tui.app import SupervisorApp
from supervisor_tui.core import fmt
from supervisor_tui.widgets import AgentBoard, QueueTile, QueueTiles, TopBar
from supervisor_tui.widgets.agents import STATE_LOOK
from supervisor_tui.widgets.escalations import EscalationFeed
from supervisor_tui.widgets.queuetable import QueueTable
from supervisor_tui.widgets.topbar import STATUS_LOOK

from .conftest import EPOCH, FakeClock, record_floor
from .test_snapshots import NOW, board_app, ticked

LANGUAGES = ["vi", "zh", "ja", "uk"]
SIZES = [(160, 50), (80, 24)]
ENGLISH_QUEUE_WORDS = re.compile(
    r"\b(WAITING|longest|BACKLOG|open tickets|Abandon|Aband|Offered|answered|Need|have|"
    r"short|OK|WARN|ALERT|agents|risk|breached|breach|waiting|abandon|need|backlog|wait)\b"
)
"""The English words of a tile or a queue table row (figures' acronyms SL, ASA, AHT, CSAT,
FCR and SLA are the same in every language, per docs/glossary.md)."""
ENGLISH_STATUS = {word for _, word, _ in STATUS_LOOK.values()}


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    assert i18n.use(request.param) == request.param
    yield request.param
    i18n.use("en")


@pytest.fixture(scope="module")
def floors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One recorded morning per language, recorded when first asked for."""
    return {}


def floor_in(floors: dict[str, Path], language: str, factory: pytest.TempPathFactory) -> Path:
    if language not in floors:
        path = factory.mktemp(f"floor-{language}") / "f.db"
        store = record_floor(path, language=language)
        # today's schedule too: the board then shows each agent's planned activity
        store.append(schedule_events(SimOptions(language=language), EPOCH, at=EPOCH))
        store.close()
        floors[language] = path
    return floors[language]


def screen_lines(app: SupervisorApp) -> list[Any]:
    """The screen as the terminal gets it: one strip per line."""
    return list(app.screen._compositor.render_strips())


def cells(line: str) -> list[str]:
    """A line cell by cell: a wide character, then "" for its second cell."""
    found: list[str] = []
    for char in line:
        found.append(char)
        found.extend([""] * (cell_len(char) - 1))
    return found


def region_text(app: SupervisorApp, widget: Any) -> str:
    """What a widget shows, cut out of the screen by cells (a wide character is two)."""
    region = widget.region
    lines = screen_lines(app)[region.y : region.bottom]
    return "\n".join(line.crop(region.x, region.right).text for line in lines)


def cut_name(name: str, line: str) -> str:
    """The part of ``name`` shown before a "…" in ``line`` ("" if not so shown)."""
    for end in range(len(name) - 1, 0, -1):
        if f"{name[:end]}…" in line:
            return name[:end]
    return ""


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_the_board_speaks_the_language_and_fits(
    floors: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    language: str,
    size: tuple[int, int],
) -> None:
    floor_file = floor_in(floors, language, tmp_path_factory)
    app = board_app(floor_file, tmp_path, FakeClock(NOW))
    async with app.run_test(size=size) as pilot:
        await ticked(pilot)
        width = size[0]
        lines = screen_lines(app)
        assert len(lines) == size[1]
        for line in lines:
            # what the terminal is sent: never wider than the screen
            assert cell_len(line.text) <= width, line.text
        top = region_text(app, app.query_one(TopBar))
        status_words = {i18n._(word) for word in ENGLISH_STATUS}
        assert any(word in top for word in status_words), top
        assert not any(re.search(rf"\b{word}\b", top) for word in ENGLISH_STATUS), top
        bar = app.query_one(TopBar).render()
        assert cell_len(str(bar)) <= width - 2, str(bar)  # the bar's padding is 1 each side
        # the feed's counts: the need-ack count whole, in the words that fit the pane
        feed = app.query_one(EscalationFeed)
        need = sum(1 for e in feed._escalations.values() if e.needs_attention(feed._now))
        counts = region_text(app, feed.counts).strip()
        assert need and "…" not in counts, counts
        assert re.search(rf"(?<![\d,.]){re.escape(fmt.count(need))}(?![\d,.])", counts), counts
        compact = app.query_one(QueueTiles).compact
        tiles = [] if compact else list(app.query(QueueTile))
        shown = [*tiles, *(app.query(QueueTable) if compact else [])]
        queues = "\n".join(region_text(app, w) for w in shown)
        assert queues.strip(), "neither tiles nor the queue table are on screen"
        left = ENGLISH_QUEUE_WORDS.findall(queues)
        assert not left, (left, queues.splitlines())
        # every agent's state starts a column: a wide word or a long time never pushes the
        # agent beside it off its place
        glyphs = {glyph for glyph, _, _ in STATE_LOOK.values()}
        columns = {
            tuple(i for i, cell in enumerate(cells(line)) if cell in glyphs)
            for line in region_text(app, app.query_one(AgentBoard)).splitlines()[1:-1]
        }
        columns.discard(())
        assert len({c[0] for c in columns}) <= 1 and len(max(columns, key=len, default=())) >= 1
        widest = max(columns, key=len)
        assert all(widest[: len(c)] == c for c in columns), columns
        # and each agent in a cell of its own: one never pushes the next one's end off
        board = app.query_one(AgentBoard)
        cell = board.line_width // board.columns
        assert widest == tuple(1 + k * cell for k in range(len(widest))), (widest, cell)
        # every agent's name (a Vietnamese or Ukrainian full name is up to 15 cells) and
        # the contacts handled today at the end of its cell
        shown = region_text(app, board).splitlines()[1:-1]
        top_line = int(board.scroll_offset.y)
        for y, line in enumerate(shown):
            start = (top_line + y) * board.columns
            for agent_id in board._order[start : start + board.columns]:
                agent = board._agents[agent_id]
                if width >= 160:  # a wall's cell has room for it whole beside the plan
                    assert agent.name in line, (agent.name, line)
                # else whole, or cut where it says so (beside the plan at 80×24)
                head = agent.name if agent.name in line else cut_name(agent.name, line)
                assert head, (agent.name, line)
                assert re.search(rf"\b{agent.handled_today} ", line), (agent.handled_today, line)
        if width >= 160:
            widest_name = max(cell_len(a.name) for a in board._agents.values())
            assert board._names_in(cell)[0] == max(12, widest_name), widest_name
        if tiles:
            assert i18n._("WAITING") in queues or i18n._("BACKLOG") in queues, queues
            for tile in tiles:
                for line in tile.render_lines(tile.region.reset_offset):
                    assert line.cell_length <= tile.region.width
        else:
            level_words = {i18n._(w) for w in ("OK", "WARN", "ALERT")}
            assert any(word in queues for word in level_words), queues
            assert i18n._("waiting") in queues or i18n._("backlog") in queues, queues


def as_reviewed(snap_compare: Any, floor_file: Path, tmp_path: Path, lang: str, size: Any) -> bool:
    """Whether the board in ``lang`` at ``size`` is the screen reviewed once and held still."""
    assert i18n.use(lang) == lang
    try:
        app = board_app(floor_file, tmp_path, FakeClock(NOW))
        return bool(snap_compare(app, terminal_size=size, run_before=ticked))
    finally:
        i18n.use("en")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_live_floor_in_each_language(
    snap_compare: Any,
    floors: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    lang: str,
) -> None:
    """The wall at 160×50 in the language, on a floor of its own names."""
    floor_file = floor_in(floors, lang, tmp_path_factory)
    assert as_reviewed(snap_compare, floor_file, tmp_path, lang, (160, 50))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_desk_in_each_language_at_80x24(
    snap_compare: Any,
    floors: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    lang: str,
) -> None:
    """A laptop's terminal in the language: the queue table, the agents board with the
    country's names and the feed, at 80×24."""
    floor_file = floor_in(floors, lang, tmp_path_factory)
    assert as_reviewed(snap_compare, floor_file, tmp_path, lang, (80, 24))
