"""The replay's timeline bar: each cell's glyph and colour, drawn in runs of one style."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from supervisor_tui.widgets.timeline import timeline_text

START, END = 1_790_000_000.0, 1_790_000_000.0 + 9 * 3600


def styles_by_cell(text: Text) -> list[str]:
    """The style of every character of the text (the last span over it wins, as rich draws)."""
    styles = [""] * len(text.plain)
    for span in text.spans:
        for i in range(span.start, span.end):
            styles[i] = str(span.style)
    return styles


def expected_cells(now: float, marks: list[float], bar_width: int) -> list[tuple[str, str]]:
    """Each cell as the bar must show it: where the replay is, a mark, played or to come."""
    span = END - START
    marked = {min(bar_width - 1, int((at - START) / span * bar_width)) for at in marks}
    here = min(bar_width - 1, max(0, int((now - START) / span * bar_width)))
    cells = []
    for i in range(bar_width):
        if i == here:
            cells.append(("●", "bold reverse"))
        elif i in marked:
            cells.append(("▲", "bold red"))
        else:
            cells.append(("━", "cyan" if i < here else "grey37"))
    return cells


@given(
    now=st.floats(START - 600, END + 600),
    marks=st.lists(st.floats(START, END), max_size=40),
    width=st.integers(20, 240),
)
def test_each_cell_reads_and_looks_as_it_must_in_few_spans(
    now: float, marks: list[float], width: int
) -> None:
    text = timeline_text(START, END, now, marks, width, 0)
    plain, styles = text.plain, styles_by_cell(text)
    assert plain.startswith("14:13 ") and plain.endswith(" 23:13")  # the clocks, UTC
    bar_width = len(plain) - len("14:13 ") - len(" 23:13")
    assert bar_width == max(10, width - 14)
    shown = list(zip(plain[6 : 6 + bar_width], styles[6 : 6 + bar_width], strict=True))
    assert shown == expected_cells(now, marks, bar_width)
    # one span a run of cells of one style, not one a cell
    runs = 1 + sum(1 for a, b in pairwise(shown) if a[1] != b[1])
    assert len(text.spans) == runs + 2  # and the two clocks
