"""Queue tiles: the big numbers of the wall view, one tile per queue."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.containers import Container
from textual.geometry import Region
from textual.renderables.digits import DIGITS, DIGITS3X3
from textual.strip import Strip
from textual.widget import Widget

from supervisor_tui.core import fmt
from supervisor_tui.core.forecast import QueueForecast
from supervisor_tui.core.kpis import QueueKpis
from supervisor_tui.i18n import N_, _, pgettext
from supervisor_tui.model import Severity

CHANNEL_GLYPH = {"voice": "☎", "chat": "✉", "email": "@", "web": "⌂", "social": "#"}
STATUS_TEXT = {
    None: ("✔", N_("OK"), "green"),
    Severity.WARNING: ("△", N_("WARN"), "yellow"),
    Severity.CRITICAL: ("▲", N_("ALERT"), "bold red"),
}
"""Glyph, word (translated where drawn) and colour of a queue's alert level."""


def level_word(severity: Severity | None) -> tuple[str, str]:
    """A queue's alert level as drawn ("▲ ALERT") in the floor's language, and its style."""
    glyph, level, style = STATUS_TEXT[severity]
    return f"{glyph} {_(level)}", style


def severity_order(severity: Severity | None, order: int) -> tuple[int, int]:
    """Sort key of a queue on the board: ALERT first, then WARN, then OK; within a level
    the order the queues arrived in, so equal tiles never swap places."""
    return (-(severity.rank if severity is not None else 0), order)


def sl_style(service_level: float | None, target: float | None) -> str:
    """Green at or over the target, yellow within 20 points under it, red further down."""
    if service_level is None:
        return "dim"
    goal = 0.8 if target is None else target
    return "green" if service_level >= goal else "yellow" if service_level >= goal - 0.2 else "red"


SPARKS = "▁▂▃▄▅▆▇█"
NO_DATA = "·"


def spark_levels(trend: tuple[float | None, ...], *, top: float | None) -> list[int | None]:
    """Each point's bar (0 to 7), or None where nothing is known. ``top``: the value of a
    full bar (1.0 for a service level, so 80 % is always the same height); None scales
    to the largest point (a backlog)."""
    known = [v for v in trend if v is not None]
    scale = top if top is not None else max(known, default=0.0)
    last = len(SPARKS) - 1
    if scale <= 0:
        return [None if v is None else 0 for v in trend]
    return [None if v is None else min(last, max(0, round(v / scale * last))) for v in trend]


Piece = tuple[str, str]
"""A run of text and the name of its style ("bold", "dim", "bold red")."""
Line = list[list[Piece]]
"""One line of a tile in the ways it can be said, longest first: a narrow tile takes the
first that fits (and crops the last), so no figure is cut off for want of a few cells."""


def digit_rows(value: str) -> tuple[str, str, str]:
    """``value`` in Textual's 3×3 digits, as three rows of text."""
    rows: tuple[list[str], list[str], list[str]] = ([], [], [])
    for character in value:
        at = DIGITS.index(character) * 3 if character in DIGITS else -1
        if at < 0:
            rows[0].append(" ")
            rows[1].append(" ")
            rows[2].append(character)
            continue
        for row, glyph in zip(rows, DIGITS3X3[at : at + 3], strict=True):
            row.append(glyph.ljust(3))
    return ("".join(rows[0]), "".join(rows[1]), "".join(rows[2]))


FONT5 = {
    "0": ("###", "# #", "# #", "# #", "###"),
    "1": (" # ", "## ", " # ", " # ", "###"),
    "2": ("###", "  #", "###", "#  ", "###"),
    "3": ("###", "  #", "###", "  #", "###"),
    "4": ("# #", "# #", "###", "  #", "  #"),
    "5": ("###", "#  ", "###", "  #", "###"),
    "6": ("###", "#  ", "###", "# #", "###"),
    "7": ("###", "  #", "  #", "  #", "  #"),
    "8": ("###", "# #", "###", "# #", "###"),
    "9": ("###", "# #", "###", "  #", "###"),
    "?": ("###", "  #", " ##", "   ", " # "),
}
"""A 3×5 pixel font for the tallest tiles: each pixel two cells of full block, so a digit
is 6 cells by 5 lines, nearly twice the 3×3 digits and readable across a room."""
FONT5_WIDTH = 7
"""Cells a digit takes, the space after it included."""


