"""The board's themes, chosen in config (``[display] theme``): the default dark one, a
high-contrast dark one for dark rooms, and a light one whose warning colours stay readable.

Every widget says a level with the terminal's named colours (``green`` OK, ``yellow`` WARN,
``red`` ALERT and CRIT). Textual turns named colours into true colours through an ANSI
palette, so each theme brings its own palette next to its Textual ``Theme``: one place sets
every level's colour on every widget, and the contrast test reads the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.terminal_theme import TerminalTheme
from textual.app import App
from textual.color import Color
from textual.theme import Theme

RGB = tuple[int, int, int]

LEVEL_COLOURS = {"OK": 2, "WARN": 3, "ALERT": 1, "CRIT": 1}
"""Each level's ANSI colour number: green, yellow, red (ALERT on a tile, CRIT in the feed)."""


@dataclass(frozen=True)
class BoardTheme:
    theme: Theme
    palette: TerminalTheme

    @property
    def name(self) -> str:
        return self.theme.name


def _palette(
    background: RGB, foreground: RGB, normal: list[RGB], bright: list[RGB]
) -> TerminalTheme:
    return TerminalTheme(background, foreground, normal, bright)


DARK = BoardTheme(
    Theme(
        name="supervisor-dark",
        primary="#0178D4",
        secondary="#004578",
        accent="#ffa62b",
        warning="#ffa62b",
        error="#ba3c5b",
        success="#4EBF71",
        foreground="#e0e0e0",
    ),
    # Textual's own dark palette (Monokai), but for a lighter red: Monokai's (244, 0, 95)
    # reads at 4.47:1 on the dark background, under the 4.5 a red alert needs
    _palette(
        (12, 12, 12),
        (217, 217, 217),
        [
            (26, 26, 26),
            (255, 60, 110),
            (152, 224, 36),
            (253, 151, 31),
            (157, 101, 255),
            (244, 0, 95),
            (88, 209, 235),
            (196, 197, 181),
        ],
        [
            (98, 94, 76),
            (255, 60, 110),
            (152, 224, 36),
            (224, 213, 97),
            (157, 101, 255),
            (244, 0, 95),
            (88, 209, 235),
            (246, 246, 239),
        ],
    ),
)

HIGH_CONTRAST = BoardTheme(
    Theme(
        name="supervisor-high-contrast",
        primary="#3a9dff",
        secondary="#1f5fa8",
        accent="#ffd700",
        warning="#ffd700",
        error="#ff5f5f",
        success="#00e65c",
        foreground="#ffffff",
        background="#000000",
        surface="#000000",
        panel="#1a1a1a",
        text_alpha=1.0,
    ),
    # bright, saturated levels on black, for a wall in a dim room seen from across it
    _palette(
        (0, 0, 0),
        (255, 255, 255),
        [
            (0, 0, 0),
            (255, 95, 95),
            (0, 230, 92),
            (255, 215, 0),
            (90, 160, 255),
            (255, 110, 255),
            (0, 220, 255),
            (235, 235, 235),
        ],
        [
            (128, 128, 128),
            (255, 130, 130),
            (90, 255, 140),
            (255, 240, 90),
            (140, 190, 255),
            (255, 150, 255),
            (110, 240, 255),
            (255, 255, 255),
        ],
    ),
)

LIGHT = BoardTheme(
    Theme(
        name="supervisor-light",
        primary="#004578",
        secondary="#0178D4",
        accent="#8a4b00",
        warning="#8a4b00",
        error="#b3001b",
        success="#1b6b2a",
        foreground="#111111",
        background="#f7f7f7",
        surface="#ececec",
        panel="#dedede",
        dark=False,
    ),
    # dark amber instead of yellow, deep green and red: a warning keeps its contrast on white
    _palette(
        (247, 247, 247),
        (17, 17, 17),
        [
            (0, 0, 0),
            (179, 0, 27),
            (27, 107, 42),
            (138, 75, 0),
            (30, 70, 170),
            (122, 40, 150),
            (0, 100, 130),
            (90, 90, 90),
        ],
        [
            (60, 60, 60),
            (150, 0, 20),
            (20, 90, 35),
            (115, 62, 0),
            (25, 60, 150),
            (105, 30, 130),
            (0, 85, 110),
            (40, 40, 40),
        ],
    ),
)

THEMES = {"dark": DARK, "high-contrast": HIGH_CONTRAST, "light": LIGHT}
"""The config's names for the themes."""


def use_theme(app: App[Any], name: str) -> BoardTheme:
    """Register every board theme with ``app`` and show the one named in config."""
    chosen = THEMES[name]
    for board_theme in THEMES.values():
        app.register_theme(board_theme.theme)
    if chosen.theme.dark:
        app.ansi_theme_dark = chosen.palette
    else:
        app.ansi_theme_light = chosen.palette
    app.theme = chosen.name
    return chosen


def level_colour(board_theme: BoardTheme, level: str) -> RGB:
    colour = board_theme.palette.ansi_colors[LEVEL_COLOURS[level]]
    return (colour.red, colour.green, colour.blue)


def background(board_theme: BoardTheme, name: str = "background") -> RGB:
    """A theme's background (``background``, ``surface`` or ``panel``) as Textual builds it."""
    parsed = Color.parse(board_theme.theme.to_color_system().generate()[name])
    return (parsed.r, parsed.g, parsed.b)


def contrast(a: RGB, b: RGB) -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21)."""

    def luminance(rgb: RGB) -> float:
        def channel(value: int) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b_ = (channel(v) for v in rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
