"""Shared helpers for the Line-API widgets: rich Text to a cached, fixed-width Strip."""

from __future__ import annotations

from functools import lru_cache

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip


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
