"""A reproducible contact-center day, from a seed. It is an adapter like any other.

The floor opens at 08:00 floor time and closes at 20:00. Voice and chat contacts arrive
as a Poisson process whose rate follows the hour (with a lunchtime peak that meets the
agents' lunch breaks), wait in FIFO queues, are answered by the longest-idle skilled
agent or abandon when the caller's patience runs out. E-mail tickets arrive with SLA due
times, are worked in order of due time, and some of them breach, complain or escalate.

Everything the simulation draws comes from one ``random.Random(seed)`` in event order,
so the same seed and options give the same events, whatever the speed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Literal, NamedTuple

from pydantic import Field

from supervisor_tui import i18n
from supervisor_tui.adapters import simfloor
from supervisor_tui.adapters.base import Clock, Sink, SourceSettings
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    AgentUpserted,
    Channel,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    ForecastImported,
    ForecastInterval,
    HealthState,
    NewEvent,
    Payload,
    Priority,
    QueueUpserted,
    ScheduledActivity,
    ScheduleImported,
    SlaChanged,
    SlaState,
    TicketStatus,
    TicketUpserted,
)

OPEN_S = 8 * 3600  # floor time of sim t = 0
CLOSE_AFTER_S = 12 * 3600
HOURLY_LOAD = (0.6, 0.9, 1.0, 1.2, 1.5, 1.45, 1.1, 1.0, 0.95, 0.85, 0.6, 0.4)
SLA_TARGET_S = {
    Priority.URGENT: 3600,
    Priority.HIGH: 4 * 3600,
    Priority.NORMAL: 8 * 3600,
    Priority.LOW: 24 * 3600,
}
FIRST = (
    "Ana",
    "Ben",
    "Chloé",
    "Dev",
    "Emeka",
    "Fatima",
    "Gus",
    "Hana",
    "Ivan",
    "Jia",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Aiko",
    "Bruno",
    "Carmen",
    "Dara",
    "Eli",
    "Farah",
    "Goran",
    "Hiro",
    "Ines",
    "Jonas",
    "Kira",
    "Luca",
    "Mira",
    "Nils",
)
LAST = "ABCDEFGHJKLMNOPRSTVWZ"
SUBJECTS = (
    "Refund not received",
    "Invoice shows wrong amount",
    "Cannot log in after reset",
    "Order arrived damaged",
    "Change delivery address",
    "Charged twice this month",
    "App crashes on start",
    "Cancel my subscription",
    "Where is my order?",
    "Export fails with error 500",
)
CUSTOMERS = (
    "Avery",
    "Blake",
    "Casey",
    "Drew",
    "Emery",
    "Finley",
    "Harper",
    "Jordan",
    "Kai",
    "Logan",
    "Morgan",
    "Parker",
)


@dataclass(frozen=True, slots=True)
class SimQueue:
    queue_id: str
    name: str
    channel: Channel
    aht_s: float
    patience_s: float
    wrap_s: float


QUEUE_PATTERN = (
    ("voice-sales", "Voice · Sales", Channel.VOICE, 210.0, 110.0, 25.0),
    ("voice-support", "Voice · Support", Channel.VOICE, 300.0, 140.0, 35.0),
    ("chat", "Chat", Channel.CHAT, 420.0, 150.0, 20.0),
    ("email-billing", "Email · Billing", Channel.EMAIL, 480.0, 0.0, 0.0),
    ("email-tech", "Email · Tech", Channel.EMAIL, 600.0, 0.0, 0.0),
)


@dataclass(slots=True)
class _Agent:
    agent_id: str
    name: str
    queue_ids: tuple[str, ...]
    shift_start: float
    shift_end: float
    breaks: list[tuple[float, float, str]]  # (start, length, reason), in order
    state: AgentState = AgentState.OFFLINE
    since: float = 0.0
    on_shift: bool = False
    pending_break: tuple[float, str] | None = None  # due while busy: taken when free
    handled: int = 0


@dataclass(slots=True)
class _Contact:
    contact_id: str
    queue: SimQueue
    offered_at: float
    patience_s: float
    answered: bool = False


@dataclass(slots=True)
class _Ticket:
    ticket_id: str
    queue: SimQueue
    priority: Priority
    created_at: float
    subject: str
    requester: str
    tags: tuple[str, ...]
    escalated: bool
    status: TicketStatus = TicketStatus.NEW
    replied: bool = False
    updated_at: float = 0.0
    solved_at: float | None = None
    satisfaction: str | None = None
    agent_replies: int = 0
    assignee_id: str | None = None


class _Due(NamedTuple):
    """What happens when: ordered by (at, order), ``order`` unique, so the action is never
    compared (a tuple's comparison, not a dataclass's generated one: it is the heap's key
    for every event of the floor)."""

    at: float
    order: int
    action: Callable[[], None]


@dataclass(frozen=True, slots=True)
class SimOptions:
    seed: int = 7
    agents: int = 40
    queues: int = 5
    speed: float | None = 1.0
    """Simulated seconds per wall second; None runs as fast as the machine can."""
    warmup_s: float = 3 * 3600 + 2400
    """Floor time already behind us when the demo opens (events are back-filled)."""
    hours: float | None = None
    """Stop after this many simulated hours from opening; None runs until cancelled."""
    epoch: float | None = None
    """Wall time of the floor's 08:00; None places the warm-up's end at now."""
    source: str = "simulator"
    backlog: int | None = None
    """Open tickets per e-mail queue when the floor opens; None draws 25 to 40."""
    first_queue: int = 0
    """Where in the queue pattern (voice, voice, chat, e-mail, e-mail) this floor starts."""
    brand: str = ""
    """Put before every queue name ("Retail · Chat"), for a second floor on the same board."""
    first_agent: int = 0
    """Agents are numbered (and named) from here, so two floors never share a name."""
    ticket_base: int = 10_000
    """Ticket numbers start above this (a second floor's do not collide with the first's)."""
    language: str = "en"
    """The floor's language: its agents', customers', queues' and tickets' names (English, or
    any of ``simfloor.WORDS``; the events drawn are the same, only the words differ)."""


class FloorSimulation:
    """The discrete-event simulation itself: pull events with ``advance(until)``."""

    def __init__(self, options: SimOptions, epoch: float) -> None:
        self.options = options
        self.epoch = epoch
        self.source = options.source
        self.rng = random.Random(options.seed)
        self.words = simfloor.WORDS.get(options.language)
        """The floor's words; None: the simulator's own English ones."""
        self.t = 0.0
        self._heap: list[_Due] = []
        self._order = itertools.count()
        self._ids = itertools.count(1)
        self._out: list[tuple[float, Payload]] = []
        self.emitted = 0
        self.queues = self._make_queues(options.queues)
        self.agents = self._make_agents(options.agents)
        self.waiting: dict[str, dict[str, _Contact]] = {q.queue_id: {} for q in self.queues}
        self.tickets: dict[str, _Ticket] = {}
        self.workable: dict[str, dict[str, _Ticket]] = {q.queue_id: {} for q in self.queues}
        """New or open tickets nobody is working on, per queue."""
        self._due_first: dict[str, list[tuple[float, int, str]]] = {
            q.queue_id: [] for q in self.queues
        }
        """Each queue's workable tickets by (due, place in ``workable``), entries of tickets
        worked since or re-keyed left in until they come up (``_due_now`` says which is
        current): the next ticket is a peek, not a walk of a queue's backlog (thousands a
        queue on a big floor, walked for each agent who became free)."""
        self._due_now: dict[str, tuple[float, int, str]] = {}
        self._placed = itertools.count()
        self._agent_place = {agent.agent_id: k for k, agent in enumerate(self.agents)}
        self._idle_first: dict[str, list[tuple[float, int]]] = {q.queue_id: [] for q in self.queues}
        """Each queue's agents by (available since, place on the floor), as ``_due_first``:
        entries of agents no longer available since that instant are dropped when they come
        up."""
        self.rates = self._size_rates()
        self._start()

    # -- set-up ---------------------------------------------------------------------------

    def _make_queues(self, count: int) -> list[SimQueue]:
        out = []
        for k in range(count):
            i = k + self.options.first_queue
            qid, name, channel, aht, patience, wrap = QUEUE_PATTERN[i % len(QUEUE_PATTERN)]
            brand = self.options.brand
            if self.words is not None:
                name = self.words.queues.get(name, name)
                brand = self.words.brands.get(brand, brand)
            if i >= len(QUEUE_PATTERN):
                n = i // len(QUEUE_PATTERN) + 1
                qid, name = f"{qid}-{n}", f"{name} {n}"
            if brand:
                name = f"{brand} · {name}"
            out.append(SimQueue(qid, name, channel, aht, patience, wrap))
        return out

    def _make_agents(self, count: int) -> list[_Agent]:
        voice = [q.queue_id for q in self.queues if q.channel is Channel.VOICE]
        chat = [q.queue_id for q in self.queues if q.channel is Channel.CHAT]
        email = [q.queue_id for q in self.queues if q.channel is Channel.EMAIL]
        starts = (0.0, 1800.0, 5400.0, 12_600.0)
        agents = []
        for k in range(count):
            i = k + self.options.first_agent
            roll = i % 20
            if roll < 9:
                skills = self._pick(voice, 2)
            elif roll < 13:
                skills = self._pick(chat, 1)
            elif roll < 18:
                skills = self._pick(email, 2)
            else:
                skills = self._pick(voice, 1) + self._pick(chat, 1)
            if not skills:  # a floor without that channel: any queue it has
                skills = self._pick(chat + email + voice, 2)
            start = starts[i % len(starts)] + self.rng.choice((0.0, 0.0, 900.0))
            length = 8.5 * 3600
            breaks = [
                (start + 2 * 3600 + self.rng.uniform(-600, 600), 900.0, "Break"),
                (start + 4 * 3600 + self.rng.uniform(-900, 900), 1800.0, "Lunch"),
                (start + 6.5 * 3600 + self.rng.uniform(-600, 600), 900.0, "Break"),
            ]
            if self.words is not None:
                name = simfloor.agent_name(self.options.language, i)
            else:
                name = f"{FIRST[i % len(FIRST)]} {LAST[(i * 7 + i // len(FIRST)) % len(LAST)]}."
                if i >= len(FIRST) * len(LAST):
                    name += f" {i}"
            agents.append(
                _Agent(f"a{i + 1:04d}", name, tuple(skills), start, start + length, breaks)
            )
        return agents

    def _pick(self, ids: list[str], n: int) -> list[str]:
        if not ids:
            return []
        if len(ids) <= n:
            return list(ids)
        first = self.rng.randrange(len(ids))
        return [ids[(first + k) % len(ids)] for k in range(n)]

    def _size_rates(self) -> dict[str, float]:
        """Arrivals per second at load 1.0: about 80 % of what the skilled agents can take."""
        rates = {}
        for queue in self.queues:
            capacity = 0.0
            for agent in self.agents:
                if queue.queue_id in agent.queue_ids:
                    capacity += 1.0 / len(agent.queue_ids)
            busy = queue.aht_s + queue.wrap_s
            rates[queue.queue_id] = 0.78 * capacity / busy if capacity else 0.0
        return rates

    def _start(self) -> None:
        for queue in self.queues:
            self._emit(
                0.0, QueueUpserted(queue_id=queue.queue_id, name=queue.name, channel=queue.channel)
            )
        for agent in self.agents:
            self._emit(
                0.0,
                AgentUpserted(agent_id=agent.agent_id, name=agent.name, queue_ids=agent.queue_ids),
            )
            self._set_state(agent, AgentState.OFFLINE, "offline")
            self._at(agent.shift_start, partial(self._shift_starts, agent))
            for start, length, reason in agent.breaks:
                self._at(start, partial(self._break_due, agent, length, reason))
            self._at(agent.shift_end, partial(self._shift_ends, agent))
        for queue in self.queues:
            if queue.channel.is_realtime:
                self._schedule_arrival(queue)
            else:
                self._seed_backlog(queue)
                self._schedule_ticket(queue)

    # -- machinery --------------------------------------------------------------------------

    def _at(self, t: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, _Due(t, next(self._order), action))

    def _emit(self, t: float, payload: Payload) -> None:
        self._out.append((t, payload))

    def ts(self, t: float) -> float:
        return round(self.epoch + t, 3)

    def load(self, t: float) -> float:
        hour = int(t // 3600)
        return HOURLY_LOAD[hour] if 0 <= hour < len(HOURLY_LOAD) else 0.0

    def next_due(self) -> float | None:
        return self._heap[0].at if self._heap else None

    def advance(self, until: float) -> Iterator[NewEvent]:
        """Run the simulation up to sim time ``until`` and yield the events, in order."""
        while self._heap and self._heap[0].at <= until:
            due = heapq.heappop(self._heap)
            self.t = due.at
            due.action()
            yield from self._drain()
        self.t = max(self.t, until)
        yield from self._drain()

    def _drain(self) -> Iterator[NewEvent]:
        out, self._out = self._out, []
        for t, payload in out:
            self.emitted += 1
            at = self.ts(t)
            yield NewEvent(
                source=self.source,
                key=f"sim-{self.options.seed}-{self.emitted}",
                occurred_at=at,
                received_at=at,
                payload=payload,
            )

    # -- agents -----------------------------------------------------------------------------

    def _set_state(
        self, agent: _Agent, state: AgentState, raw: str, reason: str = "", work: str = ""
    ) -> None:
        agent.state = state
        agent.since = self.t
        if state is AgentState.AVAILABLE:
            entry = (self.t, self._agent_place[agent.agent_id])
            for queue_id in agent.queue_ids:
                heapq.heappush(self._idle_first[queue_id], entry)
        self._emit(
            self.t,
            AgentStateChanged(
                agent_id=agent.agent_id,
                state=state,
                raw_state=raw,
                reason=reason,
                since=self.ts(self.t),
                work=work,
            ),
        )

    def _shift_starts(self, agent: _Agent) -> None:
        agent.on_shift = True
        self._become_free(agent)

    def _shift_ends(self, agent: _Agent) -> None:
        agent.on_shift = False
        if agent.state is AgentState.AVAILABLE:
            self._set_state(agent, AgentState.OFFLINE, "offline")

    def _break_due(self, agent: _Agent, length: float, reason: str) -> None:
        if not agent.on_shift:
            return
        if agent.state is AgentState.AVAILABLE:
            self._take_break(agent, length, reason)
        else:  # finish the current contact first
            agent.pending_break = (length, reason)

    def _take_break(self, agent: _Agent, length: float, reason: str) -> None:
        agent.pending_break = None
        if self.words is not None:
            reason = self.words.reasons.get(reason, reason)
        self._set_state(agent, AgentState.AWAY, "away", reason=reason)
        back = self.t + length * self.rng.uniform(0.95, 1.25)
        self._at(back, lambda: self._become_free(agent))

    def _become_free(self, agent: _Agent) -> None:
        if not agent.on_shift or self.t >= agent.shift_end:
            agent.on_shift = False
            self._set_state(agent, AgentState.OFFLINE, "offline")
            return
        if agent.pending_break is not None:
            self._take_break(agent, *agent.pending_break)
            return
        contact = self._longest_waiting(agent)
        if contact is not None:
            self._answer(agent, contact)
            return
        ticket = self._next_ticket(agent)
        if ticket is not None:
            self._work_ticket(agent, ticket)
            return
        if agent.state is not AgentState.AVAILABLE:
            self._set_state(agent, AgentState.AVAILABLE, "online")

    def _idle_agent(self, queue_id: str) -> _Agent | None:
        """The queue's agent available longest (on a tie, the first of the floor's)."""
        heap = self._idle_first.get(queue_id)
        agents = self.agents
        while heap:
            since, place = heap[0]
            agent = agents[place]
            if agent.state is AgentState.AVAILABLE and agent.since == since:
                return agent
            heapq.heappop(heap)  # busy since, or available again later
        return None

    # -- voice and chat ---------------------------------------------------------------------

    def _schedule_arrival(self, queue: SimQueue) -> None:
        rate = self.rates[queue.queue_id]
        if rate <= 0:
            return
        t = self._next_arrival(rate)
        if t is not None:
            self._at(t, lambda: self._arrive(queue))

    def _next_arrival(self, rate: float) -> float | None:
        """When the next contact arrives, by thinning: a Poisson process whose rate follows
        the hour. None once the floor has closed."""
        peak = rate * max(HOURLY_LOAD)
        t = self.t
        while True:
            t += self.rng.expovariate(peak)
            if t >= CLOSE_AFTER_S:
                return None
            if self.rng.random() < self.load(t) * rate / peak:
                return t

    def _arrive(self, queue: SimQueue) -> None:
        contact = _Contact(
            f"c{next(self._ids)}", queue, self.t, self.rng.expovariate(1 / queue.patience_s)
        )
        self._emit(
            self.t,
            ContactOffered(
                contact_id=contact.contact_id,
                queue_id=queue.queue_id,
                channel=queue.channel,
                offered_at=self.ts(self.t),
            ),
        )
        self._schedule_arrival(queue)
        agent = self._idle_agent(queue.queue_id)
        ring = self.rng.uniform(2.0, 9.0)
        self.waiting[queue.queue_id][contact.contact_id] = contact
        if agent is not None:
            agent.state = AgentState.BUSY  # reserved while it rings
            self._at(self.t + ring, lambda: self._answer(agent, contact))
        self._at(self.t + contact.patience_s, lambda: self._abandon(contact))

    def _abandon(self, contact: _Contact) -> None:
        if contact.answered:
            return
        waiting = self.waiting[contact.queue.queue_id]
        if waiting.pop(contact.contact_id, None) is None:
            return
        self._emit(
            self.t,
            ContactAbandoned(
                contact_id=contact.contact_id,
                queue_id=contact.queue.queue_id,
                abandoned_at=self.ts(self.t),
                wait_s=round(self.t - contact.offered_at, 3),
            ),
        )

    def _longest_waiting(self, agent: _Agent) -> _Contact | None:
        best = None
        for queue_id in agent.queue_ids:
            for contact in self.waiting[queue_id].values():
                if best is None or contact.offered_at < best.offered_at:
                    best = contact
                break  # dicts keep arrival order: the first is the longest waiting
        return best

    def _answer(self, agent: _Agent, contact: _Contact) -> None:
        if contact.answered or contact.contact_id not in self.waiting[contact.queue.queue_id]:
            self._become_free_later(agent)  # the caller hung up while it rang
            return
        contact.answered = True
        del self.waiting[contact.queue.queue_id][contact.contact_id]
        queue = contact.queue
        self._emit(
            self.t,
            ContactAnswered(
                contact_id=contact.contact_id,
                queue_id=queue.queue_id,
                agent_id=agent.agent_id,
                answered_at=self.ts(self.t),
                wait_s=round(self.t - contact.offered_at, 3),
            ),
        )
        kind = "call" if queue.channel is Channel.VOICE else "chat"
        self._set_state(
            agent,
            AgentState.BUSY,
            "on_call" if kind == "call" else "chatting",
            work=f"{kind} {contact.contact_id}",
        )
        talk = self._lognormal(queue.aht_s - queue.wrap_s, 0.5)
        self._at(self.t + talk, lambda: self._wrap(agent, contact, talk))

    def _become_free_later(self, agent: _Agent) -> None:
        agent.state = AgentState.WRAP_UP
        self._become_free(agent)

    def _wrap(self, agent: _Agent, contact: _Contact, talk: float) -> None:
        queue = contact.queue
        self._set_state(agent, AgentState.WRAP_UP, "wrap_up", work=f"wrap {contact.contact_id}")
        wrap = max(5.0, self.rng.gauss(queue.wrap_s, queue.wrap_s / 4))

        def done() -> None:
            agent.handled += 1
            self._emit(
                self.t,
                ContactEnded(
                    contact_id=contact.contact_id,
                    queue_id=queue.queue_id,
                    agent_id=agent.agent_id,
                    ended_at=self.ts(self.t),
                    talk_s=round(talk, 3),
                    wrap_s=round(wrap, 3),
                ),
            )
            self._become_free(agent)

        self._at(self.t + wrap, done)

    def _lognormal(self, mean: float, sigma: float) -> float:
        mu = math.log(max(mean, 1.0)) - sigma * sigma / 2
        return max(15.0, self.rng.lognormvariate(mu, sigma))

    # -- e-mail tickets ---------------------------------------------------------------------

    def _new_ticket(self, queue: SimQueue, created_at: float) -> _Ticket:
        roll = self.rng.random()
        priority = (
            Priority.URGENT
            if roll < 0.05
            else Priority.HIGH
            if roll < 0.2
            else Priority.NORMAL
            if roll < 0.8
            else Priority.LOW
        )
        tags: tuple[str, ...] = ("complaint",) if self.rng.random() < 0.015 else ()
        ticket = _Ticket(
            ticket_id=str(self.options.ticket_base + next(self._ids)),
            queue=queue,
            priority=priority,
            created_at=created_at,
            subject=self.rng.choice(SUBJECTS if self.words is None else self.words.subjects),
            requester=self._customer(),
            tags=tags,
            escalated=self.rng.random() < 0.005,
            updated_at=created_at,
        )
        self.tickets[ticket.ticket_id] = ticket
        self._make_workable(ticket)
        return ticket

    def _make_workable(self, ticket: _Ticket) -> None:
        queue_id, ticket_id = ticket.queue.queue_id, ticket.ticket_id
        kept = self._due_now.get(ticket_id)
        if ticket_id in self.workable[queue_id] and kept is not None:
            place = kept[1]  # still in its place in the queue; only its due may change
        else:
            place = next(self._placed)
        self.workable[queue_id][ticket_id] = ticket
        entry = (self._due(ticket), place, ticket_id)
        self._due_now[ticket_id] = entry
        heapq.heappush(self._due_first[queue_id], entry)

    def _customer(self) -> str:
        """A customer's name; two draws in every language, so the floor's events are the
        same whatever it speaks."""
        first, last = self.rng.choice(CUSTOMERS), self.rng.choice(LAST)
        if self.words is None:
            return f"{first} {last}."
        return simfloor.customer_name(
            self.options.language, CUSTOMERS.index(first) * len(LAST) + LAST.index(last)
        )

    def _seed_backlog(self, queue: SimQueue) -> None:
        """Tickets already open when the floor opens, up to three days old."""
        count = 25 + self.rng.randrange(15)
        if self.options.backlog is not None:
            count = self.options.backlog
        for _ in range(count):
            age = self.rng.expovariate(1 / (20 * 3600))
            ticket = self._new_ticket(queue, -min(age, 72 * 3600))
            if self.rng.random() < 0.35:
                ticket.status = TicketStatus.OPEN
                ticket.replied = True
                self._make_workable(ticket)  # due later now
            self._publish_ticket(ticket, at=0.0)
            if not ticket.replied:
                self._sla(ticket, at=0.0)

    def _schedule_ticket(self, queue: SimQueue) -> None:
        rate = self.rates[queue.queue_id]
        if rate <= 0:
            return
        t = self._next_arrival(rate)
        if t is not None:
            self._at(t, lambda: self._ticket_arrives(queue))

    def _ticket_arrives(self, queue: SimQueue) -> None:
        ticket = self._new_ticket(queue, self.t)
        self._publish_ticket(ticket)
        self._sla(ticket)
        self._schedule_ticket(queue)
        agent = self._idle_agent(queue.queue_id)
        if agent is not None:
            self._work_ticket(agent, ticket)

    def _sla(self, ticket: _Ticket, at: float | None = None) -> None:
        at = self.t if at is None else at
        target = SLA_TARGET_S[ticket.priority]
        due = ticket.created_at + target
        state = SlaState.BREACHED if due <= at else SlaState.ACTIVE
        self._emit_sla(ticket, state, at)
        if state is SlaState.ACTIVE:
            self._at(due, lambda: self._sla_deadline(ticket))

    def _sla_deadline(self, ticket: _Ticket) -> None:
        if ticket.replied or ticket.ticket_id not in self.tickets:
            return
        self._emit_sla(ticket, SlaState.BREACHED, self.t)

    def _emit_sla(self, ticket: _Ticket, state: SlaState, at: float) -> None:
        """The ticket's first-reply SLA, in the given state."""
        target = SLA_TARGET_S[ticket.priority]
        self._emit(
            at,
            SlaChanged(
                ticket_id=ticket.ticket_id,
                metric="first_reply_time",
                policy=f"{ticket.priority.value} e-mail",
                target_s=target,
                due_at=self.ts(ticket.created_at + target),
                state=state,
            ),
        )

    def _publish_ticket(self, ticket: _Ticket, at: float | None = None) -> None:
        at = self.t if at is None else at
        ticket.updated_at = max(ticket.updated_at, at)
        self._emit(
            at,
            TicketUpserted(
                ticket_id=ticket.ticket_id,
                status=ticket.status,
                raw_status=ticket.status.value,
                priority=ticket.priority,
                channel=Channel.EMAIL,
                queue_id=ticket.queue.queue_id,
                requester=ticket.requester,
                subject=ticket.subject,
                created_at=self.ts(ticket.created_at),
                updated_at=self.ts(ticket.updated_at),
                solved_at=None if ticket.solved_at is None else self.ts(ticket.solved_at),
                tags=ticket.tags,
                escalated=ticket.escalated,
                satisfaction=ticket.satisfaction,
                agent_replies=ticket.agent_replies,
                assignee_id=ticket.assignee_id,
            ),
        )

    def _next_ticket(self, agent: _Agent) -> _Ticket | None:
        """The workable ticket due first in the agent's queues (on a tie, the first of its
        queues, then the one there longest)."""
        best: tuple[float, int, str] | None = None
        best_queue = ""
        current = self._due_now
        for queue_id in agent.queue_ids:
            heap = self._due_first.get(queue_id)
            if not heap:
                continue
            while heap and current.get(heap[0][2]) is not heap[0]:
                heapq.heappop(heap)  # worked since, or re-keyed
            if heap and (best is None or heap[0][0] < best[0]):
                best, best_queue = heap[0], queue_id
        return None if best is None else self.workable[best_queue][best[2]]

    @staticmethod
    def _due(ticket: _Ticket) -> float:
        return ticket.created_at + SLA_TARGET_S[ticket.priority] * (3 if ticket.replied else 1)

    def _work_ticket(self, agent: _Agent, ticket: _Ticket) -> None:
        self.workable[ticket.queue.queue_id].pop(ticket.ticket_id, None)
        self._due_now.pop(ticket.ticket_id, None)
        self._set_state(agent, AgentState.BUSY, "working", work=f"mail #{ticket.ticket_id}")
        handle = self._lognormal(ticket.queue.aht_s, 0.6)

        def replied() -> None:
            first = not ticket.replied
            ticket.replied = True
            ticket.agent_replies += 1
            ticket.assignee_id = agent.agent_id
            solved = self.rng.random() < 0.6
            ticket.status = TicketStatus.SOLVED if solved else TicketStatus.PENDING
            if solved:
                ticket.solved_at = self.t
                if self.rng.random() < 0.35:
                    ticket.satisfaction = "good" if self.rng.random() < 0.85 else "bad"
            self._publish_ticket(ticket)
            if first:
                self._emit_sla(ticket, SlaState.FULFILLED, self.t)
            if not solved:
                self._at(
                    self.t + self.rng.uniform(1800, 3 * 3600),
                    lambda: self._customer_replies(ticket),
                )
            agent.handled += 1
            self._become_free(agent)

        self._at(self.t + handle, replied)

    def _customer_replies(self, ticket: _Ticket) -> None:
        if ticket.status is not TicketStatus.PENDING:
            return
        ticket.status = TicketStatus.OPEN
        self._make_workable(ticket)
        self._publish_ticket(ticket)


