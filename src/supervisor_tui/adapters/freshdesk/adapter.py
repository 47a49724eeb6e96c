"""The Freshdesk adapter: careful with every call, because Freshdesk rations them.

| data | endpoint | every | temperature |
|---|---|---|---|
| tickets (with stats) | ``/tickets?updated_since=…&order_by=updated_at`` | 5-20 s | hot |
| agents (assignment flag, last activity) | ``/agents`` | 30 s | hot |
| satisfaction | ``/surveys/satisfaction_ratings?created_since=…`` | 5 min | cold |
| groups and members, status labels | ``/groups[/{id}]``, ``/ticket_fields`` | 10 min | cold |
| SLA policies | ``/sla_policies`` | 30 min | cold |

Listing tickets has its own small limit (Growth: 20 a minute of its 200), so the ticket
poll keeps to its share of that too.

Pages move while they are read: the list is ordered by ``updated_at``, so a ticket an agent
edits (or deletes) behind the page being read leaves its place, every later ticket moves up
one, and "page N+1" would skip the one that crossed the boundary. So after each page the poll
moves ``updated_since`` on to the newest ``updated_at`` it saw and asks for page 1 again (the
tickets of that second come again, and their event keys drop them); nothing behind it can
move anything it has not read yet, and the 300-page wall is never near. Only when a whole
page shares one second (a bulk update) does it go on to page 2, 3... of that second; tickets
can only leave such a group, so it reads the group again until two readings agree.

``include=stats`` costs more credits a page but carries the first response and resolution
times the shift report needs, and a chat's answer time; it is on by default
(``ticket_stats = false`` turns it off).
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from supervisor_tui.adapters.base import (
    Clock,
    Need,
    Sink,
    SourceSetupError,
    WriteBackError,
    needs_one_of,
    source_named,
)
from supervisor_tui.adapters.freshdesk import parse
from supervisor_tui.adapters.freshdesk.source import FreshdeskSource
from supervisor_tui.adapters.http import (
    ApiError,
    BadBody,
    JsonApi,
    RateBudget,
    RateFigures,
    Unavailable,
    header_int,
    read_secret,
)
from supervisor_tui.adapters.polling import (
    PolledSource,
    ShapeError,
    Task,
    iso,
    saved_state,
    trim,
    ts,
    write_back_of,
)
from supervisor_tui.i18n import N_
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    Capability,
    Channel,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    NewEvent,
    QueueStats,
    Reason,
    TicketDeleted,
    TicketUpserted,
    reasons,
)

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
PER_PAGE = 100
MAX_PAGE = 300  # Freshdesk answers 400 past this page
WEBHOOK_HEADER = "x-supervisor-webhook-secret"
PLANS: dict[str, tuple[int, int]] = {
    # plan → (calls a minute, of which ticket lists)
    "trial": (50, 10),
    "growth": (200, 20),
    "pro": (400, 100),
    "enterprise": (700, 200),
}


@dataclass(frozen=True, slots=True)
class FreshdeskSettings:
    base_url: str
    api_key: str = field(repr=False)
    plan: str = "growth"
    budget_share: float = 0.5
    write_back: bool = False
    ack_tag: str = "supervisor_acked"
    webhook_secret: str | None = field(default=None, repr=False)
    group_channels: Mapping[str, str] = field(default_factory=dict)
    ticket_stats: bool = True
    ticket_interval_s: float | None = None
    """None: as often as the plan's ticket-list limit allows within the share (at most
    60 % of it, so the deleted-ticket list and a retry still fit), but not under 5 s."""
    agent_interval_s: float = 30.0
    ratings_interval_s: float = 300.0
    directory_interval_s: float = 600.0
    policy_interval_s: float = 1800.0
    idle_after_s: float = 1800.0
    """An agent with no activity in the helpdesk for this long is shown offline."""
    backfill_s: float = 7 * 24 * 3600

    def limits(self) -> tuple[int, int]:
        return PLANS.get(self.plan, PLANS["growth"])

    def ticket_interval(self) -> float:
        if self.ticket_interval_s is not None:
            return self.ticket_interval_s
        lists = self.limits()[1]
        return max(5.0, 60.0 / (lists * self.budget_share * 0.6))


@dataclass(slots=True)
class _Chat:
    queue_id: str
    created_at: float
    offered: bool = False
    answered: bool = False
    taken: bool = False


class FreshdeskAdapter(PolledSource):
    settings_model = FreshdeskSource
    kind = "freshdesk"
    TICKET_PAGE = "/a/tickets/{id}"
    NEEDS = (
        Need(
            Capability.TICKETS,
            "GET /api/v2/tickets (order_by=updated_at)",
            "any agent's API key (an agent with group or restricted scope sees a part)",
            N_("nothing from this source"),
            N_("the API key of an agent with global ticket scope"),
            optional=False,
        ),
        Need(
            Capability.DELETIONS,
            "GET /api/v2/tickets?filter=deleted",
            "an agent allowed to delete tickets (admin or supervisor)",
            N_("a deleted ticket stays on the board as last seen"),
            N_("use the API key of an admin or a supervisor"),
        ),
        Need(
            Capability.QUEUES,
            "GET /api/v2/groups, /api/v2/agents, /api/v2/ticket_fields",
            "any agent's API key",
            N_("no queues or agents from this source"),
            N_("the API key of an agent"),
        ),
        Need(
            Capability.PRESENCE,
            "GET /api/v2/agents (available, last_active_at)",
            "any agent's API key",
            N_("agents show no status; staffing is unknown"),
            N_("the API key of an agent allowed to see the agent list"),
        ),
        Need(
            Capability.SATISFACTION,
            "GET /api/v2/surveys/satisfaction_ratings",
            "a plan with Surveys (Growth and up); an agent allowed to see them",
            N_("CSAT is unknown"),
            N_("a plan with customer satisfaction surveys"),
        ),
        Need(
            Capability.SLA_POLICIES,
            "GET /api/v2/sla_policies",
            "an admin's API key",
            N_("the number of SLA policies is unknown (due times still come from the tickets)"),
            N_("use an admin's API key"),
        ),
        Need(
            Capability.WRITE_BACK,
            "POST /api/v2/tickets/{id}/notes, PUT /api/v2/tickets/{id} (tags)",
            "an agent allowed to edit the ticket",
            N_("acks stay on the floor and in the outbox until the helpdesk takes them"),
            N_("use the API key of an agent who may edit these tickets, or write_back = false"),
        ),
    )

    def explain(self, capability: Capability, exc: Unavailable) -> tuple[str | Reason, str]:
        """Freshdesk says why in its 403: ``require_feature`` (the plan) or
        ``access_denied`` (the key's role)."""
        said, fix = super().explain(capability, exc)
        text = str(exc)
        need = self.need(capability)
        without = {"without": need.without} if need else {}
        if "require_feature" in text:
            return (
                reasons.reason("capability_plan", capability=capability.value, **without),
                need.fix if need else N_("upgrade the plan"),
            )
        if "access_denied" in text:
            return reasons.reason("capability_denied", capability=capability.value, **without), fix
        return said, fix

    def __init__(
        self,
        name: str,
        settings: FreshdeskSettings,
        clock: Clock = time.time,
        *,
        wall: Clock | None = None,
    ) -> None:
        wall = wall or clock
        total, lists = settings.limits()
        budget = RateBudget(total, share=settings.budget_share, clock=wall)
        api = JsonApi(
            settings.base_url,
            label=name,
            budget=budget,
            auth=httpx.BasicAuth(settings.api_key, "X"),
            rate_figures=rate_figures,
            credential=("api_key", ""),
        )
        super().__init__(name, clock=clock, wall=wall, budget=budget, api=api)
        self.settings = settings
        self.list_budget = RateBudget(lists, share=settings.budget_share, clock=wall)
        """The ticket list's own allowance, inside the account's."""
        self.ctx = parse.Context(source=name)
        self._cursor: dict[str, Any] = {}
        self._recent: dict[str, TicketUpserted] = {}  # ticket id → newest upsert, for ratings
        self._group: set[str] = set()  # ids of the second being paged through, this reading
        self._group_before: set[str] | None = None  # ... and at the reading before
        self._ratings: dict[str, str] = {}  # ticket id → good / bad
        self._agent_states: dict[str, tuple[AgentState, str]] = {}
        self._chats: dict[str, _Chat] = {}
        self.tasks = [
            Task(
                "tickets",
                settings.ticket_interval(),
                True,
                self._poll_tickets,
                capability=Capability.TICKETS,
            ),
            Task(
                "agents",
                settings.agent_interval_s,
                True,
                self._poll_agents,
                capability=Capability.PRESENCE,
            ),
            Task(
                "deleted",
                settings.ratings_interval_s,
                False,
                self._poll_deleted,
                capability=Capability.DELETIONS,
            ),
            Task(
                "ratings",
                settings.ratings_interval_s,
                False,
                self._poll_ratings,
                capability=Capability.SATISFACTION,
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
        ]
        self.load_cursor(None)

    @classmethod
    def from_config(cls, name: str, settings: dict[str, Any], clock: Clock) -> FreshdeskAdapter:
        base_url = settings.get("base_url") or (
            f"https://{settings['domain']}.freshdesk.com" if settings.get("domain") else None
        )
        if not base_url:
            raise SourceSetupError(needs_one_of(name, "domain", "base_url"))
        key = read_secret(
            env=settings.get("api_key_env"),
            file=settings.get("api_key_file"),
            what=source_named(name),
        )
        if not key:
            raise SourceSetupError(needs_one_of(name, "api_key_env", "api_key_file"))
        secret = read_secret(
            env=settings.get("webhook_secret_env"), what=source_named(name, "webhook")
        )
        known = {
            f: settings[f]
            for f in (
                "plan",
                "budget_share",
                "write_back",
                "ack_tag",
                "ticket_stats",
                "ticket_interval_s",
                "agent_interval_s",
                "idle_after_s",
                "backfill_s",
            )
            if settings.get(f) is not None
        }
        return cls(
            name,
            FreshdeskSettings(
                base_url=base_url,
                api_key=key,
                webhook_secret=secret,
                group_channels=dict(settings.get("group_channels") or {}),
                **known,
            ),
            clock,
            wall=time.time,
        )

    # -- cursor ---------------------------------------------------------------------------

    def load_cursor(self, cursor: str | None) -> None:
        state = saved_state(cursor, CURSOR_VERSION)
        start = iso(self.clock() - self.settings.backfill_s)
        self._cursor = {
            "v": CURSOR_VERSION,
            "updated_since": state.get("updated_since") or start,
            # a reading of one second's group is not kept across a restart: it starts again
            "page": 1,
            "ratings_since": state.get("ratings_since") or start,
            "deleted_since": state.get("deleted_since") or start,
        }

    def cursor_text(self) -> str:
        return json.dumps(self._cursor, sort_keys=True)

    # -- tickets --------------------------------------------------------------------------

    async def _poll_tickets(self, sink: Sink) -> None:
        """Every ticket changed since the cursor, oldest change first, a page at a time;
        each page is stored with the cursor that follows it."""
        for _ in range(MAX_PAGE + 1):
            if self.list_budget.wait_s(hot=True) > 0:
                return  # the ticket list's own minute is spent; the rest next round
            page = int(self._cursor["page"])
            since = str(self._cursor["updated_since"])
            params: list[tuple[str, Any]] = [
                ("updated_since", since),
                ("order_by", "updated_at"),
                ("order_type", "asc"),
                ("per_page", PER_PAGE),
                ("page", page),
            ]
            if self.settings.ticket_stats:
                params.append(("include", "stats"))
            self.list_budget.spend()
            body, headers = await self._get_list("/api/v2/tickets", params)
            events: list[NewEvent] = []
            newest = since
            for ticket in body:
                stamp = ticket.get("updated_at") if isinstance(ticket, dict) else None
                if stamp == since:
                    self._group.add(str(ticket.get("id")))
                try:
                    events.extend(self._ticket_events(ticket))
                except ShapeError as exc:
                    await sink.quarantine("freshdesk.ticket", json.dumps(ticket)[:8000], str(exc))
                    continue
                if isinstance(stamp, str) and stamp > newest:
                    newest = stamp
            more = _has_next(headers.get("link"))
            if more and newest == since and page < MAX_PAGE:
                # the whole page is one second (a bulk update): the next page of that second
                self._cursor["page"] = page + 1
            elif page > 1 and self._group != self._group_before:
                # paged through one second's group while tickets may have left it (and
                # moved the rest up a place): read it again until two readings agree
                self._group_before, self._group = self._group, set()
                self._cursor["page"] = 1
                more = True
            else:
                # go on from the newest change seen, page 1: the tickets of that same
                # second come again and their keys drop them
                self._group_before, self._group = None, set()
                self._cursor["updated_since"] = newest
                self._cursor["page"] = 1
            if not more:
                events.extend(self._chat_queue_stats())
            await sink.emit(events, self.cursor_text())
            if not more:
                return

    async def _poll_deleted(self, sink: Sink) -> None:
        """Deleted tickets leave the ticket list; Freshdesk lists them on their own."""
        if self.list_budget.wait_s(hot=False) > 0:
            return
        since = str(self._cursor["deleted_since"])
        self.list_budget.spend()
        body, _ = await self._get_list(
            "/api/v2/tickets",
            [("filter", "deleted"), ("updated_since", since), ("per_page", PER_PAGE)],
        )
        events = []
        newest = since
        for ticket in body:
            tid = ticket.get("id")
            stamp = ticket.get("updated_at")
            if not isinstance(tid, int):
                continue
            if isinstance(stamp, str) and stamp > newest:
                newest = stamp
            self.report.tickets.pop(str(tid), None)
            if self.report.deleted is not None:
                self.report.deleted.add(str(tid))
            self._recent.pop(str(tid), None)
            payload = TicketDeleted(ticket_id=str(tid))
            events.append(self.event(f"ticket:{tid}:deleted", self.clock(), payload))
        self._cursor["deleted_since"] = newest
        await sink.emit(events, self.cursor_text())

    async def _get_list(
        self, path: str, params: list[tuple[str, Any]]
    ) -> tuple[list[Any], Mapping[str, str]]:
        body, headers = await self.api.request_with_headers("GET", path, params=params)
        if not isinstance(body, list):
            raise BadBody(
                f"{self.name}: {path} answered without a list", raw=json.dumps(body)[:4000]
            )
        return body, headers

    def _ticket_events(self, ticket: Mapping[str, Any]) -> list[NewEvent]:
        payload = parse.ticket_payload(ticket, self.ctx)
        rating = self._ratings.get(payload.ticket_id)
        if rating is not None:
            payload = payload.model_copy(update={"satisfaction": rating})
        self._recent[payload.ticket_id] = payload
        trim(self._recent, 20_000)
        self.report.tickets[payload.ticket_id] = payload.status.is_open
        stamp = ticket.get("updated_at")
        events = [self.event(f"ticket:{payload.ticket_id}:{stamp}", payload.updated_at, payload)]
        for sla in parse.sla_payloads(ticket, self.clock()):
            key = f"sla:{payload.ticket_id}:{sla.metric}:{sla.state.value}:{sla.due_at:.0f}"
            events.append(self.event(key, payload.updated_at, sla))
        if payload.channel is Channel.CHAT and payload.queue_id:
            events.extend(self._chat_events(payload))
        return events

    def _chat_events(self, t: TicketUpserted) -> list[NewEvent]:
        """A chat ticket as a contact: answered at its first response (from the ticket's
        stats), abandoned when it closes with nobody on it; offered with its outcome."""
        assert t.queue_id is not None
        chat = self._chats.setdefault(t.ticket_id, _Chat(t.queue_id, t.created_at))
        chat.taken = chat.taken or t.assignee_id is not None
        cid = f"{self.name}:chat:{t.ticket_id}"
        out: list[NewEvent] = []
        answered_at = t.first_response_at
        gave_up = not t.status.is_open and t.assignee_id is None and answered_at is None
        if not chat.offered and (answered_at is not None or gave_up):
            chat.offered = True
            offered = ContactOffered(
                contact_id=cid,
                queue_id=chat.queue_id,
                channel=Channel.CHAT,
                offered_at=chat.created_at,
            )
            out.append(self.event(f"contact:{cid}:offered", chat.created_at, offered))
        if answered_at is not None and t.assignee_id and not chat.answered:
            chat.answered = True
            answered = ContactAnswered(
                contact_id=cid,
                queue_id=chat.queue_id,
                agent_id=t.assignee_id,
                answered_at=answered_at,
                wait_s=max(0.0, answered_at - chat.created_at),
            )
            out.append(self.event(f"contact:{cid}:answered", answered_at, answered))
        if not t.status.is_open:
            end = t.solved_at or t.updated_at
            if chat.answered and t.assignee_id and answered_at is not None:
                ended = ContactEnded(
                    contact_id=cid,
                    queue_id=chat.queue_id,
                    agent_id=t.assignee_id,
                    ended_at=end,
                    talk_s=max(0.0, end - answered_at),
                )
                out.append(self.event(f"contact:{cid}:ended", end, ended))
            elif gave_up:
                gone = ContactAbandoned(
                    contact_id=cid,
                    queue_id=chat.queue_id,
                    abandoned_at=end,
                    wait_s=max(0.0, end - chat.created_at),
                )
                out.append(self.event(f"contact:{cid}:abandoned", end, gone))
            self._chats.pop(t.ticket_id, None)
        trim(self._chats, 20_000)
        return out

    def _chat_queue_stats(self) -> list[NewEvent]:
        """Chats open with nobody on them, per chat queue, as of this read of the list."""
        now = self.clock()
        waiting: dict[str, list[float]] = {
            f"{self.name}:{gid}": []
            for gid, channel in self.ctx.group_channels.items()
            if channel is Channel.CHAT
        }
        for chat in self._chats.values():
            if not chat.taken and chat.queue_id in waiting:
                waiting[chat.queue_id].append(chat.created_at)
        out = []
        for qid, created in waiting.items():
            stats = QueueStats(
                queue_id=qid,
                waiting=len(created),
                longest_wait_s=max(0.0, now - min(created)) if created else 0.0,
                as_of=now,
            )
            out.append(self.event(f"qs:{qid}:{now:.3f}", now, stats))
        return out

    # -- agents ---------------------------------------------------------------------------

    async def _all_pages(self, path: str, params: list[tuple[str, Any]] | None = None) -> list[Any]:
        """Every page of a Freshdesk list, following ``Link: <…>; rel="next"``."""
        out: list[Any] = []
        query: list[tuple[str, Any]] = [*(params or []), ("per_page", PER_PAGE)]
        url = path
        for _ in range(MAX_PAGE):
            body, headers = await self._get_list(url, query)
            out.extend(body)
            nxt = _next_url(headers.get("link"))
            if nxt is None:
                return out
            url, query = self._same_host(nxt)
        return out

    def _same_host(self, url: str) -> tuple[str, list[tuple[str, Any]]]:
        parts = urlsplit(url)
        ours = urlsplit(self.settings.base_url)
        if parts.netloc and parts.netloc != ours.netloc:
            raise BadBody(f"{self.name}: a next page points at another host", raw=url[:200])
        return parts.path, list(parse_qsl(parts.query))

    async def _poll_agents(self, sink: Sink) -> None:
        agents = await self._all_pages("/api/v2/agents")
        now = self.clock()
        events = []
        for agent in agents:
            aid = agent.get("id")
            if not isinstance(aid, int):
                continue
            state, raw = parse.agent_presence(agent, now, self.settings.idle_after_s)
            agent_id = f"{self.name}:{aid}"
            if self._agent_states.get(agent_id) == (state, raw):
                continue
            self._agent_states[agent_id] = (state, raw)
            since_text = agent.get("available_since") if state is AgentState.AVAILABLE else None
            since = min(now, ts(since_text)) if since_text else now
            payload = AgentStateChanged(
                agent_id=agent_id,
                state=state,
                raw_state=raw,
                reason=raw if state is AgentState.AWAY else "",
                since=since,
            )
            events.append(self.event(f"state:{agent_id}:{now:.3f}", now, payload))
        if events:
            await sink.emit(events, self.cursor_text())

    # -- cold -----------------------------------------------------------------------------

    async def _poll_directory(self, sink: Sink) -> None:
        fields = await self._all_pages("/api/v2/ticket_fields")
        self.ctx.status_labels = parse.status_labels(fields)
        groups = await self._all_pages("/api/v2/groups")
        members: dict[int, list[int]] = {}
        for group in groups:
            gid = group.get("id")
            if not isinstance(gid, int):
                continue
            ids = group.get("agent_ids")
            if not isinstance(ids, list):
                detail = await self.api.get(f"/api/v2/groups/{gid}")
                ids = detail.get("agent_ids") if isinstance(detail, dict) else None
            members[gid] = [int(i) for i in ids or [] if isinstance(i, int)]
        agents = await self._all_pages("/api/v2/agents")
        await self._ticket_scope(groups)
        queues = parse.group_payloads(groups, self.ctx, self.settings.group_channels)
        staff = parse.agent_payloads(agents, members, self.ctx)
        self.report.queues = len(queues)
        self.report.agents = len(staff)
        now = self.clock()
        events = [
            self.event(f"queue:{q.queue_id}:{q.name}:{q.channel.value}", now, q) for q in queues
        ] + [self.event(f"agent:{a.agent_id}:{a.name}:{a.queue_ids}", now, a) for a in staff]
        await sink.emit(events, self.cursor_text())

    async def _ticket_scope(self, groups: list[Any]) -> None:
        """The key's agent may see every ticket (global scope), its groups' tickets only
        (group scope) or its own (restricted): the board is told which groups it misses."""
        try:
            me = await self.api.get("/api/v2/agents/me")
        except Unavailable:
            return  # the key's agent may not read itself: nothing to say
        scope = me.get("ticket_scope") if isinstance(me, dict) else None
        if scope not in (2, 3):
            if Capability.TICKETS in self.limits and self.limits[Capability.TICKETS].partial:
                self.restore(Capability.TICKETS)
            return
        mine = {g for g in (me.get("group_ids") or []) if isinstance(g, int)}
        missed = sorted(
            str(g.get("name")) for g in groups if isinstance(g, dict) and g.get("id") not in mine
        )
        reason: str | Reason
        if scope == 3:
            reason = N_("tickets: the API key's agent sees only the tickets assigned to it")
        else:
            reason = reasons.reason("tickets_group_scope", groups=", ".join(missed) or "—")
        self.limit(
            Capability.TICKETS,
            reason,
            N_(
                "use the API key of an agent with global ticket scope (Admin › Agents › "
                "Ticket scope: global access)"
            ),
            partial=True,
        )

    async def _poll_policies(self, sink: Sink) -> None:
        policies = await self._all_pages("/api/v2/sla_policies")
        self.report.sla_policies = parse.sla_policy_count(policies)

    async def _poll_ratings(self, sink: Sink) -> None:
        """Survey answers since the cursor; each rated ticket is upserted again with it."""
        since = str(self._cursor["ratings_since"])
        ratings = await self._all_pages(
            "/api/v2/surveys/satisfaction_ratings", [("created_since", since)]
        )
        events = []
        newest = since
        for rating in ratings:
            score = parse.rating_score(rating)
            ticket_id = str(rating.get("ticket_id") or "")
            stamp = rating.get("created_at")
            if isinstance(stamp, str) and stamp > newest:
                newest = stamp
            if score is None or not ticket_id:
                continue
            self._ratings[ticket_id] = score
            known = self._recent.get(ticket_id)
            if known is not None and known.satisfaction != score:
                rated = known.model_copy(update={"satisfaction": score})
                self._recent[ticket_id] = rated
                key = f"ticket:{ticket_id}:rated:{rating.get('id')}"
                events.append(self.event(key, self.clock(), rated))
        trim(self._ratings, 50_000)
        self._cursor["ratings_since"] = newest
        await sink.emit(events, self.cursor_text())

    # -- push -----------------------------------------------------------------------------

    def webhook(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """A Freshdesk automation webhook. Freshdesk does not sign them, so the site puts a
        shared secret in a header of the rule; it is compared in constant time. The body is
        a hint only: the next ticket poll comes now, within the limits."""
        secret = self.settings.webhook_secret
        if not secret:
            return 404, "no webhook secret configured for this source"
        lowered = {k.lower(): v for k, v in headers.items()}
        given = lowered.get(WEBHOOK_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return 401, "bad or missing secret"
        self.poll_soon({"tickets": 3.0})
        return 200, "ok"

    # -- write-back -----------------------------------------------------------------------

    async def write_back(self, action: str, body: dict[str, Any]) -> None:
        """An ack or note as a private note, and the ack tag merged into the ticket's tags.

        ``PUT /tickets/{id}`` replaces the whole tag list, so the tags are read just before
        and merged, and read again after to see whether an agent's tag was lost in between
        (then it is put back). The note carries a reference; a retry finds it and does not
        post it twice."""
        if not self.settings.write_back:
            log.info("%s: write-back is off; %s kept on the floor only", self.name, action)
            return
        wb = write_back_of("Freshdesk", action, body)
        ticket_id, ref, note = wb.ticket_id, wb.ref, wb.text
        try:
            # every page: conversations come oldest first, so on a long ticket a note we
            # posted before (the answer lost, or the process killed) is on the last one
            conversations = await self._all_pages(f"/api/v2/tickets/{ticket_id}/conversations")
            if not any(
                ref in str(c.get("body_text") or c.get("body") or "") for c in conversations
            ):
                await self.api.request(
                    "POST",
                    f"/api/v2/tickets/{ticket_id}/notes",
                    body={"body": _html(note), "private": True},
                )
            await self._merge_tag(ticket_id)
        except ApiError as exc:
            raise self.write_back_failed(ticket_id, exc) from None

    async def _merge_tag(self, ticket_id: str) -> None:
        tag = self.settings.ack_tag
        for _ in range(3):
            ticket = await self.api.get(f"/api/v2/tickets/{ticket_id}")
            tags = [str(t) for t in (ticket.get("tags") or [])] if isinstance(ticket, dict) else []
            if tag in tags:
                return
            wanted = [*tags, tag]
            answer = await self.api.request(
                "PUT", f"/api/v2/tickets/{ticket_id}", body={"tags": wanted}
            )
            written = answer.get("tags") if isinstance(answer, dict) else None
            if isinstance(written, list) and set(wanted) <= {str(t) for t in written}:
                return
        raise WriteBackError(
            f"ticket {ticket_id}: its tags kept changing; will try again", retry_after_s=20
        )


def _html(text: str) -> str:
    """Freshdesk note bodies are HTML: the text is escaped, its lines kept."""
    from html import escape

    return "<div>" + "<br>".join(escape(line) for line in text.splitlines()) + "</div>"


def _next_url(link: str | None) -> str | None:
    """The ``rel="next"`` URL of a Link header, if any."""
    if not link:
        return None
    for part in link.split(","):
        if 'rel="next"' in part or "rel=next" in part:
            start, end = part.find("<"), part.find(">")
            if 0 <= start < end:
                return part[start + 1 : end]
    return None


def _has_next(link: str | None) -> bool:
    return _next_url(link) is not None


__all__ = ["PLANS", "FreshdeskAdapter", "FreshdeskSettings"]


def rate_figures(headers: Mapping[str, str]) -> RateFigures:
    """Freshdesk's ``X-RateLimit-Total`` / ``-Remaining`` / ``-Used-CurrentRequest`` (a call
    that costs more than one credit counts as that many)."""
    return RateFigures(
        limit_per_minute=header_int(headers.get("x-ratelimit-total")),
        remaining=header_int(headers.get("x-ratelimit-remaining")),
        cost=header_int(headers.get("x-ratelimit-used-currentrequest")),
    )
