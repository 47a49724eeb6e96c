"""A fake ServiceNow instance (Table API) over loopback HTTP, fed by the floor simulation.

Run it with the simulator like the other fakes::

    fake = FakeServiceNow(username="integration", password="pw", clock=time.time)
    await fake.start()                      # fake.base_url = http://127.0.0.1:<port>
    task = asyncio.create_task(run_simulated(fake, SimOptions(seed=1, speed=1.0)))
    ...                                     # point a [[sources]] kind = "servicenow" at it
    task.cancel(); await fake.stop()
    for note in fake.work_notes:            # the write-backs it took (journal entries)
        print(fake.number_of(note["element_id"]), note["value"])

Shapes follow the vendor's public Table API reference (the URLs are in
``supervisor_tui.adapters.servicenow.parse``): ``{"result": [...]}`` bodies, every value a
string (``"2"`` for a state, ``"2026-11-25 17:03:11"`` UTC for a date/time, ``"true"``),
reference fields as sys_id strings with ``sysparm_exclude_reference_link=true`` and as
``{"link": ..., "value": ...}`` without it, dot-walked fields (``caller_id.name``) under their
dotted name, errors as ``{"error": {"message": ..., "detail": ...}, "status": "failure"}``.

Tables: incident, sys_user, sys_user_group, sys_user_grmember, task_sla, contract_sla,
sys_journal_field, sys_audit_delete, and (unless ``awa=False``: an instance without the
Advanced Work Assignment plugin, whose tables answer 400 ``Invalid table <name>``)
awa_presence_state and awa_agent_presence.

Id mapping: a simulator ticket "10007" is incident INC0010007; queues are assignment groups,
agents are sys_user rows and group members; requesters are sys_user callers; an agent's state
is an AWA presence (available/busy/wrap-up → Available, away → Away, offline → Offline); an
SLA clock is a task_sla on its incident, its definition a contract_sla named after the
policy and metric with the simulator's target as its duration. Calls and chats are not fed
(they are not incidents). sys_ids are the MD5 of the table and the simulator id (32 hex).

Query language: only what the adapter sends is understood, and anything else is refused with
400 ``{"error": {"message": "Invalid query", ...}}`` so a mistake shows in the tests (a real
instance may instead ignore an invalid condition and answer every row, which is worse):
conditions joined by ``^``: ``field=v``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``INa,b``,
``ISEMPTY``, ``ISNOTEMPTY``; ``ORDERBYfield`` / ``ORDERBYDESCfield``. Paging:
``sysparm_limit`` (default 10000) and ``sysparm_offset``, ``X-Total-Count`` on every list and
``Link: <…>;rel="first",<…>;rel="prev",<…>;rel="next",<…>;rel="last"`` (prev / next only where
they apply; no Link on a single page).

Auth: HTTP Basic (``username`` / ``password``) or ``Authorization: Bearer <token>`` (the fixed
``token``, or after ``expiring_tokens()`` one from ``POST /oauth_token.do``'s refresh_token
grant, a form, valid 30 minutes of ``clock``; a refused refresh token gets 401
``{"error_description":"access_denied","error":"server_error"}``);
otherwise 401 ``{"error":{"message":"User Not Authenticated","detail":"Required to provide
Auth information"},"status":"failure"}``. A rate limit rule (``rate_limit_per_hour``) counts
per clock hour as ServiceNow's rules do: every answer it covers carries ``X-RateLimit-Limit``
(an hour), ``X-RateLimit-Reset`` (UNIX time the hour ends) and ``X-RateLimit-Rule`` (the rule's
sys_id); over it, 429 with ``Retry-After``. (ServiceNow's 429 body is not quoted in its docs;
this one is in its error envelope.)

Faults (``inject``): 429, 500, 503 (HTML), 401, malformed (an HTML page at 200), truncated and
slow as in the other fakes; ``wrong_shape`` answers 200 with an ``{"error": ...}`` body, as
an instance does when a transaction is cancelled. ``hibernate()`` makes every request answer
the HTML page a hibernating developer instance shows; a table in ``forbidden`` answers 403
``User Not Authorized`` (an ACL; the detail text is ours). Writes: ``PATCH
/api/now/table/{table}/{sys_id}`` takes ``work_notes`` / ``comments`` as journal entries
(``sys_journal_field``) and plain fields; the record's ``sys_updated_on`` moves at least a
second on. Data follows ``floor_clock``; rate-limit hours follow ``clock``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from supervisor_tui.fakes.common import (
    Clock,
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
    AgentState,
    AgentStateChanged,
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

__all__ = ["FakeServiceNow", "run_simulated", "sys_id_of"]


AUTH_FAILED: Json = {
    "error": {
        "message": "User Not Authenticated",
        "detail": "Required to provide Auth information",
    },
    "status": "failure",
}
RATE_LIMITED: Json = {
    "error": {
        "message": "Rate limit exceeded",
        "detail": "The rate limit rule for this resource has been exceeded; retry later",
    },
    "status": "failure",
}
SERVER_ERROR: Json = {
    "error": {"message": "Internal server error", "detail": None},
    "status": "failure",
}
CANCELLED: Json = {
    "error": {
        "message": "Transaction cancelled: maximum execution time exceeded",
        "detail": "maximum execution time exceeded Check logs for error trace or enable "
        "glide.rest.debug property to verify REST request processing",
    },
    "status": "failure",
}
NOT_FOUND: Json = {
    "error": {
        "message": "No Record found",
        "detail": "Record doesn't exist or ACL restricts the record retrieval",
    },
    "status": "failure",
}
FORBIDDEN: Json = {
    "error": {"message": "User Not Authorized", "detail": "ACL restricts the record retrieval"},
    "status": "failure",
}
HIBERNATING = (
    "<!DOCTYPE html><html><head><title>Instance Hibernating page</title></head><body>"
    "<h1>Your instance is hibernating</h1><p>Sign in to the developer portal to wake it up."
    "</p></body></html>"
)
DEFAULT_LIMIT = 10_000
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
AWA_TABLES = ("awa_presence_state", "awa_agent_presence")
TASK_TABLES = ("incident",)
REFERENCES: dict[tuple[str, str], str] = {
    ("incident", "assignment_group"): "sys_user_group",
    ("incident", "assigned_to"): "sys_user",
    ("incident", "caller_id"): "sys_user",
    ("task_sla", "task"): "incident",
    ("task_sla", "sla"): "contract_sla",
    ("sys_user_grmember", "group"): "sys_user_group",
    ("sys_user_grmember", "user"): "sys_user",
    ("awa_agent_presence", "agent"): "sys_user",
    ("awa_agent_presence", "current_presence_state"): "awa_presence_state",
}
STATE_OF = {
    TicketStatus.NEW: "1",
    TicketStatus.OPEN: "2",
    TicketStatus.PENDING: "3",
    TicketStatus.HOLD: "3",
    TicketStatus.SOLVED: "6",
    TicketStatus.CLOSED: "7",
}
PRIORITY_OF = {Priority.URGENT: "1", Priority.HIGH: "2", Priority.NORMAL: "3", Priority.LOW: "4"}
PRESENCE_OF = {
    AgentState.AVAILABLE: "Available",
    AgentState.BUSY: "Available",
    AgentState.WRAP_UP: "Available",
    AgentState.AWAY: "Away",
    AgentState.OFFLINE: "Offline",
    AgentState.UNKNOWN: "Offline",
}
STAGE_OF = {
    SlaState.ACTIVE: "in_progress",
    SlaState.PAUSED: "paused",
    SlaState.FULFILLED: "completed",
    SlaState.BREACHED: "in_progress",
}
COLUMNS: dict[str, tuple[str, ...]] = {
    "incident": (
        "number",
        "short_description",
        "state",
        "active",
        "priority",
        "escalation",
        "contact_type",
        "opened_at",
        "resolved_at",
        "closed_at",
        "sys_mod_count",
        "reopen_count",
        "reassignment_count",
        "hold_reason",
        "work_notes",
        "comments",
    ),
    "sys_user": ("name", "user_name", "active"),
    "sys_user_group": ("name", "active", "description"),
    "task_sla": (
        "stage",
        "has_breached",
        "planned_end_time",
        "start_time",
        "percentage",
        "active",
    ),
    "contract_sla": ("name", "target", "duration", "active"),
    "sys_journal_field": ("name", "element", "element_id", "value", "sys_created_by"),
    "sys_audit_delete": ("tablename", "documentkey", "payload"),
    "awa_presence_state": ("name",),
}
_CONDITION = re.compile(r"^([a-z0-9_]+)(ISNOTEMPTY|ISEMPTY|>=|<=|!=|IN|=|>|<)(.*)$")


def sys_id_of(table: str, key: str) -> str:
    """The fake's sys_id for a simulator object (stable, 32 lowercase hex digits)."""
    return hashlib.md5(f"{table}:{key}".encode(), usedforsecurity=False).hexdigest()


