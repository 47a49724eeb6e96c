"""The demo's helpdesks: the simulated floor served by fake helpdesks on loopback.

The fakes run in a thread of their own, with their own event loop, so the dashboard's loop
only carries what a real site's would: the real adapters talking HTTP to a helpdesk.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from supervisor_tui.adapters.simulator import SimOptions
from supervisor_tui.fakes.common import Account, FedFake, run_simulated
from supervisor_tui.fakes.freshdesk import FakeFreshdesk
from supervisor_tui.fakes.jsm import FakeJsm
from supervisor_tui.fakes.servicenow import FakeServiceNow
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.model import printable

DEMO_EMAIL = "demo-bot@example.com"
DEMO_SN_USER = "supervisor.integration"
DEMO_ACCOUNTS: dict[str, tuple[Account, Account]] = {
    # what the demo's Zendesk and Freshdesk tokens may read, as real accounts differ
    "admin": (Account(), Account()),
    # a custom agent role with reporting rights; a Supervisor's Freshdesk key
    "supervisor": (Account(role="supervisor"), Account(role="supervisor")),
    # an agent's token on a plan without SLA policies or Talk; a plan without Surveys
    "agent": (
        Account(role="agent", lacks=frozenset({"sla", "talk"})),
        Account(role="agent", lacks=frozenset({"surveys"})),
    ),
}
"""``demo --account``: how a limited account looks on the board and in ``check``."""
START_LIMIT_S = 600.0
"""The longest the demo waits for its helpdesks' warm-up (a floor of 10,000 agents takes
about a minute on a quiet machine)."""
BRAND_MOST = 1_000
"""The second brand's agents: half the floor's, up to this many (a floor of 10,000 agents is
the Zendesk's; its Retail brand on Freshdesk is a thousand more, not five)."""
RETAIL = "Retail"


def retail_agents(agents: int) -> int:
    return max(6, min(agents // 2, BRAND_MOST))


def zendesk_rate_limit(agents: int) -> int:
    """Requests a minute of the demo's Zendesk: 400 (Professional), or 2,500 for a floor of
    thousands of agents (the High Volume API add-on, as such a floor would buy, which also
    lets the ticket export take 30 pages a minute instead of 10: a first sync of a morning
    of 10,000 agents is hundreds of export pages)."""
    return 2_500 if agents > 2_000 else 400


def freshdesk_plan(agents: int) -> str:
    """The demo's Freshdesk plan: a brand of hundreds of agents is on Enterprise (its ticket
    list allows 200 calls a minute, Growth's 20: a first sync of weeks)."""
    return "enterprise" if retail_agents(agents) > 200 else "growth"


IT = "IT"
OPS = "Ops"


@dataclass(frozen=True, slots=True)
class FloorClock:
    """The simulated floor's clock: wall time, or faster when the demo is sped up."""

    epoch: float
    warmup_s: float
    speed: float
    wall_start: float
    wall: Callable[[], float] = time.time

    def __call__(self) -> float:
        if self.speed == 1.0:
            return self.wall()
        return self.epoch + self.warmup_s + (self.wall() - self.wall_start) * self.speed


class DemoHelpdesks:
    """The demo's helpdesks on 127.0.0.1 in a background thread, each fed by its own
    simulated floor: a fake Zendesk (voice, chat and e-mail) and, unless ``freshdesk`` is off,
    a fake Freshdesk for a second brand (chat and e-mail) with its own agents. With
    ``it_desks`` also an IT service desk on a fake Jira Service Management (no presence: its
    agents are shown by their work) and an operations desk on a fake ServiceNow (presence
    from Advanced Work Assignment), each with e-mail queues and agents of their own."""

    def __init__(
        self,
        options: SimOptions,
        *,
        freshdesk: bool = True,
        it_desks: bool = False,
        account: str = "admin",
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.accounts = DEMO_ACCOUNTS[account]
        now = wall()
        epoch = options.epoch if options.epoch is not None else round(now - options.warmup_s)
        self.options = replace(options, epoch=epoch)
        brand_agents = retail_agents(options.agents)
        self.retail = (
            replace(
                self.options,
                seed=options.seed + 1,
                agents=brand_agents,
                queues=3,
                first_queue=2,
                brand=RETAIL,
                first_agent=options.agents,
                ticket_base=50_000,
                source="retail",
            )
            if freshdesk
            else None
        )
        desk_agents = max(6, min(options.agents // 4, BRAND_MOST // 2))
        self.it = (
            replace(
                self.options,
                seed=options.seed + 2,
                agents=desk_agents,
                queues=2,
                first_queue=3,
                brand=IT,
                first_agent=options.agents + brand_agents,
                ticket_base=70_000,
                source="it",
            )
            if it_desks
            else None
        )
        self.ops = (
            replace(
                self.options,
                seed=options.seed + 3,
                agents=desk_agents,
                queues=2,
                first_queue=3,
                brand=OPS,
                first_agent=options.agents + brand_agents + desk_agents,
                ticket_base=80_000,
                source="ops",
            )
            if it_desks
            else None
        )
        self.clock = FloorClock(epoch, options.warmup_s, options.speed or 1.0, now, wall)
        self.token = secrets.token_urlsafe(24)
        self.api_key = secrets.token_urlsafe(24)
        self.email = DEMO_EMAIL
        self.zendesk: FakeZendesk | None = None
        self.freshdesk: FakeFreshdesk | None = None
        self.jsm: FakeJsm | None = None
        self.servicenow: FakeServiceNow | None = None
        self.sn_password = secrets.token_urlsafe(24)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    def start(self, timeout_s: float = START_LIMIT_S) -> str:
        """Start the fakes, once each has its floor's warm-up (a minute for 10,000 agents);
        returns the fake Zendesk's base URL (``freshdesk.base_url`` is the other's)."""
        self._thread = threading.Thread(target=self._main, name="demo-helpdesks", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"the demo helpdesks did not start in {timeout_s:g} s")
        if self._error is not None:
            raise RuntimeError(f"the demo helpdesks failed: {self._error}")
        assert self.zendesk is not None
        return self.zendesk.base_url

    def write_backs(self) -> list[str]:
        """What the fake helpdesks took from this floor: private comments by the floor, each
        with every line of its body (the note is not lost after the header line)."""
        lines: list[str] = []

        def said(header: str, body: str, tail: str = "") -> None:
            kept = [printable(ln).strip() for ln in body.strip().splitlines()]
            kept = [ln for ln in kept if ln and ln != "{noformat}"]
            first, rest = (kept[0], kept[1:]) if kept else ("", [])
            lines.append(f"{header}: {first}{tail}")
            lines.extend(f"    {ln}" for ln in rest)

        fake = self.zendesk
        if fake is not None:
            for ticket_id, comments in sorted(fake.comments.items()):
                for c in comments:
                    body = str(c.get("body") or "")
                    if "[supervisor-tui " in body and not c.get("public", True):
                        said(f"zendesk #{ticket_id} private comment", body)
        other = self.freshdesk
        if other is not None:
            for ticket_id, notes in sorted(other.notes.items()):
                for n in notes:
                    text = str(n.get("body_text") or "")
                    if "[supervisor-tui " in text and n.get("private"):
                        tags = ", ".join(other.tickets.get(ticket_id, {}).get("tags") or [])
                        said(f"freshdesk #{ticket_id} private note", text, f" (tags: {tags})")
        if self.jsm is not None:
            for key, what, text in self.jsm.write_backs:
                if what == "comment" and "[supervisor-tui " in text:
                    said(f"jsm {key} internal comment", text)
                elif what == "labels":
                    lines.append(f"jsm {key} labels: {printable(text)}")
        if self.servicenow is not None:
            for note in self.servicenow.work_notes:
                value = str(note.get("value") or "")
                if "[supervisor-tui " in value:
                    number = self.servicenow.number_of(str(note.get("element_id")))
                    said(f"servicenow {number} work note", value)
        return lines

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        limit = zendesk_rate_limit(self.options.agents)
        fake = FakeZendesk(
            subdomain="demo",
            email=self.email,
            token=self.token,
            clock=self.clock.wall,  # limits count real minutes; the floor's time is set below
            rate_limit=limit,
            high_volume=limit > 700,  # above Enterprise's 700: the add-on is bought
            account=replace(self.accounts[0]),
        )
        await fake.start()
        self.zendesk = fake
        fed: list[tuple[FedFake, SimOptions]] = [(fake, self.options)]
        fakes: list[FakeFreshdesk | FakeJsm | FakeServiceNow] = []
        if self.retail is not None:
            other = FakeFreshdesk(
                domain="retail",
                api_key=self.api_key,
                plan=freshdesk_plan(self.options.agents),
                clock=self.clock.wall,
                account=replace(self.accounts[1]),
            )
            await other.start()
            self.freshdesk = other
            fakes.append(other)
            fed.append((other, self.retail))
        if self.it is not None:
            jsm = FakeJsm(site="it", email=self.email, token=self.token, clock=self.clock.wall)
            jsm.clock = lambda: jsm.floor_clock()  # its searches and edits follow the floor
            await jsm.start()
            self.jsm = jsm
            fakes.append(jsm)
            fed.append((jsm, self.it))
        if self.ops is not None:
            sn = FakeServiceNow(
                instance="ops",
                username=DEMO_SN_USER,
                password=self.sn_password,
                clock=self.clock.wall,
            )
            await sn.start()
            self.servicenow = sn
            fakes.append(sn)
            fed.append((sn, self.ops))
        warm = [asyncio.Event() for _ in fed]
        feeders = [
            asyncio.create_task(
                run_simulated(
                    each, options, epoch=self.options.epoch, clock=self.clock.wall, fed=ready
                )
            )
            for (each, options), ready in zip(fed, warm, strict=True)
        ]
        try:
            # every floor's warm-up in (a feeder that failed ends the wait with its error)
            for feeder, ready in zip(feeders, warm, strict=True):
                waiting = asyncio.ensure_future(ready.wait())
                await asyncio.wait({feeder, waiting}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                if feeder.done():
                    feeder.result()
            self._ready.set()
            await self._stop.wait()
        finally:
            for feeder in feeders:
                feeder.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await feeder
            await fake.stop()
            for each in fakes:
                await each.stop()
