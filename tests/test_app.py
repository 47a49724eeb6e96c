"""The real app, driven by its Pilot, over a real SQLite file and the simulated floor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from supervisor_tui.adapters.simulator import SimOptions, SimulatorAdapter
from supervisor_tui.app import FloorSettings, SupervisorApp
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.rules import RuleEngine, TicketFlagRule
from supervisor_tui.hub.collector import Collector
from supervisor_tui.model import (
    Channel,
    EscalationResolved,
    EscalationStatus,
    NewEvent,
    TicketStatus,
    TicketUpserted,
)
from supervisor_tui.screens import HelpScreen
from supervisor_tui.store import SQLiteStore
from supervisor_tui.widgets import AgentBoard, EscalationFeed, QueueTile, TopBar

from .conftest import EPOCH, FakeClock, record_floor, rules, targets


def settings(engine: RuleEngine | None = None) -> FloorSettings:
    return FloorSettings(
        floor_name="Test floor", operator="ana", targets=targets(), rules=engine or rules()
    )


async def wait_for(
    pilot: Pilot[None], condition: Callable[[], bool], what: str, seconds: float = 20
) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def line_text(widget: EscalationFeed | AgentBoard, y: int) -> str:
    return widget.render_line(y).text


async def test_demo_board_shows_the_floor_and_an_ack_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "floor.db"
    clock = FakeClock(EPOCH + 3 * 3600)
    store = SQLiteStore(path)
    adapter = SimulatorAdapter(
        "simulator", SimOptions(seed=7, epoch=EPOCH, warmup_s=3 * 3600), clock=clock
    )
    collector = Collector(store, [adapter], rules(), targets(), clock)
    app = SupervisorApp(store, settings(), clock=clock, collector=collector)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: len(app.query(QueueTile)) == 5, "five queue tiles")
        board = app.query_one(AgentBoard)
        await wait_for(pilot, lambda: board.agent_count == 40, "forty agents")
        feed = app.query_one(EscalationFeed)
        await wait_for(pilot, lambda: feed.selected is not None, "an escalation")
        clock.advance(30)  # the floor moves on: the simulator feeds the next 30 s
        before = app.board.state.seq
        await wait_for(pilot, lambda: app.board.state.seq > before, "live events")
        names = {str(tile.border_title) for tile in app.query(QueueTile)}
        assert "☎ Voice · Sales" in names and "@ Email · Tech" in names
        assert any("Busy" in line_text(board, y) for y in range(5))

        esc = feed.selected
        assert esc is not None and esc.status is EscalationStatus.RAISED
        assert "● NEW" in line_text(feed, feed_index(feed, esc.escalation_id))
        await pilot.press("a")
        await pilot.press(*"on it, calling back")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: app.board.state.escalations[esc.escalation_id].status is EscalationStatus.ACKED,
            "the ack on screen",
        )
        shown = line_text(feed, feed_index(feed, esc.escalation_id))
        # the note follows the title (cut at the feed's edge when the title is long)
        assert "✔ ACKED ana" in shown and "— “on it, calling" in shown
        # the cursor went on to the next escalation that needs somebody (issue #17)
        nxt = feed.selected
        assert nxt is not None and nxt.escalation_id != esc.escalation_id
        assert nxt.needs_attention(clock())
    store.close()

    # After a restart the ack is still there, with its note, and an outbox entry for the helpdesk.
    reopened = SQLiteStore(path)
    state = FloorState(targets())
    state.apply_all(reopened.read_from(0, 1_000_000))
    acked = state.escalations[esc.escalation_id]
    assert (acked.status, acked.acked_by, acked.ack_note) == (
        EscalationStatus.ACKED,
        "ana",
        "on it, calling back",
    )
    if acked.ticket_id:
        assert reopened.outbox_pending_count() + len(adapter.write_backs) >= 1
    app2 = SupervisorApp(reopened, settings(), clock=clock)
    async with app2.run_test(size=(200, 50)) as pilot:
        feed = app2.query_one(EscalationFeed)
        await wait_for(
            pilot, lambda: esc.escalation_id in app2.board.state.escalations, "the store"
        )
        feed.select(esc.escalation_id)
        await pilot.pause()
        assert feed.selected is not None and feed.selected.status is EscalationStatus.ACKED
    reopened.close()


async def test_note_snooze_and_resolve_from_the_keyboard(tmp_path: Path) -> None:
    clock = FakeClock(EPOCH + 3.5 * 3600)
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=clock)
    async with app.run_test(size=(200, 50)) as pilot:
        feed = app.query_one(EscalationFeed)
        await wait_for(pilot, lambda: feed.selected is not None, "an escalation")
        esc_id = feed.selected.escalation_id  # type: ignore[union-attr]
        await pilot.press("n", *"supervisor told", "enter")
        await wait_for(pilot, lambda: app.board.state.escalations[esc_id].notes != [], "the note")
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("down", "enter")  # 15 minutes
        await wait_for(
            pilot,
            lambda: app.board.state.escalations[esc_id].snoozed_until is not None,
            "the snooze",
        )
        assert app.board.state.escalations[esc_id].snoozed_until == clock.now + 15 * 60
        assert "snoozed 15:00" in line_text(feed, feed_index(feed, esc_id))
        await pilot.press("r", *"handled", "enter")
        await wait_for(
            pilot, lambda: not app.board.state.escalations[esc_id].is_open, "the resolve"
        )
        esc = app.board.state.escalations[esc_id]
        assert (esc.resolved_by, esc.resolve_reason) == ("ana", "handled")
    store.close()


def feed_index(feed: EscalationFeed, esc_id: str) -> int:
    return feed.order.index(esc_id)


async def test_vendor_text_is_shown_as_text_never_markup(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "f.db")
    subject = "[bold red]Refund[/] [link=x]now[/link]"
    store.append(
        [
            NewEvent(
                source="zendesk",
                key="t1",
                occurred_at=EPOCH,
                received_at=EPOCH,
                payload=TicketUpserted(
                    ticket_id="1",
                    status=TicketStatus.OPEN,
                    channel=Channel.EMAIL,
                    queue_id="mail",
                    subject=subject,
                    tags=("complaint",),
                    created_at=EPOCH,
                    updated_at=EPOCH,
                ),
            )
        ]
    )
    engine = RuleEngine([TicketFlagRule(id="complaint", kind="ticket_flag")])
    state = FloorState(targets())
    state.apply_all(store.read_from(0))
    store.append(engine.evaluate(state, EPOCH + 1))
    app = SupervisorApp(store, settings(engine), clock=FakeClock(EPOCH + 5))
    async with app.run_test(size=(260, 40)) as pilot:
        feed = app.query_one(EscalationFeed)
        await wait_for(pilot, lambda: feed.selected is not None, "the escalation")
        await pilot.pause()
        assert subject in line_text(feed, 0)
    store.close()


async def test_pause_holds_events_and_filter_and_help(tmp_path: Path) -> None:
    clock = FakeClock(EPOCH + 3.5 * 3600)
    store = record_floor(tmp_path / "f.db", until_s=3 * 3600)
    app = SupervisorApp(store, settings(), clock=clock)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: len(app.query(QueueTile)) == 5, "tiles")
        await pilot.press("p")
        seq = app.board.state.seq
        from .conftest import simulate

        later = [
            e for e in simulate(seed=7, until_s=3.5 * 3600) if e.occurred_at > EPOCH + 3 * 3600
        ]
        store.append(later)
        await wait_for(pilot, lambda: len(app.board.held) > 0, "events held while paused")
        assert app.board.state.seq == seq
        assert "PAUSED" in str(app.query_one(TopBar).render())
        await pilot.press("p")
        await wait_for(pilot, lambda: app.board.state.seq > seq, "held events applied")
        assert app.board.held == []

        await pilot.press("slash")
        await pilot.pause()
        await pilot.press("down", "down", "enter")  # All, Voice · Sales, Voice · Support
        await pilot.pause()
        shown = [t.queue_id for t in app.query(QueueTile) if t.display]
        assert shown == ["voice-support"]
        board = app.query_one(AgentBoard)
        assert 0 < board.agent_count < 40

        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
    store.close()


async def test_keys_can_be_remapped_by_binding_id(tmp_path: Path) -> None:
    clock = FakeClock(EPOCH + 3.5 * 3600)
    store = record_floor(tmp_path / "f.db")
    assert {"escalation.ack", "board.pause", "feed.down"} <= SupervisorApp.binding_ids()
    remapped = FloorSettings(
        floor_name="T", operator="ana", targets=targets(), rules=rules(), keys={"board.pause": "z"}
    )
    app = SupervisorApp(store, remapped, clock=clock)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        assert not app.board.paused
        await pilot.press("z")
        await pilot.pause()
        assert app.board.paused
    store.close()


async def test_wall_profile_hides_ticket_subjects(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db")
    state = FloorState(targets())
    state.apply_all(store.read_from(0, 1_000_000))
    with_subject = [e for e in state.escalations.values() if e.detail]
    assert with_subject, "the recorded floor has ticket escalations with subjects"
    wall = FloorSettings(
        floor_name="T", operator="ana", targets=targets(), rules=rules(), profile="wall"
    )
    app = SupervisorApp(store, wall, clock=FakeClock(EPOCH + 3.5 * 3600))
    async with app.run_test(size=(260, 50)) as pilot:
        feed = app.query_one(EscalationFeed)
        await wait_for(pilot, lambda: len(feed.order) == len(state.escalations), "the feed")
        shown = "\n".join(line_text(feed, y) for y in range(len(feed.order)))
        assert all(f"#{e.ticket_id} " in shown for e in with_subject)  # the id, first
        assert not any(e.detail in shown for e in with_subject)
    store.close()


async def test_help_lists_only_the_keys_of_this_mode(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db", until_s=3600)
    app = SupervisorApp(store, settings(), clock=FakeClock(EPOCH + 3600))
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = [key for key, _ in app.screen.keys]
        assert "a" in keys and "p" in keys
        assert "space" not in keys and "]" not in keys  # replay's
    store.close()


async def test_pending_write_backs_show_in_the_freshness_bar(tmp_path: Path) -> None:
    clock = FakeClock(EPOCH + 3.5 * 3600)
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=clock)  # no collector: nothing delivers
    async with app.run_test(size=(200, 50)) as pilot:
        feed = app.query_one(EscalationFeed)
        await wait_for(pilot, lambda: feed.selected is not None, "an escalation")
        ticket_escs = [e for e in app.board.state.escalations.values() if e.ticket_id]
        feed.select(ticket_escs[0].escalation_id)
        await pilot.press("a", "enter")
        await wait_for(pilot, lambda: app.board.write_backs_pending == 1, "the pending write-back")
        app.board._tick_tiles()
        assert "1 write-back to the helpdesk pending" in str(app.board.freshness.render())
    store.close()


async def test_agents_without_presence_show_their_work_and_no_clock(tmp_path: Path) -> None:
    """A helpdesk without presence (JSM): the agent is "No status" with the requests they
    hold, no time in a state we do not know, and the top bar counts them apart."""
    from supervisor_tui.model import AgentState, AgentStateChanged, AgentUpserted

    store = SQLiteStore(tmp_path / "f.db")
    made = [
        AgentUpserted(agent_id="a1", name="Aiko B.", queue_ids=("q",)),
        AgentStateChanged(
            agent_id="a1",
            state=AgentState.UNKNOWN,
            raw_state="no presence in Jira Service Management",
            since=EPOCH,
            work="7 open requests",
        ),
        AgentUpserted(agent_id="a2", name="Ben H.", queue_ids=("q",)),
        AgentStateChanged(agent_id="a2", state=AgentState.AVAILABLE, since=EPOCH),
    ]
    store.append(
        [
            NewEvent(source="it", key=f"k{i}", occurred_at=EPOCH, received_at=EPOCH, payload=p)
            for i, p in enumerate(made)
        ]
    )
    app = SupervisorApp(store, settings(RuleEngine([])), clock=FakeClock(EPOCH + 95))
    async with app.run_test(size=(200, 40)) as pilot:
        board = app.query_one(AgentBoard)
        await wait_for(
            pilot,
            lambda: len(board.summary()) > 0 and board.summary()[AgentState.UNKNOWN] == 1,
            "the agents",
        )
        await pilot.pause()
        row = line_text(board, 0)
        assert "◇ No status" in row and "Aiko B." in row and "7 open requests" in row
        assert "—" in row.split("Aiko")[0]  # no time in state
        assert "1:35" in row  # Ben's clock runs: available for 95 s
        top = str(app.query_one(TopBar).render())
        assert "◇ No status 1" in top and "● Available 1" in top
    store.close()


async def test_a_narrow_tile_says_every_figure_in_fewer_words() -> None:
    """At 30 cells (six tiles on 180 columns) no count is cut off: the long forms give way
    to shorter ones ("<1d" for "Age <1d", "rep." for "(reported)")."""
    from textual.app import App, ComposeResult

    from supervisor_tui.core.kpis import QueueKpis

    def kpis(realtime: bool) -> QueueKpis:
        return QueueKpis(
            queue_id="q",
            name="Q",
            channel="chat" if realtime else "email",
            realtime=realtime,
            waiting=3,
            longest_wait_s=35.0,
            waiting_as_of=EPOCH,
            sl_threshold_s=20,
            service_level=0.6,
            asa_s=20.0,
            abandon_rate=0.2,
            aht_s=212.0,
            offered=1413,
            answered=1312,
            backlog=172,
            aging=(172, 12, 27),
            sla_at_risk=11,
            sla_breached=105,
            csat=0.95,
            need=11,
            have=8,
            fcr=0.89,
        )

    class OneTile(App[None]):
        def compose(self) -> ComposeResult:
            yield QueueTile("q", "Q", "chat")
            yield QueueTile("m", "M", "email")

    app = OneTile()
    async with app.run_test(size=(30, 24)) as pilot:
        chat, mail = app.query(QueueTile)
        chat.show(kpis(True), None)
        mail.show(kpis(False), None)
        await pilot.pause()
        assert chat.size.width == 26
        said = [chat.render_line(y).text.rstrip() for y in range(8)]
        said += [mail.render_line(y).text.rstrip() for y in range(8)]
        text = "\n".join(said)
        assert all(len(line) <= 26 for line in said)
        assert "longest 0:35 rep." in text
        assert "Off 1413 ans 1312" in text or "Offered 1413 answered 1312" in text
        assert "Need 11 have 8 ✖ short 3" in text
        assert "2d+ 27" in text and "✖ 105" in text and "⚠ 11" in text
        assert "FCR 89%" in text and "agents 8" in text


async def test_the_keys_grey_out_when_the_selected_escalation_closes_elsewhere(
    tmp_path: Path,
) -> None:
    """Another terminal resolves the escalation this board has selected: the selection stays
    on it, and the keys that act on an open escalation grey out at once (the footer is
    rebuilt only when what its keys can act on changes, not for every arrival)."""
    clock = FakeClock(EPOCH + 3.5 * 3600)
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=clock)
    async with app.run_test(size=(200, 50)) as pilot:
        feed = app.query_one(EscalationFeed)
        await wait_for(pilot, lambda: len(feed.order) > 1, "escalations")
        feed.select(feed.order[1])  # the reader moved off the top: the selection stays put
        selected = feed.selected
        assert selected is not None and selected.is_open

        def ack_greyed() -> bool | None:
            """Whether the footer's Ack is greyed out; None while the footer is recomposed
            (its keys are removed and mounted again when the bindings change)."""
            key = next((k for k in app.query(FooterKey) if k.key == "a"), None)
            return None if key is None else key.has_class("-disabled")

        await wait_for(pilot, lambda: ack_greyed() is False, "Ack offered")
        at = clock.now
        resolved = EscalationResolved(
            escalation_id=selected.escalation_id, by="ben", reason="handled", at=at
        )
        store.append(
            [
                NewEvent(
                    source="ben", key="resolve", occurred_at=at, received_at=at, payload=resolved
                )
            ]
        )
        await wait_for(
            pilot, lambda: not app.board.state.escalations[selected.escalation_id].is_open, "it"
        )
        assert feed.selected is not None
        assert feed.selected.escalation_id == selected.escalation_id
        await wait_for(pilot, lambda: ack_greyed() is True, "Ack greyed out")
    store.close()
