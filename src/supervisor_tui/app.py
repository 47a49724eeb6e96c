"""The Textual app: one floor's board, live, on a hub terminal, or replayed.

The app is the shell: it builds the board screen (``screens.board``) for what it is given,
owns the process's signals and the collector's life, and offers the board's actions in the
command palette. The board does the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, cast, overload

from textual.app import App, SystemCommand
from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape as escape_markup
from textual.screen import Screen

from supervisor_tui import actions
from supervisor_tui.core.commands import Desk, EscalationDesk
from supervisor_tui.core.feed import FloorFeed, LocalFloor
from supervisor_tui.core.replay import ReplayPlayer
from supervisor_tui.core.training import TrainingSession
from supervisor_tui.hub.collector import Collector
from supervisor_tui.i18n import N_, _
from supervisor_tui.playback import ReplayController
from supervisor_tui.screens.board import BoardScreen, FloorSettings
from supervisor_tui.themes import use_theme

__all__ = ["FloorSettings", "SupervisorApp"]


class FloorCommands(Provider):
    """The command palette: the registry's actions this mode takes, and a filter per queue."""

    def _commands(self) -> Iterable[tuple[str, str, Callable[[], object]]]:
        app = self.app
        assert isinstance(app, SupervisorApp)
        board = app.board
        for entry in board.ACTIONS:
            if entry.palette is not None and board.offers(entry):
                yield (
                    _(entry.palette),
                    _(entry.palette_help) if entry.palette_help else "",
                    partial(board.run_action, entry.action),
                )
        yield (
            _("Filter: all queues"),
            _("show the whole floor"),
            partial(board.set_queue_filter, None),
        )
        for queue in board.state.queues.values():
            yield (
                # a helpdesk's name is text
                _("Filter: {queue}").format(queue=escape_markup(queue.name)),
                _("only {queue}").format(queue=escape_markup(queue.queue_id)),
                partial(board.set_queue_filter, queue.queue_id),
            )

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


_ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
EXIT_GRACE_S = 5.0
"""After an ending signal, how long the app has to end as asked before the process ends."""

TEXTUAL_WORDS = (
    N_("palette"),
    N_("Open the command palette"),
    N_("Search for commands…"),
    N_("Theme"),
    N_("Change the current theme"),
    N_("Quit the application as soon as possible"),
    N_("Keys"),
    N_("Hide the keys and widget help panel"),
    N_("Show help for the focused widget and a summary of available keys"),
    N_("Minimize"),
    N_("Minimize the widget and restore to normal size"),
    N_("Maximize"),
    N_("Maximize the focused widget"),
    N_("Screenshot"),
    N_("Save an SVG 'screenshot' of the current screen"),
)
"""Textual's own words on the board (the footer's palette key, the palette's system
commands), marked here so they are translated with the rest."""


class SupervisorApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "supervisor-tui"
    COMMANDS = App.COMMANDS | {FloorCommands}
    ENABLE_COMMAND_PALETTE = True
    BOARD: type[BoardScreen] = BoardScreen
    """The board screen (a site's own subclass may add actions to its registry)."""

    @overload
    def __init__(
        self,
        store: LocalFloor,
        settings: FloorSettings,
        *,
        clock: Callable[[], float],
        collector: Collector | None = None,
        desk: Desk | None = None,
        tick_s: float = 1.0,
        player: ReplayPlayer | None = None,
        training: TrainingSession | None = None,
        card_path: Path | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        store: FloorFeed,
        settings: FloorSettings,
        *,
        clock: Callable[[], float],
        collector: Collector | None = None,
        desk: Desk,
        tick_s: float = 1.0,
        player: ReplayPlayer | None = None,
        training: TrainingSession | None = None,
        card_path: Path | None = None,
    ) -> None: ...

    def __init__(
        self,
        store: FloorFeed,
        settings: FloorSettings,
        *,
        clock: Callable[[], float],
        collector: Collector | None = None,
        desk: Desk | None = None,
        tick_s: float = 1.0,
        player: ReplayPlayer | None = None,
        training: TrainingSession | None = None,
        card_path: Path | None = None,
    ) -> None:
        """``store``: what the board follows (a store, a hub link, a recording's store);
        ``desk``: where commands go, by default the store itself (the overloads say a
        feed that is not a store must come with its desk); ``player``: a replay, moved by
        its own controller."""
        super().__init__()
        actions.speak(self._bindings)  # the footer's "palette" key in the floor's language
        self.store = store
        self.settings = settings
        self.clock = player.clock if player is not None else clock
        self.collector = collector
        replay = ReplayController(player, training, card_path) if player is not None else None
        self.board = self.BOARD(
            store,
            settings,
            clock=self.clock,
            desk=(
                desk if desk is not None else EscalationDesk(cast(LocalFloor, store), self.clock)
            ),
            collector=collector,
            replay=replay,
            tick_s=tick_s,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_handlers: dict[signal.Signals, Any] = {}
        self._last_resort: threading.Timer | None = None

    @classmethod
    def binding_ids(cls) -> set[str]:
        """Every binding a site may remap with the config's [keys] table."""
        return cls.BOARD.binding_ids()

    @property
    def dialog_idle_s(self) -> float:
        """Read by every dialog: it closes after this long without input."""
        return self.settings.dialog_idle_s

    @property
    def player(self) -> ReplayPlayer | None:
        return self.board.replay.player if self.board.replay is not None else None

    @property
    def training(self) -> TrainingSession | None:
        return self.board.replay.training if self.board.replay is not None else None

    @property
    def card_written(self) -> tuple[Path, Path] | None:
        return self.board.replay.card_written if self.board.replay is not None else None

    async def on_mount(self) -> None:
        if self.settings.keys:
            self.set_keymap(self.settings.keys)
        use_theme(self, self.settings.theme)
        self._loop = asyncio.get_running_loop()
        self._exit_on(self._loop, *_ENDING_SIGNALS)
        if self.collector is not None:
            await self.collector.start()

    def get_default_screen(self) -> BoardScreen:
        return self.board

    async def on_unmount(self) -> None:
        if self._last_resort is not None:
            self._last_resort.cancel()  # ended as asked: nothing to force
        for sig, previous in self._previous_handlers.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, previous)
        self._previous_handlers.clear()
        if self.collector is not None:
            await self.collector.stop()

    def _exit_on(self, loop: asyncio.AbstractEventLoop, *signals: signal.Signals) -> None:
        """A kill (SIGTERM) or a closed terminal (SIGHUP) ends the app as `q` does, so the
        terminal is given back: main screen, mouse reporting off, cursor shown.

        The handler is a plain ``signal.signal`` one, not the loop's: it runs in the main
        thread even while the loop is blocked (Textual's output queue full because the
        terminal stopped taking output), asks the loop to end the app, and starts a last
        resort that ends the process if the loop has not done so in EXIT_GRACE_S. Acks are
        durable before they show, and the collector's cursors are committed with its events,
        so nothing is lost by it."""
        for sig in signals:
            # only the main thread can take signals (an app under test may run elsewhere)
            with contextlib.suppress(ValueError):
                previous = signal.signal(sig, partial(self._ended_by, loop))
                self._previous_handlers.setdefault(sig, previous)

    def _ended_by(self, loop: asyncio.AbstractEventLoop, signum: int, _frame: object) -> None:
        code = 128 + signum
        if self._last_resort is None:
            self._last_resort = threading.Timer(EXIT_GRACE_S, os._exit, [code])
            self._last_resort.daemon = True
            self._last_resort.start()
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(partial(self.exit, return_code=code))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's commands in the palette, in the floor's language."""
        for command in super().get_system_commands(screen):
            yield command._replace(title=_(command.title), help=_(command.help))

    def action_command_palette(self) -> None:
        """Textual's palette, its search field's prompt in the floor's language."""
        if self.use_command_palette and not CommandPalette.is_open(cast(App[object], self)):
            self.push_screen(
                CommandPalette(id="--command-palette", placeholder=_("Search for commands…"))
            )

    async def action_quit(self) -> None:
        """Textual's ctrl+q too: training shows its score card before the app ends."""
        await self.board.action_quit()
