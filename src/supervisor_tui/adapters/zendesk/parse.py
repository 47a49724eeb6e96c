"""Zendesk JSON → normalized payloads. Pure functions, no I/O: the conformance tests feed
them the recorded real responses.

Ids are namespaced by source (``zendesk:360003074836``) so two accounts, or a Zendesk and
a Freshdesk, never share a queue or an agent by accident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from supervisor_tui.adapters.polling import ShapeError as ShapeError
from supervisor_tui.adapters.polling import group_channel as group_channel
from supervisor_tui.adapters.polling import iso as iso
from supervisor_tui.adapters.polling import ts as ts
from supervisor_tui.adapters.polling import ts_or_none as ts_or_none
from supervisor_tui.model import (
    AgentState,
    AgentUpserted,
    Channel,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    Payload,
    Priority,
    QueueStats,
    QueueUpserted,
    SlaChanged,
    SlaState,
    TicketDeleted,
    TicketStatus,
    TicketUpserted,
)

_STATUS = {
    "new": TicketStatus.NEW,
    "open": TicketStatus.OPEN,
    "pending": TicketStatus.PENDING,
    "hold": TicketStatus.HOLD,
    "solved": TicketStatus.SOLVED,
    "closed": TicketStatus.CLOSED,
}
_PRIORITY = {
    "low": Priority.LOW,
    "normal": Priority.NORMAL,
    "high": Priority.HIGH,
    "urgent": Priority.URGENT,
}
_CHANNEL = {
    "email": Channel.EMAIL,
    "web": Channel.WEB,
    "web_form": Channel.WEB,
    "web_widget": Channel.WEB,
    "mobile_sdk": Channel.CHAT,
    "chat": Channel.CHAT,
    "chat_transcript": Channel.CHAT,
    "native_messaging": Channel.CHAT,
    "messaging": Channel.CHAT,
    "sunshine_conversations_api": Channel.CHAT,
    "voice": Channel.VOICE,
    "phone_call_inbound": Channel.VOICE,
    "phone_call_outbound": Channel.VOICE,
    "voicemail": Channel.VOICE,
    "twitter": Channel.SOCIAL,
    "facebook": Channel.SOCIAL,
    "instagram_dm": Channel.SOCIAL,
    "whatsapp": Channel.SOCIAL,
    "line": Channel.SOCIAL,
    "wechat": Channel.SOCIAL,
}
_METRIC = {
    "reply_time": "first_reply_time",  # instance 1; later instances are next replies
    "agent_work_time": "agent_work_time",
    "requester_wait_time": "requester_wait_time",
    "resolution_time": "total_resolution_time",
    "pausable_update_time": "pausable_update_time",
    "periodic_update_time": "periodic_update_time",
}
STAFF_ROLES = ("agent", "admin")


@dataclass(slots=True)
class Context:
    """What a parser needs to know about the account (learned from cold calls)."""

    source: str
    custom_statuses: dict[int, tuple[TicketStatus, str]] = field(default_factory=dict)
    """custom_status_id → (its category, the agents' label)."""
    group_channels: dict[int, Channel] = field(default_factory=dict)
    escalation_tags: tuple[str, ...] = ("escalated",)

    def queue_id(self, group_id: Any) -> str | None:
        return None if group_id in (None, "") else f"{self.source}:{group_id}"

    def agent_id(self, user_id: Any) -> str | None:
        return None if user_id in (None, "", 0) else f"{self.source}:{user_id}"


def _id(record: Mapping[str, Any], key: str = "id") -> int:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or value in ("", None):
        raise ShapeError(f"record without a usable {key!r}")
    try:
        return int(value)
    except ValueError:
        raise ShapeError(f"{key!r} is not a number: {str(value)[:30]!r}") from None


# -- tickets --------------------------------------------------------------------------------


def custom_statuses(field_or_list: Any) -> dict[int, tuple[TicketStatus, str]]:
    """From the ``custom_status`` ticket field (or a ``custom_statuses`` list)."""
    items = (
        field_or_list.get("custom_statuses", [])
        if isinstance(field_or_list, Mapping)
        else field_or_list
    )
    out: dict[int, tuple[TicketStatus, str]] = {}
    for item in items or []:
        category = _STATUS.get(str(item.get("status_category", "")))
        if category is None:
            continue
        out[_id(item)] = (category, str(item.get("agent_label") or category.value))
    return out


def ticket_channel(ticket: Mapping[str, Any]) -> Channel:
    via = ticket.get("via") or {}
    channel = str(via.get("channel") or "")
    rel = str((via.get("source") or {}).get("rel") or "")
    if rel == "voicemail":
        return Channel.VOICE
    return _CHANNEL.get(channel, Channel.OTHER)


def ticket_payload(ticket: Mapping[str, Any], ctx: Context) -> Payload:
    """One ticket from the export or the REST API: upserted, or deleted."""
    ticket_id = str(_id(ticket))
    raw_status = str(ticket.get("status") or "")
    if raw_status == "deleted":
        return TicketDeleted(ticket_id=ticket_id)
    status = _STATUS.get(raw_status)
    label = raw_status
    custom = ctx.custom_statuses.get(ticket.get("custom_status_id") or 0)
    if custom is not None:
        status = status or custom[0]
        label = custom[1]
    if status is None:
        raise ShapeError(f"ticket {ticket_id}: unknown status {raw_status[:20]!r}")
    created = ts(ticket.get("created_at"))
    updated = ts(ticket.get("updated_at"))
    tags = tuple(str(t) for t in ticket.get("tags") or ())
    via = ticket.get("via") or {}
    requester = (via.get("source") or {}).get("from") or {}
    rating = ticket.get("satisfaction_rating") or {}
    return TicketUpserted(
        ticket_id=ticket_id,
        status=status,
        raw_status=label,
        priority=_PRIORITY.get(str(ticket.get("priority") or "")),
        channel=ticket_channel(ticket),
        queue_id=ctx.queue_id(ticket.get("group_id")),
        assignee_id=ctx.agent_id(ticket.get("assignee_id")),
        requester=str(requester.get("name") or "") if isinstance(requester, Mapping) else "",
        subject=str(ticket.get("subject") or ""),
        created_at=created,
        updated_at=updated,
        solved_at=updated if status in (TicketStatus.SOLVED, TicketStatus.CLOSED) else None,
        tags=tags,
        escalated=any(t in ctx.escalation_tags for t in tags),
        satisfaction=satisfaction(rating.get("score") if isinstance(rating, Mapping) else None),
    )


def satisfaction(score: Any) -> str | None:
    """good/bad (with or without comment); offered and unoffered are not ratings."""
    if not isinstance(score, str):
        return None
    if score.startswith("good"):
        return "good"
    if score.startswith("bad"):
        return "bad"
    return None


def rating_scores(ratings: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """ticket id → good/bad, from ``/satisfaction_ratings`` (offered ones left out)."""
    out = {}
    for rating in ratings:
        score = satisfaction(rating.get("score"))
        if score is not None and rating.get("ticket_id") is not None:
            out[str(rating["ticket_id"])] = score
    return out


# -- queues and agents ----------------------------------------------------------------------


def group_payloads(
    groups: Iterable[Mapping[str, Any]], ctx: Context, configured: Mapping[str, str] | None = None
) -> list[QueueUpserted]:
    out = []
    for group in groups:
        if group.get("deleted"):
            continue
        gid = _id(group)
        name = str(group.get("name") or gid)
        channel = group_channel(name, configured)
        ctx.group_channels[gid] = channel
        out.append(QueueUpserted(queue_id=f"{ctx.source}:{gid}", name=name, channel=channel))
    return out


def staff(users: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Agents and admins who can work tickets (not suspended, not deactivated)."""
    return [
        u
        for u in users
        if u.get("role") in STAFF_ROLES and not u.get("suspended") and u.get("active", True)
    ]


def agent_payloads(
    users: Iterable[Mapping[str, Any]], memberships: Iterable[Mapping[str, Any]], ctx: Context
) -> list[AgentUpserted]:
    groups: dict[int, list[str]] = {}
    for m in memberships:
        groups.setdefault(_id(m, "user_id"), []).append(f"{ctx.source}:{_id(m, 'group_id')}")
    return [
        AgentUpserted(
            agent_id=f"{ctx.source}:{_id(u)}",
            name=str(u.get("name") or u.get("email") or _id(u)),
            queue_ids=tuple(sorted(groups.get(_id(u), ()))),
            email=str(u.get("email") or ""),
        )
        for u in staff(users)
    ]


# -- agent state ----------------------------------------------------------------------------


def talk_state(row: Mapping[str, Any]) -> tuple[AgentState, str]:
    """Talk's agent_state × call_status → our state, and the raw value kept for display."""
    agent_state = str(row.get("agent_state") or "offline")
    call_status = row.get("call_status")
    raw = agent_state if not call_status else f"{agent_state}/{call_status}"
    if call_status == "on_call":
        return AgentState.BUSY, raw
    if call_status == "wrap_up":
        return AgentState.WRAP_UP, raw
    if agent_state == "online":
        return AgentState.AVAILABLE, raw
    if agent_state in ("away", "transfers_only"):
        return AgentState.AWAY, raw
    return AgentState.OFFLINE, raw


def availability_states(
    body: Mapping[str, Any],
) -> list[tuple[str, AgentState, str, str, float | None]]:
    """One page of omnichannel agent availabilities (JSON:API) →
    (user id, state, raw status name, work, since).

    ``since`` is when the status or the busy channel last changed, where Zendesk says.

    An online agent with work items on a channel is busy on it; the status name is kept
    raw, and any other name (a custom "Lunch", "Training") counts as away.
    """
    data = body.get("data")
    if not isinstance(data, list):
        raise ShapeError("no data list in agent availabilities")
    channels = {
        str(item.get("id")): item.get("attributes") or {}
        for item in body.get("included") or []
        if isinstance(item, Mapping) and item.get("type") == "channels"
    }
    out = []
    for record in data:
        attrs = record.get("attributes") or {}
        user_id = attrs.get("agent_id")
        if user_id is None:
            raise ShapeError("agent availability without an agent_id")
        status = attrs.get("agent_status") or {}
        name = str(status.get("name") or "offline") if isinstance(status, Mapping) else "offline"
        busy_on = []
        stamps = [status.get("updated_at")] if isinstance(status, Mapping) else []
        links = ((record.get("relationships") or {}).get("channels") or {}).get("data") or []
        for link in links:
            channel = channels.get(str(link.get("id")), {})
            if int(channel.get("work_item_count") or 0) > 0:
                busy_on.append(str(channel.get("name") or "?"))
                stamps.append(channel.get("updated_at"))
        since = max((ts(x) for x in stamps if isinstance(x, str)), default=None)
        lowered = name.lower()
        if lowered == "online":
            state = AgentState.BUSY if busy_on else AgentState.AVAILABLE
        elif lowered == "offline":
            state = AgentState.OFFLINE
        else:
            state = AgentState.AWAY
        out.append((str(user_id), state, name, ", ".join(busy_on), since))
    return out


# -- Talk ------------------------------------------------------------------------------------


def queue_activity(body: Mapping[str, Any], queue_id: str, at: float) -> QueueStats:
    """``current_queue_activity``: the waiting calls Talk itself reports."""
    activity = body.get("current_queue_activity")
    if not isinstance(activity, Mapping):
        raise ShapeError("no current_queue_activity object")
    return QueueStats(
        queue_id=queue_id,
        waiting=max(0, int(activity.get("calls_waiting") or 0)),
        longest_wait_s=max(0.0, float(activity.get("longest_wait_time") or 0)),
        callbacks_waiting=max(0, int(activity.get("callbacks_waiting") or 0)),
        agents_online=activity.get("agents_online"),
        as_of=at,
    )


ANSWERED = frozenset({"completed", "answered", "transferred"})
ABANDONED_IN_QUEUE = frozenset(
    {"abandoned_in_queue", "abandoned_on_hold", "abandoned_in_voicemail"}
)


def phone_lines(numbers: Iterable[Mapping[str, Any]]) -> dict[int, int]:
    """Talk phone number id → the group its calls route to (``default_group_id``)."""
    return {
        _id(n): int(n["default_group_id"])
        for n in numbers
        if isinstance(n.get("default_group_id"), int)
    }


def call_payloads(
    call: Mapping[str, Any], ctx: Context, lines: Mapping[int, int] | None = None
) -> list[Payload]:
    """One finished inbound Talk call → offered + answered/abandoned (+ ended).

    The queue is the call's group, else the group its phone line routes to. Outbound
    calls, IVR hang-ups and calls with no group are not queue contacts.
    """
    if call.get("direction") != "inbound":
        return []
    group = call.get("call_group_id")
    if group is None and lines:
        group = lines.get(call.get("phone_number_id") or 0)
    queue_id = ctx.queue_id(group)
    if queue_id is None:
        return []
    contact_id = f"{ctx.source}:call:{_id(call)}"
    offered = ts(call.get("created_at"))
    wait = float(call.get("wait_time") or 0)
    status = str(call.get("completion_status") or "")
    agent = ctx.agent_id(call.get("agent_id"))
    out: list[Payload] = [
        ContactOffered(
            contact_id=contact_id, queue_id=queue_id, channel=Channel.VOICE, offered_at=offered
        )
    ]
    if status in ANSWERED and agent is not None:
        talk = float(call.get("talk_time") or 0)
        hold = float(call.get("hold_time") or 0)
        wrap = float(call.get("wrap_up_time") or 0)
        answered = offered + wait
        out.append(
            ContactAnswered(
                contact_id=contact_id,
                queue_id=queue_id,
                agent_id=agent,
                answered_at=answered,
                wait_s=wait,
            )
        )
        out.append(
            ContactEnded(
                contact_id=contact_id,
                queue_id=queue_id,
                agent_id=agent,
                ended_at=answered + talk + hold + wrap,
                talk_s=talk,
                hold_s=hold,
                wrap_s=wrap,
            )
        )
    elif status in ABANDONED_IN_QUEUE or (status.startswith("abandoned") and wait > 0):
        out.append(
            ContactAbandoned(
                contact_id=contact_id, queue_id=queue_id, abandoned_at=offered + wait, wait_s=wait
            )
        )
    else:
        return []  # IVR hang-up, voicemail, failed: never waited for an agent
    return out


def leg_ended(leg: Mapping[str, Any], ctx: Context, queue_id: str) -> ContactEnded | None:
    """An agent's leg of a call: how long that agent talked, held and wrapped it up."""
    if leg.get("type") != "agent" or leg.get("completion_status") not in ANSWERED:
        return None
    agent = ctx.agent_id(leg.get("agent_id"))
    if agent is None:
        return None
    talk = float(leg.get("talk_time") or 0)
    hold = float(leg.get("hold_time") or 0)
    wrap = float(leg.get("wrap_up_time") or 0)
    return ContactEnded(
        contact_id=f"{ctx.source}:call:{_id(leg, 'call_id')}",
        queue_id=queue_id,
        agent_id=agent,
        ended_at=ts(leg.get("updated_at")),
        talk_s=talk,
        hold_s=hold,
        wrap_s=wrap,
    )


# -- SLAs ------------------------------------------------------------------------------------


@dataclass(slots=True)
class SlaClock:
    """What the metric events told us so far about one (ticket, metric, instance)."""

    policy: str = ""
    target_s: float = 0.0
    started_at: float | None = None
    due_at: float | None = None
    state: SlaState = SlaState.ACTIVE


def metric_name(event: Mapping[str, Any]) -> str:
    metric = str(event.get("metric") or "")
    if metric == "reply_time" and int(event.get("instance_id") or 1) > 1:
        return "next_reply_time"
    return _METRIC.get(metric, metric)


def sla_payload(
    event: Mapping[str, Any], clocks: dict[tuple[str, str, int], SlaClock]
) -> SlaChanged | None:
    """One ticket metric event; returns an ``sla.changed`` once a target is known.

    ``apply_sla`` carries the target (and policy); ``activate`` starts the clock;
    ``breach`` is written when the target is missed (its ``time`` may be in the future:
    that is the due time); ``fulfill`` ends it; ``pause`` stops it. Business-hours
    targets are counted in calendar time here, which makes them due early, never late.
    """
    ticket_id = str(_id(event, "ticket_id"))
    metric = metric_name(event)
    instance = int(event.get("instance_id") or 1)
    key = (ticket_id, metric, instance)
    clock = clocks.setdefault(key, SlaClock())
    kind = str(event.get("type") or "")
    at = ts(event.get("time"))
    if kind == "apply_sla":
        sla = event.get("sla") or {}
        target_s = sla.get("target_in_seconds")
        if target_s is None and sla.get("target") is not None:
            target_s = float(sla["target"]) * 60
        if not target_s:
            return None
        clock.target_s = float(target_s)
        policy = sla.get("policy") or {}
        clock.policy = str(policy.get("title") or "") if isinstance(policy, Mapping) else ""
        if clock.started_at is None:
            clock.started_at = at
        clock.state = SlaState.ACTIVE
    elif kind == "activate":
        clock.started_at = at
        clock.state = SlaState.ACTIVE
        if clock.target_s:
            clock.due_at = at + clock.target_s
    elif kind == "breach":
        clock.due_at = at
        clock.state = SlaState.BREACHED
    elif kind == "fulfill":
        clock.state = SlaState.FULFILLED
    elif kind == "pause":
        clock.state = SlaState.PAUSED
    else:
        return None
    if not clock.target_s:
        return None
    due = clock.due_at
    if due is None:
        due = (clock.started_at or at) + clock.target_s
    if clock.state is SlaState.FULFILLED:
        del clocks[key]  # done with: the map holds running clocks only
    return SlaChanged(
        ticket_id=ticket_id,
        metric=metric,
        policy=clock.policy,
        target_s=clock.target_s,
        due_at=due,
        state=clock.state,
    )


def sla_policy_count(policies: Iterable[Mapping[str, Any]]) -> int:
    return sum(1 for p in policies if p.get("id") is not None)


# -- views -----------------------------------------------------------------------------------


def view_count(body: Mapping[str, Any]) -> int | None:
    """A view's ticket count, or None while Zendesk is still counting (never 0 for unknown)."""
    count = body.get("view_count")
    if not isinstance(count, Mapping):
        raise ShapeError("no view_count object")
    value = count.get("value")
    if not count.get("fresh") or value is None:
        return None
    return int(value)


@dataclass(frozen=True, slots=True)
class TicketTimes:
    """From ``ticket_metrics``: what a shift report needs (calendar minutes → seconds)."""

    ticket_id: str
    first_reply_s: float | None
    full_resolution_s: float | None
    replies: int
    reopens: int


def ticket_times(record: Mapping[str, Any]) -> TicketTimes:
    def seconds(key: str) -> float | None:
        value = (record.get(key) or {}).get("calendar")
        return None if value is None else float(value) * 60

    return TicketTimes(
        ticket_id=str(_id(record, "ticket_id")),
        first_reply_s=seconds("reply_time_in_minutes"),
        full_resolution_s=seconds("full_resolution_time_in_minutes"),
        replies=int(record.get("replies") or 0),
        reopens=int(record.get("reopens") or 0),
    )


def metric_sets(body: Mapping[str, Any]) -> dict[str, TicketTimes]:
    """ticket id → its metrics, from the export's ``metric_sets`` sideload
    (``include=metric_sets``: the same records as ``/ticket_metrics``); a row without a
    ticket id is left out."""
    out: dict[str, TicketTimes] = {}
    for record in body.get("metric_sets") or []:
        if isinstance(record, Mapping) and record.get("ticket_id") is not None:
            times = ticket_times(record)
            out[times.ticket_id] = times
    return out


def with_replies(payload: TicketUpserted, times: TicketTimes | None) -> TicketUpserted:
    """The ticket with its agent replies and reopens (what FCR needs), when Zendesk said."""
    if times is None:
        return payload
    return payload.model_copy(
        update={"agent_replies": times.replies, "reopened": times.reopens > 0}
    )
