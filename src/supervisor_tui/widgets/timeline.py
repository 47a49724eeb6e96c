"""The replay timeline: where in the shift we are, and where escalations were raised."""

from __future__ import annotations

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
    text = Text(no_wrap=True)
    text.append(f"{left} ", "dim")
    # a run of cells a style, not a span a cell: a span is a segment for the compositor (a
    # line of 200 spans took 11 ms to draw, three times a second while a replay plays)
    run_start = 0
    for i in range(1, bar_width + 1):
        if i == bar_width or _look(cells, i, here) != _look(cells, run_start, here):
            text.append("".join(cells[run_start:i]), _look(cells, run_start, here))
            run_start = i
    text.append(f" {right}", "dim")
    return text


def _look(cells: list[str], i: int, here: int) -> str:
    """The style of the timeline's cell ``i``: where the replay is, a mark, played or not."""
    if i == here:
        return "bold reverse"
    if cells[i] == "▲":
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
