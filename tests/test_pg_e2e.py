"""PostgreSQL from end to end (issue #24), as a site that outgrew one machine runs it.

A real PostgreSQL (tests/pg.py); `supervisor-tui serve` as real processes with configs whose
`[store] url_env` names it; the fake Zendesk on loopback and the simulator as the floor's two
helpdesks; the dashboard (the real app under Pilot) watching through the hub with a view
token; then `report postgresql://…` reads the floor back.

Two collectors' configs on one floor: a floor has one writer lease (the store's design: one
writer orders the events, runs the rules once and claims each write-back once), so the second
`serve` on the same schema stops with one line naming the first and saying what to do; the
floor's helpdesks are then listed in one config, and that one collector feeds them all.
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
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.hub.client import HubClient, RemoteDesk
from supervisor_tui.hub.protocol import hash_token
from supervisor_tui.model import NewEvent
from supervisor_tui.store import PostgresStore, SQLiteStore
from supervisor_tui.widgets import QueueTile

from .conftest import rules, targets
from .pg import free_port, new_schema
from .test_app import wait_for

ZD_TOKEN = "pg-e2e-zendesk-token"
VIEW = "pg-e2e-view-token"
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
"""
ZENDESK = """
[[sources]]
name = "zendesk"
kind = "zendesk"
base_url = "{zd}"
email = "{email}"
token_env = "E2E_ZD_TOKEN"
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


async def serve(config: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "supervisor_tui.cli",
        "serve",
        "-c",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


async def serving(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None and proc.stderr is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 90)).decode()
    if not line.startswith("serving"):
        proc.kill()
        raise AssertionError(line + (await proc.stderr.read()).decode())
    return line


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
    await asyncio.wait_for(proc.wait(), 30)


async def test_serve_on_postgres_watched_and_reported(
    pg_url: str, zendesk: FakeZendesk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = new_schema()
    port = free_port()
    head = HEAD.format(schema=schema, port=port, view=hash_token(VIEW))
    zd = ZENDESK.format(zd=zendesk.base_url, email=EMAIL)
    configs = {"east": head + zd, "west": head + SIMULATOR, "floor": head + zd + SIMULATOR}
    for name, text in configs.items():
        (tmp_path / f"{name}.toml").write_text(text)
        (tmp_path / f"{name}.toml").chmod(0o600)
    data = tmp_path / "data"  # a fresh machine: the data directory is not there yet
    env = {**os.environ, "FLOOR_PG": pg_url, "E2E_ZD_TOKEN": ZD_TOKEN, "XDG_DATA_HOME": str(data)}
    password = pg_url.split(":")[2].split("@")[0]

    # two collectors' configs on one floor: the second is refused, in one line, naming the first
    east = await serve(tmp_path / "east.toml", env)
    try:
        line = await serving(east)
        assert "(store postgresql://postgres@127.0.0.1:" in line and password not in line
        west = await serve(tmp_path / "west.toml", env)
        _, err = await asyncio.wait_for(west.communicate(), 90)
        assert west.returncode == 2
        lines = err.decode().strip().splitlines()
        assert len(lines) == 1, lines
        assert "another collector is writing to this floor" in lines[0]
        assert f"pid {east.pid} on " in lines[0]
        assert "list them all as [[sources]] in its config" in lines[0]
        assert password not in lines[0]
    finally:
        await stop(east)

    # so the floor's helpdesks go in one config, and one collector feeds the floor
    floor = await serve(tmp_path / "floor.toml", env)
    client = HubClient(f"ws://127.0.0.1:{port}", VIEW, targets())
    try:
        await serving(floor)
        settings = FloorSettings(
            floor_name="Two-desk floor (via hub)", operator="Wall", targets=targets(), rules=rules()
        )
        app = SupervisorApp(client, settings, clock=time.time, desk=RemoteDesk(client))
        async with app.run_test(size=(200, 50)) as pilot:

            def both_helpdesks() -> bool:
                sources = {q.split(":")[0] for q in app.board.state.queues if ":" in q}
                plain = [q for q in app.board.state.queues if ":" not in q]
                return "zendesk" in sources and bool(plain)

            await wait_for(pilot, both_helpdesks, "both helpdesks' queues through the hub")
            await wait_for(pilot, lambda: len(app.query(QueueTile)) > 0, "queue tiles")
            await wait_for(
                pilot,
                lambda: {"zendesk", "simulator"} <= set(app.board.state.sources),
                "both sources' health",
            )
    finally:
        client.close()
        await stop(floor)

    # the log: where the README says for a PostgreSQL store, private, with the terminal's token
    log = data / "supervisor-tui" / "floor.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text(encoding="utf-8")
    assert "hub: terminal 127.0.0.1 connected with token 'Wall' (scope view)" in text
    assert password not in text and ZD_TOKEN not in text

    # the floor read back from PostgreSQL
    assert main(["report", pg_url, "-c", str(tmp_path / "floor.toml"), "--format", "json"]) == 0
    from_pg = json.loads(capsys.readouterr().out)
    queues = {q["queue_id"]: q for p in from_pg["periods"] for q in p["queues"]}
    assert any(q.startswith("zendesk:") for q in queues)
    assert any(":" not in q for q in queues)
    offered = sum(q["offered"] or 0 for q in queues.values())
    store = PostgresStore(pg_url, schema=schema, read_only=True)
    try:
        events = store.read_from(0, 10**7)
    finally:
        store.close()
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
