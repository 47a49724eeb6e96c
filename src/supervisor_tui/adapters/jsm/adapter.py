"""The Jira Service Management (Cloud) adapter: requests, queues, SLA cycles, and agents known
only by the work assigned to them.

| data | endpoint (every, temperature) |
|---|---|
| requests changed since the cursor | ``GET /rest/api/3/search/jql`` (10 s, hot) |
| queues, counts, members | ``servicedesk/{id}/queue``, ``…/queue/{q}/issue`` (30 s, hot) |
| SLA cycles of the requests that changed | ``request/{key}/sla`` (15 s, warm) |
| the user's time zone, the service desks | ``/rest/api/3/myself``, ``servicedesk`` (10 min, cold) |

(``servicedesk/…`` and ``request/…`` are under ``/rest/servicedeskapi``.)

Every request a task sends is held to our share of the limit (``budget_share`` ×
``rate_limit_per_minute``, 150/min by default), not only the task's first: a long search,
the member lists and the SLA reads (one call per request, cold: at most 70 % of the share)
stop when the minute's share is spent and go on later from the cursor (the search's page
token, the requests whose SLA is still to read, the member lists read so far). SLA reads go
most urgent first: open before done, by priority, the most recently changed first. While a
backlog waits, the health says so ("SLA of 180 requests still to read") instead of
"connected".

Requests are searched with ``project in (…) AND updated >= "<cursor - overlap>" ORDER BY
updated ASC``. JQL dates have minutes only and are read in the searching user's time zone,
and the enhanced search shows an edit a little late; so each poll re-reads ``overlap_s``
before the newest change seen, and the events' keys (request key + ``updated``) drop what was
seen already. The cursor (the page token, the JQL it belongs to, the requests whose SLA is
still to be read) is stored with each page's events, so a crash resumes at the next page.

The page token is opaque; the fake's is a search-after token (a request edited while the
pages are read moves to the end and comes again). Were Jira's an offset, such an edit could
shift one unread request back across a page boundary, and only a later change to it would
bring it in; the overlap covers this for the last ``overlap_s`` only.

Agents: Jira has no presence. Every assignee seen is an agent in state UNKNOWN ("No
presence"), with "N open requests" as their work; the board never counts them as staffed.
Waiting per queue is the queue's ``issueCount``; the longest wait is the age of the oldest
open, unassigned request among the queue's members that this adapter has read (0 when every
member has someone on it). Deleted requests are not seen (no feed of deletions).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from supervisor_tui.adapters.base import (
    Clock,
    Sink,
    SourceSetupError,
    SyncReport,
    Wait,
    WriteBackError,
    needs_one_of,
    source_named,
)
from supervisor_tui.adapters.http import (
    ApiError,
    BadBody,
    BearerAuth,
    Forbidden,
    RateBudget,
    RateFigures,
    expect,
    header_int,
    iso_seconds_from_now,
    read_secret,
)
from supervisor_tui.adapters.jsm import needs, parse
from supervisor_tui.adapters.jsm.source import JsmSource
from supervisor_tui.adapters.oauth import OAuthRefresh, oauth_refresh_of
from supervisor_tui.adapters.paced import OutOfBudget, PacedApi, Pacer
from supervisor_tui.adapters.polling import (
    PolledSource,
    ShapeError,
    Task,
    saved_state,
    trim,
    write_back_of,
)
from supervisor_tui.i18n import N_
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    AgentUpserted,
    Capability,
    HealthState,
    NewEvent,
    Priority,
    QueueStats,
    Reason,
    TicketUpserted,
    reasons,
)

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
SEARCH_PAGE = 100
DESK_PAGE = 50
MAX_PAGES = 500
SLA_PER_ROUND = 25
MEMBER_PAGES = 20  # a queue's first 1,000 members are read (in the queue's own order)
SEARCH = "/rest/api/3/search/jql"
API = "/rest/servicedeskapi"
NO_PRESENCE = "no presence in Jira Service Management"
WORST_OFFSET_S = 14 * 3600  # the furthest any time zone is from UTC


@dataclass(frozen=True, slots=True)
class JsmSettings:
    base_url: str
    email: str | None = None
    token: str | None = field(default=None, repr=False)
    oauth_token: str | None = field(default=None, repr=False)
    oauth_refresh: OAuthRefresh | None = None
    """Renews the OAuth token before it expires (``oauth_refresh_token_file``)."""
    service_desk_ids: tuple[str, ...] = ()
    """Empty: every service desk the account can see."""
    rate_limit_per_minute: int = 300
    budget_share: float = 0.5
    write_back: bool = False
    ack_label: str = "supervisor_acked"
    queue_channels: Mapping[str, str] = field(default_factory=dict)
    """A queue's channel by its name, where the name does not say it."""
    priority_names: Mapping[str, str] = field(default_factory=dict)
    """The site's own priority names → urgent / high / normal / low (any case), where the
    common schemes (Highest … Lowest, Blocker … Trivial, P1 …, Sev 1 …) do not say it."""
    ticket_interval_s: float = 10.0
    queue_interval_s: float = 30.0
    sla_interval_s: float = 15.0
    members_interval_s: float = 120.0
    """How often the queues' member lists are read again (their counts: every queue poll)."""
    directory_interval_s: float = 600.0
    overlap_s: float = 120.0
    """How far before the newest change seen each poll reads again (JQL minutes, the
    search's indexing lag); what comes twice is dropped by the event keys."""
    backfill_s: float = 7 * 24 * 3600
    sla_recent_s: float = 24 * 3600
    """SLA cycles are read for open requests and for those that changed this recently."""

    def auth(self, clock: Clock = time.time) -> httpx.Auth | None:
        if self.oauth_refresh:
            return self.oauth_refresh.auth(clock)
        if self.oauth_token:
            return BearerAuth(self.oauth_token)
        if self.email and self.token:
            return httpx.BasicAuth(self.email, self.token)
        return None


