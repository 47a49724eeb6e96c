"""ServiceNow Table API JSON → normalized payloads. Pure functions, no I/O.

What the Table API answers (checked against the vendor's public reference; no recording of a
real instance exists in this repository, so every shape below is from these pages):

- Table API, ``GET /api/now/table/{tableName}`` with ``sysparm_query`` (encoded query),
  ``sysparm_fields``, ``sysparm_limit``, ``sysparm_offset``,
  ``sysparm_exclude_reference_link``, ``sysparm_display_value``; ``PATCH
  /api/now/table/{tableName}/{sys_id}``; bodies ``{"result": [...]}`` / ``{"result": {...}}``,
  errors ``{"error": {"message": ..., "detail": ...}, "status": "failure"}``:
  https://www.servicenow.com/docs/r/api-reference/rest-apis/c_TableAPI.html
- Paging: ``Link: <…sysparm_offset=0…>;rel="first",<…>;rel="next",<…>;rel="last"`` (next
  and prev left out where they do not apply, no Link at all on a single page) and
  ``X-Total-Count``: https://githubissues.com/ServiceNowITOM/ansible-sn-inventory/15 (a real
  instance's headers quoted) and https://openillumi.com/en/en-servicenow-rest-api-total-count-header
- Paging by key (``sys_id>{last}^ORDERBYsys_id``) is how ServiceNow's own docs break up a
  large export: https://docs.servicenow.com/bundle/paris-platform-administration/page/administer/exporting-data/task/t_BreakUpALargeExport.html
  (quoted with the Table API's dot-walked ``sysparm_fields`` such as ``caller_id.email`` in
  https://github.com/towerofpower256/DavesSNBulkDataExportTool's write-up).
- An unknown table answers 400 ``{"error":{"message":"Invalid table <name>","detail":null},
  "status":"failure"}`` (quoted from several public clients' tests and logs, e.g. the
  ``Invalid table cmn_rota_roster`` / ``Invalid table x_casemgmt_case`` transcripts).
- Rate limit rules: ``X-RateLimit-Limit`` (requests an hour), ``X-RateLimit-Reset`` (a UNIX
  timestamp), ``X-RateLimit-Rule`` (the rule's sys_id); over it, 429 with ``Retry-After``
  (seconds): https://docs.servicenow.com/bundle/washingtondc-api-reference/page/integrate/inbound-rest/concept/inbound-REST-API-rate-limiting.html
- Date/time values are stored and returned in UTC as ``YYYY-MM-DD HH:MM:SS``; a plain value
  in a web-service query is read as UTC (``javascript:gs.dateGenerate(...)`` would be read in
  the user's time zone, so it is not used):
  https://www.servicenow.com/community/united-kingdom-snug/soap-web-service-and-time-zones-examples/ba-p/2270667
- Task SLA [task_sla]: stage ``in_progress`` / ``paused`` / ``completed`` / ``cancelled``
  (``breached`` only under the 2010 engine or compatibility mode), ``has_breached``,
  ``planned_end_time`` (= breach time), ``start_time``, ``percentage``:
  https://www.servicenow.com/docs/r/zurich/it-service-management/service-level-management/r_TaskSLATable.html
- Advanced Work Assignment (plugin com.glide.awa): an agent's presence is a reference to
  Presence States [awa_presence_state] (Available, Away, Offline, and states a site adds):
  https://www.servicenow.com/docs/r/ja-JP/api-reference/rest-apis/agent-api.html ; the
  ``awa_agent_presence`` table (``agent``, ``current_presence_state``) as public scripts
  query it.

Incident values: state 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled;
priority 1 Critical … 5 Planning; escalation 0 Normal, 1 Moderately escalated, 2 High,
3 Overdue. Other task tables use the task states (-5 Pending, 1 Open, 2 Work in Progress,
3 Closed Complete, 4 Closed Incomplete, 7 Closed Skipped) and ``active``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from supervisor_tui.adapters.http import BadBody
from supervisor_tui.adapters.polling import ShapeError, group_channel
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

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

INCIDENT_STATES: dict[str, tuple[TicketStatus, str]] = {
    "1": (TicketStatus.NEW, "New"),
    "2": (TicketStatus.OPEN, "In Progress"),
    "3": (TicketStatus.HOLD, "On Hold"),
    "6": (TicketStatus.SOLVED, "Resolved"),
    "7": (TicketStatus.CLOSED, "Closed"),
    "8": (TicketStatus.CLOSED, "Canceled"),
}
INCIDENT_CLOSED_STATES = ("6", "7", "8")
"""Resolved, Closed, Canceled. A resolved incident may still be ``active``; every other
state, a site's own included, is open work while the record is ``active``."""
TASK_STATES: dict[str, tuple[TicketStatus, str]] = {
    "-5": (TicketStatus.PENDING, "Pending"),
    "1": (TicketStatus.OPEN, "Open"),
    "2": (TicketStatus.OPEN, "Work in Progress"),
    "3": (TicketStatus.CLOSED, "Closed Complete"),
    "4": (TicketStatus.CLOSED, "Closed Incomplete"),
    "7": (TicketStatus.CLOSED, "Closed Skipped"),
}
PRIORITY = {
    "1": Priority.URGENT,  # Critical
    "2": Priority.HIGH,
    "3": Priority.NORMAL,  # Moderate
    "4": Priority.LOW,
    "5": Priority.LOW,  # Planning
}
ESCALATION = {"0": "Normal", "1": "Moderately escalated", "2": "High", "3": "Overdue"}
CONTACT_TYPE = {
    "phone": Channel.VOICE,
    "email": Channel.EMAIL,
    "self-service": Channel.WEB,
    "web": Channel.WEB,
    "chat": Channel.CHAT,
    "virtual_agent": Channel.CHAT,
    "social": Channel.SOCIAL,
}
TICKET_FIELDS = (
    "sys_id",
    "number",
    "short_description",
    "state",
    "active",
    "priority",
    "assignment_group",
    "assigned_to",
    "escalation",
    "contact_type",
    "opened_at",
    "resolved_at",
    "closed_at",
    "sys_updated_on",
    "sys_mod_count",
    "reopen_count",
    "caller_id.name",
)
"""``sysparm_fields`` for a task table (``resolved_at``, ``reopen_count`` and ``caller_id`` are
incident fields; other task tables answer them empty)."""
SLA_FIELDS = (
    "sys_id",
    "task",
    "task.number",
    "sla",
    "stage",
    "has_breached",
    "planned_end_time",
    "start_time",
    "percentage",
    "sys_updated_on",
)
PRESENCE_NAMES = {
    "available": AgentState.AVAILABLE,
    "away": AgentState.AWAY,
    "offline": AgentState.OFFLINE,
}
SLA_METRICS = {"response": "first_reply_time", "resolution": "resolution_time"}


