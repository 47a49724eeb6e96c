"""The wall's look and feel (issue #17, items 3 and 6): big digits that grow with the tile,
wall pages, the CRIT bell, themes that keep their contrast, service level against target
with an hour's sparkline, and agents by state then time in state."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.renderables.digits import DIGITS, DIGITS3X3

from supervisor_tui.app import FloorSettings, SupervisorApp
from supervisor_tui.config import ConfigError, ThemeName, parse_config
from supervisor_tui.core.kpis import TREND_POINTS, queue_kpis
from supervisor_tui.core.projection import TREND_MINUTES, AgentView, FloorState, QueueView
from supervisor_tui.core.replay import SPEEDS, Recording, ReplayPlayer
from supervisor_tui.core.targets import FloorTargets, QueueTargets
from supervisor_tui.model import (
    AgentState,
    Channel,
    ContactAbandoned,
    ContactAnswered,
    ContactOffered,
    EscalationRaised,
    EscalationResolved,
    NewEvent,
    Payload,
    QueueUpserted,
    Severity,
    TicketStatus,
    TicketUpserted,
)
from supervisor_tui.store import SQLiteStore
from supervisor_tui.themes import THEMES, background, contrast, level_colour
from supervisor_tui.widgets import AgentBoard, QueueTile
from supervisor_tui.widgets.tiles import FONT5, SPARKS, spark_levels

from .conftest import EPOCH, FakeClock, record_floor, rules, targets
from .helpers import Feed

NOW = EPOCH + 3.5 * 3600


def settings(**extra: Any) -> FloorSettings:
    return FloorSettings(
        floor_name="Look floor", operator="ana", targets=targets(), rules=rules(), **extra
    )


def event(payload: Payload, at: float, key: str = "") -> NewEvent:
    return NewEvent(
        source="sim",
        key=key or f"{payload.KIND}:{random.random()}",
        occurred_at=at,
        received_at=at,
        payload=payload,
    )


async def caught_up(pilot: Pilot[None], app: SupervisorApp) -> None:
    store = app.store
    assert isinstance(store, SQLiteStore)
    for _ in range(400):
        if app.board.state.seq == store.last_seq() and app.board.state.queues:
            break
        await pilot.pause(0.05)
    assert app.board.state.seq == store.last_seq(), "the board did not catch up"
    await pilot.pause()
    app.board.tick()
    await pilot.pause()


# -- big digits grow with the tile ------------------------------------------------------------

GLYPHS = {
    tuple(DIGITS3X3[i * 3 + row].ljust(3) for row in range(3)): digit
    for i, digit in enumerate(DIGITS)
}
BLOCKS = {
    tuple(pixels.replace("#", "██").replace(" ", "  ") for pixels in glyph): digit
    for digit, glyph in FONT5.items()
}


def read_digits(rows: list[str]) -> str:
    """The number drawn in big digits at the start of these rows, as a reader sees it: 3
    rows of Textual's digits (3 cells each), or 5 rows of block digits (6 cells and a
    space)."""
    font, width, step = (GLYPHS, 3, 3) if len(rows) == 3 else (BLOCKS, 6, 7)
    value = ""
    at = 0
    while at + width <= len(rows[0]):
        glyph = tuple(row[at : at + width].ljust(width) for row in rows)
        digit = font.get(glyph)
        if digit is None or digit in " .":
            break
        value += digit
        at += step
    return value


def headline(kpis: Any) -> int:
    return int(kpis.waiting) if kpis.realtime else int(kpis.backlog)


@pytest.mark.parametrize(("size", "lines"), [((240, 70), 5), ((160, 50), 3), ((80, 24), 1)])
async def test_the_headline_grows_with_the_tile(
    tmp_path: Path, size: tuple[int, int], lines: int
) -> None:
    """Block digits on the tall tiles of a big wall, 3-row digits on a middling screen, a
    plain line on a small one; whichever, the figure read off the screen is the
    projection's."""
    store = record_floor(tmp_path / "f.db")
    clock = FakeClock(NOW)
    app = SupervisorApp(store, settings(), clock=clock)
    async with app.run_test(size=size) as pilot:
        await caught_up(pilot, app)
        if lines == 1:
            voice = next(q for q, v in app.board.state.queues.items() if v.channel is Channel.VOICE)
            app.board.set_queue_filter(voice)  # one queue: its tile fits a small screen, short
            await pilot.pause(0.2)
        tiles = [t for t in app.query(QueueTile) if t.display]
        assert tiles and not app.board.tiles.compact
        for tile in tiles:
            kpis = queue_kpis(app.board.state, app.board.state.queues[tile.queue_id], clock())
            assert tile.drawn_lines == lines, tile.queue_id
            if lines == 1:
                first = tile.render_line(0).text
                found = re.match(r"WAITING (\d+)\b", first)
                assert found and int(found[1]) == headline(kpis), first
                assert tile.region.height < QueueTile.BIG_HEIGHT
                assert read_digits([tile.render_line(y).text for y in range(3)]) == ""
            else:
                rows = [tile.render_line(y).text for y in range(lines)]
                assert read_digits(rows) == str(headline(kpis)), rows
    store.close()


