"""The Jira Service Management adapter: what a 200-agent desk costs of the site's rate limit,
and how fast it normalizes.

- first sync: from nothing to every request read and every pending SLA read (one call per
  request), in simulated seconds and requests, through the fake JSM on loopback with the
  clock stepped by hand;
- steady state: requests per minute after the first sync (simulated minutes), against the
  fake site's limit (600/min) and our share of it (``budget_share`` × ``rate_limit_per_minute``
  = 150/min by default); the busiest minute (any 60 s window, the first sync included) and the
  429s the fake answered;
- normalize: requests/s from a search page's JSON text to ``ticket.upserted`` payloads,
  against plain ``json.loads`` plus reading the same fields from the dicts.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from supervisor_tui.adapters.jsm import parse
from supervisor_tui.adapters.jsm.adapter import JsmAdapter, JsmSettings
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.fakes.jsm import FakeJsm
from supervisor_tui.hub.check import MemorySink

EPOCH = 1_790_000_000.0
EMAIL, TOKEN = "bench@example.com", "bench-token"
SITE_LIMIT = 600  # the fake site's limit per minute (Jira Cloud's is cost-based, not a plan's)
STEP_S = 0.5


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def busiest_minute(timeline: list[tuple[float, int]]) -> int:
    """The most requests sent in any 60 s window ([t, t + 60)), from (time, count) steps."""
    best = total = 0
    lo = 0
    for t, n in timeline:
        total += n
        while timeline[lo][0] <= t - 60:
            total -= timeline[lo][1]
            lo += 1
        best = max(best, total)
    return best


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


async def drive(
    adapter: Any,
    fake: Any,
    sim: FloorSimulation,
    clock: _Clock,
    sink: MemorySink,
    *,
    synced: Callable[[], bool],
    minutes: float,
    give_up_s: float,
) -> dict[str, float]:
    """Poll on a stepped clock, feeding the floor as it goes, until ``synced`` and then
    ``minutes`` more (or ``give_up_s`` without catching up): the first sync's length and
    cost, the steady rate after it and the busiest 60 s window of the whole run."""
    start = clock.now
    timeline: list[tuple[float, int]] = []
    synced_at: float | None = None
    synced_requests = 0
    end = None
    while end is None or clock.now < end:
        before = len(fake.requests)
        await adapter.poll_due(sink)
        timeline.append((clock.now, len(fake.requests) - before))
        if synced_at is None and synced():
            synced_at = clock.now
            synced_requests = len(fake.requests)
            end = clock.now + minutes * 60
        if synced_at is None and clock.now - start > give_up_s:
            break  # never caught up: said by first_sync_s = inf
        clock.now += STEP_S
        fake.feed(sim.advance(clock.now - EPOCH))
    if synced_at is None:
        synced_at, synced_requests, minutes = float("inf"), len(fake.requests), 1.0
    return {
        "first_sync_s": synced_at - start,
        "first_sync_requests": float(synced_requests),
        "per_minute": (len(fake.requests) - synced_requests) / minutes,
        "busiest_minute": float(busiest_minute(timeline)),
    }


def _synced(adapter: JsmAdapter) -> bool:
    c = adapter._cursor
    return (
        c["token"] is None
        and not c["sla"]
        and adapter.desks != []
        and adapter._members_read_at > -1e18
        and all(t.last_run_at > -1e18 for t in adapter.tasks)
    )


async def measure(
    agents: int,
    minutes: float,
    seed: int = 4,
    hours: float = 3,
    give_up_s: float = 6 * 3600,
    **over: Any,
) -> dict[str, float]:
    clock = _Clock(EPOCH + hours * 3600)
    fake = FakeJsm(email=EMAIL, token=TOKEN, clock=clock, rate_limit=SITE_LIMIT)
    await fake.start()
    limited: list[float] = []
    answer_429 = fake._limited

    def counted(retry_after: int) -> Any:
        limited.append(clock.now)
        return answer_429(retry_after)

    fake._limited = counted  # type: ignore[method-assign]
    sim = FloorSimulation(SimOptions(seed=seed, agents=agents, queues=10, speed=None), EPOCH)
    fake.feed(sim.advance(hours * 3600))
    settings = JsmSettings(
        base_url=fake.base_url, email=EMAIL, token=TOKEN, backfill_s=86_400, **over
    )
    adapter = JsmAdapter("jsm", settings, clock=clock)
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
    sla_calls = sum(1 for _, p in fake.requests if "/sla" in p)
    return {
        "share": float(share),
        **figures,
        "throttled": float(len(limited)),
        "sla_calls": float(sla_calls),
        "behind": float(sum(1 for _, r in sink.health_reports if " still " in r)),
    }


async def _search_text(agents: int) -> str:
    """One search page (100 requests, every field the adapter asks for), as the wire has it."""
    clock = _Clock(EPOCH + 10 * 3600)
    fake = FakeJsm(email=EMAIL, token=TOKEN, clock=clock, rate_limit=100_000)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=1, agents=agents, queues=10, speed=None), EPOCH)
    fake.feed(sim.advance(10 * 3600))
    async with httpx.AsyncClient(base_url=fake.base_url, auth=(EMAIL, TOKEN)) as c:
        r = await c.get(
            "/rest/api/3/search/jql",
            params={
                "jql": 'project in ("SUP") AND updated >= "2000-01-01 00:00" ORDER BY updated ASC',
                "fields": ",".join(parse.SEARCH_FIELDS),
                "maxResults": 100,
            },
        )
    await fake.stop()
    r.raise_for_status()
    return r.text


def _normalize(text: str, rounds: int) -> tuple[float, float, int]:
    ctx = parse.Context(source="jsm")
    count = 0
    t = time.perf_counter()
    for _ in range(rounds):
        for issue in json.loads(text)["issues"]:
            parse.ticket_payload(issue, ctx)
            count += 1
    ours = _rate(count, time.perf_counter() - t)
    t = time.perf_counter()
    n = 0
    for _ in range(rounds):
        for issue in json.loads(text)["issues"]:
            fields = issue["fields"]
            _ = [issue.get("key"), issue.get("id")] + [fields.get(k) for k in parse.SEARCH_FIELDS]
            n += 1
    plain = _rate(n, time.perf_counter() - t)
    return ours, plain, count // rounds


def run() -> list[dict[str, Any]]:
    text = asyncio.run(_search_text(agents=200))
    ours, plain, issues = _normalize(text, rounds=200)
    rows: list[dict[str, Any]] = [
        {
            "figure": f"normalize search page ({issues} requests)",
            "value": ours,
            "unit": "requests/s",
            "baseline": plain,
            "baseline_name": "json.loads + dict access",
            "ratio": ours / plain,
        }
    ]
    m = asyncio.run(measure(agents=200, minutes=30))
    print(f"jsm: {m}")
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
            "figure": f"steady state, 200 agents, site limit {SITE_LIMIT}/min",
            "value": m["per_minute"],
            "unit": "requests/min",
            "baseline": float(SITE_LIMIT),
            "baseline_name": "site limit",
            "ratio": m["per_minute"] / float(SITE_LIMIT),
        },
    ]
    # a share far too small for the floor: held all the same, and the lag said
    t = asyncio.run(
        measure(agents=200, minutes=1, give_up_s=30 * 60, **{"rate_limit_per_minute": 60})
    )
    print(f"tight: {t}")
    rows.append(
        {
            "figure": (
                f"busiest minute, 200 agents, rate_limit_per_minute 60: "
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
