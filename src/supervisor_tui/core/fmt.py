"""Short, fixed-width renderings of durations and shares, for the board and the report alike:
one rounding rule (half a second or half a point rounds up), so the two never differ by one.
The words and signs are the floor's language's (``supervisor_tui.i18n``): a decimal comma in
Vietnamese and Ukrainian, 時/分 in Japanese; the rounding is the same in every language."""

from __future__ import annotations

import math
import re
from functools import cache

from babel.numbers import format_decimal, get_decimal_symbol

from supervisor_tui import i18n
from supervisor_tui.i18n import _

UNKNOWN = "—"


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value) or math.isinf(value)


def whole_seconds(seconds: float) -> int:
    """The one rounding rule for durations: to the nearest second, halves up."""
    return max(0, math.floor(seconds + 0.5))


def duration(seconds: float | None, none: str = UNKNOWN) -> str:
    """``0:42``, ``12:05``, ``1h05m``, ``3d04h``; ``none`` when unknown."""
    if seconds is None or _missing(seconds):
        return none
    s = whole_seconds(seconds)
    if s < 3600:
        return f"{s // 60}:{s % 60:02d}"
    if s < 86_400:
        # TRANSLATORS: hours and minutes on a tile, as short as the language allows
        return _("{hours}h{minutes:02d}m").format(hours=s // 3600, minutes=(s % 3600) // 60)
    # TRANSLATORS: days and hours on a tile, as short as the language allows
    return _("{days}d{hours:02d}h").format(days=s // 86_400, hours=(s % 86_400) // 3600)


@cache
def _decimal_symbol(language: str) -> str:
    return str(get_decimal_symbol(i18n.locale_of(language)))


def percent(share: float | None, digits: int = 0, none: str = UNKNOWN) -> str:
    """A share 0..1 as a percentage, rounded to ``digits`` decimals, halves up."""
    if share is None or _missing(share):
        return none
    scale = 10**digits
    value = math.floor(share * 100 * scale + 0.5) / scale
    text = f"{value:.{digits}f}"
    if digits:
        text = text.replace(".", _decimal_symbol(i18n.current()))
    # the five languages' CLDR percent pattern is "#,##0%": the sign follows, no space
    return f"{text}%"


def grouped(value: int) -> str:
    """A whole number with the language's group separator (``12,345``; ``12.345`` in
    Vietnamese, ``12 345`` in Ukrainian), for counts said in a sentence."""
    return str(format_decimal(value, locale=i18n.locale()))


def count(value: int | None) -> str:
    """A count, or ``—`` when it is unknown (never 0 for unknown)."""
    return UNKNOWN if value is None else str(value)


_MD_SPECIAL = re.compile(r"[\\`*\[\]<>|~#]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|&(?=#?[0-9A-Za-z]+;)")


def md_escape(text: str) -> str:
    """Text as literal Markdown: specials backslash-escaped (``|`` too), newlines as spaces."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), " ".join(text.splitlines()))
