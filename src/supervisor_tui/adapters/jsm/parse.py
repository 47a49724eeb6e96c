"""Jira Service Management (Cloud) JSON → normalized payloads. Pure functions, no I/O.

Checked against Atlassian's public references (no recorded bodies exist for this vendor):

- Service desks, queues, queue issues, SLA, comments (``/rest/servicedeskapi``):
  https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-servicedesk/ and
  https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/, with the
  examples of the published OpenAPI document (as carried by the jira.js and jira-client
  libraries): queue ``id``, ``name``, ``jql``, ``fields``, ``issueCount`` with
  ``includeCount=true``; "only fields that the queue is configured to show are returned" for
  a queue's issues; SLA ``values[].name``, ``ongoingCycle`` {``breached``, ``paused``,
  ``withinCalendarHours``, ``goalDuration.millis``, ``elapsedTime.millis``,
  ``remainingTime.millis`` (working time), ``breachTime.epochMillis``, ``startTime``},
  ``completedCycles[]`` {``breached``, ``stopTime``, ``breachTime``, …}; comment
  ``{"body", "public"}``, listed with ``public`` / ``internal`` filters. Pages
  (https://developer.atlassian.com/cloud/jira/service-desk/rest/intro/#pagination):
  ``size``/``start``/``limit``/``isLastPage``/``values``/``_links`` {base, context, next,
  prev, self}; dates ``{"epochMillis", "friendly", "iso8601", "jira"}``. No public endpoint
  lists a desk's agents.
- The JQL search (``GET /rest/api/3/search/jql``: ``jql``, ``nextPageToken``,
  ``maxResults``, ``fields``; answers ``issues``, ``nextPageToken`` (absent or null on the
  last page, "expires in 7 days"), ``isLast``):
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/. The
  old ``/rest/api/3/search`` with ``startAt`` was deprecated and removed in 2025 (see
  https://docs.adaptavist.com/sr4jc/latest/release-notes/breaking-changes/atlassian-rest-api-search-endpoints-deprecation).
  The enhanced search is eventually consistent (``reconcileIssues`` exists for that): an edit
  may show up a little later, hence the overlap the adapter re-reads.
- JQL dates: "yyyy-MM-dd HH:mm" (minutes, no seconds;
  https://confluence.atlassian.com/spaces/JIRA052/pages/314448708/__JQL+Date+Time+Formats),
  read in the searching user's time zone (``GET /rest/api/3/myself`` → ``timeZone``).
- Issue fields: ``status`` {``name``, ``statusCategory.key`` new / indeterminate / done},
  ``priority.name``, ``assignee`` / ``reporter`` {``accountId``, ``displayName``},
  ``created`` / ``updated`` / ``resolutiondate`` ("2026-11-25T17:03:11.000+0000"), ``labels``.
  Issue ids are strings ("10042"), keys "SUP-123". Labels are added without replacing others
  with ``PUT /rest/api/3/issue/{key}?returnIssue=true``
  ``{"update": {"labels": [{"add": "x"}]}}`` (204, or 200 with the issue when
  ``returnIssue``):
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-put
- Rate limits: https://developer.atlassian.com/cloud/jira/platform/rate-limiting/ (429 with
  ``Retry-After`` seconds; ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``,
  ``X-RateLimit-Reset`` as an ISO 8601 time "yyyy-MM-ddTHH:mmZ", ``X-RateLimit-NearLimit``,
  ``RateLimit-Reason``; some 503s carry ``Retry-After`` too).
- Auth: e-mail + API token as HTTP Basic, or an OAuth 2.0 bearer token (through
  ``https://api.atlassian.com/ex/jira/<cloud id>``):
  https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/

What JSM cannot tell us: agent presence (there is no such thing in Jira; there is no public
"agents of a service desk" list either, so agents are the assignees seen); deleted requests
(no REST feed of deletions without admin audit access); the channel a request came in by (not
an issue field; the queue's channel from the config or its name stands in).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from supervisor_tui.adapters.polling import ShapeError, group_channel, utc_epoch
from supervisor_tui.model import (
    Channel,
    Priority,
    QueueUpserted,
    SlaChanged,
    SlaState,
    TicketStatus,
    TicketUpserted,
)

KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")
_STATUS_NAMES = {
    "waiting for customer": TicketStatus.PENDING,
    "pending": TicketStatus.PENDING,
    "waiting for approval": TicketStatus.HOLD,
    "waiting for third party": TicketStatus.HOLD,
    "waiting for vendor": TicketStatus.HOLD,
    "resolved": TicketStatus.SOLVED,
    "done": TicketStatus.SOLVED,
    "completed": TicketStatus.SOLVED,
    "closed": TicketStatus.CLOSED,
    "canceled": TicketStatus.CLOSED,
    "cancelled": TicketStatus.CLOSED,
    "declined": TicketStatus.CLOSED,
    "rejected": TicketStatus.CLOSED,
    "won't do": TicketStatus.CLOSED,
}
_NEW_NAMES = frozenset(("waiting for support", "open", "new", "to do", "reopened", "backlog"))
"""Names of a status nobody may have taken yet (category "new" where it is set)."""
_CATEGORIES = {
    "new": TicketStatus.OPEN,
    "indeterminate": TicketStatus.OPEN,
    "done": TicketStatus.SOLVED,
}
_PRIORITY = {
    "highest": Priority.URGENT,
    "critical": Priority.URGENT,
    "blocker": Priority.URGENT,
    "urgent": Priority.URGENT,
    "high": Priority.HIGH,
    "major": Priority.HIGH,
    "medium": Priority.NORMAL,
    "normal": Priority.NORMAL,
    "low": Priority.LOW,
    "lowest": Priority.LOW,
    "minor": Priority.LOW,
    "trivial": Priority.LOW,
}
_SLA_METRICS = {
    "time to first response": "first_reply_time",
    "time to resolution": "resolution_time",
    "time to close after resolution": "close_after_resolution_time",
    "time to approve normal change": "approval_time",
}
SEARCH_FIELDS = (
    "summary",
    "status",
    "priority",
    "assignee",
    "reporter",
    "created",
    "updated",
    "resolutiondate",
    "labels",
)
"""The only fields the search asks for (``fields=``)."""


def jira_ts(value: Any) -> float:
    """Jira's ``2026-11-25T17:03:11.000+0000`` (or any ISO 8601 time) as epoch seconds."""
    if not isinstance(value, str):
        raise ShapeError(f"expected a Jira time, got {type(value).__name__}")
    try:
        return utc_epoch(value)
    except ValueError:
        raise ShapeError(f"not a Jira time: {value[:40]!r}") from None


