"""The ServiceNow adapter: what a 200-agent floor costs of the instance's rate limit, and how
fast it normalizes.

- first sync: from nothing to every change stream (incidents, task SLAs) read to its end and
  every other task run once, in simulated seconds and requests, through the fake instance on
  loopback with the clock stepped by hand;
- steady state: requests per minute after the first sync (simulated minutes), against a rate
  limit rule of 7,200 an hour (120/min, the adapter's default ceiling) and our share of it
  (``budget_share`` × that = 60/min); the busiest minute (any 60 s window, the first sync
  included) and the 429s the fake answered;
- normalize: incidents/s from a Table API page's JSON text to ``ticket.upserted`` payloads,
  against plain ``json.loads`` plus reading the same fields from the dicts.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from supervisor_tui.adapters.servicenow import parse
from supervisor_tui.adapters.servicenow.adapter import ServiceNowAdapter, ServiceNowSettings
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.fakes.servicenow import FakeServiceNow
from supervisor_tui.hub.check import MemorySink

from .bench_jsm import _Clock, _rate, drive

EPOCH = 1_790_000_000.0
USER, PASSWORD = "bench", "bench-password"
RULE_PER_HOUR = 7200
STEP_S = 0.5


def _synced(adapter: ServiceNowAdapter) -> bool:
    return all(not adapter._cursor[w.key]["after"] for w in adapter.walks) and all(
        t.last_run_at > -1e18 and t.failures == 0 for t in adapter.tasks if t.enabled
    )


async def measure(
    agents: int,
    minutes: float,
    seed: int = 5,
    hours: float = 3,
    give_up_s: float = 6 * 3600,
    **over: Any,
) -> dict[str, float]:
    clock = _Clock(EPOCH + hours * 3600)
    fake = FakeServiceNow(
        username=USER, password=PASSWORD, clock=clock, rate_limit_per_hour=RULE_PER_HOUR
    )
    await fake.start()
    limited: list[float] = []
    rule = fake._rate_limit

    def counted() -> Any:
        answer = rule()
        if answer is not None:
            limited.append(clock.now)
        return answer

    fake._rate_limit = counted  # type: ignore[method-assign]
    sim = FloorSimulation(SimOptions(seed=seed, agents=agents, queues=10, speed=None), EPOCH)
    fake.feed(sim.advance(hours * 3600))
    settings = ServiceNowSettings(
        base_url=fake.base_url, username=USER, password=PASSWORD, backfill_s=86_400, **over
    )
    adapter = ServiceNowAdapter("servicenow", settings, clock=clock)
    share = adapter.budget.allowed_per_minute
    sink = MemorySink()
    figures = await drive(
        adapter,
        fake,
        sim,
        clock,
        sink,
        synced=lambda: _synced(adapter),
        minutes=minutes,
        give_up_s=give_up_s,
    )
    await adapter.api.close()
    await fake.stop()
    return {
        "share": float(share),
        **figures,
        "throttled": float(len(limited)),
        "behind": float(sum(1 for _, r in sink.health_reports if " still " in r)),
    }


async def _page_text(agents: int) -> str:
    """One Table API page of incidents (the fields the adapter asks for), as the wire has it."""
    clock = _Clock(EPOCH + 10 * 3600)
    fake = FakeServiceNow(username=USER, password=PASSWORD, clock=clock)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=1, agents=agents, queues=10, speed=None), EPOCH)
    fake.feed(sim.advance(10 * 3600))
    async with httpx.AsyncClient(base_url=fake.base_url, auth=(USER, PASSWORD)) as c:
        r = await c.get(
            "/api/now/table/incident",
            params={
                "sysparm_query": "ORDERBYsys_updated_on^ORDERBYsys_id",
                "sysparm_fields": ",".join(parse.TICKET_FIELDS),
                "sysparm_limit": 500,
                "sysparm_exclude_reference_link": "true",
            },
        )
    await fake.stop()
    r.raise_for_status()
    return r.text


def _normalize(text: str, rounds: int) -> tuple[float, float, int]:
    ctx = parse.Context(source="servicenow")
    count = 0
    t = time.perf_counter()
    for _ in range(rounds):
        for row in json.loads(text)["result"]:
            parse.ticket_payload(row, "incident", ctx)
            count += 1
    ours = _rate(count, time.perf_counter() - t)
    t = time.perf_counter()
    n = 0
    for _ in range(rounds):
        for row in json.loads(text)["result"]:
            _ = [row.get(k) for k in parse.TICKET_FIELDS]
            n += 1
    plain = _rate(n, time.perf_counter() - t)
    return ours, plain, count // rounds


def run() -> list[dict[str, Any]]:
    text = asyncio.run(_page_text(agents=200))
    ours, plain, incidents = _normalize(text, rounds=40)
    rows: list[dict[str, Any]] = [
        {
            "figure": f"normalize Table API page ({incidents} incidents)",
            "value": ours,
            "unit": "incidents/s",
            "baseline": plain,
            "baseline_name": "json.loads + dict access",
            "ratio": ours / plain,
        }
    ]
    m = asyncio.run(measure(agents=200, minutes=30))
    print(f"servicenow: {m}")
    limit = RULE_PER_HOUR / 60
    floor_s = m["first_sync_requests"] / m["share"] * 60
    rows += [
        {
            "figure": f"first sync, 200 agents ({m['first_sync_requests']:.0f} requests)",
            "value": m["first_sync_s"],
            "unit": "s simulated",
            "baseline": floor_s,
            "baseline_name": "those requests at the full share",
            "ratio": m["first_sync_s"] / floor_s,
        },
        {
            "figure": (
                f"busiest minute, 200 agents (first sync included; {m['throttled']:.0f} × 429)"
            ),
            "value": m["busiest_minute"],
            "unit": "requests",
            "baseline": m["share"],
            "baseline_name": "our share",
            "ratio": m["busiest_minute"] / m["share"],
        },
        {
            "figure": f"steady state, 200 agents, rate limit rule {RULE_PER_HOUR}/h",
            "value": m["per_minute"],
            "unit": "requests/min",
            "baseline": limit,
            "baseline_name": "rule per minute",
            "ratio": m["per_minute"] / limit,
        },
    ]
    # a share far too small for the floor: held all the same, and the lag said
    t = asyncio.run(
        measure(
            agents=200,
            minutes=1,
            give_up_s=30 * 60,
            **{"rate_limit_per_minute": 20, "page_size": 50},
        )
    )
    print(f"tight: {t}")
    rows.append(
        {
            "figure": (
                f"busiest minute, 200 agents, rate_limit_per_minute 20, pages of 50: "
                f"{t['throttled']:.0f} × 429, lag said {t['behind']:.0f} times in 30 min"
            ),
            "value": t["busiest_minute"],
            "unit": "requests",
            "baseline": t["share"],
            "baseline_name": "our share",
            "ratio": t["busiest_minute"] / t["share"],
        }
    )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
