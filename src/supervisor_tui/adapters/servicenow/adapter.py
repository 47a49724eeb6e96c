"""The ServiceNow adapter: the Table API, read with care for the instance.

| data | table | every | temperature |
|---|---|---|---|
| incidents (and other task tables) | ``{table}``, changed since the cursor | 15 s | hot |
| task SLAs | ``task_sla``, changed since the cursor | 30 s | hot |
| presence | ``awa_agent_presence`` (Advanced Work Assignment) | 30 s | hot |
| workload: open work per group and agent | ``{table}`` open rows | 60 s | hot |
| directory | ``sys_user_group``, ``sys_user_grmember``, ``contract_sla`` | 10 min | cold |
| deletions | ``sys_audit_delete`` | 5 min | cold |

Changes are read oldest first (``ORDERBYsys_updated_on^ORDERBYsys_id``) by key, not by offset:
each page asks for rows at or after the last one read and drops those already read (same
second, sys_id not greater), so a record saved while we page moves past the end and is read
again there instead of shifting the pages under us and being skipped. More than a page of
rows in one second is read by sys_id within that second. The ``Link`` header (``rel="next"``)
and ``X-Total-Count`` say whether more is waiting. The cursor is stored with every page; a
new pass starts ``overlap_s`` before the newest change seen (a save can commit a little after
its timestamp), and the event keys (sys_id, sys_updated_on, sys_mod_count) drop what comes
twice.

Every request a task sends is held to our share of the limit (``budget_share`` ×
``rate_limit_per_minute``, 60/min by default; lower when a rate limit rule says less): a
change stream read in many pages stops when the minute's share is spent and goes on from its
cursor at its next turn, and the health says "incident changes still being read" meanwhile.

Without Advanced Work Assignment an instance has no presence: agents are then shown by the
open work assigned to them, with AgentState.UNKNOWN. Waiting figures per group are derived
from the open unassigned rows (not a queue the instance reports).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from supervisor_tui.adapters.base import (
    Clock,
    Sink,
    SourceSetupError,
    SyncReport,
    Wait,
    needs_one_of,
    source_named,
)
from supervisor_tui.adapters.freshdesk.adapter import _next_url
from supervisor_tui.adapters.http import (
    ApiError,
    BadBody,
    BearerAuth,
    Forbidden,
    NotFound,
    RateBudget,
    RateFigures,
    header_int,
    read_secret,
)
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
from supervisor_tui.adapters.servicenow import needs, parse
from supervisor_tui.adapters.servicenow.source import ServiceNowSource
from supervisor_tui.i18n import N_
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    Capability,
    HealthState,
    NewEvent,
    QueueStats,
    Reason,
    TicketDeleted,
    reasons,
)

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
MAX_PAGES_A_ROUND = 50
PARTIAL_KEEP_S = 900.0  # a list read in part is finished within this, or read again
NO_AWA = "no presence: Advanced Work Assignment not available"
NO_PRESENCE_ROW = "no status: AWA shows no presence for this agent"
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
_NUMBER = re.compile(r"^[A-Z]{2,8}[0-9]{4,12}$")


@dataclass(frozen=True, slots=True)
class ServiceNowSettings:
    base_url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    oauth_token: str | None = field(default=None, repr=False)
    oauth_refresh: OAuthRefresh | None = None
    """Renews the OAuth token before it expires (``oauth_refresh_token_file``)."""
    tables: tuple[str, ...] = ("incident",)
    rate_limit_per_minute: int = 120
    """Our own ceiling; a rate limit rule on the instance (per hour) lowers it."""
    budget_share: float = 0.5
    write_back: bool = False
    presence: Literal["auto", "awa", "none"] = "auto"
    group_channels: Mapping[str, str] = field(default_factory=dict)
    page_size: int = 500
    overlap_s: float = 60.0
    ticket_interval_s: float = 15.0
    sla_interval_s: float = 30.0
    presence_interval_s: float = 30.0
    workload_interval_s: float = 60.0
    directory_interval_s: float = 600.0
    deleted_interval_s: float = 300.0
    backfill_s: float = 7 * 24 * 3600

    def auth(self, clock: Clock = time.time) -> httpx.Auth | None:
        if self.oauth_refresh:
            return self.oauth_refresh.auth(clock)
        if self.oauth_token:
            return BearerAuth(self.oauth_token)
        if self.username and self.password:
            return httpx.BasicAuth(self.username, self.password)
        return None


@dataclass(frozen=True, slots=True)
class _Walk:
    """One change stream: a table read by ``sys_updated_on`` from the cursor."""

    key: str
    table: str
    fields: tuple[str, ...]
    stamp: str = "sys_updated_on"
    labels: bool = False
    """Read with display values (``sysparm_display_value=all``): a state's label as the
    site words it, a site's own states included."""


