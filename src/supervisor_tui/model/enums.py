"""The floor's vocabulary: states, statuses, channels and severities."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from supervisor_tui.i18n import N_


class _Term(StrEnum):
    """A word of the vocabulary: in JSON, the text it is (its value), written by pydantic's
    string serializer. Its enum serializer reads each member's ``value`` through the enum's
    Python property, about a quarter of a microsecond a field: a tenth of the store's
    append, where every event's payload is written as JSON."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        if schema["type"] != "enum":  # anything else pydantic made of it is left as it is
            return schema
        return {**schema, "serialization": core_schema.simple_ser_schema("str")}


class AgentState(_Term):
    AVAILABLE = "available"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    AWAY = "away"
    OFFLINE = "offline"
    UNKNOWN = "unknown"
    """The helpdesk has no presence (Jira Service Management, ServiceNow without Advanced
    Work Assignment): the agent is shown by the work assigned to them, never as available."""

    @property
    def label(self) -> str:
        return _AGENT_LABELS[self]


_AGENT_LABELS = {
    AgentState.AVAILABLE: "Available",
    AgentState.BUSY: "Busy",
    AgentState.WRAP_UP: "Wrap-up",
    AgentState.AWAY: "Away",
    AgentState.OFFLINE: "Offline",
    AgentState.UNKNOWN: "No presence",
}


class TicketStatus(_Term):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    HOLD = "hold"
    SOLVED = "solved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        """Open work: the ticket still needs someone on the floor."""
        return self in (
            TicketStatus.NEW,
            TicketStatus.OPEN,
            TicketStatus.PENDING,
            TicketStatus.HOLD,
        )


class Channel(_Term):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    WEB = "web"
    SOCIAL = "social"
    OTHER = "other"

    @property
    def is_realtime(self) -> bool:
        """Contacts that wait in a queue for an agent (Erlang C applies)."""
        return self in (Channel.VOICE, Channel.CHAT)


class Priority(_Term):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Severity(_Term):
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return 2 if self is Severity.CRITICAL else 1


class SlaState(_Term):
    ACTIVE = "active"
    PAUSED = "paused"
    FULFILLED = "fulfilled"
    BREACHED = "breached"


class HealthState(_Term):
    CONNECTED = "connected"
    POLLING = "polling"
    DEGRADED = "degraded"
    DOWN = "down"


class Capability(_Term):
    """What a helpdesk source can supply to the floor. An account may lack some of them (a
    role, a plan, an add-on, an ACL): the figures that depend on a missing one are unknown on
    the board, never 0, while the rest of the source stays live."""

    TICKETS = "tickets"
    DELETIONS = "deletions"
    QUEUES = "queues"
    AGENTS = "agents"
    PRESENCE = "presence"
    QUEUE_STATS = "queue_stats"
    """Live waiting counts and longest waits the helpdesk reports itself (Talk, queues)."""
    CALLS = "calls"
    """Calls offered, answered, abandoned and handled (voice SL, ASA, abandons, AHT)."""
    CHATS = "chats"
    """Chats offered, answered, abandoned and handled (chat SL, ASA, abandons, AHT)."""
    SLA_POLICIES = "sla_policies"
    SLA_CLOCKS = "sla_clocks"
    SATISFACTION = "satisfaction"
    REPLIES = "replies"
    """How many agent replies each ticket took and whether it reopened (FCR)."""
    VIEWS = "views"
    WRITE_BACK = "write_back"

    @property
    def label(self) -> str:
        return _CAPABILITY_LABELS[self]


_CAPABILITY_LABELS = {
    Capability.TICKETS: N_("tickets"),
    Capability.DELETIONS: N_("deleted tickets"),
    Capability.QUEUES: N_("queues"),
    Capability.AGENTS: N_("agents"),
    Capability.PRESENCE: N_("agent presence"),
    Capability.QUEUE_STATS: N_("live queue figures"),
    Capability.CALLS: N_("calls"),
    Capability.CHATS: N_("chats"),
    Capability.SLA_POLICIES: N_("SLA policies"),
    Capability.SLA_CLOCKS: N_("SLA clocks"),
    Capability.SATISFACTION: N_("satisfaction"),
    Capability.REPLIES: N_("replies per ticket"),
    Capability.VIEWS: N_("view counts"),
    Capability.WRITE_BACK: N_("write-back"),
}


class EscalationStatus(_Term):
    RAISED = "raised"
    ACKED = "acked"
    RESOLVED = "resolved"
