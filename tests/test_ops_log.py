"""The log of a bad night (issue #24): a real `supervisor-tui serve` against the fake Zendesk
on loopback, with faults injected (a 403 on Talk's statistics, a 429 with Retry-After, a 500,
a second source with a wrong token, a write-back the helpdesk refuses), terminals on its hub
(a supervisor who acks, a wall whose view token tries to, a stranger with an unknown token).
The log file is then read as an operator would, and each kind of line is found, with no
secret in it. Text and JSON lines both.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import stat
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from supervisor_tui.adapters.polling import LIMIT_RETRY_S
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter, ZendeskSettings
from supervisor_tui.core.projection import FloorState
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.hub.client import HubClient, RemoteDesk
from supervisor_tui.hub.protocol import hash_token
from supervisor_tui.logs import PrivateRotatingFile, log_to
from supervisor_tui.model import HealthState
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, FakeClock, rules, targets
from .helpers import StoreSink
from .pg import free_port
from .test_hub import until
from .test_secrets import poll_all

ZD_TOKEN = "CANARY-zd-ops-5be1"
ZD_WRONG = "CANARY-zd-ops-wrong-77c2"
SUPERVISE = "CANARY-hub-supervise-31aa"
VIEW = "CANARY-hub-view-82dd"
EMAIL = "bot@example.com"

CONFIG = """
[floor]
name = "Night floor"

[store]
path = "{db}"

[[sources]]
name = "zendesk"
kind = "zendesk"
base_url = "{zd}"
email = "{email}"
token_env = "OPS_ZD_TOKEN"
write_back = true
rate_limit_per_minute = 700

[[sources]]
name = "oldzd"
kind = "zendesk"
base_url = "{zd}"
email = "{email}"
token_env = "OPS_ZD_WRONG"

[hub]
listen = "127.0.0.1:{port}"

[[hub.tokens]]
name = "Sam Lead"
scope = "supervise"
sha256 = "{supervise}"

[[hub.tokens]]
name = "Wall 3"
scope = "view"
sha256 = "{view}"

