"""The terminal bell for a new CRIT escalation (``[display] bell``): once per escalation.

A wall is often out of sight: one BEL when something new turns critical makes a room look
up. It must not ring for what was already on the floor when the board started, nor again
when the same escalation comes back or is raised anew, or a bell becomes noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from supervisor_tui.core.projection import Escalation
from supervisor_tui.model import Severity


class CritBell:
    def __init__(self, ring: Callable[[], None], *, since: float, enabled: bool) -> None:
        self._ring = ring
        self.since = since
        """Escalations raised before this (those on the floor when the board started)
        never ring."""
        self.enabled = enabled
        self._rung: set[str] = set()
        self.rings = 0

    def hear(self, changed: Iterable[str], escalations: Mapping[str, Escalation]) -> int:
        """Ring for each changed escalation that is CRIT for the first time since the
        board started; returns how many rang."""
        if not self.enabled:
            return 0
        rang = 0
        for escalation_id in changed:
            esc = escalations.get(escalation_id)
            if (
                esc is None
                or escalation_id in self._rung
                or esc.severity is not Severity.CRITICAL
                or not esc.is_open
            ):
                continue
            self._rung.add(escalation_id)  # the same one reopened or raised anew: no bell
            if esc.raised_at < self.since:
                continue
            self._ring()
            rang += 1
        self.rings += rang
        return rang
