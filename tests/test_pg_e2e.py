"""PostgreSQL from end to end (issue #24), as a site that outgrew one machine runs it.

A real PostgreSQL (tests/pg.py); `supervisor-tui serve` as real processes with configs whose
`[store] url_env` names it; the fake Zendesk on loopback and the simulator as the floor's two
helpdesks; the dashboard (the real app under Pilot) watching through the hub with a view
token; then `report postgresql://…` reads the floor back.

Two collectors' configs on one floor, as a site whose helpdesks are polled from two machines
runs it: one `serve` reads Zendesk and serves the hub, another (`serve --no-hub`) reads
Freshdesk and the simulator into the same schema. Each holds the writer lease of its own
sources (a third naming one of them stops with one line naming the source and its holder);
one of them runs the floor's rules; a terminal on the hub sees both, and its ack of a
Freshdesk ticket's escalation reaches the fake Freshdesk (from the collector that reads it),
not the fake Zendesk.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.app import FloorSettings, SupervisorApp
from supervisor_tui.cli import main
from supervisor_tui.core.projection import Escalation
from supervisor_tui.fakes.freshdesk import FakeFreshdesk
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.hub.client import HubClient, RemoteDesk
from supervisor_tui.hub.protocol import hash_token
from supervisor_tui.model import EscalationRaised, NewEvent
from supervisor_tui.store import PostgresStore, SQLiteStore
from supervisor_tui.widgets import EscalationFeed

from .conftest import rules, targets
from .pg import free_port, new_schema
from .test_app import wait_for

ZD_TOKEN = "pg-e2e-zendesk-token"
FD_KEY = "pg-e2e-freshdesk-key"
VIEW = "pg-e2e-view-token"
SUPERVISE = "pg-e2e-supervise-token"
EMAIL = "bot@example.com"

HEAD = """
[floor]
name = "Two-desk floor"
timezone = "Europe/Paris"

[store]
url_env = "FLOOR_PG"
schema_name = "{schema}"

[hub]
listen = "127.0.0.1:{port}"

[[hub.tokens]]
name = "Wall"
scope = "view"
sha256 = "{view}"

[[hub.tokens]]
name = "Sam Lead"
scope = "supervise"
sha256 = "{supervise}"

