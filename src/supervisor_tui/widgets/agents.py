"""The agents board: a Line-API grid of agents, state and time in state.

Agents are grouped by state (available first, as STATE_LOOK lists them), the longest in
their state first: who has been on a break too long is at the top of the breaks, and a
place changes only when an agent's state does (the clock never reorders). Each screen line
holds as many agents as fit across; a line is rendered from a cache keyed by what it shows,
so the once-a-second clock repaints only the visible lines.
"""

from __future__ import annotations

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
from supervisor_tui.widgets.lines import align_right, blank

CELL_WIDTH = 46
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
        self._index: dict[str, int] = {}
        self._queue_filter: str | None = None
        self._now = 0.0
        self._cache: dict[int, tuple[tuple[object, ...], Strip]] = {}
        self._placed: dict[str, tuple[AgentState, float]] = {}
        """Each agent's state and since when, as last sorted: a change moves the agent."""
        self._styles: dict[str, Style] = {}
        self._plans: dict[str, AgentPlan] = {}
        self.border_title = _("Agents")

    # -- data -------------------------------------------------------------------------------

    def set_agents(self, agents: dict[str, AgentView], now: float) -> None:
        """Take the full agent list (when agents join or the filter changes)."""
        self._agents = agents
        self._now = now
        self._reorder()

    def _reorder(self) -> None:
        chosen = [
            a
            for a in self._agents.values()
            if self._queue_filter is None or self._queue_filter in a.queue_ids
        ]
        chosen.sort(key=board_order)
        self._order = [a.agent_id for a in chosen]
        self._placed = {a.agent_id: (a.state, a.since) for a in chosen}
        self._index = {agent_id: i for i, agent_id in enumerate(self._order)}
        self._cache.clear()
        self._resize_virtual()
        self.refresh()

    def set_queue_filter(self, queue_id: str | None) -> None:
        self._queue_filter = queue_id
        self._reorder()

    def agents_changed(self, agent_ids: set[str]) -> None:
        """Repaint only the lines that hold these agents, or re-sort when one changed state."""
        for agent_id in agent_ids:
            agent = self._agents.get(agent_id)
            if agent is not None and self._placed.get(agent_id, (agent.state, agent.since)) != (
                agent.state,
                agent.since,
            ):
                self._reorder()
                return
        columns = self.columns
        scroll_y = int(self.scroll_offset.y)
        for agent_id in agent_ids:
            index = self._index.get(agent_id)
            if index is None:
                continue
            line = index // columns
            y = line - scroll_y
            if 0 <= y < self.size.height:
                self.refresh(Region(0, y, self.line_width, 1))

    def set_plans(self, plans: dict[str, AgentPlan]) -> None:
        """Each scheduled agent's planned activity now, and whether out of adherence."""
        if plans != self._plans:
            self._plans = plans
            self.refresh()

    def tick(self, now: float) -> None:
        """The clock moved: time-in-state changes on every visible line."""
        self._now = now
        self.refresh()

    @property
    def agent_count(self) -> int:
        """Agents on the board (after the queue filter)."""
        return len(self._order)

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
        self._styles.clear()

        self._resize_virtual()

    def summary(self) -> dict[AgentState, int]:
        counts = dict.fromkeys(AgentState, 0)
        for agent_id in self._order:
            counts[self._agents[agent_id].state] += 1
        return counts

    # -- rendering --------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.line_width
        line = y + int(self.scroll_offset.y)
        columns = self.columns
        start = line * columns
        ids = self._order[start : start + columns]
        if not ids:
            return blank(width, self._style("none"))
        cell = width // columns
        views = tuple(self._cell_key(self._agents[i]) for i in ids)
        key = (width, views)
        cached = self._cache.get(line)
        if cached is not None and cached[0] == key:
            return cached[1]
        segments: list[Segment] = []
        for agent_id in ids:
            segments.extend(self._cell(self._agents[agent_id], cell))
        strip = Strip(segments).adjust_cell_length(width, self._style("none"))
        self._cache[line] = (key, strip)
        return strip

    def _style(self, name: str) -> Style:
        """A rich style on the board's background, parsed once."""
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.rich_style + Style.parse(name)
        return style

    def _cell_key(self, agent: AgentView) -> tuple[object, ...]:
        in_state = int(self._now - agent.since) if _timed(agent) else -1
        return (
            agent.agent_id,
            agent.name,
            agent.state,
            agent.reason,
            agent.work,
            agent.handled_today,
            in_state,
            self._plans.get(agent.agent_id),
        )

    def _cell(self, agent: AgentView, width: int) -> list[Segment]:
        """One agent as segments: built directly, the hot path of the once-a-second clock."""
        glyph, word, colour = STATE_LOOK[agent.state]
        label = f"{glyph} {_(word)}"
        if agent.state is AgentState.AWAY and agent.reason:
            label = f"◌ {agent.reason}"
        in_state = self._now - agent.since if _timed(agent) else None
        long_away = (
            agent.state is AgentState.AWAY
            and in_state is not None
            and (in_state > self.long_break_s)
        )
        work = agent.work if agent.state in SHOWS_WORK else ""
        plan = self._plans.get(agent.agent_id)
        timed = align_right(fmt.duration(in_state), 6)
        # a long time in a language's units ("3時間40分") takes its cells from the work column
        rest = max(0, width - 11 - 7 - 13 - 4 - (9 if plan is not None else 0))
        rest = max(0, rest - max(0, cell_len(timed) - 6))
        planned: list[Segment] = []
        if plan is not None:  # the schedule beside the state: ✖ when out of adherence
            what = activity_word(plan.activity or "")  # "": scheduled today, not now
            planned = [
                Segment(
                    set_cell_size(f"{'✖' if plan.out_since else '▸'}{what}", 8) + " ",
                    self._style("bold red" if plan.out_since else "dim"),
                )
            ]
        return [
            Segment(set_cell_size(label, 11), self._style(colour)),
            Segment(
                f"{timed} ",
                self._style("bold red" if long_away else "none"),
            ),
            Segment(set_cell_size(agent.name, 12) + " ", self._style("bold")),
            *planned,
            Segment(set_cell_size(work, rest), self._style("dim")),
            Segment(f"{agent.handled_today:>3} ", self._style("dim")),
        ]


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
