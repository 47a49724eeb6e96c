"""Event types, ids and enums. Imports pydantic, and i18n for the words it marks (``N_``)
and says (``reasons``)."""

from supervisor_tui.model.enums import (
    AgentState,
    Capability,
    Channel,
    EscalationStatus,
    HealthState,
    Priority,
    Severity,
    SlaState,
    TicketStatus,
)
from supervisor_tui.model.events import *  # noqa: F403
from supervisor_tui.model.events import __all__ as _events_all

__all__ = [
    "AgentState",
    "Capability",
    "Channel",
    "EscalationStatus",
    "HealthState",
    "Priority",
    "Severity",
    "SlaState",
    "TicketStatus",
    *_events_all,
]
