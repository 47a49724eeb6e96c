"""Textual widgets of the wall view."""

from supervisor_tui.widgets.agents import AgentBoard
from supervisor_tui.widgets.escalations import EscalationFeed, EscalationPane
from supervisor_tui.widgets.freshness import FreshnessBar
from supervisor_tui.widgets.tiles import QueueTile, QueueTiles
from supervisor_tui.widgets.timeline import TimelineBar
from supervisor_tui.widgets.topbar import TopBar

__all__ = [
    "AgentBoard",
    "EscalationFeed",
    "EscalationPane",
    "FreshnessBar",
    "QueueTile",
    "QueueTiles",
    "TimelineBar",
    "TopBar",
]
