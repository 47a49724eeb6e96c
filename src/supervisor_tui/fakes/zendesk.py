"""A fake Zendesk (Support, Talk, omnichannel) over loopback HTTP, fed by the floor simulation.

It speaks the wire format of the recordings in ``shared/conformance/zendesk`` (same envelopes,
same keys, ISO-8601 ``Z`` times, integer ids) and behaves like the real thing where an adapter
can trip: cursors, ``has_more`` false while ``links.next`` is still a URL, the export's lag and
its own 10-a-minute limit, 429 with ``Retry-After``, safe updates that conflict, injected faults.

Id mapping (fixed)::

    simulator                      Zendesk
    ----------------------------   -------------------------------------------------------
    queue i (0-based, in order of  group 360000000000 + i + 1, name = queue name
      QueueUpserted)
    voice queue i                  also phone number 390000000000 + i + 1 (Talk filters)
    agent "a0001"                  user 370000000000 + 1, role "agent", email ana.a@example.com
    API user (``email``)           user 370000000000 (author of API comments; not listed)
    requester "Avery K."           end-user 375000000000 + n (n in order of first sight)
    ticket "10007"                 ticket 10007 (via.channel "email")
    voice contact "c123"           Talk call 380000000000 + 123; legs 381000000000 + n
    chat contact "c123"            messaging ticket 900000 + 123 (via.channel "native_messaging")
    SLA policy, one per priority   400000000000 + k (k = 1 urgent, 2 high, 3 normal, 4 low)
    custom statuses                420000000000 + k (1 new, 2 open, 3 pending, 4 hold, 5 solved)
    group membership               371000000000 + n; comment 430000000000 + n; audit 440..., n
    satisfaction rating            450000000000 + n; ticket metric event 410000000000 + n

Endpoints (all under /api/v2, ``.json`` suffix optional, auth: Basic ``email/token:TOKEN`` or
``Bearer OAUTH``; every response carries X-Rate-Limit(-Remaining) and ratelimit-limit /
-remaining / -reset for a per-minute window of ``clock``)::

    GET  incremental/tickets/cursor          start_time= | cursor=; per_page (<=1000); 10/min
                                             include=metric_sets: each ticket's replies, reopens
    GET  incremental/tickets                 time-based (count, end_of_stream, next_page,
                                             end_time); shares the 10/min with the cursor export
    GET  groups, group_memberships, users    cursor (page[size], page[after|before]) or offset
                                             (page, per_page); users honours role[] / role
    GET  users/me
    GET  channels/voice/phone_numbers        offset; one number per voice group
    GET  channels/voice/stats/current_queue_activity
                                             account-wide; the documented filter is
                                             phone_number_ids=; group_id=<one group> is this
                                             fake's extension for per-group figures
    GET  channels/voice/stats/agents_activity
                                             offset (next_page/previous_page/count); group_ids=
    GET  channels/voice/stats/incremental/calls | legs
                                             start_time=; calls/legs, next_page (always a URL:
                                             stop when count < 1000), count, end_time; 10/min
    GET  agent_availabilities[/ID]           JSON:API (only with omnichannel=True, else 404)
    GET  slas/policies                       sla_policies, count, next_page, previous_page
    GET  incremental/ticket_metric_events    start_time=; ticket_metric_events, next_page,
                                             count, end_time, end_of_stream
    GET  satisfaction_ratings                cursor or offset; score= (received, good, bad, ...),
                                             start_time=, end_time=
    GET  ticket_fields, custom_statuses
    GET  views/ID/count                      first call per view: value null, fresh false
    GET  search/export                       query=type:ticket updated>=ISO, filter[type]=ticket,
                                             page[size] (<=1000), page[after]; results, meta,
                                             links (what an agent's token reads tickets by)
    GET  tickets/ID                          {"ticket"}; deleted or unknown -> 404 RecordNotFound
    GET  tickets/ID/comments                 cursor (sort=-created_at) or offset (sort_order=desc)
    PUT  tickets/ID                          comment, tags, additional_tags, remove_tags, status,
                                             priority, assignee_id, group_id; safe_update +
                                             updated_stamp -> 409 UpdateConflict when stale
    *    tickets/ID/tags                     Tags API: GET lists, PUT adds, POST replaces,
                                             DELETE removes; same safe_update rule; {"tags"}
    POST /oauth/tokens                       after expiring_tokens(): the refresh_token grant
                                             (JSON); tokens expire on ``clock``, refresh
                                             tokens rotate; 400 invalid_grant

Shape decisions where no recording exists (from developer.zendesk.com):

- Calls carry the group in ``call_group_id`` (as recorded); completed calls are
  ``completion_status: "completed"`` with wait/talk/hold/wrap_up times in whole seconds,
  abandoned ones ``"abandoned_in_queue"`` with ``agent_id: null``. A call is exported once it
  ended; its ``updated_at`` is its end. Time-based exports include every row with
  time >= start_time; a full page is extended to the end of its last second and then
  ``end_time`` = that second + 1 (as recorded), otherwise ``end_time`` = the last row's second.
- agent_availabilities: ``data[]`` of ``agent_availabilities`` (attributes agent_id,
  agent_status {id, name, reason, updated_at}, group_ids, skills, version; links.self;
  relationships.channels), ``included`` = ``channels`` (support, messaging, talk: name, status,
  max_capacity, work_item_count, updated_at, relationships.work_items) and ``work_items``
  (added_at, reason); ``meta`` {has_more, after_cursor, before_cursor}, ``links`` {prev, next}.
  Status ids are the unified defaults: offline 2, online 3, away 4. available / busy / wrap_up
  are online (busy adds the work item), away is away, offline is offline; away and offline
  agents have every channel offline.
- Metric events (metric ``reply_time`` for first_reply_time, instance 1): ``activate`` and
  ``apply_sla`` (``sla`` {target (minutes), target_in_seconds, business_hours, policy {id,
  title, description}}) when the SLA starts, ``pause``, ``fulfill`` followed by
  ``update_status`` ({status: {calendar, business}} minutes), ``breach`` at the due time.
  Every event has ``deleted: false``.
- 429 bodies as observed live: the account limit answers the text "Number of allowed API
  requests per minute exceeded"; the exports answer JSON ``APIRateLimitExceeded``.
  A wrong Bearer token gets OAuth's ``invalid_token`` body; Basic failures get
  ``{"error": "Couldn't authenticate you"}``.
- Object ``url`` fields name the real-looking ``https://SUBDOMAIN.zendesk.com``; the links a
  client follows (after_url, next_page, links.next) point at this server.

Time: rate-limit windows follow ``clock``; the data (queue waits, edits, the export lag) follows
``floor_clock``, which is ``clock`` unless run_simulated sets it to the simulated floor's time.
The cursor export shows each ticket's newest version whose ``generated_timestamp`` is at least
``export_lag_s`` old, ordered by (generated_timestamp, id); a change made through the fake
(PUT, tags, agent_edit, delete_ticket) lands at least a second after the previous one, so it
always moves the ticket past a consumer's cursor. The cursor is base64 of "TS.0||ID|", as real.
``expire_cursors()`` makes every export cursor handed out so far answer 400
``{"error": "InvalidPaginationParameter", ...}`` (a cursor Zendesk no longer honours);
``cursors_refused`` counts those answers.
Faults other than slow / truncated / wrong_shape answer before authentication and budgets.
The per-endpoint limits are in ``EXPORT_LIMITS`` (the Talk exports have their own 10/min each).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import itertools
import json
import math
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from supervisor_tui.adapters import simfloor
from supervisor_tui.adapters.simulator import SLA_TARGET_S
from supervisor_tui.fakes.common import (
    Account,
    Clock,
    Fault,
    Faults,
    Gate,
    HttpError,
    Json,
    LoopbackServer,
    ascii_slug,
    gate,
    iso,
    parse_iso,
    run_simulated,
)
from supervisor_tui.fakes.common import number as sim_number
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    AgentUpserted,
    Channel,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    NewEvent,
    Priority,
    QueueUpserted,
    SlaChanged,
    SlaState,
    TicketDeleted,
    TicketUpserted,
)

__all__ = ["FakeZendesk", "iso", "run_simulated"]


GROUP_BASE = 360_000_000_000
USER_BASE = 370_000_000_000
MEMBERSHIP_BASE = 371_000_000_000
END_USER_BASE = 375_000_000_000
CALL_BASE = 380_000_000_000
LEG_BASE = 381_000_000_000
PHONE_BASE = 390_000_000_000
SLA_POLICY_BASE = 400_000_000_000
METRIC_EVENT_BASE = 410_000_000_000
CUSTOM_STATUS_BASE = 420_000_000_000
METRIC_BASE = 430_000_000_000
COMMENT_BASE = 430_000_000_000
AUDIT_BASE = 440_000_000_000
RATING_BASE = 450_000_000_000
MESSAGING_BASE = 900_000
BRAND_ID = 360_000_000_100
FORM_ID = 360_000_000_200
CUSTOM_STATUS_FIELD_ID = 360_000_000_300

EXPORT_PAGE_MAX = 1000
LIST_PAGE_MAX = 100

ACCOUNT_LIMIT_BODY = "Number of allowed API requests per minute exceeded"
EXPORT_LIMIT_BODY: Json = {
    "error": "APIRateLimitExceeded",
    "description": "Number of allowed incremental export API requests per minute exceeded",
}
AUTH_FAILED: Json = {"error": "Couldn't authenticate you"}
ENDPOINT_LIMIT = web.RequestKey("endpoint_limit", tuple[str, str])
"""The endpoint's own rate-limit header for this request's answer."""
FORBIDDEN: Json = {
    "error": "Forbidden",
    "description": "You do not have access to this page. Please contact the account owner of "
    "this help desk for further help.",
}
OAUTH_FAILED: Json = {
    "error": "invalid_token",
    "error_description": "The access token provided is expired, revoked, malformed or invalid "
    "for other reasons.",
}
NOT_FOUND: Json = {"error": "RecordNotFound", "description": "Not found"}
UPDATE_CONFLICT: Json = {
    "details": {},
    "description": "Safe Update prevented the update due to outdated ticket data. "
    "Please fetch the latest ticket data and try again.",
    "error": "UpdateConflict",
}
NO_SOURCE: Json = {"from": {}, "to": {}, "rel": None}

# Priority order of the SLA policies (k = 1..4) and the custom statuses (k = 1..5).
POLICY_PRIORITIES = (Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW)
CUSTOM_STATUSES = (
    ("new", "New", "Open", "Ticket is waiting for an agent"),
    ("open", "Open", "Open", "An agent is working on the ticket"),
    ("pending", "Pending", "Awaiting your reply", "Waiting for the requester"),
    ("hold", "On-hold", "Open", "Waiting for a third party"),
    ("solved", "Solved", "Solved", "The ticket is solved"),
)
STATUS_IDS = {name: CUSTOM_STATUS_BASE + k for k, (name, *_rest) in enumerate(CUSTOM_STATUSES, 1)}
AGENT_STATUS = {"offline": 2, "online": 3, "away": 4, "transfers_only": 5}
CUSTOM_AGENT_STATUS = {
    name: number
    for english, number in (("Break", 101), ("Lunch", 102))
    for name in (english, *(words.reasons[english] for words in simfloor.WORDS.values()))
}
"""Custom unified statuses (all channels offline), as a site sets them up for breaks: named
in the floor's language, as its administrator named them."""
SLA_METRICS = {
    "first_reply_time": ("reply_time", 1),
    "next_reply_time": ("reply_time", 2),
}
EXPORT_LIMITS: dict[str, tuple[str, int]] = {
    "/api/v2/incremental/tickets": ("incremental-exports", 10),
    "/api/v2/channels/voice/stats/incremental/calls": ("talk-incremental-calls", 10),
    "/api/v2/channels/voice/stats/incremental/legs": ("talk-incremental-legs", 10),
}
"""Path prefix -> (bucket, requests per minute) for the endpoints with their own limit."""
HIGH_VOLUME_EXPORTS = 30
"""The incremental exports' limit with the High Volume API add-on."""

