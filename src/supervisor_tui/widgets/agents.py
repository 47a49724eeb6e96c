"""The agents board: a Line-API grid of agents, state and time in state.

Agents are grouped by state (available first, as STATE_LOOK lists them), the longest in
their state first: who has been on a break too long is at the top of the breaks, and a
place changes only when an agent's state does (the clock never reorders). Each screen line
holds as many agents as fit across; a line is rendered from a cache keyed by what it shows,
so the once-a-second clock repaints only the visible lines.
"""

from __future__ import annotations

from bisect import bisect_left

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from supervisor_tui.core import fmt
from supervisor_tui.core.projection import AgentView
from supervisor_tui.core.schedule import AgentPlan, activity_word
from supervisor_tui.i18n import N_, _
from supervisor_tui.model import AgentState
from supervisor_tui.widgets.lines import align_right, blank, cut

CELL_WIDTH = 46
NAME_CELLS = 12
"""The name column's usual width: enough for "Ana B.", "王秀英" or "佐藤 美咲"."""
WIDE_NAME_CELLS = 16
"""The most the name column widens to, for a floor whose names are longer ("Nguyễn Thị
Thanh", "Олена Коваленко"): taken from the work column, so an agent's state and time keep
their places."""
PLAN_CELLS = 9
LABEL_CELLS = 11
"""The state column ("● Available", "◌ lunch")."""
SHORT_PLAN_CELLS = 7
SHOWS_WORK = frozenset({AgentState.BUSY, AgentState.WRAP_UP, AgentState.UNKNOWN})
STATE_LOOK: dict[AgentState, tuple[str, str, str]] = {
    AgentState.AVAILABLE: ("●", N_("Available"), "green"),
    AgentState.BUSY: ("◉", N_("Busy"), "dodger_blue1"),
    AgentState.WRAP_UP: ("◎", N_("Wrap-up"), "magenta"),
    AgentState.AWAY: ("◌", N_("Away"), "yellow"),
    AgentState.OFFLINE: ("○", N_("Offline"), "grey50"),
    AgentState.UNKNOWN: ("◇", N_("No status"), "grey70"),
}
"""Glyph, word (translated where drawn) and colour of each agent state."""
STATE_ORDER = {state: rank for rank, state in enumerate(STATE_LOOK)}
LONG_BREAK_S = 20 * 60.0


