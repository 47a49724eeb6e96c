"""One action registry (issue #17, item 7): the footer, help, the command palette and
check_action are all built from ``supervisor_tui.actions.ACTIONS``."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from supervisor_tui import actions
from supervisor_tui.actions import BoardAction, Mode
from supervisor_tui.app import FloorCommands, SupervisorApp
from supervisor_tui.screens import HelpScreen
from supervisor_tui.screens.board import BoardScreen
from supervisor_tui.widgets import EscalationFeed

from .conftest import EPOCH, FakeClock, record_floor
from .test_app import settings
from .test_wall import hub_terminal

OPERATOR_KEYS = {"a", "n", "s", "r"}
OPERATOR_IDS = {"escalation.ack", "escalation.note", "escalation.snooze", "escalation.resolve"}
OPERATOR_PALETTE = {
    "Ack selected escalation",
    "Note on selected escalation",
    "Snooze selected escalation",
    "Resolve selected escalation",
}


def footer_ids(app: SupervisorApp) -> set[str]:
    assert app.screen is app.board
    """What the footer shows: the screen's active bindings that are shown."""
    return {
        b.binding.id or ""
        for b in app.screen.active_bindings.values()
        if b.binding.show and b.enabled is not None
    }


def palette(app: SupervisorApp) -> set[str]:
    return {name for name, _, _ in FloorCommands(app.screen)._commands()}


async def help_keys(pilot: Pilot[None], app: SupervisorApp) -> set[str]:
    await pilot.press("question_mark")
    await pilot.pause()
    assert isinstance(app.screen, HelpScreen)
    keys = {key for key, _ in app.screen.keys}
    await pilot.press("escape")
    await pilot.pause()
    return keys


SHOUT = BoardAction(
    "board.shout",
    "shout",
    "x",
    "Shout",
    "say it to the whole floor",
    modes=frozenset({Mode.LIVE}),
    palette="Shout to the floor",
)


class ShoutingBoard(BoardScreen):
    """The registry with one entry added (shout) and one taken away (pause)."""

    ACTIONS = (*(a for a in actions.ACTIONS if a.id != "board.pause"), SHOUT)

    shouted = 0

    def action_shout(self) -> None:
        self.shouted += 1


class ShoutingApp(SupervisorApp):
    BOARD = ShoutingBoard


async def test_one_entry_added_or_removed_changes_footer_help_palette_and_checks(
    tmp_path: Path,
) -> None:
    store = record_floor(tmp_path / "f.db", until_s=3600)
    for cls, has_shout in ((SupervisorApp, False), (ShoutingApp, True)):
        app = cls(store, settings(), clock=FakeClock(EPOCH + 3600))
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.pause()
            shown = footer_ids(app)
            assert ("board.shout" in shown) is has_shout
            assert ("board.pause" in shown) is not has_shout
            assert ("Shout to the floor" in palette(app)) is has_shout
            assert ("Pause / resume the board" in palette(app)) is not has_shout
            keys = await help_keys(pilot, app)
            assert ("x" in keys) is has_shout and ("p" in keys) is not has_shout
            assert ("board.shout" in cls.binding_ids()) is has_shout
            await pilot.press("x", "p")
            await pilot.pause()
            assert app.board.paused is not has_shout  # p is no key of the smaller registry
            assert getattr(app.board, "shouted", 0) == (1 if has_shout else 0)
    store.close()


async def test_a_view_token_has_no_operator_key_in_footer_help_or_palette(
    tmp_path: Path,
) -> None:
    for scope in ("operate", "view"):
        hub, client, app = await hub_terminal(tmp_path / scope, scope)
        try:
            async with app.run_test(size=(200, 50)) as pilot:
                feed = app.query_one(EscalationFeed)
                for _ in range(400):
                    if client.scope and feed.selected is not None:
                        break
                    await pilot.pause(0.05)
                assert client.scope == scope and feed.selected is not None
                app.board._tick()
                await pilot.pause()
                view = scope == "view"
                assert app.board.mode is (Mode.VIEW_ONLY if view else Mode.HUB)
                assert (not OPERATOR_IDS & footer_ids(app)) is view
                assert (not OPERATOR_PALETTE & palette(app)) is view
                keys = await help_keys(pilot, app)
                assert (not OPERATOR_KEYS & keys) is view
                for action in ("ack", "note", "snooze", "resolve"):
                    assert (app.board.check_action(action, ()) is False) is view, action
                client.close()
        finally:
            await hub.stop()
            hub.store.close()


def test_every_binding_id_is_declared_once() -> None:
    ids = [a.id for a in actions.ACTIONS]
    assert len(ids) == len(set(ids))
    feed_ids = {b.id for b in EscalationFeed.BINDINGS if not isinstance(b, tuple)}
    assert feed_ids == {a.id for a in actions.ACTIONS if a.where is actions.Where.FEED}