_JSON_EXT = r"{_ext:(?:\.json)?}"


def iso_micro(t: float) -> str:
    """The Agent Availability API's timestamps carry microseconds."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _encode_cursor(payload: str) -> str:
    return base64.b64encode(payload.encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise HttpError(400, _invalid("cursor")) from None


def _invalid(what: str) -> Json:
    return {"error": "InvalidPaginationParameter", "description": f"Invalid {what}"}


class _TimeIndex:
    """The rows of a time-based export (metric events, Talk's calls and legs: each written
    once, never changed) in (time, id) order, each row's time parsed once: a page is a
    bisection, not a parse and a sort of the whole day (hundreds of thousands of rows on a
    floor of 10,000 agents)."""

    def __init__(self, field: str) -> None:
        self.field = field
        self._rows: list[tuple[int, int, Json]] = []
        self._ordered = True

    def rows(self, written: Sequence[Json] | Mapping[Any, Json]) -> list[tuple[int, int, Json]]:
        rows = self._rows
        values = written.values() if isinstance(written, Mapping) else written
        for item in itertools.islice(values, len(rows), None):  # written since last time
            row = (int(parse_iso(item[self.field])), item["id"], item)
            if rows and rows[-1][:2] > row[:2]:
                self._ordered = False
            rows.append(row)
        if not self._ordered:
            rows.sort(key=lambda r: (r[0], r[1]))
            self._ordered = True
        return rows


@dataclass(slots=True)
class _Ticket:
    id: int
    channel: str
    subject: str
    requester_id: int
    requester_name: str
    created_at: float
    updated_at: float
    status: str = "new"
    priority: str | None = None
    group_id: int | None = None
    assignee_id: int | None = None
    sim_tags: tuple[str, ...] = ()
    api_tags: set[str] = field(default_factory=set)
    removed_tags: set[str] = field(default_factory=set)
    satisfaction: str | None = None
    rating_id: int | None = None
    replies: int = 0
    reopens: int = 0
    generated: int = 0
    custom_status_id: int = STATUS_IDS["new"]

    @property
    def tags(self) -> list[str]:
        return sorted((set(self.sim_tags) | self.api_tags) - self.removed_tags)


@dataclass(slots=True)
class _Agent:
    user_id: int
    agent_id: str
    name: str
    group_ids: list[int]
    created_at: float
    state: AgentState = AgentState.OFFLINE
    since: float = 0.0
    work: str = ""
    reason: str = ""
    version: int = 0
    online_s: float = 0.0
    available_s: float = 0.0
    away_s: float = 0.0
    calls_accepted: int = 0
    talk_s: float = 0.0
    wrap_s: float = 0.0
    hold_s: float = 0.0


@dataclass(slots=True)
class _Contact:
    contact_id: str
    channel: Channel
    group_id: int | None
    offered_at: float
    agent_id: int | None = None
    wait_s: float = 0.0


class FakeZendesk(LoopbackServer):
    """One Zendesk account on loopback. Feed it simulator events; read it over HTTP."""

    OAUTH: dict[str, Any] = {
        "path": "/oauth/tokens",
        "json_body": True,
        "lifetime_s": 3600.0,  # the account sets it (5 minutes to 2 days)
        "rotate": True,  # "a successful request ... deletes the previous access and refresh tokens"
        "refusal": (
            400,
            {
                "error": "invalid_grant",
                "error_description": "The provided authorization grant is invalid, expired, "
                "revoked, does not match the redirection URI used in the authorization "
                "request, or was issued to another client.",
            },
        ),
    }

    def __init__(
        self,
        *,
        subdomain: str = "demo",
        email: str = "bot@example.com",
        token: str = "fake-token",
        oauth_token: str | None = None,
        rate_limit: int = 700,
        export_lag_s: float = 60.0,
        clock: Clock = time.time,
        omnichannel: bool = True,
        account: Account | None = None,
        high_volume: bool = False,
    ) -> None:
        """``account``: the token's role (admin, supervisor: a custom agent role with
        reporting rights, agent, light_agent) and what the plan lacks (talk, omnichannel,
        sla); ``omnichannel=False`` is the same as ``lacks={"omnichannel"}``.
        ``high_volume``: the High Volume API add-on, the ticket export's limit 30 a minute
        instead of 10 (``rate_limit`` is the account's, set apart)."""
        self.high_volume = high_volume
        self.subdomain = subdomain
        self.email = email
        self.token = token
        self.oauth_token = oauth_token
        self.rate_limit = rate_limit
        self.export_lag_s = export_lag_s
        self.clock = clock
        self.floor_clock: Clock = clock
        """The floor's time for data (waits, edits, the export lag); run_simulated sets it
        when the simulation runs at another speed than the wall clock."""
        self.account = account or Account()
        if not omnichannel:
            self.account.lacks |= {"omnichannel"}
        self.base_url = ""
        self.site = f"https://{subdomain}.zendesk.com"
        self.requests: list[tuple[str, str]] = []
        self.comments: dict[int, list[Json]] = {}
        self.tickets: dict[int, Json] = {}
        self.groups: dict[int, Json] = {}
        self.users: dict[int, Json] = {}
        self.memberships: dict[int, Json] = {}
        self.calls: dict[int, Json] = {}
        self.legs: dict[int, Json] = {}
        self.metric_events: list[Json] = []
        self.ratings: dict[int, Json] = {}
        self.sla_policies: dict[int, Json] = {}
        self._versions: dict[int, list[Json]] = {}
        """Each ticket's versions from the newest the export can see on (older ones are let
        go as soon as a newer one is visible: the export never shows them again)."""
        self._stream: list[tuple[int, int, Json]] = []
        """Every version kept, by (generated timestamp, id): the export's order. Versions let
        go stay here until the next compaction and are skipped."""
        self._stream_sorted = True
        self._metric_rows = _TimeIndex("time")
        self._call_rows = _TimeIndex("updated_at")
        self._leg_rows = _TimeIndex("updated_at")
        self._metric_sets: dict[tuple[int, int], Json] = {}
        """(ticket id, generated timestamp) → the metric set of that version of the ticket
        (``include=metric_sets`` on the export)."""
        self._state: dict[int, _Ticket] = {}
        self._deleted: set[int] = set()
        self._group_of_queue: dict[str, int] = {}
        self._voice_groups: list[int] = []
        self._agents: dict[int, _Agent] = {}
        self._end_users: dict[str, int] = {}
        self._emails: set[str] = set()
        self._contacts: dict[str, _Contact] = {}
        self._fed = 0
        """Counts the feeds: what is worked out from the floor is kept until the next one."""
        self._activity: tuple[int, dict[int, list[float]], dict[int, int]] | None = None
        self._voice_ids: set[str] = set()
        self._sla_open: dict[tuple[int, str, int], bool] = {}  # -> paused?
        self._policy_by_title: dict[str, int] = {}
        self._views_seen: set[int] = set()
        self._faults = Faults()
        self._cursor_generation = 0
        self._cursor_issued: dict[str, int] = {}  # export cursor → generation it was issued in
        self.cursors_refused = 0
        self._used: dict[str, tuple[int, int]] = {}
        self._ids = {
            name: itertools.count(1)
            for name in ("membership", "leg", "event", "comment", "audit", "rating")
        }
        self._bot_id = USER_BASE
        self._runner: web.AppRunner | None = None
        for k, priority in enumerate(POLICY_PRIORITIES, 1):
            self._add_policy(SLA_POLICY_BASE + k, f"{priority.value} e-mail", priority, k)

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
    ) -> None:
        """The next ``count`` requests whose path starts with ``path_prefix`` get ``fault``."""
        self._faults.add(path_prefix, fault, count, retry_after, delay_s)

    def expire_cursors(self) -> None:
        """Every export cursor handed out so far is refused from now on (400
        InvalidPaginationParameter), as Zendesk does with a cursor it no longer honours;
        the same position handed out again later is a new cursor and works."""
        self._cursor_generation += 1

    def delete_ticket(self, ticket_id: int) -> None:
        """The ticket is deleted: the export shows it with status "deleted", the API 404s."""
        state = self._state[ticket_id]
        self._deleted.add(ticket_id)
        state.status = "deleted"
        self._touch(state, self.floor_clock())

    def agent_edit(self, ticket_id: int) -> None:
        """An agent edits the ticket in the Zendesk UI: updated_at moves on."""
        self._touch(self._state[ticket_id], self.floor_clock())

    def agent_comments(self, ticket_id: int, count: int, author_id: int) -> None:
        """Agents and the customer go back and forth ``count`` times on the ticket."""
        state = self._state[ticket_id]
        now = self.floor_clock()
        for k in range(count):
            self._comment(state, author_id, f"Reply {k + 1}", now, public=k % 2 == 0)
        self._touch(state, now)

    # -- feeding ----------------------------------------------------------------------------

    def feed(self, events: Iterable[NewEvent]) -> None:
        """Turn the simulator's normalized events into Zendesk objects."""
        self._fed += 1
        for event in events:
            payload = event.payload
            at = event.occurred_at
            if isinstance(payload, QueueUpserted):
                self._queue(payload, at)
            elif isinstance(payload, AgentUpserted):
                self._agent(payload, at)
            elif isinstance(payload, AgentStateChanged):
                self._agent_state(payload, at)
            elif isinstance(payload, ContactOffered):
                self._offered(payload)
            elif isinstance(payload, ContactAnswered):
                self._answered(payload)
            elif isinstance(payload, ContactAbandoned):
                self._abandoned(payload)
            elif isinstance(payload, ContactEnded):
                self._ended(payload)
            elif isinstance(payload, TicketUpserted):
                self._ticket_upserted(payload)
            elif isinstance(payload, TicketDeleted):
                if int(payload.ticket_id) in self._state:
                    self.delete_ticket(int(payload.ticket_id))
            elif isinstance(payload, SlaChanged):
                self._sla(payload, at)

    def _queue(self, payload: QueueUpserted, at: float) -> None:
        group_id = self._group_of_queue.get(payload.queue_id)
        if group_id is None:
            group_id = GROUP_BASE + len(self._group_of_queue) + 1
            self._group_of_queue[payload.queue_id] = group_id
            if payload.channel is Channel.VOICE:
                self._voice_groups.append(group_id)
        created = self.groups[group_id]["created_at"] if group_id in self.groups else iso(at)
        self.groups[group_id] = {
            "url": f"{self.site}/api/v2/groups/{group_id}.json",
            "id": group_id,
            "is_public": True,
            "name": payload.name,
            "description": f"{payload.channel.value} queue",
            "default": group_id == GROUP_BASE + 1,
            "deleted": False,
            "created_at": created,
            "updated_at": iso(at),
        }

    def _agent(self, payload: AgentUpserted, at: float) -> None:
        user_id = USER_BASE + sim_number(payload.agent_id)
        group_ids = [
            self._group_of_queue[q] for q in payload.queue_ids if q in self._group_of_queue
        ]
        agent = self._agents.get(user_id)
        if agent is None:
            agent = _Agent(user_id, payload.agent_id, payload.name, group_ids, at, since=at)
            self._agents[user_id] = agent
            email = self._unique_email(payload.name, sim_number(payload.agent_id))
        else:
            agent.name, agent.group_ids = payload.name, group_ids
            email = self.users[user_id]["email"]
        self.users[user_id] = self._user(user_id, payload.name, email, "agent", at, group_ids)
        for membership_id in [
            m for m, row in self.memberships.items() if row["user_id"] == user_id
        ]:
            del self.memberships[membership_id]
        for i, group_id in enumerate(group_ids):
            membership_id = MEMBERSHIP_BASE + next(self._ids["membership"])
            self.memberships[membership_id] = {
                "url": f"{self.site}/api/v2/group_memberships/{membership_id}.json",
                "id": membership_id,
                "user_id": user_id,
                "group_id": group_id,
                "default": i == 0,
                "created_at": iso(at),
                "updated_at": iso(at),
            }

    def _unique_email(self, name: str, number: int) -> str:
        local = ascii_slug(name)
        email = f"{local}@example.com"
        if email in self._emails:
            email = f"{local}.{number}@example.com"
        self._emails.add(email)
        return email

    def _user(
        self, user_id: int, name: str, email: str, role: str, at: float, groups: Sequence[int]
    ) -> Json:
        staff = role != "end-user"
        return {
            "id": user_id,
            "url": f"{self.site}/api/v2/users/{user_id}.json",
            "name": name,
            "email": email,
            "created_at": iso(at),
            "updated_at": iso(at),
            "time_zone": "UTC",
            "iana_time_zone": "Etc/UTC",
            "phone": None,
            "shared_phone_number": None,
            "photo": None,
            "locale_id": 1,
            "locale": "en-US",
            "organization_id": None,
            "role": role,
            "verified": True,
            "external_id": None,
            "tags": [],
            "alias": None,
            "active": True,
            "shared": False,
            "shared_agent": False,
            "last_login_at": iso(at) if staff else None,
            "two_factor_auth_enabled": None,
            "signature": None,
            "details": None,
            "notes": None,
            "role_type": 0 if role == "agent" else None,
            "custom_role_id": None,
            "moderator": False,
            "ticket_restriction": None if role == "admin" else "requested",
            "only_private_comments": False,
            "restricted_agent": False,
            "suspended": False,
            "default_group_id": groups[0] if groups else None,
            "report_csv": False,
            "user_fields": {},
        }

    def _end_user(self, name: str, at: float) -> int:
        user_id = self._end_users.get(name)
        if user_id is None:
            user_id = END_USER_BASE + len(self._end_users) + 1
            self._end_users[name] = user_id
            email = self._unique_email(name, user_id - END_USER_BASE)
            self.users[user_id] = self._user(user_id, name, email, "end-user", at, ())
            self.users[user_id]["ticket_restriction"] = "requested"
        return user_id

    def _agent_state(self, payload: AgentStateChanged, at: float) -> None:
        agent = self._agents.get(USER_BASE + sim_number(payload.agent_id))
        if agent is None:
            return
        self._accrue(agent, payload.since)
        agent.state, agent.since, agent.work = payload.state, payload.since, payload.work
        agent.reason = payload.reason
        agent.version += 1

    @staticmethod
    def _accrue(agent: _Agent, until: float) -> None:
        agent.online_s, agent.available_s, agent.away_s = FakeZendesk._times(agent, until)
        agent.since = max(agent.since, until)

    @staticmethod
    def _times(agent: _Agent, until: float) -> tuple[float, float, float]:
        """Online, available and away seconds so far, the current state included."""
        spent = max(0.0, until - agent.since)
        online = agent.state in (AgentState.AVAILABLE, AgentState.BUSY, AgentState.WRAP_UP)
        return (
            agent.online_s + (spent if online else 0.0),
            agent.available_s + (spent if agent.state is AgentState.AVAILABLE else 0.0),
            agent.away_s + (spent if agent.state is AgentState.AWAY else 0.0),
        )

    # -- contacts ---------------------------------------------------------------------------

    def _offered(self, payload: ContactOffered) -> None:
        group_id = self._group_of_queue.get(payload.queue_id)
        contact = _Contact(payload.contact_id, payload.channel, group_id, payload.offered_at)
        self._contacts[payload.contact_id] = contact
        if payload.channel is Channel.VOICE:
            self._voice_ids.add(payload.contact_id)
        if payload.channel is Channel.CHAT:
            number = sim_number(payload.contact_id)
            name = f"Web User {number}"
            state = _Ticket(
                id=MESSAGING_BASE + number,
                channel="native_messaging",
                subject=f"Conversation with {name}",
                requester_id=self._end_user(name, payload.offered_at),
                requester_name=name,
                created_at=payload.offered_at,
                updated_at=payload.offered_at,
                priority=Priority.NORMAL.value,
                group_id=group_id,
            )
            self._state[state.id] = state
            self._comment(state, state.requester_id, "Hi, I need some help.", payload.offered_at)
            self._publish(state, payload.offered_at)
            self._metric_event((state.id, "reply_time", 1), "activate", payload.offered_at)

    def _answered(self, payload: ContactAnswered) -> None:
        contact = self._contacts.get(payload.contact_id)
        if contact is None:
            return
        contact.agent_id = USER_BASE + sim_number(payload.agent_id)
        contact.wait_s = payload.wait_s
        if contact.channel is Channel.VOICE:
            agent = self._agents.get(contact.agent_id)
            if agent is not None:
                agent.calls_accepted += 1
        elif contact.channel is Channel.CHAT:
            state = self._state[MESSAGING_BASE + sim_number(payload.contact_id)]
            state.status, state.assignee_id = "open", contact.agent_id
            self._publish(state, payload.answered_at)
            # the agent's first reply in the conversation: Zendesk measures it as reply_time
            self._metric_event((state.id, "reply_time", 1), "fulfill", payload.answered_at)

    def _abandoned(self, payload: ContactAbandoned) -> None:
        contact = self._contacts.pop(payload.contact_id, None)
        if contact is None:
            return
        if contact.channel is Channel.VOICE:
            self._call(contact, payload.abandoned_at, payload.wait_s, None)
        elif contact.channel is Channel.CHAT:
            state = self._state[MESSAGING_BASE + sim_number(payload.contact_id)]
            state.status, state.assignee_id = "closed", None
            state.sim_tags = (*state.sim_tags, "missed_chat")
            self._publish(state, payload.abandoned_at)

    def _ended(self, payload: ContactEnded) -> None:
        contact = self._contacts.pop(payload.contact_id, None)
        if contact is None:
            return
        if contact.channel is Channel.VOICE:
            self._call(contact, payload.ended_at, contact.wait_s, payload)
            agent = self._agents.get(USER_BASE + sim_number(payload.agent_id))
            if agent is not None:
                agent.talk_s += payload.talk_s
                agent.wrap_s += payload.wrap_s
                agent.hold_s += payload.hold_s
        elif contact.channel is Channel.CHAT:
            state = self._state[MESSAGING_BASE + sim_number(payload.contact_id)]
            state.status = "solved"
            state.assignee_id = USER_BASE + sim_number(payload.agent_id)
            self._publish(state, payload.ended_at)

    def _call(
        self, contact: _Contact, ended_at: float, wait_s: float, ended: ContactEnded | None
    ) -> None:
        call_id = CALL_BASE + sim_number(contact.contact_id)
        talk = round(ended.talk_s) if ended else 0
        hold = round(ended.hold_s) if ended else 0
        wrap = round(ended.wrap_s) if ended else 0
        wait = round(wait_s)
        duration = wait + talk + hold
        agent_id = USER_BASE + sim_number(ended.agent_id) if ended else None
        phone_id = self._phone_of(contact.group_id)
        customer_id = self._end_user(f"Caller {sim_number(contact.contact_id)}", contact.offered_at)
        self.calls[call_id] = {
            "id": call_id,
            "created_at": iso(contact.offered_at),
            "updated_at": iso(ended_at),
            "agent_id": agent_id,
            "call_charge": "0.0",
            "consultation_time": 0,
            "completion_status": "completed" if ended else "abandoned_in_queue",
            "customer_id": customer_id,
            "customer_requested_voicemail": False,
            "direction": "inbound",
            "duration": duration,
            "exceeded_queue_wait_time": False,
            "hold_time": hold,
            "minutes_billed": math.ceil(duration / 60),
            "outside_business_hours": False,
            "phone_number_id": phone_id,
            "phone_number": self._phone_number(phone_id),
            "ticket_id": None,
            "time_to_answer": wait if ended else None,
            "voicemail": False,
            "wait_time": wait,
            "wrap_up_time": wrap,
            "ivr_time_spent": None,
            "ivr_hops": None,
            "ivr_destination_group_name": None,
            "talk_time": talk,
            "ivr_routed_to": None,
            "callback": False,
            "callback_source": None,
            "default_group": contact.group_id == GROUP_BASE + 1,
            "ivr_action": None,
            "line": self._phone_number(phone_id),
            "line_id": phone_id,
            "line_type": "phone",
            "overflowed": False,
            "overflowed_to": None,
            "recording_control_interactions": 0,
            "recording_time": 0,
            "not_recording_time": 0,
            "call_recording_consent": "always",
            "call_recording_consent_action": None,
            "call_recording_consent_keypress": None,
            "call_group_id": contact.group_id,
            "call_channel": "phone",
            "quality_issues": ["none"],
        }
        self._leg(call_id, "customer", None, customer_id, contact.offered_at, ended_at, duration)
        if ended is not None and agent_id is not None:
            answered = contact.offered_at + wait_s
            leg = self._leg(
                call_id, "agent", agent_id, customer_id, answered, ended_at, talk + hold
            )
            leg.update(hold_time=hold, wrap_up_time=wrap, talk_time=talk)

    def _leg(
        self,
        call_id: int,
        kind: str,
        agent_id: int | None,
        user_id: int,
        start: float,
        end: float,
        duration: int,
    ) -> Json:
        leg_id = LEG_BASE + next(self._ids["leg"])
        leg: Json = {
            "id": leg_id,
            "created_at": iso(start),
            "updated_at": iso(end),
            "agent_id": agent_id if agent_id is not None else 0,
            "user_id": user_id,
            "duration": duration,
            "hold_time": 0,
            "wrap_up_time": None,
            "available_via": "browser" if kind == "agent" else None,
            "forwarded_to": None,
            "consultation_from": None,
            "transferred_from": None,
            "transferred_to": None,
            "minutes_billed": math.ceil(duration / 60),
            "call_charge": "0.0",
            "completion_status": "completed" if kind == "agent" or duration else "customer_hang_up",
            "consultation_time": None,
            "talk_time": 0,
            "consultation_to": None,
            "conference_time": None,
            "conference_from": None,
            "conference_to": None,
            "quality_issues": ["none"],
            "call_id": call_id,
            "type": kind,
        }
        self.legs[leg_id] = leg
        return leg

    def _phone_of(self, group_id: int | None) -> int | None:
        if group_id is None or group_id not in self._voice_groups:
            return None
        return PHONE_BASE + group_id - GROUP_BASE

    @staticmethod
    def _phone_number(phone_id: int | None) -> str | None:
        return None if phone_id is None else f"+1555010{phone_id - PHONE_BASE:04d}"

    # -- tickets ----------------------------------------------------------------------------

    def _ticket_upserted(self, payload: TicketUpserted) -> None:
        ticket_id = int(payload.ticket_id)
        state = self._state.get(ticket_id)
        channel = {
            Channel.EMAIL: "email",
            Channel.CHAT: "native_messaging",
            Channel.VOICE: "voice",
            Channel.WEB: "web",
        }.get(payload.channel, "api")
        if state is None:
            requester = payload.requester or "Customer"
            state = _Ticket(
                id=ticket_id,
                channel=channel,
                subject=payload.subject,
                requester_id=self._end_user(requester, payload.created_at),
                requester_name=requester,
                created_at=payload.created_at,
                updated_at=payload.updated_at,
            )
            self._state[ticket_id] = state
            body = f"{payload.subject}. Could you look into this, please?"
            self._comment(state, state.requester_id, body, payload.created_at)
        if ticket_id in self._deleted:
            return
        state.subject = payload.subject or state.subject
        state.status = payload.status.value
        state.priority = payload.priority.value if payload.priority else None
        state.group_id = self._group_of_queue.get(payload.queue_id or "")
        state.assignee_id = (
            USER_BASE + sim_number(payload.assignee_id) if payload.assignee_id else None
        )
        tags = set(payload.tags)
        if payload.escalated:
            tags.add("escalated")
        state.sim_tags = tuple(sorted(tags))
        while state.replies < payload.agent_replies:
            state.replies += 1
            author = state.assignee_id or self._bot_id
            body = "Thanks for your patience: here is what we found."
            self._comment(state, author, body, payload.updated_at)
        if payload.reopened and not state.reopens:
            state.reopens = 1
        if payload.satisfaction in ("good", "bad"):
            state.satisfaction = payload.satisfaction
        elif state.status in ("solved", "closed") and state.satisfaction is None:
            state.satisfaction = "offered"
        self._publish(state, payload.updated_at)

    def _publish(self, state: _Ticket, changed_at: float) -> None:
        """A new version of the ticket: it moves to a new place in the export."""
        state.updated_at = max(state.updated_at, changed_at)
        state.generated = max(int(changed_at), state.generated + 1 if state.generated else 0)
        if state.status in STATUS_IDS:
            state.custom_status_id = STATUS_IDS[state.status]
        elif state.status == "closed":
            state.custom_status_id = STATUS_IDS["solved"]
        if state.satisfaction is not None:
            self._rate(state)
        snapshot = self._render(state)
        self.tickets[state.id] = snapshot
        versions = self._versions.setdefault(state.id, [])
        versions.append(snapshot)
        self._metric_sets[state.id, state.generated] = self._metric_set(state)
        cutoff = self.floor_clock() - self.export_lag_s
        while len(versions) > 1 and versions[1]["generated_timestamp"] <= cutoff:
            gone = versions.pop(0)
            self._metric_sets.pop((state.id, gone["generated_timestamp"]), None)
        entry = (state.generated, state.id, snapshot)
        stream = self._stream
        if stream and stream[-1][:2] > entry[:2]:
            self._stream_sorted = False
        stream.append(entry)
        if len(stream) > 4 * len(self._versions) + 10_000:
            self._stream = [e for e in stream if self._kept(e)]

    def _touch(self, state: _Ticket, now: float) -> None:
        """A change made through Zendesk itself: at least a second after the last one."""
        self._publish(state, max(now, math.floor(state.updated_at) + 1.0))

    def _metric_set(self, state: _Ticket) -> Json:
        """The ticket's metrics as ``/ticket_metrics`` and the export's sideload give them
        (the recorded shape; the times this fake does not track are unmeasured: null)."""
        unmeasured = {"calendar": None, "business": None}
        return {
            "url": f"{self.site}/api/v2/ticket_metrics/{METRIC_BASE + state.id}.json",
            "id": METRIC_BASE + state.id,
            "ticket_id": state.id,
            "created_at": iso(state.created_at),
            "updated_at": iso(state.updated_at),
            "group_stations": 1 if state.group_id is not None else 0,
            "assignee_stations": 1 if state.assignee_id is not None else 0,
            "reopens": state.reopens,
            "replies": state.replies,
            "requester_updated_at": iso(state.created_at),
            "status_updated_at": iso(state.updated_at),
            "latest_comment_added_at": iso(state.updated_at),
            "reply_time_in_minutes": dict(unmeasured),
            "first_resolution_time_in_minutes": dict(unmeasured),
            "full_resolution_time_in_minutes": dict(unmeasured),
            "agent_wait_time_in_minutes": dict(unmeasured),
            "requester_wait_time_in_minutes": dict(unmeasured),
            "on_hold_time_in_minutes": {"calendar": 0, "business": 0},
            "custom_status_updated_at": iso(state.updated_at),
        }

    def _render(self, state: _Ticket) -> Json:
        if state.satisfaction in ("good", "bad"):
            rating: Json | None = {
                "score": state.satisfaction,
                "id": state.rating_id,
                "comment": None,
            }
        elif state.satisfaction is not None:
            rating = {"score": state.satisfaction}
        else:
            rating = None
        if state.channel == "email":
            source: Json = {
                "from": {
                    "address": self.users[state.requester_id]["email"],
                    "name": state.requester_name,
                },
                "to": {"name": "Support", "address": f"support@{self.subdomain}.zendesk.com"},
                "rel": None,
            }
        else:
            source = {"from": {"name": state.requester_name}, "to": {}, "rel": None}
        first = self.comments.get(state.id, [{}])[0]
        return {
            "url": f"{self.site}/api/v2/tickets/{state.id}.json",
            "id": state.id,
            "external_id": None,
            "via": {"channel": state.channel, "source": source},
            "created_at": iso(state.created_at),
            "updated_at": iso(state.updated_at),
            "generated_timestamp": state.generated,
            "type": None,
            "subject": state.subject,
            "raw_subject": state.subject,
            "description": first.get("body", state.subject),
            "priority": state.priority,
            "status": state.status,
            "recipient": (
                f"support@{self.subdomain}.zendesk.com" if state.channel == "email" else None
            ),
            "requester_id": state.requester_id,
            "submitter_id": state.requester_id,
            "assignee_id": state.assignee_id,
            "organization_id": None,
            "group_id": state.group_id,
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "forum_topic_id": None,
            "problem_id": None,
            "has_incidents": False,
            "is_public": True,
            "due_at": None,
            "tags": state.tags,
            "custom_fields": [],
            "satisfaction_rating": rating,
            "sharing_agreement_ids": [],
            "custom_status_id": state.custom_status_id,
            "fields": [],
            "followup_ids": [],
            "ticket_form_id": FORM_ID,
            "brand_id": BRAND_ID,
            "allow_channelback": state.channel == "native_messaging",
            "allow_attachments": True,
            "from_messaging_channel": state.channel == "native_messaging",
        }

    def _comment(
        self,
        state: _Ticket,
        author_id: int,
        body: str,
        at: float,
        *,
        public: bool = True,
        audit_id: int | None = None,
    ) -> Json:
        comment_id = COMMENT_BASE + next(self._ids["comment"])
        channel = "api" if author_id == self._bot_id else state.channel
        comment: Json = {
            "id": comment_id,
            "type": "Comment",
            "author_id": author_id,
            "body": body,
            "html_body": f'<div class="zd-comment" dir="auto"><p dir="auto">{_escape(body)}'
            "</p></div>",
            "plain_body": body,
            "public": public,
            "attachments": [],
            "audit_id": audit_id or AUDIT_BASE + next(self._ids["audit"]),
            "via": {"channel": channel, "source": NO_SOURCE},
            "created_at": iso(at),
            "metadata": {"system": {}, "custom": {}},
        }
        self.comments.setdefault(state.id, []).append(comment)
        return comment

    def _rate(self, state: _Ticket) -> None:
        if state.rating_id is None:
            state.rating_id = RATING_BASE + next(self._ids["rating"])
        row = self.ratings.get(state.rating_id)
        created = row["created_at"] if row else iso(state.updated_at)
        if row is not None and row["score"] == state.satisfaction:
            return
        self.ratings[state.rating_id] = {
            "url": f"{self.site}/api/v2/satisfaction_ratings/{state.rating_id}.json",
            "id": state.rating_id,
            "assignee_id": state.assignee_id,
            "group_id": state.group_id,
            "requester_id": state.requester_id,
            "ticket_id": state.id,
            "score": state.satisfaction,
            "created_at": created,
            "updated_at": iso(state.updated_at),
            "comment": None,
        }

    # -- SLAs -------------------------------------------------------------------------------

    def _add_policy(self, policy_id: int, title: str, priority: Priority, position: int) -> None:
        target = SLA_TARGET_S.get(priority, 8 * 3600)
        self._policy_by_title[title] = policy_id
        self.sla_policies[policy_id] = {
            "url": f"{self.site}/api/v2/slas/policies/{policy_id}.json",
            "id": policy_id,
            "title": title,
            "description": f"First reply for {priority.value} priority e-mail",
            "position": position,
            "filter": {
                "all": [{"field": "priority", "operator": "is", "value": priority.value}],
                "any": [],
            },
            "policy_metrics": [
                {
                    "priority": priority.value,
                    "metric": "first_reply_time",
                    "target": round(target / 60),
                    "business_hours": False,
                    "target_in_seconds": target,
                }
            ],
            "created_at": iso(0.0),
            "updated_at": iso(0.0),
        }

    def _policy(self, payload: SlaChanged) -> Json:
        policy_id = self._policy_by_title.get(payload.policy)
        if policy_id is None:
            word = payload.policy.split(" ")[0] if payload.policy else ""
            priority = Priority(word) if word in {p.value for p in Priority} else Priority.NORMAL
            policy_id = SLA_POLICY_BASE + len(self.sla_policies) + 1
            self._add_policy(
                policy_id, payload.policy or "default", priority, len(self.sla_policies)
            )
        return self.sla_policies[policy_id]

    def _sla(self, payload: SlaChanged, at: float) -> None:
        ticket_id = int(payload.ticket_id)
        metric, instance = SLA_METRICS.get(payload.metric, (payload.metric, 1))
        key = (ticket_id, metric, instance)
        state = self._state.get(ticket_id)
        if key not in self._sla_open:
            policy = self._policy(payload)
            applied = min(at, state.created_at) if state else at
            self._metric_event(key, "activate", applied)
            self._metric_event(
                key,
                "apply_sla",
                applied,
                sla={
                    "target": round(payload.target_s / 60),
                    "target_in_seconds": round(payload.target_s),
                    "business_hours": False,
                    "policy": {
                        "id": policy["id"],
                        "title": policy["title"],
                        "description": policy["description"],
                    },
                },
            )
            self._sla_open[key] = False
        paused = self._sla_open[key]
        if payload.state is SlaState.ACTIVE and paused:
            self._metric_event(key, "activate", at)
            self._sla_open[key] = False
        elif payload.state is SlaState.PAUSED and not paused:
            self._metric_event(key, "pause", at)
            self._sla_open[key] = True
        elif payload.state is SlaState.FULFILLED:
            self._metric_event(key, "fulfill", at)
            minutes = round((at - state.created_at) / 60) if state else 0
            self._metric_event(
                key, "update_status", at, status={"calendar": minutes, "business": minutes}
            )
        elif payload.state is SlaState.BREACHED:
            self._metric_event(key, "breach", min(at, payload.due_at))

    def _metric_event(self, key: tuple[int, str, int], kind: str, at: float, **extra: Any) -> None:
        ticket_id, metric, instance = key
        self.metric_events.append(
            {
                "id": METRIC_EVENT_BASE + next(self._ids["event"]),
                "ticket_id": ticket_id,
                "metric": metric,
                "instance_id": instance,
                "type": kind,
                "time": iso(at),
                **extra,
                "deleted": False,
            }
        )

    # -- the HTTP side ----------------------------------------------------------------------

    GATES = (
        # the incremental exports and SLA policies are for admins (any plan's role list)
        gate(r"^/api/v2/incremental/", roles={"admin"}),
        gate(r"^/api/v2/slas/", roles={"admin"}, feature="sla"),
        gate(r"^/api/v2/satisfaction_ratings", roles={"admin"}),
        # omnichannel routing and Talk are add-ons; their figures are for admins and roles
        # with reporting rights
        gate(r"^/api/v2/agent_availabilities", feature="omnichannel"),
        gate(r"^/api/v2/agent_availabilities(\.json)?$", roles={"admin", "supervisor"}),
        gate(r"^/api/v2/channels/voice/", feature="talk"),
        gate(r"^/api/v2/channels/voice/stats/", roles={"admin", "supervisor"}),
        # a light agent may read tickets and comment privately, never change a ticket
        gate(
            r"^/api/v2/tickets/\d+/tags",
            roles={"admin", "supervisor", "agent"},
            methods={"PUT", "POST", "DELETE"},
        ),
    )

    def _refuse(self, request: web.Request, gate: Gate | None, missing: str) -> web.Response:
        if request.path.startswith("/api/v2/agent_availabilities"):
            # the JSON:API endpoints word their errors as JSON:API does
            detail = (
                "Omnichannel routing is not enabled for this account"
                if missing == "omnichannel"
                else "You do not have access to this resource"
            )
            return _json(
                {"errors": [{"code": "Forbidden", "title": "Forbidden", "detail": detail}]}, 403
            )
        if missing == "role":
            return _json(FORBIDDEN, 403)
        return _json(
            {
                "error": "Forbidden",
                "description": f"Your plan does not include this feature ({missing})",
            },
            403,
        )

    def _routes(self) -> list[web.RouteDef]:
        j = _JSON_EXT
        v2 = "/api/v2"
        stats = f"{v2}/channels/voice/stats"
        return [
            web.get(f"{v2}/incremental/tickets/cursor{j}", self._export_cursor),
            web.get(f"{v2}/incremental/tickets{j}", self._export_time),
            web.get(f"{v2}/incremental/ticket_metric_events{j}", self._metric_events),
            web.get(f"{v2}/groups{j}", self._groups),
            web.get(f"{v2}/group_memberships{j}", self._memberships),
            web.get(f"{v2}/users/me{j}", self._me),
            web.get(f"{v2}/users{j}", self._users),
            web.get(f"{v2}/channels/voice/phone_numbers{j}", self._phone_numbers),
            web.get(f"{stats}/current_queue_activity{j}", self._queue_activity),
            web.get(f"{stats}/agents_activity{j}", self._agents_activity),
            web.get(f"{stats}/incremental/calls{j}", self._calls_export),
            web.get(f"{stats}/incremental/legs{j}", self._legs_export),
            web.get(f"{v2}/agent_availabilities{j}", self._availabilities),
            web.get(rf"{v2}/agent_availabilities/{{agent_id:\d+}}{j}", self._availability),
            web.get(f"{v2}/slas/policies{j}", self._policies),
            web.get(f"{v2}/satisfaction_ratings{j}", self._ratings),
            web.get(f"{v2}/ticket_fields{j}", self._ticket_fields),
            web.get(f"{v2}/custom_statuses{j}", self._custom_statuses),
            web.get(rf"{v2}/views/{{view_id:\d+}}/count{j}", self._view_count),
            web.get(f"{v2}/search/export{j}", self._search_export),
            web.get(rf"{v2}/tickets/{{ticket_id:\d+}}{j}", self._ticket),
            web.put(rf"{v2}/tickets/{{ticket_id:\d+}}{j}", self._update_ticket),
            web.get(rf"{v2}/tickets/{{ticket_id:\d+}}/comments{j}", self._ticket_comments),
            web.route("*", rf"{v2}/tickets/{{ticket_id:\d+}}/tags{j}", self._ticket_tags),
            web.route("*", "/{tail:.*}", self._unknown),
        ]

    def _budget(self, request: web.Request) -> web.Response | None:
        """The account's and the endpoint's per-minute budgets. The endpoint's own
        rate-limit header, where it has one, goes on the answer (``_headed``)."""
        window, reset = self._window()
        if not self._spend("account", self.rate_limit, window):
            limited = web.Response(status=429, text=ACCOUNT_LIMIT_BODY)
            limited.headers["Retry-After"] = str(reset)
            return limited
        limit = next((v for p, v in EXPORT_LIMITS.items() if request.path.startswith(p)), None)
        if limit is None:
            return None
        bucket, per_minute = limit
        if self.high_volume and bucket == "incremental-exports":
            per_minute = HIGH_VOLUME_EXPORTS
        allowed = self._spend(bucket, per_minute, window)
        left = max(0, per_minute - self._used[bucket][1])
        request[ENDPOINT_LIMIT] = (
            f"Zendesk-RateLimit-{bucket}",
            f"total={per_minute}; remaining={left}; resets={reset}",
        )
        if allowed:
            return None
        limited = _json(EXPORT_LIMIT_BODY, 429)
        limited.headers["Retry-After"] = str(reset)
        return limited

    def _failed(self, exc: HttpError) -> web.Response:
        return _json(exc.body or {}, exc.status)

    @staticmethod
    def _fault_response(fault: Fault) -> web.Response:
        if fault.fault == "429":
            response = web.Response(status=429, text=ACCOUNT_LIMIT_BODY)
            response.headers["Retry-After"] = str(fault.retry_after)
            return response
        if fault.fault == "500":
            return _json({"error": "InternalError", "description": "Something went wrong"}, 500)
        if fault.fault == "503":
            response = web.Response(
                status=503, text="<html><body><h1>503 Service Unavailable</h1></body></html>"
            )
            response.content_type = "text/html"
            response.headers["Retry-After"] = str(fault.retry_after)
            return response
        if fault.fault == "401":
            response = _json(AUTH_FAILED, 401)
            response.headers["WWW-Authenticate"] = 'Basic realm="Web Password"'
            return response
        # malformed: a proxy's error page where JSON was promised
        return web.Response(
            status=200,
            body=b"<html><body>upstream connect error</body></html>",
            content_type="application/json",
        )

    def _authenticate(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            if self._bearer_valid(credentials.strip(), self.oauth_token):
                return None
            return _json(OAUTH_FAILED, 401)
        if scheme.lower() == "basic":
            try:
                user, _, secret = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, secret = "", ""
            if user == f"{self.email}/token" and secret == self.token:
                return None
        denied = _json(AUTH_FAILED, 401)
        denied.headers["WWW-Authenticate"] = 'Basic realm="Web Password"'
        return denied

    def _window(self) -> tuple[int, int]:
        """The current per-minute window and the seconds left in it."""
        now = self.clock()
        return int(now // 60), max(1, 60 - int(now % 60))

    def _spend(self, bucket: str, limit: int, window: int) -> bool:
        seen, used = self._used.get(bucket, (window, 0))
        used = used if seen == window else 0
        if used >= limit:
            self._used[bucket] = (window, used)
            return False
        self._used[bucket] = (window, used + 1)
        return True

    def _headed(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        endpoint_limit = request.get(ENDPOINT_LIMIT)
        if endpoint_limit is not None:
            response.headers[endpoint_limit[0]] = endpoint_limit[1]
        window, reset = self._window()
        seen, used = self._used.get("account", (window, 0))
        remaining = max(0, self.rate_limit - (used if seen == window else 0))
        for name, value in (
            ("X-Rate-Limit", self.rate_limit),
            ("X-Rate-Limit-Remaining", remaining),
            ("ratelimit-limit", self.rate_limit),
            ("ratelimit-remaining", remaining),
            ("ratelimit-reset", reset),
        ):
            response.headers[name] = str(value)
        return response

    async def _unknown(self, request: web.Request) -> web.Response:
        return _json({"error": "InvalidEndpoint", "description": "Not found"}, 404)

    # -- paging helpers ---------------------------------------------------------------------

    def _link(self, request: web.Request, **params: str | int | None) -> str:
        """This request's URL on this server with some query parameters replaced."""
        query = [(k, v) for k, v in request.query.items() if k not in params]
        query += [(k, str(v)) for k, v in params.items() if v is not None]
        return f"{self.base_url}{request.path}?{urlencode(query)}"

    def _page(
        self,
        request: web.Request,
        key: str,
        items: Sequence[Json],
        *,
        sort_key: str = "id",
        descending: bool = False,
        cursor_only: bool = False,
    ) -> Json:
        """A list in Zendesk's cursor pagination (page[size]) or offset pagination (page)."""
        q = request.query
        if cursor_only or any(k.startswith("page[") for k in q):
            return self._cursor_page(request, key, items, sort_key, descending)
        per_page = _int(q.get("per_page"), LIST_PAGE_MAX, "per_page", 1, LIST_PAGE_MAX)
        page = _int(q.get("page"), 1, "page", 1)
        chunk = list(items[(page - 1) * per_page : page * per_page])
        more = page * per_page < len(items)
        return {
            key: chunk,
            "next_page": self._link(request, page=page + 1, per_page=per_page) if more else None,
            "previous_page": self._link(request, page=page - 1, per_page=per_page)
            if page > 1
            else None,
            "count": len(items),
        }

    def _cursor_page(
        self,
        request: web.Request,
        key: str,
        items: Sequence[Json],
        sort_key: str,
        descending: bool,
        max_size: int = LIST_PAGE_MAX,
    ) -> Json:
        q = request.query
        size = _int(q.get("page[size]"), max_size, "page[size]", 1, max_size)

        def value(item: Json) -> Any:
            if sort_key == "agent_id" and "attributes" in item:  # JSON:API documents
                return item["attributes"]["agent_id"]
            return item[sort_key]

        def beyond(item: Json, mark: Any) -> bool:
            return bool(value(item) < mark if descending else value(item) > mark)

        after, before = q.get("page[after]"), q.get("page[before]")
        if after:
            mark = self._cursor_value(after, sort_key)
            rest = [i for i in items if beyond(i, mark)]
            chunk, more = rest[:size], len(rest) > size
        elif before:
            mark = self._cursor_value(before, sort_key)
            ahead = [i for i in items if not beyond(i, mark) and value(i) != mark]
            chunk, more = ahead[-size:], True
        else:
            chunk, more = list(items[:size]), len(items) > size
        if not chunk:
            meta: Json = {"has_more": False, "after_cursor": None, "before_cursor": None}
            return {key: [], "meta": meta, "links": {"prev": None, "next": None}}
        after_cursor = _encode_cursor(json.dumps({"o": sort_key, "v": value(chunk[-1])}))
        before_cursor = _encode_cursor(json.dumps({"o": sort_key, "v": value(chunk[0])}))
        no_page: dict[str, str | int | None] = {"page[after]": None, "page[before]": None}
        return {
            key: chunk,
            "meta": {
                "has_more": more,
                "after_cursor": after_cursor,
                "before_cursor": before_cursor,
            },
            "links": {
                # Like the real API, next stays a URL on the last page: stop on has_more.
                "prev": self._link(
                    request, **{**no_page, "page[before]": before_cursor, "page[size]": size}
                ),
                "next": self._link(
                    request, **{**no_page, "page[after]": after_cursor, "page[size]": size}
                ),
            },
        }

    @staticmethod
    def _cursor_value(cursor: str, sort_key: str) -> Any:
        try:
            data = json.loads(_decode_cursor(cursor))
        except ValueError:
            raise HttpError(400, _invalid("cursor")) from None
        if not isinstance(data, dict) or data.get("o") != sort_key or "v" not in data:
            raise HttpError(400, _invalid("cursor"))
        return data["v"]

    def _time_export(
        self, request: web.Request, key: str, rows: list[tuple[int, int, Json]]
    ) -> Json:
        """Zendesk's time-based incremental export: every row with time >= start_time, from
        ``rows`` in (time, id) order."""
        q = request.query
        if "start_time" not in q:
            raise HttpError(400, {"error": "InvalidValue", "description": "start_time missing"})
        start = _int(q.get("start_time"), 0, "start_time", 0)
        per_page = _int(q.get("per_page"), EXPORT_PAGE_MAX, "per_page", 1, EXPORT_PAGE_MAX)
        first = bisect.bisect_left(rows, start, key=lambda r: r[0])
        end = min(first + per_page, len(rows))
        while first < end < len(rows) and rows[end][0] == rows[end - 1][0]:
            end += 1  # a second is never split between pages
        page = rows[first:end]
        more = end < len(rows)
        end_time = (page[-1][0] + (1 if more else 0)) if page else start
        next_query: dict[str, str | int | None] = {"start_time": end_time}
        return {
            key: [row for _, _, row in page],
            "next_page": self._link(request, **next_query),
            "count": len(page),
            "end_time": end_time,
            "end_of_stream": not more,
        }

    # -- tickets export ---------------------------------------------------------------------

    def _visible(self, after: tuple[int, int] = (-1, -1)) -> Iterator[Json]:
        """Each ticket's newest version that the export can already see, in export order,
        from the first past ``after`` (generated timestamp, id) on: a walk of the versions
        from there, not of every ticket."""
        cutoff = self.floor_clock() - self.export_lag_s
        stream = self._stream
        if not self._stream_sorted:
            stream.sort(key=lambda e: (e[0], e[1]))
            self._stream_sorted = True
        first = bisect.bisect_right(stream, after, key=lambda e: (e[0], e[1]))
        for k in range(first, len(stream)):
            generated, ticket_id, snapshot = stream[k]
            if generated > cutoff:
                return  # in order: every later one is newer still
            if self._newest_seen(ticket_id, cutoff) is snapshot:
                yield snapshot

    def _newest_seen(self, ticket_id: int, cutoff: float) -> Json | None:
        for snapshot in reversed(self._versions.get(ticket_id, ())):
            if snapshot["generated_timestamp"] <= cutoff:
                return snapshot
        return None

    def _kept(self, entry: tuple[int, int, Json]) -> bool:
        return any(v is entry[2] for v in self._versions.get(entry[1], ()))

    async def _export_cursor(self, request: web.Request) -> web.Response:
        q = request.query
        per_page = _int(q.get("per_page"), EXPORT_PAGE_MAX, "per_page", 1, EXPORT_PAGE_MAX)
        if "cursor" in q:
            issued = self._cursor_issued.get(q["cursor"])
            if issued is not None and issued < self._cursor_generation:
                self.cursors_refused += 1
                raise HttpError(
                    400,
                    {
                        "error": "InvalidPaginationParameter",
                        "description": "cursor is invalid or has expired",
                    },
                )
            text = _decode_cursor(q["cursor"])
            match = re.fullmatch(r"(\d+)(?:\.0)?\|\|(\d+)\|", text)
            if match is None:
                raise HttpError(400, _invalid("cursor"))
            position = (int(match[1]), int(match[2]))
        elif "start_time" in q:
            position = (_int(q["start_time"], 0, "start_time", 0), 0)
        else:
            raise HttpError(
                400, {"error": "InvalidValue", "description": "start_time or cursor required"}
            )
        rest = self._visible(position)
        page = list(itertools.islice(rest, per_page))
        ended = next(rest, None) is None
        last = (page[-1]["generated_timestamp"], page[-1]["id"]) if page else position
        cursor = _encode_cursor(f"{last[0]}.0||{last[1]}|")
        self._cursor_issued[cursor] = self._cursor_generation
        params: dict[str, str | int | None] = {"cursor": cursor, "start_time": None}
        body: Json = {
            "tickets": page,
            "after_url": self._link(request, **params),
            "before_url": None,
            "after_cursor": cursor,
            "before_cursor": None,
            "end_of_stream": ended,
        }
        if "metric_sets" in q.get("include", "").split(","):
            body["metric_sets"] = [
                self._metric_sets[key]
                for t in page
                if (key := (t["id"], t["generated_timestamp"])) in self._metric_sets
            ]
        return _json(body)

    async def _search_export(self, request: web.Request) -> web.Response:
        """Search's export: the tickets whose ``updated_at`` is at or after the query's
        date, each in its newest version (search shows what is indexed now, not a history;
        deleted tickets are not found), in cursor pages; results cannot be sorted."""
        q = request.query
        if q.get("filter[type]") != "ticket":
            raise HttpError(400, {"error": "InvalidValue", "description": "filter[type] required"})
        match = re.fullmatch(r"\s*type:ticket\s+updated>=?(\S+)\s*", q.get("query", ""))
        if match is None:
            raise HttpError(400, {"error": "InvalidValue", "description": "query not supported"})
        try:
            since = parse_iso(match[1])
        except ValueError:
            raise HttpError(400, _invalid("query")) from None
        newest: dict[int, Json] = {}
        for versions in self._versions.values():
            if versions and versions[-1]["id"] not in self._deleted:
                newest[versions[-1]["id"]] = versions[-1]
        rows = [
            {**t, "result_type": "ticket"}
            for _, t in sorted(newest.items())
            if parse_iso(t["updated_at"]) >= since
        ]
        return _json(self._cursor_page(request, "results", rows, "id", False, EXPORT_PAGE_MAX))

    async def _export_time(self, request: web.Request) -> web.Response:
        rows = [(t["generated_timestamp"], t["id"], t) for t in self._visible()]
        return _json(self._time_export(request, "tickets", rows))

    async def _metric_events(self, request: web.Request) -> web.Response:
        rows = self._metric_rows.rows(self.metric_events)
        return _json(self._time_export(request, "ticket_metric_events", rows))

    # -- lists ------------------------------------------------------------------------------

    async def _groups(self, request: web.Request) -> web.Response:
        return _json(self._page(request, "groups", sorted_by_id(self.groups)))

    async def _memberships(self, request: web.Request) -> web.Response:
        rows = sorted_by_id(self.memberships)
        return _json(self._page(request, "group_memberships", rows))

    async def _users(self, request: web.Request) -> web.Response:
        roles = set(request.query.getall("role[]", [])) | set(request.query.getall("role", []))
        rows = [u for u in sorted_by_id(self.users) if not roles or u["role"] in roles]
        return _json(self._page(request, "users", rows))

    async def _me(self, request: web.Request) -> web.Response:
        me = self._user(self._bot_id, "API bot", self.email, "admin", 0.0, ())
        return _json({"user": me})

    async def _policies(self, request: web.Request) -> web.Response:
        rows = sorted(self.sla_policies.values(), key=lambda p: p["position"])
        return _json(
            {"sla_policies": rows, "next_page": None, "previous_page": None, "count": len(rows)}
        )

    async def _ratings(self, request: web.Request) -> web.Response:
        q = request.query
        score = q.get("score", "")
        wanted = {
            "": None,
            "received": {"good", "bad"},
            "received_without_comment": {"good", "bad"},
            "good": {"good"},
            "good_without_comment": {"good"},
            "bad": {"bad"},
            "bad_without_comment": {"bad"},
            "offered": {"offered"},
            "unoffered": {"unoffered"},
        }.get(score, set())
        start = _int(q.get("start_time"), 0, "start_time", 0)
        end = _int(q.get("end_time"), 2**62, "end_time", 0)
        rows = [
            r
            for r in sorted_by_id(self.ratings)
            if (wanted is None or r["score"] in wanted)
            and start <= parse_iso(r["created_at"]) <= end
        ]
        return _json(self._page(request, "satisfaction_ratings", rows))

    async def _ticket_fields(self, request: web.Request) -> web.Response:
        return _json(self._page(request, "ticket_fields", [self._custom_status_field()]))

    async def _custom_statuses(self, request: web.Request) -> web.Response:
        return _json({"custom_statuses": self._custom_status_rows()})

    def _custom_status_rows(self) -> list[Json]:
        return [
            {
                "url": f"{self.site}/api/v2/custom_statuses/{CUSTOM_STATUS_BASE + k}.json",
                "id": CUSTOM_STATUS_BASE + k,
                "status_category": category,
                "agent_label": agent_label,
                "end_user_label": user_label,
                "description": description,
                "end_user_description": "We are working on it"
                if category != "solved"
                else "This request is solved",
                "active": True,
                "default": True,
                "created_at": iso(0.0),
                "updated_at": iso(0.0),
            }
            for k, (category, agent_label, user_label, description) in enumerate(CUSTOM_STATUSES, 1)
        ]

    def _custom_status_field(self) -> Json:
        return {
            "url": f"{self.site}/api/v2/ticket_fields/{CUSTOM_STATUS_FIELD_ID}.json",
            "id": CUSTOM_STATUS_FIELD_ID,
            "type": "custom_status",
            "title": "Ticket status",
            "raw_title": "Ticket status",
            "description": "Request ticket status",
            "raw_description": "Request ticket status",
            "position": 9999,
            "active": True,
            "required": False,
            "collapsed_for_agents": False,
            "regexp_for_validation": None,
            "title_in_portal": "Ticket status",
            "raw_title_in_portal": "Ticket status",
            "visible_in_portal": False,
            "editable_in_portal": False,
            "required_in_portal": False,
            "tag": None,
            "created_at": iso(0.0),
            "updated_at": iso(0.0),
            "removable": False,
            "key": None,
            "agent_description": None,
            "custom_statuses": self._custom_status_rows(),
        }

    async def _view_count(self, request: web.Request) -> web.Response:
        view_id = int(request.match_info["view_id"])
        fresh = view_id in self._views_seen
        self._views_seen.add(view_id)
        value = sum(
            1
            for state in self._state.values()
            if state.channel == "email" and state.status in ("new", "open", "pending", "hold")
        )
        return _json(
            {
                "view_count": {
                    "url": f"{self.site}/api/v2/views/{view_id}/count.json",
                    "view_id": view_id,
                    "value": value if fresh else None,
                    "pretty": str(value) if fresh else "...",
                    "fresh": fresh,
                }
            }
        )

    # -- Talk -------------------------------------------------------------------------------

    async def _phone_numbers(self, request: web.Request) -> web.Response:
        rows = []
        for group_id in self._voice_groups:
            phone_id = PHONE_BASE + group_id - GROUP_BASE
            number = self._phone_number(phone_id)
            rows.append(
                {
                    "id": phone_id,
                    "number": number,
                    "display_number": number,
                    "name": self.groups[group_id]["name"],
                    "default_group_id": group_id,
                    "group_ids": [group_id],
                    "country_code": "US",
                    "toll_free": False,
                    "created_at": self.groups[group_id]["created_at"],
                }
            )
        return _json(self._page(request, "phone_numbers", rows))

    def _voice_activity(self) -> tuple[dict[int, list[float]], dict[int, int]]:
        """Per group: when each call still waiting was offered, and the agents online. Kept
        until the floor is fed again: the adapter asks for each voice line's queue in turn,
        and a floor of 10,000 agents walked for each of hundreds of lines was most of the
        fake's time."""
        if self._activity is not None and self._activity[0] == self._fed:
            return self._activity[1], self._activity[2]
        offered: dict[int, list[float]] = {}
        for c in self._contacts.values():
            if c.channel is Channel.VOICE and c.agent_id is None and c.group_id is not None:
                offered.setdefault(c.group_id, []).append(c.offered_at)
        staffed: dict[int, int] = {}
        for a in self._agents.values():
            if a.state not in (AgentState.OFFLINE, AgentState.AWAY):
                for group in set(a.group_ids):
                    staffed[group] = staffed.get(group, 0) + 1
        self._activity = (self._fed, offered, staffed)
        return offered, staffed

    async def _queue_activity(self, request: web.Request) -> web.Response:
        q = request.query
        groups = set(self._voice_groups)
        if "phone_number_ids" in q:
            phones = {_int(p, 0, "phone_number_ids", 0) for p in q["phone_number_ids"].split(",")}
            groups = {g for g in groups if PHONE_BASE + g - GROUP_BASE in phones}
        if "group_id" in q:
            groups &= {_int(q["group_id"], 0, "group_id", 0)}
        now = self.floor_clock()
        if len(groups) == 1:  # one line's queue, as the adapter asks: from the floor's index
            offered, staffed = self._voice_activity()
            (group,) = groups
            waits = [max(0.0, now - at) for at in offered.get(group, ())]
            online = staffed.get(group, 0)
        else:
            waits = [
                max(0.0, now - c.offered_at)
                for c in self._contacts.values()
                if c.channel is Channel.VOICE and c.agent_id is None and c.group_id in groups
            ]
            online = sum(
                1
                for a in self._agents.values()
                if a.state not in (AgentState.OFFLINE, AgentState.AWAY)
                and groups & set(a.group_ids)
            )
        return _json(
            {
                "current_queue_activity": {
                    "agents_online": online,
                    "average_wait_time": round(sum(waits) / len(waits)) if waits else 0,
                    "callbacks_waiting": 0,
                    "calls_waiting": len(waits),
                    "embeddable_callbacks_waiting": 0,
                    "longest_wait_time": round(max(waits)) if waits else 0,
                    "ai_agent_calls": 0,
                    "current_timestamp": int(now),
                }
            }
        )

    def _talk_status(self, agent: _Agent) -> tuple[str, str | None]:
        """Talk's agent_state and call_status for the simulator's state."""
        if agent.state is AgentState.OFFLINE:
            return "offline", None
        if agent.state is AgentState.AWAY:
            return "away", None
        kind, _, ref = agent.work.partition(" ")
        if agent.state is AgentState.BUSY and kind == "call":
            return "online", "on_call"
        if agent.state is AgentState.WRAP_UP and kind == "wrap" and ref in self._voice_ids:
            return "online", "wrap_up"
        return "online", None

    async def _agents_activity(self, request: web.Request) -> web.Response:
        wanted = {
            _int(g, 0, "group_ids", 0)
            for g in request.query.get("group_ids", "").split(",")
            if g.strip()
        }
        now = self.floor_clock()
        rows = []
        for agent in sorted(self._agents.values(), key=lambda a: a.user_id):
            if wanted and not wanted & set(agent.group_ids):
                continue
            online_s, available_s, away_s = self._times(agent, now)
            state, call_status = self._talk_status(agent)
            accepted = agent.calls_accepted
            rows.append(
                {
                    "name": agent.name,
                    "agent_id": agent.user_id,
                    "via": "client",
                    "avatar_url": None,
                    "forwarding_number": None,
                    "average_talk_time": round(agent.talk_s / accepted) if accepted else 0,
                    "calls_accepted": accepted,
                    "calls_denied": 0,
                    "calls_missed": 0,
                    "online_time": round(online_s),
                    "available_time": round(available_s),
                    "total_call_duration": round(agent.talk_s + agent.hold_s),
                    "total_talk_time": round(agent.talk_s),
                    "total_wrap_up_time": round(agent.wrap_s),
                    "away_time": round(away_s),
                    "call_status": call_status,
                    "agent_state": state,
                    "transfers_only_time": 0,
                    "average_wrap_up_time": round(agent.wrap_s / accepted) if accepted else 0,
                    "accepted_transfers": 0,
                    "started_transfers": 0,
                    "calls_put_on_hold": 0,
                    "average_hold_time": round(agent.hold_s / accepted) if accepted else 0,
                    "total_hold_time": round(agent.hold_s),
                    "started_third_party_conferences": 0,
                    "accepted_third_party_conferences": 0,
                }
            )
        return _json(self._page(request, "agents_activity", rows, sort_key="agent_id"))

    async def _calls_export(self, request: web.Request) -> web.Response:
        rows = self._call_rows.rows(self.calls)
        body = self._time_export(request, "calls", rows)
        del body["end_of_stream"]  # Talk's exports have none: stop when count < 1000
        return _json(body)

    async def _legs_export(self, request: web.Request) -> web.Response:
        rows = self._leg_rows.rows(self.legs)
        body = self._time_export(request, "legs", rows)
        del body["end_of_stream"]
        return _json(body)

    # -- omnichannel ------------------------------------------------------------------------

    def _availability_doc(self, agent: _Agent) -> tuple[Json, list[Json]]:
        status = {
            AgentState.OFFLINE: "offline",
            AgentState.AWAY: "away",
        }.get(agent.state, "online")
        shown = status
        if status == "away" and agent.reason in CUSTOM_AGENT_STATUS:
            shown = agent.reason  # a custom status: its name is the reason
        ident = f"agent_availabilities|{agent.user_id}"
        kind, _, ref = agent.work.partition(" ")
        item: tuple[str, int] | None = None
        if agent.state is AgentState.BUSY:
            if kind == "call":
                item = ("talk", CALL_BASE + sim_number(ref))
            elif kind == "chat":
                item = ("messaging", MESSAGING_BASE + sim_number(ref))
            elif kind == "mail":
                item = ("support", sim_number(ref))
        included: list[Json] = []
        channels = []
        for name, capacity in (("support", 10), ("messaging", 2), ("talk", 1)):
            channel_id = f"{ident}|channels|{name}"
            work: list[Json] = []
            if item is not None and item[0] == name:
                work.append(
                    {
                        "type": "work_items",
                        "id": f"{channel_id}|work_items|{item[1]}",
                        "attributes": {"added_at": iso_micro(agent.since), "reason": "ASSIGNED"},
                    }
                )
            channels.append({"id": channel_id, "type": "channels"})
            included.append(
                {
                    "type": "channels",
                    "id": channel_id,
                    "attributes": {
                        "name": name,
                        "status": "online" if status == "online" else "offline",
                        "max_capacity": capacity,
                        "work_item_count": len(work),
                        "updated_at": iso_micro(agent.since),
                    },
                    "relationships": {
                        "work_items": {
                            "data": [{"id": w["id"], "type": "work_items"} for w in work],
                            "links": {"next": None, "prev": None},
                            "meta": {"has_more": False},
                        }
                    },
                }
            )
            included.extend(work)
        doc = {
            "type": "agent_availabilities",
            "id": ident,
            "attributes": {
                "agent_id": agent.user_id,
                "agent_status": {
                    "id": CUSTOM_AGENT_STATUS.get(shown) or AGENT_STATUS[status],
                    "name": shown,
                    "reason": "UNKNOWN",
                    "updated_at": iso_micro(agent.since),
                },
                "group_ids": list(agent.group_ids),
                "skills": [],
                "version": agent.version,
            },
            "links": {"self": f"{self.site}/api/v2/agent_availabilities/{agent.user_id}"},
            "relationships": {"channels": {"data": channels}},
        }
        return doc, included

    @property
    def omnichannel(self) -> bool:
        return self.account.has("omnichannel")

    async def _availabilities(self, request: web.Request) -> web.Response:
        # the page is cut from the agents' ids; documents are made for its agents only
        ids = [{"agent_id": user_id} for user_id in sorted(self._agents)]
        body = self._page(request, "data", ids, sort_key="agent_id", cursor_only=True)
        docs, included = [], []
        for row in body["data"]:
            doc, extra = self._availability_doc(self._agents[row["agent_id"]])
            docs.append(doc)
            included.extend(extra)
        body["data"], body["included"] = docs, included
        return _json(body)

    async def _availability(self, request: web.Request) -> web.Response:
        agent = self._agents.get(int(request.match_info["agent_id"]))
        if agent is None:
            return await self._unknown(request)
        doc, included = self._availability_doc(agent)
        return _json({"data": doc, "included": included})

    # -- one ticket -------------------------------------------------------------------------

    def _live_ticket(self, request: web.Request) -> _Ticket:
        ticket_id = int(request.match_info["ticket_id"])
        state = self._state.get(ticket_id)
        if state is None or ticket_id in self._deleted:
            raise HttpError(404, NOT_FOUND)
        return state

    def _public(self, ticket_id: int) -> Json:
        return {k: v for k, v in self.tickets[ticket_id].items() if k != "generated_timestamp"}

    async def _ticket(self, request: web.Request) -> web.Response:
        return _json({"ticket": self._public(self._live_ticket(request).id)})

    async def _ticket_comments(self, request: web.Request) -> web.Response:
        state = self._live_ticket(request)
        q = request.query
        descending = q.get("sort_order") == "desc" or q.get("sort") == "-created_at"
        rows = sorted(self.comments.get(state.id, []), key=lambda c: c["id"], reverse=descending)
        return _json(self._page(request, "comments", rows, descending=descending))

    async def _ticket_tags(self, request: web.Request) -> web.Response:
        """The Tags API: GET lists, PUT adds, POST replaces, DELETE removes; {"tags": [...]}."""
        state = self._live_ticket(request)
        if request.method == "GET":
            return _json({"tags": state.tags})
        if request.method not in ("PUT", "POST", "DELETE"):
            return await self._unknown(request)
        changes = await _json_body(request)
        _check_safe_update(state, changes)
        tags = set(_strings(changes.get("tags")))
        before = state.tags
        if request.method == "POST":
            state.removed_tags |= set(state.sim_tags) - tags
            state.api_tags = set(tags)
        elif request.method == "PUT":
            state.api_tags |= tags
            state.removed_tags -= tags
        else:
            state.api_tags -= tags
            state.removed_tags |= tags
        if state.tags != before:
            self._touch(state, self.floor_clock())
        return _json({"tags": state.tags})

    async def _update_ticket(self, request: web.Request) -> web.Response:
        state = self._live_ticket(request)
        changes = (await _json_body(request)).get("ticket")
        if not isinstance(changes, dict):
            raise HttpError(400, {"error": "InvalidValue", "description": "ticket missing"})
        _check_safe_update(state, changes)
        now = max(self.floor_clock(), math.floor(state.updated_at) + 1.0)
        audit_id = AUDIT_BASE + next(self._ids["audit"])
        events: list[Json] = []
        comment = changes.get("comment")
        if isinstance(comment, dict) and (comment.get("body") or comment.get("html_body")):
            text = str(comment.get("body") or comment.get("html_body"))
            public = bool(comment.get("public", True))
            made = self._comment(state, self._bot_id, text, now, public=public, audit_id=audit_id)
            events.append({k: made[k] for k in _COMMENT_EVENT_KEYS})
        before = state.tags
        tags = changes.get("tags")
        if isinstance(tags, list):
            state.removed_tags |= set(state.sim_tags) - {str(t) for t in tags}
            state.api_tags = {str(t) for t in tags}
        for tag in _strings(changes.get("additional_tags")):
            state.api_tags.add(tag)
            state.removed_tags.discard(tag)
        for tag in _strings(changes.get("remove_tags")):
            state.api_tags.discard(tag)
            state.removed_tags.add(tag)
        if state.tags != before:
            events.append(_change("tags", state.tags, before))
        for name in ("status", "priority", "assignee_id", "group_id"):
            if name in changes and changes[name] != getattr(state, name):
                events.append(_change(name, changes[name], getattr(state, name)))
                setattr(state, name, changes[name])
        self._touch(state, now)
        for i, event in enumerate(events, 1):
            event["id"] = audit_id * 10 + i
        audit = {
            "id": audit_id,
            "ticket_id": state.id,
            "created_at": iso(state.updated_at),
            "author_id": self._bot_id,
            "metadata": {
                "system": {
                    "client": request.headers.get("User-Agent", ""),
                    "ip_address": request.remote or "127.0.0.1",
                    "location": "Loopback",
                    "latitude": 0.0,
                    "longitude": 0.0,
                },
                "custom": {},
            },
            "events": events,
            "via": {"channel": "api", "source": NO_SOURCE},
        }
        return _json({"ticket": self._public(state.id), "audit": audit})


def _check_safe_update(state: _Ticket, changes: Mapping[str, Any]) -> None:
    """With ``safe_update`` (any value) and an ``updated_stamp``, a stale stamp is a 409."""
    stamp = changes.get("updated_stamp")
    if "safe_update" not in changes or stamp is None:
        return
    try:
        stale = int(parse_iso(str(stamp))) != int(parse_iso(iso(state.updated_at)))
    except ValueError:
        raise HttpError(400, {"error": "InvalidValue", "description": "updated_stamp"}) from None
    if stale:
        raise HttpError(409, UPDATE_CONFLICT)


_COMMENT_EVENT_KEYS = (
    "id",
    "type",
    "author_id",
    "body",
    "html_body",
    "plain_body",
    "public",
    "attachments",
    "audit_id",
)


def _change(field_name: str, value: Any, previous: Any) -> Json:
    def text(v: Any) -> Any:
        return v if isinstance(v, list) or v is None else str(v)

    return {
        "id": 0,
        "type": "Change",
        "value": text(value),
        "field_name": field_name,
        "previous_value": text(previous),
    }


async def _json_body(request: web.Request) -> Json:
    try:
        body = await request.json()
    except ValueError:
        raise HttpError(400, {"error": "InvalidValue", "description": "Body is not JSON"}) from None
    if not isinstance(body, dict):
        raise HttpError(400, {"error": "InvalidValue", "description": "Body is not an object"})
    return body


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _int(raw: str | None, default: int, name: str, low: int, high: int | None = None) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HttpError(
            400, {"error": "InvalidValue", "description": f"{name} must be an integer"}
        ) from None
    if value < low or (high is not None and value > high):
        raise HttpError(400, {"error": "InvalidValue", "description": f"{name} out of range"})
    return value


def _json(body: Json, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type="application/json",
        charset="utf-8",
    )


def sorted_by_id(rows: Mapping[int, Json]) -> list[Json]:
    return [rows[k] for k in sorted(rows)]