class SimulatorSource(SourceSettings):
    name: str = Field(min_length=1)
    kind: Literal["simulator"]
    seed: int = 7
    agents: int = Field(default=40, ge=1, le=20_000)
    queues: int = Field(default=5, ge=1, le=2_000)
    speed: float = Field(default=1.0, gt=0, le=3600)
    """Simulated seconds per wall-clock second."""
    warmup_s: float = Field(default=3 * 3600 + 2400, ge=0, le=12 * 3600)
    """How much of the simulated day is already behind us at start (back-filled at once)."""
    language: str | None = None
    """Whose names the floor has ("en", "vi", "zh", "ja", "uk"); None: the board's language."""


class SimulatorAdapter:
    """Feeds a simulated floor into the store, at wall-clock speed or as fast as it can."""

    settings_model = SimulatorSource

    kind = "simulator"

    def __init__(
        self, name: str = "simulator", options: SimOptions | None = None, clock: Clock = time.time
    ) -> None:
        self.name = name
        self.options = options or SimOptions(source=name)
        if self.options.source != name:
            self.options = replace(self.options, source=name)
        self._wall = clock
        self.write_backs: list[tuple[str, dict[str, Any]]] = []
        epoch = self.options.epoch
        if epoch is None:
            epoch = round(clock() - self.options.warmup_s)
        self.epoch = epoch
        self._wall_start = clock()

    @classmethod
    def from_config(cls, name: str, settings: dict[str, Any], clock: Clock) -> SimulatorAdapter:
        allowed = {"seed", "agents", "queues", "speed", "warmup_s", "hours", "language"}
        chosen = {k: v for k, v in settings.items() if k in allowed and v is not None}
        chosen.setdefault("language", i18n.current())
        return cls(name, SimOptions(source=name, **chosen), clock)

    def sim_time(self) -> float:
        """Sim seconds since the floor opened, as the wall clock says now."""
        speed = self.options.speed
        if speed is None:
            return math.inf
        return self.options.warmup_s + (self._wall() - self._wall_start) * speed

    def clock(self) -> float:
        """The floor's own clock (equals the wall clock at speed 1)."""
        speed = self.options.speed
        if speed is None or speed == 1.0:
            return self._wall()
        return self.epoch + self.sim_time()

    async def run(self, sink: Sink, cursor: str | None) -> None:
        resume_after = 0
        if cursor:
            state = json.loads(cursor)
            if state.get("seed") == self.options.seed:
                self.epoch = float(state["epoch"])
                resume_after = int(state["emitted"])
                if self.options.speed is not None:
                    self._wall_start = self._wall()
                    self.options = replace(self.options, warmup_s=self._wall() - self.epoch)
        sim = FloorSimulation(self.options, self.epoch)
        await sink.health(HealthState.CONNECTED, "simulated floor")
        end = None if self.options.hours is None else self.options.hours * 3600
        batch: list[NewEvent] = []
        while True:
            now = self.sim_time()
            until = now if end is None else min(now, end)
            if math.isinf(until):
                nxt = sim.next_due()
                until = (nxt + 60.0) if nxt is not None else (end or 0.0)
            for event in sim.advance(until):
                if sim.emitted <= resume_after:
                    continue
                batch.append(event)
                if len(batch) >= 2000:
                    await sink.emit(batch, self._cursor(sim))
                    batch = []
            if batch:
                await sink.emit(batch, self._cursor(sim))
                batch = []
            if end is not None and sim.t >= end:
                return
            if self.options.speed is None:
                await asyncio.sleep(0)
                if sim.next_due() is None:
                    return
                continue
            await asyncio.sleep(0.25)

    def _cursor(self, sim: FloorSimulation) -> str:
        return json.dumps({"seed": self.options.seed, "epoch": self.epoch, "emitted": sim.emitted})

    async def write_back(self, action: str, body: dict[str, Any]) -> None:
        """The simulated helpdesk takes the note; a real one gets an internal comment."""
        self.write_backs.append((action, body))