def sn_time(t: float) -> str:
    return datetime.fromtimestamp(int(t), UTC).strftime(TIME_FORMAT)


def _error(message: str, detail: str | None = None) -> Json:
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


@dataclass(frozen=True, slots=True)
class Query:
    conditions: tuple[tuple[str, str, str], ...]
    order: tuple[tuple[str, bool], ...]

    @classmethod
    def parse(cls, text: str) -> Query:
        conditions: list[tuple[str, str, str]] = []
        order: list[tuple[str, bool]] = []
        for part in text.split("^") if text else []:
            if part.startswith("ORDERBYDESC"):
                order.append((part[len("ORDERBYDESC") :], True))
            elif part.startswith("ORDERBY"):
                order.append((part[len("ORDERBY") :], False))
            else:
                match = _CONDITION.match(part)
                if match is None or (match.group(2) in ("ISEMPTY", "ISNOTEMPTY") and match[3]):
                    raise HttpError(400, _error("Invalid query", f"cannot read {part[:60]!r}"))
                conditions.append((match[1], match[2], match[3]))
        return cls(tuple(conditions), tuple(order))

    def fields(self) -> set[str]:
        return {c[0] for c in self.conditions} | {o[0] for o in self.order}

    def matches(self, row: Json) -> bool:
        for name, op, value in self.conditions:
            have = str(row.get(name) or "")
            ok = {
                "=": have == value,
                "!=": have != value,
                ">": have > value,
                ">=": have >= value,
                "<": have < value,
                "<=": have <= value,
                "IN": have in value.split(","),
                "ISEMPTY": have == "",
                "ISNOTEMPTY": have != "",
            }[op]
            if not ok:
                return False
        return True

    def sort(self, rows: list[Json]) -> list[Json]:
        for name, desc in reversed(self.order):
            rows.sort(key=lambda r, n=name: str(r.get(n) or ""), reverse=desc)  # type: ignore[misc]
        return rows


