"""The Textual app: the wall view of one floor, fed by following the store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer, Static

from supervisor_tui.core.commands import CommandRefused, EscalationDesk
from supervisor_tui.core.kpis import ABANDON_FORMULA, SL_FORMULA, queue_kpis
from supervisor_tui.core.projection import Changes, Escalation, FloorState
from supervisor_tui.core.rules import RuleEngine
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.hub.collector import Collector
from supervisor_tui.model import Event, Severity
from supervisor_tui.screens import ChoiceScreen, HelpScreen, TextPrompt
from supervisor_tui.store import Store, StoreError
from supervisor_tui.widgets import (
    AgentBoard,
    EscalationFeed,
    FreshnessBar,
    QueueTile,
    QueueTiles,
    TopBar,
)

READ_BATCH = 5_000


@dataclass(frozen=True)
class FloorSettings:
    """What the dashboard needs to know; built by the CLI (or a test) from the config."""

    floor_name: str
    operator: str
    targets: FloorTargets
    rules: RuleEngine
    profile: str = "desk"
    stale_after_s: float = 60.0
    keys: dict[str, str] = field(default_factory=dict)
    """Binding id -> key, from the config's [keys] table."""


class EventsArrived(Message):
    def __init__(self, events: list[Event]) -> None:
        super().__init__()
        self.events = events


