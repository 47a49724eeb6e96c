"""``supervisor-tui check``: one full sync of every source, and what it found."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from supervisor_tui.adapters.base import load_adapter_class
from supervisor_tui.adapters.http import ApiError
from supervisor_tui.config import Config
from supervisor_tui.model import HealthState, NewEvent


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
    ) -> None:
        self.health_reports.append((state, reason))

    async def quarantine(self, kind: str, raw: str, reason: str) -> None:
        self.quarantined.append((kind, reason))


async def check_source(source: Any, timeout_s: float = 120.0) -> dict[str, Any]:
    result: dict[str, Any] = {"name": source.name, "kind": source.kind, "ok": False}
    try:
        cls = load_adapter_class(source.kind)
        settings = source.model_dump(exclude={"name", "kind"})
        adapter = cls.from_config(source.name, settings, time.time)
    except Exception as exc:  # a setup error names the source and the key
        result["error"] = str(exc)
        return result
    sync = getattr(adapter, "sync_once", None)
    if sync is None:
        result.update(ok=True, error=None, note=f"{source.kind} sources have nothing to check")
        return result
    sink = MemorySink()
    try:
        report = await asyncio.wait_for(sync(sink), timeout_s)
    except TimeoutError:
        result["error"] = f"{source.name}: no full sync within {timeout_s:.0f} s"
        report = None
    except ApiError as exc:
        result["error"] = str(exc)
        report = None
    finally:
        close = getattr(getattr(adapter, "api", None), "close", None)
        if close is not None:
            await close()
    budget = getattr(adapter, "budget", None)
    result["requests"] = budget.requests if budget is not None else None
    result["rate_limit_remaining"] = budget.server_remaining if budget is not None else None
    if report is not None:
        result.update(
            ok=not sink.quarantined,
            tickets=len(report.tickets),
            open_tickets=sum(1 for is_open in report.tickets.values() if is_open),
            # None: the helpdesk cannot know (JSM has no feed of deleted requests)
            deleted_tickets=None if report.deleted is None else len(report.deleted),
            agents=report.agents,
            queues=report.queues,
            sla_policies=report.sla_policies,
            error=(
                f"{len(sink.quarantined)} record(s) did not parse: {sink.quarantined[0][1]}"
                if sink.quarantined
                else None
            ),
        )
    return result


async def check_all(config: Config) -> dict[str, Any]:
    results = await asyncio.gather(*(check_source(s) for s in config.sources))
    return {"sources": list(results)}


def summary_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    for s in result["sources"]:
        if not s["ok"]:
            lines.append(f"✖ {s['name']} ({s['kind']}): {s.get('error')}")
        elif "tickets" in s:
            lines.append(
                f"✔ {s['name']} ({s['kind']}): {s['tickets']} tickets ({s['open_tickets']} open, "
                f"{_na(s['deleted_tickets'])} deleted), {s['agents']} agents, "
                f"{s['queues']} queues, {_na(s['sla_policies'])} SLA policies; "
                f"{s['requests']} requests, {_na(s['rate_limit_remaining'])} left this minute"
            )
        else:
            lines.append(f"✔ {s['name']} ({s['kind']}): {s.get('note', 'ok')}")
    return lines


def _na(value: Any) -> str:
    """A figure the helpdesk cannot know is "n/a", never a guess."""
    return "n/a" if value is None else str(value)
