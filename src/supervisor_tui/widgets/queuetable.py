"""The compact queue table: one line per queue, worst first, for screens too small for
every tile. Each line says the queue's level in a word, its name and its main figures.

On a wall (``page_s``) a table longer than the room it has shows a page at a time and turns
the page every ``page_s`` seconds of the board's clock, saying "page 2/3": nobody is there
to scroll. The page turns only while the board is painted, so a paused board holds still."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Mapping
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from supervisor_tui.core import fmt
from supervisor_tui.core.kpis import QueueKpis
from supervisor_tui.i18n import _
from supervisor_tui.model import Severity
from supervisor_tui.widgets.lines import align_right, cut, spans_strip, text_strip
from supervisor_tui.widgets.tiles import CHANNEL_GLYPH, STATUS_TEXT, level_word, severity_order


@dataclass(frozen=True, slots=True)
class QueueRow:
    kpis: QueueKpis
    severity: Severity | None
    stale: str | None
    order: int
    """Where the queue's tile would be: the tie-break within a level."""


def _worst_first(row: QueueRow) -> tuple[int, int]:
    return severity_order(row.severity, row.order)


class QueueTable(Widget):
    """Line API: a line is built only when it shows and its queue's row changed, and kept
    (as a Strip, by the row it was built from) until then; a hundred queues off the bottom of
    the table cost nothing when their figures move."""

    DEFAULT_CSS = """
    QueueTable { height: auto; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None, page_s: float | None = None) -> None:
        super().__init__(id=id)
        self._rows: list[QueueRow] = []
        self._strips: dict[str, tuple[QueueRow, tuple[int, int, int], Strip]] = {}
        """Each queue's line as last built: the row, and the width, name column and line it
        was built for."""
        self._styles: dict[str, Style] = {}
        self._name_cells = 0
        self._by_id: dict[str, QueueRow] = {}
        """Each row shown, by its queue."""
        self._cells: dict[str, int] = {}
        """Cells of each queue name shown (names change seldom; a thousand rows are
        measured at every paint otherwise)."""
        self._height = 0
        self.page_s = page_s
        self.page = 0
        self._page_at: float | None = None
        """The board's time when the page shown was turned to."""

    @property
    def rows(self) -> list[QueueRow]:
        """The queues in the order shown: worst first."""
        return list(self._rows)

    @property
    def page_rows(self) -> int | None:
        """Queues on a page, or None when the table is not paged (it fits, or no wall)."""
        room = self.styles.max_height
        if self.page_s is None or room is None or len(self._rows) <= int(room.value):
            return None
        return max(1, int(room.value) - 1)  # a line for "page 2/3"

    @property
    def pages(self) -> int:
        per_page = self.page_rows
        return 1 if per_page is None else -(-len(self._rows) // per_page)

    def show(self, rows: list[QueueRow], now: float) -> None:
        """Every queue's row: the table as ``rows`` say, worst first."""
        rows = sorted(rows, key=_worst_first)
        self._by_id = {row.kpis.queue_id: row for row in rows}
        self._show(rows, now, self._longest_name(rows))

    def update(self, changed: Mapping[str, QueueRow], now: float) -> None:
        """The rows of queues the table shows, replaced, each moved to its place: the same
        table as ``show`` of every row, for the work of the rows that changed (a thousand
        queues were sorted and measured at each paint of a few)."""
        if not changed:
            self._show(self._rows, now, self._name_cells)  # a wall's page may turn
            return
        rows, by_id, renamed = list(self._rows), self._by_id, False
        for queue_id, row in changed.items():
            old = by_id.get(queue_id)
            if old is not None:
                at = bisect_left(rows, _worst_first(old), key=_worst_first)
                if at < len(rows) and rows[at] is old:
                    del rows[at]
                else:  # two rows of the same place (never made so): the long way
                    rows.remove(old)
                renamed |= old.kpis.name != row.kpis.name
            else:
                renamed = True
            insort(rows, row, key=_worst_first)
            by_id[queue_id] = row
        self._show(rows, now, self._longest_name(rows) if renamed else self._name_cells)

    def _longest_name(self, rows: list[QueueRow]) -> int:
        """The name column: the channel's glyph, the longest name and a space, so the
        figures line up."""
        cells = self._cells
        for row in rows:
            if row.kpis.name not in cells:
                cells[row.kpis.name] = cell_len(row.kpis.name)
        if len(cells) > 2 * len(rows) + 64:  # names no longer shown
            self._cells = cells = {row.kpis.name: cells[row.kpis.name] for row in rows}
        return min(26, max((cells[r.kpis.name] for r in rows), default=0) + 3)

    def _show(self, rows: list[QueueRow], now: float, name_cells: int) -> None:
        before, self._rows = self._rows, rows
        turned = self._turn(now)
        self.page %= self.pages
        height = self.get_content_height(None, None, 0)
        if height != self._height:
            self._height = height
            self.refresh(layout=True)
        if turned or name_cells != self._name_cells or len(before) != len(rows):
            self._name_cells = name_cells
            self.refresh()
            return
        # only the lines whose row moved or changed
        width = self.size.width
        start, stop = self._shown_span()
        for y, at in enumerate(range(start, stop)):
            old, new = before[at], rows[at]
            if old is not new and old != new:
                self.refresh(Region(0, y, width, 1))

    def _turn(self, now: float) -> bool:
        if self.pages == 1 or self.page_s is None:
            self.page, self._page_at = 0, None
            return False
        if self._page_at is None or now < self._page_at:
            self._page_at = now
            return False
        if now - self._page_at < self.page_s:
            return False
        self._page_at = now
        self.page = (self.page + 1) % self.pages
        return True

    def _shown_span(self) -> tuple[int, int]:
        """Where the page shown starts and ends in the rows."""
        per_page = self.page_rows
        if per_page is None:
            return 0, len(self._rows)
        start = self.page * per_page
        return start, min(len(self._rows), start + per_page)

    @property
    def shown(self) -> list[QueueRow]:
        """The queues on screen: the page shown."""
        start, stop = self._shown_span()
        return self._rows[start:stop]

    @property
    def shown_ids(self) -> list[str]:
        """The queue ids on the lines the table has room for (a desk table longer than its
        room is cut at the bottom): the queues whose figures must be current."""
        start, stop = self._shown_span()
        room = self.styles.max_height
        if room is not None and self.page_rows is None:
            stop = min(stop, start + int(room.value))
        return [row.kpis.queue_id for row in self._rows[start:stop]]

    def on_resize(self) -> None:
        self._strips.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._styles.clear()

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        per_page = self.page_rows
        return max(1, len(self._rows) if per_page is None else per_page + 1)

    def _line(self, row: QueueRow, width: int) -> Text:
        fitting = row_text(row, self._name_cells, False)
        if fitting.cell_len > width:
            fitting = row_text(row, self._name_cells, True)
        fitting.truncate(width, overflow="ellipsis")
        return fitting

    def _page_line(self, width: int) -> Text:
        page = _("page {page}/{pages}").format(page=self.page + 1, pages=self.pages)
        return Text(align_right(page, width), "bold")

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        start, stop = self._shown_span()
        at = start + y
        if at < stop:
            row = self._rows[at]
            queue_id = row.kpis.queue_id
            drawn_for = (row, width, self._name_cells, y)
            kept = self._strips.get(queue_id)
            if kept is not None and kept[0] is row and kept[1] == drawn_for[1:]:
                return kept[2]
            strip = self._strip(self._line(row, width), width, y)
            self._strips[queue_id] = (row, drawn_for[1:], strip)
            return strip
        if y == stop - start and stop - start < len(self._rows):
            return self._strip(self._page_line(width), width, y)
        return Strip.blank(width, self.visual_style.rich_style)

    def _strip(self, text: Text, width: int, y: int) -> Strip:
        """One line in the widget's colours: built from the text's runs (a line is drawn for
        each change of a queue on screen, so it must be cheap), as Textual draws text."""
        text.no_wrap, text.overflow = True, "ellipsis"
        strip = spans_strip(text, width, self._style, y)
        if strip is None:
            strip = text_strip(self.app.console, text, width, self.rich_style)
        return strip

    def _style(self, name: str) -> Style:
        """A rich style on the table's background, parsed once."""
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.rich_style + Style.parse(name)
        return style

    def render(self) -> Text:
        """The page shown as one text (what the lines say): for a reader of the whole table."""
        width = self.size.width or 200
        text = Text(no_wrap=True, overflow="ellipsis")
        shown = self.shown
        for i, row in enumerate(shown):
            if i:
                text.append("\n")
            text.append_text(self._line(row, width))
        if len(shown) < len(self._rows):
            text.append("\n")
            text.append_text(self._page_line(width))
        return text


def row_text(row: QueueRow, name_cells: int, short: bool) -> Text:
    k = row.kpis
    word, style = level_word(row.severity)
    dim = "dim" if row.stale else ""
    text = Text(no_wrap=True, overflow="ellipsis")
    # the level words of the language, padded alike: the names line up ("▲ ALERT" + 1 in English)
    level_cells = max(cell_len(level_word(level)[0]) for level in STATUS_TEXT) + 1
    text.append(set_cell_size(word, level_cells), style)
    if row.stale is not None:
        age = row.stale.split()[-1]  # "STALE 2:05" -> "2:05"; "NEVER" has no age
        stale = age if short and any(c.isdigit() for c in age) else row.stale
        text.append(f"◐ {stale} ", "bold red")
    name = cut(f"{CHANNEL_GLYPH.get(k.channel, '·')} {k.name}", name_cells - 1)
    text.append(Text(set_cell_size(name, name_cells), style=f"bold {dim}".strip()))
    sep = " " if short else "  "
    if k.realtime:
        waiting = "?" if k.waiting is None else str(k.waiting)
        parts = [
            ((_("wait") if short else _("waiting")) + " ", waiting),
            ("", fmt.duration(k.longest_wait_s))
            if short
            else (_("longest") + " ", fmt.duration(k.longest_wait_s)),
            (_("SL") + " ", fmt.percent(k.service_level)),
        ]
        if not short:
            parts.append((_("ASA") + " ", fmt.duration(k.asa_s)))
        parts.append(((_("ab") if short else _("abandon")) + " ", fmt.percent(k.abandon_rate, 1)))
        need, have = fmt.count(k.need), fmt.count(k.have)
        parts.append(
            (
                _("need") + " ",
                f"{need}/{have}" if short else _("{need} have {have}").format(need=need, have=have),
            )
        )
    else:
        parts = [
            (_("backlog") + " ", str(k.backlog)),
            ("SLA ⚠ ", fmt.count(k.sla_at_risk)),
            ("✖ ", fmt.count(k.sla_breached)),
            (_("2d+") + " ", str(k.aging[2])),
        ]
        if not short:
            parts.append((_("CSAT") + " ", fmt.percent(k.csat)))
    for i, (label, value) in enumerate(parts):
        if i:
            text.append(sep)
        if label:
            text.append(label, f"dim {dim}".strip() if dim else "dim")
        text.append(value, dim or "bold")
    return text