[[rules]]
id = "complaint"
kind = "ticket_flag"
tags = ["complaint"]
"""
ZENDESK = """
[[sources]]
name = "zendesk"
kind = "zendesk"
base_url = "{zd}"
email = "{email}"
token_env = "E2E_ZD_TOKEN"
write_back = true
"""
FRESHDESK = """
[[sources]]
name = "freshdesk"
kind = "freshdesk"
base_url = "{fd}"
api_key_env = "E2E_FD_KEY"
plan = "pro"
write_back = true
"""
SIMULATOR = """
[[sources]]
name = "simulator"
kind = "simulator"
seed = 4
agents = 12
queues = 3
warmup_s = 7200
"""


@pytest.fixture
async def zendesk() -> AsyncIterator[FakeZendesk]:
    start = time.time() - 3 * 3600
    fake = FakeZendesk(email=EMAIL, token=ZD_TOKEN, rate_limit=700)
    await fake.start()
    fake.feed(FloorSimulation(SimOptions(seed=9, agents=10, speed=None), start).advance(10_795))
    yield fake
    await fake.stop()


@pytest.fixture
async def freshdesk() -> AsyncIterator[FakeFreshdesk]:
    start = time.time() - 3 * 3600
    fake = FakeFreshdesk(api_key=FD_KEY, plan="pro")
    await fake.start()
    # seed 6: one open ticket tagged complaint, which the floor's rules escalate
    fake.feed(FloorSimulation(SimOptions(seed=6, agents=10, speed=None), start).advance(10_795))
    yield fake
    await fake.stop()


async def serve(config: Path, env: dict[str, str], *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "supervisor_tui.cli",
        "serve",
        *extra,
        "-c",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


async def serving(proc: asyncio.subprocess.Process, says: str = "serving") -> str:
    assert proc.stdout is not None and proc.stderr is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 90)).decode()
    if not line.startswith(says):
        proc.kill()
        raise AssertionError(line + (await proc.stderr.read()).decode())
    return line


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
    await asyncio.wait_for(proc.wait(), 30)


def ack_notes(text: str) -> bool:
    return "[supervisor-tui ack" in text


async def test_two_collectors_on_one_postgres_floor_watched_acked_and_reported(
    pg_url: str,
    zendesk: FakeZendesk,
    freshdesk: FakeFreshdesk,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    schema = new_schema()
    port = free_port()
    head = HEAD.format(
        schema=schema, port=port, view=hash_token(VIEW), supervise=hash_token(SUPERVISE)
    )
    zd = ZENDESK.format(zd=zendesk.base_url, email=EMAIL)
    fd = FRESHDESK.format(fd=freshdesk.base_url)
    configs = {
        "east": head + zd,  # the hub's machine reads Zendesk
        "west": head + fd + SIMULATOR,  # another machine reads Freshdesk and the phones
        "stray": head + SIMULATOR,  # a third one, by mistake, the phones again
        "floor": head + zd + fd + SIMULATOR,  # what the report reads: the floor's targets
    }
    for name, text in configs.items():
        (tmp_path / f"{name}.toml").write_text(text)
        (tmp_path / f"{name}.toml").chmod(0o600)
    data = tmp_path / "data"  # a fresh machine: the data directory is not there yet
    env = {
        **os.environ,
        "FLOOR_PG": pg_url,
        "E2E_ZD_TOKEN": ZD_TOKEN,
        "E2E_FD_KEY": FD_KEY,
        "XDG_DATA_HOME": str(data),
    }
    password = pg_url.split(":")[2].split("@")[0]

    east = await serve(tmp_path / "east.toml", env)
    west: asyncio.subprocess.Process | None = None
    client = HubClient(f"ws://127.0.0.1:{port}", SUPERVISE, targets())
    try:
        line = await serving(east)
        assert "(store postgresql://postgres@127.0.0.1:" in line and password not in line
        west = await serve(tmp_path / "west.toml", env, "--no-hub")
        line = await serving(west, "collecting")
        assert "freshdesk, simulator" in line and password not in line

        # a third collector naming a source already collected: one line, the source, who
        stray = await serve(tmp_path / "stray.toml", env, "--no-hub")
        _, err = await asyncio.wait_for(stray.communicate(), 90)
        assert stray.returncode == 2
        lines = err.decode().strip().splitlines()
        assert len(lines) == 1, lines
        assert "another collector is writing to this floor's source 'simulator'" in lines[0]
        assert f"(pid {west.pid} on " in lines[0] and ", since " in lines[0]
        assert password not in lines[0]

        # a terminal on the hub sees both machines' sources
        settings = FloorSettings(
            floor_name="Two-desk floor (via hub)",
            operator="Sam Lead",
            targets=targets(),
            rules=rules(),
        )
        app = SupervisorApp(client, settings, clock=time.time, desk=RemoteDesk(client))
        async with app.run_test(size=(200, 50)) as pilot:
            await wait_for(
                pilot,
                lambda: {"zendesk", "freshdesk", "simulator"} <= set(app.board.state.sources),
                "every source's health, from both collectors",
                seconds=90,
            )
            await wait_for(pilot, lambda: len(app.board.tiles.queue_ids) > 0, "queues on the board")

            def complaint() -> Escalation | None:
                for esc in app.board.state.escalations.values():
                    if esc.rule_id == "complaint" and esc.ticket_source == "freshdesk":
                        return esc
                return None

            await wait_for(
                pilot, lambda: complaint() is not None, "the Freshdesk complaint", seconds=90
            )
            esc = complaint()
            assert esc is not None and esc.ticket_id is not None
            feed = app.query_one(EscalationFeed)
            feed.select(esc.escalation_id)
            await pilot.pause()
            await pilot.press("a", *"calling the customer", "enter")
            ticket = int(esc.ticket_id)
            await wait_for(
                pilot,
                lambda: any(ack_notes(n["body"]) for n in freshdesk.notes.get(ticket, [])),
                "the ack, on the Freshdesk ticket",
                seconds=90,
            )
            await wait_for(
                pilot,
                lambda: app.board.state.escalations[esc.escalation_id].acked_by == "Sam Lead",
                "the ack, back from the hub",
            )
        # the hub's machine stops: it ran the rules, and the other collector takes them over
        client.close()
        await stop(east)
        log = data / "supervisor-tui" / "floor.log"
        took_over = "running the floor's rules (no other collector does)"
        for _ in range(300):
            if took_over in log.read_text(encoding="utf-8"):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the rules were not taken over")
    finally:
        client.close()
        await stop(east)
        if west is not None:
            await stop(west)

    # delivered once, to the helpdesk it belongs to, and to no other
    ours = [n for n in freshdesk.notes.get(ticket, []) if ack_notes(n["body"])]
    assert len(ours) == 1 and "calling the customer" in ours[0]["body"]
    assert not any(ack_notes(str(c)) for cs in zendesk.comments.values() for c in cs)

    # the rules ran once on the floor: each escalation raised once
    store = PostgresStore(pg_url, schema=schema, read_only=True)
    try:
        events = store.read_from(0, 10**7)
    finally:
        store.close()
    # (two runners, their clocks apart, would each have raised one of their own per subject)
    ids: dict[str, set[str]] = {}
    for e in events:
        if isinstance(e.payload, EscalationRaised) and e.payload.rule_id == "complaint":
            ids.setdefault(e.payload.subject, set()).add(e.payload.escalation_id)
    assert f"ticket:freshdesk/{ticket}" in ids
    assert all(len(found) == 1 for found in ids.values()), ids

    # the log of the hub's machine: private, with the terminal's token name
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text(encoding="utf-8")
    assert "hub: terminal 127.0.0.1 connected with token 'Sam Lead' (scope supervise)" in text
    assert "writing sources zendesk; running the floor's rules" in text
    assert "writing sources freshdesk, simulator\n" in text  # the same file: one data dir
    assert password not in text and ZD_TOKEN not in text and FD_KEY not in text

    # the floor read back from PostgreSQL: both machines' figures
    assert main(["report", pg_url, "-c", str(tmp_path / "floor.toml"), "--format", "json"]) == 0
    from_pg = json.loads(capsys.readouterr().out)
    queues = {q["queue_id"]: q for p in from_pg["periods"] for q in p["queues"]}
    assert any(q.startswith("zendesk:") for q in queues)
    assert any(q.startswith("freshdesk:") for q in queues)
    assert any(":" not in q for q in queues)  # the simulator's
    offered = sum(q["offered"] or 0 for q in queues.values())
    assert offered > 0
    assert offered <= sum(1 for e in events if e.kind == "contact.offered")
    # the same events in a SQLite file give the same figures: nothing was lost or read twice
    copy = SQLiteStore(tmp_path / "copy.db")
    try:
        copy.append(
            [
                NewEvent(
                    source=e.source,
                    key=e.key,
                    occurred_at=e.occurred_at,
                    received_at=e.received_at,
                    payload=e.payload,
                )
                for e in events
            ]
        )
    finally:
        copy.close()
    assert main(["report", str(tmp_path / "copy.db"), "-c", str(tmp_path / "floor.toml"),
                 "--format", "json"]) == 0  # fmt: skip
    from_file = json.loads(capsys.readouterr().out)
    for report in (from_pg, from_file):
        report.pop("sources")
        report.pop("generated_at")
    assert from_pg == from_file
