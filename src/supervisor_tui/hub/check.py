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
from supervisor_tui.model import Capability, HealthState, Limit, NewEvent

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
    ) -> None:
        self.health_reports.append((state, reason))

    async def quarantine(self, kind: str, raw: str, reason: str) -> None:
        self.quarantined.append((kind, reason))


def say_wait(name: str) -> Callable[[float, str], None]:
    def wait(seconds: float, why: str) -> None:
        print(f"{name}: {why}; waiting {math.ceil(seconds)} s", file=sys.stderr, flush=True)
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
        result.update(ok=True, error=None, note=f"{source.kind} sources have nothing to check")
        return result
    sink = MemorySink()
    report: SyncReport | None = None
    say = say_wait(source.name)

    async def wait(seconds: float, why: str) -> None:
        say(seconds, why)

    try:
        report = await asyncio.wait_for(adapter.sync_once(sink, wait=wait), timeout_s)
    except TimeoutError:
        result["error"] = f"{source.name}: no full sync within {timeout_s:.0f} s"
    except ApiError as exc:
        result["error"] = str(exc)
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
            f"{source.name}: cannot read tickets: {lim.reason} (fix: {lim.fix})"
            for lim in limits
            if lim.capability is Capability.TICKETS and not lim.partial
        )
    elif sink.quarantined:
        result["error"] = (
            f"{len(sink.quarantined)} record(s) did not parse: {sink.quarantined[0][1]}"
        )
    else:
        result.update(ok=True, error=None)
    return result


async def check_all(config: Config) -> dict[str, Any]:
    results = await asyncio.gather(*(check_source(s) for s in config.sources))
    return {"sources": list(results)}


def summary_lines(result: dict[str, Any]) -> list[str]:
    """What each source can feed, what its token cannot read, and how to fix that."""
    lines = []
    for s in result["sources"]:
        if not s["ok"]:
            lines.append(f"✖ {s['name']} ({s['kind']}): {s.get('error')}")
        elif "tickets" in s:
            lines.append(
                f"✔ {s['name']} ({s['kind']}): {_na(s['tickets'])} tickets "
                f"({_na(s['open_tickets'])} open, {_na(s['deleted_tickets'])} deleted), "
                f"{_na(s['agents'])} agents, {_na(s['queues'])} queues, "
                f"{_na(s['sla_policies'])} SLA policies; "
                f"{s['requests']} requests, {_na(s['rate_limit_remaining'])} left this minute"
            )
        else:
            lines.append(f"✔ {s['name']} ({s['kind']}): {s.get('note', 'ok')}")
        for lim in s.get("limits") or []:
            fix = f" → {lim['fix']}" if lim["fix"] else ""
            what = "reads part of" if lim.get("partial") else "cannot read"
            label = Capability(lim["capability"]).label
            lines.append(f"    ⚠ {what} {label}: {lim['reason']}{fix}")
    return lines


def _na(value: Any) -> str:
    """A figure the helpdesk cannot know is "n/a", never a guess."""
    return "n/a" if value is None else str(value)
