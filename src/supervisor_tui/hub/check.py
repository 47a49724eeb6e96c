"""``supervisor-tui check``: a preflight. One full sync of every source: what the token can
read, what it cannot and how to fix that, and whether the source can feed the board.

A 429 is waited out (up to a bound, said on stderr), never reported as a failure; a
capability the account lacks is a limit, not an error. A source fails only when it cannot
feed the board at all: refused credentials, no answer, a body not as documented, or no
tickets readable.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from supervisor_tui.adapters.base import Checkable, SyncReport, load_adapter_class
from supervisor_tui.adapters.http import ApiError
from supervisor_tui.config import Config
from supervisor_tui.i18n import _, ngettext
from supervisor_tui.model import Capability, HealthState, Limit, NewEvent, Reason, reasons

log = logging.getLogger(__name__)

MAX_WAIT_S = 120.0
"""The longest a source's sync waits out 429s in all before ``check`` gives up on it."""

FIGURE_OF: dict[Capability, str] = {
    Capability.DELETIONS: "deleted_tickets",
    Capability.AGENTS: "agents",
    Capability.QUEUES: "queues",
    Capability.SLA_POLICIES: "sla_policies",
}
"""The ``check`` figure a capability gives: null when the account lacks it."""


@dataclass
class MemorySink:
    """Keeps what a sync produced, in memory; nothing is stored."""

    events: list[NewEvent] = field(default_factory=list)
    health_reports: list[tuple[HealthState, str]] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    cursor: str | None = None

    async def emit(self, events: Sequence[NewEvent], cursor: str | None = None) -> None:
        self.events.extend(events)
        if cursor is not None:
            self.cursor = cursor

    async def health(
        self,
        state: HealthState,
        reason: str = "",
        *,
        retry_at: float | None = None,
        budget_left: float | None = None,
        poll_interval_s: float | None = None,
        limits: Sequence[Limit] = (),
        said: Reason | None = None,
    ) -> None:
        self.health_reports.append((state, reason))

    async def quarantine(self, kind: str, raw: str, reason: str) -> None:
        self.quarantined.append((kind, reason))


def say_wait(name: str) -> Callable[[float, str], None]:
    def wait(seconds: float, why: str) -> None:
        said = _("{source}: {reason}; waiting {seconds} s").format(
            source=name, reason=why, seconds=math.ceil(seconds)
        )
        print(said, file=sys.stderr, flush=True)
        log.warning("check: %s: %s; waiting %d s", name, why, math.ceil(seconds))

    return wait


async def check_source(
    source: Any, timeout_s: float = 120.0 + MAX_WAIT_S, *, max_wait_s: float = MAX_WAIT_S
) -> dict[str, Any]:
    result: dict[str, Any] = {"name": source.name, "kind": source.kind, "ok": False}
    try:
        cls = load_adapter_class(source.kind)
        settings = source.model_dump(exclude={"name", "kind"})
        adapter = cls.from_config(source.name, settings, time.time)
    except Exception as exc:  # a setup error names the source and the key
        result["error"] = str(exc)
        return result
    if not isinstance(adapter, Checkable):
        note = _("{kind} sources have nothing to check").format(kind=source.kind)
        result.update(ok=True, error=None, note=note)
        return result
    sink = MemorySink()
    report: SyncReport | None = None
    say = say_wait(source.name)

    async def wait(seconds: float, why: str) -> None:
        say(seconds, why)

    try:
        report = await asyncio.wait_for(adapter.sync_once(sink, wait=wait), timeout_s)
    except TimeoutError:
        result["error"] = _("{source}: no full sync within {seconds} s").format(
            source=source.name, seconds=f"{timeout_s:.0f}"
        )
    except ApiError as exc:
        result["error"] = reasons.said(str(exc), exc.said)
    finally:
        await adapter.close()
    requests, remaining = adapter.rate_figures_now()
    limits = list(adapter.sync_limits())
    result["requests"] = requests
    result["rate_limit_remaining"] = remaining
    result["limits"] = [
        {
            "capability": lim.capability.value,
            "reason": lim.reason,
            "fix": lim.fix,
            "partial": lim.partial,
            # the reason as a code: said in the floor's language by summary_lines
            **({"said": lim.said.model_dump(mode="json")} if lim.said is not None else {}),
        }
        for lim in limits
    ]
    if report is None:
        return result
    figures: dict[str, Any] = {
        "tickets": len(report.tickets),
        "open_tickets": sum(1 for is_open in report.tickets.values() if is_open),
        # None: the helpdesk cannot know (JSM has no feed of deleted requests)
        "deleted_tickets": None if report.deleted is None else len(report.deleted),
        "agents": report.agents,
        "queues": report.queues,
        "sla_policies": report.sla_policies,
    }
    off = {lim.capability for lim in limits if not lim.partial}
    for capability, figure in FIGURE_OF.items():
        if capability in off:
            figures[figure] = None  # the account may not read it: unknown, never 0
    if Capability.TICKETS in off:
        figures["tickets"] = figures["open_tickets"] = None
    result.update(figures)
    if Capability.TICKETS in off:
        result["error"] = next(
            _("{source}: cannot read tickets: {reason} (fix: {fix})").format(
                source=source.name,
                reason=reasons.limit_reason(lim),
                fix=reasons.limit_fix(lim),
            )
            for lim in limits
            if lim.capability is Capability.TICKETS and not lim.partial
        )
    elif sink.quarantined:
        count = len(sink.quarantined)
        result["error"] = ngettext(
            "{count} record did not parse: {reason}",
            "{count} records did not parse: {reason}",
            count,
        ).format(count=count, reason=sink.quarantined[0][1])
    else:
        result.update(ok=True, error=None)
    return result


async def check_all(config: Config) -> dict[str, Any]:
    results = await asyncio.gather(*(check_source(s) for s in config.sources))
    return {"sources": list(results)}


def summary_lines(result: dict[str, Any]) -> list[str]:
    """What each source can feed, what its token cannot read, and how to fix that, in the
    floor's language (``--json`` keeps the English the result holds, for scripts)."""
    lines = []
    for s in result["sources"]:
        if not s["ok"]:
            lines.append(f"✖ {s['name']} ({s['kind']}): {s.get('error')}")
        elif "tickets" in s:
            figures = _(
                "{tickets} tickets ({open} open, {deleted} deleted), {agents} agents, "
                "{queues} queues, {sla_policies} SLA policies; {requests} requests, "
                "{left} left this minute"
            ).format(
                tickets=_na(s["tickets"]),
                open=_na(s["open_tickets"]),
                deleted=_na(s["deleted_tickets"]),
                agents=_na(s["agents"]),
                queues=_na(s["queues"]),
                sla_policies=_na(s["sla_policies"]),
                requests=s["requests"],
                left=_na(s["rate_limit_remaining"]),
            )
            lines.append(f"✔ {s['name']} ({s['kind']}): {figures}")
        else:
            lines.append(f"✔ {s['name']} ({s['kind']}): {s.get('note') or _('ok')}")
        for lim in s.get("limits") or []:
            limit = Limit.model_validate(lim)
            fix = f" → {reasons.limit_fix(limit)}" if limit.fix else ""
            what = (
                _("reads part of {capability}") if limit.partial else _("cannot read {capability}")
            ).format(capability=reasons.capability_label(limit.capability))
            lines.append(f"    ⚠ {what}: {reasons.limit_reason(limit)}{fix}")
    return lines


def _na(value: Any) -> str:
    """A figure the helpdesk cannot know is "n/a", never a guess."""
    # TRANSLATORS: a figure the helpdesk cannot know (not available)
    return _("n/a") if value is None else str(value)
