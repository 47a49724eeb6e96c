"""Shared helpers for the Line-API widgets: rich Text to a cached, fixed-width Strip."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TypeVar

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

FormT = TypeVar("FormT", str, Text)


def text_strip(console: Console, text: Text, width: int, style: Style | None = None) -> Strip:
    """One line of text, cropped or padded to ``width`` cells; vendor text stays plain text."""
    text.no_wrap = True
    text.overflow = "ellipsis"
    if text.cell_len > width:  # rich's own ellipsis leaves a blank for a cut wide character
        text.plain = cut(text.plain, width)
    text.truncate(width, overflow="ellipsis", pad=True)
    segments = [s for s in text.render(console, end="") if s.text != "\n"]
    strip = Strip(segments, text.cell_len).adjust_cell_length(width)
    if style is not None:
        strip = strip.apply_style(style)
    return strip


def spans_strip(
    text: Text, width: int, style: Callable[[str], Style], y: int | None = None
) -> Strip | None:
    """One line of text as a Strip of at most ``width`` cells, its runs styled by ``style`` (a
    widget's cache of parsed styles on its background): a few segments instead of a render
    through the console, for a line drawn often. None when the text's spans overlap. ``y``:
    the line's place in the widget, marked on each run as Textual marks the text it draws
    (for selecting text; a run then never merges with its neighbour)."""
    plain, spans = text.plain, sorted(text.spans, key=lambda span: span.start)
    runs: list[tuple[str, str]] = []
    at = 0
    for span in spans:
        if span.start < at:
            return None
        if span.start > at:
            runs.append((plain[at : span.start], str(text.style)))
        if span.end > span.start:
            runs.append((plain[span.start : span.end], str(span.style)))
        at = max(at, span.end)
    if at < len(plain):
        runs.append((plain[at:], str(text.style)))
    segments: list[Segment] = []
    cells = 0
    for words, name in runs:
        run_style = style(name)
        if y is not None:
            run_style += Style.from_meta({"offset": (cells, y)})
        segments.append(Segment(words, run_style))
        cells += cell_len(words)
    if cells > width:
        return Strip(segments).crop(0, width)
    # not padded: the widget pads the line to its width with its background, as it pads text
    return Strip(segments, cells)


@lru_cache(maxsize=256)
def blank(width: int, style: Style | None = None) -> Strip:
    return Strip([Segment(" " * width, style)], width)


def align_right(words: str, cells: int) -> str:
    """``words`` right-aligned in ``cells`` cells, counting a wide character as two."""
    return " " * max(0, cells - cell_len(words)) + words


def cut(words: str, cells: int) -> str:
    """``words`` in at most ``cells`` cells, "…" where cut: a wide character (Chinese,
    Japanese) is never split and never overflows, and the "…" follows the last whole
    character (one cell short then: the caller pads, after the "…" rather than before)."""
    if cell_len(words) <= cells:
        return words
    head = set_cell_size(words, cells - 1)
    if not words.startswith(head):  # half a wide character became a blank: drop it
        head = head[:-1]
    return head + "…"


def fitting(forms: Iterable[FormT], cells: int | None) -> FormT:
    """The first of a line's forms (longest first) that fits in ``cells`` cells, else the
    last (the caller cuts it); the first when the width is not known yet. A line that gives
    its forms this way shortens its words on a narrow screen instead of losing a figure or
    an alert past its right edge."""
    form: FormT | None = None
    for form in forms:
        if not cells or (cell_len(form) if isinstance(form, str) else form.cell_len) <= cells:
            return form
    if form is None:
        raise ValueError("a line with no form")
    return form