@dataclass(slots=True)
class Context:
    source: str
    queue_of: dict[str, str] = field(default_factory=dict)
    """Issue key → the first queue (in the desk's order) that holds it, as last read."""
    queue_channels: dict[str, Channel] = field(default_factory=dict)
    """Queue id (ours) → its channel."""
    priority_names: dict[str, Priority] = field(default_factory=dict)
    """The site's own priority names (lower case) → ours, from the config."""

    def queue_id(self, desk_id: str, queue_id: str) -> str:
        return f"{self.source}:{desk_id}:{queue_id}"

    def agent_id(self, user: Any) -> str | None:
        if not isinstance(user, Mapping):
            return None
        account = user.get("accountId")
        return f"{self.source}:{account}" if isinstance(account, str) and account else None


def status_of(status: Any, *, assigned: bool, resolved: bool = False) -> tuple[TicketStatus, str]:
    """The normalized status and the raw one (the workflow's status name).

    By the name where we know it, else by the status category; a category that is
    "undefined" (a status created without one), missing or unknown is read by the name, or
    else the request counts as open (solved if Jira says it is resolved) with its own
    status shown: never dropped."""
    if not isinstance(status, Mapping):
        raise ShapeError("issue without a status")
    name = str(status.get("name") or "")
    word = name.strip().lower()
    category = status.get("statusCategory")
    key = category.get("key") if isinstance(category, Mapping) else None
    normalized = _STATUS_NAMES.get(word)
    if normalized is None:
        normalized = _CATEGORIES.get(str(key or ""))
    if normalized is None and word in _NEW_NAMES:
        normalized, key = TicketStatus.OPEN, "new"
    elif normalized is None:
        normalized = TicketStatus.SOLVED if resolved else TicketStatus.OPEN
    if normalized is TicketStatus.OPEN and not assigned and key == "new":
        normalized = TicketStatus.NEW  # nobody has it yet
    return normalized, name or str(key or "no status")


_RANKED = re.compile(r"\b(?:p|prio|priority|sev|severity|level)\s*[-_:.#]?\s*([0-9])\b")
_RANKS = {
    "0": Priority.URGENT,
    "1": Priority.URGENT,
    "2": Priority.HIGH,
    "3": Priority.NORMAL,
    "4": Priority.LOW,
    "5": Priority.LOW,
}


def priority_of(priority: Any, names: Mapping[str, Priority] | None = None) -> Priority | None:
    """A priority by its name: the site's own names (``names``, lower case) first; then the
    common schemes: Jira's Highest … Lowest, Blocker / Critical / Major / Minor / Trivial, and
    ranked names ("P1", "P1 - Critical", "Sev 2", "Priority 3", "Severity-4": 1 urgent,
    2 high, 3 normal, 4 and 5 low); then the first word we know ("Very High", "1 - Critical").
    None: a name we cannot read."""
    if not isinstance(priority, Mapping):
        return None
    name = " ".join(str(priority.get("name") or "").lower().split())
    if not name:
        return None
    known = (names or {}).get(name) or _PRIORITY.get(name)
    if known is not None:
        return known
    ranked = _RANKED.search(name)
    if ranked is not None:
        return _RANKS.get(ranked.group(1))
    for word in re.findall(r"[a-z]+", name):
        if word in _PRIORITY:
            return _PRIORITY[word]
    return None


