"""A fake Freshdesk (API v2) over loopback HTTP, fed by the floor simulation.

It speaks the wire format of the recordings in ``shared/conformance/freshdesk`` (bare JSON
arrays at the root of list endpoints, the same keys, ISO-8601 ``Z`` times in whole seconds,
integer ids and enums) and behaves like the real thing where an adapter can trip: page/per_page
pagination with a ``Link`` header, the 300-page wall of the ticket list, the 30-day default
window, include credits, the per-minute account limit plus the ticket list's own sub-limit,
429 with ``Retry-After``, soft-deleted tickets, injected faults, and unsigned webhook hints.

Id mapping (fixed)::

    simulator                      Freshdesk
    ----------------------------   ----------------------------------------------------------
    queue i (0-based, in order of  group 150000000000 + i + 1, name = queue name
      QueueUpserted)
    agent "a0001"                  agent 160000000000 + 1 (contact.email ana.a@example.com)
    API key's own agent            160000000000 (author of API notes; not listed)
    roles                          165000000000 + k (1 Account Administrator, 2 Administrator,
                                   3 Supervisor, 4 Agent; every agent has role 4)
    requester "Avery K."           contact 170000000000 + n (n in order of first sight; chat
                                   visitors "Web User 123", callers "Caller 123" likewise)
    ticket "10007"                 ticket 10007, source 1 (email)
    chat contact "c123"            ticket 900000 + 123, source 7 (chat), from the offer on
    voice contact "c123"           ticket 800000 + 123, source 3 (phone), created when the call
                                   is answered or abandoned; created_at = the offer
    SLA policy                     180000000000 + 1 ("Default SLA Policy", all priorities)
    conversation (reply / note)    190000000000 + n
    satisfaction rating            195000000000 + n (survey 196000000001)
    ticket field                   197000000000 + k

Ticket values: status 2 open (simulator new or open; new has no responder), 3 pending,
4 resolved (solved), 5 closed, 6 "Waiting on Customer" and 7 "Waiting on Third Party" (hold)
are custom statuses listed in ticket_fields; priority 1-4 = low/normal/high/urgent. ``fr_due_by``
follows the simulator's first_reply_time SLA (``fr_escalated`` once it is breached); ``due_by``
is created + the policy's ``resolve_within`` (3x the first-reply target); ``is_escalated`` is
the simulator's escalated flag. Chats open without a responder, get one when answered, end
resolved, or close unanswered with tag "missed_chat". A call answered opens a phone ticket with
its agent and is resolved when it ends; an abandoned call is a closed ticket tagged
"abandoned_call".

Endpoints (all under /api/v2; auth: HTTP Basic, the API key as user and any password, "X" by
custom; otherwise 401 ``{"code": "invalid_credentials", "message": "You have to be logged in
to perform this action."}``)::

    GET  tickets                  bare array; updated_since=ISO (updated_at >= it; without it
                                  only tickets created in the last 30 days), order_by=created_at
                                  |due_by|updated_at|status, order_type=asc|desc (default
                                  created_at desc), filter=new_and_my_open|watching|spam|deleted,
                                  include=stats,requester,description (+2 credits each),
                                  per_page (default 30, max 100), page (max 300); deleted tickets
                                  only with filter=deleted
    GET  tickets/ID               one ticket with description/description_text; include=stats,
                                  requester,conversations (+1 credit each); a deleted ticket
                                  comes back with "deleted": true
    PUT  tickets/ID               JSON: tags (replaces the whole list), status, priority,
                                  group_id, responder_id, type; answers the ticket (PUT,
                                  DELETE and notes answer 404 once the ticket is deleted)
    DELETE tickets/ID             soft delete, 204
    POST tickets/ID/notes         {"body": html, "private": true|false, "user_id"?} -> 201 note
    GET  tickets/ID/conversations bare array, oldest first, per_page/page + Link
    GET  groups, agents           bare arrays, per_page/page + Link, in id order
    GET  groups/ID, agents/ID     single: groups add agent_ids, agents add group_ids, role_ids
    GET  roles, ticket_fields, sla_policies, surveys
    GET  surveys/satisfaction_ratings   created_since=ISO; per_page/page + Link

Shape decisions where no recording exists (from developers.freshdesk.com, Freshdesk's own
throttling middleware as published, and Airbyte's connector tests):

- ``Link: <URL>; rel="next"`` (this server's URL, every other query parameter kept, ``page``
  moved on) while more rows exist; no Link on the last page; no prev/first/last links.
- page > 300 on the ticket list: 400 ``{"description": "Validation failed", "errors":
  [{"field": "page", "message": "You cannot access tickets beyond the 300th page. Please
  provide a smaller page number.", "code": "invalid_value"}]}``. Other bad parameters answer
  the same envelope (codes invalid_value, invalid_field, datatype_mismatch, missing_field).
  Unknown tickets and unknown paths answer 404 with an empty body.
- Rate limits per ``plan``, per minute of ``clock`` (fixed windows): account trial 50, growth
  200, pro 400, enterprise 700 credits; inside it the ticket list (GET /tickets) has its own
  sub-limit of trial 20, growth 20, pro 100, enterprise 200 calls and ticket updates (PUT)
  of trial 80, growth 80, pro 160, enterprise 280 calls (the trial figures are not documented;
  growth's are used). A call costs 1 credit; the ticket list costs 2 more per include, the
  single ticket 1 more. As in Freshdesk's middleware the account budget admits a call while
  any credit is left and charges its credits afterwards, and every answered call (also 401s and
  400s) carries ``X-RateLimit-Total``, ``X-RateLimit-Remaining`` (after this call),
  ``X-RateLimit-Used-CurrentRequest`` (this call's credits) and ``X-Freshdesk-API-Version``.
  Over a limit: 429, ``Retry-After`` = seconds to the next minute, JSON ``{"message": "You have
  exceeded the limit of requests per minute"}`` and no X-RateLimit headers (Freshdesk leaves
  them off its 429s). Real accounts may print the headers as decimals ("700.0").
- Webhooks (``webhook_url``): after each ticket change a background task POSTs
  ``{"freshdesk_webhook": {"ticket_id": ID, "ticket_updated_at": ISO, "triggered_event":
  "ticket_created" | "ticket_updated" | "ticket_deleted" | "note_added"}}`` with header
  ``X-Supervisor-Webhook-Secret: <webhook_secret>``; unsigned, at most 1000 waiting (the oldest
  are dropped), failures dropped. They are hints: poll the ticket list to learn what changed.
- A change made through the fake (PUT, DELETE, notes, agent_edit, delete_ticket) sets
  updated_at to ``floor_clock()``, at least a second after the previous value, so an
  ``updated_since`` poll always sees it again. Deleting also moves updated_at (find deletions
  with filter=deleted&updated_since=...). Tags set through the API stay set: the simulator
  only adds tags it has not sent before.

Time: rate-limit windows follow ``clock``; data (the 30-day window, edits, notes) follows
``floor_clock``, which is ``clock`` unless run_simulated sets it to the simulated floor's time
(at speeds other than 1). Faults other than slow / truncated / wrong_shape answer before
authentication and budgets; "wrong_shape" turns a bare array into ``{"results": [...]}`` and
drops an object's first key.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import html
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from aiohttp import web

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
    TicketStatus,
    TicketUpserted,
)

__all__ = ["FakeFreshdesk", "iso", "run_simulated"]


GROUP_BASE = 150_000_000_000
AGENT_BASE = 160_000_000_000
ROLE_BASE = 165_000_000_000
CONTACT_BASE = 170_000_000_000
SLA_POLICY_BASE = 180_000_000_000
CONVERSATION_BASE = 190_000_000_000
RATING_BASE = 195_000_000_000
SURVEY_ID = 196_000_000_001
FIELD_BASE = 197_000_000_000
EMAIL_CONFIG_ID = 198_000_000_001
PHONE_BASE = 800_000
CHAT_BASE = 900_000
API_AGENT_ID = AGENT_BASE

SOURCE_EMAIL, SOURCE_PHONE, SOURCE_CHAT = 1, 3, 7
OPEN, PENDING, RESOLVED, CLOSED = 2, 3, 4, 5
WAITING_ON_CUSTOMER, WAITING_ON_THIRD_PARTY = 6, 7
STATUS_CHOICES: dict[int, tuple[str, str]] = {
    OPEN: ("Open", "Being Processed"),
    PENDING: ("Pending", "Awaiting your Reply"),
    RESOLVED: ("Resolved", "This ticket has been Resolved"),
    CLOSED: ("Closed", "This ticket has been Closed"),
    WAITING_ON_CUSTOMER: ("Waiting on Customer", "Awaiting your Reply"),
    WAITING_ON_THIRD_PARTY: ("Waiting on Third Party", "Being Processed"),
}
STATUS_OF = {
    TicketStatus.NEW: OPEN,
    TicketStatus.OPEN: OPEN,
    TicketStatus.PENDING: PENDING,
    TicketStatus.HOLD: WAITING_ON_THIRD_PARTY,
    TicketStatus.SOLVED: RESOLVED,
    TicketStatus.CLOSED: CLOSED,
}
PRIORITY_OF = {Priority.LOW: 1, Priority.NORMAL: 2, Priority.HIGH: 3, Priority.URGENT: 4}
PRIORITY_NAMES = {1: "Low", 2: "Medium", 3: "High", 4: "Urgent"}
RESPOND_WITHIN = {number: int(SLA_TARGET_S[p]) for p, number in PRIORITY_OF.items()}
RESOLVE_FACTOR = 3
RATING_SCORE = {"good": 103, "bad": -103}
SOURCE_CHOICES = {
    "Email": 1,
    "Portal": 2,
    "Phone": 3,
    "Forum": 4,
    "Twitter": 5,
    "Facebook": 6,
    "Chat": 7,
    "MobiHelp": 8,
    "Feedback Widget": 9,
    "Outbound Email": 10,
    "Ecommerce": 11,
    "Bot": 12,
    "Whatsapp": 13,
}
ROLES = (
    ("Account Administrator", "Has complete control over the help desk and the organisation."),
    ("Administrator", "Can configure all features through the Admin tab."),
    (
        "Supervisor",
        "Can perform all agent related activities, access reports and see unresolved "
        "tickets dashboard.",
    ),
    ("Agent", "Can log, view, reply, update and resolve tickets and manage contacts."),
)
AGENT_ROLE_ID = ROLE_BASE + 4


@dataclass(frozen=True, slots=True)
class Plan:
    """Per-minute limits: the account's credits and the sub-limits (calls) inside it."""

    account: int
    tickets_list: int
    tickets_update: int


