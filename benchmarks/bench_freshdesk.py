"""The Freshdesk adapter: how many of the plan's calls a 200-agent floor costs.

Polled through the fake Freshdesk on loopback with the clock stepped by hand (a simulated
half hour after the first full sync), for each plan, against the plan's limit per minute
(credits: the ticket list with stats costs 3) and its ticket-list sub-limit. The ticket poll
runs as often as the plan allows, so bigger plans buy fresher tickets.
"""

from __future__ import annotations

import asyncio
from typing import Any

from supervisor_tui.adapters.freshdesk.adapter import PLANS, FreshdeskAdapter, FreshdeskSettings
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.fakes.freshdesk import FakeFreshdesk
from supervisor_tui.hub.check import MemorySink

EPOCH = 1_790_000_000.0
KEY = "bench-key"


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _steady_state(plan: str, agents: int, minutes: float) -> dict[str, float]:
    clock = _Clock(EPOCH + 3 * 3600)
    fake = FakeFreshdesk(api_key=KEY, plan=plan, clock=clock)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=3, agents=agents, queues=10, speed=None), EPOCH)
    fake.feed(sim.advance(3 * 3600))
    settings = FreshdeskSettings(base_url=fake.base_url, api_key=KEY, plan=plan, backfill_s=86_400)
    adapter = FreshdeskAdapter("freshdesk", settings, clock=clock)
    sink = MemorySink()
    step = 0.5
    warmup_until = clock.now + 300
    end = warmup_until + minutes * 60
    start_calls = start_lists = start_credits = 0
    started = False
    while clock.now < end:
        await adapter.poll_due(sink)
        if not started and clock.now >= warmup_until:
            started = True
            start_calls = len(fake.requests)
            start_lists = _lists(fake)
            start_credits = adapter.budget.requests
        clock.now += step
        fake.feed(sim.advance(clock.now - EPOCH))
    calls = (len(fake.requests) - start_calls) / minutes
    lists = (_lists(fake) - start_lists) / minutes
    credits = calls + 2 * lists  # the ticket list with include=stats costs 3
    throttled = sum(1 for h in sink.health_reports if "429" in h[1])
    await adapter.api.close()
    await fake.stop()
    del start_credits
    return {
        "calls": calls,
        "credits": credits,
        "lists": lists,
        "throttled": throttled,
        "events": len(sink.events),
    }


def _lists(fake: FakeFreshdesk) -> int:
    return sum(1 for m, p in fake.requests if m == "GET" and p.split("?")[0] == "/api/v2/tickets")


def run() -> list[dict[str, Any]]:
    rows = []
    for plan in ("trial", "growth", "pro", "enterprise"):
        total, lists = PLANS[plan]
        got = asyncio.run(_steady_state(plan, agents=200, minutes=30))
        print(f"{plan}: {got}")
        rows.append(
            {
                "figure": (
                    f"steady state, 200 agents, {plan}: {got['calls']:.1f} calls/min "
                    f"({got['throttled']:.0f} × 429)"
                ),
                "value": got["credits"],
                "unit": "credits/min",
                "baseline": float(total),
                "baseline_name": f"{plan} limit",
                "ratio": got["credits"] / total,
            }
        )
        rows.append(
            {
                "figure": f"ticket lists, 200 agents, {plan}",
                "value": got["lists"],
                "unit": "calls/min",
                "baseline": float(lists),
                "baseline_name": f"{plan} ticket-list limit",
                "ratio": got["lists"] / lists,
            }
        )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
