"""What the fake helpdesks share: timestamps, ids, injected faults, and the loop that feeds
them from the floor simulation."""

from __future__ import annotations

import asyncio
import math
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.model import NewEvent

Json = dict[str, Any]
Clock = Callable[[], float]
FAULTS = frozenset({"429", "500", "503", "401", "malformed", "truncated", "wrong_shape", "slow"})


def iso(t: float) -> str:
    """ISO-8601 in whole seconds with ``Z``, as both helpdesks write their times."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """An ISO date or date-time; naive values are UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def number(ident: str) -> int:
    """The number in a simulator id ("a0007" → 7, "c123" → 123)."""
    digits = re.sub(r"\D", "", ident)
    return int(digits) if digits else 0


def ascii_slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", ".", plain.lower()).strip(".") or "user"


class HttpError(Exception):
    def __init__(self, status: int, body: Json | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


@dataclass(slots=True)
class Fault:
    prefix: str
    fault: str
    left: int
    retry_after: int
    delay_s: float


class Faults:
    """Faults waiting for the requests whose path starts with their prefix."""

    def __init__(self) -> None:
        self._waiting: list[Fault] = []

    def add(self, prefix: str, fault: str, count: int, retry_after: int, delay_s: float) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {sorted(FAULTS)}")
        self._waiting.append(Fault(prefix, fault, count, retry_after, delay_s))

    def take(self, path: str) -> Fault | None:
        for fault in self._waiting:
            if fault.left > 0 and path.startswith(fault.prefix):
                fault.left -= 1
                if fault.left == 0:
                    self._waiting.remove(fault)
                return fault
        return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoopbackServer:
    """A fake helpdesk's HTTP side: one aiohttp app on 127.0.0.1 whose every request passes
    through ``_serve`` (auth, rate limit, injected faults, bookkeeping) before its route."""

    base_url: str = ""
    _runner: web.AppRunner | None = None

    def _routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raise NotImplementedError

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: any free port) and return the base URL."""

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self._serve(request, handler)

        app = web.Application(middlewares=[middleware])
        app.add_routes(self._routes())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self.base_url = f"http://{host}:{runner.addresses[0][1]}"
        await self._started()
        return self.base_url

    async def stop(self) -> None:
        await self._stopping()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _started(self) -> None:
        """After the server is up (a fake that sends webhooks starts its sender here)."""

    async def _stopping(self) -> None:
        """Before the server goes down."""


class FedFake(Protocol):
    floor_clock: Clock

    def feed(self, events: Iterable[NewEvent]) -> None: ...


async def run_simulated(
    fake: FedFake,
    options: SimOptions,
    *,
    epoch: float | None = None,
    clock: Clock = time.time,
) -> None:
    """Drive a FloorSimulation in real time and feed ``fake`` until cancelled.

    The warm-up is back-filled at once; then the floor advances with ``clock`` times
    ``options.speed`` (None: as fast as it can, then it idles, still serving). At speeds other
    than 1 the fake's ``floor_clock`` is set to the simulated floor's time, so waits, edits
    and the export lag agree with the fed timestamps. ``epoch`` (the floor's 08:00) defaults
    to ``options.epoch``, else to the warm-up's end being now.
    """
    wall_start = clock()
    if epoch is None:
        epoch = options.epoch if options.epoch is not None else round(wall_start - options.warmup_s)
    floor_epoch = epoch
    sim = FloorSimulation(options, floor_epoch)
    speed = options.speed
    end = None if options.hours is None else options.hours * 3600

    def sim_time() -> float:
        if speed is None:
            return math.inf
        return options.warmup_s + (clock() - wall_start) * speed

    if speed != 1.0:
        fake.floor_clock = lambda: floor_epoch + (sim.t if speed is None else sim_time())
    while True:
        until = sim_time() if end is None else min(sim_time(), end)
        if math.isinf(until):
            nxt = sim.next_due()
            until = nxt + 60.0 if nxt is not None else sim.t
        fake.feed(sim.advance(until))
        finished = (end is not None and sim.t >= end) or (speed is None and sim.next_due() is None)
        if finished:
            await asyncio.Event().wait()  # keep serving what was fed until cancelled
        await asyncio.sleep(0 if speed is None else 0.25)
