"""What every polling adapter shares: tasks on intervals, within a rate budget, reporting
health, taking webhook hints, and the loop that runs them until cancelled.

A source is a set of tasks. Hot ones (agent state, waiting contacts, new tickets) run
first and may spend the whole budget; cold ones (directories, policies) wait while it is
short. Intervals stretch so the planned rate fits the budget.

Failure is per capability. A 429 holds back the endpoint family that got it (every call
when it hit the account's shared limit) until its ``Retry-After``. A refused credential
(401) stops every call for five minutes: the source is down. An endpoint this account may
not read or does not have (403, 404, 410, an absent table) turns off that task's capability
only, with a reason and a fix, and tries it again every half hour in case the account
changed; the rest of the source stays live. Anything else backs that one task off,
doubling, up to five minutes. The health of the source, with its limits, is reported when
it changes, and as a heartbeat, so the board can tell a quiet floor from a dead poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from supervisor_tui.adapters.base import (
    Clock,
    Limited,
    Need,
    Sink,
    SyncReport,
    Wait,
    WriteBackError,
)
from supervisor_tui.adapters.http import (
    ApiError,
    AuthFailed,
    BadBody,
    Forbidden,
    JsonApi,
    NotFound,
    RateBudget,
    RateLimited,
    Unavailable,
)
from supervisor_tui.i18n import N_
from supervisor_tui.model import (
    Capability,
    Channel,
    HealthState,
    Limit,
    NewEvent,
    Payload,
    Reason,
    reasons,
)
from supervisor_tui.model.reasons import english, reason

log = logging.getLogger(__name__)

HEARTBEAT_S = 20.0
AUTH_RETRY_S = 300.0
MAX_BACKOFF_S = 300.0
LIMIT_RETRY_S = 1800.0
"""A capability the account lacked is tried again this often, in case the account changed."""


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


class Absences:
    """Endpoints this account turned out not to have (an add-on it lacks: Talk, omnichannel
    routing), each tried again after ``LIMIT_RETRY_S`` in case the account changed."""

    def __init__(self, wall: Clock) -> None:
        self._wall = wall
        self._until: dict[str, float] = {}
        self._why: dict[str, str] = {}

    def has(self, name: str) -> bool:
        return self._until.get(name, 0.0) <= self._wall()

    def lacks(self, name: str, why: str = "") -> None:
        self._until[name] = self._wall() + LIMIT_RETRY_S
        self._why[name] = why

    def why(self, name: str) -> str:
        """What the helpdesk said when it turned out not to have ``name``."""
        return self._why.get(name, "")


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
    capability: Capability | None = None
    """What the task supplies: a 403/404/410 on its endpoints turns off this capability only."""
    family: str | None = None
    """The endpoint family whose own rate limit its calls count against (None: the account's)."""
    held_until: float = 0.0
    """A 429 on its family holds it back until then."""
    synced: bool = False
    """Has run to the end once (or found its capability missing): the source's first sync
    waits for every task."""
    calls: int = 1
    """What its last run counted against the limit: pages of a list, one call per voice
    line. A floor of 10,000 agents reads 100 pages of agent states a run, not one call."""


def _rate(task: Task) -> float:
    """Calls a minute the task plans: its runs a minute times what a run costs."""
    return 60.0 / task.interval_s * task.calls


def stretched(task: Task, tasks: Sequence[Task], allowed: float) -> float:
    """The task's interval, stretched so the planned calls fit ``allowed`` a minute.

    Cold tasks stretch first, by 1.5 times the overrun. The hot ones share what is left
    fairly: each keeps its own rate up to a cap they all share, so one costly task (a voice
    line's queue activity, 333 calls a run at 1,000 queues) stretches alone instead of every
    hot task with it (agent states went from every 5 s to every 29 s for it)."""
    enabled = [t for t in tasks if t.enabled]
    planned = sum(map(_rate, enabled))
    if planned <= allowed:
        return task.interval_s
    cold = 1.5 * planned / allowed
    if not task.hot:
        return task.interval_s * cold
    # left for the hot tasks: at least a third of the budget (the cold use 2/3 at most)
    left = allowed - sum(_rate(t) for t in enabled if not t.hot) / cold
    cap = math.inf
    hot = sorted(_rate(t) for t in enabled if t.hot)
    for i, rate in enumerate(hot):
        if rate * (len(hot) - i) > left:
            cap = left / (len(hot) - i)
            break
        left -= rate
    return task.interval_s * max(1.0, _rate(task) / cap)


class PolledSource:
    """Base of the helpdesk adapters. Subclasses build ``self.tasks`` and the cursor, and
    declare in ``NEEDS`` what each capability reads and takes from the account."""

    kind = ""
    NEEDS: tuple[Need, ...] = ()
    TICKET_PAGE = ""
    """The path of a ticket's page for a person, ``{id}`` standing for its id."""

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
        self._health: tuple[HealthState, str, tuple[Limit, ...]] | None = None
        self._health_at = 0.0
        self.limits: dict[Capability, Limit] = {}
        """Capabilities this account does not give us, by capability."""
        self._limited_at: dict[Capability, float] = {}
        self.report = SyncReport()
        self.absent = Absences(wall)
        self._refused_until = 0.0
        """The credentials were refused (401): the source is down until then, when every
        task is tried again; a round of the loop meanwhile must not say otherwise."""
        self._unsynced_said: tuple[str, ...] = ()
        """The tasks not yet read once, as the log last said them."""

    def ticket_url_template(self) -> str:
        return f"{self.api.base_url}{self.TICKET_PAGE}" if self.TICKET_PAGE else ""

    # -- to be provided -------------------------------------------------------------------

    def load_cursor(self, cursor: str | None) -> None:
        raise NotImplementedError

    def cursor_text(self) -> str:
        raise NotImplementedError

    # -- the loop -------------------------------------------------------------------------

    async def run(self, sink: Sink, cursor: str | None) -> None:
        self.load_cursor(cursor)
        # Until every task has run once the floor is half read (abandons before answers):
        # the board says so and the rules wait for CONNECTED.
        await self.report_health(sink, HealthState.POLLING, reason("first_sync"))
        try:
            while True:
                await self.poll_due(sink)
                await self._sleep_until_due()
        finally:
            with contextlib.suppress(Exception):
                await self.api.close()

    async def sync_once(self, sink: Sink, *, wait: Wait | None = None) -> SyncReport:
        """One full sync on demand (``check``): every task once, the directory first, then
        whatever the source still has to read (``finish_sync``)."""
        await self.run_all_once(sink, wait=wait)
        await self.finish_sync(sink)
        return self.report

    async def finish_sync(self, sink: Sink) -> None:
        """What a full sync reads after one run of every task (the rest of a long stream)."""

    def sync_limits(self) -> list[Limit]:
        return [self.limits[c] for c in sorted(self.limits)]

    def rate_figures_now(self) -> tuple[int, int | None]:
        return self.budget.requests, self.budget.server_remaining

    async def close(self) -> None:
        await self.api.close()

    async def run_all_once(
        self,
        sink: Sink,
        *,
        wait: Wait | None = None,
        max_wait_s: float = 120.0,
    ) -> None:
        """Every task once, the first ones first (``check``). A capability the account lacks
        is recorded in ``limits`` and the sync goes on; a 429 is waited out through ``wait``
        (up to ``max_wait_s`` in all) and the task tried again; any other ApiError (the
        credentials, the network, a body not as documented) is raised."""
        self.load_cursor(None)
        waited = 0.0
        for task in sorted(self.tasks, key=lambda t: (not t.first, t.hot)):
            if not task.enabled:
                continue
            while True:
                try:
                    await self._run_task(task, sink)
                except RateLimited as exc:
                    pause = max(0.0, exc.retry_at - self.wall())
                    if wait is None or waited + pause > max_wait_s:
                        raise
                    waited += pause
                    await wait(pause, reasons.said(str(exc), exc.said))  # shown now
                    await asyncio.sleep(pause)
                    continue
                except Limited as exc:
                    self.limit(exc.capability, exc.reason, exc.fix)
                except Unavailable as exc:
                    if task.capability is None:
                        raise
                    self.limit(task.capability, *self.explain(task.capability, exc))
                break

    async def poll_due(self, sink: Sink) -> None:
        """Run every task that is due, within the budget (one round of the loop)."""
        now = self.wall()
        due = [t for t in self.tasks if t.enabled and t.due_at <= now]
        due.sort(key=lambda t: (not (t.first and t.last_run_at < 0), not t.hot, t.due_at))
        for task in due:
            wait = self.budget.wait_s(hot=task.hot, family=task.family)
            if wait > 0:
                if task.hot and self.budget.held_until(task.family) <= self.wall():
                    task.due_at = self.wall() + min(wait, task.interval_s)
                else:
                    task.due_at = self.wall() + wait
                continue
            task.last_run_at = self.wall()
            try:
                await self._run_task(task, sink)
            except asyncio.CancelledError:
                raise
            except RateLimited as exc:
                task.due_at = task.held_until = exc.retry_at
                if exc.paced:
                    continue  # the endpoint's minute is spent: it goes on at the reset
                if exc.family is not None:
                    # that family's own limit: its tasks wait, the others go on
                    await self.report_health(
                        sink,
                        HealthState.DEGRADED,
                        _waits(exc, task.name),
                        retry_at=exc.retry_at,
                    )
                    continue
                await self.report_health(
                    sink, HealthState.DEGRADED, _said(exc), retry_at=exc.retry_at
                )
                return
            except Limited as exc:
                self.limit(exc.capability, exc.reason, exc.fix)
                task.due_at = self.limits[exc.capability].retry_at or self.wall()
                task.synced = True  # all this account gives of it is read
                continue
            except Unavailable as exc:
                if task.capability is None:
                    task.failures += 1
                    retry_at = self.wall() + self._backoff(task)
                    task.due_at = retry_at
                    await self.report_health(
                        sink, HealthState.DEGRADED, self.failure_said(exc), retry_at=retry_at
                    )
                    continue
                self.limit(task.capability, *self.explain(task.capability, exc))
                task.due_at = self.limits[task.capability].retry_at or self.wall()
                task.failures = 0
                task.synced = True  # all this account gives of it is read
                continue
            except AuthFailed as exc:
                retry_at = self.wall() + AUTH_RETRY_S
                self._refused_until = retry_at
                for t in self.tasks:
                    t.due_at = retry_at
                await self.report_health(sink, HealthState.DOWN, _refused(exc), retry_at=retry_at)
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
                await self.report_health(
                    sink, HealthState.DEGRADED, self.failure_said(exc), retry_at=retry_at
                )
                continue
            task.failures = 0
            task.held_until = 0.0
            task.synced = True
            task.due_at = self.wall() + self.stretch(task)
        now = self.wall()
        if now < self._refused_until:
            return  # still DOWN, as said when the credentials were refused
        enabled = [t for t in self.tasks if t.enabled]
        unsynced = tuple(t.name for t in enabled if not t.synced)
        if unsynced and unsynced != self._unsynced_said:
            # a big account's first sync takes minutes: the log says what it still waits for
            log.info("%s: first sync: not yet read once: %s", self.name, ", ".join(unsynced))
        self._unsynced_said = unsynced
        if all(t.failures == 0 and t.held_until <= now for t in enabled):
            if all(t.synced for t in enabled):
                await self.report_health(sink, HealthState.CONNECTED, "")
            else:
                await self.report_health(sink, HealthState.POLLING, reason("first_sync"))

    async def _run_task(self, task: Task, sink: Sink) -> None:
        """One run of a task; when it succeeds, its capability is back if it was off."""
        started = self.wall()
        before = self.budget.credits
        try:
            await task.run(sink)
        finally:
            if task.synced:  # a first run's back-fill is not what its runs cost from then on
                task.calls = max(1, self.budget.credits - before)
        limit = self.limits.get(task.capability) if task.capability else None
        if (
            limit is not None
            and not limit.partial
            and self._limited_at.get(limit.capability, 0.0) < started
        ):
            self.restore(limit.capability)

    # -- capabilities ---------------------------------------------------------------------

    def need(self, capability: Capability) -> Need | None:
        return next((n for n in self.NEEDS if n.capability is capability), None)

    def failure_said(self, exc: Exception) -> str | Reason:
        """What a failed call of a task the source needs says on the board. Adapters word
        their vendor's answers where those are not a helpdesk's own words."""
        return _said(exc)

    def explain(self, capability: Capability, exc: Unavailable) -> tuple[str | Reason, str]:
        """Why this account lacks ``capability`` and how to fix it, from the answer the
        helpdesk gave. Adapters say more where their vendor's answer tells more."""
        need = self.need(capability)
        without = {} if need is None else {"without": need.without}
        # ``requires`` is the README's English: a Need without a fix has nothing to say
        fix = "" if need is None else need.fix
        if isinstance(exc, Forbidden):
            code = "capability_forbidden"
        elif exc.status == 410:
            code = "capability_gone"
        elif isinstance(exc, NotFound):
            code = "capability_not_found"
        else:
            code = "capability_unavailable"
        return reason(code, capability=capability.value, status=exc.status, **without), fix

    def limit(
        self,
        capability: Capability,
        reason: str | Reason,
        fix: str = "",
        *,
        partial: bool = False,
    ) -> None:
        """Turn ``capability`` off: its figures are unknown until it is tried again.
        ``partial``: only part of it is readable (some groups' tickets); its figures stand
        for that part, and the board and ``check`` say which part is missing."""
        said = reason if isinstance(reason, Reason) else None
        reason = english(reason) if isinstance(reason, Reason) else reason
        retry_at = self.wall() + LIMIT_RETRY_S
        known = self.limits.get(capability)
        if known is None or (known.reason, known.fix) != (reason, fix):
            what = "partly readable" if partial else "off"
            log.info("%s: %s %s: %s (fix: %s)", self.name, capability.value, what, reason, fix)
        self.limits[capability] = Limit(
            capability=capability,
            reason=reason,
            fix=fix,
            retry_at=retry_at,
            partial=partial,
            said=said,
        )
        self._limited_at[capability] = self.wall()

    def restore(self, capability: Capability) -> None:
        if self.limits.pop(capability, None) is not None:
            log.info("%s: %s is back", self.name, capability.value)

    def task(self, name: str) -> Task:
        return next(t for t in self.tasks if t.name == name)

    def _backoff(self, task: Task) -> float:
        return min(MAX_BACKOFF_S, 5.0 * math.pow(2, min(task.failures, 6)))

    def stretch(self, task: Task) -> float:
        return stretched(task, self.tasks, self.budget.allowed_per_minute)

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
        self,
        sink: Sink,
        state: HealthState,
        reason: str | Reason,
        *,
        retry_at: float | None = None,
    ) -> None:
        """Health when it changes, and a heartbeat so the board knows the poll is alive."""
        said = reason if isinstance(reason, Reason) else None
        reason = english(reason) if isinstance(reason, Reason) else reason
        now = self.wall()
        limits = tuple(self.limits[c] for c in sorted(self.limits))
        if self._health == (state, reason, limits) and now - self._health_at < HEARTBEAT_S:
            return
        self._health = (state, reason, limits)
        self._health_at = now
        hot = [t for t in self.tasks if t.hot and t.enabled]
        await sink.health(
            state,
            reason,
            retry_at=retry_at,
            budget_left=self.budget.fraction_left(),
            poll_interval_s=self.stretch(hot[0]) if hot else None,
            limits=limits,
            said=said,
        )

    def write_back_failed(self, ticket_id: str, exc: ApiError) -> WriteBackError:
        """What the outbox should do about a write-back the helpdesk did not take."""
        if isinstance(exc, Forbidden):
            need = self.need(Capability.WRITE_BACK)
            fix = need.fix if need is not None else N_("give the token the right to comment")
            self.limit(Capability.WRITE_BACK, reason("write_back_refused", ticket=ticket_id), fix)
            return WriteBackError(
                f"{self.name}: these credentials may not write to ticket {ticket_id} (403); "
                f"kept, tried again in {LIMIT_RETRY_S / 60:.0f} min",
                retry_after_s=LIMIT_RETRY_S,
            )
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