def sn_time(value: Any) -> float:
    """A ServiceNow date/time (``2026-11-25 17:03:11``, UTC) as epoch seconds."""
    if not isinstance(value, str) or not value:
        raise ShapeError(f"expected a date/time, got {type(value).__name__}")
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ShapeError(f"not a ServiceNow date/time: {value[:40]!r}") from None


def sn_time_or_none(value: Any) -> float | None:
    return None if value in (None, "") else sn_time(value)


def sn_format(t: float) -> str:
    """Epoch seconds as ServiceNow writes a date/time (UTC, whole seconds)."""
    return datetime.fromtimestamp(int(t), tz=UTC).strftime(TIME_FORMAT)


def duration_s(value: Any) -> float | None:
    """A glide_duration's stored value (``1970-01-01 08:00:00`` = 8 hours) in seconds."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return sn_time(value)
    except ShapeError:
        return None


def ref(value: Any) -> str:
    """A reference field's sys_id, whether or not the reference link was excluded."""
    if isinstance(value, Mapping):
        value = value.get("value")
    return value if isinstance(value, str) else ""


LABELS = "_labels"
"""Where ``shown`` keeps the display values of a row read with ``sysparm_display_value=all``."""


def shown(record: dict[str, Any]) -> dict[str, Any]:
    """A row read with ``sysparm_display_value=all`` (every field ``{"display_value",
    "value"}``) as plain values, its display values under ``LABELS``; other rows as they are."""
    if not any(isinstance(v, Mapping) and "display_value" in v for v in record.values()):
        return record
    out: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for name, value in record.items():
        if isinstance(value, Mapping) and "display_value" in value:
            out[name] = value.get("value")
            if isinstance(value.get("display_value"), str):
                labels[name] = value["display_value"]
        else:
            out[name] = value
    out[LABELS] = labels
    return out