def block_rows(value: str) -> list[str]:
    """``value`` in the 5-line block font (a character it lacks is left blank)."""
    rows: list[list[str]] = [[] for _ in range(5)]
    for character in value:
        glyph = FONT5.get(character, ("   ",) * 5)
        for row, pixels in zip(rows, glyph, strict=True):
            row.append(pixels.replace("#", "██").replace(" ", "  ") + " ")
    return ["".join(row).rstrip() for row in rows]


class QueueTile(Widget):
    """One queue: waiting (or backlog) in big digits, the rest in a few short lines and an
    hour's trend. On a short tile (a small screen) the headline is a plain line instead.

    The tile draws itself line by line (Line API): ``show`` turns the figures into runs of
    text once, and a line is built from them only when the compositor asks for it. A new
    figure repaints this tile only and never asks the screen for a new layout: with a hundred
    queues that is the difference between a cheap board and one that re-flows every second.
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
    QueueTile.-stale { border: round $panel-lighten-2; }
    QueueTile.-stale.-critical { border: heavy $error 50%; }
    """

    GAP = 2
    """Cells between the big digits and their caption."""
    BIG_HEIGHT = 10
    """A tile this tall (border included) or taller has the room for 3-row digits."""
    BIG_LINES = BIG_HEIGHT - 2
    TALL_HEIGHT = 12
    """... and this tall for the 5-line block digits."""

    def __init__(self, queue_id: str, name: str, channel: str) -> None:
        super().__init__(id=f"tile-{_css_id(queue_id)}")
        self.queue_id = queue_id
        self.border_title = Text(f"{CHANNEL_GLYPH.get(channel, '·')} {name}")
        self._rendered: tuple[object, ...] | None = None
        self._severity: Severity | None = None
        self._lines: list[Line] = []
        self._strips: dict[int, Strip] = {}
        self._styles: dict[str, Style] = {}
        self._status: tuple[str, str, str | None] | None = None
        self._stale: str | None = None
        self._kpis: QueueKpis | None = None
        self._forecast: QueueForecast | None = None
        self.headline_lines = 3
        """Lines the headline figure may take: 5 (block digits) on a tall tile, 3 (Textual's
        digits), or 1 (plain text) on a short one."""
        self.drawn_lines = 3
        """Lines the headline figure took when last drawn: a wide number on a narrow tile
        steps down to smaller digits rather than lose its caption."""

    @property
    def stale(self) -> str | None:
        """Why the tile is dimmed ("STALE 2:05"), or None when its sources are fresh."""
        return self._stale

    def show(
        self,
        kpis: QueueKpis,
        severity: Severity | None,
        stale: str | None = None,
        forecast: QueueForecast | None = None,
    ) -> None:
        """Repaint only when something the tile shows has changed. ``stale``: the figures
        are not current (a source feeding the queue is stale or down), and how old they are:
        the tile dims and says so instead of showing old figures as if they were live.
        ``forecast``: the queue's forecast against actual, a line of its own."""
        key = (kpis, severity, stale, self.headline_lines, forecast)
        if key == self._rendered:
            return
        self._rendered = key
        self._kpis = kpis
        self._forecast = forecast
        if severity is not self._severity:
            self.set_class(severity is Severity.WARNING, "-warning")
            self.set_class(severity is Severity.CRITICAL, "-critical")
            self._severity = severity
        if (stale is None) != (self._stale is None):
            self.set_class(stale is not None, "-stale")
            self._stale = stale
            self._strips.clear()
            self._styles.clear()
            self.refresh()
        self._stale = stale
        word, style = level_word(severity)
        if self._status != (word, style, stale):
            self._status = (word, style, stale)
            subtitle = Text()
            if stale is not None:
                subtitle.append(f"◐ {stale}", "bold red")
                subtitle.append(" · ", "dim")
            subtitle.append(word, style)
            self.border_subtitle = subtitle
        self._show_lines(self._figure_lines(kpis))

    def _figure_lines(self, kpis: QueueKpis) -> list[Line]:
        forecast = self._forecast
        caption: list[Line]
        if kpis.realtime:
            big_value = "?" if kpis.waiting is None else str(kpis.waiting)
            longest = fmt.duration(kpis.longest_wait_s)
            reported = kpis.waiting_as_of is not None
            caption = [
                [[(_("WAITING"), "bold")]],
                [
                    [(_("longest") + " ", "dim"), (longest, "bold")]
                    + ([(" " + _("(reported)"), "dim")] if reported else []),
                    [(_("longest") + " ", "dim"), (longest, "bold")]
                    + ([(" " + _("rep."), "dim")] if reported else []),
                    [(_("wait") + " ", "dim"), (longest, "bold")]
                    + ([(" " + pgettext("reported, shortest", "r"), "dim")] if reported else []),
                ],
                [[]],
            ]
            lines = self._realtime_lines(kpis)
            if forecast is not None and forecast.interval is not None:
                lines.append(_forecast_line(forecast))
        else:
            big_value = str(kpis.backlog)
            caption = [
                [[(_("BACKLOG"), "bold")]],
                [[(_("open tickets"), "dim")], [(_("open"), "dim")]],
                [[]],
            ]
            lines = self._ticket_lines(kpis)
        lines.append(self._trend_line(kpis))
        size = self.headline_lines
        width = self.size.width
        # the shortest way to say each caption line, beside the block digits
        beside = max(sum(cell_len(text) for text, _ in variants[-1]) for variants in caption)
        if size == 5 and width and len(big_value) * FONT5_WIDTH - 1 + self.GAP + beside > width:
            size = 3  # a wide number on a narrow tile: the smaller digits keep the caption
        self.drawn_lines = size
        if size == 5:
            gap = " " * self.GAP
            blocks = block_rows(big_value)
            block_width = max(len(row) for row in blocks)
            blank: Line = [[]]
            captions: list[Line] = [*caption, blank, blank]
            return [
                [[(row.ljust(block_width), "bold"), (gap, "none"), *words] for words in variants]
                for row, variants in zip(blocks, captions, strict=True)
            ] + lines
        if size == 1:
            label = caption[0][0]
            figure: list[Piece] = [*label, (" ", "none"), (big_value, "bold")]
            headline: Line = [[*figure, ("  ", "none"), *words] for words in caption[1] if words]
            return [[*headline, figure], *lines]
        digits = digit_rows(big_value)
        gap = " " * self.GAP
        top = [
            [[(row, "none"), (gap, "none"), *words] for words in variants]
            for row, variants in zip(digits, caption, strict=True)
        ]
        return top + lines

    @staticmethod
    def _trend_line(k: QueueKpis) -> Line:
        """The hour's sparkline: service level against the target (green at or over it),
        or the backlog; a dot where nothing is known."""
        levels = spark_levels(k.trend, top=1.0 if k.realtime else None)
        pieces: list[Piece] = []
        for value, level in zip(k.trend, levels, strict=True):
            if level is None or value is None:
                pieces.append((NO_DATA, "dim"))
            else:
                style = sl_style(value, k.sl_target) if k.realtime else "dim"
                pieces.append((SPARKS[level], style))
        hour = _("1h")
        label = (_("SL") + " " + hour + " ") if k.realtime else hour + " "
        return [[(label, "dim"), *pieces], [(hour + " ", "dim"), *pieces], pieces]

    def _show_lines(self, lines: list[Line]) -> None:
        """Repaint the lines that changed, and only those: a ticking "longest 1:23" is one
        line of one tile, not the tile."""
        before, self._lines = self._lines, lines
        if not self.is_mounted or not self.size.width:
            self._strips.clear()
            self.refresh()
            return
        width = self.size.width
        for y in range(max(len(before), len(lines))):
            if y >= len(before) or y >= len(lines) or before[y] != lines[y]:
                self._strips.pop(y, None)
                self.refresh(Region(0, y, width, 1))

    # -- rendering --------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        strip = self._strips.get(y)
        if strip is None:
            width = self.size.width
            variants = self._lines[y] if 0 <= y < len(self._lines) else [[]]
            pieces = next(
                (v for v in variants if sum(cell_len(text) for text, _ in v) <= width),
                variants[-1],
            )
            segments = [Segment(text, self._style(name)) for text, name in pieces]
            strip = Strip(segments).adjust_cell_length(width, self._style("none"))
            self._strips[y] = strip
        return strip

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self.rich_style + Style.parse(name)
            if self._stale is not None:  # old figures must not look like live ones
                style += Style(dim=True)
            self._styles[name] = style
        return style

    @property
    def big_digits(self) -> bool:
        return self.drawn_lines > 1

    def on_resize(self) -> None:
        self._strips.clear()
        self._styles.clear()
        height = self.size.height + 2  # the border
        lines = 5 if height >= self.TALL_HEIGHT else 3 if height >= self.BIG_HEIGHT else 1
        if lines != self.headline_lines or (lines == 5 and self._kpis is not None):
            self.headline_lines = lines
            if self._kpis is not None and self._rendered is not None:
                self._rendered = (*self._rendered[:3], lines, self._forecast)
                self._show_lines(self._figure_lines(self._kpis))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._styles.clear()

    @staticmethod
    def _realtime_lines(k: QueueKpis) -> list[Line]:
        need = "—" if k.need is None else str(k.need)
        verdict: list[Piece] = []
        brief: list[Piece] = []
        if k.need is not None and k.have is not None and k.have < k.need:
            short = _("short {count}").format(count=k.need - k.have)
            verdict = [(f"  ✖ {short}", "bold red")]
            brief = [(f" ✖ {short}", "bold red")]
        elif k.need is not None and k.have is not None:
            verdict = brief = [("  ✔", "green")]
        sl, style = fmt.percent(k.service_level), sl_style(k.service_level, k.sl_target)
        target = fmt.percent(k.sl_target)
        counts = {"offered": fmt.count(k.offered), "answered": fmt.count(k.answered)}
        return [
            [
                [
                    (_("SL") + " ", "dim"),
                    (sl, style),
                    (
                        " / "
                        + _("{target} in {seconds}s").format(
                            target=target, seconds=f"{k.sl_threshold_s:.0f}"
                        ),
                        "dim",
                    ),
                    ("  " + _("ASA") + " ", "dim"),
                    (fmt.duration(k.asa_s), "none"),
                ],
                [
                    (_("SL") + " ", "dim"),
                    (sl, style),
                    (f" / {target}", "dim"),
                    ("  " + _("ASA") + " ", "dim"),
                    (fmt.duration(k.asa_s), "none"),
                ],
                [
                    (_("SL") + " ", "dim"),
                    (sl, style),
                    (f"/{target}", "dim"),
                    (" " + _("ASA") + " ", "dim"),
                    (fmt.duration(k.asa_s), "none"),
                ],
            ],
            [
                [
                    (_("Abandon") + " ", "dim"),
                    (fmt.percent(k.abandon_rate, 1), "none"),
                    ("   " + _("AHT") + " ", "dim"),
                    (fmt.duration(k.aht_s), "none"),
                ],
                [
                    (_("Aband") + " ", "dim"),
                    (fmt.percent(k.abandon_rate, 1), "none"),
                    (" " + _("AHT") + " ", "dim"),
                    (fmt.duration(k.aht_s), "none"),
                ],
            ],
            [
                [(_("Offered {offered}  answered {answered}").format(**counts), "dim")],
                [(_("Offered {offered} answered {answered}").format(**counts), "dim")],
                [(_("Off {offered} ans {answered}").format(**counts), "dim")],
            ],
            [
                [
                    (_("Need") + " ", "dim"),
                    (need, "bold"),
                    (" · " + _("have") + " ", "dim"),
                    (fmt.count(k.have), "bold"),
                    *verdict,
                ],
                [
                    (_("Need") + " ", "dim"),
                    (need, "bold"),
                    (" " + _("have") + " ", "dim"),
                    (fmt.count(k.have), "bold"),
                    *brief,
                ],
            ],
        ]

    @staticmethod
    def _ticket_lines(k: QueueKpis) -> list[Line]:
        old_style = "bold red" if k.aging[2] else "bold"
        at_risk = "yellow" if k.sla_at_risk else "dim"
        breached = "bold red" if k.sla_breached else "dim"
        return [
            [
                [
                    (_("Age") + " " + _("<1d") + " ", "dim"),
                    (str(k.aging[0]), "bold"),
                    (" · " + _("1-2d") + " ", "dim"),
                    (str(k.aging[1]), "bold"),
                    (" · " + _("2d+") + " ", "dim"),
                    (str(k.aging[2]), old_style),
                ],
                [
                    (_("<1d") + " ", "dim"),
                    (str(k.aging[0]), "bold"),
                    (" · " + _("1-2d") + " ", "dim"),
                    (str(k.aging[1]), "bold"),
                    (" · " + _("2d+") + " ", "dim"),
                    (str(k.aging[2]), old_style),
                ],
                [
                    (_("<1d") + " ", "dim"),
                    (str(k.aging[0]), "bold"),
                    (" " + _("1-2d") + " ", "dim"),
                    (str(k.aging[1]), "bold"),
                    (" " + _("2d+") + " ", "dim"),
                    (str(k.aging[2]), old_style),
                ],
            ],
            [
                [
                    ("SLA ", "dim"),
                    ("⚠ " + _("{count} risk").format(count=fmt.count(k.sla_at_risk)), at_risk),
                    ("  ", "none"),
                    (
                        "✖ " + _("{count} breached").format(count=fmt.count(k.sla_breached)),
                        breached,
                    ),
                ],
                [
                    ("SLA ", "dim"),
                    ("⚠ " + _("{count} risk").format(count=fmt.count(k.sla_at_risk)), at_risk),
                    (" ", "none"),
                    ("✖ " + _("{count} breach").format(count=fmt.count(k.sla_breached)), breached),
                ],
                [
                    ("SLA ", "dim"),
                    (f"⚠ {fmt.count(k.sla_at_risk)}", at_risk),
                    (" ", "none"),
                    (f"✖ {fmt.count(k.sla_breached)}", breached),
                ],
            ],
            [
                [
                    (_("CSAT") + " ", "dim"),
                    (fmt.percent(k.csat), "none"),
                    ("  " + _("FCR") + " ", "dim"),
                    (fmt.percent(k.fcr), "none"),
                    ("  " + _("agents") + " ", "dim"),
                    (fmt.count(k.have), "bold"),
                ],
                [
                    (_("CSAT") + " ", "dim"),
                    (fmt.percent(k.csat), "none"),
                    (" " + _("FCR") + " ", "dim"),
                    (fmt.percent(k.fcr), "none"),
                    (" " + _("agents") + " ", "dim"),
                    (fmt.count(k.have), "bold"),
                ],
                [
                    (_("CSAT") + " ", "dim"),
                    (fmt.percent(k.csat), "none"),
                    (" " + _("FCR") + " ", "dim"),
                    (fmt.percent(k.fcr), "none"),
                    (" " + _("ag") + " ", "dim"),
                    (fmt.count(k.have), "bold"),
                ],
            ],
        ]


