"""The wall tells the truth at a glance (issue #17): the top bar's one word is the worst of
hub link, sources, store and pause; stale figures dim and say how old they are; a source
that never connected says so; a replay never says "live"; a ticket queue's tile agrees with
the feed about its SLAs."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from rich.console import Console
from textual.pilot import Pilot

from supervisor_tui.app import FloorSettings, SupervisorApp
from supervisor_tui.core.kpis import queue_kpis
from supervisor_tui.core.replay import Recording, ReplayPlayer
from supervisor_tui.hub.client import HubClient, RemoteDesk
from supervisor_tui.hub.protocol import TokenEntry, hash_token
from supervisor_tui.hub.server import Hub
from supervisor_tui.model import EscalationRaised, HealthState, NewEvent, Severity, SourceHealth
from supervisor_tui.screens.detail import EscalationDetail
from supervisor_tui.store import SQLiteStore
from supervisor_tui.widgets import FreshnessBar, QueueTile, TopBar

from .conftest import EPOCH, FakeClock, record_floor, rules, targets

NOW = EPOCH + 3.5 * 3600


def settings(**extra: object) -> FloorSettings:
    return FloorSettings(
        floor_name="Wall floor",
        operator="ana",
        targets=targets(),
        rules=rules(),
        **extra,  # type: ignore[arg-type]
    )


async def settled(pilot: Pilot[None], app: SupervisorApp, tiles: int = 5) -> None:
    store = app.store
    assert isinstance(store, SQLiteStore)
    for _ in range(400):
        if len(app.board.tiles.queue_ids) >= tiles and app.board.state.seq == store.last_seq():
            break
        await pilot.pause(0.05)
    assert app.board.state.seq == store.last_seq(), "the board did not catch up"
    await pilot.pause()


def bar(app: SupervisorApp, widget: type[TopBar] | type[FreshnessBar]) -> str:
    return str(app.query_one(widget).render())


def health(source: str, state: HealthState, reason: str, at: float) -> NewEvent:
    return NewEvent(
        source=source,
        key=f"health:{source}:{at}",
        occurred_at=at,
        received_at=at,
        payload=SourceHealth(state=state, reason=reason, at=at),
    )


async def test_a_quiet_source_turns_the_top_bar_stale_and_dims_its_tiles(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(stale_after_s=60), clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot, app)
        app.board._tick()
        await pilot.pause()
        assert "● LIVE" in bar(app, TopBar)
        assert not [t for t in app.query(QueueTile) if t.stale]
        clock.advance(125)  # nothing new from the simulator for two minutes
        app.board._tick()
        await pilot.pause()
        top = bar(app, TopBar)
        assert "LIVE" not in top
        assert "◐ STALE" in top and "simulator" in top
        assert "◐ simulator STALE" in bar(app, FreshnessBar)
        tiles = list(app.query(QueueTile))
        assert tiles and all(t.has_class("-stale") for t in tiles)
        assert all((t.stale or "").startswith("STALE 2:0") for t in tiles)
        assert "◐ STALE 2:0" in str(tiles[0].border_subtitle)
    store.close()


async def test_a_paused_board_never_shows_a_green_source(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(stale_after_s=90), clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot, app)
        await pilot.press("p")
        clock.advance(75)  # as in the issue: 1:15 old, still under the stale limit
        app.board._tick()
        await pilot.pause()
        fresh = bar(app, FreshnessBar)
        assert "live" not in fresh and "●" not in fresh
        assert "⏸ simulator held" in fresh
        top = bar(app, TopBar)
        assert "⏸ PAUSED" in top and "LIVE" not in top
    store.close()


async def test_a_source_that_never_connected_says_so(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    store = SQLiteStore(tmp_path / "f.db")
    store.append(
        [health("zendesk", HealthState.DOWN, "401 Unauthorized — check the credentials", NOW - 17)]
    )
    app = SupervisorApp(store, settings(), clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(200):
            if app.board.state.seq == store.last_seq():
                break
            await pilot.pause(0.05)
        app.board._tick()
        await pilot.pause()
        fresh = bar(app, FreshnessBar)
        assert "✖ zendesk NEVER CONNECTED · 401 Unauthorized" in fresh
        assert "newest" not in fresh and "0:17" not in fresh
        assert "◐ STALE  zendesk ·" in bar(app, TopBar)
    store.close()


async def test_replay_says_replay_and_recorded_never_live(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    record_floor(path).close()
    recording = Recording(SQLiteStore(path, read_only=True), targets())
    player = ReplayPlayer(recording)
    app = SupervisorApp(recording.store, settings(), clock=player.clock, player=player)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.3)
        app.board._paint_chrome(app.clock())
        await pilot.pause()
        fresh = bar(app, FreshnessBar)
        assert "live" not in fresh and "⏵ simulator recorded" in fresh
        top = bar(app, TopBar)
        assert "⏵ REPLAY" in top and "LIVE" not in top
    recording.store.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_terminal_whose_hub_is_down_says_hub_down(tmp_path: Path) -> None:
    client = HubClient(f"ws://127.0.0.1:{closed_port()}", "token", targets())
    app = SupervisorApp(client, settings(), clock=FakeClock(NOW), desk=RemoteDesk(client))
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(200):
            if client.state == "reconnecting":
                break
            await pilot.pause(0.05)
        app.board._tick()
        await pilot.pause()
        top = bar(app, TopBar)
        assert "✖ HUB DOWN" in top and "LIVE" not in top
        client.close()


async def test_an_email_tile_with_breached_slas_agrees_with_the_feed(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=FakeClock(NOW + 3 * 86_400))
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot, app)
        app.board._tick()
        await pilot.pause()
        ticket_tiles = []
        for tile in app.query(QueueTile):
            kpis = queue_kpis(app.board.state, app.board.state.queues[tile.queue_id], app.clock())
            if kpis.realtime:
                continue
            ticket_tiles.append(tile)
            if kpis.sla_breached:
                assert tile.has_class("-critical") and "▲ ALERT" in str(tile.border_subtitle)
            elif kpis.sla_at_risk:
                assert tile.has_class("-warning")
        assert ticket_tiles and any(t.has_class("-critical") for t in ticket_tiles)
    store.close()


async def test_the_filter_label_shows_the_queue_name(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=FakeClock(NOW))
    async with app.run_test(size=(200, 50)) as pilot:
        await settled(pilot, app)
        app.board.set_queue_filter("voice-support")
        await pilot.pause()
        top = bar(app, TopBar)
        assert "Voice · Support" in top and "voice-support" not in top
    store.close()


async def test_the_feed_shows_a_waits_value_now_not_at_raise(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=clock)
    async with app.run_test(size=(200, 50)) as pilot:
        await settled(pilot, app)
        waits = [
            e
            for e in app.board.state.escalations.values()
            if e.is_open and e.rule_id == "longest-wait"
        ]
        assert waits, "the recorded floor has a long wait open"
        esc = waits[0]
        raised_title = esc.title
        clock.advance(44)
        app.board._tick_feed()
        await pilot.pause()
        line = app.board.feed.render_line(app.board.feed.order.index(esc.escalation_id)).text
        now_title = app.settings.rules.live_titles(app.board.state, clock.now)(esc)
        assert now_title != raised_title and now_title in line
        assert raised_title not in line
        assert esc.title == raised_title  # the value at raise is kept
    store.close()


# -- fit any screen ----------------------------------------------------------------------------


async def test_at_80x24_every_queue_is_in_the_compact_table_worst_first(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=FakeClock(NOW + 3 * 86_400))
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot, app)
        app.board._tick()
        await pilot.pause()
        table = app.board.queue_table
        assert app.board.tiles.compact and table.display and table.region.height >= 5
        shown = [row.kpis.queue_id for row in table.rows]
        assert sorted(shown) == sorted(app.board.state.queues)  # no queue behind a scrollbar
        ranks = [row.severity.rank if row.severity else 0 for row in table.rows]
        assert ranks == sorted(ranks, reverse=True) and ranks[0] == 2
        lines = str(table.render()).splitlines()
        assert len(lines) == len(shown) and lines[0].startswith("▲ ALERT")
        assert all(len(line) <= table.size.width for line in lines)
        # back to tiles when the screen has room
        await pilot.resize_terminal(240, 70)
        await pilot.pause(0.3)
        assert not app.board.tiles.compact and not table.display
    store.close()


async def test_tiles_are_ordered_by_severity_alert_first(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=FakeClock(NOW + 3 * 86_400))
    async with app.run_test(size=(240, 70)) as pilot:
        await settled(pilot, app)
        app.board._tick()
        await pilot.pause()
        tiles = list(app.board.tiles.query(QueueTile))
        levels = [
            2 if t.has_class("-critical") else 1 if t.has_class("-warning") else 0 for t in tiles
        ]
        assert levels == sorted(levels, reverse=True) and levels[0] == 2
        # the e-mail desks arrived after the voice queues: they moved up, in arrival order
        critical = [t.queue_id for t in tiles if t.has_class("-critical")]
        assert critical == [q for q in app.board.state.queues if q in critical]
        assert tiles[0].queue_id != next(iter(app.board.state.queues))
    store.close()


async def test_a_narrow_feed_keeps_severity_age_and_ticket_id(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=FakeClock(NOW))
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot, app)
        feed = app.board.feed
        tickets = [i for i in feed.order if app.board.state.escalations[i].ticket_id]
        assert tickets
        for esc_id in tickets[:3]:
            esc = app.board.state.escalations[esc_id]
            line = feed.render_line(feed.order.index(esc_id)).text
            assert line.startswith("△ 0:00 ● ") or line.startswith("▲ 0:00 ● ")
            assert f"#{esc.ticket_id} " in line
    store.close()


async def test_help_fits_an_80_column_screen(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db", until_s=600)
    app = SupervisorApp(store, settings(), clock=FakeClock(EPOCH + 600))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        box = app.screen.query_one("VerticalScroll")
        assert box.region.right <= 80 and box.region.x >= 0
    store.close()


async def test_the_top_bar_at_80_columns_keeps_every_count(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=FakeClock(NOW))
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot, app)
        app.board._tick()
        await pilot.pause()
        top = bar(app, TopBar)
        assert len(top) <= 78 and "…" not in top
        summary = app.board.agents.summary()
        for count in summary.values():
            if count:
                assert f"{count}" in top
        assert "● LIVE" in top and "▲ 8" in top
        for glyph in "●◉◎◌○":
            assert glyph in top
    store.close()


# -- wall and kiosk, the feed's cursor ------------------------------------------------------


async def hub_terminal(tmp_path: Path, scope: str) -> tuple[Hub, HubClient, SupervisorApp]:
    """A real hub on loopback over a recorded floor, and a terminal on a token of ``scope``."""
    store = record_floor(tmp_path / "floor.db", until_s=2 * 3600)
    token = f"{scope}-token-for-tests"
    hub = Hub(
        store,
        [TokenEntry("Wall", scope, hash_token(token))],
        targets(),
        lambda: EPOCH + 7200,
        port=0,
    )
    await hub.start()
    client = HubClient(f"ws://127.0.0.1:{hub.port}", token, targets())
    app = SupervisorApp(client, settings(), clock=FakeClock(EPOCH + 7200), desk=RemoteDesk(client))
    return hub, client, app


async def test_a_view_token_hides_the_action_keys_and_says_view_only(tmp_path: Path) -> None:
    hub, client, app = await hub_terminal(tmp_path, "view")
    store = hub.store
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            for _ in range(400):
                if client.scope and app.board.feed.selected is not None:
                    break
                await pilot.pause(0.05)
            assert client.scope == "view" and app.board.feed.selected is not None
            app.board._tick()
            await pilot.pause()
            assert "view only" in bar(app, TopBar)
            # False hides a key from the footer (None would grey it out)
            for action in ("ack", "note", "snooze", "resolve"):
                assert app.board.check_action(action, ()) is False, action
            await pilot.press("a")
            await pilot.pause(0.2)
            assert len(app.screen_stack) == 1  # no note dialog to type into and be refused
            client.close()
    finally:
        await hub.stop()
        store.close()


async def test_on_the_wall_a_pause_resumes_by_itself(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db", until_s=600)
    wall = settings(profile="wall", wall_pause_resume_s=0.6)
    app = SupervisorApp(store, wall, clock=FakeClock(EPOCH + 600))
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot, app, tiles=1)
        await pilot.press("p")
        await pilot.pause()
        # a countdown of under a second (0:00 or 0:01 as the clock rounds it)
        assert app.board.paused and re.search(r"resumes in 0:0[01]", bar(app, TopBar))
        for _ in range(100):
            if not app.board.paused:
                break
            await pilot.pause(0.05)
        assert not app.board.paused and "PAUSED" not in bar(app, TopBar)
    store.close()


async def test_a_desk_pause_waits_for_the_supervisor(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db", until_s=600)
    app = SupervisorApp(store, settings(wall_pause_resume_s=0.2), clock=FakeClock(EPOCH + 600))
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot, app, tiles=1)
        await pilot.press("p")
        await pilot.pause(0.6)
        assert app.board.paused and "resumes" not in bar(app, TopBar)
    store.close()


async def test_a_dialog_left_alone_closes_by_itself(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db", until_s=600)
    app = SupervisorApp(store, settings(dialog_idle_s=0.8), clock=FakeClock(EPOCH + 600))
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot, app, tiles=1)
        await pilot.press("slash")
        await pilot.pause(0.1)
        assert len(app.screen_stack) == 2
        for _ in range(100):
            if len(app.screen_stack) == 1:
                break
            await pilot.pause(0.05)
        assert len(app.screen_stack) == 1
        assert app.board.queue_filter is None  # closed as if cancelled
    store.close()


async def test_the_feed_stays_at_the_top_as_escalations_arrive(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot, app)
        feed = app.board.feed
        assert feed.selected is not None and feed.order[0] == feed.selected.escalation_id
        store.append([raise_event("late", NOW + 5)])
        for _ in range(200):
            if "late" in feed.order:
                break
            await pilot.pause(0.05)
        assert feed.order[0] == "late"
        assert feed.selected is not None and feed.selected.escalation_id == "late"
    store.close()


async def test_after_an_ack_the_cursor_moves_to_the_next_open_item(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot, app)
        feed = app.board.feed
        first, second = feed.order[0], feed.order[1]
        assert feed.selected is not None and feed.selected.escalation_id == first
        await pilot.press("a")
        await pilot.pause(0.1)
        await pilot.press("enter")  # no note
        for _ in range(200):
            if app.board.state.escalations[first].acked_by:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.1)
        assert app.board.state.escalations[first].acked_by == "ana"
        assert feed.selected is not None and feed.selected.escalation_id == second
    store.close()


def raise_event(esc_id: str, at: float) -> NewEvent:
    return NewEvent(
        source="rules",
        key=f"raise:{esc_id}",
        occurred_at=at,
        received_at=at,
        payload=EscalationRaised(
            escalation_id=esc_id,
            rule_id="longest-wait",
            subject="queue:chat",
            queue_id="chat",
            severity=Severity.WARNING,
            title="Chat: longest wait 1:05 (≥ 1:00)",
            raised_at=at,
        ),
    )


async def test_enter_shows_an_escalation_in_full(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot, app)
        tickets = [i for i in app.board.feed.order if app.board.state.escalations[i].ticket_id]
        app.board.feed.select(tickets[0])
        esc = app.board.state.escalations[tickets[0]]
        await pilot.press("n")
        await pilot.pause(0.1)
        await pilot.press(*"called the customer", "enter")
        for _ in range(200):
            if esc.notes:
                break
            await pilot.pause(0.05)
        clock.advance(90)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, EscalationDetail)
        screen = app.screen
        shown = "\n".join(_text(block) for block in screen.blocks)
        assert f"#{esc.ticket_id} on simulator" in shown
        assert esc.title.split(": ", 1)[-1] in shown  # the title at raise
        assert "note by ana: called the customer" in shown
        assert "raised, warning" in shown and "(1:30 ago)" in shown
        assert esc.detail in shown  # the desk profile shows the subject
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, EscalationDetail)
    store.close()


def _text(block: object) -> str:
    console = Console(width=200, record=True)
    console.print(block)
    return console.export_text()


async def test_when_the_hub_goes_down_nothing_on_the_terminal_looks_current(
    tmp_path: Path,
) -> None:
    hub, client, app = await hub_terminal(tmp_path, "supervise")
    store = hub.store
    try:
        async with app.run_test(size=(240, 70)) as pilot:
            for _ in range(400):
                # the board, not only the link, has the floor (it reads every 0.15 s)
                if app.board.state.seq == hub.state.seq and len(app.query(QueueTile)) == 5:
                    break
                await pilot.pause(0.05)
            app.board._tick()
            await pilot.pause()
            assert "● LIVE" in bar(app, TopBar)
            assert not any(t.stale for t in app.query(QueueTile))
            await hub.stop()
            for _ in range(400):
                if client.state == "reconnecting":
                    break
                await pilot.pause(0.05)
            app.board._tick()
            await pilot.pause()
            assert "✖ HUB DOWN" in bar(app, TopBar)
            fresh = bar(app, FreshnessBar)
            assert "● simulator live" not in fresh and "◐ simulator STALE" in fresh
            tiles = list(app.query(QueueTile))
            assert tiles and all(t.has_class("-stale") for t in tiles)
            client.close()
    finally:
        store.close()