def result_list(body: Any, *, label: str, where: str) -> list[dict[str, Any]]:
    """``body["result"]`` as a list of records, or BadBody saying what came instead (an
    ``{"error": ...}`` body at 200, another shape)."""
    if isinstance(body, dict) and isinstance(body.get("result"), list):
        return [r for r in body["result"] if isinstance(r, dict)]
    raw = json.dumps(body)[:4000] if body is not None else ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = str(body["error"].get("message") or "error")[:160]
        raise BadBody(f"{label}: {where} answered an error: {message}", raw=raw)
    raise BadBody(f"{label}: {where} answered without a 'result' list", raw=raw)


@dataclass(slots=True)
class SlaDefinition:
    name: str
    target: str
    duration_s: float | None


@dataclass(slots=True)
class Context:
    source: str
    group_channels: dict[str, Channel] = field(default_factory=dict)
    slas: dict[str, SlaDefinition] = field(default_factory=dict)

    def queue_id(self, group: Any) -> str | None:
        gid = ref(group)
        return f"{self.source}:{gid}" if gid else None

    def agent_id(self, user: Any) -> str | None:
        uid = ref(user)
        return f"{self.source}:{uid}" if uid else None


def ticket_status(record: Mapping[str, Any], table: str) -> tuple[TicketStatus, str]:
    """The state as ours and the site's own word for it (its display value where read).

    A state we do not know (legacy 4, 5, -6 on incidents, or one the site added) is open
    while the record is ``active`` and done (solved if resolved, else closed) once not:
    never dropped."""
    state = str(record.get("state") or "")
    labels = record.get(LABELS)
    label = labels.get("state") if isinstance(labels, Mapping) else None
    label = label.strip()[:80] if isinstance(label, str) and label.strip() != state else ""
    known = (INCIDENT_STATES if table == "incident" else TASK_STATES).get(state)
    if known is not None:
        return known[0], label or known[1]
    if str(record.get("active") or "true") == "true":
        status = TicketStatus.OPEN
    elif record.get("resolved_at") and not record.get("closed_at"):
        status = TicketStatus.SOLVED
    else:
        status = TicketStatus.CLOSED
    return status, label or f"state {state[:10]}"


def is_open(record: Mapping[str, Any], table: str) -> bool:
    return ticket_status(record, table)[0].is_open


def ticket_payload(record: Mapping[str, Any], table: str, ctx: Context) -> TicketUpserted:
    number = record.get("number")
    if not isinstance(number, str) or not number or not ref(record.get("sys_id")):
        raise ShapeError(f"{table} record without a number or a sys_id")
    status, label = ticket_status(record, table)
    escalation = str(record.get("escalation") or "0")
    updated = sn_time(record.get("sys_updated_on"))
    solved = sn_time_or_none(record.get("resolved_at")) or sn_time_or_none(record.get("closed_at"))
    if solved is None and not status.is_open:
        solved = updated
    tags = [table] if table != "incident" else []
    if escalation not in ("", "0"):
        tags.append("escalation:" + ESCALATION.get(escalation, escalation).lower())
    return TicketUpserted(
        ticket_id=number,
        status=status,
        raw_status=label,
        priority=PRIORITY.get(str(record.get("priority") or "")),
        channel=CONTACT_TYPE.get(str(record.get("contact_type") or ""), Channel.OTHER),
        queue_id=ctx.queue_id(record.get("assignment_group")),
        assignee_id=ctx.agent_id(record.get("assigned_to")),
        requester=str(record.get("caller_id.name") or ""),
        subject=str(record.get("short_description") or ""),
        created_at=sn_time(record.get("opened_at") or record.get("sys_updated_on")),
        updated_at=updated,
        solved_at=solved if not status.is_open else None,
        tags=tuple(tags),
        escalated=escalation not in ("", "0"),
        reopened=_int(record.get("reopen_count")) > 0,
    )


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def sla_definitions(records: Iterable[Mapping[str, Any]]) -> dict[str, SlaDefinition]:
    """``contract_sla`` rows: name, target (response / resolution) and duration."""
    out = {}
    for r in records:
        sid = ref(r.get("sys_id"))
        if sid:
            out[sid] = SlaDefinition(
                name=str(r.get("name") or sid),
                target=str(r.get("target") or ""),
                duration_s=duration_s(r.get("duration")),
            )
    return out