class FloorCommands(Provider):
    """The command palette: every board action, and a filter per queue."""

    def _commands(self) -> Iterable[tuple[str, str, Callable[[], object]]]:
        app = self.app
        assert isinstance(app, SupervisorApp)
        yield "Ack selected escalation", "with an optional note", app.action_ack
        yield "Note on selected escalation", "adds a note", app.action_note
        yield "Snooze selected escalation", "hide it for a while", app.action_snooze
        yield "Resolve selected escalation", "close it by hand", app.action_resolve
        yield "Pause / resume the board", "hold updates while you read", app.action_pause
        yield "Help", "keys and formulas", app.action_help
        yield "Filter: all queues", "show the whole floor", partial(app.set_queue_filter, None)
        for queue in app.state.queues.values():
            yield (
                f"Filter: {queue.name}",
                f"only {queue.queue_id}",
                partial(app.set_queue_filter, queue.queue_id),
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


class SupervisorApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "supervisor-tui"
    COMMANDS = App.COMMANDS | {FloorCommands}
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("a", "ack", "Ack", id="escalation.ack", tooltip="Acknowledge, with a note"),
        Binding("n", "note", "Note", id="escalation.note"),
        Binding("s", "snooze", "Snooze", id="escalation.snooze"),
        Binding("r", "resolve", "Resolve", id="escalation.resolve"),
        Binding("slash", "filter", "Filter", id="board.filter", key_display="/"),
        Binding("p", "pause", "Pause", id="board.pause"),
        Binding("question_mark", "help", "Help", id="app.help", key_display="?"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        store: Store,
        settings: FloorSettings,
        *,
        clock: Callable[[], float],
        collector: Collector | None = None,
        tick_s: float = 1.0,
    ) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.clock = clock
        self.collector = collector
        self.tick_s = tick_s
        self.desk = EscalationDesk(store, clock)
        self.state = FloorState(settings.targets)
        self.paused = False
        self.held: list[Event] = []
        self.queue_filter: str | None = None
        self._bell: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._read_seq = 0

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield QueueTiles(id="tiles")
        yield Static(
            Text(
                f"SL = {SL_FORMULA} · abandon = {ABANDON_FORMULA} · need = Erlang C for the "
                "SL target (press ? for every formula)",
                style="dim",
            ),
            id="formulas",
        )
        with Horizontal(id="main"):
            yield AgentBoard(id="agents")
            yield EscalationFeed(id="feed", show_detail=self.settings.profile == "desk")
        yield FreshnessBar(id="freshness")
        yield Footer()

    @classmethod
    def binding_ids(cls) -> set[str]:
        """Every binding a site may remap with the config's [keys] table."""
        ids = {b.id for b in cls.BINDINGS if isinstance(b, Binding) and b.id}
        ids |= {b.id for b in EscalationFeed.BINDINGS if isinstance(b, Binding) and b.id}
        return ids

    async def on_mount(self) -> None:
        if self.settings.keys:
            self.set_keymap(self.settings.keys)
        self._loop = asyncio.get_running_loop()
        self._bell = asyncio.Event()
        self.store.add_listener(self._ring)
        feed = self.query_one(EscalationFeed)
        feed.set_realert({rule.id: rule.realert_after_s for rule in self.settings.rules.rules})
        feed.focus()
        if self.collector is not None:
            await self.collector.start()
        self._paint_chrome(self.clock())
        self.follow_store()
        self.set_interval(self.tick_s, self._tick, name="clock")

    async def on_unmount(self) -> None:
        if self.collector is not None:
            await self.collector.stop()

    def _ring(self, seq: int) -> None:
        """Called by the store after a commit, from whichever thread committed."""
        loop, bell = self._loop, self._bell
        if loop is not None and bell is not None and not loop.is_closed():
            loop.call_soon_threadsafe(bell.set)

    # -- following the store --------------------------------------------------------------

    @work(exclusive=True, group="follow", name="follow-store")
    async def follow_store(self) -> None:
        assert self._bell is not None
        while True:
            try:
                events = await asyncio.to_thread(self.store.read_from, self._read_seq, READ_BATCH)
            except StoreError as exc:
                self.say(str(exc), title="Store", severity="error", timeout=10)
                await asyncio.sleep(2)
                continue
            if events:
                self._read_seq = events[-1].seq
                self.post_message(EventsArrived(events))
                if len(events) == READ_BATCH:
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._bell.wait(), 0.5)
            self._bell.clear()

    @on(EventsArrived)
    def _events_arrived(self, message: EventsArrived) -> None:
        if self.paused:
            self.held.extend(message.events)
            self._paint_chrome(self.clock())
            return
        self.state.apply_all(message.events)
        self._paint(self.state.take_changes())

    # -- painting -------------------------------------------------------------------------

    def _queue_severity(self) -> dict[str, Severity]:
        now = self.clock()
        worst: dict[str, Severity] = {}
        for esc in self.state.escalations.values():
            if not esc.is_open or esc.is_snoozed(now) or not esc.subject.startswith("queue:"):
                continue
            if esc.queue_id and (
                esc.queue_id not in worst or esc.severity.rank > worst[esc.queue_id].rank
            ):
                worst[esc.queue_id] = esc.severity
        return worst

    def _paint(self, changes: Changes) -> None:
        now = self.clock()
        tiles = self.query_one(QueueTiles)
        if changes.queues_added:
            for queue_id, queue in self.state.queues.items():
                if tiles.tile(queue_id) is None:
                    tile = QueueTile(queue_id, queue.name, queue.channel.value)
                    tile.display = self.queue_filter in (None, queue_id)
                    tiles.mount(tile)
                    changes.queues.add(queue_id)
            self.call_after_refresh(tiles.fit)
        if changes.queues or changes.escalations:
            severity = self._queue_severity()
            touched = changes.queues | {
                e.queue_id
                for i in changes.escalations
                if (e := self.state.escalations.get(i)) is not None and e.queue_id
            }
            for queue_id in touched:
                self._show_tile(queue_id, now, severity)
        board = self.query_one(AgentBoard)
        if changes.agents_added:
            board.set_agents(self.state.agents, now)
        elif changes.agents:
            board.agents_changed(changes.agents)
        if changes.escalations:
            self.query_one(EscalationFeed).update(self.state.escalations, now, changes.escalations)
        self._paint_chrome(now)

    def _show_tile(self, queue_id: str, now: float, severity: dict[str, Severity]) -> None:
        queue = self.state.queues.get(queue_id)
        tile = self.query_one(QueueTiles).tile(queue_id)
        if queue is None or tile is None:
            return
        tile.show(queue_kpis(self.state, queue, now), severity.get(queue_id))

    def _paint_chrome(self, now: float) -> None:
        attention = sum(1 for e in self.state.escalations.values() if e.needs_attention(now))
        self.query_one(TopBar).show(
            floor=self.settings.floor_name,
            now=now,
            utc_offset_s=self.settings.targets.utc_offset_s,
            mode="paused" if self.paused else "live",
            held=len(self.held),
            attention=attention,
            agents=self.query_one(AgentBoard).summary(),
            queue_filter=self.queue_filter,
        )
        self.query_one(FreshnessBar).show(self.state.sources, now, self.settings.stale_after_s)

    def _tick(self) -> None:
        """Once a second: clocks move even when no event arrives."""
        if self.paused:
            self._paint_chrome(self.clock())
            return
        now = self.clock()
        severity = self._queue_severity()
        for queue_id in self.state.queues:
            self._show_tile(queue_id, now, severity)
        self.query_one(AgentBoard).tick(now)
        self.query_one(EscalationFeed).tick(now)
        self._paint_chrome(now)

    # -- actions --------------------------------------------------------------------------

    @on(EscalationFeed.Selected)
    def _selection_moved(self) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("ack", "snooze", "resolve", "note"):
            feeds = self.query(EscalationFeed)  # empty before the screen is composed
            esc = feeds.first().selected if feeds else None
            if esc is None or (action != "note" and not esc.is_open):
                return None  # shown, but greyed out: nothing to act on
        return True

    def say(
        self,
        message: str,
        *,
        title: str = "",
        severity: str = "information",
        timeout: float | None = None,
    ) -> None:
        """A toast; its text may hold vendor text or error messages, so it is never markup."""
        self.notify(
            message,
            title=title,
            severity=severity,  # type: ignore[arg-type]
            timeout=timeout,
            markup=False,
        )

    def _selected(self) -> Escalation | None:
        esc = self.query_one(EscalationFeed).selected
        if esc is None:
            self.say("No escalation is selected.", severity="warning")
        return esc

    async def _run_command(self, what: str, call: Callable[[], object]) -> bool:
        try:
            await asyncio.to_thread(call)
        except CommandRefused as exc:
            self.say(str(exc), title=what, severity="warning")
            return False
        except StoreError as exc:
            self.say(f"not saved: {exc}", title=what, severity="error", timeout=15)
            return False
        return True

    @work(exclusive=True, group="command")
    async def action_ack(self) -> None:
        esc = self._selected()
        if esc is None:
            return
        note = await self.push_screen_wait(
            TextPrompt("Acknowledge", placeholder="note (optional)", subject=esc.title)
        )
        if note is None:
            return
        if await self._run_command(
            "Ack", partial(self.desk.ack, esc, self.settings.operator, note)
        ):
            self.say(f"Acked: {esc.title}", title="Ack saved")

    @work(exclusive=True, group="command")
    async def action_note(self) -> None:
        esc = self._selected()
        if esc is None:
            return
        note = await self.push_screen_wait(
            TextPrompt("Add a note", placeholder="note", required=True, subject=esc.title)
        )
        if note:
            await self._run_command(
                "Note", partial(self.desk.note, esc, self.settings.operator, note)
            )

    @work(exclusive=True, group="command")
    async def action_snooze(self) -> None:
        esc = self._selected()
        if esc is None:
            return
        choice = await self.push_screen_wait(
            ChoiceScreen(
                f"Snooze: {esc.title}",
                [("5", "5 minutes"), ("15", "15 minutes"), ("30", "30 minutes"), ("60", "1 hour")],
            )
        )
        if choice is not None:
            await self._run_command(
                "Snooze", partial(self.desk.snooze, esc, self.settings.operator, float(choice))
            )

    @work(exclusive=True, group="command")
    async def action_resolve(self) -> None:
        esc = self._selected()
        if esc is None:
            return
        reason = await self.push_screen_wait(
            TextPrompt("Resolve", placeholder="what was done (optional)", subject=esc.title)
        )
        if reason is not None:
            await self._run_command(
                "Resolve", partial(self.desk.resolve, esc, self.settings.operator, reason)
            )

    @work(exclusive=True, group="command")
    async def action_filter(self) -> None:
        options = [("*", "All queues")] + [
            (queue.queue_id, queue.name) for queue in self.state.queues.values()
        ]
        choice = await self.push_screen_wait(ChoiceScreen("Show which queue?", options))
        if choice is not None:
            self.set_queue_filter(None if choice == "*" else choice)

    def set_queue_filter(self, queue_id: str | None) -> None:
        self.queue_filter = queue_id
        for tile in self.query(QueueTile):
            tile.display = queue_id in (None, tile.queue_id)
        self.query_one(QueueTiles).fit()
        self.query_one(AgentBoard).set_queue_filter(queue_id)
        self.query_one(EscalationFeed).set_queue_filter(queue_id)
        self._paint_chrome(self.clock())

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused and self.held:
            held, self.held = self.held, []
            self.state.apply_all(held)
            self._paint(self.state.take_changes())
        self._paint_chrome(self.clock())
        self.say(
            "Board paused: events are still recorded." if self.paused else "Board live again.",
            timeout=3,
        )

    def action_help(self) -> None:
        keys = [
            (b.key_display or b.key, b.description) for b in self.BINDINGS if isinstance(b, Binding)
        ]
        keys += [
            ("↑ ↓", "move in the escalation feed"),
            ("tab", "switch between panels"),
            ("ctrl+p", "command palette"),
        ]
        self.push_screen(HelpScreen(keys))