@pytest.mark.parametrize(("width", "lines"), [(60, 5), (30, 3)])
async def test_a_number_too_wide_for_block_digits_steps_down_to_smaller_ones(
    width: int, lines: int
) -> None:
    kpis = replace(
        queue_kpis(FloorState(FloorTargets()), QueueView("mail", "Mail", Channel.EMAIL), EPOCH),
        backlog=1234,
    )

    class TallTile(App[None]):
        def compose(self) -> ComposeResult:
            tile = QueueTile("mail", "Mail", "email")
            tile.styles.width = width
            tile.styles.height = QueueTile.TALL_HEIGHT
            yield tile

    app = TallTile()
    async with app.run_test(size=(80, 20)) as pilot:
        tile = app.query_one(QueueTile)
        tile.show(kpis, None)
        await pilot.pause()
        assert tile.headline_lines == 5 and tile.drawn_lines == lines
        rows = [tile.render_line(y).text for y in range(lines)]
        assert read_digits(rows) == "1234"  # whole, and the caption still beside it
        assert all(len(row.rstrip()) <= tile.size.width for row in rows)
        assert "BACKLOG" in rows[0]


# -- wall pages --------------------------------------------------------------------------------


def many_queues(path: Path, count: int) -> SQLiteStore:
    store = SQLiteStore(path)
    store.append(
        [
            event(
                QueueUpserted(queue_id=f"q{i:02}", name=f"Queue {i:02}", channel=Channel.CHAT),
                EPOCH,
            )
            for i in range(count)
        ]
    )
    return store


def table_text(app: SupervisorApp) -> str:
    return str(app.board.queue_table.render())