[[rules]]
id = "complaint"
kind = "ticket_flag"
"""


@pytest.fixture
async def zendesk() -> AsyncIterator[FakeZendesk]:
    # the helpdesk runs on the wall clock, as the serve process does
    start = time.time() - 4 * 3600
    fake = FakeZendesk(email=EMAIL, token=ZD_TOKEN, rate_limit=700)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=3, agents=30, speed=None, warmup_s=0), start)
    fake.feed(sim.advance(4 * 3600 - 5))
    yield fake
    await fake.stop()


async def log_says(path: Path, needle: str, proc: asyncio.subprocess.Process) -> None:
    """Wait (bounded) until the log has a line containing ``needle``."""
    for _ in range(600):
        if path.exists() and needle in path.read_text(encoding="utf-8"):
            return
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {needle!r} in the log:\n" + path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("form", ["text", "json"])
async def test_the_log_of_a_faulty_night_says_what_happened(
    zendesk: FakeZendesk, tmp_path: Path, form: str
) -> None:
    fake = zendesk
    port = free_port()
    config = tmp_path / "night.toml"
    config.write_text(
        CONFIG.format(
            db=tmp_path / "night.db",
            zd=fake.base_url,
            email=EMAIL,
            port=port,
            supervise=hash_token(SUPERVISE),
            view=hash_token(VIEW),
        )
    )
    config.chmod(0o600)
    log_file = tmp_path / "logs" / "night.log"  # a folder not made yet
    # each fault hits the first requests of its path, whichever source sends them
    fake.inject("/api/v2/channels/voice/stats", "403", count=10_000)
    fake.inject("/api/v2/groups", "429", count=2, retry_after=3)
    fake.inject("/api/v2/incremental/tickets", "500", count=2)
    env = {**os.environ, "OPS_ZD_TOKEN": ZD_TOKEN, "OPS_ZD_WRONG": ZD_WRONG}
    command = ["serve", "-c", str(config), "--log-file", str(log_file)]
    if form == "json":
        command.append("--log-json")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "supervisor_tui.cli",
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    sam = HubClient(f"ws://127.0.0.1:{port}", SUPERVISE, targets())
    wall = HubClient(f"ws://127.0.0.1:{port}", VIEW, targets())
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line.startswith("serving 'Night floor'"), line
        assert stat.S_IMODE(log_file.stat().st_mode) == 0o600

        # a terminal with an unknown token is turned away at the door
        async with connect(f"ws://127.0.0.1:{port}") as ws:
            await ws.send(json.dumps({"type": "hello", "token": "not-a-token"}))
            await ws.recv()
        sam.start()
        wall.start()

        floor = FloorState(targets())

        def complaint_open() -> bool:
            nonlocal floor
            snapshot = sam.take_snapshot()  # taken once: the floor so far, then events
            if snapshot is not None:
                floor = snapshot[1]
            floor.apply_all(sam.read_from(floor.seq, 10**7))
            return any(e.is_open and e.ticket_id for e in floor.escalations.values())

        await until(complaint_open, timeout=60)
        esc = next(e for e in floor.escalations.values() if e.is_open and e.ticket_id)
        # the helpdesk refuses the write-back (every attempt for a while)
        fake.inject(f"/api/v2/tickets/{esc.ticket_id}", "500", count=10_000)
        await asyncio.to_thread(RemoteDesk(sam).ack, esc, "", "calling the customer back")
        with pytest.raises(Exception, match="scope view"):
            await asyncio.to_thread(RemoteDesk(wall).snooze, esc, "", 15)
        await log_says(log_file, "failed: ", proc)
        await log_says(log_file, "source oldzd: down", proc)
        await log_says(log_file, "429 on GET /api/v2/groups", proc)
    finally:
        sam.close()
        wall.close()
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)

    raw = log_file.read_text(encoding="utf-8")
    if form == "json":
        entries = [json.loads(line) for line in raw.splitlines()]
        assert {e["level"] for e in entries} <= {"debug", "info", "warning", "error"}
        lines = [f"{e['level'].upper()} {e['logger']}: {e['message']}" for e in entries]
    else:
        lines = raw.splitlines()
    text = "\n".join(lines)

    def has(*parts: str) -> str:
        found = [line for line in lines if all(part in line for part in parts)]
        assert found, f"no line with {parts} in:\n{text}"
        return found[0]

    # source state changes, with the reason and when it is tried again
    has("WARNING", "source zendesk: degraded", "500", "retry at")
    has("ERROR", "source oldzd: down", "(401)", "retry at")
    has("source zendesk: connected")
    # a capability turned off, with the reason and the fix
    has("zendesk:", " off: ", "(403)", "fix:")
    # the 429 and its back-off
    has("WARNING", "429 on GET /api/v2/groups", "held back", "Retry-After 3")
    # the hub: who connected with which token and scope; who was refused and why
    has("INFO", "hub: terminal 127.0.0.1 connected with token 'Sam Lead' (scope supervise)")
    has("hub: terminal 127.0.0.1 connected with token 'Wall 3' (scope view)")
    has("WARNING", "unknown token")
    has("WARNING", "refused a command (snooze)", "'Wall 3'", "scope view")
    # the operator's command, who did it and from where
    has("INFO", "operator: acked by 'Sam Lead' from watch 127.0.0.1", esc.escalation_id)
    # the write-back: attempted, failed, kept with a retry time
    has("INFO", "write-back #1 (ack", f"ticket {esc.ticket_id}", "by Sam Lead", "attempt 1")
    has("WARNING", "write-back #1", "failed:", "kept, retry at")

    # when the collector started, with what, and when it stopped (SIGTERM above)
    has("INFO", "collector started: ", "zendesk", "oldzd")
    has("INFO", "collector stopped at event ")

    # no secret, nor the header it travels in
    for secret in (ZD_TOKEN, ZD_WRONG, SUPERVISE, VIEW):
        assert secret not in raw
        assert base64.b64encode(f"{EMAIL}/token:{secret}".encode()).decode() not in raw


def test_a_line_cannot_be_forged_and_the_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("")
    path.chmod(0o644)  # an older file, readable by others: made private
    log_to(path)
    try:
        logging.getLogger("supervisor_tui.test").warning(
            "title %s", "Refund\n2026-01-01 ERROR forged: \x1b[31mred"
        )
    finally:
        for handler in list(logging.getLogger().handlers):
            if isinstance(handler, PrivateRotatingFile):
                handler.close()
                logging.getLogger().removeHandler(handler)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert "\\n2026-01-01 ERROR forged: \\x1b[31mred" in lines[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@dataclass
class ZendeskFloor:
    clock: FakeClock
    fake: FakeZendesk
    sink: StoreSink
    adapter: ZendeskAdapter


@contextlib.asynccontextmanager
async def zendesk_floor(tmp_path: Path) -> AsyncIterator[ZendeskFloor]:
    """A fake Zendesk fed two hours of a 12-agent floor, and an adapter to it (not run)."""
    clock = FakeClock(EPOCH)
    fake = FakeZendesk(email=EMAIL, token=ZD_TOKEN, clock=clock)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=5, agents=12, speed=None, warmup_s=0), EPOCH)
    clock.advance(2 * 3600)
    fake.feed(sim.advance(2 * 3600))
    store = SQLiteStore(tmp_path / "floor.db")
    sink = StoreSink(store, "zendesk", clock)
    settings = ZendeskSettings(base_url=fake.base_url, email=EMAIL, token=ZD_TOKEN)
    adapter = ZendeskAdapter("zendesk", settings, clock=clock)
    try:
        yield ZendeskFloor(clock, fake, sink, adapter)
    finally:
        await adapter.api.close()
        store.close()
        await fake.stop()


async def test_a_capability_turned_off_and_back_on_is_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="supervisor_tui")
    async with zendesk_floor(tmp_path) as floor:
        clock, fake, sink, adapter = floor.clock, floor.fake, floor.sink, floor.adapter
        fake.inject("/api/v2/channels/voice/stats", "403", count=10_000)
        await poll_all(adapter, sink)
        off = [r.getMessage() for r in caplog.records if " off: " in r.getMessage()]
        assert off and all(m.startswith("zendesk: ") and "(403)" in m for m in off)
        turned_off = {m.split()[1] for m in off}
        fake._faults._waiting.clear()  # the account changed: Talk's statistics readable again
        clock.advance(LIMIT_RETRY_S + 1)
        await poll_all(adapter, sink)
        back = {r.getMessage() for r in caplog.records if r.getMessage().endswith(" is back")}
        assert back == {f"zendesk: {capability} is back" for capability in turned_off}


async def test_a_source_whose_token_is_refused_stays_down_until_it_is_tried_again(
    tmp_path: Path,
) -> None:
    """Found in the log of a faulty `run`: a 401 said DOWN, and the next round of the loop
    (no task due yet) said "first sync" over it, so the board showed a refused token as a
    source still starting."""
    clock = FakeClock(EPOCH)
    fake = FakeZendesk(email=EMAIL, token=ZD_TOKEN, clock=clock)
    await fake.start()
    store = SQLiteStore(tmp_path / "floor.db")
    sink = StoreSink(store, "oldzd", clock)
    settings = ZendeskSettings(base_url=fake.base_url, email=EMAIL, token=ZD_WRONG)
    adapter = ZendeskAdapter("oldzd", settings, clock=clock)
    try:
        await poll_all(adapter, sink)
        assert sink.health_reports[-1].state is HealthState.DOWN
        clock.advance(60)  # a round of the loop before the retry: nothing is due
        await adapter.poll_due(sink)
        assert sink.health_reports[-1].state is HealthState.DOWN
        assert "(401)" in sink.health_reports[-1].reason
    finally:
        await adapter.api.close()
        store.close()
        await fake.stop()


def test_the_log_rotates_by_size_and_every_file_is_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import supervisor_tui.logs as logs

    monkeypatch.setattr(logs, "LOG_MAX_BYTES", 2_000)
    path = tmp_path / "floor.log"
    log_to(path, json_lines=True)
    try:
        for i in range(100):  # about 110 bytes a line: 11,000 bytes, five files' worth
            logging.getLogger("supervisor_tui.test").info("line %03d %s", i, "x" * 20)
    finally:
        for handler in list(logging.getLogger().handlers):
            if isinstance(handler, PrivateRotatingFile):
                handler.close()
                logging.getLogger().removeHandler(handler)
    files = sorted(tmp_path.glob("floor.log*"))
    assert [f.name for f in files] == ["floor.log", *(f"floor.log.{i}" for i in range(1, 6))]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        assert f.stat().st_size <= 2_000
    newest = [json.loads(line)["message"] for line in path.read_text().splitlines()]
    assert newest[-1] == "line 099 " + "x" * 20


def test_each_failed_attempt_of_a_source_in_trouble_is_a_line_heartbeats_are_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Found in a faulty `run`: an unreachable helpdesk retried for a night wrote one line,
    the first failure; the log of 3 a.m. could not say it was still failing. Each new retry
    time (one failed attempt, paced by the back-off) is a line with the count so far; the
    same health said again (a heartbeat) is not, nor is a healthy source's."""
    from supervisor_tui.hub.collector import Collector

    caplog.set_level(logging.INFO, logger="supervisor_tui")
    store = SQLiteStore(tmp_path / "floor.db")
    collector = Collector(store, [], rules(), targets(), FakeClock(EPOCH))
    why = "zendesk: cannot reach the server (ConnectError)"
    try:
        for retry_at in (100.0, 100.0, 120.0, 120.0, 160.0):
            collector.log_health("zendesk", HealthState.DEGRADED, why, retry_at, [])
        for _ in range(3):
            collector.log_health("zendesk", HealthState.CONNECTED, "", None, [])
        collector.log_health("zendesk", HealthState.DEGRADED, why, 300.0, [])
    finally:
        store.close()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("source ")]
    assert [line.split(" (")[0] for line in lines] == [
        "source zendesk: degraded",
        "source zendesk: still degraded",
        "source zendesk: still degraded",
        "source zendesk: connected",
        "source zendesk: degraded",
    ]
    assert "2 failed attempts in a row" in lines[1]
    assert "3 failed attempts in a row" in lines[2]
    assert "failed attempts" not in lines[4]  # a new spell of trouble counts from one


async def test_a_long_first_sync_says_what_it_has_not_read_yet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A big account's first sync takes minutes (Talk's exports, 10 pages a minute): the log
    says which parts are not read once yet, each time that changes, and then nothing."""
    caplog.set_level(logging.INFO, logger="supervisor_tui")

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records if "not yet read once" in r.getMessage()]

    async with zendesk_floor(tmp_path) as floor:
        clock, sink, adapter = floor.clock, floor.sink, floor.adapter
        for task in adapter.tasks:
            task.due_at = clock() + (3600 if task.name in ("calls", "slas") else 0)
        await adapter.poll_due(sink)
        assert said() == ["zendesk: first sync: not yet read once: calls, slas"]
        await adapter.poll_due(sink)  # nothing new to say
        assert len(said()) == 1
        clock.advance(3600)
        await adapter.poll_due(sink)
        assert len(said()) == 1 and sink.health_reports[-1].state is HealthState.CONNECTED
