"""A fake Jira Service Management (Cloud) site over loopback HTTP, fed by the floor simulation.

Run it with the simulator like the other fakes::

    fake = FakeJsm(email="bot@example.com", token="t")
    await fake.start()
    task = asyncio.create_task(run_simulated(fake, SimOptions(seed=7, speed=60)))
    # point a ``kind = "jsm"`` source at fake.base_url; fake.write_backs lists the acks taken

Shapes follow Atlassian's public references (see ``adapters/jsm/parse.py`` for the URLs):
servicedeskapi pages (``_expands``, ``size``, ``start``, ``limit``, ``isLastPage``,
``_links`` {base, context, next, prev, self}, ``values``), dates ``{"epochMillis",
"friendly", "iso8601", "jira"}``, issue ids as strings ("10042"), keys "SUP-12", Jira times
"2026-11-25T17:03:11.000+0000", the enhanced JQL search (``issues``, ``nextPageToken``,
``isLast``).

Id mapping (fixed)::

    simulator                       JSM
    ----------------------------    ------------------------------------------------------------
    (one service desk)              id "1", project "SUP" (id "10000"), "Support"
    queue i (in order of sight)     request type str(i+1) and queue str(i+1) named like the sim
                                    queue, JQL ``project = SUP AND "Request Type" = "<name>" AND
                                    resolution = EMPTY``; then queue str(n+1) "All open requests"
    agent "a0007"                   user accountId "5b10ac8d82e05b22cc7d0007"
    ticket "10007"                  issue SUP-<n> (n in order of first sight), id str(10000 + n)
    requester "Avery K."            customer accountId "qm:…:<n>"

Statuses (JSM's IT service workflow): new/open without assignee "Waiting for support"
(category new), open with one "In Progress" (indeterminate), pending "Waiting for customer"
(indeterminate), hold "Pending" (indeterminate), solved "Resolved" (done), closed "Closed"
(done). Priorities: urgent Highest, high High, normal Medium, low Low.

SLAs per request: "Time to first response" (goal: the simulator's first-reply target; stops at
the first agent reply) and "Time to resolution" (3x that goal; paused while "Waiting for
customer", and then without ``breachTime``; stops when resolved). No calendars.

Endpoints (auth: HTTP Basic ``email:token`` or ``Authorization: Bearer <oauth_token>``, or
after ``expiring_tokens()`` a token from ``POST /oauth/token`` (auth.atlassian.com's refresh
grant, JSON; rotating refresh tokens; 403 invalid_grant); else 401 with Jira's plain-text
body)::

    GET  /rest/api/3/myself
    GET  /rest/api/3/search/jql        jql (only the shape the adapter sends, else 400 as Jira
                                       answers bad JQL), fields, maxResults (default 50, max
                                       100), nextPageToken (opaque; bound to its JQL; a wrong
                                       one is 400)
    PUT  /rest/api/3/issue/{key}       {"update": {"labels": [{"add"|"remove": l}]}} or
                                       {"fields": {"labels": [...]}}; 204, or 200 + the issue
                                       with returnIssue=true
    GET  /rest/api/3/issue/{key}
    GET  /rest/servicedeskapi/servicedesk, /servicedesk/{id}
    GET  /rest/servicedeskapi/servicedesk/{id}/queue (includeCount), …/queue/{q}/issue
    GET  /rest/servicedeskapi/request/{key}/sla
    GET  /rest/servicedeskapi/request/{key}/comment (public, internal), POST {"body", "public"}

The page token is a search-after token: it carries the sort key (``updated``, id) of the last
row given, so a request changed during paging moves to the end and is given again, never
skipped. JQL dates are read in the bot user's time zone (``time_zone``, default
America/Los_Angeles, west of UTC: a client that sends UTC would miss changes).

Rate limit: ``rate_limit`` calls per minute of ``clock`` (fixed windows); every answer carries
``X-RateLimit-Limit`` and ``X-RateLimit-Remaining`` (``X-RateLimit-NearLimit: true`` under
20 %); over it, 429 with ``Retry-After`` (seconds to the next minute), ``X-RateLimit-Reset``
(ISO 8601, to the minute) and ``RateLimit-Reason: jira-burst-based``. Faults (``inject``) as
the other fakes: 429 / 500 / 503 / 401 / malformed / truncated / wrong_shape / slow.

Time: rate windows follow ``clock``; data (edits, comments) follows ``floor_clock``, which
run_simulated sets to the simulated floor's time at speeds other than 1.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from supervisor_tui.adapters.simulator import SLA_TARGET_S
from supervisor_tui.fakes.common import (
    Fault,
    Faults,
    Gate,
    HttpError,
    Json,
    LoopbackServer,
    run_simulated,
)
from supervisor_tui.fakes.common import number as sim_number
from supervisor_tui.model import (
    AgentUpserted,
    NewEvent,
    Priority,
    QueueUpserted,
    SlaChanged,
    SlaState,
    TicketDeleted,
    TicketStatus,
    TicketUpserted,
)

__all__ = ["FakeJsm", "run_simulated"]


DESK_ID, PROJECT_ID, PROJECT_KEY = "1", "10000", "SUP"
ISSUE_BASE = 10_000
COMMENT_BASE = 30_000
BOT_ACCOUNT = "5b10ac8d82e05b22cc7d9999"
PAGE_DEFAULT, PAGE_MAX = 50, 100
SEARCH_DEFAULT, SEARCH_MAX = 50, 100
RESOLVE_FACTOR = 3
ALL_OPEN = "All open requests"
UNAUTHORIZED = "Client must be authenticated to access this resource."
CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {
        "id": 4,
        "key": "indeterminate",
        "colorName": "yellow",
        "name": "In Progress",
    },
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
STATUSES = {  # name → (id, category)
    "Waiting for support": ("10001", "new"),
    "In Progress": ("3", "indeterminate"),
    "Waiting for customer": ("10002", "indeterminate"),
    "Pending": ("10003", "indeterminate"),
    "Resolved": ("10004", "done"),
    "Closed": ("6", "done"),
}
PRIORITIES = {
    Priority.URGENT: ("1", "Highest"),
    Priority.HIGH: ("2", "High"),
    Priority.NORMAL: ("3", "Medium"),
    Priority.LOW: ("4", "Low"),
}
SEARCH_JQL = re.compile(
    r'^project in \((?P<projects>"[A-Z][A-Z0-9_]*"(?:, "[A-Z][A-Z0-9_]*")*)\) '
    r'AND updated >= "(?P<since>\d{4}-\d{2}-\d{2} \d{2}:\d{2})" ORDER BY updated ASC$'
)
_ISSUE_PATH = re.compile(r"/rest/api/3/issue/[A-Z]")


def jira_time(t: float) -> str:
    """Jira's ``2026-11-25T17:03:11.000+0000`` (UTC)."""
    stamp = datetime.fromtimestamp(t, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


def sd_date(t: float) -> Json:
    """A servicedeskapi date object."""
    stamp = datetime.fromtimestamp(t, UTC)
    return {
        "epochMillis": round(t * 1000),
        "friendly": stamp.strftime("%d/%b/%y %I:%M %p"),
        "iso8601": stamp.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        "jira": jira_time(t),
    }


def _duration(seconds: float) -> Json:
    millis = round(seconds * 1000)
    minutes = abs(millis) // 60_000
    friendly = f"{'-' if millis < 0 else ''}{minutes // 60}h {minutes % 60}m"
    return {"millis": millis, "friendly": friendly}


@dataclass(slots=True)
class _Request:
    number: int
    sim_id: str
    summary: str
    reporter: str
    request_type: str
    created: float
    updated: float
    target_s: float
    status: str = "Waiting for support"
    priority: Priority = Priority.NORMAL
    assignee: str | None = None
    resolved_at: float | None = None
    replied_at: float | None = None
    first_due: float = 0.0
    labels: list[str] = field(default_factory=list)
    sim_labels: set[str] = field(default_factory=set)
    deleted: bool = False

    @property
    def key(self) -> str:
        return f"{PROJECT_KEY}-{self.number}"

    @property
    def id(self) -> str:
        return str(ISSUE_BASE + self.number)


class FakeJsm(LoopbackServer):
    """One JSM Cloud site on loopback. Feed it simulator events; read it over HTTP. Its
    ``expiring_tokens()`` plays auth.atlassian.com's ``/oauth/token`` on the same port."""

    OAUTH: dict[str, Any] = {
        "path": "/oauth/token",
        "json_body": True,
        "lifetime_s": 3600.0,
        "rotate": True,  # 3LO's rotating refresh tokens
        "refusal": (
            403,
            {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."},
        ),
    }

    def __init__(
        self,
        *,
        site: str = "demo",
        email: str = "bot@example.com",
        token: str = "fake-token",
        oauth_token: str | None = None,
        clock: Callable[[], float] = time.time,
        rate_limit: int = 600,
        time_zone: str = "America/Los_Angeles",
    ) -> None:
        self.site_url = f"https://{site}.atlassian.net"
        self.email = email
        self.token = token
        self.oauth_token = oauth_token
        self.clock = clock
        self.floor_clock: Callable[[], float] = clock
        self.rate_limit = rate_limit
        self.time_zone = time_zone
        self.profile_time_zone: str | None = None
        """What ``/myself`` says the zone is (None: ``time_zone``); a name the client's time
        zone database lacks tests its worst-case fallback."""
        self.base_url = ""
        self.requests: list[tuple[str, str]] = []
        self.comments: dict[str, list[Json]] = {}
        """Request key → its comments, oldest first (``public`` true or false)."""
        self.catch_all_first = False
        """List "All open requests" first, as many desks do, instead of last."""
        self.write_backs: list[tuple[str, str, str]] = []
        """What the API changed: (request key, "comment" | "labels", text)."""
        self.request_types: dict[str, str] = {}  # sim queue id → request type id
        self.queue_names: dict[str, str] = {}  # request type id → name
        self.users: dict[str, str] = {BOT_ACCOUNT: "Supervisor Bot"}  # accountId → name
        self._requests: dict[str, _Request] = {}  # sim ticket id → request
        self._by_key: dict[str, _Request] = {}
        self._customers: dict[str, str] = {}
        self._faults = Faults()
        self._used: tuple[int, int] = (0, 0)
        self._comment_ids = 0
        self._runner: web.AppRunner | None = None

    # -- lifecycle --------------------------------------------------------------------------

    # -- test controls ----------------------------------------------------------------------

    def inject(
        self,
        path_prefix: str,
        fault: str,
        count: int = 1,
        *,
        retry_after: int = 7,
        delay_s: float = 2.0,
        method: str | None = None,
    ) -> None:
        """The next ``count`` requests whose path starts with ``path_prefix`` (and of that
        ``method``, if given) get ``fault``."""
        prefix = f"{method.upper()} {path_prefix}" if method else path_prefix
        self._faults.add(prefix, fault, count, retry_after, delay_s)

    def agent_edit(self, key: str, *, add_label: str | None = None) -> None:
        """An agent edits the request in Jira: ``updated`` moves on, maybe a label is added."""
        req = self._by_key[key]
        if add_label is not None and add_label not in req.labels:
            req.labels.append(add_label)
        self._touch(req)

    def delete_issue(self, key: str) -> None:
        """Jira deletes for good: the request leaves every search and queue."""
        self._by_key[key].deleted = True

    @property
    def issues(self) -> dict[str, Json]:
        """Every live request as the search shows it (all fields), by key."""
        return {r.key: self._issue(r, None) for r in self._live()}

    def sla_truth(self, key: str) -> dict[str, str]:
        """Each SLA's state now: active / paused / breached / fulfilled."""
        out = {}
        for sla in self._slas(self._by_key[key]):
            ongoing = sla.get("ongoingCycle")
            if ongoing is not None:
                state = (
                    "breached"
                    if ongoing["breached"]
                    else "paused"
                    if ongoing["paused"]
                    else "active"
                )
            else:
                state = "breached" if sla["completedCycles"][-1]["breached"] else "fulfilled"
            out[sla["name"]] = state
        return out

    def queue_counts(self) -> dict[str, int]:
        return {q["name"]: len(self._members(q["id"])) for q in self._queues()}

    # -- feeding ----------------------------------------------------------------------------

    def feed(self, events: Iterable[NewEvent]) -> None:
        for event in events:
            p = event.payload
            if isinstance(p, QueueUpserted):
                if p.queue_id not in self.request_types:
                    rt = str(len(self.request_types) + 1)
                    self.request_types[p.queue_id] = rt
                self.queue_names[self.request_types[p.queue_id]] = p.name
            elif isinstance(p, AgentUpserted):
                self.users[self._account(p.agent_id)] = p.name
            elif isinstance(p, TicketUpserted):
                self._ticket(p)
            elif isinstance(p, TicketDeleted):
                req = self._requests.get(p.ticket_id)
                if req is not None:
                    req.deleted = True
            elif isinstance(p, SlaChanged) and p.metric == "first_reply_time":
                req = self._requests.get(p.ticket_id)
                if req is not None:
                    req.target_s = p.target_s
                    req.first_due = p.due_at
                    if p.state is SlaState.FULFILLED and req.replied_at is None:
                        req.replied_at = event.occurred_at

    @staticmethod
    def _account(agent_id: str) -> str:
        return f"5b10ac8d82e05b22cc7d{sim_number(agent_id):04d}"

    def _customer(self, name: str) -> str:
        if name not in self._customers:
            self._customers[name] = (
                f"qm:a713c8ea-1075-4e30-9d96-891a7d181739:{len(self._customers) + 1:024d}"
            )
            self.users[self._customers[name]] = name
        return self._customers[name]

    def _ticket(self, p: TicketUpserted) -> None:
        req = self._requests.get(p.ticket_id)
        if req is None:
            number = len(self._requests) + 1
            target = float(SLA_TARGET_S[p.priority or Priority.NORMAL])
            req = _Request(
                number=number,
                sim_id=p.ticket_id,
                summary=p.subject or f"Request {number}",
                reporter=self._customer(p.requester or "Customer"),
                request_type=self.request_types.get(p.queue_id or "", "1"),
                created=p.created_at,
                updated=p.created_at,
                target_s=target,
                first_due=p.created_at + target,
            )
            self._requests[p.ticket_id] = req
            self._by_key[req.key] = req
        if req.deleted:
            return
        req.priority = p.priority or Priority.NORMAL
        req.assignee = self._account(p.assignee_id) if p.assignee_id else None
        req.summary = p.subject or req.summary
        for label in p.tags:
            if label not in req.sim_labels and label not in req.labels:
                req.labels.append(label)
        req.sim_labels |= set(p.tags)
        if p.agent_replies and req.replied_at is None:
            req.replied_at = p.updated_at
        req.status = {
            TicketStatus.NEW: "Waiting for support",
            TicketStatus.OPEN: "In Progress" if req.assignee else "Waiting for support",
            TicketStatus.PENDING: "Waiting for customer",
            TicketStatus.HOLD: "Pending",
            TicketStatus.SOLVED: "Resolved",
            TicketStatus.CLOSED: "Closed",
        }[p.status]
        if STATUSES[req.status][1] == "done":
            req.resolved_at = req.resolved_at or p.solved_at or p.updated_at
        else:
            req.resolved_at = None
        req.updated = max(req.updated, p.updated_at)

    def _touch(self, req: _Request) -> None:
        """A change through Jira itself: at least a millisecond after the last one."""
        req.updated = max(self.floor_clock(), req.updated + 0.001)

    # -- rendering --------------------------------------------------------------------------

    def _user(self, account: str | None) -> Json | None:
        if account is None:
            return None
        return {
            "self": f"{self.site_url}/rest/api/3/user?accountId={account}",
            "accountId": account,
            "displayName": self.users.get(account, account),
            "active": True,
            "timeZone": "UTC",
            "accountType": "customer" if account.startswith("qm:") else "atlassian",
        }

    def _issue(self, req: _Request, fields: set[str] | None) -> Json:
        status_id, category = STATUSES[req.status]
        pid, pname = PRIORITIES[req.priority]
        every: Json = {
            "summary": req.summary,
            "status": {
                "self": f"{self.site_url}/rest/api/3/status/{status_id}",
                "description": "",
                "name": req.status,
                "id": status_id,
                "statusCategory": {
                    "self": f"{self.site_url}/rest/api/3/statuscategory/"
                    f"{CATEGORIES[category]['id']}",
                    **CATEGORIES[category],
                },
            },
            "priority": {
                "self": f"{self.site_url}/rest/api/3/priority/{pid}",
                "name": pname,
                "id": pid,
            },
            "assignee": self._user(req.assignee),
            "reporter": self._user(req.reporter),
            "created": jira_time(req.created),
            "updated": jira_time(req.updated),
            "resolutiondate": None if req.resolved_at is None else jira_time(req.resolved_at),
            "labels": list(req.labels),
            "project": {"id": PROJECT_ID, "key": PROJECT_KEY, "name": "Support"},
            "issuetype": {"id": "10010", "name": "Service Request", "subtask": False},
        }
        chosen = every if fields is None else {k: v for k, v in every.items() if k in fields}
        return {
            "expand": "",
            "id": req.id,
            "self": f"{self.site_url}/rest/api/3/issue/{req.id}",
            "key": req.key,
            "fields": chosen,
        }

    def _slas(self, req: _Request) -> list[Json]:
        now = self.floor_clock()
        out = []
        first_goal = req.target_s
        first_breach = req.created + first_goal
        out.append(
            self._sla(
                "1", "Time to first response", req, first_goal, first_breach, req.replied_at, now
            )
        )
        resolve_goal = first_goal * RESOLVE_FACTOR
        paused = req.status == "Waiting for customer"
        out.append(
            self._sla(
                "2",
                "Time to resolution",
                req,
                resolve_goal,
                req.created + resolve_goal,
                req.resolved_at,
                now,
                paused=paused,
            )
        )
        return out

    def _sla(
        self,
        sla_id: str,
        name: str,
        req: _Request,
        goal: float,
        breach: float,
        stop: float | None,
        now: float,
        *,
        paused: bool = False,
    ) -> Json:
        sla: Json = {
            "id": sla_id,
            "name": name,
            "_links": {
                "self": f"{self.site_url}/rest/servicedeskapi/request/{req.id}/sla/{sla_id}"
            },
            "completedCycles": [],
            "slaDisplayFormat": "NEW_SLA_FORMAT",
        }
        if stop is not None:
            sla["completedCycles"].append(
                {
                    "startTime": sd_date(req.created),
                    "stopTime": sd_date(stop),
                    "breachTime": sd_date(breach),
                    "breached": stop > breach,
                    "goalDuration": _duration(goal),
                    "elapsedTime": _duration(stop - req.created),
                    "remainingTime": _duration(breach - stop),
                }
            )
            return sla
        ongoing: Json = {
            "startTime": sd_date(req.created),
            "breached": now > breach,
            "paused": paused and now <= breach,
            "withinCalendarHours": True,
            "goalDuration": _duration(goal),
            "elapsedTime": _duration(now - req.created),
            "remainingTime": _duration(breach - now),
        }
        if not ongoing["paused"]:
            ongoing["breachTime"] = sd_date(breach)
        sla["ongoingCycle"] = ongoing
        return sla

    def _live(self) -> list[_Request]:
        return [r for r in self._requests.values() if not r.deleted]

    def _queues(self) -> list[Json]:
        rows: list[Json] = []
        for rt, name in sorted(self.queue_names.items(), key=lambda kv: int(kv[0])):
            rows.append(
                {
                    "id": rt,
                    "name": name,
                    "jql": f'project = {PROJECT_KEY} AND "Request Type" = "{name}" '
                    "AND resolution = EMPTY ORDER BY created ASC",
                    "fields": ["issuetype", "issuekey", "summary", "reporter", "status"],
                }
            )
        catch_all = {
            "id": str(len(self.queue_names) + 1),
            "name": ALL_OPEN,
            "jql": f"project = {PROJECT_KEY} AND resolution = EMPTY ORDER BY created ASC",
            "fields": ["issuetype", "issuekey", "summary", "assignee", "status"],
        }
        # a desk's agents order its queues as they like; many put "All open" first
        return [catch_all, *rows] if self.catch_all_first else [*rows, catch_all]

    def _members(self, queue_id: str) -> list[_Request]:
        open_ = [r for r in self._live() if r.resolved_at is None]
        if queue_id == str(len(self.queue_names) + 1):
            rows = open_
        else:
            rows = [r for r in open_ if r.request_type == queue_id]
        return sorted(rows, key=lambda r: (r.created, r.number))

    # -- HTTP -------------------------------------------------------------------------------

    def _routes(self) -> list[web.RouteDef]:
        sd = "/rest/servicedeskapi"
        return [
            web.get("/rest/api/3/myself", self._myself),
            web.get("/rest/api/3/search/jql", self._search),
            web.get("/rest/api/3/issue/{key}", self._get_issue),
            web.put("/rest/api/3/issue/{key}", self._edit_issue),
            web.get(f"{sd}/servicedesk", self._desks),
            web.get(f"{sd}/servicedesk/{{desk}}", self._desk),
            web.get(f"{sd}/servicedesk/{{desk}}/queue", self._queue_list),
            web.get(f"{sd}/servicedesk/{{desk}}/queue/{{queue}}/issue", self._queue_issues),
            web.get(f"{sd}/request/{{key}}/sla", self._sla_list),
            web.get(f"{sd}/request/{{key}}/comment", self._comment_list),
            web.post(f"{sd}/request/{{key}}/comment", self._add_comment),
            web.route("*", "/{tail:.*}", self._unknown),
        ]

    def _take_fault(self, request: web.Request) -> Fault | None:
        return self._faults.take(f"{request.method} {request.path}") or self._faults.take(
            request.path
        )

    def _authenticate(self, request: web.Request) -> web.StreamResponse | None:
        """Jira counts a call against the limit before it looks at the credentials."""
        window, left = self._window()
        used = self._used[1] if self._used[0] == window else 0
        if used >= self.rate_limit:
            return self._limited(left)
        self._used = (window, used + 1)
        if not self._authenticated(request):
            return web.Response(status=401, text=UNAUTHORIZED, content_type="text/plain")
        return None

    def _refuse(self, request: web.Request, gate: Gate | None, missing: str) -> web.Response:
        return _json(
            {
                "errorMessages": ["You do not have permission to access this resource."],
                "errors": {},
            },
            403,
        )

    def _failed(self, exc: HttpError) -> web.Response:
        return _json(exc.body or {}, exc.status)

    def _headed(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        if response.status == 429:
            return response  # _limited says it all
        window, _ = self._window()
        used = self._used[1] if self._used[0] == window else 0
        remaining = self.rate_limit - used
        response.headers["X-RateLimit-Limit"] = str(self.rate_limit)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        if remaining < self.rate_limit * 0.2:
            response.headers["X-RateLimit-NearLimit"] = "true"
        return response

    def _window(self) -> tuple[int, int]:
        now = self.clock()
        return int(now // 60), max(1, 60 - int(now % 60))

    def _limited(self, retry_after: int) -> web.Response:
        response = _json({"errorMessages": ["Rate limit exceeded."], "errors": {}}, 429)
        reset = datetime.fromtimestamp(self.clock() + retry_after, UTC)
        response.headers["Retry-After"] = str(retry_after)
        response.headers["X-RateLimit-Limit"] = str(self.rate_limit)
        response.headers["X-RateLimit-Remaining"] = "0"
        response.headers["X-RateLimit-Reset"] = reset.strftime("%Y-%m-%dT%H:%MZ")
        response.headers["RateLimit-Reason"] = "jira-burst-based"
        return response

    def _fault_response(self, fault: Fault) -> web.StreamResponse:
        if fault.fault == "429":
            return self._limited(fault.retry_after)
        if fault.fault == "500":
            return _json({"errorMessages": ["Internal server error"], "errors": {}}, 500)
        if fault.fault == "503":
            response = web.Response(
                status=503,
                text="<html><body><h1>503 Service Unavailable</h1></body></html>",
                content_type="text/html",
            )
            response.headers["Retry-After"] = str(fault.retry_after)
            return response
        if fault.fault == "401":
            return web.Response(status=401, text=UNAUTHORIZED, content_type="text/plain")
        return web.Response(  # malformed: a proxy's page where JSON was promised
            status=200,
            body=b"<html><body>upstream connect error</body></html>",
            content_type="application/json",
        )

    def _authenticated(self, request: web.Request) -> bool:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return self._bearer_valid(credentials, self.oauth_token)
        if scheme.lower() != "basic":
            return False
        try:
            user, _, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.email and secret == self.token

    async def _unknown(self, request: web.Request) -> web.Response:
        return _json({"errorMessages": ["Not found"], "errors": {}}, 404)

    # -- servicedeskapi pages ---------------------------------------------------------------

    def _page(self, request: web.Request, rows: list[Any]) -> Json:
        start = _int(request.query.get("start"), 0, "start")
        limit = min(_int(request.query.get("limit"), PAGE_DEFAULT, "limit"), PAGE_MAX)
        if limit < 1:
            raise HttpError(
                400, {"errorMessage": "The limit must be positive.", "i18nErrorMessage": None}
            )
        chunk = rows[start : start + limit]
        last = start + len(chunk) >= len(rows)
        base = f"{self.base_url}/rest/servicedeskapi"
        query = {k: v for k, v in request.query.items() if k not in ("start", "limit")}

        def link(at: int) -> str:
            return (
                f"{self.base_url}{request.path}?{urlencode({**query, 'start': at, 'limit': limit})}"
            )

        links: Json = {"base": base, "context": "", "self": link(start)}
        if not last:
            links["next"] = link(start + limit)
        if start > 0:
            links["prev"] = link(max(0, start - limit))
        return {
            "_expands": [],
            "size": len(chunk),
            "start": start,
            "limit": limit,
            "isLastPage": last,
            "_links": links,
            "values": chunk,
        }

    def _desk_json(self) -> Json:
        return {
            "id": DESK_ID,
            "projectId": PROJECT_ID,
            "projectName": "Support",
            "projectKey": PROJECT_KEY,
            "_links": {"self": f"{self.site_url}/rest/servicedeskapi/servicedesk/{DESK_ID}"},
        }

    def _found_desk(self, request: web.Request) -> None:
        if request.match_info["desk"] not in (DESK_ID, PROJECT_KEY):
            raise HttpError(
                404, {"errorMessage": "Service desk not found", "i18nErrorMessage": None}
            )

    def _found(self, request: web.Request) -> _Request:
        key = request.match_info["key"]
        req = self._by_key.get(key) or next(
            (r for r in self._requests.values() if r.id == key), None
        )
        if req is None or req.deleted:
            raise HttpError(
                404,
                {
                    "errorMessages": [
                        "Issue does not exist or you do not have permission to see it."
                    ],
                    "errors": {},
                },
            )
        return req

    async def _myself(self, request: web.Request) -> web.Response:
        return _json(
            {
                "self": f"{self.site_url}/rest/api/3/user?accountId={BOT_ACCOUNT}",
                "accountId": BOT_ACCOUNT,
                "accountType": "atlassian",
                "emailAddress": self.email,
                "displayName": "Supervisor Bot",
                "active": True,
                "timeZone": self.profile_time_zone or self.time_zone,
                "locale": "en_US",
            }
        )

    async def _desks(self, request: web.Request) -> web.Response:
        return _json(self._page(request, [self._desk_json()]))

    async def _desk(self, request: web.Request) -> web.Response:
        self._found_desk(request)
        return _json(self._desk_json())

    async def _queue_list(self, request: web.Request) -> web.Response:
        self._found_desk(request)
        counted = request.query.get("includeCount", "false") == "true"
        rows = []
        for q in self._queues():
            row = {**q}
            if counted:
                row["issueCount"] = len(self._members(q["id"]))
            row["_links"] = {
                "self": f"{self.site_url}/rest/servicedeskapi/servicedesk/{DESK_ID}/queue/{q['id']}"
            }
            rows.append(row)
        return _json(self._page(request, rows))

    async def _queue_issues(self, request: web.Request) -> web.Response:
        self._found_desk(request)
        queue = next((q for q in self._queues() if q["id"] == request.match_info["queue"]), None)
        if queue is None:
            raise HttpError(404, {"errorMessage": "Queue not found", "i18nErrorMessage": None})
        wanted = {f for f in queue["fields"] if f != "issuekey"}
        rows = [self._issue(r, wanted) for r in self._members(queue["id"])]
        return _json(self._page(request, rows))

    async def _sla_list(self, request: web.Request) -> web.Response:
        return _json(self._page(request, self._slas(self._found(request))))

    async def _comment_list(self, request: web.Request) -> web.Response:
        req = self._found(request)
        public = request.query.get("public", "true") != "false"
        internal = request.query.get("internal", "true") != "false"
        rows = [
            c
            for c in self.comments.get(req.key, [])
            if (c["public"] and public) or (not c["public"] and internal)
        ]
        return _json(self._page(request, rows))

    async def _add_comment(self, request: web.Request) -> web.Response:
        req = self._found(request)
        body = await _json_body(request)
        text, public = body.get("body"), body.get("public", True)
        if not isinstance(text, str) or not text.strip() or not isinstance(public, bool):
            raise HttpError(
                400, {"errorMessage": "The comment body is required.", "i18nErrorMessage": None}
            )
        self._comment_ids += 1
        now = self.floor_clock()
        comment = {
            "_expands": ["attachment", "renderedBody"],
            "id": str(COMMENT_BASE + self._comment_ids),
            "body": text,
            "public": public,
            "author": self._user(BOT_ACCOUNT),
            "created": sd_date(now),
            "_links": {
                "self": f"{self.site_url}/rest/servicedeskapi/request/{req.id}/comment/"
                f"{COMMENT_BASE + self._comment_ids}"
            },
        }
        self.comments.setdefault(req.key, []).append(comment)
        self.write_backs.append((req.key, "comment", text))
        self._touch(req)
        return _json(comment, 201)

    # -- platform API -----------------------------------------------------------------------

    async def _get_issue(self, request: web.Request) -> web.Response:
        return _json(self._issue(self._found(request), None))

    async def _edit_issue(self, request: web.Request) -> web.StreamResponse:
        req = self._found(request)
        body = await _json_body(request)
        labels = list(req.labels)
        fields, update = body.get("fields") or {}, body.get("update") or {}
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise HttpError(400, {"errorMessages": ["Bad request"], "errors": {}})
        for name in [*fields, *update]:
            if name != "labels":
                raise HttpError(
                    400,
                    {"errorMessages": [], "errors": {name: f"Field '{name}' cannot be set."}},
                )
        if "labels" in fields:
            given = fields["labels"]
            if not isinstance(given, list) or not all(isinstance(x, str) for x in given):
                raise HttpError(400, {"errorMessages": [], "errors": {"labels": "bad labels"}})
            labels = list(dict.fromkeys(given))
        for op in update.get("labels", []):
            if not isinstance(op, dict) or len(op) != 1:
                raise HttpError(400, {"errorMessages": [], "errors": {"labels": "bad operation"}})
            ((verb, value),) = op.items()
            if verb not in ("add", "remove", "set") or not isinstance(value, str | list):
                raise HttpError(400, {"errorMessages": [], "errors": {"labels": "bad operation"}})
            if verb == "add" and isinstance(value, str) and value not in labels:
                labels.append(value)
            elif verb == "remove" and value in labels:
                labels.remove(str(value))
            elif verb == "set" and isinstance(value, list):
                labels = [str(v) for v in value]
        if any(" " in label for label in labels):
            raise HttpError(
                400, {"errorMessages": [], "errors": {"labels": "Labels cannot contain spaces."}}
            )
        if labels != req.labels:
            req.labels = labels
            self.write_backs.append((req.key, "labels", ",".join(labels)))
            self._touch(req)
        if request.query.get("returnIssue") == "true":
            return _json(self._issue(req, None))
        return web.Response(status=204)

    async def _search(self, request: web.Request) -> web.Response:
        q = request.query
        jql = q.get("jql", "")
        match = SEARCH_JQL.match(jql)
        if match is None:
            raise HttpError(
                400,
                {
                    "errorMessages": [
                        "Error in the JQL Query: this fake understands only "
                        '\'project in (...) AND updated >= "yyyy-MM-dd HH:mm" '
                        "ORDER BY updated ASC'."
                    ],
                    "errors": {},
                },
            )
        projects = {p.strip().strip('"') for p in match["projects"].split(",")}
        zone = ZoneInfo(self.time_zone)
        since = datetime.strptime(match["since"], "%Y-%m-%d %H:%M").replace(tzinfo=zone).timestamp()
        size = min(_int(q.get("maxResults"), SEARCH_DEFAULT, "maxResults"), SEARCH_MAX)
        fields = {f.strip() for f in q.get("fields", "").split(",") if f.strip()}
        digest = hashlib.sha1(jql.encode()).hexdigest()[:12]
        after: tuple[int, int] | None = None
        if "nextPageToken" in q:
            after = _read_token(q["nextPageToken"], digest)
        rows = [
            r
            for r in self._live()
            if PROJECT_KEY in projects and math.floor(r.updated * 1000) >= since * 1000
        ]
        rows.sort(key=lambda r: (math.floor(r.updated * 1000), r.number))
        if after is not None:
            rows = [r for r in rows if (math.floor(r.updated * 1000), r.number) > after]
        chunk = rows[: max(1, size)]
        more = len(rows) > len(chunk)
        body: Json = {
            "issues": [self._issue(r, fields or {"id"}) for r in chunk],
            "isLast": not more,
        }
        if more:
            tail = chunk[-1]
            body["nextPageToken"] = _make_token(
                digest, math.floor(tail.updated * 1000), tail.number
            )
        return _json(body)


def _make_token(digest: str, updated_ms: int, number: int) -> str:
    raw = json.dumps({"q": digest, "u": updated_ms, "n": number}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str, digest: str) -> tuple[int, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["q"] != digest:
            raise ValueError
        return int(data["u"]), int(data["n"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise HttpError(
            400,
            {
                "errorMessages": ["The provided next page token is invalid or expired."],
                "errors": {},
            },
        ) from None


def _int(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HttpError(
            400, {"errorMessages": [f"The value '{raw[:20]}' is invalid for {name}."], "errors": {}}
        ) from None
    if value < 0:
        raise HttpError(400, {"errorMessages": [f"{name} must not be negative."], "errors": {}})
    return value


async def _json_body(request: web.Request) -> Json:
    try:
        body = await request.json()
    except ValueError:
        raise HttpError(
            400, {"errorMessages": ["Unexpected character in the JSON body."], "errors": {}}
        ) from None
    if not isinstance(body, dict):
        raise HttpError(400, {"errorMessages": ["The body must be a JSON object."], "errors": {}})
    return body


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type="application/json",
        charset="utf-8",
    )