PLANS = {
    "trial": Plan(50, 20, 80),
    "growth": Plan(200, 20, 80),
    "pro": Plan(400, 100, 160),
    "enterprise": Plan(700, 200, 280),
}
MAX_TICKET_PAGES = 300
PER_PAGE_DEFAULT = 30
PER_PAGE_MAX = 100
DEFAULT_WINDOW_S = 30 * 86_400
WEBHOOK_BACKLOG = 1000
LIST_INCLUDES = ("stats", "requester", "description")
VIEW_INCLUDES = ("stats", "requester", "conversations")
TICKET_FILTERS = ("new_and_my_open", "watching", "spam", "deleted")
ORDER_BY = ("created_at", "due_by", "updated_at", "status")
ORDER_TYPE = ("asc", "desc")

AUTH_FAILED: Json = {
    "code": "invalid_credentials",
    "message": "You have to be logged in to perform this action.",
}
COST = web.RequestKey("cost", int)
"""The credits this request costs."""
ACCESS_DENIED: Json = {
    "code": "access_denied",
    "message": "You are not authorized to perform this action.",
}
RATE_LIMITED: Json = {"message": "You have exceeded the limit of requests per minute"}
SERVER_ERROR: Json = {"code": "internal_error", "message": "We're sorry, but something went wrong."}
PAGE_LIMIT_MESSAGE = (
    "You cannot access tickets beyond the 300th page. Please provide a smaller page number."
)
_TICKET_PATH = re.compile(r"/api/v2/tickets/\d+")


def _invalid(name: str, message: str, code: str = "invalid_value") -> Json:
    return {
        "description": "Validation failed",
        "errors": [{"field": name, "message": message, "code": code}],
    }


def _html(text: str) -> str:
    return f'<div dir="ltr">{html.escape(text)}</div>'


def _plain(body: str) -> str:
    """Freshdesk's body_text: line breaks become spaces, the other tags go."""
    spaced = re.sub(r"<br\s*/?>", " ", body, flags=re.IGNORECASE)
    return html.unescape(re.sub(r"<[^>]+>", "", spaced)).strip()


@dataclass(slots=True)
class _Ticket:
    id: int
    source: int
    subject: str
    requester_id: int
    description: str
    created_at: float
    updated_at: float
    fr_due_by: float
    due_by: float
    status: int = OPEN
    priority: int = 1
    type: str | None = None
    group_id: int | None = None
    responder_id: int | None = None
    tags: list[str] = field(default_factory=list)
    sim_tags: set[str] = field(default_factory=set)
    fr_escalated: bool = False
    is_escalated: bool = False
    nr_due_by: float | None = None
    nr_escalated: bool = False
    deleted: bool = False
    replies: int = 0
    satisfaction: str | None = None
    rating_id: int | None = None
    agent_responded_at: float | None = None
    requester_responded_at: float | None = None
    first_responded_at: float | None = None
    status_updated_at: float | None = None
    reopened_at: float | None = None
    resolved_at: float | None = None
    closed_at: float | None = None
    pending_since: float | None = None

    def add_tags(self, tags: Iterable[str]) -> None:
        for tag in tags:
            if tag not in self.tags:
                self.tags.append(tag)


@dataclass(slots=True)
class _Agent:
    id: int
    name: str
    email: str
    group_ids: list[int]
    created_at: float
    updated_at: float
    available: bool = False
    available_since: float | None = None
    last_active_at: float | None = None