WEEK_S = 7 * 86_400
HISTORY_SOURCE = "history"
FORECAST_SOURCE = "forecast"
SCHEDULE_SOURCE = "schedule"


def _same(value: str) -> str:
    return value


def history_events(
    options: SimOptions,
    epoch: float,
    weeks: int,
    *,
    queue_id: Callable[[str], str] = _same,
    received_at: float | None = None,
) -> list[NewEvent]:
    """The same weekday's calls and chats in the ``weeks`` weeks before the floor whose
    08:00 is ``epoch``, so a forecast has history from the first minute. Arrivals follow the
    simulation's own rates and hourly load (a seed of its own per week, so weeks differ as
    real ones do); each contact is answered at once and handled for a lognormal time around
    the queue's AHT: only what a forecast reads (offered, handle time) is drawn, so weeks
    are written in a moment. ``queue_id`` turns the simulation's ids into the helpdesk's."""
    floor = FloorSimulation(replace(options, speed=None), epoch)
    out: list[tuple[float, Payload]] = []
    for week in range(1, weeks + 1):
        rng = random.Random(options.seed + 1000 * week)
        day = epoch - week * WEEK_S
        for queue in floor.queues:
            rate = floor.rates[queue.queue_id]
            if not queue.channel.is_realtime or rate <= 0:
                continue
            peak = rate * max(HOURLY_LOAD)
            qid = queue_id(queue.queue_id)
            if week == weeks:  # named before its first contact, as the helpdesk names it
                out.append(
                    (
                        day - 1,
                        _construct(
                            QueueUpserted, queue_id=qid, name=queue.name, channel=queue.channel
                        ),
                    )
                )
            t, n = 0.0, 0
            while True:
                t += rng.expovariate(peak)
                if t >= CLOSE_AFTER_S:
                    break
                if rng.random() >= floor.load(t) * rate / peak:
                    continue
                n += 1
                cid = f"w{week}-{queue.queue_id}-{n}"
                at = round(day + t, 3)
                wait = round(rng.uniform(2.0, 9.0), 3)
                talk = round(max(15.0, rng.lognormvariate(math.log(queue.aht_s) - 0.125, 0.5)), 3)
                out.append(
                    (
                        at,
                        _construct(
                            ContactOffered,
                            contact_id=cid,
                            queue_id=qid,
                            channel=queue.channel,
                            offered_at=at,
                        ),
                    )
                )
                out.append(
                    (
                        at + wait,
                        _construct(
                            ContactAnswered,
                            contact_id=cid,
                            queue_id=qid,
                            agent_id="",
                            answered_at=at + wait,
                            wait_s=wait,
                        ),
                    )
                )
                ended = round(at + wait + talk, 3)
                out.append(
                    (
                        ended,
                        _construct(
                            ContactEnded,
                            contact_id=cid,
                            queue_id=qid,
                            agent_id="",
                            ended_at=ended,
                            talk_s=talk,
                            hold_s=0.0,
                            wrap_s=0.0,
                        ),
                    )
                )
    out.sort(key=lambda item: item[0])
    return [
        NewEvent.model_construct(
            source=HISTORY_SOURCE,
            key=f"history-{options.seed}-{epoch!r}-{k}",
            occurred_at=at,
            received_at=at if received_at is None else received_at,
            payload=payload,
        )
        for k, (at, payload) in enumerate(out)
    ]