def sla_payload(record: Mapping[str, Any], ctx: Context) -> SlaChanged | None:
    """A task SLA as a clock on its task; None for a cancelled one or a task we cannot name.

    The state: completed → fulfilled (breached if it completed late), ``has_breached`` or the
    2010 engine's ``breached`` stage → breached, paused → paused, else active. The target is
    the definition's duration when ``contract_sla`` was read, else breach time − start time
    (which includes any pause, so it is an upper bound)."""
    number = record.get("task.number")
    stage = str(record.get("stage") or "")
    if not isinstance(number, str) or not number or stage == "cancelled":
        return None
    due = sn_time(record.get("planned_end_time"))
    start = sn_time_or_none(record.get("start_time"))
    definition = ctx.slas.get(ref(record.get("sla")))
    breached = str(record.get("has_breached") or "false") == "true" or stage == "breached"
    if stage == "completed":
        state = SlaState.BREACHED if breached else SlaState.FULFILLED
    elif breached:
        state = SlaState.BREACHED
    elif stage == "paused":
        state = SlaState.PAUSED
    else:
        state = SlaState.ACTIVE
    target = definition.duration_s if definition is not None else None
    if not target and start is not None:
        target = due - start
    if not target or target <= 0:
        return None
    metric = "sla"
    if definition is not None:
        metric = SLA_METRICS.get(definition.target) or _slug(definition.name)
    return SlaChanged(
        ticket_id=number,
        metric=metric,
        policy=definition.name if definition is not None else "",
        target_s=target,
        due_at=due,
        state=state,
    )


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "sla"


def group_payloads(
    groups: Iterable[Mapping[str, Any]], ctx: Context, configured: Mapping[str, str] | None = None
) -> list[QueueUpserted]:
    out = []
    for group in groups:
        gid = ref(group.get("sys_id"))
        if not gid:
            continue
        name = str(group.get("name") or gid)
        channel = group_channel(name, configured)
        ctx.group_channels[gid] = channel
        out.append(QueueUpserted(queue_id=f"{ctx.source}:{gid}", name=name, channel=channel))
    return out


def agent_payloads(
    members: Iterable[Mapping[str, Any]], groups: Iterable[str], ctx: Context
) -> list[AgentUpserted]:
    """Agents from ``sys_user_grmember`` rows (``group``, ``user``, ``user.name``), with the
    groups (of ``groups``, the active ones) they belong to."""
    wanted = set(groups)
    names: dict[str, str] = {}
    queues: dict[str, set[str]] = {}
    for m in members:
        uid, gid = ref(m.get("user")), ref(m.get("group"))
        if not uid or gid not in wanted:
            continue
        names[uid] = str(m.get("user.name") or uid)
        queues.setdefault(uid, set()).add(f"{ctx.source}:{gid}")
    return [
        AgentUpserted(
            agent_id=f"{ctx.source}:{uid}", name=name, queue_ids=tuple(sorted(queues[uid]))
        )
        for uid, name in sorted(names.items())
    ]


def presence(state_name: str) -> AgentState:
    """An AWA presence state's name as our state: Available, Away, Offline; a state a site
    added (Lunch, Training, ...) is away, its name kept as the reason; no name (a state we
    may not read) is no status, never Offline."""
    if not state_name:
        return AgentState.UNKNOWN
    return PRESENCE_NAMES.get(state_name.strip().lower(), AgentState.AWAY)


def audit_number(payload: Any) -> str | None:
    """The deleted record's number from a ``sys_audit_delete`` payload (the record as XML)."""
    if not isinstance(payload, str):
        return None
    match = re.search(r"<number>([^<]{1,40})</number>", payload)
    return match.group(1) if match else None
