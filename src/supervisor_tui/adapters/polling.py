"""What every polling adapter shares: tasks on intervals, within a rate budget, reporting
health, taking webhook hints, and the loop that runs them until cancelled.

A source is a set of tasks. Hot ones (agent state, waiting contacts, new tickets) run
first and may spend the whole budget; cold ones (directories, policies) wait while it is
short. Intervals stretch so the planned rate fits the budget. A 429 stops every call until
its ``Retry-After``; a refused credential stops them for five minutes; anything else backs
that one task off, doubling, up to five minutes. The health of the source is reported when
it changes, and as a heartbeat, so the board can tell a quiet floor from a dead poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from supervisor_tui.adapters.base import Clock, Sink, WriteBackError
from supervisor_tui.adapters.http import (
    ApiError,
    AuthFailed,
    BadBody,
    JsonApi,
    NotFound,
    RateBudget,
    RateLimited,
)
from supervisor_tui.model import Channel, HealthState, NewEvent, Payload

HEARTBEAT_S = 20.0
AUTH_RETRY_S = 300.0
MAX_BACKOFF_S = 300.0


class ShapeError(ValueError):
    """A record lacks a field we cannot do without (an id, a timestamp)."""


def utc_epoch(text: str) -> float:
    """An ISO 8601 time from a helpdesk as epoch seconds. The helpdesks document theirs in UTC
    or with an offset; one without a zone is read as UTC, never as this machine's local time.
    ValueError if it is not ISO 8601."""
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()


def ts(value: Any) -> float:
    """Zendesk's ISO-8601 UTC timestamp ("2023-09-18T15:57:42Z") as epoch seconds."""
    if not isinstance(value, str):
        raise ShapeError(f"expected a timestamp, got {type(value).__name__}")
    try:
        return utc_epoch(value)
    except ValueError:
        raise ShapeError(f"not a timestamp: {value[:40]!r}") from None


def ts_or_none(value: Any) -> float | None:
    return None if value is None else ts(value)


def iso(t: float) -> str:
    """Epoch seconds as Zendesk writes them (whole seconds, ``Z``)."""
    return datetime.fromtimestamp(int(t), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Task:
    name: str
    interval_s: float
    hot: bool
    run: Callable[[Sink], Awaitable[None]]
    first: bool = False
    """Runs before every other task on the first round (the directory of queues and agents)."""
    due_at: float = 0.0
    enabled: bool = True
    failures: int = 0
    last_run_at: float = -math.inf


class PolledSource:
    """Base of the helpdesk adapters. Subclasses build ``self.tasks`` and the cursor."""

    kind = ""

    def __init__(
        self, name: str, *, clock: Clock, wall: Clock, budget: RateBudget, api: JsonApi
    ) -> None:
        """``clock`` stamps the events (the floor's time); ``wall`` paces the requests (the
        helpdesk counts its limit in real minutes). They differ only in a sped-up demo."""
        self.name = name
        self.clock = clock
        self.wall = wall
        self.budget = budget
        self.api = api
        self.tasks: list[Task] = []
        self._hint = asyncio.Event()
        self._health: tuple[HealthState, str] | None = None
        self._health_at = 0.0

    # -- to be provided -------------------------------------------------------------------

    def load_cursor(self, cursor: str | None) -> None:
        raise NotImplementedError

    def cursor_text(self) -> str:
        raise NotImplementedError

    # -- the loop -------------------------------------------------------------------------

    async def run(self, sink: Sink, cursor: str | None) -> None:
        self.load_cursor(cursor)
        try:
            while True:
                await self.poll_due(sink)
                await self._sleep_until_due()
        finally:
            with contextlib.suppress(Exception):
                await self.api.close()

    async def run_all_once(self, sink: Sink) -> None:
        """Every task once, the first ones first (``check``); raises the first ApiError."""
        self.load_cursor(None)
        for task in sorted(self.tasks, key=lambda t: (not t.first, t.hot)):
            await task.run(sink)

    async def poll_due(self, sink: Sink) -> None:
        """Run every task that is due, within the budget (one round of the loop)."""
        now = self.wall()
        due = [t for t in self.tasks if t.enabled and t.due_at <= now]
        due.sort(key=lambda t: (not (t.first and t.last_run_at < 0), not t.hot, t.due_at))
        for task in due:
            wait = self.budget.wait_s(hot=task.hot)
            if wait > 0:
                if task.hot and self.budget.retry_at <= self.wall():
                    task.due_at = self.wall() + min(wait, task.interval_s)
                else:
                    task.due_at = self.wall() + wait
                continue
            task.last_run_at = self.wall()
            try:
                await task.run(sink)
            except asyncio.CancelledError:
                raise
            except RateLimited as exc:
                task.due_at = exc.retry_at
                await self.report_health(
                    sink, HealthState.DEGRADED, str(exc), retry_at=exc.retry_at
                )
                return
            except AuthFailed as exc:
                retry_at = self.wall() + AUTH_RETRY_S
                for t in self.tasks:
                    t.due_at = retry_at
                await self.report_health(
                    sink, HealthState.DOWN, f"{exc} — check the credentials", retry_at=retry_at
                )
                return
            except BadBody as exc:
                await sink.quarantine(f"{self.kind}.{task.name}", exc.raw, str(exc))
                task.failures += 1
                task.due_at = self.wall() + self._backoff(task)
                continue
            except (ApiError, ShapeError) as exc:
                task.failures += 1
                retry_at = self.wall() + self._backoff(task)
                task.due_at = retry_at
                await self.report_health(sink, HealthState.DEGRADED, str(exc), retry_at=retry_at)
                continue
            task.failures = 0
            task.due_at = self.wall() + self.stretch(task)
        if all(t.failures == 0 for t in self.tasks if t.enabled):
            await self.report_health(sink, HealthState.CONNECTED, "")

    def task(self, name: str) -> Task:
        return next(t for t in self.tasks if t.name == name)

    def _backoff(self, task: Task) -> float:
        return min(MAX_BACKOFF_S, 5.0 * math.pow(2, min(task.failures, 6)))

    def stretch(self, task: Task) -> float:
        """The task's interval, stretched so the planned rate fits the budget."""
        planned = sum(60.0 / t.interval_s for t in self.tasks if t.enabled)
        allowed = self.budget.allowed_per_minute
        factor = max(1.0, planned / allowed) if task.hot else max(1.0, 1.5 * planned / allowed)
        return task.interval_s * factor

    async def _sleep_until_due(self) -> None:
        now = self.wall()
        next_due = min((t.due_at for t in self.tasks if t.enabled), default=now + 5)
        delay = max(0.05, min(next_due - now, 5.0))
        self._hint.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._hint.wait(), timeout=delay)

    def poll_soon(self, gaps: dict[str, float]) -> None:
        """A push said something changed: run these tasks now, but no sooner than their
        gap (seconds) after their last run."""
        for task in self.tasks:
            if task.name in gaps:
                soonest = max(self.wall(), task.last_run_at + gaps[task.name])
                task.due_at = min(task.due_at, soonest)
        self._hint.set()

    async def report_health(
        self, sink: Sink, state: HealthState, reason: str, *, retry_at: float | None = None
    ) -> None:
        """Health when it changes, and a heartbeat so the board knows the poll is alive."""
        now = self.wall()
        if self._health == (state, reason) and now - self._health_at < HEARTBEAT_S:
            return
        self._health = (state, reason)
        self._health_at = now
        hot = [t for t in self.tasks if t.hot and t.enabled]
        await sink.health(
            state,
            reason,
            retry_at=retry_at,
            budget_left=self.budget.fraction_left(),
            poll_interval_s=self.stretch(hot[0]) if hot else None,
        )

    def write_back_failed(self, ticket_id: str, exc: ApiError) -> WriteBackError:
        """What the outbox should do about a write-back the helpdesk did not take."""
        if isinstance(exc, NotFound):
            return WriteBackError(f"ticket {ticket_id} no longer exists", retryable=False)
        if isinstance(exc, RateLimited):
            return WriteBackError(str(exc), retry_after_s=max(1.0, exc.retry_at - self.wall()))
        if isinstance(exc, AuthFailed):
            return WriteBackError(str(exc), retry_after_s=AUTH_RETRY_S)
        return WriteBackError(str(exc))

    def event(self, key: str, occurred_at: float, payload: Payload) -> NewEvent:
        return NewEvent(
            source=self.name,
            key=key,
            occurred_at=occurred_at,
            received_at=self.clock(),
            payload=payload,
        )


