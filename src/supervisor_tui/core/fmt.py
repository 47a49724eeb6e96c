"""Short, fixed-width renderings of durations and shares, for the board and the report alike:
one rounding rule (half a second or half a point rounds up), so the two never differ by one."""

from __future__ import annotations

import math
import re

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
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86_400}d{(s % 86_400) // 3600:02d}h"


def percent(share: float | None, digits: int = 0, none: str = UNKNOWN) -> str:
    """A share 0..1 as a percentage, rounded to ``digits`` decimals, halves up."""
    if share is None or _missing(share):
        return none
    scale = 10**digits
    value = math.floor(share * 100 * scale + 0.5) / scale
    return f"{value:.{digits}f}%"


def count(value: int | None) -> str:
    """A count, or ``—`` when it is unknown (never 0 for unknown)."""
    return UNKNOWN if value is None else str(value)


_MD_SPECIAL = re.compile(r"[\\`*\[\]<>|~#]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|&(?=#?[0-9A-Za-z]+;)")


def md_escape(text: str) -> str:
    """Text as literal Markdown: specials backslash-escaped (``|`` too), newlines as spaces."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), " ".join(text.splitlines()))
