"""The Zendesk adapter: how fast it normalizes, and how much of the API limit it spends.

- normalize: tickets/s from an export page's JSON text to ``ticket.upserted`` payloads,
  against plain ``json.loads`` plus reading the same fields from the dicts (the floor of
  what any Python client pays);
- steady state: requests per minute a 200-agent floor costs, polled through the fake
  Zendesk on loopback with the clock stepped by hand (a simulated half hour after the first
  full sync), against the plan's limit (Team 200/min, Professional 400/min).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.adapters.zendesk import parse
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter, ZendeskSettings
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.hub.check import MemorySink

EPOCH = 1_790_000_000.0
TOKEN = "bench-token"


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


async def _export_text(agents: int) -> str:
    """One big export answer, as the wire carries it."""
    clock = _Clock(EPOCH)
    fake = FakeZendesk(token=TOKEN, clock=clock)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=1, agents=agents, queues=10, speed=None), EPOCH)
    clock.now = EPOCH + 10 * 3600
    fake.feed(sim.advance(10 * 3600))
    import httpx

    async with httpx.AsyncClient(base_url=fake.base_url, auth=(f"{fake.email}/token", TOKEN)) as c:
        r = await c.get(
            "/api/v2/incremental/tickets/cursor.json", params={"start_time": 0, "per_page": 1000}
        )
    await fake.stop()
    return r.text


def _normalize(text: str, rounds: int) -> tuple[float, float, int]:
    ctx = parse.Context(source="zendesk")
    count = 0
    t = time.perf_counter()
    for _ in range(rounds):
        for ticket in json.loads(text)["tickets"]:
            parse.ticket_payload(ticket, ctx)
            count += 1
    ours = _rate(count, time.perf_counter() - t)
    keys = (
        "id",
        "status",
        "priority",
        "group_id",
        "assignee_id",
        "subject",
        "created_at",
        "updated_at",
        "tags",
        "custom_status_id",
        "satisfaction_rating",
        "via",
    )
    t = time.perf_counter()
    n = 0
    for _ in range(rounds):
        for ticket in json.loads(text)["tickets"]:
            _ = [ticket.get(k) for k in keys]
            n += 1
    plain = _rate(n, time.perf_counter() - t)
    return ours, plain, count // rounds


async def _steady_state(agents: int, plan_limit: int, minutes: float) -> tuple[float, int, int]:
    clock = _Clock(EPOCH + 3 * 3600)
    fake = FakeZendesk(token=TOKEN, clock=clock, rate_limit=plan_limit)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=2, agents=agents, queues=10, speed=None), EPOCH)
    fake.feed(sim.advance(3 * 3600))
    settings = ZendeskSettings(
        base_url=fake.base_url,
        email=fake.email,
        token=TOKEN,
        rate_limit_per_minute=plan_limit,
        backfill_s=86_400,
    )
    adapter = ZendeskAdapter("zendesk", settings, clock=clock)
    sink = MemorySink()
    step = 0.5
    warmup_until = clock.now + 180  # the first full sync and its catch-up are not steady
    end = warmup_until + minutes * 60
    start_count = None
    throttled = 0
    while clock.now < end:
        await adapter.poll_due(sink)
        if start_count is None and clock.now >= warmup_until:
            start_count = len(fake.requests)
        clock.now += step
        fake.feed(sim.advance(clock.now - EPOCH))
    throttled = sum(1 for h in sink.health_reports if "429" in h[1])
    used = len(fake.requests) - (start_count or 0)
    await adapter.api.close()
    await fake.stop()
    return used / minutes, throttled, len(sink.events)


def run() -> list[dict[str, Any]]:
    text = asyncio.run(_export_text(agents=200))
    ours, plain, tickets = _normalize(text, rounds=5)
    rows = [
        {
            "figure": f"normalize export page ({tickets} tickets)",
            "value": ours,
            "unit": "tickets/s",
            "baseline": plain,
            "baseline_name": "json.loads + dict access",
            "ratio": ours / plain,
        }
    ]
    for plan in (200, 400):
        per_minute, throttled, events = asyncio.run(_steady_state(200, plan, minutes=30))
        print(f"plan {plan}/min: {per_minute:.1f} requests/min, {throttled} 429s, {events} events")
        rows.append(
            {
                "figure": f"steady state, 200 agents, plan {plan}/min ({throttled} × 429)",
                "value": per_minute,
                "unit": "requests/min",
                "baseline": float(plan),
                "baseline_name": "plan limit",
                "ratio": per_minute / plan,
            }
        )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