@dataclass(slots=True)
class _Desk:
    id: str
    project_key: str
    name: str


class JsmAdapter(PolledSource):
    settings_model = JsmSource
    NEEDS = needs.NEEDS
    kind = "jsm"
    TICKET_PAGE = "/browse/{id}"
    search_page = SEARCH_PAGE
    sla_per_round = SLA_PER_ROUND

    def __init__(
        self,
        name: str,
        settings: JsmSettings,
        clock: Clock = time.time,
        *,
        wall: Clock | None = None,
    ) -> None:
        wall = wall or clock
        budget = RateBudget(settings.rate_limit_per_minute, share=settings.budget_share, clock=wall)
        api = PacedApi(
            settings.base_url,
            label=name,
            budget=budget,
            auth=settings.auth(wall),
            rate_figures=rate_figures,
            credential=settings.oauth_refresh.credential
            if settings.oauth_refresh
            else ("oauth_token", "")
            if settings.oauth_token
            else ("api_token_of", settings.email or ""),
        )
        super().__init__(name, clock=clock, wall=wall, budget=budget, api=api)
        self.api: PacedApi = api
        self.settings = settings
        self.ctx = parse.Context(
            source=name,
            priority_names={
                " ".join(k.lower().split()): Priority(v) for k, v in settings.priority_names.items()
            },
        )
        self.report = SyncReport(deleted=None, sla_policies=None)
        self.customer_of: dict[str, str] = {}
        """Desks (project key → name) where the token's user is only a customer: skipped."""
        self._sla_hidden: dict[str, None] = {}  # request keys whose SLA answered 403
        self.desks: list[_Desk] = []
        self.zone: ZoneInfo | None = None
        self._zone_known = False
        self._cursor: dict[str, Any] = {}
        self._seen: dict[str, str] = {}  # request key → the ``updated`` already handled
        self._recent: dict[str, TicketUpserted] = {}
        self._holder: dict[str, str] = {}  # open request key → its assignee's agent id
        self._names: dict[str, str] = {}  # agent id → display name
        self._agents_sent: dict[str, str] = {}  # agent id → the work text last sent
        self._queues_sent: dict[str, str] = {}
        self._members: dict[str, list[str]] = {}  # our queue id → its members' keys, in order
        self._reading: dict[str, list[str]] = {}  # member lists read so far in this refresh
        self._counts: dict[str, int] = {}
        self._members_read_at = -math.inf
        self.tasks = [
            # desks: a desk the token's user is a customer of is skipped by the adapter
            # itself (a partial limit); a configured desk that is not there is an error to
            # say (DEGRADED), not a capability the account lacks
            Task("directory", settings.directory_interval_s, False, self._poll_directory, True),
            Task("queues", settings.queue_interval_s, True, self._poll_queues),
            Task(
                "tickets",
                settings.ticket_interval_s,
                True,
                self._poll_tickets,
                capability=Capability.TICKETS,
            ),
            Task(
                "slas",
                settings.sla_interval_s,
                False,
                self._poll_slas,
                capability=Capability.SLA_CLOCKS,
            ),
        ]
        self.pacer = Pacer(budget)
        self.pacer.pace(self.tasks)  # every request a task sends is held to the budget
        self.load_cursor(None)

    @classmethod
    def from_config(cls, name: str, settings: dict[str, Any], clock: Clock) -> JsmAdapter:
        base_url = settings.get("base_url") or (
            f"https://{settings['site']}.atlassian.net" if settings.get("site") else None
        )
        if not base_url:
            raise SourceSetupError(needs_one_of(name, "site", "base_url"))
        token = read_secret(
            env=settings.get("token_env"), file=settings.get("token_file"), what=source_named(name)
        )
        refresh = oauth_refresh_of(name, settings, vendor="atlassian", base_url=base_url)
        oauth = read_secret(env=settings.get("oauth_token_env"), what=source_named(name))
        if not oauth and not refresh and not (token and settings.get("email")):
            raise SourceSetupError(
                needs_one_of(
                    name,
                    "email + token_env/token_file",
                    "oauth_token_env",
                    "oauth_refresh_token_file",
                )
            )
        known = {
            f: settings[f]
            for f in (
                "rate_limit_per_minute",
                "budget_share",
                "write_back",
                "ack_label",
                "ticket_interval_s",
                "queue_interval_s",
                "sla_interval_s",
                "members_interval_s",
                "overlap_s",
                "backfill_s",
            )
            if settings.get(f) is not None
        }
        return cls(
            name,
            JsmSettings(
                base_url=base_url,
                email=settings.get("email"),
                token=token,
                oauth_refresh=refresh,
                oauth_token=oauth,
                service_desk_ids=tuple(str(i) for i in settings.get("service_desk_ids") or ()),
                queue_channels=dict(settings.get("queue_channels") or {}),
                priority_names=dict(settings.get("priority_names") or {}),
                **known,
            ),
            clock,
            wall=time.time,
        )

    async def sync_once(self, sink: Sink, *, wait: Wait | None = None) -> SyncReport:
        """One full sync (``check``): the directory, queues, every request changed within the
        backfill, and their SLA cycles."""
        self.api.holding = False  # one sync on demand: read it all now
        try:
            return await super().sync_once(sink, wait=wait)
        finally:
            self.api.holding = True

    async def finish_sync(self, sink: Sink) -> None:
        await self._read_slas(sink, len(self._cursor["sla"]), within_budget=False)

    # -- cursor ---------------------------------------------------------------------------

    def load_cursor(self, cursor: str | None) -> None:
        state = saved_state(cursor, CURSOR_VERSION)
        since = state.get("since")
        self._cursor = {
            "v": CURSOR_VERSION,
            "since": float(since)
            if isinstance(since, int | float)
            else self.clock() - self.settings.backfill_s,
            "token": state.get("token") if isinstance(state.get("token"), str) else None,
            "jql": state.get("jql") if isinstance(state.get("jql"), str) else None,
            "newest": float(state["newest"])
            if isinstance(state.get("newest"), int | float)
            else None,
            "sla": [str(k) for k in state.get("sla") or [] if isinstance(k, str)],
        }

    def cursor_text(self) -> str:
        return json.dumps(self._cursor, sort_keys=True)

    # -- the directory ----------------------------------------------------------------------

    async def _poll_directory(self, sink: Sink) -> None:
        me = await self.api.get("/rest/api/3/myself")
        zone = me.get("timeZone") if isinstance(me, dict) else None
        self._zone_known = True
        try:
            self.zone = ZoneInfo(zone) if isinstance(zone, str) and zone else None
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = None
        if self.zone is None:
            log.warning("%s: the user's time zone is unknown; searches re-read 14 h", self.name)
        if self.settings.service_desk_ids:
            desks = [
                await self.api.get(f"{API}/servicedesk/{d}") for d in self.settings.service_desk_ids
            ]
        else:
            desks = await self._pages(f"{API}/servicedesk", [])
        found = []
        for desk in desks:
            did, key = (
                (desk.get("id"), desk.get("projectKey")) if isinstance(desk, dict) else (0, 0)
            )
            if (
                not isinstance(did, str)
                or not isinstance(key, str)
                or not parse.KEY.match(f"{key}-1")
            ):
                raise BadBody(
                    f"{self.name}: a service desk without an id or project key",
                    raw=json.dumps(desk)[:4000],
                )
            found.append(_Desk(did, key, str(desk.get("projectName") or key)))
        self.customer_of = {}
        for desk in list(found):
            if not await self._agent_of(desk):
                found.remove(desk)
        self._note_customer_desks()
        self.desks = found
        if not found:
            # said on the board, not a quiet "connected" with nothing to show
            raise ShapeError(
                f"{self.name}: the account sees no service desk (does it have the agent role?)"
            )

    async def _agent_of(self, desk: _Desk) -> bool:
        """Whether the user is an agent of the desk: discovery lists desks where it is only a
        customer too, and there its queues answer 403 and its project is not in its JQL. Such
        a desk is skipped, said once as a limit, and tried again at the next refresh."""
        try:
            await self.api.get(f"{API}/servicedesk/{desk.id}/queue", [("start", 0), ("limit", 1)])
        except Forbidden:
            self.customer_of[desk.project_key] = desk.name
            return False
        return True

    def _note_customer_desks(self) -> None:
        """The desks skipped, as a partial limit on tickets: their requests and queues are
        left out, every other desk's figures stand."""
        limit = self.limits.get(Capability.TICKETS)
        if not self.customer_of:
            if limit is not None and limit.partial:
                self.restore(Capability.TICKETS)
            return
        keys = sorted(self.customer_of)
        code = "customer_desk" if len(keys) == 1 else "customer_desks"
        names = ", ".join(self.customer_of[k] for k in keys)
        self.limit(
            Capability.TICKETS,
            reasons.reason(code, desks=", ".join(keys)),
            f"make the user an agent of {names}, or leave it out with service_desk_ids",
            partial=True,
        )

    async def _pages(
        self, path: str, params: list[tuple[str, Any]], max_pages: int = MAX_PAGES
    ) -> list[Any]:
        """Every page of a servicedeskapi list (``start``/``limit``, to ``isLastPage``)."""
        out: list[Any] = []
        start = 0
        for _ in range(max_pages):
            body = await self.api.get(path, [*params, ("start", start), ("limit", DESK_PAGE)])
            values = expect(body, "values", list, label=self.name, where=f"GET {path}")
            out.extend(values)
            if body.get("isLastPage") is not False or not values:
                return out
            start += len(values)
        return out

    # -- queues -----------------------------------------------------------------------------

    async def _poll_queues(self, sink: Sink) -> None:
        """Each queue with its count; its members (to place requests in queues and find the
        oldest one nobody has); stats per queue; requests re-sent whose queue became known."""
        if not self.desks:
            return
        now = self.clock()
        fresh = self.wall() - self._members_read_at >= self.settings.members_interval_s
        events: list[NewEvent] = []
        members: dict[str, list[str]] = {}
        counts: dict[str, int] = {}
        order: list[str] = []
        short = False  # the budget ran out while member lists were read: the rest next time
        for desk in list(self.desks):
            try:
                queues = await self._pages(
                    f"{API}/servicedesk/{desk.id}/queue", [("includeCount", "true")]
                )
            except Forbidden:  # no longer an agent there: that desk only
                self.customer_of[desk.project_key] = desk.name
                self._note_customer_desks()
                self.desks.remove(desk)
                self._cursor.update(token=None, jql=None)  # the search without its project
                continue
            for q in parse.queue_payloads(desk.id, queues, self.ctx, self.settings.queue_channels):
                if self._queues_sent.get(q.queue_id) != f"{q.name}:{q.channel.value}":
                    self._queues_sent[q.queue_id] = f"{q.name}:{q.channel.value}"
                    events.append(self.event(f"queue:{q.queue_id}:{q.name}:{q.channel}", now, q))
            for queue in queues:
                ours = self.ctx.queue_id(desk.id, str(queue["id"]))
                counts[ours] = parse.issue_count(queue)
                order.append(ours)
                keys: list[str] = [] if fresh else self._members.get(ours, [])
                if counts[ours] and fresh:
                    if ours in self._reading:  # read earlier in this refresh
                        keys = self._reading[ours]
                    elif short:
                        keys = self._members.get(ours, [])
                    else:
                        try:
                            issues = await self._pages(
                                f"{API}/servicedesk/{desk.id}/queue/{queue['id']}/issue",
                                [],
                                max_pages=MEMBER_PAGES,
                            )
                        except OutOfBudget:
                            short = True
                            keys = self._members.get(ours, [])
                        else:
                            keys = [str(i.get("key")) for i in issues if isinstance(i, dict)]
                            self._reading[ours] = keys
                members[ours] = keys
        if fresh and not short:
            self._members_read_at = self.wall()
            self._reading = {}
        self.report.queues = len(order)
        # A request sits in the most specific queue that lists it: the smallest. A desk's
        # catch-all queue ("All open requests") lists everything, whatever its place.
        first: dict[str, str] = {}
        for ours in sorted(order, key=lambda q: (len(members[q]), order.index(q))):
            for key in members[ours]:
                first.setdefault(key, ours)
        self.ctx.queue_of.update(first)
        trim(self.ctx.queue_of, 50_000)
        for key, ours in first.items():  # learnt where a request sits: say so on the board
            known = self._recent.get(key)
            if known is not None and known.queue_id != ours:
                moved = known.model_copy(
                    update={"queue_id": ours, "channel": self.ctx.queue_channels[ours]}
                )
                self._recent[key] = moved
                events.append(
                    self.event(f"ticket:{key}:{self._seen.get(key)}:q:{ours}", now, moved)
                )
        self._members = {ours: members[ours] for ours in order}
        self._counts = counts
        events.extend(self._queue_stats(now))
        await sink.emit(events, self.cursor_text())

    def _queue_stats(self, now: float) -> list[NewEvent]:
        """Waiting per queue (its count as last read) and the age of the oldest open request
        nobody has among its members (as the search last showed them)."""
        out = []
        for ours, keys in self._members.items():
            waiting_since = [
                t.created_at
                for t in (self._recent.get(k) for k in keys)
                if t is not None and t.status.is_open and t.assignee_id is None
            ]
            stats = QueueStats(
                queue_id=ours,
                waiting=self._counts[ours],
                longest_wait_s=max(0.0, now - min(waiting_since)) if waiting_since else 0.0,
                as_of=now,
            )
            key = f"qs:{ours}:{now:.3f}:{stats.waiting}:{stats.longest_wait_s:.0f}"
            out.append(self.event(key, now, stats))
        return out

    # -- requests ---------------------------------------------------------------------------

    def _jql_since(self, since: float) -> str:
        """The JQL date for ``since`` minus the overlap, in the searching user's zone, to the
        minute (JQL has no seconds); a zone we cannot read widens it to the worst case."""
        start = since - self.settings.overlap_s
        if self.zone is None:
            start -= WORST_OFFSET_S
        zone = self.zone or UTC
        return datetime.fromtimestamp(start, zone).strftime("%Y-%m-%d %H:%M")

    def _jql(self, since_text: str) -> str:
        projects = ", ".join(f'"{d.project_key}"' for d in self.desks)
        return f'project in ({projects}) AND updated >= "{since_text}" ORDER BY updated ASC'

    async def _poll_tickets(self, sink: Sink) -> None:
        """Every request changed since the cursor, oldest change first, a page at a time;
        each page is stored with the cursor that follows it."""
        if not self.desks or not self._zone_known:
            return
        for _ in range(MAX_PAGES):
            token = self._cursor["token"]
            jql = self._cursor["jql"]
            if token is None or jql is None:
                jql = self._jql(self._jql_since(float(self._cursor["since"])))
                self._cursor.update(jql=jql, token=None, newest=None)
            params: list[tuple[str, Any]] = [
                ("jql", jql),
                ("fields", ",".join(parse.SEARCH_FIELDS)),
                ("maxResults", self.search_page),
            ]
            if token is not None:
                params.append(("nextPageToken", token))
            try:
                body = await self.api.get(SEARCH, params)
            except ApiError as exc:
                if token is not None and exc.status == 400:
                    # an expired or refused page token: read again from the cursor's time
                    self._cursor.update(token=None, jql=None, newest=None)
                    continue
                raise
            issues = expect(body, "issues", list, label=self.name, where=f"GET {SEARCH}")
            events: list[NewEvent] = []
            newest = self._cursor["newest"]
            for issue in issues:
                try:
                    events.extend(self._ticket_events(issue))
                    stamp = parse.jira_ts(issue["fields"]["updated"])
                except (ShapeError, KeyError, TypeError) as exc:
                    await sink.quarantine("jsm.request", json.dumps(issue)[:8000], str(exc))
                    continue
                newest = stamp if newest is None else max(newest, stamp)
            nxt = body.get("nextPageToken")
            last = body.get("isLast") is True or not isinstance(nxt, str) or not nxt
            if last:
                since = float(self._cursor["since"])
                self._cursor.update(
                    since=max(since, newest) if newest is not None else since,
                    token=None,
                    jql=None,
                    newest=None,
                )
                events.extend(self._agent_events())
                events.extend(self._queue_stats(self.clock()))
            else:
                self._cursor.update(token=nxt, newest=newest)
            await sink.emit(events, self.cursor_text())
            if last:
                return

    def _ticket_events(self, issue: Mapping[str, Any]) -> list[NewEvent]:
        payload = parse.ticket_payload(issue, self.ctx)
        key = payload.ticket_id
        stamp = str(issue["fields"]["updated"])
        self.report.tickets[key] = payload.status.is_open
        if self._seen.get(key) == stamp:
            return []  # the overlap: seen already
        self._seen[key] = stamp
        self._recent[key] = payload
        trim(self._seen, 50_000)
        trim(self._recent, 20_000)
        if payload.status.is_open and payload.assignee_id:
            self._holder[key] = payload.assignee_id
            fields = issue["fields"]
            name = fields["assignee"].get("displayName") if fields.get("assignee") else None
            self._names.setdefault(payload.assignee_id, str(name or payload.assignee_id))
        else:
            self._holder.pop(key, None)
            if payload.assignee_id:
                name = issue["fields"]["assignee"].get("displayName")
                self._names.setdefault(payload.assignee_id, str(name or payload.assignee_id))
        recent = self.clock() - payload.updated_at < self.settings.sla_recent_s
        if (payload.status.is_open or recent) and key not in self._cursor["sla"]:
            self._cursor["sla"].append(key)
        return [self.event(f"ticket:{key}:{stamp}", payload.updated_at, payload)]

    def _agent_events(self) -> list[NewEvent]:
        """Each assignee as an agent with no presence, holding N open requests."""
        now = self.clock()
        held = Counter(self._holder.values())
        out = []
        self.report.agents = len(self._names)
        for agent_id, name in self._names.items():
            work = f"{held.get(agent_id, 0)} open requests"
            if held.get(agent_id, 0) == 1:
                work = "1 open request"
            if self._agents_sent.get(agent_id) == work:
                continue
            if agent_id not in self._agents_sent:
                upsert = AgentUpserted(agent_id=agent_id, name=name)
                out.append(self.event(f"agent:{agent_id}:{name}", now, upsert))
            self._agents_sent[agent_id] = work
            state = AgentStateChanged(
                agent_id=agent_id,
                state=AgentState.UNKNOWN,
                raw_state=NO_PRESENCE,
                since=now,
                work=work,
            )
            out.append(self.event(f"state:{agent_id}:{now:.3f}", now, state))
        return out

    # -- SLA --------------------------------------------------------------------------------

    async def _poll_slas(self, sink: Sink) -> None:
        """The SLA cycles of requests that changed, a few a round (one call each)."""
        await self._read_slas(sink, self.sla_per_round, within_budget=True)

    async def _read_slas(self, sink: Sink, count: int, *, within_budget: bool) -> None:
        pending: list[str] = self._cursor["sla"]
        self._sla_order(pending)
        for _ in range(count):
            if not pending or (within_budget and self.budget.wait_s(hot=False) > 0):
                return
            key = pending[0]
            try:
                slas = await self._pages(f"{API}/request/{key}/sla", [])
                self._sla_hidden.pop(key, None)
            except ApiError as exc:
                if exc.status == 403:  # this request's SLA only: unknown, the rest go on
                    self._sla_hidden[key] = None
                    trim(self._sla_hidden, 10_000)
                elif exc.status != 404:
                    raise
                slas = []  # gone (deleted or moved), or not ours to read: no clock
            self._note_hidden_slas()
            now = self.clock()
            events = []
            try:
                for sla in parse.sla_payloads(key, slas, now):
                    name = f"sla:{key}:{sla.metric}:{sla.state.value}:{sla.due_at:.0f}"
                    events.append(self.event(name, now, sla))
            except ShapeError as exc:
                await sink.quarantine("jsm.sla", json.dumps(slas)[:8000], str(exc))
            pending.pop(0)
            await sink.emit(events, self.cursor_text())

    def _note_hidden_slas(self) -> None:
        """Requests whose SLA answered 403, as a partial limit on SLA clocks: theirs are
        unknown, every other request's clocks stand."""
        hidden = len(self._sla_hidden)
        limit = self.limits.get(Capability.SLA_CLOCKS)
        if not hidden:
            if limit is not None and limit.partial:
                self.restore(Capability.SLA_CLOCKS)
            return
        self.limit(
            Capability.SLA_CLOCKS,
            reasons.reason("sla_hidden" if hidden == 1 else "slas_hidden", count=hidden),
            N_("give the user the agent role on those requests' desk"),
            partial=True,
        )

    def _sla_order(self, pending: list[str]) -> None:
        """The most urgent first: open requests before done ones, then by priority, then the
        most recently changed; requests not seen since a restart last, newest first."""
        rank = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}

        def urgency(item: tuple[int, str]) -> tuple[int, int, float]:
            at, key = item
            known = self._recent.get(key)
            if known is None:
                return (2, 0, -at)
            level = rank.get(known.priority, 2) if known.priority is not None else 2
            return (0 if known.status.is_open else 1, level, -known.updated_at)

        pending[:] = [key for _, key in sorted(enumerate(pending), key=urgency)]

    # -- health -----------------------------------------------------------------------------

    def stretch(self, task: Task) -> float:
        return self.pacer.stretch(task, self.tasks)

    def behind(self) -> str:
        """What is still to read because the budget holds it back ("" when nothing is)."""
        parts = []
        if self._cursor["token"] is not None:  # the search stopped between its pages
            parts.append("changed requests still being read")
        if self._reading:  # a refresh of the member lists stopped between its queues
            parts.append("queue members still being read")
        waiting = len(self._cursor["sla"])
        if waiting > self.sla_per_round:
            per_minute = max(1, int(self.budget.allowed_per_minute * self.budget.cold_share))
            minutes = math.ceil(waiting / per_minute)
            parts.append(
                f"SLA of {waiting} requests still to read (~{minutes} min at "
                f"{per_minute}/min of the budget)"
            )
        return "; ".join(parts)

    async def report_health(
        self,
        sink: Sink,
        state: HealthState,
        reason: str | Reason,
        *,
        retry_at: float | None = None,
    ) -> None:
        """As every source does; while the budget holds a backlog back, "connected" says so
        (degraded, with what is still to read) instead of lagging silently."""
        if state in (HealthState.CONNECTED, HealthState.POLLING):  # POLLING: first sync
            behind = self.behind()
            if behind:
                state, reason = HealthState.DEGRADED, behind
        await super().report_health(sink, state, reason, retry_at=retry_at)

    # -- write-back -------------------------------------------------------------------------

    async def write_back(self, action: str, body: dict[str, Any]) -> None:
        """An ack or note as an internal comment (``public: false``), then the ack label
        added (never replacing the agents' labels). The comment carries a reference: a retry
        reads the comments first and does not post it twice."""
        if not self.settings.write_back:
            log.info("%s: write-back is off; %s kept on the floor only", self.name, action)
            return
        wb = write_back_of("Jira", action, body, ids=parse.KEY, id_name="request key")
        key = wb.ticket_id
        try:
            comments = await self._pages(
                f"{API}/request/{key}/comment", [("public", "true"), ("internal", "true")]
            )
            if not any(wb.ref in str(c.get("body") or "") for c in comments if isinstance(c, dict)):
                await self.api.request(
                    "POST",
                    f"{API}/request/{key}/comment",
                    body={"body": _plain(wb.text), "public": False},
                )
            label = self.settings.ack_label
            issue = await self.api.request(
                "PUT",
                f"/rest/api/3/issue/{key}",
                params=[("returnIssue", "true")],
                body={"update": {"labels": [{"add": label}]}},
            )
        except ApiError as exc:
            raise self.write_back_failed(key, exc) from None
        fields = issue.get("fields") if isinstance(issue, dict) else None
        labels = fields.get("labels") if isinstance(fields, dict) else None
        if not isinstance(labels, list) or label not in labels:
            raise WriteBackError(f"request {key}: the label did not stick; will try again")


def _plain(text: str) -> str:
    """The comment as literal text: Jira renders wiki markup in comment bodies."""
    return "{noformat}\n" + text.replace("{noformat}", "(noformat)") + "\n{noformat}"


__all__ = ["NO_PRESENCE", "JsmAdapter", "JsmSettings"]


def rate_figures(headers: Mapping[str, str]) -> RateFigures:
    """Jira's ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (an ISO 8601 time)."""
    return RateFigures(
        limit_per_minute=header_int(headers.get("x-ratelimit-limit")),
        remaining=header_int(headers.get("x-ratelimit-remaining")),
        reset_s=iso_seconds_from_now(headers.get("x-ratelimit-reset"), time.time()),
    )