@dataclass(slots=True)
class _Call:
    contact_id: str
    channel: Channel
    group_id: int | None
    offered_at: float
    agent_id: int | None = None
    answered_at: float | None = None


class FakeFreshdesk(LoopbackServer):
    """One Freshdesk account on loopback. Feed it simulator events; read it over HTTP."""

    def __init__(
        self,
        *,
        domain: str = "demo",
        api_key: str = "fake-key",
        plan: str = "growth",
        clock: Clock = time.time,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        account: Account | None = None,
    ) -> None:
        """``account``: the key's role (admin, supervisor, agent) and what the plan lacks
        (surveys)."""
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r}; one of {sorted(PLANS)}")
        self.domain = domain
        self.api_key = api_key
        self.account = account or Account()
        self.plan = plan
        self.limits = PLANS[plan]
        self.clock = clock
        self.floor_clock: Clock = clock
        """The floor's time for data (the 30-day window, edits, notes); run_simulated sets it
        when the simulation runs at another speed than the wall clock."""
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.base_url = ""
        self.site = f"https://{domain}.freshdesk.com"
        self.support_email = f"support@{domain}.freshdesk.com"
        self.requests: list[tuple[str, str]] = []
        self.tickets: dict[int, Json] = {}
        """Current ticket objects as the list shows them (no include keys)."""
        self.notes: dict[int, list[Json]] = {}
        """Ticket id -> its conversations (replies and notes, ``private`` true or false)."""
        self.groups: dict[int, Json] = {}
        self.contacts: dict[int, Json] = {}
        self.ratings: dict[int, Json] = {}
        self.webhooks_sent = 0
        self.webhooks_failed = 0
        self._state: dict[int, _Ticket] = {}
        self._agents: dict[int, _Agent] = {}
        self._group_of_queue: dict[str, int] = {}
        self._contact_of: dict[str, int] = {}
        self._emails: set[str] = set()
        self._calls: dict[str, _Call] = {}
        self._faults = Faults()
        self._used: dict[str, tuple[int, int]] = {}
        self._ids = {name: itertools.count(1) for name in ("conversation", "rating")}
        self._hints: deque[Json] = deque(maxlen=WEBHOOK_BACKLOG)
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def _started(self) -> None:
        if self.webhook_url is not None:
            self._sender = asyncio.create_task(self._deliver(self.webhook_url))
            if self._hints:
                self._wake.set()

    async def _stopping(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None

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

    def delete_ticket(self, ticket_id: int) -> None:
        """Freshdesk's soft delete: ``deleted: true``; the list stops showing the ticket."""
        state = self._state[ticket_id]
        state.deleted = True
        self._touch(state)
        self._publish(state, "ticket_deleted")

    def agent_edit(self, ticket_id: int, *, add_tag: str | None = None) -> None:
        """An agent edits the ticket in Freshdesk: updated_at moves on, maybe a tag is added."""
        state = self._state[ticket_id]
        if add_tag is not None:
            state.add_tags([add_tag])
        self._touch(state)
        self._publish(state, "ticket_updated")

    def add_conversations(self, ticket_id: int, count: int) -> None:
        """A long ticket: ``count`` more replies from the customer, as a long thread has
        (its conversations then take several pages, oldest first)."""
        state = self._state[ticket_id]
        for n in range(count):
            self._touch(state)
            self._conversation(
                state, state.requester_id, f"reply {n + 1}", state.updated_at, incoming=True
            )

    # -- feeding ----------------------------------------------------------------------------

    def feed(self, events: Iterable[NewEvent]) -> None:
        """Turn the simulator's normalized events into Freshdesk objects."""
        for event in events:
            payload = event.payload
            at = event.occurred_at
            if isinstance(payload, QueueUpserted):
                self._queue(payload, at)
            elif isinstance(payload, AgentUpserted):
                self._agent(payload, at)
            elif isinstance(payload, AgentStateChanged):
                self._agent_state(payload)
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
                state = self._state.get(sim_number(payload.ticket_id))
                if state is not None and not state.deleted:
                    self.delete_ticket(state.id)
            elif isinstance(payload, SlaChanged):
                self._sla(payload, at)

    def _queue(self, payload: QueueUpserted, at: float) -> None:
        group_id = self._group_of_queue.get(payload.queue_id)
        if group_id is None:
            group_id = GROUP_BASE + len(self._group_of_queue) + 1
            self._group_of_queue[payload.queue_id] = group_id
        created = self.groups[group_id]["created_at"] if group_id in self.groups else iso(at)
        self.groups[group_id] = {
            "id": group_id,
            "name": payload.name,
            "description": f"{payload.channel.value} queue",
            "escalate_to": None,
            "unassigned_for": None,
            "business_hour_id": None,
            "group_type": "support_agent_group",
            "created_at": created,
            "updated_at": iso(at),
            "auto_ticket_assign": 1 if payload.channel is Channel.EMAIL else 0,
        }

    def _agent(self, payload: AgentUpserted, at: float) -> None:
        agent_id = AGENT_BASE + sim_number(payload.agent_id)
        group_ids = [
            self._group_of_queue[q] for q in payload.queue_ids if q in self._group_of_queue
        ]
        agent = self._agents.get(agent_id)
        if agent is None:
            email = self._unique_email(payload.name, sim_number(payload.agent_id))
            self._agents[agent_id] = _Agent(agent_id, payload.name, email, group_ids, at, at)
        else:
            agent.name, agent.group_ids, agent.updated_at = payload.name, group_ids, at

    def _agent_state(self, payload: AgentStateChanged) -> None:
        agent = self._agents.get(AGENT_BASE + sim_number(payload.agent_id))
        if agent is None:
            return
        available = payload.state in (AgentState.AVAILABLE, AgentState.BUSY, AgentState.WRAP_UP)
        if available != agent.available:
            agent.available = available
            agent.available_since = payload.since if available else None
            agent.updated_at = payload.since
        if payload.state is not AgentState.OFFLINE:
            agent.last_active_at = payload.since

    def _unique_email(self, name: str, number: int) -> str:
        local = ascii_slug(name)
        email = f"{local}@example.com"
        if email in self._emails:
            email = f"{local}.{number}@example.com"
        self._emails.add(email)
        return email

    def _contact(self, name: str, *, phone: str | None = None) -> int:
        contact_id = self._contact_of.get(name)
        if contact_id is None:
            contact_id = CONTACT_BASE + len(self._contact_of) + 1
            self._contact_of[name] = contact_id
            email = None if phone else self._unique_email(name, contact_id - CONTACT_BASE)
            self.contacts[contact_id] = {
                "id": contact_id,
                "name": name,
                "email": email,
                "mobile": None,
                "phone": phone,
            }
        return contact_id

    def _new_ticket(
        self,
        ticket_id: int,
        source: int,
        subject: str,
        requester_id: int,
        created_at: float,
        priority: int,
        group_id: int | None,
    ) -> _Ticket:
        respond = RESPOND_WITHIN[priority]
        description = f"{subject}. Could you look into this, please?"
        state = _Ticket(
            id=ticket_id,
            source=source,
            subject=subject,
            requester_id=requester_id,
            description=description,
            created_at=created_at,
            updated_at=created_at,
            fr_due_by=created_at + respond,
            due_by=created_at + respond * RESOLVE_FACTOR,
            priority=priority,
            type="Question" if source == SOURCE_EMAIL else None,
            group_id=group_id,
            status_updated_at=created_at,
        )
        self._state[ticket_id] = state
        self.notes.setdefault(ticket_id, [])
        return state

    # -- chats and calls --------------------------------------------------------------------

    def _offered(self, payload: ContactOffered) -> None:
        group_id = self._group_of_queue.get(payload.queue_id)
        call = _Call(payload.contact_id, payload.channel, group_id, payload.offered_at)
        self._calls[payload.contact_id] = call
        if payload.channel is Channel.CHAT:
            number = sim_number(payload.contact_id)
            name = f"Web User {number}"
            state = self._new_ticket(
                CHAT_BASE + number,
                SOURCE_CHAT,
                f"Chat with {name}",
                self._contact(name),
                payload.offered_at,
                1,
                group_id,
            )
            self._publish(state, "ticket_created")

    def _answered(self, payload: ContactAnswered) -> None:
        call = self._calls.get(payload.contact_id)
        if call is None:
            return
        call.agent_id = AGENT_BASE + sim_number(payload.agent_id)
        call.answered_at = payload.answered_at
        at = payload.answered_at
        event = "ticket_updated"
        if call.channel is Channel.CHAT:
            state = self._state[CHAT_BASE + sim_number(payload.contact_id)]
        elif call.channel is Channel.VOICE:
            state, event = self._phone_ticket(call)
        else:
            return
        state.responder_id = call.agent_id
        state.first_responded_at = state.first_responded_at or at
        state.agent_responded_at = at
        self._changed(state, at, event)

    def _abandoned(self, payload: ContactAbandoned) -> None:
        call = self._calls.pop(payload.contact_id, None)
        if call is None:
            return
        event = "ticket_updated"
        if call.channel is Channel.CHAT:
            state = self._state[CHAT_BASE + sim_number(payload.contact_id)]
            state.add_tags(["missed_chat"])
        elif call.channel is Channel.VOICE:
            state, event = self._phone_ticket(call)
            state.add_tags(["abandoned_call"])
        else:
            return
        state.responder_id = None
        self._set_status(state, CLOSED, payload.abandoned_at)
        self._changed(state, payload.abandoned_at, event)

    def _ended(self, payload: ContactEnded) -> None:
        call = self._calls.pop(payload.contact_id, None)
        if call is None or call.channel not in (Channel.CHAT, Channel.VOICE):
            return
        base = CHAT_BASE if call.channel is Channel.CHAT else PHONE_BASE
        state = self._state.get(base + sim_number(payload.contact_id))
        if state is None:
            return
        state.responder_id = AGENT_BASE + sim_number(payload.agent_id)
        self._set_status(state, RESOLVED, payload.ended_at)
        self._changed(state, payload.ended_at)

    def _phone_ticket(self, call: _Call) -> tuple[_Ticket, str]:
        """The call's ticket, created (dated at the offer) on first sight, and the event."""
        number = sim_number(call.contact_id)
        state = self._state.get(PHONE_BASE + number)
        if state is not None:
            return state, "ticket_updated"
        name = f"Caller {number}"
        state = self._new_ticket(
            PHONE_BASE + number,
            SOURCE_PHONE,
            f"Call from {name}",
            self._contact(name, phone=f"+1555020{number % 10_000:04d}"),
            call.offered_at,
            1,
            call.group_id,
        )
        state.description = f"Incoming call from {name}"
        return state, "ticket_created"

    # -- e-mail tickets ---------------------------------------------------------------------

    def _ticket_upserted(self, payload: TicketUpserted) -> None:
        ticket_id = sim_number(payload.ticket_id)
        state = self._state.get(ticket_id)
        priority = PRIORITY_OF[payload.priority] if payload.priority else 1
        created = state is None
        if state is None:
            state = self._new_ticket(
                ticket_id,
                SOURCE_EMAIL,
                payload.subject or f"Ticket {ticket_id}",
                self._contact(payload.requester or "Customer"),
                payload.created_at,
                priority,
                self._group_of_queue.get(payload.queue_id or ""),
            )
        if state.deleted:
            return
        at = payload.updated_at
        state.subject = payload.subject or state.subject
        state.priority = priority
        state.group_id = self._group_of_queue.get(payload.queue_id or "", state.group_id)
        state.responder_id = (
            AGENT_BASE + sim_number(payload.assignee_id) if payload.assignee_id else None
        )
        state.is_escalated = payload.escalated
        new_tags = [t for t in payload.tags if t not in state.sim_tags]
        state.sim_tags |= set(payload.tags)
        state.add_tags(new_tags)
        status = STATUS_OF[payload.status]
        if state.status == PENDING and status == OPEN:  # the customer wrote back
            state.requester_responded_at = at
            self._conversation(
                state, state.requester_id, "Thanks, but it still does not work.", at, incoming=True
            )
        while state.replies < payload.agent_replies:
            state.replies += 1
            state.agent_responded_at = at
            state.first_responded_at = state.first_responded_at or at
            author = state.responder_id or API_AGENT_ID
            name = self.contacts[state.requester_id]["name"]
            body = f"Hi {name},\n\nThanks for your patience: here is what we found."
            self._conversation(state, author, body, at, reply=True)
        if payload.reopened:
            state.reopened_at = at
        self._set_status(state, status, at)
        if payload.satisfaction in RATING_SCORE and payload.satisfaction != state.satisfaction:
            state.satisfaction = payload.satisfaction
            self._rate(state, at)
        self._changed(state, at, "ticket_created" if created else "ticket_updated")

    @staticmethod
    def _set_status(state: _Ticket, status: int, at: float) -> None:
        if status == state.status:
            return
        if state.status in (RESOLVED, CLOSED) and status not in (RESOLVED, CLOSED):
            state.reopened_at = at
        state.status = status
        state.status_updated_at = at
        state.pending_since = at if status == PENDING else None
        if status == RESOLVED:
            state.resolved_at = at
        elif status == CLOSED:
            state.closed_at = at
            state.resolved_at = state.resolved_at or at

    def _sla(self, payload: SlaChanged, at: float) -> None:
        state = self._state.get(sim_number(payload.ticket_id))
        if state is None or state.deleted:
            return
        if payload.metric == "first_reply_time":
            state.fr_due_by = payload.due_at
            if payload.state is SlaState.BREACHED:
                state.fr_escalated = True
            elif payload.state is SlaState.FULFILLED:
                state.first_responded_at = state.first_responded_at or at
        elif payload.metric == "next_reply_time":
            state.nr_due_by = payload.due_at
            state.nr_escalated = payload.state is SlaState.BREACHED or state.nr_escalated
        elif payload.metric in ("resolution_time", "full_resolution_time"):
            state.due_by = payload.due_at
        else:
            return
        self._changed(state, max(state.updated_at, at))

    def _rate(self, state: _Ticket, at: float) -> None:
        if state.rating_id is None:
            state.rating_id = RATING_BASE + next(self._ids["rating"])
        row = self.ratings.get(state.rating_id)
        score = RATING_SCORE[state.satisfaction or "good"]
        self.ratings[state.rating_id] = {
            "id": state.rating_id,
            "survey_id": SURVEY_ID,
            "user_id": state.requester_id,
            "agent_id": state.responder_id,
            "feedback": "Thank you!" if score > 0 else "Not what I asked for.",
            "group_id": state.group_id,
            "ticket_id": state.id,
            "created_at": row["created_at"] if row else iso(at),
            "updated_at": iso(at),
            "ratings": {"default_question": score},
        }

    def _conversation(
        self,
        state: _Ticket,
        user_id: int,
        text: str,
        at: float,
        *,
        reply: bool = False,
        incoming: bool = False,
        private: bool = False,
        body: str | None = None,
    ) -> Json:
        conversation_id = CONVERSATION_BASE + next(self._ids["conversation"])
        requester = self.contacts[state.requester_id]
        outgoing_email = reply and state.source == SOURCE_EMAIL
        note: Json = {
            "body": body if body is not None else _html(text).replace("\n", "<br>"),
            "body_text": text if body is None else _plain(body),
            "id": conversation_id,
            "incoming": incoming,
            "private": private,
            "user_id": user_id,
            "support_email": self.support_email if outgoing_email else None,
            "source": 2 if not (reply or incoming) else 0,
            "category": 3 if reply else 7 if incoming else 2,
            "to_emails": [requester["email"]] if outgoing_email and requester["email"] else [],
            "from_email": f"Support <{self.support_email}>" if outgoing_email else None,
            "cc_emails": [],
            "bcc_emails": [] if outgoing_email else None,
            "email_failure_count": None,
            "outgoing_failures": None,
            "thread_id": None,
            "thread_message_id": None,
            "created_at": iso(at),
            "updated_at": iso(at),
            "last_edited_at": None,
            "last_edited_user_id": None,
            "attachments": [],
            "automation_id": None,
            "automation_type_id": None,
            "auto_response": False,
            "ticket_id": state.id,
            "source_additional_info": None,
        }
        if incoming:
            note["to_emails"] = None
        self.notes.setdefault(state.id, []).append(note)
        return note

    # -- publishing -------------------------------------------------------------------------

    def _changed(self, state: _Ticket, at: float, event: str | None = "ticket_updated") -> None:
        """A change that happened at ``at`` (simulator time)."""
        state.updated_at = max(state.updated_at, at)
        self._publish(state, event)

    def _touch(self, state: _Ticket) -> None:
        """A change made through Freshdesk itself: at least a second after the last one."""
        state.updated_at = max(self.floor_clock(), math.floor(state.updated_at) + 1.0)

    def _publish(self, state: _Ticket, event: str | None) -> None:
        self.tickets[state.id] = self._render(state)
        if event is not None and self.webhook_url is not None:
            self._hints.append(
                {
                    "freshdesk_webhook": {
                        "ticket_id": state.id,
                        "ticket_updated_at": iso(state.updated_at),
                        "triggered_event": event,
                    }
                }
            )
            self._wake.set()

    def _render(self, state: _Ticket) -> Json:
        email = state.source == SOURCE_EMAIL
        ticket: Json = {
            "cc_emails": [],
            "fwd_emails": [],
            "reply_cc_emails": [],
            "ticket_cc_emails": [],
            "ticket_bcc_emails": [],
            "fr_escalated": state.fr_escalated,
            "spam": False,
            "email_config_id": EMAIL_CONFIG_ID if email else None,
            "group_id": state.group_id,
            "priority": state.priority,
            "requester_id": state.requester_id,
            "responder_id": state.responder_id,
            "source": state.source,
            "company_id": None,
            "status": state.status,
            "subject": state.subject,
            "association_type": None,
            "support_email": self.support_email if email else None,
            "to_emails": [self.support_email] if email else None,
            "product_id": None,
            "id": state.id,
            "type": state.type,
            "due_by": iso(state.due_by),
            "fr_due_by": iso(state.fr_due_by),
            "is_escalated": state.is_escalated,
            "custom_fields": {},
            "created_at": iso(state.created_at),
            "updated_at": iso(state.updated_at),
            "associated_tickets_count": None,
            "tags": list(state.tags),
            "structured_description": None,
            "nr_due_by": None if state.nr_due_by is None else iso(state.nr_due_by),
            "nr_escalated": state.nr_escalated,
        }
        if state.deleted:
            ticket["deleted"] = True
        return ticket

    def _stats(self, state: _Ticket) -> Json:
        def when(t: float | None) -> str | None:
            return None if t is None else iso(t)

        return {
            "agent_responded_at": when(state.agent_responded_at),
            "requester_responded_at": when(state.requester_responded_at),
            "first_responded_at": when(state.first_responded_at),
            "status_updated_at": when(state.status_updated_at),
            "reopened_at": when(state.reopened_at),
            "resolved_at": when(state.resolved_at),
            "closed_at": when(state.closed_at),
            "pending_since": when(state.pending_since),
        }

    def _ticket_json(self, state: _Ticket, includes: Iterable[str], *, single: bool) -> Json:
        wanted = set(includes)
        ticket = dict(self.tickets[state.id])
        if single or "description" in wanted:
            ticket["description"] = _html(state.description)
            ticket["description_text"] = state.description
        if single:
            ticket["attachments"] = []
        if "requester" in wanted:
            ticket["requester"] = dict(self.contacts[state.requester_id])
        if "stats" in wanted:
            ticket["stats"] = self._stats(state)
        if "conversations" in wanted:
            ticket["conversations"] = list(self.notes.get(state.id, [])[-10:])
        return ticket

    # -- the HTTP side ----------------------------------------------------------------------

    def _routes(self) -> list[web.RouteDef]:
        v2 = "/api/v2"
        one = rf"{v2}/tickets/{{ticket_id:\d+}}"
        return [
            web.get(f"{v2}/tickets", self._list_tickets),
            web.get(one, self._view_ticket),
            web.put(one, self._update_ticket),
            web.delete(one, self._delete_ticket),
            web.post(f"{one}/notes", self._add_note),
            web.get(f"{one}/conversations", self._conversations),
            web.get(f"{v2}/groups", self._list_groups),
            web.get(rf"{v2}/groups/{{group_id:\d+}}", self._view_group),
            web.get(f"{v2}/agents", self._list_agents),
            web.get(f"{v2}/agents/me", self._me),
            web.get(rf"{v2}/agents/{{agent_id:\d+}}", self._view_agent),
            web.get(f"{v2}/roles", self._roles),
            web.get(f"{v2}/ticket_fields", self._ticket_fields),
            web.get(f"{v2}/sla_policies", self._sla_policies),
            web.get(f"{v2}/surveys", self._surveys),
            web.get(f"{v2}/surveys/satisfaction_ratings", self._satisfaction_ratings),
            web.route("*", "/{tail:.*}", self._unknown),
        ]

    GATES = (
        gate(r"^/api/v2/surveys", feature="surveys"),
        gate(r"^/api/v2/sla_policies", roles={"admin"}),
        gate(r"^/api/v2/tickets$", roles={"admin", "supervisor"}, query=("filter", "deleted")),
    )

    def _fault_response(self, fault: Fault) -> web.StreamResponse:
        if fault.fault == "429":
            response = _json(RATE_LIMITED, 429)
            response.headers["Retry-After"] = str(fault.retry_after)
            return response
        if fault.fault == "500":
            return _json(SERVER_ERROR, 500)
        if fault.fault == "503":
            response = web.Response(
                status=503,
                text="<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                content_type="text/html",
            )
            response.headers["Retry-After"] = str(fault.retry_after)
            return response
        if fault.fault == "401":
            return _json(AUTH_FAILED, 401)
        # malformed: a proxy's error page where JSON was promised
        return web.Response(
            status=200,
            body=b"<html><body>upstream connect error</body></html>",
            content_type="application/json",
        )

    def _authenticate(self, request: web.Request) -> web.Response | None:
        """Freshdesk counts every call against the account's limit, one that fails to
        authenticate too."""
        window, reset = self._window()
        if self._count("account", window) >= self.limits.account:
            return _limited(reset)
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user = base64.b64decode(credentials, validate=True).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                user = ""
            if user == self.api_key:
                return None
        self._charge("account", window, 1)
        return _json(AUTH_FAILED, 401)

    def _budget(self, request: web.Request) -> web.Response | None:
        """The endpoint's own limit (ticket lists, updates), then the call's credits."""
        window, reset = self._window()
        bucket = self._bucket(request)
        if bucket is not None:
            name, limit = bucket
            if self._count(name, window) >= limit:
                return _limited(reset)
            self._charge(name, window, 1)
        request[COST] = cost = self._cost(request)
        self._charge("account", window, cost)
        return None

    def _refuse(self, request: web.Request, gate: Gate | None, missing: str) -> web.Response:
        if missing == "role":
            return _json(ACCESS_DENIED, 403)
        return _json(
            {
                "code": "require_feature",
                "message": f"The {missing.title()} feature(s) is/are not supported in your "
                "plan. Please upgrade your account to use it.",
            },
            403,
        )

    def _failed(self, exc: HttpError) -> web.Response:
        return _json(exc.body, exc.status) if exc.body is not None else _empty(exc.status)

    def _bucket(self, request: web.Request) -> tuple[str, int] | None:
        if request.method == "GET" and request.path == "/api/v2/tickets":
            return "tickets_list", self.limits.tickets_list
        if request.method == "PUT" and _TICKET_PATH.fullmatch(request.path):
            return "tickets_update", self.limits.tickets_update
        return None

    @staticmethod
    def _cost(request: web.Request) -> int:
        """Credits: 1 a call; the ticket list +2 per include, one ticket +1 per include."""
        if request.method != "GET":
            return 1
        includes = {p.strip() for p in request.query.get("include", "").split(",")}
        if request.path == "/api/v2/tickets":
            return 1 + 2 * len(includes & set(LIST_INCLUDES))
        if _TICKET_PATH.fullmatch(request.path):
            return 1 + len(includes & set(VIEW_INCLUDES))
        return 1

    def _window(self) -> tuple[int, int]:
        """The current per-minute window and the seconds left in it."""
        now = self.clock()
        return int(now // 60), max(1, 60 - int(now % 60))

    def _count(self, bucket: str, window: int) -> int:
        seen, used = self._used.get(bucket, (window, 0))
        return used if seen == window else 0

    def _charge(self, bucket: str, window: int, credits: int) -> None:
        self._used[bucket] = (window, self._count(bucket, window) + credits)

    def _headed(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        if response.status == 429:
            return response  # Freshdesk's 429 carries Retry-After alone
        window, _ = self._window()
        cost = request.get(COST, 1)
        remaining = max(0, self.limits.account - self._count("account", window))
        response.headers["X-RateLimit-Total"] = str(self.limits.account)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Used-CurrentRequest"] = str(cost)
        response.headers["X-Freshdesk-API-Version"] = "latest=v2; requested=v2"
        return response

    async def _unknown(self, request: web.Request) -> web.Response:
        return _empty(404)

    # -- paging -----------------------------------------------------------------------------

    def _page(
        self, request: web.Request, rows: list[Any], *, max_pages: int | None = None
    ) -> tuple[list[Any], str | None]:
        """This page of ``rows`` and the Link header for the next one, if there is more."""
        q = request.query
        page = _positive(q.get("page"), 1, "page")
        if max_pages is not None and page > max_pages:
            raise HttpError(400, _invalid("page", PAGE_LIMIT_MESSAGE))
        per_page = _positive(q.get("per_page"), PER_PAGE_DEFAULT, "per_page")
        if per_page > PER_PAGE_MAX:
            raise HttpError(
                400,
                _invalid("per_page", "It should be a Positive Number less than or equal to 100"),
            )
        chunk = rows[(page - 1) * per_page : page * per_page]
        if page * per_page >= len(rows) or (max_pages is not None and page >= max_pages):
            return chunk, None
        query = [(k, v) for k, v in q.items() if k not in ("page", "per_page")]
        query += [("page", str(page + 1)), ("per_page", str(per_page))]
        return chunk, f'<{self.base_url}{request.path}?{urlencode(query)}>; rel="next"'

    def _paged(self, request: web.Request, rows: list[Any], **kwargs: Any) -> web.Response:
        chunk, link = self._page(request, rows, **kwargs)
        response = _json(chunk)
        if link is not None:
            response.headers["Link"] = link
        return response

    # -- tickets ----------------------------------------------------------------------------

    async def _list_tickets(self, request: web.Request) -> web.Response:
        q = request.query
        if _positive(q.get("page"), 1, "page") > MAX_TICKET_PAGES:
            raise HttpError(400, _invalid("page", PAGE_LIMIT_MESSAGE))
        includes = _choices(q.get("include"), LIST_INCLUDES, "include")
        order_by = _one_of(q.get("order_by"), ORDER_BY, "order_by") or "created_at"
        descending = (_one_of(q.get("order_type"), ORDER_TYPE, "order_type") or "desc") == "desc"
        which = _one_of(q.get("filter"), TICKET_FILTERS, "filter")
        since = _time(q["updated_since"], "updated_since") if "updated_since" in q else None
        rows = [s for s in self._state.values() if s.deleted == (which == "deleted")]
        scope = self._scope_group_ids()
        if scope is not None:  # group ticket scope: the other groups' tickets are not listed
            rows = [s for s in rows if s.group_id in scope]
        if which in ("spam", "watching"):
            rows = []
        elif which == "new_and_my_open":
            rows = [s for s in rows if s.status == OPEN and s.responder_id in (None, API_AGENT_ID)]
        if since is None:
            oldest = self.floor_clock() - DEFAULT_WINDOW_S
            rows = [s for s in rows if s.created_at >= oldest]
        else:
            rows = [s for s in rows if math.floor(s.updated_at) >= since]

        def key(state: _Ticket) -> tuple[float, int]:
            value = {
                "created_at": math.floor(state.created_at),
                "due_by": math.floor(state.due_by),
                "updated_at": math.floor(state.updated_at),
                "status": state.status,
            }[order_by]
            return value, state.id

        rows.sort(key=key, reverse=descending)
        chunk, link = self._page(request, rows, max_pages=MAX_TICKET_PAGES)
        response = _json([self._ticket_json(s, includes, single=False) for s in chunk])
        if link is not None:
            response.headers["Link"] = link
        return response

    def _found(self, request: web.Request, *, live: bool) -> _Ticket:
        state = self._state.get(int(request.match_info["ticket_id"]))
        if state is None or (live and state.deleted):
            raise HttpError(404)
        return state

    async def _view_ticket(self, request: web.Request) -> web.Response:
        state = self._found(request, live=False)
        includes = _choices(request.query.get("include"), VIEW_INCLUDES, "include")
        return _json(self._ticket_json(state, includes, single=True))

    async def _update_ticket(self, request: web.Request) -> web.Response:
        state = self._found(request, live=True)
        changes = await _json_body(request)
        allowed = ("tags", "status", "priority", "group_id", "responder_id", "type")
        for name in changes:
            if name not in allowed:
                raise HttpError(
                    400, _invalid(name, "Unexpected/invalid field in request", "invalid_field")
                )
        tags = changes.get("tags", state.tags)
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise HttpError(
                400, _invalid("tags", "It should be a/an Array of String", "datatype_mismatch")
            )
        status = _enum(changes, "status", state.status, tuple(STATUS_CHOICES))
        priority = _enum(changes, "priority", state.priority, tuple(PRIORITY_NAMES))
        group_id = _enum(changes, "group_id", state.group_id, (None, *self.groups))
        responder_id = _enum(
            changes, "responder_id", state.responder_id, (None, API_AGENT_ID, *self._agents)
        )
        kind = changes.get("type", state.type)
        if kind is not None and not isinstance(kind, str):
            raise HttpError(400, _invalid("type", "It should be a/an String", "datatype_mismatch"))
        self._touch(state)
        state.tags = list(dict.fromkeys(tags))
        state.priority, state.group_id, state.responder_id = priority, group_id, responder_id
        state.type = kind
        self._set_status(state, status, state.updated_at)
        self._publish(state, "ticket_updated")
        return _json(self._ticket_json(state, (), single=True))

    async def _delete_ticket(self, request: web.Request) -> web.Response:
        self.delete_ticket(self._found(request, live=True).id)
        return _empty(204)

    async def _add_note(self, request: web.Request) -> web.Response:
        state = self._found(request, live=True)
        note = await _json_body(request)
        for name in note:
            if name not in ("body", "private", "incoming", "user_id", "notify_emails"):
                raise HttpError(
                    400, _invalid(name, "Unexpected/invalid field in request", "invalid_field")
                )
        body = note.get("body")
        if not isinstance(body, str) or not body.strip():
            code = "missing_field" if body is None else "datatype_mismatch"
            raise HttpError(400, _invalid("body", "It should be a/an String", code))
        private, incoming = note.get("private", True), note.get("incoming", False)
        for name, value in (("private", private), ("incoming", incoming)):
            if not isinstance(value, bool):
                raise HttpError(
                    400, _invalid(name, "It should be a/an Boolean", "datatype_mismatch")
                )
        user_id = _enum(note, "user_id", API_AGENT_ID, (API_AGENT_ID, *self._agents))
        self._touch(state)
        made = self._conversation(
            state, user_id, "", state.updated_at, private=private, incoming=incoming, body=body
        )
        self._publish(state, "note_added")
        return _json({**made, "notified_to_emails": []}, 201)

    async def _conversations(self, request: web.Request) -> web.Response:
        state = self._found(request, live=False)
        return self._paged(request, list(self.notes.get(state.id, [])))

    # -- groups, agents, settings -----------------------------------------------------------

    async def _list_groups(self, request: web.Request) -> web.Response:
        return self._paged(request, [self.groups[k] for k in sorted(self.groups)])

    async def _view_group(self, request: web.Request) -> web.Response:
        group_id = int(request.match_info["group_id"])
        if group_id not in self.groups:
            raise HttpError(404)
        members = sorted(a.id for a in self._agents.values() if group_id in a.group_ids)
        return _json({**self.groups[group_id], "agent_ids": members})

    def _agent_json(self, agent: _Agent) -> Json:
        when = iso(agent.created_at)
        return {
            "available": agent.available,
            "occasional": False,
            "id": agent.id,
            "ticket_scope": 1,
            "created_at": when,
            "updated_at": iso(agent.updated_at),
            "last_active_at": None if agent.last_active_at is None else iso(agent.last_active_at),
            "available_since": (
                None if agent.available_since is None else iso(agent.available_since)
            ),
            "type": "support_agent",
            "contact": {
                "active": True,
                "email": agent.email,
                "job_title": "Support Agent",
                "language": "en",
                "last_login_at": (
                    None if agent.last_active_at is None else iso(agent.last_active_at)
                ),
                "mobile": None,
                "name": agent.name,
                "phone": None,
                "time_zone": "UTC",
                "created_at": when,
                "updated_at": when,
            },
            "signature": None,
        }

    @property
    def agents(self) -> dict[int, Json]:
        """Current agent objects as the agents list shows them."""
        return {k: self._agent_json(self._agents[k]) for k in sorted(self._agents)}

    async def _list_agents(self, request: web.Request) -> web.Response:
        return self._paged(request, list(self.agents.values()))

    def _scope_group_ids(self) -> list[int] | None:
        """The groups the key's agent may see tickets of (group scope), or None (global)."""
        if self.account.groups is None:
            return None
        return sorted(gid for gid, g in self.groups.items() if g["name"] in self.account.groups)

    async def _me(self, request: web.Request) -> web.Response:
        """The API key's own agent (``ticket_scope``: 1 global, 2 group, 3 restricted)."""
        scope = self._scope_group_ids()
        when = iso(self.clock())
        return _json(
            {
                "available": False,
                "occasional": False,
                "id": API_AGENT_ID,
                "ticket_scope": 1 if scope is None else 2,
                "group_ids": scope or [],
                "created_at": when,
                "updated_at": when,
                "type": "support_agent",
                "contact": {"active": True, "email": "api@example.com", "name": "API"},
            }
        )

    async def _view_agent(self, request: web.Request) -> web.Response:
        agent = self._agents.get(int(request.match_info["agent_id"]))
        if agent is None:
            raise HttpError(404)
        return _json(
            {**self._agent_json(agent), "group_ids": agent.group_ids, "role_ids": [AGENT_ROLE_ID]}
        )

    async def _roles(self, request: web.Request) -> web.Response:
        return _json(
            [
                {
                    "id": ROLE_BASE + k,
                    "name": name,
                    "description": description,
                    "default": True,
                    "created_at": iso(0.0),
                    "updated_at": iso(0.0),
                    "agent_type": 1,
                }
                for k, (name, description) in enumerate(ROLES, 1)
            ]
        )

    async def _ticket_fields(self, request: web.Request) -> web.Response:
        def field_row(k: int, name: str, label: str, kind: str, **extra: Any) -> Json:
            return {
                "id": FIELD_BASE + k,
                "name": name,
                "label": label,
                "description": f"Ticket {name}",
                "position": k,
                "required_for_closure": False,
                "required_for_agents": name in ("requester", "subject", "status", "priority"),
                "type": kind,
                "default": True,
                "customers_can_edit": name in ("requester", "subject", "description"),
                "customers_can_filter": False,
                "label_for_customers": label,
                "required_for_customers": name in ("requester", "subject", "description"),
                "displayed_to_customers": name not in ("ticket_type", "source", "priority"),
                "created_at": iso(0.0),
                "updated_at": iso(0.0),
                **extra,
            }

        agents = {a.name: a.id for a in sorted(self._agents.values(), key=lambda a: a.name)}
        rows = [
            field_row(
                1,
                "requester",
                "Search a requester",
                "default_requester",
                portal_cc=False,
                portal_cc_to="company",
            ),
            field_row(2, "subject", "Subject", "default_subject"),
            field_row(
                3,
                "ticket_type",
                "Type",
                "default_ticket_type",
                choices=["Question", "Incident", "Problem", "Feature Request", "Refund"],
            ),
            field_row(4, "source", "Source", "default_source", choices=dict(SOURCE_CHOICES)),
            field_row(
                5,
                "status",
                "Status",
                "default_status",
                choices={str(k): list(v) for k, v in STATUS_CHOICES.items()},
            ),
            field_row(
                6,
                "priority",
                "Priority",
                "default_priority",
                choices={v: k for k, v in PRIORITY_NAMES.items()},
            ),
            field_row(
                7,
                "group",
                "Group",
                "default_group",
                choices={g["name"]: g["id"] for g in self.groups.values()},
            ),
            field_row(8, "agent", "Agent", "default_agent", choices=agents),
            field_row(9, "product", "Product", "default_product", choices={}),
            field_row(10, "description", "Description", "default_description"),
            field_row(11, "company", "Company", "default_company"),
        ]
        return _json(rows)

    async def _sla_policies(self, request: web.Request) -> web.Response:
        target = {
            f"priority_{number}": {
                "respond_within": respond,
                "resolve_within": respond * RESOLVE_FACTOR,
                "next_respond_within": None,
                "business_hours": False,
                "escalation_enabled": True,
            }
            for number, respond in sorted(RESPOND_WITHIN.items(), reverse=True)
        }
        policy = {
            "id": SLA_POLICY_BASE + 1,
            "name": "Default SLA Policy",
            "description": "default policy",
            "active": True,
            "sla_target": target,
            "applicable_to": {},
            "is_default": True,
            "position": 1,
            "created_at": iso(0.0),
            "updated_at": iso(0.0),
            "escalation": {
                "reminder_response": {},
                "reminder_resolution": {},
                "response": {"escalation_time": 0, "agent_ids": [-1]},
                "resolution": {"level_1": {"escalation_time": 0, "agent_ids": [-1]}},
                "reminder_next_response": {},
                "next_response": {},
            },
        }
        return _json([policy])

    async def _surveys(self, request: web.Request) -> web.Response:
        return _json(
            [
                {
                    "id": SURVEY_ID,
                    "title": "Default Survey",
                    "active": True,
                    "created_at": iso(0.0),
                    "updated_at": iso(0.0),
                    "questions": [
                        {
                            "id": "default_question",
                            "label": "How would you rate your overall satisfaction for the "
                            "resolution provided by the agent?",
                            "accepted_ratings": [103, 100, -103],
                            "default": True,
                        }
                    ],
                }
            ]
        )

    async def _satisfaction_ratings(self, request: web.Request) -> web.Response:
        q = request.query
        since = _time(q["created_since"], "created_since") if "created_since" in q else None
        rows = [
            self.ratings[k]
            for k in sorted(self.ratings)
            if since is None or parse_iso(self.ratings[k]["created_at"]) >= since
        ]
        return self._paged(request, rows)

    # -- webhooks ---------------------------------------------------------------------------

    async def _deliver(self, url: str) -> None:
        """POST the queued hints, one at a time; failures are counted and dropped."""
        headers = {"Content-Type": "application/json"}
        if self.webhook_secret is not None:
            headers["X-Supervisor-Webhook-Secret"] = self.webhook_secret
        async with httpx.AsyncClient(timeout=5.0) as client:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._hints:
                    hint = self._hints.popleft()
                    try:
                        await client.post(url, content=json.dumps(hint), headers=headers)
                    except (httpx.HTTPError, OSError):
                        self.webhooks_failed += 1
                    else:
                        self.webhooks_sent += 1


def _limited(retry_after: int) -> web.Response:
    response = _json(RATE_LIMITED, 429)
    response.headers["Retry-After"] = str(retry_after)
    return response


async def _json_body(request: web.Request) -> Json:
    try:
        body = await request.json()
    except ValueError:
        raise HttpError(
            400,
            {"code": "invalid_json", "message": "Request body has invalid json format"},
        ) from None
    if not isinstance(body, dict):
        raise HttpError(
            400, {"code": "invalid_json", "message": "Request body has invalid json format"}
        )
    return body


def _positive(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise HttpError(400, _invalid(name, "It should be a Positive Number"))
    return value


def _one_of(raw: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if raw is None:
        return None
    if raw not in allowed:
        raise HttpError(
            400, _invalid(name, f"It should be one of these values: '{','.join(allowed)}'")
        )
    return raw


def _choices(raw: str | None, allowed: tuple[str, ...], name: str) -> list[str]:
    wanted = [p.strip() for p in (raw or "").split(",") if p.strip()]
    for value in wanted:
        _one_of(value, allowed, name)
    return wanted


def _time(raw: str, name: str) -> float:
    try:
        return parse_iso(raw)
    except ValueError:
        raise HttpError(
            400, _invalid(name, "It should be in the 'valid date time' format")
        ) from None


def _enum(changes: Mapping[str, Any], name: str, current: Any, allowed: tuple[Any, ...]) -> Any:
    if name not in changes:
        return current
    value = changes[name]
    if isinstance(value, bool) or value not in allowed:
        shown = ",".join(str(a) for a in allowed if a is not None)
        raise HttpError(400, _invalid(name, f"It should be one of these values: '{shown}'"))
    return value


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type="application/json",
        charset="utf-8",
    )


def _empty(status: int) -> web.Response:
    return web.Response(status=status)