class ServiceNowAdapter(PolledSource):
    settings_model = ServiceNowSource
    NEEDS = needs.NEEDS
    kind = "servicenow"
    # a ticket's id here is its number (INC0010001), and task is every table's parent
    TICKET_PAGE = "/nav_to.do?uri=task.do%3Fsysparm_query%3Dnumber%3D{id}"

    def __init__(
        self,
        name: str,
        settings: ServiceNowSettings,
        clock: Clock = time.time,
        *,
        wall: Clock | None = None,
    ) -> None:
        wall = wall or clock
        for table in settings.tables:
            if not _TABLE_NAME.match(table):
                raise SourceSetupError(f"source {name!r}: not a table name: {table[:40]!r}")
        budget = RateBudget(settings.rate_limit_per_minute, share=settings.budget_share, clock=wall)
        api = PacedApi(
            settings.base_url,
            label=name,
            budget=budget,
            auth=settings.auth(wall),
            rate_figures=lambda headers: rate_figures(headers, wall()),
            credential=settings.oauth_refresh.credential
            if settings.oauth_refresh
            else ("oauth_token", "")
            if settings.oauth_token
            else ("password_of", settings.username or ""),
        )
        super().__init__(name, clock=clock, wall=wall, budget=budget, api=api)
        self.api: PacedApi = api
        self.settings = settings
        self.ctx = parse.Context(source=name)
        self.awa: bool | None = None if settings.presence == "auto" else settings.presence == "awa"
        """None: not yet known (auto); False: the instance has no AWA (or we may not read it)."""
        self._cursor: dict[str, Any] = {}
        self._records: dict[str, tuple[str, str]] = {}  # number → (table, sys_id)
        self._numbers: dict[str, str] = {}  # sys_id → number
        self._agent_states: dict[str, tuple[AgentState, str, str]] = {}
        self._presence_names: dict[str, str] = {}
        self._groups: list[str] = []
        self._members: dict[str, str] = {}  # agent id → name, from the directory
        self._held: dict[str, int] | None = None  # user sys_id → open rows assigned (workload)
        self._unseen: list[str] = []  # agents AWA shows no presence for (an ACL, not in AWA)
        self.walks = [
            _Walk(f"t:{t}", t, parse.TICKET_FIELDS, labels=True) for t in settings.tables
        ] + [_Walk("sla", "task_sla", parse.SLA_FIELDS)]
        self.tasks = [
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
                True,
                self._poll_slas,
                capability=Capability.SLA_CLOCKS,
            ),
            Task(
                "presence",
                settings.presence_interval_s,
                True,
                self._poll_presence,
                capability=Capability.PRESENCE,
            ),
            Task("workload", settings.workload_interval_s, True, self._poll_workload),
            Task(
                "directory",
                settings.directory_interval_s,
                False,
                self._poll_directory,
                True,
                capability=Capability.QUEUES,
            ),
            Task(
                "deleted",
                settings.deleted_interval_s,
                False,
                self._poll_deleted,
                capability=Capability.DELETIONS,
            ),
        ]
        self._partial: dict[str, tuple[float, str, list[dict[str, Any]]]] = {}
        """Lists read in part (the budget): when begun, the last sys_id read, the rows."""
        self.pacer = Pacer(budget)
        self.pacer.pace(self.tasks)  # every request a task sends is held to the budget
        self.load_cursor(None)

    @classmethod
    def from_config(cls, name: str, settings: dict[str, Any], clock: Clock) -> ServiceNowAdapter:
        base_url = settings.get("base_url") or (
            f"https://{settings['instance']}.service-now.com" if settings.get("instance") else None
        )
        if not base_url:
            raise SourceSetupError(needs_one_of(name, "instance", "base_url"))
        token = read_secret(env=settings.get("oauth_token_env"), what=source_named(name))
        password = read_secret(
            env=settings.get("password_env"),
            file=settings.get("password_file"),
            what=source_named(name),
        )
        refresh = oauth_refresh_of(name, settings, vendor="servicenow", base_url=base_url)
        if not token and not refresh and not (settings.get("username") and password):
            raise SourceSetupError(
                needs_one_of(
                    name,
                    "username + password_env/password_file",
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
                "presence",
                "page_size",
                "ticket_interval_s",
                "sla_interval_s",
                "presence_interval_s",
                "workload_interval_s",
                "directory_interval_s",
                "deleted_interval_s",
                "backfill_s",
            )
            if settings.get(f) is not None
        }
        return cls(
            name,
            ServiceNowSettings(
                base_url=base_url,
                username=settings.get("username"),
                password=password,
                oauth_refresh=refresh,
                oauth_token=token,
                tables=tuple(settings.get("tables") or ("incident",)),
                group_channels=dict(settings.get("group_channels") or {}),
                **known,
            ),
            clock,
            wall=time.time,
        )

    async def sync_once(self, sink: Sink, *, wait: Wait | None = None) -> SyncReport:
        self.api.holding = False  # one sync on demand: read it all now
        try:
            return await super().sync_once(sink, wait=wait)
        finally:
            self.api.holding = True

    async def finish_sync(self, sink: Sink) -> None:
        for walk in self.walks:  # to the end of every change stream
            for _ in range(1000):
                if not self._mid_pass(walk):
                    break
                await self._walk(sink, walk)

    # -- cursor ---------------------------------------------------------------------------

    def load_cursor(self, cursor: str | None) -> None:
        state = saved_state(cursor, CURSOR_VERSION)
        start = parse.sn_format(self.clock() - self.settings.backfill_s)
        self._cursor = {"v": CURSOR_VERSION, "deleted_since": state.get("deleted_since") or start}
        for walk in self.walks:
            saved = state.get(walk.key)
            if isinstance(saved, dict) and isinstance(saved.get("since"), str):
                skip = saved.get("skip")
                self._cursor[walk.key] = {
                    "since": saved["since"],
                    "after": str(saved.get("after") or ""),
                    "mode": str(saved.get("mode") or ""),
                    "skip": skip if isinstance(skip, int) and skip > 0 else 0,
                }
            else:
                self._cursor[walk.key] = {"since": start, "after": "", "mode": "", "skip": 0}

    def _mid_pass(self, walk: _Walk) -> bool:
        c = self._cursor[walk.key]
        return bool(c["after"] or c["skip"])

    def cursor_text(self) -> str:
        return json.dumps(self._cursor, sort_keys=True)

    # -- reading ----------------------------------------------------------------------------

    async def _rows(
        self, table: str, params: list[tuple[str, Any]]
    ) -> tuple[list[dict[str, Any]], bool, int | None]:
        """One page of a table, whether the instance says more is waiting, and how many rows
        it says the query matched (``X-Total-Count``). Rows a row-level ACL hides are dropped
        from the page after the query and still counted: a page may come back short, even
        empty, while more is advertised, so the counts alone never keep a pass going."""
        where = f"GET /api/now/table/{table}"
        try:
            body, headers = await self.api.request_with_headers(
                "GET",
                f"/api/now/table/{table}",
                params=[*params, ("sysparm_exclude_reference_link", "true")],
            )
        except BadBody as exc:
            raise _explained(exc, self.name) from None
        rows = [parse.shown(r) for r in parse.result_list(body, label=self.name, where=where)]
        text = headers.get("x-total-count")
        total = int(text) if text is not None and text.strip().isdigit() else None
        counted = total is not None and total > len(rows)
        return rows, _next_url(headers.get("link")) is not None or counted, total

    async def _all_rows(
        self, table: str, query: str, fields: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        """Every row of a query (for directories and workloads: ordered by sys_id, by key).

        A read the budget cuts short is kept (``PARTIAL_KEEP_S`` at most) and goes on from
        its last sys_id when asked again, so a list longer than a minute's share is read in
        parts instead of being started again for ever."""
        where = f"{table}?{query}?{','.join(fields)}"
        out: list[dict[str, Any]] = []
        after = ""
        begun = self.wall()
        kept = self._partial.pop(where, None)
        if kept is not None and begun - kept[0] < PARTIAL_KEEP_S:
            begun, after, out = kept
        skip = 0  # past pages an ACL emptied (their rows hidden, still counted)
        limit = self.settings.page_size
        for _ in range(1000):
            q = "^".join(p for p in (query, f"sys_id>{after}" if after else "") if p)
            try:
                rows, more, total = await self._rows(
                    table,
                    [
                        ("sysparm_query", f"{q}^ORDERBYsys_id" if q else "ORDERBYsys_id"),
                        ("sysparm_fields", ",".join(("sys_id", *fields))),
                        ("sysparm_limit", limit),
                        *([("sysparm_offset", skip)] if skip else []),
                    ],
                )
            except OutOfBudget:
                if after:
                    self._partial[where] = (begun, after, out)
                raise
            out.extend(rows)
            if not rows:
                if total is not None and total > skip + limit:
                    skip += limit  # a whole page hidden: the rows past it by offset, once
                    continue
                return out
            if not (more or len(rows) >= limit):
                return out
            after, skip = parse.ref(rows[-1].get("sys_id")), 0
        return out

    async def _walk(self, sink: Sink, walk: _Walk) -> bool:
        """One page of a change stream; its events are stored with the cursor after it.
        Returns whether more is waiting."""
        c = self._cursor[walk.key]
        since, after, mode, skip = c["since"], c["after"], c["mode"], int(c["skip"])
        order = f"ORDERBY{walk.stamp}^ORDERBYsys_id"
        if not after:
            start = parse.sn_format(parse.sn_time(since) - self.settings.overlap_s)
            query = f"{walk.stamp}>={start}^{order}"
        elif mode == "ties":
            query = f"{walk.stamp}={since}^sys_id>{after}^ORDERBYsys_id"
        elif mode == "past":
            query = f"{walk.stamp}>{since}^{order}"
        else:
            query = f"{walk.stamp}>={since}^{order}"
        limit = self.settings.page_size
        rows, more, total = await self._rows(
            walk.table,
            [
                ("sysparm_query", query),
                ("sysparm_fields", ",".join(walk.fields)),
                ("sysparm_limit", limit),
                *([("sysparm_offset", skip)] if skip else []),
                *([("sysparm_display_value", "all")] if walk.labels else []),
            ],
        )
        full = len(rows) >= limit
        fresh = rows
        if after and not mode:
            fresh = [
                r
                for r in rows
                if not (r.get(walk.stamp) == since and parse.ref(r.get("sys_id")) <= after)
            ]
            if not fresh and (full or (rows and more)):
                # only rows of this second already read came back (more than a page of them,
                # or fewer as an ACL hides some): read on within the second by sys_id
                c["mode"], c["skip"] = "ties", 0
                return True
        events: list[NewEvent] = []
        for row in fresh:
            try:
                events.extend(self._row_events(walk, row))
            except ShapeError as exc:
                await sink.quarantine(f"servicenow.{walk.table}", json.dumps(row)[:8000], str(exc))
        if fresh:
            last = fresh[-1]
            stamp = last.get(walk.stamp)
            if isinstance(stamp, str) and stamp:
                c["since"] = stamp
            c["after"] = parse.ref(last.get("sys_id")) or c["after"]
            c["skip"] = 0
        more = more or full
        if not fresh and not full:
            # Nothing new, whatever the counts say: what they still count, an ACL hides. Only
            # a page the ACL emptied whole (more counted past it) is stepped over, by offset.
            more = total is not None and total > skip + limit
            c["skip"] = skip + limit if more else 0
            if more:
                await sink.emit(events, self.cursor_text())
                return True
        if mode == "ties":
            c["mode"] = "ties" if more else "past"
            more = True
        elif mode == "past":
            c["mode"] = ""
        if not more:
            # the pass is over; the next begins at since - overlap
            c["after"], c["mode"], c["skip"] = "", "", 0
        await sink.emit(events, self.cursor_text())
        return more

    def _row_events(self, walk: _Walk, row: dict[str, Any]) -> list[NewEvent]:
        if walk.table == "task_sla":
            sla = parse.sla_payload(row, self.ctx)
            if sla is None:
                return []
            key = f"sla:{parse.ref(row.get('sys_id'))}:{row.get('sys_updated_on')}:{sla.state}"
            return [self.event(key, parse.sn_time(row.get("sys_updated_on")), sla)]
        payload = parse.ticket_payload(row, walk.table, self.ctx)
        sys_id = parse.ref(row.get("sys_id"))
        self._records[payload.ticket_id] = (walk.table, sys_id)
        self._numbers[sys_id] = payload.ticket_id
        trim(self._records, 50_000)
        trim(self._numbers, 50_000)
        self.report.tickets[payload.ticket_id] = payload.status.is_open
        key = f"ticket:{sys_id}:{row.get('sys_updated_on')}:{row.get('sys_mod_count')}"
        return [self.event(key, payload.updated_at, payload)]

    async def _poll_tickets(self, sink: Sink) -> None:
        for walk in self.walks[:-1]:
            for _ in range(MAX_PAGES_A_ROUND):
                if not await self._walk(sink, walk):
                    break

    async def _poll_slas(self, sink: Sink) -> None:
        for _ in range(MAX_PAGES_A_ROUND):
            try:
                if not await self._walk(sink, self.walks[-1]):
                    break
            except ApiError as exc:
                if not _no_such_table(exc):
                    raise
                # without the SLA plugin (or the right to read task_sla): no SLA clocks
                self.task("slas").enabled = False
                self.limit(
                    Capability.SLA_CLOCKS,
                    _unreadable("sn_sla_clocks_off", "task_sla", exc),
                    N_("install SLA management, or grant the sla_manager or itil role"),
                )
                log.info("%s: SLA clocks cannot be read (%s)", self.name, exc)
                return

    # -- workload and presence ----------------------------------------------------------------

    def _open_query(self, table: str) -> str:
        if table == "incident":  # a resolved incident stays active until it is closed
            return "active=true^stateNOT IN" + ",".join(parse.INCIDENT_CLOSED_STATES)
        return "active=true"

    async def _poll_workload(self, sink: Sink) -> None:
        """Open work now: per group, the unassigned rows waiting (a figure we derive: the
        instance has no queue counter) and per agent, the rows assigned to them."""
        now = self.clock()
        waiting: dict[str, list[float]] = {gid: [] for gid in self._groups}
        held: dict[str, int] = {}
        for table in self.settings.tables:
            rows = await self._all_rows(
                table, self._open_query(table), ("assignment_group", "assigned_to", "opened_at")
            )
            for row in rows:
                gid, uid = parse.ref(row.get("assignment_group")), parse.ref(row.get("assigned_to"))
                if uid:
                    held[uid] = held.get(uid, 0) + 1
                elif gid in waiting:
                    at = parse.sn_time_or_none(row.get("opened_at"))
                    waiting[gid].append(at if at is not None else now)
        self._held = held
        events = []
        for gid, opened in waiting.items():
            qid = f"{self.name}:{gid}"
            stats = QueueStats(
                queue_id=qid,
                waiting=len(opened),
                longest_wait_s=max(0.0, now - min(opened)) if opened else 0.0,
                as_of=now,
            )
            events.append(self.event(f"qs:{qid}:{now:.3f}", now, stats))
        if self.awa is False:
            events.extend(self._work_states(now))
        else:
            events.extend(self._work_states(now, self._unseen, NO_PRESENCE_ROW))
        await sink.emit(events, self.cursor_text())

    def _work_states(
        self, now: float, agents: list[str] | None = None, raw: str = NO_AWA
    ) -> list[NewEvent]:
        """Without presence (every agent, or ``agents`` AWA shows none for): UNKNOWN, with
        the open work they hold (nothing until the open work has been read once: no "0 open
        incidents" before we know)."""
        out: list[NewEvent] = []
        if self._held is None:
            return out
        for agent_id in self._agent_ids() if agents is None else agents:
            uid = agent_id.split(":", 1)[1]
            count = self._held.get(uid, 0)
            work = f"{count} open incident{'s' if count != 1 else ''}"
            out.extend(self._state(agent_id, AgentState.UNKNOWN, raw, work, now))
        return out

    def _agent_ids(self) -> list[str]:
        return sorted(self._members)

    def _state(
        self, agent_id: str, state: AgentState, raw: str, work: str, since: float
    ) -> list[NewEvent]:
        if self._agent_states.get(agent_id) == (state, raw, work):
            return []
        self._agent_states[agent_id] = (state, raw, work)
        payload = AgentStateChanged(
            agent_id=agent_id,
            state=state,
            raw_state=raw,
            reason=raw if state is AgentState.AWAY else "",
            since=since,
            work=work,
        )
        return [self.event(f"state:{agent_id}:{since:.3f}:{state}:{work}", since, payload)]

    async def _poll_presence(self, sink: Sink) -> None:
        if self.awa is False:
            return
        try:
            if not self._presence_names:
                states = await self._all_rows("awa_presence_state", "", ("name",))
                self._presence_names = {
                    parse.ref(s.get("sys_id")): str(s.get("name") or "") for s in states
                }
            rows = await self._all_rows(
                "awa_agent_presence", "", ("agent", "current_presence_state", "sys_updated_on")
            )
        except (ApiError, BadBody) as exc:
            if self.settings.presence == "auto" and _no_such_table(exc):
                self.awa = False
                self.limit(
                    Capability.PRESENCE,
                    _unreadable("sn_presence_off", "awa_agent_presence", exc),
                    N_("activate Advanced Work Assignment, or grant the awa_agent role's read"),
                )
                log.info("%s: %s (%s)", self.name, NO_AWA, exc)
                await sink.emit(self._work_states(self.clock()), self.cursor_text())
                return
            raise
        self.awa = True
        events = []
        seen = set()
        for row in rows:
            uid = parse.ref(row.get("agent"))
            if not uid:
                continue
            seen.add(f"{self.name}:{uid}")
            name = self._presence_names.get(parse.ref(row.get("current_presence_state")), "")
            state = parse.presence(name)
            since = parse.sn_time_or_none(row.get("sys_updated_on")) or self.clock()
            events.extend(self._state(f"{self.name}:{uid}", state, name or "no state", "", since))
        # An agent AWA shows no row for (an ACL hides it, or they are not in AWA) has no
        # status, never Offline: only a presence row saying Offline says that.
        self._unseen = [a for a in self._agent_ids() if a not in seen]
        if self._unseen and not seen:
            self.limit(
                Capability.PRESENCE,
                N_(
                    "presence: awa_agent_presence shows no agent (an ACL may hide it); agents "
                    "show no status with their open work"
                ),
                N_("grant read on awa_agent_presence (the awa_agent or awa_manager role)"),
            )
        else:
            self.restore(Capability.PRESENCE)
        events.extend(self._work_states(self.clock(), self._unseen, NO_PRESENCE_ROW))
        await sink.emit(events, self.cursor_text())

    # -- cold -----------------------------------------------------------------------------

    async def _poll_directory(self, sink: Sink) -> None:
        groups = await self._all_rows("sys_user_group", "active=true", ("name",))
        members = await self._all_rows("sys_user_grmember", "", ("group", "user", "user.name"))
        try:
            definitions = await self._all_rows(
                "contract_sla", "active=true", ("name", "target", "duration")
            )
            self.restore(Capability.SLA_POLICIES)
        except ApiError as exc:  # no SLA plugin, or an ACL: targets from the task SLAs
            if not _no_such_table(exc):
                raise
            definitions = []
            self.limit(
                Capability.SLA_POLICIES,
                _unreadable("sn_sla_definitions_off", "contract_sla", exc),
                N_("grant read on contract_sla"),
            )
        self.ctx.slas = parse.sla_definitions(definitions)
        queues = parse.group_payloads(groups, self.ctx, self.settings.group_channels)
        self._groups = [q.queue_id.split(":", 1)[1] for q in queues]
        staff = parse.agent_payloads(members, self._groups, self.ctx)
        self._members = {a.agent_id: a.name for a in staff}
        self.report.queues = len(queues)
        self.report.agents = len(staff)
        self.report.sla_policies = len(self.ctx.slas)
        now = self.clock()
        events = [
            self.event(f"queue:{q.queue_id}:{q.name}:{q.channel.value}", now, q) for q in queues
        ] + [self.event(f"agent:{a.agent_id}:{a.name}:{a.queue_ids}", now, a) for a in staff]
        await sink.emit(events, self.cursor_text())

    async def _poll_deleted(self, sink: Sink) -> None:
        """Deleted records, from the deletion audit (an admin table: without the right to
        read it, deletions are not seen and ``check`` says so)."""
        since = str(self._cursor["deleted_since"])
        tables = ",".join(self.settings.tables)
        try:
            rows = await self._all_rows(
                "sys_audit_delete",
                f"tablenameIN{tables}^sys_created_on>={since}",
                ("tablename", "documentkey", "payload", "sys_created_on"),
            )
        except ApiError as exc:  # 403, 404, or no such table: not for these credentials
            if not _no_such_table(exc):
                raise
            self.report.deleted = None
            self.task("deleted").enabled = False
            self.limit(
                Capability.DELETIONS,
                _unreadable("sn_deletions_off", "sys_audit_delete", exc),
                N_("grant read on sys_audit_delete (an admin table)"),
            )
            log.info("%s: deletions cannot be seen (%s)", self.name, exc)
            return
        events = []
        newest = since
        for row in rows:
            stamp = str(row.get("sys_created_on") or "")
            newest = max(newest, stamp)
            key = parse.ref(row.get("documentkey"))
            number = self._numbers.get(key) or parse.audit_number(row.get("payload"))
            if not number:
                continue
            if self.report.deleted is not None:
                self.report.deleted.add(number)
            self.report.tickets.pop(number, None)
            self._records.pop(number, None)
            payload = TicketDeleted(ticket_id=number)
            events.append(self.event(f"ticket:{key}:deleted", self.clock(), payload))
        self._cursor["deleted_since"] = newest
        await sink.emit(events, self.cursor_text())

    # -- health ---------------------------------------------------------------------------

    def failure_said(self, exc: Exception) -> str | Reason:
        """A table the source needs that the instance does not have (its plugin is not
        installed: 400 ``Invalid table``) in the board's words, not the instance's JSON."""
        if not isinstance(exc, ApiError) or exc.status != 400 or exc.said is None:
            return super().failure_said(exc)
        found = _INVALID_TABLE.search(str(exc))
        if found is None:
            return super().failure_said(exc)
        return reasons.reason(
            "sn_table_unreadable",
            source=self.name,
            where=dict(exc.said.values).get("where", "?"),
            table=found[1],
            unreadable="invalid",
        )

    def stretch(self, task: Task) -> float:
        return self.pacer.stretch(task, self.tasks)

    def behind(self) -> str:
        """What the budget held back: change streams stopped mid-pass, and lists (presence,
        open work, the directory) read in part and to be read again; "" when nothing is."""
        waiting = [
            "task SLAs" if w.table == "task_sla" else f"{w.table} changes"
            for w in self.walks
            if self._mid_pass(w)
        ]
        names = {
            "presence": "presence",
            "workload": "open work",
            "directory": "the directory",
            "deleted": "deletions",
        }
        waiting += [words for task, words in names.items() if task in self.pacer.cut]
        return f"{' and '.join(waiting)} still being read" if waiting else ""

    async def report_health(
        self,
        sink: Sink,
        state: HealthState,
        reason: str | Reason,
        *,
        retry_at: float | None = None,
    ) -> None:
        """As every source does; while a change stream is read in parts (the budget), it is
        said (degraded, with what is still to read) instead of lagging silently."""
        if state in (HealthState.CONNECTED, HealthState.POLLING):  # POLLING: first sync
            behind = self.behind()
            if behind:
                state, reason = HealthState.DEGRADED, behind
        await super().report_health(sink, state, reason, retry_at=retry_at)

    # -- write-back -----------------------------------------------------------------------

    async def write_back(self, action: str, body: dict[str, Any]) -> None:
        """An ack or note as a work note (internal), idempotent: the record's work notes are
        read first and a note carrying the same reference is not posted again."""
        if not self.settings.write_back:
            log.info("%s: write-back is off; %s kept on the floor only", self.name, action)
            return
        wb = write_back_of("ServiceNow", action, body, ids=_NUMBER, id_name="number")
        number = wb.ticket_id
        try:
            table, sys_id = await self._locate(number)
            if not await self._noted(table, sys_id, wb.ref):
                await self.api.request(
                    "PATCH",
                    f"/api/now/table/{table}/{sys_id}",
                    params=[("sysparm_fields", "sys_id")],
                    body={"work_notes": wb.text},
                )
        except ApiError as exc:
            raise self.write_back_failed(number, exc) from None

    async def _locate(self, number: str) -> tuple[str, str]:
        known = self._records.get(number)
        if known is not None:
            return known
        for table in self.settings.tables:
            rows, _, _ = await self._rows(
                table, [("sysparm_query", f"number={number}"), ("sysparm_fields", "sys_id")]
            )
            if rows and parse.ref(rows[0].get("sys_id")):
                found = (table, parse.ref(rows[0].get("sys_id")))
                self._records[number] = found
                return found
        raise NotFound(f"{self.name}: {number} not found", status=404)

    async def _noted(self, table: str, sys_id: str, reference: str) -> bool:
        """Whether a work note with ``reference`` is on the record already: from the journal
        (``sys_journal_field``), or where that table may not be read, from the record's work
        notes as displayed."""
        try:
            rows = await self._all_rows(
                "sys_journal_field", f"element_id={sys_id}^element=work_notes", ("value",)
            )
            return any(reference in str(r.get("value") or "") for r in rows)
        except Forbidden:
            pass
        record = await self.api.request(
            "GET",
            f"/api/now/table/{table}/{sys_id}",
            params=[("sysparm_fields", "work_notes"), ("sysparm_display_value", "true")],
        )
        result = record.get("result") if isinstance(record, dict) else None
        notes = result.get("work_notes") if isinstance(result, dict) else None
        return reference in str(notes or "")


def _no_such_table(exc: Exception) -> bool:
    """The instance has no such table (400 ``Invalid table``), or hides it (403, 404)."""
    if isinstance(exc, NotFound) or _forbidden(exc):
        return True
    return isinstance(exc, ApiError) and exc.status == 400 and "Invalid table" in str(exc)


_INVALID_TABLE = re.compile(r"Invalid table ([A-Za-z0-9_]+)")


def _unreadable(code: str, table: str, exc: ApiError) -> Reason:
    """A figure off because a table cannot be read, and why in a few words."""
    if isinstance(exc, NotFound):
        why = "not_found"
    elif _forbidden(exc):
        why = "forbidden"
    else:
        why = "invalid"
    return reasons.reason(code, table=table, unreadable=why)


def _forbidden(exc: Exception) -> bool:
    """403: these credentials work, but may not read this (an ACL), unlike a 401."""
    return isinstance(exc, Forbidden)


def _explained(exc: BadBody, label: str) -> BadBody:
    """A page where JSON was promised, said plainly (a hibernating developer instance answers
    its wake-up page)."""
    if "hibernat" in exc.raw.lower():
        return BadBody(
            f"{label}: the instance is hibernating (wake it, then it will be read again)",
            raw=exc.raw,
            status=exc.status,
        )
    if exc.raw.lstrip().startswith("<"):
        return BadBody(f"{label}: answered an HTML page, not JSON", raw=exc.raw, status=exc.status)
    return exc


__all__ = ["ServiceNowAdapter", "ServiceNowSettings"]


def rate_figures(headers: Mapping[str, str], now: float) -> RateFigures:
    """ServiceNow's rate limit rules (only when ``X-RateLimit-Rule`` says one applies): the
    limit is an hour's, the reset a UNIX time."""
    if headers.get("x-ratelimit-rule") is None:
        return RateFigures()
    hourly = header_int(headers.get("x-ratelimit-limit"))
    at = header_int(headers.get("x-ratelimit-reset"))
    return RateFigures(
        limit_per_minute=max(1, hourly // 60) if hourly else None,
        remaining=header_int(headers.get("x-ratelimit-remaining")),
        reset_s=None if at is None else max(0, at - math.floor(now)),
    )
