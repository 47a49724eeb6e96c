"""A terminal that starts before its hub: it says what it is waiting for and connects when the
hub comes up, instead of a blank screen and an exit (a wall box often boots first)."""

from __future__ import annotations

import asyncio
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from supervisor_tui.hub.client import HubClient, HubRefused, wait_for_hub
from supervisor_tui.hub.protocol import TokenEntry, hash_token
from supervisor_tui.hub.server import Hub

from .conftest import EPOCH, record_floor, targets

TOKEN = "view-token-for-the-waiting-wall"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def store_path(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "floor.db"
    record_floor(path, until_s=1800).close()
    yield path


async def test_the_terminal_waits_for_a_hub_that_starts_later(store_path: Path) -> None:
    from supervisor_tui.store import SQLiteStore

    port = free_port()
    lines: list[str] = []
    client = HubClient(f"ws://127.0.0.1:{port}", TOKEN, targets())
    client.start()
    waiting = asyncio.create_task(wait_for_hub(client, lines.append, give_up_after_s=60))
    for _ in range(200):  # until the first failed attempt has been said
        if lines:
            break
        await asyncio.sleep(0.05)
    assert lines, "nothing said while the hub is down"
    assert f"127.0.0.1:{port}" in lines[0] and "trying again" in lines[0]
    assert not waiting.done()

    store = SQLiteStore(store_path)
    tokens = [TokenEntry("Wall", "view", hash_token(TOKEN))]
    hub = Hub(store, tokens, targets(), lambda: EPOCH + 1800, port=port)
    await hub.start()
    try:
        await asyncio.wait_for(waiting, 30)
        assert client.welcomed.is_set() and client.scope == "view" and client.name == "Wall"
    finally:
        client.close()
        await hub.stop()
        store.close()
    assert all(TOKEN not in line for line in lines)


async def test_a_hub_that_never_comes_gives_up_when_asked_with_the_reason() -> None:
    port = free_port()
    lines: list[str] = []
    client = HubClient(f"ws://127.0.0.1:{port}", TOKEN, targets())
    client.start()
    try:
        with pytest.raises(TimeoutError, match=r"no answer from ws://127\.0\.0\.1") as caught:
            await wait_for_hub(client, lines.append, give_up_after_s=2.5)
    finally:
        client.close()
    assert "attempts" in str(caught.value)
    assert len(lines) >= 2, lines  # one line per attempt, not one in all


async def test_a_wrong_token_stops_at_once(store_path: Path) -> None:
    from supervisor_tui.store import SQLiteStore

    store = SQLiteStore(store_path)
    hub = Hub(
        store, [TokenEntry("Wall", "view", hash_token(TOKEN))], targets(), lambda: EPOCH, port=0
    )
    await hub.start()
    client = HubClient(f"ws://127.0.0.1:{hub.port}", "not-the-token", targets())
    client.start()
    try:
        with pytest.raises(HubRefused):
            await wait_for_hub(client, lambda _: None, give_up_after_s=30)
    finally:
        client.close()
        await hub.stop()
        store.close()


def test_watch_says_what_it_waits_for_on_the_terminal(tmp_path: Path) -> None:
    port = free_port()
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "supervisor-tui"),
            *("watch", f"ws://127.0.0.1:{port}", "--give-up-after", "2"),
        ],
        env={
            "SUPERVISOR_TUI_TOKEN": TOKEN,
            "PATH": "/usr/bin:/bin",
            "XDG_DATA_HOME": str(tmp_path / "data"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "connecting to" in done.stderr and "trying again" in done.stderr
    assert f"no answer from ws://127.0.0.1:{port} after 2 s" in done.stderr
    assert TOKEN not in done.stderr + done.stdout
    # and in its log, as run and serve write theirs: the data directory's watch.log, private
    log = tmp_path / "data" / "supervisor-tui" / "watch.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text(encoding="utf-8")
    assert f" INFO supervisor_tui.watch: watch: connecting to ws://127.0.0.1:{port}" in text
    assert " trying again" in text
    assert f" ERROR supervisor_tui.watch: watch: no answer from ws://127.0.0.1:{port}" in text
    assert TOKEN not in text
