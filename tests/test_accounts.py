"""Real accounts: a token on any plan reads all it may, and each permission or plan gap costs
one capability (with its reason and fix), never the source.

Each helpdesk's fake plays an account (``Account``: the token's role, what the plan leaves
out); ``check`` is run as a new user runs it, through the CLI over real HTTP on loopback,
and the live adapter is polled into a real SQLite store.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from supervisor_tui.adapters.freshdesk.adapter import FreshdeskAdapter, FreshdeskSettings
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter, ZendeskSettings
from supervisor_tui.cli import main
from supervisor_tui.core.kpis import queue_kpis
from supervisor_tui.core.projection import FloorState
from supervisor_tui.fakes.common import Account, LoopbackServer
from supervisor_tui.fakes.freshdesk import FakeFreshdesk
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.model import AgentState, Capability, HealthState, SourceHealth
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, FakeClock, targets
from .helpers import StoreSink

ZD_TOKEN = "accounts-zd-token-value"
FD_KEY = "accounts-fd-key-value"


async def fed(fake: LoopbackServer, *, epoch: float, agents: int = 20) -> None:
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=11, agents=agents, speed=None, warmup_s=0), epoch)
    fake.feed(sim.advance(3 * 3600))  # type: ignore[attr-defined]


def config(tmp_path: Path, kind: str, base_url: str) -> Path:
    if kind == "zendesk":
        body = (
            f'[[sources]]\nname = "zd"\nkind = "zendesk"\nbase_url = "{base_url}"\n'
            'email = "bot@example.com"\ntoken_env = "ACCOUNTS_ZD_TOKEN"\n'
        )
    else:
        body = (
            f'[[sources]]\nname = "fd"\nkind = "freshdesk"\nbase_url = "{base_url}"\n'
            'api_key_env = "ACCOUNTS_FD_KEY"\n'
        )
    path = tmp_path / f"{kind}.toml"
    path.write_text(body, encoding="utf-8")
    path.chmod(0o600)
    return path


async def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    os.environ["ACCOUNTS_ZD_TOKEN"] = ZD_TOKEN
    os.environ["ACCOUNTS_FD_KEY"] = FD_KEY
    try:
        code = await asyncio.to_thread(main, ["check", "-c", str(path), "--json"])
    finally:
        del os.environ["ACCOUNTS_ZD_TOKEN"], os.environ["ACCOUNTS_FD_KEY"]
    out, err = capsys.readouterr()
    (source,) = json.loads(out)["sources"]
    return code, source, err


def limited(source: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {lim["capability"]: lim for lim in source["limits"]}


# -- Zendesk -------------------------------------------------------------------------------


@pytest.fixture
async def zendesk_agent() -> AsyncIterator[FakeZendesk]:
    """An agent's token (not an admin): the incremental exports, SLA policies, agent
    availability and Talk's statistics are refused with 403."""
    fake = FakeZendesk(email="bot@example.com", token=ZD_TOKEN, account=Account(role="agent"))
    await fed(fake, epoch=time.time() - 3 * 3600 - 600)
    yield fake
    await fake.stop()


