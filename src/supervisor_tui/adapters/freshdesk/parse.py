"""Freshdesk JSON → normalized payloads. Pure functions, no I/O: the conformance tests feed
them the recorded real responses.

Freshdesk lists are bare JSON arrays; times are ISO-8601 UTC; statuses are numbers (2 open,
3 pending, 4 resolved, 5 closed, 6 and up custom, labelled in the status ticket field).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from supervisor_tui.adapters.polling import ShapeError, group_channel, ts
from supervisor_tui.model import (
    AgentState,
    AgentUpserted,
    Channel,
    Priority,
    QueueUpserted,
    SlaChanged,
    SlaState,
    TicketStatus,
    TicketUpserted,
)

OPEN, PENDING, RESOLVED, CLOSED = 2, 3, 4, 5
_STATUS = {
    OPEN: TicketStatus.OPEN,
    PENDING: TicketStatus.PENDING,
    RESOLVED: TicketStatus.SOLVED,
    CLOSED: TicketStatus.CLOSED,
}
_PRIORITY = {1: Priority.LOW, 2: Priority.NORMAL, 3: Priority.HIGH, 4: Priority.URGENT}
_SOURCE = {
    1: Channel.EMAIL,
    2: Channel.WEB,  # portal
    3: Channel.VOICE,  # phone
    5: Channel.SOCIAL,  # twitter
    6: Channel.SOCIAL,  # facebook
    7: Channel.CHAT,
    8: Channel.CHAT,  # mobihelp
    9: Channel.WEB,  # feedback widget
    10: Channel.EMAIL,  # outbound e-mail
    13: Channel.SOCIAL,  # whatsapp
}
GOOD_RATING = 100
"""Freshdesk's scale: 103 extremely happy … 100 neutral … -103 extremely unhappy."""


@dataclass(slots=True)
class Context:
    source: str
    status_labels: dict[int, str] = field(default_factory=dict)
    """Every status id → the agents' label (custom statuses included)."""
    custom_status_as: TicketStatus = TicketStatus.PENDING
    """Custom statuses (6 and up) count as this: by default they stop the clock, as
    Freshdesk's own "Waiting on customer" / "Waiting on third party" do."""
    group_channels: dict[int, Channel] = field(default_factory=dict)

    def queue_id(self, group_id: Any) -> str | None:
        return None if group_id in (None, "", 0) else f"{self.source}:{group_id}"

    def agent_id(self, agent_id: Any) -> str | None:
        return None if agent_id in (None, "", 0) else f"{self.source}:{agent_id}"


def _id(record: Mapping[str, Any], key: str = "id") -> int:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ShapeError(f"record without a numeric {key!r}")
    return value