async def test_a_wall_table_too_long_for_the_screen_turns_its_pages(tmp_path: Path) -> None:
    store = many_queues(tmp_path / "f.db", 20)
    clock = FakeClock(EPOCH + 60)
    app = SupervisorApp(store, settings(profile="wall", wall_page_s=30), clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await caught_up(pilot, app)
        table = app.board.queue_table
        assert app.board.tiles.compact and table.pages >= 2
        seen: set[str] = set()
        for page in range(table.pages):
            text = table_text(app)
            assert f"page {page + 1}/{table.pages}" in text
            assert len(text.splitlines()) <= table.region.height  # nothing cut off
            seen |= set(re.findall(r"Queue \d\d", text))
            clock.advance(15)  # half the interval: the page stays
            app.board.tick()
            await pilot.pause()
            assert f"page {page + 1}/{table.pages}" in table_text(app)
            clock.advance(15)
            app.board.tick()
            await pilot.pause()
        assert seen == {f"Queue {i:02}" for i in range(20)}  # every queue on some page
        assert f"page 1/{table.pages}" in table_text(app)  # and round again
        # a paused wall holds its page
        await pilot.press("p")
        for _ in range(3):
            clock.advance(30)
            app.board.tick()
            await pilot.pause()
        assert f"page 1/{table.pages}" in table_text(app)
    store.close()


@pytest.mark.parametrize(("profile", "queues"), [("wall", 6), ("desk", 20)])
async def test_no_pages_when_the_table_fits_or_off_the_wall(
    tmp_path: Path, profile: str, queues: int
) -> None:
    store = many_queues(tmp_path / "f.db", queues)
    clock = FakeClock(EPOCH + 60)
    app = SupervisorApp(store, settings(profile=profile, wall_page_s=30), clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await caught_up(pilot, app)
        before = table_text(app)
        clock.advance(90)
        app.board.tick()
        await pilot.pause()
        assert app.board.tiles.compact and app.board.queue_table.pages == 1
        assert "page" not in table_text(app)
        assert table_text(app).count("Queue") == before.count("Queue") == queues
    store.close()


# -- the bell ----------------------------------------------------------------------------------


def raised(escalation_id: str, severity: Severity, at: float) -> NewEvent:
    return event(
        EscalationRaised(
            escalation_id=escalation_id,
            rule_id="sl",
            subject=f"queue:{escalation_id}",
            queue_id="voice",
            severity=severity,
            title=f"{escalation_id} {severity.value}",
            raised_at=at,
        ),
        at,
    )


@pytest.fixture
def bells(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    rung: list[int] = []
    monkeypatch.setattr(SupervisorApp, "bell", lambda self: rung.append(1))
    return rung


async def wait_for_seq(pilot: Pilot[None], app: SupervisorApp, seq: int) -> None:
    for _ in range(200):
        if app.board.state.seq >= seq:
            break
        await pilot.pause(0.05)
    assert app.board.state.seq >= seq
    await pilot.pause()


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_bell_rings_once_for_each_new_crit(
    tmp_path: Path, bells: list[int], enabled: bool
) -> None:
    store = SQLiteStore(tmp_path / "f.db")
    clock = FakeClock(NOW)
    store.append([raised("old-crit", Severity.CRITICAL, NOW - 30)])  # up before the start
    app = SupervisorApp(store, settings(bell=enabled), clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_seq(pilot, app, store.last_seq())
        assert bells == []
        steps: list[tuple[list[NewEvent], int]] = [
            ([raised("new-crit", Severity.CRITICAL, NOW + 5)], 1),
            ([raised("new-crit", Severity.CRITICAL, NOW + 65)], 1),  # raised again: no bell
            ([raised("warn", Severity.WARNING, NOW + 70)], 1),  # a warning: no bell
            ([raised("old-crit", Severity.CRITICAL, NOW + 75)], 1),  # the old one again
            (
                [
                    event(
                        EscalationResolved(escalation_id="new-crit", reason="clear", at=NOW + 80),
                        NOW + 80,
                    ),
                    raised("new-crit", Severity.CRITICAL, NOW + 90),  # back: reopened, same one
                ],
                1,
            ),
            ([raised("warn", Severity.CRITICAL, NOW + 95)], 2),  # stepped up to CRIT: new CRIT
            ([raised("other", Severity.CRITICAL, NOW + 99)], 3),
        ]
        for events, expected in steps:
            store.append(events)
            await wait_for_seq(pilot, app, store.last_seq())
            assert len(bells) == (expected if enabled else 0), events[-1].payload
    store.close()


@pytest.mark.parametrize("asked", [False, True])
async def test_replay_rings_only_when_asked(tmp_path: Path, bells: list[int], asked: bool) -> None:
    store = SQLiteStore(tmp_path / "f.db")
    store.append(
        [event(QueueUpserted(queue_id="voice", name="Voice", channel=Channel.VOICE), EPOCH)]
        + [raised(f"crit-{i}", Severity.CRITICAL, EPOCH + 60 + i * 60) for i in range(3)]
    )
    recording = Recording(store, targets())
    player = ReplayPlayer(recording)
    app = SupervisorApp(
        store,
        settings(bell=True, bell_in_replay=asked),
        clock=player.clock,
        player=player,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        player.playing = True
        player.speed_index = len(SPEEDS) - 1
        for _ in range(200):
            if player.t >= recording.end:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        assert len(app.board.state.escalations) == 3
        assert len(bells) == (3 if asked else 0)
    store.close()


# -- themes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(THEMES))
def test_every_theme_keeps_its_level_colours_readable(name: str) -> None:
    """WCAG 2 contrast of OK, WARN, ALERT and CRIT text on the theme's backgrounds: 4.5:1."""
    board_theme = THEMES[name]
    for ground in ("background", "surface"):
        behind = background(board_theme, ground)
        for level in ("OK", "WARN", "ALERT", "CRIT"):
            ratio = contrast(level_colour(board_theme, level), behind)
            assert ratio >= 4.5, (name, ground, level, round(ratio, 2))


def test_the_config_names_every_theme_there_is() -> None:
    assert set(get_args(ThemeName)) == set(THEMES)


def test_the_contrast_formula_has_the_known_extremes() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast((118, 118, 118), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)
    assert contrast((255, 255, 0), (255, 255, 255)) < 1.1  # yellow on white: unreadable


@pytest.mark.parametrize("name", ["light", "high-contrast"])
async def test_the_theme_from_config_paints_the_levels(tmp_path: Path, name: str) -> None:
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(theme=name), clock=FakeClock(NOW))
    board_theme = THEMES[name]
    async with app.run_test(size=(160, 50)) as pilot:
        await caught_up(pilot, app)
        assert app.theme == board_theme.name
        svg = app.export_screenshot()
        for level in ("OK", "WARN", "ALERT"):
            hex_colour = "#{:02x}{:02x}{:02x}".format(*level_colour(board_theme, level))
            assert hex_colour in svg, (level, hex_colour)
        default_red = "#{:02x}{:02x}{:02x}".format(*level_colour(THEMES["dark"], "ALERT"))
        assert default_red not in svg
    store.close()


def test_config_refuses_an_unknown_theme_and_bad_look_values() -> None:
    for display, key in (
        ({"theme": "pink"}, "theme"),
        ({"wall_page_s": 0}, "wall_page_s"),
        ({"long_break_s": -5}, "long_break_s"),
        ({"bell": "loud"}, "bell"),
    ):
        with pytest.raises(ConfigError, match=rf"display\.{key}"):
            parse_config({"display": display}, "site.toml")
    config = parse_config(
        {"display": {"theme": "light", "bell": True, "wall_page_s": 8, "long_break_s": 600}},
        "site.toml",
    )
    assert config.display.look() == {
        "theme": "light",
        "bell": True,
        "bell_in_replay": False,
        "wall_page_s": 8,
        "long_break_s": 600,
    }


# -- service level against target and the hour's sparkline -----------------------------------


def an_hour_of_contacts(seed: int, start: float, minutes: int) -> list[NewEvent]:
    rng = random.Random(seed)
    events: list[NewEvent] = [
        event(QueueUpserted(queue_id="voice", name="Voice", channel=Channel.VOICE), start - 1)
    ]
    for n in range(minutes * 3):
        offered = start + rng.uniform(0, minutes * 60 - 1)
        wait = rng.choice([3.0, 12.0, 19.0, 25.0, 45.0, 90.0])
        contact = f"c{n}"
        events.append(
            event(
                ContactOffered(
                    contact_id=contact, queue_id="voice", channel=Channel.VOICE, offered_at=offered
                ),
                offered,
            )
        )
        done = offered + wait
        if rng.random() < 0.8:
            payload: Payload = ContactAnswered(
                contact_id=contact, queue_id="voice", agent_id="a1", answered_at=done, wait_s=wait
            )
        else:
            payload = ContactAbandoned(
                contact_id=contact, queue_id="voice", abandoned_at=done, wait_s=wait
            )
        events.append(event(payload, done))
    rng.shuffle(events[1:])  # sources do not deliver in time order
    return events


def expected_sl_trend(events: list[NewEvent], now: float, threshold_s: float) -> list[float | None]:
    """Independently: each of the last hour's 20 runs of 3 minutes, answered within T over
    answered plus abandoned after T, from the raw events."""
    end_minute = int(now // 60)
    first_minute = end_minute - 59
    within = [0] * 20
    counted = [0] * 20
    for e in events:
        p = e.payload
        if isinstance(p, ContactAnswered):
            at, ok, counts = p.answered_at, p.wait_s <= threshold_s, True
        elif isinstance(p, ContactAbandoned):
            at, ok, counts = p.abandoned_at, False, p.wait_s > threshold_s
        else:
            continue
        slot = (int(at // 60) - first_minute) // 3
        if 0 <= slot < 20 and counts:
            counted[slot] += 1
            within[slot] += ok
    return [w / c if c else None for w, c in zip(within, counted, strict=True)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_sparkline_is_the_hours_service_level(seed: int) -> None:
    floor_targets = FloorTargets(default=QueueTargets(sl_threshold_s=20, sl_target=0.8))
    start = EPOCH + 3600
    events = an_hour_of_contacts(seed, start, 90)
    state = FloorState(floor_targets)
    feed = Feed(state)
    for e in events:
        feed(e.payload, e.occurred_at)
    now = max(e.occurred_at for e in events) + 1  # the board's clock is past every event
    kpis = queue_kpis(state, state.queues["voice"], now)
    want = expected_sl_trend(events, now, 20)
    assert len(kpis.trend) == TREND_POINTS
    assert kpis.trend == pytest.approx(want)
    assert sum(v is not None for v in want) >= 15
    assert kpis.sl_target == 0.8
    assert len(state.queues["voice"].trend) <= TREND_MINUTES  # bounded, whatever the shift


def test_a_ticket_queue_trends_its_backlog() -> None:
    state = FloorState(FloorTargets())
    start = EPOCH
    apply = Feed(state)

    apply(QueueUpserted(queue_id="mail", name="Mail", channel=Channel.EMAIL), start)
    open_at: dict[int, float] = {}
    backlog_by_minute: dict[int, int] = {}
    open_now: set[str] = set()
    for minute in range(0, 60, 4):
        at = start + minute * 60 + 10
        ticket = f"t{minute}"
        apply(
            TicketUpserted(
                ticket_id=ticket,
                status=TicketStatus.OPEN,
                channel=Channel.EMAIL,
                queue_id="mail",
                created_at=at,
                updated_at=at,
            ),
            at,
        )
        open_now.add(ticket)
        if minute % 12 == 8:  # now and then one is solved
            gone = sorted(open_now)[0]
            apply(
                TicketUpserted(
                    ticket_id=gone,
                    status=TicketStatus.SOLVED,
                    channel=Channel.EMAIL,
                    queue_id="mail",
                    created_at=at,
                    updated_at=at + 1,
                ),
                at + 1,
            )
            open_now.discard(gone)
        open_at[minute] = at
        backlog_by_minute[minute] = len(open_now)
    now = start + 60 * 60 - 1
    kpis = queue_kpis(state, state.queues["mail"], now)
    first_minute = int(now // 60) - 59
    want: list[float | None] = []
    for slot in range(20):
        last = first_minute + slot * 3 + 2
        known = [n for m, n in backlog_by_minute.items() if int(open_at[m] // 60) <= last]
        want.append(float(known[-1]) if known else None)
    assert list(kpis.trend) == want
    assert kpis.trend[-1] == kpis.backlog


async def test_a_tile_shows_sl_against_target_and_draws_its_trend(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db")
    clock = FakeClock(NOW)
    app = SupervisorApp(store, settings(), clock=clock)
    async with app.run_test(size=(240, 70)) as pilot:
        await caught_up(pilot, app)
        voice = next(q for q, v in app.board.state.queues.items() if v.channel is Channel.VOICE)
        tile = app.board.tiles.tile(voice)
        assert tile is not None
        kpis = queue_kpis(app.board.state, app.board.state.queues[voice], clock())
        lines = [tile.render_line(y).text.rstrip() for y in range(tile.size.height)]
        sl_line = next(line for line in lines if line.startswith("SL "))
        assert re.match(rf"SL {round(kpis.service_level * 100)}% / 80%", sl_line), sl_line
        spark = next(line for line in lines if line.startswith("SL 1h "))
        drawn = spark.removeprefix("SL 1h ")
        levels = spark_levels(kpis.trend, top=1.0)
        assert drawn == "".join("·" if lv is None else SPARKS[lv] for lv in levels)
        assert any(lv is not None for lv in levels)
    store.close()


# -- agents by state, then time in state -----------------------------------------------------


def agent(agent_id: str, state: AgentState, since: float, name: str = "") -> AgentView:
    return AgentView(agent_id, name or agent_id.title(), ("q",), state, since=since)


class Board(App[None]):
    def __init__(self, long_break_s: float) -> None:
        super().__init__()
        self.long_break_s = long_break_s

    def compose(self) -> ComposeResult:
        yield AgentBoard(id="agents", long_break_s=self.long_break_s)


async def test_agents_are_sorted_by_state_then_longest_in_it_with_long_breaks_in_red() -> None:
    now = EPOCH + 7200
    agents = {
        a.agent_id: a
        for a in [
            agent("zoe", AgentState.AVAILABLE, now - 30),
            agent("bob", AgentState.AWAY, now - 700),
            agent("amy", AgentState.BUSY, now - 400),
            agent("cat", AgentState.AWAY, now - 100),
            agent("dan", AgentState.AVAILABLE, now - 300),
            agent("eve", AgentState.OFFLINE, now - 5000),
            agent("fay", AgentState.AWAY, now - 2000),
            agent("gus", AgentState.UNKNOWN, 0.0),
        ]
    }
    app = Board(long_break_s=600)
    async with app.run_test(size=(46, 20)) as pilot:  # one agent a line
        board = app.query_one(AgentBoard)
        board.set_agents(agents, now)
        await pilot.pause()
        names = [board.render_line(y).text.split()[-2] for y in range(len(agents))]
        assert names == ["Dan", "Zoe", "Amy", "Fay", "Bob", "Cat", "Eve", "Gus"]

        def time_style(y: int) -> Style:
            return list(board.render_line(y))[1].style or Style()

        red = Style.parse("red").color
        assert time_style(3).color == red and time_style(4).color == red  # 33:20 and 11:40
        assert time_style(5).color != red  # 1:40 away
        assert time_style(0).color != red
        # a state change moves the agent; the clock alone never does
        agents["zoe"].state, agents["zoe"].since = AgentState.AWAY, now
        board.agents_changed({"zoe"})
        board.tick(now + 60)
        await pilot.pause()
        names = [board.render_line(y).text.split()[-2] for y in range(len(agents))]
        assert names == ["Dan", "Amy", "Fay", "Bob", "Cat", "Zoe", "Eve", "Gus"]