@dataclass(frozen=True, slots=True)
class WriteBack:
    """An ack, note or resolve as the helpdesk will get it: the ticket, the reference that
    lets a retry find a copy already posted, and the text (the reference at its end)."""

    ticket_id: str
    ref: str
    text: str


NUMERIC_ID = re.compile(r"[0-9]+")
"""Zendesk's and Freshdesk's ticket ids."""


def write_back_of(
    helpdesk: str,
    action: str,
    body: Mapping[str, Any],
    *,
    ids: re.Pattern[str] = NUMERIC_ID,
    id_name: str = "ticket id",
) -> WriteBack:
    """The text and reference every helpdesk writes back, for a ticket whose id has the
    helpdesk's shape (``ids``, matched in full: "INC0010001", "SUP-12", "10042")."""
    ticket_id = str(body.get("ticket_id") or "")
    if not ids.fullmatch(ticket_id):
        raise WriteBackError(f"not a {helpdesk} {id_name}: {ticket_id[:20]!r}", retryable=False)
    ref = f"[supervisor-tui {action} {body.get('delivery_key') or body.get('escalation_id')}]"
    verb = {"ack": "Acknowledged", "note": "Note", "resolve": "Resolved"}.get(action, action)
    words = str(body.get("text") or "").strip()
    text = f"{verb} on the supervision floor by {body.get('by') or 'a supervisor'}: "
    text += str(body.get("title") or "")
    if words:
        text += f"\n\n{words}"
    return WriteBack(ticket_id, ref, f"{text}\n\n{ref}")


_VOICE_WORDS = re.compile(r"\b(voice|phone|call|calls|talk|telephony)\b", re.IGNORECASE)
_CHAT_WORDS = re.compile(r"\b(chat|messaging|live)\b", re.IGNORECASE)


def group_channel(name: str, configured: Mapping[str, str] | None = None) -> Channel:
    """A group's channel: from the config when it says, else from words in its name."""
    if configured and name in configured:
        return Channel(configured[name])
    if _VOICE_WORDS.search(name):
        return Channel.VOICE
    if _CHAT_WORDS.search(name):
        return Channel.CHAT
    return Channel.EMAIL


def trim(mapping: dict[str, Any], keep: int) -> None:
    """Drop the oldest entries (dicts keep insertion order) past ``keep``."""
    for key in list(mapping)[: max(0, len(mapping) - keep)]:
        del mapping[key]


def saved_state(cursor: str | None, version: int) -> dict[str, Any]:
    """An adapter's stored cursor as the dict it wrote, or ``{}`` (start afresh) when there
    is none, it does not parse, or an older version of the adapter wrote it."""
    if cursor:
        with contextlib.suppress(ValueError, TypeError):
            loaded = json.loads(cursor)
            if isinstance(loaded, dict) and loaded.get("v") == version:
                return loaded
    return {}