def status_labels(fields: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """From ``/ticket_fields``: the status field's choices, ``{"2": ["Open", ...]}``."""
    for f in fields:
        if f.get("name") == "status" or f.get("type") == "default_status":
            choices = f.get("choices") or {}
            out = {}
            for key, labels in choices.items():
                try:
                    number = int(key)
                except ValueError:
                    continue
                label = labels[0] if isinstance(labels, list) and labels else str(labels)
                out[number] = str(label)
            return out
    return {}


def ticket_payload(ticket: Mapping[str, Any], ctx: Context) -> TicketUpserted:
    ticket_id = str(_id(ticket))
    number = ticket.get("status")
    if not isinstance(number, int):
        raise ShapeError(f"ticket {ticket_id}: status is not a number")
    status = _STATUS.get(number)
    if status is None:
        if number < 6:
            raise ShapeError(f"ticket {ticket_id}: unknown status {number}")
        status = ctx.custom_status_as
    label = ctx.status_labels.get(number, str(number))
    responder = ctx.agent_id(ticket.get("responder_id"))
    if status is TicketStatus.OPEN and responder is None:
        status = TicketStatus.NEW  # nobody has it yet
    stats = ticket.get("stats") or {}
    solved_at = stats.get("resolved_at") or stats.get("closed_at")
    requester = ticket.get("requester") or {}
    tags = tuple(str(t) for t in ticket.get("tags") or ())
    updated = ts(ticket.get("updated_at"))
    return TicketUpserted(
        ticket_id=ticket_id,
        status=status,
        raw_status=label,
        priority=_PRIORITY.get(ticket.get("priority") or 0),
        channel=_SOURCE.get(ticket.get("source") or 0, Channel.OTHER),
        queue_id=ctx.queue_id(ticket.get("group_id")),
        assignee_id=responder,
        requester=str(requester.get("name") or "") if isinstance(requester, Mapping) else "",
        subject=str(ticket.get("subject") or ""),
        created_at=ts(ticket.get("created_at")),
        updated_at=updated,
        solved_at=(
            ts(solved_at)
            if solved_at
            else (updated if status in (TicketStatus.SOLVED, TicketStatus.CLOSED) else None)
        ),
        first_response_at=ts(stats["first_responded_at"])
        if stats.get("first_responded_at")
        else None,
        tags=tags,
        escalated=bool(ticket.get("is_escalated")),
    )


def sla_payloads(ticket: Mapping[str, Any], now: float) -> list[SlaChanged]:
    """The ticket's due times as SLA clocks: first response (``fr_due_by``), next response
    (``nr_due_by``) and resolution (``due_by``), each breached when Freshdesk's escalated
    flag says so or the time has passed, fulfilled when the response or resolution came.
    The target is measured from creation (from the last update for the next response)."""
    ticket_id = str(_id(ticket))
    created = ts(ticket.get("created_at"))
    updated = ts(ticket.get("updated_at"))
    stats = ticket.get("stats") or {}
    status = ticket.get("status")
    done = status in (RESOLVED, CLOSED)
    paused = status == PENDING or (isinstance(status, int) and status >= 6)
    out = []
    for metric, due_key, flag, fulfilled, start in (
        (
            "first_reply_time",
            "fr_due_by",
            "fr_escalated",
            bool(stats.get("first_responded_at")) or done,
            created,
        ),
        ("next_reply_time", "nr_due_by", "nr_escalated", done, updated),
        ("total_resolution_time", "due_by", "is_escalated", done, created),
    ):
        due_text = ticket.get(due_key)
        if not due_text:
            continue
        due = ts(due_text)
        target = due - start
        if target <= 0:
            continue
        if fulfilled:
            state = SlaState.FULFILLED
        elif ticket.get(flag) or now >= due:
            state = SlaState.BREACHED
        elif paused:
            state = SlaState.PAUSED
        else:
            state = SlaState.ACTIVE
        out.append(
            SlaChanged(
                ticket_id=ticket_id,
                metric=metric,
                policy="",
                target_s=target,
                due_at=due,
                state=state,
            )
        )
    return out


# -- groups and agents ---------------------------------------------------------------------


def group_payloads(
    groups: Iterable[Mapping[str, Any]], ctx: Context, configured: Mapping[str, str] | None = None
) -> list[QueueUpserted]:
    out = []
    for group in groups:
        gid = _id(group)
        name = str(group.get("name") or gid)
        channel = group_channel(name, configured)
        ctx.group_channels[gid] = channel
        out.append(QueueUpserted(queue_id=f"{ctx.source}:{gid}", name=name, channel=channel))
    return out


def agent_payloads(
    agents: Iterable[Mapping[str, Any]], members: Mapping[int, Iterable[int]], ctx: Context
) -> list[AgentUpserted]:
    """Agents with their groups (``members``: group id → agent ids)."""
    groups: dict[int, list[str]] = {}
    for gid, agent_ids in members.items():
        for aid in agent_ids:
            groups.setdefault(int(aid), []).append(f"{ctx.source}:{gid}")
    out = []
    for agent in agents:
        aid = _id(agent)
        contact = agent.get("contact") or {}
        own = agent.get("group_ids")
        queue_ids = (
            [f"{ctx.source}:{g}" for g in own] if isinstance(own, list) else groups.get(aid, [])
        )
        out.append(
            AgentUpserted(
                agent_id=f"{ctx.source}:{aid}",
                name=str(contact.get("name") or contact.get("email") or aid),
                queue_ids=tuple(sorted(queue_ids)),
                email=str(contact.get("email") or ""),
            )
        )
    return out


def agent_presence(
    agent: Mapping[str, Any], now: float, idle_after_s: float
) -> tuple[AgentState, str]:
    """What Freshdesk says about an agent, said honestly.

    ``available`` means "takes round-robin assignments", not "present": an agent who took
    themselves out of assignment is away (reason: paused). ``last_active_at`` is
    the last activity in the helpdesk: quiet for longer than ``idle_after_s`` is offline."""
    last = agent.get("last_active_at")
    if not last or now - ts(last) > idle_after_s:
        return AgentState.OFFLINE, "inactive" if last else "never active"
    if agent.get("available"):
        return AgentState.AVAILABLE, "taking assignments"
    return AgentState.AWAY, "paused"  # signed in, but out of the assignment rota


# -- satisfaction ---------------------------------------------------------------------------


def rating_score(rating: Mapping[str, Any]) -> str | None:
    """good / bad from a survey answer's default question; neutral (100) is neither."""
    ratings = rating.get("ratings") or {}
    value = ratings.get("default_question")
    if not isinstance(value, int):
        return None
    if value > GOOD_RATING:
        return "good"
    if value < GOOD_RATING:
        return "bad"
    return None


def sla_policy_count(policies: Iterable[Mapping[str, Any]]) -> int:
    return sum(1 for p in policies if p.get("active", True))