def _forecast_line(f: QueueForecast) -> Line:
    """This half hour's forecast against actual, ▲ when the day runs over forecast, and the
    service level projected for the rest of the day."""
    assert f.interval is not None
    fc, act = f"{f.interval.offered:.0f}", str(f.actual_now)
    over: list[Piece] = [(" ▲" + _("over"), "bold yellow")] if f.over else []
    brief: list[Piece] = [(" ▲", "bold yellow")] if f.over else []
    proj = fmt.percent(f.projected_sl)
    return [
        [
            (_("½h fcst") + " ", "dim"),
            (fc, "bold"),
            (" " + _("act") + " ", "dim"),
            (act, "bold"),
            *over,
            (" " + _("proj SL") + " ", "dim"),
            (proj, "none"),
        ],
        [
            (_("½h fc") + " ", "dim"),
            (fc, "bold"),
            (" " + _("act") + " ", "dim"),
            (act, "bold"),
            *brief,
            (" " + _("proj") + " ", "dim"),
            (proj, "none"),
        ],
        [
            (_("fc") + " ", "dim"),
            (fc, "bold"),
            ("/", "dim"),
            (act, "bold"),
            *brief,
            (" " + pgettext("projected, shortest", "p"), "dim"),
            (proj, "none"),
        ],
    ]


