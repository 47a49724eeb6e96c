"""The replay timeline: where in the shift we are, and where escalations were raised."""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter

from rich.text import Text

from supervisor_tui.widgets.bar import Bar
from supervisor_tui.widgets.topbar import clock_text


def timeline_text(
    start: float, end: float, now: float, marks: list[float], width: int, utc_offset_s: int
) -> Text:
    left = clock_text(start, utc_offset_s)[:5]
    right = clock_text(end, utc_offset_s)[:5]
    bar_width = max(10, width - len(left) - len(right) - 4)
    span = max(1.0, end - start)
    cells = ["━"] * bar_width
    for at in marks:
        cells[min(bar_width - 1, int((at - start) / span * bar_width))] = "▲"
    here = min(bar_width - 1, max(0, int((now - start) / span * bar_width)))
    cells[here] = "●"
    looks = [_look(cell, i, here) for i, cell in enumerate(cells)]
    text = Text(no_wrap=True)
    text.append(f"{left} ", "dim")
    # a run of cells a style, not a span a cell: a span is a segment for the compositor (a
    # line of 200 spans took 11 ms to draw, three times a second while a replay plays)
    for look, run in groupby(zip(cells, looks, strict=True), key=itemgetter(1)):
        text.append("".join(cell for cell, _ in run), look)
    text.append(f" {right}", "dim")
    return text


def _look(cell: str, i: int, here: int) -> str:
    """The style of the timeline's cell ``i``: where the replay is, a mark, played or not."""
    if i == here:
        return "bold reverse"
    if cell == "▲":
        return "bold red"
    return "cyan" if i < here else "grey37"


class TimelineBar(Bar):
    DEFAULT_CSS = """
    TimelineBar { height: 1; padding: 0 1; background: $boost; }
    """

    def show(
        self, start: float, end: float, now: float, marks: list[float], utc_offset_s: int
    ) -> None:
        width = self.size.width - 2 if self.size.width else 80
        self.set_text(timeline_text(start, end, now, marks, width, utc_offset_s))