class FakeServiceNow(LoopbackServer):
    """One ServiceNow instance on loopback. Feed it simulator events; read it over HTTP."""

    OAUTH: dict[str, Any] = {
        "path": "/oauth_token.do",
        "json_body": False,  # a form only
        "lifetime_s": 1800.0,
        "rotate": False,  # the same refresh token comes back
        "refusal": (401, {"error_description": "access_denied", "error": "server_error"}),
    }

    def __init__(
        self,
        *,
        instance: str = "dev00000",
        username: str = "integration",
        password: str = "fake-password",
        token: str | None = None,
        clock: Clock = time.time,
        awa: bool = True,
        rate_limit_per_hour: int | None = None,
    ) -> None:
        self.instance = instance
        self.username = username
        self.password = password
        self.token = token
        self.clock = clock
        self.floor_clock: Clock = clock
        self.awa = awa
        self.rate_limit_per_hour = rate_limit_per_hour
        self.rule_id = sys_id_of("sys_rate_limit_rules", "integration")
        self.base_url = ""
        self.requests: list[tuple[str, str]] = []
        self.tables: dict[str, dict[str, Json]] = {
            name: {}
            for name in (
                "incident",
                "sys_user",
                "sys_user_group",
                "sys_user_grmember",
                "task_sla",
                "contract_sla",
                "sys_journal_field",
                "sys_audit_delete",
                *AWA_TABLES,
            )
        }
        self.work_notes: list[Json] = []
        """Journal entries written through the API (the write-backs), oldest first."""
        self._faults = Faults()
        self._hibernating = False
        self.forbidden: set[str] = set()
        """Tables these credentials may not read (an ACL): 403 ``User Not Authorized``."""
        self._used: tuple[int, int] = (0, 0)
        self._runner: web.AppRunner | None = None
        for name in ("Available", "Away", "Offline", "Lunch"):
            sid = sys_id_of("awa_presence_state", name)
            self.tables["awa_presence_state"][sid] = {
                "sys_id": sid,
                "name": name,
                "sys_updated_on": "2026-01-01 00:00:00",
            }

    # -- lifecycle --------------------------------------------------------------------------

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/now/table/{table}", self._list),
            web.get("/api/now/table/{table}/{sys_id}", self._one),
            web.patch("/api/now/table/{table}/{sys_id}", self._patch),
            web.put("/api/now/table/{table}/{sys_id}", self._patch),
            web.route("*", "/{tail:.*}", self._unknown),
        ]

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

    def hibernate(self, on: bool = True) -> None:
        self._hibernating = on

    @property
    def incidents(self) -> dict[str, Json]:
        """Number → the incident as stored (raw values)."""
        return {r["number"]: r for r in self.tables["incident"].values()}

    def number_of(self, sys_id: str) -> str | None:
        """The number of the record with this sys_id (a journal entry's ``element_id``)."""
        row = self.tables["incident"].get(sys_id)
        return None if row is None else str(row["number"])

    def delete_incident(self, number: str) -> None:
        """An admin deletes the incident: gone from the table, recorded in sys_audit_delete."""
        row = self.incidents[number]
        del self.tables["incident"][row["sys_id"]]
        sid = sys_id_of("sys_audit_delete", row["sys_id"])
        payload = "".join(f"<{k}>{v}</{k}>" for k, v in row.items() if isinstance(v, str))
        self.tables["sys_audit_delete"][sid] = {
            "sys_id": sid,
            "tablename": "incident",
            "documentkey": row["sys_id"],
            "payload": f'<?xml version="1.0" encoding="UTF-8"?><record_update><incident>'
            f"{payload}</incident></record_update>",
            "sys_created_on": sn_time(self.floor_clock()),
        }

    def touch(self, number: str, at: float | None = None) -> None:
        """An agent saves the incident (its sys_updated_on moves to ``at``)."""
        row = self.incidents[number]
        self._bump(row, self.floor_clock() if at is None else at, force=at is not None)

    # -- feeding ----------------------------------------------------------------------------

    def feed(self, events: Iterable[NewEvent]) -> None:
        for event in events:
            p = event.payload
            at = event.occurred_at
            if isinstance(p, QueueUpserted):
                sid = sys_id_of("sys_user_group", p.queue_id)
                self.tables["sys_user_group"][sid] = {
                    "sys_id": sid,
                    "name": p.name,
                    "active": "true",
                    "description": f"{p.channel.value} queue",
                    "sys_updated_on": sn_time(at),
                }
            elif isinstance(p, AgentUpserted):
                self._agent(p, at)
            elif isinstance(p, AgentStateChanged):
                self._presence(p)
            elif isinstance(p, TicketUpserted):
                self._incident(p)
            elif isinstance(p, TicketDeleted):
                number = _number(p.ticket_id)
                if number in self.incidents:
                    self.delete_incident(number)
            elif isinstance(p, SlaChanged):
                self._sla(p, at)

    def _user(self, key: str, name: str, at: float) -> str:
        sid = sys_id_of("sys_user", key)
        users = self.tables["sys_user"]
        if sid not in users:
            users[sid] = {
                "sys_id": sid,
                "name": name,
                "user_name": re.sub(r"[^a-z0-9]+", ".", name.lower()).strip("."),
                "active": "true",
                "sys_updated_on": sn_time(at),
            }
        return sid

    def _agent(self, p: AgentUpserted, at: float) -> None:
        uid = self._user(p.agent_id, p.name, at)
        self.tables["sys_user"][uid]["name"] = p.name
        members = self.tables["sys_user_grmember"]
        for sid in [s for s, m in members.items() if m["user"] == uid]:
            del members[sid]
        for queue in p.queue_ids:
            gid = sys_id_of("sys_user_group", queue)
            sid = sys_id_of("sys_user_grmember", f"{queue}:{p.agent_id}")
            members[sid] = {"sys_id": sid, "group": gid, "user": uid, "sys_updated_on": sn_time(at)}

    def _presence(self, p: AgentStateChanged) -> None:
        uid = sys_id_of("sys_user", p.agent_id)
        if uid not in self.tables["sys_user"]:
            return
        name = PRESENCE_OF[p.state]
        if p.state is AgentState.AWAY and "lunch" in p.reason.lower():
            name = "Lunch"
        sid = sys_id_of("awa_agent_presence", p.agent_id)
        self.tables["awa_agent_presence"][sid] = {
            "sys_id": sid,
            "agent": uid,
            "current_presence_state": sys_id_of("awa_presence_state", name),
            "sys_updated_on": sn_time(p.since),
        }

    def _incident(self, p: TicketUpserted) -> None:
        number = _number(p.ticket_id)
        sid = sys_id_of("incident", number)
        rows = self.tables["incident"]
        row = rows.get(sid)
        state = STATE_OF[p.status]
        if row is None:
            caller = self._user(f"caller:{p.requester}", p.requester or "Customer", p.created_at)
            row = rows[sid] = {
                "sys_id": sid,
                "number": number,
                "sys_class_name": "incident",
                "opened_at": sn_time(p.created_at),
                "sys_created_on": sn_time(p.created_at),
                "sys_updated_on": sn_time(p.created_at),
                "sys_mod_count": "0",
                "caller_id": caller,
                "contact_type": "email",
                "reopen_count": "0",
                "reassignment_count": "0",
                "resolved_at": "",
                "closed_at": "",
                "hold_reason": "",
                "state": state,
                "active": "true",
                "work_notes": "",
                "comments": "",
            }
        elif row["state"] in ("6", "7", "8") and state in ("1", "2", "3"):
            row["reopen_count"] = str(int(row["reopen_count"]) + 1)
            row["resolved_at"] = row["closed_at"] = ""
        group = sys_id_of("sys_user_group", p.queue_id) if p.queue_id else ""
        assigned = sys_id_of("sys_user", p.assignee_id) if p.assignee_id else ""
        if row.get("assigned_to") and assigned and assigned != row["assigned_to"]:
            row["reassignment_count"] = str(int(row["reassignment_count"]) + 1)
        row.update(
            short_description=p.subject,
            state=state,
            active="true" if state in ("1", "2", "3") else "false",
            hold_reason={"PENDING": "1"}.get(p.status.name, "4" if state == "3" else ""),
            priority=PRIORITY_OF.get(p.priority, "4") if p.priority else "4",
            assignment_group=group,
            assigned_to=assigned,
            # ServiceNow has no tags: a customer's complaint is raised as a moderate
            # escalation by the desk, a helpdesk escalation as a high one
            escalation="2" if p.escalated else "1" if "complaint" in p.tags else "0",
        )
        if state == "6" and not row["resolved_at"]:
            row["resolved_at"] = sn_time(p.solved_at or p.updated_at)
        if state == "7":
            row["resolved_at"] = row["resolved_at"] or sn_time(p.solved_at or p.updated_at)
            row["closed_at"] = row["closed_at"] or sn_time(p.updated_at)
        self._bump(row, p.updated_at, force=True)

    def _sla(self, p: SlaChanged, at: float) -> None:
        incident = self.tables["incident"].get(sys_id_of("incident", _number(p.ticket_id)))
        if incident is None:
            return
        kind = "Response" if p.metric == "first_reply_time" else "Resolution"
        definition = sys_id_of("contract_sla", f"{p.metric}:{p.policy}")
        self.tables["contract_sla"][definition] = {
            "sys_id": definition,
            "name": f"{kind}: {p.policy or p.metric}",
            "target": kind.lower(),
            "duration": sn_time(p.target_s),
            "active": "true",
            "sys_updated_on": sn_time(at),
        }
        sid = sys_id_of("task_sla", f"{p.ticket_id}:{p.metric}")
        start = p.due_at - p.target_s
        row = self.tables["task_sla"].setdefault(sid, {"sys_id": sid, "sys_updated_on": ""})
        row.update(
            task=incident["sys_id"],
            sla=definition,
            stage=STAGE_OF[p.state],
            has_breached="true" if p.state is SlaState.BREACHED else "false",
            planned_end_time=sn_time(p.due_at),
            start_time=sn_time(start),
            percentage=f"{max(0.0, (at - start) / p.target_s * 100):.2f}",
            active="true" if p.state in (SlaState.ACTIVE, SlaState.PAUSED) else "false",
        )
        row["sys_updated_on"] = max(row["sys_updated_on"], sn_time(at))

    @staticmethod
    def _bump(row: Json, at: float, *, force: bool = False) -> None:
        """A saved change: sys_updated_on moves to ``at`` (at least a second on, unless the
        simulator dates it), sys_mod_count goes up."""
        stamp = sn_time(at)
        if not force and stamp <= row["sys_updated_on"]:
            stamp = sn_time(_parse(row["sys_updated_on"]) + 1)
        row["sys_updated_on"] = max(stamp, row["sys_updated_on"])
        row["sys_mod_count"] = str(int(row.get("sys_mod_count") or 0) + 1)

    # -- the HTTP side ----------------------------------------------------------------------

    SPOILED_BY = frozenset({"truncated"})  # wrong_shape: a 200 saying "cancelled"

    def _before(self, request: web.Request) -> web.StreamResponse | None:
        if self._hibernating:
            return web.Response(status=200, text=HIBERNATING, content_type="text/html")
        return None

    def _authenticate(self, request: web.Request) -> web.StreamResponse | None:
        return None if self._authenticated(request) else _json(AUTH_FAILED, 401)

    def _budget(self, request: web.Request) -> web.StreamResponse | None:
        return self._rate_limit()

    def _refuse(self, request: web.Request, gate: Gate | None, missing: str) -> web.Response:
        return _json(
            _error("User Not Authorized", "User is not authorized to access this resource"), 403
        )

    def _failed(self, exc: HttpError) -> web.Response:
        return _json(exc.body or _error("Bad request"), exc.status)

    def _headed(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        self._rate_headers(response, force=response.status == 429)
        return response

    def _fault_response(self, fault: Fault) -> web.StreamResponse:
        if fault.fault == "429":
            response = _json(RATE_LIMITED, 429)
            response.headers["Retry-After"] = str(fault.retry_after)
            self._rate_headers(response, force=True)
            return response
        if fault.fault == "500":
            return _json(SERVER_ERROR, 500)
        if fault.fault == "503":
            return web.Response(
                status=503,
                text="<html><body><h1>503 Service Unavailable</h1></body></html>",
                content_type="text/html",
            )
        if fault.fault == "401":
            return _json(AUTH_FAILED, 401)
        if fault.fault == "wrong_shape":
            return _json(CANCELLED, 200)
        return web.Response(
            status=200,
            text="<html><body>upstream connect error</body></html>",
            content_type="text/html",
        )

    def _authenticated(self, request: web.Request) -> bool:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return self._bearer_valid(credentials, self.token)
        if scheme.lower() == "basic":
            try:
                text = base64.b64decode(credentials, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, _, password = text.partition(":")
            return user == self.username and password == self.password
        return False

    def _hour(self) -> tuple[int, int]:
        now = self.clock()
        return int(now // 3600), (int(now // 3600) + 1) * 3600

    def _rate_limit(self) -> web.Response | None:
        if self.rate_limit_per_hour is None:
            return None
        hour, reset = self._hour()
        seen, used = self._used
        used = used if seen == hour else 0
        if used >= self.rate_limit_per_hour:
            response = _json(RATE_LIMITED, 429)
            response.headers["Retry-After"] = str(max(1, reset - int(self.clock())))
            self._rate_headers(response)
            return response
        self._used = (hour, used + 1)
        return None

    def _rate_headers(self, response: web.StreamResponse, *, force: bool = False) -> None:
        if self.rate_limit_per_hour is None and not force:
            return
        _, reset = self._hour()
        response.headers["X-RateLimit-Limit"] = str(self.rate_limit_per_hour or 3600)
        response.headers["X-RateLimit-Reset"] = str(reset)
        response.headers["X-RateLimit-Rule"] = self.rule_id

    async def _unknown(self, request: web.Request) -> web.Response:
        return _json(_error("Requested URI does not represent any resource", None), 400)

    def _table(self, request: web.Request) -> tuple[str, dict[str, Json]]:
        name = request.match_info["table"]
        rows = self.tables.get(name)
        if rows is None or (not self.awa and name in AWA_TABLES):
            raise HttpError(400, _error(f"Invalid table {name}"))
        if name in self.forbidden:
            raise HttpError(403, FORBIDDEN)
        return name, rows

    def _columns(self, table: str, rows: dict[str, Json]) -> set[str]:
        columns = {"sys_id", "sys_updated_on", "sys_created_on"}
        for row in rows.values():
            columns |= set(row)
        columns |= {f for (t, f) in REFERENCES if t == table}
        return columns | set(COLUMNS.get(table, ()))

    def _render(self, table: str, row: Json, fields: list[str] | None, links: bool) -> Json:
        names = fields or [k for k in row if k not in ("work_notes", "comments")]
        out: Json = {}
        for name in names:
            if "." in name:
                base, _, rest = name.partition(".")
                target_table = REFERENCES.get((table, base))
                target = self.tables.get(target_table or "", {}).get(row.get(base) or "")
                if target_table is not None:
                    out[name] = str(target.get(rest, "")) if target else ""
                continue
            if name not in row and name not in self._columns(table, {}):
                continue  # an unknown field is left out
            value = str(row.get(name, ""))
            target_table = REFERENCES.get((table, name))
            if links and target_table is not None and value:
                out[name] = {
                    "link": f"{self.base_url}/api/now/table/{target_table}/{value}",
                    "value": value,
                }
            else:
                out[name] = value
        return out

    async def _list(self, request: web.Request) -> web.Response:
        table, rows = self._table(request)
        q = request.query
        query = Query.parse(q.get("sysparm_query", ""))
        unknown = query.fields() - self._columns(table, rows)
        if unknown:
            raise HttpError(400, _error("Invalid query", f"unknown field {sorted(unknown)[0]!r}"))
        limit = _count(q.get("sysparm_limit"), DEFAULT_LIMIT, "sysparm_limit", minimum=1)
        offset = _count(q.get("sysparm_offset"), 0, "sysparm_offset", minimum=0)
        matched = query.sort([r for r in rows.values() if query.matches(r)])
        if not query.order:
            matched.sort(key=lambda r: str(r.get("sys_id")))
        fields = [f.strip() for f in q.get("sysparm_fields", "").split(",") if f.strip()] or None
        links = q.get("sysparm_exclude_reference_link", "false") != "true"
        page = [self._render(table, r, fields, links) for r in matched[offset : offset + limit]]
        response = _json({"result": page})
        response.headers["X-Total-Count"] = str(len(matched))
        link = self._link(request, offset, limit, len(matched))
        if link:
            response.headers["Link"] = link
        return response

    def _link(self, request: web.Request, offset: int, limit: int, total: int) -> str:
        if total <= limit and offset == 0:
            return ""
        keep = [
            (k, v) for k, v in request.query.items() if k not in ("sysparm_offset", "sysparm_limit")
        ]

        def url(at: int) -> str:
            query = urlencode([*keep, ("sysparm_offset", str(at)), ("sysparm_limit", str(limit))])
            return f"<{self.base_url}{request.path}?{query}>"

        last = max(0, ((total - 1) // limit) * limit)
        parts = [f'{url(0)};rel="first"']
        if offset > 0:
            parts.append(f'{url(max(0, offset - limit))};rel="prev"')
        if offset + limit < total:
            parts.append(f'{url(offset + limit)};rel="next"')
        parts.append(f'{url(last)};rel="last"')
        return ",".join(parts)

    def _record(self, request: web.Request) -> tuple[str, Json]:
        table, rows = self._table(request)
        row = rows.get(request.match_info["sys_id"])
        if row is None:
            raise HttpError(404, NOT_FOUND)
        return table, row

    def _journal_text(self, row: Json, element: str) -> str:
        entries = [
            j
            for j in self.tables["sys_journal_field"].values()
            if j["element_id"] == row["sys_id"] and j["element"] == element
        ]
        entries.sort(key=lambda j: j["sys_created_on"], reverse=True)
        return "\n\n".join(
            f"{j['sys_created_on']} - {j['sys_created_by']} ({element.replace('_', ' ').title()})\n"
            f"{j['value']}"
            for j in entries
        )

    async def _one(self, request: web.Request) -> web.Response:
        table, row = self._record(request)
        q = request.query
        fields = [f.strip() for f in q.get("sysparm_fields", "").split(",") if f.strip()] or None
        links = q.get("sysparm_exclude_reference_link", "false") != "true"
        out = self._render(table, row, fields, links)
        display = q.get("sysparm_display_value", "false") == "true"
        for element in ("work_notes", "comments"):
            if element in out:
                out[element] = self._journal_text(row, element) if display else ""
        return _json({"result": out})

    async def _patch(self, request: web.Request) -> web.Response:
        table, row = self._record(request)
        try:
            body = json.loads(await request.text())
        except ValueError:
            raise HttpError(
                400, _error("Exception while reading request", "body is not JSON")
            ) from None
        if not isinstance(body, dict):
            raise HttpError(400, _error("Exception while reading request", "body is not an object"))
        who = (
            self.username
            if not request.headers.get("Authorization", "").startswith("Bearer")
            else "oauth"
        )
        at = self.floor_clock()
        for name, value in body.items():
            if name in ("work_notes", "comments"):
                if not str(value).strip():
                    continue
                sid = sys_id_of(
                    "sys_journal_field", f"{row['sys_id']}:{len(self.tables['sys_journal_field'])}"
                )
                entry = {
                    "sys_id": sid,
                    "name": table,
                    "element": name,
                    "element_id": row["sys_id"],
                    "value": str(value),
                    "sys_created_on": sn_time(at),
                    "sys_created_by": who,
                }
                self.tables["sys_journal_field"][sid] = entry
                if name == "work_notes":
                    self.work_notes.append(entry)
            elif name in self._columns(table, {}) or name in row:
                row[name] = str(value)
        self._bump(row, at)
        out = self._render(
            table, row, None, request.query.get("sysparm_exclude_reference_link") != "true"
        )
        return _json({"result": out})


def _number(ticket_id: str) -> str:
    return f"INC{sim_number(ticket_id):07d}"


def _parse(text: str) -> float:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC).timestamp()


def _count(raw: str | None, default: int, name: str, *, minimum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HttpError(400, _error(f"Invalid {name}", f"not a number: {raw[:20]!r}")) from None
    if value < minimum:
        raise HttpError(400, _error(f"Invalid {name}", f"must be at least {minimum}"))
    return value


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")
