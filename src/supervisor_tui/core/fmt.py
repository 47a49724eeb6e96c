"""Short, fixed-width renderings of durations and shares for the board."""

from __future__ import annotations

import math


def duration(seconds: float | None) -> str:
    """``0:42``, ``12:05``, ``1h05m``, ``3d04h``; ``—`` when unknown."""
    if seconds is None or math.isnan(seconds) or math.isinf(seconds):
        return "—"
    s = int(max(0.0, seconds))
    if s < 3600:
        return f"{s // 60}:{s % 60:02d}"
    if s < 86_400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86_400}d{(s % 86_400) // 3600:02d}h"


def percent(share: float | None, digits: int = 0) -> str:
    if share is None:
        return "—"
    return f"{share * 100:.{digits}f}%"


def count(value: int | None) -> str:
    """A count, or ``—`` when it is unknown (never 0 for unknown)."""
    return "—" if value is None else str(value)
