"""Normalized events: every fact about the floor enters the store as one of these.

Times are UTC seconds since the epoch (floats). A payload class is chosen by the
event's ``kind``; vendor fields we do not use are ignored, our own fields are strict.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from supervisor_tui.model.enums import (
    AgentState,
    Capability,
    Channel,
    HealthState,
    Priority,
    Severity,
    SlaState,
    TicketStatus,
)

__all__ = [
    "FURTHEST_AHEAD_S",
    "LONGEST_AGO_S",
    "PAYLOAD_TYPES",
    "AgentStateChanged",
    "AgentUpserted",
    "ContactAbandoned",
    "ContactAnswered",
    "ContactEnded",
    "ContactOffered",
    "EscalationAcked",
    "EscalationNoted",
    "EscalationRaised",
    "EscalationResolved",
    "EscalationSnoozed",
    "Event",
    "FloorSettingsRecorded",
    "ForecastImported",
    "ForecastInterval",
    "Limit",
    "NewEvent",
    "Payload",
    "PayloadError",
    "QueueStats",
    "QueueTargetsRecorded",
    "QueueUpserted",
    "Reason",
    "ScheduleImported",
    "ScheduledActivity",
    "SlaChanged",
    "SourceHealth",
    "SurveyAnswered",
    "TicketDeleted",
    "TicketUpserted",
    "ViewCount",
    "WriteBackResult",
    "in_range",
    "parse_payload",
    "printable",
    "printable_data",
]


_ALL_PRINTABLE = "all printable"
"""Validation context: parse_payload has checked the JSON text holds only printable text."""


class Payload(BaseModel):
    """Base of every payload: vendor extras are dropped, our fields are typed, and text is
    made printable (a control character, an escape sequence or a direction override from a
    helpdesk becomes a space), so nothing a vendor writes can drive the terminal."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    KIND: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _printable(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                # the usual values settled without a call (this runs for every event read)
                kind = type(value)
                if kind is str or value is None:
                    continue
                if (kind is float or kind is int) and LONGEST_AGO_S <= value <= FURTHEST_AHEAD_S:
                    continue
                if not in_range(value):
                    raise ValueError(f"{key}: {value!r:.30} is out of range")
            if info.context is not None and info.context.get(_ALL_PRINTABLE):
                return data  # parse_payload saw every character of the JSON: nothing to clean
            return {key: printable_data(value) for key, value in data.items()}
        return data


LONGEST_AGO_S = -62_135_596_800  # 0001-01-01 UTC
FURTHEST_AHEAD_S = 253_402_300_799  # 9999-12-31 23:59:59 UTC


def in_range(value: Any) -> bool:
    """Every number in an event is a time, a duration, a count or a share, so it fits
    between the first and the last second a datetime can hold; inf, NaN and 1e300 do not
    (a recording from elsewhere may hold them, and a time of 1e300 would crash a report)."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return LONGEST_AGO_S <= value <= FURTHEST_AHEAD_S  # False for NaN
    return True


def printable(text: str) -> str:
    """The text with what is not printable (C0 and C1 controls, so every escape sequence's
    introducer; direction overrides; line separators) turned into spaces: the one cleaner for
    text that came from a helpdesk or a file, so it can never drive the terminal."""
    return text if text.isprintable() else "".join(ch if ch.isprintable() else " " for ch in text)


def printable_data(value: Any) -> Any:
    """``printable`` applied to every string inside decoded JSON, dictionary keys included."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list | tuple):
        return [printable_data(v) for v in value]
    if isinstance(value, dict):
        return {printable_data(k): printable_data(v) for k, v in value.items()}
    return value


class TicketUpserted(Payload):
    KIND = "ticket.upserted"
    ticket_id: str
    status: TicketStatus
    raw_status: str = ""
    priority: Priority | None = None
    channel: Channel = Channel.OTHER
    queue_id: str | None = None
    assignee_id: str | None = None
    requester: str = ""
    requester_kind: str = "customer"
    subject: str = ""
    created_at: float
    updated_at: float
    solved_at: float | None = None
    first_response_at: float | None = None
    tags: tuple[str, ...] = ()
    escalated: bool = False
    satisfaction: str | None = None  # "good" | "bad"; offered/unoffered are not ratings
    reopened: bool = False
    agent_replies: int = 0


class TicketDeleted(Payload):
    KIND = "ticket.deleted"
    ticket_id: str


class SlaChanged(Payload):
    KIND = "sla.changed"
    ticket_id: str
    metric: str  # first_reply_time, next_reply_time, resolution_time, ...
    policy: str = ""
    target_s: float = Field(gt=0)
    due_at: float
    state: SlaState


class AgentUpserted(Payload):
    KIND = "agent.upserted"
    agent_id: str
    name: str
    queue_ids: tuple[str, ...] = ()
    email: str = ""
    """The agent's login e-mail where the helpdesk gives it: a schedule is matched by it."""


