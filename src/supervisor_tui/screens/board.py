"""The board: one screen for a live floor, a hub terminal and a replay.

It holds the widgets and paints them from a FloorState; what feeds that state is a
``FloorFeed`` it follows (a store, a hub link), or, in replay and training, the
``ReplayController`` that moves the recording's clock. Its keys, their checks, help and the
command palette all come from the action registry (``supervisor_tui.actions``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from supervisor_tui import actions
from supervisor_tui.actions import BoardAction, Mode, Selection
from supervisor_tui.core import fmt
from supervisor_tui.core.bell import CritBell
from supervisor_tui.core.commands import CommandRefused, Desk
from supervisor_tui.core.feed import LINK_LIVE, FloorFeed, floor_words
from supervisor_tui.core.forecast import QueueForecast, queue_forecast
from supervisor_tui.core.freshness import SourceCondition, board_status, queue_condition
from supervisor_tui.core.intraday import IntradaySettings
from supervisor_tui.core.kpis import (
    ABANDON_FORMULA,
    SL_FORMULA,
    QueueKpis,
    queue_kpis,
    sla_level,
    tickets_counted,
)
from supervisor_tui.core.projection import Changes, Escalation, FloorState, QueueView
from supervisor_tui.core.replay import newest_floor
from supervisor_tui.core.rules import RuleEngine
from supervisor_tui.core.schedule import AgentPlan, agent_plan, floor_adherence
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.core.whatif import QueueWhatIf, Scenario, what_if
from supervisor_tui.hub.collector import Collector
from supervisor_tui.i18n import _, ngettext
from supervisor_tui.model import Event, Severity
from supervisor_tui.playback import ReplayController
from supervisor_tui.screens.detail import EscalationDetail, EscalationView, detail_text
from supervisor_tui.screens.help import HelpScreen
from supervisor_tui.screens.prompt import ChoiceScreen, TextPrompt
from supervisor_tui.screens.scorecard import ScoreCardScreen
from supervisor_tui.screens.whatif import WhatIfScreen
from supervisor_tui.store import StoreError
from supervisor_tui.widgets import (
    AgentBoard,
    EscalationFeed,
    EscalationPane,
    FreshnessBar,
    QueueTiles,
    TimelineBar,
    TopBar,
)
from supervisor_tui.widgets.bar import Bar
from supervisor_tui.widgets.footer import BoardFooter
from supervisor_tui.widgets.freshness import OUT_OF_DATE_WORD
from supervisor_tui.widgets.queuetable import QueueRow, QueueTable
from supervisor_tui.widgets.topbar import TopLine, clock_text

READ_BATCH = 5_000
FOLLOW_POLL_S = 0.2
"""How often the board asks the store when nothing rang: a store written by another process
(the demo's floor side, a second collector) rings no bell here. An empty read is a few
dozen microseconds."""
FOLLOW_EVERY_S = 0.15
"""Live, the board reads the store at most this often: a floor writing a hundred commits a
second is painted about seven times a second, each frame carrying what came since (a frame
costs the same for one event as for fifty; the eye sees no difference; an event is on
screen within this and a frame)."""
READ_WAIT_S = 30.0
"""The longest the board waits, as it closes, for a store call still running."""
T = TypeVar("T")


def snooze_choice(minutes: int) -> str:
    """A snooze length as the snooze dialog offers it: "15 minutes", "1 hour"."""
    if minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("{count} hour", "{count} hours", hours).format(count=hours)
    return ngettext("{count} minute", "{count} minutes", minutes).format(count=minutes)


def intraday_forms(
    adherence: tuple[float | None, float | None, int] | None,
    offered: tuple[int, float] | None,
    over: list[str],
) -> tuple[Text, ...]:
    """The intraday line from its longest form to its shortest: today's adherence and
    conformance with the agents out of adherence now, the contacts offered today against the
    forecast and the queues over it. Where the whole line does not fit, the alerts (agents
    out of adherence, queues over forecast) come first, so a narrow screen never cuts them
    off; the last form names the first queue over forecast and counts the others."""
    out = adherence[2] if adherence is not None else 0

    def figures(today: bool) -> list[Text]:
        parts: list[Text] = []
        if adherence is not None:
            day = Text()
            day.append(_("Adherence") + " ", "dim")
            day.append(fmt.percent(adherence[0]), "bold")
            day.append(" · " + _("conformance") + " ", "dim")
            day.append(fmt.percent(adherence[1]), "bold")
            if today:
                day.append(" " + _("today"), "dim")
            parts.append(day)
        if offered is not None:
            said = Text(_("offered today") + " ", "dim")
            said.append(f"{offered[0]}", "bold")
            said.append(" " + _("vs forecast {count}").format(count=f"{offered[1]:.0f}"), "dim")
            parts.append(said)
        return parts

    out_alert = (
        [Text("✖ " + _("{count} out of adherence").format(count=out), "bold red")] if out else []
    )

    def over_alert(queues: str) -> list[Text]:
        if not over:
            return []
        return [Text("▲ " + _("over forecast: {queues}").format(queues=queues), "bold yellow")]

    every_queue = ", ".join(over)
    whole, short = figures(True), figures(False)
    forms = [
        [*whole[:1], *out_alert, *whole[1:], *over_alert(every_queue)],
        [*short[:1], *out_alert, *short[1:], *over_alert(every_queue)],
    ]
    if len(over) > 1:  # as long as the second form otherwise: shown only when cut
        first = f"{over[0]} +{fmt.count(len(over) - 1)}"
        forms.append([*out_alert, *over_alert(first), *short])
    elif out or over:
        forms.append([*out_alert, *over_alert(every_queue), *short])
    lines: list[Text] = []
    for parts in forms:
        line = Text(no_wrap=True, overflow="ellipsis")
        for i, part in enumerate(parts):
            if i:
                line.append(" · ", "dim")
            line.append_text(part)
        lines.append(line)
    return tuple(lines)


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
    wall_pause_resume_s: float = 300.0
    """On the wall profile a pause resumes by itself after this long."""
    dialog_idle_s: float = 120.0
    """A dialog left this long without input closes by itself."""
    theme: str = "dark"
    bell: bool = False
    """Ring the terminal bell once for each new CRIT escalation."""
    bell_in_replay: bool = False
    wall_page_s: float = 15.0
    """On the wall profile, how long each page of a queue table too long for the screen shows."""
    long_break_s: float = 20 * 60.0
    intraday: IntradaySettings = field(default_factory=IntradaySettings)


class EventsArrived(Message):
    def __init__(self, events: list[Event]) -> None:
        super().__init__()
        self.events = events


class FloorReplaced(Message):
    """A whole floor replaces the board's: the store's newest snapshot as the board opens,
    or the hub's (this terminal fell behind or reconnected late)."""

    def __init__(self, state: FloorState) -> None:
        super().__init__()
        self.state = state


class BoardScreen(Screen[None]):
    ACTIONS: tuple[BoardAction, ...] = actions.ACTIONS
    """The board's actions: bindings, check_action, help and palette all come from here."""
    BINDINGS = actions.bindings(actions=ACTIONS)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "ACTIONS" in cls.__dict__:
            # Another registry: its bindings replace this one's (set before Textual merges
            # them, in super), on top of Textual's own.
            cls.BINDINGS = [*Screen.BINDINGS, *actions.bindings(actions=cls.ACTIONS)]
            kwargs["inherit_bindings"] = False
        super().__init_subclass__(**kwargs)

    def __init__(
        self,
        feed: FloorFeed,
        settings: FloorSettings,
        *,
        clock: Callable[[], float],
        desk: Desk,
        collector: Collector | None = None,
        replay: ReplayController | None = None,
        tick_s: float = 1.0,
    ) -> None:
        super().__init__(id="board")
        actions.speak(self._bindings)
        self.store = feed
        self.settings = settings
        self.clock = clock
        self.desk = desk
        self.collector = collector
        self.replay = replay
        self.tick_s = tick_s
        self.write_backs_pending = 0
        """Acks and notes in the outbox not yet delivered to their helpdesk."""
        self.painted_hook: Callable[[list[Event]], None] | None = None
        """Called once events are on screen (after the refresh that shows them): benchmarks."""
        self.state = replay.player.state if replay is not None else FloorState(settings.targets)
        # The board's widgets, made once: painting reaches them whichever screen is on top.
        self.topbar = TopBar(id="topbar")
        self.tiles = QueueTiles(id="tiles")
        self.queue_table = QueueTable(
            id="queue-table", page_s=settings.wall_page_s if settings.profile == "wall" else None
        )
        self.queue_table.display = False
        self.tiles.table = self.queue_table
        self._levels: dict[str, Severity | None] = {}
        self._severity: dict[str, Severity] | None = None
        """Each queue's worst open escalation, as of the last escalation change or tick."""
        self._rows: dict[str, QueueRow] = {}
        """The compact table's row of each queue, as last figured."""
        self._table_whole = True
        """The compact table is given every row at its next paint (queues or filter changed)."""
        self._unfigured: set[str] = set()
        """Queues an event touched since their row was figured (off screen: not yet)."""
        self._sla_levels: dict[str, Severity | None] = {}
        """Each ticket queue's level from its SLA clocks, as last counted."""
        self._to_count: dict[str, None] = {}
        """Ticket queues off screen whose open tickets are not counted yet, in order: counted a
        slice at a time between frames (``_count_some``), not all before the first paint."""
        self._counting: Timer | None = None
        self._view_only_shown = False
        self._resume_timer: Timer | None = None
        self._resume_at: float | None = None
        """When a wall's pause resumes by itself (monotonic), shown as a countdown."""
        self.agents = AgentBoard(id="agents", long_break_s=settings.long_break_s)
        on = settings.bell and (replay is None or settings.bell_in_replay)
        self.crit_bell = CritBell(self._ring_bell, since=self.clock(), enabled=on)
        self.feed = EscalationFeed(id="feed", show_detail=settings.profile == "desk")
        self.timeline = TimelineBar(id="timeline")
        self.freshness = FreshnessBar(id="freshness")
        self.paused = False
        self.held: list[Event] = []
        self.queue_filter: str | None = None
        self._bell: asyncio.Event | None = None
        self._selection_keys: tuple[bool, bool] | None = None
        """Whether an escalation is selected and open, as the footer's keys last showed."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._read_seq = 0
        self._in_flight: set[asyncio.Future[Any]] = set()
        self.intraday_line = Bar(id="intraday")
        self.intraday_line.display = False
        self._forecasts: dict[str, QueueForecast] = {}
        self._intraday_at = -math.inf
        self._intraday_seq = 0
        self._intraday_wall = -math.inf
        self._catching_up = False
        """The last read of the store was a full batch: more are waiting."""
        self._settled = False
        """The floor opened has read what the store held after it (a replay: at once): the
        queues off screen are counted from then on, not before the floor is first shown."""
        self._froze_heap = False
        """This board moved what it had folded when it first caught up out of the
        collector's sight (``gc.freeze``), and gives it back when it closes."""
        self._thaw_froze = False
        """The restore of the newest snapshot froze what it built (``newest_floor``)."""

    # -- what this board is ---------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        if self.replay is not None:
            return self.replay.mode
        if self.store.view_only:
            return Mode.VIEW_ONLY
        return Mode.LIVE if self.store.link_status() is None else Mode.HUB

    @property
    def view_only(self) -> bool:
        """A hub terminal on a token of scope "view" (the hub says so when it greets)."""
        return self.store.view_only

    @classmethod
    def binding_ids(cls) -> set[str]:
        """Every binding a site may remap with the config's [keys] table."""
        return actions.binding_ids(cls.ACTIONS)

    def _replay(self) -> ReplayController:
        """The replay controller, for the replay keys (check_action offers them only then)."""
        assert self.replay is not None, "a replay key outside a replay"
        return self.replay

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.topbar
        yield self.tiles
        yield self.queue_table
        yield Static(
            Text(
                _(
                    "SL = {sl} · abandon = {abandon} · need = Erlang C for the SL target "
                    "(press ? for every formula)"
                ).format(sl=_(SL_FORMULA), abandon=_(ABANDON_FORMULA)),
                style="dim",
            ),
            id="formulas",
        )
        yield self.intraday_line
        with Horizontal(id="main"):
            yield self.agents
            yield EscalationPane(self.feed, id="feed-pane")
        if self.replay is not None:
            yield self.replay.score_line
            yield self.timeline
        yield self.freshness
        yield BoardFooter()

    def _ring_bell(self) -> None:
        self.app.bell()

    def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._bell = asyncio.Event()
        self.store.add_listener(self._ring)
        feed = self.feed
        feed.set_realert({rule.id: rule.realert_after_s for rule in self.settings.rules.rules})
        feed.focus()
        if self.replay is not None:
            self._settled = True
            self.replay.start()
            self.repaint_all()
            self.set_interval(0.1, partial(self.replay.step, self), name="replay")
            self._start_clocks()
            return
        self.store.start()
        self._paint_chrome(self.clock())
        self.follow_store()
        self._start_clocks()

    async def _off_loop(self, call: Callable[[], T]) -> T:
        """A store call in a thread, which the board waits for before it goes: a store
        closed under a read still in flight would take the process down."""
        future = asyncio.get_running_loop().run_in_executor(None, call)
        self._in_flight.add(future)
        future.add_done_callback(self._in_flight.discard)
        return await asyncio.shield(future)

    async def on_unmount(self) -> None:
        replay_froze = self.replay is not None and self.replay.player.freeze_heap
        if self._froze_heap or self._thaw_froze or replay_froze:
            self._froze_heap = self._thaw_froze = False
            gc.unfreeze()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=READ_WAIT_S)

    def _freeze_heap(self) -> None:
        """The floor folded so far (hundreds of thousands of objects at the issue's floor)
        lives as long as the board: each full collection walked all of it, a pause of
        0.2 s at a tenth of the floor, two or three a minute, in whichever frame it fell.
        Frozen, a full collection walks only what came after. The young generations are
        collected first; a cycle already garbage in the old one stays until the board
        closes (objects freed by their count, as the floor's are, go as before)."""
        if not self._froze_heap and self.is_mounted:
            self._froze_heap = True
            gc.collect(1)
            gc.freeze()

    def _ring(self, seq: int) -> None:
        """Called by the store after a commit, from whichever thread committed."""
        loop, bell = self._loop, self._bell
        if loop is not None and bell is not None and not loop.is_closed():
            loop.call_soon_threadsafe(bell.set)

    # -- following the store --------------------------------------------------------------

    @work(exclusive=True, group="follow", name="follow-store")
    async def follow_store(self) -> None:
        assert self._bell is not None
        counted_at = -math.inf
        read_at = -math.inf
        if self.replay is None and self._read_seq == 0:
            # a floor under way opens at its newest snapshot and folds only what came since
            opened = await self._off_loop(
                partial(newest_floor, self.store, self.settings.targets, freeze_heap=True)
            )
            self._thaw_froze = True  # unfrozen as the board closes, whatever it found
            if opened is not None:
                self._read_seq = opened.seq
                self.post_message(FloorReplaced(opened))
        while True:
            if self.replay is None and not self._catching_up:
                # what was written since the last read is read at the next frame's turn
                await asyncio.sleep(max(0.0, read_at + FOLLOW_EVERY_S - time.monotonic()))
            read_at = time.monotonic()
            try:
                events = await self._off_loop(
                    partial(self.store.read_from, self._read_seq, READ_BATCH)
                )
            except StoreError as exc:
                self.say(exc.said, title=_("Store"), severity="error", timeout=10)
                await asyncio.sleep(2)
                continue
            snapshot = self.store.take_snapshot()
            if snapshot is not None:  # the hub resent the whole floor
                self._read_seq, state = snapshot
                self.post_message(FloorReplaced(state))
                continue
            if events:
                self._read_seq = events[-1].seq
                self.post_message(EventsArrived(events))
                self._catching_up = len(events) == READ_BATCH
                if self._catching_up:
                    continue
            self._catching_up = False
            self._settle()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._bell.wait(), FOLLOW_POLL_S)
            self._bell.clear()
            # the bar shows it once a second: no need to ask the store after every commit
            if time.monotonic() - counted_at >= 1.0:
                counted_at = time.monotonic()
                with contextlib.suppress(StoreError):
                    self.write_backs_pending = await self._off_loop(self.store.outbox_pending_count)

    @on(FloorReplaced)
    def _floor_replaced(self, message: FloorReplaced) -> None:
        self._settled = self.replay is not None
        self.state = message.state
        self.held.clear()
        self.repaint_all()
        self._paint_chrome(self.clock())

    @on(EventsArrived)
    def _events_arrived(self, message: EventsArrived) -> None:
        if self.paused:
            self.held.extend(message.events)
            self._paint_chrome(self.clock())
            return
        self.state.apply_all(message.events)
        changes = self.state.take_changes()
        # The top bar and freshness bar move with the clock tick; between ticks they repaint
        # only for what they count (escalations needing an ack, agents joining).
        self._paint(changes, chrome=bool(changes.escalations) or changes.agents_added)
        if self.painted_hook is not None:
            hook, events = self.painted_hook, message.events
            self.call_after_refresh(lambda: hook(events))
        if not self._froze_heap and not self._catching_up and self.replay is None:
            self.call_after_refresh(self._freeze_heap)
        if not self._catching_up:
            self.call_after_refresh(self._settle)

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

    def _paint(self, changes: Changes, *, chrome: bool = True) -> None:
        now = self.clock()
        tiles = self.tiles
        if changes.queues_added:
            for queue_id, queue in self.state.queues.items():
                if not tiles.knows(queue_id):
                    shown = self.queue_filter in (None, queue_id)
                    tiles.add(queue_id, queue.name, queue.channel.value, shown=shown)
                    changes.queues.add(queue_id)
            self.call_after_refresh(self._refit)
        if changes.escalations:
            self._severity = None
        if changes.queues or changes.escalations:
            touched = changes.queues | {
                e.queue_id
                for i in changes.escalations
                if (e := self.state.escalations.get(i)) is not None and e.queue_id
            }
            self._paint_queues(touched, now)
        board = self.agents
        if changes.agents_added:
            board.set_agents(self.state.agents, now)
        elif changes.agents:
            board.agents_changed(changes.agents)
        if changes.escalations:
            self.crit_bell.hear(changes.escalations, self.state.escalations)
            self.feed.set_live_titles(self.settings.rules.live_titles(self.state, now))
            self.feed.update(self.state.escalations, now, changes.escalations)
            self._refresh_selection_keys()  # the one selected may have closed
        if chrome:
            self._paint_chrome(now)

    def on_resize(self) -> None:
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        """Tiles or the compact table, whichever this screen holds, painted at once."""
        made = self.tiles.fit()
        if not self.paused:
            self._paint_queues(self.state.queues, self.clock(), aged=True)
        elif made:  # paused, the tiles the screen now has room for show the floor as held
            self._paint_queues(made, self.clock())

    def _paint_queues(self, queue_ids: Iterable[str], now: float, *, aged: bool = False) -> None:
        """The tiles of these queues, worst first; or, when the tiles do not fit, the
        compact table of every queue. ``aged``: the clock moved (or the screen did), so the
        figures on screen are refigured even if no event touched them."""
        if aged or self._severity is None:
            self._severity = self._queue_severity()
        severity = self._severity
        tiles = self.tiles
        if tiles.compact:
            self._paint_table(set(queue_ids), now, severity, aged=aged)
            return
        for queue_id in queue_ids:
            self._show_tile(queue_id, now, severity)
        tiles.order_by_severity(self._levels)

    def _paint_table(
        self, touched: set[str], now: float, severity: dict[str, Severity], *, aged: bool
    ) -> None:
        """The compact table: every queue has a row, but only the rows on screen are figured
        (a thousand queues, thirty lines). A touched queue off screen only takes its new
        level, for the order, and is figured when it comes into sight."""
        state, rows, table = self.state, self._rows, self.queue_table
        self._unfigured |= touched
        shown = set(table.shown_ids)
        only = self.queue_filter
        # Every row again (sorted) once a second and when the queues or the filter change;
        # between, the rows that changed are moved into place.
        whole = aged or self._table_whole
        changed: dict[str, QueueRow] = {}
        # The order needs every queue's level: its worst escalation at once, its SLA clocks
        # (a count of its open tickets once one changed) on screen at once, off screen at the
        # next tick: a busy ticket queue is counted once a second, not on every event.
        for queue_id in state.queues if aged else touched:
            queue = state.queues.get(queue_id)
            row = rows.get(queue_id)
            if queue is None:
                continue
            if row is None:
                self._figure_row(queue_id, now, severity, defer=queue_id not in shown)
                whole = True
                continue
            level = self._level(
                queue, now, severity, recount=aged or queue_id in shown, defer=queue_id not in shown
            )
            self._levels[queue_id] = level
            if level is not row.severity:
                rows[queue_id] = changed[queue_id] = dataclasses.replace(row, severity=level)
        if whole:
            self._table_whole = False
            table.show(
                [
                    row
                    for queue_id in state.queues
                    if only in (None, queue_id) and (row := rows.get(queue_id)) is not None
                ],
                now,
            )
        else:
            table.update({k: row for k, row in changed.items() if only in (None, k)}, now)
        # the rows on screen: figured now if an event touched them or the clock moved them;
        # a row figured may move off screen and bring one not figured yet into sight
        done: set[str] = set()
        for _pass in range(3):
            figured: dict[str, QueueRow] = {}
            for queue_id in table.shown_ids:
                if queue_id in done or not (aged or queue_id in self._unfigured):
                    continue
                done.add(queue_id)
                if self._figure_row(queue_id, now, severity):
                    figured[queue_id] = rows[queue_id]
            if not figured:
                break
            table.update(figured, now)
        self._count_later()

    COUNT_SLICE_TICKETS = 5_000
    """Open tickets counted per slice for the queues off screen (about 15 ms): a floor just
    opened counts its 200,000 between frames in about a second instead of before its first."""

    @property
    def counting_tickets(self) -> bool:
        """Whether queues off screen are still to have their open tickets counted (after the
        board opens or a replay seeks: a slice between frames until every queue is)."""
        return bool(self._to_count) or self._counting is not None

    def _settle(self) -> None:
        if not self._settled:
            self._settled = True
            self._count_later()

    def _count_later(self) -> None:
        if self._to_count and self._counting is None and self._settled:
            self._counting = self.set_timer(0.01, self._count_some, name="count-tickets")

    def _count_some(self) -> None:
        """A slice of the queues off screen counted, their levels (worst first) put right."""
        self._counting = None
        now, state, budget = self.clock(), self.state, self.COUNT_SLICE_TICKETS
        counted: list[str] = []
        while self._to_count and budget > 0:
            queue_id = next(iter(self._to_count))
            del self._to_count[queue_id]
            queue = state.queues.get(queue_id)
            if queue is None or tickets_counted(state, queue, now):
                continue
            self._sla_levels[queue_id] = sla_level(state, queue, now)
            budget -= len(queue.open_tickets)
            counted.append(queue_id)
        if counted and not self.paused:
            self._paint_queues(counted, now)
        self._count_later()

    def _figure_row(
        self, queue_id: str, now: float, severity: dict[str, Severity], *, defer: bool = False
    ) -> bool:
        """The queue's row of the compact table figured anew; whether it changed. ``defer``
        (a row off screen): open tickets not counted yet are left to ``_count_some``, and
        the row is figured again when it comes into sight."""
        self._unfigured.discard(queue_id)
        figures = self._queue_figures(queue_id, now, severity, defer=defer)
        if figures is None:
            return False
        if queue_id in self._to_count:
            self._unfigured.add(queue_id)
        row = QueueRow(*figures, order=self.tiles.arrival(queue_id))
        if row == self._rows.get(queue_id):
            return False
        self._rows[queue_id] = row
        return True

    def _level(
        self,
        queue: QueueView,
        now: float,
        severity: dict[str, Severity],
        *,
        recount: bool = True,
        defer: bool = False,
    ) -> Severity | None:
        """A queue's level: the worst of its open escalations and, for a ticket queue, its
        SLA clocks (as last counted, unless ``recount``; ``defer``: not counted yet, they
        are left to ``_count_some``)."""
        queue_id = queue.queue_id
        level = severity.get(queue_id)
        if recount or queue_id not in self._sla_levels:
            if defer and not tickets_counted(self.state, queue, now):
                self._to_count[queue_id] = None
            else:
                self._to_count.pop(queue_id, None)
                self._sla_levels[queue_id] = sla_level(self.state, queue, now)
        backlog = self._sla_levels.get(queue_id)
        if backlog is not None and (level is None or backlog.rank > level.rank):
            level = backlog
        return level

    def _queue_figures(
        self, queue_id: str, now: float, severity: dict[str, Severity], *, defer: bool = False
    ) -> tuple[QueueKpis, Severity | None, str | None] | None:
        """A queue's figures, its level (the worst of its open escalations and, for a ticket
        queue, its SLA clocks) and, when its sources are not current, why and how old."""
        queue = self.state.queues.get(queue_id)
        if queue is None:
            return None
        kpis = queue_kpis(self.state, queue, now, count_tickets=not defer)
        level = self._level(queue, now, severity, defer=defer)
        self._levels[queue_id] = level
        stale: str | None = None
        if self.replay is None:  # a recording is as old as it is: nothing in it is stale
            found = queue_condition(
                self.state, queue_id, now, self.settings.stale_after_s, cut_off=self._cut_off()
            )
            if found is not None:
                condition, age = found
                stale = _(OUT_OF_DATE_WORD.get(condition, condition.value.upper()))
                if age is not None and condition is not SourceCondition.NEVER:
                    stale += f" {fmt.duration(age)}"
        return kpis, level, stale

    def _show_tile(self, queue_id: str, now: float, severity: dict[str, Severity]) -> None:
        tile = self.tiles.tile(queue_id)
        if tile is None or not tile.display:
            return
        if tile.region and not tile.region.overlaps(self.tiles.region):
            return  # scrolled out of sight: the clock tick paints it when it comes back
        figures = self._queue_figures(queue_id, now, severity)
        if figures is not None:
            tile.show(*figures, forecast=self._forecasts.get(queue_id))

    def _mode(self) -> str:
        if self.replay is not None:
            return self.replay.mode_text()
        return "paused" if self.paused else "live"

    def _cut_off(self) -> bool:
        """A terminal that hears nothing from its hub: nothing on it is current."""
        link = self.store.link_status()
        return link is not None and link != LINK_LIVE

    def _paint_chrome(self, now: float) -> None:
        if self.view_only != self._view_only_shown:
            self._view_only_shown = self.view_only
            self.refresh_bindings()
        attention = sum(1 for e in self.state.escalations.values() if e.needs_attention(now))
        if self.replay is not None:
            recording = self.replay.player.recording
            self.timeline.show(
                recording.start,
                recording.end,
                now,
                [m.at for m in recording.marks],
                self.settings.targets.offset_at(now),
            )
        link = self.store.link_status()
        collector = self.collector
        status = board_status(
            self.state.sources,
            now,
            self.settings.stale_after_s,
            hub_link=link,
            store_trouble=collector.store_trouble if collector is not None else None,
            paused=self.paused,
            replay=self.replay is not None,
        )
        queue = self.state.queues.get(self.queue_filter) if self.queue_filter else None
        self.topbar.show(
            TopLine(
                floor=floor_words(self.settings.floor_name),
                now=now,
                utc_offset_s=self.settings.targets.offset_at(now),
                status=status,
                mode=self._mode(),
                held=len(self.held),
                attention=attention,
                agents=self.agents.summary(),
                queue_filter=queue.name if queue is not None else self.queue_filter,
                view_only=self.view_only,
                resume_in=None if self._resume_at is None else self._resume_at - time.monotonic(),
                paused=self.paused,
            )
        )
        self.freshness.show(
            self.state.sources,
            now,
            self.settings.stale_after_s,
            self.write_backs_pending,
            link=link,
            alert=self._store_alert(),
            paused=self.paused,
            replay=self.replay is not None,
        )

    def _store_alert(self) -> str | None:
        collector = self.collector
        if collector is None or collector.store_trouble is None:
            return None
        return _("STORE REFUSES WRITES: {trouble} · {count} events kept, retrying").format(
            trouble=collector.store_trouble, count=fmt.count(collector.events_waiting)
        )

    def _tick(self) -> None:
        """Every clock on the board moves (after a seek, or in one go)."""
        self._tick_tiles()
        self._tick_agents()
        self._tick_feed()

    def _start_clocks(self) -> None:
        """Once a second each, a third of a second apart: the tiles, the agents board and the
        feed each get a frame of their own instead of one big frame for the whole screen."""
        self.set_interval(self.tick_s, self._tick_tiles, name="clock-tiles")
        for delay, tick in (
            (self.tick_s / 3, self._tick_agents),
            (2 * self.tick_s / 3, self._tick_feed),
        ):
            self.set_timer(delay, partial(self.set_interval, self.tick_s, tick))

    def _tick_tiles(self) -> None:
        now = self.clock()
        if not self.paused:
            self._paint_intraday(now)
            self._paint_queues(self.state.queues, now, aged=True)
        self._paint_chrome(now)

    INTRADAY_EVERY_S = 10.0
    INTRADAY_EVENTS = 1000
    """…or sooner when this many events came in since (the board catching up at start), or
    ten for each queue on a bigger floor: the figures cost a forecast per queue, and a floor
    of a thousand queues brings a thousand events in two seconds, not in a burst."""

    INTRADAY_AGENTS = 2_000
    """Up to this many agents the figures are refigured every INTRADAY_EVERY_S; a bigger floor
    waits longer in proportion (a minute at 10,000 agents: adherence walks every agent's day
    and the forecasts every queue's, and half-hour figures do not move in ten seconds)."""

    def _intraday_every_s(self) -> float:
        agents = max(len(self.state.agents), len(self.state.intraday.schedule))
        return self.INTRADAY_EVERY_S * max(1.0, agents / self.INTRADAY_AGENTS)

    def _paint_intraday(self, now: float, *, force: bool = False) -> None:
        """Forecast against actual on the tiles, the schedule on the agents board, adherence
        and conformance on the floor line: every ten seconds of the board's clock (a half
        hour's figures move slowly), at once after a seek or a burst of events."""
        if self._catching_up and not force:
            return  # a store read in batches: once, when the board has caught up
        every_s = self._intraday_every_s()
        scale = every_s / self.INTRADAY_EVERY_S
        burst = scale * max(self.INTRADAY_EVENTS, 10 * len(self.state.queues))
        # figures made before the board had read anything (its clock may tick before the
        # store's first batch lands) never stand: the first events refigure them
        caught_up = self.state.seq - self._intraday_seq < burst and (
            self._intraday_seq > 0 or self.state.seq == 0
        )
        if not force and caught_up and abs(now - self._intraday_at) < every_s:
            return
        # A replay at 60x moves the clock a minute a second and brings a burst every tick:
        # its half-hour figures are refigured at most every INTRADAY_EVERY_S of the wall's
        # time (a forecast of every queue of a 1,000-queue floor is about a quarter second).
        wall = time.monotonic()
        if (
            not force
            and self.replay is not None
            and wall - self._intraday_wall < self.INTRADAY_EVERY_S
        ):
            return
        self._intraday_at, self._intraday_seq, self._intraday_wall = now, self.state.seq, wall
        state, settings = self.state, self.settings.intraday
        book = state.intraday
        self._forecasts = {
            queue_id: queue_forecast(
                state,
                queue_id,
                now,
                weeks=settings.history_weeks,
                margin=settings.over_forecast_margin,
                min_over=settings.over_forecast_min,
            )
            for queue_id, queue in state.queues.items()
            if queue.channel.is_realtime
        }
        plans: dict[str, AgentPlan] = {
            agent_id: agent_plan(book, agent_id, now, settings.adherence_grace_s)
            for agent_id in book.schedule
        }
        self.agents.set_plans(plans)
        if not book.schedule and not any(f.interval for f in self._forecasts.values()):
            self.intraday_line.display = False
            return
        adherence: tuple[float | None, float | None, int] | None = None
        if book.schedule:
            day = floor_adherence(state, self.settings.targets.midnight(now), now)
            out = sum(1 for p in plans.values() if p.out_since is not None)
            adherence = (day.adherence, day.conformance, out)
        over = [state.queues[q].name for q, f in self._forecasts.items() if f.over]
        with_forecast = [f for f in self._forecasts.values() if f.forecast_today is not None]
        offered: tuple[int, float] | None = None
        if with_forecast:
            offered = (
                sum(f.actual_today for f in with_forecast),
                sum(f.forecast_today or 0.0 for f in with_forecast),
            )
        self.intraday_line.set_forms(intraday_forms(adherence, offered, over))
        self.intraday_line.display = True

    def _tick_agents(self) -> None:
        if not self.paused:
            self.agents.tick(self.clock())

    def _tick_feed(self) -> None:
        if not self.paused:
            now = self.clock()
            self.feed.set_live_titles(self.settings.rules.live_titles(self.state, now))
            self.feed.tick(now)

    # -- actions --------------------------------------------------------------------------

    @on(EscalationFeed.Selected)
    def _selection_moved(self) -> None:
        if self.app.screen_stack:  # a selection that arrives as the app closes changes nothing
            self._refresh_selection_keys()

    def _refresh_selection_keys(self) -> None:
        """The footer's keys again, when what they act on changed from nothing to something
        or from open to closed: not for each escalation that arrives on top (rebuilding the
        footer restyles its keys; a busy floor selects anew several times a second)."""
        esc = self.feed.selected
        keys = (esc is not None, esc is not None and esc.is_open)
        if keys != self._selection_keys:
            self._selection_keys = keys
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """From the registry: False hides a key (not this mode's, or a dialog is open), None
        greys it out (nothing selected to act on)."""
        entry = self._actions.get(action)
        if entry is None:
            return True  # Textual's own (the palette, focus, ...)
        if not self.offers(entry):
            return False
        if not entry.beside_dialogs and self.app.screen is not self:
            return False
        if entry.selection is not Selection.NONE:
            esc = self.feed.selected
            if esc is None or (entry.selection is Selection.OPEN and not esc.is_open):
                return None
        return True

    def offers(self, entry: BoardAction) -> bool:
        """This board's mode takes the action (the palette offers it even from on top)."""
        return self.mode in entry.modes

    @functools.cached_property
    def _actions(self) -> dict[str, BoardAction]:
        return actions.by_name(self.ACTIONS)

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
        esc = self.feed.selected
        if esc is None:
            self.say(_("No escalation is selected."), severity="warning")
        return esc

    async def _operator(
        self, what: str, esc: Escalation, action: str, text: str, call: Callable[[], object]
    ) -> bool:
        if self.replay is not None:  # training: in memory, scored, never recorded
            self.replay.act(self, esc, action, text, self.settings.operator)
            return True
        return await self._run_command(what, call)

    async def _run_command(self, what: str, call: Callable[[], object]) -> bool:
        try:
            await self._off_loop(call)
        except CommandRefused as exc:
            self.say(exc.said, title=what, severity="warning")
            return False
        except StoreError as exc:
            said = _("not saved: {error}").format(error=exc.said)
            self.say(said, title=what, severity="error", timeout=15)
            return False
        return True

    @work(exclusive=True, group="command")
    async def action_ack(self) -> None:
        esc = self._selected()
        if esc is None:
            return
        note = await self.app.push_screen_wait(
            TextPrompt(
                _("Acknowledge"), placeholder=_("note (optional)"), subject=self.feed.title_of(esc)
            )
        )
        if note is None:
            return
        saved = await self._operator(
            _("Ack"), esc, "ack", note, partial(self.desk.ack, esc, self.settings.operator, note)
        )
        if saved:
            self.feed.select_next_open(esc.escalation_id)
        if saved and self.replay is None:
            self.say(
                _("Acked: {title}").format(title=self.feed.title_of(esc)), title=_("Ack saved")
            )

    @work(exclusive=True, group="command")
    async def action_note(self) -> None:
        esc = self._selected()
        if esc is None:
            return
        note = await self.app.push_screen_wait(
            TextPrompt(
                _("Add a note"),
                placeholder=_("note"),
                required=True,
                subject=self.feed.title_of(esc),
            )
        )
        if note:
            await self._operator(
                _("Note"),
                esc,
                "note",
                note,
                partial(self.desk.note, esc, self.settings.operator, note),
            )

    @work(exclusive=True, group="command")
    async def action_snooze(self) -> None:
        esc = self._selected()
        if esc is None:
            return
        choice = await self.app.push_screen_wait(
            ChoiceScreen(
                _("Snooze: {title}").format(title=self.feed.title_of(esc)),
                [(minutes, snooze_choice(int(minutes))) for minutes in ("5", "15", "30", "60")],
            )
        )
        if choice is not None:
            await self._operator(
                _("Snooze"),
                esc,
                "snooze",
                choice,
                partial(self.desk.snooze, esc, self.settings.operator, float(choice)),
            )

    @work(exclusive=True, group="command")
    async def action_resolve(self) -> None:
        esc = self._selected()
        if esc is None:
            return
        reason = await self.app.push_screen_wait(
            TextPrompt(
                _("Resolve"),
                placeholder=_("what was done (optional)"),
                subject=self.feed.title_of(esc),
            )
        )
        if reason is not None:
            saved = await self._operator(
                _("Resolve"),
                esc,
                "resolve",
                reason,
                partial(self.desk.resolve, esc, self.settings.operator, reason),
            )
            if saved:
                self.feed.select_next_open(esc.escalation_id)

    def action_detail(self) -> None:
        """The selected escalation in full: title then and now, ticket, every step."""
        esc = self.feed.selected
        if esc is None:
            return
        queue = self.state.queues.get(esc.queue_id) if esc.queue_id else None
        view = EscalationView(
            now_title=self.feed.title_of(esc),
            queue_name=queue.name if queue is not None else None,
            show_subject=self.settings.profile == "desk",
            ticket_page=(
                source.ticket_page(esc.ticket_id)
                if esc.ticket_id
                and esc.ticket_source
                and (source := self.state.sources.get(esc.ticket_source)) is not None
                else None
            ),
        )
        offset = self.settings.targets.utc_offset_s
        blocks = detail_text(esc, view, lambda ts: clock_text(ts, offset), self.clock())
        self.app.push_screen(EscalationDetail(blocks))

    @work(exclusive=True, group="command")
    async def action_filter(self) -> None:
        options = [("*", _("All queues"))] + [
            (queue.queue_id, queue.name) for queue in self.state.queues.values()
        ]
        choice = await self.app.push_screen_wait(ChoiceScreen(_("Show which queue?"), options))
        if choice is not None:
            self.set_queue_filter(None if choice == "*" else choice)

    def set_queue_filter(self, queue_id: str | None) -> None:
        self.queue_filter = queue_id
        self.tiles.set_shown(lambda shown: queue_id in (None, shown))
        self._refit()
        self.agents.set_queue_filter(queue_id)
        self.feed.set_queue_filter(queue_id)
        self._paint_chrome(self.clock())

    def _auto_resume(self) -> None:
        if self.paused:
            self.action_pause()

    def action_pause(self) -> None:
        self.paused = not self.paused
        if self._resume_timer is not None:
            self._resume_timer.stop()
            self._resume_timer = self._resume_at = None
        if self.paused and self.settings.profile == "wall":
            # a stray key must not freeze a wall nobody watches over for ever
            wait = self.settings.wall_pause_resume_s
            self._resume_at = time.monotonic() + wait
            self._resume_timer = self.set_timer(wait, self._auto_resume, name="auto-resume")
        if not self.paused and self.held:
            held, self.held = self.held, []
            self.state.apply_all(held)
            self._paint(self.state.take_changes())
        self._paint_chrome(self.clock())
        self.say(
            _("Board paused: events are still recorded.")
            if self.paused
            else _("Board live again."),
            timeout=3,
        )

    def _project(self, scenario: Scenario) -> list[QueueWhatIf]:
        now = self.clock()
        offset = self.settings.targets.offset_at(now)
        return what_if(
            self.state,
            scenario,
            now,
            weeks=self.settings.intraday.history_weeks,
            intervals=self.settings.intraday.whatif_intervals,
            clock_label=lambda ts: clock_text(ts, offset)[:5],
        )

    @work(exclusive=True, group="command")
    async def action_whatif(self) -> None:
        """What-if: moves, additions or targets, projected; nothing reaches a helpdesk. The
        decision may be kept as a note on an open escalation, by the note command's path."""
        queues = [(q.queue_id, q.name, q.channel.is_realtime) for q in self.state.queues.values()]
        screen = WhatIfScreen(queues, self._project)
        note = await self.app.push_screen_wait(screen)
        if not note or self.check_action("note", ()) is False:
            return
        open_escalations = [e for e in self.state.escalations.values() if e.is_open]
        if not open_escalations:
            self.say(_("No open escalation to note it on."), severity="warning")
            return
        selected, touched = self.feed.selected, set(screen.scenario.queues())
        # the escalations of the queues the what-if moves first, then the selected one
        open_escalations.sort(
            key=lambda e: (e.queue_id not in touched, e is not selected, -e.raised_at)
        )
        choice = await self.app.push_screen_wait(
            ChoiceScreen(
                _("Record the what-if on which escalation?"),
                [(e.escalation_id, self.feed.title_of(e)) for e in open_escalations[:20]],
            )
        )
        esc = self.state.escalations.get(choice) if choice else None
        if esc is None:
            return
        text = await self.app.push_screen_wait(
            TextPrompt(_("Add a note"), value=note, required=True, subject=self.feed.title_of(esc))
        )
        if text:
            await self._operator(
                _("Note"),
                esc,
                "note",
                text,
                partial(self.desk.note, esc, self.settings.operator, text),
            )

    def action_help(self) -> None:
        keys = [
            (entry.shown_key, entry.help)
            for entry in self.ACTIONS
            if not entry.name or self.check_action(entry.name, ()) is not False
        ]
        limits = [
            (name, limit)
            for name, source in sorted(self.state.sources.items())
            for limit in source.limits
        ]
        self.app.push_screen(HelpScreen(keys, limits))

    # -- the board's face for whoever moves it (the replay controller) -------------------

    def repaint_all(self) -> None:
        """After a seek the floor is another one: every tile, agent and escalation."""
        state = self.state
        state.take_changes()
        self._table_whole = True  # queues of the floor before may be gone
        everything = Changes(
            queues=set(state.queues),
            agents=set(state.agents),
            escalations=set(state.escalations),
            sources=set(state.sources),
            agents_added=True,
            queues_added=True,
        )
        self.tiles.set_shown(
            lambda shown: shown in state.queues and self.queue_filter in (None, shown)
        )
        self._paint_intraday(self.clock(), force=True)
        self._paint(everything)
        self.feed.update(state.escalations, self.clock(), None)

    def paint_changes(self, *, chrome: bool = True) -> None:
        self._paint(self.state.take_changes(), chrome=chrome)

    def paint_chrome(self) -> None:
        self._paint_chrome(self.clock())

    def tick(self) -> None:
        self._tick()

    def select_escalation(self, escalation_id: str) -> None:
        self.feed.select(escalation_id)

    def show_score_card(self, markdown: str, written: tuple[Path, Path]) -> None:
        self.app.push_screen(ScoreCardScreen(markdown, written))

    # -- replay keys ----------------------------------------------------------------------

    def action_replay_play(self) -> None:
        self._replay().play(self)

    def action_replay_faster(self) -> None:
        self._replay().faster(self)

    def action_replay_slower(self) -> None:
        self._replay().slower(self)

    def action_replay_seek(self, seconds: int) -> None:
        self._replay().seek(self, seconds)

    def action_replay_next(self) -> None:
        self._replay().jump_to_mark(self, forward=True)

    def action_replay_previous(self) -> None:
        self._replay().jump_to_mark(self, forward=False)

    @work(exclusive=True, group="command")
    async def action_replay_goto(self) -> None:
        replay = self._replay()
        t = replay.player.t
        offset = self.settings.targets.offset_at(t)
        answer = await self.app.push_screen_wait(
            TextPrompt(
                _("Go to a clock time"),
                placeholder=_("HH:MM or HH:MM:SS (now {clock})").format(
                    clock=clock_text(t, offset)
                ),
            )
        )
        if not answer:
            return
        target = replay.clock_target(answer, offset)
        if target is None:
            said = _("Not a clock time: {answer} (use HH:MM or HH:MM:SS)").format(
                answer=repr(answer)
            )
            self.say(said, severity="warning")
            return
        replay.seek_to(self, target)

    def finish_training(self) -> None:
        """Write the score card (markdown and JSON) and show it."""
        if self.replay is not None:
            self.replay.finish_training(self)

    async def action_quit(self) -> None:
        if self.replay is not None and self.replay.quit_first(self):
            return
        self.app.exit()
