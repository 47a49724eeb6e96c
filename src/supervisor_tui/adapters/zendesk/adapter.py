"""The Zendesk adapter: polls within a rate budget, takes webhooks as hints, writes acks back.

What is read, and how often (the intervals stretch when the budget is short):

| data | endpoint | every | temperature |
|---|---|---|---|
| agent state | omnichannel ``agent_availabilities``, else Talk ``agents_activity`` | 5 s | hot |
| waiting calls | Talk ``current_queue_activity`` | 5 s | hot |
| tickets | ``incremental/tickets/cursor.json`` (≤ 10 a minute, lags ~1 min) | 10 s | hot |
| finished calls | Talk ``incremental/calls`` | 30 s | warm |
| SLA clocks | ``incremental/ticket_metric_events`` | 30 s | warm |
| groups, members, staff, custom statuses | REST, cursor pages | 10 min | cold |
| SLA policies | ``slas/policies`` | 30 min | cold |

The sync cursor (ticket export cursor, start times of the time-based exports) is stored
with the events of each page, so a crash resumes at the last stored page: no gap, and
nothing stored twice (events carry keys the store deduplicates).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from supervisor_tui.adapters.base import (
    Clock,
    Limited,
    Need,
    Sink,
    SourceSetupError,
    WriteBackError,
    needs_one_of,
    source_named,
)
from supervisor_tui.adapters.deliveries import SeenDeliveries
from supervisor_tui.adapters.http import (
    ApiError,
    BadBody,
    BearerAuth,
    Conflict,
    Forbidden,
    JsonApi,
    RateBudget,
    RateFigures,
    Unavailable,
    expect,
    header_int,
    read_secret,
)
from supervisor_tui.adapters.oauth import OAuthRefresh, oauth_refresh_of
from supervisor_tui.adapters.polling import (
    PolledSource,
    ShapeError,
    Task,
    saved_state,
    trim,
    write_back_of,
)
from supervisor_tui.adapters.zendesk import parse
from supervisor_tui.adapters.zendesk.source import ZendeskSource
from supervisor_tui.i18n import N_
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    Capability,
    Channel,
    ContactEnded,
    NewEvent,
    Payload,
    QueueStats,
    Reason,
    TicketDeleted,
    TicketUpserted,
    ViewCount,
    reasons,
)

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
EXPORT_MIN_INTERVAL_S = 6.0  # the ticket export allows 10 requests a minute
EXPORT_PAGE = 1000  # records in a full page of a time-based export
EXPORT_LAG_S = 60.0  # the ticket export leaves out the newest minute
SEARCH_LAG_S = 300.0  # search indexes a change within minutes: each read goes back this far
WEBHOOK_MAX_AGE_S = 300.0
ACK_TAG = "supervisor_acked"


@dataclass(frozen=True, slots=True)
class ZendeskSettings:
    base_url: str
    email: str | None = None
    token: str | None = field(default=None, repr=False)
    oauth_token: str | None = field(default=None, repr=False)
    oauth_refresh: OAuthRefresh | None = None
    """Renews the OAuth token (an account whose tokens expire)."""
    rate_limit_per_minute: int = 200
    budget_share: float = 0.5
    write_back: bool = False
    ack_tag: str = ACK_TAG
    webhook_secret: str | None = field(default=None, repr=False)
    group_channels: Mapping[str, str] = field(default_factory=dict)
    escalation_tags: tuple[str, ...] = ("escalated",)
    views: Mapping[str, int] = field(default_factory=dict)
    """Views whose ticket counts the freshness bar shows, by the name to show."""
    hot_interval_s: float = 5.0
    ticket_interval_s: float = 10.0
    warm_interval_s: float = 30.0
    directory_interval_s: float = 600.0
    policy_interval_s: float = 1800.0
    backfill_s: float = 7 * 24 * 3600
    """How far back the first sync reads tickets (open ones older than this are missed)."""

    def credential(self) -> tuple[str, str]:
        """Which credential a 401 refused, without its value (``reasons.CREDENTIALS``)."""
        if self.oauth_refresh:
            return self.oauth_refresh.credential
        if self.oauth_token:
            return ("oauth_token", "")
        return ("api_token_of", self.email or "")

    def auth(self, clock: Clock = time.time) -> httpx.Auth | None:
        if self.oauth_refresh:
            return self.oauth_refresh.auth(clock)
        if self.oauth_token:
            return BearerAuth(self.oauth_token)
        if self.email and self.token:
            return httpx.BasicAuth(f"{self.email}/token", self.token)
        return None


class ZendeskAdapter(PolledSource):
    settings_model = ZendeskSource
    kind = "zendesk"
    TICKET_PAGE = "/agent/tickets/{id}"
    export_per_page = 1000
    NEEDS = (
        Need(
            Capability.TICKETS,
            "GET /api/v2/incremental/tickets/cursor.json (admins); else "
            "GET /api/v2/search/export.json (agents)",
            "any agent (an admin's token reads the incremental export)",
            N_("nothing from this source"),
            N_("a token whose user is an agent or an admin"),
            optional=False,
        ),
        Need(
            Capability.DELETIONS,
            "GET /api/v2/incremental/tickets/cursor.json",
            "an admin's token",
            N_("a deleted ticket stays on the board as last seen"),
            N_("use an admin's API token"),
        ),
        Need(
            Capability.QUEUES,
            "GET /api/v2/groups.json, group_memberships.json, users.json",
            "any agent",
            N_("no queues or agents from this source"),
            N_("a token whose user is an agent or an admin"),
        ),
        Need(
            Capability.PRESENCE,
            "GET /api/v2/agent_availabilities (omnichannel routing); else Talk's agents_activity",
            "omnichannel routing or Talk; an admin or a role with reporting rights",
            N_("agents show no status; staffing is unknown"),
            N_("turn on omnichannel routing, or use an admin's token"),
        ),
        Need(
            Capability.QUEUE_STATS,
            "GET /api/v2/channels/voice/stats/current_queue_activity.json",
            "Talk; an admin or a role with reporting rights",
            N_("voice queues show no waiting count or longest wait"),
            N_("use an admin's token"),
        ),
        Need(
            Capability.CALLS,
            "GET /api/v2/channels/voice/stats/incremental/calls.json (and legs)",
            "Talk; an admin",
            N_("voice service level, ASA, abandons and handle time are unknown"),
            N_("use an admin's token"),
        ),
        Need(
            Capability.CHATS,
            "tickets (messaging) and GET /api/v2/incremental/ticket_metric_events.json",
            "an admin's token (the first reply of each chat is a metric event)",
            N_("chat service level, ASA, abandons and handle time are unknown"),
            N_("use an admin's API token"),
        ),
        Need(
            Capability.REPLIES,
            "GET /api/v2/incremental/tickets/cursor.json?include=metric_sets",
            "an admin's token (the incremental export)",
            N_("FCR is unknown (—)"),
            N_("use an admin's API token"),
        ),
        Need(
            Capability.SLA_CLOCKS,
            "GET /api/v2/incremental/ticket_metric_events.json",
            "an admin's token; SLA policies on the plan",
            N_("SLA at risk and breached are unknown"),
            N_("use an admin's API token"),
        ),
        Need(
            Capability.SLA_POLICIES,
            "GET /api/v2/slas/policies.json",
            "an admin's token; a plan with SLA policies (Professional and up)",
            N_("the number of SLA policies is unknown (clocks still come from the tickets)"),
            N_("use an admin's token on a plan with SLA policies"),
        ),
        Need(
            Capability.VIEWS,
            "GET /api/v2/views/{id}/count.json",
            "a view the token's user may see",
            N_("the view's count is not shown"),
            N_("share the view with the token's user, or remove it from views"),
        ),
        Need(
            Capability.WRITE_BACK,
            "PUT /api/v2/tickets/{id}.json (private comment), PUT tickets/{id}/tags.json",
            "an agent or admin (a light agent may not tag)",
            N_("acks stay on the floor and in the outbox until the helpdesk takes them"),
            N_("give the token's user full agent rights, or set write_back = false"),
        ),
    )

    def __init__(
        self,
        name: str,
        settings: ZendeskSettings,
        clock: Clock = time.time,
        *,
        wall: Clock | None = None,
    ) -> None:
        wall = wall or clock
        budget = RateBudget(settings.rate_limit_per_minute, share=settings.budget_share, clock=wall)
        api = JsonApi(
            settings.base_url,
            label=name,
            budget=budget,
            auth=settings.auth(wall),
            rate_figures=rate_figures,
            family_of=endpoint_family,
            credential=settings.credential(),
        )
        super().__init__(name, clock=clock, wall=wall, budget=budget, api=api)
        self.settings = settings
        self.ctx = parse.Context(source=name, escalation_tags=settings.escalation_tags)
        self.last_export_ended = False
        # a signature stays valid WEBHOOK_MAX_AGE_S either side of now: remember it for both
        self.seen_webhooks = SeenDeliveries(2 * WEBHOOK_MAX_AGE_S, wall)
        self._cursor: dict[str, Any] = {}
        self.load_cursor(None)
        self._sla_clocks: dict[tuple[str, str, int], parse.SlaClock] = {}
        self._agent_states: dict[str, tuple[AgentState, str, str]] = {}
        self._chats: dict[str, _Chat] = {}
        self._chat_replies: dict[str, float] = {}
        self._chat_stats_sent: dict[
            str, tuple[tuple[int, int], float]
        ] = {}  # ticket id → first reply, export not seen
        self._voice_groups: list[int] = []
        self._lines: dict[int, int] = {}  # Talk phone number id → its default group
        self._call_queues: dict[str, str] = {}  # call id → queue, for its legs
        self._early_legs: dict[str, list[Mapping[str, Any]]] = {}  # legs before their call
        self._views_sent: dict[str, tuple[int | None, float]] = {}
        exports = "incremental exports"
        self.tasks = [
            Task("agents", settings.hot_interval_s, True, self._poll_agent_state),
            Task(
                "queues",
                settings.hot_interval_s,
                True,
                self._poll_queue_activity,
                capability=Capability.QUEUE_STATS,
            ),
            Task(
                "tickets",
                settings.ticket_interval_s,
                True,
                self._poll_tickets,
                capability=Capability.TICKETS,
                family=exports,
            ),
            Task(
                "calls",
                settings.warm_interval_s,
                False,
                self._poll_calls,
                capability=Capability.CALLS,
            ),
            Task(
                "slas",
                settings.warm_interval_s,
                False,
                self._poll_metric_events,
                True,  # first: whether this token may read them decides how chats are read
                capability=Capability.SLA_CLOCKS,
                family=exports,
            ),
            Task(
                "directory",
                settings.directory_interval_s,
                False,
                self._poll_directory,
                True,
                capability=Capability.QUEUES,
            ),
            Task(
                "policies",
                settings.policy_interval_s,
                False,
                self._poll_policies,
                capability=Capability.SLA_POLICIES,
            ),
            Task(
                "views",
                60.0,
                False,
                self._poll_views,
                enabled=bool(settings.views),
                capability=Capability.VIEWS,
            ),
        ]

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_config(cls, name: str, settings: dict[str, Any], clock: Clock) -> ZendeskAdapter:
        base_url = settings.get("base_url") or (
            f"https://{settings['subdomain']}.zendesk.com" if settings.get("subdomain") else None
        )
        if not base_url:
            raise SourceSetupError(needs_one_of(name, "subdomain", "base_url"))
        token = read_secret(
            env=settings.get("token_env"), file=settings.get("token_file"), what=source_named(name)
        )
        refresh = oauth_refresh_of(name, settings, vendor="zendesk", base_url=base_url)
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
        secret = read_secret(
            env=settings.get("webhook_secret_env"), what=source_named(name, "webhook")
        )
        known = {
            f: settings[f]
            for f in (
                "rate_limit_per_minute",
                "budget_share",
                "write_back",
                "ack_tag",
                "hot_interval_s",
                "ticket_interval_s",
                "warm_interval_s",
                "backfill_s",
            )
            if settings.get(f) is not None
        }
        return cls(
            name,
            ZendeskSettings(
                base_url=base_url,
                email=settings.get("email"),
                token=token,
                oauth_token=oauth,
                oauth_refresh=refresh,
                webhook_secret=secret,
                group_channels=dict(settings.get("group_channels") or {}),
                escalation_tags=tuple(settings.get("escalation_tags") or ("escalated",)),
                views=dict(settings.get("views") or {}),
                **known,
            ),
            clock,
            wall=time.time,  # the helpdesk counts its limit in real minutes
        )

    def poll_soon_for_webhook(self) -> None:
        """A webhook said something changed: read tickets and agents now (within limits)."""
        self.poll_soon({"tickets": EXPORT_MIN_INTERVAL_S, "agents": 1.0})

    # -- cursor ---------------------------------------------------------------------------

    def load_cursor(self, cursor: str | None) -> None:
        state = saved_state(cursor, CURSOR_VERSION)
        start = self._backfill_start()
        self._cursor = {
            "v": CURSOR_VERSION,
            "tickets": state.get("tickets") or {"start_time": start},
            "calls": int(state.get("calls") or start),
            "legs": int(state.get("legs") or state.get("calls") or start),
            "slas": int(state.get("slas") or start),
        }
        if state.get("search"):
            self._cursor["search"] = float(state["search"])

    def cursor_text(self) -> str:
        return json.dumps(self._cursor, sort_keys=True)

    def _backfill_start(self) -> int:
        return int(self.clock() - self.settings.backfill_s)

    # -- cold: directory and policies -----------------------------------------------------

    async def _cursor_pages(self, path: str, key: str, params: list[tuple[str, Any]]) -> list[Any]:
        """Every record of a cursor-paginated list. Stops on ``meta.has_more`` being false
        (Zendesk still sends ``links.next`` on the last page)."""
        out: list[Any] = []
        query = [*params, ("page[size]", 100)]
        for _ in range(10_000):
            body = await self.api.get(path, query)
            out.extend(expect(body, key, list, label=self.name, where=path))
            meta = body.get("meta") or {}
            if not meta.get("has_more") or not meta.get("after_cursor"):
                return out
            query = [*params, ("page[size]", 100), ("page[after]", meta["after_cursor"])]
        raise BadBody(f"{self.name}: {path} never ended", raw="")

    async def _poll_directory(self, sink: Sink) -> None:
        fields = await self._cursor_pages("/api/v2/ticket_fields.json", "ticket_fields", [])
        for f in fields:
            if f.get("type") == "custom_status":
                self.ctx.custom_statuses = parse.custom_statuses(f)
        groups = await self._cursor_pages("/api/v2/groups.json", "groups", [])
        memberships = await self._cursor_pages(
            "/api/v2/group_memberships.json", "group_memberships", []
        )
        users = await self._cursor_pages(
            "/api/v2/users.json", "users", [("role[]", "agent"), ("role[]", "admin")]
        )
        queues = parse.group_payloads(groups, self.ctx, self.settings.group_channels)
        agents = parse.agent_payloads(users, memberships, self.ctx)
        self._voice_groups = [
            gid for gid, ch in self.ctx.group_channels.items() if ch.value == "voice"
        ]
        if self.absent.has("talk"):
            try:
                numbers = await self._cursor_pages(
                    "/api/v2/channels/voice/phone_numbers.json", "phone_numbers", []
                )
            except Unavailable as exc:
                self.absent.lacks("talk", _status_of(exc))
                numbers = []
            self._lines = parse.phone_lines(numbers)
        self.report.queues = len(queues)
        self.report.agents = len(agents)
        now = self.clock()
        events = [self.event(f"queue:{q.queue_id}:{_digest(q)}", now, q) for q in queues] + [
            self.event(f"agent:{a.agent_id}:{_digest(a)}", now, a) for a in agents
        ]
        await sink.emit(events, self.cursor_text())

    async def _poll_views(self, sink: Sink) -> None:
        """Each configured view's count. Zendesk counts big views in the background and
        answers ``value: null, fresh: false`` meanwhile: that is shown as counting, never 0."""
        now = self.clock()
        events = []
        for name, view_id in self.settings.views.items():
            body = await self.api.get(f"/api/v2/views/{view_id}/count.json")
            if not isinstance(body, dict):
                raise BadBody(f"{self.name}: view count is not an object", raw=str(body)[:200])
            count = parse.view_count(body)
            last = self._views_sent.get(name)
            if last is not None and last[0] == count and now - last[1] < 300:
                continue
            self._views_sent[name] = (count, now)
            payload = ViewCount(view_id=str(view_id), name=name, count=count, as_of=now)
            events.append(self.event(f"view:{view_id}:{now:.3f}", now, payload))
        if events:
            await sink.emit(events, self.cursor_text())

    async def _poll_policies(self, sink: Sink) -> None:
        body = await self.api.get("/api/v2/slas/policies.json")
        policies = expect(body, "sla_policies", list, label=self.name, where="slas/policies")
        self.report.sla_policies = parse.sla_policy_count(policies)

    # -- hot: agents and queues -----------------------------------------------------------

    async def _poll_agent_state(self, sink: Sink) -> None:
        """Omnichannel availability says online/away/offline and what work each agent
        holds; Talk says who is on a call or in wrap-up. Both where the account has both."""
        rows: dict[str, tuple[AgentState, str, str]] = {}
        since: dict[str, float] = {}
        if self.absent.has("omnichannel"):
            try:
                for body in await self._jsonapi_pages("/api/v2/agent_availabilities"):
                    for user_id, state, raw, work, at in parse.availability_states(body):
                        rows[user_id] = (state, raw, work)
                        if at is not None:
                            since[user_id] = at
            except Unavailable as exc:
                self.absent.lacks("omnichannel", _status_of(exc))
        if self.absent.has("talk stats"):
            try:
                activity = await self._offset_pages(
                    "/api/v2/channels/voice/stats/agents_activity.json", "agents_activity"
                )
            except Unavailable as exc:
                self.absent.lacks("talk stats", _status_of(exc))
                activity = []
            for row in activity:
                state, raw = parse.talk_state(row)
                user_id = str(row.get("agent_id"))
                known = rows.get(user_id)
                if known is None:
                    rows[user_id] = (state, raw, "")
                elif state in (AgentState.BUSY, AgentState.WRAP_UP):
                    # the call outranks the status: on a call, or wrapping one up
                    rows[user_id] = (state, f"{known[1]}/{row.get('call_status')}", "talk")
        now = self.clock()
        events = []
        for user_id, (state, raw, work) in rows.items():
            agent_id = f"{self.name}:{user_id}"
            if self._agent_states.get(agent_id) == (state, raw, work):
                continue
            self._agent_states[agent_id] = (state, raw, work)
            payload = AgentStateChanged(
                agent_id=agent_id,
                state=state,
                raw_state=raw,
                since=min(now, since.get(user_id, now)),
                work=work,
                reason=raw if state is AgentState.AWAY else "",
            )
            events.append(self.event(f"state:{agent_id}:{now:.3f}", now, payload))
        if events:
            await sink.emit(events, self.cursor_text())
        self._presence_limit()

    def _no_talk(self, what: str) -> tuple[Reason, str]:
        return (
            reasons.reason("no_talk", what=what, why=self.absent.why("talk")),
            N_("add Zendesk Talk, or say in group_channels which groups are not voice"),
        )

    def _presence_limit(self) -> None:
        """Presence comes from omnichannel routing, else from Talk; with neither, agents
        show no status (never offline) and staffing is unknown."""
        if self.absent.has("omnichannel") or self.absent.has("talk stats"):
            self.restore(Capability.PRESENCE)
            return
        self.limit(
            Capability.PRESENCE,
            reasons.reason(
                "no_presence",
                why=self.absent.why("omnichannel"),
                why_talk=self.absent.why("talk stats"),
            ),
            N_(
                "turn on omnichannel routing, or use a token whose role may read agent "
                "availability (an admin, or a custom role with reporting rights)"
            ),
        )

    async def _jsonapi_pages(self, path: str) -> list[Any]:
        """Every page of a JSON:API list (cursor pagination only)."""
        out: list[Any] = []
        query: list[tuple[str, Any]] = [("page[size]", 100)]
        for _ in range(10_000):
            body = await self.api.get(path, query)
            expect(body, "data", list, label=self.name, where=path)
            out.append(body)
            meta = body.get("meta") or {}
            after = meta.get("after_cursor")
            if not meta.get("has_more") or not after:
                return out
            query = [("page[size]", 100), ("page[after]", after)]
        raise BadBody(f"{self.name}: {path} never ended", raw="")

    async def _offset_pages(self, path: str, key: str) -> list[Any]:
        out: list[Any] = []
        url: str | None = path
        params: list[tuple[str, Any]] | None = None
        for _ in range(10_000):
            assert url is not None
            body = await self.api.get(url, params)
            out.extend(expect(body, key, list, label=self.name, where=path))
            nxt = body.get("next_page")
            if not nxt:
                return out
            url, params = self._same_host(nxt)
        raise BadBody(f"{self.name}: {path} never ended", raw="")

    def _same_host(self, url: str) -> tuple[str, list[tuple[str, Any]]]:
        """A next-page URL, refused unless it points back at the account we call."""
        parts = urlsplit(url)
        ours = urlsplit(self.settings.base_url)
        if parts.netloc and parts.netloc != ours.netloc:
            raise BadBody(f"{self.name}: a next page points at another host", raw=url[:200])
        return parts.path, parse_qsl(parts.query)

    async def _poll_queue_activity(self, sink: Sink) -> None:
        """Waiting calls per voice group. Talk filters its live figures by phone number
        only, so each group's figures are the sum over the lines that route to it."""
        if not self.absent.has("talk") and self._voice_groups:
            raise Limited(Capability.QUEUE_STATS, *self._no_talk(N_("waiting calls")))
        if not self.absent.has("talk") or not self._lines:
            return
        if not self.absent.has("talk stats"):
            raise Limited(
                Capability.QUEUE_STATS,
                reasons.reason("no_talk_queue_figures", why=self.absent.why("talk stats")),
                N_(
                    "use a token whose role may read Talk's statistics (an admin, or a custom "
                    "role with reporting rights)"
                ),
            )
        now = self.clock()
        by_group: dict[int, list[int]] = {}
        for number_id, gid in self._lines.items():
            by_group.setdefault(gid, []).append(number_id)
        events = []
        for gid, numbers in sorted(by_group.items()):
            try:
                body = await self.api.get(
                    "/api/v2/channels/voice/stats/current_queue_activity.json",
                    [("phone_number_ids", ",".join(str(n) for n in sorted(numbers)))],
                )
            except Unavailable as exc:
                self.absent.lacks("talk stats", _status_of(exc))
                raise
            stats = parse.queue_activity(body, f"{self.name}:{gid}", now)
            events.append(self.event(f"qs:{gid}:{now:.3f}", now, stats))
        await sink.emit(events, self.cursor_text())

    # -- tickets --------------------------------------------------------------------------

    async def _poll_tickets(self, sink: Sink) -> None:
        """The cursor export, page after page. Next to the cursor the position keeps
        ``since``, the newest ``generated_timestamp`` stored: when Zendesk refuses the cursor
        (400 InvalidPaginationParameter: it no longer honours it, e.g. after a long stop),
        the export starts again from ``since`` less the export's lag, and the tickets read
        twice are dropped by their event keys.

        The export is for admins: with another role's token (403) tickets are read through
        search's export instead (``_poll_tickets_by_search``), and deletions are unknown."""
        if not self.absent.has("ticket export"):
            await self._poll_tickets_by_search(sink)
            return
        restarts = 0
        for _ in range(10_000):
            position = self._cursor["tickets"]
            since = int(position.get("since") or position.get("start_time") or 0)
            params: list[tuple[str, Any]] = [
                ("per_page", self.export_per_page),
                ("include", "metric_sets"),  # replies and reopens per ticket, for FCR
            ]
            if "cursor" in position:
                params.append(("cursor", position["cursor"]))
            else:
                params.append(("start_time", int(position["start_time"])))
            try:
                body = await self.api.get("/api/v2/incremental/tickets/cursor.json", params)
            except Forbidden:
                self.absent.lacks("ticket export", N_("is for admins (403)"))
                self.limit(
                    Capability.REPLIES,
                    N_(
                        "replies per ticket (FCR): only the admin's incremental export carries "
                        "them; this token reads tickets by search"
                    ),
                    N_("use an admin's API token"),
                )
                self.limit(
                    Capability.DELETIONS,
                    N_(
                        "deleted tickets: the incremental export is for admins; this token reads "
                        "tickets by search, which does not show deletions"
                    ),
                    N_("use an admin's API token"),
                )
                await self._poll_tickets_by_search(sink)
                return
            except ApiError as exc:
                refused = "cursor" in position and exc.status in (400, 404, 410)
                if not refused or restarts >= 3:
                    raise  # (a cursor refused again and again: back off, say so)
                restart = max(0, since - int(EXPORT_LAG_S)) if since else self._backfill_start()
                log.warning(
                    "%s: the ticket export refused its cursor (%s); reading again from %s",
                    self.name,
                    exc.status,
                    parse.iso(restart),
                )
                self._cursor["tickets"] = {"start_time": restart}
                restarts += 1
                continue
            self.restore(Capability.DELETIONS)
            self.restore(Capability.REPLIES)
            tickets = expect(body, "tickets", list, label=self.name, where="ticket export")
            events = await self._ticket_batch(sink, tickets, parse.metric_sets(body))
            for ticket in tickets:
                stamp = ticket.get("generated_timestamp") if isinstance(ticket, dict) else None
                if isinstance(stamp, int) and stamp > since:
                    since = stamp
            after = body.get("after_cursor")
            if after:
                self._cursor["tickets"] = {"cursor": after, "since": since}
            await sink.emit(events, self.cursor_text())
            self.last_export_ended = bool(body.get("end_of_stream") or not after)
            if self.last_export_ended:
                stats = self.chat_queue_stats()
                if stats:
                    await sink.emit(stats, self.cursor_text())
                return
            wait = self.budget.wait_s(hot=True)
            if wait > 0:
                return  # the rest on the next round

    async def _ticket_batch(
        self,
        sink: Sink,
        tickets: list[Any],
        metrics: Mapping[str, parse.TicketTimes] | None = None,
    ) -> list[NewEvent]:
        """A page of tickets as events (with their replies where the page carried metric
        sets); one that does not parse is quarantined."""
        events: list[NewEvent] = []
        for ticket in tickets:
            try:
                events.extend(self._ticket_events(ticket, metrics or {}))
            except ShapeError as exc:
                await sink.quarantine("zendesk.ticket", json.dumps(ticket)[:8000], str(exc))
        return events

    async def _poll_tickets_by_search(self, sink: Sink) -> None:
        """Tickets changed since the last read, through search's export (what an agent's
        token may use): every ticket updated at or after the newest change read, less the
        minutes search takes to index a change; the overlap is dropped by event keys.
        Search shows each ticket as it is now and never a deleted one."""
        position = self._cursor["tickets"]
        since = float(
            self._cursor.get("search") or position.get("since") or position.get("start_time") or 0
        )
        query = f"type:ticket updated>={parse.iso(max(0.0, since - SEARCH_LAG_S))}"
        base: list[tuple[str, Any]] = [
            ("query", query),
            ("filter[type]", "ticket"),
            ("page[size]", 1000),
        ]
        params = base
        newest = since
        for _ in range(10_000):
            body = await self.api.get("/api/v2/search/export.json", params)
            results = expect(body, "results", list, label=self.name, where="search export")
            tickets = [
                r for r in results if isinstance(r, dict) and r.get("result_type") == "ticket"
            ]
            events = await self._ticket_batch(sink, tickets)
            for ticket in tickets:
                with contextlib.suppress(ShapeError):
                    newest = max(newest, parse.ts(ticket.get("updated_at")))
            meta = body.get("meta") or {}
            more = bool(meta.get("has_more") and meta.get("after_cursor"))
            if not more:
                self._cursor["search"] = newest
            await sink.emit(events, self.cursor_text())
            if not more:
                break
            params = [*base, ("page[after]", meta["after_cursor"])]
        self.last_export_ended = True
        stats = self.chat_queue_stats()
        if stats:
            await sink.emit(stats, self.cursor_text())

    def _ticket_events(
        self, ticket: Mapping[str, Any], metrics: Mapping[str, parse.TicketTimes]
    ) -> list[NewEvent]:
        payload = parse.ticket_payload(ticket, self.ctx)
        stamp = ticket.get("generated_timestamp") or ticket.get("updated_at")
        if isinstance(payload, TicketDeleted):
            self.report.tickets.pop(payload.ticket_id, None)
            if self.report.deleted is not None:
                self.report.deleted.add(payload.ticket_id)
            at = self.clock()
            return [self.event(f"ticket:{payload.ticket_id}:deleted", at, payload)]
        assert isinstance(payload, TicketUpserted)
        payload = parse.with_replies(payload, metrics.get(payload.ticket_id))
        self.report.tickets[payload.ticket_id] = payload.status.is_open
        if self.report.deleted is not None:
            self.report.deleted.discard(payload.ticket_id)
        events = [self.event(f"ticket:{payload.ticket_id}:{stamp}", payload.updated_at, payload)]
        if payload.channel.value == "chat" and payload.queue_id:
            events.extend(self._chat_contact(payload))
        return events

    def limit(
        self,
        capability: Capability,
        reason: str | Reason,
        fix: str = "",
        *,
        partial: bool = False,
    ) -> None:
        super().limit(capability, reason, fix, partial=partial)
        if capability is Capability.SLA_CLOCKS:
            # a chat's answer is its first reply, which only the metric events tell
            super().limit(
                Capability.CHATS,
                N_(
                    "chats: their first replies come from the ticket metric events, which this "
                    "token may not read; chat service level, ASA, abandons and handle time are "
                    "unknown (chats waiting are still counted)"
                ),
                fix,
            )

    def restore(self, capability: Capability) -> None:
        super().restore(capability)
        if capability is Capability.SLA_CLOCKS:
            super().restore(Capability.CHATS)

    def _chat_contact(self, t: TicketUpserted) -> list[NewEvent]:
        """A messaging ticket is a chat contact: offered when it arrives, answered at the
        agent's first reply (the ``reply_time`` metric's fulfil), abandoned when it closes
        with nobody on it, ended when it is solved. The ticket export and the metric events
        arrive separately and up to a minute late; each part is emitted once both halves are
        known (event keys make a repeat harmless)."""
        assert t.queue_id is not None
        if Capability.CHATS in self.limits:
            return []  # no first replies: no honest answer time, so no contacts at all
        chat = self._chats.get(t.ticket_id)
        if chat is None:
            chat = self._chats[t.ticket_id] = _Chat(t.queue_id, t.created_at)
        if t.assignee_id and chat.assigned_seen_at is None:
            chat.assigned_seen_at = t.updated_at
        chat.assignee = t.assignee_id or chat.assignee
        chat.closed_at = None if t.status.is_open else t.updated_at
        answered = self._chat_replies.pop(t.ticket_id, None)
        if answered is not None:
            chat.answered_at = answered
        return self._chat_events(t.ticket_id, chat)

    def _chat_reply(self, ticket_id: str, at: float) -> list[NewEvent]:
        """The first reply on a ticket; for a chat we know of, that is the answer."""
        chat = self._chats.get(ticket_id)
        if chat is None:
            self._chat_replies[ticket_id] = at  # the export may not have shown it yet
            if len(self._chat_replies) > 50_000:
                self._chat_replies.pop(next(iter(self._chat_replies)))
            return []
        chat.answered_at = at
        return self._chat_events(ticket_id, chat)

    def chat_queue_stats(self) -> list[NewEvent]:
        """Chats waiting as of the export's horizon (its lag ago), per chat queue: new,
        open and nobody on them. Sent when they change, or each minute as a heartbeat."""
        horizon = self.clock() - EXPORT_LAG_S
        waiting: dict[str, list[float]] = {qid: [] for qid in self._chat_queues()}
        for chat in self._chats.values():
            if chat.closed_at is None and chat.assignee is None and chat.queue_id in waiting:
                waiting[chat.queue_id].append(chat.created_at)
        out = []
        for qid, created in waiting.items():
            longest = max(0.0, horizon - min(created)) if created else 0.0
            figure = (len(created), round(longest))
            last = self._chat_stats_sent.get(qid)
            if last is not None and last[0] == figure and horizon - last[1] < 60:
                continue
            self._chat_stats_sent[qid] = (figure, horizon)
            stats = QueueStats(
                queue_id=qid, waiting=len(created), longest_wait_s=longest, as_of=horizon
            )
            out.append(self.event(f"qs:{qid}:{horizon:.3f}", horizon, stats))
        return out

    def _chat_queues(self) -> list[str]:
        return [
            f"{self.name}:{gid}"
            for gid, channel in self.ctx.group_channels.items()
            if channel is Channel.CHAT
        ]

    def _chat_events(self, ticket_id: str, chat: _Chat) -> list[NewEvent]:
        from supervisor_tui.model import (  # local: only chat needs them
            ContactAbandoned,
            ContactAnswered,
            ContactEnded,
            ContactOffered,
        )

        cid = f"{self.name}:chat:{ticket_id}"
        q = chat.queue_id
        out: list[NewEvent] = []
        answer_known = chat.answered_at is not None and chat.assignee is not None
        gave_up = chat.closed_at is not None and chat.assignee is None
        # Offered goes out with its outcome: a chat still in flight would otherwise sit in
        # the queue's waiting list for the export's minute of lag and raise false alarms.
        # The live waiting figure comes from chat_queue_stats() instead.
        if not chat.offered and (answer_known or gave_up):
            chat.offered = True
            offered = ContactOffered(
                contact_id=cid, queue_id=q, channel=Channel.CHAT, offered_at=chat.created_at
            )
            out.append(self.event(f"contact:{cid}:offered", chat.created_at, offered))
        if chat.answered_at is not None and chat.assignee and not chat.answered:
            chat.answered = True
            answered = ContactAnswered(
                contact_id=cid,
                queue_id=q,
                agent_id=chat.assignee,
                answered_at=chat.answered_at,
                wait_s=max(0.0, chat.answered_at - chat.created_at),
            )
            out.append(self.event(f"contact:{cid}:answered", chat.answered_at, answered))
        if chat.closed_at is not None:
            closed = chat.closed_at
            if chat.answered and chat.assignee:
                assert chat.answered_at is not None
                ended = ContactEnded(
                    contact_id=cid,
                    queue_id=q,
                    agent_id=chat.assignee,
                    ended_at=closed,
                    talk_s=max(0.0, closed - chat.answered_at),
                )
                out.append(self.event(f"contact:{cid}:ended", closed, ended))
                del self._chats[ticket_id]
            elif chat.assignee is None:
                gone = ContactAbandoned(
                    contact_id=cid,
                    queue_id=q,
                    abandoned_at=closed,
                    wait_s=max(0.0, closed - chat.created_at),
                )
                out.append(self.event(f"contact:{cid}:abandoned", closed, gone))
                del self._chats[ticket_id]
            elif closed < float(self._cursor["slas"]) - 600:
                # The metric events are read past its close and no first reply came (an
                # account without them, a reply by another channel): the best we know is
                # when the export first showed it taken.
                chat.answered_at = chat.assigned_seen_at or closed
                out.extend(self._chat_events(ticket_id, chat))
        return out

    # -- warm: calls and SLA clocks -------------------------------------------------------

    async def _time_export(
        self,
        path: str,
        key: str,
        cursor_key: str,
        sink: Sink,
        handle: Callable[[Mapping[str, Any]], list[NewEvent]],
        extra: Sequence[tuple[str, Any]] = (),
        *,
        until: Callable[[], float] | None = None,
        paged: asyncio.Event | None = None,
    ) -> None:
        """Page the export from its cursor to the present (or, with ``until``, to where
        that says: the legs never read past the calls); ``paged`` is set after each page
        stored."""
        for _ in range(1000):
            start = int(self._cursor[cursor_key])
            if start > self.clock() - 60:
                return  # the time-based exports refuse start times under a minute old
            if until is not None and start >= until():
                return
            try:
                body = await self.api.get(path, [*extra, ("start_time", start)])
            except ApiError as exc:
                if exc.status == 422:  # "Too recent start_time": nothing new yet
                    return
                raise
            records = expect(body, key, list, label=self.name, where=path)
            events: list[NewEvent] = []
            for record in records:
                try:
                    events.extend(handle(record))
                except ShapeError as exc:
                    await sink.quarantine(f"zendesk.{key}", json.dumps(record)[:8000], str(exc))
            end_time = body.get("end_time")
            if isinstance(end_time, int | float) and end_time > start:
                self._cursor[cursor_key] = int(end_time)
            await sink.emit(events, self.cursor_text())
            if paged is not None:
                paged.set()
            # Talk's exports always give a next_page: fewer than a full page means done
            if body.get("end_of_stream") or len(records) < EXPORT_PAGE or not body.get("next_page"):
                return
            if not (isinstance(end_time, int | float) and end_time > start):
                return
            if self.budget.wait_s(hot=False) > 0:
                return

    async def _poll_calls(self, sink: Sink) -> None:
        """Finished calls (offered, answered or abandoned, with their waits), then the agent
        legs of those calls (talk, hold and wrap-up per agent, so a transferred call counts
        for each agent who took it). Where the account has no legs export, the call's own
        times end it."""
        if not self.absent.has("talk") and self._voice_groups:
            raise Limited(Capability.CALLS, *self._no_talk(N_("calls")))
        if not self.absent.has("talk") or not self._voice_groups:
            return
        if not self.absent.has("talk stats"):
            raise Limited(
                Capability.CALLS,
                reasons.reason("no_talk_calls", why=self.absent.why("talk stats")),
                N_("use a token whose role may read Talk's statistics (an admin)"),
            )

        def on_call(call: Mapping[str, Any]) -> list[NewEvent]:
            payloads = parse.call_payloads(call, self.ctx, self._lines)
            out = []
            for p in payloads:
                if isinstance(p, ContactEnded) and self.absent.has("legs"):
                    continue  # the legs say who handled it and for how long
                out.append(self.event(f"call:{call['id']}:{p.KIND}", _when(p), p))
            if payloads:
                self._call_queues[str(call["id"])] = payloads[0].queue_id  # type: ignore[attr-defined]
                waiting = self._early_legs.pop(str(call["id"]), [])
                out.extend(e for leg in waiting for e in on_leg(leg))
            return out

        def on_leg(leg: Mapping[str, Any]) -> list[NewEvent]:
            call_id = str(leg.get("call_id"))
            queue_id = self._call_queues.get(call_id)
            if queue_id is None:
                if leg.get("type") == "agent":
                    self._early_legs.setdefault(call_id, []).append(leg)
                return []
            ended = parse.leg_ended(leg, self.ctx, queue_id)
            if ended is None:
                return []
            return [self.event(f"leg:{leg['id']}:ended", ended.ended_at, ended)]

        # The legs are paged alongside the calls, each export within its own limit of 10 a
        # minute, never past the calls read so far: a first sync of a big floor's morning
        # takes the longer of the two, not both one after the other.
        calls_paged, calls_read, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()

        def legs_until() -> float:
            return -math.inf if stop.is_set() else self._cursor["calls"]

        async def read_legs() -> None:
            while not stop.is_set():
                calls_paged.clear()
                finished = calls_read.is_set()
                await self._time_export(
                    "/api/v2/channels/voice/stats/incremental/legs.json",
                    "legs",
                    "legs",
                    sink,
                    on_leg,
                    until=None if finished else legs_until,
                )
                if finished:
                    return
                await calls_paged.wait()

        legs = asyncio.create_task(read_legs()) if self.absent.has("legs") else None
        try:
            await self._time_export(
                "/api/v2/channels/voice/stats/incremental/calls.json",
                "calls",
                "calls",
                sink,
                on_call,
                paged=calls_paged,
            )
        except asyncio.CancelledError:
            if legs is not None:
                legs.cancel()
            raise
        except Exception as exc:
            # the calls stop here (their minute spent, an error): the legs end after the
            # page in hand is stored, never cut between taking a page and storing it
            stop.set()
            calls_paged.set()
            if legs is not None:
                with contextlib.suppress(Exception):
                    await legs
            if isinstance(exc, Unavailable):
                self.absent.lacks("talk stats", _status_of(exc))
            raise
        finally:
            calls_read.set()
            calls_paged.set()
        if legs is not None:
            try:
                await legs
            except Unavailable:
                self.absent.lacks("legs")
        trim(self._call_queues, 20_000)
        trim(self._early_legs, 2_000)

    async def _poll_metric_events(self, sink: Sink) -> None:
        def handle(event: Mapping[str, Any]) -> list[NewEvent]:
            if event.get("deleted"):
                return []
            out = []
            if (
                event.get("metric") == "reply_time"
                and event.get("type") == "fulfill"
                and int(event.get("instance_id") or 1) == 1
            ):
                out = self._chat_reply(str(event.get("ticket_id")), parse.ts(event.get("time")))
            payload = parse.sla_payload(event, self._sla_clocks)
            if payload is not None:
                at = parse.ts(event.get("time"))
                out.append(self.event(f"sla:{event.get('id')}", at, payload))
            return out

        await self._time_export(
            "/api/v2/incremental/ticket_metric_events.json",
            "ticket_metric_events",
            "slas",
            sink,
            handle,
            extra=[("exclude_deleted", "true")],
        )
        # closed chats whose first reply never came: settle them now the events are read
        stuck = [tid for tid, chat in self._chats.items() if chat.closed_at is not None]
        events = [e for tid in stuck for e in self._chat_events(tid, self._chats[tid])]
        if events:
            await sink.emit(events, self.cursor_text())

    # -- push -----------------------------------------------------------------------------

    def webhook(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """A Zendesk webhook delivery: check its signature and age, then poll sooner.

        Returns (HTTP status, short reason). The body is never trusted as data: the poll
        stays the source of truth. A delivery seen before (the same signature: a replay, or
        Zendesk retrying one whose answer was lost) is answered 200, so Zendesk does not
        retry it (it retries on 409), and does nothing."""
        secret = self.settings.webhook_secret
        if not secret:
            return 404, "no webhook secret configured for this source"
        lowered = {k.lower(): v for k, v in headers.items()}
        signature = lowered.get("x-zendesk-webhook-signature", "")
        stamp = lowered.get("x-zendesk-webhook-signature-timestamp", "")
        if not verify_signature(secret, stamp, body, signature):
            return 401, "bad signature"
        try:
            sent = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return 400, "bad timestamp"
        if sent.tzinfo is None:  # Zendesk's is ISO 8601 with a zone; never read as local time
            return 400, "timestamp without a zone"
        if abs(self.wall() - sent.timestamp()) > WEBHOOK_MAX_AGE_S:
            return 401, "timestamp too old"
        if not self.seen_webhooks.first_time(signature.strip()):
            return 200, "already seen; ignored"
        self.poll_soon_for_webhook()
        return 200, "ok"

    # -- write-back -----------------------------------------------------------------------

    async def write_back(self, action: str, body: dict[str, Any]) -> None:
        """An ack, note or resolve as a private comment and a tag, sent at most once.

        The comment carries a reference (the delivery key); before sending, the ticket's
        latest comments are searched for it, so a retry after a lost answer does not post
        it twice. ``safe_update`` with the ticket's ``updated_stamp`` means an agent's edit
        in between makes Zendesk refuse (409), and we read again and retry."""
        if not self.settings.write_back:
            log.info("%s: write-back is off; %s kept on the floor only", self.name, action)
            return
        wb = write_back_of("Zendesk", action, body)
        ticket_id, ref, comment = wb.ticket_id, wb.ref, wb.text
        path = f"/api/v2/tickets/{ticket_id}.json"
        try:
            for _ in range(3):
                ticket = expect(
                    await self.api.get(path), "ticket", dict, label=self.name, where="ticket"
                )
                tags = ticket.get("tags") or []
                posted = await self._already_posted(ticket_id, ref)
                if posted and self.settings.ack_tag in tags:
                    return
                stamp = ticket.get("updated_at")
                try:
                    if not posted:
                        update = {
                            "ticket": {
                                "comment": {"body": comment, "public": False},
                                "safe_update": True,
                                "updated_stamp": stamp,
                            }
                        }
                        answer = await self.api.request("PUT", path, body=update)
                        stamp = (answer.get("ticket") or {}).get("updated_at", stamp)
                    if self.settings.ack_tag not in tags:
                        # PUT on /tags adds to the ticket's tags (a plain update replaces them)
                        await self.api.request(
                            "PUT",
                            f"/api/v2/tickets/{ticket_id}/tags.json",
                            body={
                                "tags": [self.settings.ack_tag],
                                "safe_update": True,
                                "updated_stamp": stamp,
                            },
                        )
                    return
                except Conflict:
                    continue  # an agent edited it in between: read again
        except ApiError as exc:
            raise self.write_back_failed(ticket_id, exc) from None
        raise WriteBackError(f"ticket {ticket_id} kept changing; will try again", retry_after_s=20)

    async def _already_posted(self, ticket_id: str, ref: str) -> bool:
        """Whether a comment carrying ``ref`` is on the ticket: newest first, page after page
        (a busy ticket may have had many comments since our lost answer), up to 5,000."""
        path = f"/api/v2/tickets/{ticket_id}/comments.json"
        params: list[tuple[str, Any]] = [("sort", "-created_at"), ("page[size]", 100)]
        for _ in range(50):
            body = await self.api.get(path, params)
            comments = expect(body, "comments", list, label=self.name, where="comments")
            if any(ref in str(c.get("body") or "") for c in comments if isinstance(c, dict)):
                return True
            meta = body.get("meta") or {}
            if not meta.get("has_more") or not meta.get("after_cursor"):
                return False
            params = [*params[:2], ("page[after]", meta["after_cursor"])]
        return False


@dataclass(slots=True)
class _Chat:
    """What we know so far of one messaging ticket, as a chat contact."""

    queue_id: str
    created_at: float
    assignee: str | None = None
    answered_at: float | None = None
    assigned_seen_at: float | None = None
    closed_at: float | None = None
    offered: bool = False
    answered: bool = False


def _when(p: Payload) -> float:
    for attr in ("ended_at", "answered_at", "abandoned_at", "offered_at"):
        value = getattr(p, attr, None)
        if isinstance(value, float | int):
            return float(value)
    return 0.0


def _status_of(exc: Unavailable) -> str:
    """Why an add-on is not there, in words the board translates (``model.reasons``)."""
    if isinstance(exc, Forbidden):
        return N_("is not allowed (403)")
    return {404: N_("is not there (404)"), 410: N_("is not there (410)")}.get(
        exc.status or 0, f"is not there ({exc.status})"
    )


def _digest(p: Payload) -> str:
    return hashlib.sha1(p.model_dump_json().encode(), usedforsecurity=False).hexdigest()[:12]


def rate_figures(headers: Mapping[str, str]) -> RateFigures:
    """Zendesk's account-wide ``X-Rate-Limit`` / ``ratelimit-*`` headers, and an endpoint's
    own ``Zendesk-RateLimit-*`` one."""
    spent = _endpoint_spent(headers)
    return RateFigures(
        limit_per_minute=header_int(headers.get("x-rate-limit") or headers.get("ratelimit-limit")),
        remaining=header_int(
            headers.get("x-rate-limit-remaining") or headers.get("ratelimit-remaining")
        ),
        reset_s=header_int(headers.get("ratelimit-reset")),
        family_spent=spent is not None,
        family_reset_s=spent,
    )


def _endpoint_spent(headers: Mapping[str, str]) -> float | None:
    """Seconds until the reset of an endpoint's own limit that this answer says is spent
    (``Zendesk-RateLimit-<endpoint>: total=10; remaining=0; resets=42``), or None."""
    for name, value in headers.items():
        if not name.lower().startswith("zendesk-ratelimit-"):
            continue
        fields = dict(part.strip().partition("=")[::2] for part in value.split(";") if "=" in part)
        if header_int(fields.get("remaining")) == 0:
            return float(header_int(fields.get("resets")) or 60)
    return None


def endpoint_family(path: str) -> str | None:
    """The endpoints with a limit of their own: the incremental exports (10 a minute, 30
    with the High Volume add-on) and each of Talk's incremental exports (10 a minute). A
    429 there holds back that endpoint only; agent states and the rest go on."""
    if path.startswith("/api/v2/incremental/"):
        return "incremental exports"
    if path.startswith(TALK_EXPORTS):
        return "Talk " + path.removeprefix(TALK_EXPORTS).removesuffix(".json") + " export"
    return None


TALK_EXPORTS = "/api/v2/channels/voice/stats/incremental/"


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Zendesk's webhook signature: base64(HMAC-SHA256(secret, timestamp + body))."""
    if not signature or not timestamp:
        return False
    if not signature.isascii():  # not base64 (and compare_digest takes ASCII text only)
        return False
    try:
        signed = timestamp.encode() + body
    except UnicodeEncodeError:  # bytes that were not UTF-8 cannot have been signed
        return False
    mac = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(mac).decode(), signature.strip())


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature a webhook with this secret carries (for tests and the fake)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


__all__ = [
    "SourceSetupError",
    "ZendeskAdapter",
    "ZendeskSettings",
    "sign",
    "verify_signature",
]