class AgentStateChanged(Payload):
    KIND = "agent.state"
    agent_id: str
    state: AgentState
    raw_state: str = ""
    reason: str = ""
    since: float
    work: str = ""  # what the agent is on: "call c-123", "ticket #88"


class QueueUpserted(Payload):
    KIND = "queue.upserted"
    queue_id: str
    name: str
    channel: Channel


class QueueStats(Payload):
    """Waiting figures reported directly by the backend (Talk, Freshcaller)."""

    KIND = "queue.stats"
    queue_id: str
    waiting: int = Field(ge=0)
    longest_wait_s: float = Field(ge=0)
    callbacks_waiting: int = 0
    agents_online: int | None = None
    as_of: float


class ContactOffered(Payload):
    KIND = "contact.offered"
    contact_id: str
    queue_id: str
    channel: Channel
    offered_at: float


class ContactAnswered(Payload):
    KIND = "contact.answered"
    contact_id: str
    queue_id: str
    agent_id: str
    answered_at: float
    wait_s: float = Field(ge=0)


class ContactAbandoned(Payload):
    KIND = "contact.abandoned"
    contact_id: str
    queue_id: str
    abandoned_at: float
    wait_s: float = Field(ge=0)


class ContactEnded(Payload):
    KIND = "contact.ended"
    contact_id: str
    queue_id: str
    agent_id: str
    ended_at: float
    talk_s: float = Field(ge=0)
    hold_s: float = Field(ge=0, default=0)
    wrap_s: float = Field(ge=0, default=0)


class EscalationRaised(Payload):
    """A rule fired (or stepped up in severity) for a subject."""

    KIND = "escalation.raised"
    escalation_id: str
    rule_id: str
    subject: str  # "queue:voice-support", "ticket:123", "sla:123:first_reply_time"
    queue_id: str | None = None
    ticket_source: str | None = None  # where an ack is written back, if anywhere
    ticket_id: str | None = None
    severity: Severity
    title: str
    detail: str = ""
    raised_at: float


class EscalationAcked(Payload):
    KIND = "escalation.acked"
    escalation_id: str
    by: str
    note: str = ""
    at: float
    terminal: str = ""
    write_back: bool = False
    """A write-back to the ticket's helpdesk was queued with it (its outcome follows as a
    ``writeback.result``)."""


class EscalationNoted(Payload):
    KIND = "escalation.noted"
    escalation_id: str
    by: str
    note: str = Field(min_length=1)
    at: float
    terminal: str = ""
    write_back: bool = False


class EscalationSnoozed(Payload):
    KIND = "escalation.snoozed"
    escalation_id: str
    by: str
    until: float
    at: float
    terminal: str = ""


class EscalationResolved(Payload):
    KIND = "escalation.resolved"
    escalation_id: str
    by: str | None = None  # None: the rule saw the condition clear
    reason: str = ""
    at: float
    terminal: str = ""
    write_back: bool = False


class WriteBackResult(Payload):
    """What became of an operator's write-back to a ticket's helpdesk, after an attempt."""

    KIND = "writeback.result"
    escalation_id: str
    request_seq: int
    """The seq of the ack, note or resolve it writes back."""
    action: str
    outcome: Literal["delivered", "retrying", "failed"]
    reason: str = Field(default="", max_length=500)
    retry_at: float | None = None
    at: float


class ViewCount(Payload):
    """A helpdesk view's ticket count; ``count`` None means the helpdesk is still counting
    (unknown, never zero)."""

    KIND = "view.count"
    view_id: str
    name: str
    count: int | None = Field(default=None, ge=0)
    as_of: float


class Reason(Payload):
    """Why a source is in trouble, as a code and its values (``model.reasons`` holds the
    words): stored beside the English ``reason`` so a board says it in its own language,
    a recording made in English replayed in Japanese included. Logs keep the English."""

    code: str = Field(max_length=64)
    values: tuple[tuple[str, str], ...] = ()


class Limit(Payload):
    """A capability this account does not give us, why, and how to get it (part of a
    ``source.health``, not an event of its own)."""

    capability: Capability
    reason: str = Field(max_length=500)
    """What the helpdesk said, in the floor's words ("the plan has no Surveys")."""
    fix: str = Field(default="", max_length=500)
    """What would give it back ("use an admin's token")."""
    retry_at: float | None = None
    """When it is tried again, in case the account changed."""
    partial: bool = False
    """Part of it is there (tickets of some groups only): its figures cover that part."""
    said: Reason | None = None
    """``reason`` as a code, to be said in the board's language (None: only the English)."""


class SourceHealth(Payload):
    KIND = "source.health"
    state: HealthState
    reason: str = ""
    retry_at: float | None = None
    budget_left: float | None = None  # fraction of the rate limit left, 0..1
    poll_interval_s: float | None = None
    limits: tuple[Limit, ...] = ()
    """Capabilities turned off for this account; the rest of the source is live."""
    said: Reason | None = None
    """``reason`` as a code, to be said in the board's language (None: only the English)."""
    ticket_url: str = Field(default="", max_length=500)
    """The helpdesk's own page of a ticket, ``{id}`` standing for its id ("" none)."""
    at: float


