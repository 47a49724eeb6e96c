"""Short, fixed-width renderings of durations and shares, for the board and the report alike:
one rounding rule (half a second or half a point rounds up), so the two never differ by one.
The words and signs are the floor's language's (``supervisor_tui.i18n``): a decimal comma in
Vietnamese and Ukrainian, 時/分 in Japanese; the rounding is the same in every language."""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import cache
from typing import Literal

from babel.dates import format_datetime, format_skeleton, get_datetime_format
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


def count(value: int | None) -> str:
    """A count, or ``—`` when it is unknown (never 0 for unknown)."""
    return UNKNOWN if value is None else str(value)


_MD_SPECIAL = re.compile(r"[\\`*\[\]<>|~#]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|&(?=#?[0-9A-Za-z]+;)")


def md_escape(text: str) -> str:
    """Text as literal Markdown: specials backslash-escaped (``|`` too), newlines as spaces."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), " ".join(text.splitlines()))


# ---------------------------------------------------------------------------------------------
# Dates and numbers in the floor's language (Babel's CLDR data): the report's one home for them

DateForm = Literal["day", "day_time", "weekday", "weekday_time", "day_month", "month"]

_DATE_FORMS: dict[str, tuple[str, str]] = {
    # form: (English pattern, CLDR skeleton for the other languages). English keeps the
    # pattern its reports have always had (``Tue 24 Nov 2026``), so a report read by a script
    # or compared with last month's is unchanged; the others take the locale's own order,
    # e.g. ``2026年11月24日(火)`` in Japanese.
    "day": ("EEE dd MMM yyyy", "yMMMEd"),
    "weekday": ("EEE dd", "Ed"),
    "day_month": ("EEE dd MMM", "MMMEd"),
    "month": ("MMMM yyyy", "yMMMM"),
}
_CLOCK = "HH:mm"
"""A 24-hour clock in every language: a floor's rota is read that way in all five."""


def clock(value: datetime) -> str:
    """``08:05`` (the time as ``value`` holds it: give it in the floor's zone)."""
    return format_datetime(value, _CLOCK, locale=i18n.locale())


def date(value: datetime, form: DateForm = "day") -> str:
    """``value`` (in the floor's zone) as a date in the floor's language; the ``*_time`` forms
    add the clock in the locale's order (``08:05 Thứ 3, 24 thg 11, 2026`` in Vietnamese)."""
    locale = i18n.locale()
    with_time = form.endswith("_time")
    base = form.removesuffix("_time") if with_time else form
    english, skeleton = _DATE_FORMS[base]
    if i18n.current() == "en":
        pattern = f"{english} {_CLOCK}" if with_time else english
        return format_datetime(value, pattern, locale=locale)
    day = format_skeleton(skeleton, value, locale=locale)
    if not with_time:
        return day
    joined = str(get_datetime_format("medium", locale=locale))
    return joined.replace("{1}", day).replace("{0}", clock(value))


def number(
    value: float | None, digits: int = 0, *, fixed: bool = False, none: str = UNKNOWN
) -> str:
    """A count or an average in the language's signs: ``1,234``, ``6.5`` (``6,5`` in
    Vietnamese, ``1 234`` in Ukrainian); up to ``digits`` decimals, trailing zeros dropped
    unless ``fixed``."""
    if value is None or _missing(value):
        return none
    pattern = "#,##0." + ("0" if fixed else "#") * digits if digits else "#,##0"
    return str(format_decimal(value, pattern, locale=i18n.locale(), decimal_quantization=True))