async def test_zendesk_agent_token_check_passes_with_its_limits(
    zendesk_agent: FakeZendesk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, source, _ = await check(config(tmp_path, "zendesk", zendesk_agent.base_url), capsys)
    assert code == 0 and source["ok"] is True and source["error"] is None
    live = [t for t in zendesk_agent.tickets.values() if t["status"] != "deleted"]
    assert source["tickets"] == len(live)  # read by search, every one
    assert source["agents"] == 20 and source["queues"] == 5
    # what an agent's token cannot read is unknown, never 0
    assert source["deleted_tickets"] is None and source["sla_policies"] is None
    limits = limited(source)
    assert {"deletions", "sla_clocks", "sla_policies", "presence"} <= set(limits)
    assert "admin" in limits["deletions"]["fix"]
    for lim in limits.values():
        assert lim["reason"] and lim["fix"]
    searched = [p for m, p in zendesk_agent.requests if p.startswith("/api/v2/search/export")]
    assert searched


async def test_zendesk_agent_token_feeds_the_board_with_no_status(
    zendesk_agent: FakeZendesk, tmp_path: Path
) -> None:
    """Live: tickets keep coming through search, the source is not down, and agents with no
    presence source show no status, never offline."""
    store = SQLiteStore(tmp_path / "floor.db")
    sink = StoreSink(store, "zd", time.time)
    adapter = ZendeskAdapter(
        "zd",
        ZendeskSettings(base_url=zendesk_agent.base_url, email="bot@example.com", token=ZD_TOKEN),
    )
    try:
        for task in adapter.tasks:
            task.due_at = 0
        await adapter.poll_due(sink)
        await adapter.poll_due(sink)
    finally:
        await adapter.close()
    health = sink.health_reports[-1]
    assert health.state is HealthState.CONNECTED, health.reason
    assert {lim.capability for lim in health.limits} >= {
        Capability.DELETIONS,
        Capability.PRESENCE,
        Capability.SLA_CLOCKS,
    }
    state = FloorState(targets())
    state.apply_all(store.read_from(0, 1_000_000))
    store.close()
    open_fake = {
        str(t["id"]) for t in zendesk_agent.tickets.values() if t["status"] in ("new", "open")
    }
    open_board = {v.ticket_id for v in state.tickets.values() if v.status.is_open}
    assert open_fake and open_fake <= open_board
    assert state.agents and all(a.state is AgentState.UNKNOWN for a in state.agents.values())
    assert not any(state.staffed.values())
    # every figure the token cannot read is unknown on the tiles, never 0
    now = time.time()
    for queue in state.queues.values():
        k = queue_kpis(state, queue, now)
        assert k.have is None
        if queue.channel.is_realtime:  # calls (no Talk stats) and chats (no first replies)
            assert k.offered is None and k.need is None and k.service_level is None
        else:
            assert k.sla_at_risk is None and k.sla_breached is None


async def test_zendesk_without_omnichannel_takes_presence_from_talk(tmp_path: Path) -> None:
    fake = FakeZendesk(
        email="bot@example.com", token=ZD_TOKEN, account=Account(lacks=frozenset({"omnichannel"}))
    )
    await fed(fake, epoch=time.time() - 3 * 3600 - 600)
    store = SQLiteStore(tmp_path / "floor.db")
    sink = StoreSink(store, "zd", time.time)
    adapter = ZendeskAdapter(
        "zd", ZendeskSettings(base_url=fake.base_url, email="bot@example.com", token=ZD_TOKEN)
    )
    try:
        for task in adapter.tasks:
            task.due_at = 0
        await adapter.poll_due(sink)
    finally:
        await adapter.close()
        await fake.stop()
    health = sink.health_reports[-1]
    assert health.state is HealthState.CONNECTED and Capability.PRESENCE not in {
        lim.capability for lim in health.limits
    }
    state = FloorState(targets())
    state.apply_all(store.read_from(0, 1_000_000))
    store.close()
    states = {a.state for a in state.agents.values()}
    assert states & {AgentState.BUSY, AgentState.AVAILABLE, AgentState.WRAP_UP}


@pytest.mark.parametrize("how", ["plan", "404"])
async def test_zendesk_sla_policies_missing_costs_one_figure(
    how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = Account(lacks=frozenset({"sla"})) if how == "plan" else Account()
    fake = FakeZendesk(email="bot@example.com", token=ZD_TOKEN, account=account)
    await fed(fake, epoch=time.time() - 3 * 3600 - 600)
    if how == "404":
        fake.inject("/api/v2/slas/policies", "404", count=100)
    try:
        code, source, _ = await check(config(tmp_path, "zendesk", fake.base_url), capsys)
    finally:
        await fake.stop()
    assert code == 0 and source["ok"] is True
    assert source["sla_policies"] is None
    assert set(limited(source)) == {"sla_policies"}
    assert source["tickets"] > 0 and source["deleted_tickets"] == 0


async def test_check_waits_out_a_429_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeZendesk(email="bot@example.com", token=ZD_TOKEN)
    await fed(fake, epoch=time.time() - 3 * 3600 - 600)
    fake.inject("/api/v2/groups", "429", retry_after=2)
    try:
        code, source, err = await check(config(tmp_path, "zendesk", fake.base_url), capsys)
    finally:
        await fake.stop()
    assert code == 0 and source["ok"] is True and source["queues"] == 5
    assert "429" in err and "waiting 2 s" in err
    assert ZD_TOKEN not in err


@dataclass
class LiveZendesk:
    fake: FakeZendesk
    clock: FakeClock
    adapter: ZendeskAdapter
    sink: StoreSink
    store: SQLiteStore


@pytest.fixture
async def live_zendesk(tmp_path: Path) -> AsyncIterator[LiveZendesk]:
    clock = FakeClock(EPOCH + 3 * 3600)
    fake = FakeZendesk(email="bot@example.com", token=ZD_TOKEN, clock=clock)
    await fed(fake, epoch=EPOCH)
    store = SQLiteStore(tmp_path / "floor.db")
    adapter = ZendeskAdapter(
        "zd",
        ZendeskSettings(base_url=fake.base_url, email="bot@example.com", token=ZD_TOKEN),
        clock=clock,
    )
    yield LiveZendesk(fake, clock, adapter, StoreSink(store, "zd", clock), store)
    await adapter.close()
    store.close()
    await fake.stop()


async def test_a_429_on_the_exports_holds_tickets_only(live_zendesk: LiveZendesk) -> None:
    """Another integration (a BI connector) spent the account's 10 exports a minute: the
    ticket export waits for its Retry-After, and agent states go on being read."""
    z = live_zendesk
    for task in z.adapter.tasks:
        task.due_at = 0
    await z.adapter.poll_due(z.sink)
    auth = httpx.BasicAuth("bot@example.com/token", ZD_TOKEN)
    async with httpx.AsyncClient(base_url=z.fake.base_url, auth=auth) as other:
        for _ in range(12):
            await other.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0})
    z.clock.advance(10)
    z.adapter.task("tickets").due_at = 0
    await z.adapter.poll_due(z.sink)
    held = z.adapter.task("tickets").held_until
    assert held > z.clock()
    degraded = z.sink.health_reports[-1]
    assert degraded.state is HealthState.DEGRADED and "incremental exports" in degraded.reason
    before = len(z.fake.requests)
    z.clock.advance(5)
    await z.adapter.poll_due(z.sink)
    during = z.fake.requests[before:]
    assert any("agent_availabilities" in p for _, p in during)  # agents go on
    assert not any("/incremental/tickets" in p for _, p in during)  # tickets wait
    z.clock.advance(held - z.clock() + 1)
    await z.adapter.poll_due(z.sink)
    assert any("/incremental/tickets" in p for _, p in z.fake.requests[before:])
    assert z.sink.health_reports[-1].state is HealthState.CONNECTED