class QueueTiles(Container):
    """The tiles, one per queue, worst first, in as many rows as the width needs (up to
    three). When they do not all fit, the board shows the compact queue table instead (one
    line per queue, worst first): no queue is ever hidden behind a scrollbar. Queues are
    registered as they appear; a queue's tile is made the first time the tiles fit and
    never rebuilt, so a floor of a thousand queues in the table holds no tile at all."""

    DEFAULT_CSS = """
    QueueTiles { layout: grid; grid-size: 5; grid-rows: 10; height: 10; overflow-y: auto; }
    QueueTiles > QueueTile { width: 1fr; height: 1fr; }
    """

    MIN_TILE_WIDTH = 30
    MAX_ROWS = 3
    BIG_SCREEN_ROWS = 40
    """A screen this tall or taller has tiles tall enough for big digits."""
    TALL_SCREEN_ROWS = 60
    """... and with one or two rows of tiles, tall enough for the block digits."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._by_queue: dict[str, QueueTile] = {}
        self._queues: dict[str, tuple[str, str]] = {}
        """Every queue registered, in arrival order: its name and channel."""
        self._hidden: set[str] = set()
        """Registered queues not shown (the board's queue filter, a queue gone after a seek)."""
        self._arrived: dict[str, int] = {}
        self.tile_height = QueueTile.BIG_HEIGHT
        self.compact = False
        """Too many queues for tiles on this screen: the queue table shows them."""
        self.table: Widget | None = None
        """The compact queue table, shown instead of the tiles when they do not fit."""

    @property
    def queue_ids(self) -> list[str]:
        """The queues registered, in arrival order."""
        return list(self._queues)

    def add(self, queue_id: str, name: str, channel: str, *, shown: bool = True) -> None:
        """A queue the board now knows; its tile comes with the next ``fit`` that has room."""
        if queue_id not in self._queues:
            self._queues[queue_id] = (name, channel)
            self._arrived.setdefault(queue_id, len(self._arrived))
        if shown:
            self._hidden.discard(queue_id)
        else:
            self._hidden.add(queue_id)
        tile = self._by_queue.get(queue_id)
        if tile is not None:
            tile.display = shown

    def set_shown(self, shown: Callable[[str], bool]) -> None:
        """Which registered queues are shown (tiles or table rows); the others are hidden."""
        self._hidden = {q for q in self._queues if not shown(q)}
        for queue_id, tile in self._by_queue.items():
            tile.display = queue_id not in self._hidden

    def fit(self) -> list[str]:
        """As many columns as fit at 30 cells or more, and the rows that takes; the compact
        table when that is more rows than the screen can give. Tiles fitting for the first
        time are made here: their queues are returned, to be painted."""
        shown = [q for q in self._queues if q not in self._hidden]
        width = self.size.width or (self.screen.size.width if self.is_mounted else 0)
        if not shown or not width:
            return []
        columns = max(1, min(len(shown), width // self.MIN_TILE_WIDTH))
        rows = -(-len(shown) // columns)
        # at most about half the screen, so agents, escalations and the freshness bar stay
        # in sight on a small terminal
        screen_rows = self.screen.size.height if self.is_mounted else 50
        room = max(1, min(self.MAX_ROWS, screen_rows // 20))
        compact = rows > room
        # a short screen gets short tiles with a plain headline: the board below stays in sight
        tile_height = (
            QueueTile.TALL_HEIGHT
            if screen_rows >= self.TALL_SCREEN_ROWS and min(rows, room) <= 2
            else QueueTile.BIG_HEIGHT
            if screen_rows >= self.BIG_SCREEN_ROWS
            else 8
        )
        if self.tile_height != tile_height:
            self.tile_height = tile_height
            self.styles.grid_rows = str(tile_height)
        if compact != self.compact:
            self.compact = compact
            if self.table is not None:
                self.table.display = compact
        made = [] if compact else self._make_tiles(shown)
        if self.styles.grid_size_columns != columns:
            self.styles.grid_size_columns = columns
        height = 0 if compact else tile_height * min(rows, room)
        if self.styles.height is None or self.styles.height.value != height:
            self.styles.height = height
        if self.table is not None and compact:
            lines = max(3, screen_rows * 2 // 5)
            self.table.styles.max_height = lines
        return made

    def knows(self, queue_id: str) -> bool:
        return queue_id in self._queues

    def _make_tiles(self, queue_ids: list[str]) -> list[str]:
        if not self.is_mounted:
            return []
        made = []
        for queue_id in queue_ids:
            if queue_id not in self._by_queue:
                name, channel = self._queues[queue_id]
                made.append(QueueTile(queue_id, name, channel))
                self._by_queue[queue_id] = made[-1]
        if made:
            self.mount(*made)
        return [tile.queue_id for tile in made]

    def order_by_severity(self, levels: dict[str, Severity | None]) -> None:
        """Worst first, stable within a level: tiles move only when the order changes."""
        tiles = list(self.query(QueueTile))
        wanted = sorted(
            tiles,
            key=lambda t: severity_order(levels.get(t.queue_id), self._arrived[t.queue_id]),
        )
        if wanted == tiles:
            return
        if tiles[0] is not wanted[0]:
            self.move_child(wanted[0], before=tiles[0])
        for before, tile in pairwise(wanted):
            children = list(self.children)
            if children.index(tile) != children.index(before) + 1:
                self.move_child(tile, after=before)

    def arrival(self, queue_id: str) -> int:
        return self._arrived.get(queue_id, len(self._arrived))

    def on_resize(self) -> None:
        self.fit()

    def tile(self, queue_id: str) -> QueueTile | None:
        """The queue's tile, None until the tiles have had room for it."""
        return self._by_queue.get(queue_id)

    def on_mount(self) -> None:
        for t in self.query(QueueTile):
            self._by_queue[t.queue_id] = t
            self._queues.setdefault(t.queue_id, (t.queue_id, ""))
            self._arrived.setdefault(t.queue_id, len(self._arrived))


def _css_id(queue_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in queue_id)
