"""Cutting text to a number of terminal cells (widgets/lines.py): a Chinese, Japanese or
Vietnamese subject cut for a feed line or a name column keeps every character whole, loses
no more than it must and never shows a blank where half a wide character was."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from supervisor_tui.widgets.lines import cut, text_strip

from .doors import fuzz_examples

MIXED = st.text(
    alphabet=st.sampled_from("ab ·#1退款还没到账佐藤さくらNguyễnĐạtОленаї"), max_size=30
)


@settings(max_examples=fuzz_examples(200), deadline=None)
@given(words=MIXED, cells=st.integers(min_value=1, max_value=32))
def test_cut_keeps_the_longest_whole_prefix(words: str, cells: int) -> None:
    shown = cut(words, cells)
    assert cell_len(shown) <= cells
    if cell_len(words) <= cells:
        assert shown == words
        return
    assert shown.endswith("…")
    head = shown[:-1]
    assert words.startswith(head)  # nothing put in: no blank for half a wide character
    assert cell_len(words[: len(head) + 1]) > cells - 1  # and nothing more would have fit


def test_a_feed_line_cut_mid_wide_character_ends_on_the_ellipsis() -> None:
    line = text_strip(Console(), Text("#11068 complaint · 退款还没到账"), 21)
    assert line.cell_length == 21
    assert line.text == "#11068 complaint · … "  # 退 does not fit: "…" right after, padded