class AgentBoard(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    AgentBoard { height: 1fr; border: round $primary 40%; }
    AgentBoard:focus { border: round $accent; }
    """

    def __init__(self, *, id: str | None = None, long_break_s: float = LONG_BREAK_S) -> None:
        super().__init__(id=id)
        self.long_break_s = long_break_s
        """Away longer than this shows the time in state in red."""
        self._agents: dict[str, AgentView] = {}
        self._order: list[str] = []
        self._keys: list[tuple[int, int, float, str, str]] = []
        """Each agent's place on the board, in the order shown (``board_order``)."""
        self._counts: dict[AgentState, int] | None = None
        self._counted: dict[str, AgentState] = {}
        """The state each agent shown is counted in: a change moves one count, not a recount
        of every agent (10,000 agents, ten changes a second in a replay at 60x)."""
        self._moving: set[str] = set()
        """Agents whose place changed since the last tick: they move at the next."""
        self._queue_filter: str | None = None
        self._now = 0.0
        self._cache: dict[int, tuple[tuple[object, ...], Strip]] = {}
        self._placed: dict[str, tuple[int, int, float, str, str]] = {}
        """Each agent's place as last sorted: a change of state moves the agent."""
        self._cells: dict[str, tuple[tuple[object, ...], int, list[Segment], int]] = {}
        """Each agent's cell as last drawn, by what it showed and its width (and its cells)."""
        self._parts: dict[str, tuple[tuple[object, ...], Segment, list[Segment], int]] = {}
        """Each agent's cell around its time in state, which the clock leaves alone: by what
        it shows, the label, what follows the time, and their cells."""
        self._styles: dict[str, Style] = {}
        self._plans: dict[str, AgentPlan] = {}
        self._name_cells = NAME_CELLS
        self.border_title = _("Agents")

    # -- data -------------------------------------------------------------------------------

    def set_agents(self, agents: dict[str, AgentView], now: float) -> None:
        """Take the full agent list (when agents join or the filter changes)."""
        self._agents = agents
        self._now = now
        self._reorder()

    def _chosen(self, agent: AgentView) -> bool:
        return self._queue_filter is None or self._queue_filter in agent.queue_ids

    def _reorder(self) -> None:
        chosen = [a for a in self._agents.values() if self._chosen(a)]
        placed = sorted((board_order(a), a.agent_id) for a in chosen)
        self._keys = [key for key, _ in placed]
        self._order = [agent_id for _, agent_id in placed]
        self._placed = dict(zip(self._order, self._keys, strict=True))
        widest = max((cell_len(a.name) for a in chosen), default=0)
        name_cells = min(max(widest, NAME_CELLS), WIDE_NAME_CELLS)
        if name_cells != self._name_cells:  # every cell is laid out anew
            self._name_cells = name_cells
            self._cells.clear()
            self._parts.clear()
        self._moving.clear()
        self._counts = None
        self._cache.clear()
        self._resize_virtual()
        self.refresh()

    def set_queue_filter(self, queue_id: str | None) -> None:
        self._queue_filter = queue_id
        self._reorder()

    def agents_changed(self, agent_ids: set[str]) -> None:
        """Repaint only the lines that hold these agents. An agent whose state changed shows
        it at once where it is, and moves to its new place at the next clock tick (with every
        other move of that second): a busy floor moves agents many times a second, and each
        move shifts every line between the old place and the new."""
        columns = self.columns
        scroll_y = int(self.scroll_offset.y)
        for agent_id in agent_ids:
            agent = self._agents.get(agent_id)
            was = self._placed.get(agent_id)
            key = board_order(agent) if agent is not None and self._chosen(agent) else None
            if key != was:
                self._moving.add(agent_id)
            self._recount(agent_id, agent)
            if was is not None and agent is not None:
                y = bisect_left(self._keys, was) // columns - scroll_y
                if 0 <= y < self.size.height:
                    self.refresh(Region(0, y, self.line_width, 1))

    def _move(self) -> None:
        """The agents whose state changed since the last tick, each to its new place (a
        bisect in the sorted board, not a sort of every agent)."""
        moving, self._moving = self._moving, set()
        for agent_id in moving:
            agent = self._agents.get(agent_id)
            was = self._placed.get(agent_id)
            key = board_order(agent) if agent is not None and self._chosen(agent) else None
            if key == was:
                continue
            if was is not None:
                at = bisect_left(self._keys, was)
                del self._keys[at], self._order[at], self._placed[agent_id]
            if key is not None and agent is not None:
                at = bisect_left(self._keys, key)
                self._keys.insert(at, key)
                self._order.insert(at, agent_id)
                self._placed[agent_id] = key
                wider = min(max(self._name_cells, cell_len(agent.name)), WIDE_NAME_CELLS)
                if wider != self._name_cells:  # a longer name came: every cell is laid out anew
                    self._name_cells = wider
                    self._cache.clear()
                    self._cells.clear()
                    self._parts.clear()
        self._resize_virtual()

    def set_plans(self, plans: dict[str, AgentPlan]) -> None:
        """Each scheduled agent's planned activity now, and whether out of adherence."""
        if plans != self._plans:
            self._plans = plans
            self.refresh()

    def tick(self, now: float) -> None:
        """The clock moved: the times in state change on the visible lines, and the agents
        whose state changed move to their places."""
        self._now = now
        moved = bool(self._moving)
        if moved:
            self._move()
        # only the lines whose text the clock or a move changed, as one region from the
        # first to the last (the compositor takes one region of many lines faster than
        # many regions of one)
        scroll_y = int(self.scroll_offset.y)
        width, columns = self.line_width, self.columns
        changed = [
            y
            for y in range(self.size.height)
            if ((entry := self._line_key(y + scroll_y, width, columns))[0] or moved)
            and ((cached := self._cache.get(y + scroll_y)) is None or cached[0] != entry[1])
        ]
        if changed:
            self.refresh(Region(0, changed[0], width, changed[-1] - changed[0] + 1))

    @property
    def agent_count(self) -> int:
        """Agents on the board (after the queue filter)."""
        return sum(self.summary().values())

    # -- layout -----------------------------------------------------------------------------

    @property
    def line_width(self) -> int:
        """Cells across, without the scrollbar."""
        return self.scrollable_content_region.width

    @property
    def columns(self) -> int:
        # From the full width: sized without the scrollbar, columns could never grow back.
        return max(1, self.size.width // CELL_WIDTH)

    def _resize_virtual(self) -> None:
        lines = -(-len(self._order) // self.columns) if self._order else 0
        self.virtual_size = Size(self.line_width, lines)

    def on_resize(self) -> None:
        self._cache.clear()
        self._cells.clear()
        self._parts.clear()
        self._styles.clear()

        self._resize_virtual()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._cells.clear()
        self._parts.clear()
        self._styles.clear()

    def _recount(self, agent_id: str, agent: AgentView | None) -> None:
        """One agent's share of the counts moved to its state now (out, when gone or not
        chosen by the filter)."""
        counts = self._counts
        if counts is None:
            return  # counted afresh at the next ``summary``
        was = self._counted.pop(agent_id, None)
        if was is not None:
            counts[was] -= 1
        if agent is not None and self._chosen(agent):
            counts[agent.state] += 1
            self._counted[agent_id] = agent.state

    def summary(self) -> dict[AgentState, int]:
        """Agents on the board in each state (kept as they change: the top bar asks often)."""
        if self._counts is None:
            counts = dict.fromkeys(AgentState, 0)
            counted: dict[str, AgentState] = {}
            for agent in self._agents.values():
                if self._chosen(agent):
                    counts[agent.state] += 1
                    counted[agent.agent_id] = agent.state
            self._counts, self._counted = counts, counted
        return dict(self._counts)

    # -- rendering --------------------------------------------------------------------------

    def _line_key(
        self, line: int, width: int, columns: int
    ) -> tuple[list[str], tuple[object, ...]]:
        """The agents on a board line, and what the line shows of them."""
        start = line * columns
        ids = [i for i in self._order[start : start + columns] if i in self._agents]
        views = tuple(self._cell_key(self._agents[i]) for i in ids)
        return ids, (width, views)

    def render_line(self, y: int) -> Strip:
        width, columns = self.line_width, self.columns
        line = y + int(self.scroll_offset.y)
        ids, key = self._line_key(line, width, columns)
        if not ids:
            self._cache[line] = (key, blank(width, self._style("none")))
            return self._cache[line][1]
        cell = width // columns
        views = key[1]
        assert isinstance(views, tuple)
        cached = self._cache.get(line)
        if cached is not None and cached[0] == key:
            return cached[1]
        segments: list[Segment] = []
        cells = 0
        for agent_id, view in zip(ids, views, strict=True):
            drawn = self._cells.get(agent_id)
            if drawn is None or drawn[0] != view or drawn[1] != cell:
                drawn = self._cells[agent_id] = (
                    view,
                    cell,
                    *self._drawn(self._agents[agent_id], cell),
                )
            segments.extend(drawn[2])
            cells += drawn[3]
        # the cells are counted as the parts are made: the strip need not measure each text
        strip = Strip(segments, cells).adjust_cell_length(width, self._style("none"))
        self._cache[line] = (key, strip)
        return strip

    def _style(self, name: str) -> Style:
        """A rich style on the board's background, parsed once."""
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.rich_style + Style.parse(name)
        return style

    def _names_in(self, width: int) -> tuple[int, int]:
        """The name and plan columns' cells in a cell of ``width``: the usual 12 and 9, or
        for a floor whose names are longer as many as its widest name needs (up to 16), the
        plan then keeping 7 ("▸lunch "): a name says who, the plan only what is due."""
        if self._name_cells <= NAME_CELLS:
            return NAME_CELLS, PLAN_CELLS
        room = width - 11 - 7 - 1 - 4 - (SHORT_PLAN_CELLS if self._plans else 0)
        return max(NAME_CELLS, min(self._name_cells, room)), SHORT_PLAN_CELLS

    def _cell_key(self, agent: AgentView) -> tuple[object, ...]:
        """What an agent's cell shows: the time in state as written ("3h41m" changes once a
        minute), so a tick repaints only the cells whose text moved."""
        shown, long_away = "", False
        if _timed(agent):
            in_state = self._now - agent.since
            shown = fmt.duration(in_state)
            long_away = agent.state is AgentState.AWAY and in_state > self.long_break_s
        return (
            agent.agent_id,
            agent.name,
            agent.state,
            agent.reason,
            agent.work,
            agent.handled_today,
            shown,
            long_away,
            self._plans.get(agent.agent_id),
        )

    def _cell(self, agent: AgentView, width: int) -> list[Segment]:
        """One agent as segments, every part built again (``_drawn`` keeps the parts)."""
        timed, long_away = self._time_in_state(agent)
        label, after, _ = self._around(agent, width, cell_len(timed))
        return [label, self._time_segment(timed, long_away), *after]

    def _drawn(self, agent: AgentView, width: int) -> tuple[list[Segment], int]:
        """``_cell`` and its cells, the parts the clock leaves alone kept from the last
        time: the once-a-second clock rewrites the times of every agent on screen."""
        timed, long_away = self._time_in_state(agent)
        timed_cells = cell_len(timed)
        key = (
            agent.name,
            agent.state,
            agent.reason,
            agent.work,
            agent.handled_today,
            self._plans.get(agent.agent_id),
            bool(self._plans),
            self._name_cells,
            width,
            timed_cells,
        )
        kept = self._parts.get(agent.agent_id)
        if kept is None or kept[0] != key:
            label, after, after_cells = self._around(agent, width, timed_cells)
            kept = self._parts[agent.agent_id] = (key, label, after, LABEL_CELLS + after_cells)
        return [kept[1], self._time_segment(timed, long_away), *kept[2]], kept[3] + timed_cells + 1

    def _time_in_state(self, agent: AgentView) -> tuple[str, bool]:
        """The time in state as shown, and whether it is a break gone on too long."""
        in_state = self._now - agent.since if _timed(agent) else None
        long_away = (
            agent.state is AgentState.AWAY
            and in_state is not None
            and (in_state > self.long_break_s)
        )
        return align_right(fmt.duration(in_state), 6), long_away

    def _time_segment(self, timed: str, long_away: bool) -> Segment:
        return Segment(f"{timed} ", self._style("bold red" if long_away else "none"))

    def _around(
        self, agent: AgentView, width: int, timed_cells: int
    ) -> tuple[Segment, list[Segment], int]:
        """An agent's cell but its time in state: the label before it, the segments after
        it and their cells."""
        glyph, word, colour = STATE_LOOK[agent.state]
        label = f"{glyph} {_(word)}"
        if agent.state is AgentState.AWAY and agent.reason:
            label = f"◌ {agent.reason}"
        work = agent.work if agent.state in SHOWS_WORK else ""
        plan = self._plans.get(agent.agent_id)
        # a long time in a language's units ("3時間40分") takes its cells from the work column,
        # then from the name: the agent beside keeps its place
        names, plan_cells = self._names_in(width)
        fixed = LABEL_CELLS + timed_cells + 1 + 4 + (plan_cells if plan is not None else 0)
        rest = width - fixed - (names + 1)
        if rest < 0:
            names, rest = max(4, names + rest), 0
        planned: list[Segment] = []
        if plan is not None:  # the schedule beside the state: ✖ when out of adherence
            what = activity_word(plan.activity or "")  # "": scheduled today, not now
            planned = [
                Segment(
                    set_cell_size(f"{'✖' if plan.out_since else '▸'}{what}", plan_cells - 1) + " ",
                    self._style("bold red" if plan.out_since else "dim"),
                )
            ]
        after = [
            Segment(set_cell_size(cut(agent.name, names), names) + " ", self._style("bold")),
            *planned,
            # two letters of "support" say nothing: a work column that narrow stays blank
            Segment(set_cell_size(work if rest >= 3 else "", rest), self._style("dim")),
            Segment(f"{agent.handled_today:>3} ", self._style("dim")),
        ]
        return (
            Segment(set_cell_size(label, LABEL_CELLS), self._style(colour)),
            after,
            sum(cell_len(segment.text) for segment in after),
        )


def board_order(agent: AgentView) -> tuple[int, int, float, str, str]:
    """State, then the longest in it first; agents without a time in state after the timed
    ones of their state, by name."""
    timed = _timed(agent)
    return (
        STATE_ORDER[agent.state],
        0 if timed else 1,
        agent.since if timed else 0.0,
        agent.name.casefold(),
        agent.agent_id,
    )


def _timed(agent: AgentView) -> bool:
    """Whether the agent's time in state means anything: not for a helpdesk without
    presence, whose "since" is only when we last read the agent's work."""
    return bool(agent.since) and agent.state is not AgentState.UNKNOWN