def history_size(options: SimOptions, epoch: float, weeks: int) -> int:
    """About how many events ``history_events`` would write (three a contact), from the
    simulation's rates without drawing a contact: a floor of 10,000 agents makes about 2.3
    million a week, more than a demo should write (and a board fold) before it opens."""
    floor = FloorSimulation(replace(options, speed=None), epoch)
    open_day_s = sum(HOURLY_LOAD) * 3600  # the day's load integrated over its open hours
    per_day = sum(
        floor.rates[queue.queue_id] * open_day_s
        for queue in floor.queues
        if queue.channel.is_realtime and floor.rates[queue.queue_id] > 0
    )
    return int(3 * weeks * per_day)


FORECAST_ROWS_PER_EVENT = 500


def forecast_events(
    options: SimOptions,
    epoch: float,
    starts: list[float],
    interval_s: float,
    *,
    queue_id: Callable[[str], str] = _same,
    at: float,
) -> list[NewEvent]:
    """Today's forecast as a workforce tool would give it (``forecast.imported``): each
    voice and chat queue's expected contacts in each interval from ``starts`` (the floor's
    half hours, which the caller knows), from the simulation's own rates and hourly load,
    with its AHT. What a large floor's wall shows against actual instead of weeks of raw
    history (``history_size``)."""
    floor = FloorSimulation(replace(options, speed=None), epoch)
    minutes = max(1, int(interval_s // 60))
    rows: list[ForecastInterval] = []
    for queue in floor.queues:
        rate = floor.rates[queue.queue_id]
        if not queue.channel.is_realtime or rate <= 0:
            continue
        qid = queue_id(queue.queue_id)
        for start in starts:
            load = sum(floor.load(start - epoch + (m + 0.5) * 60) for m in range(minutes))
            offered = round(rate * load * 60, 2)
            if offered > 0:
                rows.append(
                    ForecastInterval.model_construct(
                        queue_id=qid, start=start, offered=offered, aht_s=float(queue.aht_s)
                    )
                )
    events = []
    for k in range(0, len(rows), FORECAST_ROWS_PER_EVENT):
        chunk = tuple(rows[k : k + FORECAST_ROWS_PER_EVENT])
        events.append(
            NewEvent.model_construct(
                source=FORECAST_SOURCE,
                key=f"forecast-{options.seed}-{epoch!r}-{k}",
                occurred_at=at,
                received_at=at,
                payload=_construct(ForecastImported, intervals=chunk, file="", at=at),
            )
        )
    return events


def _construct(kind: type[Payload], **fields: Any) -> Payload:
    """A payload of the simulation's own ids and numbers, built without validation (which
    would only check what this module just made): writing weeks of history stays quick."""
    return kind.model_construct(**fields)


def schedule_events(
    options: SimOptions,
    epoch: float,
    *,
    agent_id: Callable[[str], str] = _same,
    at: float | None = None,
) -> list[NewEvent]:
    """The simulated agents' day as their schedule planned it: open from shift start to
    end, with the breaks and lunch at their planned times (the simulation keeps them late
    when a contact runs on, which is where adherence slips)."""
    sim = FloorSimulation(replace(options, speed=None), epoch)
    days: list[list[ScheduledActivity]] = []
    for agent in sim.agents:
        who = agent_id(agent.agent_id)
        activities: list[ScheduledActivity] = []
        days.append(activities)
        t = agent.shift_start
        for start, length, reason in agent.breaks:
            if start > t:
                activities.append(
                    ScheduledActivity(
                        agent_id=who, start=sim.ts(t), end=sim.ts(start), activity="open"
                    )
                )
            activities.append(
                ScheduledActivity(
                    agent_id=who,
                    start=sim.ts(start),
                    end=sim.ts(start + length),
                    activity=reason.lower(),
                )
            )
            t = start + length
        if agent.shift_end > t:
            activities.append(
                ScheduledActivity(
                    agent_id=who, start=sim.ts(t), end=sim.ts(agent.shift_end), activity="open"
                )
            )
    when = epoch - 3600 if at is None else at
    per_event = 60  # agents' days an event: an agent's day is never split
    return [
        NewEvent(
            source=SCHEDULE_SOURCE,
            key=f"schedule-{options.seed}-{epoch!r}-{k}",
            occurred_at=when,
            received_at=when,
            payload=ScheduleImported(
                activities=tuple(a for day in days[k : k + per_event] for a in day),
                file="simulated",
                at=when,
            ),
        )
        for k in range(0, len(days), per_event)
    ]