def ticket_payload(issue: Mapping[str, Any], ctx: Context) -> TicketUpserted:
    key = issue.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        raise ShapeError("issue without a key")
    fields = issue.get("fields")
    if not isinstance(fields, Mapping):
        raise ShapeError(f"issue {key}: no fields")
    assignee = ctx.agent_id(fields.get("assignee"))
    resolved = fields.get("resolutiondate")
    status, raw = status_of(
        fields.get("status"), assigned=assignee is not None, resolved=bool(resolved)
    )
    updated = jira_ts(fields.get("updated"))
    queue = ctx.queue_of.get(key)
    reporter = fields.get("reporter")
    labels = fields.get("labels")
    return TicketUpserted(
        ticket_id=key,
        status=status,
        raw_status=raw,
        priority=priority_of(fields.get("priority"), ctx.priority_names),
        channel=ctx.queue_channels.get(queue, Channel.OTHER) if queue else Channel.OTHER,
        queue_id=queue,
        assignee_id=assignee,
        requester=str(reporter.get("displayName") or "") if isinstance(reporter, Mapping) else "",
        subject=str(fields.get("summary") or ""),
        created_at=jira_ts(fields.get("created")),
        updated_at=updated,
        solved_at=(
            jira_ts(resolved)
            if resolved
            else (updated if status in (TicketStatus.SOLVED, TicketStatus.CLOSED) else None)
        ),
        tags=tuple(str(t) for t in labels) if isinstance(labels, list) else (),
    )


# -- SLA ------------------------------------------------------------------------------------


def sla_metric(name: str) -> str:
    """ "Time to first response" → first_reply_time; other names as a slug."""
    known = _SLA_METRICS.get(name.strip().lower())
    if known:
        return known
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_") or "sla"


def _millis(node: Any, key: str) -> float | None:
    value = node.get(key) if isinstance(node, Mapping) else None
    if isinstance(value, Mapping):
        value = value.get("millis") if "millis" in value else value.get("epochMillis")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) / 1000.0


def sla_payloads(ticket_id: str, slas: Iterable[Mapping[str, Any]], now: float) -> list[SlaChanged]:
    """Each SLA metric of a request, from its ongoing cycle if one runs, else its latest
    completed cycle. The target is the goal (in working time when the SLA has a calendar);
    ``due_at`` is JSM's breach time (a wall-clock instant, calendars included)."""
    out = []
    for sla in slas:
        name = sla.get("name")
        if not isinstance(name, str) or not name:
            raise ShapeError(f"request {ticket_id}: an SLA without a name")
        ongoing = sla.get("ongoingCycle")
        completed = sla.get("completedCycles")
        cycle: Mapping[str, Any] | None = None
        if isinstance(ongoing, Mapping):
            cycle = ongoing
            if ongoing.get("breached"):
                state = SlaState.BREACHED
            elif ongoing.get("paused"):
                state = SlaState.PAUSED
            else:
                state = SlaState.ACTIVE
        elif isinstance(completed, list) and completed:
            cycle = completed[-1] if isinstance(completed[-1], Mapping) else None
            state = SlaState.BREACHED if cycle and cycle.get("breached") else SlaState.FULFILLED
        if cycle is None:
            continue  # no cycle has started (the SLA does not apply yet)
        target = _millis(cycle, "goalDuration")
        if target is None or target <= 0:
            continue  # an SLA without a goal is a measurement, not a promise
        due = _millis(cycle, "breachTime")
        if due is None:
            remaining = _millis(cycle, "remainingTime")
            if remaining is None:
                raise ShapeError(f"request {ticket_id}: SLA {name[:40]!r} has no breach time")
            due = now + remaining  # a paused clock: when it would breach if it ran on now
        out.append(
            SlaChanged(
                ticket_id=ticket_id,
                metric=sla_metric(name),
                policy=name,
                target_s=target,
                due_at=due,
                state=state,
            )
        )
    return out


# -- service desks and queues -----------------------------------------------------------------


def queue_payloads(
    desk_id: str,
    queues: Iterable[Mapping[str, Any]],
    ctx: Context,
    configured: Mapping[str, str] | None = None,
) -> list[QueueUpserted]:
    out = []
    for queue in queues:
        qid = queue.get("id")
        if not isinstance(qid, str) or not qid:
            raise ShapeError("queue without an id")
        name = str(queue.get("name") or qid)
        ours = ctx.queue_id(desk_id, qid)
        channel = group_channel(name, configured)
        ctx.queue_channels[ours] = channel
        out.append(QueueUpserted(queue_id=ours, name=name, channel=channel))
    return out


def issue_count(queue: Mapping[str, Any]) -> int:
    count = queue.get("issueCount")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ShapeError(f"queue {str(queue.get('id'))[:20]}: no issueCount")
    return count