class SurveyAnswered(Payload):
    """A customer's answer to "how likely are you to recommend us" (0–10), for a ticket or a
    requester: imported from a survey tool's export, or read from the helpdesk."""

    KIND = "survey.answered"
    ticket_id: str | None = None
    requester: str = ""
    score: int = Field(ge=0, le=10)
    at: float


class QueueTargetsRecorded(Payload):
    """A queue's targets as the board used them (part of a ``floor.settings``)."""

    sl_threshold_s: float = Field(gt=0)
    sl_target: float = Field(gt=0, lt=1)
    short_abandon_s: float = Field(ge=0)
    aht_default_s: float = Field(gt=0)
    erlang_window_s: float = Field(gt=0)
    max_concurrent: int = Field(default=1, ge=1)


class FloorSettingsRecorded(Payload):
    """The settings the board ran with, written when the floor starts and whenever they
    change, so a report or a replay of the recording uses what the board used."""

    KIND = "floor.settings"
    floor_name: str
    timezone: str = ""
    """The floor's IANA time zone; empty: the fixed ``utc_offset_s``."""
    utc_offset_s: int = 0
    default: QueueTargetsRecorded
    queues: dict[str, QueueTargetsRecorded] = Field(default_factory=dict)
    rules: tuple[dict[str, Any], ...] = ()
    """The rules as configured (validated again by the rule engine when used)."""
    at: float


class ForecastInterval(Payload):
    """One queue's forecast for one half hour (part of a ``forecast.imported``)."""

    queue_id: str = Field(min_length=1)
    start: float
    offered: float = Field(ge=0)
    aht_s: float = Field(gt=0)


class ForecastImported(Payload):
    """A forecast imported from a workforce tool's file: each interval replaces what the
    floor's own history would forecast for it, from this event on."""

    KIND = "forecast.imported"
    intervals: tuple[ForecastInterval, ...]
    file: str = ""
    at: float


class ScheduledActivity(Payload):
    """One agent's planned activity ("open", "break", "lunch", "training", ...) from start
    to end (part of a ``schedule.imported``)."""

    agent_id: str = Field(min_length=1)
    start: float
    end: float
    activity: str = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _ends_after_start(self) -> ScheduledActivity:
        if self.end <= self.start:
            raise ValueError("an activity ends after it starts")
        return self


class ScheduleImported(Payload):
    """A schedule imported from a file: for each agent in it, the activities between its
    first start and last end replace what an earlier import planned there."""

    KIND = "schedule.imported"
    activities: tuple[ScheduledActivity, ...]
    file: str = ""
    at: float


PAYLOAD_TYPES: dict[str, type[Payload]] = {
    cls.KIND: cls
    for cls in (
        TicketUpserted,
        TicketDeleted,
        SlaChanged,
        AgentUpserted,
        AgentStateChanged,
        QueueUpserted,
        QueueStats,
        ContactOffered,
        ContactAnswered,
        ContactAbandoned,
        ContactEnded,
        EscalationRaised,
        EscalationAcked,
        EscalationNoted,
        EscalationSnoozed,
        EscalationResolved,
        WriteBackResult,
        SourceHealth,
        ViewCount,
        FloorSettingsRecorded,
        SurveyAnswered,
        ForecastImported,
        ScheduleImported,
    )
}

_ADAPTERS: dict[str, TypeAdapter[Any]] = {k: TypeAdapter(v) for k, v in PAYLOAD_TYPES.items()}


class PayloadError(ValueError):
    """A payload that does not match its kind; it goes to quarantine, never to the log."""


def parse_payload(kind: str, raw: str | bytes | dict[str, Any]) -> Payload:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        raise PayloadError(f"unknown event kind {kind!r}")
    try:
        if isinstance(raw, dict):
            value: Payload = adapter.validate_python(raw)
        else:
            # JSON text with no escape (no backslash) decodes to strings made of its own
            # characters: when all of them are printable, so is every string in it, and the
            # cleaning per field (most of the cost of reading a recording) has nothing to do.
            printable_json = isinstance(raw, str) and "\\" not in raw and raw.isprintable()
            value = adapter.validate_json(raw, context={_ALL_PRINTABLE: printable_json})
    except ValidationError as exc:
        raise PayloadError(
            f"{kind}: "
            + "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                for e in exc.errors()
            )
        ) from None
    return value


class NewEvent(BaseModel):
    """An event as an adapter or a command produces it, before the store gives it a seq."""

    model_config = ConfigDict(frozen=True)

    source: str
    key: str
    occurred_at: float
    received_at: float
    payload: Payload

    @property
    def kind(self) -> str:
        return self.payload.KIND


class Event(BaseModel):
    """A stored event: ``seq`` is assigned by the store and strictly increases."""

    model_config = ConfigDict(frozen=True)

    seq: int
    source: str
    key: str
    occurred_at: float
    received_at: float
    payload: Payload

    @property
    def kind(self) -> str:
        return self.payload.KIND