async def test_a_capability_comes_back_when_the_account_changes(
    live_zendesk: LiveZendesk,
) -> None:
    """Turned off with its reason, tried again half an hour later, and back when the
    account has it again (the admin upgraded the plan)."""
    z = live_zendesk
    z.fake.account.lacks = frozenset({"sla"})
    for task in z.adapter.tasks:
        task.due_at = 0
    await z.adapter.poll_due(z.sink)
    health = z.sink.health_reports[-1]
    assert health.state is HealthState.CONNECTED
    assert [lim.capability for lim in health.limits] == [Capability.SLA_POLICIES]
    z.fake.account.lacks = frozenset()
    z.clock.advance(1801)
    for _ in range(3):
        await z.adapter.poll_due(z.sink)
        z.clock.advance(5)
    assert z.sink.health_reports[-1].limits == ()


# -- Freshdesk -----------------------------------------------------------------------------


async def freshdesk_check(
    account: Account, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    fake = FakeFreshdesk(api_key=FD_KEY, account=account)
    await fed(fake, epoch=time.time() - 3 * 3600 - 600)
    try:
        code, source, _ = await check(config(tmp_path, "freshdesk", fake.base_url), capsys)
    finally:
        await fake.stop()
    assert code == 0 and source["ok"] is True and source["error"] is None
    assert source["tickets"] > 0 and source["agents"] == 20
    return source


async def test_freshdesk_plan_without_surveys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = await freshdesk_check(Account(lacks=frozenset({"surveys"})), tmp_path, capsys)
    limits = limited(source)
    assert set(limits) == {"satisfaction"}
    assert "plan" in limits["satisfaction"]["reason"]


async def test_freshdesk_supervisor_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = await freshdesk_check(Account(role="supervisor"), tmp_path, capsys)
    limits = limited(source)
    assert set(limits) == {"sla_policies"}
    assert "access denied" in limits["sla_policies"]["reason"]
    assert source["sla_policies"] is None and source["deleted_tickets"] == 0


async def test_freshdesk_agent_key_without_deleted_tickets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = await freshdesk_check(Account(role="agent"), tmp_path, capsys)
    assert {"deletions", "sla_policies"} == set(limited(source))
    assert source["deleted_tickets"] is None


async def test_freshdesk_live_source_stays_up_without_surveys(tmp_path: Path) -> None:
    fake = FakeFreshdesk(api_key=FD_KEY, account=Account(lacks=frozenset({"surveys"})))
    await fed(fake, epoch=time.time() - 3 * 3600 - 600)
    store = SQLiteStore(tmp_path / "floor.db")
    sink = StoreSink(store, "fd", time.time)
    adapter = FreshdeskAdapter("fd", FreshdeskSettings(base_url=fake.base_url, api_key=FD_KEY))
    try:
        for task in adapter.tasks:
            task.due_at = 0
        await adapter.poll_due(sink)
    finally:
        await adapter.close()
        await fake.stop()
        store.close()
    last: SourceHealth = sink.health_reports[-1]
    assert last.state is HealthState.CONNECTED
    assert [lim.capability for lim in last.limits] == [Capability.SATISFACTION]


async def test_freshdesk_group_scope_says_which_groups_it_leaves_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key whose agent has group ticket scope reads a part: check passes, says which
    groups are left out, and the tickets it counts are exactly those of its groups."""
    fake = FakeFreshdesk(api_key=FD_KEY)
    await fed(fake, epoch=time.time() - 3 * 3600 - 600)
    names = sorted(g["name"] for g in fake.groups.values())
    fake.account.groups = frozenset(names[:1])
    try:
        code, source, _ = await check(config(tmp_path, "freshdesk", fake.base_url), capsys)
    finally:
        await fake.stop()
    assert code == 0 and source["ok"] is True
    (limit,) = [lim for lim in source["limits"] if lim["capability"] == "tickets"]
    assert limit["partial"] is True and "global ticket scope" in limit["fix"]
    for left_out in names[1:]:
        assert left_out in limit["reason"]
    assert names[0] not in limit["reason"].split("left out:")[1]
    mine = {gid for gid, g in fake.groups.items() if g["name"] == names[0]}
    in_scope = [
        t for t in fake.tickets.values() if not t.get("deleted") and t.get("group_id") in mine
    ]
    assert source["tickets"] == len(in_scope) > 0


@pytest.mark.parametrize("short", [False, True])
def test_the_compact_queue_table_shows_unknown_figures_as_unknown(short: bool) -> None:
    """A figure the account cannot give reads "—" in the compact table too, never "None"."""
    from dataclasses import replace

    from supervisor_tui.core.kpis import QueueKpis
    from supervisor_tui.widgets.queuetable import QueueRow, row_text

    known = QueueKpis(
        queue_id="zd:1", name="Email", channel="email", realtime=False, waiting=None,
        longest_wait_s=None, waiting_as_of=None, sl_threshold_s=20, service_level=None,
        asa_s=None, abandon_rate=None, aht_s=None, offered=None, answered=None, backlog=12,
        aging=(10, 2, 0), sla_at_risk=None, sla_breached=None, csat=None, need=None, have=None,
    )  # fmt: skip
    for kpis in (known, replace(known, channel="chat", realtime=True, name="Chat")):
        text = row_text(QueueRow(kpis, None, None, 0), 20, short).plain
        assert "None" not in text and "—" in text
