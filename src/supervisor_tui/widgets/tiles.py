"""Queue tiles: the big numbers of the wall view, one tile per queue."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.containers import Container
from textual.renderables.digits import Digits as DigitsRenderable
from textual.widget import Widget

from supervisor_tui.core import fmt
from supervisor_tui.core.kpis import QueueKpis
from supervisor_tui.model import Severity

CHANNEL_GLYPH = {"voice": "☎", "chat": "✉", "email": "@", "web": "⌂", "social": "#"}
STATUS_TEXT = {
    None: ("✔ OK", "green"),
    Severity.WARNING: ("△ WARN", "yellow"),
    Severity.CRITICAL: ("▲ ALERT", "bold red"),
}


def _sl_style(kpis: QueueKpis) -> str:
    if kpis.service_level is None:
        return "dim"
    return (
        "green" if kpis.service_level >= 0.8 else "yellow" if kpis.service_level >= 0.6 else "red"
    )


class QueueTile(Widget):
    """One queue: waiting (or backlog) in big digits, the rest in a few short lines.

    The tile draws itself (no child widgets), so a new figure repaints this tile only and never
    asks the screen for a new layout: with a hundred queues that is the difference between a
    cheap board and one that re-flows every second.
    """

    DEFAULT_CSS = """
    QueueTile {
        width: 30;
        height: 10;
        border: round $primary 60%;
        padding: 0 1;
    }
    QueueTile.-warning { border: round $warning; }
    QueueTile.-critical { border: heavy $error; }
    """

    def __init__(self, queue_id: str, name: str, channel: str) -> None:
        super().__init__(id=f"tile-{_css_id(queue_id)}")
        self.queue_id = queue_id
        self.border_title = Text(f"{CHANNEL_GLYPH.get(channel, '·')} {name}")
        self._rendered: tuple[object, ...] | None = None
        self._severity: Severity | None = None
        self._body: RenderableType = Text("")

    def show(self, kpis: QueueKpis, severity: Severity | None) -> None:
        """Repaint only when something the tile shows has changed."""
        key = (kpis, severity)
        if key == self._rendered:
            return
        self._rendered = key
        if severity is not self._severity:
            self.set_class(severity is Severity.WARNING, "-warning")
            self.set_class(severity is Severity.CRITICAL, "-critical")
            self._severity = severity
        word, style = STATUS_TEXT[severity]
        self.border_subtitle = Text(word, style=style)
        if kpis.realtime:
            big_value = "?" if kpis.waiting is None else str(kpis.waiting)
            big = Text.assemble(
                ("WAITING\n", "bold"),
                ("longest ", "dim"),
                (fmt.duration(kpis.longest_wait_s), "bold"),
            )
            if kpis.waiting_as_of is not None:
                big.append(" (reported)", "dim")
            lines = self._realtime_lines(kpis)
        else:
            big_value = str(kpis.backlog)
            big = Text.assemble(("BACKLOG\n", "bold"), ("open tickets", "dim"))
            lines = self._ticket_lines(kpis)
        top = Table.grid(padding=(0, 2))
        top.add_column(no_wrap=True)
        top.add_column(no_wrap=True)
        top.add_row(DigitsRenderable(big_value), big)
        self._body = Group(top, lines)
        self.refresh()

    def render(self) -> RenderableType:
        return self._body

    @staticmethod
    def _realtime_lines(k: QueueKpis) -> Text:
        text = Text()
        text.append("SL ", "dim")
        text.append(fmt.percent(k.service_level), _sl_style(k))
        text.append(f" in {k.sl_threshold_s:.0f}s", "dim")
        text.append("   ASA ", "dim")
        text.append(fmt.duration(k.asa_s))
        text.append("\nAbandon ", "dim")
        text.append(fmt.percent(k.abandon_rate, 1))
        text.append("   AHT ", "dim")
        text.append(fmt.duration(k.aht_s))
        text.append(f"\nOffered {k.offered}  answered {k.answered}", "dim")
        text.append("\nNeed ", "dim")
        text.append("—" if k.need is None else str(k.need), "bold")
        text.append(" · have ", "dim")
        text.append(str(k.have), "bold")
        if k.need is not None and k.have < k.need:
            text.append(f"  ✖ short {k.need - k.have}", "bold red")
        elif k.need is not None:
            text.append("  ✔", "green")
        return text

    @staticmethod
    def _ticket_lines(k: QueueKpis) -> Text:
        text = Text()
        text.append("Age <1d ", "dim")
        text.append(str(k.aging[0]), "bold")
        text.append(" · 1-2d ", "dim")
        text.append(str(k.aging[1]), "bold")
        text.append(" · 2d+ ", "dim")
        text.append(str(k.aging[2]), "bold red" if k.aging[2] else "bold")
        text.append("\nSLA ", "dim")
        text.append(f"⚠ {k.sla_at_risk} risk", "yellow" if k.sla_at_risk else "dim")
        text.append("  ")
        text.append(f"✖ {k.sla_breached} breached", "bold red" if k.sla_breached else "dim")
        text.append("\nCSAT ", "dim")
        text.append(fmt.percent(k.csat))
        text.append("  agents ", "dim")
        text.append(str(k.have), "bold")
        return text


class QueueTiles(Container):
    """The tiles, one per queue, in as many rows as the width needs (up to three; past
    that the rows scroll). Tiles are added as queues appear and never rebuilt."""

    DEFAULT_CSS = """
    QueueTiles { layout: grid; grid-size: 5; grid-rows: 10; height: 10; overflow-y: auto; }
    QueueTiles > QueueTile { width: 1fr; }
    """

    MIN_TILE_WIDTH = 30
    MAX_ROWS = 3

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._by_queue: dict[str, QueueTile] = {}

    def fit(self) -> None:
        """As many columns as fit at 30 cells or more, and the rows that takes."""
        shown = [tile for tile in self.query(QueueTile) if tile.display]
        if not shown or not self.size.width:
            return
        columns = max(1, min(len(shown), self.size.width // self.MIN_TILE_WIDTH))
        rows = -(-len(shown) // columns)
        if self.styles.grid_size_columns != columns:
            self.styles.grid_size_columns = columns
        # at most about half the screen, so agents, escalations and the freshness bar stay
        # in sight on a small terminal (more rows scroll)
        screen_rows = self.screen.size.height if self.is_mounted else 50
        height = 10 * max(1, min(rows, self.MAX_ROWS, screen_rows // 20))
        if self.styles.height is None or self.styles.height.value != height:
            self.styles.height = height

    def on_resize(self) -> None:
        self.fit()

    def tile(self, queue_id: str) -> QueueTile | None:
        return self._by_queue.get(queue_id)

    def add(self, tile: QueueTile) -> None:
        self._by_queue[tile.queue_id] = tile
        self.mount(tile)

    def on_mount(self) -> None:
        self._by_queue.update({t.queue_id: t for t in self.query(QueueTile)})


def _css_id(queue_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in queue_id)