_VOICE_WORDS = re.compile(
    r"\b(voice|phone|call|calls|talk|telephony"
    r"|tổng đài|điện thoại|cuộc gọi|thoại|дзвін\w*|телефон\w*|голос\w*)\b"
    r"|电话|语音|呼叫|热线|電話|音声|コール|通話",  # no word boundary between CJK characters
    re.IGNORECASE,
)
_CHAT_WORDS = re.compile(
    r"\b(chat|messaging|live|trò chuyện|nhắn tin|чат\w*|месенджер\w*)\b"
    r"|在线|聊天|チャット",
    re.IGNORECASE,
)
"""Words in a group's name that say its channel, in the board's languages too (a Vietnamese
helpdesk's "Tổng đài · Bán hàng" is a voice queue, a Chinese one's "在线客服" a chat queue)."""


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


def _said(exc: Exception) -> str | Reason:
    """What a failed call says on the board: its code where it has one."""
    said = exc.said if isinstance(exc, ApiError) else None
    return said or str(exc)


def _waits(exc: RateLimited, task: str) -> str | Reason:
    """A 429 on one endpoint family: that task waits, the others go on."""
    if exc.said is not None and exc.family is not None:
        values = {**dict(exc.said.values), "family": exc.family, "task": task}
        return reason("rate_limited_waits", **values)
    return f"{exc}; {task} waits, the rest goes on"


def _refused(exc: AuthFailed) -> str | Reason:
    """Refused credentials, with how to fix them when the message does not say it."""
    if exc.said is not None and exc.said.code == "auth_refused" and exc.fix:
        return reason("auth_refused_fix", **{**dict(exc.said.values), "fix": exc.fix})
    return f"{exc} — {exc.fix}" if exc.fix else _said(exc)
